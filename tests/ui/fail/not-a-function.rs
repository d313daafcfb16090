use hookflow::prelude::*;

#[inngest_fn(id = "sync-user", event = "clerk/user.created")]
struct SyncUser {
    user_id: String,
}

fn main() {
    let _ = SyncUser { user_id: String::new() }.user_id;
}
