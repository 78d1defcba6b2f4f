//! Moderating members: edits, timeouts, kicks, bans.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::guilds::{GuildStore, MemberRow};
use crate::sql::SqlStore;
use crate::{from_db, to_db, ChannelId, GuildId, MessageId, Result, RoleId, StoreError, UserId};

#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    pub nick: Option<Option<String>>,
    pub roles: Option<Vec<RoleId>>,
    pub mute: Option<bool>,
    pub deaf: Option<bool>,
    pub communication_disabled_until: Option<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRow {
    pub guild_id: GuildId,
    pub user_id: UserId,
    pub reason: Option<String>,
    pub created_at: i64,
}

#[async_trait]
pub trait MemberStore: Send + Sync {
    async fn update_member(
        &self,
        guild: GuildId,
        user: UserId,
        patch: &MemberPatch,
        audit: &[AuditEntry],
    ) -> Result<MemberRow>;
    /// Removes a member as a moderator does; `false` if not a member.
    async fn kick(&self, guild: GuildId, user: UserId, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Bans (and removes) a user and deletes their messages in the guild
    /// newer than `delete_after`. Returns the deleted messages by channel.
    async fn ban(
        &self,
        ban: &BanRow,
        delete_after: Option<MessageId>,
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<(ChannelId, Vec<MessageId>)>>;
    async fn unban(&self, guild: GuildId, user: UserId, audit: Option<&AuditEntry>) -> Result<bool>;
    async fn ban_of(&self, guild: GuildId, user: UserId) -> Result<Option<BanRow>>;
    /// Bans ordered by user id, after `after` (or before `before`).
    async fn bans(
        &self,
        guild: GuildId,
        before: Option<UserId>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<BanRow>>;
    /// Members whose username, display name or nick starts with `query`.
    async fn search_members(&self, guild: GuildId, query: &str, limit: u32) -> Result<Vec<MemberRow>>;
}

fn ban_row(r: &AnyRow) -> Result<BanRow> {
    Ok(BanRow {
        guild_id: from_db(r.try_get("guild_id")?)?,
        user_id: from_db(r.try_get("user_id")?)?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl MemberStore for SqlStore {
    async fn update_member(
        &self,
        guild: GuildId,
        user: UserId,
        p: &MemberPatch,
        audit: &[AuditEntry],
    ) -> Result<MemberRow> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE members SET
                nick = CASE WHEN $3 = 1 THEN $4 ELSE nick END,
                mute = COALESCE($5, mute),
                deaf = COALESCE($6, deaf),
                communication_disabled_until = CASE WHEN $7 = 1 THEN $8 ELSE communication_disabled_until END
             WHERE guild_id = $1 AND user_id = $2",
        )
        .bind(to_db(guild))
        .bind(to_db(user))
        .bind(i64::from(p.nick.is_some()))
        .bind(p.nick.clone().flatten())
        .bind(p.mute.map(i64::from))
        .bind(p.deaf.map(i64::from))
        .bind(i64::from(p.communication_disabled_until.is_some()))
        .bind(p.communication_disabled_until.flatten())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(roles) = &p.roles {
            sqlx::query("DELETE FROM member_roles WHERE guild_id = $1 AND user_id = $2")
                .bind(to_db(guild))
                .bind(to_db(user))
                .execute(&mut *tx)
                .await?;
            for role in roles {
                sqlx::query(
                    "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(to_db(guild))
                .bind(to_db(user))
                .bind(to_db(*role))
                .execute(&mut *tx)
                .await?;
            }
        }
        for entry in audit {
            record(&mut *tx, Some(entry)).await?;
        }
        tx.commit().await?;
        self.member(guild, user).await?.ok_or(StoreError::NotFound)
    }

    async fn kick(&self, guild: GuildId, user: UserId, audit: Option<&AuditEntry>) -> Result<bool> {
        let query = sqlx::query("DELETE FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(to_db(guild))
            .bind(to_db(user));
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn ban(
        &self,
        ban: &BanRow,
        delete_after: Option<MessageId>,
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<(ChannelId, Vec<MessageId>)>> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO bans (guild_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason",
        )
        .bind(to_db(ban.guild_id))
        .bind(to_db(ban.user_id))
        .bind(&ban.reason)
        .bind(ban.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(to_db(ban.guild_id))
            .bind(to_db(ban.user_id))
            .execute(&mut *tx)
            .await?;
        let mut deleted: Vec<(ChannelId, Vec<MessageId>)> = Vec::new();
        if let Some(after) = delete_after {
            let rows = sqlx::query(
                "DELETE FROM messages WHERE author_id = $1 AND id > $2
                   AND channel_id IN (SELECT id FROM channels WHERE guild_id = $3)
                 RETURNING channel_id, id",
            )
            .bind(to_db(ban.user_id))
            .bind(to_db(after))
            .bind(to_db(ban.guild_id))
            .fetch_all(&mut *tx)
            .await?;
            for r in rows {
                let channel: ChannelId = from_db(r.try_get("channel_id")?)?;
                let id: MessageId = from_db(r.try_get("id")?)?;
                match deleted.iter_mut().find(|(c, _)| *c == channel) {
                    Some((_, ids)) => ids.push(id),
                    None => deleted.push((channel, vec![id])),
                }
            }
        }
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        for (_, ids) in &mut deleted {
            ids.sort();
        }
        Ok(deleted)
    }

    async fn unban(&self, guild: GuildId, user: UserId, audit: Option<&AuditEntry>) -> Result<bool> {
        let query =
            sqlx::query("DELETE FROM bans WHERE guild_id = $1 AND user_id = $2").bind(to_db(guild)).bind(to_db(user));
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn ban_of(&self, guild: GuildId, user: UserId) -> Result<Option<BanRow>> {
        let row =
            sqlx::query("SELECT guild_id, user_id, reason, created_at FROM bans WHERE guild_id = $1 AND user_id = $2")
                .bind(to_db(guild))
                .bind(to_db(user))
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(ban_row).transpose()
    }

    async fn bans(
        &self,
        guild: GuildId,
        before: Option<UserId>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<BanRow>> {
        let backwards = before.is_some() && after.is_none();
        let sql = format!(
            "SELECT guild_id, user_id, reason, created_at FROM bans
             WHERE guild_id = $1 AND user_id < $2 AND user_id > $3 ORDER BY user_id {} LIMIT $4",
            if backwards { "DESC" } else { "ASC" }
        );
        let rows = sqlx::query(&sql)
            .bind(to_db(guild))
            .bind(before.map_or(i64::MAX, to_db))
            .bind(after.map_or(0, to_db))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        let mut bans = rows.iter().map(ban_row).collect::<Result<Vec<_>>>()?;
        bans.sort_by_key(|b| b.user_id);
        Ok(bans)
    }

    async fn search_members(&self, guild: GuildId, query: &str, limit: u32) -> Result<Vec<MemberRow>> {
        let pattern =
            format!("{}%", query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let rows = sqlx::query(
            "SELECT m.user_id FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.guild_id = $1 AND (LOWER(u.username) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(u.global_name, '')) LIKE $2 ESCAPE '\\'
                    OR LOWER(COALESCE(m.nick, '')) LIKE $2 ESCAPE '\\')
             ORDER BY m.user_id LIMIT $3",
        )
        .bind(to_db(guild))
        .bind(&pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        let ids = rows.iter().map(|r| from_db(r.try_get("user_id")?)).collect::<Result<Vec<UserId>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        // A page is at most 1000 members: one lookup each keeps this simple.
        for id in ids {
            if let Some(m) = self.member(guild, id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }
}
