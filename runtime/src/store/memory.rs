//! An in-memory store: fast, and gone when the process ends. For tests, and the reference for
//! what every store does: each write is one critical section, as a database transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;

use super::gates::{self, Decision};
use super::matchers::MatcherIndex;
use super::queue::{ItemFlow, LocalQueue, Reservation, Settle};
use super::types::{created_runs, effective_limit, EventDone};
use super::window::{self, Joined, Window};
use super::{
    Accepted, Accepts, Ack, Acked, Batch, Cancellation, CancelledBy, Candidate, Checkpoint, ClaimFor, Debounced,
    DropMatchers, EventQuery, Gates, HeldBack, Lease, LogLine, Matcher, NewEvent, NewRun, Queries, Resolution, RunLog,
    RunQuery, RunRecord, SkipRecord, StepLogs, StepRecord, Store, StoreError, StoredEvent, WindowGate, WorkQueue,
};
use crate::model::Millis;

/// A store that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    queue: Queue,
}

#[derive(Debug)]
struct Queue(LocalQueue);

impl Default for Queue {
    fn default() -> Self {
        Queue(LocalQueue::new())
    }
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
    matchers: MatcherIndex,
    /// Rate limits' state (see `gates`), and its size after it was last pruned.
    rates: HashMap<String, i64>,
    rates_pruned: usize,
    /// Singleton locks: the run holding each.
    locks: HashMap<String, String>,
    /// Skipped runs, in the order they were skipped.
    skips: Vec<SkipRecord>,
    /// Open windows (debounce windows and batches) by bucket, the bucket of each window's
    /// run, and the events taken into windows, by event.
    windows: HashMap<String, Window>,
    window_of: HashMap<String, String>,
    debounced: HashMap<String, Vec<Debounced>>,
}

/// What creating a run did.
enum Created {
    Run(String),
    /// Its (event, function) pair has a run already.
    Duplicate,
    Skipped(SkipRecord),
    /// The event joined an open window (a debounce window or a batch): no run was created.
    Windowed,
}

/// What a write did to the queue, applied once the write is done.
#[derive(Default)]
struct Effects {
    created: Vec<(String, String, Millis, Arc<ItemFlow>)>,
    woken: Vec<(String, String, Millis, Arc<ItemFlow>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Applies a write's effects to the queue; runs the claimer asked for are leased to it.
    /// `claim` comes with the time its flow control is measured at.
    fn settle(&self, effects: Effects, claim: Option<(&ClaimFor, Millis)>) -> HashMap<String, Lease> {
        let mut leases = HashMap::new();
        for (run, function, due, flow) in effects.created {
            match claim {
                Some((claim, now)) => {
                    if let Some(lease) = self.queue.0.insert_leased(&run, &function, due, flow, claim.ttl, now) {
                        leases.insert(run, lease);
                    }
                }
                None => self.queue.0.enqueue(&run, &function, Some(due), flow),
            }
        }
        for (run, function, at, flow) in effects.woken {
            self.queue.0.wake(&run, &function, at, || flow);
        }
        leases
    }
}

impl Inner {
    /// The JSON of the event a matcher's condition calls `event`: the one the matcher names
    /// ([`Matcher::trigger`]), read as the SQL stores read it; `None` when no condition needs it.
    fn matcher_trigger(&self, matcher: &Matcher) -> Option<Arc<Value>> {
        if !MatcherIndex::needs_trigger(matcher) {
            return None;
        }
        self.event_json(matcher.trigger.as_deref()?)
    }

    fn event_json(&self, id: &str) -> Option<Arc<Value>> {
        self.event_index.get(id).map(|&at| Arc::new(self.events[at].to_raw().to_json()))
    }

