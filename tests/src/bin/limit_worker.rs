//! A real engine process for the multi-process concurrency test: the Postgres store at `--db`,
//! shared with the other workers, the event API on a random port (written to `--port-file`),
//! and one function with `concurrency(limit = 2)` whose two steps record in the database's
//! `public.overlap` table when they start and when they end, on the database's clock, so the
//! test can tell what executed at once across processes. The test kills it with SIGKILL.

use std::process::ExitCode;
use std::time::Duration;

use hookflow::prelude::*;
use hookflow_tests::workers::{arg, serve_on_port_file};

/// Where steps record their executions.
struct Probe {
    client: tokio_postgres::Client,
    generation: i32,
}

impl Probe {
    /// Records a step's execution from its start to its end, around `work`.
    async fn around(&self, event: &str, step: &str) -> Result<()> {
        let db = |e: tokio_postgres::Error| Error::msg(format!("probe: {e}"));
        let row = self
            .client
            .query_one(
                "INSERT INTO public.overlap (generation, event, step) VALUES ($1, $2, $3) RETURNING seq",
                &[&self.generation, &event, &step],
            )
            .await
            .map_err(db)?;
        let seq: i64 = row.get(0);
        tokio::time::sleep(Duration::from_millis(60)).await;
        self.client
            .execute("UPDATE public.overlap SET ended = clock_timestamp() WHERE seq = $1", &[&seq])
            .await
            .map_err(db)?;
        Ok(())
    }
}

#[inngest_fn(id = "limited", event = "limit/go", concurrency(limit = 2))]
async fn limited(event: Event<Json>, step: Step, probe: Dep<Probe>) -> Result<()> {
    let id = event.id.clone();
    step.run("one", || async { probe.around(&id, "one").await }).await?;
    step.run("two", || async { probe.around(&id, "two").await }).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Some(db), Some(port_file)) = (arg("--db"), arg("--port-file")) else {
        eprintln!("usage: limit_worker --db postgres://URL --port-file PATH [--generation N] [--lease-ms N]");
        return ExitCode::FAILURE;
    };
    let generation = arg("--generation").and_then(|g| g.parse().ok()).unwrap_or(0);
    let client = match tokio_postgres::connect(&db, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => {
            eprintln!("cannot connect the probe: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match hookflow::App::new("limit-worker").database_url(&db) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("bad database URL: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match arg("--lease-ms").and_then(|ms| ms.parse().ok()) {
        Some(ms) => app.lease(Duration::from_millis(ms)),
        None => app,
    };
    serve_on_port_file(app.state(Probe { client, generation }), &port_file).await
}
