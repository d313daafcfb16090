//! The serve handler: this app's functions served to an Inngest server over the SDK protocol,
//! at one URL (`/api/inngest` by default) where the method says the intent.
//!
//! - `GET`: introspection (in cloud mode only to a signed request: others get a 401);
//! - `PUT`: sync, by registering the functions with the server (`POST /fn/register`), or, when
//!   the server asks for it (`X-Inngest-Sync-Kind: in_band`, signed in cloud mode), by answering
//!   with them, signed, for the server to register itself (Inngest Cloud and its conformance
//!   runner sync this way);
//! - `POST`: a call request, or the trust probe (`?probe=trust`).
//!
//! A call request runs the function through the same replay core as the engine, with
//! `ServeHost` behind its steps: memoized steps are answered from the request's `steps`, one
//! new `step.run` found alone executes, several found together (a `tokio::join!`) are planned,
//! and a targeted request executes only its step. The pass's report becomes the answer in
//! `respond`. In cloud mode every request is verified (`X-Inngest-Signature`,
//! primary then fallback key) and every answer to a verified request is signed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use super::client::{InngestClient, SendFailure};
use super::config::{InngestConfig, Mode};
use super::functions::{composite_id, to_config};
use super::headers;
use super::respond::{self, Answer};
use super::signing::{self, SignatureError, SigningKey};
use super::wire::{memo_from_wire, CallRequest, DISCOVERY_STEP};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::event::RawEvent;
use crate::exec::local;
use crate::function::{Executor, FunctionSpec};
use crate::invocation::State;
use crate::model::{EventSource, Millis};
use crate::registry::{FunctionConflict, Functions, Registry};
use crate::replay::{Admission, AfterStep, HostFuture, Journal, Op, PassInput, StepHost, StepMeta};
use crate::webhook::sink::{EventSink, SinkError};

/// The largest call request taken (the server switches to `use_api` above 4 MiB).
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The introspection schema this handler answers with.
const SCHEMA_VERSION: &str = "2024-05-24";

/// Serves an app's functions to an Inngest server. Cheap to clone.
#[derive(Clone)]
pub struct ServeHandler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ServeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeHandler").field("app_id", &self.inner.app_id).finish_non_exhaustive()
    }
}

struct Inner {
    app_id: String,
    client: InngestClient,
    functions: Functions,
    state: Arc<State>,
    clock: Arc<dyn Clock>,
}

impl ServeHandler {
    /// Serves the functions of `registry` (and their `on_failure` handlers) as app `app_id`.
    pub fn new(
        app_id: impl Into<String>,
        config: InngestConfig,
        registry: &Registry,
        state: State,
    ) -> Result<ServeHandler, FunctionConflict> {
        Ok(ServeHandler {
            inner: Arc::new(Inner {
                app_id: app_id.into(),
                client: InngestClient::new(config),
                functions: Functions::from_registry(registry)?,
                state: Arc::new(state),
                clock: Arc::new(SystemClock),
            }),
        })
    }

    /// Uses another clock (tests: signatures and step times are taken from it).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> ServeHandler {
        let inner = Inner {
            app_id: self.inner.app_id.clone(),
            client: self.inner.client.clone(),
            functions: self.inner.functions.clone(),
            state: self.inner.state.clone(),
            clock,
        };
        ServeHandler { inner: Arc::new(inner) }
    }

    /// The configuration.
    pub fn config(&self) -> &InngestConfig {
        self.inner.client.config()
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The router: every method on the serve path (`/api/inngest` unless configured).
    pub fn router(&self) -> Router {
        Router::new().route(&self.config().serve_path, any(handle)).with_state(self.inner.clone())
    }

    /// The ids of the functions served (as written in `#[inngest_fn(id = ...)]`; the server
    /// knows them prefixed with the app id).
    pub fn function_ids(&self) -> Vec<String> {
        self.inner.functions.iter().map(|spec| spec.id.clone()).collect()
    }

    /// The functions as the server registers them, served at `serve_url`.
    pub fn configs(&self, serve_url: &str) -> Vec<Value> {
        self.inner.functions.iter().map(|spec| to_config(spec, &self.inner.app_id, serve_url)).collect()
    }

    /// Registers the functions with the server, served at `serve_url` (the public URL of the
    /// serve path); answers whether the server saw a change.
    pub async fn sync(&self, serve_url: &str) -> Result<bool, super::client::ClientError> {
        self.inner.sync(serve_url, None, None).await
    }

    /// Sends events to the server's event API; answers their ids.
    pub async fn send(&self, events: Vec<RawEvent>) -> Result<Vec<String>, Error> {
        self.inner.client.send(&events).await.map_err(|e| match e {
            SendFailure::Rejected(m) => Error::non_retriable(m),
            SendFailure::Unavailable(m) => Error::msg(m),
        })
    }
}

