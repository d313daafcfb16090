//! The conformance suite every [`Store`] must pass (feature `testing`). Call [`run_all`] with
//! a function that makes a fresh, empty store.

use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use super::{
    EventQuery, Memo, NewEvent, PendingOp, RunQuery, RunRecord, RunState, RunStatus, RunUpdate, StepKind, StepRecord,
    Store, StoredEvent,
};
use crate::error::ErrorInfo;
use crate::webhook::EventSource;

/// Runs every check against fresh stores from `make`. Panics with the failing check's name.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    accept_is_idempotent(make().await).await;
    runs_are_unique_per_event_and_function(make().await).await;
    journal_entries_are_never_overwritten(make().await).await;
    run_records_round_trip(make().await).await;
    active_runs_exclude_ended_ones(make().await).await;
    events_are_listed_newest_first_with_filters(make().await).await;
    runs_are_listed_with_filters(make().await).await;
    saves_commit_emitted_events(make().await).await;
    embedded_events_read_back_whole(make().await).await;
    reruns_do_not_collide_with_their_original(make().await).await;
    logs_are_kept_per_run_in_order(make().await).await;
}

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
        created_at: 1_000,
        started_at: None,
        ended_at: None,
        output: None,
        error: None,
        wake_at: None,
        state: RunState::default(),
        parent: None,
        rerun_of: None,
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
    }
}

async fn accept(store: &Arc<dyn Store>, events: Vec<NewEvent>) -> Vec<super::Accepted> {
    store.accept(&events).await.expect("accept")
}

async fn accept_is_idempotent(store: Arc<dyn Store>) {
    let first =
        accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs: vec![run("01A", "f", "e1")], embeds: None }])
            .await;
    assert!(first[0].new, "accept_is_idempotent: a new event is new");
    assert_eq!(first[0].runs, vec!["01A".to_owned()]);
    let again =
        accept(&store, vec![NewEvent { event: event("e1", "a", 2), runs: vec![run("01B", "f", "e1")], embeds: None }])
            .await;
    assert!(!again[0].new, "accept_is_idempotent: the same id is not new");
    assert!(again[0].runs.is_empty(), "accept_is_idempotent: no runs for a repeated event");
    assert!(store.run("01B").await.expect("run").is_none());
    let events = store.events(&["e1".into(), "missing".into()]).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].received_at, 1, "accept_is_idempotent: the first copy is kept");
}

async fn runs_are_unique_per_event_and_function(store: Arc<dyn Store>) {
    let out = accept(
        &store,
        vec![NewEvent {
            event: event("e1", "a", 1),
            runs: vec![run("01A", "f", "e1"), run("01B", "f", "e1"), run("01C", "g", "e1")],
            embeds: None,
        }],
    )
    .await;
    assert_eq!(out[0].runs, vec!["01A".to_owned(), "01C".to_owned()], "one run per (event, function)");
}

async fn journal_entries_are_never_overwritten(store: Arc<dyn Store>) {
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs: vec![run("01A", "f", "e1")], embeds: None }])
        .await;
    let first = step("01A", "h1", Memo::Data(json!(1)));
    store.save(vec![RunUpdate { steps: vec![first.clone()], ..RunUpdate::default() }]).await.expect("save");
    let second = step("01A", "h1", Memo::Data(json!(2)));
    let err = step("01A", "h2", Memo::Error(ErrorInfo { name: "E".into(), message: "m".into(), cause: None }));
    store.save(vec![RunUpdate { steps: vec![second, err.clone()], ..RunUpdate::default() }]).await.expect("save");
    let journal = store.journal("01A").await.expect("journal");
    assert_eq!(journal, vec![first, err], "journal entries keep their first value, in order");
}

