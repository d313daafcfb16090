//! The event search index: a full-text index in a database file of its own
//! (`<store>-search`), filled by its own thread.
//!
//! Search is not part of the durability contract, and a separate file has its own write lock:
//! indexing never holds up a commit of the store. It also yields to ingest: while events keep
//! arriving it waits (a burst is absorbed first, then indexed), unless it has fallen more than
//! [`MAX_LAG`] events behind, when it indexes alongside, one batch per poll. Searches scan what
//! it has not reached yet. The file holds only what can be rebuilt from the events (delete it
//! to rebuild the index).

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use crate::store::StoreError;

/// The index's tokenizer; the query's words are split by the same one.
const TOKENIZER: &str = "unicode61";

/// The full-text query for a search: every word of it, the last one as a prefix, so
/// `ann@exam` finds the events holding `ann` and a word starting with `exam`. The index keeps
/// no positions (`detail=none`: a third of the indexing work), so the caller checks the exact
/// text on what it finds. `None` when the text has no word to look up.
///
/// The words are the index tokenizer's own, taken from a scratch table of the connection: a
/// word split otherwise (Rust and SQLite disagree on combining marks, and SQLite's Unicode
/// tables are 6.1's) would be a phrase to the index, which an index without positions refuses.
pub(super) fn fts_query(conn: &Connection, search: &str) -> Result<Option<String>, StoreError> {
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words USING fts5(text, tokenize='{TOKENIZER}');
         CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words_vocab USING fts5vocab(temp, search_words, instance);
         DELETE FROM temp.search_words;"
    ))?;
    conn.prepare_cached("INSERT INTO temp.search_words (rowid, text) VALUES (1, ?1)")?.execute(params![search])?;
    let words = conn
        .prepare_cached("SELECT term FROM temp.search_words_vocab ORDER BY offset")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    conn.execute_batch("DELETE FROM temp.search_words")?;
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    Ok((!quoted.is_empty()).then(|| format!("{} *", quoted.join(" AND "))))
}

/// Events indexed per transaction.
const BATCH: i64 = 2_000;
/// How often the indexer looks for new events.
const POLL: Duration = Duration::from_millis(20);
/// How far behind the indexer may fall while events keep arriving.
const MAX_LAG: i64 = 100_000;

/// The search database that sits beside the store's file.
pub(super) fn search_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push("-search");
    PathBuf::from(name)
}

/// Makes the search database reachable from `conn` as `search` (creating it if needed).
pub(super) fn attach(conn: &Connection, store: &Path) -> Result<(), StoreError> {
    let path = search_path(store);
    let path = path
        .to_str()
        .ok_or_else(|| StoreError::Database(format!("the search index path {} is not valid UTF-8", path.display())))?;
    conn.execute("ATTACH DATABASE ?1 AS search", params![path])?;
    Ok(())
}

/// A request to the indexer thread: index everything committed so far, then answer.
pub(super) type CatchUp = oneshot::Sender<Result<(), StoreError>>;

/// Starts the indexer thread on its own connection: it reads the store's events and writes
/// the attached search database only.
pub(super) fn spawn(conn: Connection, store: &Path) -> Result<std_mpsc::Sender<CatchUp>, StoreError> {
    attach(&conn, store)?;
    conn.execute_batch(&format!(
        "PRAGMA search.journal_mode=WAL; PRAGMA search.synchronous=NORMAL;
         CREATE VIRTUAL TABLE IF NOT EXISTS search.events_fts
             USING fts5(name, data, content='', columnsize=0, detail=none, tokenize='{TOKENIZER}');
         CREATE TABLE IF NOT EXISTS search.meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         INSERT OR IGNORE INTO search.meta (key, value) VALUES ('fts_indexed_seq', 0);"
    ))?;
    let (tx, rx) = std_mpsc::channel::<CatchUp>();
    std::thread::Builder::new()
        .name("hookflow-sqlite-search".into())
        .spawn(move || run(&conn, &rx))
        .map_err(|e| StoreError::Database(format!("cannot start the search indexer thread: {e}")))?;
    Ok(tx)
}

