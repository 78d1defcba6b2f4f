//! Storage rows to wire JSON. Loads what a payload needs in batches.

use std::collections::HashMap;

use model::application::Application;
use model::audit::AuditLogEntry;
use model::channel::{Channel, ChannelType, PermissionOverwrite};
use model::expression::{Emoji, Sticker, StickerItem};
use model::guild::{Guild, Member, Role, RoleColors, UserGuild};
use model::invite::{Invite, InviteChannel, InviteGuild, InviteMetadata};
use model::message::{
    Attachment, Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia, EmbedProvider, Message, MessageReference,
    Reaction, ReactionCountDetails, ReactionEmoji,
};
use model::user::{CurrentUser, CustomStatus, Relationship, User, UserSettings};
use model::Timestamp;
use store::{
    ApplicationRow, AttachmentRow, ChannelId, ChannelRow, EmbedRow, EmojiId, EmojiRow, GuildRow, InviteRow, MemberRow,
    MessageRow, OverwriteRow, ReadStateRow, RelationshipRow, RoleRow, StickerRow, UserId, UserRow,
};

use crate::error::Result;
use crate::Domain;

/// One entry of READY's `read_state`.
pub fn read_state(row: &ReadStateRow) -> serde_json::Value {
    serde_json::json!({
        "id": row.channel_id,
        "last_message_id": row.last_message_id.map_or_else(|| "0".to_owned(), |m| m.to_string()),
        "mention_count": row.mention_count,
        "last_pin_timestamp": null,
        "flags": 0,
    })
}

/// READY's `read_state` for a person.
pub fn read_states(rows: &[ReadStateRow]) -> serde_json::Value {
    serde_json::json!({ "version": 1, "partial": false, "entries": rows.iter().map(read_state).collect::<Vec<_>>() })
}

pub fn relationship(row: &RelationshipRow, other: &UserRow) -> Relationship {
    Relationship {
        id: row.other_id,
        kind: row.kind as u8,
        user: user(other),
        nickname: None,
        since: Timestamp::from_unix_ms(row.since),
    }
}

/// A user's relationships with the other users loaded in one query.
pub async fn relationships(state: &Domain, rows: &[RelationshipRow]) -> Result<Vec<Relationship>> {
    let ids: Vec<UserId> = rows.iter().map(|r| r.other_id).collect();
    let users: HashMap<UserId, UserRow> = state.store.users(&ids).await?.into_iter().map(|u| (u.id, u)).collect();
    Ok(rows.iter().filter_map(|r| users.get(&r.other_id).map(|u| relationship(r, u))).collect())
}

pub fn user(u: &UserRow) -> User {
    User {
        id: u.id,
        username: u.username.clone(),
        discriminator: "0".into(),
        global_name: u.global_name.clone(),
        avatar: u.avatar.clone(),
        bot: u.bot,
        system: false,
        public_flags: u.flags,
        flags: u.flags,
        banner: None,
        accent_color: None,
        avatar_decoration_data: None,
        primary_guild: None,
    }
}

pub fn current_user(u: &UserRow) -> CurrentUser {
    CurrentUser {
        user: user(u),
        mfa_enabled: u.mfa_enabled,
        locale: u.locale.clone(),
        verified: true,
        email: u.email.clone(),
        premium_type: 0,
    }
}

/// A person's settings; a custom status past its expiry shows as none.
pub fn user_settings(s: &store::SettingsRow, now_ms: i64) -> UserSettings {
    UserSettings {
        status: s.status.clone(),
        custom_status: live_custom_status(s, now_ms).map(|c| CustomStatus {
            text: c.text.clone(),
            emoji_id: None,
            emoji_name: c.emoji_name.clone(),
            expires_at: c.expires_at.map(Timestamp::from_unix_ms),
        }),
        theme: s.theme.clone(),
        locale: s.locale.clone(),
        message_display_compact: s.message_display_compact,
        developer_mode: s.developer_mode,
    }
}

