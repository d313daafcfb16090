//! Cron triggers only, one of them in a time zone; the step tool without an event.
use hookflow::prelude::*;
use hookflow::Trigger;

#[inngest_fn(id = "weekly-digest", cron = "TZ=Europe/Paris 0 9 * * MON", cron = "0 */6 * * *")]
async fn weekly_digest(_step: Step) -> Result<()> {
    Ok(())
}

// A cron run receives Inngest's `inngest/scheduled.timer` event, which `Json` can hold.
#[inngest_fn(id = "nightly", cron = "30 2 * * *")]
async fn nightly(event: Event<Json>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {
    assert_eq!(
        weekly_digest::DEF.triggers,
        &[Trigger::Cron { schedule: "TZ=Europe/Paris 0 9 * * MON".into() }, Trigger::Cron { schedule: "0 */6 * * *".into() }]
    );
    assert_eq!(nightly::DEF.triggers.len(), 1);
}
