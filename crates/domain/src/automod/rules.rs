//! AutoMod rules as the API sees them: Discord's JSON shapes, their
//! validation, and the conversion to and from stored rows.

use model::audit::{AutoModAction, AutoModRule};
use serde_json::{json, Map, Value};

use store::{AutoModRuleId, AutoModRuleRow, ChannelId, GuildId, RoleId, UserId};

use crate::error::FormErrors;

/// Discord's trigger types, plus our extension.
pub mod trigger {
    pub const KEYWORD: u16 = 1;
    pub const SPAM: u16 = 3;
    pub const KEYWORD_PRESET: u16 = 4;
    pub const MENTION_SPAM: u16 = 5;
    /// FussionCord's extension: the toxicity classifier's score at or above
    /// `trigger_metadata.toxicity_threshold`. Discord has no type 1000.
    pub const TOXICITY: u16 = 1000;
}

/// Discord's action types.
pub mod action {
    pub const BLOCK_MESSAGE: u8 = 1;
    pub const SEND_ALERT_MESSAGE: u8 = 2;
    pub const TIMEOUT: u8 = 3;
}

/// The only event type our triggers apply to.
pub const MESSAGE_SEND: u8 = 1;

/// How many rules of a trigger type a guild may have (Discord's limits; one
/// toxicity rule, like the other classifier-backed type).
pub fn max_of_type(trigger_type: u16) -> usize {
    match trigger_type {
        trigger::KEYWORD => 6,
        _ => 1,
    }
}

const MAX_NAME: usize = 100;
const MAX_KEYWORDS: usize = 1000;
const MAX_KEYWORD_LEN: usize = 60;
const MAX_REGEXES: usize = 10;
const MAX_REGEX_LEN: usize = 260;
const MAX_ALLOW_KEYWORD: usize = 100;
const MAX_ALLOW_PRESET: usize = 1000;
const MAX_MENTIONS: u64 = 50;
const MAX_ACTIONS: usize = 5;
const MAX_CUSTOM_MESSAGE: usize = 150;
pub const MAX_TIMEOUT_SECONDS: u64 = 2_419_200;
const MAX_EXEMPT_ROLES: usize = 20;
const MAX_EXEMPT_CHANNELS: usize = 50;
/// A compiled pattern may use this much memory: Discord's patterns are
/// short, and the `regex` crate matches in linear time within it.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Keyword { keyword_filter: Vec<String>, regex_patterns: Vec<String>, allow_list: Vec<String> },
    Spam,
    KeywordPreset { presets: Vec<u8>, allow_list: Vec<String> },
    MentionSpam { mention_total_limit: u32, mention_raid_protection_enabled: bool },
    Toxicity { toxicity_threshold: f64 },
}

impl Trigger {
    pub fn kind(&self) -> u16 {
        match self {
            Trigger::Keyword { .. } => trigger::KEYWORD,
            Trigger::Spam => trigger::SPAM,
            Trigger::KeywordPreset { .. } => trigger::KEYWORD_PRESET,
            Trigger::MentionSpam { .. } => trigger::MENTION_SPAM,
            Trigger::Toxicity { .. } => trigger::TOXICITY,
        }
    }

