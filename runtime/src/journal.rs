//! The deterministic core of replay: step identity and journal lookup. It knows nothing of
//! tokio, HTTP or SQL, so both drivers (in-process and the Inngest protocol) share it.

use std::collections::HashMap;

use sha1::{Digest, Sha1};

use crate::store::Memo;

/// Inngest's step hash: lowercase hex SHA-1 of the user's step id.
pub fn hash_step_id(id: &str) -> String {
    hex::encode(Sha1::digest(id.as_bytes()))
}

/// Assigns hashes to step ids in call order: the n-th repeat of an id (n >= 1) hashes `id:n`.
#[derive(Debug, Default)]
pub(crate) struct StepIds {
    seen: HashMap<String, u32>,
}

impl StepIds {
    /// The hash of the next occurrence of `id`.
    pub(crate) fn next(&mut self, id: &str) -> String {
        let count = self.seen.entry(id.to_owned()).or_insert(0);
        let hash = if *count == 0 { hash_step_id(id) } else { hash_step_id(&format!("{id}:{count}")) };
        *count += 1;
        hash
    }
}

/// The memoized results of a run's finished steps, by hash.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    memos: HashMap<String, Memo>,
}

impl Journal {
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (String, Memo)>) -> Self {
        Journal { memos: entries.into_iter().collect() }
    }

    pub(crate) fn get(&self, hash: &str) -> Option<&Memo> {
        self.memos.get(hash)
    }

    pub(crate) fn insert(&mut self, hash: String, memo: Memo) {
        self.memos.entry(hash).or_insert(memo);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_inngest() {
        assert_eq!(hash_step_id("my-step-id"), "e7d8a2f140845095749d60246ff1110c9d01d76a");
        let mut ids = StepIds::default();
        assert_eq!(ids.next("welcome-email"), "693fe538bd0ab4b66e5fc50f85011c3564f36a0d");
        assert_eq!(ids.next("welcome-email"), "24b7cb28da90a23373e5c5324da4f0ec13699ecb");
        assert_eq!(ids.next("welcome-email"), "0fea30fd7dadb1363b0f982ac65cbbdc10b52584");
        assert_eq!(hash_step_id("complete"), "0737c22d3bfae812339732d14d8c7dbd6dc4e09c");
    }
}
