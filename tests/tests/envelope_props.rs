//! Property tests for the Clerk envelope parser: arbitrary bytes never panic, a body is
//! accepted exactly when it is an envelope, and what is accepted loses nothing. Also for
//! `Payload`, which keeps JSON as text: it accepts exactly the texts a tree can hold.

use hookflow::clerk::{Envelope, EnvelopeError};
use hookflow::Payload;
use proptest::prelude::*;
use serde_json::{Map, Value};

const USER_CREATED: &str = include_str!("../../runtime/fixtures/clerk/user.created.json");

/// Any JSON value, a few levels deep, with keys that sometimes collide with the envelope's.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4).prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("type".to_owned()),
        Just("data".to_owned()),
        Just("timestamp".to_owned()),
        Just("object".to_owned()),
        "[a-z_é\"\\\\]{0,6}",
    ]
}

/// A body shaped like an envelope, each part sometimes missing or of the wrong kind.
fn envelope_like() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        3 => "[a-z]{1,8}\\.[a-z]{1,8}".prop_map(Value::from),
        1 => json(),
    ];
    let data = prop_oneof![
        3 => prop::collection::vec((key(), json()), 0..4).prop_map(|f| Value::Object(f.into_iter().collect())),
        1 => json(),
    ];
    let timestamp = prop_oneof![any::<i64>().prop_map(Value::from), Just(Value::Null), json(),];
    (
        prop::option::weighted(0.9, kind),
        prop::option::weighted(0.9, data),
        prop::option::of(timestamp),
        prop::collection::vec(("[a-z_]{1,10}", json()), 0..3),
    )
        .prop_map(|(kind, data, timestamp, extra)| {
            let mut fields = Map::new();
            for (k, v) in extra {
                fields.insert(k, v);
            }
            for (k, v) in [("type", kind), ("data", data), ("timestamp", timestamp)] {
                if let Some(v) = v {
                    fields.insert(k.to_owned(), v);
                }
            }
            Value::Object(fields)
        })
}

/// What the parser must say about a body that is JSON, from the rules alone.
fn expected_rejection(body: &Value) -> Option<&'static str> {
    let Value::Object(fields) = body else { return Some("not an object") };
    match fields.get("type") {
        Some(Value::String(t)) if !t.is_empty() => {}
        _ => return Some("type"),
    }
    match fields.get("data") {
        Some(Value::Object(_)) => {}
        _ => return Some("data"),
    }
    match fields.get("timestamp") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.is_i64() => {}
        _ => return Some("timestamp"),
    }
    let optional_string = |name: &str| matches!(fields.get(name), None | Some(Value::Null | Value::String(_)));
    if !optional_string("object") || !optional_string("instance_id") {
        return Some("invalid");
    }
    None
}

fn check_accepted(body: &[u8], original: &Value) -> Result<(), TestCaseError> {
    match Envelope::parse_with_rest(body) {
        Ok((envelope, rest)) => {
            prop_assert_eq!(expected_rejection(original), None, "accepted {}", original);
            let Value::Object(fields) = original else { unreachable!("checked above") };
            prop_assert_eq!(&*envelope.data, &fields["data"]);
            prop_assert_eq!(Some(&Value::from(envelope.clerk_type.clone())), fields.get("type"));
            // Nothing is lost: the rest is every other field, in order.
            let mut without_data = fields.clone();
            without_data.shift_remove("data");
            prop_assert_eq!(rest.keys().collect::<Vec<_>>(), without_data.keys().collect::<Vec<_>>());
            prop_assert_eq!(&rest, &without_data);
        }
        Err(error) => {
            let expected = expected_rejection(original);
            // Fields hookflow models beyond those (`event_attributes`) may refuse more.
            prop_assert!(
                expected.is_some() || matches!(error, EnvelopeError::Invalid(_)),
                "refused {}: {}",
                original,
                error
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes never panic; whatever is accepted is a JSON object with a `type` and a
    /// `data` object.
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(envelope) = Envelope::parse(&body) {
            let value: Value = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(value.is_object());
            prop_assert!(envelope.data.is_object());
            prop_assert!(!envelope.clerk_type.is_empty());
        }
    }

    /// Any JSON value is accepted exactly when it is an envelope, and then read back whole.
    #[test]
    fn any_json_is_judged_by_the_rules(body in json()) {
        check_accepted(body.to_string().as_bytes(), &body)?;
    }

    /// Envelope-shaped bodies, compact or pretty-printed, are judged by the rules and lose
    /// nothing when accepted.
    #[test]
    fn envelope_shaped_bodies_are_judged_by_the_rules(body in envelope_like(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&body) } else { serde_json::to_string(&body) };
        let text = text.map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_accepted(text.as_bytes(), &body)?;
    }

    /// A real Clerk body with bytes changed, removed or inserted never panics; if it is still
    /// accepted, it is still JSON and its data is read as that JSON says.
    #[test]
    fn mutated_fixture_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6)) {
        let mut body = USER_CREATED.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let i = at.index(body.len());
            match op {
                0 => body[i] = byte,
                1 => { body.remove(i); }
                _ => body.insert(i, byte),
            }
        }
        if let Ok(envelope) = Envelope::parse(&body) {
            let value: Value = serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&*envelope.data, &value["data"]);
        }
    }
}

