//! Flow control decided when a run is created (rate limits, idempotency, singletons,
//! debounces, batches) on the Postgres store, across workers: two engines, each with a store of its
//! own (its own pool and connections) on one Postgres schema, stand for two worker processes,
//! and events sent to both at once are decided as if one worker had accepted them all. In a
//! binary of its own, since an `App` started on Postgres elsewhere collects every function
//! linked into its binary.

use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{RunRecord, RunStatus, SkipReason, Store};
use hookflow::testing::TestEngine;
use hookflow::{Clock, FunctionDef, RawEvent, TestClock};
use hookflow_tests::postgres;
use serde_json::{json, Value};

#[inngest_fn(id = "pg-rate", event = "pg/rate", rate_limit(limit = 1, period = "1h"))]
async fn pg_rate() -> Result<()> {
    Ok(())
}

#[inngest_fn(id = "pg-idempotent", event = "pg/idempotent", idempotency = "event.data.order")]
async fn pg_idempotent() -> Result<()> {
    Ok(())
}

/// Holds its singleton lock for an hour: every run the test sends meanwhile is skipped.
#[inngest_fn(id = "pg-single", event = "pg/single", singleton(mode = "skip"))]
async fn pg_single(step: Step) -> Result<()> {
    step.sleep("hold", Duration::from_secs(3_600)).await?;
    Ok(())
}

#[inngest_fn(id = "pg-single-cancel", event = "pg/single-cancel", singleton(mode = "cancel"))]
async fn pg_single_cancel(step: Step) -> Result<()> {
    step.sleep("hold", Duration::from_secs(3_600)).await?;
    Ok(())
}

#[inngest_fn(id = "pg-debounced", event = "pg/debounced", debounce(period = "2m", key = "event.data.k"))]
async fn pg_debounced(event: Event<Json>) -> Result<Value> {
    Ok(event.data.get("n").cloned().unwrap_or(Value::Null))
}

#[inngest_fn(id = "pg-batched", event = "pg/batched", batch_events(max_size = 10, timeout = "1m"))]
async fn pg_batched(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(events.iter().filter_map(|e| e.data.get("n").cloned()).collect())
}

/// Two engines running `functions` on one new schema, on one test clock, each with a store of
/// its own.
async fn two_workers(url: &str, prefix: &str, functions: &[&'static FunctionDef]) -> (TestEngine, TestEngine) {
    let schema = postgres::unique(prefix);
    let clock = TestClock::starting_now();
    let mut engines = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn Store> = Arc::new(postgres::store_in(url, &schema).await);
        engines.push(TestEngine::builder(functions).store(store).clock(clock.clone()).start().await);
    }
    let b = engines.pop().expect("two engines");
    let a = engines.pop().expect("two engines");
    (a, b)
}

/// Sends `events` half to each engine (alternately), all at once, and waits for every send.
async fn send_to_both(a: &TestEngine, b: &TestEngine, events: Vec<RawEvent>) {
    let sends: Vec<_> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let engine = if i % 2 == 0 { a.engine.clone() } else { b.engine.clone() };
            tokio::spawn(async move { engine.send([e]).await })
        })
        .collect();
    for send in sends {
        send.await.expect("task").expect("send");
    }
    a.settle().await;
    b.settle().await;
}

/// A function's runs, as either worker's store has them, oldest first.
async fn runs(t: &TestEngine, function: &str) -> Vec<RunRecord> {
    let mut runs = t.runs(function).await;
    runs.sort_by(|x, y| x.id.cmp(&y.id));
    runs
}

async fn outputs(t: &TestEngine, function: &str) -> Vec<Value> {
    runs(t, function).await.into_iter().filter(|r| r.status == RunStatus::Completed).filter_map(|r| r.output).collect()
}

async fn shutdown(a: TestEngine, b: TestEngine) {
    a.engine.shutdown(Duration::from_secs(1)).await;
    b.engine.shutdown(Duration::from_secs(1)).await;
}

