//! The memoized results of a run's finished steps, by hash: what replay answers a step with
//! instead of executing it again.

use std::collections::HashMap;

use crate::model::Memo;

/// Finished steps by hashed id.
#[derive(Debug, Default, Clone)]
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
}