impl EventSink for ServeHandler {
    fn accept(
        &self,
        events: Vec<RawEvent>,
        _source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<Vec<String>, SinkError>> {
        Box::pin(async move {
            self.inner.client.send(&events).await.map_err(|e| match e {
                SendFailure::Rejected(m) => SinkError::Rejected(m),
                SendFailure::Unavailable(m) => SinkError::Unavailable(m),
            })
        })
    }
}

/// How a request was authenticated.
enum Auth {
    /// Dev mode: nothing is verified.
    Dev,
    /// Verified with this key (answers are signed with it).
    Verified(SigningKey),
    /// Cloud mode and the signature did not check out.
    Refused(SignatureError),
}

/// An answer and the key to sign it with.
struct Reply {
    answer: Answer,
    sign: Option<SigningKey>,
}

impl Inner {
    fn config(&self) -> &InngestConfig {
        self.client.config()
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_ms().div_euclid(1000)
    }

    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> Auth {
        if self.config().mode == Mode::Dev {
            return Auth::Dev;
        }
        let header = headers.get(headers::SIGNATURE).and_then(|v| v.to_str().ok());
        match signing::verify(header, body, self.now_secs(), self.config().keys()) {
            Ok(key) => Auth::Verified(key.clone()),
            Err(e) => Auth::Refused(e),
        }
    }

    /// The composite id of a function of this app, or `id` as given for another app's.
    fn server_id(&self, id: &str) -> String {
        match self.functions.get(id) {
            Some(_) => composite_id(&self.app_id, id),
            None => id.to_owned(),
        }
    }

    /// A function by the id the server calls it with (composite, or bare as Go SDKs accept).
    fn function(&self, fn_id: &str) -> Option<&Arc<FunctionSpec>> {
        let prefix = format!("{}-", self.app_id);
        fn_id.strip_prefix(&prefix).and_then(|id| self.functions.get(id)).or_else(|| self.functions.get(fn_id))
    }

    async fn sync(
        &self,
        serve_url: &str,
        deploy_id: Option<&str>,
        kind: Option<&str>,
    ) -> Result<bool, super::client::ClientError> {
        let functions: Vec<Value> = self.functions.iter().map(|s| to_config(s, &self.app_id, serve_url)).collect();
        let body = json!({
            "url": serve_url,
            "deployType": "ping",
            "appName": self.app_id,
            "sdk": registered_sdk(),
            "v": "0.1",
            "framework": headers::FRAMEWORK_NAME,
            "functions": functions,
            "capabilities": self.capabilities(),
        });
        self.client.register(&body, deploy_id, kind).await
    }

    /// What this handler can do besides the basics, as introspection and sync say it.
    fn capabilities(&self) -> Value {
        match self.config().allow_in_band_sync {
            true => json!({ "trust_probe": "v1", "in_band_sync": "v1" }),
            false => json!({ "trust_probe": "v1" }),
        }
    }

