//! Stores written by earlier versions open and resume under this one.
//!
//! `tests/fixtures/store-v1.db` was written by the engine of commit 9ef568f (schema version 1,
//! before the work queue) with three functions of the same ids and shapes as below, and left
//! with one run sleeping three days after a step, one waiting for `v1/approve` with a match on
//! `data.id`, and one sleeping with a `cancel_on` condition. The migration makes them queue
//! items and matchers; the engine re-arms the `cancel_on` conditions the old version kept in
//! memory only.
//!
//! `tests/fixtures/store-v2.db` was written by the engine of commit eabd9d7 (schema version 2)
//! with the `v2-*` functions below: one run sleeping three days after a step, one waiting for
//! `v2/approve`, one cancelled by the `v2/stop` event `ev-stop`, and one completed after a step
//! that failed once. Version 3 adds flow control (`runs.flow`, `flow_state`), step details
//! (kept for new records; the old ones read as empty) and the index of the runs each event
//! cancelled, which finds the old cancellation; files of both versions gain all of it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{Queries, ResumedBy, RunLog, RunQuery, RunRecord, RunStatus, SqliteStore, StepDetail, Store};
use hookflow::{EngineBuilder, RawEvent, Registry, TestClock, WaitFor};
use serde_json::json;

/// When the fixture was written (its newest event), in ms.
const WRITTEN_AT: i64 = 1_796_125_039_374;

static BEFORE: AtomicUsize = AtomicUsize::new(0);
static AFTER: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "v1-sleeper", event = "v1/sleep")]
async fn sleeper(step: Step) -> Result<String> {
    step.run("before", || async { Ok(BEFORE.fetch_add(1, Ordering::SeqCst).to_string()) }).await?;
    step.sleep("nap", "3 days").await?;
    step.run("after", || async { Ok(AFTER.fetch_add(1, Ordering::SeqCst).to_string()) }).await?;
    Ok("done".into())
}

#[inngest_fn(id = "v1-waiter", event = "v1/wait")]
async fn waiter(step: Step) -> Result<Json> {
    let wait = WaitFor::timeout("7d").event("v1/approve").matching("data.id");
    let got = step.wait_for_event::<Json>("approval", wait).await?;
    Ok(got.map(|e| e.data).unwrap_or(Json::Null))
}

#[inngest_fn(
    id = "v1-cancellable",
    event = "v1/start",
    cancel_on(event = "v1/stop", if = "event.data.id == async.data.id")
)]
async fn cancellable(step: Step) -> Result<&'static str> {
    step.sleep("hold", "1 day").await?;
    Ok("not cancelled")
}

#[inngest_fn(id = "v2-sleeper", event = "v2/sleep")]
async fn v2_sleeper(step: Step) -> Result<String> {
    step.run("before", || async { Ok("before".to_owned()) }).await?;
    step.sleep("nap", "3 days").await?;
    step.run("after", || async { Ok("after".to_owned()) }).await?;
    Ok("done".into())
}

#[inngest_fn(id = "v2-waiter", event = "v2/wait")]
async fn v2_waiter(step: Step) -> Result<Json> {
    let wait = WaitFor::timeout("7d").event("v2/approve").matching("data.id");
    let got = step.wait_for_event::<Json>("approval", wait).await?;
    Ok(got.map(|e| e.data).unwrap_or(Json::Null))
}

#[inngest_fn(
    id = "v2-cancellable",
    event = "v2/start",
    cancel_on(event = "v2/stop", if = "event.data.id == async.data.id")
)]
async fn v2_cancellable(step: Step) -> Result<&'static str> {
    step.sleep("hold", "1 day").await?;
    Ok("not cancelled")
}

#[inngest_fn(id = "v2-retried", event = "v2/retry")]
async fn v2_retried(step: Step) -> Result<String> {
    let value: String = step.run("flaky", || async { Ok("second attempt works".to_owned()) }).await?;
    Ok(value)
}

/// When the v2 fixture was written: its clock started here and moved on a minute.
const V2_WRITTEN_AT: i64 = 1_796_200_000_000;

/// The file is at the one version 3: the flow control's columns and tables and the timeline's.
fn assert_is_version_3(path: &std::path::Path) {
    let read = |sql: &str| -> i64 {
        rusqlite::Connection::open(path).and_then(|c| c.query_row(sql, [], |r| r.get(0))).expect("read the schema")
    };
    assert_eq!(read("PRAGMA user_version"), 3, "the file was brought to version 3");
    for (sql, what) in [
        ("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'flow'", "runs.flow"),
        ("SELECT count(*) FROM pragma_table_info('steps') WHERE name = 'detail'", "steps.detail"),
        ("SELECT count(*) FROM sqlite_master WHERE name = 'flow_state'", "flow_state"),
        ("SELECT count(*) FROM sqlite_master WHERE name = 'runs_cancelled_by'", "runs_cancelled_by"),
    ] {
        assert_eq!(read(sql), 1, "the migrated file has {what}");
    }
}

async fn run_of(store: &SqliteStore, function: &str) -> RunRecord {
    let query = RunQuery { function_id: Some(function.into()), ..RunQuery::default() };
    let mut runs = store.list_runs(&query).await.expect("runs");
    assert_eq!(runs.len(), 1, "one run of {function}");
    runs.remove(0)
}

