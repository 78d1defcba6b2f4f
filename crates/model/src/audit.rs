//! The guild audit log and AutoMod rules as the API and gateway show them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ChannelMarker, GuildMarker, Id, RoleMarker, UserMarker};

/// One audit log entry (`GET /guilds/{id}/audit-logs`, and the
/// `GUILD_AUDIT_LOG_ENTRY_CREATE` dispatch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLogEntry {
    pub id: String,
    pub user_id: Option<Id<UserMarker>>,
    pub target_id: Option<String>,
    pub action_type: u16,
    /// `{key, old_value, new_value}` per changed field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An AutoMod rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoModRule {
    pub id: String,
    pub guild_id: Id<GuildMarker>,
    pub creator_id: Id<UserMarker>,
    pub name: String,
    pub event_type: u8,
    pub trigger_type: u16,
    pub trigger_metadata: Value,
    pub actions: Vec<AutoModAction>,
    pub enabled: bool,
    pub exempt_roles: Vec<Id<RoleMarker>>,
    pub exempt_channels: Vec<Id<ChannelMarker>>,
}

/// What a rule does when it matches: its type and that type's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoModAction {
    #[serde(rename = "type")]
    pub kind: u8,
    pub metadata: Value,
}
