//! Discord Gateway v10 over WebSocket, on the server's own port.
//!
//! A connection says HELLO, then the client IDENTIFYs (a new session) or
//! RESUMEs (an old one). Sessions live in the [`Hub`], which takes every
//! event from the bus and hands its bytes to the sessions that should see
//! it; each connection writes its session's queue to the socket,
//! compressing as the client asked.

mod compress;
mod conn;
pub mod etf;
mod hub;
pub mod journal;
mod protocol;
mod replay;
mod session;
#[cfg(test)]
mod test_events;
mod visibility;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Extension, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

pub use compress::Transport;
pub use hub::{Admission, Hub, Refusal};
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
    /// Worker threads of the runtime that runs the gateway's connections
    /// and dispatcher, apart from the one answering HTTP requests; 0: one
    /// per core.
    pub worker_threads: usize,
    /// Dispatches a connection may fall behind by before it is cut loose as
    /// too slow (at most `resume_buffer`: what it has yet to write is kept
    /// there).
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
    /// A connection that has not sent IDENTIFY or RESUME this long after
    /// HELLO is closed with 4003 (heartbeats do not keep it).
    pub identify_timeout_ms: u64,
    /// Gateway sockets open at once, in all; more are refused with 503.
    pub max_connections: usize,
    /// Gateway sockets open at once from one client address (an IPv6
    /// /64; behind `http.trusted_proxies`, the forwarded address); more are
    /// refused with 429.
    pub max_connections_per_address: usize,
    /// IDENTIFYs an account may make per `session_start_window_ms`
    /// (Discord's `session_start_limit.total`); past it, IDENTIFY closes
    /// with 4004 until the window ends. RESUMEs do not count.
    pub session_start_total: u32,
    pub session_start_window_ms: u64,
    /// Bots' IDENTIFYs allowed per `identify_interval_ms` (Discord: 5 s)
    /// per rate-limit key (`shard_id % max_concurrency`), Discord's
    /// `max_concurrency`; more get op 9.
    pub max_concurrency: u32,
    pub identify_interval_ms: u64,
    /// Sessions (connected or resumable) one account may hold; an IDENTIFY
    /// beyond it drops the account's longest-detached session, or, if all
    /// are connected, is closed with 4008.
    pub max_sessions_per_user: usize,
    /// Bytes the resume buffers of all detached sessions may hold together
    /// (each payload counted in full); past it, the longest-detached
    /// sessions are dropped first.
    pub resume_budget_bytes: usize,
}

