//! Gateway payloads the server sends that have no REST counterpart.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channel::Channel;
use crate::guild::{Guild, Member};
use crate::id::{ApplicationMarker, GuildMarker, Id, UserMarker};
use crate::timestamp::Timestamp;
use crate::user::CurrentUser;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnavailableGuild {
    pub id: Id<GuildMarker>,
    pub unavailable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyApplication {
    pub id: Id<ApplicationMarker>,
    pub flags: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    pub v: u8,
    pub user: CurrentUser,
    pub guilds: Vec<UnavailableGuild>,
    pub session_id: String,
    pub resume_gateway_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<[u64; 2]>,
    /// Bots only: the application the bot belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ReadyApplication>,
    pub private_channels: Vec<Channel>,
    pub relationships: Vec<Value>,
    /// People only: how far each channel was read (`{version, partial, entries}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_state: Option<Value>,
    pub presences: Vec<Value>,
    pub guild_join_requests: Vec<Value>,
    pub user_settings: Value,
    pub session_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceUser {
    pub id: Id<UserMarker>,
}

/// A user's status as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user: PresenceUser,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    /// online, idle, dnd or offline (invisible users appear offline).
    pub status: String,
    pub activities: Vec<Value>,
    pub client_status: Value,
}

/// A guild as the gateway delivers it: the guild and its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildCreate {
    #[serde(flatten)]
    pub guild: Guild,
    pub joined_at: Timestamp,
    pub large: bool,
    pub unavailable: bool,
    pub member_count: u64,
    pub voice_states: Vec<crate::voice::VoiceState>,
    pub members: Vec<Member>,
    pub channels: Vec<Channel>,
    pub threads: Vec<Value>,
    pub presences: Vec<Presence>,
    pub stage_instances: Vec<Value>,
    pub guild_scheduled_events: Vec<Value>,
    pub soundboard_sounds: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildMembersChunk {
    pub guild_id: Id<GuildMarker>,
    pub members: Vec<Member>,
    pub chunk_index: u32,
    pub chunk_count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<Id<UserMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presences: Option<Vec<Presence>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}
