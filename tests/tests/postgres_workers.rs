//! Many worker processes on one Postgres, proven with real processes: three `crash_worker`s
//! start together on a new database (racing its migrations), share a stream of events whose
//! runs have steps and sleeps, and one is killed with SIGKILL right after it accepted a batch,
//! while its runs are in flight; a fourth starts. Every acknowledged event must have its two
//! runs, every run must complete (the dead worker's leases expire and others take its runs
//! over), and no step whose result was committed may run again (each step's side effect is
//! logged outside the engine with a token; the journal must hold its last execution's token).
//! And a run whose step aborts every worker that runs it is failed after two, not claimed forever.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hookflow::store::{RunLog, RunStatus};
use hookflow_tests::postgres;
use hookflow_tests::workers::{self, Worker};

const WORKER: &str = env!("CARGO_BIN_EXE_crash_worker");
/// Short, so the dead worker's runs are taken over soon; renewed every third of it.
const LEASE: &str = "1500";
/// The generation of the worker that is killed.
const VICTIM: u32 = 1;

fn start(dir: &std::path::Path, db: &str, generation: u32) -> Worker {
    workers::start(WORKER, dir, db, generation, &["--lease-ms", LEASE])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_one_postgres_and_a_kill_9_loses_nothing_and_repeats_no_committed_step() {
    let Some(url) = postgres::url("workers_share_one_postgres") else { return };
    let db = postgres::database(&url).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = tmp.path().to_owned();
    let client = reqwest::Client::new();

    // Three workers start at once on an empty database: they race the migrations.
    let starting: Vec<_> = (0..3u32)
        .map(|g| {
            let (dir, db) = (dir.clone(), db.clone());
            std::thread::spawn(move || start(&dir, &db, g))
        })
        .collect();
    let mut live: Vec<(u32, Worker)> =
        starting.into_iter().enumerate().map(|(g, t)| (g as u32, t.join().expect("start"))).collect();

    let mut acked: HashSet<String> = HashSet::new();
    let mut by_victim: Vec<String> = Vec::new();
    let mut next = 0;
    let phase = |ms| Instant::now() + Duration::from_millis(ms);
    // Round-robin over the live workers for a while.
    let until = phase(1_500);
    while Instant::now() < until {
        for (generation, worker) in &live {
            let ids = workers::send_batch(&client, &worker.url, &mut next, 8).await.expect("a live worker accepts");
            if *generation == VICTIM {
                by_victim.extend(ids.iter().cloned());
            }
            acked.extend(ids);
        }
    }
    // One more batch to the victim, and SIGKILL it at once: those runs are its, in flight.
    let victim_at = live.iter().position(|(g, _)| *g == VICTIM).expect("victim");
    let (_, victim) = live.remove(victim_at);
    let last = workers::send_batch(&client, &victim.url, &mut next, 8).await.expect("the victim accepts");
    drop(victim);
    by_victim.extend(last.iter().cloned());
    acked.extend(last.iter().cloned());
    live.push((3, start(&dir, &db, 3)));
    let until = phase(1_500);
    while Instant::now() < until {
        for (_, worker) in &live {
            acked.extend(workers::send_batch(&client, &worker.url, &mut next, 8).await.expect("a live worker accepts"));
        }
    }
    assert!(acked.len() >= 100, "enough events to mean something: {}", acked.len());

    let store = postgres::store_in(&db, "hookflow").await;
    let runs = workers::wait_until_done(&store, &acked, Duration::from_secs(180)).await;
    drop(live);
    let checked = workers::check(&store, &runs, &acked, &dir.join("effects.log"), 3).await;

    // The victim's last runs could not have reached their last step before it died (a sleep
    // of 80 ms or more comes first): other workers finished them.
    let last: HashSet<&String> = last.iter().collect();
    let mut taken_over = 0;
    for run in runs.iter().filter(|r| last.contains(&r.event_ids[0])) {
        let journal = store.journal(&run.id).await.expect("journal");
        let three = journal.iter().find(|s| s.name == "three").expect("step three");
        let token = serde_json::to_string(&three.memo).unwrap_or_default();
        assert!(!token.contains(&format!("\"g{VICTIM}-")), "the dead worker finished {}: {token}", run.id);
        taken_over += 1;
    }
    assert_eq!(taken_over, last.len() * 2, "the dead worker's in-flight runs were taken over");
    let survivors: usize = checked.by_generation.iter().filter(|(g, _)| **g != VICTIM).map(|(_, n)| n).sum();
    assert!(survivors > 0 && checked.by_generation.len() >= 3, "work was shared: {:?}", checked.by_generation);
    eprintln!(
        "postgres workers: {} events acknowledged ({} by the killed worker), {} runs completed, committed steps \
         by worker generation {:?}, {} step executions interrupted before commit",
        acked.len(),
        by_victim.len(),
        runs.len(),
        checked.by_generation,
        checked.repeated
    );
}

/// A run whose step aborts its process every time is a poison pill: claimed again after each
/// crash, it would take down worker after worker. With `--max-interrupted 2`, the first two
/// workers die in its step, and the third fails it (`InterruptedTooOften`) instead of running
/// the step a third time, and stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_kills_every_worker_it_meets_is_failed_not_claimed_forever() {
    let Some(url) = postgres::url("poison_run") else { return };
    let db = postgres::database(&url).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = tmp.path().to_owned();
    let extra = ["--lease-ms", "300", "--max-interrupted", "2"];
    let mut first = workers::start(WORKER, &dir, &db, 0, &extra);
    // The event is committed before its run starts; the answer may be lost with the worker.
    let event = serde_json::json!({"name": "crash/poison", "id": "poison", "data": {}});
    let _ = reqwest::Client::new().post(format!("{}/e/key", first.url)).json(&event).send().await;
    let store = postgres::store_in(&db, "hookflow").await;
    let died = |worker: &mut Worker| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = worker.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "the worker did not die in the poison step");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert!(!died(&mut first).success(), "the step aborts the process");

    let mut generation = 1;
    let (survivor, run) = loop {
        assert!(generation <= 4, "the run was claimed again and again");
        let (mut worker, _) = workers::spawn(WORKER, &dir, &db, generation, &extra);
        let deadline = Instant::now() + Duration::from_secs(30);
        let failed = loop {
            let runs = workers::all_runs(&store).await;
            if let Some(run) = runs.into_iter().find(|r| r.status == RunStatus::Failed) {
                break Some(run);
            }
            if worker.exited().is_some() {
                break None;
            }
            assert!(Instant::now() < deadline, "generation {generation} neither died nor failed the run");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        match failed {
            Some(run) => break (worker, run),
            None => generation += 1,
        }
    };
    assert_eq!(generation, 2, "two workers died in the step; the third failed the run");
    let error = run.error.expect("the failure's error");
    assert_eq!(error.name, "InterruptedTooOften", "{}", error.message);
    assert!(error.message.contains("last 2 passes were interrupted"), "{}", error.message);
    let ran = workers::effects(&dir.join("effects.log"));
    let boom = ran.get(&("poison".to_owned(), "crash-poison".to_owned(), "boom".to_owned())).expect("the step ran");
    assert_eq!(boom.len(), 2, "the step ran once per dead worker, not a third time: {boom:?}");
    std::thread::sleep(Duration::from_millis(200));
    let mut survivor = survivor;
    assert!(survivor.exited().is_none(), "the worker that failed the run is still up");
}
