//! Applications, bot tokens, and adding bots to guilds.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::application::{Application, CreatedApplication};
use model::{permissions, Timestamp};
use store::{ApplicationRow, GuildId, UserId, UserRow};

use crate::extract::{path_id, Authed, Body, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::audit::Reason;
use domain::{access, render, service};
use events::Dispatch;

#[derive(Deserialize)]
pub struct Create {
    name: String,
    #[serde(default)]
    description: String,
}

async fn render_app(state: &ApiState, app: &ApplicationRow) -> ApiResult<Application> {
    let bot = state.store.user(app.id).await?.ok_or_else(ApiError::unknown_application)?;
    let owner = state.store.user(app.owner_id).await?.ok_or_else(ApiError::unknown_application)?;
    Ok(render::application(app, &bot, &owner))
}

#[utoipa::path(
    post, path = "/applications",
    operation_id = "create_application", tag = "Applications",
    summary = "Create an application with a bot user; answers the bot's token once",
    request_body = crate::openapi::ApplicationCreate,
    responses((status = 200, body = crate::openapi::CreatedApplication)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<Create>,
) -> ApiResult<Json<CreatedApplication>> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let mut errors = FormErrors::default();
    let name = body.name.trim();
    if !(2..=32).contains(&name.chars().count()) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.");
    }
    domain::names::check_visible(&mut errors, "name", name);
    if body.description.chars().count() > 400 {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 400 or fewer in length.");
    }
    errors.finish()?;
    let created =
        service::create_application(state.store.as_ref(), state.ids.next()?, Some(user.id), name, &body.description)
            .await?;
    let application = render_app(&state, &created.application).await?;
    Ok(Json(CreatedApplication { application, token: created.token }))
}

/// The application whose bot is calling (`/applications/@me` and
/// `/oauth2/applications/@me`).
#[utoipa::path(
    get, path = "/applications/@me",
    operation_id = "get_my_application", tag = "Applications",
    summary = "Get the current bot's application",
    responses((status = 200, body = crate::openapi::Application)),
)]
pub async fn me(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<Application>> {
    let app = state.store.application(user.id).await?.ok_or_else(ApiError::unknown_application)?;
    Ok(Json(render_app(&state, &app).await?))
}

async fn owned_app(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<ApplicationRow> {
    let id: UserId = path_id("application_id", raw)?;
    let app = state.store.application(id).await?.ok_or_else(ApiError::unknown_application)?;
    if app.owner_id != user.id {
        return Err(ApiError::missing_access());
    }
    Ok(app)
}

#[derive(Deserialize)]
pub struct Update {
    description: Option<String>,
    flags: Option<u64>,
    /// Where it receives interactions over HTTP (`null` or `""` clears it).
    #[serde(default, deserialize_with = "model::nullable")]
    interactions_endpoint_url: Option<Option<String>>,
}

/// Flags an application may set on itself: the "limited" privileged
/// intents (presences, guild members, message content), as on Discord.
const EDITABLE_FLAGS: u64 = service::PRIVILEGED_INTENT_FLAGS;

async fn apply_update(state: &ApiState, app: &ApplicationRow, body: Update) -> ApiResult<Json<Application>> {
    let mut errors = FormErrors::default();
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 400) {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 400 or fewer in length.");
    }
    if let Some(flags) = body.flags {
        // Flags outside the editable set must stay as they are.
        if (flags ^ app.flags) & !EDITABLE_FLAGS != 0 {
            errors.add("flags", "APPLICATION_FLAGS_INVALID", "Only the limited gateway intent flags can be changed.");
        }
    }
    errors.finish()?;
    if let Some(url) = &body.interactions_endpoint_url {
        // Verified with a signed PING before anything is kept.
        domain::interactions::set_endpoint(state, app, url.as_deref()).await?;
    }
    let updated = state.store.update_application(app.id, body.description.as_deref(), body.flags).await?;
    Ok(Json(render_app(state, &updated).await?))
}

/// `PATCH /applications/@me`: a bot edits its own application.
#[utoipa::path(
    patch, path = "/applications/@me",
    operation_id = "update_my_application", tag = "Applications",
    summary = "Modify the current bot's application",
    request_body = crate::openapi::ApplicationUpdate,
    responses((status = 200, body = crate::openapi::Application)),
)]
pub async fn update_me(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<Update>,
) -> ApiResult<Json<Application>> {
    let app = state.store.application(user.id).await?.ok_or_else(ApiError::unknown_application)?;
    apply_update(&state, &app, body).await
}

/// `PATCH /applications/{id}`: the owner edits it.
#[utoipa::path(
    patch, path = "/applications/{application_id}",
    operation_id = "update_application", tag = "Applications",
    summary = "Modify an application you own",
    request_body = crate::openapi::ApplicationUpdate,
    responses((status = 200, body = crate::openapi::Application)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Body(body): Body<Update>,
) -> ApiResult<Json<Application>> {
    let app = owned_app(&state, &user, &raw).await?;
    apply_update(&state, &app, body).await
}