/// The skips each worker's store records for `function`, which both must agree on.
async fn skips(a: &TestEngine, b: &TestEngine, function: &str) -> Vec<SkipReason> {
    let (qa, qb) = (a.engine.store().queries().expect("queries"), b.engine.store().queries().expect("queries"));
    let of_a = qa.skips_of_function(function, 1_000).await.expect("skips");
    assert_eq!(of_a, qb.skips_of_function(function, 1_000).await.expect("skips"), "both workers read the same skips");
    let counted = qa.skip_counts().await.expect("counts");
    assert_eq!(counted.get(function).copied().unwrap_or(0), of_a.len() as u64, "the count is the records'");
    of_a.into_iter().map(|s| s.reason).collect()
}

/// A rate limit of one run an hour, fed fifty events by two workers at once: one run, and the
/// other forty-nine are skipped and recorded, whichever worker accepted them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_workers() {
    let Some(url) = postgres::url("a_rate_limit_holds_across_workers") else { return };
    let (a, b) = two_workers(&url, "rate", &[pg_rate::DEF]).await;
    let events = (0..50).map(|n| RawEvent::new("pg/rate", json!({ "n": n }))).collect();
    send_to_both(&a, &b, events).await;
    let ran = runs(&a, "pg-rate").await;
    assert_eq!(ran.len(), 1, "one run in the hour: {ran:#?}");
    assert_eq!(ran[0].status, RunStatus::Completed);
    let skipped = skips(&a, &b, "pg-rate").await;
    assert_eq!(skipped.len(), 49, "every other event was skipped, and recorded");
    assert!(skipped.iter().all(|r| matches!(r, SkipReason::RateLimit { .. })), "{skipped:?}");
    a.clock.advance(Duration::from_secs(3_600));
    send_to_both(&a, &b, vec![RawEvent::new("pg/rate", json!({ "n": 50 }))]).await;
    assert_eq!(runs(&b, "pg-rate").await.len(), 2, "an hour later the limit admits a run again");
    shutdown(a, b).await;
}

/// One idempotency key, sent ten times through two workers at once: one run; another key
/// has its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_admits_one_run_across_workers() {
    let Some(url) = postgres::url("an_idempotency_key_admits_one_run_across_workers") else { return };
    let (a, b) = two_workers(&url, "idem", &[pg_idempotent::DEF]).await;
    let mut events: Vec<RawEvent> =
        (0..10).map(|_| RawEvent::new("pg/idempotent", json!({ "order": "o-1" }))).collect();
    events.push(RawEvent::new("pg/idempotent", json!({ "order": "o-2" })));
    send_to_both(&a, &b, events).await;
    assert_eq!(runs(&a, "pg-idempotent").await.len(), 2, "one run per key");
    let skipped = skips(&a, &b, "pg-idempotent").await;
    assert_eq!(skipped.len(), 9);
    assert!(skipped.iter().all(|r| matches!(r, SkipReason::Idempotency { .. })), "{skipped:?}");
    shutdown(a, b).await;
}

/// A skip-mode singleton, twenty events through two workers at once: one holder, nineteen
/// skips naming it; once it ends, the lock is free for a run accepted by either worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singleton_has_one_holder_across_workers() {
    let Some(url) = postgres::url("a_singleton_has_one_holder_across_workers") else { return };
    let (a, b) = two_workers(&url, "single", &[pg_single::DEF]).await;
    let events = (0..20).map(|n| RawEvent::new("pg/single", json!({ "n": n }))).collect();
    send_to_both(&a, &b, events).await;
    let held = runs(&a, "pg-single").await;
    assert_eq!(held.len(), 1, "one holder: {held:#?}");
    let skipped = skips(&a, &b, "pg-single").await;
    assert_eq!(skipped.len(), 19);
    assert!(skipped.iter().all(|r| *r == SkipReason::Singleton { run_id: held[0].id.clone() }), "{skipped:?}");
    a.clock.advance(Duration::from_secs(3_600));
    a.settle().await;
    b.settle().await;
    assert_eq!(runs(&a, "pg-single").await[0].status, RunStatus::Completed, "the holder ended");
    send_to_both(&a, &b, vec![RawEvent::new("pg/single", json!({ "n": 20 }))]).await;
    assert_eq!(runs(&b, "pg-single").await.len(), 2, "and let go of the lock");
    shutdown(a, b).await;
}

