//! A real Postgres for the tests: `tests/run` starts a throwaway cluster and exports its URL
//! as `HOOKFLOW_TEST_POSTGRES_URL` (with `HOOKFLOW_TEST_REQUIRE_POSTGRES=1`, so that a run
//! without a server fails rather than skips). Each test gets a schema or a database of its own.
//! [`LossyProxy`] stands between a store and the server to lose one answer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hookflow::store::{PostgresOptions, PostgresStore};

/// The variable holding the server's URL.
pub const URL_ENV: &str = "HOOKFLOW_TEST_POSTGRES_URL";
/// Set by `tests/run`: the Postgres tests must run.
pub const REQUIRE_ENV: &str = "HOOKFLOW_TEST_REQUIRE_POSTGRES";

/// The server's URL. Without one: panics under `tests/run`, else says loudly that the test is
/// skipped and answers `None`.
pub fn url(test: &str) -> Option<String> {
    match std::env::var(URL_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => {
            panic!("{test}: {REQUIRE_ENV}=1 but {URL_ENV} is not set: tests/run must start Postgres")
        }
        _ => {
            eprintln!("SKIPPED {test}: no Postgres ({URL_ENV} is not set; tests/run starts one)");
            None
        }
    }
}

/// Where `tests/run` put the server's data directory and programs, for the test that restarts it.
pub const DATA_ENV: &str = "HOOKFLOW_TEST_POSTGRES_DATA";
/// The directory of `pg_ctl` (`/usr/lib/postgresql/N/bin`).
pub const BIN_ENV: &str = "HOOKFLOW_TEST_POSTGRES_BIN";

/// Restarts the test server with `pg_ctl restart -m fast`: every connection is cut, open
/// transactions roll back, committed ones stay (the test cluster runs with
/// `synchronous_commit=off`, so `-m immediate` could lose commits it had acknowledged, which
/// is the cluster's setting and not what the test is about). Answers whether it could: `false`
/// when `tests/run` did not start the server (then the caller skips, or fails under
/// `HOOKFLOW_TEST_REQUIRE_POSTGRES=1`).
pub fn restart_server() -> bool {
    let (Ok(data), Ok(bin)) = (std::env::var(DATA_ENV), std::env::var(BIN_ENV)) else {
        return false;
    };
    let pg_ctl = format!("{bin}/pg_ctl");
    let args = ["-D", data.as_str(), "-m", "fast", "-w", "-s", "restart"];
    // As root, tests/run started the server as `postgres` (it refuses to run as root).
    let is_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let status = if is_root {
        std::process::Command::new("runuser").args(["-u", "postgres", "--", &pg_ctl]).args(args).status()
    } else {
        std::process::Command::new(&pg_ctl).args(args).status()
    };
    match status {
        Ok(s) if s.success() => true,
        other => panic!("pg_ctl restart failed: {other:?}"),
    }
}

/// A name no other test uses: `prefix` and a unique suffix, lowercase.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{:x}{:08x}", std::process::id(), nanos % 1_000_000_000_000, rand::random::<u32>())
}

/// A store in a schema of its own, with a short retry budget (tests want failures fast).
pub async fn store(url: &str) -> PostgresStore {
    let options = PostgresOptions { schema: unique("t"), pool_size: 8, ..PostgresOptions::default() };
    match PostgresStore::connect_with(url, options).await {
        Ok(store) => store,
        Err(e) => panic!("cannot connect to the test Postgres: {e}"),
    }
}

/// Connects to the server directly (for setting up and checking).
pub async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to the test Postgres at {url}: {e}"),
    };
    tokio::spawn(connection);
    client
}

/// A new, empty database; answers its URL (the server's URL with the database replaced).
pub async fn database(url: &str) -> String {
    let name = unique("db");
    if let Err(e) = client(url).await.batch_execute(&format!("CREATE DATABASE {name}")).await {
        panic!("cannot create database {name}: {e}");
    }
    with_database(url, &name)
}

