//! `POST /e/{key}`: Inngest's event API. The body is one event or an array of events,
//! `{"name": "app/user.signup", "data": {...}, "id": "...", "ts": 1716883200000}`; the answer is
//! `{"ids": [...], "status": 200}` once they are committed, as Inngest answers, with beyond
//! Inngest (when there are some) a `skipped` list: the functions that will not run for these events (a rate limit,
//! an idempotency key, a singleton), each with its reason, and a `windowed` list: the debounced
//! or batched functions that took them into a window, each with the run it will start.
//!
//! Who may send: with event keys configured, only requests to `/e/<one of them>` (compared in
//! constant time); without any, nobody ([`WithoutKeys::Refuse`], the default), unless the
//! server is a development server on a loopback address ([`WithoutKeys::AnyKey`], what
//! [`App`](crate::App) chooses there). Every event must follow the
//! [event rules](crate::event_rules); `clerk/*` events are refused unless
//! [`EventApiConfig::allow_clerk_events`] is set, since they should come signed, through
//! [`ClerkWebhook`](super::ClerkWebhook).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{json_kind, read_body, EventSink, EventSource, IngressError};
use crate::event_rules::{self, MAX_EVENTS_PER_REQUEST};
use crate::model::SendReceipt;
use crate::{Payload, RawEvent};

/// The route, in axum's syntax.
pub const PATH: &str = "/e/{key}";

/// The default body limit: 3 MiB, Inngest's largest request.
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What the event API does with a request when no event key is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithoutKeys {
    /// Refuse it (401, saying how to enable the API): the default, so that a server reachable
    /// from elsewhere never takes unauthenticated events.
    #[default]
    Refuse,
    /// Accept any key, as Inngest's Dev Server does: for a development server listening on a
    /// loopback address only.
    AnyKey,
}

/// How the event API is set up.
#[derive(Clone, PartialEq, Eq)]
pub struct EventApiConfig {
    /// The accepted event keys; when empty, [`EventApiConfig::without_keys`] decides.
    pub event_keys: Vec<String>,
    /// What happens when no key is configured. Default: [`WithoutKeys::Refuse`].
    pub without_keys: WithoutKeys,
    /// Bodies larger than this are answered with 413. Default 3 MiB.
    pub max_body_bytes: usize,
    /// Requests with more events than this are answered with 400. Default 5,000 (Inngest's).
    pub max_events: usize,
    /// Whether `clerk/*` events are accepted here. Default `false`: they come from Clerk's
    /// signed webhook, and an unsigned request must not be able to fake one.
    pub allow_clerk_events: bool,
}

impl std::fmt::Debug for EventApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventApiConfig")
            .field("event_keys", &format_args!("{} (redacted)", self.event_keys.len()))
            .field("without_keys", &self.without_keys)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_events", &self.max_events)
            .field("allow_clerk_events", &self.allow_clerk_events)
            .finish()
    }
}

impl Default for EventApiConfig {
    fn default() -> Self {
        EventApiConfig {
            event_keys: Vec::new(),
            without_keys: WithoutKeys::Refuse,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events: MAX_EVENTS_PER_REQUEST,
            allow_clerk_events: false,
        }
    }
}

impl EventApiConfig {
    /// No key yet (so every request is refused until keys are given or
    /// [`EventApiConfig::accept_any_key`] is called), with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts only these keys.
    #[must_use]
    pub fn with_event_keys<I>(mut self, keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.event_keys = keys.into_iter().map(Into::into).filter(|k: &String| !k.is_empty()).collect();
        self
    }

    /// Without configured keys, accepts any key: only for a development server on loopback.
    #[must_use]
    pub fn accept_any_key(mut self) -> Self {
        self.without_keys = WithoutKeys::AnyKey;
        self
    }

    /// Accepts `clerk/*` events too (tests, imports of past events).
    #[must_use]
    pub fn allow_clerk_events(mut self) -> Self {
        self.allow_clerk_events = true;
        self
    }

    /// Changes the body limit.
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Changes the largest number of events per request.
    #[must_use]
    pub fn with_max_events(mut self, limit: usize) -> Self {
        self.max_events = limit;
        self
    }
}

