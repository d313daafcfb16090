//! The dev server's web UI and its JSON APIs.
//!
//! [`router`] serves a small single-page app at `/` (runs, run detail with a step timeline,
//! events, event detail with Replay, Edit & Replay and Send to dev server, Send event,
//! functions), the JSON API it
//! uses under `/api/v1`, and an Inngest-compatible REST API under `/v1`. Every asset is embedded
//! in the binary: no CDN, works offline. Live views are pushed over server-sent events from
//! [`Engine::subscribe`]; nothing polls.
//!
//! # Security
//!
//! With [`DevUiConfig::token`] set, every request needs `Authorization: Bearer <token>` (the
//! scheme in any case) or the `hookflow_token` cookie, which visiting any page with
//! `?token=<token>` sets (HttpOnly, SameSite=Strict); otherwise the answer is 401. Without a
//! token the server must be bound to a loopback address, and requests whose `Host` is a domain
//! name other than `localhost` are refused (403), so a web page cannot reach the UI through DNS
//! rebinding. In both cases a state-changing request sent by a browser from another origin is
//! refused (403), except on `POST /api/v1/import` from an origin the server was told to trust. The same guard covers the whole port when an [`App`](crate::App) serves the
//! UI beside its webhooks and event API (see the README's security section). A handler that
//! panics is answered with a 500 in the error shape, never a dropped connection.
//!
//! # `/api/v1` (the UI's API)
//!
//! Times are milliseconds since the Unix epoch; `now` in answers is the engine's clock. Lists
//! are newest first and page with `before=<next_cursor>`. Errors are
//! `{"error": "...", "status": N}`.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/api/v1/info` | app id, version, event key and paths for the cURL line, known event names |
//! | GET | `/api/v1/runs` | runs; `function`, `status` (repeat or comma-separate), `event`, `since`, `until` (ms or RFC 3339), `last` (`15m`, `1h`, `7d`), `q` (text in function, output, error, trigger event name or payload), `before`, `limit` (≤ 200) → `{runs, next_cursor, now}` |
//! | GET | `/api/v1/runs/{id}` | run detail: `{run, events, steps, pending, children, now}` with output/error, `retrying` (sleeping only in a step's retry back-off) and `cancellation` (`{by: {kind: event, event_id, event_name} \| {kind: request, via: ui \| api \| code} \| {kind: timeout, which}, at}`); each step's output/error, `attempt_log` (every attempt's time, duration, status and error), for waits `waited_for` and `resumed_by` (`event` with its id, `run`, `timeout`), `copied_from` for steps a rerun reused; and what a suspended run waits on (sleep until, event + expression, retry at + last error, invoked run, each with `since`), kept for a cancelled run as where it stopped |
//! | POST | `/api/v1/runs/{id}/cancel` | cancels (recorded as by the UI) → `{cancelled}`; 409 when the run has ended |
//! | POST | `/api/v1/runs/{id}/rerun` | new run of the same function and events; body `{"from_step": "<hashed step id>"}` (optional) re-executes from that step with the earlier steps' recorded results → `{run_id}` |
//! | GET | `/api/v1/events` | events with the runs each triggered; `name`, `q` (text in name or payload), `internal=true` (include `inngest/*`), `since`, `until`, `last`, `before`, `limit` → `{events, next_cursor, now}` |
//! | POST | `/api/v1/events` | sends one event `{"name", "data", "id"?, "ts"?, "user"?}` or an array → `{ids}` |
//! | GET | `/api/v1/events/{id}` | `{event, runs, cancelled, skipped, now}`: payload, its runs, the runs it cancelled (`cancel_on`), and functions listening to its name without a run, with the reason when known |
//! | POST | `/api/v1/events/{id}/replay` | replays under a new id; a non-empty body is the edited `data` (JSON; 400 with the parse error) → `{event_id}` |
//! | POST | `/api/v1/import` | events copied from another server (`hookflow events pull`, or a deployed UI's "Send to dev server"), kept with their ids and times (source `import`); every event needs `id` and `ts` (400 otherwise) → `{imported, known}` (ids; a known id is not imported again). The one route that pages of trusted origins (`App::trusted_origins`, `HOOKFLOW_TRUSTED_ORIGINS`, `hookflow dev --trust-origin`) may post to across origins, with CORS |
//! | GET | `/api/v1/functions` | `{functions}`: id, name, triggers, options, run counts per status over the last 1000 runs |
//! | GET | `/api/v1/functions/{id}` | `{function, runs, sample}`: one function, its recent runs and a sample payload for its first trigger |
//! | POST | `/api/v1/functions/{id}/invoke` | sends an event named after the function's first event trigger; the body is its `data` (JSON, default `{}`) → `{event_id, event_name, run_ids}` |
//! | GET | `/api/v1/templates` | the Clerk event catalogue (type, event name, description) |
//! | GET | `/api/v1/templates/{clerk_type}` | `{clerk_type, event_name, data}`: the sample payload of one Clerk event type |
//! | GET | `/api/v1/apps` | `hookflow dev` (feature `protocol`): the Inngest SDK apps it synced or was asked to → `{apps, now}`, each `{id, name, url, sdk, sdk_language, sdk_version, functions, synced_at, error}` |
//! | POST | `/api/v1/apps/{id}/resync` | asks the app to sync again → `{app}`; 502 with the reason when it did not; 404 for an unknown id, 400 for a malformed one (16 hex digits) |
//! | GET | `/api/v1/stream` | server-sent events: `event` (`{id, name}`), `run` (`{id, function_id, status}`), `resync` (changes were dropped: reload), a `: keep-alive` comment every 15 s |
//!
//! # `/v1` (Inngest's REST API, as the dev server serves it)
//!
//! Bodies are `{"data": ..., "metadata": {"fetched_at": ..., "cached_until": null}}`. Run
//! `status` is Inngest's (`Running`, `Completed`, `Failed`, `Cancelled`; queued, sleeping and
//! waiting runs are `Running`), hookflow's own is in `hookflow_status`.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/events` | `name`, `received_after`, `received_before` (RFC 3339 or ms), `limit` (default 20, ≤ 100), `cursor` |
//! | GET | `/v1/events/{id}` | one event |
//! | GET | `/v1/events/{id}/runs` | the runs it triggered |
//! | GET | `/v1/runs/{id}` | one run: `run_id`, `function_id`, `event_id`, `status`, `output`, `run_started_at`, `ended_at`, `hookflow_cancellation`, ... |
//! | DELETE | `/v1/runs/{id}` | cancels a run (recorded as by the REST API) |
//!
//! # The UI
//!
//! Client-side routes keep their state in the URL: `/runs?function=..&status=..&q=..&last=..`,
//! `/runs/{id}`, `/events?q=..&internal=true`, `/events/{id}`, `/functions`, `/functions/{id}`,
//! `/send`. Payloads are rendered as text, never as HTML.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::engine::{Engine, SendError};
use crate::expr::Exprs;
use crate::store::StoreError;

