//! Friends, friend requests and blocks (Discord's user API). The rules are
//! `domain::relationships`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use model::user::Relationship;
use store::UserId;

use crate::extract::{path_id, Authed, Body, Path};
use crate::ApiResult;
use crate::ApiState;
use domain::relationships::{self, ByUsername, PutRelationship};

#[utoipa::path(
    get, path = "/users/@me/relationships",
    operation_id = "list_relationships", tag = "Users",
    summary = "List friends, blocks and friend requests",
    responses((status = 200, body = Vec<crate::openapi::Relationship>)),
)]
pub async fn list(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<Vec<Relationship>>> {
    Ok(Json(relationships::list(&state, &user).await?))
}

/// `PUT /users/@me/relationships/{user_id}`: send or accept a friend
/// request, or block (`{"type": 2}`).
#[utoipa::path(
    put, path = "/users/@me/relationships/{user_id}",
    operation_id = "put_relationship", tag = "Users",
    summary = "Send or accept a friend request, or block",
    request_body = crate::openapi::RelationshipUpdate,
    responses((status = 204)),
)]
pub async fn put(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(other): Path<String>,
    Body(body): Body<PutRelationship>,
) -> ApiResult<StatusCode> {
    let other: UserId = path_id("user_id", &other)?;
    relationships::put(&state, &user, other, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/@me/relationships`: a friend request by username.
#[utoipa::path(
    post, path = "/users/@me/relationships",
    operation_id = "send_friend_request", tag = "Users",
    summary = "Send a friend request by username",
    request_body = crate::openapi::FriendRequest,
    responses((status = 204)),
)]
pub async fn post(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<ByUsername>,
) -> ApiResult<StatusCode> {
    relationships::request_by_username(&state, &user, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /users/@me/relationships/{user_id}`: unfriend, cancel or
/// decline a request, or unblock.
#[utoipa::path(
    delete, path = "/users/@me/relationships/{user_id}",
    operation_id = "delete_relationship", tag = "Users",
    summary = "Unfriend, cancel, decline or unblock",
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(other): Path<String>,
) -> ApiResult<StatusCode> {
    let other: UserId = path_id("user_id", &other)?;
    relationships::remove(&state, &user, other).await?;
    Ok(StatusCode::NO_CONTENT)
}
