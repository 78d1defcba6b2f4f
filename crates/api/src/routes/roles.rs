//! Roles: list, create, edit, reorder, delete, give and take.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use model::guild::Role;
use model::permissions;
use store::{RolePatch, RoleRow, UserId};

use crate::extract::{path_id, Authed, Body, ListBody, Path};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access::GuildAccess;
use domain::audit::{self, action, Reason};
use domain::permission_inputs::permission_bits;
use domain::{access, render};
use events::Dispatch;
use model::nullable;

const MAX_ROLES: usize = 250;

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

fn find<'a>(guild: &'a GuildAccess, raw: &str) -> ApiResult<&'a RoleRow> {
    let id: store::RoleId = path_id("role_id", raw)?;
    guild.roles.iter().find(|r| r.id == id).ok_or_else(ApiError::unknown_role)
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
    Ok(Json(render::role(find(&guild, &r)?)))
}

#[derive(Deserialize)]
pub struct RoleFields {
    name: Option<String>,
    #[serde(default)]
    permissions: Option<serde_json::Value>,
    color: Option<i64>,
    hoist: Option<bool>,
    mentionable: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[allow(dead_code)] // accepted for compatibility; role icons come later
    icon: Option<Option<String>>,
}

impl RoleFields {
    fn check(&self, errors: &mut FormErrors) -> Option<u64> {
        if self.name.as_ref().is_some_and(|n| !(1..=100).contains(&n.trim().chars().count())) {
            errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
        }
        if let Some(name) = &self.name {
            domain::names::check_visible(errors, "name", name.trim());
        }
        if self.color.is_some_and(|c| !(0..=0xff_ffff).contains(&c)) {
            errors.add("color", "NUMBER_TYPE_MAX", "Must be between 0 and 16777215.");
        }
        match &self.permissions {
            None => None,
            p => {
                let bits = permission_bits(p);
                if bits.is_none() {
                    errors.add("permissions", "NUMBER_TYPE_COERCE", "Not a valid permission set.");
                }
                bits
            }
        }
    }
}

