//! Records encoded as the rows the writer writes, and how each write is applied inside the
//! writer's transaction. Encoding (JSON serialization above all) runs on the caller's thread,
//! so the single writer thread spends its time in SQLite only.
//!
//! A write answers what it did to the queue and the matcher cache ([`Effects`]); the store
//! applies that to its memory once the transaction has committed.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::model::{FlowKeys, Millis};
use crate::store::gates::{self, Decision};
use crate::store::queue::ItemFlow;
use crate::store::types::EventDone;
use crate::store::window::{self, Joined, Window};
use crate::store::{
    Ack, Batch, CancelRequest, Cancellation, CancelledBy, Checkpoint, Debounced, DropMatchers, Gates, LogLine, Matcher,
    NewEvent, NewRun, Resolution, RunRecord, SkipRecord, StepRecord, StoreError, StoredEvent, WindowGate,
};

/// What creating a run did.
enum Inserted {
    /// With the window it opened, for a debounced or batched function's.
    Run(Option<Debounced>),
    /// Its (event, function) pair has a run already.
    Duplicate,
    Skipped(SkipRecord),
    /// The event joined an open window (a debounce window or a batch): no run was created.
    Windowed(Debounced),
}

/// One write a caller waits for, ready to bind.
pub(super) enum Write {
    Accept(BatchRows),
    Ack(Box<AckRows>),
    Checkpoint(CheckpointRows),
    Release { run_id: String, due: Millis },
    Cancel { run_id: String, cancellation: String, at: Millis },
    Rearm { run_id: String, matchers: Vec<Matcher> },
    Logs(Vec<LogLine>),
}

/// What a write did, once committed.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Per event of the write: whether it was new, the runs it created, those it skipped.
    pub(super) events: Vec<EventDone>,
    /// Event-less runs created.
    pub(super) runs: Vec<String>,
    /// For an ack: the run's due time as written.
    pub(super) due: Option<Millis>,
    /// For a cancellation: whether the run was active.
    pub(super) applied: bool,
    pub(super) effects: Effects,
}

/// What a committed write changes in the store's memory.
#[derive(Debug, Default)]
pub(super) struct Effects {
    /// Runs created: (id, function, due, flow).
    pub(super) created: Vec<(String, String, Millis, Arc<ItemFlow>)>,
    /// Runs woken.
    pub(super) woken: Vec<Woken>,
    /// Matchers stored.
    pub(super) matchers_added: Vec<Matcher>,
    /// Matchers deleted: (run, id).
    pub(super) matchers_removed: Vec<(String, String)>,
    /// Runs whose matchers were all deleted (they ended).
    pub(super) ended: Vec<String>,
    /// Runs with a cancellation asked for.
    pub(super) cancelled: Vec<String>,
    /// Debounce windows' runs the write had reserved in the queue, due again at this time
    /// with this flow (`None`: not queued).
    pub(super) rescheduled: Vec<(String, Option<Millis>, Arc<ItemFlow>)>,
}

/// A run a write made due sooner.
#[derive(Debug)]
pub(super) struct Woken {
    pub(super) run_id: String,
    pub(super) function: String,
    pub(super) at: Millis,
    /// Its flow, parsed only if the queue does not have the run already.
    pub(super) flow: StoredFlow,
}

/// A run's flow control as its row has it.
#[derive(Debug)]
pub(super) struct StoredFlow {
    keys: Option<String>,
    created_at: Millis,
    started_at: Option<Millis>,
}

/// The columns [`StoredFlow::read`] reads, from a row of `runs` that has not ended.
pub(super) const FLOW_COLUMNS: &str = "flow, created_at, started_at";

impl StoredFlow {
    /// Reads [`FLOW_COLUMNS`] starting at column `at`.
    pub(super) fn read(row: &Row<'_>, at: usize) -> rusqlite::Result<StoredFlow> {
        Ok(StoredFlow { keys: row.get(at)?, created_at: row.get(at + 1)?, started_at: row.get(at + 2)? })
    }

