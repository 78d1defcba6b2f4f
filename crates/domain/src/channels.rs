//! Channels by id: how a viewer sees one, who may edit and delete it, its
//! permission overwrites and typing; and the fields a guild channel is
//! created or edited with, with Discord's limits.

use serde::Deserialize;
use serde_json::json;

use events::Dispatch;
use model::channel::{Channel, ChannelType};
use model::id::GenericMarker;
use model::{nullable, permissions, Id};
use store::{ChannelId, ChannelPatch, ChannelRow, OverwriteRow, UserRow};

use crate::access::{self, ChannelAccess, GuildAccess};
use crate::audit::{self, action, Reason};
use crate::{render, Domain, Error, FormErrors, Result};

/// Fields shared by channel create and update.
#[derive(Deserialize)]
pub struct ChannelFields {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<u8>,
    pub position: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub parent_id: Option<Option<ChannelId>>,
    #[serde(default, deserialize_with = "nullable")]
    pub topic: Option<Option<String>>,
    pub nsfw: Option<bool>,
    pub rate_limit_per_user: Option<i64>,
    pub bitrate: Option<i64>,
    pub user_limit: Option<i64>,
    pub permission_overwrites: Option<Vec<OverwriteIn>>,
}

/// An overwrite as clients send it: `allow`/`deny` as decimal strings (or
/// numbers), `type` 0 for a role, 1 for a member.
#[derive(Deserialize)]
pub struct OverwriteIn {
    pub id: Id<GenericMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub allow: Option<serde_json::Value>,
    #[serde(default)]
    pub deny: Option<serde_json::Value>,
}

impl OverwriteIn {
    /// The overwrite as a row, when its type is 0 (a role of the guild) or
    /// 1 (a member) and both permission sets are valid; every fault is
    /// added to `errors` under `path`.
    pub fn check(&self, errors: &mut FormErrors, path: &str, access: &GuildAccess) -> Option<OverwriteRow> {
        let (allow, deny) = (
            crate::permission_inputs::permission_bits(&self.allow),
            crate::permission_inputs::permission_bits(&self.deny),
        );
        let target_ok = match self.kind {
            0 => access.roles.iter().any(|r| r.id.get() == self.id.get()),
            1 => true,
            _ => {
                errors.add(&format!("{path}.type"), "BASE_TYPE_CHOICES", "Value must be one of {0, 1}.");
                return None;
            }
        };
        if !target_ok {
            errors.add(&format!("{path}.id"), "UNKNOWN_ROLE", "Unknown role.");
        }
        if allow.is_none() {
            errors.add(&format!("{path}.allow"), "NUMBER_TYPE_COERCE", "Not a valid permission set.");
        }
        if deny.is_none() {
            errors.add(&format!("{path}.deny"), "NUMBER_TYPE_COERCE", "Not a valid permission set.");
        }
        Some(OverwriteRow { target_id: self.id.get(), kind: self.kind, allow: allow?, deny: deny? })
            .filter(|_| target_ok)
    }
}

