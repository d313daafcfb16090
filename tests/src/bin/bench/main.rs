//! hookflow's benchmarks: what the embedded engine sustains on one SQLite file, and what the
//! tools people use today do with the same work. Results and how to read them: `BENCHMARKS.md`
//! at the repository root.
//!
//! ```text
//! cargo build --release -p hookflow-tests --bin bench
//! target/release/bench fanout --events 10000      # runs/s, event → first step latency
//! target/release/bench recovery                   # SIGKILL with 10,000 runs in flight, then restart
//! target/release/bench flow                       # concurrency/throttle cost, held-back runs, hand-off
//! target/release/bench serve                      # Inngest call requests: hookflow vs the TypeScript SDK
//! target/release/bench sleepers --runs 100000     # memory per sleeping run, timer lateness
//! target/release/bench webhook --requests 60000   # verified Clerk webhooks/s over loopback (wrk)
//! target/release/bench ui-scale --rows 1000000    # dev UI queries over 1M events and 1M runs
//! ```
//!
//! Every subcommand repeats its measurement (`--repeat`), prints each trial and the median as
//! Markdown tables and exits 0: these are measurements to read, not tests that pass or fail.
//! Databases live in a temporary directory under `--dir` (default: the system's), removed at
//! the end; `ui-scale --db FILE` keeps its (large) database so that later runs reuse it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand, ValueEnum};
use hookflow::engine::Engine;
use hookflow::prelude::*;
use hookflow::store::{
    Batch, Durability, EventQuery, NewEvent, NewRun, PendingOp, Queries, RunLog, RunQuery, RunRecord, RunState,
    RunStatus, SqliteStore, StoredEvent,
};
use hookflow::webhook::EventSource;
use hookflow::{ErrorInfo, RawEvent, Registry, State};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;

/// Anything that stops a benchmark: it is reported and the process exits non-zero.
type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where the peer programs live in the source tree.
const BENCH_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench");
/// The Clerk fixture whose `data` every benchmark event carries.
const USER_CREATED: &str = "user.created";

mod flow;
mod recovery;
mod serve;

#[derive(Parser)]
#[command(name = "bench", about = "hookflow's benchmarks (results in BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Events fanned out to 2 functions × 2 steps on SQLite: completed runs/s, and the latency
    /// from an event to its runs' first step when there is no backlog.
    Fanout(FanoutArgs),
    /// Runs suspended on `step.sleep`: resident memory they cost, and how late timers fire.
    Sleepers(SleepersArgs),
    /// Svix-signed Clerk webhooks over loopback, driven by wrk: verified and committed per
    /// second, and latency; the same requests against a Node server (svix + better-sqlite3).
    Webhook(WebhookArgs),
    /// The dev UI's queries (Runs and Events pages, `GET /v1/events`) over a large store.
    UiScale(UiScaleArgs),
    /// SIGKILL with 10,000 runs in flight, then a restart: time until every run completed, and
    /// step executions repeated.
    Recovery(recovery::RecoveryArgs),
    /// Flow control: throughput with concurrency limits and throttles, memory of held-back
    /// runs, and the delay from a freed slot to the next run.
    Flow(flow::FlowArgs),
    /// The Inngest serve handler: latency and CPU per call request against the TypeScript SDK's.
    Serve(serve::ServeArgs),
}

/// Options every benchmark takes.
#[derive(Args, Clone)]
struct Common {
    /// Trials; tables show each one and the median.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Where the temporary databases go (a directory on the disk to measure).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DurabilityArg {
    /// `synchronous=FULL` (hookflow's default).
    Full,
    /// `synchronous=NORMAL`.
    Normal,
    /// Both, one after the other.
    Both,
}

impl DurabilityArg {
    fn modes(self) -> Vec<Durability> {
        match self {
            DurabilityArg::Full => vec![Durability::Full],
            DurabilityArg::Normal => vec![Durability::Normal],
            DurabilityArg::Both => vec![Durability::Full, Durability::Normal],
        }
    }
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    }
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
        Command::Fanout(args) => fanout(args).await,
        Command::Sleepers(args) => sleepers(args).await,
        Command::Webhook(args) => webhook(args).await,
        Command::UiScale(args) => ui_scale(args).await,
        Command::Recovery(args) => recovery::recovery(args).await,
        Command::Flow(args) => flow::flow(args).await,
        Command::Serve(args) => serve::serve(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

// =============================================================================================
// Shared helpers

/// A Markdown table, printed as it is built so that a long benchmark shows progress.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Self {
        Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn print(&self, title: &str) {
        let mut out = format!("\n### {title}\n\n| {} |\n|", self.headers.join(" | "));
        for _ in &self.headers {
            out.push_str("---|");
        }
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        println!("{out}");
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Truncation is intended: the rank is a small positive whole number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn median(values: &[f64]) -> f64 {
    let s = sorted(values.to_vec());
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn f0(x: f64) -> String {
    format!("{x:.0}")
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

/// Microseconds since the Unix epoch.
fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn now_ms() -> i64 {
    now_us() / 1_000
}

/// A line of `/proc/self/status` in MiB (`VmRSS`, `VmHWM`).
fn proc_status_mib(key: &str) -> Fallible<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| format!("/proc/self/status has no {key} line (not Linux?)"))?;
    let kib: f64 = line
        .trim_start_matches(key)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|e| format!("cannot read {key} from `{line}`: {e}"))?;
    Ok(kib / 1024.0)
}

/// CPU seconds (user + system) in a `/proc/.../stat` line; the kernel counts in ticks of
/// 1/100 s on Linux.
fn stat_cpu_s(stat: &str) -> Option<f64> {
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// CPU time used so far: by this process, and by its SQLite writer threads.
#[derive(Clone, Copy)]
struct Cpu {
    process: f64,
    writer: f64,
}

impl Cpu {
    fn now() -> Fallible<Cpu> {
        let process = stat_cpu_s(&std::fs::read_to_string("/proc/self/stat")?).ok_or("cannot read /proc/self/stat")?;
        let mut writer = 0.0;
        for task in std::fs::read_dir("/proc/self/task")? {
            let dir = task?.path();
            let is_writer = std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == "hookflow-sqlite");
            if is_writer {
                writer += std::fs::read_to_string(dir.join("stat")).ok().and_then(|s| stat_cpu_s(&s)).unwrap_or(0.0);
            }
        }
        Ok(Cpu { process, writer })
    }

    /// CPU used by another process so far.
    fn of(pid: u32) -> Fallible<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        Ok(stat_cpu_s(&stat).ok_or("cannot read a /proc stat line")?)
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu { process: self.process - before.process, writer: self.writer - before.writer }
    }
}

/// The temporary directory every database of a benchmark goes into.
fn temp_dir(common: &Common) -> Fallible<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("hookflow-bench-");
    Ok(match &common.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            builder.tempdir_in(dir)?
        }
        None => builder.tempdir()?,
    })
}

/// Size of a SQLite database with its WAL, in MiB.
fn db_size_mib(path: &Path) -> f64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    #[allow(clippy::cast_precision_loss)]
    let total = (size(path.to_path_buf()) + size(PathBuf::from(wal))) as f64;
    total / (1024.0 * 1024.0)
}

/// One number from a SQLite file, read beside the engine on a connection of our own.
fn query_count(path: &Path, sql: &str) -> Fallible<i64> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

/// The `data` of the Clerk `user.created` fixture.
fn user_template() -> Fallible<Value> {
    hookflow::clerk::fixtures::sample_data(USER_CREATED).ok_or_else(|| "no user.created fixture".into())
}

