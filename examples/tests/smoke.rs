//! End-to-end smoke test of the `clerk-onboarding` binary: start it, send signed Clerk
//! webhooks for the whole user lifecycle, and check the application database, the outbox and
//! the run statuses over the REST API.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use hookflow::cli::{clerk_send_with, UserOverrides};
use serde_json::Value;

use common::SECRET;

async fn send(url: &str, clerk_type: &str, user: &str, email: Option<&str>) -> String {
    let overrides = UserOverrides { id: Some(user.to_owned()), email: email.map(str::to_owned) };
    let reply = clerk_send_with(clerk_type, None, Some(SECRET), url, &overrides).await.expect("send webhook");
    assert!(reply.is_success(), "{clerk_type}: {} {}", reply.status, reply.body);
    let body: Value = serde_json::from_str(&reply.body).expect("JSON reply");
    body["ids"][0].as_str().expect("event id").to_owned()
}

/// The runs an event started, by function id, with their status (Inngest-compatible API).
async fn runs_of(client: &reqwest::Client, url: &str, event: &str) -> Vec<(String, String)> {
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

async fn wait_for(client: &reqwest::Client, url: &str, event: &str, expected: &[(&str, &str)]) {
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

fn users(dir: &Path) -> Vec<(String, Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(dir.join("app.db")).expect("open app.db");
    let mut stmt = conn.prepare("SELECT id, email, first_name FROM users ORDER BY id").expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("users")
}

fn outbox(dir: &Path) -> Vec<String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_user_lifecycle_works_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "3s");
    let client = reqwest::Client::new();
    let url = server.url.clone();
    assert!(client.get(format!("{url}/health")).send().await.expect("health").status().is_success());

    let ann = send(&url, "user.created", "user_ann", Some("ann@example.com")).await;
    let bob = send(&url, "user.created", "user_bob", Some("bob@example.com")).await;
    wait_for(
        &client,
        &url,
        &bob,
        &[("onboarding-emails", "Running"), ("send-welcome-email", "Completed"), ("sync-user-from-clerk", "Completed")],
    )
    .await;
    let bob_deleted = send(&url, "user.deleted", "user_bob", None).await;
    let ann_updated = send(&url, "user.updated", "user_ann", Some("ann@new.example.com")).await;

    wait_for(&client, &url, &bob_deleted, &[("delete-user-from-clerk", "Completed")]).await;
    wait_for(&client, &url, &ann_updated, &[("update-user-from-clerk", "Completed")]).await;
    wait_for(
        &client,
        &url,
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
        &url,
        &ann,
        &[
            ("onboarding-emails", "Completed"),
            ("send-welcome-email", "Completed"),
            ("sync-user-from-clerk", "Completed"),
        ],
    )
    .await;

    assert_eq!(
        users(dir.path()),
        vec![("user_ann".to_owned(), Some("ann@new.example.com".to_owned()), Some("John".to_owned()))],
        "ann is synced and updated, bob is deleted"
    );
    let mails = outbox(dir.path());
    let count = |to: &str, subject: &str| {
        mails.iter().filter(|m| m.contains(&format!("<{to}>")) && m.contains(subject)).count()
    };
    assert_eq!(count("ann@example.com", "Subject: Welcome"), 1, "{mails:#?}");
    assert_eq!(count("bob@example.com", "Subject: Welcome"), 1, "{mails:#?}");
    assert_eq!(count("ann@example.com", "trial"), 1, "ann gets the trial offer: {mails:#?}");
    assert_eq!(count("bob@example.com", "trial"), 0, "bob was deleted before the offer");
    assert_eq!(mails.len(), 3);
}
