//! Time, behind one abstraction: the engine asks the clock for "now" and waits on it, so tests
//! drive a three-day sleep in milliseconds with [`TestClock`].

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::watch;

pub use crate::model::Millis;

/// A source of time the engine can wait on.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> Millis;
    /// Resolves once `now_ms() >= deadline`.
    fn sleep_until(&self, deadline: Millis) -> BoxFuture<'static, ()>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        system_now_ms()
    }

    fn sleep_until(&self, deadline: Millis) -> BoxFuture<'static, ()> {
        let wait = deadline.saturating_sub(system_now_ms()).max(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())))
    }
}

/// The wall clock now, in milliseconds since the Unix epoch.
pub(crate) fn system_now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A clock that only moves when told to: `advance` wakes every sleeper whose deadline passed.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<watch::Sender<Millis>>,
}

impl TestClock {
    /// A test clock starting at `start` (milliseconds since the epoch).
    pub fn new(start: Millis) -> Self {
        TestClock { now: Arc::new(watch::Sender::new(start)) }
    }

    /// A test clock starting at the current wall-clock time.
    pub fn starting_now() -> Self {
        TestClock::new(system_now_ms())
    }

    /// Moves time forward.
    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }

    /// Sets the time (never backwards).
    pub fn set(&self, to: Millis) {
        self.now.send_modify(|now| *now = (*now).max(to));
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> Millis {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: Millis) -> BoxFuture<'static, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // A closed channel means the clock is gone: nothing will ever advance it.
            let _ = rx.wait_for(|now| *now >= deadline).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn test_clock_wakes_sleepers_when_advanced() {
        let clock = TestClock::new(1_000);
        let sleeper = tokio::spawn(clock.sleep_until(1_000 + 3 * 86_400_000));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(3 * 86_400));
        sleeper.await.expect("sleeper finishes");
        assert_eq!(clock.now_ms(), 1_000 + 3 * 86_400_000);
    }
}
