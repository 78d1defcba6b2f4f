//! Application commands (`/applications/{id}/commands`, and the same under
//! `/guilds/{guild_id}`): each route parses its ids, calls
//! `domain::commands` and answers. Only the application's own bot may call
//! them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use model::command::{ApplicationCommand, GuildCommandPermissions};
use store::{CommandId, GuildId, UserId};

use crate::extract::{path_id, Authed, Body, ListBody, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::commands;

#[derive(Deserialize)]
pub struct ListQuery {
    with_localizations: Option<String>,
}

impl ListQuery {
    /// `true`/`false` as Discord documents it, and `1`/`0` as discord.py
    /// sends it.
    fn with_localizations(&self) -> ApiResult<bool> {
        match self.with_localizations.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(ApiError::field("with_localizations", "BASE_TYPE_BOOLEAN", "Must be either true or false.")),
        }
    }
}

fn app_id(raw: &str) -> ApiResult<UserId> {
    path_id("application_id", raw)
}

fn guild_id(raw: &str) -> ApiResult<GuildId> {
    path_id("guild_id", raw)
}

fn command_id(raw: &str) -> ApiResult<CommandId> {
    path_id("command_id", raw)
}

/// A create's answer: 201 for a new command, 200 for one it overwrote.
fn created((command, new): (ApplicationCommand, bool)) -> (StatusCode, Json<ApplicationCommand>) {
    (if new { StatusCode::CREATED } else { StatusCode::OK }, Json(command))
}

#[utoipa::path(
    get, path = "/applications/{application_id}/commands",
    operation_id = "list_application_commands", tag = "Commands",
    summary = "List the application's global commands",
    params(crate::openapi::WithLocalizations),
    responses((status = 200, body = Vec<crate::openapi::ApplicationCommand>)),
)]
pub async fn list(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(a): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ApplicationCommand>>> {
    Ok(Json(commands::list(&state, &user, app_id(&a)?, None, q.with_localizations()?).await?))
}

#[utoipa::path(
    post, path = "/applications/{application_id}/commands",
    operation_id = "create_application_command", tag = "Commands",
    summary = "Create a global command (one of the same type and name is overwritten)",
    request_body = crate::openapi::ApplicationCommandCreate,
    responses(
        (status = 201, body = crate::openapi::ApplicationCommand),
        (status = 200, body = crate::openapi::ApplicationCommand),
    ),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(a): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<ApplicationCommand>)> {
    Ok(created(commands::create(&state, &user, app_id(&a)?, None, &body).await?))
}

#[utoipa::path(
    put, path = "/applications/{application_id}/commands",
    operation_id = "bulk_set_application_commands", tag = "Commands",
    summary = "Replace every global command of the application",
    request_body = Vec<crate::openapi::ApplicationCommandCreate>,
    responses((status = 200, body = Vec<crate::openapi::ApplicationCommand>)),
)]
pub async fn overwrite(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(a): Path<String>,
    ListBody(items): ListBody<Value>,
) -> ApiResult<Json<Vec<ApplicationCommand>>> {
    Ok(Json(commands::overwrite(&state, &user, app_id(&a)?, None, &items).await?))
}

#[utoipa::path(
    get, path = "/applications/{application_id}/commands/{command_id}",
    operation_id = "get_application_command", tag = "Commands",
    summary = "Get a global command",
    responses((status = 200, body = crate::openapi::ApplicationCommand)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, c)): Path<(String, String)>,
) -> ApiResult<Json<ApplicationCommand>> {
    Ok(Json(commands::get(&state, &user, app_id(&a)?, None, command_id(&c)?).await?))
}

#[utoipa::path(
    patch, path = "/applications/{application_id}/commands/{command_id}",
    operation_id = "update_application_command", tag = "Commands",
    summary = "Modify a global command",
    request_body = crate::openapi::ApplicationCommandUpdate,
    responses((status = 200, body = crate::openapi::ApplicationCommand)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, c)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> ApiResult<Json<ApplicationCommand>> {
    Ok(Json(commands::update(&state, &user, app_id(&a)?, None, command_id(&c)?, &body).await?))
}

