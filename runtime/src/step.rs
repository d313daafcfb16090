//! The step tool: memoized, retried, durable steps.
//!
//! A step that is already in the run's journal returns its recorded value at once. A new
//! `step.run` executes on the spot, its result is committed, and the function continues in the
//! same pass. Steps that must wait (sleep, wait_for_event, invoke, a retry back-off) record what
//! they wait for and never complete: the driver notices the request, drops the function's
//! future and persists the suspension. This does not rely on the user propagating an error, so
//! a swallowed error cannot corrupt a run.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use futures::FutureExt;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::clock::Millis;
use crate::engine::Core;
use crate::error::{Error, ErrorInfo, Retry, StepError};
use crate::event::{Event, EventType, IntoRawEvent};
use crate::function::FunctionDef;
use crate::journal::{Journal, StepIds};
use crate::store::{Memo, PendingOp, RunState, StepKind, StepRecord, WaitSpec};

/// The step tool a function receives. Cheap to clone; every clone belongs to the same run.
#[derive(Clone)]
pub struct Step {
    pub(crate) ctx: Arc<RunCtx>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step").field("run_id", &self.ctx.run_id).field("function", &self.ctx.function.id).finish()
    }
}

/// Why a pass stopped without the function returning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Interrupt {
    /// Steps must wait: persist these ops.
    Suspend,
    /// The store failed while committing a step: retry the pass later.
    StoreFailed(String),
    /// The run was cancelled.
    Cancelled,
}

/// Per-pass state of a run, shared by every clone of its [`Step`].
pub(crate) struct RunCtx {
    pub(crate) run_id: String,
    pub(crate) function: &'static FunctionDef,
    pub(crate) core: Arc<Core>,
    inner: Mutex<PassState>,
    /// The run's `Running` record, written with the pass's first commit.
    first_commit: Mutex<Option<crate::store::RunRecord>>,
}

struct PassState {
    ids: StepIds,
    journal: Journal,
    /// Ops persisted by earlier passes that are still pending.
    previous: Vec<PendingOp>,
    step_attempts: std::collections::BTreeMap<String, u32>,
    step_started: std::collections::BTreeMap<String, Millis>,
    /// Ops requested in this pass: what the run waits on if it suspends.
    requested: Vec<PendingOp>,
    in_flight: usize,
    interrupt: Option<Interrupt>,
    driver: Option<Waker>,
    /// Steps committed in this pass (for tracing and tests).
    committed: usize,
}

impl RunCtx {
    pub(crate) fn new(
        run_id: String,
        function: &'static FunctionDef,
        core: Arc<Core>,
        journal: Journal,
        state: RunState,
    ) -> Arc<Self> {
        Arc::new(RunCtx {
            run_id,
            function,
            core,
            inner: Mutex::new(PassState {
                ids: StepIds::default(),
                journal,
                previous: state.pending,
                step_attempts: state.step_attempts,
                step_started: state.step_started,
                requested: Vec::new(),
                in_flight: 0,
                interrupt: None,
                driver: None,
                committed: 0,
            }),
            first_commit: Mutex::new(None),
        })
    }

    /// The run record to write with the first step this pass commits.
    pub(crate) fn set_first_commit(&self, run: crate::store::RunRecord) {
        *self.first_commit.lock() = Some(run);
    }

    fn now(&self) -> Millis {
        self.core.clock.now_ms()
    }

    fn next_hash(&self, id: &str) -> String {
        self.inner.lock().ids.next(id)
    }

    /// Registers the driver's waker; the driver re-checks [`RunCtx::interrupted`] when woken.
    pub(crate) fn set_driver(&self, waker: &Waker) {
        let mut inner = self.inner.lock();
        if !inner.driver.as_ref().is_some_and(|w| w.will_wake(waker)) {
            inner.driver = Some(waker.clone());
        }
    }

