use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created")]
fn sync_user(event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
