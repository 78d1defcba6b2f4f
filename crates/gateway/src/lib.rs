//! Discord Gateway v10 over WebSocket, on the server's own port.
//!
//! A connection says HELLO, then the client IDENTIFYs (a new session) or
//! RESUMEs (an old one). Sessions live in the [`Hub`], which takes every
//! event from the bus and hands its bytes to the sessions that should see
//! it; each connection writes its session's queue to the socket,
//! compressing as the client asked.

mod compress;
mod conn;
mod hub;
mod protocol;
mod session;

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub use compress::Transport;
pub use hub::Hub;
pub use protocol::close;

/// The `[gateway]` section of the server's configuration.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Milliseconds between heartbeats the client is asked for.
    pub heartbeat_interval_ms: u64,
    /// How long a disconnected session stays resumable.
    pub resume_window_ms: u64,
    /// Dispatches kept per session for resuming.
    pub resume_buffer: usize,
    /// Dispatches queued per connection before it is cut loose as too slow.
    pub max_queue: usize,
    /// How long a socket write may take before the peer is dropped.
    pub send_timeout_ms: u64,
    /// Default `large_threshold` (50–250).
    pub large_threshold: u64,
    /// The URL clients dial (READY's `resume_gateway_url`, and what
    /// `GET /gateway` answers), e.g. `wss://chat.example.org` behind a
    /// proxy; `None` uses `ws://` and the Host the client connected to.
    pub public_url: Option<String>,
    /// How long shutdown waits for clients to leave after op 7.
    pub shutdown_grace_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 41_250,
            resume_window_ms: 120_000,
            resume_buffer: 4096,
            max_queue: 2048,
            send_timeout_ms: 10_000,
            large_threshold: 250,
            public_url: None,
            shutdown_grace_ms: 3_000,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ConnectQuery {
    v: Option<String>,
    encoding: Option<String>,
    compress: Option<String>,
}

/// The WebSocket endpoint at `/` (with or without `?v=10&encoding=json`).
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new().route("/", get(upgrade)).with_state(hub)
}

async fn upgrade(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<ConnectQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // A plain GET of `/` is not a gateway connection.
    let Ok(ws) = ws else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"404: Not Found","code":0}"#,
        )
            .into_response();
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    let public_url = hub.config.public_url.clone().unwrap_or_else(|| format!("ws://{host}"));
    let transport = match q.compress.as_deref() {
        Some("zlib-stream") => Transport::ZlibStream,
        Some("zstd-stream") => Transport::ZstdStream,
        _ => Transport::Plain,
    };
    let params = conn::ConnParams {
        public_url,
        transport,
        version_ok: q.v.as_deref().is_none_or(|v| v == "10"),
        encoding_ok: q.encoding.as_deref().is_none_or(|e| e == "json"),
    };
    // Room above the 4096-byte limit, so an oversized payload is read and
    // answered with 4002 rather than failing at the protocol layer.
    // A small read buffer: tungstenite zero-fills the whole buffer (128 KiB by
    // default) before every read attempt, and the connection polls for a read
    // whenever its queue runs empty, so the default cost a 128 KiB memset per
    // dispatch and 128 KiB of touched memory per idle session
    // (docs/PERFORMANCE.md). Clients send at most 4096 bytes per payload.
    ws.max_message_size(64 * 1024)
        .max_frame_size(64 * 1024)
        .read_buffer_size(4096)
        .on_upgrade(move |socket| conn::run(hub, socket, params))
}
