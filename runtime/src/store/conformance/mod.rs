//! The conformance suite every [`Store`] must pass (feature `testing`): [`run_all`] checks the
//! run log, the work queue (claims, leases, fencing, timers, matchers, cancellations) and the
//! queries against fresh stores; [`engines::run_all`] runs two engines over one store.

pub mod engines;
mod limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{
    Ack, Acked, Batch, Checkpoint, ClaimFor, EventQuery, FlowControl, Gates, Join, Lease, Matcher, MatcherKind, Memo,
    NewEvent, NewRun, PendingOp, RateGate, Resolution, Resume, RunQuery, RunRecord, RunState, RunStatus, SkipReason,
    StepKind, StepRecord, Store, StoredEvent, WindowGate, WindowRule,
};
use crate::error::ErrorInfo;
use crate::model::{Cancellation, CancelledBy, EventSource, FailedAttempt, ParentRef, ResumedBy, StepDetail, WaitSpec};
use crate::store::CancelRequest;

/// Runs every check against fresh stores from `make`. Panics with the failing check's name.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    accept_is_idempotent(make().await).await;
    runs_are_unique_per_event_and_function(make().await).await;
    journal_entries_are_never_overwritten(make().await).await;
    step_details_round_trip(make().await).await;
    run_records_round_trip(make().await).await;
    events_are_listed_newest_first_with_filters(make().await).await;
    runs_are_listed_with_filters(make().await).await;
    acks_commit_emitted_events_and_their_runs(make().await).await;
    embedded_events_read_back_whole(make().await).await;
    reruns_do_not_collide_with_their_original(make().await).await;
    logs_are_kept_per_run_in_order(make().await).await;
    due_runs_are_claimed_once_oldest_first(make().await).await;
    claimed_runs_read_back_as_each_run_reads(make().await).await;
    acks_are_fenced_by_the_lease(make().await).await;
    acks_at_once_are_fenced_one_by_one(make().await).await;
    renewed_leases_are_kept_and_expired_ones_claimable(make().await).await;
    expired_leases_count_as_interrupted_until_a_pass_ends(make().await).await;
    acks_schedule_the_next_due_time(make().await).await;
    resolutions_are_written_once_and_wake_the_run(make().await).await;
    timeouts_resolve_only_waits_that_still_wait(make().await).await;
    cancellations_are_stored_and_wake_the_run(make().await).await;
    what_arrives_during_a_pass_makes_it_due_again(make().await).await;
    released_runs_are_due_again(make().await).await;
    runs_claimed_on_insert_belong_to_the_claimer(make().await).await;
    matchers_expire_and_end_with_their_run(make().await).await;
    invoked_results_resume_the_caller(make().await).await;
    gates_skip_runs_record_why_and_charge_only_what_they_admit(make().await).await;
    singleton_locks_are_held_until_the_run_ends(make().await).await;
    windows_take_events_until_their_run_is_claimed_or_full(make().await).await;
    a_chosen_event_brings_its_cancel_on_conditions(make().await).await;
    accepts_at_once_share_each_gate_and_window(make().await).await;
    if limits::enforced(&*make().await) {
        limits::run_all(&make).await;
    }
}

const NOW: i64 = 1_000;

fn event(id: &str, name: &str, received_at: i64) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        name: name.into(),
        data: json!({"id": id, "email": format!("{id}@example.com")}).into(),
        ts: received_at,
        user: None,
        source: EventSource::Api,
        received_at,
    }
}

fn run(id: &str, function: &str, event: &str) -> RunRecord {
    RunRecord {
        id: id.into(),
        function_id: function.into(),
        event_ids: vec![event.into()],
        status: RunStatus::Queued,
        attempt: 0,
        created_at: NOW,
        started_at: None,
        ended_at: None,
        output: None,
        error: None,
        wake_at: Some(NOW),
        state: RunState::default(),
        parent: None,
        rerun_of: None,
        cancellation: None,
        flow: Default::default(),
    }
}

fn step(run: &str, hash: &str, memo: Memo) -> StepRecord {
    StepRecord {
        run_id: run.into(),
        hash: hash.into(),
        name: format!("step-{hash}"),
        kind: StepKind::Run,
        memo,
        attempts: 1,
        started_at: 1,
        ended_at: 2,
        detail: StepDetail::default(),
    }
}

fn with_runs(event: StoredEvent, runs: Vec<RunRecord>) -> NewEvent {
    NewEvent { runs: runs.into_iter().map(NewRun::new).collect(), ..NewEvent::new(event) }
}

fn claimer(worker: &str, functions: &[&str], ttl: Duration) -> ClaimFor {
    ClaimFor {
        worker: worker.into(),
        functions: functions.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>().into(),
        ttl,
    }
}

fn ack(run: RunRecord) -> Ack {
    Ack::new(run, NOW)
}

fn wait_matcher(run: &str, hash: &str, value: &str, deadline: i64) -> Matcher {
    Matcher {
        run_id: run.into(),
        id: hash.into(),
        kind: MatcherKind::Wait,
        name: "approval".into(),
        event: "app/approved".into(),
        expr: Some("event.data.id == async.data.id".into()),
        join: Some(Join { path: vec!["data".into(), "id".into()], value: format!("\"{value}\"") }),
        trigger: Some("e1".into()),
        since: NOW,
        deadline,
    }
}

async fn accept(store: &Arc<dyn Store>, events: Vec<NewEvent>) -> Vec<super::Accepted> {
    store.accept(&Batch { events, runs: Vec::new(), at: NOW }, None).await.expect("accept").events
}

/// Claims the one run of `function` due at `now`.
async fn claim_one(store: &Arc<dyn Store>, function: &str, now: i64) -> Lease {
    let mut leases = store.claim(&claimer("w1", &[function], Duration::from_secs(30)), now, 10).await.expect("claim");
    assert_eq!(leases.len(), 1, "one run of `{function}` is due at {now}: {leases:?}");
    leases.remove(0)
}

fn ids(runs: &[super::CreatedRun]) -> Vec<&str> {
    runs.iter().map(|r| r.id.as_str()).collect()
}

async fn accept_is_idempotent(store: Arc<dyn Store>) {
    let first = accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    assert!(first[0].new, "accept_is_idempotent: a new event is new");
    assert_eq!(ids(&first[0].runs), vec!["01A"]);
    let again = accept(&store, vec![with_runs(event("e1", "a", 2), vec![run("01B", "f", "e1")])]).await;
    assert!(!again[0].new, "accept_is_idempotent: the same id is not new");
    assert!(again[0].runs.is_empty(), "accept_is_idempotent: no runs for a repeated event");
    assert!(store.run("01B").await.expect("run").is_none());
    let events = store.events(&["e1".into(), "missing".into()]).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].received_at, 1, "accept_is_idempotent: the first copy is kept");
}

async fn runs_are_unique_per_event_and_function(store: Arc<dyn Store>) {
    let runs = vec![run("01A", "f", "e1"), run("01B", "f", "e1"), run("01C", "g", "e1")];
    let out = accept(&store, vec![with_runs(event("e1", "a", 1), runs)]).await;
    assert_eq!(ids(&out[0].runs), vec!["01A", "01C"], "one run per (event, function)");
}

