use hookflow::prelude::*;

// A batch has no one event to compute a priority from, as in Inngest.
#[inngest_fn(
    id = "import",
    event = "clerk/user.updated",
    batch_events(max_size = 10, timeout = "5s"),
    priority(run = "event.data.plan == 'pro' ? 120 : 0")
)]
async fn import(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
