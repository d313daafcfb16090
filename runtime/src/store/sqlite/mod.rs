//! The embedded default store: one SQLite file in WAL mode, owned by one process.
//!
//! All writes go through one writer thread ([`writer`]) that commits whatever is waiting as
//! one transaction; callers encode their rows first ([`rows`]). Reads use separate
//! connections, which WAL lets run beside the writer. The work queue's claim state (leases),
//! the matcher index and the set of cancelled runs are kept in memory, which is right because
//! the process that opens the file locks it (`<file>-lock`, naming the holder): a second
//! process is refused with an error that names the file and the process holding it. Only the
//! runs due within a minute or so are in memory; later ones are loaded from the file's
//! `wake_at` index as they come near, so a million sleeping runs cost no memory.

mod rows;
mod schema;
mod search;
mod writer;

use std::collections::HashSet;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use tokio::sync::oneshot;

use super::matchers::MatcherIndex;
use super::queue::{LocalQueue, Reservation, Settle};
use super::types::{created_runs, effective_limit, EventDone};
use super::{
    Accepted, Accepts, Ack, Acked, Batch, Cancellation, Candidate, Checkpoint, ClaimFor, ClaimedRun, Debounced,
    EventQuery, HeldBack, Join, Lease, LogLine, Matcher, MatcherKind, Memo, NewEvent, Queries, RunLog, RunQuery,
    RunRecord, RunStatus, SkipRecord, StepKind, StepLogs, StepRecord, Store, StoreError, StoredEvent, WorkQueue,
};
use crate::model::{EventSource, Millis};
use crate::Payload;
use rows::{AckRows, BatchRows, CheckpointRows, Effects, StoredFlow, Write, Written, FLOW_COLUMNS};
use writer::{Job, Writer};

/// Read connections kept open.
const READERS: usize = 2;
/// Runs due within this much of now are kept in memory.
const HORIZON_MS: Millis = 60_000;

/// How hard SQLite makes each commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit; survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a crash of the process (`kill -9`), may lose the last
    /// commits on power loss.
    Normal,
}

/// The windows' runs (debounce windows and batches) a write reserved (see `SqliteStore::reserve_windows`), with the
/// guard that serializes such writes; `None` for a write that joins no window.
type Reserved<'a> = Option<(tokio::sync::MutexGuard<'a, ()>, Vec<(String, Reservation)>)>;

/// What an owning (writable) store has beside its readers.
struct Owner {
    writer: std_mpsc::Sender<Job>,
    indexer: std_mpsc::Sender<search::CatchUp>,
    queue: LocalQueue,
    matchers: Mutex<MatcherIndex>,
    cancels: Mutex<HashSet<String>>,
    /// Serializes loads of the runs that come within the horizon.
    loading: tokio::sync::Mutex<()>,
    /// Serializes the writes whose events may join windows (debounce windows, batches), from reserving the
    /// windows' runs to settling them (see `reserve_windows`).
    debouncing: tokio::sync::Mutex<()>,
    /// Keeps the file locked while the store is open.
    _lock: std::fs::File,
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    owner: Option<Owner>,
    readers: Arc<Vec<Mutex<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).field("read_only", &self.owner.is_none()).finish()
    }
}

/// The lock file beside a store's database.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

