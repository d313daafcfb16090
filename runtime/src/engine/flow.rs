//! Flow control as the engine decides it when it creates a run: the buckets its passes count
//! against (concurrency keys, throttle keys, evaluated once, on the triggering event, and kept
//! with the run, so a changed expression applies to new runs only), its priority, and its
//! deadlines; and, at each pass, whether a deadline has passed.
//!
//! Bucket names: a concurrency limit of scope `fn` is `fn:<function>:<n>:<key>` (`n` is the
//! limit's position, so two limits never share a bucket by accident), one of scope `env` or
//! `account` is `env:<key>` and is shared by every function whose key evaluates the same (an
//! engine serves one environment of one account); a throttle is `<function>:<n>:<key>`. A key
//! that evaluates to null or to a field the event lacks is `<nil>`, one bucket for all such
//! runs, as in Inngest; a key that fails to evaluate is logged and counts as `<nil>`.
//!
//! And the gates of a run an event triggers, which the store checks as it creates the run
//! (`store::Gates`): a rate limit's bucket is `<function>:<key>`, an idempotency key's
//! `idempotency:<function>:<key>`, a singleton's lock `<function>` or `<function>:<key>`, a
//! debounce window's or a batch's `<function>` or `<function>:<key>`.

use serde_json::Value;

use super::trigger_event::EventJson;
use crate::expr::{Exprs, KeyValue};
use crate::function::{ConcurrencyPer, ConcurrencyScope, FunctionSpec, SingletonMode};
use crate::model::{Cancellation, CancelledBy, ConcurrencySlot, FlowKeys, Millis, RunRecord, SkipReason, ThrottleSlot};
use crate::store::{Gates, RateGate, WindowGate, WindowRule};

/// How long an idempotency key holds: one run per key value in this window.
pub(crate) const IDEMPOTENCY_WINDOW_MS: Millis = 24 * 60 * 60 * 1000;

/// The widest priority, in seconds either way.
pub(crate) const PRIORITY_RANGE_S: i64 = 600;

/// A run's flow control, for a run of `spec` triggered by `event` and created at `now`.
pub(super) fn flow_keys(exprs: &Exprs, spec: &FunctionSpec, event: &dyn EventJson, now: Millis) -> FlowKeys {
    let options = &spec.options;
    let key = |expr: Option<&str>, what: &str| -> String {
        let Some(expr) = expr else { return String::new() };
        let value = exprs.key(expr, event.json());
        if let KeyValue::Error(error) = &value {
            tracing::warn!(function_id = %spec.id, %error, "the {what} key failed to evaluate; the run counts in the `<nil>` bucket");
        }
        value.bucket().to_owned()
    };
    let concurrency = options
        .concurrency
        .iter()
        .enumerate()
        .filter(|(_, c)| c.limit > 0)
        .map(|(n, c)| {
            let key = key(c.key.as_deref(), "concurrency");
            let bucket = match c.scope {
                ConcurrencyScope::Fn => format!("fn:{}:{n}:{key}", spec.id),
                ConcurrencyScope::Env | ConcurrencyScope::Account => format!("env:{key}"),
            };
            ConcurrencySlot { bucket, limit: c.limit, per_run: c.per == ConcurrencyPer::Run }
        })
        .collect();
    let throttle = options
        .throttle
        .iter()
        .enumerate()
        .map(|(n, t)| ThrottleSlot {
            bucket: format!("{}:{n}:{}", spec.id, key(t.key.as_deref(), "throttle")),
            limit: t.limit.max(1),
            period_ms: millis(t.period).max(1),
            burst: t.burst.max(1),
        })
        .collect();
    let priority_ms = options.priority.as_ref().map_or(0, |p| priority_s(exprs, &spec.id, &p.run, event.json()) * 1000);
    let timeouts = options.timeouts.as_ref();
    FlowKeys {
        concurrency,
        throttle,
        priority_ms,
        prioritized: options.priority.is_some(),
        start_deadline: timeouts.and_then(|t| t.start).map(|d| now.saturating_add(millis(d))),
        finish_timeout_ms: timeouts.and_then(|t| t.finish).map(millis),
        singleton: None,
    }
}

/// The gates of a run that `event` triggers (see [`Gates`]), and the singleton lock it takes:
/// `rate_limit` (GCRA; `burst = limit / 10`, as Inngest's), `idempotency` (one run per key
/// value per 24 h) and `singleton`. A key that evaluates to `false` turns its gate off for
/// this event; one that evaluates to null, or to a field the event lacks, is `<nil>`: every
/// such event shares one bucket (or lock); one that fails to evaluate is logged and counts as
/// `<nil>` for a rate limit, and turns a singleton off (as in Inngest).
pub(super) fn gates(exprs: &Exprs, spec: &FunctionSpec, event: &dyn EventJson) -> (Gates, Option<String>) {
    let options = &spec.options;
    // `None`: the gate is off for this event.
    let key = |expr: Option<&str>, what: &str| -> Option<KeyValue> {
        let Some(expr) = expr else { return Some(KeyValue::Value(String::new())) };
        match exprs.key(expr, event.json()) {
            KeyValue::False => None,
            KeyValue::Error(error) => {
                tracing::warn!(function_id = %spec.id, %error, "the {what} key failed to evaluate");
                Some(KeyValue::Error(error))
            }
            value => Some(value),
        }
    };
    let mut gates = Gates::default();
    if let Some(limit) = &options.rate_limit {
        if let Some(key) = key(limit.key.as_deref(), "rate_limit") {
            let key = key.bucket().to_owned();
            gates.rates.push(RateGate {
                bucket: format!("{}:{key}", spec.id),
                limit: limit.limit.max(1),
                period_ms: millis(limit.period).max(1),
                burst: limit.limit / 10,
                reason: SkipReason::RateLimit { key },
            });
        }
    }
    if let Some(expr) = &options.idempotency {
        if let Some(key) = key(Some(expr), "idempotency") {
            let key = key.bucket().to_owned();
            gates.rates.push(RateGate {
                bucket: format!("idempotency:{}:{key}", spec.id),
                limit: 1,
                period_ms: IDEMPOTENCY_WINDOW_MS,
                burst: 0,
                reason: SkipReason::Idempotency { key },
            });
        }
    }
    let lock = options.singleton.as_ref().and_then(|singleton| {
        gates.singleton_cancels = singleton.mode == SingletonMode::Cancel;
        match key(singleton.key.as_deref(), "singleton")? {
            KeyValue::Error(_) => None,
            _ if singleton.key.is_none() => Some(spec.id.clone()),
            value => Some(format!("{}:{}", spec.id, value.bucket())),
        }
    });
    (gates, lock)
}