#[utoipa::path(
    post, path = "/applications/{application_id}/bot/reset",
    operation_id = "reset_bot_token", tag = "Applications",
    summary = "Issue a new bot token, revoking the old ones",
    responses((status = 200, body = crate::openapi::BotToken)),
)]
pub async fn reset_token(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let app = owned_app(&state, &user, &raw).await?;
    let token = auth::new_token(app.id.get());
    state.store.replace_bot_token(app.id, &token.hash, Timestamp::now().unix_ms()).await?;
    state.tokens_revoked(app.id, events::RevokedTokens::AllBut(token.hash));
    Ok(Json(json!({ "token": token.token })))
}

#[derive(Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<UserId>,
    scope: Option<String>,
    permissions: Option<String>,
    guild_id: Option<GuildId>,
}

#[derive(Deserialize, Default)]
pub struct AuthorizeBody {
    guild_id: Option<GuildId>,
    permissions: Option<String>,
    #[serde(default = "yes")]
    authorize: bool,
}

fn yes() -> bool {
    true
}

/// Adds an application's bot to a guild, as Discord's consent screen does.
/// Parameters come in the query string (as in an authorisation URL) or the
/// body (as Discord's client sends them).
#[utoipa::path(
    post, path = "/oauth2/authorize",
    operation_id = "authorize_application", tag = "Applications",
    summary = "Add an application's bot to a guild you manage",
    params(crate::openapi::AuthorizeQuery, crate::openapi::AuditReason),
    request_body = crate::openapi::Authorize,
    responses((status = 200, body = crate::openapi::Authorized)),
)]
pub async fn authorize(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Query(q): Query<AuthorizeQuery>,
    reason: Reason,
    Body(body): Body<AuthorizeBody>,
) -> ApiResult<Json<Value>> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let mut errors = FormErrors::default();
    let Some(client_id) = q.client_id else {
        return Err(ApiError::field("client_id", "BASE_TYPE_REQUIRED", "This field is required"));
    };
    let scopes: Vec<&str> = q.scope.as_deref().unwrap_or("").split([' ', '+']).filter(|s| !s.is_empty()).collect();
    if !scopes.contains(&"bot") {
        errors.add("scope", "SCOPE_INVALID", "Only the bot scope can add an application to a guild.");
    }
    let guild_id = body.guild_id.or(q.guild_id);
    if guild_id.is_none() {
        errors.add("guild_id", "BASE_TYPE_REQUIRED", "This field is required");
    }
    if let Some(p) = body.permissions.as_ref().or(q.permissions.as_ref()) {
        if p.parse::<u64>().map_or(true, |bits| bits & !permissions::ALL != 0) {
            errors.add("permissions", "NUMBER_TYPE_COERCE", format!("Value \"{p}\" is not a valid permission set."));
        }
    }
    errors.finish()?;
    let guild_id = guild_id.expect("checked above");
    let app = state.store.application(client_id).await?.ok_or_else(ApiError::unknown_application)?;
    if !app.bot_public && app.owner_id != user.id {
        return Err(ApiError::missing_access());
    }
    let guild = access::guild(&state, &user, guild_id).await?;
    guild.require(permissions::MANAGE_GUILD)?;
    // The permissions asked for become the bot's managed role, which
    // nobody can grant beyond their own.
    let perms: u64 = body.permissions.as_ref().or(q.permissions.as_ref()).and_then(|p| p.parse().ok()).unwrap_or(0);
    guild.require_grantable(perms)?;
    let entry = state.audit_entry(
        guild_id,
        user.id,
        domain::audit::action::BOT_ADD,
        Some(app.id.get()),
        Vec::new(),
        None,
        &reason,
    )?;
    if body.authorize && service::add_member(state.store.as_ref(), guild_id, app.id, Some(&entry)).await? {
        let role =
            if perms != 0 { Some(managed_role(&state, &guild, &user, &app, perms, &reason).await?) } else { None };
        if let Some(bot) = state.store.user(app.id).await? {
            domain::members::announce_join(&state, guild_id, &bot, state.config.large_threshold).await?;
        }
        state.announce_audit(&guild, &entry).await?;
        if let Some((role, role_entry)) = role {
            state.role_event(Dispatch::RoleCreate, guild_id, render::role(&role));
            state.announce_audit(&guild, &role_entry).await?;
        }
    }
    Ok(Json(json!({ "location": format!("/oauth2/authorized?guild_id={guild_id}") })))
}

/// Creates the bot's managed role with `perms` and gives it to the bot, as
/// Discord does when a bot is added with permissions.
async fn managed_role(
    state: &ApiState,
    guild: &domain::access::GuildAccess,
    user: &UserRow,
    app: &ApplicationRow,
    perms: u64,
    reason: &Reason,
) -> ApiResult<(store::RoleRow, store::AuditEntry)> {
    let role = store::RoleRow {
        id: state.ids.next()?,
        guild_id: guild.guild.id,
        name: app.name.clone(),
        permissions: perms,
        position: 1,
        color: 0,
        hoist: false,
        mentionable: false,
        managed: true,
    };
    let changes = domain::audit::diff(&json!({}), &serde_json::to_value(render::role(&role)).unwrap_or_default());
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        domain::audit::action::ROLE_CREATE,
        Some(role.id.get()),
        changes,
        None,
        reason,
    )?;
    state.store.create_role(&role, Some(&entry)).await?;
    state.store.add_member_role(guild.guild.id, app.id, role.id, None).await?;
    Ok((role, entry))
}
