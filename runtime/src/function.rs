//! Function definitions and specs.
//!
//! [`FunctionDef`] is what `#[inngest_fn]` registers: const-constructible, so that it can live in
//! a `static` and be collected at link time. [`FunctionSpec`] is what the engine runs: owned, made
//! from a definition (a handler in this binary) or at run time (a function of an app that syncs
//! over the Inngest protocol), with an [`Executor`] saying how a pass reaches it. Triggers and
//! options use `Cow<'static, ...>`, so a definition's are borrowed and a synced spec's owned.

use std::borrow::Cow;
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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An event with this name, optionally filtered by a CEL expression over `event`.
    Event {
        /// The event name.
        name: Cow<'static, str>,
        /// A CEL expression that must hold, e.g. `event.data.plan == 'pro'`.
        expr: Option<Cow<'static, str>>,
    },
    /// A cron schedule, optionally prefixed with `TZ=Area/City `.
    Cron {
        /// The schedule as written.
        schedule: Cow<'static, str>,
    },
}

impl Trigger {
    /// An event trigger without a condition.
    pub fn event(name: impl Into<Cow<'static, str>>) -> Trigger {
        Trigger::Event { name: name.into(), expr: None }
    }

    /// The event name, for an event trigger.
    pub fn event_name(&self) -> Option<&str> {
        match self {
            Trigger::Event { name, .. } => Some(name),
            Trigger::Cron { .. } => None,
        }
    }
}

/// Function options, mirroring Inngest's function configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Retries per step and for the function body; `None` means the default, 4.
    pub retries: Option<u32>,
    /// Up to two concurrency limits.
    pub concurrency: Cow<'static, [Concurrency]>,
    /// Up to two throttles: runs started per period (queued, not dropped).
    pub throttle: Cow<'static, [Throttle]>,
    /// Rate limiting: runs started per period (extra events are skipped).
    pub rate_limit: Option<RateLimit>,
    /// Debouncing: run once with the last event after a quiet period.
    pub debounce: Option<Debounce>,
    /// Batching: run once with many events.
    pub batch_events: Option<BatchEvents>,
    /// Priority of a run in the queue.
    pub priority: Option<Priority>,
    /// A CEL expression whose value de-duplicates runs for 24 hours.
    pub idempotency: Option<Cow<'static, str>>,
    /// At most one active run per key.
    pub singleton: Option<Singleton>,
    /// Events that cancel a run.
    pub cancel_on: Cow<'static, [CancelOn]>,
    /// How long a run may wait to start and to finish.
    pub timeouts: Option<Timeouts>,
}

impl Options {
    /// The default number of retries.
    pub const DEFAULT_RETRIES: u32 = 4;

    /// No options set.
    pub const DEFAULT: Options = Options {
        retries: None,
        concurrency: Cow::Borrowed(&[]),
        throttle: Cow::Borrowed(&[]),
        rate_limit: None,
        debounce: None,
        batch_events: None,
        priority: None,
        idempotency: None,
        singleton: None,
        cancel_on: Cow::Borrowed(&[]),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concurrency {
    /// Runs allowed to execute steps at once.
    pub limit: u32,
    /// A CEL expression grouping runs; each value has its own limit.
    pub key: Option<Cow<'static, str>>,
    /// Which runs share the limit.
    pub scope: ConcurrencyScope,
    /// What holds a slot: a run's executing steps (Inngest's rule), or the run itself from its
    /// start to its end, through sleeps and waits.
    pub per: ConcurrencyPer,
}

/// What a concurrency limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcurrencyPer {
    /// Steps executing (a sleeping, waiting or backing-off run holds no slot). The default.
    #[default]
    Step,
    /// Runs started and not ended (a sleeping or waiting run keeps its slot).
    Run,
}

/// At most one active run per key (held through sleeps and retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Singleton {
    /// What happens to a new run while one is active.
    pub mode: SingletonMode,
    /// A CEL expression grouping runs (none: one run of the function at a time).
    pub key: Option<Cow<'static, str>>,
}

/// What a singleton does with a new run while another is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingletonMode {
    /// The new run is skipped (recorded, with the reason).
    Skip,
    /// The active run is cancelled and the new one starts.
    Cancel,
}

/// A throttle on run starts (GCRA): one start every `period / limit`, sustained, and up to
/// `burst` starts at once when the throttle has been idle. Starts over the rate wait their turn
/// (nothing is dropped); a run's later steps and retries are not throttled.
///
/// With `limit = 10, period = "1m", burst = 2`: two runs start at once, then one every 6 s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    /// Starts per period, sustained.
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// Starts an idle throttle admits at once (default 1: evenly spread).
    pub burst: u32,
    /// A CEL expression grouping runs.
    pub key: Option<Cow<'static, str>>,
}

