use hookflow::prelude::*;

#[inngest_fn(id = "welcome", event = "clerk/users.created")]
async fn welcome(event: Event<Json>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
