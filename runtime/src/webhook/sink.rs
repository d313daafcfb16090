//! The seam between ingress and the engine: handlers hand verified events to an [`EventSink`]
//! and answer the client only once the sink has committed them.

pub use crate::model::EventSource;

/// Where accepted events go: the engine commits them durably before the future resolves.
pub trait EventSink: Send + Sync + 'static {
    /// Commits the events (all or none) and returns their ids, in order. Events whose id was
    /// already accepted are not an error: their ids are returned as well.
    fn accept(
        &self,
        events: Vec<crate::RawEvent>,
        source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<Vec<String>, SinkError>>;
}

/// The sink could not commit (a store failure): the client should retry.
#[derive(Debug, thiserror::Error)]
#[error("the event store could not commit the events: {0}")]
pub struct SinkError(pub String);
