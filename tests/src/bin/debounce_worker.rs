//! A real engine process for the debounce and batch crash tests: SQLite store at `--db`, the
//! event API on a random port (written to `--port-file`), a debounced function and a batched
//! one. The tests kill it with SIGKILL inside a window or a batch. (The crash worker is not
//! reused: it also runs on Postgres, which refuses debouncing and batching.)

use std::path::PathBuf;
use std::process::ExitCode;

use hookflow::prelude::*;
use hookflow_tests::workers::{arg, serve_on_port_file};

#[inngest_fn(id = "crash-debounced", event = "crash/debounce", debounce(period = "1s", key = "event.data.k"))]
async fn crash_debounced(event: Event<Json>) -> Result<Json> {
    Ok(event.data.get("n").cloned().unwrap_or(Json::Null))
}

#[inngest_fn(id = "crash-batched", event = "crash/batch", batch_events(max_size = 3, timeout = "60s"))]
async fn crash_batched(events: Vec<Event<Json>>) -> Result<Json> {
    Ok(events.iter().map(|e| e.data.get("n").cloned().unwrap_or(Json::Null)).collect())
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Some(db), Some(port_file)) = (arg("--db"), arg("--port-file")) else {
        eprintln!("usage: debounce_worker --db PATH --port-file PATH");
        return ExitCode::FAILURE;
    };
    serve_on_port_file(hookflow::App::new("debounce-worker").store_sqlite(PathBuf::from(db)), &port_file).await
}
