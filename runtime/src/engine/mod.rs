//! The embedded engine: accepts events, fans them out into runs, drives runs in-process,
//! and wakes suspended runs on timers and events.

mod driver;
mod index;
mod trigger_event;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::clock::{Clock, Millis, SystemClock};
use crate::error::{Error, ErrorInfo};
use crate::event::{IntoRawEvent, RawEvent};
use crate::expr::Exprs;
use crate::function::{FunctionDef, Trigger};
use crate::invocation::State;
use crate::registry::Registry;
use crate::store::{
    Accepted, Memo, NewEvent, ParentRef, PendingOp, RunRecord, RunState, RunStatus, RunUpdate, StepKind, StepRecord,
    Store, StoreError, StoredEvent,
};
use crate::webhook::EventSource;

use index::{MatchIndex, Timers, Waiter};
pub(crate) use trigger_event::TriggerEvent;

/// Runs executing at once, at most: bounds memory under a burst.
const MAX_CONCURRENT_PASSES: usize = 4096;
/// How long a run waits before a pass is retried after the store failed.
const STORE_RETRY_MS: Millis = 1_000;

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

/// Data for a run's first pass that the engine already has in memory.
pub(crate) struct Preload {
    run: RunRecord,
    /// Shared by the event's runs.
    trigger: Arc<TriggerEvent>,
}

struct Slot {
    again: bool,
}

/// Trigger index entry.
struct Listener {
    function: &'static FunctionDef,
    expr: Option<&'static str>,
}

/// The engine's shared state.
pub(crate) struct Core {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Registry,
    pub(crate) exprs: Exprs,
    pub(crate) state: Arc<State>,
    /// This engine's number in the process, to route captured step logs.
    pub(crate) instance: u64,
    app_id: String,
    listeners: HashMap<String, Vec<Listener>>,
    slots: Mutex<HashMap<String, Slot>>,
    cancelled: Mutex<HashSet<String>>,
    timers: Mutex<Timers>,
    timer_changed: Notify,
    waits: Mutex<MatchIndex>,
    cancels: Mutex<MatchIndex>,
    passes: Semaphore,
    active: AtomicUsize,
    idle: Notify,
    stopping: AtomicBool,
    changes: broadcast::Sender<Change>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("functions", &self.registry.len()).finish()
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

    /// Starts the engine: resumes every run the store holds that has not ended, and starts
    /// the timer loop. Must be called inside a tokio runtime.
    pub async fn start(self) -> Result<Engine, StoreError> {
        let mut registry = self.registry;
        let failure_handlers: Vec<&'static FunctionDef> =
            registry.iter().filter(|d| d.on_failure.is_some()).map(failure_function).collect();
        for def in failure_handlers {
            if let Err(e) = registry.add(def) {
                tracing::error!(error = %e, "on_failure handler clashes with a function id; it is not registered");
            }
        }
        let mut listeners: HashMap<String, Vec<Listener>> = HashMap::new();
        for def in registry.iter() {
            for trigger in def.triggers {
                if let Trigger::Event { name, expr } = trigger {
                    listeners.entry((*name).to_owned()).or_default().push(Listener { function: def, expr: *expr });
                }
            }
        }
        let (changes, _) = broadcast::channel(4096);
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(crate::store::MemoryStore::new()));
        let instance = crate::logs::register(store.clone());
        let core = Arc::new(Core {
            clock: self.clock,
            store,
            instance,
            registry,
            exprs: Exprs::default(),
            state: Arc::new(self.state),
            app_id: self.app_id,
            listeners,
            slots: Mutex::new(HashMap::new()),
            cancelled: Mutex::new(HashSet::new()),
            timers: Mutex::new(Timers::default()),
            timer_changed: Notify::new(),
            waits: Mutex::new(MatchIndex::default()),
            cancels: Mutex::new(MatchIndex::default()),
            passes: Semaphore::new(MAX_CONCURRENT_PASSES),
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            stopping: AtomicBool::new(false),
            changes,
        });
        core.recover().await?;
        tokio::spawn(core.clone().timer_loop());
        Ok(Engine { core })
    }
}

