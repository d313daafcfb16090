//! The `bench all` fan-out workload on duroxide (Microsoft's durable orchestrations for Rust) with
//! its SQLite provider: per event, two orchestrations (`FanA`, `FanB`) of two activities each
//! (`LoadUser`, then `Record`), as hookflow runs two functions of two steps. Then events one at
//! a time: the time from `start_orchestration` to the first activity's body.
//!
//! ```text
//! duroxide-fanout --db FILE --fixture user.created.json --events N --latency-events M [--synchronous full|shipped]
//! ```
//!
//! Prints `RESULT runs=M seconds=S runs_per_s=R synchronous=K` and `FIRST_STEP_MS v,v,...`.
//!
//! Durability: the provider opens its connections with `PRAGMA synchronous = WAL`, which SQLite
//! does not know and reads as NORMAL (1): commits are not fsynced. `--synchronous full` (the
//! default here, for an equal comparison) sets FULL on every connection of the provider's pool
//! before the trial; `shipped` leaves the provider's setting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use duroxide::providers::sqlite::SqliteProvider;
use duroxide::runtime::registry::ActivityRegistry;
use duroxide::runtime::{self};
use duroxide::{ActivityContext, Client, OrchestrationContext, OrchestrationRegistry, OrchestrationStatus};
use serde_json::{json, Value};

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The pool size `SqliteProvider::new` gives its pool.
const POOL_SIZE: usize = 5;

#[derive(Default)]
struct Progress {
    recorded: AtomicU64,
    first_step_ms: Mutex<Vec<f64>>,
    wake: tokio::sync::Notify,
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

struct Args {
    db: String,
    fixture: String,
    events: usize,
    latency_events: usize,
    full: bool,
}

fn args() -> Fallible<Args> {
    let mut args = Args { db: String::new(), fixture: String::new(), events: 1_000, latency_events: 0, full: true };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--db" => args.db = value,
            "--fixture" => args.fixture = value,
            "--events" => args.events = value.parse()?,
            "--latency-events" => args.latency_events = value.parse()?,
            "--synchronous" => args.full = value == "full",
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if args.db.is_empty() || args.fixture.is_empty() {
        return Err("--db and --fixture are required".into());
    }
    Ok(args)
}

/// Sets `synchronous` on every connection of the pool (all held at once, so each is a
/// different one), and answers the setting they report.
async fn synchronous(pool: &sqlx::SqlitePool, full: bool) -> Fallible<i64> {
    let mut held = Vec::with_capacity(POOL_SIZE);
    for _ in 0..POOL_SIZE {
        held.push(pool.acquire().await?);
    }
    let mut seen = Vec::with_capacity(POOL_SIZE);
    for conn in &mut held {
        if full {
            sqlx::query("PRAGMA synchronous = FULL").execute(&mut **conn).await?;
        }
        seen.push(sqlx::query_scalar::<_, i64>("PRAGMA synchronous").fetch_one(&mut **conn).await?);
    }
    seen.dedup();
    match seen.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!("the pool's connections disagree on synchronous: {seen:?}").into()),
    }
}

fn user(template: &Value, tag: &str, i: usize, sent_us: i64) -> String {
    let mut user = template.clone();
    user["id"] = json!(format!("user_duroxide_{tag}_{i:07}"));
    json!({"user": user, "sent_us": sent_us}).to_string()
}

async fn wait_recorded(progress: &Progress, n: u64, timeout: Duration) -> Fallible<()> {
    let give_up = Instant::now() + timeout;
    while progress.recorded.load(Ordering::Relaxed) < n {
        if Instant::now() > give_up {
            let done = progress.recorded.load(Ordering::Relaxed);
            return Err(format!("{done} of {n} runs reached their last step within {} s", timeout.as_secs()).into());
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), progress.wake.notified()).await;
    }
    Ok(())
}

async fn completed(client: &Client, instance: &str) -> Fallible<()> {
    match client.wait_for_orchestration(instance, Duration::from_secs(60)).await {
        Ok(OrchestrationStatus::Completed { .. }) => Ok(()),
        Ok(other) => Err(format!("{instance} ended as {other:?}").into()),
        Err(e) => Err(format!("{instance}: {e:?}").into()),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duroxide-fanout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Fallible<()> {
    let args = args()?;
    let template: Value = serde_json::from_str::<Value>(&std::fs::read_to_string(&args.fixture)?)?["data"].clone();
    std::fs::File::create(&args.db)?;
    let store = Arc::new(SqliteProvider::new(&format!("sqlite:{}", args.db), None).await?);
    let level = synchronous(store.get_pool(), args.full).await?;

    let progress = Arc::new(Progress::default());
    let load = progress.clone();
    let record = progress.clone();
    let activities = ActivityRegistry::builder()
        .register("LoadUser", move |_ctx: ActivityContext, input: String| {
            let progress = load.clone();
            async move {
                let input: Value = serde_json::from_str(&input).map_err(|e| e.to_string())?;
                let sent = input["sent_us"].as_i64().unwrap_or(0);
                if sent > 0 {
                    #[allow(clippy::cast_precision_loss)]
                    let late = (now_us() - sent) as f64 / 1_000.0;
                    progress.first_step_ms.lock().map_err(|_| "poisoned".to_owned())?.push(late);
                }
                Ok(input["user"]["id"].as_str().map_or(0, str::len).to_string())
            }
        })
        .register("Record", move |_ctx: ActivityContext, len: String| {
            let progress = record.clone();
            async move {
                let total = len.parse::<u64>().map_err(|e| e.to_string())? + 1;
                progress.recorded.fetch_add(1, Ordering::Relaxed);
                progress.wake.notify_one();
                Ok(total.to_string())
            }
        })
        .build();
    let fan = |ctx: OrchestrationContext, input: String| async move {
        let len = ctx.schedule_activity("LoadUser", input).await?;
        ctx.schedule_activity("Record", len).await
    };
    let orchestrations = OrchestrationRegistry::builder().register("FanA", fan).register("FanB", fan).build();
    let rt = runtime::Runtime::start_with_store(store.clone(), activities, orchestrations).await;
    let client = Client::new(store.clone());

    let runs = u64::try_from(args.events * 2)?;
    let start = Instant::now();
    let mut instances = Vec::with_capacity(args.events * 2);
    for i in 0..args.events {
        let input = user(&template, "t", i, 0);
        for function in ["FanA", "FanB"] {
            let instance = format!("{function}-t-{i}");
            client.start_orchestration(&instance, function, input.clone()).await.map_err(|e| format!("{e:?}"))?;
            instances.push(instance);
        }
    }
    wait_recorded(&progress, runs, Duration::from_secs(1_800)).await?;
    for instance in &instances {
        completed(&client, instance).await?;
    }
    let seconds = start.elapsed().as_secs_f64();

    for i in 0..args.latency_events {
        let before = progress.recorded.load(Ordering::Relaxed);
        let input = user(&template, "l", i, now_us());
        for function in ["FanA", "FanB"] {
            let instance = format!("{function}-l-{i}");
            client.start_orchestration(&instance, function, input.clone()).await.map_err(|e| format!("{e:?}"))?;
        }
        wait_recorded(&progress, before + 2, Duration::from_secs(60)).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    rt.shutdown(None).await;
    #[allow(clippy::cast_precision_loss)]
    let rate = runs as f64 / seconds;
    println!("RESULT runs={runs} seconds={seconds:.3} runs_per_s={rate:.1} synchronous={level}");
    let first = progress.first_step_ms.lock().map_err(|_| "poisoned")?;
    println!("FIRST_STEP_MS {}", first.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>().join(","));
    Ok(())
}
