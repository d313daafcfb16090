//! Clerk payload types against the project's fixtures (`runtime/fixtures/clerk/`, one real
//! webhook body per event type).
//!
//! # The losslessness rule
//!
//! Deserializing a payload into its type and serializing it again must not lose or change
//! anything Clerk sent. Comparing input with output, recursively:
//!
//! - every key of an input object is in the output object, with a value that satisfies this
//!   rule in turn;
//! - the output may have a key the input lacked only when its value is `null`, `[]` or `{}`
//!   (a modelled field Clerk left out, written back empty);
//! - arrays keep their length and order; numbers, strings and booleans are equal.

use std::collections::BTreeSet;
use std::path::Path;

use hookflow::clerk::{self, ClerkEvent, Envelope, EnvelopeError, CATALOG};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/fixtures/clerk");

/// Every fixture as (file stem, parsed body), sorted by name.
fn fixtures() -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(FIXTURE_DIR).unwrap_or_else(|e| panic!("cannot read {FIXTURE_DIR}: {e}"));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 file name").to_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        found.push((stem, body));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 46, "expected one fixture per catalogue entry in {FIXTURE_DIR}");
    found
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

/// Checks the losslessness rule (see the module docs), collecting every violation.
fn check_lossless(path: &str, input: &Value, output: &Value, problems: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(before), Value::Object(after)) => {
            for (key, value) in before {
                match after.get(key) {
                    Some(kept) => check_lossless(&format!("{path}.{key}"), value, kept, problems),
                    None => problems.push(format!("{path}.{key}: dropped (was {value})")),
                }
            }
            for (key, value) in after {
                if !before.contains_key(key) && !is_empty_value(value) {
                    problems.push(format!("{path}.{key}: added with a non-empty value {value}"));
                }
            }
        }
        (Value::Array(before), Value::Array(after)) => {
            if before.len() != after.len() {
                problems.push(format!("{path}: {} items became {}", before.len(), after.len()));
                return;
            }
            for (i, (value, kept)) in before.iter().zip(after).enumerate() {
                check_lossless(&format!("{path}[{i}]"), value, kept, problems);
            }
        }
        _ if input == output => {}
        _ => problems.push(format!("{path}: {input} became {output}")),
    }
}

fn assert_lossless(what: &str, input: &Value, output: &Value) {
    let mut problems = Vec::new();
    check_lossless("", input, output, &mut problems);
    assert!(problems.is_empty(), "{what} lost data in a round trip:\n{}", problems.join("\n"));
}

fn round_trip<T: DeserializeOwned + Serialize>(data: &Value) -> Result<Value, String> {
    let typed = T::deserialize(data).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Deserializes `data` into the payload type the catalogue names, and serializes it back.
fn round_trip_as(payload: &str, data: &Value) -> Result<Value, String> {
    match payload {
        "User" => round_trip::<clerk::User>(data),
        "DeletedUser" => round_trip::<clerk::DeletedUser>(data),
        "Session" => round_trip::<clerk::Session>(data),
        "Email" => round_trip::<clerk::Email>(data),
        "SmsMessage" => round_trip::<clerk::SmsMessage>(data),
        "Organization" => round_trip::<clerk::Organization>(data),
        "DeletedObject" => round_trip::<clerk::DeletedObject>(data),
        "OrganizationDomain" => round_trip::<clerk::OrganizationDomain>(data),
        "OrganizationMembership" => round_trip::<clerk::OrganizationMembership>(data),
        "OrganizationInvitation" => round_trip::<clerk::OrganizationInvitation>(data),
        "AcceptedOrganizationInvitation" => round_trip::<clerk::AcceptedOrganizationInvitation>(data),
        "Role" => round_trip::<clerk::Role>(data),
        "Permission" => round_trip::<clerk::Permission>(data),
        "WaitlistEntry" => round_trip::<clerk::WaitlistEntry>(data),
        "PaymentAttempt" => round_trip::<clerk::PaymentAttempt>(data),
        "Subscription" => round_trip::<clerk::Subscription>(data),
        "SubscriptionItem" => round_trip::<clerk::SubscriptionItem>(data),
        other => panic!("the catalogue names payload type `{other}`, which this test does not know"),
    }
}

fn payload_of(clerk_type: &str) -> &'static str {
    CATALOG
        .iter()
        .find(|e| e.clerk_type == clerk_type)
        .unwrap_or_else(|| panic!("`{clerk_type}` is not in the catalogue"))
        .payload
}

