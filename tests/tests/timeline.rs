//! What a run's records tell of its story, for the timeline and the API: a sleep spans the
//! time it slept; a wait keeps its name, what it waited for and what resumed it (the event, or
//! the timeout); an invoke keeps its name and the run it started; a retried step keeps every
//! failed attempt's error and time; a cancelled run keeps what it was waiting on and what
//! cancelled it, and the event is found by the runs it cancelled; a rerun marks the steps it
//! copied; the engine's "run completed" line counts the run's steps. On the test clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{CancelledBy, Memo, PendingOp, ResumedBy, RunStatus, StepKind, WaitSpec};
use hookflow::testing::TestEngine;
use hookflow::{Clock as _, Invoke, RawEvent, TestClock, WaitFor};
use serde_json::{json, Value};

const HOUR: Duration = Duration::from_secs(3_600);

/// Attempts of step `fetch` per story id (tests run in parallel: each uses its own id).
static FETCHES: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

fn fetch_attempt(id: &str) -> usize {
    let mut fetches = FETCHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = fetches.entry(id.to_owned()).or_default();
    *n += 1;
    *n
}

#[inngest_fn(id = "story-child", event = "test/story.child")]
async fn story_child(event: Event<Json>) -> Result<Value> {
    Ok(json!({ "child_of": event.data["id"] }))
}

/// Every kind of waiting there is: a step that fails twice (each attempt takes 40 ms), a
/// sleep, a wait an event resolves, a wait that times out, an invoke.
#[inngest_fn(id = "story", event = "test/story")]
async fn story(event: Event<Json>, step: Step, clock: Dep<TestClock>) -> Result<Value> {
    let id = event.data["id"].as_str().unwrap_or_default().to_owned();
    let key = id.clone();
    let fetched: String = step
        .run("fetch", || async move {
            clock.advance(Duration::from_millis(40));
            let n = fetch_attempt(&key);
            if n < 3 {
                return Err(hookflow::Error::msg(format!("attempt {n} timed out")));
            }
            Ok(format!("fetched on attempt {n}"))
        })
        .await?;
    step.sleep("cool-down", "1h").await?;
    let approval = WaitFor::timeout("1d").event("test/approved").matching("data.id");
    let approved = step.wait_for_event::<Json>("approval", approval).await?;
    let reminder = step.wait_for_event::<Json>("reminder", WaitFor::timeout("2h").event("test/never")).await?;
    let child: Value = step.invoke("child", Invoke::new(story_child::DEF, json!({ "id": id }))?).await?;
    Ok(json!({
        "fetched": fetched,
        "approved": approved.is_some(),
        "reminded": reminder.is_some(),
        "child": child,
    }))
}

async fn story_engine() -> TestEngine {
    let clock = TestClock::starting_now();
    TestEngine::builder(&[story::DEF, story_child::DEF]).clock(clock.clone()).state(clock).start().await
}

