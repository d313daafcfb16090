//! The embedded engine: accepts events, fans them out into runs, and executes runs from the
//! store's work queue.
//!
//! - `ingest`: an event becomes the runs it triggers, the waiting steps it resolves and the
//!   runs it cancels, committed together (`Core::send`).
//! - `scheduler`: claims due runs with a lease (or takes the runs it just created), executes
//!   a pass of each, and renews the leases it holds.
//! - `execute`: one pass of a claimed run: load it, resolve the timers that came due, run the
//!   function through its executor, and hand the report to `apply`.
//! - `apply`: the one place a pass's report becomes writes: journal entries, the run's new
//!   state and due time, matchers, system events, invoked runs, the caller's resumption, all in
//!   one ack fenced by the lease.
//!
//! Nothing that matters lives only in memory: timers are due times in the store, waits and
//! `cancel_on` conditions are stored matchers, cancellations are stored requests. Several
//! engines can share one store; each executes what it claims.

mod apply;
mod cron;
mod execute;
mod flow;
mod host;
mod ingest;
mod scheduler;
mod trigger_event;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::event::{IntoRawEvent, RawEvent};
use crate::expr::Exprs;
use crate::function::FunctionSpec;
use crate::invocation::State;
use crate::model::{Cancellation, CancelledBy, EventSource, RunStatus};
use crate::registry::{FunctionConflict, Functions, Registry};
use crate::store::{ClaimFor, FlowControl, Lease, Store, StoreError};

#[cfg(feature = "server")]
pub(crate) use cron::next_tick_of as next_cron_tick;
pub(crate) use trigger_event::TriggerEvent;

/// Passes executing at once, at most: bounds memory under a burst.
const MAX_CONCURRENT_PASSES: usize = 4096;
/// How many passes may wait for their ack's group without holding one of the
/// [`MAX_CONCURRENT_PASSES`] slots (stores that group acks): beyond it a pass keeps its slot, so
/// a writer that falls behind slows new passes down instead of queueing acks without bound.
const MAX_ACKS_WAITING: usize = 4096;
/// How long a lease lasts unless renewed.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How many passes of one run in a row may be interrupted (their worker died, hung or lost
/// the store before acknowledging) before the engine fails the run, by default.
pub const DEFAULT_MAX_INTERRUPTED_PASSES: u32 = 5;

/// Something changed: for live views.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An event was accepted.
    Event {
        /// The event id.
        id: String,
        /// The event name.
        name: String,
    },
    /// A run changed status.
    Run {
        /// The run id.
        id: String,
        /// The function.
        function_id: String,
        /// The new status.
        status: RunStatus,
    },
}

/// Events could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// An event is not valid.
    #[error("event {index} is invalid: {message}")]
    Invalid {
        /// Its position in the batch.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The store failed; nothing was accepted.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
}

/// The engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Two functions want one id.
    #[error(transparent)]
    Conflict(#[from] FunctionConflict),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A function uses flow control the store cannot enforce.
    #[error(
        "function `{function}` sets `{option}`, which this store does not enforce yet: remove it, or use the \
         SQLite or memory store"
    )]
    FlowControlUnsupported {
        /// The function.
        function: String,
        /// The option (`concurrency`, `throttle`, `priority`, `rate_limit`, `idempotency`,
        /// `singleton`, `debounce` or `batch_events`).
        option: &'static str,
    },
}

/// The engine's shared state.
pub(crate) struct Core {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    functions: RwLock<Arc<Functions>>,
    /// What this engine claims: the ids of its functions.
    claim: RwLock<ClaimFor>,
    pub(crate) exprs: Exprs,
    pub(crate) state: Arc<State>,
    /// This engine's number in the process, to route captured step logs.
    pub(crate) instance: u64,
    app_id: String,
    lease: Duration,
    /// See [`EngineBuilder::max_interrupted_passes`].
    pub(crate) max_interrupted: u32,
    /// The runtime the engine was started on: its tasks live there, whoever calls it.
    runtime: tokio::runtime::Handle,
    passes: Arc<Semaphore>,
    /// Passes waiting for their ack's group with their slot given back (`MAX_ACKS_WAITING`).
    acks_waiting: Arc<Semaphore>,
    /// Passes in flight, and claims in progress.
    active: AtomicUsize,
    /// Bumped by every claim, pass end and acceptance: lets `settle` see that nothing moved.
    epoch: AtomicU64,
    idle: Notify,
    /// A pass ended: there is room to claim again.
    room: Notify,
    stopping: AtomicBool,
    stop: Notify,
    /// Leases this engine holds, renewed while their passes run.
    held: Mutex<std::collections::HashMap<String, Lease>>,
    loops: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The earliest cron tick the cron loop waits for (`Millis::MAX`: none; `Millis::MIN`: it
    /// has not looked yet), so that `settle` waits for the ticks a clock advance makes due.
    cron_next: AtomicI64,
    /// The task that writes step logs (see `logs::register`).
    log_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    changes: broadcast::Sender<Change>,
    /// Calls the apps that serve remote functions (the Inngest protocol's executor side).
    #[cfg(feature = "protocol")]
    pub(crate) dispatcher: crate::protocol::executor::Dispatcher,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("app_id", &self.app_id).field("functions", &self.functions().len()).finish()
    }
}