    /// `trigger_metadata` as Discord renders it: every field present.
    pub fn metadata(&self) -> Value {
        match self {
            Trigger::Keyword { keyword_filter, regex_patterns, allow_list } => {
                json!({ "keyword_filter": keyword_filter, "regex_patterns": regex_patterns, "allow_list": allow_list })
            }
            Trigger::Spam => json!({}),
            Trigger::KeywordPreset { presets, allow_list } => json!({ "presets": presets, "allow_list": allow_list }),
            Trigger::MentionSpam { mention_total_limit, mention_raid_protection_enabled } => json!({
                "mention_total_limit": mention_total_limit,
                "mention_raid_protection_enabled": mention_raid_protection_enabled,
            }),
            Trigger::Toxicity { toxicity_threshold } => json!({ "toxicity_threshold": toxicity_threshold }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Block { custom_message: Option<String> },
    Alert { channel_id: ChannelId },
    Timeout { duration_seconds: u64 },
}

impl Action {
    pub fn kind(&self) -> u8 {
        match self {
            Action::Block { .. } => action::BLOCK_MESSAGE,
            Action::Alert { .. } => action::SEND_ALERT_MESSAGE,
            Action::Timeout { .. } => action::TIMEOUT,
        }
    }

    pub fn render(&self) -> AutoModAction {
        let metadata = match self {
            Action::Block { custom_message: Some(m) } => json!({ "custom_message": m }),
            Action::Block { custom_message: None } => json!({}),
            Action::Alert { channel_id } => json!({ "channel_id": channel_id }),
            Action::Timeout { duration_seconds } => json!({ "duration_seconds": duration_seconds }),
        };
        AutoModAction { kind: self.kind(), metadata }
    }

    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Action::Block { .. } => "block_message",
            Action::Alert { .. } => "send_alert_message",
            Action::Timeout { .. } => "timeout",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: AutoModRuleId,
    pub guild_id: GuildId,
    pub creator_id: UserId,
    pub name: String,
    pub event_type: u8,
    pub trigger: Trigger,
    pub actions: Vec<Action>,
    pub enabled: bool,
    pub exempt_roles: Vec<RoleId>,
    pub exempt_channels: Vec<ChannelId>,
}

impl Rule {
    pub fn render(&self) -> AutoModRule {
        AutoModRule {
            id: self.id.to_string(),
            guild_id: self.guild_id,
            creator_id: self.creator_id,
            name: self.name.clone(),
            event_type: self.event_type,
            trigger_type: self.trigger.kind(),
            trigger_metadata: self.trigger.metadata(),
            actions: self.actions.iter().map(Action::render).collect(),
            enabled: self.enabled,
            exempt_roles: self.exempt_roles.clone(),
            exempt_channels: self.exempt_channels.clone(),
        }
    }

    pub fn to_row(&self) -> AutoModRuleRow {
        AutoModRuleRow {
            id: self.id,
            guild_id: self.guild_id,
            creator_id: self.creator_id,
            name: self.name.clone(),
            event_type: self.event_type,
            trigger_type: self.trigger.kind(),
            trigger_metadata: self.trigger.metadata().to_string(),
            actions: json!(self.actions.iter().map(Action::render).collect::<Vec<_>>()).to_string(),
            enabled: self.enabled,
            exempt_roles: json!(self.exempt_roles).to_string(),
            exempt_channels: json!(self.exempt_channels).to_string(),
        }
    }

    /// A stored rule; it was validated when written, so any error is a
    /// corrupt row.
    pub fn from_row(row: &AutoModRuleRow) -> Result<Rule, String> {
        let mut errors = FormErrors::default();
        let metadata: Value = serde_json::from_str(&row.trigger_metadata).map_err(|e| e.to_string())?;
        let actions: Value = serde_json::from_str(&row.actions).map_err(|e| e.to_string())?;
        let trigger = parse_trigger(row.trigger_type, Some(&metadata), &mut errors);
        let actions = match actions {
            Value::Array(items) => parse_actions(&items, row.trigger_type, &mut errors),
            _ => Vec::new(),
        };
        let exempt_roles: Vec<RoleId> = serde_json::from_str(&row.exempt_roles).map_err(|e| e.to_string())?;
        let exempt_channels: Vec<ChannelId> = serde_json::from_str(&row.exempt_channels).map_err(|e| e.to_string())?;
        match (trigger, errors.is_empty()) {
            (Some(trigger), true) => Ok(Rule {
                id: row.id,
                guild_id: row.guild_id,
                creator_id: row.creator_id,
                name: row.name.clone(),
                event_type: row.event_type,
                trigger,
                actions,
                enabled: row.enabled,
                exempt_roles,
                exempt_channels,
            }),
            _ => Err(format!("automod rule {} does not validate", row.id)),
        }
    }
}

fn strings(
    meta: &Map<String, Value>,
    key: &str,
    max_items: usize,
    max_len: usize,
    errors: &mut FormErrors,
) -> Vec<String> {
    let path = format!("trigger_metadata.{key}");
    match meta.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > max_items {
                errors.add(&path, "BASE_TYPE_MAX_LENGTH", format!("Must be {max_items} or fewer in length."));
                return Vec::new();
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) if (1..=max_len).contains(&s.chars().count()) => out.push(s.to_owned()),
                    Some(_) => errors.add(
                        &format!("{path}.{i}"),
                        "BASE_TYPE_BAD_LENGTH",
                        format!("Must be between 1 and {max_len} in length."),
                    ),
                    None => errors.add(&format!("{path}.{i}"), "BASE_TYPE_STRING", "Must be a string."),
                }
            }
            out
        }
        Some(_) => {
            errors.add(&path, "BASE_TYPE_ARRAY", "Must be an array.");
            Vec::new()
        }
    }
}

