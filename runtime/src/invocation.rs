//! What a handler receives: the triggering events, the step tool and the application state.
//! The macro-generated entry point turns it into the user's parameters.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;
use crate::event::{Event, EventType, RawEvent};
use crate::step::Step;

/// Shared application state, looked up by type (`Dep<T>` parameters).
#[derive(Clone, Default)]
pub struct State {
    values: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("values", &self.values.len()).finish()
    }
}

impl State {
    /// Adds (or replaces) a value.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Looks a value up.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.values.get(&TypeId::of::<T>()).cloned().and_then(|v| v.downcast::<T>().ok())
    }
}

/// Application state registered at start-up with `App::state`, received as a parameter.
#[derive(Debug)]
pub struct Dep<T>(Arc<T>);

impl<T> Clone for Dep<T> {
    fn clone(&self) -> Self {
        Dep(self.0.clone())
    }
}

impl<T> Deref for Dep<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Dep<T> {
    /// The shared value.
    pub fn arc(&self) -> Arc<T> {
        self.0.clone()
    }
}

/// The input of one call of a function: built by the engine, consumed by the generated code.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub(crate) function_id: Arc<str>,
    pub(crate) run_id: String,
    pub(crate) events: Arc<[RawEvent]>,
    pub(crate) step: Step,
    pub(crate) state: Arc<State>,
}

impl Invocation {
    /// The run being executed.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The triggering event (the first of a batch), typed.
    pub fn event<E: EventType>(&self) -> Result<Event<E>, Error> {
        let raw = self.events.first().ok_or_else(|| Error::non_retriable("the run has no triggering event"))?;
        self.typed(raw)
    }

    /// Every event of a batch, typed.
    pub fn events<E: EventType>(&self) -> Result<Vec<Event<E>>, Error> {
        self.events.iter().map(|raw| self.typed(raw)).collect()
    }

    fn typed<E: EventType>(&self, raw: &RawEvent) -> Result<Event<E>, Error> {
        Event::try_from(raw).map_err(|e| {
            Error::non_retriable(format!(
                "event `{}` ({}) does not match the payload type `{}` of function `{}`: {e}",
                raw.name,
                raw.id,
                std::any::type_name::<E::Data>(),
                self.function_id
            ))
        })
    }

    /// The step tool.
    pub fn step(&self) -> Step {
        self.step.clone()
    }

    /// Shared state of type `T`.
    pub fn dep<T: Send + Sync + 'static>(&self) -> Result<Dep<T>, Error> {
        self.state.get::<T>().map(Dep).ok_or_else(|| {
            Error::non_retriable(format!(
                "function `{}` needs `Dep<{}>`, but no such state was registered: add it with `App::state(value)`",
                self.function_id,
                std::any::type_name::<T>()
            ))
        })
    }
}
