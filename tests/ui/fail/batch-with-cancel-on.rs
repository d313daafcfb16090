use hookflow::prelude::*;

// A batch has no one triggering event for `cancel_on` to match against, as in Inngest.
#[inngest_fn(
    id = "import",
    event = "clerk/user.updated",
    batch_events(max_size = 10, timeout = "5s"),
    cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id")
)]
async fn import(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
