//! Svix / Standard Webhooks verification and signing: the reference vectors, the tolerance
//! window, header handling, secrets, and properties over arbitrary input.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use hookflow::webhook::svix::{sign, Secret, SecretError, Verifier, VerifyError};
use proptest::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Vector {
    name: String,
    secret: String,
    id: String,
    timestamp: i64,
    payload: Vec<u8>,
    signature: String,
}

fn vectors(kind: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(fixtures().join("svix-vectors.json")).expect("read svix-vectors.json");
    let all: Value = serde_json::from_str(&text).expect("parse svix-vectors.json");
    let list = all[kind].as_array().expect("vector list");
    assert!(!list.is_empty(), "no {kind} vectors");
    list.iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}")).to_owned();
            let payload = if let Some(p) = v["payload"].as_str() {
                p.as_bytes().to_vec()
            } else if let Some(r) = v.get("payload_repeat") {
                let c = r["char"].as_str().expect("char");
                c.repeat(r["count"].as_u64().expect("count") as usize).into_bytes()
            } else {
                std::fs::read(fixtures().join(s("payload_file"))).expect("payload_file")
            };
            Vector {
                name: s("name"),
                secret: s("secret"),
                id: s("id"),
                timestamp: v["timestamp"].as_i64().expect("timestamp"),
                payload,
                signature: s("signature"),
            }
        })
        .collect()
}

fn headers(prefix: &str, id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in [("id", id), ("timestamp", timestamp), ("signature", signature)] {
        map.insert(
            HeaderName::from_bytes(format!("{prefix}-{name}").as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    map
}

fn svix_headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
    headers("svix", id, &timestamp.to_string(), signature)
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

#[test]
fn valid_vectors_sign_and_verify_with_and_without_prefix_and_both_header_names() {
    let vectors = vectors("valid");
    assert!(vectors.iter().any(|v| v.name == "C2"), "the Clerk fixture vector is present");
    for v in &vectors {
        let bare = v.secret.strip_prefix("whsec_").expect("vectors use whsec_ secrets");
        if !v.signature.contains(' ') {
            assert_eq!(sign(&v.secret, &v.id, v.timestamp, &v.payload).expect("sign"), v.signature, "{}", v.name);
            assert_eq!(sign(bare, &v.id, v.timestamp, &v.payload).expect("sign"), v.signature, "{} bare", v.name);
        }
        for secret in [v.secret.as_str(), bare] {
            let verifier = Verifier::new([secret]).expect("secret");
            for prefix in ["svix", "webhook"] {
                let map = headers(prefix, &v.id, &v.timestamp.to_string(), &v.signature);
                let message = verifier
                    .verify_at(&map, &v.payload, v.timestamp)
                    .unwrap_or_else(|e| panic!("{} ({prefix}-*): {e}", v.name));
                assert_eq!((message.id.as_str(), message.timestamp), (v.id.as_str(), v.timestamp), "{}", v.name);
            }
        }
    }
}

#[test]
fn invalid_vectors_are_rejected_with_the_right_reason() {
    for v in vectors("invalid") {
        let verifier = Verifier::new([&v.secret]).expect("secret");
        let map = svix_headers(&v.id, v.timestamp, &v.signature);
        let error = verifier.verify_at(&map, &v.payload, v.timestamp).expect_err(&v.name);
        let has_v1 = v.signature.split(' ').any(|e| e.starts_with("v1,"));
        if has_v1 {
            assert_eq!(error, VerifyError::NoMatch { signatures: 1, secrets: 1 }, "{}", v.name);
        } else {
            assert_eq!(error, VerifyError::NoV1Signature { name: "svix-signature" }, "{}", v.name);
        }
        assert!(verifier.verify_ignoring_timestamp(&map, &v.payload).is_err(), "{}", v.name);
    }
}

fn v2() -> Vector {
    vectors("valid").into_iter().find(|v| v.name == "V2").expect("V2")
}

#[test]
fn tolerance_is_300_seconds_each_way_inclusive() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let map = svix_headers(&v.id, v.timestamp, &v.signature);
    for now in [v.timestamp - 300, v.timestamp, v.timestamp + 300] {
        assert!(verifier.verify_at(&map, &v.payload, now).is_ok(), "now = ts{:+}", now - v.timestamp);
    }
    let old = verifier.verify_at(&map, &v.payload, v.timestamp + 301).expect_err("too old");
    assert_eq!(old, VerifyError::TooOld { age_secs: 301, tolerance_secs: 300 });
    assert!(old.to_string().contains("301 s old"), "{old}");
    let future = verifier.verify_at(&map, &v.payload, v.timestamp - 301).expect_err("in the future");
    assert_eq!(future, VerifyError::InFuture { ahead_secs: 301, tolerance_secs: 300 });
    assert!(future.to_string().contains("301 s in the future"), "{future}");
    assert!(verifier.verify_ignoring_timestamp(&map, &v.payload).is_ok());

    let narrow = verifier.clone().with_tolerance(Duration::from_secs(10));
    assert_eq!(narrow.tolerance(), Duration::from_secs(10));
    assert!(narrow.verify_at(&map, &v.payload, v.timestamp + 10).is_ok());
    assert!(narrow.verify_at(&map, &v.payload, v.timestamp + 11).is_err());
}

#[test]
fn verify_with_system_time_uses_that_clock() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let map = svix_headers(&v.id, v.timestamp, &v.signature);
    let at = |secs: i64| UNIX_EPOCH + Duration::from_secs(secs as u64);
    assert!(verifier.verify(&map, &v.payload, at(v.timestamp + 299)).is_ok());
    assert!(matches!(verifier.verify(&map, &v.payload, SystemTime::now()), Err(VerifyError::TooOld { .. })));
}

#[test]
fn negative_timestamp_is_too_old_but_its_signature_is_valid() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let signature = sign(&v.secret, &v.id, -1, &v.payload).expect("sign");
    let map = svix_headers(&v.id, -1, &signature);
    assert!(matches!(verifier.verify_at(&map, &v.payload, now_secs()), Err(VerifyError::TooOld { .. })));
    assert_eq!(verifier.verify_ignoring_timestamp(&map, &v.payload).expect("signature").timestamp, -1);
}