/// The window that `event` (whose `ts` is `ts`) goes into, for a debounced or batched
/// function, and how long after the event a window it opens closes at the latest (when it is
/// due if nothing else comes). One window per key value: without a key, or with an empty one,
/// the function has one window; a key that evaluates to null, or to a field the event lacks,
/// is `<nil>` (one window for all such events); one that fails to evaluate is logged and
/// counts as `<nil>`. A batched function's event whose `if` is false (or fails to evaluate)
/// goes into no window: it runs on its own, as in Inngest; so does a cron tick.
pub(super) fn window(
    exprs: &Exprs,
    spec: &FunctionSpec,
    event: &dyn EventJson,
    ts: Millis,
) -> Option<(WindowGate, Millis)> {
    let options = &spec.options;
    let (key, timeout_ms, rule, wait) = if let Some(batch) = &options.batch_events {
        if event.json().get("name").and_then(Value::as_str) == Some(super::cron::SCHEDULED_EVENT) {
            return None; // a cron tick is not batched, as in Inngest
        }
        if let Some(cond) = &batch.if_expr {
            match exprs.test(cond, &[("event", event.json())]) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    tracing::warn!(function_id = %spec.id, %error, "the batch `if` failed to evaluate; the event runs on its own");
                    return None;
                }
            }
        }
        let timeout = millis(batch.timeout).max(1);
        (batch.key.as_deref(), Some(timeout), WindowRule::Batch { max_size: batch.max_size.max(1) }, timeout)
    } else {
        let debounce = options.debounce.as_ref()?;
        let period_ms = millis(debounce.period).max(1);
        let timeout_ms = debounce.timeout.map(millis);
        let rule = WindowRule::Debounce { period_ms, all_events: debounce.all_events };
        (debounce.key.as_deref(), timeout_ms, rule, timeout_ms.map_or(period_ms, |t| t.min(period_ms)))
    };
    let key = match key.filter(|k| !k.trim().is_empty()).map(|e| exprs.key(e, event.json())) {
        None => None,
        Some(KeyValue::Error(error)) => {
            tracing::warn!(function_id = %spec.id, %error, "the window's key failed to evaluate; the event goes to the `<nil>` window");
            Some("<nil>".to_owned())
        }
        Some(value) => Some(value.bucket().to_owned()),
    };
    let gate = WindowGate {
        bucket: key.as_ref().map_or_else(|| spec.id.clone(), |k| format!("{}:{k}", spec.id)),
        key: key.unwrap_or_default(),
        timeout_ms,
        ts,
        rule,
    };
    Some((gate, wait))
}

/// A priority expression's value in seconds: an integer, clamped to ±600; anything else is 0.
fn priority_s(exprs: &Exprs, function: &str, expr: &str, event: &Value) -> i64 {
    let value = match exprs.eval(expr, &[("event", event)]) {
        Ok(cel::Value::Int(n)) => n,
        Ok(cel::Value::UInt(n)) => i64::try_from(n).unwrap_or(i64::MAX),
        Ok(other) => {
            tracing::warn!(function_id = %function, value = ?other, "the priority is not an integer; it counts as 0");
            0
        }
        Err(error) => {
            tracing::warn!(function_id = %function, %error, "the priority failed to evaluate; it counts as 0");
            0
        }
    };
    value.clamp(-PRIORITY_RANGE_S, PRIORITY_RANGE_S)
}

fn millis(d: std::time::Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
}

/// When a started run is cancelled if it has not ended (`timeouts.finish`).
pub(super) fn finish_deadline(run: &RunRecord) -> Option<Millis> {
    let started = run.started_at?;
    run.flow.finish_timeout_ms.map(|t| started.saturating_add(t))
}

/// The timeout that has passed for this run at `now`, if one has: `start` while it has not
/// started, `finish` once it has.
pub(super) fn timed_out(run: &RunRecord, now: Millis) -> Option<Cancellation> {
    let which = match run.started_at {
        None => run.flow.start_deadline.filter(|d| *d <= now).map(|_| "start"),
        Some(_) => finish_deadline(run).filter(|d| *d <= now).map(|_| "finish"),
    }?;
    Some(Cancellation { by: CancelledBy::Timeout { which: which.to_owned() }, at: now })
}
