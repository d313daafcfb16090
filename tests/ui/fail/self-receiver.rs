use hookflow::prelude::*;

struct Service;

impl Service {
    #[inngest_fn(id = "sync-user", event = "clerk/user.created")]
    async fn sync_user(&self, event: Event<clerk::UserCreated>) -> Result<()> {
        let _ = event.data;
        Ok(())
    }
}

fn main() {}