#[utoipa::path(
    delete, path = "/applications/{application_id}/commands/{command_id}",
    operation_id = "delete_application_command", tag = "Commands",
    summary = "Delete a global command",
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, c)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    commands::delete(&state, &user, app_id(&a)?, None, command_id(&c)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/applications/{application_id}/guilds/{guild_id}/commands",
    operation_id = "list_guild_application_commands", tag = "Commands",
    summary = "List the application's commands in a guild",
    params(crate::openapi::WithLocalizations),
    responses((status = 200, body = Vec<crate::openapi::ApplicationCommand>)),
)]
pub async fn list_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ApplicationCommand>>> {
    let (app, guild) = (app_id(&a)?, guild_id(&g)?);
    Ok(Json(commands::list(&state, &user, app, Some(guild), q.with_localizations()?).await?))
}

#[utoipa::path(
    post, path = "/applications/{application_id}/guilds/{guild_id}/commands",
    operation_id = "create_guild_application_command", tag = "Commands",
    summary = "Create a guild command (one of the same type and name is overwritten)",
    request_body = crate::openapi::ApplicationCommandCreate,
    responses(
        (status = 201, body = crate::openapi::ApplicationCommand),
        (status = 200, body = crate::openapi::ApplicationCommand),
    ),
)]
pub async fn create_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> ApiResult<(StatusCode, Json<ApplicationCommand>)> {
    let (app, guild) = (app_id(&a)?, guild_id(&g)?);
    Ok(created(commands::create(&state, &user, app, Some(guild), &body).await?))
}

#[utoipa::path(
    put, path = "/applications/{application_id}/guilds/{guild_id}/commands",
    operation_id = "bulk_set_guild_application_commands", tag = "Commands",
    summary = "Replace every command of the application in a guild",
    request_body = Vec<crate::openapi::ApplicationCommandCreate>,
    responses((status = 200, body = Vec<crate::openapi::ApplicationCommand>)),
)]
pub async fn overwrite_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g)): Path<(String, String)>,
    ListBody(items): ListBody<Value>,
) -> ApiResult<Json<Vec<ApplicationCommand>>> {
    let (app, guild) = (app_id(&a)?, guild_id(&g)?);
    Ok(Json(commands::overwrite(&state, &user, app, Some(guild), &items).await?))
}

#[utoipa::path(
    get, path = "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    operation_id = "get_guild_application_command", tag = "Commands",
    summary = "Get a guild command",
    responses((status = 200, body = crate::openapi::ApplicationCommand)),
)]
pub async fn get_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<Json<ApplicationCommand>> {
    let (app, guild, command) = (app_id(&a)?, guild_id(&g)?, command_id(&c)?);
    Ok(Json(commands::get(&state, &user, app, Some(guild), command).await?))
}

#[utoipa::path(
    patch, path = "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    operation_id = "update_guild_application_command", tag = "Commands",
    summary = "Modify a guild command",
    request_body = crate::openapi::ApplicationCommandUpdate,
    responses((status = 200, body = crate::openapi::ApplicationCommand)),
)]
pub async fn update_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g, c)): Path<(String, String, String)>,
    Body(body): Body<Value>,
) -> ApiResult<Json<ApplicationCommand>> {
    let (app, guild, command) = (app_id(&a)?, guild_id(&g)?, command_id(&c)?);
    Ok(Json(commands::update(&state, &user, app, Some(guild), command, &body).await?))
}

#[utoipa::path(
    delete, path = "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
    operation_id = "delete_guild_application_command", tag = "Commands",
    summary = "Delete a guild command",
    responses((status = 204)),
)]
pub async fn delete_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let (app, guild, command) = (app_id(&a)?, guild_id(&g)?, command_id(&c)?);
    commands::delete(&state, &user, app, Some(guild), command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
    operation_id = "list_guild_application_command_permissions", tag = "Commands",
    summary = "The permissions of the application's commands in a guild (none can be set here)",
    responses((status = 200, body = Vec<crate::openapi::CommandPermissions>)),
)]
pub async fn guild_permissions(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g)): Path<(String, String)>,
) -> ApiResult<Json<Vec<GuildCommandPermissions>>> {
    let (app, guild) = (app_id(&a)?, guild_id(&g)?);
    Ok(Json(commands::guild_permissions(&state, &user, app, guild).await?))
}

#[utoipa::path(
    get, path = "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions",
    operation_id = "get_guild_application_command_permissions", tag = "Commands",
    summary = "The permissions of one command in a guild (none can be set here)",
    responses((status = 200, body = crate::openapi::CommandPermissions)),
)]
pub async fn command_permissions(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((a, g, c)): Path<(String, String, String)>,
) -> ApiResult<Json<GuildCommandPermissions>> {
    let (app, guild, command) = (app_id(&a)?, guild_id(&g)?, command_id(&c)?);
    Ok(Json(commands::command_permissions(&state, &user, app, guild, command).await?))
}
