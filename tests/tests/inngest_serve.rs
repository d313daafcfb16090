//! The serve handler over real HTTP, driven exactly as an Inngest server drives an SDK (requests
//! built per `reference/inngest-protocol.md`): introspection in dev and cloud modes, sync
//! (`PUT` → `POST /fn/register` on a recording server standing in for Inngest's), and call
//! requests for every op: memo replay, one new `step.run` executed at once, parallel steps
//! planned, targeted execution, sleeps, waits, invokes, step and function errors with the retry
//! headers, the function's result; and signatures: primary and fallback keys, the 5-minute
//! window, forged, unsigned, stale, malformed and oversized requests refused with clear 4xx.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use hookflow::prelude::*;
use hookflow::protocol::{InngestConfig, ServeHandler, SigningKey};
use hookflow::{hash_step_id, FunctionDef, Invoke, Registry, State, TestClock, WaitFor};
use serde_json::{json, Value};
use tokio::sync::Mutex;

const KEY: &str = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
const FALLBACK: &str = "signkey-test-00112233445566778899aabbccddeeff";
/// The test clock's start: 2023-11-14T22:13:20Z.
const START_MS: i64 = 1_700_000_000_000;
const T: i64 = START_MS / 1000;

// ---- the functions served ---------------------------------------------------------------------

static ONBOARD_A: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "onboard", name = "Onboard a user", event = "shop/user.created", retries = 2)]
async fn onboard(event: Event<Json>, step: Step) -> Result<Value> {
    let a: u64 = step
        .run("a", || async {
            ONBOARD_A.fetch_add(1, Ordering::SeqCst);
            Ok(1)
        })
        .await?;
    step.sleep("nap", "1h").await?;
    let approval = step
        .wait_for_event::<Json>(
            "approval",
            WaitFor::timeout("1d").event("shop/approved").if_expr("async.data.id == event.data.id"),
        )
        .await?;
    let doubled: u64 = step.invoke("double", Invoke::new(double::DEF, json!({"x": a}))?).await?;
    Ok(json!({"a": a, "approved": approval.is_some(), "doubled": doubled, "user": event.data["id"]}))
}

#[inngest_fn(id = "double", event = "shop/double")]
async fn double(event: Event<Json>) -> Result<u64> {
    Ok(event.data["x"].as_u64().unwrap_or(0) * 2)
}

static FAN_X: AtomicUsize = AtomicUsize::new(0);
static FAN_Y: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "fan", event = "shop/fan")]
async fn fan(_event: Event<Json>, step: Step) -> Result<Value> {
    let (x, y) = tokio::join!(
        step.run("x", || async {
            FAN_X.fetch_add(1, Ordering::SeqCst);
            Ok(10)
        }),
        step.run("y", || async {
            FAN_Y.fetch_add(1, Ordering::SeqCst);
            Ok(20)
        }),
    );
    let (x, y): (u64, u64) = (x?, y?);
    Ok(json!(x + y))
}

#[inngest_fn(id = "charge", event = "shop/charge", retries = 2)]
async fn charge(event: Event<Json>, step: Step) -> Result<Value> {
    let mode = event.data["mode"].as_str().unwrap_or("").to_owned();
    let receipt: String = step
        .run("charge-card", || async move {
            match mode.as_str() {
                "later" => Err(RetryAfter::new(Duration::from_secs(30), "the bank asks to come back later").into()),
                "never" => Err(NonRetriable::new("the card is stolen").into()),
                _ => Err(Error::msg("card declined")),
            }
        })
        .await?;
    Ok(json!(receipt))
}

#[inngest_fn(id = "boom", event = "shop/boom", retries = 1)]
async fn boom(event: Event<Json>) -> Result<Value> {
    match event.data["mode"].as_str() {
        Some("never") => Err(NonRetriable::new("never again").into()),
        _ => Err(Error::msg("boom")),
    }
}

#[inngest_fn(
    id = "limited",
    event = "shop/limited",
    event = "shop/other",
    retries = 7,
    concurrency(limit = 5, key = "event.data.id", scope = "env"),
    throttle(limit = 10, period = "1m", burst = 2, key = "event.data.id"),
    priority(run = "120"),
    cancel_on(event = "shop/cancelled", if = "event.data.id == async.data.id", timeout = "1d"),
    timeouts(start = "10m", finish = "1h")
)]
async fn limited(_event: Event<Json>) -> Result<()> {
    Ok(())
}

