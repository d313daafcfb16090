//! Flow control: what concurrency limits and throttles cost, how many held-back runs fit in
//! memory, and how soon a freed slot goes to the next run.
//!
//! - throughput: the fan-out workload (`bench fanout`: N `clerk/user.created` events, each
//!   starting 2 functions × 2 steps, SQLite `synchronous=FULL`) with no limits, and with each
//!   of `concurrency`, `throttle` and `rate_limit` keyed by user (`event.data.id`) on both
//!   functions, the last two with limits that never bind, so the figure is what the keyed state
//!   costs; the variants' trials interleaved, runs/s and the median's ratio to no limits;
//! - held back: N runs of a function with `concurrency(limit = 1)` whose one running step
//!   waits until the end: resident memory they add while queued behind it;
//! - hand-off: runs of a `concurrency(limit = 1)` function queued at once: from one run's step
//!   ending to the next run's step starting (a pass's commit, the slot freed, the next claim).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hookflow::engine::Engine;
use hookflow::prelude::*;
use hookflow::store::{Durability, SqliteStore};
use hookflow::webhook::EventSource;
use hookflow::{RawEvent, State};
use serde_json::json;

use crate::fanout::{self, fan_pair, FanoutArgs, Workload, UNLIMITED};
use crate::stats::{f0, f1, f2, median, ms, percentile, proc_status_mib, sorted, Table};
use crate::suite::{commit, loadavg};
use crate::support::{query_count, registry, send_all, temp_dir, Common, DurabilityArg, Fallible};

#[derive(Args)]
pub(super) struct FlowArgs {
    /// Events per throughput trial (each starts 2 runs of 2 steps, as in `bench fanout`).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Runs held back behind a full concurrency limit.
    #[arg(long, default_value_t = 100_000)]
    held: usize,
    /// Runs queued for the hand-off trial.
    #[arg(long, default_value_t = 2_000)]
    handoff: usize,
    #[command(flatten)]
    common: Common,
}

fan_pair!(
    concurrency_a = "flow-concurrency-a",
    concurrency_b = "flow-concurrency-b",
    concurrency(limit = 10, key = "event.data.id")
);
// Each user's event starts one run of each function: a throttle or a rate limit of more than
// one a period never binds, and what is measured is the cost of a bucket per user.
fan_pair!(
    throttle_a = "flow-throttle-a",
    throttle_b = "flow-throttle-b",
    throttle(limit = 1_000, period = "1s", key = "event.data.id")
);
fan_pair!(
    rate_limit_a = "flow-rate-limit-a",
    rate_limit_b = "flow-rate-limit-b",
    rate_limit(limit = 1_000, period = "1h", key = "event.data.id")
);

/// The fan-out's variants; the first, without limits, is what the others are compared with.
const WORKLOADS: [(&str, Workload); 4] = [
    ("no limits", UNLIMITED),
    ("concurrency(10, key)", Workload { label: "concurrency", functions: [concurrency_a::DEF, concurrency_b::DEF] }),
    ("throttle(key)", Workload { label: "throttle", functions: [throttle_a::DEF, throttle_b::DEF] }),
    ("rate_limit(key)", Workload { label: "rate-limit", functions: [rate_limit_a::DEF, rate_limit_b::DEF] }),
];

/// The gate the held-back benchmark's running step waits on, and the hand-off probe.
#[derive(Default)]
struct Probe {
    open: AtomicBool,
    opened: tokio::sync::Notify,
    /// (started, ended) of each hand-off step.
    spans: Mutex<Vec<(Instant, Instant)>>,
}

