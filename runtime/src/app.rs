//! `App`: every registered function, a store, and the HTTP endpoints, in one builder.
//!
//! ```ignore
//! hookflow::App::new("my-app")
//!     .store_sqlite("hookflow.db")
//!     .clerk_webhooks(std::env::var("CLERK_WEBHOOK_SIGNING_SECRET").unwrap_or_default())
//!     .dev_ui()
//!     .serve("127.0.0.1:8288")
//!     .await
//! ```
//!
//! What the port serves depends on the address it listens on (see the README's security
//! section): on loopback, the dev UI without a token, the event API without a key and the
//! Clerk endpoint with the generated dev secret; elsewhere each needs its credential.

#[cfg(feature = "server")]
use std::future::Future;
#[cfg(feature = "server")]
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
#[cfg(feature = "server")]
use std::time::Duration;

#[cfg(feature = "server")]
use axum::routing::get;
#[cfg(feature = "server")]
use axum::{Json, Router};
#[cfg(feature = "server")]
use serde_json::json;
#[cfg(feature = "server")]
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::engine::{Engine, EngineBuilder};
use crate::event::IntoRawEvent;
#[cfg(feature = "server")]
use crate::guard::{EventApiTrust, Guard};
use crate::invocation::State;
use crate::registry::{DuplicateFunction, Registry};
#[cfg(feature = "server")]
use crate::server::ServerLimits;
#[cfg(feature = "sqlite")]
use crate::store::SqliteStore;
use crate::store::{MemoryStore, Store, StoreError};
#[cfg(feature = "server")]
use crate::webhook::clerk::{ClerkWebhook, ClerkWebhookConfig};
#[cfg(feature = "server")]
use crate::webhook::event_api::{EventApi, EventApiConfig};
#[cfg(feature = "server")]
use crate::webhook::sink::EventSink;

/// How long a shutdown waits for running steps to commit, and for open connections to finish.
#[cfg(feature = "server")]
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The environment variable holding the event keys `POST /e/{key}` accepts (several separated
/// by commas during a rotation).
#[cfg(feature = "server")]
pub const EVENT_KEY_ENV: &str = "INNGEST_EVENT_KEY";

/// The environment variable that, when set, overrides the address given to [`App::serve`].
#[cfg(feature = "server")]
pub const ADDR_ENV: &str = "HOOKFLOW_ADDR";

/// The app could not start.
///
/// Its `Debug` form is its message, so that `fn main() -> Result<(), AppError>` prints
/// `Error: <what went wrong and what to do>` rather than a struct dump.
#[derive(thiserror::Error)]
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
            e @ crate::engine::StartError::FlowControlUnsupported { .. } => AppError::Config(e.to_string()),
        }
    }
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

enum StoreChoice {
    Memory,
    /// A SQLite file (feature `sqlite`).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite(PathBuf),
    /// A Postgres URL (feature `postgres`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres(String),
    Custom(Arc<dyn Store>),
}

