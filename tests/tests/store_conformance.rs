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
            data: serde_json::json!({"k": 1}).into(),
            ts: 1,
            user: None,
            source: hookflow::webhook::EventSource::Api,
            received_at: 1,
        };
        store.accept(&[hookflow::store::NewEvent { event, runs: vec![], embeds: None }]).await.expect("accept");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let events = store.events(&["e1".into()]).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, serde_json::json!({"k": 1}));
}

#[tokio::test]
async fn sqlite_search_uses_the_index_and_the_unindexed_tail() {
    use hookflow::store::{EventQuery, NewEvent, StoredEvent};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("search.db")).expect("open");
    let event = |id: &str, email: &str| NewEvent {
        event: StoredEvent {
            id: id.into(),
            name: "clerk/user.created".into(),
            data: serde_json::json!({"id": id, "email_addresses": [{"email_address": email}]}).into(),
            ts: 1,
            user: None,
            source: hookflow::webhook::EventSource::Webhook,
            received_at: 1,
        },
        runs: vec![],
        embeds: None,
    };
    store.accept(&[event("user_1", "ann@example.com"), event("user_2", "bob@example.com")]).await.expect("accept");
    store.catch_up_search_index().await.expect("index");
    store.accept(&[event("user_3", "ann@elsewhere.org")]).await.expect("accept");
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
    use hookflow::store::{Memo, RunUpdate, StepKind, StepRecord};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad-write.db");
    let store = Arc::new(SqliteStore::open(&path).expect("open"));
    // A failure the store cannot prevent (think of a full disk), for one write only.
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(
                "CREATE TRIGGER fail_boom BEFORE INSERT ON steps WHEN NEW.hash = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
            )
        })
        .expect("trigger");
    let save = |run: String, hash: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let step = StepRecord {
                run_id: run,
                hash: hash.into(),
                name: hash.into(),
                kind: StepKind::Run,
                memo: Memo::Data(serde_json::json!(1)),
                attempts: 1,
                started_at: 1,
                ended_at: 2,
            };
            store.save(vec![RunUpdate { steps: vec![step], ..RunUpdate::default() }]).await
        })
    };
    let mut tasks = Vec::new();
    for i in 0..200 {
        tasks.push((format!("run-{i}"), save(format!("run-{i}"), if i == 100 { "boom" } else { "ok" })));
    }
    for (run, task) in tasks {
        let result = task.await.expect("task");
        if run == "run-100" {
            let err = result.expect_err("the bad write fails");
            assert!(err.to_string().contains("boom refused"), "the error says why: {err}");
            assert!(store.journal(&run).await.expect("journal").is_empty());
        } else {
            result.expect("every other write commits");
            assert_eq!(store.journal(&run).await.expect("journal").len(), 1, "{run} is journaled");
        }
    }
}
