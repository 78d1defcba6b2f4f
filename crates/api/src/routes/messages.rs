//! Messages, replies, mentions, reactions and pins.

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::message::Message;
use model::user::User;
use model::{permissions, Timestamp};
use store::{HistoryQuery, MessageId, MessageRow, UserId, UserRow};

use crate::extract::{path_id, Authed, Body, Cursor, Path, Query};
use crate::{files, ApiState};
use crate::{ApiError, ApiResult};
use domain::access::ChannelAccess;
use domain::audit::Reason;
use domain::messages::{self, render_one, Author, Draft, Edit};
use domain::reactions;
use domain::render;

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
    req: Request,
) -> ApiResult<Json<Message>> {
    let channel = path_id("channel_id", &raw)?;
    let Some(boundary) = files::multipart_boundary(req.headers()) else {
        let Body(draft) = Body::<Draft>::from_request(req, &state).await?;
        return Ok(Json(messages::send(&state, Author::User(&user), channel, draft).await?));
    };
    // Who may send here is known before a byte of a file is read.
    let access = messages::text_channel(&state, &user, channel).await?;
    access.require(permissions::SEND_MESSAGES)?;
    let form = files::read_form::<Draft>(&state, user.id, &access, boundary, req).await?;
    let mut draft = form.payload;
    (draft.files, draft.cleanup) = (form.files, Some(form.cleanup));
    // Its own task from here: a client that goes away now cannot cut the
    // send between the store write and keeping the files.
    let task = tokio::spawn(async move { messages::send(&state, Author::User(&user), channel, draft).await });
    Ok(Json(task.await.map_err(ApiError::internal)??))
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
    req: Request,
) -> ApiResult<Json<Message>> {
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    let Some(boundary) = files::multipart_boundary(req.headers()) else {
        let Body(edit) = Body::<Edit>::from_request(req, &state).await?;
        return Ok(Json(messages::edit(&state, &user, channel, message, edit).await?));
    };
    // Only its author edits a message: known before a byte of a file is read.
    let access = messages::text_channel(&state, &user, channel).await?;
    messages::own_message(&state, &access, &user, message).await?;
    let form = files::read_form::<Edit>(&state, user.id, &access, boundary, req).await?;
    let mut edit = form.payload;
    (edit.files, edit.cleanup) = (form.files, Some(form.cleanup));
    let task = tokio::spawn(async move { messages::edit(&state, &user, channel, message, edit).await });
    Ok(Json(task.await.map_err(ApiError::internal)??))
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
    let channel = path_id("channel_id", &raw)?;
    messages::bulk_delete(&state, &user, channel, &body.messages, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::add(&state, &user, channel, message, &emoji).await?;
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
    let target = match reactor(&who)? {
        Reactor::Me => None,
        Reactor::User(id) => Some(id),
    };
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::remove(&state, &user, channel, message, &emoji, target).await?;
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
    let emoji = reactions::emoji_key(&state, &emoji).await?;
    let limit = crate::extract::page_limit(q.limit, 25, 100)?;
    let after = q.after.and_then(Cursor::id);
    let ids = state.store.reactors(access.channel.id, row.id, &emoji.key, after, limit).await?;
    if ids.is_empty() && after.is_none() && !emoji.exists {
        return Err(ApiError::unknown_emoji());
    }
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
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::clear(&state, &user, channel, message, Some(&emoji)).await?;
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
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::clear(&state, &user, channel, message, None).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::set_pinned(&state, &user, channel, message, true, &reason).await?;
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
    let (channel, message) = (path_id("channel_id", &channel)?, path_id("message_id", &message)?);
    reactions::set_pinned(&state, &user, channel, message, false, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
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
