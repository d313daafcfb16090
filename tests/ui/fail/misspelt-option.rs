use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", retires = 3)]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
