//! `POST /webhooks/clerk`: Clerk's Svix-signed webhooks become `clerk/<type>` events.
//!
//! The event's id is the `svix-id` (stable across Clerk's retries, so a re-delivery creates no
//! new runs), its `ts` is the envelope's `timestamp` in milliseconds, its `data` is the
//! envelope's `data`, and the rest of the envelope (`type`, `object`, `instance_id`,
//! `timestamp`, `event_attributes`, ...) is kept under `user.clerk_envelope` for inspection.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use super::extract::{WebhookVerifier, DEFAULT_MAX_BODY_BYTES};
use super::svix::{SecretError, VerifiedMessage, Verifier};
use super::{accepted, EventSink, EventSource, IngressError};
use crate::clerk::{Envelope, CATALOG};
use crate::RawEvent;

/// The environment variable holding Clerk's signing secret(s).
pub const SECRET_ENV: &str = "CLERK_WEBHOOK_SIGNING_SECRET";

/// Where Clerk's webhooks are received unless the caller mounts them elsewhere.
pub const DEFAULT_PATH: &str = "/webhooks/clerk";

/// How the Clerk endpoint is set up.
#[derive(Clone, PartialEq, Eq)]
pub struct ClerkWebhookConfig {
    /// The endpoint's signing secrets (`whsec_...`); several during a rotation.
    pub secrets: Vec<String>,
    /// Bodies larger than this are answered with 413. Default 1 MiB.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for ClerkWebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkWebhookConfig")
            .field("secrets", &format_args!("{} (redacted)", self.secrets.len()))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// The Clerk configuration could not be read from the environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkConfigError {
    /// The variable is not set, or holds no secret.
    #[error(
        "`CLERK_WEBHOOK_SIGNING_SECRET` is not set: copy the signing secret (`whsec_...`) from the Clerk \
         dashboard (Webhooks → your endpoint → Signing Secret) into it; separate several with commas during a \
         rotation"
    )]
    Missing,
    /// The variable is not valid Unicode.
    #[error("`CLERK_WEBHOOK_SIGNING_SECRET` is not valid Unicode: set it to the `whsec_...` value Clerk shows")]
    NotUnicode,
}

impl ClerkWebhookConfig {
    /// A configuration with these secrets and the default 1 MiB body limit.
    pub fn new<I>(secrets: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        ClerkWebhookConfig {
            secrets: secrets.into_iter().map(Into::into).collect(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Changes the body limit.
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Reads the secrets from `CLERK_WEBHOOK_SIGNING_SECRET` (a comma- or space-separated list
    /// during a rotation).
    pub fn from_env() -> Result<Self, ClerkConfigError> {
        match std::env::var(SECRET_ENV) {
            Ok(value) => {
                let secrets = split_secrets(&value);
                if secrets.is_empty() {
                    Err(ClerkConfigError::Missing)
                } else {
                    Ok(Self::new(secrets))
                }
            }
            Err(std::env::VarError::NotPresent) => Err(ClerkConfigError::Missing),
            Err(std::env::VarError::NotUnicode(_)) => Err(ClerkConfigError::NotUnicode),
        }
    }
}

/// Splits a comma- or whitespace-separated list of secrets.
pub fn split_secrets(list: &str) -> Vec<String> {
    list.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The Clerk endpoint: verifies, parses and hands `clerk/<type>` events to an [`EventSink`].
#[derive(Clone)]
pub struct ClerkWebhook {
    verifier: WebhookVerifier,
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for ClerkWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkWebhook").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl ClerkWebhook {
    /// Checks the secrets now, so that a bad one fails at start-up and not on the first webhook.
    pub fn new(config: ClerkWebhookConfig, sink: Arc<dyn EventSink>) -> Result<Self, SecretError> {
        let verifier = WebhookVerifier::new(Verifier::new(&config.secrets)?).max_body_bytes(config.max_body_bytes);
        Ok(ClerkWebhook { verifier, sink })
    }

    /// Replaces the clock the 5-minute tolerance is checked against.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.verifier = self.verifier.with_clock(clock);
        self
    }

    /// A router serving `POST /webhooks/clerk`.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        self.router_at(DEFAULT_PATH)
    }

    /// A router serving `POST <path>`.
    pub fn router_at<S: Clone + Send + Sync + 'static>(self, path: &str) -> Router<S> {
        Router::new().route(path, post(handle)).with_state(self)
    }

    /// Handles one delivery: verify, parse, commit, and return the event ids.
    pub async fn receive(&self, request: Request) -> Result<Vec<String>, IngressError> {
        let webhook = self.verifier.verify_request(request).await?;
        let event = to_event(&webhook.body, &webhook.message)?;
        let ids = self.sink.accept(vec![event], EventSource::Webhook).await?;
        tracing::debug!(svix_id = %webhook.message.id, "Clerk webhook accepted");
        Ok(ids)
    }
}

const SHAPE: &str = r#"a Clerk event envelope looks like {"type": "user.created", "data": {...}, "timestamp": 1716883200000, "object": "event"}"#;

/// The `clerk/<type>` event for a verified body.
fn to_event(body: &[u8], message: &VerifiedMessage) -> Result<RawEvent, IngressError> {
    let malformed = |why: String| {
        IngressError::Malformed(format!("the webhook body is not a Clerk event envelope ({why}); {SHAPE}"))
    };
    // The envelope as sent (not as re-serialised by `Envelope`), minus the `data` that becomes
    // the event's payload, is kept for inspection and replay.
    let (envelope, kept) = Envelope::parse_with_rest(body).map_err(|e| malformed(e.to_string()))?;
    // Types Clerk adds later are still accepted (functions may take them untyped); a known type
    // whose payload does not fit its struct is accepted too, since refusing it would make Clerk
    // retry a message that can never succeed: the function that types it reports the error.
    if !CATALOG.iter().any(|entry| entry.clerk_type == envelope.clerk_type) {
        tracing::warn!(
            clerk_type = %envelope.clerk_type,
            svix_id = %message.id,
            "Clerk event type unknown to this version of hookflow: accepted as `{}` with untyped data",
            envelope.event_name()
        );
    } else if let Err(error) = envelope.typed() {
        tracing::warn!(
            clerk_type = %envelope.clerk_type,
            svix_id = %message.id,
            %error,
            "Clerk payload does not match its hookflow type: accepted, but typed functions will fail on it"
        );
    }
    let mut event = RawEvent {
        name: envelope.event_name(),
        ts: envelope.timestamp_ms().unwrap_or_else(|| message.timestamp.saturating_mul(1000)),
        data: envelope.data,
        id: message.id.clone(),
        user: Some(serde_json::json!({ "clerk_envelope": Value::Object(kept) })),
    };
    crate::event_rules::check(&mut event, EventSource::Webhook)
        .map_err(|e| IngressError::Malformed(format!("the webhook's event cannot be accepted: {e}")))?;
    Ok(event)
}

async fn handle(State(webhook): State<ClerkWebhook>, request: Request) -> Response {
    match webhook.receive(request).await {
        Ok(ids) => accepted(ids),
        Err(error) => error.into_response(),
    }
}
