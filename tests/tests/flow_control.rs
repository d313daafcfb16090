//! Flow control at run time: concurrency (per key, two limits, per run), throttle, priority and
//! timeouts, on the test clock.
//!
//! Steps that must be seen executing at once wait on a gate the test opens; while one waits the
//! test polls (in real time, briefly) rather than settling the engine, which would wait for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{CancelledBy, HeldBack, RunRecord, RunStatus, SqliteStore, Store};
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

const HOUR: Duration = Duration::from_secs(3_600);

/// Steps executing now and the most seen at once, by key.
#[derive(Default)]
struct Gauge {
    now: HashMap<String, usize>,
    max: HashMap<String, usize>,
    order: Vec<String>,
}

impl Gauge {
    fn enter(&mut self, key: &str, label: &str) {
        let now = self.now.entry(key.to_owned()).or_default();
        *now += 1;
        let now = *now;
        let max = self.max.entry(key.to_owned()).or_default();
        *max = (*max).max(now);
        self.order.push(label.to_owned());
    }

    fn leave(&mut self, key: &str) {
        if let Some(n) = self.now.get_mut(key) {
            *n -= 1;
        }
    }

    fn executing(&self) -> usize {
        self.now.values().sum()
    }
}

fn event(name: &str, data: Value) -> RawEvent {
    RawEvent::new(name, data)
}

/// Polls until `check` holds, for at most five seconds of real time.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn runs_in_order(t: &TestEngine, function: &str) -> Vec<RunRecord> {
    // Ids sort in creation order (within a millisecond too).
    let mut runs = t.runs(function).await;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    runs
}

// ---- concurrency ----------------------------------------------------------------------------

static KEYED: LazyLock<Mutex<Gauge>> = LazyLock::new(Mutex::default);
static KEYED_GATE: Semaphore = Semaphore::const_new(0);

#[inngest_fn(id = "keyed", event = "test/keyed", concurrency(limit = 2, key = "event.data.tenant"))]
async fn keyed(event: Event<Json>, step: Step) -> Result<()> {
    let tenant = event.data["tenant"].as_str().unwrap_or("<none>").to_owned();
    let key = tenant.clone();
    step.run("work", || async move {
        KEYED.lock().expect("gauge").enter(&key, &key);
        KEYED_GATE.acquire().await.map(|p| p.forget()).ok();
        KEYED.lock().expect("gauge").leave(&key);
        Ok(())
    })
    .await?;
    // Sleeping holds no slot: the runs held back go while these sleep.
    step.sleep("nap", "1h").await?;
    step.run("after", || async move { Ok(tenant) }).await?;
    Ok(())
}