    /// Creates a run unless one exists for its event and function, or its gates skip it (for
    /// the event `event_id`, at `at`).
    fn create_run(
        &mut self,
        new: &NewRun,
        event_id: &str,
        at: Millis,
        queue: &LocalQueue,
        effects: &mut Effects,
    ) -> Created {
        let run = &new.run;
        let key = (run.dedupe_key(), run.function_id.clone());
        if self.run_keys.contains_key(&key) {
            return Created::Duplicate;
        }
        if let Some(gate) = &new.gates.window {
            if let Some(done) = self.join_window(new, gate, event_id, at, queue, effects) {
                return done;
            }
        }
        let holder =
            run.flow.singleton.as_ref().and_then(|lock| self.locks.get(lock)).filter(|h| self.active(h).is_some());
        let rates = &self.rates;
        let Ok(decision) = gates::decide::<std::convert::Infallible>(
            &run.function_id,
            &new.gates,
            event_id,
            at,
            |k| Ok(rates.get(k).copied()),
            holder.cloned(),
        );
        let cancel = match decision {
            Decision::Skip(skip) => {
                self.skips.push(skip.clone());
                return Created::Skipped(skip);
            }
            Decision::Create { rates, cancel } => {
                self.rates.extend(rates);
                self.prune_rates(at);
                cancel
            }
        };
        if let Some(holder) = cancel {
            let by = CancelledBy::Singleton { run_id: run.id.clone() };
            self.cancel(&holder, &Cancellation { by, at }, effects);
        }
        if let Some(lock) = &run.flow.singleton {
            self.locks.insert(lock.clone(), run.id.clone());
        }
        self.run_keys.insert(key, run.id.clone());
        for step in &new.steps {
            self.insert_step(step.clone());
        }
        for matcher in &new.matchers {
            let trigger = self.matcher_trigger(matcher);
            self.matchers.insert(matcher.clone(), trigger);
        }
        if let Some(due) = run.wake_at {
            effects.created.push((run.id.clone(), run.function_id.clone(), due, ItemFlow::of(run)));
        }
        if let Some(gate) = &new.gates.window {
            let window = Window::open(gate, &run.id, event_id, at, run.wake_at.unwrap_or(at));
            self.record_debounced(gate, &run.function_id, event_id, &run.id, at);
            if let Some(old) = self.windows.insert(gate.bucket.clone(), window) {
                self.window_of.remove(&old.run_id);
            }
            self.window_of.insert(run.id.clone(), gate.bucket.clone());
        }
        self.runs.insert(run.id.clone(), run.clone());
        Created::Run(run.id.clone())
    }

    /// The event `event_id` joins the open window of its bucket, if there is one
    /// whose run is still queued and unclaimed; it is reserved in the queue meanwhile. `None`:
    /// no such window (the event opens one). The event's rate limits apply.
    fn join_window(
        &mut self,
        new: &NewRun,
        gate: &WindowGate,
        event_id: &str,
        at: Millis,
        queue: &LocalQueue,
        effects: &mut Effects,
    ) -> Option<Created> {
        let run_id = self.windows.get(&gate.bucket)?.run_id.clone();
        let open = self
            .runs
            .get(&run_id)
            .is_some_and(|r| r.started_at.is_none() && r.cancellation.is_none() && !r.status.is_terminal());
        if !open {
            return None;
        }
        // A window opened earlier in this write is not queued yet: its queue entry is updated.
        let pending = effects.created.iter().position(|c| c.0 == run_id);
        let reservation = match pending {
            Some(_) => Reservation::Busy,
            None => match queue.reserve(&run_id, &new.run.function_id) {
                held @ Reservation::Held { .. } => held,
                other => {
                    queue.restore(&run_id, other);
                    return None;
                }
            },
        };
        let rates = Gates { rates: new.gates.rates.clone(), ..Gates::default() };
        let table = &self.rates;
        let Ok(decision) = gates::decide::<std::convert::Infallible>(
            &new.run.function_id,
            &rates,
            event_id,
            at,
            |k| Ok(table.get(k).copied()),
            None,
        );
        match decision {
            Decision::Skip(skip) => {
                queue.restore(&run_id, reservation);
                self.skips.push(skip.clone());
                return Some(Created::Skipped(skip));
            }
            Decision::Create { rates, .. } => self.rates.extend(rates),
        }
        let window = self.windows.get_mut(&gate.bucket)?;
        let joined = window.join(gate, event_id, at);
        let (due, events) = (window.due, window.run_events(gate.rule));
        if joined == Joined::Full {
            self.windows.remove(&gate.bucket);
            self.window_of.remove(&run_id);
        }
        let run = self.runs.get_mut(&run_id)?;
        run.event_ids = events;
        match joined {
            Joined::Held => {}
            Joined::Chosen => {
                // The chosen event's flow control; the singleton lock stays the one the run took.
                let singleton = run.flow.singleton.take();
                run.flow = window::moved(new.run.flow.clone(), new.run.wake_at, due);
                run.flow.singleton = singleton;
                run.wake_at = Some(due);
            }
            Joined::Full => {
                run.flow = window::moved(std::mem::take(&mut run.flow), run.wake_at, due);
                run.wake_at = Some(due);
            }
        }
        match pending {
            Some(i) => {
                let created = &mut effects.created[i];
                (created.2, created.3) = (run.wake_at.unwrap_or(due), ItemFlow::of(run));
            }
            None => queue.unreserve(&run_id, run.wake_at, ItemFlow::of(run)),
        }
        let (function_id, created_at) = (run.function_id.clone(), run.created_at);
        if joined == Joined::Chosen {
            let matchers = window::chosen_matchers(&new.matchers, &run_id, created_at);
            for matcher in matchers {
                let trigger = self.matcher_trigger(&matcher);
                self.matchers.insert(matcher, trigger);
            }
        }
        self.record_debounced(gate, &function_id, event_id, &run_id, at);
        Some(Created::Windowed)
    }