/// A rate limit: at most `limit` runs per `period`; further events are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Runs per period.
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// A CEL expression grouping runs.
    pub key: Option<Cow<'static, str>>,
}

/// Debouncing: wait for `period` without a new event, then run with the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debounce {
    /// The quiet period.
    pub period: Duration,
    /// A CEL expression grouping events.
    pub key: Option<Cow<'static, str>>,
    /// The longest an event may be delayed.
    pub timeout: Option<Duration>,
    /// Hand the run every event of the window (oldest first), not only the newest.
    pub all_events: bool,
}

/// Batching: run once with up to `max_size` events, or after `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEvents {
    /// The largest batch.
    pub max_size: u32,
    /// The longest wait for a batch to fill.
    pub timeout: Duration,
    /// A CEL expression grouping events into batches.
    pub key: Option<Cow<'static, str>>,
    /// A CEL condition: an event for which it is false runs on its own, unbatched.
    pub if_expr: Option<Cow<'static, str>>,
}

/// Priority: a CEL expression giving a run's priority factor in seconds (-600..=600).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    /// The CEL expression.
    pub run: Cow<'static, str>,
}

/// Cancel a run when a matching event arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOn {
    /// The event that cancels.
    pub event: Cow<'static, str>,
    /// A CEL expression over `event` (the triggering event) and `async` (the new one).
    pub expr: Option<Cow<'static, str>>,
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

/// How a pass reaches a function.
#[derive(Clone)]
pub enum Executor {
    /// A handler in this binary, called in-process.
    Local(Handler),
    /// A function served over the Inngest protocol by another app, at `url`.
    Remote(RemoteFunction),
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Executor::Local(_) => f.write_str("Local"),
            Executor::Remote(remote) => f.debug_tuple("Remote").field(remote).finish(),
        }
    }
}

/// Where a synced app serves one of its functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFunction {
    /// The app that synced it.
    pub app_id: String,
    /// The URL call requests are posted to.
    pub url: String,
}

/// A function as the engine runs it: owned, from a [`FunctionDef`] or registered at run time.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function id (unique in the engine).
    pub id: String,
    /// The display name, when given.
    pub name: Option<String>,
    /// What starts a run.
    pub triggers: Vec<Trigger>,
    /// Retries, flow control, cancellation and timeouts.
    pub options: Options,
    /// How a pass reaches it.
    pub executor: Executor,
    /// For the `on_failure` handler of another function: that function's id.
    pub failure_handler_of: Option<String>,
    /// Where it was defined, for a function of this binary.
    pub location: Option<SourceLocation>,
}

impl FunctionSpec {
    /// The spec of a function of this binary.
    pub fn from_def(def: &'static FunctionDef) -> FunctionSpec {
        FunctionSpec {
            id: def.id.to_owned(),
            name: def.name.map(str::to_owned),
            triggers: def.triggers.to_vec(),
            options: def.options.clone(),
            executor: Executor::Local(def.handler),
            failure_handler_of: None,
            location: Some(def.location),
        }
    }

    /// The synthetic function that runs a definition's `on_failure` handler, as Inngest defines
    /// it: `<id>-failure`, triggered by `inngest/function.failed` for that function.
    pub fn failure_handler(def: &'static FunctionDef) -> Option<FunctionSpec> {
        let handler = def.on_failure?;
        Some(FunctionSpec {
            id: format!("{}-failure", def.id),
            name: Some(format!("{} (on failure)", def.display_name())),
            triggers: vec![Trigger::Event {
                name: Cow::Borrowed("inngest/function.failed"),
                expr: Some(Cow::Owned(format!("event.data.function_id == '{}'", def.id))),
            }],
            options: Options { retries: def.options.retries, ..Options::DEFAULT },
            executor: Executor::Local(handler),
            failure_handler_of: Some(def.id.to_owned()),
            location: Some(def.location),
        })
    }

    /// The display name: `name`, or the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Attempts per step and for the function body (`retries + 1`).
    pub fn max_attempts(&self) -> u32 {
        self.options.retries.unwrap_or(Options::DEFAULT_RETRIES) + 1
    }

    /// The names of the events that trigger it.
    pub fn event_names(&self) -> impl Iterator<Item = &str> {
        self.triggers.iter().filter_map(Trigger::event_name)
    }
}
