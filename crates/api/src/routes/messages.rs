//! Messages, replies, mentions, reactions and pins.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::message::Message;
use model::user::User;
use model::{permissions, Timestamp};
use store::{HistoryQuery, MessageId, MessageRow, UserId, UserRow};

use crate::extract::{path_id, Authed, Body, Cursor, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::access::ChannelAccess;
use domain::audit::{action, Reason};
use domain::messages::{self, render_one, Author, Draft, Edit};
use domain::render;
use events::dispatch::{ReactionAdd, ReactionRemove, ReactionRemoveAll, ReactionRemoveEmoji};
use events::Dispatch;

const MAX_PINS: usize = 50;
const MAX_REACTION_EMOJI: usize = 20;
const BULK_DELETE_MAX_AGE_MS: u64 = 14 * 24 * 3600 * 1000;

/// A channel the user can see that holds messages, named by the path.
pub(crate) async fn text_channel(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<ChannelAccess> {
    messages::text_channel(state, user, path_id("channel_id", raw)?).await
}

async fn find(state: &ApiState, access: &ChannelAccess, user: &UserRow, raw: &str) -> ApiResult<MessageRow> {
    messages::find(state, access, user, path_id("message_id", raw)?).await
}

#[utoipa::path(
    post, path = "/channels/{channel_id}/messages",
    operation_id = "create_message", tag = "Messages",
    summary = "Send a message",
    request_body = crate::openapi::MessageCreate,
    responses((status = 200, body = crate::openapi::Message)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Body(draft): Body<Draft>,
) -> ApiResult<Json<Message>> {
    let channel = path_id("channel_id", &raw)?;
    Ok(Json(messages::send(&state, Author::User(&user), channel, draft).await?))
}

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<MessageId>,
    after: Option<Cursor>,
    around: Option<MessageId>,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/channels/{channel_id}/messages",
    operation_id = "list_messages", tag = "Messages",
    summary = "List messages, newest first",
    params(crate::openapi::MessagesQuery),
    responses((status = 200, body = Vec<crate::openapi::Message>)),
)]
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

#[utoipa::path(
    get, path = "/channels/{channel_id}/messages/{message_id}",
    operation_id = "get_message", tag = "Messages",
    summary = "Get a message",
    responses((status = 200, body = crate::openapi::Message)),
)]
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

#[utoipa::path(
    patch, path = "/channels/{channel_id}/messages/{message_id}",
    operation_id = "update_message", tag = "Messages",
    summary = "Edit a message",
    request_body = crate::openapi::MessageUpdate,
    responses((status = 200, body = crate::openapi::Message)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    Body(edit): Body<Edit>,
) -> ApiResult<Json<Message>> {
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    Ok(Json(messages::edit(&state, &user, channel, message, edit).await?))
}

#[utoipa::path(
    delete, path = "/channels/{channel_id}/messages/{message_id}",
    operation_id = "delete_message", tag = "Messages",
    summary = "Delete a message",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    messages::delete(&state, &user, channel, message, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct BulkDelete {
    messages: Vec<MessageId>,
}

#[utoipa::path(
    post, path = "/channels/{channel_id}/messages/bulk-delete",
    operation_id = "bulk_delete_messages", tag = "Messages",
    summary = "Delete 2 to 100 messages younger than two weeks",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::BulkDelete,
    responses((status = 204)),
)]
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
        state.announce_audit(guild, &entry).await?;
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

#[utoipa::path(
    put, path = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
    operation_id = "add_my_message_reaction", tag = "Reactions",
    summary = "React to a message (user is `@me`)",
    responses((status = 204)),
)]
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
    if access.guild.as_ref().is_some_and(|g| domain::permission_inputs::timed_out(&g.member))
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

#[utoipa::path(
    delete, path = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
    operation_id = "delete_user_message_reaction", tag = "Reactions",
    summary = "Remove your reaction (`@me`) or a user's",
    responses((status = 204)),
)]
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

#[utoipa::path(
    get, path = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
    operation_id = "list_message_reactions_by_emoji", tag = "Reactions",
    summary = "List the users who reacted with an emoji",
    params(crate::openapi::AfterLimit),
    responses((status = 200, body = Vec<crate::openapi::User>)),
)]
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

#[utoipa::path(
    delete, path = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
    operation_id = "delete_all_message_reactions_by_emoji", tag = "Reactions",
    summary = "Remove every reaction of one emoji",
    responses((status = 204)),
)]
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

#[utoipa::path(
    delete, path = "/channels/{channel_id}/messages/{message_id}/reactions",
    operation_id = "delete_all_message_reactions", tag = "Reactions",
    summary = "Remove every reaction from a message",
    responses((status = 204)),
)]
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

#[utoipa::path(
    put, path = "/channels/{channel_id}/messages/pins/{message_id}",
    operation_id = "create_pin", tag = "Pins",
    summary = "Pin a message",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
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

#[utoipa::path(
    delete, path = "/channels/{channel_id}/messages/pins/{message_id}",
    operation_id = "delete_pin", tag = "Pins",
    summary = "Unpin a message",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
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
        state.announce_audit(g, e).await?;
    }
    Ok(())
}

#[utoipa::path(
    get, path = "/channels/{channel_id}/pins",
    operation_id = "deprecated_list_pins", tag = "Pins",
    summary = "List pinned messages (older route)",
    responses((status = 200, body = Vec<crate::openapi::Message>)),
)]
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
#[utoipa::path(
    get, path = "/channels/{channel_id}/messages/pins",
    operation_id = "list_pins", tag = "Pins",
    summary = "List pinned messages, newest pin first",
    params(crate::openapi::PinsQuery),
    responses((status = 200, body = crate::openapi::PinsPage)),
)]
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