/// The custom status, unless it has expired.
pub fn live_custom_status(s: &store::SettingsRow, now_ms: i64) -> Option<&store::CustomStatus> {
    s.custom_status.as_ref().filter(|c| c.expires_at.is_none_or(|t| t > now_ms))
}

pub fn role(r: &RoleRow) -> Role {
    let color = r.color as u32;
    Role {
        id: r.id,
        name: r.name.clone(),
        description: None,
        permissions: r.permissions.to_string(),
        position: r.position as i32,
        color,
        colors: RoleColors { primary_color: color, secondary_color: None, tertiary_color: None },
        hoist: r.hoist,
        managed: r.managed,
        mentionable: r.mentionable,
        icon: None,
        unicode_emoji: None,
        flags: 0,
    }
}

pub fn guild(g: &GuildRow, roles: &[RoleRow]) -> Guild {
    Guild {
        id: g.id,
        name: g.name.clone(),
        icon: g.icon.clone(),
        description: g.description.clone(),
        home_header: None,
        splash: None,
        discovery_splash: None,
        features: Vec::new(),
        banner: None,
        owner_id: g.owner_id,
        application_id: None,
        region: "deprecated".into(),
        afk_channel_id: g.afk_channel_id,
        afk_timeout: g.afk_timeout as u32,
        system_channel_id: g.system_channel_id,
        system_channel_flags: 0,
        widget_enabled: false,
        widget_channel_id: None,
        verification_level: g.verification_level as u8,
        roles: roles.iter().map(role).collect(),
        default_message_notifications: g.default_message_notifications as u8,
        mfa_level: 0,
        explicit_content_filter: g.explicit_content_filter as u8,
        max_presences: None,
        max_members: 500_000,
        max_stage_video_channel_users: 0,
        max_video_channel_users: 25,
        vanity_url_code: None,
        premium_tier: 0,
        premium_subscription_count: 0,
        preferred_locale: g.preferred_locale.clone(),
        rules_channel_id: None,
        safety_alerts_channel_id: None,
        public_updates_channel_id: None,
        premium_progress_bar_enabled: false,
        nsfw: false,
        nsfw_level: 0,
        emojis: Vec::new(),
        stickers: Vec::new(),
        incidents_data: None,
        approximate_member_count: None,
        approximate_presence_count: None,
    }
}

/// `counts`: members and members online, with `with_counts=true`.
pub fn user_guild(g: &GuildRow, viewer: UserId, permissions: u64, counts: Option<(u64, u64)>) -> UserGuild {
    UserGuild {
        id: g.id,
        name: g.name.clone(),
        icon: g.icon.clone(),
        banner: None,
        owner: g.owner_id == viewer,
        permissions: permissions.to_string(),
        features: Vec::new(),
        approximate_member_count: counts.map(|c| c.0),
        approximate_presence_count: counts.map(|c| c.1),
    }
}

pub fn channel(c: &ChannelRow, overwrites: &[OverwriteRow], recipients: Option<Vec<User>>) -> Channel {
    let kind = ChannelType::from_code(c.kind);
    let in_guild = c.guild_id.is_some();
    let textual = kind.is_textual();
    let voice = kind == ChannelType::GuildVoice;
    Channel {
        id: c.id,
        kind,
        flags: 0,
        guild_id: c.guild_id,
        name: c.name.clone(),
        position: in_guild.then_some(c.position as i32),
        permission_overwrites: in_guild.then(|| {
            overwrites
                .iter()
                .filter_map(|o| {
                    Some(PermissionOverwrite {
                        id: model::Id::new_checked(o.target_id)?,
                        kind: o.kind,
                        allow: o.allow.to_string(),
                        deny: o.deny.to_string(),
                    })
                })
                .collect()
        }),
        parent_id: in_guild.then_some(c.parent_id),
        topic: (in_guild && kind == ChannelType::GuildText).then(|| c.topic.clone()),
        nsfw: in_guild.then_some(c.nsfw),
        rate_limit_per_user: (in_guild && textual).then_some(c.rate_limit_per_user as u32),
        bitrate: voice.then_some(c.bitrate as u32),
        user_limit: voice.then_some(c.user_limit as u32),
        rtc_region: voice.then_some(None),
        last_message_id: textual.then_some(c.last_message_id),
        last_pin_timestamp: textual.then(|| c.last_pin_at.map(Timestamp::from_unix_ms)),
        recipients,
    }
}

