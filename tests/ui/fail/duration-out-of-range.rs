use hookflow::prelude::*;

// Inngest rate-limits over at most 24 hours.
#[inngest_fn(id = "sync-user", event = "clerk/user.created", rate_limit(limit = 1, period = "2d"))]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
