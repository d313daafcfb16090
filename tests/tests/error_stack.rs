//! An error's stack: with `RUST_LIB_BACKTRACE=1` hookflow records a Rust backtrace of where
//! each error was made, in the step's journal, the run's error and the `on_failure` handler's
//! `Failure`. This binary sets the variable for its one test (it is read once per process).

use hookflow::model::Memo;
use hookflow::prelude::*;
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::json;

#[inngest_fn(id = "stacked", event = "test/stacked", on_failure = on_stacked_failure)]
async fn stacked(step: Step) -> Result<()> {
    step.run("charge-card", || async { Err::<(), _>(NonRetriable::new("card declined").into()) }).await?;
    Ok(())
}

async fn on_stacked_failure(failure: Failure<Json>) -> Result<Option<String>> {
    Ok(failure.error.stack)
}

#[tokio::test]
async fn with_rust_lib_backtrace_an_error_keeps_the_stack_of_where_it_was_made() {
    std::env::set_var("RUST_LIB_BACKTRACE", "1");
    let t = TestEngine::new(&[stacked::DEF]).await;
    let run = t.run(stacked::DEF, RawEvent::new("test/stacked", json!({}))).await;
    let error = run.record.error.clone().expect("the run failed");
    let stack = error.stack.clone().expect("a stack was captured");
    // The frame of the step's closure, where `NonRetriable` became an error.
    assert!(stack.contains("error_stack::stacked"), "the stack names the function's code:\n{stack}");

    let Some(Memo::Error(journaled)) = run.step("charge-card").map(|s| s.memo.clone()) else {
        panic!("the step's error is journaled: {:?}", run.journal)
    };
    assert_eq!(journaled.stack.as_deref(), Some(stack.as_str()), "the step's journal keeps the same stack");

    let handler = t.runs("stacked-failure").await;
    assert_eq!(handler.first().and_then(|r| r.output.clone()), Some(json!(stack)), "on_failure gets it");
}
