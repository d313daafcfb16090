//! One pass of a run of a remote function: call requests to the app that serves it, until the
//! run completes, fails, or must wait. Every answer is folded into the journal the next request
//! carries, so a pass runs as many steps as it can without giving the run back to the queue.
//!
//! | the app answers | the pass |
//! |---|---|
//! | `200` with a value | completes the run |
//! | `206` `StepRun` / `StepFailed` | journals the step and asks again |
//! | `206` `StepError` | keeps the step pending until its retry (the app's `Retry-After`, else the server's back-off); on the last attempt it fails the step instead |
//! | `206` `StepPlanned` (several: parallel steps) | executes each by a targeted request (`stepId=<hash>`), then asks again |
//! | `206` `Sleep` / `WaitForEvent` / `InvokeFunction` | suspends the run on them |
//! | `206` `RunComplete` (a checkpointing SDK) | completes the run |
//! | `4xx`/`5xx` with an error | fails the attempt: retried unless `X-Inngest-No-Retry: true` |
//! | nothing, garbage, no `X-Inngest-SDK` header | fails the attempt with an error saying so; retried |
//!
//! A checkpointing SDK reports the steps it runs during a discovery request to the checkpoint
//! API; those steps join the pass as if they had come in the answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Dispatcher, Inflight};
use crate::error::{ErrorInfo, Retry};
use crate::event::RawEvent;
use crate::function::{FunctionSpec, RemoteFunction};
use crate::model::{Memo, Millis, PendingOp, RunRecord, StepKind};
use crate::protocol::functions::step_url;
use crate::protocol::headers;
use crate::protocol::wire::{self, error_from_wire, memo_to_wire, parse_ops, WireOp, DISCOVERY_STEP};
use crate::replay::{Admission, Journal, Op, PassEnd, PassInput, PassReport, StepHost, StepMeta, Timing};
use crate::store::{Lease, Store};

/// The most steps a run may have, as on the server.
const MAX_STEPS: usize = 1000;

/// Everything a remote pass needs.
pub(crate) struct RemoteCall<'a> {
    pub(crate) dispatcher: &'a Dispatcher,
    pub(crate) spec: &'a FunctionSpec,
    pub(crate) remote: &'a RemoteFunction,
    pub(crate) run: &'a RunRecord,
    pub(crate) events: Arc<[RawEvent]>,
    pub(crate) input: PassInput,
    pub(crate) host: Arc<dyn StepHost>,
    pub(crate) lease: Lease,
    pub(crate) store: Arc<dyn Store>,
    /// The kind of each step journaled before the pass (its memo's wire shape depends on it).
    pub(crate) kinds: HashMap<String, StepKind>,
}

/// What an app answered to one call request.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `206`: opcodes.
    Ops(Vec<WireOp>, Delay),
    /// `200`: the function's value.
    Done(Value),
    /// The function failed (an SDK's error answer).
    Error { info: ErrorInfo, no_retry: Option<bool>, delay: Delay },
    /// No usable answer: the message says why.
    Broken(String),
}

/// `Retry-After`, as a delay.
pub(crate) type Delay = Option<Duration>;

/// Reads `Retry-After`: seconds, or a date; clamped to 1 s ..= 24 h as the server does.
pub(crate) fn retry_after(value: Option<&str>, now: Millis) -> Delay {
    let value = value?.trim();
    let ms = if value.len() <= 7 && value.chars().all(|c| c.is_ascii_digit()) {
        value.parse::<i64>().ok()?.saturating_mul(1000)
    } else {
        let at = chrono::DateTime::parse_from_rfc3339(value)
            .or_else(|_| chrono::DateTime::parse_from_rfc2822(value))
            .ok()?;
        at.timestamp_millis() - now
    };
    Some(Duration::from_millis(ms.clamp(1_000, 86_400_000) as u64))
}

/// A deterministic UUID-shaped id for a function (`ctx.fn_id`), from its id.
fn function_uuid(id: &str) -> String {
    let h = crate::replay::hash_step_id(id);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// One dispatch of a call request.
struct Dispatch<'a> {
    step_id: &'a str,
    attempt: u32,
    plan: bool,
    /// Register for checkpoints (discovery requests of a checkpointing SDK).
    checkpoints: bool,
}

