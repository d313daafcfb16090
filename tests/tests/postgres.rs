//! The Postgres store against a real server: the whole conformance suite (two engines over one
//! store included), migrations, and the errors a worker reports when it cannot start.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hookflow::engine::Change;
use hookflow::store::{
    conformance, Ack, Acked, Batch, Cancellation, CancelledBy, ClaimFor, NewEvent, NewRun, PostgresOptions,
    PostgresStore, Queries, RunLog, RunQuery, RunRecord, RunStatus, Store, WorkQueue,
};
use hookflow::{EngineBuilder, RawEvent, Registry};
use hookflow_tests::postgres;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_conforms() {
    let Some(url) = postgres::url("postgres_store_conforms") else { return };
    conformance::run_all(|| {
        let url = url.clone();
        async move { Arc::new(postgres::store(&url).await) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_a_postgres_store() {
    let Some(url) = postgres::url("two_engines_share_a_postgres_store") else { return };
    conformance::engines::run_all(|| {
        let url = url.clone();
        async move { Arc::new(postgres::store(&url).await) as Arc<dyn Store> }
    })
    .await;
}

fn claimer(worker: &str, functions: &[&str], ttl: Duration) -> ClaimFor {
    ClaimFor {
        worker: worker.into(),
        functions: functions.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>().into(),
        ttl,
    }
}

fn ack(mut run: RunRecord, at: i64) -> Ack {
    run.status = RunStatus::Completed;
    run.wake_at = None;
    run.ended_at = Some(at);
    Ack::new(run, at)
}

/// Two workers (separate stores, separate connections) accept the same event ids at the same
/// moment, each with run ids of its own, as two engines would: each event is new for exactly one
/// of them, and it has one run per function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_accepting_one_event_at_once_create_one_set_of_runs() {
    let Some(url) = postgres::url("two_workers_accepting_one_event_at_once_create_one_set_of_runs") else { return };
    let schema = postgres::unique("race");
    let a = Arc::new(postgres::store_in(&url, &schema).await);
    let b = Arc::new(postgres::store_in(&url, &schema).await);
    let batch = |worker: &str, i: usize| {
        let id = format!("evt-{i}");
        let runs = ["f", "g"]
            .iter()
            .map(|f| NewRun::new(postgres::run(&format!("{worker}-{f}-{i:04}"), f, &id, 1_000)))
            .collect();
        Batch {
            events: vec![NewEvent { runs, ..NewEvent::new(postgres::event(&id, "race/go", 1_000)) }],
            runs: vec![],
            at: 0,
        }
    };
    const EVENTS: usize = 100;
    let mut tasks = Vec::new();
    for i in 0..EVENTS {
        let (a, b) = (a.clone(), b.clone());
        let (ba, bb) = (batch("a", i), batch("b", i));
        tasks.push(tokio::spawn(async move {
            let (x, y) = tokio::join!(a.accept(&ba, None), b.accept(&bb, None));
            (x.expect("accept a"), y.expect("accept b"))
        }));
    }
    let mut new_on = [0usize; 2];
    for task in tasks {
        let (x, y) = task.await.expect("task");
        let (x, y) = (&x.events[0], &y.events[0]);
        assert!(x.new != y.new, "exactly one worker accepts {} first: {x:?} {y:?}", x.event_id);
        let winner = if x.new { x } else { y };
        assert_eq!(winner.runs.len(), 2, "the first accept creates both runs");
        assert!(if x.new { y.runs.is_empty() } else { x.runs.is_empty() }, "the second creates none");
        new_on[usize::from(y.new)] += 1;
    }
    let runs = a.list_runs(&RunQuery { limit: 1000, ..RunQuery::default() }).await.expect("runs");
    assert_eq!(runs.len(), EVENTS * 2, "one run per event and function");
    let mut keys: Vec<(String, String)> =
        runs.iter().map(|r| (r.event_ids[0].clone(), r.function_id.clone())).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), EVENTS * 2);
    eprintln!("races won: a {}, b {}", new_on[0], new_on[1]);
}

/// Three workers claim the same due runs at once, in small batches: every run is leased to
/// exactly one of them (SKIP LOCKED hands them disjoint rows), a timer not yet due is claimed by
/// none, and once due it fires once: an acknowledged run is never claimed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_are_disjoint_and_timers_fire_once() {
    let Some(url) = postgres::url("racing_claims_are_disjoint_and_timers_fire_once") else { return };
    let schema = postgres::unique("claims");
    let stores: Vec<Arc<PostgresStore>> = vec![
        Arc::new(postgres::store_in(&url, &schema).await),
        Arc::new(postgres::store_in(&url, &schema).await),
        Arc::new(postgres::store_in(&url, &schema).await),
    ];
    const RUNS: usize = 300;
    const DUE: i64 = 50_000;
    let runs: Vec<NewRun> = (0..RUNS)
        .map(|i| NewRun::new(postgres::run(&format!("r{i:04}"), "f", &format!("e{i}"), DUE + (i as i64 % 7))))
        .collect();
    stores[0].accept(&Batch { events: vec![], runs, at: 0 }, None).await.expect("accept");
    let ttl = Duration::from_secs(60);
    for (w, store) in stores.iter().enumerate() {
        let early = store.claim(&claimer(&format!("w{w}"), &["f"], ttl), DUE - 1, 50).await.expect("claim");
        assert!(early.is_empty(), "a timer is not claimed before it is due");
    }
    let mut tasks = Vec::new();
    for (w, store) in stores.iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let claim = claimer(&format!("w{w}"), &["f"], ttl);
            let mut mine = Vec::new();
            loop {
                let got = store.claim(&claim, DUE + 10, 7).await.expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        }));
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    for task in tasks {
        let mine = task.await.expect("task");
        per_worker.push(mine.len());
        all.extend(mine);
    }
    let mut ids: Vec<&str> = all.iter().map(|l| l.run_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(all.len(), RUNS, "every due run is claimed, none twice: per worker {per_worker:?}");
    assert_eq!(ids.len(), RUNS);
    // Acked by whichever worker holds it; then nothing is due, for anyone, ever after.
    for (i, lease) in all.iter().enumerate() {
        let run = postgres::run(&lease.run_id, "f", "e", DUE);
        let acked = stores[i % stores.len()].ack(lease, ack(run, DUE + 10), None).await.expect("ack");
        assert!(matches!(acked, Acked::Committed { due: None, .. }), "{acked:?}");
    }
    for (w, store) in stores.iter().enumerate() {
        let again = store.claim(&claimer(&format!("w{w}"), &["f"], ttl), DUE + 1_000_000, 50).await.expect("claim");
        assert!(again.is_empty(), "a fired timer does not fire again: {again:?}");
        assert_eq!(store.next_due(&["f".to_owned()]).await.expect("next due"), None);
    }
    eprintln!("claims per worker: {per_worker:?}");
}

