//! Friends, friend requests and blocks (Discord's user API): people only,
//! never oneself, never a bot; what a block hides is not said.

use http::StatusCode;
use serde::Deserialize;

use model::user::Relationship;
use model::Timestamp;
use store::{relationship_kind, FriendOutcome, UserId, UserRow};

use crate::{render, Domain, Error, Result};

/// What Discord answers to a friend request that cannot be: to a bot, to
/// oneself, or across a block (without saying who blocked whom).
fn requests_disabled() -> Error {
    Error::new(StatusCode::BAD_REQUEST, 80000, "Incoming friend requests disabled.")
}

/// Relationships are for people; bots have none, as on Discord.
fn people_only(user: &UserRow) -> Result<()> {
    if user.bot {
        return Err(Error::bots_forbidden());
    }
    Ok(())
}

/// The caller's friends, blocks and friend requests.
pub async fn list(ctx: &Domain, user: &UserRow) -> Result<Vec<Relationship>> {
    people_only(user)?;
    let rows = ctx.store.relationships(user.id).await?;
    render::relationships(ctx, &rows).await
}

/// What `PUT /users/@me/relationships/{user_id}` sends.
#[derive(Deserialize)]
pub struct PutRelationship {
    /// Absent or 1: befriend (send or accept a request); 2: block.
    #[serde(default, rename = "type")]
    pub kind: Option<i64>,
}

/// Sends or accepts a friend request to `other`, or blocks them
/// (`{"type": 2}`); RELATIONSHIP_ADD/REMOVE for both sides as they change.
pub async fn put(ctx: &Domain, user: &UserRow, other: UserId, body: PutRelationship) -> Result<()> {
    people_only(user)?;
    if other == user.id {
        return Err(requests_disabled());
    }
    let other = ctx.store.user(other).await?.ok_or_else(Error::unknown_user)?;
    match body.kind {
        None | Some(relationship_kind::FRIEND) => befriend(ctx, user, &other).await,
        Some(relationship_kind::BLOCKED) => {
            let changes = ctx.store.block(user.id, other.id, Timestamp::now().unix_ms()).await?;
            ctx.relationships_changed(&changes).await
        }
        Some(_) => Err(Error::field("type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")),
    }
}

/// What `POST /users/@me/relationships` sends.
#[derive(Deserialize)]
pub struct ByUsername {
    pub username: String,
    /// Always "0" or absent since usernames are unique.
    #[serde(default)]
    pub discriminator: Option<serde_json::Value>,
}

/// A friend request by username (case-insensitive); bots and oneself are
/// "no users" there, as on Discord.
pub async fn request_by_username(ctx: &Domain, user: &UserRow, body: ByUsername) -> Result<()> {
    people_only(user)?;
    let name = body.username.trim().to_lowercase();
    let other = match ctx.store.user_by_username(&name).await? {
        Some(u) if !u.bot && u.id != user.id => u,
        _ => return Err(Error::new(StatusCode::BAD_REQUEST, 80004, "No users with DiscordTag exist")),
    };
    befriend(ctx, user, &other).await
}

/// Unfriends, cancels or declines a request, or unblocks.
pub async fn remove(ctx: &Domain, user: &UserRow, other: UserId) -> Result<()> {
    people_only(user)?;
    ctx.store.user(other).await?.ok_or_else(Error::unknown_user)?;
    let changes = ctx.store.remove_relationship(user.id, other).await?;
    ctx.relationships_changed(&changes).await
}

/// Sends a friend request, or accepts `other`'s; never to a bot nor across
/// a block.
async fn befriend(ctx: &Domain, user: &UserRow, other: &UserRow) -> Result<()> {
    if other.bot {
        return Err(requests_disabled());
    }
    match ctx.store.befriend(user.id, other.id, Timestamp::now().unix_ms()).await? {
        FriendOutcome::Done(changes) => ctx.relationships_changed(&changes).await,
        // Says no more than Discord does about who blocked whom.
        FriendOutcome::Blocked => Err(requests_disabled()),
    }
}
