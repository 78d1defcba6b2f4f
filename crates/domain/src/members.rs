//! Guild members: edits, nicknames, timeouts, kicks and bans, and what
//! follows a change to one.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use events::Dispatch;
use model::guild::Member;
use model::snowflake::SnowflakeGenerator;
use model::{nullable, permissions, Timestamp};
use store::{BanRow, ChannelId, GuildId, MemberPatch, MemberRow, RoleId, UserId, UserRow};

use crate::access::{self, GuildAccess};
use crate::audit::{action, Reason};
use crate::error::StatusCode;
use crate::{render, Domain, Error, FormErrors, Result};

/// After a member changed: GUILD_MEMBER_UPDATE for the guild, and for the
/// member, the channels they can newly see (CHANNEL_CREATE) or no longer
/// see (CHANNEL_DELETE).
pub async fn after_change(state: &Domain, guild: &GuildAccess, before: &MemberRow) -> Result<Option<Member>> {
    let Some(after) = state.store.member(guild.guild.id, before.user_id).await? else { return Ok(None) };
    let user = state.store.user(before.user_id).await?;
    let rendered = render::member(&after, user.as_ref());
    // The gateway tells the member's sessions of the channels the new
    // roles show or hide.
    state.member_updated(guild.guild.id, &rendered);
    Ok(Some(rendered))
}

/// GUILD_CREATE for the newcomer's sessions, GUILD_MEMBER_ADD for the rest.
pub async fn announce_join(
    state: &Domain,
    guild: store::GuildId,
    user: &store::UserRow,
    large_threshold: u64,
) -> Result<()> {
    let Some(row) = state.store.guild(guild).await? else { return Ok(()) };
    let Some(member) = state.store.member(guild, user.id).await? else { return Ok(()) };
    let mut snapshot = render::guild_snapshot(state.store.as_ref(), &row, user.id, large_threshold).await?;
    snapshot.voice_states = crate::voice::guild_states(state, row.id);
    state.member_joined(guild, &render::member(&member, Some(user)), &snapshot);
    Ok(())
}

/// A bot's managed role exists for that bot alone: when the bot leaves the
/// guild, or is kicked or banned, the role goes with it (GUILD_ROLE_DELETE),
/// as on Discord. Managed roles cannot be given to anyone else, so the
/// managed roles the member held are the bot's.
pub async fn drop_managed_roles(state: &Domain, guild: &GuildAccess, member: &MemberRow) -> Result<()> {
    for role in guild.roles.iter().filter(|r| r.managed && member.roles.contains(&r.id)) {
        if state.store.delete_role(guild.guild.id, role.id, None).await? {
            state.role_deleted(guild.guild.id, role.id);
        }
    }
    Ok(())
}

/// Longest timeout Discord allows.
const MAX_TIMEOUT_MS: i64 = 28 * 24 * 3600 * 1000;
/// How far back a ban may delete the banned user's messages.
const MAX_DELETE_SECONDS: i64 = 7 * 24 * 3600;

/// A change to a member, as Discord's modify-member body carries it.
#[derive(Deserialize, Default)]
pub struct Update {
    #[serde(default, deserialize_with = "nullable")]
    pub nick: Option<Option<String>>,
    pub roles: Option<Vec<RoleId>>,
    pub mute: Option<bool>,
    pub deaf: Option<bool>,
    /// The voice channel to move the member to; `null` disconnects them.
    #[serde(default, deserialize_with = "nullable")]
    pub channel_id: Option<Option<ChannelId>>,
    #[serde(default, deserialize_with = "nullable")]
    pub communication_disabled_until: Option<Option<String>>,
}

/// What a member may change of their own membership: their nickname.
#[derive(Deserialize)]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "nullable")]
    pub nick: Option<Option<String>>,
}

impl From<UpdateMe> for Update {
    fn from(me: UpdateMe) -> Self {
        Update { nick: me.nick, ..Update::default() }
    }
}

