//! Who may do what: the one place the API asks. Permissions are Discord's,
//! computed by the `permissions` crate from the guild's roles, the
//! member's roles and timeout, and the channel's overwrites.

use model::permissions::{self as bits};
use permissions::{Guild, Member};
use store::{ChannelId, ChannelRow, GuildId, GuildRow, MemberRow, OverwriteRow, RoleRow, UserId, UserRow};

use crate::error::{Error, Result};
use crate::permission_inputs::{overwrites_of, roles_of, timed_out};
use crate::publish::{InvitePlace, Place};
use crate::render::Viewer;
use crate::Domain;

/// Application flags that grant the MESSAGE_CONTENT intent (the full flag
/// or the "limited" one of unverified apps).
const FLAG_MESSAGE_CONTENT: u64 = (1 << 18) | (1 << 19);

/// A user's standing in a guild they belong to.
pub struct GuildAccess {
    pub guild: GuildRow,
    pub member: MemberRow,
    pub roles: Vec<RoleRow>,
    /// Guild-level permissions (no channel overwrites).
    pub permissions: u64,
}

impl GuildAccess {
    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.member.user_id
    }

    pub fn require(&self, perms: u64) -> Result<()> {
        if self.permissions & perms == perms {
            Ok(())
        } else {
            Err(Error::missing_permissions())
        }
    }

    fn with<T>(&self, member: &MemberRow, f: impl FnOnce(&Guild, &Member) -> T) -> T {
        let roles = roles_of(&self.roles);
        let guild = Guild { id: self.guild.id, owner_id: self.guild.owner_id, roles: &roles };
        let m = Member { user_id: member.user_id, roles: &member.roles, timed_out: timed_out(member) };
        f(&guild, &m)
    }

    /// This member's permissions in a channel with these overwrites.
    pub fn in_channel(&self, overwrites: &[OverwriteRow]) -> u64 {
        self.permissions_of(&self.member, overwrites)
    }

    /// Anyone's permissions in a channel of this guild.
    pub fn permissions_of(&self, member: &MemberRow, overwrites: &[OverwriteRow]) -> u64 {
        let overwrites = overwrites_of(overwrites);
        self.with(member, |g, m| permissions::channel_permissions(g, m, &overwrites))
    }

    /// The caller's highest role position (the owner's is the highest).
    pub fn rank(&self) -> i64 {
        self.with(&self.member, permissions::highest_position)
    }

    pub fn rank_of(&self, member: &MemberRow) -> i64 {
        self.with(member, permissions::highest_position)
    }

    /// Refuses to act on a member at or above the caller's own rank. Nobody
    /// acts on the owner, not even the owner (who cannot be kicked).
    pub fn require_above(&self, target: &MemberRow) -> Result<()> {
        if target.user_id != self.guild.owner_id && (self.is_owner() || self.rank() > self.rank_of(target)) {
            Ok(())
        } else {
            Err(Error::missing_permissions())
        }
    }

    /// Refuses to manage a role at or above the caller's own rank.
    pub fn require_role_below(&self, role: &RoleRow) -> Result<()> {
        if self.is_owner() || role.position < self.rank() {
            Ok(())
        } else {
            Err(Error::missing_permissions())
        }
    }

    /// Refuses to grant permissions the caller does not have.
    pub fn require_grantable(&self, perms: u64) -> Result<()> {
        if self.is_owner() || self.permissions & bits::ADMINISTRATOR != 0 || perms & !self.permissions == 0 {
            Ok(())
        } else {
            Err(Error::missing_permissions())
        }
    }
}

/// A user's standing in a channel: guild channel or DM.
pub struct ChannelAccess {
    pub channel: ChannelRow,
    /// `None` in DMs.
    pub guild: Option<GuildAccess>,
    pub overwrites: Vec<OverwriteRow>,
    /// Both recipients of a DM; empty for guild channels.
    pub recipients: Vec<UserId>,
    pub permissions: u64,
    /// A webhook posting: it is no member, and its permissions are
    /// `WEBHOOK_PERMISSIONS`, whoever made it.
    pub webhook: bool,
}

/// What a webhook may do in its channel, as on Discord: post with embeds,
/// files and any mention its request allows.
pub const WEBHOOK_PERMISSIONS: u64 = bits::VIEW_CHANNEL
    | bits::SEND_MESSAGES
    | bits::EMBED_LINKS
    | bits::ATTACH_FILES
    | bits::MENTION_EVERYONE
    | bits::USE_EXTERNAL_EMOJIS
    | bits::READ_MESSAGE_HISTORY
    | bits::SEND_TTS_MESSAGES;

impl ChannelAccess {
    pub fn guild_id(&self) -> Option<GuildId> {
        self.channel.guild_id
    }

    pub fn require(&self, perms: u64) -> Result<()> {
        if self.permissions & perms == perms {
            Ok(())
        } else {
            Err(Error::missing_permissions())
        }
    }

    pub fn has(&self, perms: u64) -> bool {
        self.permissions & perms == perms
    }