#[tokio::test]
async fn the_records_tell_how_each_step_waited_and_what_resumed_it() {
    let t = story_engine().await;
    let started = t.clock.now_ms();
    let run = t.run(story::DEF, RawEvent::new("test/story", json!({"id": "s1"}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping, "in the first attempt's back-off");
    let pending_retry = &run.record.state.pending;
    assert!(
        matches!(pending_retry.as_slice(), [PendingOp::Retry { name, .. }] if name == "fetch"),
        "{pending_retry:?}"
    );
    let failures = run.record.state.step_failures.get(&hookflow::hash_step_id("fetch")).cloned().unwrap_or_default();
    assert_eq!(failures.len(), 1, "the failed attempt is kept while the step waits for its next");
    assert_eq!(failures[0].error.message, "attempt 1 timed out");

    // Two back-offs (about 1 s, then 2 s), the sleep, then the wait for the approval.
    t.advance(Duration::from_secs(2)).await;
    t.advance(Duration::from_secs(3)).await;
    let slept_from = t.get(&run.record.id).await.expect("run").step("fetch").expect("fetch recorded").ended_at;
    t.advance(HOUR).await;
    assert_eq!(t.get(&run.record.id).await.expect("run").record.status, RunStatus::Waiting);
    let approved = t.send([RawEvent::new("test/approved", json!({"id": "s1"}))]).await.remove(0);
    t.advance(2 * HOUR).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed, "{:?}", done.record);

    let fetch = done.step("fetch").expect("fetch");
    assert_eq!(fetch.attempts, 3);
    let failures = &fetch.detail.failures;
    assert_eq!(failures.iter().map(|f| f.attempt).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(failures[0].error.message, "attempt 1 timed out");
    assert_eq!(failures[1].error.message, "attempt 2 timed out");
    for f in failures {
        assert_eq!(f.ended_at - f.started_at, 40, "each attempt's own time: {f:?}");
    }
    assert!(failures[1].started_at >= failures[0].ended_at + 1_000, "the second came after a back-off");
    assert_eq!(fetch.started_at, started, "the step's record spans all its attempts");

    let sleep = done.step("cool-down").expect("the sleep");
    assert_eq!(sleep.kind, StepKind::Sleep);
    assert_eq!(sleep.started_at, slept_from, "the sleep's bar starts when it began");
    assert!(sleep.ended_at - sleep.started_at >= 3_600_000, "and ends when it woke: {sleep:?}");

    let approval = done.step("approval").expect("the wait keeps its name");
    assert_eq!(approval.kind, StepKind::Wait);
    assert_eq!(
        approval.detail.resumed_by,
        Some(ResumedBy::Event { event_id: approved.clone(), event_name: "test/approved".into() })
    );
    let expr = Some("event.data.id == async.data.id".to_owned());
    assert_eq!(approval.detail.waited_for, Some(WaitSpec { event: "test/approved".into(), expr }));

    let reminder = done.step("reminder").expect("the timed-out wait keeps its name");
    assert_eq!(reminder.memo, Memo::Data(Value::Null));
    assert_eq!(reminder.detail.resumed_by, Some(ResumedBy::Timeout));
    assert_eq!(reminder.detail.waited_for.as_ref().map(|w| w.event.as_str()), Some("test/never"));
    assert_eq!(reminder.ended_at - reminder.started_at, 2 * 3_600_000);

    let child_run = t.runs("story-child").await.into_iter().next().expect("the child ran");
    let child = done.step("child").expect("the invoke keeps its name");
    assert_eq!(child.kind, StepKind::Invoke);
    assert_eq!(child.detail.resumed_by, Some(ResumedBy::Run { run_id: child_run.id.clone() }));
    assert_eq!(child.memo, Memo::Data(json!({"child_of": "s1"})));
    assert_eq!(done.record.output.as_ref().map(|o| o["approved"].clone()), Some(json!(true)));
}

#[tokio::test]
async fn a_rerun_marks_the_steps_it_reused() {
    let t = story_engine().await;
    let run = t.run(story::DEF, RawEvent::new("test/story", json!({"id": "s2"}))).await;
    t.advance(Duration::from_secs(2)).await;
    t.advance(Duration::from_secs(3)).await;
    t.advance(HOUR).await;
    let old = t.get(&run.record.id).await.expect("run");
    let from = old.step("cool-down").expect("the sleep is over").hash.clone();
    let rerun = t.engine.rerun(&old.record.id, Some(&from)).await.expect("rerun").expect("a new run");
    t.settle().await;
    let new = t.get(&rerun).await.expect("the rerun");
    let copied: Vec<(&str, Option<&str>)> =
        new.journal.iter().map(|s| (s.name.as_str(), s.detail.copied_from.as_deref())).collect();
    assert_eq!(copied, vec![("fetch", Some(old.record.id.as_str()))], "the reused step names its run");
    assert_eq!(new.step("fetch").map(|s| s.detail.failures.len()), Some(2), "with what it recorded");
    assert_eq!(new.record.status, RunStatus::Sleeping, "it runs again from the sleep");
    t.advance(HOUR).await;
    let new = t.get(&rerun).await.expect("the rerun");
    assert_eq!(new.step("cool-down").and_then(|s| s.detail.copied_from.clone()), None, "its own steps are its own");
}

static HELD: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(
    id = "held",
    event = "test/hold",
    cancel_on(event = "test/release", if = "event.data.id == async.data.id")
)]
async fn held(step: Step) -> Result<()> {
    step.run("first", || async { Ok(HELD.fetch_add(1, Ordering::SeqCst)) }).await?;
    step.sleep("hold", "1d").await?;
    Ok(())
}

#[tokio::test]
async fn a_cancelled_run_keeps_what_it_waited_on_and_what_cancelled_it() {
    let t = TestEngine::new(&[held::DEF]).await;
    let run = t.run(held::DEF, RawEvent::new("test/hold", json!({"id": "h1"}))).await;
    let other = t.run(held::DEF, RawEvent::new("test/hold", json!({"id": "h2"}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);
    let release = t.send([RawEvent::new("test/release", json!({"id": "h1"}))]).await.remove(0);

    let cancelled = t.get(&run.record.id).await.expect("run").record;
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let by = cancelled.cancellation.as_ref().map(|c| c.by.clone());
    assert_eq!(by, Some(CancelledBy::Event { event_id: release.clone(), event_name: "test/release".into() }));
    assert!(
        matches!(cancelled.state.pending.as_slice(), [PendingOp::Sleep { name, .. }] if name == "hold"),
        "the sleep it was cancelled in stays on its timeline: {:?}",
        cancelled.state.pending
    );
    assert_eq!(cancelled.wake_at, None, "and nothing wakes it");

    let queries = t.engine.store().queries().expect("the memory store answers queries");
    let by_release = queries.runs_cancelled_by(&release, 50).await.expect("runs cancelled by");
    assert_eq!(by_release.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![run.record.id.as_str()]);

    // A cancellation asked for from the dev UI says so.
    assert!(t.engine.cancel_by(&other.record.id, CancelledBy::Request { via: "ui".into() }).await.expect("cancel"));
    t.settle().await;
    let other = t.get(&other.record.id).await.expect("run").record;
    assert_eq!(other.status, RunStatus::Cancelled);
    assert_eq!(other.cancellation.map(|c| c.by), Some(CancelledBy::Request { via: "ui".into() }));
    assert_eq!(other.state.pending.len(), 1);
    assert!(queries.runs_cancelled_by(&release, 50).await.expect("list").len() == 1, "a request is no event");
}

// ---- the same story through the dev UI's API and the REST API ----------------------------------

/// Serves the dev UI (and its APIs) of `t` on 127.0.0.1:0; returns its base URL.
async fn serve(t: &TestEngine) -> String {
    hookflow_tests::http::serve(hookflow::devui::router(t.engine.clone(), hookflow::devui::DevUiConfig::default()))
        .await
}

async fn get(base: &str, path: &str) -> Value {
    let res = reqwest::get(format!("{base}{path}")).await.expect("request");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "GET {path}");
    res.json().await.expect("json")
}

fn step_named<'a>(detail: &'a Value, name: &str) -> &'a Value {
    let steps = detail["steps"].as_array().map(Vec::as_slice).unwrap_or_default();
    steps.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}: {detail}"))
}

