//! One pass of a run: load what it needs, replay the function against its journal, and
//! persist how the pass ended (completed, failed, retrying, suspended or cancelled).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::{Accepted, Change, Core, TriggerEvent};
use crate::error::{Error, ErrorInfo, Retry};
use crate::event::RawEvent;
use crate::invocation::Invocation;
use crate::journal::Journal;
use crate::step::{backoff, millis, Interrupt, RunCtx, Step};
use crate::store::{Memo, PendingOp, RunRecord, RunState, RunStatus, RunUpdate, StepKind, StepRecord, StoreError};

enum Outcome {
    Returned(Result<Value, Error>),
    Interrupted(Interrupt),
}

pub(super) async fn pass(core: &Arc<Core>, run_id: &str, preload: Option<super::Preload>) -> Result<(), StoreError> {
    let now = core.clock.now_ms();
    let (mut run, journal, trigger) = match preload {
        Some(p) => (p.run, Journal::default(), p.trigger),
        None => match load(core, run_id).await? {
            Some((run, events, journal)) => (run, journal, TriggerEvent::new(events)),
            None => return Ok(()),
        },
    };
    if core.is_cancelled(run_id) {
        return finish(core, run, &trigger, Ending::Cancelled).await;
    }
    if run.status == RunStatus::Queued && run.wake_at.is_some_and(|at| at > now) {
        // Woken before its function-level back-off ended (a stale timer): keep waiting.
        core.arm_suspension(&run, &trigger);
        return Ok(());
    }
    let Some(def) = core.registry.get(&run.function_id) else {
        let error = ErrorInfo {
            name: "FunctionNotFound".into(),
            message: format!(
                "function `{}` is not registered in this app; was it renamed or removed?",
                run.function_id
            ),
            cause: None,
        };
        return finish(core, run, &trigger, Ending::Failed(error)).await;
    };
    run.started_at.get_or_insert(now);
    run.status = RunStatus::Running;
    run.wake_at = None;
    core.notify(Change::Run { id: run.id.clone(), function_id: run.function_id.clone(), status: RunStatus::Running });

    let ctx = RunCtx::new(run.id.clone(), def, core.clone(), journal, run.state.clone());
    ctx.set_first_commit(run.clone());
    let invocation = Invocation {
        function_id: def.id,
        run_id: run.id.clone(),
        events: trigger.events().clone(),
        step: Step { ctx: ctx.clone() },
        state: core.state.clone(),
    };
    let span = tracing::info_span!("run", engine = core.instance, run_id = %run.id, function_id = def.id, attempt = run.attempt);
    let outcome = drive((def.handler)(invocation), &ctx).instrument(span.clone()).await;
    let _enter = span.enter();
    match outcome {
        Outcome::Returned(Ok(output)) => {
            tracing::info!(steps = ctx.committed(), "run completed");
            drop(_enter);
            finish(core, run, &trigger, Ending::Completed(output)).await
        }
        Outcome::Returned(Err(err)) => {
            let info = err.to_info();
            let delay = match err.retry() {
                Retry::Never => None,
                _ if run.attempt + 1 >= def.max_attempts() => None,
                Retry::After(d) => Some(d),
                Retry::Backoff => Some(backoff(run.attempt)),
            };
            drop(_enter);
            match delay {
                None => {
                    tracing::warn!(run_id = %run.id, error = %info, "run failed");
                    finish(core, run, &trigger, Ending::Failed(info)).await
                }
                Some(delay) => {
                    tracing::warn!(run_id = %run.id, error = %info, retry_in = ?delay, "run failed; will retry");
                    run.attempt += 1;
                    run.status = RunStatus::Queued;
                    run.error = Some(info);
                    run.wake_at = Some(core.clock.now_ms().saturating_add(millis(delay)));
                    run.state = RunState { pending: Vec::new(), ..ctx.suspension() };
                    suspend(core, run, &trigger).await
                }
            }
        }
        Outcome::Interrupted(Interrupt::Suspend) => {
            drop(_enter);
            run.state = ctx.suspension();
            let waits =
                run.state.pending.iter().any(|op| matches!(op, PendingOp::Wait { .. } | PendingOp::Invoke { .. }));
            run.status = if waits { RunStatus::Waiting } else { RunStatus::Sleeping };
            run.wake_at = run.state.pending.iter().map(PendingOp::due).min();
            suspend(core, run, &trigger).await
        }
        Outcome::Interrupted(Interrupt::StoreFailed(message)) => Err(StoreError::Database(message)),
        Outcome::Interrupted(Interrupt::Cancelled) => {
            drop(_enter);
            finish(core, run, &trigger, Ending::Cancelled).await
        }
    }
}

/// Polls the function until it returns or a step interrupts the pass; then drops it.
async fn drive(handler: crate::function::HandlerFuture, ctx: &Arc<RunCtx>) -> Outcome {
    let mut fut = AssertUnwindSafe(handler).catch_unwind();
    futures::future::poll_fn(|cx| {
        ctx.set_driver(cx.waker());
        match Pin::new(&mut fut).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(Outcome::Returned(result)),
            Poll::Ready(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Poll::Ready(Outcome::Returned(Err(Error::msg(format!("the function panicked: {message}")))))
            }
            Poll::Pending => match ctx.interrupted() {
                Some(interrupt) => Poll::Ready(Outcome::Interrupted(interrupt)),
                None => Poll::Pending,
            },
        }
    })
    .await
}

