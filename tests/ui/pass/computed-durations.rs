//! Durations that are not string literals are left to the run-time parse.
use std::time::Duration;

use hookflow::prelude::*;

#[inngest_fn(id = "reminders", event = "app/remind")]
async fn reminders(event: Event<Json>, step: Step) -> Result<()> {
    let days = event.data["days"].as_u64().unwrap_or(3);
    step.sleep("computed", format!("{days} days")).await?;
    step.sleep("typed", Duration::from_secs(60)).await?;
    step.sleep("literal", "1h30m").await?;
    let wait = hookflow::WaitFor::timeout("7d").event("app/verified");
    let _ = step.wait_for_event::<Json>("verified", wait).await?;
    Ok(())
}

fn main() {}
