//! Guilds: creating one, changing and deleting it, and its channels made
//! and moved as a whole.

use serde::Deserialize;

use model::channel::{Channel, ChannelType};
use model::guild::Guild;
use model::{nullable, permissions, Timestamp};
use store::{ChannelId, ChannelRow, GuildId, GuildPatch, GuildRow, MemberRow, NewGuild, RoleRow, UserId, UserRow};

use crate::audit::{self, action, Reason};
use crate::channels::ChannelFields;
use crate::{access, render, Domain, Error, FormErrors, Result};
use events::Dispatch;

const AFK_TIMEOUTS: [i64; 5] = [60, 300, 900, 1800, 3600];

fn check_guild_name(errors: &mut FormErrors, name: &str) -> String {
    let name = name.trim();
    if !(2..=100).contains(&name.chars().count()) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.");
    }
    crate::names::check_visible(errors, "name", name);
    name.to_owned()
}

#[derive(Deserialize)]
pub struct CreateGuild {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Creates a guild owned by `user` (people only, not bots), with its
/// @everyone role and a text and a voice channel; the owner's sessions get
/// it as a GUILD_CREATE.
pub async fn create(ctx: &Domain, user: &UserRow, body: CreateGuild, large_threshold: u64) -> Result<Guild> {
    if user.bot {
        return Err(Error::bots_forbidden());
    }
    let mut errors = FormErrors::default();
    let name = check_guild_name(&mut errors, &body.name);
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 120) {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.");
    }
    errors.finish()?;
    let now = Timestamp::now().unix_ms();
    let id: GuildId = ctx.ids.next()?;
    let text: ChannelId = ctx.ids.next()?;
    let voice: ChannelId = ctx.ids.next()?;
    let channel = |channel_id, kind: ChannelType, name: &str| ChannelRow {
        id: channel_id,
        kind: kind.code(),
        guild_id: Some(id),
        name: Some(name.to_owned()),
        position: 0,
        parent_id: None,
        topic: None,
        nsfw: false,
        rate_limit_per_user: 0,
        bitrate: 64_000,
        user_limit: 0,
        last_message_id: None,
        last_pin_at: None,
    };
    let new = NewGuild {
        guild: GuildRow {
            id,
            name,
            icon: None,
            description: body.description,
            owner_id: user.id,
            afk_channel_id: None,
            afk_timeout: 300,
            system_channel_id: Some(text),
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
            preferred_locale: "en-US".into(),
            created_at: now,
        },
        everyone: RoleRow {
            // Discord's convention: the @everyone role has the guild's id.
            id: id.cast(),
            guild_id: id,
            name: "@everyone".into(),
            permissions: permissions::DEFAULT_EVERYONE,
            position: 0,
            color: 0,
            hoist: false,
            mentionable: false,
            managed: false,
        },
        channels: vec![
            channel(text, ChannelType::GuildText, "general"),
            channel(voice, ChannelType::GuildVoice, "General"),
        ],
        owner: MemberRow {
            guild_id: id,
            user_id: user.id,
            nick: None,
            roles: Vec::new(),
            joined_at: now,
            deaf: false,
            mute: false,
            communication_disabled_until: None,
        },
    };
    ctx.store.create_guild(&new).await?;
    let snapshot = render::guild_snapshot(ctx.store.as_ref(), &new.guild, user.id, large_threshold).await?;
    ctx.member_joined(id, &render::member(&new.owner, Some(user)), &snapshot);
    Ok(render::guild(&new.guild, &[new.everyone]))
}

#[derive(Deserialize)]
pub struct UpdateGuild {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub icon: Option<Option<String>>,
    pub owner_id: Option<UserId>,
    #[serde(default, deserialize_with = "nullable")]
    pub afk_channel_id: Option<Option<ChannelId>>,
    pub afk_timeout: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub system_channel_id: Option<Option<ChannelId>>,
    pub verification_level: Option<i64>,
    pub default_message_notifications: Option<i64>,
    pub explicit_content_filter: Option<i64>,
    pub preferred_locale: Option<String>,
}

