//! The embedded default store: one SQLite file in WAL mode.
//!
//! All writes go through one writer thread ([`writer`]) that commits whatever is waiting as
//! one transaction; callers encode their rows first ([`rows`]). Reads use separate
//! connections, which WAL lets run beside the writer.

mod rows;
mod search;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, Row};
use tokio::sync::oneshot;

use super::types::effective_limit;
use super::{
    Accepted, EventQuery, LogLine, Memo, NewEvent, RunQuery, RunRecord, RunStatus, RunUpdate, StepKind, StepRecord,
    Store, StoreError, StoredEvent,
};
use crate::webhook::EventSource;
use crate::Payload;
use rows::{EventRow, UpdateRow, Write, Written};
use writer::{Job, Writer};

/// Read connections kept open.
const READERS: usize = 2;

/// `seq` columns are plain rowids: nothing is ever deleted, so they only grow, and SQLite does
/// not have to keep `AUTOINCREMENT`'s counter table up to date on every insert.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    ts INTEGER NOT NULL,
    user TEXT,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    embeds TEXT
);
CREATE INDEX IF NOT EXISTS events_by_name ON events(name, seq);
CREATE INDEX IF NOT EXISTS events_by_received ON events(received_at);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    function_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_ids TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    output TEXT,
    error TEXT,
    wake_at INTEGER,
    state TEXT NOT NULL,
    parent TEXT,
    rerun_of TEXT,
    dedupe_key TEXT NOT NULL,
    UNIQUE (dedupe_key, function_id)
);
CREATE INDEX IF NOT EXISTS runs_by_event ON runs(event_id);
CREATE INDEX IF NOT EXISTS runs_active ON runs(status) WHERE status NOT IN ('Completed', 'Failed', 'Cancelled');
CREATE INDEX IF NOT EXISTS runs_by_function ON runs(function_id, id);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS steps (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    memo TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    UNIQUE (run_id, hash)
);
CREATE TABLE IF NOT EXISTS step_logs (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS step_logs_by_run ON step_logs(run_id, seq);
"#;

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

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: std_mpsc::Sender<Job>,
    indexer: std_mpsc::Sender<search::CatchUp>,
    readers: Arc<Vec<Mutex<Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database file, with full durability.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        SqliteStore::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the database file with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let writer_conn = connect(&path, durability)?;
        writer_conn.execute_batch(SCHEMA)?;
        migrate(&writer_conn)?;
        let indexer = search::spawn(connect(&path, durability)?, &path)?;
        let reader = || {
            let conn = connect(&path, durability)?;
            search::attach(&conn, &path)?;
            Ok::<_, StoreError>(Mutex::new(conn))
        };
        let readers = (0..READERS).map(|_| reader()).collect::<Result<Vec<_>, _>>()?;
        let writer = Writer::new(writer_conn, connect(&path, durability)?)?;
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("hookflow-sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore { path, writer: tx, indexer, readers: Arc::new(readers) })
    }

    /// Brings the event search index up to date now. It otherwise follows commits shortly
    /// after them, in its own file (`<path>-search`) and thread, and searches scan what it has
    /// not reached yet.
    pub async fn catch_up_search_index(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.indexer.send(tx).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.writer.send((write, tx)).map_err(|_| StoreError::Closed)?;
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
}

/// Brings a database made by an earlier version up to the current schema.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let has_embeds: bool =
        conn.query_row("SELECT count(*) > 0 FROM pragma_table_info('events') WHERE name = 'embeds'", [], |r| r.get(0))?;
    if !has_embeds {
        conn.execute_batch("ALTER TABLE events ADD COLUMN embeds TEXT;")?;
    }
    // The search index used to live in the store's file; it has its own now.
    conn.execute_batch("DROP TABLE IF EXISTS events_fts; DROP TABLE IF EXISTS meta;")?;
    Ok(())
}

fn connect(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    // 8 KiB pages (for new files only) hold three typical Clerk events (2-3 KiB of JSON each)
    // where 4 KiB pages hold one: fewer pages written per commit.
    conn.execute_batch(&format!(
        "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF;"
    ))?;
    Ok(conn)
}

