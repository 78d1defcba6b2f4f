//! Turning what an operation changed into typed gateway events. Each
//! event's payload is serialised once, when it is made; the gateway only
//! routes the bytes.

use serde_json::Value;

use events::dispatch::{
    ChannelPinsUpdate, GuildDelete, GuildMember, GuildRole, GuildRoleDelete, GuildUser, InviteCreate, InviteDelete,
    MessageAck, MessageDelete, MessageDeleteBulk, RelationshipRemove, TypingStart, WebhooksUpdate,
};
use events::{Audience, Dispatch, Event, Membership};
use model::audit::{AuditLogEntry, AutoModRule};
use model::channel::Channel;
use model::gateway::GuildCreate;
use model::guild::{Guild, Member, Role};
use model::invite::Invite;
use model::message::Message;
use model::user::CurrentUser;
use model::Timestamp;
use store::{ChannelId, GuildId, MessageId, UserId};

use crate::Domain;

/// Where a channel's invite events go: the members who may manage the
/// channel (MANAGE_CHANNELS there), as the gateway decides.
#[derive(Debug, Clone, Copy)]
pub struct InvitePlace {
    pub guild: GuildId,
    pub channel: ChannelId,
}

impl InvitePlace {
    fn audience(&self) -> Audience {
        Audience::Permitted {
            guild: self.guild,
            channel: Some(self.channel),
            permissions: model::permissions::MANAGE_CHANNELS,
        }
    }
}

/// Where a channel's events go: those who may view the guild channel (the
/// gateway decides who, from the channel's overwrites), or the DM's
/// recipients.
#[derive(Debug, Clone)]
pub enum Place {
    Guild { guild: GuildId, channel: ChannelId },
    Dm { channel: ChannelId, recipients: Vec<UserId> },
}

impl Place {
    fn audience(&self) -> Audience {
        match self {
            Place::Guild { guild, channel } => Audience::channel(*guild, *channel),
            Place::Dm { recipients, .. } => Audience::Users(recipients.clone()),
        }
    }

    fn channel(&self) -> ChannelId {
        match self {
            Place::Guild { channel, .. } | Place::Dm { channel, .. } => *channel,
        }
    }

    fn guild(&self) -> Option<GuildId> {
        match self {
            Place::Guild { guild, .. } => Some(*guild),
            Place::Dm { .. } => None,
        }
    }
}

impl Domain {
    fn emit(&self, dispatch: Dispatch, audience: Audience) {
        self.publish(Event::new(dispatch, audience));
    }

    /// Every event leaves through here: what it changed is dropped from the
    /// cache first, so the next request on this node reads the change.
    fn publish(&self, event: Event) {
        self.cache.forget(&event);
        self.bus.publish(event);
    }

    pub fn message_created(&self, place: &Place, message: Message, member: Option<Member>) {
        self.message_event(Dispatch::MessageCreate, place, message, member);
    }

    pub fn message_updated(&self, place: &Place, message: Message, member: Option<Member>) {
        self.message_event(Dispatch::MessageUpdate, place, message, member);
    }

    /// A message, rendered in full, to those who see the channel. A reply's
    /// `referenced_message` reaches only those who may read the channel's
    /// history: the gateway gives the others the reply without it, as the
    /// REST routes show it to them.
    fn message_event(
        &self,
        kind: fn(Box<Message>) -> Dispatch,
        place: &Place,
        mut message: Message,
        member: Option<Member>,
    ) {
        message.guild_id = place.guild();
        message.member = member;
        self.emit(kind(Box::new(message)), place.audience());
    }

    pub fn message_deleted(&self, place: &Place, id: MessageId) {
        let data = MessageDelete { id, channel_id: place.channel(), guild_id: place.guild() };
        self.emit(Dispatch::MessageDelete(data), place.audience());
    }

    pub fn messages_bulk_deleted(&self, place: &Place, ids: &[MessageId]) {
        let data = MessageDeleteBulk { ids: ids.to_vec(), channel_id: place.channel(), guild_id: place.guild() };
        self.emit(Dispatch::MessageDeleteBulk(data), place.audience());
    }

    /// `MESSAGE_REACTION_ADD` / `_REMOVE` / `_REMOVE_EMOJI` / `_REMOVE_ALL`,
    /// the payload's `guild_id` set from `place`.
    pub fn reaction_event(&self, place: &Place, mut dispatch: Dispatch) {
        let guild = place.guild();
        match &mut dispatch {
            Dispatch::ReactionAdd(r) => r.guild_id = guild,
            Dispatch::ReactionRemove(r) => r.guild_id = guild,
            Dispatch::ReactionRemoveEmoji(r) => r.guild_id = guild,
            Dispatch::ReactionRemoveAll(r) => r.guild_id = guild,
            _ => {}
        }
        self.emit(dispatch, place.audience());
    }

    pub fn pins_updated(&self, place: &Place, last_pin: Option<i64>) {
        let data = ChannelPinsUpdate {
            guild_id: place.guild(),
            channel_id: place.channel(),
            last_pin_timestamp: last_pin.map(Timestamp::from_unix_ms),
        };
        self.emit(Dispatch::ChannelPinsUpdate(data), place.audience());
    }

