//! A user's sessions (their tokens), as Discord lists and revokes them.
//! A session is named by `id_hash`, a hash of its stored token hash: it
//! is stable, and shows nothing that could authenticate.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use events::RevokedTokens;
use model::Timestamp;

use crate::extract::{Authed, Body};
use crate::ApiState;
use crate::{ApiError, ApiResult};

/// Most session ids one logout request may name.
const MAX_LOGOUT: usize = 100;

#[utoipa::path(
    get, path = "/auth/sessions",
    operation_id = "list_sessions", tag = "Auth",
    summary = "List the current user's sessions",
    responses((status = 200, body = crate::openapi::AuthSessions)),
)]
pub async fn list(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<Value>> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let sessions: Vec<Value> = state
        .store
        .sessions_of(user.id)
        .await?
        .iter()
        .map(|s| {
            json!({
                "id_hash": auth::session_id_hash(&s.token_hash),
                "approx_last_used_time": Timestamp::from_unix_ms(s.last_used_at),
                "client_info": client_info(s.user_agent.as_deref()),
            })
        })
        .collect();
    Ok(Json(json!({ "user_sessions": sessions })))
}

#[derive(Deserialize)]
pub struct Logout {
    session_id_hashes: Vec<String>,
}

/// Revokes the named sessions of the caller (the caller's own included, if
/// named). Names that match none of the caller's sessions are ignored.
#[utoipa::path(
    post, path = "/auth/sessions/logout",
    operation_id = "logout_sessions", tag = "Auth",
    summary = "Revoke some of the current user's sessions",
    request_body = crate::openapi::SessionsLogout,
    responses((status = 204)),
)]
pub async fn logout(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<Logout>,
) -> ApiResult<StatusCode> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    if body.session_id_hashes.len() > MAX_LOGOUT {
        return Err(ApiError::field(
            "session_id_hashes",
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_LOGOUT} or fewer in length."),
        ));
    }
    let wanted: HashSet<&str> = body.session_id_hashes.iter().map(String::as_str).collect();
    let doomed: Vec<String> = state
        .store
        .sessions_of(user.id)
        .await?
        .into_iter()
        .filter(|s| wanted.contains(auth::session_id_hash(&s.token_hash).as_str()))
        .map(|s| s.token_hash)
        .collect();
    if !doomed.is_empty() {
        state.store.delete_sessions(user.id, &doomed).await?;
        state.tokens_revoked(user.id, RevokedTokens::These(doomed));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a session list shows of a User-Agent. We do no IP geolocation, so
/// `location` is always `null`.
fn client_info(user_agent: Option<&str>) -> Value {
    let ua = user_agent.unwrap_or("");
    const SYSTEMS: [(&str, &str); 7] = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("Mac OS X", "Mac OS X"),
        ("CrOS", "Chrome OS"),
        ("Linux", "Linux"),
    ];
    const BROWSERS: [(&str, &str); 5] =
        [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")];
    let os = SYSTEMS.iter().find(|(needle, _)| ua.contains(needle)).map_or("Unknown", |(_, name)| name);
    let platform = match BROWSERS.iter().find(|(needle, _)| ua.contains(needle)) {
        Some((_, name)) => (*name).to_owned(),
        // Not a browser: the first product name (`curl/8.0` is "curl").
        None => ua.split(['/', ' ']).next().filter(|p| !p.is_empty()).unwrap_or("Unknown").chars().take(32).collect(),
    };
    json!({ "os": os, "platform": platform, "location": null })
}
