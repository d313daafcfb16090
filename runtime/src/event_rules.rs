//! What every event must be, whichever way it comes in: a signed webhook, the event API, the
//! `hookflow send` command, the dev UI's Send, Replay and Edit & Replay, `App::send` and
//! `step.send_event`.
//!
//! The engine checks each event with [`check`] before it accepts it, so no way in can skip the
//! rules; the doors call it first as well, so that their refusal (a 400) can say which event of
//! a request was wrong, and so that nothing of a refused request is written.
//!
//! | field | rule | why |
//! |---|---|---|
//! | `name` | not empty, at most [`MAX_NAME_CHARS`] characters, no control or bidirectional formatting characters | names are shown in the UI and logs, where such characters hide or reorder text |
//! | `name` | `inngest/*` only from the engine itself | those events start `on_failure` handlers and invoked runs: a forged `inngest/function.failed` would start them with made-up data |
//! | `id` | at most [`MAX_NAME_CHARS`] characters, no control or bidirectional formatting characters | the same; an empty id is generated |
//! | `data` | a JSON object (`null` is taken as `{}`) | Inngest's event shape: expressions and typed functions read `event.data.<field>` |
//! | `data` | at most [`MAX_DATA_DEPTH`] levels of nested arrays and objects | answers wrap `data` in a few more levels, and strict JSON readers (serde_json, `hookflow events pull`) stop at 128: a deeper event would make every list it shows in unreadable to them |
//! | `ts` | `0` (meaning "now") to [`MAX_TS`] (the end of year 9999), in milliseconds | a time every page can show |
//!
//! Two more limits are per request, checked by the doors: at most [`MAX_EVENTS_PER_REQUEST`]
//! events in one event API request, and at most [`MAX_DATA_BYTES`] of `data` in a replayed or
//! edited event.

use serde_json::{Map, Value};

use crate::model::EventSource;
use crate::{Payload, RawEvent};

/// The longest event name (and id), in characters: Inngest's limit.
pub const MAX_NAME_CHARS: usize = 512;

/// The latest `ts`: 9999-12-31T23:59:59.999Z, in milliseconds since the Unix epoch.
pub const MAX_TS: i64 = 253_402_300_799_999;

/// Names the engine keeps for its own events (`inngest/function.failed`, ...).
pub const INTERNAL_PREFIX: &str = "inngest/";

/// Events in one event API request, at most: Inngest's limit.
pub const MAX_EVENTS_PER_REQUEST: usize = 5_000;

/// The largest `data` of a replayed or edited event, in bytes of JSON: Inngest's largest event.
pub const MAX_DATA_BYTES: usize = 3 * 1024 * 1024;

/// The deepest nesting of arrays and objects an event's `data` may have (`{"a": [1]}` is two).
pub const MAX_DATA_DEPTH: usize = crate::payload::MAX_NESTING;

/// An event broke one of the rules; the message says which and what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(String);

