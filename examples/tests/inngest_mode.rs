//! `clerk-onboarding --inngest` under `hookflow dev` as its Inngest server, both real processes
//! on 127.0.0.1 (Inngest's own server binary cannot be downloaded here; `hookflow dev` is its
//! drop-in): the example syncs at start-up, a Svix-signed Clerk webhook posted to the example
//! is verified there and forwarded to the server's event API, and the server runs the
//! functions through call requests to the example's `/api/inngest`, so the steps' effects (the
//! app database, the outbox) are the example's while the runs and steps are the server's
//! (its REST API). In dev mode and in cloud mode (a signing key on both sides); a server that
//! is not there yet is logged and tried again; a malformed `INNGEST_DEV` stops the example
//! with a message naming it; `App::send` in Inngest mode reaches the server's event API.
//!
//! The `hookflow` binary is the one `cargo test --workspace` builds beside this package's.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const SIGNING_KEY: &str = "signkey-test-8a3f0c1d2e4b5a6978f0e1d2c3b4a5968778695a4b3c2d1e0f1e2d3c4b5a6978";

/// A process whose stdout lines are collected; killed when dropped.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    fn spawn(command: &mut Command) -> Process {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Process { child, lines }
    }

    /// Waits for a line for which `pick` answers something.
    fn wait_line<T>(&mut self, what: &str, pick: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self.lines.lock().expect("lines").iter().find_map(|l| pick(l)) {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited ({status}) before printing {what}:\n{}", self.output());
            }
            assert!(Instant::now() < deadline, "no {what} in:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }
}

/// The `hookflow` CLI, built beside the example.
fn hookflow_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_clerk-onboarding")).with_file_name("hookflow");
    assert!(
        bin.exists(),
        "{} is missing: `cargo test --workspace` builds it (or run `cargo build -p hookflow --bin hookflow`)",
        bin.display()
    );
    bin
}

/// A port nothing listens on (just now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `hookflow dev` on `port` (0: any) in `dir`; answers it and its base URL.
fn hookflow_dev(dir: &Path, port: u16, args: &[&str]) -> (Process, String) {
    let mut command = Command::new(hookflow_bin());
    command
        .current_dir(dir)
        .args(["dev", "--db", "memory:", "--port", &port.to_string()])
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("HOOKFLOW_ADDR")
        .env_remove("HOOKFLOW_UI_TOKEN")
        .env_remove("INNGEST_EVENT_KEY")
        .env_remove("CLERK_WEBHOOK_SIGNING_SECRET");
    let mut process = Process::spawn(&mut command);
    let base = process.wait_line("the dev server's address", |line| {
        let rest = line.split(" listening on ").nth(1)?;
        Some(rest.split_whitespace().next()?.to_owned())
    });
    (process, base)
}

