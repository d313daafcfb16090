//! Two Clerk events that deliver the same payload, received as that payload type; the second
//! trigger has an `if` filter.
use hookflow::prelude::*;
use hookflow::Trigger;

#[inngest_fn(
    id = "sync-user",
    event = "clerk/user.created",
    event(name = "clerk/user.updated", if = "event.data.id != ''")
)]
async fn sync_user(event: Event<clerk::User>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {
    assert_eq!(
        sync_user::DEF.triggers,
        &[
            Trigger::event("clerk/user.created"),
            Trigger::Event { name: "clerk/user.updated".into(), expr: Some("event.data.id != ''".into()) },
        ]
    );
}
