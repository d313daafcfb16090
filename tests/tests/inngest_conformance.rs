//! Inngest's own SDK conformance cases, as tests of hookflow's serve handler.
//!
//! Inngest publishes a conformance suite for SDKs (`pkg/conformance` in inngest/inngest, run by
//! `inngest alpha conformance`, with a Go fixture app in `tests/conformance/golang`). Its serve
//! runner syncs the SDK in band (a signed `PUT` whose answer is the functions), registers them,
//! sends events, and checks each call request the server makes and each answer the SDK gives.
//! These tests play that runner and that server against our handler over real HTTP, in cloud
//! mode so every request is signed and verified: the same fixture functions (app `test-suite`)
//! written with our macros, the same requests the cases expect the server to send (event, `ctx`
//! with `step_id`, `attempt` and `stack`, memoized `steps` exactly as the server writes them:
//! `{"data": X}` for a step, `null` for a finished sleep, the whole event for a wait), and the
//! same checks on the answers, after the same normalization (display names, timings and error
//! stacks ignored; a sleep compared by its duration). Where a case ends on the server's side
//! (cancel, wait for event), hookflow's executor plays the server end to end as well.
//!
//! Cases: `serve-introspection`, `basic-invoke`, `steps-serial`, `retry-basic`,
//! `cancel-basic`, `wait-for-event-basic` (Inngest's runner implements these), and
//! `malformed-payload`, `invalid-auth`, `secret-redaction` (its registry names them, with the
//! checks its plan describes: no crash, a stable 4xx, nothing run, nothing leaked).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::protocol::{InngestConfig, ServeHandler, SigningKey};
use hookflow::store::RunStatus;
use hookflow::{hash_step_id, Registry, State, WaitFor};
use hookflow_tests::executor::{serve_handler, Executor};
use serde_json::{json, Map, Value};

/// The suite's app id: its fixture functions are `test-suite-<id>`.
const APP: &str = "test-suite";
const KEY: &str = "signkey-test-7468697320697320612074657374206b6579";
const FALLBACK: &str = "signkey-test-0011223344556677";
const EVENT_KEY: &str = "conformance-event-key-3f9c2a";

// ---- the fixture functions (Inngest's Go fixture, in Rust) -------------------------------------

#[inngest_fn(id = "simple-fn", event = "tests/function.test")]
async fn simple_fn(event: Event<Json>) -> Result<Value> {
    Ok(json!({"name": event.name, "body": "ok"}))
}

#[inngest_fn(id = "step-test", event = "tests/step.test")]
async fn step_test(event: Event<Json>, step: Step) -> Result<Value> {
    let first: String = step.run("first step", || async { Ok("first step".to_owned()) }).await?;
    step.sleep("sleep", "2s").await?;
    let _: Value = step.run("second step", || async move { Ok(json!({"first": first, "second": true})) }).await?;
    Ok(json!({"name": event.name, "body": "ok"}))
}

static RETRY_STEP_RUNS: AtomicUsize = AtomicUsize::new(0);
static RETRY_FN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "retry-test", event = "tests/retry.test")]
async fn retry_test(event: Event<Json>, step: Step) -> Result<Value> {
    let _: String = step
        .run("first step", || async {
            match RETRY_STEP_RUNS.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::msg("broken")),
                _ => Ok("yes: 2".to_owned()),
            }
        })
        .await?;
    // The case expects the function itself to fail once after its step succeeded.
    if RETRY_FN_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(Error::msg("broken func"));
    }
    Ok(json!({"name": event.name, "body": "ok"}))
}

static AFTER_SLEEP: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(
    id = "cancel-test",
    event = "tests/cancel.test",
    cancel_on(event = "cancel/please", if = "async.data.request_id == event.data.request_id")
)]
async fn cancel_test(event: Event<Json>, step: Step) -> Result<Value> {
    step.sleep("sleep", "10s").await?;
    let _: String = step
        .run("After the sleep", || async {
            AFTER_SLEEP.fetch_add(1, Ordering::SeqCst);
            Ok("This should be cancelled if a matching cancel event is received".to_owned())
        })
        .await?;
    Ok(json!({"name": event.name, "body": "ok"}))
}