/// A cancel-mode singleton, ten events through two workers at once: whatever the order, one
/// run is left holding the lock and every other run was cancelled by a newer one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_singleton_leaves_one_active_run_across_workers() {
    let Some(url) = postgres::url("a_cancel_singleton_leaves_one_active_run_across_workers") else { return };
    let (a, b) = two_workers(&url, "single_cancel", &[pg_single_cancel::DEF]).await;
    let events = (0..10).map(|n| RawEvent::new("pg/single-cancel", json!({ "n": n }))).collect();
    send_to_both(&a, &b, events).await;
    let all = runs(&a, "pg-single-cancel").await;
    assert_eq!(all.len(), 10, "cancel mode creates every run");
    let active: Vec<&RunRecord> = all.iter().filter(|r| !r.status.is_terminal()).collect();
    assert_eq!(active.len(), 1, "one holder is left: {all:#?}");
    for run in all.iter().filter(|r| r.status.is_terminal()) {
        assert_eq!(run.status, RunStatus::Cancelled, "{run:#?}");
    }
    assert!(skips(&a, &b, "pg-single-cancel").await.is_empty(), "nothing is skipped");
    shutdown(a, b).await;
}

/// A debounce window fed twenty events for one key by two workers at once: one window, one
/// run, with the newest event, whichever worker accepted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debounce_window_is_one_across_workers() {
    let Some(url) = postgres::url("a_debounce_window_is_one_across_workers") else { return };
    let (a, b) = two_workers(&url, "debounce", &[pg_debounced::DEF]).await;
    let now = a.clock.now_ms();
    let events = (0..20)
        .map(|n| {
            let mut e = RawEvent::new("pg/debounced", json!({ "n": n, "k": "same" }));
            e.ts = now + n;
            e
        })
        .collect();
    send_to_both(&a, &b, events).await;
    let pending = runs(&a, "pg-debounced").await;
    assert_eq!(pending.len(), 1, "one window: {pending:#?}");
    assert_eq!(pending[0].event_ids.len(), 1, "the run receives one event");
    let windows = a.engine.store().queries().expect("queries").debounces_of_event(&pending[0].event_ids[0]).await;
    assert_eq!(windows.expect("windows")[0].run_id, pending[0].id, "the event page names the window's run");
    a.clock.advance(Duration::from_secs(120));
    a.settle().await;
    b.settle().await;
    a.clock.advance(Duration::from_secs(600));
    a.settle().await;
    b.settle().await;
    assert_eq!(outputs(&b, "pg-debounced").await, [json!(19)], "one run, with the newest event");
    shutdown(a, b).await;
}

/// A batch of ten fed thirty events by two workers at once: three full batches, at once (no
/// timeout passes), every event in exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_fill_across_workers() {
    let Some(url) = postgres::url("batches_fill_across_workers") else { return };
    let (a, b) = two_workers(&url, "batch", &[pg_batched::DEF]).await;
    let events = (0..30).map(|n| RawEvent::new("pg/batched", json!({ "n": n }))).collect();
    send_to_both(&a, &b, events).await;
    let got = outputs(&a, "pg-batched").await;
    let sizes: Vec<usize> = got.iter().map(|v| v.as_array().map_or(0, Vec::len)).collect();
    assert_eq!(sizes, [10, 10, 10], "full batches only: {got:?}");
    let mut all: Vec<i64> =
        got.iter().flat_map(|v| v.as_array().into_iter().flatten()).filter_map(Value::as_i64).collect();
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>(), "every event in exactly one run");
    a.clock.advance(Duration::from_secs(600));
    a.settle().await;
    b.settle().await;
    assert_eq!(runs(&b, "pg-batched").await.len(), 3, "and no other run");
    shutdown(a, b).await;
}
