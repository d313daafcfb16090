//! The engine's [`StepHost`]: every new step executes now and the pass goes on. Step results are
//! kept in the pass's report and written with its ack, in one commit; a step that took long
//! (an email sent, a slow API) is checkpointed right after it, without waiting for the write,
//! so a crash later in the pass does not repeat it. A run that was not `Running` (queued
//! behind a limit, or resumed) is marked `Running` by the first write of its pass: its ack,
//! when the pass ends quickly, else a checkpoint at its first slow step or after
//! [`CHECKPOINT_AFTER_MS`], whichever comes first. So a short pass is one commit, and a run
//! that takes a freed concurrency slot hands it on after that one commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::apply::into_step_record;
use super::Core;
use crate::error::Error;
use crate::event::RawEvent;
use crate::model::{EventSource, FailedAttempt, Millis, StepRecord};
use crate::replay::{Admission, AfterStep, HostFuture, Op, StepHost, StepMeta, Timing};
use crate::store::{Checkpoint, Lease, Store};

/// A step that ran at least this long is checkpointed at once; a pass still executing this
/// long after it started has its start checkpointed.
const CHECKPOINT_AFTER_MS: Millis = 5;

pub(super) struct EngineHost {
    core: Arc<Core>,
    max_attempts: u32,
    /// The failed attempts of the run's retried steps, kept in their records.
    failures: BTreeMap<String, Vec<FailedAttempt>>,
    /// Whether the run's record says `Running` already, or will with the pass's first write.
    running: AtomicBool,
    /// When the run's finish timeout cancels it: no step starts after that.
    deadline: Option<Millis>,
    writes: Checkpoints,
    /// Step results not checkpointed yet.
    unflushed: Mutex<Vec<StepRecord>>,
    /// Checkpoints the run's start if the pass is still executing [`CHECKPOINT_AFTER_MS`]
    /// after it.
    start_timer: Mutex<Option<JoinHandle<()>>>,
}

/// A pass's checkpoints, written one after the other without the pass waiting for them (a
/// store takes one commit at a time under a lease), and its start until one of them, or the
/// ack, writes it.
#[derive(Clone)]
struct Checkpoints {
    store: Arc<dyn Store>,
    runtime: tokio::runtime::Handle,
    lease: Lease,
    /// The lease was lost during a checkpoint: the pass stops, and its ack writes nothing.
    lost: Arc<AtomicBool>,
    /// The last checkpoint in flight: the next one, and the ack, wait for it.
    flushing: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// When the run started executing steps, while no write says so yet. Taken under its lock
    /// by whichever writes it (a checkpoint, or the ack), so that exactly one does.
    start: Arc<Mutex<Option<Millis>>>,
}

impl Checkpoints {
    /// Writes `checkpoint`, with the start if none was written yet, after the checkpoints
    /// before it.
    fn flush(&self, mut checkpoint: Checkpoint) {
        let mut start = self.start.lock();
        checkpoint.started = checkpoint.started.or(start.take());
        // Chained while `start` is locked: `flushed` then sees this checkpoint in flight.
        self.chain(checkpoint);
    }

    /// Writes the start, unless a write took it already.
    fn flush_start(&self) {
        let mut start = self.start.lock();
        if let Some(at) = start.take() {
            self.chain(Checkpoint { started: Some(at), ..Checkpoint::default() });
        }
    }

    fn chain(&self, checkpoint: Checkpoint) {
        let previous = self.flushing.lock().take();
        let (store, lease, lost) = (self.store.clone(), self.lease.clone(), self.lost.clone());
        let task = self.runtime.spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            match store.checkpoint(&lease, checkpoint).await {
                Ok(true) => {}
                Ok(false) => lost.store(true, Ordering::SeqCst),
                // The ack writes the same results again; only the early write is lost.
                Err(e) => tracing::warn!(run_id = %lease.run_id, error = %e, "could not checkpoint a step"),
            }
        });
        *self.flushing.lock() = Some(task);
    }

    /// Leaves a start not written yet to the ack (whose run record has it), and waits for the
    /// checkpoints in flight; `false` when one found the lease lost.
    async fn flushed(&self) -> bool {
        let last = {
            let mut start = self.start.lock();
            start.take();
            self.flushing.lock().take()
        };
        if let Some(last) = last {
            let _ = last.await;
        }
        !self.lost.load(Ordering::SeqCst)
    }
}

