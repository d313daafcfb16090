//! What a store is given and answers that is not a plain record of the model: batches to
//! accept, their results, and the queries the dev UI asks.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    Cancellation, Debounced, Millis, RunRecord, RunStatus, SkipReason, SkipRecord, StepRecord, StoredEvent,
};

/// A run to create, with what comes with it.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The run: `Queued`, due at its `wake_at` (normally now).
    pub run: RunRecord,
    /// Journal entries it starts with (a re-run from a step copies the earlier steps).
    pub steps: Vec<StepRecord>,
    /// Its `cancel_on` conditions.
    pub matchers: Vec<Matcher>,
    /// What decides, as it is created, whether it is created at all.
    pub gates: Gates,
}

impl NewRun {
    /// A run with nothing else.
    pub fn new(run: RunRecord) -> Self {
        NewRun { run, steps: Vec::new(), matchers: Vec::new(), gates: Gates::default() }
    }
}

/// What a store checks, in the transaction that creates a run, before it creates it: rate
/// limits (with idempotency, a limit of one run per key per 24 h) and the singleton lock of
/// [`FlowKeys::singleton`](crate::model::FlowKeys::singleton). A run any of them refuses is
/// not created; the store records a [`SkipRecord`] instead, and no limit is charged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    /// Rate limits the run's creation counts against (GCRA, in the store's state).
    pub rates: Vec<RateGate>,
    /// With a singleton lock: whether a new run cancels the active one (`true`) or is
    /// skipped while one is active.
    pub singleton_cancels: bool,
    /// A debounced or batched function's: the run is a window's (see [`WindowGate`]).
    pub window: Option<WindowGate>,
}

/// Events held for a function until a due time, as a store applies it to the run an event
/// triggers: a debounce window or a batch. The event opens a window (the run, created queued
/// and due when the window closes) or joins the open window of its `bucket`, which then
/// creates nothing. The run's `wake_at` is when a window it opens closes; the store moves it,
/// and the run's start deadline with it, as events join (see [`WindowRule`]). The rate limits
/// of [`Gates`] apply to every event; the singleton lock to the event that opens a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowGate {
    /// The window's key in the store (`<function>` or `<function>:<key>`).
    pub bucket: String,
    /// The evaluated key (empty without one), for display.
    pub key: String,
    /// The longest a window stays open after its first event, in ms.
    pub timeout_ms: Option<Millis>,
    /// The event's `ts`: a debounced run receives the event with the newest.
    pub ts: Millis,
    /// When the window closes, and which of its events the run receives.
    pub rule: WindowRule,
}

/// How a window closes, and what its run receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowRule {
    /// A debounce window: it closes once no event came for `period_ms` (and `timeout_ms`
    /// after its first event at the latest); its run receives the event with the newest `ts`,
    /// or with `all_events` every event by `ts`.
    Debounce {
        /// How long without an event closes the window, in ms.
        period_ms: Millis,
        /// Whether the run receives every event of the window (by `ts`), not only the newest.
        all_events: bool,
    },
    /// A batch: it closes when it holds `max_size` events (at once, in the write that adds
    /// the last) or `timeout_ms` after its first event; its run receives every event, in
    /// arrival order.
    Batch {
        /// The events that fill the batch.
        max_size: u32,
    },
}

/// A rate limit on run creation, by GCRA: one run every `period / limit`, and `burst` more
/// at once after a quiet spell; a creation over it is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateGate {
    /// The state's key (`<function>:<key>`), shared by the runs that count together.
    pub bucket: String,
    /// Runs per period, sustained.
    pub limit: u32,
    /// The period, in ms.
    pub period_ms: Millis,
    /// Runs admitted at once beyond the first after a quiet spell.
    pub burst: u32,
    /// Why a run it refuses is skipped.
    pub reason: SkipReason,
}

/// An event to accept, with everything its acceptance does.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The event.
    pub event: StoredEvent,
    /// The runs it starts, created only if the event is new.
    pub runs: Vec<NewRun>,
    /// The id of a stored event that readers find under `data.event` (which `data` then
    /// lacks). Inngest's system events carry their run's triggering event: kept by reference,
    /// it is stored once rather than once per run.
    pub embeds: Option<String>,
    /// Waiting steps this event resolves (each only if it still waits).
    pub resolves: Vec<Resolution>,
    /// Runs this event cancels.
    pub cancels: Vec<CancelRequest>,
}