pub fn member(m: &MemberRow, u: Option<&UserRow>) -> Member {
    Member {
        user: u.map(user),
        nick: m.nick.clone(),
        avatar: None,
        banner: None,
        roles: m.roles.clone(),
        joined_at: Timestamp::from_unix_ms(m.joined_at),
        premium_since: None,
        deaf: m.deaf,
        mute: m.mute,
        flags: 0,
        pending: false,
        communication_disabled_until: m.communication_disabled_until.map(Timestamp::from_unix_ms),
    }
}

pub fn application(a: &ApplicationRow, bot: &UserRow, owner: &UserRow) -> Application {
    Application {
        id: a.id.cast(),
        name: a.name.clone(),
        icon: None,
        description: a.description.clone(),
        kind: None,
        bot: user(bot),
        owner: user(owner),
        team: None,
        bot_public: a.bot_public,
        bot_require_code_grant: false,
        verify_key: a.verify_key.clone(),
        flags: a.flags,
        flags_new: a.flags.to_string(),
        redirect_uris: Vec::new(),
        rpc_origins: Vec::new(),
        interactions_endpoint_url: a.interactions_endpoint_url.clone(),
        role_connections_verification_url: None,
        approximate_guild_count: 0,
        approximate_user_install_count: 0,
        approximate_user_authorization_count: 0,
        explicit_content_filter: 0,
        eligible_oauth2_scopes: vec!["bot".into(), "applications.commands".into()],
        summary: String::new(),
        tags: Vec::new(),
    }
}

pub fn invite(
    i: &InviteRow,
    g: &GuildRow,
    c: &ChannelRow,
    inviter: Option<&UserRow>,
    with_metadata: bool,
    counts: Option<(u64, u64)>,
) -> Invite {
    Invite {
        kind: 0,
        code: i.code.clone(),
        guild: InviteGuild {
            id: g.id,
            name: g.name.clone(),
            splash: None,
            banner: None,
            description: g.description.clone(),
            icon: g.icon.clone(),
            features: Vec::new(),
            verification_level: g.verification_level as u8,
            vanity_url_code: None,
            nsfw_level: 0,
            nsfw: false,
            premium_subscription_count: 0,
        },
        guild_id: g.id,
        channel: InviteChannel { id: c.id, kind: ChannelType::from_code(c.kind), name: c.name.clone() },
        inviter: inviter.map(user),
        expires_at: i.expires_at().map(Timestamp::from_unix_ms),
        metadata: with_metadata.then(|| InviteMetadata {
            uses: i.uses as u32,
            max_uses: i.max_uses as u32,
            max_age: i.max_age as u32,
            temporary: i.temporary,
            created_at: Timestamp::from_unix_ms(i.created_at),
        }),
        approximate_member_count: counts.map(|c| c.0),
        approximate_presence_count: counts.map(|c| c.1),
    }
}

/// A custom emoji; `creator` when the viewer may see who uploaded it.
pub fn emoji(e: &EmojiRow, creator: Option<&UserRow>) -> Emoji {
    Emoji {
        id: e.id,
        name: e.name.clone(),
        roles: e.roles.clone(),
        user: creator.map(user),
        require_colons: e.require_colons,
        managed: e.managed,
        animated: e.animated,
        available: e.available,
    }
}

