//! The protocol's header names (lower case: HTTP header names are case-insensitive) and this
//! SDK's identity.

/// `<sdk>:v<version>` on every response and outbound request; the executor treats an answer
/// without it as not coming from an SDK.
pub const SDK: &str = "x-inngest-sdk";
/// `t=<unix seconds>&s=<hex>`.
pub const SIGNATURE: &str = "x-inngest-signature";
/// `true`: do not retry this failure; `false`: retry it.
pub const NO_RETRY: &str = "x-inngest-no-retry";
/// Seconds, or a date, before the next attempt.
pub const RETRY_AFTER: &str = "retry-after";
/// The request version this SDK executes with.
pub const REQ_VERSION: &str = "x-inngest-req-version";
/// Set on every answer this SDK produced, even a 401.
pub const SDK_HANDLED: &str = "x-inngest-sdk-handled";
/// The kind of server that sent a sync request (`dev` or `cloud`).
pub const SERVER_KIND: &str = "x-inngest-server-kind";
/// The kind of server a registration is meant for.
pub const EXPECTED_SERVER_KIND: &str = "x-inngest-expected-server-kind";
/// `out_of_band` or `in_band`.
pub const SYNC_KIND: &str = "x-inngest-sync-kind";
/// A branch environment.
pub const ENV: &str = "x-inngest-env";
/// The web framework serving the functions.
pub const FRAMEWORK: &str = "x-inngest-framework";
/// The run a call request is for.
pub const RUN_ID: &str = "x-run-id";
/// The dispatch a call request is.
pub const REQUEST_ID: &str = "x-request-id";
/// The dispatch's generation: checkpoints must carry it.
pub const GENERATION_ID: &str = "x-inngest-generation-id";
/// The step a call request targets (`step` for none).
pub const STEP_ID: &str = "x-inngest-step-id";

/// This SDK's name in `X-Inngest-SDK`.
pub const SDK_NAME: &str = "hookflow";
/// Its version.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Its language, as introspection and registration name it.
pub const SDK_LANGUAGE: &str = "rust";
/// The framework it serves with.
pub const FRAMEWORK_NAME: &str = "axum";

/// `hookflow:v<version>`.
pub fn sdk() -> String {
    format!("{SDK_NAME}:v{SDK_VERSION}")
}