/// `user` changes `target`'s membership of `guild`: a nickname (one's own
/// needs CHANGE_NICKNAME, another's MANAGE_NICKNAMES and a higher rank),
/// roles (MANAGE_ROLES; only roles below the caller's highest, never
/// @everyone or managed ones), mute and deafen (MUTE_MEMBERS,
/// DEAFEN_MEMBERS), a timeout (MODERATE_MEMBERS, at most 28 days, never of
/// the owner or an administrator), a move to another voice channel or a
/// disconnect (MOVE_MEMBERS; a move also needs CONNECT there, for both).
/// The changes are written with their audit entries (MEMBER_UPDATE,
/// MEMBER_ROLE_UPDATE, MEMBER_MOVE, MEMBER_DISCONNECT), then announced;
/// mute, deafen and moves reach a member in voice at once.
pub async fn update(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    target: UserId,
    body: Update,
    reason: &Reason,
) -> Result<Member> {
    let guild = access::guild(ctx, user, guild).await?;
    let guild = &guild;
    let member = ctx.store.member(guild.guild.id, target).await?.ok_or_else(Error::unknown_member)?;
    let me = target == user.id;
    let mut errors = FormErrors::default();
    let mut changes = Vec::new();
    if let Some(nick) = &body.nick {
        if nick.as_ref().is_some_and(|n| n.chars().count() > 32) {
            errors.add("nick", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
        }
        if let Some(n) = nick {
            crate::names::check_visible(&mut errors, "nick", n);
        }
        if me {
            guild.require(permissions::CHANGE_NICKNAME)?;
        } else {
            guild.require(permissions::MANAGE_NICKNAMES)?;
            guild.require_above(&member)?;
        }
        changes.push(json!({"key": "nick", "old_value": member.nick, "new_value": nick}));
    }
    let mut role_entry = None;
    if let Some(roles) = &body.roles {
        guild.require(permissions::MANAGE_ROLES)?;
        let mut wanted: Vec<RoleId> = roles.clone();
        wanted.sort();
        wanted.dedup();
        for (i, r) in wanted.iter().enumerate() {
            match guild.roles.iter().find(|x| x.id == *r) {
                Some(role) if role.id.get() != guild.guild.id.get() && !role.managed => {}
                _ => errors.add(&format!("roles.{i}"), "UNKNOWN_ROLE", "Unknown role."),
            }
        }
        let added: Vec<RoleId> = wanted.iter().filter(|r| !member.roles.contains(r)).copied().collect();
        let removed: Vec<RoleId> = member.roles.iter().filter(|r| !wanted.contains(r)).copied().collect();
        for r in added.iter().chain(removed.iter()) {
            if let Some(role) = guild.roles.iter().find(|x| x.id == *r) {
                guild.require_role_below(role)?;
            }
        }
        let name = |id: &RoleId| guild.roles.iter().find(|r| r.id == *id).map(|r| json!({"id": r.id, "name": r.name}));
        let mut role_changes = Vec::new();
        if !added.is_empty() {
            role_changes.push(json!({"key": "$add", "new_value": added.iter().filter_map(name).collect::<Vec<_>>()}));
        }
        if !removed.is_empty() {
            role_changes
                .push(json!({"key": "$remove", "new_value": removed.iter().filter_map(name).collect::<Vec<_>>()}));
        }
        if !role_changes.is_empty() {
            role_entry = Some(ctx.audit_entry(
                guild.guild.id,
                user.id,
                action::MEMBER_ROLE_UPDATE,
                Some(target.get()),
                role_changes,
                None,
                reason,
            )?);
        }
    }
    for (flag, value, perm) in
        [("mute", body.mute, permissions::MUTE_MEMBERS), ("deaf", body.deaf, permissions::DEAFEN_MEMBERS)]
    {
        if let Some(v) = value {
            guild.require(perm)?;
            let old = if flag == "mute" { member.mute } else { member.deaf };
            changes.push(json!({"key": flag, "old_value": old, "new_value": v}));
        }
    }
    let mut timeout = None;
    if let Some(until) = &body.communication_disabled_until {
        guild.require(permissions::MODERATE_MEMBERS)?;
        if !me {
            guild.require_above(&member)?;
        }
        let parsed = match until {
            None => None,
            Some(text) => match Timestamp::parse(text) {
                Some(t) if t.unix_ms() <= Timestamp::now().unix_ms() + MAX_TIMEOUT_MS => Some(t.unix_ms()),
                Some(_) => {
                    errors.add(
                        "communication_disabled_until",
                        "COMMUNICATION_DISABLED_TIMESTAMP_TOO_LONG",
                        "Timeouts can be at most 28 days.",
                    );
                    None
                }
                None => {
                    errors.add("communication_disabled_until", "DATE_TIME_TYPE_PARSE", "Could not parse timestamp.");
                    None
                }
            },
        };
        // Owners and administrators cannot be timed out.
        let target_perms =
            guild.permissions_of(&MemberRow { communication_disabled_until: None, ..member.clone() }, &[]);
        if parsed.is_some() && (target == guild.guild.owner_id || target_perms & permissions::ADMINISTRATOR != 0) {
            return Err(Error::missing_permissions());
        }
        changes.push(json!({
            "key": "communication_disabled_until",
            "old_value": member.communication_disabled_until.map(Timestamp::from_unix_ms),
            "new_value": parsed.map(Timestamp::from_unix_ms),
        }));
        timeout = Some(parsed);
    }
    let mut voice_entry = None;
    if let Some(channel) = body.channel_id {
        guild.require(permissions::MOVE_MEMBERS)?;
        if ctx.voice.get(guild.guild.id, target).is_none() {
            return Err(Error::not_in_voice());
        }
        let (kind, options) = match channel {
            Some(id) => {
                let place = access::channel(ctx, user, id).await?;
                if place.guild_id() != Some(guild.guild.id)
                    || place.channel.kind != model::channel::ChannelType::GuildVoice.code()
                {
                    return Err(Error::wrong_channel_type());
                }
                place.require(permissions::CONNECT)?;
                let theirs = guild.permissions_of(&member, &place.overwrites);
                if theirs & (permissions::VIEW_CHANNEL | permissions::CONNECT)
                    != permissions::VIEW_CHANNEL | permissions::CONNECT
                {
                    return Err(Error::missing_permissions());
                }
                (action::MEMBER_MOVE, json!({"channel_id": id, "count": "1"}))
            }
            None => (action::MEMBER_DISCONNECT, json!({"count": "1"})),
        };
        voice_entry = Some(ctx.audit_entry(guild.guild.id, user.id, kind, None, Vec::new(), Some(options), reason)?);
    }
    errors.finish()?;
    let mut entries = Vec::new();
    {
        let changes: Vec<Value> = changes
            .into_iter()
            // Keys whose value does not change are not changes.
            .filter(|c| c.get("old_value") != c.get("new_value"))
            .map(without_null_values)
            .collect();
        if !changes.is_empty() {
            entries.push(ctx.audit_entry(
                guild.guild.id,
                user.id,
                action::MEMBER_UPDATE,
                Some(target.get()),
                changes,
                None,
                reason,
            )?);
        }
    }
    entries.extend(role_entry);
    entries.extend(voice_entry);
    let voice_changed = body.channel_id.is_some() || body.mute.is_some() || body.deaf.is_some();
    let patch = MemberPatch {
        nick: body.nick.map(|n| n.filter(|n| !n.trim().is_empty())),
        roles: body.roles,
        mute: body.mute,
        deaf: body.deaf,
        communication_disabled_until: timeout,
    };
    ctx.store.update_member(guild.guild.id, target, &patch, &entries).await?;
    let rendered = after_change(ctx, guild, &member).await?.ok_or_else(Error::unknown_member)?;
    for entry in &entries {
        ctx.announce_audit(guild, entry).await?;
    }
    if voice_changed {
        if let Some(target) = ctx.store.user(target).await? {
            crate::voice::moderate(ctx, guild.guild.id, &target, body.channel_id).await?;
        }
    }
    Ok(rendered)
}

fn without_null_values(mut change: Value) -> Value {
    if let Some(map) = change.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    change
}

/// `user` kicks `target` out of `guild`: KICK_MEMBERS and a higher rank.
/// The member leaves (GUILD_MEMBER_REMOVE and GUILD_DELETE for them), a
/// bot's managed roles go with it, and MEMBER_KICK is audited.
pub async fn kick(ctx: &Domain, user: &UserRow, guild: GuildId, target: UserId, reason: &Reason) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::KICK_MEMBERS)?;
    let member = ctx.store.member(guild.guild.id, target).await?.ok_or_else(Error::unknown_member)?;
    guild.require_above(&member)?;
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::MEMBER_KICK, Some(target.get()), Vec::new(), None, reason)?;
    if ctx.store.kick(guild.guild.id, target, Some(&entry)).await? {
        if let Some(u) = ctx.store.user(target).await? {
            ctx.member_left(guild.guild.id, &render::user(&u));
        }
        drop_managed_roles(ctx, &guild, &member).await?;
        ctx.announce_audit(&guild, &entry).await?;
    }
    Ok(())
}

