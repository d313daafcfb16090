//! The Postgres store's schema and its migrations.
//!
//! Every table lives in one Postgres schema (`hookflow` unless configured), so several apps or
//! test suites can share a database. `schema_version` holds one row per applied migration.
//! Workers that start together migrate once: the migration runs under a session advisory lock
//! keyed on the schema's name, each step and its version row in one transaction. A database
//! whose schema is newer than this build knows is refused (an older binary must not write rows
//! a newer one reads differently); an older one is brought up to date.
//!
//! Layout, and why:
//! - `runs` carries its own queue state: `wake_at` (due time, on the engines' clock) and the
//!   lease (`lease_token`, `lease_owner`, `lease_until` on the database's clock). The partial
//!   index `runs_due` holds only unleased, queued runs, so a claim's `FOR UPDATE SKIP LOCKED`
//!   scan never walks past runs in flight; `runs_leased` finds expired leases (queries compare
//!   `lease_until` with `statement_timestamp()`, which the index can serve: `clock_timestamp()`
//!   is volatile, so the planner could only filter with it). Queue queries filter the worker's
//!   functions with `(function_id || '') = ANY(..)`, an expression no index serves, so that the
//!   planner always walks these small partial indexes: on a young table (statistics not yet
//!   gathered: any burst in the first minute) it otherwise chose `runs_by_function`, which
//!   holds every run of those functions (a claim's expired-lease part took 50 ms, 0.05 ms on
//!   `runs_leased`; BENCHMARKS.md, Postgres store). The cost: a worker that runs only some of
//!   a schema's functions walks past the others' due runs. `interrupted` counts the leases in
//!   a row that expired (version 2), so that every worker sees how often a run took a worker
//!   down.
//! - `matchers` is indexed by (event, join path, join value): an incoming event is matched
//!   with one query, for whichever worker accepts it. `matcher_paths` lists the join paths
//!   (and, with an empty path, the names) that matchers ever waited on: it is tiny, only grows,
//!   and tells each worker which event names to look matchers up for.
//! - `version` (from the `changes` sequence) and `writer` on `runs` and `events` let a worker
//!   relay the changes other workers made to its dev UI's live stream.
//! - Event-time flow control (version 3), each table keyed by what two workers accepting at
//!   once must agree on, its row locked by the accepting transaction (an upsert that creates or
//!   locks it, so the first of two racing workers decides and the second waits for its commit):
//!   `rate_states` (a rate limit's or an idempotency key's GCRA time, in µs; a time in the past
//!   is the same as none, so spent rows are deleted a few at a time, by `rate_states_by_tat`),
//!   `flow_locks` (a singleton lock's holder, checked against its run's status), `windows`
//!   (a debounce window's or a batch's open window and its run, by bucket), `windowed` (the
//!   events windows took, for the dev UI), `skips` and `skip_counts` (runs that rate limits,
//!   idempotency or a singleton lock did not create).
//! - Claim-time flow control (version 4): `gated` marks the runs whose function sets a
//!   concurrency limit, a throttle or a priority; `runs_due` holds ungated runs only, so the
//!   plain claim never walks past a backlog that limits hold back, and `runs_gated_due` orders
//!   the gated ones by `score` (`created_at` minus the priority). `buckets` lists the budgets a
//!   run counts against, so a claim can leave out those that are full. `flow_holds` has a row
//!   per slot a lease took (bucket, run, whether run-level, the lease's token): what is in use
//!   is counted from it and the runs' leases, so a dead worker's slots come back when its lease
//!   expires, with no counter to repair. `throttle_times` holds each throttle's theoretical
//!   arrival time (GCRA, µs), keyed `throttle:<bucket>`.
//!
//! New state goes in new tables or columns added by new migrations at the end of
//! [`MIGRATIONS`].

use tokio_postgres::Client;

use crate::store::StoreError;

