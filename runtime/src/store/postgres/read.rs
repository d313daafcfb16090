//! The store's reads: records decoded from rows, the queue's next due time, matchers, and the
//! dev UI's lists (skips and windows among them).

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{Fail, Shared};
use crate::model::{EventSource, Millis};
use crate::store::types::effective_limit;
use crate::store::{
    ClaimedRun, Debounced, EventQuery, Join, LogLine, Matcher, MatcherKind, Memo, RunQuery, RunRecord, RunStatus,
    SkipRecord, StepKind, StepRecord, StoreError, StoredEvent,
};
use crate::Payload;

const RUN_COLUMNS: &str = "id, function_id, event_ids, status, attempt, created_at, started_at, ended_at, output, \
                           error, wake_at, state, parent, rerun_of, cancel, flow";

/// An event's columns (`e`), and those of the event it embeds (`em`), by reference.
const EVENT_COLUMNS: &str = "e.id, e.name, e.data, e.ts, e.usr, e.source, e.received_at, e.embeds, \
                             em.id, em.name, em.data, em.ts, em.usr";
const EVENT_FROM: &str = "events e LEFT JOIN events em ON em.id = e.embeds";

fn parse<T: serde::de::DeserializeOwned>(text: Option<String>) -> Result<Option<T>, StoreError> {
    Ok(text.as_deref().map(serde_json::from_str).transpose()?)
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or_default()
}

fn run_from(row: &Row) -> Result<RunRecord, Fail> {
    let status: String = row.try_get(3)?;
    let event_ids: String = row.try_get(2)?;
    let state: String = row.try_get(11)?;
    Ok(RunRecord {
        id: row.try_get(0)?,
        function_id: row.try_get(1)?,
        event_ids: serde_json::from_str(&event_ids)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| StoreError::Database(format!("unknown run status `{status}`")))?,
        attempt: count(row.try_get(4)?),
        created_at: row.try_get(5)?,
        started_at: row.try_get(6)?,
        ended_at: row.try_get(7)?,
        output: parse(row.try_get(8)?)?,
        error: parse(row.try_get(9)?)?,
        wake_at: row.try_get(10)?,
        state: serde_json::from_str(&state)?,
        parent: parse(row.try_get(12)?)?,
        rerun_of: row.try_get(13)?,
        cancellation: parse(row.try_get(14)?)?,
        flow: parse(row.try_get(15)?)?.unwrap_or_default(),
    })
}

/// An event from [`EVENT_COLUMNS`], with the event it embeds put back under `data.event`.
fn event_from(row: &Row) -> Result<StoredEvent, Fail> {
    let source: String = row.try_get(5)?;
    let mut event = StoredEvent {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        data: Payload::from_stored(row.try_get(2)?),
        ts: row.try_get(3)?,
        user: parse(row.try_get(4)?)?,
        source: EventSource::parse(&source).unwrap_or(EventSource::Api),
        received_at: row.try_get(6)?,
    };
    let embeds: Option<String> = row.try_get(7)?;
    if embeds.is_some() {
        let embedded = match row.try_get::<_, Option<String>>(8)? {
            Some(id) => crate::event::RawEvent {
                id,
                name: row.try_get(9)?,
                data: Payload::from_stored(row.try_get(10)?),
                ts: row.try_get(11)?,
                user: parse(row.try_get(12)?)?,
            }
            .to_json(),
            None => serde_json::Value::Null,
        };
        if let serde_json::Value::Object(data) = &mut *event.data {
            data.insert("event".into(), embedded);
        }
    }
    Ok(event)
}

pub(super) async fn run(s: &Shared, id: &str) -> Result<Option<RunRecord>, Fail> {
    let client = s.client().await?;
    let stmt = client.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")).await?;
    client.query_opt(&stmt, &[&id]).await?.as_ref().map(run_from).transpose()
}

const STEP_COLUMNS: &str = "run_id, hash, name, kind, memo, attempts, started_at, ended_at, detail";

