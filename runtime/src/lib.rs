//! # hookflow
//!
//! Durable, event-driven functions for Rust, in the style of Inngest. Annotate an `async fn`
//! with `#[inngest_fn]`, receive a typed event, and let the engine fan events out, memoize
//! steps, retry what fails and sleep for days, on an embedded SQLite file.
//!
//! ```
//! use hookflow::prelude::*;
//!
//! #[inngest_fn(id = "onboarding-emails", event = "clerk/user.created")]
//! async fn onboarding(event: Event<clerk::UserCreated>, step: Step) -> Result<()> {
//!     step.run("welcome-email", || async { Ok(()) }).await?;
//!     step.sleep("wait-3-days", "3 days").await?;
//!     Ok(())
//! }
//! ```
//!
//! Where to start: [`App`] (the process: functions, store, webhooks, dev UI), [`Step`] (what a
//! function does durably), [`Event`](struct@Event) (what it receives), [`WaitFor`] (waiting for another
//! event), [`store::Store`] (where runs live) and, with the `testing` feature,
//! [`testing::TestEngine`] (your functions in a test, on a test clock).

#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as hookflow;

mod app;
mod checks;
pub mod clerk;
pub mod clock;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod devui;
#[path = "../../macros/src/duration.rs"]
mod duration;
pub mod engine;
mod error;
mod event;
pub mod event_rules;
mod exec;
mod expr;
mod failure;
mod function;
#[cfg(feature = "server")]
mod guard;
mod invocation;
pub mod logs;
pub mod model;
mod output;
mod payload;
#[cfg(feature = "protocol")]
#[cfg_attr(docsrs, doc(cfg(feature = "protocol")))]
pub mod protocol;
mod registry;
mod replay;
#[path = "../../macros/src/schedule.rs"]
mod schedule;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
mod step;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod webhook;

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use app::{shutdown_signal, Listening, ADDR_ENV, EVENT_KEY_ENV};
pub use app::{App, AppError, RunningApp};
pub use clock::{Clock, SystemClock, TestClock};
pub use engine::{Engine, EngineBuilder};
pub use error::{Error, ErrorInfo, NonRetriable, Result, Retry, RetryAfter, StepError};
pub use event::{Event, EventType, IntoRawEvent, NamedEvent, RawEvent};
pub use failure::{Failure, OnFailure};
pub use function::{
    BatchEvents, CancelOn, Concurrency, ConcurrencyPer, ConcurrencyScope, Debounce, Executor, FunctionDef,
    FunctionSpec, Options, Priority, RateLimit, RemoteFunction, Singleton, SingletonMode, SourceLocation, Throttle,
    Timeouts, Trigger,
};
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use guard::TRUSTED_ORIGINS_ENV;
pub use hookflow_macros::{inngest_fn, Event};
pub use invocation::{Dep, Invocation, State};
pub use payload::Payload;
pub use registry::{DuplicateFunction, FunctionConflict, Functions, Registry};
pub use replay::hash_step_id;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::ServerLimits;
pub use step::{IntoDuration, Invoke, Step, WaitFor};

/// The date-time crate [`Step::sleep_until`] takes its time from (`chrono::DateTime<Utc>`),
/// re-exported so that it matches hookflow's version.
pub use chrono;

/// Any JSON value: receive any event untyped with `Event<Json>`.
pub type Json = serde_json::Value;

/// What most functions need: `use hookflow::prelude::*;`.
pub mod prelude {
    pub use crate::clerk;
    pub use crate::{inngest_fn, Dep, Error, Event, Failure, Json, NonRetriable, Result, RetryAfter, Step, StepError};
}
