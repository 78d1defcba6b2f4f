//! Channels by id: read, edit, delete, typing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use model::channel::{Channel, ChannelType};
use model::permissions;
use store::{ChannelId, ChannelPatch, UserRow};

use serde_json::json;

use crate::extract::{path_id, Authed, Body, Path};
use crate::routes::guilds::ChannelFields;
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access::ChannelAccess;
use domain::audit::{self, action, Reason};
use domain::{access, render};
use events::Dispatch;

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
    let access = open(&state, &user, &raw).await?;
    Ok(Json(render_for(&state, &access, &user).await?))
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
    let new_overwrites = body.overwrites(&mut errors, guild);
    errors.finish()?;
    if let Some(list) = &new_overwrites {
        access.require(permissions::MANAGE_ROLES)?;
        for o in list {
            guild.require_grantable(o.allow | o.deny)?;
        }
    }
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
    let row = state.store.update_channel(access.channel.id, &patch, Some(&entry)).await?;
    let updated = render::channel(&row, &access.overwrites, None);
    state.channel_event(Dispatch::ChannelUpdate, &updated);
    state.announce_audit(guild, &entry).await?;
    if let Some(list) = new_overwrites {
        let entries: Vec<_> = overwrite_changes(&access.overwrites, &list)
            .into_iter()
            .map(|(kind, changes, options)| {
                state.audit_entry(
                    guild.guild.id,
                    user.id,
                    kind,
                    Some(access.channel.id.get()),
                    changes,
                    Some(options),
                    &reason,
                )
            })
            .collect();
        state.store.replace_overwrites(access.channel.id, &list, &entries).await?;
        announce_overwrites(&state, &row, &list);
        for entry in &entries {
            state.announce_audit(guild, entry).await?;
        }
        let updated = render::channel(
            &state.store.channel(access.channel.id).await?.ok_or_else(ApiError::unknown_channel)?,
            &list,
            None,
        );
        return Ok(Json(updated));
    }
    Ok(Json(updated))
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
        if state.store.delete_channel(access.channel.id, Some(&entry)).await? {
            state.channel_event(Dispatch::ChannelDelete, &rendered);
            state.announce_audit(guild, &entry).await?;
        }
    }
    Ok(Json(rendered))
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
    let access = open(&state, &user, &raw).await?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(ApiError::non_text_channel());
    }
    access.require(permissions::SEND_MESSAGES)?;
    state.typing(&access.place(), user.id, access.member_with_user(&user));
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
pub struct OverwriteBody {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    allow: Option<serde_json::Value>,
    #[serde(default)]
    deny: Option<serde_json::Value>,
}

/// A channel's new overwrites, as CHANNEL_UPDATE: the gateway sends it to
/// those who still see the channel, CHANNEL_DELETE to those who lost sight
/// of it and CHANNEL_CREATE to those who gained it.
fn announce_overwrites(state: &ApiState, channel: &store::ChannelRow, after: &[store::OverwriteRow]) {
    state.channel_event(Dispatch::ChannelUpdate, &render::channel(channel, after, None));
}

