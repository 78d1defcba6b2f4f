//! Turning what a route changed into gateway events. Each payload is
//! serialised here, once; the gateway only routes the bytes.

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

use events::{intents, Audience, ContentGate, Event, Membership, ReplyGate};
use model::channel::Channel;
use model::gateway::GuildCreate;
use model::guild::{Guild, Member};
use model::invite::Invite;
use model::message::Message;
use model::user::CurrentUser;
use model::Timestamp;
use store::{ChannelId, GuildId, MessageId, UserId};

use crate::ApiState;

fn bytes<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("wire types always serialise"))
}

/// The viewers of a channel split by whether they may read its history.
#[derive(Debug, Clone, Default)]
pub struct HistoryReaders {
    pub readers: Vec<UserId>,
    /// Those who see the channel but may not read its history.
    pub blind: Vec<UserId>,
}

/// The payloads a bot without MESSAGE_CONTENT may get of a message: its
/// content and the replied-to message's emptied, each alone or both.
fn content_gate(message: &Message) -> ContentGate {
    let mentioned = |m: &Message| m.mentions.iter().map(|u| u.id).collect::<Vec<_>>();
    let mut redacted = message.clone();
    crate::render::redact(&mut redacted);
    let reply = match &message.referenced_message {
        Some(Some(reply)) => {
            let mut reply_redacted = message.clone();
            let mut both = redacted.clone();
            for m in [&mut reply_redacted, &mut both] {
                if let Some(Some(r)) = m.referenced_message.as_mut() {
                    crate::render::redact(r);
                }
            }
            let gate = ReplyGate {
                author: reply.author.id,
                mentioned: mentioned(reply),
                reply_redacted: bytes(&reply_redacted),
                message_redacted: bytes(&redacted),
            };
            redacted = both;
            Some(gate)
        }
        _ => None,
    };
    ContentGate { redacted: bytes(&redacted), author: message.author.id, mentioned: mentioned(message), reply }
}

/// Where a channel's invite events go: the members who may manage it.
#[derive(Debug, Clone)]
pub struct InvitePlace {
    pub guild: GuildId,
    pub channel: ChannelId,
    pub managers: Vec<UserId>,
}

impl InvitePlace {
    fn audience(&self) -> Audience {
        Audience::GuildUsers { guild: self.guild, users: self.managers.clone() }
    }
}

/// Where a channel's events go: its guild's members, or its DM recipients.
#[derive(Debug, Clone)]
pub enum Place {
    /// `viewers` lists who may see the channel when not every member may.
    Guild {
        guild: GuildId,
        channel: ChannelId,
        viewers: Option<Vec<UserId>>,
    },
    Dm {
        channel: ChannelId,
        recipients: Vec<UserId>,
    },
}

