use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", throttle(limit = 10))]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
