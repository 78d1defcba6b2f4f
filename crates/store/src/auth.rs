//! Sessions, two-factor authentication, MFA login tickets and login
//! throttling: the state that authentication keeps beyond users and tokens.
//! Everything is in the database, so several API nodes agree on it.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::users::{insert_token, prefixed_columns, user_row, UserRow};
use crate::{from_db, to_db, Result, StoreError, UserId};

/// A token to create along with a change that revokes the old ones.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_agent: Option<String>,
    pub created_at: i64,
}

/// One token of a user, as the session list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub token_hash: String,
    pub created_at: i64,
    /// `created_at` until the token is first used.
    pub last_used_at: i64,
    pub user_agent: Option<String>,
}

/// A user's second factor. Deliberately not `Debug`: it holds the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaRow {
    /// Base32, as the user's authenticator has it.
    pub totp_secret: String,
    /// The last accepted TOTP time step.
    pub last_step: i64,
    pub backup_salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupCodeRow {
    pub code_hash: String,
    pub consumed: bool,
}

/// What enabling MFA stores, all at once.
#[derive(Clone)]
pub struct EnableMfa {
    pub totp_secret: String,
    pub last_step: i64,
    pub backup_salt: String,
    pub backup_code_hashes: Vec<String>,
    pub enabled_at: i64,
}

/// A login throttle's state: failures counted since `window_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRow {
    pub window_start: i64,
    pub failures: i64,
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Stores a token with the User-Agent that obtained it.
    async fn insert_session(&self, user: UserId, session: &NewSession) -> Result<()>;
    /// The token's user and when the token was last used (for throttling
    /// the writes that keep that time fresh).
    async fn session_by_token(&self, token_hash: &str) -> Result<Option<(UserRow, i64)>>;
    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()>;
    /// The user's tokens, most recently used first.
    async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionRow>>;
    /// Deletes these tokens if they are `user`'s; returns how many.
    async fn delete_sessions(&self, user: UserId, token_hashes: &[String]) -> Result<u64>;
    /// Sets the password hash, revokes every token of the user and stores
    /// `session`, in one transaction.
    async fn change_password(&self, user: UserId, password_hash: &str, session: &NewSession) -> Result<()>;

    /// `None` when MFA is off.
    async fn mfa(&self, user: UserId) -> Result<Option<MfaRow>>;
    /// Turns MFA on, revokes every token and stores `session`, in one
    /// transaction. `Conflict("mfa")` if it is already on.
    async fn enable_mfa(&self, user: UserId, mfa: &EnableMfa, session: &NewSession) -> Result<()>;
    /// Turns MFA off (secret and backup codes gone), revokes every token
    /// and stores `session`. `false` if it was not on.
    async fn disable_mfa(&self, user: UserId, session: &NewSession) -> Result<bool>;
    /// Records `step` as used if it is later than the last one; `false`
    /// means the code was a replay (or raced one that won).
    async fn accept_totp_step(&self, user: UserId, step: i64) -> Result<bool>;
    /// In the order they were issued.
    async fn backup_codes(&self, user: UserId) -> Result<Vec<BackupCodeRow>>;
    /// Marks an unused code used; `false` if there is no such unused code.
    async fn consume_backup_code(&self, user: UserId, code_hash: &str) -> Result<bool>;
    async fn replace_backup_codes(&self, user: UserId, code_hashes: &[String]) -> Result<()>;

    /// Stores a login ticket (and drops expired ones).
    async fn insert_mfa_ticket(&self, ticket_hash: &str, user: UserId, expires_at: i64, now: i64) -> Result<()>;
    /// Counts an attempt on a live ticket that has had fewer than
    /// `max_attempts`, and names its user; `None` for a ticket that is
    /// gone, expired or used up. Counting before the code is checked means
    /// parallel guesses cannot all slip under the limit.
    async fn attempt_mfa_ticket(&self, ticket_hash: &str, now: i64, max_attempts: i64) -> Result<Option<UserId>>;
    /// Uses a ticket up; `false` if it was already gone (a racing request won).
    async fn take_mfa_ticket(&self, ticket_hash: &str) -> Result<bool>;

    /// Counts an attempt (kept if it fails) in the window that started
    /// after `window_floor` (a new window starts at `now` otherwise); drops
    /// stale windows.
    async fn count_login_attempt(&self, key: &str, now: i64, window_floor: i64) -> Result<ThrottleRow>;
    /// Takes one count back (an attempt counted in advance succeeded).
    async fn release_login_attempt(&self, key: &str) -> Result<()>;
    async fn clear_login_failures(&self, key: &str) -> Result<()>;
}

