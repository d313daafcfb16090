//! A concurrency limit across worker processes, proven with real processes: three
//! `limit_worker`s on one Postgres run a function with `concurrency(limit = 2)` whose steps
//! record on the database's clock when they start and end; one worker is killed with SIGKILL
//! midway. No instant may see more than two steps executing, and every run completes. A killed
//! worker's step stopped when it died: its open execution is closed at the kill, and its slot
//! only comes back when its lease expires.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hookflow::store::RunStatus;
use hookflow_tests::postgres;
use hookflow_tests::workers::{self, Worker};
use serde_json::json;

const WORKER: &str = env!("CARGO_BIN_EXE_limit_worker");

fn start(dir: &std::path::Path, db: &str, generation: u32) -> Worker {
    workers::start(WORKER, dir, db, generation, &["--lease-ms", "1500"])
}

async fn send(client: &reqwest::Client, worker: &Worker, from: usize, n: usize) {
    let body: Vec<_> =
        (from..from + n).map(|i| json!({"name": "limit/go", "id": format!("go-{i}"), "data": {}})).collect();
    let resp = client.post(format!("{}/e/key", worker.url)).json(&body).send().await.expect("send");
    assert!(resp.status().is_success(), "the worker accepts the events: {}", resp.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_never_run_more_than_the_limit_even_when_one_is_killed() {
    let Some(url) = postgres::url("three_workers_never_run_more_than_the_limit") else { return };
    let db = postgres::database(&url).await;
    let probe = postgres::client(&db).await;
    probe
        .batch_execute(
            "CREATE TABLE public.overlap (seq bigserial PRIMARY KEY, generation integer NOT NULL, event text NOT NULL,
                 step text NOT NULL, started timestamptz NOT NULL DEFAULT clock_timestamp(), ended timestamptz)",
        )
        .await
        .expect("probe table");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = tmp.path().to_owned();
    let client = reqwest::Client::new();
    let mut live: Vec<Worker> = (0..3).map(|g| start(&dir, &db, g)).collect();
    let events = 24;
    for (i, worker) in live.iter().enumerate() {
        send(&client, worker, i * 8, 8).await;
    }
    // Once the work is under way, kill one worker while its steps execute.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = probe
            .query_one("SELECT count(*) FROM public.overlap WHERE generation = 1 AND ended IS NULL", &[])
            .await
            .expect("probe")
            .get(0);
        if open > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "worker 1 never executed a step");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(live.remove(1));
    // Its steps stopped with it: what it left open ended now, at the latest.
    probe
        .execute("UPDATE public.overlap SET ended = clock_timestamp() WHERE generation = 1 AND ended IS NULL", &[])
        .await
        .expect("close the dead worker's steps");

    let store = postgres::store_in(&db, "hookflow").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs = workers::all_runs(&store).await;
        let done = runs.iter().filter(|r| r.status == RunStatus::Completed).count();
        if runs.len() == events && done == events {
            break;
        }
        assert!(Instant::now() < deadline, "every run completes: {done} of {} did", runs.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(live);
    // The most executions open at once: at each start, those started before and not ended.
    let most: i64 = probe
        .query_one(
            "SELECT max(n) FROM (
                SELECT (SELECT count(*) FROM public.overlap o
                        WHERE o.started <= s.started AND (o.ended IS NULL OR o.ended > s.started)) AS n
                FROM public.overlap s) c",
            &[],
        )
        .await
        .expect("overlap")
        .get(0);
    let by: Vec<(i32, i64)> = probe
        .query("SELECT generation, count(*) FROM public.overlap GROUP BY generation ORDER BY 1", &[])
        .await
        .expect("by worker")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(most, 2, "two steps at once at most, across the workers ({by:?})");
    assert!(by.len() >= 2, "the work was shared: {by:?}");
}
