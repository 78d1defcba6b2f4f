//! Guilds and their members (their roles' rows are in `roles.rs`).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::channels::{insert_channel, ChannelRow};
use crate::roles::{insert_role, role_row, RoleRow, ROLE_COLUMNS};
use crate::sql::{placeholders, SqlStore};
use crate::{from_db, opt_from_db, to_db, ChannelId, GuildId, Result, RoleId, StoreError, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildRow {
    pub id: GuildId,
    pub name: String,
    pub icon: Option<String>,
    pub description: Option<String>,
    pub owner_id: UserId,
    pub afk_channel_id: Option<ChannelId>,
    pub afk_timeout: i64,
    pub system_channel_id: Option<ChannelId>,
    pub verification_level: i64,
    pub default_message_notifications: i64,
    pub explicit_content_filter: i64,
    pub preferred_locale: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub guild_id: GuildId,
    pub user_id: UserId,
    pub nick: Option<String>,
    pub roles: Vec<RoleId>,
    pub joined_at: i64,
    pub deaf: bool,
    pub mute: bool,
    pub communication_disabled_until: Option<i64>,
}

/// Everything a new guild starts with, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewGuild {
    pub guild: GuildRow,
    pub everyone: RoleRow,
    pub channels: Vec<ChannelRow>,
    pub owner: MemberRow,
}

#[derive(Debug, Clone, Default)]
pub struct GuildPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub icon: Option<Option<String>>,
    pub owner_id: Option<UserId>,
    pub afk_channel_id: Option<Option<ChannelId>>,
    pub afk_timeout: Option<i64>,
    pub system_channel_id: Option<Option<ChannelId>>,
    pub verification_level: Option<i64>,
    pub default_message_notifications: Option<i64>,
    pub explicit_content_filter: Option<i64>,
    pub preferred_locale: Option<String>,
}

impl GuildPatch {
    /// The row as it will be once this patch is stored.
    pub fn apply(&self, g: &mut GuildRow) {
        if let Some(v) = &self.name {
            g.name = v.clone();
        }
        if let Some(v) = &self.description {
            g.description = v.clone();
        }
        if let Some(v) = &self.icon {
            g.icon = v.clone();
        }
        if let Some(v) = self.owner_id {
            g.owner_id = v;
        }
        if let Some(v) = self.afk_channel_id {
            g.afk_channel_id = v;
        }
        if let Some(v) = self.afk_timeout {
            g.afk_timeout = v;
        }
        if let Some(v) = self.system_channel_id {
            g.system_channel_id = v;
        }
        if let Some(v) = self.verification_level {
            g.verification_level = v;
        }
        if let Some(v) = self.default_message_notifications {
            g.default_message_notifications = v;
        }
        if let Some(v) = self.explicit_content_filter {
            g.explicit_content_filter = v;
        }
        if let Some(v) = &self.preferred_locale {
            g.preferred_locale = v.clone();
        }
    }
}

#[async_trait]
pub trait GuildStore: Send + Sync {
    async fn create_guild(&self, new: &NewGuild) -> Result<()>;
    async fn guild(&self, id: GuildId) -> Result<Option<GuildRow>>;
    async fn update_guild(&self, id: GuildId, patch: &GuildPatch, audit: Option<&AuditEntry>) -> Result<GuildRow>;
    /// Deletes the guild and, by cascade, everything in it.
    async fn delete_guild(&self, id: GuildId) -> Result<bool>;
    /// The guilds `user` is a member of, oldest first.
    async fn guilds_of(&self, user: UserId) -> Result<Vec<GuildRow>>;
    async fn roles(&self, guild: GuildId) -> Result<Vec<RoleRow>>;
    async fn member(&self, guild: GuildId, user: UserId) -> Result<Option<MemberRow>>;
    /// Members ordered by user id, after `after`, at most `limit`.
    async fn members(&self, guild: GuildId, after: Option<UserId>, limit: u32) -> Result<Vec<MemberRow>>;
    async fn member_count(&self, guild: GuildId) -> Result<u64>;
    /// Adds a member; `false` if they already were one.
    async fn add_member(&self, member: &MemberRow, audit: Option<&AuditEntry>) -> Result<bool>;
    /// `false` if they were not a member.
    async fn remove_member(&self, guild: GuildId, user: UserId) -> Result<bool>;
}

