//! Step logs: what a function logs through `tracing` is kept with its run and step. In its own
//! test binary with a global subscriber, since `tracing` caches per-callsite interest
//! process-wide and other tests' threads would race with a thread-local one.

use hookflow::prelude::*;
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::json;

#[inngest_fn(id = "chatty", event = "test/chatty")]
async fn chatty(step: Step) -> Result<()> {
    tracing::info!("before the step");
    step.run("talk", || async {
        tracing::warn!(user = "ann", "sending email");
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn what_steps_log_through_tracing_is_kept_with_the_run() {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(hookflow::logs::layer()))
        .expect("the only subscriber of this test binary");
    let t = TestEngine::new(&[chatty::DEF]).await;
    let run = t.run(chatty::DEF, RawEvent::new("test/chatty", json!({}))).await;
    let mut logs = Vec::new();
    for _ in 0..1000 {
        logs = t
            .engine
            .store()
            .step_logs()
            .expect("the memory store keeps logs")
            .logs(&run.record.id)
            .await
            .expect("logs");
        if logs.len() >= 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let lines: Vec<(&str, &str, &str)> =
        logs.iter().map(|l| (l.step.as_str(), l.level.as_str(), l.message.as_str())).collect();
    assert!(lines.contains(&("", "INFO", "before the step")), "{lines:?}");
    assert!(lines.contains(&("talk", "WARN", "sending email user=ann")), "{lines:?}");
}
