//! Claims of runs under claim-time flow control (concurrency limits, throttles, priorities),
//! exact across workers.
//!
//! A run whose function sets any of them is *gated* (a column set when it is created): the
//! plain claim skips it, and this claim takes it, in one transaction:
//!
//! 1. Due gated runs of the claimer's functions (and those whose lease expired) are read, lowest
//!    score (`created_at` minus the priority) first, locked `FOR UPDATE SKIP LOCKED`.
//! 2. The budgets their next passes need (concurrency buckets; throttles, for starts) are locked
//!    with transaction advisory locks, in the order of their lock ids, so two claimers never
//!    wait on each other in a cycle. Once a claimer holds a budget's lock, it reads the budget
//!    in a statement of its own: every claim that spent from it before has committed (an
//!    advisory lock is released after its transaction's commit is visible), so two workers
//!    never spend the same slot or token.
//! 3. What is in use is counted from `flow_holds`, one row per slot a lease took: a step-level
//!    slot counts while that lease is held and not expired (so a dead worker's slots come back
//!    when its lease expires, and an ack or release frees them by ending the lease); a run-level
//!    slot (`per_run`) counts while its run has started and not ended, or while the lease that
//!    took it for the start is held. A throttle is its theoretical arrival time (GCRA, the
//!    burst rule of the in-memory queue) in `throttle_times`, keyed `throttle:<bucket>`.
//! 4. The candidates are admitted in score order: a run past its start or finish deadline at
//!    once, past every limit (its pass cancels it); else if every bucket it needs has room,
//!    and then if its throttles admit its start, which only then spends their tokens (a start
//!    blocked by concurrency spends none). Leases, holds and throttle times are written by the
//!    same transaction.
//!
//! A full bucket is left out of the next look (a second and third round, whose new budgets are
//! only tried, `pg_try_advisory_xact_lock`, never waited for), so a backlog held back by one key
//! does not hide the runs of another. Runs this worker saw held back are remembered for
//! [`crate::store::WorkQueue::held_back`].

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;

use super::write::TERMINAL;
use super::{Fail, Shared};
use crate::model::{FlowKeys, Millis};
use crate::store::queue::{throttle_charge, throttle_wait, Micros, THROTTLE_KEY};
use crate::store::{ClaimFor, HeldBack, Lease};

/// Candidates read per round.
const ROUND: i64 = 64;

/// Rounds of candidates per claim.
const ROUNDS: usize = 3;

/// The deadline of a run (start or finish) as SQL over its row.
const DEADLINE: &str = "CASE WHEN started_at IS NULL THEN (flow::jsonb ->> 'start_deadline')::bigint \
                        ELSE started_at + (flow::jsonb ->> 'finish_timeout_ms')::bigint END";

/// Whether a run's flow control is enforced at claim time, here (see the module docs).
pub(super) fn is_gated(flow: &FlowKeys) -> bool {
    !flow.concurrency.is_empty() || !flow.throttle.is_empty() || flow.priority_ms != 0 || flow.prioritized
}

/// Every budget a run may count against, stored with it so a claim can leave out the runs that
/// need a full one.
pub(super) fn budgets(flow: &FlowKeys) -> Vec<String> {
    let mut out: Vec<String> = flow.concurrency.iter().map(|c| c.bucket.clone()).collect();
    out.extend(flow.throttle.iter().map(|t| format!("{THROTTLE_KEY}{}", t.bucket)));
    out
}

/// What a gated claim saw, for [`Shared::next_due`]'s answer.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub(super) leases: Vec<Lease>,
    /// Whether every due gated run was looked at (else some may be claimable now).
    pub(super) complete: bool,
    /// When a throttle admits a start it held back, or a budget another worker held may be free.
    pub(super) retry_at: Option<Millis>,
    /// Runs held back, and why.
    pub(super) held_back: Vec<(String, HeldBack)>,
    /// Runs taken (no longer held back).
    pub(super) taken: Vec<String>,
}

/// A due gated run, as read.
struct Candidate {
    id: String,
    flow: FlowKeys,
    started: bool,
    expired: bool,
    past_deadline: bool,
}

