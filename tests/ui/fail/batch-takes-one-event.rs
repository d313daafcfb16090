use hookflow::prelude::*;

// A batched function receives every event of its batch.
#[inngest_fn(id = "import", event = "clerk/user.updated", batch_events(max_size = 10, timeout = "5s"))]
async fn import(event: Event<clerk::UserUpdated>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
