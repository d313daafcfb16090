//! One pass of a run: the state shared by every step call of the function, and the driver that
//! polls the function until it returns or cannot go on.
//!
//! A step call first asks [`Pass::lookup`]: a journaled step returns its memo without running;
//! a step an earlier pass left pending (a sleep, a wait, a retry's back-off) is kept pending;
//! a new step is *found*. Steps found together (in one poll of the function, as with
//! `tokio::join!`) are admitted together: the host says whether each executes now or is only
//! planned. Steps that cannot go on never complete: their futures stay pending, and once no
//! step is executing the driver stops polling and drops the function. That is how a pass
//! suspends, without relying on the user propagating anything with `?`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use serde_json::Value;

use crate::error::{Error, ErrorInfo, Retry};
use crate::model::{Memo, Millis, PendingOp, StepKind};

use super::host::{Admission, AfterStep, StepHost};
use super::ids::StepIds;
use super::journal::Journal;
use super::op::{Op, PassEnd, PassReport, StepMeta, Timing};

/// The boxed future of a function's body.
pub(crate) type Body = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + 'static>>;

/// What a pass starts from.
#[derive(Debug, Default)]
pub(crate) struct PassInput {
    /// The run (for deterministic ids of what its steps send).
    pub(crate) run_id: String,
    /// Finished steps.
    pub(crate) journal: Journal,
    /// Ops earlier passes left pending that have not resolved.
    pub(crate) pending: Vec<PendingOp>,
    /// Failed attempts so far per step hash.
    pub(crate) attempts: BTreeMap<String, u32>,
    /// When each retried step's first attempt started.
    pub(crate) started: BTreeMap<String, Millis>,
    /// Failed attempts of a step that `attempts` does not count: under an Inngest call request,
    /// `ctx.attempt`, the attempt of the one step the request executes (the engine counts per
    /// step, and leaves this 0).
    pub(crate) base_attempt: u32,
}

/// What a step call finds.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Journaled: return this.
    Done(Memo),
    /// Left pending by an earlier pass.
    Pending(PendingOp),
    /// Not seen before.
    New,
    /// The run was cancelled: stop here.
    Cancelled,
}

/// Why the pass must end once no step is executing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Suspend,
    Cancelled,
}

/// The outcome of a finished attempt, for the step call.
pub(crate) enum StepEnd {
    /// Hand the value back to the function.
    Value,
    /// The step failed for good: hand its error back.
    Failed(ErrorInfo),
    /// The pass cannot go on past this step (a retry's back-off, or the host stopped it).
    Park,
}

struct State {
    ids: StepIds,
    journal: Journal,
    pending: HashMap<String, PendingOp>,
    attempts: BTreeMap<String, u32>,
    base_attempt: u32,
    started: BTreeMap<String, Millis>,
    /// New steps waiting for their admission, with their wakers.
    found: Vec<(StepMeta, StepKind, Waker)>,
    admitted: HashMap<String, Admission>,
    executing: usize,
    ops: Vec<Op>,
    kept: Vec<PendingOp>,
    replayed: usize,
    stop: Option<Stop>,
    driver: Option<Waker>,
}

impl State {
    fn attempts_of(&self, hash: &str) -> u32 {
        self.attempts.get(hash).copied().unwrap_or(self.base_attempt)
    }
}

/// The state of one pass, shared by every clone of the run's `Step`.
pub(crate) struct Pass {
    run_id: String,
    host: Arc<dyn StepHost>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pass").field("run_id", &self.run_id).finish_non_exhaustive()
    }
}

impl Pass {
    pub(crate) fn new(input: PassInput, host: Arc<dyn StepHost>) -> Arc<Pass> {
        let pending = input.pending.into_iter().map(|op| (op.step().to_owned(), op)).collect();
        Arc::new(Pass {
            run_id: input.run_id,
            host,
            state: Mutex::new(State {
                ids: StepIds::default(),
                journal: input.journal,
                pending,
                attempts: input.attempts,
                base_attempt: input.base_attempt,
                started: input.started,
                found: Vec::new(),
                admitted: HashMap::new(),
                executing: 0,
                ops: Vec::new(),
                kept: Vec::new(),
                replayed: 0,
                stop: None,
                driver: None,
            }),
        })
    }

    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    pub(crate) fn host(&self) -> &Arc<dyn StepHost> {
        &self.host
    }