    /// The flow the queue keeps for the run.
    pub(super) fn item(&self) -> Arc<ItemFlow> {
        let keys = match self.keys.as_deref().map(serde_json::from_str::<FlowKeys>) {
            None => FlowKeys::default(),
            Some(Ok(keys)) => keys,
            Some(Err(e)) => {
                // Written by this store, so this is damage: the run is queued without limits
                // rather than never.
                tracing::error!(error = %e, "a run's stored flow control is unreadable; queued without it");
                FlowKeys::default()
            }
        };
        ItemFlow::new(&keys, self.created_at, self.started_at, false)
    }
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
    runs: Vec<NewRunRow>,
    resolves: Vec<ResolutionRow>,
    cancels: Vec<CancelRow>,
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
    terminal: bool,
    flow: Option<String>,
    cancel: Option<String>,
    /// The singleton lock it holds.
    singleton: Option<String>,
    /// What the queue keeps of its flow.
    pub(super) queue_flow: Arc<ItemFlow>,
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
    /// `NULL` when empty, as most steps' are.
    detail: Option<String>,
}

pub(super) struct MatcherRow {
    matcher: Matcher,
    join: Option<String>,
}

pub(super) struct NewRunRow {
    run: RunRow,
    steps: Vec<StepRow>,
    matchers: Vec<MatcherRow>,
    gates: Gates,
    /// A debounced or batched run's flow control, to move with its window.
    keys: Option<FlowKeys>,
}

pub(super) struct ResolutionRow {
    matcher: Option<String>,
    step: StepRow,
}

pub(super) struct CancelRow {
    run_id: String,
    cancellation: String,
    at: Millis,
}

pub(super) struct BatchRows {
    events: Vec<EventRow>,
    runs: Vec<NewRunRow>,
    at: Millis,
    /// Windows' runs (debounce windows, batches) reserved in the queue for this write: the windows its events
    /// may join.
    pub(super) reserved: Vec<String>,
}

pub(super) struct AckRows {
    pub(super) run: RunRow,
    steps: Vec<StepRow>,
    waiting_on: Vec<String>,
    matchers: Vec<MatcherRow>,
    drop_matchers: DropMatchers,
    events: Vec<EventRow>,
    resume: Vec<StepRow>,
    at: Millis,
    /// Flow-control state to write with it (`flow_state` rows).
    pub(super) flow_state: Vec<(String, Millis)>,
    /// As [`BatchRows::reserved`], for the events it emits.
    pub(super) reserved: Vec<String>,
}

pub(super) struct CheckpointRows {
    run_id: String,
    steps: Vec<StepRow>,
    resolutions: Vec<ResolutionRow>,
    started: Option<Millis>,
    /// Flow-control state to write with it (`flow_state` rows).
    pub(super) flow_state: Vec<(String, Millis)>,
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
            runs: new.runs.iter().map(NewRunRow::encode).collect::<Result<_, _>>()?,
            resolves: new.resolves.iter().map(ResolutionRow::encode).collect::<Result<_, _>>()?,
            cancels: new.cancels.iter().map(CancelRow::encode).collect::<Result<_, _>>()?,
        })
    }
}

impl RunRow {
    pub(super) fn encode(run: &RunRecord) -> Result<RunRow, StoreError> {
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
            terminal: run.status.is_terminal(),
            flow: (!run.flow.is_empty()).then(|| json(&run.flow)).transpose()?,
            cancel: opt_json(run.cancellation.as_ref())?,
            singleton: run.flow.singleton.clone(),
            queue_flow: ItemFlow::of(run),
        })
    }
}

impl StepRow {
    pub(super) fn encode(step: &StepRecord) -> Result<StepRow, StoreError> {
        Ok(StepRow {
            run_id: step.run_id.clone(),
            hash: step.hash.clone(),
            name: step.name.clone(),
            kind: step.kind.as_str(),
            memo: json(&step.memo)?,
            attempts: step.attempts,
            started_at: step.started_at,
            ended_at: step.ended_at,
            detail: (!step.detail.is_empty()).then(|| json(&step.detail)).transpose()?,
        })
    }
}

impl MatcherRow {
    fn encode(matcher: &Matcher) -> Result<MatcherRow, StoreError> {
        Ok(MatcherRow { matcher: matcher.clone(), join: opt_json(matcher.join.as_ref())? })
    }
}

