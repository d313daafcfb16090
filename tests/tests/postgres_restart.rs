//! Postgres restarts under two busy workers (`pg_ctl restart -m fast`: every connection is
//! cut and open transactions roll back). The workers must ride it out: requests during the
//! outage may be refused, but every event acknowledged before, during or after has its runs,
//! every run completes once the server is back, and no step whose result was committed runs
//! again. This binary holds one test because it restarts the server every test shares (cargo
//! runs test binaries one at a time, so no other test sees the restart).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hookflow_tests::postgres;
use hookflow_tests::workers::{self, Worker};

const WORKER: &str = env!("CARGO_BIN_EXE_crash_worker");

fn start(dir: &std::path::Path, db: &str, generation: u32) -> Worker {
    workers::start(WORKER, dir, db, generation, &["--lease-ms", "1500"])
}

/// The events sent so far: those acknowledged, and how many batches were refused.
#[derive(Default)]
struct Traffic {
    acked: HashSet<String>,
    refused: usize,
    next: usize,
}

impl Traffic {
    /// Sends batches round-robin to the workers for `ms` milliseconds.
    async fn send_for(&mut self, client: &reqwest::Client, live: &[Worker], ms: u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            for worker in live {
                match workers::send_batch(client, &worker.url, &mut self.next, 8).await {
                    Some(ids) => self.acked.extend(ids),
                    None => self.refused += 1,
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_ride_out_a_postgres_restart_and_lose_nothing_they_acknowledged() {
    let Some(url) = postgres::url("workers_ride_out_a_postgres_restart") else { return };
    let db = postgres::database(&url).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = tmp.path().to_owned();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let live = [start(&dir, &db, 0), start(&dir, &db, 1)];

    let mut traffic = Traffic::default();
    traffic.send_for(&client, &live, 1_000).await;
    let before = traffic.acked.len();

    // Restart the server while the workers are busy, and keep sending through the outage.
    let restart = tokio::task::spawn_blocking(postgres::restart_server);
    traffic.send_for(&client, &live, 300).await;
    if !restart.await.expect("restart thread") {
        assert!(
            std::env::var(postgres::REQUIRE_ENV).map_or(true, |v| v != "1"),
            "tests/run must export {} and {}",
            postgres::DATA_ENV,
            postgres::BIN_ENV
        );
        eprintln!("SKIPPED: the Postgres server was not started by tests/run, so it cannot be restarted");
        return;
    }
    let during = traffic.acked.len() - before;
    traffic.send_for(&client, &live, 1_500).await;
    let after = traffic.acked.len() - before - during;
    let Traffic { acked, refused, .. } = traffic;
    assert!(after > 0, "the workers accept events again once the server is back");

    let store = postgres::store_in(&db, "hookflow").await;
    let runs = workers::wait_until_done(&store, &acked, Duration::from_secs(120)).await;
    let checked = workers::check(&store, &runs, &acked, &dir.join("effects.log"), 3).await;
    drop(live);
    eprintln!(
        "postgres restart: {before} events acknowledged before, {during} during, {after} after; {refused} \
         batches refused; {} runs completed; committed steps by worker {:?}; {} executions interrupted",
        runs.len(),
        checked.by_generation,
        checked.repeated
    );
}
