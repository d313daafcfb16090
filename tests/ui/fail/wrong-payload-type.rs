use hookflow::prelude::*;

#[inngest_fn(id = "welcome", event = "clerk/user.created")]
async fn welcome(event: Event<clerk::UserDeleted>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
