//! HTTP ingress over real sockets: the Clerk webhook endpoint, Inngest's `POST /e/{key}`, the
//! `VerifiedWebhook` extractor and the `send` / `clerk send` CLI functions.
//!
//! The engine is replaced by `RecordingSink`, an in-memory `EventSink` that records what it was
//! given and de-duplicates by id as the engine's contract says.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::post;
use axum::{Extension, Router};
use hookflow::cli::{self, CliError};
use hookflow::webhook::svix::{sign, Secret, Verifier};
use hookflow::webhook::{
    ClerkWebhook, ClerkWebhookConfig, EventApi, EventApiConfig, EventSink, EventSource, IngressError, SinkError,
    VerifiedWebhook, WebhookVerifier,
};
use hookflow::RawEvent;
use hookflow_tests::http::serve;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Clerk's own test secret (clerk/javascript's webhooks tests), as in vectors C1 and C2.
const SECRET: &str = "whsec_dGVzdF9zaWduaW5nX3NlY3JldF8zMl9jaGFyc19sb25n";

type Accepted<'a> = Pin<Box<dyn Future<Output = Result<Vec<String>, SinkError>> + Send + 'a>>;

#[derive(Default)]
struct RecordingSink {
    state: Mutex<SinkState>,
    fail: AtomicBool,
    /// Refuse the events as the engine refuses an invalid one.
    reject: AtomicBool,
}

#[derive(Default)]
struct SinkState {
    calls: Vec<(Vec<RawEvent>, EventSource)>,
    stored: Vec<RawEvent>,
    generated: u64,
}

impl RecordingSink {
    fn stored(&self) -> Vec<RawEvent> {
        self.state.lock().expect("sink lock").stored.clone()
    }

    fn calls(&self) -> Vec<(Vec<RawEvent>, EventSource)> {
        self.state.lock().expect("sink lock").calls.clone()
    }
}

impl EventSink for RecordingSink {
    fn accept(&self, events: Vec<RawEvent>, source: EventSource) -> Accepted<'_> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err(SinkError::Unavailable("disk I/O error".into()));
            }
            if self.reject.load(Ordering::SeqCst) {
                return Err(SinkError::Rejected("event 0 is invalid: its name is reserved".into()));
            }
            let mut state = self.state.lock().expect("sink lock");
            state.calls.push((events.clone(), source));
            let mut ids = Vec::new();
            for mut event in events {
                if event.id.is_empty() {
                    state.generated += 1;
                    event.id = format!("gen_{}", state.generated);
                }
                if !state.stored.iter().any(|e| e.id == event.id) {
                    state.stored.push(event.clone());
                }
                ids.push(event.id);
            }
            Ok(ids)
        })
    }
}

async fn clerk_server(config: ClerkWebhookConfig) -> (String, Arc<RecordingSink>) {
    let sink = Arc::new(RecordingSink::default());
    let router = ClerkWebhook::new(config, sink.clone()).expect("secrets").router();
    (serve(router).await, sink)
}

async fn post_raw(url: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("response is not JSON ({e}): {text}")))
}

