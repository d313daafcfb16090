//! Webhooks and the event API through the real engine: a verified Clerk delivery is committed
//! before the 2xx, starts one run per function with a typed payload, and a re-delivery starts
//! nothing; bad input is rejected and writes nothing; a failing store answers 503, and a claim
//! whose runs cannot be read together still runs them.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use hookflow::cli::build_clerk_message;
use hookflow::prelude::*;
use hookflow::store::{
    Accepts, Ack, Acked, Batch, Cancellation, Candidate, Checkpoint, ClaimFor, ClaimedRun, EventQuery, Lease,
    MemoryStore, Queries, RunLog, RunQuery, RunRecord, RunStatus, StepLogs, StepRecord, Store, StoreError, StoredEvent,
    WorkQueue,
};
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::{json, Value};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

#[inngest_fn(id = "greet-clerk-user", event = "clerk/user.created")]
async fn greet(event: Event<clerk::UserCreated>) -> Result<String> {
    Ok(format!("hello {}", event.data.first_name.as_deref().unwrap_or("?")))
}

#[inngest_fn(id = "count-signups", event = "app/signup")]
async fn count_signups(event: Event<Json>) -> Result<Value> {
    Ok(event.data)
}

static NAPPER_STEPS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "napper", event = "test/nap")]
async fn napper(step: Step) -> Result<&'static str> {
    step.run("before", || async {
        NAPPER_STEPS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    step.sleep("nap", "1h").await?;
    step.run("after", || async {
        NAPPER_STEPS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    Ok("rested")
}

/// How [`FlakyStore`] answers a read of claimed runs.
const CLAIMED_READ_OK: u8 = 0;
const CLAIMED_READ_FAILS: u8 = 1;
const CLAIMED_READ_SHORT: u8 = 2;

/// A store whose writes can be made to fail, to check that ingress reports it, and whose read
/// of a claim's runs can fail or come back short, to check that each pass then reads its own.
#[derive(Default)]
struct FlakyStore {
    inner: MemoryStore,
    failing: AtomicBool,
    claimed_read: AtomicU8,
    claimed_reads: AtomicUsize,
}

#[async_trait]
impl RunLog for FlakyStore {
    async fn accept(&self, batch: &Batch, claim: Option<&ClaimFor>) -> Result<Accepts, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Database("disk I/O error".into()));
        }
        self.inner.accept(batch, claim).await
    }
    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.inner.run(id).await
    }
    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        self.inner.journal(run_id).await
    }
    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events(ids).await
    }
    async fn claimed_runs(&self, ids: &[String]) -> Result<Vec<Option<ClaimedRun>>, StoreError> {
        self.claimed_reads.fetch_add(1, Ordering::SeqCst);
        match self.claimed_read.load(Ordering::SeqCst) {
            CLAIMED_READ_FAILS => Err(StoreError::Database("connection reset".into())),
            CLAIMED_READ_SHORT => {
                let mut claimed = self.inner.claimed_runs(ids).await?;
                claimed.pop();
                Ok(claimed)
            }
            _ => self.inner.claimed_runs(ids).await,
        }
    }
}

#[async_trait]
impl WorkQueue for FlakyStore {
    async fn claim(&self, claim: &ClaimFor, now: i64, max: usize) -> Result<Vec<Lease>, StoreError> {
        self.inner.claim(claim, now, max).await
    }
    async fn renew(&self, leases: &[Lease], ttl: std::time::Duration) -> Result<Vec<bool>, StoreError> {
        self.inner.renew(leases, ttl).await
    }
    async fn checkpoint(&self, lease: &Lease, checkpoint: Checkpoint) -> Result<bool, StoreError> {
        self.inner.checkpoint(lease, checkpoint).await
    }
    async fn ack(&self, lease: &Lease, ack: Ack, claim: Option<&ClaimFor>) -> Result<Acked, StoreError> {
        self.inner.ack(lease, ack, claim).await
    }
    async fn release(&self, lease: &Lease, due: i64) -> Result<(), StoreError> {
        self.inner.release(lease, due).await
    }
    async fn request_cancel(&self, run_id: &str, cancellation: Cancellation) -> Result<bool, StoreError> {
        self.inner.request_cancel(run_id, cancellation).await
    }
    fn cancel_requested(&self, run_id: &str) -> bool {
        self.inner.cancel_requested(run_id)
    }
    async fn next_due(&self, functions: &[String]) -> Result<Option<i64>, StoreError> {
        self.inner.next_due(functions).await
    }
    fn work_signal(&self) -> Arc<tokio::sync::Notify> {
        self.inner.work_signal()
    }
    async fn matchers(&self, name: &str, incoming: &Value, now: i64) -> Result<Vec<Candidate>, StoreError> {
        self.inner.matchers(name, incoming, now).await
    }
    fn observes(&self, name: &str) -> bool {
        self.inner.observes(name)
    }
}

