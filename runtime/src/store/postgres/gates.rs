//! Flow control decided when a run is created, across workers: rate limits (idempotency is
//! one), the singleton lock, and windows (debounce windows, batches), in the transaction that
//! accepts the event, with the semantics of [`crate::store::gates`] and
//! [`crate::store::window`] that the other stores share.
//!
//! Each piece of state is a row keyed by what two workers accepting at once must agree on: a
//! rate bucket, a lock, a window's bucket. The accepting transaction takes the row with an
//! upsert that either creates it or locks it (`ON CONFLICT DO UPDATE`), so of two workers
//! racing on one key the second waits for the first's commit and then reads what it wrote:
//! a limit of one admits one run, a lock gets one holder, and events for one key land in one
//! window. A window's run is joined only while it is queued and unleased, under its row lock
//! taken with `SKIP LOCKED`: a claim (which skips locked rows too) either took the run first,
//! and the event opens a new window, or finds it after the commit, due at its new time.
//!
//! A run's end lets go of its lock and its window (`ended`), without waiting for an accept
//! that holds either: the holder and the window are checked against the run's status anyway.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;

use super::write::{cancel, insert_matchers, insert_rows, json, Effects, Events, MatcherRow, Runs, TERMINAL};
use super::{Fail, Shared};
use crate::model::{Cancellation, CancelledBy, FlowKeys, Millis};
use crate::store::gates::{decide, Decision};
use crate::store::window::{self, Joined, Window};
use crate::store::{ClaimFor, Debounced, Gates, Matcher, NewRun, SkipRecord, WindowGate};

/// Spent rate states deleted per charge, so that idempotency keys do not pile up.
const SPENT_PER_CHARGE: i64 = 4;

/// A run whose creation gates decide, encoded.
#[derive(Debug)]
pub(super) struct Gated {
    /// Its index among the batch's runs.
    pub(super) index: usize,
    /// The run alone, to insert once the gates admit it.
    run: Runs,
    gates: Gates,
    /// The singleton lock it takes.
    singleton: Option<String>,
    /// Its flow control, which a debounce window's run takes when its event is chosen.
    keys: FlowKeys,
    /// Its `cancel_on` matchers, which a debounce window's run takes when its event is chosen.
    matchers: Vec<Matcher>,
}

impl Gated {
    /// `run`, the batch's run `index` (encoded alone as `row`), if a gate decides on it.
    pub(super) fn of(run: &NewRun, index: usize, row: Runs) -> Option<Gated> {
        let gates = &run.gates;
        let singleton = run.run.flow.singleton.clone();
        (!gates.rates.is_empty() || singleton.is_some() || gates.window.is_some()).then(|| Gated {
            index,
            run: row,
            gates: gates.clone(),
            singleton,
            keys: run.run.flow.clone(),
            matchers: if gates.window.is_some() { run.matchers.clone() } else { Vec::new() },
        })
    }
}

/// What the gates did with a run.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Created; its lease token when it was leased on insert, and the window it opened.
    Created(Option<i64>, Option<Debounced>),
    /// Its (event, function) pair has a run already.
    Duplicate,
    Skipped(SkipRecord),
    /// The event joined an open window: no run was created.
    Windowed(Debounced),
}