const EVENT_COLUMNS: &str = "id, name, data, ts, user, source, received_at, embeds";
const EVENT_COLUMNS_E: &str = "e.id, e.name, e.data, e.ts, e.user, e.source, e.received_at, e.embeds";
const RUN_COLUMNS: &str =
    "id, function_id, event_ids, status, attempt, created_at, started_at, ended_at, output, error, wake_at, state, parent, rerun_of";

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
        })
    })())
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<Result<T, StoreError>>>) -> Result<Vec<T>, StoreError> {
    rows.map(|r| r.map_err(StoreError::from).and_then(|x| x)).collect()
}

/// Builds a WHERE clause from optional conditions.
#[derive(Default)]
struct Filter {
    clauses: Vec<String>,
    params: Vec<rusqlite::types::Value>,
}

impl Filter {
    fn add(&mut self, clause: &str, value: impl Into<rusqlite::types::Value>) {
        self.params.push(value.into());
        self.clauses.push(clause.replace('?', &format!("?{}", self.params.len())));
    }

    fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl Store for SqliteStore {
    async fn accept(&self, events: &[NewEvent]) -> Result<Vec<Accepted>, StoreError> {
        let rows = events.iter().map(EventRow::encode).collect::<Result<_, _>>()?;
        match self.write(Write::Accept(rows)).await? {
            Written::Accepted(accepted) => Ok(accepted),
            Written::Saved => Err(StoreError::Database("the writer answered an accept with a save".into())),
        }
    }

    async fn save(&self, updates: Vec<RunUpdate>) -> Result<(), StoreError> {
        let rows = updates.iter().map(UpdateRow::encode).collect::<Result<_, _>>()?;
        drop(updates);
        self.write(Write::Save(rows)).await.map(drop)
    }

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

    async fn run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?;
            stmt.query_row(params![id], run_from_row).optional()?.transpose()
        })
        .await
    }

    async fn journal(&self, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
        let run_id = run_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT run_id, hash, name, kind, memo, attempts, started_at, ended_at FROM steps \
                 WHERE run_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![run_id], |row| {
                let kind: String = row.get(3)?;
                let memo: String = row.get(4)?;
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
                    })
                })())
            })?;
            collect(rows)
        })
        .await
    }

    async fn events(&self, ids: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(row) = stmt.query_row(params![id], event_from_row).optional()? {
                    rows.push(row?);
                }
            }
            with_embedded(c, rows)
        })
        .await
    }

    async fn active_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status NOT IN ('Completed', 'Failed', 'Cancelled') ORDER BY id"
            ))?;
            let rows = stmt.query_map([], run_from_row)?;
            collect(rows)
        })
        .await
    }

    async fn list_events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let query = query.clone();
        self.read(move |c| {
            let limit = effective_limit(query.limit);
            let base = || {
                let mut filter = Filter::default();
                if let Some(before) = &query.before {
                    filter.add("e.seq < (SELECT seq FROM events WHERE id = ?)", before.clone());
                }
                if let Some(name) = &query.name {
                    filter.add("e.name = ?", name.clone());
                }
                if !query.include_internal {
                    filter.raw("e.name NOT LIKE 'inngest/%'");
                }
                if let Some(since) = query.since {
                    filter.add("e.received_at >= ?", since);
                }
                if let Some(until) = query.until {
                    filter.add("e.received_at < ?", until);
                }
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
            let pattern = like_pattern(search);
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
            let mut filter = Filter::default();
            if let Some(before) = &query.before {
                filter.add("id < ?", before.clone());
            }
            if let Some(function_id) = &query.function_id {
                filter.add("function_id = ?", function_id.clone());
            }
            if !query.statuses.is_empty() {
                let list: Vec<String> = query.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
                filter.raw(&format!("status IN ({})", list.join(", ")));
            }
            if let Some(event_id) = &query.event_id {
                // The first triggering event, through its index (batches are listed under their first event).
                filter.add("event_id = ?", event_id.clone());
            }
            if let Some(since) = query.since {
                filter.add("created_at >= ?", since);
            }
            if let Some(until) = query.until {
                filter.add("created_at < ?", until);
            }
            if let Some(search) = &query.search {
                filter.add(
                    "lower(function_id || ' ' || coalesce(output, '') || ' ' || coalesce(error, '')) LIKE ? ESCAPE '\\'",
                    like_pattern(search),
                );
            }
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
}
