//! Debounce windows, as both stores keep them: an event of a debounced function opens a
//! window per key, or joins the open one, in the transaction that accepts the event.
//!
//! The window's run is created, queued, when the window opens, and is due when the window
//! closes: its due time is the timer, so it fires once (whoever claims the run runs it), and
//! again not at all after a restart. An event that joins the window moves that due time and
//! sets which event the run gets; it can join only while the run is queued and unclaimed (the
//! store reserves it in its queue meanwhile). Once the run is claimed, the next event opens a
//! new window, as in Inngest.
//!
//! The rule: the window closes once no event came for `period`, and `timeout` after its first
//! event at the latest; the run receives the event with the newest `ts` (an event whose `ts`
//! is older than the chosen one's joins the window but neither extends it nor replaces the
//! event); with `all_events`, every event of the window, by `ts` (oldest first).

use serde::{Deserialize, Serialize};

use crate::model::{FlowKeys, Millis};
use crate::store::DebounceGate;

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
    pub(crate) fn open(gate: &DebounceGate, run_id: &str, event_id: &str, at: Millis, due: Millis) -> Window {
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

    /// `event_id` joins the window at `at`: `true` when it is the run's event now (its `ts`
    /// is the newest), which moves the due time.
    pub(crate) fn join(&mut self, gate: &DebounceGate, event_id: &str, at: Millis) -> bool {
        self.events.push((event_id.to_owned(), gate.ts));
        if gate.ts < self.ts {
            return false;
        }
        self.event_id = event_id.to_owned();
        self.ts = gate.ts;
        let quiet = at.saturating_add(gate.period_ms);
        self.due = self.deadline.map_or(quiet, |d| d.min(quiet));
        true
    }

    /// The events its run receives: the chosen one, or (`all`) every one by `ts`.
    pub(crate) fn run_events(&self, all: bool) -> Vec<String> {
        if !all {
            return vec![self.event_id.clone()];
        }
        let mut events = self.events.clone();
        events.sort_by_key(|(_, ts)| *ts);
        events.into_iter().map(|(id, _)| id).collect()
    }
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

    fn gate(ts: Millis) -> DebounceGate {
        DebounceGate {
            bucket: "f".into(),
            key: String::new(),
            period_ms: 1_000,
            timeout_ms: Some(2_500),
            ts,
            all_events: false,
        }
    }

    #[test]
    fn a_window_extends_on_newer_events_up_to_its_timeout() {
        let mut w = Window::open(&gate(10), "r", "a", 0, 1_000);
        assert!(w.join(&gate(20), "b", 900));
        assert_eq!(w.due, 1_900, "a quiet period from the last event");
        assert!(!w.join(&gate(15), "c", 1_500), "an older ts does not replace the event");
        assert_eq!((w.due, w.event_id.as_str()), (1_900, "b"), "nor extend the window");
        assert!(w.join(&gate(30), "d", 1_800));
        assert_eq!(w.due, 2_500, "capped by the timeout from the first event");
        assert_eq!(w.run_events(false), ["d"]);
        assert_eq!(w.run_events(true), ["a", "c", "b", "d"], "all of them, by ts");
    }
}