#[test]
fn timestamps_that_are_not_whole_seconds_are_refused() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    for bad in ["1614265330.0", "abc", "+1614265330", "1614265330s", "99999999999999999999", "-"] {
        let map = headers("svix", &v.id, bad, &v.signature);
        let error = verifier.verify_at(&map, &v.payload, v.timestamp).expect_err(bad);
        assert_eq!(error, VerifyError::InvalidTimestamp { name: "svix-timestamp", value: bad.to_owned() });
        assert!(error.to_string().contains(bad), "{error}");
    }
    // Surrounding whitespace is trimmed, as Clerk's own verifier does.
    let map = headers("svix", &v.id, " 1614265330 ", &v.signature);
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_ok());
}

#[test]
fn missing_headers_are_all_named() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let error = verifier.verify_at(&HeaderMap::new(), &v.payload, v.timestamp).expect_err("no headers");
    assert_eq!(error, VerifyError::MissingHeaders { names: vec!["svix-id", "svix-timestamp", "svix-signature"] });
    let message = error.to_string();
    for name in ["`svix-id`", "`svix-timestamp`", "`svix-signature`"] {
        assert!(message.contains(name), "{message}");
    }

    let mut map = svix_headers(&v.id, v.timestamp, &v.signature);
    map.remove("svix-signature");
    map.insert("svix-id", HeaderValue::from_static("  "));
    let error = verifier.verify_at(&map, &v.payload, v.timestamp).expect_err("blank id, no signature");
    assert_eq!(error, VerifyError::MissingHeaders { names: vec!["svix-id", "svix-signature"] });
}

#[test]
fn each_header_falls_back_to_its_webhook_name_on_its_own() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let mut map = HeaderMap::new();
    map.insert("svix-id", HeaderValue::from_str(&v.id).expect("id"));
    map.insert("webhook-timestamp", HeaderValue::from_str(&v.timestamp.to_string()).expect("ts"));
    map.insert("webhook-signature", HeaderValue::from_str(&v.signature).expect("sig"));
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_ok());

    // The branded header wins when both are present.
    map.insert("svix-signature", HeaderValue::from_static("v1,AAAA"));
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_err());
}

