//! Both sides of the Inngest protocol against each other over loopback HTTP: hookflow's serve
//! handler serves Rust functions as app `shop`; hookflow's executor (the engine behind
//! `hookflow dev`) syncs it and runs them as remote functions, on the test clock. Every op
//! crosses the wire: steps run one per request, memoized steps replayed, a sleep, a wait, an
//! invoke of another function of the app, parallel steps planned then executed by targeted
//! requests, and a step that fails every attempt until the function fails for good. The call
//! requests the executor sends are recorded, to check their memos have the server's shapes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::protocol::{InngestConfig, ServeHandler, SigningKey};
use hookflow::store::{Memo, RunQuery, RunRecord, RunStatus, StepKind};
use hookflow::{Invoke, Registry, State, WaitFor};
use hookflow_tests::executor::{serve_app, Executor};
use serde_json::{json, Value};

const START_MS: i64 = 1_700_000_000_000;

static WELCOMES: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "onboard", event = "shop/user.created")]
async fn onboard(_event: Event<Json>, step: Step) -> Result<Value> {
    let welcome: String = step
        .run("welcome", || async {
            WELCOMES.fetch_add(1, Ordering::SeqCst);
            Ok("sent".to_owned())
        })
        .await?;
    step.sleep("nap", "1h").await?;
    let approval = step
        .wait_for_event::<Json>(
            "approval",
            WaitFor::timeout("1d").event("shop/approved").if_expr("async.data.id == event.data.id"),
        )
        .await?;
    let doubled: u64 = step.invoke("double", Invoke::new(double::DEF, json!({"x": 21}))?).await?;
    Ok(json!({"welcome": welcome, "by": approval.map(|e| e.data["by"].clone()), "doubled": doubled}))
}

#[inngest_fn(id = "double", event = "shop/double")]
async fn double(event: Event<Json>) -> Result<u64> {
    Ok(event.data["x"].as_u64().unwrap_or(0) * 2)
}

#[inngest_fn(id = "fan", event = "shop/fan")]
async fn fan(_event: Event<Json>, step: Step) -> Result<Value> {
    let (x, y) = tokio::join!(step.run("x", || async { Ok(10) }), step.run("y", || async { Ok(20) }));
    let (x, y): (u64, u64) = (x?, y?);
    let sum: u64 = step.run("sum", || async move { Ok(x + y) }).await?;
    Ok(json!(sum))
}

static CHARGES: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "charge", event = "shop/charge", retries = 2)]
async fn charge(_event: Event<Json>, step: Step) -> Result<Value> {
    let receipt: String = step
        .run("charge-card", || async {
            CHARGES.fetch_add(1, Ordering::SeqCst);
            Err(Error::msg("card declined"))
        })
        .await?;
    Ok(json!(receipt))
}

/// A sleep, a wait an event resolves and a wait that times out: their memos on the wire.
#[inngest_fn(id = "remind", event = "shop/remind")]
async fn remind(_event: Event<Json>, step: Step) -> Result<Value> {
    let first: String = step.run("first", || async { Ok("done".to_owned()) }).await?;
    step.sleep("pause", "1m").await?;
    let seen = step.wait_for_event::<Json>("seen", WaitFor::timeout("1h").event("shop/seen")).await?;
    let late = step.wait_for_event::<Json>("late", WaitFor::timeout("1m").event("shop/never")).await?;
    Ok(json!({"first": first, "seen": seen.map(|e| e.data), "late": late.is_some()}))
}

struct Loopback {
    dev: Executor,
    /// The body of every call request the serve handler got, in order.
    requests: Arc<Mutex<Vec<Value>>>,
}

impl std::ops::Deref for Loopback {
    type Target = Executor;
    fn deref(&self) -> &Executor {
        &self.dev
    }
}

/// Keeps the JSON body of every POST (a call request) before the serve handler reads it.
async fn record(
    axum::extract::State(requests): axum::extract::State<Arc<Mutex<Vec<Value>>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20).await.expect("a readable body");
    if parts.method == axum::http::Method::POST {
        if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
            requests.lock().expect("not poisoned").push(body);
        }
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