#[tokio::test]
async fn the_run_api_shows_every_attempt_and_what_each_wait_waited_for() {
    let t = story_engine().await;
    let base = serve(&t).await;
    let run = t.run(story::DEF, RawEvent::new("test/story", json!({"id": "s3"}))).await;
    let path = format!("/api/v1/runs/{}", run.record.id);

    // In the back-off the run is retrying, not asleep.
    let backoff = get(&base, &path).await;
    assert_eq!(
        (backoff["run"]["status"].as_str(), backoff["run"]["retrying"].as_bool()),
        (Some("Sleeping"), Some(true))
    );
    let listed = get(&base, "/api/v1/runs?function=story").await;
    assert_eq!(listed["runs"][0]["retrying"], true, "the Runs page says so too");

    t.advance(Duration::from_secs(2)).await;
    t.advance(Duration::from_secs(3)).await;
    let sleeping = get(&base, &path).await;
    assert_eq!(sleeping["run"]["retrying"], false, "a real sleep is a sleep");
    t.advance(HOUR).await;
    let approved = t.send([RawEvent::new("test/approved", json!({"id": "s3"}))]).await.remove(0);
    t.advance(2 * HOUR).await;
    let detail = get(&base, &path).await;
    assert_eq!(detail["run"]["status"], "Completed", "{detail}");

    let fetch = step_named(&detail, "fetch");
    let attempts = fetch["attempt_log"].as_array().cloned().unwrap_or_default();
    assert_eq!(attempts.len(), 3, "{fetch}");
    for (i, a) in attempts.iter().take(2).enumerate() {
        assert_eq!(a["status"], "failed");
        assert_eq!(a["error"]["message"], format!("attempt {} timed out", i + 1));
        assert_eq!(a["duration_ms"], 40);
        assert!(a["started_at"].is_i64() && a["ended_at"].is_i64(), "{a}");
    }
    assert_eq!((attempts[2]["attempt"].as_u64(), attempts[2]["status"].as_str()), (Some(3), Some("completed")));

    let sleep = step_named(&detail, "cool-down");
    assert!(sleep["duration_ms"].as_i64().is_some_and(|d| d >= 3_600_000), "the sleep's bar spans it: {sleep}");
    let approval = step_named(&detail, "approval");
    assert_eq!(approval["waited_for"]["event"], "test/approved");
    assert_eq!(approval["resumed_by"], json!({"kind": "event", "event_id": approved, "event_name": "test/approved"}));
    assert_eq!(step_named(&detail, "reminder")["resumed_by"], json!({"kind": "timeout"}));
    let child = step_named(&detail, "child");
    assert_eq!(child["resumed_by"]["kind"], "run");
    assert_eq!(child["resumed_by"]["run_id"], child["invoked_run_id"]);
}

