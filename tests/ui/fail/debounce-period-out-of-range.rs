use hookflow::prelude::*;

// Inngest debounces for 1 second to 7 days.
#[inngest_fn(id = "sync-user", event = "clerk/user.updated", debounce(period = "8d", key = "event.data.id"))]
async fn sync_user(event: Event<clerk::UserUpdated>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
