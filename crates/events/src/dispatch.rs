//! Every dispatch the server sends, as one enum of Discord's event names and
//! their payloads in Discord's wire shapes. `{"t": NAME, "d": payload}` is
//! both how a dispatch is written to clients and how it crosses a process
//! boundary.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use model::audit::{AuditLogEntry, AutoModAction, AutoModRule};
use model::channel::Channel;
use model::expression::{Emoji, Sticker};
use model::gateway::{GuildCreate, Presence};
use model::guild::{Guild, Member, Role};
use model::id::{MessageMarker, RoleMarker};
use model::message::{Message, ReactionEmoji};
use model::user::{CurrentUser, Relationship, User};
use model::voice::{VoiceServerUpdate, VoiceState};
use model::{Id, Timestamp};

use crate::intents;
use crate::{ChannelId, GuildId, UserId};

pub type MessageId = Id<MessageMarker>;
pub type RoleId = Id<RoleMarker>;

macro_rules! dispatches {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal,)*) => {
        /// A dispatch event: its name (`t`) and payload (`d`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "t", content = "d")]
        pub enum Dispatch {
            $($(#[$doc])* #[serde(rename = $name)] $variant($ty),)*
        }

        impl Dispatch {
            /// Discord's name for the event, e.g. `MESSAGE_CREATE`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }

            /// Every event name, for tests that must cover each.
            pub const NAMES: &'static [&'static str] = &[$($name),*];
        }
    };
}

dispatches! {
    MessageCreate(Box<Message>) = "MESSAGE_CREATE",
    MessageUpdate(Box<Message>) = "MESSAGE_UPDATE",
    MessageDelete(MessageDelete) = "MESSAGE_DELETE",
    MessageDeleteBulk(MessageDeleteBulk) = "MESSAGE_DELETE_BULK",
    ReactionAdd(ReactionAdd) = "MESSAGE_REACTION_ADD",
    ReactionRemove(ReactionRemove) = "MESSAGE_REACTION_REMOVE",
    ReactionRemoveEmoji(ReactionRemoveEmoji) = "MESSAGE_REACTION_REMOVE_EMOJI",
    ReactionRemoveAll(ReactionRemoveAll) = "MESSAGE_REACTION_REMOVE_ALL",
    ChannelPinsUpdate(ChannelPinsUpdate) = "CHANNEL_PINS_UPDATE",
    TypingStart(TypingStart) = "TYPING_START",
    ChannelCreate(Box<Channel>) = "CHANNEL_CREATE",
    ChannelUpdate(Box<Channel>) = "CHANNEL_UPDATE",
    ChannelDelete(Box<Channel>) = "CHANNEL_DELETE",
    /// A guild in full: to a member who joined it.
    GuildCreate(Box<GuildCreate>) = "GUILD_CREATE",
    GuildUpdate(Box<Guild>) = "GUILD_UPDATE",
    GuildDelete(GuildDelete) = "GUILD_DELETE",
    MemberAdd(Box<GuildMember>) = "GUILD_MEMBER_ADD",
    MemberUpdate(Box<GuildMember>) = "GUILD_MEMBER_UPDATE",
    MemberRemove(GuildUser) = "GUILD_MEMBER_REMOVE",
    BanAdd(GuildUser) = "GUILD_BAN_ADD",
    BanRemove(GuildUser) = "GUILD_BAN_REMOVE",
    RoleCreate(GuildRole) = "GUILD_ROLE_CREATE",
    RoleUpdate(GuildRole) = "GUILD_ROLE_UPDATE",
    RoleDelete(GuildRoleDelete) = "GUILD_ROLE_DELETE",
    /// A guild's whole list of custom emojis, after any of them changed.
    EmojisUpdate(GuildEmojis) = "GUILD_EMOJIS_UPDATE",
    /// A guild's whole list of stickers, after any of them changed.
    StickersUpdate(GuildStickers) = "GUILD_STICKERS_UPDATE",
    InviteCreate(InviteCreate) = "INVITE_CREATE",
    InviteDelete(InviteDelete) = "INVITE_DELETE",
    /// A channel's webhooks changed: fetch them again.
    WebhooksUpdate(WebhooksUpdate) = "WEBHOOKS_UPDATE",
    AuditLogEntryCreate(AuditLogEntryCreate) = "GUILD_AUDIT_LOG_ENTRY_CREATE",
    AutoModRuleCreate(Box<AutoModRule>) = "AUTO_MODERATION_RULE_CREATE",
    AutoModRuleUpdate(Box<AutoModRule>) = "AUTO_MODERATION_RULE_UPDATE",
    AutoModRuleDelete(Box<AutoModRule>) = "AUTO_MODERATION_RULE_DELETE",
    AutoModActionExecution(AutoModExecution) = "AUTO_MODERATION_ACTION_EXECUTION",
    RelationshipAdd(Box<Relationship>) = "RELATIONSHIP_ADD",
    RelationshipRemove(RelationshipRemove) = "RELATIONSHIP_REMOVE",
    MessageAck(MessageAck) = "MESSAGE_ACK",
    /// The settings that changed (a partial `user_settings` object).
    UserSettingsUpdate(Value) = "USER_SETTINGS_UPDATE",
    UserUpdate(Box<CurrentUser>) = "USER_UPDATE",
    PresenceUpdate(Box<Presence>) = "PRESENCE_UPDATE",
    /// Someone joined, left, moved or changed their mute in a voice channel.
    VoiceStateUpdate(Box<VoiceState>) = "VOICE_STATE_UPDATE",
    /// Where a session that joined voice connects: to that session alone.
    VoiceServerUpdate(VoiceServerUpdate) = "VOICE_SERVER_UPDATE",
}

