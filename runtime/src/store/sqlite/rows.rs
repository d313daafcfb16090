//! Records encoded as the rows the writer inserts. Encoding (JSON serialization above all) runs
//! on the caller's thread, so the single writer thread spends its time in SQLite only.

use rusqlite::{params, Connection};

use crate::store::{Accepted, LogLine, NewEvent, RunRecord, RunUpdate, StepRecord, StoreError, StoredEvent};

/// One write a caller waits for, ready to bind.
pub(super) enum Write {
    Accept(Vec<EventRow>),
    Save(Vec<UpdateRow>),
    Logs(Vec<LogLine>),
}

/// What a write produced once committed.
pub(super) enum Written {
    Accepted(Vec<Accepted>),
    Saved,
}

pub(super) struct EventRow {
    id: String,
    name: String,
    data: String,
    ts: i64,
    user: Option<String>,
    source: &'static str,
    received_at: i64,
    embeds: Option<String>,
    runs: Vec<RunRow>,
}

pub(super) struct RunRow {
    id: String,
    function_id: String,
    event_id: String,
    event_ids: String,
    status: &'static str,
    attempt: u32,
    created_at: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    output: Option<String>,
    error: Option<String>,
    wake_at: Option<i64>,
    state: String,
    parent: Option<String>,
    rerun_of: Option<String>,
    dedupe_key: String,
}

pub(super) struct StepRow {
    run_id: String,
    hash: String,
    name: String,
    kind: &'static str,
    memo: String,
    attempts: u32,
    started_at: i64,
    ended_at: i64,
}

pub(super) struct UpdateRow {
    events: Vec<EventRow>,
    steps: Vec<StepRow>,
    run: Option<RunRow>,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

fn opt_json<T: serde::Serialize>(value: Option<&T>) -> Result<Option<String>, StoreError> {
    value.map(json).transpose()
}

impl EventRow {
    pub(super) fn encode(new: &NewEvent) -> Result<EventRow, StoreError> {
        let StoredEvent { id, name, data, ts, user, source, received_at } = &new.event;
        Ok(EventRow {
            id: id.clone(),
            name: name.clone(),
            data: data.to_json_string(),
            ts: *ts,
            user: opt_json(user.as_ref())?,
            source: source.as_str(),
            received_at: *received_at,
            embeds: new.embeds.clone(),
            runs: new.runs.iter().map(RunRow::encode).collect::<Result<_, _>>()?,
        })
    }
}

impl RunRow {
    fn encode(run: &RunRecord) -> Result<RunRow, StoreError> {
        Ok(RunRow {
            id: run.id.clone(),
            function_id: run.function_id.clone(),
            event_id: run.event_ids.first().cloned().unwrap_or_default(),
            event_ids: json(&run.event_ids)?,
            status: run.status.as_str(),
            attempt: run.attempt,
            created_at: run.created_at,
            started_at: run.started_at,
            ended_at: run.ended_at,
            output: opt_json(run.output.as_ref())?,
            error: opt_json(run.error.as_ref())?,
            wake_at: run.wake_at,
            state: json(&run.state)?,
            parent: opt_json(run.parent.as_ref())?,
            rerun_of: run.rerun_of.clone(),
            dedupe_key: run.dedupe_key(),
        })
    }
}

impl StepRow {
    fn encode(step: &StepRecord) -> Result<StepRow, StoreError> {
        Ok(StepRow {
            run_id: step.run_id.clone(),
            hash: step.hash.clone(),
            name: step.name.clone(),
            kind: step.kind.as_str(),
            memo: json(&step.memo)?,
            attempts: step.attempts,
            started_at: step.started_at,
            ended_at: step.ended_at,
        })
    }
}

impl UpdateRow {
    pub(super) fn encode(update: &RunUpdate) -> Result<UpdateRow, StoreError> {
        Ok(UpdateRow {
            events: update.events.iter().map(EventRow::encode).collect::<Result<_, _>>()?,
            steps: update.steps.iter().map(StepRow::encode).collect::<Result<_, _>>()?,
            run: update.run.as_ref().map(RunRow::encode).transpose()?,
        })
    }
}

impl Write {
    /// Applies the write inside the writer's open transaction.
    pub(super) fn apply(&self, conn: &Connection) -> Result<Written, StoreError> {
        match self {
            Write::Accept(events) => insert_events(conn, events).map(Written::Accepted),
            Write::Save(updates) => {
                for update in updates {
                    save(conn, update)?;
                }
                Ok(Written::Saved)
            }
            Write::Logs(lines) => {
                let mut stmt = conn.prepare_cached(
                    "INSERT INTO step_logs (run_id, step, attempt, ts, level, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for l in lines {
                    stmt.execute(params![l.run_id, l.step, l.attempt, l.ts, l.level, l.message])?;
                }
                Ok(Written::Saved)
            }
        }
    }
}

fn insert_events(conn: &Connection, events: &[EventRow]) -> Result<Vec<Accepted>, StoreError> {
    let mut out = Vec::with_capacity(events.len());
    let mut insert_event = conn.prepare_cached(
        "INSERT OR IGNORE INTO events (id, name, data, ts, user, source, received_at, embeds) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in events {
        let inserted =
            insert_event.execute(params![e.id, e.name, e.data, e.ts, e.user, e.source, e.received_at, e.embeds])?;
        if inserted == 0 {
            out.push(Accepted { event_id: e.id.clone(), new: false, runs: Vec::new() });
            continue;
        }
        let mut created = Vec::with_capacity(e.runs.len());
        for run in &e.runs {
            if insert_run(conn, run)? {
                created.push(run.id.clone());
            }
        }
        out.push(Accepted { event_id: e.id.clone(), new: true, runs: created });
    }
    Ok(out)
}

fn insert_run(conn: &Connection, run: &RunRow) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO runs (id, function_id, event_id, event_ids, status, attempt, created_at, started_at, \
         ended_at, output, error, wake_at, state, parent, rerun_of, dedupe_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let n = stmt.execute(params![
        run.id,
        run.function_id,
        run.event_id,
        run.event_ids,
        run.status,
        run.attempt,
        run.created_at,
        run.started_at,
        run.ended_at,
        run.output,
        run.error,
        run.wake_at,
        run.state,
        run.parent,
        run.rerun_of,
        run.dedupe_key,
    ])?;
    Ok(n == 1)
}

fn save(conn: &Connection, update: &UpdateRow) -> Result<(), StoreError> {
    if !update.events.is_empty() {
        insert_events(conn, &update.events)?;
    }
    if !update.steps.is_empty() {
        let mut insert_step = conn.prepare_cached(
            "INSERT OR IGNORE INTO steps (run_id, hash, name, kind, memo, attempts, started_at, ended_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for s in &update.steps {
            insert_step.execute(params![
                s.run_id,
                s.hash,
                s.name,
                s.kind,
                s.memo,
                s.attempts,
                s.started_at,
                s.ended_at
            ])?;
        }
    }
    if let Some(run) = &update.run {
        let mut update_run = conn.prepare_cached(
            "UPDATE runs SET status = ?2, attempt = ?3, started_at = ?4, ended_at = ?5, output = ?6, error = ?7, \
             wake_at = ?8, state = ?9 WHERE id = ?1",
        )?;
        let changed = update_run.execute(params![
            run.id,
            run.status,
            run.attempt,
            run.started_at,
            run.ended_at,
            run.output,
            run.error,
            run.wake_at,
            run.state,
        ])?;
        if changed == 0 {
            insert_run(conn, run)?;
        }
    }
    Ok(())
}
