//! The work loop: claim due runs, execute a pass of each, keep their leases alive; and the two
//! ways of waiting on it (`settle`, `shutdown`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::OwnedSemaphorePermit;

use super::execute::Preload;
use super::{Core, TriggerEvent};
use crate::event::RawEvent;
use crate::store::Lease;

/// Runs claimed per call.
const CLAIM_BATCH: usize = 256;
/// How often an idle engine looks for runs whose lease expired on another engine (leases are
/// measured on the store's clock, not on the engine's, so no timer can be set for them).
const LEASE_SWEEP: Duration = Duration::from_millis(500);
/// How long a run waits before its pass is tried again after the store failed.
const STORE_RETRY_MS: i64 = 1_000;

/// A pass's share of [`MAX_CONCURRENT_PASSES`](super::MAX_CONCURRENT_PASSES), held from its
/// start until it ends or, while fewer than [`MAX_ACKS_WAITING`](super::MAX_ACKS_WAITING) wait,
/// hands its ack to a store that groups acks
/// ([`WorkQueue::groups_acks`](crate::store::WorkQueue::groups_acks)).
pub(crate) struct PassSlot(Mutex<Option<OwnedSemaphorePermit>>);

impl PassSlot {
    /// Gives the slot back (once) and wakes the claims that waited for room.
    pub(crate) fn give_back(&self, core: &Core) {
        if self.0.lock().take().is_some() {
            core.room.notify_waiters();
        }
    }
}

impl Core {
    /// Claims due runs while there is room, and sleeps until the next is due or work arrives.
    pub(super) async fn schedule_loop(self: Arc<Self>) {
        let signal = self.store.work_signal();
        loop {
            if self.is_stopping() {
                return;
            }
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let freed = self.room.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let stop = self.stop.notified();
            tokio::pin!(stop);
            stop.as_mut().enable();
            if self.is_stopping() {
                return;
            }
            let room = self.passes.available_permits().min(CLAIM_BATCH);
            if room > 0 {
                self.active.fetch_add(1, Ordering::SeqCst);
                let claim = self.claim_for();
                let claimed = self.store.claim(&claim, self.clock.now_ms(), room).await;
                let full = match claimed {
                    Ok(leases) => {
                        let full = leases.len() == room;
                        self.start_claimed(leases).await;
                        full
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not claim due runs; trying again shortly");
                        false
                    }
                };
                self.active.fetch_sub(1, Ordering::SeqCst);
                self.bump();
                self.idle_if_done();
                if full {
                    continue;
                }
            }
            let next = match self.store.next_due(&self.claim_for().functions).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "could not read when the next run is due");
                    Some(self.clock.now_ms() + STORE_RETRY_MS)
                }
            };
            let now = self.clock.now_ms();
            if room > 0 && next.is_some_and(|at| at <= now) {
                continue;
            }
            let due = async {
                match next {
                    // With no room, a due run waits for a pass to end.
                    Some(at) if room > 0 => self.clock.sleep_until(at).await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                () = due => {}
                () = notified => {}
                () = freed => {}
                () = stop => return,
                () = tokio::time::sleep(LEASE_SWEEP) => {}
            }
        }
    }

    /// Starts the passes of claimed runs, with what they start from read for all of them at
    /// once. If that read fails, or a run is missing from it, the pass reads its run itself
    /// (and says so, or is retried, as any pass whose reads fail).
    async fn start_claimed(self: &Arc<Self>, leases: Vec<Lease>) {
        let ids: Vec<String> = leases.iter().map(|lease| lease.run_id.clone()).collect();
        let loaded = match self.store.claimed_runs(&ids).await {
            Ok(loaded) if loaded.len() == leases.len() => loaded,
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the claimed runs together; each pass reads its own");
                Vec::new()
            }
        };
        let mut loaded = loaded.into_iter();
        for lease in leases {
            let preload = loaded.next().flatten().map(|claimed| {
                let events: Vec<RawEvent> = claimed.events.into_iter().map(|e| e.into_raw()).collect();
                Preload { run: claimed.run, trigger: TriggerEvent::new(Arc::from(events)), steps: claimed.journal }
            });
            self.spawn_pass(lease, preload);
        }
    }

    /// Starts the pass of a claimed run on the engine's runtime.
    pub(crate) fn spawn_pass(self: &Arc<Self>, lease: Lease, preload: Option<Preload>) {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.held.lock().insert(lease.run_id.clone(), lease.clone());
        let core = self.clone();
        self.runtime.spawn(async move {
            let slot = PassSlot(Mutex::new(core.passes.clone().acquire_owned().await.ok()));
            if slot.0.lock().is_some() {
                if let Err(e) = core.execute(&lease, preload, &slot).await {
                    tracing::error!(run_id = %lease.run_id, error = %e, "store failure during a pass; the run is retried shortly");
                    let due = core.clock.now_ms() + STORE_RETRY_MS;
                    if let Err(e) = core.store.release(&lease, due).await {
                        tracing::error!(run_id = %lease.run_id, error = %e, "could not give the run back; its lease will expire");
                    }
                }
            }
            slot.give_back(&core);
            core.held.lock().remove(&lease.run_id);
            core.active.fetch_sub(1, Ordering::SeqCst);
            core.bump();
            core.idle_if_done();
        });
    }

    fn idle_if_done(&self) {
        if self.active.load(Ordering::SeqCst) == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Renews the leases of the passes in flight, every third of the lease.
    pub(super) async fn renew_loop(self: Arc<Self>) {
        let every = self.lease / 3;
        loop {
            let stop = self.stop.notified();
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop => return,
            }
            let leases: Vec<Lease> = self.held.lock().values().cloned().collect();
            if leases.is_empty() {
                continue;
            }
            match self.store.renew(&leases, self.lease).await {
                Ok(held) => {
                    for (lease, held) in leases.iter().zip(held) {
                        if !held {
                            tracing::warn!(run_id = %lease.run_id, "lost the lease of a run in flight: its result will not be written");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not renew leases"),
            }
        }
    }

    /// Resolves once no pass is in flight and no run of this engine's functions is due.
    pub(super) async fn settle(&self) {
        let signal = self.store.work_signal();
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let before = self.epoch.load(Ordering::SeqCst);
            let busy = self.active.load(Ordering::SeqCst) > 0;
            let due = match self.store.next_due(&self.claim_for().functions).await {
                Ok(next) => next.is_some_and(|at| at <= self.clock.now_ms()),
                Err(_) => false,
            };
            let due = due || self.cron_next.load(Ordering::SeqCst) <= self.clock.now_ms();
            let moved = self.epoch.load(Ordering::SeqCst) != before;
            if !busy && !due && !moved && self.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            if due && !busy {
                // The scheduler may be asleep until a time the clock has just passed.
                signal.notify_waiters();
            }
            tokio::select! {
                () = idle => {}
                () = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
        }
    }

    /// Stops claiming and waits (at most `grace`) for the passes in flight, which end at their
    /// next step.
    pub(super) async fn shutdown(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
        let _ = tokio::time::timeout(grace, async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.active.load(Ordering::SeqCst) == 0 {
                    break;
                }
                idle.await;
            }
        })
        .await;
        let loops: Vec<_> = std::mem::take(&mut *self.loops.lock());
        for handle in loops {
            handle.abort();
            let _ = handle.await;
        }
        crate::logs::unregister(self.instance);
        let log_task = self.log_task.lock().take();
        if let Some(task) = log_task {
            let _ = tokio::time::timeout(grace, task).await;
        }
    }
}
