//! The protocol's JSON, both directions: the call request's body, memoized step state, opcodes,
//! errors and durations. Serve and executor share these codecs, so what one side writes is what
//! the other reads (the loopback conformance tests rely on it).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::ErrorInfo;
use crate::model::{Memo, Millis, StepKind};
use crate::replay::{Op, StepMeta};

/// The request version this implementation speaks (`X-Inngest-Req-Version`).
pub const REQUEST_VERSION: i64 = 2;

/// The `stepId` of a request that runs the function from the top.
pub const DISCOVERY_STEP: &str = "step";

/// The body of a call request (the server's `SDKRequest`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallRequest {
    /// The first triggering event.
    #[serde(default)]
    pub event: Value,
    /// Every triggering event (a batch); empty under `use_api`.
    #[serde(default)]
    pub events: Vec<Value>,
    /// Memoized step state by hashed id.
    #[serde(default)]
    pub steps: Map<String, Value>,
    /// The run and this request.
    pub ctx: CallCtx,
    /// The request version (`-1`: the SDK decides).
    #[serde(default = "unset_version")]
    pub version: i64,
    /// Legacy copy of `ctx.use_api`.
    #[serde(default)]
    pub use_api: bool,
}

fn unset_version() -> i64 {
    -1
}

fn discovery() -> String {
    DISCOVERY_STEP.to_owned()
}

/// `ctx` of a call request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallCtx {
    /// The function's id on the server (internal, not the slug); its presence lets current
    /// TypeScript SDKs checkpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fn_id: String,
    /// The run.
    #[serde(default)]
    pub run_id: String,
    /// The environment.
    #[serde(default)]
    pub env: String,
    /// `step`, or the hashed id of the step to execute.
    #[serde(default = "discovery")]
    pub step_id: String,
    /// Zero-based attempt of this request's unit of work.
    #[serde(default)]
    pub attempt: u32,
    /// Attempts in all (retries + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The order memoized steps completed in.
    #[serde(default)]
    pub stack: Stack,
    /// The queue item being worked (checkpointing refers to it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub qi_id: String,
    /// This dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// This dispatch's generation (fences checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<i64>,
    /// Plan every new step instead of executing one (parallel sections).
    #[serde(default)]
    pub disable_immediate_execution: bool,
    /// State too large for the body: fetch it from the API.
    #[serde(default)]
    pub use_api: bool,
}

/// `ctx.stack`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stack {
    /// Hashed ids in completion order.
    #[serde(default)]
    pub stack: Vec<String>,
    /// How many there are.
    #[serde(default)]
    pub current: usize,
}

/// `value` as canonical JSON (RFC 8785, JCS): object keys sorted by their UTF-16 code units, no
/// whitespace. The server sends call requests in this form and signs those bytes, and SDKs
/// that verify a parsed body (the TypeScript and Go SDKs) canonicalize it again before checking
/// the MAC, so an executor must send exactly this. Numbers are written as `serde_json` writes
/// them, which is JCS's form for every integer and for fractions without an exponent.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A memoized value as the server sends it: `{"data": X}`, `{"error": E}`, `{"input": [...]}`
/// (an input, not a result: `None`), or any other value (a sleep's `null`, a matched event)
/// taken whole.
pub fn memo_from_wire(value: &Value) -> Option<Memo> {
    if let Value::Object(map) = value {
        let only = |key: &str| map.contains_key(key) && map.keys().all(|k| k == key || k == "type");
        if only("data") {
            return Some(Memo::Data(map.get("data").cloned().unwrap_or(Value::Null)));
        }
        if only("error") {
            return Some(Memo::Error(error_from_wire(map.get("error").unwrap_or(&Value::Null))));
        }
        if only("input") {
            return None;
        }
    }
    Some(Memo::Data(value.clone()))
}