/// A handle to a running engine. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) core: Arc<Core>,
}

/// Configures an [`Engine`].
pub struct EngineBuilder {
    app_id: String,
    registry: Registry,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    state: State,
    lease: Duration,
    max_interrupted: u32,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder").field("app_id", &self.app_id).finish()
    }
}

impl EngineBuilder {
    /// An engine for the functions of `registry`.
    pub fn new(app_id: impl Into<String>, registry: Registry) -> Self {
        EngineBuilder {
            app_id: app_id.into(),
            registry,
            store: None,
            clock: Arc::new(SystemClock),
            state: State::default(),
            lease: DEFAULT_LEASE,
            max_interrupted: DEFAULT_MAX_INTERRUPTED_PASSES,
        }
    }

    /// The store (default: in memory).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Shared state for `Dep<T>` parameters.
    #[must_use]
    pub fn state(mut self, state: State) -> Self {
        self.state = state;
        self
    }

    /// How long a claimed run stays this engine's without a renewal (default 30 s): after a
    /// crash, another engine on the same store takes the run over once it expires. Leases are
    /// renewed every third of it while a pass runs, and measured on the store's clock.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// How many passes of one run in a row may be interrupted before the run is failed
    /// (default [`DEFAULT_MAX_INTERRUPTED_PASSES`]). A pass is interrupted when its lease ends
    /// without an acknowledgement: the process was killed or crashed, hung, or lost the store.
    /// A run whose step takes its process down every time (it aborts, exhausts memory, loops)
    /// would otherwise be claimed again forever, taking down worker after worker; past the
    /// limit its next claim fails it with `InterruptedTooOften`, and `on_failure` runs. A
    /// completed pass starts the count again. The memory and SQLite stores count interruptions
    /// within one process (a kill of the only process is not seen); the Postgres store counts
    /// them across every worker.
    ///
    /// ```
    /// # use hookflow::{engine::EngineBuilder, Registry};
    /// let builder = EngineBuilder::new("my-app", Registry::empty()).max_interrupted_passes(3);
    /// ```
    #[must_use]
    pub fn max_interrupted_passes(mut self, passes: u32) -> Self {
        self.max_interrupted = passes.max(1);
        self
    }

    /// Starts the engine: it begins claiming the store's due runs (those a previous process
    /// left unfinished among them). Must be called inside a tokio runtime, which the engine's
    /// tasks then run on.
    pub async fn start(self) -> Result<Engine, StartError> {
        let functions = Functions::from_registry(&self.registry)?;
        let (changes, _) = broadcast::channel(4096);
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(crate::store::MemoryStore::new()));
        // Accepted and ignored would be worse than refused.
        for spec in functions.iter() {
            let o = &spec.options;
            let unsupported = FlowControl::ALL.into_iter().find(|&option| {
                let set = match option {
                    FlowControl::Concurrency => !o.concurrency.is_empty(),
                    FlowControl::Throttle => !o.throttle.is_empty(),
                    FlowControl::Priority => o.priority.is_some(),
                    FlowControl::RateLimit => o.rate_limit.is_some(),
                    FlowControl::Idempotency => o.idempotency.is_some(),
                    FlowControl::Singleton => o.singleton.is_some(),
                    FlowControl::Debounce => o.debounce.is_some(),
                    FlowControl::BatchEvents => o.batch_events.is_some(),
                };
                set && !store.enforces(option)
            });
            if let Some(option) = unsupported {
                return Err(StartError::FlowControlUnsupported {
                    function: spec.id.clone(),
                    option: option.option_name(),
                });
            }
        }
        let (instance, log_task) = crate::logs::register(store.clone());
        let worker = format!("{}-{}", self.app_id, new_id());
        let claim = ClaimFor { worker, functions: function_ids(&functions), ttl: self.lease };
        let core = Arc::new(Core {
            clock: self.clock,
            store,
            functions: RwLock::new(Arc::new(functions)),
            claim: RwLock::new(claim),
            exprs: Exprs::default(),
            state: Arc::new(self.state),
            instance,
            app_id: self.app_id,
            lease: self.lease,
            max_interrupted: self.max_interrupted,
            runtime: tokio::runtime::Handle::current(),
            passes: Arc::new(Semaphore::new(MAX_CONCURRENT_PASSES)),
            acks_waiting: Arc::new(Semaphore::new(MAX_ACKS_WAITING)),
            active: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            idle: Notify::new(),
            room: Notify::new(),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            held: Mutex::new(std::collections::HashMap::new()),
            loops: Mutex::new(Vec::new()),
            log_task: Mutex::new(Some(log_task)),
            // `MIN` until the loop has looked for the first time.
            cron_next: AtomicI64::new(crate::model::Millis::MIN),
            changes,
            #[cfg(feature = "protocol")]
            dispatcher: crate::protocol::executor::Dispatcher::new(),
        });
        core.rearm_legacy_runs().await?;
        let scheduler = core.runtime.spawn(core.clone().schedule_loop());
        let renewals = core.runtime.spawn(core.clone().renew_loop());
        let cron = core.runtime.spawn(core.clone().cron_loop(core.clock.now_ms()));
        core.loops.lock().extend([scheduler, renewals, cron]);
        if let Some(changes) = core.store.changes() {
            let relay = core.runtime.spawn(core.clone().relay_loop(changes));
            core.loops.lock().push(relay);
        }
        Ok(Engine { core })
    }
}

