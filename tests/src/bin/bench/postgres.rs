//! `bench postgres`: the fan-out (`fanout`'s functions and load) on the Postgres store, consumed
//! by 1, 2 and 3 worker processes (`bench pg-worker`, this same binary) on one local server with
//! its default durability, beside DBOS on the same server in the same run; the latency from an
//! event to its runs' first step on one idle worker; and where the time goes: transactions,
//! statements and WAL flushes per run, and the server's CPU next to the workers'.
//!
//! Without `--server` (or `$PG_URL`) it runs itself again beside a throwaway cluster
//! (`tests/bench/postgres/run.sh`, with pg_stat_statements loaded), which is deleted at the end.
//! Each trial gets a new database `hookflow_bench`; DBOS creates `dbos_bench`; both are dropped.
//!
//! Each worker accepts its share of the events itself (`Engine::send_raw` in batches from
//! concurrent senders, as `bench fanout` does: the events a worker's webhooks would bring), so
//! the runs of an event start on the worker that accepted it, claimed as they are inserted;
//! a worker with nothing of its own claims others' due runs from the queue. The time runs from
//! the first event's `received_at` (read from the database) to the poll (every 20 ms) that finds
//! no run queued or leased and every run `Completed` committed: not to the last run's `ended_at`,
//! which a pass stamps before its ack commits, so a backlog of acks waiting for their group
//! would not be counted.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_postgres::{Client, NoTls};

use crate::fanout::{Latency, LATENCY_COLUMNS};
use crate::peers::{dbos, Env, Figure};
use crate::stats::{f0, f1, f2, f3, median, percentile, process_tree_cpu_s, sorted, Cpu, Table};
use crate::suite::{commit, loadavg, peers_cache, Machine};
use crate::support::Fallible;

#[derive(Args)]
pub(super) struct PostgresArgs {
    /// Events per throughput trial (each starts 2 runs).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Worker process counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    workers: Vec<usize>,
    /// Events per `send_raw` call.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent senders in each worker.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Events sent one at a time to one idle worker for the latency figure.
    #[arg(long, default_value_t = 1_000)]
    latency_events: usize,
    /// Pause between two latency events (ms), so there is no backlog.
    #[arg(long, default_value_t = 2)]
    gap_ms: u64,
    /// Events per DBOS trial (DBOS makes tens of runs/s here).
    #[arg(long, default_value_t = 200)]
    dbos_events: usize,
    /// Events sent one at a time for DBOS's latency figure.
    #[arg(long, default_value_t = 100)]
    dbos_latency_events: usize,
    /// Leave DBOS out.
    #[arg(long)]
    no_dbos: bool,
    /// Install nothing (DBOS's venv, Debian's Postgres) that is missing.
    #[arg(long)]
    no_install: bool,
    /// Connections in each worker's pool (the store's default: 16).
    #[arg(long, default_value_t = hookflow::store::PostgresOptions::default().pool_size)]
    pool_size: usize,
    /// Trials of each measurement; tables show each one and the median.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// A Postgres server to use, as a URL to one of its databases (superuser: the bench creates
    /// and drops databases). Without it, a throwaway cluster is started.
    #[arg(long, env = "PG_URL")]
    server: Option<String>,
}

/// The database each hookflow trial runs in, created anew for it.
const BENCH_DB: &str = "hookflow_bench";
/// The database DBOS creates for itself (`dbos_fanout.py`).
const DBOS_DB: &str = "dbos_bench";
/// What our own statements are called, so that pg_stat_statements' figures leave them out.
const MONITOR: &str = "bench_monitor";