#[tokio::test]
async fn a_version_1_store_is_migrated_and_its_runs_resume() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hookflow.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/store-v1.db"), &path).expect("copy the fixture");
    let store = Arc::new(SqliteStore::open(&path).expect("the v1 file opens"));
    assert_is_version_3(&path);
    let mut registry = Registry::empty();
    registry.add(sleeper::DEF).expect("add").add(waiter::DEF).expect("add").add(cancellable::DEF).expect("add");
    let clock = TestClock::new(WRITTEN_AT + 1_000);
    let engine = EngineBuilder::new("migrated", registry)
        .store(store.clone() as Arc<dyn Store>)
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("the engine starts on the migrated store");
    engine.settle().await;
    assert_eq!(run_of(&store, "v1-sleeper").await.status, RunStatus::Sleeping, "nothing was due yet");
    assert_eq!(run_of(&store, "v1-waiter").await.status, RunStatus::Waiting);

    // The old version kept cancel_on in memory only: the engine armed it again.
    engine.send([RawEvent::new("v1/stop", json!({"id": "c1"}))]).await.expect("send");
    engine.settle().await;
    assert_eq!(run_of(&store, "v1-cancellable").await.status, RunStatus::Cancelled);

    // The old version's wait became a matcher.
    engine.send([RawEvent::new("v1/approve", json!({"id": "u1", "ok": true}))]).await.expect("send");
    engine.settle().await;
    let waiter = run_of(&store, "v1-waiter").await;
    assert_eq!(waiter.status, RunStatus::Completed);
    assert_eq!(waiter.output, Some(json!({"id": "u1", "ok": true})));

    // The old version's timer became a due time; its committed step is not run again.
    clock.advance(Duration::from_secs(3 * 86_400));
    engine.settle().await;
    let sleeper = run_of(&store, "v1-sleeper").await;
    assert_eq!(sleeper.status, RunStatus::Completed, "{sleeper:?}");
    assert_eq!(sleeper.output, Some(json!("done")));
    assert_eq!(BEFORE.load(Ordering::SeqCst), 0, "the step the old version committed did not run again");
    assert_eq!(AFTER.load(Ordering::SeqCst), 1);
    let journal = store.journal(&sleeper.id).await.expect("journal");
    assert_eq!(journal.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["before", "nap", "after"]);
    engine.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_version_2_store_gains_step_details_and_the_runs_an_event_cancelled() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hookflow.db");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/store-v2.db"), &path).expect("copy the fixture");
    let store = Arc::new(SqliteStore::open(&path).expect("the v2 file opens"));
    assert_is_version_3(&path);
    let mut registry = Registry::empty();
    for def in [v2_sleeper::DEF, v2_waiter::DEF, v2_cancellable::DEF, v2_retried::DEF] {
        registry.add(def).expect("add");
    }
    let clock = TestClock::new(V2_WRITTEN_AT + 120_000);
    let engine = EngineBuilder::new("migrated", registry)
        .store(store.clone() as Arc<dyn Store>)
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("the engine starts on the migrated store");
    engine.settle().await;

    // The old cancellation is found through the new index.
    let cancelled = run_of(&store, "v2-cancellable").await;
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let by_stop = store.runs_cancelled_by("ev-stop", 10).await.expect("runs cancelled by");
    assert_eq!(by_stop.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![cancelled.id.as_str()]);

    // Old records read with an empty detail.
    let retried = run_of(&store, "v2-retried").await;
    let journal = store.journal(&retried.id).await.expect("journal");
    assert_eq!((journal[0].name.as_str(), journal[0].attempts), ("flaky", 2));
    assert_eq!(journal[0].detail, StepDetail::default());

    // New records keep theirs: what resumed the old wait.
    engine.send([RawEvent::new("v2/approve", json!({"id": "u1"})).with_id("ev-approve")]).await.expect("send");
    engine.settle().await;
    let waiter = run_of(&store, "v2-waiter").await;
    assert_eq!(waiter.status, RunStatus::Completed);
    let approval = store.journal(&waiter.id).await.expect("journal").remove(0);
    assert_eq!(approval.name, "approval");
    assert_eq!(
        approval.detail.resumed_by,
        Some(ResumedBy::Event { event_id: "ev-approve".into(), event_name: "v2/approve".into() })
    );
    assert_eq!(approval.started_at, V2_WRITTEN_AT, "the wait's bar starts when it began");

    // The old sleep wakes, its bar from when it began.
    clock.advance(Duration::from_secs(3 * 86_400));
    engine.settle().await;
    let sleeper = run_of(&store, "v2-sleeper").await;
    assert_eq!(sleeper.status, RunStatus::Completed, "{sleeper:?}");
    let nap = store.journal(&sleeper.id).await.expect("journal").into_iter().find(|s| s.name == "nap").expect("nap");
    assert_eq!(nap.started_at, V2_WRITTEN_AT);
    assert!(nap.ended_at >= V2_WRITTEN_AT + 3 * 86_400_000, "{nap:?}");
    engine.shutdown(Duration::from_secs(1)).await;
}