/// A hookflow application: functions, store, webhooks and dev UI.
///
/// An `App` is the process your functions run in. [`App::new`] collects every `#[inngest_fn]`
/// linked into the binary; the builder methods choose the store (`store_sqlite`, memory by
/// default), verify Clerk webhooks (`clerk_webhooks`), serve the dev UI (`dev_ui`) and share
/// state with functions (`state`, received as `Dep<T>`); [`App::serve`] starts the engine and
/// serves HTTP until Ctrl-C, finishing what runs before it exits. The HTTP methods come with the
/// `server` feature and `store_sqlite` with `sqlite` (both on by default); without them,
/// [`App::start`] runs the functions in-process and [`RunningApp::send`] feeds them events.
///
/// ```no_run
/// use hookflow::prelude::*;
///
/// struct Mailer;
///
/// #[inngest_fn(id = "welcome", event = "clerk/user.created")]
/// async fn welcome(event: Event<clerk::UserCreated>, step: Step, _mailer: Dep<Mailer>) -> Result<String> {
///     let name = event.data.display_name();
///     let sent: String = step.run("send", || async move { Ok(format!("welcome, {name}")) }).await?;
///     Ok(sent)
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), hookflow::AppError> {
///     hookflow::App::new("my-app")
///         .store_sqlite("hookflow.db")
///         .clerk_webhooks(std::env::var("CLERK_WEBHOOK_SIGNING_SECRET").unwrap_or_default())
///         .state(Mailer)
///         .dev_ui()
///         .serve("127.0.0.1:8288")
///         .await
/// }
/// ```
pub struct App {
    id: String,
    registry: Result<Registry, DuplicateFunction>,
    store: StoreChoice,
    state: State,
    #[cfg(feature = "server")]
    clerk: Option<ClerkWebhookConfig>,
    #[cfg(feature = "server")]
    event_keys: Vec<String>,
    #[cfg(feature = "server")]
    allow_clerk_events: bool,
    #[cfg(feature = "server")]
    dev_ui: bool,
    #[cfg(feature = "server")]
    ui_token: Option<String>,
    #[cfg(feature = "server")]
    trusted_origins: Vec<String>,
    #[cfg(feature = "server")]
    limits: ServerLimits,
    clock: Option<Arc<dyn Clock>>,
    lease: Option<std::time::Duration>,
    max_interrupted: Option<u32>,
    /// Inngest mode: the functions run under this Inngest server, not in this app's engine.
    #[cfg(feature = "protocol")]
    inngest: Option<crate::protocol::InngestConfig>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("id", &self.id).finish_non_exhaustive()
    }
}

impl App {
    /// An app with every `#[inngest_fn]` linked into the binary, on an in-memory store.
    pub fn new(id: impl Into<String>) -> Self {
        App::with_registry(id, Registry::collect())
    }

    /// An app with an explicit set of functions. Reads `INNGEST_EVENT_KEY` (the event keys)
    /// and `HOOKFLOW_UI_TOKEN` (the dev UI's token) from the environment.
    pub fn with_registry(id: impl Into<String>, registry: Result<Registry, DuplicateFunction>) -> Self {
        App {
            id: id.into(),
            registry,
            store: StoreChoice::Memory,
            state: State::default(),
            #[cfg(feature = "server")]
            clerk: None,
            #[cfg(feature = "server")]
            event_keys: std::env::var(EVENT_KEY_ENV).map(|keys| split_keys(&keys)).unwrap_or_default(),
            #[cfg(feature = "server")]
            allow_clerk_events: false,
            #[cfg(feature = "server")]
            dev_ui: false,
            #[cfg(feature = "server")]
            ui_token: std::env::var("HOOKFLOW_UI_TOKEN").ok().filter(|t| !t.is_empty()),
            #[cfg(feature = "server")]
            trusted_origins: std::env::var(crate::guard::TRUSTED_ORIGINS_ENV).map(|o| vec![o]).unwrap_or_default(),
            #[cfg(feature = "server")]
            limits: ServerLimits::default(),
            clock: None,
            lease: None,
            max_interrupted: None,
            #[cfg(feature = "protocol")]
            inngest: None,
        }
    }

    /// Keeps everything in one SQLite file (created if missing; feature `sqlite`).
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    #[must_use]
    pub fn store_sqlite(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = StoreChoice::Sqlite(path.into());
        self
    }

