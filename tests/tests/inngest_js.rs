//! hookflow as the executor of an app written with the official Inngest TypeScript SDK (npm
//! `inngest`, pinned in `tests/inngest-js/package-lock.json`, installed by `tests/run`): a real
//! Node process serves `tests/inngest-js/app.mjs`; hookflow asks it to sync (`PUT`, answered by
//! its `POST /fn/register`), takes an event on its event API, and runs the app's function, with
//! `step.run`, `step.sleep` and `step.waitForEvent`, through the engine and store, on the test
//! clock, to completion with memoized steps run once. In both of the SDK's modes: checkpointing
//! (its default: steps reported to `/v1/checkpoint/{run}/async` as they run) and plain call
//! requests.

use std::time::Duration;

use hookflow::store::{RunQuery, RunStatus, StepKind};
use hookflow_tests::executor::Executor;
use serde_json::{json, Value};
use tokio::process::Child;

const START_MS: i64 = 1_700_000_000_000;
const FUNCTION: &str = "js-shop-onboarding";

/// The Node app, on a free port; answers its serve URL.
async fn node_app(dev_server: &str, checkpointing: bool) -> (Child, String) {
    node_app_with(dev_server, checkpointing, None).await
}

/// With `key`, the app runs in cloud mode against `dev_server` as its Inngest server (a
/// self-hosted `inngest start`): it verifies every request with the key and sends its hash.
async fn node_app_with(dev_server: &str, checkpointing: bool, key: Option<&str>) -> (Child, String) {
    hookflow_tests::node::start("app.mjs", |command| {
        match key {
            Some(key) => command
                .env("INNGEST_DEV", "0")
                .env("INNGEST_BASE_URL", dev_server)
                .env("INNGEST_SIGNING_KEY", key)
                .env("INNGEST_EVENT_KEY", "test-event-key"),
            None => command.env("INNGEST_DEV", dev_server),
        };
        command.env("CHECKPOINTING", if checkpointing { "1" } else { "0" }).env("INNGEST_LOG_LEVEL", "warn");
    })
    .await
}

/// The executor, with the dev UI (for the run detail's attempts).
struct DevServer(Executor);

impl std::ops::Deref for DevServer {
    type Target = Executor;
    fn deref(&self) -> &Executor {
        &self.0
    }
}

async fn dev_server(checkpointing: bool) -> DevServer {
    let dev = Executor::start_with(START_MS, None, |app| app.dev_ui().ui_token("")).await;
    dev.engine.dispatcher().set_checkpointing(checkpointing);
    DevServer(dev)
}

impl DevServer {
    async fn send(&self, event: Value) {
        self.0.send(&event).await;
    }

    async fn only_run(&self) -> hookflow::store::RunRecord {
        self.only_run_of(FUNCTION).await
    }

    async fn only_run_of(&self, function: &str) -> hookflow::store::RunRecord {
        let query = RunQuery { function_id: Some(function.into()), ..RunQuery::default() };
        let runs = self.engine.store().queries().expect("queries").list_runs(&query).await.expect("runs");
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs.into_iter().next().expect("a run")
    }

    /// Waits until the run's status is `status` (the app answers over real HTTP).
    async fn wait_for(&self, status: RunStatus) -> hookflow::store::RunRecord {
        self.wait_for_run_of(FUNCTION, status).await
    }

