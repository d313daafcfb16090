//! `debounce` on the test clock: an event opens (or joins) a window per key; its one run starts
//! once no event came for `period`, `timeout` after the first event at the latest, with the
//! event of the newest `ts` (or, with `all_events`, every event of the window). The window
//! lives in the store: it survives a restart of the SQLite store, fires once for two engines
//! sharing a store, and the event API's event page says where a debounced event went, as does
//! the sender's receipt. A `cancel_on` condition compares against the event the run receives.

use std::sync::Arc;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::{MemoryStore, RunRecord, RunStatus, SqliteStore, Store};
use hookflow::testing::TestEngine;
use hookflow::{Clock, RawEvent, TestClock};
use hookflow_tests::http::{get_json, send_events, serve_engine};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn event(name: &str, n: i64) -> RawEvent {
    RawEvent::new(name, json!({ "n": n }))
}

/// The payload's `n`, as the run returns it.
fn n_of(event: &Event<Json>) -> Value {
    event.data.get("n").cloned().unwrap_or(Value::Null)
}

async fn send(t: &TestEngine, events: Vec<RawEvent>) -> Vec<String> {
    t.send(events).await
}

/// The function's runs, oldest first.
async fn runs(t: &TestEngine, function: &str) -> Vec<RunRecord> {
    let mut runs = t.runs(function).await;
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    runs
}

/// The outputs of the function's completed runs, oldest first.
async fn outputs(t: &TestEngine, function: &str) -> Vec<Value> {
    let runs = runs(t, function).await;
    runs.into_iter().filter(|r| r.status == RunStatus::Completed).filter_map(|r| r.output).collect()
}

// ---- the window -------------------------------------------------------------------------------

#[inngest_fn(id = "quiet", event = "test/quiet", debounce(period = "5s"))]
async fn quiet(event: Event<Json>) -> Result<Value> {
    Ok(n_of(&event))
}

#[tokio::test]
async fn a_run_starts_once_no_event_came_for_the_period_with_the_last_event() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    send(&t, vec![event("test/quiet", 1)]).await;
    t.advance(5 * SECOND - MS).await;
    let pending = runs(&t, "quiet").await;
    assert_eq!(pending.len(), 1, "the window's run exists");
    assert_eq!((pending[0].status, pending[0].started_at), (RunStatus::Queued, None), "and has not started");
    t.advance(3 * SECOND).await;
    assert_eq!(outputs(&t, "quiet").await, [json!(1)]);
    send(&t, vec![event("test/quiet", 2)]).await;
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "quiet").await, [json!(1), json!(2)], "a later event opens a new window");
}

#[tokio::test]
async fn each_new_event_extends_the_window_and_replaces_the_event() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    send(&t, vec![event("test/quiet", 1)]).await;
    for n in 2..=4 {
        t.advance(4 * SECOND).await;
        send(&t, vec![event("test/quiet", n)]).await;
    }
    t.advance(5 * SECOND - MS).await;
    assert!(outputs(&t, "quiet").await.is_empty(), "12 s of events every 4 s, then less than 5 s of quiet");
    t.advance(MS).await;
    assert_eq!(outputs(&t, "quiet").await, [json!(4)], "one run, with the last event");
    assert_eq!(runs(&t, "quiet").await.len(), 1);
}

#[inngest_fn(id = "capped", event = "test/capped", debounce(period = "5s", timeout = "12s"))]
async fn capped(event: Event<Json>) -> Result<Value> {
    Ok(n_of(&event))
}

#[tokio::test]
async fn the_timeout_caps_the_wait_from_the_first_event() {
    let t = TestEngine::new(&[capped::DEF]).await;
    send(&t, vec![event("test/capped", 0)]).await;
    for n in 1..=2 {
        t.advance(4 * SECOND).await;
        send(&t, vec![event("test/capped", n)]).await;
    }
    t.advance(3 * SECOND).await;
    send(&t, vec![event("test/capped", 3)]).await;
    t.advance(SECOND - MS).await;
    assert!(outputs(&t, "capped").await.is_empty(), "11.999 s after the first event");
    t.advance(MS).await;
    assert_eq!(outputs(&t, "capped").await, [json!(3)], "12 s after the first event, not 5 s after the last");
}