impl Dispatch {
    /// The guild the payload belongs to, if any.
    pub fn guild_id(&self) -> Option<GuildId> {
        use Dispatch::*;
        match self {
            MessageCreate(m) | MessageUpdate(m) => m.guild_id,
            MessageDelete(d) => d.guild_id,
            MessageDeleteBulk(d) => d.guild_id,
            ReactionAdd(r) => r.guild_id,
            ReactionRemove(r) => r.guild_id,
            ReactionRemoveEmoji(r) => r.guild_id,
            ReactionRemoveAll(r) => r.guild_id,
            ChannelPinsUpdate(p) => p.guild_id,
            TypingStart(t) => t.guild_id,
            ChannelCreate(c) | ChannelUpdate(c) | ChannelDelete(c) => c.guild_id,
            GuildCreate(g) => Some(g.guild.id),
            GuildUpdate(g) => Some(g.id),
            GuildDelete(g) => Some(g.id),
            MemberAdd(m) | MemberUpdate(m) => Some(m.guild_id),
            MemberRemove(u) | BanAdd(u) | BanRemove(u) => Some(u.guild_id),
            RoleCreate(r) | RoleUpdate(r) => Some(r.guild_id),
            RoleDelete(r) => Some(r.guild_id),
            EmojisUpdate(e) => Some(e.guild_id),
            StickersUpdate(s) => Some(s.guild_id),
            InviteCreate(i) => Some(i.guild_id),
            InviteDelete(i) => Some(i.guild_id),
            WebhooksUpdate(w) => Some(w.guild_id),
            AuditLogEntryCreate(a) => Some(a.guild_id),
            AutoModRuleCreate(r) | AutoModRuleUpdate(r) | AutoModRuleDelete(r) => Some(r.guild_id),
            AutoModActionExecution(e) => Some(e.guild_id),
            PresenceUpdate(p) => p.guild_id,
            VoiceStateUpdate(v) => v.guild_id,
            VoiceServerUpdate(v) => Some(v.guild_id),
            RelationshipAdd(_) | RelationshipRemove(_) | MessageAck(_) | UserSettingsUpdate(_) | UserUpdate(_) => None,
        }
    }

    /// The channel the payload happens in, for the channel events whose
    /// audience is decided by who may see the channel.
    pub fn channel_id(&self) -> Option<ChannelId> {
        use Dispatch::*;
        match self {
            MessageCreate(m) | MessageUpdate(m) => Some(m.channel_id),
            MessageDelete(d) => Some(d.channel_id),
            MessageDeleteBulk(d) => Some(d.channel_id),
            ReactionAdd(r) => Some(r.channel_id),
            ReactionRemove(r) => Some(r.channel_id),
            ReactionRemoveEmoji(r) => Some(r.channel_id),
            ReactionRemoveAll(r) => Some(r.channel_id),
            ChannelPinsUpdate(p) => Some(p.channel_id),
            TypingStart(t) => Some(t.channel_id),
            ChannelCreate(c) | ChannelUpdate(c) | ChannelDelete(c) => Some(c.id),
            _ => None,
        }
    }

