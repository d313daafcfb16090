use hookflow::prelude::*;

#[inngest_fn(
    id = "sync-user",
    event = "clerk/user.created",
    concurrency(limit = 1, key = "event.data.id"),
    concurrency(limit = 10),
    concurrency(limit = 100, key = "'api'", scope = "account")
)]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
