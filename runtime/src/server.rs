//! The HTTP server an [`App`](crate::App) runs: hyper's HTTP/1.1 connections with the limits a
//! public port needs, which `axum::serve` has no settings for.
//!
//! - At most [`ServerLimits::max_connections`] connections are served at once; more wait in
//!   the kernel's accept queue until one closes.
//! - A client has [`ServerLimits::header_read_timeout`] to send a request's head, counted from
//!   when the server starts waiting for it: on a new connection, and on a kept-alive one after
//!   the previous answer, so the same timeout closes idle keep-alive connections (hyper runs
//!   one timer for both).
//! - It has [`ServerLimits::body_read_timeout`] to send the whole body, counted from when the
//!   head arrived. tower-http's body timeout restarts at every chunk, so a client sending a
//!   byte every few seconds would never meet it; this one is a deadline. A late body is
//!   answered with 408.
//! - On shutdown, idle connections close at once and busy ones after their answer, within a
//!   grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

/// Limits on the connections of the public port. The defaults suit a server on the internet;
/// tests set short ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once. Default 1,024.
    pub max_connections: usize,
    /// How long a client has to send a request's head (request line and headers), from when
    /// the server starts waiting for it; also how long an idle kept-alive connection stays
    /// open. Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's whole body, from when its head arrived.
    /// Default 30 s.
    pub body_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
        }
    }
}

/// The body of a request did not arrive within [`ServerLimits::body_read_timeout`].
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs_f64())]
pub struct BodyTimeout(pub Duration);

/// Serves `router` on `listener` with `limits` until `shutdown` resolves, then lets the open
/// connections finish, for at most `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let body_limit = limits.body_read_timeout;
    let service = TowerToHyperService::new(tower::service_fn(move |request: hyper::Request<Incoming>| {
        let deadline = Instant::now() + body_limit;
        let request = request.map(|body| Body::new(DeadlineBody { inner: body, deadline, timer: None, body_limit }));
        router.clone().oneshot(request)
    }));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    wait_after_accept_error(&error).await;
                    continue;
                }
            },
        };
        // Small answers go out at once rather than after Nagle's delay.
        let _ = stream.set_nodelay(true);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Timeouts and clients going away end here: nothing the server can act on.
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace_s = grace.as_secs_f64(), "connections still open after the grace period were dropped");
    }
}

/// A failed accept: a connection reset before it was accepted is nothing, but running out of
/// file descriptors would make the loop spin, so wait a little before accepting again.
async fn wait_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused)
    {
        return;
    }
    tracing::warn!(%error, "could not accept a connection; trying again in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A request body that fails with [`BodyTimeout`] once its deadline has passed.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Armed only when the body makes the reader wait: most bodies arrive with their head.
    timer: Option<Pin<Box<Sleep>>>,
    body_limit: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.body_limit))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
