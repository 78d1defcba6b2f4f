//! Channels by id: read, edit, delete, typing, permission overwrites. The
//! rules are `domain::channels`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use model::channel::Channel;
use store::ChannelId;

use crate::extract::{path_id, Authed, Body, Path};
use crate::ApiResult;
use crate::ApiState;
use domain::audit::Reason;
use domain::channels::{self, ChannelFields, OverwriteBody};

#[utoipa::path(
    get, path = "/channels/{channel_id}",
    operation_id = "get_channel", tag = "Channels",
    summary = "Get a channel",
    responses((status = 200, body = crate::openapi::Channel)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Channel>> {
    let channel: ChannelId = path_id("channel_id", &raw)?;
    Ok(Json(channels::get(&state, &user, channel).await?))
}

#[utoipa::path(
    patch, path = "/channels/{channel_id}",
    operation_id = "update_channel", tag = "Channels",
    summary = "Modify a channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::ChannelFields,
    responses((status = 200, body = crate::openapi::Channel)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ChannelFields>,
) -> ApiResult<Json<Channel>> {
    let channel = path_id("channel_id", &raw)?;
    Ok(Json(channels::update(&state, &user, channel, body, &reason).await?))
}

/// Deletes a guild channel; for a DM, only closes it for the caller (the
/// history stays, as on Discord).
#[utoipa::path(
    delete, path = "/channels/{channel_id}",
    operation_id = "delete_channel", tag = "Channels",
    summary = "Delete a channel, or close a DM",
    params(crate::openapi::AuditReason),
    responses((status = 200, body = crate::openapi::Channel)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
) -> ApiResult<Json<Channel>> {
    let channel = path_id("channel_id", &raw)?;
    Ok(Json(channels::delete(&state, &user, channel, &reason).await?))
}

#[utoipa::path(
    post, path = "/channels/{channel_id}/typing",
    operation_id = "trigger_typing_indicator", tag = "Channels",
    summary = "Show that the current user is typing",
    responses((status = 204)),
)]
pub async fn typing(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let channel = path_id("channel_id", &raw)?;
    channels::typing(&state, &user, channel).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /channels/{id}/permissions/{overwrite_id}`.
#[utoipa::path(
    put, path = "/channels/{channel_id}/permissions/{overwrite_id}",
    operation_id = "set_channel_permission_overwrite", tag = "Channels",
    summary = "Set a role's or member's permission overwrite",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::OverwriteSet,
    responses((status = 204)),
)]
pub async fn put_overwrite(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((c, o)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<OverwriteBody>,
) -> ApiResult<StatusCode> {
    let (channel, target) = (path_id("channel_id", &c)?, path_id("overwrite_id", &o)?);
    channels::put_overwrite(&state, &user, channel, target, body, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /channels/{id}/permissions/{overwrite_id}`.
#[utoipa::path(
    delete, path = "/channels/{channel_id}/permissions/{overwrite_id}",
    operation_id = "delete_channel_permission_overwrite", tag = "Channels",
    summary = "Remove a permission overwrite",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete_overwrite(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((c, o)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (channel, target) = (path_id("channel_id", &c)?, path_id("overwrite_id", &o)?);
    channels::delete_overwrite(&state, &user, channel, target, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