    /// Keeps everything in Postgres (`postgres://user:password@host:port/database`; feature
    /// `postgres`), in the `hookflow` schema, created or migrated at start. Any number of
    /// processes started with the same URL share the work: see the README's deployment section.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[must_use]
    pub fn store_postgres(mut self, url: impl Into<String>) -> Self {
        self.store = StoreChoice::Postgres(url.into());
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

    /// Picks the store from a URL: `sqlite:path/to/file.db` (or `sqlite://...`), `memory:`, or
    /// `postgres://user:password@host:port/database` (or `postgresql://`; feature `postgres`).
    pub fn database_url(mut self, url: &str) -> Result<Self, AppError> {
        self.store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if !cfg!(feature = "postgres") {
                return Err(AppError::Config(
                    "this build has no Postgres store: enable hookflow's `postgres` cargo feature, or use \
                     `sqlite:path/to/file.db`"
                        .into(),
                ));
            }
            StoreChoice::Postgres(url.to_owned())
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(AppError::Config(format!(
                    "database URL `{url}` has no file path: use `sqlite:hookflow.db`"
                )));
            }
            if !cfg!(feature = "sqlite") {
                return Err(AppError::Config(
                    "this build has no SQLite store: enable hookflow's `sqlite` cargo feature (on by default), or \
                     use `memory:`"
                        .into(),
                ));
            }
            StoreChoice::Sqlite(PathBuf::from(path))
        } else if url == "memory:" {
            StoreChoice::Memory
        } else {
            return Err(AppError::Config(format!(
                "unsupported database URL `{url}`: use `sqlite:path/to/file.db`, `memory:` or \
                 `postgres://user:password@host:port/database`"
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
    ///
    /// With none (an empty string, e.g. `CLERK_WEBHOOK_SIGNING_SECRET` unset), a server on a
    /// loopback address verifies with the generated dev secret that `hookflow clerk send`
    /// signs with (`.hookflow/dev-secret`, created if missing) and says so when it starts; on
    /// any other address it refuses to start.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn clerk_webhooks(mut self, secrets: impl AsRef<str>) -> Self {
        self.clerk = Some(ClerkWebhookConfig::new(crate::webhook::clerk::split_secrets(secrets.as_ref())));
        self
    }

    /// Serves the Clerk webhook endpoint with a full configuration.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn clerk_webhook_config(mut self, config: ClerkWebhookConfig) -> Self {
        self.clerk = Some(config);
        self
    }

    /// Accepts this key on `POST /e/{key}` (may be called several times, beside the keys of
    /// `INNGEST_EVENT_KEY`). Without any key, the event API is served only on a loopback
    /// address, where it accepts any key as the Inngest Dev Server does; elsewhere it refuses
    /// every request (401) until a key is set.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn event_key(mut self, key: impl Into<String>) -> Self {
        self.event_keys.extend(split_keys(&key.into()));
        self
    }

    /// Accepts `clerk/*` events on the event API too. By default they are refused there (400):
    /// they should come from Clerk's signed webhook, and with this an event-key holder can
    /// send `clerk/user.deleted` for any user. For tests and imports of past events.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn allow_clerk_events_from_event_api(mut self) -> Self {
        self.allow_clerk_events = true;
        self
    }