impl Store for FlakyStore {
    fn queries(&self) -> Option<&dyn Queries> {
        Some(&self.inner)
    }
    fn step_logs(&self) -> Option<&dyn StepLogs> {
        Some(&self.inner)
    }
}

struct Server {
    url: String,
    engine: hookflow::Engine,
    store: Arc<FlakyStore>,
}

async fn serve() -> Server {
    let mut registry = hookflow::Registry::empty();
    registry.add(greet::DEF).expect("add").add(count_signups::DEF).expect("add");
    let store = Arc::new(FlakyStore::default());
    let app = hookflow::App::with_registry("ingress-test", Ok(registry))
        .store(store.clone())
        .clerk_webhooks(SECRET)
        .event_key("secret-key")
        .start()
        .await
        .expect("start");
    let engine = app.engine().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(app.serve(listener, std::future::pending()));
    Server { url, engine, store }
}

async fn post_clerk(client: &reqwest::Client, url: &str, msg: &hookflow::cli::SignedMessage) -> (u16, Value) {
    let mut req = client.post(format!("{url}/webhooks/clerk")).body(msg.body.clone());
    for (name, value) in msg.headers() {
        req = req.header(name, value);
    }
    let resp = req.send().await.expect("post");
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn event_count(store: &FlakyStore) -> usize {
    store
        .inner
        .list_events(&EventQuery { include_internal: false, limit: 1000, ..EventQuery::default() })
        .await
        .expect("list")
        .len()
}

#[tokio::test]
async fn a_verified_clerk_webhook_is_committed_before_the_ack_and_fans_out_once() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let msg = build_clerk_message("user.created", None, SECRET, SystemTime::now()).expect("sign");

    let (status, body) = post_clerk(&client, &server.url, &msg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"ids": [msg.id.clone()], "status": 200}));
    // Acknowledged means committed: the event is in the store the moment the reply arrives.
    let stored = server.store.events(std::slice::from_ref(&msg.id)).await.expect("events");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "clerk/user.created");
    assert!(stored[0].user.as_ref().is_some_and(|u| u.get("clerk_envelope").is_some()), "the envelope is kept");

    server.engine.settle().await;
    let runs = server.store.inner.list_runs(&RunQuery::default()).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[0].output, Some(json!("hello John")), "the typed payload reached the function");

    let (status, _) = post_clerk(&client, &server.url, &msg).await;
    assert_eq!(status, 200, "a re-delivery is acknowledged");
    server.engine.settle().await;
    assert_eq!(server.store.inner.list_runs(&RunQuery::default()).await.expect("runs").len(), 1, "and starts nothing");
}

#[tokio::test]
async fn rejected_webhooks_write_nothing() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let mut forged =
        build_clerk_message("user.created", None, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SystemTime::now())
            .expect("sign");
    let (status, body) = post_clerk(&client, &server.url, &forged).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "the reason is given: {body}");

    let stale =
        build_clerk_message("user.created", None, SECRET, SystemTime::now() - std::time::Duration::from_secs(600))
            .expect("sign");
    assert_eq!(post_clerk(&client, &server.url, &stale).await.0, 401);

    forged = build_clerk_message("user.created", None, SECRET, SystemTime::now()).expect("sign");
    forged.body = b"{not json".to_vec();
    let resign = hookflow::webhook::svix::sign(SECRET, &forged.id, forged.timestamp, &forged.body).expect("sign");
    forged.signature = resign;
    assert_eq!(post_clerk(&client, &server.url, &forged).await.0, 400);
    assert_eq!(event_count(&server.store).await, 0, "nothing was written");
}