    async fn wait_for_run_of(&self, function: &str, status: RunStatus) -> hookflow::store::RunRecord {
        for _ in 0..200 {
            self.engine.settle().await;
            let run = self.only_run_of(function).await;
            if run.status == status {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the run of {function} never became {status:?}: {:?}", self.only_run_of(function).await)
    }
}

async fn runs_to_completion(checkpointing: bool) {
    let dev = dev_server(checkpointing).await;
    let (_node, url) = node_app(&dev.base, checkpointing).await;

    dev.apps.sync(&url).await.expect("the app syncs");
    let apps = dev.apps.list();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!((apps[0].id.as_str(), apps[0].url.as_str()), ("js-shop", url.as_str()));
    assert_eq!(apps[0].functions.len(), 6, "{:?}", apps[0].functions);
    assert_eq!(apps[0].functions[0], FUNCTION);
    assert!(apps[0].sdk.starts_with("js:v4."), "{}", apps[0].sdk);
    let spec = dev.engine.functions().get(FUNCTION).cloned().expect("a remote spec");
    assert_eq!(spec.display_name(), "Onboarding (TypeScript)");

    dev.send(json!({"name": "shop/user.created", "data": {"id": "u1"}})).await;
    let run = dev.wait_for(RunStatus::Sleeping).await;
    let journal = dev.engine.store().journal(&run.id).await.expect("journal");
    assert_eq!(journal.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["welcome-email"]);

    // An hour later the sleep ends; the run waits for the approval.
    dev.clock.advance(Duration::from_secs(3600));
    dev.wait_for(RunStatus::Waiting).await;
    // Another user's approval does not match; this user's does.
    dev.send(json!({"name": "shop/approved", "data": {"id": "u2", "by": "eve"}})).await;
    dev.engine.settle().await;
    assert_eq!(dev.only_run().await.status, RunStatus::Waiting);
    dev.send(json!({"name": "shop/approved", "data": {"id": "u1", "by": "ada"}})).await;

    let done = dev.wait_for(RunStatus::Completed).await;
    assert_eq!(
        done.output,
        Some(json!({
            "welcome": "welcome sent to u1",
            "offer": "offer sent",
            "approvedBy": "ada",
            // Each step body ran once in the Node process: memoized steps were replayed.
            "ran": {"welcome-email": 1, "offer-email": 1},
        }))
    );
    let journal = dev.engine.store().journal(&done.id).await.expect("journal");
    let steps: Vec<(&str, StepKind)> = journal.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(
        steps,
        vec![
            ("welcome-email", StepKind::Run),
            ("wait-a-bit", StepKind::Sleep),
            ("approval", StepKind::Wait),
            ("offer-email", StepKind::Run),
        ]
    );
    assert_eq!(journal[0].hash, hookflow::hash_step_id("welcome-email"), "the SDK's hashes are the journal's");
    let checkpointed = dev.engine.dispatcher().checkpointed();
    match checkpointing {
        true => assert!(checkpointed >= 2, "the SDK reported its steps to /v1/checkpoint ({checkpointed})"),
        false => assert_eq!(checkpointed, 0, "without ctx.fn_id the SDK does not checkpoint"),
    }
}

#[tokio::test]
async fn a_typescript_sdk_app_runs_to_completion_with_memoized_steps() {
    runs_to_completion(false).await;
}

#[tokio::test]
async fn a_checkpointing_typescript_sdk_app_runs_to_completion_with_memoized_steps() {
    runs_to_completion(true).await;
}

async fn retries_parallel_steps_send_event_invoke_and_cancel(checkpointing: bool) {
    let dev = dev_server(checkpointing).await;
    dev.engine.dispatcher().set_retry_interval(Some(Duration::from_secs(1)));
    let (_node, url) = node_app(&dev.base, checkpointing).await;
    dev.apps.sync(&url).await.expect("the app syncs");

    // A step that fails twice: retried after each back-off, with its attempt, then succeeds.
    dev.send(json!({"name": "shop/retry", "data": {}})).await;
    let run = dev.wait_for_run_of("js-shop-retrying", RunStatus::Sleeping).await;
    assert_eq!(run.state.step_attempts.values().copied().collect::<Vec<_>>(), vec![1], "{run:?}");
    for _ in 0..2 {
        dev.clock.advance(Duration::from_secs(1));
        dev.engine.settle().await;
    }
    let done = dev.wait_for_run_of("js-shop-retrying", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!({"value": 3})), "the third attempt succeeded");
    let journal = dev.engine.store().journal(&done.id).await.expect("journal");
    assert_eq!((journal[0].name.as_str(), journal[0].attempts), ("flaky", 3), "{journal:?}");
    // Each failed attempt is kept with its error and times, as for an in-process step.
    let detail: Value =
        reqwest::get(format!("{}/api/v1/runs/{}", dev.base, done.id)).await.expect("GET").json().await.expect("json");
    let flaky = detail["steps"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "flaky")).expect("the step");
    let log = flaky["attempt_log"].as_array().expect("an attempt log");
    let seen: Vec<(u64, &str, Option<&str>)> = log
        .iter()
        .map(|a| {
            (a["attempt"].as_u64().unwrap_or(0), a["status"].as_str().unwrap_or(""), a["error"]["message"].as_str())
        })
        .collect();
    assert_eq!(
        seen,
        vec![(1, "failed", Some("attempt 1 failed")), (2, "failed", Some("attempt 2 failed")), (3, "completed", None)],
        "{flaky}"
    );
    for failed in &log[..2] {
        assert!(failed["started_at"].as_i64().is_some_and(|t| t >= START_MS), "{failed}");
        assert!(failed["duration_ms"].as_i64().is_some_and(|d| d >= 0), "{failed}");
    }
    assert_eq!(log[1]["started_at"].as_i64(), Some(START_MS + 1000), "the second attempt began after the back-off");
    assert_eq!(flaky["retries"], 2, "{flaky}");