    pub fn typing(&self, place: &Place, user: UserId, member: Option<Member>) {
        let data = TypingStart {
            channel_id: place.channel(),
            guild_id: place.guild(),
            user_id: user,
            timestamp: Timestamp::now().unix_ms() / 1000,
            member,
        };
        self.emit(Dispatch::TypingStart(data), place.audience());
    }

    /// CHANNEL_CREATE/UPDATE/DELETE (`kind`), to those who may see the
    /// channel. The gateway works out who that is, before the change for a
    /// deletion and after it otherwise; when a CHANNEL_UPDATE changes the
    /// overwrites, those who just gained sight of the channel get
    /// CHANNEL_CREATE and those who lost it CHANNEL_DELETE instead.
    pub fn channel_event(&self, kind: fn(Box<Channel>) -> Dispatch, channel: &Channel) {
        let audience = match channel.guild_id {
            Some(guild) => Audience::channel(guild, channel.id),
            None => Audience::Users(channel.recipients.iter().flatten().map(|u| u.id).collect()),
        };
        self.emit(kind(Box::new(channel.clone())), audience);
    }

    /// A DM channel shown to one of its recipients.
    pub fn dm_opened(&self, user: UserId, channel: &Channel) {
        self.emit(Dispatch::ChannelCreate(Box::new(channel.clone())), Audience::Users(vec![user]));
    }

    pub fn guild_updated(&self, guild: &Guild) {
        self.emit(Dispatch::GuildUpdate(Box::new(guild.clone())), Audience::Guild(guild.id));
    }

    pub fn guild_deleted(&self, guild: GuildId) {
        self.publish(
            Event::new(Dispatch::GuildDelete(GuildDelete { id: guild }), Audience::Guild(guild))
                .with_membership(Membership::GuildDeleted(guild)),
        );
    }

    /// A user joined: the guild's members hear of the new member, and the
    /// user's own sessions receive the whole guild.
    pub fn member_joined(&self, guild: GuildId, member: &Member, snapshot: &GuildCreate) {
        let user = member.user.as_ref().map(|u| u.id).expect("joined members carry their user");
        self.publish(
            Event::new(Dispatch::GuildCreate(Box::new(snapshot.clone())), Audience::Users(vec![user]))
                .with_membership(Membership::Joined { user, guild }),
        );
        let add = GuildMember { guild_id: guild, member: member.clone() };
        self.emit(Dispatch::MemberAdd(Box::new(add)), Audience::Guild(guild));
    }

    /// A user left (or was removed): the others hear of it, and the user's
    /// sessions lose the guild.
    pub fn member_left(&self, guild: GuildId, user: &model::user::User) {
        // The leaver's sessions lose the guild first, so they are not among
        // those who hear that the member left.
        self.publish(
            Event::new(Dispatch::GuildDelete(GuildDelete { id: guild }), Audience::Users(vec![user.id]))
                .with_membership(Membership::Left { user: user.id, guild }),
        );
        let data = GuildUser { guild_id: guild, user: user.clone() };
        self.emit(Dispatch::MemberRemove(data), Audience::Guild(guild));
    }

    pub fn member_updated(&self, guild: GuildId, member: &Member) {
        let data = GuildMember { guild_id: guild, member: member.clone() };
        self.emit(Dispatch::MemberUpdate(Box::new(data)), Audience::Guild(guild));
    }

    /// INVITE_CREATE, to those who may manage the invite's channel (Discord
    /// sends invite events only with MANAGE_CHANNELS there).
    pub fn invite_created(&self, place: &InvitePlace, invite: &Invite) {
        let meta = invite.metadata.as_ref();
        let data = InviteCreate {
            kind: 0,
            code: invite.code.clone(),
            guild_id: invite.guild_id,
            channel_id: invite.channel.id,
            inviter: invite.inviter.clone(),
            created_at: meta.map(|m| m.created_at),
            max_age: meta.map_or(0, |m| m.max_age.into()),
            max_uses: meta.map_or(0, |m| m.max_uses.into()),
            temporary: meta.is_some_and(|m| m.temporary),
            uses: meta.map_or(0, |m| m.uses.into()),
            expires_at: invite.expires_at,
        };
        self.emit(Dispatch::InviteCreate(data), place.audience());
    }

    /// WEBHOOKS_UPDATE: the channel's webhooks changed, to those who see it.
    pub fn webhooks_updated(&self, guild: GuildId, channel: ChannelId) {
        let data = WebhooksUpdate { guild_id: guild, channel_id: channel };
        self.emit(Dispatch::WebhooksUpdate(data), Audience::channel(guild, channel));
    }

    pub fn invite_deleted(&self, place: &InvitePlace, code: &str) {
        let data = InviteDelete { guild_id: place.guild, channel_id: place.channel, code: code.to_owned() };
        self.emit(Dispatch::InviteDelete(data), place.audience());
    }

    /// GUILD_ROLE_CREATE or GUILD_ROLE_UPDATE (`kind`).
    pub fn role_event(&self, kind: fn(GuildRole) -> Dispatch, guild: GuildId, role: Role) {
        self.emit(kind(GuildRole { guild_id: guild, role }), Audience::Guild(guild));
    }

