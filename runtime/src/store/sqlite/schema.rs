//! The SQLite store's schema, its versions, and the migration of files written by earlier
//! versions.
//!
//! Version 3 (this one) adds flow control and the timeline's details, all additive: each
//! run's `flow` (its concurrency and throttle buckets, priority and deadlines) and the
//! throttles' state (`flow_state`); a step's `detail` (its failed attempts, what a wait waited
//! for and what resumed it, the run a rerun copied it from; `NULL` for the steps of older
//! files, which read as an empty detail); and an index of the runs each event cancelled. A
//! version-1 or version-2 file gains all of it in one migration. Version 2 made the store a
//! work queue: a run's `wake_at` is when it is due (set at creation, and by every pass),
//! `cancel` holds a cancellation asked for, and `matchers` holds the waits and `cancel_on`
//! conditions that incoming events are matched against. A version-1 file (no `user_version`)
//! is migrated in place: its unfinished runs become due at their timers (or now), and the
//! waits of its suspended runs become matchers; the `cancel_on`
//! conditions of its unfinished runs are re-armed by the first engine that opens it (they are
//! listed in `legacy_cancel_on` until then).

use std::path::Path;

use rusqlite::{params, Connection};

use super::Durability;
use crate::model::{PendingOp, RunState};
use crate::store::StoreError;

/// The schema version this build writes.
pub(super) const VERSION: i64 = 3;

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
    cancel TEXT,
    flow TEXT,
    UNIQUE (dedupe_key, function_id)
);
CREATE INDEX IF NOT EXISTS runs_by_event ON runs(event_id);
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
    detail TEXT,
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

