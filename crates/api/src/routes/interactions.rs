//! Interactions: a person's client using an application's component or
//! modal (`POST /interactions`, Discord's user API), and the application's
//! first answer (`POST /interactions/{id}/{token}/callback`, with the token
//! in the path and no Authorization). Follow-ups and edits go through the
//! webhook routes with the application's id. The rules are
//! `domain::interactions`.

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use crate::extract::{parse_json, path_id, Authed, Body, Path, Query};
use crate::{files, ApiError, ApiResult, ApiState};
use domain::interactions::{self, Callback, Invocation};

#[utoipa::path(
    post, path = "/interactions",
    operation_id = "create_interaction", tag = "Interactions",
    summary = "Use an application's component or submit its modal (a person's client)",
    request_body = crate::openapi::InteractionCreate,
    responses((status = 204)),
)]
pub async fn create(State(state): State<ApiState>, Authed(user): Authed, req: Request) -> ApiResult<StatusCode> {
    // Discord's clients send the body as `payload_json` in a form.
    let body: Invocation = match files::multipart_boundary(req.headers()) {
        None => Body::<Invocation>::from_request(req, &state).await?.0,
        Some(boundary) => {
            let payload = files::read_payload_only(&state, boundary, req).await?;
            parse_json(&payload)?
        }
    };
    interactions::invoke(&state, &user, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    with_response: Option<String>,
}

#[utoipa::path(
    post, path = "/interactions/{interaction_id}/{interaction_token}/callback",
    operation_id = "create_interaction_response", tag = "Interactions",
    summary = "Answer an interaction, once, within three seconds",
    security(()),
    params(crate::openapi::InteractionCallbackQuery),
    request_body = crate::openapi::InteractionCallback,
    responses((status = 200, body = crate::openapi::InteractionCallbackResponse), (status = 204)),
)]
pub async fn callback(
    State(state): State<ApiState>,
    Path((raw, token)): Path<(String, String)>,
    Query(q): Query<CallbackQuery>,
    req: Request,
) -> ApiResult<Response> {
    let id = path_id("interaction_id", &raw)?;
    let with_response =
        matches!(q.with_response.as_deref().map(str::to_ascii_lowercase).as_deref(), Some("true" | "1"));
    let answer = match files::multipart_boundary(req.headers()) {
        None => {
            let Body(body) = Body::<Callback>::from_request(req, &state).await?;
            interactions::respond(&state, id, &token, body, None, with_response).await?
        }
        Some(boundary) => {
            // The files go where the answer is posted: the interaction's
            // channel, as its application's webhook.
            let target = interactions::upload_target(&state, id, &token).await?;
            let form = files::read_form::<Value>(&state, target.poster, &target.access, boundary, req).await?;
            let bytes = serde_json::to_vec(&form.payload).map_err(ApiError::internal)?;
            let body: Callback = parse_json(&bytes)?;
            let stored = Some((form.files, form.cleanup));
            let task =
                tokio::spawn(
                    async move { interactions::respond(&state, id, &token, body, stored, with_response).await },
                );
            task.await.map_err(ApiError::internal)??
        }
    };
    Ok(match answer {
        Some(body) => Json(body).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[utoipa::path(
    get, path = "/channels/{channel_id}/application-command-index",
    operation_id = "get_channel_application_command_index", tag = "Interactions",
    summary = "The commands the caller may use in a channel, with their applications (a person's client)",
    responses((status = 200, body = crate::openapi::CommandIndex)),
)]
pub async fn index(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let access = domain::access::channel(&state, &user, path_id("channel_id", &raw)?).await?;
    Ok(Json(domain::command_use::index(&state, &user, &access).await?))
}
