//! Step logs: a `tracing` layer that captures what functions log inside a run and stores it
//! with the run, for the dev UI. Add it to your subscriber:
//!
//! ```ignore
//! use tracing_subscriber::prelude::*;
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(hookflow::logs::layer())
//!     .init();
//! ```
//!
//! Lines logged inside `step.run` are attributed to that step; lines logged elsewhere in the
//! function body to the run (with an empty step id). Capture is best effort: it never slows or
//! fails a step.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::clock::system_now_ms;
use crate::store::{LogLine, Store};

/// Where each engine in the process receives its runs' log lines.
fn sinks() -> &'static RwLock<HashMap<u64, mpsc::UnboundedSender<LogLine>>> {
    static SINKS: OnceLock<RwLock<HashMap<u64, mpsc::UnboundedSender<LogLine>>>> = OnceLock::new();
    SINKS.get_or_init(Default::default)
}

/// Gives an engine an instance number and starts the task that stores its log lines (it ends
/// after [`unregister`], once the lines sent before are written).
pub(crate) fn register(store: Arc<dyn Store>) -> (u64, tokio::task::JoinHandle<()>) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let instance = NEXT.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
    sinks().write().insert(instance, tx);
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
                if batch.len() >= 512 {
                    break;
                }
            }
            // Logs are best effort: a failed write must not disturb runs.
            if let Some(logs) = store.step_logs() {
                let _ = logs.append_logs(batch).await;
            }
        }
    });
    (instance, task)
}

/// Forgets an engine that stopped: its log task ends (and lets go of its store).
pub(crate) fn unregister(instance: u64) {
    sinks().write().remove(&instance);
}

/// The layer that captures step logs.
pub fn layer() -> StepLogLayer {
    StepLogLayer { _private: () }
}

/// Captures events logged inside hookflow's `run` and `step` spans. Made by [`layer`].
#[derive(Debug, Clone)]
pub struct StepLogLayer {
    _private: (),
}

/// What a `run` or `step` span says about where its events belong.
#[derive(Debug, Clone, Default)]
struct Origin {
    engine: Option<u64>,
    run_id: Option<String>,
    step: Option<String>,
    attempt: u32,
}

impl Visit for Origin {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "engine" => self.engine = Some(value),
            "attempt" => self.attempt = u32::try_from(value).unwrap_or(u32::MAX),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "run_id" => self.run_id = Some(value.to_owned()),
            "step_id" => self.step = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "run_id" => self.run_id = Some(format!("{value:?}").trim_matches('"').to_owned()),
            "step_id" => self.step = Some(format!("{value:?}").trim_matches('"').to_owned()),
            _ => {}
        }
    }
}

/// Formats an event as `message key=value ...`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StepLogLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if name != "run" && name != "step" {
            return;
        }
        let mut origin = Origin::default();
        attrs.record(&mut origin);
        if origin.engine.is_some() && origin.run_id.is_some() {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(origin);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // The engine's own lines are not the function's logs.
        if event.metadata().target().starts_with("hookflow") {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(origin) = scope.into_iter().find_map(|span| span.extensions().get::<Origin>().cloned()) else {
            return;
        };
        let (Some(engine), Some(run_id)) = (origin.engine, origin.run_id) else { return };
        let Some(sink) = sinks().read().get(&engine).cloned() else { return };
        let mut message = Message::default();
        event.record(&mut message);
        let text = format!("{}{}", message.text, message.fields);
        let line = LogLine {
            run_id,
            step: origin.step.unwrap_or_default(),
            attempt: origin.attempt,
            ts: system_now_ms(),
            level: event.metadata().level().to_string(),
            message: text,
        };
        let _ = sink.send(line);
    }
}