struct Pass<'a> {
    c: RemoteCall<'a>,
    journal: Journal,
    attempts: BTreeMap<String, u32>,
    pending: HashMap<String, PendingOp>,
    ops: Vec<Op>,
    /// Async ops asked for in this pass.
    asked: HashSet<String>,
    /// Retries executed in this pass.
    retried: HashSet<String>,
    events: Vec<Value>,
}

/// What the ops of one answer did to the pass.
#[derive(Default)]
struct Progress {
    moved: bool,
    suspend: bool,
    complete: Option<Value>,
    planned: Vec<StepMeta>,
    force_plan: bool,
}

pub(crate) async fn call(mut c: RemoteCall<'_>) -> PassReport {
    let input = std::mem::take(&mut c.input);
    let events = c.events.iter().map(event_json).collect();
    let mut pending: HashMap<String, PendingOp> =
        input.pending.into_iter().map(|op| (op.step().to_owned(), op)).collect();
    // The engine leaves out of the input the retries whose back-off is over (an in-process
    // pass finds such a step again and runs it with its attempt count). Here each is executed
    // by a targeted request carrying its attempt, so that the SDK counts the attempts too:
    // take them back from the run.
    let now = c.host.now();
    for op in &c.run.state.pending {
        if matches!(op, PendingOp::Retry { .. }) && op.due() <= now && input.journal.get(op.step()).is_none() {
            pending.entry(op.step().to_owned()).or_insert_with(|| op.clone());
        }
    }
    let mut pass = Pass {
        journal: input.journal,
        attempts: input.attempts,
        pending,
        ops: Vec::new(),
        asked: HashSet::new(),
        retried: HashSet::new(),
        events,
        c,
    };
    let end = pass.run().await;
    pass.report(end)
}

/// An event as call requests carry it (`user` always present, as the server sends it).
fn event_json(event: &RawEvent) -> Value {
    let mut value = event.to_json();
    if let Value::Object(map) = &mut value {
        map.entry("user").or_insert_with(|| json!({}));
    }
    value
}

