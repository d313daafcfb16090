//! Starts the `clerk-onboarding` binary for the end-to-end tests.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hookflow::cli::{clerk_send_with, UserOverrides};
use serde_json::Value;

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
    start_with(command(dir, trial_offer_delay))
}

/// Starts the example with its engine's store at `database_url` (a Postgres URL, say).
pub(crate) fn start_on(dir: &Path, trial_offer_delay: &str, database_url: &str) -> Server {
    let mut command = command(dir, trial_offer_delay);
    command.env("HOOKFLOW_DATABASE_URL", database_url);
    start_with(command)
}

fn start_with(mut command: Command) -> Server {
    let child = command
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

pub(crate) async fn send(url: &str, clerk_type: &str, user: &str, email: Option<&str>) -> String {
    let overrides = UserOverrides { id: Some(user.to_owned()), email: email.map(str::to_owned) };
    let reply = clerk_send_with(clerk_type, None, Some(SECRET), url, &overrides).await.expect("send webhook");
    assert!(reply.is_success(), "{clerk_type}: {} {}", reply.status, reply.body);
    let body: Value = serde_json::from_str(&reply.body).expect("JSON reply");
    body["ids"][0].as_str().expect("event id").to_owned()
}

/// The runs an event started, by function id, with their status (Inngest-compatible API).
pub(crate) async fn runs_of(client: &reqwest::Client, url: &str, event: &str) -> Vec<(String, String)> {
    let body: Value =
        client.get(format!("{url}/v1/events/{event}/runs")).send().await.expect("GET runs").json().await.expect("JSON");
    let mut runs: Vec<(String, String)> = body["data"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|r| {
                    let function = r["function_id"].as_str().unwrap_or_default().to_owned();
                    (function, r["status"].as_str().unwrap_or_default().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs
}

pub(crate) async fn wait_for(client: &reqwest::Client, url: &str, event: &str, expected: &[(&str, &str)]) {
    let expected: Vec<(String, String)> = expected.iter().map(|(f, s)| ((*f).to_owned(), (*s).to_owned())).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = runs_of(client, url, event).await;
        if runs == expected {
            return;
        }
        assert!(Instant::now() < deadline, "runs of {event}: {runs:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn users(dir: &Path) -> Vec<(String, Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(dir.join("app.db")).expect("open app.db");
    let mut stmt = conn.prepare("SELECT id, email, first_name FROM users ORDER BY id").expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("users")
}

pub(crate) fn outbox(dir: &Path) -> Vec<String> {
    let mut mails: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    mails.sort();
    mails
}

/// A user's lifecycle through signed Clerk webhooks, sent to `a` and `b` in turn (the same
/// server, or two workers sharing one store): runs finish, a deletion cancels the deleted
/// user's onboarding, and the app database and the outbox in `dir` show exactly what happened.
pub(crate) async fn user_lifecycle(dir: &Path, a: &str, b: &str) {
    let client = reqwest::Client::new();
    for url in [a, b] {
        assert!(client.get(format!("{url}/health")).send().await.expect("health").status().is_success());
    }

    let ann = send(a, "user.created", "user_ann", Some("ann@example.com")).await;
    let bob = send(b, "user.created", "user_bob", Some("bob@example.com")).await;
    wait_for(
        &client,
        a,
        &bob,
        &[("onboarding-emails", "Running"), ("send-welcome-email", "Completed"), ("sync-user-from-clerk", "Completed")],
    )
    .await;
    let bob_deleted = send(a, "user.deleted", "user_bob", None).await;
    let ann_updated = send(b, "user.updated", "user_ann", Some("ann@new.example.com")).await;

    wait_for(&client, b, &bob_deleted, &[("delete-user-from-clerk", "Completed")]).await;
    wait_for(&client, a, &ann_updated, &[("update-user-from-clerk", "Completed")]).await;
    wait_for(
        &client,
        a,
        &bob,
        &[
            ("onboarding-emails", "Cancelled"),
            ("send-welcome-email", "Completed"),
            ("sync-user-from-clerk", "Completed"),
        ],
    )
    .await;
    wait_for(
        &client,
        b,
        &ann,
        &[
            ("onboarding-emails", "Completed"),
            ("send-welcome-email", "Completed"),
            ("sync-user-from-clerk", "Completed"),
        ],
    )
    .await;

    assert_eq!(
        users(dir),
        vec![("user_ann".to_owned(), Some("ann@new.example.com".to_owned()), Some("John".to_owned()))],
        "ann is synced and updated, bob is deleted"
    );
    let mails = outbox(dir);
    let count = |to: &str, subject: &str| {
        mails.iter().filter(|m| m.contains(&format!("<{to}>")) && m.contains(subject)).count()
    };
    assert_eq!(count("ann@example.com", "Subject: Welcome"), 1, "{mails:#?}");
    assert_eq!(count("bob@example.com", "Subject: Welcome"), 1, "{mails:#?}");
    assert_eq!(count("ann@example.com", "trial"), 1, "ann gets the trial offer: {mails:#?}");
    assert_eq!(count("bob@example.com", "trial"), 0, "bob was deleted before the offer");
    assert_eq!(mails.len(), 3);
}
