//! Messages: the one place a message is sent, edited or deleted, whoever
//! its author is. Every rule lives here — permissions, validation,
//! slowmode, blocks, AutoMod, mentions, the store write, rendering and the
//! event — so the REST route, AutoMod's alerts and every future author
//! (webhooks, interactions, system messages) behave alike.

use serde::Deserialize;
use serde_json::{json, Value};

use media::Key;

use model::channel::ChannelType;
use model::message::{flags as message_flags, kind, Message};
use model::snowflake::SnowflakeGenerator;
use model::{permissions, Timestamp};
use store::{
    ChannelId, GuildMentions, MessageId, MessageRow, NewMessage, RoleId, UserId, UserRow, WebhookAuthor, WebhookRow,
};

use crate::access::{self, ChannelAccess, GuildAccess};
use crate::audit::{action, Reason};
use crate::automod;
use crate::components;
use crate::embeds::{self, EmbedInput};
use crate::files::{self, AttachmentRef, Cleanup, StoredFile};
use crate::link_previews;
use crate::publish::Place;
use crate::render::{self, Viewer};
use crate::{Domain, Error, FormErrors, Result};

pub const MAX_CONTENT: usize = 2000;
const NONCE_WINDOW_MS: u64 = 5 * 60 * 1000;
const BULK_DELETE_MAX_AGE_MS: u64 = 14 * 24 * 3600 * 1000;
/// Flags a client may set: SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS.
pub const SETTABLE_FLAGS: u64 = (1 << 2) | (1 << 12);
/// IS_VOICE_MESSAGE: set when a message is sent (one audio file with its
/// duration and waveform, nothing else); an edit keeps it and cannot set it.
pub const IS_VOICE_MESSAGE: u64 = 1 << 13;
/// Discord's AUTO_MODERATION_ACTION message type.
const AUTO_MODERATION_ACTION: u8 = 24;

/// Who sends a message.
#[derive(Clone, Copy)]
pub enum Author<'a> {
    /// A person or a bot, under their own permissions in the channel.
    User(&'a UserRow),
    /// AutoMod, posting an alert about a message of `flagged` (who is shown
    /// as the alert's author, as on Discord) in `guild`'s alert channel.
    AutoMod { flagged: &'a UserRow, guild: &'a GuildAccess },
    /// A webhook, in its own channel, under the name and avatar given.
    Webhook(&'a WebhookPost<'a>),
    /// An application answering an interaction, as its bot.
    Interaction(&'a InteractionPost<'a>),
}

/// An application's answer to an interaction: posted by its bot in the
/// interaction's channel, whatever the bot's own permissions there (an
/// answer is a webhook's message), with the interaction's metadata. With
/// EPHEMERAL it is shown to `invoker` alone and never stored.
pub struct InteractionPost<'a> {
    pub bot: &'a UserRow,
    pub channel: ChannelId,
    /// The message type: 20 for a slash command, 23 for a context menu
    /// command, 0 for components and modals.
    pub kind: u8,
    pub metadata: Value,
    pub invoker: UserId,
    /// A deferred answer, "thinking" until it is edited.
    pub loading: bool,
}

/// Who posts, as `send_as_user` tells them apart.
#[derive(Clone, Copy)]
enum Poster<'a> {
    Person,
    Webhook(&'a WebhookPost<'a>),
    Interaction(&'a InteractionPost<'a>),
}

impl Poster<'_> {
    fn is_person(&self) -> bool {
        matches!(self, Poster::Person)
    }

    fn hook(&self) -> Option<&WebhookRow> {
        match self {
            Poster::Webhook(w) => Some(w.hook),
            _ => None,
        }
    }
}

/// A webhook posting: the webhook, its user row (the message's author),
/// and the name and avatar (an avatar hash) it posts under.
pub struct WebhookPost<'a> {
    pub hook: &'a WebhookRow,
    pub user: &'a UserRow,
    pub username: String,
    pub avatar: Option<String>,
}

/// What a message says, as Discord's create-message body carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Draft {
    /// discord.py sends `null` for a message without words.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: String,
    pub nonce: Option<Value>,
    #[serde(default)]
    pub enforce_nonce: bool,
    #[serde(default)]
    pub tts: bool,
    pub flags: Option<u64>,
    pub message_reference: Option<Reference>,
    pub allowed_mentions: Option<AllowedMentions>,
    /// Up to 3 stickers sent with the message.
    #[serde(default)]
    pub sticker_ids: Option<Vec<store::StickerId>>,
    /// The files' ids (part indexes), filenames and descriptions, and
    /// files uploaded ahead.
    pub attachments: Option<Vec<AttachmentRef>>,
    /// Up to 10 rich embeds.
    pub embeds: Option<Vec<EmbedInput>>,
    /// Deprecated: one embed, when `embeds` is absent.
    pub embed: Option<EmbedInput>,
    /// Buttons, selects and layout components (bots and applications).
    pub components: Option<Value>,
    /// This request's files, already stored by the transport.
    #[serde(skip)]
    pub files: Vec<StoredFile>,
    /// Deletes `files` unless the message is stored (and any pre-uploads
    /// the send claimed).
    #[serde(skip)]
    pub cleanup: Option<Cleanup>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// What an edit changes.
