//! Where the gateway is: `GET /gateway` and `GET /gateway/bot`.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde_json::{json, Value};

use crate::extract::Authed;
use crate::ApiResult;
use crate::ApiState;

/// The configured URL, or `ws://` plus the host the client used to reach
/// us, so it works whatever address and port the server listens on.
fn url(state: &ApiState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.gateway_url {
        return url.clone();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| valid_host(h)).unwrap_or("127.0.0.1");
    format!("ws://{host}")
}

/// A host header is echoed into a URL: only `name[:port]` characters.
fn valid_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

#[utoipa::path(
    get, path = "/gateway",
    operation_id = "get_gateway", tag = "Gateway", security(()),
    summary = "Get the gateway URL",
    responses((status = 200, body = crate::openapi::Gateway)),
)]
pub async fn gateway(State(state): State<ApiState>, headers: HeaderMap) -> Json<Value> {
    Json(json!({ "url": url(&state, &headers) }))
}

#[utoipa::path(
    get, path = "/gateway/bot",
    operation_id = "get_bot_gateway", tag = "Gateway",
    summary = "Get the gateway URL, shard count and session start limit",
    responses((status = 200, body = crate::openapi::GatewayBot)),
)]
pub async fn gateway_bot(
    State(state): State<ApiState>,
    Authed(user): Authed,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    // The gateway's own counters, so `remaining` is what IDENTIFY will find.
    let limit = state.config.session_start.report(state.limits.limiter.as_ref(), user.id).await;
    Ok(Json(json!({
        "url": url(&state, &headers),
        "shards": 1,
        "session_start_limit": limit,
    })))
}
