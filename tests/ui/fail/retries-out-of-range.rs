use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", retries = 50)]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
