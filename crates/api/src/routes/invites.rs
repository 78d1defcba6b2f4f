//! Invites: create, list, look up, join, revoke.

use axum::extract::State;
use axum::Json;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;

use model::channel::ChannelType;
use model::invite::Invite;
use model::{permissions, Timestamp};
use store::{InviteRow, JoinOutcome, StoreError};

use serde_json::json;

use crate::extract::{path_id, Authed, Body, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::audit::{self, action, Reason};
use domain::{access, render};

async fn render_invite(state: &ApiState, i: &InviteRow, metadata: bool, counts: bool) -> ApiResult<Invite> {
    let guild = state.store.guild(i.guild_id).await?.ok_or_else(ApiError::unknown_invite)?;
    let channel = state.store.channel(i.channel_id).await?.ok_or_else(ApiError::unknown_invite)?;
    let inviter = match i.inviter_id {
        Some(id) => state.store.user(id).await?,
        None => None,
    };
    let count = if counts {
        Some((state.store.member_count(guild.id).await?, state.presences.online_count(guild.id)))
    } else {
        None
    };
    Ok(render::invite(i, &guild, &channel, inviter.as_ref(), metadata, count))
}

#[derive(Deserialize)]
pub struct CreateInvite {
    max_age: Option<i64>,
    max_uses: Option<i64>,
    #[serde(default)]
    temporary: bool,
    #[serde(default)]
    unique: bool,
}

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
    let access = access::channel(&state, &user, path_id("channel_id", &raw)?).await?;
    let Some(guild) = access.guild_id() else {
        return Err(ApiError::wrong_channel_type());
    };
    if ChannelType::from_code(access.channel.kind) == ChannelType::GuildCategory {
        return Err(ApiError::wrong_channel_type());
    }
    access.require(permissions::CREATE_INSTANT_INVITE)?;
    let max_age = body.max_age.unwrap_or(86_400);
    let max_uses = body.max_uses.unwrap_or(0);
    let mut errors = FormErrors::default();
    if !(0..=604_800).contains(&max_age) {
        errors.add("max_age", "NUMBER_TYPE_MAX", "Must be between 0 and 604800.");
    }
    if !(0..=100).contains(&max_uses) {
        errors.add("max_uses", "NUMBER_TYPE_MAX", "Must be between 0 and 100.");
    }
    errors.finish()?;
    let now = Timestamp::now().unix_ms();
    if !body.unique {
        let similar = state.store.channel_invites(access.channel.id, now).await?.into_iter().find(|i| {
            i.inviter_id == Some(user.id)
                && i.max_age == max_age
                && i.max_uses == max_uses
                && i.temporary == body.temporary
        });
        if let Some(i) = similar {
            return Ok(Json(render_invite(&state, &i, true, false).await?));
        }
    }
    for _ in 0..5 {
        let code: String = rand::thread_rng().sample_iter(&Alphanumeric).take(8).map(char::from).collect();
        let row = InviteRow {
            code,
            guild_id: guild,
            channel_id: access.channel.id,
            inviter_id: Some(user.id),
            max_age,
            max_uses,
            uses: 0,
            temporary: body.temporary,
            created_at: now,
        };
        let entry = state.audit_entry(
            guild,
            user.id,
            action::INVITE_CREATE,
            None,
            audit::diff(&json!({}), &json!({"code": row.code, "channel_id": row.channel_id, "max_age": row.max_age, "max_uses": row.max_uses, "temporary": row.temporary})),
            None,
            &reason,
        );
        match state.store.create_invite(&row, Some(&entry)).await {
            Ok(()) => {
                let invite = render_invite(&state, &row, true, false).await?;
                if let Some(place) = access.invite_place() {
                    state.invite_created(&place, &invite);
                }
                if let Some(g) = &access.guild {
                    state.announce_audit(g, &entry).await?;
                }
                return Ok(Json(invite));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("could not find a free invite code"))
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
    let access = access::channel(&state, &user, path_id("channel_id", &raw)?).await?;
    if access.guild.is_none() {
        return Err(ApiError::wrong_channel_type());
    }
    access.require(permissions::MANAGE_CHANNELS)?;
    let mut out = Vec::new();
    for i in state.store.channel_invites(access.channel.id, Timestamp::now().unix_ms()).await? {
        out.push(render_invite(&state, &i, true, false).await?);
    }
    Ok(Json(out))
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
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    guild.require(permissions::MANAGE_GUILD)?;
    let mut out = Vec::new();
    for i in state.store.guild_invites(guild.guild.id, Timestamp::now().unix_ms()).await? {
        out.push(render_invite(&state, &i, true, false).await?);
    }
    Ok(Json(out))
}

/// A live invite by code; expired and used-up ones do not exist.
async fn live(state: &ApiState, code: &str) -> ApiResult<InviteRow> {
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ApiError::unknown_invite());
    }
    match state.store.invite(code).await? {
        Some(i) if i.is_live(Timestamp::now().unix_ms()) => Ok(i),
        _ => Err(ApiError::unknown_invite()),
    }
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
    let invite = live(&state, &code).await?;
    Ok(Json(render_invite(&state, &invite, false, q.with_counts).await?))
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
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    live(&state, &code).await?;
    match state.store.join_by_invite(&code, user.id, Timestamp::now().unix_ms()).await? {
        JoinOutcome::Joined(i) => {
            domain::members::announce_join(&state, i.guild_id, &user, state.config.large_threshold).await?;
            Ok(Json(render_invite(&state, &i, false, false).await?))
        }
        JoinOutcome::AlreadyMember(i) => Ok(Json(render_invite(&state, &i, false, false).await?)),
        JoinOutcome::Invalid => Err(ApiError::unknown_invite()),
        JoinOutcome::Banned => Err(ApiError::banned()),
    }
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
    let invite = live(&state, &code).await?;
    let channel = access::channel(&state, &user, invite.channel_id).await?;
    let guild = channel.guild.as_ref().ok_or_else(ApiError::unknown_invite)?;
    if !channel.has(permissions::MANAGE_CHANNELS) && guild.permissions & permissions::MANAGE_GUILD == 0 {
        return Err(ApiError::missing_permissions());
    }
    let rendered = render_invite(&state, &invite, true, false).await?;
    let entry = state.audit_entry(
        invite.guild_id,
        user.id,
        action::INVITE_DELETE,
        None,
        audit::diff(&json!({"code": invite.code, "channel_id": invite.channel_id, "max_age": invite.max_age, "max_uses": invite.max_uses}), &json!({})),
        None,
        &reason,
    );
    if state.store.delete_invite(&code, Some(&entry)).await? {
        if let Some(place) = channel.invite_place() {
            state.invite_deleted(&place, &code);
        }
        state.announce_audit(guild, &entry).await?;
    }
    Ok(Json(rendered))
}