/// The synthetic function that runs a function's `on_failure` handler, as Inngest defines it:
/// `<id>-failure`, triggered by `inngest/function.failed` for that function.
fn failure_function(def: &'static FunctionDef) -> &'static FunctionDef {
    let id: &'static str = Box::leak(format!("{}-failure", def.id).into_boxed_str());
    let expr: &'static str = Box::leak(format!("event.data.function_id == '{}'", def.id).into_boxed_str());
    let name: &'static str = Box::leak(format!("{} (on failure)", def.display_name()).into_boxed_str());
    let triggers: &'static [Trigger] =
        Box::leak(vec![Trigger::Event { name: "inngest/function.failed", expr: Some(expr) }].into_boxed_slice());
    Box::leak(Box::new(FunctionDef {
        id,
        name: Some(name),
        triggers,
        options: crate::function::Options { retries: def.options.retries, ..crate::function::Options::DEFAULT },
        handler: def.on_failure.unwrap_or(def.handler),
        on_failure: None,
        location: def.location,
    }))
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

    /// Sends untyped events from a given source.
    pub async fn send_raw(&self, events: Vec<RawEvent>, source: EventSource) -> Result<Vec<String>, SendError> {
        self.core.send(events, source).await
    }

    /// Cancels a run. Returns false when it had already ended or does not exist.
    pub async fn cancel(&self, run_id: &str) -> Result<bool, StoreError> {
        self.core.cancel(run_id).await
    }

    /// Sends a stored event again under a new id (source `replay`), optionally with new data:
    /// Replay and Edit & Replay. Returns the new event's id.
    pub async fn replay_event(&self, event_id: &str, data: Option<Value>) -> Result<Option<String>, SendError> {
        let Some(event) = self.core.store.events(&[event_id.to_owned()]).await?.pop() else { return Ok(None) };
        let mut raw = event.to_raw();
        raw.id = String::new();
        raw.ts = 0;
        if let Some(data) = data {
            raw.data = data.into();
        }
        let ids = self.core.send(vec![raw], EventSource::Replay).await?;
        Ok(ids.into_iter().next())
    }

    /// Starts one run of a function (and of no other), with `data` as its event's payload:
    /// the dev UI's "Invoke". Returns the run id, or `None` when there is no such function.
    pub async fn invoke(&self, function_id: &str, data: Value) -> Result<Option<String>, SendError> {
        let Some(function) = self.core.registry.get(function_id) else { return Ok(None) };
        let (_, run) = self.core.invoke(function, data, new_id(), None).await?;
        Ok(run)
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
        let core = &self.core;
        let Some(old) = core.store.run(run_id).await? else { return Ok(None) };
        let Some(def) = core.registry.get(&old.function_id) else {
            return Err(SendError::Invalid {
                index: 0,
                message: format!("function `{}` is not registered in this app", old.function_id),
            });
        };
        let old_events = core.store.events(&old.event_ids).await?;
        let mut run = core.new_run(def, old.event_ids.clone(), None);
        run.rerun_of = Some(old.id.clone());
        let mut events = Vec::new();
        if let Some(data) = data {
            let Some(first) = old_events.first() else {
                return Err(SendError::Invalid { index: 0, message: format!("run `{run_id}` has no event to edit") });
            };
            let now = core.clock.now_ms();
            let event = StoredEvent {
                id: new_id(),
                name: first.name.clone(),
                data: data.into(),
                ts: now,
                user: first.user.clone(),
                source: EventSource::Replay,
                received_at: now,
            };
            run.event_ids = vec![event.id.clone()];
            events.push(NewEvent { event, runs: vec![run.clone()], embeds: None });
        }
        let mut steps = Vec::new();
        if let Some(from) = from_step {
            let journal = core.store.journal(run_id).await?;
            let Some(cut) = journal.iter().position(|s| s.hash == from) else {
                return Err(SendError::Invalid {
                    index: 0,
                    message: format!("run `{run_id}` has no recorded step `{from}`"),
                });
            };
            steps = journal
                .into_iter()
                .take(cut)
                .map(|mut s| {
                    s.run_id = run.id.clone();
                    s
                })
                .collect();
        }
        // The new event (with its run) and the copied steps are one commit.
        let run_record = if events.is_empty() { Some(run.clone()) } else { None };
        core.store.save(vec![RunUpdate { steps, run: run_record, events: events.clone() }]).await?;
        let id = run.id.clone();
        let trigger = match events.first() {
            Some(new) => Some(new.event.to_raw()),
            None => old_events.first().map(StoredEvent::to_raw),
        };
        if let Some(trigger) = trigger {
            core.arm_cancels(&run, &TriggerEvent::new(Arc::from(vec![trigger])));
        }
        for new in &events {
            core.notify(Change::Event { id: new.event.id.clone(), name: new.event.name.clone() });
        }
        core.notify(Change::Run { id: id.clone(), function_id: run.function_id.clone(), status: run.status });
        core.schedule(id.clone(), None);
        Ok(Some(id))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.core.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.core.clock
    }

    /// The registered functions (with the synthetic `on_failure` ones).
    pub fn registry(&self) -> &Registry {
        &self.core.registry
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.core.app_id
    }

    /// Live changes (events accepted, run statuses).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.core.changes.subscribe()
    }

    /// Resolves once no run is executing or due (runs may still be sleeping or waiting).
    pub async fn settle(&self) {
        loop {
            let notified = self.core.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let due = {
                let timers = self.core.timers.lock();
                timers.next_due().is_some_and(|t| t <= self.core.clock.now_ms())
            };
            if self.core.active.load(Ordering::SeqCst) == 0 && !due {
                return;
            }
            if due {
                self.core.timer_changed.notify_one();
            }
            notified.await;
        }
    }

    /// Stops starting new passes and waits for the running ones to reach a safe point (their
    /// current step committed), at most `grace`.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.core.stopping.store(true, Ordering::SeqCst);
        self.core.timer_changed.notify_one();
        let _ = tokio::time::timeout(grace, async {
            while self.core.active.load(Ordering::SeqCst) > 0 {
                let notified = self.core.idle.notified();
                if self.core.active.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        })
        .await;
    }

    /// Numbers about the engine's in-memory state.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            executing: self.core.active.load(Ordering::SeqCst),
            timers: self.core.timers.lock().len(),
            waiting_runs: self.core.waits.lock().runs(),
            cancellable_runs: self.core.cancels.lock().runs(),
        }
    }
}

