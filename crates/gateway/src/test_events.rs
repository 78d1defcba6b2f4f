//! Typed events as the domain publishes them, for the hub's and sessions'
//! unit tests: small builders over the real wire types, so a test names
//! only what it is about.

use events::dispatch::{GuildDelete, GuildMember, GuildRole, GuildRoleDelete, MessageAck, RelationshipRemove};
use events::{Audience, ChannelId, Dispatch, Event, GuildId, Membership, UserId};
use model::channel::Channel;
use model::gateway::GuildCreate;
use model::guild::{Guild, Member};
use model::message::Message;
use model::permissions::DEFAULT_EVERYONE;
use model::user::User;
use model::{Id, Timestamp};
use store::{ChannelRow, GuildRow, MemberRow, OverwriteRow, RoleId, RoleRow, UserRow};

pub fn user(n: u64) -> UserId {
    UserId::new(n)
}

pub fn channel(n: u64) -> ChannelId {
    ChannelId::new(n)
}

pub fn role(n: u64) -> RoleId {
    RoleId::new(n)
}

pub fn user_obj(id: UserId) -> User {
    domain::render::user(&UserRow {
        id,
        username: format!("user{id}"),
        email: None,
        password_hash: None,
        global_name: None,
        avatar: None,
        bot: false,
        flags: 0,
        locale: "en-US".into(),
        created_at: 0,
        mfa_enabled: false,
    })
}

pub fn member_row(g: GuildId, user: UserId, roles: &[RoleId]) -> MemberRow {
    MemberRow {
        guild_id: g,
        user_id: user,
        nick: None,
        roles: roles.to_vec(),
        joined_at: 0,
        deaf: false,
        mute: false,
        communication_disabled_until: None,
    }
}

/// A member with its user, as member events carry it.
pub fn member_obj(g: GuildId, user: UserId, roles: &[RoleId]) -> Member {
    domain::render::member(&member_row(g, user, roles), None).with_user(user_obj(user))
}

trait WithUser {
    fn with_user(self, user: User) -> Self;
}

impl WithUser for Member {
    fn with_user(mut self, user: User) -> Self {
        self.user = Some(user);
        self
    }
}

pub fn role_row(g: GuildId, id: RoleId, permissions: u64, position: i64) -> RoleRow {
    RoleRow {
        id,
        guild_id: g,
        name: format!("role{id}"),
        permissions,
        position,
        color: 0,
        hoist: false,
        mentionable: false,
        managed: false,
    }
}

/// @everyone with Discord's default permissions.
pub fn everyone(g: GuildId) -> RoleRow {
    role_row(g, g.cast(), DEFAULT_EVERYONE, 0)
}

pub fn guild_obj(g: GuildId, owner: UserId, roles: &[RoleRow]) -> Guild {
    let row = GuildRow {
        id: g,
        name: "guild".into(),
        icon: None,
        description: None,
        owner_id: owner,
        afk_channel_id: None,
        afk_timeout: 300,
        system_channel_id: None,
        verification_level: 0,
        default_message_notifications: 0,
        explicit_content_filter: 0,
        preferred_locale: "en-US".into(),
        created_at: 0,
    };
    domain::render::guild(&row, roles)
}

/// An overwrite: `kind` 0 for a role (the guild's id is @everyone), 1 for a member.
pub fn overwrite(target: u64, kind: u8, allow: u64, deny: u64) -> OverwriteRow {
    OverwriteRow { target_id: target, kind, allow, deny }
}

/// A guild text channel with these overwrites.
pub fn channel_obj(g: GuildId, id: ChannelId, overwrites: &[OverwriteRow]) -> Channel {
    let row = ChannelRow {
        id,
        kind: 0,
        guild_id: Some(g),
        name: Some(format!("channel{id}")),
        position: 0,
        parent_id: None,
        topic: None,
        nsfw: false,
        rate_limit_per_user: 0,
        bitrate: 0,
        user_limit: 0,
        last_message_id: None,
        last_pin_at: None,
    };
    domain::render::channel(&row, overwrites, None)
}

