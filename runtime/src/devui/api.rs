//! `/api/v1`: the JSON API behind the UI (documented in the module docs of `devui`).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{ApiError, Shared};
use crate::clock::Millis;
use crate::error::ErrorInfo;
use crate::event_rules::{MAX_DATA_BYTES, MAX_EVENTS_PER_REQUEST};
use crate::function::{ConcurrencyScope, FunctionSpec, Trigger};
use crate::store::{
    Cancellation, CancelledBy, EventQuery, HeldBack, Memo, PendingOp, ResumedBy, RunQuery, RunRecord, RunStatus,
    SkipReason, SkipRecord, StepKind, StepRecord, StoredEvent, WaitSpec,
};
use crate::webhook::EventSource;
use crate::Payload;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/info", get(info))
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(run_detail))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/rerun", post(rerun))
        .route("/events", get(list_events).post(send))
        .route("/events/{id}", get(event_detail))
        .route("/events/{id}/replay", post(replay))
        .route("/import", post(import))
        .route("/functions", get(list_functions))
        .route("/functions/{id}", get(function_detail))
        .route("/functions/{id}/invoke", post(invoke))
        .route("/functions/{id}/skips", get(function_skips))
        .route("/templates", get(templates))
        .route("/templates/{clerk_type}", get(template))
        .route("/stream", get(super::live::stream))
}

/// The most rows a list answers with.
const MAX_LIMIT: usize = 200;
/// How many runs a text search over runs reads at most per request before it answers with
/// what it found and a cursor to continue.
const SEARCH_BUDGET: usize = 3_000;
/// Runs per function counted for the functions list.
const COUNT_WINDOW: usize = 1_000;

// ---------------------------------------------------------------------------------------------
// Query parameters

/// Query parameters, keeping repeated keys (`status=Failed&status=Running`).
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.trim())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| matches!(v, "1" | "true" | "yes" | "on"))
    }

    pub(crate) fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(0) => Ok(default),
                Ok(n) => Ok(n.min(max)),
                Err(_) => Err(ApiError::BadRequest(format!("`limit` must be a positive number, got `{v}`"))),
            },
        }
    }

    /// A time: milliseconds since the epoch or RFC 3339.
    pub(crate) fn time(&self, key: &str) -> Result<Option<Millis>, ApiError> {
        self.get(key).map(|v| parse_time(v).ok_or_else(|| ApiError::BadRequest(bad_time(key, v)))).transpose()
    }

    /// `since`, or `now - last` when `last` (`15m`, `1h`, `7d`) is given.
    fn since(&self, now: Millis) -> Result<Option<Millis>, ApiError> {
        if let Some(last) = self.get("last") {
            let span = parse_span(last).ok_or_else(|| {
                ApiError::BadRequest(format!("`last` must be a duration such as `15m`, `1h` or `7d`, got `{last}`"))
            })?;
            return Ok(Some(now.saturating_sub(span)));
        }
        self.time("since")
    }
}

fn bad_time(key: &str, value: &str) -> String {
    format!(
        "`{key}` must be milliseconds since the Unix epoch or an RFC 3339 time (2024-05-28T08:00:00Z), got `{value}`"
    )
}

pub(crate) fn parse_time(v: &str) -> Option<Millis> {
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(v).ok().map(|t| t.timestamp_millis())
}

/// `90s`, `15m`, `1h`, `7d`, `2w` in milliseconds.
fn parse_span(v: &str) -> Option<Millis> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

fn parse_statuses(p: &Params) -> Result<Vec<RunStatus>, ApiError> {
    p.all("status")
        .into_iter()
        .map(|s| {
            RunStatus::parse(s).ok_or_else(|| {
                let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::BadRequest(format!("unknown status `{s}`: use one of {}", all.join(", ")))
            })
        })
        .collect()
}

/// Parses a JSON body, answering 400 with where it is wrong.
fn parse_json(body: &[u8], what: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "{what} is not valid JSON: {} at line {}, column {}",
            strip_position(&e),
            e.line(),
            e.column()
        ))
    })
}

/// serde_json's message without its own " at line L column C" suffix.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// A request body of at most [`MAX_DATA_BYTES`] (what one request may send: an edited event,
/// or a batch as large as the event API takes), read as the ingress endpoints read theirs, so
/// that a refusal (413, 408) has the JSON error shape.
pub(crate) struct RequestBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RequestBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        Ok(RequestBody(crate::webhook::read_body(body, &parts.headers, MAX_DATA_BYTES).await?))
    }
}

// ---------------------------------------------------------------------------------------------
// Views

/// A run in a list.
#[derive(Debug, Serialize)]
pub(crate) struct RunView {
    pub(crate) id: String,
    pub(crate) function_id: String,
    pub(crate) function_name: String,
    pub(crate) status: RunStatus,
    pub(crate) event_id: Option<String>,
    pub(crate) event_name: Option<String>,
    pub(crate) event_count: usize,
    pub(crate) queued_at: Millis,
    pub(crate) started_at: Option<Millis>,
    pub(crate) ended_at: Option<Millis>,
    /// Queued to ended, or to now while the run has not ended.
    pub(crate) duration_ms: Millis,
    pub(crate) attempt: u32,
    pub(crate) rerun_of: Option<String>,
    pub(crate) parent_run_id: Option<String>,
    /// Why a queued run waits: a full concurrency limit or a throttle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) held_back: Option<HeldBack>,
    /// A sleeping run whose only wait is a step's retry back-off: it is retrying, not asleep.
    pub(crate) retrying: bool,
    /// What cancelled the run (or asked to), and when.
    pub(crate) cancellation: Option<Cancellation>,
}

