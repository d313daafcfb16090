//! A run's triggering events, with their JSON form (what `event` means in CEL expressions)
//! built only when something reads it: most runs match no expression, and the copy costs.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::event::RawEvent;

/// The events that started a run; shared by every run of the same event.
pub(crate) struct TriggerEvent {
    events: Arc<[RawEvent]>,
    json: OnceLock<Arc<Value>>,
}

impl TriggerEvent {
    pub(crate) fn new(events: Arc<[RawEvent]>) -> Arc<TriggerEvent> {
        Arc::new(TriggerEvent { events, json: OnceLock::new() })
    }

    pub(crate) fn events(&self) -> &Arc<[RawEvent]> {
        &self.events
    }

    /// The first event's id (the one Inngest's system events carry).
    pub(crate) fn id(&self) -> Option<&str> {
        self.events.first().map(|e| e.id.as_str())
    }

    /// The first event as JSON, `null` when there is none.
    pub(crate) fn json(&self) -> &Arc<Value> {
        self.json.get_or_init(|| Arc::new(self.events.first().map_or(Value::Null, RawEvent::to_json)))
    }
}
