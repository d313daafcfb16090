//! `App`: every registered function, a store, and the HTTP endpoints, in one builder.
//!
//! ```ignore
//! hookflow::App::new("my-app")
//!     .store_sqlite("hookflow.db")
//!     .clerk_webhooks(std::env::var("CLERK_WEBHOOK_SIGNING_SECRET")?)
//!     .dev_ui()
//!     .serve("127.0.0.1:8288")
//!     .await
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::engine::{Engine, EngineBuilder};
use crate::event::IntoRawEvent;
use crate::invocation::State;
use crate::registry::{DuplicateFunction, Registry};
use crate::store::{MemoryStore, SqliteStore, Store, StoreError};
use crate::webhook::clerk::{ClerkWebhook, ClerkWebhookConfig};
use crate::webhook::event_api::{EventApi, EventApiConfig};
use crate::webhook::sink::EventSink;

/// How long a shutdown waits for running steps to commit.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The app could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Two functions share an id.
    #[error(transparent)]
    Duplicate(#[from] DuplicateFunction),
    /// A function id is taken (by an `on_failure` handler's `<id>-failure`, say).
    #[error(transparent)]
    Conflict(#[from] crate::registry::FunctionConflict),
    /// The store could not be opened.
    #[error("the store could not be opened: {0}")]
    Store(#[from] StoreError),
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<crate::engine::StartError> for AppError {
    fn from(e: crate::engine::StartError) -> Self {
        match e {
            crate::engine::StartError::Conflict(e) => AppError::Conflict(e),
            crate::engine::StartError::Store(e) => AppError::Store(e),
        }
    }
}

enum StoreChoice {
    Memory,
    Sqlite(PathBuf),
    Custom(Arc<dyn Store>),
}

/// A hookflow application: functions, store, webhooks and dev UI.
pub struct App {
    id: String,
    registry: Result<Registry, DuplicateFunction>,
    store: StoreChoice,
    state: State,
    clerk: Option<ClerkWebhookConfig>,
    event_keys: Vec<String>,
    dev_ui: bool,
    ui_token: Option<String>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("id", &self.id).field("dev_ui", &self.dev_ui).finish()
    }
}

impl App {
    /// An app with every `#[inngest_fn]` linked into the binary, on an in-memory store.
    pub fn new(id: impl Into<String>) -> Self {
        App::with_registry(id, Registry::collect())
    }

    /// An app with an explicit set of functions.
    pub fn with_registry(id: impl Into<String>, registry: Result<Registry, DuplicateFunction>) -> Self {
        App {
            id: id.into(),
            registry,
            store: StoreChoice::Memory,
            state: State::default(),
            clerk: None,
            event_keys: Vec::new(),
            dev_ui: false,
            ui_token: std::env::var("HOOKFLOW_UI_TOKEN").ok().filter(|t| !t.is_empty()),
            clock: None,
        }
    }

    /// Keeps everything in one SQLite file (created if missing).
    #[must_use]
    pub fn store_sqlite(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = StoreChoice::Sqlite(path.into());
        self
    }

    /// Keeps everything in memory (lost on exit; for tests).
    #[must_use]
    pub fn store_memory(mut self) -> Self {
        self.store = StoreChoice::Memory;
        self
    }

    /// Uses a store you built.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = StoreChoice::Custom(store);
        self
    }

    /// Picks the store from a URL: `sqlite:path/to/file.db` (or `sqlite://...`) or `memory:`.
    pub fn database_url(mut self, url: &str) -> Result<Self, AppError> {
        self.store = if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(AppError::Config(format!(
                    "database URL `{url}` has no file path: use `sqlite:hookflow.db`"
                )));
            }
            StoreChoice::Sqlite(PathBuf::from(path))
        } else if url == "memory:" {
            StoreChoice::Memory
        } else {
            return Err(AppError::Config(format!(
                "unsupported database URL `{url}`: use `sqlite:path/to/file.db` or `memory:`"
            )));
        };
        Ok(self)
    }

    /// Shared state that functions receive as `Dep<T>`.
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Serves `POST /webhooks/clerk`, verified with these signing secrets (`whsec_...`;
    /// several, separated by commas or spaces, during a rotation).
    #[must_use]
    pub fn clerk_webhooks(mut self, secrets: impl AsRef<str>) -> Self {
        self.clerk = Some(ClerkWebhookConfig::new(crate::webhook::clerk::split_secrets(secrets.as_ref())));
        self
    }

    /// Serves the Clerk webhook endpoint with a full configuration.
    #[must_use]
    pub fn clerk_webhook_config(mut self, config: ClerkWebhookConfig) -> Self {
        self.clerk = Some(config);
        self
    }

    /// Requires this key on `POST /e/{key}` (may be called several times); without any, every
    /// key is accepted, as the Inngest Dev Server does.
    #[must_use]
    pub fn event_key(mut self, key: impl Into<String>) -> Self {
        self.event_keys.push(key.into());
        self
    }

    /// Serves the dev UI and its API.
    #[must_use]
    pub fn dev_ui(mut self) -> Self {
        self.dev_ui = true;
        self
    }

    /// Protects the dev UI with a token (default: `HOOKFLOW_UI_TOKEN`).
    #[must_use]
    pub fn ui_token(mut self, token: impl Into<String>) -> Self {
        self.ui_token = Some(token.into());
        self
    }

    /// Uses another clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the store, resumes unfinished runs and builds the HTTP router, without serving.
    pub async fn start(self) -> Result<RunningApp, AppError> {
        let registry = self.registry?;
        let store: Arc<dyn Store> = match self.store {
            StoreChoice::Memory => Arc::new(MemoryStore::new()),
            StoreChoice::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
            StoreChoice::Custom(store) => store,
        };
        let mut builder = EngineBuilder::new(self.id, registry).store(store).state(self.state);
        if let Some(clock) = self.clock {
            builder = builder.clock(clock);
        }
        let engine = builder.start().await?;
        let sink: Arc<dyn EventSink> = Arc::new(engine.clone());
        let mut router =
            Router::new().route("/health", get(|| async { Json(json!({"status": 200, "message": "OK"})) })).merge(
                EventApi::new(EventApiConfig::new().with_event_keys(self.event_keys.clone()), sink.clone()).router(),
            );
        if let Some(clerk) = self.clerk {
            let webhook = ClerkWebhook::new(clerk, sink).map_err(|e| AppError::Config(e.to_string()))?;
            router = router.merge(webhook.router());
        }
        let (stop_streams, streams_stopped) = tokio::sync::watch::channel(false);
        if self.dev_ui {
            let config = crate::devui::DevUiConfig {
                token: self.ui_token.clone(),
                event_key: self.event_keys.first().cloned(),
                shutdown: Some(streams_stopped),
                ..crate::devui::DevUiConfig::default()
            };
            router = router.merge(crate::devui::router(engine.clone(), config));
        }
        let router = router.layer(tower_http::trace::TraceLayer::new_for_http());
        Ok(RunningApp { engine, router, dev_ui: self.dev_ui, ui_token: self.ui_token, stop_streams })
    }

    /// Starts and serves on `addr` until Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn serve(self, addr: &str) -> Result<(), AppError> {
        let running = self.start().await?;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| AppError::Bind { addr: addr.to_owned(), source })?;
        running.serve(listener, shutdown_signal()).await
    }
}

