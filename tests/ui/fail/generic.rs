use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created")]
async fn sync_user<E: hookflow::EventType>(event: Event<E>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