/// A guild sticker; `creator` when the viewer may see who uploaded it.
pub fn sticker(s: &StickerRow, creator: Option<&UserRow>) -> Sticker {
    Sticker {
        id: s.id,
        name: s.name.clone(),
        description: s.description.clone(),
        tags: s.tags.clone(),
        kind: 2,
        format_type: s.format_type,
        available: s.available,
        guild_id: s.guild_id,
        user: creator.map(user),
    }
}

/// Reaction keys as Discord's emoji objects: custom ones (stored by id)
/// with their current name, or `null` once deleted.
pub async fn reaction_emojis(ctx: &Domain, keys: &[&str]) -> Result<HashMap<String, ReactionEmoji>> {
    let ids: Vec<EmojiId> = keys.iter().filter_map(|k| custom_id(k)).collect();
    let rows: HashMap<EmojiId, EmojiRow> = ctx.store.emojis_by_id(&ids).await?.into_iter().map(|e| (e.id, e)).collect();
    Ok(keys.iter().map(|k| (k.to_string(), reaction_emoji(k, custom_id(k).and_then(|id| rows.get(&id))))).collect())
}

/// The id of a custom emoji's reaction key (all digits).
pub fn custom_id(key: &str) -> Option<EmojiId> {
    key.bytes().all(|b| b.is_ascii_digit()).then(|| key.parse().ok()).flatten()
}

/// One reaction key as Discord's emoji object.
pub fn reaction_emoji(key: &str, custom: Option<&EmojiRow>) -> ReactionEmoji {
    match (custom_id(key), custom) {
        (Some(id), row) => ReactionEmoji {
            id: Some(id.cast()),
            name: row.map(|e| e.name.clone()),
            animated: Some(row.is_some_and(|e| e.animated)),
        },
        (None, _) => ReactionEmoji { id: None, name: Some(key.to_owned()), animated: None },
    }
}

/// Who messages are rendered for, and what of them they may read.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub id: UserId,
    /// Whether every message's content shows: to people, in DMs, and to
    /// bots whose application has the MESSAGE_CONTENT flag. Other bots see
    /// content only in their own messages and those that mention them.
    pub all_content: bool,
    /// Whether they may read the channel's history: without it, a reply's
    /// `referenced_message` is left out (Discord's "not fetched").
    pub history: bool,
}

impl Viewer {
    /// Everything shown: for payloads that the gateway gates per session.
    pub fn everything(id: UserId) -> Self {
        Self { id, all_content: true, history: true }
    }

    /// Empties what this viewer may not read of a rendered message and of
    /// the message it replies to.
    pub fn restrict(&self, m: &mut Message) {
        if !self.history {
            m.referenced_message = None;
        }
        if self.all_content {
            return;
        }
        let id = self.id;
        let hide = |m: &mut Message| {
            if m.author.id != id && !m.mentions.iter().any(|u| u.id == id) {
                redact(m);
            }
        };
        hide(m);
        if let Some(Some(reply)) = m.referenced_message.as_mut() {
            hide(reply);
        }
    }
}

/// A message as a bot without MESSAGE_CONTENT sees it: no content, embeds,
/// attachments or components.
pub fn redact(m: &mut Message) {
    m.content.clear();
    m.embeds.clear();
    m.attachments.clear();
    m.components.clear();
}

/// Renders messages of one channel as `viewer` sees them, loading authors,
/// mentioned users, reactions and replied-to messages in one query each.
pub async fn messages(state: &Domain, viewer: &Viewer, rows: &[MessageRow]) -> Result<Vec<Message>> {
    let mut out = messages_in_full(state, viewer.id, rows).await?;
    for m in &mut out {
        viewer.restrict(m);
    }
    Ok(out)
}