/// `url` with its database (the path) replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A store in `schema` (shared with the other stores opened on it, as separate workers are).
pub async fn store_in(url: &str, schema: &str) -> PostgresStore {
    let options = PostgresOptions { schema: schema.to_owned(), pool_size: 8, ..PostgresOptions::default() };
    match PostgresStore::connect_with(url, options).await {
        Ok(store) => store,
        Err(e) => panic!("cannot connect to the test Postgres: {e}"),
    }
}

/// An event from the event API, received at `at`.
pub fn event(id: &str, name: &str, at: i64) -> hookflow::store::StoredEvent {
    hookflow::store::StoredEvent {
        id: id.into(),
        name: name.into(),
        data: serde_json::json!({"id": id}).into(),
        ts: at,
        user: None,
        source: hookflow::webhook::EventSource::Api,
        received_at: at,
    }
}

/// A queued run of `function` for `event`, due at `due`.
pub fn run(id: &str, function: &str, event: &str, due: i64) -> hookflow::store::RunRecord {
    hookflow::store::RunRecord {
        id: id.into(),
        function_id: function.into(),
        event_ids: vec![event.into()],
        status: hookflow::store::RunStatus::Queued,
        attempt: 0,
        created_at: due,
        started_at: None,
        ended_at: None,
        output: None,
        error: None,
        wake_at: Some(due),
        state: hookflow::store::RunState::default(),
        parent: None,
        rerun_of: None,
        cancellation: None,
        flow: Default::default(),
    }
}

/// A TCP proxy in front of the Postgres at `url` that loses one answer: once [`LossyProxy::arm`]ed
/// with a marker, the first request that carries the marker's bytes (a parameter, such as an
/// event id) reaches the server and runs, and the connection is cut as soon as the server's
/// answer is complete (its `ReadyForQuery`), before any of it reaches the client. So the write
/// commits and the client sees a broken connection, as when a network drops a reply.
pub struct LossyProxy {
    /// The URL to connect through the proxy.
    pub url: String,
    marker: Arc<Mutex<Option<Vec<u8>>>>,
    /// Answers lost so far.
    pub lost: Arc<AtomicUsize>,
}

impl LossyProxy {
    /// Starts the proxy for the server of `url`.
    pub async fn start(url: &str) -> LossyProxy {
        let config: tokio_postgres::Config = url.parse().expect("a Postgres URL");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let upstream = format!("127.0.0.1:{port}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxied = listener.local_addr().expect("addr").port();
        let marker: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let lost = Arc::new(AtomicUsize::new(0));
        let (m, l) = (marker.clone(), lost.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                tokio::spawn(pump_pair(client, server, m.clone(), l.clone()));
            }
        });
        LossyProxy { url: url.replacen(&format!(":{port}/"), &format!(":{proxied}/"), 1), marker, lost }
    }

    /// Loses the answer to the next request that carries `marker`.
    pub fn arm(&self, marker: &str) {
        *self.marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marker.as_bytes().to_vec());
    }
}

async fn pump_pair(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    marker: Arc<Mutex<Option<Vec<u8>>>>,
    lost: Arc<AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let cut = Arc::new(AtomicBool::new(false));
    let cut_up = cut.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
            {
                let mut armed = marker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let hit = armed.as_ref().is_some_and(|m| buf[..n].windows(m.len()).any(|w| w == m.as_slice()));
                if hit {
                    *armed = None;
                    cut_up.store(true, Ordering::SeqCst);
                }
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut held = Vec::new();
    while let Ok(n @ 1..) = server_read.read(&mut buf).await {
        if cut.load(Ordering::SeqCst) {
            // Keep the answer until it is complete (`Z`, length 5, a status byte), then drop it.
            held.extend_from_slice(&buf[..n]);
            if held.windows(5).any(|w| w == [b'Z', 0, 0, 0, 5]) {
                lost.fetch_add(1, Ordering::SeqCst);
                break;
            }
            continue;
        }
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    up.abort();
}