#[inngest_fn(id = "flow-one", event = "bench/one", concurrency(limit = 1))]
async fn one_at_a_time(step: Step, probe: Dep<Probe>) -> Result<()> {
    step.run("work", || async {
        let started = Instant::now();
        while !probe.open.load(Ordering::SeqCst) {
            let opened = probe.opened.notified();
            if probe.open.load(Ordering::SeqCst) {
                break;
            }
            opened.await;
        }
        if let Ok(mut spans) = probe.spans.lock() {
            spans.push((started, Instant::now()));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn engine(dir: &std::path::Path, name: &str, state: State) -> Fallible<(Engine, std::path::PathBuf)> {
    let path = dir.join(format!("{name}.db"));
    let store = Arc::new(SqliteStore::open_with(&path, Durability::Full)?);
    let engine =
        Engine::builder("bench-flow", registry(&[one_at_a_time::DEF])?).store(store).state(state).start().await?;
    Ok((engine, path))
}

fn events(name: &str, tag: &str, n: usize) -> Vec<Vec<RawEvent>> {
    let events: Vec<RawEvent> = (0..n)
        .map(|i| RawEvent::new(name, json!({"tenant": format!("t{}", i % 100), "i": i})).with_id(format!("{tag}-{i}")))
        .collect();
    let mut batches: Vec<Vec<RawEvent>> = events.chunks(100).map(<[RawEvent]>::to_vec).collect();
    batches.reverse();
    batches
}

/// Resident MiB that `args.held` runs add while they wait behind a full limit.
async fn held_back(args: &FlowArgs, dir: &std::path::Path, trial: usize) -> Fallible<f64> {
    let mut state = State::default();
    state.insert(Probe::default());
    let probe = state.get::<Probe>().ok_or("probe missing")?;
    let (engine, path) = engine(dir, &format!("held-{trial}"), state).await?;
    let tag = format!("held{trial}");
    // The first run takes the slot and keeps it.
    engine
        .send_raw(vec![RawEvent::new("bench/one", json!({})).with_id(format!("{tag}-first"))], EventSource::Code)
        .await?;
    let before = proc_status_mib("VmRSS")?;
    send_all(&engine, events("bench/one", &tag, args.held), 4).await?;
    let after = proc_status_mib("VmRSS")?;
    let queued = query_count(&path, "SELECT count(*) FROM runs WHERE status = 'Queued'")?;
    if queued < i64::try_from(args.held)? {
        return Err(format!("{queued} runs queued, expected {}", args.held).into());
    }
    probe.open.store(true, Ordering::SeqCst);
    probe.opened.notify_waiters();
    engine.shutdown(Duration::from_secs(5)).await;
    Ok(after - before)
}

/// Step end → next run's step start, in ms, for runs queued behind a limit of one.
async fn handoff(args: &FlowArgs, dir: &std::path::Path, trial: usize) -> Fallible<Vec<f64>> {
    let mut state = State::default();
    state.insert(Probe::default());
    let probe = state.get::<Probe>().ok_or("probe missing")?;
    probe.open.store(true, Ordering::SeqCst);
    let (engine, _) = engine(dir, &format!("handoff-{trial}"), state).await?;
    send_all(&engine, events("bench/one", &format!("hand{trial}"), args.handoff), 1).await?;
    engine.settle().await;
    engine.shutdown(Duration::from_secs(5)).await;
    let mut spans = probe.spans.lock().map_err(|_| "probe poisoned")?.clone();
    spans.sort_by_key(|(started, _)| *started);
    Ok(spans.windows(2).map(|w| ms(w[1].0.saturating_duration_since(w[0].1))).collect())
}

pub(super) async fn flow(args: FlowArgs) -> Fallible<()> {
    let dir = temp_dir(&args.common)?;
    println!(
        "flow control: {} events per throughput trial, {} held-back runs, {} hand-offs; SQLite FULL; commit {}; \
         load average {}",
        args.events,
        args.held,
        args.handoff,
        commit(),
        loadavg()
    );
    // Memory first, in a fresh process: later trials would measure what earlier ones freed.
    let mut memory = Table::new(&["held-back runs", "RSS added (MiB)", "per run (bytes)"]);
    let mib = held_back(&args, dir.path(), 0).await?;
    #[allow(clippy::cast_precision_loss)]
    let per_run = mib * 1024.0 * 1024.0 / args.held.max(1) as f64;
    memory.row(vec![args.held.to_string(), f1(mib), f0(per_run)]);
    memory.print("Memory of runs held back by a full concurrency limit (one trial, first in the process)");

    throughput(&args, dir.path()).await?;

    let mut gaps = Table::new(&["trial", "hand-offs", "p50 (ms)", "p99 (ms)", "max (ms)"]);
    for trial in 0..args.common.repeat {
        let s = sorted(handoff(&args, dir.path(), trial).await?);
        gaps.row(vec![
            trial.to_string(),
            s.len().to_string(),
            f2(percentile(&s, 50.0)),
            f2(percentile(&s, 99.0)),
            f2(s.last().copied().unwrap_or(f64::NAN)),
        ]);
    }
    gaps.print("A freed slot to the next run's step (concurrency limit 1, runs queued)");
    println!("load average at the end: {}", loadavg());
    Ok(())
}

/// The fan-out with and without flow control, trials interleaved: completed runs/s of each, and
/// each variant's ratio to no limits (per trial, and of the medians).
async fn throughput(args: &FlowArgs, dir: &std::path::Path) -> Fallible<()> {
    let fan = FanoutArgs {
        events: args.events,
        batch: 100,
        senders: 4,
        latency_events: 0,
        gap_ms: 0,
        durability: DurabilityArg::Full,
        common: args.common.clone(),
    };
    let mut headers = vec!["trial".to_owned(), format!("{} (runs/s)", WORKLOADS[0].0)];
    for (name, _) in &WORKLOADS[1..] {
        headers.extend([(*name).to_owned(), "ratio".to_owned()]);
    }
    let mut table = Table { headers, rows: Vec::new() };
    let mut rates = vec![Vec::new(); WORKLOADS.len()];
    for trial in 1..=args.common.repeat {
        let mut row = vec![f64::NAN; WORKLOADS.len()];
        // Each trial starts with another variant, so that a machine that slows down or speeds
        // up during a trial does not always favour the same one.
        for k in 0..WORKLOADS.len() {
            let i = (k + trial - 1) % WORKLOADS.len();
            let (name, workload) = WORKLOADS[i];
            let rate = fanout::fanout_throughput(&fan, dir, Durability::Full, trial, workload).await?.rate();
            eprintln!("  trial {trial}, {name}: {rate:.0} runs/s");
            rates[i].push(rate);
            row[i] = rate;
        }
        table.row(ratio_row(trial.to_string(), &row));
    }
    let medians: Vec<f64> = rates.iter().map(|r| median(r)).collect();
    table.row(ratio_row("median".into(), &medians));
    table.print("Fan-out with flow control on both functions (completed runs/s; SQLite FULL)");
    Ok(())
}

/// A row of rates: the first (no limits), then each other with its ratio to the first.
fn ratio_row(label: String, rates: &[f64]) -> Vec<String> {
    let mut cells = vec![label, f0(rates[0])];
    for rate in &rates[1..] {
        cells.extend([f0(*rate), f2(rate / rates[0])]);
    }
    cells
}