const KEY: &str = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

/// Dev mode (nothing signed), or with a signing key shared by both sides, as a self-hosted
/// `inngest start` and an app in cloud mode: every call request and sync is then signed and
/// verified, and registration carries the hashed key.
async fn loopback() -> Loopback {
    loopback_with(None).await
}

async fn loopback_with(key: Option<&str>) -> Loopback {
    let dev = Executor::start(START_MS, key).await;
    dev.engine.dispatcher().set_retry_interval(Some(Duration::from_secs(1)));
    let dev_origin = dev.base.clone();

    let mut registry = Registry::empty();
    for def in [onboard::DEF, double::DEF, fan::DEF, charge::DEF, remind::DEF] {
        registry.add(def).expect("distinct");
    }
    let config = match key {
        Some(key) => InngestConfig::cloud(&dev_origin, key),
        None => InngestConfig::dev(&dev_origin),
    };
    // On the wall clock, as in production: signatures are checked across processes, so the
    // executor signs with the wall clock whatever clock its engine runs on.
    let handler = ServeHandler::new("shop", config, &registry, State::default()).expect("no conflicts");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let serve_url =
        serve_app(handler.router().layer(axum::middleware::from_fn_with_state(requests.clone(), record))).await;

    dev.apps.sync(&serve_url).await.expect("the serve handler syncs with the executor");
    let mut ids: Vec<String> = dev.engine.functions().iter().map(|s| s.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["shop-charge", "shop-double", "shop-fan", "shop-onboard", "shop-remind"], "composite ids");
    Loopback { dev, requests }
}

impl Loopback {
    async fn send(&self, name: &str, data: Value) {
        self.engine.send([hookflow::RawEvent::new(name, data)]).await.expect("sent");
    }

    async fn steps(&self, run: &RunRecord) -> Vec<(String, StepKind, Memo)> {
        let journal = self.engine.store().journal(&run.id).await.expect("journal");
        journal.into_iter().map(|s| (s.name, s.kind, s.memo)).collect()
    }
}

#[tokio::test]
async fn steps_sleeps_waits_and_invokes_cross_the_wire_both_ways() {
    let l = loopback().await;
    l.send("shop/user.created", json!({"id": "u1"})).await;
    l.wait_for("shop-onboard", RunStatus::Sleeping).await;
    l.clock.advance(Duration::from_secs(3600));
    l.wait_for("shop-onboard", RunStatus::Waiting).await;
    l.send("shop/approved", json!({"id": "u1", "by": "ada"})).await;
    let done = l.wait_for("shop-onboard", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!({"welcome": "sent", "by": "ada", "doubled": 42})));
    assert_eq!(WELCOMES.load(Ordering::SeqCst), 1, "the memoized step ran once across five requests");
    // By hash, as both sides compute it. (The engine records an invoke's result without its
    // step's name, in-process as here.)
    let journal = l.engine.store().journal(&done.id).await.expect("journal");
    let steps: Vec<(String, StepKind)> = journal.iter().map(|s| (s.hash.clone(), s.kind)).collect();
    let expected = [
        ("welcome", StepKind::Run),
        ("nap", StepKind::Sleep),
        ("approval", StepKind::Wait),
        ("double", StepKind::Invoke),
    ];
    assert_eq!(steps, expected.map(|(id, k)| (hookflow::hash_step_id(id), k)).to_vec());
    assert_eq!(journal[3].memo, Memo::Data(json!(42)), "the invoked function's result");
    let child = l.run_of("shop-double").await;
    assert_eq!((child.status, child.output), (RunStatus::Completed, Some(json!(42))), "the invoked run");
}

