//! Voice: who is in which voice channel, and where their voice server is.

use serde::{Deserialize, Serialize};

use crate::guild::Member;
use crate::id::{ChannelMarker, GuildMarker, UserMarker};
use crate::{Id, Timestamp};

/// A user's voice connection state (`VOICE_STATE_UPDATE`, GUILD_CREATE's
/// `voice_states`). `channel_id` is `null` once the user left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    pub channel_id: Option<Id<ChannelMarker>>,
    pub user_id: Id<UserMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    pub session_id: String,
    /// Deafened by a moderator.
    pub deaf: bool,
    /// Muted by a moderator.
    pub mute: bool,
    pub self_deaf: bool,
    pub self_mute: bool,
    #[serde(default)]
    pub self_stream: bool,
    pub self_video: bool,
    /// Muted because the member may not speak here (stage channels).
    pub suppress: bool,
    pub request_to_speak_timestamp: Option<Timestamp>,
}

/// `VOICE_SERVER_UPDATE`: where to open the voice connection for a guild.
/// `endpoint` is `host:port` without a scheme; `null` when no voice server
/// is available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceServerUpdate {
    pub token: String,
    pub guild_id: Id<GuildMarker>,
    pub endpoint: Option<String>,
}

/// A voice region (`GET /voice/regions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceRegion {
    pub id: String,
    pub name: String,
    pub optimal: bool,
    pub deprecated: bool,
    pub custom: bool,
}
