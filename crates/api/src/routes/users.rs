//! The current user, other users, their guilds and DMs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use events::RevokedTokens;
use model::channel::Channel;
use model::guild::UserGuild;
use model::user::{CurrentUser, User};
use model::{nullable, Id};
use store::{StoreError, UserId, UserPatch};

use crate::credentials;
use crate::extract::{path_id, Authed, Body, Path, Query, UserAgent};
use crate::{avatars, ApiState};
use crate::{ApiError, ApiResult, FormErrors};
use domain::names::{check_display_name, check_username};
use domain::{access, render};

#[utoipa::path(
    get, path = "/users/@me",
    operation_id = "get_my_user", tag = "Users",
    summary = "Get the current user",
    responses((status = 200, body = crate::openapi::CurrentUser)),
)]
pub async fn me(Authed(user): Authed) -> Json<CurrentUser> {
    Json(render::current_user(&user))
}

#[derive(Deserialize)]
pub struct UpdateMe {
    username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    global_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    avatar: Option<Option<String>>,
    locale: Option<String>,
    /// The current password: required with `new_password`.
    password: Option<String>,
    new_password: Option<String>,
}

/// Changes the profile, and the password when `new_password` is given:
/// that revokes every token of the user (the one used here too) and the
/// answer carries the one new token as `token`, as Discord's does.
#[utoipa::path(
    patch, path = "/users/@me",
    operation_id = "update_my_user", tag = "Users",
    summary = "Modify the current user",
    request_body = crate::openapi::UserUpdate,
    responses((status = 200, body = crate::openapi::CurrentUser)),
)]
pub async fn update_me(
    State(state): State<ApiState>,
    Authed(user): Authed,
    UserAgent(ua): UserAgent,
    Body(body): Body<UpdateMe>,
) -> ApiResult<Json<Value>> {
    let mut errors = FormErrors::default();
    let username = body.username.as_deref().map(|u| check_username(&mut errors, "username", u));
    let global_name = body.global_name.map(|n| n.and_then(|n| check_display_name(&mut errors, "global_name", &n)));
    let avatar = match &body.avatar {
        Some(Some(uri)) => match avatars::parse_data_uri(uri, state.config.avatar_max_bytes) {
            Ok(image) => Some(Some(image)),
            Err((code, message)) => {
                errors.add("avatar", code, message);
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    if body.locale.as_deref().is_some_and(|l| !model::locale::is_known(l)) {
        errors.add("locale", "BASE_TYPE_CHOICES", "Value must be one of Discord's locales (e.g. en-US, fr, pt-BR).");
    }
    if let Some(new) = &body.new_password {
        let len = new.chars().count();
        if len < 8 {
            errors.add("new_password", "PASSWORD_TOO_SHORT", "Must be at least 8 characters long.");
        } else if len > 128 {
            errors.add("new_password", "BASE_TYPE_MAX_LENGTH", "Must be 128 or fewer in length.");
        }
        if body.password.is_none() {
            errors.add("password", "BASE_TYPE_REQUIRED", "This field is required");
        }
    }
    errors.finish()?;
    let new_password = match (body.new_password, body.password) {
        (Some(new), Some(current)) => {
            credentials::require_password(&state, &user, &current).await?;
            Some(credentials::hash_password(&state, new).await?)
        }
        _ => None,
    };
    // The image is stored before the row names it, so a user object never
    // names a missing file; a refused change removes it again.
    if let Some(Some(image)) = &avatar {
        state.media.put(&image.key(user.id), image.bytes.clone().into()).await.map_err(ApiError::internal)?;
    }
    let new_hash = avatar.as_ref().map(|a| a.as_ref().map(|i| i.hash.clone()));
    let patch = UserPatch { username, global_name, avatar: new_hash.clone(), locale: body.locale };
    let result = state.store.update_user(user.id, &patch).await;
    let replaced = match (&result, &new_hash) {
        // The old image, once the row names the new one (or none).
        (Ok(_), Some(new)) => user.avatar.as_ref().filter(|old| Some(*old) != new.as_ref()),
        // The new image, unless the row already named it before.
        (Err(_), Some(Some(new))) => Some(new).filter(|new| user.avatar.as_ref() != Some(*new)),
        _ => None,
    };
    if let Some(hash) = replaced {
        avatars::forget(&state.media, user.id, hash).await;
    }
    match result {
        Ok(updated) => {
            // After the profile, so a refused username changes no password.
            let token = match new_password {
                Some(hash) => {
                    let (token, session) = credentials::mint_session(user.id, ua);
                    state.store.change_password(user.id, &hash, &session).await?;
                    state.tokens_revoked(user.id, RevokedTokens::AllBut(session.token_hash));
                    Some(token)
                }
                None => None,
            };
            let current = render::current_user(&updated);
            state.user_updated(&current);
            for guild in state.store.guilds_of(user.id).await? {
                if let Some(member) = state.store.member(guild.id, user.id).await? {
                    state.member_updated(guild.id, &render::member(&member, Some(&updated)));
                }
            }
            let mut body = serde_json::to_value(&current).map_err(ApiError::internal)?;
            if let Some(token) = token {
                body["token"] = Value::String(token);
            }
            Ok(Json(body))
        }
        Err(StoreError::Conflict(_)) => Err(ApiError::field(
            "username",
            "USERNAME_ALREADY_TAKEN",
            "Username is unavailable. Try adding numbers, letters, underscores _ , or periods.",
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    get, path = "/users/{user_id}",
    operation_id = "get_user", tag = "Users",
    summary = "Get a user",
    responses((status = 200, body = crate::openapi::User)),
)]
pub async fn user(State(state): State<ApiState>, Authed(_): Authed, Path(raw): Path<String>) -> ApiResult<Json<User>> {
    let id: UserId = path_id("user_id", &raw)?;
    let found = state.store.user(id).await?.ok_or_else(ApiError::unknown_user)?;
    Ok(Json(render::user(&found)))
}

#[derive(Deserialize)]
pub struct GuildsQuery {
    before: Option<Id<model::id::GuildMarker>>,
    after: Option<crate::extract::Cursor>,
    limit: Option<u32>,
    #[serde(default)]
    with_counts: bool,
}

#[utoipa::path(
    get, path = "/users/@me/guilds",
    operation_id = "list_my_guilds", tag = "Users",
    summary = "List the current user's guilds",
    params(crate::openapi::MyGuildsQuery),
    responses((status = 200, body = Vec<crate::openapi::PartialGuild>)),
)]
pub async fn my_guilds(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Query(q): Query<GuildsQuery>,
) -> ApiResult<Json<Vec<UserGuild>>> {
    let limit = crate::extract::page_limit(q.limit, 200, 200)?;
    let mut out = Vec::new();
    let guilds = state.store.guilds_of(user.id).await?;
    let mut selected: Vec<_> = guilds
        .iter()
        .filter(|g| q.after.is_none_or(|a| g.id.get() > a.0) && q.before.is_none_or(|b| g.id < b))
        .collect();
    // `before` pages backwards: the newest `limit` below it.
    if q.before.is_some() && q.after.is_none() {
        let skip = selected.len().saturating_sub(limit as usize);
        selected.drain(..skip);
    }
    for g in selected.into_iter().take(limit as usize) {
        let access = access::guild(&state, &user, g.id).await?;
        let count = if q.with_counts {
            Some((state.store.member_count(g.id).await?, state.presences.online_count(g.id)))
        } else {
            None
        };
        out.push(render::user_guild(g, user.id, access.permissions, count));
    }
    Ok(Json(out))
}

#[utoipa::path(
    delete, path = "/users/@me/guilds/{guild_id}",
    operation_id = "leave_guild", tag = "Users",
    summary = "Leave a guild",
    responses((status = 204)),
)]
pub async fn leave_guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await.map_err(|e| {
        if e.code == 50001 {
            ApiError::unknown_guild()
        } else {
            e
        }
    })?;
    if guild.is_owner() {
        return Err(ApiError::invalid_guild());
    }
    if state.store.remove_member(guild.guild.id, user.id).await? {
        state.member_left(guild.guild.id, &render::user(&user));
        domain::members::drop_managed_roles(&state, &guild, &guild.member).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /users/@me/channels`: the person's DM channels, most recent first
/// (Discord's user API; bots get DMs through the gateway only).
#[utoipa::path(
    get, path = "/users/@me/channels",
    operation_id = "list_private_channels", tag = "Users",
    summary = "List your DM channels (people only)",
    responses((status = 200, body = Vec<crate::openapi::Channel>)),
)]
pub async fn dm_channels(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<Vec<Channel>>> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    Ok(Json(render::private_channels(state.store.as_ref(), user.id).await?))
}

#[derive(Deserialize)]
pub struct OpenDm {
    recipient_id: UserId,
}

#[utoipa::path(
    post, path = "/users/@me/channels",
    operation_id = "create_dm", tag = "Users",
    summary = "Open a DM channel with a user",
    request_body = crate::openapi::DmCreate,
    responses((status = 200, body = crate::openapi::Channel)),
)]
pub async fn open_dm(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<OpenDm>,
) -> ApiResult<Json<Channel>> {
    if body.recipient_id == user.id {
        return Err(ApiError::cannot_dm());
    }
    let peer = state.store.user(body.recipient_id).await?.ok_or_else(ApiError::unknown_user)?;
    access::may_dm(&state, user.id, peer.id).await?;
    let channel = match state.store.open_dm(user.id, peer.id, state.ids.next()?).await {
        // Lost a race with the same pair's first DM: the other one won.
        Err(StoreError::Conflict(_)) => state.store.open_dm(user.id, peer.id, state.ids.next()?).await?,
        other => other?,
    };
    let channel = render::channel(&channel, &[], Some(vec![render::user(&peer)]));
    state.dm_opened(user.id, &channel);
    Ok(Json(channel))
}
