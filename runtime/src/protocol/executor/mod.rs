//! The executor side: hookflow's engine running the functions of apps written with any Inngest
//! SDK, as Inngest's own dev server does (`hookflow dev -u http://localhost:3000/api/inngest`).
//!
//! - [`apps`]: the synced apps. It answers their `POST /fn/register` (their functions become
//!   remote specs of the engine, a re-sync replacing them whole), asks them to sync (`PUT` to
//!   their URL, at start and then every poll interval), and keeps each app's last sync and its
//!   error. It does not scan ports for apps: they are named with `hookflow dev -u URL`.
//! - `call`: one pass of a run of a remote function: call requests to the app until the run
//!   completes, fails or suspends, the SDK's answers turned into the same pass report the engine
//!   applies for an in-process function. Parallel steps are planned by the SDK and executed by
//!   targeted requests; retries follow the server's back-off table.
//! - [`checkpoint`]: the checkpoint API current TypeScript SDKs report steps to as they run
//!   them (`POST /v1/checkpoint/{run}/async`), applied under the pass's lease and fenced by the
//!   dispatch's generation.
//!
//! [`Dispatcher`] holds what these share: the HTTP client, the signing key requests are signed
//! with, the retry policy, the dispatches in flight, and the bound on call requests in flight
//! to one app (64: more runs due at once wait for a free one rather than flood the app).

pub mod apps;
pub(crate) mod call;
pub mod checkpoint;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::signing::SigningKey;
use super::wire::WireOp;
use crate::store::{Lease, Store};

/// How long one call request may take before its attempt fails.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Call requests in flight to one app at most. An SDK app is one process (Node's is one thread):
/// thousands of requests at once overflow its accept queue, and connections that wait there
/// past the connect timeout fail their attempts, which then wait out a retry's back-off. A
/// bounded number kept busy on reused connections finishes the same work sooner.
const MAX_CALLS_PER_APP: usize = 64;

/// The server's retry back-off: 15 s, 30 s, 1 min, 2 min, 5 min, 10 min, 20 min, 40 min, 1 h, 2 h.
const BACKOFF_SECS: [u64; 10] = [15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200];

/// What the executor side shares. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<DispatcherInner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("in_flight", &self.inner.inflight.lock().len()).finish_non_exhaustive()
    }
}

struct DispatcherInner {
    http: reqwest::Client,
    keys: RwLock<Vec<SigningKey>>,
    retry_interval: RwLock<Option<Duration>>,
    checkpointing: AtomicBool,
    generation: AtomicI64,
    checkpointed: AtomicU64,
    inflight: Mutex<HashMap<String, Inflight>>,
    /// The call requests each app may still take ([`MAX_CALLS_PER_APP`]), by its serve URL:
    /// one entry per URL ever called, which re-syncs reuse.
    calls: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A discovery request in flight: the checkpoints it may receive.
pub(crate) struct Inflight {
    /// `ctx.qi_id` of the dispatch.
    pub(crate) qi_id: String,
    /// Its generation (`X-Inngest-Generation-Id`).
    pub(crate) generation: i64,
    /// The pass's lease: checkpoints are written under it.
    pub(crate) lease: Lease,
    pub(crate) store: Arc<dyn Store>,
    /// `ctx.attempt` of the dispatch.
    pub(crate) attempt: u32,
    /// Opcodes checkpointed during the dispatch, for the pass.
    pub(crate) ops: Vec<WireOp>,
    /// When the previous checkpoint arrived (the next step's start).
    pub(crate) last: crate::model::Millis,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher::new()
    }
}

