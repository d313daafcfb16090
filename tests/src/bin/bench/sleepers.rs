//! Sleepers: runs suspended on `step.sleep`: resident memory they cost, and how late timers fire.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hookflow::engine::Engine;
use hookflow::prelude::*;
use hookflow::store::{Durability, SqliteStore};
use hookflow::{RawEvent, State};
use serde_json::json;

use crate::stats::{f0, f1, f2, f3, median, now_ms, now_us, percentile, proc_status_mib, sorted, Table};
use crate::support::{
    db_size_mib, durability_name, query_count, registry, send_all, temp_dir, Common, DurabilityArg, Fallible,
};

#[derive(Args)]
pub(super) struct SleepersArgs {
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

pub(super) async fn sleepers(args: SleepersArgs) -> Fallible<()> {
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
