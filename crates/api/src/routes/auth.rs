//! Registration, login and logout.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::Timestamp;
use store::{NewUser, StoreError, UserId};

use crate::error::{ApiError, ApiResult, FormErrors};
use crate::extract::{bearer, Authed, Body};
use crate::ApiState;

#[derive(Deserialize)]
pub struct Register {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    global_name: Option<String>,
}

/// Usernames as Discord has had them since 2023: 2–32 of `a-z 0-9 _ .`,
/// no `..`. Upper case is folded rather than refused.
pub fn check_username(errors: &mut FormErrors, field: &str, raw: &str) -> String {
    let name = raw.trim().to_lowercase();
    let len = name.chars().count();
    if !(2..=32).contains(&len) {
        errors.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.");
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        || name.contains("..")
    {
        errors.add(
            field,
            "USERNAME_INVALID_CHARACTERS",
            "Username can only contain letters, numbers, underscores and periods, and no two periods in a row.",
        );
    }
    name
}

pub fn check_display_name(errors: &mut FormErrors, field: &str, raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() {
        return None;
    }
    if name.chars().count() > 32 {
        errors.add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
    }
    Some(name.to_owned())
}

pub async fn register(State(state): State<ApiState>, Body(body): Body<Register>) -> ApiResult<Json<Value>> {
    let mut errors = FormErrors::default();
    let username = check_username(&mut errors, "username", &body.username);
    let email = body.email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        errors.add("email", "EMAIL_TYPE_INVALID_EMAIL", "Not a well formed email address.");
    }
    let pw_len = body.password.chars().count();
    if pw_len < 8 {
        errors.add("password", "PASSWORD_TOO_SHORT", "Must be at least 8 characters long.");
    } else if pw_len > 128 {
        errors.add("password", "BASE_TYPE_MAX_LENGTH", "Must be 128 or fewer in length.");
    }
    let global_name = body.global_name.as_deref().and_then(|n| check_display_name(&mut errors, "global_name", n));
    errors.finish()?;

    let password_hash = {
        let hasher = state.passwords.clone();
        let password = body.password;
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?
    };
    let id: UserId = state.ids.next();
    let now = Timestamp::now().unix_ms();
    let user = NewUser {
        id,
        username,
        email: Some(email),
        password_hash: Some(password_hash),
        global_name,
        bot: false,
        created_at: now,
    };
    match state.store.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict("email")) => {
            return Err(ApiError::field("email", "EMAIL_ALREADY_REGISTERED", "Email is already registered."))
        }
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::field(
                "username",
                "USERNAME_ALREADY_TAKEN",
                "Username is unavailable. Try adding numbers, letters, underscores _ , or periods.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let token = issue_token(&state, id).await?;
    Ok(Json(json!({ "token": token, "user_id": id })))
}

async fn issue_token(state: &ApiState, user: UserId) -> ApiResult<String> {
    let token = auth::new_token(user.get());
    state.store.insert_token(&token.hash, user, Timestamp::now().unix_ms()).await?;
    Ok(token.token)
}

#[derive(Deserialize)]
pub struct Login {
    login: String,
    password: String,
}

pub async fn login(State(state): State<ApiState>, Body(body): Body<Login>) -> ApiResult<Json<Value>> {
    let invalid = || {
        let mut e = FormErrors::default();
        e.add("login", "INVALID_LOGIN", "Login or password is invalid.");
        e.add("password", "INVALID_LOGIN", "Login or password is invalid.");
        e.into_error()
    };
    if body.login.len() > 254 || body.password.chars().count() > 128 {
        return Err(invalid());
    }
    let user = state.store.user_by_login(body.login.trim()).await?;
    // Verify against a dummy hash when there is no such account, so the
    // answer takes as long either way and says nothing about who exists.
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let hasher = state.passwords.clone();
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => hasher.verify(&password, &hash),
        None => hasher.verify_nobody(&password),
    })
    .await
    .map_err(ApiError::internal)?;
    match user {
        Some(user) if ok => {
            let token = issue_token(&state, user.id).await?;
            Ok(Json(json!({ "token": token, "user_id": user.id })))
        }
        _ => Err(invalid()),
    }
}

pub async fn logout(State(state): State<ApiState>, Authed(_): Authed, headers: HeaderMap) -> ApiResult<StatusCode> {
    let raw = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Some(token) = bearer(raw) {
        state.store.delete_token(&auth::hash_token(token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
