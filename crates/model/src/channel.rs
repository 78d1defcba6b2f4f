//! Channels: guild text, voice and category channels, and DMs.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{ChannelMarker, GenericMarker, GuildMarker, Id, MessageMarker};
use crate::timestamp::Timestamp;
use crate::user::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelType {
    GuildText,
    Dm,
    GuildVoice,
    GuildCategory,
    Unknown(u8),
}

impl ChannelType {
    pub const fn code(self) -> u8 {
        match self {
            Self::GuildText => 0,
            Self::Dm => 1,
            Self::GuildVoice => 2,
            Self::GuildCategory => 4,
            Self::Unknown(n) => n,
        }
    }

    pub const fn from_code(n: u8) -> Self {
        match n {
            0 => Self::GuildText,
            1 => Self::Dm,
            2 => Self::GuildVoice,
            4 => Self::GuildCategory,
            n => Self::Unknown(n),
        }
    }

    /// Channels that hold messages (voice channels have text chat too).
    pub const fn is_textual(self) -> bool {
        matches!(self, Self::GuildText | Self::Dm | Self::GuildVoice)
    }
}

impl fmt::Display for ChannelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl Serialize for ChannelType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for ChannelType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u8::deserialize(d).map(Self::from_code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionOverwrite {
    /// A role id or a user id, as `type` says (0 role, 1 member).
    pub id: Id<GenericMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub allow: String,
    pub deny: String,
}

/// One struct for every channel type; fields that do not apply to a type are
/// left out of its JSON, as Discord does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: Id<ChannelMarker>,
    #[serde(rename = "type")]
    pub kind: ChannelType,
    pub flags: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_overwrites: Option<Vec<PermissionOverwrite>>,
    /// `Some(None)` is serialised as `null`: guild channels always carry it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub parent_id: Option<Option<Id<ChannelMarker>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub topic: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsfw: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_user: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub rtc_region: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub last_message_id: Option<Option<Id<MessageMarker>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub last_pin_timestamp: Option<Option<Timestamp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<User>>,
}
