//! Function definitions: what `#[inngest_fn]` registers, all of it const-constructible so that
//! it can live in a `static` and be collected at link time.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::error::Error;
use crate::invocation::Invocation;

/// The boxed future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + 'static>>;

/// The type-erased entry point the macro generates for each function.
pub type Handler = fn(Invocation) -> HandlerFuture;

/// A function as registered: its id, triggers, options and entry points.
#[derive(Debug, Clone, Copy)]
pub struct FunctionDef {
    /// The function id (a slug).
    pub id: &'static str,
    /// The display name, when given.
    pub name: Option<&'static str>,
    /// What starts a run: events and cron schedules.
    pub triggers: &'static [Trigger],
    /// Retries, flow control, cancellation and timeouts.
    pub options: Options,
    /// Runs the function.
    pub handler: Handler,
    /// Runs when a run of this function fails for good.
    pub on_failure: Option<Handler>,
    /// Where the attribute was written.
    pub location: SourceLocation,
}

impl FunctionDef {
    /// The display name: `name`, or the id.
    pub fn display_name(&self) -> &'static str {
        self.name.unwrap_or(self.id)
    }

    /// Attempts per step and for the function body (`retries + 1`).
    pub fn max_attempts(&self) -> u32 {
        self.options.retries.unwrap_or(Options::DEFAULT_RETRIES) + 1
    }
}

/// Where a function was defined, to report duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLocation {
    /// The source file.
    pub file: &'static str,
    /// The line of the attribute.
    pub line: u32,
    /// The Rust path of the function (`module_path!()` and its name).
    pub path: &'static str,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` at {}:{}", self.path, self.file, self.line)
    }
}

/// What starts a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An event with this name, optionally filtered by a CEL expression over `event`.
    Event {
        /// The event name.
        name: &'static str,
        /// A CEL expression that must hold, e.g. `event.data.plan == 'pro'`.
        expr: Option<&'static str>,
    },
    /// A cron schedule, optionally prefixed with `TZ=Area/City `.
    Cron {
        /// The schedule as written.
        schedule: &'static str,
    },
}

/// Function options, mirroring Inngest's function configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Retries per step and for the function body; `None` means the default, 4.
    pub retries: Option<u32>,
    /// Up to two concurrency limits.
    pub concurrency: &'static [Concurrency],
    /// Throttling: runs started per period (queued, not dropped).
    pub throttle: Option<Throttle>,
    /// Rate limiting: runs started per period (extra events are skipped).
    pub rate_limit: Option<RateLimit>,
    /// Debouncing: run once with the last event after a quiet period.
    pub debounce: Option<Debounce>,
    /// Batching: run once with many events.
    pub batch_events: Option<BatchEvents>,
    /// Priority of a run in the queue.
    pub priority: Option<Priority>,
    /// A CEL expression whose value de-duplicates runs for 24 hours.
    pub idempotency: Option<&'static str>,
    /// Events that cancel a run.
    pub cancel_on: &'static [CancelOn],
    /// How long a run may wait to start and to finish.
    pub timeouts: Option<Timeouts>,
}

impl Options {
    /// The default number of retries.
    pub const DEFAULT_RETRIES: u32 = 4;

    /// No options set.
    pub const DEFAULT: Options = Options {
        retries: None,
        concurrency: &[],
        throttle: None,
        rate_limit: None,
        debounce: None,
        batch_events: None,
        priority: None,
        idempotency: None,
        cancel_on: &[],
        timeouts: None,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::DEFAULT
    }
}

/// Which runs share a concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyScope {
    /// Runs of this function (the default).
    Fn,
    /// Runs of every function in the environment with the same key.
    Env,
    /// Runs of every function in the account with the same key.
    Account,
}

/// A concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Runs allowed to execute steps at once.
    pub limit: u32,
    /// A CEL expression grouping runs; each value has its own limit.
    pub key: Option<&'static str>,
    /// Which runs share the limit.
    pub scope: ConcurrencyScope,
}

/// A throttle: at most `limit` runs start per `period`, with `burst` extra.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Runs per period.
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// Extra runs allowed in a burst (default 1).
    pub burst: u32,
    /// A CEL expression grouping runs.
    pub key: Option<&'static str>,
}

/// A rate limit: at most `limit` runs per `period`; further events are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Runs per period.
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// A CEL expression grouping runs.
    pub key: Option<&'static str>,
}

/// Debouncing: wait for `period` without a new event, then run with the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debounce {
    /// The quiet period.
    pub period: Duration,
    /// A CEL expression grouping events.
    pub key: Option<&'static str>,
    /// The longest an event may be delayed.
    pub timeout: Option<Duration>,
}

/// Batching: run once with up to `max_size` events, or after `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEvents {
    /// The largest batch.
    pub max_size: u32,
    /// The longest wait for a batch to fill.
    pub timeout: Duration,
    /// A CEL expression grouping events into batches.
    pub key: Option<&'static str>,
}

/// Priority: a CEL expression giving a run's priority factor in seconds (-600..=600).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The CEL expression.
    pub run: &'static str,
}

/// Cancel a run when a matching event arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelOn {
    /// The event that cancels.
    pub event: &'static str,
    /// A CEL expression over `event` (the triggering event) and `async` (the new one).
    pub expr: Option<&'static str>,
    /// How long after the run started the cancellation stays armed.
    pub timeout: Option<Duration>,
}

/// Run timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The longest a run may wait in the queue before it starts.
    pub start: Option<Duration>,
    /// The longest a run may take from start to end.
    pub finish: Option<Duration>,
}
