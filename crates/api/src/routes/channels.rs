//! Channels by id: read, edit, delete, typing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use model::channel::{Channel, ChannelType};
use model::permissions;
use store::{ChannelId, ChannelPatch, UserRow};

use serde_json::json;

use crate::access::ChannelAccess;
use crate::audit::{self, action, Reason};
use crate::error::{ApiError, ApiResult, FormErrors};
use crate::extract::{path_id, Authed, Body, Path};
use crate::routes::guilds::ChannelFields;
use crate::{access, render, ApiState};

pub async fn open(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<ChannelAccess> {
    let id: ChannelId = path_id("channel_id", raw)?;
    access::channel(state, user, id).await
}

/// A channel as its viewer sees it: a DM lists the other recipient.
pub async fn render_for(state: &ApiState, access: &ChannelAccess, viewer: &UserRow) -> ApiResult<Channel> {
    if access.channel.guild_id.is_some() {
        return Ok(render::channel(&access.channel, &access.overwrites, None));
    }
    let peer = access::dm_peer(state, access.channel.id, viewer.id).await?;
    let users = match peer {
        Some(peer) => state.store.users(&[peer]).await?,
        None => Vec::new(),
    };
    Ok(render::channel(&access.channel, &[], Some(users.iter().map(render::user).collect())))
}

pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Channel>> {
    let access = open(&state, &user, &raw).await?;
    Ok(Json(render_for(&state, &access, &user).await?))
}

pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ChannelFields>,
) -> ApiResult<Json<Channel>> {
    let access = open(&state, &user, &raw).await?;
    let Some(guild) = &access.guild else {
        return Err(ApiError::wrong_channel_type());
    };
    access.require(permissions::MANAGE_CHANNELS)?;
    let kind = ChannelType::from_code(access.channel.kind);
    let mut errors = FormErrors::default();
    if body.kind.is_some_and(|k| k != kind.code()) {
        errors.add("type", "CHANNEL_TYPE_CHANGE_UNSUPPORTED", "The type of a channel cannot be changed.");
    }
    let siblings = state.store.guild_channels(guild.guild.id).await?;
    body.check(&mut errors, kind, Some(access.channel.id), &siblings);
    errors.finish()?;
    let patch = ChannelPatch {
        name: body.name.map(|n| n.trim().to_owned()),
        position: body.position,
        parent_id: body.parent_id,
        topic: body.topic.filter(|_| kind == ChannelType::GuildText),
        nsfw: body.nsfw,
        rate_limit_per_user: body.rate_limit_per_user,
        bitrate: body.bitrate,
        user_limit: body.user_limit,
    };
    let before = render::channel(&access.channel, &access.overwrites, None);
    let mut after_row = access.channel.clone();
    patch.apply(&mut after_row);
    let after = render::channel(&after_row, &access.overwrites, None);
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::CHANNEL_UPDATE,
        Some(access.channel.id.get()),
        audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&after).unwrap_or_default(),
        ),
        None,
        &reason,
    );
    let updated = render::channel(
        &state.store.update_channel(access.channel.id, &patch, Some(&entry)).await?,
        &access.overwrites,
        None,
    );
    let viewers = access::viewers(&state, guild, &access.overwrites).await?;
    state.channel_event("CHANNEL_UPDATE", &updated, viewers);
    Ok(Json(updated))
}

/// Deletes a guild channel; for a DM, only closes it for the caller (the
/// history stays, as on Discord).
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
) -> ApiResult<Json<Channel>> {
    let access = open(&state, &user, &raw).await?;
    let rendered = render_for(&state, &access, &user).await?;
    if access.guild.is_some() {
        access.require(permissions::MANAGE_CHANNELS)?;
        let guild = access.guild.as_ref().expect("a guild channel");
        let entry = state.audit_entry(
            guild.guild.id,
            user.id,
            action::CHANNEL_DELETE,
            Some(access.channel.id.get()),
            audit::diff(&serde_json::to_value(&rendered).unwrap_or_default(), &json!({})),
            None,
            &reason,
        );
        let viewers = access::viewers(&state, guild, &access.overwrites).await?;
        if state.store.delete_channel(access.channel.id, Some(&entry)).await? {
            state.channel_event("CHANNEL_DELETE", &rendered, viewers);
        }
    }
    Ok(Json(rendered))
}

pub async fn typing(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let access = open(&state, &user, &raw).await?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(ApiError::non_text_channel());
    }
    access.require(permissions::SEND_MESSAGES)?;
    state.typing(&access.place(&state).await?, user.id, access.member());
    Ok(StatusCode::NO_CONTENT)
}
