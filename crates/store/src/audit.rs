//! The audit log: who did what to whom, and why.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
use crate::{from_db, opt_from_db, to_db, GuildId, Result, UserId};

/// One administrative action. `changes` is a JSON array of
/// `{key, old_value, new_value}`, `options` a JSON object, as Discord has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: u64,
    pub guild_id: GuildId,
    pub user_id: Option<UserId>,
    pub target_id: Option<u64>,
    pub action_type: u16,
    pub changes: Option<String>,
    pub options: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AuditQuery {
    pub user_id: Option<UserId>,
    pub target_id: Option<u64>,
    pub action_type: Option<u16>,
    pub before: Option<u64>,
    pub after: Option<u64>,
    pub limit: u32,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Entries newest first (oldest first with `after`, as Discord does).
    async fn audit_log(&self, guild: GuildId, query: AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// Writes `entry` inside the caller's transaction.
pub(crate) async fn record<'c, E>(e: E, entry: Option<&AuditEntry>) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let Some(a) = entry else { return Ok(()) };
    sqlx::query(
        "INSERT INTO audit_log (id, guild_id, user_id, target_id, action_type, changes, options, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.id as i64)
    .bind(to_db(a.guild_id))
    .bind(a.user_id.map(to_db))
    .bind(a.target_id.map(|t| t as i64))
    .bind(i64::from(a.action_type))
    .bind(&a.changes)
    .bind(&a.options)
    .bind(&a.reason)
    .execute(e)
    .await?;
    Ok(())
}

fn audit_row(r: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.try_get::<i64, _>("id")? as u64,
        guild_id: from_db(r.try_get("guild_id")?)?,
        user_id: opt_from_db(r.try_get("user_id")?)?,
        target_id: r.try_get::<Option<i64>, _>("target_id")?.map(|t| t as u64),
        action_type: r.try_get::<i64, _>("action_type")? as u16,
        changes: r.try_get("changes")?,
        options: r.try_get("options")?,
        reason: r.try_get("reason")?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn audit_log(&self, guild: GuildId, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        let ascending = q.after.is_some() && q.before.is_none();
        let sql = format!(
            "SELECT id, guild_id, user_id, target_id, action_type, changes, options, reason FROM audit_log
             WHERE guild_id = $1 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR action_type = $3)
               AND id < $4 AND id > $5 AND ($7 IS NULL OR target_id = $7)
             ORDER BY id {} LIMIT $6",
            if ascending { "ASC" } else { "DESC" }
        );
        let rows = sqlx::query(&sql)
            .bind(to_db(guild))
            .bind(q.user_id.map(to_db))
            .bind(q.action_type.map(i64::from))
            .bind(q.before.map_or(i64::MAX, |b| b as i64))
            .bind(q.after.map_or(0, |a| a as i64))
            .bind(i64::from(q.limit))
            .bind(q.target_id.map(|t| t as i64))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(audit_row).collect()
    }
}

impl SqlStore {
    /// Runs one statement and, if it changed a row, records `audit` with it
    /// in the same transaction. Returns the rows changed.
    pub(crate) async fn execute_audited<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        audit: Option<&AuditEntry>,
    ) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected();
        if changed > 0 {
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}