#[tokio::test]
async fn memos_go_out_as_the_server_sends_them_a_sleep_null_a_wait_the_bare_event() {
    let l = loopback().await;
    l.send("shop/remind", json!({})).await;
    l.wait_for("shop-remind", RunStatus::Sleeping).await;
    l.clock.advance(Duration::from_secs(60));
    l.wait_for("shop-remind", RunStatus::Waiting).await;
    l.send("shop/seen", json!({"by": "ada"})).await;
    l.engine.settle().await;
    l.clock.advance(Duration::from_secs(60));
    let done = l.wait_for("shop-remind", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!({"first": "done", "seen": {"by": "ada"}, "late": false})));

    let requests = l.requests.lock().expect("not poisoned").clone();
    let last = requests.iter().rev().find(|r| r["ctx"]["run_id"] == json!(done.id)).expect("a call request of the run");
    let memo =
        |id: &str| last["steps"].get(hookflow::hash_step_id(id)).cloned().unwrap_or_else(|| panic!("{id} in {last}"));
    assert_eq!(memo("first"), json!({"data": "done"}), "a step's value is wrapped");
    assert_eq!(memo("pause"), Value::Null, "a finished sleep is null, not {{\"data\": null}}");
    let seen = memo("seen");
    assert_eq!((&seen["name"], &seen["data"]), (&json!("shop/seen"), &json!({"by": "ada"})), "the bare event: {seen}");
    assert!(seen["id"].is_string() && seen["ts"].is_number(), "the whole event: {seen}");
    assert_eq!(memo("late"), Value::Null, "a wait that timed out is null");
}

#[tokio::test]
async fn parallel_steps_are_planned_by_the_sdk_and_executed_by_targeted_requests() {
    let l = loopback().await;
    l.send("shop/fan", json!({})).await;
    let done = l.wait_for("shop-fan", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!(30)));
    let mut names: Vec<String> = l.steps(&done).await.into_iter().map(|(n, _, _)| n).collect();
    names[..2].sort();
    assert_eq!(names, vec!["x", "y", "sum"]);
}

#[tokio::test]
async fn a_failing_step_is_retried_with_its_attempt_then_fails_the_function_for_good() {
    let l = loopback().await;
    l.send("shop/charge", json!({})).await;
    l.wait_for("shop-charge", RunStatus::Sleeping).await;
    assert_eq!(CHARGES.load(Ordering::SeqCst), 1);
    for attempts in [2, 3] {
        l.clock.advance(Duration::from_secs(1));
        l.engine.settle().await;
        assert_eq!(CHARGES.load(Ordering::SeqCst), attempts, "one attempt per back-off");
    }
    let failed = l.wait_for("shop-charge", RunStatus::Failed).await;
    assert!(failed.error.as_ref().is_some_and(|e| e.message.contains("card declined")), "{:?}", failed.error);
    let steps = l.steps(&failed).await;
    assert!(
        matches!(&steps[..], [(name, StepKind::Run, Memo::Error(e))] if name == "charge-card" && e.message == "card declined"),
        "{steps:?}"
    );
    l.clock.advance(Duration::from_secs(60));
    l.engine.settle().await;
    assert_eq!(CHARGES.load(Ordering::SeqCst), 3, "retries = 2: three attempts, never more");
}

#[tokio::test]
async fn with_a_signing_key_every_request_is_signed_and_verified_both_ways() {
    let l = loopback_with(Some(KEY)).await;
    l.send("shop/fan", json!({})).await;
    let done = l.wait_for("shop-fan", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!(30)));

    // An executor with another key: the app refuses its call requests (401), and the attempt
    // fails saying why, to be retried.
    l.engine.dispatcher().set_signing_keys(SigningKey::new("signkey-test-00ff"), None);
    l.send("shop/fan", json!({"again": true})).await;
    l.engine.settle().await;
    let query = RunQuery { function_id: Some("shop-fan".into()), ..RunQuery::default() };
    let runs = l.engine.store().queries().expect("queries").list_runs(&query).await.expect("runs");
    let refused = runs.iter().find(|r| r.status != RunStatus::Completed).expect("the second run");
    let error = refused.error.as_ref().expect("the attempt failed");
    assert!(error.message.contains("refused the call request (401"), "{}", error.message);
    assert!(error.message.contains("signing key"), "{}", error.message);
}