/// `clerk-onboarding --inngest` in `dir`, with Inngest's variables `vars`.
fn example(dir: &Path, vars: &[(&str, &str)]) -> Process {
    let mut command = common::command(dir, "1s");
    command.arg("--inngest").env("RUST_LOG", "info");
    for var in [
        "INNGEST_DEV",
        "INNGEST_BASE_URL",
        "INNGEST_API_BASE_URL",
        "INNGEST_EVENT_API_BASE_URL",
        "INNGEST_SIGNING_KEY",
        "INNGEST_SIGNING_KEY_FALLBACK",
        "INNGEST_SERVE_ORIGIN",
        "INNGEST_SERVE_HOST",
        "INNGEST_SERVE_PATH",
        "INNGEST_ENV",
    ] {
        command.env_remove(var);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    Process::spawn(&mut command)
}

/// The example's base URL, from its banner's serve line.
fn serve_base(example: &mut Process) -> String {
    example.wait_line("the `Inngest serve` line", |line| {
        let url = line.trim().strip_prefix("Inngest serve")?.split_whitespace().next()?;
        Some(url.strip_suffix("/api/inngest")?.to_owned())
    })
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    response.json().await.expect("JSON")
}

/// Waits until the server lists the example's five functions (composite ids).
async fn wait_synced(client: &reqwest::Client, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = get(client, &format!("{dev}/api/v1/functions")).await;
        let mut ids: Vec<String> = body["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        if ids.len() == 5 {
            assert_eq!(
                ids,
                [
                    "clerk-onboarding-delete-user-from-clerk",
                    "clerk-onboarding-onboarding-emails",
                    "clerk-onboarding-send-welcome-email",
                    "clerk-onboarding-sync-user-from-clerk",
                    "clerk-onboarding-update-user-from-clerk",
                ]
            );
            return;
        }
        assert!(Instant::now() < deadline, "the example's functions did not sync: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the runs of `event` on the server are `expected` (function id → status); answers them.
async fn wait_runs(client: &reqwest::Client, dev: &str, event: &str, expected: &[(&str, &str)]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = get(client, &format!("{dev}/api/v1/runs?event={event}")).await;
        let runs = body["runs"].as_array().cloned().unwrap_or_default();
        let mut seen: Vec<(String, String)> = runs
            .iter()
            .map(|r| {
                (
                    r["function_id"].as_str().unwrap_or_default().to_owned(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        seen.sort();
        let want: Vec<(String, String)> = expected.iter().map(|(f, s)| ((*f).to_owned(), (*s).to_owned())).collect();
        if seen == want {
            return runs;
        }
        assert!(Instant::now() < deadline, "runs of {event}: {seen:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The names of a run's steps, as the server's REST API shows them.
async fn step_names(client: &reqwest::Client, dev: &str, run: &Value) -> Vec<String> {
    let id = run["id"].as_str().expect("run id");
    let detail = get(client, &format!("{dev}/api/v1/runs/{id}")).await;
    detail["steps"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str().map(str::to_owned)).collect()
}

const COMPLETED: [(&str, &str); 3] = [
    ("clerk-onboarding-onboarding-emails", "Completed"),
    ("clerk-onboarding-send-welcome-email", "Completed"),
    ("clerk-onboarding-sync-user-from-clerk", "Completed"),
];

/// A signed `user.created` sent to the example runs its three functions on the server, with
/// the example's steps executed by the example.
async fn sign_up_runs_on_the_server(client: &reqwest::Client, dir: &Path, app: &str, dev: &str) {
    let event = common::send(app, "user.created", "user_ann", Some("ann@example.com")).await;
    let stored = get(client, &format!("{dev}/api/v1/events/{event}")).await;
    assert_eq!(stored["event"]["name"].as_str().or(stored["name"].as_str()), Some("clerk/user.created"), "{stored}");
    let runs = wait_runs(client, dev, &event, &COMPLETED).await;
    let by_function = |id: &str| runs.iter().find(|r| r["function_id"] == id).expect("run").clone();
    assert_eq!(step_names(client, dev, &by_function("clerk-onboarding-sync-user-from-clerk")).await, ["upsert-user"]);
    assert_eq!(
        step_names(client, dev, &by_function("clerk-onboarding-send-welcome-email")).await,
        ["send-welcome-email"]
    );
    assert_eq!(
        step_names(client, dev, &by_function("clerk-onboarding-onboarding-emails")).await,
        ["wait-3-days", "trial-offer-email"]
    );
    // The steps ran in the example: its database and its outbox.
    assert_eq!(
        common::users(dir),
        vec![("user_ann".to_owned(), Some("ann@example.com".to_owned()), Some("John".to_owned()))]
    );
    let mails = common::outbox(dir);
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert!(mails.iter().any(|m| m.contains("Subject: Welcome")), "{mails:#?}");
    assert!(mails.iter().any(|m| m.contains("trial")), "{mails:#?}");
}

#[tokio::test]
async fn the_example_runs_under_hookflow_dev_in_dev_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let (_dev, dev) = hookflow_dev(dir.path(), 0, &[]);
    let mut example = example(dir.path(), &[("INNGEST_DEV", &dev)]);
    let app = serve_base(&mut example);
    // No `-u`: the example synced by itself, at start-up.
    wait_synced(&client, &dev).await;
    example.wait_line("the sync log line", |l| l.contains("synced with the Inngest dev server").then_some(()));
    assert!(!dir.path().join("hookflow.db").exists(), "Inngest mode opened the engine's store");

    // The dev server's introspection of the example, as Inngest's dev server sees it.
    let introspection = get(&client, &format!("{app}/api/inngest")).await;
    assert_eq!((introspection["mode"].as_str(), introspection["function_count"].as_u64()), (Some("dev"), Some(5)));

    sign_up_runs_on_the_server(&client, dir.path(), &app, &dev).await;

    // A webhook with a bad signature is refused by the example and reaches nobody.
    let response = client
        .post(format!("{app}/webhooks/clerk"))
        .header("svix-id", "msg_forged")
        .header("svix-timestamp", chrono_now().to_string())
        .header("svix-signature", "v1,AAAA")
        .body(r#"{"type":"user.created","data":{"id":"user_eve"}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let events = get(&client, &format!("{dev}/api/v1/events")).await;
    assert_eq!(events["events"].as_array().map(Vec::len), Some(1), "{events}");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn the_example_runs_under_hookflow_dev_in_cloud_mode_with_a_signing_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let (_dev, dev) = hookflow_dev(dir.path(), 0, &["--signing-key", SIGNING_KEY]);
    let mut example = example(
        dir.path(),
        &[
            ("INNGEST_DEV", "0"),
            ("INNGEST_BASE_URL", &dev),
            ("INNGEST_SIGNING_KEY", SIGNING_KEY),
            ("INNGEST_EVENT_KEY", "ek"),
        ],
    );
    let app = serve_base(&mut example);
    wait_synced(&client, &dev).await;

    // In cloud mode the example answers only signed requests.
    let unsigned = client.get(format!("{app}/api/inngest")).send().await.expect("get");
    assert_eq!(unsigned.status(), 401);
    let unsigned = client
        .post(format!("{app}/api/inngest?fnId=clerk-onboarding-sync-user-from-clerk&stepId=step"))
        .body(
            json!({"ctx": {"run_id": "r"}, "event": {"name": "clerk/user.created", "data": {}}, "steps": {}})
                .to_string(),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);

    sign_up_runs_on_the_server(&client, dir.path(), &app, &dev).await;
}

#[tokio::test]
async fn a_wrong_signing_key_is_refused_at_sync_and_logged_without_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let (_dev, dev) = hookflow_dev(dir.path(), 0, &["--signing-key", SIGNING_KEY]);
    let wrong = "signkey-test-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let mut example = example(dir.path(), &[("INNGEST_BASE_URL", &dev), ("INNGEST_SIGNING_KEY", wrong)]);
    let app = serve_base(&mut example);
    let line = example.wait_line("the refused sync", |l| l.contains("could not sync").then(|| l.to_owned()));
    assert!(line.contains("refused the sync (401") && line.contains("INNGEST_SIGNING_KEY"), "{line}");
    assert_eq!(client.get(format!("{app}/health")).send().await.expect("health").status(), 200);
    let body = get(&client, &format!("{dev}/api/v1/functions")).await;
    assert_eq!(body["functions"].as_array().map(Vec::len), Some(0), "{body}");
}

#[tokio::test]
async fn a_server_not_there_yet_is_logged_and_tried_again_until_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let port = free_port();
    let missing = format!("http://127.0.0.1:{port}");
    let mut example = example(dir.path(), &[("INNGEST_DEV", &missing)]);
    let app = serve_base(&mut example);
    let line = example.wait_line("the failed sync", |l| l.contains("could not sync").then(|| l.to_owned()));
    assert!(line.contains(&format!("the Inngest dev server at {missing}")), "{line}");
    assert!(line.contains("INNGEST_DEV") && line.contains("trying again in"), "{line}");
    // Still serving, and still trying.
    assert_eq!(client.get(format!("{app}/health")).send().await.expect("health").status(), 200);
    example.wait_line("a second attempt", |l| (l.contains("could not sync") && l.contains("attempt=2")).then_some(()));

    let (_dev, dev) = hookflow_dev(dir.path(), port, &[]);
    assert_eq!(dev, missing);
    wait_synced(&client, &dev).await;
    example.wait_line("the late sync", |l| l.contains("synced with the Inngest dev server").then_some(()));
    sign_up_runs_on_the_server(&client, dir.path(), &app, &dev).await;
}

#[test]
fn a_malformed_inngest_dev_or_a_missing_key_stops_the_example_with_a_message_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |vars: &[(&str, &str)]| {
        let mut command = common::command(dir.path(), "1s");
        command
            .arg("--inngest")
            .env_remove("INNGEST_DEV")
            .env_remove("INNGEST_SIGNING_KEY")
            .env_remove("INNGEST_BASE_URL");
        for (name, value) in vars {
            command.env(name, value);
        }
        let output = command.output().expect("run");
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (code, stderr) = run(&[("INNGEST_DEV", "http://")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("INNGEST_DEV `http://` has no host"), "{stderr}");
    // Cloud mode (no INNGEST_DEV) without a signing key says what to set.
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("INNGEST_SIGNING_KEY") && stderr.contains("INNGEST_DEV=1"), "{stderr}");
}

#[tokio::test]
async fn app_send_in_inngest_mode_reaches_the_server_s_event_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let (_dev, dev) = hookflow_dev(dir.path(), 0, &[]);
    let app = hookflow::App::with_registry("sender", Ok(hookflow::Registry::empty()))
        .serve_to_inngest(hookflow::protocol::InngestConfig::dev(&dev))
        .start()
        .await
        .expect("start");
    let event: hookflow::RawEvent =
        serde_json::from_value(json!({"name": "shop/order.placed", "data": {"order": 42}})).expect("event");
    let ids = app.send([event]).await.expect("send");
    assert_eq!(ids.len(), 1);
    let stored = get(&client, &format!("{dev}/api/v1/events/{}", ids[0])).await;
    assert!(stored.to_string().contains("shop/order.placed") && stored.to_string().contains("42"), "{stored}");
    // Nothing stays in the app's own engine.
    assert!(app.engine().store().events(&ids).await.expect("events").is_empty());
    // send_receipt too goes to the server (which keeps what skipped).
    let event: hookflow::RawEvent =
        serde_json::from_value(json!({"name": "shop/order.paid", "data": {"order": 43}})).expect("event");
    let receipt = app.send_receipt([event]).await.expect("send");
    assert_eq!((receipt.ids.len(), receipt.skipped.len()), (1, 0));
    let stored = get(&client, &format!("{dev}/api/v1/events/{}", receipt.ids[0])).await;
    assert!(stored.to_string().contains("shop/order.paid"), "{stored}");

    // A server that is not there is an error to the caller, not a hang or a panic.
    let gone = hookflow::App::with_registry("sender", Ok(hookflow::Registry::empty()))
        .serve_to_inngest(hookflow::protocol::InngestConfig::dev(&format!("http://127.0.0.1:{}", free_port())))
        .start()
        .await
        .expect("start");
    let event: hookflow::RawEvent = serde_json::from_value(json!({"name": "shop/x", "data": {}})).expect("event");
    let error = gone.send([event]).await.expect_err("no server");
    assert!(error.to_string().contains("sending events to http://127.0.0.1:"), "{error}");
}