/// The engine's in-memory state, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Runs with a pass in progress or queued.
    pub executing: usize,
    /// Timer entries.
    pub timers: usize,
    /// Runs waiting for an event.
    pub waiting_runs: usize,
    /// Runs with an armed `cancel_on`.
    pub cancellable_runs: usize,
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
    pub(crate) fn is_cancelled(&self, run_id: &str) -> bool {
        self.cancelled.lock().contains(run_id)
    }

    pub(crate) fn notify(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// The functions an event starts.
    fn matching(&self, event: &RawEvent, json: &mut Option<Value>) -> Vec<&'static FunctionDef> {
        let Some(listeners) = self.listeners.get(&event.name) else { return Vec::new() };
        let mut out: Vec<&'static FunctionDef> = Vec::new();
        for l in listeners {
            if out.iter().any(|f| std::ptr::eq(*f, l.function)) {
                continue;
            }
            let matches = match l.expr {
                None => true,
                Some(expr) => match self.exprs.test(expr, &[("event", json.get_or_insert_with(|| event.to_json()))]) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(function_id = l.function.id, event = %event.name, error = %e, "trigger expression failed; function skipped");
                        false
                    }
                },
            };
            if matches {
                out.push(l.function);
            }
        }
        out
    }

    fn new_run(&self, function: &'static FunctionDef, event_ids: Vec<String>, parent: Option<ParentRef>) -> RunRecord {
        RunRecord {
            id: new_id(),
            function_id: function.id.to_owned(),
            event_ids,
            status: RunStatus::Queued,
            attempt: 0,
            created_at: self.clock.now_ms(),
            started_at: None,
            ended_at: None,
            output: None,
            error: None,
            wake_at: None,
            state: RunState::default(),
            parent,
            rerun_of: None,
        }
    }

    /// Prepares an event for storage: id and timestamp filled in, the runs it starts. Its JSON
    /// form is built only if a trigger expression reads it, and returned for reuse.
    fn prepare(
        &self,
        mut raw: RawEvent,
        source: EventSource,
        index: usize,
    ) -> Result<(NewEvent, Option<Value>), SendError> {
        crate::event_rules::check(&mut raw, source)
            .map_err(|e| SendError::Invalid { index, message: e.to_string() })?;
        if raw.name.trim().is_empty() {
            return Err(SendError::Invalid { index, message: "the event has no `name`".into() });
        }
        let now = self.clock.now_ms();
        if raw.id.is_empty() {
            raw.id = new_id();
        }
        if raw.ts == 0 {
            raw.ts = now;
        }
        let mut json = None;
        let runs =
            self.matching(&raw, &mut json).into_iter().map(|f| self.new_run(f, vec![raw.id.clone()], None)).collect();
        let event = StoredEvent {
            id: raw.id,
            name: raw.name,
            data: raw.data,
            ts: raw.ts,
            user: raw.user,
            source,
            received_at: now,
        };
        Ok((NewEvent { event, runs, embeds: None }, json))
    }

    pub(crate) async fn send(
        self: &Arc<Self>,
        raws: Vec<RawEvent>,
        source: EventSource,
    ) -> Result<Vec<String>, SendError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(SendError::ShuttingDown);
        }
        let mut batch = Vec::with_capacity(raws.len());
        for (i, raw) in raws.into_iter().enumerate() {
            batch.push(self.prepare(raw, source, i)?);
        }
        let ids = batch.iter().map(|(e, _)| e.event.id.clone()).collect();
        let (events, jsons): (Vec<NewEvent>, Vec<Option<Value>>) = batch.into_iter().unzip();
        let accepted = self.store.accept(&events).await?;
        self.after_accept(events, jsons, accepted).await;
        Ok(ids)
    }

    /// After events are committed: start their runs, resolve waits, apply `cancel_on`.
    async fn after_accept(self: &Arc<Self>, events: Vec<NewEvent>, jsons: Vec<Option<Value>>, accepted: Vec<Accepted>) {
        for ((new, json), acc) in events.into_iter().zip(jsons).zip(accepted) {
            if !acc.new {
                continue;
            }
            self.notify(Change::Event { id: new.event.id.clone(), name: new.event.name.clone() });
            let name = new.event.name.clone();
            let trigger = TriggerEvent::with_json(Arc::from(vec![new.event.into_raw()]), json);
            for run in new.runs.into_iter().filter(|r| acc.runs.contains(&r.id)) {
                self.arm_cancels(&run, &trigger);
                self.notify(Change::Run {
                    id: run.id.clone(),
                    function_id: run.function_id.clone(),
                    status: run.status,
                });
                let id = run.id.clone();
                self.schedule(id, Some(Preload { run, trigger: trigger.clone() }));
            }
            self.resolve_waits(&name, &trigger).await;
            self.apply_cancels(&name, &trigger).await;
        }
    }

    /// Arms a new or recovered run's `cancel_on` conditions.
    fn arm_cancels(&self, run: &RunRecord, trigger: &TriggerEvent) {
        let Some(def) = self.registry.get(&run.function_id) else { return };
        if def.options.cancel_on.is_empty() {
            return;
        }
        let mut cancels = self.cancels.lock();
        for c in def.options.cancel_on {
            let deadline = c.timeout.map_or(Millis::MAX, |t| run.created_at.saturating_add(crate::step::millis(t)));
            cancels.add(c.event, c.expr, trigger.json(), Waiter { run_id: run.id.clone(), step: None, deadline });
        }
    }

    async fn resolve_waits(self: &Arc<Self>, name: &str, incoming: &TriggerEvent) {
        let now = self.clock.now_ms();
        let matched = {
            let mut waits = self.waits.lock();
            if !waits.has_event(name) {
                return;
            }
            waits.take_matches(name, incoming.json(), now, &self.exprs)
        };
        for waiter in matched {
            let Some(step) = waiter.step else { continue };
            let record = StepRecord {
                run_id: waiter.run_id.clone(),
                hash: step,
                name: String::new(),
                kind: StepKind::Wait,
                memo: Memo::Data(incoming.json().as_ref().clone()),
                attempts: 1,
                started_at: now,
                ended_at: now,
            };
            match self.store.save(vec![RunUpdate { steps: vec![record], ..RunUpdate::default() }]).await {
                Ok(()) => self.schedule(waiter.run_id, None),
                Err(e) => {
                    // The wait stays pending in the store; the run wakes at its timeout.
                    tracing::error!(run_id = %waiter.run_id, error = %e, "could not record a matched event");
                }
            }
        }
    }

    async fn apply_cancels(self: &Arc<Self>, name: &str, incoming: &TriggerEvent) {
        let now = self.clock.now_ms();
        let matched = {
            let mut cancels = self.cancels.lock();
            if !cancels.has_event(name) {
                return;
            }
            cancels.take_matches(name, incoming.json(), now, &self.exprs)
        };
        for waiter in matched {
            if let Err(e) = self.cancel(&waiter.run_id).await {
                tracing::error!(run_id = %waiter.run_id, error = %e, "could not cancel a run");
            }
        }
    }

    /// Commits a step (and, on a pass's first commit, the run's `Running` status).
    pub(crate) async fn commit_step(&self, record: StepRecord, run: Option<RunRecord>) -> Result<(), StoreError> {
        self.store.save(vec![RunUpdate { steps: vec![record], run, events: Vec::new() }]).await
    }

    /// Starts a child run for `step.invoke`; returns the id of its triggering event.
    pub(crate) async fn start_invoke(
        self: &Arc<Self>,
        parent_run: &str,
        step: &str,
        function: &'static FunctionDef,
        data: Value,
    ) -> Result<String, SendError> {
        let id = crate::journal::hash_step_id(&format!("{parent_run}-{step}-invoke"));
        let parent = ParentRef { run_id: parent_run.to_owned(), step: step.to_owned() };
        self.invoke(function, data, id, Some(parent)).await.map(|(event, _)| event)
    }

    /// Starts one run of `function` (and of no other) with an `inngest/function.invoked` event
    /// carrying `data`. Returns the event id and the run id (`None` if the event id was taken).
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        function: &'static FunctionDef,
        data: Value,
        event_id: String,
        parent: Option<ParentRef>,
    ) -> Result<(String, Option<String>), SendError> {
        let mut data = match data {
            Value::Object(map) => map,
            Value::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        let source_run = parent.as_ref().map(|p| p.run_id.clone());
        let source_step = parent.as_ref().map(|p| p.step.clone());
        data.insert("_inngest".into(), json!({"fn_id": function.id, "source_run_id": source_run, "step": source_step}));
        let raw = RawEvent::new("inngest/function.invoked", Value::Object(data)).with_id(event_id.clone());
        let (mut new, json) = self.prepare(raw, EventSource::Internal, 0)?;
        new.runs = vec![self.new_run(function, vec![event_id.clone()], parent)];
        let events = vec![new];
        let accepted = self.store.accept(&events).await?;
        let run = accepted.first().and_then(|a| a.runs.first().cloned());
        self.after_accept(events, vec![json], accepted).await;
        Ok((event_id, run))
    }

    /// Cancels a run: immediately when it is suspended or queued, at its next step when it is
    /// executing.
    pub(crate) async fn cancel(self: &Arc<Self>, run_id: &str) -> Result<bool, StoreError> {
        let Some(run) = self.store.run(run_id).await? else { return Ok(false) };
        if run.status.is_terminal() {
            return Ok(false);
        }
        self.cancelled.lock().insert(run_id.to_owned());
        // A run with a pass in progress is finalised by its driver; otherwise do it here.
        self.schedule(run_id.to_owned(), None);
        Ok(true)
    }

    /// Ensures one pass of the run happens after this call (never two at once).
    pub(crate) fn schedule(self: &Arc<Self>, run_id: String, preload: Option<Preload>) {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get_mut(&run_id) {
            slot.again = true;
            return;
        }
        slots.insert(run_id.clone(), Slot { again: false });
        drop(slots);
        self.active.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(self.clone().drive(run_id, preload));
    }

    async fn drive(self: Arc<Self>, run_id: String, mut preload: Option<Preload>) {
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                self.slots.lock().remove(&run_id);
                break;
            }
            match self.passes.acquire().await {
                Ok(_permit) => {
                    if let Err(e) = driver::pass(&self, &run_id, preload.take()).await {
                        tracing::error!(run_id = %run_id, error = %e, "store failure during a run; retrying shortly");
                        self.wake_at(self.clock.now_ms() + STORE_RETRY_MS, run_id.clone());
                    }
                }
                Err(_) => break,
            }
            let mut slots = self.slots.lock();
            match slots.get_mut(&run_id) {
                Some(slot) if slot.again => slot.again = false,
                _ => {
                    slots.remove(&run_id);
                    break;
                }
            }
        }
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn wake_at(&self, at: Millis, run_id: String) {
        let mut timers = self.timers.lock();
        let earliest = timers.next_due().is_none_or(|t| at < t);
        timers.add(at, run_id);
        drop(timers);
        if earliest {
            self.timer_changed.notify_one();
        }
    }

    async fn timer_loop(self: Arc<Self>) {
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let now = self.clock.now_ms();
            // Scheduling under the timers lock: `settle` then sees either a due timer or an
            // active pass, never neither.
            let next = {
                let mut timers = self.timers.lock();
                for run_id in timers.pop_due(now) {
                    self.schedule(run_id, None);
                }
                timers.next_due()
            };
            let changed = self.timer_changed.notified();
            match next {
                Some(at) => {
                    tokio::select! {
                        () = self.clock.sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Registers what a suspended run waits on: its timer and its event waits.
    pub(crate) fn arm_suspension(&self, run: &RunRecord, trigger: &TriggerEvent) {
        if let Some(at) = run.wake_at {
            self.wake_at(at, run.id.clone());
        }
        let mut waits = self.waits.lock();
        waits.remove_run(&run.id);
        for op in &run.state.pending {
            if let PendingOp::Wait { step, spec, until, .. } = op {
                let waiter = Waiter { run_id: run.id.clone(), step: Some(step.clone()), deadline: *until };
                waits.add(&spec.event, spec.expr.as_deref(), trigger.json(), waiter);
            }
        }
    }

    /// Forgets an ended run's in-memory entries.
    pub(crate) fn forget(&self, run_id: &str) {
        self.waits.lock().remove_run(run_id);
        self.cancels.lock().remove_run(run_id);
        self.cancelled.lock().remove(run_id);
    }

    /// Rebuilds the in-memory indexes from the store and resumes what was in progress.
    async fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        let runs = self.store.active_runs().await?;
        if runs.is_empty() {
            return Ok(());
        }
        tracing::info!(runs = runs.len(), "resuming runs that had not ended");
        let mut triggers: HashMap<String, Arc<TriggerEvent>> = HashMap::new();
        let needs_trigger = |r: &RunRecord| {
            r.state.pending.iter().any(|op| matches!(op, PendingOp::Wait { .. }))
                || self.registry.get(&r.function_id).is_some_and(|d| !d.options.cancel_on.is_empty())
        };
        let wanted: Vec<String> =
            runs.iter().filter(|r| needs_trigger(r)).filter_map(|r| r.event_ids.first().cloned()).collect();
        for chunk in wanted.chunks(500) {
            for event in self.store.events(chunk).await? {
                triggers.insert(event.id.clone(), TriggerEvent::new(Arc::from(vec![event.into_raw()])));
            }
        }
        let empty = TriggerEvent::new(Arc::from(Vec::new()));
        for run in runs {
            if self.registry.get(&run.function_id).is_none() {
                // Another app (or an older build) owns it: leave it for the app that has it.
                tracing::warn!(run_id = %run.id, function_id = %run.function_id, "not resuming a run of a function this app does not have");
                continue;
            }
            let trigger = run.event_ids.first().and_then(|id| triggers.get(id)).unwrap_or(&empty).clone();
            self.arm_cancels(&run, &trigger);
            match run.status {
                RunStatus::Queued | RunStatus::Running if run.wake_at.is_none() => self.schedule(run.id.clone(), None),
                _ => {
                    let mut run = run;
                    if run.wake_at.is_none() {
                        run.wake_at = Some(self.clock.now_ms());
                    }
                    self.arm_suspension(&run, &trigger);
                }
            }
        }
        Ok(())
    }

    /// Whether anything reacts to events with this name: a trigger, a wait or a `cancel_on`.
    fn is_observed(&self, name: &str) -> bool {
        self.listeners.contains_key(name) || self.waits.lock().has_event(name) || self.cancels.lock().has_event(name)
    }

    /// Builds a finished/failed/cancelled system event and the runs it starts, and says
    /// whether anything observes it. Inngest's `data.event` (the run's triggering event) is
    /// copied in only when something observes the name; otherwise the store keeps it by
    /// reference, which saves a copy of every event per run.
    pub(crate) fn system_event(
        &self,
        name: &str,
        run: &RunRecord,
        mut data: serde_json::Map<String, Value>,
        trigger: &TriggerEvent,
    ) -> (NewEvent, bool) {
        let id = crate::journal::hash_step_id(&format!("{}-{name}", run.id));
        let embeds = trigger.id().map(str::to_owned);
        let observed = self.is_observed(name);
        if embeds.is_none() || observed {
            data.insert("event".into(), trigger.json().as_ref().clone());
        }
        if observed {
            let raw = RawEvent::new(name, Value::Object(data)).with_id(id.clone());
            if let Ok((event, _)) = self.prepare(raw, EventSource::Internal, 0) {
                return (event, true);
            }
            // `prepare` refuses only nameless events; a system event always has its name.
            return (
                NewEvent { event: self.internal_event(name, id, Value::Null), runs: Vec::new(), embeds: None },
                false,
            );
        }
        (NewEvent { event: self.internal_event(name, id, Value::Object(data)), runs: Vec::new(), embeds }, false)
    }

    fn internal_event(&self, name: &str, id: String, data: Value) -> StoredEvent {
        let now = self.clock.now_ms();
        StoredEvent {
            id,
            name: name.to_owned(),
            data: data.into(),
            ts: now,
            user: None,
            source: EventSource::Internal,
            received_at: now,
        }
    }

    /// The error recorded for an invoke that timed out.
    pub(crate) fn invoke_timeout() -> ErrorInfo {
        ErrorInfo {
            name: "InngestInvokeTimeoutError".into(),
            message: "Timed out waiting for invoked function to complete".into(),
            cause: None,
        }
    }
}

impl crate::webhook::sink::EventSink for Engine {
    fn accept(
        &self,
        events: Vec<RawEvent>,
        source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<Vec<String>, crate::webhook::sink::SinkError>> {
        Box::pin(async move {
            self.core.send(events, source).await.map_err(|e| crate::webhook::sink::SinkError(e.to_string()))
        })
    }
}
