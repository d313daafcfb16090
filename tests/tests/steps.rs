//! The engine's execution model: fan-out, memoized steps, retries, durable sleep, waits,
//! sends, invokes, cancellation and failure handling, on the test clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{Memo, RunStatus, StepKind};
use hookflow::testing::TestEngine;
use hookflow::{Invoke, RawEvent, WaitFor};
use serde_json::{json, Value};

const DAY: Duration = Duration::from_secs(86_400);

fn event(name: &str, data: Value) -> RawEvent {
    RawEvent::new(name, data)
}

// ---- fan-out and memoized steps -------------------------------------------------------------

static SLEEPY_A: AtomicUsize = AtomicUsize::new(0);
static SLEEPY_B: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "sleepy", event = "test/sleepy")]
async fn sleepy(event: Event<Json>, step: Step) -> Result<Value> {
    let a: u64 = step
        .run("a", || async {
            SLEEPY_A.fetch_add(1, Ordering::SeqCst);
            Ok(20)
        })
        .await?;
    step.sleep("wait-3-days", "3 days").await?;
    let b: u64 = step
        .run("b", || async move {
            SLEEPY_B.fetch_add(1, Ordering::SeqCst);
            Ok(a + 1)
        })
        .await?;
    Ok(json!({"a": a, "b": b, "user": event.data["id"]}))
}

#[tokio::test]
async fn memoized_steps_run_once_across_a_durable_sleep() {
    let t = TestEngine::new(&[sleepy::DEF]).await;
    let run = t.run(sleepy::DEF, event("test/sleepy", json!({"id": "u1"}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);
    assert_eq!(SLEEPY_A.load(Ordering::SeqCst), 1);
    assert_eq!(run.journal.len(), 1, "only step a is recorded while sleeping");

    t.advance(DAY).await;
    assert_eq!(t.get(&run.record.id).await.expect("run").record.status, RunStatus::Sleeping, "1 day is not 3");

    t.advance(2 * DAY).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    assert_eq!(done.record.output, Some(json!({"a": 20, "b": 21, "user": "u1"})));
    assert_eq!(SLEEPY_A.load(Ordering::SeqCst), 1, "a committed step never runs again");
    assert_eq!(SLEEPY_B.load(Ordering::SeqCst), 1);
    let kinds: Vec<StepKind> = done.journal.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, vec![StepKind::Run, StepKind::Sleep, StepKind::Run]);
    assert_eq!(done.step("a").map(|s| s.hash.as_str()), Some(hookflow::hash_step_id("a").as_str()));
}

#[inngest_fn(id = "fan-a", event = "test/fan")]
async fn fan_a(event: Event<Json>) -> Result<Value> {
    Ok(event.data)
}

#[inngest_fn(id = "fan-b", event = "test/fan", event = "test/other")]
async fn fan_b(event: Event<Json>) -> Result<String> {
    Ok(event.name)
}

#[tokio::test]
async fn events_fan_out_to_every_matching_function_once_per_event_id() {
    let t = TestEngine::new(&[fan_a::DEF, fan_b::DEF]).await;
    let ids = t.send([event("test/fan", json!({"id": "u2"})).with_id("evt-1")]).await;
    assert_eq!(ids, vec!["evt-1".to_owned()]);
    let a = t.runs("fan-a").await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].output, Some(json!({"id": "u2"})));
    let b = t.runs("fan-b").await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].status, RunStatus::Completed);
    assert_eq!(b[0].output, Some(json!("test/fan")));

    t.send([event("test/fan", json!({"id": "u2"})).with_id("evt-1")]).await;
    assert_eq!(t.runs("fan-a").await.len(), 1, "a re-delivered event creates no new run");
    assert_eq!(t.runs("fan-b").await.len(), 1);
    t.send([event("test/other", json!({}))]).await;
    assert_eq!(t.runs("fan-a").await.len(), 1);
    assert_eq!(t.runs("fan-b").await.len(), 2, "several triggers");
}

// ---- trigger expressions and state ----------------------------------------------------------

struct Greeting(&'static str);

#[inngest_fn(id = "pro-only", event(name = "test/plan", if = "event.data.plan == 'pro'"))]
async fn pro_only(event: Event<Json>, greeting: Dep<Greeting>) -> Result<String> {
    Ok(format!("{} {}", greeting.0, event.data["name"].as_str().unwrap_or("?")))
}

#[tokio::test]
async fn trigger_if_expressions_filter_and_state_is_injected() {
    let mut state = hookflow::State::default();
    state.insert(Greeting("hello"));
    let t = TestEngine::build(&[pro_only::DEF], std::sync::Arc::new(hookflow::store::MemoryStore::new()), state).await;
    t.send([
        event("test/plan", json!({"plan": "free", "name": "ann"})),
        event("test/plan", json!({"plan": "pro", "name": "bob"})),
    ])
    .await;
    let runs = t.runs("pro-only").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].output, Some(json!("hello bob")));
}

