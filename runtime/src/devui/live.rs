//! `GET /api/v1/stream`: the engine's changes as server-sent events, so the UI never polls.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::Shared;
use crate::engine::Change;

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Feed {
    changes: tokio::sync::broadcast::Receiver<Change>,
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
    hello: Option<Event>,
}

pub(crate) async fn stream(State(ui): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the answer starts: a client that has the response headers sees every
    // change made after that.
    let feed = Feed {
        changes: ui.engine.subscribe(),
        shutdown: ui.config.shutdown.clone(),
        hello: Some(Event::default().event("hello").data(json!({ "now": ui.engine.clock().now_ms() }).to_string())),
    };
    let events = futures::stream::unfold(feed, |mut feed| async move {
        if let Some(hello) = feed.hello.take() {
            return Some((Ok(hello), feed));
        }
        let event = next(&mut feed).await?;
        Some((Ok(event), feed))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
}

/// The next event to send; `None` ends the stream.
async fn next(feed: &mut Feed) -> Option<Event> {
    let received = loop {
        let Some(shutdown) = feed.shutdown.as_mut() else { break feed.changes.recv().await };
        if *shutdown.borrow() {
            return None;
        }
        let stop = tokio::select! {
            received = feed.changes.recv() => break received,
            changed = shutdown.changed() => changed,
        };
        // A dropped sender means no shutdown will ever be signalled: keep going without it.
        if stop.is_err() {
            feed.shutdown = None;
        }
    };
    match received {
        Ok(change) => Some(to_event(&change)),
        // The client missed changes: it reloads what it shows.
        Err(RecvError::Lagged(missed)) => {
            Some(Event::default().event("resync").data(json!({ "missed": missed }).to_string()))
        }
        Err(RecvError::Closed) => None,
    }
}

fn to_event(change: &Change) -> Event {
    match change {
        Change::Event { id, name } => {
            Event::default().event("event").data(json!({ "id": id, "name": name }).to_string())
        }
        Change::Run { id, function_id, status } => Event::default()
            .event("run")
            .data(json!({ "id": id, "function_id": function_id, "status": status.as_str() }).to_string()),
    }
}
