//! A pass's report as the answer to a call request: the protocol's counterpart of the engine's
//! apply. Steps the pass executed, planned or asks for become a `206` list of opcodes (only the
//! targeted step's, for a targeted request), the function's value a `200`, its error a `500`
//! to retry or a `400` not to, with `X-Inngest-No-Retry` and `Retry-After` saying which.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::headers;
use super::wire::{error_to_wire, op_to_wire};
use crate::error::{ErrorInfo, Retry};
use crate::replay::{Op, PassEnd, PassReport};

/// An answer before the headers every answer carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: StatusCode,
    /// The JSON body.
    pub(crate) body: Value,
    /// Headers that depend on the outcome (`X-Inngest-No-Retry`, `Retry-After`).
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Answer {
    /// A JSON answer without outcome headers.
    pub(crate) fn json(status: StatusCode, body: Value) -> Answer {
        Answer { status, body, headers: Vec::new() }
    }
}

/// What the answer depends on besides the report.
pub(crate) struct Request<'a> {
    /// The hashed id of the step a targeted request executes.
    pub(crate) target: Option<&'a str>,
    /// `ctx.attempt`.
    pub(crate) attempt: u32,
    /// Attempts in all.
    pub(crate) max_attempts: u32,
    /// The id the server knows a function of this app by (for `step.invoke`).
    pub(crate) invoked: &'a dyn Fn(&str) -> String,
}

fn retry_after(delay: Duration) -> String {
    // Whole seconds, rounded up: the server reads an integer and clamps it to at least 1 s.
    let ms = delay.as_millis();
    ms.div_ceil(1000).max(1).to_string()
}

fn no_retry(yes: bool) -> (&'static str, String) {
    (headers::NO_RETRY, yes.to_string())
}

/// The answer to a call request whose pass produced `report`.
pub(crate) fn answer(report: &PassReport, request: &Request<'_>) -> Answer {
    let relevant = |op: &Op| match (request.target, op.step_id()) {
        (Some(target), Some(id)) => {
            id == target && matches!(op, Op::StepRun { .. } | Op::StepError { .. } | Op::StepFailed { .. })
        }
        (Some(_), None) => false,
        (None, _) => !matches!(op, Op::RunComplete { .. }),
    };
    let ops: Vec<&Op> = report.ops.iter().filter(|op| relevant(op)).collect();
    if !ops.is_empty() {
        let mut headers = Vec::new();
        for op in &ops {
            match op {
                Op::StepError { retry_after: delay, .. } => {
                    headers.push(no_retry(false));
                    if let Some(delay) = delay {
                        headers.push((headers::RETRY_AFTER, retry_after(*delay)));
                    }
                }
                Op::StepFailed { .. } => headers.push(no_retry(true)),
                _ => {}
            }
        }
        headers.dedup_by(|a, b| a.0 == b.0);
        let body: Vec<Value> = ops.iter().filter_map(|op| op_to_wire(op, request.invoked)).collect();
        return Answer { status: StatusCode::PARTIAL_CONTENT, body: Value::Array(body), headers };
    }
    match &report.end {
        PassEnd::Failed { error, retry } => failure(error, *retry, request),
        PassEnd::Completed if request.target.is_none() => {
            let data = report.ops.iter().find_map(|op| match op {
                Op::RunComplete { data } => Some(data.clone()),
                _ => None,
            });
            Answer::json(StatusCode::OK, data.unwrap_or(Value::Null))
        }
        _ => match request.target {
            // The targeted step was not reached: the server tries again.
            Some(target) => Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: json!({
                    "error": format!("Could not find step \"{target}\" to run; the function did not reach it"),
                    "requestedStep": target,
                }),
                headers: vec![no_retry(false)],
            },
            None => Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: error_to_wire(&ErrorInfo {
                    name: "Error".into(),
                    message: "the function stopped without returning and without reaching a step".into(),
                    cause: None,
                    stack: None,
                }),
                headers: vec![no_retry(false)],
            },
        },
    }
}

