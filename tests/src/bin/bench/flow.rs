//! Flow control: what concurrency limits and throttles cost, how many held-back runs fit in
//! memory, and how soon a freed slot goes to the next run.
//!
//! - throughput: N events, each starting one run of two steps, on SQLite, for a function with
//!   no limits, with a keyed concurrency limit (100 keys, 10 at once each), and with a throttle
//!   that admits everything; runs/s and the ratio to no limits;
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

use crate::stats::{f0, f1, f2, median, ms, percentile, proc_status_mib, sorted, Table};
use crate::support::{query_count, registry, send_all, temp_dir, Common, Fallible};

#[derive(Args)]
pub(super) struct FlowArgs {
    /// Events per throughput trial (each starts one run of two steps).
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

async fn two_steps(step: &Step) -> Result<usize> {
    let a: usize = step.run("a", || async { Ok(1) }).await?;
    Ok(step.run("b", || async move { Ok(a + 1) }).await?)
}

#[inngest_fn(id = "flow-free", event = "bench/free")]
async fn free(step: Step) -> Result<usize> {
    two_steps(&step).await
}

#[inngest_fn(id = "flow-keyed", event = "bench/keyed", concurrency(limit = 10, key = "event.data.tenant"))]
async fn keyed(step: Step) -> Result<usize> {
    two_steps(&step).await
}

#[inngest_fn(id = "flow-throttled", event = "bench/throttled", throttle(limit = 1_000_000, period = "1s"))]
async fn throttled(step: Step) -> Result<usize> {
    two_steps(&step).await
}

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
    let defs = [free::DEF, keyed::DEF, throttled::DEF, one_at_a_time::DEF];
    let engine = Engine::builder("bench-flow", registry(&defs)?).store(store).state(state).start().await?;
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

/// Completed runs per second of one function.
async fn throughput(args: &FlowArgs, dir: &std::path::Path, name: &str, trial: usize) -> Fallible<f64> {
    let tag = format!("{}-{trial}", name.replace('/', "-"));
    let (engine, path) = engine(dir, &tag, State::default()).await?;
    let start = Instant::now();
    send_all(&engine, events(name, &tag, args.events), 4).await?;
    engine.settle().await;
    let secs = start.elapsed().as_secs_f64();
    let done = query_count(&path, "SELECT count(*) FROM runs WHERE status = 'Completed'")?;
    if done != i64::try_from(args.events)? {
        return Err(format!("{done} runs of {name} completed, expected {}", args.events).into());
    }
    engine.shutdown(Duration::from_secs(5)).await;
    #[allow(clippy::cast_precision_loss)]
    Ok(args.events as f64 / secs)
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
        "flow control: {} events per throughput trial, {} held-back runs, {} hand-offs; SQLite FULL",
        args.events, args.held, args.handoff
    );
    // Memory first, in a fresh process: later trials would measure what earlier ones freed.
    let mut memory = Table::new(&["held-back runs", "RSS added (MiB)", "per run (bytes)"]);
    let mib = held_back(&args, dir.path(), 0).await?;
    #[allow(clippy::cast_precision_loss)]
    let per_run = mib * 1024.0 * 1024.0 / args.held.max(1) as f64;
    memory.row(vec![args.held.to_string(), f1(mib), f0(per_run)]);
    memory.print("Memory of runs held back by a full concurrency limit (one trial, first in the process)");

    let mut table = Table::new(&["trial", "no limits (runs/s)", "keyed concurrency", "ratio", "throttle", "ratio"]);
    let (mut free_all, mut keyed_all, mut throttled_all) = (Vec::new(), Vec::new(), Vec::new());
    for trial in 0..args.common.repeat {
        let free = throughput(&args, dir.path(), "bench/free", trial).await?;
        let keyed = throughput(&args, dir.path(), "bench/keyed", trial).await?;
        let throttled = throughput(&args, dir.path(), "bench/throttled", trial).await?;
        table.row(vec![trial.to_string(), f0(free), f0(keyed), f2(keyed / free), f0(throttled), f2(throttled / free)]);
        free_all.push(free);
        keyed_all.push(keyed);
        throttled_all.push(throttled);
    }
    let (free, keyed, throttled) = (median(&free_all), median(&keyed_all), median(&throttled_all));
    table.row(vec!["median".into(), f0(free), f0(keyed), f2(keyed / free), f0(throttled), f2(throttled / free)]);
    table.print("Throughput with flow control (completed runs/s, 1 run of 2 steps per event)");

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
    Ok(())
}