    /// The intents a bot session needs (any one of them) to receive the
    /// event; 0 for events every session receives. Channel events take the
    /// guild intent in a guild and the direct-message one in a DM.
    pub fn intents(&self) -> u64 {
        use Dispatch::*;
        let in_guild = self.guild_id().is_some();
        let either = |guild: u64, dm: u64| if in_guild { guild } else { dm };
        match self {
            MessageCreate(_) | MessageUpdate(_) | MessageDelete(_) | MessageDeleteBulk(_) => {
                either(intents::GUILD_MESSAGES, intents::DIRECT_MESSAGES)
            }
            ReactionAdd(_) | ReactionRemove(_) | ReactionRemoveEmoji(_) | ReactionRemoveAll(_) => {
                either(intents::GUILD_MESSAGE_REACTIONS, intents::DIRECT_MESSAGE_REACTIONS)
            }
            TypingStart(_) => either(intents::GUILD_MESSAGE_TYPING, intents::DIRECT_MESSAGE_TYPING),
            ChannelPinsUpdate(_) | ChannelCreate(_) | ChannelUpdate(_) | ChannelDelete(_) => {
                either(intents::GUILDS, intents::DIRECT_MESSAGES)
            }
            GuildCreate(_) | GuildUpdate(_) | GuildDelete(_) => intents::GUILDS,
            RoleCreate(_) | RoleUpdate(_) | RoleDelete(_) => intents::GUILDS,
            EmojisUpdate(_) | StickersUpdate(_) => intents::GUILD_EXPRESSIONS,
            MemberAdd(_) | MemberUpdate(_) | MemberRemove(_) => intents::GUILD_MEMBERS,
            BanAdd(_) | BanRemove(_) | AuditLogEntryCreate(_) => intents::GUILD_MODERATION,
            InviteCreate(_) | InviteDelete(_) => intents::GUILD_INVITES,
            WebhooksUpdate(_) => intents::GUILD_WEBHOOKS,
            AutoModRuleCreate(_) | AutoModRuleUpdate(_) | AutoModRuleDelete(_) => {
                intents::AUTO_MODERATION_CONFIGURATION
            }
            AutoModActionExecution(_) => intents::AUTO_MODERATION_EXECUTION,
            // A friend's presence reaches them whatever their intents.
            PresenceUpdate(_) => either(intents::GUILD_PRESENCES, 0),
            VoiceStateUpdate(_) => intents::GUILD_VOICE_STATES,
            VoiceServerUpdate(_) => 0,
            RelationshipAdd(_) | RelationshipRemove(_) | MessageAck(_) | UserSettingsUpdate(_) | UserUpdate(_) => 0,
        }
    }
}

/// A member as member events carry it: the member and its guild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildMember {
    pub guild_id: GuildId,
    #[serde(flatten)]
    pub member: Member,
}

/// `GUILD_MEMBER_REMOVE`, `GUILD_BAN_ADD`, `GUILD_BAN_REMOVE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildUser {
    pub guild_id: GuildId,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildDelete {
    pub id: GuildId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildRole {
    pub guild_id: GuildId,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildEmojis {
    pub guild_id: GuildId,
    pub emojis: Vec<Emoji>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildStickers {
    pub guild_id: GuildId,
    pub stickers: Vec<Sticker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuildRoleDelete {
    pub guild_id: GuildId,
    pub role_id: RoleId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDelete {
    pub id: MessageId,
    pub channel_id: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeleteBulk {
    pub ids: Vec<MessageId>,
    pub channel_id: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionAdd {
    pub user_id: UserId,
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_author_id: Option<UserId>,
    pub emoji: ReactionEmoji,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
    pub burst: bool,
    pub burst_colors: Vec<String>,
    /// 0 normal, 1 burst.
    #[serde(rename = "type")]
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionRemove {
    pub user_id: UserId,
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
    pub emoji: ReactionEmoji,
    pub burst: bool,
    #[serde(rename = "type")]
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionRemoveEmoji {
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
    pub emoji: ReactionEmoji,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionRemoveAll {
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPinsUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
    pub channel_id: ChannelId,
    /// Present, and `null` once nothing is pinned.
    pub last_pin_timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypingStart {
    pub channel_id: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<GuildId>,
    pub user_id: UserId,
    /// Unix seconds.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<Member>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksUpdate {
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteCreate {
    /// 0: a guild invite.
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: String,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub inviter: Option<User>,
    pub created_at: Option<Timestamp>,
    pub max_age: u64,
    pub max_uses: u64,
    pub temporary: bool,
    pub uses: u64,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteDelete {
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub code: String,
}

/// An audit log entry as the log lists it, with its guild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLogEntryCreate {
    pub guild_id: GuildId,
    #[serde(flatten)]
    pub entry: AuditLogEntry,
}

/// `AUTO_MODERATION_ACTION_EXECUTION`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoModExecution {
    pub guild_id: GuildId,
    pub action: AutoModAction,
    pub rule_id: String,
    pub rule_trigger_type: u16,
    pub user_id: UserId,
    pub channel_id: ChannelId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_system_message_id: Option<MessageId>,
    pub content: String,
    pub matched_keyword: Option<String>,
    pub matched_content: Option<String>,
}

impl AutoModExecution {
    /// What a bot without MESSAGE_CONTENT sees: neither the message nor
    /// what matched in it, as on Discord.
    pub fn redacted(&self) -> Self {
        let mut r = self.clone();
        r.content = String::new();
        if r.matched_content.is_some() {
            r.matched_content = Some(String::new());
        }
        r
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipRemove {
    pub id: UserId,
    #[serde(rename = "type")]
    pub kind: u8,
    pub nickname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAck {
    pub channel_id: ChannelId,
    pub message_id: Option<MessageId>,
    pub mention_count: i64,
    pub version: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}