/// Migrations in order; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE SEQUENCE lease_tokens;
CREATE SEQUENCE changes;
CREATE TABLE events (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    name text NOT NULL,
    data text NOT NULL,
    ts bigint NOT NULL,
    usr text,
    source text NOT NULL,
    received_at bigint NOT NULL,
    embeds text,
    writer bigint NOT NULL DEFAULT 0
);
CREATE INDEX events_by_name ON events (name, seq);
CREATE INDEX events_by_received ON events (received_at);
CREATE TABLE runs (
    id text PRIMARY KEY,
    function_id text NOT NULL,
    event_id text NOT NULL,
    event_ids text NOT NULL,
    status text NOT NULL,
    attempt integer NOT NULL,
    created_at bigint NOT NULL,
    started_at bigint,
    ended_at bigint,
    output text,
    error text,
    wake_at bigint,
    state text NOT NULL,
    parent text,
    rerun_of text,
    dedupe_key text NOT NULL,
    cancel text,
    flow text,
    lease_token bigint,
    lease_owner text,
    lease_until timestamptz,
    version bigint NOT NULL DEFAULT nextval('changes'),
    writer bigint NOT NULL DEFAULT 0,
    UNIQUE (dedupe_key, function_id)
);
CREATE INDEX runs_due ON runs (wake_at) WHERE wake_at IS NOT NULL AND lease_token IS NULL;
CREATE INDEX runs_leased ON runs (lease_until) WHERE lease_token IS NOT NULL;
CREATE INDEX runs_by_event ON runs (event_id);
CREATE INDEX runs_by_function ON runs (function_id, id);
CREATE INDEX runs_by_created ON runs (created_at);
CREATE INDEX runs_by_version ON runs (version);
CREATE INDEX runs_cancelled_by ON runs ((cancel::jsonb #>> '{by,event_id}')) WHERE cancel IS NOT NULL;
CREATE TABLE steps (
    run_id text NOT NULL,
    hash text NOT NULL,
    seq bigserial NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    memo text NOT NULL,
    attempts integer NOT NULL,
    started_at bigint NOT NULL,
    ended_at bigint NOT NULL,
    detail text,
    PRIMARY KEY (run_id, hash)
);
CREATE TABLE matchers (
    run_id text NOT NULL,
    id text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    event text NOT NULL,
    expr text,
    join_on text,
    join_path text,
    join_value jsonb,
    trigger_event text,
    since bigint NOT NULL,
    deadline bigint NOT NULL,
    PRIMARY KEY (run_id, id)
);
CREATE INDEX matchers_by_join ON matchers (event, join_path, join_value);
CREATE TABLE matcher_paths (
    event text NOT NULL,
    path text NOT NULL,
    PRIMARY KEY (event, path)
);
CREATE TABLE step_logs (
    seq bigserial PRIMARY KEY,
    run_id text NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    ts bigint NOT NULL,
    level text NOT NULL,
    message text NOT NULL
);
CREATE INDEX step_logs_by_run ON step_logs (run_id, seq);
"#,
    r#"
-- Leases on the run in a row that expired (their worker died mid-pass), for Lease::interrupted.
ALTER TABLE runs ADD COLUMN interrupted integer NOT NULL DEFAULT 0;
"#,
    r#"
-- Event-time flow control (rate limits, idempotency, singleton, debounce, batches): state kept
-- per key, locked by the transaction that accepts an event.
CREATE TABLE rate_states (
    key text PRIMARY KEY,
    tat bigint NOT NULL
);
CREATE INDEX rate_states_by_tat ON rate_states (tat);
CREATE TABLE flow_locks (
    lock text PRIMARY KEY,
    run_id text
);
CREATE TABLE windows (
    bucket text PRIMARY KEY,
    run_id text,
    state text
);
CREATE INDEX windows_by_run ON windows (run_id);
CREATE TABLE windowed (
    event_id text NOT NULL,
    function_id text NOT NULL,
    run_id text NOT NULL,
    key text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, function_id)
);
CREATE TABLE skips (
    seq bigserial PRIMARY KEY,
    function_id text NOT NULL,
    event_id text NOT NULL,
    reason text NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX skips_by_event ON skips (event_id, seq);
CREATE INDEX skips_by_function ON skips (function_id, seq);
CREATE TABLE skip_counts (
    function_id text PRIMARY KEY,
    skipped bigint NOT NULL
);
"#,
    r#"
-- Claim-time flow control (concurrency, throttle, priority), shared by every worker.
ALTER TABLE runs ADD COLUMN gated boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN score bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN buckets text[] NOT NULL DEFAULT '{}';
DROP INDEX runs_due;
CREATE INDEX runs_due ON runs (wake_at) WHERE wake_at IS NOT NULL AND lease_token IS NULL AND NOT gated;
CREATE INDEX runs_gated_due ON runs (score) WHERE wake_at IS NOT NULL AND lease_token IS NULL AND gated;
CREATE INDEX runs_gated_wake ON runs (wake_at) WHERE wake_at IS NOT NULL AND lease_token IS NULL AND gated;
CREATE TABLE flow_holds (
    bucket text NOT NULL,
    run_id text NOT NULL,
    per_run boolean NOT NULL,
    token bigint NOT NULL,
    PRIMARY KEY (bucket, run_id, per_run)
);
CREATE INDEX flow_holds_by_run ON flow_holds (run_id);
CREATE TABLE throttle_times (
    key text PRIMARY KEY,
    tat bigint NOT NULL
);
"#,
];

/// The schema version this build writes.
pub(crate) const VERSION: i32 = MIGRATIONS.len() as i32;

/// Whether `name` can be a schema name without quoting surprises.
pub(super) fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Creates the schema or brings it up to date, under an advisory lock; refuses a newer one.
/// `client`'s search path is the schema.
pub(super) async fn migrate(client: &Client, schema: &str, target: &str) -> Result<(), StoreError> {
    let db = |e: tokio_postgres::Error| StoreError::Database(format!("migrating schema `{schema}` at {target}: {e}"));
    let key = format!("hookflow.migrate.{schema}");
    client.execute("SELECT pg_advisory_lock(hashtext($1))", &[&key]).await.map_err(db)?;
    let result = migrate_locked(client, schema, target).await;
    // The lock is the session's: released here, or with the connection if this fails.
    let _ = client.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key]).await;
    result
}

async fn migrate_locked(client: &Client, schema: &str, target: &str) -> Result<(), StoreError> {
    let db = |e: tokio_postgres::Error| StoreError::Database(format!("migrating schema `{schema}` at {target}: {e}"));
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.schema_version (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        ))
        .await
        .map_err(db)?;
    let current: i32 = client
        .query_one(&format!("SELECT coalesce(max(version), 0) FROM {schema}.schema_version"), &[])
        .await
        .map_err(db)?
        .get(0);
    if current > VERSION {
        return Err(StoreError::Database(format!(
            "schema `{schema}` at {target} was written by a newer hookflow (schema version {current}; this build \
             knows up to {VERSION}): upgrade hookflow on this worker, or point it at another database or schema"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL search_path = {schema}; {sql}
                 INSERT INTO {schema}.schema_version (version) VALUES ({version}); COMMIT;"
            ))
            .await
            .map_err(db)?;
        tracing::info!(schema, version, "migrated the Postgres schema");
    }
    Ok(())
}
