//! The plain records the engine, the replay core and the stores share: events, runs, their
//! status, journal entries and pending operations. Data only: no I/O lives here, so the replay
//! core can use these types without knowing of stores or the engine.

mod source;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ErrorInfo;
use crate::event::RawEvent;
use crate::Payload;

pub use source::EventSource;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// An accepted event, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The event id (unique).
    pub id: String,
    /// The event name.
    pub name: String,
    /// The payload.
    pub data: Payload,
    /// When it happened (ms).
    pub ts: Millis,
    /// Inngest's `user` object; for Clerk webhooks, the envelope without its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
    /// Where it came from.
    pub source: EventSource,
    /// When hookflow accepted it (ms).
    pub received_at: Millis,
}

impl StoredEvent {
    /// The untyped event a function receives.
    pub fn to_raw(&self) -> RawEvent {
        RawEvent {
            name: self.name.clone(),
            data: self.data.clone(),
            id: self.id.clone(),
            ts: self.ts,
            user: self.user.clone(),
        }
    }

    /// The untyped event a function receives, without copying.
    pub fn into_raw(self) -> RawEvent {
        RawEvent { name: self.name, data: self.data, id: self.id, ts: self.ts, user: self.user }
    }

    /// Whether this is one of Inngest's internal events (`inngest/...`).
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("inngest/")
    }
}

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    /// Waiting to start (or to be retried).
    Queued,
    /// Executing.
    Running,
    /// Suspended on a sleep (or a step retry back-off).
    Sleeping,
    /// Suspended until an event arrives (wait_for_event, invoke).
    Waiting,
    /// Finished with an output.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Sleeping,
        RunStatus::Waiting,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The status as a string (`Queued`, `Running`, ...), as the REST API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Sleeping => "Sleeping",
            RunStatus::Waiting => "Waiting",
            RunStatus::Completed => "Completed",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Cancelled",
        }
    }

    /// Parses the string form (case-insensitive).
    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the run has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled)
    }
}

/// The step and run that invoked a run (`step.invoke`), to resume when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The calling run.
    pub run_id: String,
    /// The hashed id of the invoke step in the calling run.
    pub step: String,
    /// The user's id of that step, for its record (empty in runs written before it was kept).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// What a `wait_for_event` step waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitSpec {
    /// The awaited event name.
    pub event: String,
    /// A CEL expression over `event` (the run's trigger) and `async` (the candidate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

/// Something a suspended run waits on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingOp {
    /// A sleep step, until `until`.
    Sleep {
        /// Hashed step id.
        step: String,
        /// The user's step id.
        name: String,
        /// Wake-up time (ms).
        until: Millis,
        /// When the step began waiting (ms): where its bar starts on the timeline.
        #[serde(default)]
        since: Millis,
    },
    /// A step waiting for its next attempt.
    Retry {
        /// Hashed step id.
        step: String,
        /// The user's step id.
        name: String,
        /// When to try again (ms).
        at: Millis,
        /// The last error.
        error: ErrorInfo,
    },
    /// A wait_for_event step; times out (with `null`) at `until`.
    Wait {
        /// Hashed step id.
        step: String,
        /// The user's step id.
        name: String,
        /// What is awaited.
        spec: WaitSpec,
        /// The timeout (ms).
        until: Millis,
        /// When the step began waiting (ms): where its bar starts on the timeline.
        #[serde(default)]
        since: Millis,
    },
    /// An invoke step waiting for another run to end; times out at `until`.
    Invoke {
        /// Hashed step id.
        step: String,
        /// The user's step id.
        name: String,
        /// The id of the `inngest/function.invoked` event that started the child run.
        child_event: String,
        /// The timeout (ms).
        until: Millis,
        /// When the step began waiting (ms): where its bar starts on the timeline.
        #[serde(default)]
        since: Millis,
    },
}

