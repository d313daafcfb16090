//! The `hookflow` binary as a user runs it: `hookflow dev`'s flags, what it says about itself,
//! and its logs when they go to a pipe.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use hookflow::cli::DevArgs;

/// A running `hookflow`; killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hookflow(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookflow"));
    command
        .current_dir(dir)
        .env_remove("HOOKFLOW_ADDR")
        .env_remove("HOOKFLOW_DATABASE_URL")
        .env_remove("HOOKFLOW_UI_TOKEN")
        .env_remove("CLERK_WEBHOOK_SIGNING_SECRET")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    command
}

#[test]
fn dev_help_lists_port_and_host_as_inngest_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = hookflow(dir.path()).args(["dev", "--help"]).output().expect("run hookflow");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["-p, --port <PORT>", "--host <HOST>", "--addr <ADDR>", "[env: HOOKFLOW_ADDR=]", "--db <DB>"] {
        assert!(help.contains(flag), "`{flag}` missing from:\n{help}");
    }
    assert!(help.to_lowercase().contains("runs no functions of its own"), "says what it is for:\n{help}");
    for flag in ["-u, --sdk-url <URL>", "--no-discovery", "--no-poll"] {
        assert!(help.contains(flag), "Inngest's `dev` flag `{flag}` missing from:\n{help}");
    }
}

#[test]
fn dev_listens_where_port_and_host_say_and_logs_plain_text_into_a_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `--port` overrides the port of HOOKFLOW_ADDR (here one nothing may listen on).
    let child = hookflow(dir.path())
        .args(["dev", "--port", "0", "--host", "127.0.0.1", "--db", "memory:"])
        .env("HOOKFLOW_ADDR", "127.0.0.2:1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hookflow dev");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut url = None;
    let mut log_line = None;
    while url.is_none() || log_line.is_none() {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) else {
            let mut stderr = String::new();
            if let Some(mut e) = running.0.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            panic!("hookflow dev printed only:\n{}\nstderr: {stderr}", seen.join("\n"));
        };
        if let Some((_, rest)) = line.split_once(" listening on ") {
            url = rest.split_whitespace().next().map(|u| u.trim_end_matches('/').to_owned());
        }
        if line.contains("hookflow listening") {
            log_line = Some(line.clone());
        }
        seen.push(line);
    }
    let url = url.expect("url");
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0") && !url.ends_with(":1"), "{url}");
    let banner = seen.join("\n");
    assert!(banner.contains("runs no functions of its own"), "the banner says what `hookflow dev` is for:\n{banner}");
    let log_line = log_line.expect("log line");
    assert!(!log_line.contains('\u{1b}'), "ANSI escapes in piped logs: {log_line:?}");
    assert!(log_line.contains("INFO"), "{log_line}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let info: serde_json::Value = runtime.block_on(async {
        reqwest::get(format!("{url}/api/v1/info")).await.expect("GET /api/v1/info").json().await.expect("JSON")
    });
    assert_eq!(info["app_id"], "hookflow-dev");
    assert_eq!(info["functions"], 0);
}

#[derive(Parser)]
struct Dev {
    #[command(flatten)]
    args: DevArgs,
}

fn listen_addr(argv: &[&str]) -> Result<String, String> {
    let dev =
        Dev::try_parse_from(std::iter::once("hookflow").chain(argv.iter().copied())).map_err(|e| e.to_string())?;
    dev.args.listen_addr().map_err(|e| e.to_string())
}

#[test]
fn host_and_port_override_the_parts_of_addr() {
    assert_eq!(listen_addr(&[]).as_deref(), Ok("127.0.0.1:8288"));
    assert_eq!(listen_addr(&["-p", "9000"]).as_deref(), Ok("127.0.0.1:9000"));
    assert_eq!(listen_addr(&["--port", "9000", "--host", "0.0.0.0"]).as_deref(), Ok("0.0.0.0:9000"));
    assert_eq!(listen_addr(&["--host", "::1"]).as_deref(), Ok("[::1]:8288"));
    assert_eq!(listen_addr(&["--addr", "[::1]:7000", "-p", "7001"]).as_deref(), Ok("[::1]:7001"));
    assert_eq!(listen_addr(&["--addr", "0.0.0.0:7000", "--host", "localhost"]).as_deref(), Ok("localhost:7000"));

    let error = listen_addr(&["--addr", "localhost"]).expect_err("no port");
    assert!(error.contains("`localhost` (from --addr or HOOKFLOW_ADDR) has no port"), "{error}");
    let error = listen_addr(&["--addr", "localhost:http"]).expect_err("bad port");
    assert!(error.contains("does not end in a port number"), "{error}");
    let error = listen_addr(&["-p", "70000"]).expect_err("out of range");
    assert!(error.contains("70000"), "{error}");
    let error = listen_addr(&["--host", " "]).expect_err("empty host");
    assert!(error.contains("--host is empty"), "{error}");
}

/// Reads a child's stdout lines on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the first line `pick` takes.
fn wait_line<T>(lines: &mpsc::Receiver<String>, what: &str, pick: impl Fn(&str) -> Option<T>) -> T {
    let mut seen = Vec::new();
    loop {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) else {
            panic!("{what} printed only:\n{}", seen.join("\n"));
        };
        if let Some(found) = pick(&line) {
            return found;
        }
        seen.push(line);
    }
}

#[test]
fn dev_runs_an_app_written_with_the_official_inngest_sdk_given_with_u() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/inngest-js");
    assert!(
        fixture.join("node_modules/inngest/package.json").exists(),
        "the Inngest SDK is not installed in {}: run `tests/run --install-only` (npm ci)",
        fixture.display()
    );
    // The app must know where the dev server is before it starts, and the dev server where the
    // app is: reserve the dev server's port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let node = Command::new("node")
        .arg("app.mjs")
        .current_dir(&fixture)
        .env("INNGEST_DEV", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (tests/run installs it)");
    let mut node = Running(node);
    let app_port =
        wait_line(&lines_of(&mut node.0), "the Node app", |l| l.strip_prefix("listening ").map(str::to_owned));
    let sdk_url = format!("http://127.0.0.1:{app_port}/api/inngest");

    let dir = tempfile::tempdir().expect("tempdir");
    let dev = hookflow(dir.path())
        .args(["dev", "--port", &port.to_string(), "--db", "memory:", "-u", &sdk_url, "--poll-interval", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hookflow dev");
    let mut dev = Running(dev);
    let lines = lines_of(&mut dev.0);
    let url = wait_line(&lines, "hookflow dev", |l| {
        l.split_once(" listening on ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(|u| u.trim_end_matches('/').to_owned())
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        // The app syncs (hookflow asks it with a PUT; it registers at /fn/register).
        loop {
            let functions = http.get(format!("{url}/api/v1/functions")).send().await.expect("functions");
            if functions.text().await.unwrap_or_default().contains("js-shop-hello") {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the app never synced");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent: serde_json::Value = http
            .post(format!("{url}/e/any-key"))
            .json(&serde_json::json!({"name": "shop/hello", "data": {"name": "ada"}}))
            .send()
            .await
            .expect("event sent")
            .json()
            .await
            .expect("ids");
        let id = sent["ids"][0].as_str().expect("an event id").to_owned();
        loop {
            let runs: serde_json::Value =
                http.get(format!("{url}/v1/events/{id}/runs")).send().await.expect("runs").json().await.expect("JSON");
            let run = &runs["data"][0];
            if run["status"] == "Completed" {
                assert_eq!(run["output"], serde_json::json!({"greeting": "hello ada"}));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the run never completed: {runs}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