    // Parallel steps, a sent event and an invoke of another function of the app.
    dev.send(json!({"name": "shop/fanout", "data": {}})).await;
    let done = dev.wait_for_run_of("js-shop-fanout", RunStatus::Completed).await;
    assert_eq!(done.output, Some(json!({"sum": 3, "sent": 1, "doubled": 6})));
    let child = dev.only_run_of("js-shop-double").await;
    assert_eq!((child.status, child.output), (RunStatus::Completed, Some(json!(6))), "the invoked run");
    let query = hookflow::store::EventQuery { name: Some("shop/notified".into()), ..Default::default() };
    let sent = dev.engine.store().queries().expect("queries").list_events(&query).await.expect("events");
    assert_eq!(sent.len(), 1, "the step's event reached hookflow's event API once");
    assert_eq!(serde_json::to_value(&sent[0].data).expect("json"), json!({"sum": 3}));

    // cancelOn: a matching event cancels the sleeping run.
    dev.send(json!({"name": "shop/cancellable", "data": {"id": "c1"}})).await;
    dev.wait_for_run_of("js-shop-cancellable", RunStatus::Sleeping).await;
    dev.send(json!({"name": "shop/cancel", "data": {"id": "other"}})).await;
    dev.engine.settle().await;
    assert_eq!(dev.only_run_of("js-shop-cancellable").await.status, RunStatus::Sleeping, "another id does not match");
    dev.send(json!({"name": "shop/cancel", "data": {"id": "c1"}})).await;
    dev.wait_for_run_of("js-shop-cancellable", RunStatus::Cancelled).await;
}

#[tokio::test]
async fn typescript_retries_parallel_steps_send_event_invoke_and_cancel() {
    retries_parallel_steps_send_event_invoke_and_cancel(false).await;
}

#[tokio::test]
async fn typescript_retries_parallel_steps_send_event_invoke_and_cancel_checkpointing() {
    retries_parallel_steps_send_event_invoke_and_cancel(true).await;
}

#[tokio::test]
async fn a_typescript_app_in_cloud_mode_verifies_hookflow_s_signatures() {
    const KEY: &str = "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";
    for checkpointing in [false, true] {
        let dev = dev_server(checkpointing).await;
        dev.engine.dispatcher().set_signing_keys(hookflow::protocol::SigningKey::new(KEY), None);
        let (_node, url) = node_app_with(&dev.base, checkpointing, Some(KEY)).await;
        // The sync request is signed; the app's registration carries the hashed key.
        dev.apps.sync(&url).await.expect("the app syncs");
        dev.send(json!({"name": "shop/hello", "data": {"name": "ada"}})).await;
        let done = dev.wait_for_run_of("js-shop-hello", RunStatus::Completed).await;
        assert_eq!(done.output, Some(json!({"greeting": "hello ada"})), "checkpointing: {checkpointing}");

        // An executor with another key is refused by the app (401), and says so.
        dev.engine.dispatcher().set_signing_keys(hookflow::protocol::SigningKey::new("signkey-test-00ff"), None);
        dev.send(json!({"name": "shop/retry", "data": {}})).await;
        dev.engine.settle().await;
        let refused = dev.only_run_of("js-shop-retrying").await;
        let error = refused.error.as_ref().expect("the attempt failed");
        assert!(error.message.contains("refused the call request (401"), "{}", error.message);
        assert!(dev.apps.sync(&url).await.is_err(), "a sync signed with another key is refused");
    }
}

// ---- apps that are down, answer garbage, or register nonsense ---------------------------------

/// A registration as an SDK posts it, for a function served at `url`.
fn registration(app: &str, url: &str, event: &str) -> Value {
    json!({
        "url": url,
        "deployType": "ping",
        "appName": app,
        "sdk": "js:v4.24.0",
        "v": "0.1",
        "functions": [{
            "id": format!("{app}-f"),
            "name": "f",
            "triggers": [{"event": event}],
            "steps": {"step": {"id": "step", "name": "step",
                "runtime": {"type": "http", "url": format!("{url}?fnId={app}-f&stepId=step")},
                "retries": {"attempts": 1}}},
        }],
    })
}