    fn introspection(&self, auth: &Auth) -> Value {
        let config = self.config();
        let mut body = json!({
            "schema_version": SCHEMA_VERSION,
            "mode": config.mode.as_str(),
            "authentication_succeeded": match auth {
                Auth::Dev => Value::Null,
                Auth::Verified(_) => json!(true),
                Auth::Refused(_) => json!(false),
            },
            "function_count": self.functions.len(),
            "has_event_key": config.event_key.is_some(),
            "has_signing_key": config.signing_key.is_some(),
            "has_signing_key_fallback": config.signing_key_fallback.is_some(),
        });
        if let Auth::Verified(_) = auth {
            let extra = json!({
                "api_origin": config.api_origin,
                "event_api_origin": config.event_origin,
                "app_id": self.app_id,
                "env": config.env,
                "framework": headers::FRAMEWORK_NAME,
                "sdk_language": headers::SDK_LANGUAGE,
                "sdk_version": headers::SDK_VERSION,
                "serve_origin": config.serve_origin,
                "serve_path": config.serve_path,
                "event_key_hash": config.event_key.as_deref().map(signing::event_key_hash),
                "signing_key_hash": config.signing_key.as_ref().map(SigningKey::bearer),
                "signing_key_fallback_hash": config.signing_key_fallback.as_ref().map(SigningKey::bearer),
                "capabilities": self.capabilities(),
            });
            if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
                body.extend(extra);
            }
        }
        body
    }
}

fn query(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| crate::guard::percent_decode(v))
    })
}

fn bad_request(message: impl Into<String>) -> Answer {
    let message = message.into();
    Answer::json(StatusCode::BAD_REQUEST, json!({ "error": message, "status": 400 }))
}

async fn handle(
    AxumState(inner): AxumState<Arc<Inner>>,
    method: Method,
    uri: Uri,
    request_headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match crate::webhook::read_body(body, &request_headers, BODY_LIMIT).await {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let auth = inner.authenticate(&request_headers, &body);
    let in_band = method == Method::PUT
        && inner.config().allow_in_band_sync
        && request_headers.get(headers::SYNC_KIND).is_some_and(|v| v.as_bytes() == b"in_band");
    if let Auth::Refused(why) = &auth {
        // A GET in cloud mode, signed or not, must not tell strangers about the app; nor may
        // an in-band sync, whose answer is the whole configuration.
        let refuse = method != Method::PUT
            || in_band
            || !inner.config().allow_unsigned_sync
            || request_headers.contains_key(headers::SIGNATURE);
        if refuse {
            tracing::warn!(method = %method, error = %why, "refused an unauthenticated Inngest request");
            return unauthorized();
        }
    }
    let sign = match &auth {
        Auth::Verified(key) => Some(key.clone()),
        _ => None,
    };
    let answer = match method {
        Method::GET => Answer::json(StatusCode::OK, inner.introspection(&auth)),
        Method::PUT if in_band => in_band_sync(&inner, &auth, &request_headers, &body),
        Method::PUT => put(&inner, &uri, &request_headers, &body).await,
        Method::POST => match query(&uri, "probe") {
            Some(probe) if probe == "trust" => Answer::json(StatusCode::OK, json!({})),
            Some(probe) => bad_request(format!("unknown probe `{probe}`: this SDK answers `probe=trust` only")),
            None => call(&inner, &uri, &body).await,
        },
        _ => Answer {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: json!({ "error": format!("{method} is not a method of the Inngest serve endpoint: use GET, PUT or POST"), "status": 405 }),
            headers: Vec::new(),
        },
    };
    finish(Reply { answer, sign }, inner.now_secs())
}

/// The SDK as registrations name it (`rust:v<version>`, beside JS's `js:v…`).
fn registered_sdk() -> String {
    format!("{}:v{}", headers::SDK_LANGUAGE, headers::SDK_VERSION)
}

/// The 401 answer: it says nothing about the SDK.
fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(json!({ "message": "Unauthorized" }))).into_response();
    response.headers_mut().insert(headers::SDK_HANDLED, HeaderValue::from_static("true"));
    response
}

fn finish(reply: Reply, now_secs: i64) -> Response {
    let Reply { answer, sign } = reply;
    let bytes = answer.body.to_string().into_bytes();
    let mut response = Response::new(Body::from(bytes.clone()));
    *response.status_mut() = answer.status;
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            h.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE.as_str(), "application/json");
    set(headers::SDK, &headers::sdk());
    set(header::USER_AGENT.as_str(), &headers::sdk());
    set(headers::REQ_VERSION, &super::wire::REQUEST_VERSION.to_string());
    set(headers::SDK_HANDLED, "true");
    set(headers::FRAMEWORK, headers::FRAMEWORK_NAME);
    for (name, value) in &answer.headers {
        set(name, value);
    }
    if let Some(key) = sign {
        set(headers::SIGNATURE, &key.sign(&bytes, now_secs));
    }
    response
}