async fn run_records_round_trip(store: Arc<dyn Store>) {
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs: vec![run("01A", "f", "e1")], embeds: None }])
        .await;
    let mut r = run("01A", "f", "e1");
    r.status = RunStatus::Waiting;
    r.attempt = 2;
    r.started_at = Some(5);
    r.wake_at = Some(99);
    r.error = Some(ErrorInfo { name: "E".into(), message: "boom".into(), cause: Some("io".into()) });
    r.state.pending.push(PendingOp::Wait {
        step: "h".into(),
        name: "wait".into(),
        spec: super::WaitSpec { event: "b".into(), expr: Some("event.data.id == async.data.id".into()) },
        until: 99,
    });
    r.state.step_attempts.insert("h2".into(), 3);
    store.save(vec![RunUpdate { run: Some(r.clone()), ..RunUpdate::default() }]).await.expect("save");
    assert_eq!(store.run("01A").await.expect("run"), Some(r), "a saved run reads back equal");
}

async fn active_runs_exclude_ended_ones(store: Arc<dyn Store>) {
    let runs = vec![run("01A", "f", "e1"), run("01B", "g", "e1"), run("01C", "h", "e1")];
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs, embeds: None }]).await;
    let mut done = run("01B", "g", "e1");
    done.status = RunStatus::Completed;
    done.output = Some(json!({"ok": true}));
    let mut sleeping = run("01C", "h", "e1");
    sleeping.status = RunStatus::Sleeping;
    store
        .save(vec![
            RunUpdate { run: Some(done), ..RunUpdate::default() },
            RunUpdate { run: Some(sleeping), ..RunUpdate::default() },
        ])
        .await
        .expect("save");
    let active: Vec<String> = store.active_runs().await.expect("active").into_iter().map(|r| r.id).collect();
    assert_eq!(active, vec!["01A".to_owned(), "01C".to_owned()], "active runs exclude ended ones");
}

async fn events_are_listed_newest_first_with_filters(store: Arc<dyn Store>) {
    let events = ["e1", "e2", "e3", "e4"]
        .iter()
        .enumerate()
        .map(|(i, id)| NewEvent {
            event: event(id, if i % 2 == 0 { "a" } else { "b" }, i as i64 * 10),
            runs: vec![],
            embeds: None,
        })
        .chain(std::iter::once(NewEvent {
            event: event("sys", "inngest/function.finished", 50),
            runs: vec![],
            embeds: None,
        }))
        .collect();
    accept(&store, events).await;
    let ids = |v: Vec<StoredEvent>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let all = store.list_events(&EventQuery::default()).await.expect("list");
    assert_eq!(ids(all), vec!["e4", "e3", "e2", "e1"], "newest first, internal events hidden");
    let with_internal = store
        .list_events(&EventQuery { include_internal: true, limit: 1, ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(with_internal), vec!["sys"]);
    let by_name =
        store.list_events(&EventQuery { name: Some("a".into()), ..EventQuery::default() }).await.expect("list");
    assert_eq!(ids(by_name), vec!["e3", "e1"]);
    let page =
        store.list_events(&EventQuery { before: Some("e3".into()), ..EventQuery::default() }).await.expect("list");
    assert_eq!(ids(page), vec!["e2", "e1"], "cursor pages");
    let search = store
        .list_events(&EventQuery { search: Some("E2@EXAMPLE".into()), ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(search), vec!["e2"], "search is case-insensitive over the payload");
    let window = store
        .list_events(&EventQuery { since: Some(10), until: Some(30), ..EventQuery::default() })
        .await
        .expect("list");
    assert_eq!(ids(window), vec!["e3", "e2"]);
    let like =
        store.list_events(&EventQuery { search: Some("%".into()), ..EventQuery::default() }).await.expect("list");
    assert!(like.is_empty(), "search text is literal, not a pattern");
}

async fn runs_are_listed_with_filters(store: Arc<dyn Store>) {
    let runs = vec![run("01A", "f", "e1"), run("01B", "g", "e1")];
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs, embeds: None }]).await;
    accept(&store, vec![NewEvent { event: event("e2", "a", 2), runs: vec![run("01C", "f", "e2")], embeds: None }])
        .await;
    let mut failed = run("01B", "g", "e1");
    failed.status = RunStatus::Failed;
    failed.error = Some(ErrorInfo { name: "SmtpError".into(), message: "mailbox full".into(), cause: None });
    store.save(vec![RunUpdate { run: Some(failed), ..RunUpdate::default() }]).await.expect("save");
    let ids = |v: Vec<RunRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let list = |q: RunQuery| {
        let store = store.clone();
        async move { ids(store.list_runs(&q).await.expect("list")) }
    };
    assert_eq!(list(RunQuery::default()).await, vec!["01C", "01B", "01A"], "newest first");
    assert_eq!(list(RunQuery { function_id: Some("f".into()), ..RunQuery::default() }).await, vec!["01C", "01A"]);
    assert_eq!(list(RunQuery { statuses: vec![RunStatus::Failed], ..RunQuery::default() }).await, vec!["01B"]);
    assert_eq!(list(RunQuery { event_id: Some("e1".into()), ..RunQuery::default() }).await, vec!["01B", "01A"]);
    assert_eq!(list(RunQuery { before: Some("01C".into()), limit: 1, ..RunQuery::default() }).await, vec!["01B"]);
    assert_eq!(list(RunQuery { search: Some("mailbox".into()), ..RunQuery::default() }).await, vec!["01B"]);
}