/// Takes the store's lock, or says who holds it.
fn lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let lock_file = lock_path(path);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_file)
        .map_err(|e| StoreError::Database(format!("cannot open the lock file {}: {e}", lock_file.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "another process".to_owned() } else { holder.to_owned() };
            return Err(StoreError::Locked(format!(
                "{} is in use by {holder}: one process owns a SQLite store (its runs' leases live in that \
                 process). Stop it, point this one at another file, or use the Postgres store to share work \
                 between processes",
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Database(format!("cannot lock {}: {e}", lock_file.display())));
        }
    }
    let program = std::env::args().next().unwrap_or_else(|| "?".into());
    let me = format!("process {} ({program})", std::process::id());
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(me.as_bytes());
    let _ = file.flush();
    Ok(file)
}

impl SqliteStore {
    /// Opens (or creates) the database file, with full durability, and locks it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        SqliteStore::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the database file with the given durability, and locks it: another
    /// process (or another `open` in this one) is refused until this store is dropped.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let lock = lock(&path)?;
        let writer_conn = schema::connect(&path, durability)?;
        schema::prepare(&writer_conn, &path)?;
        let indexer = search::spawn(schema::connect(&path, durability)?, &path)?;
        let readers = open_readers(&path, durability)?;
        let (matchers, cancels) = load_memory(&readers[0].lock())?;
        let writer = Writer::new(writer_conn, schema::connect(&path, durability)?)?;
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("hookflow-sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        // Nothing is in memory until the first claim loads what is due, but the flow control
        // that outlives a pass: throttle times, and the run-level slots of started runs.
        let queue = LocalQueue::with_horizon(Millis::MIN);
        load_flow(&readers[0].lock(), &queue)?;
        let owner = Owner {
            writer: tx,
            indexer,
            queue,
            matchers: Mutex::new(matchers),
            cancels: Mutex::new(cancels),
            loading: tokio::sync::Mutex::new(()),
            debouncing: tokio::sync::Mutex::new(()),
            _lock: lock,
        };
        Ok(SqliteStore { path, owner: Some(owner), readers: Arc::new(readers) })
    }

    /// Opens the file to read only, without locking it: to look at a store another process
    /// owns (its dev UI's data, a test's result). Writes answer [`StoreError::ReadOnly`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::Database(format!("{} does not exist", path.display())));
        }
        let readers = open_readers(&path, Durability::Normal)?;
        Ok(SqliteStore { path, owner: None, readers: Arc::new(readers) })
    }

    fn owner(&self) -> Result<&Owner, StoreError> {
        self.owner.as_ref().ok_or(StoreError::ReadOnly)
    }

    /// Brings the event search index up to date now. It otherwise follows commits shortly
    /// after them, in its own file (`<path>-search`) and thread, and searches scan what it has
    /// not reached yet.
    pub async fn catch_up_search_index(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.owner()?.indexer.send(tx).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.owner()?.writer.send((write, tx)).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let guard = readers.iter().find_map(|r| r.try_lock()).unwrap_or_else(|| readers[0].lock());
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }

    /// Applies a committed write's effects to memory; the runs `claim` asked for are leased to it
    /// if their flow control admits them at the time that comes with it.
    fn settle(&self, effects: Effects, claim: Option<(&ClaimFor, Millis)>) -> std::collections::HashMap<String, Lease> {
        let mut leases = std::collections::HashMap::new();
        let Some(owner) = &self.owner else { return leases };
        {
            let mut matchers = owner.matchers.lock();
            for (run, id) in &effects.matchers_removed {
                matchers.remove(run, id);
            }
            for matcher in effects.matchers_added {
                matchers.insert(matcher, None);
            }
            for run in &effects.ended {
                matchers.remove_run(run);
            }
        }
        {
            let mut cancels = owner.cancels.lock();
            cancels.extend(effects.cancelled);
            for run in &effects.ended {
                cancels.remove(run);
            }
        }
        for (run, function, due, flow) in effects.created {
            match claim {
                Some((claim, now)) => {
                    if let Some(lease) = owner.queue.insert_leased(&run, &function, due, flow, claim.ttl, now) {
                        leases.insert(run, lease);
                    }
                }
                None => owner.queue.enqueue(&run, &function, Some(due), flow),
            }
        }
        for woken in effects.woken {
            owner.queue.wake(&woken.run_id, &woken.function, woken.at, || woken.flow.item());
        }
        for (run, due, flow) in effects.rescheduled {
            owner.queue.unreserve(&run, due, flow);
        }
        leases
    }

    /// Reserves in the queue the runs of the open windows (debounce windows, batches) that these events' runs
    /// may join, so that no claim takes one while the write moves it; the write is told which
    /// it may move (`reserved`), and reports each one's due time for `settle`. Held for the
    /// write's duration, the guard keeps two writes from joining one window at once.
    async fn reserve_windows(&self, events: &[NewEvent]) -> Result<Reserved<'_>, StoreError> {
        let owner = self.owner()?;
        let buckets: Vec<(String, String)> = events
            .iter()
            .flat_map(|e| &e.runs)
            .filter_map(|r| r.gates.window.as_ref().map(|d| (d.bucket.clone(), r.run.function_id.clone())))
            .collect();
        if buckets.is_empty() {
            return Ok(None);
        }
        let guard = owner.debouncing.lock().await;
        let runs = self
            .read(move |c| {
                let mut stmt = c.prepare_cached("SELECT run_id FROM debounces WHERE bucket = ?1")?;
                let mut runs = Vec::new();
                for (bucket, function) in buckets {
                    if let Some(run) = stmt.query_row(params![bucket], |r| r.get::<_, String>(0)).optional()? {
                        runs.push((run, function));
                    }
                }
                Ok(runs)
            })
            .await?;
        let mut reserved: Vec<(String, Reservation)> = Vec::with_capacity(runs.len());
        for (run, function) in runs {
            if reserved.iter().any(|(r, _)| *r == run) {
                continue;
            }
            let reservation = owner.queue.reserve(&run, &function);
            if !matches!(reservation, Reservation::Busy) {
                reserved.push((run, reservation));
            }
        }
        Ok(Some((guard, reserved)))
    }

    /// Ends the reservations a failed write made.
    fn restore_windows(&self, reserved: Reserved<'_>) {
        let (Some(owner), Some((_guard, reserved))) = (&self.owner, reserved) else { return };
        for (run, reservation) in reserved {
            owner.queue.restore(&run, reservation);
        }
    }

    /// Keeps in memory the runs due before `now` plus the horizon, loading those the file has.
    async fn load_horizon(&self, now: Millis) -> Result<(), StoreError> {
        let owner = self.owner()?;
        if owner.queue.horizon() > now.saturating_add(HORIZON_MS / 2) {
            return Ok(());
        }
        let _loading = owner.loading.lock().await;
        let from = owner.queue.horizon();
        let to = now.saturating_add(HORIZON_MS);
        if from >= to {
            return Ok(());
        }
        // The horizon moves first: what is written from now on below it goes to memory, and
        // what the read below finds is added only if memory has not heard of the run since.
        owner.queue.extend_horizon(to);
        let due = self
            .read(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT id, function_id, wake_at, {FLOW_COLUMNS} FROM runs \
                     WHERE wake_at IS NOT NULL AND wake_at >= ?1 AND wake_at < ?2"
                ))?;
                let rows = stmt
                    .query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, StoredFlow::read(r, 3)?)))?;
                rows.collect::<Result<Vec<(String, String, Millis, StoredFlow)>, _>>().map_err(StoreError::from)
            })
            .await?;
        for (run, function, at, flow) in due {
            owner.queue.enqueue_if_absent(&run, &function, at, flow.item());
        }
        Ok(())
    }
}

