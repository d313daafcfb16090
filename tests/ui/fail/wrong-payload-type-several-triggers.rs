use hookflow::prelude::*;

// `user.deleted` delivers a deleted-object stub, not the `User` of the other two.
#[inngest_fn(id = "sync", event = "clerk/user.created", event = "clerk/user.updated", event = "clerk/user.deleted")]
async fn sync(event: Event<clerk::User>) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {}
