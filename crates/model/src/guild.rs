//! Guilds, roles and members.

use serde::{Deserialize, Serialize};

use crate::id::{ApplicationMarker, ChannelMarker, GuildMarker, Id, RoleMarker, UserMarker};
use crate::timestamp::Timestamp;
use crate::user::User;

/// A guild with every field strict clients (twilight) require.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guild {
    pub id: Id<GuildMarker>,
    pub name: String,
    pub icon: Option<String>,
    pub description: Option<String>,
    pub home_header: Option<String>,
    pub splash: Option<String>,
    pub discovery_splash: Option<String>,
    pub features: Vec<String>,
    pub banner: Option<String>,
    pub owner_id: Id<UserMarker>,
    pub application_id: Option<Id<ApplicationMarker>>,
    pub region: String,
    pub afk_channel_id: Option<Id<ChannelMarker>>,
    pub afk_timeout: u32,
    pub system_channel_id: Option<Id<ChannelMarker>>,
    pub system_channel_flags: u32,
    pub widget_enabled: bool,
    pub widget_channel_id: Option<Id<ChannelMarker>>,
    pub verification_level: u8,
    pub roles: Vec<Role>,
    pub default_message_notifications: u8,
    pub mfa_level: u8,
    pub explicit_content_filter: u8,
    pub max_presences: Option<u32>,
    pub max_members: u32,
    pub max_stage_video_channel_users: u32,
    pub max_video_channel_users: u32,
    pub vanity_url_code: Option<String>,
    pub premium_tier: u8,
    pub premium_subscription_count: u32,
    pub preferred_locale: String,
    pub rules_channel_id: Option<Id<ChannelMarker>>,
    pub safety_alerts_channel_id: Option<Id<ChannelMarker>>,
    pub public_updates_channel_id: Option<Id<ChannelMarker>>,
    pub premium_progress_bar_enabled: bool,
    pub nsfw: bool,
    pub nsfw_level: u8,
    pub emojis: Vec<crate::expression::Emoji>,
    pub stickers: Vec<crate::expression::Sticker>,
    pub incidents_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_presence_count: Option<u64>,
}

/// An entry of `GET /users/@me/guilds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserGuild {
    pub id: Id<GuildMarker>,
    pub name: String,
    pub icon: Option<String>,
    pub banner: Option<String>,
    pub owner: bool,
    /// Decimal string, as every permission set on the wire.
    pub permissions: String,
    pub features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_member_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_presence_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleColors {
    pub primary_color: u32,
    pub secondary_color: Option<u32>,
    pub tertiary_color: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: Id<RoleMarker>,
    pub name: String,
    pub description: Option<String>,
    pub permissions: String,
    pub position: i32,
    pub color: u32,
    pub colors: RoleColors,
    pub hoist: bool,
    pub managed: bool,
    pub mentionable: bool,
    pub icon: Option<String>,
    pub unicode_emoji: Option<String>,
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub nick: Option<String>,
    pub avatar: Option<String>,
    pub banner: Option<String>,
    pub roles: Vec<Id<RoleMarker>>,
    pub joined_at: Timestamp,
    pub premium_since: Option<Timestamp>,
    pub deaf: bool,
    pub mute: bool,
    pub flags: u32,
    pub pending: bool,
    pub communication_disabled_until: Option<Timestamp>,
}