impl Dispatcher {
    /// A dispatcher that signs nothing, uses the server's back-off and lets SDKs checkpoint.
    pub fn new() -> Dispatcher {
        let http = reqwest::Client::builder()
            .timeout(DEFAULT_CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(512)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Dispatcher {
            inner: Arc::new(DispatcherInner {
                http,
                keys: RwLock::new(Vec::new()),
                retry_interval: RwLock::new(None),
                checkpointing: AtomicBool::new(true),
                generation: AtomicI64::new(1),
                checkpointed: AtomicU64::new(0),
                inflight: Mutex::new(HashMap::new()),
                calls: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Signs call and sync requests with `key` (and accepts it, or `fallback`, as the bearer
    /// token of the register and checkpoint APIs), as a self-hosted `inngest start` does.
    pub fn set_signing_keys(&self, key: Option<SigningKey>, fallback: Option<SigningKey>) {
        *self.inner.keys.write() = key.into_iter().chain(fallback).collect();
    }

    /// The keys, primary first.
    pub(crate) fn keys(&self) -> Vec<SigningKey> {
        self.inner.keys.read().clone()
    }

    /// Retries after `interval` each, instead of the server's back-off table (`--retry-interval`).
    pub fn set_retry_interval(&self, interval: Option<Duration>) {
        *self.inner.retry_interval.write() = interval;
    }

    /// Whether call requests carry `ctx.fn_id`, which lets current TypeScript SDKs checkpoint
    /// (on by default).
    pub fn set_checkpointing(&self, on: bool) {
        self.inner.checkpointing.store(on, Ordering::SeqCst);
    }

    /// Opcodes apps reported to the checkpoint API so far.
    pub fn checkpointed(&self) -> u64 {
        self.inner.checkpointed.load(Ordering::Relaxed)
    }

    pub(crate) fn count_checkpointed(&self, ops: usize) {
        self.inner.checkpointed.fetch_add(ops as u64, Ordering::Relaxed);
    }

    pub(crate) fn checkpointing(&self) -> bool {
        self.inner.checkpointing.load(Ordering::SeqCst)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Waits until the app at `url` may take one more call request; the permit is held until
    /// its answer is read.
    pub(crate) async fn call_permit(&self, url: &str) -> Option<OwnedSemaphorePermit> {
        let calls = self
            .inner
            .calls
            .lock()
            .entry(url.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_CALLS_PER_APP)))
            .clone();
        // The semaphore is never closed, so this only fails if it were.
        calls.acquire_owned().await.ok()
    }

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (0-based) failed.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        if let Some(interval) = *self.inner.retry_interval.read() {
            return interval;
        }
        let base = BACKOFF_SECS[(attempt as usize).min(BACKOFF_SECS.len() - 1)];
        Duration::from_secs(base) + Duration::from_millis(rand::random_range(0..=30_000))
    }

    pub(crate) fn next_generation(&self) -> i64 {
        self.inner.generation.fetch_add(1, Ordering::SeqCst)
    }

    /// Whether a bearer token is one of the keys' (always, when no key is set).
    pub(crate) fn authorized(&self, bearer: Option<&str>) -> bool {
        let keys = self.inner.keys.read();
        if keys.is_empty() {
            return true;
        }
        let Some(token) = bearer else { return false };
        keys.iter().any(|k| bool::from(subtle::ConstantTimeEq::ct_eq(k.bearer().as_bytes(), token.as_bytes())))
    }

    pub(crate) fn begin(&self, run_id: &str, inflight: Inflight) {
        self.inner.inflight.lock().insert(run_id.to_owned(), inflight);
    }

    /// Ends a dispatch: answers the opcodes checkpointed during it.
    pub(crate) fn end(&self, run_id: &str, generation: i64) -> Vec<WireOp> {
        let mut inflight = self.inner.inflight.lock();
        match inflight.get(run_id) {
            Some(i) if i.generation == generation => inflight.remove(run_id).map(|i| i.ops).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn with_inflight<T>(&self, run_id: &str, f: impl FnOnce(Option<&mut Inflight>) -> T) -> T {
        let mut inflight = self.inner.inflight.lock();
        f(inflight.get_mut(run_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_server_s_table_or_the_interval() {
        let d = Dispatcher::new();
        let first = d.backoff(0);
        assert!(first >= Duration::from_secs(15) && first <= Duration::from_secs(45), "{first:?}");
        assert!(d.backoff(99) >= Duration::from_secs(7200));
        d.set_retry_interval(Some(Duration::from_millis(50)));
        assert_eq!(d.backoff(3), Duration::from_millis(50));
    }

    #[test]
    fn bearer_tokens_are_checked_only_when_a_key_is_set() {
        let d = Dispatcher::new();
        assert!(d.authorized(None));
        let key = SigningKey::new("signkey-test-00ff").expect("key");
        d.set_signing_keys(Some(key.clone()), None);
        assert!(!d.authorized(None));
        assert!(!d.authorized(Some("signkey-test-00ff")), "the key itself is not its token");
        assert!(d.authorized(Some(&key.bearer())));
    }
}