/// How much of a banned user's recent messages a ban deletes, in seconds:
/// `delete_message_seconds` (up to 7 days), or the older
/// `delete_message_days`.
#[derive(Deserialize, Default)]
pub struct BanBody {
    pub delete_message_seconds: Option<i64>,
    /// The older, deprecated form.
    pub delete_message_days: Option<i64>,
}

impl BanBody {
    fn delete_seconds(&self) -> Result<i64> {
        match (self.delete_message_seconds, self.delete_message_days) {
            (Some(s), _) if !(0..=MAX_DELETE_SECONDS).contains(&s) => {
                Err(Error::field("delete_message_seconds", "NUMBER_TYPE_MAX", "Must be between 0 and 604800."))
            }
            (Some(s), _) => Ok(s),
            // The error names the field the client sent.
            (None, Some(d)) if !(0..=7).contains(&d) => {
                Err(Error::field("delete_message_days", "NUMBER_TYPE_MAX", "Must be between 0 and 7."))
            }
            (None, Some(d)) => Ok(d * 86_400),
            (None, None) => Ok(0),
        }
    }
}

/// Bans one user; `Ok(false)` when they may not be banned by this caller:
/// the owner, oneself, and members ranked at or above the caller.
async fn ban_one(
    ctx: &Domain,
    user: &UserRow,
    guild: &GuildAccess,
    target: UserId,
    seconds: i64,
    reason: &Reason,
) -> Result<bool> {
    let banned = ctx.store.user(target).await?.ok_or_else(Error::unknown_user)?;
    if target == guild.guild.owner_id || target == user.id {
        return Ok(false);
    }
    if let Some(member) = ctx.store.member(guild.guild.id, target).await? {
        if guild.require_above(&member).is_err() {
            return Ok(false);
        }
    }
    let now = Timestamp::now().unix_ms();
    let row = BanRow { guild_id: guild.guild.id, user_id: target, reason: reason.0.clone(), created_at: now };
    let delete_after = (seconds > 0).then(|| SnowflakeGenerator::lower_bound(((now - seconds * 1000).max(0)) as u64));
    let entry =
        ctx.audit_entry(guild.guild.id, user.id, action::MEMBER_BAN_ADD, Some(target.get()), Vec::new(), None, reason)?;
    let was_member = ctx.store.member(guild.guild.id, target).await?;
    let deleted = ctx.store.ban(&row, delete_after, Some(&entry)).await?;
    let banned = render::user(&banned);
    if let Some(member) = &was_member {
        ctx.member_left(guild.guild.id, &banned);
        drop_managed_roles(ctx, guild, member).await?;
    }
    ctx.ban_event(Dispatch::BanAdd, guild.guild.id, &banned);
    for (channel, ids) in deleted {
        let place = crate::publish::Place::Guild { guild: guild.guild.id, channel };
        ctx.messages_bulk_deleted(&place, &ids);
    }
    ctx.announce_audit(guild, &entry).await?;
    Ok(true)
}