/// A memo as the executor sends it, which is as Inngest's server stores it: a step's value as
/// `{"data": X}` and its error as `{"error": E}`, but a finished sleep as `null` and a wait as
/// the matched event itself (`null` when it timed out), not wrapped: the server saves the
/// sleep's empty response and the resuming event as they are.
pub fn memo_to_wire(memo: &Memo, kind: StepKind) -> Value {
    match (memo, kind) {
        (Memo::Data(_), StepKind::Sleep) => Value::Null,
        (Memo::Data(event), StepKind::Wait) => event.clone(),
        (Memo::Data(data), _) => json!({ "data": data }),
        (Memo::Error(info), _) => json!({ "error": error_to_wire(info) }),
    }
}

/// An error as SDKs serialize it: `{"name", "message", "stack"?, "cause"?}` (Go sends only
/// `message`; a body that is not an object is its own message).
pub fn error_from_wire(value: &Value) -> ErrorInfo {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    match value {
        Value::Object(map) => ErrorInfo {
            name: text(map.get("name")).unwrap_or_else(|| "Error".to_owned()),
            message: text(map.get("message"))
                .or_else(|| text(map.get("error")))
                .unwrap_or_else(|| Value::Object(map.clone()).to_string()),
            cause: text(map.get("cause")),
            stack: text(map.get("stack")),
        },
        Value::String(s) => ErrorInfo { name: "Error".into(), message: s.clone(), cause: None, stack: None },
        other => ErrorInfo { name: "Error".into(), message: other.to_string(), cause: None, stack: None },
    }
}

/// An error as this SDK serializes it.
pub fn error_to_wire(info: &ErrorInfo) -> Value {
    let mut map = Map::new();
    map.insert("name".into(), json!(info.name));
    map.insert("message".into(), json!(info.message));
    if let Some(cause) = &info.cause {
        map.insert("cause".into(), json!(cause));
    }
    if let Some(stack) = &info.stack {
        map.insert("stack".into(), json!(stack));
    }
    Value::Object(map)
}

/// A duration as Inngest writes it: the largest units that divide it, e.g. `3d`, `1h30m`,
/// `45s`, `250ms` (`0s` for nothing).
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86_400_000u64), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

/// When a wire duration or date ends, counted from `now`: an RFC 3339 date, or a duration
/// such as `1h30m`, `3d`, `1h0m0s` (an empty one ends now).
pub fn parse_until(text: &str, now: Millis) -> Result<Millis, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(now);
    }
    if text.len() >= 10 {
        if let Ok(date) = chrono::DateTime::parse_from_rfc3339(text) {
            return Ok(date.timestamp_millis());
        }
    }
    let d =
        crate::duration::parse_duration(text).map_err(|e| format!("`{text}` is neither a date nor a duration: {e}"))?;
    Ok(now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

/// The time from `since` to `until` as a wire duration.
fn span(since: Millis, until: Millis) -> String {
    format_duration(Duration::from_millis(u64::try_from(until.saturating_sub(since)).unwrap_or(0)))
}

/// `opts.type` of a planned step.
fn step_type(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Send => "step.sendEvent",
        _ => "step.run",
    }
}

fn base(op: &str, step: &StepMeta) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("op".into(), json!(op));
    map.insert("id".into(), json!(step.id));
    map.insert("name".into(), json!(step.name));
    map.insert("displayName".into(), json!(step.name));
    map
}

