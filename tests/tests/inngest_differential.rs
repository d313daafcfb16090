//! The differential corpus: the same recorded call requests
//! (`tests/fixtures/inngest-differential/corpus.json`: fresh runs, memoized prefixes, retries
//! with `attempt > 0`, parallel steps, sleeps, waits, invokes, step and function errors,
//! non-retriable errors, `disable_immediate_execution` and `stepId` targeting) sent to an app
//! written with the official TypeScript SDK (`tests/inngest-js/differential.mjs`, a real Node
//! process) and to hookflow's serve handler serving the same functions in Rust
//! (`differential/mod.rs`); the answers must agree on status, the retry headers, and
//! the op list: ops, hashed ids (exactly), names, opts and data, errors by name and message.
//! Timing fields, stacks and display-only fields are not compared, and neither are the places
//! where the protocol gives an SDK a choice the server reads either way; `normalize` lists each.

mod differential;

use differential::{case_url, corpus, rust_app, ts_app};
use serde_json::{json, Value};

/// An answer reduced to what is compared.
async fn ask(http: &reqwest::Client, url: &str, case: &Value) -> Value {
    let response = http
        .post(case_url(url, case))
        .header("content-type", "application/json")
        .body(case["request"].to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url} answers: {e}"));
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (no_retry, retry_after) = (header("x-inngest-no-retry"), header("retry-after"));
    let body: Value = response.json().await.unwrap_or(Value::Null);
    json!({"status": status, "no_retry": no_retry, "retry_after": retry_after, "body": normalize(status, body)})
}

/// What the comparison leaves out, and why each is not a difference the server sees:
/// - `timing`, `userland`, `displayName` (display only), error `stack`s and JS's
///   `__serialized` marker; `opts: {}` is no opts;
/// - `opts.type` of a planned step: optional UI metadata (TypeScript 4.24 leaves it out);
/// - a sleep's duration and a wait's event may ride in `opts` or in the legacy `name` (the
///   TypeScript SDK uses `name`); the server takes `opts` first, then `name`, so both are
///   compared as `opts` and the name is not;
/// - an invoke's `name` (TypeScript sends none; the server reads the display name) and its
///   timeout when it is the default (a year: absent, or hookflow's explicit `366d`);
/// - errors (a function's body, a step's `error`) by `name` and `message` only; the copy of a
///   failed step's error the TypeScript SDK also puts in `data` (the server stores only
///   `error` for `StepError`/`StepFailed`: `GeneratorOpcode::Output` in its
///   `pkg/execution/state/opcode.go`);
/// - the body of a "step not found" 500 beyond `requestedStep` (free text).
fn normalize(status: u16, body: Value) -> Value {
    match status {
        206 => Value::Array(body.as_array().cloned().unwrap_or_default().into_iter().map(normalize_op).collect()),
        500 if body.get("requestedStep").is_some() => json!({"requestedStep": body["requestedStep"]}),
        400 | 500 => error_of(&body),
        _ => body,
    }
}

fn error_of(error: &Value) -> Value {
    let field = |key: &str| error.get(key).cloned().unwrap_or(Value::Null);
    json!({"name": field("name"), "message": field("message")})
}

fn normalize_op(mut op: Value) -> Value {
    let Some(map) = op.as_object_mut() else { return op };
    for key in ["timing", "userland", "displayName"] {
        map.remove(key);
    }
    let kind = map.get("op").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut opts = match map.remove("opts") {
        Some(Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    let name = map.remove("name").and_then(|n| n.as_str().map(str::to_owned));
    match kind.as_str() {
        "Sleep" => {
            if !opts.contains_key("duration") {
                opts.insert("duration".into(), json!(name));
            }
        }
        "WaitForEvent" => {
            if !opts.contains_key("event") {
                opts.insert("event".into(), json!(name));
            }
        }
        "InvokeFunction" => {
            if opts.get("timeout").and_then(Value::as_str) == Some("366d") {
                opts.remove("timeout");
            }
        }
        "StepPlanned" => {
            opts.remove("type");
            map.insert("name".into(), json!(name));
        }
        _ => {
            map.insert("name".into(), json!(name));
        }
    }
    if !opts.is_empty() {
        map.insert("opts".into(), Value::Object(opts));
    }
    if let Some(error) = map.get_mut("error") {
        *error = error_of(error);
    }
    if matches!(kind.as_str(), "StepError" | "StepFailed")
        || (map.get("data") == Some(&Value::Null) && kind != "StepRun")
    {
        map.remove("data");
    }
    op
}

#[tokio::test]
async fn the_typescript_sdk_and_hookflow_answer_every_recorded_request_alike() {
    let (_node, ts) = ts_app().await;
    let rust = rust_app().await;
    let http = reqwest::Client::new();
    let cases = corpus();
    assert!(cases.len() >= 20, "the corpus has its cases");
    let mut differences = Vec::new();
    for case in &cases {
        let (theirs, ours) = (ask(&http, &ts, case).await, ask(&http, &rust, case).await);
        if theirs != ours {
            differences.push(format!(
                "case `{}` differs:\n  TypeScript SDK: {theirs}\n  hookflow:       {ours}",
                case["name"].as_str().unwrap_or("?")
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

#[test]
fn normalizing_keeps_what_the_server_reads() {
    // JS's legacy sleep and ours compare equal; different durations do not.
    let js = json!({"op": "Sleep", "id": "h", "name": "1h", "opts": {}, "data": null, "displayName": "nap"});
    let ours = json!({"op": "Sleep", "id": "h", "name": "nap", "opts": {"duration": "1h"}, "displayName": "nap"});
    assert_eq!(normalize_op(js.clone()), normalize_op(ours));
    let other = json!({"op": "Sleep", "id": "h", "name": "nap", "opts": {"duration": "2h"}});
    assert_ne!(normalize_op(js), normalize_op(other));
    // Ids, names and data of a step are kept.
    let a = json!({"op": "StepRun", "id": "h1", "name": "a", "data": 1});
    assert_ne!(normalize_op(a.clone()), normalize_op(json!({"op": "StepRun", "id": "h2", "name": "a", "data": 1})));
    assert_ne!(normalize_op(a.clone()), normalize_op(json!({"op": "StepRun", "id": "h1", "name": "b", "data": 1})));
    assert_ne!(normalize_op(a), normalize_op(json!({"op": "StepRun", "id": "h1", "name": "a", "data": 2})));
}