impl NewRunRow {
    fn encode(new: &NewRun) -> Result<NewRunRow, StoreError> {
        Ok(NewRunRow {
            run: RunRow::encode(&new.run)?,
            steps: new.steps.iter().map(StepRow::encode).collect::<Result<_, _>>()?,
            matchers: new.matchers.iter().map(MatcherRow::encode).collect::<Result<_, _>>()?,
            gates: new.gates.clone(),
            keys: new.gates.window.is_some().then(|| new.run.flow.clone()),
        })
    }
}

impl ResolutionRow {
    fn encode(resolution: &Resolution) -> Result<ResolutionRow, StoreError> {
        Ok(ResolutionRow { matcher: resolution.matcher.clone(), step: StepRow::encode(&resolution.record)? })
    }
}

impl CancelRow {
    fn encode(cancel: &CancelRequest) -> Result<CancelRow, StoreError> {
        Ok(CancelRow {
            run_id: cancel.run_id.clone(),
            cancellation: json(&cancel.cancellation)?,
            at: cancel.cancellation.at,
        })
    }
}

impl BatchRows {
    pub(super) fn encode(batch: &Batch) -> Result<BatchRows, StoreError> {
        Ok(BatchRows {
            events: batch.events.iter().map(EventRow::encode).collect::<Result<_, _>>()?,
            runs: batch.runs.iter().map(NewRunRow::encode).collect::<Result<_, _>>()?,
            at: batch.at,
            reserved: Vec::new(),
        })
    }
}

impl AckRows {
    pub(super) fn encode(ack: &Ack) -> Result<AckRows, StoreError> {
        Ok(AckRows {
            run: RunRow::encode(&ack.run)?,
            steps: ack.steps.iter().map(StepRow::encode).collect::<Result<_, _>>()?,
            waiting_on: ack.waiting_on.clone(),
            matchers: ack.matchers.iter().map(MatcherRow::encode).collect::<Result<_, _>>()?,
            drop_matchers: ack.drop_matchers.clone(),
            events: ack.events.iter().map(EventRow::encode).collect::<Result<_, _>>()?,
            resume: ack.resume.iter().map(|r| StepRow::encode(&r.record)).collect::<Result<_, _>>()?,
            at: ack.at,
            flow_state: Vec::new(),
            reserved: Vec::new(),
        })
    }
}

impl CheckpointRows {
    pub(super) fn encode(run_id: &str, checkpoint: &Checkpoint) -> Result<CheckpointRows, StoreError> {
        Ok(CheckpointRows {
            run_id: run_id.to_owned(),
            steps: checkpoint.steps.iter().map(StepRow::encode).collect::<Result<_, _>>()?,
            resolutions: checkpoint.resolutions.iter().map(ResolutionRow::encode).collect::<Result<_, _>>()?,
            started: checkpoint.started,
            flow_state: Vec::new(),
        })
    }
}

const TERMINAL: &str = "('Completed', 'Failed', 'Cancelled')";

impl Write {
    /// Applies the write inside the writer's open transaction.
    pub(super) fn apply(&self, conn: &Connection) -> Result<Written, StoreError> {
        let mut written = Written::default();
        match self {
            Write::Accept(batch) => {
                report_reserved(conn, &batch.reserved, &mut written.effects)?;
                for event in &batch.events {
                    let result = insert_event(conn, event, batch.at, &batch.reserved, &mut written.effects)?;
                    written.events.push(result);
                }
                for run in &batch.runs {
                    let inserted = insert_run(conn, run, &run.run.id, batch.at, &batch.reserved, &mut written.effects)?;
                    if let Inserted::Run(_) = inserted {
                        written.runs.push(run.run.id.clone());
                    }
                }
            }
            Write::Ack(ack) => ack_run(conn, ack, &mut written)?,
            Write::Checkpoint(checkpoint) => {
                for step in &checkpoint.steps {
                    insert_step(conn, step)?;
                }
                for resolution in &checkpoint.resolutions {
                    resolve(conn, resolution, &mut written.effects)?;
                }
                write_flow_state(conn, &checkpoint.flow_state)?;
                if let Some(started) = checkpoint.started {
                    conn.prepare_cached(&format!(
                        "UPDATE runs SET status = 'Running', started_at = coalesce(started_at, ?2) \
                         WHERE id = ?1 AND status NOT IN {TERMINAL}"
                    ))?
                    .execute(params![checkpoint.run_id, started])?;
                }
            }
            Write::Release { run_id, due } => {
                conn.prepare_cached(&format!(
                    "UPDATE runs SET wake_at = ?2 WHERE id = ?1 AND status NOT IN {TERMINAL}"
                ))?
                .execute(params![run_id, due])?;
            }
            Write::Cancel { run_id, cancellation, at } => {
                written.applied = cancel(conn, run_id, cancellation, *at, &mut written.effects)?;
            }
            Write::Rearm { run_id, matchers } => {
                conn.prepare_cached("DELETE FROM legacy_cancel_on WHERE run_id = ?1")?.execute(params![run_id])?;
                for matcher in matchers {
                    insert_matcher(conn, &MatcherRow::encode(matcher)?, &mut written.effects)?;
                }
            }
            Write::Logs(lines) => {
                let mut stmt = conn.prepare_cached(
                    "INSERT INTO step_logs (run_id, step, attempt, ts, level, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for l in lines {
                    stmt.execute(params![l.run_id, l.step, l.attempt, l.ts, l.level, l.message])?;
                }
            }
        }
        Ok(written)
    }
}