/// An op of a pass as an opcode of a `206` answer; `None` for `RunComplete`, which is a `200`.
/// `invoked` maps a function id as the code wrote it to the id the server knows it by.
pub(crate) fn op_to_wire(op: &Op, invoked: impl Fn(&str) -> String) -> Option<Value> {
    let map = match op {
        Op::StepRun { step, data, .. } => {
            let mut map = base("StepRun", step);
            map.insert("data".into(), data.clone());
            map
        }
        Op::StepError { step, error, .. } | Op::StepFailed { step, error, .. } => {
            let name = if matches!(op, Op::StepError { .. }) { "StepError" } else { "StepFailed" };
            let mut map = base(name, step);
            map.insert("error".into(), error_to_wire(error));
            map
        }
        Op::StepPlanned { step, kind } => {
            let mut map = base("StepPlanned", step);
            map.insert("opts".into(), json!({ "type": step_type(*kind) }));
            map
        }
        Op::Sleep { step, since, until } => {
            let mut map = base("Sleep", step);
            map.insert("opts".into(), json!({ "duration": span(*since, *until) }));
            map
        }
        Op::WaitForEvent { step, since, event, expr, until } => {
            let mut map = base("WaitForEvent", step);
            let mut opts = json!({ "event": event, "timeout": span(*since, *until) });
            if let Some(expr) = expr {
                opts["if"] = json!(expr);
            }
            map.insert("opts".into(), opts);
            map
        }
        Op::InvokeFunction { step, since, function_id, data, until } => {
            let mut map = base("InvokeFunction", step);
            let opts = json!({
                "function_id": invoked(function_id),
                "payload": { "data": data },
                "timeout": span(*since, *until),
            });
            map.insert("opts".into(), opts);
            map
        }
        Op::RunComplete { .. } => return None,
    };
    Some(Value::Object(map))
}

/// An opcode as an SDK sends it (in a `206` answer or a checkpoint).
#[derive(Debug, Clone, Deserialize)]
pub struct WireOp {
    /// The opcode, matched case-insensitively.
    pub op: String,
    /// The hashed step id.
    #[serde(default)]
    pub id: String,
    /// The user's step id (JS puts a sleep's duration, a wait's event name here).
    #[serde(default)]
    pub name: Option<String>,
    /// The step's display name.
    #[serde(default, rename = "displayName")]
    pub display_name: Option<String>,
    /// Op options.
    #[serde(default)]
    pub opts: Option<Value>,
    /// A step's result.
    #[serde(default)]
    pub data: Option<Value>,
    /// A step's error.
    #[serde(default)]
    pub error: Option<Value>,
    /// The user's id, when the SDK says it apart (`{"id": ...}`).
    #[serde(default)]
    pub userland: Option<Value>,
}

impl WireOp {
    /// The step as ops name it: its hash and the user's id.
    pub(crate) fn meta(&self) -> StepMeta {
        let name = self
            .userland
            .as_ref()
            .and_then(|u| u.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.display_name.clone())
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.id.clone());
        StepMeta { id: self.id.clone(), name }
    }

    /// An option as text.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.opts.as_ref()?.get(key)?.as_str().filter(|s| !s.is_empty())
    }

    /// Whether this is the opcode `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.op.eq_ignore_ascii_case(name)
    }

    /// The step kind that `opts.type` says (a planned `step.sendEvent` is a send).
    pub fn kind(&self) -> StepKind {
        match self.opt("type") {
            Some("step.sendEvent") => StepKind::Send,
            _ => StepKind::Run,
        }
    }
}