async fn saves_commit_emitted_events(store: Arc<dyn Store>) {
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs: vec![run("01A", "f", "e1")], embeds: None }])
        .await;
    let mut done = run("01A", "f", "e1");
    done.status = RunStatus::Completed;
    let emitted = NewEvent {
        event: event("fin", "inngest/function.finished", 3),
        runs: vec![run("01Z", "on-finish", "fin")],
        embeds: None,
    };
    store.save(vec![RunUpdate { run: Some(done), events: vec![emitted], ..RunUpdate::default() }]).await.expect("save");
    assert_eq!(store.events(&["fin".into()]).await.expect("events").len(), 1, "emitted events are stored");
    assert!(store.run("01Z").await.expect("run").is_some(), "and their runs");
}

async fn embedded_events_read_back_whole(store: Arc<dyn Store>) {
    let mut trigger = event("e1", "clerk/user.created", 1);
    trigger.user = Some(json!({"clerk_envelope": {"type": "user.created"}}));
    accept(&store, vec![NewEvent::new(trigger.clone())]).await;
    let mut finished = event("fin", "inngest/function.finished", 2);
    finished.data = json!({"function_id": "f", "run_id": "01A", "result": 7}).into();
    let emitted = NewEvent { embeds: Some("e1".into()), ..NewEvent::new(finished) };
    store.save(vec![RunUpdate { events: vec![emitted], ..RunUpdate::default() }]).await.expect("save");
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
        .list_events(&EventQuery { include_internal: true, ..EventQuery::default() })
        .await
        .expect("list")
        .into_iter()
        .find(|e| e.id == "fin")
        .expect("listed");
    assert_eq!(listed.data, expected, "listing reads it whole as well");
}

async fn reruns_do_not_collide_with_their_original(store: Arc<dyn Store>) {
    accept(&store, vec![NewEvent { event: event("e1", "a", 1), runs: vec![run("01A", "f", "e1")], embeds: None }])
        .await;
    let mut rerun = run("01B", "f", "e1");
    rerun.rerun_of = Some("01A".into());
    store.save(vec![RunUpdate { run: Some(rerun.clone()), ..RunUpdate::default() }]).await.expect("save");
    assert_eq!(store.run("01B").await.expect("run"), Some(rerun), "a re-run of the same event is stored");
    let for_event =
        store.list_runs(&RunQuery { event_id: Some("e1".into()), ..RunQuery::default() }).await.expect("list");
    assert_eq!(for_event.len(), 2, "both runs belong to the event");
}

async fn logs_are_kept_per_run_in_order(store: Arc<dyn Store>) {
    let line = |run: &str, message: &str| super::LogLine {
        run_id: run.into(),
        step: "send".into(),
        attempt: 0,
        ts: 5,
        level: "INFO".into(),
        message: message.into(),
    };
    store.append_logs(vec![line("r1", "first"), line("r2", "other")]).await.expect("append");
    store.append_logs(vec![line("r1", "second")]).await.expect("append");
    assert_eq!(store.logs("r1").await.expect("logs"), vec![line("r1", "first"), line("r1", "second")]);
    assert!(store.logs("r3").await.expect("logs").is_empty());
}
