//! What a pass reports: the ops it found or performed, in the Inngest protocol's vocabulary
//! (its opcodes), and how it ended.

use std::time::Duration;

use serde_json::Value;

use crate::error::{ErrorInfo, Retry};
use crate::model::{Millis, PendingOp, StepKind};

/// A step as ops name it: its hashed id and the id the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepMeta {
    /// SHA-1 hex of the user's id (with the repeat suffix).
    pub(crate) id: String,
    /// The user's step id.
    pub(crate) name: String,
}

/// When a step's attempts ran: from the first attempt's start to this attempt's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) started_at: Millis,
    pub(crate) ended_at: Millis,
}

/// One thing a pass did or asks for, named after the protocol's opcodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// A step ran and produced `data` (also a sleep that was already over, with `null`).
    StepRun { step: StepMeta, kind: StepKind, data: Value, attempt: u32, timing: Timing },
    /// A step attempt failed and is to be retried (after `retry_after` when the error asked).
    /// `timing` spans the step's attempts so far; this attempt began at `attempt_started_at`.
    StepError {
        step: StepMeta,
        kind: StepKind,
        error: ErrorInfo,
        attempt: u32,
        retry_after: Option<Duration>,
        timing: Timing,
        attempt_started_at: Millis,
    },
    /// A step failed for good: its error is its recorded result.
    StepFailed { step: StepMeta, kind: StepKind, error: ErrorInfo, attempt: u32, timing: Timing },
    /// A new step was found and not executed: a later, targeted pass executes it.
    StepPlanned { step: StepMeta, kind: StepKind },
    /// Sleep until `until`.
    Sleep { step: StepMeta, since: Millis, until: Millis },
    /// Wait for an event named `event` (matching `expr`) until `until`.
    WaitForEvent { step: StepMeta, since: Millis, event: String, expr: Option<String>, until: Millis },
    /// Start a run of `function_id` with `data` and wait for its result until `until`.
    InvokeFunction { step: StepMeta, since: Millis, function_id: String, data: Value, until: Millis },
    /// The function returned this value.
    RunComplete { data: Value },
}

impl Op {
    /// The hashed id of the step the op is about (`None` for `RunComplete`).
    #[cfg_attr(not(feature = "protocol"), allow(dead_code))]
    pub(crate) fn step_id(&self) -> Option<&str> {
        match self {
            Op::StepRun { step, .. }
            | Op::StepError { step, .. }
            | Op::StepFailed { step, .. }
            | Op::StepPlanned { step, .. }
            | Op::Sleep { step, .. }
            | Op::WaitForEvent { step, .. }
            | Op::InvokeFunction { step, .. } => Some(&step.id),
            Op::RunComplete { .. } => None,
        }
    }
}

/// How a pass ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PassEnd {
    /// The function returned; its value is the `RunComplete` op.
    Completed,
    /// The function returned an error (or panicked); `retry` is what the error asks for.
    Failed { error: ErrorInfo, retry: Retry },
    /// The function cannot go on in this pass: steps wait (sleep, event, invoke, a retry's
    /// back-off), were only planned, or the host asked to stop after a step.
    Suspended,
    /// The run was cancelled; the pass stopped at a step boundary.
    Cancelled,
}

/// Everything a pass produced: one place (the engine's apply, or the protocol's response)
/// turns it into effects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PassReport {
    /// What the pass did and asks for, in order.
    pub(crate) ops: Vec<Op>,
    /// Ops that earlier passes left pending and that this pass reached again: still waited on.
    pub(crate) kept: Vec<PendingOp>,
    /// How it ended.
    pub(crate) end: PassEnd,
    /// Steps answered from the journal.
    pub(crate) replayed: usize,
}
