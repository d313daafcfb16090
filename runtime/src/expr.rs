//! CEL expressions, as Inngest uses them: trigger `if`, `cancel_on`, `wait_for_event` matches
//! and flow-control keys. Expressions are compiled once and cached.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

/// An expression failed to compile or evaluate.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ExprError {
    /// Bad syntax.
    #[error("invalid CEL expression `{expr}`: {message}")]
    Syntax {
        /// The expression.
        expr: String,
        /// What the parser said.
        message: String,
    },
    /// Evaluation failed (a missing field, a type error).
    #[error("CEL expression `{expr}` failed: {message}")]
    Eval {
        /// The expression.
        expr: String,
        /// What went wrong.
        message: String,
    },
}

/// A cache of compiled programs.
#[derive(Default)]
pub(crate) struct Exprs {
    programs: RwLock<HashMap<String, Arc<cel::Program>>>,
}

impl std::fmt::Debug for Exprs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exprs").field("cached", &self.programs.read().len()).finish()
    }
}

impl Exprs {
    fn program(&self, expr: &str) -> Result<Arc<cel::Program>, ExprError> {
        if let Some(p) = self.programs.read().get(expr) {
            return Ok(p.clone());
        }
        let program = Arc::new(
            cel::Program::compile(expr)
                .map_err(|e| ExprError::Syntax { expr: expr.to_owned(), message: e.to_string() })?,
        );
        self.programs.write().insert(expr.to_owned(), program.clone());
        Ok(program)
    }

    /// Evaluates `expr` with the given variables.
    pub(crate) fn eval(&self, expr: &str, vars: &[(&str, &Value)]) -> Result<cel::Value, ExprError> {
        let program = self.program(expr)?;
        let mut ctx = cel::Context::default();
        for (name, value) in vars {
            ctx.add_variable(*name, (*value).clone())
                .map_err(|e| ExprError::Eval { expr: expr.to_owned(), message: e.to_string() })?;
        }
        program.execute(&ctx).map_err(|e| ExprError::Eval { expr: expr.to_owned(), message: e.to_string() })
    }

    /// Evaluates a condition; anything but `true` is false.
    pub(crate) fn test(&self, expr: &str, vars: &[(&str, &Value)]) -> Result<bool, ExprError> {
        Ok(matches!(self.eval(expr, vars)?, cel::Value::Bool(true)))
    }

    /// Evaluates a flow-control key over `event`. A plain path (`event.data.user.id`) is read
    /// in place, without handing the payload to CEL, since keys are evaluated for every run.
    pub(crate) fn key(&self, expr: &str, event: &Value) -> KeyValue {
        if let Some(path) = plain_path(expr) {
            let mut value = event;
            for part in path {
                match value.get(part) {
                    Some(v) => value = v,
                    None => return KeyValue::Null,
                }
            }
            return KeyValue::of_json(value);
        }
        match self.eval(expr, &[("event", event)]) {
            Ok(value) => match value.json() {
                Ok(json) => KeyValue::of_json(&json),
                Err(e) => KeyValue::Error(format!("CEL expression `{expr}` gave a value that is not JSON: {e:?}")),
            },
            // cel reports a missing field as an error; Inngest reads it as null.
            Err(ExprError::Eval { message, .. }) if message.contains("No such key") => KeyValue::Null,
            Err(e) => KeyValue::Error(e.to_string()),
        }
    }
}

/// What a flow-control key evaluated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyValue {
    /// A value, as text: strings verbatim, anything else as compact JSON.
    Value(String),
    /// `null`, or a field the event does not have: every such run shares the bucket `<nil>`.
    Null,
    /// `false`: for a rate limit or a singleton, the control is off for this event.
    False,
    /// The expression failed.
    Error(String),
}

impl KeyValue {
    fn of_json(value: &Value) -> KeyValue {
        match value {
            Value::Null => KeyValue::Null,
            Value::Bool(false) => KeyValue::False,
            Value::String(s) => KeyValue::Value(s.clone()),
            other => KeyValue::Value(other.to_string()),
        }
    }

    /// The bucket name part: `<nil>` for null (and for errors, which are logged by the caller).
    pub(crate) fn bucket(&self) -> &str {
        match self {
            KeyValue::Value(s) => s,
            KeyValue::False => "false",
            KeyValue::Null | KeyValue::Error(_) => "<nil>",
        }
    }
}

