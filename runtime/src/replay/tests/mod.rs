//! The replay core, tested as restate tests its core: a journal goes in, the function runs on
//! a host that answers as told, and the report that comes out is checked. No runtime, socket or
//! database: passes are driven with `futures::executor::block_on`.

mod admission;
mod failures;
mod replay;
mod suspensions;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::{drive, Admission, AfterStep, HostFuture, Journal, Op, Pass, PassInput, PassReport, StepHost, StepMeta};
use crate::error::Error;
use crate::event::RawEvent;
use crate::model::{Memo, Millis, PendingOp};
use crate::step::{SpanLabels, Step};

pub(super) const NOW: Millis = 1_700_000_000_000;

/// How a test host admits a group of steps found together.
pub(super) type Admit = Box<dyn Fn(&[StepMeta]) -> Vec<Admission> + Send + Sync>;

/// A host that answers as the test says and records what it was told.
pub(super) struct TestHost {
    pub(super) cancelled: AtomicBool,
    pub(super) max_attempts: u32,
    /// Admission of each group of steps found together; the default executes everything.
    pub(super) admit: Admit,
    pub(super) after_step: AfterStep,
    pub(super) groups: Mutex<Vec<Vec<String>>>,
    pub(super) recorded: Mutex<Vec<Op>>,
    pub(super) sent: Mutex<Vec<RawEvent>>,
}

impl Default for TestHost {
    fn default() -> Self {
        TestHost {
            cancelled: AtomicBool::new(false),
            max_attempts: 3,
            admit: Box::new(|found| vec![Admission::Execute; found.len()]),
            after_step: AfterStep::Continue,
            groups: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
        }
    }
}

impl StepHost for TestHost {
    fn now(&self) -> Millis {
        NOW
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    fn admit(&self, found: &[StepMeta]) -> Vec<Admission> {
        self.groups.lock().push(found.iter().map(|m| m.name.clone()).collect());
        (self.admit)(found)
    }
    fn recorded(&self, op: &Op) -> AfterStep {
        self.recorded.lock().push(op.clone());
        self.after_step
    }
    fn send(&self, events: Vec<RawEvent>) -> HostFuture<Result<Vec<String>, Error>> {
        let ids = events.iter().map(|e| e.id.clone()).collect();
        self.sent.lock().extend(events);
        Box::pin(async move { Ok(ids) })
    }
}

/// A journal of `(user step id, memo)`, hashed as the first use of each id.
pub(super) fn journal(entries: &[(&str, Memo)]) -> Journal {
    Journal::from_entries(entries.iter().map(|(id, memo)| (crate::replay::hash_step_id(id), memo.clone())))
}

pub(super) fn input(journal: Journal, pending: Vec<PendingOp>) -> PassInput {
    PassInput { run_id: "run-1".into(), journal, pending, ..PassInput::default() }
}

/// Runs one pass of `body` over `input` on `host`.
pub(super) fn pass<F, Fut>(input: PassInput, host: Arc<TestHost>, body: F) -> PassReport
where
    F: FnOnce(Step) -> Fut,
    Fut: Future<Output = Result<Value, Error>> + Send + 'static,
{
    let pass = Pass::new(input, host);
    let step = Step::new(pass.clone(), SpanLabels { engine: 0, function_id: Arc::from("test-fn") });
    futures::executor::block_on(drive(pass, Box::pin(body(step))))
}

/// Counts how often a step body executed.
#[derive(Default, Clone)]
pub(super) struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub(super) fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub(super) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The names of the ops' steps with their kinds, for compact assertions.
pub(super) fn summary(report: &PassReport) -> Vec<String> {
    report
        .ops
        .iter()
        .map(|op| match op {
            Op::StepRun { step, .. } => format!("StepRun {}", step.name),
            Op::StepError { step, .. } => format!("StepError {}", step.name),
            Op::StepFailed { step, .. } => format!("StepFailed {}", step.name),
            Op::StepPlanned { step, .. } => format!("StepPlanned {}", step.name),
            Op::Sleep { step, .. } => format!("Sleep {}", step.name),
            Op::WaitForEvent { step, .. } => format!("WaitForEvent {}", step.name),
            Op::InvokeFunction { step, .. } => format!("InvokeFunction {}", step.name),
            Op::RunComplete { .. } => "RunComplete".to_owned(),
        })
        .collect()
}