/// Parses a `206` body: an array of opcodes, or one (legacy).
pub fn parse_ops(body: &[u8]) -> Result<Vec<WireOp>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let ops = match value {
        Value::Array(items) => items,
        Value::Object(_) => vec![value],
        other => return Err(format!("the body is {}, not a list of opcodes", crate::webhook::json_kind(&other))),
    };
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| serde_json::from_value::<WireOp>(op).map_err(|e| format!("opcode {i} is malformed ({e})")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memos_read_as_the_server_writes_them() {
        assert_eq!(memo_from_wire(&json!({"data": 5})), Some(Memo::Data(json!(5))));
        assert_eq!(memo_from_wire(&json!({"type": "data", "data": null})), Some(Memo::Data(Value::Null)));
        assert_eq!(memo_from_wire(&Value::Null), Some(Memo::Data(Value::Null)), "a sleep that ended");
        let event = json!({"name": "a/b", "data": {"x": 1}, "id": "e1", "ts": 1});
        assert_eq!(memo_from_wire(&event), Some(Memo::Data(event.clone())), "a matched event, whole");
        assert_eq!(memo_from_wire(&json!({"input": [1]})), None, "an input is not a result");
        let Some(Memo::Error(info)) =
            memo_from_wire(&json!({"error": {"name": "TypeError", "message": "x", "stack": "s"}}))
        else {
            panic!("an error memo")
        };
        assert_eq!((info.name.as_str(), info.message.as_str(), info.stack.as_deref()), ("TypeError", "x", Some("s")));
        for memo in [Memo::Data(json!({"a": [1, 2]})), Memo::Data(Value::Null), Memo::Error(info)] {
            for kind in [StepKind::Run, StepKind::Invoke, StepKind::Send] {
                assert_eq!(memo_from_wire(&memo_to_wire(&memo, kind)), Some(memo.clone()), "round trip");
            }
        }
        let event = Memo::Data(event);
        assert_eq!(memo_to_wire(&event, StepKind::Wait), json!({"name": "a/b", "data": {"x": 1}, "id": "e1", "ts": 1}));
        assert_eq!(memo_from_wire(&memo_to_wire(&event, StepKind::Wait)), Some(event), "a matched event round trips");
        assert_eq!(memo_to_wire(&Memo::Data(Value::Null), StepKind::Wait), Value::Null, "a wait that timed out");
        assert_eq!(memo_to_wire(&Memo::Data(Value::Null), StepKind::Sleep), Value::Null, "a sleep that ended");
        assert_eq!(memo_to_wire(&Memo::Data(json!({"x": 1})), StepKind::Run), json!({"data": {"x": 1}}));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": 1, "a": {"z": [3, {"y": null, "x": "é\n"}], "A": true}, "": 0.5});
        assert_eq!(canonical(&value), r#"{"":0.5,"a":{"A":true,"z":[3,{"x":"é\n","y":null}]},"b":1}"#);
        // By UTF-16 code units, not code points: U+10000 (the surrogate pair 0xD800 0xDC00)
        // sorts before U+E000.
        let value = json!({"\u{e000}": 2, "\u{10000}": 1});
        assert_eq!(canonical(&value), "{\"\u{10000}\":1,\"\u{e000}\":2}");
    }

    #[test]
    fn errors_of_every_sdk_shape() {
        assert_eq!(error_from_wire(&json!({"message": "go"})).name, "Error");
        assert_eq!(error_from_wire(&json!("plain")).message, "plain");
        let e = error_from_wire(&json!({"name": "E", "message": "m", "cause": {"x": 1}}));
        assert_eq!(e.cause.as_deref(), Some(r#"{"x":1}"#));
    }

    #[test]
    fn durations_both_ways() {
        assert_eq!(format_duration(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(parse_until("1h30m", 1000), Ok(1000 + 5_400_000));
        assert_eq!(parse_until("1h0m0s", 0), Ok(3_600_000), "Go's form");
        assert_eq!(parse_until("", 7), Ok(7));
        assert_eq!(parse_until("2026-01-01T00:00:00Z", 0), Ok(1_767_225_600_000));
        assert!(parse_until("soon", 0).is_err());
        for ms in [1u64, 999, 1000, 61_000, 86_400_000 + 1] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse_until(&format_duration(d), 0), Ok(ms as i64), "{ms}");
        }
    }

    #[test]
    fn ops_parse_from_arrays_or_one_object() {
        let ops = parse_ops(br#"[{"op":"StepRun","id":"h","name":"a","data":1},{"op":"sleep","id":"s","name":"1h"}]"#)
            .expect("ops");
        assert_eq!(ops.len(), 2);
        assert!(ops[1].is("Sleep"));
        assert_eq!(parse_ops(br#"{"op":"StepPlanned","id":"h"}"#).expect("one").len(), 1);
        assert!(parse_ops(b"7").expect_err("number").contains("a number"));
        assert!(parse_ops(b"[{}]").expect_err("no op").contains("opcode 0"));
    }
}
