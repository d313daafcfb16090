//! The replay core: everything about a pass that is deterministic and does no I/O.
//!
//! - [`ids`]: step hashes (Inngest's rule) and the repeat suffix;
//! - [`journal`]: the memoized results a pass answers steps with;
//! - [`op`]: what a pass reports, in the protocol's opcode vocabulary (`StepRun`, `StepError`,
//!   `StepFailed`, `StepPlanned`, `Sleep`, `WaitForEvent`, `InvokeFunction`, `RunComplete`);
//! - [`host`]: the one trait through which a pass reaches the outside (clock, cancellation,
//!   retry policy, admission of new steps, recording, sending events);
//! - [`pass`]: the state machine every step call goes through, and the driver that polls the
//!   function and turns the pass into a [`PassReport`].
//!
//! The user's `Step` API (in `step.rs`) is written against this module only, so the same steps
//! run in-process (the engine's host executes them and goes on) or under an Inngest call
//! request (a host that reports ops and stops). Nothing here knows of tokio, HTTP, SQL, the
//! store or the engine: a pass is tested by feeding it a journal and reading its report.

pub(crate) mod host;
pub(crate) mod ids;
pub(crate) mod journal;
pub(crate) mod op;
pub(crate) mod pass;

#[cfg(test)]
mod tests;

pub(crate) use host::{Admission, AfterStep, HostFuture, StepHost};
pub use ids::hash_step_id;
pub(crate) use journal::Journal;
pub(crate) use op::{Op, PassEnd, PassReport, StepMeta, Timing};
pub(crate) use pass::{drive, Pass, PassInput};
