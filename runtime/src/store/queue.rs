//! The claim state of a work queue kept in memory, for stores whose process owns their data
//! (the memory store, and the SQLite store, which locks its file): which runs are due when, and
//! which are leased to whom until when.
//!
//! Leases are measured on a monotonic clock of the store's own, not on the engine's clock (which
//! tests stop and advance by days): a lease is about whether a worker is alive. A lease that is
//! being committed is never taken over, even if it expires meanwhile, so a commit and a new
//! claim of the same run cannot interleave.
//!
//! A store may keep only the runs due before a horizon in memory ([`LocalQueue::with_horizon`]):
//! later ones stay in the database and are loaded as the horizon moves, so a million sleeping
//! runs cost no memory here.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::types::{ClaimFor, Lease};
use crate::model::Millis;

#[derive(Debug)]
struct Held {
    token: u64,
    /// Monotonic milliseconds.
    until: u64,
    committing: bool,
}

#[derive(Debug)]
struct Item {
    function: Arc<str>,
    /// When it is due (while leased: when it was due when claimed).
    due: Millis,
    /// Changes whenever the item does, so stale heap entries can be told apart.
    seq: u64,
    held: Option<Held>,
}

type DueEntry = Reverse<(Millis, u64, Arc<str>)>;

#[derive(Debug, Default)]
struct State {
    items: HashMap<Arc<str>, Item>,
    /// Due runs per function, oldest first; entries whose `seq` no longer matches are stale.
    due: HashMap<Arc<str>, BinaryHeap<DueEntry>>,
    /// Held leases by expiry (monotonic ms, token): removed when released or renewed, so this
    /// holds only what is leased now.
    leases: BTreeMap<(u64, u64), Arc<str>>,
    next_token: u64,
    next_seq: u64,
    /// Runs due at or after this are not kept (see the module docs).
    horizon: Millis,
}

/// How a commit under a lease ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Written; the lease is kept (a checkpoint).
    Keep,
    /// Written; the lease is released and the run is due at this time, or not queued.
    Release(Option<Millis>),
    /// Not written (the database failed): the lease is kept, the commit may be tried again.
    Failed,
}

/// Due runs and their leases.
#[derive(Debug)]
pub(crate) struct LocalQueue {
    state: Mutex<State>,
    signal: Arc<Notify>,
    epoch: Instant,
}

impl LocalQueue {
    /// A queue that keeps every run in memory.
    pub(crate) fn new() -> LocalQueue {
        LocalQueue::with_horizon(Millis::MAX)
    }

    /// A queue that keeps only the runs due before `horizon` (see [`LocalQueue::extend_horizon`]).
    pub(crate) fn with_horizon(horizon: Millis) -> LocalQueue {
        LocalQueue {
            state: Mutex::new(State { horizon, ..State::default() }),
            signal: Arc::new(Notify::new()),
            epoch: Instant::now(),
        }
    }

