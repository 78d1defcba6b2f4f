//! Two-factor authentication with TOTP and backup codes, on Discord's
//! routes. Turning MFA on or off revokes every token of the user and
//! answers a new one, as a password change does: whoever held an old
//! token did so under the old rules.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use events::RevokedTokens;
use model::Timestamp;
use store::{EnableMfa, StoreError, UserId, UserRow};

use crate::credentials::{self, mint_session};
use crate::extract::{Authed, Body, UserAgent};
use crate::ApiState;
use crate::{ApiError, ApiResult};
use domain::render;

#[derive(Deserialize)]
pub struct EnableTotp {
    /// Base32, made by the client (which shows it as a QR code).
    secret: String,
    /// A code from the authenticator, proving it has the secret.
    code: String,
    password: String,
}

fn people_only(user: &UserRow) -> ApiResult<()> {
    if user.bot {
        Err(ApiError::bots_forbidden())
    } else {
        Ok(())
    }
}

/// `[{user_id, code, consumed}]`; `code` is `null` for codes issued
/// earlier, whose text is not kept (only their argon2id digest is).
fn codes_json(user: UserId, codes: impl IntoIterator<Item = (Option<String>, bool)>) -> Value {
    Value::Array(
        codes
            .into_iter()
            .map(|(code, consumed)| json!({ "user_id": user, "code": code, "consumed": consumed }))
            .collect(),
    )
}

/// Tells the user's own sessions that `mfa_enabled` changed.
async fn announce(state: &ApiState, user: UserId) -> ApiResult<()> {
    if let Some(updated) = state.store.user(user).await? {
        state.user_updated(&render::current_user(&updated));
    }
    Ok(())
}

#[utoipa::path(
    post, path = "/users/@me/mfa/totp/enable",
    operation_id = "enable_totp", tag = "Users",
    summary = "Turn on TOTP two-factor authentication",
    request_body = crate::openapi::TotpEnable,
    responses((status = 200, body = crate::openapi::MfaEnabled)),
)]
pub async fn enable_totp(
    State(state): State<ApiState>,
    Authed(user): Authed,
    UserAgent(ua): UserAgent,
    Body(body): Body<EnableTotp>,
) -> ApiResult<Json<Value>> {
    people_only(&user)?;
    if user.mfa_enabled {
        return Err(ApiError::mfa_already_enabled());
    }
    let secret = auth::mfa::TotpSecret::parse(&body.secret).map_err(|_| ApiError::invalid_mfa_secret())?;
    credentials::require_password(&state, &user, &body.password).await?;
    let now = Timestamp::now().unix_ms();
    let step = secret.matching_step(&body.code, (now / 1000) as u64).ok_or_else(ApiError::invalid_mfa_code)?;
    let codes = auth::mfa::new_backup_codes();
    let salt = auth::random_hex(16);
    let backup_code_hashes = credentials::hash_backup_codes(&state, &salt, codes.clone()).await?;
    let (token, session) = mint_session(user.id, ua);
    let mfa = EnableMfa {
        totp_secret: secret.as_base32().to_owned(),
        // The confirming code is used: it cannot log in as well.
        last_step: step as i64,
        backup_salt: salt,
        backup_code_hashes,
        enabled_at: now,
    };
    match state.store.enable_mfa(user.id, &mfa, &session).await {
        Err(StoreError::Conflict(_)) => return Err(ApiError::mfa_already_enabled()),
        other => other?,
    }
    state.tokens_revoked(user.id, RevokedTokens::AllBut(session.token_hash));
    announce(&state, user.id).await?;
    Ok(Json(json!({
        "token": token,
        "backup_codes": codes_json(user.id, codes.into_iter().map(|c| (Some(c), false))),
    })))
}

#[derive(Deserialize)]
pub struct DisableTotp {
    /// A TOTP code or a backup code.
    code: String,
}

#[utoipa::path(
    post, path = "/users/@me/mfa/totp/disable",
    operation_id = "disable_totp", tag = "Users",
    summary = "Turn off TOTP two-factor authentication",
    request_body = crate::openapi::TotpDisable,
    responses((status = 200, body = crate::openapi::Token)),
)]
pub async fn disable_totp(
    State(state): State<ApiState>,
    Authed(user): Authed,
    UserAgent(ua): UserAgent,
    Body(body): Body<DisableTotp>,
) -> ApiResult<Json<Value>> {
    people_only(&user)?;
    if !user.mfa_enabled {
        return Err(ApiError::mfa_not_enabled());
    }
    if !credentials::second_factor(&state, user.id, &body.code).await? {
        return Err(ApiError::invalid_mfa_code());
    }
    let (token, session) = mint_session(user.id, ua);
    if !state.store.disable_mfa(user.id, &session).await? {
        return Err(ApiError::mfa_not_enabled());
    }
    state.tokens_revoked(user.id, RevokedTokens::AllBut(session.token_hash));
    announce(&state, user.id).await?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Deserialize)]
pub struct BackupCodes {
    password: String,
    #[serde(default)]
    regenerate: bool,
}

/// Discord's older route to see or replace the backup codes. Only digests
/// are stored, so seeing them shows which are used, not their text; new
/// ones are shown once, here.
#[utoipa::path(
    post, path = "/users/@me/mfa/codes",
    operation_id = "list_backup_codes", tag = "Users",
    summary = "View or regenerate backup codes",
    request_body = crate::openapi::BackupCodesRequest,
    responses((status = 200, body = crate::openapi::BackupCodes)),
)]
pub async fn backup_codes(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<BackupCodes>,
) -> ApiResult<Json<Value>> {
    people_only(&user)?;
    if !user.mfa_enabled {
        return Err(ApiError::mfa_not_enabled());
    }
    credentials::require_password(&state, &user, &body.password).await?;
    let Some(mfa) = state.store.mfa(user.id).await? else { return Err(ApiError::mfa_not_enabled()) };
    let codes = if body.regenerate {
        let codes = auth::mfa::new_backup_codes();
        let hashes = credentials::hash_backup_codes(&state, &mfa.backup_salt, codes.clone()).await?;
        state.store.replace_backup_codes(user.id, &hashes).await?;
        codes_json(user.id, codes.into_iter().map(|c| (Some(c), false)))
    } else {
        let rows = state.store.backup_codes(user.id).await?;
        codes_json(user.id, rows.into_iter().map(|r| (None, r.consumed)))
    };
    Ok(Json(json!({ "backup_codes": codes })))
}