impl InvalidEvent {
    /// The message, for callers that add where in a request the event was.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Checks an event from `source` against every rule, and takes `null` data as `{}`.
pub fn check(event: &mut RawEvent, source: EventSource) -> Result<(), InvalidEvent> {
    check_name(&event.name, source)?;
    check_text("id", &event.id)?;
    check_ts(event.ts)?;
    match event.data.json_kind() {
        "an object" => {}
        "null" => event.data = Payload::from(Value::Object(Map::new())),
        other => {
            return Err(InvalidEvent(format!(
                "the event's `data` must be a JSON object, got {other}: wrap the value, e.g. {{\"value\": ...}}"
            )))
        }
    }
    if event.data.nests_too_deep() {
        return Err(InvalidEvent(format!(
            "the event's `data` nests arrays and objects more than {MAX_DATA_DEPTH} levels deep: hookflow keeps at \
             most {MAX_DATA_DEPTH}, so that every JSON reader of its API can parse the answers that show it; \
             flatten the payload"
        )));
    }
    Ok(())
}

/// Checks an event name: the rules on text, and `inngest/*` only from the engine.
pub fn check_name(name: &str, source: EventSource) -> Result<(), InvalidEvent> {
    if name.trim().is_empty() {
        return Err(InvalidEvent("the event has no `name`: name it, e.g. `app/user.signup`".into()));
    }
    check_text("name", name)?;
    if name.starts_with(INTERNAL_PREFIX) && source != EventSource::Internal {
        return Err(InvalidEvent(format!(
            "the event name {} starts with `{INTERNAL_PREFIX}`, which only hookflow itself sends (for example \
             `inngest/function.failed`): give your events a prefix of your own, e.g. `app/...`",
            shown(name)
        )));
    }
    Ok(())
}

/// Checks a `ts`: 0 (now) to the end of year 9999, in milliseconds.
pub fn check_ts(ts: i64) -> Result<(), InvalidEvent> {
    if (0..=MAX_TS).contains(&ts) {
        return Ok(());
    }
    Err(InvalidEvent(format!(
        "the event's `ts` is {ts}: it must be milliseconds since the Unix epoch, from 0 (meaning now) to {MAX_TS} \
         (the end of year 9999)"
    )))
}

/// A name or id: bounded, and free of characters that hide or reorder text on a page.
fn check_text(field: &str, text: &str) -> Result<(), InvalidEvent> {
    let length = text.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(InvalidEvent(format!(
            "the event's `{field}` is {length} characters long ({}): at most {MAX_NAME_CHARS} are accepted",
            shown(text)
        )));
    }
    if let Some(c) = text.chars().find(|&c| c.is_control() || is_bidi_control(c)) {
        return Err(InvalidEvent(format!(
            "the event's `{field}` {} holds the character U+{:04X}, a control or bidirectional formatting \
             character: use printable characters only",
            shown(text),
            u32::from(c)
        )));
    }
    Ok(())
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates, marks):
/// invisible, and able to make text display in another order than it reads.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text quoted for a message: escaped, and cut if long.
fn shown(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(MAX).collect();
    format!("{head:?}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn checked(event: RawEvent, source: EventSource) -> Result<RawEvent, String> {
        let mut event = event;
        check(&mut event, source).map(|()| event).map_err(|e| e.to_string())
    }

    #[test]
    fn good_events_pass_and_null_data_becomes_an_object() {
        let event = checked(RawEvent::new("app/user.signup", Value::Null), EventSource::Code).unwrap();
        assert_eq!(event.data, json!({}));
        let event = RawEvent { ts: MAX_TS, ..RawEvent::new("हिंदी/événement", json!({"a": 1})) };
        assert!(checked(event, EventSource::Api).is_ok());
        let event = Payload::from_json(r#"{"kept": "as text"}"#).unwrap();
        let event = checked(RawEvent::new("app/x", event), EventSource::Api).unwrap();
        assert!(event.data.has_text(), "the check reads no tree");
    }

    #[test]
    fn each_rule_refuses_with_a_reason() {
        let cases: [(RawEvent, &str); 9] = [
            (RawEvent::new(" ", json!({})), "no `name`"),
            (RawEvent::new("a".repeat(513), json!({})), "513 characters"),
            (RawEvent::new("app/a\u{0}b", json!({})), "U+0000"),
            (RawEvent::new("app/\u{202E}gnp.exe", json!({})), "U+202E"),
            (RawEvent::new("inngest/function.failed", json!({})), "only hookflow itself sends"),
            (RawEvent::new("app/a", json!([1])), "got an array"),
            (RawEvent::new("app/a", json!("x")), "got a string"),
            (RawEvent { ts: -1, ..RawEvent::new("app/a", json!({})) }, "the event's `ts` is -1"),
            (RawEvent::new("app/a", json!({})).with_id("id\u{7}"), "`id`"),
        ];
        for (event, reason) in cases {
            let name = event.name.clone();
            let error = checked(event, EventSource::Api).expect_err(&name);
            assert!(error.contains(reason), "{name:?}: {reason:?} not in {error}");
        }
        let error = checked(RawEvent { ts: i64::MAX, ..RawEvent::new("app/a", json!({})) }, EventSource::Code);
        assert!(error.is_err_and(|e| e.contains("year 9999")));
    }

    #[test]
    fn data_nests_at_most_the_limit_from_text_and_from_a_tree() {
        // `{"deep": [[...]]}` nests one level more than its brackets.
        let deep = |levels: usize| format!("{{\"deep\": {}{}}}", "[".repeat(levels - 1), "]".repeat(levels - 1));
        for (levels, ok) in
            [(MAX_DATA_DEPTH - 1, true), (MAX_DATA_DEPTH, true), (MAX_DATA_DEPTH + 1, false), (127, false)]
        {
            let text = Payload::from_json(&deep(levels)).expect("a tree holds it");
            let tree = Payload::from(serde_json::from_str::<Value>(&deep(levels)).expect("tree"));
            for data in [text, tree] {
                let result = checked(RawEvent::new("app/deep", data), EventSource::Api);
                assert_eq!(result.is_ok(), ok, "{levels} levels: {result:?}");
                if !ok {
                    assert!(result.is_err_and(|e| e.contains("more than 100 levels")));
                }
            }
        }
        // A tree made in code may be deeper than any parser allows; the check still answers.
        let mut value = json!(1);
        for _ in 0..1_000 {
            value = json!([value]);
        }
        let data = Payload::from(json!({ "v": value }));
        assert!(checked(RawEvent::new("app/deep", data), EventSource::Code).is_err());
    }

    #[test]
    fn only_the_engine_sends_internal_names() {
        for source in EventSource::ALL {
            let result = check_name("inngest/function.invoked", source);
            assert_eq!(result.is_ok(), source == EventSource::Internal, "{source:?}");
        }
        assert!(check_name("inngestion/x", EventSource::Api).is_ok(), "only the `inngest/` prefix");
    }

    #[test]
    fn long_text_is_cut_in_messages() {
        let error = check_name(&"é".repeat(600), EventSource::Api).expect_err("too long").to_string();
        assert!(error.len() < 400, "{error}");
        assert!(error.contains("600 characters"), "{error}");
    }
}
