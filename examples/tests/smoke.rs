//! End-to-end smoke test of the `clerk-onboarding` binary: start it, send signed Clerk
//! webhooks for the whole user lifecycle, and check the application database, the outbox and
//! the run statuses over the REST API.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_user_lifecycle_works_end_to_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "3s");
    common::user_lifecycle(dir.path(), &server.url, &server.url).await;
}
