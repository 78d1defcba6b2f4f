//! Webhooks: managed by those with MANAGE_WEBHOOKS, executed with their
//! token (JSON, multipart with files, GitHub's and Slack's payloads). The
//! rules are `domain::webhooks`; the GitHub and Slack shapes are
//! `webhook_formats`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use model::message::Message;
use model::webhook::Webhook;
use store::{MessageId, WebhookId, WebhookRow};

use super::webhook_formats;
use crate::extract::{parse_json, path_id, Authed, Body, Path, Query};
use crate::{avatars, files, ApiError, ApiResult, ApiState, FormErrors};
use domain::audit::Reason;
use domain::interactions::{self, InteractionId};
use domain::messages::{Draft, Edit};
use domain::webhooks::{self, Caller, Overrides, Target, WebhookBody};

/// A create or change body: the name and channel, and the avatar as a data
/// URI (`null` removes it).
#[derive(Deserialize)]
pub struct ManageBody {
    name: Option<String>,
    channel_id: Option<store::ChannelId>,
    #[serde(default, deserialize_with = "model::nullable")]
    avatar: Option<Option<String>>,
}

impl ManageBody {
    fn fields(&self) -> WebhookBody {
        WebhookBody { name: self.name.clone(), channel_id: self.channel_id }
    }
}

/// Reads the `avatar` data URI as users' avatars are read.
fn avatar(state: &ApiState, raw: &Option<Option<String>>) -> ApiResult<Option<Option<webhooks::Avatar>>> {
    match raw {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(uri)) => match avatars::parse_data_uri(uri, state.config.avatar_max_bytes) {
            Ok(a) => Ok(Some(Some(webhooks::Avatar { hash: a.hash, extension: a.format.extension(), bytes: a.bytes }))),
            Err((code, message)) => {
                let mut errors = FormErrors::default();
                errors.add("avatar", code, message);
                Err(errors.into_error().into())
            }
        },
    }
}

fn webhook_id(raw: &str) -> ApiResult<WebhookId> {
    path_id("webhook_id", raw)
}

#[utoipa::path(
    post, path = "/channels/{channel_id}/webhooks",
    operation_id = "create_webhook", tag = "Webhooks",
    summary = "Create a webhook in a channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::WebhookCreate,
    responses((status = 200, body = crate::openapi::Webhook)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ManageBody>,
) -> ApiResult<Json<Webhook>> {
    let channel = path_id("channel_id", &raw)?;
    let image = avatar(&state, &body.avatar)?.flatten();
    Ok(Json(webhooks::create(&state, &user, channel, body.fields(), image, &reason).await?))
}

#[utoipa::path(
    get, path = "/channels/{channel_id}/webhooks",
    operation_id = "list_channel_webhooks", tag = "Webhooks",
    summary = "List a channel's webhooks",
    responses((status = 200, body = Vec<crate::openapi::Webhook>)),
)]
pub async fn channel_webhooks(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(webhooks::list_channel(&state, &user, path_id("channel_id", &raw)?).await?))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/webhooks",
    operation_id = "get_guild_webhooks", tag = "Webhooks",
    summary = "List a guild's webhooks",
    responses((status = 200, body = Vec<crate::openapi::Webhook>)),
)]
pub async fn guild_webhooks(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(webhooks::list_guild(&state, &user, path_id("guild_id", &raw)?).await?))
}

#[utoipa::path(
    get, path = "/webhooks/{webhook_id}",
    operation_id = "get_webhook", tag = "Webhooks",
    summary = "Get a webhook",
    responses((status = 200, body = crate::openapi::Webhook)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(webhooks::get(&state, &Caller::User(&user), webhook_id(&raw)?).await?))
}

