//! Discord's HTTP API v10: routing, validation, access checks and the
//! mapping from storage rows to wire JSON.

mod access;
pub mod audit;
mod credentials;
mod error;
mod extract;
mod publish;
pub mod render;
mod routes;
pub mod service;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use model::snowflake::SnowflakeGenerator;
use store::Store;

pub use error::{ApiError, ApiResult, FormErrors};

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
    /// Failed logins (wrong passwords or second factors) an account may
    /// have in `login_window` before logins to it are refused for the rest
    /// of the window.
    pub login_max_failures: u32,
    pub login_window: std::time::Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            gateway_url: None,
            large_threshold: 250,
            login_max_failures: 5,
            login_window: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// What every handler can reach. Cloned per request: everything is shared.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub ids: Arc<SnowflakeGenerator>,
    pub passwords: Arc<auth::PasswordHasherConfig>,
    pub config: Arc<ApiConfig>,
    /// Where every change is announced for the gateway.
    pub bus: Arc<dyn events::EventBus>,
}

/// The whole HTTP API, mounted under `/api/v10` (and `/api`, which
/// discord.js and older clients use for the default version).
pub fn router(state: ApiState) -> Router {
    let api = routes::router();
    let limit = state.config.max_body_bytes;
    Router::new()
        .nest("/api/v10", api.clone())
        .nest("/api", api)
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(limit))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error").into_response()
        }))
        .with_state(state)
}