pub(super) async fn postgres(args: PostgresArgs) -> Fallible<()> {
    let Some(server) = args.server.clone() else { return beside_a_throwaway_cluster(!args.no_install).await };
    let env = Env {
        cache: peers_cache()?,
        events: args.dbos_events,
        latency_events: args.dbos_latency_events,
        install: !args.no_install,
    };
    let mut pg = Server::connect(&server).await?;
    println!("# bench postgres: the fan-out on hookflow's Postgres store, and DBOS on the same server\n");
    println!("- machine: {}", Machine::read().describe());
    println!("- commit: {}", commit());
    println!("- server: {}", pg.describe().await?);
    println!(
        "- workload: {} events × 2 functions × 2 steps per trial (batches of {} from {} senders per worker), \
         workers {:?} with {} pooled connections each; latency: {} events one at a time, {} ms apart, to one idle \
         worker; DBOS {} events; {} trials",
        args.events,
        args.batch,
        args.senders,
        args.workers,
        args.pool_size,
        args.latency_events,
        args.gap_ms,
        args.dbos_events,
        args.repeat
    );
    println!("- load average at the start: {}", loadavg());

    let mut trials = Table::new(&[
        "workers",
        "trial",
        "runs",
        "first event → all runs seen completed (s)",
        "runs/s",
        "workers' CPU s / 1,000 runs",
        "Postgres CPU s / 1,000 runs",
        "commits / run",
        "statements / run",
        "WAL flushes / run",
        "WAL kB / run",
    ]);
    let mut medians = Vec::new();
    let mut statements = Vec::new();
    for &workers in &args.workers {
        let mut rates = Vec::new();
        let mut rows = Vec::new();
        for trial in 1..=args.repeat {
            let t = throughput(&args, &mut pg, workers, trial).await?;
            eprintln!("  {workers} worker(s), trial {trial}: {:.0} runs/s", t.rate());
            trials.row(vec![
                workers.to_string(),
                trial.to_string(),
                t.runs.to_string(),
                f2(t.seconds),
                f0(t.rate()),
                f2(per_1000(t.worker_cpu, t.runs)),
                f2(per_1000(t.server.cpu, t.runs)),
                f2(per_run(t.server.commits, t.runs)),
                t.server.statements.map_or_else(|| "n/a".into(), |s| f1(per_run(s, t.runs))),
                f2(per_run(t.server.wal_syncs, t.runs)),
                f2(per_run(t.server.wal_bytes, t.runs) / 1024.0),
            ]);
            if trial == 1 {
                statements.push((workers, t.runs, t.top.clone()));
            }
            rates.push(t.rate());
            rows.push(t);
        }
        medians.push((workers, median(&rates), rows));
    }
    trials.print("Throughput: hookflow on Postgres (fsync=on, synchronous_commit=on)");

    let mut latency = Table::new(&[&["trial"][..], &LATENCY_COLUMNS[..]].concat());
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for trial in 1..=args.repeat {
        let l = first_step(&args, &mut pg, trial).await?;
        p50s.push(l.first_step(50.0));
        p99s.push(l.first_step(99.0));
        latency.row([vec![trial.to_string()], l.cells()].concat());
    }
    latency.print("Latency: one idle worker, events one at a time");

    let dbos = if args.no_dbos { None } else { Some(dbos_trials(&env, &mut pg, &server, args.repeat).await) };
    println!("- load average at the end: {}", loadavg());

    for (workers, runs, top) in &statements {
        let mut table = Table::new(&["statement", "calls / run", "mean µs", "share of server time"]);
        let total: f64 = top.iter().map(|s| s.total_ms).sum();
        for s in top {
            table.row(vec![
                format!("`{}`", s.query.replace('|', "/")),
                f2(per_run(s.calls, *runs)),
                f1(s.total_ms * 1000.0 / s.calls.max(1.0)),
                format!("{:.0} %", 100.0 * s.total_ms / total.max(f64::MIN_POSITIVE)),
            ]);
        }
        table.print(&format!("Statements of the first trial with {workers} worker(s) (pg_stat_statements, by calls)"));
    }

    let dbos_rate = match &dbos {
        Some(Ok(figures)) => {
            let mut table = Table::new(&["trial", "runs", "runs/s", "event → first step p50 (ms)", "p99"]);
            for (i, f) in figures.iter().enumerate() {
                let l = sorted(f.first_step_ms.clone());
                table.row(vec![
                    (i + 1).to_string(),
                    f.runs.to_string(),
                    f1(f.rate()),
                    f3(percentile(&l, 50.0)),
                    f3(percentile(&l, 99.0)),
                ]);
            }
            table.print("DBOS Transact (Python) on the same server");
            Some(median(&figures.iter().map(Figure::rate).collect::<Vec<_>>()))
        }
        Some(Err(e)) => {
            println!("\nDBOS: not measured: {e}");
            None
        }
        None => None,
    };

    let mut summary = Table::new(&[
        "system",
        "completed runs/s (median)",
        "÷ DBOS",
        "workers' CPU s / 1,000 runs",
        "Postgres CPU s / 1,000 runs",
        "statements / run",
    ]);
    for (workers, rate, rows) in &medians {
        let m = |f: &dyn Fn(&Throughput) -> f64| median(&rows.iter().map(f).collect::<Vec<_>>());
        summary.row(vec![
            format!("hookflow, {workers} worker process(es)"),
            format!("**{}**", f0(*rate)),
            dbos_rate.map_or_else(String::new, |d| format!("{:.0}×", rate / d)),
            f2(m(&|t| per_1000(t.worker_cpu, t.runs))),
            f2(m(&|t| per_1000(t.server.cpu, t.runs))),
            if rows.iter().all(|t| t.server.statements.is_some()) {
                f1(m(&|t| per_run(t.server.statements.unwrap_or_default(), t.runs)))
            } else {
                "n/a".into()
            },
        ]);
    }
    if let Some(d) = dbos_rate {
        summary.row(vec![
            "DBOS Transact (Python)".into(),
            f1(d),
            "1×".into(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    summary.print(&format!(
        "Summary (event → first step on one idle worker: p50 {} ms, p99 {} ms, medians of the trials)",
        f3(median(&p50s)),
        f3(median(&p99s))
    ));
    Ok(())
}

/// What `bench all` shows of the Postgres store: completed runs/s of each trial for each
/// worker count, and event → first step on one idle worker over every latency trial (sorted, ms).
pub(super) struct Scaling {
    pub(super) rates: Vec<(usize, Vec<f64>)>,
    pub(super) first_step_ms: Vec<f64>,
}

/// `bench all`'s scaling rows: `bench postgres`'s throughput trials (its defaults but for the
/// counts given) for each worker count, on `server` (a URL as `--server` takes), and its
/// latency trials, measured once for all counts (they always use one idle worker).
pub(super) async fn scaling(
    server: &str,
    events: usize,
    latency_events: usize,
    workers: &[usize],
    repeat: usize,
) -> Fallible<Scaling> {
    use clap::{FromArgMatches, Parser};
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PostgresArgs,
    }
    let counts = workers.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let (events, latency_events, repeat) = (events.to_string(), latency_events.to_string(), repeat.to_string());
    let argv = [
        "postgres",
        "--no-dbos",
        "--server",
        server,
        "--events",
        &events,
        "--latency-events",
        &latency_events,
        "--workers",
        &counts,
        "--repeat",
        &repeat,
    ];
    let args = Cli::from_arg_matches(&<Cli as clap::CommandFactory>::command().try_get_matches_from(argv)?)?.args;
    let mut pg = Server::connect(server).await?;
    let mut first_step_ms = Vec::new();
    for trial in 1..=args.repeat {
        first_step_ms.extend(first_step(&args, &mut pg, trial).await?.first_step);
    }
    let mut rates = Vec::new();
    for &count in &args.workers {
        let mut trials = Vec::new();
        for trial in 1..=args.repeat {
            let t = throughput(&args, &mut pg, count, trial).await?;
            eprintln!("  hookflow on Postgres, {count} worker(s), trial {trial}: {:.0} runs/s", t.rate());
            trials.push(t.rate());
        }
        rates.push((count, trials));
    }
    Ok(Scaling { rates, first_step_ms: sorted(first_step_ms) })
}

#[allow(clippy::cast_precision_loss)]
fn per_run(x: f64, runs: u64) -> f64 {
    x / runs.max(1) as f64
}

fn per_1000(x: f64, runs: u64) -> f64 {
    per_run(x, runs) * 1000.0
}

/// Runs this same command again beside a throwaway cluster, which hands its URL over in
/// `$PG_URL` and is deleted when the command ends (`bench all` comes here too, for its scaling
/// rows). `install`: install Debian's Postgres if it is missing.
pub(super) async fn beside_a_throwaway_cluster(install: bool) -> Fallible<()> {
    let env = Env { cache: peers_cache()?, events: 0, latency_events: 0, install };
    dbos::install_postgres(&env).await?;
    let script = crate::peers::source("postgres").join("run.sh");
    let status = tokio::process::Command::new("bash")
        .arg(script)
        .arg(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env("PG_BENCH_SERVER_OPTIONS", "-c shared_preload_libraries=pg_stat_statements")
        .status()
        .await?;
    succeeded(status, "the bench beside a throwaway cluster")
}

fn succeeded(status: std::process::ExitStatus, what: &str) -> Fallible<()> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})").into())
    }
}