/// The event API endpoint.
#[derive(Clone)]
pub struct EventApi {
    /// SHA-256 of each key: comparing digests in constant time hides the keys' lengths too.
    key_digests: Arc<[[u8; 32]]>,
    without_keys: WithoutKeys,
    max_body_bytes: usize,
    max_events: usize,
    allow_clerk_events: bool,
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for EventApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventApi")
            .field("event_keys", &self.key_digests.len())
            .field("without_keys", &self.without_keys)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_events", &self.max_events)
            .finish_non_exhaustive()
    }
}

impl EventApi {
    /// An endpoint committing to `sink`.
    pub fn new(config: EventApiConfig, sink: Arc<dyn EventSink>) -> Self {
        let key_digests = config.event_keys.iter().map(|k| digest(k)).collect();
        EventApi {
            key_digests,
            without_keys: config.without_keys,
            max_body_bytes: config.max_body_bytes,
            max_events: config.max_events,
            allow_clerk_events: config.allow_clerk_events,
            sink,
        }
    }

    /// A router serving `POST /e/{key}`.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new().route(PATH, post(handle)).with_state(self)
    }

    /// Whether `key` may send events.
    pub fn accepts_key(&self, key: &str) -> bool {
        self.check_key(key).is_ok()
    }

    fn check_key(&self, key: &str) -> Result<(), IngressError> {
        if self.key_digests.is_empty() {
            return match self.without_keys {
                WithoutKeys::AnyKey => Ok(()),
                WithoutKeys::Refuse => Err(IngressError::EventApiClosed),
            };
        }
        let candidate = digest(key);
        let mut found = subtle::Choice::from(0);
        for known in self.key_digests.iter() {
            found |= known.ct_eq(&candidate);
        }
        if bool::from(found) {
            Ok(())
        } else {
            Err(IngressError::UnknownEventKey)
        }
    }

    /// Handles one request: read, check the key, validate, commit, and return the ids.
    pub async fn receive(&self, key: &str, request: Request) -> Result<Vec<String>, IngressError> {
        Ok(self.receive_receipt(key, request).await?.ids)
    }

    /// [`EventApi::receive`], returning also the functions that skipped the events, and why.
    pub async fn receive_receipt(&self, key: &str, request: Request) -> Result<SendReceipt, IngressError> {
        let (parts, body) = request.into_parts();
        // The body is read before the key is checked: answering without reading it would make
        // the kernel reset the connection, and the client would not see the 401.
        let body = read_body(body, &parts.headers, self.max_body_bytes).await?;
        self.check_key(key)?;
        let events = parse_events(&body, self.max_events).map_err(IngressError::Malformed)?;
        if !self.allow_clerk_events {
            if let Some((i, event)) = events.iter().enumerate().find(|(_, e)| e.name.starts_with("clerk/")) {
                let which = if events.len() > 1 {
                    format!("event #{i} (`{}`)", event.name)
                } else {
                    format!("`{}`", event.name)
                };
                return Err(IngressError::Malformed(format!(
                    "{which}: `clerk/*` events are accepted only from Clerk's signed webhook (`POST {}`), so that \
                     an unsigned request cannot fake one; send it with `hookflow clerk send`, or let this app \
                     take them here with `App::allow_clerk_events_from_event_api`",
                    super::clerk::DEFAULT_PATH
                )));
            }
        }
        if events.is_empty() {
            return Ok(SendReceipt::default());
        }
        Ok(self.sink.accept_receipt(events, EventSource::Api).await?)
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

async fn handle(State(api): State<EventApi>, Path(key): Path<String>, request: Request) -> Response {
    match api.receive_receipt(&key, request).await {
        Ok(receipt) => receipt_response(receipt),
        Err(error) => error.into_response(),
    }
}

/// Inngest's answer, `{"ids": [...], "status": 200}`, with (beyond Inngest, and only when there
/// are some) `skipped`: the functions that will not run for these events, `[{"function_id", "event_id", "reason":
/// {"kind": "rate_limit" | "idempotency" | "singleton", ...}, "message", "at"}]`; and
/// `windowed`: the debounce windows and batches they went into, `[{"function_id", "event_id",
/// "run_id", "key", "at"}]` (the run starts when its window closes).
fn receipt_response(receipt: SendReceipt) -> Response {
    let skipped: Vec<Value> = receipt
        .skipped
        .iter()
        .map(|s| {
            serde_json::json!({
                "function_id": s.function_id,
                "event_id": s.event_id,
                "reason": s.reason,
                "message": s.reason.to_string(),
                "at": s.at,
            })
        })
        .collect();
    let mut body = serde_json::json!({ "ids": receipt.ids, "status": 200 });
    if !skipped.is_empty() {
        body["skipped"] = Value::Array(skipped);
    }
    if !receipt.windowed.is_empty() {
        body["windowed"] = serde_json::json!(receipt.windowed);
    }
    (axum::http::StatusCode::OK, axum::Json(body)).into_response()
}

const SHAPE: &str = r#"send one event {"name": "app/user.signup", "data": {...}} or an array of them"#;

/// Parses and checks a body of one event or an array of at most `max_events` events: each
/// event has Inngest's shape and follows the [event rules](crate::event_rules).
pub(crate) fn parse_events(body: &[u8], max_events: usize) -> Result<Vec<RawEvent>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON ({e}): {SHAPE}"))?;
    match value {
        Value::Object(event) => Ok(vec![parse_event(event, None)?]),
        Value::Array(events) if events.len() > max_events => Err(format!(
            "the body holds {} events, more than the {max_events} one request may carry: send them in several \
             requests",
            events.len()
        )),
        Value::Array(events) => events
            .into_iter()
            .enumerate()
            .map(|(i, event)| match event {
                Value::Object(event) => parse_event(event, Some(i)),
                other => Err(format!("event #{i} is {}, not an object: {SHAPE}", json_kind(&other))),
            })
            .collect(),
        other => Err(format!("the body is {}, not an event object or an array of events: {SHAPE}", json_kind(&other))),
    }
}