pub(super) async fn journal(s: &Shared, run_id: &str) -> Result<Vec<StepRecord>, Fail> {
    let client = s.client().await?;
    let stmt =
        client.prepare_cached(&format!("SELECT {STEP_COLUMNS} FROM steps WHERE run_id = $1 ORDER BY seq")).await?;
    client.query(&stmt, &[&run_id]).await?.iter().map(step_from).collect()
}

fn step_from(row: &Row) -> Result<StepRecord, Fail> {
    let kind: String = row.try_get(3)?;
    let memo: String = row.try_get(4)?;
    Ok(StepRecord {
        run_id: row.try_get(0)?,
        hash: row.try_get(1)?,
        name: row.try_get(2)?,
        kind: StepKind::parse(&kind).ok_or_else(|| StoreError::Database(format!("unknown step kind `{kind}`")))?,
        memo: serde_json::from_str::<Memo>(&memo)?,
        attempts: count(row.try_get(5)?),
        started_at: row.try_get(6)?,
        ended_at: row.try_get(7)?,
        detail: row
            .try_get::<_, Option<String>>(8)?
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// A whole claim's runs, events and journals in three statements on one connection (the runs
/// and the steps sent together), where reading them run by run costs three round trips a run.
pub(super) async fn claimed_runs(s: &Shared, ids: &[String]) -> Result<Vec<Option<ClaimedRun>>, Fail> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let client = s.client().await?;
    let runs_stmt = client.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ANY($1)")).await?;
    let steps_stmt = client
        .prepare_cached(&format!("SELECT {STEP_COLUMNS} FROM steps WHERE run_id = ANY($1) ORDER BY run_id, seq"))
        .await?;
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    let (runs, steps) = tokio::try_join!(client.query(&runs_stmt, &params), client.query(&steps_stmt, &params))?;
    let mut runs: HashMap<String, RunRecord> =
        runs.iter().map(|row| run_from(row).map(|run| (run.id.clone(), run))).collect::<Result<_, Fail>>()?;
    let mut journals: HashMap<String, Vec<StepRecord>> = HashMap::new();
    for row in &steps {
        let step = step_from(row)?;
        journals.entry(step.run_id.clone()).or_default().push(step);
    }
    let mut event_ids: Vec<String> = runs.values().flat_map(|run| run.event_ids.iter().cloned()).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let events: HashMap<String, StoredEvent> =
        events_on(&client, &event_ids).await?.into_iter().map(|event| (event.id.clone(), event)).collect();
    Ok(ids
        .iter()
        .map(|id| {
            let run = runs.remove(id)?;
            let events = run.event_ids.iter().filter_map(|e| events.get(e).cloned()).collect();
            let journal = journals.remove(id).unwrap_or_default();
            Some(ClaimedRun { run, events, journal })
        })
        .collect())
}

pub(super) async fn events(s: &Shared, ids: &[String]) -> Result<Vec<StoredEvent>, Fail> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    events_on(&s.client().await?, ids).await
}

async fn events_on(client: &deadpool_postgres::Client, ids: &[String]) -> Result<Vec<StoredEvent>, Fail> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS want(id, ord) \
             JOIN {EVENT_FROM} ON e.id = want.id ORDER BY want.ord"
        ))
        .await?;
    client.query(&stmt, &[&ids]).await?.iter().map(event_from).collect()
}

/// The earliest due time of an unleased run of `functions`, or of one whose lease expired.
/// Gated runs (see `claims`) count from `checked` on only: those due before were looked at by
/// this worker's last claim, which held them back (a freed slot signals work; an expired lease
/// of a gated run is found by the scheduler's periodic look).
pub(super) async fn next_due(s: &Shared, functions: &[String], checked: Millis) -> Result<Option<Millis>, Fail> {
    if functions.is_empty() {
        return Ok(None);
    }
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT least(
                (SELECT min(wake_at) FROM runs
                 WHERE wake_at IS NOT NULL AND lease_token IS NULL AND NOT gated AND (function_id || '') = ANY($1)),
                (SELECT min(wake_at) FROM runs
                 WHERE lease_token IS NOT NULL AND lease_until < statement_timestamp() AND NOT gated
                   AND (function_id || '') = ANY($1)),
                (SELECT min(wake_at) FROM runs
                 WHERE wake_at IS NOT NULL AND lease_token IS NULL AND gated AND wake_at > $2
                   AND (function_id || '') = ANY($1)))",
        )
        .await?;
    Ok(client.query_one(&stmt, &[&functions, &checked]).await?.get(0))
}