    pub(crate) fn now(&self) -> Millis {
        self.host.now()
    }

    /// The hashed id and name of the next call with user id `id`.
    pub(crate) fn meta(&self, id: &str) -> StepMeta {
        StepMeta { id: self.state.lock().ids.next(id), name: id.to_owned() }
    }

    /// What the step with this hash is, as far as this pass knows.
    pub(crate) fn lookup(&self, hash: &str) -> Lookup {
        let mut state = self.state.lock();
        if let Some(memo) = state.journal.get(hash) {
            let memo = memo.clone();
            state.replayed += 1;
            return Lookup::Done(memo);
        }
        if self.host.cancelled() {
            state.stop = Some(Stop::Cancelled);
            wake(&mut state.driver);
            return Lookup::Cancelled;
        }
        match state.pending.get(hash) {
            Some(op) => Lookup::Pending(op.clone()),
            None => Lookup::New,
        }
    }

    /// Failed attempts so far of a step.
    pub(crate) fn attempt(&self, hash: &str) -> u32 {
        self.state.lock().attempts_of(hash)
    }

    /// Waits for the admission of a new step, decided with the other steps found with it.
    pub(crate) fn admit(self: &Arc<Self>, step: StepMeta, kind: StepKind) -> impl Future<Output = Admission> + Send {
        let pass = self.clone();
        std::future::poll_fn(move |cx| {
            let mut state = pass.state.lock();
            if let Some(admission) = state.admitted.get(&step.id) {
                return Poll::Ready(*admission);
            }
            match state.found.iter_mut().find(|(m, _, _)| m.id == step.id) {
                Some((_, _, waker)) => waker.clone_from(cx.waker()),
                None => state.found.push((step.clone(), kind, cx.waker().clone())),
            }
            wake(&mut state.driver);
            Poll::Pending
        })
    }

    /// Marks a step as executing until the guard drops, so the pass does not end under it.
    pub(crate) fn executing(self: &Arc<Self>) -> Executing {
        self.state.lock().executing += 1;
        Executing(self.clone())
    }

    /// A step ran and returned `data`: journals it and reports it. Also used for a sleep that
    /// was already over when the pass reached it (`kind` sleep, `data` null).
    pub(crate) fn ran(&self, step: StepMeta, kind: StepKind, data: Value, ended_at: Millis) -> StepEnd {
        let op = {
            let state = self.state.lock();
            let attempt = state.attempts_of(&step.id);
            let started_at = state.started.get(&step.id).copied().unwrap_or(ended_at);
            let timing = Timing { started_at: started_at.min(ended_at), ended_at };
            Op::StepRun { step, kind, data, attempt, timing }
        };
        self.record(op, StepEnd::Value)
    }

    /// Like [`Pass::ran`], with the start of this attempt known.
    pub(crate) fn ran_from(&self, step: StepMeta, kind: StepKind, data: Value, timing: Timing) -> StepEnd {
        self.state.lock().started.entry(step.id.clone()).or_insert(timing.started_at);
        self.ran(step, kind, data, timing.ended_at)
    }

    /// A step attempt failed with `error`: retried while attempts remain and the error allows,
    /// recorded as the step's result otherwise.
    pub(crate) fn failed(&self, step: StepMeta, kind: StepKind, error: &Error, timing: Timing) -> StepEnd {
        let info = error.to_info();
        let mut state = self.state.lock();
        let attempt = state.attempts_of(&step.id);
        let attempt_started_at = timing.started_at;
        let started_at = *state.started.entry(step.id.clone()).or_insert(timing.started_at);
        let timing = Timing { started_at, ended_at: timing.ended_at };
        let retry_after = match error.retry() {
            Retry::Never => None,
            _ if attempt + 1 >= self.host.max_attempts() => None,
            Retry::After(delay) => Some(Some(delay)),
            Retry::Backoff => Some(None),
        };
        match retry_after {
            Some(retry_after) => {
                state.ops.push(Op::StepError {
                    step,
                    kind,
                    error: info,
                    attempt,
                    retry_after,
                    timing,
                    attempt_started_at,
                });
                suspend(&mut state);
                StepEnd::Park
            }
            None => {
                drop(state);
                let op = Op::StepFailed { step, kind, error: info.clone(), attempt, timing };
                self.record(op, StepEnd::Failed(info))
            }
        }
    }

