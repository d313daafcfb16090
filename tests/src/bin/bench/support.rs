//! What the benchmarks share besides numbers: options, temporary directories, the Clerk events
//! they send and how they send them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, ValueEnum};
use hookflow::engine::Engine;
use hookflow::store::Durability;
use hookflow::webhook::EventSource;
use hookflow::{RawEvent, Registry};
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// Anything that stops a benchmark: it is reported and the process exits non-zero.
pub(crate) type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where the peer programs live in the source tree.
pub(crate) const BENCH_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench");
/// The Clerk fixture whose `data` every benchmark event carries.
pub(crate) const USER_CREATED: &str = "user.created";
/// The same fixture as a file, for the peers written in other languages.
pub(crate) const USER_CREATED_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/fixtures/clerk/user.created.json");

/// Options every benchmark takes.
#[derive(Args, Clone)]
pub(crate) struct Common {
    /// Trials; tables show each one and the median.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
    /// Where the temporary databases go (a directory on the disk to measure).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DurabilityArg {
    /// `synchronous=FULL` (hookflow's default).
    Full,
    /// `synchronous=NORMAL`.
    Normal,
    /// Both, one after the other.
    Both,
}

impl DurabilityArg {
    pub(crate) fn modes(self) -> Vec<Durability> {
        match self {
            DurabilityArg::Full => vec![Durability::Full],
            DurabilityArg::Normal => vec![Durability::Normal],
            DurabilityArg::Both => vec![Durability::Full, Durability::Normal],
        }
    }
}

pub(crate) fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    }
}

/// The temporary directory every database of a benchmark goes into.
pub(crate) fn temp_dir(common: &Common) -> Fallible<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("hookflow-bench-");
    Ok(match &common.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            builder.tempdir_in(dir)?
        }
        None => builder.tempdir()?,
    })
}

/// Size of a SQLite database with its WAL, in MiB.
pub(crate) fn db_size_mib(path: &Path) -> f64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    #[allow(clippy::cast_precision_loss)]
    let total = (size(path.to_path_buf()) + size(PathBuf::from(wal))) as f64;
    total / (1024.0 * 1024.0)
}

/// One number from a SQLite file, read beside the engine on a connection of our own.
pub(crate) fn query_count(path: &Path, sql: &str) -> Fallible<i64> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

/// The `data` of the Clerk `user.created` fixture.
pub(crate) fn user_template() -> Fallible<Value> {
    hookflow::clerk::fixtures::sample_data(USER_CREATED).ok_or_else(|| "no user.created fixture".into())
}

/// A `clerk/user.created` event with its own user id and event id.
pub(crate) fn user_created(template: &Value, tag: &str, i: usize) -> RawEvent {
    let mut data = template.clone();
    data["id"] = json!(format!("user_{tag}_{i:07}"));
    RawEvent::new("clerk/user.created", data).with_id(format!("evt_{tag}_{i:07}"))
}

/// Sends pre-built batches from `senders` concurrent tasks; returns when all are committed.
pub(crate) async fn send_all(engine: &Engine, batches: Vec<Vec<RawEvent>>, senders: usize) -> Fallible<()> {
    let queue = Arc::new(Mutex::new(batches));
    let mut tasks = JoinSet::new();
    for _ in 0..senders.max(1) {
        let queue = queue.clone();
        let engine = engine.clone();
        tasks.spawn(async move {
            loop {
                let next = queue.lock().map_err(|_| "batch queue poisoned")?.pop();
                let Some(batch) = next else { return Ok::<(), Box<dyn std::error::Error + Send + Sync>>(()) };
                engine.send_raw(batch, EventSource::Code).await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

pub(crate) fn registry(defs: &[&'static hookflow::FunctionDef]) -> Result<Registry, hookflow::DuplicateFunction> {
    let mut registry = Registry::empty();
    for def in defs {
        registry.add(def)?;
    }
    Ok(registry)
}
