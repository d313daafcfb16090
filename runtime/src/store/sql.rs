//! What the SQL stores (SQLite and Postgres) share when they build the dev UI's queries: a
//! WHERE clause from optional conditions, and the conditions of the queries themselves, so that
//! both stores filter alike.

use super::types::{EventQuery, RunQuery};

/// A WHERE clause built from optional conditions, with numbered parameters: `?` in a clause is
/// its value's place, written `{mark}N` (`?1` for SQLite, `$1` for Postgres).
pub(crate) struct Filter<V> {
    clauses: Vec<String>,
    /// The values, in parameter order.
    pub(crate) params: Vec<V>,
    mark: &'static str,
}

impl<V> Filter<V> {
    /// No condition yet; parameters are written `{mark}N`.
    pub(crate) fn new(mark: &'static str) -> Self {
        Filter { clauses: Vec::new(), params: Vec::new(), mark }
    }

    /// Adds `clause`, in which every `?` is `value`'s parameter.
    pub(crate) fn add(&mut self, clause: &str, value: impl Into<V>) {
        self.params.push(value.into());
        self.clauses.push(clause.replace('?', &format!("{}{}", self.mark, self.params.len())));
    }

    /// Adds a clause without parameters.
    pub(crate) fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// `WHERE ...`, or nothing without conditions.
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// A case-insensitive `LIKE` pattern that matches `text` anywhere, literally (with `ESCAPE '\'`).
pub(crate) fn like_pattern(text: &str) -> String {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// An event query's conditions on `events e`, but its page cursor and its search, which each
/// store answers its own way.
pub(crate) fn event_conditions<V: From<String> + From<i64>>(query: &EventQuery, filter: &mut Filter<V>) {
    if let Some(name) = &query.name {
        filter.add("e.name = ?", name.clone());
    }
    if !query.include_internal {
        filter.raw("e.name NOT LIKE 'inngest/%'");
    }
    if let Some(since) = query.since {
        filter.add("e.received_at >= ?", since);
    }
    if let Some(until) = query.until {
        filter.add("e.received_at < ?", until);
    }
}

/// A run query's conditions on `runs`.
pub(crate) fn run_conditions<V: From<String> + From<i64>>(query: &RunQuery, filter: &mut Filter<V>) {
    if let Some(before) = &query.before {
        filter.add("id < ?", before.clone());
    }
    if let Some(function_id) = &query.function_id {
        filter.add("function_id = ?", function_id.clone());
    }
    if !query.statuses.is_empty() {
        // Statuses are the model's own names: safe to write inline.
        let list: Vec<String> = query.statuses.iter().map(|s| format!("'{}'", s.as_str())).collect();
        filter.raw(&format!("status IN ({})", list.join(", ")));
    }
    if let Some(event_id) = &query.event_id {
        // The first triggering event, through its index (batches are listed under their first event).
        filter.add("event_id = ?", event_id.clone());
    }
    if let Some(since) = query.since {
        filter.add("created_at >= ?", since);
    }
    if let Some(until) = query.until {
        filter.add("created_at < ?", until);
    }
    if let Some(search) = &query.search {
        filter.add(
            "lower(function_id || ' ' || coalesce(output, '') || ' ' || coalesce(error, '')) LIKE ? ESCAPE '\\'",
            like_pattern(search),
        );
    }
}