/// The server, through a connection to its `postgres` database, and what it can tell.
struct Server {
    admin: Client,
    url: String,
    /// The postmaster, whose process tree is the server's CPU.
    postmaster: u32,
    /// Whether pg_stat_statements is loaded.
    statements: bool,
}

/// What the server did between two snapshots.
#[derive(Clone, Copy, Default)]
struct ServerWork {
    cpu: f64,
    commits: f64,
    statements: Option<f64>,
    wal_syncs: f64,
    wal_bytes: f64,
}

/// One line of pg_stat_statements.
#[derive(Clone)]
struct Statement {
    query: String,
    calls: f64,
    total_ms: f64,
}

async fn connect(url: &str) -> Fallible<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("bench: a monitoring connection ended: {e}");
        }
    });
    Ok(client)
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> Fallible<String> {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").ok_or_else(|| format!("`{url}` is not a postgres:// URL"))?;
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    Ok(match query {
        Some(q) => format!("{scheme}://{host}/{db}?{q}"),
        None => format!("{scheme}://{host}/{db}"),
    })
}

impl Server {
    async fn connect(url: &str) -> Fallible<Server> {
        let admin = connect(&with_database(url, "postgres")?).await?;
        let backend: i32 = admin.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
        let stat = std::fs::read_to_string(format!("/proc/{backend}/stat"))
            .map_err(|e| format!("the server's processes are not readable here (is it local?): {e}"))?;
        let postmaster = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .ok_or("cannot read the postmaster's pid")?;
        let statements = admin.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.is_ok()
            && admin.batch_execute("SELECT pg_stat_statements_reset()").await.is_ok();
        Ok(Server { admin, url: url.to_owned(), postmaster, statements })
    }

