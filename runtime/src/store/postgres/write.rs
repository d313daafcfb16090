//! The store's writes. Records are encoded once into columns (one array per column, bound to
//! `unnest`), before a connection is taken, so a write that is retried after a failure is not
//! encoded again; each write runs in one transaction (or one statement, when that is all it
//! needs) and answers what it did to this process's memory ([`Effects`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::gates::{self, Gated, Outcome};
use super::{claims, Fail, Shared};
use crate::model::Millis;
use crate::store::{
    Accepted, Accepts, Ack, Acked, Batch, CancelRequest, Checkpoint, ClaimFor, CreatedRun, Debounced, DropMatchers,
    Lease, LogLine, Matcher, NewEvent, NewRun, Resolution, SkipRecord, StepRecord, StoreError,
};

/// Statuses of runs that ended.
pub(super) const TERMINAL: &str = "('Completed', 'Failed', 'Cancelled')";

/// What a committed write changes in this process's memory, and tells the other workers.
#[derive(Debug, Default)]
pub(super) struct Effects {
    /// Runs leased to this process.
    pub(super) leased: Vec<String>,
    /// Runs whose lease this process gave back.
    pub(super) released: Vec<String>,
    /// Runs that ended: their cancellation is forgotten.
    pub(super) released_ended: Vec<String>,
    /// Runs with a cancellation asked for.
    pub(super) cancelled: Vec<String>,
    /// Event names that matchers now wait for (every worker was told, on commit).
    pub(super) observed: Vec<String>,
    /// Event names of matchers this write removed: perhaps no matcher waits for them any more.
    pub(super) unobserved: Vec<String>,
    /// Whether some run became due that no worker holds.
    pub(super) work: bool,
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(value)?)
}

fn opt_json<T: serde::Serialize>(value: Option<&T>) -> Result<Option<String>, StoreError> {
    value.map(json).transpose()
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Journal entries, by column.
#[derive(Debug, Default)]
struct Steps {
    run_id: Vec<String>,
    hash: Vec<String>,
    name: Vec<String>,
    kind: Vec<String>,
    memo: Vec<String>,
    attempts: Vec<i32>,
    started_at: Vec<i64>,
    ended_at: Vec<i64>,
    detail: Vec<Option<String>>,
}

impl Steps {
    fn encode<'a>(steps: impl IntoIterator<Item = &'a StepRecord>) -> Result<Steps, StoreError> {
        let mut out = Steps::default();
        for s in steps {
            out.run_id.push(s.run_id.clone());
            out.hash.push(s.hash.clone());
            out.name.push(s.name.clone());
            out.kind.push(s.kind.as_str().to_owned());
            out.memo.push(json(&s.memo)?);
            out.attempts.push(int(s.attempts));
            out.started_at.push(s.started_at);
            out.ended_at.push(s.ended_at);
            out.detail.push((!s.detail.is_empty()).then(|| json(&s.detail)).transpose()?);
        }
        Ok(out)
    }

    fn is_empty(&self) -> bool {
        self.run_id.is_empty()
    }

    fn append(&mut self, other: &Steps) {
        self.run_id.extend_from_slice(&other.run_id);
        self.hash.extend_from_slice(&other.hash);
        self.name.extend_from_slice(&other.name);
        self.kind.extend_from_slice(&other.kind);
        self.memo.extend_from_slice(&other.memo);
        self.attempts.extend_from_slice(&other.attempts);
        self.started_at.extend_from_slice(&other.started_at);
        self.ended_at.extend_from_slice(&other.ended_at);
        self.detail.extend_from_slice(&other.detail);
    }

    /// The steps of these runs only.
    fn of(&self, runs: &HashSet<&str>) -> Steps {
        let mut out = Steps::default();
        for i in (0..self.run_id.len()).filter(|&i| runs.contains(self.run_id[i].as_str())) {
            out.run_id.push(self.run_id[i].clone());
            out.hash.push(self.hash[i].clone());
            out.name.push(self.name[i].clone());
            out.kind.push(self.kind[i].clone());
            out.memo.push(self.memo[i].clone());
            out.attempts.push(self.attempts[i]);
            out.started_at.push(self.started_at[i]);
            out.ended_at.push(self.ended_at[i]);
            out.detail.push(self.detail[i].clone());
        }
        out
    }
}

/// The rows of `Steps` bound from parameter `$p` on, as a `SELECT` to insert from.
fn unnest_steps(p: usize) -> String {
    format!(
        "SELECT u.* FROM unnest(${p}::text[], ${}::text[], ${}::text[], ${}::text[], ${}::text[], ${}::integer[], \
         ${}::bigint[], ${}::bigint[], ${}::text[]) AS u(run_id, hash, name, kind, memo, attempts, started_at, \
         ended_at, detail)",
        p + 1,
        p + 2,
        p + 3,
        p + 4,
        p + 5,
        p + 6,
        p + 7,
        p + 8
    )
}

const STEP_COLUMNS: &str = "(run_id, hash, name, kind, memo, attempts, started_at, ended_at, detail)";

fn insert_steps_sql() -> String {
    format!("INSERT INTO steps {STEP_COLUMNS} {} ON CONFLICT DO NOTHING", unnest_steps(1))
}

async fn insert_steps(client: &impl GenericClient, steps: &Steps) -> Result<(), Fail> {
    if steps.is_empty() {
        return Ok(());
    }
    let stmt = client.prepare_cached(&insert_steps_sql()).await?;
    client
        .execute(
            &stmt,
            &[
                &steps.run_id,
                &steps.hash,
                &steps.name,
                &steps.kind,
                &steps.memo,
                &steps.attempts,
                &steps.started_at,
                &steps.ended_at,
                &steps.detail,
            ],
        )
        .await?;
    Ok(())
}

/// A matcher with its join encoded.
#[derive(Debug)]
pub(super) struct MatcherRow {
    matcher: Matcher,
    join_on: Option<String>,
    join_path: Option<String>,
}

impl MatcherRow {
    pub(super) fn encode(matcher: &Matcher) -> Result<MatcherRow, StoreError> {
        Ok(MatcherRow {
            matcher: matcher.clone(),
            join_on: opt_json(matcher.join.as_ref())?,
            join_path: matcher.join.as_ref().map(|j| json(&j.path)).transpose()?,
        })
    }
}

