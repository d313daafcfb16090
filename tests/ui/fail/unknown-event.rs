use hookflow::prelude::*;

#[inngest_fn(id = "welcome", event = "clerk/user.craeted")]
async fn welcome(event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
