//! Recovery: a worker process with 10,000 runs in flight (half of them about to sleep 2 s) is
//! killed with SIGKILL; a new one is started on the same file. Measured: the time from its
//! start until every run has completed, and how many step executions repeated one that had
//! already run (only those in flight at the kill may repeat, and none whose result was
//! committed: the effects log and the journal say which).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use hookflow::prelude::*;
use hookflow::store::{Durability, Memo, RunLog, SqliteStore};
use hookflow::{RawEvent, State};
use serde_json::json;

use crate::stats::{f0, f1, median, Table};
use crate::support::{query_count, registry, temp_dir, Common, Fallible};

#[derive(Args)]
pub(super) struct RecoveryArgs {
    /// Events sent before the kill (each starts 2 runs: one of 3 steps, one that sleeps 2 s
    /// between its steps).
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Internal: run as the worker process on this database.
    #[arg(long, hide = true)]
    worker: Option<PathBuf>,
    /// Internal (worker): send the events, then keep running until killed.
    #[arg(long, hide = true)]
    send: bool,
    #[command(flatten)]
    common: Common,
}

/// One line per step execution, `event function step token`, written outside the engine; the
/// step returns the token, so the journal says which execution's result was committed.
struct Effects(Mutex<std::fs::File>);

impl Effects {
    fn record(&self, event: &str, function: &str, step: &str) -> Result<String> {
        let token = format!("{:016x}", rand::random::<u64>());
        // One write per line: a kill cannot leave half a line for the next process to append to.
        let line = format!("{event} {function} {step} {token}\n");
        let mut file = self.0.lock().map_err(|_| Error::msg("effects lock poisoned"))?;
        file.write_all(line.as_bytes())?;
        Ok(token)
    }
}

#[inngest_fn(id = "recover-steps", event = "bench/recover")]
async fn recover_steps(event: Event<Json>, step: Step, fx: Dep<Effects>) -> Result<()> {
    for name in ["one", "two", "three"] {
        step.run(name, || async { fx.record(&event.id, "recover-steps", name) }).await?;
    }
    Ok(())
}

#[inngest_fn(id = "recover-sleep", event = "bench/recover")]
async fn recover_sleep(event: Event<Json>, step: Step, fx: Dep<Effects>) -> Result<()> {
    step.run("before", || async { fx.record(&event.id, "recover-sleep", "before") }).await?;
    step.sleep("nap", "2s").await?;
    step.run("after", || async { fx.record(&event.id, "recover-sleep", "after") }).await?;
    Ok(())
}

fn effects_path(db: &Path) -> PathBuf {
    db.with_extension("effects")
}

