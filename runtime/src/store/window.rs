//! Events held for a function until a due time, as both stores keep them: debounce windows
//! and batches. An event of a debounced or batched function opens a window per key, or joins
//! the open one, in the transaction that accepts the event.
//!
//! The window's run is created, queued, when the window opens, and is due when the window
//! closes: its due time is the timer, so it fires once (whoever claims the run runs it), and
//! again not at all after a restart. An event that joins the window adds itself to the run's
//! events and may move that due time; it can join only while the run is queued and unclaimed
//! (the store reserves it in its queue meanwhile). Once the run is claimed, or a batch is
//! full, the next event opens a new window, as in Inngest.
//!
//! The rules ([`WindowRule`]):
//! - debounce: the window closes once no event came for `period`, and `timeout` after its
//!   first event at the latest; the run receives the event with the newest `ts` (an event
//!   whose `ts` is older than the chosen one's joins the window but neither extends it nor
//!   replaces the event); with `all_events`, every event of the window, by `ts` (oldest first).
//! - batch: the window closes `timeout` after its first event, or as soon as it holds
//!   `max_size` events (its run is then due at once, and the window is gone from its bucket);
//!   the run receives every event, in arrival order.

use serde::{Deserialize, Serialize};

use crate::model::{Debounced, FlowKeys, Millis};
use crate::store::{Matcher, MatcherKind, WindowGate, WindowRule};

/// An open window, as stored under its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Window {
    /// The run it fires.
    pub(crate) run_id: String,
    /// When its first event came (ms).
    pub(crate) first_at: Millis,
    /// When it closes whatever comes (`first_at + timeout`).
    pub(crate) deadline: Option<Millis>,
    /// When it closes if nothing else comes: the run's due time.
    pub(crate) due: Millis,
    /// The event the run receives (the newest `ts`), and its `ts`.
    pub(crate) event_id: String,
    pub(crate) ts: Millis,
    /// Every event of the window with its `ts`, in arrival order.
    pub(crate) events: Vec<(String, Millis)>,
}

impl Window {
    /// The window `event_id` opens at `at`; its run is `run_id`, due at `due`.
    pub(crate) fn open(gate: &WindowGate, run_id: &str, event_id: &str, at: Millis, due: Millis) -> Window {
        Window {
            run_id: run_id.to_owned(),
            first_at: at,
            deadline: gate.timeout_ms.map(|t| at.saturating_add(t)),
            due,
            event_id: event_id.to_owned(),
            ts: gate.ts,
            events: vec![(event_id.to_owned(), gate.ts)],
        }
    }

    /// `event_id` joins the window at `at`, and says what that changed for its run.
    pub(crate) fn join(&mut self, gate: &WindowGate, event_id: &str, at: Millis) -> Joined {
        self.events.push((event_id.to_owned(), gate.ts));
        match gate.rule {
            WindowRule::Batch { max_size } => {
                if self.events.len() < max_size as usize {
                    return Joined::Held;
                }
                self.due = self.due.min(at);
                Joined::Full
            }
            WindowRule::Debounce { period_ms, .. } => {
                if gate.ts < self.ts {
                    return Joined::Held;
                }
                self.event_id = event_id.to_owned();
                self.ts = gate.ts;
                let quiet = at.saturating_add(period_ms);
                self.due = self.deadline.map_or(quiet, |d| d.min(quiet));
                Joined::Chosen
            }
        }
    }

    /// The events its run receives: a batch's every one in arrival order; a debounce
    /// window's chosen one, or (`all_events`) every one by `ts`.
    pub(crate) fn run_events(&self, rule: WindowRule) -> Vec<String> {
        let mut events = self.events.clone();
        match rule {
            WindowRule::Batch { .. } => {}
            WindowRule::Debounce { all_events: false, .. } => return vec![self.event_id.clone()],
            WindowRule::Debounce { all_events: true, .. } => events.sort_by_key(|(_, ts)| *ts),
        }
        events.into_iter().map(|(id, _)| id).collect()
    }
}

/// The record of the event `event_id` going into the window (of `gate`) of the run `run_id`.
pub(crate) fn record(gate: &WindowGate, function_id: &str, event_id: &str, run_id: &str, at: Millis) -> Debounced {
    Debounced {
        function_id: function_id.to_owned(),
        event_id: event_id.to_owned(),
        run_id: run_id.to_owned(),
        key: gate.key.clone(),
        at,
    }
}

