//! The dev UI in real headless Chromium: runs `tests/browser/run.mjs` (Playwright driving
//! Debian's chromium) against the `clerk-onboarding` binary. `tests/run` installs chromium and
//! the pinned npm packages; set `HOOKFLOW_SKIP_BROWSER_TESTS=1` to skip on a machine without them.

mod common;

use std::path::PathBuf;
use std::process::Command;

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
    let empty_url = serve_app_without_functions();
    let status = Command::new("node")
        .arg("run.mjs")
        .current_dir(&browser_dir)
        .env("HOOKFLOW_URL", &server.url)
        .env("HOOKFLOW_EMPTY_URL", &empty_url)
        .env("CLERK_WEBHOOK_SIGNING_SECRET", common::SECRET)
        .status()
        .expect("run node (is Node.js installed?)");
    assert!(status.success(), "browser tests failed; screenshots are in tests/browser/artifacts/");
}

/// A dev UI over an app with no functions (what `hookflow dev` serves), in memory, on a free
/// port, for as long as the test runs; its base URL.
fn serve_app_without_functions() -> String {
    let (address_tx, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        runtime.block_on(async move {
            let app = hookflow::App::with_registry("no-functions", Ok(hookflow::Registry::empty()))
                .store_memory()
                .dev_ui()
                .start()
                .await
                .expect("start an app without functions");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            address_tx.send(listener.local_addr().expect("address")).expect("send the address");
            app.serve(listener, std::future::pending()).await.expect("serve");
        });
    });
    format!("http://{}", address.recv().expect("the app's address"))
}