    async fn describe(&self) -> Fallible<String> {
        let mut settings = Vec::new();
        for name in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "wal_sync_method",
            "shared_buffers",
            "max_connections",
        ] {
            let value: String = self.admin.query_one(&format!("SHOW {name}"), &[]).await?.get(0);
            settings.push(format!("{name}={value}"));
        }
        if !self.statements {
            settings.push("pg_stat_statements not loaded (statements per run not measured)".into());
        }
        Ok(format!("Postgres, {}, postmaster pid {}", settings.join(", "), self.postmaster))
    }

    /// Drops `db` if it exists, closing its connections.
    async fn drop_database(&self, db: &str) -> Fallible<()> {
        self.admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await?;
        Ok(())
    }

    /// A new, empty database `db`, and its URL.
    async fn fresh_database(&self, db: &str) -> Fallible<String> {
        self.drop_database(db).await?;
        self.admin.batch_execute(&format!("CREATE DATABASE {db}")).await?;
        with_database(&self.url, db)
    }

    /// Waits until no connection to `db` is left (each connection's process reports its
    /// statistics as it ends).
    async fn disconnected(&self, db: &str) -> Fallible<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 =
                self.admin.query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", &[&db]).await?.get(0);
            if n == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{n} connections to {db} are still open after 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's counters for `db` now; resets pg_stat_statements.
    async fn snapshot(&self, db: &str) -> Fallible<ServerWork> {
        let work = self.counters(db).await?;
        if self.statements {
            self.admin.batch_execute("SELECT pg_stat_statements_reset()").await?;
        }
        Ok(work)
    }

    async fn counters(&self, db: &str) -> Fallible<ServerWork> {
        let row = self
            .admin
            .query_one(
                "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::float8,
                        wal_sync::float8, wal_bytes::float8 FROM pg_stat_wal",
                &[&db],
            )
            .await?;
        Ok(ServerWork {
            cpu: process_tree_cpu_s(self.postmaster)?,
            commits: row.get::<_, Option<f64>>(0).unwrap_or(0.0),
            statements: None,
            wal_syncs: row.get(1),
            wal_bytes: row.get(2),
        })
    }

    /// What the server did in `db` since `before`, leaving out `ours` commits of this bench's
    /// own; and its statements by calls.
    async fn since(&self, db: &str, before: ServerWork, ours: f64) -> Fallible<(ServerWork, Vec<Statement>)> {
        let now = self.counters(db).await?;
        let top = if self.statements {
            let rows = self
                .admin
                .query(
                    "SELECT left(regexp_replace(s.query, '\\s+', ' ', 'g'), 110), s.calls::float8, s.total_exec_time
                     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                     WHERE d.datname = $1 AND s.query NOT LIKE $2 ORDER BY s.calls DESC",
                    &[&db, &format!("%{MONITOR}%")],
                )
                .await?;
            rows.iter().map(|r| Statement { query: r.get(0), calls: r.get(1), total_ms: r.get(2) }).collect()
        } else {
            Vec::new()
        };
        let work = ServerWork {
            cpu: now.cpu - before.cpu,
            commits: now.commits - before.commits - ours,
            statements: self.statements.then(|| top.iter().map(|s: &Statement| s.calls).sum()),
            wal_syncs: now.wal_syncs - before.wal_syncs,
            wal_bytes: now.wal_bytes - before.wal_bytes,
        };
        Ok((work, top.into_iter().take(14).collect()))
    }
}