/// A started app: the engine and its router.
pub struct RunningApp {
    engine: Engine,
    router: Router,
    dev_ui: bool,
    ui_token: Option<String>,
    /// Ends the dev UI's live streams, which a graceful shutdown would otherwise wait for.
    stop_streams: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp").field("engine", &self.engine).finish()
    }
}

impl RunningApp {
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The HTTP router (to nest into your own axum app).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Sends events from code; committed when this returns.
    pub async fn send<I>(&self, events: I) -> Result<Vec<String>, crate::Error>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        self.engine.send(events).await
    }

    /// Serves on `listener` until `shutdown` resolves, then stops the engine gracefully. A dev
    /// UI on a non-loopback address without a token is refused.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let addr: SocketAddr =
            listener.local_addr().map_err(|source| AppError::Bind { addr: "listener".into(), source })?;
        if self.dev_ui && !addr.ip().is_loopback() && self.ui_token.is_none() {
            return Err(AppError::Config(format!(
                "the dev UI would be reachable from other machines on {addr} without a token: set HOOKFLOW_UI_TOKEN \
                 (or App::ui_token), or listen on 127.0.0.1"
            )));
        }
        tracing::info!(%addr, "hookflow listening");
        let stop_streams = self.stop_streams;
        let shutdown = async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        };
        let result = axum::serve(listener, self.router).with_graceful_shutdown(shutdown).await;
        self.engine.shutdown(SHUTDOWN_GRACE).await;
        result.map_err(|source| AppError::Bind { addr: addr.to_string(), source })
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
