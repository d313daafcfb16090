//! Test your functions in-process, on a test clock (feature `testing`).
//!
//! A [`TestEngine`] runs the functions you choose on a memory store and a [`TestClock`]:
//! send an event, get the run and its journal back once it has done all it can, then move
//! the clock to wake what sleeps. A three-day sleep takes no time at all.
//!
//! ```
//! use std::time::Duration;
//!
//! use hookflow::prelude::*;
//! use hookflow::store::RunStatus;
//! use hookflow::testing::TestEngine;
//! use hookflow::RawEvent;
//!
//! #[inngest_fn(id = "onboarding", event = "app/signed.up")]
//! async fn onboarding(event: Event<Json>, step: Step) -> Result<String> {
//!     step.sleep("wait-3-days", "3 days").await?;
//!     let to = event.data["email"].as_str().unwrap_or("nobody").to_owned();
//!     let sent = step.run("trial-offer", || async move { Ok(format!("offer sent to {to}")) }).await?;
//!     Ok(sent)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let t = TestEngine::new(&[onboarding::DEF]).await;
//! let signed_up = RawEvent::new("app/signed.up", serde_json::json!({"email": "ada@example.com"}));
//! let run = t.run(onboarding::DEF, signed_up).await;
//! assert_eq!(run.record.status, RunStatus::Sleeping);
//!
//! t.advance(Duration::from_secs(3 * 86_400)).await;
//! let run = t.get(&run.record.id).await.expect("the run");
//! assert_eq!(run.record.status, RunStatus::Completed);
//! assert_eq!(run.record.output, Some(serde_json::json!("offer sent to ada@example.com")));
//! assert_eq!(run.step("trial-offer").map(|s| s.attempts), Some(1));
//! # }
//! ```
//!
//! Functions that take `Dep<T>` get their state from [`TestEngine::builder`]:
//! `TestEngine::builder(&[sync_user::DEF]).state(FakeDb::default()).start().await`.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::TestClock;
use crate::engine::{Engine, EngineBuilder};
use crate::event::IntoRawEvent;
use crate::function::FunctionDef;
use crate::invocation::State;
use crate::registry::Registry;
use crate::store::{MemoryStore, RunQuery, RunRecord, StepRecord, Store};

/// Sets up a [`TestEngine`]: the state its functions' `Dep<T>` parameters receive, and
/// optionally its store and clock.
#[must_use]
pub struct TestEngineBuilder {
    functions: Vec<&'static FunctionDef>,
    store: Option<Arc<dyn Store>>,
    clock: Option<TestClock>,
    state: State,
}

impl std::fmt::Debug for TestEngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.functions.iter().map(|d| d.id).collect();
        f.debug_struct("TestEngineBuilder").field("functions", &ids).field("state", &self.state).finish_non_exhaustive()
    }
}

impl TestEngineBuilder {
    /// Shared state of type `T`, received by functions as `Dep<T>` (one value per type).
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// The store (default: a new memory store).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: a test clock starting now). Pass a clone of one you keep, or put
    /// one in the state, when a step needs to move time itself.
    pub fn clock(mut self, clock: TestClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Starts the engine.
    ///
    /// # Panics
    /// When two functions share an id, or the store cannot be read: test set-up errors.
    pub async fn start(self) -> TestEngine {
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let clock = self.clock.unwrap_or_else(TestClock::starting_now);
        TestEngine::start(&self.functions, store, self.state, clock).await
    }
}

/// An engine on a memory store and a [`TestClock`], with the functions you choose.
///
/// [`TestEngine::run`] sends an event and returns the function's run once it has done all it
/// can (completed, failed, or asleep and waiting); [`TestEngine::advance`] moves the clock and
/// runs what woke; [`TestEngine::get`] reads a run and its journal again. Functions that take
/// `Dep<T>` get their state from [`TestEngine::builder`]:
///
/// ```
/// use hookflow::prelude::*;
/// use hookflow::store::RunStatus;
/// use hookflow::testing::TestEngine;
/// use hookflow::RawEvent;
///
/// struct Greeting(&'static str);
///
/// #[inngest_fn(id = "greet", event = "app/greet")]
/// async fn greet(event: Event<Json>, greeting: Dep<Greeting>) -> Result<String> {
///     Ok(format!("{} {}", greeting.0, event.data["name"].as_str().unwrap_or("?")))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let t = TestEngine::builder(&[greet::DEF]).state(Greeting("hello")).start().await;
/// let run = t.run(greet::DEF, RawEvent::new("app/greet", serde_json::json!({"name": "Ada"}))).await;
/// assert_eq!(run.record.status, RunStatus::Completed);
/// assert_eq!(run.record.output, Some(serde_json::json!("hello Ada")));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TestEngine {
    /// The engine.
    pub engine: Engine,
    /// The clock; [`TestEngine::advance`] moves it.
    pub clock: TestClock,
}

