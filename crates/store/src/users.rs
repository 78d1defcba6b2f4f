//! Accounts (people and bots) and their session tokens.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{conflict, placeholders, SqlStore};
use crate::{from_db, to_db, Result, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub global_name: Option<String>,
    pub avatar: Option<String>,
    pub bot: bool,
    pub flags: u64,
    pub locale: String,
    pub created_at: i64,
    /// Two-factor authentication is on (the secret lives elsewhere).
    pub mfa_enabled: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub global_name: Option<String>,
    pub bot: bool,
    pub created_at: i64,
}

/// Fields of `PATCH /users/@me`; `None` leaves a field as it is, and
/// `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub global_name: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub locale: Option<String>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict("username")` or `Conflict("email")` when taken.
    async fn create_user(&self, user: &NewUser) -> Result<()>;
    async fn user(&self, id: UserId) -> Result<Option<UserRow>>;
    async fn users(&self, ids: &[UserId]) -> Result<Vec<UserRow>>;
    /// By email or username (both stored lower-case).
    async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>>;
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>>;
    async fn update_user(&self, id: UserId, patch: &UserPatch) -> Result<UserRow>;
    async fn insert_token(&self, token_hash: &str, user: UserId, now: i64) -> Result<()>;
    async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRow>>;
    async fn delete_token(&self, token_hash: &str) -> Result<bool>;
}

const COLUMNS: &str =
    "id, username, email, password_hash, global_name, avatar, bot, flags, locale, created_at, mfa_enabled";

pub(crate) fn user_row(r: &AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        id: from_db(r.try_get("id")?)?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        global_name: r.try_get("global_name")?,
        avatar: r.try_get("avatar")?,
        bot: r.try_get::<i64, _>("bot")? != 0,
        flags: r.try_get::<i64, _>("flags")? as u64,
        locale: r.try_get("locale")?,
        created_at: r.try_get("created_at")?,
        mfa_enabled: r.try_get::<i64, _>("mfa_enabled")? != 0,
    })
}

/// The user columns qualified by a table alias, for joins.
pub(crate) fn prefixed_columns(alias: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) async fn insert_token<'c, E>(
    e: E,
    token_hash: &str,
    user: UserId,
    now: i64,
    user_agent: Option<&str>,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("INSERT INTO tokens (token_hash, user_id, created_at, user_agent) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(to_db(user))
        .bind(now)
        .bind(user_agent)
        .execute(e)
        .await
        .map_err(conflict("token"))?;
    Ok(())
}

pub(crate) async fn insert_user<'c, E>(e: E, u: &NewUser) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO users (id, username, email, password_hash, global_name, bot, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(to_db(u.id))
    .bind(&u.username)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(&u.global_name)
    .bind(i64::from(u.bot))
    .bind(u.created_at)
    .execute(e)
    .await
    .map_err(|e| {
        let taken = match &e {
            sqlx::Error::Database(db) if db.message().contains("email") => "email",
            _ => "username",
        };
        conflict(taken)(e)
    })?;
    Ok(())
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &NewUser) -> Result<()> {
        insert_user(&self.writer, user).await
    }

    async fn user(&self, id: UserId) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(to_db(id))
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn users(&self, ids: &[UserId]) -> Result<Vec<UserRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.reader).await?.iter().map(user_row).collect()
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE (email = $1 OR username = $1) AND password_hash IS NOT NULL"
        ))
        .bind(login.to_lowercase())
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn update_user(&self, id: UserId, p: &UserPatch) -> Result<UserRow> {
        // COALESCE keeps a column when its parameter is NULL; the `set_*`
        // flags distinguish "clear" from "leave" for nullable columns.
        let row = sqlx::query(&format!(
            "UPDATE users SET
                username = COALESCE($2, username),
                global_name = CASE WHEN $3 = 1 THEN $4 ELSE global_name END,
                avatar = CASE WHEN $5 = 1 THEN $6 ELSE avatar END,
                locale = COALESCE($7, locale)
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(to_db(id))
        .bind(&p.username)
        .bind(i64::from(p.global_name.is_some()))
        .bind(p.global_name.clone().flatten())
        .bind(i64::from(p.avatar.is_some()))
        .bind(p.avatar.clone().flatten())
        .bind(&p.locale)
        .fetch_optional(&self.writer)
        .await
        .map_err(conflict("username"))?;
        row.as_ref().map(user_row).transpose()?.ok_or(StoreError::NotFound)
    }

    async fn insert_token(&self, token_hash: &str, user: UserId, now: i64) -> Result<()> {
        insert_token(&self.writer, token_hash, user, now, None).await
    }

    async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            prefixed_columns("u")
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn delete_token(&self, token_hash: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM tokens WHERE token_hash = $1").bind(token_hash).execute(&self.writer).await?;
        Ok(done.rows_affected() > 0)
    }
}