/// `user` bans `target` from `guild` (BAN_MEMBERS; never the owner, oneself
/// or a member ranked at or above the caller), deleting their messages of
/// the last `body`'s seconds. A member leaves; GUILD_BAN_ADD, the deleted
/// messages and MEMBER_BAN_ADD are announced.
pub async fn ban(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    target: UserId,
    body: BanBody,
    reason: &Reason,
) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let seconds = body.delete_seconds()?;
    if ban_one(ctx, user, &guild, target, seconds, reason).await? {
        Ok(())
    } else {
        Err(Error::missing_permissions())
    }
}

/// `user` lifts `target`'s ban from `guild` (BAN_MEMBERS): GUILD_BAN_REMOVE
/// and MEMBER_BAN_REMOVE; Unknown Ban when there was none.
pub async fn unban(ctx: &Domain, user: &UserRow, guild: GuildId, target: UserId, reason: &Reason) -> Result<()> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        action::MEMBER_BAN_REMOVE,
        Some(target.get()),
        Vec::new(),
        None,
        reason,
    )?;
    if !ctx.store.unban(guild.guild.id, target, Some(&entry)).await? {
        return Err(Error::unknown_ban());
    }
    if let Some(u) = ctx.store.user(target).await? {
        ctx.ban_event(Dispatch::BanRemove, guild.guild.id, &render::user(&u));
    }
    ctx.announce_audit(&guild, &entry).await?;
    Ok(())
}

