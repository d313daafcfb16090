//! Application state as `Dep<T>`, next to the event and the step tool, in any order.
use hookflow::prelude::*;

struct Db {
    url: String,
}

#[inngest_fn(id = "store-user", event = "clerk/user.created")]
async fn store_user(db: Dep<Db>, _: Step, event: Event<clerk::UserCreated>) -> Result<()> {
    let _ = (&db.url, event.data);
    Ok(())
}

fn main() {
    assert_eq!(store_user::DEF.id, "store-user");
}