async fn messages_in_full(state: &Domain, viewer: UserId, rows: &[MessageRow]) -> Result<Vec<Message>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let channel = first.channel_id;
    // The users (after the replied-to messages, whose authors they include)
    // and the reaction counts are read at the same time, on two reader
    // connections: a history page waits for two round trips, not three.
    let people = async {
        let ref_ids: Vec<_> = rows.iter().filter_map(|m| m.ref_message_id).collect();
        let referenced = state.store.messages_by_id(channel, &ref_ids).await?;
        let mut user_ids: Vec<UserId> = rows
            .iter()
            .chain(referenced.iter())
            .flat_map(|m| std::iter::once(m.author_id).chain(m.mentions.iter().copied()))
            .collect();
        user_ids.sort();
        user_ids.dedup();
        let users = state.store.users(&user_ids).await?;
        Ok::<_, store::StoreError>((referenced, users))
    };
    let ids: Vec<_> = rows.iter().map(|m| m.id).collect();
    let ((referenced, users), counts) = tokio::try_join!(people, state.store.reaction_counts(channel, &ids, viewer))?;
    let users: HashMap<UserId, User> = users.iter().map(|u| (u.id, user(u))).collect();
    // Custom emojis are stored by id: their names are read (one query, none
    // without custom reactions).
    let mut keys: Vec<&str> = counts.iter().map(|r| r.emoji.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let emojis = reaction_emojis(state, &keys).await?;
    let mut reactions: HashMap<_, Vec<Reaction>> = HashMap::new();
    for r in &counts {
        let emoji = emojis.get(&r.emoji).cloned();
        reactions.entry(r.message_id).or_default().push(Reaction {
            emoji: emoji.unwrap_or_else(|| reaction_emoji(&r.emoji, None)),
            count: r.count,
            count_details: ReactionCountDetails { burst: 0, normal: r.count },
            burst_colors: Vec::new(),
            me: r.me,
            me_burst: false,
        });
    }
    let referenced: HashMap<_, Message> =
        referenced.iter().map(|m| (m.id, message(&state.media, m, &users, Vec::new(), None))).collect();
    Ok(rows
        .iter()
        .map(|m| {
            let reply = m.ref_message_id.map(|id| referenced.get(&id).cloned().map(Box::new));
            message(&state.media, m, &users, reactions.remove(&m.id).unwrap_or_default(), reply)
        })
        .collect())
}

/// A message just stored, rendered without reading it back: its author is
/// in hand, it has no reactions yet, and the message it replies to was
/// read to check the reply. Only mentioned users are loaded (one query,
/// none without mentions).
pub async fn fresh_message(
    state: &Domain,
    row: &MessageRow,
    author: &UserRow,
    reply: Option<&MessageRow>,
) -> Result<Message> {
    let reply = reply.filter(|r| Some(r.id) == row.ref_message_id);
    let mut ids: Vec<UserId> = row
        .mentions
        .iter()
        .copied()
        .chain(reply.into_iter().flat_map(|r| std::iter::once(r.author_id).chain(r.mentions.iter().copied())))
        .filter(|u| *u != author.id)
        .collect();
    ids.sort();
    ids.dedup();
    let mut users: HashMap<UserId, User> = HashMap::new();
    if !ids.is_empty() {
        users.extend(state.store.users(&ids).await?.iter().map(|u| (u.id, user(u))));
    }
    users.insert(author.id, user(author));
    let replied =
        row.ref_message_id.map(|_| reply.map(|r| Box::new(message(&state.media, r, &users, Vec::new(), None))));
    Ok(message(&state.media, row, &users, Vec::new(), replied))
}

