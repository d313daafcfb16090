//! The differential corpus's two apps (a module file, included by path where it is used, so
//! that its `#[inngest_fn]`s join no other binary's functions): the functions of `tests/inngest-js/differential.mjs`
//! written in Rust and served by hookflow's serve handler as app `diff`, and that TypeScript app
//! itself, run by Node; and the corpus of recorded call requests
//! (`tests/fixtures/inngest-differential/corpus.json`) sent to both. Used by
//! `tests/tests/inngest_differential.rs` (the answers must agree) and by `bench serve` (what each
//! answer costs).
#![allow(dead_code)] // Each includer uses a part.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::protocol::{InngestConfig, ServeHandler};
use hookflow::{Invoke, Registry, State, WaitFor};
use serde_json::{json, Value};
use tokio::process::Child;

// ---- the functions, as differential.mjs writes them -------------------------------------------

#[inngest_fn(id = "double", event = "diff/double")]
async fn double(event: Event<Json>) -> Result<u64> {
    Ok(event.data["x"].as_u64().unwrap_or(0) * 2)
}

#[inngest_fn(id = "flow", event = "diff/flow", retries = 2)]
async fn flow(event: Event<Json>, step: Step) -> Result<Value> {
    let a: u64 = step.run("a", || async { Ok(1) }).await?;
    step.sleep("nap", "1h").await?;
    let approval = step
        .wait_for_event::<Json>(
            "approval",
            WaitFor::timeout("1d").event("diff/approved").if_expr("async.data.id == event.data.id"),
        )
        .await?;
    let doubled: u64 = step.invoke("double", Invoke::new(double::DEF, json!({"x": a}))?).await?;
    Ok(json!({"a": a, "approved": approval.is_some(), "doubled": doubled, "user": event.data["id"]}))
}

#[inngest_fn(id = "fan", event = "diff/fan")]
async fn fan(_event: Event<Json>, step: Step) -> Result<u64> {
    let (x, y) = tokio::join!(step.run("x", || async { Ok(10) }), step.run("y", || async { Ok(20) }));
    let (x, y): (u64, u64) = (x?, y?);
    Ok(step.run("sum", || async move { Ok(x + y) }).await?)
}

#[inngest_fn(id = "charge", event = "diff/charge", retries = 2)]
async fn charge(event: Event<Json>, step: Step) -> Result<Value> {
    let mode = event.data["mode"].as_str().unwrap_or("").to_owned();
    let receipt: Value = step
        .run("charge-card", || async move {
            match mode.as_str() {
                "later" => Err(RetryAfter::new(Duration::from_secs(30), "the bank asks to come back later").into()),
                "never" => Err(NonRetriable::new("the card is stolen").into()),
                _ => Err(Error::msg("card declined")),
            }
        })
        .await?;
    Ok(receipt)
}

#[inngest_fn(id = "boom", event = "diff/boom", retries = 1)]
async fn boom(event: Event<Json>) -> Result<Value> {
    match event.data["mode"].as_str() {
        Some("never") => Err(NonRetriable::new("never again").into()),
        _ => Err(Error::msg("boom")),
    }
}

// ---- the two apps -----------------------------------------------------------------------------

/// The corpus's cases: `{name, function, stepId, request}`.
pub(crate) fn corpus() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/inngest-differential/corpus.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let corpus: Value = serde_json::from_str(&text).expect("the corpus is JSON");
    corpus["cases"].as_array().expect("cases").clone()
}

/// hookflow's handler serving the Rust functions as app `diff`, in dev mode (as the Node app).
pub(crate) async fn rust_app() -> String {
    let mut registry = Registry::empty();
    for def in [double::DEF, flow::DEF, fan::DEF, charge::DEF, boom::DEF] {
        registry.add(def).expect("distinct ids");
    }
    let handler = ServeHandler::new("diff", InngestConfig::dev("http://127.0.0.1:9"), &registry, State::default())
        .expect("no conflicts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/api/inngest", listener.local_addr().expect("addr"));
    let router = handler.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The URL a case is sent to, on the app served at `url`.
pub(crate) fn case_url(url: &str, case: &Value) -> String {
    let field = |key: &str| case[key].as_str().unwrap_or("").to_owned();
    format!("{url}?fnId=diff-{}&stepId={}", field("function"), field("stepId"))
}

/// The TypeScript app (`differential.mjs`) on a free port; answers its serve URL.
pub(crate) async fn ts_app() -> (Child, String) {
    hookflow_tests::node::start("differential.mjs", |command| {
        // Dev mode: requests are not signed, as for the Rust app. Nothing is sent to the server.
        command.env("INNGEST_DEV", "http://127.0.0.1:9").env("INNGEST_LOG_LEVEL", "error");
        // It logs every error it answers with (the corpus has many); the answers are compared.
        command.stderr(Stdio::null());
    })
    .await
}
