//! A real engine process for the debounce crash test: SQLite store at `--db`, the event API on
//! a random port (written to `--port-file`), and one debounced function. The test kills it with
//! SIGKILL inside a window. (The crash worker is not reused: it also runs on Postgres, which
//! refuses debouncing.)

use std::path::PathBuf;
use std::process::ExitCode;

use hookflow::prelude::*;
use hookflow_tests::workers::{arg, serve_on_port_file};

#[inngest_fn(id = "crash-debounced", event = "crash/debounce", debounce(period = "1s", key = "event.data.k"))]
async fn crash_debounced(event: Event<Json>) -> Result<Json> {
    Ok(event.data.get("n").cloned().unwrap_or(Json::Null))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Some(db), Some(port_file)) = (arg("--db"), arg("--port-file")) else {
        eprintln!("usage: debounce_worker --db PATH --port-file PATH");
        return ExitCode::FAILURE;
    };
    serve_on_port_file(hookflow::App::new("debounce-worker").store_sqlite(PathBuf::from(db)), &port_file).await
}