/// A message by `author` that mentions `mentioned`, in a guild channel or
/// (without `g`) a DM.
pub fn message(g: Option<GuildId>, c: ChannelId, author: UserId, mentioned: &[UserId], content: &str) -> Message {
    Message {
        id: Id::new(1),
        channel_id: c,
        guild_id: g,
        author: user_obj(author),
        member: None,
        content: content.into(),
        timestamp: Timestamp::from_unix_ms(0),
        edited_timestamp: None,
        tts: false,
        mention_everyone: false,
        mentions: mentioned.iter().map(|u| user_obj(*u)).collect(),
        mention_roles: Vec::new(),
        attachments: Vec::new(),
        embeds: Vec::new(),
        components: Vec::new(),
        reactions: Vec::new(),
        nonce: None,
        pinned: false,
        kind: 0,
        flags: 0,
        message_reference: None,
        referenced_message: None,
        sticker_items: Vec::new(),
        webhook_id: None,
    }
}

/// MESSAGE_CREATE of "secret" in a guild channel, to those who may view it.
pub fn channel_message(g: GuildId, c: ChannelId, author: UserId, mentioned: &[UserId]) -> Event {
    let m = message(Some(g), c, author, mentioned, "secret");
    Event::new(Dispatch::MessageCreate(Box::new(m)), Audience::channel(g, c))
}

/// A reply by `author` in a guild channel to a message by `replied`.
pub fn reply_message(g: GuildId, c: ChannelId, author: UserId, replied: UserId) -> Event {
    let mut m = message(Some(g), c, author, &[], "the reply");
    m.kind = 19;
    m.referenced_message = Some(Some(Box::new(message(Some(g), c, replied, &[], "the original"))));
    Event::new(Dispatch::MessageCreate(Box::new(m)), Audience::channel(g, c))
}

/// MESSAGE_CREATE in a DM between `users`.
pub fn dm_message(users: &[UserId]) -> Event {
    let m = message(None, channel(999), users[0], &[], "dm");
    Event::new(Dispatch::MessageCreate(Box::new(m)), Audience::Users(users.to_vec()))
}

pub fn guild_update(g: GuildId, owner: UserId) -> Event {
    Event::new(Dispatch::GuildUpdate(Box::new(guild_obj(g, owner, &[everyone(g)]))), Audience::Guild(g))
}

pub fn role_update(g: GuildId, role: &RoleRow) -> Event {
    let data = GuildRole { guild_id: g, role: domain::render::role(role) };
    Event::new(Dispatch::RoleUpdate(data), Audience::Guild(g))
}

pub fn role_create(g: GuildId, role: &RoleRow) -> Event {
    let data = GuildRole { guild_id: g, role: domain::render::role(role) };
    Event::new(Dispatch::RoleCreate(data), Audience::Guild(g))
}

pub fn role_delete(g: GuildId, role: RoleId) -> Event {
    Event::new(Dispatch::RoleDelete(GuildRoleDelete { guild_id: g, role_id: role }), Audience::Guild(g))
}

pub fn member_update(g: GuildId, user: UserId, roles: &[RoleId]) -> Event {
    let data = GuildMember { guild_id: g, member: member_obj(g, user, roles) };
    Event::new(Dispatch::MemberUpdate(Box::new(data)), Audience::Guild(g))
}

pub fn member_timed_out(g: GuildId, user: UserId, roles: &[RoleId], until: Timestamp) -> Event {
    let mut member = member_obj(g, user, roles);
    member.communication_disabled_until = Some(until);
    Event::new(Dispatch::MemberUpdate(Box::new(GuildMember { guild_id: g, member })), Audience::Guild(g))
}

pub fn channel_update(g: GuildId, c: ChannelId, overwrites: &[OverwriteRow]) -> Event {
    let ch = channel_obj(g, c, overwrites);
    Event::new(Dispatch::ChannelUpdate(Box::new(ch)), Audience::channel(g, c))
}

pub fn channel_create(g: GuildId, c: ChannelId, overwrites: &[OverwriteRow]) -> Event {
    let ch = channel_obj(g, c, overwrites);
    Event::new(Dispatch::ChannelCreate(Box::new(ch)), Audience::channel(g, c))
}

