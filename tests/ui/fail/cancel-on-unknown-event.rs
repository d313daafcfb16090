use hookflow::prelude::*;

#[inngest_fn(
    id = "onboarding",
    event = "clerk/user.created",
    cancel_on(event = "clerk/user.delete", if = "event.data.id == async.data.id")
)]
async fn onboarding() -> Result<()> {
    Ok(())
}

fn main() {}