/// The flow control of a window's run once an event joined it (`None`: unchanged): when the
/// event was chosen, the event's own (`chosen`, computed for a run due at `chosen_planned`)
/// with the singleton lock the run took; when the batch is full, the run's own (`held`), its
/// start deadline moved from `planned` to the new due time `due`. For the stores that keep
/// windows in a database.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn joined_flow(
    joined: Joined,
    chosen: FlowKeys,
    chosen_planned: Option<Millis>,
    held: Option<FlowKeys>,
    planned: Millis,
    due: Millis,
) -> Option<FlowKeys> {
    match joined {
        Joined::Held => None,
        Joined::Chosen => {
            let mut keys = moved(chosen, chosen_planned, due);
            keys.singleton = held.and_then(|h| h.singleton);
            Some(keys)
        }
        Joined::Full => Some(moved(held.unwrap_or_default(), Some(planned), due)),
    }
}

/// The `cancel_on` matchers of a debounce window's run `run_id` (created at `created_at`) once
/// an event is chosen: that event's own (`chosen`, made for a run of its own), so that their
/// conditions (`event.data.id == async.data.id`) compare against the event the run receives;
/// their timeouts count from when the window opened, as the run's did.
pub(crate) fn chosen_matchers<'a>(
    chosen: impl IntoIterator<Item = &'a Matcher>,
    run_id: &str,
    created_at: Millis,
) -> Vec<Matcher> {
    chosen
        .into_iter()
        .filter(|m| m.kind == MatcherKind::Cancel)
        .map(|m| Matcher {
            run_id: run_id.to_owned(),
            since: created_at,
            deadline: match m.deadline {
                Millis::MAX => Millis::MAX,
                deadline => created_at.saturating_add(deadline.saturating_sub(m.since)),
            },
            ..m.clone()
        })
        .collect()
}

/// What an event joining a window changed for the window's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joined {
    /// Only its events: the due time and the chosen event stay.
    Held,
    /// A debounce window's: the event is the run's event now (its `ts` is the newest), which
    /// moved the due time; the run takes that event's flow control.
    Chosen,
    /// A batch's: it is full, so its run is due now, and the window leaves its bucket.
    Full,
}

/// `flow`, computed for a run due at `planned`, for the same run due at `due`: its start
/// deadline (`timeouts.start`) counts from when the window closes, and moves with it.
pub(crate) fn moved(mut flow: FlowKeys, planned: Option<Millis>, due: Millis) -> FlowKeys {
    if let (Some(deadline), Some(planned)) = (flow.start_deadline, planned) {
        flow.start_deadline = Some(deadline.saturating_add(due.saturating_sub(planned)));
    }
    flow
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(ts: Millis) -> WindowGate {
        WindowGate {
            bucket: "f".into(),
            key: String::new(),
            timeout_ms: Some(2_500),
            ts,
            rule: WindowRule::Debounce { period_ms: 1_000, all_events: false },
        }
    }

    #[test]
    fn a_window_extends_on_newer_events_up_to_its_timeout() {
        let mut w = Window::open(&gate(10), "r", "a", 0, 1_000);
        assert_eq!(w.join(&gate(20), "b", 900), Joined::Chosen);
        assert_eq!(w.due, 1_900, "a quiet period from the last event");
        assert_eq!(w.join(&gate(15), "c", 1_500), Joined::Held, "an older ts does not replace the event");
        assert_eq!((w.due, w.event_id.as_str()), (1_900, "b"), "nor extend the window");
        assert_eq!(w.join(&gate(30), "d", 1_800), Joined::Chosen);
        assert_eq!(w.due, 2_500, "capped by the timeout from the first event");
        let rule = |all_events| WindowRule::Debounce { period_ms: 1_000, all_events };
        assert_eq!(w.run_events(rule(false)), ["d"]);
        assert_eq!(w.run_events(rule(true)), ["a", "c", "b", "d"], "all of them, by ts");
    }

    #[test]
    fn a_batch_keeps_arrival_order_and_is_due_at_once_when_full() {
        let batch = |ts| WindowGate { rule: WindowRule::Batch { max_size: 3 }, ..gate(ts) };
        let mut w = Window::open(&batch(30), "r", "a", 0, 2_500);
        assert_eq!(w.join(&batch(10), "b", 100), Joined::Held);
        assert_eq!((w.due, w.event_id.as_str()), (2_500, "a"), "due at the timeout; the first event is the run's");
        assert_eq!(w.join(&batch(20), "c", 700), Joined::Full);
        assert_eq!(w.due, 700, "due when the last event came");
        assert_eq!(w.run_events(WindowRule::Batch { max_size: 3 }), ["a", "b", "c"], "in arrival order, not by ts");
    }
}
