//! An event as conditions see it: `event` (a run's trigger) or `async` (an incoming event) in a
//! CEL expression, with its JSON built only when something reads it: most events match no
//! expression, and the copy costs.

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::Value;

use crate::event::RawEvent;
use crate::model::StoredEvent;
use crate::Payload;

/// An event's id and JSON form, for conditions and matchers.
pub(crate) trait EventJson: Sync {
    /// The event's id (for a run's trigger, the first event's).
    fn event_id(&self) -> Option<&str>;
    /// The event as JSON (Inngest's shape), `null` when there is none.
    fn json(&self) -> &Arc<Value>;
}

/// The events that started a run; shared by every run of the same event.
pub(crate) struct TriggerEvent {
    events: Arc<[RawEvent]>,
    json: OnceLock<Arc<Value>>,
}

impl TriggerEvent {
    pub(crate) fn new(events: Arc<[RawEvent]>) -> Arc<TriggerEvent> {
        TriggerEvent::with_json(events, None)
    }

    /// With the first event's JSON form already built, if it was.
    pub(crate) fn with_json(events: Arc<[RawEvent]>, json: Option<Arc<Value>>) -> Arc<TriggerEvent> {
        let trigger = TriggerEvent { events, json: OnceLock::new() };
        if let Some(json) = json {
            let _ = trigger.json.set(json);
        }
        Arc::new(trigger)
    }

    pub(crate) fn events(&self) -> &Arc<[RawEvent]> {
        &self.events
    }
}

impl EventJson for TriggerEvent {
    fn event_id(&self) -> Option<&str> {
        self.events.first().map(|e| e.id.as_str())
    }

    fn json(&self) -> &Arc<Value> {
        self.json.get_or_init(|| Arc::new(self.events.first().map_or(Value::Null, RawEvent::to_json)))
    }
}

/// An event being accepted: read in place, without a copy of its payload.
pub(crate) struct Incoming<'a> {
    event: &'a StoredEvent,
    json: OnceLock<Arc<Value>>,
}

/// A stored event in the shape of [`RawEvent`]'s JSON (same fields, same order).
#[derive(Serialize)]
struct RawView<'a> {
    name: &'a str,
    data: &'a Payload,
    id: &'a str,
    ts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a Value>,
}

impl<'a> Incoming<'a> {
    pub(crate) fn new(event: &'a StoredEvent) -> Incoming<'a> {
        Incoming { event, json: OnceLock::new() }
    }

    /// The JSON form, if something built it (to keep it for the runs the event starts).
    pub(crate) fn into_json(self) -> Option<Arc<Value>> {
        self.json.into_inner()
    }
}

impl EventJson for Incoming<'_> {
    fn event_id(&self) -> Option<&str> {
        Some(&self.event.id)
    }

    fn json(&self) -> &Arc<Value> {
        self.json.get_or_init(|| {
            let e = self.event;
            let view = RawView { name: &e.name, data: &e.data, id: &e.id, ts: e.ts, user: e.user.as_ref() };
            // Strings, numbers and JSON values only: serializing cannot fail.
            Arc::new(serde_json::to_value(view).unwrap_or(Value::Null))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventSource;

    #[test]
    fn an_incoming_event_reads_as_its_raw_event_does() {
        let event = StoredEvent {
            id: "e1".into(),
            name: "app/x".into(),
            data: serde_json::json!({"a": [1, "b"]}).into(),
            ts: 5,
            user: Some(serde_json::json!({"k": true})),
            source: EventSource::Api,
            received_at: 6,
        };
        assert_eq!(**Incoming::new(&event).json(), event.to_raw().to_json());
        let bare = StoredEvent { user: None, ..event };
        assert_eq!(**Incoming::new(&bare).json(), bare.to_raw().to_json());
    }
}