const DEFS: &[&FunctionDef] = &[onboard::DEF, double::DEF, fan::DEF, charge::DEF, boom::DEF, limited::DEF];

// ---- harness ----------------------------------------------------------------------------------

struct Served {
    /// The serve URL (`http://127.0.0.1:port/api/inngest`).
    url: String,
    http: reqwest::Client,
    clock: TestClock,
}

async fn serve(config: InngestConfig) -> Served {
    let mut registry = Registry::empty();
    for def in DEFS {
        registry.add(def).expect("distinct ids");
    }
    let clock = TestClock::new(START_MS);
    let handler = ServeHandler::new("shop", config, &registry, State::default())
        .expect("no conflicts")
        .with_clock(Arc::new(clock.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = handler.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Served { url: format!("http://{addr}/api/inngest"), http: reqwest::Client::new(), clock }
}

fn dev() -> InngestConfig {
    InngestConfig::dev("http://127.0.0.1:9")
}

fn cloud() -> InngestConfig {
    let mut config = InngestConfig::cloud("http://127.0.0.1:9", KEY);
    config.signing_key_fallback = SigningKey::new(FALLBACK);
    config.event_key = Some("evt-key".into());
    config
}

/// A call request body as the server sends it.
struct Call {
    event: Value,
    steps: Vec<(String, Value)>,
    step_id: String,
    attempt: u32,
    max_attempts: u32,
    plan: bool,
}

impl Call {
    fn new(name: &str, data: Value) -> Call {
        let event = json!({"name": name, "data": data, "id": "evt-1", "ts": START_MS, "user": {}});
        Call { event, steps: Vec::new(), step_id: "step".into(), attempt: 0, max_attempts: 3, plan: false }
    }

    /// A memoized step, by the user's id.
    fn memo(mut self, id: &str, value: Value) -> Call {
        self.steps.push((hash_step_id(id), value));
        self
    }

    fn target(mut self, id: &str) -> Call {
        self.step_id = hash_step_id(id);
        self
    }

    fn attempt(mut self, attempt: u32, max_attempts: u32) -> Call {
        self.attempt = attempt;
        self.max_attempts = max_attempts;
        self
    }

    fn body(&self) -> Vec<u8> {
        let steps: serde_json::Map<String, Value> = self.steps.iter().cloned().collect();
        let stack: Vec<&String> = self.steps.iter().map(|(h, _)| h).collect();
        json!({
            "event": self.event,
            "events": [self.event],
            "steps": steps,
            "ctx": {
                "fn_id": "5f1b8d0c-0000-4000-8000-000000000000",
                "run_id": "01HRUN0000000000000000000",
                "env": "",
                "step_id": self.step_id,
                "attempt": self.attempt,
                "max_attempts": self.max_attempts,
                "stack": {"stack": stack, "current": stack.len()},
                "disable_immediate_execution": self.plan,
                "use_api": false,
            },
            "version": 2,
            "use_api": false,
        })
        .to_string()
        .into_bytes()
    }
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ops of a 206, as `(op, name)` pairs.
    fn ops(&self) -> Vec<(String, String)> {
        assert_eq!(self.status, StatusCode::PARTIAL_CONTENT, "{:?}", self.json());
        let body = self.json();
        let ops = body.as_array().expect("a list of opcodes");
        ops.iter()
            .map(|op| (op["op"].as_str().unwrap_or("").to_owned(), op["name"].as_str().unwrap_or("").to_owned()))
            .collect()
    }
}

impl Served {
    async fn send(&self, method: reqwest::Method, query: &str, body: Vec<u8>, signature: Option<String>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{query}", self.url))
            .header("content-type", "application/json")
            .header("x-inngest-server-kind", "cloud");
        if let Some(signature) = signature {
            request = request.header("x-inngest-signature", signature);
        }
        let response = request.body(body).send().await.expect("the serve handler answers");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body").to_vec();
        Reply { status, headers, bytes }
    }

    /// A call request to function `fn_id` of app `shop`, signed with `key` at `t` when given.
    async fn call(&self, fn_id: &str, call: &Call, key: Option<(&str, i64)>) -> Reply {
        let body = call.body();
        let signature = key.map(|(k, t)| SigningKey::new(k).expect("key").sign(&body, t));
        let query = format!("?fnId=shop-{fn_id}&stepId={}", call.step_id);
        self.send(reqwest::Method::POST, &query, body, signature).await
    }
}

fn assert_sdk_headers(reply: &Reply) {
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("x-inngest-sdk"), Some(format!("hookflow:v{}", env!("CARGO_PKG_VERSION")).as_str()));
    assert_eq!(reply.header("x-inngest-req-version"), Some("2"));
    assert_eq!(reply.header("x-inngest-sdk-handled"), Some("true"));
}

// ---- call requests ----------------------------------------------------------------------------

#[tokio::test]
async fn a_run_goes_step_by_step_with_memoized_steps_replayed_not_run() {
    let s = serve(dev()).await;
    let data = json!({"id": "u1"});

    // Fresh run: the one new step.run executes at once and is reported.
    let r = s.call("onboard", &Call::new("shop/user.created", data.clone()), None).await;
    assert_sdk_headers(&r);
    assert_eq!(r.ops(), vec![("StepRun".to_owned(), "a".to_owned())]);
    let op = &r.json()[0];
    assert_eq!((op["id"].as_str(), &op["data"]), (Some(hash_step_id("a").as_str()), &json!(1)));
    assert_eq!(op["displayName"], "a");
    assert_eq!(r.header("x-inngest-no-retry"), None, "no retry header without an error");
    assert_eq!(ONBOARD_A.load(Ordering::SeqCst), 1);

    // With a memoized: the sleep is asked for; a is not run again.
    let call = Call::new("shop/user.created", data.clone()).memo("a", json!({"data": 1}));
    let r = s.call("onboard", &call, None).await;
    assert_eq!(r.ops(), vec![("Sleep".to_owned(), "nap".to_owned())]);
    assert_eq!(r.json()[0]["opts"], json!({"duration": "1h"}));
    assert_eq!(ONBOARD_A.load(Ordering::SeqCst), 1, "a memoized step never runs again");

    // The sleep ended (memo null): the wait is asked for, with its condition.
    let call = call.memo("nap", Value::Null);
    let r = s.call("onboard", &call, None).await;
    assert_eq!(r.ops(), vec![("WaitForEvent".to_owned(), "approval".to_owned())]);
    assert_eq!(
        r.json()[0]["opts"],
        json!({"event": "shop/approved", "timeout": "1d", "if": "async.data.id == event.data.id"})
    );

    // The wait matched (memo: the event, whole): the invoke names the function by its composite id.
    let approved = json!({"name": "shop/approved", "data": {"id": "u1"}, "id": "evt-2", "ts": START_MS, "user": {}});
    let call = call.memo("approval", approved);
    let r = s.call("onboard", &call, None).await;
    assert_eq!(r.ops(), vec![("InvokeFunction".to_owned(), "double".to_owned())]);
    assert_eq!(
        r.json()[0]["opts"],
        json!({"function_id": "shop-double", "payload": {"data": {"x": 1}}, "timeout": "366d"})
    );

    // The invoked function's result arrived: the function returns, a 200 with its value.
    let call = call.memo("double", json!({"data": 2}));
    let r = s.call("onboard", &call, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_sdk_headers(&r);
    assert_eq!(r.json(), json!({"a": 1, "approved": true, "doubled": 2, "user": "u1"}));
    assert_eq!(ONBOARD_A.load(Ordering::SeqCst), 1);

    // A wait that timed out (memo null) reaches the function as `None`.
    let timed_out = Call::new("shop/user.created", data)
        .memo("a", json!({"data": 1}))
        .memo("nap", Value::Null)
        .memo("approval", Value::Null)
        .memo("double", json!({"data": 2}));
    let r = s.call("onboard", &timed_out, None).await;
    assert_eq!(r.json()["approved"], false);
}

#[tokio::test]
async fn parallel_steps_are_planned_then_executed_one_by_one_by_targeted_requests() {
    let s = serve(dev()).await;
    let r = s.call("fan", &Call::new("shop/fan", json!({})), None).await;
    assert_eq!(r.ops(), vec![("StepPlanned".to_owned(), "x".to_owned()), ("StepPlanned".to_owned(), "y".to_owned())]);
    assert_eq!(r.json()[0]["opts"], json!({"type": "step.run"}));
    assert_eq!((FAN_X.load(Ordering::SeqCst), FAN_Y.load(Ordering::SeqCst)), (0, 0), "planned steps do not run");

    // stepId = y's hash: only y runs and only y is reported.
    let r = s.call("fan", &Call::new("shop/fan", json!({})).target("y"), None).await;
    assert_eq!(r.ops(), vec![("StepRun".to_owned(), "y".to_owned())]);
    assert_eq!(r.json()[0]["data"], 20);
    assert_eq!((FAN_X.load(Ordering::SeqCst), FAN_Y.load(Ordering::SeqCst)), (0, 1));

    // Then x, with y memoized.
    let call = Call::new("shop/fan", json!({})).memo("y", json!({"data": 20})).target("x");
    let r = s.call("fan", &call, None).await;
    assert_eq!(r.ops(), vec![("StepRun".to_owned(), "x".to_owned())]);
    assert_eq!((FAN_X.load(Ordering::SeqCst), FAN_Y.load(Ordering::SeqCst)), (1, 1));

    // Both memoized: the function returns.
    let call = Call::new("shop/fan", json!({})).memo("y", json!({"data": 20})).memo("x", json!({"data": 10}));
    let r = s.call("fan", &call, None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!(30)));

    // A step the function never reaches: 500, retried, naming the step.
    let r = s.call("fan", &Call::new("shop/fan", json!({})).target("nope"), None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(r.json()["requestedStep"], hash_step_id("nope"));

    // Under disable_immediate_execution even a lone new step is planned, not run.
    let mut call = Call::new("shop/user.created", json!({"id": "u9"}));
    call.plan = true;
    let before = ONBOARD_A.load(Ordering::SeqCst);
    let r = s.call("onboard", &call, None).await;
    assert_eq!(r.ops(), vec![("StepPlanned".to_owned(), "a".to_owned())]);
    assert_eq!(ONBOARD_A.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn step_errors_are_retried_until_the_last_attempt_then_fail_the_function() {
    let s = serve(dev()).await;
    let declined = Call::new("shop/charge", json!({"mode": "declined"}));

    let r = s.call("charge", &declined.attempt(0, 3), None).await;
    assert_eq!(r.ops(), vec![("StepError".to_owned(), "charge-card".to_owned())]);
    assert_eq!(r.header("x-inngest-no-retry"), Some("false"));
    assert_eq!(r.header("retry-after"), None, "the server's back-off applies");
    assert_eq!(r.json()[0]["error"]["message"], "card declined");

    // The last attempt (ctx.attempt = max_attempts - 1): the step fails for good.
    let declined = Call::new("shop/charge", json!({"mode": "declined"}));
    let r = s.call("charge", &declined.attempt(2, 3), None).await;
    assert_eq!(r.ops(), vec![("StepFailed".to_owned(), "charge-card".to_owned())]);
    assert_eq!(r.header("x-inngest-no-retry"), Some("true"));

    // A RetryAfter error says when.
    let later = Call::new("shop/charge", json!({"mode": "later"}));
    let r = s.call("charge", &later, None).await;
    assert_eq!(r.ops()[0].0, "StepError");
    assert_eq!((r.header("x-inngest-no-retry"), r.header("retry-after")), (Some("false"), Some("30")));

    // A NonRetriable error fails the step at once.
    let r = s.call("charge", &Call::new("shop/charge", json!({"mode": "never"})), None).await;
    assert_eq!(r.ops()[0].0, "StepFailed");
    assert_eq!(r.header("x-inngest-no-retry"), Some("true"));

    // The failed step's memo raises at its call site; uncaught, the function fails for good.
    let failed = Call::new("shop/charge", json!({}))
        .memo("charge-card", json!({"error": {"name": "Error", "message": "card declined"}}));
    let r = s.call("charge", &failed, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.header("x-inngest-no-retry"), Some("true"));
    assert!(r.json()["message"].as_str().unwrap_or("").contains("card declined"), "{:?}", r.json());
}

#[tokio::test]
async fn function_errors_are_500_to_retry_and_400_not_to() {
    let s = serve(dev()).await;
    let r = s.call("boom", &Call::new("shop/boom", json!({})).attempt(0, 2), None).await;
    assert_eq!((r.status, r.header("x-inngest-no-retry")), (StatusCode::INTERNAL_SERVER_ERROR, Some("false")));
    assert_eq!(r.json(), json!({"name": "Error", "message": "boom"}));
    let r = s.call("boom", &Call::new("shop/boom", json!({})).attempt(1, 2), None).await;
    assert_eq!((r.status, r.header("x-inngest-no-retry")), (StatusCode::BAD_REQUEST, Some("true")), "last attempt");
    let r = s.call("boom", &Call::new("shop/boom", json!({"mode": "never"})), None).await;
    assert_eq!((r.status, r.header("x-inngest-no-retry")), (StatusCode::BAD_REQUEST, Some("true")));
    assert_eq!(r.json()["message"], "never again");
}

#[tokio::test]
async fn bad_call_requests_get_clear_4xx_and_run_nothing() {
    let s = serve(dev()).await;
    let before = ONBOARD_A.load(Ordering::SeqCst);
    let post = |query: &'static str, body: &[u8]| s.send(reqwest::Method::POST, query, body.to_vec(), None);

    let r = post("?stepId=step", b"{}").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap_or("").contains("fnId"), "{:?}", r.json());
    assert_eq!(r.json()["status"], 400);

    let r = post("?fnId=shop-nope&stepId=step", &Call::new("x", json!({})).body()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["error"].as_str().unwrap_or("").contains("shop-onboard"), "lists the functions: {:?}", r.json());

    for body in [&b"not json"[..], b"[]", br#"{"event": {}}"#, br#"{"ctx": {}, "event": {"name": 5}}"#] {
        let r = post("?fnId=shop-onboard&stepId=step", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(r.json()["status"], 400);
        assert_sdk_headers(&r);
    }

    let r = post("?probe=nope", b"").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post("?probe=trust", b"").await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})), "dev mode trusts");

    let r = s.send(reqwest::Method::DELETE, "", Vec::new(), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["status"], 405);

    // Larger than any call request the server sends (it switches to use_api above 4 MiB).
    let huge = vec![b' '; 17 * 1024 * 1024];
    let r = post("?fnId=shop-onboard&stepId=step", &huge).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["error"].is_string(), "{:?}", r.json());

    assert_eq!(ONBOARD_A.load(Ordering::SeqCst), before, "nothing ran");
}