impl NewEvent {
    /// An event that starts no run.
    pub fn new(event: StoredEvent) -> Self {
        NewEvent { event, runs: Vec::new(), embeds: None, resolves: Vec::new(), cancels: Vec::new() }
    }
}

/// Events and runs to create together, atomically.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Events, with their runs.
    pub events: Vec<NewEvent>,
    /// Runs that no new event starts (re-runs).
    pub runs: Vec<NewRun>,
    /// When the batch is accepted, on the engine's clock: flow control (throttles, rate limits,
    /// idempotency windows) is measured at this time.
    pub at: Millis,
}

/// A run created by a batch or an ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedRun {
    /// Its id.
    pub id: String,
    /// Its lease, when the batch asked to claim what it creates.
    pub lease: Option<Lease>,
}

/// What accepting one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The event id.
    pub event_id: String,
    /// False when the id had already been accepted (nothing was written).
    pub new: bool,
    /// The runs created.
    pub runs: Vec<CreatedRun>,
    /// The runs skipped (not created), with why.
    pub skipped: Vec<SkipRecord>,
    /// The windows it went into (it opened or joined a debounce window or a batch), with the
    /// run each will go to.
    pub windowed: Vec<Debounced>,
}

/// What accepting one event did, as the stores of this process record it while they write,
/// before they know which of its runs a claim leased.
#[derive(Debug, Default)]
pub(crate) struct EventDone {
    /// False when the event was there already (nothing was written).
    pub(crate) new: bool,
    /// The runs it created.
    pub(crate) runs: Vec<String>,
    /// The runs it skipped.
    pub(crate) skipped: Vec<SkipRecord>,
    /// The windows it opened or joined.
    pub(crate) windowed: Vec<Debounced>,
}

impl EventDone {
    /// The event `event_id`'s answer, with the leases a claim took.
    pub(crate) fn accepted(self, event_id: String, leases: &HashMap<String, Lease>) -> Accepted {
        Accepted {
            event_id,
            new: self.new,
            runs: created_runs(self.runs, leases),
            skipped: self.skipped,
            windowed: self.windowed,
        }
    }
}

/// Runs created by a write, with the leases a claim took.
pub(crate) fn created_runs(ids: Vec<String>, leases: &HashMap<String, Lease>) -> Vec<CreatedRun> {
    ids.into_iter()
        .map(|id| {
            let lease = leases.get(&id).cloned();
            CreatedRun { id, lease }
        })
        .collect()
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepts {
    /// Per event, in order.
    pub events: Vec<Accepted>,
    /// The batch's event-less runs that were created.
    pub runs: Vec<CreatedRun>,
}

/// Whether a matcher resolves a waiting step or cancels its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatcherKind {
    /// `step.wait_for_event`: the event becomes the step's result.
    Wait,
    /// `cancel_on`: the event cancels the run.
    Cancel,
}

impl MatcherKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            MatcherKind::Wait => "wait",
            MatcherKind::Cancel => "cancel",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<MatcherKind> {
        [MatcherKind::Wait, MatcherKind::Cancel].into_iter().find(|k| k.as_str() == s)
    }
}

/// An equality condition `event.<trigger path> == async.<path>` with the trigger's side
/// already read: an incoming event matches when its value at `path` is `value` (JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// The path into the incoming event.
    pub path: Vec<String>,
    /// The value it must have, as compact JSON.
    pub value: String,
}

/// A run waiting for an event: a `wait_for_event` step, or a `cancel_on` condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    /// The run.
    pub run_id: String,
    /// Unique in the run: a wait's hashed step id, or `cancel:<n>`.
    pub id: String,
    /// Wait or cancel.
    pub kind: MatcherKind,
    /// For a wait, the user's step id.
    pub name: String,
    /// The event name it waits for.
    pub event: String,
    /// A CEL condition over `event` (the run's trigger) and `async` (the incoming event).
    pub expr: Option<String>,
    /// The condition as a join, when it is one: matched by value, without evaluating it.
    pub join: Option<Join>,
    /// The id of the run's triggering event (`event` in the condition).
    pub trigger: Option<String>,
    /// When the wait began (ms), for the resolved step's record.
    pub since: Millis,
    /// After this time it no longer matches (ms).
    pub deadline: Millis,
}

