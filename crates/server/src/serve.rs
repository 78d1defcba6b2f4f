//! The HTTP/1.1 accept loop, with the limits a public server needs: a cap
//! on open connections, a deadline for a request's headers (slow clients),
//! and caps on header size and count. WebSocket upgrades pass through to
//! the gateway, keeping their place under the connection cap.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use api::HttpConfig;

use crate::linger::Lingering;

/// Closing sockets that read what their client still sends, at most.
const MAX_LINGERING: usize = 1024;

/// Serves `app` until `stop` completes, then lets every open connection
/// finish its request in flight (up to `drain`) before returning.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    http: &HttpConfig,
    stop: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    let slots = http.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(slots));
    // Connections still serving HTTP (not upgraded): what shutdown drains.
    // Upgraded sockets keep their `permits` place but are the gateway's to
    // close (op 7), after this returns.
    let in_flight = Arc::new(Semaphore::new(slots));
    let (closing, closed) = watch::channel(false);
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    let max_header_bytes = http.max_header_bytes;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(http.header_read_timeout_ms))
        // hyper refuses anything below 8 KiB.
        .max_buf_size(http.max_header_bytes.max(8192))
        .max_headers(http.max_headers);
    tokio::pin!(stop);
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's
        // backlog until one closes.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, typically: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // Shared with every request, so a WebSocket upgrade (the gateway)
        // keeps the connection's place after hyper lets the connection go.
        let busy = in_flight.clone().try_acquire_owned().expect("never more connections than permits");
        let permit: gateway::HttpSlot = Arc::new(permit);
        let slot = permit.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(slot.clone());
            let app = app.clone();
            async move {
                if head_size(&req) > max_header_bytes {
                    return Ok(header_too_large());
                }
                Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {}))
            }
        });
        let stream = Lingering::new(stream, lingering.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = closed.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
            drop(busy);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection serving HTTP holds a permit until it is done.
    let all = u32::try_from(slots).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain, in_flight.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open after {drain:?}; closing anyway");
    }
}

/// The size of a request's head as the client sent it (request line and
/// header lines). hyper's `max_buf_size` bounds only a head that has not
/// arrived whole yet, and its buffer grows in steps, so a head up to about
/// twice the setting got through; this is the exact check.
fn head_size<B>(req: &hyper::Request<B>) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + " HTTP/1.1\r\n".len() + 1;
    let headers: usize = req.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    line + headers + 2
}

/// 431 for a head over the limit, as hyper answers one it cannot buffer.
fn header_too_large() -> axum::response::Response {
    axum::response::Response::builder()
        .status(hyper::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        .header(hyper::header::CONNECTION, "close")
        .body(axum::body::Body::empty())
        .expect("a static response")
}