fn insert_event(
    conn: &Connection,
    e: &EventRow,
    at: Millis,
    reserved: &[String],
    effects: &mut Effects,
) -> Result<EventDone, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO events (id, name, data, ts, user, source, received_at, embeds) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![e.id, e.name, e.data, e.ts, e.user, e.source, e.received_at, e.embeds])?;
    if inserted == 0 {
        return Ok(EventDone::default());
    }
    let mut done = EventDone { new: true, runs: Vec::with_capacity(e.runs.len()), ..EventDone::default() };
    for run in &e.runs {
        match insert_run(conn, run, &e.id, at, reserved, effects)? {
            Inserted::Run(window) => {
                done.runs.push(run.run.id.clone());
                done.windowed.extend(window);
            }
            Inserted::Duplicate => {}
            Inserted::Windowed(window) => done.windowed.push(window),
            Inserted::Skipped(skip) => done.skipped.push(skip),
        }
    }
    for resolution in &e.resolves {
        resolve(conn, resolution, effects)?;
    }
    for c in &e.cancels {
        cancel(conn, &c.run_id, &c.cancellation, c.at, effects)?;
    }
    Ok(done)
}

/// Asks an active run to cancel and makes it due by `at`: `false` when it has ended.
fn cancel(
    conn: &Connection,
    run_id: &str,
    cancellation: &str,
    at: Millis,
    effects: &mut Effects,
) -> Result<bool, StoreError> {
    let woken = conn
        .prepare_cached(&format!(
            "UPDATE runs SET cancel = coalesce(cancel, ?2), wake_at = min(coalesce(wake_at, ?3), ?3) \
             WHERE id = ?1 AND status NOT IN {TERMINAL} RETURNING function_id, {FLOW_COLUMNS}"
        ))?
        .query_row(params![run_id, cancellation, at], |r| Ok((r.get(0)?, StoredFlow::read(r, 1)?)))
        .optional()?;
    let Some((function, flow)) = woken else { return Ok(false) };
    effects.woken.push(Woken { run_id: run_id.to_owned(), function, at, flow });
    effects.cancelled.push(run_id.to_owned());
    Ok(true)
}

/// Writes flow-control state (throttle times) kept in memory.
fn write_flow_state(conn: &Connection, state: &[(String, Millis)]) -> Result<(), StoreError> {
    if state.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO flow_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in state {
        stmt.execute(params![key, value])?;
    }
    Ok(())
}