// ---- retries ----------------------------------------------------------------------------------

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "flaky", event = "test/flaky", retries = 3)]
async fn flaky(step: Step) -> Result<usize> {
    let n = step
        .run("flaky-call", || async {
            let n = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                return Err(Error::msg(format!("attempt {n} failed")));
            }
            Ok(n)
        })
        .await?;
    Ok(n)
}

#[tokio::test]
async fn a_failing_step_is_retried_on_its_own_with_backoff() {
    let t = TestEngine::new(&[flaky::DEF]).await;
    let run = t.run(flaky::DEF, event("test/flaky", json!({}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping, "waiting for the retry back-off");
    assert_eq!(run.record.state.step_attempts.values().copied().collect::<Vec<_>>(), vec![1]);
    for _ in 0..5 {
        t.advance(Duration::from_secs(3_600)).await;
    }
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    assert_eq!(done.record.output, Some(json!(3)));
    assert_eq!(done.step("flaky-call").map(|s| s.attempts), Some(3));
    let step = done.step("flaky-call").expect("recorded");
    assert_eq!(step.started_at, run.record.started_at.expect("started"), "the record spans every attempt");
    assert!(step.ended_at - step.started_at >= 3_600_000, "it ended after the back-offs");
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 3);
}

static HOPELESS_CALLS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "handles-step-failure", event = "test/hopeless", retries = 1)]
async fn handles_step_failure(step: Step) -> Result<String> {
    let outcome = step
        .run("always-fails", || async {
            HOPELESS_CALLS.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::msg("smtp is down"))
        })
        .await;
    match outcome {
        Ok(()) => Ok("sent".into()),
        Err(e) => Ok(format!("gave up on {}: {}", e.step, e.info.message)),
    }
}

#[tokio::test]
async fn an_exhausted_step_error_reaches_the_call_site() {
    let t = TestEngine::new(&[handles_step_failure::DEF]).await;
    let run = t.run(handles_step_failure::DEF, event("test/hopeless", json!({}))).await;
    t.advance(Duration::from_secs(3_600)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    assert_eq!(done.record.output, Some(json!("gave up on always-fails: smtp is down")));
    assert_eq!(HOPELESS_CALLS.load(Ordering::SeqCst), 2, "retries = 1 means two attempts");
    assert!(matches!(done.step("always-fails").map(|s| &s.memo), Some(Memo::Error(_))));
}

static FATAL_CALLS: AtomicUsize = AtomicUsize::new(0);

/// The payload `typed-fatal` takes, which its `on_failure` handler receives typed.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, hookflow::Event)]
#[event(name = "test/typed.fatal")]
struct Order {
    order_id: String,
}

#[inngest_fn(id = "fatal", event = "test/fatal", on_failure = on_fatal_failure)]
async fn fatal(event: Event<Json>, step: Step) -> Result<()> {
    let _ = event;
    step.run("charge-card", || async {
        FATAL_CALLS.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(NonRetriable::new("card declined").into())
    })
    .await?;
    Ok(())
}

async fn on_fatal_failure(failure: Failure<Json>, step: Step) -> Result<String> {
    let Failure { event, error, run_id, function_id, .. } = failure;
    let order: Order = serde_json::from_value(event.data).map_err(|e| Error::msg(e.to_string()))?;
    let line = format!("{function_id} run {run_id} failed on {} ({}: {})", order.order_id, error.name, error.message);
    let sent: String = step.run("notify", || async move { Ok(line) }).await?;
    Ok(sent)
}

/// A typed function's handler gets the event typed as the function's, and may omit the `Step`.
#[inngest_fn(id = "typed-fatal", event = "test/typed.fatal", on_failure = on_typed_failure)]
async fn typed_fatal(event: Event<Order>) -> Result<()> {
    Err(NonRetriable::new(format!("no stock for {}", event.data.order_id)).into())
}

async fn on_typed_failure(failure: Failure<Order>) -> Result<String> {
    Ok(format!("{} / {}", failure.event.data.order_id, failure.error.message))
}

#[tokio::test]
async fn non_retriable_errors_fail_the_run_at_once_and_run_on_failure() {
    let t = TestEngine::new(&[fatal::DEF]).await;
    let run = t.run(fatal::DEF, event("test/fatal", json!({"order_id": "o-1"}))).await;
    assert_eq!(run.record.status, RunStatus::Failed);
    assert_eq!(FATAL_CALLS.load(Ordering::SeqCst), 1, "no retries for NonRetriable");
    let error = run.record.error.expect("error recorded");
    assert_eq!(error.message, "card declined");
    let handler_runs = t.runs("fatal-failure").await;
    assert_eq!(handler_runs.len(), 1, "on_failure runs once");
    assert_eq!(handler_runs[0].status, RunStatus::Completed);
    assert_eq!(
        handler_runs[0].output,
        Some(json!(format!("fatal run {} failed on o-1 (NonRetriableError: card declined)", run.record.id)))
    );
}

#[tokio::test]
async fn on_failure_gets_the_event_typed_as_the_function_s_payload() {
    let t = TestEngine::new(&[typed_fatal::DEF]).await;
    let run = t.run(typed_fatal::DEF, event("test/typed.fatal", json!({"order_id": "o-7"}))).await;
    assert_eq!(run.record.status, RunStatus::Failed);
    let handler = t.runs("typed-fatal-failure").await;
    assert_eq!(handler.first().and_then(|r| r.output.clone()), Some(json!("o-7 / no stock for o-7")));
}

static BODY_CALLS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "body-retry", event = "test/body", retries = 2)]
async fn body_retry(step: Step) -> Result<usize> {
    let first: usize = step.run("once", || async { Ok(7) }).await?;
    let n = BODY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if n < 3 {
        return Err(RetryAfter::new(Duration::from_secs(60), "not yet").into());
    }
    Ok(first + n)
}

