//! Issue 10, "the public port accepts only what is signed, and nothing stored can break a
//! page", over real servers: an `App` on a SQLite file in a temporary directory, listening on
//! `127.0.0.1:0` (or `0.0.0.0:0`, reached through `127.0.0.1`).
//!
//! Each refusal is checked for its status, the reason its body gives, and that nothing was
//! written (no event, no run). A property test then feeds the webhook and the event API
//! arbitrary JSON text and reads every page that lists or shows events and runs.
//!
//! Tests that rely on the event API having no key are skipped when `INNGEST_EVENT_KEY` is set
//! in the environment, since an `App` reads its keys from there.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookflow::prelude::*;
use hookflow::store::{EventQuery, Queries, RunLog, RunQuery, RunStatus, SqliteStore};
use hookflow::webhook::svix::sign;
use hookflow::{App, Listening, RawEvent, Registry, ServerLimits};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "whsec_dGVzdF9zaWduaW5nX3NlY3JldF8zMl9jaGFyc19sb25n";

#[inngest_fn(id = "echo", event = "app/echo")]
async fn echo(event: Event<Json>) -> Result<Value> {
    Ok(event.data)
}

#[inngest_fn(id = "echo-clerk", event = "clerk/user.created")]
async fn echo_clerk(event: Event<Json>) -> Result<Value> {
    Ok(event.data)
}

/// Tries to send an internal event from a step: the engine must refuse it, at once.
#[inngest_fn(id = "forger", event = "app/forge", retries = 3)]
async fn forger(step: Step) -> Result<()> {
    let forged = RawEvent::new("inngest/function.failed", json!({ "function_id": "echo" }));
    step.send_event("forge", [forged]).await?;
    Ok(())
}

fn registry() -> Registry {
    let mut registry = Registry::empty();
    for def in [echo::DEF, echo_clerk::DEF, forger::DEF] {
        registry.add(def).expect("unique ids");
    }
    registry
}

fn keys_from_environment() -> bool {
    std::env::var(hookflow::EVENT_KEY_ENV).is_ok_and(|k| !k.trim().is_empty())
}

struct Server {
    base: String,
    engine: hookflow::Engine,
    store: Arc<SqliteStore>,
    http: reqwest::Client,
    banner: String,
    _dir: tempfile::TempDir,
}

/// An app with the test functions on a fresh SQLite file, Clerk webhooks and (unless the
/// caller changes it) the dev UI without a token.
fn app(dir: &tempfile::TempDir) -> (App, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).expect("store"));
    let app = App::with_registry("security", Ok(registry()))
        .store(store.clone())
        .clerk_webhooks(SECRET)
        .dev_ui()
        .ui_token("");
    (app, store)
}

async fn serve_on(app: App, store: Arc<SqliteStore>, dir: tempfile::TempDir, bind: &str) -> Server {
    let running = app.start().await.expect("start");
    let engine = running.engine().clone();
    let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let listening: Listening = running.listen(listener).expect("listen");
    let banner = listening.banner();
    tokio::spawn(listening.serve(std::future::pending()));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Server { base: format!("http://127.0.0.1:{port}"), engine, store, http, banner, _dir: dir }
}