impl Candidate {
    /// The concurrency buckets its next pass needs (a started run holds its run-level ones),
    /// with whether each is run-level.
    fn buckets(&self) -> impl Iterator<Item = (&str, bool, u32)> {
        self.flow
            .concurrency
            .iter()
            .filter(move |c| !(c.per_run && self.started))
            .map(|c| (c.bucket.as_str(), c.per_run, c.limit))
    }

    /// The throttles its next pass needs: only a start is throttled.
    fn throttles(&self) -> impl Iterator<Item = (String, &crate::model::ThrottleSlot)> {
        self.flow.throttle.iter().filter(move |_| !self.started).map(|t| (format!("{THROTTLE_KEY}{}", t.bucket), t))
    }

    fn keys(&self) -> Vec<String> {
        if self.past_deadline {
            return Vec::new();
        }
        let mut keys: Vec<String> = self.buckets().map(|(b, _, _)| b.to_owned()).collect();
        keys.extend(self.throttles().map(|(k, _)| k));
        keys
    }
}

/// A run a claim admitted.
struct Taken {
    run: String,
    /// Whether it is taken over from an expired lease.
    expired: bool,
    /// The slots its lease takes: (bucket, run-level).
    holds: Vec<(String, bool)>,
}

/// The budgets a claim holds the locks of, as read under them.
#[derive(Default)]
struct Budgets {
    locked: HashSet<String>,
    /// Keys another claimer held (tried, not waited for).
    busy: HashSet<String>,
    in_use: HashMap<String, u32>,
    tats: HashMap<String, Micros>,
    /// Throttle times this claim moved.
    charged: HashMap<String, Micros>,
}