/// Decides on a gated run (see `store::gates`) and writes what the decision says: the rate
/// states it charges, the cancellation of the singleton lock's holder, or the skip.
fn gate(
    conn: &Connection,
    new: &NewRunRow,
    event_id: &str,
    at: Millis,
    effects: &mut Effects,
) -> Result<Option<Inserted>, StoreError> {
    let run = &new.run;
    let exists: bool = conn
        .prepare_cached("SELECT count(*) > 0 FROM runs WHERE dedupe_key = ?1 AND function_id = ?2")?
        .query_row(params![run.dedupe_key, run.function_id], |r| r.get(0))?;
    if exists {
        return Ok(Some(Inserted::Duplicate));
    }
    let holder: Option<String> = match &run.singleton {
        Some(lock) => conn
            .prepare_cached(&format!(
                "SELECT l.run_id FROM flow_locks l JOIN runs r ON r.id = l.run_id \
                 WHERE l.lock = ?1 AND r.status NOT IN {TERMINAL}"
            ))?
            .query_row(params![lock], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let mut read = conn.prepare_cached("SELECT value FROM flow_state WHERE key = ?1")?;
    let decision = gates::decide(
        &run.function_id,
        &new.gates,
        event_id,
        at,
        |key| read.query_row(params![key], |r| r.get::<_, i64>(0)).optional().map_err(StoreError::from),
        holder,
    )?;
    drop(read);
    match decision {
        Decision::Skip(skip) => Ok(Some(write_skip(conn, skip)?)),
        Decision::Create { rates, cancel: holder } => {
            write_rates(conn, &rates, at)?;
            if let Some(holder) = holder {
                let by = CancelledBy::Singleton { run_id: run.id.clone() };
                cancel(conn, &holder, &json(&Cancellation { by, at })?, at, effects)?;
            }
            if let Some(lock) = &run.singleton {
                conn.prepare_cached(
                    "INSERT INTO flow_locks (lock, run_id) VALUES (?1, ?2) \
                     ON CONFLICT (lock) DO UPDATE SET run_id = excluded.run_id",
                )?
                .execute(params![lock, run.id])?;
            }
            Ok(None)
        }
    }
}

/// Records a skipped run, and counts it.
fn write_skip(conn: &Connection, skip: SkipRecord) -> Result<Inserted, StoreError> {
    conn.prepare_cached("INSERT INTO skips (function_id, event_id, reason, at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![skip.function_id, skip.event_id, json(&skip.reason)?, skip.at])?;
    conn.prepare_cached(
        "INSERT INTO flow_state (key, value) VALUES ('skips:' || ?1, 1) \
         ON CONFLICT (key) DO UPDATE SET value = value + 1",
    )?
    .execute(params![skip.function_id])?;
    Ok(Inserted::Skipped(skip))
}

/// Writes the rate states a creation charges (at `at`).
fn write_rates(conn: &Connection, rates: &[(String, i64)], at: Millis) -> Result<(), StoreError> {
    if rates.is_empty() {
        return Ok(());
    }
    write_flow_state(conn, rates)?;
    // Spent states go as new ones come (a few per creation, by the time index), so
    // idempotency keys do not pile up. The key range is spelled out (it is `RATE_KEY`'s) and the
    // index named: SQLite uses a partial index only for a query whose terms match the index's
    // own, and would otherwise scan every rate state for each creation (2 ms at 20,000 keys).
    conn.prepare_cached(
        "DELETE FROM flow_state WHERE key IN (SELECT key FROM flow_state INDEXED BY flow_state_rates \
         WHERE key >= 'rate:' AND key < 'rate;' AND value <= ?1 ORDER BY value LIMIT 4)",
    )?
    .execute(params![at.saturating_mul(1000)])?;
    Ok(())
}

/// Tells the queue, for each run reserved for this write, when it is due as the file has it
/// (events that join its window change that later in the write).
fn report_reserved(conn: &Connection, reserved: &[String], effects: &mut Effects) -> Result<(), StoreError> {
    for run_id in reserved {
        let row = conn
            .prepare_cached(&format!(
                "SELECT wake_at, {FLOW_COLUMNS} FROM runs WHERE id = ?1 AND status NOT IN {TERMINAL}"
            ))?
            .query_row(params![run_id], |r| Ok((r.get::<_, Option<Millis>>(0)?, StoredFlow::read(r, 1)?)))
            .optional()?;
        let (due, flow) = match row {
            Some((due, flow)) => (due, flow.item()),
            None => (None, ItemFlow::new(&FlowKeys::default(), 0, None, false)),
        };
        effects.rescheduled.push((run_id.clone(), due, flow));
    }
    Ok(())
}

/// The event `event_id` joins the open window of its bucket (a debounce window or a batch), if it has one whose
/// run is queued, unclaimed (reserved for this write, or created by it) and not cancelled;
/// the event's rate limits apply. `None`: no such window (the event opens one).
fn join_window(
    conn: &Connection,
    new: &NewRunRow,
    gate: &WindowGate,
    event_id: &str,
    at: Millis,
    reserved: &[String],
    effects: &mut Effects,
) -> Result<Option<Inserted>, StoreError> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT window FROM debounces WHERE bucket = ?1")?
        .query_row(params![gate.bucket], |r| r.get(0))
        .optional()?;
    let Some(stored) = stored else { return Ok(None) };
    let mut window: Window = serde_json::from_str(&stored)?;
    let pending = effects.created.iter().position(|c| c.0 == window.run_id);
    if pending.is_none() && !reserved.contains(&window.run_id) {
        return Ok(None);
    }
    let open: Option<(Option<String>, Millis)> = conn
        .prepare_cached(
            "SELECT flow, created_at FROM runs WHERE id = ?1 AND status = 'Queued' AND started_at IS NULL \
             AND cancel IS NULL AND wake_at IS NOT NULL",
        )?
        .query_row(params![window.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((flow, created_at)) = open else { return Ok(None) };
    let rates = Gates { rates: new.gates.rates.clone(), ..Gates::default() };
    let mut read = conn.prepare_cached("SELECT value FROM flow_state WHERE key = ?1")?;
    let decision = gates::decide(
        &new.run.function_id,
        &rates,
        event_id,
        at,
        |key| read.query_row(params![key], |r| r.get::<_, i64>(0)).optional().map_err(StoreError::from),
        None,
    )?;
    drop(read);
    match decision {
        Decision::Skip(skip) => return Ok(Some(write_skip(conn, skip)?)),
        Decision::Create { rates, .. } => write_rates(conn, &rates, at)?,
    }
    let run_id = window.run_id.clone();
    let planned = window.due;
    let joined = window.join(gate, event_id, at);
    let events = json(&window.run_events(gate.rule))?;
    let held: Option<FlowKeys> = flow.as_deref().map(serde_json::from_str).transpose()?;
    let chosen = new.keys.clone().unwrap_or_default();
    let keys = window::joined_flow(joined, chosen, new.run.wake_at, held, planned, window.due);
    match keys {
        Some(keys) => {
            let item = ItemFlow::new(&keys, created_at, None, false);
            conn.prepare_cached(
                "UPDATE runs SET event_id = ?2, event_ids = ?3, wake_at = ?4, flow = ?5 WHERE id = ?1",
            )?
            .execute(params![
                run_id,
                window.event_id,
                events,
                window.due,
                (!keys.is_empty()).then(|| json(&keys)).transpose()?
            ])?;
            match pending {
                Some(i) => (effects.created[i].2, effects.created[i].3) = (window.due, item),
                None => {
                    // In place of the due time `report_reserved` found.
                    effects.rescheduled.retain(|(run, _, _)| *run != run_id);
                    effects.rescheduled.push((run_id.clone(), Some(window.due), item));
                }
            }
        }
        None => {
            conn.prepare_cached("UPDATE runs SET event_ids = ?2 WHERE id = ?1")?.execute(params![run_id, events])?;
        }
    }
    if joined == Joined::Chosen {
        for matcher in window::chosen_matchers(new.matchers.iter().map(|row| &row.matcher), &run_id, created_at) {
            insert_matcher(conn, &MatcherRow::encode(&matcher)?, effects)?;
        }
    }
    if joined == Joined::Full {
        conn.prepare_cached("DELETE FROM debounces WHERE bucket = ?1")?.execute(params![gate.bucket])?;
    } else {
        conn.prepare_cached("UPDATE debounces SET window = ?2 WHERE bucket = ?1")?
            .execute(params![gate.bucket, json(&window)?])?;
    }
    let record = record_debounced(conn, gate, &new.run.function_id, event_id, &run_id, at)?;
    Ok(Some(Inserted::Windowed(record)))
}

fn record_debounced(
    conn: &Connection,
    gate: &WindowGate,
    function_id: &str,
    event_id: &str,
    run_id: &str,
    at: Millis,
) -> Result<Debounced, StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO debounced (event_id, function_id, run_id, key, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![event_id, function_id, run_id, gate.key, at])?;
    Ok(window::record(gate, function_id, event_id, run_id, at))
}

/// A debounced event's record, from `event_id, function_id, run_id, key, at`.
pub(super) fn debounced_from_row(row: &Row<'_>) -> rusqlite::Result<Debounced> {
    Ok(Debounced {
        event_id: row.get(0)?,
        function_id: row.get(1)?,
        run_id: row.get(2)?,
        key: row.get(3)?,
        at: row.get(4)?,
    })
}

/// Creates a run (for the event `event_id`, at `at`) unless its event and function have one,
/// or its gates skip it.
fn insert_run(
    conn: &Connection,
    new: &NewRunRow,
    event_id: &str,
    at: Millis,
    reserved: &[String],
    effects: &mut Effects,
) -> Result<Inserted, StoreError> {
    let run = &new.run;
    if let Some(gate) = &new.gates.window {
        if let Some(done) = join_window(conn, new, gate, event_id, at, reserved, effects)? {
            return Ok(done);
        }
    }
    if !new.gates.rates.is_empty() || run.singleton.is_some() {
        if let Some(done) = gate(conn, new, event_id, at, effects)? {
            return Ok(done);
        }
    }
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO runs (id, function_id, event_id, event_ids, status, attempt, created_at, \
             started_at, ended_at, output, error, wake_at, state, parent, rerun_of, dedupe_key, flow) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(params![
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
            run.flow,
        ])?;
    if n == 0 {
        return Ok(Inserted::Duplicate);
    }
    for step in &new.steps {
        insert_step(conn, step)?;
    }
    for matcher in &new.matchers {
        insert_matcher(conn, matcher, effects)?;
    }
    let mut window_opened = None;
    if let Some(gate) = &new.gates.window {
        let window = Window::open(gate, &run.id, event_id, at, run.wake_at.unwrap_or(at));
        conn.prepare_cached(
            "INSERT INTO debounces (bucket, run_id, window) VALUES (?1, ?2, ?3) \
             ON CONFLICT (bucket) DO UPDATE SET run_id = excluded.run_id, window = excluded.window",
        )?
        .execute(params![gate.bucket, run.id, json(&window)?])?;
        window_opened = Some(record_debounced(conn, gate, &run.function_id, event_id, &run.id, at)?);
    }
    if let Some(due) = run.wake_at {
        effects.created.push((run.id.clone(), run.function_id.clone(), due, run.queue_flow.clone()));
    }
    Ok(Inserted::Run(window_opened))
}

fn insert_step(conn: &Connection, s: &StepRow) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO steps (run_id, hash, name, kind, memo, attempts, started_at, ended_at, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![s.run_id, s.hash, s.name, s.kind, s.memo, s.attempts, s.started_at, s.ended_at, s.detail])?;
    Ok(n == 1)
}

fn insert_matcher(conn: &Connection, row: &MatcherRow, effects: &mut Effects) -> Result<(), StoreError> {
    let m = &row.matcher;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO matchers (run_id, id, kind, name, event, expr, join_on, trigger_event, since, deadline) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        m.run_id,
        m.id,
        m.kind.as_str(),
        m.name,
        m.event,
        m.expr,
        row.join,
        m.trigger,
        m.since,
        m.deadline
    ])?;
    effects.matchers_added.push(m.clone());
    Ok(())
}

