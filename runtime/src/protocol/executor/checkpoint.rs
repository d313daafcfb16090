//! The checkpoint API: `POST /v1/checkpoint/{run}/async`, where a checkpointing SDK (current
//! TypeScript SDKs, by default) reports the steps it runs during a discovery request before it
//! answers it. The steps are written to the journal under the pass's lease before the answer, so
//! a crash after it does not run them again, and join the pass as if the answer had carried
//! them. The body names the dispatch (`qi_id`, `generation_id`): a checkpoint of a dispatch that
//! is no longer the run's current one is refused with 409, which tells the SDK to stop, so a
//! stale request cannot apply its steps twice.
//!
//! The API-based (synchronous) runs of durable endpoints (`POST /v1/checkpoint`,
//! `/v1/checkpoint/{run}/steps`) are not served: they answer 501 saying so.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Dispatcher;
use crate::model::{Memo, StepKind, StepRecord};
use crate::protocol::wire::{error_from_wire, WireOp};
use crate::store::Checkpoint;

/// The largest checkpoint taken.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The body of an async checkpoint.
#[derive(Debug, Deserialize)]
struct AsyncCheckpoint {
    #[serde(default)]
    qi_id: String,
    #[serde(default)]
    generation_id: Option<i64>,
    #[serde(default)]
    steps: Vec<WireOp>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    (status, axum::Json(json!({ "error": message, "status": status.as_u16() }))).into_response()
}

/// The checkpoint routes.
pub fn router(dispatcher: Dispatcher) -> Router {
    Router::new()
        .route("/v1/checkpoint/{run_id}/async", post(checkpoint_async))
        .route("/v1/checkpoint", post(sync_runs))
        .route("/v1/checkpoint/{run_id}/steps", post(sync_runs))
        .with_state(dispatcher)
}

async fn sync_runs() -> Response {
    error(
        StatusCode::NOT_IMPLEMENTED,
        "hookflow does not run durable endpoints (API-based runs) yet: serve the function and let hookflow call it",
    )
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

async fn checkpoint_async(
    State(dispatcher): State<Dispatcher>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !dispatcher.authorized(bearer(&headers)) {
        return error(
            StatusCode::UNAUTHORIZED,
            "a checkpoint needs the signing key's bearer token (Authorization: Bearer <hashed key>)",
        );
    }
    let body = match crate::webhook::read_body(body, &headers, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let checkpoint: AsyncCheckpoint = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the checkpoint is not `{{qi_id, generation_id, steps: [opcodes]}}` ({e})"),
            )
        }
    };
    // Claim the dispatch's place first, so that the store write happens under its lease.
    let claimed = dispatcher.with_inflight(&run_id, |inflight| {
        let inflight = inflight?;
        let current =
            inflight.qi_id == checkpoint.qi_id && checkpoint.generation_id.is_none_or(|g| g == inflight.generation);
        current.then(|| (inflight.lease.clone(), inflight.store.clone(), inflight.attempt, inflight.last))
    });
    let Some((lease, store, attempt, last)) = claimed else {
        return error(
            StatusCode::CONFLICT,
            format!("run `{run_id}` has no dispatch `{}` in flight: this request is stale, stop it", checkpoint.qi_id),
        );
    };
    let now = crate::clock::system_now_ms();
    let mut records = Vec::new();
    for op in &checkpoint.steps {
        let memo = if op.is("StepRun") || op.is("Step") {
            Memo::Data(op.data.clone().unwrap_or(Value::Null))
        } else if op.is("StepFailed") {
            Memo::Error(op.error.as_ref().map(error_from_wire).unwrap_or_else(|| error_from_wire(&Value::Null)))
        } else {
            continue;
        };
        let step = op.meta();
        records.push(StepRecord {
            run_id: run_id.clone(),
            hash: step.id,
            name: step.name,
            kind: if op.kind() == StepKind::Send { StepKind::Send } else { StepKind::Run },
            memo,
            attempts: attempt + 1,
            started_at: last,
            ended_at: now,
            detail: Default::default(),
        });
    }
    if !records.is_empty() {
        match store.checkpoint(&lease, Checkpoint { steps: records, ..Checkpoint::default() }).await {
            Ok(true) => {}
            Ok(false) => {
                return error(StatusCode::CONFLICT, format!("run `{run_id}` was claimed again: this request is stale"))
            }
            Err(e) => {
                return error(StatusCode::SERVICE_UNAVAILABLE, format!("the store could not write the checkpoint: {e}"))
            }
        }
    }
    let count = checkpoint.steps.len();
    let accepted = dispatcher.with_inflight(&run_id, |inflight| match inflight {
        Some(i) if i.lease.token == lease.token => {
            i.ops.extend(checkpoint.steps);
            i.last = now;
            true
        }
        _ => false,
    });
    if !accepted {
        return error(
            StatusCode::CONFLICT,
            format!("the dispatch of run `{run_id}` ended while its checkpoint was written"),
        );
    }
    dispatcher.count_checkpointed(count);
    (StatusCode::OK, axum::Json(json!({ "ok": true }))).into_response()
}
