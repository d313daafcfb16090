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
    let status = Command::new("node")
        .arg("run.mjs")
        .current_dir(&browser_dir)
        .env("HOOKFLOW_URL", &server.url)
        .env("CLERK_WEBHOOK_SIGNING_SECRET", common::SECRET)
        .status()
        .expect("run node (is Node.js installed?)");
    assert!(status.success(), "browser tests failed; screenshots are in tests/browser/artifacts/");
}
