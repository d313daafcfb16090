//! Flow control decided at claim time (concurrency, throttle) on the Postgres store, across
//! workers: two engines, or two stores claiming by hand, on one database. In a binary of its
//! own, since an `App` started on Postgres elsewhere collects every function linked into its
//! binary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookflow::model::{ConcurrencySlot, FlowKeys, ThrottleSlot};
use hookflow::store::{
    Ack, Acked, Batch, ClaimFor, Lease, NewRun, PostgresStore, RunLog, RunQuery, RunStatus, WorkQueue,
};
use hookflow::{EngineBuilder, RawEvent, Registry};
use hookflow_tests::postgres;

/// Steps of `pg-limited` executing now, and the most seen at once.
static EXECUTING: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);

#[hookflow::prelude::inngest_fn(id = "pg-limited", event = "pg/limited", concurrency(limit = 2))]
async fn pg_limited(step: hookflow::prelude::Step) -> hookflow::prelude::Result<()> {
    step.run("work", || async {
        let now = EXECUTING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(40)).await;
        EXECUTING.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    Ok(())
}

/// Two engines on one database share one `concurrency(limit = 2)`: never more than two steps
/// execute at once across them, and every run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_limit_holds_across_two_engines() {
    let Some(url) = postgres::url("a_concurrency_limit_holds_across_two_engines") else { return };
    let schema = postgres::unique("limit2");
    let mut engines = Vec::new();
    for name in ["a", "b"] {
        let store = postgres::store_in(&url, &schema).await;
        let mut registry = Registry::empty();
        registry.add(pg_limited::DEF).expect("unique ids");
        engines.push(EngineBuilder::new(name, registry).store(Arc::new(store)).start().await.expect("engine"));
    }
    let events: Vec<RawEvent> = (0..12).map(|i| RawEvent::new("pg/limited", serde_json::json!({ "i": i }))).collect();
    engines[0].send(events).await.expect("send");
    let store = engines[1].store();
    let queries = store.queries().expect("queries");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = queries.list_runs(&RunQuery::default()).await.expect("runs");
        let done = runs.iter().filter(|r| r.status == RunStatus::Completed).count();
        if runs.len() == 12 && done == 12 {
            break;
        }
        assert!(Instant::now() < deadline, "every run completes: {done} of {} did", runs.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(MOST.load(Ordering::SeqCst), 2, "two at once, never more");
}

fn limited(id: &str, created_at: i64, flow: &FlowKeys) -> NewRun {
    let mut run = postgres::run(id, "f", &format!("e-{id}"), 0);
    run.created_at = created_at;
    run.flow = flow.clone();
    NewRun::new(run)
}

async fn add_runs(store: &PostgresStore, runs: Vec<NewRun>) {
    store.accept(&Batch { events: vec![], runs, at: 0 }, None).await.expect("accept");
}

fn claimer(worker: &str, ttl: Duration) -> ClaimFor {
    ClaimFor { worker: worker.into(), functions: vec!["f".to_owned()].into(), ttl }
}

async fn complete(store: &PostgresStore, lease: &Lease) {
    let mut run = store.run(&lease.run_id).await.expect("run").expect("exists");
    run.status = RunStatus::Completed;
    run.started_at = Some(1);
    run.ended_at = Some(1);
    run.wake_at = None;
    assert!(matches!(store.ack(lease, Ack::new(run, 1), None).await.expect("ack"), Acked::Committed { .. }));
}

/// Two stores (two workers, two pools) claiming at once from one bucket of three take exactly
/// three slots between them, round after round; a dead worker's slots come back when its leases
/// expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_claiming_at_once_never_exceed_a_limit() {
    let Some(url) = postgres::url("two_workers_claiming_at_once_never_exceed_a_limit") else { return };
    let schema = postgres::unique("race");
    let (one, two) = (postgres::store_in(&url, &schema).await, postgres::store_in(&url, &schema).await);
    let flow = FlowKeys {
        concurrency: vec![ConcurrencySlot { bucket: "fn:f:".into(), limit: 3, per_run: false }],
        ..FlowKeys::default()
    };
    add_runs(&one, (0..24).map(|i| limited(&format!("r{i:02}"), i, &flow)).collect()).await;
    let mut left = 24;
    let (by_one, by_two) = (claimer("one", Duration::from_secs(30)), claimer("two", Duration::from_secs(30)));
    while left > 0 {
        let (a, b) = tokio::join!(one.claim(&by_one, 100, 10), two.claim(&by_two, 100, 10));
        let (a, b) = (a.expect("claim"), b.expect("claim"));
        assert_eq!(a.len() + b.len(), left.min(3), "exactly the limit between them: {a:?} {b:?}");
        for lease in &a {
            complete(&one, lease).await;
        }
        for lease in &b {
            complete(&two, lease).await;
        }
        left -= a.len() + b.len();
    }

    add_runs(&one, (0..4).map(|i| limited(&format!("d{i}"), 100 + i, &flow)).collect()).await;
    let dying = one.claim(&claimer("one", Duration::from_millis(300)), 200, 10).await.expect("claim");
    assert_eq!(dying.len(), 3, "the first worker takes the three slots");
    assert!(two.claim(&claimer("two", Duration::from_secs(30)), 200, 10).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = two.claim(&claimer("two", Duration::from_secs(30)), 200, 10).await.expect("claim");
    assert_eq!(taken.len(), 3, "its slots came back with its expired leases: {taken:?}");
    assert!(taken.iter().all(|l| l.interrupted == 1), "the runs it held go first: {taken:?}");
}

/// A throttle is one budget for every worker: two claiming at once take one start between
/// them; a start held back by a full concurrency bucket spends no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_is_shared_by_every_worker() {
    let Some(url) = postgres::url("a_throttle_is_shared_by_every_worker") else { return };
    let schema = postgres::unique("throttle");
    let (one, two) = (postgres::store_in(&url, &schema).await, postgres::store_in(&url, &schema).await);
    let throttle = FlowKeys {
        throttle: vec![ThrottleSlot { bucket: "f:0:".into(), limit: 1, period_ms: 10_000, burst: 1 }],
        ..FlowKeys::default()
    };
    add_runs(&one, (0..6).map(|i| limited(&format!("t{i}"), i, &throttle)).collect()).await;
    let (by_one, by_two) = (claimer("one", Duration::from_secs(30)), claimer("two", Duration::from_secs(30)));
    let (a, b) = tokio::join!(one.claim(&by_one, 100, 10), two.claim(&by_two, 100, 10));
    assert_eq!(a.expect("claim").len() + b.expect("claim").len(), 1, "one start per 10 s between them");
    assert!(one.claim(&claimer("one", Duration::from_secs(30)), 10_099, 10).await.expect("claim").is_empty());
    assert_eq!(two.claim(&claimer("two", Duration::from_secs(30)), 10_100, 10).await.expect("claim").len(), 1);
}
