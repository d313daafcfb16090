//! Persistence, split by role. A store is the single source of truth; every write is durable
//! when its future resolves, and acknowledgements and step results wait for it.
//!
//! - [`RunLog`]: events, runs and journals; accepting a batch commits an event with the runs it
//!   starts, the waiting steps it resolves and the runs it cancels, atomically.
//! - [`WorkQueue`]: every execution of a run is due at a time (its `wake_at`). A worker claims
//!   due runs with a lease, renews it while the pass runs, and acknowledges with the pass's
//!   result, fenced by the lease: a stale pass (its lease expired and the run was claimed again)
//!   writes nothing. Timers are due times, so each fires once; waits and `cancel_on` conditions
//!   are stored matchers, found by whichever worker accepts the event; cancellations are stored
//!   and seen by the pass that holds the run at its next step.
//! - [`Queries`]: the dev UI's lists (optional).
//! - [`StepLogs`]: what steps logged (optional, best effort).
//!
//! [`MemoryStore`] and [`SqliteStore`] keep their queue's claim state in memory, which is right
//! while one process owns the data: the SQLite store takes an exclusive lock on its file for
//! that (a second process is refused at open, naming the holder). The Postgres store (feature
//! `postgres`) keeps it in the database, so any number of worker processes share its work.
//! Every store passes the conformance suite (`store::conformance`, feature `testing`), which
//! includes two engines sharing one store.

mod gates;
mod matchers;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
// The memory store uses part of the queue; the SQLite store all of it.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
mod queue;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod types;
mod window;

#[cfg(feature = "testing")]
pub mod conformance;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::model::{
    Cancellation, CancelledBy, Debounced, FailedAttempt, Memo, ParentRef, PendingOp, ResumedBy, RunRecord, RunState,
    RunStatus, SkipReason, SkipRecord, StepDetail, StepKind, StepRecord, StoredEvent, WaitSpec,
};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{Durability, SqliteStore};
pub use types::{
    Accepted, Accepts, Ack, Acked, Batch, CancelRequest, Candidate, Checkpoint, ClaimFor, ClaimedRun, CreatedRun,
    DropMatchers, EventQuery, FlowControl, Gates, HeldBack, Join, Lease, LogLine, Matcher, MatcherKind, NewEvent,
    NewRun, RateGate, Resolution, Resume, RunQuery, WindowGate, WindowRule,
};

use crate::model::Millis;

pub(crate) use matchers::{value_at, MatcherIndex};
pub(crate) use window::moved as window_moved;

/// A store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, a constraint).
    #[error("database error: {0}")]
    Database(String),
    /// A record could not be encoded or decoded.
    #[error("could not encode or decode a stored record: {0}")]
    Codec(#[from] serde_json::Error),
    /// The store was closed (the process is shutting down).
    #[error("the store is closed")]
    Closed,
    /// The store's data is in use by another process, which owns it.
    #[error("{0}")]
    Locked(String),
    /// The store was opened to read only.
    #[error("this store was opened read-only: it cannot write")]
    ReadOnly,
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Events, runs and journals.
#[async_trait]
pub trait RunLog: Send + Sync + 'static {
    /// Commits a batch atomically. An event whose id is already stored is not inserted again,
    /// and nothing it would do happens (no runs, resolutions or cancellations); runs are unique
    /// per (event id, function id) as well. A resolution is written only if its step still
    /// waits, and wakes its run. With `claim`, the runs created are leased to the claimer.
    async fn accept(&self, batch: &Batch, claim: Option<&ClaimFor>) -> Result<Accepts, StoreError>;

    /// A run by id. A run that a worker holds reads as `Running`.
    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// A run's journal, in the order the steps were recorded.
    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError>;

    /// Events by id (missing ids are skipped), in the order asked.
    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError>;

    /// What the passes of these claimed runs start from (each run with its events and its
    /// journal), in the order asked; `None` for a run that does not exist. The default reads
    /// [`run`](Self::run), [`events`](Self::events) and [`journal`](Self::journal) run by run;
    /// a store whose reads cost a round trip each reads the whole claim together.
    async fn claimed_runs(&self, ids: &[String]) -> Result<Vec<Option<ClaimedRun>>, StoreError> {
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(run) = self.run(id).await? else {
                claimed.push(None);
                continue;
            };
            let events = self.events(&run.event_ids).await?;
            let journal = self.journal(id).await?;
            claimed.push(Some(ClaimedRun { run, events, journal }));
        }
        Ok(claimed)
    }
}