    /// Where this channel's events go: those who may view it (the gateway
    /// decides who), or its DM recipients.
    pub fn place(&self) -> Place {
        match self.channel.guild_id {
            Some(guild) => Place::Guild { guild, channel: self.channel.id },
            None => Place::Dm { channel: self.channel.id, recipients: self.recipients.clone() },
        }
    }

    /// What `user` (the caller) may read of this channel's messages: a bot
    /// whose application lacks the MESSAGE_CONTENT flag sees content only
    /// in DMs, its own messages and those that mention it, on REST as on
    /// the gateway.
    pub async fn viewer(&self, state: &Domain, user: &UserRow) -> Result<Viewer> {
        Ok(Viewer {
            id: user.id,
            all_content: self.guild.is_none() || may_read_all_content(state, user).await?,
            history: self.has(bits::READ_MESSAGE_HISTORY),
        })
    }

    /// Where this channel's invite events go: the members holding
    /// MANAGE_CHANNELS in it. `None` outside guilds.
    pub fn invite_place(&self) -> Option<InvitePlace> {
        self.channel.guild_id.map(|guild| InvitePlace { guild, channel: self.channel.id })
    }

    /// Whose unread mention count a new message here may raise, when the
    /// channel is hidden from some members (`None` when every member may
    /// view it): see `mention_viewers`.
    pub async fn mention_viewers(&self, state: &Domain, message: &store::MessageRow) -> Result<Option<Vec<UserId>>> {
        match &self.guild {
            Some(guild) => mention_viewers(state, guild, &self.overwrites, message).await,
            None => Ok(None),
        }
    }

    /// The caller's member object, in guild channels, without its `user`:
    /// the shape MESSAGE_CREATE and MESSAGE_UPDATE carry (the author is
    /// beside it).
    pub fn member(&self) -> Option<model::guild::Member> {
        self.guild.as_ref().filter(|_| !self.webhook).map(|g| crate::render::member(&g.member, None))
    }

    /// The caller's member object with its `user`, as every other event
    /// carries it (MESSAGE_REACTION_ADD, TYPING_START): Discord leaves the
    /// user out only beside a message's author, and libraries build their
    /// member from it.
    pub fn member_with_user(&self, user: &UserRow) -> Option<model::guild::Member> {
        self.guild.as_ref().filter(|_| !self.webhook).map(|g| crate::render::member(&g.member, Some(user)))
    }
}

/// Whether `user` sees the content of every message in the guilds' channels
/// it can read: people do; a bot only when its application has the
/// MESSAGE_CONTENT flag.
pub async fn may_read_all_content(state: &Domain, user: &UserRow) -> Result<bool> {
    if !user.bot {
        return Ok(true);
    }
    let flags = state.store.application(user.id).await?.map_or(0, |a| a.flags);
    Ok(flags & FLAG_MESSAGE_CONTENT != 0)
}

/// The guild, if `user` is a member: 10004 when it does not exist, 50001
/// when it does but they are not in it.
pub async fn guild(state: &Domain, user: &UserRow, id: GuildId) -> Result<GuildAccess> {
    let cached = state.cache.guild(state.store.as_ref(), id).await?.ok_or_else(Error::unknown_guild)?;
    let member = state.cache.member(state.store.as_ref(), id, user.id).await?.ok_or_else(Error::missing_access)?;
    let mut access = GuildAccess { guild: cached.guild.clone(), member, roles: cached.roles.clone(), permissions: 0 };
    access.permissions = access.with(&access.member, permissions::guild_permissions);
    Ok(access)
}

/// The channel, if `user` can see it: 10003 when it does not exist, 50001
/// when they may not view it.
pub async fn channel(state: &Domain, user: &UserRow, id: ChannelId) -> Result<ChannelAccess> {
    let channel = state.cache.channel(state.store.as_ref(), id).await?.ok_or_else(Error::unknown_channel)?;
    let access = match channel.guild_id {
        Some(guild_id) => {
            let guild = guild(state, user, guild_id).await?;
            let overwrites = state.cache.overwrites(state.store.as_ref(), id).await?.to_vec();
            let permissions = guild.in_channel(&overwrites);
            ChannelAccess {
                channel,
                permissions,
                guild: Some(guild),
                overwrites,
                recipients: Vec::new(),
                webhook: false,
            }
        }
        None => {
            let recipients = state.store.dm_recipients(id).await?;
            if !recipients.contains(&user.id) {
                return Err(Error::missing_access());
            }
            ChannelAccess {
                channel,
                guild: None,
                overwrites: Vec::new(),
                recipients,
                permissions: bits::DM,
                webhook: false,
            }
        }
    };
    if !access.has(bits::VIEW_CHANNEL) {
        return Err(Error::missing_access());
    }
    Ok(access)
}