    fn record_debounced(&mut self, gate: &WindowGate, function_id: &str, event_id: &str, run_id: &str, at: Millis) {
        let record = window::record(gate, function_id, event_id, run_id, at);
        self.debounced.entry(event_id.to_owned()).or_default().push(record);
    }

    /// Drops rate states that no longer limit anything, once they have doubled since the last
    /// time: amortized, each creation pays for a constant share.
    fn prune_rates(&mut self, at: Millis) {
        if self.rates.len() > 2 * self.rates_pruned.max(512) {
            self.rates.retain(|_, tat| !gates::rate_expired(*tat, at));
            self.rates_pruned = self.rates.len();
        }
    }

    /// A run that ended lets go of its singleton lock and its window.
    fn release_lock(&mut self, run: &RunRecord) {
        if let Some(bucket) = self.window_of.remove(&run.id) {
            if self.windows.get(&bucket).is_some_and(|w| w.run_id == run.id) {
                self.windows.remove(&bucket);
            }
        }
        if let Some(lock) = &run.flow.singleton {
            if self.locks.get(lock) == Some(&run.id) {
                self.locks.remove(lock);
            }
        }
    }

    fn insert_step(&mut self, step: StepRecord) -> bool {
        let journal = self.journals.entry(step.run_id.clone()).or_default();
        if journal.iter().any(|s| s.hash == step.hash) {
            return false;
        }
        journal.push(step);
        true
    }

    fn active(&self, run_id: &str) -> Option<&RunRecord> {
        self.runs.get(run_id).filter(|r| !r.status.is_terminal())
    }

    fn wake(&mut self, run_id: &str, at: Millis, effects: &mut Effects) {
        if let Some(run) = self.runs.get_mut(run_id).filter(|r| !r.status.is_terminal()) {
            run.wake_at = Some(run.wake_at.map_or(at, |w| w.min(at)));
            effects.woken.push((run.id.clone(), run.function_id.clone(), at, ItemFlow::of(run)));
        }
    }

    /// Writes a waiting step's result if it still waits; wakes its run.
    fn resolve(&mut self, resolution: &Resolution, effects: &mut Effects) {
        let run_id = resolution.record.run_id.clone();
        if self.active(&run_id).is_none() {
            return;
        }
        if let Some(matcher) = &resolution.matcher {
            if self.matchers.remove(&run_id, matcher).is_none() {
                return;
            }
        }
        if self.insert_step(resolution.record.clone()) {
            self.wake(&run_id, resolution.record.ended_at, effects);
        }
    }

    fn cancel(&mut self, run_id: &str, cancellation: &Cancellation, effects: &mut Effects) -> bool {
        let Some(run) = self.runs.get_mut(run_id).filter(|r| !r.status.is_terminal()) else { return false };
        if run.cancellation.is_none() {
            run.cancellation = Some(cancellation.clone());
        }
        self.wake(run_id, cancellation.at, effects);
        true
    }

    fn accept_event(&mut self, new: &NewEvent, at: Millis, queue: &LocalQueue, effects: &mut Effects) -> EventDone {
        let mut event = new.event.clone();
        if self.event_index.contains_key(&event.id) {
            return EventDone::default();
        }
        if let Some(id) = &new.embeds {
            if let Value::Object(data) = &mut *event.data {
                let embedded = self.event_index.get(id).map(|&at| self.events[at].to_raw().to_json());
                data.insert("event".into(), embedded.unwrap_or(Value::Null));
            }
        }
        self.event_index.insert(event.id.clone(), self.events.len());
        self.events.push(event);
        let mut done = EventDone { new: true, ..EventDone::default() };
        for run in &new.runs {
            match self.create_run(run, &new.event.id, at, queue, effects) {
                Created::Run(id) => done.runs.push(id),
                Created::Duplicate | Created::Windowed => {}
                Created::Skipped(skip) => done.skipped.push(skip),
            }
        }
        // The event is new: every window it went into, it went into now.
        done.windowed = self.debounced.get(&new.event.id).cloned().unwrap_or_default();
        for resolution in &new.resolves {
            self.resolve(resolution, effects);
        }
        for cancel in &new.cancels {
            self.cancel(&cancel.run_id, &cancel.cancellation, effects);
        }
        done
    }