fn message(
    media: &media::Media,
    m: &MessageRow,
    users: &HashMap<UserId, User>,
    reactions: Vec<Reaction>,
    referenced: Option<Option<Box<Message>>>,
) -> Message {
    let mut author = users.get(&m.author_id).cloned().unwrap_or_else(|| deleted_user(m.author_id));
    if let Some(w) = &m.webhook {
        webhook_author(&mut author, w);
    }
    let attachments = attachments(media, m);
    let embeds = m.embeds.iter().map(|e| embed(e, &attachments)).collect();
    Message {
        id: m.id,
        channel_id: m.channel_id,
        guild_id: None,
        author,
        member: None,
        content: m.content.clone(),
        timestamp: Timestamp::from_unix_ms(m.id.timestamp_ms() as i64),
        edited_timestamp: m.edited_at.map(Timestamp::from_unix_ms),
        tts: m.tts,
        mention_everyone: m.mention_everyone,
        mentions: m.mentions.iter().filter_map(|id| users.get(id).cloned()).collect(),
        mention_roles: m.mention_roles.clone(),
        attachments,
        embeds,
        components: m.components.clone(),
        reactions,
        nonce: m.nonce.as_deref().and_then(|n| serde_json::from_str(n).ok()),
        pinned: m.pinned_at.is_some(),
        kind: m.kind,
        flags: m.flags as u32,
        message_reference: m.ref_message_id.map(|id| MessageReference {
            kind: 0,
            message_id: id,
            channel_id: m.channel_id,
            guild_id: None,
        }),
        referenced_message: referenced,
        sticker_items: m
            .sticker_items
            .iter()
            .map(|s| StickerItem { id: s.id, name: s.name.clone(), format_type: s.format_type })
            .collect(),
        webhook_id: m.webhook.as_ref().map(|w| w.id),
        application_id: m.interaction.as_ref().and(m.webhook.as_ref()).map(|w| model::Id::new(w.id.get())),
        interaction_metadata: m.interaction.clone(),
    }
}

/// A webhook's message shows the name and avatar it was posted under, as a
/// bot with Discord's webhook discriminator.
fn webhook_author(author: &mut User, w: &store::WebhookAuthor) {
    if let Some(name) = &w.name {
        author.username = name.clone();
    }
    author.avatar = w.avatar.clone();
    author.global_name = None;
    author.discriminator = "0000".into();
    author.bot = true;
}

/// Discord's webhook object. The creator and token are shown to those who
/// manage webhooks (`full`), not to a caller holding only the token.
pub fn webhook(w: &store::WebhookRow, creator: Option<&UserRow>, full: bool) -> model::webhook::Webhook {
    model::webhook::Webhook {
        id: w.id,
        kind: w.kind,
        guild_id: Some(w.guild_id),
        channel_id: Some(w.channel_id),
        user: creator.filter(|_| full).map(user),
        name: Some(w.name.clone()),
        avatar: w.avatar.clone(),
        token: full.then(|| w.token.clone()),
        application_id: w.application_id.map(|id| model::Id::new(id.get())),
        // Discord names it only in the OAuth2 flow's answer.
        url: None,
    }
}

/// Files of `channel` that no message names (an interaction's attachment
/// options) as Discord's attachment objects.
pub fn loose_attachments(media: &media::Media, channel: ChannelId, files: Vec<AttachmentRow>) -> Vec<Attachment> {
    let mut row = MessageRow::plain(channel, store::MessageId::new(1), UserId::new(1), String::new(), 0);
    row.attachments = files;
    attachments(media, &row)
}

/// A message's files as Discord's attachment objects, each with a URL
/// signed now.
fn attachments(media: &media::Media, m: &MessageRow) -> Vec<Attachment> {
    if m.attachments.is_empty() {
        return Vec::new();
    }
    let now = (Timestamp::now().unix_ms() / 1000) as u64;
    m.attachments
        .iter()
        .map(|a| {
            let url = media.signed_url(&attachment_path(m.channel_id, a), now);
            Attachment {
                id: a.id,
                filename: a.filename.clone(),
                title: a.title.clone(),
                description: a.description.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
                proxy_url: url.clone(),
                url,
                height: a.height,
                width: a.width,
                ephemeral: false,
                duration_secs: a.duration_secs.clone(),
                waveform: a.waveform.clone(),
                flags: None,
            }
        })
        .collect()
}

