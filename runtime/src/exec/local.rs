//! The local executor: calls a handler of this binary in-process, with the engine's host behind
//! its steps (a new `step.run` executes and the pass goes on), and returns the pass's report.

use std::sync::Arc;

use tracing::Instrument;

use crate::event::RawEvent;
use crate::function::Handler;
use crate::invocation::{Invocation, State};
use crate::replay::{drive, Pass, PassInput, PassReport, StepHost};
use crate::step::{SpanLabels, Step};

/// Who is called, with what.
pub(crate) struct Call {
    pub(crate) handler: Handler,
    pub(crate) function_id: Arc<str>,
    /// The engine instance, for the spans the logs layer routes by.
    pub(crate) engine: u64,
    pub(crate) attempt: u32,
    pub(crate) events: Arc<[RawEvent]>,
    pub(crate) state: Arc<State>,
}

/// Runs one pass of the function.
pub(crate) async fn run(call: Call, input: PassInput, host: Arc<dyn StepHost>) -> PassReport {
    let run_id = input.run_id.clone();
    let pass = Pass::new(input, host);
    let labels = SpanLabels { engine: call.engine, function_id: call.function_id.clone() };
    let invocation = Invocation {
        function_id: call.function_id.clone(),
        run_id: run_id.clone(),
        events: call.events,
        step: Step::new(pass.clone(), labels),
        state: call.state,
    };
    let span = tracing::info_span!(
        "run",
        engine = call.engine,
        run_id = %run_id,
        function_id = %call.function_id,
        attempt = call.attempt
    );
    drive(pass, (call.handler)(invocation)).instrument(span).await
}
