use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", throttle(limt = 10, period = "1m"))]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
