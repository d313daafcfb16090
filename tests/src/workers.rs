//! Real worker processes (`crash_worker`, `debounce_worker`) for the crash tests: started, fed
//! events over the event API, killed with SIGKILL; the side-effect log their steps write; and,
//! for the worker binaries themselves, their command line and their serve loop.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use hookflow::store::{Memo, Queries, RunLog, RunQuery, RunRecord, RunStatus};
use serde_json::json;

/// A running worker process. Dropping it kills it with SIGKILL.
pub struct Worker {
    child: Child,
    /// Its event API's base URL.
    pub url: String,
}

impl Worker {
    /// Whether it has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SIGKILL: the point of the tests. Reaping it avoids a zombie.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `--name` on the worker's command line.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

/// A worker binary's life: starts `app`, serves its event API on a random port of 127.0.0.1,
/// writes the port to `port_file` once it listens (renamed into place, so [`start`] never reads
/// half of it), and serves until it is killed. Failures are printed, as a process reports them.
pub async fn serve_on_port_file(app: hookflow::App, port_file: &str) -> ExitCode {
    let app = match app.start().await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let tmp = format!("{port_file}.tmp");
    if let Err(e) = std::fs::write(&tmp, port.to_string()).and_then(|()| std::fs::rename(&tmp, port_file)) {
        eprintln!("cannot write {port_file}: {e}");
        return ExitCode::FAILURE;
    }
    match app.serve(listener, std::future::pending()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `binary` (`crash_worker`) on store `db` (a SQLite path or a Postgres URL), logging
/// its steps to `dir/effects.log`, with its port file in `dir`; `generation` tags its effects.
/// Waits until it listens.
pub fn start(binary: &str, dir: &Path, db: impl Into<OsString>, generation: u32, extra: &[&str]) -> Worker {
    let (mut worker, port_file) = spawn(binary, dir, db, generation, extra);
    let started = Instant::now();
    loop {
        if let Ok(port) = std::fs::read_to_string(&port_file) {
            worker.url = format!("http://127.0.0.1:{}", port.trim());
            return worker;
        }
        if let Ok(Some(status)) = worker.child.try_wait() {
            panic!("the worker exited at start: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the worker did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a worker as [`start`] does, without waiting for it to listen (it may die first);
/// answers it (its `url` empty) and its port file.
pub fn spawn(
    binary: &str,
    dir: &Path,
    db: impl Into<OsString>,
    generation: u32,
    extra: &[&str],
) -> (Worker, std::path::PathBuf) {
    let port_file = dir.join(format!("port-{generation}"));
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new(binary)
        .arg("--db")
        .arg(db.into())
        .arg("--effects")
        .arg(dir.join("effects.log"))
        .arg("--port-file")
        .arg(&port_file)
        .arg("--generation")
        .arg(generation.to_string())
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the worker");
    (Worker { child, url: String::new() }, port_file)
}

/// Sends one batch of `crash/go` events (ids `evt-{next}`...); answers their ids if the worker
/// acknowledged them.
pub async fn send_batch(client: &reqwest::Client, url: &str, next: &mut usize, size: usize) -> Option<Vec<String>> {
    let ids: Vec<String> = (0..size).map(|i| format!("evt-{}", *next + i)).collect();
    *next += ids.len();
    let body: Vec<_> = ids.iter().map(|id| json!({"name": "crash/go", "id": id, "data": {"n": id}})).collect();
    match client.post(format!("{url}/e/key")).json(&body).send().await {
        Ok(resp) if resp.status().is_success() => Some(ids),
        _ => None,
    }
}

/// Sends batches of events until `until`; returns the ids the worker acknowledged.
pub async fn send_until(client: &reqwest::Client, url: &str, next: &mut usize, until: Instant) -> Vec<String> {
    let mut acked = Vec::new();
    while Instant::now() < until {
        match send_batch(client, url, next, 8).await {
            Some(ids) => acked.extend(ids),
            None => break,
        }
    }
    acked
}

/// The side-effect log: for each (event, function, step), the tokens of its executions, in the
/// order they ran.
pub fn effects(path: &Path) -> BTreeMap<(String, String, String), Vec<String>> {
    let mut out: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if let [event, function, step, token] = parts[..] {
            out.entry((event.to_owned(), function.to_owned(), step.to_owned())).or_default().push(token.to_owned());
        }
    }
    out
}

/// Every run in `store`, paging through the dev UI's list.
pub async fn all_runs<S: Queries + ?Sized>(store: &S) -> Vec<RunRecord> {
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

/// Waits (up to `limit`) until each of `acked`'s events has completed its two runs and every
/// run has ended; answers the runs.
pub async fn wait_until_done<S: Queries + ?Sized>(
    store: &S,
    acked: &HashSet<String>,
    limit: Duration,
) -> Vec<RunRecord> {
    let deadline = Instant::now() + limit;
    loop {
        let all = all_runs(store).await;
        if all.iter().filter(|r| r.status == RunStatus::Completed).count() >= acked.len() * 2
            && all.iter().all(|r| r.status.is_terminal())
        {
            return all;
        }
        let open: Vec<_> = all.iter().filter(|r| !r.status.is_terminal()).take(3).collect();
        assert!(Instant::now() < deadline, "runs did not all complete; some still open: {open:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the checks found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Step executions interrupted before their result was committed (they ran again).
    pub repeated: usize,
    /// Journal entries, by the generation of the worker whose execution was recorded.
    pub by_generation: BTreeMap<u32, usize>,
}

/// Checks that every acknowledged event has exactly one completed run of each function, and
/// that no committed step ran again: the journal holds the token of each step's last
/// execution (an execution after the commit would come later in the log), and no step ran
/// more than `max_executions` times.
pub async fn check<S: RunLog + ?Sized>(
    store: &S,
    runs: &[RunRecord],
    acked: &HashSet<String>,
    log: &Path,
    max_executions: usize,
) -> Checked {
    let mut per_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for run in runs {
        assert_eq!(run.status, RunStatus::Completed, "run {run:?}");
        per_event.entry(run.event_ids[0].clone()).or_default().push(run.function_id.clone());
    }
    for id in acked {
        let mut functions = per_event.get(id).cloned().unwrap_or_default();
        functions.sort();
        assert_eq!(functions, vec!["crash-a".to_owned(), "crash-b".to_owned()], "runs of acknowledged event {id}");
    }
    let log = effects(log);
    let mut checked = Checked::default();
    for run in runs {
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
            assert!(executions.len() <= max_executions, "step {key:?} ran {} times", executions.len());
            checked.repeated += executions.len() - 1;
            let generation = token
                .as_str()
                .and_then(|t| t.strip_prefix('g'))
                .and_then(|t| t.split('-').next())
                .and_then(|g| g.parse().ok());
            if let Some(generation) = generation {
                *checked.by_generation.entry(generation).or_default() += 1;
            }
        }
    }
    checked
}
