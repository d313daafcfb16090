//! hookflow's Inngest executor (the engine behind `hookflow dev -u`) and a serve handler, each
//! on a free loopback port over real HTTP, for the protocol tests that play one against the
//! other.

use std::sync::Arc;
use std::time::Duration;

use hookflow::protocol::executor::apps::Apps;
use hookflow::protocol::{ServeHandler, SigningKey};
use hookflow::store::{RunQuery, RunRecord, RunStatus};
use hookflow::{App, Engine, Registry, TestClock};
use serde_json::Value;

/// The executor as `hookflow dev` builds it: an engine without functions of its own on a memory
/// store and the test clock, and the executor's routes (`/fn/register`, checkpoints) beside the
/// event API.
pub struct Executor {
    /// The engine the apps' functions run in.
    pub engine: Engine,
    /// The synced apps.
    pub apps: Apps,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The engine's clock.
    pub clock: TestClock,
}

impl Executor {
    /// Starts at `start_ms` on the test clock; with `key`, it signs its requests to the apps
    /// and requires the key of them, as a self-hosted `inngest start --signing-key` does.
    pub async fn start(start_ms: i64, key: Option<&str>) -> Executor {
        Executor::start_with(start_ms, key, |app| app).await
    }

    /// [`Executor::start`], with the app set up further by `configure` (e.g. with the dev UI).
    pub async fn start_with(start_ms: i64, key: Option<&str>, configure: impl FnOnce(App) -> App) -> Executor {
        let clock = TestClock::new(start_ms);
        let app = App::with_registry("hookflow-dev", Ok(Registry::empty())).store_memory();
        let running = configure(app.clock(Arc::new(clock.clone()))).start().await.expect("the executor starts");
        let engine = running.engine().clone();
        engine.dispatcher().set_signing_keys(key.and_then(SigningKey::new), None);
        let apps = Apps::new(engine.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let listening = running.merge(apps.router()).listen(listener).expect("listens");
        let base = format!("http://{}", listening.local_addr());
        tokio::spawn(listening.serve(std::future::pending()));
        Executor { engine, apps, base, clock }
    }

    /// Sends `event` to the executor's event API (`POST /e/{key}`, any key on loopback).
    pub async fn send(&self, event: &Value) {
        let response =
            reqwest::Client::new().post(format!("{}/e/test-key", self.base)).json(event).send().await.expect("sent");
        assert_eq!(response.status().as_u16(), 200, "{:?}", response.text().await);
    }

    /// The newest run of `function`, if any.
    pub async fn try_run_of(&self, function: &str) -> Option<RunRecord> {
        let query = RunQuery { function_id: Some(function.into()), ..RunQuery::default() };
        let runs = self.engine.store().queries().expect("queries").list_runs(&query).await.expect("runs");
        runs.into_iter().next()
    }

    /// The newest run of `function`.
    pub async fn run_of(&self, function: &str) -> RunRecord {
        self.try_run_of(function).await.unwrap_or_else(|| panic!("a run of {function}"))
    }

    /// Waits until the newest run of `function` has `status` (each pass is real HTTP).
    pub async fn wait_for(&self, function: &str, status: RunStatus) -> RunRecord {
        for _ in 0..200 {
            self.engine.settle().await;
            if let Some(run) = self.try_run_of(function).await.filter(|r| r.status == status) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{function} never became {status:?}: {:?}", self.try_run_of(function).await)
    }
}

/// Serves `router` (a serve handler's, maybe wrapped) on a free loopback port; answers its
/// serve URL, `http://127.0.0.1:<port>/api/inngest`.
pub async fn serve_app(router: axum::Router) -> String {
    format!("{}/api/inngest", crate::http::serve(router).await)
}

/// [`serve_app`] for a serve handler as it is.
pub async fn serve_handler(handler: &ServeHandler) -> String {
    serve_app(handler.router()).await
}
