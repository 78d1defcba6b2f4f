//! Messages, replies and reactions.

use serde::{Deserialize, Serialize};

use crate::id::{AttachmentMarker, ChannelMarker, GuildMarker, Id, MessageMarker, RoleMarker};
use crate::timestamp::Timestamp;
use crate::user::User;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReference {
    /// 0 default (reply), 1 forward.
    #[serde(rename = "type")]
    pub kind: u8,
    pub message_id: Id<MessageMarker>,
    pub channel_id: Id<ChannelMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
}

/// A rich embed, as Discord's embed object: only the fields it was sent
/// with, plus `type`. Images carry `proxy_url`, `width` and `height` when
/// they name one of the message's own files (`attachment://`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Embed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(rename = "type", default = "rich")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ISO 8601, as Discord writes it: no fraction when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<EmbedFooter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<EmbedMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<EmbedMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<EmbedMedia>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<EmbedProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<EmbedAuthor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedField>,
}

fn rich() -> String {
    "rich".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedFooter {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
}

/// An embed's image, thumbnail or video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedMedia {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedAuthor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_icon_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedField {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub inline: bool,
}

/// A file attached to a message, as Discord's attachment object; the
/// optional fields that do not apply are left out, as Discord does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: Id<AttachmentMarker>,
    pub filename: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub size: u64,
    /// Signed and expiring, as Discord's CDN URLs.
    pub url: String,
    pub proxy_url: String,
    /// Images only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// Voice messages only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waveform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionEmoji {
    /// Custom emoji id; `None` for Unicode emoji.
    pub id: Option<Id<crate::id::GenericMarker>>,
    /// `null` for a custom emoji that no longer exists.
    pub name: Option<String>,
    /// Custom emoji only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCountDetails {
    pub burst: u32,
    pub normal: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: ReactionEmoji,
    pub count: u32,
    pub count_details: ReactionCountDetails,
    pub burst_colors: Vec<String>,
    pub me: bool,
    pub me_burst: bool,
}

impl Message {
    /// The message as a bot without MESSAGE_CONTENT sees it: no content,
    /// embeds, attachments or components.
    pub fn redact(&mut self) {
        self.content.clear();
        self.embeds.clear();
        self.attachments.clear();
        self.components.clear();
    }
}

/// A message. `referenced_message` is boxed: a reply carries the message it
/// answers (one level deep, as Discord does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: Id<MessageMarker>,
    pub channel_id: Id<ChannelMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    pub author: User,
    /// The author's guild member, on gateway events in guilds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<crate::guild::Member>,
    pub content: String,
    pub timestamp: Timestamp,
    pub edited_timestamp: Option<Timestamp>,
    pub tts: bool,
    pub mention_everyone: bool,
    pub mentions: Vec<User>,
    pub mention_roles: Vec<Id<RoleMarker>>,
    pub attachments: Vec<Attachment>,
    pub embeds: Vec<Embed>,
    pub components: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<serde_json::Value>,
    pub pinned: bool,
    #[serde(rename = "type")]
    pub kind: u8,
    pub flags: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
    /// Present (possibly `null` when deleted) on replies only.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub referenced_message: Option<Option<Box<Message>>>,
    /// The stickers sent with the message (`sticker_ids` on create).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sticker_items: Vec<crate::expression::StickerItem>,
    /// The webhook that sent it (the author is then the webhook, shown
    /// with the name and avatar it posted under).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<Id<crate::id::WebhookMarker>>,
}

/// Message types FussionCord creates.
pub mod kind {
    pub const DEFAULT: u8 = 0;
    pub const REPLY: u8 = 19;
}