#[tokio::test]
async fn unknown_clerk_types_are_kept_as_raw_events() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("dir");
    let fixture = dir.path().join("new.json");
    std::fs::write(&fixture, r#"{"id": "thing_1", "object": "thing"}"#).expect("write");
    let msg = build_clerk_message("thing.invented", Some(&fixture), SECRET, SystemTime::now()).expect("sign");
    assert_eq!(post_clerk(&client, &server.url, &msg).await.0, 200);
    let stored = server.store.events(std::slice::from_ref(&msg.id)).await.expect("events");
    assert_eq!(stored[0].name, "clerk/thing.invented");
    assert_eq!(stored[0].data, json!({"id": "thing_1", "object": "thing"}));
}

#[tokio::test]
async fn the_event_api_needs_the_key_and_a_failing_store_answers_503() {
    let server = serve().await;
    let client = reqwest::Client::new();
    let body =
        json!([{"name": "app/signup", "data": {"plan": "pro"}}, {"name": "app/signup", "data": {"plan": "free"}}]);
    let wrong = client.post(format!("{}/e/nope", server.url)).json(&body).send().await.expect("post");
    assert_eq!(wrong.status().as_u16(), 401);
    let ok = client.post(format!("{}/e/secret-key", server.url)).json(&body).send().await.expect("post");
    assert_eq!(ok.status().as_u16(), 200);
    let reply: Value = ok.json().await.expect("json");
    assert_eq!(reply["ids"].as_array().map(Vec::len), Some(2));
    server.engine.settle().await;
    assert_eq!(server.store.inner.list_runs(&RunQuery::default()).await.expect("runs").len(), 2);

    server.store.failing.store(true, Ordering::SeqCst);
    let failed = client.post(format!("{}/e/secret-key", server.url)).json(&body).send().await.expect("post");
    assert_eq!(failed.status().as_u16(), 503, "the sender should retry");
    let msg = build_clerk_message("user.created", None, SECRET, SystemTime::now()).expect("sign");
    assert_eq!(post_clerk(&client, &server.url, &msg).await.0, 503);
    server.store.failing.store(false, Ordering::SeqCst);
    assert_eq!(post_clerk(&client, &server.url, &msg).await.0, 200, "the retried delivery succeeds");
}

#[tokio::test]
async fn the_dev_ui_refuses_a_non_loopback_address_without_a_token() {
    if std::env::var("HOOKFLOW_UI_TOKEN").is_ok_and(|t| !t.is_empty()) {
        return; // a token from the environment makes the address acceptable
    }
    // Only the start-up check is exercised: no request is ever sent to this address.
    let app =
        hookflow::App::with_registry("exposed", Ok(hookflow::Registry::empty())).dev_ui().start().await.expect("start");
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let err = app.serve(listener, std::future::pending()).await.expect_err("refused");
    assert!(err.to_string().contains("HOOKFLOW_UI_TOKEN"), "{err}");
}

#[tokio::test]
async fn a_claim_whose_runs_cannot_be_read_together_still_runs_each_once() {
    let store = Arc::new(FlakyStore::default());
    let t = TestEngine::builder(&[napper::DEF]).store(store.clone()).start().await;
    for (mode, why) in [(CLAIMED_READ_FAILS, "the read failed"), (CLAIMED_READ_SHORT, "the read came back short")] {
        NAPPER_STEPS.store(0, Ordering::SeqCst);
        let run = t.run(napper::DEF, RawEvent::new("test/nap", json!({}))).await;
        assert_eq!(run.record.status, RunStatus::Sleeping, "{why}");
        store.claimed_read.store(mode, Ordering::SeqCst);
        let reads = store.claimed_reads.load(Ordering::SeqCst);
        t.advance(std::time::Duration::from_secs(3_600)).await;
        store.claimed_read.store(CLAIMED_READ_OK, Ordering::SeqCst);
        assert!(store.claimed_reads.load(Ordering::SeqCst) > reads, "{why}: the wake-up was a claim");
        let done = t.get(&run.record.id).await.expect("run");
        assert_eq!(done.record.status, RunStatus::Completed, "{why}: the pass read its own run");
        assert_eq!(done.record.output, Some(json!("rested")), "{why}");
        assert_eq!(NAPPER_STEPS.load(Ordering::SeqCst), 2, "{why}: no step ran twice");
    }
}
