//! Roles and which members have them.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::sql::SqlStore;
use crate::{from_db, to_db, GuildId, Result, RoleId, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub id: RoleId,
    pub guild_id: GuildId,
    pub name: String,
    pub permissions: u64,
    pub position: i64,
    pub color: i64,
    pub hoist: bool,
    pub mentionable: bool,
    pub managed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub permissions: Option<u64>,
    pub color: Option<i64>,
    pub hoist: Option<bool>,
    pub mentionable: Option<bool>,
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn create_role(&self, role: &RoleRow, audit: Option<&AuditEntry>) -> Result<()>;
    async fn update_role(
        &self,
        guild: GuildId,
        id: RoleId,
        patch: &RolePatch,
        audit: Option<&AuditEntry>,
    ) -> Result<RoleRow>;
    /// Deletes the role; members lose it.
    async fn delete_role(&self, guild: GuildId, id: RoleId, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Sets the positions of the given roles, all or none.
    async fn set_role_positions(&self, guild: GuildId, positions: &[(RoleId, i64)], audit: &[AuditEntry])
        -> Result<()>;
    /// `false` if the member already had it.
    async fn add_member_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        audit: Option<&AuditEntry>,
    ) -> Result<bool>;
    /// `false` if the member did not have it.
    async fn remove_member_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        audit: Option<&AuditEntry>,
    ) -> Result<bool>;
}

pub(crate) fn role_row(r: &AnyRow) -> Result<RoleRow> {
    Ok(RoleRow {
        id: from_db(r.try_get("id")?)?,
        guild_id: from_db(r.try_get("guild_id")?)?,
        name: r.try_get("name")?,
        permissions: r.try_get::<i64, _>("permissions")? as u64,
        position: r.try_get("position")?,
        color: r.try_get("color")?,
        hoist: r.try_get::<i64, _>("hoist")? != 0,
        mentionable: r.try_get::<i64, _>("mentionable")? != 0,
        managed: r.try_get::<i64, _>("managed")? != 0,
    })
}

pub(crate) const ROLE_COLUMNS: &str = "id, guild_id, name, permissions, position, color, hoist, mentionable, managed";

pub(crate) async fn insert_role<'c, E>(e: E, r: &RoleRow) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(&format!("INSERT INTO roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(to_db(r.id))
        .bind(to_db(r.guild_id))
        .bind(&r.name)
        .bind(r.permissions as i64)
        .bind(r.position)
        .bind(r.color)
        .bind(i64::from(r.hoist))
        .bind(i64::from(r.mentionable))
        .bind(i64::from(r.managed))
        .execute(e)
        .await?;
    Ok(())
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(&self, role: &RoleRow, audit: Option<&AuditEntry>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_role(&mut *tx, role).await?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_role(
        &self,
        guild: GuildId,
        id: RoleId,
        p: &RolePatch,
        audit: Option<&AuditEntry>,
    ) -> Result<RoleRow> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE roles SET name = COALESCE($3, name), permissions = COALESCE($4, permissions),
                color = COALESCE($5, color), hoist = COALESCE($6, hoist), mentionable = COALESCE($7, mentionable)
             WHERE guild_id = $1 AND id = $2 RETURNING {ROLE_COLUMNS}"
        ))
        .bind(to_db(guild))
        .bind(to_db(id))
        .bind(&p.name)
        .bind(p.permissions.map(|x| x as i64))
        .bind(p.color)
        .bind(p.hoist.map(i64::from))
        .bind(p.mentionable.map(i64::from))
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.as_ref().map(role_row).transpose()?.ok_or(StoreError::NotFound)?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn delete_role(&self, guild: GuildId, id: RoleId, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM member_roles WHERE guild_id = $1 AND role_id = $2")
            .bind(to_db(guild))
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM channel_overwrites WHERE target_id = $1 AND kind = 0")
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM roles WHERE guild_id = $1 AND id = $2")
            .bind(to_db(guild))
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_role_positions(
        &self,
        guild: GuildId,
        positions: &[(RoleId, i64)],
        audit: &[AuditEntry],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for (id, position) in positions {
            let done = sqlx::query("UPDATE roles SET position = $3 WHERE guild_id = $1 AND id = $2")
                .bind(to_db(guild))
                .bind(to_db(*id))
                .bind(*position)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        }
        for entry in audit {
            record(&mut *tx, Some(entry)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_member_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        let query = sqlx::query(
            "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(to_db(guild))
        .bind(to_db(user))
        .bind(to_db(role));
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn remove_member_role(
        &self,
        guild: GuildId,
        user: UserId,
        role: RoleId,
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        let query = sqlx::query("DELETE FROM member_roles WHERE guild_id = $1 AND user_id = $2 AND role_id = $3")
            .bind(to_db(guild))
            .bind(to_db(user))
            .bind(to_db(role));
        Ok(self.execute_audited(query, audit).await? > 0)
    }
}