/// Stores matchers (replacing those with the same run and id) and tells every worker, on
/// commit, the event names they wait for (a worker that saw the last matcher of a name go may
/// have stopped observing it); answers those names.
pub(super) async fn insert_matchers(
    client: &impl GenericClient,
    channel: &str,
    rows: &[&MatcherRow],
) -> Result<Vec<String>, Fail> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let col = |f: &dyn Fn(&MatcherRow) -> String| rows.iter().map(|r| f(r)).collect::<Vec<String>>();
    let opt = |f: &dyn Fn(&MatcherRow) -> Option<String>| rows.iter().map(|r| f(r)).collect::<Vec<Option<String>>>();
    let run_id = col(&|r| r.matcher.run_id.clone());
    let id = col(&|r| r.matcher.id.clone());
    let kind = col(&|r| r.matcher.kind.as_str().to_owned());
    let name = col(&|r| r.matcher.name.clone());
    let event = col(&|r| r.matcher.event.clone());
    let expr = opt(&|r| r.matcher.expr.clone());
    let join_on = opt(&|r| r.join_on.clone());
    let join_path = opt(&|r| r.join_path.clone());
    let join_value = opt(&|r| r.matcher.join.as_ref().map(|j| j.value.clone()));
    let trigger = opt(&|r| r.matcher.trigger.clone());
    let since: Vec<i64> = rows.iter().map(|r| r.matcher.since).collect();
    let deadline: Vec<i64> = rows.iter().map(|r| r.matcher.deadline).collect();
    let stmt = client
        .prepare_cached(
            "WITH m AS (
                INSERT INTO matchers (run_id, id, kind, name, event, expr, join_on, join_path, join_value,
                                      trigger_event, since, deadline)
                SELECT u.run_id, u.id, u.kind, u.name, u.event, u.expr, u.join_on, u.join_path, u.join_value::jsonb,
                       u.trigger_event, u.since, u.deadline
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[])
                     AS u(run_id, id, kind, name, event, expr, join_on, join_path, join_value, trigger_event, since,
                          deadline)
                ON CONFLICT (run_id, id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,
                    event = EXCLUDED.event, expr = EXCLUDED.expr, join_on = EXCLUDED.join_on,
                    join_path = EXCLUDED.join_path, join_value = EXCLUDED.join_value,
                    trigger_event = EXCLUDED.trigger_event, since = EXCLUDED.since, deadline = EXCLUDED.deadline
                RETURNING event, coalesce(join_path, '') AS path
            ), paths AS (
                INSERT INTO matcher_paths (event, path) SELECT DISTINCT event, path FROM m
                ON CONFLICT DO NOTHING
            )
            SELECT d.event, pg_notify($13, d.event)::text FROM (SELECT DISTINCT event FROM m) d",
        )
        .await?;
    let found = client
        .query(
            &stmt,
            &[
                &run_id,
                &id,
                &kind,
                &name,
                &event,
                &expr,
                &join_on,
                &join_path,
                &join_value,
                &trigger,
                &since,
                &deadline,
                &channel,
            ],
        )
        .await?;
    Ok(found.iter().map(|r| r.get(0)).collect())
}

/// A waiting step's result (or an invoked run's result for its caller), written only while the
/// run is active and, for a wait, only by the transaction that deletes its matcher; wakes the
/// run. Answers whether it woke a run that no worker holds.
async fn resolve(client: &impl GenericClient, matcher: Option<&str>, step: &Steps, i: usize) -> Result<bool, Fail> {
    let stmt = client
        .prepare_cached(&format!(
            "WITH active AS (SELECT id FROM runs WHERE id = $1 AND status NOT IN {TERMINAL}),
             del AS (DELETE FROM matchers WHERE $2::text IS NOT NULL AND run_id = $1 AND id = $2
                     AND EXISTS (SELECT 1 FROM active) RETURNING 1),
             ins AS (INSERT INTO steps {STEP_COLUMNS}
                     SELECT $1, $3, $4, $5, $6, $7, $8, $9, $10
                     WHERE EXISTS (SELECT 1 FROM active) AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM del))
                     ON CONFLICT DO NOTHING RETURNING 1)
             UPDATE runs SET wake_at = least(coalesce(wake_at, $9), $9)
             WHERE id = $1 AND status NOT IN {TERMINAL} AND EXISTS (SELECT 1 FROM ins)
             RETURNING lease_token IS NULL"
        ))
        .await?;
    let woke = client
        .query_opt(
            &stmt,
            &[
                &step.run_id[i],
                &matcher,
                &step.hash[i],
                &step.name[i],
                &step.kind[i],
                &step.memo[i],
                &step.attempts[i],
                &step.started_at[i],
                &step.ended_at[i],
                &step.detail[i],
            ],
        )
        .await?;
    Ok(woke.is_some_and(|r| r.get(0)))
}

/// Asks for an active run's cancellation (the first reason stays) and makes it due by `at`.
/// `None` when the run has ended or does not exist; else whether no worker holds it.
pub(super) async fn cancel(
    client: &impl GenericClient,
    run_id: &str,
    cancellation: &str,
    at: Millis,
) -> Result<Option<bool>, Fail> {
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE runs SET cancel = coalesce(cancel, $2), wake_at = least(coalesce(wake_at, $3), $3)
             WHERE id = $1 AND status NOT IN {TERMINAL} RETURNING lease_token IS NULL"
        ))
        .await?;
    Ok(client.query_opt(&stmt, &[&run_id, &cancellation, &at]).await?.map(|r| r.get(0)))
}

/// Runs, by column.
#[derive(Debug, Default)]
pub(super) struct Runs {
    pub(super) id: Vec<String>,
    pub(super) function_id: Vec<String>,
    event_id: Vec<String>,
    event_ids: Vec<String>,
    status: Vec<String>,
    attempt: Vec<i32>,
    created_at: Vec<i64>,
    started_at: Vec<Option<i64>>,
    ended_at: Vec<Option<i64>>,
    output: Vec<Option<String>>,
    error: Vec<Option<String>>,
    pub(super) wake_at: Vec<Option<i64>>,
    state: Vec<String>,
    parent: Vec<Option<String>>,
    rerun_of: Vec<Option<String>>,
    pub(super) dedupe_key: Vec<String>,
    /// The id of the batch's event that creates the run (`None`: an event-less run).
    owner: Vec<Option<String>>,
    /// Its flow control keys (JSON; `None` when it has none): those decided at creation are
    /// enforced by [`super::gates`], the claim-time ones by `claims`.
    flow: Vec<Option<String>>,
    /// Whether its claims go through claim-time flow control (see `claims`).
    gated: Vec<bool>,
    /// Its order among its function's due work (`created_at` minus its priority).
    score: Vec<i64>,
    /// The budgets it counts against (a JSON array), for claims to leave out full ones.
    budgets: Vec<String>,
}

impl Runs {
    fn push(&mut self, new: &NewRun, owner: Option<&str>) -> Result<(), StoreError> {
        let run = &new.run;
        self.id.push(run.id.clone());
        self.function_id.push(run.function_id.clone());
        self.event_id.push(run.event_ids.first().cloned().unwrap_or_default());
        self.event_ids.push(json(&run.event_ids)?);
        self.status.push(run.status.as_str().to_owned());
        self.attempt.push(int(run.attempt));
        self.created_at.push(run.created_at);
        self.started_at.push(run.started_at);
        self.ended_at.push(run.ended_at);
        self.output.push(opt_json(run.output.as_ref())?);
        self.error.push(opt_json(run.error.as_ref())?);
        self.wake_at.push(run.wake_at);
        self.state.push(json(&run.state)?);
        self.parent.push(opt_json(run.parent.as_ref())?);
        self.rerun_of.push(run.rerun_of.clone());
        self.dedupe_key.push(run.dedupe_key());
        self.owner.push(owner.map(str::to_owned));
        self.flow.push((!run.flow.is_empty()).then(|| json(&run.flow)).transpose()?);
        self.gated.push(claims::is_gated(&run.flow));
        self.score.push(run.created_at.saturating_sub(run.flow.priority_ms));
        self.budgets.push(json(&claims::budgets(&run.flow))?);
        Ok(())
    }

