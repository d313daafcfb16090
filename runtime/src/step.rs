//! The step tool: memoized, retried, durable steps. This is the user's API and nothing else; the
//! replay rules live in [`crate::replay`], and the host behind a pass (the in-process engine, or
//! an Inngest call request) decides what executing and recording mean.
//!
//! A step that is already in the run's journal returns its recorded value at once. A new
//! `step.run` executes when the host admits it, and the function continues in the same pass.
//! Steps that must wait (sleep, wait_for_event, invoke, a retry's back-off) ask for it and never
//! complete: the driver notices, drops the function's future and reports the pass. This does
//! not rely on the user propagating an error, so a swallowed error cannot corrupt a run.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::error::{Error, ErrorInfo, StepError};
use crate::event::{Event, EventType, IntoRawEvent};
use crate::function::FunctionDef;
use crate::model::{Memo, Millis, StepKind};
use crate::replay::pass::{Lookup, StepEnd};
use crate::replay::{Admission, Op, Pass, StepMeta, Timing};

/// Labels for the tracing spans of a pass's steps (the logs layer routes step logs by them).
#[derive(Debug, Clone)]
pub(crate) struct SpanLabels {
    /// The engine instance in this process.
    pub(crate) engine: u64,
    /// The function.
    pub(crate) function_id: Arc<str>,
}

/// The step tool a function receives. Cheap to clone; every clone belongs to the same pass.
///
/// A function runs again from the top after every sleep, wait or restart; each step's result
/// is recorded the first time and returned from the record afterwards, so code inside a step
/// runs once per successful attempt however often the function is replayed. Steps are named
/// by their id (unique within a function): `run` (memoized, retried with back-off), `sleep`
/// and `sleep_until`, `wait_for_event`, `send_event` and `invoke`. Code outside steps must be
/// deterministic.
///
/// ```
/// use hookflow::prelude::*;
/// use hookflow::WaitFor;
///
/// #[inngest_fn(id = "trial", event = "app/signed.up")]
/// async fn trial(event: Event<Json>, step: Step) -> Result<bool> {
///     let user = event.data["id"].as_str().unwrap_or_default().to_owned();
///     let created: String = step.run("create-trial", || async move { Ok(format!("trial for {user}")) }).await?;
///     step.sleep("wait-a-week", "7 days").await?;
///     let upgrade = WaitFor::timeout("3d").event("app/upgraded").matching("data.id");
///     let upgraded = step.wait_for_event::<Json>("upgraded", upgrade).await?;
///     tracing::info!(%created, "trial over");
///     Ok(upgraded.is_some())
/// }
/// ```
#[derive(Clone)]
pub struct Step {
    pass: Arc<Pass>,
    labels: Arc<SpanLabels>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step").field("run_id", &self.pass.run_id()).field("function", &self.labels.function_id).finish()
    }
}

impl Step {
    pub(crate) fn new(pass: Arc<Pass>, labels: SpanLabels) -> Step {
        Step { pass, labels: Arc::new(labels) }
    }

    fn span(&self, step: &StepMeta, attempt: u32) -> tracing::Span {
        tracing::info_span!(
            "step",
            engine = self.labels.engine,
            run_id = %self.pass.run_id(),
            function_id = %self.labels.function_id,
            step_id = %step.name,
            attempt
        )
    }

    /// Looks a new step up and waits for its admission: `Some(memo)` when it is journaled,
    /// `None` when it is to execute now. Parks (never returns) when it must not execute.
    async fn reach(&self, step: &StepMeta, kind: StepKind) -> Option<Memo> {
        match self.pass.lookup(&step.id) {
            Lookup::Done(memo) => return Some(memo),
            Lookup::Cancelled => self.pass.park().await,
            // A retry whose back-off has not ended yet: keep waiting on it.
            Lookup::Pending(op) if op.due() > self.pass.now() => {
                self.pass.keep(op);
                self.pass.park().await
            }
            Lookup::Pending(_) | Lookup::New => {}
        }
        match self.pass.admit(step.clone(), kind).await {
            Admission::Execute => None,
            Admission::Plan | Admission::Skip => self.pass.park().await,
        }
    }