/// The audit entries a new set of overwrites means: one per overwrite
/// created, changed or removed, as (action, changes, options); the
/// overwrite's id is in the options, the channel is the target.
fn overwrite_changes(
    before: &[store::OverwriteRow],
    after: &[store::OverwriteRow],
) -> Vec<(u16, Vec<serde_json::Value>, serde_json::Value)> {
    let shape = |o: &store::OverwriteRow| json!({"id": o.target_id.to_string(), "type": o.kind, "allow": o.allow.to_string(), "deny": o.deny.to_string()});
    let options = |o: &store::OverwriteRow| json!({"id": o.target_id.to_string(), "type": o.kind.to_string()});
    let mut out = Vec::new();
    for o in after {
        match before.iter().find(|b| b.target_id == o.target_id) {
            None => out.push((action::CHANNEL_OVERWRITE_CREATE, audit::diff(&json!({}), &shape(o)), options(o))),
            Some(b) if b != o => {
                out.push((action::CHANNEL_OVERWRITE_UPDATE, audit::diff(&shape(b), &shape(o)), options(o)))
            }
            Some(_) => {}
        }
    }
    for b in before.iter().filter(|b| !after.iter().any(|o| o.target_id == b.target_id)) {
        out.push((action::CHANNEL_OVERWRITE_DELETE, audit::diff(&shape(b), &json!({})), options(b)));
    }
    out
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
    let access = open(&state, &user, &c).await?;
    let target: model::Id<model::id::GenericMarker> = path_id("overwrite_id", &o)?;
    let Some(guild) = &access.guild else { return Err(ApiError::wrong_channel_type()) };
    access.require(permissions::MANAGE_ROLES)?;
    let mut errors = FormErrors::default();
    let (allow, deny) = (
        domain::permission_inputs::permission_bits(&body.allow),
        domain::permission_inputs::permission_bits(&body.deny),
    );
    if allow.is_none() {
        errors.add("allow", "NUMBER_TYPE_COERCE", "Not a valid permission set.");
    }
    if deny.is_none() {
        errors.add("deny", "NUMBER_TYPE_COERCE", "Not a valid permission set.");
    }
    match body.kind {
        0 if !guild.roles.iter().any(|r| r.id.get() == target.get()) => {
            errors.add("id", "UNKNOWN_ROLE", "Unknown role.");
        }
        0 | 1 => {}
        _ => errors.add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 1}."),
    }
    errors.finish()?;
    let row = store::OverwriteRow {
        target_id: target.get(),
        kind: body.kind,
        allow: allow.unwrap_or(0),
        deny: deny.unwrap_or(0),
    };
    guild.require_grantable(row.allow | row.deny)?;
    let existing = access.overwrites.iter().find(|x| x.target_id == row.target_id);
    let (kind, before_value) = match existing {
        Some(x) => {
            (action::CHANNEL_OVERWRITE_UPDATE, json!({"allow": x.allow.to_string(), "deny": x.deny.to_string()}))
        }
        None => (action::CHANNEL_OVERWRITE_CREATE, json!({})),
    };
    let after_value =
        json!({"id": target, "type": row.kind, "allow": row.allow.to_string(), "deny": row.deny.to_string()});
    let options = json!({"id": target, "type": row.kind.to_string()});
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        kind,
        Some(access.channel.id.get()),
        audit::diff(&before_value, &after_value),
        Some(options),
        &reason,
    );
    state.store.put_overwrite(access.channel.id, &row, Some(&entry)).await?;
    let mut after: Vec<_> = access.overwrites.iter().filter(|x| x.target_id != row.target_id).cloned().collect();
    after.push(row);
    announce_overwrites(&state, &access.channel, &after);
    state.announce_audit(guild, &entry).await?;
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
    let access = open(&state, &user, &c).await?;
    let target: model::Id<model::id::GenericMarker> = path_id("overwrite_id", &o)?;
    let Some(guild) = &access.guild else { return Err(ApiError::wrong_channel_type()) };
    access.require(permissions::MANAGE_ROLES)?;
    let Some(existing) = access.overwrites.iter().find(|x| x.target_id == target.get()) else {
        return Err(ApiError::unknown_overwrite());
    };
    let options = json!({"id": target, "type": existing.kind.to_string()});
    let before = json!({"id": target, "type": existing.kind, "allow": existing.allow.to_string(), "deny": existing.deny.to_string()});
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::CHANNEL_OVERWRITE_DELETE,
        Some(access.channel.id.get()),
        audit::diff(&before, &json!({})),
        Some(options),
        &reason,
    );
    if state.store.delete_overwrite(access.channel.id, target.get(), Some(&entry)).await? {
        let after: Vec<_> = access.overwrites.iter().filter(|x| x.target_id != target.get()).cloned().collect();
        announce_overwrites(&state, &access.channel, &after);
        state.announce_audit(guild, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
