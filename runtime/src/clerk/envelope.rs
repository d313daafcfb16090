//! The raw body of a Clerk webhook: `{data, object, type, timestamp, instance_id,
//! event_attributes}`.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::field::Field;
use super::ClerkEvent;
use crate::payload::json_kind;
use crate::Payload;

/// Timestamps below this are read as seconds, at or above it as milliseconds. 10^11 seconds is
/// the year 5138 and 10^11 milliseconds is March 1973, so no real Clerk timestamp is ambiguous.
const SECONDS_CUTOFF: i64 = 100_000_000_000;

/// A Clerk webhook body as it arrives (after signature verification), before its `data` is
/// typed.
///
/// Clerk's docs say `timestamp` is in milliseconds, while the examples in its spec use seconds:
/// [`Envelope::timestamp_ms`] accepts both. Fields Clerk adds land in `extra`.
///
/// ```
/// # use hookflow::clerk::{ClerkEvent, Envelope};
/// let envelope = Envelope::parse(br#"{
///     "type": "user.deleted", "object": "event", "timestamp": 1716883200,
///     "instance_id": "ins_1", "data": {"object": "user", "id": "user_1", "deleted": true}
/// }"#)?;
/// assert_eq!(envelope.event_name(), "clerk/user.deleted");
/// assert_eq!(envelope.timestamp_ms(), Some(1_716_883_200_000));
/// match envelope.typed()? {
///     ClerkEvent::UserDeleted(gone) => assert_eq!(gone.id(), Some("user_1")),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload; its shape depends on `type`.
    pub data: Payload,
    /// Always `event`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub object: Field<Option<String>>,
    /// Clerk's event type, e.g. `user.created`.
    #[serde(rename = "type")]
    pub clerk_type: String,
    /// When the event happened, in seconds or milliseconds since the Unix epoch; see
    /// [`Envelope::timestamp_ms`].
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub timestamp: Field<Option<i64>>,
    /// The Clerk instance, `ins_...`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub instance_id: Field<Option<String>>,
    /// The request that caused the event, when Clerk knows it.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub event_attributes: Field<Option<EventAttributes>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What Clerk knows about the request that caused an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAttributes {
    /// The HTTP request.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub http_request: Field<Option<HttpRequest>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The HTTP request that caused an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub client_ip: Field<Option<String>>,
    /// The client's user agent.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub user_agent: Field<Option<String>>,
    /// Fields this version of hookflow does not model, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a body is not a Clerk webhook envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The body is not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("expected a JSON object, found {found}: not a Clerk webhook envelope")]
    NotAnObject {
        /// What was found instead, e.g. `an array`.
        found: &'static str,
    },
    /// There is no `type`.
    #[error("missing field `type`: not a Clerk webhook envelope")]
    MissingType,
    /// `type` is not a string, or is empty.
    #[error("`type` must be a non-empty string such as \"user.created\", found {found}")]
    BadType {
        /// What was found instead.
        found: &'static str,
    },
    /// There is no `data`.
    #[error("missing field `data`: not a Clerk webhook envelope")]
    MissingData,
    /// `data` is not an object.
    #[error("`data` must be an object, found {found}")]
    DataNotObject {
        /// What was found instead.
        found: &'static str,
    },
    /// `timestamp` is not an integer.
    #[error("`timestamp` must be an integer (Unix seconds or milliseconds), found {found}")]
    BadTimestamp {
        /// What was found instead.
        found: &'static str,
    },
    /// Another field has the wrong shape (for example `instance_id` is a number).
    #[error("invalid Clerk webhook envelope: {0}")]
    Invalid(#[source] serde_json::Error),
}

impl Envelope {
    /// An envelope for `clerk_type` around `data`, with no timestamp or instance; for sending
    /// sample events.
    ///
    /// ```
    /// # use hookflow::clerk::Envelope;
    /// let envelope = Envelope::new("user.created", serde_json::json!({"id": "user_1"}));
    /// assert_eq!(envelope.object.as_deref(), Some("event"));
    /// ```
    pub fn new(clerk_type: impl Into<String>, data: impl Into<Payload>) -> Self {
        Envelope {
            data: data.into(),
            object: Field::new(Some("event".to_owned())),
            clerk_type: clerk_type.into(),
            timestamp: Field::absent(),
            instance_id: Field::absent(),
            event_attributes: Field::absent(),
            extra: Map::new(),
        }
    }