/// A worker that stops renewing (it died, or lost the database for longer than its lease)
/// loses its run to another worker once the lease expires on the database's clock; its late
/// ack, renewal and release write nothing, and the new holder's ack commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_passes_to_another_worker_and_fences_the_old_one() {
    let Some(url) = postgres::url("an_expired_lease_passes_to_another_worker_and_fences_the_old_one") else { return };
    let schema = postgres::unique("lease");
    let a = postgres::store_in(&url, &schema).await;
    let b = postgres::store_in(&url, &schema).await;
    let runs = vec![NewRun::new(postgres::run("r1", "f", "e1", 10)), NewRun::new(postgres::run("r2", "f", "e2", 10))];
    a.accept(&Batch { events: vec![], runs, at: 0 }, None).await.expect("accept");
    let short = Duration::from_millis(300);
    let leases = a.claim(&claimer("a", &["f"], short), 10, 10).await.expect("claim");
    assert_eq!(leases.len(), 2);
    assert!(b.claim(&claimer("b", &["f"], short), 10, 10).await.expect("claim").is_empty(), "held by a");
    // a keeps r1 alive by renewing; r2 it forgets (its pass hangs, say).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let taken = loop {
        assert_eq!(a.renew(&leases[..1], short).await.expect("renew"), vec![true]);
        let taken = b.claim(&claimer("b", &["f"], Duration::from_secs(60)), 10, 10).await.expect("claim");
        if !taken.is_empty() {
            break taken;
        }
        assert!(std::time::Instant::now() < deadline, "the unrenewed lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.len(), 1, "only the lease that was not renewed expired: {taken:?}");
    assert_eq!(taken[0].run_id, leases[1].run_id);
    assert_ne!(taken[0].token, leases[1].token, "a new claim gets a new fencing token");
    assert_eq!(a.renew(&leases[1..], short).await.expect("renew"), vec![false], "the old holder lost it");
    let stale = a.ack(&leases[1], ack(postgres::run("r2", "f", "e2", 10), 20), None).await.expect("ack");
    assert_eq!(stale, Acked::Stale, "the old holder's ack writes nothing");
    a.release(&leases[1], 10).await.expect("release");
    assert_eq!(a.run("r2").await.expect("run").expect("r2").status, RunStatus::Queued, "nothing was written");
    let done = b.ack(&taken[0], ack(postgres::run("r2", "f", "e2", 10), 30), None).await.expect("ack");
    assert!(matches!(done, Acked::Committed { .. }));
    assert_eq!(a.run("r2").await.expect("run").expect("r2").ended_at, Some(30), "the new holder's result stands");
    assert!(matches!(
        a.ack(&leases[0], ack(postgres::run("r1", "f", "e1", 10), 40), None).await.expect("ack"),
        Acked::Committed { .. }
    ));
}