fn open_readers(path: &Path, durability: Durability) -> Result<Vec<Mutex<Connection>>, StoreError> {
    (0..READERS)
        .map(|_| {
            let conn = schema::connect(path, durability)?;
            search::attach(&conn, path)?;
            Ok(Mutex::new(conn))
        })
        .collect()
}

/// Throttle times and the run-level concurrency slots held by started runs, read into the
/// queue at open.
fn load_flow(conn: &Connection, queue: &LocalQueue) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT key, value FROM flow_state WHERE key >= 'throttle:' AND key < 'throttle;'")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        queue.restore_throttle(&key, row.get(1)?);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT {FLOW_COLUMNS} FROM runs WHERE flow IS NOT NULL AND started_at IS NOT NULL AND ended_at IS NULL"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        queue.restore_run_slots(&StoredFlow::read(row, 0)?.item());
    }
    Ok(())
}

/// The matchers and the cancelled runs, read into memory at open.
fn load_memory(conn: &Connection) -> Result<(MatcherIndex, HashSet<String>), StoreError> {
    let mut index = MatcherIndex::default();
    let mut stmt = conn
        .prepare("SELECT run_id, id, kind, name, event, expr, join_on, trigger_event, since, deadline FROM matchers")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let kind: String = row.get(2)?;
        let join: Option<String> = row.get(6)?;
        let matcher = Matcher {
            run_id: row.get(0)?,
            id: row.get(1)?,
            kind: MatcherKind::parse(&kind)
                .ok_or_else(|| StoreError::Database(format!("unknown matcher kind `{kind}`")))?,
            name: row.get(3)?,
            event: row.get(4)?,
            expr: row.get(5)?,
            join: join.as_deref().map(serde_json::from_str::<Join>).transpose()?,
            trigger: row.get(7)?,
            since: row.get(8)?,
            deadline: row.get(9)?,
        };
        index.insert(matcher, None);
    }
    let cancels = conn
        .prepare("SELECT id FROM runs WHERE cancel IS NOT NULL AND status NOT IN ('Completed', 'Failed', 'Cancelled')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<HashSet<String>, _>>()?;
    Ok((index, cancels))
}

