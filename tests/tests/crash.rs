//! Durability, proven with real processes: a worker running the engine on SQLite is killed
//! with SIGKILL at random moments while events arrive, over several rounds, then restarted.
//! Every acknowledged event must have its runs, every run must complete, and no step whose
//! result was committed may run again (each step's side effect is logged outside the engine,
//! with a token the step returns; the journal must hold the token of the last execution).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hookflow::store::SqliteStore;
use hookflow_tests::workers::{self, send_until, Worker};

const ROUNDS: u32 = 5;

fn start_worker(dir: &Path, generation: u32) -> Worker {
    workers::start(env!("CARGO_BIN_EXE_crash_worker"), dir, dir.join("engine.db"), generation, &[])
}

fn kill(worker: Worker) {
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_and_never_repeats_a_committed_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = dir.path().to_owned();
    let client = reqwest::Client::new();
    let mut acked: HashSet<String> = HashSet::new();
    let mut next = 0;
    for generation in 0..ROUNDS {
        let worker = start_worker(&dir, generation);
        let life = Duration::from_millis(rand::random_range(150..700));
        let ids = send_until(&client, &worker.url, &mut next, Instant::now() + life).await;
        acked.extend(ids);
        // Let runs progress a moment longer, then kill in the middle of whatever is going on.
        tokio::time::sleep(Duration::from_millis(rand::random_range(0..120))).await;
        kill(worker);
    }
    assert!(acked.len() > 50, "enough events were acknowledged to mean something: {}", acked.len());

    let worker = start_worker(&dir, ROUNDS);
    // The worker owns the file; the test only reads it.
    let store = SqliteStore::open_read_only(dir.join("engine.db")).expect("open the engine's database");
    let runs = workers::wait_until_done(&store, &acked, Duration::from_secs(120)).await;
    kill(worker);
    let checked = workers::check(&store, &runs, &acked, &dir.join("effects.log"), ROUNDS as usize + 1).await;
    eprintln!(
        "crash test: {} events acknowledged, {} runs completed, {} step executions interrupted by a kill before commit",
        acked.len(),
        runs.len(),
        checked.repeated
    );
}