/// Changes a guild's settings (MANAGE_GUILD; a new owner only by the owner,
/// and only to a member), audited.
pub async fn update(ctx: &Domain, user: &UserRow, guild: GuildId, body: UpdateGuild, reason: &Reason) -> Result<Guild> {
    let access = access::guild(ctx, user, guild).await?;
    access.require(permissions::MANAGE_GUILD)?;
    let guild_id = access.guild.id;
    let mut errors = FormErrors::default();
    let name = body.name.as_deref().map(|n| check_guild_name(&mut errors, n));
    if body.description.as_ref().is_some_and(|d| d.as_ref().is_some_and(|d| d.chars().count() > 120)) {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.");
    }
    if let Some(Some(_)) = body.icon {
        errors.add("icon", "ICON_UNSUPPORTED", "Only null (remove the icon) is accepted for now.");
    }
    if let Some(t) = body.afk_timeout {
        if !AFK_TIMEOUTS.contains(&t) {
            errors.add("afk_timeout", "BASE_TYPE_CHOICES", "Value must be one of {60, 300, 900, 1800, 3600}.");
        }
    }
    for (field, value, max) in [
        ("verification_level", body.verification_level, 4),
        ("default_message_notifications", body.default_message_notifications, 1),
        ("explicit_content_filter", body.explicit_content_filter, 2),
    ] {
        if value.is_some_and(|v| !(0..=max).contains(&v)) {
            errors.add(field, "BASE_TYPE_CHOICES", format!("Value must be between 0 and {max}."));
        }
    }
    if body.preferred_locale.as_deref().is_some_and(|l| !model::locale::is_known(l)) {
        errors.add(
            "preferred_locale",
            "BASE_TYPE_CHOICES",
            "Value must be one of Discord's locales (e.g. en-US, fr, pt-BR).",
        );
    }
    let channels = ctx.store.guild_channels(guild_id).await?;
    for (field, value, kind) in [
        ("afk_channel_id", body.afk_channel_id, ChannelType::GuildVoice),
        ("system_channel_id", body.system_channel_id, ChannelType::GuildText),
    ] {
        if let Some(Some(id)) = value {
            if !channels.iter().any(|c| c.id == id && c.kind == kind.code()) {
                errors.add(field, "CHANNEL_INVALID", "Not a channel of this guild of the right type.");
            }
        }
    }
    if let Some(owner) = body.owner_id {
        if !access.is_owner() {
            return Err(Error::missing_permissions());
        }
        if ctx.store.member(guild_id, owner).await?.is_none() {
            errors.add("owner_id", "GUILD_OWNER_INVALID", "The new owner must be a member of the guild.");
        }
    }
    errors.finish()?;
    let patch = GuildPatch {
        name,
        description: body.description,
        icon: body.icon.map(|_| None),
        owner_id: body.owner_id,
        afk_channel_id: body.afk_channel_id,
        afk_timeout: body.afk_timeout,
        system_channel_id: body.system_channel_id,
        verification_level: body.verification_level,
        default_message_notifications: body.default_message_notifications,
        explicit_content_filter: body.explicit_content_filter,
        preferred_locale: body.preferred_locale,
    };
    let mut after = access.guild.clone();
    patch.apply(&mut after);
    let changes = audit::diff(
        &serde_json::to_value(render::guild(&access.guild, &access.roles)).unwrap_or_default(),
        &serde_json::to_value(render::guild(&after, &access.roles)).unwrap_or_default(),
    );
    let entry =
        ctx.audit_entry(guild_id, user.id, action::GUILD_UPDATE, Some(guild_id.get()), changes, None, reason)?;
    let updated = ctx.store.update_guild(guild_id, &patch, Some(&entry)).await?;
    let mut guild = render::guild(&updated, &access.roles);
    // Clients replace their emoji and sticker caches from GUILD_UPDATE.
    (guild.emojis, guild.stickers) = crate::expressions::guild_expressions(ctx, guild_id).await?;
    ctx.guild_updated(&guild);
    ctx.announce_audit(&access, &entry).await?;
    Ok(guild)
}