/// A stored embed as Discord's embed object: what was sent, `type: rich`
/// (a link preview: its own type, provider and image sizes), and for an `attachment://filename` URL naming one of the message's
/// files, that file's signed URL (and, for images, its size).
pub fn embed(e: &EmbedRow, files: &[Attachment]) -> Embed {
    let file = |url: &str| url.strip_prefix("attachment://").and_then(|name| files.iter().find(|a| a.filename == name));
    let media = |url: &String, size: Option<(u32, u32)>| match file(url) {
        Some(a) => {
            EmbedMedia { url: a.url.clone(), proxy_url: Some(a.proxy_url.clone()), height: a.height, width: a.width }
        }
        None => EmbedMedia { url: url.clone(), proxy_url: None, height: size.map(|s| s.1), width: size.map(|s| s.0) },
    };
    // An icon's URL and its proxy URL.
    let icon = |url: &Option<String>| match url.as_deref().map(|u| (u, file(u))) {
        Some((_, Some(a))) => (Some(a.url.clone()), Some(a.proxy_url.clone())),
        Some((u, None)) => (Some(u.to_owned()), None),
        None => (None, None),
    };
    Embed {
        title: e.title.clone(),
        kind: e.kind.clone().unwrap_or_else(|| "rich".into()),
        description: e.description.clone(),
        url: e.url.clone(),
        timestamp: e.timestamp.map(|ms| Timestamp::from_unix_ms(ms).to_string().replace(".000000+", "+")),
        color: e.color,
        footer: e.footer_text.as_ref().map(|text| {
            let (icon_url, proxy_icon_url) = icon(&e.footer_icon_url);
            EmbedFooter { text: text.clone(), icon_url, proxy_icon_url }
        }),
        image: e.image_url.as_ref().map(|u| media(u, e.image_size)),
        thumbnail: e.thumbnail_url.as_ref().map(|u| media(u, e.thumbnail_size)),
        video: None,
        provider: (e.provider_name.is_some() || e.provider_url.is_some())
            .then(|| EmbedProvider { name: e.provider_name.clone(), url: e.provider_url.clone() }),
        author: e.author_name.as_ref().map(|name| {
            let (icon_url, proxy_icon_url) = icon(&e.author_icon_url);
            EmbedAuthor { name: name.clone(), url: e.author_url.clone(), icon_url, proxy_icon_url }
        }),
        fields: e
            .fields
            .iter()
            .map(|f| EmbedField { name: f.name.clone(), value: f.value.clone(), inline: f.inline })
            .collect(),
    }
}

/// Where an attachment is served: Discord's CDN path.
pub fn attachment_path(channel: ChannelId, a: &AttachmentRow) -> String {
    format!("/attachments/{channel}/{}/{}", a.id, a.filename)
}

/// Stands in for an author whose account no longer exists.
pub(crate) fn deleted_user(id: UserId) -> User {
    User {
        id,
        username: "deleted_user".into(),
        discriminator: "0".into(),
        global_name: Some("Deleted User".into()),
        avatar: None,
        bot: false,
        system: false,
        public_flags: 0,
        flags: 0,
        banner: None,
        accent_color: None,
        avatar_decoration_data: None,
        primary_guild: None,
    }
}

/// A guild with its current state, as GUILD_CREATE carries it. Members are
/// listed up to `large_threshold`; beyond that only `viewer`'s own member is
/// (clients then ask for members with REQUEST_GUILD_MEMBERS). Presences are
/// the gateway's to fill in.
/// A person's DM channels, each with its other recipient, the most recently
/// active first (as READY's `private_channels` and `GET /users/@me/channels`).
pub async fn private_channels(store: &dyn store::Store, viewer: UserId) -> Result<Vec<Channel>, store::StoreError> {
    let mut rows = store.dm_channels(viewer).await?;
    rows.sort_by_key(|(c, _)| std::cmp::Reverse(c.last_message_id.unwrap_or(c.id.cast())));
    let others: Vec<UserId> = rows.iter().map(|(_, u)| *u).collect();
    let users: HashMap<UserId, UserRow> = store.users(&others).await?.into_iter().map(|u| (u.id, u)).collect();
    Ok(rows.iter().filter_map(|(c, other)| users.get(other).map(|u| channel(c, &[], Some(vec![user(u)])))).collect())
}

