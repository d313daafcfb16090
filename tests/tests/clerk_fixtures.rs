//! Clerk payload types against the project's fixtures: `runtime/fixtures/clerk/` (one sample
//! webhook body per event type, the catalogue's) and `tests/fixtures/clerk/` (further bodies
//! for shapes the samples lack, such as per-seat billing).
//!
//! # The round-trip rule
//!
//! Deserializing a payload into its type and serializing it again gives back exactly the
//! payload: no field lost or changed, none added. A field Clerk left out stays out, a `null`
//! stays `null`, lists keep their length and order; key order may differ. The checks below
//! compare input with output recursively, to say where they differ.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;

use hookflow::clerk::{self, ClerkEvent, Envelope, EnvelopeError, CATALOG};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/fixtures/clerk");
const TEST_FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/clerk");

/// Every `.json` file of `dir` as (file stem, parsed body), sorted by name.
fn read_fixtures(dir: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir}: {e}"));
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
    found
}

/// The catalogue's fixtures as (file stem, parsed body): the stem is the event type.
fn fixtures() -> Vec<(String, Value)> {
    let found = read_fixtures(FIXTURE_DIR);
    assert_eq!(found.len(), 46, "expected one fixture per catalogue entry in {FIXTURE_DIR}");
    found
}

/// A fixture from either directory.
struct Fixture {
    /// `runtime/user.created`, `tests/paymentAttempt.updated.per-seat`.
    name: String,
    /// The envelope's `type`.
    clerk_type: String,
    body: Value,
}

/// Every fixture of both directories.
fn every_fixture() -> Vec<Fixture> {
    let catalogue = fixtures().into_iter().map(|f| ("runtime", f));
    let more = read_fixtures(TEST_FIXTURE_DIR).into_iter().map(|f| ("tests", f));
    catalogue
        .chain(more)
        .map(|(dir, (stem, body))| {
            let clerk_type = body["type"].as_str().unwrap_or_else(|| panic!("{dir}/{stem} has no `type`")).to_owned();
            Fixture { name: format!("{dir}/{stem}"), clerk_type, body }
        })
        .collect()
}

/// Checks the round-trip rule (see the module docs), collecting every difference.
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
                if !before.contains_key(key) {
                    problems.push(format!("{path}.{key}: added as {value}"));
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
    assert!(problems.is_empty(), "{what} changed in a round trip:\n{}", problems.join("\n"));
    assert_eq!(input, output, "{what}: the check above missed a difference");
}