    /// Its run `i` alone, without an owner (inserted whatever the batch's events did).
    fn one(&self, i: usize) -> Runs {
        Runs {
            id: vec![self.id[i].clone()],
            function_id: vec![self.function_id[i].clone()],
            event_id: vec![self.event_id[i].clone()],
            event_ids: vec![self.event_ids[i].clone()],
            status: vec![self.status[i].clone()],
            attempt: vec![self.attempt[i]],
            created_at: vec![self.created_at[i]],
            started_at: vec![self.started_at[i]],
            ended_at: vec![self.ended_at[i]],
            output: vec![self.output[i].clone()],
            error: vec![self.error[i].clone()],
            wake_at: vec![self.wake_at[i]],
            state: vec![self.state[i].clone()],
            parent: vec![self.parent[i].clone()],
            rerun_of: vec![self.rerun_of[i].clone()],
            dedupe_key: vec![self.dedupe_key[i].clone()],
            owner: vec![None],
            flow: vec![self.flow[i].clone()],
            gated: vec![self.gated[i]],
            score: vec![self.score[i]],
            budgets: vec![self.budgets[i].clone()],
        }
    }
}

/// Events, by column.
#[derive(Debug, Default)]
pub(super) struct Events {
    id: Vec<String>,
    name: Vec<String>,
    data: Vec<String>,
    ts: Vec<i64>,
    usr: Vec<Option<String>>,
    source: Vec<String>,
    received_at: Vec<i64>,
    embeds: Vec<Option<String>>,
}

impl Events {
    fn append(&mut self, other: &Events) {
        self.id.extend_from_slice(&other.id);
        self.name.extend_from_slice(&other.name);
        self.data.extend_from_slice(&other.data);
        self.ts.extend_from_slice(&other.ts);
        self.usr.extend_from_slice(&other.usr);
        self.source.extend_from_slice(&other.source);
        self.received_at.extend_from_slice(&other.received_at);
        self.embeds.extend_from_slice(&other.embeds);
    }
}

/// A batch (or an ack's emitted events), encoded.
#[derive(Debug, Default)]
pub(super) struct Accepting {
    events: Events,
    /// Per event: whether it is the first with its id in the batch (later ones are never new).
    first: Vec<bool>,
    /// Every run, in order.
    runs: Runs,
    /// The runs no gate decides on, inserted with the events.
    plain: Runs,
    /// The runs gates decide on, one at a time after the events (see [`super::gates`]).
    gated: Vec<Gated>,
    /// Per run: the index of its event, `None` for an event-less run.
    run_event: Vec<Option<usize>>,
    steps: Steps,
    matchers: Vec<MatcherRow>,
    /// (event index, matcher, step index in `resolved`).
    resolves: Vec<(usize, Option<String>, usize)>,
    resolved: Steps,
    /// (event index, run, cancellation, at).
    cancels: Vec<(usize, String, String, Millis)>,
    /// When it is accepted, on the engine's clock (see [`Batch::at`]).
    at: Millis,
}

impl Accepting {
    pub(super) fn encode(batch: &Batch) -> Result<Accepting, StoreError> {
        Accepting::encode_parts(&batch.events, &batch.runs, batch.at)
    }

    fn encode_parts(events: &[NewEvent], lone: &[NewRun], at: Millis) -> Result<Accepting, StoreError> {
        let mut out = Accepting { at, ..Accepting::default() };
        let mut seen = HashSet::new();
        let mut steps: Vec<&StepRecord> = Vec::new();
        let mut resolved: Vec<&StepRecord> = Vec::new();
        for (i, new) in events.iter().enumerate() {
            let e = &new.event;
            let first = seen.insert(e.id.as_str());
            out.first.push(first);
            out.events.id.push(e.id.clone());
            out.events.name.push(e.name.clone());
            out.events.data.push(e.data.to_json_string());
            out.events.ts.push(e.ts);
            out.events.usr.push(opt_json(e.user.as_ref())?);
            out.events.source.push(e.source.as_str().to_owned());
            out.events.received_at.push(e.received_at);
            out.events.embeds.push(new.embeds.clone());
            if !first {
                continue;
            }
            for run in &new.runs {
                out.push_run(run, Some(&e.id))?;
                out.run_event.push(Some(i));
                steps.extend(&run.steps);
                for m in &run.matchers {
                    out.matchers.push(MatcherRow::encode(m)?);
                }
            }
            for Resolution { matcher, record } in &new.resolves {
                out.resolves.push((i, matcher.clone(), resolved.len()));
                resolved.push(record);
            }
            for CancelRequest { run_id, cancellation } in &new.cancels {
                out.cancels.push((i, run_id.clone(), json(cancellation)?, cancellation.at));
            }
        }
        for run in lone {
            out.push_run(run, None)?;
            out.run_event.push(None);
            steps.extend(&run.steps);
            for m in &run.matchers {
                out.matchers.push(MatcherRow::encode(m)?);
            }
        }
        out.steps = Steps::encode(steps)?;
        out.resolved = Steps::encode(resolved)?;
        Ok(out)
    }

    fn push_run(&mut self, run: &NewRun, owner: Option<&str>) -> Result<(), StoreError> {
        let i = self.runs.id.len();
        self.runs.push(run, owner)?;
        match Gated::of(run, i, self.runs.one(i)) {
            Some(gated) => self.gated.push(gated),
            None => self.plain.push(run, owner)?,
        }
        Ok(())
    }

    /// Whether more than the events and runs are written (then a transaction holds it all).
    fn needs_transaction(&self) -> bool {
        !self.steps.is_empty()
            || !self.matchers.is_empty()
            || !self.resolves.is_empty()
            || !self.cancels.is_empty()
            || !self.gated.is_empty()
    }

    fn is_empty(&self) -> bool {
        self.events.id.is_empty() && self.runs.id.is_empty()
    }
}

/// What inserting a batch did: per event (new, runs created), the event-less runs created.
type Inserted = (Vec<Accepted>, Vec<CreatedRun>);

/// Inserts events (parameters `$1`..`$9`), answering the ids of those that were new.
macro_rules! insert_events {
    () => {
        "INSERT INTO events (id, name, data, ts, usr, source, received_at, embeds, writer)
         SELECT u.*, $9::bigint FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                                           $6::text[], $7::bigint[], $8::text[]) AS u
         ON CONFLICT (id) DO NOTHING
         RETURNING id"
    };
}