fn session_row(r: &AnyRow) -> Result<SessionRow> {
    let created_at: i64 = r.try_get("created_at")?;
    Ok(SessionRow {
        token_hash: r.try_get("token_hash")?,
        created_at,
        last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.unwrap_or(created_at),
        user_agent: r.try_get("user_agent")?,
    })
}

/// Revokes every token and login ticket of `user` and stores `session`,
/// inside `tx`.
async fn replace_sessions(tx: &mut crate::sql::Tx, user: UserId, session: &NewSession) -> Result<()> {
    sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(to_db(user)).execute(&mut **tx).await?;
    // A ticket won with the old credentials must not outlive them.
    sqlx::query("DELETE FROM mfa_tickets WHERE user_id = $1").bind(to_db(user)).execute(&mut **tx).await?;
    insert_token(&mut **tx, &session.token_hash, user, session.created_at, session.user_agent.as_deref()).await
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn insert_session(&self, user: UserId, session: &NewSession) -> Result<()> {
        insert_token(&self.writer, &session.token_hash, user, session.created_at, session.user_agent.as_deref()).await
    }

    async fn session_by_token(&self, token_hash: &str) -> Result<Option<(UserRow, i64)>> {
        let row = sqlx::query(&format!(
            "SELECT {}, COALESCE(t.last_used_at, t.created_at) AS token_last_used
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            prefixed_columns("u")
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| Ok((user_row(&r)?, r.try_get::<i64, _>("token_last_used")?))).transpose()
    }

    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE tokens SET last_used_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionRow>> {
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_used_at, user_agent FROM tokens WHERE user_id = $1
             ORDER BY COALESCE(last_used_at, created_at) DESC, token_hash",
        )
        .bind(to_db(user))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(session_row).collect()
    }

    async fn delete_sessions(&self, user: UserId, token_hashes: &[String]) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let mut done = 0;
        for hash in token_hashes {
            done += sqlx::query("DELETE FROM tokens WHERE token_hash = $1 AND user_id = $2")
                .bind(hash)
                .bind(to_db(user))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn change_password(&self, user: UserId, password_hash: &str, session: &NewSession) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(to_db(user))
            .bind(password_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        replace_sessions(&mut tx, user, session).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mfa(&self, user: UserId) -> Result<Option<MfaRow>> {
        let row = sqlx::query("SELECT totp_secret, last_step, backup_salt FROM user_mfa WHERE user_id = $1")
            .bind(to_db(user))
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(MfaRow {
                totp_secret: r.try_get("totp_secret")?,
                last_step: r.try_get("last_step")?,
                backup_salt: r.try_get("backup_salt")?,
            })
        })
        .transpose()
    }

    async fn enable_mfa(&self, user: UserId, mfa: &EnableMfa, session: &NewSession) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO user_mfa (user_id, totp_secret, last_step, backup_salt, enabled_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(to_db(user))
        .bind(&mfa.totp_secret)
        .bind(mfa.last_step)
        .bind(&mfa.backup_salt)
        .bind(mfa.enabled_at)
        .execute(&mut *tx)
        .await
        .map_err(crate::sql::conflict("mfa"))?;
        sqlx::query("UPDATE users SET mfa_enabled = 1 WHERE id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        insert_backup_codes(&mut tx, user, &mfa.backup_code_hashes).await?;
        replace_sessions(&mut tx, user, session).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn disable_mfa(&self, user: UserId, session: &NewSession) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let gone = sqlx::query("DELETE FROM user_mfa WHERE user_id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE users SET mfa_enabled = 0 WHERE id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM mfa_tickets WHERE user_id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        replace_sessions(&mut tx, user, session).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn accept_totp_step(&self, user: UserId, step: i64) -> Result<bool> {
        // One conditional write: two nodes racing with the same code cannot
        // both see it accepted.
        let done = sqlx::query("UPDATE user_mfa SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(to_db(user))
            .bind(step)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn backup_codes(&self, user: UserId) -> Result<Vec<BackupCodeRow>> {
        let rows = sqlx::query("SELECT code_hash, consumed FROM mfa_backup_codes WHERE user_id = $1 ORDER BY position")
            .bind(to_db(user))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BackupCodeRow {
                    code_hash: r.try_get("code_hash")?,
                    consumed: r.try_get::<i64, _>("consumed")? != 0,
                })
            })
            .collect()
    }

    async fn consume_backup_code(&self, user: UserId, code_hash: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE mfa_backup_codes SET consumed = 1 WHERE user_id = $1 AND code_hash = $2 AND consumed = 0",
        )
        .bind(to_db(user))
        .bind(code_hash)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_backup_codes(&self, user: UserId, code_hashes: &[String]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1").bind(to_db(user)).execute(&mut *tx).await?;
        insert_backup_codes(&mut tx, user, code_hashes).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_mfa_ticket(&self, ticket_hash: &str, user: UserId, expires_at: i64, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM mfa_tickets WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO mfa_tickets (ticket_hash, user_id, expires_at, failures) VALUES ($1, $2, $3, 0)")
            .bind(ticket_hash)
            .bind(to_db(user))
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(crate::sql::conflict("ticket"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn attempt_mfa_ticket(&self, ticket_hash: &str, now: i64, max_attempts: i64) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "UPDATE mfa_tickets SET failures = failures + 1
             WHERE ticket_hash = $1 AND expires_at > $2 AND failures < $3
             RETURNING user_id",
        )
        .bind(ticket_hash)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| from_db(r.try_get("user_id")?)).transpose()
    }

    async fn take_mfa_ticket(&self, ticket_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM mfa_tickets WHERE ticket_hash = $1")
            .bind(ticket_hash)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_login_attempt(&self, key: &str, now: i64, window_floor: i64) -> Result<ThrottleRow> {
        let mut tx = self.writer.begin().await?;
        // Stale windows of every key go, so names tried once do not pile up.
        sqlx::query("DELETE FROM login_throttle WHERE window_start <= $1").bind(window_floor).execute(&mut *tx).await?;
        let row = sqlx::query(
            "INSERT INTO login_throttle (throttle_key, window_start, failures) VALUES ($1, $2, 1)
             ON CONFLICT (throttle_key) DO UPDATE SET failures = login_throttle.failures + 1
             RETURNING window_start, failures",
        )
        .bind(key)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ThrottleRow { window_start: row.try_get("window_start")?, failures: row.try_get("failures")? })
    }

    async fn release_login_attempt(&self, key: &str) -> Result<()> {
        sqlx::query("UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0")
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1").bind(key).execute(&self.writer).await?;
        Ok(())
    }
}

async fn insert_backup_codes(tx: &mut crate::sql::Tx, user: UserId, code_hashes: &[String]) -> Result<()> {
    for (position, hash) in code_hashes.iter().enumerate() {
        sqlx::query("INSERT INTO mfa_backup_codes (user_id, code_hash, consumed, position) VALUES ($1, $2, 0, $3)")
            .bind(to_db(user))
            .bind(hash)
            .bind(position as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
