//! Reactions and pins: who may react, pin and clear, the audit entries and
//! the events.

use serde_json::json;

use events::dispatch::{ReactionAdd, ReactionRemove, ReactionRemoveAll, ReactionRemoveEmoji};
use events::Dispatch;
use model::message::ReactionEmoji;
use model::{permissions, Timestamp};
use store::{AuditEntry, ChannelId, MessageId, MessageRow, UserId, UserRow};

use crate::access::ChannelAccess;
use crate::audit::{action, Reason};
use crate::expressions::{self, ReactionTarget};
use crate::messages::{find, text_channel};
use crate::{render, Domain, Error, Result};

const MAX_PINS: usize = 50;
const MAX_REACTION_EMOJI: usize = 20;

/// An emoji path segment as reactions are stored and shown.
pub struct EmojiKey {
    /// The stored key: a Unicode emoji as itself, a custom one by its id.
    pub key: String,
    /// Discord's emoji object, with a custom emoji's current name.
    pub emoji: ReactionEmoji,
    /// `false` for a custom emoji that does not exist (any more): the
    /// reactions with it stay on their messages and can still be listed
    /// and removed, but where there are none it is unknown (10014).
    pub exists: bool,
}

/// The stored key of an emoji path segment and Discord's emoji object for
/// it. Anything that is not an emoji is unknown (10014), as on Discord.
pub async fn emoji_key(ctx: &Domain, raw: &str) -> Result<EmojiKey> {
    let target = ReactionTarget::parse(raw)?;
    let key = target.key();
    Ok(match target {
        ReactionTarget::Unicode(_) => EmojiKey { emoji: render::reaction_emoji(&key, None), key, exists: true },
        ReactionTarget::Custom { id, .. } => {
            let row = ctx.store.emojis_by_id(&[id]).await?.pop();
            EmojiKey { emoji: render::reaction_emoji(&key, row.as_ref()), key, exists: row.is_some() }
        }
    })
}

/// `user` reacts to a message with `emoji`.
pub async fn add(ctx: &Domain, user: &UserRow, channel: ChannelId, message: MessageId, emoji: &str) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    access.require(permissions::READ_MESSAGE_HISTORY)?;
    // A timed-out member may not react at all, not even by joining an
    // existing reaction (which otherwise needs no ADD_REACTIONS); owners and
    // administrators are exempt from timeouts.
    if access.guild.as_ref().is_some_and(|g| crate::permission_inputs::timed_out(&g.member))
        && !access.has(permissions::ADMINISTRATOR)
    {
        return Err(Error::missing_permissions());
    }
    let row = find(ctx, &access, user, message).await?;
    // A custom emoji must exist (10014) and be one the user may use.
    let (key, emoji) = match ReactionTarget::parse(emoji)? {
        target @ ReactionTarget::Unicode(_) => (target.key(), render::reaction_emoji(&target.key(), None)),
        target @ ReactionTarget::Custom { id, .. } => {
            let custom = expressions::usable_emoji(ctx, &access, user, id).await?;
            (target.key(), render::reaction_emoji(&target.key(), Some(&custom)))
        }
    };
    let existing = ctx.store.reaction_counts(access.channel.id, &[row.id], user.id).await?;
    if !existing.iter().any(|r| r.emoji == key) {
        // A new emoji on the message needs ADD_REACTIONS; joining one does not.
        access.require(permissions::ADD_REACTIONS)?;
        if existing.len() >= MAX_REACTION_EMOJI {
            return Err(Error::max_reactions());
        }
    }
    if ctx.store.add_reaction(access.channel.id, row.id, &key, user.id, Timestamp::now().unix_ms()).await? {
        let data = ReactionAdd {
            user_id: user.id,
            channel_id: access.channel.id,
            message_id: row.id,
            guild_id: None,
            message_author_id: Some(row.author_id),
            emoji,
            member: access.member_with_user(user),
            burst: false,
            burst_colors: Vec::new(),
            kind: 0,
        };
        ctx.reaction_event(&access.place(), Dispatch::ReactionAdd(data));
    }
    Ok(())
}