fn data_of(name: &str) -> Value {
    let (_, body) = fixtures().into_iter().find(|(stem, _)| stem == name).expect("fixture exists");
    body["data"].clone()
}

#[test]
fn every_fixture_types_through_clerk_event_and_its_payload_type_without_loss() {
    for (name, body) in fixtures() {
        let envelope = Envelope::parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(envelope.clerk_type, name, "a fixture's file name is its event type");
        assert_lossless(&format!("{name} envelope"), &body, &serde_json::to_value(&envelope).expect("serialize"));

        let event = ClerkEvent::from_parts(&name, &envelope.data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!matches!(event, ClerkEvent::Unknown { .. }), "{name} landed in ClerkEvent::Unknown");
        assert_eq!(event.clerk_type(), name);
        assert_eq!(event.event_name(), format!("clerk/{name}"));
        let via_enum = event.to_data().expect("serialize");
        assert_lossless(&format!("{name} via ClerkEvent"), &envelope.data, &via_enum);

        let payload = payload_of(&name);
        let direct = round_trip_as(payload, &envelope.data).unwrap_or_else(|e| panic!("{name} as {payload}: {e}"));
        assert_lossless(&format!("{name} as {payload}"), &envelope.data, &direct);
        assert_eq!(via_enum, direct, "{name}: ClerkEvent and {payload} disagree");
    }
}

// Free-form JSON: keys below these are data, not fields of a Clerk type.
const FREE_FORM: &[&str] = &["public_metadata", "private_metadata", "unsafe_metadata", "actor", "data", "meta"];

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn field_paths(value: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                prefix.push(Seg::Key(key.clone()));
                out.push(prefix.clone());
                if !FREE_FORM.contains(&key.as_str()) {
                    field_paths(child, prefix, out);
                }
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Seg::Index(i));
                field_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(i),
    })
}

fn without(value: &Value, path: &[Seg]) -> Value {
    let mut copy = value.clone();
    let (Some(Seg::Key(last)), parent) = (path.last(), &path[..path.len() - 1]) else {
        panic!("field paths end in a key");
    };
    let mut target = &mut copy;
    for seg in parent {
        target = match seg {
            Seg::Key(k) => &mut target[k.as_str()],
            Seg::Index(i) => &mut target[*i],
        };
    }
    target.as_object_mut().expect("parent is an object").remove(last);
    copy
}

