//! Messages, replies, mentions, reactions and pins.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::channel::ChannelType;
use model::message::{kind, Message};
use model::snowflake::SnowflakeGenerator;
use model::user::User;
use model::{permissions, Timestamp};
use store::{ChannelId, GuildMentions, HistoryQuery, MessageId, MessageRow, NewMessage, RoleId, UserId, UserRow};

use crate::extract::{path_id, Authed, Body, Cursor, Path, Query};
use crate::routes::automod;
use crate::routes::channels::open;
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access::ChannelAccess;
use domain::audit::{action, Reason};
use domain::publish::Place;
use domain::render;
use domain::render::Viewer;
use events::dispatch::{ReactionAdd, ReactionRemove, ReactionRemoveAll, ReactionRemoveEmoji};
use events::Dispatch;

const MAX_CONTENT: usize = 2000;
const MAX_PINS: usize = 50;
const MAX_REACTION_EMOJI: usize = 20;
const NONCE_WINDOW_MS: u64 = 5 * 60 * 1000;
const BULK_DELETE_MAX_AGE_MS: u64 = 14 * 24 * 3600 * 1000;
/// Flags a client may set: SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS.
const SETTABLE_FLAGS: u64 = (1 << 2) | (1 << 12);

/// A channel that holds messages, or Discord's error for one that does not.
/// A channel the user can see that holds messages.
pub(crate) async fn text_channel(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<ChannelAccess> {
    let access = open(state, user, raw).await?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(ApiError::non_text_channel());
    }
    Ok(access)
}

async fn render_one(state: &ApiState, viewer: &Viewer, row: MessageRow) -> ApiResult<Message> {
    let mut out = render::messages(state, viewer, &[row]).await?;
    out.pop().ok_or_else(|| ApiError::internal("rendering lost a message"))
}

/// The message a route names. Without READ_MESSAGE_HISTORY only the
/// caller's own messages are found: anyone else's answers 10008 exactly as
/// an id that does not exist, so the route reveals nothing of the history
/// the caller may not read.
async fn find(state: &ApiState, access: &ChannelAccess, user: &UserRow, raw: &str) -> ApiResult<MessageRow> {
    let id: MessageId = path_id("message_id", raw)?;
    state
        .store
        .message(access.channel.id, id)
        .await?
        .filter(|m| m.author_id == user.id || access.has(permissions::READ_MESSAGE_HISTORY))
        .ok_or_else(ApiError::unknown_message)
}

#[derive(Deserialize, Default)]
pub struct AllowedMentions {
    parse: Option<Vec<String>>,
    #[serde(default)]
    users: Vec<UserId>,
    #[serde(default)]
    roles: Vec<RoleId>,
    #[serde(default)]
    replied_user: bool,
}