const EVENT_COLUMNS: &str = "id, name, data, ts, user, source, received_at, embeds";
const EVENT_COLUMNS_E: &str = "e.id, e.name, e.data, e.ts, e.user, e.source, e.received_at, e.embeds";
const RUN_COLUMNS: &str =
    "id, function_id, event_ids, status, attempt, created_at, started_at, ended_at, output, error, wake_at, state, parent, rerun_of, cancel, flow";

/// An event row, and the id of the event it embeds by reference (see [`NewEvent::embeds`]).
type EventRowRead = (StoredEvent, Option<String>);

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Result<EventRowRead, StoreError>> {
    let data: String = row.get(2)?;
    let user: Option<String> = row.get(4)?;
    let source: String = row.get(5)?;
    let (id, name, ts, received_at, embeds) = (row.get(0)?, row.get(1)?, row.get(3)?, row.get(6)?, row.get(7)?);
    Ok((|| {
        let event = StoredEvent {
            id,
            name,
            data: Payload::from_stored(data),
            ts,
            user: user.as_deref().map(serde_json::from_str).transpose()?,
            source: EventSource::parse(&source).unwrap_or(EventSource::Api),
            received_at,
        };
        Ok((event, embeds))
    })())
}

/// Puts each embedded event back under `data.event`, as Inngest's payload has it.
fn with_embedded(conn: &Connection, rows: Vec<EventRowRead>) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for (mut event, embeds) in rows {
        if let Some(id) = embeds {
            let mut stmt = conn.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
            let embedded = match stmt.query_row(params![id], event_from_row).optional()? {
                Some(row) => row?.0.into_raw().to_json(),
                None => serde_json::Value::Null,
            };
            if let serde_json::Value::Object(data) = &mut *event.data {
                data.insert("event".into(), embedded);
            }
        }
        out.push(event);
    }
    Ok(out)
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Result<RunRecord, StoreError>> {
    let event_ids: String = row.get(2)?;
    let status: String = row.get(3)?;
    let output: Option<String> = row.get(8)?;
    let error: Option<String> = row.get(9)?;
    let state: String = row.get(11)?;
    let parent: Option<String> = row.get(12)?;
    let rerun_of: Option<String> = row.get(13)?;
    let cancel: Option<String> = row.get(14)?;
    let flow: Option<String> = row.get(15)?;
    let (id, function_id, attempt, created_at, started_at, ended_at, wake_at) =
        (row.get(0)?, row.get(1)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?, row.get(10)?);
    Ok((|| {
        Ok(RunRecord {
            id,
            function_id,
            event_ids: serde_json::from_str(&event_ids)?,
            status: RunStatus::parse(&status)
                .ok_or_else(|| StoreError::Database(format!("unknown run status `{status}`")))?,
            attempt,
            created_at,
            started_at,
            ended_at,
            output: output.as_deref().map(serde_json::from_str).transpose()?,
            error: error.as_deref().map(serde_json::from_str).transpose()?,
            wake_at,
            state: serde_json::from_str(&state)?,
            parent: parent.as_deref().map(serde_json::from_str).transpose()?,
            rerun_of,
            cancellation: cancel.as_deref().map(serde_json::from_str).transpose()?,
            flow: flow.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default(),
        })
    })())
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<Result<T, StoreError>>>) -> Result<Vec<T>, StoreError> {
    rows.map(|r| r.map_err(StoreError::from).and_then(|x| x)).collect()
}

