//! Step identity: Inngest's step hash, and the repeat rule that gives the n-th use of an id its
//! own hash.

use std::collections::HashMap;

use sha1::{Digest, Sha1};

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
