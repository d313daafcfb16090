//! An in-memory store: fast, and gone when the process ends. For tests.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;

use super::types::effective_limit;
use super::{
    Accepted, EventQuery, LogLine, NewEvent, RunQuery, RunRecord, RunUpdate, StepRecord, Store, StoreError, StoredEvent,
};

/// A store that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Events in receive order.
    events: Vec<StoredEvent>,
    event_index: HashMap<String, usize>,
    /// Runs by id; ULIDs sort by creation.
    runs: BTreeMap<String, RunRecord>,
    run_keys: HashMap<(String, String), String>,
    journals: HashMap<String, Vec<StepRecord>>,
    logs: HashMap<String, Vec<LogLine>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let mut inner = self.inner.lock();
        let mut out = Vec::with_capacity(events.len());
        for NewEvent { mut event, runs, embeds } in events.iter().cloned() {
            if inner.event_index.contains_key(&event.id) {
                out.push(Accepted { event_id: event.id, new: false, runs: Vec::new() });
                continue;
            }
            if let Some(id) = embeds {
                if let Value::Object(data) = &mut *event.data {
                    let embedded = inner.event_index.get(&id).map(|&at| inner.events[at].to_raw().to_json());
                    data.insert("event".into(), embedded.unwrap_or(Value::Null));
                }
            }
            let position = inner.events.len();
            inner.event_index.insert(event.id.clone(), position);
            let mut created = Vec::new();
            for run in runs {
                let key = (run.dedupe_key(), run.function_id.clone());
                if inner.run_keys.contains_key(&key) {
                    continue;
                }
                inner.run_keys.insert(key, run.id.clone());
                created.push(run.id.clone());
                inner.runs.insert(run.id.clone(), run);
            }
            out.push(Accepted { event_id: event.id.clone(), new: true, runs: created });
            inner.events.push(event);
        }
        Ok(out)
    }

    async fn save(&self, updates: Vec<RunUpdate>) -> Result<(), StoreError> {
        for update in &updates {
            if !update.events.is_empty() {
                self.accept(&update.events).await?;
            }
        }
        let mut inner = self.inner.lock();
        for update in updates {
            for step in update.steps {
                let journal = inner.journals.entry(step.run_id.clone()).or_default();
                if !journal.iter().any(|s| s.hash == step.hash) {
                    journal.push(step);
                }
            }
            if let Some(run) = update.run {
                inner.runs.insert(run.id.clone(), run);
            }
        }
        Ok(())
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.inner.lock().runs.get(id).cloned())
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        Ok(self.inner.lock().journals.get(run_id).cloned().unwrap_or_default())
    }

    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let inner = self.inner.lock();
        Ok(ids.iter().filter_map(|id| inner.event_index.get(id).map(|&i| inner.events[i].clone())).collect())
    }

    async fn active_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self.inner.lock().runs.values().filter(|r| !r.status.is_terminal()).cloned().collect())
    }

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let inner = self.inner.lock();
        let end = match &query.before {
            Some(cursor) => inner.event_index.get(cursor).copied().unwrap_or(inner.events.len()),
            None => inner.events.len(),
        };
        let needle = query.search.as_ref().map(|s| s.to_lowercase());
        Ok(inner.events[..end]
            .iter()
            .rev()
            .filter(|e| query.include_internal || !e.is_internal())
            .filter(|e| query.name.as_ref().is_none_or(|n| &e.name == n))
            .filter(|e| query.since.is_none_or(|t| e.received_at >= t))
            .filter(|e| query.until.is_none_or(|t| e.received_at < t))
            .filter(|e| {
                needle
                    .as_ref()
                    .is_none_or(|n| e.name.to_lowercase().contains(n) || e.data.to_string().to_lowercase().contains(n))
            })
            .take(effective_limit(query.limit))
            .cloned()
            .collect())
    }

    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let inner = self.inner.lock();
        let needle = query.search.as_ref().map(|s| s.to_lowercase());
        let runs = inner.runs.values().rev();
        Ok(runs
            .filter(|r| query.before.as_ref().is_none_or(|b| &r.id < b))
            .filter(|r| query.function_id.as_ref().is_none_or(|f| &r.function_id == f))
            .filter(|r| query.statuses.is_empty() || query.statuses.contains(&r.status))
            .filter(|r| query.event_id.as_ref().is_none_or(|e| r.event_ids.first() == Some(e)))
            .filter(|r| query.since.is_none_or(|t| r.created_at >= t))
            .filter(|r| query.until.is_none_or(|t| r.created_at < t))
            .filter(|r| needle.as_ref().is_none_or(|n| run_text(r).contains(n)))
            .take(effective_limit(query.limit))
            .cloned()
            .collect())
    }

    async fn append_logs(&self, lines: Vec<LogLine>) -> Result<(), StoreError> {
        let mut inner = self.inner.lock();
        for line in lines {
            inner.logs.entry(line.run_id.clone()).or_default().push(line);
        }
        Ok(())
    }

    async fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError> {
        Ok(self.inner.lock().logs.get(run_id).cloned().unwrap_or_default())
    }
}

/// The searchable text of a run, lower-cased.
fn run_text(run: &RunRecord) -> String {
    let output = run.output.as_ref().map(|o| o.to_string()).unwrap_or_default();
    let error = run.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
    format!("{} {output} {error}", run.function_id).to_lowercase()
}