    /// Whether the pass must stop now: something interrupted it and no step is mid-commit.
    pub(crate) fn interrupted(&self) -> Option<Interrupt> {
        let inner = self.inner.lock();
        if inner.in_flight == 0 {
            inner.interrupt.clone()
        } else {
            None
        }
    }

    /// What the run waits on, and the step attempts to persist with it.
    pub(crate) fn suspension(&self) -> RunState {
        let inner = self.inner.lock();
        RunState {
            pending: inner.requested.clone(),
            step_attempts: inner.step_attempts.clone(),
            step_started: inner.step_started.clone(),
        }
    }

    /// Steps committed during this pass.
    pub(crate) fn committed(&self) -> usize {
        self.inner.lock().committed
    }

    fn interrupt(&self, why: Interrupt) {
        let mut inner = self.inner.lock();
        // A store failure or a cancellation wins over an ordinary suspension.
        if inner.interrupt.is_none() || why != Interrupt::Suspend {
            inner.interrupt = Some(why);
        }
        if let Some(w) = inner.driver.take() {
            w.wake();
        }
    }

    /// Requests a suspension on `op` (or re-requests an op from an earlier pass) and never
    /// completes: the driver drops the function's future.
    async fn wait_on<T>(&self, op: PendingOp) -> T {
        {
            let mut inner = self.inner.lock();
            if !inner.requested.iter().any(|o| o.step() == op.step()) {
                inner.requested.push(op);
            }
        }
        self.interrupt(Interrupt::Suspend);
        futures::future::pending::<T>().await
    }

    /// Stops the pass for another reason (a store failure, a cancellation); never completes.
    async fn park<T>(&self, why: Interrupt) -> T {
        self.interrupt(why);
        futures::future::pending::<T>().await
    }

    /// The memo of `hash`, or the op an earlier pass left pending for it.
    fn lookup(&self, hash: &str) -> Lookup {
        let inner = self.inner.lock();
        if let Some(memo) = inner.journal.get(hash) {
            return Lookup::Done(memo.clone());
        }
        match inner.previous.iter().find(|op| op.step() == hash) {
            Some(op) => Lookup::Pending(op.clone()),
            None => Lookup::New,
        }
    }

    /// Commits a finished step and adds it to the journal.
    async fn commit(&self, record: StepRecord) -> Result<(), String> {
        if self.core.is_cancelled(&self.run_id) {
            return Err(String::from("cancelled"));
        }
        let hash = record.hash.clone();
        let memo = record.memo.clone();
        let run = self.first_commit.lock().take();
        self.core.commit_step(record, run).await.map_err(|e| e.to_string())?;
        let mut inner = self.inner.lock();
        inner.journal.insert(hash, memo);
        inner.committed += 1;
        Ok(())
    }