fn render(path: &[Seg]) -> String {
    path.iter()
        .map(|seg| match seg {
            Seg::Key(k) => format!(".{k}"),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// Round-tripping alone cannot tell a modelled field from one that fell into `extra` (a typo in
/// a field name would pass). A modelled field is either required (removing it fails) or written
/// back even when absent (as null or []); a field kept only in `extra` disappears when removed.
#[test]
fn every_fixture_field_maps_to_a_typed_field() {
    let mut unmodelled = BTreeSet::new();
    for (name, body) in fixtures() {
        let data = &body["data"];
        let payload = payload_of(&name);
        let mut paths = Vec::new();
        field_paths(data, &mut Vec::new(), &mut paths);
        for path in paths {
            if let Ok(out) = round_trip_as(payload, &without(data, &path)) {
                if at(&out, &path).is_none() {
                    unmodelled.insert(format!("{payload}{}", render(&path)));
                }
            }
        }
    }
    assert!(
        unmodelled.is_empty(),
        "fixture fields that only land in `extra`:\n{}",
        Vec::from_iter(unmodelled).join("\n")
    );
}

fn inject_probe(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for child in fields.values_mut() {
                inject_probe(child);
            }
            fields.insert("hookflow_probe".into(), json!({"added_by": "test", "n": [1, 2.5, null]}));
        }
        Value::Array(items) => items.iter_mut().for_each(inject_probe),
        _ => {}
    }
}

/// Every struct, at every depth the fixtures reach, keeps fields it does not know.
#[test]
fn unknown_fields_survive_at_every_level() {
    for (name, body) in fixtures() {
        let mut data = body["data"].clone();
        inject_probe(&mut data);
        let out = round_trip_as(payload_of(&name), &data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_lossless(&format!("{name} with unknown fields"), &data, &out);
    }
}

#[test]
fn unknown_enum_values_are_kept() {
    let mut data = data_of("session.created");
    data["status"] = json!("hibernating");
    let session: clerk::Session = serde_json::from_value(data.clone()).expect("unknown status parses");
    assert_eq!(session.status, clerk::SessionStatus::Unknown("hibernating".into()));
    assert_lossless("session with an unknown status", &data, &serde_json::to_value(&session).expect("serialize"));
}

#[test]
fn catalogue_and_fixture_files_match_one_to_one() {
    let files: BTreeSet<String> = fixtures().into_iter().map(|(stem, _)| stem).collect();
    let catalogue: BTreeSet<String> = CATALOG.iter().map(|e| e.clerk_type.to_owned()).collect();
    let no_fixture: Vec<_> = catalogue.difference(&files).collect();
    let no_entry: Vec<_> = files.difference(&catalogue).collect();
    assert!(no_fixture.is_empty(), "catalogue entries without a fixture: {no_fixture:?}");
    assert!(no_entry.is_empty(), "fixtures without a catalogue entry: {no_entry:?}");

    for entry in CATALOG {
        let file = Path::new(FIXTURE_DIR).join(format!("{}.json", entry.clerk_type));
        let on_disk = std::fs::read_to_string(&file).expect("fixture readable");
        assert_eq!(clerk::fixtures::sample(entry.clerk_type), Some(on_disk.as_str()), "{}", entry.clerk_type);
        let data = clerk::fixtures::sample_data(entry.clerk_type).expect("sample has data");
        let body: Value = serde_json::from_str(&on_disk).expect("fixture is JSON");
        assert_eq!(data, body["data"], "{}", entry.clerk_type);
    }
}

#[test]
fn user_helpers_on_the_user_created_fixture() {
    let data = data_of("user.created");
    let user: clerk::User = serde_json::from_value(data.clone()).expect("user");

    let first = data["first_name"].as_str().expect("fixture has a first name");
    let last = data["last_name"].as_str().expect("fixture has a last name");
    let full = format!("{first} {last}");
    assert_eq!(user.full_name().as_deref(), Some(full.as_str()));
    assert_eq!(user.display_name(), full);
    assert_eq!(user.id, data["id"].as_str().expect("id"));
    assert_eq!(user.created_at, data["created_at"].as_i64().expect("created_at"));

    // The fixture names a primary email id but lists no addresses, and has no primary phone.
    assert!(data["primary_email_address_id"].is_string());
    assert_eq!(data["email_addresses"], json!([]));
    assert_eq!(user.primary_email(), None);
    assert_eq!(user.primary_email_address(), None);
    assert!(data["primary_phone_number_id"].is_null());
    assert_eq!(user.primary_phone(), None);

    // With the primary address present (and a second one that is not primary).
    let mut with_email = data.clone();
    with_email["email_addresses"] = json!([
        {"id": "idn_other", "object": "email_address", "email_address": "other@acme.com", "linked_to": []},
        {
            "id": data["primary_email_address_id"], "object": "email_address",
            "email_address": "john@acme.com", "reserved": false,
            "verification": {"status": "verified", "strategy": "email_code", "attempts": 1, "expire_at": null},
            "linked_to": [{"id": "idn_g", "type": "oauth_google"}],
            "created_at": 1716883200000_i64, "updated_at": 1716883200000_i64
        }
    ]);
    with_email["first_name"] = Value::Null;
    with_email["last_name"] = json!("  ");
    let user: clerk::User = serde_json::from_value(with_email.clone()).expect("user");
    assert_eq!(user.primary_email_address(), Some("john@acme.com"));
    assert!(user.primary_email().is_some_and(clerk::EmailAddress::is_verified));
    assert_eq!(user.full_name(), None);
    assert_eq!(user.display_name(), "john@acme.com");
    assert_lossless("user with emails", &with_email, &serde_json::to_value(&user).expect("serialize"));
}

#[test]
fn other_helpers_read_the_fixtures() {
    let data = data_of("user.updated");
    let user: clerk::User = serde_json::from_value(data.clone()).expect("user");
    assert_eq!(user.username.as_deref(), data["username"].as_str());
    assert_eq!(user.public_metadata["department"], data["public_metadata"]["department"]);

    let data = data_of("organizationMembership.created");
    let membership: clerk::OrganizationMembership = serde_json::from_value(data.clone()).expect("membership");
    assert_eq!(membership.user_id(), data["public_user_data"]["user_id"].as_str());
    assert_eq!(membership.organization_id(), data["organization"]["id"].as_str().expect("org id"));

    let data = data_of("organization.deleted");
    let gone: clerk::DeletedObject = serde_json::from_value(data.clone()).expect("deleted org");
    assert_eq!(gone.id(), data["id"].as_str());
    assert_eq!(gone.kind(), Some("organization"));
    assert_eq!(gone.slug(), data["slug"].as_str());
    let role: clerk::DeletedObject = serde_json::from_value(data_of("role.deleted")).expect("deleted role");
    assert_eq!(role.slug(), None);

    let data = data_of("user.deleted");
    let gone: clerk::DeletedUser = serde_json::from_value(data.clone()).expect("deleted user");
    assert_eq!(gone.id(), data["id"].as_str());
    assert_eq!(gone.external_id.as_deref(), data["external_id"].as_str());

    let data = data_of("subscription.created");
    let sub: clerk::Subscription = serde_json::from_value(data.clone()).expect("subscription");
    assert_eq!(data["payer"]["organization_id"], json!(""));
    let payer = sub.payer.as_ref().expect("payer");
    assert_eq!(payer.organization_id(), None);
    assert_eq!(payer.user_id(), data["payer"]["user_id"].as_str());
    assert_eq!(sub.active_item().map(|i| i.id.as_str()), data["items"][0]["id"].as_str());

    let data = data_of("session.created");
    let session: clerk::Session = serde_json::from_value(data.clone()).expect("session");
    assert_eq!(session.status, clerk::SessionStatus::Active);
    assert_eq!(session.user.as_ref().map(|u| u.id.as_str()), Some(session.user_id.as_str()));
    let activity = session.latest_activity.as_ref().expect("activity");
    assert_eq!(activity.city.as_deref(), data["latest_activity"]["city"].as_str());

    let session: clerk::Session = serde_json::from_value(data_of("session.pending")).expect("session");
    assert_eq!(session.status, clerk::SessionStatus::Pending);
}

#[test]
fn unknown_event_types_land_in_unknown_with_data_kept() {
    let data = json!({"id": "thing_1", "nested": {"list": [1, "two", null]}});
    let event = ClerkEvent::from_parts("user.teleported", &data).expect("unknown types never fail");
    match &event {
        ClerkEvent::Unknown { clerk_type, data: kept } => {
            assert_eq!(clerk_type, "user.teleported");
            assert_eq!(kept, &data);
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(event.event_name(), "clerk/user.teleported");
    assert_eq!(event.to_data().expect("data"), data);

    let envelope = Envelope::new("user.teleported", data.clone());
    assert_eq!(envelope.typed().expect("typed"), event);
}

#[test]
fn a_known_type_with_a_malformed_payload_is_an_error_not_unknown() {
    let err = ClerkEvent::from_parts("user.created", &json!({"first_name": "no id"})).expect_err("missing id");
    assert!(err.to_string().contains("missing field `id`"), "{err}");
    let err = ClerkEvent::from_parts("session.created", &json!([])).expect_err("not an object");
    assert!(!err.to_string().is_empty());
}

fn parse_error(body: &[u8]) -> EnvelopeError {
    match Envelope::parse(body) {
        Ok(envelope) => panic!("expected an error for {:?}, parsed {envelope:?}", String::from_utf8_lossy(body)),
        Err(err) => err,
    }
}

#[test]
fn envelope_parse_errors_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "not JSON: "),
        (b"<html>", "not JSON: "),
        (b"{\"type\": \"user.created\", \"data\": {}", "not JSON: "),
        (b"\"user.created\"", "expected a JSON object, found a string: not a Clerk webhook envelope"),
        (b"{\"data\": {}}", "missing field `type`: not a Clerk webhook envelope"),
        (b"{\"type\": null, \"data\": {}}", "`type` must be a non-empty string such as \"user.created\", found null"),
        (b"{\"type\": \"user.created\"}", "missing field `data`: not a Clerk webhook envelope"),
        (b"{\"type\": \"user.created\", \"data\": \"{}\"}", "`data` must be an object, found a string"),
        (
            b"{\"type\": \"user.created\", \"data\": {}, \"timestamp\": \"1716883200\"}",
            "`timestamp` must be an integer",
        ),
        (b"{\"type\": \"user.created\", \"data\": {}, \"event_attributes\": []}", "invalid Clerk webhook envelope: "),
    ];
    for (body, expected) in cases {
        let message = parse_error(body).to_string();
        assert!(message.starts_with(expected), "{:?}: got {message:?}", String::from_utf8_lossy(body));
    }
    assert!(matches!(parse_error(b"{"), EnvelopeError::NotJson(_)));
    assert!(matches!(
        parse_error(b"{\"type\": \"x\", \"data\": 1}"),
        EnvelopeError::DataNotObject { found: "a number" }
    ));
}

#[test]
fn envelope_timestamps_in_seconds_or_milliseconds() {
    let mut body = fixtures().into_iter().find(|(stem, _)| stem == "user.created").expect("fixture").1;
    // The fixtures (Clerk's spec examples) use seconds.
    let seconds = body["timestamp"].as_i64().expect("timestamp");
    assert!(seconds < 100_000_000_000);
    let envelope = Envelope::parse(body.to_string().as_bytes()).expect("envelope");
    assert_eq!(envelope.timestamp_ms(), Some(seconds * 1000));

    // Real deliveries (and Clerk's docs) use milliseconds; those pass through unchanged.
    body["timestamp"] = json!(1654012591835_i64);
    let envelope = Envelope::parse(body.to_string().as_bytes()).expect("envelope");
    assert_eq!(envelope.timestamp_ms(), Some(1654012591835));
    assert_eq!(envelope.event_name(), "clerk/user.created");

    body.as_object_mut().expect("object").remove("timestamp");
    assert_eq!(Envelope::parse(body.to_string().as_bytes()).expect("envelope").timestamp_ms(), None);
}

#[test]
fn the_losslessness_check_itself_catches_losses() {
    let input = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
    let mut problems = Vec::new();
    check_lossless(
        "",
        &input,
        &json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": null, "f": [], "g": {}}),
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");

    for (output, expected) in [
        (json!({"a": 1, "b": {"c": [1, 2]}}), ".b.d: dropped"),
        (json!({"a": 1.0, "b": {"c": [1, 2], "d": "x"}}), ".a: 1 became 1.0"),
        (json!({"a": 1, "b": {"c": [1], "d": "x"}}), ".b.c: 2 items became 1"),
        (json!({"a": 1, "b": {"c": [1, 2], "d": "x", "z": false}}), ".b.z: added"),
    ] {
        let mut problems = Vec::new();
        check_lossless("", &input, &output, &mut problems);
        assert!(problems.iter().any(|p| p.starts_with(expected)), "{expected}: {problems:?}");
    }
}