pub async fn guild_snapshot(
    store: &dyn store::Store,
    guild: &GuildRow,
    viewer: UserId,
    large_threshold: u64,
) -> Result<model::gateway::GuildCreate, store::StoreError> {
    let roles = store.roles(guild.id).await?;
    let channels = store.guild_channels(guild.id).await?;
    let overwrites = store.guild_overwrites(guild.id).await?;
    let member_count = store.member_count(guild.id).await?;
    let large = member_count > large_threshold;
    let rows = if large {
        store.member(guild.id, viewer).await?.into_iter().collect()
    } else {
        store.members(guild.id, None, large_threshold.min(u64::from(u32::MAX)) as u32).await?
    };
    let ids: Vec<UserId> = rows.iter().map(|m| m.user_id).collect();
    let users: HashMap<UserId, UserRow> = store.users(&ids).await?.into_iter().map(|u| (u.id, u)).collect();
    let joined_at = rows.iter().find(|m| m.user_id == viewer).map_or(guild.created_at, |m| m.joined_at);
    // Only the channels the viewer may see: names and topics of hidden
    // channels are not theirs to know.
    let me = match rows.iter().find(|m| m.user_id == viewer) {
        Some(m) => Some(m.clone()),
        None => store.member(guild.id, viewer).await?,
    };
    let perm_roles: Vec<permissions::Role> = roles
        .iter()
        .map(|r| permissions::Role { id: r.id, permissions: r.permissions, position: r.position })
        .collect();
    let perm_guild = permissions::Guild { id: guild.id, owner_id: guild.owner_id, roles: &perm_roles };
    let can_view = |own: &[OverwriteRow]| match &me {
        Some(m) => {
            let member = permissions::Member {
                user_id: m.user_id,
                roles: &m.roles,
                timed_out: crate::permission_inputs::timed_out(m),
            };
            let overwrites = crate::permission_inputs::overwrites_of(own);
            permissions::channel_permissions(&perm_guild, &member, &overwrites) & model::permissions::VIEW_CHANNEL != 0
        }
        None => false,
    };
    let mut full = self::guild(guild, &roles);
    let (emojis, stickers) = tokio::try_join!(store.emojis(guild.id), store.stickers(guild.id))?;
    full.emojis = emojis.iter().map(|e| emoji(e, None)).collect();
    full.stickers = stickers.iter().map(|s| sticker(s, None)).collect();
    Ok(model::gateway::GuildCreate {
        guild: full,
        joined_at: Timestamp::from_unix_ms(joined_at),
        large,
        unavailable: false,
        member_count,
        voice_states: Vec::new(),
        members: rows.iter().filter_map(|m| users.get(&m.user_id).map(|u| member(m, Some(u)))).collect(),
        channels: channels
            .iter()
            .filter_map(|c| {
                let own: Vec<OverwriteRow> =
                    overwrites.iter().filter(|(id, _)| *id == c.id).map(|(_, o)| o.clone()).collect();
                can_view(&own).then(|| channel(c, &own, None))
            })
            .collect(),
        threads: Vec::new(),
        presences: Vec::new(),
        stage_instances: Vec::new(),
        guild_scheduled_events: Vec::new(),
        soundboard_sounds: Vec::new(),
    })
}

/// An audit log entry as the log lists it.
pub fn audit_entry(e: &store::AuditEntry) -> AuditLogEntry {
    let json = |raw: &Option<String>| raw.as_deref().and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
    AuditLogEntry {
        id: e.id.to_string(),
        user_id: e.user_id,
        target_id: e.target_id.map(|t| t.to_string()),
        action_type: e.action_type,
        changes: json(&e.changes),
        options: json(&e.options),
        reason: e.reason.clone(),
    }
}
