//! The official Inngest TypeScript SDK, run by `hookflow dev` as Inngest's own dev server runs
//! it: `tests/inngest-js/fanout.mjs` (two functions of two `step.run`s on
//! `clerk/user.created`) in Node, synced and driven over HTTP by `hookflow dev -u` on a SQLite
//! file, with events sent to its event API (`POST /e/{key}`). This is the figure a team keeping
//! its TypeScript functions gets from hookflow's executor; Inngest's own dev server drives the
//! same kind of app at about 26–52 runs/s on this kind of machine (the figure: it cannot
//! be installed here without downloading its binary).
//!
//! `hookflow dev` runs as its own process: this binary re-run as `bench dev`, which is the CLI's
//! `hookflow dev` (the same [`hookflow::cli::DevArgs::run`]), with the bench's allocator.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use super::{setup, Env, Figure};
use crate::stats::Cpu;
use crate::support::{query_count, user_template, Fallible};

/// Events per `POST /e/{key}` in the throughput phase.
const BATCH: usize = 100;
/// Requests to the event API in flight in the throughput phase.
const SENDERS: usize = 4;
/// Milliseconds between the events of the latency phase.
const GAP_MS: u64 = 2;
/// How often the store is read for completed runs.
const POLL_MS: u64 = 2;

/// `npm ci` in `tests/inngest-js` unless the SDK is already there.
pub(super) async fn install(env: &Env) -> Fallible<()> {
    let dir = hookflow_tests::node::inngest_js_dir();
    if dir.join("node_modules/inngest/package.json").exists() {
        return Ok(());
    }
    if !env.install {
        return Err(format!("run `npm ci --prefix {}` (or run without --no-install)", dir.display()).into());
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"]).arg(&dir);
    setup("the Inngest TypeScript SDK (npm)", npm).await
}

/// The two processes of a trial, killed when dropped.
struct Stack {
    app: Child,
    dev: Child,
    base: String,
    first_steps: String,
    db: std::path::PathBuf,
}

/// One trial: a fresh `hookflow dev` on a SQLite file in `dir`, and a fresh Node app.
pub(super) async fn trial(env: &Env, dir: &Path) -> Fallible<Figure> {
    let stack = start(dir).await?;
    let http = reqwest::Client::new();
    let template = user_template()?;
    let event = |tag: &str, i: usize| {
        let mut data = template.clone();
        data["id"] = json!(format!("user_{tag}_{i:07}"));
        json!({ "name": "clerk/user.created", "id": format!("evt_{tag}_{i:07}"), "data": data })
    };

    // Throughput: every event sent in batches, until every run completed.
    let batches: Vec<Value> =
        (0..env.events).collect::<Vec<_>>().chunks(BATCH).map(|c| c.iter().map(|&i| event("t", i)).collect()).collect();
    let before = (Cpu::of(pid(&stack.app)?)?, Cpu::of(pid(&stack.dev)?)?);
    let started = Instant::now();
    send_batches(&http, &stack.base, batches).await?;
    let runs = env.events * 2;
    wait_completed(&stack.db, runs).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (node_s, dev_s) = (Cpu::of(pid(&stack.app)?)? - before.0, Cpu::of(pid(&stack.dev)?)? - before.1);
    #[allow(clippy::cast_precision_loss)]
    let per_1000 = |s: f64| s * 1_000.0 / runs as f64;
    eprintln!(
        "    inngest-ts: CPU per 1,000 runs: Node {:.2} s, hookflow dev {:.2} s",
        per_1000(node_s),
        per_1000(dev_s)
    );
    first_steps(&http, &stack.first_steps).await?;

    // Latency: one event at a time on an idle executor (the next is sent once the runs of the
    // previous completed: Node is the limit here, and a backlog would measure queueing, not the
    // path from an event to a step), each run's first step timed on this machine's clock.
    let mut sent = HashMap::with_capacity(env.latency_events);
    for i in 0..env.latency_events {
        let body = json!([event("l", i)]);
        sent.insert(format!("evt_l_{i:07}"), epoch_ms());
        post(&http, &format!("{}/e/dev", stack.base), &body).await?;
        wait_completed(&stack.db, runs + (i + 1) * 2).await?;
        tokio::time::sleep(Duration::from_millis(GAP_MS)).await;
    }
    let mut first: HashMap<(String, String), f64> = HashMap::new();
    for (event, function, at) in first_steps(&http, &stack.first_steps).await? {
        let slot = first.entry((event, function)).or_insert(at);
        *slot = slot.min(at);
    }
    let first_step_ms: Vec<f64> =
        first.iter().filter_map(|((event, _), at)| sent.get(event).map(|sent| at - sent)).collect();
    if first_step_ms.len() != env.latency_events * 2 {
        return Err(format!("{} first steps seen, expected {}", first_step_ms.len(), env.latency_events * 2).into());
    }
    drop(stack);
    Ok(Figure { runs: u64::try_from(runs)?, seconds, first_step_ms })
}

/// Starts the Node app and `hookflow dev -u` on it, and waits until the app's functions synced.
async fn start(dir: &Path) -> Fallible<Stack> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let (app, url) = hookflow_tests::node::try_start("fanout.mjs", |command| {
        command.env("INNGEST_DEV", &base).env("INNGEST_LOG_LEVEL", "warn");
    })
    .await?;
    let db = dir.join("dev.db");
    let mut dev = Command::new(std::env::current_exe()?);
    dev.arg("dev").args(["--port", &port.to_string(), "--poll-interval", "1", "-u", &url]);
    dev.arg("--db").arg(format!("sqlite:{}", db.display()));
    // `hookflow dev` keeps its dev secret (.hookflow/) in its working directory.
    dev.current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
    let dev = dev.spawn().map_err(|e| format!("cannot start `bench dev`: {e}"))?;
    let first_steps = url.replace("/api/inngest", "/first-steps");
    let stack = Stack { app, dev, base, first_steps, db };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let functions = match http.get(format!("{}/api/v1/functions", stack.base)).send().await {
            Ok(res) => res.json::<Value>().await.ok(),
            Err(_) => None,
        };
        let synced = functions.as_ref().and_then(|f| f["functions"].as_array()).map_or(0, Vec::len);
        if synced >= 2 {
            return Ok(stack);
        }
        if Instant::now() > deadline {
            return Err(
                format!("the app's functions did not sync with `hookflow dev` within 30 s ({synced} seen)").into()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pid(child: &Child) -> Fallible<u32> {
    Ok(child.id().ok_or("a process of the trial exited")?)
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1_000.0)
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Fallible<()> {
    let res = http.post(url).json(body).send().await?;
    if !res.status().is_success() {
        return Err(format!("POST {url} answered {}: {}", res.status(), res.text().await.unwrap_or_default()).into());
    }
    Ok(())
}

/// Sends `batches` from [`SENDERS`] concurrent requests; returns when all are accepted.
async fn send_batches(http: &reqwest::Client, base: &str, mut batches: Vec<Value>) -> Fallible<()> {
    batches.reverse();
    let queue = Arc::new(Mutex::new(batches));
    let url = format!("{base}/e/dev");
    let mut tasks = JoinSet::new();
    for _ in 0..SENDERS {
        let (queue, http, url) = (queue.clone(), http.clone(), url.clone());
        tasks.spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| "batch queue poisoned")?.pop();
                let Some(batch) = next else { return Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) };
                post(&http, &url, &batch).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Waits until `runs` runs are `Completed` in the store (read beside `hookflow dev`).
async fn wait_completed(db: &Path, runs: usize) -> Fallible<()> {
    let expected = i64::try_from(runs)?;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let done = query_count(db, "SELECT count(*) FROM runs WHERE status = 'Completed'")?;
        if done >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{done} of {expected} runs completed within 900 s").into());
        }
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
}

/// The first steps the app saw since the last call: (event id, function id, epoch ms).
async fn first_steps(http: &reqwest::Client, url: &str) -> Fallible<Vec<(String, String, f64)>> {
    let rows: Vec<(String, String, f64)> = http.get(url).send().await?.json().await?;
    Ok(rows)
}