/// Discord's bulk-ban body: up to 200 users and how much of their recent
/// messages to delete.
#[derive(Deserialize)]
pub struct BulkBan {
    pub user_ids: Vec<UserId>,
    pub delete_message_seconds: Option<i64>,
}

/// Whom a bulk ban banned, and whom it could not.
#[derive(Serialize)]
pub struct BulkBanned {
    pub banned_users: Vec<UserId>,
    pub failed_users: Vec<UserId>,
}

/// `user` bans up to 200 users from `guild` at once (BAN_MEMBERS and
/// MANAGE_GUILD), each as a single ban would; unknown users and those the
/// caller may not ban fail alone. Failing them all is an error.
pub async fn bulk_ban(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: BulkBan,
    reason: &Reason,
) -> Result<BulkBanned> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::BAN_MEMBERS | permissions::MANAGE_GUILD)?;
    if body.user_ids.is_empty() || body.user_ids.len() > 200 {
        return Err(Error::field("user_ids", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 200 in length."));
    }
    let seconds =
        BanBody { delete_message_seconds: body.delete_message_seconds, delete_message_days: None }.delete_seconds()?;
    let (mut banned, mut failed) = (Vec::new(), Vec::new());
    for target in body.user_ids {
        let ok = match ban_one(ctx, user, &guild, target, seconds, reason).await {
            Ok(ok) => ok,
            Err(e) if e.code == 10013 => false,
            Err(e) => return Err(e),
        };
        if ok {
            banned.push(target)
        } else {
            failed.push(target)
        }
    }
    if banned.is_empty() {
        return Err(Error::new(StatusCode::BAD_REQUEST, 500000, "Failed to ban users"));
    }
    Ok(BulkBanned { banned_users: banned, failed_users: failed })
}