    /// A run as read: its stored record, with the cancellation asked for.
    fn read_run(&self, id: &str) -> Option<RunRecord> {
        self.runs.get(id).cloned()
    }
}

fn accepts(events: Vec<(String, EventDone)>, leases: &HashMap<String, Lease>) -> Vec<Accepted> {
    events.into_iter().map(|(event_id, done)| done.accepted(event_id, leases)).collect()
}

#[async_trait]
impl RunLog for MemoryStore {
    async fn accept(&self, batch: &Batch, claim: Option<&ClaimFor>) -> Result<Accepts, StoreError> {
        let mut effects = Effects::default();
        let (events, runs) = {
            let mut inner = self.inner.lock();
            let events: Vec<(String, EventDone)> = batch
                .events
                .iter()
                .map(|new| (new.event.id.clone(), inner.accept_event(new, batch.at, &self.queue.0, &mut effects)))
                .collect();
            let runs: Vec<String> = batch
                .runs
                .iter()
                .filter_map(|run| match inner.create_run(run, &run.run.id, batch.at, &self.queue.0, &mut effects) {
                    Created::Run(id) => Some(id),
                    Created::Duplicate | Created::Skipped(_) | Created::Windowed => None,
                })
                .collect();
            (events, runs)
        };
        let leases = self.settle(effects, claim.map(|c| (c, batch.at)));
        Ok(Accepts { events: accepts(events, &leases), runs: created_runs(runs, &leases) })
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.inner.lock().read_run(id))
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        Ok(self.inner.lock().journals.get(run_id).cloned().unwrap_or_default())
    }

    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let inner = self.inner.lock();
        Ok(ids.iter().filter_map(|id| inner.event_index.get(id).map(|&i| inner.events[i].clone())).collect())
    }
}

#[async_trait]
impl WorkQueue for MemoryStore {
    async fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Result<Vec<Lease>, StoreError> {
        Ok(self.queue.0.claim(claim, now, max))
    }

