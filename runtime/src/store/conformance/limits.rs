//! Claim-time flow control: concurrency limits (step-level and run-level), throttles,
//! priorities, and deadlines past every limit, as a claimer sees them.

use std::sync::Arc;
use std::time::Duration;

use super::{accept, ack, claimer, event, run, with_runs, NOW};
use crate::model::{ConcurrencySlot, FlowKeys, ThrottleSlot};
use crate::store::{Acked, FlowControl, HeldBack, Lease, RunRecord, RunStatus, Store};

/// Whether `store` enforces the options these checks are about.
pub(super) fn enforced(store: &dyn Store) -> bool {
    [FlowControl::Concurrency, FlowControl::Throttle, FlowControl::Priority].iter().all(|o| store.enforces(*o))
}

/// Runs every check against fresh stores from `make`, for stores that enforce these options.
pub(super) async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    concurrency_limits_claims_until_a_slot_frees(make().await).await;
    run_level_limits_hold_from_start_to_end(make().await).await;
    blocked_starts_spend_no_throttle_token(make().await).await;
    priority_orders_a_function_s_due_work(make().await).await;
    runs_past_their_deadline_are_claimed_past_every_limit(make().await).await;
}

fn slot(bucket: &str, limit: u32, per_run: bool) -> ConcurrencySlot {
    ConcurrencySlot { bucket: bucket.into(), limit, per_run }
}

fn limited(id: &str, created_at: i64, flow: FlowKeys) -> RunRecord {
    let mut r = run(id, "f", &format!("e-{id}"));
    r.created_at = created_at;
    r.flow = flow;
    r
}

async fn accept_runs(store: &Arc<dyn Store>, runs: Vec<RunRecord>) {
    let events = runs.into_iter().map(|r| with_runs(event(&r.event_ids[0], "a", 1), vec![r])).collect::<Vec<_>>();
    accept(store, events).await;
}

async fn claim_ids(store: &Arc<dyn Store>, now: i64, ttl: Duration) -> Vec<Lease> {
    store.claim(&claimer("w1", &["f"], ttl), now, 10).await.expect("claim")
}

fn names(leases: &[Lease]) -> Vec<&str> {
    leases.iter().map(|l| l.run_id.as_str()).collect()
}

/// Acks a pass: `ended` completes the run, else it sleeps until `wake_at`, started.
async fn finish(store: &Arc<dyn Store>, lease: &Lease, ended: bool, wake_at: Option<i64>) {
    let mut r = store.run(&lease.run_id).await.expect("run").expect("exists");
    r.started_at = Some(NOW);
    if ended {
        r.status = RunStatus::Completed;
        r.ended_at = Some(NOW);
        r.wake_at = None;
    } else {
        r.status = RunStatus::Sleeping;
        r.wake_at = wake_at;
    }
    assert!(matches!(store.ack(lease, ack(r), None).await.expect("ack"), Acked::Committed { .. }));
}

async fn concurrency_limits_claims_until_a_slot_frees(store: Arc<dyn Store>) {
    let what = "concurrency_limits_claims_until_a_slot_frees";
    let flow = FlowKeys { concurrency: vec![slot("fn:f:k", 2, false)], ..FlowKeys::default() };
    let runs = ["01A", "01B", "01C", "01D"].iter().enumerate();
    accept_runs(&store, runs.map(|(i, id)| limited(id, NOW + i as i64, flow.clone())).collect()).await;
    let first = claim_ids(&store, NOW, Duration::from_secs(30)).await;
    assert_eq!(names(&first), vec!["01A", "01B"], "{what}: two slots, oldest first");
    assert!(claim_ids(&store, NOW, Duration::from_secs(30)).await.is_empty(), "{what}: the bucket is full");
    assert_eq!(
        store.held_back("01C"),
        Some(HeldBack::Concurrency { bucket: "fn:f:k".into() }),
        "{what}: the held-back run says why"
    );
    finish(&store, &first[0], true, None).await;
    assert_eq!(names(&claim_ids(&store, NOW, Duration::ZERO).await), vec!["01C"], "{what}: an ack frees a slot");
    // 01C's lease (ttl 0) expires: its worker is gone, and its slot comes back with the run.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = claim_ids(&store, NOW, Duration::from_secs(30)).await;
    assert_eq!(names(&again), vec!["01C"], "{what}: an expired lease frees its slot, and its run goes first");
    assert_eq!(again[0].interrupted, 1);
    store.release(&first[1], NOW).await.expect("release");
    let after = claim_ids(&store, NOW, Duration::from_secs(30)).await;
    assert_eq!(names(&after), vec!["01B"], "{what}: a release frees a slot; the older run goes first");
    assert!(claim_ids(&store, NOW, Duration::from_secs(30)).await.is_empty(), "{what}: full again");
}

