//! A real engine process for the debounce crash test: SQLite store at `--db`, the event API on
//! a random port (written to `--port-file`), and one debounced function. The test kills it with
//! SIGKILL inside a window. (The crash worker is not reused: it also runs on Postgres, which
//! refuses debouncing.)

use std::path::PathBuf;

use hookflow::prelude::*;

#[inngest_fn(id = "crash-debounced", event = "crash/debounce", debounce(period = "1s", key = "event.data.k"))]
async fn crash_debounced(event: Event<Json>) -> Result<Json> {
    Ok(event.data.get("n").cloned().unwrap_or(Json::Null))
}

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (Some(db), Some(port_file)) = (arg("--db"), arg("--port-file")) else {
        eprintln!("usage: debounce_worker --db PATH --port-file PATH");
        return std::process::ExitCode::FAILURE;
    };
    let app = match hookflow::App::new("debounce-worker").store_sqlite(PathBuf::from(db)).start().await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let tmp = format!("{port_file}.tmp");
    if std::fs::write(&tmp, port.to_string()).and_then(|()| std::fs::rename(&tmp, &port_file)).is_err() {
        return std::process::ExitCode::FAILURE;
    }
    match app.serve(listener, std::future::pending()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