/// A matcher that may match an incoming event: a join already matched by value, or a
/// condition the caller evaluates with the run's trigger (`trigger`).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The matcher.
    pub matcher: Matcher,
    /// The run's triggering event as JSON, when the condition still needs evaluating.
    pub trigger: Option<std::sync::Arc<serde_json::Value>>,
}

/// A waiting step's result, written only if the step still waits (its matcher exists, for a
/// wait) or has no result yet.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The matcher that resolves (a wait's), or `None` for a result without one (an invoke).
    pub matcher: Option<String>,
    /// The step's record.
    pub record: StepRecord,
}

/// A run to cancel.
#[derive(Debug, Clone)]
pub struct CancelRequest {
    /// The run.
    pub run_id: String,
    /// By what.
    pub cancellation: Cancellation,
}

/// A claimed run: only the holder of the current lease may write its pass's results.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The run.
    pub run_id: String,
    /// Its function.
    pub function_id: String,
    /// The fencing token: a new claim of the same run gets another.
    pub token: u64,
    /// How many leases on the run in a row ended without an ack or a release before this one:
    /// each time, the worker holding it died, hung or lost the store mid-pass. The engine
    /// fails a run that keeps taking its workers down (see `EngineBuilder::max_interrupted_passes`).
    /// Stores count what they can see: the memory and SQLite stores within one process, the
    /// Postgres store across every worker.
    pub interrupted: u32,
}

/// What a pass of a claimed run starts from, read in one go
/// ([`RunLog::claimed_runs`](super::RunLog::claimed_runs)).
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    /// The run.
    pub run: RunRecord,
    /// Its events, in the order of `run.event_ids` (an id with no stored event is skipped).
    pub events: Vec<StoredEvent>,
    /// Its journal, in the order the steps were recorded.
    pub journal: Vec<StepRecord>,
}

/// Who claims, and what.
#[derive(Debug, Clone)]
pub struct ClaimFor {
    /// The claiming worker's id.
    pub worker: String,
    /// Only runs of these functions.
    pub functions: std::sync::Arc<[String]>,
    /// How long a lease lasts unless renewed (measured on the store's own clock, not the
    /// engine's, which tests may stop).
    pub ttl: std::time::Duration,
}

/// Which of a run's matchers an ack removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DropMatchers {
    /// None.
    #[default]
    None,
    /// These (waits that no longer wait).
    Ids(Vec<String>),
    /// Every one (the run ended).
    All,
}

/// The result of a pass, written only under its lease.
#[derive(Debug, Clone)]
pub struct Ack {
    /// The run's new record; `wake_at` is when it is due next (`None`: not queued).
    pub run: RunRecord,
    /// New journal entries (an entry already recorded is kept).
    pub steps: Vec<StepRecord>,
    /// Hashes of the steps the run waits on for an event or an invoke: when one of them has a
    /// result already (it arrived during the pass), the run is due now.
    pub waiting_on: Vec<String>,
    /// Matchers to add (new waits).
    pub matchers: Vec<Matcher>,
    /// Matchers to remove.
    pub drop_matchers: DropMatchers,
    /// Events emitted (system events, invoked functions' events), with their runs.
    pub events: Vec<NewEvent>,
    /// Results for other runs' steps (an invoked run's end, for its caller), each waking it.
    pub resume: Vec<Resume>,
    /// When the pass ended (ms, the engine's clock): the due time of a run woken during it.
    pub at: Millis,
}

impl Ack {
    /// A pass's result that is only the run's new record, ending at `at`.
    pub fn new(run: RunRecord, at: Millis) -> Self {
        Ack {
            run,
            steps: Vec::new(),
            waiting_on: Vec::new(),
            matchers: Vec::new(),
            drop_matchers: DropMatchers::None,
            events: Vec::new(),
            resume: Vec::new(),
            at,
        }
    }
}

/// A result for another run's step, which wakes that run.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The run to wake.
    pub run_id: String,
    /// Its step's record (kept only if the step has none yet).
    pub record: StepRecord,
}

/// What an ack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// Written.
    Committed {
        /// When the run is due next, as written (earlier than asked when a result or a
        /// cancellation arrived during the pass).
        due: Option<Millis>,
        /// The emitted events, as accepted.
        events: Vec<Accepted>,
    },
    /// The lease was lost (it expired and the run was claimed again): nothing was written.
    Stale,
}

