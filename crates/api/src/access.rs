//! Who may do what: the one place the API asks. Today it computes a
//! member's guild-level permissions from the owner flag, @everyone and
//! their roles; channel overwrites and the full algorithm replace the body
//! of `permissions_in` without touching any route.

use model::permissions::{self, ADMINISTRATOR};
use store::{ChannelId, ChannelRow, GuildId, GuildRow, MemberRow, UserId, UserRow};

use crate::error::{ApiError, ApiResult};
use crate::publish::Place;
use crate::ApiState;

/// A user's standing in a guild they belong to.
pub struct GuildAccess {
    pub guild: GuildRow,
    pub member: MemberRow,
    pub permissions: u64,
}

impl GuildAccess {
    pub fn is_owner(&self) -> bool {
        self.guild.owner_id == self.member.user_id
    }

    pub fn require(&self, perms: u64) -> ApiResult<()> {
        if self.permissions & perms == perms {
            Ok(())
        } else {
            Err(ApiError::missing_permissions())
        }
    }
}

/// A user's standing in a channel: guild channel or DM.
pub struct ChannelAccess {
    pub channel: ChannelRow,
    /// `None` in DMs.
    pub guild: Option<GuildAccess>,
    /// Both recipients of a DM; empty for guild channels.
    pub recipients: Vec<UserId>,
    pub permissions: u64,
}

impl ChannelAccess {
    pub fn guild_id(&self) -> Option<GuildId> {
        self.channel.guild_id
    }

    pub fn require(&self, perms: u64) -> ApiResult<()> {
        if self.permissions & perms == perms {
            Ok(())
        } else {
            Err(ApiError::missing_permissions())
        }
    }

    pub fn has(&self, perms: u64) -> bool {
        self.permissions & perms == perms
    }

    /// Where this channel's events go.
    pub fn place(&self) -> Place {
        match self.channel.guild_id {
            Some(guild) => Place::Guild { guild, channel: self.channel.id },
            None => Place::Dm { channel: self.channel.id, recipients: self.recipients.clone() },
        }
    }

    /// The caller's member object, in guild channels.
    pub fn member(&self) -> Option<model::guild::Member> {
        self.guild.as_ref().map(|g| crate::render::member(&g.member, None))
    }
}

/// The guild, if `user` is a member: 10004 when it does not exist, 50001
/// when it does but they are not in it.
pub async fn guild(state: &ApiState, user: &UserRow, id: GuildId) -> ApiResult<GuildAccess> {
    let guild = state.store.guild(id).await?.ok_or_else(ApiError::unknown_guild)?;
    let member = state.store.member(id, user.id).await?.ok_or_else(ApiError::missing_access)?;
    let permissions = if guild.owner_id == user.id {
        permissions::ALL
    } else {
        let roles = state.store.roles(id).await?;
        let base = roles
            .iter()
            .filter(|r| r.id.get() == id.get() || member.roles.contains(&r.id))
            .fold(0, |acc, r| acc | r.permissions);
        if base & ADMINISTRATOR != 0 {
            permissions::ALL
        } else {
            base
        }
    };
    Ok(GuildAccess { guild, member, permissions })
}

/// The channel, if `user` can see it: 10003 when it does not exist, 50001
/// when they may not view it.
pub async fn channel(state: &ApiState, user: &UserRow, id: ChannelId) -> ApiResult<ChannelAccess> {
    let channel = state.store.channel(id).await?.ok_or_else(ApiError::unknown_channel)?;
    let access = match channel.guild_id {
        Some(guild_id) => {
            let guild = guild(state, user, guild_id).await?;
            let permissions = permissions_in(&guild, &channel);
            ChannelAccess { channel, permissions, guild: Some(guild), recipients: Vec::new() }
        }
        None => {
            let recipients = state.store.dm_recipients(id).await?;
            if !recipients.contains(&user.id) {
                return Err(ApiError::missing_access());
            }
            ChannelAccess { channel, guild: None, recipients, permissions: permissions::DM }
        }
    };
    if !access.has(permissions::VIEW_CHANNEL) {
        return Err(ApiError::missing_access());
    }
    Ok(access)
}

/// A member's permissions in one of the guild's channels.
fn permissions_in(guild: &GuildAccess, _channel: &ChannelRow) -> u64 {
    guild.permissions
}

/// The other recipient of a DM channel.
pub async fn dm_peer(state: &ApiState, channel: ChannelId, me: UserId) -> ApiResult<Option<UserId>> {
    let recipients = state.store.dm_recipients(channel).await?;
    Ok(recipients.into_iter().find(|u| *u != me))
}