#[inngest_fn(id = "wait-for-event", event = "tests/wait.test")]
async fn wait_for_event(_event: Event<Json>, step: Step) -> Result<Value> {
    let resumed = step
        .wait_for_event::<Json>(
            "wait",
            WaitFor::timeout("10s")
                .event("test/resume")
                .if_expr("async.data.resume == true && async.data.id == event.data.id"),
        )
        .await?;
    Ok(match resumed {
        Some(event) => json!({"result": event.data}),
        None => json!({}),
    })
}

/// Not in Inngest's fixture: a typed event, for the malformed-payload case's wrong field types.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, hookflow::Event)]
#[event(name = "tests/typed.test")]
struct Order {
    order_id: String,
    amount: u64,
}

static TYPED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "typed", event = "tests/typed.test")]
async fn typed(event: Event<Order>) -> Result<Value> {
    TYPED_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(json!({"order": event.data.order_id, "amount": event.data.amount}))
}

/// Not in Inngest's fixture: errors that could carry secrets, for the secret-redaction case.
#[inngest_fn(id = "leaky", event = "tests/leaky.test", retries = 0)]
async fn leaky(event: Event<Json>, step: Step) -> Result<Value> {
    match event.data["mode"].as_str() {
        Some("panic") => {
            let _: u64 = step.run("explode", || async { panic!("the step blew up") }).await?;
            Ok(json!(null))
        }
        _ => Err(Error::msg("a plain failure")),
    }
}

fn registry() -> Registry {
    let mut registry = Registry::empty();
    for def in
        [simple_fn::DEF, step_test::DEF, retry_test::DEF, cancel_test::DEF, wait_for_event::DEF, typed::DEF, leaky::DEF]
    {
        registry.add(def).expect("distinct ids");
    }
    registry
}

// ---- the runner's side: a signed HTTP client to the serve endpoint -----------------------------

/// The handler, served in cloud mode (as the suite requires a signing key) on 127.0.0.1.
struct Sdk {
    url: String,
    http: reqwest::Client,
    config: InngestConfig,
}

/// An answer, as the runner's proxy captures it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Everything the answer says, headers and body, for the leak checks.
    fn text(&self) -> String {
        let headers: Vec<String> =
            self.headers.iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or(""))).collect();
        format!("{}\n{}", headers.join("\n"), String::from_utf8_lossy(&self.bytes))
    }
}