/// A `clerk/user.created` event with its own user id and event id.
fn user_created(template: &Value, tag: &str, i: usize) -> RawEvent {
    let mut data = template.clone();
    data["id"] = json!(format!("user_{tag}_{i:07}"));
    RawEvent::new("clerk/user.created", data).with_id(format!("evt_{tag}_{i:07}"))
}

/// Sends pre-built batches from `senders` concurrent tasks; returns when all are committed.
async fn send_all(engine: &Engine, batches: Vec<Vec<RawEvent>>, senders: usize) -> Fallible<()> {
    let queue = Arc::new(Mutex::new(batches));
    let mut tasks = JoinSet::new();
    for _ in 0..senders.max(1) {
        let queue = queue.clone();
        let engine = engine.clone();
        tasks.spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| "batch queue poisoned")?.pop();
                let Some(batch) = next else { return Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) };
                engine.send_raw(batch, EventSource::Code).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

fn registry(defs: &[&'static hookflow::FunctionDef]) -> Result<Registry, hookflow::DuplicateFunction> {
    let mut registry = Registry::empty();
    for def in defs {
        registry.add(def)?;
    }
    Ok(registry)
}

// =============================================================================================
// 1. Fan-out

#[derive(Args)]
struct FanoutArgs {
    /// Events per throughput trial (each starts 2 runs).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Events per `engine.send` call.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Events sent one at a time for the latency trial.
    #[arg(long, default_value_t = 2_000)]
    latency_events: usize,
    /// Pause between two latency events (ms), so there is no backlog.
    #[arg(long, default_value_t = 2)]
    gap_ms: u64,
    /// SQLite durability.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Both)]
    durability: DurabilityArg,
    /// A Python interpreter with `dbos` installed: runs the same workload on DBOS afterwards.
    #[arg(long)]
    dbos_python: Option<PathBuf>,
    /// Events for the DBOS peer (it is about 100 times slower than hookflow).
    #[arg(long, default_value_t = 500)]
    dbos_events: usize,
    /// Also run the workload on Restate (`tests/bench/restate`, after `npm ci` there); uses
    /// Restate's default ports 8080, 9070, 5122 and 9080.
    #[arg(long)]
    restate: bool,
    /// Events for the Restate peer.
    #[arg(long, default_value_t = 2_000)]
    restate_events: usize,
    #[command(flatten)]
    common: Common,
}

/// Where the fan-out functions note when each run's first step started.
#[derive(Default)]
struct Probe {
    enabled: AtomicBool,
    first_step: Mutex<HashMap<(String, &'static str), Instant>>,
}

impl Probe {
    fn first_step(&self, function: &'static str, event_id: &str) {
        if self.enabled.load(Ordering::Relaxed) {
            if let Ok(mut map) = self.first_step.lock() {
                map.entry((event_id.to_owned(), function)).or_insert_with(Instant::now);
            }
        }
    }
}

/// What both fan-out functions do: two steps, as a sync-to-database function would.
async fn two_steps(
    function: &'static str,
    event: &Event<clerk::UserCreated>,
    step: &Step,
    probe: &Probe,
) -> Result<usize> {
    let len: usize = step
        .run("load-user", || async {
            probe.first_step(function, &event.id);
            Ok(event.data.id.len())
        })
        .await?;
    let total: usize = step.run("record", || async move { Ok(len + 1) }).await?;
    Ok(total)
}

#[inngest_fn(id = "bench-fan-a", event = "clerk/user.created")]
async fn fan_a(event: Event<clerk::UserCreated>, step: Step, probe: Dep<Probe>) -> Result<usize> {
    two_steps("bench-fan-a", &event, &step, &probe).await
}

#[inngest_fn(id = "bench-fan-b", event = "clerk/user.created")]
async fn fan_b(event: Event<clerk::UserCreated>, step: Step, probe: Dep<Probe>) -> Result<usize> {
    two_steps("bench-fan-b", &event, &step, &probe).await
}

struct FanoutEngine {
    engine: Engine,
    probe: Arc<Probe>,
    path: PathBuf,
}

async fn fanout_engine(dir: &Path, name: &str, durability: Durability) -> Fallible<FanoutEngine> {
    let path = dir.join(format!("{name}.db"));
    let store = Arc::new(SqliteStore::open_with(&path, durability)?);
    let mut state = State::default();
    state.insert(Probe::default());
    let probe = state.get::<Probe>().ok_or("probe missing from state")?;
    let engine =
        Engine::builder("bench", registry(&[fan_a::DEF, fan_b::DEF])?).store(store).state(state).start().await?;
    Ok(FanoutEngine { engine, probe, path })
}

struct Throughput {
    runs: i64,
    send_s: f64,
    total_s: f64,
    cpu: Cpu,
}

async fn fanout_throughput(
    args: &FanoutArgs,
    dir: &Path,
    durability: Durability,
    trial: usize,
) -> Fallible<Throughput> {
    let tag = format!("{}{trial}", durability_name(durability).to_lowercase());
    let f = fanout_engine(dir, &format!("fanout-{tag}"), durability).await?;
    let template = user_template()?;
    let events: Vec<RawEvent> = (0..args.events).map(|i| user_created(&template, &tag, i)).collect();
    let mut batches: Vec<Vec<RawEvent>> = events.chunks(args.batch.max(1)).map(<[RawEvent]>::to_vec).collect();
    // Senders pop from the end: reverse so events go out in order.
    batches.reverse();
    let cpu = Cpu::now()?;
    let start = Instant::now();
    send_all(&f.engine, batches, args.senders).await?;
    let send_s = start.elapsed().as_secs_f64();
    f.engine.settle().await;
    let total_s = start.elapsed().as_secs_f64();
    let cpu = Cpu::now()?.since(cpu);
    let runs = query_count(&f.path, "SELECT count(*) FROM runs WHERE status = 'Completed'")?;
    let expected = i64::try_from(args.events * 2)?;
    if runs != expected {
        return Err(format!("{runs} runs completed, expected {expected}").into());
    }
    f.engine.shutdown(Duration::from_secs(5)).await;
    Ok(Throughput { runs, send_s, total_s, cpu })
}

struct Latency {
    /// Event sent → a run's first step started (ms), one per run.
    first_step: Vec<f64>,
    /// `engine.send` of one event, i.e. its durable commit (ms).
    commit: Vec<f64>,
}

async fn fanout_latency(args: &FanoutArgs, dir: &Path, durability: Durability, trial: usize) -> Fallible<Latency> {
    let tag = format!("lat{}{trial}", durability_name(durability).to_lowercase());
    let f = fanout_engine(dir, &format!("fanout-{tag}"), durability).await?;
    f.probe.enabled.store(true, Ordering::Relaxed);
    let template = user_template()?;
    let mut sent = HashMap::with_capacity(args.latency_events);
    let mut commit = Vec::with_capacity(args.latency_events);
    for i in 0..args.latency_events {
        let event = user_created(&template, &tag, i);
        let id = event.id.clone();
        let t = Instant::now();
        f.engine.send_raw(vec![event], EventSource::Code).await?;
        commit.push(ms(t.elapsed()));
        sent.insert(id, t);
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }
    f.engine.settle().await;
    let first_step: Vec<f64> = f
        .probe
        .first_step
        .lock()
        .map_err(|_| "probe poisoned")?
        .iter()
        .filter_map(|((event, _), started)| sent.get(event).map(|t| ms(started.saturating_duration_since(*t))))
        .collect();
    if first_step.len() != args.latency_events * 2 {
        return Err(format!("{} first steps seen, expected {}", first_step.len(), args.latency_events * 2).into());
    }
    f.engine.shutdown(Duration::from_secs(5)).await;
    Ok(Latency { first_step, commit })
}

async fn fanout(args: FanoutArgs) -> Fallible<()> {
    let dir = temp_dir(&args.common)?;
    println!(
        "fan-out: {} events × 2 functions × 2 steps, batches of {} from {} senders, {} trials, databases in {}",
        args.events,
        args.batch,
        args.senders,
        args.common.repeat,
        dir.path().display()
    );
    let mut throughput = Table::new(&[
        "durability",
        "trial",
        "runs completed",
        "events accepted/s",
        "time to last run Completed (s)",
        "runs/s",
        "CPU µs/run",
        "process CPU %",
        "writer thread busy %",
    ]);
    let mut latency = Table::new(&[
        "durability",
        "trial",
        "runs",
        "event → first step p50 (ms)",
        "p90",
        "p99",
        "max",
        "send() commit p50 (ms)",
        "p99",
    ]);
    let mut summary = Table::new(&[
        "durability",
        "runs/s (median)",
        "CPU µs/run (median)",
        "first step p50 (ms)",
        "first step p99 (ms)",
    ]);
    for durability in args.durability.modes() {
        let name = durability_name(durability);
        let (mut rates, mut cpus, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for trial in 1..=args.common.repeat {
            let t = fanout_throughput(&args, dir.path(), durability, trial).await?;
            #[allow(clippy::cast_precision_loss)]
            let rate = t.runs as f64 / t.total_s;
            #[allow(clippy::cast_precision_loss)]
            let accept_rate = args.events as f64 / t.send_s;
            rates.push(rate);
            #[allow(clippy::cast_precision_loss)]
            cpus.push(t.cpu.process * 1e6 / t.runs as f64);
            throughput.row(vec![
                name.into(),
                trial.to_string(),
                t.runs.to_string(),
                f0(accept_rate),
                f2(t.total_s),
                f0(rate),
                f0(t.cpu.process * 1e6 / t.runs as f64),
                f0(100.0 * t.cpu.process / t.total_s),
                f0(100.0 * t.cpu.writer / t.total_s),
            ]);
            let l = fanout_latency(&args, dir.path(), durability, trial).await?;
            let first = sorted(l.first_step);
            let commit = sorted(l.commit);
            p50s.push(percentile(&first, 50.0));
            p99s.push(percentile(&first, 99.0));
            latency.row(vec![
                name.into(),
                trial.to_string(),
                first.len().to_string(),
                f3(percentile(&first, 50.0)),
                f3(percentile(&first, 90.0)),
                f3(percentile(&first, 99.0)),
                f3(percentile(&first, 100.0)),
                f3(percentile(&commit, 50.0)),
                f3(percentile(&commit, 99.0)),
            ]);
            eprintln!("  {name} trial {trial}: {rate:.0} runs/s, first step p50 {:.3} ms", percentile(&first, 50.0));
        }
        summary.row(vec![name.into(), f0(median(&rates)), f0(median(&cpus)), f3(median(&p50s)), f3(median(&p99s))]);
    }
    throughput.print("Throughput (SQLite)");
    latency.print("Latency without backlog (one event at a time)");
    summary.print("Fan-out: medians");

    let mut peers: Vec<(&str, usize, PeerCommand)> = Vec::new();
    if let Some(python) = &args.dbos_python {
        peers.push(("DBOS Transact (Python, SQLite)", args.dbos_events, PeerCommand::Dbos(python.clone())));
    }
    if args.restate {
        peers.push(("Restate 1.7 (TypeScript SDK)", args.restate_events, PeerCommand::Restate));
    }
    if peers.is_empty() {
        return Ok(());
    }
    let mut table = Table::new(&["peer", "trial", "events", "runs", "seconds", "runs/s"]);
    for (name, events, command) in &peers {
        let mut rates = Vec::new();
        for trial in 1..=args.common.repeat {
            let data = dir.path().join(format!("peer-{trial}"));
            let (runs, seconds, rate) = peer_trial(command, &data, *events).await?;
            rates.push(rate);
            table.row(vec![
                (*name).to_owned(),
                trial.to_string(),
                events.to_string(),
                runs.to_string(),
                f2(seconds),
                f1(rate),
            ]);
            eprintln!("  {name} trial {trial}: {rate:.1} runs/s");
        }
        table.row(vec![
            format!("{name}: median"),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            f1(median(&rates)),
        ]);
    }
    table.print("Peers: the same fan-out");
    Ok(())
}

/// How to run a peer's version of the fan-out; each prints a `RESULT ... runs=M seconds=S
/// runs_per_s=R` line.
enum PeerCommand {
    /// `tests/bench/python/dbos_fanout.py` with this Python interpreter.
    Dbos(PathBuf),
    /// `tests/bench/restate/run.sh` (restate-server and the service, from npm).
    Restate,
}

/// Runs one peer trial with `data` as its database or data directory; returns (runs, seconds,
/// runs/s).
async fn peer_trial(command: &PeerCommand, data: &Path, events: usize) -> Fallible<(u64, f64, f64)> {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/fixtures/clerk/user.created.json");
    let mut cmd = match command {
        PeerCommand::Dbos(python) => {
            let mut cmd = tokio::process::Command::new(python);
            cmd.arg(format!("{BENCH_DIR}/python/dbos_fanout.py"))
                .args(["--events", &events.to_string(), "--fixture", fixture, "--db"])
                .arg(data);
            cmd
        }
        PeerCommand::Restate => {
            let mut cmd = tokio::process::Command::new("bash");
            cmd.arg(format!("{BENCH_DIR}/restate/run.sh")).args([&events.to_string(), "64", fixture]).arg(data);
            cmd
        }
    };
    let output =
        cmd.stdin(Stdio::null()).kill_on_drop(true).output().await.map_err(|e| format!("cannot run a peer: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT ")).ok_or_else(|| {
        format!(
            "the peer printed no RESULT line (exit {}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
        )
    })?;
    let fields = key_values(line);
    let get = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or(format!("no `{k}` in `{line}`"));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let runs = get("runs")? as u64;
    Ok((runs, get("seconds")?, get("runs_per_s")?))
}

/// `key=value` pairs of a result line.
fn key_values(line: &str) -> HashMap<String, String> {
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

// =============================================================================================
// 2. Sleepers

#[derive(Args)]
struct SleepersArgs {
    /// Runs suspended on `step.sleep` for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    runs: usize,
    /// How long they sleep (long enough not to wake during the benchmark).
    #[arg(long, default_value = "1h")]
    nap: String,
    /// Runs whose wake-up lateness is measured, with deadlines spread over `--window-s`.
    #[arg(long, default_value_t = 10_000)]
    timers: usize,
    /// Seconds over which the measured deadlines are spread.
    #[arg(long, default_value_t = 10)]
    window_s: u64,
    /// Seconds between the end of sending and the first deadline.
    #[arg(long, default_value_t = 3)]
    lead_s: u64,
    /// SQLite durability.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
    durability: DurabilityArg,
    /// Internal: runs trial N in this process and prints its result as JSON. `sleepers` runs
    /// each trial in a fresh process so that no trial starts with the memory the allocator kept
    /// from the one before.
    #[arg(long, hide = true)]
    child: Option<usize>,
    #[command(flatten)]
    common: Common,
}

#[inngest_fn(id = "bench-sleeper", event = "bench/sleeper")]
async fn sleeper(event: Event<Json>, step: Step) -> Result<()> {
    let nap = event.data["nap"].as_str().unwrap_or("1h").to_owned();
    step.sleep("nap", nap.as_str()).await?;
    Ok(())
}

/// Wake-up lateness of `bench-alarm` runs, in microseconds.
#[derive(Default)]
struct Lateness(Mutex<Vec<i64>>);

#[inngest_fn(id = "bench-alarm", event = "bench/alarm")]
async fn alarm(event: Event<Json>, step: Step, lateness: Dep<Lateness>) -> Result<i64> {
    let at_ms = event.data["at_ms"].as_i64().ok_or_else(|| NonRetriable::new("`at_ms` is missing"))?;
    let at = chrono::DateTime::from_timestamp_millis(at_ms).ok_or_else(|| NonRetriable::new("bad `at_ms`"))?;
    step.sleep_until("alarm", at).await?;
    let late = step
        .run("woke", || async {
            let late = now_us() - at_ms * 1_000;
            lateness.0.lock().map_err(|_| Error::msg("lateness poisoned"))?.push(late);
            Ok(late)
        })
        .await?;
    Ok(late)
}

async fn sleepers(args: SleepersArgs) -> Fallible<()> {
    if let Some(trial) = args.child {
        let dir = args.common.dir.clone().ok_or("--child needs --dir")?;
        let durability = *args.durability.modes().first().ok_or("no durability")?;
        let result = sleepers_trial(&args, &dir, durability, trial).await?;
        println!("RESULT {}", serde_json::to_string(&result)?);
        return Ok(());
    }
    let dir = temp_dir(&args.common)?;
    println!(
        "sleepers: {} runs on `step.sleep(\"{}\")`, then {} timers over {} s, {} trials, databases in {}",
        args.runs,
        args.nap,
        args.timers,
        args.window_s,
        args.common.repeat,
        dir.path().display()
    );
    let mut memory = Table::new(&[
        "durability",
        "trial",
        "sleeping runs (timers)",
        "time to suspend all (s)",
        "RSS before (MiB)",
        "RSS after (MiB)",
        "extra RSS (MiB)",
        "bytes/run",
        "peak RSS (MiB)",
        "db (MiB)",
    ]);
    let mut late = Table::new(&["durability", "trial", "timers", "lateness p50 (ms)", "p90", "p99", "max", "> 10 ms"]);
    let mut summary = Table::new(&["durability", "extra RSS (MiB, median)", "lateness p50 (ms)", "lateness p99 (ms)"]);
    for durability in args.durability.modes() {
        let name = durability_name(durability);
        let (mut extras, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for trial in 1..=args.common.repeat {
            let r = sleepers_child(&args, dir.path(), durability, trial).await?;
            let extra = r.rss_after - r.rss_before;
            extras.push(extra);
            #[allow(clippy::cast_precision_loss)]
            let per_run = extra * 1024.0 * 1024.0 / args.runs as f64;
            memory.row(vec![
                name.into(),
                trial.to_string(),
                r.timers.to_string(),
                f2(r.suspend_s),
                f1(r.rss_before),
                f1(r.rss_after),
                f1(extra),
                f0(per_run),
                f1(r.rss_peak),
                f0(r.db_mib),
            ]);
            #[allow(clippy::cast_precision_loss)]
            let lateness = sorted(r.lateness_us.iter().map(|us| *us as f64 / 1_000.0).collect());
            let over = lateness.iter().filter(|l| **l > 10.0).count();
            p50s.push(percentile(&lateness, 50.0));
            p99s.push(percentile(&lateness, 99.0));
            late.row(vec![
                name.into(),
                trial.to_string(),
                lateness.len().to_string(),
                f3(percentile(&lateness, 50.0)),
                f3(percentile(&lateness, 90.0)),
                f3(percentile(&lateness, 99.0)),
                f3(percentile(&lateness, 100.0)),
                over.to_string(),
            ]);
            eprintln!(
                "  {name} trial {trial}: +{extra:.1} MiB for {} sleepers, lateness p99 {:.3} ms",
                r.timers,
                percentile(&lateness, 99.0)
            );
        }
        summary.row(vec![name.into(), f1(median(&extras)), f3(median(&p50s)), f3(median(&p99s))]);
    }
    memory.print("Memory of sleeping runs (VmRSS of a fresh process per trial)");
    late.print("Timer lateness (wake-up − deadline, measured inside the step after the sleep)");
    summary.print("Sleepers: medians");
    Ok(())
}

/// Runs one trial in a fresh process (this binary with `--child`) and reads its result.
async fn sleepers_child(
    args: &SleepersArgs,
    dir: &Path,
    durability: Durability,
    trial: usize,
) -> Fallible<SleepersResult> {
    let mode = match durability {
        Durability::Full => "full",
        Durability::Normal => "normal",
    };
    let output = tokio::process::Command::new(std::env::current_exe()?)
        .args(["sleepers", "--child", &trial.to_string(), "--durability", mode])
        .args(["--runs", &args.runs.to_string(), "--nap", &args.nap, "--timers", &args.timers.to_string()])
        .args(["--window-s", &args.window_s.to_string(), "--lead-s", &args.lead_s.to_string(), "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("trial {trial} failed ({}): {stdout}", output.status))?;
    Ok(serde_json::from_str(json)?)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SleepersResult {
    timers: usize,
    suspend_s: f64,
    rss_before: f64,
    rss_after: f64,
    rss_peak: f64,
    db_mib: f64,
    lateness_us: Vec<i64>,
}

async fn sleepers_trial(
    args: &SleepersArgs,
    dir: &Path,
    durability: Durability,
    trial: usize,
) -> Fallible<SleepersResult> {
    let path = dir.join(format!("sleepers-{}-{trial}.db", durability_name(durability)));
    let store = Arc::new(SqliteStore::open_with(&path, durability)?);
    let mut state = State::default();
    state.insert(Lateness::default());
    let lateness = state.get::<Lateness>().ok_or("lateness missing from state")?;
    let engine =
        Engine::builder("bench", registry(&[sleeper::DEF, alarm::DEF])?).store(store).state(state).start().await?;

    let rss_before = proc_status_mib("VmRSS")?;
    let start = Instant::now();
    // Batches are built on the fly so that the events themselves are not counted as sleepers.
    let per_batch = 1_000;
    let mut sent = 0;
    while sent < args.runs {
        let n = per_batch.min(args.runs - sent);
        let batches: Vec<Vec<RawEvent>> = (0..4)
            .map(|k| {
                (0..n.div_ceil(4))
                    .map(|j| sent + k * n.div_ceil(4) + j)
                    .filter(|i| *i < sent + n)
                    .map(|i| {
                        RawEvent::new("bench/sleeper", json!({"nap": args.nap, "n": i}))
                            .with_id(format!("sleep-{trial}-{i}"))
                    })
                    .collect()
            })
            .collect();
        send_all(&engine, batches, 4).await?;
        sent += n;
    }
    engine.settle().await;
    let suspend_s = start.elapsed().as_secs_f64();
    let rss_after = proc_status_mib("VmRSS")?;
    let rss_peak = proc_status_mib("VmHWM")?;
    let sleeping = query_count(&path, "SELECT count(*) FROM runs WHERE status = 'Sleeping'")?;
    if usize::try_from(sleeping)? != args.runs {
        return Err(format!("{sleeping} runs sleeping, expected {}", args.runs).into());
    }
    // Their timers are due times in the store, not entries in the engine's memory.
    let timers = usize::try_from(sleeping)?;

    // Timer lateness, with the sleepers above still armed.
    let window_ms = i64::try_from(args.window_s * 1_000)?;
    let count = i64::try_from(args.timers.max(1))?;
    let first = now_ms() + i64::try_from(args.lead_s * 1_000)?;
    let alarms: Vec<RawEvent> = (0..count)
        .map(|i| {
            RawEvent::new("bench/alarm", json!({"at_ms": first + i * window_ms / count}))
                .with_id(format!("alarm-{trial}-{i}"))
        })
        .collect();
    send_all(&engine, alarms.chunks(500).map(<[RawEvent]>::to_vec).collect(), 4).await?;
    engine.settle().await;
    if now_ms() >= first {
        eprintln!("  warning: sending the timers took longer than --lead-s; early deadlines were already due");
    }
    let give_up = Instant::now()
        + Duration::from_millis(u64::try_from(first - now_ms()).unwrap_or(0))
        + Duration::from_secs(args.window_s + 60);
    loop {
        let seen = lateness.0.lock().map_err(|_| "lateness poisoned")?.len();
        if seen >= args.timers || Instant::now() > give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    engine.settle().await;
    let lateness_us = lateness.0.lock().map_err(|_| "lateness poisoned")?.clone();
    if lateness_us.len() != args.timers {
        return Err(format!("{} of {} timers fired", lateness_us.len(), args.timers).into());
    }
    engine.shutdown(Duration::from_secs(5)).await;
    Ok(SleepersResult { timers, suspend_s, rss_before, rss_after, rss_peak, db_mib: db_size_mib(&path), lateness_us })
}

// =============================================================================================
// 3. Webhook ingress

#[derive(Args)]
struct WebhookArgs {
    /// Distinct pre-signed requests per trial (each is sent once).
    #[arg(long, default_value_t = 60_000)]
    requests: usize,
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// The node binary for the peer server; `--no-node` skips it.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Skip the Node peer.
    #[arg(long)]
    no_node: bool,
    /// Skip hookflow with one function listening (for profiling the ingress alone).
    #[arg(long)]
    no_function: bool,
    /// Also measure hookflow with no function listening (ingress and commit only).
    #[arg(long)]
    ingress_only: bool,
    /// Also measure the HTTP floor: an axum handler that reads the body and answers 200, with
    /// no verification, parsing or commit (what wrk and loopback HTTP alone cost here).
    #[arg(long)]
    floor: bool,
    #[command(flatten)]
    common: Common,
}

#[inngest_fn(id = "bench-on-signup", event = "clerk/user.created")]
async fn on_signup(event: Event<clerk::UserCreated>, step: Step) -> Result<usize> {
    let user = &event.data;
    Ok(step.run("upsert-user", || async { Ok(user.id.len()) }).await?)
}

/// The wrk script: replays pre-signed requests, each once, split across wrk's threads, then
/// prints one `BENCH key=value ...` line.
const WRK_SCRIPT: &str = r#"
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } hookflow_timespec;
int clock_gettime(int clock, hookflow_timespec *tp);
]]
local ts = ffi.new("hookflow_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  marker = args[1] .. ".done." .. tid
  reqs = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["svix-id"] = id, ["svix-timestamp"] = ts, ["svix-signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  sent, responses, extra, non2xx, first_us, last_us = 0, 0, 0, 0, 0, 0
end

function request()
  if first_us == 0 then first_us = now_us() end
  sent = sent + 1
  if sent > #reqs then
    -- in flight when this thread's share ran out: a re-delivery, answered without a commit
    extra = extra + 1
    return reqs[((sent - 1) % #reqs) + 1]
  end
  return reqs[sent]
end

function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if responses == #reqs then
    last_us = now_us()
    -- wrk runs until -d or SIGINT: the benchmark sends SIGINT once every thread left this mark
    local f = io.open(marker, "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local extra_total, non2xx_total, first, last = 0, 0, math.huge, 0
  for _, t in ipairs(threads) do
    extra_total = extra_total + t:get("extra")
    non2xx_total = non2xx_total + t:get("non2xx")
    first = math.min(first, t:get("first_us"))
    last = math.max(last, t:get("last_us"))
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d extra=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, last - first, extra_total, non2xx_total, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#;

/// Pre-signs `n` distinct `user.created` deliveries into a file wrk's script reads:
/// `svix-id TAB svix-timestamp TAB svix-signature TAB body` per line.
fn presign(path: &Path, secret: &str, n: usize, tag: &str) -> Fallible<()> {
    let envelope: Value =
        serde_json::from_str(hookflow::clerk::fixtures::sample(USER_CREATED).ok_or("no user.created fixture")?)?;
    let ts = now_ms() / 1_000;
    let mut out = String::with_capacity(n * 2_000);
    for i in 0..n {
        let mut body = envelope.clone();
        body["data"]["id"] = json!(format!("user_{tag}_{i:07}"));
        body["timestamp"] = json!(ts * 1_000);
        let body = serde_json::to_string(&body)?;
        let id = format!("msg_{tag}_{i:07}");
        let signature = hookflow::webhook::svix::sign(secret, &id, ts, body.as_bytes())?;
        let _ = writeln!(out, "{id}\t{ts}\t{signature}\t{body}");
    }
    std::fs::write(path, out)?;
    Ok(())
}

struct WrkResult {
    /// Server CPU seconds while wrk ran.
    cpu_during: f64,
    /// Server CPU seconds until everything the requests caused was done.
    cpu_total: f64,
    requests: u64,
    extra: u64,
    non2xx: u64,
    errors: u64,
    seconds: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl WrkResult {
    /// Distinct deliveries per second (re-deliveries at the very end are not counted).
    fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let distinct = (self.requests - self.extra.min(self.requests)) as f64;
        distinct / self.seconds
    }
}

async fn run_wrk(args: &WebhookArgs, url: &str, script: &Path, requests: &Path) -> Fallible<WrkResult> {
    let markers: Vec<PathBuf> = (0..args.threads)
        .map(|t| {
            let mut name = requests.as_os_str().to_owned();
            name.push(format!(".done.{t}"));
            PathBuf::from(name)
        })
        .collect();
    for marker in &markers {
        let _ = std::fs::remove_file(marker);
    }
    let mut child = tokio::process::Command::new(&args.wrk)
        .args(["-t", &args.threads.to_string(), "-c", &args.connections.to_string(), "-d", "600s", "--timeout", "10s"])
        .arg("-s")
        .arg(script)
        .arg(url)
        .arg("--")
        .arg(requests)
        .arg(args.threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {} (apt-get install wrk): {e}", args.wrk.display()))?;
    // wrk runs until its -d deadline whatever the script does: once every thread has had all
    // its answers, SIGINT makes it print its summary and exit.
    let pid = child.id().ok_or("wrk exited at once")?;
    while !markers.iter().all(|m| m.exists()) {
        if child.try_wait()?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().await?;
    let output = child.wait_with_output().await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("BENCH "))
        .ok_or_else(|| format!("wrk printed no BENCH line: {stdout}{}", String::from_utf8_lossy(&output.stderr)))?;
    let kv = key_values(line);
    let n = |k: &str| kv.get(k).and_then(|v| v.parse::<u64>().ok()).ok_or(format!("no `{k}` in `{line}`"));
    #[allow(clippy::cast_precision_loss)]
    let us = |k: &str| n(k).map(|v| v as f64 / 1_000.0);
    #[allow(clippy::cast_precision_loss)]
    let seconds = n("duration_us")? as f64 / 1e6;
    Ok(WrkResult {
        cpu_during: 0.0,
        cpu_total: 0.0,
        requests: n("requests")?,
        extra: n("extra")?,
        non2xx: n("non2xx")?,
        errors: n("connect")? + n("read")? + n("write")? + n("timeout")?,
        seconds,
        p50_ms: us("p50_us")?,
        p90_ms: us("p90_us")?,
        p99_ms: us("p99_us")?,
        max_ms: us("max_us")?,
    })
}

/// hookflow's app on a random loopback port; the webhook verifies, commits the event and its
/// run, and the run executes, all in this process.
async fn hookflow_webhook_trial(
    args: &WebhookArgs,
    dir: &Path,
    name: &str,
    functions: &[&'static hookflow::FunctionDef],
    secret: &str,
    script: &Path,
    requests: &Path,
) -> Fallible<(WrkResult, i64)> {
    let db = dir.join(format!("{name}.db"));
    let app = hookflow::App::with_registry("bench", registry(functions))
        .store_sqlite(&db)
        .clerk_webhooks(secret)
        .start()
        .await?;
    let engine = app.engine().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/clerk", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    let before = Cpu::now()?;
    let result = run_wrk(args, &url, script, requests).await;
    let during = Cpu::now()?.since(before).process;
    engine.settle().await;
    let total = Cpu::now()?.since(before).process;
    let result = result.map(|r| WrkResult { cpu_during: during, cpu_total: total, ..r });
    let _ = stop.send(());
    server.await??;
    let committed = query_count(&db, "SELECT count(*) FROM events WHERE source = 'webhook'")?;
    Ok((result?, committed))
}

/// What `bench webhook` measures, each on the same pre-signed requests.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WebhookServer {
    /// hookflow, with one function that runs for every delivery.
    WithFunction,
    /// hookflow with no function: verification and the durable commit.
    IngressOnly,
    /// An axum handler that only reads the body.
    Floor,
    /// The Node peer.
    Node,
}

impl WebhookServer {
    fn label(self) -> &'static str {
        match self {
            WebhookServer::WithFunction => "hookflow (1 function, 1 step)",
            WebhookServer::IngressOnly => "hookflow (no function)",
            WebhookServer::Floor => "HTTP floor: axum reads the body, answers 200",
            WebhookServer::Node => "Node: svix + better-sqlite3",
        }
    }
}

/// The same requests against a handler that only reads the body: the cost of HTTP and wrk.
async fn floor_webhook_trial(args: &WebhookArgs, script: &Path, requests: &Path) -> Fallible<(WrkResult, i64)> {
    use std::sync::atomic::AtomicI64;
    let handled = Arc::new(AtomicI64::new(0));
    let counter = handled.clone();
    let router = axum::Router::new().route(
        "/webhooks/clerk",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                if !body.is_empty() {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                axum::Json(json!({"ids": ["floor"], "status": 200}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/clerk", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let before = Cpu::now()?;
    let result = run_wrk(args, &url, script, requests).await;
    let during = Cpu::now()?.since(before).process;
    let result = result.map(|r| WrkResult { cpu_during: during, cpu_total: during, ..r });
    let _ = stop.send(());
    server.await??;
    Ok((result?, handled.load(Ordering::Relaxed)))
}

/// The Node server in `tests/bench/node`, on a random port.
async fn node_webhook_trial(
    args: &WebhookArgs,
    dir: &Path,
    name: &str,
    secret: &str,
    script: &Path,
    requests: &Path,
) -> Fallible<(WrkResult, i64)> {
    let db = dir.join(format!("{name}.db"));
    let server_js = format!("{BENCH_DIR}/node/server.js");
    if !Path::new(BENCH_DIR).join("node/node_modules").exists() {
        return Err(format!("run `npm ci --prefix {BENCH_DIR}/node` first (or pass --no-node)").into());
    }
    let mut child = tokio::process::Command::new(&args.node)
        .arg(&server_js)
        .env("PORT", "0")
        .env("DB", &db)
        .env("CLERK_WEBHOOK_SIGNING_SECRET", secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", args.node.display()))?;
    let stdout = child.stdout.take().ok_or("node has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| "the node server did not say it was listening within 30 s")??
            .ok_or("the node server exited before listening")?;
        if let Some(port) = line.strip_prefix("listening ") {
            break port.trim().to_owned();
        }
    };
    let url = format!("http://127.0.0.1:{port}/webhooks/clerk");
    let pid = child.id().ok_or("the node server exited")?;
    let before = Cpu::of(pid)?;
    let result = run_wrk(args, &url, script, requests).await;
    let cpu = Cpu::of(pid)? - before;
    let result = result.map(|r| WrkResult { cpu_during: cpu, cpu_total: cpu, ..r });
    child.kill().await?;
    let committed = query_count(&db, "SELECT count(*) FROM webhooks")?;
    Ok((result?, committed))
}

async fn webhook(args: WebhookArgs) -> Fallible<()> {
    let dir = temp_dir(&args.common)?;
    let script = dir.path().join("presigned.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let secret = hookflow::webhook::svix::Secret::generate();
    println!(
        "webhook: {} distinct pre-signed user.created deliveries per trial, wrk -t{} -c{}, {} trials, databases in {}",
        args.requests,
        args.threads,
        args.connections,
        args.common.repeat,
        dir.path().display()
    );
    let mut table = Table::new(&[
        "server",
        "trial",
        "committed",
        "non-2xx",
        "errors",
        "seconds",
        "webhooks/s",
        "server CPU µs/webhook",
        "server CPU %",
        "p50 (ms)",
        "p90",
        "p99",
        "max",
    ]);
    let mut medians: Vec<(&str, Vec<f64>, Vec<f64>)> = Vec::new();
    let mut servers = Vec::new();
    if !args.no_function {
        servers.push(WebhookServer::WithFunction);
    }
    if args.ingress_only {
        servers.push(WebhookServer::IngressOnly);
    }
    if args.floor {
        servers.push(WebhookServer::Floor);
    }
    if !args.no_node {
        servers.push(WebhookServer::Node);
    }
    for server in &servers {
        medians.push((server.label(), Vec::new(), Vec::new()));
    }
    for trial in 1..=args.common.repeat {
        // Signed now: Svix refuses timestamps older than 5 minutes.
        let requests = dir.path().join(format!("requests-{trial}.tsv"));
        presign(&requests, &secret, args.requests, &format!("t{trial}"))?;
        for (k, &server) in servers.iter().enumerate() {
            let name = format!("webhook-{k}-{trial}");
            let (r, committed) = match server {
                WebhookServer::WithFunction => {
                    hookflow_webhook_trial(&args, dir.path(), &name, &[on_signup::DEF], &secret, &script, &requests)
                        .await?
                }
                WebhookServer::IngressOnly => {
                    hookflow_webhook_trial(&args, dir.path(), &name, &[], &secret, &script, &requests).await?
                }
                WebhookServer::Floor => floor_webhook_trial(&args, &script, &requests).await?,
                WebhookServer::Node => {
                    node_webhook_trial(&args, dir.path(), &name, &secret, &script, &requests).await?
                }
            };
            // The floor counts requests answered, repeats included (wrk may send a few more).
            if server != WebhookServer::Floor && usize::try_from(committed)? != args.requests {
                eprintln!("  warning: {}: {committed} deliveries committed, {} sent", server.label(), args.requests);
            }
            let server = server.label();
            let rate = r.rate();
            medians[k].1.push(rate);
            medians[k].2.push(r.p99_ms);
            table.row(vec![
                server.to_owned(),
                trial.to_string(),
                committed.to_string(),
                r.non2xx.to_string(),
                r.errors.to_string(),
                f2(r.seconds),
                f0(rate),
                f0(r.cpu_total * 1e6 / f64::from(u32::try_from(committed)?)),
                f0(100.0 * r.cpu_during / r.seconds),
                f2(r.p50_ms),
                f2(r.p90_ms),
                f2(r.p99_ms),
                f2(r.max_ms),
            ]);
            eprintln!("  {server} trial {trial}: {rate:.0}/s, p99 {:.2} ms", r.p99_ms);
        }
        std::fs::remove_file(&requests)?;
    }
    table.print("Verified webhooks over loopback (wrk, each delivery distinct)");
    let mut summary = Table::new(&["server", "webhooks/s (median)", "p99 ms (median)"]);
    for (server, rates, p99s) in &medians {
        summary.row(vec![(*server).to_owned(), f0(median(rates)), f2(median(p99s))]);
    }
    summary.print("Webhook: medians");
    Ok(())
}

// =============================================================================================
// 4. Dev UI at scale

#[derive(Args)]
struct UiScaleArgs {
    /// Events, and as many runs (one per event).
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// The database; an existing file with at least `--rows` events is reused as it is.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Timed repetitions of each query (after one warm-up).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    #[command(flatten)]
    common: Common,
}

/// Functions the filled runs belong to (registered, so the UI shows their names).
const UI_FUNCTIONS: [&str; 5] =
    ["bench-sync-user", "bench-welcome-email", "bench-audit-log", "bench-crm-sync", "bench-trial-offer"];

macro_rules! noop_functions {
    ($($name:ident = $id:literal),* $(,)?) => {$(
        #[inngest_fn(id = $id, event = "bench/never")]
        async fn $name() -> Result<()> {
            Ok(())
        }
    )*};
}

noop_functions!(
    ui_sync_user = "bench-sync-user",
    ui_welcome_email = "bench-welcome-email",
    ui_audit_log = "bench-audit-log",
    ui_crm_sync = "bench-crm-sync",
    ui_trial_offer = "bench-trial-offer",
);

/// The Clerk types the filled events cycle through, with the prefix of their `data.id`.
const UI_TYPES: [(&str, &str); 5] = [
    ("user.created", "user"),
    ("user.updated", "user"),
    ("session.created", "sess"),
    ("organizationMembership.created", "orgmem"),
    ("email.created", "ema"),
];

/// Milliseconds between two filled events (1M events span about 29 days).
const UI_SPACING_MS: i64 = 2_500;

fn ui_data_id(i: usize) -> String {
    format!("{}_scale_{i:08}", UI_TYPES[i % UI_TYPES.len()].1)
}

/// Event `i` and its run. Statuses: 93% Completed, 4% Failed, 1% Cancelled, 2% Sleeping (for
/// 30 days, so that the engine's start-up only arms their timers and writes nothing).
fn ui_row(i: usize, start_ms: i64, templates: &[Value]) -> Fallible<NewEvent> {
    let at = start_ms + i64::try_from(i)? * UI_SPACING_MS;
    let stamp = u64::try_from(at)?;
    let (clerk_type, _) = UI_TYPES[i % UI_TYPES.len()];
    let data_id = ui_data_id(i);
    let mut data = templates[i % templates.len()].clone();
    data["id"] = json!(data_id);
    let event_id = ulid::Ulid::from_parts(stamp, rand::random()).to_string();
    // Spread so that every function has runs of every status.
    let function_id = UI_FUNCTIONS[(i % 7 + i / 100) % UI_FUNCTIONS.len()];
    let mut run = RunRecord {
        id: ulid::Ulid::from_parts(stamp, rand::random()).to_string(),
        function_id: function_id.to_owned(),
        event_ids: vec![event_id.clone()],
        status: RunStatus::Completed,
        attempt: 0,
        created_at: at,
        started_at: Some(at + 1),
        ended_at: Some(at + 40),
        output: None,
        error: None,
        wake_at: None,
        state: RunState::default(),
        parent: None,
        rerun_of: None,
        cancellation: None,
        flow: Default::default(),
    };
    match i % 100 {
        0..=3 => {
            run.status = RunStatus::Failed;
            run.attempt = 4;
            run.error = Some(ErrorInfo {
                name: "Error".into(),
                message: format!("SMTP timeout while emailing {data_id}"),
                cause: None,
                stack: None,
            });
        }
        4 => {
            run.status = RunStatus::Cancelled;
            run.error = Some(ErrorInfo {
                name: "RunCancelled".into(),
                message: "the run was cancelled".into(),
                cause: None,
                stack: None,
            });
        }
        5 | 6 => {
            let until = now_ms() + 30 * 86_400_000;
            run.status = RunStatus::Sleeping;
            run.ended_at = None;
            run.wake_at = Some(until);
            run.state.pending = vec![PendingOp::Sleep {
                step: hookflow::hash_step_id("wait-3-days"),
                name: "wait-3-days".into(),
                until,
                since: at,
            }];
        }
        _ => run.output = Some(json!({"user_id": data_id, "synced": true})),
    }
    let event = StoredEvent {
        id: event_id,
        name: format!("clerk/{clerk_type}"),
        data: data.into(),
        ts: at,
        user: None,
        source: EventSource::Webhook,
        received_at: at,
    };
    Ok(NewEvent { runs: vec![NewRun::new(run)], ..NewEvent::new(event) })
}

/// Fills the store through `Store::accept`, in batches of 5,000 events with their runs.
async fn ui_fill(store: &Arc<SqliteStore>, rows: usize) -> Fallible<f64> {
    let templates: Vec<Value> = UI_TYPES
        .iter()
        .map(|(t, _)| hookflow::clerk::fixtures::sample_data(t).ok_or(format!("no fixture for {t}")))
        .collect::<Result<_, _>>()?;
    let templates = Arc::new(templates);
    let start_ms = now_ms() - i64::try_from(rows)? * UI_SPACING_MS;
    let batch = 5_000;
    let started = Instant::now();
    let mut tasks: JoinSet<Fallible<()>> = JoinSet::new();
    for first in (0..rows).step_by(batch) {
        // Two batches in flight: one being built while the writer commits the other.
        if tasks.len() >= 2 {
            if let Some(done) = tasks.join_next().await {
                done??;
            }
        }
        let store = store.clone();
        let templates = templates.clone();
        tasks.spawn(async move {
            let events = (first..(first + batch).min(rows))
                .map(|i| ui_row(i, start_ms, &templates))
                .collect::<Fallible<Vec<_>>>()?;
            store.accept(&Batch { events, runs: Vec::new(), at: 0 }, None).await?;
            Ok(())
        });
        if first % 100_000 == 0 && first > 0 {
            eprintln!("  filled {first} rows");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Times `f` `samples` times after one warm-up; returns (median, max) in ms and the last value.
/// A call slower than `SLOW` is timed once (the warm-up is the sample): the Events page over a
/// large store takes minutes.
async fn time_it<T, F, Fut>(samples: usize, mut f: F) -> Fallible<(f64, f64, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Fallible<T>>,
{
    const SLOW: Duration = Duration::from_secs(5);
    let t = Instant::now();
    let mut last = f().await?;
    let warm_up = t.elapsed();
    if warm_up > SLOW {
        return Ok((ms(warm_up), ms(warm_up), last));
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        last = f().await?;
        times.push(ms(t.elapsed()));
    }
    let times = sorted(times);
    Ok((median(&times), percentile(&times, 100.0), last))
}

/// A `Store` query that the dev UI makes.
enum StoreCall {
    Runs(RunQuery),
    Events(EventQuery),
}

async fn ui_scale(args: UiScaleArgs) -> Fallible<()> {
    let dir = temp_dir(&args.common)?;
    let path = args.db.clone().unwrap_or_else(|| dir.path().join("ui-scale.db"));
    let rows = i64::try_from(args.rows)?;
    let existing = if path.exists() { query_count(&path, "SELECT count(*) FROM events").unwrap_or(0) } else { 0 };
    let store = Arc::new(SqliteStore::open_with(&path, Durability::Normal)?);
    println!("ui-scale: {} events and {} runs in {}", args.rows, args.rows, path.display());
    let mut fill = Table::new(&["phase", "rows", "seconds", "rows/s", "db (MiB)"]);
    if existing >= rows {
        println!("reusing {existing} events already in {}", path.display());
    } else if existing > 0 {
        return Err(format!("{} holds {existing} events, fewer than --rows: remove it first", path.display()).into());
    } else {
        let seconds = ui_fill(&store, args.rows).await?;
        #[allow(clippy::cast_precision_loss)]
        let per_s = (2 * args.rows) as f64 / seconds;
        fill.row(vec![
            "Store::accept (events + runs)".into(),
            (2 * args.rows).to_string(),
            f1(seconds),
            f0(per_s),
            f0(db_size_mib(&path)),
        ]);
    }
    // A bulk load outruns the search index (it follows commits in small batches, and searches
    // scan what it has not reached): bring it up to date first, and say how long that took.
    let started = Instant::now();
    store.catch_up_search_index().await?;
    let seconds = started.elapsed().as_secs_f64();
    fill.row(vec!["catch_up_search_index".into(), String::new(), f1(seconds), String::new(), f0(db_size_mib(&path))]);
    fill.print("Fill");

    let functions =
        [ui_sync_user::DEF, ui_welcome_email::DEF, ui_audit_log::DEF, ui_crm_sync::DEF, ui_trial_offer::DEF];
    let app = hookflow::App::with_registry("bench", registry(&functions)).store(store.clone()).dev_ui().start().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    // A needle that occurs in one event (and its run), in the middle of the history: a search
    // for it reads every row newer than it and finds fewer than a page.
    let rare = ui_data_id(args.rows / 2);
    let common = "user_".to_owned();
    let function = UI_FUNCTIONS[1].to_owned();
    let rows_of = |n: usize| n.to_string();

    let mut store_table = Table::new(&["Store call", "rows returned", "median (ms)", "max (ms)"]);
    // The Events page asks, for each event it lists, for the runs it triggered.
    let sample_event = store.list_events(&EventQuery { limit: 1, ..EventQuery::default() }).await?;
    let event_id = sample_event.first().map(|e| e.id.clone()).ok_or("no event in the store")?;
    let runs = |query: RunQuery| StoreCall::Runs(RunQuery { limit: 50, ..query });
    let events = |query: EventQuery| StoreCall::Events(EventQuery { limit: 50, ..query });
    let calls: Vec<(&str, StoreCall)> = vec![
        ("list_runs (first page, 50)", runs(RunQuery::default())),
        ("list_runs function=…", runs(RunQuery { function_id: Some(function.clone()), ..RunQuery::default() })),
        ("list_runs status=Failed", runs(RunQuery { statuses: vec![RunStatus::Failed], ..RunQuery::default() })),
        ("list_runs status=Sleeping", runs(RunQuery { statuses: vec![RunStatus::Sleeping], ..RunQuery::default() })),
        (
            "list_runs function=… status=Failed",
            runs(RunQuery {
                function_id: Some(function.clone()),
                statuses: vec![RunStatus::Failed],
                ..RunQuery::default()
            }),
        ),
        ("list_runs search=common", runs(RunQuery { search: Some("sync".into()), ..RunQuery::default() })),
        ("list_runs search=rare", runs(RunQuery { search: Some(rare.clone()), ..RunQuery::default() })),
        ("list_events (first page, 50)", events(EventQuery::default())),
        (
            "list_events name=clerk/email.created",
            events(EventQuery { name: Some("clerk/email.created".into()), ..EventQuery::default() }),
        ),
        ("list_events search=common", events(EventQuery { search: Some(common.clone()), ..EventQuery::default() })),
        ("list_events search=rare", events(EventQuery { search: Some(rare.clone()), ..EventQuery::default() })),
        (
            "list_runs event=… (runs of one event)",
            StoreCall::Runs(RunQuery { event_id: Some(event_id.clone()), limit: 200, ..RunQuery::default() }),
        ),
    ];
    for (label, call) in calls {
        let store = store.clone();
        let call = Arc::new(call);
        let (med, max, n) = time_it(args.samples, || {
            let (store, call) = (store.clone(), call.clone());
            async move {
                Ok(match call.as_ref() {
                    StoreCall::Runs(query) => store.list_runs(query).await?.len(),
                    StoreCall::Events(query) => store.list_events(query).await?.len(),
                })
            }
        })
        .await?;
        store_table.row(vec![label.into(), rows_of(n), f1(med), f1(max)]);
        eprintln!("  {label}: {med:.1} ms");
    }
    store_table.print("Store calls (server time)");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let mut http_table = Table::new(&["HTTP request (loopback round trip)", "bytes", "median (ms)", "max (ms)"]);
    let urls: Vec<(String, String)> = vec![
        ("Runs page: GET /api/v1/runs?limit=50".into(), "/api/v1/runs?limit=50".into()),
        ("GET /api/v1/runs?function=…".into(), format!("/api/v1/runs?limit=50&function={function}")),
        ("GET /api/v1/runs?status=Failed".into(), "/api/v1/runs?limit=50&status=Failed".into()),
        (
            "GET /api/v1/runs?function=…&status=Failed".into(),
            format!("/api/v1/runs?limit=50&function={function}&status=Failed"),
        ),
        ("GET /api/v1/runs?q=common".into(), "/api/v1/runs?limit=50&q=sync".into()),
        ("GET /api/v1/runs?q=rare".into(), format!("/api/v1/runs?limit=50&q={rare}")),
        ("Events page: GET /api/v1/events?limit=50".into(), "/api/v1/events?limit=50".into()),
        ("GET /api/v1/events?q=common".into(), format!("/api/v1/events?limit=50&q={common}")),
        ("GET /api/v1/events?q=rare".into(), format!("/api/v1/events?limit=50&q={rare}")),
        ("GET /v1/events".into(), "/v1/events".into()),
        ("GET /v1/events?name=clerk/email.created".into(), "/v1/events?name=clerk/email.created".into()),
    ];
    for (label, url) in urls {
        let full = format!("{base}{url}");
        let client = client.clone();
        let (med, max, bytes) = time_it(args.samples, || {
            let client = client.clone();
            let full = full.clone();
            async move {
                let response = client.get(&full).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("{full}: {status}: {}", String::from_utf8_lossy(&body)).into());
                }
                Ok(body.len())
            }
        })
        .await?;
        http_table.row(vec![label.clone(), bytes.to_string(), f1(med), f1(max)]);
        eprintln!("  {label}: {med:.1} ms");
    }
    http_table.print("Dev UI API over HTTP");

    let _ = stop.send(());
    server.await??;
    query_plans(&path, &event_id)?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN` of the SQL that `SqliteStore` builds for the slow calls (copied from
/// `runtime/src/store/sqlite/mod.rs`; keep in step with it).
fn query_plans(path: &Path, event_id: &str) -> Fallible<()> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut search = path.as_os_str().to_owned();
    search.push("-search");
    conn.execute("ATTACH DATABASE ?1 AS search", [search.to_string_lossy()])?;
    let plans = [
        (
            "list_events search (indexed part)",
            "SELECT e.id FROM search.events_fts f JOIN events e ON e.seq = f.rowid WHERE e.name NOT LIKE 'inngest/%' \
             AND e.seq <= ?1 AND f.events_fts MATCH ?2 AND (lower(e.name) LIKE ?3 ESCAPE '\\' \
             OR lower(e.data) LIKE ?3 ESCAPE '\\') ORDER BY f.rowid DESC LIMIT 50"
                .to_owned(),
        ),
        (
            "list_runs search",
            "SELECT id FROM runs WHERE lower(function_id || ' ' || coalesce(output, '') || ' ' || coalesce(error, '')) \
             LIKE ?1 ESCAPE '\\' ORDER BY id DESC LIMIT 50"
                .to_owned(),
        ),
        (
            "list_runs event=… (Events page, once per listed event)",
            format!("SELECT id FROM runs WHERE event_id = '{event_id}' ORDER BY id DESC LIMIT 200"),
        ),
        ("list_runs status=Failed", "SELECT id FROM runs WHERE status IN ('Failed') ORDER BY id DESC LIMIT 50".to_owned()),
    ];
    println!("\n### Query plans\n");
    for (label, sql) in plans {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
        let details: Vec<String> =
            stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?.collect::<Result<_, _>>()?;
        println!("- {label}: `{}`", details.join(" → "));
    }
    Ok(())
}