#[derive(Debug, Default, Deserialize)]
pub struct Edit {
    pub content: Option<String>,
    pub flags: Option<u64>,
    pub allowed_mentions: Option<AllowedMentions>,
    /// Every attachment the message keeps (by id) and gets (by part index);
    /// those it had and this does not list are deleted.
    pub attachments: Option<Vec<AttachmentRef>>,
    /// Every embed the message has after the edit (`[]` removes them all).
    pub embeds: Option<Vec<EmbedInput>>,
    /// Deprecated: one embed, when `embeds` is absent.
    pub embed: Option<EmbedInput>,
    /// Every component the message has after the edit (`[]` removes them).
    pub components: Option<Value>,
    /// This request's files, already stored by the transport.
    #[serde(skip)]
    pub files: Vec<StoredFile>,
    /// Deletes `files` unless the edit is stored.
    #[serde(skip)]
    pub cleanup: Option<Cleanup>,
}

impl Draft {
    /// The same words, embeds, components and files as an edit (the first
    /// follow-up of a deferred interaction fills its "thinking" message).
    pub fn into_edit(self) -> Edit {
        Edit {
            content: Some(self.content),
            flags: None,
            allowed_mentions: self.allowed_mentions,
            attachments: self.attachments,
            embeds: self.embeds,
            embed: self.embed,
            components: self.components,
            files: self.files,
            cleanup: self.cleanup,
        }
    }
}

/// Most stickers one message may carry.
const MAX_STICKERS: usize = 3;

/// The stickers of `ids`, as the message will keep them: each must exist
/// and be available (10060 otherwise); one of another guild needs
/// USE_EXTERNAL_STICKERS in the channel and membership of its guild.
async fn stickers(
    ctx: &Domain,
    access: &ChannelAccess,
    user: &UserRow,
    ids: &[store::StickerId],
) -> Result<Vec<store::StickerItemRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let unknown = || Error::new(crate::error::StatusCode::BAD_REQUEST, 10060, "Unknown Sticker");
    let found = ctx.store.stickers_by_id(ids).await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let sticker = found.iter().find(|s| s.id == *id && s.available).ok_or_else(unknown)?;
        if access.guild_id() != Some(sticker.guild_id) {
            access.require(permissions::USE_EXTERNAL_STICKERS)?;
            ctx.store.member(sticker.guild_id, user.id).await?.ok_or_else(unknown)?;
        }
        if !items.iter().any(|i: &store::StickerItemRow| i.id == *id) {
            items.push(store::StickerItemRow { id: *id, name: sticker.name.clone(), format_type: sticker.format_type });
        }
    }
    Ok(items)
}

/// A channel `user` can see that holds messages.
pub async fn text_channel(ctx: &Domain, user: &UserRow, id: ChannelId) -> Result<ChannelAccess> {
    let access = access::channel(ctx, user, id).await?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(Error::non_text_channel());
    }
    Ok(access)
}

/// The message `id` in the channel as `user` may find it. Without
/// READ_MESSAGE_HISTORY only the caller's own messages are found: anyone
/// else's answers 10008 exactly as an id that does not exist, so nothing is
/// revealed of the history the caller may not read.
pub async fn find(ctx: &Domain, access: &ChannelAccess, user: &UserRow, id: MessageId) -> Result<MessageRow> {
    ctx.store
        .message(access.channel.id, id)
        .await?
        .filter(|m| m.author_id == user.id || access.has(permissions::READ_MESSAGE_HISTORY))
        .ok_or_else(Error::unknown_message)
}

/// `user`'s own message `id` (50005 for someone else's): what only its
/// author may edit. Transports check it before reading an edit's files.
pub async fn own_message(ctx: &Domain, access: &ChannelAccess, user: &UserRow, id: MessageId) -> Result<MessageRow> {
    let row = find(ctx, access, user, id).await?;
    if row.author_id != user.id {
        return Err(Error::not_author());
    }
    Ok(row)
}

pub async fn render_one(ctx: &Domain, viewer: &Viewer, row: MessageRow) -> Result<Message> {
    let mut out = render::messages(ctx, viewer, &[row]).await?;
    out.pop().ok_or_else(|| Error::internal("rendering lost a message"))
}

/// Sends a message: the one path for every author. Answers the message as
/// its author sees it.
pub async fn send(ctx: &Domain, author: Author<'_>, channel: ChannelId, draft: Draft) -> Result<Message> {
    match author {
        Author::User(user) => send_as_user(ctx, user, Poster::Person, channel, draft).await,
        Author::AutoMod { flagged, guild } => send_alert(ctx, flagged, guild, channel, draft).await,
        Author::Webhook(post) => send_as_user(ctx, post.user, Poster::Webhook(post), post.hook.channel_id, draft).await,
        Author::Interaction(post) => send_as_user(ctx, post.bot, Poster::Interaction(post), post.channel, draft).await,
    }
}