/// A WHERE clause with SQLite's numbered parameters.
type Filter = super::sql::Filter<rusqlite::types::Value>;

fn accepted(
    ids: impl Iterator<Item = String>,
    events: Vec<EventDone>,
    leases: &std::collections::HashMap<String, Lease>,
) -> Vec<Accepted> {
    ids.zip(events).map(|(event_id, done)| done.accepted(event_id, leases)).collect()
}

#[async_trait]
impl RunLog for SqliteStore {
    async fn accept(&self, batch: &Batch, claim: Option<&ClaimFor>) -> Result<Accepts, StoreError> {
        let mut rows = BatchRows::encode(batch)?;
        let reserved = self.reserve_windows(&batch.events).await?;
        rows.reserved = reserved.iter().flat_map(|(_, r)| r.iter().map(|(run, _)| run.clone())).collect();
        let written = match self.write(Write::Accept(rows)).await {
            Ok(written) => written,
            Err(e) => {
                self.restore_windows(reserved);
                return Err(e);
            }
        };
        let leases = self.settle(written.effects, claim.map(|c| (c, batch.at)));
        drop(reserved);
        Ok(Accepts {
            events: accepted(batch.events.iter().map(|e| e.event.id.clone()), written.events, &leases),
            runs: created_runs(written.runs, &leases),
        })
    }

    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| read_run(c, &id)).await
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let run_id = run_id.to_owned();
        self.read(move |c| read_journal(c, &run_id)).await
    }

    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |c| read_events(c, &ids)).await
    }

    /// The whole claim in one reader task (one thread hop, not three a run).
    async fn claimed_runs(&self, ids: &[String]) -> Result<Vec<Option<ClaimedRun>>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut claimed = Vec::with_capacity(ids.len());
            for id in &ids {
                let Some(run) = read_run(c, id)? else {
                    claimed.push(None);
                    continue;
                };
                let events = read_events(c, &run.event_ids)?;
                let journal = read_journal(c, id)?;
                claimed.push(Some(ClaimedRun { run, events, journal }));
            }
            Ok(claimed)
        })
        .await
    }
}

fn read_run(c: &Connection, id: &str) -> Result<Option<RunRecord>, StoreError> {
    let mut stmt = c.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?;
    stmt.query_row(params![id], run_from_row).optional()?.transpose()
}

fn read_journal(c: &Connection, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT run_id, hash, name, kind, memo, attempts, started_at, ended_at, detail FROM steps \
         WHERE run_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![run_id], |row| {
        let kind: String = row.get(3)?;
        let memo: String = row.get(4)?;
        let detail: Option<String> = row.get(8)?;
        let (run_id, hash, name, attempts, started_at, ended_at) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(5)?, row.get(6)?, row.get(7)?);
        Ok((|| {
            Ok(StepRecord {
                run_id,
                hash,
                name,
                kind: StepKind::parse(&kind)
                    .ok_or_else(|| StoreError::Database(format!("unknown step kind `{kind}`")))?,
                memo: serde_json::from_str::<Memo>(&memo)?,
                attempts,
                started_at,
                ended_at,
                detail: detail.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default(),
            })
        })())
    })?;
    collect(rows)
}

fn read_events(c: &Connection, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = c.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = stmt.query_row(params![id], event_from_row).optional()? {
            rows.push(row?);
        }
    }
    with_embedded(c, rows)
}

#[async_trait]
impl WorkQueue for SqliteStore {
    async fn claim(&self, claim: &ClaimFor, now: Millis, max: usize) -> Result<Vec<Lease>, StoreError> {
        self.load_horizon(now).await?;
        Ok(self.owner()?.queue.claim(claim, now, max))
    }