#[tokio::test]
async fn function_errors_retry_the_body_and_keep_the_journal() {
    let t = TestEngine::new(&[body_retry::DEF]).await;
    let run = t.run(body_retry::DEF, event("test/body", json!({}))).await;
    assert_eq!(run.record.status, RunStatus::Queued);
    assert_eq!(run.record.attempt, 1);
    t.advance(Duration::from_secs(30)).await;
    assert_eq!(BODY_CALLS.load(Ordering::SeqCst), 1, "RetryAfter is honoured");
    t.advance(Duration::from_secs(30)).await;
    t.advance(Duration::from_secs(60)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    assert_eq!(done.record.output, Some(json!(10)));
    assert_eq!(done.journal.len(), 1);
}

// ---- suspension is not an error ---------------------------------------------------------------

#[inngest_fn(id = "swallows", event = "test/swallow")]
async fn swallows(step: Step) -> Result<&'static str> {
    // Whatever the user does with the result, a suspended step never returns in this pass.
    if step.sleep("nap", "1h").await.is_err() {
        return Ok("swallowed");
    }
    Ok("woke up")
}

#[tokio::test]
async fn a_swallowed_result_cannot_corrupt_a_suspended_run() {
    let t = TestEngine::new(&[swallows::DEF]).await;
    let run = t.run(swallows::DEF, event("test/swallow", json!({}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);
    t.advance(Duration::from_secs(3_600)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.output, Some(json!("woke up")));
}

// ---- wait_for_event ---------------------------------------------------------------------------

#[inngest_fn(id = "awaits-approval", event = "test/request")]
async fn awaits_approval(step: Step) -> Result<String> {
    let approval = step
        .wait_for_event::<Json>("approval", WaitFor::timeout("1d").event("test/approved").matching("data.id"))
        .await?;
    Ok(match approval {
        Some(e) => format!("approved by {}", e.data["by"].as_str().unwrap_or("?")),
        None => "timed out".into(),
    })
}

#[tokio::test]
async fn wait_for_event_matches_by_expression_or_times_out() {
    let t = TestEngine::new(&[awaits_approval::DEF]).await;
    let a = t.run(awaits_approval::DEF, event("test/request", json!({"id": 1}))).await;
    let b = t.run(awaits_approval::DEF, event("test/request", json!({"id": 2}))).await;
    assert_eq!(a.record.status, RunStatus::Waiting);
    t.send([event("test/approved", json!({"id": 2, "by": "ceo"}))]).await;
    assert_eq!(t.get(&a.record.id).await.expect("a").record.status, RunStatus::Waiting, "another id does not match");
    let b = t.get(&b.record.id).await.expect("b");
    assert_eq!(b.record.status, RunStatus::Completed, "{:?} {:?} {:?}", b.record, b.journal, t.engine.stats());
    assert_eq!(b.record.output, Some(json!("approved by ceo")));
    t.advance(DAY).await;
    let a = t.get(&a.record.id).await.expect("a");
    assert_eq!(a.record.output, Some(json!("timed out")));
}

// ---- send_event and invoke ------------------------------------------------------------------

#[inngest_fn(id = "sender", event = "test/send")]
async fn sender(step: Step) -> Result<Vec<String>> {
    let ids = step.send_event("notify", [RawEvent::new("test/notified", json!({"n": 1}))]).await?;
    step.sleep("then-nap", "1m").await?;
    Ok(ids)
}

#[inngest_fn(id = "notified", event = "test/notified")]
async fn notified() -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn send_event_is_a_step_and_sends_once() {
    let t = TestEngine::new(&[sender::DEF, notified::DEF]).await;
    let run = t.run(sender::DEF, event("test/send", json!({}))).await;
    t.advance(Duration::from_secs(60)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    let notified_runs = t.runs("notified").await;
    assert_eq!(notified_runs.len(), 1, "the replay after the nap did not send again");
    assert_eq!(
        notified_runs[0].event_ids,
        serde_json::from_value::<Vec<String>>(done.record.output.expect("ids")).expect("ids")
    );
}

#[inngest_fn(id = "child", event = "test/never")]
async fn child(event: Event<Json>) -> Result<u64> {
    Ok(event.data["x"].as_u64().unwrap_or(0) * 2)
}

#[inngest_fn(id = "parent", event = "test/parent")]
async fn parent(step: Step) -> Result<u64> {
    let doubled: u64 = step.invoke("double", Invoke::new(child::DEF, json!({"x": 21}))?).await?;
    Ok(doubled)
}

#[tokio::test]
async fn invoke_runs_another_function_and_returns_its_typed_result() {
    let t = TestEngine::new(&[parent::DEF, child::DEF]).await;
    let run = t.run(parent::DEF, event("test/parent", json!({}))).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(
        done.record.status,
        RunStatus::Completed,
        "{:?} {:?} {:?}",
        done.record,
        t.runs("child").await,
        done.journal
    );
    assert_eq!(done.record.output, Some(json!(42)));
    let children = t.runs("child").await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].parent.as_ref().map(|p| p.run_id.as_str()), Some(run.record.id.as_str()));
}

// ---- parallel steps -------------------------------------------------------------------------

#[inngest_fn(id = "parallel", event = "test/parallel")]
async fn parallel(step: Step) -> Result<u64> {
    let (a, b) = tokio::join!(step.run("a", || async { Ok(1u64) }), step.run("b", || async { Ok(2u64) }));
    let (c, d) = tokio::join!(step.run("c", || async { Ok(3u64) }), step.sleep("z", "1s"));
    d?;
    Ok(a? + b? + c?)
}

#[tokio::test]
async fn parallel_steps_run_together_and_replay_deterministically() {
    let t = TestEngine::new(&[parallel::DEF]).await;
    let run = t.run(parallel::DEF, event("test/parallel", json!({}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);
    assert_eq!(run.journal.len(), 3, "a, b and c committed before the pass suspended on the sleep");
    t.advance(Duration::from_secs(1)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.output, Some(json!(6)));
}

// ---- cancellation ---------------------------------------------------------------------------

#[inngest_fn(
    id = "drip",
    event = "test/signup",
    cancel_on(event = "test/deleted", if = "event.data.id == async.data.id")
)]
async fn drip(step: Step) -> Result<()> {
    step.sleep("wait", "3 days").await?;
    Ok(())
}

#[tokio::test]
async fn cancel_on_cancels_only_the_matching_run_and_cancel_by_id_works() {
    let t = TestEngine::new(&[drip::DEF]).await;
    let a = t.run(drip::DEF, event("test/signup", json!({"id": "a"}))).await;
    let b = t.run(drip::DEF, event("test/signup", json!({"id": "b"}))).await;
    let c = t.run(drip::DEF, event("test/signup", json!({"id": "c"}))).await;
    t.send([event("test/deleted", json!({"id": "a"}))]).await;
    assert_eq!(t.get(&a.record.id).await.expect("a").record.status, RunStatus::Cancelled);
    assert_eq!(t.get(&b.record.id).await.expect("b").record.status, RunStatus::Sleeping);
    assert!(t.engine.cancel(&c.record.id).await.expect("cancel"));
    t.settle().await;
    assert_eq!(t.get(&c.record.id).await.expect("c").record.status, RunStatus::Cancelled);
    assert!(!t.engine.cancel(&c.record.id).await.expect("cancel"), "an ended run cannot be cancelled");
    t.advance(3 * DAY).await;
    assert_eq!(t.get(&b.record.id).await.expect("b").record.status, RunStatus::Completed);
    assert_eq!(t.get(&a.record.id).await.expect("a").record.status, RunStatus::Cancelled);
}

// ---- lifecycle events -------------------------------------------------------------------------

#[inngest_fn(id = "lifecycle", event = "test/lifecycle", retries = 0)]
async fn lifecycle(event: Event<Json>, step: Step) -> Result<&'static str> {
    match event.data["mode"].as_str() {
        Some("fail") => Err(NonRetriable::new("asked to fail").into()),
        Some("sleep") => {
            step.sleep("long", "1d").await?;
            Ok("woke")
        }
        _ => Ok("done"),
    }
}

