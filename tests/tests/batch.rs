//! `batch_events` on the test clock: an event goes into a batch per key; the batch's one run
//! starts when it holds `max_size` events (at once) or `timeout` after its first event, with
//! every event in arrival order; an event whose `if` is false runs on its own. The batch lives
//! in the store: it survives a restart of the SQLite store and a `kill -9`, fires once for two
//! engines sharing a store, and the event API says which batch took an event.

use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{MemoryStore, RunRecord, RunStatus, SqliteStore, Store};
use hookflow::testing::TestEngine;
use hookflow::{Clock, RawEvent, TestClock};
use hookflow_tests::http::{get_json, send_events, serve_engine};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn event(name: &str, n: i64) -> RawEvent {
    RawEvent::new(name, json!({ "n": n }))
}

/// The payloads' `n`, in the order the run received them.
fn ns(events: &[Event<Json>]) -> Value {
    Value::Array(events.iter().map(|e| e.data.get("n").cloned().unwrap_or(Value::Null)).collect())
}

/// The function's runs, oldest first.
async fn runs(t: &TestEngine, function: &str) -> Vec<RunRecord> {
    let mut runs = t.runs(function).await;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    runs
}

/// The outputs of the function's completed runs, oldest first.
async fn outputs(t: &TestEngine, function: &str) -> Vec<Value> {
    let runs = runs(t, function).await;
    runs.into_iter().filter(|r| r.status == RunStatus::Completed).filter_map(|r| r.output).collect()
}

// ---- filling and timing out ----------------------------------------------------------------------

#[inngest_fn(id = "three", event = "test/three", batch_events(max_size = 3, timeout = "5s"))]
async fn three(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(ns(&events))
}

#[tokio::test]
async fn a_batch_that_fills_runs_at_once_with_its_events_in_arrival_order() {
    let t = TestEngine::new(&[three::DEF]).await;
    let now = t.clock.now_ms();
    for (n, ts) in [(1, 30), (2, 10), (3, 20)] {
        let mut e = event("test/three", n);
        e.ts = now + ts; // arrival order, not `ts`, orders a batch
        t.send(vec![e]).await;
        if n < 3 {
            t.advance(SECOND).await;
            assert!(outputs(&t, "three").await.is_empty(), "{n} of 3 events: the batch waits");
        }
    }
    t.settle().await;
    assert_eq!(outputs(&t, "three").await, [json!([1, 2, 3])], "full after 2 s, well before its 5 s timeout");
    t.send(vec![event("test/three", 4)]).await;
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "three").await, [json!([1, 2, 3]), json!([4])], "the next event opened a new batch");
}

#[tokio::test]
async fn a_batch_fills_within_one_send_and_the_rest_opens_the_next() {
    let t = TestEngine::new(&[three::DEF]).await;
    t.send((1..=7).map(|n| event("test/three", n))).await;
    t.settle().await;
    assert_eq!(outputs(&t, "three").await, [json!([1, 2, 3]), json!([4, 5, 6])], "two full batches at once");
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "three").await.last(), Some(&json!([7])), "the partial one at its timeout");
}

#[tokio::test]
async fn the_timeout_runs_a_partial_batch() {
    let t = TestEngine::new(&[three::DEF]).await;
    t.send(vec![event("test/three", 1)]).await;
    t.advance(3 * SECOND).await;
    t.send(vec![event("test/three", 2)]).await;
    t.advance(2 * SECOND - MS).await;
    let pending = runs(&t, "three").await;
    assert_eq!(pending.len(), 1, "the batch's run exists: {pending:?}");
    assert_eq!((pending[0].status, pending[0].started_at), (RunStatus::Queued, None), "and waits");
    t.advance(MS).await;
    assert_eq!(outputs(&t, "three").await, [json!([1, 2])], "5 s after the first event, not after the last");
}

// ---- keys and `if` ---------------------------------------------------------------------------------

#[inngest_fn(
    id = "per-org",
    event = "test/per-org",
    batch_events(max_size = 10, timeout = "5s", key = "event.data.org")
)]
async fn per_org(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(json!([events[0].data.get("org"), ns(&events)]))
}

