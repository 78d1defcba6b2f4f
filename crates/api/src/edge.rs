//! What every HTTP answer passes through on its way out, whatever served
//! it: CORS for the web client's origin, security headers, and a deadline
//! for request bodies that trickle in.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The `[http]` section of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Open connections at most, gateway WebSockets included for as long
    /// as they are open; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// A client must send a request's headers within this long.
    pub header_read_timeout_ms: u64,
    /// ...and its whole body within this long (and no pause in it may be
    /// longer either).
    pub body_read_timeout_ms: u64,
    /// Size of a request's headers at most (hyper's floor is 8 KiB).
    pub max_header_bytes: usize,
    /// Number of headers at most.
    pub max_headers: usize,
    /// Origins allowed to call the API from a browser, e.g.
    /// `["https://chat.example.org"]`; `["*"]` allows any. Empty: same
    /// origin only.
    pub cors_origins: Vec<String>,
    /// Addresses of reverse proxies in front of the server: for requests
    /// from them, the client is the one `X-Forwarded-For` names (for
    /// per-address rate limits).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_connections: 10_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_header_bytes: 32 * 1024,
            max_headers: 64,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Wraps the whole application (API, gateway and anything else served).
pub fn layers(app: Router, config: &HttpConfig) -> Router {
    let app = app
        .layer(axum::middleware::from_fn(security_headers))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_millis(config.body_read_timeout_ms)));
    match cors(&config.cors_origins) {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()))
    };
    let header = HeaderName::from_static;
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header("x-audit-log-reason"),
                header("x-request-id"),
            ])
            // A browser client must see the limits to respect them.
            .expose_headers([
                header("x-ratelimit-limit"),
                header("x-ratelimit-remaining"),
                header("x-ratelimit-reset"),
                header("x-ratelimit-reset-after"),
                header("x-ratelimit-bucket"),
                header("x-ratelimit-global"),
                header("x-ratelimit-scope"),
                header::RETRY_AFTER,
                header("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// `nosniff` on everything; pages (HTML) also may not be framed, leak
/// their address, or load scripts from elsewhere.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // A page that brings its own (stricter) policy keeps it: the web client does.
    if html && !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                 connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
            ),
        );
    }
    if html {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}