    /// Serves the dev UI and its API.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn dev_ui(mut self) -> Self {
        self.dev_ui = true;
        self
    }

    /// Protects the dev UI with a token (default: `HOOKFLOW_UI_TOKEN`).
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn ui_token(mut self, token: impl Into<String>) -> Self {
        self.ui_token = Some(token.into()).filter(|t: &String| !t.is_empty());
        self
    }

    /// Lets pages of these origins (`https://app.example.com`: scheme, host, port) import events
    /// into this dev UI across origins: the "Send to dev server" button of a deployed UI posts
    /// to `POST /api/v1/import`, and only that route answers their CORS requests. Replaces the
    /// list from `HOOKFLOW_TRUSTED_ORIGINS` (comma-separated); an entry that is not an origin
    /// fails the start.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn trusted_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Changes the connection limits of the server (timeouts, connections at once).
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn server_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Uses another clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How long a claimed run stays this process's without a renewal (default 30 s): when a
    /// worker sharing a Postgres store dies, the others take its runs over once it expires.
    #[must_use]
    pub fn lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How many passes of one run in a row may be interrupted (the process killed or crashed,
    /// hung, or cut off from the store before it acknowledged) before the run is failed
    /// (default 5): see [`EngineBuilder::max_interrupted_passes`].
    #[must_use]
    pub fn max_interrupted_passes(mut self, passes: u32) -> Self {
        self.max_interrupted = Some(passes);
        self
    }

    /// Inngest mode (feature `protocol`): the functions run under the Inngest server `config`
    /// names (Inngest's dev server, a self-hosted `inngest start`, Inngest Cloud, or
    /// `hookflow dev`) instead of in this app's engine, unchanged.
    ///
    /// The app then serves them to the server at `config.serve_path` (`/api/inngest`) and
    /// registers them with it when it starts serving (a server not reachable yet is logged and
    /// tried again, with a back-off, while the app serves); [`RunningApp::send`] and
    /// `step.send_event` send to the server's event API; the Clerk webhook endpoint still
    /// verifies each webhook and forwards its event (`clerk/<type>`) there, as does the event
    /// API (`POST /e/{key}`). The store is not opened and the dev UI is not served: the server
    /// keeps the runs and shows them in its own UI.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), hookflow::AppError> {
    /// // INNGEST_DEV=http://127.0.0.1:8288 for a dev server; INNGEST_SIGNING_KEY (and
    /// // INNGEST_BASE_URL for a self-hosted server) for cloud mode.
    /// let config = hookflow::protocol::InngestConfig::dev("http://127.0.0.1:8288");
    /// hookflow::App::new("my-app")
    ///     .clerk_webhooks(std::env::var("CLERK_WEBHOOK_SIGNING_SECRET").unwrap_or_default())
    ///     .serve_to_inngest(config)
    ///     .serve("127.0.0.1:3000")
    ///     .await
    /// # }
    /// ```
    #[cfg(feature = "protocol")]
    #[must_use]
    pub fn serve_to_inngest(mut self, config: crate::protocol::InngestConfig) -> Self {
        self.inngest = Some(config);
        self
    }

    /// Inngest mode ([`App::serve_to_inngest`]) with the configuration from Inngest's
    /// environment variables (`INNGEST_DEV`, `INNGEST_SIGNING_KEY`, `INNGEST_BASE_URL`,
    /// `INNGEST_EVENT_KEY`, ...: see [`InngestConfig`](crate::protocol::InngestConfig)); fails
    /// on a setting that cannot work, such as cloud mode without a signing key.
    #[cfg(feature = "protocol")]
    pub fn inngest_from_env(self) -> Result<Self, AppError> {
        let config = crate::protocol::InngestConfig::from_env().map_err(|e| AppError::Config(e.to_string()))?;
        Ok(self.serve_to_inngest(config))
    }

    /// Opens the store, resumes unfinished runs and checks the settings, without serving.
    #[cfg_attr(not(feature = "protocol"), allow(unused_mut))]
    pub async fn start(mut self) -> Result<RunningApp, AppError> {
        let registry = self.registry?;
        #[cfg(feature = "server")]
        if let Some(clerk) = self.clerk.as_ref().filter(|c| !c.secrets.is_empty()) {
            // A bad secret fails now, not on the first webhook.
            crate::webhook::svix::Verifier::new(&clerk.secrets).map_err(|e| AppError::Config(e.to_string()))?;
        }
        // Inngest mode: a serve handler runs the functions (with the state), and the engine has
        // none, on a memory store that nothing reaches.
        #[cfg(feature = "protocol")]
        let mut inngest = match self.inngest.take() {
            Some(config) => {
                config.check().map_err(|e| AppError::Config(e.to_string()))?;
                let state = std::mem::take(&mut self.state);
                Some(crate::protocol::ServeHandler::new(self.id.clone(), config, &registry, state)?)
            }
            None => None,
        };
        #[cfg(feature = "protocol")]
        let served_elsewhere = inngest.is_some();
        #[cfg(not(feature = "protocol"))]
        let served_elsewhere = false;
        let (store, registry) = if served_elsewhere {
            (Arc::new(MemoryStore::new()) as Arc<dyn Store>, Registry::empty())
        } else {
            (open_store(self.store).await?, registry)
        };
        let mut builder = EngineBuilder::new(self.id, registry).store(store).state(self.state);
        if let Some(clock) = self.clock {
            #[cfg(feature = "protocol")]
            {
                inngest = inngest.map(|handler| handler.with_clock(clock.clone()));
            }
            builder = builder.clock(clock);
        }
        if let Some(lease) = self.lease {
            builder = builder.lease(lease);
        }
        if let Some(passes) = self.max_interrupted {
            builder = builder.max_interrupted_passes(passes);
        }
        let engine = builder.start().await?;
        #[cfg(feature = "server")]
        let (stop_streams, _) = tokio::sync::watch::channel(false);
        Ok(RunningApp {
            engine,
            #[cfg(feature = "server")]
            setup: Setup {
                clerk: self.clerk,
                event_keys: self.event_keys,
                allow_clerk_events: self.allow_clerk_events,
                // In Inngest mode the runs are the server's, and so is the UI.
                dev_ui: self.dev_ui && !served_elsewhere,
                ui_token: self.ui_token,
                trusted_origins: self.trusted_origins,
                limits: self.limits,
                extra: None,
                #[cfg(feature = "protocol")]
                inngest,
            },
            #[cfg(feature = "server")]
            stop_streams,
        })
    }

    /// Starts, listens on `addr` (or on `HOOKFLOW_ADDR` when that is set, so that a deployed
    /// app can be moved without a rebuild), prints what is served where, and serves until
    /// Ctrl-C or SIGTERM, then shuts down gracefully.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub async fn serve(self, addr: &str) -> Result<(), AppError> {
        let addr = std::env::var(ADDR_ENV).ok().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| addr.to_owned());
        let addr = addr.as_str();
        let running = self.start().await?;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| AppError::Bind { addr: addr.to_owned(), source })?;
        let listening = running.listen(listener)?;
        println!("{}", listening.banner());
        listening.serve(shutdown_signal()).await
    }
}