/// Makes an active run due no later than `at`.
fn wake(conn: &Connection, run_id: &str, at: Millis, effects: &mut Effects) -> Result<(), StoreError> {
    let woken = conn
        .prepare_cached(&format!(
            "UPDATE runs SET wake_at = min(coalesce(wake_at, ?2), ?2) WHERE id = ?1 AND status NOT IN {TERMINAL} \
             RETURNING function_id, {FLOW_COLUMNS}"
        ))?
        .query_row(params![run_id, at], |r| Ok((r.get(0)?, StoredFlow::read(r, 1)?)))
        .optional()?;
    if let Some((function, flow)) = woken {
        effects.woken.push(Woken { run_id: run_id.to_owned(), function, at, flow });
    }
    Ok(())
}

/// Writes a waiting step's result if it still waits (its matcher is there, for a wait) and its
/// run is active; wakes the run.
fn resolve(conn: &Connection, resolution: &ResolutionRow, effects: &mut Effects) -> Result<(), StoreError> {
    let step = &resolution.step;
    let active: bool = conn
        .prepare_cached(&format!("SELECT count(*) > 0 FROM runs WHERE id = ?1 AND status NOT IN {TERMINAL}"))?
        .query_row(params![step.run_id], |r| r.get(0))?;
    if !active {
        return Ok(());
    }
    if let Some(matcher) = &resolution.matcher {
        let deleted = conn
            .prepare_cached("DELETE FROM matchers WHERE run_id = ?1 AND id = ?2")?
            .execute(params![step.run_id, matcher])?;
        if deleted == 0 {
            return Ok(());
        }
        effects.matchers_removed.push((step.run_id.clone(), matcher.clone()));
    }
    if insert_step(conn, step)? {
        wake(conn, &step.run_id, step.ended_at, effects)?;
    }
    Ok(())
}