/// A run and its journal.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run.
    pub record: RunRecord,
    /// Its journal, in recording order.
    pub journal: Vec<StepRecord>,
}

impl RunOutcome {
    /// The journal entry of the step with this user id (its first occurrence).
    pub fn step(&self, name: &str) -> Option<&StepRecord> {
        self.journal.iter().find(|s| s.name == name)
    }
}

impl TestEngine {
    /// An engine running only `functions`.
    pub async fn new(functions: &[&'static FunctionDef]) -> Self {
        TestEngine::build(functions, Arc::new(MemoryStore::new()), State::default()).await
    }

    /// Sets up an engine running only `functions`, with state for their `Dep<T>` parameters
    /// (see the example on [`TestEngine`]):
    /// `TestEngine::builder(&[sync_user::DEF]).state(FakeDb::default()).start().await`.
    pub fn builder(functions: &[&'static FunctionDef]) -> TestEngineBuilder {
        TestEngineBuilder { functions: functions.to_vec(), store: None, clock: None, state: State::default() }
    }

    /// An engine running only `functions` on `store`, with shared `state`.
    ///
    /// # Panics
    /// When two functions share an id, or the store cannot be read: test set-up errors.
    pub async fn build(functions: &[&'static FunctionDef], store: Arc<dyn Store>, state: State) -> Self {
        TestEngine::start(functions, store, state, TestClock::starting_now()).await
    }

    async fn start(functions: &[&'static FunctionDef], store: Arc<dyn Store>, state: State, clock: TestClock) -> Self {
        let mut registry = Registry::empty();
        for def in functions {
            if let Err(e) = registry.add(def) {
                panic!("{e}");
            }
        }
        let engine = match EngineBuilder::new("test", registry)
            .store(store)
            .clock(Arc::new(clock.clone()))
            .state(state)
            .start()
            .await
        {
            Ok(engine) => engine,
            Err(e) => panic!("the test engine could not start: {e}"),
        };
        TestEngine { engine, clock }
    }

    /// Sends events and waits until the runs they start have suspended or ended.
    ///
    /// # Panics
    /// When the events cannot be sent.
    pub async fn send<I>(&self, events: I) -> Vec<String>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        let ids = match self.engine.send(events).await {
            Ok(ids) => ids,
            Err(e) => panic!("send failed: {e}"),
        };
        self.engine.settle().await;
        ids
    }

    /// Sends one event and returns the run it started for `function`, once it suspended or ended.
    ///
    /// # Panics
    /// When the event starts no run of `function`.
    pub async fn run(&self, function: &'static FunctionDef, event: impl IntoRawEvent) -> RunOutcome {
        let ids = self.send([event]).await;
        let event_id = ids.first().cloned().unwrap_or_default();
        match self.run_for(&event_id, function.id).await {
            Some(run) => run,
            None => panic!("event `{event_id}` started no run of `{}`", function.id),
        }
    }

    /// The run of `function_id` that `event_id` started, with its journal.
    pub async fn run_for(&self, event_id: &str, function_id: &str) -> Option<RunOutcome> {
        let query = RunQuery {
            event_id: Some(event_id.to_owned()),
            function_id: Some(function_id.to_owned()),
            ..RunQuery::default()
        };
        let record = self.engine.store().queries()?.list_runs(&query).await.ok()?.into_iter().next()?;
        self.outcome(record).await
    }

    /// A run by id, with its journal, as it is now.
    pub async fn get(&self, run_id: &str) -> Option<RunOutcome> {
        let record = self.engine.store().run(run_id).await.ok()??;
        self.outcome(record).await
    }

    async fn outcome(&self, record: RunRecord) -> Option<RunOutcome> {
        let journal = self.engine.store().journal(&record.id).await.ok()?;
        Some(RunOutcome { record, journal })
    }

    /// Every run of a function, newest first.
    pub async fn runs(&self, function_id: &str) -> Vec<RunRecord> {
        let query = RunQuery { function_id: Some(function_id.to_owned()), limit: 1000, ..RunQuery::default() };
        match self.engine.store().queries() {
            Some(queries) => queries.list_runs(&query).await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Moves the clock forward and waits until the runs it woke have suspended or ended.
    pub async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.engine.settle().await;
    }

    /// Waits until no run is executing or due.
    pub async fn settle(&self) {
        self.engine.settle().await;
    }
}
