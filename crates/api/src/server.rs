//! The connection loop: HTTP/1.1 on a bound listener, with a deadline on request headers, and
//! graceful shutdown.
//!
//! Under `axum::serve` a client that trickles its headers (or opens a connection and sends
//! nothing) holds it open for ever. Here every connection is watched by [`Deadlines`]; a
//! client that has not sent a whole request head within the deadline is disconnected. (The
//! body has its own deadline, applied where bodies are read: see `params::JsonBody`.)

use std::future::Future;
use std::io;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::{Bytes, HttpBody};
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::deadline::{Clocked, Deadlines};

/// Largest request head (request line and headers) read before answering 431; well above any
/// valid request (the longest query string accepted is 4 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish and closes idle connections.
pub(crate) async fn serve<S, B>(
    listener: TcpListener,
    app: S,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes, Error: Into<crate::BoxError>> + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(MAX_HEAD_BYTES);
    // Head and body in one buffer, written with one `write`: an answer is a few KiB, and
    // copying it costs less than the kernel's handling of a second piece of a `writev`
    // (2.5 % less server CPU per `/recommend` answer at 1,000,000 songs; docs/BENCHMARKS.md).
    // A larger body is buffered whole all the same, then written.
    http.writev(false);
    let graceful = GracefulShutdown::new();
    let deadlines = Deadlines::new(header_read_timeout);
    let sweeper = tokio::spawn(deadlines.clone().sweep());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: nothing gains from Nagle's delay.
        let _ = stream.set_nodelay(true);
        let clock = deadlines.clock();
        let service = TowerToHyperService::new(Clocked::new(app.clone(), clock.clone()));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        // The task must be watched before it can end, so it waits for its watch first.
        let (watched_tx, watched_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let _watched = watched_rx.await;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
        let _ = watched_tx.send(deadlines.watch(clock, task.abort_handle()));
    }
    drop(listener);
    graceful.shutdown().await;
    sweeper.abort();
    Ok(())
}

/// A failed accept: a connection the peer reset before it was accepted costs nothing; anything
/// else (out of file descriptors) is logged and waited out instead of spinning.
async fn pause_after_accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