#[tokio::test]
async fn the_newest_ts_wins_not_the_last_to_arrive() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    let now = t.clock.now_ms();
    let mut newer = event("test/quiet", 1);
    newer.ts = now + 2_000;
    send(&t, vec![newer]).await;
    t.advance(3 * SECOND).await;
    let mut older = event("test/quiet", 2);
    older.ts = now;
    send(&t, vec![older]).await;
    t.advance(2 * SECOND).await;
    assert_eq!(
        outputs(&t, "quiet").await,
        [json!(1)],
        "an event with an older ts neither replaces the newest nor extends the window"
    );
}

#[inngest_fn(id = "per-user", event = "test/per-user", debounce(period = "5s", key = "event.data.user"))]
async fn per_user(event: Event<Json>) -> Result<Value> {
    Ok(json!([event.data.get("user"), n_of(&event)]))
}

#[tokio::test]
async fn each_key_has_its_window_and_a_missing_key_shares_one() {
    let t = TestEngine::new(&[per_user::DEF]).await;
    let sent = [
        json!({"user": "a", "n": 1}),
        json!({"user": "b", "n": 2}),
        json!({"n": 3}),
        json!({"user": "a", "n": 4}),
        json!({"n": 5}),
    ];
    for data in sent {
        send(&t, vec![RawEvent::new("test/per-user", data)]).await;
        t.advance(SECOND).await;
    }
    t.advance(5 * SECOND).await;
    let mut got = outputs(&t, "per-user").await;
    got.sort_by_key(|v| v[1].as_i64());
    assert_eq!(got, [json!(["b", 2]), json!(["a", 4]), json!([null, 5])], "three windows: a, b and <nil>");
}

#[inngest_fn(
    id = "rated-debounce",
    event = "test/rated-debounce",
    debounce(period = "5s"),
    rate_limit(limit = 1, period = "1h")
)]
async fn rated_debounce(event: Event<Json>) -> Result<Value> {
    Ok(n_of(&event))
}

#[tokio::test]
async fn a_rate_limit_applies_to_each_event_before_it_joins_a_window() {
    let t = TestEngine::new(&[rated_debounce::DEF]).await;
    send(&t, vec![event("test/rated-debounce", 1)]).await;
    let skipped = t.engine.send_receipt([event("test/rated-debounce", 2)]).await.expect("send");
    assert_eq!(skipped.skipped.len(), 1, "the second event is over the limit: {skipped:?}");
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "rated-debounce").await, [json!(1)], "the skipped event did not join the window");
}

// ---- every event of the window -----------------------------------------------------------------

#[inngest_fn(id = "all-of-them", event = "test/all", debounce(period = "5s", all_events = true))]
async fn all_of_them(events: Vec<Event<Json>>) -> Result<Value> {
    Ok(Value::Array(events.iter().map(n_of).collect()))
}

#[tokio::test]
async fn all_events_hands_the_run_every_event_of_the_window_by_ts() {
    let t = TestEngine::new(&[all_of_them::DEF]).await;
    let now = t.clock.now_ms();
    for (n, ts) in [(1, 1_000), (2, 3_000), (3, 2_000)] {
        let mut e = event("test/all", n);
        e.ts = now + ts;
        send(&t, vec![e]).await;
        t.advance(SECOND).await;
    }
    t.advance(5 * SECOND).await;
    assert_eq!(outputs(&t, "all-of-them").await, [json!([1, 3, 2])], "one run, its events by ts");
}

// ---- durability ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_window_survives_a_restart_of_the_sqlite_store_and_fires_once() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("debounce.db");
    let clock = TestClock::starting_now();
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
        let t = TestEngine::builder(&[quiet::DEF]).store(store).clock(clock.clone()).start().await;
        send(&t, vec![event("test/quiet", 1)]).await;
        t.advance(3 * SECOND).await;
        t.engine.shutdown(SECOND).await;
    }
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("reopen"));
        let t = TestEngine::builder(&[quiet::DEF]).store(store).clock(clock.clone()).start().await;
        t.advance(SECOND).await;
        send(&t, vec![event("test/quiet", 2)]).await;
        t.advance(4 * SECOND).await;
        let rs = runs(&t, "quiet").await;
        assert!(outputs(&t, "quiet").await.is_empty(), "the event after the restart extended the window: {rs:#?}");
        t.engine.shutdown(SECOND).await;
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("reopen again"));
    let t = TestEngine::builder(&[quiet::DEF]).store(store).clock(clock.clone()).start().await;
    t.advance(SECOND).await;
    assert_eq!(outputs(&t, "quiet").await, [json!(2)], "one run, with the newest event");
    t.advance(60 * SECOND).await;
    assert_eq!(runs(&t, "quiet").await.len(), 1, "and only one");
}

