//! The one place a pass's report becomes writes. Its ops become journal entries, pending ops
//! (sleeps, waits with their matchers, invokes with the invoked run, retries with their
//! back-off) and the run's next due time; its end becomes the run's new status, and for a run
//! that ended, the system events Inngest emits and the result handed to the run that invoked
//! it. Everything lands in one ack, fenced by the pass's lease.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::ingest::{join_of, Prepared};
use super::trigger_event::EventJson;
use super::{Core, TriggerEvent};
use crate::error::{ErrorInfo, Retry};
use crate::function::FunctionSpec;
use crate::model::{
    FailedAttempt, Memo, Millis, ParentRef, PendingOp, ResumedBy, RunRecord, RunState, RunStatus, StepDetail, StepKind,
    StepRecord, WaitSpec,
};
use crate::replay::{Op, PassEnd, PassReport, StepMeta, Timing};
use crate::step::millis;
use crate::store::{Ack, DropMatchers, Matcher, MatcherKind, NewEvent, Resume, StoreError};

/// A system event's name and its data (without the triggering event, which `system_event` adds).
type SystemEvent = (&'static str, Map<String, Value>);

/// How a run ends.
pub(super) enum Ending {
    Completed(Value),
    Failed(ErrorInfo),
    Cancelled,
}

/// An ack, with the JSON forms of the events it emits that were built (kept for the runs
/// those events start).
pub(super) struct Applied {
    pub(super) ack: Ack,
    pub(super) jsons: Vec<Option<Arc<Value>>>,
}

/// The journal entry a step op records, if it records one (the op back otherwise), with the
/// attempts of the step that failed before (`failures`, by hashed step id) in its detail.
pub(super) fn into_step_record(
    run_id: &str,
    op: Op,
    failures: &BTreeMap<String, Vec<FailedAttempt>>,
) -> Result<StepRecord, Box<Op>> {
    let record = |step: StepMeta, kind: StepKind, memo: Memo, attempt: u32, timing: Timing| StepRecord {
        run_id: run_id.to_owned(),
        detail: StepDetail { failures: failures.get(&step.id).cloned().unwrap_or_default(), ..StepDetail::default() },
        hash: step.id,
        name: step.name,
        kind,
        memo,
        attempts: attempt + 1,
        started_at: timing.started_at,
        ended_at: timing.ended_at,
    };
    match op {
        Op::StepRun { step, kind, data, attempt, timing } => Ok(record(step, kind, Memo::Data(data), attempt, timing)),
        Op::StepFailed { step, kind, error, attempt, timing } => {
            Ok(record(step, kind, Memo::Error(error), attempt, timing))
        }
        other => Err(Box::new(other)),
    }
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s, ... capped at one hour, plus up to 25%.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 1_000u64.saturating_mul(1u64 << attempt.min(12)).min(3_600_000);
    let jitter = rand::random_range(0..=base / 4);
    Duration::from_millis(base + jitter)
}

/// When a function whose body failed on attempt `attempt` (0-based) is tried again, if it is.
fn body_retry(retry: Retry, attempt: u32, max_attempts: u32) -> Option<Duration> {
    match retry {
        Retry::Never => None,
        _ if attempt + 1 >= max_attempts => None,
        Retry::After(delay) => Some(delay),
        Retry::Backoff => Some(backoff(attempt)),
    }
}

/// The error recorded for an invoke that timed out.
pub(super) fn invoke_timeout() -> ErrorInfo {
    ErrorInfo {
        name: "InngestInvokeTimeoutError".into(),
        message: "Timed out waiting for invoked function to complete".into(),
        cause: None,
        stack: None,
    }
}

impl Core {
    /// The ack of a pass.
    pub(super) async fn apply(
        &self,
        spec: &FunctionSpec,
        mut run: RunRecord,
        trigger: &TriggerEvent,
        report: PassReport,
    ) -> Result<Applied, StoreError> {
        let now = self.clock.now_ms();
        let waited_before: Vec<String> = run
            .state
            .pending
            .iter()
            .filter(|op| matches!(op, PendingOp::Wait { .. }))
            .map(|op| op.step().to_owned())
            .collect();
        let mut steps = Vec::new();
        let mut pending: Vec<PendingOp> = report.kept;
        let RunState { mut step_attempts, mut step_started, mut step_failures, .. } = std::mem::take(&mut run.state);
        let mut matchers = Vec::new();
        let mut emitted: Vec<Prepared> = Vec::new();
        let mut output = Value::Null;
        // A step whose result is known now (an invoke of an unknown function): due at once.
        let mut due_now = false;
        for op in report.ops {
            let op = match into_step_record(&run.id, op, &step_failures) {
                Ok(record) => {
                    step_attempts.remove(&record.hash);
                    step_started.remove(&record.hash);
                    step_failures.remove(&record.hash);
                    steps.push(record);
                    continue;
                }
                Err(op) => *op,
            };
            match op {
                Op::StepError { step, error, attempt, retry_after, timing, attempt_started_at, .. } => {
                    step_attempts.insert(step.id.clone(), attempt + 1);
                    step_started.insert(step.id.clone(), timing.started_at);
                    step_failures.entry(step.id.clone()).or_default().push(FailedAttempt {
                        attempt: attempt + 1,
                        error: error.clone(),
                        started_at: attempt_started_at,
                        ended_at: timing.ended_at,
                    });
                    let delay = retry_after.unwrap_or_else(|| backoff(attempt));
                    let at = timing.ended_at.saturating_add(millis(delay));
                    pending.push(PendingOp::Retry { step: step.id, name: step.name, at, error });
                }
                Op::Sleep { step, since, until } => {
                    pending.push(PendingOp::Sleep { step: step.id, name: step.name, until, since })
                }
                Op::WaitForEvent { step, since, event, expr, until } => {
                    matchers.push(Matcher {
                        run_id: run.id.clone(),
                        id: step.id.clone(),
                        kind: MatcherKind::Wait,
                        name: step.name.clone(),
                        event: event.clone(),
                        expr: expr.clone(),
                        join: expr.as_deref().and_then(|e| join_of(e, trigger)),
                        trigger: trigger.event_id().map(str::to_owned),
                        since,
                        deadline: until,
                    });
                    let spec = WaitSpec { event, expr };
                    pending.push(PendingOp::Wait { step: step.id, name: step.name, spec, until, since });
                }
                Op::InvokeFunction { step, since, function_id, data, until } => match self.function(&function_id) {
                    Some(child) => {
                        let child_event = crate::replay::hash_step_id(&format!("{}-{}-invoke", run.id, step.id));
                        let parent =
                            ParentRef { run_id: run.id.clone(), step: step.id.clone(), name: step.name.clone() };
                        emitted.push(self.invocation(&child, data, child_event.clone(), Some(parent)));
                        pending.push(PendingOp::Invoke { step: step.id, name: step.name, child_event, until, since });
                    }
                    None => {
                        let error = ErrorInfo {
                            name: "FunctionNotFound".into(),
                            message: format!(
                                "step `{}` invokes function `{function_id}`, which no app registered here has",
                                step.name
                            ),
                            cause: None,
                            stack: None,
                        };
                        steps.push(StepRecord {
                            run_id: run.id.clone(),
                            hash: step.id,
                            name: step.name,
                            kind: StepKind::Invoke,
                            memo: Memo::Error(error),
                            attempts: 1,
                            started_at: since,
                            ended_at: now,
                            detail: StepDetail::default(),
                        });
                        due_now = true;
                    }
                },
                // Only a host that plans steps reports them; run them at the next pass.
                Op::StepPlanned { .. } => due_now = true,
                Op::RunComplete { data } => output = data,
                Op::StepRun { .. } | Op::StepFailed { .. } => {}
            }
        }
        run.state = RunState { pending: Vec::new(), step_attempts, step_started, step_failures };
        let ending = match report.end {
            PassEnd::Completed => Some(Ending::Completed(output)),
            PassEnd::Cancelled => {
                // What the run was waiting on when it was cancelled stays on its timeline.
                run.state.pending = std::mem::take(&mut pending);
                Some(Ending::Cancelled)
            }
            PassEnd::Failed { error, retry } => match body_retry(retry, run.attempt, spec.max_attempts()) {
                None => {
                    tracing::warn!(run_id = %run.id, function_id = %run.function_id, error = %error, "run failed");
                    Some(Ending::Failed(error))
                }
                Some(delay) => {
                    tracing::warn!(run_id = %run.id, error = %error, retry_in = ?delay, "run failed; will retry");
                    run.attempt += 1;
                    run.status = RunStatus::Queued;
                    run.error = Some(error);
                    run.wake_at = Some(now.saturating_add(millis(delay)));
                    pending.clear();
                    None
                }
            },
            PassEnd::Suspended => {
                let waits = pending.iter().any(|op| matches!(op, PendingOp::Wait { .. } | PendingOp::Invoke { .. }));
                run.status = if waits { RunStatus::Waiting } else { RunStatus::Sleeping };
                let earliest = pending.iter().map(PendingOp::due).min();
                run.wake_at = match earliest {
                    Some(at) if !due_now => Some(at),
                    // Nothing to wait for (a shutdown stopped the pass): due again at once.
                    _ => Some(now),
                };
                if pending.is_empty() {
                    run.status = RunStatus::Queued;
                }
                None
            }
        };
        if let Some(ending) = ending {
            return self.finish(run, trigger, ending, steps, emitted, now).await;
        }
        if let Some(deadline) = super::flow::finish_deadline(&run) {
            // Sleeping, waiting or backing off past its finish timeout: woken then to be cancelled.
            run.wake_at = run.wake_at.map(|w| w.min(deadline));
        }
        let waiting_on: Vec<String> = pending
            .iter()
            .filter(|op| matches!(op, PendingOp::Wait { .. } | PendingOp::Invoke { .. }))
            .map(|op| op.step().to_owned())
            .collect();
        let still_waiting: Vec<&str> =
            pending.iter().filter(|op| matches!(op, PendingOp::Wait { .. })).map(PendingOp::step).collect();
        let gone: Vec<String> = waited_before.into_iter().filter(|h| !still_waiting.contains(&h.as_str())).collect();
        run.state.pending = pending;
        let (events, jsons) = emitted.into_iter().map(|p| (p.new, p.json)).unzip();
        Ok(Applied {
            ack: Ack {
                run,
                steps,
                waiting_on,
                matchers,
                drop_matchers: if gone.is_empty() { DropMatchers::None } else { DropMatchers::Ids(gone) },
                events,
                resume: Vec::new(),
                at: now,
            },
            jsons,
        })
    }

    /// The ack that ends a run: its final record, the system events Inngest emits, and the
    /// result handed to the run that invoked it.
    pub(super) async fn finish(
        &self,
        mut run: RunRecord,
        trigger: &TriggerEvent,
        ending: Ending,
        steps: Vec<StepRecord>,
        mut emitted: Vec<Prepared>,
        now: Millis,
    ) -> Result<Applied, StoreError> {
        let with = |key: Option<&str>, value: Value| {
            let mut data = Map::new();
            data.insert("function_id".into(), json!(run.function_id));
            data.insert("run_id".into(), json!(run.id));
            if let Some(key) = key {
                data.insert(key.to_owned(), value);
            }
            data
        };
        let (status, parent_memo, names): (RunStatus, Memo, Vec<SystemEvent>) = match ending {
            Ending::Completed(output) => {
                run.output = Some(output.clone());
                run.error = None;
                let finished = with(Some("result"), output.clone());
                (RunStatus::Completed, Memo::Data(output), vec![("inngest/function.finished", finished)])
            }
            Ending::Failed(error) => {
                run.error = Some(error.clone());
                let error_json = serde_json::to_value(&error)?;
                (
                    RunStatus::Failed,
                    Memo::Error(error),
                    vec![
                        ("inngest/function.failed", with(Some("error"), error_json.clone())),
                        ("inngest/function.finished", with(Some("error"), error_json)),
                    ],
                )
            }
            Ending::Cancelled => {
                if run.cancellation.is_none() {
                    // Stopped between steps by its finish timeout.
                    run.cancellation = super::flow::timed_out(&run, now);
                }
                let message = match &run.cancellation {
                    Some(c) => format!("the run was cancelled by {}", c.by),
                    None => "the run was cancelled".to_owned(),
                };
                let error = ErrorInfo { name: "RunCancelled".into(), message, cause: None, stack: None };
                (
                    RunStatus::Cancelled,
                    Memo::Error(error),
                    vec![("inngest/function.cancelled", with(None, Value::Null))],
                )
            }
        };
        run.status = status;
        run.ended_at = Some(now);
        run.wake_at = None;
        // A cancelled run keeps what it was waiting on, to show where it stopped.
        let stopped_at = match status {
            RunStatus::Cancelled => std::mem::take(&mut run.state.pending),
            _ => Vec::new(),
        };
        run.state = RunState { pending: stopped_at, ..RunState::default() };
        for (name, data) in names {
            emitted.push(self.system_event(name, &run, data, trigger).await?);
        }
        let resume = run
            .parent
            .as_ref()
            .map(|parent| Resume {
                run_id: parent.run_id.clone(),
                record: StepRecord {
                    run_id: parent.run_id.clone(),
                    hash: parent.step.clone(),
                    name: parent.name.clone(),
                    kind: StepKind::Invoke,
                    memo: parent_memo,
                    attempts: 1,
                    started_at: run.created_at,
                    ended_at: now,
                    detail: StepDetail {
                        resumed_by: Some(ResumedBy::Run { run_id: run.id.clone() }),
                        ..StepDetail::default()
                    },
                },
            })
            .into_iter()
            .collect();
        let (events, jsons): (Vec<NewEvent>, Vec<Option<Arc<Value>>>) =
            emitted.into_iter().map(|p| (p.new, p.json)).unzip();
        Ok(Applied {
            ack: Ack {
                run,
                steps,
                waiting_on: Vec::new(),
                matchers: Vec::new(),
                drop_matchers: DropMatchers::All,
                events,
                resume,
                at: now,
            },
            jsons,
        })
    }
}
