//! The dev UI in real headless Chromium: runs `tests/browser/run.mjs` (Playwright driving
//! Debian's chromium) against the `clerk-onboarding` binary. `tests/run` installs chromium and
//! the pinned npm packages; set `HOOKFLOW_SKIP_BROWSER_TESTS=1` to skip on a machine without them.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hookflow::prelude::*;
use hookflow::{Invoke, RetryAfter, WaitFor};
use serde_json::{json, Value};

#[test]
fn the_dev_ui_works_in_headless_chromium() {
    if std::env::var("HOOKFLOW_SKIP_BROWSER_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipped: HOOKFLOW_SKIP_BROWSER_TESTS=1");
        return;
    }
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "the browser tests need npm's playwright-core: run `tests/run` (or `cd tests/browser && npm ci`)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Debian's chromium: run `tests/run` (or `apt-get install chromium`)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "1h");
    let empty_url = serve_app(hookflow::Registry::empty());
    let story_url = serve_app(story_registry());
    let apps_url = serve_apps();
    // "Send to dev server": a deployed UI's page posts to a local dev server that trusts it.
    let deployed_url = serve_app(hookflow::Registry::empty());
    let local_url = serve_app_with(story_registry(), {
        let deployed = deployed_url.clone();
        move |app| app.trusted_origins([deployed])
    });
    let status = Command::new("node")
        .arg("run.mjs")
        .current_dir(&browser_dir)
        .env("HOOKFLOW_URL", &server.url)
        .env("HOOKFLOW_EMPTY_URL", &empty_url)
        .env("HOOKFLOW_STORY_URL", &story_url)
        .env("HOOKFLOW_APPS_URL", &apps_url)
        .env("HOOKFLOW_DEPLOYED_URL", &deployed_url)
        .env("HOOKFLOW_LOCAL_URL", &local_url)
        .env("CLERK_WEBHOOK_SIGNING_SECRET", common::SECRET)
        .status()
        .expect("run node (is Node.js installed?)");
    assert!(status.success(), "browser tests failed; screenshots are in tests/browser/artifacts/");
}

/// Attempts of `story`'s `fetch` step; every third succeeds.
static FETCHES: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "story-child", event = "app/story.child")]
async fn story_child(event: Event<Json>) -> Result<Value> {
    Ok(json!({ "child_of": event.data["id"] }))
}

/// Every way a run waits, on the real clock and quickly: a step that fails twice (retried 2 s
/// later each time), a 1 s sleep, a wait an event resolves, a wait that times out after 1 s,
/// and an invoke.
#[inngest_fn(id = "story", event = "app/story")]
async fn story(event: Event<Json>, step: Step) -> Result<Value> {
    let fetched: String = step
        .run("fetch", || async {
            let n = FETCHES.fetch_add(1, Ordering::SeqCst) + 1;
            if !n.is_multiple_of(3) {
                return Err(
                    RetryAfter::new(Duration::from_secs(2), format!("attempt {} timed out", (n - 1) % 3 + 1)).into()
                );
            }
            Ok(format!("fetched on attempt {n}"))
        })
        .await?;
    step.sleep("cool-down", "1s").await?;
    let approval = WaitFor::timeout("1m").event("app/story.approved").matching("data.id");
    let approved = step.wait_for_event::<Json>("approval", approval).await?;
    let reminder = step.wait_for_event::<Json>("reminder", WaitFor::timeout("1s").event("app/story.never")).await?;
    let child: Value = step.invoke("child", Invoke::new(story_child::DEF, json!({ "id": event.data["id"] }))?).await?;
    Ok(json!({ "fetched": fetched, "approved": approved.is_some(), "reminded": reminder.is_some(), "child": child }))
}

/// A nightly schedule: the Functions page shows its next tick.
#[inngest_fn(id = "story-nightly", cron = "0 3 * * *")]
async fn story_nightly() -> Result<()> {
    Ok(())
}

/// One run at a time, held through a long sleep: a second run waits as Queued, held back.
#[inngest_fn(id = "story-gate", event = "app/story.gate", concurrency(limit = 1, per = "run"))]
async fn story_gate(step: Step) -> Result<()> {
    step.sleep("hold", "1h").await?;
    Ok(())
}

/// One run per order id: a second event for the same order is a recorded skip.
#[inngest_fn(id = "story-once", event = "app/story.order", idempotency = "event.data.order")]
async fn story_once() -> Result<()> {
    Ok(())
}

/// One active run per user, held through a long sleep: a second event for the same user is a
/// recorded skip that names the active run.
#[inngest_fn(id = "story-solo", event = "app/story.solo", singleton(mode = "skip", key = "event.data.user"))]
async fn story_solo(step: Step) -> Result<()> {
    step.sleep("hold", "1h").await?;
    Ok(())
}

fn story_registry() -> hookflow::Registry {
    let mut registry = hookflow::Registry::empty();
    for def in [story::DEF, story_child::DEF, story_nightly::DEF, story_gate::DEF, story_once::DEF, story_solo::DEF] {
        registry.add(def).expect("unique ids");
    }
    registry
}

/// A dev UI over an app with `registry`'s functions (none: what `hookflow dev` serves), in
/// memory, on a free port, for as long as the test runs; its base URL.
fn serve_app(registry: hookflow::Registry) -> String {
    serve_app_with(registry, |app| app)
}

/// [`serve_app`], with the app set up further by `configure`.
fn serve_app_with(
    registry: hookflow::Registry,
    configure: impl FnOnce(hookflow::App) -> hookflow::App + Send + 'static,
) -> String {
    let (address_tx, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        runtime.block_on(async move {
            let app = configure(hookflow::App::with_registry("browser-test", Ok(registry)).store_memory().dev_ui())
                .start()
                .await
                .expect("start the app");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            address_tx.send(listener.local_addr().expect("address")).expect("send the address");
            app.serve(listener, std::future::pending()).await.expect("serve");
        });
    });
    format!("http://{}", address.recv().expect("the app's address"))
}

/// A dev server as `hookflow dev -u` builds it (engine, dev UI, the executor's routes), with
/// `browser-sdk-app` (a hookflow app in Inngest mode, serving `story-child`) synced at its
/// start-up, and an app that is down asked to sync; its base URL.
fn serve_apps() -> String {
    use hookflow::protocol::executor::apps::Apps;
    let (address_tx, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        runtime.block_on(async move {
            let running = hookflow::App::with_registry("hookflow-dev", Ok(hookflow::Registry::empty()))
                .store_memory()
                .dev_ui()
                .start()
                .await
                .expect("start the dev server");
            let apps = Apps::new(running.engine().clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let dev = format!("http://{}", listener.local_addr().expect("address"));
            tokio::spawn(running.merge(apps.router()).serve(listener, std::future::pending()));

            let mut registry = hookflow::Registry::empty();
            registry.add(story_child::DEF).expect("unique ids");
            let app = hookflow::App::with_registry("browser-sdk-app", Ok(registry))
                .serve_to_inngest(hookflow::protocol::InngestConfig::dev(&dev))
                .start()
                .await
                .expect("start the SDK app");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!("http://{}/api/inngest", listener.local_addr().expect("address"));
            tokio::spawn(app.serve(listener, std::future::pending()));
            while !apps.list().iter().any(|a| a.url == url) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let down = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
            let _ = apps.sync(&format!("http://127.0.0.1:{down}/api/inngest")).await;
            address_tx.send(dev).expect("send the address");
            std::future::pending::<()>().await;
        });
    });
    address.recv().expect("the dev server's address")
}