async fn journal_entries_are_never_overwritten(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let first = step("01A", "h1", Memo::Data(json!(1)));
    let checkpoint = Checkpoint { steps: vec![first.clone()], ..Checkpoint::default() };
    assert!(store.checkpoint(&lease, checkpoint).await.expect("checkpoint"));
    let second = step("01A", "h1", Memo::Data(json!(2)));
    let err =
        step("01A", "h2", Memo::Error(ErrorInfo { name: "E".into(), message: "m".into(), cause: None, stack: None }));
    let mut a = ack(run("01A", "f", "e1"));
    a.steps = vec![second, err.clone()];
    a.run.wake_at = Some(NOW + 50);
    assert!(matches!(store.ack(&lease, a, None).await.expect("ack"), Acked::Committed { .. }));
    let journal = store.journal("01A").await.expect("journal");
    assert_eq!(journal, vec![first, err], "journal entries keep their first value, in order");
}

fn failure(attempt: u32) -> FailedAttempt {
    let error =
        ErrorInfo { name: "Timeout".into(), message: format!("attempt {attempt} timed out"), cause: None, stack: None };
    FailedAttempt { attempt, error, started_at: i64::from(attempt) * 10, ended_at: i64::from(attempt) * 10 + 3 }
}

async fn step_details_round_trip(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut retried = step("01A", "h1", Memo::Data(json!("ok")));
    retried.attempts = 3;
    retried.detail.failures = vec![failure(1), failure(2)];
    let mut waited = step("01A", "h2", Memo::Data(json!({"name": "app/approved"})));
    waited.kind = StepKind::Wait;
    waited.detail = StepDetail {
        waited_for: Some(WaitSpec {
            event: "app/approved".into(),
            expr: Some("event.data.id == async.data.id".into()),
        }),
        resumed_by: Some(ResumedBy::Event { event_id: "e9".into(), event_name: "app/approved".into() }),
        ..StepDetail::default()
    };
    let mut invoked = step("01A", "h3", Memo::Data(json!(42)));
    invoked.kind = StepKind::Invoke;
    invoked.detail.resumed_by = Some(ResumedBy::Run { run_id: "01C".into() });
    let mut copied = step("01A", "h4", Memo::Data(json!(1)));
    copied.detail.copied_from = Some("01Z".into());
    let mut timed_out = step("01A", "h5", Memo::Data(json!(null)));
    timed_out.detail.resumed_by = Some(ResumedBy::Timeout);
    let plain = step("01A", "h6", Memo::Data(json!(2)));
    let steps = vec![retried, waited, invoked, copied, timed_out, plain];
    let checkpoint = Checkpoint { steps: steps.clone(), ..Checkpoint::default() };
    assert!(store.checkpoint(&lease, checkpoint).await.expect("checkpoint"));
    assert_eq!(store.journal("01A").await.expect("journal"), steps, "a step's detail reads back equal");
}

async fn run_records_round_trip(store: Arc<dyn Store>) {
    let parent = Some(ParentRef { run_id: "01P".into(), step: "hi".into(), name: "call-child".into() });
    let invoked = RunRecord { parent: parent.clone(), ..run("01A", "f", "e1") };
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![invoked])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut r = run("01A", "f", "e1");
    r.parent = parent;
    r.status = RunStatus::Waiting;
    r.attempt = 2;
    r.started_at = Some(5);
    r.wake_at = Some(99_000);
    r.error = Some(ErrorInfo { name: "E".into(), message: "boom".into(), cause: Some("io".into()), stack: None });
    r.state.pending.push(PendingOp::Wait {
        step: "h".into(),
        name: "wait".into(),
        spec: WaitSpec { event: "b".into(), expr: Some("event.data.id == async.data.id".into()) },
        until: 99_000,
        since: 7,
    });
    r.state.step_attempts.insert("h2".into(), 3);
    r.state.step_failures.insert("h2".into(), vec![failure(1), failure(2), failure(3)]);
    store.ack(&lease, ack(r.clone()), None).await.expect("ack");
    assert_eq!(store.run("01A").await.expect("run"), Some(r), "an acknowledged run reads back equal");
}

