//! Friends, friend requests and blocks (Discord's user API).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use model::user::Relationship;
use model::Timestamp;
use store::{relationship_kind, FriendOutcome, UserId, UserRow};

use crate::extract::{Authed, Body, Path};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::render;

#[utoipa::path(
    get, path = "/users/@me/relationships",
    operation_id = "list_relationships", tag = "Users",
    summary = "List friends, blocks and friend requests",
    responses((status = 200, body = Vec<crate::openapi::Relationship>)),
)]
pub async fn list(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<Vec<Relationship>>> {
    people_only(&user)?;
    let rows = state.store.relationships(user.id).await?;
    Ok(Json(render::relationships(&state, &rows).await?))
}

#[derive(Deserialize)]
pub struct PutRelationship {
    /// Absent or 1: befriend (send or accept a request); 2: block.
    #[serde(default, rename = "type")]
    kind: Option<i64>,
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
    people_only(&user)?;
    let other = other_user(&state, &user, &other).await?;
    match body.kind {
        None | Some(relationship_kind::FRIEND) => befriend(&state, &user, &other).await,
        Some(relationship_kind::BLOCKED) => {
            let changes = state.store.block(user.id, other.id, Timestamp::now().unix_ms()).await?;
            state.relationships_changed(&changes).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Some(_) => Err(ApiError::field("type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")),
    }
}

#[derive(Deserialize)]
pub struct ByUsername {
    username: String,
    /// Always "0" or absent since usernames are unique.
    #[serde(default)]
    #[allow(dead_code)]
    discriminator: Option<serde_json::Value>,
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
    people_only(&user)?;
    let name = body.username.trim().to_lowercase();
    let other = match state.store.user_by_username(&name).await? {
        Some(u) if !u.bot && u.id != user.id => u,
        _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, 80004, "No users with DiscordTag exist")),
    };
    befriend(&state, &user, &other).await
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
    people_only(&user)?;
    let other: UserId = crate::extract::path_id("user_id", &other)?;
    state.store.user(other).await?.ok_or_else(ApiError::unknown_user)?;
    let changes = state.store.remove_relationship(user.id, other).await?;
    state.relationships_changed(&changes).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn befriend(state: &ApiState, user: &UserRow, other: &UserRow) -> ApiResult<StatusCode> {
    if other.bot {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 80000, "Incoming friend requests disabled."));
    }
    match state.store.befriend(user.id, other.id, Timestamp::now().unix_ms()).await? {
        FriendOutcome::Done(changes) => {
            state.relationships_changed(&changes).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        // Says no more than Discord does about who blocked whom.
        FriendOutcome::Blocked => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, 80000, "Incoming friend requests disabled."))
        }
    }
}

async fn other_user(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<UserRow> {
    let id: UserId = crate::extract::path_id("user_id", raw)?;
    if id == user.id {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 80000, "Incoming friend requests disabled."));
    }
    state.store.user(id).await?.ok_or_else(ApiError::unknown_user)
}

/// Relationships are for people; bots have none, as on Discord.
fn people_only(user: &UserRow) -> ApiResult<()> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    Ok(())
}
