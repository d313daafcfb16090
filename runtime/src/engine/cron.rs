//! Cron triggers: one loop per engine fires each schedule's ticks on the engine's clock.
//!
//! A tick starts one run of its function with an `inngest/scheduled.timer` event (data:
//! `{"cron": <schedule>}`) whose id names the function and the tick's time, so a tick fires
//! once however many engines share a store, and again not at all after a restart: accepting an
//! event id twice starts nothing. When the clock jumps past several ticks of one schedule (a
//! machine asleep, a test clock advanced by days), only the latest fires.
//!
//! Catch-up after downtime: when an engine starts, the latest tick of each schedule that is
//! already past fires once, late, if that schedule had fired any of the [`CATCH_UP_TICKS`]
//! ticks before it (within [`CATCH_UP_WINDOW`]): the function missed ticks while no engine
//! ran. The earlier missed ticks are not fired (no flurry after an outage), and a schedule
//! that never fired (a new function, or one idle beyond the window) waits for its next tick.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::ingest::Prepared;
use super::trigger_event::Incoming;
use super::Core;
use crate::function::{FunctionSpec, Trigger};
use crate::model::{EventSource, Millis, StoredEvent};
use crate::schedule::{parse_schedule, Schedule};
use crate::store::NewEvent;

/// The event a tick sends.
pub(crate) const SCHEDULED_EVENT: &str = "inngest/scheduled.timer";

/// How often the loop looks again for functions synced at run time, in real time.
const RESCAN: Duration = Duration::from_secs(30);

/// How many past ticks start-up looks back over for one this schedule fired.
pub(crate) const CATCH_UP_TICKS: usize = 1_000;
/// How far back start-up looks for a tick this schedule fired.
pub(crate) const CATCH_UP_WINDOW: Millis = 31 * 86_400_000;

/// The first tick of `schedule` after `after` (ms), if any.
pub(crate) fn next_tick(schedule: &Schedule, after: Millis) -> Option<Millis> {
    // croner keeps the sub-second part of the time it starts from: start from whole seconds.
    let start = Utc.timestamp_millis_opt(after.div_euclid(1_000) * 1_000).single()?;
    let next = match schedule.timezone {
        Some(tz) => schedule.cron.find_next_occurrence(&start.with_timezone(&tz), false).ok()?.timestamp_millis(),
        None => schedule.cron.find_next_occurrence(&start, false).ok()?.timestamp_millis(),
    };
    Some(next)
}

/// The latest tick of `schedule` in `(after, until]`, if any.
fn latest_tick(schedule: &Schedule, after: Millis, until: Millis) -> Option<Millis> {
    let end = Utc.timestamp_millis_opt(until.div_euclid(1_000) * 1_000).single()?;
    let previous = match schedule.timezone {
        Some(tz) => schedule.cron.find_previous_occurrence(&end.with_timezone(&tz), true).ok()?.timestamp_millis(),
        None => schedule.cron.find_previous_occurrence(&end, true).ok()?.timestamp_millis(),
    };
    (previous > after).then_some(previous)
}

/// Up to `max` ticks of `schedule` at or before `until` and after `not_before`, newest first.
fn past_ticks(schedule: &Schedule, until: Millis, not_before: Millis, max: usize) -> Vec<Millis> {
    let Some(end) = Utc.timestamp_millis_opt(until.div_euclid(1_000) * 1_000 + 1_000).single() else {
        return Vec::new();
    };
    let ticks: Vec<Millis> = match schedule.timezone {
        Some(tz) => schedule.cron.iter_before(end.with_timezone(&tz)).take(max).map(|t| t.timestamp_millis()).collect(),
        None => schedule.cron.iter_before(end).take(max).map(|t| t.timestamp_millis()).collect(),
    };
    ticks.into_iter().filter(|&t| t <= until && t > not_before).collect()
}

/// The id of the event one tick of a function sends: the same on every engine.
fn tick_event_id(function_id: &str, tick: Millis) -> String {
    let at = DateTime::<Utc>::from_timestamp_millis(tick).map(|t| t.to_rfc3339()).unwrap_or_else(|| tick.to_string());
    format!("cron:{function_id}:{at}")
}

/// The next tick of a cron trigger's schedule after `now`, for display (None if it never fires
/// again or does not parse). The dev UI shows it (feature `server`).
#[cfg(feature = "server")]
pub(crate) fn next_tick_of(schedule: &str, now: Millis) -> Option<Millis> {
    next_tick(&parse_schedule(schedule).ok()?, now)
}

/// The schedules of a function's cron triggers (the macro has checked them; a remote app's
/// that do not parse are skipped with a warning).
fn schedules(spec: &FunctionSpec) -> Vec<(String, Schedule)> {
    spec.triggers
        .iter()
        .filter_map(|t| match t {
            Trigger::Cron { schedule } => match parse_schedule(schedule) {
                Ok(parsed) => Some((schedule.to_string(), parsed)),
                Err(e) => {
                    tracing::warn!(function = %spec.id, schedule = %schedule, error = %e, "a cron schedule that cannot fire");
                    None
                }
            },
            Trigger::Event { .. } => None,
        })
        .collect()
}

