//! Discord's HTTP API v10: routing, validation, access checks and the
//! mapping from storage rows to wire JSON.

pub mod avatars;
mod credentials;
mod edge;
mod extract;
mod files;
pub mod limits;
mod openapi;
pub mod ops;
mod proxy;
mod relay;
mod routes;
mod strict;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use domain::Domain;

/// Every failed request answers with Discord's error, which the domain's
/// operations return.
pub use domain::{Error as ApiError, FormErrors, Limited};
pub use edge::{layers as edge_layers, HttpConfig};
pub type ApiResult<T> = domain::Result<T>;
pub use domain::SessionStartLimit;
pub use limits::Limits;

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// The gateway's URL as clients should dial it (`ws://host:port`);
    /// `None` derives it from the request's `Host` header.
    pub gateway_url: Option<String>,
    /// Guilds with more members than this arrive without their member list.
    pub large_threshold: u64,
    /// A request's whole body must arrive within this long.
    pub body_read_timeout: std::time::Duration,
    /// Whether `GET /metrics` answers (404 when off).
    pub metrics_enabled: bool,
    /// Failed logins (wrong passwords or second factors) an account may
    /// have in `login_window` before logins to it are refused for the rest
    /// of the window.
    pub login_max_failures: u32,
    pub login_window: std::time::Duration,
    /// Largest avatar accepted, in decoded bytes.
    pub avatar_max_bytes: usize,
    /// The gateway's session start limits, reported by `GET /gateway/bot`.
    pub session_start: SessionStartLimit,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            gateway_url: None,
            large_threshold: 250,
            body_read_timeout: std::time::Duration::from_secs(30),
            metrics_enabled: true,
            login_max_failures: 5,
            login_window: std::time::Duration::from_secs(15 * 60),
            avatar_max_bytes: 8 * 1024 * 1024,
            session_start: SessionStartLimit::default(),
        }
    }
}

/// What every handler can reach: the domain (store, bus, AutoMod, …) and
/// what only HTTP needs. Cloned several times per request (by the router,
/// each middleware and the `State` extractors), so it is one shared
/// pointer: a clone is one counter, not one per part.
#[derive(Clone)]
pub struct ApiState(Arc<ApiParts>);

impl ApiState {
    pub fn new(parts: ApiParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiParts;

    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

/// The parts of [`ApiState`].
pub struct ApiParts {
    pub domain: Domain,
    pub passwords: Arc<auth::PasswordHasherConfig>,
    pub config: Arc<ApiConfig>,
    /// Rate limits and the counters behind them.
    pub limits: Arc<Limits>,
    /// The media proxy (resized and converted images) and its cache.
    pub proxy: Arc<imaging::Proxy>,
}

/// Handlers reach the domain's parts and operations through the state
/// (`state.store`, `state.message_created(…)`, `access::channel(&state, …)`).
impl std::ops::Deref for ApiParts {
    type Target = Domain;

    fn deref(&self) -> &Domain {
        &self.domain
    }
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`), for
/// a node that serves no REST API (a gateway node); anything else is
/// Discord's 404.
pub fn ops_router(state: ApiState) -> Router {
    ops::router(state.config.metrics_enabled)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}

/// The whole HTTP API, mounted under `/api/v10` (and `/api`, which
/// discord.js and older clients use for the default version), with its
/// OpenAPI document and Swagger UI (`openapi::router`) and the operations
/// endpoints `/healthz`, `/readyz` and `/metrics` beside it.
pub fn router(state: ApiState) -> Router {
    // A route layer, so the limiter sees which route matched.
    let api = routes::router(&state.config)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), limits::limit))
        // In a cluster: an interaction held by another node is answered there.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), relay::to_holder));
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(openapi::router())
        .nest("/api/v10", api.clone())
        .nest("/api", api)
        .merge(ops::router(state.config.metrics_enabled))
        .merge(avatars::router())
        .merge(files::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error").into_response()
        }))
        .with_state(state)
}