impl ChannelFields {
    /// The overwrites sent, checked (at most 100); `None` when none were
    /// sent.
    pub fn overwrites(&self, errors: &mut FormErrors, access: &GuildAccess) -> Option<Vec<OverwriteRow>> {
        let list = self.permission_overwrites.as_ref()?;
        if list.len() > 100 {
            errors.add("permission_overwrites", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
            return Some(Vec::new());
        }
        Some(
            list.iter()
                .enumerate()
                .filter_map(|(i, o)| o.check(errors, &format!("permission_overwrites.{i}"), access))
                .collect(),
        )
    }

    /// Validates values against Discord's limits for a channel of `kind`
    /// in a guild whose channels are `siblings`: name 1–100 visible
    /// characters, topic up to 1024, slowmode up to 6 hours, bitrate,
    /// user limit, position, and a parent that is another category of the
    /// guild (categories have none).
    pub fn check(&self, errors: &mut FormErrors, kind: ChannelType, id: Option<ChannelId>, siblings: &[ChannelRow]) {
        if let Some(name) = &self.name {
            if !(1..=100).contains(&name.trim().chars().count()) {
                errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
            }
            crate::names::check_visible(errors, "name", name.trim());
        }
        if let Some(Some(topic)) = &self.topic {
            if topic.chars().count() > 1024 {
                errors.add("topic", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.");
            }
        }
        if self.rate_limit_per_user.is_some_and(|r| !(0..=21_600).contains(&r)) {
            errors.add("rate_limit_per_user", "NUMBER_TYPE_MAX", "Must be between 0 and 21600.");
        }
        if self.bitrate.is_some_and(|b| !(8_000..=96_000).contains(&b)) {
            errors.add("bitrate", "NUMBER_TYPE_MAX", "Must be between 8000 and 96000.");
        }
        if self.user_limit.is_some_and(|u| !(0..=99).contains(&u)) {
            errors.add("user_limit", "NUMBER_TYPE_MAX", "Must be between 0 and 99.");
        }
        if self.position.is_some_and(|p| !(0..=i64::from(i32::MAX)).contains(&p)) {
            errors.add("position", "NUMBER_TYPE_MAX", "Must be between 0 and 2147483647.");
        }
        if let Some(Some(parent)) = self.parent_id {
            let ok = kind != ChannelType::GuildCategory
                && Some(parent) != id
                && siblings.iter().any(|c| c.id == parent && c.kind == ChannelType::GuildCategory.code());
            if !ok {
                errors.add("parent_id", "CHANNEL_PARENT_INVALID", "Not a category of this guild.");
            }
        }
    }
}

/// A channel as its viewer sees it: a DM lists the other recipient.
pub async fn render_for(ctx: &Domain, access: &ChannelAccess, viewer: &UserRow) -> Result<Channel> {
    if access.channel.guild_id.is_some() {
        return Ok(render::channel(&access.channel, &access.overwrites, None));
    }
    let peer = access::dm_peer(ctx, access.channel.id, viewer.id).await?;
    let users = match peer {
        Some(peer) => ctx.store.users(&[peer]).await?,
        None => Vec::new(),
    };
    Ok(render::channel(&access.channel, &[], Some(users.iter().map(render::user).collect())))
}

/// A channel `user` can see, as they see it.
pub async fn get(ctx: &Domain, user: &UserRow, channel: ChannelId) -> Result<Channel> {
    let access = access::channel(ctx, user, channel).await?;
    render_for(ctx, &access, user).await
}

/// Edits a guild channel (MANAGE_CHANNELS; its type cannot change). New
/// overwrites also need MANAGE_ROLES and may grant only what the caller
/// holds. One CHANNEL_UPDATE audit entry for the fields, one per overwrite
/// created, changed or removed; CHANNEL_UPDATE for each write.
pub async fn update(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    body: ChannelFields,
    reason: &Reason,
) -> Result<Channel> {
    let access = access::channel(ctx, user, channel).await?;
    let Some(guild) = &access.guild else {
        return Err(Error::wrong_channel_type());
    };
    access.require(permissions::MANAGE_CHANNELS)?;
    let kind = ChannelType::from_code(access.channel.kind);
    let mut errors = FormErrors::default();
    if body.kind.is_some_and(|k| k != kind.code()) {
        errors.add("type", "CHANNEL_TYPE_CHANGE_UNSUPPORTED", "The type of a channel cannot be changed.");
    }
    let siblings = ctx.store.guild_channels(guild.guild.id).await?;
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
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        action::CHANNEL_UPDATE,
        Some(access.channel.id.get()),
        audit::diff(
            &serde_json::to_value(&before).unwrap_or_default(),
            &serde_json::to_value(&after).unwrap_or_default(),
        ),
        None,
        reason,
    )?;
    let row = ctx.store.update_channel(access.channel.id, &patch, Some(&entry)).await?;
    let updated = render::channel(&row, &access.overwrites, None);
    ctx.channel_event(Dispatch::ChannelUpdate, &updated);
    ctx.announce_audit(guild, &entry).await?;
    if let Some(list) = new_overwrites {
        let entries: Vec<_> = overwrite_changes(&access.overwrites, &list)
            .into_iter()
            .map(|(kind, changes, options)| {
                ctx.audit_entry(
                    guild.guild.id,
                    user.id,
                    kind,
                    Some(access.channel.id.get()),
                    changes,
                    Some(options),
                    reason,
                )
            })
            .collect::<Result<_>>()?;
        ctx.store.replace_overwrites(access.channel.id, &list, &entries).await?;
        announce_overwrites(ctx, &row, &list);
        for entry in &entries {
            ctx.announce_audit(guild, entry).await?;
        }
        let updated = render::channel(
            &ctx.store.channel(access.channel.id).await?.ok_or_else(Error::unknown_channel)?,
            &list,
            None,
        );
        return Ok(updated);
    }
    Ok(updated)
}

/// Deletes a guild channel (MANAGE_CHANNELS; audited, CHANNEL_DELETE); for
/// a DM, only closes it for the caller (the history stays, as on Discord).
/// Answers the channel as it was.
pub async fn delete(ctx: &Domain, user: &UserRow, channel: ChannelId, reason: &Reason) -> Result<Channel> {
    let access = access::channel(ctx, user, channel).await?;
    let rendered = render_for(ctx, &access, user).await?;
    if let Some(guild) = &access.guild {
        access.require(permissions::MANAGE_CHANNELS)?;
        let entry = ctx.audit_entry(
            guild.guild.id,
            user.id,
            action::CHANNEL_DELETE,
            Some(access.channel.id.get()),
            audit::diff(&serde_json::to_value(&rendered).unwrap_or_default(), &json!({})),
            None,
            reason,
        )?;
        if ctx.store.delete_channel(access.channel.id, Some(&entry)).await? {
            crate::files::forget_channels(ctx, vec![access.channel.id]);
            ctx.channel_event(Dispatch::ChannelDelete, &rendered);
            ctx.announce_audit(guild, &entry).await?;
        }
    }
    Ok(rendered)
}

/// TYPING_START: only in a channel that holds messages, for those who may
/// send there.
pub async fn typing(ctx: &Domain, user: &UserRow, channel: ChannelId) -> Result<()> {
    let access = access::channel(ctx, user, channel).await?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(Error::non_text_channel());
    }
    access.require(permissions::SEND_MESSAGES)?;
    ctx.typing(&access.place(), user.id, access.member_with_user(user));
    Ok(())
}

