//! Connections of the store's own: the one-off connection that migrates (with clear errors when
//! Postgres cannot be reached), the notification connection (LISTEN, reconnected with back-off),
//! and the relay of other workers' changes to the live views.

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use super::Shared;
use crate::engine::Change;
use crate::model::RunStatus;
use crate::store::StoreError;

/// Opens a connection of its own (its driver runs on a task), with an error that says what
/// is wrong: the server unreachable, the credentials refused, the database missing.
pub(super) async fn connect(config: &Config, target: &str) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(|e| connect_error(config, target, &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a Postgres connection ended");
        }
    });
    Ok(client)
}

fn connect_error(config: &Config, target: &str, e: &tokio_postgres::Error) -> StoreError {
    let user = config.get_user().unwrap_or("(none)");
    let message = match e.as_db_error() {
        Some(db) if [SqlState::INVALID_PASSWORD, SqlState::INVALID_AUTHORIZATION_SPECIFICATION].contains(db.code()) => {
            format!(
                "Postgres at {target} refused the credentials of user `{user}` ({}): check the user and password \
                 in the database URL (HOOKFLOW_DATABASE_URL)",
                db.message()
            )
        }
        Some(db) if db.code() == &SqlState::INVALID_CATALOG_NAME => format!(
            "Postgres at {target} has no database `{}`: create it (`createdb {}`) or fix the URL",
            config.get_dbname().unwrap_or(""),
            config.get_dbname().unwrap_or("")
        ),
        Some(db) => format!("Postgres at {target} refused the connection: {} ({})", db.message(), db.code().code()),
        None => format!("cannot reach Postgres at {target}: {e}: is the server running, and the address right?"),
    };
    StoreError::Database(message)
}

/// Keeps a LISTEN connection open while the store lives: notifications wake the engine's
/// scheduler, record cancellations of runs held here, and add observed event names.
pub(super) async fn run(shared: Weak<Shared>) {
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let Some(s) = shared.upgrade() else { return };
        let mut config = s.config.clone();
        // Named, so that an operator can tell it from the pool's connections.
        config.application_name(format!("hookflow-listen:{}", s.schema));
        let channels = ["work", "cancel", "observe"].map(|c| s.channel(c));
        drop(s);
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(message)) = messages.next().await {
                        if let AsyncMessage::Notification(n) = message {
                            if tx.send(n).is_err() {
                                return;
                            }
                        }
                    }
                });
                let listen: String = channels.iter().map(|c| format!("LISTEN \"{c}\";")).collect();
                let ready = async {
                    client.batch_execute(&listen).await?;
                    client.query("SELECT DISTINCT event FROM matcher_paths", &[]).await
                };
                match ready.await {
                    Ok(rows) => {
                        let Some(s) = shared.upgrade() else { return };
                        {
                            let mut observed = s.observed.write();
                            s.observed_notes.fetch_add(1, Ordering::SeqCst);
                            observed.extend(rows.iter().map(|r| r.get::<_, String>(0)));
                        }
                        s.listening.store(true, Ordering::SeqCst);
                        // Whatever was notified while the connection was down: look now.
                        s.forget_gated();
                        s.signal.notify_waiters();
                        if failing {
                            tracing::info!("listening for other workers' notifications again");
                        }
                        failing = false;
                        backoff = Duration::from_millis(100);
                        drop(s);
                        while let Some(n) = rx.recv().await {
                            let Some(s) = shared.upgrade() else { return };
                            if n.channel() == channels[0] {
                                s.forget_gated();
                                s.signal.notify_waiters();
                            } else if n.channel() == channels[1] {
                                let run = n.payload();
                                if s.held.lock().contains(run) {
                                    s.cancels.lock().insert(run.to_owned());
                                }
                            } else if n.channel() == channels[2] {
                                let mut observed = s.observed.write();
                                s.observed_notes.fetch_add(1, Ordering::SeqCst);
                                observed.insert(n.payload().to_owned());
                                drop(observed);
                            }
                        }
                        if let Some(s) = shared.upgrade() {
                            s.listening.store(false, Ordering::SeqCst);
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "could not listen for notifications; polling meanwhile");
                        }
                        failing = true;
                    }
                }
                driver.abort();
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "the notification connection to Postgres is down; polling meanwhile");
                }
                failing = true;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Where the relay of other workers' changes starts: the latest event and run change now.
pub(super) async fn change_cursors(s: &Shared) -> Result<(i64, i64), StoreError> {
    s.retrying("read the change cursors", || async {
        let client = s.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT coalesce(max(seq), 0) FROM events), (SELECT coalesce(max(version), 0) FROM runs)",
                &[],
            )
            .await?;
        Ok((row.get(0), row.get(1)))
    })
    .await
}

/// Relays the events accepted and the runs changed by other workers after `cursors` to
/// [`Shared::changes`], looking every `every`.
pub(super) async fn relay_changes(shared: Weak<Shared>, every: Duration, mut cursors: (i64, i64)) {
    loop {
        tokio::time::sleep(every).await;
        let Some(s) = shared.upgrade() else { return };
        match poll(&s, cursors).await {
            Ok((next, changes)) => {
                cursors = next;
                for change in changes {
                    let _ = s.changes.send(change);
                }
            }
            Err(e) => tracing::debug!(error = ?e, "could not look for other workers' changes"),
        }
    }
}

/// Changes after `cursors` (event `seq`, run `version`) by other writers, and the new cursors.
async fn poll(s: &Shared, (events_at, runs_at): (i64, i64)) -> Result<((i64, i64), Vec<Change>), super::Fail> {
    let client = s.client().await?;
    let events = client
        .query("SELECT seq, id, name, writer FROM events WHERE seq > $1 ORDER BY seq LIMIT 1000", &[&events_at])
        .await?;
    let runs = client
        .query(
            "SELECT version, id, function_id, status, writer FROM runs WHERE version > $1 ORDER BY version LIMIT 1000",
            &[&runs_at],
        )
        .await?;
    let mut changes = Vec::new();
    let mut next = (events_at, runs_at);
    for row in &events {
        next.0 = row.get(0);
        if row.get::<_, i64>(3) != s.me {
            changes.push(Change::Event { id: row.get(1), name: row.get(2) });
        }
    }
    for row in &runs {
        next.1 = row.get(0);
        let status: String = row.get(3);
        if let Some(status) = RunStatus::parse(&status).filter(|_| row.get::<_, i64>(4) != s.me) {
            changes.push(Change::Run { id: row.get(1), function_id: row.get(2), status });
        }
    }
    Ok((next, changes))
}
