//! The Node apps of `tests/inngest-js` (the official Inngest TypeScript SDK, installed there by
//! `tests/run`) as real processes on free ports.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `tests/inngest-js`.
pub fn inngest_js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("inngest-js")
}

/// Runs `node <script>` in `tests/inngest-js`, with what `configure` adds (its environment),
/// and waits up to 30 s for the `listening <port>` line the apps print; answers the process
/// (killed when dropped) and its serve URL, `http://127.0.0.1:<port>/api/inngest`.
pub async fn start(script: &str, configure: impl FnOnce(&mut Command)) -> (Child, String) {
    let dir = inngest_js_dir();
    assert!(
        dir.join("node_modules/inngest/package.json").exists(),
        "the Inngest SDK is not installed in {}: run `tests/run --install-only` (npm ci)",
        dir.display()
    );
    let mut command = Command::new("node");
    command.arg(script).current_dir(&dir).stdout(Stdio::piped()).kill_on_drop(true);
    configure(&mut command);
    let mut child = command.spawn().expect("node runs (tests/run installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some(port) = line.strip_prefix("listening ") {
                return port.trim().to_owned();
            }
        }
        panic!("the Node app {script} exited before listening")
    })
    .await
    .unwrap_or_else(|_| panic!("the Node app {script} listens within 30 s"));
    (child, format!("http://127.0.0.1:{port}/api/inngest"))
}