    /// Executes a step's body once, records the attempt, and answers the call site.
    async fn execute<T, F, Fut>(&self, step: StepMeta, kind: StepKind, f: F) -> Result<T, StepError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        if let Some(memo) = self.reach(&step, kind).await {
            return decode(&step.name, memo);
        }
        let executing = self.pass.executing();
        let span = self.span(&step, self.pass.attempt(&step.id));
        let started_at = self.pass.now();
        // The body runs inside the step's span, so what it logs is attributed to the step.
        let outcome = AssertUnwindSafe(f()).catch_unwind().instrument(span.clone()).await;
        let result = match outcome {
            Ok(Ok(value)) => serde_json::to_value(&value)
                .map(|data| (value, data))
                .map_err(|e| Error::non_retriable(format!("step output is not valid JSON: {e}"))),
            Ok(Err(err)) => Err(err),
            Err(panic) => {
                Err(Error::msg(format!("step panicked: {}", crate::replay::pass::panic_message(panic.as_ref()))))
            }
        };
        let timing = Timing { started_at, ended_at: self.pass.now() };
        let name = step.name.clone();
        let (end, value) = match result {
            Ok((value, data)) => {
                tracing::info!(parent: &span, "step completed");
                (self.pass.ran_from(step, kind, data, timing), Some(value))
            }
            Err(error) => {
                let end = self.pass.failed(step, kind, &error, timing);
                match &end {
                    StepEnd::Park => tracing::warn!(parent: &span, error = %error, "step failed; will retry"),
                    _ => tracing::warn!(parent: &span, error = %error, "step failed for good"),
                }
                (end, None)
            }
        };
        drop(executing);
        match (end, value) {
            (StepEnd::Value, Some(value)) => Ok(value),
            (StepEnd::Failed(info), _) => Err(StepError { step: name, info }),
            _ => self.pass.park().await,
        }
    }

    /// A step that waits for something: journaled → its memo; left pending → keep waiting;
    /// new → ask for `op` (built with the step's meta and the time now), or, when `op` answers
    /// `None`, record it as already over with a `null` result.
    async fn wait_step(&self, step: StepMeta, kind: StepKind, op: impl FnOnce(StepMeta, Millis) -> Option<Op>) -> Memo {
        match self.pass.lookup(&step.id) {
            Lookup::Done(memo) => memo,
            Lookup::Cancelled => self.pass.park().await,
            Lookup::Pending(pending) => {
                self.pass.keep(pending);
                self.pass.park().await
            }
            Lookup::New => {
                let now = self.pass.now();
                match op(step.clone(), now) {
                    Some(op) => {
                        self.pass.request(op);
                        self.pass.park().await
                    }
                    None => match self.pass.ran(step, kind, Value::Null, now) {
                        StepEnd::Value => Memo::Data(Value::Null),
                        _ => self.pass.park().await,
                    },
                }
            }
        }
    }

    /// Runs `f` once: its result is recorded, and on replay returned without running it again.
    /// An error is retried with backoff (each step has its own attempts); when the attempts run
    /// out, or on [`NonRetriable`](crate::NonRetriable), the error is recorded and returned here.
    pub fn run<'a, T, F, Fut>(&'a self, id: &str, f: F) -> impl Future<Output = Result<T, StepError>> + Send + 'a
    where
        T: Serialize + DeserializeOwned + Send + 'a,
        F: FnOnce() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        let step = self.pass.meta(id);
        self.execute(step, StepKind::Run, f)
    }

    /// Sleeps durably for `duration` (a `Duration`, or a string such as `"3 days"` or `"1h30m"`):
    /// the run is suspended and holds no memory but a timer until it wakes.
    pub fn sleep<'a>(
        &'a self,
        id: &str,
        duration: impl IntoDuration,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let step = self.pass.meta(id);
        let duration = duration.into_duration();
        async move {
            let duration = duration?;
            self.sleep_step(step, move |now| now.saturating_add(millis(duration))).await
        }
    }

    /// Sleeps durably until `until`, a [`chrono::DateTime<chrono::Utc>`] (hookflow re-exports
    /// [`chrono`](crate::chrono)); a time already past returns at once. For example
    /// `step.sleep_until("renewal", hookflow::chrono::Utc::now() + hookflow::chrono::Duration::days(30))`
    /// (a time computed outside a step should come from the event or a step, so that every
    /// replay computes the same one).
    pub fn sleep_until<'a>(
        &'a self,
        id: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let step = self.pass.meta(id);
        self.sleep_step(step, move |_| until.timestamp_millis())
    }

    async fn sleep_step(&self, step: StepMeta, until: impl FnOnce(Millis) -> Millis) -> Result<(), Error> {
        self.wait_step(step, StepKind::Sleep, |step, now| {
            let until = until(now);
            (until > now).then_some(Op::Sleep { step, since: now, until })
        })
        .await;
        Ok(())
    }

    /// Waits for an event of type `E` (see [`WaitFor`]); `None` when the timeout passes first.
    pub fn wait_for_event<'a, E: EventType>(
        &'a self,
        id: &str,
        wait: WaitFor,
    ) -> impl Future<Output = Result<Option<Event<E>>, Error>> + Send + 'a {
        let step = self.pass.meta(id);
        async move {
            let event = match (&wait.event, E::NAMES) {
                (Some(event), _) => event.clone(),
                (None, [only]) => (*only).to_owned(),
                (None, _) => {
                    return Err(Error::non_retriable(format!(
                        "step `{}`: `{}` does not name one event; say which with `WaitFor::event(...)`",
                        step.name,
                        std::any::type_name::<E>()
                    )))
                }
            };
            let timeout = wait.timeout.map_err(|e| Error::non_retriable(format!("step `{}`: {e}", step.name)))?;
            let expr = wait.expr;
            let memo = self
                .wait_step(step, StepKind::Wait, move |step, now| {
                    let until = now.saturating_add(millis(timeout));
                    Some(Op::WaitForEvent { step, since: now, event, expr, until })
                })
                .await;
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
        let step = self.pass.meta(id);
        let raws: Result<Vec<crate::RawEvent>, _> = events.into_iter().map(IntoRawEvent::into_raw_event).collect();
        let base = format!("{}-{}", self.pass.run_id(), step.id);
        let host = self.pass.host().clone();
        self.execute(step, StepKind::Send, move || async move {
            let mut raws = raws?;
            for (i, raw) in raws.iter_mut().enumerate() {
                if raw.id.is_empty() {
                    raw.id = crate::replay::hash_step_id(&format!("{base}-{i}"));
                }
            }
            host.send(raws).await
        })
    }

    /// Invokes another function and waits for its result, typed as `T`.
    pub fn invoke<'a, T>(&'a self, id: &str, invoke: Invoke) -> impl Future<Output = Result<T, StepError>> + Send + 'a
    where
        T: DeserializeOwned + Send + 'a,
    {
        let step = self.pass.meta(id);
        let name = step.name.clone();
        async move {
            let Invoke { function_id, data, timeout } = invoke;
            let memo = self
                .wait_step(step, StepKind::Invoke, move |step, now| {
                    let until = now.saturating_add(timeout.map(millis).unwrap_or(YEAR_MS));
                    Some(Op::InvokeFunction { step, since: now, function_id, data, until })
                })
                .await;
            decode(&name, memo)
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
                stack: None,
            },
        }),
        Memo::Error(info) => Err(StepError { step: name.to_owned(), info }),
    }
}

