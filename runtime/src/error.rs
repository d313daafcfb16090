//! The error a function returns, and the errors that steer retries.
//!
//! Any `std::error::Error` converts into [`Error`] with `?` and is retried (the default).
//! [`NonRetriable`] fails the run (or the step) at once, [`RetryAfter`] retries at a given
//! time, and [`StepError`] is what a step that exhausted its attempts returns at its call site.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `Result` with hookflow's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How the engine treats an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Retry with exponential backoff until the attempts run out (the default).
    Backoff,
    /// Do not retry: fail now.
    Never,
    /// Retry after this delay (still counting attempts).
    After(Duration),
}

/// The error of a function or step: a name, a message, an optional cause, and a retry decision.
///
/// It does not implement `std::error::Error` itself, so that every error type converts into it
/// with `?`, the way `anyhow::Error` does. With `RUST_LIB_BACKTRACE=1` in the environment it
/// captures a backtrace where it is made and keeps it as the error's `stack`: in the journal,
/// the dev UI, an `on_failure` handler's [`ErrorInfo`], and the Inngest protocol's `stack`
/// field. `RUST_BACKTRACE` alone, often set for panics, does not turn it on: resolving a
/// backtrace costs milliseconds per error and the journal keeps every one.
pub struct Error {
    name: String,
    message: String,
    retry: Retry,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    stack: Option<String>,
}

/// A backtrace of where an error is being made, as text, when `RUST_LIB_BACKTRACE` asks for
/// one (read once: the variable is not expected to change while the process runs).
fn capture_stack() -> Option<String> {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let wanted = *WANTED.get_or_init(|| std::env::var_os("RUST_LIB_BACKTRACE").is_some_and(|v| v != "0"));
    if !wanted {
        return None;
    }
    let backtrace = Backtrace::force_capture();
    (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string())
}

impl Error {
    /// A retriable error with a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            name: "Error".into(),
            message: message.to_string(),
            retry: Retry::Backoff,
            source: None,
            stack: capture_stack(),
        }
    }

    /// An error that must not be retried.
    pub fn non_retriable(message: impl fmt::Display) -> Self {
        Error {
            name: "NonRetriableError".into(),
            message: message.to_string(),
            retry: Retry::Never,
            source: None,
            stack: capture_stack(),
        }
    }

    /// An error retried after `delay`.
    pub fn retry_after(delay: Duration, message: impl fmt::Display) -> Self {
        Error {
            name: "RetryAfterError".into(),
            message: message.to_string(),
            retry: Retry::After(delay),
            source: None,
            stack: capture_stack(),
        }
    }

    /// Rebuilds an error from its serialized form.
    pub fn from_info(info: &ErrorInfo) -> Self {
        Error {
            name: info.name.clone(),
            message: info.message.clone(),
            retry: Retry::Backoff,
            source: None,
            stack: info.stack.clone(),
        }
    }

    /// The error's name (its type, as Inngest reports it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether and when the engine retries.
    pub fn retry(&self) -> Retry {
        self.retry
    }

    /// The underlying error, when there is one.
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// The backtrace captured where the error was made (see [`Error`]), when there is one.
    pub fn stack(&self) -> Option<&str> {
        self.stack.as_deref()
    }

    /// The serializable form (`{name, message, cause, stack}`), as journals and Inngest store it.
    pub fn to_info(&self) -> ErrorInfo {
        let mut cause = None;
        let mut chain: Vec<String> = Vec::new();
        let mut next = self.source.as_deref().and_then(|e| e.source());
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        if !chain.is_empty() {
            cause = Some(chain.join(": "));
        }
        ErrorInfo { name: self.name.clone(), message: self.message.clone(), cause, stack: self.stack.clone() }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("name", &self.name)
            .field("message", &self.message)
            .field("retry", &self.retry)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(err: E) -> Self {
        let boxed: Box<dyn StdError + Send + Sync + 'static> = Box::new(err);
        // A step's error keeps the stack of where it was first made, inside the step.
        let stack = match boxed.downcast_ref::<StepError>() {
            Some(e) => e.info.stack.clone(),
            None => capture_stack(),
        };
        let (name, retry) = if let Some(e) = boxed.downcast_ref::<NonRetriable>() {
            ("NonRetriableError".to_owned(), (Retry::Never, e.to_string()))
        } else if let Some(e) = boxed.downcast_ref::<RetryAfter>() {
            ("RetryAfterError".to_owned(), (Retry::After(e.delay), e.message.clone()))
        } else if let Some(e) = boxed.downcast_ref::<StepError>() {
            // The step already used its attempts: the function fails instead of retrying it.
            (e.info.name.clone(), (Retry::Never, e.info.message.clone()))
        } else if let Some(e @ crate::engine::SendError::Invalid { .. }) = boxed.downcast_ref() {
            // An event that breaks the rules (`step.send_event("inngest/...")`) is refused the
            // same way on every attempt.
            ("InvalidEventError".to_owned(), (Retry::Never, e.to_string()))
        } else {
            (short_type_name::<E>().to_owned(), (Retry::Backoff, boxed.to_string()))
        };
        Error { name, message: retry.1, retry: retry.0, source: Some(boxed), stack }
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// The serialized form of an error, in Inngest's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error's type name.
    pub name: String,
    /// The message.
    pub message: String,
    /// The chain of causes, joined, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Where the error was made: a Rust backtrace (captured only with `RUST_LIB_BACKTRACE=1`,
    /// see [`Error`]) or the stack an Inngest SDK sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " (caused by: {cause})")?;
        }
        Ok(())
    }
}

/// An error that must not be retried: the step or function fails at once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NonRetriable(pub String);

impl NonRetriable {
    /// A non-retriable error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        NonRetriable(message.into())
    }
}

/// An error retried no sooner than after `delay` (for example a rate-limited API's `Retry-After`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} (retry after {delay:?})")]
pub struct RetryAfter {
    /// How long to wait before the next attempt.
    pub delay: Duration,
    /// What went wrong.
    pub message: String,
}

impl RetryAfter {
    /// Retry after `delay`.
    pub fn new(delay: Duration, message: impl Into<String>) -> Self {
        RetryAfter { delay, message: message.into() }
    }
}

/// A step that failed for good (its attempts exhausted, or a non-retriable error): returned at
/// the `step.run` call site, where the function may handle it. Propagated with `?`, it fails
/// the run without further function-level retries.
#[derive(Debug, Clone, thiserror::Error)]
#[error("step `{step}` failed: {info}")]
pub struct StepError {
    /// The user's step id.
    pub step: String,
    /// The recorded error.
    pub info: ErrorInfo,
}
