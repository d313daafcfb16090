//! The claim state of a work queue kept in memory, for stores whose process owns their data
//! (the memory store, and the SQLite store, which locks its file): which runs are due when,
//! which are leased to whom until when, and the flow control that decides which due run a
//! worker may claim next.
//!
//! A run waits in the timer heap until it is due, then in its *partition*: the runs of one
//! function that count against the same concurrency buckets and throttles (each key value is
//! its own partition, so a full bucket holds back only the runs that need it). A partition is
//! listed by the score of its oldest run (`created_at` minus the run's priority), so older runs'
//! work goes before newer runs' starts, and a worker claims from the listed partition with the
//! lowest score. A partition whose head run needs a full concurrency bucket is parked on that
//! bucket until a slot frees; one whose head run's start is throttled sleeps until the throttle
//! admits it. Concurrency counts passes executing (or, for a run-level limit, runs started and
//! not ended); a throttle counts starts (a run's first pass), by GCRA. A start blocked by
//! concurrency spends no throttle token, since the throttle is only charged when the run is
//! taken. A run past its start or finish deadline is claimed at once, past every limit: its pass
//! cancels it.
//!
//! Leases are measured on a monotonic clock of the store's own, not on the engine's clock (which
//! tests stop and advance by days): a lease is about whether a worker is alive. A lease that is
//! being committed is never taken over, even if it expires meanwhile.
//!
//! A store may keep only the runs due before a horizon in memory ([`LocalQueue::with_horizon`]):
//! later ones stay in the database and are loaded as the horizon moves, so a million sleeping
//! runs cost no memory here.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::types::{ClaimFor, HeldBack, Lease};
use crate::model::{ConcurrencySlot, FlowKeys, Millis, RunRecord, ThrottleSlot};

/// How a throttle's time is keyed where a store persists it.
pub(crate) const THROTTLE_KEY: &str = "throttle:";

/// What the queue needs to know of a run's flow control.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ItemFlow {
    pub(crate) concurrency: Vec<ConcurrencySlot>,
    pub(crate) throttle: Vec<ThrottleSlot>,
    /// Order among its function's due work: lower goes first.
    pub(crate) score: Millis,
    /// Whether the run has started (then its start is not throttled again, and it holds its
    /// run-level slots).
    pub(crate) started: bool,
    /// When the run is cancelled if it is still queued or has not ended (a timeout).
    pub(crate) deadline: Option<Millis>,
}

impl ItemFlow {
    /// The flow of a run as stored.
    pub(crate) fn of(run: &RunRecord) -> Arc<ItemFlow> {
        ItemFlow::new(&run.flow, run.created_at, run.started_at, run.status.is_terminal())
    }

    /// The flow of a run from its stored parts.
    pub(crate) fn new(flow: &FlowKeys, created_at: Millis, started_at: Option<Millis>, ended: bool) -> Arc<ItemFlow> {
        let deadline = match started_at {
            None => flow.start_deadline,
            Some(started) => flow.finish_timeout_ms.map(|t| started.saturating_add(t)),
        };
        Arc::new(ItemFlow {
            concurrency: flow.concurrency.clone(),
            throttle: flow.throttle.clone(),
            score: created_at.saturating_sub(flow.priority_ms),
            started: started_at.is_some(),
            deadline: deadline.filter(|_| !ended),
        })
    }

