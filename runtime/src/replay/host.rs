//! What a pass needs from outside, in one small trait: the in-process engine implements it
//! (steps execute and the pass goes on), and the Inngest protocol's serve handler implements it
//! (steps are reported and the request ends).

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;
use crate::event::RawEvent;
use crate::model::Millis;

use super::op::{Op, StepMeta};

/// A boxed future the host answers with.
pub(crate) type HostFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Whether a newly found step executes in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Execute it now.
    Execute,
    /// Report it as planned (`StepPlanned`) and stop: a later pass executes it.
    Plan,
    /// Neither execute nor report it (a targeted pass that executes another step).
    Skip,
}

/// What the pass does after a step's result was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterStep {
    /// Return the result to the function and go on.
    Continue,
    /// End the pass here (the protocol answers one executed step per request).
    #[cfg_attr(not(feature = "protocol"), allow(dead_code))]
    Stop,
}

/// The outside world of a pass.
pub(crate) trait StepHost: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> Millis;
    /// Whether the run was cancelled: the pass stops at its next step.
    fn cancelled(&self) -> bool;
    /// Attempts a step gets (retries + 1): an error on the last one fails it for good.
    fn max_attempts(&self) -> u32;
    /// Decides, for the new steps found together, whether each executes now.
    fn admit(&self, found: &[StepMeta]) -> Vec<Admission>;
    /// A step's result was recorded (`StepRun` or `StepFailed`): go on or stop.
    fn recorded(&self, op: &Op) -> AfterStep;
    /// Sends events for `step.send_event` (already given deterministic ids); answers their ids.
    fn send(&self, events: Vec<RawEvent>) -> HostFuture<Result<Vec<String>, Error>>;
}
