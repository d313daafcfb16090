//! The example on Postgres, unchanged: two `clerk-onboarding` processes with one
//! `HOOKFLOW_DATABASE_URL=postgres://...` (each its own Clerk endpoint and dev UI, one app
//! database), Clerk webhooks sent to either: every run completes once, a deletion sent to one
//! cancels an onboarding the other started, and either dev UI's API shows every run.

mod common;

use hookflow_tests::postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_example_processes_share_one_postgres() {
    let Some(url) = postgres::url("two_example_processes_share_one_postgres") else { return };
    let db = postgres::database(&url).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = common::start_on(dir.path(), "3s", &db);
    let b = common::start_on(dir.path(), "3s", &db);
    common::user_lifecycle(dir.path(), &a.url, &b.url).await;
}
