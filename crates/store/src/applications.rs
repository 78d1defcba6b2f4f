//! Applications and their bot users. A bot user's id is its application's.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::users::{insert_user, NewUser};
use crate::{from_db, to_db, Result, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    /// Also the id of the application's bot user.
    pub id: UserId,
    pub name: String,
    pub description: String,
    pub owner_id: UserId,
    pub bot_public: bool,
    pub flags: u64,
    pub verify_key: String,
}

#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Creates the bot user, the application and the bot's first token in
    /// one transaction.
    async fn create_application(&self, app: &ApplicationRow, bot: &NewUser, token_hash: &str) -> Result<()>;
    async fn application(&self, id: UserId) -> Result<Option<ApplicationRow>>;
    /// Changes the description and flags; `None` leaves one as it is.
    async fn update_application(
        &self,
        id: UserId,
        description: Option<&str>,
        flags: Option<u64>,
    ) -> Result<ApplicationRow>;
    /// Revokes every token of the bot and stores the new one, atomically.
    async fn replace_bot_token(&self, bot: UserId, token_hash: &str, now: i64) -> Result<()>;
}

fn app_row(r: &AnyRow) -> Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: from_db(r.try_get("id")?)?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        owner_id: from_db(r.try_get("owner_id")?)?,
        bot_public: r.try_get::<i64, _>("bot_public")? != 0,
        flags: r.try_get::<i64, _>("flags")? as u64,
        verify_key: r.try_get("verify_key")?,
    })
}

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn create_application(&self, app: &ApplicationRow, bot: &NewUser, token_hash: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_user(&mut *tx, bot).await?;
        sqlx::query(
            "INSERT INTO applications (id, name, description, owner_id, bot_public, flags, verify_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(to_db(app.id))
        .bind(&app.name)
        .bind(&app.description)
        .bind(to_db(app.owner_id))
        .bind(i64::from(app.bot_public))
        .bind(app.flags as i64)
        .bind(&app.verify_key)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(to_db(bot.id))
            .bind(bot.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn application(&self, id: UserId) -> Result<Option<ApplicationRow>> {
        let row = sqlx::query(
            "SELECT id, name, description, owner_id, bot_public, flags, verify_key FROM applications WHERE id = $1",
        )
        .bind(to_db(id))
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(app_row).transpose()
    }

    async fn update_application(
        &self,
        id: UserId,
        description: Option<&str>,
        flags: Option<u64>,
    ) -> Result<ApplicationRow> {
        let row = sqlx::query(
            "UPDATE applications SET description = COALESCE($2, description), flags = COALESCE($3, flags)
             WHERE id = $1 RETURNING id, name, description, owner_id, bot_public, flags, verify_key",
        )
        .bind(to_db(id))
        .bind(description)
        .bind(flags.map(|f| f as i64))
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(app_row).transpose()?.ok_or(crate::StoreError::NotFound)
    }

    async fn replace_bot_token(&self, bot: UserId, token_hash: &str, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(to_db(bot)).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(to_db(bot))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
