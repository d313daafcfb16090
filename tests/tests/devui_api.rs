//! The dev UI's HTTP surface over real sockets: `/api/v1` (runs, run detail, cancel, rerun,
//! rerun from a step, events, event detail with skipped functions, replay, edit & replay, send,
//! functions, invoke, templates, the live stream), Inngest's `/v1` REST shape, the UI pages and
//! assets, and the guard (token, host, cross-origin writes).
//!
//! Also holds an ignored test, `browser_fixture_server`, that serves a Clerk-onboarding-like app
//! with the dev UI for `tests/browser/run.mjs` (see tests/browser/README.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use hookflow::devui::{router, DevUiConfig};
use hookflow::engine::EngineBuilder;
use hookflow::prelude::*;
use hookflow::store::MemoryStore;
use hookflow::{Clock as _, Engine, RawEvent, Registry, TestClock};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

// ---- functions under test -------------------------------------------------------------------

/// How often step `hello` ran, per greeted name (tests run in parallel: each uses its own name).
static HELLO_RUNS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);
static WORLD_RUNS: AtomicUsize = AtomicUsize::new(0);

fn hello_runs(name: &str) -> usize {
    HELLO_RUNS.lock().map(|m| m.get(name).copied().unwrap_or(0)).unwrap_or(0)
}

#[inngest_fn(id = "greet", name = "Greet a user", event = "app/greet", retries = 2)]
async fn greet(event: Event<Json>, step: Step) -> Result<Value> {
    let name = event.data["name"].as_str().unwrap_or("nobody").to_owned();
    let hello: String = step
        .run("hello", || async move {
            if let Ok(mut runs) = HELLO_RUNS.lock() {
                *runs.entry(name.clone()).or_default() += 1;
            }
            Ok(format!("hello {name}"))
        })
        .await?;
    let world: u64 = step.run("world", || async { Ok(WORLD_RUNS.fetch_add(1, Ordering::SeqCst) as u64) }).await?;
    Ok(json!({ "greeting": hello, "world": world }))
}

#[inngest_fn(id = "vip-only", event(name = "app/greet", if = "event.data.vip == true"))]
async fn vip_only(event: Event<Json>) -> Result<Value> {
    Ok(event.data)
}

#[inngest_fn(id = "nap", event = "app/nap")]
async fn nap(step: Step) -> Result<&'static str> {
    step.run("before", || async { Ok("awake".to_owned()) }).await?;
    step.sleep("rest", "1h").await?;
    step.run("after", || async { Ok("rested".to_owned()) }).await?;
    Ok("done")
}

#[inngest_fn(id = "flaky", event = "app/flaky", retries = 0)]
async fn flaky(event: Event<Json>) -> Result<()> {
    Err(hookflow::Error::msg(format!("boom for {}", event.data["who"].as_str().unwrap_or("?"))))
}

#[inngest_fn(id = "one-at-a-time", event = "app/one", concurrency(limit = 1, per = "run"))]
async fn one_at_a_time(step: Step) -> Result<()> {
    step.sleep("hold", "1h").await?;
    Ok(())
}

// ---- harness ----------------------------------------------------------------------------------

struct Server {
    base: String,
    engine: Engine,
    clock: TestClock,
    http: reqwest::Client,
}