/// Why flow control holds a queued run back (for the dev UI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeldBack {
    /// A concurrency limit is full.
    Concurrency {
        /// Which (`fn:<function>:<key>` or `env:<key>`).
        bucket: String,
    },
    /// A throttle admits the run's start at `until` (ms).
    Throttle {
        /// When.
        until: Millis,
    },
}

/// Step results and resolutions written during a pass, under its lease.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    /// Journal entries.
    pub steps: Vec<StepRecord>,
    /// Waiting steps resolved by their timeout (written only if they still wait).
    pub resolutions: Vec<Resolution>,
    /// When set, the run is marked `Running` (started at this time if it had not started).
    pub started: Option<Millis>,
}

/// A query over events.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events received before this one (by receive order): a page cursor.
    pub before: Option<String>,
    /// Only events received at or after this time (ms).
    pub since: Option<Millis>,
    /// Only events received before this time (ms).
    pub until: Option<Millis>,
    /// Text to find in the name or payload, case-insensitive. The SQLite store asks its
    /// full-text index for the events holding every word of it (the last word may be a
    /// prefix), then keeps those that contain the text as written: `ann@exam` finds
    /// `ann@example.com`, and text that starts mid-word is found only among the events the
    /// index has not reached yet (internal `inngest/*` events are never indexed). The memory
    /// store matches any substring.
    pub search: Option<String>,
    /// Include `inngest/*` events.
    pub include_internal: bool,
    /// At most this many (0 means 50).
    pub limit: usize,
}

/// A query over runs.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Only runs of this function.
    pub function_id: Option<String>,
    /// Only runs with one of these statuses (empty: any).
    pub statuses: Vec<RunStatus>,
    /// Only runs whose (first) triggering event is this one.
    pub event_id: Option<String>,
    /// Only runs created before this run id: a page cursor.
    pub before: Option<String>,
    /// Only runs created at or after this time (ms).
    pub since: Option<Millis>,
    /// Only runs created before this time (ms).
    pub until: Option<Millis>,
    /// Case-insensitive text that the output, error or function id must contain.
    pub search: Option<String>,
    /// At most this many (0 means 50).
    pub limit: usize,
}

/// The limit a query uses.
pub(crate) fn effective_limit(limit: usize) -> usize {
    if limit == 0 {
        50
    } else {
        limit.min(1000)
    }
}

/// A line a step logged through `tracing` (captured by [`crate::logs::layer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The run.
    pub run_id: String,
    /// The user's step id.
    pub step: String,
    /// The attempt (0-based) that logged it.
    pub attempt: u32,
    /// When (ms).
    pub ts: Millis,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The message and its fields, formatted.
    pub message: String,
}

/// A flow-control option, as an engine asks a store whether it enforces it
/// ([`WorkQueue::enforces`](super::WorkQueue::enforces)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowControl {
    /// `concurrency`: passes (or, per run, runs) executing at once, per bucket.
    Concurrency,
    /// `throttle`: run starts per period, by GCRA.
    Throttle,
    /// `priority`: the order of due work within a function.
    Priority,
    /// `rate_limit`: runs created per period; the rest are skipped.
    RateLimit,
    /// `idempotency`: one run per key per 24 h.
    Idempotency,
    /// `singleton`: one active run per key.
    Singleton,
    /// `debounce`: one run once events stop coming.
    Debounce,
    /// `batch_events`: one run for many events.
    BatchEvents,
}

impl FlowControl {
    /// Every option, in the order a function's options are checked.
    pub const ALL: [FlowControl; 8] = [
        FlowControl::Concurrency,
        FlowControl::Throttle,
        FlowControl::Priority,
        FlowControl::RateLimit,
        FlowControl::Idempotency,
        FlowControl::Singleton,
        FlowControl::Debounce,
        FlowControl::BatchEvents,
    ];

    /// The option's name as the macro spells it.
    pub fn option_name(self) -> &'static str {
        match self {
            FlowControl::Concurrency => "concurrency",
            FlowControl::Throttle => "throttle",
            FlowControl::Priority => "priority",
            FlowControl::RateLimit => "rate_limit",
            FlowControl::Idempotency => "idempotency",
            FlowControl::Singleton => "singleton",
            FlowControl::Debounce => "debounce",
            FlowControl::BatchEvents => "batch_events",
        }
    }
}
