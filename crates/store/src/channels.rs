//! Guild channels and DM channels.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::sql::SqlStore;
use crate::{from_db, opt_from_db, to_db, ChannelId, GuildId, MessageId, Result, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    pub id: ChannelId,
    /// Discord's channel type code.
    pub kind: u8,
    pub guild_id: Option<GuildId>,
    pub name: Option<String>,
    pub position: i64,
    pub parent_id: Option<ChannelId>,
    pub topic: Option<String>,
    pub nsfw: bool,
    pub rate_limit_per_user: i64,
    pub bitrate: i64,
    pub user_limit: i64,
    pub last_message_id: Option<MessageId>,
    pub last_pin_at: Option<i64>,
}

/// A permission overwrite on a channel, for a role (`kind` 0) or a member (1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverwriteRow {
    pub target_id: u64,
    pub kind: u8,
    pub allow: u64,
    pub deny: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    pub name: Option<String>,
    pub position: Option<i64>,
    pub parent_id: Option<Option<ChannelId>>,
    pub topic: Option<Option<String>>,
    pub nsfw: Option<bool>,
    pub rate_limit_per_user: Option<i64>,
    pub bitrate: Option<i64>,
    pub user_limit: Option<i64>,
}

impl ChannelPatch {
    /// The row as it will be once this patch is stored.
    pub fn apply(&self, row: &mut ChannelRow) {
        if let Some(v) = &self.name {
            row.name = Some(v.clone());
        }
        if let Some(v) = self.position {
            row.position = v;
        }
        if let Some(v) = self.parent_id {
            row.parent_id = v;
        }
        if let Some(v) = &self.topic {
            row.topic = v.clone();
        }
        if let Some(v) = self.nsfw {
            row.nsfw = v;
        }
        if let Some(v) = self.rate_limit_per_user {
            row.rate_limit_per_user = v;
        }
        if let Some(v) = self.bitrate {
            row.bitrate = v;
        }
        if let Some(v) = self.user_limit {
            row.user_limit = v;
        }
    }
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Creates the channel with its overwrites.
    async fn create_channel(
        &self,
        channel: &ChannelRow,
        overwrites: &[OverwriteRow],
        audit: Option<&AuditEntry>,
    ) -> Result<()>;
    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>>;
    /// A guild's channels by position, then id.
    async fn guild_channels(&self, guild: GuildId) -> Result<Vec<ChannelRow>>;
    async fn update_channel(
        &self,
        id: ChannelId,
        patch: &ChannelPatch,
        audit: Option<&AuditEntry>,
    ) -> Result<ChannelRow>;
    /// Deletes the channel with its messages and invites; children of a
    /// deleted category lose their parent, and a guild whose system or AFK
    /// channel it was loses that setting.
    async fn delete_channel(&self, id: ChannelId, audit: Option<&AuditEntry>) -> Result<bool>;
    async fn overwrites(&self, channel: ChannelId) -> Result<Vec<OverwriteRow>>;
    /// Every overwrite of every channel of a guild.
    async fn guild_overwrites(&self, guild: GuildId) -> Result<Vec<(ChannelId, OverwriteRow)>>;
    /// Replaces every overwrite of the channel with `overwrites`.
    async fn replace_overwrites(
        &self,
        channel: ChannelId,
        overwrites: &[OverwriteRow],
        audit: &[AuditEntry],
    ) -> Result<()>;
    /// Creates or replaces; `true` if it was new.
    async fn put_overwrite(
        &self,
        channel: ChannelId,
        overwrite: &OverwriteRow,
        audit: Option<&AuditEntry>,
    ) -> Result<bool>;
    async fn delete_overwrite(&self, channel: ChannelId, target: u64, audit: Option<&AuditEntry>) -> Result<bool>;
    /// The one DM channel between `a` and `b`, created with `new_id` if
    /// there is none yet. Safe against two concurrent first calls.
    async fn open_dm(&self, a: UserId, b: UserId, new_id: ChannelId) -> Result<ChannelRow>;
    async fn dm_recipients(&self, channel: ChannelId) -> Result<Vec<UserId>>;
    /// Every DM channel of `user`, each with the other recipient.
    async fn dm_channels(&self, user: UserId) -> Result<Vec<(ChannelRow, UserId)>>;
}

pub(crate) const CHANNEL_COLUMNS: &str = "id, kind, guild_id, name, position, parent_id, topic, nsfw, \
    rate_limit_per_user, bitrate, user_limit, last_message_id, last_pin_at";