impl PendingOp {
    /// The hashed step id.
    pub fn step(&self) -> &str {
        match self {
            PendingOp::Sleep { step, .. }
            | PendingOp::Retry { step, .. }
            | PendingOp::Wait { step, .. }
            | PendingOp::Invoke { step, .. } => step,
        }
    }

    /// The user's step id.
    pub fn name(&self) -> &str {
        match self {
            PendingOp::Sleep { name, .. }
            | PendingOp::Retry { name, .. }
            | PendingOp::Wait { name, .. }
            | PendingOp::Invoke { name, .. } => name,
        }
    }

    /// When the step began waiting (ms); a retry has no such time and answers its next attempt.
    pub fn since(&self) -> Millis {
        match self {
            PendingOp::Sleep { since, .. } | PendingOp::Wait { since, .. } | PendingOp::Invoke { since, .. } => *since,
            PendingOp::Retry { at, .. } => *at,
        }
    }

    /// When the op resolves on its own (wake-up, retry or timeout).
    pub fn due(&self) -> Millis {
        match self {
            PendingOp::Sleep { until, .. } | PendingOp::Wait { until, .. } | PendingOp::Invoke { until, .. } => *until,
            PendingOp::Retry { at, .. } => *at,
        }
    }
}

/// The part of a run's state that is not in its journal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// What the suspended run waits on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingOp>,
    /// Failed attempts so far per hashed step id (steps not yet in the journal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step_attempts: BTreeMap<String, u32>,
    /// When the first attempt of each retried step started (ms), so its record spans them all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step_started: BTreeMap<String, Millis>,
    /// The failed attempts of each retried step, oldest first, until its record keeps them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step_failures: BTreeMap<String, Vec<FailedAttempt>>,
}

/// A run: one execution of one function for its triggering event(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run id (a ULID: sorts by creation time).
    pub id: String,
    /// The function.
    pub function_id: String,
    /// The triggering events (several for a batch).
    pub event_ids: Vec<String>,
    /// The status.
    pub status: RunStatus,
    /// Function-level attempts that failed so far.
    pub attempt: u32,
    /// When the run was created (ms).
    pub created_at: Millis,
    /// When it first started (ms).
    pub started_at: Option<Millis>,
    /// When it ended (ms).
    pub ended_at: Option<Millis>,
    /// The output, when completed.
    pub output: Option<Value>,
    /// The error, when failed.
    pub error: Option<ErrorInfo>,
    /// When the run is due to execute next (ms): at creation, now; when suspended, its
    /// earliest timer (a sleep's end, a wait's timeout, a retry's back-off). `None` once ended.
    /// Work queues claim runs by it.
    pub wake_at: Option<Millis>,
    /// Pending ops and per-step attempts.
    pub state: RunState,
    /// The run that invoked this one, if any.
    pub parent: Option<ParentRef>,
    /// The run this one re-runs (from the dev UI or the API), if any.
    #[serde(default)]
    pub rerun_of: Option<String>,
    /// Why and when the run was cancelled, once a cancellation was asked for (the run ends as
    /// `Cancelled` at its next step, or at once when it is not executing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// How the run's passes are admitted (concurrency, throttle, priority, timeouts), evaluated
    /// once when it was created.
    #[serde(default, skip_serializing_if = "FlowKeys::is_empty")]
    pub flow: FlowKeys,
}

/// A run's flow control, evaluated once when the run is created (keys and limits as they were
/// then): what its passes count against, how they are ordered, and its deadlines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowKeys {
    /// Concurrency limits its passes (or, `per_run`, the run as a whole) count against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrency: Vec<ConcurrencySlot>,
    /// Throttles its start counts against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle: Vec<ThrottleSlot>,
    /// How far ahead (positive) or behind its work is ordered among its function's, in ms.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority_ms: Millis,
    /// Its function sets `priority` (so its runs are ordered by it even when this one's is 0: a
    /// store that orders runs without priorities differently must know).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prioritized: bool,
    /// When it is cancelled if it has not started by then (`timeouts.start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_deadline: Option<Millis>,
    /// How long after it started it is cancelled if it has not ended (`timeouts.finish`), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_timeout_ms: Option<Millis>,
    /// The singleton lock it holds from its creation to its end (`<function>` or
    /// `<function>:<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singleton: Option<String>,
}