#[inngest_fn(id = "shared-quiet", event = "test/shared-quiet", debounce(period = "2m", key = "event.data.k"))]
async fn shared_quiet(event: Event<Json>) -> Result<Value> {
    Ok(n_of(&event))
}

async fn one_run_across_two_engines(store: Arc<dyn Store>) {
    let clock = TestClock::starting_now();
    let a = TestEngine::builder(&[shared_quiet::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let b = TestEngine::builder(&[shared_quiet::DEF]).store(store.clone()).clock(clock.clone()).start().await;
    let now = clock.now_ms();
    let sends = (0..20).map(|n| {
        let engine = if n % 2 == 0 { a.engine.clone() } else { b.engine.clone() };
        let mut e = RawEvent::new("test/shared-quiet", json!({ "n": n, "k": "same" }));
        e.ts = now + n;
        tokio::spawn(async move { engine.send([e]).await })
    });
    for send in sends.collect::<Vec<_>>() {
        send.await.expect("task").expect("send");
    }
    clock.advance(Duration::from_secs(120));
    a.settle().await;
    b.settle().await;
    clock.advance(Duration::from_secs(600));
    a.settle().await;
    b.settle().await;
    assert_eq!(outputs(&a, "shared-quiet").await, [json!(19)], "one run for twenty events sent to two engines");
    assert_eq!(runs(&a, "shared-quiet").await.len(), 1);
}

#[tokio::test]
async fn two_engines_on_one_memory_store_fire_a_window_once() {
    one_run_across_two_engines(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn two_engines_on_one_sqlite_store_fire_a_window_once() {
    let dir = tempfile::tempdir().expect("dir");
    one_run_across_two_engines(Arc::new(SqliteStore::open(dir.path().join("two.db")).expect("open"))).await;
}

// ---- where a debounced event went ------------------------------------------------------------------

#[tokio::test]
async fn the_event_page_says_which_window_took_a_debounced_event() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    let first = send(&t, vec![event("test/quiet", 1)]).await;
    let second = send(&t, vec![event("test/quiet", 2)]).await;
    let base = serve_engine(&t.engine).await;
    let page = get_json(&base, &format!("/api/v1/events/{}", first[0])).await;
    let window = &page["debounced"][0];
    assert_eq!(window["function_id"], "quiet", "{page}");
    assert_eq!(window["run_status"], "Queued");
    assert_eq!(window["receives"], false, "the newer event replaced it");
    assert!(page["skipped"].as_array().is_some_and(Vec::is_empty), "a debounced event is not a skipped one: {page}");
    let run_id = window["run_id"].as_str().expect("run id").to_owned();
    t.advance(5 * SECOND).await;
    let page = get_json(&base, &format!("/api/v1/events/{}", second[0])).await;
    assert_eq!(page["debounced"][0]["run_id"], run_id.as_str(), "both went into one window");
    assert_eq!(page["debounced"][0]["run_status"], "Completed");
    assert_eq!(page["debounced"][0]["receives"], true);
}

#[tokio::test]
async fn the_receipt_names_the_window_each_event_went_into() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    let first = t.engine.send_receipt([event("test/quiet", 1)]).await.expect("send");
    assert_eq!(first.windowed.len(), 1, "the first event opened a window: {first:?}");
    let opened = first.windowed[0].clone();
    assert_eq!((opened.function_id.as_str(), opened.event_id.as_str()), ("quiet", first.ids[0].as_str()));
    assert!(first.skipped.is_empty());
    let second = t.engine.send_receipt([event("test/quiet", 2)]).await.expect("send");
    assert_eq!(second.windowed.len(), 1, "{second:?}");
    assert_eq!(second.windowed[0].run_id, opened.run_id, "the second event joined the first one's window");
    t.advance(5 * SECOND).await;
    assert_eq!(runs(&t, "quiet").await[0].id, opened.run_id, "the window's run is the one named");
    let third = t.engine.send_receipt([event("test/quiet", 3)]).await.expect("send");
    assert_ne!(third.windowed[0].run_id, opened.run_id, "once the window fired, the next event opens another");
}

#[tokio::test]
async fn the_event_api_answers_which_window_took_each_event() {
    let t = TestEngine::new(&[quiet::DEF]).await;
    let base = serve_engine(&t.engine).await;
    let body = json!([{"name": "test/quiet", "data": {"n": 1}}, {"name": "test/quiet", "data": {"n": 2}}]);
    let answer = send_events(&base, body).await;
    assert_eq!(answer["status"], 200, "{answer}");
    let ids = answer["ids"].as_array().expect("ids").clone();
    let windowed = answer["windowed"].as_array().expect("a windowed list").clone();
    assert_eq!(windowed.len(), 2, "{answer}");
    for (record, id) in windowed.iter().zip(&ids) {
        assert_eq!((&record["function_id"], &record["event_id"]), (&json!("quiet"), id), "{answer}");
    }
    assert_eq!(windowed[0]["run_id"], windowed[1]["run_id"], "one window: {answer}");
    assert!(answer.get("skipped").is_none(), "nothing skipped them: {answer}");
}

// ---- cancel_on follows the chosen event ------------------------------------------------------------

#[inngest_fn(
    id = "quiet-cancellable",
    event = "test/quiet-cancellable",
    debounce(period = "5s"),
    cancel_on(event = "test/stop", if = "event.data.user == async.data.user")
)]
async fn quiet_cancellable(event: Event<Json>) -> Result<Value> {
    Ok(n_of(&event))
}

