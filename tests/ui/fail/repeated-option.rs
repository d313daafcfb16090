use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", retries = 3, retries = 5)]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