#[utoipa::path(
    patch, path = "/webhooks/{webhook_id}",
    operation_id = "update_webhook", tag = "Webhooks",
    summary = "Change a webhook's name, avatar or channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::WebhookUpdate,
    responses((status = 200, body = crate::openapi::Webhook)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ManageBody>,
) -> ApiResult<Json<Webhook>> {
    let id = webhook_id(&raw)?;
    // Refused callers learn nothing from the image: checked first.
    webhooks::authorize(&state, &Caller::User(&user), id).await?;
    let image = avatar(&state, &body.avatar)?;
    Ok(Json(webhooks::modify(&state, &Caller::User(&user), id, body.fields(), image, &reason).await?))
}

#[utoipa::path(
    delete, path = "/webhooks/{webhook_id}",
    operation_id = "delete_webhook", tag = "Webhooks",
    summary = "Delete a webhook",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state, &Caller::User(&user), webhook_id(&raw)?, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/webhooks/{webhook_id}/{webhook_token}",
    operation_id = "get_webhook_by_token", tag = "Webhooks",
    security(()),
    summary = "Get a webhook with its token",
    responses((status = 200, body = crate::openapi::Webhook)),
)]
pub async fn get_with_token(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
) -> ApiResult<Json<Webhook>> {
    Ok(Json(webhooks::get(&state, &Caller::Token(&token), webhook_id(&raw)?).await?))
}

#[utoipa::path(
    patch, path = "/webhooks/{webhook_id}/{webhook_token}",
    operation_id = "update_webhook_by_token", tag = "Webhooks",
    security(()),
    summary = "Change a webhook's name or avatar with its token",
    request_body = crate::openapi::WebhookUpdate,
    responses((status = 200, body = crate::openapi::Webhook)),
)]
pub async fn update_with_token(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
    Body(body): Body<ManageBody>,
) -> ApiResult<Json<Webhook>> {
    let id = webhook_id(&raw)?;
    let caller = Caller::Token(&token);
    webhooks::authorize(&state, &caller, id).await?;
    let image = avatar(&state, &body.avatar)?;
    Ok(Json(webhooks::modify(&state, &caller, id, body.fields(), image, &Reason(None)).await?))
}

#[utoipa::path(
    delete, path = "/webhooks/{webhook_id}/{webhook_token}",
    operation_id = "delete_webhook_by_token", tag = "Webhooks",
    security(()),
    summary = "Delete a webhook with its token",
    responses((status = 204)),
)]
pub async fn delete_with_token(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&state, &Caller::Token(&token), webhook_id(&raw)?, &Reason(None)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `?wait=` and `?thread_id=` of an execute.
#[derive(Deserialize)]
pub struct ExecuteQuery {
    #[serde(default)]
    wait: Option<Flag>,
    thread_id: Option<String>,
    /// Components are not sent by webhooks yet: read and ignored.
    #[serde(default)]
    #[allow(dead_code)]
    with_components: Option<Flag>,
}

/// Discord's booleans in queries: `true`/`false`, `1`/`0`, any case.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Flag(bool);

impl TryFrom<String> for Flag {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Flag(true)),
            "false" | "0" => Ok(Flag(false)),
            _ => Err("Must be either true or false."),
        }
    }
}

impl ExecuteQuery {
    fn wait(&self) -> bool {
        self.wait.as_ref().is_some_and(|f| f.0)
    }

    /// Threads do not exist yet: a `thread_id` names no channel.
    fn check(&self) -> ApiResult<()> {
        match &self.thread_id {
            Some(_) => Err(domain::Error::unknown_channel().into()),
            None => Ok(()),
        }
    }
}

