//! One pass of a claimed run: load what it needs, resolve the timers that came due, call the
//! function through its executor, and write the report with one ack under the lease.

use std::sync::Arc;

use serde_json::Value;

use super::apply::{invoke_timeout, Applied, Ending};
use super::host::EngineHost;
use super::scheduler::PassSlot;
use super::{flow, Change, Core, TriggerEvent};
use crate::error::ErrorInfo;
#[cfg(not(feature = "protocol"))]
use crate::error::Retry;
use crate::event::RawEvent;
use crate::exec::local;
use crate::function::{Executor, FunctionSpec};
use crate::model::{Memo, PendingOp, ResumedBy, RunRecord, RunStatus, StepDetail, StepKind, StepRecord};
use crate::replay::{Journal, Op, PassEnd, PassInput, PassReport};
use crate::store::{Acked, Checkpoint, Lease, Resolution, StoreError};

/// An emitted event's id and name, and, when it starts runs, the event and its runs.
type Announcement = (String, String, Option<(crate::model::StoredEvent, Vec<crate::store::NewRun>)>);

/// What a pass starts from when the engine has it already: a run's first pass (from its
/// insert) or a claimed run (read with the rest of its claim).
pub(crate) struct Preload {
    pub(crate) run: RunRecord,
    pub(crate) trigger: Arc<TriggerEvent>,
    /// The journal it was created with (a re-run from a step copies the earlier steps).
    pub(crate) steps: Vec<StepRecord>,
}

