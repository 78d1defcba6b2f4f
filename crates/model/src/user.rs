//! Users as other people see them, and as they see themselves.

use serde::{Deserialize, Serialize};

use crate::id::{Id, UserMarker};

/// A user as anyone may see them (Discord's `UserResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id<UserMarker>,
    pub username: String,
    /// Always `"0"`: usernames are unique, as on Discord since 2023.
    pub discriminator: String,
    pub global_name: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
    pub system: bool,
    pub public_flags: u64,
    pub flags: u64,
    pub banner: Option<String>,
    pub accent_color: Option<u32>,
    pub avatar_decoration_data: Option<serde_json::Value>,
    pub primary_guild: Option<serde_json::Value>,
}

/// The authenticated user's own view (`UserPIIResponse`): adds private fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    #[serde(flatten)]
    pub user: User,
    pub mfa_enabled: bool,
    pub locale: String,
    pub verified: bool,
    pub email: Option<String>,
    pub premium_type: u8,
}

/// A friend, a block or a pending friend request, as its owner sees it
/// (Discord's relationship object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    /// The other user's id.
    pub id: Id<UserMarker>,
    /// 1 friend, 2 blocked, 3 incoming request, 4 outgoing request.
    #[serde(rename = "type")]
    pub kind: u8,
    pub user: User,
    pub nickname: Option<String>,
    pub since: crate::Timestamp,
}

/// A person's client settings (Discord's legacy `user_settings` object, as
/// `GET /users/@me/settings` answers and READY carries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSettings {
    /// `online`, `idle`, `dnd` or `invisible`.
    pub status: String,
    pub custom_status: Option<CustomStatus>,
    /// `dark` or `light`.
    pub theme: String,
    pub locale: String,
    pub message_display_compact: bool,
    pub developer_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomStatus {
    pub text: Option<String>,
    /// Custom emoji are not supported: always `null`.
    pub emoji_id: Option<crate::Id<crate::id::GenericMarker>>,
    pub emoji_name: Option<String>,
    pub expires_at: Option<crate::Timestamp>,
}
