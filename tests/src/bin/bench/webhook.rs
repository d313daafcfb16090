//! Webhook ingress: Svix-signed Clerk webhooks over loopback, driven by wrk, beside a Node
//! server (svix + better-sqlite3).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hookflow::prelude::*;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::stats::{f0, f2, key_values, median, now_ms, Cpu, Table};
use crate::support::{query_count, registry, temp_dir, Common, Fallible, BENCH_DIR, USER_CREATED};

#[derive(Args)]
pub(super) struct WebhookArgs {
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

pub(super) async fn webhook(args: WebhookArgs) -> Fallible<()> {
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