/// A person or a bot, a webhook (whose `user` is the webhook's own row) or
/// an interaction's answer: webhooks and answers have no slowmode, AutoMod,
/// replies or stickers, and no member object.
async fn send_as_user(
    ctx: &Domain,
    user: &UserRow,
    poster: Poster<'_>,
    channel: ChannelId,
    mut draft: Draft,
) -> Result<Message> {
    let mut cleanup = draft.cleanup.take().unwrap_or_else(|| Cleanup::new(ctx.media.clone()));
    let webhook = poster.hook();
    let access = match poster {
        Poster::Webhook(post) => access::webhook_channel(ctx, post.hook).await?,
        Poster::Interaction(post) => access::answer_channel(ctx, post.bot, post.channel, post.invoker).await?,
        Poster::Person => text_channel(ctx, user, channel).await?,
    };
    if !poster.is_person() {
        // Discord's webhooks and answers neither reply nor send stickers.
        (draft.message_reference, draft.sticker_ids) = (None, None);
    }
    access.require(permissions::SEND_MESSAGES)?;
    let claims = draft.attachments.iter().flatten().any(|a| a.uploaded_filename.is_some());
    if !draft.files.is_empty() || claims {
        files::require_attach(&access)?;
    }
    let mut errors = FormErrors::default();
    check_content(&mut errors, &draft.content);
    let embeds =
        embeds::from_body(draft.embeds, draft.embed).map(|e| embeds::check(&mut errors, e)).unwrap_or_default();
    let (mut attachments, claimed) =
        files::attachments_for_send(draft.attachments.as_deref(), &draft.files, &mut errors)?;
    let nonce = match &draft.nonce {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 25 => Some(Value::String(s.clone())),
        Some(Value::Number(n)) if n.is_i64() => Some(Value::Number(n.clone())),
        Some(_) => {
            errors.add(
                "nonce",
                "BASE_TYPE_BAD_TYPE",
                "Must be a 64-bit signed integer or a string of 25 or fewer characters.",
            );
            None
        }
    };
    let mut flags = draft.flags.unwrap_or(0);
    let answer_flags = if matches!(poster, Poster::Interaction(_)) { message_flags::EPHEMERAL } else { 0 };
    if flags & !(SETTABLE_FLAGS | IS_VOICE_MESSAGE | components::IS_COMPONENTS_V2 | answer_flags) != 0 {
        errors.add(
            "flags",
            "MESSAGE_FLAGS_INVALID",
            "Only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_VOICE_MESSAGE and IS_COMPONENTS_V2 can be set.",
        );
    }
    let components = check_components(&mut errors, user, webhook, draft.components.as_ref(), flags);
    let loading = matches!(poster, Poster::Interaction(p) if p.loading);
    if flags & components::IS_COMPONENTS_V2 != 0 && (!draft.content.is_empty() || !embeds.is_empty()) {
        errors.add(
            "content",
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        );
    }
    if let Some(a) = &draft.allowed_mentions {
        a.check(&mut errors);
    }
    let mut reply_to = None;
    if let Some(r) = &draft.message_reference {
        if r.kind != 0 {
            errors.add("message_reference.type", "BASE_TYPE_CHOICES", "Only replies (type 0) are supported.");
        } else if r.channel_id.is_some_and(|c| c != access.channel.id) {
            errors.add(
                "message_reference.channel_id",
                "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL",
                "Cannot reply to a message in another channel.",
            );
        } else if let (Some(_), false) = (r.message_id, access.has(permissions::READ_MESSAGE_HISTORY)) {
            // Discord: replying needs READ_MESSAGE_HISTORY. Refused before
            // the message is looked up, so a reply tells nothing of it.
            return Err(Error::missing_permissions());
        } else if let Some(id) = r.message_id {
            match ctx.store.message(access.channel.id, id).await? {
                Some(m) => reply_to = Some(m),
                None if r.fail_if_not_exists => {
                    errors.add("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message");
                }
                None => {}
            }
        } else {
            errors.add("message_reference.message_id", "BASE_TYPE_REQUIRED", "This field is required");
        }
    }
    let sticker_ids = draft.sticker_ids.clone().unwrap_or_default();
    if sticker_ids.len() > MAX_STICKERS {
        errors.add("sticker_ids", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_STICKERS} or fewer in length."));
    }
    errors.finish()?;
    let sticker_items = stickers(ctx, &access, user, &sticker_ids).await?;
    if flags & IS_VOICE_MESSAGE != 0 {
        access.require(permissions::SEND_VOICE_MESSAGES)?;
        let has_content = !draft.content.is_empty() || !sticker_items.is_empty() || !embeds.is_empty();
        if claimed.is_empty() || has_content || attachments.len() + claimed.len() != 1 {
            files::check_voice_message(&attachments, claimed.len(), has_content)?;
        }
    }
    let no_files = attachments.is_empty() && claimed.is_empty();
    let empty = draft.content.trim().is_empty()
        && sticker_items.is_empty()
        && no_files
        && embeds.is_empty()
        && components.is_empty();
    if empty && !loading {
        return Err(Error::empty_message());
    }
    if loading {
        flags |= message_flags::LOADING;
    }
    let now = Timestamp::now().unix_ms();
    if poster.is_person() {
        enforce_slowmode(ctx, &access, user, now).await?;
    }
    // In a DM, a block either way stops the message, and so does having
    // neither a friendship nor a guild in common any more, as on Discord.
    for other in access.recipients.iter().filter(|r| **r != user.id) {
        access::may_dm(ctx, user.id, *other).await?;
    }

    // AutoMod before anything is stored: a blocked message never exists.
    let verdict = match poster {
        Poster::Webhook(_) | Poster::Interaction(_) => None,
        Poster::Person => {
            let (users, roles, _) = parse_mentions(&draft.content);
            automod::check(ctx, &access, user, &draft.content, users.len() + roles.len(), false).await?
        }
    };
    if let Some(v) = verdict.as_ref().filter(|v| v.blocks()) {
        automod::execute(ctx, &access, user, &draft.content, v, None).await;
        return Err(Error::automod_blocked());
    }

    if !claimed.is_empty() {
        attachments.extend(files::take_claims(ctx, access.channel.id, user.id, &claimed, &mut cleanup).await?);
        if flags & IS_VOICE_MESSAGE != 0 {
            // What the claimed file is is known now (the cleanup deletes it
            // if it is not audio with its metadata).
            files::check_voice_message(&attachments, 0, false)?;
        }
    }
    if flags & IS_VOICE_MESSAGE == 0 {
        // A voice message's details mean nothing on other files.
        for a in &mut attachments {
            (a.duration_secs, a.waveform) = (None, None);
        }
    }

    let replied_author = reply_to.as_ref().map(|m| m.author_id).filter(|a| *a != user.id);
    let (mentions, mention_roles, mention_everyone) =
        resolve_mentions(ctx, &access, &draft.content, draft.allowed_mentions.as_ref(), replied_author).await?;
    let row = MessageRow {
        channel_id: access.channel.id,
        id: ctx.ids.next()?,
        author_id: user.id,
        content: draft.content,
        kind: match poster {
            Poster::Interaction(p) => p.kind,
            _ if reply_to.is_some() => kind::REPLY,
            _ => kind::DEFAULT,
        },
        flags,
        tts: draft.tts && access.has(permissions::SEND_TTS_MESSAGES),
        mention_everyone: mention_everyone != Everyone::Nobody,
        mentions,
        mention_roles,
        nonce: nonce.map(|n| n.to_string()),
        edited_at: None,
        pinned_at: None,
        ref_message_id: reply_to.as_ref().map(|m| m.id),
        sticker_items,
        attachments,
        embeds,
        webhook: match poster {
            Poster::Webhook(w) => {
                Some(WebhookAuthor { id: w.hook.id, name: Some(w.username.clone()), avatar: w.avatar.clone() })
            }
            Poster::Interaction(p) => {
                Some(WebhookAuthor { id: store::WebhookId::new(p.bot.id.get()), name: None, avatar: None })
            }
            Poster::Person => None,
        },
        components,
        interaction: match poster {
            Poster::Interaction(p) => Some(p.metadata.clone()),
            _ => None,
        },
    };
    if let Poster::Interaction(p) = poster {
        if flags & message_flags::EPHEMERAL != 0 {
            // Shown to the invoker alone and never stored: its files are
            // not kept either.
            if !row.attachments.is_empty() {
                return Err(Error::field(
                    "attachments",
                    "EPHEMERAL_ATTACHMENTS",
                    "Ephemeral answers carry no files here.",
                ));
            }
            drop(cleanup);
            let message = render::fresh_message(ctx, &row, user, None).await?;
            ctx.ephemeral_created(access.guild_id(), message.clone(), p.invoker);
            return Ok(message);
        }
    }
    let place = access.place();
    // Before storing: whose mention counts the message may raise, counted
    // in its own transaction.
    let viewers = access.mention_viewers(ctx, &row).await?;
    let here = mention_everyone == Everyone::Here;
    let new = new_message(ctx, row, &place, viewers, draft.enforce_nonce, now, here);
    let (stored, created) = ctx.store.create_message(&new).await?;
    // Stored: the files it names stay whatever fails from here. (A retried
    // nonce answers an earlier message, which names none of this request's.)
    cleanup.keep(|key| stored.attachments.iter().any(|a| *key == Key::attachment(stored.channel_id, a.id)));
    drop(cleanup);
    let (id, content) = (stored.id, stored.content.clone());
    let previews = if created { link_previews::prepare(ctx, &access, user, &stored) } else { None };
    let mut message = if created {
        render::fresh_message(ctx, &stored, user, reply_to.as_ref()).await?
    } else {
        // The nonce named an earlier message: it answers as it is now.
        render_one(ctx, &Viewer::everything(user.id), stored).await?
    };
    if created {
        ctx.message_created(&place, message.clone(), access.member());
        if let Some(p) = previews {
            p.start(ctx);
        }
        if let Some(v) = &verdict {
            automod::execute(ctx, &access, user, &content, v, Some(id)).await;
        }
    }
    if poster.is_person() {
        access.viewer(ctx, user).await?.restrict(&mut message);
    }
    Ok(message)
}