/// Inserts events and runs (a run with an owner only if this statement inserted its event),
/// the runs due by `at` leased to `claim`: answers the events inserted and, for each run
/// inserted, its lease token if it was leased.
pub(super) async fn insert_rows(
    client: &impl GenericClient,
    s: &Shared,
    e: &Events,
    r: &Runs,
    claim: Option<&ClaimFor>,
    at: Millis,
) -> Result<(HashSet<String>, HashMap<String, Option<i64>>), Fail> {
    if r.id.is_empty() {
        // Events alone (mostly an ack's `inngest/function.finished`): without the runs' part,
        // the statement is less for Postgres to plan and start at every run's end.
        let stmt = client.prepare_cached(insert_events!()).await?;
        let found = client
            .query(&stmt, &[&e.id, &e.name, &e.data, &e.ts, &e.usr, &e.source, &e.received_at, &e.embeds, &s.me])
            .await?;
        return Ok((found.iter().map(|row| row.get(0)).collect(), HashMap::new()));
    }
    let stmt = client
        .prepare_cached(concat!(
            "WITH ev AS (",
            insert_events!(),
            "), ru AS (
                INSERT INTO runs (id, function_id, event_id, event_ids, status, attempt, created_at, started_at,
                                  ended_at, output, error, wake_at, state, parent, rerun_of, dedupe_key, flow,
                                  gated, score, buckets, writer, lease_token, lease_owner, lease_until)
                SELECT u.id, u.function_id, u.event_id, u.event_ids, u.status, u.attempt, u.created_at, u.started_at,
                       u.ended_at, u.output, u.error, u.wake_at, u.state, u.parent, u.rerun_of, u.dedupe_key, u.flow,
                       u.gated, u.score, ARRAY(SELECT jsonb_array_elements_text(u.budgets::jsonb)), $9::bigint,
                       CASE WHEN l.leased THEN nextval('lease_tokens') END,
                       CASE WHEN l.leased THEN $27::text END,
                       CASE WHEN l.leased THEN clock_timestamp() + $28::bigint * interval '1 millisecond' END
                FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::integer[],
                            $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[], $21::bigint[],
                            $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $29::text[],
                            $30::boolean[], $31::bigint[], $32::text[])
                     WITH ORDINALITY
                     AS u(id, function_id, event_id, event_ids, status, attempt, created_at, started_at, ended_at,
                          output, error, wake_at, state, parent, rerun_of, dedupe_key, owner, flow, gated, score,
                          budgets, ord),
                     -- A run is leased on insert only if it is due (a window's is not, until it closes),
                     -- and only if no limit gates its claims (those go through `claims`).
                     LATERAL (SELECT $27::text IS NOT NULL AND u.wake_at <= $33::bigint AND NOT u.gated AS leased) l
                WHERE u.owner IS NULL OR u.owner IN (SELECT id FROM ev)
                ORDER BY u.ord
                ON CONFLICT (dedupe_key, function_id) DO NOTHING
                RETURNING id, lease_token
            )
            SELECT true, id, NULL::bigint FROM ev UNION ALL SELECT false, id, lease_token FROM ru"
        ))
        .await?;
    let claimer = claim.map(|c| c.worker.clone());
    let ttl = claim.map_or(0, |c| i64::try_from(c.ttl.as_millis()).unwrap_or(i64::MAX));
    let found = client
        .query(
            &stmt,
            &[
                &e.id,
                &e.name,
                &e.data,
                &e.ts,
                &e.usr,
                &e.source,
                &e.received_at,
                &e.embeds,
                &s.me,
                &r.id,
                &r.function_id,
                &r.event_id,
                &r.event_ids,
                &r.status,
                &r.attempt,
                &r.created_at,
                &r.started_at,
                &r.ended_at,
                &r.output,
                &r.error,
                &r.wake_at,
                &r.state,
                &r.parent,
                &r.rerun_of,
                &r.dedupe_key,
                &r.owner,
                &claimer,
                &ttl,
                &r.flow,
                &r.gated,
                &r.score,
                &r.budgets,
                &at,
            ],
        )
        .await?;
    let mut new_events: HashSet<String> = HashSet::new();
    let mut created: HashMap<String, Option<i64>> = HashMap::new();
    for row in found {
        let (is_event, id): (bool, String) = (row.get(0), row.get(1));
        if is_event {
            new_events.insert(id);
        } else {
            created.insert(id, row.get(2));
        }
    }
    Ok((new_events, created))
}

/// Inserts a batch's events and the runs no gate decides on; then, for the events that were
/// new, the gated runs (one at a time, in order: see [`super::gates`]), the runs' steps and
/// matchers, the waits they resolve and the runs they cancel.
async fn insert_batch(
    client: &impl GenericClient,
    s: &Shared,
    rows: &Accepting,
    claim: Option<&ClaimFor>,
    effects: &mut Effects,
) -> Result<Inserted, Fail> {
    if rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (e, r) = (&rows.events, &rows.runs);
    let (new_events, mut created) = insert_rows(client, s, e, &rows.plain, claim, rows.at).await?;
    let new: Vec<bool> = rows.first.iter().zip(&e.id).map(|(first, id)| *first && new_events.contains(id)).collect();
    let mut skipped: Vec<Vec<SkipRecord>> = vec![Vec::new(); e.id.len()];
    let mut windowed: Vec<Vec<Debounced>> = vec![Vec::new(); e.id.len()];
    for gated in &rows.gated {
        let event = rows.run_event[gated.index];
        if event.is_some_and(|event| !new[event]) {
            continue;
        }
        // An event-less run (a re-run) is gated as its own event, as the other stores do.
        let event_id = event.map_or(&r.id[gated.index], |event| &e.id[event]);
        match gates::create(client, s, gated, event_id, rows.at, claim, effects).await? {
            Outcome::Created(token, window) => {
                created.insert(r.id[gated.index].clone(), token);
                if let (Some(event), Some(window)) = (event, window) {
                    windowed[event].push(window);
                }
            }
            Outcome::Skipped(skip) => {
                if let Some(event) = event {
                    skipped[event].push(skip);
                }
            }
            Outcome::Windowed(window) => {
                if let Some(event) = event {
                    windowed[event].push(window);
                }
            }
            Outcome::Duplicate => {}
        }
    }
    let mut per_event: Vec<Vec<CreatedRun>> = vec![Vec::new(); e.id.len()];
    let mut lone = Vec::new();
    for (i, id) in r.id.iter().enumerate() {
        let Some(token) = created.get(id) else { continue };
        let lease = token.map(|t| Lease {
            run_id: id.clone(),
            function_id: r.function_id[i].clone(),
            token: u64::try_from(t).unwrap_or_default(),
            interrupted: 0,
        });
        match lease {
            Some(_) => effects.leased.push(id.clone()),
            None => effects.work |= r.wake_at[i].is_some(),
        }
        let run = CreatedRun { id: id.clone(), lease };
        match rows.run_event[i] {
            Some(event) => per_event[event].push(run),
            None => lone.push(run),
        }
    }
    if rows.needs_transaction() {
        let runs: HashSet<&str> = created.keys().map(String::as_str).collect();
        insert_steps(client, &rows.steps.of(&runs)).await?;
        let matchers: Vec<&MatcherRow> =
            rows.matchers.iter().filter(|m| runs.contains(m.matcher.run_id.as_str())).collect();
        effects.observed.extend(insert_matchers(client, &s.channel("observe"), &matchers).await?);
        for (event, matcher, i) in &rows.resolves {
            if new[*event] {
                effects.work |= resolve(client, matcher.as_deref(), &rows.resolved, *i).await?;
            }
        }
        for (event, run_id, cancellation, at) in &rows.cancels {
            if new[*event] {
                if let Some(unheld) = cancel(client, run_id, cancellation, *at).await? {
                    effects.work |= unheld;
                    effects.cancelled.push(run_id.clone());
                }
            }
        }
    }
    let accepted =
        e.id.iter()
            .zip(new)
            .zip(per_event.into_iter().zip(skipped).zip(windowed))
            .map(|((event_id, new), ((runs, skipped), windowed))| Accepted {
                event_id: event_id.clone(),
                new,
                runs,
                skipped,
                windowed,
            })
            .collect();
    Ok((accepted, lone))
}

pub(super) async fn accept(s: &Shared, rows: &Accepting, claim: Option<&ClaimFor>) -> Result<(Accepts, Effects), Fail> {
    let mut client = s.client().await?;
    let mut effects = Effects::default();
    let (events, runs) = if rows.needs_transaction() {
        let tx = client.transaction().await?;
        let inserted = insert_batch(&tx, s, rows, claim, &mut effects).await?;
        tx.commit().await?;
        inserted
    } else {
        insert_batch(&client, s, rows, claim, &mut effects).await?
    };
    Ok((Accepts { events, runs }, effects))
}

