//! How the example binaries start: the README's `main` (`quickstart`, the README's code
//! verbatim) runs without a Clerk signing secret and says which secret it verifies with, an
//! error returned from `main` prints its message, and `clerk-onboarding` refuses an address it
//! must not serve on before it prints that it is running. The README's testing example is
//! `examples/tests/testing_your_functions.rs`, byte for byte.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The README section whose Rust block is `examples/src/bin/quickstart.rs`.
const SECTION: &str = "## Start a new project";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds the examples").to_owned()
}

/// The first fenced block of `language` after `heading` in the README.
fn readme_block(heading: &str, language: &str) -> String {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let section = readme.split_once(heading).unwrap_or_else(|| panic!("no `{heading}` in README.md")).1;
    let fence = format!("```{language}\n");
    let start = section.find(&fence).unwrap_or_else(|| panic!("no {language} block under `{heading}`")) + fence.len();
    let end = section[start..].find("\n```").expect("the block ends") + start;
    format!("{}\n", &section[start..end])
}

/// The binary, started in `dir` with nothing of the developer's environment that changes
/// what it does.
fn command(binary: &str, dir: &Path, addr: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env("HOOKFLOW_ADDR", addr)
        .env("HOOKFLOW_DATABASE_URL", "sqlite:hookflow.db")
        .env("APP_DATABASE_URL", "sqlite:app.db")
        .env("OUTBOX_DIR", dir.join("outbox"))
        .env("RUST_LOG", "warn")
        .env_remove("CLERK_WEBHOOK_SIGNING_SECRET")
        .env_remove("HOOKFLOW_UI_TOKEN")
        .env_remove("INNGEST_EVENT_KEY")
        .env_remove("SMTP_URL")
        .stdin(Stdio::null());
    command
}

#[test]
fn the_readme_main_is_the_quickstart_example() {
    let example = std::fs::read_to_string(workspace().join("examples/src/bin/quickstart.rs")).expect("quickstart.rs");
    assert_eq!(readme_block(SECTION, "rust"), example, "README.md's `main` and examples/src/bin/quickstart.rs differ");
    let manifest = readme_block(SECTION, "toml");
    for dependency in ["hookflow", "tokio", "\"macros\"", "\"rt-multi-thread\""] {
        assert!(manifest.contains(dependency), "the README's Cargo.toml lacks {dependency}: {manifest}");
    }
}

#[test]
fn the_readme_testing_section_is_a_test_that_runs() {
    let test = std::fs::read_to_string(workspace().join("examples/tests/testing_your_functions.rs")).expect("the test");
    let block = readme_block("## Testing your functions", "rust");
    assert_eq!(block, test, "README.md's testing example and examples/tests/testing_your_functions.rs differ");
    let manifest = readme_block("## Testing your functions", "toml");
    assert!(manifest.contains("features = [\"testing\"]"), "{manifest}");
}

#[tokio::test]
async fn the_readme_main_starts_without_a_signing_secret_and_verifies_with_the_dev_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = command(env!("CARGO_BIN_EXE_quickstart"), dir.path(), "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start quickstart");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut banner = Vec::new();
    let clerk = loop {
        let line = lines.next().expect("the app printed its banner").expect("read stdout");
        banner.push(line.clone());
        if line.trim_start().starts_with("Clerk webhooks") {
            break line;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    assert!(clerk.contains("dev secret from .hookflow/dev-secret"), "the banner says which secret: {banner:?}");
    let url = clerk.split_whitespace().find(|w| w.starts_with("http://")).expect("the endpoint").to_owned();

    let secret = std::fs::read_to_string(dir.path().join(".hookflow/dev-secret")).expect("the generated secret");
    let message =
        hookflow::cli::build_clerk_message("user.created", None, secret.trim(), SystemTime::now()).expect("sign");
    let mut request = reqwest::Client::new().post(&url).body(message.body.clone());
    for (name, value) in message.headers() {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    let answer = response.text().await.unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "a webhook signed with the dev secret is accepted: {answer}");
}

#[test]
fn an_error_from_the_readme_main_prints_its_message() {
    let dir = tempfile::tempdir().expect("dir");
    // Only the start-up check is exercised: nothing is sent to this address.
    let output = command(env!("CARGO_BIN_EXE_quickstart"), dir.path(), "0.0.0.0:0").output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("Error: the dev UI would be reachable from other machines"),
        "the message, not a Debug dump: {stderr}"
    );
    assert!(!stderr.contains("Config("), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty(), "no banner before the refusal");
}

#[test]
fn clerk_onboarding_refuses_a_public_address_before_saying_it_is_running() {
    let dir = tempfile::tempdir().expect("dir");
    let output = command(env!("CARGO_BIN_EXE_clerk-onboarding"), dir.path(), "0.0.0.0:0")
        .env("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("is running"), "refused after the banner: {stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HOOKFLOW_UI_TOKEN"), "{stderr}");
}