fn function_ids(functions: &Functions) -> Arc<[String]> {
    functions.iter().map(|f| f.id.clone()).collect::<Vec<_>>().into()
}

impl Engine {
    /// Configures an engine for the functions of `registry`.
    pub fn builder(app_id: impl Into<String>, registry: Registry) -> EngineBuilder {
        EngineBuilder::new(app_id, registry)
    }

    /// Sends events: committed (with the runs they start) before this returns. An event whose
    /// id was already accepted starts nothing. Returns the event ids.
    pub async fn send<I>(&self, events: I) -> Result<Vec<String>, Error>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        let raws = events.into_iter().map(IntoRawEvent::into_raw_event).collect::<Result<Vec<_>, _>>()?;
        Ok(self.core.send(raws, EventSource::Code).await?)
    }

    /// [`Engine::send`], answering also which functions skipped the events and why (a rate
    /// limit, an idempotency key, a singleton): those functions will not run for them.
    pub async fn send_receipt<I>(&self, events: I) -> Result<crate::model::SendReceipt, Error>
    where
        I: IntoIterator,
        I::Item: IntoRawEvent,
    {
        let raws = events.into_iter().map(IntoRawEvent::into_raw_event).collect::<Result<Vec<_>, _>>()?;
        Ok(self.core.send_receipt(raws, EventSource::Code).await?)
    }

    /// Sends untyped events from a given source.
    pub async fn send_raw(&self, events: Vec<RawEvent>, source: EventSource) -> Result<Vec<String>, SendError> {
        self.core.send(events, source).await
    }

    /// Cancels a run (as asked through the API). Returns false when it had already ended or
    /// does not exist.
    pub async fn cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        self.cancel_by(run_id, CancelledBy::Request { via: "api".into() }).await
    }

    /// Cancels a run, saying by what: at once when it is not executing, at its next step when
    /// it is. Returns false when it had already ended or does not exist.
    pub async fn cancel_by(&self, run_id: &str, by: CancelledBy) -> Result<bool, StoreError> {
        let cancellation = Cancellation { by, at: self.core.clock.now_ms() };
        let cancelled = self.core.store.request_cancel(run_id, cancellation).await?;
        self.core.bump();
        Ok(cancelled)
    }

    /// Sends a stored event again under a new id (source `replay`), optionally with new data:
    /// Replay and Edit & Replay. Returns the new event's id.
    pub async fn replay_event(&self, event_id: &str, data: Option<Value>) -> Result<Option<String>, SendError> {
        self.core.replay_event(event_id, data).await
    }

    /// Starts one run of a function (and of no other), with `data` as its event's payload:
    /// the dev UI's "Invoke". Returns the run id, or `None` when there is no such function.
    pub async fn invoke(&self, function_id: &str, data: Value) -> Result<Option<String>, SendError> {
        let Some(spec) = self.core.function(function_id) else { return Ok(None) };
        self.core.invoke(&spec, data, new_id(), None).await
    }

    /// Starts a new run of the same function with the same events. With `from_step` (a hashed
    /// step id), the steps recorded before it are copied into the new run, so it re-executes
    /// from that step on. Returns the new run's id.
    pub async fn rerun(&self, run_id: &str, from_step: Option<&str>) -> Result<Option<String>, SendError> {
        self.rerun_with(run_id, from_step, None).await
    }

    /// [`Engine::rerun`] with the triggering event's data replaced by `data`: the new run gets a
    /// new event (source `replay`) that starts it alone, committed with the copied steps.
    pub async fn rerun_with(
        &self,
        run_id: &str,
        from_step: Option<&str>,
        data: Option<Value>,
    ) -> Result<Option<String>, SendError> {
        self.core.rerun(run_id, from_step, data).await
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.core.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.core.clock
    }

    /// The functions this engine runs (with the synthetic `on_failure` ones), as they are now.
    pub fn functions(&self) -> Arc<Functions> {
        self.core.functions()
    }

    /// Replaces the functions of a synced app (see [`Functions::sync_app`]); this engine then
    /// claims their runs.
    pub fn sync_app(&self, app_id: &str, specs: Vec<FunctionSpec>) -> Result<(), FunctionConflict> {
        self.core.sync_app(app_id, specs)
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.core.app_id
    }

    /// How this engine calls the apps that serve its remote functions (signing keys, retry
    /// interval, checkpointing).
    #[cfg(feature = "protocol")]
    pub fn dispatcher(&self) -> &crate::protocol::executor::Dispatcher {
        &self.core.dispatcher
    }

    /// Live changes (events accepted, run statuses).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.core.changes.subscribe()
    }

    /// Resolves once no pass is executing and no run of this engine's functions is due (runs
    /// may still be sleeping or waiting).
    pub async fn settle(&self) {
        self.core.settle().await;
    }

    /// Stops claiming runs and lets the passes in flight end at their next step (committing
    /// what they did; their runs are due again at once), waiting at most `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.core.shutdown(grace).await;
    }

    /// Numbers about the engine's in-memory state.
    pub fn stats(&self) -> EngineStats {
        EngineStats { executing: self.core.active.load(Ordering::SeqCst), leases: self.core.held.lock().len() }
    }
}

