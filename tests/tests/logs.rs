//! What the engine and functions log through `tracing`: a function's lines kept with its run
//! and step, and the engine's "run completed" line. In a test binary of their own with one
//! global subscriber, since `tracing` caches per-callsite interest process-wide and other
//! tests' threads would race with a thread-local one (a thread-local subscriber missed lines).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::RunStatus;
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::json;

const HOUR: Duration = Duration::from_secs(3_600);

/// The global subscriber both tests read, installed once: hookflow's step-log layer and a
/// layer that collects the "run completed" lines.
fn subscriber() -> &'static Completed {
    static INSTALLED: OnceLock<Completed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let completed = Completed::default();
        let registry = tracing_subscriber::registry().with(hookflow::logs::layer()).with(completed.clone());
        tracing::subscriber::set_global_default(registry).expect("the only subscriber of this test binary");
        completed
    })
}

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
    subscriber();
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

// ---- the "run completed" line ---------------------------------------------------------------

#[inngest_fn(id = "three-steps", event = "test/three")]
async fn three_steps(step: Step) -> Result<()> {
    step.run("a", || async { Ok(1) }).await?;
    step.sleep("nap", "1h").await?;
    step.run("b", || async { Ok(2) }).await?;
    Ok(())
}

/// The `run_id` and `steps` fields of every "run completed" event.
#[derive(Clone, Default)]
struct Completed(Arc<Mutex<Vec<(String, u64)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Completed {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            message: String,
            run_id: String,
            steps: Option<u64>,
        }
        impl tracing::field::Visit for Fields {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "steps" {
                    self.steps = Some(value);
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "run_id" => self.run_id = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message == "run completed" {
            if let (Some(steps), Ok(mut seen)) = (fields.steps, self.0.lock()) {
                seen.push((fields.run_id, steps));
            }
        }
    }
}

#[tokio::test]
async fn the_run_completed_line_counts_the_run_s_steps() {
    let completed = subscriber();
    let t = TestEngine::new(&[three_steps::DEF]).await;
    let run = t.run(three_steps::DEF, RawEvent::new("test/three", json!({}))).await;
    t.advance(HOUR).await;
    assert_eq!(t.get(&run.record.id).await.expect("run").record.status, RunStatus::Completed);
    let seen: Vec<u64> = completed
        .0
        .lock()
        .map(|lines| lines.iter().filter(|(id, _)| *id == run.record.id).map(|(_, n)| *n).collect())
        .unwrap_or_default();
    assert_eq!(seen, vec![3], "two runs and a sleep, over two passes");
}
