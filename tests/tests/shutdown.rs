//! Graceful shutdown: the server stops on a cancellation future, a step in progress is
//! allowed to finish and is committed, and a new process resumes the run from its journal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hookflow::prelude::*;
use hookflow::store::{Queries, RunLog, RunQuery, RunStatus, SqliteStore, Store};
use tokio::sync::{oneshot, Notify};

static STARTED: Notify = Notify::const_new();
static RELEASE: Notify = Notify::const_new();
static SECOND_STEP: AtomicUsize = AtomicUsize::new(0);

#[inngest_fn(id = "slow-steps", event = "test/slow")]
async fn slow_steps(step: Step) -> Result<&'static str> {
    step.run("slow", || async {
        STARTED.notify_one();
        RELEASE.notified().await;
        Ok(())
    })
    .await?;
    step.sleep("pause", "1ms").await?;
    step.run("after", || async {
        SECOND_STEP.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .await?;
    Ok("done")
}

async fn start(path: &std::path::Path) -> hookflow::RunningApp {
    let mut registry = hookflow::Registry::empty();
    registry.add(slow_steps::DEF).expect("add");
    hookflow::App::with_registry("shutdown-test", Ok(registry)).store_sqlite(path).start().await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_step_commit_and_a_restart_resumes() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("engine.db");
    let app = start(&db).await;
    app.send([hookflow::RawEvent::new("test/slow", serde_json::json!({}))]).await.expect("send");
    STARTED.notified().await;

    let (stop, stopped) = oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    stop.send(()).expect("signal shutdown");
    // The step is still running: shutdown waits for it.
    RELEASE.notify_one();
    server.await.expect("join").expect("serve ended cleanly");

    let store = SqliteStore::open(&db).expect("open");
    let runs = store.list_runs(&RunQuery::default()).await.expect("runs");
    assert_eq!(runs.len(), 1);
    let journal = store.journal(&runs[0].id).await.expect("journal");
    assert_eq!(journal.first().map(|s| s.name.as_str()), Some("slow"), "the running step was committed");
    drop(store);

    let app = start(&db).await;
    let engine = app.engine().clone();
    let store: Arc<dyn Store> = engine.store().clone();
    for _ in 0..2000 {
        let run = store.run(&runs[0].id).await.expect("run").expect("exists");
        if run.status == RunStatus::Completed {
            assert_eq!(run.output, Some(serde_json::json!("done")));
            assert_eq!(SECOND_STEP.load(Ordering::SeqCst), 1);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the run did not resume after the restart");
}