#[test]
fn header_names_are_case_insensitive_and_signatures_may_span_header_lines() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let mut map = HeaderMap::new();
    map.insert(HeaderName::from_bytes(b"Svix-Id").expect("name"), HeaderValue::from_str(&v.id).expect("id"));
    map.insert("svix-timestamp", HeaderValue::from_str(&v.timestamp.to_string()).expect("ts"));
    map.append("svix-signature", HeaderValue::from_static("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="));
    map.append("svix-signature", HeaderValue::from_str(&v.signature).expect("sig"));
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_ok());
}

#[test]
fn entries_without_a_comma_or_of_other_versions_are_skipped() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let header = format!("garbage v1a,{sig} ,,, v2,x {}", v.signature, sig = &v.signature[3..]);
    let map = svix_headers(&v.id, v.timestamp, &header);
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_ok());
}

#[test]
fn non_text_header_values_are_refused() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let mut map = svix_headers(&v.id, v.timestamp, &v.signature);
    map.insert("svix-id", HeaderValue::from_bytes(b"msg_\xff").expect("opaque value"));
    let error = verifier.verify_at(&map, &v.payload, v.timestamp).expect_err("non-ascii id");
    assert_eq!(error, VerifyError::InvalidHeader { name: "svix-id" });
}

#[test]
fn rotation_accepts_any_secret_and_reports_how_many_were_tried() {
    let v = v2();
    let other = Secret::generate();
    let verifier = Verifier::new([other.as_str(), v.secret.as_str()]).expect("secrets");
    let map = svix_headers(&v.id, v.timestamp, &v.signature);
    assert!(verifier.verify_at(&map, &v.payload, v.timestamp).is_ok());

    let only_other = Verifier::new([other.as_str(), other.as_str()]).expect("secrets");
    let error = only_other.verify_at(&map, &v.payload, v.timestamp).expect_err("wrong secrets");
    assert_eq!(error, VerifyError::NoMatch { signatures: 1, secrets: 2 });
    assert!(error.to_string().contains("signing secret"), "{error}");
}

