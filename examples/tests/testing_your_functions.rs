//! Testing a function: in-process, on a test clock, with fake state for its `Dep<T>`.

use std::sync::Mutex;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::store::RunStatus;
use hookflow::testing::TestEngine;
use hookflow::RawEvent;
use serde_json::json;

/// What the function sends mail with; the test gives it a fake that keeps what was sent.
#[derive(Default)]
struct Outbox(Mutex<Vec<String>>);

#[inngest_fn(id = "trial-offer", event = "app/signed.up")]
async fn trial_offer(event: Event<Json>, step: Step, outbox: Dep<Outbox>) -> Result<()> {
    let to = event.data["email"].as_str().unwrap_or_default().to_owned();
    step.sleep("wait-3-days", "3 days").await?;
    step.run("send-offer", || async move {
        outbox.0.lock().map_err(|_| Error::msg("outbox poisoned"))?.push(to);
        Ok(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_offer_goes_out_three_days_after_sign_up() {
    let t = TestEngine::builder(&[trial_offer::DEF]).state(Outbox::default()).start().await;
    let signed_up = RawEvent::new("app/signed.up", json!({ "email": "ada@example.com" }));
    let run = t.run(trial_offer::DEF, signed_up).await;
    assert_eq!(run.record.status, RunStatus::Sleeping);

    t.advance(Duration::from_secs(3 * 86_400)).await; // no real waiting
    let run = t.get(&run.record.id).await.expect("the run");
    assert_eq!(run.record.status, RunStatus::Completed);
    assert_eq!(run.step("send-offer").map(|s| s.attempts), Some(1));
}