// ---- introspection and signatures -------------------------------------------------------------

#[tokio::test]
async fn introspection_in_dev_mode_is_open_and_says_little() {
    let s = serve(dev()).await;
    let r = s.send(reqwest::Method::GET, "", Vec::new(), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_sdk_headers(&r);
    assert_eq!(
        r.json(),
        json!({
            "schema_version": "2024-05-24",
            "mode": "dev",
            "authentication_succeeded": null,
            "function_count": DEFS.len(),
            "has_event_key": false,
            "has_signing_key": false,
            "has_signing_key_fallback": false,
        })
    );
}

#[tokio::test]
async fn cloud_mode_introspection_needs_a_signature_and_then_says_everything_signed() {
    let s = serve(cloud()).await;
    let r = s.send(reqwest::Method::GET, "", Vec::new(), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json(), json!({"message": "Unauthorized"}));
    assert_eq!(r.header("x-inngest-sdk"), None, "a 401 does not say who answered");
    assert_eq!(r.header("x-inngest-sdk-handled"), Some("true"));

    let signed = SigningKey::new(KEY).expect("key").sign(b"", T);
    let r = s.send(reqwest::Method::GET, "", Vec::new(), Some(signed)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["authentication_succeeded"], true);
    assert_eq!(body["mode"], "cloud");
    assert_eq!(body["app_id"], "shop");
    assert_eq!(body["sdk_language"], "rust");
    assert_eq!(body["framework"], "axum");
    assert_eq!(body["has_signing_key_fallback"], true);
    assert_eq!(body["signing_key_hash"], SigningKey::new(KEY).expect("key").bearer());
    assert_eq!(body["event_key_hash"], sha256_hex("evt-key"));
    let keys = body.as_object().expect("object").keys().cloned().collect::<Vec<_>>();
    for key in ["api_origin", "event_api_origin", "env", "sdk_version", "serve_origin", "serve_path", "capabilities"] {
        assert!(keys.contains(&key.to_owned()), "{key} in {keys:?}");
    }
    assert!(!r.bytes.windows(8).any(|w| w == b"8ee2262a"), "the key itself never leaves");
    // The answer is signed with the key that verified the request.
    let signature = r.header("x-inngest-signature").expect("signed answer");
    assert_eq!(signature, SigningKey::new(KEY).expect("key").sign(&r.bytes, T));
}

fn sha256_hex(text: &str) -> String {
    hookflow::protocol::signing::event_key_hash(text)
}

#[tokio::test]
async fn cloud_mode_calls_are_verified_with_either_key_within_five_minutes() {
    let s = serve(cloud()).await;
    let call = Call::new("shop/fan", json!({}));

    // Signed with the fallback key: served, and the answer signed with the fallback key.
    let r = s.call("fan", &call, Some((FALLBACK, T - 120))).await;
    assert_eq!(r.ops().len(), 2);
    let signature = r.header("x-inngest-signature").expect("signed answer");
    assert_eq!(signature, SigningKey::new(FALLBACK).expect("key").sign(&r.bytes, T));
    let r = s.call("fan", &call, Some((KEY, T + 299))).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "a clock up to 5 minutes ahead is fine");

    let refused = |r: &Reply, why: &str| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(r.json(), json!({"message": "Unauthorized"}), "{why}");
        assert_eq!(r.header("x-inngest-sdk"), None, "{why}");
    };
    let before = (FAN_X.load(Ordering::SeqCst), ONBOARD_A.load(Ordering::SeqCst));
    refused(&s.call("fan", &call, None).await, "unsigned");
    refused(&s.call("fan", &call, Some(("signkey-test-deadbeef", T))).await, "forged: another key");
    refused(&s.call("fan", &call, Some((KEY, T - 301))).await, "stale");
    refused(&s.call("fan", &call, Some((KEY, T + 301))).await, "from the future");
    let body = call.body();
    for header in ["t=abc&s=00", "garbage", "s=0684191800bc1d620b528217863af4752e2d4e5f603f26cb4aed6b2a6bc65acd"] {
        let r = s.send(reqwest::Method::POST, "?fnId=shop-fan&stepId=step", body.clone(), Some(header.into())).await;
        refused(&r, header);
    }
    // Signed, then altered: the MAC covers the body.
    let signature = SigningKey::new(KEY).expect("key").sign(&body, T);
    let altered = Call::new("shop/user.created", json!({"id": "evil"})).body();
    let r = s.send(reqwest::Method::POST, "?fnId=shop-onboard&stepId=step", altered, Some(signature)).await;
    refused(&r, "altered body");
    // The trust probe and the sync too.
    refused(&s.send(reqwest::Method::POST, "?probe=trust", Vec::new(), None).await, "unsigned probe");
    refused(&s.send(reqwest::Method::PUT, "", b"{}".to_vec(), None).await, "unsigned sync");
    assert_eq!(before, (FAN_X.load(Ordering::SeqCst), ONBOARD_A.load(Ordering::SeqCst)), "nothing ran");

    // A signed trust probe: 200 {} signed.
    let probe = SigningKey::new(KEY).expect("key").sign(b"", T);
    let r = s.send(reqwest::Method::POST, "?probe=trust", Vec::new(), Some(probe)).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({})));
    assert_eq!(r.header("x-inngest-signature"), Some(SigningKey::new(KEY).expect("key").sign(b"{}", T).as_str()));

    // Time passes: the same signature is now stale.
    s.clock.advance(Duration::from_secs(400));
    refused(&s.call("fan", &call, Some((KEY, T))).await, "stale after the clock moved");
}

