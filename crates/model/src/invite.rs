//! Guild invites.

use serde::{Deserialize, Serialize};

use crate::channel::ChannelType;
use crate::id::{ChannelMarker, GuildMarker, Id};
use crate::timestamp::Timestamp;
use crate::user::User;

/// The slice of a guild an invite shows to someone not yet in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteGuild {
    pub id: Id<GuildMarker>,
    pub name: String,
    pub splash: Option<String>,
    pub banner: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub features: Vec<String>,
    pub verification_level: u8,
    pub vanity_url_code: Option<String>,
    pub nsfw_level: u8,
    pub nsfw: bool,
    pub premium_subscription_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteChannel {
    pub id: Id<ChannelMarker>,
    #[serde(rename = "type")]
    pub kind: ChannelType,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// 0: guild invite.
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: String,
    pub guild: InviteGuild,
    pub guild_id: Id<GuildMarker>,
    pub channel: InviteChannel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<User>,
    pub expires_at: Option<Timestamp>,
    /// Metadata only the guild's members see (create and list routes).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<InviteMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_presence_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteMetadata {
    pub uses: u32,
    pub max_uses: u32,
    pub max_age: u32,
    pub temporary: bool,
    pub created_at: Timestamp,
}
