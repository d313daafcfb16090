//! Fan-out: events fanned out to 2 functions × 2 steps on SQLite: completed runs/s, and the
//! latency from an event to its runs' first step when there is no backlog (`BENCHMARKS.md`).
//! The functions, the load and the latency loop are shared with `bench postgres`, which runs
//! them in worker processes on a Postgres store.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hookflow::engine::Engine;
use hookflow::prelude::*;
use hookflow::store::{Durability, SqliteStore, Store};
use hookflow::webhook::EventSource;
use hookflow::{FunctionDef, RawEvent, State};

use crate::peers::Figure;
use crate::stats::{f0, f2, f3, median, ms, percentile, sorted, Cpu, Table};
use crate::support::{
    durability_name, query_count, registry, send_all, temp_dir, user_created, user_template, Common, DurabilityArg,
    Fallible,
};

#[derive(Args)]
pub(super) struct FanoutArgs {
    /// Events per throughput trial (each starts 2 runs).
    #[arg(long, default_value_t = 10_000)]
    pub(super) events: usize,
    /// Events per `engine.send` call.
    #[arg(long, default_value_t = 100)]
    pub(super) batch: usize,
    /// Concurrent senders.
    #[arg(long, default_value_t = 4)]
    pub(super) senders: usize,
    /// Events sent one at a time for the latency trial.
    #[arg(long, default_value_t = 2_000)]
    pub(super) latency_events: usize,
    /// Pause between two latency events (ms), so there is no backlog.
    #[arg(long, default_value_t = 2)]
    pub(super) gap_ms: u64,
    /// SQLite durability.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Both)]
    pub(super) durability: DurabilityArg,
    #[command(flatten)]
    pub(super) common: Common,
}

