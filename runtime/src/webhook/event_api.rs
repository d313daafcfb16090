//! `POST /e/{key}`: Inngest's event API. The body is one event or an array of events,
//! `{"name": "app/user.signup", "data": {...}, "id": "...", "ts": 1716883200000}`; the answer is
//! `{"ids": [...], "status": 200}` once they are committed, as Inngest answers.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{accepted, json_kind, read_body, EventSink, EventSource, IngressError};
use crate::RawEvent;

/// The route, in axum's syntax.
pub const PATH: &str = "/e/{key}";

/// The default body limit: 3 MiB, Inngest's largest request.
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How the event API is set up.
#[derive(Clone, PartialEq, Eq)]
pub struct EventApiConfig {
    /// The accepted event keys; empty accepts any key (development).
    pub event_keys: Vec<String>,
    /// Bodies larger than this are answered with 413. Default 3 MiB.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for EventApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventApiConfig")
            .field("event_keys", &format_args!("{} (redacted)", self.event_keys.len()))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for EventApiConfig {
    fn default() -> Self {
        EventApiConfig { event_keys: Vec::new(), max_body_bytes: DEFAULT_MAX_BODY_BYTES }
    }
}

impl EventApiConfig {
    /// Accepts any key (development), with the default body limit.
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

    /// Changes the body limit.
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }
}

/// The event API endpoint.
#[derive(Clone)]
pub struct EventApi {
    /// SHA-256 of each key: comparing digests in constant time hides the keys' lengths too.
    key_digests: Arc<[[u8; 32]]>,
    max_body_bytes: usize,
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for EventApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventApi")
            .field("event_keys", &self.key_digests.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl EventApi {
    /// An endpoint committing to `sink`.
    pub fn new(config: EventApiConfig, sink: Arc<dyn EventSink>) -> Self {
        let key_digests = config.event_keys.iter().map(|k| digest(k)).collect();
        EventApi { key_digests, max_body_bytes: config.max_body_bytes, sink }
    }

    /// A router serving `POST /e/{key}`.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new().route(PATH, post(handle)).with_state(self)
    }

    /// Whether `key` may send events.
    pub fn accepts_key(&self, key: &str) -> bool {
        if self.key_digests.is_empty() {
            return true;
        }
        let candidate = digest(key);
        let mut found = subtle::Choice::from(0);
        for known in self.key_digests.iter() {
            found |= known.ct_eq(&candidate);
        }
        found.into()
    }

    /// Handles one request: read, check the key, validate, commit, and return the ids.
    pub async fn receive(&self, key: &str, request: Request) -> Result<Vec<String>, IngressError> {
        let (parts, body) = request.into_parts();
        // The body is read before the key is checked: answering without reading it would make
        // the kernel reset the connection, and the client would not see the 401.
        let body = read_body(body, &parts.headers, self.max_body_bytes).await?;
        if !self.accepts_key(key) {
            return Err(IngressError::UnknownEventKey);
        }
        let events = parse_events(&body).map_err(IngressError::Malformed)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.sink.accept(events, EventSource::Api).await?)
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

async fn handle(State(api): State<EventApi>, Path(key): Path<String>, request: Request) -> Response {
    match api.receive(&key, request).await {
        Ok(ids) => accepted(ids),
        Err(error) => error.into_response(),
    }
}

const SHAPE: &str = r#"send one event {"name": "app/user.signup", "data": {...}} or an array of them"#;

/// Parses and validates a body of one event or an array of events.
pub(crate) fn parse_events(body: &[u8]) -> Result<Vec<RawEvent>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON ({e}): {SHAPE}"))?;
    match value {
        Value::Object(event) => Ok(vec![parse_event(event, None)?]),
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
    let name = match event.remove("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n,
        Some(Value::String(_)) => return Err(format!("{} has an empty `name`: {SHAPE}", which(None))),
        Some(other) => {
            return Err(format!("{}'s `name` must be a string, got {}: {SHAPE}", which(None), json_kind(&other)))
        }
        None => return Err(format!("{} has no `name`: {SHAPE}", which(None))),
    };
    let data = match event.remove("data") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(data @ Value::Object(_)) => data,
        Some(other) => {
            return Err(format!(
                "{}'s `data` must be an object, got {}: {SHAPE}",
                which(Some(&name)),
                json_kind(&other)
            ))
        }
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
        Some(Value::Number(n)) => match n.as_i64() {
            Some(ts) if ts >= 0 => ts,
            _ => {
                return Err(format!(
                    "{}'s `ts` must be a whole, non-negative number of milliseconds since the Unix epoch, got {n}",
                    which(Some(&name))
                ))
            }
        },
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
    Ok(RawEvent { name, data: data.into(), id, ts, user })
}