fn function_name(ui: &Shared, id: &str) -> String {
    ui.engine.functions().get(id).map_or_else(|| id.to_owned(), |d| d.display_name().to_owned())
}

fn run_view(ui: &Shared, run: &RunRecord, events: &HashMap<String, StoredEvent>, now: Millis) -> RunView {
    let first = run.event_ids.first();
    RunView {
        id: run.id.clone(),
        function_id: run.function_id.clone(),
        function_name: function_name(ui, &run.function_id),
        status: run.status,
        event_id: first.cloned(),
        event_name: first.and_then(|id| events.get(id)).map(|e| e.name.clone()),
        event_count: run.event_ids.len(),
        queued_at: run.created_at,
        started_at: run.started_at,
        ended_at: run.ended_at,
        duration_ms: run.ended_at.unwrap_or(now).saturating_sub(run.created_at).max(0),
        attempt: run.attempt,
        rerun_of: run.rerun_of.clone(),
        parent_run_id: run.parent.as_ref().map(|p| p.run_id.clone()),
        held_back: (run.status == RunStatus::Queued).then(|| ui.engine.store().held_back(&run.id)).flatten(),
        retrying: run.status == RunStatus::Sleeping
            && !run.state.pending.is_empty()
            && run.state.pending.iter().all(|op| matches!(op, PendingOp::Retry { .. })),
        cancellation: run.cancellation.clone(),
    }
}

/// The first triggering event of each run, by id.
async fn trigger_events(ui: &Shared, runs: &[RunRecord]) -> Result<HashMap<String, StoredEvent>, ApiError> {
    let mut ids: Vec<String> = runs.iter().filter_map(|r| r.event_ids.first().cloned()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for e in ui.engine.store().events(chunk).await? {
            out.insert(e.id.clone(), e);
        }
    }
    Ok(out)
}

async fn run_views(ui: &Shared, runs: &[RunRecord]) -> Result<Vec<RunView>, ApiError> {
    let events = trigger_events(ui, runs).await?;
    let now = ui.engine.clock().now_ms();
    Ok(runs.iter().map(|r| run_view(ui, r, &events, now)).collect())
}

/// An event in full.
#[derive(Debug, Serialize)]
struct EventView {
    id: String,
    name: String,
    source: EventSource,
    received_at: Millis,
    ts: Millis,
    data: Payload,
    user: Option<Value>,
    internal: bool,
}

fn event_view(e: &StoredEvent) -> EventView {
    EventView {
        id: e.id.clone(),
        name: e.name.clone(),
        source: e.source,
        received_at: e.received_at,
        ts: e.ts,
        data: e.data.clone(),
        user: e.user.clone(),
        internal: e.is_internal(),
    }
}

// ---------------------------------------------------------------------------------------------
// Info

