//! `bench all`: the fan-out on hookflow and on every peer (`peers/`), in one run, printed as one
//! table of figures and ratios with the machine and the commit. It installs the peers it lacks
//! (into `target/bench-peers` and `tests/bench/restate/node_modules`) unless `--no-install`;
//! a peer that cannot be installed or fails is listed as not measured, with the reason.
//! hookflow's rows on Postgres (1, 2 and 3 worker processes, `bench postgres`'s throughput
//! trials) are measured on a throwaway cluster that `bench all` runs itself beside (or on
//! `--postgres-server`), and shown again beside DBOS on Postgres in a table of their own.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::fanout::{self, FanoutArgs};
use crate::peers::{Env, Figure, Peer};
use crate::postgres::Scaling;
use crate::stats::{f0, f1, f3, median, percentile, sorted, Table};
use crate::support::{temp_dir, Common, DurabilityArg, Fallible};

#[derive(Args)]
pub(super) struct AllArgs {
    /// Events per hookflow trial (each starts 2 runs).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Events sent one at a time for hookflow's latency figure.
    #[arg(long, default_value_t = 1_000)]
    latency_events: usize,
    /// Events per peer trial (the peers are one to three orders of magnitude slower).
    #[arg(long, default_value_t = 1_000)]
    peer_events: usize,
    /// Events per trial for the slowest peers (DBOS, Temporal: tens of runs/s here).
    #[arg(long, default_value_t = 200)]
    slow_peer_events: usize,
    /// Events sent one at a time for a peer's latency figure.
    #[arg(long, default_value_t = 100)]
    peer_latency_events: usize,
    /// Only these peers (comma-separated): dbos-sqlite, dbos-postgres, duroxide, apalis,
    /// restate-ts, restate-rust, temporal, inngest-ts.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave out these peers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Install nothing: a peer that is missing is reported as not measured.
    #[arg(long)]
    no_install: bool,
    /// Worker process counts for hookflow's rows on Postgres (`bench postgres`'s throughput
    /// trials on one local server: fsync=on, synchronous_commit=on).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    postgres_workers: Vec<usize>,
    /// Events per trial on Postgres (each starts 2 runs).
    #[arg(long, default_value_t = 10_000)]
    postgres_events: usize,
    /// Leave hookflow's rows on Postgres out (then no Postgres cluster is started for them).
    #[arg(long)]
    no_postgres: bool,
    /// The Postgres server for hookflow's rows on Postgres, as a URL to one of its databases
    /// (superuser). Without it, `bench all` runs itself again beside a throwaway cluster.
    #[arg(long, env = "PG_URL")]
    postgres_server: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// What the table says about one system.
enum Outcome {
    Measured(Vec<Figure>),
    NotMeasured(String),
}

pub(super) async fn all(args: AllArgs) -> Fallible<()> {
    let peers = selected(&args)?;
    let postgres = if args.no_postgres {
        None
    } else {
        match &args.postgres_server {
            Some(server) => Some(server.clone()),
            None => return crate::postgres::beside_a_throwaway_cluster(!args.no_install).await,
        }
    };
    let dir = temp_dir(&args.common)?;
    let cache = peers_cache()?;
    let machine = Machine::read();
    println!("# bench all: fan-out on hookflow and {} peers\n", peers.len());
    println!("- machine: {}", machine.describe());
    println!("- commit: {}", commit());
    println!(
        "- workload: per event, 2 functions × 2 durable steps; hookflow {} events per trial, peers {} \
         (the slowest {}); latency: events one at a time, 2 ms apart (hookflow {}, peers {}); {} trials each",
        args.events,
        args.peer_events,
        args.slow_peer_events,
        args.latency_events,
        args.peer_latency_events,
        args.common.repeat
    );
    println!("- load average at the start: {}", loadavg());

    let fan = FanoutArgs {
        events: args.events,
        batch: 100,
        senders: 4,
        latency_events: args.latency_events,
        gap_ms: 2,
        durability: DurabilityArg::Full,
        common: args.common.clone(),
    };
    let mut hookflow = Vec::new();
    for trial in 1..=args.common.repeat {
        let figure = fanout::figure(&fan, dir.path(), trial).await?;
        eprintln!("  hookflow trial {trial}: {:.0} runs/s", figure.rate());
        hookflow.push(figure);
    }
    let scaling = match &postgres {
        None => None,
        Some(server) => Some(
            crate::postgres::scaling(
                server,
                args.postgres_events,
                args.latency_events,
                &args.postgres_workers,
                args.common.repeat,
            )
            .await?,
        ),
    };

    let mut results = Vec::new();
    for peer in peers {
        let env = Env {
            cache: cache.clone(),
            events: if peer.slow() { args.slow_peer_events } else { args.peer_events },
            latency_events: args.peer_latency_events,
            install: !args.no_install,
        };
        let outcome = match peer.install(&env).await {
            Err(e) => Outcome::NotMeasured(e.to_string()),
            Ok(()) => measure(peer, &env, dir.path(), args.common.repeat).await,
        };
        results.push((peer, outcome));
    }
    println!("- load average at the end: {}", loadavg());
    print_tables(&hookflow, scaling.as_ref(), &results, &args);
    Ok(())
}

async fn measure(peer: Peer, env: &Env, dir: &Path, repeat: usize) -> Outcome {
    let mut figures = Vec::new();
    for trial in 1..=repeat {
        let trial_dir = dir.join(format!("{}-{trial}", peer.id()));
        let result = match std::fs::create_dir_all(&trial_dir) {
            Ok(()) => peer.trial(env, &trial_dir).await,
            Err(e) => Err(e.into()),
        };
        // Keep the disk clean as we go: some peers write hundreds of MiB per trial.
        let _ = std::fs::remove_dir_all(&trial_dir);
        match result {
            Ok(figure) => {
                eprintln!("  {} trial {trial}: {:.1} runs/s", peer.id(), figure.rate());
                figures.push(figure);
            }
            Err(e) => {
                eprintln!("  {} trial {trial} failed: {e}", peer.id());
                return Outcome::NotMeasured(format!("trial {trial} failed: {e}"));
            }
        }
    }
    Outcome::Measured(figures)
}

fn selected(args: &AllArgs) -> Fallible<Vec<Peer>> {
    let known: Vec<&str> = Peer::ALL.iter().map(|p| p.id()).collect();
    if let Some(bad) = args.only.iter().chain(&args.skip).find(|name| !known.contains(&name.as_str())) {
        return Err(format!("no peer `{bad}`: the peers are {}", known.join(", ")).into());
    }
    Ok(Peer::ALL
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.id()))
        .filter(|p| !args.skip.iter().any(|s| s == p.id()))
        .collect())
}

