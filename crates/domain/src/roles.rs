//! Roles: create, edit, reorder and delete them, give them and take them
//! away; who may, their audit entries and their events.

use serde::Deserialize;
use serde_json::json;

use events::Dispatch;
use model::guild::Role;
use model::{nullable, permissions};
use store::{GuildId, RoleId, RolePatch, RoleRow, UserId, UserRow};

use crate::access::{self, GuildAccess};
use crate::audit::{self, action, Reason};
use crate::error::StatusCode;
use crate::permission_inputs::permission_bits;
use crate::{members, render, Domain, Error, FormErrors, Result};

/// Most roles a guild may have, as on Discord.
const MAX_ROLES: usize = 250;

/// The role `id` of a guild the caller is in; Unknown Role otherwise.
pub fn find(guild: &GuildAccess, id: RoleId) -> Result<&RoleRow> {
    guild.roles.iter().find(|r| r.id == id).ok_or_else(Error::unknown_role)
}

/// A role's fields, as Discord's create- and modify-role bodies carry them.
#[derive(Deserialize)]
pub struct Fields {
    pub name: Option<String>,
    #[serde(default)]
    pub permissions: Option<serde_json::Value>,
    pub color: Option<i64>,
    pub hoist: Option<bool>,
    pub mentionable: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    /// Accepted for compatibility; role icons come later.
    pub icon: Option<Option<String>>,
}

impl Fields {
    /// Names of 1 to 100 visible characters, colours within 24 bits, a
    /// valid permission set (whose bits it answers).
    fn check(&self, errors: &mut FormErrors) -> Option<u64> {
        if self.name.as_ref().is_some_and(|n| !(1..=100).contains(&n.trim().chars().count())) {
            errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
        }
        if let Some(name) = &self.name {
            crate::names::check_visible(errors, "name", name.trim());
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
    ctx: &Domain,
    guild: &GuildAccess,
    role: &RoleRow,
    overwrites: &[(store::ChannelId, store::OverwriteRow)],
) -> Result<()> {
    let had =
        |c: store::ChannelId| overwrites.iter().any(|(id, o)| *id == c && o.kind == 0 && o.target_id == role.id.get());
    for channel in ctx.store.guild_channels(guild.guild.id).await? {
        if !had(channel.id) {
            continue;
        }
        let own: Vec<_> = overwrites
            .iter()
            .filter(|(id, o)| *id == channel.id && !(o.kind == 0 && o.target_id == role.id.get()))
            .map(|(_, o)| o.clone())
            .collect();
        ctx.channel_event(Dispatch::ChannelUpdate, &render::channel(&channel, &own, None));
    }
    Ok(())
}

/// `user` creates a role in `guild`: MANAGE_ROLES, only permissions the
/// caller may grant, at most 250 roles. It starts at the bottom, just above
/// @everyone; GUILD_ROLE_CREATE and ROLE_CREATE are announced.
pub async fn create(ctx: &Domain, user: &UserRow, guild: GuildId, body: Fields, reason: &Reason) -> Result<Role> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let mut errors = FormErrors::default();
    let perms = body.check(&mut errors);
    errors.finish()?;
    let perms = perms.unwrap_or(0);
    guild.require_grantable(perms)?;
    if guild.roles.len() >= MAX_ROLES {
        return Err(Error::new(StatusCode::BAD_REQUEST, 30005, "Maximum number of guild roles reached (250)"));
    }
    let row = RoleRow {
        id: ctx.ids.next()?,
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
        ctx.audit_entry(guild.guild.id, user.id, action::ROLE_CREATE, Some(row.id.get()), changes, None, reason)?;
    ctx.store.create_role(&row, Some(&entry)).await?;
    ctx.role_event(Dispatch::RoleCreate, guild.guild.id, role.clone());
    ctx.announce_audit(&guild, &entry).await?;
    Ok(role)
}

/// `user` changes a role of `guild`: MANAGE_ROLES, a role below the
/// caller's highest, @everyone keeps its name, and permissions the role
/// gains must be ones the caller may grant (taking away needs nothing
/// more). GUILD_ROLE_UPDATE and ROLE_UPDATE are announced.
pub async fn update(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    role: RoleId,
    body: Fields,
    reason: &Reason,
) -> Result<Role> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = find(&guild, role)?.clone();
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
        ctx.audit_entry(guild.guild.id, user.id, action::ROLE_UPDATE, Some(role.id.get()), changes, None, reason)?;
    // Whose sight of which channels a change of permissions moves, the
    // gateway works out from GUILD_ROLE_UPDATE.
    let stored = ctx.store.update_role(guild.guild.id, role.id, &patch, Some(&entry)).await?;
    let updated = render::role(&stored);
    ctx.role_event(Dispatch::RoleUpdate, guild.guild.id, updated.clone());
    ctx.announce_audit(&guild, &entry).await?;
    Ok(updated)
}

/// A role the caller may delete or give: the guild's, neither @everyone
/// nor a managed role (50028), and below the caller's highest.
fn actionable(guild: &GuildAccess, role: RoleId) -> Result<RoleRow> {
    let role = find(guild, role)?.clone();
    if role.id.get() == guild.guild.id.get() || role.managed {
        return Err(Error::new(StatusCode::BAD_REQUEST, 50028, "Invalid Role"));
    }
    guild.require_role_below(&role)?;
    Ok(role)
}

/// `user` deletes a role of `guild`: MANAGE_ROLES, a role below the
/// caller's highest, never @everyone or a managed role. Its overwrites go
/// with it; GUILD_ROLE_DELETE, CHANNEL_UPDATE for the channels that had
/// one, and ROLE_DELETE are announced.
pub async fn delete(ctx: &Domain, user: &UserRow, guild: GuildId, role: RoleId, reason: &Reason) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = actionable(&guild, role)?;
    let changes = audit::diff(&serde_json::to_value(render::role(&role)).unwrap_or_default(), &json!({}));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::ROLE_DELETE, Some(role.id.get()), changes, None, reason)?;
    let overwrites = ctx.store.guild_overwrites(guild.guild.id).await?;
    if ctx.store.delete_role(guild.guild.id, role.id, Some(&entry)).await? {
        ctx.role_deleted(guild.guild.id, role.id);
        announce_overwrites_gone(ctx, &guild, &role, &overwrites).await?;
        ctx.announce_audit(&guild, &entry).await?;
    }
    Ok(())
}