/// A `bench pg-worker` process and its command lines.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    async fn start(url: &str, pool_size: usize) -> Fallible<Worker> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("pg-worker")
            .arg("--pool-size")
            .arg(pool_size.to_string())
            .env("HOOKFLOW_DATABASE_URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let mut worker = Worker { child, stdin, stdout };
        worker.expect("ready").await?;
        Ok(worker)
    }

    async fn command(&mut self, line: &str) -> Fallible<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// The next answer, which starts with `word`; the rest of it.
    async fn expect(&mut self, word: &str) -> Fallible<String> {
        let line = self.stdout.next_line().await?.ok_or_else(|| format!("a worker ended before answering `{word}`"))?;
        line.strip_prefix(word)
            .map(|rest| rest.trim().to_owned())
            .ok_or_else(|| format!("a worker answered `{line}`, not `{word}`").into())
    }

    fn cpu(&self) -> Fallible<f64> {
        Cpu::of(self.child.id().ok_or("a worker has exited")?)
    }

    /// Closes its stdin (it shuts its engine down) and waits for it to exit.
    async fn stop(self) -> Fallible<()> {
        let Worker { mut child, stdin, .. } = self;
        drop(stdin);
        succeeded(tokio::time::timeout(Duration::from_secs(30), child.wait()).await??, "a worker")
    }
}

struct Throughput {
    runs: u64,
    seconds: f64,
    worker_cpu: f64,
    server: ServerWork,
    top: Vec<Statement>,
}

impl Throughput {
    fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let runs = self.runs as f64;
        runs / self.seconds
    }
}