/// The engine's in-memory state, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Passes in flight (and claims in progress).
    pub executing: usize,
    /// Leases held.
    pub leases: usize,
}

/// A new id that sorts after every id made before it in this process (ULIDs made within the
/// same millisecond are otherwise in random order, and lists sort runs by id).
pub(crate) fn new_id() -> String {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut guard = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // Overflow (2^80 ids in one millisecond) cannot happen in practice; fall back to random.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new()).to_string()
}

impl Core {
    pub(crate) fn functions(&self) -> Arc<Functions> {
        self.functions.read().clone()
    }

    pub(crate) fn function(&self, id: &str) -> Option<Arc<FunctionSpec>> {
        self.functions.read().get(id).cloned()
    }

    pub(crate) fn claim_for(&self) -> ClaimFor {
        self.claim.read().clone()
    }

    fn sync_app(&self, app_id: &str, specs: Vec<FunctionSpec>) -> Result<(), FunctionConflict> {
        let mut functions = (*self.functions()).clone();
        functions.sync_app(app_id, specs)?;
        self.claim.write().functions = function_ids(&functions);
        *self.functions.write() = Arc::new(functions);
        // Runs of the new functions may be due already.
        self.store.work_signal().notify_waiters();
        Ok(())
    }

    /// Passes on the changes other processes make to a shared store.
    async fn relay_loop(self: Arc<Self>, mut changes: broadcast::Receiver<Change>) {
        loop {
            match changes.recv().await {
                Ok(change) => self.notify(change),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    pub(crate) fn notify(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// Marks that something moved (see `settle`).
    pub(crate) fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Arms again the `cancel_on` conditions of the runs a store migrated from an earlier
    /// version (which kept them in memory only). Runs of functions this engine does not have
    /// are left for the engine that has them.
    async fn rearm_legacy_runs(&self) -> Result<(), StoreError> {
        for run in self.store.legacy_runs().await? {
            let Some(spec) = self.function(&run.function_id) else { continue };
            let events: Vec<RawEvent> =
                self.store.events(&run.event_ids).await?.into_iter().map(|e| e.into_raw()).collect();
            let matchers = self.cancel_matchers(&spec, &run, &*TriggerEvent::new(Arc::from(events)));
            self.store.rearm(&run.id, matchers).await?;
        }
        Ok(())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

#[cfg(feature = "server")]
impl crate::webhook::sink::EventSink for Engine {
    fn accept(
        &self,
        events: Vec<RawEvent>,
        source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<Vec<String>, crate::webhook::sink::SinkError>> {
        Box::pin(async move { Ok(self.accept_receipt(events, source).await?.ids) })
    }

    fn accept_receipt(
        &self,
        events: Vec<RawEvent>,
        source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<crate::model::SendReceipt, crate::webhook::sink::SinkError>> {
        Box::pin(async move {
            self.core.send_receipt(events, source).await.map_err(|e| match e {
                SendError::Invalid { .. } => crate::webhook::sink::SinkError::Rejected(e.to_string()),
                SendError::Store(_) | SendError::ShuttingDown => {
                    crate::webhook::sink::SinkError::Unavailable(e.to_string())
                }
            })
        })
    }
}
