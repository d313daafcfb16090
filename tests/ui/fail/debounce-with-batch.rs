use hookflow::prelude::*;

// Debouncing and batching are mutually exclusive, as in Inngest.
#[inngest_fn(
    id = "import",
    event = "clerk/user.updated",
    debounce(period = "5s"),
    batch_events(max_size = 10, timeout = "5s")
)]
async fn import(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