impl Core {
    /// Fires cron ticks after `started` (the engine's start, read before the task is spawned
    /// so a clock moved before the task's first poll does not skip a tick) until it stops.
    pub(super) async fn cron_loop(self: Arc<Self>, started: Millis) {
        let mut cursor = started;
        while let Err(e) = self.catch_up(cursor).await {
            tracing::error!(error = %e, "could not look for missed cron ticks; retrying");
            if self.is_stopping() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        loop {
            if self.is_stopping() {
                return;
            }
            let now = self.clock.now_ms();
            let functions = self.functions();
            let mut next: Option<Millis> = None;
            let mut failed = false;
            for spec in functions.iter() {
                for (text, schedule) in schedules(spec) {
                    if let Some(tick) = latest_tick(&schedule, cursor, now) {
                        if let Err(e) = self.fire(spec, &text, tick).await {
                            tracing::error!(function = %spec.id, error = %e, "could not start a cron run; retrying");
                            failed = true;
                        }
                    }
                    if let Some(at) = next_tick(&schedule, now) {
                        next = Some(next.map_or(at, |n| n.min(at)));
                    }
                }
            }
            if failed {
                // The same ticks are tried again shortly (their ids make a retry harmless).
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            cursor = now;
            self.cron_next.store(next.unwrap_or(Millis::MAX), Ordering::SeqCst);
            let sleep = match next {
                Some(at) => self.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::select! {
                () = sleep => {}
                () = self.stop.notified() => return,
                () = tokio::time::sleep(RESCAN) => {}
            }
        }
    }

    /// Fires, once, the latest past tick of each schedule that missed ticks while no engine
    /// ran (see the module docs for the rule).
    async fn catch_up(self: &Arc<Self>, now: Millis) -> Result<(), crate::store::StoreError> {
        let functions = self.functions();
        for spec in functions.iter() {
            for (text, schedule) in schedules(spec) {
                let ticks = past_ticks(&schedule, now, now.saturating_sub(CATCH_UP_WINDOW), CATCH_UP_TICKS);
                let Some(&latest) = ticks.first() else { continue };
                let ids: Vec<String> = ticks.iter().map(|&t| tick_event_id(&spec.id, t)).collect();
                let fired = self.store.events(&ids).await?;
                if fired.is_empty() || fired.iter().any(|e| e.id == ids[0]) {
                    continue;
                }
                tracing::info!(function = %spec.id, tick = latest, "catching up on cron ticks missed while no engine ran: firing the latest once");
                self.fire(spec, &text, latest).await?;
            }
        }
        Ok(())
    }

    /// Starts the run of one tick (nothing if this tick was fired already).
    async fn fire(
        self: &Arc<Self>,
        spec: &FunctionSpec,
        schedule: &str,
        tick: Millis,
    ) -> Result<(), crate::store::StoreError> {
        let now = self.clock.now_ms();
        let event = StoredEvent {
            id: tick_event_id(&spec.id, tick),
            name: SCHEDULED_EVENT.to_owned(),
            data: json!({ "cron": schedule }).into(),
            ts: tick,
            user: None,
            source: EventSource::Cron,
            received_at: now,
        };
        let incoming = Incoming::new(&event);
        let runs = vec![self.triggered_run(spec, &event.id, &incoming, now)];
        let json = incoming.into_json();
        let prepared = Prepared { new: NewEvent { runs, ..NewEvent::new(event) }, json };
        self.commit(vec![prepared], Vec::new()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-06-01T06:00:00Z.
    const T0: Millis = 1_780_293_600_000;

    #[test]
    fn ticks_are_found_after_and_before_a_time() {
        let every_ten = parse_schedule("*/10 * * * *").expect("parses");
        assert_eq!(next_tick(&every_ten, T0), Some(T0 + 600_000), "strictly after");
        assert_eq!(latest_tick(&every_ten, T0, T0 + 600_000), Some(T0 + 600_000), "inclusive of the end");
        assert_eq!(latest_tick(&every_ten, T0, T0 + 599_999), None, "the start itself is excluded");
        assert_eq!(latest_tick(&every_ten, T0 - 1, T0 + 3_599_999), Some(T0 + 3_000_000), "the latest of several");
        let paris = parse_schedule("TZ=Europe/Paris 0 9 * * *").expect("parses");
        assert_eq!(next_tick(&paris, T0), Some(T0 + 3_600_000), "09:00 in Paris is 07:00 UTC in June");
    }

    #[test]
    fn past_ticks_are_newest_first_and_bounded() {
        let every_ten = parse_schedule("*/10 * * * *").expect("parses");
        assert_eq!(
            past_ticks(&every_ten, T0, T0 - 1_800_000, 10),
            vec![T0, T0 - 600_000, T0 - 1_200_000],
            "the window's start is excluded"
        );
        assert_eq!(past_ticks(&every_ten, T0 + 599_999, 0, 2), vec![T0, T0 - 600_000], "at most max");
        let paris = parse_schedule("TZ=Europe/Paris 0 9 * * *").expect("parses");
        assert_eq!(past_ticks(&paris, T0 + 3_600_000, 0, 1), vec![T0 + 3_600_000], "a tick exactly at `until` counts");
    }
}