/// A message's components, checked: a bot's, or an application's webhook's,
/// may be interactive; a plain webhook's only links and layout; a person
/// sends none.
fn check_components(
    errors: &mut FormErrors,
    user: &UserRow,
    hook: Option<&WebhookRow>,
    input: Option<&Value>,
    flags: u64,
) -> Vec<Value> {
    let Some(input) = input.filter(|v| !v.is_null()) else { return Vec::new() };
    let out = components::check(errors, input, flags & components::IS_COMPONENTS_V2 != 0);
    let interactive = |c: &Value| c.get("custom_id").is_some();
    let any_interactive = |list: &[Value]| {
        fn walk(list: &[Value], f: &dyn Fn(&Value) -> bool) -> bool {
            list.iter().any(|c| {
                f(c) || c.get("components").and_then(Value::as_array).is_some_and(|l| walk(l, f))
                    || c.get("accessory").is_some_and(|a| walk(std::slice::from_ref(a), f))
            })
        }
        walk(list, &interactive)
    };
    match hook {
        Some(h) if h.application_id.is_none() && any_interactive(&out) => errors.add(
            "components",
            "COMPONENT_INTERACTIVE_NOT_ALLOWED",
            "Only webhooks owned by an application can send interactive components.",
        ),
        None if !user.bot && !out.is_empty() => {
            errors.add("components", "COMPONENT_NOT_ALLOWED", "Only bots and applications can send components.")
        }
        _ => {}
    }
    out
}