    fn record(&self, op: Op, then: StepEnd) -> StepEnd {
        let after = self.host.recorded(&op);
        let mut state = self.state.lock();
        state.ops.push(op);
        match after {
            AfterStep::Continue => then,
            AfterStep::Stop => {
                suspend(&mut state);
                StepEnd::Park
            }
        }
    }

    /// Asks for `op` (a sleep, a wait, an invoke) and stops the pass once nothing executes.
    pub(crate) fn request(&self, op: Op) {
        let mut state = self.state.lock();
        state.ops.push(op);
        suspend(&mut state);
    }

    /// Keeps waiting on an op an earlier pass left pending.
    pub(crate) fn keep(&self, op: PendingOp) {
        let mut state = self.state.lock();
        if !state.kept.iter().any(|k| k.step() == op.step()) {
            state.kept.push(op);
        }
        suspend(&mut state);
    }

    /// A future that never completes: the step's call site stays where it is while the driver
    /// ends the pass and drops the function.
    pub(crate) async fn park<T>(&self) -> T {
        std::future::pending::<T>().await
    }

    /// Decides the admission of the steps found since the last poll; says whether one of them
    /// is to execute (the pass goes on for it).
    fn admit_found(&self, state: &mut State) -> bool {
        if state.found.is_empty() {
            return false;
        }
        let mut executes = false;
        let found = std::mem::take(&mut state.found);
        let metas: Vec<StepMeta> = found.iter().map(|(m, _, _)| m.clone()).collect();
        let decisions = self.host.admit(&metas);
        for (i, (meta, kind, waker)) in found.into_iter().enumerate() {
            // A host that answers too few decisions plans the rest: nothing runs unasked.
            let admission = decisions.get(i).copied().unwrap_or(Admission::Plan);
            match admission {
                Admission::Execute => executes = true,
                Admission::Plan => {
                    state.ops.push(Op::StepPlanned { step: meta.clone(), kind });
                    suspend(state);
                }
                Admission::Skip => suspend(state),
            }
            state.admitted.insert(meta.id, admission);
            waker.wake();
        }
        executes
    }

    fn report(&self, end: PassEnd) -> PassReport {
        let mut state = self.state.lock();
        PassReport {
            ops: std::mem::take(&mut state.ops),
            kept: std::mem::take(&mut state.kept),
            end,
            replayed: state.replayed,
        }
    }
}

fn suspend(state: &mut State) {
    if state.stop.is_none() {
        state.stop = Some(Stop::Suspend);
    }
    wake(&mut state.driver);
}

fn wake(driver: &mut Option<Waker>) {
    if let Some(waker) = driver.take() {
        waker.wake();
    }
}

/// Counts a step as executing (see [`Pass::executing`]).
pub(crate) struct Executing(Arc<Pass>);

impl Drop for Executing {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.executing -= 1;
        if state.executing == 0 && state.stop.is_some() {
            wake(&mut state.driver);
        }
    }
}

/// Polls the function until it returns or no step can go on, and reports the pass.
pub(crate) async fn drive(pass: Arc<Pass>, body: Body) -> PassReport {
    let mut body = body;
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        pass.state.lock().driver = Some(cx.waker().clone());
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx)));
        let result = match polled {
            Ok(Poll::Ready(result)) => result,
            Err(panic) => Err(Error::msg(format!("the function panicked: {}", panic_message(panic.as_ref())))),
            Ok(Poll::Pending) => {
                let mut state = pass.state.lock();
                let executes = pass.admit_found(&mut state);
                if !executes && state.executing == 0 {
                    if let Some(stop) = state.stop {
                        drop(state);
                        let end = match stop {
                            Stop::Suspend => PassEnd::Suspended,
                            Stop::Cancelled => PassEnd::Cancelled,
                        };
                        return Poll::Ready(pass.report(end));
                    }
                }
                return Poll::Pending;
            }
        };
        if pass.state.lock().stop == Some(Stop::Cancelled) {
            return Poll::Ready(pass.report(PassEnd::Cancelled));
        }
        let end = match result {
            Ok(data) => {
                pass.state.lock().ops.push(Op::RunComplete { data });
                PassEnd::Completed
            }
            Err(error) => PassEnd::Failed { error: error.to_info(), retry: error.retry() },
        };
        Poll::Ready(pass.report(end))
    })
    .await
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