/// The matchers for `name` that `incoming` (JSON text) may satisfy, not expired at `now`: joins
/// compared by value in the database (through `matcher_paths`, one index lookup per path),
/// other conditions all.
pub(super) async fn matchers(s: &Shared, name: &str, incoming: &str, now: Millis) -> Result<Vec<Matcher>, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT m.run_id, m.id, m.kind, m.name, m.event, m.expr, m.join_on, m.trigger_event, m.since, m.deadline
             FROM matcher_paths p
             JOIN matchers m ON m.event = p.event AND m.join_path = p.path
                  AND m.join_value = ($2::text::jsonb #> ARRAY(SELECT jsonb_array_elements_text(p.path::jsonb)))
             WHERE p.event = $1 AND p.path <> '' AND m.deadline >= $3
             UNION ALL
             SELECT m.run_id, m.id, m.kind, m.name, m.event, m.expr, m.join_on, m.trigger_event, m.since, m.deadline
             FROM matchers m WHERE m.event = $1 AND m.join_path IS NULL AND m.deadline >= $3",
        )
        .await?;
    let rows = client.query(&stmt, &[&name, &incoming, &now]).await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get(2)?;
            let join: Option<String> = row.try_get(6)?;
            Ok(Matcher {
                run_id: row.try_get(0)?,
                id: row.try_get(1)?,
                kind: MatcherKind::parse(&kind)
                    .ok_or_else(|| StoreError::Database(format!("unknown matcher kind `{kind}`")))?,
                name: row.try_get(3)?,
                event: row.try_get(4)?,
                expr: row.try_get(5)?,
                join: join.as_deref().map(serde_json::from_str::<Join>).transpose()?,
                trigger: row.try_get(7)?,
                since: row.try_get(8)?,
                deadline: row.try_get(9)?,
            })
        })
        .collect()
}

/// A Postgres parameter of a dev UI query.
pub(super) struct Param(Box<dyn ToSql + Sync + Send>);

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param(Box::new(value))
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param(Box::new(value))
    }
}

/// A WHERE clause with Postgres's numbered parameters.
type Filter = crate::store::sql::Filter<Param>;

fn params(filter: &Filter) -> Vec<&(dyn ToSql + Sync)> {
    filter.params.iter().map(|p| &*p.0 as &(dyn ToSql + Sync)).collect()
}

pub(super) async fn list_events(s: &Shared, query: &EventQuery) -> Result<Vec<StoredEvent>, Fail> {
    let mut filter = Filter::new("$");
    if let Some(before) = &query.before {
        filter.add("e.seq < coalesce((SELECT seq FROM events WHERE id = ?), 9223372036854775807)", before.clone());
    }
    crate::store::sql::event_conditions(query, &mut filter);
    if let Some(search) = &query.search {
        // Both `?` are the one pattern.
        filter.add(
            "(lower(e.name) LIKE ? ESCAPE '\\' OR lower(e.data) LIKE ? ESCAPE '\\')",
            crate::store::sql::like_pattern(search),
        );
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} {} ORDER BY e.seq DESC LIMIT {}",
        filter.sql(),
        effective_limit(query.limit)
    );
    let client = s.client().await?;
    client.query(&sql, &params(&filter)).await?.iter().map(event_from).collect()
}

