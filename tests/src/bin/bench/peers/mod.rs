//! The fan-out workload on other tools, for `bench all`: each peer runs what `fanout` runs on
//! hookflow (per event, two functions of two durable steps each) and reports the same figures.
//!
//! A peer in another language is a program under `tests/bench/<peer>/` that prints
//! `RESULT runs=M seconds=S ...` and `FIRST_STEP_MS v,v,...` (milliseconds from an event to a
//! run's first step, measured one event at a time); the Rust peers run in this process
//! (`--features peers`), except duroxide, a crate of its own (its `sqlx` links a SQLite that
//! cannot share this binary with `rusqlite`'s).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::stats::key_values;
use crate::support::{Fallible, BENCH_DIR, USER_CREATED_FILE};

#[cfg(feature = "peers")]
mod apalis;
pub(crate) mod dbos;
mod duroxide;
mod inngest;
mod restate;
#[cfg(feature = "peers")]
pub(crate) mod restate_rust;
mod temporal;

/// What one trial of a peer measured.
pub(crate) struct Figure {
    /// Runs completed in the throughput phase.
    pub(crate) runs: u64,
    /// From the first event to the last run completed.
    pub(crate) seconds: f64,
    /// Event → a run's first step (ms), one per run of the latency phase; empty when the peer
    /// cannot report it.
    pub(crate) first_step_ms: Vec<f64>,
}

impl Figure {
    /// Completed runs per second.
    pub(crate) fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let runs = self.runs as f64;
        runs / self.seconds
    }
}

/// Where a peer runs and how much work it gets.
pub(crate) struct Env {
    /// Installed peers (a Python venv, duroxide's target dir), kept between runs:
    /// `target/bench-peers`.
    pub(crate) cache: PathBuf,
    /// Events of the throughput phase (each starts 2 runs).
    pub(crate) events: usize,
    /// Events of the latency phase, sent one at a time.
    pub(crate) latency_events: usize,
    /// Install what is missing (else a missing peer is reported as not measured).
    pub(crate) install: bool,
}

/// The peers, in the order of the table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// DBOS Transact for Python on its SQLite system database.
    DbosSqlite,
    /// DBOS Transact for Python on Postgres.
    DbosPostgres,
    /// duroxide (Rust) on its SQLite provider.
    Duroxide,
    /// apalis with apalis-sqlite: plain jobs, a floor rather than a peer.
    Apalis,
    /// restate-server with the TypeScript SDK.
    RestateTs,
    /// restate-server with the Rust SDK.
    RestateRust,
    /// Temporal's dev server with a Python worker.
    Temporal,
    /// The official Inngest TypeScript SDK, run by `hookflow dev -u`.
    InngestTs,
}

impl Peer {
    /// Every peer, in the order of the table.
    pub(crate) const ALL: [Peer; 8] = [
        Peer::DbosSqlite,
        Peer::DbosPostgres,
        Peer::Duroxide,
        Peer::Apalis,
        Peer::RestateTs,
        Peer::RestateRust,
        Peer::Temporal,
        Peer::InngestTs,
    ];

    /// Tens of runs per second here: `bench all` gives it fewer events.
    pub(crate) fn slow(self) -> bool {
        matches!(self, Peer::DbosSqlite | Peer::DbosPostgres | Peer::Temporal)
    }

    /// The name `--only` and `--skip` take.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Peer::DbosSqlite => "dbos-sqlite",
            Peer::DbosPostgres => "dbos-postgres",
            Peer::Duroxide => "duroxide",
            Peer::Apalis => "apalis",
            Peer::RestateTs => "restate-ts",
            Peer::RestateRust => "restate-rust",
            Peer::Temporal => "temporal",
            Peer::InngestTs => "inngest-ts",
        }
    }

    /// What the table calls it (with the versions the lock files pin).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::DbosSqlite => "DBOS Transact 3.4.0 (Python), SQLite",
            Peer::DbosPostgres => "DBOS Transact 3.4.0 (Python), Postgres 15",
            Peer::Duroxide => "duroxide 0.1.32 (Rust), SQLite provider",
            Peer::Apalis => "apalis 1.0 + apalis-sqlite 1.0 (Rust): plain jobs, a floor",
            Peer::RestateTs => "Restate 1.7.12 server + TypeScript SDK 1.17.2",
            Peer::RestateRust => "Restate 1.7.12 server + Rust SDK 0.13.0",
            Peer::Temporal => "Temporal CLI 1.9.1 dev server + Python SDK 1.35.0",
            Peer::InngestTs => "Inngest TypeScript SDK 4.24.0, run by `hookflow dev` (this commit)",
        }
    }

    /// The durability it runs with.
    pub(crate) fn durability(self) -> &'static str {
        match self {
            Peer::DbosSqlite => "DBOS's SQLite settings: rollback journal, synchronous=FULL",
            Peer::DbosPostgres => "fsync=on, synchronous_commit=on (Postgres defaults)",
            Peer::Duroxide => duroxide::DURABILITY,
            Peer::Apalis => "WAL, synchronous=FULL (apalis's setup() sets OFF; overridden)",
            Peer::RestateTs | Peer::RestateRust => "restate-server defaults (RocksDB WAL, fsync on)",
            Peer::Temporal => "dev server on a SQLite file: WAL, synchronous=FULL (--sqlite-pragma)",
            Peer::InngestTs => "hookflow dev on a SQLite file: WAL, synchronous=FULL",
        }
    }

    /// Installs what the peer needs if it is missing; an error says why it cannot run here.
    pub(crate) async fn install(self, env: &Env) -> Fallible<()> {
        match self {
            Peer::DbosSqlite => dbos::install(env).await,
            Peer::DbosPostgres => {
                dbos::install(env).await?;
                dbos::install_postgres(env).await
            }
            Peer::Duroxide => duroxide::install(env).await,
            Peer::Apalis => compiled_in(),
            Peer::RestateTs => restate::install(env).await,
            Peer::RestateRust => {
                compiled_in()?;
                restate::install(env).await
            }
            Peer::Temporal => temporal::install(env).await,
            Peer::InngestTs => inngest::install(env).await,
        }
    }

    /// One trial, with `dir` (empty, deleted afterwards by the caller) for its databases.
    pub(crate) async fn trial(self, env: &Env, dir: &Path) -> Fallible<Figure> {
        match self {
            Peer::DbosSqlite => dbos::trial(env, dbos::SystemDb::Sqlite(dir)).await,
            Peer::DbosPostgres => dbos::trial(env, dbos::SystemDb::OwnPostgres).await,
            Peer::Duroxide => duroxide::trial(env, dir).await,
            #[cfg(feature = "peers")]
            Peer::Apalis => apalis::trial(env, dir).await,
            Peer::RestateTs => restate::trial(env, dir, restate::Sdk::TypeScript).await,
            #[cfg(feature = "peers")]
            Peer::RestateRust => restate::trial(env, dir, restate::Sdk::Rust).await,
            Peer::Temporal => temporal::trial(env, dir).await,
            Peer::InngestTs => inngest::trial(env, dir).await,
            #[cfg(not(feature = "peers"))]
            Peer::Apalis | Peer::RestateRust => Err(NOT_COMPILED.into()),
        }
    }
}