impl AllowedMentions {
    fn check(&self, errors: &mut FormErrors) {
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
fn parse_mentions(content: &str) -> (Vec<UserId>, Vec<RoleId>, Everyone) {
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
enum Everyone {
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
    state: &ApiState,
    access: &ChannelAccess,
    content: &str,
    allowed: Option<&AllowedMentions>,
    replied: Option<UserId>,
) -> ApiResult<(Vec<UserId>, Vec<RoleId>, Everyone)> {
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

fn check_content(errors: &mut FormErrors, content: &str) {
    if content.chars().count() > MAX_CONTENT {
        errors.add("content", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_CONTENT} or fewer in length."));
    }
}

#[derive(Deserialize)]
pub struct Reference {
    message_id: Option<MessageId>,
    channel_id: Option<ChannelId>,
    #[serde(default = "yes")]
    fail_if_not_exists: bool,
    #[serde(rename = "type", default)]
    kind: u8,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub struct CreateMessage {
    #[serde(default)]
    content: String,
    nonce: Option<Value>,
    #[serde(default)]
    enforce_nonce: bool,
    #[serde(default)]
    tts: bool,
    flags: Option<u64>,
    message_reference: Option<Reference>,
    allowed_mentions: Option<AllowedMentions>,
}

pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Body(body): Body<CreateMessage>,
) -> ApiResult<Json<Message>> {
    let access = text_channel(&state, &user, &raw).await?;
    access.require(permissions::SEND_MESSAGES)?;
    let mut errors = FormErrors::default();
    check_content(&mut errors, &body.content);
    let nonce = match &body.nonce {
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
    let flags = body.flags.unwrap_or(0);
    if flags & !SETTABLE_FLAGS != 0 {
        errors.add("flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.");
    }
    if let Some(a) = &body.allowed_mentions {
        a.check(&mut errors);
    }
    let mut reply_to = None;
    if let Some(r) = &body.message_reference {
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
            return Err(ApiError::missing_permissions());
        } else if let Some(id) = r.message_id {
            match state.store.message(access.channel.id, id).await? {
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
    errors.finish()?;
    if body.content.trim().is_empty() {
        return Err(ApiError::empty_message());
    }
    let now = Timestamp::now().unix_ms();
    enforce_slowmode(&state, &access, &user, now).await?;
    // In a DM, a block either way stops the message, and so does having
    // neither a friendship nor a guild in common any more, as on Discord.
    for other in access.recipients.iter().filter(|r| **r != user.id) {
        domain::access::may_dm(&state, user.id, *other).await?;
    }

    // AutoMod before anything is stored: a blocked message never exists.
    let verdict = {
        let (users, roles, _) = parse_mentions(&body.content);
        automod::check(&state, &access, &user, &body.content, users.len() + roles.len(), false).await?
    };
    if let Some(v) = verdict.as_ref().filter(|v| v.blocks()) {
        automod::execute(&state, &access, &user, &body.content, v, None).await;
        return Err(ApiError::automod_blocked());
    }

    let replied_author = reply_to.as_ref().map(|m| m.author_id).filter(|a| *a != user.id);
    let (mentions, mention_roles, mention_everyone) =
        resolve_mentions(&state, &access, &body.content, body.allowed_mentions.as_ref(), replied_author).await?;
    let row = MessageRow {
        channel_id: access.channel.id,
        id: state.ids.next(),
        author_id: user.id,
        content: body.content,
        kind: if reply_to.is_some() { kind::REPLY } else { kind::DEFAULT },
        flags,
        tts: body.tts && access.has(permissions::SEND_TTS_MESSAGES),
        mention_everyone: mention_everyone != Everyone::Nobody,
        mentions,
        mention_roles,
        nonce: nonce.map(|n| n.to_string()),
        edited_at: None,
        pinned_at: None,
        ref_message_id: reply_to.map(|m| m.id),
    };
    // Before storing: who may view the channel is also who @everyone
    // reaches, counted in the message's own transaction.
    let place = access.place();
    let guild_mentions = match &place {
        Place::Guild { guild, .. } => Some(GuildMentions {
            guild: *guild,
            viewers: access.mention_viewers(&state, &row).await?,
            online: (mention_everyone == Everyone::Here).then(|| state.presences.online_members(*guild)),
        }),
        Place::Dm { .. } => None,
    };
    let new = NewMessage {
        row,
        enforce_nonce: body.enforce_nonce,
        nonce_since: SnowflakeGenerator::lower_bound((now as u64).saturating_sub(NONCE_WINDOW_MS)),
        guild_mentions,
    };
    let (stored, created) = state.store.create_message(&new).await?;
    let (id, content) = (stored.id, stored.content.clone());
    let mut message = render_one(&state, &Viewer::everything(user.id), stored).await?;
    if created {
        state.message_created(&place, message.clone(), access.member());
        if let Some(v) = &verdict {
            automod::execute(&state, &access, &user, &content, v, Some(id)).await;
        }
    }
    access.viewer(&state, &user).await?.restrict(&mut message);
    Ok(Json(message))
}

/// Refuses a message sent sooner than the channel's slowmode allows, unless
/// the sender may manage messages or channels or bypass slowmode.
async fn enforce_slowmode(state: &ApiState, access: &ChannelAccess, user: &UserRow, now: i64) -> ApiResult<()> {
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
            return Err(ApiError::slowmode(wait_ms as f64 / 1000.0));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<MessageId>,
    after: Option<Cursor>,
    around: Option<MessageId>,
    limit: Option<u32>,
}

pub async fn list(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    let access = text_channel(&state, &user, &raw).await?;
    let limit = crate::extract::page_limit(q.limit, 50, 100)?;
    let query = match (q.before, q.after, q.around) {
        (None, None, None) => HistoryQuery::Latest,
        (Some(id), None, None) => HistoryQuery::Before(id),
        (None, Some(cursor), None) => cursor.id().map_or(HistoryQuery::Oldest, HistoryQuery::After),
        (None, None, Some(id)) => HistoryQuery::Around(id),
        _ => {
            return Err(ApiError::field(
                "around",
                "MESSAGE_LIST_QUERY_EXCLUSIVE",
                "Only one of before, after and around may be given.",
            ))
        }
    };
    if !access.has(permissions::READ_MESSAGE_HISTORY) {
        return Ok(Json(Vec::new()));
    }
    let rows = state.store.history(access.channel.id, query, limit).await?;
    Ok(Json(render::messages(&state, &access.viewer(&state, &user).await?, &rows).await?))
}

pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
) -> ApiResult<Json<Message>> {
    let access = text_channel(&state, &user, &channel).await?;
    access.require(permissions::READ_MESSAGE_HISTORY)?;
    let row = find(&state, &access, &user, &message).await?;
    Ok(Json(render_one(&state, &access.viewer(&state, &user).await?, row).await?))
}

#[derive(Deserialize)]
pub struct UpdateMessage {
    content: Option<String>,
    flags: Option<u64>,
    allowed_mentions: Option<AllowedMentions>,
}

pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    Body(body): Body<UpdateMessage>,
) -> ApiResult<Json<Message>> {
    let access = text_channel(&state, &user, &channel).await?;
    let mut row = find(&state, &access, &user, &message).await?;
    if row.author_id != user.id {
        return Err(ApiError::not_author());
    }
    let mut errors = FormErrors::default();
    if let Some(content) = &body.content {
        check_content(&mut errors, content);
    }
    if body.flags.is_some_and(|f| f & !SETTABLE_FLAGS != 0) {
        errors.add("flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.");
    }
    if let Some(a) = &body.allowed_mentions {
        a.check(&mut errors);
    }
    errors.finish()?;
    let mut verdict = None;
    if let Some(content) = body.content {
        if content.trim().is_empty() {
            return Err(ApiError::empty_message());
        }
        // Discord checks edits too: a blocked edit leaves the message as it was.
        let (users, roles, _) = parse_mentions(&content);
        verdict = automod::check(&state, &access, &user, &content, users.len() + roles.len(), true).await?;
        if let Some(v) = verdict.as_ref().filter(|v| v.blocks()) {
            automod::execute(&state, &access, &user, &content, v, None).await;
            return Err(ApiError::automod_blocked());
        }
        let (mentions, roles, everyone) =
            resolve_mentions(&state, &access, &content, body.allowed_mentions.as_ref(), None).await?;
        row.content = content;
        row.mentions = mentions;
        row.mention_roles = roles;
        row.mention_everyone = everyone != Everyone::Nobody;
    }
    if let Some(flags) = body.flags {
        row.flags = flags;
    }
    row.edited_at = Some(Timestamp::now().unix_ms());
    state.store.edit_message(&row).await?;
    let (id, content) = (row.id, row.content.clone());
    let mut message = render_one(&state, &Viewer::everything(user.id), row).await?;
    state.message_updated(&access.place(), message.clone(), access.member());
    if let Some(v) = &verdict {
        automod::execute(&state, &access, &user, &content, v, Some(id)).await;
    }
    access.viewer(&state, &user).await?.restrict(&mut message);
    Ok(Json(message))
}

pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &channel).await?;
    let row = find(&state, &access, &user, &message).await?;
    if row.author_id != user.id && !(access.guild.is_some() && access.has(permissions::MANAGE_MESSAGES)) {
        return Err(ApiError::missing_permissions());
    }
    // A moderator deleting someone else's message is an audited action.
    let entry = match (&access.guild, row.author_id != user.id) {
        (Some(guild), true) => Some(state.audit_entry(
            guild.guild.id,
            user.id,
            action::MESSAGE_DELETE,
            Some(row.author_id.get()),
            Vec::new(),
            Some(json!({"channel_id": access.channel.id, "count": "1"})),
            &reason,
        )),
        _ => None,
    };
    if state.store.delete_message(access.channel.id, row.id, entry.as_ref()).await? {
        state.message_deleted(&access.place(), row.id);
        if let (Some(g), Some(e)) = (&access.guild, &entry) {
            crate::routes::roles::announce_audit(&state, g, e).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct BulkDelete {
    messages: Vec<MessageId>,
}

pub async fn bulk_delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<BulkDelete>,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &raw).await?;
    if access.guild.is_none() {
        return Err(ApiError::wrong_channel_type());
    }
    access.require(permissions::MANAGE_MESSAGES)?;
    if !(2..=100).contains(&body.messages.len()) {
        return Err(ApiError::bulk_delete_count());
    }
    let unique: HashSet<_> = body.messages.iter().collect();
    if unique.len() != body.messages.len() {
        return Err(ApiError::field("messages", "BASE_TYPE_DUPLICATES", "Duplicate message ids are not allowed."));
    }
    let oldest_allowed = (Timestamp::now().unix_ms() as u64).saturating_sub(BULK_DELETE_MAX_AGE_MS);
    if body.messages.iter().any(|id| id.timestamp_ms() < oldest_allowed) {
        return Err(ApiError::bulk_delete_too_old());
    }
    let guild = access.guild.as_ref().expect("checked above");
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::MESSAGE_BULK_DELETE,
        Some(access.channel.id.get()),
        Vec::new(),
        Some(json!({"count": body.messages.len().to_string()})),
        &reason,
    );
    let deleted = state.store.delete_messages(access.channel.id, &body.messages, Some(&entry)).await?;
    if !deleted.is_empty() {
        state.messages_bulk_deleted(&access.place(), &deleted);
        crate::routes::roles::announce_audit(&state, guild, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The stored key of an emoji path segment: a Unicode emoji as itself.
/// Custom emoji (`name:id`) do not exist yet, so they are unknown; so is
/// anything that is not an emoji in Unicode's list.
fn emoji_key(raw: &str) -> ApiResult<String> {
    match emojis::get(raw) {
        Some(emoji) => Ok(emoji.as_str().to_owned()),
        // Clients may send an emoji without its variation selector, or with
        // one the list does not carry.
        None => {
            emojis::get(&raw.replace('\u{fe0f}', "")).map(|e| e.as_str().to_owned()).ok_or_else(ApiError::unknown_emoji)
        }
    }
}

/// `@me` or a user id in the last segment of reaction routes.
enum Reactor {
    Me,
    User(UserId),
}

fn reactor(raw: &str) -> ApiResult<Reactor> {
    if raw == "@me" {
        Ok(Reactor::Me)
    } else {
        path_id("user_id", raw).map(Reactor::User)
    }
}

pub async fn react(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message, emoji, who)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let Reactor::Me = reactor(&who)? else {
        return Err(ApiError::method_not_allowed());
    };
    let access = text_channel(&state, &user, &channel).await?;
    access.require(permissions::READ_MESSAGE_HISTORY)?;
    // A timed-out member may not react at all, not even by joining an
    // existing reaction (which otherwise needs no ADD_REACTIONS); owners and
    // administrators are exempt from timeouts.
    if access.guild.as_ref().is_some_and(|g| domain::access::timed_out(&g.member))
        && !access.has(permissions::ADMINISTRATOR)
    {
        return Err(ApiError::missing_permissions());
    }
    let row = find(&state, &access, &user, &message).await?;
    let key = emoji_key(&emoji)?;
    let existing = state.store.reaction_counts(access.channel.id, &[row.id], user.id).await?;
    if !existing.iter().any(|r| r.emoji == key) {
        // A new emoji on the message needs ADD_REACTIONS; joining one does not.
        access.require(permissions::ADD_REACTIONS)?;
        if existing.len() >= MAX_REACTION_EMOJI {
            return Err(ApiError::max_reactions());
        }
    }
    if state.store.add_reaction(access.channel.id, row.id, &key, user.id, Timestamp::now().unix_ms()).await? {
        let data = ReactionAdd {
            user_id: user.id,
            channel_id: access.channel.id,
            message_id: row.id,
            guild_id: None,
            message_author_id: Some(row.author_id),
            emoji: render::reaction_emoji(&key),
            member: access.member_with_user(&user),
            burst: false,
            burst_colors: Vec::new(),
            kind: 0,
        };
        state.reaction_event(&access.place(), Dispatch::ReactionAdd(data));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unreact(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message, emoji, who)): Path<(String, String, String, String)>,
) -> ApiResult<StatusCode> {
    let target = reactor(&who)?;
    let access = text_channel(&state, &user, &channel).await?;
    let row = find(&state, &access, &user, &message).await?;
    let key = emoji_key(&emoji)?;
    let target = match target {
        Reactor::Me => user.id,
        Reactor::User(id) if id == user.id => id,
        Reactor::User(id) => {
            access.require(permissions::MANAGE_MESSAGES)?;
            id
        }
    };
    if state.store.remove_reaction(access.channel.id, row.id, &key, target).await? {
        let data = ReactionRemove {
            user_id: target,
            channel_id: access.channel.id,
            message_id: row.id,
            guild_id: None,
            emoji: render::reaction_emoji(&key),
            burst: false,
            kind: 0,
        };
        state.reaction_event(&access.place(), Dispatch::ReactionRemove(data));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct ReactorsQuery {
    after: Option<Cursor>,
    limit: Option<u32>,
}

pub async fn reactors(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message, emoji)): Path<(String, String, String)>,
    Query(q): Query<ReactorsQuery>,
) -> ApiResult<Json<Vec<User>>> {
    let access = text_channel(&state, &user, &channel).await?;
    access.require(permissions::READ_MESSAGE_HISTORY)?;
    let row = find(&state, &access, &user, &message).await?;
    let key = emoji_key(&emoji)?;
    let limit = crate::extract::page_limit(q.limit, 25, 100)?;
    let ids = state.store.reactors(access.channel.id, row.id, &key, q.after.and_then(Cursor::id), limit).await?;
    let mut users = state.store.users(&ids).await?;
    users.sort_by_key(|u| u.id);
    Ok(Json(users.iter().map(render::user).collect()))
}

pub async fn clear_emoji(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message, emoji)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &channel).await?;
    access.require(permissions::MANAGE_MESSAGES)?;
    let row = find(&state, &access, &user, &message).await?;
    let key = emoji_key(&emoji)?;
    if state.store.clear_reactions(access.channel.id, row.id, Some(&key)).await? > 0 {
        let data = ReactionRemoveEmoji {
            channel_id: access.channel.id,
            message_id: row.id,
            guild_id: None,
            emoji: render::reaction_emoji(&key),
        };
        state.reaction_event(&access.place(), Dispatch::ReactionRemoveEmoji(data));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn clear_reactions(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &channel).await?;
    access.require(permissions::MANAGE_MESSAGES)?;
    let row = find(&state, &access, &user, &message).await?;
    if state.store.clear_reactions(access.channel.id, row.id, None).await? > 0 {
        let data = ReactionRemoveAll { channel_id: access.channel.id, message_id: row.id, guild_id: None };
        state.reaction_event(&access.place(), Dispatch::ReactionRemoveAll(data));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Pinning needs PIN_MESSAGES or MANAGE_MESSAGES (either recipient may pin
/// in a DM).
fn may_pin(access: &ChannelAccess) -> ApiResult<()> {
    if access.has(permissions::PIN_MESSAGES) || access.has(permissions::MANAGE_MESSAGES) {
        Ok(())
    } else {
        Err(ApiError::missing_permissions())
    }
}

pub async fn pin(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &channel).await?;
    may_pin(&access)?;
    let row = find(&state, &access, &user, &message).await?;
    if row.pinned_at.is_none() && state.store.pins(access.channel.id).await?.len() >= MAX_PINS {
        return Err(ApiError::max_pins());
    }
    let entry = pin_entry(&state, &access, &row, &user, action::MESSAGE_PIN, &reason);
    if state.store.set_pinned(access.channel.id, row.id, Some(Timestamp::now().unix_ms()), entry.as_ref()).await? {
        announce_pins(&state, &access, entry.as_ref()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unpin(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let access = text_channel(&state, &user, &channel).await?;
    may_pin(&access)?;
    let row = find(&state, &access, &user, &message).await?;
    let entry = pin_entry(&state, &access, &row, &user, action::MESSAGE_UNPIN, &reason);
    if state.store.set_pinned(access.channel.id, row.id, None, entry.as_ref()).await? {
        announce_pins(&state, &access, entry.as_ref()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Pins in guild channels are audited; in DMs there is no audit log.
fn pin_entry(
    state: &ApiState,
    access: &ChannelAccess,
    row: &MessageRow,
    user: &UserRow,
    action: u16,
    reason: &Reason,
) -> Option<store::AuditEntry> {
    access.guild.as_ref().map(|g| {
        state.audit_entry(
            g.guild.id,
            user.id,
            action,
            Some(row.author_id.get()),
            Vec::new(),
            Some(json!({"channel_id": access.channel.id, "message_id": row.id})),
            reason,
        )
    })
}

async fn announce_pins(state: &ApiState, access: &ChannelAccess, entry: Option<&store::AuditEntry>) -> ApiResult<()> {
    let last_pin = state.store.channel(access.channel.id).await?.and_then(|c| c.last_pin_at);
    state.pins_updated(&access.place(), last_pin);
    if let (Some(g), Some(e)) = (&access.guild, entry) {
        crate::routes::roles::announce_audit(state, g, e).await?;
    }
    Ok(())
}

pub async fn pins(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Message>>> {
    let access = text_channel(&state, &user, &raw).await?;
    if !access.has(permissions::READ_MESSAGE_HISTORY) {
        return Ok(Json(Vec::new()));
    }
    let rows = state.store.pins(access.channel.id).await?;
    Ok(Json(render::messages(&state, &access.viewer(&state, &user).await?, &rows).await?))
}

#[derive(Deserialize)]
pub struct PinsQuery {
    before: Option<String>,
    limit: Option<u32>,
}

/// The paged pin list (`{items: [{pinned_at, message}], has_more}`) that
/// newer clients use.
pub async fn pins_paged(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<PinsQuery>,
) -> ApiResult<Json<Value>> {
    let access = text_channel(&state, &user, &raw).await?;
    let limit = crate::extract::page_limit(q.limit, 50, 50)?;
    let before = match &q.before {
        Some(b) => Some(
            Timestamp::parse(b)
                .ok_or_else(|| ApiError::field("before", "DATE_TIME_TYPE_PARSE", "Could not parse timestamp."))?,
        ),
        None => None,
    };
    if !access.has(permissions::READ_MESSAGE_HISTORY) {
        return Ok(Json(json!({ "items": [], "has_more": false })));
    }
    let mut rows = state.store.pins(access.channel.id).await?;
    rows.retain(|m| before.is_none_or(|b| m.pinned_at.is_some_and(|p| p < b.unix_ms())));
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let messages = render::messages(&state, &access.viewer(&state, &user).await?, &rows).await?;
    let items: Vec<Value> = rows
        .iter()
        .zip(messages)
        .map(|(row, m)| json!({ "pinned_at": row.pinned_at.map(Timestamp::from_unix_ms), "message": m }))
        .collect();
    Ok(Json(json!({ "items": items, "has_more": has_more })))
}
