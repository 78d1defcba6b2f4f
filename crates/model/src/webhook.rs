//! Webhooks: a channel's way in for systems that are not bots.

use serde::{Deserialize, Serialize};

use crate::id::{ApplicationMarker, ChannelMarker, GuildMarker, Id, WebhookMarker};
use crate::user::User;

/// Discord's webhook types.
pub mod kind {
    /// Posts through its token.
    pub const INCOMING: u8 = 1;
    /// Made by an application (interaction responses).
    pub const APPLICATION: u8 = 3;
}

/// Discord's webhook object. `user` (its creator) and `token` are shown to
/// those who manage webhooks, not to a caller holding only the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: Id<WebhookMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub guild_id: Option<Id<GuildMarker>>,
    pub channel_id: Option<Id<ChannelMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub application_id: Option<Id<ApplicationMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}
