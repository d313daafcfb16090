//! hookflow's benchmarks: what the embedded engine sustains on one SQLite file, and what the
//! tools people use today do with the same work. Results and how to read them: `BENCHMARKS.md`
//! at the repository root.
//!
//! ```text
//! cargo build --release -p hookflow-tests --bin bench
//! target/release/bench all                        # fan-out on hookflow (SQLite, Postgres) and every peer
//! target/release/bench fanout --events 10000      # runs/s, event → first step latency
//! target/release/bench postgres                   # the fan-out on Postgres: 1-3 workers, DBOS
//! target/release/bench recovery                   # SIGKILL with 10,000 runs in flight, then restart
//! target/release/bench flow                       # concurrency/throttle cost, held-back runs, hand-off
//! target/release/bench serve                      # Inngest call requests: hookflow vs the TypeScript SDK
//! target/release/bench sleepers --runs 100000     # memory per sleeping run, timer lateness
//! target/release/bench webhook --requests 60000   # verified Clerk webhooks/s over loopback (wrk)
//! target/release/bench ui-scale --rows 1000000    # dev UI queries over 1M events and 1M runs
//! ```
//!
//! `bench all` installs the peers it lacks (from npm, PyPI, crates.io and Debian), runs the
//! fan-out on hookflow and on each of them in the same run, and prints one table of figures and
//! ratios with the machine and the commit, with hookflow's rows on Postgres (1, 2 and 3 worker
//! processes on a throwaway local cluster) beside DBOS on Postgres. The Rust peers are compiled
//! with `--features peers` (duroxide, whose `sqlx` cannot share a SQLite library with
//! `rusqlite`, is a crate of its own under `tests/bench/duroxide`, built by `bench all`).
//!
//! Every subcommand repeats its measurement (`--repeat`), prints each trial and the median as
//! Markdown tables and exits 0: these are measurements to read, not tests that pass or fail.
//! Databases live in a temporary directory under `--dir` (default: the system's), removed at
//! the end; `ui-scale --db FILE` keeps its (large) database so that later runs reuse it.

use clap::{Parser, Subcommand};

mod fanout;
mod flow;
mod peers;
mod pg_worker;
mod postgres;
mod recovery;
mod serve;
mod sleepers;
mod stats;
mod suite;
mod support;
mod ui_scale;
mod webhook;

#[derive(Parser)]
#[command(name = "bench", about = "hookflow's benchmarks (results in BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The suite: the fan-out on hookflow and on every peer that can be installed here, one
    /// table with each peer's figure and its ratio to hookflow's in the same run.
    All(suite::AllArgs),
    /// Events fanned out to 2 functions × 2 steps on SQLite: completed runs/s, and the latency
    /// from an event to its runs' first step when there is no backlog.
    Fanout(fanout::FanoutArgs),
    /// Runs suspended on `step.sleep`: resident memory they cost, and how late timers fire.
    Sleepers(sleepers::SleepersArgs),
    /// The fan-out on the Postgres store with 1, 2 and 3 worker processes beside DBOS on the
    /// same server; event → first step on an idle worker; round trips and server CPU per run.
    Postgres(postgres::PostgresArgs),
    /// Internal: one worker process of `bench postgres`, on `HOOKFLOW_DATABASE_URL`.
    #[command(hide = true)]
    PgWorker(pg_worker::WorkerArgs),
    /// Svix-signed Clerk webhooks over loopback, driven by wrk: verified and committed per
    /// second, and latency; the same requests against a Node server (svix + better-sqlite3).
    Webhook(webhook::WebhookArgs),
    /// The dev UI's queries (Runs and Events pages, `GET /v1/events`) over a large store.
    UiScale(ui_scale::UiScaleArgs),
    /// SIGKILL with 10,000 runs in flight, then a restart: time until every run completed, and
    /// step executions repeated.
    Recovery(recovery::RecoveryArgs),
    /// Flow control: throughput with concurrency limits and throttles, memory of held-back
    /// runs, and the delay from a freed slot to the next run.
    Flow(flow::FlowArgs),
    /// The Inngest serve handler: latency and CPU per call request against the TypeScript SDK's.
    Serve(serve::ServeArgs),
    /// Internal: `hookflow dev` (the CLI's own code), which the Inngest SDK peer of `bench all`
    /// runs as a process of its own.
    #[command(hide = true)]
    Dev(hookflow::cli::DevArgs),
    /// Internal: serves the Restate peer's services with the Rust SDK (`restate-sdk`).
    #[cfg(feature = "peers")]
    #[command(hide = true)]
    RestateService(peers::restate_rust::ServiceArgs),
}

/// The allocator the example app uses, as we advise for any hookflow binary (the engine
/// allocates many small JSON nodes). `--features system-allocator` measures glibc's instead.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::All(args) => suite::all(args).await,
        Command::Fanout(args) => fanout::fanout(args).await,
        Command::Postgres(args) => postgres::postgres(args).await,
        Command::PgWorker(args) => pg_worker::worker(args).await,
        Command::Sleepers(args) => sleepers::sleepers(args).await,
        Command::Webhook(args) => webhook::webhook(args).await,
        Command::UiScale(args) => ui_scale::ui_scale(args).await,
        Command::Recovery(args) => recovery::recovery(args).await,
        Command::Flow(args) => flow::flow(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Dev(args) => args.run().await.map_err(Into::into),
        #[cfg(feature = "peers")]
        Command::RestateService(args) => peers::restate_rust::serve(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