/// JSON number literals, many beyond `f64`'s range.
fn number_literal() -> impl Strategy<Value = String> {
    "-?[0-9]{1,3}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,4})?|[1-9][0-9]{290,320}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// A payload accepts text exactly when serde_json builds a tree from it, and then reads
    /// as that tree.
    #[test]
    fn payload_text_is_accepted_exactly_when_a_tree_can_hold_it(
        numbers in prop::collection::vec(number_literal(), 0..4),
        depth in 0usize..140,
        noise in "[\\[\\]{}0-9eE.+\\-\",: a-z\\\\]{0,24}",
    ) {
        let array = format!("{}[{}]{}", "[".repeat(depth), numbers.join(","), "]".repeat(depth));
        let object = format!("{{\"s\": \"{}\", \"n\": [{}]}}", numbers.join("e"), numbers.join(","));
        for text in [array, object, noise] {
            let tree = serde_json::from_str::<Value>(&text);
            match Payload::from_json(&text) {
                Ok(payload) => {
                    let tree = tree.map_err(|e| TestCaseError::fail(format!("accepted {text:?}, which serde_json refuses: {e}")))?;
                    prop_assert_eq!(&*payload, &tree);
                }
                Err(error) => prop_assert!(tree.is_err(), "refused {:?}: {}", text, error),
            }
        }
    }
}

#[test]
fn numbers_no_tree_can_hold_are_not_json_to_the_envelope() {
    for body in [
        r#"{"type": "user.created", "data": {"n": 1e400}}"#,
        r#"{"type": "user.created", "data": {}, "timestamp": 1e400}"#,
    ] {
        let error = Envelope::parse(body.as_bytes()).expect_err(body);
        assert!(matches!(error, EnvelopeError::NotJson(_)), "{body}: {error}");
        let column = body.find("1e400").expect("the number") + "1e400".len();
        assert!(error.to_string().contains(&format!("column {column}")), "{body}: {error} (where in the body)");
    }
}

#[test]
fn duplicate_keys_read_as_a_tree_reads_them() {
    let body = br#"{"type": "user.created", "data": {"id": "a"}, "object": "event", "data": {"id": "b"}, "type": "user.updated"}"#;
    let (envelope, rest) = Envelope::parse_with_rest(body).expect("an envelope");
    let tree: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(*envelope.data, tree["data"]);
    assert_eq!(envelope.clerk_type, "user.updated");
    assert_eq!(rest.keys().collect::<Vec<_>>(), ["type", "object"]);
}

#[test]
fn data_is_kept_as_the_text_that_was_sent() {
    let body = br#"{"type": "user.created", "data": { "id" : "user_1",  "n": 1.50 }, "timestamp": 1}"#;
    let envelope = Envelope::parse(body).expect("an envelope");
    assert!(envelope.data.has_text());
    assert_eq!(envelope.data.to_json_string(), r#"{ "id" : "user_1",  "n": 1.50 }"#);
}
