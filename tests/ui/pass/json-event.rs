//! `Event<Json>` receives any event: triggers with different payloads, and cron.
use hookflow::prelude::*;

#[inngest_fn(
    id = "audit-log",
    event = "clerk/user.created",
    event = "clerk/user.deleted",
    event = "clerk/session.created",
    event = "app/anything",
    cron = "0 0 * * *"
)]
async fn audit_log(event: hookflow::Event<hookflow::Json>) -> Result<hookflow::Json> {
    Ok(event.data)
}

fn main() {
    assert_eq!(audit_log::DEF.triggers.len(), 5);
}