/// The store's new message. In a guild, who may view the channel is also
/// who @everyone reaches (and `@here`, the members connected now), counted
/// in the message's own transaction.
fn new_message(
    ctx: &Domain,
    row: MessageRow,
    place: &Place,
    viewers: Option<Vec<UserId>>,
    enforce_nonce: bool,
    now: i64,
    here: bool,
) -> NewMessage {
    let guild_mentions = match place {
        Place::Guild { guild, .. } => {
            Some(GuildMentions { guild: *guild, viewers, online: here.then(|| ctx.presences.online_members(*guild)) })
        }
        Place::Dm { .. } => None,
    };
    NewMessage {
        row,
        enforce_nonce,
        nonce_since: SnowflakeGenerator::lower_bound((now as u64).saturating_sub(NONCE_WINDOW_MS)),
        guild_mentions,
    }
}

/// AutoMod's alert (a type 24 message) in the rule's alert channel, shown
/// as from the flagged member. Nothing is checked of the flagged member's
/// permissions there: AutoMod posts, not them.
async fn send_alert(
    ctx: &Domain,
    flagged: &UserRow,
    guild: &GuildAccess,
    channel: ChannelId,
    draft: Draft,
) -> Result<Message> {
    let Some(channel) = ctx.store.channel(channel).await?.filter(|c| c.guild_id == Some(guild.guild.id)) else {
        return Err(Error::unknown_channel());
    };
    let overwrites = ctx.cache.overwrites(ctx.store.as_ref(), channel.id).await?;
    let row = MessageRow::plain(channel.id, ctx.ids.next()?, flagged.id, draft.content, AUTO_MODERATION_ACTION);
    let viewers = access::mention_viewers(ctx, guild, &overwrites, &row).await?;
    let place = Place::Guild { guild: guild.guild.id, channel: channel.id };
    let new = new_message(ctx, row, &place, viewers, false, Timestamp::now().unix_ms(), false);
    let (stored, _) = ctx.store.create_message(&new).await?;
    let message = render::fresh_message(ctx, &stored, flagged, None).await?;
    ctx.message_created(&place, message.clone(), Some(render::member(&guild.member, Some(flagged))));
    Ok(message)
}

/// Edits `user`'s own message: its content (checked by AutoMod as a new
/// message would be) and flags. Answers the message as `user` sees it.
pub async fn edit(ctx: &Domain, user: &UserRow, channel: ChannelId, id: MessageId, edit: Edit) -> Result<Message> {
    edit_as(ctx, user, Editor::Person, channel, id, edit).await
}

/// Who edits, as `edit_as` tells them apart.
#[derive(Clone, Copy)]
enum Editor<'a> {
    Person,
    Webhook(&'a WebhookRow),
    /// An application through an interaction of `invoker`'s: any message
    /// its bot posted in the channel; a deferred answer stops "thinking".
    Application {
        invoker: UserId,
    },
}

/// Edits a message the application's bot posted in `channel`, through an
/// interaction (`UPDATE_MESSAGE`, `@original` and follow-up edits).
pub async fn edit_as_application(
    ctx: &Domain,
    bot: &UserRow,
    channel: ChannelId,
    id: MessageId,
    invoker: UserId,
    edit: Edit,
) -> Result<Message> {
    edit_as(ctx, bot, Editor::Application { invoker }, channel, id, edit).await
}

/// Edits a message the webhook posted (`user` is the webhook's own row).
pub async fn edit_webhook_message(
    ctx: &Domain,
    hook: &WebhookRow,
    user: &UserRow,
    id: MessageId,
    edit: Edit,
) -> Result<Message> {
    edit_as(ctx, user, Editor::Webhook(hook), hook.channel_id, id, edit).await
}

/// The message `id` in the webhook's channel, if the webhook posted it.
pub async fn webhook_message(ctx: &Domain, hook: &WebhookRow, id: MessageId) -> Result<MessageRow> {
    ctx.store
        .message(hook.channel_id, id)
        .await?
        .filter(|m| m.webhook.as_ref().is_some_and(|w| w.id == hook.id))
        .ok_or_else(Error::unknown_message)
}

