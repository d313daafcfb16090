//! Cron triggers fire on the engine's clock: each tick once, with Inngest's
//! `inngest/scheduled.timer` event, in the schedule's time zone, once across engines sharing a
//! store, only the latest of the ticks a clock jump passes, never twice across a restart, and
//! once, late, for the ticks missed while no engine ran.

use std::sync::Arc;
use std::time::Duration;

use hookflow::clock::TestClock;
use hookflow::engine::{Engine, EngineBuilder};
use hookflow::prelude::*;
use hookflow::store::{MemoryStore, RunQuery, RunRecord, RunStatus, Store};
use hookflow::Registry;
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);
/// 2026-06-01T06:00:00Z, a Monday: 08:00 in Paris (summer time).
const JUNE_1_0600Z: i64 = 1_780_293_600_000;

#[inngest_fn(id = "every-ten-minutes", cron = "*/10 * * * *")]
async fn every_ten_minutes(event: Event<Json>) -> Result<String> {
    Ok(format!("{}@{}", event.data["cron"].as_str().unwrap_or_default(), event.ts))
}

#[inngest_fn(id = "paris-morning", cron = "TZ=Europe/Paris 0 9 * * *")]
async fn paris_morning(_step: Step) -> Result<()> {
    Ok(())
}

async fn engine(store: Arc<dyn Store>, clock: &TestClock) -> Engine {
    let mut registry = Registry::empty();
    registry.add(every_ten_minutes::DEF).expect("add");
    registry.add(paris_morning::DEF).expect("add");
    EngineBuilder::new("cron-test", registry)
        .store(store)
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("engine starts")
}

async fn runs(store: &Arc<dyn Store>, function: &str) -> Vec<RunRecord> {
    let query = RunQuery { function_id: Some(function.to_owned()), limit: 100, ..RunQuery::default() };
    let mut runs = store.queries().expect("queries").list_runs(&query).await.expect("runs");
    runs.sort_by(|a, b| a.id.cmp(&b.id));
    runs
}

async fn advance(engine: &Engine, clock: &TestClock, by: Duration) {
    clock.advance(by);
    engine.settle().await;
}

#[tokio::test]
async fn a_schedule_fires_each_tick_with_the_scheduled_timer_event() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z + 1_000);
    let e = engine(store.clone(), &clock).await;
    advance(&e, &clock, 9 * MINUTE).await;
    assert!(runs(&store, "every-ten-minutes").await.is_empty(), "no tick yet (06:09:01)");
    advance(&e, &clock, MINUTE).await;
    let first = runs(&store, "every-ten-minutes").await;
    assert_eq!(first.len(), 1, "06:10 fired");
    assert_eq!(first[0].status, RunStatus::Completed);
    let tick = JUNE_1_0600Z + 600_000;
    assert_eq!(
        first[0].output,
        Some(json!(format!("*/10 * * * *@{tick}"))),
        "the event carries the schedule and the tick"
    );
    let events = store.events(&first[0].event_ids).await.expect("events");
    assert_eq!(events[0].name, "inngest/scheduled.timer");
    assert_eq!(events[0].id, "cron:every-ten-minutes:2026-06-01T06:10:00+00:00");

    advance(&e, &clock, 10 * MINUTE).await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 2, "06:20 fired");
    // The clock jumps an hour: the ticks it passed fire once, as the latest of them.
    advance(&e, &clock, 60 * MINUTE).await;
    let all = runs(&store, "every-ten-minutes").await;
    assert_eq!(all.len(), 3, "one run for the jump, not six");
    let last = store.events(&all[2].event_ids).await.expect("events");
    assert_eq!(last[0].ts, JUNE_1_0600Z + 80 * 60_000, "the latest tick passed (07:20)");
}

#[tokio::test]
async fn a_schedule_reads_its_time_zone() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z);
    let e = engine(store.clone(), &clock).await;
    advance(&e, &clock, 59 * MINUTE).await;
    assert!(runs(&store, "paris-morning").await.is_empty(), "08:59 in Paris");
    advance(&e, &clock, MINUTE).await;
    let fired = runs(&store, "paris-morning").await;
    assert_eq!(fired.len(), 1, "09:00 in Paris is 07:00 UTC in June");
    assert_eq!(fired[0].created_at, JUNE_1_0600Z + 3_600_000);
}