impl Core {
    /// Executes one pass of a leased run, in `slot`, and acknowledges it.
    pub(super) async fn execute(
        self: &Arc<Self>,
        lease: &Lease,
        preload: Option<Preload>,
        slot: &PassSlot,
    ) -> Result<(), StoreError> {
        let (run, trigger, mut records) = match preload {
            Some(p) => (p.run, p.trigger, p.steps),
            None => {
                let Some(run) = self.store.run(&lease.run_id).await? else {
                    tracing::warn!(run_id = %lease.run_id, "a claimed run does not exist");
                    return Ok(());
                };
                let events: Vec<RawEvent> =
                    self.store.events(&run.event_ids).await?.into_iter().map(|e| e.into_raw()).collect();
                let records = self.store.journal(&run.id).await?;
                (run, TriggerEvent::new(Arc::from(events)), records)
            }
        };
        let now = self.clock.now_ms();
        let Some(spec) = self.function(&run.function_id) else {
            let error = ErrorInfo {
                name: "FunctionNotFound".into(),
                message: format!(
                    "function `{}` is not registered in this app; was it renamed or removed?",
                    run.function_id
                ),
                cause: None,
                stack: None,
            };
            let applied = self.finish(run, &trigger, Ending::Failed(error), Vec::new(), Vec::new(), now).await?;
            return self.acknowledge(lease, applied, slot).await;
        };
        if run.status.is_terminal() {
            // Ended already (a pass ended it and its lease was then lost): nothing to do.
            return self.store.release(lease, now).await.map(drop);
        }
        if run.cancellation.is_some() || self.store.cancel_requested(&run.id) {
            let run = match run.cancellation {
                Some(_) => run,
                None => self.store.run(&run.id).await?.unwrap_or(run),
            };
            let applied = self.finish(run, &trigger, Ending::Cancelled, Vec::new(), Vec::new(), now).await?;
            return self.acknowledge(lease, applied, slot).await;
        }
        if let Some(timeout) = flow::timed_out(&run, now) {
            // Queued too long (`timeouts.start`) or running too long (`timeouts.finish`).
            let run = RunRecord { cancellation: Some(timeout), ..run };
            let applied = self.finish(run, &trigger, Ending::Cancelled, Vec::new(), Vec::new(), now).await?;
            return self.acknowledge(lease, applied, slot).await;
        }
        if lease.interrupted >= self.max_interrupted {
            // Every claim of this run ended with its worker gone: claimed again, it would take
            // the next worker down too.
            let error = ErrorInfo {
                name: "InterruptedTooOften".into(),
                message: format!(
                    "the run's last {} passes were interrupted before they finished (each time the process running \
                     it was killed or crashed, hung, or lost its store), so hookflow failed it rather than let it take \
                     down another worker: find what stops the process in this run's last step (a panic with \
                     panic = \"abort\", memory exhaustion, a blocking loop), then rerun it",
                    lease.interrupted
                ),
                cause: None,
                stack: None,
            };
            tracing::error!(run_id = %run.id, interrupted = lease.interrupted, "failing a run that keeps taking its workers down");
            let applied = self.finish(run, &trigger, Ending::Failed(error), Vec::new(), Vec::new(), now).await?;
            return self.acknowledge(lease, applied, slot).await;
        }
        let mut run = run;
        // This pass is the run's start: its flow control admitted it (a throttle counted it),
        // and its finish timeout runs from here.
        run.started_at.get_or_insert(now);

        // Timers that came due, written before the pass: a wait's or an invoke's timeout on its
        // own, since the event (or the invoked run's result) may have arrived meanwhile, and
        // whichever is written first is the step's result; a sleep's end with them (see below).
        let journaled = |records: &[StepRecord], hash: &str| records.iter().any(|r| r.hash == hash);
        let mut slept = Vec::new();
        let mut timeouts = Vec::new();
        let mut pending = Vec::new();
        for op in run.state.pending.clone() {
            if journaled(&records, op.step()) {
                continue;
            }
            if op.due() > now {
                pending.push(op);
                continue;
            }
            let record = |kind, memo, detail| StepRecord {
                run_id: run.id.clone(),
                hash: op.step().to_owned(),
                name: op.name().to_owned(),
                kind,
                memo,
                attempts: 1,
                // Ops written before `since` was kept read 0: their bars start with the run.
                started_at: op.since().max(run.created_at),
                ended_at: now,
                detail,
            };
            let timed_out =
                |waited_for| StepDetail { waited_for, resumed_by: Some(ResumedBy::Timeout), ..StepDetail::default() };
            match &op {
                PendingOp::Sleep { .. } => {
                    slept.push(record(StepKind::Sleep, Memo::Data(Value::Null), StepDetail::default()))
                }
                PendingOp::Wait { step, spec, .. } => timeouts.push(Resolution {
                    matcher: Some(step.clone()),
                    record: record(StepKind::Wait, Memo::Data(Value::Null), timed_out(Some(spec.clone()))),
                }),
                PendingOp::Invoke { .. } => timeouts.push(Resolution {
                    matcher: None,
                    record: record(StepKind::Invoke, Memo::Error(invoke_timeout()), timed_out(None)),
                }),
                // The back-off is over: the step runs again.
                PendingOp::Retry { .. } => {}
            }
        }
        if !timeouts.is_empty() || !slept.is_empty() {
            // Sleeps that ended are journaled before the pass, so that a step the pass writes
            // early (a slow one, or one an SDK app checkpoints) comes after them, as it ran.
            let checkpoint = Checkpoint { steps: slept, resolutions: timeouts, ..Checkpoint::default() };
            if !self.store.checkpoint(lease, checkpoint).await? {
                tracing::warn!(run_id = %run.id, "lost the lease before the pass began");
                return Ok(());
            }
            records = self.store.journal(&run.id).await?;
            pending.retain(|op| !journaled(&records, op.step()));
        }
        let recorded_before = records.len();
        // An SDK app is sent each memo in the shape its step kind has on the wire.
        #[cfg(feature = "protocol")]
        let kinds = match spec.executor {
            Executor::Remote(_) => records.iter().map(|r| (r.hash.clone(), r.kind)).collect(),
            Executor::Local(_) => std::collections::HashMap::new(),
        };
        let journal = Journal::from_entries(records.into_iter().map(|r| (r.hash, r.memo)));
        let input = PassInput {
            run_id: run.id.clone(),
            journal,
            pending,
            attempts: run.state.step_attempts.clone(),
            started: run.state.step_started.clone(),
            base_attempt: 0,
        };
        let host = Arc::new(EngineHost::new(
            self.clone(),
            lease.clone(),
            spec.max_attempts(),
            run.status == RunStatus::Running,
            flow::finish_deadline(&run),
            run.state.step_failures.clone(),
        ));
        #[cfg(feature = "protocol")]
        let report = self.call(&spec, &run, &trigger, input, host.clone(), lease, kinds).await;
        #[cfg(not(feature = "protocol"))]
        let report = self.call(&spec, &run, &trigger, input, host.clone(), lease).await;
        if !host.flushed().await {
            tracing::warn!(run_id = %run.id, "lost the lease during the pass: its result is not written");
            return Ok(());
        }
        if report.end == PassEnd::Completed {
            // The run's steps: those of earlier passes and those this pass recorded.
            let recorded = report.ops.iter().filter(|op| matches!(op, Op::StepRun { .. } | Op::StepFailed { .. }));
            let steps = recorded_before + recorded.count();
            tracing::info!(run_id = %run.id, function_id = %run.function_id, steps, "run completed");
        }
        let applied = self.apply(&spec, run, &trigger, report).await?;
        self.acknowledge(lease, applied, slot).await
    }