/// Leases due runs without claim-time flow control (the others are `claims`'); answers them,
/// and whether gated runs of these functions are due too (checked in the same statement, so the
/// functions without limits pay no round trip for it).
pub(super) async fn claim(s: &Shared, claim: &ClaimFor, now: Millis, max: usize) -> Result<(Vec<Lease>, bool), Fail> {
    if max == 0 || claim.functions.is_empty() {
        return Ok((Vec::new(), false));
    }
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "WITH c AS (
                SELECT id, wake_at, false AS expired FROM (
                    SELECT id, wake_at FROM runs
                    WHERE lease_token IS NULL AND wake_at IS NOT NULL AND NOT gated AND wake_at <= $2
                      AND (function_id || '') = ANY($1)
                    ORDER BY wake_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
                UNION ALL
                SELECT id, wake_at, true FROM (
                    SELECT id, wake_at FROM runs
                    WHERE lease_token IS NOT NULL AND lease_until < statement_timestamp() AND NOT gated
                      AND (function_id || '') = ANY($1)
                    ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED) expired
                ORDER BY wake_at LIMIT $3
            ), l AS (
                UPDATE runs r SET lease_token = nextval('lease_tokens'), lease_owner = $4,
                    lease_until = clock_timestamp() + $5::bigint * interval '1 millisecond',
                    interrupted = r.interrupted + CASE WHEN c.expired THEN 1 ELSE 0 END
                FROM c WHERE r.id = c.id
                RETURNING r.id, r.function_id, r.lease_token, c.wake_at, c.expired, r.interrupted
            )
            SELECT id, function_id, lease_token, wake_at, expired, interrupted FROM l
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL, NULL
            WHERE EXISTS (SELECT 1 FROM runs WHERE gated AND lease_token IS NULL AND wake_at IS NOT NULL
                                                  AND wake_at <= $2 AND (function_id || '') = ANY($1))
               OR EXISTS (SELECT 1 FROM runs WHERE gated AND lease_token IS NOT NULL
                                                  AND lease_until < statement_timestamp() AND (function_id || '') = ANY($1))",
        )
        .await?;
    let functions: Vec<&str> = claim.functions.iter().map(String::as_str).collect();
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let ttl = i64::try_from(claim.ttl.as_millis()).unwrap_or(i64::MAX);
    let rows = client.query(&stmt, &[&functions, &now, &limit, &claim.worker, &ttl]).await?;
    let gated = rows.iter().any(|row| row.get::<_, Option<String>>(0).is_none());
    let mut leases: Vec<(Option<i64>, Lease)> = rows
        .iter()
        .filter(|row| row.get::<_, Option<String>>(0).is_some())
        .map(|row| {
            let run_id: String = row.get(0);
            if row.get::<_, bool>(4) {
                tracing::warn!(run_id = %run_id, "a worker's lease expired: the run is claimed again");
            }
            let token: i64 = row.get(2);
            let interrupted = u32::try_from(row.get::<_, i32>(5)).unwrap_or_default();
            let lease =
                Lease { run_id, function_id: row.get(1), token: u64::try_from(token).unwrap_or_default(), interrupted };
            (row.get(3), lease)
        })
        .collect();
    leases.sort_by_key(|(due, _)| *due);
    Ok((leases.into_iter().map(|(_, lease)| lease).collect(), gated))
}

/// Extends leases still held; answers which are, and the held runs whose cancellation was asked.
pub(super) async fn renew(s: &Shared, leases: &[Lease], ttl: Duration) -> Result<(Vec<bool>, Vec<String>), Fail> {
    if leases.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE runs r SET lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond'
             FROM unnest($1::text[], $2::bigint[]) AS u(id, token)
             WHERE r.id = u.id AND r.lease_token = u.token
             RETURNING r.id, r.cancel IS NOT NULL",
        )
        .await?;
    // In a stable order, so that two renewals never wait on each other's rows in a cycle.
    let mut sorted: Vec<&Lease> = leases.iter().collect();
    sorted.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let ids: Vec<&str> = sorted.iter().map(|l| l.run_id.as_str()).collect();
    let tokens: Vec<i64> = sorted.iter().map(|l| i64::try_from(l.token).unwrap_or(-1)).collect();
    let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let rows = client.query(&stmt, &[&ids, &tokens, &ttl]).await?;
    let mut held = HashSet::new();
    let mut cancelled = Vec::new();
    for row in &rows {
        let id: String = row.get(0);
        if row.get::<_, bool>(1) {
            cancelled.push(id.clone());
        }
        held.insert(id);
    }
    Ok((leases.iter().map(|l| held.contains(&l.run_id)).collect(), cancelled))
}

/// A checkpoint, encoded.
#[derive(Debug)]
pub(super) struct Checkpointing {
    steps: Steps,
    resolutions: Vec<Option<String>>,
    resolved: Steps,
    started: Option<Millis>,
}

impl Checkpointing {
    pub(super) fn encode(checkpoint: &Checkpoint) -> Result<Checkpointing, StoreError> {
        Ok(Checkpointing {
            steps: Steps::encode(&checkpoint.steps)?,
            resolutions: checkpoint.resolutions.iter().map(|r| r.matcher.clone()).collect(),
            resolved: Steps::encode(checkpoint.resolutions.iter().map(|r| &r.record))?,
            started: checkpoint.started,
        })
    }
}

/// Writes a checkpoint under its lease; `None` when the lease is lost (nothing written).
pub(super) async fn checkpoint(s: &Shared, lease: &Lease, rows: &Checkpointing) -> Result<Option<Effects>, Fail> {
    let mut client = s.client().await?;
    let tx = client.transaction().await?;
    // The fence and the steps in one statement: the steps are written only if the lease holds.
    let stmt = tx
        .prepare_cached(&format!(
            "WITH f AS (
                UPDATE runs SET
                    status = CASE WHEN $3::bigint IS NOT NULL AND status NOT IN {TERMINAL} THEN 'Running'
                                  ELSE status END,
                    started_at = CASE WHEN $3::bigint IS NOT NULL AND status NOT IN {TERMINAL}
                                      THEN coalesce(started_at, $3) ELSE started_at END,
                    version = CASE WHEN $3::bigint IS NOT NULL THEN nextval('changes') ELSE version END,
                    writer = CASE WHEN $3::bigint IS NOT NULL THEN $4 ELSE writer END
                WHERE id = $1 AND lease_token = $2 RETURNING 1
            ), st AS (
                INSERT INTO steps {STEP_COLUMNS} {} WHERE EXISTS (SELECT 1 FROM f) ON CONFLICT DO NOTHING
            )
            SELECT count(*) FROM f",
            unnest_steps(5)
        ))
        .await?;
    let token = i64::try_from(lease.token).unwrap_or(-1);
    let st = &rows.steps;
    let held: i64 = tx
        .query_one(
            &stmt,
            &[
                &lease.run_id,
                &token,
                &rows.started,
                &s.me,
                &st.run_id,
                &st.hash,
                &st.name,
                &st.kind,
                &st.memo,
                &st.attempts,
                &st.started_at,
                &st.ended_at,
                &st.detail,
            ],
        )
        .await?
        .get(0);
    if held == 0 {
        return Ok(None);
    }
    let mut effects = Effects::default();
    for (i, matcher) in rows.resolutions.iter().enumerate() {
        effects.work |= resolve(&tx, matcher.as_deref(), &rows.resolved, i).await?;
    }
    tx.commit().await?;
    Ok(Some(effects))
}

/// An ack, encoded.
#[derive(Debug)]
pub(super) struct Acking {
    run: Runs,
    terminal: bool,
    /// Whether the run holds slots (see `claims`), which the ack frees.
    gated: bool,
    cancel: Option<String>,
    steps: Steps,
    waiting_on: Vec<String>,
    matchers: Vec<MatcherRow>,
    drop_matchers: DropMatchers,
    emitted: Accepting,
    resume: Steps,
    at: Millis,
    /// The singleton lock the run holds, let go when it ends.
    singleton: Option<String>,
}