async fn cancel_on_follows_the_chosen_event(store: Arc<dyn Store>) {
    let t = TestEngine::builder(&[quiet_cancellable::DEF]).store(store).start().await;
    let first = RawEvent::new("test/quiet-cancellable", json!({ "n": 1, "user": "a" }));
    send(&t, vec![first]).await;
    t.advance(SECOND).await;
    let second = RawEvent::new("test/quiet-cancellable", json!({ "n": 2, "user": "b" }));
    send(&t, vec![second]).await;
    send(&t, vec![RawEvent::new("test/stop", json!({ "user": "a" }))]).await;
    t.settle().await;
    let run = runs(&t, "quiet-cancellable").await.remove(0);
    assert_eq!(run.status, RunStatus::Queued, "the first event is not the run's any more: {run:?}");
    send(&t, vec![RawEvent::new("test/stop", json!({ "user": "b" }))]).await;
    t.advance(5 * SECOND).await;
    let run = runs(&t, "quiet-cancellable").await.remove(0);
    assert_eq!(run.status, RunStatus::Cancelled, "the chosen event's condition cancels it: {run:?}");
}

#[tokio::test]
async fn cancel_on_compares_against_the_chosen_event_on_the_memory_store() {
    cancel_on_follows_the_chosen_event(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn cancel_on_compares_against_the_chosen_event_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    cancel_on_follows_the_chosen_event(Arc::new(SqliteStore::open(dir.path().join("cancel.db")).expect("open"))).await;
}

// ---- kill -9 inside a window -----------------------------------------------------------------------

/// A real process on SQLite takes three events into a window and is killed with SIGKILL before
/// the window closes; restarted, it runs the window once, with the newest event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_inside_a_window_loses_no_event_and_fires_once() {
    use hookflow_tests::workers;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("engine.db");
    let worker = workers::start(env!("CARGO_BIN_EXE_debounce_worker"), dir.path(), db.clone(), 0, &[]);
    let now = chrono::Utc::now().timestamp_millis();
    let body: Vec<Value> = (1..=3)
        .map(|n| json!({"name": "crash/debounce", "id": format!("d-{n}"), "ts": now + n, "data": {"k": "a", "n": n}}))
        .collect();
    send_events(&worker.url, json!(body)).await;
    drop(worker); // SIGKILL, well inside the 1 s window.
    let store = SqliteStore::open_read_only(&db).expect("read the worker's file");
    let queued = workers::all_runs(&store).await;
    assert_eq!(queued.len(), 1, "one window's run, queued: {queued:?}");
    assert_eq!(queued[0].status, RunStatus::Queued);
    let worker = workers::start(env!("CARGO_BIN_EXE_debounce_worker"), dir.path(), db.clone(), 1, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let runs = workers::all_runs(&store).await;
        if runs.iter().any(|r| r.status.is_terminal()) {
            break runs;
        }
        assert!(std::time::Instant::now() < deadline, "the window never fired: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let runs = workers::all_runs(&store).await;
    drop(worker);
    assert_eq!(runs.len(), 1, "the window fired once: {runs:?} (first seen {done:?})");
    assert_eq!((runs[0].status, runs[0].output.clone()), (RunStatus::Completed, Some(json!(3))));
    assert_eq!(runs[0].event_ids, ["d-3"], "with the newest event");
}
