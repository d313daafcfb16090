use hookflow::prelude::*;

#[inngest_fn(id = "", event = "clerk/user.created")]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
