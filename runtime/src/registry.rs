//! The registry: every `#[inngest_fn]` in the binary, collected at link time through
//! `inventory`, plus functions registered explicitly (tests, embedding).

use std::collections::BTreeMap;

use crate::function::FunctionDef;

/// A link-time registration, submitted by `#[inngest_fn]` through `hookflow::__private`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration(pub &'static FunctionDef);

inventory::collect!(Registration);

/// Two functions with the same id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("duplicate function id `{id}`: defined by {first} and by {second}; give one of them another `id`")]
pub struct DuplicateFunction {
    /// The shared id.
    pub id: String,
    /// Where the first one is defined.
    pub first: crate::function::SourceLocation,
    /// Where the second one is defined.
    pub second: crate::function::SourceLocation,
}

/// A set of functions with unique ids.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    functions: BTreeMap<&'static str, &'static FunctionDef>,
}

impl Registry {
    /// An empty registry (for tests and embedding: add functions with [`Registry::add`]).
    pub fn empty() -> Self {
        Registry::default()
    }

    /// Every `#[inngest_fn]` linked into the binary.
    pub fn collect() -> Result<Self, DuplicateFunction> {
        let mut registry = Registry::empty();
        for Registration(def) in inventory::iter::<Registration> {
            registry.add(def)?;
        }
        Ok(registry)
    }

    /// Adds one function; refuses an id that is already taken by another definition.
    pub fn add(&mut self, def: &'static FunctionDef) -> Result<&mut Self, DuplicateFunction> {
        if let Some(existing) = self.functions.get(def.id) {
            if !std::ptr::eq(*existing, def) {
                return Err(DuplicateFunction {
                    id: def.id.to_owned(),
                    first: existing.location,
                    second: def.location,
                });
            }
        }
        self.functions.insert(def.id, def);
        Ok(self)
    }

    /// Looks a function up by id.
    pub fn get(&self, id: &str) -> Option<&'static FunctionDef> {
        self.functions.get(id).copied()
    }

    /// Every function, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &'static FunctionDef> + '_ {
        self.functions.values().copied()
    }

    /// How many functions there are.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}
