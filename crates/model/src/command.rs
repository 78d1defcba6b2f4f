//! Application commands: slash commands (`CHAT_INPUT`) and the user and
//! message context-menu commands an application registers, globally or for
//! one guild.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::id::{ApplicationMarker, CommandMarker, GenericMarker, GuildMarker, Id};

/// Discord's command types.
pub mod kind {
    pub const CHAT_INPUT: u8 = 1;
    pub const USER: u8 = 2;
    pub const MESSAGE: u8 = 3;
}

/// Discord's option types.
pub mod option_kind {
    pub const SUB_COMMAND: u8 = 1;
    pub const SUB_COMMAND_GROUP: u8 = 2;
    pub const STRING: u8 = 3;
    pub const INTEGER: u8 = 4;
    pub const BOOLEAN: u8 = 5;
    pub const USER: u8 = 6;
    pub const CHANNEL: u8 = 7;
    pub const ROLE: u8 = 8;
    pub const MENTIONABLE: u8 = 9;
    pub const NUMBER: u8 = 10;
    pub const ATTACHMENT: u8 = 11;
}

/// A locale → text map (`name_localizations`, `description_localizations`).
pub type Localizations = BTreeMap<String, String>;

/// An application command as Discord sends it.
///
/// The localization maps are `None` when left out of the answer (a list
/// read without `with_localizations`), `Some(None)` for a `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationCommand {
    pub id: Id<CommandMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub application_id: Id<ApplicationMarker>,
    /// Guild commands only; global commands have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Id<GuildMarker>>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub name_localizations: Option<Option<Localizations>>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub description_localizations: Option<Option<Localizations>>,
    #[serde(default)]
    pub options: Vec<CommandOption>,
    /// Permission bits as a decimal string; `null` for everyone.
    pub default_member_permissions: Option<String>,
    /// Global commands only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_permission: Option<bool>,
    pub contexts: Option<Vec<u8>>,
    pub integration_types: Vec<u8>,
    pub nsfw: bool,
    /// A new snowflake whenever the command changes.
    pub version: Id<GenericMarker>,
}

/// One option of a command (or of a subcommand or group); only the fields
/// its type allows are present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandOption {
    #[serde(rename = "type")]
    pub kind: u8,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub name_localizations: Option<Option<Localizations>>,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub description_localizations: Option<Option<Localizations>>,
    /// Present only when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<CommandChoice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<CommandOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_types: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<bool>,
}

/// A fixed choice of a STRING, INTEGER or NUMBER option; `value` is of the
/// option's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandChoice {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::nullable")]
    pub name_localizations: Option<Option<Localizations>>,
    pub value: Value,
}

/// `GET …/commands/permissions`: the permissions of one command in a guild
/// (or, with the application's id as `id`, of all its commands there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildCommandPermissions {
    pub id: Id<GenericMarker>,
    pub application_id: Id<ApplicationMarker>,
    pub guild_id: Id<GuildMarker>,
    pub permissions: Vec<CommandPermission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandPermission {
    pub id: Id<GenericMarker>,
    #[serde(rename = "type")]
    pub kind: u8,
    pub permission: bool,
}

impl CommandOption {
    /// The same option without its localization maps, nested ones included
    /// (a list read without `with_localizations`).
    pub fn without_localizations(mut self) -> Self {
        self.name_localizations = None;
        self.description_localizations = None;
        if let Some(choices) = &mut self.choices {
            for c in choices {
                c.name_localizations = None;
            }
        }
        self.options = self.options.map(|o| o.into_iter().map(CommandOption::without_localizations).collect());
        self
    }
}