mod api;
mod compat;
mod live;

/// How the dev UI is set up.
#[derive(Clone, Default)]
pub struct DevUiConfig {
    /// When set, every request must carry this token (see the module docs). Required when the
    /// server listens on a non-loopback address.
    pub token: Option<String>,
    /// The event key shown in the Send page's cURL line for `POST /e/{key}`; `None` shows
    /// `dev`, which a server on loopback without configured event keys accepts.
    pub event_key: Option<String>,
    /// Host names (without port) accepted besides `localhost` and IP addresses when no token
    /// is set, e.g. the name a reverse proxy on the same machine forwards.
    pub allowed_hosts: Vec<String>,
    /// When this turns `true`, live streams end, so that a graceful shutdown does not wait for
    /// open browser tabs.
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl std::fmt::Debug for DevUiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevUiConfig")
            .field("token", &self.token.as_ref().map(|_| "(redacted)"))
            .field("event_key", &self.event_key.as_ref().map(|_| "(redacted)"))
            .field("allowed_hosts", &self.allowed_hosts)
            .field("shutdown", &self.shutdown.is_some())
            .finish()
    }
}

impl DevUiConfig {
    /// No token, default event key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires this token on every request.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t: &String| !t.is_empty());
        self
    }

    /// The event key shown in the Send page's cURL line.
    #[must_use]
    pub fn with_event_key(mut self, key: impl Into<String>) -> Self {
        self.event_key = Some(key.into());
        self
    }

    /// Ends live streams when `shutdown` turns `true`.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }
}