/// Leases up to `max` due gated runs of the claimer's functions (see the module docs).
pub(super) async fn claim(s: &Shared, claim: &ClaimFor, now: Millis, max: usize) -> Result<Outcome, Fail> {
    let mut client = s.client().await?;
    let tx = client.transaction().await?;
    let select = tx
        .prepare_cached(&format!(
            "SELECT id, flow, started_at IS NOT NULL, expired, coalesce({DEADLINE} <= $2, false) FROM (
                SELECT * FROM (
                    SELECT id, flow, started_at, score, false AS expired FROM runs
                    WHERE gated AND lease_token IS NULL AND wake_at IS NOT NULL AND wake_at <= $2
                      AND (function_id || '') = ANY($1) AND NOT (id = ANY($5))
                      AND ((NOT (buckets && $3) AND (started_at IS NOT NULL OR NOT (buckets && $4)))
                           OR coalesce({DEADLINE} <= $2, false))
                    ORDER BY score LIMIT $6 FOR UPDATE SKIP LOCKED) due
                UNION ALL
                SELECT * FROM (
                    SELECT id, flow, started_at, score, true FROM runs
                    WHERE gated AND lease_token IS NOT NULL AND lease_until < statement_timestamp()
                      AND (function_id || '') = ANY($1) AND NOT (id = ANY($5))
                    ORDER BY lease_until LIMIT $6 FOR UPDATE SKIP LOCKED) expired
            ) c ORDER BY score"
        ))
        .await?;
    let functions: Vec<&str> = claim.functions.iter().map(String::as_str).collect();
    let mut budgets = Budgets::default();
    // Left out of later rounds: buckets full for every pass, and budgets full for starts.
    let (mut full, mut full_for_starts) = (Vec::<String>::new(), Vec::<String>::new());
    let mut seen: Vec<String> = Vec::new();
    let mut out = Outcome { complete: true, ..Outcome::default() };
    let mut taken: Vec<Taken> = Vec::new();
    for round in 0..ROUNDS {
        let rows = tx.query(&select, &[&functions, &now, &full, &full_for_starts, &seen, &ROUND]).await?;
        let fetched = rows.len();
        let mut candidates = Vec::with_capacity(fetched);
        for row in rows {
            let flow: Option<String> = row.get(1);
            let flow: FlowKeys = flow.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default();
            candidates.push(Candidate {
                id: row.get(0),
                flow,
                started: row.get(2),
                expired: row.get(3),
                past_deadline: row.get(4),
            });
        }
        seen.extend(candidates.iter().map(|c| c.id.clone()));
        let wanted: Vec<String> = candidates
            .iter()
            .flat_map(Candidate::keys)
            .filter(|k| !budgets.locked.contains(k) && !budgets.busy.contains(k))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        lock(&tx, s, &mut budgets, wanted, round > 0).await?;
        for c in &candidates {
            if taken.len() >= max {
                out.complete = false;
                break;
            }
            if c.past_deadline {
                taken.push(Taken { run: c.id.clone(), expired: c.expired, holds: Vec::new() });
                continue;
            }
            let keys = c.keys();
            if keys.iter().any(|k| budgets.busy.contains(k)) {
                // Another claimer is spending from one of its budgets: look again shortly.
                out.retry_at = Some(out.retry_at.map_or(now, |t| t.min(now)));
                full.extend(keys.into_iter().filter(|k| budgets.busy.contains(k)));
                continue;
            }
            if let Some((bucket, per_run, _)) =
                c.buckets().find(|(b, _, limit)| budgets.in_use.get(*b).copied().unwrap_or(0) >= *limit)
            {
                out.held_back.push((c.id.clone(), HeldBack::Concurrency { bucket: bucket.to_owned() }));
                if per_run {
                    full_for_starts.push(bucket.to_owned())
                } else {
                    full.push(bucket.to_owned())
                }
                continue;
            }
            let wait = c
                .throttles()
                .filter_map(|(key, slot)| throttle_wait(slot, budgets.tats.get(&key).copied(), now).map(|t| (key, t)))
                .max_by_key(|(_, t)| *t);
            if let Some((key, until)) = wait {
                out.held_back.push((c.id.clone(), HeldBack::Throttle { until }));
                out.retry_at = Some(out.retry_at.map_or(until, |t| t.min(until)));
                full_for_starts.push(key);
                continue;
            }
            let mut holds = Vec::new();
            for (bucket, per_run, _) in c.buckets() {
                *budgets.in_use.entry(bucket.to_owned()).or_default() += 1;
                holds.push((bucket.to_owned(), per_run));
            }
            for (key, slot) in c.throttles() {
                let tat = throttle_charge(slot, budgets.tats.get(&key).copied(), now);
                budgets.tats.insert(key.clone(), tat);
                budgets.charged.insert(key, tat);
            }
            taken.push(Taken { run: c.id.clone(), expired: c.expired, holds });
        }
        if taken.len() >= max || fetched < usize::try_from(ROUND).unwrap_or(usize::MAX) {
            break;
        }
        if round + 1 == ROUNDS {
            // More held-back work than the rounds look at: what lies beyond may be claimable.
            out.complete = false;
        }
    }
    out.leases = take(&tx, claim, &taken, &budgets).await?;
    tx.commit().await?;
    out.taken = taken.into_iter().map(|t| t.run).collect();
    Ok(out)
}