fn is_zero(n: &Millis) -> bool {
    *n == 0
}

impl FlowKeys {
    /// No flow control.
    pub fn is_empty(&self) -> bool {
        *self == FlowKeys::default()
    }
}

/// One concurrency limit a run counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConcurrencySlot {
    /// What shares the limit: `fn:<function>:<key>` or `env:<key>`.
    pub bucket: String,
    /// How many at once.
    pub limit: u32,
    /// Held from the run's start to its end, not only while it executes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_run: bool,
}

/// One throttle a run's start counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThrottleSlot {
    /// What shares the throttle: `<function>:<n>:<key>`.
    pub bucket: String,
    /// Starts per period, sustained.
    pub limit: u32,
    /// The period, in ms.
    pub period_ms: Millis,
    /// Starts an idle throttle admits at once.
    pub burst: u32,
}

/// A request to cancel a run: by what, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// What asked for it.
    pub by: CancelledBy,
    /// When (ms).
    pub at: Millis,
}

/// What cancelled a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CancelledBy {
    /// An event matched one of the function's `cancel_on` conditions.
    Event {
        /// The event's id.
        event_id: String,
        /// Its name.
        event_name: String,
    },
    /// A call to the engine: the REST API, the dev UI or code.
    Request {
        /// Which way in (`api`, `ui`, `code`).
        via: String,
    },
    /// A timeout of the function (`timeouts`).
    Timeout {
        /// Which one (`start` or `finish`).
        which: String,
    },
    /// Replaced by a newer singleton run (`singleton(mode = "cancel")`).
    Singleton {
        /// The newer run.
        run_id: String,
    },
}

impl std::fmt::Display for CancelledBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelledBy::Event { event_id, event_name } => write!(f, "event `{event_name}` ({event_id})"),
            CancelledBy::Request { via } => write!(f, "a request ({via})"),
            CancelledBy::Timeout { which } => write!(f, "its {which} timeout"),
            CancelledBy::Singleton { run_id } => write!(f, "a newer singleton run ({run_id})"),
        }
    }
}

impl RunRecord {
    /// The key that makes run creation idempotent: the first event, or the run itself for a
    /// re-run (which repeats an event on purpose).
    pub fn dedupe_key(&self) -> String {
        match &self.rerun_of {
            Some(_) => format!("rerun:{}", self.id),
            None => self.event_ids.first().cloned().unwrap_or_default(),
        }
    }
}

/// What kind of step a journal entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `step.run`.
    Run,
    /// `step.sleep` / `step.sleep_until`.
    Sleep,
    /// `step.wait_for_event`.
    Wait,
    /// `step.send_event`.
    Send,
    /// `step.invoke`.
    Invoke,
}

impl StepKind {
    /// The kind as a string.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::Sleep => "sleep",
            StepKind::Wait => "wait",
            StepKind::Send => "send",
            StepKind::Invoke => "invoke",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Option<StepKind> {
        [StepKind::Run, StepKind::Sleep, StepKind::Wait, StepKind::Send, StepKind::Invoke]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A recorded step result, in Inngest's memo shape: `{"data": ...}` or `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Memo {
    /// The step's value.
    Data(Value),
    /// The step's final error.
    Error(ErrorInfo),
}

/// One journal entry: a step that finished for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The run.
    pub run_id: String,
    /// Hashed step id (SHA-1 hex, Inngest's rule).
    pub hash: String,
    /// The user's step id.
    pub name: String,
    /// What kind of step.
    pub kind: StepKind,
    /// The value or error.
    pub memo: Memo,
    /// Attempts it took.
    pub attempts: u32,
    /// When its first attempt started (ms).
    pub started_at: Millis,
    /// When it finished (ms).
    pub ended_at: Millis,
    /// What else the record tells: failed attempts, what a wait waited for and what resumed
    /// it, the run a rerun copied it from. Empty for most steps.
    #[serde(default, skip_serializing_if = "StepDetail::is_empty")]
    pub detail: StepDetail,
}

