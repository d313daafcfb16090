//! The Inngest SDK protocol, both directions (feature `protocol`, on by default).
//!
//! - Serving: [`ServeHandler`] serves this app's `#[inngest_fn]`s to an Inngest server
//!   (Inngest Cloud, a self-hosted `inngest start`, or Inngest's dev server) at `/api/inngest`
//!   ([`ServeHandler::router`]); the functions then run under Inngest's engine, unchanged.
//! - Executing: [`executor`] runs the functions of apps written with any Inngest SDK through
//!   hookflow's own engine and store (`hookflow dev -u URL`), as remote specs
//!   (`Executor::Remote`).
//!
//! Both sides share the wire codecs ([`wire`]), the function configurations in the server's
//! field names ([`functions`]) and the signing rules ([`signing`]). Neither has its own copy of
//! the step logic: a call request drives the replay core, the same `Step` API the engine runs,
//! through the serve handler's own `StepHost`; and an SDK's answers become the same pass
//! report the engine applies, through its one apply path.

pub mod client;
pub mod config;
pub mod executor;
pub mod functions;
pub mod headers;
pub(crate) mod inngest_mode;
pub(crate) mod respond;
pub mod serve;
pub mod signing;
pub mod wire;

pub use client::{ClientError, InngestClient};
pub use config::{ConfigError, InngestConfig, Mode};
pub use serve::ServeHandler;
pub use signing::{SignatureError, SigningKey};
