//! Starts the `clerk-onboarding` binary for the end-to-end tests.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The Clerk signing secret the tests give the example.
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A running example; killed when dropped.
pub(crate) struct Server {
    child: Child,
    /// Its base URL, e.g. `http://127.0.0.1:41234`.
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example in `dir` (its databases and outbox live there) on a free port.
pub(crate) fn start(dir: &Path, trial_offer_delay: &str) -> Server {
    let child = command(dir, trial_offer_delay)
        .env("RUST_LOG", "warn")
        .env_remove("SMTP_URL")
        .env_remove("HOOKFLOW_UI_TOKEN")
        .env_remove("INNGEST_EVENT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start clerk-onboarding");
    let mut server = Server { child, url: String::new() };
    let stdout = server.child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    server.url = loop {
        let line = lines.next().expect("the server printed its address").expect("read stdout");
        // `  dev UI           http://127.0.0.1:41234/  (loopback only, no token)`
        if let Some(url) = line.trim().strip_prefix("dev UI").and_then(|rest| rest.split_whitespace().next()) {
            break url.trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    server
}

/// The example's command, set up to keep everything in `dir` and listen on a free port.
pub(crate) fn command(dir: &Path, trial_offer_delay: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clerk-onboarding"));
    command
        .current_dir(dir)
        .env("HOOKFLOW_ADDR", "127.0.0.1:0")
        .env("HOOKFLOW_DATABASE_URL", format!("sqlite:{}", dir.join("hookflow.db").display()))
        .env("APP_DATABASE_URL", format!("sqlite:{}", dir.join("app.db").display()))
        .env("OUTBOX_DIR", dir.join("outbox"))
        .env("CLERK_WEBHOOK_SIGNING_SECRET", SECRET)
        .env("TRIAL_OFFER_DELAY", trial_offer_delay)
        .env_remove("SMTP_URL")
        .env_remove("HOOKFLOW_UI_TOKEN")
        .env_remove("INNGEST_EVENT_KEY")
        .env_remove("NO_COLOR");
    command
}
