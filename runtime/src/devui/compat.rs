//! `/v1`: the part of Inngest's REST API that the dev server answers, so scripts written for
//! Inngest (fetch an event's runs, poll a run's status and output, cancel) work unchanged.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};

use super::api::{parse_time, Params};
use super::{ApiError, Shared};
use crate::clock::Millis;
use crate::store::{EventQuery, RunQuery, RunRecord, RunStatus, StoredEvent};
use crate::webhook::EventSource;
use crate::Payload;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}", get(event))
        .route("/v1/events/{id}/runs", get(event_runs))
        .route("/v1/runs/{id}", get(run).delete(cancel))
}

/// Inngest's default page size for events, and its largest.
const DEFAULT_EVENTS: usize = 20;
const MAX_EVENTS: usize = 100;

fn rfc3339(ms: Millis) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or(Value::Null, |t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
}

/// Inngest's envelope: `{"data": ..., "metadata": {"fetched_at": ..., "cached_until": null}}`,
/// and a `cursor` on lists.
#[derive(Serialize)]
struct Wrapped<T> {
    data: T,
    metadata: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<Option<String>>,
}

fn wrap<T: Serialize>(ui: &Shared, data: T) -> Json<Wrapped<T>> {
    Json(Wrapped {
        data,
        metadata: json!({ "fetched_at": rfc3339(ui.engine.clock().now_ms()), "cached_until": null }),
        cursor: None,
    })
}

/// Inngest's four run statuses: everything that has not ended is `Running`.
fn inngest_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued | RunStatus::Running | RunStatus::Sleeping | RunStatus::Waiting => "Running",
        RunStatus::Completed => "Completed",
        RunStatus::Failed => "Failed",
        RunStatus::Cancelled => "Cancelled",
    }
}

/// An event in Inngest's shape. Typed rather than built with `json!`: the payload is
/// serialized from its text straight into the answer, never through a `serde_json::Value`.
#[derive(Serialize)]
struct InngestEvent<'a> {
    internal_id: &'a str,
    id: &'a str,
    name: &'a str,
    data: &'a Payload,
    user: Value,
    ts: Millis,
    v: Option<String>,
    source: EventSource,
    received_at: Value,
    environment_id: &'a str,
}

fn event_json<'a>(ui: &'a Shared, e: &'a StoredEvent) -> InngestEvent<'a> {
    InngestEvent {
        internal_id: &e.id,
        id: &e.id,
        name: &e.name,
        data: &e.data,
        user: e.user.clone().unwrap_or_else(|| json!({})),
        ts: e.ts,
        v: None,
        source: e.source,
        received_at: rfc3339(e.received_at),
        environment_id: ui.engine.app_id(),
    }
}

fn run_json(ui: &Shared, r: &RunRecord) -> Value {
    // A failed run's `output` is its error, as Inngest reports it.
    let output = match (&r.output, &r.error) {
        (Some(out), _) => out.clone(),
        (None, Some(err)) => json!({ "error": err }),
        (None, None) => Value::Null,
    };
    json!({
        "run_id": r.id,
        "function_id": r.function_id,
        "function_version": 1,
        "environment_id": ui.engine.app_id(),
        "event_id": r.event_ids.first(),
        "batch_id": (r.event_ids.len() > 1).then_some(&r.id),
        "original_run_id": r.rerun_of,
        "cron": null,
        "status": inngest_status(r.status),
        "hookflow_status": r.status.as_str(),
        // What cancelled it, and when: `{"by": {"kind": "event" | "request" | "timeout", ..}, "at"}`.
        "hookflow_cancellation": r.cancellation,
        "run_started_at": rfc3339(r.started_at.unwrap_or(r.created_at)),
        "ended_at": r.ended_at.map_or(Value::Null, rfc3339),
        "output": output,
    })
}

fn received(p: &Params, key: &str) -> Result<Option<Millis>, ApiError> {
    p.get(key)
        .map(|v| {
            parse_time(v).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`{key}` must be an RFC 3339 time or milliseconds since the Unix epoch, got `{v}`"
                ))
            })
        })
        .transpose()
}

async fn list_events(State(ui): State<Shared>, Query(p): Query<Params>) -> Result<Response, ApiError> {
    let limit = p.limit(DEFAULT_EVENTS, MAX_EVENTS)?;
    let query = EventQuery {
        name: p.get("name").map(str::to_owned),
        before: p.get("cursor").map(str::to_owned),
        since: received(&p, "received_after")?,
        until: received(&p, "received_before")?,
        search: None,
        include_internal: true,
        limit,
    };
    let events = ui.queries()?.list_events(&query).await?;
    let cursor = (events.len() == limit).then(|| events.last().map(|e| e.id.clone())).flatten();
    let mut body = wrap(&ui, events.iter().map(|e| event_json(&ui, e)).collect::<Vec<_>>());
    body.0.cursor = Some(cursor);
    Ok(body.into_response())
}

async fn load_event(ui: &Shared, id: &str) -> Result<StoredEvent, ApiError> {
    ui.engine
        .store()
        .events(&[id.to_owned()])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))
}

async fn event(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let e = load_event(&ui, &id).await?;
    Ok(wrap(&ui, event_json(&ui, &e)).into_response())
}

async fn event_runs(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<Wrapped<Value>>, ApiError> {
    load_event(&ui, &id).await?;
    let query = RunQuery { event_id: Some(id), limit: 1000, ..RunQuery::default() };
    let runs = ui.queries()?.list_runs(&query).await?;
    Ok(wrap(&ui, runs.iter().map(|r| run_json(&ui, r)).collect()))
}

async fn load_run(ui: &Shared, id: &str) -> Result<RunRecord, ApiError> {
    ui.engine.store().run(id).await?.ok_or_else(|| ApiError::NotFound(format!("no run with id `{id}`")))
}

async fn run(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<Wrapped<Value>>, ApiError> {
    let r = load_run(&ui, &id).await?;
    Ok(wrap(&ui, run_json(&ui, &r)))
}

async fn cancel(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<Wrapped<Value>>, ApiError> {
    let r = load_run(&ui, &id).await?;
    let cancelled = !r.status.is_terminal() && ui.engine.cancel(&id).await?;
    let status = if cancelled { "Cancelled" } else { inngest_status(r.status) };
    Ok(wrap(&ui, json!({ "run_id": id, "cancelled": cancelled, "status": status })))
}