    /// Parses a webhook body, saying precisely what is wrong when it is not an envelope.
    ///
    /// ```
    /// # use hookflow::clerk::Envelope;
    /// let err = Envelope::parse(br#"{"type": "user.created", "data": []}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "`data` must be an object, found an array");
    /// ```
    pub fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        Envelope::parse_with_rest(body).map(|(envelope, _)| envelope)
    }

    /// Parses a webhook body as [`Envelope::parse`] does, and also returns the envelope's
    /// fields other than `data` exactly as sent (values and order), from the same single parse.
    ///
    /// ```
    /// # use hookflow::clerk::Envelope;
    /// let body = br#"{"type": "user.created", "data": {"id": "user_1"}, "object": "event"}"#;
    /// let (envelope, rest) = Envelope::parse_with_rest(body).unwrap();
    /// assert_eq!(envelope.data["id"], "user_1");
    /// assert_eq!(rest.keys().collect::<Vec<_>>(), ["type", "object"]);
    /// ```
    pub fn parse_with_rest(body: &[u8]) -> Result<(Envelope, Map<String, Value>), EnvelopeError> {
        // Only on error paths is the whole body read as a tree: to say what it is instead of an
        // object, or where in it the JSON fails.
        let not_json = |error: serde_json::Error| {
            EnvelopeError::NotJson(serde_json::from_slice::<Value>(body).err().unwrap_or(error))
        };
        let fields = match serde_json::from_slice::<RawFields<'_>>(body) {
            Ok(fields) => fields,
            Err(error) => {
                return Err(match serde_json::from_slice::<Value>(body) {
                    Ok(value) => EnvelopeError::NotAnObject { found: json_kind(&value) },
                    Err(_) => EnvelopeError::NotJson(error),
                })
            }
        };
        // `data` stays the text it arrived as (the event's payload); the few other fields are
        // read as JSON. A repeated key keeps its first place and its last value, as in a tree.
        let mut data = None;
        let mut rest = Map::new();
        for (key, value) in fields.0 {
            if key == "data" {
                data = Some(value);
            } else {
                rest.insert(key, serde_json::from_str(value.get()).map_err(not_json)?);
            }
        }
        match rest.get("type") {
            None => return Err(EnvelopeError::MissingType),
            Some(Value::String(t)) if !t.is_empty() => {}
            Some(Value::String(_)) => return Err(EnvelopeError::BadType { found: "an empty string" }),
            Some(other) => return Err(EnvelopeError::BadType { found: json_kind(other) }),
        }
        let Some(data) = data else { return Err(EnvelopeError::MissingData) };
        if !data.get().starts_with('{') {
            let found = serde_json::from_str(data.get()).map_or("invalid JSON", |value| json_kind(&value));
            return Err(EnvelopeError::DataNotObject { found });
        }
        match rest.get("timestamp") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.is_i64() => {}
            Some(Value::Number(n)) if n.is_u64() => {
                return Err(EnvelopeError::BadTimestamp { found: "a number too large" })
            }
            Some(Value::Number(_)) => return Err(EnvelopeError::BadTimestamp { found: "a fractional number" }),
            Some(other) => return Err(EnvelopeError::BadTimestamp { found: json_kind(other) }),
        }
        let mut head = rest.clone();
        head.insert("data".into(), Value::Null);
        let envelope: Envelope = serde_json::from_value(Value::Object(head)).map_err(EnvelopeError::Invalid)?;
        let data = Payload::from_raw(data.to_owned()).map_err(not_json)?;
        Ok((Envelope { data, ..envelope }, rest))
    }

    /// The hookflow event name: `clerk/` followed by `type`.
    ///
    /// ```
    /// # use hookflow::clerk::Envelope;
    /// let envelope = Envelope::new("organizationMembership.created", serde_json::json!({}));
    /// assert_eq!(envelope.event_name(), "clerk/organizationMembership.created");
    /// ```
    pub fn event_name(&self) -> String {
        format!("clerk/{}", self.clerk_type)
    }

    /// `timestamp` in milliseconds since the Unix epoch: values from 0 to below 10^11 are taken
    /// as seconds and multiplied by 1000; others (a negative one included, which the event rules
    /// then refuse) are kept as they are.
    ///
    /// ```
    /// # use hookflow::clerk::Envelope;
    /// let mut envelope = Envelope::new("user.created", serde_json::json!({}));
    /// envelope.timestamp.set(Some(1_654_012_591_835));
    /// assert_eq!(envelope.timestamp_ms(), Some(1_654_012_591_835));
    /// envelope.timestamp.set(Some(1_716_883_200));
    /// assert_eq!(envelope.timestamp_ms(), Some(1_716_883_200_000));
    /// ```
    pub fn timestamp_ms(&self) -> Option<i64> {
        let ts = (*self.timestamp)?;
        Some(if (0..SECONDS_CUTOFF).contains(&ts) { ts * 1000 } else { ts })
    }

    /// Types `data` by `type`; types hookflow does not know become [`ClerkEvent::Unknown`].
    ///
    /// ```
    /// # use hookflow::clerk::{ClerkEvent, Envelope};
    /// let envelope = Envelope::new("user.someday", serde_json::json!({"id": "x"}));
    /// assert!(matches!(envelope.typed()?, ClerkEvent::Unknown { .. }));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn typed(&self) -> Result<ClerkEvent, serde_json::Error> {
        ClerkEvent::from_payload(&self.clerk_type, &self.data)
    }
}