#[tokio::test]
async fn each_key_has_its_batch_and_a_missing_key_shares_one() {
    let t = TestEngine::new(&[per_org::DEF]).await;
    let sent = [
        json!({"org": "a", "n": 1}),
        json!({"org": "b", "n": 2}),
        json!({"n": 3}),
        json!({"org": "a", "n": 4}),
        json!({"org": null, "n": 5}),
    ];
    t.send(sent.into_iter().map(|data| RawEvent::new("test/per-org", data))).await;
    t.advance(5 * SECOND).await;
    let mut got = outputs(&t, "per-org").await;
    got.sort_by_key(|v| v[1][0].as_i64());
    assert_eq!(got, [json!(["a", [1, 4]]), json!(["b", [2]]), json!([null, [3, 5]])], "three batches: a, b and <nil>");
}

#[inngest_fn(
    id = "bulk-only",
    event = "test/bulk",
    batch_events(max_size = 10, timeout = "5s", if = "event.data.bulk == true")
)]
async fn bulk_only(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(ns(&events))
}

#[tokio::test]
async fn an_event_whose_if_is_false_runs_alone_at_once() {
    let t = TestEngine::new(&[bulk_only::DEF]).await;
    let sent =
        [json!({"bulk": true, "n": 1}), json!({"bulk": false, "n": 2}), json!({"n": 3}), json!({"bulk": true, "n": 4})];
    t.send(sent.into_iter().map(|data| RawEvent::new("test/bulk", data))).await;
    t.settle().await;
    let mut alone = outputs(&t, "bulk-only").await;
    alone.sort_by_key(|v| v[0].as_i64());
    assert_eq!(alone, [json!([2]), json!([3])], "false and missing run on their own, without waiting");
    t.advance(5 * SECOND).await;
    assert!(outputs(&t, "bulk-only").await.contains(&json!([1, 4])), "the others as one batch");
    assert_eq!(runs(&t, "bulk-only").await.len(), 3);
}

// ---- durability ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_batch_survives_a_restart_of_the_sqlite_store_and_fires_once() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("batch.db");
    let clock = TestClock::starting_now();
    let open = || async {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
        TestEngine::builder(&[three::DEF]).store(store).clock(clock.clone()).start().await
    };
    {
        let t = open().await;
        t.send(vec![event("test/three", 1), event("test/three", 2)]).await;
        t.advance(SECOND).await;
        t.engine.shutdown(SECOND).await;
    }
    {
        let t = open().await;
        t.send(vec![event("test/three", 3), event("test/three", 4)]).await;
        t.settle().await;
        assert_eq!(outputs(&t, "three").await, [json!([1, 2, 3])], "the batch kept its events across the restart");
        t.engine.shutdown(SECOND).await;
    }
    let t = open().await;
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "three").await, [json!([1, 2, 3]), json!([4])], "the partial batch at its timeout");
    t.advance(60 * SECOND).await;
    assert_eq!(runs(&t, "three").await.len(), 2, "each batch ran once");
}

#[inngest_fn(id = "shared-batch", event = "test/shared-batch", batch_events(max_size = 10, timeout = "1m"))]
async fn shared_batch(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(ns(&events))
}