/// Where the fan-out functions note when each run's first step started.
#[derive(Default)]
pub(crate) struct Probe {
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
pub(super) async fn two_steps(
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

/// One of the fan-out's functions on `clerk/user.created`, with the id given and any further
/// options of `#[inngest_fn]` (flow control).
macro_rules! fan_fn {
    ($name:ident = $id:literal $(, $($option:tt)+)?) => {
        #[inngest_fn(id = $id, event = "clerk/user.created" $(, $($option)+)?)]
        async fn $name(
            event: Event<clerk::UserCreated>,
            step: Step,
            probe: Dep<crate::fanout::Probe>,
        ) -> Result<usize> {
            crate::fanout::two_steps($id, &event, &step, &probe).await
        }
    };
}
pub(crate) use fan_fn;

/// The fan-out's two functions, with the same options: `bench flow` runs the workload under
/// limits.
macro_rules! fan_pair {
    ($a:ident = $a_id:literal, $b:ident = $b_id:literal $(, $($option:tt)+)?) => {
        crate::fanout::fan_fn!($a = $a_id $(, $($option)+)?);
        crate::fanout::fan_fn!($b = $b_id $(, $($option)+)?);
    };
}
pub(crate) use fan_pair;

fan_pair!(fan_a = "bench-fan-a", fan_b = "bench-fan-b");

/// The functions a fan-out trial registers: the plain pair, or one with flow control.
#[derive(Clone, Copy)]
pub(super) struct Workload {
    /// Names the trial's database.
    pub(super) label: &'static str,
    pub(super) functions: [&'static FunctionDef; 2],
}

/// The fan-out without flow control.
pub(super) const UNLIMITED: Workload = Workload { label: "fanout", functions: [fan_a::DEF, fan_b::DEF] };

struct FanoutEngine {
    engine: Engine,
    probe: Arc<Probe>,
    path: PathBuf,
}

/// An engine running the two fan-out functions on `store`, and the probe they note first
/// steps in.
pub(crate) async fn engine_on(store: Arc<dyn Store>) -> Fallible<(Engine, Arc<Probe>)> {
    engine_with(store, UNLIMITED).await
}

/// An engine running `workload`'s functions on `store`, and the probe they note first steps in.
async fn engine_with(store: Arc<dyn Store>, workload: Workload) -> Fallible<(Engine, Arc<Probe>)> {
    let mut state = State::default();
    state.insert(Probe::default());
    let probe = state.get::<Probe>().ok_or("probe missing from state")?;
    let engine = Engine::builder("bench", registry(&workload.functions)?).store(store).state(state).start().await?;
    Ok((engine, probe))
}

async fn fanout_engine(dir: &Path, name: &str, durability: Durability, workload: Workload) -> Fallible<FanoutEngine> {
    let path = dir.join(format!("{name}.db"));
    let store = Arc::new(SqliteStore::open_with(&path, durability)?);
    let (engine, probe) = engine_with(store, workload).await?;
    Ok(FanoutEngine { engine, probe, path })
}

/// Events `range` of the throughput phase in `tag`, in batches of `batch`, ordered for
/// [`send_all`] (whose senders pop from the end).
pub(crate) fn batches(tag: &str, range: Range<usize>, batch: usize) -> Fallible<Vec<Vec<RawEvent>>> {
    let template = user_template()?;
    let events: Vec<RawEvent> = range.map(|i| user_created(&template, tag, i)).collect();
    let mut batches: Vec<Vec<RawEvent>> = events.chunks(batch.max(1)).map(<[RawEvent]>::to_vec).collect();
    batches.reverse();
    Ok(batches)
}

pub(super) struct Throughput {
    pub(super) runs: i64,
    send_s: f64,
    pub(super) total_s: f64,
    cpu: Cpu,
}

impl Throughput {
    /// Completed runs per second.
    pub(super) fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let runs = self.runs as f64;
        runs / self.total_s
    }
}

/// One throughput trial: `args.events` events sent to `workload`'s pair, until every run is
/// Completed.
pub(super) async fn fanout_throughput(
    args: &FanoutArgs,
    dir: &Path,
    durability: Durability,
    trial: usize,
    workload: Workload,
) -> Fallible<Throughput> {
    let tag = format!("{}{trial}", durability_name(durability).to_lowercase());
    let f = fanout_engine(dir, &format!("{}-{tag}", workload.label), durability, workload).await?;
    let batches = batches(&tag, 0..args.events, args.batch)?;
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

pub(crate) struct Latency {
    /// Event sent → a run's first step started (ms), one per run.
    pub(crate) first_step: Vec<f64>,
    /// `engine.send` of one event, i.e. its durable commit (ms).
    pub(crate) commit: Vec<f64>,
}

/// The columns of a latency table after those that name the trial (see [`Latency::cells`]).
pub(crate) const LATENCY_COLUMNS: [&str; 7] =
    ["runs", "event → first step p50 (ms)", "p90", "p99", "max", "send() commit p50 (ms)", "p99"];

impl Latency {
    /// Sorted, for percentiles.
    pub(crate) fn sorted(self) -> Latency {
        Latency { first_step: sorted(self.first_step), commit: sorted(self.commit) }
    }

    /// A percentile of event → first step (ms), once sorted.
    pub(crate) fn first_step(&self, p: f64) -> f64 {
        percentile(&self.first_step, p)
    }

    /// One trial's cells under [`LATENCY_COLUMNS`], once sorted.
    pub(crate) fn cells(&self) -> Vec<String> {
        vec![
            self.first_step.len().to_string(),
            f3(self.first_step(50.0)),
            f3(self.first_step(90.0)),
            f3(self.first_step(99.0)),
            f3(self.first_step(100.0)),
            f3(percentile(&self.commit, 50.0)),
            f3(percentile(&self.commit, 99.0)),
        ]
    }
}

async fn fanout_latency(args: &FanoutArgs, dir: &Path, durability: Durability, trial: usize) -> Fallible<Latency> {
    let tag = format!("lat{}{trial}", durability_name(durability).to_lowercase());
    let f = fanout_engine(dir, &format!("fanout-{tag}"), durability, UNLIMITED).await?;
    let latency = latency(&f.engine, &f.probe, &tag, args.latency_events, args.gap_ms).await?;
    f.engine.shutdown(Duration::from_secs(5)).await;
    Ok(latency)
}

/// Sends `events` events one at a time, `gap_ms` apart, to an engine with nothing else to do,
/// and measures each run's delay from `send` to its first step.
pub(crate) async fn latency(
    engine: &Engine,
    probe: &Probe,
    tag: &str,
    events: usize,
    gap_ms: u64,
) -> Fallible<Latency> {
    probe.enabled.store(true, Ordering::Relaxed);
    let template = user_template()?;
    let mut sent = HashMap::with_capacity(events);
    let mut commit = Vec::with_capacity(events);
    for i in 0..events {
        let event = user_created(&template, tag, i);
        let id = event.id.clone();
        let t = Instant::now();
        engine.send_raw(vec![event], EventSource::Code).await?;
        commit.push(ms(t.elapsed()));
        sent.insert(id, t);
        tokio::time::sleep(Duration::from_millis(gap_ms)).await;
    }
    engine.settle().await;
    let first_step: Vec<f64> = probe
        .first_step
        .lock()
        .map_err(|_| "probe poisoned")?
        .iter()
        .filter_map(|((event, _), started)| sent.get(event).map(|t| ms(started.saturating_duration_since(*t))))
        .collect();
    if first_step.len() != events * 2 {
        return Err(format!("{} first steps seen, expected {}", first_step.len(), events * 2).into());
    }
    Ok(Latency { first_step, commit })
}

pub(super) async fn fanout(args: FanoutArgs) -> Fallible<()> {
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
    let mut latency = Table::new(&[&["durability", "trial"][..], &LATENCY_COLUMNS[..]].concat());
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
            let t = fanout_throughput(&args, dir.path(), durability, trial, UNLIMITED).await?;
            let rate = t.rate();
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
            let l = fanout_latency(&args, dir.path(), durability, trial).await?.sorted();
            p50s.push(l.first_step(50.0));
            p99s.push(l.first_step(99.0));
            latency.row([vec![name.into(), trial.to_string()], l.cells()].concat());
            eprintln!("  {name} trial {trial}: {rate:.0} runs/s, first step p50 {:.3} ms", l.first_step(50.0));
        }
        summary.row(vec![name.into(), f0(median(&rates)), f0(median(&cpus)), f3(median(&p50s)), f3(median(&p99s))]);
    }
    throughput.print("Throughput (SQLite)");
    latency.print("Latency without backlog (one event at a time)");
    summary.print("Fan-out: medians");

    Ok(())
}

/// One trial of hookflow's fan-out for `bench all`: the throughput phase, then latency without
/// backlog, with `args.durability`'s first mode.
pub(super) async fn figure(args: &FanoutArgs, dir: &Path, trial: usize) -> Fallible<Figure> {
    let durability = *args.durability.modes().first().ok_or("no durability")?;
    let t = fanout_throughput(args, dir, durability, trial, UNLIMITED).await?;
    let l = fanout_latency(args, dir, durability, trial).await?;
    Ok(Figure { runs: u64::try_from(t.runs)?, seconds: t.total_s, first_step_ms: l.first_step })
}
