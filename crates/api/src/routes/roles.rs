//! Roles: list, create, edit, reorder, delete, give and take.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use model::guild::Role;

use crate::extract::{path_id, Authed, Body, ListBody, Path};
use crate::ApiResult;
use crate::ApiState;
use domain::audit::Reason;
use domain::roles::{self, Fields, Position};
use domain::{access, render};

#[utoipa::path(
    get, path = "/guilds/{guild_id}/roles",
    operation_id = "list_guild_roles", tag = "Roles",
    summary = "List a guild's roles",
    responses((status = 200, body = Vec<crate::openapi::Role>)),
)]
pub async fn list(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Role>>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    Ok(Json(guild.roles.iter().map(render::role).collect()))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/roles/{role_id}",
    operation_id = "get_guild_role", tag = "Roles",
    summary = "Get a role",
    responses((status = 200, body = crate::openapi::Role)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
) -> ApiResult<Json<Role>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    Ok(Json(render::role(roles::find(&guild, path_id("role_id", &r)?)?)))
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/roles",
    operation_id = "create_guild_role", tag = "Roles",
    summary = "Create a role",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::RoleFields,
    responses((status = 200, body = crate::openapi::Role)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<Fields>,
) -> ApiResult<Json<Role>> {
    let guild = path_id("guild_id", &raw)?;
    Ok(Json(roles::create(&state, &user, guild, body, &reason).await?))
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/roles/{role_id}",
    operation_id = "update_guild_role", tag = "Roles",
    summary = "Modify a role",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::RoleFields,
    responses((status = 200, body = crate::openapi::Role)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<Fields>,
) -> ApiResult<Json<Role>> {
    let (guild, role) = (path_id("guild_id", &g)?, path_id("role_id", &r)?);
    Ok(Json(roles::update(&state, &user, guild, role, body, &reason).await?))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/roles/{role_id}",
    operation_id = "delete_guild_role", tag = "Roles",
    summary = "Delete a role",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, role) = (path_id("guild_id", &g)?, path_id("role_id", &r)?);
    roles::delete(&state, &user, guild, role, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /guilds/{id}/roles`: reorders roles, all or none.
#[utoipa::path(
    patch, path = "/guilds/{guild_id}/roles",
    operation_id = "bulk_update_guild_roles", tag = "Roles",
    summary = "Reorder roles, all or none",
    params(crate::openapi::AuditReason),
    request_body = Vec<crate::openapi::RolePosition>,
    responses((status = 200, body = Vec<crate::openapi::Role>)),
)]
pub async fn reorder(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    ListBody(body): ListBody<Position>,
) -> ApiResult<Json<Vec<Role>>> {
    let guild = path_id("guild_id", &raw)?;
    Ok(Json(roles::reorder(&state, &user, guild, &body, &reason).await?))
}

/// `PUT`/`DELETE /guilds/{id}/members/{user_id}/roles/{role_id}`.
#[utoipa::path(
    put, path = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    operation_id = "add_guild_member_role", tag = "Roles",
    summary = "Give a member a role",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn give(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u, r)): Path<(String, String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, target, role) = (path_id("guild_id", &g)?, path_id("user_id", &u)?, path_id("role_id", &r)?);
    roles::set_member_role(&state, &user, guild, target, role, true, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    operation_id = "delete_guild_member_role", tag = "Roles",
    summary = "Take a role from a member",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn take(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u, r)): Path<(String, String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, target, role) = (path_id("guild_id", &g)?, path_id("user_id", &u)?, path_id("role_id", &r)?);
    roles::set_member_role(&state, &user, guild, target, role, false, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