    async fn renew(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<bool>, StoreError> {
        Ok(self.owner()?.queue.renew(leases, ttl))
    }

    async fn checkpoint(&self, lease: &Lease, checkpoint: Checkpoint) -> Result<bool, StoreError> {
        let owner = self.owner()?;
        let mut rows = CheckpointRows::encode(&lease.run_id, &checkpoint)?;
        if !owner.queue.begin_commit(lease) {
            return Ok(false);
        }
        rows.flow_state = owner.queue.take_dirty_throttles();
        let flow_state = rows.flow_state.clone();
        match self.write(Write::Checkpoint(rows)).await {
            Ok(written) => {
                owner.queue.end_commit(lease, Settle::Keep);
                self.settle(written.effects, None);
                Ok(true)
            }
            Err(e) => {
                owner.queue.return_dirty_throttles(flow_state);
                owner.queue.end_commit(lease, Settle::Failed);
                Err(e)
            }
        }
    }

    async fn ack(&self, lease: &Lease, ack: Ack, claim: Option<&ClaimFor>) -> Result<Acked, StoreError> {
        let owner = self.owner()?;
        let mut rows = AckRows::encode(&ack)?;
        let event_ids: Vec<String> = ack.events.iter().map(|e| e.event.id.clone()).collect();
        let at = ack.at;
        if !owner.queue.begin_commit(lease) {
            return Ok(Acked::Stale);
        }
        let reserved = match self.reserve_windows(&ack.events).await {
            Ok(reserved) => reserved,
            Err(e) => {
                owner.queue.end_commit(lease, Settle::Failed);
                return Err(e);
            }
        };
        rows.reserved = reserved.iter().flat_map(|(_, r)| r.iter().map(|(run, _)| run.clone())).collect();
        drop(ack);
        rows.flow_state = owner.queue.take_dirty_throttles();
        let flow_state = rows.flow_state.clone();
        let flow = rows.run.queue_flow.clone();
        match self.write(Write::Ack(Box::new(rows))).await {
            Ok(written) => {
                owner.queue.end_commit(lease, Settle::Release(written.due, Some(flow)));
                let due = written.due;
                let leases = self.settle(written.effects, claim.map(|c| (c, at)));
                drop(reserved);
                Ok(Acked::Committed { due, events: accepted(event_ids.into_iter(), written.events, &leases) })
            }
            Err(e) => {
                self.restore_windows(reserved);
                owner.queue.return_dirty_throttles(flow_state);
                owner.queue.end_commit(lease, Settle::Failed);
                Err(e)
            }
        }
    }

    async fn release(&self, lease: &Lease, due: Millis) -> Result<(), StoreError> {
        let owner = self.owner()?;
        if !owner.queue.begin_commit(lease) {
            return Ok(());
        }
        match self.write(Write::Release { run_id: lease.run_id.clone(), due }).await {
            Ok(_) => {
                owner.queue.end_commit(lease, Settle::Release(Some(due), None));
                Ok(())
            }
            Err(e) => {
                owner.queue.end_commit(lease, Settle::Failed);
                Err(e)
            }
        }
    }

    async fn request_cancel(&self, run_id: &str, cancellation: Cancellation) -> Result<bool, StoreError> {
        let at = cancellation.at;
        let cancellation = serde_json::to_string(&cancellation)?;
        let written = self.write(Write::Cancel { run_id: run_id.to_owned(), cancellation, at }).await?;
        let applied = written.applied;
        self.settle(written.effects, None);
        Ok(applied)
    }

    fn held_back(&self, run_id: &str) -> Option<HeldBack> {
        self.owner.as_ref().and_then(|o| o.queue.held_back(run_id))
    }

    fn cancel_requested(&self, run_id: &str) -> bool {
        self.owner.as_ref().is_some_and(|o| o.cancels.lock().contains(run_id))
    }

    async fn next_due(&self, functions: &[String]) -> Result<Option<Millis>, StoreError> {
        let Some(owner) = &self.owner else { return Ok(None) };
        let next = owner.queue.next_due(functions);
        // Before the horizon is reached, a claim must load what comes after it.
        let reload = owner.queue.horizon().saturating_sub(HORIZON_MS / 2);
        Ok(Some(next.map_or(reload, |n| n.min(reload))))
    }

    fn work_signal(&self) -> Arc<tokio::sync::Notify> {
        match &self.owner {
            Some(owner) => owner.queue.signal(),
            None => Arc::new(tokio::sync::Notify::new()),
        }
    }

    async fn matchers(&self, name: &str, incoming: &Value, now: Millis) -> Result<Vec<Candidate>, StoreError> {
        let mut candidates = self.owner()?.matchers.lock().candidates(name, incoming, now);
        // Conditions that need the run's trigger: read it (the cache keeps matchers only).
        let wanted: Vec<String> = candidates
            .iter()
            .filter(|c| MatcherIndex::needs_trigger(&c.matcher))
            .filter_map(|c| c.matcher.trigger.clone())
            .collect();
        if !wanted.is_empty() {
            let triggers: std::collections::HashMap<String, Arc<Value>> = self
                .events(&wanted)
                .await?
                .into_iter()
                .map(|e| (e.id.clone(), Arc::new(e.into_raw().to_json())))
                .collect();
            for candidate in &mut candidates {
                if MatcherIndex::needs_trigger(&candidate.matcher) {
                    candidate.trigger = Some(
                        candidate.matcher.trigger.as_ref().and_then(|t| triggers.get(t).cloned()).unwrap_or_default(),
                    );
                }
            }
        }
        Ok(candidates)
    }

    fn observes(&self, name: &str) -> bool {
        self.owner.as_ref().is_some_and(|o| o.matchers.lock().observes(name))
    }

    async fn legacy_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT run_id FROM legacy_cancel_on) ORDER BY id"
            ))?;
            let rows = stmt.query_map([], run_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn rearm(&self, run_id: &str, matchers: Vec<Matcher>) -> Result<(), StoreError> {
        let written = self.write(Write::Rearm { run_id: run_id.to_owned(), matchers }).await?;
        self.settle(written.effects, None);
        Ok(())
    }
}