pub(crate) fn millis(d: Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
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
///
/// A wait always has a timeout (after which the step returns `None`), names the event it
/// waits for (or takes it from the step's event type) and may require it to match the event
/// that started the run: `.matching("data.id")` compares that field of both, `.if_expr(..)`
/// takes any CEL expression over `event` (the run's) and `async` (the candidate).
///
/// ```
/// use hookflow::WaitFor;
///
/// // The `clerk/email.created` whose `data.id` is the run's, within two days.
/// let verified = WaitFor::timeout("2d").event("clerk/email.created").matching("data.id");
/// // Any `app/approved` for the same order, within a week.
/// let approved = WaitFor::timeout("7d").event("app/approved").if_expr("event.data.order == async.data.order");
/// # let _ = (verified, approved);
/// ```
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

/// What `step.invoke` calls: a function by id, with the data of its triggering event.
#[derive(Debug, Clone)]
pub struct Invoke {
    function_id: String,
    data: Value,
    timeout: Option<Duration>,
}

impl Invoke {
    /// Invokes `function` with `data` as its event's payload.
    pub fn new(function: &'static FunctionDef, data: impl Serialize) -> Result<Self, Error> {
        Invoke::function(function.id, data)
    }

    /// Invokes the function with this id (one of this app's, or a synced app's) with `data`.
    pub fn function(id: impl Into<String>, data: impl Serialize) -> Result<Self, Error> {
        Ok(Invoke { function_id: id.into(), data: serde_json::to_value(data)?, timeout: None })
    }

    /// Gives up (with an error) after `timeout`; the default is one year.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// How long an invoke waits by default, as in Inngest: a year.
const YEAR_MS: Millis = 366 * 86_400_000;
