//! Restate (`tests/bench/restate`): `restate-server` from npm (the binary ships inside the
//! package) and the FanA/FanB services, with the TypeScript SDK (`service.js`) or the Rust SDK
//! (`bench restate-service`, `restate_rust.rs`), driven through the ingress by `driver.js`.

use std::path::Path;
use std::time::Duration;

use super::{fixture, run_program, setup, source, Env, Figure};
use crate::support::Fallible;

/// Calls in flight during the throughput phase.
const CONCURRENCY: usize = 64;

/// Which SDK serves the services.
#[derive(Clone, Copy)]
pub(super) enum Sdk {
    TypeScript,
    #[cfg(feature = "peers")]
    Rust,
}

/// `npm ci` in `tests/bench/restate` unless the server is already there.
pub(super) async fn install(env: &Env) -> Fallible<()> {
    let dir = source("restate");
    if dir.join("node_modules/.bin/restate-server").exists() {
        return Ok(());
    }
    if !env.install {
        return Err(format!("run `npm ci --prefix {}` (or run without --no-install)", dir.display()).into());
    }
    let mut npm = tokio::process::Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"]).arg(&dir);
    setup("restate-server and the TypeScript SDK (npm)", npm).await
}

/// One trial: a fresh server and data directory.
pub(super) async fn trial(env: &Env, dir: &Path, sdk: Sdk) -> Fallible<Figure> {
    let mut command = tokio::process::Command::new("bash");
    command.arg(source("restate").join("run.sh"));
    command.arg(env.events.to_string()).arg(CONCURRENCY.to_string()).arg(fixture());
    command.arg(dir.join("restate")).arg(env.latency_events.to_string());
    match sdk {
        Sdk::TypeScript => {}
        #[cfg(feature = "peers")]
        Sdk::Rust => {
            let exe = std::env::current_exe()?;
            command.env("SERVICE", format!("{} restate-service --port 9080", exe.display()));
        }
    }
    run_program(command, Duration::from_secs(900)).await
}
