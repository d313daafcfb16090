//! DBOS Transact for Python (`tests/bench/python/dbos_fanout.py`), on its SQLite system
//! database and on Postgres (a throwaway cluster per trial, `tests/bench/postgres/run.sh`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fixture, run_program, setup, source, Env, Figure};
use crate::support::Fallible;

/// The virtual environment `requirements.txt` is installed into.
fn python(env: &Env) -> PathBuf {
    env.cache.join("python/bin/python")
}

/// Creates the venv and installs the pinned requirements, unless `dbos` imports already.
pub(super) async fn install(env: &Env) -> Fallible<()> {
    let python = python(env);
    let ready = tokio::process::Command::new(&python).args(["-c", "import dbos"]).output().await;
    if ready.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    if !env.install {
        return Err(format!("{} has no dbos (run without --no-install)", python.display()).into());
    }
    let mut venv = tokio::process::Command::new("python3");
    venv.args(["-m", "venv"]).arg(env.cache.join("python"));
    setup("a Python venv", venv).await?;
    let mut pip = tokio::process::Command::new(&python);
    pip.args(["-m", "pip", "install", "--quiet", "-r"]).arg(source("python").join("requirements.txt"));
    setup("dbos (PyPI)", pip).await
}

/// Installs Debian's Postgres if it is missing (as `tests/run` does).
pub(super) async fn install_postgres(env: &Env) -> Fallible<()> {
    let present = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(Result::ok).any(|d| d.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    if !env.install {
        return Err("no Postgres in /usr/lib/postgresql (run without --no-install)".into());
    }
    let mut apt = tokio::process::Command::new("apt-get");
    apt.args(["install", "-y", "-qq", "--no-install-recommends", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    setup("postgresql (Debian)", apt).await
}

/// One trial; on Postgres, in a cluster of its own that `run.sh` starts (and hands over in
/// `$PG_URL`) and deletes afterwards.
pub(super) async fn trial(env: &Env, dir: &Path, postgres: bool) -> Fallible<Figure> {
    let mut command = if postgres {
        let mut c = tokio::process::Command::new("bash");
        c.arg(source("postgres").join("run.sh")).arg(python(env));
        c
    } else {
        tokio::process::Command::new(python(env))
    };
    command.arg(source("python").join("dbos_fanout.py"));
    if postgres {
        command.args(["--postgres-env", "PG_URL"]);
    } else {
        command.arg("--db").arg(dir.join("dbos.sqlite"));
    }
    command.arg("--events").arg(env.events.to_string());
    command.arg("--latency-events").arg(env.latency_events.to_string()).arg("--fixture").arg(fixture());
    run_program(command, Duration::from_secs(900)).await
}