impl Acking {
    pub(super) fn encode(ack: &Ack) -> Result<Acking, StoreError> {
        let mut run = Runs::default();
        run.push(&NewRun::new(ack.run.clone()), None)?;
        Ok(Acking {
            run,
            terminal: ack.run.status.is_terminal(),
            gated: claims::is_gated(&ack.run.flow),
            cancel: opt_json(ack.run.cancellation.as_ref())?,
            steps: Steps::encode(&ack.steps)?,
            waiting_on: ack.waiting_on.clone(),
            matchers: ack.matchers.iter().map(MatcherRow::encode).collect::<Result<_, _>>()?,
            drop_matchers: ack.drop_matchers.clone(),
            emitted: Accepting::encode_parts(&ack.events, &[], ack.at)?,
            resume: Steps::encode(ack.resume.iter().map(|r| &r.record))?,
            at: ack.at,
            singleton: ack.run.flow.singleton.clone(),
        })
    }
}

/// Writes a pass's result and releases its lease; `None` when the lease is lost.
pub(super) async fn ack(
    s: &Shared,
    lease: &Lease,
    rows: &Acking,
    claim: Option<&ClaimFor>,
) -> Result<Option<(Acked, Effects)>, Fail> {
    let mut client = s.client().await?;
    let tx = client.transaction().await?;
    let token = i64::try_from(lease.token).unwrap_or(-1);
    // The fence, first and alone: once the row is locked, whatever arrived for the run before
    // (a result, a cancellation) is committed and seen by the next statement, and whatever
    // arrives after waits for this commit and lowers the due time it writes.
    let fence = tx.prepare_cached("SELECT 1 FROM runs WHERE id = $1 AND lease_token = $2 FOR UPDATE").await?;
    if tx.query_opt(&fence, &[&lease.run_id, &token]).await?.is_none() {
        return Ok(None);
    }
    // The pass's writes are sent together (pipelined: one round trip, not one each), in the
    // order written here, which is the order Postgres runs them in: the update sees the steps
    // inserted before it, and a matcher is dropped before one of the same id is stored. None
    // needs another's answer. Each statement is prepared (or found in the connection's cache)
    // before anything is sent, so that no preparation reorders them.
    if !rows.steps.is_empty() {
        tx.prepare_cached(&insert_steps_sql()).await?;
    }
    let r = &rows.run;
    let update = tx
        .prepare_cached(
            "UPDATE runs SET status = $2, attempt = $3, started_at = $4, ended_at = $5, output = $6, error = $7,
                state = $8, cancel = coalesce(cancel, $9),
                wake_at = CASE
                    WHEN $10::boolean THEN NULL::bigint
                    WHEN cancel IS NOT NULL OR $9::text IS NOT NULL
                         OR EXISTS (SELECT 1 FROM steps s WHERE s.run_id = $1 AND s.hash = ANY($11::text[]))
                    THEN least(coalesce($12::bigint, $13::bigint), $13::bigint)
                    ELSE $12::bigint END,
                lease_token = NULL, lease_owner = NULL, lease_until = NULL, interrupted = 0,
                version = nextval('changes'), writer = $14
             WHERE id = $1 RETURNING wake_at",
        )
        .await?;
    // Its step-level slots end with the lease (and its run-level ones with the run): other
    // workers may have runs waiting for them.
    let holds = if rows.gated {
        Some(tx.prepare_cached("DELETE FROM flow_holds WHERE run_id = $1 AND (NOT per_run OR $2::boolean)").await?)
    } else {
        None
    };
    let drop_all = rows.terminal || rows.drop_matchers == DropMatchers::All;
    let drop_matchers = match (&rows.drop_matchers, drop_all) {
        (_, true) => Some(tx.prepare_cached("DELETE FROM matchers WHERE run_id = $1 RETURNING event").await?),
        (DropMatchers::Ids(_), false) => {
            Some(tx.prepare_cached("DELETE FROM matchers WHERE run_id = $1 AND id = ANY($2) RETURNING event").await?)
        }
        (_, false) => None,
    };
    let ids: &[String] = match &rows.drop_matchers {
        DropMatchers::Ids(ids) => ids,
        _ => &[],
    };
    let matchers: Vec<&MatcherRow> = if rows.terminal { Vec::new() } else { rows.matchers.iter().collect() };
    let observe = s.channel("observe");
    let mut effects = Effects { released: vec![lease.run_id.clone()], ..Effects::default() };
    let steps = insert_steps(&tx, &rows.steps);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 14] = [
        &lease.run_id,
        &r.status[0],
        &r.attempt[0],
        &r.started_at[0],
        &r.ended_at[0],
        &r.output[0],
        &r.error[0],
        &r.state[0],
        &rows.cancel,
        &rows.terminal,
        &rows.waiting_on,
        &r.wake_at[0],
        &rows.at,
        &s.me,
    ];
    let updated = tx.query_one(&update, &params);
    let freed = async {
        if let Some(holds) = &holds {
            tx.execute(holds, &[&lease.run_id, &rows.terminal]).await?;
        }
        Ok::<(), Fail>(())
    };
    let dropped = async {
        Ok::<Vec<tokio_postgres::Row>, Fail>(match &drop_matchers {
            Some(stmt) if drop_all => tx.query(stmt, &[&lease.run_id]).await?,
            Some(stmt) => tx.query(stmt, &[&lease.run_id, &ids]).await?,
            None => Vec::new(),
        })
    };
    let kept = async {
        if rows.terminal {
            gates::ended(&tx, &lease.run_id, rows.singleton.as_deref()).await?;
            Ok::<Vec<String>, Fail>(Vec::new())
        } else {
            insert_matchers(&tx, &observe, &matchers).await
        }
    };
    let inserted = insert_batch(&tx, s, &rows.emitted, claim, &mut effects);
    let (steps, updated, freed, dropped, kept, inserted) =
        futures::join!(steps, updated, freed, dropped, kept, inserted);
    // In the order they were sent: the first failure is the cause, the later ones its echo
    // ("current transaction is aborted").
    steps?;
    let due: Option<i64> = updated?.get(0);
    freed?;
    let gone = dropped?;
    let observed = kept?;
    let (events, _) = inserted?;
    effects.work |= rows.gated;
    effects.unobserved.extend(gone.iter().map(|r| r.get::<_, String>(0)));
    effects.observed.extend(observed);
    if rows.terminal {
        effects.released_ended.push(lease.run_id.clone());
    }
    for i in 0..rows.resume.run_id.len() {
        effects.work |= resolve(&tx, None, &rows.resume, i).await?;
    }
    tx.commit().await?;
    effects.work |= due.is_some_and(|d| d <= rows.at);
    Ok(Some((Acked::Committed { due, events }, effects)))
}

impl Acking {
    /// Whether its emitted events may create runs, which it then claims (see
    /// `Shared::retrying_claimed`).
    pub(super) fn claims_runs(&self) -> bool {
        !self.emitted.runs.id.is_empty()
    }

    /// Whether what it emits is events alone (no run to create, no wait to resolve, no run to
    /// cancel): a group inserts those of all its members with one statement.
    fn emits_events_only(&self) -> bool {
        self.emitted.runs.id.is_empty() && !self.emitted.needs_transaction()
    }
}