/// The channel a webhook posts to, as the webhook stands there: no member
/// (an empty stand-in for the permission helpers, which see it as having
/// no roles), `WEBHOOK_PERMISSIONS`.
pub async fn webhook_channel(state: &Domain, hook: &store::WebhookRow) -> Result<ChannelAccess> {
    let channel =
        state.cache.channel(state.store.as_ref(), hook.channel_id).await?.ok_or_else(Error::unknown_channel)?;
    let cached = state.cache.guild(state.store.as_ref(), hook.guild_id).await?.ok_or_else(Error::unknown_guild)?;
    let member = MemberRow {
        guild_id: hook.guild_id,
        user_id: hook.user_id(),
        nick: None,
        roles: Vec::new(),
        joined_at: hook.created_at,
        deaf: false,
        mute: false,
        communication_disabled_until: None,
    };
    let guild = GuildAccess {
        guild: cached.guild.clone(),
        member,
        roles: cached.roles.clone(),
        permissions: WEBHOOK_PERMISSIONS,
    };
    let overwrites = state.cache.overwrites(state.store.as_ref(), channel.id).await?.to_vec();
    Ok(ChannelAccess {
        channel,
        guild: Some(guild),
        overwrites,
        recipients: Vec::new(),
        permissions: WEBHOOK_PERMISSIONS,
        webhook: true,
    })
}

/// The read states of `user`'s that name a channel they can see now: a
/// channel they lost sight of (or never had) is not listed in READY, so
/// its id and last message stay theirs to forget.
pub async fn visible_read_states(
    store: &dyn store::Store,
    user: UserId,
    rows: Vec<store::ReadStateRow>,
) -> Result<Vec<store::ReadStateRow>, store::StoreError> {
    let mut guilds: std::collections::HashMap<GuildId, Option<GuildAccess>> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(channel) = store.channel(row.channel_id).await? else { continue };
        let visible = match channel.guild_id {
            None => store.dm_recipients(channel.id).await?.contains(&user),
            Some(g) => {
                if !guilds.contains_key(&g) {
                    let access = match (store.guild(g).await?, store.member(g, user).await?) {
                        (Some(guild), Some(member)) => {
                            let roles = store.roles(g).await?;
                            let mut access = GuildAccess { guild, member, roles, permissions: 0 };
                            access.permissions = access.with(&access.member, permissions::guild_permissions);
                            Some(access)
                        }
                        _ => None,
                    };
                    guilds.insert(g, access);
                }
                match &guilds[&g] {
                    Some(access) => access.in_channel(&store.overwrites(channel.id).await?) & bits::VIEW_CHANNEL != 0,
                    None => false,
                }
            }
        };
        if visible {
            out.push(row);
        }
    }
    Ok(out)
}

/// Whether `from` may write to `to` in a DM, as on Discord: 50007 unless
/// they are friends or share a guild, and never while either blocks the
/// other.
pub async fn may_dm(state: &Domain, from: UserId, to: UserId) -> Result<()> {
    if from == to
        || state.store.blocked_between(from, to).await?
        || !state.store.friends_or_guildmates(from, to).await?
    {
        return Err(Error::cannot_dm());
    }
    Ok(())
}

/// The other recipient of a DM channel.
pub async fn dm_peer(state: &Domain, channel: ChannelId, me: UserId) -> Result<Option<UserId>> {
    let recipients = state.store.dm_recipients(channel).await?;
    Ok(recipients.into_iter().find(|u| *u != me))
}

/// Whether some member of the guild may not view a channel with these
/// overwrites: @everyone lacks VIEW_CHANNEL, or an overwrite denies it.
pub fn hidden_from_some(guild: &GuildAccess, overwrites: &[OverwriteRow]) -> bool {
    let everyone = guild.roles.iter().find(|r| r.id.get() == guild.guild.id.get()).map_or(0, |r| r.permissions);
    let open = everyone & bits::ADMINISTRATOR != 0
        || (everyone & bits::VIEW_CHANNEL != 0 && overwrites.iter().all(|o| o.deny & bits::VIEW_CHANNEL == 0));
    !open
}

/// For a new message's mention counts in a channel hidden from some
/// members: who among those it may reach may view the channel (nobody
/// else's count goes up). `None` when every member may view it. Only a
/// message that mentions @everyone or a role in such a channel needs the
/// guild's members read; one that names users asks about those users
/// alone, and one that mentions nobody reads nothing. (Who receives the
/// message is the gateway's to decide, not this.)
pub async fn mention_viewers(
    state: &Domain,
    guild: &GuildAccess,
    overwrites: &[OverwriteRow],
    message: &store::MessageRow,
) -> Result<Option<Vec<UserId>>> {
    if !hidden_from_some(guild, overwrites) {
        return Ok(None);
    }
    let sees = |m: &MemberRow| guild.permissions_of(m, overwrites) & bits::VIEW_CHANNEL != 0;
    let mut out = Vec::new();
    if message.mention_everyone || !message.mention_roles.is_empty() {
        let mut after = None;
        loop {
            let page = state.store.members(guild.guild.id, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.user_id);
            out.extend(page.iter().filter(|m| sees(m)).map(|m| m.user_id));
        }
    } else {
        for user in &message.mentions {
            if let Some(m) = state.store.member(guild.guild.id, *user).await? {
                if sees(&m) {
                    out.push(m.user_id);
                }
            }
        }
    }
    Ok(Some(out))
}