impl Place {
    fn audience(&self) -> Audience {
        match self {
            Place::Guild { guild, channel, viewers: None } => {
                Audience::GuildChannel { guild: *guild, channel: *channel }
            }
            Place::Guild { guild, viewers: Some(users), .. } => {
                Audience::GuildUsers { guild: *guild, users: users.clone() }
            }
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

    /// The guild intent in a guild, the direct-message one in a DM.
    fn intent(&self, guild: u64, dm: u64) -> u64 {
        match self {
            Place::Guild { .. } => guild,
            Place::Dm { .. } => dm,
        }
    }
}

impl ApiState {
    fn emit(&self, event: Event) {
        self.bus.publish(event);
    }

    pub(crate) fn message_created(
        &self,
        place: &Place,
        message: Message,
        member: Option<Member>,
        history: Option<HistoryReaders>,
    ) {
        self.message_event("MESSAGE_CREATE", place, message, member, history);
    }

    pub(crate) fn message_updated(
        &self,
        place: &Place,
        message: Message,
        member: Option<Member>,
        history: Option<HistoryReaders>,
    ) {
        self.message_event("MESSAGE_UPDATE", place, message, member, history);
    }

    /// A message, rendered in full, to those who see the channel. A reply's
    /// `referenced_message` goes only to those who may read the channel's
    /// history (`history`, when not every viewer may); the others get the
    /// reply without it, as the REST routes show it to them.
    fn message_event(
        &self,
        name: &'static str,
        place: &Place,
        mut message: Message,
        member: Option<Member>,
        history: Option<HistoryReaders>,
    ) {
        message.guild_id = place.guild();
        message.member = member;
        let intent = place.intent(intents::GUILD_MESSAGES, intents::DIRECT_MESSAGES);
        let gated = |message: &Message, audience: Audience| {
            let mut event = Event::new(name, bytes(message), audience, intent);
            if place.guild().is_some() {
                event = event.with_content_gate(content_gate(message));
            }
            event
        };
        match (history, place) {
            (Some(h), Place::Guild { guild, .. }) if matches!(message.referenced_message, Some(Some(_))) => {
                let guild = *guild;
                if !h.readers.is_empty() {
                    self.emit(gated(&message, Audience::GuildUsers { guild, users: h.readers }));
                }
                if !h.blind.is_empty() {
                    message.referenced_message = None;
                    self.emit(gated(&message, Audience::GuildUsers { guild, users: h.blind }));
                }
            }
            _ => self.emit(gated(&message, place.audience())),
        }
    }

    pub(crate) fn message_deleted(&self, place: &Place, id: MessageId) {
        let intent = place.intent(intents::GUILD_MESSAGES, intents::DIRECT_MESSAGES);
        let data = json!({ "id": id, "channel_id": place.channel(), "guild_id": place.guild() });
        self.emit(Event::new("MESSAGE_DELETE", bytes(&without_nulls(data)), place.audience(), intent));
    }

    pub(crate) fn messages_bulk_deleted(&self, place: &Place, ids: &[MessageId]) {
        let intent = place.intent(intents::GUILD_MESSAGES, intents::DIRECT_MESSAGES);
        let data = json!({ "ids": ids, "channel_id": place.channel(), "guild_id": place.guild() });
        self.emit(Event::new("MESSAGE_DELETE_BULK", bytes(&without_nulls(data)), place.audience(), intent));
    }

    /// `MESSAGE_REACTION_ADD` / `_REMOVE` / `_REMOVE_EMOJI` / `_REMOVE_ALL`.
    pub(crate) fn reaction_event(&self, name: &'static str, place: &Place, data: serde_json::Value) {
        let intent = place.intent(intents::GUILD_MESSAGE_REACTIONS, intents::DIRECT_MESSAGE_REACTIONS);
        let mut data = data;
        data["guild_id"] = json!(place.guild());
        self.emit(Event::new(name, bytes(&without_nulls(data)), place.audience(), intent));
    }

    pub(crate) fn pins_updated(&self, place: &Place, last_pin: Option<i64>) {
        let intent = place.intent(intents::GUILDS, intents::DIRECT_MESSAGES);
        let data = json!({
            "guild_id": place.guild(),
            "channel_id": place.channel(),
            "last_pin_timestamp": last_pin.map(Timestamp::from_unix_ms),
        });
        let mut data = without_nulls(data);
        data["last_pin_timestamp"] = json!(last_pin.map(Timestamp::from_unix_ms));
        self.emit(Event::new("CHANNEL_PINS_UPDATE", bytes(&data), place.audience(), intent));
    }

    pub(crate) fn typing(&self, place: &Place, user: UserId, member: Option<Member>) {
        let intent = place.intent(intents::GUILD_MESSAGE_TYPING, intents::DIRECT_MESSAGE_TYPING);
        let data = json!({
            "channel_id": place.channel(),
            "guild_id": place.guild(),
            "user_id": user,
            "timestamp": Timestamp::now().unix_ms() / 1000,
            "member": member,
        });
        self.emit(Event::new("TYPING_START", bytes(&without_nulls(data)), place.audience(), intent));
    }

    /// CHANNEL_CREATE/UPDATE/DELETE, to those who may see the channel
    /// (`viewers`, when not everyone may).
    pub(crate) fn channel_event(&self, name: &'static str, channel: &Channel, viewers: Option<Vec<UserId>>) {
        match channel.guild_id {
            Some(guild) => {
                let audience = match viewers {
                    Some(users) => Audience::GuildUsers { guild, users },
                    None => Audience::Guild(guild),
                };
                self.emit(Event::new(name, bytes(channel), audience, intents::GUILDS))
            }
            None => {
                let recipients = channel.recipients.iter().flatten().map(|u| u.id).collect();
                self.emit(Event::new(name, bytes(channel), Audience::Users(recipients), intents::DIRECT_MESSAGES));
            }
        }
    }

    /// A DM channel shown to one of its recipients.
    pub(crate) fn dm_opened(&self, user: UserId, channel: &Channel) {
        self.emit(Event::new("CHANNEL_CREATE", bytes(channel), Audience::Users(vec![user]), intents::DIRECT_MESSAGES));
    }

    pub(crate) fn guild_updated(&self, guild: &Guild) {
        self.emit(Event::new("GUILD_UPDATE", bytes(guild), Audience::Guild(guild.id), intents::GUILDS));
    }

    pub(crate) fn guild_deleted(&self, guild: GuildId) {
        let data = bytes(&json!({ "id": guild }));
        self.emit(
            Event::new("GUILD_DELETE", data, Audience::Guild(guild), intents::GUILDS)
                .with_membership(Membership::GuildDeleted(guild)),
        );
    }

    /// A user joined: the guild's members hear of the new member, and the
    /// user's own sessions receive the whole guild.
    pub(crate) fn member_joined(&self, guild: GuildId, member: &Member, snapshot: &GuildCreate) {
        let user = member.user.as_ref().map(|u| u.id).expect("joined members carry their user");
        let mut add = serde_json::to_value(member).expect("member serialises");
        add["guild_id"] = json!(guild);
        self.emit(
            Event::new("GUILD_CREATE", bytes(snapshot), Audience::Users(vec![user]), intents::GUILDS)
                .with_membership(Membership::Joined { user, guild }),
        );
        self.emit(Event::new("GUILD_MEMBER_ADD", bytes(&add), Audience::Guild(guild), intents::GUILD_MEMBERS));
    }

    /// A user left (or was removed): the others hear of it, and the user's
    /// sessions lose the guild.
    pub(crate) fn member_left(&self, guild: GuildId, user: &model::user::User) {
        // The leaver's sessions lose the guild first, so they are not among
        // those who hear that the member left.
        self.emit(
            Event::new("GUILD_DELETE", bytes(&json!({ "id": guild })), Audience::Users(vec![user.id]), intents::GUILDS)
                .with_membership(Membership::Left { user: user.id, guild }),
        );
        let data = bytes(&json!({ "guild_id": guild, "user": user }));
        self.emit(Event::new("GUILD_MEMBER_REMOVE", data, Audience::Guild(guild), intents::GUILD_MEMBERS));
    }

    pub(crate) fn member_updated(&self, guild: GuildId, member: &Member) {
        let mut data = serde_json::to_value(member).expect("member serialises");
        data["guild_id"] = json!(guild);
        self.emit(Event::new("GUILD_MEMBER_UPDATE", bytes(&data), Audience::Guild(guild), intents::GUILD_MEMBERS));
    }

    /// INVITE_CREATE, to those who may manage the invite's channel (Discord
    /// sends invite events only with MANAGE_CHANNELS there).
    pub(crate) fn invite_created(&self, place: &InvitePlace, invite: &Invite) {
        let meta = invite.metadata.as_ref();
        let data = json!({
            "type": 0,
            "code": invite.code,
            "guild_id": invite.guild_id,
            "channel_id": invite.channel.id,
            "inviter": invite.inviter,
            "created_at": meta.map(|m| m.created_at),
            "max_age": meta.map_or(0, |m| m.max_age),
            "max_uses": meta.map_or(0, |m| m.max_uses),
            "temporary": meta.is_some_and(|m| m.temporary),
            "uses": meta.map_or(0, |m| m.uses),
            "expires_at": invite.expires_at,
        });
        self.emit(Event::new("INVITE_CREATE", bytes(&data), place.audience(), intents::GUILD_INVITES));
    }

    pub(crate) fn invite_deleted(&self, place: &InvitePlace, code: &str) {
        let data = json!({ "guild_id": place.guild, "channel_id": place.channel, "code": code });
        self.emit(Event::new("INVITE_DELETE", bytes(&data), place.audience(), intents::GUILD_INVITES));
    }

    pub(crate) fn role_event(&self, name: &'static str, guild: GuildId, role: serde_json::Value) {
        let data = json!({ "guild_id": guild, "role": role });
        self.emit(Event::new(name, bytes(&data), Audience::Guild(guild), intents::GUILDS));
    }

    pub(crate) fn role_deleted(&self, guild: GuildId, role: store::RoleId) {
        let data = json!({ "guild_id": guild, "role_id": role });
        self.emit(Event::new("GUILD_ROLE_DELETE", bytes(&data), Audience::Guild(guild), intents::GUILDS));
    }

    pub(crate) fn ban_event(&self, name: &'static str, guild: GuildId, user: &model::user::User) {
        let data = json!({ "guild_id": guild, "user": user });
        self.emit(Event::new(name, bytes(&data), Audience::Guild(guild), intents::GUILD_MODERATION));
    }

    /// A channel as some members see it: those who can see it get `name`,
    /// those who just lost sight of it CHANNEL_DELETE, those who just gained
    /// it CHANNEL_CREATE.
    pub(crate) fn channel_visibility(
        &self,
        channel: &Channel,
        name: &'static str,
        kept: Vec<UserId>,
        lost: Vec<UserId>,
        gained: Vec<UserId>,
    ) {
        let guild = channel.guild_id.expect("guild channel");
        for (event, users) in [(name, kept), ("CHANNEL_DELETE", lost), ("CHANNEL_CREATE", gained)] {
            if !users.is_empty() {
                self.emit(Event::new(event, bytes(channel), Audience::GuildUsers { guild, users }, intents::GUILDS));
            }
        }
    }

    /// GUILD_AUDIT_LOG_ENTRY_CREATE, for those allowed to read the log.
    pub(crate) fn audit_logged(&self, guild: GuildId, readers: Vec<UserId>, entry: serde_json::Value) {
        let mut data = entry;
        data["guild_id"] = json!(guild);
        self.emit(Event::new(
            "GUILD_AUDIT_LOG_ENTRY_CREATE",
            bytes(&data),
            Audience::GuildUsers { guild, users: readers },
            intents::GUILD_MODERATION,
        ));
    }

    /// AUTO_MODERATION_RULE_CREATE/UPDATE/DELETE, to the members who manage
    /// the guild. Every node's AutoMod cache also drops the guild's rules on
    /// it.
    pub(crate) fn automod_rule_event(
        &self,
        name: &'static str,
        guild: GuildId,
        managers: Vec<UserId>,
        rule: &serde_json::Value,
    ) {
        self.emit(Event::new(
            name,
            bytes(rule),
            Audience::GuildUsers { guild, users: managers },
            intents::AUTO_MODERATION_CONFIGURATION,
        ));
    }

    /// AUTO_MODERATION_ACTION_EXECUTION, to the members who manage the
    /// guild; bots without MESSAGE_CONTENT get `redacted`.
    pub(crate) fn automod_executed(
        &self,
        guild: GuildId,
        managers: Vec<UserId>,
        author: UserId,
        data: &serde_json::Value,
        redacted: &serde_json::Value,
    ) {
        let event = Event::new(
            "AUTO_MODERATION_ACTION_EXECUTION",
            bytes(data),
            Audience::GuildUsers { guild, users: managers },
            intents::AUTO_MODERATION_EXECUTION,
        )
        .with_content_gate(ContentGate {
            redacted: bytes(redacted),
            author,
            mentioned: Vec::new(),
            reply: None,
        });
        self.emit(event);
    }

    /// Closes the gateway connections of tokens that stopped working.
    pub(crate) fn tokens_revoked(&self, user: UserId, tokens: events::RevokedTokens) {
        self.emit(Event::tokens_revoked(user, tokens));
    }

    /// RELATIONSHIP_ADD / RELATIONSHIP_REMOVE to the owner of each side that
    /// changed.
    pub(crate) async fn relationships_changed(&self, changes: &[store::RelationshipChange]) -> crate::ApiResult<()> {
        for change in changes {
            let (name, row) = match change {
                store::RelationshipChange::Set(row) => ("RELATIONSHIP_ADD", row),
                store::RelationshipChange::Removed(row) => ("RELATIONSHIP_REMOVE", row),
            };
            let payload = if name == "RELATIONSHIP_ADD" {
                let Some(other) = self.store.user(row.other_id).await? else { continue };
                bytes(&crate::render::relationship(row, &other))
            } else {
                bytes(&serde_json::json!({ "id": row.other_id, "type": row.kind, "nickname": null }))
            };
            self.emit(Event::new(name, payload, Audience::Users(vec![row.user_id]), 0));
        }
        Ok(())
    }

    /// MESSAGE_ACK to the user's own sessions, so every client clears (or
    /// sets) the same unread badge.
    pub(crate) fn message_acked(&self, user: UserId, read: &store::ReadStateRow, manual: bool) {
        let mut payload = serde_json::json!({
            "channel_id": read.channel_id,
            "message_id": read.last_message_id,
            "mention_count": read.mention_count,
            "version": 1,
        });
        if manual {
            payload["manual"] = serde_json::json!(true);
        }
        self.emit(Event::new("MESSAGE_ACK", bytes(&payload), Audience::Users(vec![user]), 0));
    }

    /// USER_SETTINGS_UPDATE (the settings that changed) to the user's
    /// sessions.
    pub(crate) fn user_settings_updated(&self, user: UserId, changed: &serde_json::Value) {
        self.emit(Event::new("USER_SETTINGS_UPDATE", bytes(changed), Audience::Users(vec![user]), 0));
    }

    /// A status set through the API: every node's gateway applies it to
    /// the user's sessions there and announces the presence.
    pub(crate) fn presence_changed(&self, change: events::PresenceChange) {
        self.emit(Event::presence_changed(change));
    }

    pub(crate) fn user_updated(&self, user: &CurrentUser) {
        self.emit(Event::new("USER_UPDATE", bytes(user), Audience::Users(vec![user.user.id]), 0));
    }
}

/// Drops top-level `null`s: optional ids such as `guild_id` are absent in
/// DMs rather than null, as on Discord.
fn without_nulls(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, value| !value.is_null());
    }
    v
}