pub(crate) fn channel_row(r: &AnyRow) -> Result<ChannelRow> {
    Ok(ChannelRow {
        id: from_db(r.try_get("id")?)?,
        kind: u8::try_from(r.try_get::<i64, _>("kind")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        guild_id: opt_from_db(r.try_get("guild_id")?)?,
        name: r.try_get("name")?,
        position: r.try_get("position")?,
        parent_id: opt_from_db(r.try_get("parent_id")?)?,
        topic: r.try_get("topic")?,
        nsfw: r.try_get::<i64, _>("nsfw")? != 0,
        rate_limit_per_user: r.try_get("rate_limit_per_user")?,
        bitrate: r.try_get("bitrate")?,
        user_limit: r.try_get("user_limit")?,
        last_message_id: opt_from_db(r.try_get("last_message_id")?)?,
        last_pin_at: r.try_get("last_pin_at")?,
    })
}

pub(crate) async fn insert_channel<'c, E>(e: E, c: &ChannelRow) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(&format!(
        "INSERT INTO channels ({CHANNEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(to_db(c.id))
    .bind(i64::from(c.kind))
    .bind(c.guild_id.map(to_db))
    .bind(&c.name)
    .bind(c.position)
    .bind(c.parent_id.map(to_db))
    .bind(&c.topic)
    .bind(i64::from(c.nsfw))
    .bind(c.rate_limit_per_user)
    .bind(c.bitrate)
    .bind(c.user_limit)
    .bind(c.last_message_id.map(to_db))
    .bind(c.last_pin_at)
    .execute(e)
    .await?;
    Ok(())
}

fn overwrite_row(r: &AnyRow) -> Result<OverwriteRow> {
    Ok(OverwriteRow {
        target_id: r.try_get::<i64, _>("target_id")? as u64,
        kind: r.try_get::<i64, _>("kind")? as u8,
        allow: r.try_get::<i64, _>("allow")? as u64,
        deny: r.try_get::<i64, _>("deny")? as u64,
    })
}

async fn insert_overwrite<'c, E>(e: E, channel: ChannelId, o: &OverwriteRow) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO channel_overwrites (channel_id, target_id, kind, allow, deny) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(to_db(channel))
    .bind(o.target_id as i64)
    .bind(i64::from(o.kind))
    .bind(o.allow as i64)
    .bind(o.deny as i64)
    .execute(e)
    .await?;
    Ok(())
}