/// The function failed: retried (`500`, no-retry `false`) unless the error says never or this
/// was its last attempt (`400`, no-retry `true`).
fn failure(error: &ErrorInfo, retry: Retry, request: &Request<'_>) -> Answer {
    let last = request.attempt + 1 >= request.max_attempts;
    let body = error_to_wire(error);
    match retry {
        Retry::Never => Answer { status: StatusCode::BAD_REQUEST, body, headers: vec![no_retry(true)] },
        _ if last => Answer { status: StatusCode::BAD_REQUEST, body, headers: vec![no_retry(true)] },
        Retry::After(delay) => Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body,
            headers: vec![no_retry(false), (headers::RETRY_AFTER, retry_after(delay))],
        },
        Retry::Backoff => Answer { status: StatusCode::INTERNAL_SERVER_ERROR, body, headers: vec![no_retry(false)] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StepKind;
    use crate::replay::{StepMeta, Timing};

    fn meta(id: &str) -> StepMeta {
        StepMeta { id: id.into(), name: id.into() }
    }

    fn report(ops: Vec<Op>, end: PassEnd) -> PassReport {
        PassReport { ops, kept: Vec::new(), end, replayed: 0 }
    }

    fn request(target: Option<&str>, attempt: u32) -> Request<'_> {
        Request { target, attempt, max_attempts: 3, invoked: &|id| format!("app-{id}") }
    }

    const T: Timing = Timing { started_at: 0, ended_at: 1 };

    #[test]
    fn a_completed_function_is_a_200_with_its_value() {
        let r = report(vec![Op::RunComplete { data: json!({"ok": 1}) }], PassEnd::Completed);
        assert_eq!(answer(&r, &request(None, 0)), Answer::json(StatusCode::OK, json!({"ok": 1})));
    }

    #[test]
    fn step_errors_carry_the_retry_headers() {
        let error = ErrorInfo { name: "E".into(), message: "m".into(), cause: None, stack: None };
        let op = Op::StepError {
            step: meta("h"),
            kind: StepKind::Run,
            error: error.clone(),
            attempt: 0,
            retry_after: Some(Duration::from_millis(1500)),
            timing: T,
            attempt_started_at: T.started_at,
        };
        let a = answer(&report(vec![op], PassEnd::Suspended), &request(None, 0));
        assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(a.headers, vec![(headers::NO_RETRY, "false".into()), (headers::RETRY_AFTER, "2".into())]);
        let op = Op::StepFailed { step: meta("h"), kind: StepKind::Run, error, attempt: 2, timing: T };
        let a = answer(&report(vec![op], PassEnd::Suspended), &request(None, 2));
        assert_eq!(a.headers, vec![(headers::NO_RETRY, "true".into())]);
        assert_eq!(a.body[0]["op"], "StepFailed");
    }

    #[test]
    fn function_errors_are_retried_until_the_last_attempt() {
        let error = ErrorInfo { name: "E".into(), message: "m".into(), cause: None, stack: None };
        let failed = |retry| report(Vec::new(), PassEnd::Failed { error: error.clone(), retry });
        let a = answer(&failed(Retry::Backoff), &request(None, 0));
        assert_eq!((a.status, a.headers.clone()), (StatusCode::INTERNAL_SERVER_ERROR, vec![no_retry(false)]));
        let a = answer(&failed(Retry::Backoff), &request(None, 2));
        assert_eq!((a.status, a.headers.clone()), (StatusCode::BAD_REQUEST, vec![no_retry(true)]), "last attempt");
        let a = answer(&failed(Retry::Never), &request(None, 0));
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let a = answer(&failed(Retry::After(Duration::from_secs(30))), &request(None, 0));
        assert_eq!(a.headers, vec![no_retry(false), (headers::RETRY_AFTER, "30".into())]);
    }

    #[test]
    fn a_targeted_request_reports_only_its_step_or_that_it_was_not_found() {
        let ran = Op::StepRun { step: meta("b"), kind: StepKind::Run, data: json!(2), attempt: 0, timing: T };
        let sleep = Op::Sleep { step: meta("s"), since: 0, until: 1000 };
        let a = answer(&report(vec![sleep.clone(), ran], PassEnd::Suspended), &request(Some("b"), 0));
        assert_eq!(a.body.as_array().map(Vec::len), Some(1));
        assert_eq!(a.body[0]["id"], "b");
        let a = answer(&report(vec![sleep], PassEnd::Suspended), &request(Some("b"), 0));
        assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(a.body["requestedStep"], "b");
        assert_eq!(a.headers, vec![no_retry(false)]);
    }

    #[test]
    fn invokes_name_functions_of_this_app_by_their_composite_id() {
        let op = Op::InvokeFunction {
            step: meta("i"),
            since: 0,
            function_id: "child".into(),
            data: json!({}),
            until: 60_000,
        };
        let a = answer(&report(vec![op], PassEnd::Suspended), &request(None, 0));
        assert_eq!(a.body[0]["opts"], json!({"function_id": "app-child", "payload": {"data": {}}, "timeout": "1m"}));
    }
}