/// The answer to an execute: the message with `wait=true`, else 204.
fn answer(message: Message, wait: bool) -> Response {
    if wait {
        Json(message).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// The webhook behind `raw` and `token`, or 10015/50027.
async fn by_token(state: &ApiState, raw: &str, token: &str) -> ApiResult<WebhookRow> {
    Ok(webhooks::authorize(state, &Caller::Token(token), webhook_id(raw)?).await?)
}

/// What the URL's id and token name (`domain::webhooks::target`).
async fn target(state: &ApiState, raw: &str, token: &str) -> ApiResult<Target> {
    Ok(webhooks::target(state, webhook_id(raw)?, token).await?)
}

#[utoipa::path(
    post, path = "/webhooks/{webhook_id}/{webhook_token}",
    operation_id = "execute_webhook", tag = "Webhooks",
    security(()),
    summary = "Post a message through a webhook",
    params(crate::openapi::WebhookExecuteQuery),
    request_body = crate::openapi::WebhookExecute,
    responses((status = 200, body = crate::openapi::Message), (status = 204)),
)]
pub async fn execute(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
    Query(q): Query<ExecuteQuery>,
    req: Request,
) -> ApiResult<Response> {
    q.check()?;
    let hook = match target(&state, &raw, &token).await? {
        Target::Hook(hook) => *hook,
        Target::Interaction(id) => return follow_up(state, id, req, q.wait()).await,
    };
    let Some(boundary) = files::multipart_boundary(req.headers()) else {
        let bytes = Bytes::from_request(req, &state).await.map_err(|_| ApiError::too_large())?;
        let (draft, overrides) = (parse_json::<Draft>(&bytes)?, parse_json::<Overrides>(&bytes)?);
        let message = webhooks::execute(&state, &hook, draft, overrides).await?;
        return Ok(answer(message, q.wait()));
    };
    let access = domain::access::webhook_channel(&state, &hook).await?;
    let form = files::read_form::<Value>(&state, hook.user_id(), &access, boundary, req).await?;
    let bytes = serde_json::to_vec(&form.payload).map_err(ApiError::internal)?;
    let (mut draft, overrides) = (parse_json::<Draft>(&bytes)?, parse_json::<Overrides>(&bytes)?);
    (draft.files, draft.cleanup) = (form.files, Some(form.cleanup));
    // Its own task: a client gone now cannot cut the send in two.
    let task = tokio::spawn(async move { webhooks::execute(&state, &hook, draft, overrides).await });
    Ok(answer(task.await.map_err(ApiError::internal)??, q.wait()))
}

/// An interaction's follow-up message, JSON or with files.
async fn follow_up(state: ApiState, id: InteractionId, req: Request, wait: bool) -> ApiResult<Response> {
    let Some(boundary) = files::multipart_boundary(req.headers()) else {
        let Body(draft) = Body::<Draft>::from_request(req, &state).await?;
        return Ok(answer(interactions::follow_up(&state, id, draft).await?, wait));
    };
    let target = interactions::follow_up_target(&state, id).await?;
    let form = files::read_form::<Draft>(&state, target.poster, &target.access, boundary, req).await?;
    let mut draft = form.payload;
    (draft.files, draft.cleanup) = (form.files, Some(form.cleanup));
    let task = tokio::spawn(async move { interactions::follow_up(&state, id, draft).await });
    Ok(answer(task.await.map_err(ApiError::internal)??, wait))
}

#[utoipa::path(
    post, path = "/webhooks/{webhook_id}/{webhook_token}/github",
    operation_id = "execute_github_compatible_webhook", tag = "Webhooks",
    summary = "Post a GitHub event (push, pull request, issue) as an embed",
    params(crate::openapi::WebhookExecuteQuery),
    security(()),
    responses((status = 204)),
)]
pub async fn github(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
    Query(q): Query<ExecuteQuery>,
    headers: HeaderMap,
    Body(payload): Body<Value>,
) -> ApiResult<Response> {
    q.check()?;
    let hook = by_token(&state, &raw, &token).await?;
    let event = headers.get("x-github-event").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(draft) = webhook_formats::github(event, &payload) else {
        // Events without a rendering are accepted and dropped, as Discord does.
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let overrides = Overrides { username: Some("GitHub".into()), avatar_url: None };
    webhooks::execute(&state, &hook, draft, overrides).await?;
    // Discord answers GitHub with 204 whatever `wait` says.
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/webhooks/{webhook_id}/{webhook_token}/slack",
    operation_id = "execute_slack_compatible_webhook", tag = "Webhooks",
    summary = "Post a Slack-style message (text, attachments) through a webhook",
    params(crate::openapi::WebhookExecuteQuery),
    security(()),
    responses((status = 200, description = "the JSON string \"ok\"")),
)]
pub async fn slack(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
    Query(q): Query<ExecuteQuery>,
    Body(payload): Body<Value>,
) -> ApiResult<Response> {
    q.check()?;
    let hook = by_token(&state, &raw, &token).await?;
    let (draft, overrides) = webhook_formats::slack(&payload)?;
    webhooks::execute(&state, &hook, draft, overrides).await?;
    // Slack answers "ok"; Discord's spec makes it a JSON string.
    Ok(Json(Value::String("ok".into())).into_response())
}

