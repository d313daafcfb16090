//! The handler receives the function's own payload type: a `Failure` of another is refused.
use hookflow::prelude::*;

async fn notify(failure: Failure<clerk::UserDeleted>, _step: Step) -> Result<()> {
    let _ = failure;
    Ok(())
}

#[inngest_fn(id = "welcome", event = "clerk/user.created", on_failure = notify)]
async fn welcome(event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
