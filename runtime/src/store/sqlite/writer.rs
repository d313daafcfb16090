//! The writer thread: every write goes through it, and it groups whatever is waiting into one
//! transaction (group commit), so thousands of concurrent steps share one fsync.
//!
//! A group first runs as one plain transaction. Should any write in it fail (a constraint, a
//! full disk), the group is rolled back and replayed with one savepoint per write, so a bad
//! write fails alone; the happy path pays for no savepoint.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use super::rows::{Write, Written};
use crate::store::StoreError;

/// How many queued writes one transaction takes at most.
const MAX_GROUP: usize = 1024;
/// Events indexed for search per batch when the writer has nothing else to do.
const INDEX_BATCH: i64 = 5_000;
/// How far the search index may fall behind while the writer is busy; past it the writer
/// indexes between groups anyway, so a search never scans more than this many new events.
const INDEX_MAX_LAG: i64 = 20_000;
/// How long the writer waits for work before it treats itself as idle.
const IDLE: Duration = Duration::from_millis(20);
/// How often a busy writer asks the checkpoint thread to copy the log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

pub(super) enum Job {
    Write(Write, oneshot::Sender<Result<Written, StoreError>>),
    /// Bring the search index up to date, then answer.
    IndexAll(oneshot::Sender<Result<(), StoreError>>),
}

pub(super) struct Writer {
    conn: Connection,
    checkpoints: std_mpsc::SyncSender<()>,
    /// When the checkpoint thread was last asked to run.
    checkpointed_at: Instant,
    /// The highest event `seq` known to be committed, and the highest indexed for search.
    last_seq: i64,
    indexed_seq: i64,
}

impl Writer {
    /// Takes the writer connection (auto-checkpoints off: a second connection checkpoints on
    /// its own thread, off the commit path).
    pub(super) fn new(conn: Connection, checkpointer: Connection) -> Result<Writer, StoreError> {
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
        let indexed_seq = conn.query_row("SELECT value FROM meta WHERE key = 'fts_indexed_seq'", [], |r| r.get(0))?;
        let last_seq = conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
        let (tx, rx) = std_mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("hookflow-sqlite-checkpoint".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(e) = checkpointer.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Writer { conn, checkpoints: tx, checkpointed_at: Instant::now(), last_seq, indexed_seq })
    }

    pub(super) fn run(mut self, rx: std_mpsc::Receiver<Job>) {
        self.checkpoint();
        loop {
            let first = match rx.recv_timeout(IDLE) {
                Ok(job) => job,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    if self.indexed_seq < self.last_seq {
                        let _ = self.index(INDEX_BATCH);
                    }
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    self.checkpoint();
                    return;
                }
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.group(jobs);
            if self.lag() > INDEX_MAX_LAG {
                let _ = self.index(INDEX_BATCH);
            }
        }
    }

    fn group(&mut self, jobs: Vec<Job>) {
        let mut writes = Vec::with_capacity(jobs.len());
        let mut index_all = Vec::new();
        for job in jobs {
            match job {
                Job::Write(write, reply) => writes.push((write, reply)),
                Job::IndexAll(reply) => index_all.push(reply),
            }
        }
        if !writes.is_empty() {
            let results = match self.commit(&writes, false) {
                Ok(results) => Ok(results),
                Err(CommitError::OneFailed) => self.commit(&writes, true).map_err(CommitError::message),
                Err(e) => Err(e.message()),
            };
            match results {
                Ok(results) => {
                    for ((_, reply), result) in writes.into_iter().zip(results) {
                        drop(reply.send(result));
                    }
                }
                Err(message) => {
                    for (_, reply) in writes {
                        drop(reply.send(Err(StoreError::Database(message.clone()))));
                    }
                }
            }
        }
        for reply in index_all {
            let result = loop {
                match self.index(INDEX_BATCH) {
                    Ok(0) => break Ok(()),
                    Ok(_) => {}
                    Err(e) => break Err(e),
                }
            };
            drop(reply.send(result));
        }
    }

    /// One transaction for every write. Without savepoints, the first failing write aborts the
    /// attempt (`OneFailed`); with them, each write's result is its own.
    fn commit(
        &mut self,
        writes: &[(Write, oneshot::Sender<Result<Written, StoreError>>)],
        savepoints: bool,
    ) -> Result<Vec<Result<Written, StoreError>>, CommitError> {
        let tx = self.conn.transaction().map_err(CommitError::Database)?;
        let mut results = Vec::with_capacity(writes.len());
        for (write, _) in writes {
            if !savepoints {
                match write.apply(&tx) {
                    Ok(written) => results.push(Ok(written)),
                    Err(_) => return Err(CommitError::OneFailed),
                }
                continue;
            }
            tx.execute_batch("SAVEPOINT job").map_err(CommitError::Database)?;
            let result = write.apply(&tx);
            let end = if result.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            tx.execute_batch(end).map_err(CommitError::Database)?;
            results.push(result);
        }
        tx.commit().map_err(CommitError::Database)?;
        if self.checkpointed_at.elapsed() >= CHECKPOINT_EVERY {
            self.checkpoint();
        }
        Ok(results)
    }

    /// How many committed events the search index has not reached (`max(seq)` is a b-tree edge lookup).
    fn lag(&mut self) -> i64 {
        match self.conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get::<_, i64>(0)) {
            Ok(seq) => {
                self.last_seq = seq;
                seq - self.indexed_seq
            }
            Err(_) => 0,
        }
    }

    fn checkpoint(&mut self) {
        self.checkpointed_at = Instant::now();
        // A full channel means a checkpoint is already pending: nothing to add.
        let _ = self.checkpoints.try_send(());
    }

    /// Adds up to `batch` not yet indexed events to the full-text index. Search is not part of
    /// the durability contract, so this runs after the commits it follows, in its own
    /// transaction. Internal `inngest/*` events (hidden by default) are left out: searching them
    /// scans only the part of the log the index has not reached.
    fn index(&mut self, batch: i64) -> Result<usize, StoreError> {
        let result = index_events(&mut self.conn, self.indexed_seq, batch);
        match &result {
            Ok((_, Some(last))) => self.indexed_seq = *last,
            Ok((_, None)) => self.last_seq = self.indexed_seq,
            Err(e) => tracing::warn!(error = %e, "could not update the event search index"),
        }
        result.map(|(n, _)| n)
    }
}

enum CommitError {
    OneFailed,
    Database(rusqlite::Error),
}

impl CommitError {
    fn message(self) -> String {
        match self {
            CommitError::OneFailed => "a write failed".into(),
            CommitError::Database(e) => e.to_string(),
        }
    }
}

/// Indexes the events after `done`, at most `batch`; returns how many and the last seq covered.
fn index_events(conn: &mut Connection, done: i64, batch: i64) -> Result<(usize, Option<i64>), StoreError> {
    let last: Option<i64> = conn.query_row(
        "SELECT max(seq) FROM (SELECT seq FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
        params![done, batch],
        |r| r.get(0),
    )?;
    let Some(last) = last else { return Ok((0, None)) };
    let tx = conn.transaction()?;
    let n = tx.execute(
        "INSERT INTO events_fts (rowid, name, data) SELECT seq, name, data FROM events \
         WHERE seq > ?1 AND seq <= ?2 AND name NOT LIKE 'inngest/%'",
        params![done, last],
    )?;
    tx.execute("UPDATE meta SET value = ?1 WHERE key = 'fts_indexed_seq'", params![last])?;
    tx.commit()?;
    Ok((n, Some(last)))
}