fn svix_headers(id: &str, timestamp: i64, signature: String) -> Vec<(&'static str, String)> {
    vec![("svix-id", id.to_owned()), ("svix-timestamp", timestamp.to_string()), ("svix-signature", signature)]
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// Posts `body` signed now with `SECRET` and returns the status and JSON answer.
async fn post_signed(base: &str, id: &str, body: &[u8]) -> (u16, Value) {
    let ts = now_secs();
    let signature = sign(SECRET, id, ts, body).expect("sign");
    post_raw(&format!("{base}/webhooks/clerk"), &svix_headers(id, ts, signature), body.to_vec()).await
}

fn error_of(answer: &Value, status: u16) -> String {
    assert_eq!(answer["status"], json!(status), "{answer}");
    answer["error"].as_str().unwrap_or_else(|| panic!("no error message in {answer}")).to_owned()
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn vector(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("svix-vectors.json")).expect("vectors");
    let all: Value = serde_json::from_str(&text).expect("vectors json");
    all["valid"].as_array().expect("valid").iter().find(|v| v["name"] == name).expect("vector").clone()
}

// ---------------------------------------------------------------- Clerk webhooks

#[tokio::test]
async fn clerk_delivery_becomes_a_clerk_event_with_svix_id_envelope_ts_and_kept_envelope() {
    let c2 = vector("C2");
    let ts = c2["timestamp"].as_i64().expect("ts");
    let body = std::fs::read(fixtures().join("clerk/user.created.json")).expect("fixture");
    let sink = Arc::new(RecordingSink::default());
    // The vector was signed in 2024: the server's clock is set a minute after it.
    let webhook = ClerkWebhook::new(ClerkWebhookConfig::new([SECRET]), sink.clone())
        .expect("secret")
        .with_clock(move || UNIX_EPOCH + Duration::from_secs(ts as u64 + 60));
    let base = serve(webhook.router()).await;

    let id = c2["id"].as_str().expect("id");
    let headers = svix_headers(id, ts, c2["signature"].as_str().expect("sig").to_owned());
    let (status, answer) = post_raw(&format!("{base}/webhooks/clerk"), &headers, body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "ids": [id], "status": 200 }));

    let mut envelope: Value = serde_json::from_slice(&body).expect("fixture json");
    let data = envelope.as_object_mut().expect("object").remove("data").expect("data");
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, EventSource::Webhook);
    assert_eq!(
        calls[0].0,
        vec![RawEvent {
            name: "clerk/user.created".into(),
            data: data.into(),
            id: id.into(),
            // The fixture's `timestamp` is in seconds; events carry milliseconds.
            ts: 1_716_883_200_000,
            user: Some(json!({ "clerk_envelope": envelope })),
        }]
    );

    // Clerk re-delivers with the same svix-id: acknowledged again, stored once.
    let (status, again) = post_raw(&format!("{base}/webhooks/clerk"), &headers, body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, answer);
    assert_eq!(sink.calls().len(), 2);
    assert_eq!(sink.stored().len(), 1);
}

#[tokio::test]
async fn millisecond_timestamps_are_kept_and_a_missing_one_falls_back_to_the_signature_time() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let body = json!({ "type": "session.created", "object": "event", "timestamp": 1_716_883_200_123_i64,
                       "data": { "id": "sess_1", "object": "session" } });
    let (status, answer) = post_signed(&base, "msg_ms", body.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");

    let before = now_secs();
    let body = json!({ "type": "session.created", "data": { "id": "sess_2" } });
    let (status, answer) = post_signed(&base, "msg_no_ts", body.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");

    let stored = sink.stored();
    assert_eq!(stored[0].ts, 1_716_883_200_123);
    assert!(stored[1].ts >= before * 1000 && stored[1].ts % 1000 == 0, "{}", stored[1].ts);
    assert_eq!(stored[1].name, "clerk/session.created");
}

#[tokio::test]
async fn unknown_clerk_types_are_accepted() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let body = json!({ "type": "user.someday", "object": "event", "data": { "id": "user_1" } });
    let (status, answer) = post_signed(&base, "msg_unknown", body.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sink.stored()[0].name, "clerk/user.someday");
    assert_eq!(sink.stored()[0].data, json!({ "id": "user_1" }));
}

