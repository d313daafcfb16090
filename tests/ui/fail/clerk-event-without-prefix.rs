use hookflow::prelude::*;

#[inngest_fn(id = "welcome", event = "user.created")]
async fn welcome(event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
