//! Opcodes, close codes and the payloads clients send.

use serde::Deserialize;
use serde_json::Value;

pub mod op {
    pub const HEARTBEAT: u8 = 1;
    pub const IDENTIFY: u8 = 2;
    pub const PRESENCE_UPDATE: u8 = 3;
    pub const VOICE_STATE_UPDATE: u8 = 4;
    pub const RESUME: u8 = 6;
    pub const RECONNECT: u8 = 7;
    pub const REQUEST_GUILD_MEMBERS: u8 = 8;
    pub const INVALID_SESSION: u8 = 9;
    pub const HELLO: u8 = 10;
    pub const HEARTBEAT_ACK: u8 = 11;
}

/// Close codes with Discord's meanings. Clients resume after every code
/// but 4004 and 4010–4014.
pub mod close {
    pub const UNKNOWN_ERROR: u16 = 4000;
    pub const UNKNOWN_OPCODE: u16 = 4001;
    pub const DECODE_ERROR: u16 = 4002;
    pub const NOT_AUTHENTICATED: u16 = 4003;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_SEQ: u16 = 4007;
    pub const RATE_LIMITED: u16 = 4008;
    pub const SESSION_TIMED_OUT: u16 = 4009;
    pub const INVALID_SHARD: u16 = 4010;
    pub const SHARDING_REQUIRED: u16 = 4011;
    pub const INVALID_API_VERSION: u16 = 4012;
    pub const INVALID_INTENTS: u16 = 4013;
    pub const DISALLOWED_INTENTS: u16 = 4014;
}

/// Any payload a client sends: `{op, d, s?, t?}`.
#[derive(Debug, Deserialize)]
pub struct Incoming {
    pub op: u8,
    #[serde(default)]
    pub d: Value,
}

#[derive(Debug, Deserialize)]
pub struct Identify {
    pub token: String,
    pub intents: Option<u64>,
    pub shard: Option<[u64; 2]>,
    #[serde(default)]
    pub compress: bool,
    pub presence: Option<PresenceUpdate>,
    #[serde(default)]
    pub large_threshold: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Resume {
    pub token: String,
    pub session_id: String,
    /// Last sequence number the client received; `null` for none.
    pub seq: Option<u64>,
}

/// Op 3 (and IDENTIFY's `presence`); `since` and `afk` are accepted and
/// not used.
#[derive(Debug, Clone, Deserialize)]
pub struct PresenceUpdate {
    #[serde(default)]
    pub activities: Option<Vec<Value>>,
    pub status: String,
}

/// Op 4: join, move or leave (`channel_id: null`) voice in a guild.
#[derive(Debug, Deserialize)]
pub struct VoiceStateRequest {
    pub guild_id: model::Id<model::id::GuildMarker>,
    #[serde(default)]
    pub channel_id: Option<model::Id<model::id::ChannelMarker>>,
    #[serde(default)]
    pub self_mute: bool,
    #[serde(default)]
    pub self_deaf: bool,
    #[serde(default)]
    pub self_video: bool,
    #[serde(default)]
    pub self_stream: bool,
}

#[derive(Debug, Deserialize)]
pub struct RequestGuildMembers {
    pub guild_id: model::Id<model::id::GuildMarker>,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub presences: bool,
    #[serde(default)]
    pub user_ids: Option<UserIds>,
    #[serde(default)]
    pub nonce: Option<String>,
}

/// `user_ids` may be one id or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum UserIds {
    One(model::Id<model::id::UserMarker>),
    Many(Vec<model::Id<model::id::UserMarker>>),
}

impl UserIds {
    pub fn into_vec(self) -> Vec<model::Id<model::id::UserMarker>> {
        match self {
            Self::One(id) => vec![id],
            Self::Many(ids) => ids,
        }
    }
}