/// What a journal entry tells beyond its result, for the timeline and the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepDetail {
    /// The attempts that failed before the last one, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailedAttempt>,
    /// For a `wait_for_event` step: the event it waited for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_for: Option<WaitSpec>,
    /// For a step that waited (`wait_for_event`, `invoke`): what ended the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_by: Option<ResumedBy>,
    /// For a step a rerun reused: the run whose result it copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_from: Option<String>,
}

impl StepDetail {
    /// Whether there is nothing in it (what most steps' records have).
    pub fn is_empty(&self) -> bool {
        self.failures.is_empty() && self.waited_for.is_none() && self.resumed_by.is_none() && self.copied_from.is_none()
    }
}

/// An attempt of a step that failed and was tried again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// What it failed with.
    pub error: ErrorInfo,
    /// When it started (ms).
    pub started_at: Millis,
    /// When it failed (ms).
    pub ended_at: Millis,
}

/// What ended a step that waited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResumedBy {
    /// An event matched the wait: the step's value is that event.
    Event {
        /// The event's id.
        event_id: String,
        /// Its name.
        event_name: String,
    },
    /// The invoked run ended: the step's value is its output (or error).
    Run {
        /// The invoked run.
        run_id: String,
    },
    /// The timeout passed first.
    Timeout,
}

/// Why a function did not run for an event: its run was skipped, and not created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// `rate_limit`: the function's runs for this key are over the limit.
    RateLimit {
        /// The key's value (`<nil>` when it evaluated to nothing; empty without a key).
        key: String,
    },
    /// `idempotency`: a run with this key's value was created in the last 24 hours.
    Idempotency {
        /// The key's value.
        key: String,
    },
    /// `singleton(mode = "skip")`: a run with the same key is active.
    Singleton {
        /// The active run.
        run_id: String,
    },
}

impl SkipReason {
    /// The reason's kind as stored and shown: `rate_limit`, `idempotency` or `singleton`.
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::RateLimit { .. } => "rate_limit",
            SkipReason::Idempotency { .. } => "idempotency",
            SkipReason::Singleton { .. } => "singleton",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::RateLimit { key } if key.is_empty() => write!(f, "rate limited"),
            SkipReason::RateLimit { key } => write!(f, "rate limited (key `{key}`)"),
            SkipReason::Idempotency { key } => {
                write!(f, "a duplicate of a run in the last 24 h (idempotency key `{key}`)")
            }
            SkipReason::Singleton { run_id } => write!(f, "singleton: run {run_id} is active"),
        }
    }
}

/// A function that skipped an event: no run was created for it (the event stays stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipRecord {
    /// The function.
    pub function_id: String,
    /// The event.
    pub event_id: String,
    /// Why.
    pub reason: SkipReason,
    /// When (ms).
    pub at: Millis,
}

/// An event that a debounced or batched function took into a window (a debounce window or a
/// batch): the run it went to (whose status says whether the window has fired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debounced {
    /// The function.
    pub function_id: String,
    /// The event.
    pub event_id: String,
    /// The window's run.
    pub run_id: String,
    /// The window's key (empty without one).
    pub key: String,
    /// When the event joined (ms).
    pub at: Millis,
}

/// What sending events did: their ids, in order (Inngest's answer), the functions that
/// skipped them, with why, and the windows (debounce windows, batches) they went into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// The events' ids, in the order sent.
    pub ids: Vec<String>,
    /// The functions that skipped one of them (rate limit, idempotency, singleton).
    pub skipped: Vec<SkipRecord>,
    /// The debounced or batched functions that took one of them into a window (opened or
    /// joined): each names the run the window will start once it closes.
    pub windowed: Vec<Debounced>,
}