#[tokio::test]
async fn finished_failed_and_cancelled_events_are_emitted_as_inngest_defines_them() {
    use hookflow::store::EventQuery;
    let t = TestEngine::new(&[lifecycle::DEF]).await;
    let ok = t.run(lifecycle::DEF, event("test/lifecycle", json!({"mode": "ok"}))).await;
    let failed = t.run(lifecycle::DEF, event("test/lifecycle", json!({"mode": "fail"}))).await;
    let sleeping = t.run(lifecycle::DEF, event("test/lifecycle", json!({"mode": "sleep"}))).await;
    assert!(t.engine.cancel(&sleeping.record.id).await.expect("cancel"));
    t.settle().await;

    let internal = |name: &str| {
        let query = EventQuery { name: Some(name.to_owned()), include_internal: true, ..EventQuery::default() };
        let store = t.engine.store().clone();
        async move { store.queries().expect("queries").list_events(&query).await.expect("events") }
    };
    let finished = internal("inngest/function.finished").await;
    assert_eq!(finished.len(), 2, "completed and failed runs finish");
    let of = |run: &str| finished.iter().find(|e| e.data["run_id"] == run).cloned().expect("finished event");
    assert_eq!(of(&ok.record.id).data["result"], json!("done"));
    assert_eq!(of(&ok.record.id).data["function_id"], json!("lifecycle"));
    assert_eq!(of(&ok.record.id).data["event"]["data"], json!({"mode": "ok"}));
    assert_eq!(of(&failed.record.id).data["error"]["message"], json!("asked to fail"));
    let failed_events = internal("inngest/function.failed").await;
    assert_eq!(failed_events.len(), 1);
    assert_eq!(failed_events[0].data["run_id"], json!(failed.record.id));
    let cancelled = internal("inngest/function.cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].data["run_id"], json!(sleeping.record.id));
    let hidden =
        t.engine.store().queries().expect("queries").list_events(&EventQuery::default()).await.expect("events");
    assert!(hidden.iter().all(|e| !e.name.starts_with("inngest/")), "internal events are hidden by default");
}

// ---- durations computed at run time ------------------------------------------------------------

#[inngest_fn(id = "computed-sleep", event = "test/computed.sleep")]
async fn computed_sleep(event: Event<Json>, step: Step) -> Result<()> {
    let unit = event.data["unit"].as_str().unwrap_or("days").to_owned();
    step.sleep("wait", format!("3 {unit}")).await?;
    Ok(())
}

#[tokio::test]
async fn a_computed_duration_is_parsed_at_run_time() {
    let t = TestEngine::new(&[computed_sleep::DEF]).await;
    let ok = t.run(computed_sleep::DEF, event("test/computed.sleep", json!({"unit": "days"}))).await;
    assert_eq!(ok.record.status, RunStatus::Sleeping);
    let bad = t.run(computed_sleep::DEF, event("test/computed.sleep", json!({"unit": "dayz"}))).await;
    assert_eq!(bad.record.status, RunStatus::Failed, "a bad computed duration fails the run, not the build");
    let message = bad.record.error.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("invalid duration `3 dayz`") && message.contains("did you mean `days`?"), "{message}");
}

/// A sleep, then a step slow enough (40 ms) to be written in the middle of its pass.
#[inngest_fn(id = "nap-then-work", event = "test/nap")]
async fn nap_then_work(step: Step, clock: Dep<hookflow::TestClock>) -> Result<()> {
    step.sleep("nap", "1h").await?;
    step.run("work", || async move {
        clock.advance(Duration::from_millis(40));
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_sleep_that_ended_is_journaled_before_the_slow_step_after_it() {
    let clock = hookflow::TestClock::starting_now();
    let t = TestEngine::builder(&[nap_then_work::DEF]).clock(clock.clone()).state(clock).start().await;
    let run = t.run(nap_then_work::DEF, RawEvent::new("test/nap", json!({}))).await;
    t.advance(Duration::from_secs(3_600)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Completed);
    let names: Vec<&str> = done.journal.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["nap", "work"], "the journal is in the order the steps happened");
}