/// A notification from another worker wakes an idle one (nothing else signals it here), and a
/// cancellation asked on one worker reaches the pass that holds the run on another. When the
/// notification connection is cut, the store reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_wake_other_workers_and_reconnect() {
    let Some(url) = postgres::url("notifications_wake_other_workers_and_reconnect") else { return };
    let schema = postgres::unique("notify");
    let a = postgres::store_in(&url, &schema).await;
    let b = postgres::store_in(&url, &schema).await;
    let listening = |s: &PostgresStore| s.listening();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !listening(&a) {
        assert!(std::time::Instant::now() < deadline, "a never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for round in 0..2 {
        let signal = a.work_signal();
        let notified = signal.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let id = format!("r{round}");
        b.accept(&Batch { events: vec![], runs: vec![NewRun::new(postgres::run(&id, "f", &id, 10))], at: 10 }, None)
            .await
            .expect("accept");
        tokio::time::timeout(Duration::from_secs(10), notified).await.expect("b's new run wakes a");
        if round == 0 {
            // Cut a's LISTEN connection: it must come back.
            let admin = postgres::client(&url).await;
            let cut = admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                    &[&format!("hookflow-listen:{schema}")],
                )
                .await
                .expect("terminate");
            assert!(cut >= 1, "found the listening connections");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while listening(&a) {
                assert!(std::time::Instant::now() < deadline, "a did not see its connection go");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(a.observes("any/name"), "without notifications every name may be awaited");
            while !listening(&a) {
                assert!(std::time::Instant::now() < deadline, "a did not listen again");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    // A cancellation asked through b reaches a's pass, which holds the run.
    let lease = a.claim(&claimer("a", &["f"], Duration::from_secs(60)), 10, 1).await.expect("claim");
    assert_eq!(lease.len(), 1);
    assert!(!a.cancel_requested(&lease[0].run_id));
    let cancellation = Cancellation { by: CancelledBy::Request { via: "api".into() }, at: 11 };
    assert!(b.request_cancel(&lease[0].run_id, cancellation).await.expect("cancel"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !a.cancel_requested(&lease[0].run_id) {
        assert!(std::time::Instant::now() < deadline, "the cancellation never reached a");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Workers that start together on a new schema migrate it once (the advisory lock serialises
/// them); a worker whose build is older than the schema refuses to start, naming both versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_migrate_once_and_an_older_build_refuses_a_newer_schema() {
    let Some(url) = postgres::url("workers_migrate_once_and_an_older_build_refuses_a_newer_schema") else { return };
    let schema = postgres::unique("mig");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            tokio::spawn(async move {
                let options = PostgresOptions { schema, pool_size: 2, ..PostgresOptions::default() };
                PostgresStore::connect_with(&url, options).await.map(drop)
            })
        })
        .collect();
    for start in starts {
        start.await.expect("task").expect("every worker starts");
    }
    let admin = postgres::client(&url).await;
    let versions: Vec<i32> = admin
        .query(&format!("SELECT version FROM {schema}.schema_version ORDER BY version"), &[])
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known: Vec<i32> = (1..=i32::try_from(versions.len()).unwrap_or(0)).collect();
    assert_eq!(versions, known, "each migration applied once");
    admin.execute(&format!("INSERT INTO {schema}.schema_version (version) VALUES (999)"), &[]).await.expect("bump");
    let options = PostgresOptions { schema: schema.clone(), ..PostgresOptions::default() };
    let err = PostgresStore::connect_with(&url, options).await.expect_err("a newer schema is refused");
    let message = err.to_string();
    assert!(message.contains("newer hookflow") && message.contains("999"), "{message}");
    assert!(message.contains(&format!("knows up to {}", versions.len())), "{message}");
}

/// `App::database_url` selects Postgres; a worker that cannot start says why, with the URL
/// minus its password: nothing listening, a user the server refuses, a database missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_refused_databases_say_why_without_the_password() {
    let Some(url) = postgres::url("unreachable_or_refused_databases_say_why_without_the_password") else { return };
    let start = |url: String| async move {
        match hookflow::App::new("pg-errors").database_url(&url) {
            Ok(app) => app.start().await.map(drop).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let err = start(format!("postgres://ann:s3cret-pw@127.0.0.1:{free}/app")).await.expect_err("unreachable");
    assert!(err.contains(&format!("cannot reach Postgres at postgres://ann@127.0.0.1:{free}/app")), "{err}");
    assert!(!err.contains("s3cret-pw"), "the password is not shown: {err}");
    // A user the server does not know.
    let server = url.split('@').nth(1).unwrap_or_default().split('/').next().unwrap_or_default().to_owned();
    let err = start(format!("postgres://nobody_here:s3cret-pw@{server}/postgres")).await.expect_err("refused");
    assert!(err.contains("refused the credentials of user `nobody_here`"), "{err}");
    assert!(!err.contains("s3cret-pw"), "the password is not shown: {err}");
    // A database that does not exist.
    let err = start(postgres::with_database(&url, "no_such_db")).await.expect_err("missing");
    assert!(err.contains("has no database `no_such_db`"), "{err}");
    // And one that does: the app starts on it.
    let db = postgres::database(&url).await;
    start(db).await.expect("an app starts on Postgres");
}

/// Postgres drops every connection of the store (as a server restart does, seen from the
/// client): the next writes and reads retry, reconnect and succeed, and nothing is written
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_reconnected_and_the_work_goes_on() {
    let Some(url) = postgres::url("dropped_connections_are_reconnected_and_the_work_goes_on") else { return };
    let db = postgres::database(&url).await;
    let store = postgres::store_in(&db, "hookflow").await;
    let name = db.rsplit('/').next().unwrap_or_default().to_owned();
    let admin = postgres::client(&url).await;
    let claim = claimer("a", &["f"], Duration::from_secs(60));
    for round in 0..3 {
        let id = format!("r{round}");
        let batch = Batch {
            events: vec![NewEvent {
                runs: vec![NewRun::new(postgres::run(&id, "f", &format!("e{round}"), 10))],
                ..NewEvent::new(postgres::event(&format!("e{round}"), "reconnect/go", 10))
            }],
            runs: vec![],
            at: 10,
        };
        let accepted = store.accept(&batch, None).await.expect("accept after the connections dropped");
        assert!(accepted.events[0].new);
        let killed: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .await
            .expect("terminate")
            .get(0);
        assert!(killed >= 1, "the store's connections were dropped");
        let leases = store.claim(&claim, 10, 10).await.expect("claim after the connections dropped");
        assert_eq!(leases.len(), 1, "round {round}: {leases:?}");
        let acked = store.ack(&leases[0], ack(postgres::run(&id, "f", "e", 10), 20), None).await.expect("ack");
        assert!(matches!(acked, Acked::Committed { .. }));
    }
    let runs = store.list_runs(&RunQuery::default()).await.expect("runs");
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
}

/// What one worker does shows in another's live views: an engine relays the events and run
/// changes other workers commit to its subscribers (the dev UI's live stream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_s_changes_reach_another_s_live_views() {
    let Some(url) = postgres::url("one_worker_s_changes_reach_another_s_live_views") else { return };
    let schema = postgres::unique("live");
    let engine = |store: PostgresStore| async move {
        EngineBuilder::new("live", Registry::empty()).store(Arc::new(store)).start().await.expect("engine")
    };
    let a = engine(postgres::store_in(&url, &schema).await).await;
    let b = engine(postgres::store_in(&url, &schema).await).await;
    let mut on_b = b.subscribe();
    let mut on_a = a.subscribe();
    a.send([RawEvent::new("live/hello", serde_json::json!({"n": 1})).with_id("evt-live-1")]).await.expect("send");
    let wanted = Change::Event { id: "evt-live-1".into(), name: "live/hello".into() };
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match on_b.recv().await {
                Ok(change) if change == wanted => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("b's changes ended: {e}"),
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "a's event never showed on b");
    // a saw its own event once, from itself, not again from the store.
    let mut own = 0;
    while let Ok(change) = tokio::time::timeout(Duration::from_millis(1_200), on_a.recv()).await {
        own += usize::from(change.expect("a's changes") == wanted);
    }
    assert_eq!(own, 1, "a's own change is not relayed back to it");
    a.shutdown(Duration::from_secs(1)).await;
    b.shutdown(Duration::from_secs(1)).await;
}

#[hookflow::prelude::inngest_fn(id = "pg-poll", event = "pg/poll")]
async fn pg_poll(step: hookflow::prelude::Step) -> hookflow::prelude::Result<String> {
    Ok(step.run("one", || async { Ok("done".to_owned()) }).await?)
}

/// Without notifications (`listen: false`, as behind a pooler in transaction mode), an idle
/// worker still finds the work another worker queued: by polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notifications_an_idle_worker_finds_work_by_polling() {
    let Some(url) = postgres::url("without_notifications_an_idle_worker_finds_work_by_polling") else { return };
    let schema = postgres::unique("poll");
    let other = postgres::store_in(&url, &schema).await;
    let options = PostgresOptions { schema: schema.clone(), pool_size: 4, listen: false, ..PostgresOptions::default() };
    let polling = PostgresStore::connect_with(&url, options).await.expect("connect");
    let mut registry = Registry::empty();
    registry.add(pg_poll::DEF).expect("unique ids");
    let engine = EngineBuilder::new("poll", registry).store(Arc::new(polling)).start().await.expect("engine");
    // Idle for a moment: whatever it looks at first finds nothing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let id = ulid::Ulid::new().to_string();
    let run = NewRun::new(postgres::run(&id, "pg-poll", "evt-poll", now));
    let batch = Batch {
        events: vec![NewEvent { runs: vec![run], ..NewEvent::new(postgres::event("evt-poll", "pg/poll", now)) }],
        runs: vec![],
        at: now,
    };
    other.accept(&batch, None).await.expect("queued by another worker");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let run = other.run(&id).await.expect("run").expect("stored");
        if run.status == RunStatus::Completed {
            assert_eq!(run.output, Some(serde_json::json!("done")));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the polling worker never ran it: {run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    engine.shutdown(Duration::from_secs(1)).await;
}

/// A run's flow control keys are stored with it and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_keys_are_kept_with_the_run() {
    use hookflow::model::{ConcurrencySlot, FlowKeys, ThrottleSlot};
    let Some(url) = postgres::url("flow_keys_are_kept_with_the_run") else { return };
    let store = postgres::store(&url).await;
    let mut run = postgres::run("r1", "f", "e1", 10);
    run.flow = FlowKeys {
        concurrency: vec![ConcurrencySlot { bucket: "fn:f:user_1".into(), limit: 2, per_run: true }],
        throttle: vec![ThrottleSlot { bucket: "f:0:".into(), limit: 5, period_ms: 60_000, burst: 2 }],
        priority_ms: -30_000,
        prioritized: true,
        start_deadline: Some(99),
        finish_timeout_ms: Some(5_000),
        singleton: Some("f".into()),
    };
    store.accept(&Batch { events: vec![], runs: vec![NewRun::new(run.clone())], at: 10 }, None).await.expect("accept");
    assert_eq!(store.run("r1").await.expect("run"), Some(run));
}

/// An accept that Postgres commits but whose answer is lost (the connection drops on the way
/// back) is retried; the runs its first attempt claimed were leased to a token nobody learned,
/// and the retry gives them back, so another worker takes them at once, not after the lease's
/// 30 s. Nothing runs twice: the retry adopts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_was_lost_leaves_no_run_leased_to_nobody() {
    let Some(url) = postgres::url("a_commit_whose_answer_was_lost") else { return };
    let schema = postgres::unique("lost");
    let proxy = postgres::LossyProxy::start(&url).await;
    let lossy = postgres::store_in(&proxy.url, &schema).await;
    let other = postgres::store_in(&url, &schema).await;
    let id = "evt-lost-answer";
    let runs = vec![NewRun::new(postgres::run("01LOST", "f", id, 1_000))];
    let batch = Batch {
        events: vec![NewEvent { runs, ..NewEvent::new(postgres::event(id, "lost/go", 1_000)) }],
        runs: vec![],
        at: 0,
    };
    proxy.arm(id);
    let accepted = lossy.accept(&batch, Some(&claimer("w1", &["f"], Duration::from_secs(30)))).await.expect("accept");
    assert_eq!(proxy.lost.load(std::sync::atomic::Ordering::SeqCst), 1, "the first answer was lost");
    let claimed: Vec<_> = accepted.events.iter().flat_map(|e| e.runs.iter().filter(|r| r.lease.is_some())).collect();
    assert!(claimed.is_empty(), "the retry adopts nothing: {claimed:?}");
    assert_eq!(lossy.run("01LOST").await.expect("run").map(|r| r.status), Some(RunStatus::Queued), "committed once");
    let taken = other.claim(&claimer("w2", &["f"], Duration::from_secs(30)), 1_000, 10).await.expect("claim");
    assert_eq!(taken.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), vec!["01LOST"], "claimable at once");
}

/// A group of acks that Postgres refuses midway (here a trigger the test adds, raising for one
/// run's update) is rolled back and written ack by ack: the other members of the group commit,
/// and only the run whose write fails keeps its lease, with nothing of it written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_acks_that_fails_is_written_one_by_one() {
    let Some(url) = postgres::url("a_group_of_acks_that_fails_is_written_one_by_one") else { return };
    let schema = postgres::unique("group");
    let store = postgres::store_in(&url, &schema).await;
    let ids = ["r0-block", "r1", "r2", "r3-bad", "r4", "r5"];
    let runs = ids.iter().map(|id| NewRun::new(postgres::run(id, "f", &format!("e-{id}"), 10))).collect();
    store.accept(&Batch { events: vec![], runs, at: 0 }, None).await.expect("accept");
    let mut leases = store.claim(&claimer("w", &["f"], Duration::from_secs(60)), 10, 10).await.expect("claim");
    leases.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(leases.iter().map(|l| l.run_id.as_str()).collect::<Vec<_>>(), ids);

    // The trigger sees each `runs` update whole (a group's is one statement): when it ends
    // `r3-bad`, it records how many runs the statement updated (`setval` outlives the
    // rollback) and fails it.
    let mut admin = postgres::client(&url).await;
    admin
        .batch_execute(&format!(
            "SET search_path = {schema};
             CREATE SEQUENCE widest_failed;
             CREATE FUNCTION refuse_r3() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF EXISTS (SELECT 1 FROM updated WHERE id = 'r3-bad' AND status = 'Completed') THEN
                     PERFORM setval('widest_failed', greatest((SELECT count(*) FROM updated),
                                                             (SELECT last_value FROM widest_failed)));
                     RAISE EXCEPTION 'refused by the test';
                 END IF;
                 RETURN NULL;
             END $$;
             CREATE TRIGGER refuse_r3 AFTER UPDATE ON runs REFERENCING NEW TABLE AS updated
                 FOR EACH STATEMENT EXECUTE FUNCTION refuse_r3();"
        ))
        .await
        .expect("the trigger");

    // The ack writer is kept busy with `r0-block`, whose row the test holds locked, while the
    // other five acks are handed to it: they wait together, and go in one group.
    let blocker_pid: i32 = admin.query_one("SELECT pg_backend_pid()", &[]).await.expect("pid").get(0);
    let blocker = admin.transaction().await.expect("begin");
    blocker.execute("SELECT 1 FROM runs WHERE id = 'r0-block' FOR UPDATE", &[]).await.expect("lock");
    let done = |lease: &hookflow::store::Lease| ack(postgres::run(&lease.run_id, "f", "e", 10), 20);
    let first = store.ack(&leases[0], done(&leases[0]), None);
    tokio::pin!(first);
    // Polled once, an ack is handed to the writer; the writer then waits for the lock.
    let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx))).await;
    let watcher = postgres::client(&url).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = watcher
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", &[&blocker_pid])
            .await
            .expect("pg_stat_activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the ack writer never reached the locked row");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut rest: Vec<_> = leases[1..].iter().map(|lease| Box::pin(store.ack(lease, done(lease), None))).collect();
    for ack in &mut rest {
        let _ = std::future::poll_fn(|cx| std::task::Poll::Ready(ack.as_mut().poll(cx))).await;
    }
    blocker.commit().await.expect("unlock");

    assert!(matches!(first.await.expect("ack"), Acked::Committed { .. }));
    for (lease, ack) in leases[1..].iter().zip(rest) {
        let written = ack.await;
        if lease.run_id == "r3-bad" {
            assert!(written.is_err(), "the refused ack fails: {written:?}");
        } else {
            assert!(matches!(written, Ok(Acked::Committed { .. })), "{}: {written:?}", lease.run_id);
        }
    }
    let widest: i64 =
        watcher.query_one(&format!("SELECT last_value FROM {schema}.widest_failed"), &[]).await.expect("seq").get(0);
    assert_eq!(widest, 5, "r3-bad's ack was first refused in a group of the five that waited");
    for id in ids {
        let status = store.run(id).await.expect("run").expect("the run").status;
        let expected = if id == "r3-bad" { RunStatus::Queued } else { RunStatus::Completed };
        assert_eq!(status, expected, "{id}");
    }
    // Nothing of the refused ack was written, its lease included: once Postgres takes it, it commits.
    watcher.batch_execute(&format!("DROP TRIGGER refuse_r3 ON {schema}.runs")).await.expect("drop the trigger");
    assert!(matches!(store.ack(&leases[3], done(&leases[3]), None).await.expect("ack"), Acked::Committed { .. }));
}