fn config() -> InngestConfig {
    let vars = [
        ("INNGEST_SIGNING_KEY", KEY),
        ("INNGEST_SIGNING_KEY_FALLBACK", FALLBACK),
        ("INNGEST_EVENT_KEY", EVENT_KEY),
        ("INNGEST_BASE_URL", "http://127.0.0.1:9"),
    ];
    InngestConfig::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
        .expect("a cloud-mode configuration")
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn sign(key: &str, body: &[u8]) -> String {
    SigningKey::new(key).expect("key").sign(body, now_secs())
}

async fn sdk_with(config: InngestConfig) -> Sdk {
    let handler = ServeHandler::new(APP, config.clone(), &registry(), State::default()).expect("no conflicts");
    let url = serve_handler(&handler).await;
    Sdk { url, http: reqwest::Client::new(), config }
}

async fn sdk() -> Sdk {
    sdk_with(config()).await
}

impl Sdk {
    async fn send(&self, method: reqwest::Method, query: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        let mut request = self.http.request(method, format!("{}{query}", self.url));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.body(body).send().await.expect("the serve handler answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        Answer { status, headers, bytes }
    }

    /// The runner's in-band sync: a signed `PUT` naming the URL the server reaches the app at.
    async fn sync_in_band(&self, reached: &str) -> Answer {
        let body = json!({"url": reached}).to_string().into_bytes();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("x-inngest-sync-kind", "in_band".to_owned()),
            ("x-inngest-server-kind", "dev".to_owned()),
            ("x-inngest-signature", sign(KEY, &body)),
        ];
        self.send(reqwest::Method::PUT, "", &headers, body).await
    }

    /// A call request as the server makes it: signed, to the step URL, `stepId` in the query.
    async fn call(&self, function: &str, request: &Request) -> Answer {
        let body = request.body();
        let headers = [("content-type", "application/json".to_owned()), ("x-inngest-signature", sign(KEY, &body))];
        let query = format!("?fnId={APP}-{function}&stepId={}", request.step_id);
        self.send(reqwest::Method::POST, &query, &headers, body).await
    }
}

/// The server's call request, built up as the runner's harness expects it to grow: the event,
/// then `ctx.stack` and `steps` gaining each memoized step.
#[derive(Clone)]
struct Request {
    event: Value,
    steps: Map<String, Value>,
    stack: Vec<String>,
    step_id: String,
    attempt: u32,
}

impl Request {
    fn new(name: &str, data: Value, user: Value) -> Request {
        let event = json!({"name": name, "data": data, "user": user, "id": "01JCONFORMANCE0000000000EV", "ts": 1_700_000_000_000i64});
        Request { event, steps: Map::new(), stack: Vec::new(), step_id: "step".into(), attempt: 0 }
    }

    /// A step the server memoized, by the user's id, in the form the server stores it.
    fn memo(mut self, id: &str, value: Value) -> Request {
        let hash = hash_step_id(id);
        self.stack.push(hash.clone());
        self.steps.insert(hash, value);
        self
    }

    fn attempt(mut self, attempt: u32) -> Request {
        self.attempt = attempt;
        self
    }

    fn body(&self) -> Vec<u8> {
        let body = json!({
            "event": self.event,
            "events": [self.event],
            "steps": self.steps,
            "ctx": {
                "fn_id": "0b4b2c9e-6f7a-4c57-9d1e-2f3a4b5c6d7e",
                "run_id": "01JCONFORMANCERUN000000000",
                "env": "",
                "step_id": self.step_id,
                "attempt": self.attempt,
                "max_attempts": 5,
                "stack": {"stack": self.stack, "current": self.stack.len()},
                "qi_id": "queue-item",
                "disable_immediate_execution": false,
                "use_api": false,
            },
            "version": 2,
            "use_api": false,
        });
        // Canonical, as the server sends and signs it.
        hookflow::protocol::wire::canonical(&body).into_bytes()
    }
}

/// The runner's normalization of a 206 answer before comparing: display names, user-land ids,
/// timings and metadata dropped; a sleep compared by its duration (in `name`, as JS writes it,
/// or in `opts.duration`); an error by its message; absent `opts`, `data`, `error` as `null`
/// (the runner reads them into Go fields where absent and `null` only differ by SDK habit).
fn normalize(ops: &Value) -> Vec<Value> {
    let ops = ops.as_array().unwrap_or_else(|| panic!("a 206 answers a list of opcodes: {ops}"));
    ops.iter()
        .map(|op| {
            let mut op = op.clone();
            let map = op.as_object_mut().expect("an opcode is an object");
            for key in ["displayName", "userland", "timing", "metadata"] {
                map.remove(key);
            }
            for key in ["opts", "data", "error"] {
                map.entry(key).or_insert(Value::Null);
            }
            let duration = map.get("opts").and_then(|o| o.get("duration")).and_then(Value::as_str).map(str::to_owned);
            if map.get("op").and_then(Value::as_str) == Some("Sleep") {
                if let Some(duration) = duration.filter(|d| !d.is_empty()) {
                    map.insert("name".into(), json!(duration));
                    map.insert("opts".into(), Value::Null);
                }
            }
            if let Some(message) = map.get("error").and_then(|e| e.get("message")).cloned() {
                map.insert("error".into(), json!({"message": message}));
            }
            op
        })
        .collect()
}

/// An expected opcode, as the case writes it (after normalization).
fn op(op: &str, id: &str, name: &str, opts: Value, data: Value, error: Value) -> Value {
    json!({"op": op, "id": hash_step_id(id), "name": name, "opts": opts, "data": data, "error": error})
}

fn expect_ops(answer: &Answer, expected: Vec<Value>) {
    assert_eq!(answer.status, 206, "{}", answer.text());
    assert_eq!(normalize(&answer.json()), expected);
}

fn expect_json(answer: &Answer, status: u16, expected: Value) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(answer.json(), expected);
}

// ---- transport-serve: serve-introspection -----------------------------------------------------