/// Opens the store chosen.
async fn open_store(choice: StoreChoice) -> Result<Arc<dyn Store>, AppError> {
    Ok(match choice {
        StoreChoice::Memory => Arc::new(MemoryStore::new()),
        #[cfg(feature = "sqlite")]
        StoreChoice::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        #[cfg(not(feature = "sqlite"))]
        StoreChoice::Sqlite(_) => {
            return Err(AppError::Config("this build has no SQLite store (cargo feature `sqlite`)".into()))
        }
        #[cfg(feature = "postgres")]
        StoreChoice::Postgres(url) => Arc::new(crate::store::PostgresStore::connect(&url).await?),
        #[cfg(not(feature = "postgres"))]
        StoreChoice::Postgres(_) => {
            return Err(AppError::Config("this build has no Postgres store (cargo feature `postgres`)".into()))
        }
        StoreChoice::Custom(store) => store,
    })
}

/// Splits a comma-separated list of keys.
#[cfg(feature = "server")]
fn split_keys(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
}

/// What the routes are built from, once the address is known.
#[cfg(feature = "server")]
struct Setup {
    clerk: Option<ClerkWebhookConfig>,
    event_keys: Vec<String>,
    allow_clerk_events: bool,
    dev_ui: bool,
    ui_token: Option<String>,
    /// Origins whose pages may import events (`App::trusted_origins`), as given.
    trusted_origins: Vec<String>,
    limits: ServerLimits,
    /// Routes added after start (`RunningApp::merge`).
    extra: Option<Router>,
    /// Inngest mode: the functions are served to this server.
    #[cfg(feature = "protocol")]
    inngest: Option<crate::protocol::ServeHandler>,
}

