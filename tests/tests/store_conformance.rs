//! Every store passes the same conformance suite.

use std::sync::Arc;

use hookflow::store::{conformance, MemoryStore, RunLog, SqliteStore, Store};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_a_memory_store() {
    conformance::engines::run_all(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_a_sqlite_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let counter = std::sync::atomic::AtomicUsize::new(0);
    conformance::engines::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = dir.path().join(format!("shared-{n}.db"));
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
            data: serde_json::json!({"k": 1}).into(),
            ts: 1,
            user: None,
            source: hookflow::webhook::EventSource::Api,
            received_at: 1,
        };
        let batch = hookflow::store::Batch { events: vec![hookflow::store::NewEvent::new(event)], runs: vec![], at: 0 };
        store.accept(&batch, None).await.expect("accept");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let events = store.events(&["e1".into()]).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, serde_json::json!({"k": 1}));
}

#[tokio::test]
async fn sqlite_search_uses_the_index_and_the_unindexed_tail() {
    use hookflow::store::{Batch, EventQuery, NewEvent, Queries, StoredEvent};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("search.db")).expect("open");
    let event = |id: &str, email: &str| {
        NewEvent::new(StoredEvent {
            id: id.into(),
            name: "clerk/user.created".into(),
            data: serde_json::json!({"id": id, "email_addresses": [{"email_address": email}]}).into(),
            ts: 1,
            user: None,
            source: hookflow::webhook::EventSource::Webhook,
            received_at: 1,
        })
    };
    let batch = |events| Batch { events, runs: vec![], at: 0 };
    store
        .accept(&batch(vec![event("user_1", "ann@example.com"), event("user_2", "bob@example.com")]), None)
        .await
        .expect("accept");
    store.catch_up_search_index().await.expect("index");
    store.accept(&batch(vec![event("user_3", "ann@elsewhere.org")]), None).await.expect("accept");
    let ids = |query: EventQuery| {
        let store = &store;
        async move { store.list_events(&query).await.expect("list").into_iter().map(|e| e.id).collect::<Vec<_>>() }
    };
    let search = |text: &str| EventQuery { search: Some(text.into()), ..EventQuery::default() };
    assert_eq!(ids(search("ann")).await, vec!["user_3", "user_1"], "the tail first, then the index");
    assert_eq!(ids(search("ANN@EXAMPLE.COM")).await, vec!["user_1"], "a phrase, case-insensitive");
    assert_eq!(ids(search("bob@exam")).await, vec!["user_2"], "the last word is a prefix");
    assert_eq!(ids(search("user_2")).await, vec!["user_2"]);
    assert!(ids(search("carol")).await.is_empty());
    assert!(ids(search("example ann")).await.is_empty(), "the text as written, not just its words");
    assert_eq!(ids(EventQuery { limit: 1, ..search("ann") }).await, vec!["user_3"]);
    let page = EventQuery { before: Some("user_3".into()), ..search("example") };
    assert_eq!(ids(page).await, vec!["user_2", "user_1"]);
}

/// Writes that arrive together share one transaction; one that fails must fail alone.
#[tokio::test]
async fn sqlite_fails_a_bad_write_alone() {
    use hookflow::store::{Batch, NewEvent, StoredEvent};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad-write.db");
    let store = Arc::new(SqliteStore::open(&path).expect("open"));
    // A failure the store cannot prevent (think of a full disk), for one write only.
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TRIGGER fail_boom BEFORE INSERT ON events WHEN NEW.id = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
            )
        })
        .expect("trigger");
    let accept = |id: String| {
        let store = store.clone();
        tokio::spawn(async move {
            let event = StoredEvent {
                id,
                name: "test/write".into(),
                data: serde_json::json!({"n": 1}).into(),
                ts: 1,
                user: None,
                source: hookflow::webhook::EventSource::Api,
                received_at: 1,
            };
            store.accept(&Batch { events: vec![NewEvent::new(event)], runs: vec![], at: 0 }, None).await
        })
    };
    let mut tasks = Vec::new();
    for i in 0..200 {
        let id = if i == 100 { "boom".to_owned() } else { format!("event-{i}") };
        tasks.push((id.clone(), accept(id)));
    }
    for (id, task) in tasks {
        let result = task.await.expect("task");
        let stored = store.events(std::slice::from_ref(&id)).await.expect("events");
        if id == "boom" {
            let err = result.expect_err("the bad write fails");
            assert!(err.to_string().contains("boom refused"), "the error says why: {err}");
            assert!(stored.is_empty());
        } else {
            result.expect("every other write commits");
            assert_eq!(stored.len(), 1, "{id} is stored");
        }
    }
}