async fn run_level_limits_hold_from_start_to_end(store: Arc<dyn Store>) {
    let what = "run_level_limits_hold_from_start_to_end";
    let flow = FlowKeys { concurrency: vec![slot("fn:f:run", 1, true)], ..FlowKeys::default() };
    accept_runs(&store, vec![limited("01A", NOW, flow.clone()), limited("01B", NOW + 1, flow)]).await;
    let first = claim_ids(&store, NOW, Duration::from_secs(30)).await;
    assert_eq!(names(&first), vec!["01A"], "{what}: one run at a time");
    finish(&store, &first[0], false, Some(NOW + 100)).await;
    assert!(
        claim_ids(&store, NOW + 50, Duration::from_secs(30)).await.is_empty(),
        "{what}: a sleeping run keeps its slot"
    );
    let woken = claim_ids(&store, NOW + 100, Duration::from_secs(30)).await;
    assert_eq!(names(&woken), vec!["01A"], "{what}: the started run's next pass needs no new slot");
    finish(&store, &woken[0], true, None).await;
    assert_eq!(
        names(&claim_ids(&store, NOW + 100, Duration::from_secs(30)).await),
        vec!["01B"],
        "{what}: the run's end frees the slot"
    );
}

async fn blocked_starts_spend_no_throttle_token(store: Arc<dyn Store>) {
    let what = "blocked_starts_spend_no_throttle_token";
    // Two starts per 2 s, one every second.
    let throttle = ThrottleSlot { bucket: "f:0:".into(), limit: 2, period_ms: 2_000, burst: 2 };
    let both = FlowKeys {
        concurrency: vec![slot("fn:f:x", 1, false)],
        throttle: vec![throttle.clone()],
        ..FlowKeys::default()
    };
    let throttled = FlowKeys { throttle: vec![throttle], ..FlowKeys::default() };
    accept_runs(
        &store,
        vec![
            limited("01A", NOW, both.clone()),
            limited("01B", NOW + 1, both),
            limited("01C", NOW + 2, throttled.clone()),
            limited("01D", NOW + 3, throttled),
        ],
    )
    .await;
    let first = claim_ids(&store, NOW, Duration::from_secs(30)).await;
    assert_eq!(
        names(&first),
        vec!["01A", "01C"],
        "{what}: 01B waits for the concurrency slot without spending the token 01C takes"
    );
    assert_eq!(store.held_back("01D"), Some(HeldBack::Throttle { until: NOW + 1_000 }), "{what}: until a token");
    assert_eq!(store.held_back("01B"), Some(HeldBack::Concurrency { bucket: "fn:f:x".into() }));
    assert!(claim_ids(&store, NOW + 999, Duration::from_secs(30)).await.is_empty(), "{what}: no token yet");
    assert_eq!(names(&claim_ids(&store, NOW + 1_000, Duration::from_secs(30)).await), vec!["01D"]);
    // A started run's later passes are not throttled.
    finish(&store, &first[1], false, Some(NOW + 1_000)).await;
    assert_eq!(
        names(&claim_ids(&store, NOW + 1_000, Duration::from_secs(30)).await),
        vec!["01C"],
        "{what}: a later pass takes no token"
    );
}

async fn priority_orders_a_function_s_due_work(store: Arc<dyn Store>) {
    let what = "priority_orders_a_function_s_due_work";
    let priority = |ms: i64| FlowKeys { priority_ms: ms, prioritized: true, ..FlowKeys::default() };
    accept_runs(
        &store,
        vec![
            limited("01A", NOW, priority(-60_000)),
            limited("01B", NOW + 10, priority(0)),
            limited("01C", NOW + 20, priority(60_000)),
        ],
    )
    .await;
    let mut order = Vec::new();
    for _ in 0..3 {
        let lease = store.claim(&claimer("w1", &["f"], Duration::from_secs(30)), NOW + 20, 1).await.expect("claim");
        order.extend(lease.into_iter().map(|l| l.run_id));
    }
    assert_eq!(order, vec!["01C", "01B", "01A"], "{what}: by created_at minus priority");
}

async fn runs_past_their_deadline_are_claimed_past_every_limit(store: Arc<dyn Store>) {
    let what = "runs_past_their_deadline_are_claimed_past_every_limit";
    let flow = FlowKeys { concurrency: vec![slot("fn:f:k", 1, false)], ..FlowKeys::default() };
    let expiring = FlowKeys { start_deadline: Some(NOW + 500), ..flow.clone() };
    accept_runs(&store, vec![limited("01A", NOW, flow), limited("01B", NOW + 1, expiring)]).await;
    assert_eq!(names(&claim_ids(&store, NOW, Duration::from_secs(30)).await), vec!["01A"], "{what}: full");
    assert!(claim_ids(&store, NOW + 499, Duration::from_secs(30)).await.is_empty(), "{what}: before its deadline");
    assert_eq!(
        names(&claim_ids(&store, NOW + 500, Duration::from_secs(30)).await),
        vec!["01B"],
        "{what}: at its deadline, past the full bucket (its pass cancels it)"
    );
}
