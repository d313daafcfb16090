//! A `step.sleep` whose duration is a string literal is checked where it is written.
use hookflow::prelude::*;

#[inngest_fn(id = "onboarding", event = "app/signed.up")]
async fn onboarding(step: Step) -> Result<()> {
    step.sleep("wait", "3 dayz").await?;
    let reminder = hookflow::WaitFor::timeout("2 weks").event("app/verified");
    let _ = step.wait_for_event::<Json>("verified", reminder).await?;
    Ok(())
}

fn main() {}
