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

/// Converts what the user's function returned into the engine's output.
pub fn into_output<R: FunctionOutput>(result: R) -> Result<serde_json::Value, crate::Error> {
    result.into_output()
}
