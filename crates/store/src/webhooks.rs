//! Webhooks: a channel's way in for systems that are not bots. Each is also
//! a user row (a bot without password or token), the author of what it
//! posts, kept when the webhook goes so its messages keep their author.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::sql::SqlStore;
use crate::users::{insert_user, NewUser};
use crate::{from_db, opt_from_db, to_db, ChannelId, GuildId, Result, StoreError, UserId, WebhookId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// Also the id of its user row.
    pub id: WebhookId,
    /// Discord's webhook type (1 incoming, 3 application).
    pub kind: u8,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    /// Who made it; `None` once they are gone.
    pub creator_id: Option<UserId>,
    pub application_id: Option<UserId>,
    pub name: String,
    /// The hash of its avatar in the media store.
    pub avatar: Option<String>,
    /// The secret in its URL, as issued.
    pub token: String,
    pub created_at: i64,
}

impl WebhookRow {
    /// The id of the user row behind it.
    pub fn user_id(&self) -> UserId {
        UserId::new(self.id.get())
    }
}

/// A change to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub avatar: Option<Option<String>>,
    pub channel_id: Option<ChannelId>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores the webhook and its user row in one transaction.
    async fn create_webhook(&self, hook: &WebhookRow, user: &NewUser, audit: Option<&AuditEntry>) -> Result<()>;
    async fn webhook(&self, id: WebhookId) -> Result<Option<WebhookRow>>;
    /// Oldest first.
    async fn channel_webhooks(&self, channel: ChannelId) -> Result<Vec<WebhookRow>>;
    /// Oldest first.
    async fn guild_webhooks(&self, guild: GuildId) -> Result<Vec<WebhookRow>>;
    /// `NotFound` when the webhook is gone.
    async fn update_webhook(
        &self,
        id: WebhookId,
        patch: &WebhookPatch,
        audit: Option<&AuditEntry>,
    ) -> Result<WebhookRow>;
    /// Whether it existed. Its user row (and so its messages) stay.
    async fn delete_webhook(&self, id: WebhookId, audit: Option<&AuditEntry>) -> Result<bool>;
}

const COLUMNS: &str = "id, kind, guild_id, channel_id, creator_id, application_id, name, avatar, token, created_at";

fn webhook_row(r: &AnyRow) -> Result<WebhookRow> {
    Ok(WebhookRow {
        id: from_db(r.try_get("id")?)?,
        kind: r.try_get::<i64, _>("kind")? as u8,
        guild_id: from_db(r.try_get("guild_id")?)?,
        channel_id: from_db(r.try_get("channel_id")?)?,
        creator_id: opt_from_db(r.try_get("creator_id")?)?,
        application_id: opt_from_db(r.try_get("application_id")?)?,
        name: r.try_get("name")?,
        avatar: r.try_get("avatar")?,
        token: r.try_get("token")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn create_webhook(&self, w: &WebhookRow, user: &NewUser, audit: Option<&AuditEntry>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_user(&mut *tx, user).await?;
        sqlx::query(&format!("INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(to_db(w.id))
            .bind(i64::from(w.kind))
            .bind(to_db(w.guild_id))
            .bind(to_db(w.channel_id))
            .bind(w.creator_id.map(to_db))
            .bind(w.application_id.map(to_db))
            .bind(&w.name)
            .bind(&w.avatar)
            .bind(&w.token)
            .bind(w.created_at)
            .execute(&mut *tx)
            .await?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, id: WebhookId) -> Result<Option<WebhookRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(to_db(id))
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    async fn channel_webhooks(&self, channel: ChannelId) -> Result<Vec<WebhookRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE channel_id = $1 ORDER BY id"))
            .bind(to_db(channel))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    async fn guild_webhooks(&self, guild: GuildId) -> Result<Vec<WebhookRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE guild_id = $1 ORDER BY id"))
            .bind(to_db(guild))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    async fn update_webhook(
        &self,
        id: WebhookId,
        patch: &WebhookPatch,
        audit: Option<&AuditEntry>,
    ) -> Result<WebhookRow> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE webhooks SET name = COALESCE($2, name),
                 avatar = CASE WHEN $3 = 1 THEN $4 ELSE avatar END,
                 channel_id = COALESCE($5, channel_id)
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(to_db(id))
        .bind(&patch.name)
        .bind(i64::from(patch.avatar.is_some()))
        .bind(patch.avatar.clone().flatten())
        .bind(patch.channel_id.map(to_db))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(StoreError::NotFound) };
        let hook = webhook_row(&row)?;
        // Its user row carries the name too, for anything that shows the
        // author without the message's own copy.
        sqlx::query("UPDATE users SET global_name = $2, avatar = $3 WHERE id = $1")
            .bind(to_db(id))
            .bind(&hook.name)
            .bind(&hook.avatar)
            .execute(&mut *tx)
            .await?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(hook)
    }

    async fn delete_webhook(&self, id: WebhookId, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let gone = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(to_db(id)).execute(&mut *tx).await?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
