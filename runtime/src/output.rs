//! What a function may return: `Result<T, E>` with `T: Serialize` and `E` convertible into
//! hookflow's [`Error`](crate::Error).

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// The return type of an `#[inngest_fn]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a return type an `#[inngest_fn]` can have",
    label = "return `Result<T, E>` here",
    note = "return `Result<T, E>` where `T: Serialize` and `E` converts into `hookflow::Error`, e.g. `hookflow::Result<()>`"
)]
pub trait FunctionOutput {
    /// The JSON output stored with the run, or the error.
    fn into_output(self) -> Result<Value, Error>;
}

impl<T: Serialize, E: Into<Error>> FunctionOutput for Result<T, E> {
    fn into_output(self) -> Result<Value, Error> {
        let value = self.map_err(Into::into)?;
        serde_json::to_value(value)
            .map_err(|e| Error::non_retriable(format!("the function's output is not valid JSON: {e}")))
    }
}
