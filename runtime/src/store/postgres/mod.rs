//! The Postgres store (feature `postgres`): many worker processes, on many machines, share one
//! database, and nothing else (no Redis, no coordinator).
//!
//! - **Claims** lease due runs in batches with `FOR UPDATE SKIP LOCKED`, served by a partial
//!   index on the due time that holds unleased runs only. A lease lives in the run's row: a
//!   fencing token from a sequence, the owner, and an expiry on the *database's* clock, so
//!   workers' clocks never decide who owns a run. Renewals extend many leases in one
//!   statement; a run whose lease expired is claimable again.
//! - **Fencing**: every checkpoint, ack and release first locks the run's row where its token is
//!   still the caller's, in the same transaction as its writes: a worker that lost its lease
//!   writes nothing (`Stale`). The ack's due time is decided in SQL after that lock: a run
//!   with a cancellation asked for, or whose waited-for step got its result during the pass,
//!   is due at once (the lock orders the ack after, or before, the write that brought it).
//! - **Acks in groups**: one task per store writes the acks; a lone ack is written at once, and
//!   those that arrive while a group is being written go together in the next transaction (at
//!   most 256), each fenced by its own lease: a stale one is answered `Stale` and writes
//!   nothing, and a group that fails is written again ack by ack (see `acks`).
//! - **Exactly once** under races between workers: events are unique by id and runs by
//!   (event, function) (`ON CONFLICT DO NOTHING`): two workers accepting the same event id at
//!   once create one set of runs, and only the one that inserted the event applies what it
//!   does. A wait is resolved only by the transaction that deletes its matcher row.
//! - **Matchers** are rows indexed by (event, join path, join value): `matchers()` is one
//!   query, answered for whichever worker accepts the event.
//! - **Notifications**: workers are woken by `LISTEN/NOTIFY` (new unclaimed work, wakes,
//!   cancellations: sent after the commit that made the change; the event names new matchers
//!   wait for: sent by the commit that stores them),
//!   with polling behind it (the engine looks for due runs at least twice a second), so a lost
//!   notification delays work and never loses it. [`WorkQueue::cancel_requested`] answers from
//!   a per-process set, filled by this process's own requests, by notifications, and by every
//!   lease renewal (which reads the rows' cancellation), so a cancellation asked on one worker
//!   reaches a pass on another within milliseconds, or at its next renewal if notifications
//!   are down. [`WorkQueue::observes`] answers from the set of event names matchers wait on:
//!   loaded at start (every name ever waited on), extended by notifications, and shrunk when
//!   this worker removes a name's last matcher and no notification came meanwhile; it answers
//!   `true` for every name while the notification connection is down.
//! - **Live views**: a worker relays the runs and events other workers changed (polled every
//!   half second by their `version` and `seq`) to [`Store::changes`]: best effort, a change
//!   whose transaction commits long after it began may be missed by the live view (never by
//!   the lists).
//! - **Flow control** holds across workers. Options decided when a run is created
//!   (`rate_limit`, `idempotency`, `singleton`, `debounce`, `batch_events`): the transaction
//!   that accepts an event locks the row of each rate bucket, singleton lock and window it
//!   decides on (creating it if need be), so two workers accepting at once decide one after
//!   the other, and skips are stored with the event (`gates`). Options decided at claim time
//!   (`concurrency`, `throttle`, `priority`): runs whose function sets one are claimed in a
//!   transaction that locks the budgets they need and counts what is in use under those locks
//!   (see `claims`), so a limit of N is never exceeded and a throttle token never spent twice,
//!   whichever workers claim at once. A step-level slot lives as long as the lease that took it
//!   (an ack or release ends it, and a dead worker's lease expires with its slots); a run-level
//!   one from the run's start to its end. Other runs are claimed as before, by a statement that
//!   never walks past limited ones. [`WorkQueue::held_back`] answers for the runs this worker's
//!   claims saw held back. Timeouts hold: the engine makes a run due at its finish deadline,
//!   and its pass cancels it; a run past its deadline is claimed past every limit.
//! - **Failures**: a statement that fails because the connection broke (a Postgres restart), a
//!   serialization failure or a deadlock is retried with back-off for a while (one minute by
//!   default); the pool reconnects, and work resumes. A write whose commit went through but
//!   whose answer was lost leaves no run leased to nobody: its retry gives such runs back.

