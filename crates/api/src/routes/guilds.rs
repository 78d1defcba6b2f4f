//! Guilds, their channels and members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use model::channel::Channel;
use model::guild::{Guild, Member};
use model::permissions;
use store::UserId;

use crate::extract::{path_id, Authed, Body, ListBody, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::audit::Reason;
use domain::channels::ChannelFields;
use domain::{access, render};

#[utoipa::path(
    post, path = "/guilds",
    operation_id = "create_guild", tag = "Guilds",
    summary = "Create a guild owned by the current user",
    request_body = crate::openapi::GuildCreate,
    responses((status = 201, body = crate::openapi::Guild)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<domain::guilds::CreateGuild>,
) -> ApiResult<(StatusCode, Json<Guild>)> {
    let guild = domain::guilds::create(&state, &user, body, state.config.large_threshold).await?;
    Ok((StatusCode::CREATED, Json(guild)))
}

#[derive(Deserialize)]
pub struct GetQuery {
    #[serde(default)]
    with_counts: bool,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}",
    operation_id = "get_guild", tag = "Guilds",
    summary = "Get a guild",
    params(crate::openapi::WithCounts),
    responses((status = 200, body = crate::openapi::Guild)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<GetQuery>,
) -> ApiResult<Json<Guild>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let roles = state.store.roles(access.guild.id).await?;
    let mut guild = render::guild(&access.guild, &roles);
    (guild.emojis, guild.stickers) = domain::expressions::guild_expressions(&state, access.guild.id).await?;
    if q.with_counts {
        guild.approximate_member_count = Some(state.store.member_count(access.guild.id).await?);
        guild.approximate_presence_count = Some(state.presences.online_count(access.guild.id));
    }
    Ok(Json(guild))
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}",
    operation_id = "update_guild", tag = "Guilds",
    summary = "Modify a guild",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::GuildUpdate,
    responses((status = 200, body = crate::openapi::Guild)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<domain::guilds::UpdateGuild>,
) -> ApiResult<Json<Guild>> {
    let guild = path_id("guild_id", &raw)?;
    Ok(Json(domain::guilds::update(&state, &user, guild, body, &reason).await?))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}",
    operation_id = "delete_guild", tag = "Guilds",
    summary = "Delete a guild (owner only)",
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    domain::guilds::delete(&state, &user, path_id("guild_id", &raw)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/channels",
    operation_id = "list_guild_channels", tag = "Guilds",
    summary = "List a guild's channels",
    responses((status = 200, body = Vec<crate::openapi::Channel>)),
)]
pub async fn channels(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Channel>>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let channels = state.store.guild_channels(access.guild.id).await?;
    let overwrites = state.store.guild_overwrites(access.guild.id).await?;
    // Only the channels the caller can see.
    let visible = channels
        .iter()
        .map(|c| (c, overwrites.iter().filter(|(id, _)| *id == c.id).map(|(_, o)| o.clone()).collect::<Vec<_>>()))
        .filter(|(_, own)| access.in_channel(own) & permissions::VIEW_CHANNEL != 0)
        .map(|(c, own)| render::channel(c, &own, None))
        .collect();
    Ok(Json(visible))
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/channels",
    operation_id = "create_guild_channel", tag = "Guilds",
    summary = "Create a channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::ChannelFields,
    responses((status = 201, body = crate::openapi::Channel)),
)]
pub async fn create_channel(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ChannelFields>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let guild = path_id("guild_id", &raw)?;
    let channel = domain::guilds::create_channel(&state, &user, guild, body, &reason).await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

#[derive(Deserialize)]
pub struct MembersQuery {
    limit: Option<u32>,
    after: Option<crate::extract::Cursor>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members",
    operation_id = "list_guild_members", tag = "Members",
    summary = "List members",
    params(crate::openapi::AfterLimit),
    responses((status = 200, body = Vec<crate::openapi::Member>)),
)]
pub async fn members(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<MembersQuery>,
) -> ApiResult<Json<Vec<Member>>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let limit = crate::extract::page_limit(q.limit, 1, 1000)?;
    let members = state.store.members(access.guild.id, q.after.and_then(crate::extract::Cursor::id), limit).await?;
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
    let users = state.store.users(&ids).await?;
    Ok(Json(
        members
            .iter()
            .filter_map(|m| users.iter().find(|u| u.id == m.user_id).map(|u| render::member(m, Some(u))))
            .collect(),
    ))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "get_guild_member", tag = "Members",
    summary = "Get a member",
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn member(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((guild, member)): Path<(String, String)>,
) -> ApiResult<Json<Member>> {
    let access = access::guild(&state, &user, path_id("guild_id", &guild)?).await?;
    let member_id: UserId = path_id("user_id", &member)?;
    let row = state.store.member(access.guild.id, member_id).await?.ok_or_else(ApiError::unknown_member)?;
    let u = state.store.user(member_id).await?.ok_or_else(ApiError::unknown_member)?;
    Ok(Json(render::member(&row, Some(&u))))
}

/// `PATCH /guilds/{id}/channels`: moves channels, all or none.
#[utoipa::path(
    patch, path = "/guilds/{guild_id}/channels",
    operation_id = "bulk_update_guild_channels", tag = "Guilds",
    summary = "Move channels, all or none",
    params(crate::openapi::AuditReason),
    request_body = Vec<crate::openapi::ChannelPosition>,
    responses((status = 204)),
)]
pub async fn reorder_channels(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    ListBody(body): ListBody<domain::guilds::ChannelPosition>,
) -> ApiResult<StatusCode> {
    domain::guilds::reorder_channels(&state, &user, path_id("guild_id", &raw)?, body, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
