//! Interactions: a person using an application's command, component or
//! modal, as the application receives it, and the notices the person's own
//! client gets about it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channel::Channel;
use crate::guild::Member;
use crate::id::{ApplicationMarker, ChannelMarker, GuildMarker, Id, InteractionMarker};
use crate::message::Message;
use crate::user::User;

/// Interaction types.
pub mod kind {
    pub const PING: u8 = 1;
    pub const APPLICATION_COMMAND: u8 = 2;
    pub const MESSAGE_COMPONENT: u8 = 3;
    pub const AUTOCOMPLETE: u8 = 4;
    pub const MODAL_SUBMIT: u8 = 5;
}

/// Interaction callback types.
pub mod callback {
    pub const PONG: u8 = 1;
    pub const CHANNEL_MESSAGE_WITH_SOURCE: u8 = 4;
    pub const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u8 = 5;
    pub const DEFERRED_UPDATE_MESSAGE: u8 = 6;
    pub const UPDATE_MESSAGE: u8 = 7;
    pub const APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: u8 = 8;
    pub const MODAL: u8 = 9;
}

/// The invoker as a guild member, with their permissions in the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionMember {
    #[serde(flatten)]
    pub member: Member,
    pub permissions: String,
}

/// Discord's interaction object, as INTERACTION_CREATE and an HTTP
/// interactions endpoint deliver it to the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: Id<InteractionMarker>,
    pub application_id: Id<ApplicationMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    /// The command, component or modal data; absent on PING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Id<ChannelMarker>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Box<Channel>>,
    /// In guilds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Box<InteractionMember>>,
    /// In DMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub token: String,
    pub version: u8,
    /// The message a component belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Message>>,
    /// The application's own permissions in the channel.
    pub app_permissions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_locale: Option<String>,
    pub entitlements: Vec<Value>,
    /// `"0"` (guild install) → the guild's id, `"1"` (user install) → the user's.
    pub authorizing_integration_owners: BTreeMap<String, String>,
    /// 0 guild, 1 bot DM, 2 private channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u8>,
    pub attachment_size_limit: u64,
}

/// What the invoker's own sessions hear: their interaction was created,
/// answered or failed (`INTERACTION_CREATE`, `INTERACTION_SUCCESS`,
/// `INTERACTION_FAILURE`), by its id and the nonce their client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionNotice {
    pub id: Id<InteractionMarker>,
    pub nonce: Option<String>,
}

/// INTERACTION_CREATE carries the full interaction to the application and
/// a notice to the invoker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InteractionEvent {
    Full(Box<Interaction>),
    Notice(InteractionNotice),
}

/// A modal the application opened, to the invoker's sessions
/// (`INTERACTION_MODAL_CREATE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalCreate {
    pub id: Id<InteractionMarker>,
    pub nonce: Option<String>,
    pub channel_id: Id<ChannelMarker>,
    pub application_id: Id<ApplicationMarker>,
    pub custom_id: String,
    pub title: String,
    pub components: Vec<Value>,
}

/// Autocomplete choices, to the invoker's sessions
/// (`APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutocompleteResponse {
    pub nonce: Option<String>,
    pub choices: Vec<Value>,
}