mod acks;
mod claims;
mod gates;
mod listen;
mod read;
mod schema;
mod write;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::{broadcast, Notify};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::{
    Accepts, Ack, Acked, Batch, Cancellation, Candidate, Checkpoint, ClaimFor, ClaimedRun, Debounced, EventQuery,
    HeldBack, Lease, LogLine, Queries, RunLog, RunQuery, RunRecord, SkipRecord, StepLogs, StepRecord, Store,
    StoreError, StoredEvent, WorkQueue,
};
use crate::engine::Change;
use crate::model::Millis;

/// How a [`PostgresStore`] connects and behaves.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The Postgres schema that holds hookflow's tables (default `hookflow`): lowercase letters,
    /// digits and `_`. Apps that share a database use one each.
    pub schema: String,
    /// Connections in the pool (default 16).
    pub pool_size: usize,
    /// How long a statement that failed because Postgres went away is retried before the
    /// failure is reported (default 60 s).
    pub retry_for: Duration,
    /// How often other workers' changes are looked for, for [`Store::changes`] (default 500 ms).
    pub change_poll: Duration,
    /// Whether to listen for other workers' notifications (default `true`). Without them (behind
    /// a connection pooler in transaction mode, where `LISTEN` does not work), work is found by
    /// polling: the engine looks twice a second, a cancellation reaches a pass at its next lease
    /// renewal, and every event is matched against the stored waits.
    pub listen: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "hookflow".into(),
            pool_size: 16,
            retry_for: Duration::from_secs(60),
            change_poll: Duration::from_millis(500),
            listen: true,
        }
    }
}

