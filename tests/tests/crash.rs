//! Durability, proven with real processes: a worker running the engine on SQLite is killed
//! with SIGKILL at random moments while events arrive, over several rounds, then restarted.
//! Every acknowledged event must have its runs, every run must complete, and no step whose
//! result was committed may run again (each step's side effect is logged outside the engine,
//! with a token the step returns; the journal must hold the token of the last execution).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hookflow::store::{Memo, Queries, RunLog, RunQuery, SqliteStore};
use serde_json::json;

const ROUNDS: u32 = 5;

struct Worker {
    child: Child,
    url: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SIGKILL: the point of the test. Reaping it avoids a zombie.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_worker(dir: &Path, generation: u32) -> Worker {
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
        .arg("--db")
        .arg(dir.join("engine.db"))
        .arg("--effects")
        .arg(dir.join("effects.log"))
        .arg("--port-file")
        .arg(&port_file)
        .arg("--generation")
        .arg(generation.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the worker");
    let mut worker = Worker { child, url: String::new() };
    let started = Instant::now();
    loop {
        if let Ok(port) = std::fs::read_to_string(&port_file) {
            worker.url = format!("http://127.0.0.1:{}", port.trim());
            return worker;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the worker did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(worker: Worker) {
    drop(worker);
}

/// Sends batches of events until `until`; returns the ids the server acknowledged.
async fn send_until(client: &reqwest::Client, url: &str, next: &mut usize, until: Instant) -> Vec<String> {
    let mut acked = Vec::new();
    while Instant::now() < until {
        let ids: Vec<String> = (0..8).map(|i| format!("evt-{}", *next + i)).collect();
        *next += ids.len();
        let body: Vec<_> = ids.iter().map(|id| json!({"name": "crash/go", "id": id, "data": {"n": id}})).collect();
        match client.post(format!("{url}/e/key")).json(&body).send().await {
            Ok(resp) if resp.status().is_success() => acked.extend(ids),
            _ => break,
        }
    }
    acked
}

fn effects(path: &Path) -> BTreeMap<(String, String, String), Vec<String>> {
    let mut out: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if let [event, function, step, token] = parts[..] {
            out.entry((event.to_owned(), function.to_owned(), step.to_owned())).or_default().push(token.to_owned());
        }
    }
    out
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
    let deadline = Instant::now() + Duration::from_secs(120);
    let runs = loop {
        let all = store_all_runs(&store).await;
        if all.iter().filter(|r| r.status == hookflow::store::RunStatus::Completed).count() >= acked.len() * 2
            && all.iter().all(|r| r.status.is_terminal())
        {
            break all;
        }
        assert!(Instant::now() < deadline, "runs did not all complete after the last restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    kill(worker);

    // Every acknowledged event is stored and has exactly one completed run per function.
    let mut per_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for run in &runs {
        assert_eq!(run.status, hookflow::store::RunStatus::Completed, "run {run:?}");
        per_event.entry(run.event_ids[0].clone()).or_default().push(run.function_id.clone());
    }
    for id in &acked {
        let mut functions = per_event.get(id).cloned().unwrap_or_default();
        functions.sort();
        assert_eq!(functions, vec!["crash-a".to_owned(), "crash-b".to_owned()], "runs of acknowledged event {id}");
    }

    // No committed step ran again: the journal holds the token of each step's last execution.
    let log = effects(&dir.join("effects.log"));
    let mut repeated = 0;
    for run in &runs {
        let journal = store.journal(&run.id).await.expect("journal");
        for name in ["one", "two", "three"] {
            let entry = journal.iter().find(|s| s.name == name).expect("step recorded");
            let Memo::Data(token) = &entry.memo else { panic!("step {name} failed: {entry:?}") };
            let key = (run.event_ids[0].clone(), run.function_id.clone(), name.to_owned());
            let executions = log.get(&key).cloned().unwrap_or_default();
            assert_eq!(
                executions.last().map(|t| json!(t)),
                Some(token.clone()),
                "step {key:?}: it ran after its result was committed (executions {executions:?})"
            );
            assert!(executions.len() as u32 <= ROUNDS + 1, "step {key:?} ran {} times", executions.len());
            repeated += executions.len() - 1;
        }
    }
    eprintln!(
        "crash test: {} events acknowledged, {} runs completed, {} step executions interrupted by a kill before commit",
        acked.len(),
        runs.len(),
        repeated
    );
}

async fn store_all_runs(store: &SqliteStore) -> Vec<hookflow::store::RunRecord> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_runs(&RunQuery { before: before.clone(), limit: 1000, ..RunQuery::default() })
            .await
            .expect("runs");
        let Some(last) = page.last() else { break };
        before = Some(last.id.clone());
        all.extend(page);
    }
    all
}