/// One role's new place, as Discord's modify-role-positions body lists them.
#[derive(Deserialize)]
pub struct Position {
    pub id: RoleId,
    pub position: Option<i64>,
}

/// `user` reorders roles of `guild`, all or none: MANAGE_ROLES, known roles
/// other than @everyone, positions from 1, only roles below the caller's
/// highest and, but for the owner, to places below it. Each move is
/// audited (ROLE_UPDATE) and announced (GUILD_ROLE_UPDATE); the answer is
/// every role of the guild.
pub async fn reorder(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: &[Position],
    reason: &Reason,
) -> Result<Vec<Role>> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let mut moves = Vec::new();
    let mut entries = Vec::new();
    for (i, p) in body.iter().enumerate() {
        let Some(role) = guild.roles.iter().find(|r| r.id == p.id) else {
            return Err(Error::field(&format!("{i}.id"), "UNKNOWN_ROLE", "Unknown role."));
        };
        let Some(position) = p.position else { continue };
        if role.id.get() == guild.guild.id.get() || !(1..=i64::from(u16::MAX)).contains(&position) {
            return Err(Error::field(&format!("{i}.position"), "ROLE_POSITION_INVALID", "Invalid position."));
        }
        guild.require_role_below(role)?;
        // Nobody but the owner moves a role to or above their own.
        if !guild.is_owner() && position >= guild.rank() {
            return Err(Error::missing_permissions());
        }
        if position == role.position {
            continue;
        }
        moves.push((role.id, position));
        let change = json!([{ "key": "position", "old_value": role.position, "new_value": position }]);
        entries.push(ctx.audit_entry(
            guild.guild.id,
            user.id,
            action::ROLE_UPDATE,
            Some(role.id.get()),
            change.as_array().cloned().unwrap_or_default(),
            None,
            reason,
        )?);
    }
    ctx.store.set_role_positions(guild.guild.id, &moves, &entries).await?;
    let roles = ctx.store.roles(guild.guild.id).await?;
    for (id, _) in &moves {
        if let Some(r) = roles.iter().find(|r| r.id == *id) {
            ctx.role_event(Dispatch::RoleUpdate, guild.guild.id, render::role(r));
        }
    }
    Ok(roles.iter().map(render::role).collect())
}

/// `user` gives `target` a role of `guild` (`add`) or takes it away:
/// MANAGE_ROLES, never @everyone or a managed role, a role below the
/// caller's highest. When the member's roles changed, MEMBER_ROLE_UPDATE is
/// written with it and what follows a member change is announced.
pub async fn set_member_role(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    target: UserId,
    role: RoleId,
    add: bool,
    reason: &Reason,
) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_ROLES)?;
    let role = actionable(&guild, role)?;
    let member = ctx.store.member(guild.guild.id, target).await?.ok_or_else(Error::unknown_member)?;
    let key = if add { "$add" } else { "$remove" };
    let changes = vec![json!({ "key": key, "new_value": [{ "id": role.id, "name": role.name }] })];
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        action::MEMBER_ROLE_UPDATE,
        Some(target.get()),
        changes,
        None,
        reason,
    )?;
    let changed = if add {
        ctx.store.add_member_role(guild.guild.id, target, role.id, Some(&entry)).await?
    } else {
        ctx.store.remove_member_role(guild.guild.id, target, role.id, Some(&entry)).await?
    };
    if changed {
        members::after_change(ctx, &guild, &member).await?;
        ctx.announce_audit(&guild, &entry).await?;
    }
    Ok(())
}