/// The runner's set-up is the case: the signed in-band sync answers the app and its functions
/// (the fixture's composite ids, step URLs on the URL the server reached), which the server then
/// registers itself; and the serve endpoint answers introspection.
#[tokio::test]
async fn serve_introspection_syncs_in_band_and_the_server_registers_what_it_got() {
    let s = sdk().await;
    let reached = "http://127.0.0.1:7777/proxy";
    let r = s.sync_in_band(reached).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-inngest-sync-kind"), Some("in_band"));
    // Signed with the key that verified the request, over the bytes sent.
    let signature = r.header("x-inngest-signature").expect("an in-band answer is signed");
    let t: i64 = signature.split('&').find_map(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).expect("t=");
    assert_eq!(signature, SigningKey::new(KEY).expect("key").sign(&r.bytes, t));
    let body = r.json();
    assert_eq!(body["app_id"], APP);
    assert_eq!(body["sdk_language"], "rust");
    assert_eq!(body["sdk_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["url"], reached);
    assert_eq!(body["capabilities"]["in_band_sync"], "v1");
    assert_eq!(body["inspection"]["authentication_succeeded"], true);
    let slugs: Vec<&str> =
        body["functions"].as_array().expect("functions").iter().filter_map(|f| f["id"].as_str()).collect();
    for slug in ["simple-fn", "step-test", "retry-test", "cancel-test", "wait-for-event"] {
        assert!(slugs.contains(&format!("test-suite-{slug}").as_str()), "fixture {slug} in {slugs:?}");
    }
    let cancel = body["functions"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == "test-suite-cancel-test"))
        .expect("cancel-test");
    assert_eq!(
        cancel["cancel"],
        json!([{"event": "cancel/please", "if": "async.data.request_id == event.data.request_id"}]),
        "the cancel the server matches on, in its field names"
    );
    let step_url = cancel["steps"]["step"]["runtime"]["url"].as_str().expect("a step URL");
    assert_eq!(step_url, format!("{reached}?fnId=test-suite-cancel-test&stepId=step"));

    // The server takes that answer as a registration: hookflow's executor, as the runner's dev
    // server does, registers it and knows the functions by their composite ids.
    let dev = Dev::start().await;
    let register = json!({
        "url": reached, "v": "1", "deployType": "ping", "sdk": body["sdk"],
        "appName": body["app_id"], "functions": body["functions"],
    });
    let response = reqwest::Client::new()
        .post(format!("{}/fn/register", dev.base))
        .header("authorization", format!("Bearer {}", SigningKey::new(KEY).expect("key").bearer()))
        .json(&register)
        .send()
        .await
        .expect("registers");
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text().await);
    let ids: Vec<String> = dev.engine.functions().iter().map(|f| f.id.clone()).collect();
    assert!(ids.contains(&"test-suite-wait-for-event".to_owned()), "{ids:?}");

    // Introspection: a signed GET gets the authenticated shape, signed.
    let headers = [("x-inngest-signature", sign(KEY, b""))];
    let r = s.send(reqwest::Method::GET, "", &headers, Vec::new()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["schema_version"], "2024-05-24");
    assert_eq!(r.json()["function_count"], 7);
    assert_eq!(r.json()["capabilities"], json!({"trust_probe": "v1", "in_band_sync": "v1"}));
    assert!(r.header("x-inngest-signature").is_some());
    assert!(
        r.header("x-inngest-sdk").is_some_and(|v| v.starts_with("hookflow:v")),
        "how the dev server discovers SDKs"
    );
}

#[tokio::test]
async fn in_band_sync_can_be_turned_off_and_then_registers_out_of_band() {
    let mut config = config();
    config.allow_in_band_sync = false;
    let s = sdk_with(config).await;
    let r = s.sync_in_band("http://127.0.0.1:7777/proxy").await;
    // Out of band: it tried the server's /fn/register (nothing listens on port 9) and says so.
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.header("x-inngest-sync-kind"), Some("out_of_band"));
    assert_eq!(r.json()["modified"], false);
    let headers = [("x-inngest-signature", sign(KEY, b""))];
    let r = s.send(reqwest::Method::GET, "", &headers, Vec::new()).await;
    assert_eq!(r.json()["capabilities"], json!({"trust_probe": "v1"}), "not advertised when off");
}

// ---- core: basic-invoke, steps-serial, retry-basic ---------------------------------------------

#[tokio::test]
async fn basic_invoke_answers_the_function_s_value() {
    let s = sdk().await;
    let request = Request::new("tests/function.test", json!({"test": true}), json!({}));
    let r = s.call("simple-fn", &request).await;
    expect_json(&r, 200, json!({"name": "tests/function.test", "body": "ok"}));
    assert!(r.header("x-inngest-signature").is_some(), "answers to verified requests are signed");
}

