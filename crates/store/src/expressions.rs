//! A guild's expressions: custom emojis and stickers. Their images are not
//! here but in the media store (`media::Key::emoji`, `media::Key::sticker`),
//! under keys built from the row's id and format.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::sql::{placeholders, Backend, SqlStore};
use crate::{from_db, opt_from_db, to_db, EmojiId, GuildId, Result, RoleId, StickerId, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmojiRow {
    pub id: EmojiId,
    pub guild_id: GuildId,
    pub name: String,
    /// Who uploaded it (`None` once their account is gone).
    pub user_id: Option<UserId>,
    /// Roles allowed to use it; empty: everyone.
    pub roles: Vec<RoleId>,
    pub require_colons: bool,
    pub managed: bool,
    pub animated: bool,
    pub available: bool,
    /// The stored image's extension (`png`, `jpg`, `gif`, `webp`).
    pub format: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickerRow {
    pub id: StickerId,
    pub guild_id: GuildId,
    pub name: String,
    pub description: Option<String>,
    pub tags: String,
    /// 1 PNG, 2 APNG, 3 Lottie, 4 GIF.
    pub format_type: u8,
    pub available: bool,
    pub user_id: Option<UserId>,
}

/// A sticker as a message keeps it: what it was when the message was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickerItemRow {
    pub id: StickerId,
    pub name: String,
    pub format_type: u8,
}

#[async_trait]
pub trait ExpressionStore: Send + Sync {
    /// A guild's emojis, oldest first.
    async fn emojis(&self, guild: GuildId) -> Result<Vec<EmojiRow>>;
    /// Those of `ids` that exist, in any guild.
    async fn emojis_by_id(&self, ids: &[EmojiId]) -> Result<Vec<EmojiRow>>;
    /// Creates the emoji unless the guild already has `max` emojis of its
    /// kind (animated or not): then `false`, and nothing is written. Counted
    /// in the same transaction as the insert.
    async fn create_emoji(&self, emoji: &EmojiRow, max: usize, audit: &AuditEntry) -> Result<bool>;
    /// Replaces the name and roles; `false` if it no longer exists.
    async fn update_emoji(&self, emoji: &EmojiRow, audit: &AuditEntry) -> Result<bool>;
    /// `false` if it did not exist.
    async fn delete_emoji(&self, guild: GuildId, id: EmojiId, audit: &AuditEntry) -> Result<bool>;

    /// A guild's stickers, oldest first.
    async fn stickers(&self, guild: GuildId) -> Result<Vec<StickerRow>>;
    /// Those of `ids` that exist, in any guild.
    async fn stickers_by_id(&self, ids: &[StickerId]) -> Result<Vec<StickerRow>>;
    /// Creates the sticker unless the guild already has `max`; counted in
    /// the same transaction as the insert.
    async fn create_sticker(&self, sticker: &StickerRow, max: usize, audit: &AuditEntry) -> Result<bool>;
    /// Replaces name, description and tags; `false` if it no longer exists.
    async fn update_sticker(&self, sticker: &StickerRow, audit: &AuditEntry) -> Result<bool>;
    /// `false` if it did not exist.
    async fn delete_sticker(&self, guild: GuildId, id: StickerId, audit: &AuditEntry) -> Result<bool>;
}

const EMOJI_COLUMNS: &str = "id, guild_id, name, user_id, roles, require_colons, managed, animated, available, format";
const STICKER_COLUMNS: &str = "id, guild_id, name, description, tags, format_type, available, user_id";

/// A role whitelist as a JSON array of ids (as numbers).
fn roles_to_json(roles: &[RoleId]) -> String {
    serde_json::Value::from(roles.iter().map(|r| r.get()).collect::<Vec<_>>()).to_string()
}

fn emoji_row(r: &AnyRow) -> Result<EmojiRow> {
    let roles: Vec<u64> =
        serde_json::from_str(&r.try_get::<String, _>("roles")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(EmojiRow {
        id: from_db(r.try_get("id")?)?,
        guild_id: from_db(r.try_get("guild_id")?)?,
        name: r.try_get("name")?,
        user_id: opt_from_db(r.try_get("user_id")?)?,
        roles: roles
            .into_iter()
            .map(|n| RoleId::new_checked(n).ok_or_else(|| StoreError::Corrupt("zero id".into())))
            .collect::<Result<_>>()?,
        require_colons: r.try_get::<i64, _>("require_colons")? != 0,
        managed: r.try_get::<i64, _>("managed")? != 0,
        animated: r.try_get::<i64, _>("animated")? != 0,
        available: r.try_get::<i64, _>("available")? != 0,
        format: r.try_get("format")?,
    })
}

fn sticker_row(r: &AnyRow) -> Result<StickerRow> {
    Ok(StickerRow {
        id: from_db(r.try_get("id")?)?,
        guild_id: from_db(r.try_get("guild_id")?)?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        tags: r.try_get("tags")?,
        format_type: r.try_get::<i64, _>("format_type")? as u8,
        available: r.try_get::<i64, _>("available")? != 0,
        user_id: opt_from_db(r.try_get("user_id")?)?,
    })
}

/// `[{id, name, format_type}]`, ids as numbers, as `messages.sticker_items`
/// keeps them.
pub(crate) fn sticker_items_to_json(items: &[StickerItemRow]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|s| serde_json::json!({ "id": s.id.get(), "name": s.name, "format_type": s.format_type }))
        .collect();
    serde_json::Value::Array(items).to_string()
}

pub(crate) fn sticker_items_from_json(raw: &str) -> Result<Vec<StickerItemRow>> {
    let corrupt = || StoreError::Corrupt(format!("sticker items {raw}"));
    let items: Vec<serde_json::Value> = serde_json::from_str(raw).map_err(|_| corrupt())?;
    items
        .iter()
        .map(|i| {
            Ok(StickerItemRow {
                id: i["id"].as_u64().and_then(StickerId::new_checked).ok_or_else(corrupt)?,
                name: i["name"].as_str().ok_or_else(corrupt)?.to_owned(),
                format_type: i["format_type"].as_u64().and_then(|f| u8::try_from(f).ok()).ok_or_else(corrupt)?,
            })
        })
        .collect()
}

impl SqlStore {
    /// PostgreSQL runs creates side by side (SQLite has one writer): the
    /// guild's row, locked until commit, makes them count one at a time.
    async fn lock_guild(&self, tx: &mut sqlx::AnyConnection, guild: GuildId) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM guilds WHERE id = $1 FOR UPDATE")
                .bind(to_db(guild))
                .fetch_optional(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// Runs one change and, if it changed a row, its audit entry, in one
    /// transaction.
    async fn audited_change<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        Ok(self.execute_audited(query, Some(audit)).await? > 0)
    }
}

#[async_trait]
impl ExpressionStore for SqlStore {
    async fn emojis(&self, guild: GuildId) -> Result<Vec<EmojiRow>> {
        let rows = sqlx::query(&format!("SELECT {EMOJI_COLUMNS} FROM emojis WHERE guild_id = $1 ORDER BY id"))
            .bind(to_db(guild))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(emoji_row).collect()
    }

    async fn emojis_by_id(&self, ids: &[EmojiId]) -> Result<Vec<EmojiRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {EMOJI_COLUMNS} FROM emojis WHERE id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.reader).await?.iter().map(emoji_row).collect()
    }

    async fn create_emoji(&self, e: &EmojiRow, max: usize, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        self.lock_guild(&mut tx, e.guild_id).await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM emojis WHERE guild_id = $1 AND animated = $2")
            .bind(to_db(e.guild_id))
            .bind(i64::from(e.animated))
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count as usize >= max {
            return Ok(false);
        }
        sqlx::query(&format!("INSERT INTO emojis ({EMOJI_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
            .bind(to_db(e.id))
            .bind(to_db(e.guild_id))
            .bind(&e.name)
            .bind(e.user_id.map(to_db))
            .bind(roles_to_json(&e.roles))
            .bind(i64::from(e.require_colons))
            .bind(i64::from(e.managed))
            .bind(i64::from(e.animated))
            .bind(i64::from(e.available))
            .bind(&e.format)
            .execute(&mut *tx)
            .await?;
        record(&mut *tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_emoji(&self, e: &EmojiRow, audit: &AuditEntry) -> Result<bool> {
        let query = sqlx::query("UPDATE emojis SET name = $3, roles = $4 WHERE guild_id = $1 AND id = $2")
            .bind(to_db(e.guild_id))
            .bind(to_db(e.id))
            .bind(&e.name)
            .bind(roles_to_json(&e.roles));
        self.audited_change(query, audit).await
    }

    async fn delete_emoji(&self, guild: GuildId, id: EmojiId, audit: &AuditEntry) -> Result<bool> {
        let query =
            sqlx::query("DELETE FROM emojis WHERE guild_id = $1 AND id = $2").bind(to_db(guild)).bind(to_db(id));
        self.audited_change(query, audit).await
    }

    async fn stickers(&self, guild: GuildId) -> Result<Vec<StickerRow>> {
        let rows = sqlx::query(&format!("SELECT {STICKER_COLUMNS} FROM stickers WHERE guild_id = $1 ORDER BY id"))
            .bind(to_db(guild))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(sticker_row).collect()
    }

    async fn stickers_by_id(&self, ids: &[StickerId]) -> Result<Vec<StickerRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {STICKER_COLUMNS} FROM stickers WHERE id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.reader).await?.iter().map(sticker_row).collect()
    }

    async fn create_sticker(&self, s: &StickerRow, max: usize, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        self.lock_guild(&mut tx, s.guild_id).await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM stickers WHERE guild_id = $1")
            .bind(to_db(s.guild_id))
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count as usize >= max {
            return Ok(false);
        }
        sqlx::query(&format!("INSERT INTO stickers ({STICKER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(to_db(s.id))
            .bind(to_db(s.guild_id))
            .bind(&s.name)
            .bind(&s.description)
            .bind(&s.tags)
            .bind(i64::from(s.format_type))
            .bind(i64::from(s.available))
            .bind(s.user_id.map(to_db))
            .execute(&mut *tx)
            .await?;
        record(&mut *tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_sticker(&self, s: &StickerRow, audit: &AuditEntry) -> Result<bool> {
        let query =
            sqlx::query("UPDATE stickers SET name = $3, description = $4, tags = $5 WHERE guild_id = $1 AND id = $2")
                .bind(to_db(s.guild_id))
                .bind(to_db(s.id))
                .bind(&s.name)
                .bind(&s.description)
                .bind(&s.tags);
        self.audited_change(query, audit).await
    }

    async fn delete_sticker(&self, guild: GuildId, id: StickerId, audit: &AuditEntry) -> Result<bool> {
        let query =
            sqlx::query("DELETE FROM stickers WHERE guild_id = $1 AND id = $2").bind(to_db(guild)).bind(to_db(id));
        self.audited_change(query, audit).await
    }
}
