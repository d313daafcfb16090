use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created")]
async fn sync_user(event: Event<clerk::UserCreated>) -> String {
    let _ = event.data;
    String::from("done")
}

fn main() {}
