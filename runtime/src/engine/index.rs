//! In-memory indexes over suspended runs: timers by due time, and the runs waiting for (or
//! cancelled by) an event. Rebuilt from the store on start-up; the store stays the truth, so a
//! stale entry costs one harmless extra pass.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::clock::Millis;
use crate::expr::{EqualityJoin, Exprs};

/// Runs to wake at given times.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Millis, String)>>,
}

impl Timers {
    pub(crate) fn add(&mut self, at: Millis, run_id: String) {
        self.heap.push(Reverse((at, run_id)));
    }

    pub(crate) fn next_due(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns every run due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Millis) -> Vec<String> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            if let Some(Reverse((_, run))) = self.heap.pop() {
                due.push(run);
            }
        }
        due
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// A run waiting for an event: a `wait_for_event` step (`step` is its hash) or a `cancel_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiter {
    pub(crate) run_id: String,
    pub(crate) step: Option<String>,
    /// After this time the waiter no longer matches.
    pub(crate) deadline: Millis,
}

#[derive(Debug, Default)]
struct EventWaiters {
    /// `event.x == async.y` conditions, by the path into the incoming event, then by value.
    joins: HashMap<Vec<String>, HashMap<String, Vec<Waiter>>>,
    /// Any other condition, evaluated against each incoming event.
    exprs: Vec<(Waiter, String, Arc<Value>)>,
    /// No condition.
    any: Vec<Waiter>,
}

/// Runs waiting for events, by event name.
#[derive(Debug, Default)]
pub(crate) struct MatchIndex {
    by_event: HashMap<String, EventWaiters>,
    by_run: HashMap<String, Vec<String>>,
}

impl MatchIndex {
    /// Registers a waiter for `event` with an optional condition over `event` (the run's
    /// trigger, `trigger`) and `async` (the incoming event).
    pub(crate) fn add(&mut self, event: &str, expr: Option<&str>, trigger: &Arc<Value>, waiter: Waiter) {
        self.by_run.entry(waiter.run_id.clone()).or_default().push(event.to_owned());
        let slot = self.by_event.entry(event.to_owned()).or_default();
        match expr {
            None => slot.any.push(waiter),
            Some(expr) => match EqualityJoin::parse(expr) {
                Some(join) => match EqualityJoin::key_at(trigger, &join.event_path) {
                    Some(key) => slot.joins.entry(join.async_path).or_default().entry(key).or_default().push(waiter),
                    // The trigger lacks the field: `null == x` can still hold, so evaluate it.
                    None => slot.exprs.push((waiter, expr.to_owned(), trigger.clone())),
                },
                None => slot.exprs.push((waiter, expr.to_owned(), trigger.clone())),
            },
        }
    }

    /// Removes every waiter of a run.
    pub(crate) fn remove_run(&mut self, run_id: &str) {
        let Some(events) = self.by_run.remove(run_id) else { return };
        for event in events {
            if let Some(slot) = self.by_event.get_mut(&event) {
                slot.any.retain(|w| w.run_id != run_id);
                slot.exprs.retain(|(w, _, _)| w.run_id != run_id);
                for by_key in slot.joins.values_mut() {
                    by_key.retain(|_, ws| {
                        ws.retain(|w| w.run_id != run_id);
                        !ws.is_empty()
                    });
                }
                if slot.any.is_empty() && slot.exprs.is_empty() && slot.joins.values().all(HashMap::is_empty) {
                    self.by_event.remove(&event);
                }
            }
        }
    }

    /// Takes out every waiter that `incoming` (named `name`) satisfies and that has not expired.
    pub(crate) fn take_matches(&mut self, name: &str, incoming: &Value, now: Millis, exprs: &Exprs) -> Vec<Waiter> {
        let Some(slot) = self.by_event.get_mut(name) else { return Vec::new() };
        let mut matched: Vec<Waiter> = std::mem::take(&mut slot.any);
        for (path, by_key) in slot.joins.iter_mut() {
            if let Some(key) = EqualityJoin::key_at(incoming, path) {
                if let Some(ws) = by_key.remove(&key) {
                    matched.extend(ws);
                }
            }
        }
        let mut kept = Vec::with_capacity(slot.exprs.len());
        for (waiter, expr, trigger) in slot.exprs.drain(..) {
            match exprs.test(&expr, &[("event", &trigger), ("async", incoming)]) {
                Ok(true) => matched.push(waiter),
                Ok(false) => kept.push((waiter, expr, trigger)),
                Err(e) => {
                    tracing::warn!(run_id = %waiter.run_id, error = %e, "dropping a waiter whose expression fails");
                }
            }
        }
        slot.exprs = kept;
        // Every waiter taken out is forgotten, expired ones included; only live ones match.
        for w in &matched {
            if let Some(events) = self.by_run.get_mut(&w.run_id) {
                if let Some(i) = events.iter().position(|e| e == name) {
                    events.swap_remove(i);
                }
                if events.is_empty() {
                    self.by_run.remove(&w.run_id);
                }
            }
        }
        matched.retain(|w| w.deadline >= now);
        matched
    }

    /// Whether any run waits for events with this name.
    pub(crate) fn has_event(&self, name: &str) -> bool {
        self.by_event.contains_key(name)
    }

    pub(crate) fn runs(&self) -> usize {
        self.by_run.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn waiter(run: &str) -> Waiter {
        Waiter { run_id: run.into(), step: Some("h".into()), deadline: 100 }
    }

    #[test]
    fn joins_match_by_value_and_expire() {
        let exprs = Exprs::default();
        let mut index = MatchIndex::default();
        let t1 = Arc::new(json!({"data": {"id": "u1"}}));
        let t2 = Arc::new(json!({"data": {"id": "u2"}}));
        index.add("clerk/user.deleted", Some("event.data.id == async.data.id"), &t1, waiter("r1"));
        index.add("clerk/user.deleted", Some("event.data.id == async.data.id"), &t2, waiter("r2"));
        let got = index.take_matches("clerk/user.deleted", &json!({"data": {"id": "u2"}}), 50, &exprs);
        assert_eq!(got, vec![waiter("r2")]);
        assert!(index.take_matches("clerk/user.deleted", &json!({"data": {"id": "u2"}}), 50, &exprs).is_empty());
        assert!(index.take_matches("clerk/user.deleted", &json!({"data": {"id": "u1"}}), 500, &exprs).is_empty());
        assert_eq!(index.runs(), 0);
    }

    #[test]
    fn general_expressions_and_removal() {
        let exprs = Exprs::default();
        let mut index = MatchIndex::default();
        let t = Arc::new(json!({"data": {"n": 1}}));
        index.add("e", Some("async.data.n > event.data.n"), &t, waiter("r1"));
        index.add("e", None, &t, waiter("r2"));
        index.remove_run("r2");
        assert!(index.take_matches("e", &json!({"data": {"n": 0}}), 0, &exprs).is_empty());
        assert_eq!(index.take_matches("e", &json!({"data": {"n": 2}}), 0, &exprs), vec![waiter("r1")]);
    }

    #[test]
    fn timers_pop_in_order() {
        let mut timers = Timers::default();
        timers.add(30, "c".into());
        timers.add(10, "a".into());
        timers.add(20, "b".into());
        assert_eq!(timers.next_due(), Some(10));
        assert_eq!(timers.pop_due(20), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(timers.len(), 1);
    }
}