async fn worker(db: &Path, send: usize) -> Fallible<()> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(effects_path(db))?;
    let mut state = State::default();
    state.insert(Effects(Mutex::new(file)));
    let store = std::sync::Arc::new(SqliteStore::open_with(db, Durability::Full)?);
    let engine = hookflow::Engine::builder("bench-recovery", registry(&[recover_steps::DEF, recover_sleep::DEF])?)
        .store(store)
        .state(state)
        .start()
        .await?;
    println!("started");
    if send > 0 {
        for chunk in (0..send).collect::<Vec<_>>().chunks(100) {
            let events: Vec<RawEvent> = chunk
                .iter()
                .map(|i| RawEvent::new("bench/recover", json!({"n": i})).with_id(format!("rec-{i}")))
                .collect();
            engine.send(events).await.map_err(|e| e.to_string())?;
        }
        println!("sent");
    }
    std::future::pending::<()>().await;
    Ok(())
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(db: &Path, send: usize) -> Fallible<(Worker, std::io::Lines<BufReader<std::process::ChildStdout>>)> {
    let mut command = Process::new(std::env::current_exe()?);
    command.args(["recovery", "--worker"]).arg(db).args(["--events", &send.to_string()]);
    if send > 0 {
        command.arg("--send");
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    Ok((Worker(child), BufReader::new(stdout).lines()))
}

fn wait_for(lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>, what: &str) -> Fallible<()> {
    for line in lines.by_ref() {
        if line? == what {
            return Ok(());
        }
    }
    Err(format!("the worker ended before it printed `{what}`").into())
}

struct Trial {
    in_flight: i64,
    resume_s: f64,
    repeated: usize,
    repeated_after_commit: usize,
}

async fn trial(args: &RecoveryArgs, dir: &Path, n: usize) -> Fallible<Trial> {
    let db = dir.join(format!("recovery-{n}.db"));
    let (worker1, mut lines) = start(&db, args.events)?;
    wait_for(&mut lines, "started")?;
    wait_for(&mut lines, "sent")?;
    drop(worker1); // SIGKILL, with the last events' runs in flight
    let total = i64::try_from(args.events * 2)?;
    let in_flight = total - query_count(&db, "SELECT count(*) FROM runs WHERE status = 'Completed'")?;
    let started = Instant::now();
    let (_worker2, mut lines) = start(&db, 0)?;
    wait_for(&mut lines, "started")?;
    loop {
        if query_count(&db, "SELECT count(*) FROM runs WHERE status = 'Completed'")? == total {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err("runs did not complete within 10 minutes of the restart".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resume_s = started.elapsed().as_secs_f64();
    // Executions per (event, function, step), in order; the journal holds one token each.
    let mut executions: HashMap<(String, String, String), Vec<String>> = HashMap::new();
    for line in std::fs::read_to_string(effects_path(&db))?.lines() {
        if let [event, function, step, token] = line.split(' ').collect::<Vec<_>>()[..] {
            executions
                .entry((event.to_owned(), function.to_owned(), step.to_owned()))
                .or_default()
                .push(token.to_owned());
        }
    }
    let repeated: usize = executions.values().map(|tokens| tokens.len() - 1).sum();
    let store = SqliteStore::open_read_only(&db)?;
    let runs = store_runs(&db)?;
    let mut repeated_after_commit = 0;
    for ((event, function, step), tokens) in &executions {
        let run =
            runs.get(&(event.clone(), function.clone())).ok_or_else(|| format!("no run for {event} {function}"))?;
        let journal = store.journal(run).await?;
        let committed = journal.iter().find(|s| &s.name == step).map(|s| s.memo.clone());
        let Some(Memo::Data(committed)) = committed else {
            return Err(format!("{event} {function} {step} has no result").into());
        };
        // The committed result is the last execution's: a later one would have repeated it.
        if tokens.last().map(|t| json!(t)) != Some(committed.clone()) {
            eprintln!(
                "  a committed step ran again: {event} {function} {step}: executions {tokens:?}, committed {committed}"
            );
            repeated_after_commit += 1;
        }
    }
    Ok(Trial { in_flight, resume_s, repeated, repeated_after_commit })
}

/// Run ids by (event id, function id).
fn store_runs(db: &Path) -> Fallible<HashMap<(String, String), String>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT event_id, function_id, id FROM runs")?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) async fn recovery(args: RecoveryArgs) -> Fallible<()> {
    if let Some(db) = &args.worker {
        return worker(db, if args.send { args.events } else { 0 }).await;
    }
    let dir = temp_dir(&args.common)?;
    println!(
        "recovery: {} events × 2 functions (3 steps; step, 2 s sleep, step), SIGKILL right after the last \
         event is acknowledged, then a new process; {} trials, databases in {}",
        args.events,
        args.common.repeat,
        dir.path().display()
    );
    let mut table = Table::new(&[
        "trial",
        "runs not completed at the kill",
        "restart → every run completed (s)",
        "step executions repeated",
        "repeats of a committed step",
    ]);
    let mut resume = Vec::new();
    for n in 1..=args.common.repeat {
        let t = trial(&args, dir.path(), n).await?;
        eprintln!(
            "  trial {n}: {} in flight, all done {:.2} s after restart, {} repeated",
            t.in_flight, t.resume_s, t.repeated
        );
        table.row(vec![
            n.to_string(),
            t.in_flight.to_string(),
            f1(t.resume_s),
            t.repeated.to_string(),
            t.repeated_after_commit.to_string(),
        ]);
        resume.push(t.resume_s);
    }
    table.print(&format!("Recovery (median {} s)", f0(median(&resume))));
    Ok(())
}
