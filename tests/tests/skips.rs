//! Runs skipped at event time: `rate_limit`, `idempotency` and `singleton`, on the test clock;
//! each skip recorded with its reason, told to the sender (`Engine::send_receipt`, the event
//! API's `skipped`), shown by the REST API, and announced by an `inngest/function.skipped`
//! event; the state surviving a restart of the SQLite store and holding for two engines on one
//! store.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use hookflow::engine::EngineBuilder;
use hookflow::model::{SendReceipt, SkipReason};
use hookflow::prelude::*;
use hookflow::store::{CancelledBy, MemoryStore, RunRecord, RunStatus, SqliteStore, Store};
use hookflow::testing::TestEngine;
use hookflow::{RawEvent, Registry, TestClock};
use hookflow_tests::http::{get_json, send_events, serve_engine};
use serde_json::{json, Value};

const HOUR: Duration = Duration::from_secs(3_600);
const MINUTE: Duration = Duration::from_secs(60);

fn event(name: &str, data: Value) -> RawEvent {
    RawEvent::new(name, data)
}

async fn receipt(t: &TestEngine, name: &str, data: Value) -> SendReceipt {
    let receipt = t.engine.send_receipt([event(name, data)]).await.expect("send");
    t.settle().await;
    receipt
}

/// The reasons the receipt gives for `function`.
fn reasons(receipt: &SendReceipt, function: &str) -> Vec<SkipReason> {
    receipt.skipped.iter().filter(|s| s.function_id == function).map(|s| s.reason.clone()).collect()
}

async fn runs_in_order(t: &TestEngine, function: &str) -> Vec<RunRecord> {
    let mut runs = t.runs(function).await;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    runs
}

// ---- rate limit -----------------------------------------------------------------------------