/// Creates `gated` (for the event `event_id`, at `at`) unless its event and function have a
/// run, its gates skip it, or its event joins an open window.
pub(super) async fn create(
    client: &impl GenericClient,
    s: &Shared,
    gated: &Gated,
    event_id: &str,
    at: Millis,
    claim: Option<&ClaimFor>,
    effects: &mut Effects,
) -> Result<Outcome, Fail> {
    let run = &gated.run;
    if let Some(gate) = &gated.gates.window {
        if let Some(done) = join_window(client, s, gated, gate, event_id, at, effects).await? {
            return Ok(done);
        }
    }
    if !gated.gates.rates.is_empty() || gated.singleton.is_some() {
        let exists = client.prepare_cached("SELECT 1 FROM runs WHERE dedupe_key = $1 AND function_id = $2").await?;
        if client.query_opt(&exists, &[&run.dedupe_key[0], &run.function_id[0]]).await?.is_some() {
            return Ok(Outcome::Duplicate);
        }
        let holder = match &gated.singleton {
            Some(lock) => holder(client, lock).await?,
            None => None,
        };
        match decide_rates(client, gated, &gated.gates, event_id, at, holder).await? {
            Decision::Skip(skip) => return Ok(Outcome::Skipped(write_skip(client, skip).await?)),
            Decision::Create { rates, cancel: holder } => {
                write_rates(client, &rates, at).await?;
                if let Some(holder) = holder {
                    let by = CancelledBy::Singleton { run_id: run.id[0].clone() };
                    let cancellation = json(&Cancellation { by, at })?;
                    if let Some(unheld) = cancel(client, &holder, &cancellation, at).await? {
                        effects.work |= unheld;
                        effects.cancelled.push(holder);
                    }
                }
                if let Some(lock) = &gated.singleton {
                    let take = client.prepare_cached("UPDATE flow_locks SET run_id = $2 WHERE lock = $1").await?;
                    client.execute(&take, &[lock, &run.id[0]]).await?;
                }
            }
        }
    }
    let (_, created) = insert_rows(client, s, &Events::default(), run, claim, at).await?;
    let Some(token) = created.get(&run.id[0]).copied() else { return Ok(Outcome::Duplicate) };
    let mut window_opened = None;
    if let Some(gate) = &gated.gates.window {
        let opened = Window::open(gate, &run.id[0], event_id, at, run.wake_at[0].unwrap_or(at));
        let open = client
            .prepare_cached(
                "INSERT INTO windows (bucket, run_id, state) VALUES ($1, $2, $3)
                 ON CONFLICT (bucket) DO UPDATE SET run_id = EXCLUDED.run_id, state = EXCLUDED.state",
            )
            .await?;
        client.execute(&open, &[&gate.bucket, &run.id[0], &json(&opened)?]).await?;
        window_opened = Some(record_windowed(client, gate, &run.function_id[0], event_id, &run.id[0], at).await?);
    }
    Ok(Outcome::Created(token, window_opened))
}

/// Takes the row of `key` in `table` (keyed by `key_column`): creates it, its other columns
/// `NULL`, or locks it, waiting for a worker that holds it; answers its `column` as that
/// worker left it.
async fn take(
    client: &impl GenericClient,
    table: &str,
    key_column: &str,
    column: &str,
    key: &str,
) -> Result<Option<String>, Fail> {
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO {table} ({key_column}) VALUES ($1)
             ON CONFLICT ({key_column}) DO UPDATE SET {column} = {table}.{column}
             RETURNING {column}"
        ))
        .await?;
    Ok(client.query_one(&stmt, &[&key]).await?.get(0))
}

/// Takes the singleton lock's row (creating it, or waiting for the worker that holds it) and
/// answers its holder if that run is still active.
async fn holder(client: &impl GenericClient, lock: &str) -> Result<Option<String>, Fail> {
    let Some(run_id) = take(client, "flow_locks", "lock", "run_id", lock).await? else { return Ok(None) };
    // In a statement of its own: the upsert reads the lock's row as the worker that held it
    // committed it, but the rest of its statement sees the tables as they were before, when
    // that worker's run did not exist yet.
    let active =
        client.prepare_cached(&format!("SELECT 1 FROM runs WHERE id = $1 AND status NOT IN {TERMINAL}")).await?;
    Ok(client.query_opt(&active, &[&run_id]).await?.map(|_| run_id))
}

/// Takes the rows of `gates`' rate buckets (creating them, or waiting for the worker that
/// holds them; in key order, so that two accepts never wait on each other in a cycle) and
/// decides on the run with them.
async fn decide_rates(
    client: &impl GenericClient,
    gated: &Gated,
    gates: &Gates,
    event_id: &str,
    at: Millis,
    holder: Option<String>,
) -> Result<Decision, Fail> {
    let mut keys: Vec<String> =
        gates.rates.iter().map(|g| format!("{}{}", crate::store::gates::RATE_KEY, g.bucket)).collect();
    keys.sort();
    keys.dedup();
    let mut tats = BTreeMap::new();
    if !keys.is_empty() {
        let stmt = client
            .prepare_cached(
                "INSERT INTO rate_states (key, tat) SELECT k, 0 FROM unnest($1::text[]) AS k ORDER BY k
                 ON CONFLICT (key) DO UPDATE SET tat = rate_states.tat
                 RETURNING key, tat",
            )
            .await?;
        for row in client.query(&stmt, &[&keys]).await? {
            tats.insert(row.get::<_, String>(0), row.get::<_, i64>(1));
        }
    }
    decide(&gated.run.function_id[0], gates, event_id, at, |key| Ok::<_, Fail>(tats.get(key).copied()), holder)
}