impl EngineHost {
    pub(super) fn new(
        core: Arc<Core>,
        lease: Lease,
        max_attempts: u32,
        running: bool,
        deadline: Option<Millis>,
        failures: BTreeMap<String, Vec<FailedAttempt>>,
    ) -> EngineHost {
        let writes = Checkpoints {
            store: core.store.clone(),
            runtime: core.runtime.clone(),
            lease,
            lost: Arc::new(AtomicBool::new(false)),
            flushing: Arc::new(Mutex::new(None)),
            start: Arc::new(Mutex::new(None)),
        };
        EngineHost {
            core,
            max_attempts,
            failures,
            running: AtomicBool::new(running),
            deadline,
            writes,
            unflushed: Mutex::new(Vec::new()),
            start_timer: Mutex::new(None),
        }
    }

    /// Waits for the checkpoints in flight; `false` when one found the lease lost. The ack
    /// that follows writes what they did not (the start, the steps not checkpointed).
    pub(super) async fn flushed(&self) -> bool {
        if let Some(timer) = self.start_timer.lock().take() {
            timer.abort();
        }
        self.writes.flushed().await
    }

    /// The run starts executing steps at `at`: its record says so with the pass's first
    /// write, at the latest [`CHECKPOINT_AFTER_MS`] from now.
    fn started(&self, at: Millis) {
        *self.writes.start.lock() = Some(at);
        let writes = self.writes.clone();
        let timer = self.core.runtime.spawn(async move {
            tokio::time::sleep(Duration::from_millis(CHECKPOINT_AFTER_MS.unsigned_abs())).await;
            writes.flush_start();
        });
        *self.start_timer.lock() = Some(timer);
    }
}

impl StepHost for EngineHost {
    fn now(&self) -> Millis {
        self.core.clock.now_ms()
    }

    fn cancelled(&self) -> bool {
        self.writes.lost.load(Ordering::SeqCst)
            || self.core.store.cancel_requested(&self.writes.lease.run_id)
            || self.deadline.is_some_and(|d| self.now() >= d)
    }

    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    fn admit(&self, found: &[StepMeta]) -> Vec<Admission> {
        if self.core.is_stopping() {
            // Shutting down: the pass ends here and its run is due again at once.
            return vec![Admission::Skip; found.len()];
        }
        if !self.running.swap(true, Ordering::SeqCst) {
            self.started(self.now());
        }
        vec![Admission::Execute; found.len()]
    }

    fn recorded(&self, op: &Op) -> AfterStep {
        let Ok(record) = into_step_record(&self.writes.lease.run_id, op.clone(), &self.failures) else {
            return AfterStep::Continue;
        };
        let slow = match op {
            Op::StepRun { timing: Timing { started_at, ended_at }, .. }
            | Op::StepFailed { timing: Timing { started_at, ended_at }, .. } => {
                ended_at.saturating_sub(*started_at) >= CHECKPOINT_AFTER_MS
            }
            _ => false,
        };
        let mut unflushed = self.unflushed.lock();
        unflushed.push(record);
        if slow {
            let steps = std::mem::take(&mut *unflushed);
            drop(unflushed);
            self.writes.flush(Checkpoint { steps, ..Checkpoint::default() });
        }
        AfterStep::Continue
    }

    fn send(&self, events: Vec<RawEvent>) -> HostFuture<Result<Vec<String>, Error>> {
        let core = self.core.clone();
        Box::pin(async move { Ok(core.send(events, EventSource::Step).await?) })
    }
}
