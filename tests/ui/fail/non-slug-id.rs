use hookflow::prelude::*;

#[inngest_fn(id = "Sync User_From Clerk", event = "clerk/user.created")]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