/// Writes the rate states a creation charges (at `at`), and deletes a few spent ones that no
/// other accept holds.
async fn write_rates(client: &impl GenericClient, rates: &[(String, i64)], at: Millis) -> Result<(), Fail> {
    if rates.is_empty() {
        return Ok(());
    }
    // One row per key (the last charge of it wins), as the upsert needs.
    let rates: BTreeMap<&str, i64> = rates.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    let (keys, tats): (Vec<&str>, Vec<i64>) = rates.into_iter().unzip();
    let stmt = client
        .prepare_cached(
            "WITH w AS (
                INSERT INTO rate_states (key, tat) SELECT * FROM unnest($1::text[], $2::bigint[])
                ON CONFLICT (key) DO UPDATE SET tat = EXCLUDED.tat
            )
            DELETE FROM rate_states WHERE key IN (
                SELECT key FROM rate_states WHERE tat <= $3 AND key <> ALL($1::text[])
                ORDER BY tat LIMIT $4 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&keys, &tats, &at.saturating_mul(1000), &SPENT_PER_CHARGE]).await?;
    Ok(())
}

/// Records a skipped run, and counts it.
async fn write_skip(client: &impl GenericClient, skip: SkipRecord) -> Result<SkipRecord, Fail> {
    let stmt = client
        .prepare_cached(
            "WITH s AS (INSERT INTO skips (function_id, event_id, reason, at) VALUES ($1, $2, $3, $4))
             INSERT INTO skip_counts (function_id, skipped) VALUES ($1, 1)
             ON CONFLICT (function_id) DO UPDATE SET skipped = skip_counts.skipped + 1",
        )
        .await?;
    client.execute(&stmt, &[&skip.function_id, &skip.event_id, &json(&skip.reason)?, &skip.at]).await?;
    Ok(skip)
}