/// A JSON object's fields in order, each value left as its JSON text.
struct RawFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RawFields<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push(field);
                }
                Ok(RawFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(body: &str) -> String {
        match Envelope::parse(body.as_bytes()) {
            Ok(envelope) => panic!("expected an error, parsed {envelope:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        assert!(parse_err("{").starts_with("not JSON: "));
        assert_eq!(parse_err("[1]"), "expected a JSON object, found an array: not a Clerk webhook envelope");
        assert_eq!(parse_err(r#"{"data": {}}"#), "missing field `type`: not a Clerk webhook envelope");
        assert_eq!(
            parse_err(r#"{"type": 7, "data": {}}"#),
            "`type` must be a non-empty string such as \"user.created\", found a number"
        );
        assert!(parse_err(r#"{"type": "", "data": {}}"#).ends_with("found an empty string"));
        assert_eq!(parse_err(r#"{"type": "user.created"}"#), "missing field `data`: not a Clerk webhook envelope");
        assert_eq!(parse_err(r#"{"type": "user.created", "data": null}"#), "`data` must be an object, found null");
        assert_eq!(
            parse_err(r#"{"type": "user.created", "data": {}, "timestamp": "yesterday"}"#),
            "`timestamp` must be an integer (Unix seconds or milliseconds), found a string"
        );
        assert!(parse_err(r#"{"type": "user.created", "data": {}, "timestamp": 1.5}"#).ends_with("a fractional number"));
        assert!(parse_err(r#"{"type": "user.created", "data": {}, "instance_id": 3}"#)
            .starts_with("invalid Clerk webhook envelope: "));
    }

    #[test]
    fn minimal_envelope_is_accepted_and_unknown_fields_kept() {
        let envelope = Envelope::parse(br#"{"type": "user.created", "data": {}, "retry": 2}"#).unwrap();
        assert_eq!(envelope.timestamp, None);
        assert_eq!(envelope.timestamp_ms(), None);
        assert_eq!(envelope.extra.get("retry"), Some(&Value::from(2)));
        assert_eq!(serde_json::to_value(&envelope).unwrap()["retry"], Value::from(2));
    }

    #[test]
    fn timestamp_unit_cutoff() {
        let mut envelope = Envelope::new("user.created", Value::Object(Map::new()));
        envelope.timestamp.set(Some(SECONDS_CUTOFF - 1));
        assert_eq!(envelope.timestamp_ms(), Some((SECONDS_CUTOFF - 1) * 1000));
        envelope.timestamp.set(Some(SECONDS_CUTOFF));
        assert_eq!(envelope.timestamp_ms(), Some(SECONDS_CUTOFF));
        envelope.timestamp.set(Some(-1000));
        assert_eq!(envelope.timestamp_ms(), Some(-1000), "not -1,000,000: a negative time is not scaled");
    }
}