    /// The partition of a run: the limits its next pass must pass. A started run needs neither
    /// its run-level slots (it holds them) nor a throttle token, so it never waits behind runs
    /// that are not started yet (which would wait for it to end: a deadlock).
    fn partition_key(&self, function: &Arc<str>) -> PartitionKey {
        let mut buckets: Vec<String> =
            self.concurrency.iter().filter(|c| !(c.per_run && self.started)).map(|c| c.bucket.clone()).collect();
        if !self.started {
            buckets.extend(self.throttle.iter().map(|t| format!("{THROTTLE_KEY}{}", t.bucket)));
        }
        buckets.sort();
        PartitionKey { function: function.clone(), buckets }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PartitionKey {
    function: Arc<str>,
    buckets: Vec<String>,
}

type PartId = u64;

#[derive(Debug)]
struct Held {
    token: u64,
    /// Monotonic milliseconds.
    until: u64,
    committing: bool,
    /// Step-level buckets this lease counts in.
    steps: Vec<String>,
    /// Run-level buckets this lease took for the run's start (kept if the run starts).
    runs: Vec<String>,
}

#[derive(Debug)]
enum Place {
    /// In the timer heap until due.
    Waiting,
    /// Due, in its partition.
    Ready(PartId),
    /// Past its deadline: claimed before anything else.
    Expired,
    Leased(Held),
    /// Out of reach of claims while its store updates it (a debounce window taking an event).
    Reserved,
}

#[derive(Debug)]
struct Item {
    function: Arc<str>,
    /// When it is due (while leased: when it was due when claimed).
    due: Millis,
    /// Changes whenever the item moves, so stale heap entries can be told apart.
    seq: u64,
    flow: Arc<ItemFlow>,
    place: Place,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Due(Arc<str>),
    Deadline(Arc<str>),
    Wake(PartId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Listed(Millis),
    Unlisted,
    /// Parked on a full concurrency bucket.
    Blocked,
    /// Asleep until a throttle admits its head.
    Throttled(Millis),
}

#[derive(Debug)]
struct Partition {
    key: PartitionKey,
    function: Arc<str>,
    heap: BinaryHeap<Reverse<(Millis, u64, Arc<str>)>>,
    listing: Listing,
    /// Why it is held back, for the dev UI.
    blocked_on: Option<String>,
}

#[derive(Debug, Default)]
struct Bucket {
    in_flight: u32,
    blocked: Vec<PartId>,
}

#[derive(Debug, Default)]
struct State {
    items: HashMap<Arc<str>, Item>,
    timers: BinaryHeap<Reverse<(Millis, u64, Timer)>>,
    partitions: HashMap<PartitionKey, PartId>,
    parts: HashMap<PartId, Partition>,
    /// Claimable partitions of each function, by head score.
    ready: HashMap<Arc<str>, BTreeSet<(Millis, PartId)>>,
    expired: VecDeque<Arc<str>>,
    buckets: HashMap<String, Bucket>,
    /// Throttles' theoretical arrival times (GCRA), by bucket, in microseconds: a throttle of
    /// more than 1,000 starts a second spaces them by less than a millisecond.
    throttles: HashMap<String, Micros>,
    /// Throttle times changed since the store last wrote them.
    dirty_throttles: BTreeMap<String, Micros>,
    /// Held leases by expiry (monotonic ms, token): only what is leased now.
    leases: BTreeMap<(u64, u64), Arc<str>>,
    /// Runs whose leases expired, by how many times in a row (see [`Lease::interrupted`]):
    /// forgotten when a pass under a lease is acknowledged or released.
    interrupted: HashMap<Arc<str>, u32>,
    next_token: u64,
    next_seq: u64,
    next_part: PartId,
    /// Runs due at or after this are not kept (see the module docs).
    horizon: Millis,
}

/// What [`LocalQueue::reserve`] found.
#[derive(Debug, Clone)]
pub(crate) enum Reservation {
    /// The run was queued here, due at `due` with `flow`: reserved.
    Held { due: Millis, flow: Arc<ItemFlow> },
    /// This queue did not have the run: a placeholder is reserved (the store knows whether the
    /// run is queued).
    Absent,
    /// Leased, past its deadline, or reserved already: not to be touched.
    Busy,
}

/// How a commit under a lease ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settle {
    /// Written; the lease is kept (a checkpoint).
    Keep,
    /// Written; the lease is released and the run is due at this time, or not queued (it
    /// ended); with its flow as it is now (`None`: as it was).
    Release(Option<Millis>, Option<Arc<ItemFlow>>),
    /// Not written (the database failed): the lease is kept, the commit may be tried again.
    Failed,
}

/// Due runs, their leases, and the flow control between them.
#[derive(Debug)]
pub(crate) struct LocalQueue {
    state: Mutex<State>,
    signal: Arc<Notify>,
    epoch: Instant,
}

/// Microseconds since the Unix epoch.
pub(crate) type Micros = i64;

/// GCRA: the emission interval and the tolerance of a throttle, in microseconds.
fn gcra(slot: &ThrottleSlot) -> (Micros, Micros) {
    let interval = (slot.period_ms.saturating_mul(1_000) / Micros::from(slot.limit.max(1))).max(1);
    let tolerance = interval.saturating_mul(Micros::from(slot.burst.max(1) - 1));
    (interval, tolerance)
}

/// The millisecond from which a start allowed at `allowed_at` (µs) is admitted: claims see
/// time in whole milliseconds, and a start allowed anywhere within one is admitted in it, so a
/// throttle faster than one start per millisecond admits several per millisecond, at its rate.
fn admitted_from(allowed_at: Micros) -> Millis {
    allowed_at.div_euclid(1_000)
}

/// When a throttle whose theoretical arrival time is `tat` (none yet: idle) admits a start, if
/// later than `now`.
pub(crate) fn throttle_wait(slot: &ThrottleSlot, tat: Option<Micros>, now: Millis) -> Option<Millis> {
    let (_, tolerance) = gcra(slot);
    let from = admitted_from(tat.unwrap_or(Micros::MIN).saturating_sub(tolerance));
    (from > now).then_some(from)
}

/// A throttle's theoretical arrival time once it admitted a start at `now`.
pub(crate) fn throttle_charge(slot: &ThrottleSlot, tat: Option<Micros>, now: Millis) -> Micros {
    let (interval, _) = gcra(slot);
    tat.unwrap_or(Micros::MIN).max(now.saturating_mul(1_000)) + interval
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

    /// Sets a throttle time read from the database at open (keyed as
    /// [`LocalQueue::take_dirty_throttles`] gives them).
    pub(crate) fn restore_throttle(&self, key: &str, tat: Micros) {
        if let Some(bucket) = key.strip_prefix(THROTTLE_KEY) {
            self.state.lock().throttles.insert(bucket.to_owned(), tat);
        }
    }

    /// Counts a started run in its run-level buckets (read from the database at open).
    pub(crate) fn restore_run_slots(&self, flow: &ItemFlow) {
        let mut state = self.state.lock();
        for slot in flow.concurrency.iter().filter(|c| c.per_run) {
            state.buckets.entry(slot.bucket.clone()).or_default().in_flight += 1;
        }
    }

    /// Throttle times changed since last asked, for the store to write with its next commit,
    /// keyed `throttle:<bucket>`.
    pub(crate) fn take_dirty_throttles(&self) -> Vec<(String, Micros)> {
        let dirty = std::mem::take(&mut self.state.lock().dirty_throttles);
        dirty.into_iter().map(|(bucket, tat)| (format!("{THROTTLE_KEY}{bucket}"), tat)).collect()
    }

    /// Gives back throttle times a failed write did not persist, unless newer ones came since.
    pub(crate) fn return_dirty_throttles(&self, throttles: Vec<(String, Micros)>) {
        let mut state = self.state.lock();
        for (key, tat) in throttles {
            if let Some(bucket) = key.strip_prefix(THROTTLE_KEY) {
                state.dirty_throttles.entry(bucket.to_owned()).or_insert(tat);
            }
        }
    }

    /// Makes a run due at `due` (or removes it with `None`), unless it is leased:
    /// then its holder decides. Wakes idle workers.
    pub(crate) fn enqueue(&self, run_id: &str, function: &str, due: Option<Millis>, flow: Arc<ItemFlow>) {
        let mut state = self.state.lock();
        if state.items.get(run_id).is_some_and(|item| matches!(item.place, Place::Leased(_))) {
            return;
        }
        place(&mut state, Arc::from(run_id), Arc::from(function), due, flow);
        drop(state);
        self.signal.notify_waiters();
    }

    /// Makes a run due at `due` unless this queue has it already (in any state): for runs
    /// loaded from the database as the horizon moves, which may be older than what the queue
    /// learned meanwhile.
    pub(crate) fn enqueue_if_absent(&self, run_id: &str, function: &str, due: Millis, flow: Arc<ItemFlow>) {
        let mut state = self.state.lock();
        if state.items.contains_key(run_id) || due >= state.horizon {
            return;
        }
        place(&mut state, Arc::from(run_id), Arc::from(function), Some(due), flow);
        drop(state);
        self.signal.notify_waiters();
    }

    /// Makes a run due no later than `at`, unless it is leased. `flow` is asked for
    /// only when the queue does not have the run.
    pub(crate) fn wake(&self, run_id: &str, function: &str, at: Millis, flow: impl FnOnce() -> Arc<ItemFlow>) {
        let (due, flow) = {
            let state = self.state.lock();
            match state.items.get(run_id) {
                Some(item) if matches!(item.place, Place::Leased(_)) => return,
                Some(item) => (item.due.min(at), item.flow.clone()),
                None => (at, flow()),
            }
        };
        self.enqueue(run_id, function, Some(due), flow);
    }

    /// Leases a run just created by the claimer, if its flow control admits it now; otherwise
    /// queues it (`None`).
    pub(crate) fn insert_leased(
        &self,
        run_id: &str,
        function: &str,
        due: Millis,
        flow: Arc<ItemFlow>,
        ttl: Duration,
        now: Millis,
    ) -> Option<Lease> {
        let until = self.expiry(ttl);
        let mut state = self.state.lock();
        let run: Arc<str> = Arc::from(run_id);
        let function: Arc<str> = Arc::from(function);
        // A run whose partition has waiting work goes behind it.
        let key = flow.partition_key(&function);
        let behind = state.partitions.get(&key).and_then(|p| state.parts.get(p)).is_some_and(|p| !p.heap.is_empty());
        if due > now || behind || !admits(&state, &flow, now) {
            place(&mut state, run, function, Some(due), flow);
            drop(state);
            self.signal.notify_waiters();
            return None;
        }
        let seq = bump(&mut state);
        state.items.insert(run.clone(), Item { function: function.clone(), due, seq, flow, place: Place::Waiting });
        Some(take(&mut state, &run, until, now))
    }

    /// Leases up to `max` due runs of the claimer's functions that their flow control admits,
    /// lowest score first, after putting back the runs whose lease expired.
    pub(crate) fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Vec<Lease> {
        let mono = self.mono();
        let until = self.expiry(claim.ttl);
        let mut state = self.state.lock();
        expire(&mut state, mono);
        promote(&mut state, now);
        let mut out = Vec::new();
        let wanted: Vec<Arc<str>> = claim.functions.iter().map(|f| Arc::from(f.as_str())).collect();
        // Runs past a deadline first, whatever their limits: their pass cancels them.
        let mut skipped = VecDeque::new();
        while out.len() < max {
            let Some(run) = state.expired.pop_front() else { break };
            match state.items.get(&run) {
                Some(item) if matches!(item.place, Place::Expired) && wanted.contains(&item.function) => {
                    let seq = bump(&mut state);
                    if let Some(item) = state.items.get_mut(&run) {
                        item.seq = seq;
                        item.place = Place::Leased(Held {
                            token: 0,
                            until,
                            committing: false,
                            steps: Vec::new(),
                            runs: Vec::new(),
                        });
                    }
                    out.push(lease_of(&mut state, &run, until));
                }
                Some(item) if matches!(item.place, Place::Expired) => skipped.push_back(run),
                _ => {}
            }
        }
        state.expired.extend(skipped);
        while out.len() < max {
            // The listed partition with the lowest head score among the claimer's functions.
            let best = wanted.iter().filter_map(|f| state.ready.get(f).and_then(|set| set.first().copied())).min();
            let Some((_, part)) = best else { break };
            let Some(head) = valid_head(&mut state, part) else {
                relist(&mut state, part);
                continue;
            };
            let flow = match state.items.get(&head) {
                Some(item) => item.flow.clone(),
                None => continue,
            };
            if let Some(bucket) = full_bucket(&state, &flow) {
                unlist(&mut state, part, Listing::Blocked);
                if let Some(p) = state.parts.get_mut(&part) {
                    p.blocked_on = Some(bucket.clone());
                }
                state.buckets.entry(bucket).or_default().blocked.push(part);
                continue;
            }
            if let Some(at) = throttled_until(&state, &flow, now) {
                unlist(&mut state, part, Listing::Throttled(at));
                let seq = bump(&mut state);
                state.timers.push(Reverse((at, seq, Timer::Wake(part))));
                continue;
            }
            if let Some(p) = state.parts.get_mut(&part) {
                p.heap.pop();
            }
            relist(&mut state, part);
            out.push(take(&mut state, &head, until, now));
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
                Some(Item { place: Place::Leased(held), .. }) if held.token == lease.token => {
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
        matches!(state.items.get(lease.run_id.as_str()), Some(Item { place: Place::Leased(h), .. }) if h.token == lease.token)
    }

    /// Starts a commit under `lease`: `false` when it is no longer held (write nothing).
    pub(crate) fn begin_commit(&self, lease: &Lease) -> bool {
        let mut state = self.state.lock();
        match state.items.get_mut(lease.run_id.as_str()) {
            Some(Item { place: Place::Leased(held), .. }) if held.token == lease.token && !held.committing => {
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
        let Place::Leased(held) = &mut item.place else { return };
        if held.token != lease.token {
            return;
        }
        match settle {
            Settle::Keep | Settle::Failed => held.committing = false,
            Settle::Release(due, flow) => {
                let Place::Leased(held) = std::mem::replace(&mut item.place, Place::Waiting) else { return };
                let function = item.function.clone();
                let flow = flow.unwrap_or_else(|| item.flow.clone());
                let run: Arc<str> = Arc::from(lease.run_id.as_str());
                state.leases.remove(&(held.until, held.token));
                state.interrupted.remove(&run);
                let mut freed = held.steps;
                let ended = due.is_none();
                if ended {
                    // A run that ended gives back its run-level slots, taken when it started.
                    freed.extend(flow.concurrency.iter().filter(|c| c.per_run).map(|c| c.bucket.clone()));
                }
                free(&mut state, &freed);
                state.items.remove(&run);
                place(&mut state, run, function, due, flow);
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
        let wanted: Vec<Arc<str>> = functions.iter().map(|f| Arc::from(f.as_str())).collect();
        if state.expired.iter().any(|r| state.items.get(r).is_some_and(|i| wanted.contains(&i.function))) {
            return Some(Millis::MIN);
        }
        if wanted.iter().any(|f| state.ready.get(f).is_some_and(|set| !set.is_empty())) {
            return Some(Millis::MIN);
        }
        // The earliest timer: stale entries are dropped on the way.
        loop {
            let Reverse((at, _, timer)) = state.timers.peek()?.clone();
            let valid = match &timer {
                Timer::Due(run) | Timer::Deadline(run) => {
                    state.items.get(run).is_some_and(|i| wanted.contains(&i.function) && timer_valid(i, &timer, at))
                }
                Timer::Wake(part) => state.parts.get(part).is_some_and(|p| wanted.contains(&p.function)),
            };
            if valid {
                return Some(at);
            }
            // Another function's timer: look past it without dropping it.
            if matches!(&timer, Timer::Due(r) | Timer::Deadline(r) if state.items.get(r).is_some_and(|i| timer_valid(i, &timer, at)))
                || matches!(&timer, Timer::Wake(p) if state.parts.contains_key(p))
            {
                return earliest_of(&state, &wanted);
            }
            state.timers.pop();
        }
    }

    /// Takes a queued run out of reach of claims while its store updates it (a debounce
    /// window taking an event). A run this queue does not have (a SQLite store keeps only
    /// runs due within its horizon) is reserved as a placeholder, so that loading it meanwhile
    /// does not queue it at its old time.
    pub(crate) fn reserve(&self, run_id: &str, function: &str) -> Reservation {
        let mut state = self.state.lock();
        let seq = bump(&mut state);
        match state.items.get_mut(run_id) {
            Some(item) if matches!(item.place, Place::Waiting | Place::Ready(_)) => {
                item.place = Place::Reserved;
                item.seq = seq;
                Reservation::Held { due: item.due, flow: item.flow.clone() }
            }
            Some(_) => Reservation::Busy,
            None => {
                let item = Item {
                    function: Arc::from(function),
                    due: Millis::MAX,
                    seq,
                    flow: ItemFlow::new(&FlowKeys::default(), 0, None, false),
                    place: Place::Reserved,
                };
                state.items.insert(Arc::from(run_id), item);
                Reservation::Absent
            }
        }
    }

    /// Ends a reservation: the run is due at `due` with this flow (or forgotten with `None`).
    pub(crate) fn unreserve(&self, run_id: &str, due: Option<Millis>, flow: Arc<ItemFlow>) {
        let mut state = self.state.lock();
        let Some(item) = state.items.get(run_id) else { return };
        if !matches!(item.place, Place::Reserved) {
            return;
        }
        let function = item.function.clone();
        place(&mut state, Arc::from(run_id), function, due, flow);
        drop(state);
        self.signal.notify_waiters();
    }

    /// Ends a reservation leaving the run as it was.
    pub(crate) fn restore(&self, run_id: &str, reservation: Reservation) {
        match reservation {
            Reservation::Held { due, flow } => self.unreserve(run_id, Some(due), flow),
            Reservation::Absent => self.unreserve(run_id, None, ItemFlow::new(&FlowKeys::default(), 0, None, false)),
            Reservation::Busy => {}
        }
    }

    /// Why a queued run is not being executed, when flow control holds it back.
    pub(crate) fn held_back(&self, run_id: &str) -> Option<HeldBack> {
        let state = self.state.lock();
        let item = state.items.get(run_id)?;
        let Place::Ready(part) = item.place else { return None };
        let partition = state.parts.get(&part)?;
        match partition.listing {
            Listing::Blocked => partition.blocked_on.clone().map(|bucket| HeldBack::Concurrency { bucket }),
            Listing::Throttled(until) => Some(HeldBack::Throttle { until }),
            _ => None,
        }
    }
}

fn bump(state: &mut State) -> u64 {
    state.next_seq += 1;
    state.next_seq
}

/// Puts a run (not leased) in the timer heap, or forgets it (`None`, or beyond the horizon).
fn place(state: &mut State, run: Arc<str>, function: Arc<str>, due: Option<Millis>, flow: Arc<ItemFlow>) {
    let Some(due) = due.filter(|d| *d < state.horizon) else {
        state.items.remove(&run);
        return;
    };
    let seq = bump(state);
    if let Some(deadline) = flow.deadline {
        state.timers.push(Reverse((deadline, seq, Timer::Deadline(run.clone()))));
    }
    state.timers.push(Reverse((due, seq, Timer::Due(run.clone()))));
    state.items.insert(run, Item { function, due, seq, flow, place: Place::Waiting });
}

fn timer_valid(item: &Item, timer: &Timer, at: Millis) -> bool {
    match timer {
        Timer::Due(_) => matches!(item.place, Place::Waiting) && item.due == at,
        Timer::Deadline(_) => item.flow.deadline == Some(at) && matches!(item.place, Place::Waiting | Place::Ready(_)),
        Timer::Wake(_) => true,
    }
}

/// The earliest valid timer of these functions (a scan: only when other functions' timers come
/// first).
fn earliest_of(state: &State, wanted: &[Arc<str>]) -> Option<Millis> {
    state
        .timers
        .iter()
        .filter(|Reverse((at, _, timer))| match timer {
            Timer::Due(run) | Timer::Deadline(run) => {
                state.items.get(run).is_some_and(|i| wanted.contains(&i.function) && timer_valid(i, timer, *at))
            }
            Timer::Wake(part) => state.parts.get(part).is_some_and(|p| wanted.contains(&p.function)),
        })
        .map(|Reverse((at, _, _))| *at)
        .min()
}

/// Moves what came due into partitions, runs past a deadline to the front, and throttled
/// partitions whose time came back to the listing.
fn promote(state: &mut State, now: Millis) {
    while let Some(Reverse((at, _, timer))) = state.timers.peek().cloned() {
        if at > now {
            break;
        }
        state.timers.pop();
        match timer {
            Timer::Due(run) => {
                let Some(item) = state.items.get(&run) else { continue };
                if !timer_valid(item, &Timer::Due(run.clone()), at) {
                    continue;
                }
                let key = item.flow.partition_key(&item.function);
                let (score, function) = (item.flow.score, item.function.clone());
                let part = partition(state, key, function);
                let seq = bump(state);
                if let Some(item) = state.items.get_mut(&run) {
                    item.seq = seq;
                    item.place = Place::Ready(part);
                }
                if let Some(p) = state.parts.get_mut(&part) {
                    p.heap.push(Reverse((score, seq, run)));
                }
                if matches!(state.parts.get(&part).map(|p| p.listing), Some(Listing::Listed(_) | Listing::Unlisted)) {
                    relist(state, part);
                }
            }
            Timer::Deadline(run) => {
                let Some(item) = state.items.get(&run) else { continue };
                if !timer_valid(item, &Timer::Deadline(run.clone()), at) {
                    continue;
                }
                let seq = bump(state);
                if let Some(item) = state.items.get_mut(&run) {
                    item.seq = seq;
                    item.place = Place::Expired;
                }
                state.expired.push_back(run);
            }
            Timer::Wake(part) => {
                if matches!(state.parts.get(&part).map(|p| p.listing), Some(Listing::Throttled(t)) if t <= now) {
                    relist(state, part);
                }
            }
        }
    }
}

fn partition(state: &mut State, key: PartitionKey, function: Arc<str>) -> PartId {
    if let Some(id) = state.partitions.get(&key) {
        return *id;
    }
    state.next_part += 1;
    let id = state.next_part;
    state.partitions.insert(key.clone(), id);
    let partition = Partition { key, function, heap: BinaryHeap::new(), listing: Listing::Unlisted, blocked_on: None };
    state.parts.insert(id, partition);
    id
}

/// The run at the head of a partition, dropping stale entries.
fn valid_head(state: &mut State, part: PartId) -> Option<Arc<str>> {
    loop {
        let p = state.parts.get(&part)?;
        let Reverse((_, seq, run)) = p.heap.peek()?.clone();
        let valid =
            state.items.get(&run).is_some_and(|i| i.seq == seq && matches!(i.place, Place::Ready(x) if x == part));
        if valid {
            return Some(run);
        }
        if let Some(p) = state.parts.get_mut(&part) {
            p.heap.pop();
        }
    }
}

/// Lists a partition by its head's score (or unlists it when it is empty).
fn relist(state: &mut State, part: PartId) {
    let head_score = valid_head(state, part).and_then(|run| state.items.get(&run).map(|i| i.flow.score));
    let Some(p) = state.parts.get_mut(&part) else { return };
    let function = p.function.clone();
    if let Listing::Listed(old) = p.listing {
        if let Some(set) = state.ready.get_mut(&function) {
            set.remove(&(old, part));
        }
    }
    match head_score {
        Some(score) => {
            p.listing = Listing::Listed(score);
            p.blocked_on = None;
            state.ready.entry(function).or_default().insert((score, part));
        }
        None => {
            p.listing = Listing::Unlisted;
            p.blocked_on = None;
            // An empty partition is dropped, so a million one-off keys leave nothing behind.
            if let Some(p) = state.parts.remove(&part) {
                state.partitions.remove(&p.key);
            }
        }
    }
}

fn unlist(state: &mut State, part: PartId, listing: Listing) {
    let Some(p) = state.parts.get_mut(&part) else { return };
    if let Listing::Listed(old) = p.listing {
        if let Some(set) = state.ready.get_mut(&p.function) {
            set.remove(&(old, part));
        }
    }
    p.listing = listing;
}

/// The bucket a run's next pass would need and that is full, if one is.
fn full_bucket(state: &State, flow: &ItemFlow) -> Option<String> {
    flow.concurrency
        .iter()
        .filter(|slot| !slot.per_run || !flow.started)
        .find(|slot| state.buckets.get(&slot.bucket).map_or(0, |b| b.in_flight) >= slot.limit)
        .map(|slot| slot.bucket.clone())
}

/// When the throttles would admit a run's start, if not now.
fn throttled_until(state: &State, flow: &ItemFlow, now: Millis) -> Option<Millis> {
    if flow.started {
        return None;
    }
    flow.throttle.iter().filter_map(|slot| throttle_wait(slot, state.throttles.get(&slot.bucket).copied(), now)).max()
}

/// Whether a run's flow control admits its pass now (for a run claimed as it is inserted).
fn admits(state: &State, flow: &ItemFlow, now: Millis) -> bool {
    full_bucket(state, flow).is_none() && throttled_until(state, flow, now).is_none()
}

/// Leases a run that was admitted: charges its throttles and counts it in its buckets.
fn take(state: &mut State, run: &Arc<str>, until: u64, now: Millis) -> Lease {
    let Some(item) = state.items.get(run) else {
        return Lease { run_id: run.to_string(), function_id: String::new(), token: 0, interrupted: 0 };
    };
    let flow = item.flow.clone();
    let mut steps = Vec::new();
    let mut runs = Vec::new();
    for slot in &flow.concurrency {
        if slot.per_run {
            if !flow.started {
                runs.push(slot.bucket.clone());
            }
        } else {
            steps.push(slot.bucket.clone());
        }
    }
    for bucket in steps.iter().chain(&runs) {
        state.buckets.entry(bucket.clone()).or_default().in_flight += 1;
    }
    if !flow.started {
        for slot in &flow.throttle {
            let tat = throttle_charge(slot, state.throttles.get(&slot.bucket).copied(), now);
            state.throttles.insert(slot.bucket.clone(), tat);
            state.dirty_throttles.insert(slot.bucket.clone(), tat);
        }
    }
    let seq = bump(state);
    if let Some(item) = state.items.get_mut(run) {
        item.seq = seq;
        item.place = Place::Leased(Held { token: 0, until, committing: false, steps, runs });
    }
    lease_of(state, run, until)
}

/// Gives the leased run its token and registers the lease's expiry.
fn lease_of(state: &mut State, run: &Arc<str>, until: u64) -> Lease {
    state.next_token += 1;
    let token = state.next_token;
    let function = match state.items.get_mut(run) {
        Some(item) => {
            if let Place::Leased(held) = &mut item.place {
                held.token = token;
            }
            item.function.to_string()
        }
        None => String::new(),
    };
    state.leases.insert((until, token), run.clone());
    let interrupted = state.interrupted.get(run).copied().unwrap_or(0);
    Lease { run_id: run.to_string(), function_id: function, token, interrupted }
}

/// Gives slots back and wakes the partitions waiting for them.
fn free(state: &mut State, buckets: &[String]) {
    for name in buckets {
        let waiting = match state.buckets.get_mut(name) {
            Some(bucket) => {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
                std::mem::take(&mut bucket.blocked)
            }
            None => Vec::new(),
        };
        for part in waiting {
            if matches!(state.parts.get(&part).map(|p| p.listing), Some(Listing::Blocked)) {
                relist(state, part);
            }
        }
        if state.buckets.get(name).is_some_and(|b| b.in_flight == 0 && b.blocked.is_empty()) {
            state.buckets.remove(name);
        }
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
        let Place::Leased(held) = &item.place else {
            state.leases.remove(&key);
            continue;
        };
        if held.committing {
            // Being committed: the commit ends (or fails) soon; it is not taken over meanwhile.
            continue;
        }
        state.leases.remove(&key);
        let Place::Leased(held) = std::mem::replace(&mut item.place, Place::Waiting) else { continue };
        let (function, due, flow) = (item.function.clone(), item.due, item.flow.clone());
        // The pass never committed: its slots are free again, run-level ones included (the run
        // did not start as far as the store knows).
        let mut freed = held.steps;
        freed.extend(held.runs);
        free(state, &freed);
        tracing::warn!(run_id = %run, "a worker's lease expired: the run is claimable again");
        *state.interrupted.entry(run.clone()).or_default() += 1;
        state.items.remove(&run);
        place(state, run, function, Some(due), flow);
    }
}

#[cfg(test)]
mod tests;