/// A started app: the engine, and what its HTTP routes are built from.
pub struct RunningApp {
    engine: Engine,
    #[cfg(feature = "server")]
    setup: Setup,
    /// Ends the dev UI's live streams, which a graceful shutdown would otherwise wait for.
    #[cfg(feature = "server")]
    stop_streams: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp").field("engine", &self.engine).finish()
    }
}

/// The routes for one address, and what they trust (for the banner).
#[cfg(feature = "server")]
struct Routes {
    router: Router,
    lines: Vec<(&'static str, String)>,
}

impl RunningApp {
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The HTTP router for a server listening on `local_addr`, to nest into your own axum
    /// app (which then also sets the connection limits). What it serves depends on the
    /// address, as for [`RunningApp::listen`].
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub fn router(&self, local_addr: SocketAddr) -> Result<Router, AppError> {
        Ok(self.routes(local_addr)?.router)
    }

    /// Adds routes built on the engine (such as the Inngest executor's `/fn/register`), served
    /// with the others and behind the same guard.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    #[must_use]
    pub fn merge(mut self, routes: Router) -> Self {
        self.setup.extra = Some(match self.setup.extra.take() {
            Some(extra) => extra.merge(routes),
            None => routes,
        });
        self
    }

    /// The serve handler, in Inngest mode ([`App::serve_to_inngest`]).
    #[cfg(feature = "protocol")]
    pub fn inngest(&self) -> Option<&crate::protocol::ServeHandler> {
        self.setup.inngest.as_ref()
    }

    /// Sends events from code; committed when this returns (in Inngest mode, once the
    /// server's event API took them).
    pub async fn send<I>(&self, events: I) -> Result<Vec<String>, crate::Error>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        #[cfg(feature = "protocol")]
        if let Some(handler) = &self.setup.inngest {
            let raws = events.into_iter().map(IntoRawEvent::into_raw_event).collect::<Result<Vec<_>, _>>()?;
            return handler.send(raws).await;
        }
        self.engine.send(events).await
    }