async fn each_event_once_across_two_engines(store: Arc<dyn Store>) {
    let clock = TestClock::starting_now();
    let a = TestEngine::builder(&[shared_batch::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let b = TestEngine::builder(&[shared_batch::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let sends = (0..25).map(|n| {
        let engine = if n % 2 == 0 { a.engine.clone() } else { b.engine.clone() };
        let e = RawEvent::new("test/shared-batch", json!({ "n": n }));
        tokio::spawn(async move { engine.send([e]).await })
    });
    for send in sends.collect::<Vec<_>>() {
        send.await.expect("task").expect("send");
    }
    a.settle().await;
    b.settle().await;
    clock.advance(Duration::from_secs(60));
    a.settle().await;
    b.settle().await;
    clock.advance(Duration::from_secs(600));
    a.settle().await;
    b.settle().await;
    let got = outputs(&a, "shared-batch").await;
    let mut sizes: Vec<usize> = got.iter().map(|v| v.as_array().map_or(0, Vec::len)).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, 10, 10], "two full batches and the rest at the timeout: {got:?}");
    let mut all: Vec<i64> =
        got.iter().flat_map(|v| v.as_array().into_iter().flatten()).filter_map(Value::as_i64).collect();
    all.sort_unstable();
    assert_eq!(all, (0..25).collect::<Vec<_>>(), "every event in exactly one run");
    assert_eq!(runs(&a, "shared-batch").await.len(), 3);
}

#[tokio::test]
async fn two_engines_on_one_memory_store_run_each_event_in_one_batch() {
    each_event_once_across_two_engines(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn two_engines_on_one_sqlite_store_run_each_event_in_one_batch() {
    let dir = tempfile::tempdir().expect("dir");
    each_event_once_across_two_engines(Arc::new(SqliteStore::open(dir.path().join("two.db")).expect("open"))).await;
}

// ---- where a batched event went ----------------------------------------------------------------------

#[tokio::test]
async fn the_event_page_says_which_batch_took_an_event_and_the_run_page_shows_them_all() {
    let t = TestEngine::new(&[three::DEF]).await;
    let first = t.send(vec![event("test/three", 1)]).await;
    let base = serve_engine(&t.engine).await;
    let page = get_json(&base, &format!("/api/v1/events/{}", first[0])).await;
    let batch = &page["batched"][0];
    assert_eq!((&batch["function_id"], &batch["run_status"]), (&json!("three"), &json!("Queued")), "{page}");
    assert!(page["debounced"].as_array().is_some_and(Vec::is_empty), "a batch is not a debounce window: {page}");
    assert!(page["skipped"].as_array().is_some_and(Vec::is_empty), "nor a skip: {page}");
    let run_id = batch["run_id"].as_str().expect("run id").to_owned();
    let rest = t.send(vec![event("test/three", 2), event("test/three", 3)]).await;
    t.settle().await;
    let page = get_json(&base, &format!("/api/v1/events/{}", rest[1])).await;
    assert_eq!(page["batched"][0]["run_id"], run_id.as_str(), "the three went into one batch: {page}");
    assert_eq!(page["batched"][0]["run_status"], "Completed");
    let run = get_json(&base, &format!("/api/v1/runs/{run_id}")).await;
    let ids: Vec<&str> = run["events"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_str()).collect();
    let sent: Vec<&str> = first.iter().chain(&rest).map(String::as_str).collect();
    assert_eq!(ids, sent, "the run page lists the batch's events in arrival order: {run}");
}

// ---- kill -9 inside a batch ------------------------------------------------------------------------

/// A real process on SQLite takes two events into a batch of three and is killed with SIGKILL;
/// restarted, the third event fills the batch, which runs once with all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_inside_a_batch_loses_no_event_and_runs_it_once() {
    use hookflow_tests::workers;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("engine.db");
    let post = |url: String, ns: std::ops::RangeInclusive<i64>| async move {
        let body: Value =
            ns.map(|n| json!({"name": "crash/batch", "id": format!("b-{n}"), "data": {"n": n}})).collect();
        send_events(&url, body).await;
    };
    let worker = workers::start(env!("CARGO_BIN_EXE_debounce_worker"), dir.path(), db.clone(), 0, &[]);
    post(worker.url.clone(), 1..=2).await;
    drop(worker); // SIGKILL, with the batch 2 of 3 full and 60 s from its timeout.
    let store = SqliteStore::open_read_only(&db).expect("read the worker's file");
    let queued = workers::all_runs(&store).await;
    assert_eq!(queued.len(), 1, "one batch's run, queued: {queued:?}");
    assert_eq!((queued[0].status, queued[0].event_ids.clone()), (RunStatus::Queued, vec!["b-1".into(), "b-2".into()]));
    let worker = workers::start(env!("CARGO_BIN_EXE_debounce_worker"), dir.path(), db.clone(), 1, &[]);
    post(worker.url.clone(), 3..=3).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let runs = workers::all_runs(&store).await;
        if runs.iter().any(|r| r.status.is_terminal()) {
            break runs;
        }
        assert!(std::time::Instant::now() < deadline, "the full batch never ran: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let runs = workers::all_runs(&store).await;
    drop(worker);
    assert_eq!(runs.len(), 1, "the batch ran once: {runs:?} (first seen {done:?})");
    assert_eq!((runs[0].status, runs[0].output.clone()), (RunStatus::Completed, Some(json!([1, 2, 3]))));
    assert_eq!(runs[0].event_ids, ["b-1", "b-2", "b-3"], "every event, in arrival order");
}
