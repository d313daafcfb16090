//! The `clerk-onboarding` binary's command line: `--help` explains instead of starting the
//! server, and its logs carry no terminal colours when they go to a pipe.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the example when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` to its end; (exit code, stdout, stderr). A command still running after 20 s
/// (a server that started) is killed, and the test fails.
fn run_to_end(command: &mut Command) -> (Option<i32>, String, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run clerk-onboarding");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit: it started the server");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read stdout");
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read stderr");
    (status.code(), out, err)
}

#[test]
fn help_prints_the_settings_and_starts_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for flag in ["--help", "-h"] {
        let (code, help, _) = run_to_end(common::command(dir.path(), "1h").arg(flag));
        assert_eq!(code, Some(0), "{flag}");
        for setting in [
            "Usage: clerk-onboarding",
            "--inngest",
            "INNGEST_DEV",
            "HOOKFLOW_ADDR",
            "CLERK_WEBHOOK_SIGNING_SECRET",
            "TRIAL_OFFER_DELAY",
        ] {
            assert!(help.contains(setting), "{flag}: `{setting}` missing from:\n{help}");
        }
        assert!(!help.contains("is running"), "{flag} started the server:\n{help}");
    }
    assert!(!dir.path().join("hookflow.db").exists(), "--help opened the store");

    let (code, _, error) = run_to_end(common::command(dir.path(), "1h").arg("--port=9000"));
    assert_eq!(code, Some(2));
    assert!(error.starts_with("error: unexpected argument `--port=9000`"), "{error}");
    assert!(error.contains("HOOKFLOW_ADDR"), "says where the setting goes: {error}");
}

#[test]
fn logs_piped_to_a_file_have_no_colours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = common::command(dir.path(), "1h")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clerk-onboarding");
    let stdout = child.stdout.take().expect("stdout");
    let _running = Killed(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let log = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `hookflow listening` log line in:\n{}", seen.join("\n")));
        if line.contains("hookflow listening") {
            break line;
        }
        seen.push(line);
    };
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escapes in a piped log line: {log:?}");
}