/// One ack of a group (see [`ack_group`]).
pub(super) struct Member<'a> {
    pub(super) lease: &'a Lease,
    pub(super) rows: &'a Acking,
    pub(super) claim: Option<&'a ClaimFor>,
}

/// The run updates of a group, by column.
#[derive(Default)]
struct RunUpdates<'a> {
    id: Vec<&'a str>,
    status: Vec<&'a str>,
    attempt: Vec<i32>,
    started_at: Vec<Option<i64>>,
    ended_at: Vec<Option<i64>>,
    output: Vec<Option<&'a str>>,
    error: Vec<Option<&'a str>>,
    state: Vec<&'a str>,
    cancel: Vec<Option<&'a str>>,
    terminal: Vec<bool>,
    /// The hashes the pass waits on, as a JSON array (`None`: none).
    waiting_on: Vec<Option<String>>,
    wake_at: Vec<Option<i64>>,
    at: Vec<i64>,
}

/// Writes many passes' results in one transaction: what [`ack`] writes for each, with one
/// fence for them all, then one statement per table for those whose lease holds. Answers, per
/// member, what [`ack`] answers: `None` when its lease is lost (nothing of it is written). The
/// members are of distinct runs.
pub(super) async fn ack_group(s: &Shared, members: &[Member<'_>]) -> Result<Vec<Option<(Acked, Effects)>>, Fail> {
    let mut client = s.client().await?;
    let tx = client.transaction().await?;
    // The fence, as `ack`'s, first and alone; the rows are locked in the order of their ids (as
    // renewals lock theirs), so that two workers' groups never wait on each other in a cycle.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| members[a].lease.run_id.cmp(&members[b].lease.run_id));
    let ids: Vec<&str> = order.iter().map(|&i| members[i].lease.run_id.as_str()).collect();
    let tokens: Vec<i64> = order.iter().map(|&i| i64::try_from(members[i].lease.token).unwrap_or(-1)).collect();
    let fence = tx
        .prepare_cached(
            "SELECT id FROM runs WHERE (id, lease_token) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))
             ORDER BY id FOR UPDATE",
        )
        .await?;
    let held: HashSet<String> = tx.query(&fence, &[&ids, &tokens]).await?.iter().map(|r| r.get(0)).collect();
    let fenced: Vec<usize> = order.into_iter().filter(|&i| held.contains(&members[i].lease.run_id)).collect();
    let mut out: Vec<Option<(Acked, Effects)>> = members.iter().map(|_| None).collect();
    if fenced.is_empty() {
        return Ok(out);
    }

    let mut steps = Steps::default();
    let mut u = RunUpdates::default();
    let (mut holds_run, mut holds_terminal) = (Vec::new(), Vec::new());
    let (mut drop_all, mut drop_run, mut drop_id) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ended_run, mut ended_lock) = (Vec::new(), Vec::new());
    let mut matchers: Vec<&MatcherRow> = Vec::new();
    let mut events = Events::default();
    // Per event of `events`: its member, and its index among that member's emitted events.
    let mut emitted_by: Vec<(usize, usize)> = Vec::new();
    for &i in &fenced {
        let Member { lease, rows, .. } = &members[i];
        let id = lease.run_id.as_str();
        steps.append(&rows.steps);
        let r = &rows.run;
        u.id.push(id);
        u.status.push(&r.status[0]);
        u.attempt.push(r.attempt[0]);
        u.started_at.push(r.started_at[0]);
        u.ended_at.push(r.ended_at[0]);
        u.output.push(r.output[0].as_deref());
        u.error.push(r.error[0].as_deref());
        u.state.push(&r.state[0]);
        u.cancel.push(rows.cancel.as_deref());
        u.terminal.push(rows.terminal);
        u.waiting_on.push((!rows.waiting_on.is_empty()).then(|| json(&rows.waiting_on)).transpose()?);
        u.wake_at.push(r.wake_at[0]);
        u.at.push(rows.at);
        if rows.gated {
            holds_run.push(id);
            holds_terminal.push(rows.terminal);
        }
        match &rows.drop_matchers {
            _ if rows.terminal => drop_all.push(id),
            DropMatchers::All => drop_all.push(id),
            DropMatchers::Ids(ids) => {
                for m in ids {
                    drop_run.push(id);
                    drop_id.push(m.as_str());
                }
            }
            DropMatchers::None => {}
        }
        if rows.terminal {
            ended_run.push(id);
            ended_lock.push(rows.singleton.as_deref());
        } else {
            matchers.extend(&rows.matchers);
        }
        if rows.emits_events_only() {
            events.append(&rows.emitted.events);
            emitted_by.extend((0..rows.emitted.events.id.len()).map(|j| (i, j)));
        }
    }

    // Sent together (pipelined), in the order of `ack`'s: each prepared first, so that no
    // preparation reorders them.
    if !steps.is_empty() {
        tx.prepare_cached(&insert_steps_sql()).await?;
    }
    let update = tx
        .prepare_cached(
            "UPDATE runs r SET status = u.status, attempt = u.attempt, started_at = u.started_at,
                ended_at = u.ended_at, output = u.output, error = u.error, state = u.state,
                cancel = coalesce(r.cancel, u.cancel),
                wake_at = CASE
                    WHEN u.terminal THEN NULL::bigint
                    WHEN r.cancel IS NOT NULL OR u.cancel IS NOT NULL
                         OR (u.waiting_on IS NOT NULL AND EXISTS (
                             SELECT 1 FROM steps s WHERE s.run_id = u.id
                             AND s.hash IN (SELECT jsonb_array_elements_text(u.waiting_on::jsonb))))
                    THEN least(coalesce(u.wake_at, u.at), u.at)
                    ELSE u.wake_at END,
                lease_token = NULL, lease_owner = NULL, lease_until = NULL, interrupted = 0,
                version = nextval('changes'), writer = $14
             FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::boolean[], $11::text[], $12::bigint[], $13::bigint[])
                  AS u(id, status, attempt, started_at, ended_at, output, error, state, cancel, terminal,
                       waiting_on, wake_at, at)
             WHERE r.id = u.id RETURNING r.id, r.wake_at",
        )
        .await?;
    let holds = if holds_run.is_empty() {
        None
    } else {
        Some(
            tx.prepare_cached(
                "DELETE FROM flow_holds h USING unnest($1::text[], $2::boolean[]) AS u(run_id, terminal)
                 WHERE h.run_id = u.run_id AND (NOT h.per_run OR u.terminal)",
            )
            .await?,
        )
    };
    let drop_all_stmt = if drop_all.is_empty() {
        None
    } else {
        Some(tx.prepare_cached("DELETE FROM matchers WHERE run_id = ANY($1::text[]) RETURNING run_id, event").await?)
    };
    let drop_ids_stmt = if drop_run.is_empty() {
        None
    } else {
        Some(
            tx.prepare_cached(
                "DELETE FROM matchers WHERE (run_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                 RETURNING run_id, event",
            )
            .await?,
        )
    };
    let ended_stmt = if ended_run.is_empty() { None } else { Some(gates::prepare_ended_many(&tx).await?) };
    let events_stmt = if events.id.is_empty() { None } else { Some(tx.prepare_cached(insert_events!()).await?) };
    let observe = s.channel("observe");

    let steps_sent = insert_steps(&tx, &steps);
    let update_params: [&(dyn tokio_postgres::types::ToSql + Sync); 14] = [
        &u.id,
        &u.status,
        &u.attempt,
        &u.started_at,
        &u.ended_at,
        &u.output,
        &u.error,
        &u.state,
        &u.cancel,
        &u.terminal,
        &u.waiting_on,
        &u.wake_at,
        &u.at,
        &s.me,
    ];
    let updated = tx.query(&update, &update_params);
    let freed = async {
        if let Some(stmt) = &holds {
            tx.execute(stmt, &[&holds_run, &holds_terminal]).await?;
        }
        Ok::<(), Fail>(())
    };
    let dropped = async {
        let mut gone = Vec::new();
        if let Some(stmt) = &drop_all_stmt {
            gone.extend(tx.query(stmt, &[&drop_all]).await?);
        }
        Ok::<Vec<tokio_postgres::Row>, Fail>(gone)
    };
    let dropped_ids = async {
        Ok::<Vec<tokio_postgres::Row>, Fail>(match &drop_ids_stmt {
            Some(stmt) => tx.query(stmt, &[&drop_run, &drop_id]).await?,
            None => Vec::new(),
        })
    };
    let ended = async {
        if let Some(stmt) = &ended_stmt {
            tx.execute(stmt, &[&ended_run, &ended_lock]).await?;
        }
        Ok::<(), Fail>(())
    };
    let kept = insert_matchers(&tx, &observe, &matchers);
    let inserted = async {
        Ok::<Vec<tokio_postgres::Row>, Fail>(match &events_stmt {
            Some(stmt) => {
                let e = &events;
                tx.query(stmt, &[&e.id, &e.name, &e.data, &e.ts, &e.usr, &e.source, &e.received_at, &e.embeds, &s.me])
                    .await?
            }
            None => Vec::new(),
        })
    };
    let (steps_sent, updated, freed, dropped, dropped_ids, ended, kept, inserted) =
        futures::join!(steps_sent, updated, freed, dropped, dropped_ids, ended, kept, inserted);
    // In the order they were sent: the first failure is the cause, the later ones its echo.
    steps_sent?;
    let updated = updated?;
    freed?;
    let gone = dropped?;
    let gone_ids = dropped_ids?;
    ended?;
    let observed = kept?;
    let inserted = inserted?;

    let due: HashMap<String, Option<i64>> = updated.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut effects: HashMap<usize, Effects> = fenced
        .iter()
        .map(|&i| (i, Effects { released: vec![members[i].lease.run_id.clone()], ..Effects::default() }))
        .collect();
    let member_of: HashMap<&str, usize> = fenced.iter().map(|&i| (members[i].lease.run_id.as_str(), i)).collect();
    for row in gone.iter().chain(&gone_ids) {
        let run: &str = row.get(0);
        if let Some(e) = member_of.get(run).and_then(|i| effects.get_mut(i)) {
            e.unobserved.push(row.get(1));
        }
    }
    // The names matchers wait for are this process's, whichever member brought them.
    if let Some(e) = effects.get_mut(&fenced[0]) {
        e.observed.extend(observed);
    }
    // An event id new to the database is new for the first member that emitted it (as if the
    // members had been written one after the other).
    let mut new_ids: HashSet<String> = inserted.iter().map(|r| r.get(0)).collect();
    let mut accepted: HashMap<usize, Vec<Accepted>> = HashMap::new();
    for (k, &(i, j)) in emitted_by.iter().enumerate() {
        let emitted = &members[i].rows.emitted;
        let new = emitted.first[j] && new_ids.remove(&events.id[k]);
        accepted.entry(i).or_default().push(Accepted {
            event_id: events.id[k].clone(),
            new,
            runs: Vec::new(),
            skipped: Vec::new(),
            windowed: Vec::new(),
        });
    }
    // The rare rest, member by member, after the statements above (as `ack` sends them).
    for &i in &fenced {
        let Member { rows, claim, .. } = &members[i];
        let Some(e) = effects.get_mut(&i) else { continue };
        if !rows.emits_events_only() {
            let (events, _) = insert_batch(&tx, s, &rows.emitted, *claim, e).await?;
            accepted.insert(i, events);
        }
        for k in 0..rows.resume.run_id.len() {
            e.work |= resolve(&tx, None, &rows.resume, k).await?;
        }
    }
    tx.commit().await?;
    for &i in &fenced {
        let Member { lease, rows, .. } = &members[i];
        let Some(mut e) = effects.remove(&i) else { continue };
        let due = due.get(&lease.run_id).copied().flatten();
        e.work |= rows.gated || due.is_some_and(|d| d <= rows.at);
        if rows.terminal {
            e.released_ended.push(lease.run_id.clone());
        }
        let events = accepted.remove(&i).unwrap_or_default();
        out[i] = Some((Acked::Committed { due, events }, e));
    }
    Ok(out)
}