/// The dev UI's shared state.
pub(crate) struct DevUi {
    pub(crate) engine: Engine,
    pub(crate) config: DevUiConfig,
    /// For the "skipped" reasons of an event's detail: trigger expressions evaluated again.
    pub(crate) exprs: Exprs,
}

pub(crate) type Shared = Arc<DevUi>;

impl DevUi {
    /// The store's answers to the UI's lists.
    pub(crate) fn queries(&self) -> Result<&dyn crate::store::Queries, ApiError> {
        self.engine.store().queries().ok_or_else(|| {
            ApiError::Unsupported(
                "this store does not answer the dev UI's lists; use the SQLite or memory store".into(),
            )
        })
    }
}

/// The web UI, `/api/v1`, `/v1` and the live stream, with the token check in front.
///
/// Merge it with the ingress routes: `router(engine, config).merge(webhooks)`. It has no
/// fallback, so merging never conflicts.
pub fn router(engine: Engine, config: DevUiConfig) -> Router {
    let guard = crate::guard::Guard {
        ui_token: config.token.clone(),
        allowed_hosts: config.allowed_hosts.clone(),
        dev_ui: true,
        ..crate::guard::Guard::default()
    };
    crate::guard::protect(routes(engine, config), guard)
}

/// The UI's routes without the guard, for a caller that puts one guard in front of the whole
/// port (an [`App`](crate::App)).
pub(crate) fn routes(engine: Engine, config: DevUiConfig) -> Router {
    let state: Shared = Arc::new(DevUi { engine, config, exprs: Exprs::default() });
    let mut pages = Router::new();
    for path in PAGES {
        pages = pages.route(path, get(index));
    }
    Router::new()
        .merge(pages)
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/assets/theme.js", get(theme_js))
        .route("/assets/favicon.svg", get(favicon))
        .nest("/api/v1", api::routes())
        .merge(compat::routes())
        .with_state(state)
}

/// The client-side routes: each serves the app, which renders the page from the URL.
const PAGES: [&str; 10] = [
    "/",
    "/runs",
    "/runs/{id}",
    "/events",
    "/events/{id}",
    "/functions",
    "/functions/{id}",
    "/send",
    "/apps",
    "/index.html",
];

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const THEME_JS: &str = include_str!("assets/theme.js");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// Only our own scripts and styles, no inline code, no framing: payloads are shown as text,
/// and this is the second line of defence if one ever is not. Requests go to this server and,
/// for "Send to dev server", to a dev server on this machine's loopback only.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' http://127.0.0.1:* http://localhost:*; form-action 'self'; base-uri 'none'; \
                   frame-ancestors 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The binary is the version: revalidate so a rebuilt app never runs stale scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn index() -> Response {
    let mut response = asset(INDEX_HTML, "text/html; charset=utf-8");
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

async fn theme_js() -> Response {
    asset(THEME_JS, "text/javascript; charset=utf-8")
}

async fn favicon() -> Response {
    asset(FAVICON, "image/svg+xml")
}

/// A dev UI request failed; answered as `{"error": "...", "status": N}`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Nothing with that id.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state (e.g. cancelling an ended run).
    #[error("{0}")]
    Conflict(String),
    /// What the request would send is larger than the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The store failed.
    #[error("the event store failed: {0}; try again")]
    Store(#[from] StoreError),
    /// The engine is shutting down.
    #[error("the engine is shutting down; try again once it has restarted")]
    ShuttingDown,
    /// The store cannot answer this.
    #[error("{0}")]
    Unsupported(String),
    /// The request body could not be taken: too large, too slow, or cut off.
    #[error(transparent)]
    Body(#[from] crate::webhook::IngressError),
}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Invalid { message, .. } => ApiError::BadRequest(message),
            SendError::Store(e) => ApiError::Store(e),
            SendError::ShuttingDown => ApiError::ShuttingDown,
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Store(_) | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Body(e) => e.status(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Body(error) = self {
            return error.into_response();
        }
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "dev UI request failed");
        }
        error_response(status, &self.to_string())
    }
}

/// The JSON error shape every dev UI endpoint answers with.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message, "status": status.as_u16() }))).into_response()
}