/// After a role went, and its overwrites with it: CHANNEL_UPDATE for each
/// channel that had one, so that no client keeps applying it. (Whose sight
/// of a channel the role's going moved, the gateway works out from
/// GUILD_ROLE_DELETE itself and tells with CHANNEL_CREATE/DELETE.)
async fn announce_overwrites_gone(
    state: &ApiState,
    guild: &GuildAccess,
    role: &RoleRow,
    overwrites: &[(store::ChannelId, store::OverwriteRow)],
) -> ApiResult<()> {
    let had =
        |c: store::ChannelId| overwrites.iter().any(|(id, o)| *id == c && o.kind == 0 && o.target_id == role.id.get());
    for channel in state.store.guild_channels(guild.guild.id).await? {
        if !had(channel.id) {
            continue;
        }
        let own: Vec<_> = overwrites
            .iter()
            .filter(|(id, o)| *id == channel.id && !(o.kind == 0 && o.target_id == role.id.get()))
            .map(|(_, o)| o.clone())
            .collect();
        state.channel_event(Dispatch::ChannelUpdate, &render::channel(&channel, &own, None));
    }
    Ok(())
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
    Body(body): Body<RoleFields>,
) -> ApiResult<Json<Role>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let mut errors = FormErrors::default();
    let perms = body.check(&mut errors);
    errors.finish()?;
    let perms = perms.unwrap_or(0);
    guild.require_grantable(perms)?;
    if guild.roles.len() >= MAX_ROLES {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 30005, "Maximum number of guild roles reached (250)"));
    }
    let row = RoleRow {
        id: state.ids.next(),
        guild_id: guild.guild.id,
        name: body.name.map(|n| n.trim().to_owned()).unwrap_or_else(|| "new role".into()),
        permissions: perms,
        // New roles start at the bottom, just above @everyone.
        position: 1,
        color: body.color.unwrap_or(0),
        hoist: body.hoist.unwrap_or(false),
        mentionable: body.mentionable.unwrap_or(false),
        managed: false,
    };
    let role = render::role(&row);
    let changes = audit::diff(&json!({}), &serde_json::to_value(&role).unwrap_or_default());
    let entry =
        state.audit_entry(guild.guild.id, user.id, action::ROLE_CREATE, Some(row.id.get()), changes, None, &reason);
    state.store.create_role(&row, Some(&entry)).await?;
    state.role_event(Dispatch::RoleCreate, guild.guild.id, role.clone());
    state.announce_audit(&guild, &entry).await?;
    Ok(Json(role))
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
    Body(body): Body<RoleFields>,
) -> ApiResult<Json<Role>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = find(&guild, &r)?.clone();
    guild.require_role_below(&role)?;
    let mut errors = FormErrors::default();
    let perms = body.check(&mut errors);
    let everyone = role.id.get() == guild.guild.id.get();
    if everyone && body.name.is_some() {
        errors.add("name", "ROLE_EVERYONE_NAME", "The @everyone role cannot be renamed.");
    }
    errors.finish()?;
    if let Some(p) = perms {
        // Granting needs holding; taking away does not.
        guild.require_grantable(p & !role.permissions)?;
    }
    let patch = RolePatch {
        name: body.name.map(|n| n.trim().to_owned()),
        permissions: perms,
        color: body.color,
        hoist: body.hoist,
        mentionable: body.mentionable,
    };
    let mut after = role.clone();
    if let Some(n) = &patch.name {
        after.name = n.clone();
    }
    after.permissions = patch.permissions.unwrap_or(after.permissions);
    after.color = patch.color.unwrap_or(after.color);
    after.hoist = patch.hoist.unwrap_or(after.hoist);
    after.mentionable = patch.mentionable.unwrap_or(after.mentionable);
    let changes = audit::diff(
        &serde_json::to_value(render::role(&role)).unwrap_or_default(),
        &serde_json::to_value(render::role(&after)).unwrap_or_default(),
    );
    let entry =
        state.audit_entry(guild.guild.id, user.id, action::ROLE_UPDATE, Some(role.id.get()), changes, None, &reason);
    // Whose sight of which channels a change of permissions moves, the
    // gateway works out from GUILD_ROLE_UPDATE.
    let stored = state.store.update_role(guild.guild.id, role.id, &patch, Some(&entry)).await?;
    let updated = render::role(&stored);
    state.role_event(Dispatch::RoleUpdate, guild.guild.id, updated.clone());
    state.announce_audit(&guild, &entry).await?;
    Ok(Json(updated))
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
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = find(&guild, &r)?.clone();
    if role.id.get() == guild.guild.id.get() || role.managed {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50028, "Invalid Role"));
    }
    guild.require_role_below(&role)?;
    let changes = audit::diff(&serde_json::to_value(render::role(&role)).unwrap_or_default(), &json!({}));
    let entry =
        state.audit_entry(guild.guild.id, user.id, action::ROLE_DELETE, Some(role.id.get()), changes, None, &reason);
    let overwrites = state.store.guild_overwrites(guild.guild.id).await?;
    if state.store.delete_role(guild.guild.id, role.id, Some(&entry)).await? {
        state.role_deleted(guild.guild.id, role.id);
        announce_overwrites_gone(&state, &guild, &role, &overwrites).await?;
        state.announce_audit(&guild, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct Position {
    id: store::RoleId,
    position: Option<i64>,
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
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let mut moves = Vec::new();
    let mut entries = Vec::new();
    for (i, p) in body.iter().enumerate() {
        let Some(role) = guild.roles.iter().find(|r| r.id == p.id) else {
            return Err(ApiError::field(&format!("{i}.id"), "UNKNOWN_ROLE", "Unknown role."));
        };
        let Some(position) = p.position else { continue };
        if role.id.get() == guild.guild.id.get() || !(1..=i64::from(u16::MAX)).contains(&position) {
            return Err(ApiError::field(&format!("{i}.position"), "ROLE_POSITION_INVALID", "Invalid position."));
        }
        guild.require_role_below(role)?;
        // Nobody but the owner moves a role to or above their own.
        if !guild.is_owner() && position >= guild.rank() {
            return Err(ApiError::missing_permissions());
        }
        if position == role.position {
            continue;
        }
        moves.push((role.id, position));
        let change = json!([{ "key": "position", "old_value": role.position, "new_value": position }]);
        entries.push(state.audit_entry(
            guild.guild.id,
            user.id,
            action::ROLE_UPDATE,
            Some(role.id.get()),
            change.as_array().cloned().unwrap_or_default(),
            None,
            &reason,
        ));
    }
    state.store.set_role_positions(guild.guild.id, &moves, &entries).await?;
    let roles = state.store.roles(guild.guild.id).await?;
    for (id, _) in &moves {
        if let Some(r) = roles.iter().find(|r| r.id == *id) {
            state.role_event(Dispatch::RoleUpdate, guild.guild.id, render::role(r));
        }
    }
    Ok(Json(roles.iter().map(render::role).collect()))
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
    change_member_role(state, user, (g, u, r), reason, true).await
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
    change_member_role(state, user, (g, u, r), reason, false).await
}

async fn change_member_role(
    state: ApiState,
    user: store::UserRow,
    (g, u, r): (String, String, String),
    reason: Reason,
    add: bool,
) -> ApiResult<StatusCode> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = path_id("user_id", &u)?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = find(&guild, &r)?.clone();
    if role.id.get() == guild.guild.id.get() || role.managed {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 50028, "Invalid Role"));
    }
    guild.require_role_below(&role)?;
    let member = state.store.member(guild.guild.id, target).await?.ok_or_else(ApiError::unknown_member)?;
    let key = if add { "$add" } else { "$remove" };
    let changes = vec![json!({ "key": key, "new_value": [{ "id": role.id, "name": role.name }] })];
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::MEMBER_ROLE_UPDATE,
        Some(target.get()),
        changes,
        None,
        &reason,
    );
    let changed = if add {
        state.store.add_member_role(guild.guild.id, target, role.id, Some(&entry)).await?
    } else {
        state.store.remove_member_role(guild.guild.id, target, role.id, Some(&entry)).await?
    };
    if changed {
        domain::members::after_change(&state, &guild, &member).await?;
        state.announce_audit(&guild, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
