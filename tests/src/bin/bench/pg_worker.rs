//! `bench pg-worker`: one worker process of `bench postgres`. It runs the fan-out functions
//! (`fanout`) in an engine on the Postgres store at `HOOKFLOW_DATABASE_URL`, prints `ready`,
//! then obeys one command a line on stdin, answering each with one line on stdout:
//!
//! - `send TAG FROM COUNT BATCH SENDERS`: accepts events `FROM..FROM+COUNT` of the throughput
//!   phase (`Engine::send_raw` in batches from concurrent senders, as `bench fanout` sends
//!   them); answers `sent`.
//! - `latency TAG COUNT GAP_MS`: sends `COUNT` events one at a time, `GAP_MS` apart, and
//!   answers `latency FIRST_STEP_MS COMMIT_MS`, two comma-separated lists of milliseconds.
//!
//! At the end of stdin it shuts its engine down and exits.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hookflow::store::{PostgresOptions, PostgresStore};

use crate::fanout;
use crate::support::{send_all, Fallible};

#[derive(Args)]
pub(super) struct WorkerArgs {
    /// The Postgres database the store is in.
    #[arg(long, env = "HOOKFLOW_DATABASE_URL")]
    database_url: String,
    /// Connections in the store's pool.
    #[arg(long, default_value_t = PostgresOptions::default().pool_size)]
    pool_size: usize,
}

pub(super) async fn worker(args: WorkerArgs) -> Fallible<()> {
    let options = PostgresOptions { pool_size: args.pool_size, ..PostgresOptions::default() };
    let store = Arc::new(PostgresStore::connect_with(&args.database_url, options).await?);
    let (engine, probe) = fanout::engine_on(store).await?;
    // Rust's stdout is line-buffered: each answer reaches the coordinator as it is printed.
    println!("ready");
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| -> Fallible<usize> {
            let word = words.get(i).ok_or_else(|| format!("`{line}`: argument {i} is missing"))?;
            Ok(word.parse().map_err(|e| format!("`{line}`: argument {i}: {e}"))?)
        };
        match words.first().copied() {
            Some("send") => {
                let tag = words.get(1).ok_or("`send` needs a tag")?;
                let from = number(2)?;
                let batches = fanout::batches(tag, from..from + number(3)?, number(4)?)?;
                send_all(&engine, batches, number(5)?).await?;
                println!("sent");
            }
            Some("latency") => {
                let tag = words.get(1).ok_or("`latency` needs a tag")?;
                let gap = u64::try_from(number(3)?)?;
                let l = fanout::latency(&engine, &probe, tag, number(2)?, gap).await?;
                let list = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(",");
                println!("latency {} {}", list(&l.first_step), list(&l.commit));
            }
            _ => return Err(format!("unknown command `{line}`").into()),
        }
    }
    engine.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Lines of stdin, read on a thread of their own (the blocking read must not hold a runtime
/// thread); the channel closes at the end of stdin.
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