/// Completed runs/s of each trial, and event → first step latencies of all trials together.
fn summarize(figures: &[Figure]) -> (Vec<f64>, Vec<f64>) {
    let rates = figures.iter().map(Figure::rate).collect();
    let latencies = sorted(figures.iter().flat_map(|f| f.first_step_ms.iter().copied()).collect());
    (rates, latencies)
}

fn print_tables(hookflow: &[Figure], scaling: Option<&Scaling>, results: &[(Peer, Outcome)], args: &AllArgs) {
    let (hook_rates, hook_latency) = summarize(hookflow);
    let hook_rate = median(&hook_rates);
    let mut table = Table::new(&[
        "system",
        "durability",
        "runs per trial",
        "completed runs/s (median)",
        "trials",
        "hookflow's rate ÷ this",
        "event → first step p50 (ms)",
        "p99 (ms)",
        "hookflow's p99 ÷ this p50",
    ]);
    let trials = |rates: &[f64]| rates.iter().map(|r| f1(*r)).collect::<Vec<_>>().join(", ");
    let hook_p99 = percentile(&hook_latency, 99.0);
    table.row(vec![
        "**hookflow** (embedded, SQLite)".into(),
        "WAL, synchronous=FULL (default)".into(),
        (args.events * 2).to_string(),
        format!("**{}**", f0(hook_rate)),
        trials(&hook_rates),
        "1×".into(),
        f3(percentile(&hook_latency, 50.0)),
        f3(hook_p99),
        String::new(),
    ]);
    if let Some(scaling) = scaling {
        let latency = &scaling.first_step_ms;
        for (workers, rates) in &scaling.rates {
            table.row(vec![
                format!("**hookflow** on Postgres, {workers} worker process(es)"),
                "Postgres, fsync=on, synchronous_commit=on".into(),
                (args.postgres_events * 2).to_string(),
                f0(median(rates)),
                trials(rates),
                ratio(hook_rate / median(rates)),
                f3(percentile(latency, 50.0)),
                f3(percentile(latency, 99.0)),
                String::new(),
            ]);
        }
    }
    for (peer, outcome) in results {
        match outcome {
            Outcome::Measured(figures) => {
                let (rates, latency) = summarize(figures);
                let rate = median(&rates);
                let (p50, p99) = if latency.is_empty() {
                    ("not reported".to_owned(), String::new())
                } else {
                    (f3(percentile(&latency, 50.0)), f3(percentile(&latency, 99.0)))
                };
                let latency_ratio = if latency.is_empty() {
                    String::new()
                } else {
                    format!("{:.3}", hook_p99 / percentile(&latency, 50.0))
                };
                table.row(vec![
                    peer.name().into(),
                    peer.durability().into(),
                    (figures.first().map_or(0, |f| f.runs)).to_string(),
                    f1(rate),
                    trials(&rates),
                    ratio(hook_rate / rate),
                    p50,
                    p99,
                    latency_ratio,
                ]);
            }
            Outcome::NotMeasured(why) => table.row(vec![
                peer.name().into(),
                peer.durability().into(),
                String::new(),
                format!("not measured: {}", why.replace('|', "/")),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
        }
    }
    table.print("Fan-out: hookflow beside every peer (same run; latency percentiles over all trials' runs)");
    if let Some(scaling) = scaling {
        print_scaling(scaling, results);
    }
}

/// hookflow's rows on Postgres beside DBOS on Postgres, the peer that shares the database.
fn print_scaling(scaling: &Scaling, results: &[(Peer, Outcome)]) {
    let dbos = results.iter().find_map(|(peer, outcome)| match (peer, outcome) {
        (Peer::DbosPostgres, Outcome::Measured(figures)) => Some(median(&summarize(figures).0)),
        _ => None,
    });
    let mut table =
        Table::new(&["worker processes", "completed runs/s (median)", "÷ one worker", "÷ DBOS on Postgres"]);
    let one = scaling.rates.iter().find(|(w, _)| *w == 1).map(|(_, r)| median(r));
    for (workers, rates) in &scaling.rates {
        let rate = median(rates);
        table.row(vec![
            workers.to_string(),
            f0(rate),
            one.map_or_else(String::new, |o| format!("{:.2}×", rate / o)),
            dbos.map_or_else(|| "DBOS on Postgres not measured".into(), |d| ratio(rate / d)),
        ]);
    }
    table.print(&format!(
        "Scaling: hookflow on one local Postgres (event → first step on one idle worker: p50 {} ms, p99 {} ms)",
        f3(percentile(&scaling.first_step_ms, 50.0)),
        f3(percentile(&scaling.first_step_ms, 99.0))
    ));
}

/// hookflow's rate over a peer's, as the table shows it.
fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}× (the peer is faster)")
    }
}

/// `target/bench-peers`, beside the `release` directory this binary is in.
pub(crate) fn peers_cache() -> Fallible<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe.parent().and_then(Path::parent).ok_or("cannot find the target directory of the bench binary")?;
    let cache = target.join("bench-peers");
    std::fs::create_dir_all(&cache)?;
    Ok(cache)
}

/// The commit measured (with `+dirty` when tracked files differ from it).
pub(crate) fn commit() -> String {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else { return "unknown (no git)".into() };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}+dirty")
    } else {
        head
    }
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// What the numbers were measured on.
pub(crate) struct Machine {
    cores: usize,
    cpu: String,
    ram_gib: f64,
    kernel: String,
}

impl Machine {
    pub(crate) fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|v| v.split_once(':')).map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        Machine {
            cores: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            cpu,
            ram_gib: kib / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "?".into(), |s| s.trim().into()),
        }
    }

    pub(crate) fn describe(&self) -> String {
        format!("{} cores ({}), {} GiB RAM, Linux {}", self.cores, self.cpu, f0(self.ram_gib), self.kernel)
    }
}