async fn edit_as(
    ctx: &Domain,
    user: &UserRow,
    editor: Editor<'_>,
    channel: ChannelId,
    id: MessageId,
    mut edit: Edit,
) -> Result<Message> {
    let cleanup = edit.cleanup.take();
    let hook = match editor {
        Editor::Webhook(h) => Some(h),
        _ => None,
    };
    let (access, mut row) = match editor {
        Editor::Webhook(hook) => (access::webhook_channel(ctx, hook).await?, webhook_message(ctx, hook, id).await?),
        Editor::Application { invoker } => {
            let access = access::answer_channel(ctx, user, channel, invoker).await?;
            let row = ctx
                .store
                .message(access.channel.id, id)
                .await?
                .filter(|m| m.author_id == user.id)
                .ok_or_else(Error::unknown_message)?;
            (access, row)
        }
        Editor::Person => {
            let access = text_channel(ctx, user, channel).await?;
            let row = own_message(ctx, &access, user, id).await?;
            (access, row)
        }
    };
    if matches!(editor, Editor::Application { .. }) {
        row.flags &= !message_flags::LOADING;
    }
    let mut errors = FormErrors::default();
    if let Some(content) = &edit.content {
        check_content(&mut errors, content);
    }
    let embeds = embeds::from_body(edit.embeds, edit.embed).map(|e| embeds::check(&mut errors, e));
    let kept = row.flags & (IS_VOICE_MESSAGE | components::IS_COMPONENTS_V2);
    if edit.flags.is_some_and(|f| f & !(SETTABLE_FLAGS | kept) != 0) {
        errors.add("flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.");
    }
    if let Some(a) = &edit.allowed_mentions {
        a.check(&mut errors);
    }
    if !edit.files.is_empty() {
        files::require_attach(&access)?;
    }
    let new_components = edit
        .components
        .as_ref()
        .map(|c| check_components(&mut errors, user, hook, Some(c), row.flags | edit.flags.unwrap_or(0)));
    let attachments =
        files::attachments_for_edit(&row.attachments, edit.attachments.as_deref(), &edit.files, &mut errors)?;
    errors.finish()?;
    let content_after = edit.content.as_deref().unwrap_or(&row.content);
    // Link previews do not keep a message: they go with its content.
    let has_embeds = match &embeds {
        Some(e) => !e.is_empty(),
        None => row.embeds.iter().any(|e| !link_previews::is_preview(e)),
    };
    // Stickers cannot be edited, but they keep a message without words or files.
    let components_after = new_components.as_ref().unwrap_or(&row.components);
    if content_after.trim().is_empty()
        && attachments.is_empty()
        && row.sticker_items.is_empty()
        && !has_embeds
        && components_after.is_empty()
    {
        return Err(Error::empty_message());
    }
    // The body's embeds replace the rich ones; link previews stay for now.
    if let Some(embeds) = embeds {
        row.embeds.retain(link_previews::is_preview);
        row.embeds.splice(0..0, embeds);
    }
    let content_before = row.content.clone();
    let dropped: Vec<_> =
        row.attachments.iter().filter(|a| !attachments.iter().any(|k| k.id == a.id)).cloned().collect();
    row.attachments = attachments;
    let mut verdict = None;
    if let Some(content) = edit.content {
        // Discord checks edits too: a blocked edit leaves the message as it was.
        let (users, roles, _) = parse_mentions(&content);
        if matches!(editor, Editor::Person) {
            verdict = automod::check(ctx, &access, user, &content, users.len() + roles.len(), true).await?;
        }
        if let Some(v) = verdict.as_ref().filter(|v| v.blocks()) {
            automod::execute(ctx, &access, user, &content, v, None).await;
            return Err(Error::automod_blocked());
        }
        let (mentions, roles, everyone) =
            resolve_mentions(ctx, &access, &content, edit.allowed_mentions.as_ref(), None).await?;
        row.content = content;
        row.mentions = mentions;
        row.mention_roles = roles;
        row.mention_everyone = everyone != Everyone::Nobody;
    }
    if let Some(flags) = edit.flags {
        row.flags = flags | kept;
    }
    // Previews belong to the content they were made for, and go when
    // SUPPRESS_EMBEDS is set.
    if row.content != content_before || row.flags & link_previews::SUPPRESS_EMBEDS != 0 {
        row.embeds.retain(|e| !link_previews::is_preview(e));
    }
    if let Some(c) = new_components {
        row.components = c;
    }
    row.edited_at = Some(Timestamp::now().unix_ms());
    ctx.store.edit_message(&row).await?;
    if let Some(mut cleanup) = cleanup {
        cleanup.keep(|key| row.attachments.iter().any(|a| *key == Key::attachment(row.channel_id, a.id)));
    }
    // A message left without previews (new content, SUPPRESS_EMBEDS
    // cleared, or previews still on their way) gets them made again, once
    // the edit is announced.
    let previews = if row.embeds.iter().any(link_previews::is_preview) {
        None
    } else {
        link_previews::prepare(ctx, &access, user, &row)
    };
    // Only once no row names them.
    files::forget(ctx, access.channel.id, &dropped).await;
    let (id, content) = (row.id, row.content.clone());
    let mut message = render_one(ctx, &Viewer::everything(user.id), row).await?;
    ctx.message_updated(&access.place(), message.clone(), access.member());
    if let Some(p) = previews {
        p.start(ctx);
    }
    if let Some(v) = &verdict {
        automod::execute(ctx, &access, user, &content, v, Some(id)).await;
    }
    if matches!(editor, Editor::Person) {
        access.viewer(ctx, user).await?.restrict(&mut message);
    }
    Ok(message)
}

/// Deletes 2 to 100 messages younger than two weeks at once, in a guild
/// channel, with MANAGE_MESSAGES; ids that name no message are skipped.
pub async fn bulk_delete(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    ids: &[MessageId],
    reason: &Reason,
) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    let Some(guild) = access.guild.as_ref() else { return Err(Error::wrong_channel_type()) };
    access.require(permissions::MANAGE_MESSAGES)?;
    if !(2..=100).contains(&ids.len()) {
        return Err(Error::bulk_delete_count());
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    if unique.len() != ids.len() {
        return Err(Error::field("messages", "BASE_TYPE_DUPLICATES", "Duplicate message ids are not allowed."));
    }
    let oldest_allowed = (Timestamp::now().unix_ms() as u64).saturating_sub(BULK_DELETE_MAX_AGE_MS);
    if ids.iter().any(|id| id.timestamp_ms() < oldest_allowed) {
        return Err(Error::bulk_delete_too_old());
    }
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        action::MESSAGE_BULK_DELETE,
        Some(access.channel.id.get()),
        Vec::new(),
        Some(json!({"count": ids.len().to_string()})),
        reason,
    )?;
    let with_files: Vec<MessageRow> = ctx
        .store
        .messages_by_id(access.channel.id, ids)
        .await?
        .into_iter()
        .filter(|m| !m.attachments.is_empty())
        .collect();
    let deleted = ctx.store.delete_messages(access.channel.id, ids, Some(&entry)).await?;
    for m in with_files.iter().filter(|m| deleted.contains(&m.id)) {
        files::forget(ctx, access.channel.id, &m.attachments).await;
    }
    if !deleted.is_empty() {
        ctx.messages_bulk_deleted(&access.place(), &deleted);
        ctx.announce_audit(guild, &entry).await?;
    }
    Ok(())
}