async fn throughput(args: &PostgresArgs, pg: &mut Server, workers: usize, trial: usize) -> Fallible<Throughput> {
    let url = pg.fresh_database(BENCH_DB).await?;
    let mut procs = Vec::with_capacity(workers);
    for _ in 0..workers {
        procs.push(Worker::start(&url, args.pool_size).await?);
    }
    // Connections opened at start-up report their statistics within a second of going idle.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = pg.snapshot(BENCH_DB).await?;
    let cpu_before: f64 = procs.iter().map(Worker::cpu).sum::<Fallible<f64>>()?;
    let expected = u64::try_from(args.events * 2)?;
    let tag = format!("w{workers}t{trial}");
    let share = args.events.div_ceil(workers);
    for (i, w) in procs.iter_mut().enumerate() {
        let from = (i * share).min(args.events);
        let count = share.min(args.events - from);
        w.command(&format!("send {tag} {from} {count} {} {}", args.batch, args.senders)).await?;
    }
    for w in &mut procs {
        w.expect("sent").await?;
    }
    let poll = connect(&url).await?;
    let mut ours = 0.0;
    let deadline = Instant::now() + Duration::from_secs(600);
    // Whether any run is still queued or leased, answered from the queue's partial indexes
    // (a run's last ack clears both in the commit that completes it): a `count(*)` over `runs`
    // every 20 ms cost the server 2-3.5 s of CPU per trial (under `auto_explain`), CPU the
    // workers then lacked. Once none is, the count confirms every run completed.
    let queued = format!(
        "SELECT EXISTS (SELECT 1 FROM hookflow.runs WHERE lease_token IS NOT NULL) \
         OR EXISTS (SELECT 1 FROM hookflow.runs WHERE wake_at IS NOT NULL AND lease_token IS NULL AND NOT gated) \
         OR EXISTS (SELECT 1 FROM hookflow.runs WHERE wake_at IS NOT NULL AND lease_token IS NULL AND gated) AS {MONITOR}"
    );
    let completed = format!("SELECT count(*) AS {MONITOR} FROM hookflow.runs WHERE status = 'Completed'");
    let seen_at = loop {
        ours += 1.0;
        let waiting: bool = poll.query_one(&queued, &[]).await?.get(0);
        let at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
        let done: Option<i64> = if waiting {
            None
        } else {
            ours += 1.0;
            Some(poll.query_one(&completed, &[]).await?.get(0))
        };
        if let Some(done) = done {
            if u64::try_from(done)? >= expected {
                break at;
            }
        }
        if Instant::now() > deadline {
            let done = match done {
                Some(done) => done,
                None => poll.query_one(&completed, &[]).await?.get(0),
            };
            return Err(format!("{done} of {expected} runs completed after 10 minutes").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let worker_cpu = procs.iter().map(Worker::cpu).sum::<Fallible<f64>>()? - cpu_before;
    // Now, not once the workers are gone: their shutdown is no part of the work.
    let server_cpu = process_tree_cpu_s(pg.postmaster)?;
    ours += 1.0;
    let span = poll
        .query_one(
            &format!(
                "SELECT (SELECT min(received_at) FROM hookflow.events) AS {MONITOR}, (SELECT count(*) FROM hookflow.runs)"
            ),
            &[],
        )
        .await?;
    let (first, all): (i64, i64) = (span.get(0), span.get(1));
    if u64::try_from(all)? != expected {
        return Err(format!("{all} runs in the database, expected {expected}").into());
    }
    drop(poll);
    for w in procs {
        w.stop().await?;
    }
    pg.disconnected(BENCH_DB).await?;
    let (mut server, top) = pg.since(BENCH_DB, before, ours).await?;
    server.cpu = server_cpu - before.cpu;
    pg.drop_database(BENCH_DB).await?;
    #[allow(clippy::cast_precision_loss)]
    let seconds = (seen_at as f64 - first as f64) / 1000.0;
    Ok(Throughput { runs: expected, seconds, worker_cpu, server, top })
}

/// Event → first step on one idle worker, and `send`'s commit (sorted).
async fn first_step(args: &PostgresArgs, pg: &mut Server, trial: usize) -> Fallible<Latency> {
    let url = pg.fresh_database(BENCH_DB).await?;
    let mut worker = Worker::start(&url, args.pool_size).await?;
    worker.command(&format!("latency l{trial} {} {}", args.latency_events, args.gap_ms)).await?;
    let answer = worker.expect("latency").await?;
    worker.stop().await?;
    pg.disconnected(BENCH_DB).await?;
    pg.drop_database(BENCH_DB).await?;
    let list =
        |s: Option<&str>| -> Vec<f64> { s.unwrap_or_default().split(',').filter_map(|v| v.parse().ok()).collect() };
    let mut parts = answer.split_whitespace();
    Ok(Latency { first_step: list(parts.next()), commit: list(parts.next()) }.sorted())
}

async fn dbos_trials(env: &Env, pg: &mut Server, server: &str, repeat: usize) -> Fallible<Vec<Figure>> {
    dbos::install(env).await?;
    let mut figures = Vec::new();
    for trial in 1..=repeat {
        pg.drop_database(DBOS_DB).await?;
        let figure = dbos::trial(env, dbos::SystemDb::Postgres(server)).await;
        pg.drop_database(DBOS_DB).await?;
        let figure = figure?;
        eprintln!("  DBOS trial {trial}: {:.1} runs/s", figure.rate());
        figures.push(figure);
    }
    Ok(figures)
}
