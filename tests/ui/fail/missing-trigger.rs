use hookflow::prelude::*;

#[inngest_fn(id = "sync-user")]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
