//! `hookflow events pull`: events copied from a "deployed" hookflow (real HTTP, its UI token)
//! into a local dev server keep their ids, names, data and times, are marked `import`, run the
//! local functions, and are imported once however often they are pulled; and the import route
//! refuses what it cannot keep, and what the guard refuses elsewhere.

use std::net::SocketAddr;

use hookflow::cli::{PullArgs, PullReport};
use hookflow::prelude::*;
use hookflow::{App, RawEvent, Registry, RunningApp};
use serde_json::{json, Value};

#[inngest_fn(id = "greet-imported", event = "app/user.signup")]
async fn greet_imported(event: Event<Json>) -> Result<Value> {
    Ok(json!({ "greeted": event.data["email"] }))
}

const TOKEN: &str = "deployed-ui-token-0123456789";

/// An app with the dev UI on 127.0.0.1, in memory; with `token`, the UI requires it.
async fn app(registry: Registry, token: Option<&str>) -> (RunningApp, String) {
    let mut app = App::with_registry("pull-test", Ok(registry)).store_memory().dev_ui();
    if let Some(token) = token {
        app = app.ui_token(token);
    }
    let running = app.start().await.expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let router = running.router(addr).expect("router");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (running, format!("http://{addr}"))
}

fn pull(from: &str, to: &str) -> PullArgs {
    PullArgs {
        from: from.to_owned(),
        token: Some(TOKEN.to_owned()),
        name: None,
        since: None,
        ids: Vec::new(),
        limit: 20,
        to: to.to_owned(),
        to_token: None,
    }
}

async fn event(base: &str, id: &str, token: Option<&str>) -> Value {
    let mut request = reqwest::Client::new().get(format!("{base}/api/v1/events/{id}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("GET").json().await.expect("json")
}

#[tokio::test]
async fn pulled_events_keep_their_identity_and_run_locally_once() {
    let (deployed, from) = app(Registry::empty(), Some(TOKEN)).await;
    let mut registry = Registry::empty();
    registry.add(greet_imported::DEF).expect("add");
    let (local, to) = app(registry, None).await;

    let ids = deployed
        .send([
            RawEvent::new("app/user.signup", json!({ "email": "ann@example.com" })).with_id("evt-ann"),
            RawEvent::new("app/user.signup", json!({ "email": "bob@example.com" })).with_id("evt-bob"),
            RawEvent::new("app/other", json!({ "n": 1 })).with_id("evt-other"),
        ])
        .await
        .expect("send");
    assert_eq!(ids.len(), 3);

    let report = PullArgs { name: Some("app/user.signup".into()), since: Some("1h".into()), ..pull(&from, &to) }
        .run()
        .await
        .expect("pull");
    assert_eq!(report.imported, vec!["evt-ann".to_owned(), "evt-bob".to_owned()], "oldest first, only that name");
    assert!(report.known.is_empty());
    local.engine().settle().await;

    let source = event(&from, "evt-ann", Some(TOKEN)).await;
    let copy = event(&to, "evt-ann", None).await;
    assert_eq!(copy["event"]["name"], "app/user.signup");
    assert_eq!(copy["event"]["source"], "import", "{copy}");
    assert_eq!(copy["event"]["data"], json!({ "email": "ann@example.com" }));
    assert_eq!(copy["event"]["ts"], source["event"]["ts"], "the time it happened is kept");
    let runs: Value =
        reqwest::get(format!("{to}/api/v1/runs?event=evt-ann")).await.expect("GET").json().await.expect("json");
    assert_eq!(runs["runs"][0]["status"], "Completed", "the local function ran: {runs}");

    // Pulled again, by id: nothing is imported twice, and nothing runs twice.
    let again =
        PullArgs { ids: vec!["evt-ann".into(), "evt-other".into()], ..pull(&from, &to) }.run().await.expect("pull");
    assert_eq!(again, PullReport { imported: vec!["evt-other".into()], known: vec!["evt-ann".into()], internal: 0 });
    local.engine().settle().await;
    let runs: Value =
        reqwest::get(format!("{to}/api/v1/runs?event=evt-ann")).await.expect("GET").json().await.expect("json");
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "one run of the event: {runs}");
}

#[tokio::test]
async fn a_pull_says_what_went_wrong() {
    let (_deployed, from) = app(Registry::empty(), Some(TOKEN)).await;
    let (_local, to) = app(Registry::empty(), None).await;

    let unauthorized = PullArgs { token: Some("wrong".into()), ..pull(&from, &to) }.run().await.expect_err("401");
    assert!(unauthorized.to_string().contains("--token"), "{unauthorized}");
    let missing = PullArgs { ids: vec!["nope".into()], ..pull(&from, &to) }.run().await.expect_err("404");
    assert!(missing.to_string().contains("404"), "{missing}");
    let since = PullArgs { since: Some("yesterday".into()), ..pull(&from, &to) }.run().await.expect_err("bad since");
    assert!(since.to_string().contains("`--since yesterday` is not a duration"), "{since}");
    let not_a_server =
        PullArgs { from: to.clone() + "/nothing-here", ..pull(&from, &to) }.run().await.expect_err("not a server");
    assert!(!not_a_server.to_string().is_empty());
    let down = PullArgs { to: "http://127.0.0.1:9".into(), ids: Vec::new(), ..pull(&from, &to) };
    // Nothing to import (the deployed app has no events): the dev server is not even asked.
    assert_eq!(down.run().await.expect("nothing to do"), PullReport::default());
}

#[tokio::test]
async fn the_import_route_refuses_what_it_cannot_keep() {
    let (local, to) = app(Registry::empty(), None).await;
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(format!("{to}/api/v1/import")).header("content-type", "application/json").body(body).send()
    };
    for (body, why) in [
        ("", "empty"),
        ("not json", "malformed"),
        (r#"[{"name": "app/a", "data": {}, "ts": 1700000000000}]"#, "no id"),
        (r#"[{"id": "x", "name": "app/a", "data": {}}]"#, "no ts"),
        (r#"[{"id": "x", "name": "inngest/function.failed", "data": {}, "ts": 1700000000000}]"#, "internal"),
        (r#"{"id": 5, "name": "app/a"}"#, "wrong kind"),
    ] {
        let res = post(body).await.expect("POST");
        assert_eq!(res.status(), 400, "{why}");
        let body: Value = res.json().await.expect("json error");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{why}: {body}");
    }
    let forged = http
        .post(format!("{to}/api/v1/import"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body(r#"[{"id": "x", "name": "app/a", "data": {}, "ts": 1700000000000}]"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), 403, "a cross-origin write is refused");
    let big =
        format!(r#"[{{"id": "x", "name": "app/a", "data": {{"s": "{}"}}, "ts": 1700000000000}}]"#, "a".repeat(4 << 20));
    let res =
        http.post(format!("{to}/api/v1/import")).header("content-type", "application/json").body(big).send().await;
    assert!(res.map(|r| r.status().is_client_error()).unwrap_or(true), "oversized is refused");
    let events = local.engine().store().queries().expect("queries");
    let stored =
        events.list_events(&hookflow::store::EventQuery { limit: 10, ..Default::default() }).await.expect("list");
    assert!(stored.is_empty(), "nothing refused was stored: {stored:?}");
}