const GUILD_COLUMNS: &str = "id, name, icon, description, owner_id, afk_channel_id, afk_timeout, system_channel_id, \
    verification_level, default_message_notifications, explicit_content_filter, preferred_locale, created_at";

fn guild_row(r: &AnyRow) -> Result<GuildRow> {
    Ok(GuildRow {
        id: from_db(r.try_get("id")?)?,
        name: r.try_get("name")?,
        icon: r.try_get("icon")?,
        description: r.try_get("description")?,
        owner_id: from_db(r.try_get("owner_id")?)?,
        afk_channel_id: opt_from_db(r.try_get("afk_channel_id")?)?,
        afk_timeout: r.try_get("afk_timeout")?,
        system_channel_id: opt_from_db(r.try_get("system_channel_id")?)?,
        verification_level: r.try_get("verification_level")?,
        default_message_notifications: r.try_get("default_message_notifications")?,
        explicit_content_filter: r.try_get("explicit_content_filter")?,
        preferred_locale: r.try_get("preferred_locale")?,
        created_at: r.try_get("created_at")?,
    })
}

const MEMBER_COLUMNS: &str =
    "m.guild_id, m.user_id, m.nick, m.joined_at, m.deaf, m.mute, m.communication_disabled_until";

fn member_row(r: &AnyRow) -> Result<MemberRow> {
    Ok(MemberRow {
        guild_id: from_db(r.try_get("guild_id")?)?,
        user_id: from_db(r.try_get("user_id")?)?,
        nick: r.try_get("nick")?,
        roles: Vec::new(),
        joined_at: r.try_get("joined_at")?,
        deaf: r.try_get::<i64, _>("deaf")? != 0,
        mute: r.try_get::<i64, _>("mute")? != 0,
        communication_disabled_until: r.try_get("communication_disabled_until")?,
    })
}

impl SqlStore {
    /// Fills in `roles` for members of one guild with a single query.
    async fn with_roles(&self, guild: GuildId, mut members: Vec<MemberRow>) -> Result<Vec<MemberRow>> {
        if members.is_empty() {
            return Ok(members);
        }
        let sql = format!(
            "SELECT user_id, role_id FROM member_roles WHERE guild_id = $1 AND user_id IN ({}) ORDER BY role_id",
            placeholders(2, members.len())
        );
        let mut q = sqlx::query(&sql).bind(to_db(guild));
        for m in &members {
            q = q.bind(to_db(m.user_id));
        }
        for r in q.fetch_all(&self.reader).await? {
            let user: UserId = from_db(r.try_get("user_id")?)?;
            let role: RoleId = from_db(r.try_get("role_id")?)?;
            if let Some(m) = members.iter_mut().find(|m| m.user_id == user) {
                m.roles.push(role);
            }
        }
        Ok(members)
    }
}

pub(crate) async fn insert_member<'c, E>(e: E, m: &MemberRow) -> Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let done = sqlx::query(
        "INSERT INTO members (guild_id, user_id, nick, joined_at, deaf, mute)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(to_db(m.guild_id))
    .bind(to_db(m.user_id))
    .bind(&m.nick)
    .bind(m.joined_at)
    .bind(i64::from(m.deaf))
    .bind(i64::from(m.mute))
    .execute(e)
    .await?;
    Ok(done.rows_affected() > 0)
}

