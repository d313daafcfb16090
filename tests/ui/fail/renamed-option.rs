use hookflow::prelude::*;

// Inngest's TypeScript SDK spells it `rateLimit`.
#[inngest_fn(id = "sync-user", event = "clerk/user.created", rateLimit(limit = 1, period = "1h"))]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
