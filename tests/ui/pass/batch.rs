//! A batched function takes its events as `Vec<Event<E>>`, with every batch option.
use hookflow::prelude::*;

#[inngest_fn(
    id = "import-users",
    event = "clerk/user.created",
    batch_events(max_size = 100, timeout = "5s", key = "event.data.id", if = "event.data.username != ''"),
    concurrency(limit = 2),
    timeouts(finish = "10m")
)]
async fn import_users(events: Vec<Event<clerk::UserCreated>>, _step: Step) -> Result<usize> {
    Ok(events.len())
}

fn main() {
    use std::time::Duration;

    let batch = import_users::DEF.options.batch_events.as_ref().expect("batched");
    assert_eq!((batch.max_size, batch.timeout), (100, Duration::from_secs(5)));
    assert_eq!(batch.key.as_deref(), Some("event.data.id"));
    assert_eq!(batch.if_expr.as_deref(), Some("event.data.username != ''"));
}
