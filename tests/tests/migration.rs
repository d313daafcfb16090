//! A store written by the previous version opens and resumes under this one.
//!
//! `tests/fixtures/store-v1.db` was written by the engine of commit 9ef568f (schema version 1,
//! before the work queue) with three functions of the same ids and shapes as below, and left
//! with one run sleeping three days after a step, one waiting for `v1/approve` with a match on
//! `data.id`, and one sleeping with a `cancel_on` condition. The migration makes them queue
//! items and matchers; the engine re-arms the `cancel_on` conditions the old version kept in
//! memory only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{Queries, RunLog, RunQuery, RunRecord, RunStatus, SqliteStore, Store};
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
