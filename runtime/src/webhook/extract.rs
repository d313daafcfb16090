//! [`VerifiedWebhook`]: an axum extractor that accepts a request only if its Svix / Standard
//! Webhooks signature checks out, for any provider that signs this way (Clerk, Svix itself,
//! Resend, Brevo, Lemon Squeezy's Standard Webhooks mode, ...).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::svix::{VerifiedMessage, Verifier};
use super::{read_body, IngressError};

/// The default body limit of a verified webhook: 1 MiB (Clerk's payloads are a few KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A [`Verifier`] plus the body limit and clock to verify requests with. Install it on a
/// router as an [`axum::Extension`] to use [`VerifiedWebhook`] in that router's handlers.
#[derive(Clone)]
pub struct WebhookVerifier {
    verifier: Arc<Verifier>,
    max_body_bytes: usize,
    clock: Clock,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("verifier", &self.verifier)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// Verifies with `verifier`, a 1 MiB body limit and the system clock.
    pub fn new(verifier: Verifier) -> Self {
        WebhookVerifier {
            verifier: Arc::new(verifier),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// Changes the body limit; larger bodies are answered with 413.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Replaces the clock the timestamp tolerance is checked against (tests drive time with it).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The body limit, in bytes.
    pub fn limit(&self) -> usize {
        self.max_body_bytes
    }

    /// Reads the request's body (within the limit) and verifies it.
    pub async fn verify_request(&self, request: Request) -> Result<VerifiedWebhook, IngressError> {
        let (parts, body) = request.into_parts();
        let body = read_body(body, &parts.headers, self.max_body_bytes).await?;
        let message = self.verifier.verify(&parts.headers, &body, (self.clock)())?;
        Ok(VerifiedWebhook { message, headers: parts.headers, body })
    }
}

/// A request whose Svix / Standard Webhooks signature checked out: its id and timestamp, its
/// headers and its raw body.
///
/// Rejections are JSON (`{"error": "...", "status": N}`): 401 for a missing, stale or wrong
/// signature, 413 over the body limit, 500 if no [`WebhookVerifier`] is installed.
///
/// ```ignore
/// use axum::{routing::post, Extension, Router};
/// use hookflow::webhook::{svix::Verifier, IngressError, VerifiedWebhook, WebhookVerifier};
///
/// #[derive(serde::Deserialize)]
/// struct ResendEvent { r#type: String, data: serde_json::Value }
///
/// async fn resend(webhook: VerifiedWebhook) -> Result<&'static str, IngressError> {
///     let event: ResendEvent = webhook.json()?;           // 400 if the body is not that shape
///     tracing::info!(id = %webhook.message.id, kind = %event.r#type, "resend webhook");
///     Ok("ok")
/// }
///
/// let verifier = Verifier::new(std::env::var("RESEND_WEBHOOK_SECRET")?.split(','))?;
/// let app: Router = Router::new()
///     .route("/webhooks/resend", post(resend))
///     .layer(Extension(WebhookVerifier::new(verifier).max_body_bytes(256 * 1024)));
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    /// The verified message id (the idempotency key) and timestamp.
    pub message: VerifiedMessage,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The raw body, exactly as signed.
    pub body: Bytes,
}

impl VerifiedWebhook {
    /// Deserializes the body; a body of the wrong shape is a 400 saying why.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, IngressError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            IngressError::Malformed(format!(
                "the webhook body is not the expected JSON ({e}): check that the provider sends this event type to \
                 this URL"
            ))
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for VerifiedWebhook {
    type Rejection = IngressError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let verifier = request.extensions().get::<WebhookVerifier>().cloned().ok_or(IngressError::MissingVerifier)?;
        verifier.verify_request(request).await
    }
}
