use hookflow::prelude::*;

// A batch run has many triggering events, so it cannot hold one singleton lock, as in Inngest.
#[inngest_fn(
    id = "import",
    event = "clerk/user.updated",
    batch_events(max_size = 10, timeout = "5s"),
    singleton(mode = "skip")
)]
async fn import(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