impl Pass<'_> {
    fn now(&self) -> Millis {
        self.c.host.now()
    }

    fn app(&self) -> String {
        format!("app `{}` at {}", self.c.remote.app_id, self.c.remote.url.split('?').next().unwrap_or(""))
    }

    async fn run(&mut self) -> PassEnd {
        let mut force_plan = false;
        loop {
            if self.c.host.cancelled() {
                return PassEnd::Cancelled;
            }
            if self.journal.len() > MAX_STEPS {
                return failed(
                    "StepLimitExceeded",
                    format!("the run has more than {MAX_STEPS} steps, the most a run may have"),
                    Retry::Never,
                );
            }
            // Steps whose back-off is over run first, each by its own targeted request.
            let now = self.now();
            let due: Vec<StepMeta> = self
                .pending
                .values()
                .filter(|op| matches!(op, PendingOp::Retry { .. }) && op.due() <= now)
                .filter(|op| self.journal.get(op.step()).is_none() && !self.retried.contains(op.step()))
                .map(|op| StepMeta { id: op.step().to_owned(), name: op.name().to_owned() })
                .collect();
            if !due.is_empty() {
                self.retried.extend(due.iter().map(|m| m.id.clone()));
                match self.execute(due).await {
                    Some(true) => return PassEnd::Suspended,
                    Some(false) => continue,
                    None => return PassEnd::Suspended,
                }
            }
            // The request itself is admitted like a step: a stopping engine ends the pass here.
            let admission = self.c.host.admit(&[StepMeta { id: DISCOVERY_STEP.into(), name: String::new() }]);
            if admission.first() == Some(&Admission::Skip) {
                return PassEnd::Suspended;
            }
            // A step waiting for its retry must not be executed early by the SDK.
            let waiting_retry = self.pending.values().any(|op| matches!(op, PendingOp::Retry { .. }) && op.due() > now);
            let attempt = self.c.run.attempt;
            let dispatch = Dispatch {
                step_id: DISCOVERY_STEP,
                attempt,
                plan: force_plan || waiting_retry,
                checkpoints: self.c.dispatcher.checkpointing(),
            };
            let started = self.now();
            let (answer, checkpointed) = self.dispatch(&dispatch).await;
            // Steps an SDK checkpointed are the pass's even when its answer then fails.
            let answer = match answer {
                Answer::Ops(mut ops, delay) => {
                    ops.splice(0..0, checkpointed);
                    Answer::Ops(ops, delay)
                }
                other => {
                    if let Err(e) = self.apply(checkpointed, None, attempt, started) {
                        tracing::warn!(run_id = %self.c.run.id, error = %e, "a checkpointed opcode was ignored");
                    }
                    other
                }
            };
            let ops = match answer {
                Answer::Done(data) => {
                    self.ops.push(Op::RunComplete { data });
                    return PassEnd::Completed;
                }
                Answer::Error { info, no_retry, delay } => {
                    let retry = match (no_retry, delay) {
                        (Some(true), _) => Retry::Never,
                        (_, Some(delay)) => Retry::After(delay),
                        _ => Retry::After(self.c.dispatcher.backoff(attempt)),
                    };
                    return PassEnd::Failed { error: info, retry };
                }
                Answer::Broken(message) => {
                    let retry = Retry::After(self.c.dispatcher.backoff(attempt));
                    return failed("SdkError", message, retry);
                }
                Answer::Ops(ops, delay) => (ops, delay),
            };
            let progress = match self.apply(ops.0, ops.1, attempt, started) {
                Ok(progress) => progress,
                Err(message) => {
                    let retry = Retry::After(self.c.dispatcher.backoff(attempt));
                    return failed(
                        "SdkError",
                        format!("{} answered an opcode that cannot be run: {message}", self.app()),
                        retry,
                    );
                }
            };
            if let Some(data) = progress.complete {
                self.ops.push(Op::RunComplete { data });
                return PassEnd::Completed;
            }
            force_plan = progress.force_plan;
            let mut suspend = progress.suspend;
            if !progress.planned.is_empty() {
                let admissions = self.c.host.admit(&progress.planned);
                if admissions.contains(&Admission::Skip) {
                    for step in progress.planned {
                        self.ops.push(Op::StepPlanned { step, kind: StepKind::Run });
                    }
                    return PassEnd::Suspended;
                }
                match self.execute(progress.planned).await {
                    Some(stop) => suspend |= stop,
                    None => return PassEnd::Suspended,
                }
            } else if !progress.moved && !suspend {
                let retry = Retry::After(self.c.dispatcher.backoff(attempt));
                return failed(
                    "SdkError",
                    format!("{} answered a discovery request with no new step and no result", self.app()),
                    retry,
                );
            }
            if suspend {
                return PassEnd::Suspended;
            }
        }
    }

    /// Executes steps by targeted requests, at once. `Some(true)`: one of them is to be retried
    /// later (the pass suspends); `None`: the run was cancelled meanwhile.
    async fn execute(&mut self, steps: Vec<StepMeta>) -> Option<bool> {
        let started = self.now();
        let this: &Self = self;
        let requests = steps.iter().map(|step| {
            let attempt = this.attempts.get(&step.id).copied().unwrap_or(0);
            async move {
                let dispatch = Dispatch { step_id: &step.id, attempt, plan: true, checkpoints: false };
                (attempt, this.dispatch(&dispatch).await.0)
            }
        });
        let answers = futures::future::join_all(requests).await;
        let mut stop = false;
        for (step, (attempt, answer)) in steps.into_iter().zip(answers) {
            let outcome = match answer {
                Answer::Ops(ops, delay) => match ops.into_iter().find(|op| op.id == step.id && is_result(op)) {
                    Some(op) => self.apply(vec![op], delay, attempt, started).map_err(|e| (e, None)),
                    None => Err((format!("{} did not execute step `{}` when asked to", self.app(), step.name), None)),
                },
                Answer::Error { info, no_retry, delay } => {
                    let ended_at = self.now();
                    let error = Op::StepError {
                        step: step.clone(),
                        kind: StepKind::Run,
                        error: info,
                        attempt,
                        retry_after: delay,
                        timing: Timing { started_at: started, ended_at },
                        attempt_started_at: started,
                    };
                    self.step_error(error, no_retry == Some(true));
                    stop = true;
                    continue;
                }
                Answer::Done(_) => Err((
                    format!("{} answered the function's result instead of running step `{}`", self.app(), step.name),
                    None,
                )),
                Answer::Broken(message) => Err((message, None)),
            };
            match outcome {
                Ok(progress) => stop |= progress.suspend,
                Err((message, delay)) => {
                    let ended_at = self.now();
                    let error = Op::StepError {
                        step,
                        kind: StepKind::Run,
                        error: ErrorInfo { name: "SdkError".into(), message, cause: None, stack: None },
                        attempt,
                        retry_after: delay,
                        timing: Timing { started_at: started, ended_at },
                        attempt_started_at: started,
                    };
                    self.step_error(error, false);
                    stop = true;
                }
            }
        }
        if self.c.host.cancelled() {
            return None;
        }
        Some(stop)
    }

    /// Folds an answer's opcodes into the pass.
    fn apply(&mut self, ops: Vec<WireOp>, delay: Delay, attempt: u32, started: Millis) -> Result<Progress, String> {
        let mut progress = Progress { force_plan: ops.len() > 1, ..Progress::default() };
        let now = self.now();
        let timing = Timing { started_at: started, ended_at: now };
        // Waits first, as the server processes them.
        let (waits, others): (Vec<WireOp>, Vec<WireOp>) = ops.into_iter().partition(|op| op.is("WaitForEvent"));
        for op in waits.into_iter().chain(others) {
            let step = op.meta();
            if op.is("StepRun") || op.is("Step") {
                let kind = if op.kind() == StepKind::Send || step.name == "sendEvent" {
                    StepKind::Send
                } else {
                    StepKind::Run
                };
                let data = op.data.clone().unwrap_or(Value::Null);
                self.record(Op::StepRun { step, kind, data, attempt, timing }, true);
                progress.moved = true;
            } else if op.is("StepError") || op.is("StepFailed") {
                let error = op.error.as_ref().map(error_from_wire).unwrap_or_else(|| ErrorInfo {
                    name: "Error".into(),
                    message: "the step failed without an error".into(),
                    cause: None,
                    stack: None,
                });
                let attempt_started_at = timing.started_at;
                let error = Op::StepError {
                    step,
                    kind: op.kind(),
                    error,
                    attempt,
                    retry_after: delay,
                    timing,
                    attempt_started_at,
                };
                if self.step_error(error, op.is("StepFailed")) {
                    progress.moved = true;
                } else {
                    progress.suspend = true;
                }
            } else if op.is("StepPlanned") {
                match self.pending.get(&step.id) {
                    _ if self.journal.get(&step.id).is_some() => {}
                    Some(PendingOp::Retry { .. }) if !self.retried.contains(&step.id) => {
                        // Waiting for its retry: the next pass runs it.
                        progress.suspend = true;
                    }
                    _ => progress.planned.push(step),
                }
            } else if op.is("Sleep") || op.is("WaitForEvent") || op.is("InvokeFunction") {
                progress.suspend = true;
                if self.journal.get(&step.id).is_some()
                    || self.asked.contains(&step.id)
                    || self.pending.contains_key(&step.id)
                {
                    continue;
                }
                let request = self.async_op(&op, step, now)?;
                self.asked.insert(op.id.clone());
                self.ops.push(request);
            } else if op.is("RunComplete") {
                progress.complete = Some(op.data.clone().unwrap_or(Value::Null));
            } else if op.is("DiscoveryRequest") || op.is("None") || op.is("DeferAdd") || op.is("DeferAbort") {
                progress.moved = true;
            } else {
                return Err(format!("`{}` is not an opcode hookflow runs", op.op));
            }
        }
        Ok(progress)
    }

    /// A sleep, wait or invoke asked for by `op`.
    fn async_op(&self, op: &WireOp, step: StepMeta, now: Millis) -> Result<Op, String> {
        let until = |text: Option<&str>, default: &str| wire::parse_until(text.unwrap_or(default), now);
        if op.is("Sleep") {
            // JS puts the duration in `name`, Go and this SDK in `opts.duration`.
            let text = op.opt("duration").or(op.name.as_deref()).ok_or("a Sleep without a duration")?;
            let until = wire::parse_until(text, now)?;
            let step = StepMeta { name: op.display_name.clone().unwrap_or(step.name), ..step };
            return Ok(Op::Sleep { step, since: now, until });
        }
        if op.is("WaitForEvent") {
            let event = op.opt("event").or(op.name.as_deref()).ok_or("a WaitForEvent without an event")?.to_owned();
            let step = StepMeta { name: op.display_name.clone().unwrap_or(step.name), ..step };
            let timeout = op.opts.as_ref().and_then(|o| o.get("timeout")).and_then(Value::as_str);
            let until = until(timeout, "366d")?;
            let expr = op.opt("if").map(str::to_owned);
            return Ok(Op::WaitForEvent { step, since: now, event, expr, until });
        }
        let function_id = op.opt("function_id").ok_or("an InvokeFunction without `opts.function_id`")?.to_owned();
        let data = op.opts.as_ref().and_then(|o| o.pointer("/payload/data")).cloned().unwrap_or_else(|| json!({}));
        let until = until(op.opt("timeout"), "366d")?;
        Ok(Op::InvokeFunction { step, since: now, function_id, data, until })
    }

    /// Records a failed attempt; on the last one (or when it must not be retried) the step
    /// fails for good, as the server converts it. Answers whether it failed for good.
    fn step_error(&mut self, op: Op, final_: bool) -> bool {
        let Op::StepError { step, kind, error, attempt, retry_after, timing, attempt_started_at } = op else {
            return false;
        };
        if final_ || attempt + 1 >= self.c.host.max_attempts() {
            self.record(Op::StepFailed { step, kind, error, attempt, timing }, true);
            return true;
        }
        let retry_after = Some(retry_after.unwrap_or_else(|| self.c.dispatcher.backoff(attempt)));
        self.ops.push(Op::StepError { step, kind, error, attempt, retry_after, timing, attempt_started_at });
        false
    }

    /// Journals a step's result (and, for a result that came in an answer, lets the host
    /// checkpoint it as it does for in-process steps).
    fn record(&mut self, op: Op, tell_host: bool) {
        let (hash, memo) = match &op {
            Op::StepRun { step, data, .. } => (step.id.clone(), Memo::Data(data.clone())),
            Op::StepFailed { step, error, .. } => (step.id.clone(), Memo::Error(error.clone())),
            _ => return,
        };
        if self.journal.get(&hash).is_some() {
            return;
        }
        if tell_host {
            self.c.host.recorded(&op);
        }
        self.attempts.remove(&hash);
        self.pending.remove(&hash);
        self.journal.insert(hash, memo);
        self.ops.push(op);
    }

    fn body(&self, dispatch: &Dispatch<'_>, generation: i64) -> Vec<u8> {
        let mut steps = Map::new();
        let mut stack = Vec::new();
        for (hash, memo) in self.journal.iter() {
            // Steps this pass journaled are `step.run`s; the others were journaled before it.
            let kind = self.c.kinds.get(hash).copied().unwrap_or(StepKind::Run);
            steps.insert(hash.to_owned(), memo_to_wire(memo, kind));
            stack.push(hash.to_owned());
        }
        let run_id = &self.c.run.id;
        let mut ctx = json!({
            "run_id": run_id,
            "env": "",
            "step_id": dispatch.step_id,
            "attempt": dispatch.attempt,
            "max_attempts": self.c.host.max_attempts(),
            "stack": { "stack": stack, "current": self.journal.len() },
            "qi_id": format!("{run_id}/{}", self.c.lease.token),
            "request_id": format!("{run_id}/{generation}"),
            "generation_id": generation,
            "disable_immediate_execution": dispatch.plan,
            "use_api": false,
        });
        if dispatch.checkpoints && !dispatch.plan {
            ctx["fn_id"] = json!(function_uuid(&self.c.spec.id));
        }
        let body = json!({
            "event": self.events.first().cloned().unwrap_or_else(|| json!({})),
            "events": self.events,
            "steps": steps,
            "ctx": ctx,
            "version": wire::REQUEST_VERSION,
            "use_api": false,
        });
        // Canonical, as the server sends it: SDKs verify the signature over the canonical form.
        wire::canonical(&body).into_bytes()
    }

    /// Sends one call request; answers what came back and the ops checkpointed meanwhile.
    async fn dispatch(&self, dispatch: &Dispatch<'_>) -> (Answer, Vec<WireOp>) {
        let dispatcher = self.c.dispatcher;
        let generation = dispatcher.next_generation();
        let body = self.body(dispatch, generation);
        let run_id = self.c.run.id.clone();
        let registered = dispatch.checkpoints && !dispatch.plan;
        if registered {
            dispatcher.begin(
                &run_id,
                Inflight {
                    qi_id: format!("{run_id}/{}", self.c.lease.token),
                    generation,
                    lease: self.c.lease.clone(),
                    store: self.c.store.clone(),
                    attempt: dispatch.attempt,
                    ops: Vec::new(),
                    last: self.now(),
                },
            );
        }
        let answer = self.send(dispatch, generation, body).await;
        let checkpointed = if registered { dispatcher.end(&run_id, generation) } else { Vec::new() };
        (answer, checkpointed)
    }

    async fn send(&self, dispatch: &Dispatch<'_>, generation: i64, body: Vec<u8>) -> Answer {
        // One app's functions share its process: the bound is per serve URL, query left out.
        let app_url = self.c.remote.url.split('?').next().unwrap_or_default();
        let _permit = self.c.dispatcher.call_permit(app_url).await;
        let url = step_url(&self.c.remote.url, &self.c.spec.id, dispatch.step_id);
        let mut request = self
            .c
            .dispatcher
            .http()
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(headers::RUN_ID, &self.c.run.id)
            .header(headers::REQUEST_ID, format!("{}/{generation}", self.c.run.id))
            .header(headers::GENERATION_ID, generation.to_string())
            .header(headers::STEP_ID, dispatch.step_id)
            .header(headers::REQ_VERSION, wire::REQUEST_VERSION.to_string());
        if let Some(key) = self.c.dispatcher.keys().first() {
            // The app checks the timestamp against its own clock: the wall clock, whatever
            // clock the engine runs on.
            request =
                request.header(headers::SIGNATURE, key.sign(&body, crate::clock::system_now_ms().div_euclid(1000)));
        }
        let response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => return Answer::Broken(format!("could not reach {}: {}", self.app(), error_chain(&e))),
        };
        let status = response.status();
        // A 401 says nothing about the SDK but that it handled the request.
        let has_sdk =
            response.headers().contains_key(headers::SDK) || response.headers().contains_key(headers::SDK_HANDLED);
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let no_retry = header(headers::NO_RETRY).map(|v| v.eq_ignore_ascii_case("true"));
        let delay = retry_after(header(headers::RETRY_AFTER).as_deref(), self.now());
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Answer::Broken(format!("{} went away while answering: {}", self.app(), error_chain(&e))),
        };
        if !has_sdk {
            return Answer::Broken(format!(
                "{} answered {status} without an X-Inngest-SDK header, so it is not an Inngest SDK's serve endpoint \
                 (is the URL right?)",
                self.app()
            ));
        }
        interpret(status.as_u16(), &bytes, no_retry, delay, &self.app())
    }

    fn report(self, end: PassEnd) -> PassReport {
        // Ops left pending by earlier passes stay pending unless this pass ended them: an SDK
        // that was not asked again (the pass ended on a retry) cannot have given them up.
        let reported: HashSet<&str> = self.ops.iter().filter_map(Op::step_id).collect();
        let kept = self
            .pending
            .values()
            .filter(|op| !reported.contains(op.step()) && self.journal.get(op.step()).is_none())
            .filter(|op| !(matches!(op, PendingOp::Retry { .. }) && self.retried.contains(op.step())))
            .cloned()
            .collect();
        PassReport { ops: self.ops, kept, end, replayed: 0 }
    }
}