#[inngest_fn(id = "once-a-minute", event = "test/once-a-minute", rate_limit(limit = 1, period = "1m"))]
async fn once_a_minute(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_skips_runs_until_its_period_has_passed_and_keeps_the_event() {
    let t = TestEngine::new(&[once_a_minute::DEF]).await;
    let first = receipt(&t, "test/once-a-minute", json!({"n": 1})).await;
    assert!(first.skipped.is_empty(), "the first event runs: {first:?}");
    t.clock.advance(MINUTE - Duration::from_millis(1));
    let second = receipt(&t, "test/once-a-minute", json!({"n": 2})).await;
    assert_eq!(reasons(&second, "once-a-minute"), vec![SkipReason::RateLimit { key: String::new() }]);
    let stored = t.engine.store().events(&second.ids).await.expect("events");
    assert_eq!(stored.len(), 1, "a skipped event stays stored");
    assert!(t.run_for(&second.ids[0], "once-a-minute").await.is_none(), "no run was created for it");
    t.clock.advance(Duration::from_millis(1));
    let third = receipt(&t, "test/once-a-minute", json!({"n": 3})).await;
    assert!(third.skipped.is_empty(), "a minute after the first run, the next one runs: {third:?}");
    let runs = runs_in_order(&t, "once-a-minute").await;
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
}

#[inngest_fn(id = "bursty-rate", event = "test/bursty-rate", rate_limit(limit = 20, period = "1m"))]
async fn bursty_rate(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_admits_a_tenth_of_its_limit_at_once_then_one_per_period_over_limit() {
    let t = TestEngine::new(&[bursty_rate::DEF]).await;
    let sent = t.engine.send_receipt((0..5).map(|n| event("test/bursty-rate", json!({ "n": n })))).await.expect("send");
    assert_eq!(sent.skipped.len(), 2, "1 + 20 / 10 runs at once, the rest skipped: {sent:?}");
    assert_eq!(sent.skipped.iter().map(|s| s.event_id.clone()).collect::<Vec<_>>(), sent.ids[3..].to_vec());
    // One run every 60 s / 20 = 3 s.
    t.clock.advance(Duration::from_millis(2_999));
    assert_eq!(receipt(&t, "test/bursty-rate", json!({})).await.skipped.len(), 1);
    t.clock.advance(Duration::from_millis(1));
    assert!(receipt(&t, "test/bursty-rate", json!({})).await.skipped.is_empty());
    assert_eq!(t.runs("bursty-rate").await.len(), 4);
}

#[inngest_fn(
    id = "per-user-rate",
    event = "test/per-user-rate",
    rate_limit(limit = 1, period = "1h", key = "event.data.user")
)]
async fn per_user_rate(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn a_rate_limit_key_buckets_by_value_false_turns_it_off_and_missing_shares_one_bucket() {
    let t = TestEngine::new(&[per_user_rate::DEF]).await;
    let fun = "per-user-rate";
    assert!(receipt(&t, "test/per-user-rate", json!({"user": "a"})).await.skipped.is_empty());
    let again = receipt(&t, "test/per-user-rate", json!({"user": "a"})).await;
    assert_eq!(reasons(&again, fun), vec![SkipReason::RateLimit { key: "a".into() }]);
    assert!(receipt(&t, "test/per-user-rate", json!({"user": "b"})).await.skipped.is_empty(), "b has its own bucket");
    for _ in 0..3 {
        let off = receipt(&t, "test/per-user-rate", json!({"user": false})).await;
        assert!(off.skipped.is_empty(), "a key evaluating to false turns the limit off: {off:?}");
    }
    assert!(receipt(&t, "test/per-user-rate", json!({"other": 1})).await.skipped.is_empty());
    let missing = receipt(&t, "test/per-user-rate", json!({"other": 2})).await;
    assert_eq!(reasons(&missing, fun), vec![SkipReason::RateLimit { key: "<nil>".into() }], "one bucket for all");
    assert_eq!(t.runs(fun).await.len(), 6);
}

// ---- idempotency ----------------------------------------------------------------------------

#[inngest_fn(id = "charge", event = "test/charge", idempotency = "event.data.order")]
async fn charge(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn an_idempotency_key_allows_one_run_per_value_per_24_hours() {
    let t = TestEngine::new(&[charge::DEF]).await;
    assert!(receipt(&t, "test/charge", json!({"order": 1})).await.skipped.is_empty());
    t.clock.advance(24 * HOUR - Duration::from_millis(1));
    let duplicate = receipt(&t, "test/charge", json!({"order": 1})).await;
    assert_eq!(reasons(&duplicate, "charge"), vec![SkipReason::Idempotency { key: "1".into() }]);
    assert!(receipt(&t, "test/charge", json!({"order": 2})).await.skipped.is_empty(), "another order runs");
    t.clock.advance(Duration::from_millis(1));
    assert!(
        receipt(&t, "test/charge", json!({"order": 1})).await.skipped.is_empty(),
        "24 hours after its run, the key runs again"
    );
    assert_eq!(t.runs("charge").await.len(), 3);
}

/// Spent idempotency keys leave the SQLite file as new keys are charged (a few per charge), so
/// a key per order does not grow the file for ever. This holds the clean-up's SQL, which spells
/// the `rate:` prefix for its partial index, to the prefix the gates write.
#[tokio::test]
async fn spent_idempotency_keys_leave_the_sqlite_file_as_new_ones_are_charged() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("keys.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
    let t = TestEngine::builder(&[charge::DEF]).store(store).start().await;
    let rate_states = || -> i64 {
        let file = rusqlite::Connection::open(&path).expect("open the file");
        let count = file.query_row("SELECT count(*) FROM flow_state WHERE key LIKE 'rate:%'", [], |r| r.get(0));
        count.expect("count the rate states")
    };
    for order in 0..8 {
        assert!(receipt(&t, "test/charge", json!({"order": order})).await.skipped.is_empty());
    }
    assert_eq!(rate_states(), 8, "one state per key while it holds");
    t.clock.advance(25 * HOUR);
    for order in 100..104 {
        assert!(receipt(&t, "test/charge", json!({"order": order})).await.skipped.is_empty());
    }
    assert_eq!(rate_states(), 4, "the 8 spent keys went as 4 new ones came");
    assert_eq!(t.runs("charge").await.len(), 12);
}

// ---- singleton ------------------------------------------------------------------------------

/// Attempts of the `flaky` step, by user.
static ATTEMPTS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Mutex::default);

/// Fails the first attempt of a user's `flaky` step (retried after a back-off), then sleeps an hour.
async fn flaky_then_sleep(event: &Event<Json>, step: &Step, scope: &str) -> Result<()> {
    let user = format!("{scope}:{}", event.data["user"].as_str().unwrap_or("?"));
    step.run("flaky", || async move {
        let mut attempts = ATTEMPTS.lock().expect("attempts");
        let n = attempts.entry(user).or_insert(0);
        *n += 1;
        if *n == 1 {
            return Err(hookflow::Error::msg("first attempt fails"));
        }
        Ok(())
    })
    .await?;
    step.sleep("nap", "1h").await?;
    Ok(())
}

#[inngest_fn(id = "single-skip", event = "test/single-skip", singleton(mode = "skip", key = "event.data.user"))]
async fn single_skip(event: Event<Json>, step: Step) -> Result<()> {
    flaky_then_sleep(&event, &step, "skip").await
}

#[tokio::test]
async fn a_skip_singleton_skips_new_runs_while_one_retries_or_sleeps_and_not_after_it_ends() {
    let t = TestEngine::new(&[single_skip::DEF]).await;
    let fun = "single-skip";
    assert!(receipt(&t, "test/single-skip", json!({"user": "a"})).await.skipped.is_empty());
    let active = runs_in_order(&t, fun).await[0].clone();
    assert!(!active.status.is_terminal(), "backing off after its first attempt: {:?}", active.status);
    let while_retrying = receipt(&t, "test/single-skip", json!({"user": "a"})).await;
    assert_eq!(reasons(&while_retrying, fun), vec![SkipReason::Singleton { run_id: active.id.clone() }]);
    assert!(receipt(&t, "test/single-skip", json!({"user": "b"})).await.skipped.is_empty(), "another key runs");
    assert!(receipt(&t, "test/single-skip", json!({"user": false})).await.skipped.is_empty(), "false: no singleton");

    // The retry succeeds and the run sleeps: still active.
    t.advance(MINUTE).await;
    assert_eq!(t.get(&active.id).await.expect("run").record.status, RunStatus::Sleeping);
    let while_sleeping = receipt(&t, "test/single-skip", json!({"user": "a"})).await;
    assert_eq!(reasons(&while_sleeping, fun), vec![SkipReason::Singleton { run_id: active.id.clone() }]);

    t.advance(HOUR).await;
    assert_eq!(t.get(&active.id).await.expect("run").record.status, RunStatus::Completed);
    assert!(receipt(&t, "test/single-skip", json!({"user": "a"})).await.skipped.is_empty(), "the lock was let go");
    assert_eq!(runs_in_order(&t, fun).await.len(), 4);
}

#[inngest_fn(id = "single-cancel", event = "test/single-cancel", singleton(mode = "cancel"))]
async fn single_cancel(event: Event<Json>, step: Step) -> Result<()> {
    flaky_then_sleep(&event, &step, "cancel").await
}

#[tokio::test]
async fn a_cancel_singleton_cancels_the_active_run_retrying_or_sleeping_for_the_new_one() {
    let t = TestEngine::new(&[single_cancel::DEF]).await;
    let fun = "single-cancel";
    assert!(receipt(&t, "test/single-cancel", json!({"user": "a"})).await.skipped.is_empty());
    let retrying = runs_in_order(&t, fun).await[0].clone();
    assert!(!retrying.status.is_terminal());

    let newer = receipt(&t, "test/single-cancel", json!({"user": "b"})).await;
    assert!(newer.skipped.is_empty());
    let runs = runs_in_order(&t, fun).await;
    let second = runs[1].clone();
    let old = t.get(&retrying.id).await.expect("run").record;
    assert_eq!(old.status, RunStatus::Cancelled, "the retrying run was replaced");
    assert_eq!(old.cancellation.map(|c| c.by), Some(CancelledBy::Singleton { run_id: second.id.clone() }));

    t.advance(MINUTE).await;
    assert_eq!(t.get(&second.id).await.expect("run").record.status, RunStatus::Sleeping);
    receipt(&t, "test/single-cancel", json!({"user": "c"})).await;
    let third = runs_in_order(&t, fun).await[2].clone();
    let old = t.get(&second.id).await.expect("run").record;
    assert_eq!(old.status, RunStatus::Cancelled, "the sleeping run was replaced");
    assert_eq!(old.cancellation.map(|c| c.by), Some(CancelledBy::Singleton { run_id: third.id.clone() }));
    t.advance(MINUTE).await;
    t.advance(HOUR).await;
    assert_eq!(t.get(&third.id).await.expect("run").record.status, RunStatus::Completed);
}

// ---- restarts and two engines ---------------------------------------------------------------

#[inngest_fn(id = "restart-rate", event = "test/restart", rate_limit(limit = 1, period = "1h"))]
async fn restart_rate(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[inngest_fn(id = "restart-idem", event = "test/restart", idempotency = "event.data.key")]
async fn restart_idem(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[inngest_fn(id = "restart-single", event = "test/restart", singleton(mode = "skip"))]
async fn restart_single(step: Step) -> Result<()> {
    step.sleep("nap", "1d").await?;
    Ok(())
}

const RESTARTED: &[&hookflow::FunctionDef] = &[restart_rate::DEF, restart_idem::DEF, restart_single::DEF];

#[tokio::test]
async fn rate_limits_idempotency_keys_singleton_locks_and_skips_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("skips.db");
    let clock = TestClock::starting_now();
    let first_skip = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
        let t = TestEngine::builder(RESTARTED).store(store).clock(clock.clone()).start().await;
        assert!(receipt(&t, "test/restart", json!({"key": "k"})).await.skipped.is_empty());
        let skipped = receipt(&t, "test/restart", json!({"key": "k"})).await;
        assert_eq!(skipped.skipped.len(), 3, "each gate skips the second event: {skipped:?}");
        t.engine.shutdown(Duration::from_secs(1)).await;
        skipped.ids[0].clone()
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("reopen"));
    let t = TestEngine::builder(RESTARTED).store(store.clone()).clock(clock.clone()).start().await;
    clock.advance(MINUTE);
    let after = receipt(&t, "test/restart", json!({"key": "k"})).await;
    let mut kinds: Vec<&str> = after.skipped.iter().map(|s| s.reason.kind()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["idempotency", "rate_limit", "singleton"], "every gate's state outlived the restart");
    let queries = store.queries().expect("queries");
    assert_eq!(queries.skips_of_event(&first_skip).await.expect("skips").len(), 3, "skips are records");
    assert_eq!(queries.skip_counts().await.expect("counts").get("restart-rate"), Some(&2));
    assert_eq!(t.runs("restart-single").await.len(), 1);
}

#[inngest_fn(id = "shared-single", event = "test/shared-single", singleton(mode = "skip"))]
async fn shared_single(step: Step) -> Result<()> {
    step.sleep("hold", "1h").await?;
    Ok(())
}

async fn one_singleton_run_across_two_engines(store: Arc<dyn Store>) {
    let clock = TestClock::starting_now();
    let a = TestEngine::builder(&[shared_single::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let b = TestEngine::builder(&[shared_single::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let sends = (0..20).map(|n| {
        let engine = if n % 2 == 0 { a.engine.clone() } else { b.engine.clone() };
        tokio::spawn(async move { engine.send_receipt([event("test/shared-single", json!({ "n": n }))]).await })
    });
    let mut skipped = 0;
    for send in sends.collect::<Vec<_>>() {
        skipped += send.await.expect("task").expect("send").skipped.len();
    }
    a.settle().await;
    b.settle().await;
    assert_eq!(a.runs("shared-single").await.len(), 1, "one run for twenty events sent to two engines");
    assert_eq!(skipped, 19);
}

#[tokio::test]
async fn two_engines_on_one_memory_store_do_not_double_a_singleton() {
    one_singleton_run_across_two_engines(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn two_engines_on_one_sqlite_store_do_not_double_a_singleton() {
    let dir = tempfile::tempdir().expect("dir");
    one_singleton_run_across_two_engines(Arc::new(SqliteStore::open(dir.path().join("two.db")).expect("open"))).await;
}

// ---- inngest/function.skipped ----------------------------------------------------------------

static NOTICES: LazyLock<Mutex<Vec<Value>>> = LazyLock::new(Mutex::default);

#[inngest_fn(id = "notified", event = "test/notified", rate_limit(limit = 1, period = "1h"))]
async fn notified(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[inngest_fn(id = "on-skip", event(name = "inngest/function.skipped", if = "event.data.function_id == 'notified'"))]
async fn on_skip(event: Event<Json>) -> Result<()> {
    NOTICES.lock().expect("notices").push(event.data);
    Ok(())
}

#[tokio::test]
async fn a_skipped_run_sends_inngest_function_skipped_with_the_function_event_and_reason() {
    let t = TestEngine::new(&[notified::DEF, on_skip::DEF]).await;
    receipt(&t, "test/notified", json!({"user": "u1"})).await;
    assert!(NOTICES.lock().expect("notices").is_empty(), "nothing was skipped yet");
    let skipped = receipt(&t, "test/notified", json!({"user": "u2"})).await;
    let notices = NOTICES.lock().expect("notices").clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let notice = &notices[0];
    assert_eq!(notice["function_id"], "notified");
    assert_eq!(notice["event_id"], skipped.ids[0].as_str());
    assert_eq!(notice["reason"]["kind"], "rate_limit");
    assert_eq!(notice["event"]["data"]["user"], "u2", "the skipped event comes with it");
}

// ---- REST and the event API ----------------------------------------------------------------

#[inngest_fn(id = "rest-limited", name = "Limited", event = "app/limited", rate_limit(limit = 1, period = "1h"))]
async fn rest_limited(_event: Event<Json>) -> Result<()> {
    Ok(())
}

#[tokio::test]
async fn the_event_api_and_the_rest_api_show_what_skipped_an_event() {
    let mut registry = Registry::empty();
    registry.add(rest_limited::DEF).expect("unique");
    let clock = TestClock::starting_now();
    let engine = EngineBuilder::new("test", registry)
        .store(Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("engine starts");
    let base = serve_engine(&engine).await;
    let send = |n: u32| send_events(&base, json!({"name": "app/limited", "data": {"n": n}}));
    let first = send(1).await;
    assert_eq!(first["status"], 200);
    assert_eq!(first, json!({"ids": first["ids"], "status": 200}), "Inngest's answer when nothing skipped");
    let second = send(2).await;
    let id = second["ids"][0].as_str().expect("id").to_owned();
    assert_eq!(second["skipped"][0]["function_id"], "rest-limited", "{second}");
    assert_eq!(second["skipped"][0]["event_id"], id.as_str());
    assert_eq!(second["skipped"][0]["reason"]["kind"], "rate_limit");
    engine.settle().await;

    let detail = get_json(&base, &format!("/api/v1/events/{id}")).await;
    assert_eq!(detail["skipped"][0]["function_id"], "rest-limited", "{detail}");
    assert_eq!(detail["skipped"][0]["kind"], "rate_limit");
    assert_eq!(detail["skipped"][0]["reason"], "rate limited");
    let functions = get_json(&base, "/api/v1/functions").await;
    assert_eq!(functions["functions"][0]["skipped"], 1, "{functions}");
    let skips = get_json(&base, "/api/v1/functions/rest-limited/skips").await;
    assert_eq!(skips["skips"].as_array().map(Vec::len), Some(1), "{skips}");
    assert_eq!(skips["skips"][0]["event_id"], id.as_str());
}
