//! A real engine process for the crash tests: SQLite store (or Postgres, shared with other
//! workers, when `--db` is a `postgres://` URL), the event API on a random port
//! (written to `--port-file`), and two multi-step functions with sleeps whose every step
//! execution is recorded in `--effects`, outside the engine. The test kills it with SIGKILL.
//! A third function (`crash/poison`) aborts the process in its step, every time.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use hookflow::prelude::*;
use hookflow_tests::workers::{arg, serve_on_port_file};

/// The side-effect log: one line per step execution, `event function step token`.
struct Effects {
    file: Mutex<std::fs::File>,
    generation: u32,
}

impl Effects {
    fn record(&self, event: &str, function: &str, step: &str) -> Result<String> {
        let token = format!("g{}-{:016x}", self.generation, rand::random::<u64>());
        let line = format!("{event} {function} {step} {token}\n");
        let mut file = self.file.lock().map_err(|_| Error::msg("effects lock poisoned"))?;
        file.write_all(line.as_bytes())?;
        Ok(token)
    }
}

#[inngest_fn(id = "crash-a", event = "crash/go")]
async fn crash_a(event: Event<Json>, step: Step, fx: Dep<Effects>) -> Result<Vec<String>> {
    let id = event.id.clone();
    let one = step.run("one", || async { fx.record(&id, "crash-a", "one") }).await?;
    step.sleep("nap", "150ms").await?;
    let two = step.run("two", || async { fx.record(&id, "crash-a", "two") }).await?;
    let three = step.run("three", || async { fx.record(&id, "crash-a", "three") }).await?;
    Ok(vec![one, two, three])
}

#[inngest_fn(id = "crash-b", event = "crash/go")]
async fn crash_b(event: Event<Json>, step: Step, fx: Dep<Effects>) -> Result<Vec<String>> {
    let id = event.id.clone();
    let one = step.run("one", || async { fx.record(&id, "crash-b", "one") }).await?;
    let two = step.run("two", || async { fx.record(&id, "crash-b", "two") }).await?;
    step.sleep("nap", "80ms").await?;
    let three = step.run("three", || async { fx.record(&id, "crash-b", "three") }).await?;
    Ok(vec![one, two, three])
}

/// A step that takes its process down every time it runs: a poison pill, which the engine
/// must fail after `--max-interrupted` interrupted passes rather than claim forever.
#[inngest_fn(id = "crash-poison", event = "crash/poison")]
async fn crash_poison(event: Event<Json>, step: Step, fx: Dep<Effects>) -> Result<()> {
    let id = event.id.clone();
    step.run("boom", || async { record_and_abort(&fx, &id) }).await?;
    Ok(())
}

fn record_and_abort(fx: &Effects, event: &str) -> Result<()> {
    fx.record(event, "crash-poison", "boom")?;
    std::process::abort()
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Some(db), Some(effects), Some(port_file)) = (arg("--db"), arg("--effects"), arg("--port-file")) else {
        eprintln!(
            "usage: crash_worker --db PATH|postgres://URL --effects PATH --port-file PATH [--generation N] \
             [--lease-ms N] [--max-interrupted N]"
        );
        return ExitCode::FAILURE;
    };
    let generation = arg("--generation").and_then(|g| g.parse().ok()).unwrap_or(0);
    let file = match std::fs::OpenOptions::new().create(true).append(true).open(&effects) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open {effects}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fx = Effects { file: Mutex::new(file), generation };
    let app = hookflow::App::new("crash-worker");
    // A Postgres URL: one of several workers sharing the database.
    let app = if db.starts_with("postgres://") {
        match app.database_url(&db) {
            Ok(app) => app,
            Err(e) => {
                eprintln!("bad database URL: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        app.store_sqlite(PathBuf::from(db))
    };
    let app = match arg("--lease-ms").and_then(|ms| ms.parse().ok()) {
        Some(ms) => app.lease(std::time::Duration::from_millis(ms)),
        None => app,
    };
    let app = match arg("--max-interrupted").and_then(|n| n.parse().ok()) {
        Some(n) => app.max_interrupted_passes(n),
        None => app,
    };
    serve_on_port_file(app.state(fx), &port_file).await
}
