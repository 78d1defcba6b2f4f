//! Invites: create, list, look up, join, revoke. The rules are
//! `domain::invites`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use model::invite::Invite;

use crate::extract::{path_id, Authed, Body, Path, Query};
use crate::ApiResult;
use crate::ApiState;
use domain::audit::Reason;
use domain::invites::{self, CreateInvite};

#[utoipa::path(
    post, path = "/channels/{channel_id}/invites",
    operation_id = "create_channel_invite", tag = "Invites",
    summary = "Create an invite to a channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::InviteCreate,
    responses((status = 200, body = crate::openapi::Invite)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<CreateInvite>,
) -> ApiResult<Json<Invite>> {
    let channel = path_id("channel_id", &raw)?;
    Ok(Json(invites::create(&state, &user, channel, body, &reason).await?))
}

#[utoipa::path(
    get, path = "/channels/{channel_id}/invites",
    operation_id = "list_channel_invites", tag = "Invites",
    summary = "List a channel's invites",
    responses((status = 200, body = Vec<crate::openapi::Invite>)),
)]
pub async fn channel_invites(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    let channel = path_id("channel_id", &raw)?;
    Ok(Json(invites::channel_invites(&state, &user, channel).await?))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/invites",
    operation_id = "list_guild_invites", tag = "Invites",
    summary = "List a guild's invites",
    responses((status = 200, body = Vec<crate::openapi::Invite>)),
)]
pub async fn guild_invites(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Invite>>> {
    let guild = path_id("guild_id", &raw)?;
    Ok(Json(invites::guild_invites(&state, &user, guild).await?))
}

#[derive(Deserialize)]
pub struct GetInvite {
    #[serde(default)]
    with_counts: bool,
}

/// Anyone may look an invite up (that is what it is for); no token needed.
#[utoipa::path(
    get, path = "/invites/{code}",
    operation_id = "invite_resolve", tag = "Invites", security(()),
    summary = "Look an invite up",
    params(crate::openapi::WithCounts),
    responses((status = 200, body = crate::openapi::Invite)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Path(code): Path<String>,
    Query(q): Query<GetInvite>,
) -> ApiResult<Json<Invite>> {
    Ok(Json(invites::get(&state, &code, q.with_counts).await?))
}

#[utoipa::path(
    post, path = "/invites/{code}",
    operation_id = "accept_invite", tag = "Invites",
    summary = "Join the invite's guild",
    responses((status = 200, body = crate::openapi::Invite)),
)]
pub async fn join(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(code): Path<String>,
) -> ApiResult<Json<Invite>> {
    Ok(Json(invites::join(&state, &user, &code, state.config.large_threshold).await?))
}

#[utoipa::path(
    delete, path = "/invites/{code}",
    operation_id = "invite_revoke", tag = "Invites",
    summary = "Delete an invite",
    params(crate::openapi::AuditReason),
    responses((status = 200, body = crate::openapi::Invite)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(code): Path<String>,
    reason: Reason,
) -> ApiResult<Json<Invite>> {
    Ok(Json(invites::delete(&state, &user, &code, &reason).await?))
}