fn message_id(raw: &str) -> ApiResult<MessageId> {
    // `@original` names an interaction's first answer; plain webhooks have none.
    if raw == "@original" {
        return Err(domain::Error::unknown_message().into());
    }
    path_id("message_id", raw)
}

#[utoipa::path(
    get, path = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    operation_id = "get_webhook_message", tag = "Webhooks",
    security(()),
    summary = "Get a message the webhook posted",
    responses((status = 200, body = crate::openapi::Message)),
)]
pub async fn get_message(
    State(state): State<ApiState>,
    Path((raw, token, message)): Path<(String, String, String)>,
) -> ApiResult<Json<Message>> {
    match target(&state, &raw, &token).await? {
        Target::Interaction(id) => Ok(Json(interactions::get_message(&state, id, &message).await?)),
        Target::Hook(hook) => Ok(Json(webhooks::message(&state, &hook, message_id(&message)?).await?)),
    }
}

#[utoipa::path(
    patch, path = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    operation_id = "update_webhook_message", tag = "Webhooks",
    security(()),
    summary = "Edit a message the webhook posted",
    request_body = crate::openapi::MessageUpdate,
    responses((status = 200, body = crate::openapi::Message)),
)]
pub async fn update_message(
    State(state): State<ApiState>,
    Path((raw, token, message)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult<Json<Message>> {
    let hook = match target(&state, &raw, &token).await? {
        Target::Hook(hook) => *hook,
        Target::Interaction(id) => {
            let Some(boundary) = files::multipart_boundary(req.headers()) else {
                let Body(edit) = Body::<Edit>::from_request(req, &state).await?;
                return Ok(Json(interactions::edit_message(&state, id, &message, edit).await?));
            };
            let target = interactions::follow_up_target(&state, id).await?;
            let form = files::read_form::<Edit>(&state, target.poster, &target.access, boundary, req).await?;
            let mut edit = form.payload;
            (edit.files, edit.cleanup) = (form.files, Some(form.cleanup));
            let task = tokio::spawn(async move { interactions::edit_message(&state, id, &message, edit).await });
            return Ok(Json(task.await.map_err(ApiError::internal)??));
        }
    };
    let id = message_id(&message)?;
    let Some(boundary) = files::multipart_boundary(req.headers()) else {
        let Body(edit) = Body::<Edit>::from_request(req, &state).await?;
        return Ok(Json(webhooks::edit_message(&state, &hook, id, edit).await?));
    };
    domain::messages::webhook_message(&state, &hook, id).await?;
    let access = domain::access::webhook_channel(&state, &hook).await?;
    let form = files::read_form::<Edit>(&state, hook.user_id(), &access, boundary, req).await?;
    let mut edit = form.payload;
    (edit.files, edit.cleanup) = (form.files, Some(form.cleanup));
    let task = tokio::spawn(async move { webhooks::edit_message(&state, &hook, id, edit).await });
    Ok(Json(task.await.map_err(ApiError::internal)??))
}

#[utoipa::path(
    delete, path = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
    operation_id = "delete_webhook_message", tag = "Webhooks",
    security(()),
    summary = "Delete a message the webhook posted",
    responses((status = 204)),
)]
pub async fn delete_message(
    State(state): State<ApiState>,
    Path((raw, token, message)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    match target(&state, &raw, &token).await? {
        Target::Interaction(id) => interactions::delete_message(&state, id, &message).await?,
        Target::Hook(hook) => domain::messages::delete_webhook_message(&state, &hook, message_id(&message)?).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}