/// Runs due for execution, leased to the workers that execute them.
#[async_trait]
pub trait WorkQueue: Send + Sync + 'static {
    /// Leases up to `max` runs due at `now` (oldest due first) of the claimer's functions,
    /// including runs whose lease expired.
    async fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Result<Vec<Lease>, StoreError>;

    /// Extends leases by `ttl`; answers, for each, whether it is still held.
    async fn renew(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<bool>, StoreError>;

    /// Writes step results and resolutions under a lease, keeping it. `false`: the lease was
    /// lost and nothing was written.
    async fn checkpoint(&self, lease: &Lease, checkpoint: Checkpoint) -> Result<bool, StoreError>;

    /// Writes a pass's result and releases the lease, atomically, if the lease is still held.
    /// With `claim`, runs the emitted events create are leased to the claimer.
    async fn ack(&self, lease: &Lease, ack: Ack, claim: Option<&ClaimFor>) -> Result<Acked, StoreError>;

    /// Gives a run back without a result (shutdown, a failed pass), due at `due`.
    async fn release(&self, lease: &Lease, due: Millis) -> Result<(), StoreError>;

    /// Asks for a run to be cancelled, and makes it due now. `false` when it has ended or does
    /// not exist. A later request does not replace the first one's reason.
    async fn request_cancel(&self, run_id: &str, cancellation: Cancellation) -> Result<bool, StoreError>;

    /// Whether a cancellation was asked for this run (read at each step of a pass).
    fn cancel_requested(&self, run_id: &str) -> bool;

    /// Whether [`WorkQueue::ack`] hands the write to a writer that groups acks (and so mostly
    /// waits for other passes' acks, not for work of its own). An engine then gives the pass's
    /// slot back as it hands the ack over, so that the runs it accepts meanwhile are leased as
    /// they are inserted rather than queued for a later claim. Stores that write an ack as it
    /// is asked answer `false`: their pass holds its slot until the ack has committed.
    fn groups_acks(&self) -> bool {
        false
    }

    /// When the next run of these functions is due, if any is queued.
    async fn next_due(&self, functions: &[String]) -> Result<Option<Millis>, StoreError>;

    /// Notified whenever runs may have become due (new runs, wakes, released leases).
    fn work_signal(&self) -> Arc<tokio::sync::Notify>;

    /// Whether this store enforces a flow-control option (the engine's part of it: evaluating
    /// keys, timeouts, is the engine's). An engine refuses to start a function that sets an
    /// option its store does not enforce: accepted and ignored would be worse than refused.
    fn enforces(&self, option: FlowControl) -> bool {
        let _ = option;
        true
    }

    /// Why flow control holds this queued run back, if it does (for the dev UI). Stores that
    /// cannot tell answer `None`.
    fn held_back(&self, run_id: &str) -> Option<HeldBack> {
        let _ = run_id;
        None
    }

    /// The matchers waiting for events named `name` that `incoming` may satisfy, not expired
    /// at `now`: joins already compared by value, other conditions with the trigger to
    /// evaluate them against.
    async fn matchers(
        &self,
        name: &str,
        incoming: &serde_json::Value,
        now: Millis,
    ) -> Result<Vec<Candidate>, StoreError>;

    /// Whether any matcher waits for events named `name`: `false` lets an engine skip building
    /// an event's JSON. It may answer `true` when none matches, never `false` when one does.
    fn observes(&self, name: &str) -> bool;

    /// Unfinished runs written by an earlier version of the store, whose `cancel_on` conditions
    /// an engine that knows their functions must arm again with [`WorkQueue::rearm`].
    async fn legacy_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        Ok(Vec::new())
    }

    /// Adds a legacy run's matchers and marks it as re-armed.
    async fn rearm(&self, run_id: &str, matchers: Vec<Matcher>) -> Result<(), StoreError> {
        let _ = (run_id, matchers);
        Ok(())
    }
}