/// One overwrite as `PUT /channels/{id}/permissions/{overwrite_id}` sends
/// it.
#[derive(Deserialize)]
pub struct OverwriteBody {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub allow: Option<serde_json::Value>,
    #[serde(default)]
    pub deny: Option<serde_json::Value>,
}

/// A channel's new overwrites, as CHANNEL_UPDATE: the gateway sends it to
/// those who still see the channel, CHANNEL_DELETE to those who lost sight
/// of it and CHANNEL_CREATE to those who gained it.
fn announce_overwrites(ctx: &Domain, channel: &ChannelRow, after: &[OverwriteRow]) {
    ctx.channel_event(Dispatch::ChannelUpdate, &render::channel(channel, after, None));
}

/// The audit entries a new set of overwrites means: one per overwrite
/// created, changed or removed, as (action, changes, options); the
/// overwrite's id is in the options, the channel is the target.
fn overwrite_changes(
    before: &[OverwriteRow],
    after: &[OverwriteRow],
) -> Vec<(u16, Vec<serde_json::Value>, serde_json::Value)> {
    let shape = |o: &OverwriteRow| json!({"id": o.target_id.to_string(), "type": o.kind, "allow": o.allow.to_string(), "deny": o.deny.to_string()});
    let options = |o: &OverwriteRow| json!({"id": o.target_id.to_string(), "type": o.kind.to_string()});
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

/// Sets a role's (type 0, a role of the guild) or member's (type 1)
/// overwrite on a guild channel: MANAGE_ROLES, and only permissions the
/// caller may grant. Audited as created or updated; CHANNEL_UPDATE.
pub async fn put_overwrite(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    target: Id<GenericMarker>,
    body: OverwriteBody,
    reason: &Reason,
) -> Result<()> {
    let access = access::channel(ctx, user, channel).await?;
    let Some(guild) = &access.guild else { return Err(Error::wrong_channel_type()) };
    access.require(permissions::MANAGE_ROLES)?;
    let mut errors = FormErrors::default();
    let (allow, deny) =
        (crate::permission_inputs::permission_bits(&body.allow), crate::permission_inputs::permission_bits(&body.deny));
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
    let row =
        OverwriteRow { target_id: target.get(), kind: body.kind, allow: allow.unwrap_or(0), deny: deny.unwrap_or(0) };
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
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        kind,
        Some(access.channel.id.get()),
        audit::diff(&before_value, &after_value),
        Some(options),
        reason,
    )?;
    ctx.store.put_overwrite(access.channel.id, &row, Some(&entry)).await?;
    let mut after: Vec<_> = access.overwrites.iter().filter(|x| x.target_id != row.target_id).cloned().collect();
    after.push(row);
    announce_overwrites(ctx, &access.channel, &after);
    ctx.announce_audit(guild, &entry).await?;
    Ok(())
}

/// Removes an existing overwrite from a guild channel (MANAGE_ROLES);
/// audited, CHANNEL_UPDATE.
pub async fn delete_overwrite(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    target: Id<GenericMarker>,
    reason: &Reason,
) -> Result<()> {
    let access = access::channel(ctx, user, channel).await?;
    let Some(guild) = &access.guild else { return Err(Error::wrong_channel_type()) };
    access.require(permissions::MANAGE_ROLES)?;
    let Some(existing) = access.overwrites.iter().find(|x| x.target_id == target.get()) else {
        return Err(Error::unknown_overwrite());
    };
    let options = json!({"id": target, "type": existing.kind.to_string()});
    let before = json!({"id": target, "type": existing.kind, "allow": existing.allow.to_string(), "deny": existing.deny.to_string()});
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        action::CHANNEL_OVERWRITE_DELETE,
        Some(access.channel.id.get()),
        audit::diff(&before, &json!({})),
        Some(options),
        reason,
    )?;
    if ctx.store.delete_overwrite(access.channel.id, target.get(), Some(&entry)).await? {
        let after: Vec<_> = access.overwrites.iter().filter(|x| x.target_id != target.get()).cloned().collect();
        announce_overwrites(ctx, &access.channel, &after);
        ctx.announce_audit(guild, &entry).await?;
    }
    Ok(())
}