#[async_trait]
impl GuildStore for SqlStore {
    async fn create_guild(&self, new: &NewGuild) -> Result<()> {
        let g = &new.guild;
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO guilds ({GUILD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(to_db(g.id))
        .bind(&g.name)
        .bind(&g.icon)
        .bind(&g.description)
        .bind(to_db(g.owner_id))
        .bind(g.afk_channel_id.map(to_db))
        .bind(g.afk_timeout)
        .bind(g.system_channel_id.map(to_db))
        .bind(g.verification_level)
        .bind(g.default_message_notifications)
        .bind(g.explicit_content_filter)
        .bind(&g.preferred_locale)
        .bind(g.created_at)
        .execute(&mut *tx)
        .await?;
        insert_role(&mut *tx, &new.everyone).await?;
        for c in &new.channels {
            insert_channel(&mut *tx, c).await?;
        }
        insert_member(&mut *tx, &new.owner).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn guild(&self, id: GuildId) -> Result<Option<GuildRow>> {
        let row = sqlx::query(&format!("SELECT {GUILD_COLUMNS} FROM guilds WHERE id = $1"))
            .bind(to_db(id))
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(guild_row).transpose()
    }

    async fn update_guild(&self, id: GuildId, p: &GuildPatch, audit: Option<&AuditEntry>) -> Result<GuildRow> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE guilds SET
                name = COALESCE($2, name),
                description = CASE WHEN $3 = 1 THEN $4 ELSE description END,
                icon = CASE WHEN $5 = 1 THEN $6 ELSE icon END,
                owner_id = COALESCE($7, owner_id),
                afk_channel_id = CASE WHEN $8 = 1 THEN $9 ELSE afk_channel_id END,
                afk_timeout = COALESCE($10, afk_timeout),
                system_channel_id = CASE WHEN $11 = 1 THEN $12 ELSE system_channel_id END,
                verification_level = COALESCE($13, verification_level),
                default_message_notifications = COALESCE($14, default_message_notifications),
                explicit_content_filter = COALESCE($15, explicit_content_filter),
                preferred_locale = COALESCE($16, preferred_locale)
             WHERE id = $1 RETURNING {GUILD_COLUMNS}"
        ))
        .bind(to_db(id))
        .bind(&p.name)
        .bind(i64::from(p.description.is_some()))
        .bind(p.description.clone().flatten())
        .bind(i64::from(p.icon.is_some()))
        .bind(p.icon.clone().flatten())
        .bind(p.owner_id.map(to_db))
        .bind(i64::from(p.afk_channel_id.is_some()))
        .bind(p.afk_channel_id.flatten().map(to_db))
        .bind(p.afk_timeout)
        .bind(i64::from(p.system_channel_id.is_some()))
        .bind(p.system_channel_id.flatten().map(to_db))
        .bind(p.verification_level)
        .bind(p.default_message_notifications)
        .bind(p.explicit_content_filter)
        .bind(&p.preferred_locale)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.as_ref().map(guild_row).transpose()?.ok_or(StoreError::NotFound)?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn delete_guild(&self, id: GuildId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM guilds WHERE id = $1").bind(to_db(id)).execute(&self.writer).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn guilds_of(&self, user: UserId) -> Result<Vec<GuildRow>> {
        let cols = GUILD_COLUMNS.split(", ").map(|c| format!("g.{c}")).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols} FROM members m JOIN guilds g ON g.id = m.guild_id WHERE m.user_id = $1 ORDER BY g.id"
        ))
        .bind(to_db(user))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(guild_row).collect()
    }

    async fn roles(&self, guild: GuildId) -> Result<Vec<RoleRow>> {
        let rows = sqlx::query(&format!("SELECT {ROLE_COLUMNS} FROM roles WHERE guild_id = $1 ORDER BY position, id"))
            .bind(to_db(guild))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(role_row).collect()
    }

    async fn member(&self, guild: GuildId, user: UserId) -> Result<Option<MemberRow>> {
        let row =
            sqlx::query(&format!("SELECT {MEMBER_COLUMNS} FROM members m WHERE m.guild_id = $1 AND m.user_id = $2"))
                .bind(to_db(guild))
                .bind(to_db(user))
                .fetch_optional(&self.reader)
                .await?;
        let Some(member) = row.as_ref().map(member_row).transpose()? else {
            return Ok(None);
        };
        Ok(self.with_roles(guild, vec![member]).await?.pop())
    }

    async fn members(&self, guild: GuildId, after: Option<UserId>, limit: u32) -> Result<Vec<MemberRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.guild_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"
        ))
        .bind(to_db(guild))
        .bind(after.map_or(0, to_db))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        let members = rows.iter().map(member_row).collect::<Result<Vec<_>>>()?;
        self.with_roles(guild, members).await
    }

    async fn member_count(&self, guild: GuildId) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM members WHERE guild_id = $1")
            .bind(to_db(guild))
            .fetch_one(&self.reader)
            .await?
            .try_get("n")?;
        Ok(n as u64)
    }

    async fn add_member(&self, member: &MemberRow, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let added = insert_member(&mut *tx, member).await?;
        if added {
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn remove_member(&self, guild: GuildId, user: UserId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(to_db(guild))
            .bind(to_db(user))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