/// The dev UI's questions.
#[async_trait]
pub trait Queries: Send + Sync + 'static {
    /// Events, newest first.
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Runs, newest first. Runs a worker holds read as `Running`.
    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;

    /// The runs that the event `event_id` cancelled (it matched their `cancel_on`), newest
    /// first, at most `limit` of them: those whose [`RunRecord::cancellation`] names it.
    async fn runs_cancelled_by(&self, event_id: &str, limit: usize) -> Result<Vec<RunRecord>, StoreError>;

    /// The functions that skipped the event `event_id` (see [`Gates`]), in the order they did.
    /// Stores that do not enforce gates have none.
    async fn skips_of_event(&self, event_id: &str) -> Result<Vec<SkipRecord>, StoreError> {
        let _ = event_id;
        Ok(Vec::new())
    }

    /// The events a function skipped, newest first, at most `limit` (0 means 50).
    async fn skips_of_function(&self, function_id: &str, limit: usize) -> Result<Vec<SkipRecord>, StoreError> {
        let _ = (function_id, limit);
        Ok(Vec::new())
    }

    /// The windows the event `event_id` went into: a debounce window or a batch, one per
    /// debounced or batched function it triggers. Stores that do not enforce debouncing and
    /// batching have none.
    async fn debounces_of_event(&self, event_id: &str) -> Result<Vec<Debounced>, StoreError> {
        let _ = event_id;
        Ok(Vec::new())
    }

    /// How many events each function has skipped, by function id (functions without skips
    /// are absent).
    async fn skip_counts(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        Ok(std::collections::HashMap::new())
    }
}

/// What steps logged.
#[async_trait]
pub trait StepLogs: Send + Sync + 'static {
    /// Appends log lines that steps wrote (best effort: not part of the durability contract).
    async fn append_logs(&self, lines: Vec<LogLine>) -> Result<(), StoreError>;

    /// A run's log lines, in the order they were written.
    async fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError>;
}

/// A store: the run log and the work queue, and the optional roles it can play.
///
/// Everything durable lives in a store: events, runs, each step's record, and what is due
/// when. hookflow ships two: [`SqliteStore`] (one file, one process at a time; what
/// `App::store_sqlite` opens) and [`MemoryStore`] (for tests and `memory:`). A store of your
/// own implements [`RunLog`] and [`WorkQueue`] (and [`Queries`] for the dev UI) and is checked
/// by the conformance suite (`store::conformance`, feature `testing`).
///
/// ```
/// use std::sync::Arc;
///
/// use hookflow::store::{MemoryStore, RunQuery, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), hookflow::store::StoreError> {
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let queries = store.queries().expect("the memory store answers queries");
/// assert!(queries.list_runs(&RunQuery::default()).await?.is_empty());
/// # Ok(())
/// # }
/// ```
pub trait Store: RunLog + WorkQueue {
    /// The dev UI's queries, when this store answers them.
    fn queries(&self) -> Option<&dyn Queries> {
        None
    }

    /// Step logs, when this store keeps them.
    fn step_logs(&self) -> Option<&dyn StepLogs> {
        None
    }

    /// The changes that other processes sharing this store make (events accepted, runs'
    /// statuses), for live views; `None` when no other process writes to it. An engine relays
    /// them to its subscribers beside its own.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<crate::engine::Change>> {
        None
    }
}