#[tokio::test]
async fn the_apis_say_what_cancelled_a_run_and_list_the_runs_an_event_cancelled() {
    let t = TestEngine::new(&[held::DEF]).await;
    let base = serve(&t).await;
    let by_event = t.run(held::DEF, RawEvent::new("test/hold", json!({"id": "c1"}))).await.record.id;
    let by_ui = t.run(held::DEF, RawEvent::new("test/hold", json!({"id": "c2"}))).await.record.id;
    let by_rest = t.run(held::DEF, RawEvent::new("test/hold", json!({"id": "c3"}))).await.record.id;
    let release = t.send([RawEvent::new("test/release", json!({"id": "c1"}))]).await.remove(0);
    let http = reqwest::Client::new();
    let res = http.post(format!("{base}/api/v1/runs/{by_ui}/cancel")).send().await.expect("cancel");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let res = http.delete(format!("{base}/v1/runs/{by_rest}")).send().await.expect("delete");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    t.settle().await;

    let detail = get(&base, &format!("/api/v1/runs/{by_event}")).await;
    assert_eq!(detail["run"]["status"], "Cancelled");
    assert_eq!(
        detail["run"]["cancellation"]["by"],
        json!({"kind": "event", "event_id": release, "event_name": "test/release"})
    );
    let pending = detail["pending"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.len(), 1, "the step it was cancelled in stays on the timeline: {detail}");
    assert_eq!((pending[0]["kind"].as_str(), pending[0]["name"].as_str()), (Some("sleep"), Some("hold")));

    let via = |detail: Value| detail["run"]["cancellation"]["by"].clone();
    assert_eq!(via(get(&base, &format!("/api/v1/runs/{by_ui}")).await), json!({"kind": "request", "via": "ui"}));
    assert_eq!(via(get(&base, &format!("/api/v1/runs/{by_rest}")).await), json!({"kind": "request", "via": "api"}));
    let rest = get(&base, &format!("/v1/runs/{by_event}")).await;
    assert_eq!(rest["data"]["hookflow_cancellation"]["by"]["event_id"], release.as_str());

    let event = get(&base, &format!("/api/v1/events/{release}")).await;
    let cancelled: Vec<&str> =
        event["cancelled"].as_array().map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect()).unwrap_or_default();
    assert_eq!(cancelled, vec![by_event.as_str()], "the event's page lists the run it cancelled");
}

#[inngest_fn(id = "overdue", event = "test/overdue", timeouts(finish = "1h"))]
async fn overdue(step: Step) -> Result<()> {
    step.sleep("long-nap", "1d").await?;
    Ok(())
}

#[tokio::test]
async fn a_run_its_finish_timeout_cancelled_says_so_and_keeps_its_sleep() {
    let t = TestEngine::new(&[overdue::DEF]).await;
    let base = serve(&t).await;
    let run = t.run(overdue::DEF, RawEvent::new("test/overdue", json!({}))).await.record.id;
    t.advance(HOUR + Duration::from_secs(1)).await;
    let detail = get(&base, &format!("/api/v1/runs/{run}")).await;
    assert_eq!(detail["run"]["status"], "Cancelled", "{detail}");
    assert_eq!(detail["run"]["cancellation"]["by"], json!({"kind": "timeout", "which": "finish"}));
    let pending = detail["pending"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.iter().map(|p| p["name"].clone()).collect::<Vec<_>>(), vec![json!("long-nap")], "{detail}");
}