#[tokio::test]
async fn steps_serial_runs_a_step_sleeps_runs_another_then_returns() {
    let s = sdk().await;
    let request =
        Request::new("tests/step.test", json!({"steps": {"ok": "yes"}}), json!({"email": "test@example.com"}));
    // The case's hashes, as Inngest computed them.
    assert_eq!(hash_step_id("first step"), "98bf98df193bcce7c33e6bc50927cf2ac21206cb");
    assert_eq!(hash_step_id("sleep"), "c3ca5f787365eae0dea86250e27d476406956478");
    assert_eq!(hash_step_id("second step"), "764e20ec975d4ef820d0f42e6a5833384bd7ee36");

    let r = s.call("step-test", &request).await;
    expect_ops(&r, vec![op("StepRun", "first step", "first step", Value::Null, json!("first step"), Value::Null)]);

    let request = request.memo("first step", json!({"data": "first step"}));
    let r = s.call("step-test", &request).await;
    expect_ops(&r, vec![op("Sleep", "sleep", "2s", Value::Null, Value::Null, Value::Null)]);

    let request = request.memo("sleep", Value::Null);
    let r = s.call("step-test", &request).await;
    let second = json!({"first": "first step", "second": true});
    expect_ops(&r, vec![op("StepRun", "second step", "second step", Value::Null, second.clone(), Value::Null)]);

    let request = request.memo("second step", json!({"data": second}));
    let r = s.call("step-test", &request).await;
    expect_json(&r, 200, json!({"body": "ok", "name": "tests/step.test"}));
}

#[tokio::test]
async fn retry_basic_retries_a_failed_step_then_a_failed_function() {
    let s = sdk().await;
    let request =
        Request::new("tests/retry.test", json!({"steps": {"ok": "yes"}}), json!({"email": "test@example.com"}));

    let r = s.call("retry-test", &request).await;
    expect_ops(
        &r,
        vec![op("StepError", "first step", "first step", Value::Null, Value::Null, json!({"message": "broken"}))],
    );
    assert_eq!(r.header("x-inngest-no-retry"), Some("false"), "retried by the server");

    // The server retries the same item: attempt 1, still from the top.
    let r = s.call("retry-test", &request.clone().attempt(1)).await;
    expect_ops(&r, vec![op("StepRun", "first step", "first step", Value::Null, json!("yes: 2"), Value::Null)]);

    // The next item (attempt 0 again): the function fails, retriably.
    let request = request.memo("first step", json!({"data": "yes: 2"}));
    let r = s.call("retry-test", &request).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.header("x-inngest-no-retry"), Some("false"));
    let error = r.json();
    assert!(matches!(error["name"].as_str(), None | Some("") | Some("Error")), "{error}");
    assert_eq!(error["message"], "broken func");

    let r = s.call("retry-test", &request.attempt(1)).await;
    expect_json(&r, 200, json!({"body": "ok", "name": "tests/retry.test"}));
    assert_eq!((RETRY_STEP_RUNS.load(Ordering::SeqCst), RETRY_FN_RUNS.load(Ordering::SeqCst)), (2, 2));
}

// ---- core: cancel-basic, wait-for-event-basic --------------------------------------------------

#[tokio::test]
async fn cancel_basic_sleeps_and_a_matching_cancel_event_ends_the_run_before_it_wakes() {
    // The SDK's part, as the case checks it: the sleep is asked for.
    let s = sdk().await;
    let data = json!({"request_id": "123", "whatever": "this doesn't matter my friend"});
    let r = s.call("cancel-test", &Request::new("tests/cancel.test", data.clone(), json!({}))).await;
    expect_ops(&r, vec![op("Sleep", "sleep", "10s", Value::Null, Value::Null, Value::Null)]);

    // The server's part, with hookflow's executor as the server: a cancel event for another
    // request leaves the run asleep; the matching one cancels it, and after the sleep's end
    // no call request comes (the step after the sleep never runs).
    let dev = Dev::start().await;
    dev.sync(&s).await;
    dev.send(json!({"name": "tests/cancel.test", "data": data})).await;
    dev.wait_for("test-suite-cancel-test", RunStatus::Sleeping).await;
    dev.send(json!({"name": "cancel/please", "data": {"request_id": "456"}})).await;
    dev.engine.settle().await;
    assert_eq!(dev.run_of("test-suite-cancel-test").await.status, RunStatus::Sleeping, "not this run's request");
    dev.send(json!({"name": "cancel/please", "data": {"request_id": "123"}})).await;
    dev.wait_for("test-suite-cancel-test", RunStatus::Cancelled).await;
    dev.clock.advance(Duration::from_secs(11));
    dev.engine.settle().await;
    assert_eq!(dev.run_of("test-suite-cancel-test").await.status, RunStatus::Cancelled);
    assert_eq!(AFTER_SLEEP.load(Ordering::SeqCst), 0, "no request after the cancel");
}

