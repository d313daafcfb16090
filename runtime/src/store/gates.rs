//! The gates a store checks in the transaction that creates a run: rate limits (idempotency
//! is one: one run per key per 24 h) and the singleton lock. Both stores share this decision:
//! the store reads the state the gates name, [`decide`] says what to do, and the store writes
//! that in the same transaction, so a crash neither doubles a run nor loses a charge, and two
//! engines on one store cannot both take a lock.
//!
//! A rate limit is GCRA on run creation, kept as each bucket's theoretical arrival time (TAT)
//! in microseconds under `rate:<bucket>`: with emission interval `T = period / limit`, a run is
//! admitted when the bucket's TAT is at most `burst × T` ahead of now, and the TAT then moves
//! `T` on (from now, if it was in the past). A TAT in the past is the same as none, so such
//! state may be deleted at any time.

use crate::model::{Millis, SkipReason, SkipRecord};
use crate::store::Gates;

/// How a rate limit's state is keyed where a store persists it.
pub(crate) const RATE_KEY: &str = "rate:";

/// What to do with a new run.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Create it; write these rate states (`rate:<bucket>`, TAT in µs), and cancel this run
    /// (the lock's active holder, in `cancel` mode). The new run takes its singleton lock.
    Create { rates: Vec<(String, i64)>, cancel: Option<String> },
    /// Do not create it: record this.
    Skip(SkipRecord),
}

/// Decides on a new run of `function_id` with `gates`, created for `event_id` at `at`: `rate`
/// reads a bucket's TAT (by its full key), `holder` is the active run holding the run's
/// singleton lock, if it has one.
pub(crate) fn decide<E>(
    function_id: &str,
    gates: &Gates,
    event_id: &str,
    at: Millis,
    mut rate: impl FnMut(&str) -> Result<Option<i64>, E>,
    holder: Option<String>,
) -> Result<Decision, E> {
    let skip = |reason: SkipReason| {
        Decision::Skip(SkipRecord { function_id: function_id.to_owned(), event_id: event_id.to_owned(), reason, at })
    };
    let cancel = match holder {
        Some(run_id) if !gates.singleton_cancels => return Ok(skip(SkipReason::Singleton { run_id })),
        holder => holder,
    };
    let now = at.saturating_mul(1000);
    let mut rates = Vec::with_capacity(gates.rates.len());
    for gate in &gates.rates {
        let key = format!("{RATE_KEY}{}", gate.bucket);
        let interval = (gate.period_ms.saturating_mul(1000) / i64::from(gate.limit.max(1))).max(1);
        let tat = rate(&key)?.map_or(now, |t| t.max(now));
        if tat - now > interval.saturating_mul(i64::from(gate.burst)) {
            return Ok(skip(gate.reason.clone()));
        }
        rates.push((key, tat.saturating_add(interval)));
    }
    Ok(Decision::Create { rates, cancel })
}

/// Whether a rate state read at `at` (ms) no longer limits anything.
pub(crate) fn rate_expired(tat_us: i64, at: Millis) -> bool {
    tat_us <= at.saturating_mul(1000)
}