/// Removes `target`'s reaction (`None`: the caller's own); someone else's
/// needs MANAGE_MESSAGES.
pub async fn remove(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    message: MessageId,
    emoji: &str,
    target: Option<UserId>,
) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    let row = find(ctx, &access, user, message).await?;
    let EmojiKey { key, emoji, exists } = emoji_key(ctx, emoji).await?;
    let target = match target {
        None => user.id,
        Some(id) if id == user.id => id,
        Some(id) => {
            access.require(permissions::MANAGE_MESSAGES)?;
            id
        }
    };
    let removed = ctx.store.remove_reaction(access.channel.id, row.id, &key, target).await?;
    if !removed && !exists {
        return Err(Error::unknown_emoji());
    }
    if removed {
        let data = ReactionRemove {
            user_id: target,
            channel_id: access.channel.id,
            message_id: row.id,
            guild_id: None,
            emoji,
            burst: false,
            kind: 0,
        };
        ctx.reaction_event(&access.place(), Dispatch::ReactionRemove(data));
    }
    Ok(())
}

/// Removes every reaction of `emoji`, or every reaction (MANAGE_MESSAGES).
pub async fn clear(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    message: MessageId,
    emoji: Option<&str>,
) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    access.require(permissions::MANAGE_MESSAGES)?;
    let row = find(ctx, &access, user, message).await?;
    let target = match emoji {
        Some(raw) => Some(emoji_key(ctx, raw).await?),
        None => None,
    };
    let cleared = ctx.store.clear_reactions(access.channel.id, row.id, target.as_ref().map(|t| t.key.as_str())).await?;
    if cleared == 0 && target.as_ref().is_some_and(|t| !t.exists) {
        return Err(Error::unknown_emoji());
    }
    if cleared > 0 {
        let dispatch = match target {
            Some(EmojiKey { emoji, .. }) => Dispatch::ReactionRemoveEmoji(ReactionRemoveEmoji {
                channel_id: access.channel.id,
                message_id: row.id,
                guild_id: None,
                emoji,
            }),
            None => Dispatch::ReactionRemoveAll(ReactionRemoveAll {
                channel_id: access.channel.id,
                message_id: row.id,
                guild_id: None,
            }),
        };
        ctx.reaction_event(&access.place(), dispatch);
    }
    Ok(())
}

/// Pinning needs PIN_MESSAGES or MANAGE_MESSAGES (either recipient may pin
/// in a DM).
fn may_pin(access: &ChannelAccess) -> Result<()> {
    if access.has(permissions::PIN_MESSAGES) || access.has(permissions::MANAGE_MESSAGES) {
        Ok(())
    } else {
        Err(Error::missing_permissions())
    }
}

/// Pins (`true`) or unpins a message; at most 50 pins a channel.
pub async fn set_pinned(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    message: MessageId,
    pinned: bool,
    reason: &Reason,
) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    may_pin(&access)?;
    let row = find(ctx, &access, user, message).await?;
    if pinned && row.pinned_at.is_none() && ctx.store.pins(access.channel.id).await?.len() >= MAX_PINS {
        return Err(Error::max_pins());
    }
    let kind = if pinned { action::MESSAGE_PIN } else { action::MESSAGE_UNPIN };
    let entry = pin_entry(ctx, &access, &row, user, kind, reason)?;
    let at = pinned.then(|| Timestamp::now().unix_ms());
    if ctx.store.set_pinned(access.channel.id, row.id, at, entry.as_ref()).await? {
        let last_pin = ctx.store.channel(access.channel.id).await?.and_then(|c| c.last_pin_at);
        ctx.pins_updated(&access.place(), last_pin);
        if let (Some(g), Some(e)) = (&access.guild, &entry) {
            ctx.announce_audit(g, e).await?;
        }
    }
    Ok(())
}

/// Pins in guild channels are audited; in DMs there is no audit log.
fn pin_entry(
    ctx: &Domain,
    access: &ChannelAccess,
    row: &MessageRow,
    user: &UserRow,
    action: u16,
    reason: &Reason,
) -> Result<Option<AuditEntry>> {
    access
        .guild
        .as_ref()
        .map(|g| {
            ctx.audit_entry(
                g.guild.id,
                user.id,
                action,
                Some(row.author_id.get()),
                Vec::new(),
                Some(json!({"channel_id": access.channel.id, "message_id": row.id})),
                reason,
            )
        })
        .transpose()
}
