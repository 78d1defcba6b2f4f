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
            async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
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