async fn serve(config: DevUiConfig) -> Server {
    let mut registry = Registry::empty();
    for def in [greet::DEF, vip_only::DEF, nap::DEF, flaky::DEF, one_at_a_time::DEF] {
        registry.add(def).expect("unique ids");
    }
    let clock = TestClock::starting_now();
    let engine = EngineBuilder::new("test", registry)
        .store(Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .expect("engine starts");
    let app = router(engine.clone(), config);
    let base = hookflow_tests::http::serve(app).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Server { base, engine, clock, http }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self.http.get(self.url(path)).send().await.expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Sends one event and waits until its runs have done all they can.
    async fn send(&self, name: &str, data: Value) -> String {
        let ids = self.engine.send([RawEvent::new(name, data)]).await.expect("send");
        self.engine.settle().await;
        ids.into_iter().next().expect("one id")
    }

    /// The runs of one event, by function id.
    async fn run_of(&self, event_id: &str, function: &str) -> Value {
        let body = self.ok(&format!("/api/v1/runs?event={event_id}&function={function}")).await;
        body["runs"][0].clone()
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().map(|a| a.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn statuses(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| a.iter().filter_map(|r| r["status"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

// ---- runs -------------------------------------------------------------------------------------

#[tokio::test]
async fn runs_are_listed_newest_first_and_filtered() {
    let s = serve(DevUiConfig::default()).await;
    let greet_event = s.send("app/greet", json!({"name": "Ada", "marker": "needle-42"})).await;
    let nap_event = s.send("app/nap", json!({})).await;
    let flaky_event = s.send("app/flaky", json!({"who": "Bob"})).await;

    let all = s.ok("/api/v1/runs").await;
    let runs = all["runs"].as_array().cloned().unwrap_or_default();
    // Newest first means by run id (a ULID): runs created in the same millisecond have no order.
    let listed = ids(&all["runs"]);
    let mut sorted = listed.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed, sorted, "newest first: {all}");
    let mut seen = statuses(&all["runs"]);
    seen.sort_unstable();
    assert_eq!(seen, vec!["Completed", "Failed", "Sleeping"]);
    let by = |f: &str| runs.iter().find(|r| r["function_id"] == f).cloned().unwrap_or(Value::Null);
    let greet_run = by("greet");
    assert_eq!(greet_run["event_name"], "app/greet");
    assert_eq!(greet_run["event_id"], greet_event.as_str());
    assert_eq!(greet_run["function_name"], "Greet a user");
    assert_eq!(greet_run["status"], "Completed");
    assert!(greet_run["queued_at"].as_i64().is_some() && greet_run["ended_at"].as_i64().is_some());
    assert!(by("nap")["ended_at"].is_null(), "a sleeping run has not ended");
    assert_eq!(all["next_cursor"], Value::Null);

    let sleeping = s.ok("/api/v1/runs?status=Sleeping").await;
    assert_eq!(statuses(&sleeping["runs"]), vec!["Sleeping"]);
    assert_eq!(sleeping["runs"][0]["event_id"], nap_event.as_str());
    let mut ended = statuses(&s.ok("/api/v1/runs?status=Completed,Failed").await["runs"]);
    ended.sort_unstable();
    assert_eq!(ended, vec!["Completed", "Failed"]);
    let mut repeated = statuses(&s.ok("/api/v1/runs?status=Completed&status=Sleeping").await["runs"]);
    repeated.sort_unstable();
    assert_eq!(repeated, vec!["Completed", "Sleeping"]);
    let by_fn = s.ok("/api/v1/runs?function=flaky").await;
    assert_eq!(by_fn["runs"][0]["event_id"], flaky_event.as_str());
    assert_eq!(by_fn["runs"].as_array().map(Vec::len), Some(1));

    // Text search reaches into the triggering event's payload and into errors.
    let found = s.ok("/api/v1/runs?q=NEEDLE-42").await;
    assert_eq!(ids(&found["runs"]), vec![greet_run["id"].as_str().unwrap_or_default().to_owned()]);
    let by_error = s.ok("/api/v1/runs?q=boom%20for%20bob").await;
    assert_eq!(statuses(&by_error["runs"]), vec!["Failed"]);
    assert_eq!(s.ok("/api/v1/runs?q=nothing-like-this").await["runs"], json!([]));

    // Cursor paging.
    let first = s.ok("/api/v1/runs?limit=2").await;
    assert_eq!(first["runs"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("a cursor after a full page").to_owned();
    let second = s.ok(&format!("/api/v1/runs?limit=2&before={cursor}")).await;
    assert_eq!(ids(&second["runs"]), vec![listed[2].clone()]);
    assert_eq!(second["next_cursor"], Value::Null);

    // Time range: the engine's clock decides.
    let now = s.clock.now_ms();
    assert_eq!(s.ok(&format!("/api/v1/runs?since={}", now + 1)).await["runs"], json!([]));
    assert_eq!(s.ok(&format!("/api/v1/runs?until={}", now + 1)).await["runs"].as_array().map(Vec::len), Some(3));
    assert_eq!(s.ok("/api/v1/runs?last=1h").await["runs"].as_array().map(Vec::len), Some(3));
    s.clock.advance(Duration::from_secs(7200));
    assert_eq!(s.ok("/api/v1/runs?last=1h").await["runs"], json!([]));

    let (status, body) = s.get("/api/v1/runs?status=Exploded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap_or_default().contains("Sleeping"), "lists the statuses: {body}");
    assert_eq!(s.get("/api/v1/runs?since=yesterday").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/api/v1/runs?last=forever").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/api/v1/runs?limit=many").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_run_held_back_by_flow_control_says_why() {
    let s = serve(DevUiConfig::default()).await;
    let first = s.send("app/one", json!({})).await;
    let second = s.send("app/one", json!({})).await;
    assert_eq!(s.run_of(&first, "one-at-a-time").await["status"], "Sleeping");
    let held = s.run_of(&second, "one-at-a-time").await;
    assert_eq!(held["status"], "Queued", "{held}");
    assert_eq!(held["held_back"], json!({"kind": "concurrency", "bucket": "fn:one-at-a-time:0:"}));
    let detail = s.ok(&format!("/api/v1/runs/{}", held["id"].as_str().unwrap_or_default())).await;
    assert_eq!(detail["run"]["held_back"]["kind"], "concurrency", "{detail}");
    assert!(s.run_of(&first, "one-at-a-time").await.get("held_back").is_none(), "only queued runs are held back");
}

#[tokio::test]
async fn run_detail_has_steps_pending_ops_output_and_errors() {
    let s = serve(DevUiConfig::default()).await;
    let nap_event = s.send("app/nap", json!({})).await;
    let nap_run = s.run_of(&nap_event, "nap").await;
    let detail = s.ok(&format!("/api/v1/runs/{}", nap_run["id"].as_str().unwrap_or_default())).await;
    assert_eq!(detail["run"]["status"], "Sleeping");
    assert_eq!(detail["events"][0]["id"], nap_event.as_str());
    let steps = detail["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1, "{detail}");
    assert_eq!(steps[0]["name"], "before");
    assert_eq!(steps[0]["kind"], "run");
    assert_eq!(steps[0]["status"], "completed");
    assert_eq!(steps[0]["output"], "awake");
    assert_eq!(steps[0]["hash"], hookflow::hash_step_id("before").as_str());
    let pending = &detail["pending"][0];
    assert_eq!(pending["kind"], "sleep");
    assert_eq!(pending["name"], "rest");
    assert_eq!(pending["until"].as_i64(), Some(s.clock.now_ms() + 3_600_000));

    s.clock.advance(Duration::from_secs(3600));
    s.engine.settle().await;
    let done = s.ok(&format!("/api/v1/runs/{}", nap_run["id"].as_str().unwrap_or_default())).await;
    assert_eq!(done["run"]["status"], "Completed");
    assert_eq!(done["run"]["output"], "done");
    let kinds: Vec<&str> =
        done["steps"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(|s| s["kind"].as_str()).collect());
    assert_eq!(kinds, vec!["run", "sleep", "run"]);
    assert_eq!(done["pending"], json!([]));

    let flaky_event = s.send("app/flaky", json!({"who": "Eve"})).await;
    let flaky_run = s.run_of(&flaky_event, "flaky").await;
    let failed = s.ok(&format!("/api/v1/runs/{}", flaky_run["id"].as_str().unwrap_or_default())).await;
    assert_eq!(failed["run"]["status"], "Failed");
    assert_eq!(failed["run"]["error"]["message"], "boom for Eve");
    assert_eq!(failed["run"]["output"], Value::Null);

    let (status, body) = s.get("/api/v1/runs/01NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap_or_default().contains("01NOPE"));
}

#[tokio::test]
async fn cancel_rerun_and_rerun_from_a_step() {
    let s = serve(DevUiConfig::default()).await;
    let nap_event = s.send("app/nap", json!({})).await;
    let nap_id = s.run_of(&nap_event, "nap").await["id"].as_str().unwrap_or_default().to_owned();
    let (status, body) = s.post(&format!("/api/v1/runs/{nap_id}/cancel"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cancelled"], true);
    s.engine.settle().await;
    assert_eq!(s.ok(&format!("/api/v1/runs/{nap_id}")).await["run"]["status"], "Cancelled");
    let (status, body) = s.post(&format!("/api/v1/runs/{nap_id}/cancel"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "an ended run cannot be cancelled: {body}");
    assert_eq!(s.post("/api/v1/runs/01NOPE/cancel", "").await.0, StatusCode::NOT_FOUND);

    let greet_event = s.send("app/greet", json!({"name": "Lin"})).await;
    let original = s.run_of(&greet_event, "greet").await;
    let original_id = original["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(hello_runs("Lin"), 1);

    // A whole rerun executes every step again.
    let (status, body) = s.post(&format!("/api/v1/runs/{original_id}/rerun"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rerun_id = body["run_id"].as_str().expect("new run id").to_owned();
    assert_ne!(rerun_id, original_id);
    s.engine.settle().await;
    let rerun = s.ok(&format!("/api/v1/runs/{rerun_id}")).await;
    assert_eq!(rerun["run"]["status"], "Completed");
    assert_eq!(rerun["run"]["rerun_of"], original_id.as_str());
    assert_eq!(rerun["run"]["output"]["greeting"], "hello Lin");
    assert_eq!(hello_runs("Lin"), 2);

    // From the second step: the first step's recorded result is reused, not executed again.
    let world = hookflow::hash_step_id("world");
    let (status, body) =
        s.post(&format!("/api/v1/runs/{original_id}/rerun"), &json!({"from_step": world}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let from_step_id = body["run_id"].as_str().expect("new run id").to_owned();
    s.engine.settle().await;
    let from_step = s.ok(&format!("/api/v1/runs/{from_step_id}")).await;
    assert_eq!(from_step["run"]["status"], "Completed");
    assert_eq!(hello_runs("Lin"), 2, "the step before `world` was not executed");
    let original_detail = s.ok(&format!("/api/v1/runs/{original_id}")).await;
    assert_eq!(from_step["steps"][0]["output"], original_detail["steps"][0]["output"]);
    assert_eq!(from_step["steps"][0]["started_at"], original_detail["steps"][0]["started_at"]);
    assert_ne!(from_step["run"]["output"]["world"], original_detail["run"]["output"]["world"], "`world` ran again");

    let (status, body) = s.post(&format!("/api/v1/runs/{original_id}/rerun"), r#"{"from_step": "abc"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("abc"));
    assert_eq!(s.post(&format!("/api/v1/runs/{original_id}/rerun"), "{nope").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.post("/api/v1/runs/01NOPE/rerun", "").await.0, StatusCode::NOT_FOUND);
}

// ---- events -----------------------------------------------------------------------------------

#[tokio::test]
async fn events_list_search_internal_and_their_runs() {
    let s = serve(DevUiConfig::default()).await;
    let ada = s.send("app/greet", json!({"name": "Ada", "city": "Lisbon"})).await;
    let nap = s.send("app/nap", json!({"city": "Porto"})).await;

    let list = s.ok("/api/v1/events").await;
    assert_eq!(ids(&list["events"]), vec![nap.clone(), ada.clone()], "newest first, no internal events: {list}");
    let ada_row = &list["events"][1];
    assert_eq!(ada_row["name"], "app/greet");
    assert_eq!(ada_row["source"], "code");
    assert!(ada_row["preview"].as_str().unwrap_or_default().contains("Lisbon"));
    assert_eq!(ada_row["runs"][0]["function_id"], "greet");
    assert_eq!(ada_row["runs"][0]["status"], "Completed");
    assert_eq!(ada_row["runs"].as_array().map(Vec::len), Some(1), "vip-only did not run");

    let internal = s.ok("/api/v1/events?internal=true").await;
    assert!(
        internal["events"].as_array().is_some_and(|a| a.iter().any(|e| e["name"] == "inngest/function.finished")),
        "{internal}"
    );
    let porto = s.ok("/api/v1/events?q=porto").await;
    assert_eq!(ids(&porto["events"]), vec![nap.clone()]);
    assert!(porto["events"][0]["preview"].as_str().unwrap_or_default().contains("Porto"));
    assert_eq!(ids(&s.ok("/api/v1/events?q=app/greet").await["events"]), vec![ada.clone()]);
    assert_eq!(ids(&s.ok("/api/v1/events?name=app/nap").await["events"]), vec![nap.clone()]);
    let page = s.ok("/api/v1/events?limit=1").await;
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    assert_eq!(ids(&s.ok(&format!("/api/v1/events?limit=1&before={cursor}")).await["events"]), vec![ada]);
}

#[tokio::test]
async fn event_detail_lists_runs_and_skipped_functions_with_reasons() {
    let s = serve(DevUiConfig::default()).await;
    let plain = s.send("app/greet", json!({"name": "Ada", "vip": false})).await;
    let detail = s.ok(&format!("/api/v1/events/{plain}")).await;
    assert_eq!(detail["event"]["name"], "app/greet");
    assert_eq!(detail["event"]["data"]["name"], "Ada");
    assert_eq!(detail["event"]["source"], "code");
    assert_eq!(detail["runs"][0]["function_id"], "greet");
    assert_eq!(detail["skipped"][0]["function_id"], "vip-only");
    let reason = detail["skipped"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("event.data.vip == true") && reason.contains("false"), "{reason}");

    let vip = s.send("app/greet", json!({"name": "Bo", "vip": true})).await;
    let detail = s.ok(&format!("/api/v1/events/{vip}")).await;
    assert_eq!(detail["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["skipped"], json!([]));

    assert_eq!(s.get("/api/v1/events/01NOPE").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn replay_and_edit_and_replay() {
    let s = serve(DevUiConfig::default()).await;
    let original = s.send("app/greet", json!({"name": "Ada"})).await;

    let (status, body) = s.post(&format!("/api/v1/events/{original}/replay"), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let replayed = body["event_id"].as_str().expect("new id").to_owned();
    assert_ne!(replayed, original);
    s.engine.settle().await;
    let detail = s.ok(&format!("/api/v1/events/{replayed}")).await;
    assert_eq!(detail["event"]["source"], "replay");
    assert_eq!(detail["event"]["data"], json!({"name": "Ada"}));
    assert_eq!(detail["runs"][0]["status"], "Completed");

    let (status, body) = s.post(&format!("/api/v1/events/{original}/replay"), r#"{"name": "Grace"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = body["event_id"].as_str().expect("new id").to_owned();
    s.engine.settle().await;
    let run = s.run_of(&edited, "greet").await;
    let run = s.ok(&format!("/api/v1/runs/{}", run["id"].as_str().unwrap_or_default())).await;
    assert_eq!(run["run"]["output"]["greeting"], "hello Grace");
    assert_eq!(s.ok(&format!("/api/v1/events/{original}")).await["event"]["data"], json!({"name": "Ada"}));

    let (status, body) = s.post(&format!("/api/v1/events/{original}/replay"), "{\n  \"name\": \"Grace\",\n}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("not valid JSON") && message.contains("line 3"), "{message}");

    let internal = s.ok("/api/v1/events?internal=true&name=inngest/function.finished").await;
    let internal_id = internal["events"][0]["id"].as_str().expect("a finished event").to_owned();
    let (status, body) = s.post(&format!("/api/v1/events/{internal_id}/replay"), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(s.post("/api/v1/events/01NOPE/replay", "").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn send_events_from_the_ui() {
    let s = serve(DevUiConfig::default()).await;
    let (status, body) = s.post("/api/v1/events", r#"{"name": "app/greet", "data": {"name": "Kai"}}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["ids"][0].as_str().expect("id").to_owned();
    s.engine.settle().await;
    let detail = s.ok(&format!("/api/v1/events/{id}")).await;
    assert_eq!(detail["event"]["source"], "api");
    assert_eq!(detail["runs"][0]["status"], "Completed");

    let (status, body) =
        s.post("/api/v1/events", r#"[{"name": "app/nap"}, {"name": "app/flaky", "data": {"who": "x"}}]"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ids"].as_array().map(Vec::len), Some(2));

    for bad in ["", "{", r#"{"data": {}}"#, r#"{"name": 3}"#, "[]", "17"] {
        let (status, body) = s.post("/api/v1/events", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?} → {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

// ---- functions, templates, info ---------------------------------------------------------------

#[tokio::test]
async fn functions_their_counts_and_invoke() {
    let s = serve(DevUiConfig::default()).await;
    s.send("app/flaky", json!({"who": "a"})).await;
    s.send("app/flaky", json!({"who": "b"})).await;
    s.send("app/nap", json!({})).await;

    let list = s.ok("/api/v1/functions").await;
    let fns = list["functions"].as_array().expect("functions");
    let by_id = |id: &str| fns.iter().find(|f| f["id"] == id).cloned().unwrap_or(Value::Null);
    assert_eq!(by_id("flaky")["counts"]["Failed"], 2);
    assert_eq!(by_id("nap")["counts"]["Sleeping"], 1);
    assert_eq!(by_id("greet")["name"], "Greet a user");
    assert_eq!(by_id("greet")["triggers"], json!([{"type": "event", "event": "app/greet", "if": null}]));
    assert_eq!(by_id("vip-only")["triggers"][0]["if"], "event.data.vip == true");
    assert!(by_id("greet")["options"].as_array().is_some_and(|o| o.contains(&json!(["retries", "2"]))), "{list}");
    assert!(by_id("flaky")["source"].as_str().unwrap_or_default().contains("devui_api"));

    let detail = s.ok("/api/v1/functions/flaky").await;
    assert_eq!(detail["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(detail["invoke_event"], "app/flaky");
    assert_eq!(s.get("/api/v1/functions/nope").await.0, StatusCode::NOT_FOUND);

    let (status, body) = s.post("/api/v1/functions/greet/invoke", r#"{"name": "Invoked"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["event_name"], "inngest/function.invoked", "only this function runs");
    let run_id = body["run_id"].as_str().expect("the function's run").to_owned();
    s.engine.settle().await;
    assert_eq!(s.ok(&format!("/api/v1/runs/{run_id}")).await["run"]["output"]["greeting"], "hello Invoked");

    assert_eq!(s.post("/api/v1/functions/greet/invoke", "{oops").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.post("/api/v1/functions/greet/invoke", "[1]").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.post("/api/v1/functions/nope/invoke", "{}").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn templates_cover_the_clerk_catalogue() {
    let s = serve(DevUiConfig::default()).await;
    let list = s.ok("/api/v1/templates").await;
    let templates = list["templates"].as_array().expect("templates");
    assert_eq!(templates.len(), hookflow::clerk::CATALOG.len());
    for entry in hookflow::clerk::CATALOG {
        assert!(templates.iter().any(|t| t["clerk_type"] == entry.clerk_type && t["event_name"] == entry.event_name));
    }
    let user = s.ok("/api/v1/templates/user.created").await;
    assert_eq!(user["event_name"], "clerk/user.created");
    assert_eq!(user["data"], hookflow::clerk::fixtures::sample_data("user.created").unwrap_or_default());
    assert_eq!(s.get("/api/v1/templates/user.exploded").await.0, StatusCode::NOT_FOUND);

    let info = s.ok("/api/v1/info").await;
    assert_eq!(info["app_id"], "test");
    assert_eq!(info["event_key"], "dev");
    assert!(info["event_names"]
        .as_array()
        .is_some_and(|n| n.contains(&json!("app/nap")) && n.contains(&json!("clerk/user.deleted"))));
}

// ---- Inngest's REST API -----------------------------------------------------------------------

#[tokio::test]
async fn inngest_v1_rest_shapes() {
    let s = serve(DevUiConfig::default()).await;
    let greet_event = s.send("app/greet", json!({"name": "Ada"})).await;
    let nap_event = s.send("app/nap", json!({})).await;

    let list = s.ok("/v1/events?name=app/greet").await;
    assert_eq!(list["data"][0]["id"], greet_event.as_str());
    assert_eq!(list["data"][0]["data"]["name"], "Ada");
    assert!(list["metadata"]["fetched_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(list["metadata"]["cached_until"], Value::Null);
    let now = s.clock.now_ms();
    assert_eq!(s.ok(&format!("/v1/events?received_after={}", now + 1)).await["data"], json!([]));
    let before = s.ok("/v1/events?name=app/nap&received_before=2999-01-01T00:00:00Z").await;
    assert_eq!(before["data"][0]["id"], nap_event.as_str());
    assert_eq!(s.ok("/v1/events?received_before=2001-01-01T00:00:00%2B01:00").await["data"], json!([]));
    assert_eq!(s.get("/v1/events?received_after=soon").await.0, StatusCode::BAD_REQUEST);

    let one = s.ok(&format!("/v1/events/{greet_event}")).await;
    assert_eq!(one["data"]["name"], "app/greet");

    let runs = s.ok(&format!("/v1/events/{nap_event}/runs")).await;
    let run = &runs["data"][0];
    assert_eq!(run["status"], "Running", "a sleeping run is Running to Inngest");
    assert_eq!(run["hookflow_status"], "Sleeping");
    assert_eq!(run["function_id"], "nap");
    assert_eq!(run["event_id"], nap_event.as_str());
    assert_eq!(run["ended_at"], Value::Null);
    let run_id = run["run_id"].as_str().expect("run_id").to_owned();

    let greet_runs = s.ok(&format!("/v1/events/{greet_event}/runs")).await;
    let greet_run = greet_runs["data"][0]["run_id"].as_str().expect("run").to_owned();
    let fetched = s.ok(&format!("/v1/runs/{greet_run}")).await;
    assert_eq!(fetched["data"]["status"], "Completed");
    assert_eq!(fetched["data"]["output"]["greeting"], "hello Ada");
    assert!(fetched["data"]["run_started_at"].as_str().is_some() && fetched["data"]["ended_at"].as_str().is_some());

    let res = s.http.delete(s.url(&format!("/v1/runs/{run_id}"))).send().await.expect("delete");
    assert_eq!(res.status(), StatusCode::OK);
    s.engine.settle().await;
    let cancelled = s.ok(&format!("/v1/runs/{run_id}")).await;
    assert_eq!(cancelled["data"]["status"], "Cancelled");
    assert_eq!(s.get("/v1/runs/01NOPE").await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v1/events/01NOPE/runs").await.0, StatusCode::NOT_FOUND);
}

// ---- live stream ------------------------------------------------------------------------------

/// Reads the stream until `done` holds for what was received, at most 10 s.
async fn read_until(res: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    let read = async {
        while !done(&text) {
            match res.chunk().await {
                Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    text
}

#[tokio::test]
async fn the_stream_pushes_events_and_run_changes() {
    let s = serve(DevUiConfig::default()).await;
    let mut res = s.http.get(s.url("/api/v1/stream")).send().await.expect("stream");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap_or_default().starts_with("text/event-stream"));
    let hello = read_until(&mut res, |t| t.contains("event: hello")).await;
    assert!(hello.contains("event: hello"), "{hello}");

    let id = s.send("app/greet", json!({"name": "Live"})).await;
    let text = read_until(&mut res, |t| t.contains("\"status\":\"Completed\"")).await;
    assert!(text.contains("event: event") && text.contains(&id), "{text}");
    assert!(text.contains("event: run") && text.contains("\"function_id\":\"greet\""), "{text}");
    assert!(text.contains("\"status\":\"Completed\""), "{text}");
}

#[tokio::test]
async fn the_stream_ends_on_shutdown() {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let s = serve(DevUiConfig::default().with_shutdown(stopped)).await;
    let mut res = s.http.get(s.url("/api/v1/stream")).send().await.expect("stream");
    read_until(&mut res, |t| t.contains("event: hello")).await;
    stop.send_replace(true);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match res.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.is_ok(),
            }
        }
    })
    .await;
    assert_eq!(ended.ok(), Some(true), "the stream ended cleanly");
}

// ---- pages, assets, guard ---------------------------------------------------------------------

#[tokio::test]
async fn pages_and_assets_are_served_with_a_strict_policy() {
    let s = serve(DevUiConfig::default()).await;
    for path in ["/", "/runs", "/runs/01ABC", "/events", "/events/x", "/functions", "/functions/greet", "/send"] {
        let res = s.http.get(s.url(path)).send().await.expect("page");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap_or_default().to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        let body = res.text().await.unwrap_or_default();
        assert!(body.contains("/assets/app.js"), "{path}");
    }
    for (path, kind) in [("/assets/app.js", "javascript"), ("/assets/app.css", "css"), ("/assets/favicon.svg", "svg")] {
        let res = s.http.get(s.url(path)).send().await.expect("asset");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()[CONTENT_TYPE].to_str().unwrap_or_default().contains(kind), "{path}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    let js = s.http.get(s.url("/assets/app.js")).send().await.expect("js").text().await.unwrap_or_default();
    assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML"), "payloads are rendered as text only");
}

#[tokio::test]
async fn a_token_guards_everything_but_static_assets() {
    let s = serve(DevUiConfig::default().with_token("s3cret-tøken")).await;
    for path in ["/api/v1/runs", "/v1/events", "/api/v1/stream", "/runs"] {
        let res = s.http.get(s.url(path)).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, body) = s.get("/api/v1/runs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap_or_default().contains("Bearer"));
    assert_eq!(
        s.http.post(s.url("/api/v1/events")).body("{}").send().await.expect("post").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.http.delete(s.url("/v1/runs/x")).send().await.expect("delete").status(), StatusCode::UNAUTHORIZED);

    let bearer = |t: &str| format!("Bearer {t}");
    let ok = s.http.get(s.url("/api/v1/runs")).header(AUTHORIZATION, bearer("s3cret-tøken")).send().await.expect("ok");
    assert_eq!(ok.status(), StatusCode::OK);
    let wrong = s.http.get(s.url("/api/v1/runs")).header(AUTHORIZATION, bearer("s3cret")).send().await.expect("wrong");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // Visiting a page with ?token= moves the token into a cookie and out of the address.
    let login = s.http.get(s.url("/runs?status=Failed&token=s3cret-t%C3%B8ken")).send().await.expect("login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()[LOCATION], "/runs?status=Failed");
    let cookie = login.headers()[SET_COOKIE].to_str().unwrap_or_default().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.starts_with("hookflow_token="));
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    for path in ["/runs", "/api/v1/runs", "/v1/events"] {
        let res = s.http.get(s.url(path)).header(COOKIE, pair.clone()).send().await.expect("with cookie");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let forged =
        s.http.get(s.url("/api/v1/runs")).header(COOKIE, "hookflow_token=s3cret").send().await.expect("forged");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let bad_login = s.http.get(s.url("/?token=guess")).send().await.expect("bad login");
    assert_eq!(bad_login.status(), StatusCode::UNAUTHORIZED);
    assert!(bad_login.headers().get(SET_COOKIE).is_none());
    let page = bad_login.text().await.unwrap_or_default();
    assert!(page.contains("<form") && !page.contains("guess"), "the login page reflects nothing");

    // The token in an API address is not a credential.
    let api_query = s.http.get(s.url("/api/v1/runs?token=s3cret-t%C3%B8ken")).send().await.expect("api query");
    assert_eq!(api_query.status(), StatusCode::UNAUTHORIZED);

    let css = s.http.get(s.url("/assets/app.css")).send().await.expect("css");
    assert_eq!(css.status(), StatusCode::OK, "the login page needs its stylesheet");
}

#[tokio::test]
async fn foreign_hosts_and_cross_origin_writes_are_refused() {
    let s = serve(DevUiConfig::default()).await;
    let rebound = s.http.get(s.url("/api/v1/runs")).header(HOST, "attacker.example").send().await.expect("rebound");
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    let local = s.http.get(s.url("/api/v1/runs")).header(HOST, "localhost:8288").send().await.expect("localhost");
    assert_eq!(local.status(), StatusCode::OK);

    let event = r#"{"name": "app/nap"}"#;
    let cross = s
        .http
        .post(s.url("/api/v1/events"))
        .header(ORIGIN, "https://attacker.example")
        .header(CONTENT_TYPE, "application/json")
        .body(event)
        .send()
        .await
        .expect("cross-origin");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let same = s
        .http
        .post(s.url("/api/v1/events"))
        .header(ORIGIN, s.base.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(event)
        .send()
        .await
        .expect("same-origin");
    assert_eq!(same.status(), StatusCode::OK);
    let fetch_site = s
        .http
        .post(s.url("/api/v1/events"))
        .header("sec-fetch-site", "cross-site")
        .body(event)
        .send()
        .await
        .expect("sec-fetch-site");
    assert_eq!(fetch_site.status(), StatusCode::FORBIDDEN);
    s.engine.settle().await;
    assert_eq!(s.ok("/api/v1/events").await["events"].as_array().map(Vec::len), Some(1), "only the same-origin send");

    let allowed = serve(DevUiConfig { allowed_hosts: vec!["dev.internal".into()], ..DevUiConfig::default() }).await;
    let res =
        allowed.http.get(allowed.url("/api/v1/runs")).header(HOST, "dev.internal:80").send().await.expect("allowed");
    assert_eq!(res.status(), StatusCode::OK);
}

// ---- a server for the browser tests -----------------------------------------------------------

#[inngest_fn(id = "sync-user-from-clerk", event = "clerk/user.created")]
async fn fixture_sync_user(event: Event<clerk::UserCreated>, step: Step) -> Result<String> {
    let id = event.data.id.clone();
    step.run("upsert-user", || async move { Ok(format!("stored {id}")) }).await?;
    Ok(event.data.id)
}

#[inngest_fn(id = "send-welcome-email", event = "clerk/user.created")]
async fn fixture_welcome(event: Event<clerk::UserCreated>, step: Step) -> Result<()> {
    let to = event.data.first_name.get().clone().unwrap_or_default();
    step.run("send-email", || async move { Ok(json!({ "to": to, "template": "welcome" })) }).await?;
    Ok(())
}

#[inngest_fn(
    id = "onboarding-emails",
    event = "clerk/user.created",
    cancel_on(event = "clerk/user.deleted", if = "event.data.id == async.data.id")
)]
async fn fixture_onboarding(event: Event<clerk::UserCreated>, step: Step) -> Result<()> {
    let id = event.data.id.clone();
    step.run("welcome-email", || async move { Ok(format!("welcome sent to {id}")) }).await?;
    step.sleep("wait-for-trial-offer", "3 days").await?;
    step.run("trial-offer-email", || async { Ok("trial offer sent".to_owned()) }).await?;
    Ok(())
}

/// Not in the example app: shows the retrying, failed and waiting states in the UI.
#[inngest_fn(id = "export-user-to-crm", event = "clerk/user.updated", retries = 2)]
async fn fixture_export(event: Event<clerk::UserUpdated>, step: Step) -> Result<()> {
    let id = event.data.id.clone();
    step.run("lookup", || async move { Ok(json!({ "user": id, "plan": "trial" })) }).await?;
    step.run("push-to-crm", || async {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused (os error 111)");
        Err::<(), _>(hookflow::Error::from(io))
    })
    .await?;
    Ok(())
}

#[inngest_fn(id = "await-verification", event = "clerk/user.updated")]
async fn fixture_await(step: Step) -> Result<Option<Value>> {
    let verified: Option<Event<Json>> = step
        .wait_for_event(
            "email-verified",
            hookflow::WaitFor::timeout("2d").event("clerk/email.created").matching("data.id"),
        )
        .await?;
    Ok(verified.map(|e| e.data))
}

/// Serves a Clerk-onboarding-like app with the dev UI until Ctrl-C, for `tests/browser/run.mjs`
/// while the example binary is not available:
/// `HOOKFLOW_FIXTURE_ADDR=127.0.0.1:8288 CLERK_WEBHOOK_SIGNING_SECRET=whsec_... cargo test -p
/// hookflow-tests --test devui_api -- --ignored --nocapture browser_fixture_server`.
#[tokio::test]
#[ignore = "a server for the browser tests: runs until interrupted"]
async fn browser_fixture_server() {
    let addr = std::env::var("HOOKFLOW_FIXTURE_ADDR").unwrap_or_else(|_| "127.0.0.1:8288".into());
    let secret = std::env::var("CLERK_WEBHOOK_SIGNING_SECRET")
        .unwrap_or_else(|_| "whsec_dGVzdF9zaWduaW5nX3NlY3JldF8zMl9jaGFyc19sb25n".into());
    let mut registry = Registry::empty();
    for def in
        [fixture_sync_user::DEF, fixture_welcome::DEF, fixture_onboarding::DEF, fixture_export::DEF, fixture_await::DEF]
    {
        registry.add(def).expect("unique ids");
    }
    let mut app =
        hookflow::App::with_registry("clerk-onboarding-fixture", Ok(registry)).clerk_webhooks(secret).dev_ui();
    if let Ok(token) = std::env::var("HOOKFLOW_UI_TOKEN") {
        app = app.ui_token(token);
    }
    let running = app.start().await.expect("app starts");
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("browser fixture listening on http://{}", listener.local_addr().expect("addr"));
    running.serve(listener, hookflow::shutdown_signal()).await.expect("serve");
}