fn run(conn: &Connection, rx: &std_mpsc::Receiver<CatchUp>) {
    let mut last_seen = 0;
    // A failure that lasts (a full disk) is retried every poll but logged once.
    let mut last_error = None;
    loop {
        let waiting = match rx.recv_timeout(POLL) {
            Ok(reply) => Some(reply),
            Err(std_mpsc::RecvTimeoutError::Timeout) => None,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let result = (|| {
            let (indexed, newest) = progress(conn)?;
            let arriving = newest != last_seen;
            last_seen = newest;
            if waiting.is_none() && arriving {
                // Ingest first; only a large backlog gets a batch now.
                return if newest - indexed > MAX_LAG { index_batch(conn).map(drop) } else { Ok(()) };
            }
            while index_batch(conn)? > 0 {}
            Ok(())
        })();
        let error = result.as_ref().err().map(ToString::to_string);
        if let Some(message) = error.as_deref().filter(|_| error != last_error) {
            tracing::warn!(error = %message, "could not update the event search index; will retry");
        }
        last_error = error;
        if let Some(reply) = waiting {
            drop(reply.send(result));
        }
    }
}

/// The last indexed event `seq` and the newest one.
fn progress(conn: &Connection) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT value FROM search.meta WHERE key = 'fts_indexed_seq'), \
             (SELECT coalesce(max(seq), 0) FROM main.events)",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Indexes the next batch of events in one transaction of the search database; returns how
/// many `seq` values it covered (0 when the index is up to date). Internal `inngest/*` events
/// (hidden by default) are left out: searching them scans only what the index has not reached.
fn index_batch(conn: &Connection) -> Result<usize, StoreError> {
    let done: i64 = conn
        .prepare_cached("SELECT value FROM search.meta WHERE key = 'fts_indexed_seq'")?
        .query_row([], |r| r.get(0))?;
    // Read the batch first, in a read of its own: a reader holding the store's snapshot while
    // the (slower) indexing runs would keep checkpoints from completing, and the log growing.
    let mut last = done;
    let mut batch: Vec<(i64, String, String)> = Vec::new();
    {
        let mut stmt =
            conn.prepare_cached("SELECT seq, name, data FROM main.events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = stmt.query(params![done, BATCH])?;
        while let Some(row) = rows.next()? {
            last = row.get(0)?;
            let name: String = row.get(1)?;
            if !name.starts_with("inngest/") {
                batch.push((last, name, row.get(2)?));
            }
        }
    }
    if last == done {
        return Ok(0);
    }
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let mut insert =
            conn.prepare_cached("INSERT INTO search.events_fts (rowid, name, data) VALUES (?1, ?2, ?3)")?;
        for (seq, name, data) in &batch {
            insert.execute(params![seq, name, data])?;
        }
        conn.prepare_cached("UPDATE search.meta SET value = ?1 WHERE key = 'fts_indexed_seq'")?
            .execute(params![last])?;
        Ok::<(), rusqlite::Error>(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            conn.execute_batch("ROLLBACK")?;
            return Err(e.into());
        }
    }
    Ok(usize::try_from(last - done).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(search: &str) -> Option<String> {
        let conn = Connection::open_in_memory().unwrap();
        fts_query(&conn, search).unwrap()
    }

    #[test]
    fn words_are_the_tokenizers_own() {
        assert_eq!(query("ann@exam").as_deref(), Some("\"ann\" AND \"exam\" *"));
        assert_eq!(query("José MÜLLER").as_deref(), Some("\"jose\" AND \"muller\" *"), "folded by the tokenizer");
        assert_eq!(query("user_123").as_deref(), Some("\"user\" AND \"123\" *"));
        // Devanagari vowel signs and viramas are marks: the tokenizer splits words at them.
        assert_eq!(query("हिंदी").as_deref(), Some("\"ह\" AND \"द\" *"));
        assert_eq!(query("\"; DROP TABLE events").as_deref(), Some("\"drop\" AND \"table\" AND \"events\" *"));
        assert_eq!(query("🎉 ;;"), None);
        assert_eq!(query(""), None);
    }

    #[test]
    fn the_scratch_table_is_left_empty() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(fts_query(&conn, "one").unwrap().is_some());
        assert_eq!(fts_query(&conn, "two").unwrap().as_deref(), Some("\"two\" *"), "nothing left of `one`");
    }
}
