//! Registration, login (with its second step for MFA users) and logout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use events::RevokedTokens;
use model::Timestamp;
use store::{NewUser, StoreError, UserId};

use crate::credentials::{self, account_key, login_key};
use crate::extract::{Body, Session, UserAgent};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};

/// How long the ticket of an MFA login lasts, and how many wrong codes
/// it survives.
const TICKET_TTL_MS: i64 = 5 * 60 * 1000;
const TICKET_MAX_FAILURES: i64 = 5;

#[derive(Deserialize)]
pub struct Register {
    username: String,
    email: String,
    password: String,
    #[serde(default)]
    global_name: Option<String>,
}

#[utoipa::path(
    post, path = "/auth/register",
    operation_id = "register", tag = "Auth", security(()),
    summary = "Create an account and get a user token",
    request_body = crate::openapi::Register,
    responses((status = 200, body = crate::openapi::Session)),
)]
pub async fn register(
    State(state): State<ApiState>,
    UserAgent(ua): UserAgent,
    Body(body): Body<Register>,
) -> ApiResult<Json<Value>> {
    let mut errors = FormErrors::default();
    let username = domain::names::check_username(&mut errors, "username", &body.username);
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
    let global_name =
        body.global_name.as_deref().and_then(|n| domain::names::check_display_name(&mut errors, "global_name", n));
    errors.finish()?;

    let password_hash = credentials::hash_password(&state, body.password).await?;
    let id: UserId = state.ids.next()?;
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
    let token = issue_token(&state, id, ua).await?;
    Ok(Json(json!({ "token": token, "user_id": id })))
}

async fn issue_token(state: &ApiState, user: UserId, user_agent: Option<String>) -> ApiResult<String> {
    let (token, session) = credentials::mint_session(user, user_agent);
    state.store.insert_session(user, &session).await?;
    Ok(token)
}

#[derive(Deserialize)]
pub struct Login {
    login: String,
    password: String,
}

/// A password login. For an MFA user it answers a ticket instead of a
/// token, which `POST /auth/mfa/totp` trades for one with a code. Wrong
/// passwords count towards the account's throttle (see `credentials`).
#[utoipa::path(
    post, path = "/auth/login",
    operation_id = "login", tag = "Auth", security(()),
    summary = "Log in with a username or email and a password",
    request_body = crate::openapi::Login,
    responses((status = 200, body = crate::openapi::LoginResult)),
)]
pub async fn login(
    State(state): State<ApiState>,
    UserAgent(ua): UserAgent,
    Body(body): Body<Login>,
) -> ApiResult<Json<Value>> {
    let invalid = || {
        let mut e = FormErrors::default();
        e.add("login", "INVALID_LOGIN", "Login or password is invalid.");
        e.add("password", "INVALID_LOGIN", "Login or password is invalid.");
        e.into_error()
    };
    if body.login.len() > 254 || body.password.chars().count() > 128 {
        return Err(invalid());
    }
    let login = body.login.trim().to_lowercase();
    let user = state.store.user_by_login(&login).await?;
    let key = match &user {
        Some(u) => account_key(u.id),
        None => login_key(&login),
    };
    credentials::reserve_attempt(&state, &key).await?;
    // Verify against a dummy hash when there is no such account, so the
    // answer takes as long either way and says nothing about who exists.
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = credentials::verify_password(&state, hash, body.password).await?;
    match user {
        Some(user) if ok && user.mfa_enabled => {
            // The password alone clears nothing (the throttle keeps
            // counting wrong codes across tickets); it only gives back
            // its own count.
            credentials::release_attempt(&state, &key).await?;
            let ticket = auth::random_hex(32);
            let now = Timestamp::now().unix_ms();
            state.store.insert_mfa_ticket(&auth::hash_token(&ticket), user.id, now + TICKET_TTL_MS, now).await?;
            Ok(Json(json!({
                "token": null,
                "user_id": user.id,
                "mfa": true,
                "sms": false,
                "totp": true,
                "backup": true,
                "webauthn": null,
                "ticket": ticket,
            })))
        }
        Some(user) if ok => {
            credentials::clear_failures(&state, &key).await?;
            let token = issue_token(&state, user.id, ua).await?;
            Ok(Json(json!({ "token": token, "user_id": user.id })))
        }
        // Counted already, by `reserve_attempt`.
        _ => Err(invalid()),
    }
}

#[derive(Deserialize)]
pub struct MfaLogin {
    code: String,
    ticket: String,
}

/// The second step of an MFA login: a TOTP code or a backup code (used up)
/// for the ticket. A ticket lasts five minutes and five wrong codes.
#[utoipa::path(
    post, path = "/auth/mfa/totp",
    operation_id = "login_mfa_totp", tag = "Auth", security(()),
    summary = "Finish a login with a TOTP or backup code",
    request_body = crate::openapi::MfaLogin,
    responses((status = 200, body = crate::openapi::Session)),
)]
pub async fn login_totp(
    State(state): State<ApiState>,
    UserAgent(ua): UserAgent,
    Body(body): Body<MfaLogin>,
) -> ApiResult<Json<Value>> {
    if body.ticket.is_empty() || body.ticket.len() > 256 {
        return Err(ApiError::invalid_mfa_ticket());
    }
    let ticket_hash = auth::hash_token(&body.ticket);
    let now = Timestamp::now().unix_ms();
    // The attempt is counted on the ticket before the code is checked.
    let user = state
        .store
        .attempt_mfa_ticket(&ticket_hash, now, TICKET_MAX_FAILURES)
        .await?
        .ok_or_else(ApiError::invalid_mfa_ticket)?;
    if !credentials::second_factor(&state, user, &body.code).await? {
        return Err(ApiError::invalid_mfa_code());
    }
    // Two requests racing with one ticket: only one gets a token.
    if !state.store.take_mfa_ticket(&ticket_hash).await? {
        return Err(ApiError::invalid_mfa_ticket());
    }
    credentials::clear_failures(&state, &account_key(user)).await?;
    let token = issue_token(&state, user, ua).await?;
    Ok(Json(json!({ "token": token, "user_id": user })))
}

#[utoipa::path(
    post, path = "/auth/logout",
    operation_id = "logout", tag = "Auth",
    summary = "Revoke the token of this request",
    responses((status = 204)),
)]
pub async fn logout(State(state): State<ApiState>, session: Session) -> ApiResult<StatusCode> {
    if state.store.delete_token(&session.token_hash).await? {
        state.tokens_revoked(session.user.id, RevokedTokens::These(vec![session.token_hash]));
    }
    Ok(StatusCode::NO_CONTENT)
}
