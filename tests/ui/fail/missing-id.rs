use hookflow::prelude::*;

#[inngest_fn(event = "clerk/user.created")]
async fn sync_user(event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
