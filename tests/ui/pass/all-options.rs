//! Every option the engine enforces, at once, with their documented shapes.
use hookflow::prelude::*;

async fn notify_failure(failure: Failure<clerk::UserCreated>, _step: Step) -> Result<()> {
    let _ = (failure.event.data.id, failure.error.message);
    Ok(())
}

#[inngest_fn(
    id = "send-welcome-email",
    name = "Send welcome email",
    event = "clerk/user.created",
    retries = 3,
    concurrency(limit = 5, key = "event.data.id", scope = "fn"),
    concurrency(limit = 100, key = "'mail-provider'", scope = "account", per = "run"),
    throttle(limit = 10, period = "1m", burst = 2, key = "event.data.id"),
    throttle(limit = 1_000, period = "1d"),
    priority(run = "event.data.plan == 'pro' ? 120 : 0"),
    cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id", timeout = "7d"),
    cancel_on(event = "app/account.closed"),
    timeouts(start = "10m", finish = "1h"),
    on_failure = notify_failure,
)]
async fn send_welcome(event: Event<clerk::UserCreated>, _step: Step) -> Result<()> {
    let _ = event.data;
    Ok(())
}

fn main() {
    use hookflow::{ConcurrencyPer, ConcurrencyScope, Trigger};
    use std::time::Duration;

    let def = send_welcome::DEF;
    assert_eq!(def.id, "send-welcome-email");
    assert_eq!(def.display_name(), "Send welcome email");
    assert_eq!(def.triggers, &[Trigger::event("clerk/user.created")]);
    assert!(def.on_failure.is_some());
    assert!(def.location.path.ends_with("::send_welcome"), "{}", def.location.path);
    assert!(def.location.file.ends_with("all-options.rs"), "{}", def.location.file);
    assert_eq!(def.location.line, 9, "the line of the attribute");
    let o = &def.options;
    assert_eq!(o.retries, Some(3));
    assert_eq!(def.max_attempts(), 4);
    assert_eq!(o.concurrency.len(), 2);
    assert_eq!(o.concurrency[1].scope, ConcurrencyScope::Account);
    assert_eq!(o.concurrency[1].key.as_deref(), Some("'mail-provider'"));
    assert_eq!(o.concurrency[1].per, ConcurrencyPer::Run);
    let throttle = &o.throttle[0];
    assert_eq!((throttle.limit, throttle.period, throttle.burst), (10, Duration::from_secs(60), 2));
    assert_eq!((o.throttle[1].limit, o.throttle[1].burst), (1_000, 1));
    assert_eq!(o.priority.as_ref().unwrap().run, "event.data.plan == 'pro' ? 120 : 0");
    assert_eq!(o.cancel_on.len(), 2);
    assert_eq!(o.cancel_on[0].timeout, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(o.cancel_on[1].expr, None);
    let timeouts = o.timeouts.unwrap();
    assert_eq!((timeouts.start, timeouts.finish), (Some(Duration::from_secs(600)), Some(Duration::from_secs(3600))));
    // Registered at link time, and reachable by id.
    let registry = hookflow::Registry::collect().unwrap();
    assert!(std::ptr::eq(registry.get("send-welcome-email").unwrap(), send_welcome::DEF));
}
