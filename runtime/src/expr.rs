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
    fn recognises_equality_joins() {
        let join = EqualityJoin::parse("event.data.id == async.data.id").unwrap();
        assert_eq!(join.event_path, vec!["data", "id"]);
        let join = EqualityJoin::parse(" async.data.user_id==event.data.id ").unwrap();
        assert_eq!(join.async_path, vec!["data", "user_id"]);
        assert!(EqualityJoin::parse("event.data.id == 'x'").is_none());
        assert!(EqualityJoin::parse("event.data.id == async.data.id && true").is_none());
    }
}
