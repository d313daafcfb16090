//! The application's own database: a `users` table kept in step with Clerk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Clerk's user id.
    pub id: String,
    /// The primary email address, when there is one.
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
}

/// The application database (SQLite), shared by the functions as `Dep<AppDb>`.
#[derive(Debug, Clone)]
pub struct AppDb {
    conn: Arc<Mutex<Connection>>,
}

/// A database error.
#[derive(Debug, thiserror::Error)]
#[error("application database: {0}")]
pub struct DbError(String);

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError(e.to_string())
    }
}

impl AppDb {
    /// Opens the database named by a URL such as `sqlite:app.db` and creates the table.
    pub fn open_url(url: &str) -> Result<Self, DbError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| DbError(format!("unsupported APP_DATABASE_URL `{url}`: use `sqlite:path/to/app.db`")))?;
        AppDb::open(path)
    }

    /// Opens (or creates) the database file and the `users` table.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DbError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS users (
                 id TEXT PRIMARY KEY,
                 email TEXT,
                 first_name TEXT,
                 last_name TEXT
             );",
        )?;
        Ok(AppDb { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().map_err(|_| DbError("the connection lock is poisoned".into()))?;
            f(&guard)
        })
        .await
        .map_err(|e| DbError(e.to_string()))?
    }

    /// Inserts or updates a user (idempotent: a retried step writes the same row).
    pub async fn upsert(&self, row: UserRow) -> Result<(), DbError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO users (id, email, first_name, last_name) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(id) DO UPDATE SET email = excluded.email, first_name = excluded.first_name,
                 last_name = excluded.last_name",
                params![row.id, row.email, row.first_name, row.last_name],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes a user; returns whether a row was there.
    pub async fn delete(&self, id: &str) -> Result<bool, DbError> {
        let id = id.to_owned();
        self.with(move |c| Ok(c.execute("DELETE FROM users WHERE id = ?1", params![id])? > 0)).await
    }

    /// One user.
    pub async fn get(&self, id: &str) -> Result<Option<UserRow>, DbError> {
        let id = id.to_owned();
        self.with(move |c| {
            Ok(c.query_row("SELECT id, email, first_name, last_name FROM users WHERE id = ?1", params![id], |r| {
                Ok(UserRow { id: r.get(0)?, email: r.get(1)?, first_name: r.get(2)?, last_name: r.get(3)? })
            })
            .optional()?)
        })
        .await
    }
}
