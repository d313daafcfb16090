use hookflow::prelude::*;

async fn notify(message: String) -> Result<()> {
    let _ = message;
    Ok(())
}

#[inngest_fn(id = "sync-user", event = "clerk/user.created", on_failure = notify)]
async fn sync_user() -> Result<()> {
    Ok(())
}

fn main() {}