async fn events_are_listed_newest_first_with_filters(store: Arc<dyn Store>) {
    let queries = store.queries().expect("the store answers queries");
    let events = ["e1", "e2", "e3", "e4"]
        .iter()
        .enumerate()
        .map(|(i, id)| NewEvent::new(event(id, if i % 2 == 0 { "a" } else { "b" }, i as i64 * 10)))
        .chain(std::iter::once(NewEvent::new(event("sys", "inngest/function.finished", 50))))
        .collect();
    accept(&store, events).await;
    let ids = |v: Vec<StoredEvent>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = queries.list_events(&EventQuery::default()).await.expect("list");
    assert_eq!(ids(all), vec!["e4", "e3", "e2", "e1"], "newest first, internal events hidden");
    let with_internal = queries
        .list_events(&EventQuery { include_internal: true, limit: 1, ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(with_internal), vec!["sys"]);
    let by_name =
        queries.list_events(&EventQuery { name: Some("a".into()), ..EventQuery::default() }).await.expect("list");
    assert_eq!(ids(by_name), vec!["e3", "e1"]);
    let page =
        queries.list_events(&EventQuery { before: Some("e3".into()), ..EventQuery::default() }).await.expect("list");
    assert_eq!(ids(page), vec!["e2", "e1"], "cursor pages");
    let search = queries
        .list_events(&EventQuery { search: Some("E2@EXAMPLE".into()), ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(search), vec!["e2"], "search is case-insensitive over the payload");
    let window = queries
        .list_events(&EventQuery { since: Some(10), until: Some(30), ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(window), vec!["e3", "e2"]);
    let like =
        queries.list_events(&EventQuery { search: Some("%".into()), ..EventQuery::default() }).await.expect("list");
    assert!(like.is_empty(), "search text is literal, not a pattern");
}

async fn runs_are_listed_with_filters(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1"), run("01B", "g", "e1")])]).await;
    accept(&store, vec![with_runs(event("e2", "a", 2), vec![run("01C", "f", "e2")])]).await;
    let lease = claim_one(&store, "g", NOW).await;
    let mut failed = run("01B", "g", "e1");
    failed.status = RunStatus::Failed;
    failed.wake_at = None;
    failed.error =
        Some(ErrorInfo { name: "SmtpError".into(), message: "mailbox full".into(), cause: None, stack: None });
    store.ack(&lease, ack(failed), None).await.expect("ack");
    let ids = |v: Vec<RunRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let list = |q: RunQuery| {
        let store = store.clone();
        async move { ids(store.queries().expect("queries").list_runs(&q).await.expect("list")) }
    };
    assert_eq!(list(RunQuery::default()).await, vec!["01C", "01B", "01A"], "newest first");
    assert_eq!(list(RunQuery { function_id: Some("f".into()), ..RunQuery::default() }).await, vec!["01C", "01A"]);
    assert_eq!(list(RunQuery { statuses: vec![RunStatus::Failed], ..RunQuery::default() }).await, vec!["01B"]);
    assert_eq!(list(RunQuery { event_id: Some("e1".into()), ..RunQuery::default() }).await, vec!["01B", "01A"]);
    assert_eq!(list(RunQuery { before: Some("01C".into()), limit: 1, ..RunQuery::default() }).await, vec!["01B"]);
    assert_eq!(list(RunQuery { search: Some("mailbox".into()), ..RunQuery::default() }).await, vec!["01B"]);
}

async fn acks_commit_emitted_events_and_their_runs(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut done = run("01A", "f", "e1");
    done.status = RunStatus::Completed;
    done.wake_at = None;
    let mut a = ack(done);
    a.events = vec![with_runs(event("fin", "inngest/function.finished", 3), vec![run("01Z", "on-finish", "fin")])];
    let Acked::Committed { events, due } = store.ack(&lease, a, None).await.expect("ack") else {
        panic!("acks_commit_emitted_events: the lease is held")
    };
    assert_eq!(due, None, "an ended run is not due");
    assert_eq!(ids(&events[0].runs), vec!["01Z"]);
    assert_eq!(store.events(&["fin".into()]).await.expect("events").len(), 1, "emitted events are stored");
    assert!(store.run("01Z").await.expect("run").is_some(), "and their runs");
    claim_one(&store, "on-finish", NOW).await;
}

async fn embedded_events_read_back_whole(store: Arc<dyn Store>) {
    let mut trigger = event("e1", "clerk/user.created", 1);
    trigger.user = Some(json!({"clerk_envelope": {"type": "user.created"}}));
    accept(&store, vec![NewEvent::new(trigger.clone())]).await;
    let mut finished = event("fin", "inngest/function.finished", 2);
    finished.data = json!({"function_id": "f", "run_id": "01A", "result": 7}).into();
    let emitted = NewEvent { embeds: Some("e1".into()), ..NewEvent::new(finished) };
    accept(&store, vec![emitted]).await;
    let expected = json!({
        "function_id": "f",
        "run_id": "01A",
        "result": 7,
        "event": {"name": "clerk/user.created", "data": trigger.data, "id": "e1", "ts": 1,
                  "user": {"clerk_envelope": {"type": "user.created"}}},
    });
    let by_id = store.events(&["fin".into()]).await.expect("events");
    assert_eq!(by_id[0].data, expected, "the embedded event is under data.event");
    let listed = store
        .queries()
        .expect("queries")
        .list_events(&EventQuery { include_internal: true, ..EventQuery::default() })
        .await
        .expect("list")
        .into_iter()
        .find(|e| e.id == "fin")
        .expect("listed");
    assert_eq!(listed.data, expected, "listing reads it whole as well");
}

async fn reruns_do_not_collide_with_their_original(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let mut rerun = run("01B", "f", "e1");
    rerun.rerun_of = Some("01A".into());
    let copied = step("01B", "h1", Memo::Data(json!("copied")));
    let batch = Batch {
        events: Vec::new(),
        runs: vec![NewRun { steps: vec![copied.clone()], ..NewRun::new(rerun.clone()) }],
        at: NOW,
    };
    let out = store.accept(&batch, None).await.expect("accept");
    assert_eq!(ids(&out.runs), vec!["01B"]);
    assert_eq!(store.run("01B").await.expect("run"), Some(rerun), "a re-run of the same event is stored");
    assert_eq!(store.journal("01B").await.expect("journal"), vec![copied], "with the steps it starts with");
    let for_event = store
        .queries()
        .expect("queries")
        .list_runs(&RunQuery { event_id: Some("e1".into()), ..RunQuery::default() })
        .await
        .expect("list");
    assert_eq!(for_event.len(), 2, "both runs belong to the event");
}

async fn logs_are_kept_per_run_in_order(store: Arc<dyn Store>) {
    let logs = store.step_logs().expect("the store keeps step logs");
    let line = |run: &str, message: &str| super::LogLine {
        run_id: run.into(),
        step: "send".into(),
        attempt: 0,
        ts: 5,
        level: "INFO".into(),
        message: message.into(),
    };
    logs.append_logs(vec![line("r1", "first"), line("r2", "other")]).await.expect("append");
    logs.append_logs(vec![line("r1", "second")]).await.expect("append");
    assert_eq!(logs.logs("r1").await.expect("logs"), vec![line("r1", "first"), line("r1", "second")]);
    assert!(logs.logs("r3").await.expect("logs").is_empty());
}

async fn due_runs_are_claimed_once_oldest_first(store: Arc<dyn Store>) {
    let mut later = run("01C", "f", "e3");
    later.wake_at = Some(NOW + 500);
    let mut older = run("01B", "f", "e2");
    older.wake_at = Some(NOW - 10);
    let mut other = run("01D", "g", "e1");
    other.wake_at = Some(NOW - 100);
    accept(
        &store,
        vec![
            with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1"), other]),
            with_runs(event("e2", "a", 1), vec![older]),
            with_runs(event("e3", "a", 1), vec![later]),
        ],
    )
    .await;
    let one = claimer("w1", &["f"], Duration::from_secs(30));
    let two = claimer("w2", &["f"], Duration::from_secs(30));
    let first = store.claim(&one, NOW, 1).await.expect("claim");
    assert_eq!(first.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), vec!["01B"], "oldest due first");
    let second = store.claim(&two, NOW, 10).await.expect("claim");
    assert_eq!(
        second.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(),
        vec!["01A"],
        "a claimed run is not claimed again"
    );
    assert!(
        store.claim(&one, NOW, 10).await.expect("claim").is_empty(),
        "nothing else is due, and `g` is not asked for"
    );
    assert_eq!(store.next_due(&["f".into()]).await.expect("next"), Some(NOW + 500));
    let at_time = store.claim(&two, NOW + 500, 10).await.expect("claim");
    assert_eq!(at_time.len(), 1, "a run is claimable once due");
}

async fn claimed_runs_read_back_as_each_run_reads(store: Arc<dyn Store>) {
    let name = "claimed_runs_read_back_as_each_run_reads";
    // A run of two events (a batch's), one of them asked for twice and one never stored.
    let mut batched = run("01B", "g", "e2");
    batched.event_ids = vec!["e2".into(), "e1".into(), "gone".into(), "e1".into()];
    accept(
        &store,
        vec![
            with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1"), run("01C", "h", "e1")]),
            with_runs(event("e2", "a", 2), vec![batched]),
        ],
    )
    .await;
    let lease = claim_one(&store, "f", NOW).await;
    let steps = vec![step("01A", "h1", Memo::Data(json!(1))), step("01A", "h2", Memo::Data(json!({"b": [2]})))];
    let checkpoint = Checkpoint { steps: steps.clone(), ..Checkpoint::default() };
    assert!(store.checkpoint(&lease, checkpoint).await.expect("checkpoint"));
    assert!(store.claimed_runs(&[]).await.expect("claimed runs").is_empty(), "{name}: nothing asked, nothing read");
    let asked: Vec<String> = ["01B", "missing", "01A", "01C"].iter().map(|id| (*id).to_owned()).collect();
    let claimed = store.claimed_runs(&asked).await.expect("claimed runs");
    assert_eq!(claimed.len(), asked.len(), "{name}: one answer per run asked, in order");
    for (id, got) in asked.iter().zip(claimed) {
        let Some(run) = store.run(id).await.expect("run") else {
            assert!(got.is_none(), "{name}: a run that does not exist reads as none");
            continue;
        };
        let got = got.unwrap_or_else(|| panic!("{name}: run {id} exists"));
        assert_eq!(got.events, store.events(&run.event_ids).await.expect("events"), "{name}: {id}'s events");
        assert_eq!(got.journal, store.journal(id).await.expect("journal"), "{name}: {id}'s journal");
        assert_eq!(got.run, run, "{name}: run {id} reads as on its own");
    }
    let a = store.claimed_runs(&["01A".into()]).await.expect("claimed runs").remove(0).expect("01A exists");
    assert_eq!(a.journal, steps, "{name}: the journal in the order recorded");
    let b = store.claimed_runs(&["01B".into()]).await.expect("claimed runs").remove(0).expect("01B exists");
    let order: Vec<&str> = b.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(order, vec!["e2", "e1", "e1"], "{name}: events in the run's order, a missing one skipped");
}

async fn acks_are_fenced_by_the_lease(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let stale = store.claim(&claimer("w1", &["f"], Duration::ZERO), NOW, 1).await.expect("claim").remove(0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let current = claim_one(&store, "f", NOW).await;
    assert_ne!(stale.token, current.token, "a new claim gets a new fencing token");
    let mut done = run("01A", "f", "e1");
    done.status = RunStatus::Completed;
    done.output = Some(json!("stale"));
    done.wake_at = None;
    let mut stale_ack = ack(done.clone());
    stale_ack.steps = vec![step("01A", "h1", Memo::Data(json!("stale")))];
    let checkpoint = Checkpoint { steps: vec![step("01A", "h0", Memo::Data(json!(0)))], ..Checkpoint::default() };
    assert!(!store.checkpoint(&stale, checkpoint).await.expect("checkpoint"), "a stale checkpoint writes nothing");
    assert_eq!(store.ack(&stale, stale_ack, None).await.expect("ack"), Acked::Stale, "a stale ack writes nothing");
    assert!(store.journal("01A").await.expect("journal").is_empty(), "acks_are_fenced: no step of the stale pass");
    assert_eq!(store.run("01A").await.expect("run").map(|r| r.status), Some(RunStatus::Queued));
    done.output = Some(json!("current"));
    assert!(matches!(store.ack(&current, ack(done), None).await.expect("ack"), Acked::Committed { .. }));
    assert_eq!(store.run("01A").await.expect("run").and_then(|r| r.output), Some(json!("current")));
}

/// Acks sent at once (a store may write them in one transaction): a stale one among them is
/// answered `Stale` and writes nothing, and each of the others is written as if alone.
async fn acks_at_once_are_fenced_one_by_one(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e0", "a", 1), vec![run("01S", "f", "e0")])]).await;
    let stale = store.claim(&claimer("w1", &["f"], Duration::ZERO), NOW, 1).await.expect("claim").remove(0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut sleeping = NewRun::new(run("01C", "f", "e3"));
    sleeping.matchers = vec![wait_matcher("01C", "w1", "x", NOW + 1_000)];
    let events = vec![
        with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")]),
        with_runs(event("e2", "a", 1), vec![run("01B", "f", "e2")]),
        NewEvent { runs: vec![sleeping], ..NewEvent::new(event("e3", "a", 1)) },
        with_runs(event("e4", "a", 1), vec![run("01D", "f", "e4")]),
    ];
    accept(&store, events).await;
    let leases = store.claim(&claimer("w1", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim");
    let lease = |id: &str| leases.iter().find(|l| l.run_id == id).cloned().expect("every run is claimed");
    assert_ne!(lease("01S").token, stale.token, "acks_at_once: the expired run is claimed again");
    let done = |id: &str, event: &str, output: &str| {
        let mut r = run(id, "f", event);
        r.status = RunStatus::Completed;
        r.output = Some(json!(output));
        r.wake_at = None;
        let mut a = ack(r);
        a.steps = vec![step(id, &format!("h{id}"), Memo::Data(json!(output)))];
        a
    };
    let mut stale_ack = done("01S", "e0", "stale");
    stale_ack.events = vec![NewEvent::new(event("fin-S", "inngest/function.finished", 3))];
    let mut a = done("01A", "e1", "a");
    a.events = vec![
        NewEvent::new(event("fin-A", "inngest/function.finished", 3)),
        NewEvent::new(event("shared", "app/sent", 3)),
    ];
    let mut asleep = run("01B", "f", "e2");
    asleep.status = RunStatus::Running;
    asleep.wake_at = Some(NOW + 500);
    let mut b = ack(asleep);
    b.steps = vec![step("01B", "h01B", Memo::Data(json!("b")))];
    b.events = vec![NewEvent::new(event("shared", "app/sent", 3))];
    let mut waiting = run("01C", "f", "e3");
    waiting.status = RunStatus::Waiting;
    waiting.wake_at = Some(NOW + 1_000);
    let mut c = ack(waiting);
    c.waiting_on = vec!["w1".into()];
    let mut d = done("01D", "e4", "d");
    d.events = vec![with_runs(event("fin-D", "inngest/function.finished", 3), vec![run("01Z", "on-finish", "fin-D")])];
    let (ra, rs, rb, rc, rd) = (lease("01A"), stale.clone(), lease("01B"), lease("01C"), lease("01D"));
    let written = futures::future::join_all([
        store.ack(&ra, a, None),
        store.ack(&rs, stale_ack, None),
        store.ack(&rb, b, None),
        store.ack(&rc, c, None),
        store.ack(&rd, d, None),
    ])
    .await;
    let mut written = written.into_iter().map(|w| w.expect("ack"));
    let (wa, ws, wb, wc, wd) = (
        written.next().expect("a"),
        written.next().expect("stale"),
        written.next().expect("b"),
        written.next().expect("c"),
        written.next().expect("d"),
    );
    assert_eq!(ws, Acked::Stale, "acks_at_once: the stale ack is stale");
    assert!(store.journal("01S").await.expect("journal").is_empty(), "acks_at_once: no step of the stale pass");
    assert_eq!(store.run("01S").await.expect("run").map(|r| r.status), Some(RunStatus::Queued));
    assert!(store.events(&["fin-S".into()]).await.expect("events").is_empty(), "nor its events");
    let (Acked::Committed { due: due_a, events: ev_a }, Acked::Committed { due: due_b, events: ev_b }) = (wa, wb)
    else {
        panic!("acks_at_once: the acks with their lease commit")
    };
    assert_eq!((due_a, due_b), (None, Some(NOW + 500)), "acks_at_once: each ack's due time is its own");
    assert_eq!(ev_a.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), vec!["fin-A", "shared"]);
    assert!(ev_a[0].new, "acks_at_once: an emitted event is new");
    assert_eq!(ev_b.len(), 1);
    assert!(ev_a[1].new != ev_b[0].new, "acks_at_once: an event id two acks emit is new for one of them");
    assert_eq!(store.events(&["fin-A".into(), "shared".into()]).await.expect("events").len(), 2);
    assert!(matches!(wc, Acked::Committed { due: Some(d), .. } if d == NOW + 1_000), "acks_at_once: a wait keeps");
    let Acked::Committed { events: ev_d, .. } = wd else { panic!("acks_at_once: d commits") };
    assert_eq!(ids(&ev_d[0].runs), vec!["01Z"], "acks_at_once: emitted events create their runs");
    for (id, output) in [("01A", "a"), ("01D", "d")] {
        let r = store.run(id).await.expect("run").expect("the run exists");
        assert_eq!((r.status, r.output), (RunStatus::Completed, Some(json!(output))), "acks_at_once: {id} ended");
        assert_eq!(store.journal(id).await.expect("journal").len(), 1, "acks_at_once: {id}'s step");
    }
    assert_eq!(store.run("01B").await.expect("run").map(|r| r.status), Some(RunStatus::Running));
    assert_eq!(store.matchers("app/approved", &json!({"data": {"id": "x"}}), NOW).await.expect("matchers").len(), 1);
    claim_one(&store, "on-finish", NOW).await;
    assert!(
        store.claim(&claimer("w2", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim").is_empty(),
        "acks_at_once: every lease was given back, and nothing is due before its time"
    );
    assert!(matches!(
        store.ack(&lease("01S"), done("01S", "e0", "current"), None).await.expect("ack"),
        Acked::Committed { .. }
    ));
    assert_eq!(store.run("01S").await.expect("run").and_then(|r| r.output), Some(json!("current")));
}

async fn renewed_leases_are_kept_and_expired_ones_claimable(store: Arc<dyn Store>) {
    accept(
        &store,
        vec![
            with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")]),
            with_runs(event("e2", "a", 1), vec![run("01B", "f", "e2")]),
        ],
    )
    .await;
    let short = claimer("w1", &["f"], Duration::from_millis(150));
    let leases = store.claim(&short, NOW, 10).await.expect("claim");
    assert_eq!(leases.len(), 2);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let kept = store.renew(&leases[..1], Duration::from_millis(150)).await.expect("renew");
        assert_eq!(kept, vec![true], "a renewed lease is kept");
    }
    let taken = store.claim(&claimer("w2", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim");
    assert_eq!(
        taken.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(),
        vec!["01B"],
        "only the expired one is taken"
    );
    assert_eq!(store.renew(&leases, Duration::from_secs(1)).await.expect("renew"), vec![true, false]);
}

async fn expired_leases_count_as_interrupted_until_a_pass_ends(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let dying = claimer("w1", &["f"], Duration::ZERO);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(store.claim(&dying, NOW, 1).await.expect("claim").remove(0).interrupted);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, vec![0, 1, 2], "each expired lease before a claim counts");
    let lease = claim_one(&store, "f", NOW).await;
    assert_eq!(lease.interrupted, 3);
    assert!(matches!(store.ack(&lease, ack(run("01A", "f", "e1")), None).await.expect("ack"), Acked::Committed { .. }));
    let lease = claim_one(&store, "f", NOW).await;
    assert_eq!(lease.interrupted, 0, "an acknowledged pass starts the count again");
    store.release(&lease, NOW).await.expect("release");
    assert_eq!(claim_one(&store, "f", NOW).await.interrupted, 0, "a release is not an interruption");
}

async fn acks_schedule_the_next_due_time(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut sleeping = run("01A", "f", "e1");
    sleeping.status = RunStatus::Sleeping;
    sleeping.wake_at = Some(NOW + 3 * 86_400_000);
    let Acked::Committed { due, .. } = store.ack(&lease, ack(sleeping), None).await.expect("ack") else {
        panic!("acks_schedule: the lease is held")
    };
    assert_eq!(due, Some(NOW + 3 * 86_400_000), "due when it asked");
    let claimer = claimer("w1", &["f"], Duration::from_secs(30));
    assert!(store.claim(&claimer, NOW + 86_400_000, 10).await.expect("claim").is_empty(), "not due after one day");
    let lease = store.claim(&claimer, NOW + 3 * 86_400_000, 10).await.expect("claim");
    assert_eq!(lease.len(), 1, "a timer three days out fires once, when due");
    assert!(store.claim(&claimer, NOW + 4 * 86_400_000, 10).await.expect("claim").is_empty(), "and only once");
}

async fn resolutions_are_written_once_and_wake_the_run(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut waiting = run("01A", "f", "e1");
    waiting.status = RunStatus::Waiting;
    waiting.wake_at = Some(NOW + 86_400_000);
    let mut a = ack(waiting);
    a.matchers = vec![wait_matcher("01A", "hw", "u1", NOW + 86_400_000)];
    a.waiting_on = vec!["hw".into()];
    store.ack(&lease, a, None).await.expect("ack");
    assert!(store.observes("app/approved"), "a stored matcher is observed");
    let found = store.matchers("app/approved", &json!({"data": {"id": "u1"}}), NOW).await.expect("matchers");
    assert_eq!(found.iter().map(|c| c.matcher.run_id.as_str()).collect::<Vec<_>>(), vec!["01A"], "matched by value");
    assert!(store.matchers("app/approved", &json!({"data": {"id": "u2"}}), NOW).await.expect("matchers").is_empty());
    let resolution = |by: &str| Resolution {
        matcher: Some("hw".into()),
        record: StepRecord { kind: StepKind::Wait, ended_at: NOW + 5, ..step("01A", "hw", Memo::Data(json!(by))) },
    };
    let first = NewEvent { resolves: vec![resolution("first")], ..NewEvent::new(event("e2", "app/approved", 5)) };
    let second = NewEvent { resolves: vec![resolution("second")], ..NewEvent::new(event("e3", "app/approved", 6)) };
    accept(&store, vec![first]).await;
    accept(&store, vec![second]).await;
    let journal = store.journal("01A").await.expect("journal");
    assert_eq!(journal.len(), 1, "a wait is resolved once");
    assert_eq!(journal[0].memo, Memo::Data(json!("first")), "by the first event that matched");
    assert!(store.matchers("app/approved", &json!({"data": {"id": "u1"}}), NOW).await.expect("matchers").is_empty());
    let woken = store.claim(&claimer("w1", &["f"], Duration::from_secs(30)), NOW + 5, 10).await.expect("claim");
    assert_eq!(woken.len(), 1, "the resolved run is due at once");
}

async fn timeouts_resolve_only_waits_that_still_wait(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    let mut waiting = run("01A", "f", "e1");
    waiting.status = RunStatus::Waiting;
    waiting.wake_at = Some(NOW + 10);
    let mut a = ack(waiting);
    a.matchers = vec![wait_matcher("01A", "hw", "u1", NOW + 10), wait_matcher("01A", "hx", "u1", NOW + 10)];
    store.ack(&lease, a, None).await.expect("ack");
    // The event for `hx` arrives just before its timeout is written.
    let arrived = Resolution {
        matcher: Some("hx".into()),
        record: StepRecord { kind: StepKind::Wait, ..step("01A", "hx", Memo::Data(json!("event"))) },
    };
    accept(&store, vec![NewEvent { resolves: vec![arrived], ..NewEvent::new(event("e2", "app/approved", 5)) }]).await;
    let lease = claim_one(&store, "f", NOW + 10).await;
    let timeout = |hash: &str| Resolution {
        matcher: Some(hash.into()),
        record: StepRecord { kind: StepKind::Wait, ..step("01A", hash, Memo::Data(json!(null))) },
    };
    let checkpoint = Checkpoint { resolutions: vec![timeout("hw"), timeout("hx")], ..Checkpoint::default() };
    assert!(store.checkpoint(&lease, checkpoint).await.expect("checkpoint"));
    let memos: Vec<(String, Memo)> =
        store.journal("01A").await.expect("journal").into_iter().map(|s| (s.hash, s.memo)).collect();
    assert!(memos.contains(&("hw".into(), Memo::Data(json!(null)))), "a wait that still waited times out");
    assert!(memos.contains(&("hx".into(), Memo::Data(json!("event")))), "a wait already resolved keeps its event");
}

async fn cancellations_are_stored_and_wake_the_run(store: Arc<dyn Store>) {
    let mut sleeping = run("01A", "f", "e1");
    sleeping.wake_at = Some(NOW + 86_400_000);
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![sleeping])]).await;
    assert!(!store.cancel_requested("01A"));
    let cancellation = Cancellation { by: CancelledBy::Request { via: "api".into() }, at: NOW + 3 };
    assert!(store.request_cancel("01A", cancellation.clone()).await.expect("cancel"), "an active run can be cancelled");
    assert!(store.cancel_requested("01A"), "the request is seen");
    let later = Cancellation { by: CancelledBy::Request { via: "ui".into() }, at: NOW + 4 };
    store.request_cancel("01A", later).await.expect("cancel");
    assert_eq!(
        store.run("01A").await.expect("run").and_then(|r| r.cancellation),
        Some(cancellation),
        "the first reason stays"
    );
    let lease = claim_one(&store, "f", NOW + 3).await;
    let mut cancelled = run("01A", "f", "e1");
    cancelled.status = RunStatus::Cancelled;
    cancelled.wake_at = None;
    store.ack(&lease, ack(cancelled), None).await.expect("ack");
    assert!(!store.cancel_requested("01A"), "an ended run has no pending cancellation");
    let again = Cancellation { by: CancelledBy::Request { via: "api".into() }, at: NOW + 9 };
    assert!(!store.request_cancel("01A", again).await.expect("cancel"), "an ended run cannot be cancelled");
    assert!(!store
        .request_cancel("nope", Cancellation { by: CancelledBy::Request { via: "api".into() }, at: 0 })
        .await
        .expect("cancel"));
    // A cancel_on match in an accepted event is a cancellation too.
    accept(&store, vec![with_runs(event("e2", "a", 2), vec![run("01B", "f", "e2")])]).await;
    let by_event = CancelRequest {
        run_id: "01B".into(),
        cancellation: Cancellation {
            by: CancelledBy::Event { event_id: "e3".into(), event_name: "x".into() },
            at: NOW,
        },
    };
    accept(&store, vec![NewEvent { cancels: vec![by_event], ..NewEvent::new(event("e3", "x", 3)) }]).await;
    assert!(store.cancel_requested("01B"));
    if let Some(queries) = store.queries() {
        let cancelled_by = |id: &'static str| async move {
            let runs = queries.runs_cancelled_by(id, 10).await.expect("runs cancelled by");
            runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(cancelled_by("e3").await, vec!["01B"], "the runs an event cancelled are listed under it");
        assert!(cancelled_by("e1").await.is_empty(), "a request is not an event");
        assert!(cancelled_by("e2").await.is_empty());
    }
}

async fn what_arrives_during_a_pass_makes_it_due_again(store: Arc<dyn Store>) {
    accept(
        &store,
        vec![
            with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")]),
            with_runs(event("e2", "a", 1), vec![run("01B", "f", "e2")]),
        ],
    )
    .await;
    let mut leases = store.claim(&claimer("w1", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim");
    let (a, b) = (leases.remove(0), leases.remove(0));
    // 01A's wait was resolved (by the previous pass's matcher) while this pass ran.
    let resolved = Resolution {
        matcher: None,
        record: StepRecord { kind: StepKind::Wait, ..step("01A", "hw", Memo::Data(json!("event"))) },
    };
    accept(&store, vec![NewEvent { resolves: vec![resolved], ..NewEvent::new(event("e9", "app/approved", 5)) }]).await;
    let cancel = Cancellation { by: CancelledBy::Request { via: "api".into() }, at: NOW + 1 };
    store.request_cancel("01B", cancel).await.expect("cancel");
    let mut waiting = run("01A", "f", "e1");
    waiting.status = RunStatus::Waiting;
    waiting.wake_at = Some(NOW + 86_400_000);
    let mut suspend = ack(waiting);
    suspend.waiting_on = vec!["hw".into()];
    suspend.at = NOW + 2;
    let Acked::Committed { due, .. } = store.ack(&a, suspend, None).await.expect("ack") else { panic!("held") };
    assert_eq!(due, Some(NOW + 2), "a result that arrived during the pass makes the run due now");
    let mut sleeping = run("01B", "f", "e2");
    sleeping.status = RunStatus::Sleeping;
    sleeping.wake_at = Some(NOW + 86_400_000);
    let mut suspend = ack(sleeping);
    suspend.at = NOW + 2;
    let Acked::Committed { due, .. } = store.ack(&b, suspend, None).await.expect("ack") else { panic!("held") };
    assert_eq!(due, Some(NOW + 2), "so does a cancellation");
}

async fn released_runs_are_due_again(store: Arc<dyn Store>) {
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])]).await;
    let lease = claim_one(&store, "f", NOW).await;
    store.release(&lease, NOW + 1_000).await.expect("release");
    assert!(store.claim(&claimer("w2", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim").is_empty());
    claim_one(&store, "f", NOW + 1_000).await;
    assert_eq!(store.ack(&lease, ack(run("01A", "f", "e1")), None).await.expect("ack"), Acked::Stale);
}

async fn runs_claimed_on_insert_belong_to_the_claimer(store: Arc<dyn Store>) {
    let claim = claimer("w1", &["f"], Duration::from_secs(30));
    let batch =
        Batch { events: vec![with_runs(event("e1", "a", 1), vec![run("01A", "f", "e1")])], runs: Vec::new(), at: NOW };
    let out = store.accept(&batch, Some(&claim)).await.expect("accept");
    let lease = out.events[0].runs[0].lease.clone().expect("leased to the claimer");
    assert!(store.claim(&claimer("w2", &["f"], Duration::from_secs(30)), NOW, 10).await.expect("claim").is_empty());
    let mut done = run("01A", "f", "e1");
    done.status = RunStatus::Completed;
    done.wake_at = None;
    assert!(matches!(store.ack(&lease, ack(done), None).await.expect("ack"), Acked::Committed { .. }));
}

async fn matchers_expire_and_end_with_their_run(store: Arc<dyn Store>) {
    let mut with_cancel = NewRun::new(run("01A", "f", "e1"));
    with_cancel.matchers = vec![Matcher {
        id: "cancel:0".into(),
        kind: MatcherKind::Cancel,
        name: String::new(),
        event: "app/stop".into(),
        expr: None,
        join: None,
        ..wait_matcher("01A", "cancel:0", "u1", NOW + 100)
    }];
    accept(&store, vec![NewEvent { runs: vec![with_cancel], ..NewEvent::new(event("e1", "a", 1)) }]).await;
    assert_eq!(store.matchers("app/stop", &json!({}), NOW).await.expect("matchers").len(), 1);
    assert!(store.matchers("app/stop", &json!({}), NOW + 101).await.expect("matchers").is_empty(), "expired");
    let lease = claim_one(&store, "f", NOW).await;
    let mut done = run("01A", "f", "e1");
    done.status = RunStatus::Completed;
    done.wake_at = None;
    store.ack(&lease, ack(done), None).await.expect("ack");
    assert!(store.matchers("app/stop", &json!({}), NOW).await.expect("matchers").is_empty(), "gone with the run");
    // `observes` may lag (a store shared by workers learns of removals by notification); it
    // must stop answering `true` for a name no matcher waits on.
    let mut observed = store.observes("app/stop");
    for _ in 0..200 {
        if !observed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        observed = store.observes("app/stop");
    }
    assert!(!observed, "no matcher waits for app/stop any more");
}

async fn invoked_results_resume_the_caller(store: Arc<dyn Store>) {
    let mut parent = run("01P", "caller", "e1");
    parent.status = RunStatus::Waiting;
    parent.wake_at = Some(NOW + 86_400_000);
    accept(&store, vec![with_runs(event("e1", "a", 1), vec![parent, run("01C", "callee", "e1")])]).await;
    let lease = claim_one(&store, "callee", NOW).await;
    let mut done = run("01C", "callee", "e1");
    done.status = RunStatus::Completed;
    done.wake_at = None;
    let mut a = ack(done);
    a.resume = vec![Resume {
        run_id: "01P".into(),
        record: StepRecord { kind: StepKind::Invoke, ended_at: NOW + 7, ..step("01P", "hi", Memo::Data(json!(42))) },
    }];
    store.ack(&lease, a, None).await.expect("ack");
    assert_eq!(store.journal("01P").await.expect("journal")[0].memo, Memo::Data(json!(42)));
    claim_one(&store, "caller", NOW + 7).await;
}

fn gated(mut run: RunRecord, rate: Option<(&str, u32, i64)>, singleton: Option<(&str, bool)>) -> NewRun {
    run.flow.singleton = singleton.map(|(lock, _)| lock.to_owned());
    let rates = rate
        .map(|(bucket, limit, period_ms)| RateGate {
            bucket: bucket.into(),
            limit,
            period_ms,
            burst: 0,
            reason: SkipReason::RateLimit { key: bucket.into() },
        })
        .into_iter()
        .collect();
    let gates = Gates { rates, singleton_cancels: singleton.is_some_and(|(_, cancels)| cancels), window: None };
    NewRun { gates, ..NewRun::new(run) }
}

async fn accept_at(store: &Arc<dyn Store>, event: StoredEvent, runs: Vec<NewRun>, at: i64) -> super::Accepted {
    let new = NewEvent { runs, ..NewEvent::new(event) };
    store.accept(&Batch { events: vec![new], runs: Vec::new(), at }, None).await.expect("accept").events.remove(0)
}

async fn gates_skip_runs_record_why_and_charge_only_what_they_admit(store: Arc<dyn Store>) {
    if !store.enforces(FlowControl::RateLimit) {
        return;
    }
    let what = "gates_skip_runs_record_why_and_charge_only_what_they_admit";
    let limited = |id: &str, event: &str| gated(run(id, "f", event), Some(("f:k", 1, 1_000)), None);
    let first = accept_at(&store, event("e1", "a", 1), vec![limited("01A", "e1")], NOW).await;
    assert_eq!(ids(&first.runs), vec!["01A"], "{what}: the first run is admitted");
    // Two gates: the second refuses, and the first is not charged for a run not created.
    let both = gated(run("01B", "f", "e2"), Some(("f:k", 1, 1_000)), None);
    let mut both = both;
    both.gates.rates.insert(
        0,
        RateGate {
            bucket: "f:other".into(),
            limit: 1,
            period_ms: 1_000,
            burst: 0,
            reason: SkipReason::RateLimit { key: "other".into() },
        },
    );
    let second = accept_at(&store, event("e2", "a", 2), vec![both], NOW + 999).await;
    assert!(second.runs.is_empty(), "{what}: over the limit, no run");
    assert_eq!(second.skipped.len(), 1, "{what}: the skip is answered");
    assert_eq!(second.skipped[0].reason, SkipReason::RateLimit { key: "f:k".into() });
    assert_eq!((second.skipped[0].event_id.as_str(), second.skipped[0].at), ("e2", NOW + 999));
    assert!(store.run("01B").await.expect("run").is_none(), "{what}: the run was not created");
    assert_eq!(store.events(&["e2".into()]).await.expect("events").len(), 1, "{what}: the event is stored");
    let other = gated(run("01C", "f", "e3"), Some(("f:other", 1, 1_000)), None);
    let third = accept_at(&store, event("e3", "a", 3), vec![other], NOW + 999).await;
    assert_eq!(ids(&third.runs), vec!["01C"], "{what}: a refused run charged no other gate");
    let later = accept_at(&store, event("e4", "a", 4), vec![limited("01D", "e4")], NOW + 1_000).await;
    assert_eq!(ids(&later.runs), vec!["01D"], "{what}: a period later the limit admits again");
    if let Some(queries) = store.queries() {
        let skips = queries.skips_of_event("e2").await.expect("skips");
        assert_eq!(skips, second.skipped, "{what}: the skip is a record");
        assert_eq!(queries.skips_of_function("f", 0).await.expect("skips"), second.skipped);
        assert_eq!(queries.skip_counts().await.expect("counts").get("f"), Some(&1));
    }
}

async fn singleton_locks_are_held_until_the_run_ends(store: Arc<dyn Store>) {
    if !store.enforces(FlowControl::Singleton) {
        return;
    }
    let what = "singleton_locks_are_held_until_the_run_ends";
    let single = |id: &str, event: &str, cancels: bool| gated(run(id, "f", event), None, Some(("f", cancels)));
    let first = accept_at(&store, event("e1", "a", 1), vec![single("01A", "e1", false)], NOW).await;
    assert_eq!(ids(&first.runs), vec!["01A"]);
    let skipped = accept_at(&store, event("e2", "a", 2), vec![single("01B", "e2", false)], NOW).await;
    assert_eq!(skipped.skipped[0].reason, SkipReason::Singleton { run_id: "01A".into() }, "{what}: skip mode");
    let replacing = accept_at(&store, event("e3", "a", 3), vec![single("01C", "e3", true)], NOW).await;
    assert_eq!(ids(&replacing.runs), vec!["01C"], "{what}: cancel mode creates the new run");
    assert!(store.cancel_requested("01A"), "{what}: and cancels the active one");
    assert_eq!(
        store.run("01A").await.expect("run").and_then(|r| r.cancellation).map(|c| c.by),
        Some(CancelledBy::Singleton { run_id: "01C".into() })
    );
    let held = accept_at(&store, event("e4", "a", 4), vec![single("01D", "e4", false)], NOW).await;
    assert_eq!(held.skipped[0].reason, SkipReason::Singleton { run_id: "01C".into() }, "{what}: the new run holds it");
    // The holder ends: the lock is free.
    let lease = store
        .claim(&claimer("w1", &["f"], Duration::from_secs(30)), NOW, 10)
        .await
        .expect("claim")
        .into_iter()
        .find(|l| l.run_id == "01C")
        .expect("01C is due");
    let mut done = store.run("01C").await.expect("run").expect("exists");
    done.status = RunStatus::Completed;
    done.ended_at = Some(NOW);
    done.wake_at = None;
    assert!(matches!(store.ack(&lease, ack(done), None).await.expect("ack"), Acked::Committed { .. }));
    let free = accept_at(&store, event("e5", "a", 5), vec![single("01E", "e5", false)], NOW).await;
    assert_eq!(ids(&free.runs), vec!["01E"], "{what}: a run that ended lets go of its lock");
}

/// A run of `function` for `event` that goes into the window of `bucket`, due when a window it
/// opens closes (`period_ms` after `at`), its event's `ts` being `ts`.
fn windowed(id: &str, event: &str, bucket: &str, rule: WindowRule, at: i64, ts: i64) -> NewRun {
    let period_ms = match rule {
        WindowRule::Debounce { period_ms, .. } => period_ms,
        WindowRule::Batch { .. } => 10_000,
    };
    let mut run = run(id, "w", event);
    run.wake_at = Some(at + period_ms);
    let window = WindowGate { bucket: bucket.into(), key: String::new(), timeout_ms: None, ts, rule };
    NewRun { gates: Gates { window: Some(window), ..Gates::default() }, ..NewRun::new(run) }
}

async fn windows_take_events_until_their_run_is_claimed_or_full(store: Arc<dyn Store>) {
    if !store.enforces(FlowControl::Debounce) || !store.enforces(FlowControl::BatchEvents) {
        return;
    }
    let what = "windows_take_events_until_their_run_is_claimed_or_full";
    let debounce = WindowRule::Debounce { period_ms: 1_000, all_events: false };
    let opened = accept_at(&store, event("e1", "a", 1), vec![windowed("01A", "e1", "w", debounce, NOW, 1)], NOW).await;
    assert_eq!(ids(&opened.runs), vec!["01A"], "{what}: the first event opens a window");
    let joined =
        accept_at(&store, event("e2", "a", 2), vec![windowed("01B", "e2", "w", debounce, NOW + 500, 2)], NOW + 500)
            .await;
    assert!(joined.runs.is_empty() && joined.skipped.is_empty(), "{what}: the next joins it: {joined:?}");
    let run_a = store.run("01A").await.expect("run").expect("01A");
    assert_eq!((run_a.wake_at, run_a.event_ids), (Some(NOW + 1_500), vec!["e2".to_owned()]), "{what}: moved, chosen");
    assert!(store.run("01B").await.expect("run").is_none(), "{what}: no second run");
    if let Some(queries) = store.queries() {
        let went = queries.debounces_of_event("e2").await.expect("windows");
        assert_eq!(went.iter().map(|d| d.run_id.as_str()).collect::<Vec<_>>(), ["01A"], "{what}: recorded");
    }
    let early = store.claim(&claimer("w1", &["w"], Duration::from_secs(30)), NOW + 1_000, 10).await.expect("claim");
    assert!(early.is_empty(), "{what}: not due at its first close: {early:?}");
    claim_one(&store, "w", NOW + 1_500).await;
    let after =
        accept_at(&store, event("e3", "a", 3), vec![windowed("01C", "e3", "w", debounce, NOW + 1_500, 3)], NOW + 1_500)
            .await;
    assert_eq!(ids(&after.runs), vec!["01C"], "{what}: a claimed window's run takes no event: a new window opens");
    let batch = WindowRule::Batch { max_size: 2 };
    let first = accept_at(&store, event("e4", "a", 4), vec![windowed("01D", "e4", "b", batch, NOW, 4)], NOW).await;
    assert_eq!(ids(&first.runs), vec!["01D"]);
    let full = accept_at(&store, event("e5", "a", 5), vec![windowed("01E", "e5", "b", batch, NOW, 5)], NOW + 1).await;
    assert!(full.runs.is_empty(), "{what}: the second event fills the batch");
    assert_eq!(windows(&full), [("01D", "e5")], "{what}: the answer names the batch's run");
    let run_d = store.run("01D").await.expect("run").expect("01D");
    assert_eq!((run_d.wake_at, run_d.event_ids.len()), (Some(NOW + 1), 2), "{what}: a full batch is due at once");
    let next = accept_at(&store, event("e6", "a", 6), vec![windowed("01F", "e6", "b", batch, NOW, 6)], NOW + 2).await;
    assert_eq!(ids(&next.runs), vec!["01F"], "{what}: and the next event opens another");
}

/// The runs and events of a receipt's windows.
fn windows(accepted: &super::Accepted) -> Vec<(&str, &str)> {
    accepted.windowed.iter().map(|d| (d.run_id.as_str(), d.event_id.as_str())).collect()
}

async fn a_chosen_event_brings_its_cancel_on_conditions(store: Arc<dyn Store>) {
    if !store.enforces(FlowControl::Debounce) {
        return;
    }
    let what = "a_chosen_event_brings_its_cancel_on_conditions";
    let debounce = WindowRule::Debounce { period_ms: 1_000, all_events: false };
    // A `cancel_on` condition joined on the trigger's `data.id`, as the engine makes it for a
    // run of its own created at `at`, with a one-minute timeout.
    let cancellable = |id: &str, event: &str, at: i64, ts: i64| {
        let cancel = Matcher {
            kind: MatcherKind::Cancel,
            name: String::new(),
            event: "app/stop".into(),
            trigger: Some(event.into()),
            since: at,
            ..wait_matcher(id, "cancel:0", event, at + 60_000)
        };
        NewRun { matchers: vec![cancel], ..windowed(id, event, "c", debounce, at, ts) }
    };
    let opened = accept_at(&store, event("e1", "a", 1), vec![cancellable("01A", "e1", NOW, 1)], NOW).await;
    assert_eq!(windows(&opened), [("01A", "e1")], "{what}: the answer names the window the event opened");
    let joined = accept_at(&store, event("e2", "a", 2), vec![cancellable("01B", "e2", NOW + 500, 2)], NOW + 500).await;
    assert_eq!(windows(&joined), [("01A", "e2")], "{what}: and the one it joined");
    let stop = |id: &str| json!({"name": "app/stop", "data": {"id": id}});
    let first = store.matchers("app/stop", &stop("e1"), NOW + 600).await.expect("matchers");
    assert!(first.is_empty(), "{what}: the replaced event's condition no longer cancels the run: {first:?}");
    let chosen = store.matchers("app/stop", &stop("e2"), NOW + 600).await.expect("matchers");
    let runs: Vec<&str> = chosen.iter().map(|c| c.matcher.run_id.as_str()).collect();
    assert_eq!(runs, ["01A"], "{what}: the chosen event's condition cancels the window's run");
    let m = &chosen[0].matcher;
    assert_eq!((m.since, m.deadline), (NOW, NOW + 60_000), "{what}: its timeout counts from the window's opening");
}

/// Accepts twenty events at once, each with the run `make(i)` makes: answers the runs
/// created and the skips, over all of them.
async fn accept_at_once(store: &Arc<dyn Store>, make: impl Fn(usize) -> NewRun) -> (Vec<String>, usize) {
    let accepts: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let run = make(i);
            let event = event(&run.run.event_ids[0], "a", i64::try_from(i).unwrap_or(0));
            tokio::spawn(async move { accept_at(&store, event, vec![run], NOW).await })
        })
        .collect();
    let (mut created, mut skipped) = (Vec::new(), 0);
    for accept in accepts {
        let accepted = accept.await.expect("accept task");
        created.extend(accepted.runs.into_iter().map(|r| r.id));
        skipped += accepted.skipped.len();
    }
    (created, skipped)
}

async fn accepts_at_once_share_each_gate_and_window(store: Arc<dyn Store>) {
    let options = [FlowControl::RateLimit, FlowControl::Singleton, FlowControl::Debounce, FlowControl::BatchEvents];
    if !options.into_iter().all(|o| store.enforces(o)) {
        return;
    }
    let what = "accepts_at_once_share_each_gate_and_window";
    let rated = |i: usize| gated(run(&format!("01R{i:02}"), "f", &format!("r{i}")), Some(("f:k", 1, 60_000)), None);
    let (created, skipped) = accept_at_once(&store, rated).await;
    assert_eq!((created.len(), skipped), (1, 19), "{what}: a limit of one admits one of twenty at once");
    let single = |i: usize| gated(run(&format!("01S{i:02}"), "g", &format!("s{i}")), None, Some(("g", false)));
    let (created, skipped) = accept_at_once(&store, single).await;
    assert_eq!((created.len(), skipped), (1, 19), "{what}: a singleton lock gets one holder");
    let debounce = WindowRule::Debounce { period_ms: 60_000, all_events: false };
    let quiet = |i: usize| {
        let ts = i64::try_from(i).unwrap_or(0);
        windowed(&format!("01W{i:02}"), &format!("w{i}"), "w", debounce, NOW, ts)
    };
    let (created, _) = accept_at_once(&store, quiet).await;
    assert_eq!(created.len(), 1, "{what}: twenty events at once go into one window: {created:?}");
    let run = store.run(&created[0]).await.expect("run").expect("the window's run");
    assert_eq!(run.event_ids, ["w19"], "{what}: with the newest event");
    let batch =
        |i: usize| windowed(&format!("01B{i:02}"), &format!("b{i}"), "b", WindowRule::Batch { max_size: 5 }, NOW, 0);
    let (created, _) = accept_at_once(&store, batch).await;
    assert_eq!(created.len(), 4, "{what}: twenty events at once fill four batches of five: {created:?}");
    for id in &created {
        let run = store.run(id).await.expect("run").expect("a batch's run");
        assert_eq!(run.event_ids.len(), 5, "{what}: each full: {run:?}");
    }
}
