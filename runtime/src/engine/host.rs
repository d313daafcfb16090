//! The engine's [`StepHost`]: every new step executes now and the pass goes on. Step results are
//! kept in the pass's report and written with its ack, in one commit; a step that took long
//! (an email sent, a slow API) is checkpointed right after it, without waiting for the write,
//! so a crash later in the pass does not repeat it. A resumed run is marked `Running` when it
//! starts executing steps again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::apply::into_step_record;
use super::Core;
use crate::error::Error;
use crate::event::RawEvent;
use crate::model::{EventSource, FailedAttempt, Millis, StepRecord};
use crate::replay::{Admission, AfterStep, HostFuture, Op, StepHost, StepMeta, Timing};
use crate::store::{Checkpoint, Lease};

/// A step that ran at least this long is checkpointed at once.
const CHECKPOINT_AFTER_MS: Millis = 5;

pub(super) struct EngineHost {
    core: Arc<Core>,
    lease: Lease,
    max_attempts: u32,
    /// The failed attempts of the run's retried steps, kept in their records.
    failures: BTreeMap<String, Vec<FailedAttempt>>,
    /// Whether the run's record says `Running` already.
    running: AtomicBool,
    /// When the run's finish timeout cancels it: no step starts after that.
    deadline: Option<Millis>,
    /// The lease was lost during a checkpoint: the pass stops, and its ack writes nothing.
    lost: Arc<AtomicBool>,
    /// Step results not checkpointed yet.
    unflushed: Mutex<Vec<StepRecord>>,
    /// The last checkpoint in flight: the next one, and the ack, wait for it.
    flushing: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
        EngineHost {
            core,
            lease,
            max_attempts,
            failures,
            running: AtomicBool::new(running),
            deadline,
            lost: Arc::new(AtomicBool::new(false)),
            unflushed: Mutex::new(Vec::new()),
            flushing: Mutex::new(None),
        }
    }

    /// Writes `checkpoint` after the checkpoints before it, without waiting for it.
    fn flush(&self, checkpoint: Checkpoint) {
        let previous = self.flushing.lock().take();
        let (store, lease, lost) = (self.core.store.clone(), self.lease.clone(), self.lost.clone());
        let task = self.core.runtime.spawn(async move {
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

    /// Waits for the checkpoints in flight; `false` when one found the lease lost.
    pub(super) async fn flushed(&self) -> bool {
        let last = self.flushing.lock().take();
        if let Some(last) = last {
            let _ = last.await;
        }
        !self.lost.load(Ordering::SeqCst)
    }
}

impl StepHost for EngineHost {
    fn now(&self) -> Millis {
        self.core.clock.now_ms()
    }

    fn cancelled(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
            || self.core.store.cancel_requested(&self.lease.run_id)
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
            self.flush(Checkpoint { started: Some(self.now()), ..Checkpoint::default() });
        }
        vec![Admission::Execute; found.len()]
    }

    fn recorded(&self, op: &Op) -> AfterStep {
        let Ok(record) = into_step_record(&self.lease.run_id, op.clone(), &self.failures) else {
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
            self.flush(Checkpoint { steps, ..Checkpoint::default() });
        }
        AfterStep::Continue
    }

    fn send(&self, events: Vec<RawEvent>) -> HostFuture<Result<Vec<String>, Error>> {
        let core = self.core.clone();
        Box::pin(async move { Ok(core.send(events, EventSource::Step).await?) })
    }
}
