//! HTTP ingress: signed provider webhooks (Clerk, and any Svix / Standard Webhooks sender) and
//! Inngest's event API.
//!
//! Every endpoint reads the body with a size limit, checks it, hands the events to an
//! [`EventSink`] and answers `2xx` only once the sink has committed them, so an acknowledged
//! event is never lost. Rejections are JSON, `{"error": "...", "status": N}`, and say what was
//! wrong and what to do:
//!
//! | status | when |
//! |---|---|
//! | 400 | malformed body (not JSON, not an envelope), an event that breaks the [event rules](crate::event_rules), more than 5,000 events, `clerk/*` through the event API |
//! | 401 | bad, stale or missing signature; unknown event key; event API not enabled (no key configured on a non-loopback server) |
//! | 408 | the body did not arrive within the server's body read timeout |
//! | 413 | body over the size limit |
//! | 503 | the event store could not commit (the sender retries) |
//!
//! - [`clerk`]: `POST /webhooks/clerk` → `clerk/<type>` events.
//! - [`event_api`]: `POST /e/{key}`, Inngest's event API.
//! - [`extract`]: [`VerifiedWebhook`], an axum extractor for any Standard Webhooks provider.
//! - [`svix`]: signature verification and signing.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

pub mod clerk;
pub mod dev_secret;
pub mod event_api;
pub mod extract;
pub mod sink;
pub mod svix;

pub use clerk::{ClerkConfigError, ClerkWebhook, ClerkWebhookConfig};
pub use event_api::{EventApi, EventApiConfig};
pub use extract::{VerifiedWebhook, WebhookVerifier};
pub use sink::{EventSink, EventSource, SinkError};
pub use svix::{SecretError, VerifiedMessage, Verifier, VerifyError};

/// Why an ingress request was refused; its response is `{"error": "<this message>", "status": N}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngressError {
    /// The body is larger than the endpoint accepts (413).
    #[error(
        "the request body is larger than this endpoint's {limit}-byte limit: send a smaller body, or raise the \
         limit in the endpoint's configuration (`max_body_bytes`)"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read, e.g. the client went away (400).
    #[error("the request body could not be read ({0}): send the request again")]
    BodyRead(String),
    /// The body did not arrive within the server's body read timeout (408).
    #[error("{0}: send the whole body at once, or raise the server's `body_read_timeout` (`App::server_limits`)")]
    BodyTimeout(crate::server::BodyTimeout),
    /// The webhook signature did not check out (401).
    #[error("webhook verification failed: {0}")]
    Unverified(#[from] VerifyError),
    /// The body is not what the endpoint expects (400).
    #[error("{0}")]
    Malformed(String),
    /// Event keys are configured and the request's key is not one of them (401).
    #[error(
        "event key not found: the key in `/e/{{key}}` is not one of this server's event keys; send with a key \
         from the server's configuration (`INNGEST_EVENT_KEY`)"
    )]
    UnknownEventKey,
    /// No event key is configured and the server is not a loopback-only dev server, so the
    /// event API takes nothing (401).
    #[error(
        "this server's event API is not enabled: no event key is configured, and without one events are \
         accepted only by a server listening on a loopback address (development); set `INNGEST_EVENT_KEY` \
         (several separated by commas; or call `App::event_key`) and send to `/e/<that key>`"
    )]
    EventApiClosed,
    /// The sink refused the events (400), or could not commit them and the sender should retry
    /// (503).
    #[error("{}", sink_message(.0))]
    Sink(#[from] SinkError),
    /// [`VerifiedWebhook`] was used on a route without a [`WebhookVerifier`] (500).
    #[error(
        "no webhook verifier is installed on this route: add `.layer(axum::Extension(WebhookVerifier::new(...)))` \
         to the router that uses `VerifiedWebhook`"
    )]
    MissingVerifier,
}

impl IngressError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            IngressError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngressError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            IngressError::BodyRead(_) | IngressError::Malformed(_) => StatusCode::BAD_REQUEST,
            IngressError::Unverified(_) | IngressError::UnknownEventKey | IngressError::EventApiClosed => {
                StatusCode::UNAUTHORIZED
            }
            IngressError::Sink(SinkError::Rejected(_)) => StatusCode::BAD_REQUEST,
            IngressError::Sink(SinkError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            IngressError::MissingVerifier => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IngressError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "ingress request failed");
        } else {
            tracing::warn!(status = status.as_u16(), error = %self, "ingress request rejected");
        }
        let body = serde_json::json!({ "error": self.to_string(), "status": status.as_u16() });
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(self, IngressError::TooLarge { .. } | IngressError::BodyTimeout(_)) {
            // The rest of the body may not have been read: the connection cannot be reused.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn sink_message(e: &SinkError) -> String {
    match e {
        SinkError::Unavailable(_) => format!("{e}; the events were not accepted, retry later"),
        SinkError::Rejected(_) => format!("{e}; nothing was accepted"),
    }
}

/// The success answer, Inngest's shape: `{"ids": [...], "status": 200}`.
pub(crate) fn accepted(ids: Vec<String>) -> Response {
    (StatusCode::OK, axum::Json(serde_json::json!({ "ids": ids, "status": 200 }))).into_response()
}

/// Reads at most `limit` bytes of body, never buffering more than that.
///
/// When the body is too large, up to a few times the limit is still read and thrown away before
/// answering 413: closing a socket with unread data makes the kernel reset the connection, and
/// the client would then see a reset instead of the 413 that explains the problem.
pub(crate) async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, IngressError> {
    let drain_budget = limit.saturating_mul(4).max(64 * 1024);
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if let Some(length) = declared {
        if length > limit as u64 {
            if length <= drain_budget as u64 {
                drain(stream, drain_budget).await;
            }
            return Err(IngressError::TooLarge { limit });
        }
    }
    let capacity = declared.and_then(|l| usize::try_from(l).ok()).unwrap_or(0).min(limit);
    let mut buffer = Vec::with_capacity(capacity);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_error)?;
        if buffer.len().saturating_add(chunk.len()) > limit {
            drain(stream, drain_budget.saturating_sub(buffer.len() + chunk.len())).await;
            return Err(IngressError::TooLarge { limit });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

fn body_error(error: axum::Error) -> IngressError {
    let error = error.into_inner();
    match error.downcast_ref::<crate::server::BodyTimeout>() {
        Some(timeout) => IngressError::BodyTimeout(*timeout),
        None => IngressError::BodyRead(error.to_string()),
    }
}

async fn drain(mut stream: axum::body::BodyDataStream, budget: usize) {
    let discard = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read = read.saturating_add(chunk.len());
            if read >= budget {
                break;
            }
        }
    };
    // A slow client must not hold the request open: after this, answer and close anyway.
    let _ = tokio::time::timeout(Duration::from_secs(5), discard).await;
}

pub(crate) use crate::payload::json_kind;