fn round_trip<T: DeserializeOwned + Serialize>(data: &Value) -> Result<Value, String> {
    let typed = T::deserialize(data).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

fn round_trip_text<T: DeserializeOwned + Serialize>(text: &str) -> Result<Value, String> {
    let typed: T = serde_json::from_str(text).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Calls `$round_trip::<T>($input)` for the payload type `T` the catalogue names `$payload`.
macro_rules! as_payload {
    ($round_trip:ident, $payload:expr, $input:expr) => {
        match $payload {
            "User" => $round_trip::<clerk::User>($input),
            "DeletedUser" => $round_trip::<clerk::DeletedUser>($input),
            "Session" => $round_trip::<clerk::Session>($input),
            "Email" => $round_trip::<clerk::Email>($input),
            "SmsMessage" => $round_trip::<clerk::SmsMessage>($input),
            "Organization" => $round_trip::<clerk::Organization>($input),
            "DeletedObject" => $round_trip::<clerk::DeletedObject>($input),
            "OrganizationDomain" => $round_trip::<clerk::OrganizationDomain>($input),
            "OrganizationMembership" => $round_trip::<clerk::OrganizationMembership>($input),
            "OrganizationInvitation" => $round_trip::<clerk::OrganizationInvitation>($input),
            "AcceptedOrganizationInvitation" => $round_trip::<clerk::AcceptedOrganizationInvitation>($input),
            "Role" => $round_trip::<clerk::Role>($input),
            "Permission" => $round_trip::<clerk::Permission>($input),
            "WaitlistEntry" => $round_trip::<clerk::WaitlistEntry>($input),
            "PaymentAttempt" => $round_trip::<clerk::PaymentAttempt>($input),
            "Subscription" => $round_trip::<clerk::Subscription>($input),
            "SubscriptionItem" => $round_trip::<clerk::SubscriptionItem>($input),
            other => panic!("the catalogue names payload type `{other}`, which this test does not know"),
        }
    };
}

/// Deserializes `data` into the payload type the catalogue names, and serializes it back.
fn round_trip_as(payload: &str, data: &Value) -> Result<Value, String> {
    as_payload!(round_trip, payload, data)
}

/// [`round_trip_as`] from JSON text (which, unlike a `Value`, can repeat a key).
fn round_trip_text_as(payload: &str, text: &str) -> Result<Value, String> {
    as_payload!(round_trip_text, payload, text)
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
fn every_fixture_types_through_clerk_event_and_its_payload_type_exactly() {
    for Fixture { name, clerk_type, body } in every_fixture() {
        let envelope = Envelope::parse(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(envelope.clerk_type, clerk_type);
        assert!(name.ends_with(&format!("/{clerk_type}")) || name.contains(&format!("/{clerk_type}.")), "{name}");
        assert_lossless(&format!("{name} envelope"), &body, &serde_json::to_value(&envelope).expect("serialize"));

        let event = ClerkEvent::from_parts(&clerk_type, &envelope.data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!matches!(event, ClerkEvent::Unknown { .. }), "{name} landed in ClerkEvent::Unknown");
        assert_eq!(event.clerk_type(), clerk_type);
        assert_eq!(event.event_name(), format!("clerk/{clerk_type}"));
        let via_enum = event.to_data().expect("serialize");
        assert_lossless(&format!("{name} via ClerkEvent"), &envelope.data, &via_enum);

        let payload = payload_of(&clerk_type);
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

/// Every object key's path in `value`, at every depth, outside free-form JSON; parents before
/// their children.
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

fn paths_of(value: &Value) -> Vec<Vec<Seg>> {
    let mut paths = Vec::new();
    field_paths(value, &mut Vec::new(), &mut paths);
    paths
}

/// What a property test does to one field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Edit {
    Remove,
    Null,
}

/// Applies `edit` to the field at `path`; a no-op when an earlier edit removed or nulled a
/// parent.
fn apply(value: &mut Value, path: &[Seg], edit: Edit) {
    let Some((Seg::Key(last), parent)) = path.split_last() else { panic!("field paths end in a key") };
    let mut target = value;
    for seg in parent {
        target = match (seg, target) {
            (Seg::Key(k), Value::Object(fields)) => match fields.get_mut(k) {
                Some(child) => child,
                None => return,
            },
            (Seg::Index(i), Value::Array(items)) => &mut items[*i],
            _ => return,
        };
    }
    let Value::Object(fields) = target else { return };
    match edit {
        Edit::Remove => {
            fields.shift_remove(last);
        }
        Edit::Null => {
            if let Some(field) = fields.get_mut(last) {
                *field = Value::Null;
            }
        }
    }
}

fn edited(value: &Value, path: &[Seg], edit: Edit) -> Value {
    let mut copy = value.clone();
    apply(&mut copy, path, edit);
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

/// `value` as JSON text, with the key at `path` written twice (same value both times).
fn with_key_twice(value: &Value, path: &[Seg], out: &mut String) {
    match value {
        Value::Object(fields) => {
            out.push('{');
            let mut first = true;
            for (key, child) in fields {
                let rest = match path.split_first() {
                    Some((Seg::Key(k), rest)) if k == key => Some(rest),
                    _ => None,
                };
                let times = if rest.is_some_and(<[Seg]>::is_empty) { 2 } else { 1 };
                for _ in 0..times {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&Value::from(key.as_str()).to_string());
                    out.push(':');
                    with_key_twice(child, rest.unwrap_or(&[]), out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, child) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let rest = match path.split_first() {
                    Some((Seg::Index(j), rest)) if *j == i => rest,
                    _ => &[],
                };
                with_key_twice(child, rest, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Round-tripping alone cannot tell a modelled field from one that fell into `extra` (a typo in
/// a field name would pass). A JSON object that repeats a key can: serde refuses a repeated
/// modelled field ("duplicate field"), while `extra` (a map) takes the repeat silently.
#[test]
fn every_fixture_field_maps_to_a_typed_field() {
    let mut unmodelled = BTreeSet::new();
    let mut checked = 0;
    for Fixture { name, clerk_type, body } in every_fixture() {
        let data = &body["data"];
        let payload = payload_of(&clerk_type);
        for path in paths_of(data) {
            let mut text = String::new();
            with_key_twice(data, &path, &mut text);
            match round_trip_text_as(payload, &text) {
                Ok(_) => {
                    unmodelled.insert(format!("{payload}{}", render(&path)));
                }
                Err(e) if e.contains("duplicate field") => checked += 1,
                Err(e) => panic!("{name}{}: repeating the key failed otherwise: {e}", render(&path)),
            }
        }
    }
    assert!(
        unmodelled.is_empty(),
        "fixture fields that only land in `extra`:\n{}",
        Vec::from_iter(unmodelled).join("\n")
    );
    assert!(checked > 1000, "only {checked} fields checked");
}

/// One fixture prepared for the property test: its paths, and which edits each path takes alone
/// (removing a required field, or nulling a list, is refused, and rightly so).
struct Editable {
    name: String,
    clerk_type: String,
    payload: &'static str,
    data: Value,
    paths: Vec<(Vec<Seg>, Vec<Edit>)>,
}

static EDITABLE: LazyLock<Vec<Editable>> = LazyLock::new(|| {
    every_fixture()
        .into_iter()
        .map(|Fixture { name, clerk_type, body }| {
            let payload = payload_of(&clerk_type);
            let data = body["data"].clone();
            let paths = paths_of(&data)
                .into_iter()
                .map(|path| {
                    let edits = [Edit::Remove, Edit::Null]
                        .into_iter()
                        .filter(|edit| round_trip_as(payload, &edited(&data, &path, *edit)).is_ok())
                        .collect();
                    (path, edits)
                })
                .collect();
            Editable { name, clerk_type, payload, data, paths }
        })
        .collect()
});

/// A fixture and, per field path, an edit or none: each field is left alone, removed or nulled
/// at random, at every depth.
fn edited_fixture() -> impl Strategy<Value = (usize, Vec<Option<Edit>>)> {
    (0..EDITABLE.len()).prop_flat_map(|index| {
        let per_path: Vec<_> = EDITABLE[index]
            .paths
            .iter()
            .map(|(_, edits)| match edits.as_slice() {
                [] => Just(None).boxed(),
                some => prop_oneof![
                    3 => Just(None),
                    1 => prop::sample::select(some.to_vec()).prop_map(Some),
                ]
                .boxed(),
            })
            .collect();
        (Just(index), per_path)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Payloads that lack fields (older accounts, Clerk's docs examples) or carry nulls come back
    /// exactly as they went in, through the payload type and through `ClerkEvent`.
    #[test]
    fn fixtures_with_fields_removed_or_nulled_round_trip_exactly((index, edits) in edited_fixture()) {
        let fixture = &EDITABLE[index];
        let mut data = fixture.data.clone();
        for ((path, _), edit) in fixture.paths.iter().zip(&edits) {
            if let Some(edit) = edit {
                apply(&mut data, path, *edit);
            }
        }
        let out = round_trip_as(fixture.payload, &data)
            .map_err(|e| TestCaseError::fail(format!("{} as {}: {e}", fixture.name, fixture.payload)))?;
        let mut problems = Vec::new();
        check_lossless("", &data, &out, &mut problems);
        prop_assert!(problems.is_empty(), "{} as {}:\n{}", fixture.name, fixture.payload, problems.join("\n"));
        prop_assert_eq!(&out, &data);
        let event = ClerkEvent::from_parts(&fixture.clerk_type, &data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(event.to_data().map_err(|e| TestCaseError::fail(e.to_string()))?, data);
    }
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
    for Fixture { name, clerk_type, body } in every_fixture() {
        let mut data = body["data"].clone();
        inject_probe(&mut data);
        let out = round_trip_as(payload_of(&clerk_type), &data).unwrap_or_else(|e| panic!("{name}: {e}"));
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
fn the_round_trip_check_itself_catches_differences() {
    let input = json!({"a": 1, "b": {"c": [1, null], "d": "x"}});
    let mut problems = Vec::new();
    check_lossless("", &input, &json!({"b": {"d": "x", "c": [1, null]}, "a": 1}), &mut problems);
    assert!(problems.is_empty(), "key order does not matter: {problems:?}");

    for (output, expected) in [
        (json!({"a": 1, "b": {"c": [1, null]}}), ".b.d: dropped"),
        (json!({"a": 1.0, "b": {"c": [1, null], "d": "x"}}), ".a: 1 became 1.0"),
        (json!({"a": 1, "b": {"c": [1], "d": "x"}}), ".b.c: 2 items became 1"),
        (json!({"a": 1, "b": {"c": [1, null], "d": "x", "z": false}}), ".b.z: added"),
        (json!({"a": 1, "b": {"c": [1, null], "d": "x"}, "e": null}), ".e: added as null"),
        (json!({"a": 1, "b": {"c": [1, null], "d": "x", "f": []}}), ".b.f: added as []"),
        (json!({"a": 1, "b": {"c": [1, []], "d": "x"}}), ".b.c[1]: null became []"),
    ] {
        let mut problems = Vec::new();
        check_lossless("", &input, &output, &mut problems);
        assert!(problems.iter().any(|p| p.starts_with(expected)), "{expected}: {problems:?}");
    }
}

#[test]
fn the_repeated_key_text_repeats_exactly_one_key() {
    let value = json!({"a": {"b": [{"c": 1}, {"c": 2, "d": null}]}, "e": "x"});
    let path = [Seg::Key("a".into()), Seg::Key("b".into()), Seg::Index(1), Seg::Key("c".into())];
    let mut text = String::new();
    with_key_twice(&value, &path, &mut text);
    assert_eq!(text, r#"{"a":{"b":[{"c":1},{"c":2,"c":2,"d":null}]},"e":"x"}"#);
    let mut text = String::new();
    with_key_twice(&value, &[Seg::Key("e".into())], &mut text);
    assert_eq!(text, r#"{"a":{"b":[{"c":1},{"c":2,"d":null}]},"e":"x","e":"x"}"#);
}

/// Clerk's webhooks send `totals.per_unit_totals` in the flat form of the webhooks spec
/// (`BillingUnitTotal`: `name`, `amount`, `quantity`, `total`, `currency`), not the
/// frontend's tiered form; the per-seat fixture has one seat line and one unlimited line.
#[test]
fn per_unit_totals_read_as_webhooks_send_them() {
    let body = read_fixtures(TEST_FIXTURE_DIR)
        .into_iter()
        .find(|(stem, _)| stem == "paymentAttempt.updated.per-seat")
        .expect("per-seat fixture")
        .1;
    let data = &body["data"];
    let attempt: clerk::PaymentAttempt = serde_json::from_value(data.clone()).expect("payment attempt");
    let totals = attempt.totals.as_ref().expect("totals");
    let lines = totals.per_unit_totals.as_deref().expect("per_unit_totals");
    let sent = data["totals"]["per_unit_totals"].as_array().expect("fixture has per-unit totals");
    assert_eq!(lines.len(), sent.len());
    for (line, sent) in lines.iter().zip(sent) {
        assert_eq!(line.name.as_deref(), sent["name"].as_str());
        assert_eq!(*line.amount, sent["amount"].as_i64());
        assert_eq!(*line.quantity, sent["quantity"].as_i64());
        assert_eq!(*line.total, sent["total"].as_i64());
        assert_eq!(line.currency.as_deref(), sent["currency"].as_str());
        assert!(line.extra.is_empty(), "every field of a unit total is modelled: {:?}", line.extra);
    }
    let seats = &lines[0];
    assert_eq!((seats.name.as_deref(), *seats.quantity), (Some("seats"), Some(3)));
    assert_eq!(*seats.total, seats.amount.zip(*seats.quantity).map(|(a, q)| a * q));
    assert_eq!(*lines[1].quantity, None, "null quantity: unlimited");
    assert!(lines[1].quantity.is_sent());
    assert_lossless("per-seat payment attempt", data, &serde_json::to_value(&attempt).expect("serialize"));
}
