use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", timeouts(finish = "3 dayz"))]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