/// The Postgres store. See the module documentation.
pub struct PostgresStore {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What the store's methods and its background tasks share.
pub(crate) struct Shared {
    pool: deadpool_postgres::Pool,
    config: tokio_postgres::Config,
    schema: String,
    /// The database URL without its password, for messages.
    target: String,
    /// This store's id in `writer` columns: other processes' changes are the rows without it.
    me: i64,
    retry_for: Duration,
    signal: Arc<Notify>,
    /// Runs with a cancellation asked for, as far as this process knows.
    cancels: Mutex<HashSet<String>>,
    /// Runs leased through this store.
    held: Mutex<HashSet<String>>,
    /// To the ack writer (see `acks`).
    acks: tokio::sync::mpsc::UnboundedSender<acks::Job>,
    /// Numbers the writes that claim what they create (see [`Shared::retrying_claimed`]).
    claims: std::sync::atomic::AtomicU64,
    /// Event names some matcher waits (or waited) for.
    observed: RwLock<HashSet<String>>,
    /// Observe notifications received (bumped under `observed`'s lock).
    observed_notes: std::sync::atomic::AtomicU64,
    /// Whether the notification connection is up (else `observes` answers `true`).
    listening: AtomicBool,
    changes: broadcast::Sender<Change>,
    /// Per function: until when this worker's last claim looked at its due gated runs (those
    /// due by then were held back), and when a throttle it saw admits a start.
    gated_seen: Mutex<HashMap<String, (Millis, Option<Millis>)>>,
    /// Runs this worker's claims saw held back by flow control, and why.
    held_back: Mutex<HashMap<String, HeldBack>>,
}

/// Held-back runs remembered beyond this many are forgotten (the dev UI then shows no reason).
const MAX_HELD_BACK: usize = 10_000;

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.shared.target)
            .field("schema", &self.shared.schema)
            .finish()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Cancellations known but not held here are forgotten beyond this many (they matter to the
/// worker that holds the run, which learns of them by notification or renewal).
const MAX_REMOTE_CANCELS: usize = 10_000;

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), creating or
    /// migrating the `hookflow` schema.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with options.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Database(format!(
                "the database URL is not a valid Postgres URL ({e}): use postgres://user:password@host:port/database"
            ))
        })?;
        let target = redacted(&config);
        if !schema::valid_schema(&options.schema) {
            return Err(StoreError::Database(format!(
                "`{}` cannot be a hookflow schema name: use lowercase letters, digits and `_`",
                options.schema
            )));
        }
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Database(format!(
                "{target} asks for TLS (sslmode=require), which this build does not support: connect over a \
                 trusted network or a local tunnel with sslmode=disable or prefer"
            )));
        }
        let search_path = format!("-c search_path={}", options.schema);
        let joined = match config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} {search_path}"),
            _ => search_path,
        };
        config.options(&joined);
        if config.get_application_name().is_none() {
            config.application_name("hookflow");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let client = listen::connect(&config, &target).await?;
        schema::migrate(&client, &options.schema, &target).await?;
        drop(client);

        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Database(format!("cannot set up the Postgres pool: {e}")))?;
        let (changes, _) = broadcast::channel(4096);
        let (acks, ack_jobs) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pool,
            config,
            schema: options.schema,
            target,
            me: rand::random::<i64>().abs().max(1),
            retry_for: options.retry_for,
            signal: Arc::new(Notify::new()),
            cancels: Mutex::new(HashSet::new()),
            held: Mutex::new(HashSet::new()),
            acks,
            claims: std::sync::atomic::AtomicU64::new(0),
            observed: RwLock::new(HashSet::new()),
            observed_notes: std::sync::atomic::AtomicU64::new(0),
            listening: AtomicBool::new(false),
            changes,
            gated_seen: Mutex::new(HashMap::new()),
            held_back: Mutex::new(HashMap::new()),
        });
        shared.load_observed().await?;
        let cursors = listen::change_cursors(&shared).await?;
        let mut tasks =
            vec![tokio::spawn(listen::relay_changes(Arc::downgrade(&shared), options.change_poll, cursors))];
        tasks.push(tokio::spawn(acks::run(Arc::downgrade(&shared), ack_jobs)));
        if options.listen {
            tasks.push(tokio::spawn(listen::run(Arc::downgrade(&shared))));
        }
        Ok(PostgresStore { shared, tasks })
    }

    /// The Postgres schema that holds the store's tables.
    pub fn schema(&self) -> &str {
        &self.shared.schema
    }

    /// The database URL, without its password.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// Whether the notification connection (LISTEN) is up.
    pub fn listening(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }
}