#[test]
fn secrets_are_checked_when_the_verifier_is_built() {
    assert!(matches!(Verifier::new(Vec::<String>::new()), Err(SecretError::NoSecrets)));
    assert!(matches!(Verifier::new([""]), Err(SecretError::Empty { position: 1 })));
    assert!(matches!(Verifier::new(["whsec_"]), Err(SecretError::Empty { position: 1 })));
    let v = v2();
    let error = Verifier::new([v.secret.as_str(), "whsec_not base64!"]).expect_err("bad base64");
    assert!(matches!(error, SecretError::InvalidBase64 { position: 2, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("#2") && message.contains("base64"), "{message}");
    assert!(SecretError::NoSecrets.to_string().contains("dashboard"));
}

#[test]
fn secrets_work_with_or_without_base64_padding() {
    // 16 bytes encode to 22 characters plus `==`.
    let padded = "whsec_AAECAwQFBgcICQoLDA0ODw==";
    let unpadded = "whsec_AAECAwQFBgcICQoLDA0ODw";
    let a = sign(padded, "msg_1", 1, b"{}").expect("padded");
    let b = sign(unpadded, "msg_1", 1, b"{}").expect("unpadded");
    assert_eq!(a, b);
    let raw = Secret::from_bytes(&(0u8..16).collect::<Vec<_>>()).expect("raw").sign("msg_1", 1, b"{}");
    assert_eq!(a, raw);
}

#[test]
fn generated_secrets_look_like_svix_ones_and_differ() {
    let a = Secret::generate();
    let b = Secret::generate();
    assert_ne!(a, b);
    for s in [&a, &b] {
        let encoded = s.strip_prefix("whsec_").expect("prefix");
        assert_eq!(encoded.len(), 32, "{s}: 24 bytes are 32 base64 characters");
        let signature = sign(s, "msg_x", 5, b"body").expect("usable");
        let map = svix_headers("msg_x", 5, &signature);
        assert!(Verifier::new([s]).expect("secret").verify_at(&map, b"body", 5).is_ok());
    }
}

#[test]
fn debug_output_hides_keys() {
    let v = v2();
    let verifier = Verifier::new([&v.secret]).expect("secret");
    let shown = format!("{verifier:?} {:?}", Secret::parse(&v.secret).expect("secret"));
    assert!(!shown.contains("MfKQ9r8G"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

fn header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary headers and bodies never panic, and never verify unless the header carries the
    /// correct signature for the id, timestamp and body the verifier read.
    #[test]
    fn arbitrary_input_never_panics_nor_verifies_without_the_right_signature(
        body in prop::collection::vec(any::<u8>(), 0..256),
        fields in prop::collection::vec((header_name(), prop::collection::vec(any::<u8>(), 0..64)), 0..8),
        now in any::<i64>(),
    ) {
        let v = v2();
        let verifier = Verifier::new([&v.secret]).expect("secret");
        let mut map = HeaderMap::new();
        for (name, value) in &fields {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(*name, value);
            }
        }
        let outcome = verifier.verify_at(&map, &body, now);
        let ignoring = verifier.verify_ignoring_timestamp(&map, &body);
        for message in [outcome, ignoring].into_iter().flatten() {
            let expected = sign(&v.secret, &message.id, message.timestamp, &body).expect("sign");
            let carried = map.get_all("svix-signature").iter().chain(map.get_all("webhook-signature").iter())
                .any(|h| h.to_str().is_ok_and(|s| s.split_ascii_whitespace().any(|e| e == expected)));
            prop_assert!(carried, "verified without the right signature: {map:?}");
        }
    }

    /// Among any other entries (junk, other versions, wrong MACs), a message verifies exactly
    /// when the right `v1` signature is one of them.
    #[test]
    fn verifies_exactly_when_the_right_signature_is_among_the_entries(
        body in prop::collection::vec(any::<u8>(), 0..256),
        id in "[!-~]{1,40}",
        timestamp in 0i64..4_000_000_000,
        junk in prop::collection::vec("[!-~]{0,50}", 0..6),
        include in any::<bool>(),
        position in any::<prop::sample::Index>(),
    ) {
        let v = v2();
        let verifier = Verifier::new([&v.secret]).expect("secret");
        let right = sign(&v.secret, &id, timestamp, &body).expect("sign");
        let mut entries: Vec<String> = junk.into_iter().filter(|e| *e != right).collect();
        if include {
            let at = position.index(entries.len() + 1);
            entries.insert(at, right.clone());
        }
        prop_assume!(!entries.is_empty());
        let map = svix_headers(&id, timestamp, &entries.join(" "));
        let result = verifier.verify_at(&map, &body, timestamp);
        prop_assert_eq!(result.is_ok(), include, "{:?} for {:?}", result, entries);
        if let Ok(message) = result {
            prop_assert_eq!((message.id.as_str(), message.timestamp), (id.as_str(), timestamp));
        }
    }

    /// A well-formed message with a signature that is not the right one never verifies.
    #[test]
    fn wrong_signatures_never_verify(
        body in prop::collection::vec(any::<u8>(), 0..256),
        forged in "v1,[A-Za-z0-9+/]{43}=",
        id in "msg_[A-Za-z0-9]{1,27}",
    ) {
        let v = v2();
        let verifier = Verifier::new([&v.secret]).expect("secret");
        let right = sign(&v.secret, &id, v.timestamp, &body).expect("sign");
        prop_assume!(forged != right);
        let map = svix_headers(&id, v.timestamp, &forged);
        prop_assert_eq!(
            verifier.verify_at(&map, &body, v.timestamp),
            Err(VerifyError::NoMatch { signatures: 1, secrets: 1 })
        );
    }

    /// A correct signature stops verifying as soon as any byte of the body changes.
    #[test]
    fn any_changed_body_byte_breaks_the_signature(
        body in prop::collection::vec(any::<u8>(), 1..512),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        id in "msg_[A-Za-z0-9]{1,27}",
        timestamp in 0i64..4_000_000_000,
    ) {
        let v = v2();
        let verifier = Verifier::new([&v.secret]).expect("secret");
        let signature = sign(&v.secret, &id, timestamp, &body).expect("sign");
        let map = svix_headers(&id, timestamp, &signature);
        prop_assert!(verifier.verify_at(&map, &body, timestamp).is_ok());
        let mut changed = body.clone();
        let i = index.index(changed.len());
        changed[i] ^= flip;
        prop_assert_eq!(
            verifier.verify_at(&map, &changed, timestamp),
            Err(VerifyError::NoMatch { signatures: 1, secrets: 1 })
        );
    }
}
