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
    /// The hex Ed25519 public key its interactions are signed with.
    pub verify_key: String,
    /// Where it receives interactions over HTTP instead of the gateway.
    pub interactions_endpoint_url: Option<String>,
    /// The signing key's seed (hex); `None` for applications made before
    /// there were keys, until they first need one.
    pub signing_seed: Option<String>,
}

const APP_COLUMNS: &str =
    "id, name, description, owner_id, bot_public, flags, verify_key, interactions_endpoint_url, signing_seed";

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
    /// Sets (or with `None` clears) where it receives interactions.
    async fn set_interactions_endpoint(&self, id: UserId, url: Option<&str>) -> Result<ApplicationRow>;
    /// Gives an application made before there were signing keys its key,
    /// unless it has one by now; answers the row as stored.
    async fn set_signing_key(&self, id: UserId, seed: &str, verify_key: &str) -> Result<ApplicationRow>;
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
        interactions_endpoint_url: r.try_get("interactions_endpoint_url")?,
        signing_seed: r.try_get("signing_seed")?,
    })
}

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn create_application(&self, app: &ApplicationRow, bot: &NewUser, token_hash: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_user(&mut *tx, bot).await?;
        sqlx::query(
            "INSERT INTO applications (id, name, description, owner_id, bot_public, flags, verify_key, signing_seed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(to_db(app.id))
        .bind(&app.name)
        .bind(&app.description)
        .bind(to_db(app.owner_id))
        .bind(i64::from(app.bot_public))
        .bind(app.flags as i64)
        .bind(&app.verify_key)
        .bind(&app.signing_seed)
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
        let row = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM applications WHERE id = $1"))
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
        let row = sqlx::query(&format!(
            "UPDATE applications SET description = COALESCE($2, description), flags = COALESCE($3, flags)
             WHERE id = $1 RETURNING {APP_COLUMNS}"
        ))
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

    async fn set_interactions_endpoint(&self, id: UserId, url: Option<&str>) -> Result<ApplicationRow> {
        let row = sqlx::query(&format!(
            "UPDATE applications SET interactions_endpoint_url = $2 WHERE id = $1 RETURNING {APP_COLUMNS}"
        ))
        .bind(to_db(id))
        .bind(url)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(app_row).transpose()?.ok_or(crate::StoreError::NotFound)
    }

    async fn set_signing_key(&self, id: UserId, seed: &str, verify_key: &str) -> Result<ApplicationRow> {
        sqlx::query(
            "UPDATE applications SET signing_seed = $2, verify_key = $3 WHERE id = $1 AND signing_seed IS NULL",
        )
        .bind(to_db(id))
        .bind(seed)
        .bind(verify_key)
        .execute(&self.writer)
        .await?;
        self.application(id).await?.ok_or(crate::StoreError::NotFound)
    }
}
