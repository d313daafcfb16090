//! The memoized results of a run's finished steps, by hash: what replay answers a step with
//! instead of executing it again.

use std::collections::HashMap;

use crate::model::Memo;

/// Finished steps by hashed id, and the order they finished in (the protocol's `ctx.stack`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Journal {
    memos: HashMap<String, Memo>,
    order: Vec<String>,
}

impl Journal {
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (String, Memo)>) -> Self {
        let mut journal = Journal::default();
        for (hash, memo) in entries {
            journal.insert(hash, memo);
        }
        journal
    }

    /// Records a step's result (a later result for the same step replaces it in place).
    pub(crate) fn insert(&mut self, hash: String, memo: Memo) {
        if self.memos.insert(hash.clone(), memo).is_none() {
            self.order.push(hash);
        }
    }

    /// Every entry, in the order the steps finished.
    // The protocol's executor sends them as `ctx.stack`; the engine does not need the order.
    #[cfg_attr(not(feature = "protocol"), allow(dead_code))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Memo)> {
        self.order.iter().filter_map(|h| self.memos.get(h).map(|m| (h.as_str(), m)))
    }

    /// How many steps finished.
    #[cfg_attr(not(feature = "protocol"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn get(&self, hash: &str) -> Option<&Memo> {
        self.memos.get(hash)
    }
}