#[tokio::test]
async fn bad_signature_is_401_with_the_reason() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#;
    let ts = now_secs();
    let signature = sign(SECRET, "msg_1", ts, body).expect("sign");
    let tampered = br#"{"type":"user.created","data":{"id":"user_2"}}"#.to_vec();
    let (status, answer) =
        post_raw(&format!("{base}/webhooks/clerk"), &svix_headers("msg_1", ts, signature), tampered).await;
    assert_eq!(status, 401);
    assert!(error_of(&answer, 401).contains("no signature matched"), "{answer}");

    let other = sign(&Secret::generate(), "msg_1", ts, body).expect("sign");
    let (status, answer) =
        post_raw(&format!("{base}/webhooks/clerk"), &svix_headers("msg_1", ts, other), body.to_vec()).await;
    assert_eq!(status, 401);
    assert!(error_of(&answer, 401).contains("signing secret"), "{answer}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn stale_and_future_timestamps_are_401() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#;
    for (offset, expected) in [(-400, "s old"), (400, "in the future")] {
        let ts = now_secs() + offset;
        let signature = sign(SECRET, "msg_1", ts, body).expect("sign");
        let (status, answer) =
            post_raw(&format!("{base}/webhooks/clerk"), &svix_headers("msg_1", ts, signature), body.to_vec()).await;
        assert_eq!(status, 401);
        assert!(error_of(&answer, 401).contains(expected), "{answer}");
    }
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn missing_headers_are_401_naming_them() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#.to_vec();
    let (status, answer) = post_raw(&format!("{base}/webhooks/clerk"), &[], body.clone()).await;
    assert_eq!(status, 401);
    let error = error_of(&answer, 401);
    assert!(error.contains("header(s) `svix-id`, `svix-timestamp`, `svix-signature`: "), "{error}");

    let only_id = [("svix-id", "msg_1".to_owned())];
    let (status, answer) = post_raw(&format!("{base}/webhooks/clerk"), &only_id, body).await;
    assert_eq!(status, 401);
    let error = error_of(&answer, 401);
    assert!(error.contains("header(s) `svix-timestamp`, `svix-signature`: "), "{error}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn malformed_json_and_non_envelopes_are_400_saying_why() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let cases: [(&[u8], &str); 5] = [
        (br#"{"type": "user.created", "data": "#, "not JSON"),
        (b"[1, 2]", "not a Clerk webhook envelope"),
        (br#"{"hello": "world"}"#, "`type`"),
        (br#"{"type": "user.created"}"#, "`data`"),
        (br#"{"type": "user.created", "data": {}, "timestamp": "yesterday"}"#, "`timestamp`"),
    ];
    for (i, (body, expected)) in cases.into_iter().enumerate() {
        let (status, answer) = post_signed(&base, &format!("msg_{i}"), body).await;
        assert_eq!(status, 400, "{answer}");
        let error = error_of(&answer, 400);
        assert!(error.contains(expected), "{expected:?} not in {error}");
        assert!(error.contains(r#""type": "user.created""#), "the message shows the expected shape: {error}");
    }
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let two_mib = vec![b'a'; 2 * 1024 * 1024];
    let (status, answer) = post_signed(&base, "msg_big", &two_mib).await;
    assert_eq!(status, 413, "{answer}");
    assert!(error_of(&answer, 413).contains("1048576-byte limit"), "{answer}");

    let (base_small, _) = clerk_server(ClerkWebhookConfig::new([SECRET]).with_max_body_bytes(1024)).await;
    let body = json!({ "type": "user.created", "data": { "pad": "x".repeat(2000) } }).to_string();
    let (status, answer) = post_signed(&base_small, "msg_pad", body.as_bytes()).await;
    assert_eq!(status, 413, "{answer}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn chunked_bodies_without_a_length_are_limited_too() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST /webhooks/clerk HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..32 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("byte limit"), "{response}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn a_sink_failure_is_503_so_that_clerk_retries() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    sink.fail.store(true, Ordering::SeqCst);
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#;
    let (status, answer) = post_signed(&base, "msg_1", body).await;
    assert_eq!(status, 503, "{answer}");
    assert!(error_of(&answer, 503).contains("disk I/O error"), "{answer}");

    // Clerk's retry of the same message goes through once the store is back.
    sink.fail.store(false, Ordering::SeqCst);
    let (status, answer) = post_signed(&base, "msg_1", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sink.stored().len(), 1);
}

#[tokio::test]
async fn webhook_header_names_rotation_and_a_custom_path_work() {
    let sink = Arc::new(RecordingSink::default());
    let config = ClerkWebhookConfig::new([Secret::generate(), SECRET.to_owned()]);
    let router: Router = ClerkWebhook::new(config, sink.clone()).expect("secrets").router_at("/hooks/clerk-prod");
    let base = serve(router).await;
    let body = br#"{"type":"user.deleted","data":{"id":"user_1","deleted":true}}"#;
    let ts = now_secs();
    let headers = vec![
        ("webhook-id", "msg_std".to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sign(SECRET, "msg_std", ts, body).expect("sign")),
    ];
    let (status, answer) = post_raw(&format!("{base}/hooks/clerk-prod"), &headers, body.to_vec()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sink.stored()[0].name, "clerk/user.deleted");

    let response = reqwest::Client::new().post(format!("{base}/webhooks/clerk")).send().await.expect("request");
    assert_eq!(response.status().as_u16(), 404);
}

#[test]
fn config_rejects_bad_secrets_at_construction_and_splits_lists() {
    let sink: Arc<dyn EventSink> = Arc::new(RecordingSink::default());
    let error = ClerkWebhook::new(ClerkWebhookConfig::new(["whsec_!!!"]), sink.clone()).expect_err("bad secret");
    assert!(error.to_string().contains("base64"), "{error}");
    assert!(ClerkWebhook::new(ClerkWebhookConfig::new(Vec::<String>::new()), sink).is_err());
    assert_eq!(
        hookflow::webhook::clerk::split_secrets(" whsec_a, whsec_b whsec_c,,"),
        vec!["whsec_a", "whsec_b", "whsec_c"]
    );
    assert_eq!(ClerkWebhookConfig::new([SECRET]).max_body_bytes, 1024 * 1024);
    assert!(!format!("{:?}", ClerkWebhookConfig::new([SECRET])).contains("dGVzdF9"));
}

// ---------------------------------------------------------------- POST /e/{key}

async fn event_api_server(config: EventApiConfig) -> (String, Arc<RecordingSink>) {
    let sink = Arc::new(RecordingSink::default());
    (serve(EventApi::new(config, sink.clone()).router()).await, sink)
}

async fn post_json(url: &str, body: &str) -> (u16, Value) {
    post_raw(url, &[("content-type", "application/json".to_owned())], body.as_bytes().to_vec()).await
}

#[tokio::test]
async fn event_api_accepts_one_event_or_an_array() {
    let (base, sink) = event_api_server(EventApiConfig::new().with_event_keys(["key_good"])).await;
    let (status, answer) = post_json(&format!("{base}/e/key_good"), r#"{"name": "app/user.signup"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "ids": ["gen_1"], "status": 200 }));

    let batch = r#"[{"name": "app/a", "data": {"n": 1}, "id": "evt_a", "ts": 1716883200000, "user": {"x": 1}},
                    {"name": "app/b", "data": null}]"#;
    let (status, answer) = post_json(&format!("{base}/e/key_good"), batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "ids": ["evt_a", "gen_2"], "status": 200 }));

    let calls = sink.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|(_, source)| *source == EventSource::Api));
    assert_eq!(calls[0].0, vec![RawEvent::new("app/user.signup", json!({}))]);
    assert_eq!(
        calls[1].0,
        vec![
            RawEvent {
                name: "app/a".into(),
                data: json!({"n": 1}).into(),
                id: "evt_a".into(),
                ts: 1_716_883_200_000,
                user: Some(json!({"x": 1}))
            },
            RawEvent::new("app/b", json!({})),
        ]
    );

    let (status, answer) = post_json(&format!("{base}/e/key_good"), "[]").await;
    assert_eq!((status, answer), (200, json!({ "ids": [], "status": 200 })));
    assert_eq!(sink.calls().len(), 2, "an empty batch does not reach the sink");
}

#[tokio::test]
async fn event_api_refuses_unknown_keys_and_without_keys_refuses_all_unless_in_dev_mode() {
    let (base, sink) = event_api_server(EventApiConfig::new().with_event_keys(["key_good", "key_other"])).await;
    for key in ["key_bad", "key_goo", "key_good2", "x"] {
        let (status, answer) = post_json(&format!("{base}/e/{key}"), r#"{"name": "app/a"}"#).await;
        assert_eq!(status, 401, "{key}: {answer}");
        assert!(error_of(&answer, 401).contains("event key"), "{answer}");
    }
    assert!(sink.calls().is_empty());
    let (status, _) = post_json(&format!("{base}/e/key_other"), r#"{"name": "app/a"}"#).await;
    assert_eq!(status, 200);

    let (closed, closed_sink) = event_api_server(EventApiConfig::new()).await;
    let (status, answer) = post_json(&format!("{closed}/e/anything"), r#"{"name": "app/a"}"#).await;
    assert_eq!(status, 401, "locked by default: {answer}");
    assert!(error_of(&answer, 401).contains("INNGEST_EVENT_KEY"), "says how to enable it: {answer}");
    assert!(closed_sink.calls().is_empty());

    let (open, _) = event_api_server(EventApiConfig::new().accept_any_key()).await;
    let (status, answer) = post_json(&format!("{open}/e/anything"), r#"{"name": "app/a"}"#).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn event_api_rejects_malformed_bodies_with_400() {
    let (base, sink) = event_api_server(EventApiConfig::new().accept_any_key()).await;
    let cases = [
        ("{", "not valid JSON"),
        ("42", "a number"),
        (r#"{"data": {}}"#, "no `name`"),
        (r#"{"name": "  "}"#, "no `name`"),
        (r#"{"name": 3}"#, "`name` must be a string"),
        (r#"{"name": "app/a", "data": [1]}"#, "`data` must be a JSON object, got an array"),
        (r#"[{"name": "app/a"}, "app/b"]"#, "event #1"),
        (r#"[{"name": "app/a"}, {"name": "app/b", "ts": -5}]"#, "event #1 (`app/b`): the event's `ts` is -5"),
        (r#"{"name": "app/a", "ts": 1.5}"#, "`ts` must be a whole number"),
        (r#"{"name": "app/a", "id": 7}"#, "`id` must be a string"),
    ];
    for (body, expected) in cases {
        let (status, answer) = post_json(&format!("{base}/e/k"), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = error_of(&answer, 400);
        assert!(error.contains(expected), "{body}: {expected:?} not in {error}");
    }
    assert!(sink.calls().is_empty(), "a batch with one bad event commits none");
}

#[tokio::test]
async fn event_api_limits_bodies_and_reports_store_failures() {
    let (base, sink) = event_api_server(EventApiConfig::new().accept_any_key().with_max_body_bytes(1024)).await;
    let big = json!({ "name": "app/a", "data": { "pad": "x".repeat(2048) } }).to_string();
    let (status, answer) = post_json(&format!("{base}/e/k"), &big).await;
    assert_eq!(status, 413, "{answer}");
    assert!(error_of(&answer, 413).contains("1024-byte limit"), "{answer}");

    sink.fail.store(true, Ordering::SeqCst);
    let (status, answer) = post_json(&format!("{base}/e/k"), r#"{"name": "app/a"}"#).await;
    assert_eq!(status, 503, "{answer}");
    assert!(error_of(&answer, 503).contains("retry"), "{answer}");

    // An event the engine refuses is the sender's mistake: 400, and no advice to retry.
    sink.fail.store(false, Ordering::SeqCst);
    sink.reject.store(true, Ordering::SeqCst);
    let (status, answer) = post_json(&format!("{base}/e/k"), r#"{"name": "app/a"}"#).await;
    assert_eq!(status, 400, "{answer}");
    let reason = error_of(&answer, 400);
    assert!(reason.contains("its name is reserved") && !reason.contains("retry"), "{answer}");
}

// ---------------------------------------------------------------- VerifiedWebhook

#[derive(serde::Deserialize)]
struct Ping {
    zen: String,
}

async fn ping(webhook: VerifiedWebhook) -> Result<String, IngressError> {
    let ping: Ping = webhook.json()?;
    Ok(format!("{} {} {}", webhook.message.id, webhook.message.timestamp, ping.zen))
}

#[tokio::test]
async fn verified_webhook_extractor_serves_any_standard_webhooks_provider() {
    let secret = Secret::generate();
    let verifier = WebhookVerifier::new(Verifier::new([&secret]).expect("secret")).max_body_bytes(4096);
    let base = serve(Router::new().route("/hooks/ping", post(ping)).layer(Extension(verifier))).await;
    let url = format!("{base}/hooks/ping");

    let ts = now_secs();
    let body = br#"{"zen": "keep it simple"}"#;
    let headers = vec![
        ("webhook-id", "msg_ping".to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", sign(&secret, "msg_ping", ts, body).expect("sign")),
    ];
    let mut request = reqwest::Client::new().post(&url).body(body.to_vec());
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("text"), format!("msg_ping {ts} keep it simple"));

    let (status, answer) = post_raw(&url, &headers, br#"{"zen": "tampered"}"#.to_vec()).await;
    assert_eq!(status, 401);
    assert!(error_of(&answer, 401).contains("no signature matched"), "{answer}");

    let wrong_shape = br#"{"koan": 1}"#;
    let headers = svix_headers("msg_2", ts, sign(&secret, "msg_2", ts, wrong_shape).expect("sign"));
    let (status, answer) = post_raw(&url, &headers, wrong_shape.to_vec()).await;
    assert_eq!(status, 400);
    assert!(error_of(&answer, 400).contains("zen"), "{answer}");

    let (status, answer) = post_raw(&url, &headers, vec![b'{'; 5000]).await;
    assert_eq!(status, 413, "{answer}");
}

#[tokio::test]
async fn verified_webhook_without_a_verifier_is_a_500_explaining_the_setup() {
    let base = serve(Router::new().route("/hooks/ping", post(ping))).await;
    let (status, answer) = post_raw(&format!("{base}/hooks/ping"), &[], b"{}".to_vec()).await;
    assert_eq!(status, 500);
    assert!(error_of(&answer, 500).contains("WebhookVerifier"), "{answer}");
}

// ---------------------------------------------------------------- CLI

#[tokio::test]
async fn clerk_send_posts_a_signed_sample_that_the_endpoint_accepts() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let before_ms = now_secs() * 1000;
    let reply = cli::clerk_send("user.created", None, Some(SECRET), &base).await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.is_success());
    assert_eq!(reply.url, format!("{base}/webhooks/clerk"));

    let stored = sink.stored();
    assert_eq!(stored.len(), 1);
    let event = &stored[0];
    assert_eq!(event.name, "clerk/user.created");
    assert!(event.id.starts_with("msg_") && event.id.len() == 31, "{}", event.id);
    assert!(event.ts >= before_ms, "the envelope carries the current time, not the sample's");
    // The sample, with the email address Clerk's published example lacks (so emails can be sent).
    let mut expected = hookflow::clerk::fixtures::sample_data("user.created").expect("sample");
    expected["email_addresses"] = event.data["email_addresses"].clone();
    assert_eq!(event.data, expected);
    assert_eq!(event.data["email_addresses"][0]["email_address"], "john.doe@example.com");
    assert_eq!(event.data["email_addresses"][0]["id"], event.data["primary_email_address_id"]);
    let reply_ids: Value = serde_json::from_str(&reply.body).expect("json");
    assert_eq!(reply_ids["ids"], json!([event.id]));

    // `clerk/` prefixed names work too, and each send is a new message.
    let reply = cli::clerk_send("clerk/session.ended", None, Some(SECRET), &format!("{base}/")).await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sink.stored()[1].name, "clerk/session.ended");
    assert_ne!(sink.stored()[0].id, sink.stored()[1].id);

    // With the wrong secret, the endpoint's answer is passed back.
    let reply = cli::clerk_send("user.created", None, Some(&Secret::generate()), &base).await.expect("send");
    assert_eq!(reply.status, 401);
    assert!(!reply.is_success());
}

#[tokio::test]
async fn clerk_send_takes_fixture_files_holding_an_envelope_or_only_data() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data_only = dir.path().join("data.json");
    std::fs::write(&data_only, r#"{"id": "org_1", "object": "organization", "name": "Acme"}"#).expect("write");
    let reply = cli::clerk_send("organization.created", Some(&data_only), Some(SECRET), &base).await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stored = sink.stored();
    assert_eq!(stored[0].name, "clerk/organization.created");
    assert_eq!(stored[0].data, json!({"id": "org_1", "object": "organization", "name": "Acme"}));

    let envelope = fixtures().join("clerk/user.created.json");
    let reply = cli::clerk_send("user.created", Some(&envelope), Some(SECRET), &base).await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stored = sink.stored();
    let clerk_envelope = &stored[1].user.as_ref().expect("user")["clerk_envelope"];
    assert_eq!(clerk_envelope["instance_id"], json!("ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S"));

    let mismatch = cli::clerk_send("user.deleted", Some(&envelope), Some(SECRET), &base).await;
    let error = mismatch.expect_err("type mismatch").to_string();
    assert!(error.contains("`user.created` envelope, not `user.deleted`"), "{error}");

    let unknown = cli::clerk_send("user.craeted", None, Some(SECRET), &base).await.expect_err("unknown type");
    assert!(unknown.to_string().contains("no built-in sample"), "{unknown}");

    let missing = cli::clerk_send("user.created", Some(&dir.path().join("nope.json")), Some(SECRET), &base).await;
    assert!(matches!(missing, Err(CliError::ReadFile { .. })), "{missing:?}");
    assert_eq!(sink.stored().len(), 2);
}

#[tokio::test]
async fn clerk_send_takes_the_base_url_or_the_full_endpoint_url() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    let endpoint = format!("{base}/webhooks/clerk");
    for url in [base.clone(), format!("{base}/"), endpoint.clone(), format!("{endpoint}/")] {
        let reply = cli::clerk_send("user.created", None, Some(SECRET), &url).await.expect("send");
        assert_eq!((reply.status, reply.url.as_str()), (200, endpoint.as_str()), "--url {url}: {}", reply.body);
    }
    assert_eq!(sink.stored().len(), 4);

    // Where nothing takes webhooks, the answer says what to pass instead of a bare 404.
    let elsewhere = format!("{base}/hooks");
    let error = cli::clerk_send("user.created", None, Some(SECRET), &elsewhere).await.expect_err("404");
    assert!(matches!(&error, CliError::NoWebhookEndpoint { url } if *url == format!("{elsewhere}/webhooks/clerk")));
    let message = error.to_string();
    assert!(message.contains("404") && message.contains("base URL") && message.contains("full URL"), "{message}");
    assert_eq!(sink.stored().len(), 4);
}

#[tokio::test]
async fn clerk_send_suggests_the_closest_type_and_checks_its_overrides() {
    let (base, sink) = clerk_server(ClerkWebhookConfig::new([SECRET])).await;
    for (typo, meant) in [
        ("user.craeted", "user.created"),
        ("users.deleted", "user.deleted"),
        ("organisationMembership.created", "organizationMembership.created"),
    ] {
        let error = cli::clerk_send(typo, None, Some(SECRET), &base).await.expect_err(typo).to_string();
        assert!(error.contains(&format!("did you mean `{meant}`?")), "{typo}: {error}");
    }
    let hopeless = cli::clerk_send("zzz.qqq", None, Some(SECRET), &base).await.expect_err("unknown").to_string();
    assert!(!hopeless.contains("did you mean") && hopeless.contains("check the spelling"), "{hopeless}");

    let send = |clerk_type: &'static str, id: Option<&str>, email: &str| {
        let overrides = cli::UserOverrides { id: id.map(str::to_owned), email: Some(email.to_owned()) };
        let base = base.clone();
        async move { cli::clerk_send_with(clerk_type, None, Some(SECRET), &base, &overrides).await }
    };
    for bad in ["not-an-email", "ada@", "@example.com", "Ada <ada@example.com>", "ada@exa mple.com"] {
        let error = send("user.created", None, bad).await.expect_err(bad).to_string();
        assert!(error.starts_with(&format!("--email `{bad}` is not an email address (")), "{bad}: {error}");
        assert!(error.ends_with("pass one such as `ada@example.com`"), "{error}");
    }
    let error = send("session.created", None, "ada@example.com").await.expect_err("not a user event").to_string();
    assert!(error.contains("--email applies to `user.created` and `user.updated`"), "{error}");
    let overrides = cli::UserOverrides { id: Some("user_1".into()), email: None };
    let error = cli::clerk_send_with("session.created", None, Some(SECRET), &base, &overrides).await;
    assert!(error.expect_err("not a user event").to_string().contains("--user-id applies to `user.*` events"));
    assert!(sink.stored().is_empty(), "nothing was sent");

    let reply = send("user.updated", Some("user_ada"), "ada@example.com").await.expect("a valid address");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stored = &sink.stored()[0];
    assert_eq!(stored.data["email_addresses"][0]["email_address"], "ada@example.com");
    assert_eq!(stored.data["id"], "user_ada");
}

#[test]
fn clerk_messages_are_signed_exactly_as_svix_signs_them() {
    let now = SystemTime::now();
    let message = cli::build_clerk_message("user.updated", None, SECRET, now).expect("build");
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in message.headers() {
        headers.insert(name, value.parse().expect("header value"));
    }
    let verified = Verifier::new([SECRET]).expect("secret").verify(&headers, &message.body, now).expect("verifies");
    assert_eq!(verified.id, message.id);
    assert_eq!(message.signature, sign(SECRET, &message.id, message.timestamp, &message.body).expect("sign"));
    let envelope: Value = serde_json::from_slice(&message.body).expect("json");
    assert_eq!(envelope["type"], json!("user.updated"));
    let now_ms = now.duration_since(UNIX_EPOCH).expect("epoch").as_millis() as i64;
    assert_eq!(envelope["timestamp"], json!(now_ms));

    let bad = cli::build_clerk_message("user.updated", None, "whsec_***", now).expect_err("bad secret");
    assert!(matches!(bad, CliError::Secret(_)), "{bad:?}");
}

#[test]
fn the_signing_secret_comes_from_the_flag_then_the_environment_then_the_dev_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let none = cli::resolve_secret(None, None, dir.path()).expect_err("nothing configured");
    assert!(matches!(none, CliError::NoSecret));
    assert!(none.to_string().contains(".hookflow/dev-secret"), "{none}");

    std::fs::create_dir_all(dir.path().join(".hookflow")).expect("mkdir");
    std::fs::write(dir.path().join(cli::DEV_SECRET_FILE), "whsec_file\n").expect("write");
    assert_eq!(cli::resolve_secret(None, None, dir.path()).expect("file"), "whsec_file");
    assert_eq!(cli::resolve_secret(None, Some("whsec_env1,whsec_env2"), dir.path()).expect("env"), "whsec_env1");
    assert_eq!(cli::resolve_secret(Some("whsec_flag"), Some("whsec_env"), dir.path()).expect("flag"), "whsec_flag");
    assert_eq!(cli::resolve_secret(Some(" "), Some(""), dir.path()).expect("blank ones skipped"), "whsec_file");
}

#[tokio::test]
async fn send_posts_to_the_event_api() {
    let (base, sink) = event_api_server(EventApiConfig::new().with_event_keys(["key_cli"])).await;
    let reply = cli::send(&base, "app/invoice.paid", r#"{"amount": 42}"#, "key_cli").await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.url, format!("{base}/e/key_cli"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data.json");
    std::fs::write(&file, r#"{"from": "file"}"#).expect("write");
    let reply = cli::send(&base, "app/b", &format!("@{}", file.display()), "key_cli").await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = cli::send(&base, "app/c", "", "key_cli").await.expect("send");
    assert_eq!(reply.status, 200, "{}", reply.body);

    let stored = sink.stored();
    assert_eq!(
        stored.iter().map(|e| (e.name.as_str(), e.data.clone().into_value())).collect::<Vec<_>>(),
        vec![("app/invoice.paid", json!({"amount": 42})), ("app/b", json!({"from": "file"})), ("app/c", json!({}))]
    );

    let reply = cli::send(&base, "app/a", "{}", "key_wrong").await.expect("answered");
    assert_eq!(reply.status, 401);
    assert!(matches!(cli::send(&base, "app/a", "[1]", "k").await, Err(CliError::Invalid(_))));
    assert!(matches!(cli::send(&base, "app/a", "{", "k").await, Err(CliError::InvalidJson { .. })));
    assert!(matches!(cli::send(&base, " ", "{}", "k").await, Err(CliError::Invalid(_))));
    assert!(matches!(cli::send("not a url", "app/a", "{}", "k").await, Err(CliError::BadUrl { .. })));
}
