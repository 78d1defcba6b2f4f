//! Custom emojis and stickers: a guild's expressions.

use serde::{Deserialize, Serialize};

use crate::id::{EmojiMarker, GuildMarker, Id, RoleMarker, StickerMarker};
use crate::user::User;

/// A guild's custom emoji, as Discord's emoji object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emoji {
    pub id: Id<EmojiMarker>,
    pub name: String,
    /// Roles allowed to use it; empty: everyone.
    pub roles: Vec<Id<RoleMarker>>,
    /// Who uploaded it: shown to those who manage the guild's expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub require_colons: bool,
    pub managed: bool,
    pub animated: bool,
    pub available: bool,
}

/// Sticker formats (`format_type`).
pub mod sticker_format {
    pub const PNG: u8 = 1;
    pub const APNG: u8 = 2;
    pub const LOTTIE: u8 = 3;
    pub const GIF: u8 = 4;
}

/// A guild sticker, as Discord's sticker object (`type` 2: guild).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sticker {
    pub id: Id<StickerMarker>,
    pub name: String,
    pub description: Option<String>,
    /// Autocomplete words, comma-separated, as Discord keeps them.
    pub tags: String,
    #[serde(rename = "type")]
    pub kind: u8,
    pub format_type: u8,
    pub available: bool,
    pub guild_id: Id<GuildMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

/// A sticker as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StickerItem {
    pub id: Id<StickerMarker>,
    pub name: String,
    pub format_type: u8,
}