/// The path of an expression that is only `event.a.b...`.
fn plain_path(expr: &str) -> Option<impl Iterator<Item = &str>> {
    let rest = expr.trim().strip_prefix("event.")?;
    let valid = rest.split('.').all(|p| {
        !p.is_empty()
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    });
    valid.then(|| rest.split('.'))
}

/// Recognises `event.a.b == async.c.d` (either order): such expressions are indexed by value
/// instead of evaluated against every candidate, so 100,000 waiting runs cost one map lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EqualityJoin {
    /// The path into the run's triggering event (`event`), e.g. `["data", "id"]`.
    pub(crate) event_path: Vec<String>,
    /// The path into the incoming event (`async`).
    pub(crate) async_path: Vec<String>,
}

impl EqualityJoin {
    pub(crate) fn parse(expr: &str) -> Option<EqualityJoin> {
        let (left, right) = expr.split_once("==")?;
        let side = |s: &str| -> Option<(String, Vec<String>)> {
            let s = s.trim();
            let mut parts = s.split('.');
            let root = parts.next()?.to_owned();
            let path: Vec<String> = parts.map(str::to_owned).collect();
            let valid = !path.is_empty()
                && path.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            valid.then_some((root, path))
        };
        let (l_root, l_path) = side(left)?;
        let (r_root, r_path) = side(right)?;
        match (l_root.as_str(), r_root.as_str()) {
            ("event", "async") => Some(EqualityJoin { event_path: l_path, async_path: r_path }),
            ("async", "event") => Some(EqualityJoin { event_path: r_path, async_path: l_path }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_with_event_and_async() {
        let exprs = Exprs::default();
        let event = json!({"data": {"id": "user_1", "plan": "pro"}});
        let other = json!({"data": {"id": "user_1"}});
        assert!(exprs.test("event.data.id == async.data.id", &[("event", &event), ("async", &other)]).unwrap());
        assert!(exprs.test("event.data.plan == 'pro'", &[("event", &event)]).unwrap());
        assert!(!exprs.test("event.data.plan == 'free'", &[("event", &event)]).unwrap());
        assert!(matches!(exprs.test("event.data.(", &[]), Err(ExprError::Syntax { .. })));
    }

    #[test]
    fn evaluates_keys_as_inngest_buckets_them() {
        let exprs = Exprs::default();
        let event = json!({"data": {"id": "user_1", "n": 7, "on": false, "nested": {"a": [1]}}});
        assert_eq!(exprs.key("event.data.id", &event), KeyValue::Value("user_1".into()));
        assert_eq!(exprs.key("event.data.n", &event), KeyValue::Value("7".into()));
        assert_eq!(exprs.key("event.data.on", &event), KeyValue::False);
        assert_eq!(exprs.key("event.data.missing.deeper", &event), KeyValue::Null);
        assert_eq!(exprs.key("event.data.nested", &event), KeyValue::Value(r#"{"a":[1]}"#.into()));
        // Through CEL: the same rendering, and a missing field is null there too.
        assert_eq!(exprs.key("event.data.id + '-' + string(event.data.n)", &event), KeyValue::Value("user_1-7".into()));
        assert_eq!(exprs.key("event.data.missing", &json!({"data": {}})), KeyValue::Null);
        assert_eq!(exprs.key("'openai'", &event), KeyValue::Value("openai".into()));
        assert_eq!(exprs.key("event.data.n > 3", &event), KeyValue::Value("true".into()));
        assert!(matches!(exprs.key("event.data.(", &event), KeyValue::Error(_)));
        assert_eq!(KeyValue::Null.bucket(), "<nil>");
    }

    #[test]
    fn recognises_equality_joins() {
        let join = EqualityJoin::parse("event.data.id == async.data.id").unwrap();
        assert_eq!(join.event_path, vec!["data", "id"]);
        let join = EqualityJoin::parse(" async.data.user_id==event.data.id ").unwrap();
        assert_eq!(join.async_path, vec!["data", "user_id"]);
        assert!(EqualityJoin::parse("event.data.id == 'x'").is_none());
        assert!(EqualityJoin::parse("event.data.id == async.data.id && true").is_none());
    }
}