async fn register(dev: &DevServer, body: &Value) -> (u16, Value) {
    let response =
        reqwest::Client::new().post(format!("{}/fn/register", dev.base)).json(body).send().await.expect("answer");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_app_that_is_down_or_answers_garbage_fails_the_attempt_clearly_and_is_retried() {
    let dev = dev_server(false).await;
    // Down: nothing listens on the port.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let down = format!("http://{}/api/inngest", closed.local_addr().expect("addr"));
    drop(closed);
    // Garbage: a web server that is not an Inngest SDK.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let garbage = format!("http://{}/api/inngest", listener.local_addr().expect("addr"));
    let site = axum::Router::new().fallback(|| async { "<html>hello</html>" });
    tokio::spawn(async move { axum::serve(listener, site).await });

    assert_eq!(register(&dev, &registration("down", &down, "x/down")).await.0, 200);
    assert_eq!(register(&dev, &registration("garbage", &garbage, "x/garbage")).await.0, 200);
    dev.send(json!({"name": "x/down", "data": {}})).await;
    dev.send(json!({"name": "x/garbage", "data": {}})).await;
    dev.engine.settle().await;

    for (function, says) in [("down-f", "could not reach app `down`"), ("garbage-f", "without an X-Inngest-SDK header")]
    {
        let query = RunQuery { function_id: Some(function.into()), ..RunQuery::default() };
        let runs = dev.engine.store().queries().expect("queries").list_runs(&query).await.expect("runs");
        let run = runs.first().unwrap_or_else(|| panic!("a run of {function}"));
        let error = run.error.as_ref().unwrap_or_else(|| panic!("{function} failed its attempt: {run:?}"));
        assert!(error.message.contains(says), "{function}: {}", error.message);
        assert!(
            matches!(run.status, RunStatus::Queued | RunStatus::Sleeping),
            "{function} is retried, not failed: {:?}",
            run.status
        );
        assert!(run.wake_at.is_some_and(|at| at > START_MS), "{function} is retried later, after a back-off");
    }
}

/// Many runs due at once reach one app at most 64 requests at a time (an SDK app is one
/// process: a flood of connections overflows its accept queue and fails attempts), and every
/// run still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_gets_a_bounded_number_of_call_requests_at_once_and_every_run_completes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[derive(Default)]
    struct InFlight {
        now: AtomicUsize,
        max: AtomicUsize,
        calls: AtomicUsize,
    }
    let dev = dev_server(false).await;
    let seen = Arc::new(InFlight::default());
    let counter = seen.clone();
    // An SDK that takes 20 ms per call request and completes the function.
    let app = axum::Router::new().fallback(move || {
        let seen = counter.clone();
        async move {
            let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
            seen.max.fetch_max(now, Ordering::SeqCst);
            seen.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            seen.now.fetch_sub(1, Ordering::SeqCst);
            ([("x-inngest-sdk", "js:v4.24.0"), ("content-type", "application/json")], "\"done\"")
        }
    });
    let url = hookflow_tests::executor::serve_app(app).await;
    assert_eq!(register(&dev, &registration("busy", &url, "x/busy")).await.0, 200);
    let events: Vec<Value> = (0..300).map(|i| json!({"name": "x/busy", "data": {"i": i}})).collect();
    let response =
        reqwest::Client::new().post(format!("{}/e/dev", dev.base)).json(&events).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    dev.engine.settle().await;
    let query = RunQuery { function_id: Some("busy-f".into()), limit: 1_000, ..RunQuery::default() };
    let runs = dev.engine.store().queries().expect("queries").list_runs(&query).await.expect("runs");
    assert_eq!(runs.len(), 300);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed && r.attempt == 0), "every run completed first time");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 300, "one call request per run");
    let max = seen.max.load(Ordering::SeqCst);
    assert!(max <= 64, "at most 64 call requests in flight to one app, saw {max}");
    assert!(max > 1, "requests still go out side by side, saw {max}");
}

#[tokio::test]
async fn bad_registrations_get_a_400_saying_what_is_wrong_and_change_nothing() {
    let dev = dev_server(false).await;
    let ok = registration("good", "http://127.0.0.1:9/api/inngest", "x/good");
    let cases = [
        (json!({"functions": ok["functions"]}), "appName"),
        (json!({"appName": "a", "functions": []}), "at least one function"),
        (json!({"appName": "a", "functions": [{"id": "a-f", "triggers": []}]}), "triggers"),
        (
            json!({"appName": "a", "functions": [{"id": "a-f", "triggers": [{"event": "x"}], "steps": {"s": {"runtime": {"url": "ftp://x"}}}}]}),
            "http://",
        ),
    ];
    for (body, says) in cases {
        let (status, answer) = register(&dev, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["status"], 400);
        assert!(answer["error"].as_str().unwrap_or("").contains(says), "{answer} should say {says}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/fn/register", dev.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    assert!(dev.engine.functions().is_empty(), "nothing was registered");

    // A good one registers; sending it again is not a modification; a re-sync replaces the app's functions.
    let (status, answer) = register(&dev, &ok).await;
    assert_eq!((status, answer["ok"].clone(), answer["modified"].clone()), (200, json!(true), json!(true)));
    assert_eq!(register(&dev, &ok).await.1["modified"], false);
    let mut renamed = ok.clone();
    renamed["functions"][0]["id"] = json!("good-g");
    assert_eq!(register(&dev, &renamed).await.1["modified"], true);
    let ids: Vec<String> = dev.engine.functions().iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, vec!["good-g".to_owned()]);
}
