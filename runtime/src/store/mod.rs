//! Persistence: the [`Store`] trait every backend implements, and the records it keeps.
//!
//! A store is the single source of truth; the engine keeps only indexes (timers, waits) in
//! memory and rebuilds them from [`Store::active_runs`] on start-up. Every write is durable when
//! its future resolves: acknowledgements and step results wait for it.

mod memory;
mod sqlite;
mod types;

#[cfg(feature = "testing")]
pub mod conformance;

pub use memory::MemoryStore;
pub use sqlite::{Durability, SqliteStore};
pub use types::{
    Accepted, EventQuery, LogLine, Memo, NewEvent, ParentRef, PendingOp, RunQuery, RunRecord, RunState, RunStatus,
    RunUpdate, StepKind, StepRecord, StoredEvent, WaitSpec,
};

use async_trait::async_trait;

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
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Where events, runs and journals live. Every method's writes are durable when it returns.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Commits events and the runs each creates, atomically per call. An event whose id is
    /// already stored is not inserted again and its runs are not created; runs are unique per
    /// (event id, function id) as well.
    async fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError>;

    /// Commits journal entries and run changes, atomically per call.
    async fn save(&self, updates: Vec<RunUpdate>) -> Result<(), StoreError>;

    /// A run by id.
    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;

    /// A run's journal, in the order the steps were recorded.
    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError>;

    /// Events by id (missing ids are skipped), in the order asked.
    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError>;

    /// Every run that has not ended: what a restarting engine must resume.
    async fn active_runs(&self) -> Result<Vec<RunRecord>, StoreError>;

    /// Events, newest first.
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Runs, newest first.
    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError>;

    /// Appends log lines that steps wrote (best effort: not part of the durability contract).
    async fn append_logs(&self, lines: Vec<LogLine>) -> Result<(), StoreError>;

    /// A run's log lines, in the order they were written.
    async fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError>;
}