fn ack_run(conn: &Connection, ack: &AckRows, written: &mut Written) -> Result<(), StoreError> {
    let run = &ack.run;
    for step in &ack.steps {
        insert_step(conn, step)?;
    }
    write_flow_state(conn, &ack.flow_state)?;
    let due = if run.terminal {
        None
    } else {
        let cancelled: bool = conn
            .prepare_cached("SELECT count(*) > 0 FROM runs WHERE id = ?1 AND cancel IS NOT NULL")?
            .query_row(params![run.id], |r| r.get(0))?;
        let mut arrived = false;
        for hash in &ack.waiting_on {
            arrived |= conn
                .prepare_cached("SELECT count(*) > 0 FROM steps WHERE run_id = ?1 AND hash = ?2")?
                .query_row(params![run.id, hash], |r| r.get::<_, bool>(0))?;
        }
        if cancelled || arrived {
            Some(run.wake_at.map_or(ack.at, |w| w.min(ack.at)))
        } else {
            run.wake_at
        }
    };
    conn.prepare_cached(
        "UPDATE runs SET status = ?2, attempt = ?3, started_at = ?4, ended_at = ?5, output = ?6, error = ?7, \
         wake_at = ?8, state = ?9, cancel = coalesce(cancel, ?10) WHERE id = ?1",
    )?
    .execute(params![
        run.id,
        run.status,
        run.attempt,
        run.started_at,
        run.ended_at,
        run.output,
        run.error,
        due,
        run.state,
        run.cancel,
    ])?;
    match &ack.drop_matchers {
        DropMatchers::None => {}
        DropMatchers::Ids(ids) => {
            let mut stmt = conn.prepare_cached("DELETE FROM matchers WHERE run_id = ?1 AND id = ?2")?;
            for id in ids {
                stmt.execute(params![run.id, id])?;
                written.effects.matchers_removed.push((run.id.clone(), id.clone()));
            }
        }
        DropMatchers::All => {}
    }
    if run.terminal || ack.drop_matchers == DropMatchers::All {
        conn.prepare_cached("DELETE FROM matchers WHERE run_id = ?1")?.execute(params![run.id])?;
        written.effects.ended.push(run.id.clone());
    }
    if let (true, Some(lock)) = (run.terminal, &run.singleton) {
        conn.prepare_cached("DELETE FROM flow_locks WHERE lock = ?1 AND run_id = ?2")?
            .execute(params![lock, run.id])?;
    }
    for matcher in &ack.matchers {
        insert_matcher(conn, matcher, &mut written.effects)?;
    }
    if run.terminal {
        conn.prepare_cached("DELETE FROM debounces WHERE run_id = ?1")?.execute(params![run.id])?;
    }
    report_reserved(conn, &ack.reserved, &mut written.effects)?;
    for event in &ack.events {
        let result = insert_event(conn, event, ack.at, &ack.reserved, &mut written.effects)?;
        written.events.push(result);
    }
    for step in &ack.resume {
        let active: bool = conn
            .prepare_cached(&format!("SELECT count(*) > 0 FROM runs WHERE id = ?1 AND status NOT IN {TERMINAL}"))?
            .query_row(params![step.run_id], |r| r.get(0))?;
        if active && insert_step(conn, step)? {
            wake(conn, &step.run_id, step.ended_at, &mut written.effects)?;
        }
    }
    written.due = due;
    Ok(())
}
