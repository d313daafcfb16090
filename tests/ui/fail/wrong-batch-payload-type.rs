use hookflow::prelude::*;

#[inngest_fn(id = "import", event = "clerk/user.updated", batch_events(max_size = 10, timeout = "5s"))]
async fn import(events: Vec<Event<clerk::UserCreated>>) -> Result<()> {
    let _ = events;
    Ok(())
}

fn main() {}