    pub(crate) fn signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    fn mono(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn expiry(&self, ttl: Duration) -> u64 {
        self.mono().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
    }

    /// The current horizon.
    pub(crate) fn horizon(&self) -> Millis {
        self.state.lock().horizon
    }

    /// Moves the horizon to `to` (never back); the caller then enqueues what it loaded.
    pub(crate) fn extend_horizon(&self, to: Millis) {
        let mut state = self.state.lock();
        state.horizon = state.horizon.max(to);
    }

    /// Makes a run due at `due` (or removes it with `None`), unless it is leased: then the
    /// lease holder's commit decides. Wakes idle workers.
    pub(crate) fn enqueue(&self, run_id: &str, function: &str, due: Option<Millis>) {
        let mut state = self.state.lock();
        if state.items.get(run_id).is_some_and(|item| item.held.is_some()) {
            return;
        }
        match due {
            Some(due) if due < state.horizon => {
                let run: Arc<str> = Arc::from(run_id);
                let function: Arc<str> = Arc::from(function);
                schedule(&mut state, run, function, due);
            }
            _ => {
                state.items.remove(run_id);
            }
        }
        drop(state);
        self.signal.notify_waiters();
    }

    /// Makes a run due at `due` unless this queue has it already (in any state): for runs
    /// loaded from the database as the horizon moves, which may be older than what the queue
    /// learned meanwhile.
    pub(crate) fn enqueue_if_absent(&self, run_id: &str, function: &str, due: Millis) {
        let mut state = self.state.lock();
        if state.items.contains_key(run_id) || due >= state.horizon {
            return;
        }
        schedule(&mut state, Arc::from(run_id), Arc::from(function), due);
        drop(state);
        self.signal.notify_waiters();
    }

    /// Makes a run due no later than `at`, unless it is leased.
    pub(crate) fn wake(&self, run_id: &str, function: &str, at: Millis) {
        let due = {
            let state = self.state.lock();
            match state.items.get(run_id) {
                Some(item) if item.held.is_some() => return,
                Some(item) => item.due.min(at),
                None => at,
            }
        };
        self.enqueue(run_id, function, Some(due));
    }

    /// Leases a run just created by the claimer.
    pub(crate) fn insert_leased(&self, run_id: &str, function: &str, due: Millis, ttl: Duration) -> Lease {
        let until = self.expiry(ttl);
        let mut state = self.state.lock();
        state.next_token += 1;
        state.next_seq += 1;
        let (token, seq) = (state.next_token, state.next_seq);
        let run: Arc<str> = Arc::from(run_id);
        state.leases.insert((until, token), run.clone());
        state.items.insert(
            run,
            Item { function: Arc::from(function), due, seq, held: Some(Held { token, until, committing: false }) },
        );
        Lease { run_id: run_id.to_owned(), function_id: function.to_owned(), token }
    }

    /// Leases up to `max` due runs of the claimer's functions, oldest due first, after putting
    /// back the runs whose lease expired.
    pub(crate) fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Vec<Lease> {
        let mono = self.mono();
        let until = self.expiry(claim.ttl);
        let mut state = self.state.lock();
        expire(&mut state, mono);
        let mut out = Vec::new();
        while out.len() < max {
            // The oldest valid entry among the claimer's functions.
            let mut best: Option<(Millis, Arc<str>)> = None;
            for function in claim.functions.iter() {
                let Some(top) = valid_top(&mut state, function) else { continue };
                if top.0 <= now && best.as_ref().is_none_or(|b| top.0 < b.0) {
                    best = Some((top.0, Arc::from(function.as_str())));
                }
            }
            let Some((_, function)) = best else { break };
            let Some(Reverse((_, _, run))) = state.due.get_mut(&function).and_then(BinaryHeap::pop) else { break };
            state.next_token += 1;
            state.next_seq += 1;
            let (token, seq) = (state.next_token, state.next_seq);
            let Some(item) = state.items.get_mut(&run) else { continue };
            item.held = Some(Held { token, until, committing: false });
            item.seq = seq;
            out.push(Lease { run_id: run.to_string(), function_id: item.function.to_string(), token });
            state.leases.insert((until, token), run);
        }
        out
    }

    /// Extends the leases still held; answers which are.
    pub(crate) fn renew(&self, leases: &[Lease], ttl: Duration) -> Vec<bool> {
        let until = self.expiry(ttl);
        let mut state = self.state.lock();
        let mut renewed = Vec::with_capacity(leases.len());
        for lease in leases {
            let previous = match state.items.get_mut(lease.run_id.as_str()) {
                Some(Item { held: Some(held), .. }) if held.token == lease.token => {
                    Some(std::mem::replace(&mut held.until, until))
                }
                _ => None,
            };
            if let Some(previous) = previous {
                if let Some(run) = state.leases.remove(&(previous, lease.token)) {
                    state.leases.insert((until, lease.token), run);
                }
            }
            renewed.push(previous.is_some());
        }
        renewed
    }

    /// Whether `lease` is still held.
    #[cfg(test)]
    pub(crate) fn holds(&self, lease: &Lease) -> bool {
        let state = self.state.lock();
        matches!(state.items.get(lease.run_id.as_str()), Some(Item { held: Some(h), .. }) if h.token == lease.token)
    }

    /// Starts a commit under `lease`: `false` when it is no longer held (write nothing).
    pub(crate) fn begin_commit(&self, lease: &Lease) -> bool {
        let mut state = self.state.lock();
        match state.items.get_mut(lease.run_id.as_str()) {
            Some(Item { held: Some(held), .. }) if held.token == lease.token && !held.committing => {
                held.committing = true;
                true
            }
            _ => false,
        }
    }

    /// Ends a commit begun with [`LocalQueue::begin_commit`].
    pub(crate) fn end_commit(&self, lease: &Lease, settle: Settle) {
        let mut state = self.state.lock();
        let Some(item) = state.items.get_mut(lease.run_id.as_str()) else { return };
        if item.held.as_ref().is_none_or(|h| h.token != lease.token) {
            return;
        }
        match settle {
            Settle::Keep | Settle::Failed => {
                if let Some(held) = item.held.as_mut() {
                    held.committing = false;
                }
            }
            Settle::Release(due) => {
                let function = item.function.clone();
                let key = item.held.as_ref().map(|h| (h.until, h.token));
                let run: Arc<str> = Arc::from(lease.run_id.as_str());
                state.items.remove(&run);
                if let Some(key) = key {
                    state.leases.remove(&key);
                }
                if let Some(due) = due.filter(|d| *d < state.horizon) {
                    schedule(&mut state, run, function, due);
                }
                drop(state);
                self.signal.notify_waiters();
            }
        }
    }

    /// When the next run of these functions is due, if one is queued here (runs whose lease
    /// expired count as due again). Workers look again now and then for leases that expire
    /// later: those are measured on another clock than due times.
    pub(crate) fn next_due(&self, functions: &[String]) -> Option<Millis> {
        let mono = self.mono();
        let mut state = self.state.lock();
        expire(&mut state, mono);
        let mut next: Option<Millis> = None;
        for function in functions {
            if let Some((due, _)) = valid_top(&mut state, function) {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        next
    }
}

fn schedule(state: &mut State, run: Arc<str>, function: Arc<str>, due: Millis) {
    state.next_seq += 1;
    let seq = state.next_seq;
    state.due.entry(function.clone()).or_default().push(Reverse((due, seq, run.clone())));
    state.items.insert(run, Item { function, due, seq, held: None });
}

/// The oldest valid due entry of a function's heap (dropping stale ones on the way).
fn valid_top(state: &mut State, function: &str) -> Option<(Millis, u64)> {
    loop {
        let heap = state.due.get_mut(function)?;
        let Reverse((due, seq, run)) = heap.peek()?.clone();
        let valid = state.items.get(&run).is_some_and(|i| i.seq == seq && i.held.is_none() && i.due == due);
        if valid {
            return Some((due, seq));
        }
        heap.pop();
    }
}

/// Puts back the runs whose lease expired (and that are not being committed).
fn expire(state: &mut State, mono: u64) {
    let expired: Vec<((u64, u64), Arc<str>)> =
        state.leases.range(..(mono, u64::MAX)).map(|(k, run)| (*k, run.clone())).collect();
    for (key, run) in expired {
        let Some(item) = state.items.get_mut(&run) else {
            state.leases.remove(&key);
            continue;
        };
        if item.held.as_ref().is_some_and(|h| h.committing) {
            // Being committed: the commit ends (or fails) soon; it is not taken over meanwhile.
            continue;
        }
        state.leases.remove(&key);
        item.held = None;
        let (function, due) = (item.function.clone(), item.due);
        tracing::warn!(run_id = %run, "a worker's lease expired: the run is claimable again");
        schedule(state, run, function, due);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimer(ttl: Duration) -> ClaimFor {
        ClaimFor { worker: "w".into(), functions: Arc::from(vec!["f".to_owned(), "g".to_owned()]), ttl }
    }

    #[test]
    fn claims_due_runs_oldest_first_and_fences_commits() {
        let q = LocalQueue::new();
        q.enqueue("r2", "f", Some(20));
        q.enqueue("r1", "g", Some(10));
        q.enqueue("r3", "f", Some(99));
        q.enqueue("other", "h", Some(1));
        let leases = q.claim(&claimer(Duration::from_secs(30)), 50, 10);
        let ids: Vec<&str> = leases.iter().map(|l| l.run_id.as_str()).collect();
        assert_eq!(ids, vec!["r1", "r2"], "due runs of the claimer's functions, oldest first");
        assert!(q.claim(&claimer(Duration::from_secs(30)), 50, 10).is_empty(), "a leased run is not claimed twice");
        assert_eq!(q.next_due(&["f".into(), "g".into()]), Some(99));
        let stale = Lease { token: leases[0].token + 100, ..leases[0].clone() };
        assert!(!q.begin_commit(&stale), "a stale token cannot commit");
        assert!(q.begin_commit(&leases[0]));
        q.end_commit(&leases[0], Settle::Release(Some(70)));
        assert!(!q.holds(&leases[0]));
        q.enqueue("r2", "f", Some(0));
        assert!(q.holds(&leases[1]), "enqueue leaves a leased run to its holder");
        let again = q.claim(&claimer(Duration::from_secs(30)), 80, 10);
        assert_eq!(again.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), vec!["r1"]);
    }

    #[test]
    fn expired_leases_are_claimable_again_unless_committing() {
        let q = LocalQueue::new();
        q.enqueue("r1", "f", Some(0));
        q.enqueue("r2", "f", Some(0));
        let first = q.claim(&claimer(Duration::ZERO), 0, 10);
        assert_eq!(first.len(), 2);
        assert!(q.begin_commit(&first[1]));
        std::thread::sleep(Duration::from_millis(5));
        let second = q.claim(&claimer(Duration::from_secs(30)), 0, 10);
        assert_eq!(second.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), vec!["r1"]);
        assert_ne!(second[0].token, first[0].token);
        assert!(!q.begin_commit(&first[0]), "the first worker's lease is gone");
        assert_eq!(q.renew(&first, Duration::from_secs(30)), vec![false, true]);
    }

    #[test]
    fn a_horizon_keeps_later_runs_out_of_memory() {
        let q = LocalQueue::with_horizon(100);
        q.enqueue("soon", "f", Some(50));
        q.enqueue("later", "f", Some(500));
        assert_eq!(q.next_due(&["f".into()]), Some(50));
        assert_eq!(q.claim(&claimer(Duration::from_secs(1)), 1_000, 10).len(), 1);
        q.extend_horizon(1_000);
        q.enqueue("later", "f", Some(500));
        assert_eq!(q.claim(&claimer(Duration::from_secs(1)), 1_000, 10).len(), 1);
    }
}
