use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created", flavour = "vanilla")]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
