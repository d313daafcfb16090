//! Registries of functions.
//!
//! [`Registry`]: every `#[inngest_fn]` in the binary, collected at link time through
//! `inventory`, plus definitions added explicitly (tests, embedding). [`Functions`]: what an
//! engine runs, as owned specs by id: this binary's (and their `on_failure` handlers), and the
//! functions of apps synced at run time, which a re-sync replaces whole.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::function::{Executor, FunctionDef, FunctionSpec};

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

/// A function id is taken by another function.
#[derive(Debug, Clone, thiserror::Error)]
#[error("function id `{id}` is taken: {reason}")]
pub struct FunctionConflict {
    /// The id.
    pub id: String,
    /// Who holds it, and what to do.
    pub reason: String,
}

/// A function listening to an event name, with its trigger's condition.
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    pub(crate) spec: Arc<FunctionSpec>,
    pub(crate) expr: Option<String>,
}

/// The functions an engine runs, by id.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    by_id: BTreeMap<String, Arc<FunctionSpec>>,
    listeners: HashMap<String, Vec<Listener>>,
}

impl Functions {
    /// This binary's functions, with a synthetic `<id>-failure` function for each `on_failure`.
    pub fn from_registry(registry: &Registry) -> Result<Functions, FunctionConflict> {
        let mut specs: Vec<FunctionSpec> = registry.iter().map(FunctionSpec::from_def).collect();
        specs.extend(registry.iter().filter_map(FunctionSpec::failure_handler));
        let mut functions = Functions::default();
        for spec in specs {
            if let Some(existing) = functions.by_id.get(&spec.id) {
                let owner = existing.location.map_or_else(|| "another function".to_owned(), |l| l.to_string());
                return Err(FunctionConflict {
                    id: spec.id.clone(),
                    reason: format!(
                        "it is the id of {owner} and of the `on_failure` handler of `{}`; rename one of them",
                        spec.failure_handler_of.as_deref().unwrap_or("?")
                    ),
                });
            }
            functions.by_id.insert(spec.id.clone(), Arc::new(spec));
        }
        functions.index();
        Ok(functions)
    }

    /// A function by id.
    pub fn get(&self, id: &str) -> Option<&Arc<FunctionSpec>> {
        self.by_id.get(id)
    }

    /// Every function, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<FunctionSpec>> {
        self.by_id.values()
    }

    /// How many functions there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The functions an event with this name may trigger.
    pub(crate) fn listeners(&self, event: &str) -> &[Listener] {
        self.listeners.get(event).map_or(&[], Vec::as_slice)
    }

    /// Replaces every function of a synced app with `specs` (all remote, of that app): a
    /// re-sync adds, changes and removes functions at once. Refuses an id that a function of
    /// this binary or of another app holds, and then changes nothing.
    pub fn sync_app(&mut self, app_id: &str, specs: Vec<FunctionSpec>) -> Result<(), FunctionConflict> {
        for spec in &specs {
            let owned_by_app = |s: &FunctionSpec| matches!(&s.executor, Executor::Remote(r) if r.app_id == app_id);
            if !owned_by_app(spec) {
                return Err(FunctionConflict {
                    id: spec.id.clone(),
                    reason: format!("a sync of app `{app_id}` may only register functions served by that app"),
                });
            }
            if let Some(existing) = self.by_id.get(&spec.id).filter(|existing| !owned_by_app(existing)) {
                let holder = match &existing.executor {
                    Executor::Local(_) => "a function of this binary".to_owned(),
                    Executor::Remote(r) => format!("app `{}`", r.app_id),
                };
                return Err(FunctionConflict {
                    id: spec.id.clone(),
                    reason: format!("{holder} has it; give the function of app `{app_id}` another id"),
                });
            }
        }
        self.by_id.retain(|_, s| !matches!(&s.executor, Executor::Remote(r) if r.app_id == app_id));
        for spec in specs {
            self.by_id.insert(spec.id.clone(), Arc::new(spec));
        }
        self.index();
        Ok(())
    }

    fn index(&mut self) {
        self.listeners.clear();
        for spec in self.by_id.values() {
            for trigger in &spec.triggers {
                if let crate::function::Trigger::Event { name, expr } = trigger {
                    let listener = Listener { spec: spec.clone(), expr: expr.as_ref().map(|e| e.to_string()) };
                    self.listeners.entry(name.to_string()).or_default().push(listener);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::{Options, RemoteFunction, Trigger};

    fn remote(app: &str, id: &str, event: &str) -> FunctionSpec {
        FunctionSpec {
            id: id.to_owned(),
            name: None,
            triggers: vec![Trigger::event(event.to_owned())],
            options: Options::DEFAULT,
            executor: Executor::Remote(RemoteFunction {
                app_id: app.to_owned(),
                url: format!("http://{app}/api/inngest"),
            }),
            failure_handler_of: None,
            location: None,
        }
    }

    #[test]
    fn a_resync_replaces_an_app_s_functions_whole() {
        let mut functions = Functions::default();
        functions
            .sync_app("shop", vec![remote("shop", "shop-a", "x/one"), remote("shop", "shop-b", "x/two")])
            .expect("sync");
        functions.sync_app("mail", vec![remote("mail", "mail-a", "x/one")]).expect("sync");
        assert_eq!(functions.listeners("x/one").len(), 2);
        functions.sync_app("shop", vec![remote("shop", "shop-c", "x/three")]).expect("resync");
        let ids: Vec<&str> = functions.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["mail-a", "shop-c"], "removed functions are gone, the other app's stay");
        assert_eq!(functions.listeners("x/one").len(), 1, "and so are their triggers");
        assert!(functions.listeners("x/two").is_empty());
        // Syncing many times keeps nothing from earlier syncs.
        for _ in 0..100 {
            functions.sync_app("shop", vec![remote("shop", "shop-c", "x/three")]).expect("resync");
        }
        assert_eq!(functions.len(), 2);
        assert_eq!(functions.listeners("x/three").len(), 1);
    }

    #[test]
    fn a_sync_cannot_take_another_app_s_id() {
        let mut functions = Functions::default();
        functions.sync_app("mail", vec![remote("mail", "send", "x/one")]).expect("sync");
        let err = functions.sync_app("shop", vec![remote("shop", "send", "x/two")]).expect_err("taken");
        assert!(err.to_string().contains("app `mail` has it"), "{err}");
        let err = functions.sync_app("shop", vec![remote("mail", "other", "x/two")]).expect_err("not its own");
        assert!(err.to_string().contains("may only register functions served by that app"), "{err}");
        assert_eq!(functions.len(), 1, "a refused sync changes nothing");
    }
}
