//! The synced apps: hookflow's side of an Inngest sync. An app is asked to sync with a `PUT` to
//! its serve URL (as Inngest's dev server does); it answers by posting its functions to
//! `POST /fn/register`, where they become remote specs of the engine, a re-sync replacing the
//! app's functions whole. Each app's last sync and its error are kept for the dev UI, which
//! lists them (`GET /api/v1/apps`) and asks one to sync again (`POST /api/v1/apps/{id}/resync`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::checkpoint::bearer;
use super::Dispatcher;
use crate::engine::Engine;
use crate::model::Millis;
use crate::protocol::functions::from_config;
use crate::protocol::headers;

/// The largest registration taken.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// An app as last synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedApp {
    /// The app's id (`appName`).
    pub id: String,
    /// Its serve URL.
    pub url: String,
    /// Its SDK (`js:v4.24.0`).
    pub sdk: String,
    /// Its functions' ids (composite: `<app>-<fn>`).
    pub functions: Vec<String>,
    /// When it last synced (or tried to).
    pub synced_at: Millis,
    /// Why the last sync failed.
    pub error: Option<String>,
}

/// The synced apps of an engine. Cheap to clone.
#[derive(Clone)]
pub struct Apps {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Apps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apps").field("apps", &self.inner.apps.lock().len()).finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    /// By serve URL (an app failing to sync may not have said its id yet).
    apps: Mutex<BTreeMap<String, SyncedApp>>,
    /// The registration each app last sent, to answer `modified`.
    last: Mutex<BTreeMap<String, Value>>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (status, axum::Json(json!({ "error": message, "status": status.as_u16() }))).into_response()
}

impl Apps {
    /// The apps of `engine`, none synced yet.
    pub fn new(engine: Engine) -> Apps {
        Apps { inner: Arc::new(Inner { engine, apps: Mutex::default(), last: Mutex::default() }) }
    }

    fn dispatcher(&self) -> &Dispatcher {
        self.inner.engine.dispatcher()
    }