pub fn channel_delete(g: GuildId, c: ChannelId) -> Event {
    let ch = channel_obj(g, c, &[]);
    Event::new(Dispatch::ChannelDelete(Box::new(ch)), Audience::channel(g, c))
}

/// A GUILD_AUDIT_LOG_ENTRY_CREATE-like event: something for the members
/// holding `permissions` guild-wide.
pub fn for_holders(g: GuildId, permissions: u64) -> Event {
    let entry = model::audit::AuditLogEntry {
        id: "1".into(),
        user_id: None,
        target_id: None,
        action_type: 1,
        changes: None,
        options: None,
        reason: None,
    };
    let data = events::dispatch::AuditLogEntryCreate { guild_id: g, entry };
    Event::new(Dispatch::AuditLogEntryCreate(data), Audience::permitted(g, permissions))
}

/// The joiner's GUILD_CREATE, whose snapshot lists `members` and every
/// channel in `channels`.
pub fn guild_joined(user: UserId, g: GuildId, members: &[UserId], channels: &[ChannelId]) -> Event {
    let snapshot = GuildCreate {
        guild: guild_obj(g, UserId::new(999), &[everyone(g)]),
        joined_at: Timestamp::from_unix_ms(0),
        large: false,
        unavailable: false,
        member_count: members.len() as u64,
        voice_states: Vec::new(),
        members: members.iter().map(|m| member_obj(g, *m, &[])).collect(),
        channels: channels.iter().map(|c| channel_obj(g, *c, &[])).collect(),
        threads: Vec::new(),
        presences: Vec::new(),
        stage_instances: Vec::new(),
        guild_scheduled_events: Vec::new(),
        soundboard_sounds: Vec::new(),
    };
    Event::new(Dispatch::GuildCreate(Box::new(snapshot)), Audience::Users(vec![user]))
        .with_membership(Membership::Joined { user, guild: g })
}

/// The leaver's GUILD_DELETE.
pub fn guild_left(user: UserId, g: GuildId) -> Event {
    Event::new(Dispatch::GuildDelete(GuildDelete { id: g }), Audience::Users(vec![user]))
        .with_membership(Membership::Left { user, guild: g })
}

pub fn guild_deleted(g: GuildId) -> Event {
    Event::new(Dispatch::GuildDelete(GuildDelete { id: g }), Audience::Guild(g))
        .with_membership(Membership::GuildDeleted(g))
}

pub fn member_add(g: GuildId, user: UserId) -> Event {
    let data = GuildMember { guild_id: g, member: member_obj(g, user, &[]) };
    Event::new(Dispatch::MemberAdd(Box::new(data)), Audience::Guild(g))
}

pub fn member_remove(g: GuildId, user: UserId) -> Event {
    let data = events::dispatch::GuildUser { guild_id: g, user: user_obj(user) };
    Event::new(Dispatch::MemberRemove(data), Audience::Guild(g))
}

pub fn typing(g: GuildId, c: ChannelId, user: UserId) -> Event {
    let data =
        events::dispatch::TypingStart { channel_id: c, guild_id: Some(g), user_id: user, timestamp: 0, member: None };
    Event::new(Dispatch::TypingStart(data), Audience::channel(g, c))
}

/// MESSAGE_ACK to `users`: an event every session of theirs gets, whatever
/// its intents.
pub fn ack(users: &[UserId]) -> Event {
    let data = MessageAck { channel_id: channel(1), message_id: None, mention_count: 0, version: 1, manual: false };
    Event::new(Dispatch::MessageAck(data), Audience::Users(users.to_vec()))
}

/// RELATIONSHIP_ADD (`kind` 1 friend, 2 blocked) or, with `added` false,
/// RELATIONSHIP_REMOVE, to `owner` about `other`.
pub fn relationship(added: bool, owner: UserId, other: UserId, kind: u8) -> Event {
    let dispatch = if added {
        Dispatch::RelationshipAdd(Box::new(model::user::Relationship {
            id: other,
            kind,
            nickname: None,
            user: user_obj(other),
            since: Timestamp::from_unix_ms(0),
        }))
    } else {
        Dispatch::RelationshipRemove(RelationshipRemove { id: other, kind, nickname: None })
    };
    Event::new(dispatch, Audience::Users(vec![owner]))
}