#[tokio::test]
async fn wait_for_event_basic_waits_then_returns_the_matching_event_s_data() {
    let s = sdk().await;
    let request = Request::new("tests/wait.test", json!({"id": "123"}), json!({}));
    assert_eq!(hash_step_id("wait"), "daaad336276d15594d0e765f96c17cd746bf4971");
    let r = s.call("wait-for-event", &request).await;
    let opts = json!({
        "event": "test/resume",
        "if": "async.data.resume == true && async.data.id == event.data.id",
        "timeout": "10s",
    });
    expect_ops(&r, vec![op("WaitForEvent", "wait", "wait", opts, Value::Null, Value::Null)]);

    // The server memoizes the matching event whole (not under `data`).
    let resume = json!({
        "id": "resume", "name": "test/resume", "data": {"id": "123", "resume": true},
        "ts": 1_700_000_001_000i64, "user": {},
    });
    let r = s.call("wait-for-event", &request.clone().memo("wait", resume)).await;
    expect_json(&r, 200, json!({"result": {"id": "123", "resume": true}}));
    // And `null` when the wait timed out.
    let r = s.call("wait-for-event", &request.memo("wait", Value::Null)).await;
    expect_json(&r, 200, json!({}));

    // End to end with hookflow's executor as the server: an event that does not match is
    // ignored, the matching one resumes the run.
    let dev = Dev::start().await;
    dev.sync(&s).await;
    dev.send(json!({"name": "tests/wait.test", "data": {"id": "123"}})).await;
    dev.wait_for("test-suite-wait-for-event", RunStatus::Waiting).await;
    dev.send(json!({"name": "test/resume", "data": {"id": "ignored"}})).await;
    dev.engine.settle().await;
    assert_eq!(dev.run_of("test-suite-wait-for-event").await.status, RunStatus::Waiting);
    dev.send(json!({"id": "resume", "name": "test/resume", "data": {"id": "123", "resume": true}})).await;
    let done = dev.wait_for("test-suite-wait-for-event", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!({"result": {"id": "123", "resume": true}})));
}

// ---- negative: malformed-payload, invalid-auth -------------------------------------------------