pub(super) async fn list_runs(s: &Shared, query: &RunQuery) -> Result<Vec<RunRecord>, Fail> {
    let mut filter = Filter::new("$");
    crate::store::sql::run_conditions(query, &mut filter);
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs {} ORDER BY id DESC LIMIT {}",
        filter.sql(),
        effective_limit(query.limit)
    );
    let client = s.client().await?;
    client.query(&sql, &params(&filter)).await?.iter().map(run_from).collect()
}

pub(super) async fn runs_cancelled_by(s: &Shared, event_id: &str, limit: usize) -> Result<Vec<RunRecord>, Fail> {
    // The expression and the `cancel IS NOT NULL` are those of the `runs_cancelled_by` index.
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE cancel IS NOT NULL AND (cancel::jsonb #>> '{{by,event_id}}') = $1 \
         ORDER BY id DESC LIMIT {}",
        effective_limit(limit)
    );
    let client = s.client().await?;
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[&event_id]).await?.iter().map(run_from).collect()
}

pub(super) async fn logs(s: &Shared, run_id: &str) -> Result<Vec<LogLine>, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT run_id, step, attempt, ts, level, message FROM step_logs WHERE run_id = $1 ORDER BY seq",
        )
        .await?;
    client
        .query(&stmt, &[&run_id])
        .await?
        .iter()
        .map(|r| {
            Ok(LogLine {
                run_id: r.try_get(0)?,
                step: r.try_get(1)?,
                attempt: count(r.try_get(2)?),
                ts: r.try_get(3)?,
                level: r.try_get(4)?,
                message: r.try_get(5)?,
            })
        })
        .collect()
}

const SKIP_COLUMNS: &str = "function_id, event_id, reason, at";

fn skip_from(row: &Row) -> Result<SkipRecord, Fail> {
    let reason: String = row.try_get(2)?;
    Ok(SkipRecord {
        function_id: row.try_get(0)?,
        event_id: row.try_get(1)?,
        reason: serde_json::from_str(&reason)?,
        at: row.try_get(3)?,
    })
}

/// The skips of the event `event_id`, in the order they were recorded.
pub(super) async fn skips_of_event(s: &Shared, event_id: &str) -> Result<Vec<SkipRecord>, Fail> {
    let client = s.client().await?;
    let stmt =
        client.prepare_cached(&format!("SELECT {SKIP_COLUMNS} FROM skips WHERE event_id = $1 ORDER BY seq")).await?;
    client.query(&stmt, &[&event_id]).await?.iter().map(skip_from).collect()
}

/// A function's skips, newest first.
pub(super) async fn skips_of_function(s: &Shared, function_id: &str, limit: usize) -> Result<Vec<SkipRecord>, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(&format!("SELECT {SKIP_COLUMNS} FROM skips WHERE function_id = $1 ORDER BY seq DESC LIMIT $2"))
        .await?;
    let limit = i64::try_from(effective_limit(limit)).unwrap_or(i64::MAX);
    client.query(&stmt, &[&function_id, &limit]).await?.iter().map(skip_from).collect()
}

pub(super) async fn skip_counts(s: &Shared) -> Result<HashMap<String, u64>, Fail> {
    let client = s.client().await?;
    let rows = client.query("SELECT function_id, skipped FROM skip_counts", &[]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<_, String>(0)?, u64::try_from(r.try_get::<_, i64>(1)?).unwrap_or_default())))
        .collect()
}

/// The windows the event `event_id` went into.
pub(super) async fn debounces_of_event(s: &Shared, event_id: &str) -> Result<Vec<Debounced>, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "SELECT event_id, function_id, run_id, key, at FROM windowed WHERE event_id = $1 ORDER BY at, function_id",
        )
        .await?;
    client
        .query(&stmt, &[&event_id])
        .await?
        .iter()
        .map(|r| {
            Ok(Debounced {
                event_id: r.try_get(0)?,
                function_id: r.try_get(1)?,
                run_id: r.try_get(2)?,
                key: r.try_get(3)?,
                at: r.try_get(4)?,
            })
        })
        .collect()
}
