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

/// What a role change needs to know from before it: the role's holders
/// (every member, for @everyone) and every overwrite in the guild.
struct RoleBefore {
    holders: Vec<store::MemberRow>,
    overwrites: Vec<(store::ChannelId, store::OverwriteRow)>,
}

impl RoleBefore {
    async fn load(state: &ApiState, guild: &GuildAccess, role: &RoleRow) -> ApiResult<Self> {
        let everyone = role.id.get() == guild.guild.id.get();
        let mut holders = Vec::new();
        let mut cursor = None;
        loop {
            let page = state.store.members(guild.guild.id, cursor, 1000).await?;
            let Some(last) = page.last() else { break };
            cursor = Some(last.user_id);
            holders.extend(page.into_iter().filter(|m| everyone || m.roles.contains(&role.id)));
        }
        let overwrites = state.store.guild_overwrites(guild.guild.id).await?;
        Ok(Self { holders, overwrites })
    }
}

/// After a role's permissions changed, or the role went (`roles` is the
/// guild's roles afterwards; a deleted role also leaves its holders and its
/// overwrites): as after a change of a member's roles or of a channel's
/// overwrites, CHANNEL_CREATE to the holders who may now view a channel,
/// CHANNEL_DELETE to those who no longer may, and CHANNEL_UPDATE to the
/// channel's viewers wherever the role's overwrite went with it, so that no
/// client keeps applying it.
async fn announce_role_change(
    state: &ApiState,
    guild: &GuildAccess,
    role: &RoleRow,
    roles: Vec<RoleRow>,
    before: RoleBefore,
) -> ApiResult<()> {
    let deleted = !roles.iter().any(|r| r.id == role.id);
    let after = GuildAccess { guild: guild.guild.clone(), member: guild.member.clone(), roles, permissions: 0 };
    let holders_after: Vec<store::MemberRow> = before
        .holders
        .iter()
        .map(|m| store::MemberRow {
            roles: m.roles.iter().copied().filter(|r| !deleted || *r != role.id).collect(),
            ..m.clone()
        })
        .collect();
    for channel in state.store.guild_channels(guild.guild.id).await? {
        let own: Vec<_> =
            before.overwrites.iter().filter(|(id, _)| *id == channel.id).map(|(_, o)| o.clone()).collect();
        let own_after: Vec<_> =
            own.iter().filter(|o| !(deleted && o.kind == 0 && o.target_id == role.id.get())).cloned().collect();
        let (mut lost, mut gained) = (Vec::new(), Vec::new());
        for (m, m_after) in before.holders.iter().zip(&holders_after) {
            let saw = guild.permissions_of(m, &own) & permissions::VIEW_CHANNEL != 0;
            let sees = after.permissions_of(m_after, &own_after) & permissions::VIEW_CHANNEL != 0;
            match (saw, sees) {
                (true, false) => lost.push(m.user_id),
                (false, true) => gained.push(m.user_id),
                _ => {}
            }
        }
        let kept = if own_after.len() != own.len() {
            let sees = access::members_with(state, &after, &own_after, permissions::VIEW_CHANNEL).await?;
            sees.into_iter().filter(|u| !gained.contains(u)).collect()
        } else {
            Vec::new()
        };
        if !kept.is_empty() || !lost.is_empty() || !gained.is_empty() {
            let c = render::channel(&channel, &own_after, None);
            state.channel_visibility(&c, Dispatch::ChannelUpdate, kept, lost, gained);
        }
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
    // Only VIEW_CHANNEL and ADMINISTRATOR decide who sees a channel.
    let shows_or_hides =
        (role.permissions ^ after.permissions) & (permissions::VIEW_CHANNEL | permissions::ADMINISTRATOR) != 0;
    let before = if shows_or_hides { Some(RoleBefore::load(&state, &guild, &role).await?) } else { None };
    let stored = state.store.update_role(guild.guild.id, role.id, &patch, Some(&entry)).await?;
    let updated = render::role(&stored);
    state.role_event(Dispatch::RoleUpdate, guild.guild.id, updated.clone());
    if let Some(before) = before {
        let roles = guild.roles.iter().map(|r| if r.id == stored.id { stored.clone() } else { r.clone() }).collect();
        announce_role_change(&state, &guild, &role, roles, before).await?;
    }
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
    let before = RoleBefore::load(&state, &guild, &role).await?;
    if state.store.delete_role(guild.guild.id, role.id, Some(&entry)).await? {
        state.role_deleted(guild.guild.id, role.id);
        let roles = guild.roles.iter().filter(|r| r.id != role.id).cloned().collect();
        announce_role_change(&state, &guild, &role, roles, before).await?;
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
