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
    assert!(help.to_lowercase().contains("runs no functions itself"), "says what it is for:\n{help}");
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
    assert!(banner.contains("runs no functions itself"), "the banner says what `hookflow dev` is for:\n{banner}");
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