    /// [`RunningApp::send`], answering also which functions skipped the events and why (rate limit,
    /// idempotency, singleton): those functions will not run for them. In Inngest mode the
    /// server decides that, and the receipt has the ids only.
    pub async fn send_receipt<I>(&self, events: I) -> Result<crate::model::SendReceipt, crate::Error>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        #[cfg(feature = "protocol")]
        if self.setup.inngest.is_some() {
            // Inngest's event API answers the ids only: what skipped them shows in its UI.
            return Ok(crate::model::SendReceipt { ids: self.send(events).await?, ..Default::default() });
        }
        self.engine.send_receipt(events).await
    }

    /// Prepares to serve on `listener`, checking first what the address allows, so that a
    /// refusal comes before any banner: the dev UI without a token and a Clerk endpoint
    /// without a signing secret need a loopback address; the event API without a key is then
    /// open to any key, and closed (401) on other addresses.
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub fn listen(self, listener: TcpListener) -> Result<Listening, AppError> {
        let addr = listener.local_addr().map_err(|source| AppError::Bind { addr: "listener".into(), source })?;
        let Routes { router, lines } = self.routes(addr)?;
        Ok(Listening {
            engine: self.engine,
            router,
            listener,
            addr,
            lines,
            limits: self.setup.limits,
            stop_streams: self.stop_streams,
            #[cfg(feature = "protocol")]
            inngest: self.setup.inngest,
        })
    }

    /// Serves on `listener` until `shutdown` resolves, then stops the engine gracefully:
    /// [`RunningApp::listen`], then [`Listening::serve`].
    #[cfg(feature = "server")]
    #[cfg_attr(docsrs, doc(cfg(feature = "server")))]
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        self.listen(listener)?.serve(shutdown).await
    }

    #[cfg(feature = "server")]
    fn routes(&self, addr: SocketAddr) -> Result<Routes, AppError> {
        let setup = &self.setup;
        let loopback = addr.ip().is_loopback();
        let base = format!("http://{addr}");
        let mut lines = Vec::new();
        #[allow(unused_mut)]
        let mut sink: Arc<dyn EventSink> = Arc::new(self.engine.clone());
        let mut guard = Guard { ui_token: setup.ui_token.clone(), dev_ui: setup.dev_ui, ..Guard::default() };
        let mut router =
            Router::new().route("/health", get(|| async { Json(json!({"status": 200, "message": "OK"})) }));
        #[cfg(feature = "protocol")]
        if let Some(handler) = &setup.inngest {
            // Every event taken here goes to the Inngest server, where the functions run.
            sink = Arc::new(handler.clone());
            router = router.merge(handler.router());
            guard.signed_paths.push(handler.config().serve_path.clone());
            let config = handler.config();
            let verified =
                if config.mode == crate::protocol::Mode::Cloud { "signed requests only" } else { "dev mode" };
            lines.push((
                "Inngest serve",
                format!(
                    "{}  ({verified}; {} functions)",
                    crate::protocol::inngest_mode::serve_url(config, addr),
                    handler.function_ids().len()
                ),
            ));
            lines.push(("Inngest server", crate::protocol::inngest_mode::describe(config)));
            lines.push(("events go to", format!("{}/e/…", config.event_origin)));
            lines.push(("runs", "kept and shown by the Inngest server (no dev UI in Inngest mode)".to_owned()));
        }

        if setup.dev_ui {
            if setup.ui_token.is_none() && !loopback {
                return Err(AppError::Config(format!(
                    "the dev UI would be reachable from other machines on {addr} without a token: set \
                     HOOKFLOW_UI_TOKEN (or App::ui_token), or listen on 127.0.0.1"
                )));
            }
            let config = crate::devui::DevUiConfig {
                token: setup.ui_token.clone(),
                event_key: setup.event_keys.first().cloned(),
                shutdown: Some(self.stop_streams.subscribe()),
                ..crate::devui::DevUiConfig::default()
            };
            router = router.merge(crate::devui::routes(self.engine.clone(), config));
            let access = if setup.ui_token.is_some() { "token required" } else { "loopback only, no token" };
            lines.push(("dev UI", format!("{base}/  ({access})")));
            guard.trusted_origins = crate::guard::parse_origins(&setup.trusted_origins).map_err(|e| {
                AppError::Config(format!(
                    "a trusted origin (App::trusted_origins, {}): {e}",
                    crate::guard::TRUSTED_ORIGINS_ENV
                ))
            })?;
            if !guard.trusted_origins.is_empty() {
                lines.push((
                    "imports from",
                    format!("{}  (POST {base}{})", guard.trusted_origins.join(", "), crate::guard::IMPORT_PATH),
                ));
            }
        }

        if let Some(clerk) = &setup.clerk {
            let (config, secret) = if !clerk.secrets.is_empty() {
                (clerk.clone(), "signing secret from the configuration".to_owned())
            } else if loopback {
                let (secret, dev) = crate::webhook::dev_secret::dev_secret(std::path::Path::new("."))
                    .map_err(|e| AppError::Config(e.to_string()))?;
                let from = if dev {
                    format!(
                        "dev secret from {}, as `hookflow clerk send` signs: {} is not set",
                        crate::webhook::dev_secret::DEV_SECRET_FILE,
                        crate::webhook::clerk::SECRET_ENV
                    )
                } else {
                    format!("signing secret from {}", crate::webhook::clerk::SECRET_ENV)
                };
                (ClerkWebhookConfig { secrets: vec![secret], ..clerk.clone() }, from)
            } else {
                return Err(AppError::Config(format!(
                    "no Clerk webhook signing secret was given, and a generated dev secret is used only on a \
                     loopback address, not on {addr}: set {} to your endpoint's signing secret (Clerk Dashboard → \
                     Webhooks → your endpoint → Signing Secret)",
                    crate::webhook::clerk::SECRET_ENV
                )));
            };
            let webhook = ClerkWebhook::new(config, sink.clone()).map_err(|e| AppError::Config(e.to_string()))?;
            router = router.merge(webhook.router());
            guard.signed_paths.push(crate::webhook::clerk::DEFAULT_PATH.to_owned());
            lines.push(("Clerk webhooks", format!("POST {base}{}  ({secret})", crate::webhook::clerk::DEFAULT_PATH)));
        }

        let mut config = EventApiConfig::new().with_event_keys(setup.event_keys.clone());
        if setup.allow_clerk_events {
            config = config.allow_clerk_events();
        }
        let access = if !config.event_keys.is_empty() {
            guard.event_api = Some(EventApiTrust::Key);
            format!("{} event key(s) from {EVENT_KEY_ENV} or App::event_key", config.event_keys.len())
        } else if loopback {
            config = config.accept_any_key();
            guard.event_api = Some(EventApiTrust::Loopback);
            format!("any key: a dev server on loopback without {EVENT_KEY_ENV}")
        } else {
            guard.event_api = Some(EventApiTrust::Key);
            format!("closed: no event key; set {EVENT_KEY_ENV} to enable it")
        };
        router = router.merge(EventApi::new(config, sink).router());
        lines.push(("event API", format!("POST {base}/e/{{key}}  ({access})")));
        if let Some(extra) = &setup.extra {
            router = router.merge(extra.clone());
        }

        let router = crate::guard::protect(router, guard).layer(tower_http::trace::TraceLayer::new_for_http());
        Ok(Routes { router, lines })
    }
}