async fn serve(configure: impl FnOnce(App) -> App) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let (app, store) = app(&dir);
    serve_on(configure(app), store, dir, "127.0.0.1:0").await
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {text}")))
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        Self::answer(response).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        Self::answer(self.http.get(self.url(path)).send().await.expect("request")).await
    }

    /// Posts `body` to the Clerk endpoint, signed now with `SECRET`.
    async fn post_signed(&self, id: &str, body: &[u8]) -> (u16, Value) {
        let ts = now_secs();
        let response = self
            .http
            .post(self.url("/webhooks/clerk"))
            .header("svix-id", id)
            .header("svix-timestamp", ts.to_string())
            .header("svix-signature", sign(SECRET, id, ts, body).expect("sign"))
            .body(body.to_vec())
            .send()
            .await
            .expect("request");
        Self::answer(response).await
    }

    /// How many events (not counting the engine's `inngest/*` ones, which only runs make)
    /// and runs the store holds.
    async fn rows(&self) -> (usize, usize) {
        self.engine.settle().await;
        let events =
            self.store.list_events(&EventQuery { limit: 1000, ..EventQuery::default() }).await.expect("events");
        let runs = self.store.list_runs(&RunQuery { limit: 1000, ..RunQuery::default() }).await.expect("runs");
        (events.len(), runs.len())
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// The error message of a refusal, after checking its shape.
fn reason(answer: &Value, status: u16) -> String {
    assert_eq!(answer["status"], json!(status), "{answer}");
    answer["error"].as_str().unwrap_or_else(|| panic!("no error message in {answer}")).to_owned()
}

fn refused(answer: &(u16, Value), status: u16, because: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let reason = reason(&answer.1, status);
    assert!(reason.contains(because), "{because:?} not in {reason:?}");
}

fn clerk_body(data: &str) -> String {
    format!(r#"{{"type": "user.created", "object": "event", "timestamp": 1716883200000, "data": {data}}}"#)
}

// ---------------------------------------------------------------- 1. the event API is locked

#[tokio::test]
async fn without_a_key_the_event_api_is_closed_on_a_public_address() {
    if keys_from_environment() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (app, store) = app(&dir);
    // Bound to every interface; the test reaches it through loopback only.
    let s = serve_on(app.ui_token("a-token"), store, dir, "0.0.0.0:0").await;
    assert!(s.banner.contains("closed: no event key"), "the banner says so: {}", s.banner);
    let answer = s.post("/e/anything", r#"{"name": "app/echo"}"#).await;
    refused(&answer, 401, "set `INNGEST_EVENT_KEY`");
    let forged = s.post("/e/dev", r#"{"name": "clerk/user.deleted", "data": {"id": "user_1"}}"#).await;
    assert_eq!(forged.0, 401, "{}", forged.1);
    assert_eq!(s.rows().await, (0, 0), "nothing was written");
}

#[tokio::test]
async fn with_keys_only_those_keys_send() {
    let s = serve(|app| app.event_key("key-one, key-two")).await;
    assert!(s.banner.contains("2 event key(s)"), "{}", s.banner);
    for key in ["anything", "key-one,key-two", "key-on", "KEY-ONE"] {
        refused(&s.post(&format!("/e/{key}"), r#"{"name": "app/echo"}"#).await, 401, "event key not found");
    }
    assert_eq!(s.rows().await, (0, 0));
    for key in ["key-one", "key-two"] {
        let (status, answer) = s.post(&format!("/e/{key}"), r#"{"name": "app/echo"}"#).await;
        assert_eq!(status, 200, "{answer}");
    }
    assert_eq!(s.rows().await, (2, 2));
}

#[tokio::test]
async fn on_loopback_without_a_key_any_key_sends() {
    if keys_from_environment() {
        return;
    }
    let s = serve(|app| app).await;
    assert!(s.banner.contains("any key: a dev server on loopback"), "{}", s.banner);
    let (status, answer) = s.post("/e/dev", r#"{"name": "app/echo", "data": {"n": 1}}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.rows().await, (1, 1));
}

// ---------------------------------------------------------------- 2. internal names

#[tokio::test]
async fn internal_names_are_refused_from_every_way_in() {
    let s = serve(|app| app.event_key("k")).await;
    let forged = r#"{"name": "inngest/function.failed", "data": {"function_id": "echo"}}"#;
    refused(&s.post("/e/k", forged).await, 400, "only hookflow itself sends");
    refused(&s.post("/api/v1/events", forged).await, 400, "only hookflow itself sends");
    let error = s.engine.send([RawEvent::new("inngest/function.invoked", json!({}))]).await.expect_err("App::send");
    assert!(error.to_string().contains("only hookflow itself sends"), "{error}");
    let cli = hookflow::cli::send(&s.base, "inngest/function.failed", "{}", "k").await.expect_err("the CLI refuses");
    assert!(cli.to_string().contains("only hookflow itself sends"), "{cli}");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");

    // From a step: the run fails at once, without its three retries, and sends nothing.
    let ids = s.engine.send([RawEvent::new("app/forge", json!({}))]).await.expect("send");
    s.engine.settle().await;
    let runs = s.store.list_runs(&RunQuery { event_id: Some(ids[0].clone()), ..RunQuery::default() }).await;
    let run = runs.expect("runs").pop().expect("the run");
    assert_eq!(run.status, RunStatus::Failed);
    let journal = s.store.journal(&run.id).await.expect("journal");
    assert_eq!(journal.first().map(|step| step.attempts), Some(1), "the step was not retried");
    let error = run.error.expect("an error");
    assert!(error.message.contains("only hookflow itself sends"), "{error:?}");
    let events = s.store.list_events(&EventQuery { include_internal: true, ..EventQuery::default() }).await;
    let sent_by_steps: Vec<String> = events
        .expect("events")
        .into_iter()
        .filter(|e| e.source == hookflow::webhook::EventSource::Step)
        .map(|e| e.name)
        .collect();
    assert!(sent_by_steps.is_empty(), "{sent_by_steps:?}");
}

#[tokio::test]
async fn clerk_events_come_signed_unless_the_app_opts_in() {
    let s = serve(|app| app.event_key("k")).await;
    let unsigned = r#"{"name": "clerk/user.deleted", "data": {"id": "user_1", "deleted": true}}"#;
    refused(&s.post("/e/k", unsigned).await, 400, "accepted only from Clerk's signed webhook");
    let batch = format!(r#"[{{"name": "app/echo"}}, {unsigned}]"#);
    refused(&s.post("/e/k", batch).await, 400, "event #1 (`clerk/user.deleted`)");
    assert_eq!(s.rows().await, (0, 0), "a batch with one refused event writes none");
    let (status, answer) = s.post_signed("msg_signed", clerk_body(r#"{"id": "user_1"}"#).as_bytes()).await;
    assert_eq!(status, 200, "the signed webhook is the way in: {answer}");

    let opted_in = serve(|app| app.event_key("k").allow_clerk_events_from_event_api()).await;
    let (status, answer) = opted_in.post("/e/k", unsigned).await;
    assert_eq!(status, 200, "{answer}");
}

// ---------------------------------------------------------------- 3. the guard covers the port

#[tokio::test]
async fn the_browser_guard_covers_the_event_api_but_not_signed_webhooks() {
    if keys_from_environment() {
        return;
    }
    let s = serve(|app| app).await;
    let event = r#"{"name": "app/echo"}"#;
    let post = |origin: Option<&'static str>, host: Option<&'static str>, path: &'static str, body: String| {
        let mut request = s.http.post(s.url(path)).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(host) = host {
            request = request.header(HOST, host);
        }
        async move { Server::answer(request.send().await.expect("request")).await }
    };
    // A page of another site posting to the developer's server.
    let cross = post(Some("https://attacker.example"), None, "/e/dev", event.into()).await;
    refused(&cross, 403, "cross-origin requests may not change anything");
    let cross_ui = post(Some("https://attacker.example"), None, "/api/v1/events", event.into()).await;
    refused(&cross_ui, 403, "cross-origin");
    // DNS rebinding: the page's own name resolves to 127.0.0.1.
    let rebound = post(None, Some("attacker.example:8288"), "/e/dev", event.into()).await;
    refused(&rebound, 403, "addressed to localhost or an IP address");
    let fetch_site =
        s.http.post(s.url("/e/dev")).header("sec-fetch-site", "cross-site").body(event).send().await.expect("request");
    refused(&Server::answer(fetch_site).await, 403, "cross-origin");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");

    // Svix posts server to server under the public name: no Origin, a signature.
    let body = clerk_body(r#"{"id": "user_1"}"#);
    let ts = now_secs();
    let delivery = s
        .http
        .post(s.url("/webhooks/clerk"))
        .header(HOST, "hooks.myapp.example")
        .header("svix-id", "msg_public_name")
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", sign(SECRET, "msg_public_name", ts, body.as_bytes()).expect("sign"))
        .body(body)
        .send()
        .await
        .expect("request");
    let (status, answer) = Server::answer(delivery).await;
    assert_eq!(status, 200, "{answer}");
    let same_origin = post(Some("http://localhost:8288"), Some("localhost:8288"), "/e/dev", event.into()).await;
    assert_eq!(same_origin.0, 200, "{}", same_origin.1);

    // With a key, the key is the credential: a public host name is fine, a foreign page is not.
    let keyed = serve(|app| app.event_key("k")).await;
    let public = keyed
        .http
        .post(keyed.url("/e/k"))
        .header(HOST, "events.myapp.example")
        .body(event)
        .send()
        .await
        .expect("request");
    assert_eq!(public.status().as_u16(), 200);
    let cross = keyed.http.post(keyed.url("/e/k")).header(ORIGIN, "https://attacker.example").body(event).send().await;
    assert_eq!(cross.expect("request").status().as_u16(), 403);
}

// ---------------------------------------------------------------- 4. nothing stored breaks a page

#[tokio::test]
async fn lone_surrogates_are_refused_at_the_door_and_old_rows_still_render() {
    let s = serve(|app| app.event_key("k")).await;
    for (id, data) in [("msg_lone_high", r#"{"name": "\ud800"}"#), ("msg_lone_low", r#"{"a": ["x\udfff"]}"#)] {
        let answer = s.post_signed(id, clerk_body(data).as_bytes()).await;
        assert_eq!(answer.0, 400, "{}", answer.1);
        let reason = reason(&answer.1, 400);
        assert!(reason.contains("not a Clerk event envelope") && reason.contains("escape"), "{reason}");
    }
    refused(&s.post("/e/k", r#"{"name": "app/echo", "data": {"a": "\udc00"}}"#).await, 400, "not valid JSON");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");

    // A pair is one character, and is accepted.
    let (status, answer) = s.post_signed("msg_pair", clerk_body(r#"{"smile": "\ud83d\ude00"}"#).as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    let event_id = answer["ids"][0].as_str().expect("id").to_owned();
    s.engine.settle().await;

    // A row written before the door checked (here: changed behind the store's back) still
    // renders on every page, its lone surrogate as U+FFFD.
    let db = rusqlite::Connection::open(s.store.path()).expect("open");
    db.execute("UPDATE events SET data = ?1 WHERE id = ?2", [r#"{"smile": "\ud800"}"#, &event_id]).expect("update");
    drop(db);
    let run_id = s.get(&format!("/api/v1/events/{event_id}")).await.1["runs"][0]["id"].as_str().map(str::to_owned);
    let run_id = run_id.expect("the event's run");
    for path in [
        "/api/v1/events".to_owned(),
        format!("/api/v1/events/{event_id}"),
        "/api/v1/runs".to_owned(),
        format!("/api/v1/runs/{run_id}"),
        "/v1/events".to_owned(),
        format!("/v1/events/{event_id}"),
        format!("/v1/events/{event_id}/runs"),
        format!("/v1/runs/{run_id}"),
    ] {
        let (status, page) = s.get(&path).await;
        assert_eq!(status, 200, "{path}: {page}");
        let shown = [&page["event"]["data"], &page["data"]["data"], &page["events"][0]["data"]]
            .into_iter()
            .find(|d| !d.is_null())
            .cloned();
        if let Some(data) = shown {
            assert_eq!(data, json!({ "smile": "\u{FFFD}" }), "{path}");
        }
    }
}

// ---------------------------------------------------------------- 5. connection limits

fn short_limits() -> ServerLimits {
    ServerLimits {
        max_connections: 64,
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
    }
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    // The server closes after its timeouts (300 ms); the bound only keeps a broken test from
    // hanging.
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_slow_client_is_disconnected_and_writes_nothing() {
    let s = serve(|app| app.event_key("k").server_limits(short_limits())).await;
    let addr = s.base.trim_start_matches("http://").to_owned();

    // Headers that never end.
    let mut headers = TcpStream::connect(&addr).await.expect("connect");
    headers.write_all(b"POST /e/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n").await.expect("w");
    read_until_closed(&mut headers).await;

    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    read_until_closed(&mut silent).await;

    // An idle kept-alive connection after one answered request.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write");
    let answered = read_until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // A body that stops halfway: 408 with the reason.
    let mut body = TcpStream::connect(&addr).await.expect("connect");
    let request =
        "POST /e/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n";
    body.write_all(format!("{request}{{\"name\": \"app/echo\", \"data\": {{").as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within 0.3 s") && answer.contains("\"status\":408"), "{answer}");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    // Holders are closed by their client here, not by a timeout.
    let limits = ServerLimits { max_connections: 2, header_read_timeout: Duration::from_secs(60), ..short_limits() };
    let s = serve(|app| app.server_limits(limits)).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut holder = TcpStream::connect(&addr).await.expect("connect");
        // A request answered on each proves the server took the connection (not the kernel).
        holder.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("write");
        let mut buffer = [0u8; 512];
        let read = holder.read(&mut buffer).await.expect("answered");
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
        holders.push(holder);
    }
    let mut third = TcpStream::connect(&addr).await.expect("the kernel queues it");
    third.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.expect("write");
    // Served at once if the cap did not hold; the wait only has to outlast a fast answer.
    let mut buffer = [0u8; 512];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(early.is_err(), "a third connection was served while two held both places");
    drop(holders.pop());
    let answer = read_until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served once a place was free: {answer}");
}

// ---------------------------------------------------------------- 6. bounded work per request

#[tokio::test]
async fn a_request_carries_at_most_5000_events_and_a_replay_at_most_3_mib() {
    let s = serve(|app| app.event_key("k")).await;
    let events: Vec<Value> = (0..5001).map(|i| json!({ "name": "app/echo", "data": { "i": i } })).collect();
    let batch = serde_json::to_string(&events).expect("json");
    refused(&s.post("/e/k", batch.clone()).await, 400, "5001 events, more than the 5000");
    refused(&s.post("/api/v1/events", batch).await, 400, "5001 events");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");

    // An event sent from code has no size limit; replaying it does.
    let big = json!({ "pad": "x".repeat(3 * 1024 * 1024 + 1) });
    let ids = s.engine.send([RawEvent::new("app/big", big)]).await.expect("send");
    refused(&s.post(&format!("/api/v1/events/{}/replay", ids[0]), "").await, 413, "more than the 3145728 a replay");
    let edited = json!({ "pad": "y".repeat(3 * 1024 * 1024) }).to_string();
    refused(&s.post(&format!("/api/v1/events/{}/replay", ids[0]), edited).await, 413, "3145728-byte limit");
    assert_eq!(s.rows().await, (1, 0), "only the event sent from code");
}

// ---------------------------------------------------------------- 7. the same rules everywhere

#[tokio::test]
async fn every_way_in_applies_the_same_event_rules() {
    let s = serve(|app| app.event_key("k")).await;
    // The signed webhook.
    let bell = r#"{"type": "user.created\u0007", "object": "event", "data": {}}"#;
    refused(&s.post_signed("msg_bell", bell.as_bytes()).await, 400, "U+0007");
    let past = r#"{"type": "user.created", "object": "event", "timestamp": -1000, "data": {}}"#;
    refused(&s.post_signed("msg_past", past.as_bytes()).await, 400, "the event's `ts` is -1000");
    // Nesting a strict JSON reader could still parse alone, but not inside a list of events.
    let deep = format!("{{\"deep\": {}{}}}", "[".repeat(110), "]".repeat(110));
    refused(&s.post_signed("msg_deep", clerk_body(&deep).as_bytes()).await, 400, "more than 100 levels");
    let deep_event = format!(r#"{{"name": "app/echo", "data": {deep}}}"#);
    // The event API and the dev UI's Send.
    let cases = [
        (deep_event.as_str(), "more than 100 levels"),
        (r#"{"name": "app/echo", "ts": 9223372036854775807}"#, "year 9999"),
        (r#"{"name": "app/echo", "data": [1, 2]}"#, "`data` must be a JSON object, got an array"),
        (r#"{"name": "app/\u202Eoge"}"#, "U+202E"),
        (r#"{"name": ""}"#, "no `name`"),
    ];
    for (body, because) in cases {
        refused(&s.post("/e/k", body.to_owned()).await, 400, because);
        refused(&s.post("/api/v1/events", body.to_owned()).await, 400, because);
    }
    let long = json!({ "name": format!("app/{}", "x".repeat(600)) }).to_string();
    refused(&s.post("/e/k", long).await, 400, "604 characters");
    // The CLI and App::send.
    let cli = hookflow::cli::send(&s.base, "app/\u{0}", "{}", "k").await.expect_err("refused before sending");
    assert!(cli.to_string().contains("U+0000"), "{cli}");
    let code = s.engine.send([RawEvent::new("app/echo", json!("text"))]).await.expect_err("App::send");
    assert!(code.to_string().contains("got a string"), "{code}");
    assert_eq!(s.rows().await, (0, 0), "nothing was written");

    // Edit & Replay, and Rerun with edited data.
    let (_, sent) = s.post("/e/k", r#"{"name": "app/echo", "data": {"n": 1}}"#).await;
    let id = sent["ids"][0].as_str().expect("id").to_owned();
    let rows = s.rows().await;
    refused(&s.post(&format!("/api/v1/events/{id}/replay"), "[1]").await, 400, "got an array");
    let run = s.get(&format!("/api/v1/events/{id}")).await.1["runs"][0]["id"].as_str().map(str::to_owned);
    let rerun = s.post(&format!("/api/v1/runs/{}/rerun", run.expect("run")), r#"{"data": 3}"#).await;
    refused(&rerun, 400, "`data` must be a JSON object");
    assert_eq!(s.rows().await, rows, "nothing more was written");
}

// ---------------------------------------------------------------- 8. search

#[tokio::test]
async fn search_finds_text_in_any_script() {
    let s = serve(|app| app.event_key("k")).await;
    let texts = ["नमस्ते दुनिया हिंदी", "مرحبا بالعالم نَص", "José Müller ærøskøbing", "party 🎉 time", "日本語のテキスト"];
    for (i, text) in texts.iter().enumerate() {
        let body = json!({ "name": "app/echo", "data": { "i": i, "text": text } }).to_string();
        assert_eq!(s.post("/e/k", body).await.0, 200);
    }
    s.store.catch_up_search_index().await.expect("index");
    let queries = [
        ("हिंदी", 0),
        ("नमस्ते दु", 0),
        ("نَص", 1),
        ("بالعالم", 1),
        ("Müller", 2),
        ("ærøskøbing", 2),
        ("🎉", 3),
        ("party 🎉", 3),
        ("日本語", 4),
    ];
    for (query, expected) in queries {
        let (status, answer) = s.get(&format!("/api/v1/events?q={}", urlencode(query))).await;
        assert_eq!(status, 200, "{query}: {answer}");
        let found: Vec<String> =
            answer["events"].as_array().expect("events").iter().map(|e| e["preview"].to_string()).collect();
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert!(found[0].contains(&format!("\\\"i\\\":{expected}")), "{query}: {found:?}");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

// ---------------------------------------------------------------- 9. small ones

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let s = serve(|app| app.ui_token("s3cret")).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = s.http.get(s.url("/api/v1/info")).header(AUTHORIZATION, format!("{scheme} s3cret")).send();
        assert_eq!(response.await.expect("request").status().as_u16(), 200, "{scheme}");
    }
    let wrong = s.http.get(s.url("/api/v1/info")).header(AUTHORIZATION, "BEARER guess").send().await;
    assert_eq!(wrong.expect("request").status().as_u16(), 401);
}

#[tokio::test]
async fn a_public_address_without_a_ui_token_is_refused_before_any_banner() {
    if std::env::var("HOOKFLOW_UI_TOKEN").is_ok_and(|t| !t.is_empty()) {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (app, _) = app(&dir);
    let running = app.start().await.expect("start");
    // Only the check is exercised: nothing is sent to this address.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let error = running.listen(listener).expect_err("refused, so there is no banner to print");
    assert!(error.to_string().contains("HOOKFLOW_UI_TOKEN"), "{error}");
    assert_eq!(format!("{error:?}"), error.to_string(), "`main` returning it prints the message");
}

/// (On loopback the dev secret is used: `examples/tests/quickstart.rs` runs the README's `main`
/// in a directory of its own for that, since the secret file is in the current directory.)
#[tokio::test]
async fn an_empty_clerk_secret_is_refused_off_loopback() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(SqliteStore::open(dir.path().join("engine.db")).expect("store"));
    let app = App::with_registry("no-secret", Ok(registry())).store(store).clerk_webhooks("");
    let running = app.start().await.expect("an empty secret is no error at start");
    // Only the check is exercised: nothing is sent to this address.
    let public = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let error = running.listen(public).expect_err("not on a public address");
    assert!(error.to_string().contains("set CLERK_WEBHOOK_SIGNING_SECRET"), "{error}");
}

// ---------------------------------------------------------------- arbitrary text never breaks a page

mod props {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    /// JSON-looking text: valid JSON, with the escapes, numbers and nesting that break naive
    /// readers, and sometimes not JSON at all.
    fn json_text() -> impl Strategy<Value = String> {
        let string = prop_oneof![
            "[a-zé ]{0,8}".prop_map(|s| format!("\"{s}\"")),
            Just(r#""\ud800""#.to_owned()),
            Just(r#""\udfff\ud800""#.to_owned()),
            Just(r#""\ud83d\ude00""#.to_owned()),
            Just(r#""\u0000\u001f\u202e""#.to_owned()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        let number = prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            Just("1e400".to_owned()),
            Just("-1e-400".to_owned()),
            Just("9".repeat(400)),
            Just("18446744073709551616".to_owned()),
            Just("0.1".to_owned()),
        ];
        let leaf = prop_oneof![string.clone(), number, Just("null".to_owned()), Just("true".to_owned())];
        let tree = leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((string.clone(), inner), 0..4).prop_map(|fields| {
                    let fields: Vec<String> = fields.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{{}}}", fields.join(", "))
                }),
            ]
        });
        prop_oneof![
            6 => tree.prop_map(|t| format!("{{\"v\": {t}}}")),
            1 => (1usize..300).prop_map(|depth| format!("{{\"deep\": {}{}}}", "[".repeat(depth), "]".repeat(depth))),
            1 => "\\PC{0,16}",
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => Just("app/echo".to_owned()),
            1 => any::<String>(),
            1 => Just("app/\u{202e}x".to_owned()),
        ]
    }

    /// Every page that lists or shows events and runs answers, and none with a 5xx.
    async fn every_page_answers(s: &Server) -> Result<(), TestCaseError> {
        let (_, list) = s.get("/api/v1/events?internal=true&limit=200").await;
        let events: Vec<String> = list["events"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let (_, runs) = s.get("/api/v1/runs?limit=200").await;
        let runs: Vec<String> = runs["runs"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut paths = vec![
            "/api/v1/events".to_owned(),
            "/api/v1/events?q=%22v%22".to_owned(),
            "/api/v1/events?q=%F0%9F%98%80".to_owned(),
            "/api/v1/runs".to_owned(),
            "/api/v1/runs?q=app".to_owned(),
            "/api/v1/functions".to_owned(),
            "/v1/events".to_owned(),
        ];
        for id in events.iter().rev().take(6) {
            paths.extend([format!("/api/v1/events/{id}"), format!("/v1/events/{id}"), format!("/v1/events/{id}/runs")]);
        }
        for id in runs.iter().take(6) {
            paths.extend([format!("/api/v1/runs/{id}"), format!("/v1/runs/{id}")]);
        }
        for path in paths {
            let response = s.http.get(s.url(&path)).send().await;
            let response = response.map_err(|e| TestCaseError::fail(format!("{path}: no answer ({e})")))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
            prop_assert!(status == 200, "{} answered {}: {}", path, status, text);
            prop_assert!(
                // Read as a strict client reads it: a lone surrogate in an answer is an error.
                serde_json::from_str::<Value>(&text).is_ok(),
                "{} is not JSON: {}",
                path,
                text
            );
        }
        Ok(())
    }

    #[test]
    fn arbitrary_text_through_the_doors_never_breaks_a_page() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let s = runtime.block_on(serve(|app| app.event_key("k")));
        let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
        let n = std::sync::atomic::AtomicU32::new(0);
        // Mostly times a page can show, sometimes anything.
        let ts = prop_oneof![4 => 0i64..4_102_444_800_000, 1 => any::<i64>()];
        let strategy = (json_text(), name(), ts);
        runner
            .run(&strategy, |(data, name, ts)| {
                let n = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                runtime.block_on(async {
                    let envelope =
                        format!(r#"{{"type": "user.created", "object": "event", "timestamp": {ts}, "data": {data}}}"#);
                    let (status, answer) = s.post_signed(&format!("msg_prop_{n}"), envelope.as_bytes()).await;
                    prop_assert!(status == 200 || status == 400, "webhook {}: {} {}", envelope, status, answer);
                    let name = serde_json::to_string(&name).unwrap_or_default();
                    for body in [
                        format!(r#"{{"name": {name}, "data": {data}}}"#),
                        format!(r#"[{{"name": "app/echo", "ts": {ts}, "data": {data}}}]"#),
                    ] {
                        let (status, answer) = s.post("/e/k", body.clone()).await;
                        prop_assert!(status == 200 || status == 400, "event API {}: {} {}", body, status, answer);
                    }
                    every_page_answers(&s).await
                })
            })
            .unwrap_or_else(|failure| panic!("{failure}"));
    }
}