    /// GUILD_EMOJIS_UPDATE: the guild's whole list, to its members.
    pub fn emojis_updated(&self, guild: GuildId, emojis: Vec<model::expression::Emoji>) {
        let data = events::dispatch::GuildEmojis { guild_id: guild, emojis };
        self.emit(Dispatch::EmojisUpdate(data), Audience::Guild(guild));
    }

    /// GUILD_STICKERS_UPDATE: the guild's whole list, to its members.
    pub fn stickers_updated(&self, guild: GuildId, stickers: Vec<model::expression::Sticker>) {
        let data = events::dispatch::GuildStickers { guild_id: guild, stickers };
        self.emit(Dispatch::StickersUpdate(data), Audience::Guild(guild));
    }

    pub fn role_deleted(&self, guild: GuildId, role: store::RoleId) {
        self.emit(Dispatch::RoleDelete(GuildRoleDelete { guild_id: guild, role_id: role }), Audience::Guild(guild));
    }

    /// GUILD_BAN_ADD or GUILD_BAN_REMOVE (`kind`).
    pub fn ban_event(&self, kind: fn(GuildUser) -> Dispatch, guild: GuildId, user: &model::user::User) {
        self.emit(kind(GuildUser { guild_id: guild, user: user.clone() }), Audience::Guild(guild));
    }

    /// GUILD_AUDIT_LOG_ENTRY_CREATE, to the members allowed to read the log
    /// (VIEW_AUDIT_LOG).
    pub fn audit_logged(&self, guild: GuildId, entry: AuditLogEntry) {
        let data = events::dispatch::AuditLogEntryCreate { guild_id: guild, entry };
        self.emit(Dispatch::AuditLogEntryCreate(data), Audience::permitted(guild, model::permissions::VIEW_AUDIT_LOG));
    }

    /// AUTO_MODERATION_RULE_CREATE/UPDATE/DELETE (`kind`), to the members
    /// who manage the guild (MANAGE_GUILD). Every node's AutoMod cache also
    /// drops the guild's rules on it.
    pub fn automod_rule_event(&self, kind: fn(Box<AutoModRule>) -> Dispatch, rule: AutoModRule) {
        let guild = rule.guild_id;
        self.emit(kind(Box::new(rule)), Audience::permitted(guild, model::permissions::MANAGE_GUILD));
    }

    /// AUTO_MODERATION_ACTION_EXECUTION, to the members who manage the
    /// guild; bots without MESSAGE_CONTENT get it without the content.
    pub fn automod_executed(&self, data: events::dispatch::AutoModExecution) {
        let guild = data.guild_id;
        self.emit(Dispatch::AutoModActionExecution(data), Audience::permitted(guild, model::permissions::MANAGE_GUILD));
    }

    /// Closes the gateway connections of tokens that stopped working.
    pub fn tokens_revoked(&self, user: UserId, tokens: events::RevokedTokens) {
        self.publish(Event::tokens_revoked(user, tokens));
    }

    /// RELATIONSHIP_ADD / RELATIONSHIP_REMOVE to the owner of each side that
    /// changed.
    pub async fn relationships_changed(&self, changes: &[store::RelationshipChange]) -> crate::Result<()> {
        for change in changes {
            let (dispatch, user) = match change {
                store::RelationshipChange::Set(row) => {
                    let Some(other) = self.store.user(row.other_id).await? else { continue };
                    (Dispatch::RelationshipAdd(Box::new(crate::render::relationship(row, &other))), row.user_id)
                }
                store::RelationshipChange::Removed(row) => {
                    let data = RelationshipRemove { id: row.other_id, kind: row.kind as u8, nickname: None };
                    (Dispatch::RelationshipRemove(data), row.user_id)
                }
            };
            self.emit(dispatch, Audience::Users(vec![user]));
        }
        Ok(())
    }

    /// MESSAGE_ACK to the user's own sessions, so every client clears (or
    /// sets) the same unread badge.
    pub fn message_acked(&self, user: UserId, read: &store::ReadStateRow, manual: bool) {
        let data = MessageAck {
            channel_id: read.channel_id,
            message_id: read.last_message_id,
            mention_count: read.mention_count,
            version: 1,
            manual,
        };
        self.emit(Dispatch::MessageAck(data), Audience::Users(vec![user]));
    }

    /// USER_SETTINGS_UPDATE (the settings that changed) to the user's
    /// sessions.
    pub fn user_settings_updated(&self, user: UserId, changed: Value) {
        self.emit(Dispatch::UserSettingsUpdate(changed), Audience::Users(vec![user]));
    }

    /// A status set through the API: every node's gateway applies it to
    /// the user's sessions there and announces the presence.
    pub fn presence_changed(&self, change: events::PresenceChange) {
        self.publish(Event::presence_changed(change));
    }

    pub fn user_updated(&self, user: &CurrentUser) {
        self.emit(Dispatch::UserUpdate(Box::new(user.clone())), Audience::Users(vec![user.user.id]));
    }
}
