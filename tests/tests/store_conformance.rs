//! Every store passes the same conformance suite.

use std::sync::Arc;

use hookflow::store::{conformance, MemoryStore, SqliteStore, Store};

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = std::sync::atomic::AtomicUsize::new(0);
    conformance::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.path().join(format!("store-{n}.db"));
        async move { Arc::new(SqliteStore::open(path).expect("open sqlite")) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test]
async fn sqlite_store_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("reopen.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        let event = hookflow::store::StoredEvent {
            id: "e1".into(),
            name: "a".into(),
            data: serde_json::json!({"k": 1}),
            ts: 1,
            user: None,
            source: hookflow::webhook::EventSource::Api,
            received_at: 1,
        };
        store.accept(vec![hookflow::store::NewEvent { event, runs: vec![] }]).await.expect("accept");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let events = store.events(&["e1".into()]).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, serde_json::json!({"k": 1}));
}