/// Locks the budgets `keys` (waiting for them in the first round, in the order of their lock
/// ids; only trying in later ones, when locks are already held) and reads those it got.
async fn lock(
    tx: &impl GenericClient,
    s: &Shared,
    budgets: &mut Budgets,
    keys: Vec<String>,
    only_try: bool,
) -> Result<(), Fail> {
    if keys.is_empty() {
        return Ok(());
    }
    let namespace = format!("hookflow.{}.", s.schema);
    let got: Vec<String> = if only_try {
        let stmt = tx
            .prepare_cached(
                "SELECT k FROM unnest($1::text[]) AS k WHERE pg_try_advisory_xact_lock(hashtextextended($2 || k, 0))",
            )
            .await?;
        tx.query(&stmt, &[&keys, &namespace]).await?.iter().map(|r| r.get(0)).collect()
    } else {
        // One lock after the other, in the order of their ids (the void results are not read).
        let stmt = tx
            .prepare_cached(
                "SELECT pg_advisory_xact_lock(h) FROM (
                    SELECT DISTINCT hashtextextended($2 || k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY h) l",
            )
            .await?;
        tx.query(&stmt, &[&keys, &namespace]).await?;
        keys.clone()
    };
    let got_set: HashSet<&String> = got.iter().collect();
    budgets.busy.extend(keys.iter().filter(|k| !got_set.contains(k)).cloned());
    let (throttles, buckets): (Vec<String>, Vec<String>) = got.into_iter().partition(|k| k.starts_with(THROTTLE_KEY));
    if !buckets.is_empty() {
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT h.bucket, count(*) FROM flow_holds h JOIN runs r ON r.id = h.run_id
                 WHERE h.bucket = ANY($1)
                   AND ((r.lease_token = h.token AND r.lease_until >= clock_timestamp())
                        OR (h.per_run AND r.started_at IS NOT NULL AND r.status NOT IN {TERMINAL}))
                 GROUP BY h.bucket"
            ))
            .await?;
        for row in tx.query(&stmt, &[&buckets]).await? {
            let n: i64 = row.get(1);
            budgets.in_use.insert(row.get(0), u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
    if !throttles.is_empty() {
        let stmt = tx.prepare_cached("SELECT key, tat FROM throttle_times WHERE key = ANY($1)").await?;
        for row in tx.query(&stmt, &[&throttles]).await? {
            budgets.tats.insert(row.get(0), row.get(1));
        }
    }
    budgets.locked.extend(buckets);
    budgets.locked.extend(throttles);
    Ok(())
}

/// Leases the admitted runs, records the slots they hold, and writes the throttle times moved.
async fn take(
    tx: &impl GenericClient,
    claim: &ClaimFor,
    taken: &[Taken],
    budgets: &Budgets,
) -> Result<Vec<Lease>, Fail> {
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = taken.iter().map(|t| t.run.as_str()).collect();
    let (mut hold_bucket, mut hold_run, mut hold_per_run) = (Vec::new(), Vec::new(), Vec::new());
    for t in taken {
        for (bucket, per_run) in &t.holds {
            hold_bucket.push(bucket.as_str());
            hold_run.push(t.run.as_str());
            hold_per_run.push(*per_run);
        }
    }
    let stmt = tx
        .prepare_cached(
            "WITH t AS (
                UPDATE runs r SET lease_token = nextval('lease_tokens'), lease_owner = $2,
                    lease_until = clock_timestamp() + $3::bigint * interval '1 millisecond',
                    interrupted = r.interrupted + CASE WHEN r.lease_token IS NOT NULL THEN 1 ELSE 0 END
                WHERE r.id = ANY($1)
                RETURNING r.id, r.function_id, r.lease_token, r.interrupted
            ), h AS (
                INSERT INTO flow_holds (bucket, run_id, per_run, token)
                SELECT u.bucket, u.run_id, u.per_run, t.lease_token
                FROM unnest($4::text[], $5::text[], $6::boolean[]) AS u(bucket, run_id, per_run)
                JOIN t ON t.id = u.run_id
                ON CONFLICT (bucket, run_id, per_run) DO UPDATE SET token = EXCLUDED.token
            )
            SELECT id, function_id, lease_token, interrupted FROM t",
        )
        .await?;
    let ttl = i64::try_from(claim.ttl.as_millis()).unwrap_or(i64::MAX);
    let rows = tx.query(&stmt, &[&ids, &claim.worker, &ttl, &hold_bucket, &hold_run, &hold_per_run]).await?;
    if !budgets.charged.is_empty() {
        let (keys, tats): (Vec<&String>, Vec<Micros>) = budgets.charged.iter().map(|(k, t)| (k, *t)).unzip();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO throttle_times (key, tat) SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT (key) DO UPDATE SET tat = EXCLUDED.tat",
            )
            .await?;
        tx.execute(&stmt, &[&keys, &tats]).await?;
    }
    let mut by_id: HashMap<String, Lease> = rows
        .iter()
        .map(|row| {
            let id: String = row.get(0);
            let token: i64 = row.get(2);
            let lease = Lease {
                run_id: id.clone(),
                function_id: row.get(1),
                token: u64::try_from(token).unwrap_or_default(),
                interrupted: u32::try_from(row.get::<_, i32>(3)).unwrap_or_default(),
            };
            (id, lease)
        })
        .collect();
    // In the order admitted (score order).
    Ok(taken
        .iter()
        .filter_map(|t| {
            if t.expired {
                tracing::warn!(run_id = %t.run, "a worker's lease expired: the run is claimed again");
            }
            by_id.remove(&t.run)
        })
        .collect())
}
