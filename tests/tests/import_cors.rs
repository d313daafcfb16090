//! "Send to dev server" from the outside (issue 14, item 5): a local dev server told to trust
//! an origin (`App::trusted_origins`, as `hookflow dev --trust-origin` sets it) answers that
//! origin's CORS preflight on `POST /api/v1/import`, and that route only, and imports what its
//! pages post there (source `import`); any other origin, a page without one, a bad body, and
//! every other route stay refused as before, and nothing refused is stored. Real HTTP on
//! 127.0.0.1, the request headers a browser sends.

use std::net::SocketAddr;

use clap::Parser;
use hookflow::prelude::*;
use hookflow::store::{EventQuery, RunQuery};
use hookflow::{App, Registry, RunningApp};
use reqwest::header::{HOST, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TRUSTED: &str = "https://app.example.com";
const EVENT: &str =
    r#"[{"id": "evt-prod-1", "name": "app/user.signup", "data": {"email": "ann@example.com"}, "ts": 1700000000000}]"#;

#[inngest_fn(id = "greet-sent", event = "app/user.signup")]
async fn greet_sent(event: Event<Json>) -> Result<Value> {
    Ok(json!({ "greeted": event.data["email"] }))
}

struct Local {
    running: RunningApp,
    base: String,
    http: reqwest::Client,
}

/// A local dev server (dev UI without a token on 127.0.0.1, in memory) trusting `TRUSTED`.
async fn local(configure: impl FnOnce(App) -> App) -> Local {
    let mut registry = Registry::empty();
    registry.add(greet_sent::DEF).expect("add");
    let app = App::with_registry("import-cors", Ok(registry)).store_memory().dev_ui().ui_token("");
    let running = configure(app.trusted_origins([TRUSTED])).start().await.expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let router = running.router(addr).expect("router");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Local { running, base: format!("http://{addr}"), http: reqwest::Client::new() }
}

impl Local {
    /// A request as a page of `origin` sends it across sites (`None`: a page without one).
    fn page_request(&self, method: Method, path: &str, origin: Option<&str>) -> reqwest::RequestBuilder {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).header("sec-fetch-site", "cross-site");
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request
    }

    fn preflight(&self, path: &str, origin: &str) -> reqwest::RequestBuilder {
        self.page_request(Method::OPTIONS, path, Some(origin))
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    }

    fn import(&self, origin: Option<&str>, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.page_request(Method::POST, "/api/v1/import", origin).header("content-type", "application/json").body(body)
    }

    async fn stored(&self) -> Vec<hookflow::store::StoredEvent> {
        let queries = self.running.engine().store().queries().expect("queries");
        queries.list_events(&EventQuery { limit: 100, ..EventQuery::default() }).await.expect("list")
    }
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok())
}

/// The status, the CORS origin and the error message of a refusal in the JSON error shape.
async fn refusal(response: reqwest::Response) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let origin = allowed_origin(&response).map(str::to_owned);
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(body["status"], json!(status.as_u16()), "{body}");
    (status, origin, body["error"].as_str().expect("an error message").to_owned())
}