/// What version 2 adds; applied to new files and to migrated ones.
const QUEUE: &str = r#"
CREATE INDEX IF NOT EXISTS runs_due ON runs(wake_at) WHERE wake_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS matchers (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    event TEXT NOT NULL,
    expr TEXT,
    join_on TEXT,
    trigger_event TEXT,
    since INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS legacy_cancel_on (run_id TEXT PRIMARY KEY) WITHOUT ROWID;
DROP INDEX IF EXISTS runs_active;
"#;

/// What version 3 adds besides `runs.flow` and `steps.detail`: throttle and rate-limit state
/// (each bucket's GCRA theoretical arrival time in microseconds, keyed `throttle:<bucket>` and
/// `rate:<bucket>`, the latter indexed by time so that spent ones are deleted as new ones come),
/// each function's count of skipped runs (`skips:<function>`), the skipped runs themselves
/// (`skips`), the singleton locks (`flow_locks`: the run holding each), an index of the
/// started, unended runs whose run-level concurrency slots are counted again at open, and the
/// runs an event cancelled, found by the event's id inside the cancellation
/// (`Queries::runs_cancelled_by`); the open windows, debounce windows and batches (`debounces`:
/// each bucket's, with its run, as `store::window::Window` JSON; a window goes when its run
/// ends, a batch also when it is full) and the events taken into windows (`debounced`).
const V3: &str = r#"
CREATE TABLE IF NOT EXISTS flow_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS flow_state_rates ON flow_state(value) WHERE key >= 'rate:' AND key < 'rate;';
CREATE TABLE IF NOT EXISTS flow_locks (lock TEXT PRIMARY KEY, run_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skips (
    seq INTEGER PRIMARY KEY,
    function_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS skips_by_event ON skips(event_id);
CREATE INDEX IF NOT EXISTS skips_by_function ON skips(function_id, seq);
CREATE INDEX IF NOT EXISTS runs_flow_started ON runs(id)
    WHERE flow IS NOT NULL AND started_at IS NOT NULL AND ended_at IS NULL;
CREATE INDEX IF NOT EXISTS runs_cancelled_by ON runs(json_extract(cancel, '$.by.event_id'))
    WHERE cancel IS NOT NULL;
CREATE TABLE IF NOT EXISTS debounces (bucket TEXT PRIMARY KEY, run_id TEXT NOT NULL, window TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS debounces_by_run ON debounces(run_id);
CREATE TABLE IF NOT EXISTS debounced (
    event_id TEXT NOT NULL,
    function_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (event_id, function_id)
) WITHOUT ROWID;
"#;

/// Opens a connection with the store's settings.
pub(super) fn connect(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
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

/// Creates the schema, or brings a file written by an earlier version up to it. Refuses a file
/// written by a newer version.
pub(super) fn prepare(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Err(StoreError::Database(format!(
            "{} was written by a newer hookflow (schema version {version}; this build knows up to {VERSION}): \
             upgrade hookflow, or use another file",
            path.display()
        )));
    }
    // Version 3 was built in parts on the way to one release: a file written between them has
    // the number but not `steps.detail` or `skips`, and goes through the (idempotent) steps
    // below.
    if version == VERSION
        && has_column(conn, "steps", "detail")?
        && has_table(conn, "skips")?
        && has_table(conn, "debounced")?
    {
        return Ok(());
    }
    let existed: bool =
        conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE name = 'runs'", [], |r| r.get(0))?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // A version-1 file has no `user_version` (it reads 0).
    let from_v1 = existed && version < 2;
    let result = (|| {
        conn.execute_batch(SCHEMA)?;
        if from_v1 {
            migrate_v1(conn)?;
        }
        if existed && !has_column(conn, "runs", "flow")? {
            // Version 3: a run's flow control (concurrency, throttle, priority, timeouts).
            conn.execute_batch("ALTER TABLE runs ADD COLUMN flow TEXT;")?;
        }
        if existed && !has_column(conn, "steps", "detail")? {
            // Version 3: a step's failed attempts and what resumed it.
            conn.execute_batch("ALTER TABLE steps ADD COLUMN detail TEXT;")?;
        }
        conn.execute_batch(QUEUE)?;
        conn.execute_batch(V3)?;
        if from_v1 {
            migrate_v1_runs(conn)?;
        }
        conn.execute_batch(&format!("PRAGMA user_version = {VERSION};"))?;
        Ok::<(), StoreError>(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(())
}

fn has_table(conn: &Connection, table: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![table],
        |r| r.get(0),
    )?)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |r| r.get(0),
    )?)
}

/// Columns added since version 1.
fn migrate_v1(conn: &Connection) -> Result<(), StoreError> {
    if !has_column(conn, "events", "embeds")? {
        conn.execute_batch("ALTER TABLE events ADD COLUMN embeds TEXT;")?;
    }
    if !has_column(conn, "runs", "cancel")? {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN cancel TEXT;")?;
    }
    // The search index used to live in the store's file; it has its own now.
    conn.execute_batch("DROP TABLE IF EXISTS events_fts; DROP TABLE IF EXISTS meta;")?;
    Ok(())
}

/// Version 1's unfinished runs become queue items, and their waits matchers.
fn migrate_v1_runs(conn: &Connection) -> Result<(), StoreError> {
    const ACTIVE: &str = "status NOT IN ('Completed', 'Failed', 'Cancelled')";
    // Queued and running runs had no timer: they are due now.
    conn.execute_batch(&format!("UPDATE runs SET wake_at = created_at WHERE {ACTIVE} AND wake_at IS NULL;"))?;
    conn.execute_batch(&format!(
        "INSERT OR IGNORE INTO legacy_cancel_on (run_id) SELECT id FROM runs WHERE {ACTIVE};"
    ))?;
    let mut waits = Vec::new();
    {
        let mut stmt = conn.prepare(&format!("SELECT id, event_id, state FROM runs WHERE {ACTIVE}"))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (id, event_id, state): (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let state: RunState = serde_json::from_str(&state)?;
            for op in state.pending {
                if let PendingOp::Wait { step, name, spec, until, since } = op {
                    waits.push((id.clone(), step, name, spec.event, spec.expr, event_id.clone(), since, until));
                }
            }
        }
    }
    let mut insert = conn.prepare(
        "INSERT OR IGNORE INTO matchers (run_id, id, kind, name, event, expr, join_on, trigger_event, since, deadline) \
         VALUES (?1, ?2, 'wait', ?3, ?4, ?5, NULL, ?6, ?7, ?8)",
    )?;
    for (run, step, name, event, expr, trigger, since, until) in waits {
        insert.execute(params![run, step, name, event, expr, trigger, since, until])?;
    }
    Ok(())
}
