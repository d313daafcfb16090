//! Dev UI at scale: the Runs and Events pages' queries and `GET /v1/events` over a large store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hookflow::prelude::*;
use hookflow::store::{
    Batch, Durability, EventQuery, NewEvent, NewRun, PendingOp, Queries, RunLog, RunQuery, RunRecord, RunState,
    RunStatus, SqliteStore, StoredEvent,
};
use hookflow::webhook::EventSource;
use hookflow::ErrorInfo;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::stats::{f0, f1, median, ms, now_ms, percentile, sorted, Table};
use crate::support::{db_size_mib, query_count, registry, temp_dir, Common, Fallible};

#[derive(Args)]
pub(super) struct UiScaleArgs {
    /// Events, and as many runs (one per event).
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// The database; an existing file with at least `--rows` events is reused as it is.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Timed repetitions of each query (after one warm-up).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    #[command(flatten)]
    common: Common,
}

/// Functions the filled runs belong to (registered, so the UI shows their names).
const UI_FUNCTIONS: [&str; 5] =
    ["bench-sync-user", "bench-welcome-email", "bench-audit-log", "bench-crm-sync", "bench-trial-offer"];

macro_rules! noop_functions {
    ($($name:ident = $id:literal),* $(,)?) => {$(
        #[inngest_fn(id = $id, event = "bench/never")]
        async fn $name() -> Result<()> {
            Ok(())
        }
    )*};
}

noop_functions!(
    ui_sync_user = "bench-sync-user",
    ui_welcome_email = "bench-welcome-email",
    ui_audit_log = "bench-audit-log",
    ui_crm_sync = "bench-crm-sync",
    ui_trial_offer = "bench-trial-offer",
);

/// The Clerk types the filled events cycle through, with the prefix of their `data.id`.
const UI_TYPES: [(&str, &str); 5] = [
    ("user.created", "user"),
    ("user.updated", "user"),
    ("session.created", "sess"),
    ("organizationMembership.created", "orgmem"),
    ("email.created", "ema"),
];

/// Milliseconds between two filled events (1M events span about 29 days).
const UI_SPACING_MS: i64 = 2_500;

fn ui_data_id(i: usize) -> String {
    format!("{}_scale_{i:08}", UI_TYPES[i % UI_TYPES.len()].1)
}

/// Event `i` and its run. Statuses: 93% Completed, 4% Failed, 1% Cancelled, 2% Sleeping (for
/// 30 days, so that the engine's start-up only arms their timers and writes nothing).
fn ui_row(i: usize, start_ms: i64, templates: &[Value]) -> Fallible<NewEvent> {
    let at = start_ms + i64::try_from(i)? * UI_SPACING_MS;
    let stamp = u64::try_from(at)?;
    let (clerk_type, _) = UI_TYPES[i % UI_TYPES.len()];
    let data_id = ui_data_id(i);
    let mut data = templates[i % templates.len()].clone();
    data["id"] = json!(data_id);
    let event_id = ulid::Ulid::from_parts(stamp, rand::random()).to_string();
    // Spread so that every function has runs of every status.
    let function_id = UI_FUNCTIONS[(i % 7 + i / 100) % UI_FUNCTIONS.len()];
    let mut run = RunRecord {
        id: ulid::Ulid::from_parts(stamp, rand::random()).to_string(),
        function_id: function_id.to_owned(),
        event_ids: vec![event_id.clone()],
        status: RunStatus::Completed,
        attempt: 0,
        created_at: at,
        started_at: Some(at + 1),
        ended_at: Some(at + 40),
        output: None,
        error: None,
        wake_at: None,
        state: RunState::default(),
        parent: None,
        rerun_of: None,
        cancellation: None,
        flow: Default::default(),
    };
    match i % 100 {
        0..=3 => {
            run.status = RunStatus::Failed;
            run.attempt = 4;
            run.error = Some(ErrorInfo {
                name: "Error".into(),
                message: format!("SMTP timeout while emailing {data_id}"),
                cause: None,
                stack: None,
            });
        }
        4 => {
            run.status = RunStatus::Cancelled;
            run.error = Some(ErrorInfo {
                name: "RunCancelled".into(),
                message: "the run was cancelled".into(),
                cause: None,
                stack: None,
            });
        }
        5 | 6 => {
            let until = now_ms() + 30 * 86_400_000;
            run.status = RunStatus::Sleeping;
            run.ended_at = None;
            run.wake_at = Some(until);
            run.state.pending = vec![PendingOp::Sleep {
                step: hookflow::hash_step_id("wait-3-days"),
                name: "wait-3-days".into(),
                until,
                since: at,
            }];
        }
        _ => run.output = Some(json!({"user_id": data_id, "synced": true})),
    }
    let event = StoredEvent {
        id: event_id,
        name: format!("clerk/{clerk_type}"),
        data: data.into(),
        ts: at,
        user: None,
        source: EventSource::Webhook,
        received_at: at,
    };
    Ok(NewEvent { runs: vec![NewRun::new(run)], ..NewEvent::new(event) })
}

