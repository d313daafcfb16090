//! apalis with apalis-sqlite: the floor under the durable peers. A job queue has no steps, so
//! each event becomes two jobs (one per function) whose two "steps" run in memory: only the
//! job itself is durable (inserted, fetched, its result written). Jobs are pushed in batches of
//! 100 and fetched by one worker woken by SQLite's update hook (apalis-sqlite's event-driven
//! strategy, which its README shows for low latency); `setup()` runs on a pool of its own
//! because it sets `synchronous=OFF`, so the worker's connections keep SQLite's FULL.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_sqlite::{SqlitePool, SqliteStorage};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Env, Figure};
use crate::stats::now_us;
use crate::support::{user_template, Fallible};

/// One function's run of one event, as a job.
#[derive(Clone, Serialize, Deserialize)]
struct Job {
    function: String,
    user: Value,
    /// When the event was sent (µs since the epoch); 0 in the throughput phase.
    sent_us: i64,
}

/// What the worker reports back to the benchmark.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    first_step_ms: Mutex<Vec<f64>>,
    wake: tokio::sync::Notify,
}

async fn run_job(job: Job, progress: Data<Arc<Progress>>) -> Result<u64, BoxDynError> {
    // "load-user", then "record": in memory, as a job has no durable steps.
    let id = job.user["id"].as_str().ok_or("the job's user has no id")?;
    if job.sent_us > 0 {
        #[allow(clippy::cast_precision_loss)]
        let late = (now_us() - job.sent_us) as f64 / 1_000.0;
        progress.first_step_ms.lock().map_err(|_| "progress poisoned")?.push(late);
    }
    let total = u64::try_from(id.len())? + 1;
    progress.done.fetch_add(1, Ordering::Relaxed);
    progress.wake.notify_one();
    Ok(total)
}

fn jobs(template: &Value, tag: &str, i: usize, sent_us: i64) -> [Job; 2] {
    let mut user = template.clone();
    user["id"] = json!(format!("user_apalis_{tag}_{i:07}"));
    ["bench-fan-a", "bench-fan-b"].map(|function| Job { function: function.into(), user: user.clone(), sent_us })
}

async fn wait_for(progress: &Progress, runs: u64, timeout: Duration) -> Fallible<()> {
    let give_up = Instant::now() + timeout;
    while progress.done.load(Ordering::Relaxed) < runs {
        if Instant::now() > give_up {
            return Err(format!(
                "{} of {runs} jobs done after {} s",
                progress.done.load(Ordering::Relaxed),
                timeout.as_secs()
            )
            .into());
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), progress.wake.notified()).await;
    }
    Ok(())
}

pub(super) async fn trial(env: &Env, dir: &Path) -> Fallible<Figure> {
    let path = dir.join("apalis.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        let setup_pool = SqlitePool::connect(&url).await?;
        SqliteStorage::setup(&setup_pool).await?;
        setup_pool.close().await;
    }
    let (pool, listener) = SqliteStorage::connect_with_callback(&url)?;
    let synchronous: i64 = sqlx_synchronous(&pool).await?;
    if synchronous != 2 {
        return Err(format!("apalis-sqlite's connections run with synchronous={synchronous}, not FULL (2)").into());
    }
    let storage: SqliteStorage<Job> = SqliteStorage::new(&pool);
    let mut sink = storage.clone();
    let strategy = Strategy::new().stream(listener.ready_chunks(10)).interval(Duration::from_millis(500));
    let progress = Arc::new(Progress::default());
    let worker = WorkerBuilder::new("bench-fanout")
        .backend(storage.poll_with_strategy(strategy))
        .data(progress.clone())
        .build(run_job);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
        Ok::<(), WorkerError>(())
    }));

    let template = user_template()?;
    let runs = u64::try_from(env.events * 2)?;
    let start = Instant::now();
    for first in (0..env.events).step_by(100) {
        let batch: Vec<Job> = (first..(first + 100).min(env.events)).flat_map(|i| jobs(&template, "t", i, 0)).collect();
        sink.push_bulk(batch).await.map_err(|e| format!("apalis push: {e}"))?;
    }
    wait_for(&progress, runs, Duration::from_secs(600)).await?;
    let seconds = start.elapsed().as_secs_f64();

    for i in 0..env.latency_events {
        let before = progress.done.load(Ordering::Relaxed);
        sink.push_bulk(jobs(&template, "l", i, now_us()).to_vec()).await.map_err(|e| format!("apalis push: {e}"))?;
        wait_for(&progress, before + 2, Duration::from_secs(60)).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = stop.send(());
    running.await?.map_err(|e| format!("apalis worker: {e}"))?;
    pool.close().await;
    let first_step_ms = std::mem::take(&mut *progress.first_step_ms.lock().map_err(|_| "progress poisoned")?);
    Ok(Figure { runs, seconds, first_step_ms })
}

/// The `synchronous` setting of a connection of the pool the worker uses.
async fn sqlx_synchronous(pool: &SqlitePool) -> Fallible<i64> {
    let mut conn = pool.acquire().await?;
    Ok(sqlx::query_scalar::<_, i64>("PRAGMA synchronous").fetch_one(&mut *conn).await?)
}
