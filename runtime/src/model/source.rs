//! Where an event came from.

/// Where an event came from (shown in the dev UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// A signed provider webhook, such as Clerk's.
    Webhook,
    /// Inngest's event API, `POST /e/{key}`, or `hookflow send`.
    Api,
    /// `step.send_event` inside a function.
    Step,
    /// A replay (or edit & replay) from the dev UI.
    Replay,
    /// A cron trigger.
    Cron,
    /// The engine itself, e.g. `inngest/function.failed`.
    Internal,
    /// `App::send` from application code.
    Code,
    /// Copied from another server, keeping its id and time (`hookflow events pull`).
    Import,
}

impl EventSource {
    /// Every source.
    pub const ALL: [EventSource; 8] = [
        EventSource::Webhook,
        EventSource::Api,
        EventSource::Step,
        EventSource::Replay,
        EventSource::Cron,
        EventSource::Internal,
        EventSource::Code,
        EventSource::Import,
    ];

    /// The source as a string (`webhook`, `api`, ...), as it is serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Api => "api",
            EventSource::Step => "step",
            EventSource::Replay => "replay",
            EventSource::Cron => "cron",
            EventSource::Internal => "internal",
            EventSource::Code => "code",
            EventSource::Import => "import",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Option<EventSource> {
        EventSource::ALL.into_iter().find(|source| source.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::EventSource;

    #[test]
    fn the_string_form_is_the_serialized_one() {
        for source in EventSource::ALL {
            assert_eq!(serde_json::to_value(source).ok(), Some(serde_json::json!(source.as_str())));
            assert_eq!(EventSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(EventSource::parse("nope"), None);
    }
}
