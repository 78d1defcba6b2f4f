//! Files uploaded ahead of their message (`POST /channels/{id}/attachments`):
//! a row per file until a message claims it or it expires.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::{placeholders, SqlStore};
use crate::{from_db, to_db, AttachmentId, ChannelId, Result, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The attachment id the file keeps once a message claims it.
    pub id: AttachmentId,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    /// Sanitised by the server.
    pub filename: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    async fn create_upload(&self, row: &UploadRow) -> Result<()>;
    /// Those of `ids` uploaded to `channel` since `since` (unix ms), by
    /// `user` when one is given.
    async fn uploads(
        &self,
        channel: ChannelId,
        user: Option<UserId>,
        ids: &[AttachmentId],
        since: i64,
    ) -> Result<Vec<UploadRow>>;
    /// Claims those of `ids` uploaded to `channel` by `user` since `since`:
    /// their rows are deleted and answered, in one statement, so two
    /// messages never claim the same file.
    async fn take_uploads(
        &self,
        channel: ChannelId,
        user: UserId,
        ids: &[AttachmentId],
        since: i64,
    ) -> Result<Vec<UploadRow>>;
    /// Forgets the rows of `ids` (swept).
    async fn delete_uploads(&self, ids: &[AttachmentId]) -> Result<()>;
    /// Up to `limit` uploads made before `before` (unix ms), oldest first.
    async fn expired_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRow>>;
    /// Files to delete at `due_at` (unix ms), named as `domain::files`
    /// spells them; one already queued keeps its first time.
    async fn queue_deletions(&self, targets: &[String], due_at: i64) -> Result<()>;
    /// Up to `limit` queued deletions due at `now` (unix ms), soonest first.
    async fn due_deletions(&self, now: i64, limit: u32) -> Result<Vec<String>>;
    /// Forgets queued deletions that were carried out.
    async fn forget_deletions(&self, targets: &[String]) -> Result<()>;
}

fn upload_row(r: &AnyRow) -> Result<UploadRow> {
    Ok(UploadRow {
        id: from_db(r.try_get("id")?)?,
        channel_id: from_db(r.try_get("channel_id")?)?,
        user_id: from_db(r.try_get("user_id")?)?,
        filename: r.try_get("filename")?,
        created_at: r.try_get("created_at")?,
    })
}

impl SqlStore {
    /// `head` (a SELECT or DELETE) over the rows of `ids` uploaded to
    /// `channel` since `since`, by `user` when one is given; `tail` after.
    async fn matching_uploads(
        &self,
        head: &str,
        tail: &str,
        channel: ChannelId,
        user: Option<UserId>,
        ids: &[AttachmentId],
        since: i64,
    ) -> Result<Vec<UploadRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{head} WHERE channel_id = $1 AND ($2 = 0 OR user_id = $2) AND created_at >= $3 AND id IN ({}) {tail}",
            placeholders(4, ids.len())
        );
        let mut q = sqlx::query(&sql).bind(to_db(channel)).bind(user.map_or(0, to_db)).bind(since);
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.writer).await?.iter().map(upload_row).collect()
    }
}

#[async_trait]
impl UploadStore for SqlStore {
    async fn create_upload(&self, row: &UploadRow) -> Result<()> {
        sqlx::query("INSERT INTO uploads (id, channel_id, user_id, filename, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(to_db(row.id))
            .bind(to_db(row.channel_id))
            .bind(to_db(row.user_id))
            .bind(&row.filename)
            .bind(row.created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn uploads(
        &self,
        channel: ChannelId,
        user: Option<UserId>,
        ids: &[AttachmentId],
        since: i64,
    ) -> Result<Vec<UploadRow>> {
        let select = "SELECT id, channel_id, user_id, filename, created_at FROM uploads";
        self.matching_uploads(select, "", channel, user, ids, since).await
    }

    async fn take_uploads(
        &self,
        channel: ChannelId,
        user: UserId,
        ids: &[AttachmentId],
        since: i64,
    ) -> Result<Vec<UploadRow>> {
        let returning = "RETURNING id, channel_id, user_id, filename, created_at";
        self.matching_uploads("DELETE FROM uploads", returning, channel, Some(user), ids, since).await
    }

    async fn delete_uploads(&self, ids: &[AttachmentId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM uploads WHERE id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.execute(&self.writer).await?;
        Ok(())
    }

    async fn queue_deletions(&self, targets: &[String], due_at: i64) -> Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = (0..targets.len()).map(|i| format!("(${}, $1)", i + 2)).collect();
        let sql = format!(
            "INSERT INTO media_deletions (target, due_at) VALUES {} ON CONFLICT (target) DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(due_at);
        for t in targets {
            q = q.bind(t);
        }
        q.execute(&self.writer).await?;
        Ok(())
    }

    async fn due_deletions(&self, now: i64, limit: u32) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT target FROM media_deletions WHERE due_at <= $1 ORDER BY due_at LIMIT $2")
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("target")?)).collect()
    }

    async fn forget_deletions(&self, targets: &[String]) -> Result<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM media_deletions WHERE target IN ({})", placeholders(1, targets.len()));
        let mut q = sqlx::query(&sql);
        for t in targets {
            q = q.bind(t);
        }
        q.execute(&self.writer).await?;
        Ok(())
    }

    async fn expired_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRow>> {
        sqlx::query(
            "SELECT id, channel_id, user_id, filename, created_at FROM uploads
             WHERE created_at < $1 ORDER BY created_at LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(upload_row)
        .collect()
    }
}