/// Loads a run to resume it, resolving the ops that came due (a sleep ended, a wait or invoke
/// timed out) by journaling their outcome first, so that a concurrent match cannot disagree.
async fn load(core: &Arc<Core>, run_id: &str) -> Result<Option<(RunRecord, Arc<[RawEvent]>, Journal)>, StoreError> {
    let Some(mut run) = core.store.run(run_id).await? else { return Ok(None) };
    if run.status.is_terminal() {
        core.forget(run_id);
        return Ok(None);
    }
    let events: Vec<RawEvent> = core.store.events(&run.event_ids).await?.iter().map(|e| e.to_raw()).collect();
    let now = core.clock.now_ms();
    let mut resolutions = Vec::new();
    let mut remaining = Vec::new();
    for op in std::mem::take(&mut run.state.pending) {
        if op.due() > now {
            remaining.push(op);
            continue;
        }
        let (kind, memo) = match &op {
            PendingOp::Sleep { .. } => (StepKind::Sleep, Memo::Data(Value::Null)),
            PendingOp::Wait { .. } => (StepKind::Wait, Memo::Data(Value::Null)),
            PendingOp::Invoke { .. } => (StepKind::Invoke, Memo::Error(Core::invoke_timeout())),
            PendingOp::Retry { .. } => continue,
        };
        resolutions.push(StepRecord {
            run_id: run.id.clone(),
            hash: op.step().to_owned(),
            name: op.name().to_owned(),
            kind,
            memo,
            attempts: 1,
            started_at: now,
            ended_at: now,
        });
    }
    if !resolutions.is_empty() {
        core.store.save(vec![RunUpdate { steps: resolutions, ..RunUpdate::default() }]).await?;
    }
    let records = core.store.journal(run_id).await?;
    remaining.retain(|op| !records.iter().any(|r| r.hash == op.step()));
    run.state.pending = remaining;
    let journal = Journal::from_entries(records.into_iter().map(|r| (r.hash, r.memo)));
    Ok(Some((run, Arc::from(events), journal)))
}

async fn suspend(core: &Arc<Core>, run: RunRecord, trigger: &TriggerEvent) -> Result<(), StoreError> {
    core.store.save(vec![RunUpdate { run: Some(run.clone()), ..RunUpdate::default() }]).await?;
    core.notify(Change::Run { id: run.id.clone(), function_id: run.function_id.clone(), status: run.status });
    core.arm_suspension(&run, trigger);
    if core.is_cancelled(&run.id) {
        // Cancelled while this pass ran: finish it on another pass.
        core.schedule(run.id.clone(), None);
    }
    Ok(())
}

/// A system event's name and its data (without the triggering event, which `system_event` adds).
type SystemEvent = (&'static str, Map<String, Value>);

enum Ending {
    Completed(Value),
    Failed(ErrorInfo),
    Cancelled,
}

/// Ends a run: its final record, the system events Inngest emits, and the result handed to
/// the run that invoked it, all in one commit.
async fn finish(
    core: &Arc<Core>,
    mut run: RunRecord,
    trigger: &TriggerEvent,
    ending: Ending,
) -> Result<(), StoreError> {
    let now = core.clock.now_ms();
    // Inngest's system events also carry the triggering event: `system_event` adds it.
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
            (
                RunStatus::Completed,
                Memo::Data(output.clone()),
                vec![("inngest/function.finished", with(Some("result"), output))],
            )
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
            let error = ErrorInfo { name: "RunCancelled".into(), message: "the run was cancelled".into(), cause: None };
            (RunStatus::Cancelled, Memo::Error(error), vec![("inngest/function.cancelled", with(None, Value::Null))])
        }
    };
    run.status = status;
    run.ended_at = Some(now);
    run.wake_at = None;
    run.state = RunState::default();
    let mut events = Vec::new();
    let mut observed = Vec::new();
    for (name, data) in names {
        let (event, is_observed) = core.system_event(name, &run, data, trigger);
        if is_observed {
            observed.push(event.clone());
        }
        events.push(event);
    }
    let mut steps = Vec::new();
    if let Some(parent) = &run.parent {
        steps.push(StepRecord {
            run_id: parent.run_id.clone(),
            hash: parent.step.clone(),
            name: String::new(),
            kind: StepKind::Invoke,
            memo: parent_memo,
            attempts: 1,
            started_at: run.created_at,
            ended_at: now,
        });
    }
    core.store.save(vec![RunUpdate { steps, run: Some(run.clone()), events }]).await?;
    core.forget(&run.id);
    core.notify(Change::Run { id: run.id.clone(), function_id: run.function_id.clone(), status });
    if !observed.is_empty() {
        let accepted = observed
            .iter()
            .map(|e| Accepted {
                event_id: e.event.id.clone(),
                new: true,
                runs: e.runs.iter().map(|r| r.id.clone()).collect(),
            })
            .collect();
        let jsons = vec![None; observed.len()];
        core.after_accept(observed, jsons, accepted).await;
    }
    if let Some(parent) = &run.parent {
        core.schedule(parent.run_id.clone(), None);
    }
    Ok(())
}