/// The URL of a connection configuration, without its password.
fn redacted(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

/// Why a statement failed: worth trying again, or not.
#[derive(Debug)]
pub(crate) enum Fail {
    Pg(tokio_postgres::Error),
    Pool(deadpool_postgres::PoolError),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

impl From<deadpool_postgres::PoolError> for Fail {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Fail::Pool(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        Fail::Store(StoreError::Codec(e))
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// Whether a Postgres error means "the connection or the server went away" or a conflict
/// that a retry resolves.
pub(crate) fn transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(code)
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

impl Fail {
    fn transient(&self) -> bool {
        match self {
            Fail::Pg(e) => transient(e),
            Fail::Pool(deadpool_postgres::PoolError::Backend(e)) => transient(e),
            Fail::Pool(deadpool_postgres::PoolError::Timeout(_)) => true,
            Fail::Pool(_) | Fail::Store(_) => false,
        }
    }

    fn into_store(self, target: &str) -> StoreError {
        match self {
            Fail::Pg(e) => StoreError::Database(format!("Postgres at {target}: {}", describe(&e))),
            Fail::Pool(e) => StoreError::Database(format!("Postgres at {target}: {e}")),
            Fail::Store(e) => e,
        }
    }
}

/// A Postgres error with its server message, when it has one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl Shared {
    /// Runs `f` until it succeeds, fails for good, or Postgres has been away for `retry_for`.
    async fn retrying<T, F, Fut>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Fail>>,
    {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(20);
        let mut failures = 0u32;
        loop {
            match f().await {
                Ok(v) => {
                    if failures > 0 {
                        tracing::info!(what, failures, "Postgres answers again");
                    }
                    return Ok(v);
                }
                Err(e) if e.transient() && started.elapsed() < self.retry_for => {
                    if failures == 0 {
                        tracing::warn!(what, error = ?e, "Postgres failed; retrying with back-off");
                    }
                    failures += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e.into_store(&self.target)),
            }
        }
    }

    /// `claim` under a lease owner of its own (`worker#n`), for one write that claims the
    /// runs it creates (see [`Shared::retrying_claimed`]).
    fn own_claim(&self, claim: Option<&ClaimFor>) -> Option<ClaimFor> {
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        claim.map(|c| ClaimFor { worker: format!("{}#{n}", c.worker), ..c.clone() })
    }

    /// [`Shared::retrying`] for a write that claims the runs it creates (an accept, an ack
    /// that emits events) under `claim`, a lease owner of its own ([`Shared::own_claim`]).
    /// When Postgres commits and its answer is lost, the runs it claimed are leased to tokens
    /// that nobody learned; the next attempt first gives those back (they are due: any worker
    /// may take them at once) instead of leaving them to their lease's expiry. Nothing is
    /// adopted, so no run can end up with two passes.
    async fn retrying_claimed<T, F, Fut>(&self, what: &str, claim: Option<&ClaimFor>, write: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Fail>>,
    {
        self.retrying_claimed_after(what, claim, false, write).await
    }

    /// [`Shared::retrying_claimed`] after an attempt made elsewhere when `tried` (a group of
    /// acks that failed: its commit may have gone through).
    async fn retrying_claimed_after<T, F, Fut>(
        &self,
        what: &str,
        claim: Option<&ClaimFor>,
        tried: bool,
        write: F,
    ) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Fail>>,
    {
        let Some(own) = claim else { return self.retrying(what, write).await };
        let (tried, write) = (&AtomicBool::new(tried), &write);
        self.retrying(what, move || async move {
            if tried.swap(true, Ordering::Relaxed) && write::release_unlearned(self, &own.worker).await? {
                self.settle(write::Effects { work: true, ..write::Effects::default() }).await;
            }
            write().await
        })
        .await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, Fail> {
        Ok(self.pool.get().await?)
    }

    fn channel(&self, kind: &str) -> String {
        format!("{}_{kind}", self.schema)
    }

    /// Reads the event names matchers wait for.
    async fn load_observed(&self) -> Result<(), StoreError> {
        let names = self
            .retrying("load observed names", || async {
                let client = self.client().await?;
                let rows = client.query("SELECT DISTINCT event FROM matcher_paths", &[]).await?;
                Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect::<HashSet<String>>())
            })
            .await?;
        self.observed.write().extend(names);
        Ok(())
    }

    /// Stops observing those of `names` that no matcher waits for any more. A name is dropped
    /// only if no observe notification arrived while the matchers were looked up: a matcher
    /// another worker adds is then either committed before the look (found) or notified after
    /// the drop (added again by the listener).
    async fn forget_observed(&self, mut names: Vec<String>) {
        names.sort();
        names.dedup();
        let before = self.observed_notes.load(Ordering::SeqCst);
        let still = async {
            let client = self.client().await?;
            let stmt =
                client.prepare_cached("SELECT DISTINCT event FROM matchers WHERE event = ANY($1::text[])").await?;
            Ok::<HashSet<String>, Fail>(client.query(&stmt, &[&names]).await?.iter().map(|r| r.get(0)).collect())
        };
        // When the look fails, every name stays observed: `observes` may say yes needlessly.
        let Ok(still) = still.await else { return };
        let mut observed = self.observed.write();
        if self.observed_notes.load(Ordering::SeqCst) == before {
            observed.retain(|name| still.contains(name) || names.binary_search(name).is_err());
        }
    }

    /// Records what a claim saw of gated runs at `now` (`None`: none was due).
    fn saw_gated(&self, functions: &[String], now: Millis, outcome: Option<&claims::Outcome>) {
        {
            let mut seen = self.gated_seen.lock();
            for f in functions {
                match outcome {
                    Some(o) if !o.complete => {
                        seen.remove(f);
                    }
                    Some(o) => {
                        seen.insert(f.clone(), (now, o.retry_at));
                    }
                    // No gated run is due: only what was remembered changes (the functions
                    // without limits keep costing nothing here).
                    None => {
                        if let Some(entry) = seen.get_mut(f) {
                            *entry = (now, None);
                        }
                    }
                }
            }
        }
        let Some(outcome) = outcome else { return };
        let mut held = self.held_back.lock();
        for run in &outcome.taken {
            held.remove(run);
        }
        if held.len() + outcome.held_back.len() > MAX_HELD_BACK {
            held.clear();
        }
        held.extend(outcome.held_back.iter().cloned());
    }

    /// Work may have become claimable (a slot freed, a run due): gated runs held back are
    /// looked at again.
    pub(crate) fn forget_gated(&self) {
        self.gated_seen.lock().clear();
    }

    /// Applies what a committed write did to this process's memory, and tells the other
    /// workers (best effort: polling covers a lost notification).
    async fn settle(&self, effects: write::Effects) {
        {
            let mut held = self.held.lock();
            held.extend(effects.leased.iter().cloned());
            for run in &effects.released {
                held.remove(run);
            }
        }
        {
            let mut cancels = self.cancels.lock();
            cancels.extend(effects.cancelled.iter().cloned());
            for run in &effects.released_ended {
                cancels.remove(run);
            }
            if cancels.len() > MAX_REMOTE_CANCELS {
                let held = self.held.lock();
                cancels.retain(|run| held.contains(run));
            }
        }
        if !effects.observed.is_empty() {
            let mut observed = self.observed.write();
            self.observed_notes.fetch_add(1, Ordering::SeqCst);
            observed.extend(effects.observed.iter().cloned());
        }
        if !effects.unobserved.is_empty() {
            self.forget_observed(effects.unobserved).await;
        }
        let mut channels = Vec::new();
        let mut payloads = Vec::new();
        if effects.work {
            self.forget_gated();
            self.signal.notify_waiters();
            channels.push(self.channel("work"));
            payloads.push(String::new());
        }
        for run in effects.cancelled {
            channels.push(self.channel("cancel"));
            payloads.push(run);
        }
        if channels.is_empty() {
            return;
        }
        let sent = async {
            let client = self.client().await?;
            let stmt =
                client.prepare_cached("SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS u(c, p)").await?;
            client.execute(&stmt, &[&channels, &payloads]).await?;
            Ok::<(), Fail>(())
        };
        if let Err(e) = sent.await {
            tracing::debug!(error = ?e, "could not notify the other workers; they will poll");
        }
    }
}

#[async_trait]
impl RunLog for PostgresStore {
    async fn accept(&self, batch: &Batch, claim: Option<&ClaimFor>) -> Result<Accepts, StoreError> {
        let rows = write::Accepting::encode(batch)?;
        let claim = self.shared.own_claim(claim);
        let claim = claim.as_ref();
        let (accepts, effects) =
            self.shared.retrying_claimed("accept", claim, || write::accept(&self.shared, &rows, claim)).await?;
        self.shared.settle(effects).await;
        Ok(accepts)
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.shared.retrying("read a run", || read::run(&self.shared, id)).await
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        self.shared.retrying("read a journal", || read::journal(&self.shared, run_id)).await
    }

    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        self.shared.retrying("read events", || read::events(&self.shared, ids)).await
    }

    async fn claimed_runs(&self, ids: &[String]) -> Result<Vec<Option<ClaimedRun>>, StoreError> {
        self.shared.retrying("read claimed runs", || read::claimed_runs(&self.shared, ids)).await
    }
}

#[async_trait]
impl WorkQueue for PostgresStore {
    async fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Result<Vec<Lease>, StoreError> {
        let (mut leases, gated) = self.shared.retrying("claim", || write::claim(&self.shared, claim, now, max)).await?;
        if gated && leases.len() < max {
            let room = max - leases.len();
            let outcome =
                self.shared.retrying("claim gated runs", || claims::claim(&self.shared, claim, now, room)).await?;
            self.shared.saw_gated(&claim.functions, now, Some(&outcome));
            leases.extend(outcome.leases);
        } else if !gated {
            self.shared.saw_gated(&claim.functions, now, None);
        }
        self.shared.held.lock().extend(leases.iter().map(|l| l.run_id.clone()));
        Ok(leases)
    }

    fn held_back(&self, run_id: &str) -> Option<HeldBack> {
        self.shared.held_back.lock().get(run_id).cloned()
    }

    async fn renew(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<bool>, StoreError> {
        let (held, cancelled) =
            self.shared.retrying("renew leases", || write::renew(&self.shared, leases, ttl)).await?;
        if !cancelled.is_empty() {
            self.shared.cancels.lock().extend(cancelled);
        }
        Ok(held)
    }

    async fn checkpoint(&self, lease: &Lease, checkpoint: Checkpoint) -> Result<bool, StoreError> {
        let rows = write::Checkpointing::encode(&checkpoint)?;
        let written = self.shared.retrying("checkpoint", || write::checkpoint(&self.shared, lease, &rows)).await?;
        match written {
            Some(effects) => {
                self.shared.settle(effects).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn ack(&self, lease: &Lease, ack: Ack, claim: Option<&ClaimFor>) -> Result<Acked, StoreError> {
        let rows = write::Acking::encode(&ack)?;
        drop(ack);
        let claim = self.shared.own_claim(claim);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = acks::Job { lease: lease.clone(), rows, claim, reply };
        let gone = || StoreError::Database(format!("Postgres at {}: the store is shutting down", self.shared.target));
        self.shared.acks.send(job).map_err(|_| gone())?;
        let written = answer.await.map_err(|_| gone())??;
        match written {
            Some((acked, effects)) => {
                self.shared.settle(effects).await;
                Ok(acked)
            }
            None => {
                self.shared.held.lock().remove(&lease.run_id);
                Ok(Acked::Stale)
            }
        }
    }

    async fn release(&self, lease: &Lease, due: Millis) -> Result<(), StoreError> {
        let released = self.shared.retrying("release", || write::release(&self.shared, lease, due)).await?;
        let mut effects = write::Effects { released: vec![lease.run_id.clone()], ..write::Effects::default() };
        effects.work = released;
        self.shared.settle(effects).await;
        Ok(())
    }

    async fn request_cancel(&self, run_id: &str, cancellation: Cancellation) -> Result<bool, StoreError> {
        let encoded = serde_json::to_string(&cancellation)?;
        let at = cancellation.at;
        let cancelled = self
            .shared
            .retrying("request a cancellation", || write::request_cancel(&self.shared, run_id, &encoded, at))
            .await?;
        if cancelled {
            let effects =
                write::Effects { cancelled: vec![run_id.to_owned()], work: true, ..write::Effects::default() };
            self.shared.settle(effects).await;
        }
        Ok(cancelled)
    }

    fn cancel_requested(&self, run_id: &str) -> bool {
        self.shared.cancels.lock().contains(run_id)
    }

    fn groups_acks(&self) -> bool {
        // Every ack goes through `acks::run`.
        true
    }

    async fn next_due(&self, functions: &[String]) -> Result<Option<Millis>, StoreError> {
        let (checked, retry) = {
            let seen = self.shared.gated_seen.lock();
            functions.iter().fold((Millis::MAX, None::<Millis>), |(checked, retry), f| match seen.get(f) {
                Some((at, r)) => (
                    checked.min(*at),
                    match (retry, *r) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    },
                ),
                None => (Millis::MIN, retry),
            })
        };
        let due = self.shared.retrying("next due", || read::next_due(&self.shared, functions, checked)).await?;
        Ok(match (due, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.shared.signal.clone()
    }

    async fn matchers(&self, name: &str, incoming: &Value, now: Millis) -> Result<Vec<Candidate>, StoreError> {
        let incoming = incoming.to_string();
        let candidates =
            self.shared.retrying("find matchers", || read::matchers(&self.shared, name, &incoming, now)).await?;
        let wanted: Vec<String> = candidates
            .iter()
            .filter(|m| super::MatcherIndex::needs_trigger(m))
            .filter_map(|m| m.trigger.clone())
            .collect();
        let triggers: std::collections::HashMap<String, Arc<Value>> = if wanted.is_empty() {
            std::collections::HashMap::new()
        } else {
            self.events(&wanted).await?.into_iter().map(|e| (e.id.clone(), Arc::new(e.into_raw().to_json()))).collect()
        };
        Ok(candidates
            .into_iter()
            .map(|matcher| {
                let trigger = super::MatcherIndex::needs_trigger(&matcher)
                    .then(|| matcher.trigger.as_ref().and_then(|t| triggers.get(t).cloned()).unwrap_or_default());
                Candidate { matcher, trigger }
            })
            .collect())
    }

    fn observes(&self, name: &str) -> bool {
        !self.shared.listening.load(Ordering::SeqCst) || self.shared.observed.read().contains(name)
    }
}

#[async_trait]
impl Queries for PostgresStore {
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        self.shared.retrying("list events", || read::list_events(&self.shared, query)).await
    }

    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        self.shared.retrying("list runs", || read::list_runs(&self.shared, query)).await
    }

    async fn runs_cancelled_by(&self, event_id: &str, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.shared.retrying("list cancelled runs", || read::runs_cancelled_by(&self.shared, event_id, limit)).await
    }

    async fn skips_of_event(&self, event_id: &str) -> Result<Vec<SkipRecord>, StoreError> {
        self.shared.retrying("list an event's skips", || read::skips_of_event(&self.shared, event_id)).await
    }

    async fn skips_of_function(&self, function_id: &str, limit: usize) -> Result<Vec<SkipRecord>, StoreError> {
        self.shared
            .retrying("list a function's skips", || read::skips_of_function(&self.shared, function_id, limit))
            .await
    }

    async fn debounces_of_event(&self, event_id: &str) -> Result<Vec<Debounced>, StoreError> {
        self.shared.retrying("list an event's windows", || read::debounces_of_event(&self.shared, event_id)).await
    }

    async fn skip_counts(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.shared.retrying("count skips", || read::skip_counts(&self.shared)).await
    }
}

#[async_trait]
impl StepLogs for PostgresStore {
    async fn append_logs(&self, lines: Vec<LogLine>) -> Result<(), StoreError> {
        self.shared.retrying("append logs", || write::append_logs(&self.shared, &lines)).await
    }

    async fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError> {
        self.shared.retrying("read logs", || read::logs(&self.shared, run_id)).await
    }
}

impl Store for PostgresStore {
    fn queries(&self) -> Option<&dyn Queries> {
        Some(self)
    }

    fn step_logs(&self) -> Option<&dyn StepLogs> {
        Some(self)
    }

    fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.shared.changes.subscribe())
    }
}
