//! A batch of events as `Vec<Event<E>>`.
use hookflow::prelude::*;

#[inngest_fn(
    id = "bulk-import",
    event = "clerk/user.created",
    batch_events(max_size = 50, timeout = "10s")
)]
async fn bulk_import(events: Vec<Event<clerk::UserCreated>>, _step: Step) -> Result<usize> {
    Ok(events.len())
}

fn main() {
    assert_eq!(bulk_import::DEF.options.batch_events.as_ref().map(|b| b.max_size), Some(50));
}
