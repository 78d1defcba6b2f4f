//! AutoMod rules: what a guild's moderators asked to be checked in every
//! message, and what to do when a rule matches.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::sql::{Backend, SqlStore};
use crate::{from_db, to_db, AutoModRuleId, GuildId, Result, UserId};

/// One rule as stored. `trigger_metadata` (a JSON object), `actions`,
/// `exempt_roles` and `exempt_channels` (JSON arrays) are kept as the API
/// validated them; the API parses them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoModRuleRow {
    pub id: AutoModRuleId,
    pub guild_id: GuildId,
    pub creator_id: UserId,
    pub name: String,
    pub event_type: u8,
    pub trigger_type: u16,
    pub trigger_metadata: String,
    pub actions: String,
    pub enabled: bool,
    pub exempt_roles: String,
    pub exempt_channels: String,
}

#[async_trait]
pub trait AutoModStore: Send + Sync {
    /// A guild's rules, oldest first.
    async fn automod_rules(&self, guild: GuildId) -> Result<Vec<AutoModRuleRow>>;
    /// Creates the rule unless the guild already has `max_of_type` rules of
    /// its trigger type (then `false`, and nothing is written); counted in
    /// the same transaction as the insert.
    async fn create_automod_rule(&self, rule: &AutoModRuleRow, max_of_type: usize, audit: &AuditEntry) -> Result<bool>;
    /// Replaces a rule's fields; `false` if it no longer exists.
    async fn update_automod_rule(&self, rule: &AutoModRuleRow, audit: &AuditEntry) -> Result<bool>;
    /// `false` if it did not exist.
    async fn delete_automod_rule(&self, guild: GuildId, id: AutoModRuleId, audit: &AuditEntry) -> Result<bool>;
    /// Audit entries of what AutoMod did (blocked or flagged a message) that
    /// change nothing else.
    async fn automod_logged(&self, entries: &[AuditEntry]) -> Result<()>;
}

const COLUMNS: &str = "id, guild_id, creator_id, name, event_type, trigger_type, trigger_metadata, actions, enabled, \
    exempt_roles, exempt_channels";

fn rule_row(r: &AnyRow) -> Result<AutoModRuleRow> {
    Ok(AutoModRuleRow {
        id: from_db(r.try_get("id")?)?,
        guild_id: from_db(r.try_get("guild_id")?)?,
        creator_id: from_db(r.try_get("creator_id")?)?,
        name: r.try_get("name")?,
        event_type: r.try_get::<i64, _>("event_type")? as u8,
        trigger_type: r.try_get::<i64, _>("trigger_type")? as u16,
        trigger_metadata: r.try_get("trigger_metadata")?,
        actions: r.try_get("actions")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        exempt_roles: r.try_get("exempt_roles")?,
        exempt_channels: r.try_get("exempt_channels")?,
    })
}

#[async_trait]
impl AutoModStore for SqlStore {
    async fn automod_rules(&self, guild: GuildId) -> Result<Vec<AutoModRuleRow>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM automod_rules WHERE guild_id = $1 ORDER BY id"))
            .bind(to_db(guild))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(rule_row).collect()
    }

    async fn create_automod_rule(&self, rule: &AutoModRuleRow, max_of_type: usize, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        // PostgreSQL runs creates side by side (SQLite has one writer): the
        // guild's row, locked until commit, makes them count one at a time.
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM guilds WHERE id = $1 FOR UPDATE")
                .bind(to_db(rule.guild_id))
                .fetch_optional(&mut *tx)
                .await?;
        }
        let count: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM automod_rules WHERE guild_id = $1 AND trigger_type = $2")
                .bind(to_db(rule.guild_id))
                .bind(i64::from(rule.trigger_type))
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if count as usize >= max_of_type {
            return Ok(false);
        }
        sqlx::query(&format!(
            "INSERT INTO automod_rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(to_db(rule.id))
        .bind(to_db(rule.guild_id))
        .bind(to_db(rule.creator_id))
        .bind(&rule.name)
        .bind(i64::from(rule.event_type))
        .bind(i64::from(rule.trigger_type))
        .bind(&rule.trigger_metadata)
        .bind(&rule.actions)
        .bind(i64::from(rule.enabled))
        .bind(&rule.exempt_roles)
        .bind(&rule.exempt_channels)
        .execute(&mut *tx)
        .await?;
        record(&mut *tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_automod_rule(&self, rule: &AutoModRuleRow, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE automod_rules SET name = $3, event_type = $4, trigger_metadata = $5, actions = $6, enabled = $7,
                exempt_roles = $8, exempt_channels = $9
             WHERE guild_id = $1 AND id = $2",
        )
        .bind(to_db(rule.guild_id))
        .bind(to_db(rule.id))
        .bind(&rule.name)
        .bind(i64::from(rule.event_type))
        .bind(&rule.trigger_metadata)
        .bind(&rule.actions)
        .bind(i64::from(rule.enabled))
        .bind(&rule.exempt_roles)
        .bind(&rule.exempt_channels)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record(&mut *tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_automod_rule(&self, guild: GuildId, id: AutoModRuleId, audit: &AuditEntry) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM automod_rules WHERE guild_id = $1 AND id = $2")
            .bind(to_db(guild))
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        record(&mut *tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn automod_logged(&self, entries: &[AuditEntry]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for entry in entries {
            record(&mut *tx, Some(entry)).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
