//! Unread state: acknowledging messages (Discord's user API).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::{path_id, Authed, Body, Path};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};

#[derive(Deserialize)]
pub struct Ack {
    /// Marks the channel unread from this message on (read state set as
    /// given, even backwards, with `mention_count`).
    #[serde(default)]
    manual: bool,
    #[serde(default)]
    mention_count: Option<i64>,
    /// Sent by Discord's client; always answered with `null`.
    #[serde(default)]
    #[allow(dead_code)]
    token: Option<Value>,
}

/// `POST /channels/{channel_id}/messages/{message_id}/ack`: the channel is
/// read up to this message; the user's other sessions get MESSAGE_ACK.
#[utoipa::path(
    post, path = "/channels/{channel_id}/messages/{message_id}/ack",
    operation_id = "ack_message", tag = "Messages",
    summary = "Mark a channel read up to a message",
    request_body = crate::openapi::Ack,
    responses((status = 200, body = crate::openapi::AckResult)),
)]
pub async fn ack(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((channel, message)): Path<(String, String)>,
    Body(body): Body<Ack>,
) -> ApiResult<Json<Value>> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let access = domain::messages::text_channel(&state, &user, path_id("channel_id", &channel)?).await?;
    let mut errors = FormErrors::default();
    let mentions = body.mention_count.unwrap_or(0);
    if !(0..=1_000_000).contains(&mentions) {
        errors.add("mention_count", "NUMBER_TYPE_MAX", "Must be between 0 and 1000000.");
    }
    errors.finish()?;
    let message = crate::extract::path_id("message_id", &message)?;
    // A deleted message may still be the channel's last one (as on Discord),
    // and a client acks the last message it was shown, so that id is
    // accepted too; any other unknown id is refused. Someone who may not
    // read the history learns nothing of which ids exist: any id up to the
    // channel's last message (which the channel object shows anyway) is
    // accepted without being looked up.
    let known = if access.has(model::permissions::READ_MESSAGE_HISTORY) {
        access.channel.last_message_id == Some(message)
            || state.store.message(access.channel.id, message).await?.is_some()
    } else {
        access.channel.last_message_id.is_some_and(|last| message <= last)
    };
    if !known {
        return Err(ApiError::unknown_message());
    }
    let read = state.store.ack(user.id, access.channel.id, message, mentions, body.manual).await?;
    state.message_acked(user.id, &read, body.manual);
    Ok(Json(json!({ "token": null })))
}