#[async_trait]
impl ChannelStore for SqlStore {
    async fn create_channel(
        &self,
        channel: &ChannelRow,
        overwrites: &[OverwriteRow],
        audit: Option<&AuditEntry>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_channel(&mut *tx, channel).await?;
        for o in overwrites {
            insert_overwrite(&mut *tx, channel.id, o).await?;
        }
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn channel(&self, id: ChannelId) -> Result<Option<ChannelRow>> {
        let row = sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"))
            .bind(to_db(id))
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(channel_row).transpose()
    }

    async fn guild_channels(&self, guild: GuildId) -> Result<Vec<ChannelRow>> {
        let rows =
            sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE guild_id = $1 ORDER BY position, id"))
                .bind(to_db(guild))
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(channel_row).collect()
    }

    async fn update_channel(&self, id: ChannelId, p: &ChannelPatch, audit: Option<&AuditEntry>) -> Result<ChannelRow> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE channels SET
                name = COALESCE($2, name),
                position = COALESCE($3, position),
                parent_id = CASE WHEN $4 = 1 THEN $5 ELSE parent_id END,
                topic = CASE WHEN $6 = 1 THEN $7 ELSE topic END,
                nsfw = COALESCE($8, nsfw),
                rate_limit_per_user = COALESCE($9, rate_limit_per_user),
                bitrate = COALESCE($10, bitrate),
                user_limit = COALESCE($11, user_limit)
             WHERE id = $1 RETURNING {CHANNEL_COLUMNS}"
        ))
        .bind(to_db(id))
        .bind(&p.name)
        .bind(p.position)
        .bind(i64::from(p.parent_id.is_some()))
        .bind(p.parent_id.flatten().map(to_db))
        .bind(i64::from(p.topic.is_some()))
        .bind(p.topic.clone().flatten())
        .bind(p.nsfw.map(i64::from))
        .bind(p.rate_limit_per_user)
        .bind(p.bitrate)
        .bind(p.user_limit)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.as_ref().map(channel_row).transpose()?.ok_or(StoreError::NotFound)?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn delete_channel(&self, id: ChannelId, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE channels SET parent_id = NULL WHERE parent_id = $1")
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        for column in ["system_channel_id", "afk_channel_id"] {
            sqlx::query(&format!("UPDATE guilds SET {column} = NULL WHERE {column} = $1"))
                .bind(to_db(id))
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM channels WHERE id = $1").bind(to_db(id)).execute(&mut *tx).await?;
        if done.rows_affected() > 0 {
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn overwrites(&self, channel: ChannelId) -> Result<Vec<OverwriteRow>> {
        let rows = sqlx::query(
            "SELECT target_id, kind, allow, deny FROM channel_overwrites WHERE channel_id = $1 ORDER BY target_id",
        )
        .bind(to_db(channel))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(overwrite_row).collect()
    }

    async fn guild_overwrites(&self, guild: GuildId) -> Result<Vec<(ChannelId, OverwriteRow)>> {
        let rows = sqlx::query(
            "SELECT o.channel_id, o.target_id, o.kind, o.allow, o.deny FROM channel_overwrites o
             JOIN channels c ON c.id = o.channel_id WHERE c.guild_id = $1 ORDER BY o.channel_id, o.target_id",
        )
        .bind(to_db(guild))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok((from_db(r.try_get("channel_id")?)?, overwrite_row(r)?))).collect()
    }

    async fn replace_overwrites(
        &self,
        channel: ChannelId,
        overwrites: &[OverwriteRow],
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM channel_overwrites WHERE channel_id = $1")
            .bind(to_db(channel))
            .execute(&mut *tx)
            .await?;
        for o in overwrites {
            insert_overwrite(&mut *tx, channel, o).await?;
        }
        for entry in audit {
            record(&mut *tx, Some(entry)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_overwrite(&self, channel: ChannelId, o: &OverwriteRow, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let existed = sqlx::query("DELETE FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2")
            .bind(to_db(channel))
            .bind(o.target_id as i64)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        insert_overwrite(&mut *tx, channel, o).await?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(!existed)
    }

    async fn delete_overwrite(&self, channel: ChannelId, target: u64, audit: Option<&AuditEntry>) -> Result<bool> {
        let query = sqlx::query("DELETE FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2")
            .bind(to_db(channel))
            .bind(target as i64);
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn open_dm(&self, a: UserId, b: UserId, new_id: ChannelId) -> Result<ChannelRow> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let mut tx = self.writer.begin().await?;
        let existing: Option<i64> =
            sqlx::query("SELECT channel_id FROM dm_channels WHERE user_low = $1 AND user_high = $2")
                .bind(to_db(low))
                .bind(to_db(high))
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("channel_id"))
                .transpose()?;
        let id = match existing {
            Some(id) => from_db(id)?,
            None => {
                let row = ChannelRow {
                    id: new_id,
                    kind: 1,
                    guild_id: None,
                    name: None,
                    position: 0,
                    parent_id: None,
                    topic: None,
                    nsfw: false,
                    rate_limit_per_user: 0,
                    bitrate: 0,
                    user_limit: 0,
                    last_message_id: None,
                    last_pin_at: None,
                };
                insert_channel(&mut *tx, &row).await?;
                sqlx::query("INSERT INTO dm_channels (user_low, user_high, channel_id) VALUES ($1, $2, $3)")
                    .bind(to_db(low))
                    .bind(to_db(high))
                    .bind(to_db(new_id))
                    .execute(&mut *tx)
                    .await
                    .map_err(crate::sql::conflict("dm channel"))?;
                new_id
            }
        };
        let row = sqlx::query(&format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"))
            .bind(to_db(id))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        channel_row(&row)
    }

    async fn dm_recipients(&self, channel: ChannelId) -> Result<Vec<UserId>> {
        let row = sqlx::query("SELECT user_low, user_high FROM dm_channels WHERE channel_id = $1")
            .bind(to_db(channel))
            .fetch_optional(&self.reader)
            .await?;
        match row {
            Some(r) => Ok(vec![from_db(r.try_get("user_low")?)?, from_db(r.try_get("user_high")?)?]),
            None => Ok(Vec::new()),
        }
    }

    async fn dm_channels(&self, user: UserId) -> Result<Vec<(ChannelRow, UserId)>> {
        let rows = sqlx::query(&format!(
            "SELECT {CHANNEL_COLUMNS}, user_low, user_high FROM channels
             JOIN dm_channels ON dm_channels.channel_id = channels.id
             WHERE user_low = $1 OR user_high = $1"
        ))
        .bind(to_db(user))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let low: UserId = from_db(r.try_get("user_low")?)?;
                let high: UserId = from_db(r.try_get("user_high")?)?;
                Ok((channel_row(r)?, if low == user { high } else { low }))
            })
            .collect()
    }
}