impl GatewayConfig {
    /// The session start limits, as `GET /gateway/bot` reports them.
    pub fn session_start_limit(&self) -> domain::SessionStartLimit {
        domain::SessionStartLimit {
            total: self.session_start_total,
            window_ms: self.session_start_window_ms,
            max_concurrency: self.max_concurrency.max(1),
            concurrency_window_ms: self.identify_interval_ms,
        }
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 41_250,
            resume_window_ms: 120_000,
            resume_buffer: 4096,
            max_queue: 2048,
            worker_threads: 0,
            send_timeout_ms: 10_000,
            large_threshold: 250,
            public_url: None,
            shutdown_grace_ms: 3_000,
            identify_timeout_ms: 20_000,
            max_connections: 10_000,
            max_connections_per_address: 100,
            session_start_total: 1000,
            session_start_window_ms: 24 * 60 * 60 * 1000,
            max_concurrency: 1,
            identify_interval_ms: 5_000,
            max_sessions_per_user: 64,
            resume_budget_bytes: 64 * 1024 * 1024,
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

/// Largest WebSocket message read (a larger one drops the connection).
const MAX_MESSAGE: usize = 16 * 1024;

/// The WebSocket read buffer a connection starts with (see `upgrade`).
const READ_BUFFER: usize = 512;

/// What the accept loop (`server::serve`) hands every request of a
/// connection: its place under `http.max_connections`. An upgraded socket
/// keeps it, so WebSockets count against that cap for as long as they live.
pub type HttpSlot = Arc<tokio::sync::OwnedSemaphorePermit>;

async fn upgrade(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<ConnectQuery>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    http_slot: Option<Extension<HttpSlot>>,
    mut req: Request,
) -> Response {
    // A plain GET of `/` is not a gateway connection.
    let Some((accept, on_upgrade)) = websocket_handshake(&mut req) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"404: Not Found","code":0}"#,
        )
            .into_response();
    };
    let address = peer.map(|Extension(ConnectInfo(peer))| {
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        ratelimit::address_key(ratelimit::client_ip(peer, forwarded, &hub.trusted_proxies))
    });
    // Counted before the upgrade, so a refused socket costs no more than
    // an HTTP answer.
    let admission = match hub.admit(address) {
        Ok(a) => a,
        Err(refusal) => return refuse(refusal),
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
        encoding: match q.encoding.as_deref() {
            None | Some("json") => Some(conn::Encoding::Json),
            Some("etf") => Some(conn::Encoding::Etf),
            Some(_) => None,
        },
    };
    // Room above the 4096-byte limit, so an oversized payload is read and
    // answered with 4002 rather than failing at the protocol layer; little
    // room, since a partial message is buffered before it is judged (an
    // unidentified socket trickling one costs at most this much).
    // A small read buffer: tungstenite zero-fills the whole buffer (128 KiB by
    // default) before every read attempt, and the connection polls for a read
    // whenever its queue runs empty, so the default cost a 128 KiB memset per
    // dispatch and 128 KiB of touched memory per idle session
    // (docs/PERFORMANCE.md). Clients send at most 4096 bytes per payload,
    // and nearly all of them are heartbeats of a few dozen bytes: the buffer
    // starts at READ_BUFFER and grows for a frame whose header announces
    // more, so an idle session keeps 512 bytes, not 4 KiB.
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
        .read_buffer_size(READ_BUFFER);
    // The connection runs on the sessions' runtime, not the one answering
    // requests, in a task of its own once upgraded: an async block keeps
    // what it captured (the upgrade, the parameters, the config) in its
    // future for as long as it lives, so the task that awaits the upgrade
    // ends there rather than carrying them for the connection's life
    // (160 bytes, and the task one allocator size class smaller:
    // docs/PERFORMANCE.md).
    hub.runtime.clone().spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        // On this same runtime.
        tokio::spawn(conn::run(hub, ws, params, admission, http_slot));
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// The socket a connection reads and writes: the upgraded HTTP connection,
/// owned by the gateway (not behind axum's `WebSocket`), so that dispatches
/// are framed and written by `conn` itself.
pub(crate) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Checks an HTTP request is a WebSocket opening handshake (RFC 6455
/// §4.2.1): a GET asking to upgrade to `websocket`, version 13, with a key.
/// Answers the `Sec-WebSocket-Accept` for it and the upgrade to wait for.
fn websocket_handshake(req: &mut Request) -> Option<(HeaderValue, hyper::upgrade::OnUpgrade)> {
    let h = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let upgrade = req.method() == Method::GET
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
        && h.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let key = h.get(header::SEC_WEBSOCKET_KEY).filter(|k| !k.is_empty())?;
    if !upgrade {
        return None;
    }
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()?;
    let on_upgrade = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>()?;
    Some((accept, on_upgrade))
}

/// The runtime the gateway's connections and its dispatcher run on, apart
/// from the one that answers HTTP requests. A message to a guild wakes one
/// task per connection of its members; on a runtime of their own, those
/// thousands of wake-ups queue behind each other and not in front of the
/// requests (message creates among them) and of the store's writer, which
/// the operating system's scheduler then serves in turn with them.
pub struct SessionRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl SessionRuntime {
    /// A multi-threaded runtime of `threads` workers (0: one per core).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if threads > 0 {
            builder.worker_threads(threads);
        }
        let runtime = builder.thread_name("gateway").enable_all().build()?;
        Ok(Self { runtime: Some(runtime) })
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.as_ref().expect("until dropped").handle().clone()
    }
}

impl Drop for SessionRuntime {
    /// Without waiting for its tasks: dropping a runtime from async code
    /// must not block, and whatever still runs there is past its shutdown.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The answer to a socket over a cap, in Discord's error shape.
fn refuse(refusal: Refusal) -> Response {
    let (status, message) = match refusal {
        Refusal::Full => (StatusCode::SERVICE_UNAVAILABLE, "The gateway is at capacity; try again later."),
        Refusal::AddressFull => (StatusCode::TOO_MANY_REQUESTS, "Too many gateway connections from your address."),
    };
    let body = serde_json::json!({ "message": message, "code": 0, "retry_after": 5.0, "global": false });
    (status, [(header::CONTENT_TYPE, "application/json"), (header::RETRY_AFTER, "5")], body.to_string()).into_response()
}