    /// `POST /fn/register`, the checkpoint API and the dev UI's apps API, to merge into the
    /// dev server's routes (behind its guard: the resync route is a state-changing dev UI route).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/fn/register", post(register))
            .route("/api/v1/apps", get(list))
            .route("/api/v1/apps/{id}/resync", post(resync))
            .with_state(self.clone())
            .merge(super::checkpoint::router(self.dispatcher().clone()))
    }

    /// The app with this id in the apps API ([`api_id`]).
    pub fn by_api_id(&self, id: &str) -> Option<SyncedApp> {
        self.inner.apps.lock().values().find(|a| api_id(&a.url) == id).cloned()
    }

    /// Every app, by URL.
    pub fn list(&self) -> Vec<SyncedApp> {
        self.inner.apps.lock().values().cloned().collect()
    }

    /// Asks the app at `url` to sync (`PUT`, as Inngest's dev server does); it answers by
    /// registering its functions. The error says why it did not.
    pub async fn sync(&self, url: &str) -> Result<(), String> {
        let result = self.put(url).await;
        if let Err(e) = &result {
            tracing::warn!(url, error = %e, "an Inngest SDK app did not sync");
            let now = self.inner.engine.clock().now_ms();
            let key = url.split('?').next().unwrap_or(url).to_owned();
            let mut apps = self.inner.apps.lock();
            let app = apps.entry(key.clone()).or_insert_with(|| SyncedApp {
                id: String::new(),
                url: key,
                sdk: String::new(),
                functions: Vec::new(),
                synced_at: now,
                error: None,
            });
            app.synced_at = now;
            app.error = Some(e.clone());
        }
        result
    }

    async fn put(&self, url: &str) -> Result<(), String> {
        let body = json!({ "url": url }).to_string();
        let keys = self.dispatcher().keys();
        let mut request = self
            .dispatcher()
            .http()
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(headers::SERVER_KIND, if keys.is_empty() { "dev" } else { "cloud" });
        if let Some(key) = keys.first() {
            // The app checks the timestamp against the wall clock (see `call`).
            let now = crate::clock::system_now_ms().div_euclid(1000);
            request = request.header(headers::SIGNATURE, key.sign(body.as_bytes(), now));
        }
        let response = request.body(body).send().await.map_err(|e| format!("could not reach {url}: {e}"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(());
        }
        let why =
            answer.get("message").or_else(|| answer.get("error")).and_then(Value::as_str).unwrap_or("no reason given");
        Err(format!("{url} answered the sync request with {status}: {why}"))
    }

    /// Asks the apps at `urls` to sync now, then every `interval`: every app when `all`, else
    /// only those whose last sync failed (`--no-poll`). Runs until the process ends.
    pub async fn poll(self, urls: Vec<String>, interval: std::time::Duration, all: bool) {
        loop {
            for url in &urls {
                let failing =
                    self.inner.apps.lock().get(url.split('?').next().unwrap_or(url)).is_none_or(|a| a.error.is_some());
                if all || failing {
                    // A failure is kept for the UI and logged; the next round tries again.
                    let _ = self.sync(url).await;
                }
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Takes a registration: the app's functions replace those it registered before.
    fn take(&self, body: &Value) -> Result<bool, String> {
        let app_id = body
            .get("appName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or("the registration has no `appName`: App ID required")?;
        let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
        let configs = body
            .get("functions")
            .and_then(Value::as_array)
            .filter(|f| !f.is_empty())
            .ok_or("the registration has no `functions`: an app must serve at least one function")?;
        let specs = configs.iter().map(|c| from_config(app_id, c)).collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = specs.iter().map(|s| s.id.clone()).collect();
        self.inner.engine.sync_app(app_id, specs).map_err(|e| e.to_string())?;
        let modified = self.inner.last.lock().insert(app_id.to_owned(), Value::Array(configs.clone())).as_ref()
            != Some(&Value::Array(configs.clone()));
        let app = SyncedApp {
            id: app_id.to_owned(),
            url: url.split('?').next().unwrap_or(url).to_owned(),
            sdk: body.get("sdk").and_then(Value::as_str).unwrap_or_default().to_owned(),
            functions: ids,
            synced_at: self.inner.engine.clock().now_ms(),
            error: None,
        };
        tracing::info!(app = %app.id, url = %app.url, sdk = %app.sdk, functions = app.functions.len(), "app synced");
        self.inner.apps.lock().insert(app.url.clone(), app);
        Ok(modified)
    }
}

async fn register(State(apps): State<Apps>, headers: HeaderMap, body: Body) -> Response {
    if !apps.dispatcher().authorized(bearer(&headers)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "registering needs the signing key's bearer token (Authorization: Bearer <hashed key>)",
        );
    }
    let expected = headers.get(headers::EXPECTED_SERVER_KIND).and_then(|v| v.to_str().ok());
    let kind = if apps.dispatcher().keys().is_empty() { "dev" } else { "cloud" };
    if let Some(expected) = expected.filter(|e| !e.is_empty() && *e != kind) {
        return error(StatusCode::BAD_REQUEST, format!("this is a `{kind}` server, and the app expected `{expected}`"));
    }
    let body = match crate::webhook::read_body(body, &headers, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the registration is not JSON ({e})")),
    };
    match apps.take(&value) {
        Ok(modified) => {
            let answer = json!({
                "ok": true,
                "modified": modified,
                "sync_id": uuid::Uuid::new_v4().to_string(),
                "app_id": uuid::Uuid::new_v4().to_string(),
            });
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

/// An app's id in the apps API: 16 hex digits of the SHA-256 of its serve URL, which stays the
/// same across syncs (an app that never synced has no name yet, and a name may move to another
/// URL), and is safe in a path.
pub fn api_id(url: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(url.as_bytes())[..8])
}

/// An app as the apps API shows it.
fn view(app: &SyncedApp) -> Value {
    let (language, version) = match app.sdk.split_once(':') {
        Some((language, version)) => (language, version.trim_start_matches('v')),
        None => (app.sdk.as_str(), ""),
    };
    json!({
        "id": api_id(&app.url),
        "name": app.id,
        "url": app.url,
        "sdk": app.sdk,
        "sdk_language": language,
        "sdk_version": version,
        "functions": app.functions,
        "synced_at": app.synced_at,
        "error": app.error,
    })
}

async fn list(State(apps): State<Apps>) -> Response {
    let views: Vec<Value> = apps.list().iter().map(view).collect();
    let now = apps.inner.engine.clock().now_ms();
    (StatusCode::OK, axum::Json(json!({ "apps": views, "now": now }))).into_response()
}

/// Asks the app to sync now; answers it as it then is (502 when it did not sync, with why).
async fn resync(State(apps): State<Apps>, Path(id): Path<String>) -> Response {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("`{id}` is not an app id: app ids are 16 hex digits, as GET /api/v1/apps lists them"),
        );
    }
    let Some(app) = apps.by_api_id(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no app `{id}`: GET /api/v1/apps lists the apps this server knows"),
        );
    };
    let result = apps.sync(&app.url).await;
    let now = apps.by_api_id(&id).unwrap_or(app);
    match result {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "app": view(&now) }))).into_response(),
        Err(e) => {
            let body = json!({ "error": format!("the app did not sync: {e}"), "status": 502, "app": view(&now) });
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}