/// The event `event_id` joins the open window of its bucket, if it has one whose run is
/// queued, unleased and not cancelled; the event's rate limits apply. `None`: no such window
/// (the event opens one, and this transaction holds the bucket's row until it has).
async fn join_window(
    client: &impl GenericClient,
    s: &Shared,
    gated: &Gated,
    gate: &WindowGate,
    event_id: &str,
    at: Millis,
    effects: &mut Effects,
) -> Result<Option<Outcome>, Fail> {
    let Some(stored) = take(client, "windows", "bucket", "state", &gate.bucket).await? else { return Ok(None) };
    let mut window: Window = serde_json::from_str(&stored)?;
    // In a statement of its own, to see the run a worker that held the row just created.
    let open = client
        .prepare_cached(
            "SELECT flow, created_at FROM runs WHERE id = $1 AND status = 'Queued' AND started_at IS NULL
             AND cancel IS NULL AND wake_at IS NOT NULL AND lease_token IS NULL FOR UPDATE SKIP LOCKED",
        )
        .await?;
    let Some(open) = client.query_opt(&open, &[&window.run_id]).await? else { return Ok(None) };
    let (flow, created_at): (Option<String>, Millis) = (open.get(0), open.get(1));
    let rates = Gates { rates: gated.gates.rates.clone(), ..Gates::default() };
    match decide_rates(client, gated, &rates, event_id, at, None).await? {
        Decision::Skip(skip) => return Ok(Some(Outcome::Skipped(write_skip(client, skip).await?))),
        Decision::Create { rates, .. } => write_rates(client, &rates, at).await?,
    }
    let run_id = window.run_id.clone();
    let planned = window.due;
    let joined = window.join(gate, event_id, at);
    let events = json(&window.run_events(gate.rule))?;
    let held: Option<FlowKeys> = flow.as_deref().map(serde_json::from_str).transpose()?;
    let keys = window::joined_flow(joined, gated.keys.clone(), gated.run.wake_at[0], held, planned, window.due);
    match keys {
        Some(keys) => {
            let stmt = client
                .prepare_cached(
                    "UPDATE runs SET event_id = $2, event_ids = $3, wake_at = $4, flow = $5,
                         version = nextval('changes'), writer = $6
                     WHERE id = $1",
                )
                .await?;
            let flow = (!keys.is_empty()).then(|| json(&keys)).transpose()?;
            client.execute(&stmt, &[&run_id, &window.event_id, &events, &window.due, &flow, &s.me]).await?;
            // Its due time moved: the workers' next look at the queue may have to be sooner.
            effects.work = true;
        }
        None => {
            let stmt = client
                .prepare_cached(
                    "UPDATE runs SET event_ids = $2, version = nextval('changes'), writer = $3 WHERE id = $1",
                )
                .await?;
            client.execute(&stmt, &[&run_id, &events, &s.me]).await?;
        }
    }
    if joined == Joined::Chosen {
        let rows = window::chosen_matchers(&gated.matchers, &run_id, created_at)
            .iter()
            .map(MatcherRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<&MatcherRow> = rows.iter().collect();
        effects.observed.extend(insert_matchers(client, &s.channel("observe"), &rows).await?);
    }
    if joined == Joined::Full {
        client.execute("DELETE FROM windows WHERE bucket = $1", &[&gate.bucket]).await?;
    } else {
        let stmt = client.prepare_cached("UPDATE windows SET state = $2 WHERE bucket = $1").await?;
        client.execute(&stmt, &[&gate.bucket, &json(&window)?]).await?;
    }
    let record = record_windowed(client, gate, &gated.run.function_id[0], event_id, &run_id, at).await?;
    Ok(Some(Outcome::Windowed(record)))
}

/// Records that the event `event_id` went into the window of `run_id`, for the dev UI.
async fn record_windowed(
    client: &impl GenericClient,
    gate: &WindowGate,
    function_id: &str,
    event_id: &str,
    run_id: &str,
    at: Millis,
) -> Result<Debounced, Fail> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO windowed (event_id, function_id, run_id, key, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    client.execute(&stmt, &[&event_id, &function_id, &run_id, &gate.key, &at]).await?;
    Ok(window::record(gate, function_id, event_id, run_id, at))
}

/// The run `run_id` ended: it lets go of its singleton lock and of its window, unless an
/// accept holds the row (which finds the run ended, and replaces it).
pub(super) async fn ended(client: &impl GenericClient, run_id: &str, singleton: Option<&str>) -> Result<(), Fail> {
    let stmt = client
        .prepare_cached(
            "WITH l AS (
                DELETE FROM flow_locks WHERE lock IN (
                    SELECT lock FROM flow_locks WHERE lock = $2 AND run_id = $1 FOR UPDATE SKIP LOCKED)
            )
            DELETE FROM windows WHERE bucket IN (
                SELECT bucket FROM windows WHERE run_id = $1 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&run_id, &singleton]).await?;
    Ok(())
}

/// [`ended`] for many runs at once, prepared: its parameters are the runs' ids (`text[]`) and
/// their singleton locks (`text[]`, `NULL` for a run without one).
pub(super) async fn prepare_ended_many(client: &impl GenericClient) -> Result<tokio_postgres::Statement, Fail> {
    Ok(client
        .prepare_cached(
            "WITH l AS (
                DELETE FROM flow_locks WHERE lock IN (
                    SELECT f.lock FROM flow_locks f
                    JOIN unnest($1::text[], $2::text[]) AS u(run_id, lock) ON f.lock = u.lock AND f.run_id = u.run_id
                    FOR UPDATE OF f SKIP LOCKED)
            )
            DELETE FROM windows WHERE bucket IN (
                SELECT bucket FROM windows WHERE run_id = ANY($1::text[]) FOR UPDATE SKIP LOCKED)",
        )
        .await?)
}
