//! Options whose shapes are known but that the engine does not enforce yet are refused, each
//! at its name, rather than accepted and ignored; those it enforces (`rate_limit`,
//! `idempotency`, `singleton`, `debounce` here) are not.
use hookflow::prelude::*;

#[inngest_fn(
    id = "sync-user",
    event = "clerk/user.updated",
    rate_limit(limit = 1, period = "1h", key = "event.data.id"),
    batch_events(max_size = 10, timeout = "5s"),
    idempotency = "event.data.id",
    singleton(mode = "skip")
)]
async fn sync_user(event: Event<clerk::UserUpdated>) -> Result<()> {
    let _ = event;
    Ok(())
}

fn main() {}