/// A trigger from `trigger_type` and `trigger_metadata`; errors land in
/// `errors` (and `None` comes back) when they do not describe one.
pub fn parse_trigger(kind: u16, metadata: Option<&Value>, errors: &mut FormErrors) -> Option<Trigger> {
    let empty = Map::new();
    let meta = match metadata {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            errors.add("trigger_metadata", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
            return None;
        }
    };
    Some(match kind {
        trigger::KEYWORD => {
            let keyword_filter = strings(meta, "keyword_filter", MAX_KEYWORDS, MAX_KEYWORD_LEN, errors);
            let regex_patterns = strings(meta, "regex_patterns", MAX_REGEXES, MAX_REGEX_LEN, errors);
            for (i, p) in regex_patterns.iter().enumerate() {
                if let Err(e) = compile_regex(p) {
                    errors.add(
                        &format!("trigger_metadata.regex_patterns.{i}"),
                        "AUTO_MODERATION_INVALID_REGEX",
                        format!("Invalid regex pattern: {}", e.lines().next().unwrap_or("")),
                    );
                }
            }
            let allow_list = strings(meta, "allow_list", MAX_ALLOW_KEYWORD, MAX_KEYWORD_LEN, errors);
            Trigger::Keyword { keyword_filter, regex_patterns, allow_list }
        }
        trigger::SPAM => Trigger::Spam,
        trigger::KEYWORD_PRESET => {
            let mut presets = Vec::new();
            match meta.get("presets") {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.as_u64() {
                            Some(p @ 1..=3) if !presets.contains(&(p as u8)) => presets.push(p as u8),
                            Some(1..=3) => errors.add(
                                &format!("trigger_metadata.presets.{i}"),
                                "BASE_TYPE_DUPLICATES",
                                "Duplicate presets are not allowed.",
                            ),
                            _ => errors.add(
                                &format!("trigger_metadata.presets.{i}"),
                                "BASE_TYPE_CHOICES",
                                "Value must be one of (1, 2, 3).",
                            ),
                        }
                    }
                }
                Some(_) => errors.add("trigger_metadata.presets", "BASE_TYPE_ARRAY", "Must be an array."),
            }
            let allow_list = strings(meta, "allow_list", MAX_ALLOW_PRESET, MAX_KEYWORD_LEN, errors);
            Trigger::KeywordPreset { presets, allow_list }
        }
        trigger::MENTION_SPAM => {
            let limit = match meta.get("mention_total_limit") {
                Some(v) if v.as_u64().is_some_and(|n| n <= MAX_MENTIONS) => v.as_u64().unwrap_or(0) as u32,
                None | Some(Value::Null) => {
                    errors.add("trigger_metadata.mention_total_limit", "BASE_TYPE_REQUIRED", "This field is required");
                    0
                }
                Some(_) => {
                    errors.add(
                        "trigger_metadata.mention_total_limit",
                        "NUMBER_TYPE_MAX",
                        format!("Must be an integer between 0 and {MAX_MENTIONS}."),
                    );
                    0
                }
            };
            let raid = match meta.get("mention_raid_protection_enabled") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    errors.add(
                        "trigger_metadata.mention_raid_protection_enabled",
                        "BASE_TYPE_BOOLEAN",
                        "Must be either true or false.",
                    );
                    false
                }
            };
            Trigger::MentionSpam { mention_total_limit: limit, mention_raid_protection_enabled: raid }
        }
        trigger::TOXICITY => {
            let threshold = match meta.get("toxicity_threshold") {
                None | Some(Value::Null) => 0.5,
                Some(v) => match v.as_f64() {
                    Some(t) if t > 0.0 && t <= 1.0 => t,
                    _ => {
                        errors.add(
                            "trigger_metadata.toxicity_threshold",
                            "NUMBER_TYPE_MAX",
                            "Must be a number greater than 0 and at most 1.",
                        );
                        0.5
                    }
                },
            };
            Trigger::Toxicity { toxicity_threshold: threshold }
        }
        _ => {
            errors.add("trigger_type", "BASE_TYPE_CHOICES", "Value must be one of (1, 3, 4, 5, 1000).");
            return None;
        }
    })
}

