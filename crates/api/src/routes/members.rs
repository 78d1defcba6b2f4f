//! Moderating members: edits, nicknames, timeouts, kicks, bans, search.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::guild::Member;
use model::permissions;
use store::{BanRow, UserId};

use crate::extract::{path_id, Authed, Body, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::audit::Reason;
use domain::members::{self, BanBody, BulkBan, BulkBanned, Update, UpdateMe};
use domain::{access, render};

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "update_guild_member", tag = "Members",
    summary = "Modify a member: nickname, roles, mute, deafen, timeout",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::MemberUpdate,
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<Update>,
) -> ApiResult<Json<Member>> {
    let guild = path_id("guild_id", &g)?;
    let target: UserId = if u == "@me" { user.id } else { path_id("user_id", &u)? };
    Ok(Json(members::update(&state, &user, guild, target, body, &reason).await?))
}

/// `PATCH /guilds/{id}/members/@me`: one's own nickname.
#[utoipa::path(
    patch, path = "/guilds/{guild_id}/members/@me",
    operation_id = "update_my_guild_member", tag = "Members",
    summary = "Modify the current member",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::MyMemberUpdate,
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn update_me(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<UpdateMe>,
) -> ApiResult<Json<Member>> {
    let guild = path_id("guild_id", &g)?;
    Ok(Json(members::update(&state, &user, guild, user.id, body.into(), &reason).await?))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "delete_guild_member", tag = "Members",
    summary = "Kick a member",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn kick(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, target) = (path_id("guild_id", &g)?, path_id("user_id", &u)?);
    members::kick(&state, &user, guild, target, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn render_ban(ban: &BanRow, user: Option<&store::UserRow>) -> Value {
    json!({ "reason": ban.reason, "user": user.map(render::user) })
}

#[derive(Deserialize)]
pub struct BansQuery {
    before: Option<UserId>,
    after: Option<crate::extract::Cursor>,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/bans",
    operation_id = "list_guild_bans", tag = "Bans",
    summary = "List bans",
    params(crate::openapi::Page),
    responses((status = 200, body = Vec<crate::openapi::Ban>)),
)]
pub async fn bans(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    Query(q): Query<BansQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let limit = crate::extract::page_limit(q.limit, 1000, 1000)?;
    let bans = state.store.bans(guild.guild.id, q.before, q.after.and_then(crate::extract::Cursor::id), limit).await?;
    let users = state.store.users(&bans.iter().map(|b| b.user_id).collect::<Vec<_>>()).await?;
    Ok(Json(bans.iter().map(|b| render_ban(b, users.iter().find(|u| u.id == b.user_id))).collect()))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "get_guild_ban", tag = "Bans",
    summary = "Get a ban",
    responses((status = 200, body = crate::openapi::Ban)),
)]
pub async fn ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let target: UserId = path_id("user_id", &u)?;
    let ban = state.store.ban_of(guild.guild.id, target).await?.ok_or_else(ApiError::unknown_ban)?;
    let banned = state.store.user(target).await?;
    Ok(Json(render_ban(&ban, banned.as_ref())))
}

#[utoipa::path(
    put, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "ban_user_from_guild", tag = "Bans",
    summary = "Ban a user, optionally deleting their recent messages",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::BanCreate,
    responses((status = 204)),
)]
pub async fn put_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<BanBody>,
) -> ApiResult<StatusCode> {
    let (guild, target) = (path_id("guild_id", &g)?, path_id("user_id", &u)?);
    members::ban(&state, &user, guild, target, body, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "unban_user_from_guild", tag = "Bans",
    summary = "Lift a ban",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn remove_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, target) = (path_id("guild_id", &g)?, path_id("user_id", &u)?);
    members::unban(&state, &user, guild, target, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/bulk-ban",
    operation_id = "bulk_ban_users_from_guild", tag = "Bans",
    summary = "Ban up to 200 users at once",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::BulkBan,
    responses((status = 200, body = crate::openapi::BulkBanResult)),
)]
pub async fn bulk_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<BulkBan>,
) -> ApiResult<Json<BulkBanned>> {
    let guild = path_id("guild_id", &g)?;
    Ok(Json(members::bulk_ban(&state, &user, guild, body, &reason).await?))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    query: String,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members/search",
    operation_id = "search_guild_members", tag = "Members",
    summary = "Find members whose name starts with a query",
    params(crate::openapi::MemberSearchQuery),
    responses((status = 200, body = Vec<crate::openapi::Member>)),
)]
pub async fn search(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<Member>>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let limit = crate::extract::page_limit(q.limit, 1, 1000)?;
    if !(1..=100).contains(&q.query.chars().count()) {
        return Err(ApiError::field("query", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    let rows = state.store.search_members(guild.guild.id, &q.query, limit).await?;
    let users = state.store.users(&rows.iter().map(|m| m.user_id).collect::<Vec<_>>()).await?;
    Ok(Json(
        rows.iter()
            .filter_map(|m| users.iter().find(|u| u.id == m.user_id).map(|u| render::member(m, Some(u))))
            .collect(),
    ))
}