#[async_trait]
impl Queries for SqliteStore {
    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let query = query.clone();
        self.read(move |c| {
            let limit = effective_limit(query.limit);
            let base = || {
                let mut filter = Filter::new("?");
                if let Some(before) = &query.before {
                    filter.add("e.seq < (SELECT seq FROM events WHERE id = ?)", before.clone());
                }
                super::sql::event_conditions(&query, &mut filter);
                filter
            };
            let run =
                |filter: &Filter, from: &str, order: &str, limit: usize| -> Result<Vec<StoredEvent>, StoreError> {
                    let sql = format!(
                        "SELECT {EVENT_COLUMNS_E} FROM {from} {} ORDER BY {order} DESC LIMIT {limit}",
                        filter.sql()
                    );
                    let mut stmt = c.prepare_cached(&sql)?;
                    let rows = stmt.query_map(rusqlite::params_from_iter(filter.params.iter()), event_from_row)?;
                    with_embedded(c, collect(rows)?)
                };
            let Some(search) = &query.search else {
                return run(&base(), "events e", "e.seq", limit);
            };
            let pattern = super::sql::like_pattern(search);
            let like = |filter: &mut Filter| {
                filter.add("(lower(e.name) LIKE ? ESCAPE '\\' OR lower(e.data) LIKE ? ESCAPE '\\')", pattern.clone());
            };
            let Some(fts) = search::fts_query(c, search)? else {
                let mut filter = base();
                like(&mut filter);
                return run(&filter, "events e", "e.seq", limit);
            };
            // Events not yet in the index are scanned; the rest come from the index.
            let indexed: i64 =
                c.query_row("SELECT value FROM search.meta WHERE key = 'fts_indexed_seq'", [], |r| r.get(0))?;
            let mut tail = base();
            tail.add("e.seq > ?", indexed);
            like(&mut tail);
            let mut found = run(&tail, "events e", "e.seq", limit)?;
            if found.len() < limit {
                let mut older = base();
                older.add("e.seq <= ?", indexed);
                older.add("f.events_fts MATCH ?", fts);
                like(&mut older);
                let from = "search.events_fts f JOIN events e ON e.seq = f.rowid";
                found.extend(run(&older, from, "f.rowid", limit - found.len())?);
            }
            Ok(found)
        })
        .await
    }

    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>, StoreError> {
        let query = query.clone();
        self.read(move |c| {
            let mut filter = Filter::new("?");
            super::sql::run_conditions(&query, &mut filter);
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs {} ORDER BY id DESC LIMIT {}",
                filter.sql(),
                effective_limit(query.limit)
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(filter.params.iter()), run_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn runs_cancelled_by(&self, event_id: &str, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let (event_id, limit) = (event_id.to_owned(), effective_limit(limit));
        self.read(move |c| {
            // The expression and the `cancel IS NOT NULL` are those of the `runs_cancelled_by` index.
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE cancel IS NOT NULL \
                 AND json_extract(cancel, '$.by.event_id') = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![event_id, limit], run_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn skips_of_event(&self, event_id: &str) -> Result<Vec<SkipRecord>, StoreError> {
        let event_id = event_id.to_owned();
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {SKIP_COLUMNS} FROM skips WHERE event_id = ?1 ORDER BY seq"))?;
            let rows = stmt.query_map(params![event_id], skip_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn debounces_of_event(&self, event_id: &str) -> Result<Vec<Debounced>, StoreError> {
        let event_id = event_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT event_id, function_id, run_id, key, at FROM debounced WHERE event_id = ?1 ORDER BY at, function_id",
            )?;
            let rows = stmt.query_map(params![event_id], rows::debounced_from_row)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(StoreError::from)
        })
        .await
    }

    async fn skips_of_function(&self, function_id: &str, limit: usize) -> Result<Vec<SkipRecord>, StoreError> {
        let (function_id, limit) = (function_id.to_owned(), effective_limit(limit));
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {SKIP_COLUMNS} FROM skips WHERE function_id = ?1 ORDER BY seq DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![function_id, limit], skip_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn skip_counts(&self) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT key, value FROM flow_state WHERE key >= 'skips:' AND key < 'skips;'")?;
            let rows = stmt.query_map([], |r| {
                let (key, count): (String, i64) = (r.get(0)?, r.get(1)?);
                Ok((key.trim_start_matches("skips:").to_owned(), u64::try_from(count).unwrap_or(0)))
            })?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
        .await
    }
}

const SKIP_COLUMNS: &str = "function_id, event_id, reason, at";

fn skip_from_row(row: &Row<'_>) -> rusqlite::Result<Result<SkipRecord, StoreError>> {
    let reason: String = row.get(2)?;
    let (function_id, event_id, at) = (row.get(0)?, row.get(1)?, row.get(3)?);
    Ok(serde_json::from_str(&reason).map(|reason| SkipRecord { function_id, event_id, reason, at }).map_err(Into::into))
}

#[async_trait]
impl StepLogs for SqliteStore {
    async fn append_logs(&self, lines: Vec<LogLine>) -> Result<(), StoreError> {
        self.write(Write::Logs(lines)).await.map(drop)
    }

    async fn logs(&self, run_id: &str) -> Result<Vec<LogLine>, StoreError> {
        let run_id = run_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT run_id, step, attempt, ts, level, message FROM step_logs WHERE run_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![run_id], |r| {
                Ok(Ok(LogLine {
                    run_id: r.get(0)?,
                    step: r.get(1)?,
                    attempt: r.get(2)?,
                    ts: r.get(3)?,
                    level: r.get(4)?,
                    message: r.get(5)?,
                }))
            })?;
            collect(rows)
        })
        .await
    }
}

impl Store for SqliteStore {
    fn queries(&self) -> Option<&dyn Queries> {
        Some(self)
    }

    fn step_logs(&self) -> Option<&dyn StepLogs> {
        Some(self)
    }
}