/// Gives back the runs leased to `owner` (one write's own lease owner, see
/// `Shared::retrying_claimed`): its commit went through and its answer was lost, so nobody
/// holds their tokens. Answers whether there were any. Served by the `runs_leased` index.
pub(super) async fn release_unlearned(s: &Shared, owner: &str) -> Result<bool, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE runs SET lease_token = NULL, lease_owner = NULL, lease_until = NULL
             WHERE lease_token IS NOT NULL AND lease_owner = $1",
        )
        .await?;
    let released = client.execute(&stmt, &[&owner]).await?;
    if released > 0 {
        tracing::warn!(released, "a write committed but its answer was lost: the runs it claimed are given back");
    }
    Ok(released > 0)
}

/// Gives a run back, due at `due`, if the lease is still held, with the step-level slots it
/// held (see `claims`); answers whether it was.
pub(super) async fn release(s: &Shared, lease: &Lease, due: Millis) -> Result<bool, Fail> {
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(&format!(
            "WITH r AS (
                UPDATE runs SET wake_at = CASE WHEN status IN {TERMINAL} THEN NULL ELSE $3::bigint END,
                    lease_token = NULL, lease_owner = NULL, lease_until = NULL, interrupted = 0
                WHERE id = $1 AND lease_token = $2 RETURNING gated
            ), h AS (
                DELETE FROM flow_holds WHERE run_id = $1 AND NOT per_run AND EXISTS (SELECT 1 FROM r WHERE gated)
            )
            SELECT count(*) FROM r"
        ))
        .await?;
    let token = i64::try_from(lease.token).unwrap_or(-1);
    let released: i64 = client.query_one(&stmt, &[&lease.run_id, &token, &due]).await?.get(0);
    Ok(released > 0)
}

pub(super) async fn request_cancel(s: &Shared, run_id: &str, cancellation: &str, at: Millis) -> Result<bool, Fail> {
    let client = s.client().await?;
    Ok(cancel(&client, run_id, cancellation, at).await?.is_some())
}

pub(super) async fn append_logs(s: &Shared, lines: &[LogLine]) -> Result<(), Fail> {
    if lines.is_empty() {
        return Ok(());
    }
    let client = s.client().await?;
    let stmt = client
        .prepare_cached(
            "INSERT INTO step_logs (run_id, step, attempt, ts, level, message)
             SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[], $5::text[], $6::text[])",
        )
        .await?;
    let run_id: Vec<&str> = lines.iter().map(|l| l.run_id.as_str()).collect();
    let step: Vec<&str> = lines.iter().map(|l| l.step.as_str()).collect();
    let attempt: Vec<i32> = lines.iter().map(|l| int(l.attempt)).collect();
    let ts: Vec<i64> = lines.iter().map(|l| l.ts).collect();
    let level: Vec<&str> = lines.iter().map(|l| l.level.as_str()).collect();
    let message: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    client.execute(&stmt, &[&run_id, &step, &attempt, &ts, &level, &message]).await?;
    Ok(())
}
