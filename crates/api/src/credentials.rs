//! What users prove they know — passwords, second factors — checked under
//! a per-account throttle, and the sessions such proofs open.
//!
//! Every wrong password or code counts against the account (`user:<id>`);
//! a login name that matches no account counts against the name itself
//! (`login:<name>`), so a throttled answer says nothing about whether an
//! account exists. The counts live in the store, so every API node sees
//! the same ones.

use model::Timestamp;
use store::{NewSession, UserId, UserRow};

use crate::ApiState;
use crate::{ApiError, ApiResult};

pub(crate) fn account_key(user: UserId) -> String {
    format!("user:{user}")
}

pub(crate) fn login_key(login: &str) -> String {
    format!("login:{login}")
}

fn window_ms(state: &ApiState) -> i64 {
    state.config.login_window.as_millis() as i64
}

/// Counts an attempt against `key` before it is checked, so that parallel
/// attempts cannot all pass a check made before any of them failed, and
/// refuses with Discord's 429 once the window's attempts are used up. An
/// attempt that succeeds gives its count back ([`release_attempt`]) or,
/// for a completed login, clears the key ([`clear_failures`]); a failed
/// one stays counted.
pub(crate) async fn reserve_attempt(state: &ApiState, key: &str) -> ApiResult<()> {
    let now = Timestamp::now().unix_ms();
    let t = state.store.count_login_attempt(key, now, now - window_ms(state)).await?;
    if t.failures > i64::from(state.config.login_max_failures) {
        let secs = (t.window_start + window_ms(state) - now).max(1) as f64 / 1000.0;
        return Err(ApiError::rate_limited(crate::Limited { retry_after: secs, global: false, scope: "user" }));
    }
    Ok(())
}

pub(crate) async fn release_attempt(state: &ApiState, key: &str) -> ApiResult<()> {
    Ok(state.store.release_login_attempt(key).await?)
}

pub(crate) async fn clear_failures(state: &ApiState, key: &str) -> ApiResult<()> {
    Ok(state.store.clear_login_failures(key).await?)
}

/// Verifies a password (or spends the same time failing when there is no
/// hash) off the async threads.
pub(crate) async fn verify_password(state: &ApiState, hash: Option<String>, password: String) -> ApiResult<bool> {
    let hasher = state.passwords.clone();
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => hasher.verify(&password, &hash),
        None => hasher.verify_nobody(&password),
    })
    .await
    .map_err(ApiError::internal)
}

pub(crate) async fn hash_password(state: &ApiState, password: String) -> ApiResult<String> {
    let hasher = state.passwords.clone();
    tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// The signed-in user's password, for routes that ask for it again;
/// throttled and counted like a login. Wrong: Discord's field error.
pub(crate) async fn require_password(state: &ApiState, user: &UserRow, password: &str) -> ApiResult<()> {
    let key = account_key(user.id);
    reserve_attempt(state, &key).await?;
    if password.chars().count() <= 128
        && verify_password(state, user.password_hash.clone(), password.to_owned()).await?
    {
        return release_attempt(state, &key).await;
    }
    Err(ApiError::field("password", "PASSWORD_DOES_NOT_MATCH", "Password does not match."))
}

/// Checks a second factor — a TOTP code or an unused backup code, which
/// this consumes — throttled and counted like a login. A TOTP code is
/// accepted once: its time step must be later than the last accepted one.
pub(crate) async fn second_factor(state: &ApiState, user: UserId, code: &str) -> ApiResult<bool> {
    let key = account_key(user);
    reserve_attempt(state, &key).await?;
    let ok = check_code(state, user, code).await?;
    if ok {
        release_attempt(state, &key).await?;
    }
    Ok(ok)
}

async fn check_code(state: &ApiState, user: UserId, code: &str) -> ApiResult<bool> {
    let Some(mfa) = state.store.mfa(user).await? else { return Ok(false) };
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).take(7).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let secret = auth::mfa::TotpSecret::parse(&mfa.totp_secret).map_err(ApiError::internal)?;
        let now_secs = (Timestamp::now().unix_ms() / 1000) as u64;
        return match secret.matching_step(&digits, now_secs) {
            Some(step) => Ok(state.store.accept_totp_step(user, step as i64).await?),
            None => Ok(false),
        };
    }
    let Some(code) = auth::mfa::normalize_backup_code(code) else { return Ok(false) };
    let digest = hash_backup_codes(state, &mfa.backup_salt, vec![code]).await?.remove(0);
    Ok(state.store.consume_backup_code(user, &digest).await?)
}

/// The stored digests of backup codes (argon2id: a good fraction of a
/// second for a set of ten at the default cost, so off the async threads).
pub(crate) async fn hash_backup_codes(state: &ApiState, salt: &str, codes: Vec<String>) -> ApiResult<Vec<String>> {
    let hasher = state.passwords.clone();
    let salt = salt.to_owned();
    tokio::task::spawn_blocking(move || {
        codes.iter().map(|c| hasher.backup_code_digest(c, &salt)).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// A new token for `user`: the token for the client, the row for the store.
pub(crate) fn mint_session(user: UserId, user_agent: Option<String>) -> (String, NewSession) {
    let token = auth::new_token(user.get());
    let session = NewSession { token_hash: token.hash, user_agent, created_at: Timestamp::now().unix_ms() };
    (token.token, session)
}