fn is_result(op: &WireOp) -> bool {
    op.is("StepRun") || op.is("Step") || op.is("StepError") || op.is("StepFailed")
}

fn failed(name: &str, message: String, retry: Retry) -> PassEnd {
    PassEnd::Failed { error: ErrorInfo { name: name.into(), message, cause: None, stack: None }, retry }
}

/// The causes of a reqwest error, joined (its own message is only the outermost).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// An SDK's answer by its status and body.
pub(crate) fn interpret(status: u16, body: &[u8], no_retry: Option<bool>, delay: Delay, app: &str) -> Answer {
    match status {
        200 => match body.iter().all(u8::is_ascii_whitespace) {
            true => Answer::Done(Value::Null),
            false => match serde_json::from_slice(body) {
                Ok(value) => Answer::Done(value),
                Err(e) => Answer::Broken(format!("{app} answered 200 with a body that is not JSON ({e})")),
            },
        },
        206 => match parse_ops(body) {
            Ok(ops) if ops.is_empty() => Answer::Broken(format!("{app} answered 206 with no opcode")),
            Ok(ops) => Answer::Ops(ops, delay),
            Err(e) => Answer::Broken(format!("{app} answered 206 with opcodes that do not parse: {e}")),
        },
        // Streaming: keep-alive spaces, then the real answer as JSON.
        201 => {
            let Ok(wrapped) = serde_json::from_slice::<Value>(body) else {
                return Answer::Broken(format!("{app} streamed an answer that is not JSON"));
            };
            let inner =
                wrapped.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()).unwrap_or(500);
            let body = match wrapped.get("body") {
                Some(Value::String(s)) => s.clone().into_bytes(),
                Some(other) => other.to_string().into_bytes(),
                None => Vec::new(),
            };
            let no_retry = wrapped.get("noRetry").and_then(Value::as_bool).or(no_retry);
            if inner == 201 {
                return Answer::Broken(format!("{app} streamed a stream"));
            }
            interpret(inner, &body, no_retry, delay, app)
        }
        401 | 403 => Answer::Error {
            info: ErrorInfo {
                name: "Unauthorized".into(),
                message: format!(
                    "{app} refused the call request ({status}): the app and hookflow dev must share a signing key \
                     (INNGEST_SIGNING_KEY, or none for an app in dev mode)"
                ),
                cause: None,
                stack: None,
            },
            no_retry: Some(false),
            delay,
        },
        _ => {
            let info = match serde_json::from_slice::<Value>(body) {
                Ok(value) => error_from_wire(&value),
                Err(_) => ErrorInfo {
                    name: "Error".into(),
                    message: format!(
                        "{app} answered {status}: {}",
                        String::from_utf8_lossy(body).chars().take(500).collect::<String>()
                    ),
                    cause: None,
                    stack: None,
                },
            };
            Answer::Error { info, no_retry, delay }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_clamps() {
        assert_eq!(retry_after(Some("30"), 0), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(Some("0"), 0), Some(Duration::from_secs(1)), "at least a second");
        assert_eq!(retry_after(Some("99999"), 0), Some(Duration::from_secs(86_400)), "at most a day");
        assert_eq!(retry_after(Some("2026-01-01T00:01:00Z"), 1_767_225_600_000), Some(Duration::from_secs(60)));
        assert_eq!(retry_after(Some("later"), 0), None);
        assert_eq!(retry_after(None, 0), None);
    }

    #[test]
    fn answers_by_status() {
        assert!(matches!(interpret(200, b"\"hi\"", None, None, "a"), Answer::Done(v) if v == "hi"));
        assert!(matches!(interpret(200, b"", None, None, "a"), Answer::Done(Value::Null)));
        assert!(matches!(interpret(206, b"[]", None, None, "a"), Answer::Broken(m) if m.contains("no opcode")));
        assert!(matches!(interpret(206, b"<html>", None, None, "a"), Answer::Broken(_)));
        assert!(
            matches!(interpret(206, br#"[{"op":"StepPlanned","id":"x"}]"#, None, None, "a"), Answer::Ops(o, _) if o.len() == 1)
        );
        let streamed = br#"   {"status":200,"body":"\"done\""}"#;
        assert!(matches!(interpret(201, streamed, None, None, "a"), Answer::Done(v) if v == "done"));
        match interpret(500, br#"{"name":"TypeError","message":"boom"}"#, Some(false), None, "a") {
            Answer::Error { info, no_retry, .. } => {
                assert_eq!((info.name.as_str(), no_retry), ("TypeError", Some(false)))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(interpret(502, b"bad gateway", None, None, "a"), Answer::Error { info, .. } if info.message.contains("502"))
        );
    }

    #[test]
    fn function_ids_look_like_uuids() {
        let id = function_uuid("app-fn");
        assert_eq!(id.len(), 36);
        assert_eq!(id, function_uuid("app-fn"));
        assert_ne!(id, function_uuid("app-other"));
    }
}
