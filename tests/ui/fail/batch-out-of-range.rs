use hookflow::prelude::*;

// As in Inngest: a batch holds at least 2 events and waits between 1s and 60s.
#[inngest_fn(id = "one", event = "clerk/user.updated", batch_events(max_size = 1, timeout = "5s"))]
async fn one(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

#[inngest_fn(id = "quick", event = "clerk/user.updated", batch_events(max_size = 10, timeout = "500ms"))]
async fn quick(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

#[inngest_fn(id = "slow", event = "clerk/user.updated", batch_events(max_size = 10, timeout = "2m"))]
async fn slow(events: Vec<Event<clerk::UserUpdated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