pub fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Actions from their JSON; a timeout only on keyword and mention-spam
/// rules, as on Discord (and never on the toxicity extension, whose
/// classifier has known biases: docs/MODERATION.md).
pub fn parse_actions(items: &[Value], trigger_type: u16, errors: &mut FormErrors) -> Vec<Action> {
    if items.is_empty() || items.len() > MAX_ACTIONS {
        errors.add("actions", "BASE_TYPE_BAD_LENGTH", format!("Must be between 1 and {MAX_ACTIONS} in length."));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("actions.{i}");
        let Some(obj) = item.as_object() else {
            errors.add(&path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
            continue;
        };
        let empty = Map::new();
        let meta = match obj.get("metadata") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                errors.add(
                    &format!("{path}.metadata"),
                    "MODEL_TYPE_CONVERT",
                    "Only dictionaries may be used in a ModelType",
                );
                continue;
            }
        };
        match obj.get("type").and_then(Value::as_u64) {
            Some(1) => match meta.get("custom_message") {
                None | Some(Value::Null) => out.push(Action::Block { custom_message: None }),
                Some(Value::String(s)) if s.chars().count() <= MAX_CUSTOM_MESSAGE => {
                    out.push(Action::Block { custom_message: (!s.is_empty()).then(|| s.clone()) })
                }
                Some(_) => errors.add(
                    &format!("{path}.metadata.custom_message"),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be a string of {MAX_CUSTOM_MESSAGE} or fewer in length."),
                ),
            },
            Some(2) => match meta.get("channel_id").and_then(|c| serde_json::from_value::<ChannelId>(c.clone()).ok()) {
                Some(channel_id) => out.push(Action::Alert { channel_id }),
                None => {
                    errors.add(&format!("{path}.metadata.channel_id"), "BASE_TYPE_REQUIRED", "This field is required")
                }
            },
            Some(3) => {
                if !matches!(trigger_type, trigger::KEYWORD | trigger::MENTION_SPAM) {
                    errors.add(
                        &format!("{path}.type"),
                        "AUTO_MODERATION_ACTION_TYPE_INVALID",
                        "Timeout actions are only available for keyword and mention spam rules.",
                    );
                    continue;
                }
                match meta.get("duration_seconds").and_then(Value::as_u64) {
                    Some(d) if d <= MAX_TIMEOUT_SECONDS => out.push(Action::Timeout { duration_seconds: d }),
                    _ => errors.add(
                        &format!("{path}.metadata.duration_seconds"),
                        "NUMBER_TYPE_MAX",
                        format!("Must be an integer between 0 and {MAX_TIMEOUT_SECONDS}."),
                    ),
                }
            }
            _ => errors.add(&format!("{path}.type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3)."),
        }
    }
    out
}

pub fn check_name(name: &str, errors: &mut FormErrors) {
    if !(1..=MAX_NAME).contains(&name.trim().chars().count()) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", format!("Must be between 1 and {MAX_NAME} in length."));
    }
    crate::names::check_visible(errors, "name", name.trim());
}

pub fn check_exempt(roles: &[RoleId], channels: &[ChannelId], errors: &mut FormErrors) {
    if roles.len() > MAX_EXEMPT_ROLES {
        errors.add("exempt_roles", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_EXEMPT_ROLES} or fewer in length."));
    }
    if channels.len() > MAX_EXEMPT_CHANNELS {
        errors.add(
            "exempt_channels",
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_EXEMPT_CHANNELS} or fewer in length."),
        );
    }
}
