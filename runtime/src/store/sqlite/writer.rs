//! The writer thread: every write goes through it, and it groups whatever is waiting into one
//! transaction (group commit), so thousands of concurrent steps share one fsync.
//!
//! A group first runs as one plain transaction. Should any write in it fail (a constraint, a
//! full disk), the group is rolled back and replayed with one savepoint per write, so a bad
//! write fails alone; the happy path pays for no savepoint.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::rows::{Write, Written};
use crate::store::StoreError;

/// How many queued writes one transaction takes at most.
const MAX_GROUP: usize = 1024;
/// How often a busy writer asks the checkpoint thread to copy the log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL frames (about 32 MiB) past which the writer checkpoints too. The checkpoint thread
/// copies the log beside the writer, which keeps appending meanwhile, so its copy never
/// catches up and the log would never start over; the writer's own (passive) checkpoint
/// copies the little that is left while nothing is appended, and the log restarts.
const WRITER_CHECKPOINT_FRAMES: i64 = 4_000;

pub(super) type Job = (Write, oneshot::Sender<Result<Written, StoreError>>);

pub(super) struct Writer {
    conn: Connection,
    checkpoints: std_mpsc::SyncSender<()>,
    /// When the checkpoint thread was last asked to run.
    checkpointed_at: Instant,
}

impl Writer {
    /// Takes the writer connection. A second connection copies the log into the database on
    /// its own thread, off the commit path; the writer's auto-checkpoint is only the backstop
    /// that lets the log start over.
    pub(super) fn new(conn: Connection, checkpointer: Connection) -> Result<Writer, StoreError> {
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_FRAMES};"))?;
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
        Ok(Writer { conn, checkpoints: tx, checkpointed_at: Instant::now() })
    }

    pub(super) fn run(mut self, rx: std_mpsc::Receiver<Job>) {
        self.checkpoint();
        while let Ok(first) = rx.recv() {
            let mut writes = vec![first];
            while writes.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => writes.push(job),
                    Err(_) => break,
                }
            }
            self.group(writes);
        }
        self.checkpoint();
    }

    fn group(&mut self, writes: Vec<Job>) {
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

    /// One transaction for every write. Without savepoints, the first failing write aborts the
    /// attempt (`OneFailed`); with them, each write's result is its own.
    fn commit(&mut self, writes: &[Job], savepoints: bool) -> Result<Vec<Result<Written, StoreError>>, CommitError> {
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

    fn checkpoint(&mut self) {
        self.checkpointed_at = Instant::now();
        // A full channel means a checkpoint is already pending: nothing to add.
        let _ = self.checkpoints.try_send(());
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