/// Deletes a message the application's bot posted in `channel`, through an
/// interaction.
pub async fn delete_as_application(ctx: &Domain, bot: &UserRow, channel: ChannelId, id: MessageId) -> Result<()> {
    let row =
        ctx.store.message(channel, id).await?.filter(|m| m.author_id == bot.id).ok_or_else(Error::unknown_message)?;
    let place = match ctx.store.channel(channel).await? {
        Some(c) => match c.guild_id {
            Some(guild) => Place::Guild { guild, channel },
            None => Place::Dm { channel, recipients: ctx.store.dm_recipients(channel).await? },
        },
        None => return Err(Error::unknown_channel()),
    };
    if ctx.store.delete_message(channel, row.id, None).await? {
        files::forget(ctx, channel, &row.attachments).await;
        ctx.message_deleted(&place, row.id);
    }
    Ok(())
}

/// Deletes a message the webhook posted.
pub async fn delete_webhook_message(ctx: &Domain, hook: &WebhookRow, id: MessageId) -> Result<()> {
    let row = webhook_message(ctx, hook, id).await?;
    if ctx.store.delete_message(row.channel_id, row.id, None).await? {
        files::forget(ctx, row.channel_id, &row.attachments).await;
        ctx.message_deleted(&Place::Guild { guild: hook.guild_id, channel: row.channel_id }, row.id);
    }
    Ok(())
}