/// The public URL of the serve path: the configured origin, else the one the request came to.
fn serve_url(inner: &Inner, headers: &HeaderMap) -> String {
    let config = inner.config();
    let origin = config.serve_origin.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
        format!("{proto}://{host}")
    });
    format!("{origin}{}", config.serve_path)
}

/// The URL to advertise at sync: the one the server says it reached the app at (`{"url"}` of
/// the sync request, without its query), unless an origin is configured; else the request's.
fn advertised_url(inner: &Inner, headers: &HeaderMap, reached: Option<&str>) -> String {
    match (&inner.config().serve_origin, reached) {
        (None, Some(url)) if url.starts_with("http") => url.split('?').next().unwrap_or(url).to_owned(),
        _ => serve_url(inner, headers),
    }
}

/// An in-band sync: the functions are the answer (signed by `finish` when the request was
/// verified), and the server registers them itself.
fn in_band_sync(inner: &Inner, auth: &Auth, headers: &HeaderMap, body: &[u8]) -> Answer {
    let reached = serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("url")?.as_str().map(str::to_owned));
    let Some(reached) = reached.filter(|url| url.starts_with("http://") || url.starts_with("https://")) else {
        return bad_request(
            "an in-band sync request needs a JSON body {\"url\": \"<the URL the server reached this app at>\"}",
        );
    };
    let url = advertised_url(inner, headers, Some(&reached));
    let config = inner.config();
    let mut answer = Answer::json(
        StatusCode::OK,
        json!({
            "app_id": inner.app_id,
            "capabilities": inner.capabilities(),
            "env": config.env,
            "framework": headers::FRAMEWORK_NAME,
            "functions": inner.functions.iter().map(|s| to_config(s, &inner.app_id, &url)).collect::<Vec<_>>(),
            "inspection": inner.introspection(auth),
            "platform": Value::Null,
            "sdk_author": headers::SDK_NAME,
            "sdk_language": headers::SDK_LANGUAGE,
            "sdk_version": headers::SDK_VERSION,
            "sdk": registered_sdk(),
            "url": url,
        }),
    );
    answer.headers.push((headers::SYNC_KIND, "in_band".into()));
    answer
}

async fn put(inner: &Inner, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
    let reached = serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("url")?.as_str().map(str::to_owned));
    let url = advertised_url(inner, headers, reached.as_deref());
    let deploy_id = query(uri, "deployId");
    let kind = headers.get(headers::SERVER_KIND).and_then(|v| v.to_str().ok());
    let mut answer = match inner.sync(&url, deploy_id.as_deref(), kind).await {
        Ok(modified) => {
            Answer::json(StatusCode::OK, json!({ "message": "Successfully synced.", "modified": modified }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "sync with the Inngest server failed");
            Answer::json(StatusCode::INTERNAL_SERVER_ERROR, json!({ "message": e.0, "modified": false }))
        }
    };
    answer.headers.push((headers::SYNC_KIND, "out_of_band".into()));
    answer
}