    /// Calls the function through its executor.
    // `kinds` is the remote executor's alone (see `RemoteCall::kinds`).
    #[cfg_attr(feature = "protocol", allow(clippy::too_many_arguments))]
    async fn call(
        &self,
        spec: &FunctionSpec,
        run: &RunRecord,
        trigger: &TriggerEvent,
        input: PassInput,
        host: Arc<EngineHost>,
        lease: &Lease,
        #[cfg(feature = "protocol")] kinds: std::collections::HashMap<String, crate::model::StepKind>,
    ) -> PassReport {
        #[cfg(not(feature = "protocol"))]
        let _ = lease;
        match &spec.executor {
            Executor::Local(handler) => {
                let call = local::Call {
                    handler: *handler,
                    function_id: Arc::from(spec.id.as_str()),
                    engine: self.instance,
                    attempt: run.attempt,
                    events: trigger.events().clone(),
                    state: self.state.clone(),
                };
                local::run(call, input, host).await
            }
            #[cfg(feature = "protocol")]
            Executor::Remote(remote) => {
                crate::protocol::executor::call::call(crate::protocol::executor::call::RemoteCall {
                    dispatcher: &self.dispatcher,
                    spec,
                    remote,
                    run,
                    events: trigger.events().clone(),
                    input,
                    host,
                    lease: lease.clone(),
                    store: self.store.clone(),
                    kinds,
                })
                .await
            }
            #[cfg(not(feature = "protocol"))]
            Executor::Remote(remote) => PassReport {
                ops: Vec::new(),
                kept: Vec::new(),
                end: PassEnd::Failed {
                    error: ErrorInfo {
                        name: "ExecutorUnavailable".into(),
                        message: format!(
                            "function `{}` is served by app `{}` at {}, and this build has no `protocol` feature \
                             to call apps over the Inngest protocol",
                            spec.id, remote.app_id, remote.url
                        ),
                        cause: None,
                        stack: None,
                    },
                    retry: Retry::Backoff,
                },
                replayed: 0,
            },
        }
    }

    /// Writes an ack, then announces the change and starts the passes of the runs it created.
    async fn acknowledge(self: &Arc<Self>, lease: &Lease, applied: Applied, slot: &PassSlot) -> Result<(), StoreError> {
        let Applied { ack, jsons } = applied;
        let (run_id, function_id, status) = (ack.run.id.clone(), ack.run.function_id.clone(), ack.run.status);
        // Only what announcing the events and starting their runs needs: most start none, and
        // only those that do are copied.
        let events: Vec<Announcement> = ack
            .events
            .iter()
            .map(|e| {
                let starts = (!e.runs.is_empty()).then(|| (e.event.clone(), e.runs.clone()));
                (e.event.id.clone(), e.event.name.clone(), starts)
            })
            .collect();
        let claim = self.claim_for();
        // The run's outcome is decided: what is left is waiting for the ack's group to commit.
        // The pass stays counted as active (shutdown waits for it, and so for its ack), and its
        // lease stays held and renewed until the ack is answered; `_waiting` is held as long.
        let _waiting = if self.store.groups_acks() {
            self.acks_waiting.clone().try_acquire_owned().ok().inspect(|_| slot.give_back(self))
        } else {
            None
        };
        match self.store.ack(lease, ack, Some(&claim)).await? {
            Acked::Stale => {
                tracing::warn!(run_id = %run_id, "the run was claimed again while this pass ran: its result is dropped");
            }
            Acked::Committed { events: accepted, .. } => {
                self.notify(Change::Run { id: run_id, function_id, status });
                let mut skips = Vec::new();
                for (((id, name, starts), json), accepted) in events.into_iter().zip(jsons).zip(accepted) {
                    if !accepted.new {
                        continue;
                    }
                    skips.extend(accepted.skipped.into_iter().map(|skip| (skip, name.clone(), json.clone())));
                    self.notify(Change::Event { id, name });
                    if let Some((event, runs)) = starts {
                        let trigger = TriggerEvent::with_json(Arc::from(vec![event.into_raw()]), json);
                        self.started(runs, &accepted.runs, &trigger);
                    }
                }
                self.announce_skips(skips).await?;
            }
        }
        Ok(())
    }
}
