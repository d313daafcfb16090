//! duroxide on its SQLite provider: `tests/bench/duroxide`, a crate of its own (its sqlx links
//! a SQLite that cannot share a build with rusqlite's), built here with cargo into
//! `target/bench-peers/duroxide` and run once per trial.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{fixture, run_program, setup, source, Env, Figure};
use crate::support::Fallible;

/// How the trial runs it (the provider's own setting is NORMAL: see the crate's docs).
pub(super) const DURABILITY: &str =
    "WAL, synchronous=FULL set on each pooled connection (as shipped: `synchronous = WAL`, read as NORMAL)";

fn binary(env: &Env) -> PathBuf {
    env.cache.join("duroxide/release/duroxide-fanout")
}

/// `cargo build --release --locked` of the peer crate (quick when it is up to date).
pub(super) async fn install(env: &Env) -> Fallible<()> {
    if !env.install {
        return if binary(env).exists() {
            Ok(())
        } else {
            Err(format!("{} is not built (run without --no-install)", binary(env).display()).into())
        };
    }
    let mut cargo = tokio::process::Command::new("cargo");
    cargo.args(["build", "--release", "--locked", "--quiet", "--manifest-path"]);
    cargo.arg(source("duroxide").join("Cargo.toml")).arg("--target-dir").arg(env.cache.join("duroxide"));
    cargo.env("CARGO_INCREMENTAL", "0");
    setup("duroxide (crates.io)", cargo).await
}

pub(super) async fn trial(env: &Env, dir: &Path) -> Fallible<Figure> {
    let mut command = tokio::process::Command::new(binary(env));
    command.arg("--db").arg(dir.join("duroxide.db")).arg("--fixture").arg(fixture());
    command.args(["--events", &env.events.to_string(), "--latency-events", &env.latency_events.to_string()]);
    command.args(["--synchronous", "full"]);
    run_program(command, Duration::from_secs(1_800)).await
}