/// Fills the store through `Store::accept`, in batches of 5,000 events with their runs.
async fn ui_fill(store: &Arc<SqliteStore>, rows: usize) -> Fallible<f64> {
    let templates: Vec<Value> = UI_TYPES
        .iter()
        .map(|(t, _)| hookflow::clerk::fixtures::sample_data(t).ok_or(format!("no fixture for {t}")))
        .collect::<Result<_, _>>()?;
    let templates = Arc::new(templates);
    let start_ms = now_ms() - i64::try_from(rows)? * UI_SPACING_MS;
    let batch = 5_000;
    let started = Instant::now();
    let mut tasks: JoinSet<Fallible<()>> = JoinSet::new();
    for first in (0..rows).step_by(batch) {
        // Two batches in flight: one being built while the writer commits the other.
        if tasks.len() >= 2 {
            if let Some(done) = tasks.join_next().await {
                done??;
            }
        }
        let store = store.clone();
        let templates = templates.clone();
        tasks.spawn(async move {
            let events = (first..(first + batch).min(rows))
                .map(|i| ui_row(i, start_ms, &templates))
                .collect::<Fallible<Vec<_>>>()?;
            store.accept(&Batch { events, runs: Vec::new(), at: 0 }, None).await?;
            Ok(())
        });
        if first % 100_000 == 0 && first > 0 {
            eprintln!("  filled {first} rows");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Times `f` `samples` times after one warm-up; returns (median, max) in ms and the last value.
/// A call slower than `SLOW` is timed once (the warm-up is the sample): the Events page over a
/// large store takes minutes.
async fn time_it<T, F, Fut>(samples: usize, mut f: F) -> Fallible<(f64, f64, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Fallible<T>>,
{
    const SLOW: Duration = Duration::from_secs(5);
    let t = Instant::now();
    let mut last = f().await?;
    let warm_up = t.elapsed();
    if warm_up > SLOW {
        return Ok((ms(warm_up), ms(warm_up), last));
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        last = f().await?;
        times.push(ms(t.elapsed()));
    }
    let times = sorted(times);
    Ok((median(&times), percentile(&times, 100.0), last))
}

/// A `Store` query that the dev UI makes.
enum StoreCall {
    Runs(RunQuery),
    Events(EventQuery),
}

pub(super) async fn ui_scale(args: UiScaleArgs) -> Fallible<()> {
    let dir = temp_dir(&args.common)?;
    let path = args.db.clone().unwrap_or_else(|| dir.path().join("ui-scale.db"));
    let rows = i64::try_from(args.rows)?;
    let existing = if path.exists() { query_count(&path, "SELECT count(*) FROM events").unwrap_or(0) } else { 0 };
    let store = Arc::new(SqliteStore::open_with(&path, Durability::Normal)?);
    println!("ui-scale: {} events and {} runs in {}", args.rows, args.rows, path.display());
    let mut fill = Table::new(&["phase", "rows", "seconds", "rows/s", "db (MiB)"]);
    if existing >= rows {
        println!("reusing {existing} events already in {}", path.display());
    } else if existing > 0 {
        return Err(format!("{} holds {existing} events, fewer than --rows: remove it first", path.display()).into());
    } else {
        let seconds = ui_fill(&store, args.rows).await?;
        #[allow(clippy::cast_precision_loss)]
        let per_s = (2 * args.rows) as f64 / seconds;
        fill.row(vec![
            "Store::accept (events + runs)".into(),
            (2 * args.rows).to_string(),
            f1(seconds),
            f0(per_s),
            f0(db_size_mib(&path)),
        ]);
    }
    // A bulk load outruns the search index (it follows commits in small batches, and searches
    // scan what it has not reached): bring it up to date first, and say how long that took.
    let started = Instant::now();
    store.catch_up_search_index().await?;
    let seconds = started.elapsed().as_secs_f64();
    fill.row(vec!["catch_up_search_index".into(), String::new(), f1(seconds), String::new(), f0(db_size_mib(&path))]);
    fill.print("Fill");

    let functions =
        [ui_sync_user::DEF, ui_welcome_email::DEF, ui_audit_log::DEF, ui_crm_sync::DEF, ui_trial_offer::DEF];
    let app = hookflow::App::with_registry("bench", registry(&functions)).store(store.clone()).dev_ui().start().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    // A needle that occurs in one event (and its run), in the middle of the history: a search
    // for it reads every row newer than it and finds fewer than a page.
    let rare = ui_data_id(args.rows / 2);
    let common = "user_".to_owned();
    let function = UI_FUNCTIONS[1].to_owned();
    let rows_of = |n: usize| n.to_string();

    let mut store_table = Table::new(&["Store call", "rows returned", "median (ms)", "max (ms)"]);
    // The Events page asks, for each event it lists, for the runs it triggered.
    let sample_event = store.list_events(&EventQuery { limit: 1, ..EventQuery::default() }).await?;
    let event_id = sample_event.first().map(|e| e.id.clone()).ok_or("no event in the store")?;
    let runs = |query: RunQuery| StoreCall::Runs(RunQuery { limit: 50, ..query });
    let events = |query: EventQuery| StoreCall::Events(EventQuery { limit: 50, ..query });
    let calls: Vec<(&str, StoreCall)> = vec![
        ("list_runs (first page, 50)", runs(RunQuery::default())),
        ("list_runs function=…", runs(RunQuery { function_id: Some(function.clone()), ..RunQuery::default() })),
        ("list_runs status=Failed", runs(RunQuery { statuses: vec![RunStatus::Failed], ..RunQuery::default() })),
        ("list_runs status=Sleeping", runs(RunQuery { statuses: vec![RunStatus::Sleeping], ..RunQuery::default() })),
        (
            "list_runs function=… status=Failed",
            runs(RunQuery {
                function_id: Some(function.clone()),
                statuses: vec![RunStatus::Failed],
                ..RunQuery::default()
            }),
        ),
        ("list_runs search=common", runs(RunQuery { search: Some("sync".into()), ..RunQuery::default() })),
        ("list_runs search=rare", runs(RunQuery { search: Some(rare.clone()), ..RunQuery::default() })),
        ("list_events (first page, 50)", events(EventQuery::default())),
        (
            "list_events name=clerk/email.created",
            events(EventQuery { name: Some("clerk/email.created".into()), ..EventQuery::default() }),
        ),
        ("list_events search=common", events(EventQuery { search: Some(common.clone()), ..EventQuery::default() })),
        ("list_events search=rare", events(EventQuery { search: Some(rare.clone()), ..EventQuery::default() })),
        (
            "list_runs event=… (runs of one event)",
            StoreCall::Runs(RunQuery { event_id: Some(event_id.clone()), limit: 200, ..RunQuery::default() }),
        ),
    ];
    for (label, call) in calls {
        let store = store.clone();
        let call = Arc::new(call);
        let (med, max, n) = time_it(args.samples, || {
            let (store, call) = (store.clone(), call.clone());
            async move {
                Ok(match call.as_ref() {
                    StoreCall::Runs(query) => store.list_runs(query).await?.len(),
                    StoreCall::Events(query) => store.list_events(query).await?.len(),
                })
            }
        })
        .await?;
        store_table.row(vec![label.into(), rows_of(n), f1(med), f1(max)]);
        eprintln!("  {label}: {med:.1} ms");
    }
    store_table.print("Store calls (server time)");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let mut http_table = Table::new(&["HTTP request (loopback round trip)", "bytes", "median (ms)", "max (ms)"]);
    let urls: Vec<(String, String)> = vec![
        ("Runs page: GET /api/v1/runs?limit=50".into(), "/api/v1/runs?limit=50".into()),
        ("GET /api/v1/runs?function=…".into(), format!("/api/v1/runs?limit=50&function={function}")),
        ("GET /api/v1/runs?status=Failed".into(), "/api/v1/runs?limit=50&status=Failed".into()),
        (
            "GET /api/v1/runs?function=…&status=Failed".into(),
            format!("/api/v1/runs?limit=50&function={function}&status=Failed"),
        ),
        ("GET /api/v1/runs?q=common".into(), "/api/v1/runs?limit=50&q=sync".into()),
        ("GET /api/v1/runs?q=rare".into(), format!("/api/v1/runs?limit=50&q={rare}")),
        ("Events page: GET /api/v1/events?limit=50".into(), "/api/v1/events?limit=50".into()),
        ("GET /api/v1/events?q=common".into(), format!("/api/v1/events?limit=50&q={common}")),
        ("GET /api/v1/events?q=rare".into(), format!("/api/v1/events?limit=50&q={rare}")),
        ("GET /v1/events".into(), "/v1/events".into()),
        ("GET /v1/events?name=clerk/email.created".into(), "/v1/events?name=clerk/email.created".into()),
    ];
    for (label, url) in urls {
        let full = format!("{base}{url}");
        let client = client.clone();
        let (med, max, bytes) = time_it(args.samples, || {
            let client = client.clone();
            let full = full.clone();
            async move {
                let response = client.get(&full).send().await?;
                let status = response.status();
                let body = response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("{full}: {status}: {}", String::from_utf8_lossy(&body)).into());
                }
                Ok(body.len())
            }
        })
        .await?;
        http_table.row(vec![label.clone(), bytes.to_string(), f1(med), f1(max)]);
        eprintln!("  {label}: {med:.1} ms");
    }
    http_table.print("Dev UI API over HTTP");

    let _ = stop.send(());
    server.await??;
    query_plans(&path, &event_id)?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN` of the SQL that `SqliteStore` builds for the slow calls (copied from
/// `runtime/src/store/sqlite/mod.rs`; keep in step with it).
fn query_plans(path: &Path, event_id: &str) -> Fallible<()> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut search = path.as_os_str().to_owned();
    search.push("-search");
    conn.execute("ATTACH DATABASE ?1 AS search", [search.to_string_lossy()])?;
    let plans = [
        (
            "list_events search (indexed part)",
            "SELECT e.id FROM search.events_fts f JOIN events e ON e.seq = f.rowid WHERE e.name NOT LIKE 'inngest/%' \
             AND e.seq <= ?1 AND f.events_fts MATCH ?2 AND (lower(e.name) LIKE ?3 ESCAPE '\\' \
             OR lower(e.data) LIKE ?3 ESCAPE '\\') ORDER BY f.rowid DESC LIMIT 50"
                .to_owned(),
        ),
        (
            "list_runs search",
            "SELECT id FROM runs WHERE lower(function_id || ' ' || coalesce(output, '') || ' ' || coalesce(error, '')) \
             LIKE ?1 ESCAPE '\\' ORDER BY id DESC LIMIT 50"
                .to_owned(),
        ),
        (
            "list_runs event=… (Events page, once per listed event)",
            format!("SELECT id FROM runs WHERE event_id = '{event_id}' ORDER BY id DESC LIMIT 200"),
        ),
        ("list_runs status=Failed", "SELECT id FROM runs WHERE status IN ('Failed') ORDER BY id DESC LIMIT 50".to_owned()),
    ];
    println!("\n### Query plans\n");
    for (label, sql) in plans {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
        let details: Vec<String> =
            stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?.collect::<Result<_, _>>()?;
        println!("- {label}: `{}`", details.join(" → "));
    }
    Ok(())
}
