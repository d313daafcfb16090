//! Items the macros' generated code uses. Not public API: names and shapes may change in any
//! release. User crates reach `inventory`, `serde` and friends only through here.

pub use ::core::time::Duration;
pub use ::inventory;
pub use ::serde;
pub use ::serde_json;
pub use ::std::borrow::Cow;

pub use crate::checks::*;
pub use crate::event::Event;
pub use crate::event::{EventType, IntoRawEvent, NamedEvent, RawEvent};
pub use crate::function::{
    BatchEvents, CancelOn, Concurrency, ConcurrencyPer, ConcurrencyScope, Debounce, FunctionDef, Handler,
    HandlerFuture, Options, Priority, RateLimit, Singleton, SingletonMode, SourceLocation, Throttle, Timeouts, Trigger,
};
pub use crate::invocation::Invocation;
pub use crate::output::FunctionOutput;
pub use crate::registry::Registration;
pub use crate::step::Step;
pub use crate::Json;

/// Calls an `on_failure` handler with the failure read from the invocation's
/// `inngest/function.failed` event; a handler of the wrong shape fails [`OnFailure`](crate::OnFailure)'s bound
/// here, with its message.
pub async fn call_on_failure<E, Args, H>(handler: H, invocation: Invocation) -> Result<serde_json::Value, crate::Error>
where
    E: EventType,
    H: crate::failure::OnFailure<E, Args>,
    <H::Future as ::core::future::Future>::Output: FunctionOutput,
{
    let failed =
        invocation.events.first().ok_or_else(|| crate::Error::non_retriable("the run has no triggering event"))?;
    let data: serde_json::Value = failed.data.typed().map_err(|e| crate::Error::non_retriable(e.to_string()))?;
    let failure = crate::failure::Failure::<E>::from_failed_event(&data, invocation.function_id.as_ref())?;
    handler.call(failure, invocation.step()).await.into_output()
}

/// Converts what the user's function returned into the engine's output.
pub fn into_output<R: FunctionOutput>(result: R) -> Result<serde_json::Value, crate::Error> {
    result.into_output()
}