    async fn renew(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<bool>, StoreError> {
        Ok(self.queue.0.renew(leases, ttl))
    }

    async fn checkpoint(&self, lease: &Lease, checkpoint: Checkpoint) -> Result<bool, StoreError> {
        if !self.queue.0.begin_commit(lease) {
            return Ok(false);
        }
        let mut effects = Effects::default();
        {
            let mut inner = self.inner.lock();
            for step in checkpoint.steps {
                inner.insert_step(step);
            }
            for resolution in &checkpoint.resolutions {
                inner.resolve(resolution, &mut effects);
            }
            if let Some(started) = checkpoint.started {
                if let Some(run) = inner.runs.get_mut(&lease.run_id).filter(|r| !r.status.is_terminal()) {
                    run.status = crate::model::RunStatus::Running;
                    run.started_at.get_or_insert(started);
                }
            }
        }
        self.queue.0.end_commit(lease, Settle::Keep);
        // The run itself is leased: waking it only matters to the other runs resolved here.
        self.settle(effects, None);
        Ok(true)
    }

    async fn ack(&self, lease: &Lease, ack: Ack, claim: Option<&ClaimFor>) -> Result<Acked, StoreError> {
        if !self.queue.0.begin_commit(lease) {
            return Ok(Acked::Stale);
        }
        let mut effects = Effects::default();
        let (due, flow, events, at) = {
            let mut inner = self.inner.lock();
            let Ack { mut run, steps, waiting_on, matchers, drop_matchers, events, resume, at } = ack;
            for step in steps {
                inner.insert_step(step);
            }
            let stored = inner.runs.get(&run.id);
            let cancellation = stored.and_then(|r| r.cancellation.clone()).or(run.cancellation.take());
            let ended = run.status.is_terminal();
            let due = if ended {
                None
            } else if cancellation.is_some()
                || waiting_on
                    .iter()
                    .any(|h| inner.journals.get(&run.id).is_some_and(|j| j.iter().any(|s| &s.hash == h)))
            {
                Some(run.wake_at.map_or(at, |w| w.min(at)))
            } else {
                run.wake_at
            };
            run.wake_at = due;
            run.cancellation = cancellation;
            match drop_matchers {
                DropMatchers::None => {}
                DropMatchers::Ids(ids) => {
                    for id in ids {
                        inner.matchers.remove(&run.id, &id);
                    }
                }
                DropMatchers::All => inner.matchers.remove_run(&run.id),
            }
            if ended {
                inner.matchers.remove_run(&run.id);
                inner.release_lock(&run);
            }
            for matcher in matchers {
                let trigger = inner.matcher_trigger(&matcher);
                inner.matchers.insert(matcher, trigger);
            }
            let flow = ItemFlow::of(&run);
            inner.runs.insert(run.id.clone(), run);
            let events: Vec<(String, EventDone)> = events
                .iter()
                .map(|new| (new.event.id.clone(), inner.accept_event(new, at, &self.queue.0, &mut effects)))
                .collect();
            for resume in resume {
                let run_id = resume.run_id.clone();
                let at = resume.record.ended_at;
                if inner.active(&run_id).is_some() && inner.insert_step(resume.record) {
                    inner.wake(&run_id, at, &mut effects);
                }
            }
            (due, flow, events, at)
        };
        self.queue.0.end_commit(lease, Settle::Release(due, Some(flow)));
        let leases = self.settle(effects, claim.map(|c| (c, at)));
        Ok(Acked::Committed { due, events: accepts(events, &leases) })
    }

    async fn release(&self, lease: &Lease, due: Millis) -> Result<(), StoreError> {
        if !self.queue.0.begin_commit(lease) {
            return Ok(());
        }
        if let Some(run) = self.inner.lock().runs.get_mut(&lease.run_id) {
            run.wake_at = Some(due);
        }
        self.queue.0.end_commit(lease, Settle::Release(Some(due), None));
        Ok(())
    }

    async fn request_cancel(&self, run_id: &str, cancellation: Cancellation) -> Result<bool, StoreError> {
        let mut effects = Effects::default();
        let cancelled = self.inner.lock().cancel(run_id, &cancellation, &mut effects);
        self.settle(effects, None);
        Ok(cancelled)
    }

    fn held_back(&self, run_id: &str) -> Option<HeldBack> {
        self.queue.0.held_back(run_id)
    }

    fn cancel_requested(&self, run_id: &str) -> bool {
        self.inner.lock().active(run_id).is_some_and(|r| r.cancellation.is_some())
    }

    async fn next_due(&self, functions: &[String]) -> Result<Option<Millis>, StoreError> {
        Ok(self.queue.0.next_due(functions))
    }

    fn work_signal(&self) -> Arc<tokio::sync::Notify> {
        self.queue.0.signal()
    }

    async fn matchers(&self, name: &str, incoming: &Value, now: Millis) -> Result<Vec<Candidate>, StoreError> {
        Ok(self.inner.lock().matchers.candidates(name, incoming, now))
    }

    fn observes(&self, name: &str) -> bool {
        self.inner.lock().matchers.observes(name)
    }
}

#[async_trait]
impl Queries for MemoryStore {
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

    async fn runs_cancelled_by(&self, event_id: &str, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let inner = self.inner.lock();
        let by = |r: &&RunRecord| matches!(&r.cancellation, Some(Cancellation { by: CancelledBy::Event { event_id: id, .. }, .. }) if id == event_id);
        Ok(inner.runs.values().rev().filter(by).take(effective_limit(limit)).cloned().collect())
    }

    async fn skips_of_event(&self, event_id: &str) -> Result<Vec<SkipRecord>, StoreError> {
        Ok(self.inner.lock().skips.iter().filter(|s| s.event_id == event_id).cloned().collect())
    }

    async fn skips_of_function(&self, function_id: &str, limit: usize) -> Result<Vec<SkipRecord>, StoreError> {
        let inner = self.inner.lock();
        let of = inner.skips.iter().rev().filter(|s| s.function_id == function_id);
        Ok(of.take(effective_limit(limit)).cloned().collect())
    }

    async fn debounces_of_event(&self, event_id: &str) -> Result<Vec<Debounced>, StoreError> {
        Ok(self.inner.lock().debounced.get(event_id).cloned().unwrap_or_default())
    }

    async fn skip_counts(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut counts = HashMap::new();
        for skip in &self.inner.lock().skips {
            *counts.entry(skip.function_id.clone()).or_insert(0) += 1;
        }
        Ok(counts)
    }
}

#[async_trait]
impl StepLogs for MemoryStore {
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

impl Store for MemoryStore {
    fn queries(&self) -> Option<&dyn Queries> {
        Some(self)
    }

    fn step_logs(&self) -> Option<&dyn StepLogs> {
        Some(self)
    }
}

/// The searchable text of a run, lower-cased.
fn run_text(run: &RunRecord) -> String {
    let output = run.output.as_ref().map(|o| o.to_string()).unwrap_or_default();
    let error = run.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
    format!("{} {output} {error}", run.function_id).to_lowercase()
}
