use hookflow::prelude::*;

// A run of a function without `batch_events` has one event.
#[inngest_fn(id = "import", event = "clerk/user.updated")]
async fn import(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