fn parse_event(mut event: Map<String, Value>, index: Option<usize>) -> Result<RawEvent, String> {
    let which = |name: Option<&str>| match (index, name) {
        (Some(i), Some(n)) => format!("event #{i} (`{n}`)"),
        (Some(i), None) => format!("event #{i}"),
        (None, Some(n)) => format!("the event `{n}`"),
        (None, None) => "the event".to_owned(),
    };
    // The JSON kinds are checked here; what the values may be, by the event rules below.
    let name = match event.remove("name") {
        Some(Value::String(n)) => n,
        Some(other) => {
            return Err(format!("{}'s `name` must be a string, got {}: {SHAPE}", which(None), json_kind(&other)))
        }
        None => return Err(format!("{} has no `name`: {SHAPE}", which(None))),
    };
    let id = match event.remove("id") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(id)) => id,
        Some(other) => {
            return Err(format!("{}'s `id` must be a string, got {}", which(Some(&name)), json_kind(&other)));
        }
    };
    let ts = match event.remove("ts") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            format!(
                "{}'s `ts` must be a whole number of milliseconds since the Unix epoch, got {n}",
                which(Some(&name))
            )
        })?,
        Some(other) => {
            return Err(format!(
                "{}'s `ts` must be a number of milliseconds, got {}",
                which(Some(&name)),
                json_kind(&other)
            ))
        }
    };
    let user = match event.remove("user") {
        None | Some(Value::Null) => None,
        Some(user @ Value::Object(_)) => Some(user),
        Some(other) => {
            return Err(format!("{}'s `user` must be an object, got {}", which(Some(&name)), json_kind(&other)));
        }
    };
    let data = Payload::from(event.remove("data").unwrap_or(Value::Null));
    let mut raw = RawEvent { name, data, id, ts, user };
    event_rules::check(&mut raw, EventSource::Api).map_err(|e| {
        // The name is repeated only when it is not what is wrong.
        let name_ok = event_rules::check_name(&raw.name, EventSource::Api).is_ok();
        format!("{}: {e}", which(name_ok.then_some(raw.name.as_str())))
    })?;
    Ok(raw)
}