#[tokio::test]
async fn malformed_payloads_get_a_stable_4xx_run_nothing_and_leave_the_handler_healthy() {
    let s = sdk().await;
    let post = |query: String, body: Vec<u8>| {
        let headers = vec![("content-type", "application/json".to_owned()), ("x-inngest-signature", sign(KEY, &body))];
        let url = s.url.clone();
        let http = s.http.clone();
        async move {
            let mut request = http.post(format!("{url}{query}"));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.body(body).send().await.expect("answers");
            Answer {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                bytes: response.bytes().await.expect("body").to_vec(),
            }
        }
    };
    let good = Request::new("tests/typed.test", json!({"order_id": "o-1", "amount": 5}), json!({}));
    let typed_query = || format!("?fnId={APP}-typed&stepId=step");
    let with_event = |data: Value| Request::new("tests/typed.test", data, json!({})).body();
    let with_ctx = |ctx: Value| {
        json!({"event": good.event, "events": [good.event], "steps": {}, "ctx": ctx}).to_string().into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"{\"event\": ".to_vec()),
        ("a JSON array", b"[1, 2]".to_vec()),
        ("no ctx", json!({"event": good.event, "steps": {}}).to_string().into_bytes()),
        (
            "an event name that is a number",
            json!({"event": {"name": 7, "data": {}}, "steps": {}, "ctx": {}}).to_string().into_bytes(),
        ),
        ("steps that are a list", json!({"event": good.event, "steps": [1], "ctx": {}}).to_string().into_bytes()),
        ("a negative attempt", with_ctx(json!({"attempt": -1}))),
        ("an attempt that is text", with_ctx(json!({"attempt": "one"}))),
        ("a stack that is not a stack", with_ctx(json!({"stack": "abc"}))),
        ("event data of the wrong types", with_event(json!({"order_id": 5, "amount": "five"}))),
        ("event data missing a field", with_event(json!({"order_id": "o-1"}))),
    ];
    for (why, body) in cases {
        let r = post(typed_query(), body).await;
        assert!((400..500).contains(&r.status), "{why}: {}", r.text());
        let answer = r.json();
        let message = answer["error"].as_str().or_else(|| answer["message"].as_str()).unwrap_or("");
        assert!(!message.is_empty(), "{why}: the answer says what was wrong: {answer}");
        assert!(r.header("x-inngest-sdk").is_some(), "{why}: the SDK answered, it did not crash");
        if r.status == 400 && answer.get("status").is_some() {
            assert_eq!(answer["status"], 400, "{why}");
        }
        if let Some(no_retry) = r.header("x-inngest-no-retry") {
            assert_eq!(no_retry, "true", "{why}: bad input does not get better by retrying");
        }
    }
    assert_eq!(TYPED_RUNS.load(Ordering::SeqCst), 0, "nothing malformed ran the function");
    // An unknown function and a step the function never reaches (it runs from the top looking
    // for it, as every SDK does): clear answers, no crash.
    let r = post(format!("?fnId={APP}-nope&stepId=step"), good.body()).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap_or("").contains("test-suite-typed"), "names what it has: {}", r.text());
    let mut targeted = good.clone();
    targeted.step_id = "0000000000000000000000000000000000000000".into();
    let r = post(format!("?fnId={APP}-typed&stepId={}", targeted.step_id), targeted.body()).await;
    assert_eq!(r.status, 500, "{}", r.text());
    assert_eq!(r.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(r.json()["requestedStep"], targeted.step_id);
    // Still healthy; a replayed request answers the same.
    let first = post(typed_query(), good.body()).await;
    let again = post(typed_query(), good.body()).await;
    expect_json(&first, 200, json!({"order": "o-1", "amount": 5}));
    assert_eq!((again.status, again.json()), (first.status, first.json()), "a replay-like request answers alike");
}

/// A request of the invalid-auth case: method, query, extra headers, body.
type Attempt<'a> = (reqwest::Method, &'a str, Vec<(&'a str, String)>, Vec<u8>);

#[tokio::test]
async fn invalid_auth_is_refused_on_every_method_without_running_or_saying_who_answered() {
    let s = sdk().await;
    let request = Request::new("tests/function.test", json!({"test": true}), json!({}));
    let body = request.body();
    let stale = SigningKey::new(KEY).expect("key").sign(&body, now_secs() - 600);
    let other_body = Request::new("tests/function.test", json!({"test": false}), json!({})).body();
    let signatures: Vec<(&str, Option<String>)> = vec![
        ("unsigned", None),
        ("another key", Some(sign("signkey-test-deadbeefdeadbeef", &body))),
        ("expired", Some(stale)),
        ("from the future", Some(SigningKey::new(KEY).expect("key").sign(&body, now_secs() + 600))),
        ("over another body", Some(sign(KEY, &other_body))),
        ("malformed", Some("t=soon&s=zz".to_owned())),
        ("empty", Some(String::new())),
    ];
    let call = format!("?fnId={APP}-simple-fn&stepId=step");
    let sync_body = json!({"url": "http://127.0.0.1:7777/x"}).to_string().into_bytes();
    for (why, signature) in &signatures {
        let mut attempts: Vec<Attempt<'_>> = vec![
            (reqwest::Method::POST, call.as_str(), vec![], body.clone()),
            (reqwest::Method::POST, "?probe=trust", vec![], body.clone()),
            (reqwest::Method::GET, "", vec![], body.clone()),
            (reqwest::Method::PUT, "", vec![("x-inngest-sync-kind", "in_band".to_owned())], sync_body.clone()),
            (reqwest::Method::PUT, "", vec![], sync_body.clone()),
        ];
        for (method, query, headers, body) in attempts.drain(..) {
            let mut headers = headers;
            if let Some(signature) = signature {
                headers.push(("x-inngest-signature", signature.clone()));
            }
            let r = s.send(method.clone(), query, &headers, body).await;
            assert_eq!(r.status, 401, "{why} {method} {query}: {}", r.text());
            assert_eq!(r.json(), json!({"message": "Unauthorized"}), "{why} {method} {query}");
            assert_eq!(r.header("x-inngest-sdk"), None, "{why}: a 401 does not say who answered");
            assert_eq!(r.header("x-inngest-signature"), None, "{why}: nothing to sign for a stranger");
            assert_eq!(r.header("x-inngest-sdk-handled"), Some("true"));
        }
    }
    // Signed right, with either key: served.
    for key in [KEY, FALLBACK] {
        let headers = [("x-inngest-signature", sign(key, &body))];
        let r = s.send(reqwest::Method::POST, &call, &headers, body.clone()).await;
        expect_json(&r, 200, json!({"name": "tests/function.test", "body": "ok"}));
    }
}

