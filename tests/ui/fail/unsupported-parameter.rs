use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created")]
async fn sync_user(event: Event<clerk::UserCreated>, user_id: String) -> Result<()> {
    let _ = (event.data, user_id);
    Ok(())
}

fn main() {}
