//! Guild invites and joining by them.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::guilds::{insert_member, MemberRow};
use crate::sql::SqlStore;
use crate::{from_db, opt_from_db, to_db, ChannelId, GuildId, Result, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub code: String,
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub inviter_id: Option<UserId>,
    /// Seconds; 0 never expires.
    pub max_age: i64,
    /// 0 is unlimited.
    pub max_uses: i64,
    pub uses: i64,
    pub temporary: bool,
    pub created_at: i64,
}

impl InviteRow {
    pub fn expires_at(&self) -> Option<i64> {
        (self.max_age > 0).then(|| self.created_at + self.max_age * 1000)
    }

    /// Still usable at `now`: not expired, not used up.
    pub fn is_live(&self, now: i64) -> bool {
        self.expires_at().is_none_or(|t| now < t) && (self.max_uses == 0 || self.uses < self.max_uses)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined(InviteRow),
    AlreadyMember(InviteRow),
    /// Unknown, expired or used up.
    Invalid,
    /// The user is banned from the invite's guild.
    Banned,
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    /// Fails with `Conflict("invite")` if the code is taken.
    async fn create_invite(&self, invite: &InviteRow, audit: Option<&AuditEntry>) -> Result<()>;
    /// Any invite with this code, live or not.
    async fn invite(&self, code: &str) -> Result<Option<InviteRow>>;
    /// Live invites of a channel, or of a guild, at `now`.
    async fn channel_invites(&self, channel: ChannelId, now: i64) -> Result<Vec<InviteRow>>;
    async fn guild_invites(&self, guild: GuildId, now: i64) -> Result<Vec<InviteRow>>;
    async fn delete_invite(&self, code: &str, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Checks the invite and adds the member in one transaction, so an
    /// invite with `max_uses` is never used more often than that.
    async fn join_by_invite(&self, code: &str, user: UserId, now: i64) -> Result<JoinOutcome>;
}

const COLUMNS: &str = "code, guild_id, channel_id, inviter_id, max_age, max_uses, uses, temporary, created_at";

fn invite_row(r: &AnyRow) -> Result<InviteRow> {
    Ok(InviteRow {
        code: r.try_get("code")?,
        guild_id: from_db(r.try_get("guild_id")?)?,
        channel_id: from_db(r.try_get("channel_id")?)?,
        inviter_id: opt_from_db(r.try_get("inviter_id")?)?,
        max_age: r.try_get("max_age")?,
        max_uses: r.try_get("max_uses")?,
        uses: r.try_get("uses")?,
        temporary: r.try_get::<i64, _>("temporary")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

const LIVE: &str = "(max_age = 0 OR created_at + max_age * 1000 > $2) AND (max_uses = 0 OR uses < max_uses)";

#[async_trait]
impl InviteStore for SqlStore {
    async fn create_invite(&self, i: &InviteRow, audit: Option<&AuditEntry>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(&format!("INSERT INTO invites ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&i.code)
            .bind(to_db(i.guild_id))
            .bind(to_db(i.channel_id))
            .bind(i.inviter_id.map(to_db))
            .bind(i.max_age)
            .bind(i.max_uses)
            .bind(i.uses)
            .bind(i64::from(i.temporary))
            .bind(i.created_at)
            .execute(&mut *tx)
            .await
            .map_err(crate::sql::conflict("invite"))?;
        record(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invite(&self, code: &str) -> Result<Option<InviteRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invites WHERE code = $1"))
            .bind(code)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(invite_row).transpose()
    }

    async fn channel_invites(&self, channel: ChannelId, now: i64) -> Result<Vec<InviteRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invites WHERE channel_id = $1 AND {LIVE} ORDER BY created_at, code"
        ))
        .bind(to_db(channel))
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(invite_row).collect()
    }

    async fn guild_invites(&self, guild: GuildId, now: i64) -> Result<Vec<InviteRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invites WHERE guild_id = $1 AND {LIVE} ORDER BY created_at, code"
        ))
        .bind(to_db(guild))
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(invite_row).collect()
    }

    async fn delete_invite(&self, code: &str, audit: Option<&AuditEntry>) -> Result<bool> {
        let query = sqlx::query("DELETE FROM invites WHERE code = $1").bind(code);
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn join_by_invite(&self, code: &str, user: UserId, now: i64) -> Result<JoinOutcome> {
        let mut tx = self.writer.begin().await?;
        // Taking a use first locks the row (PostgreSQL) so concurrent joins
        // cannot both pass the max_uses check.
        let taken =
            sqlx::query(&format!("UPDATE invites SET uses = uses + 1 WHERE code = $1 AND {LIVE} RETURNING {COLUMNS}"))
                .bind(code)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(invite) = taken.as_ref().map(invite_row).transpose()? else {
            return Ok(JoinOutcome::Invalid);
        };
        let banned = sqlx::query("SELECT 1 AS b FROM bans WHERE guild_id = $1 AND user_id = $2")
            .bind(to_db(invite.guild_id))
            .bind(to_db(user))
            .fetch_optional(&mut *tx)
            .await?;
        if banned.is_some() {
            return Ok(JoinOutcome::Banned);
        }
        let member = MemberRow {
            guild_id: invite.guild_id,
            user_id: user,
            nick: None,
            roles: Vec::new(),
            joined_at: now,
            deaf: false,
            mute: false,
            communication_disabled_until: None,
        };
        if !insert_member(&mut *tx, &member).await? {
            // Already a member: the use is given back (the transaction is
            // rolled back when dropped).
            let mut invite = invite;
            invite.uses -= 1;
            return Ok(JoinOutcome::AlreadyMember(invite));
        }
        if invite.max_uses > 0 && invite.uses >= invite.max_uses {
            sqlx::query("DELETE FROM invites WHERE code = $1").bind(code).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(JoinOutcome::Joined(invite))
    }
}