async fn call(inner: &Inner, uri: &Uri, body: &[u8]) -> Answer {
    let Some(fn_id) = query(uri, "fnId") else {
        return bad_request(
            "the call request has no `fnId` query parameter: the server calls the step URL it was given at sync",
        );
    };
    let Some(spec) = inner.function(&fn_id).cloned() else {
        let known: Vec<String> = inner.functions.iter().map(|s| composite_id(&inner.app_id, &s.id)).collect();
        return Answer {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "error": format!("no function `{fn_id}` in app `{}` (it has {}): sync the app again", inner.app_id, known.join(", ")),
                "status": 404,
            }),
            headers: vec![(headers::NO_RETRY, "false".into())],
        };
    };
    let Executor::Local(handler) = spec.executor else {
        return bad_request(format!("function `{fn_id}` is not served by this app"));
    };
    let mut request: CallRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(format!(
                "the call request body is not a call request ({e}): it needs `ctx`, `event` and `steps`"
            ))
        }
    };
    if request.ctx.use_api || request.use_api {
        match inner.client.run_state(&request.ctx.run_id).await {
            Ok((events, steps)) => {
                request.event = events.first().cloned().unwrap_or(Value::Null);
                request.events = events;
                request.steps = steps;
            }
            Err(e) => {
                return Answer::json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "name": "Error", "message": format!("could not load the run's state from the Inngest API: {e}") }),
                )
            }
        }
    }
    let raw_events = if request.events.is_empty() { vec![request.event.clone()] } else { request.events.clone() };
    let mut events = Vec::with_capacity(raw_events.len());
    for (i, event) in raw_events.into_iter().enumerate() {
        match serde_json::from_value::<RawEvent>(event) {
            Ok(event) => events.push(event),
            Err(e) => return bad_request(format!("event {i} of the call request is not an event ({e})")),
        }
    }
    let ctx = &request.ctx;
    let target = Some(ctx.step_id.as_str()).filter(|s| !s.is_empty() && *s != DISCOVERY_STEP).map(str::to_owned);
    let max_attempts = ctx.max_attempts.unwrap_or_else(|| spec.max_attempts()).max(1);
    let journal = journal(&request);
    let input = PassInput {
        run_id: ctx.run_id.clone(),
        journal,
        pending: Vec::new(),
        attempts: BTreeMap::new(),
        started: BTreeMap::new(),
        base_attempt: ctx.attempt,
    };
    let host = Arc::new(ServeHost {
        clock: inner.clock.clone(),
        target: target.clone(),
        plan: ctx.disable_immediate_execution,
        max_attempts,
        client: inner.client.clone(),
    });
    let run = local::Call {
        handler,
        function_id: Arc::from(spec.id.as_str()),
        engine: 0,
        attempt: ctx.attempt,
        events: Arc::from(events),
        state: inner.state.clone(),
    };
    let report = local::run(run, input, host).await;
    let invoked = |id: &str| inner.server_id(id);
    respond::answer(
        &report,
        &respond::Request { target: target.as_deref(), attempt: ctx.attempt, max_attempts, invoked: &invoked },
    )
}

/// The request's memoized steps, in the order they completed (`ctx.stack`), then the rest.
fn journal(request: &CallRequest) -> Journal {
    let ordered = request.ctx.stack.stack.iter().filter(|h| request.steps.contains_key(*h));
    let rest = request.steps.keys().filter(|h| !request.ctx.stack.stack.contains(h));
    Journal::from_entries(
        ordered
            .chain(rest)
            .filter_map(|hash| memo_from_wire(&request.steps[hash.as_str()]).map(|memo| (hash.clone(), memo))),
    )
}

/// The host behind a call request's pass: it executes at most one step and then stops.
pub(crate) struct ServeHost {
    clock: Arc<dyn Clock>,
    /// The step a targeted request executes.
    target: Option<String>,
    /// `disable_immediate_execution`: plan every new step.
    plan: bool,
    max_attempts: u32,
    client: InngestClient,
}

impl StepHost for ServeHost {
    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    fn cancelled(&self) -> bool {
        // The server does not call a cancelled run.
        false
    }

    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    fn admit(&self, found: &[StepMeta]) -> Vec<Admission> {
        match &self.target {
            Some(target) => {
                found.iter().map(|m| if &m.id == target { Admission::Execute } else { Admission::Skip }).collect()
            }
            None if self.plan || found.len() > 1 => vec![Admission::Plan; found.len()],
            None => vec![Admission::Execute],
        }
    }

    fn recorded(&self, _op: &Op) -> AfterStep {
        // One executed step per request: the server memoizes it and calls again.
        AfterStep::Stop
    }

    fn send(&self, events: Vec<RawEvent>) -> HostFuture<Result<Vec<String>, Error>> {
        let client = self.client.clone();
        Box::pin(async move {
            client.send(&events).await.map_err(|e| match e {
                SendFailure::Rejected(m) => Error::non_retriable(m),
                SendFailure::Unavailable(m) => Error::msg(m),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let uri: Uri = "/api/inngest?fnId=app-a%20b&stepId=step&x".parse().expect("uri");
        assert_eq!(query(&uri, "fnId").as_deref(), Some("app-a b"));
        assert_eq!(query(&uri, "stepId").as_deref(), Some("step"));
        assert_eq!(query(&uri, "x").as_deref(), Some(""));
        assert_eq!(query(&uri, "nope"), None);
    }
}