    async fn run_step<T, F, Fut>(
        self: Arc<Self>,
        hash: String,
        name: String,
        kind: StepKind,
        f: F,
    ) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match self.lookup(&hash) {
            Lookup::Done(memo) => return decode(&name, memo),
            Lookup::Pending(op) => {
                if op.due() > self.now() {
                    self.wait_on(op).await
                }
            }
            Lookup::New => {}
        }
        let guard = InFlight::enter(&self);
        let (attempt, first_started) = {
            let inner = self.inner.lock();
            (inner.step_attempts.get(&hash).copied().unwrap_or(0), inner.step_started.get(&hash).copied())
        };
        let started = first_started.unwrap_or_else(|| self.now());
        let span = tracing::info_span!(
            "step",
            engine = self.core.instance,
            run_id = %self.run_id,
            function_id = self.function.id,
            step_id = %name,
            attempt
        );
        // The closure runs inside the step's span, so what it logs is attributed to the step.
        let outcome = AssertUnwindSafe(f()).catch_unwind().instrument(span.clone()).await;
        let result = match outcome {
            Ok(Ok(value)) => serde_json::to_value(&value)
                .map(|data| (value, data))
                .map_err(|e| Error::non_retriable(format!("step output is not valid JSON: {e}"))),
            Ok(Err(err)) => Err(err),
            Err(panic) => Err(Error::msg(format!("step panicked: {}", panic_message(&panic)))),
        };
        let ended = self.now();
        let record = |memo: Memo| StepRecord {
            run_id: self.run_id.clone(),
            hash: hash.clone(),
            name: name.clone(),
            kind,
            memo,
            attempts: attempt + 1,
            started_at: started,
            ended_at: ended,
        };
        match result {
            Ok((value, data)) => {
                if let Err(e) = self.commit(record(Memo::Data(data))).await {
                    drop(guard);
                    self.park(self.failure_interrupt(e)).await
                }
                tracing::info!(parent: &span, "step completed");
                Ok(value)
            }
            Err(err) => {
                let info = err.to_info();
                let max = self.function.max_attempts();
                let delay = match err.retry() {
                    Retry::Never => None,
                    _ if attempt + 1 >= max => None,
                    Retry::After(d) => Some(d),
                    Retry::Backoff => Some(backoff(attempt)),
                };
                match delay {
                    None => {
                        tracing::warn!(parent: &span, error = %info, "step failed for good");
                        if let Err(e) = self.commit(record(Memo::Error(info.clone()))).await {
                            drop(guard);
                            self.park(self.failure_interrupt(e)).await
                        }
                        Err(StepError { step: name, info })
                    }
                    Some(delay) => {
                        tracing::warn!(parent: &span, error = %info, retry_in = ?delay, "step failed; will retry");
                        {
                            let mut inner = self.inner.lock();
                            inner.step_attempts.insert(hash.clone(), attempt + 1);
                            inner.step_started.insert(hash.clone(), started);
                        }
                        let at = ended.saturating_add(millis(delay));
                        drop(guard);
                        self.wait_on(PendingOp::Retry { step: hash, name, at, error: info }).await
                    }
                }
            }
        }
    }

    fn failure_interrupt(&self, message: String) -> Interrupt {
        if self.core.is_cancelled(&self.run_id) {
            Interrupt::Cancelled
        } else {
            Interrupt::StoreFailed(message)
        }
    }
}

enum Lookup {
    Done(Memo),
    Pending(PendingOp),
    New,
}

/// Counts a step as mid-execution, so the driver does not drop the pass under it.
struct InFlight<'a>(&'a RunCtx);

impl<'a> InFlight<'a> {
    fn enter(ctx: &'a RunCtx) -> Self {
        ctx.inner.lock().in_flight += 1;
        InFlight(ctx)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.in_flight -= 1;
        if inner.in_flight == 0 && inner.interrupt.is_some() {
            if let Some(w) = inner.driver.take() {
                w.wake();
            }
        }
    }
}