/// Why a Rust peer is missing from a bench built without `--features peers`.
const NOT_COMPILED: &str = "not compiled in: build the bench with `--features peers`";

/// The Rust peers are compiled only with `--features peers`.
fn compiled_in() -> Fallible<()> {
    if cfg!(feature = "peers") {
        Ok(())
    } else {
        Err(NOT_COMPILED.into())
    }
}

/// Runs a peer program and reads its `RESULT` and `FIRST_STEP_MS` lines.
pub(crate) async fn run_program(mut command: tokio::process::Command, timeout: Duration) -> Fallible<Figure> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("the peer did not finish within {} s", timeout.as_secs()))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "the peer printed no RESULT line (exit {}): {}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
        .into());
    };
    let fields = key_values(line);
    let get = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or(format!("no `{k}` in `{line}`"));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let runs = get("runs")? as u64;
    let first_step_ms = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FIRST_STEP_MS"))
        .map(|values| values.split(',').filter_map(|v| v.trim().parse::<f64>().ok()).collect())
        .unwrap_or_default();
    Ok(Figure { runs, seconds: get("seconds")?, first_step_ms })
}

/// Runs a setup command (an installer); an error carries the end of its output.
pub(crate) async fn setup(what: &str, mut command: tokio::process::Command) -> Fallible<()> {
    eprintln!("  installing {what}: {command:?}");
    let output = command.stdin(Stdio::null()).output().await.map_err(|e| format!("{what}: cannot run: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    Err(format!("{what} failed ({}): {}", output.status, tail.into_iter().rev().collect::<Vec<_>>().join(" / ")).into())
}

/// A Python peer's virtual environment, `<cache>/<name>`, with the pinned
/// `requirements.txt` of its source directory `sources` installed.
pub(crate) struct Venv {
    /// Its directory under the peers' cache.
    pub name: &'static str,
    /// The peer's directory in the source tree (see [`source`]), holding `requirements.txt`.
    pub sources: &'static str,
    /// A module whose import proves the install, and what the requirements are, for messages.
    pub import: &'static str,
    pub what: &'static str,
    /// Files the install puts in the venv besides (a CLI), relative to it.
    pub files: &'static [&'static str],
}

impl Venv {
    /// Its interpreter.
    pub(crate) fn python(&self, env: &Env) -> PathBuf {
        env.cache.join(self.name).join("bin/python")
    }

    /// Creates the venv and installs the requirements, unless the module imports already
    /// (and the files are there).
    pub(crate) async fn install(&self, env: &Env) -> Fallible<()> {
        let python = self.python(env);
        let ready = tokio::process::Command::new(&python).args(["-c", &format!("import {}", self.import)]).output();
        let files = self.files.iter().all(|f| env.cache.join(self.name).join(f).exists());
        if ready.await.is_ok_and(|o| o.status.success()) && files {
            return Ok(());
        }
        if !env.install {
            return Err(format!("{} has no {} (run without --no-install)", python.display(), self.import).into());
        }
        let mut venv = tokio::process::Command::new("python3");
        venv.args(["-m", "venv"]).arg(env.cache.join(self.name));
        setup("a Python venv", venv).await?;
        let mut pip = tokio::process::Command::new(&python);
        pip.args(["-m", "pip", "install", "--quiet", "-r"]).arg(source(self.sources).join("requirements.txt"));
        setup(self.what, pip).await
    }
}

/// A peer's directory in the source tree.
pub(crate) fn source(peer: &str) -> PathBuf {
    Path::new(BENCH_DIR).join(peer)
}

/// The Clerk fixture the peers read their event data from.
pub(crate) fn fixture() -> &'static Path {
    Path::new(USER_CREATED_FILE)
}