/// Deletes a message: its author's own, or anyone's in a guild with
/// MANAGE_MESSAGES (an audited action).
pub async fn delete(ctx: &Domain, user: &UserRow, channel: ChannelId, id: MessageId, reason: &Reason) -> Result<()> {
    let access = text_channel(ctx, user, channel).await?;
    let row = find(ctx, &access, user, id).await?;
    if row.author_id != user.id && !(access.guild.is_some() && access.has(permissions::MANAGE_MESSAGES)) {
        return Err(Error::missing_permissions());
    }
    let entry = match (&access.guild, row.author_id != user.id) {
        (Some(guild), true) => Some(ctx.audit_entry(
            guild.guild.id,
            user.id,
            action::MESSAGE_DELETE,
            Some(row.author_id.get()),
            Vec::new(),
            Some(json!({"channel_id": access.channel.id, "count": "1"})),
            reason,
        )?),
        _ => None,
    };
    if ctx.store.delete_message(access.channel.id, row.id, entry.as_ref()).await? {
        files::forget(ctx, access.channel.id, &row.attachments).await;
        ctx.message_deleted(&access.place(), row.id);
        if let (Some(g), Some(e)) = (&access.guild, &entry) {
            ctx.announce_audit(g, e).await?;
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, Default)]
pub struct AllowedMentions {
    pub parse: Option<Vec<String>>,
    #[serde(default)]
    pub users: Vec<UserId>,
    #[serde(default)]
    pub roles: Vec<RoleId>,
    #[serde(default)]
    pub replied_user: bool,
}

impl AllowedMentions {
    pub fn check(&self, errors: &mut FormErrors) {
        for (i, p) in self.parse.iter().flatten().enumerate() {
            if !matches!(p.as_str(), "users" | "roles" | "everyone") {
                errors.add(
                    &format!("allowed_mentions.parse.{i}"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of ('roles', 'users', 'everyone').",
                );
            }
        }
        let parses = |what: &str| self.parse.iter().flatten().any(|p| p == what);
        if parses("users") && !self.users.is_empty() {
            errors.add(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                "parse:[\"users\"] and users: [ids] are mutually exclusive.",
            );
        }
        if parses("roles") && !self.roles.is_empty() {
            errors.add(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                "parse:[\"roles\"] and roles: [ids] are mutually exclusive.",
            );
        }
        if self.users.len() > 100 || self.roles.len() > 100 {
            errors.add("allowed_mentions", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
        }
    }
}

/// Mentions written in `content`: `<@id>`, `<@!id>`, `<@&id>`, `@everyone`,
/// `@here`, in order of appearance and without repeats.
pub fn parse_mentions(content: &str) -> (Vec<UserId>, Vec<RoleId>, Everyone) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(at) = rest.find("<@") {
        rest = &rest[at + 2..];
        let (is_role, body) = match rest.as_bytes().first() {
            Some(b'&') => (true, &rest[1..]),
            Some(b'!') => (false, &rest[1..]),
            _ => (false, rest),
        };
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || body.as_bytes().get(digits) != Some(&b'>') {
            continue;
        }
        if is_role {
            if let Ok(id) = body[..digits].parse::<RoleId>() {
                if !roles.contains(&id) {
                    roles.push(id);
                }
            }
        } else if let Ok(id) = body[..digits].parse::<UserId>() {
            if !users.contains(&id) {
                users.push(id);
            }
        }
    }
    (users, roles, Everyone::of(content))
}

/// What a message says of everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Everyone {
    Nobody,
    /// `@here`: the members connected now.
    Here,
    Everyone,
}

impl Everyone {
    fn of(content: &str) -> Self {
        if content.contains("@everyone") {
            Everyone::Everyone
        } else if content.contains("@here") {
            Everyone::Here
        } else {
            Everyone::Nobody
        }
    }
}

/// Resolves the mentions a message may make: real users of the guild or
/// DM, the guild's roles that are mentionable (any role with
/// MENTION_EVERYONE, as on Discord), and @everyone or @here only with
/// MENTION_EVERYONE.
async fn resolve_mentions(
    state: &Domain,
    access: &ChannelAccess,
    content: &str,
    allowed: Option<&AllowedMentions>,
    replied: Option<UserId>,
) -> Result<(Vec<UserId>, Vec<RoleId>, Everyone)> {
    let (users, roles, everyone) = parse_mentions(content);
    let parses = |what: &str| allowed.is_none_or(|a| a.parse.iter().flatten().any(|p| p == what));
    let mut users: Vec<UserId> =
        users.into_iter().filter(|u| parses("users") || allowed.is_some_and(|a| a.users.contains(u))).collect();
    if let Some(replied) = replied {
        if allowed.is_none_or(|a| a.replied_user) && !users.contains(&replied) {
            users.push(replied);
        }
    }
    let mut visible = Vec::with_capacity(users.len());
    for u in users {
        let present = match access.guild_id() {
            Some(g) => state.store.member(g, u).await?.is_some(),
            None => state.store.dm_recipients(access.channel.id).await?.contains(&u),
        };
        if present {
            visible.push(u);
        }
    }
    // The guild's roles were read for the permission check already.
    let roles = match &access.guild {
        Some(guild) => roles
            .into_iter()
            .filter(|r| parses("roles") || allowed.is_some_and(|a| a.roles.contains(r)))
            .filter(|r| {
                r.get() != guild.guild.id.get()
                    && guild
                        .roles
                        .iter()
                        .any(|gr| gr.id == *r && (gr.mentionable || access.has(permissions::MENTION_EVERYONE)))
            })
            .collect(),
        None => Vec::new(),
    };
    let everyone =
        if parses("everyone") && access.has(permissions::MENTION_EVERYONE) { everyone } else { Everyone::Nobody };
    Ok((visible, roles, everyone))
}

pub fn check_content(errors: &mut FormErrors, content: &str) {
    if content.chars().count() > MAX_CONTENT {
        errors.add("content", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_CONTENT} or fewer in length."));
    }
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    pub message_id: Option<MessageId>,
    pub channel_id: Option<ChannelId>,
    #[serde(default = "yes")]
    pub fail_if_not_exists: bool,
    #[serde(rename = "type", default)]
    pub kind: u8,
}

fn yes() -> bool {
    true
}

/// Refuses a message sent sooner than the channel's slowmode allows, unless
/// the sender may manage messages or channels or bypass slowmode.
async fn enforce_slowmode(state: &Domain, access: &ChannelAccess, user: &UserRow, now: i64) -> Result<()> {
    let window_ms = access.channel.rate_limit_per_user * 1000;
    let exempt = access.has(permissions::MANAGE_MESSAGES)
        || access.has(permissions::MANAGE_CHANNELS)
        || access.has(permissions::BYPASS_SLOWMODE);
    if window_ms <= 0 || exempt {
        return Ok(());
    }
    let since = SnowflakeGenerator::lower_bound((now - window_ms).max(0) as u64);
    if let Some(last) = state.store.latest_by_author(access.channel.id, user.id, since).await? {
        let wait_ms = last.timestamp_ms() as i64 + window_ms - now;
        if wait_ms > 0 {
            return Err(Error::slowmode(wait_ms as f64 / 1000.0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<T>(n: u64) -> model::Id<T> {
        model::Id::new_checked(n).unwrap()
    }

    #[test]
    fn mentions_are_read_in_order_once_each() {
        let (users, roles, everyone) = parse_mentions("<@2> <@!3> <@&4> <@2> <@x> <@5 <@&4> @here");
        assert_eq!(users, [id(2), id(3)]);
        assert_eq!(roles, [id(4)]);
        assert_eq!(everyone, Everyone::Here);
        assert_eq!(Everyone::of("@everyone and @here"), Everyone::Everyone);
        assert_eq!(Everyone::of("no one"), Everyone::Nobody);
    }

    #[test]
    fn allowed_mentions_refuse_what_discord_refuses() {
        let check = |a: AllowedMentions| {
            let mut errors = FormErrors::default();
            a.check(&mut errors);
            errors.finish().err().map(|e| e.errors.unwrap().to_string())
        };
        assert_eq!(check(AllowedMentions { parse: Some(vec!["users".into()]), ..Default::default() }), None);
        let both =
            check(AllowedMentions { parse: Some(vec!["users".into()]), users: vec![id(1)], ..Default::default() });
        assert!(both.unwrap().contains("MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"));
        let odd = check(AllowedMentions { parse: Some(vec!["channels".into()]), ..Default::default() });
        assert!(odd.unwrap().contains("BASE_TYPE_CHOICES"));
        let many = check(AllowedMentions { roles: (1..=101).map(id).collect(), ..Default::default() });
        assert!(many.unwrap().contains("BASE_TYPE_MAX_LENGTH"));
    }

    #[test]
    fn content_is_measured_in_characters() {
        let mut errors = FormErrors::default();
        check_content(&mut errors, &"é".repeat(MAX_CONTENT));
        assert!(errors.is_empty(), "2000 two-byte characters are within the limit");
        check_content(&mut errors, &"a".repeat(MAX_CONTENT + 1));
        assert!(!errors.is_empty());
    }
}
