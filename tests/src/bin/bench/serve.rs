//! The serve handler: latency and CPU per call request, hookflow's handler against the official
//! TypeScript SDK's, on the same recorded requests (the differential corpus,
//! `tests/fixtures/inngest-differential/corpus.json`: fresh runs, memoized prefixes, parallel
//! steps, sleeps, waits, invokes, retries, errors), in the same run.
//!
//! Each app runs in its own process: hookflow's handler in this binary re-run as
//! `bench serve --child`, the TypeScript app (`tests/inngest-js/differential.mjs`) in Node. One
//! client on one keep-alive connection sends every case of the corpus in turn, `--rounds`
//! times, after a warm-up round; latency is per request, from sending to the whole answer
//! read; CPU is the server process's (user + system, from `/proc/<pid>/stat`) over the
//! measured rounds, divided by the requests.

use std::time::Instant;

use clap::Args;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::stats::{f0, f1, median, percentile, sorted, Cpu, Table};
use crate::support::{Common, Fallible};

#[path = "../../../tests/differential/mod.rs"]
mod differential;

#[derive(Args)]
pub(super) struct ServeArgs {
    /// Times the whole corpus is sent per trial (after one warm-up round).
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Serve hookflow's handler and print `listening <port>` (used by the benchmark itself).
    #[arg(long, hide = true)]
    child: bool,
    #[command(flatten)]
    common: Common,
}

/// One trial against one app.
struct Trial {
    latencies_us: Vec<f64>,
    cpu_us_per_request: f64,
}

pub(super) async fn serve(args: ServeArgs) -> Fallible<()> {
    if args.child {
        let url = differential::rust_app().await;
        let port = url.rsplit(':').next().and_then(|p| p.split('/').next()).unwrap_or("");
        println!("listening {port}");
        std::future::pending::<()>().await;
        return Ok(());
    }
    let cases = differential::corpus();
    let (mut rust_child, rust_url) = rust_child().await?;
    let (mut ts_child, ts_url) = differential::ts_app().await;
    let rust_pid = rust_child.id().ok_or("hookflow's handler exited")?;
    let ts_pid = ts_child.id().ok_or("the Node app exited")?;
    let mut table = Table::new(&["server", "trial", "requests", "p50 µs", "p99 µs", "CPU µs/request"]);
    let mut summary: Vec<(&str, Vec<f64>, Vec<f64>)> = Vec::new();
    for (name, url, pid) in [("hookflow (Rust)", &rust_url, rust_pid), ("TypeScript SDK 4.24 (Node)", &ts_url, ts_pid)]
    {
        let (mut p50s, mut cpus) = (Vec::new(), Vec::new());
        for trial in 1..=args.common.repeat {
            let t = run_trial(url, pid, &cases, args.rounds).await?;
            let lat = sorted(t.latencies_us);
            let (p50, p99) = (percentile(&lat, 50.0), percentile(&lat, 99.0));
            table.row(vec![
                name.to_owned(),
                trial.to_string(),
                lat.len().to_string(),
                f0(p50),
                f0(p99),
                f1(t.cpu_us_per_request),
            ]);
            p50s.push(p50);
            cpus.push(t.cpu_us_per_request);
        }
        summary.push((name, p50s, cpus));
    }
    table.print("Serve handler: one call request at a time (differential corpus)");
    let mut medians = Table::new(&["server", "median p50 µs", "median CPU µs/request"]);
    for (name, p50s, cpus) in &summary {
        medians.row(vec![(*name).to_owned(), f0(median(p50s)), f1(median(cpus))]);
    }
    medians.print("Serve handler: medians");
    let _ = rust_child.kill().await;
    let _ = ts_child.kill().await;
    Ok(())
}

/// hookflow's handler in a child process (this binary, `serve --child`).
async fn rust_child() -> Fallible<(tokio::process::Child, String)> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--child"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(port) = line.strip_prefix("listening ") {
            return Ok((child, format!("http://127.0.0.1:{}/api/inngest", port.trim())));
        }
    }
    Err("hookflow's handler exited before listening".into())
}

async fn run_trial(url: &str, pid: u32, cases: &[Value], rounds: usize) -> Fallible<Trial> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build()?;
    let requests: Vec<(String, String)> =
        cases.iter().map(|c| (differential::case_url(url, c), c["request"].to_string())).collect();
    // Warm-up: connections, JIT, allocators.
    for (target, body) in &requests {
        send(&http, target, body).await?;
    }
    let cpu_before = Cpu::of(pid)?;
    let mut latencies_us = Vec::with_capacity(rounds * requests.len());
    for _ in 0..rounds {
        for (target, body) in &requests {
            let start = Instant::now();
            send(&http, target, body).await?;
            latencies_us.push(start.elapsed().as_secs_f64() * 1e6);
        }
    }
    let cpu = Cpu::of(pid)? - cpu_before;
    // Counts are small: the precision lost converting them is nil.
    #[allow(clippy::cast_precision_loss)]
    let cpu_us_per_request = cpu * 1e6 / latencies_us.len().max(1) as f64;
    Ok(Trial { latencies_us, cpu_us_per_request })
}

async fn send(http: &reqwest::Client, target: &str, body: &str) -> Fallible<()> {
    let response = http.post(target).header("content-type", "application/json").body(body.to_owned()).send().await?;
    let status = response.status().as_u16();
    response.bytes().await?;
    if !matches!(status, 200 | 206 | 400 | 500) {
        return Err(format!("{target} answered {status}").into());
    }
    Ok(())
}