#[tokio::test]
async fn concurrency_limits_steps_executing_per_key_and_sleepers_hold_no_slot() {
    let t = TestEngine::new(&[keyed::DEF]).await;
    let mut events: Vec<RawEvent> = (0..4).map(|_| event("test/keyed", json!({"tenant": "a"}))).collect();
    events.push(event("test/keyed", json!({"tenant": "b"})));
    // No `tenant`: a key that evaluates to nothing shares one bucket.
    events.push(event("test/keyed", json!({})));
    events.push(event("test/keyed", json!({})));
    events.push(event("test/keyed", json!({})));
    t.engine.send(events).await.expect("send");

    until("two of a, one of b and two keyless steps execute", || KEYED.lock().expect("gauge").executing() == 5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(KEYED.lock().expect("gauge").executing(), 5, "no more than the limits allow");
    let held: Vec<(String, Option<HeldBack>)> = runs_in_order(&t, "keyed")
        .await
        .into_iter()
        .filter(|r| r.status == RunStatus::Queued)
        .map(|r| (r.id.clone(), t.engine.store().held_back(&r.id)))
        .collect();
    assert_eq!(held.len(), 3, "two of a and one keyless run wait: {held:?}");
    for (_, why) in &held {
        assert!(matches!(why, Some(HeldBack::Concurrency { .. })), "held back by concurrency: {why:?}");
    }

    KEYED_GATE.add_permits(100);
    t.settle().await;
    let runs = runs_in_order(&t, "keyed").await;
    assert!(runs.iter().all(|r| r.status == RunStatus::Sleeping), "every run got its turn while others slept");
    {
        let gauge = KEYED.lock().expect("gauge");
        assert_eq!(gauge.max.get("a"), Some(&2));
        assert_eq!(gauge.max.get("b"), Some(&1));
        assert_eq!(gauge.max.get("<none>"), Some(&2), "keyless events share one bucket of two");
    }
    t.advance(HOUR).await;
    assert!(runs_in_order(&t, "keyed").await.iter().all(|r| r.status == RunStatus::Completed));
}

static TWO: LazyLock<Mutex<Gauge>> = LazyLock::new(Mutex::default);
static TWO_GATE: Semaphore = Semaphore::const_new(0);

#[inngest_fn(
    id = "two-limits",
    event = "test/two-limits",
    concurrency(limit = 3, scope = "account", key = "'shared-api'"),
    concurrency(limit = 1, key = "event.data.user")
)]
async fn two_limits(event: Event<Json>, step: Step) -> Result<()> {
    let user = event.data["user"].as_str().unwrap_or_default().to_owned();
    step.run("call", || async move {
        TWO.lock().expect("gauge").enter("all", &user);
        TWO.lock().expect("gauge").enter(&user, &user);
        TWO_GATE.acquire().await.map(|p| p.forget()).ok();
        TWO.lock().expect("gauge").leave(&user);
        TWO.lock().expect("gauge").leave("all");
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_step_runs_only_when_every_limit_has_room() {
    let t = TestEngine::new(&[two_limits::DEF]).await;
    let users = ["u1", "u1", "u2", "u3", "u4", "u5"];
    t.engine.send(users.iter().map(|u| event("test/two-limits", json!({"user": u})))).await.expect("send");
    until("three steps execute", || TWO.lock().expect("gauge").now.get("all") == Some(&3)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(TWO.lock().expect("gauge").now.get("all"), Some(&3), "the account-wide limit of 3 holds");
    TWO_GATE.add_permits(100);
    t.settle().await;
    {
        let gauge = TWO.lock().expect("gauge");
        assert_eq!(gauge.max.get("all"), Some(&3));
        assert_eq!(gauge.max.get("u1"), Some(&1), "the per-user limit of 1 holds too");
    }
    assert!(runs_in_order(&t, "two-limits").await.iter().all(|r| r.status == RunStatus::Completed));
}

static PER_RUN: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "per-run", event = "test/per-run", concurrency(limit = 1, per = "run"))]
async fn per_run(_event: Event<Json>, step: Step) -> Result<()> {
    step.run("start", || async {
        PER_RUN.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    step.sleep("nap", "1h").await?;
    Ok(())
}

#[tokio::test]
async fn a_run_level_limit_is_held_through_sleeps_until_the_run_ends() {
    let t = TestEngine::new(&[per_run::DEF]).await;
    t.send([event("test/per-run", json!({"n": 1})), event("test/per-run", json!({"n": 2}))]).await;
    let runs = runs_in_order(&t, "per-run").await;
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![RunStatus::Sleeping, RunStatus::Queued], "the sleeping run keeps its slot");
    assert!(matches!(t.engine.store().held_back(&runs[1].id), Some(HeldBack::Concurrency { .. })));
    assert_eq!(PER_RUN.load(Ordering::SeqCst), 1);
    t.advance(HOUR).await;
    let runs = runs_in_order(&t, "per-run").await;
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[1].status, RunStatus::Sleeping, "the first run's end let the second start");
    t.advance(HOUR).await;
    assert!(runs_in_order(&t, "per-run").await.iter().all(|r| r.status == RunStatus::Completed));
}

// ---- throttle -------------------------------------------------------------------------------

static THROTTLED_FAILS: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "throttled", event = "test/throttled", retries = 2, throttle(limit = 1, period = "1h"))]
async fn throttled(event: Event<Json>, step: Step) -> Result<()> {
    let flaky = event.data["flaky"].as_bool().unwrap_or(false);
    step.run("call", || async move {
        if flaky && THROTTLED_FAILS.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(Error::msg("the API is down"));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_throttle_spaces_starts_evenly_and_does_not_throttle_retries() {
    let t = TestEngine::new(&[throttled::DEF]).await;
    let t0 = t.engine.clock().now_ms();
    t.send([
        event("test/throttled", json!({"flaky": true})),
        event("test/throttled", json!({})),
        event("test/throttled", json!({})),
    ])
    .await;
    let runs = runs_in_order(&t, "throttled").await;
    assert!(!runs[0].status.is_terminal(), "the first start failed its step and waits to retry");
    assert!(runs[0].started_at.is_some(), "it started");
    assert_eq!(t.engine.store().held_back(&runs[1].id), Some(HeldBack::Throttle { until: t0 + 3_600_000 }));
    assert!(runs[2].started_at.is_none());

    // The retry goes after its back-off, although the throttle admits no start for an hour.
    t.advance(Duration::from_secs(60)).await;
    let runs = runs_in_order(&t, "throttled").await;
    assert_eq!(runs[0].status, RunStatus::Completed, "retries are not throttled");
    assert_eq!(runs[1].status, RunStatus::Queued);

    t.advance(HOUR - Duration::from_secs(61)).await;
    assert_eq!(runs_in_order(&t, "throttled").await[1].status, RunStatus::Queued, "one start per hour");
    t.advance(Duration::from_secs(1)).await;
    let runs = runs_in_order(&t, "throttled").await;
    assert_eq!(runs[1].status, RunStatus::Completed);
    assert_eq!(runs[2].status, RunStatus::Queued, "never dropped: it waits for its turn");
    t.advance(HOUR).await;
    assert_eq!(runs_in_order(&t, "throttled").await[2].status, RunStatus::Completed);
}

#[inngest_fn(id = "bursty", event = "test/bursty", throttle(limit = 2, period = "1m", burst = 3))]
async fn bursty(_event: Event<Json>, _step: Step) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_burst_admits_several_starts_at_once_then_one_per_period_over_limit() {
    let t = TestEngine::new(&[bursty::DEF]).await;
    t.send((0..6).map(|i| event("test/bursty", json!({"i": i})))).await;
    let done = |runs: &[RunRecord]| runs.iter().filter(|r| r.status == RunStatus::Completed).count();
    assert_eq!(done(&runs_in_order(&t, "bursty").await), 3, "an idle throttle admits its burst");
    t.advance(Duration::from_secs(29)).await;
    assert_eq!(done(&runs_in_order(&t, "bursty").await), 3);
    t.advance(Duration::from_secs(1)).await;
    assert_eq!(done(&runs_in_order(&t, "bursty").await), 4, "then one every period / limit (30 s)");
    t.advance(Duration::from_secs(60)).await;
    assert_eq!(done(&runs_in_order(&t, "bursty").await), 6);
}

#[inngest_fn(id = "throttle-restart", event = "test/throttle-restart", throttle(limit = 1, period = "1h"))]
async fn throttle_restart(_event: Event<Json>, _step: Step) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_throttle_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("throttle.db");
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
        let t = TestEngine::build(&[throttle_restart::DEF], store, Default::default()).await;
        t.send([event("test/throttle-restart", json!({}))]).await;
        assert_eq!(runs_in_order(&t, "throttle-restart").await[0].status, RunStatus::Completed);
        t.engine.shutdown(Duration::from_secs(1)).await;
    }
    // A stopped engine has let go of its store: the file opens again in this process.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("reopen"));
    let t = TestEngine::build(&[throttle_restart::DEF], store, Default::default()).await;
    t.send([event("test/throttle-restart", json!({}))]).await;
    let runs = runs_in_order(&t, "throttle-restart").await;
    assert_eq!(runs[1].status, RunStatus::Queued, "the hour began before the restart");
    assert!(matches!(t.engine.store().held_back(&runs[1].id), Some(HeldBack::Throttle { .. })));
    t.advance(HOUR).await;
    assert_eq!(runs_in_order(&t, "throttle-restart").await[1].status, RunStatus::Completed);
}

// ---- priority -------------------------------------------------------------------------------

static ORDER: LazyLock<Mutex<Gauge>> = LazyLock::new(Mutex::default);
static ORDER_GATE: Semaphore = Semaphore::const_new(0);

#[inngest_fn(
    id = "prioritized",
    event = "test/prioritized",
    concurrency(limit = 1),
    priority(run = "event.data.plan == 'pro' ? 600 : 0")
)]
async fn prioritized(event: Event<Json>, step: Step) -> Result<()> {
    let label = event.data["label"].as_str().unwrap_or_default().to_owned();
    step.run("work", || async move {
        ORDER.lock().expect("gauge").enter("all", &label);
        ORDER_GATE.acquire().await.map(|p| p.forget()).ok();
        ORDER.lock().expect("gauge").leave("all");
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_higher_priority_run_overtakes_the_backlog() {
    let t = TestEngine::new(&[prioritized::DEF]).await;
    t.engine.send([event("test/prioritized", json!({"label": "first"}))]).await.expect("send");
    until("the first run executes", || ORDER.lock().expect("gauge").executing() == 1).await;
    for label in ["free-1", "free-2"] {
        t.clock.advance(Duration::from_secs(1));
        t.engine.send([event("test/prioritized", json!({"label": label}))]).await.expect("send");
    }
    t.clock.advance(Duration::from_secs(1));
    t.engine.send([event("test/prioritized", json!({"label": "pro", "plan": "pro"}))]).await.expect("send");
    ORDER_GATE.add_permits(100);
    t.settle().await;
    assert_eq!(ORDER.lock().expect("gauge").order, vec!["first", "pro", "free-1", "free-2"]);
}

// ---- timeouts -------------------------------------------------------------------------------

static SLOW_GATE: Semaphore = Semaphore::const_new(0);
static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "start-timeout", event = "test/start-timeout", concurrency(limit = 1), timeouts(start = "1m"))]
async fn start_timeout(_event: Event<Json>, step: Step) -> Result<()> {
    step.run("slow", || async {
        SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
        SLOW_GATE.acquire().await.map(|p| p.forget()).ok();
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_run_queued_past_its_start_timeout_is_cancelled() {
    let t = TestEngine::new(&[start_timeout::DEF]).await;
    t.engine
        .send([event("test/start-timeout", json!({"n": 1})), event("test/start-timeout", json!({"n": 2}))])
        .await
        .expect("send");
    until("the first run executes", || SLOW_STARTED.load(Ordering::SeqCst) == 1).await;
    t.clock.advance(Duration::from_secs(61));
    t.engine.store().work_signal().notify_waiters();
    let second = runs_in_order(&t, "start-timeout").await[1].id.clone();
    let mut status = RunStatus::Queued;
    for _ in 0..500 {
        status = t.get(&second).await.expect("run").record.status;
        if status == RunStatus::Cancelled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, RunStatus::Cancelled, "queued behind the limit for longer than a minute");
    let record = t.get(&second).await.expect("run").record;
    assert_eq!(record.cancellation.map(|c| c.by), Some(CancelledBy::Timeout { which: "start".into() }));
    SLOW_GATE.add_permits(10);
    t.settle().await;
    let runs = runs_in_order(&t, "start-timeout").await;
    assert_eq!(runs[0].status, RunStatus::Completed, "the run that started in time is not affected");
    assert_eq!(SLOW_STARTED.load(Ordering::SeqCst), 1, "the cancelled run never executed a step");
}

#[inngest_fn(id = "finish-timeout", event = "test/finish-timeout", timeouts(finish = "1h"))]
async fn finish_timeout(_event: Event<Json>, step: Step) -> Result<()> {
    step.run("a", || async { Ok(1) }).await?;
    step.sleep("long-nap", "1d").await?;
    step.run("b", || async { Ok(2) }).await?;
    Ok(())
}

#[tokio::test]
async fn a_run_not_finished_by_its_finish_timeout_is_cancelled_even_asleep() {
    let t = TestEngine::new(&[finish_timeout::DEF]).await;
    let run = t.run(finish_timeout::DEF, event("test/finish-timeout", json!({}))).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);
    t.advance(HOUR - Duration::from_secs(1)).await;
    assert_eq!(t.get(&run.record.id).await.expect("run").record.status, RunStatus::Sleeping);
    t.advance(Duration::from_secs(1)).await;
    let done = t.get(&run.record.id).await.expect("run");
    assert_eq!(done.record.status, RunStatus::Cancelled);
    assert_eq!(
        done.record.cancellation.as_ref().map(|c| c.by.clone()),
        Some(CancelledBy::Timeout { which: "finish".into() })
    );
    assert!(done.step("b").is_none(), "nothing ran after the timeout");
}