// ---- sync -------------------------------------------------------------------------------------

/// A recording stand-in for the Inngest server's `/fn/register`: it answers with `answer`.
#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<(Uri, HeaderMap, Value)>>>,
    answer: Arc<(u16, Value)>,
}

async fn recorder(status: u16, answer: Value) -> (String, Recorder) {
    let recorder = Recorder { seen: Arc::default(), answer: Arc::new((status, answer)) };
    async fn register(
        AxumState(r): AxumState<Recorder>,
        uri: Uri,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        let value = serde_json::from_str(&body).unwrap_or(Value::Null);
        r.seen.lock().await.push((uri, headers, value));
        (StatusCode::from_u16(r.answer.0).unwrap_or(StatusCode::OK), r.answer.1.to_string())
    }
    let app = Router::new().route("/fn/register", post(register)).with_state(recorder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), recorder)
}

#[tokio::test]
async fn sync_registers_every_function_in_the_server_s_field_names() {
    let (origin, rec) = recorder(200, json!({"ok": true, "modified": true, "sync_id": "s", "app_id": "a"})).await;
    let s = serve(InngestConfig::dev(&origin)).await;
    let put = json!({"url": s.url}).to_string().into_bytes();
    let mut request = s.http.put(format!("{}?deployId=d-1", s.url)).header("x-inngest-server-kind", "dev");
    request = request.header("content-type", "application/json").body(put);
    let response = request.send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get("x-inngest-sync-kind").and_then(|v| v.to_str().ok()), Some("out_of_band"));
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer, json!({"message": "Successfully synced.", "modified": true}));

    let seen = rec.seen.lock().await;
    let (uri, headers, body) = seen.first().expect("registered");
    assert_eq!(uri.query(), Some("deployId=d-1"), "deployId is forwarded");
    assert_eq!(headers.get("x-inngest-expected-server-kind").and_then(|v| v.to_str().ok()), Some("dev"));
    assert!(headers.get("authorization").is_none(), "dev mode without a key sends no token");
    assert_eq!(body["appName"], "shop");
    assert_eq!(body["url"], s.url, "the advertised URL never carries deployId");
    assert_eq!(body["deployType"], "ping");
    assert!(body["sdk"].as_str().unwrap_or("").starts_with("rust:v"));
    let functions = body["functions"].as_array().expect("functions");
    assert_eq!(functions.len(), DEFS.len());
    let by_id =
        |id: &str| functions.iter().find(|f| f["id"] == id).cloned().unwrap_or_else(|| panic!("{id} in {functions:?}"));
    let onboard = by_id("shop-onboard");
    assert_eq!(onboard["name"], "Onboard a user");
    assert_eq!(onboard["triggers"], json!([{"event": "shop/user.created"}]));
    assert_eq!(
        onboard["steps"],
        json!({"step": {
            "id": "step", "name": "step",
            "runtime": {"type": "http", "url": format!("{}?fnId=shop-onboard&stepId=step", s.url)},
            "retries": {"attempts": 2},
        }})
    );
    assert_eq!(by_id("shop-double")["name"], "double", "the name defaults to the id");
    let limited = by_id("shop-limited");
    assert_eq!(limited["triggers"], json!([{"event": "shop/limited"}, {"event": "shop/other"}]));
    assert_eq!(limited["steps"]["step"]["retries"], json!({"attempts": 7}));
    assert_eq!(limited["concurrency"], json!([{"limit": 5, "key": "event.data.id", "scope": "env"}]));
    assert_eq!(limited["throttle"], json!({"limit": 10, "period": "1m", "burst": 2, "key": "event.data.id"}));
    assert_eq!(limited.get("rateLimit"), None, "what is not set is not sent");
    assert_eq!(limited["priority"], json!({"run": "120"}));
    assert_eq!(
        limited["cancel"],
        json!([{"event": "shop/cancelled", "if": "event.data.id == async.data.id", "timeout": "1d"}])
    );
    assert_eq!(limited["timeouts"], json!({"start": "10m", "finish": "1h"}));
}

#[tokio::test]
async fn a_refused_sync_is_a_500_with_the_server_s_reason_and_cloud_sync_carries_the_hashed_key() {
    let (origin, _) = recorder(400, json!({"error": "wrong server kind"})).await;
    let s = serve(InngestConfig::dev(&origin)).await;
    let r = s.send(reqwest::Method::PUT, "", json!({"url": s.url}).to_string().into_bytes(), None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.json()["modified"], false);
    assert!(r.json()["message"].as_str().unwrap_or("").contains("wrong server kind"), "{:?}", r.json());

    let (origin, rec) = recorder(200, json!({"ok": true, "modified": false})).await;
    let mut config = cloud();
    config.api_origin = origin;
    let s = serve(config).await;
    let body = json!({"url": s.url}).to_string().into_bytes();
    let signature = SigningKey::new(KEY).expect("key").sign(&body, T);
    let r = s.send(reqwest::Method::PUT, "", body, Some(signature)).await;
    assert_eq!((r.status, r.json()["modified"].clone()), (StatusCode::OK, json!(false)));
    let seen = rec.seen.lock().await;
    let auth = seen[0].1.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(auth, Some(format!("Bearer {}", SigningKey::new(KEY).expect("key").bearer())));
}