fn decode<T: DeserializeOwned>(name: &str, memo: Memo) -> Result<T, StepError> {
    match memo {
        Memo::Data(data) => T::deserialize(data).map_err(|e| StepError {
            step: name.to_owned(),
            info: ErrorInfo {
                name: "DeserializeError".into(),
                message: format!(
                    "the recorded result of step `{name}` does not fit the type the code expects now: {e}"
                ),
                cause: None,
            },
        }),
        Memo::Error(info) => Err(StepError { step: name.to_owned(), info }),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

pub(crate) fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s, ... capped at one hour, plus up to 25%.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 1_000u64.saturating_mul(1u64 << attempt.min(12)).min(3_600_000);
    let jitter = rand::random_range(0..=base / 4);
    Duration::from_millis(base + jitter)
}

/// A duration given as a `Duration` or a string such as `"3 days"` or `"1h30m"`.
pub trait IntoDuration {
    /// Converts, or says why the string is not a duration.
    fn into_duration(self) -> Result<Duration, Error>;
}

impl IntoDuration for Duration {
    fn into_duration(self) -> Result<Duration, Error> {
        Ok(self)
    }
}

impl IntoDuration for &str {
    fn into_duration(self) -> Result<Duration, Error> {
        crate::duration::parse_duration(self)
            .map_err(|e| Error::non_retriable(format!("invalid duration `{self}`: {e}")))
    }
}

impl IntoDuration for String {
    fn into_duration(self) -> Result<Duration, Error> {
        self.as_str().into_duration()
    }
}

/// What `step.wait_for_event` waits for.
#[derive(Debug, Clone)]
pub struct WaitFor {
    event: Option<String>,
    timeout: Result<Duration, String>,
    expr: Option<String>,
}

impl WaitFor {
    /// Waits at most `timeout` (a `Duration` or a string such as `"7d"`).
    pub fn timeout(timeout: impl IntoDuration) -> Self {
        WaitFor { event: None, timeout: timeout.into_duration().map_err(|e| e.message().to_owned()), expr: None }
    }

    /// The event name to wait for (defaults to the name of the awaited type).
    #[must_use]
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Only an event for which this CEL expression holds, with `event` the run's triggering
    /// event and `async` the candidate, e.g. `event.data.id == async.data.id`.
    #[must_use]
    pub fn if_expr(mut self, expr: impl Into<String>) -> Self {
        self.expr = Some(expr.into());
        self
    }

    /// Only an event whose field at `path` equals the triggering event's (`"data.id"`).
    #[must_use]
    pub fn matching(mut self, path: &str) -> Self {
        self.expr = Some(format!("event.{path} == async.{path}"));
        self
    }
}

/// What `step.invoke` calls.
#[derive(Debug, Clone)]
pub struct Invoke {
    function: &'static FunctionDef,
    data: Value,
    timeout: Option<Duration>,
}

impl Invoke {
    /// Invokes `function` with `data` as its event's payload.
    pub fn new(function: &'static FunctionDef, data: impl Serialize) -> Result<Self, Error> {
        Ok(Invoke { function, data: serde_json::to_value(data)?, timeout: None })
    }

    /// Gives up (with an error) after `timeout`; the default is one year.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

const YEAR_MS: Millis = 366 * 86_400_000;

impl Step {
    /// Runs `f` once: its result is recorded, and on replay returned without running it again.
    /// An error is retried with backoff (each step has its own attempts); when the attempts run
    /// out, or on [`NonRetriable`](crate::NonRetriable), the error is recorded and returned here.
    pub fn run<'a, T, F, Fut>(&'a self, id: &str, f: F) -> impl Future<Output = Result<T, StepError>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'a,
        F: FnOnce() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        let hash = self.ctx.next_hash(id);
        let ctx = self.ctx.clone();
        ctx.run_step(hash, id.to_owned(), StepKind::Run, f)
    }

    /// Sleeps durably for `duration` (a `Duration`, or a string such as `"3 days"` or `"1h30m"`):
    /// the run is suspended and holds no memory but a timer until it wakes.
    pub fn sleep<'a>(
        &'a self,
        id: &str,
        duration: impl IntoDuration,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let hash = self.ctx.next_hash(id);
        let name = id.to_owned();
        let duration = duration.into_duration();
        async move {
            let duration = duration?;
            let until = self.ctx.now().saturating_add(millis(duration));
            self.sleep_step(hash, name, until).await
        }
    }

    /// Sleeps durably until `until` (milliseconds since the Unix epoch).
    pub fn sleep_until<'a>(
        &'a self,
        id: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let hash = self.ctx.next_hash(id);
        let name = id.to_owned();
        self.sleep_step(hash, name, until.timestamp_millis())
    }

    async fn sleep_step(&self, hash: String, name: String, until: Millis) -> Result<(), Error> {
        match self.ctx.lookup(&hash) {
            Lookup::Done(_) => Ok(()),
            Lookup::Pending(op) => self.ctx.wait_on(op).await,
            Lookup::New => self.ctx.wait_on(PendingOp::Sleep { step: hash, name, until }).await,
        }
    }

    /// Waits for an event of type `E` (see [`WaitFor`]); `None` when the timeout passes first.
    pub fn wait_for_event<'a, E: EventType>(
        &'a self,
        id: &str,
        wait: WaitFor,
    ) -> impl Future<Output = Result<Option<Event<E>>, Error>> + Send + 'a {
        let hash = self.ctx.next_hash(id);
        let name = id.to_owned();
        async move {
            let event = match (&wait.event, E::NAMES) {
                (Some(event), _) => event.clone(),
                (None, [only]) => (*only).to_owned(),
                (None, _) => {
                    return Err(Error::non_retriable(format!(
                        "step `{name}`: `{}` does not name one event; say which with `WaitFor::event(...)`",
                        std::any::type_name::<E>()
                    )))
                }
            };
            let timeout = wait.timeout.map_err(|e| Error::non_retriable(format!("step `{name}`: {e}")))?;
            let memo = match self.ctx.lookup(&hash) {
                Lookup::Done(memo) => memo,
                Lookup::Pending(op) => self.ctx.wait_on(op).await,
                Lookup::New => {
                    let until = self.ctx.now().saturating_add(millis(timeout));
                    let spec = WaitSpec { event, expr: wait.expr };
                    self.ctx.wait_on(PendingOp::Wait { step: hash, name, spec, until }).await
                }
            };
            match memo {
                Memo::Data(Value::Null) => Ok(None),
                Memo::Data(value) => {
                    let raw: crate::RawEvent = serde_json::from_value(value)?;
                    Ok(Some(Event::try_from(&raw).map_err(|e| {
                        Error::non_retriable(format!(
                            "the awaited event does not match `{}`: {e}",
                            std::any::type_name::<E>()
                        ))
                    })?))
                }
                Memo::Error(info) => Err(Error::from_info(&info)),
            }
        }
    }

    /// Sends events as a step: sent once, with ids derived from the run and step so that a
    /// retried step cannot send them twice. Returns their ids.
    pub fn send_event<'a, I>(
        &'a self,
        id: &str,
        events: I,
    ) -> impl Future<Output = Result<Vec<String>, StepError>> + Send + 'a
    where
        I: IntoIterator + Send + 'a,
        I::Item: IntoRawEvent,
    {
        let hash = self.ctx.next_hash(id);
        let name = id.to_owned();
        let raws: Result<Vec<crate::RawEvent>, _> = events.into_iter().map(IntoRawEvent::into_raw_event).collect();
        let ctx = self.ctx.clone();
        let base = format!("{}-{hash}", ctx.run_id);
        async move {
            let core = ctx.core.clone();
            ctx.clone()
                .run_step(hash, name, StepKind::Send, move || async move {
                    let mut raws = raws?;
                    for (i, raw) in raws.iter_mut().enumerate() {
                        if raw.id.is_empty() {
                            raw.id = crate::journal::hash_step_id(&format!("{base}-{i}"));
                        }
                    }
                    Ok(core.send(raws, crate::webhook::EventSource::Step).await?)
                })
                .await
        }
    }

    /// Invokes another function and waits for its result, typed as `T`.
    pub fn invoke<'a, T>(&'a self, id: &str, invoke: Invoke) -> impl Future<Output = Result<T, StepError>> + Send + 'a
    where
        T: DeserializeOwned + Send + 'a,
    {
        let hash = self.ctx.next_hash(id);
        let name = id.to_owned();
        async move {
            let memo = match self.ctx.lookup(&hash) {
                Lookup::Done(memo) => memo,
                Lookup::Pending(op) => self.ctx.wait_on(op).await,
                Lookup::New => {
                    let until = self.ctx.now().saturating_add(invoke.timeout.map(millis).unwrap_or(YEAR_MS));
                    match self.ctx.core.start_invoke(&self.ctx.run_id, &hash, invoke.function, invoke.data).await {
                        Ok(child_event) => {
                            self.ctx
                                .wait_on(PendingOp::Invoke { step: hash, name: name.clone(), child_event, until })
                                .await
                        }
                        Err(e) => self.ctx.park(Interrupt::StoreFailed(e.to_string())).await,
                    }
                }
            };
            decode(&name, memo)
        }
    }
}
