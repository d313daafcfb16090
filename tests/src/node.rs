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
    try_start(script, configure).await.unwrap_or_else(|e| panic!("{e}"))
}

/// [`start`], answering what went wrong instead of panicking (for the benchmarks).
pub async fn try_start(script: &str, configure: impl FnOnce(&mut Command)) -> Result<(Child, String), String> {
    let dir = inngest_js_dir();
    if !dir.join("node_modules/inngest/package.json").exists() {
        return Err(format!(
            "the Inngest SDK is not installed in {}: run `tests/run --install-only` (npm ci)",
            dir.display()
        ));
    }
    let mut command = Command::new("node");
    command.arg(script).current_dir(&dir).stdout(Stdio::piped()).kill_on_drop(true);
    configure(&mut command);
    let mut child = command.spawn().map_err(|e| format!("cannot start node (tests/run installs it): {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from node")?;
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.map_err(|e| format!("reading {script}'s output: {e}"))? {
            if let Some(port) = line.strip_prefix("listening ") {
                return Ok(port.trim().to_owned());
            }
        }
        Err(format!("the Node app {script} exited before listening"))
    })
    .await
    .map_err(|_| format!("the Node app {script} did not listen within 30 s"))??;
    Ok((child, format!("http://127.0.0.1:{port}/api/inngest")))
}