async fn info(State(ui): State<Shared>) -> Json<Value> {
    let functions = ui.engine.functions();
    let mut names: Vec<&str> = functions
        .iter()
        .flat_map(|d| d.event_names())
        .chain(crate::clerk::CATALOG.iter().map(|c| c.event_name))
        .collect();
    names.sort_unstable();
    names.dedup();
    Json(json!({
        "app_id": ui.engine.app_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "event_key": ui.config.event_key.as_deref().unwrap_or("dev"),
        "event_path": "/e/{key}",
        "webhook_path": crate::webhook::clerk::DEFAULT_PATH,
        "functions": functions.len(),
        "event_names": names,
        "now": ui.engine.clock().now_ms(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Runs

async fn list_runs(State(ui): State<Shared>, Query(p): Query<Params>) -> Result<Json<Value>, ApiError> {
    let now = ui.engine.clock().now_ms();
    let limit = p.limit(50, MAX_LIMIT)?;
    let mut query = RunQuery {
        function_id: p.get("function").map(str::to_owned),
        statuses: parse_statuses(&p)?,
        event_id: p.get("event").map(str::to_owned),
        before: p.get("before").map(str::to_owned),
        since: p.since(now)?,
        until: p.time("until")?,
        search: None,
        limit,
    };
    let (runs, next_cursor) = match p.get("q") {
        None => {
            let runs = ui.queries()?.list_runs(&query).await?;
            let next = (runs.len() == limit).then(|| runs.last().map(|r| r.id.clone())).flatten();
            (runs, next)
        }
        Some(text) => search_runs(&ui, &mut query, text, limit).await?,
    };
    let views = run_views(&ui, &runs).await?;
    Ok(Json(json!({ "runs": views, "next_cursor": next_cursor, "now": now })))
}

/// A run search that also looks into the triggering event (the store's own search covers
/// only the run): pages through the filtered runs and keeps those that match.
async fn search_runs(
    ui: &Shared,
    query: &mut RunQuery,
    text: &str,
    limit: usize,
) -> Result<(Vec<RunRecord>, Option<String>), ApiError> {
    let needle = text.to_lowercase();
    let page = 250;
    query.limit = page;
    let mut found = Vec::new();
    let mut scanned = 0;
    loop {
        let runs = ui.queries()?.list_runs(query).await?;
        let events = trigger_events(ui, &runs).await?;
        let exhausted = runs.len() < page;
        for run in runs {
            scanned += 1;
            query.before = Some(run.id.clone());
            let event = run.event_ids.first().and_then(|id| events.get(id));
            if run_matches(ui, &run, event, &needle) {
                found.push(run);
                if found.len() == limit {
                    return Ok((found, query.before.clone()));
                }
            }
        }
        if exhausted {
            return Ok((found, None));
        }
        if scanned >= SEARCH_BUDGET {
            return Ok((found, query.before.clone()));
        }
    }
}

fn run_matches(ui: &Shared, run: &RunRecord, event: Option<&StoredEvent>, needle: &str) -> bool {
    let contains = |s: &str| s.to_lowercase().contains(needle);
    let json_contains = |v: &Value| contains(&v.to_string());
    contains(&run.id)
        || contains(&run.function_id)
        || contains(&function_name(ui, &run.function_id))
        || run.output.as_ref().is_some_and(json_contains)
        || run
            .error
            .as_ref()
            .is_some_and(|e| contains(&e.name) || contains(&e.message) || e.cause.as_deref().is_some_and(contains))
        || event.is_some_and(|e| contains(&e.id) || contains(&e.name) || json_contains(&e.data))
}

#[derive(Debug, Serialize)]
struct StepView {
    hash: String,
    name: String,
    kind: StepKind,
    status: &'static str,
    output: Option<Value>,
    error: Option<ErrorInfo>,
    attempts: u32,
    retries: u32,
    started_at: Millis,
    ended_at: Millis,
    duration_ms: Millis,
    /// For an invoke step: the run it started.
    invoked_run_id: Option<String>,
    /// For a wait step: whether it timed out (its value is `null`).
    timed_out: Option<bool>,
    /// Every attempt, oldest first: the failed ones with their errors, then the last.
    attempt_log: Vec<AttemptView>,
    /// For a wait step: the event it waited for (and the expression it had to match).
    waited_for: Option<WaitSpec>,
    /// For a wait or invoke step: what ended the wait (the event, the invoked run, the timeout).
    resumed_by: Option<ResumedBy>,
    /// For a step a rerun reused: the run whose result it copied.
    copied_from: Option<String>,
}

/// One attempt of a step.
#[derive(Debug, Serialize)]
struct AttemptView {
    /// 1 for the first.
    attempt: u32,
    /// When it started; unknown (`null`) for the last attempt of a retried step.
    started_at: Option<Millis>,
    ended_at: Millis,
    duration_ms: Option<Millis>,
    /// `failed` or `completed`: the last attempt's is the step's.
    status: &'static str,
    error: Option<ErrorInfo>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PendingView {
    Sleep {
        step: String,
        name: String,
        until: Millis,
        since: Millis,
    },
    Retry {
        step: String,
        name: String,
        at: Millis,
        error: ErrorInfo,
        failed_attempts: u32,
        max_attempts: Option<u32>,
    },
    Wait {
        step: String,
        name: String,
        event: String,
        expr: Option<String>,
        until: Millis,
        since: Millis,
    },
    Invoke {
        step: String,
        name: String,
        child_event: String,
        child_run_id: Option<String>,
        child_function_id: Option<String>,
        until: Millis,
        since: Millis,
    },
}

async fn load_run(ui: &Shared, id: &str) -> Result<RunRecord, ApiError> {
    ui.engine.store().run(id).await?.ok_or_else(|| ApiError::NotFound(format!("no run with id `{id}`")))
}

/// The run an `inngest/function.invoked` event started.
async fn child_run(ui: &Shared, child_event: &str) -> Result<Option<RunRecord>, ApiError> {
    let query = RunQuery { event_id: Some(child_event.to_owned()), limit: 1, ..RunQuery::default() };
    Ok(ui.queries()?.list_runs(&query).await?.into_iter().next())
}

/// A run in full. Typed rather than built with `json!`: a payload is serialized from its text
/// straight into the answer, never through a `serde_json::Value` it might not fit.
#[derive(Debug, Serialize)]
struct RunDetail {
    run: Value,
    events: Vec<EventView>,
    steps: Vec<StepView>,
    logs: Vec<crate::store::LogLine>,
    pending: Vec<PendingView>,
    children: Vec<RunView>,
    now: Millis,
}

async fn run_detail(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    let run = load_run(&ui, &id).await?;
    let now = ui.engine.clock().now_ms();
    let events = ui.engine.store().events(&run.event_ids).await?;
    let by_id: HashMap<String, StoredEvent> = events.iter().map(|e| (e.id.clone(), e.clone())).collect();
    let journal = ui.engine.store().journal(&run.id).await?;
    let functions = ui.engine.functions();
    let def = functions.get(&run.function_id);

    let mut children = Vec::new();
    let mut steps = Vec::with_capacity(journal.len());
    for s in journal {
        let invoked = if s.kind == StepKind::Invoke {
            let child_event = crate::replay::hash_step_id(&format!("{}-{}-invoke", run.id, s.hash));
            let child = child_run(&ui, &child_event).await?;
            let id = child.as_ref().map(|c| c.id.clone());
            children.extend(child);
            id
        } else {
            None
        };
        steps.push(step_view(s, invoked));
    }
    let mut pending = Vec::new();
    for op in &run.state.pending {
        pending.push(match op.clone() {
            PendingOp::Sleep { step, name, until, since } => PendingView::Sleep { step, name, until, since },
            PendingOp::Retry { step, name, at, error } => PendingView::Retry {
                failed_attempts: run.state.step_attempts.get(&step).copied().unwrap_or(1),
                max_attempts: def.map(|d| d.max_attempts()),
                step,
                name,
                at,
                error,
            },
            PendingOp::Wait { step, name, spec, until, since } => {
                PendingView::Wait { step, name, event: spec.event, expr: spec.expr, until, since }
            }
            PendingOp::Invoke { step, name, child_event, until, since } => {
                let child = child_run(&ui, &child_event).await?;
                let view = PendingView::Invoke {
                    step,
                    name,
                    child_run_id: child.as_ref().map(|c| c.id.clone()),
                    child_function_id: child.as_ref().map(|c| c.function_id.clone()),
                    child_event,
                    until,
                    since,
                };
                children.extend(child);
                view
            }
        });
    }
    let mut view = serde_json::to_value(run_view(&ui, &run, &by_id, now)).map_err(crate::store::StoreError::from)?;
    if let Value::Object(map) = &mut view {
        map.insert("output".into(), run.output.clone().unwrap_or(Value::Null));
        map.insert("error".into(), serde_json::to_value(&run.error).unwrap_or(Value::Null));
        map.insert("wake_at".into(), json!(run.wake_at));
        map.insert("max_attempts".into(), json!(def.map(|d| d.max_attempts())));
        map.insert("registered".into(), json!(def.is_some()));
    }
    let children = run_views(&ui, &children).await?;
    let logs = match ui.engine.store().step_logs() {
        Some(logs) => logs.logs(&run.id).await?,
        None => Vec::new(),
    };
    Ok(Json(RunDetail {
        run: view,
        events: events.iter().map(event_view).collect(),
        steps,
        logs,
        pending,
        children,
        now,
    }))
}

fn step_view(s: StepRecord, invoked_run_id: Option<String>) -> StepView {
    let (status, output, error) = match s.memo {
        Memo::Data(v) => ("completed", Some(v), None),
        Memo::Error(e) => ("failed", None, Some(e)),
    };
    let timed_out = (s.kind == StepKind::Wait).then(|| output.as_ref().is_none_or(Value::is_null));
    let detail = s.detail;
    let mut attempt_log: Vec<AttemptView> = detail
        .failures
        .into_iter()
        .map(|f| AttemptView {
            attempt: f.attempt,
            started_at: Some(f.started_at),
            ended_at: f.ended_at,
            duration_ms: Some(f.ended_at.saturating_sub(f.started_at).max(0)),
            status: "failed",
            error: Some(f.error),
        })
        .collect();
    if s.kind == StepKind::Run {
        // The last attempt began after the previous one's back-off; with none, with the step.
        let first = attempt_log.is_empty().then_some(s.started_at);
        attempt_log.push(AttemptView {
            attempt: s.attempts,
            started_at: first,
            ended_at: s.ended_at,
            duration_ms: first.map(|from| s.ended_at.saturating_sub(from).max(0)),
            status,
            error: error.clone(),
        });
    }
    StepView {
        hash: s.hash,
        name: s.name,
        kind: s.kind,
        status,
        output,
        error,
        attempts: s.attempts,
        retries: s.attempts.saturating_sub(1),
        started_at: s.started_at,
        ended_at: s.ended_at,
        duration_ms: s.ended_at.saturating_sub(s.started_at).max(0),
        invoked_run_id,
        timed_out,
        attempt_log,
        waited_for: detail.waited_for,
        resumed_by: detail.resumed_by,
        copied_from: detail.copied_from,
    }
}

async fn cancel(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let run = load_run(&ui, &id).await?;
    if run.status.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "run `{id}` has already ended ({}); only queued, running, sleeping or waiting runs can be cancelled",
            run.status.as_str()
        )));
    }
    let cancelled = ui.engine.cancel_by(&id, CancelledBy::Request { via: "ui".into() }).await?;
    if !cancelled {
        return Err(ApiError::Conflict(format!("run `{id}` ended before it could be cancelled")));
    }
    Ok(Json(json!({ "cancelled": true, "run_id": id })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RerunBody {
    #[serde(default)]
    from_step: Option<String>,
    /// New data for the triggering event (rerun with an edited input).
    #[serde(default)]
    data: Option<Value>,
}

async fn rerun(
    State(ui): State<Shared>,
    Path(id): Path<String>,
    RequestBody(body): RequestBody,
) -> Result<Json<Value>, ApiError> {
    let body: RerunBody = if is_blank(&body) {
        RerunBody::default()
    } else {
        serde_json::from_value(parse_json(&body, "the body")?).map_err(|e| {
            ApiError::BadRequest(format!("the body must be {{\"from_step\": \"<hashed step id>\", \"data\": {{...}}}} (both optional) or empty: {e}"))
        })?
    };
    let from = body.from_step.filter(|s| !s.is_empty());
    if body.data.as_ref().is_some_and(|d| !d.is_object()) {
        return Err(ApiError::BadRequest("`data` must be a JSON object: the event's new payload".into()));
    }
    match ui.engine.rerun_with(&id, from.as_deref(), body.data).await? {
        Some(run_id) => Ok(Json(json!({ "run_id": run_id, "rerun_of": id, "from_step": from }))),
        None => Err(ApiError::NotFound(format!("no run with id `{id}`"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Debug, Serialize)]
struct RunBrief {
    id: String,
    function_id: String,
    function_name: String,
    status: RunStatus,
}

#[derive(Debug, Serialize)]
struct EventRow {
    id: String,
    name: String,
    source: EventSource,
    received_at: Millis,
    ts: Millis,
    internal: bool,
    /// The payload as compact JSON, cut to a few hundred characters.
    preview: String,
    runs: Vec<RunBrief>,
}

const PREVIEW_CHARS: usize = 240;
/// Characters shown before a search match in a preview.
const PREVIEW_LEAD: usize = 60;

/// The payload as compact JSON, cut to [`PREVIEW_CHARS`]; with a search, the window starts
/// shortly before the first match so that the row shows why it matched.
fn preview(data: &Value, needle: Option<&str>) -> String {
    let text = data.to_string();
    let chars: Vec<char> = text.chars().collect();
    let start = needle
        .filter(|n| !n.is_empty())
        .and_then(|n| {
            let lower: Vec<char> = text.to_lowercase().chars().collect();
            let n: Vec<char> = n.to_lowercase().chars().collect();
            // Lower-casing can change lengths (rarely): then the match position is not usable.
            (lower.len() == chars.len()).then(|| lower.windows(n.len()).position(|w| w == n.as_slice())).flatten()
        })
        .map_or(0, |at| at.saturating_sub(PREVIEW_LEAD));
    let end = (start + PREVIEW_CHARS).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

async fn runs_of_event(ui: &Shared, event_id: &str) -> Result<Vec<RunRecord>, ApiError> {
    let query = RunQuery { event_id: Some(event_id.to_owned()), limit: MAX_LIMIT, ..RunQuery::default() };
    Ok(ui.queries()?.list_runs(&query).await?)
}

async fn list_events(State(ui): State<Shared>, Query(p): Query<Params>) -> Result<Json<Value>, ApiError> {
    let now = ui.engine.clock().now_ms();
    let limit = p.limit(50, MAX_LIMIT)?;
    let query = EventQuery {
        name: p.get("name").map(str::to_owned),
        before: p.get("before").map(str::to_owned),
        since: p.since(now)?,
        until: p.time("until")?,
        search: p.get("q").map(str::to_owned),
        include_internal: p.flag("internal"),
        limit,
    };
    let events = ui.queries()?.list_events(&query).await?;
    let next_cursor = (events.len() == limit).then(|| events.last().map(|e| e.id.clone())).flatten();
    let mut rows = Vec::with_capacity(events.len());
    for e in &events {
        let runs = runs_of_event(&ui, &e.id).await?;
        rows.push(EventRow {
            id: e.id.clone(),
            name: e.name.clone(),
            source: e.source,
            received_at: e.received_at,
            ts: e.ts,
            internal: e.is_internal(),
            preview: preview(&e.data, query.search.as_deref()),
            runs: runs
                .iter()
                .map(|r| RunBrief {
                    id: r.id.clone(),
                    function_id: r.function_id.clone(),
                    function_name: function_name(&ui, &r.function_id),
                    status: r.status,
                })
                .collect(),
        });
    }
    Ok(Json(json!({ "events": rows, "next_cursor": next_cursor, "now": now })))
}

async fn load_event(ui: &Shared, id: &str) -> Result<StoredEvent, ApiError> {
    ui.engine
        .store()
        .events(&[id.to_owned()])
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no event with id `{id}`")))
}

/// A function that listens to an event and has no run for it.
#[derive(Debug, Serialize)]
struct Skipped {
    function_id: String,
    function_name: String,
    /// Why, in words.
    reason: String,
    /// `rate_limit`, `idempotency` or `singleton` for a skip the engine recorded (then
    /// `detail` has its fields and `at` its time); `if` when the trigger's condition is false;
    /// `unknown` otherwise.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<SkipReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<Millis>,
}

/// A debounced or batched function that took an event into a window (a debounce window or
/// a batch): the window's run (queued while the window is open), and whether that run
/// receives this event (a batch's run receives every one; a debounce window's the newest
/// `ts`, or every one with `all_events`).
#[derive(Debug, Serialize)]
struct WindowView {
    function_id: String,
    function_name: String,
    /// The window's key (empty without one).
    key: String,
    run_id: String,
    run_status: Option<RunStatus>,
    /// Whether the run's events include this one (as they stand now, while the window is open).
    receives: bool,
    at: Millis,
}

/// An event in full, typed for the reason given at [`RunDetail`].
#[derive(Debug, Serialize)]
struct EventDetail {
    event: EventView,
    runs: Vec<RunView>,
    /// The runs this event cancelled (it matched their `cancel_on`).
    cancelled: Vec<RunView>,
    skipped: Vec<Skipped>,
    /// The debounce windows it went into.
    debounced: Vec<WindowView>,
    /// The batches it went into.
    batched: Vec<WindowView>,
    now: Millis,
}

async fn event_detail(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<EventDetail>, ApiError> {
    let event = load_event(&ui, &id).await?;
    let runs = runs_of_event(&ui, &id).await?;
    let with_run: HashSet<&str> = runs.iter().map(|r| r.function_id.as_str()).collect();
    let trigger = serde_json::to_value(event.to_raw()).unwrap_or(Value::Null);
    let functions = ui.engine.functions();
    let recorded = ui.queries()?.skips_of_event(&id).await?;
    let mut skipped: Vec<Skipped> = recorded
        .into_iter()
        .map(|skip| Skipped {
            function_name: functions.get(&skip.function_id).map_or(&*skip.function_id, |f| f.display_name()).to_owned(),
            reason: skip.reason.to_string(),
            kind: skip.reason.kind(),
            function_id: skip.function_id,
            detail: Some(skip.reason),
            at: Some(skip.at),
        })
        .collect();
    let (mut debounced, mut batched) = (Vec::new(), Vec::new());
    for record in ui.queries()?.debounces_of_event(&id).await? {
        let run = ui.engine.store().run(&record.run_id).await?;
        let batch = functions.get(&record.function_id).is_some_and(|f| f.options.batch_events.is_some());
        let list = if batch { &mut batched } else { &mut debounced };
        list.push(WindowView {
            function_name: functions
                .get(&record.function_id)
                .map_or(&*record.function_id, |f| f.display_name())
                .to_owned(),
            run_status: run.as_ref().map(|r| r.status),
            receives: run.as_ref().is_some_and(|r| r.event_ids.contains(&id)),
            function_id: record.function_id,
            key: record.key,
            run_id: record.run_id,
            at: record.at,
        });
    }
    for def in functions.iter() {
        if with_run.contains(def.id.as_str())
            || skipped.iter().any(|s| s.function_id == def.id)
            || debounced.iter().chain(&batched).any(|d| d.function_id == def.id)
        {
            continue;
        }
        let exprs: Vec<Option<&str>> = def
            .triggers
            .iter()
            .filter_map(|t| match t {
                Trigger::Event { name, expr } if *name == event.name => Some(expr.as_deref()),
                _ => None,
            })
            .collect();
        if exprs.is_empty() {
            continue;
        }
        let (kind, reason) = skip_reason(&ui, &exprs, &trigger, &event);
        skipped.push(Skipped {
            function_id: def.id.clone(),
            function_name: def.display_name().to_owned(),
            reason,
            kind,
            detail: None,
            at: None,
        });
    }
    let views = run_views(&ui, &runs).await?;
    let cancelled = ui.queries()?.runs_cancelled_by(&id, MAX_LIMIT).await?;
    let cancelled = run_views(&ui, &cancelled).await?;
    Ok(Json(EventDetail {
        event: event_view(&event),
        runs: views,
        cancelled,
        skipped,
        debounced,
        batched,
        now: ui.engine.clock().now_ms(),
    }))
}

/// Why a function listening to an event's name has no run for it (and no recorded skip), as
/// far as can be told now: its kind (`if` or `unknown`) and the words.
fn skip_reason(ui: &Shared, exprs: &[Option<&str>], trigger: &Value, event: &StoredEvent) -> (&'static str, String) {
    let mut reasons = Vec::new();
    for expr in exprs {
        match expr {
            None => {
                reasons.clear();
                break;
            }
            Some(expr) => match ui.exprs.test(expr, &[("event", trigger)]) {
                Ok(true) => {
                    reasons.clear();
                    break;
                }
                Ok(false) => reasons.push(format!("the trigger's `if` expression `{expr}` is false for this event")),
                Err(e) => reasons.push(format!("the trigger's `if` expression could not be evaluated: {e}")),
            },
        }
    }
    if !reasons.is_empty() {
        return ("if", reasons.join("; "));
    }
    if event.source == EventSource::Internal {
        return ("unknown", "internal events start only the runs the engine asks for".to_owned());
    }
    ("unknown", "no run was created: the function may have been added after the event arrived".to_owned())
}

async fn replay(
    State(ui): State<Shared>,
    Path(id): Path<String>,
    RequestBody(body): RequestBody,
) -> Result<Json<Value>, ApiError> {
    let event = load_event(&ui, &id).await?;
    if event.is_internal() {
        return Err(ApiError::BadRequest(format!(
            "`{}` is an internal event: the engine emits these itself, they cannot be replayed",
            event.name
        )));
    }
    let data = if is_blank(&body) {
        // An event sent from code had no size limit on its way in: a replay has one.
        let size = event.data.to_json_string().len();
        if size > MAX_DATA_BYTES {
            return Err(ApiError::TooLarge(format!(
                "the event's data is {size} bytes, more than the {MAX_DATA_BYTES} a replay sends: use Edit & Replay \
                 with smaller data"
            )));
        }
        None
    } else {
        Some(parse_json(&body, "the edited data")?)
    };
    match ui.engine.replay_event(&id, data).await? {
        Some(new_id) => Ok(Json(json!({ "event_id": new_id, "replay_of": id }))),
        None => Err(ApiError::NotFound(format!("no event with id `{id}`"))),
    }
}

async fn send(State(ui): State<Shared>, RequestBody(body): RequestBody) -> Result<Json<Value>, ApiError> {
    if is_blank(&body) {
        return Err(ApiError::BadRequest(
            r#"the body is empty: send one event {"name": "app/user.signup", "data": {...}} or an array of them"#
                .into(),
        ));
    }
    parse_json(&body, "the body")?;
    let events =
        crate::webhook::event_api::parse_events(&body, MAX_EVENTS_PER_REQUEST).map_err(ApiError::BadRequest)?;
    if events.is_empty() {
        return Err(ApiError::BadRequest("the array holds no event".into()));
    }
    let ids = ui.engine.send_raw(events, EventSource::Api).await?;
    Ok(Json(json!({ "ids": ids })))
}

/// `POST /api/v1/import`: events copied from another server (`hookflow events pull`), kept
/// with their ids and times (source `import`). An id already here is not imported again, so
/// pulling twice imports once. Answers `{"imported": [ids], "known": [ids]}`.
async fn import(State(ui): State<Shared>, RequestBody(body): RequestBody) -> Result<Json<Value>, ApiError> {
    if is_blank(&body) {
        return Err(ApiError::BadRequest(
            r#"the body is empty: send an array of events [{"id": "...", "name": "...", "data": {...}, "ts": ...}]"#
                .into(),
        ));
    }
    parse_json(&body, "the body")?;
    let events =
        crate::webhook::event_api::parse_events(&body, MAX_EVENTS_PER_REQUEST).map_err(ApiError::BadRequest)?;
    for (i, e) in events.iter().enumerate() {
        if e.id.is_empty() || e.ts <= 0 {
            return Err(ApiError::BadRequest(format!(
                "event #{i} (`{}`) has no id or no time: an import keeps both, so each event needs `id` and `ts`",
                e.name
            )));
        }
    }
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let known: HashSet<String> = ui.engine.store().events(&ids).await?.into_iter().map(|e| e.id).collect();
    let fresh: Vec<crate::RawEvent> = events.into_iter().filter(|e| !known.contains(&e.id)).collect();
    let imported = if fresh.is_empty() { Vec::new() } else { ui.engine.send_raw(fresh, EventSource::Import).await? };
    let known: Vec<&String> = ids.iter().filter(|id| known.contains(*id)).collect();
    Ok(Json(json!({ "imported": imported, "known": known })))
}

// ---------------------------------------------------------------------------------------------
// Functions

#[derive(Debug, Serialize)]
struct FunctionView {
    id: String,
    name: String,
    triggers: Vec<Value>,
    /// Options as `[key, value]` pairs, rendered the way they are written.
    options: Vec<(String, String)>,
    /// For the synthetic `on_failure` handler: the function it belongs to.
    failure_handler_of: Option<String>,
    source: String,
    counts: BTreeMap<&'static str, usize>,
    /// How many events it skipped (rate limit, idempotency, singleton), ever.
    skipped: u64,
}

/// A function's triggers; a cron trigger with its next tick after `now` (ms, null if none).
fn triggers(def: &FunctionSpec, now: Millis) -> Vec<Value> {
    def.triggers
        .iter()
        .map(|t| match t {
            Trigger::Event { name, expr } => json!({ "type": "event", "event": name, "if": expr }),
            Trigger::Cron { schedule } => {
                json!({ "type": "cron", "cron": schedule, "next": crate::engine::next_cron_tick(schedule, now) })
            }
        })
        .collect()
}

fn duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (days, h, m, sec) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    let mut out = String::new();
    for (n, unit) in [(days, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

fn key(k: Option<&str>) -> String {
    k.map(|k| format!(", key = \"{k}\"")).unwrap_or_default()
}

fn options(def: &FunctionSpec, functions: &crate::registry::Functions) -> Vec<(String, String)> {
    let o = &def.options;
    let mut out = Vec::new();
    match o.retries {
        Some(r) => out.push(("retries".into(), r.to_string())),
        None => out.push(("retries".into(), format!("{} (default)", crate::function::Options::DEFAULT_RETRIES))),
    }
    for c in o.concurrency.iter() {
        let scope = match c.scope {
            ConcurrencyScope::Fn => "fn",
            ConcurrencyScope::Env => "env",
            ConcurrencyScope::Account => "account",
        };
        let per = if c.per == crate::function::ConcurrencyPer::Run { ", per = \"run\"" } else { "" };
        out.push((
            "concurrency".into(),
            format!("limit = {}{}, scope = \"{scope}\"{per}", c.limit, key(c.key.as_deref())),
        ));
    }
    for t in o.throttle.iter() {
        out.push((
            "throttle".into(),
            format!(
                "limit = {}, period = \"{}\", burst = {}{}",
                t.limit,
                duration(t.period),
                t.burst,
                key(t.key.as_deref())
            ),
        ));
    }
    if let Some(r) = &o.rate_limit {
        out.push((
            "rate_limit".into(),
            format!("limit = {}, period = \"{}\"{}", r.limit, duration(r.period), key(r.key.as_deref())),
        ));
    }
    if let Some(d) = &o.debounce {
        let timeout = d.timeout.map(|t| format!(", timeout = \"{}\"", duration(t))).unwrap_or_default();
        let all = if d.all_events { ", all_events = true" } else { "" };
        out.push((
            "debounce".into(),
            format!("period = \"{}\"{}{timeout}{all}", duration(d.period), key(d.key.as_deref())),
        ));
    }
    if let Some(b) = &o.batch_events {
        out.push((
            "batch_events".into(),
            format!(
                "max_size = {}, timeout = \"{}\"{}{}",
                b.max_size,
                duration(b.timeout),
                key(b.key.as_deref()),
                b.if_expr.as_ref().map(|e| format!(", if = \"{e}\"")).unwrap_or_default()
            ),
        ));
    }
    if let Some(p) = &o.priority {
        out.push(("priority".into(), format!("run = \"{}\"", p.run)));
    }
    if let Some(i) = &o.idempotency {
        out.push(("idempotency".into(), format!("\"{i}\"")));
    }
    if let Some(single) = &o.singleton {
        let mode = match single.mode {
            crate::function::SingletonMode::Skip => "skip",
            crate::function::SingletonMode::Cancel => "cancel",
        };
        out.push(("singleton".into(), format!("mode = \"{mode}\"{}", key(single.key.as_deref()))));
    }
    for c in o.cancel_on.iter() {
        let expr = c.expr.as_ref().map(|e| format!(", if = \"{e}\"")).unwrap_or_default();
        let timeout = c.timeout.map(|t| format!(", timeout = \"{}\"", duration(t))).unwrap_or_default();
        out.push(("cancel_on".into(), format!("event = \"{}\"{expr}{timeout}", c.event)));
    }
    if let Some(t) = o.timeouts {
        let mut parts = Vec::new();
        if let Some(s) = t.start {
            parts.push(format!("start = \"{}\"", duration(s)));
        }
        if let Some(f) = t.finish {
            parts.push(format!("finish = \"{}\"", duration(f)));
        }
        out.push(("timeouts".into(), parts.join(", ")));
    }
    let handler = format!("{}-failure", def.id);
    if functions.get(&handler).is_some_and(|h| h.failure_handler_of.as_deref() == Some(def.id.as_str())) {
        out.push(("on_failure".into(), format!("runs as `{handler}`")));
    }
    out
}

async fn function_view(ui: &Shared, def: &FunctionSpec, skipped: u64) -> Result<FunctionView, ApiError> {
    let query = RunQuery { function_id: Some(def.id.clone()), limit: COUNT_WINDOW, ..RunQuery::default() };
    let runs = ui.queries()?.list_runs(&query).await?;
    let mut counts: BTreeMap<&'static str, usize> = RunStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in &runs {
        *counts.entry(r.status.as_str()).or_default() += 1;
    }
    let functions = ui.engine.functions();
    Ok(FunctionView {
        id: def.id.clone(),
        name: def.display_name().to_owned(),
        triggers: triggers(def, ui.engine.clock().now_ms()),
        options: options(def, &functions),
        failure_handler_of: def.failure_handler_of.clone(),
        source: match (&def.location, &def.executor) {
            (Some(location), _) => location.to_string(),
            (None, crate::function::Executor::Remote(remote)) => format!("app `{}` at {}", remote.app_id, remote.url),
            (None, crate::function::Executor::Local(_)) => "this binary".to_owned(),
        },
        counts,
        skipped,
    })
}

async fn list_functions(State(ui): State<Shared>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    let skips = ui.queries()?.skip_counts().await?;
    for def in ui.engine.functions().iter() {
        out.push(function_view(&ui, def, skips.get(&def.id).copied().unwrap_or(0)).await?);
    }
    Ok(Json(json!({ "functions": out, "now": ui.engine.clock().now_ms() })))
}

fn load_function(ui: &Shared, id: &str) -> Result<std::sync::Arc<FunctionSpec>, ApiError> {
    ui.engine
        .functions()
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no function with id `{id}` in this app")))
}

fn first_event(def: &FunctionSpec) -> Option<&str> {
    def.event_names().next()
}

async fn function_detail(State(ui): State<Shared>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let def = load_function(&ui, &id)?;
    let skipped = ui.queries()?.skip_counts().await?.get(&def.id).copied().unwrap_or(0);
    let view = function_view(&ui, &def, skipped).await?;
    let skips = ui.queries()?.skips_of_function(&def.id, 20).await?;
    let query = RunQuery { function_id: Some(def.id.clone()), limit: 20, ..RunQuery::default() };
    let runs = ui.queries()?.list_runs(&query).await?;
    let sample = first_event(&def)
        .and_then(|name| name.strip_prefix("clerk/"))
        .and_then(crate::clerk::fixtures::sample_data)
        .unwrap_or_else(|| json!({}));
    Ok(Json(json!({
        "function": view,
        "runs": run_views(&ui, &runs).await?,
        "skips": skip_views(&skips),
        "invoke_event": first_event(&def),
        "sample": sample,
        "now": ui.engine.clock().now_ms(),
    })))
}

/// Skips as the API shows them: the record, with the reason in words.
fn skip_views(skips: &[SkipRecord]) -> Vec<Value> {
    skips
        .iter()
        .map(|s| {
            json!({
                "function_id": s.function_id,
                "event_id": s.event_id,
                "kind": s.reason.kind(),
                "reason": s.reason.to_string(),
                "detail": s.reason,
                "at": s.at,
            })
        })
        .collect()
}

/// `GET /api/v1/functions/{id}/skips?limit=N`: the events a function skipped, newest first.
async fn function_skips(
    State(ui): State<Shared>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let def = load_function(&ui, &id)?;
    let limit = p.limit(50, MAX_LIMIT)?;
    let skips = ui.queries()?.skips_of_function(&def.id, limit).await?;
    Ok(Json(json!({ "skips": skip_views(&skips), "now": ui.engine.clock().now_ms() })))
}

async fn invoke(
    State(ui): State<Shared>,
    Path(id): Path<String>,
    RequestBody(body): RequestBody,
) -> Result<Json<Value>, ApiError> {
    let def = load_function(&ui, &id)?;
    let data = if is_blank(&body) { json!({}) } else { parse_json(&body, "the payload")? };
    if !data.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the payload must be a JSON object (the event's `data`), got {}",
            crate::webhook::json_kind(&data)
        )));
    }
    // Only this function runs: the event is `inngest/function.invoked`, addressed to it.
    let run_id = ui.engine.invoke(&def.id, data).await?;
    let run = match &run_id {
        Some(id) => ui.engine.store().run(id).await?,
        None => None,
    };
    let event_id = run.as_ref().and_then(|r| r.event_ids.first().cloned());
    Ok(Json(json!({
        "event_id": event_id,
        "event_name": "inngest/function.invoked",
        "run_id": run_id,
        "run_ids": run_id.iter().cloned().collect::<Vec<_>>(),
    })))
}

// ---------------------------------------------------------------------------------------------
// Templates

async fn templates() -> Json<Value> {
    let list: Vec<Value> = crate::clerk::CATALOG
        .iter()
        .map(|c| json!({ "clerk_type": c.clerk_type, "event_name": c.event_name, "doc": c.doc }))
        .collect();
    Json(json!({ "templates": list }))
}

async fn template(Path(clerk_type): Path<String>) -> Result<Json<Value>, ApiError> {
    let entry = crate::clerk::CATALOG
        .iter()
        .find(|c| c.clerk_type == clerk_type)
        .ok_or_else(|| ApiError::NotFound(format!("`{clerk_type}` is not a Clerk event type")))?;
    let data = crate::clerk::fixtures::sample_data(entry.clerk_type).unwrap_or_else(|| json!({}));
    Ok(Json(json!({ "clerk_type": entry.clerk_type, "event_name": entry.event_name, "data": data })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_times() {
        assert_eq!(parse_span("15m"), Some(900_000));
        assert_eq!(parse_span("7d"), Some(604_800_000));
        assert_eq!(parse_span("h"), None);
        assert_eq!(parse_span("5y"), None);
        assert_eq!(parse_time("1716883200000"), Some(1_716_883_200_000));
        assert_eq!(parse_time("2024-05-28T08:00:00Z"), Some(1_716_883_200_000));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn durations_render_as_written() {
        use std::time::Duration;
        assert_eq!(duration(Duration::from_secs(60)), "1m");
        assert_eq!(duration(Duration::from_secs(3 * 86_400 + 3_600)), "3d1h");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn previews_are_cut() {
        let long = json!({ "text": "x".repeat(1000) });
        let p = preview(&long, None);
        assert!(p.ends_with('…'));
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(preview(&json!({"a": 1}), None), r#"{"a":1}"#);
        let found = preview(&json!({ "text": "x".repeat(1000), "city": "Lisbon" }), Some("LISBON"));
        assert!(found.starts_with('…') && found.contains("\"city\":\"Lisbon\""), "{found}");
        assert_eq!(preview(&json!({"a": "é"}), Some("zzz")), r#"{"a":"é"}"#);
    }
}
