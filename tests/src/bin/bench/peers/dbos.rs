//! DBOS Transact for Python (`tests/bench/python/dbos_fanout.py`), on its SQLite system
//! database and on Postgres (a throwaway cluster per trial, `tests/bench/postgres/run.sh`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fixture, run_program, setup, source, Env, Figure, Venv};
use crate::support::Fallible;

/// The virtual environment DBOS is installed into.
const VENV: Venv = Venv { name: "python", sources: "python", import: "dbos", what: "dbos (PyPI)", files: &[] };

fn python(env: &Env) -> PathBuf {
    VENV.python(env)
}

/// Creates the venv and installs the pinned requirements, unless `dbos` imports already.
pub(crate) async fn install(env: &Env) -> Fallible<()> {
    VENV.install(env).await
}

/// Installs Debian's Postgres if it is missing (as `tests/run` does).
pub(crate) async fn install_postgres(env: &Env) -> Fallible<()> {
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

/// Where DBOS keeps its system database.
pub(crate) enum SystemDb<'a> {
    /// A SQLite file in this directory.
    Sqlite(&'a Path),
    /// A throwaway Postgres cluster of its own, started (and deleted) by `run.sh`.
    OwnPostgres,
    /// A database `dbos_bench` that DBOS creates on this server (a URL to any of its databases).
    Postgres(&'a str),
}

/// One trial.
pub(crate) async fn trial(env: &Env, db: SystemDb<'_>) -> Fallible<Figure> {
    let mut command = if let SystemDb::OwnPostgres = db {
        let mut c = tokio::process::Command::new("bash");
        c.arg(source("postgres").join("run.sh")).arg(python(env));
        c
    } else {
        tokio::process::Command::new(python(env))
    };
    command.arg(source("python").join("dbos_fanout.py"));
    match db {
        SystemDb::Sqlite(dir) => command.arg("--db").arg(dir.join("dbos.sqlite")),
        // `run.sh` hands its server over in $PG_URL.
        SystemDb::OwnPostgres => command.args(["--postgres-env", "PG_URL"]),
        SystemDb::Postgres(url) => command.args(["--postgres-env", "DBOS_BENCH_SERVER"]).env("DBOS_BENCH_SERVER", url),
    };
    command.arg("--events").arg(env.events.to_string());
    command.arg("--latency-events").arg(env.latency_events.to_string()).arg("--fixture").arg(fixture());
    run_program(command, Duration::from_secs(900)).await
}
