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

    /// [`EventSink::accept`], answering also which functions skipped the events (rate limit,
    /// idempotency, singleton) and why. By default, none.
    fn accept_receipt(
        &self,
        events: Vec<crate::RawEvent>,
        source: EventSource,
    ) -> futures::future::BoxFuture<'_, Result<crate::model::SendReceipt, SinkError>> {
        Box::pin(async move {
            let ids = self.accept(events, source).await?;
            Ok(crate::model::SendReceipt { ids, ..Default::default() })
        })
    }
}

/// The sink did not accept the events.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The store could not commit: the client should retry (503).
    #[error("the event store could not commit the events: {0}")]
    Unavailable(String),
    /// An event is not acceptable as sent (400); sending it again cannot help.
    #[error("{0}")]
    Rejected(String),
}