// ---- security: secret-redaction (and env-nondisclosure) ----------------------------------------

#[tokio::test]
async fn no_answer_log_form_or_error_gives_away_a_key_or_the_process_environment() {
    let s = sdk().await;
    let mut answers = Vec::new();
    let signed = |body: &[u8]| vec![("x-inngest-signature", sign(KEY, body))];
    answers.push(s.send(reqwest::Method::GET, "", &signed(b""), Vec::new()).await);
    answers.push(s.send(reqwest::Method::GET, "", &[], Vec::new()).await);
    answers.push(s.sync_in_band("http://127.0.0.1:7777/x").await);
    let sync = json!({"url": "http://127.0.0.1:7777/x"}).to_string().into_bytes();
    answers.push(s.send(reqwest::Method::PUT, "", &signed(&sync), sync).await);
    for mode in ["plain", "panic"] {
        answers.push(s.call("leaky", &Request::new("tests/leaky.test", json!({"mode": mode}), json!({}))).await);
    }
    answers
        .push(s.send(reqwest::Method::POST, "?fnId=test-suite-leaky&stepId=step", &signed(b"{"), b"{".to_vec()).await);
    answers.push(s.send(reqwest::Method::POST, "?probe=trust", &signed(b""), Vec::new()).await);
    let panicked = &answers[5];
    assert!(String::from_utf8_lossy(&panicked.bytes).contains("the step blew up"), "{}", panicked.text());

    // The keys' secret parts, the event key, and every sizeable value of this process's
    // environment (paths, tokens, whatever the machine has) appear in no answer.
    let secret = |key: &str| key.rsplit('-').next().unwrap_or(key).to_owned();
    let mut secrets = vec![secret(KEY), secret(FALLBACK), EVENT_KEY.to_owned()];
    secrets.extend(std::env::vars().map(|(_, v)| v).filter(|v| v.len() >= 16));
    for answer in &answers {
        let text = answer.text();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "an answer gives away {secret:?}: {text}");
        }
    }
    // Nor what a log line would print of the configuration or the handler.
    let handler = ServeHandler::new(APP, s.config.clone(), &registry(), State::default()).expect("handler");
    for printed in [format!("{:?}", s.config), format!("{handler:?}"), format!("{:?}", s.config.signing_key)] {
        for secret in &secrets[..3] {
            assert!(!printed.contains(secret.as_str()), "Debug gives away {secret:?}: {printed}");
        }
    }
}

// ---- hookflow's executor as the server ---------------------------------------------------------

/// The executor, playing the server end to end.
struct Dev(Executor);

impl std::ops::Deref for Dev {
    type Target = Executor;
    fn deref(&self) -> &Executor {
        &self.0
    }
}

impl Dev {
    async fn start() -> Dev {
        Dev(Executor::start(1_700_000_000_000, Some(KEY)).await)
    }

    /// Syncs the app: the executor asks (a signed `PUT`); the app registers out of band with
    /// this executor, its API origin.
    async fn sync(&self, sdk: &Sdk) {
        let mut config = sdk.config.clone();
        config.api_origin = self.base.clone();
        config.event_origin = self.base.clone();
        let app = sdk_with(config).await;
        self.apps.sync(&app.url).await.expect("the app syncs with the executor");
    }

    async fn send(&self, event: Value) {
        self.0.send(&event).await;
    }
}