/// Deletes a guild: its owner only. Its emojis' and stickers' files go
/// after its rows; its channels' attachments in the background.
pub async fn delete(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<()> {
    let access = access::guild(ctx, user, guild).await?;
    if !access.is_owner() {
        return Err(Error::missing_permissions());
    }
    let (emojis, stickers, channels) =
        tokio::try_join!(ctx.store.emojis(guild), ctx.store.stickers(guild), ctx.store.guild_channels(guild))?;
    let channels: Vec<_> = channels.iter().map(|c| c.id).collect();
    if ctx.store.delete_guild(access.guild.id).await? {
        crate::files::forget_channels(ctx, channels);
        ctx.guild_deleted(access.guild.id);
        crate::expressions::forget_files(&ctx.media, &emojis, &stickers).await;
    }
    Ok(())
}

/// Creates a channel in a guild (MANAGE_CHANNELS; at most 500), audited; a
/// channel made in a category starts with the category's overwrites unless
/// it brings its own.
pub async fn create_channel(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: ChannelFields,
    reason: &Reason,
) -> Result<Channel> {
    let access = access::guild(ctx, user, guild).await?;
    access.require(permissions::MANAGE_CHANNELS)?;
    let mut errors = FormErrors::default();
    let kind = ChannelType::from_code(body.kind.unwrap_or(0));
    if !matches!(kind, ChannelType::GuildText | ChannelType::GuildVoice | ChannelType::GuildCategory) {
        errors.add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4}.");
    }
    if body.name.is_none() {
        errors.add("name", "BASE_TYPE_REQUIRED", "This field is required");
    }
    let siblings = ctx.store.guild_channels(access.guild.id).await?;
    if siblings.len() >= 500 {
        return Err(Error::new(
            crate::error::StatusCode::BAD_REQUEST,
            30013,
            "Maximum number of guild channels reached (500)",
        ));
    }
    body.check(&mut errors, kind, None, &siblings);
    let overwrites = body.overwrites(&mut errors, &access);
    errors.finish()?;
    if let Some(list) = &overwrites {
        for o in list {
            access.require_grantable(o.allow | o.deny)?;
        }
    }
    let position = body.position.unwrap_or_else(|| {
        siblings.iter().filter(|c| c.kind == kind.code()).map(|c| c.position + 1).max().unwrap_or(0)
    });
    let row = ChannelRow {
        id: ctx.ids.next()?,
        kind: kind.code(),
        guild_id: Some(access.guild.id),
        name: body.name.map(|n| n.trim().to_owned()),
        position,
        parent_id: body.parent_id.flatten(),
        topic: body.topic.flatten().filter(|_| kind == ChannelType::GuildText),
        nsfw: body.nsfw.unwrap_or(false),
        rate_limit_per_user: body.rate_limit_per_user.unwrap_or(0),
        bitrate: body.bitrate.unwrap_or(64_000),
        user_limit: body.user_limit.unwrap_or(0),
        last_message_id: None,
        last_pin_at: None,
    };
    // A channel made in a category starts with the category's overwrites
    // unless it brings its own.
    let overwrites = match overwrites {
        Some(list) => list,
        None => match row.parent_id {
            Some(parent) => ctx.store.overwrites(parent).await?,
            None => Vec::new(),
        },
    };
    let channel = render::channel(&row, &overwrites, None);
    let entry = ctx.audit_entry(
        access.guild.id,
        user.id,
        action::CHANNEL_CREATE,
        Some(row.id.get()),
        audit::diff(&serde_json::json!({}), &serde_json::to_value(&channel).unwrap_or_default()),
        None,
        reason,
    )?;
    ctx.store.create_channel(&row, &overwrites, Some(&entry)).await?;
    ctx.channel_event(Dispatch::ChannelCreate, &channel);
    ctx.announce_audit(&access, &entry).await?;
    Ok(channel)
}

#[derive(Deserialize)]
pub struct ChannelPosition {
    pub id: ChannelId,
    pub position: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub parent_id: Option<Option<ChannelId>>,
}

/// Moves channels (positions and parents), all or none (MANAGE_CHANNELS),
/// each move audited.
pub async fn reorder_channels(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: Vec<ChannelPosition>,
    reason: &Reason,
) -> Result<()> {
    let access = access::guild(ctx, user, guild).await?;
    access.require(permissions::MANAGE_CHANNELS)?;
    let channels = ctx.store.guild_channels(access.guild.id).await?;
    let mut errors = FormErrors::default();
    for (i, p) in body.iter().enumerate() {
        let Some(c) = channels.iter().find(|c| c.id == p.id) else {
            errors.add(&format!("{i}.id"), "CHANNEL_INVALID", "Not a channel of this guild.");
            continue;
        };
        let fields = ChannelFields {
            name: None,
            kind: None,
            position: p.position,
            parent_id: p.parent_id,
            topic: None,
            nsfw: None,
            rate_limit_per_user: None,
            bitrate: None,
            user_limit: None,
            permission_overwrites: None,
        };
        let mut local = FormErrors::default();
        fields.check(&mut local, ChannelType::from_code(c.kind), Some(c.id), &channels);
        if !local.is_empty() {
            errors.add(&format!("{i}"), "CHANNEL_POSITION_INVALID", "Invalid position or parent.");
        }
    }
    errors.finish()?;
    let overwrites = ctx.store.guild_overwrites(access.guild.id).await?;
    for p in body {
        let patch = store::ChannelPatch { position: p.position, parent_id: p.parent_id, ..Default::default() };
        let before = channels.iter().find(|c| c.id == p.id).cloned().expect("checked above");
        let mut after = before.clone();
        patch.apply(&mut after);
        let own: Vec<_> = overwrites.iter().filter(|(id, _)| *id == p.id).map(|(_, o)| o.clone()).collect();
        let changes = audit::diff(
            &serde_json::to_value(render::channel(&before, &own, None)).unwrap_or_default(),
            &serde_json::to_value(render::channel(&after, &own, None)).unwrap_or_default(),
        );
        let entry =
            ctx.audit_entry(access.guild.id, user.id, action::CHANNEL_UPDATE, Some(p.id.get()), changes, None, reason)?;
        let updated = ctx.store.update_channel(p.id, &patch, Some(&entry)).await?;
        ctx.channel_event(Dispatch::ChannelUpdate, &render::channel(&updated, &own, None));
        ctx.announce_audit(&access, &entry).await?;
    }
    Ok(())
}