#[tokio::test]
async fn two_engines_on_one_store_fire_a_tick_once() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z + 1_000);
    let a = engine(store.clone(), &clock).await;
    let b = engine(store.clone(), &clock).await;
    a.settle().await;
    b.settle().await;
    clock.advance(10 * MINUTE);
    a.settle().await;
    b.settle().await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 1, "the tick's event id is accepted once");
}

/// A store whose engine fired the 06:10 tick and stopped at 06:10:01, and the clock.
async fn fired_at_0610_then_stopped() -> (Arc<dyn Store>, TestClock) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z + 1_000);
    let first = engine(store.clone(), &clock).await;
    advance(&first, &clock, 10 * MINUTE).await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 1, "06:10 fired");
    first.shutdown(Duration::from_secs(1)).await;
    (store, clock)
}

#[tokio::test]
async fn a_restart_fires_no_tick_twice() {
    let (store, clock) = fired_at_0610_then_stopped().await;
    clock.advance(4 * MINUTE);
    let second = engine(store.clone(), &clock).await;
    second.settle().await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 1, "06:10 is not fired again at 06:14");
    advance(&second, &clock, 6 * MINUTE).await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 2, "06:20 fires on the new engine");
}

#[tokio::test]
async fn ticks_missed_while_down_fire_once_at_start_up() {
    let (store, clock) = fired_at_0610_then_stopped().await;
    // Down from 06:10:01 to 08:05:01: eleven ticks (06:20 ... 08:00) were missed.
    clock.advance(115 * MINUTE);
    let second = engine(store.clone(), &clock).await;
    second.settle().await;
    let all = runs(&store, "every-ten-minutes").await;
    assert_eq!(all.len(), 2, "one catch-up run, not eleven");
    let caught_up = store.events(&all[1].event_ids).await.expect("events");
    assert_eq!(caught_up[0].id, "cron:every-ten-minutes:2026-06-01T08:00:00+00:00", "the latest missed tick");
    assert_eq!(all[1].status, RunStatus::Completed);
    advance(&second, &clock, 5 * MINUTE).await;
    assert_eq!(runs(&store, "every-ten-minutes").await.len(), 3, "08:10 fires as usual");
}

#[tokio::test]
async fn a_schedule_that_never_fired_does_not_catch_up() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z + 1_000);
    let e = engine(store.clone(), &clock).await;
    e.settle().await;
    assert!(runs(&store, "every-ten-minutes").await.is_empty(), "06:00 passed before this function first ran");
    assert!(runs(&store, "paris-morning").await.is_empty());
}

#[tokio::test]
async fn the_functions_api_shows_the_next_tick() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = TestClock::new(JUNE_1_0600Z + 1_000);
    let e = engine(store, &clock).await;
    let app = hookflow::devui::router(e.clone(), hookflow::devui::DevUiConfig::default());
    let base = hookflow_tests::http::serve(app).await;
    let next = |body: &serde_json::Value, id: &str| {
        body["functions"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["id"] == id))
            .map(|f| f["triggers"][0]["next"].clone())
            .unwrap_or_default()
    };
    let url = format!("{base}/api/v1/functions");
    let body: serde_json::Value = reqwest::get(&url).await.expect("GET").json().await.expect("json");
    assert_eq!(next(&body, "every-ten-minutes"), json!(JUNE_1_0600Z + 600_000));
    assert_eq!(next(&body, "paris-morning"), json!(JUNE_1_0600Z + 3_600_000), "09:00 Paris");
    advance(&e, &clock, 10 * MINUTE).await;
    let body: serde_json::Value = reqwest::get(&url).await.expect("GET").json().await.expect("json");
    assert_eq!(next(&body, "every-ten-minutes"), json!(JUNE_1_0600Z + 1_200_000), "moves on after a tick");
}