/// An app about to serve on a listener, every check passed: [`Listening::banner`] says what
/// is served where, [`Listening::serve`] serves.
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub struct Listening {
    engine: Engine,
    router: Router,
    listener: TcpListener,
    addr: SocketAddr,
    lines: Vec<(&'static str, String)>,
    limits: ServerLimits,
    stop_streams: tokio::sync::watch::Sender<bool>,
    #[cfg(feature = "protocol")]
    inngest: Option<crate::protocol::ServeHandler>,
}

#[cfg(feature = "server")]
impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening").field("addr", &self.addr).finish_non_exhaustive()
    }
}

#[cfg(feature = "server")]
impl Listening {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// One line per endpoint: what it is, where, and what it trusts, e.g.
    /// `  event API        POST http://127.0.0.1:8288/e/{key}  (any key: a dev server on loopback ...)`.
    pub fn endpoints(&self) -> String {
        self.lines.iter().map(|(what, line)| format!("  {what:<16} {line}")).collect::<Vec<_>>().join("\n")
    }

    /// What [`App::serve`] prints: the app, the address, and [`Listening::endpoints`].
    pub fn banner(&self) -> String {
        format!("hookflow app `{}` listening on http://{}\n{}", self.engine.app_id(), self.addr, self.endpoints())
    }

    /// Serves until `shutdown` resolves, then stops the engine gracefully.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), AppError> {
        let endpoints: Vec<String> = self.lines.iter().map(|(what, line)| format!("{what}: {line}")).collect();
        tracing::info!(addr = %self.addr, endpoints = %endpoints.join("; "), "hookflow listening");
        let stop_streams = self.stop_streams;
        // Inngest mode: register the functions once the listener is serving.
        #[cfg(feature = "protocol")]
        let sync = self.inngest.map(|handler| {
            let url = crate::protocol::inngest_mode::serve_url(handler.config(), self.addr);
            tokio::spawn(crate::protocol::inngest_mode::sync_at_start(handler, url))
        });
        let shutdown = async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        };
        crate::server::serve(self.listener, self.router, self.limits, shutdown, SHUTDOWN_GRACE).await;
        #[cfg(feature = "protocol")]
        if let Some(sync) = sync {
            sync.abort();
        }
        self.engine.shutdown(SHUTDOWN_GRACE).await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
#[cfg(feature = "server")]
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
