//! An in-memory index of the matchers that wait for events, for the stores that keep them in
//! memory (the memory store entirely; the SQLite store as a cache of its `matchers` table,
//! loaded at open). Equality joins (`event.data.id == async.data.id`) are indexed by value, so
//! 100,000 waiting runs cost one map lookup per incoming event; other conditions are handed back
//! with the run's trigger for the caller to evaluate.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::types::{Candidate, Matcher};
use crate::model::Millis;

type Key = (String, String);

#[derive(Debug, Default)]
struct ByEvent {
    /// Joins: the path into the incoming event, then its value.
    joins: HashMap<Vec<String>, HashMap<String, Vec<Key>>>,
    /// Conditions that must be evaluated, and unconditional matchers.
    others: Vec<Key>,
}

impl ByEvent {
    fn is_empty(&self) -> bool {
        self.others.is_empty() && self.joins.values().all(HashMap::is_empty)
    }
}

#[derive(Debug)]
struct Entry {
    matcher: Matcher,
    trigger: Option<Arc<Value>>,
}

/// Matchers by event name.
#[derive(Debug, Default)]
pub(crate) struct MatcherIndex {
    entries: HashMap<Key, Entry>,
    by_event: HashMap<String, ByEvent>,
    by_run: HashMap<String, Vec<String>>,
}

impl MatcherIndex {
    /// Adds a matcher (replacing one with the same run and id). `trigger` is the run's trigger
    /// as JSON, needed when the condition is not a join.
    pub(crate) fn insert(&mut self, matcher: Matcher, trigger: Option<Arc<Value>>) {
        let key = (matcher.run_id.clone(), matcher.id.clone());
        self.remove(&key.0, &key.1);
        let slot = self.by_event.entry(matcher.event.clone()).or_default();
        match &matcher.join {
            Some(join) => slot
                .joins
                .entry(join.path.clone())
                .or_default()
                .entry(join.value.clone())
                .or_default()
                .push(key.clone()),
            None => slot.others.push(key.clone()),
        }
        self.by_run.entry(key.0.clone()).or_default().push(key.1.clone());
        self.entries.insert(key, Entry { matcher, trigger });
    }

    /// Whether a matcher needs its run's trigger as JSON to be matched.
    pub(crate) fn needs_trigger(matcher: &Matcher) -> bool {
        matcher.join.is_none() && matcher.expr.is_some()
    }

    /// Removes one matcher; answers it if it was there.
    pub(crate) fn remove(&mut self, run_id: &str, id: &str) -> Option<Matcher> {
        let key = (run_id.to_owned(), id.to_owned());
        let entry = self.entries.remove(&key)?;
        if let Some(slot) = self.by_event.get_mut(&entry.matcher.event) {
            match &entry.matcher.join {
                Some(join) => {
                    if let Some(by_value) = slot.joins.get_mut(&join.path) {
                        if let Some(keys) = by_value.get_mut(&join.value) {
                            keys.retain(|k| k != &key);
                            if keys.is_empty() {
                                by_value.remove(&join.value);
                            }
                        }
                    }
                }
                None => slot.others.retain(|k| k != &key),
            }
            if slot.is_empty() {
                self.by_event.remove(&entry.matcher.event);
            }
        }
        if let Some(ids) = self.by_run.get_mut(run_id) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_run.remove(run_id);
            }
        }
        Some(entry.matcher)
    }

    /// Removes every matcher of a run.
    pub(crate) fn remove_run(&mut self, run_id: &str) {
        for id in self.by_run.get(run_id).cloned().unwrap_or_default() {
            self.remove(run_id, &id);
        }
    }

    /// The matchers for `name` that `incoming` may satisfy, not expired at `now`.
    pub(crate) fn candidates(&self, name: &str, incoming: &Value, now: Millis) -> Vec<Candidate> {
        let Some(slot) = self.by_event.get(name) else { return Vec::new() };
        let mut keys: Vec<&Key> = Vec::new();
        for (path, by_value) in &slot.joins {
            if let Some(value) = value_at(incoming, path) {
                if let Some(found) = by_value.get(&value) {
                    keys.extend(found);
                }
            }
        }
        keys.extend(&slot.others);
        keys.into_iter()
            .filter_map(|k| self.entries.get(k))
            .filter(|e| e.matcher.deadline >= now)
            .map(|e| Candidate {
                matcher: e.matcher.clone(),
                trigger: MatcherIndex::needs_trigger(&e.matcher).then(|| e.trigger.clone().unwrap_or_default()),
            })
            .collect()
    }

    /// Whether any matcher waits for events named `name`.
    pub(crate) fn observes(&self, name: &str) -> bool {
        self.by_event.contains_key(name)
    }

    /// How many runs have matchers.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.by_run.len()
    }
}

/// The compact JSON text of the value at `path`, `None` when missing or null: what a [`Join`]
/// compares.
///
/// [`Join`]: super::types::Join
pub(crate) fn value_at(value: &Value, path: &[String]) -> Option<String> {
    let mut v = value;
    for p in path {
        v = v.get(p)?;
    }
    (!v.is_null()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::{Join, MatcherKind};
    use serde_json::json;

    fn matcher(run: &str, value: Option<&str>, deadline: Millis) -> Matcher {
        Matcher {
            run_id: run.into(),
            id: "h".into(),
            kind: MatcherKind::Wait,
            name: "wait".into(),
            event: "e".into(),
            expr: Some("event.data.id == async.data.id".into()),
            join: value.map(|v| Join { path: vec!["data".into(), "id".into()], value: format!("\"{v}\"") }),
            trigger: None,
            since: 0,
            deadline,
        }
    }

    #[test]
    fn joins_match_by_value_and_expire() {
        let mut index = MatcherIndex::default();
        index.insert(matcher("r1", Some("u1"), 100), None);
        index.insert(matcher("r2", Some("u2"), 100), None);
        let got = index.candidates("e", &json!({"data": {"id": "u2"}}), 50);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].matcher.run_id, "r2");
        assert!(got[0].trigger.is_none(), "a join needs no evaluation");
        assert!(index.candidates("e", &json!({"data": {"id": "u2"}}), 500).is_empty(), "expired");
        assert!(index.candidates("other", &json!({"data": {"id": "u2"}}), 50).is_empty());
        assert_eq!(index.remove("r2", "h").map(|m| m.run_id), Some("r2".to_owned()));
        assert!(index.remove("r2", "h").is_none());
        index.remove_run("r1");
        assert_eq!(index.runs(), 0);
        assert!(!index.observes("e"));
    }

    #[test]
    fn other_conditions_come_with_their_trigger() {
        let mut index = MatcherIndex::default();
        let trigger = Arc::new(json!({"data": {"n": 1}}));
        let mut m = matcher("r1", None, 100);
        m.expr = Some("async.data.n > event.data.n".into());
        index.insert(m, Some(trigger.clone()));
        let got = index.candidates("e", &json!({"data": {"n": 0}}), 0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].trigger.as_deref(), Some(&*trigger));
    }
}
