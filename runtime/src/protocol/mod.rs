//! The Inngest SDK protocol (feature `protocol`, on by default).
//!
//! Serving: [`ServeHandler`] serves this app's `#[inngest_fn]`s to an Inngest server (Inngest
//! Cloud, a self-hosted `inngest start`, or Inngest's dev server) at `/api/inngest`
//! ([`ServeHandler::router`]); the functions then run under Inngest's engine, unchanged.
//!
//! The wire codecs ([`wire`]), the function configurations in the server's field names
//! ([`functions`]) and the signing rules ([`signing`]) are kept apart from the handler so that
//! hookflow's own executor of Inngest SDK apps shares them. The handler has no copy of the step
//! logic: a call request drives the replay core, the same `Step` API the engine runs, through
//! its own `StepHost`, and the pass's report becomes the answer.

pub mod client;
pub mod config;
pub mod functions;
pub mod headers;
pub(crate) mod respond;
pub mod serve;
pub mod signing;
pub mod wire;

pub use client::{ClientError, InngestClient};
pub use config::{ConfigError, InngestConfig, Mode};
pub use serve::ServeHandler;
pub use signing::{SignatureError, SigningKey};
