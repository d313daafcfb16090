//! What an `on_failure` handler receives: the failed run's original event, typed as the
//! function's own payload, and the error it failed with, in one [`Failure`].
//!
//! ```
//! use hookflow::prelude::*;
//! use hookflow::Failure;
//!
//! #[inngest_fn(id = "charge", event = "app/order.placed", on_failure = refund)]
//! async fn charge(event: Event<Json>, step: Step) -> Result<()> {
//!     step.run("charge-card", || async { Err::<(), _>(NonRetriable::new("card declined").into()) }).await?;
//!     Ok(())
//! }
//!
//! /// Runs once `charge` has failed for good (its retries are used up).
//! async fn refund(failure: Failure<Json>, step: Step) -> Result<String> {
//!     let order = failure.event.data["order"].as_str().unwrap_or("?").to_owned();
//!     let why = failure.error.message.clone();
//!     let sent: String = step.run("notify", || async move { Ok(format!("order {order} failed: {why}")) }).await?;
//!     Ok(sent)
//! }
//! ```
//!
//! A handler may leave out the `Step` (`async fn(Failure<E>) -> Result<T>`). With any other
//! signature the macro's check says which one it expects.

use std::future::Future;

use serde_json::Value;

use crate::error::{Error, ErrorInfo};
use crate::event::{Event, EventType, RawEvent};
use crate::step::Step;

/// A failed run, as its `on_failure` handler receives it. `E` is the function's payload type
/// (`Json` for a function without an `Event<E>` parameter).
#[non_exhaustive]
pub struct Failure<E: EventType> {
    /// The event that started the failed run, typed as the function's own.
    pub event: Event<E>,
    /// What the run failed with: its name, message, causes (`cause`: the chain of
    /// `source()`s) and, when it was captured, its `stack` (a Rust backtrace with
    /// `RUST_LIB_BACKTRACE=1`, or the stack a remote SDK function sent).
    pub error: ErrorInfo,
    /// The failed run.
    pub run_id: String,
    /// The function that failed.
    pub function_id: String,
}

impl<E: EventType> std::fmt::Debug for Failure<E>
where
    Event<E>: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failure")
            .field("event", &self.event)
            .field("error", &self.error)
            .field("run_id", &self.run_id)
            .field("function_id", &self.function_id)
            .finish()
    }
}

impl<E: EventType> Clone for Failure<E>
where
    Event<E>: Clone,
{
    fn clone(&self) -> Self {
        let (error, run_id, function_id) = (self.error.clone(), self.run_id.clone(), self.function_id.clone());
        Failure { event: self.event.clone(), error, run_id, function_id }
    }
}

impl<E: EventType> Failure<E> {
    /// Reads a failure from the data of the `inngest/function.failed` event the engine emits
    /// (`{function_id, run_id, error, event}`).
    pub(crate) fn from_failed_event(data: &Value, function: &str) -> Result<Self, Error> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            Error::non_retriable(format!(
                "the `inngest/function.failed` event of `{function}` has no usable {what}: {e}"
            ))
        };
        let error: ErrorInfo = serde_json::from_value(data["error"].clone()).map_err(|e| bad("`error`", &e))?;
        let raw: RawEvent = serde_json::from_value(data["event"].clone()).map_err(|e| bad("`event`", &e))?;
        let event = Event::try_from(&raw).map_err(|e| {
            Error::non_retriable(format!(
                "the event `{}` ({}) of the failed run does not match `{}`, the payload type of `{function}`: {e}",
                raw.name,
                raw.id,
                std::any::type_name::<E::Data>()
            ))
        })?;
        let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
        Ok(Failure { event, error, run_id: text("run_id"), function_id: text("function_id") })
    }
}

/// A function that can be an `on_failure` handler for a function with payload type `E`:
/// `async fn(Failure<E>, Step) -> Result<T>` or `async fn(Failure<E>) -> Result<T>`. `Args`
/// tells the two apart; the generated code infers it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be this function's `on_failure` handler",
    label = "expected `async fn(Failure<{E}>, Step) -> Result<T>`",
    note = "an `on_failure` handler receives the failed run as `hookflow::Failure<{E}>` (the original event, typed as the function's payload, and the error), and optionally a `Step`: `async fn on_failure(failure: Failure<{E}>, step: Step) -> Result<()>`"
)]
pub trait OnFailure<E: EventType, Args>: Send + Sync + 'static {
    /// What the handler returns.
    type Future: Future + Send + 'static;

    /// Calls the handler.
    fn call(&self, failure: Failure<E>, step: Step) -> Self::Future;
}

impl<E, F, Fut> OnFailure<E, (Failure<E>, Step)> for F
where
    E: EventType,
    F: Fn(Failure<E>, Step) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
{
    type Future = Fut;

    fn call(&self, failure: Failure<E>, step: Step) -> Fut {
        self(failure, step)
    }
}

impl<E, F, Fut> OnFailure<E, (Failure<E>,)> for F
where
    E: EventType,
    F: Fn(Failure<E>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
{
    type Future = Fut;

    fn call(&self, failure: Failure<E>, _step: Step) -> Fut {
        self(failure)
    }
}