#[tokio::test]
async fn a_trusted_origin_preflights_then_imports_the_event() {
    let local = local(|app| app).await;
    let preflight = local
        .preflight("/api/v1/import", TRUSTED)
        .header("access-control-request-private-network", "true")
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let h = preflight.headers();
    assert_eq!(allowed_origin(&preflight), Some(TRUSTED), "the exact origin, never `*`");
    assert_eq!(h["access-control-allow-methods"], "POST");
    assert_eq!(h["access-control-allow-headers"], "content-type");
    assert_eq!(h["access-control-allow-private-network"], "true");
    assert!(h.get_all("vary").iter().any(|v| v.to_str().is_ok_and(|v| v.contains("origin"))), "{h:?}");
    assert!(h.get("access-control-allow-credentials").is_none(), "no cookies travel with it");

    let sent = local.import(Some(TRUSTED), EVENT).send().await.expect("POST");
    assert_eq!(sent.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&sent), Some(TRUSTED), "the page may read the answer");
    let answer: Value = sent.json().await.expect("json");
    assert_eq!(answer, json!({ "imported": ["evt-prod-1"], "known": [] }));

    let detail: Value =
        local.http.get(format!("{}/api/v1/events/evt-prod-1", local.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(detail["event"]["source"], "import", "{detail}");
    assert_eq!(detail["event"]["ts"], 1_700_000_000_000_i64, "its time is kept");
    local.running.engine().settle().await;
    let queries = local.running.engine().store().queries().expect("queries");
    let query = RunQuery { event_id: Some("evt-prod-1".into()), ..RunQuery::default() };
    let runs = queries.list_runs(&query).await.expect("runs");
    assert_eq!(runs.len(), 1, "the local function ran for it");

    // Sent again: known, not imported twice.
    let again: Value = local.import(Some(TRUSTED), EVENT).send().await.unwrap().json().await.unwrap();
    assert_eq!(again, json!({ "imported": [], "known": ["evt-prod-1"] }));
}

#[tokio::test]
async fn other_origins_and_pages_without_one_are_refused_and_import_nothing() {
    let local = local(|app| app).await;
    for origin in ["https://evil.example", "http://app.example.com", "https://app.example.com.evil.example", "null"] {
        let (status, cors, why) = refusal(local.preflight("/api/v1/import", origin).send().await.unwrap()).await;
        assert_eq!((status, cors), (StatusCode::FORBIDDEN, None), "preflight from {origin}");
        let (status, cors, post) = refusal(local.import(Some(origin), EVENT).send().await.unwrap()).await;
        assert_eq!((status, cors), (StatusCode::FORBIDDEN, None), "POST from {origin}");
        if origin == "null" {
            assert!(post.contains("without an origin"), "{post}");
        } else {
            for said in [format!("does not trust pages of `{origin}`"), format!("--trust-origin {origin}")] {
                assert!(why.contains(&said) && post.contains(&said), "{said:?} not in {why:?} / {post:?}");
            }
        }
    }
    // A cross-site request without an Origin, and a text/plain one (no preflight in a browser).
    let (status, _, why) = refusal(local.import(None, EVENT).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(why.contains("without an origin"), "{why}");
    let plain = local
        .page_request(Method::POST, "/api/v1/import", Some("https://evil.example"))
        .header("content-type", "text/plain")
        .body(EVENT)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    // DNS rebinding: a trusted origin does not lift the host check.
    let rebound = local.import(Some(TRUSTED), EVENT).header(HOST, "attacker.example").send().await.unwrap();
    let (status, _, why) = refusal(rebound).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(why.contains("addressed to localhost"), "{why}");
    assert!(local.stored().await.is_empty(), "nothing refused was stored");
}

#[tokio::test]
async fn bad_bodies_from_a_trusted_origin_are_4xx_the_page_can_read() {
    let local = local(|app| app).await;
    for (body, status) in [
        ("".to_owned(), StatusCode::BAD_REQUEST),
        ("not json".to_owned(), StatusCode::BAD_REQUEST),
        (r#"[{"name": "app/user.signup", "data": {}}]"#.to_owned(), StatusCode::BAD_REQUEST),
        (
            r#"[{"id": "x", "name": "inngest/function.failed", "data": {}, "ts": 1}]"#.to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, cors, why) = refusal(local.import(Some(TRUSTED), body.clone()).send().await.unwrap()).await;
        assert_eq!((got, cors.as_deref()), (status, Some(TRUSTED)), "{body:?}: {why}");
        assert!(!why.is_empty());
    }
    let big =
        format!(r#"[{{"id": "big", "name": "app/user.signup", "data": {{"s": "{}"}}, "ts": 1}}]"#, "a".repeat(4 << 20));
    let res = local.import(Some(TRUSTED), big).send().await;
    assert!(res.map(|r| r.status() == StatusCode::PAYLOAD_TOO_LARGE).unwrap_or(true), "oversized is refused");
    assert!(local.stored().await.is_empty(), "nothing refused was stored");
}

#[tokio::test]
async fn every_other_route_keeps_refusing_the_trusted_origin() {
    let local = local(|app| app).await;
    for path in ["/api/v1/events", "/e/dev", "/api/v1/runs/01J0000000000000000000000/cancel", "/api/v1/import/"] {
        let response = local
            .page_request(Method::POST, path, Some(TRUSTED))
            .header("content-type", "application/json")
            .body(r#"{"name": "app/user.signup", "data": {}}"#)
            .send()
            .await
            .unwrap();
        assert!(allowed_origin(&response).is_none(), "{path}: no CORS");
        let (status, _, why) = refusal(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(why.contains("cross-origin requests may not change anything"), "{path}: {why}");
        let preflight = local.preflight(path, TRUSTED).send().await.unwrap();
        assert!(allowed_origin(&preflight).is_none(), "{path}: the preflight allows nothing");
        assert_ne!(preflight.status(), StatusCode::NO_CONTENT, "{path}");
    }
    let read = local.page_request(Method::GET, "/api/v1/events", Some(TRUSTED)).send().await.unwrap();
    assert!(allowed_origin(&read).is_none(), "the trusted page may not read the lists");
    assert!(local.stored().await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_token_still_applies_to_the_import() {
    let local = local(|app| app.ui_token("local-token-0123456789")).await;
    let preflight = local.preflight("/api/v1/import", TRUSTED).send().await.unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT, "a preflight carries no credentials");
    let (status, cors, why) = refusal(local.import(Some(TRUSTED), EVENT).send().await.unwrap()).await;
    assert_eq!((status, cors.as_deref()), (StatusCode::UNAUTHORIZED, Some(TRUSTED)), "{why}");
    assert!(local.stored().await.is_empty());
    let sent = local.import(Some(TRUSTED), EVENT).bearer_auth("local-token-0123456789").send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_origin_that_is_not_one_fails_the_start_and_the_flag_takes_a_list() {
    let app = App::with_registry("import-cors", Ok(Registry::empty()))
        .store_memory()
        .dev_ui()
        .ui_token("")
        .trusted_origins(["https://ok.example", "app.example.com/path"]);
    let running = app.start().await.expect("starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let error = running.listen(listener).expect_err("refused before any banner").to_string();
    assert!(error.contains("`app.example.com/path` is not a web origin"), "{error}");

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        dev: hookflow::cli::DevArgs,
    }
    let cli = Cli::try_parse_from([
        "hookflow",
        "--trust-origin",
        "https://a.example,https://b.example",
        "--trust-origin",
        TRUSTED,
    ])
    .expect("parses");
    assert_eq!(cli.dev.trust_origin, ["https://a.example", "https://b.example", TRUSTED]);
}
