//! Read states: how far a user has read a channel, and how many times they
//! were mentioned in it since.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::messages::{GuildMentions, MessageRow};
use crate::sql::SqlStore;
use crate::users::placeholders;
use crate::{from_db, opt_from_db, to_db, ChannelId, MessageId, Result, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStateRow {
    pub channel_id: ChannelId,
    /// `None` before anything was read.
    pub last_message_id: Option<MessageId>,
    pub mention_count: i64,
}

#[async_trait]
pub trait ReadStateStore: Send + Sync {
    async fn read_states(&self, user: UserId) -> Result<Vec<ReadStateRow>>;
    /// Marks `channel` read up to `message`. Without `manual`, a read state
    /// only moves forward and its mentions are cleared; with it (marking
    /// unread), it is set as given.
    async fn ack(
        &self,
        user: UserId,
        channel: ChannelId,
        message: MessageId,
        mention_count: i64,
        manual: bool,
    ) -> Result<ReadStateRow>;
}

fn read_state_row(r: &AnyRow) -> Result<ReadStateRow> {
    let last: i64 = r.try_get("last_message_id")?;
    Ok(ReadStateRow {
        channel_id: from_db(r.try_get("channel_id")?)?,
        last_message_id: opt_from_db((last != 0).then_some(last))?,
        mention_count: r.try_get("mention_count")?,
    })
}

/// Counts a mention for each of `users` in `channel` (inside the
/// transaction that stores the message).
pub(crate) async fn count_mentions(conn: &mut sqlx::AnyConnection, channel: ChannelId, users: &[UserId]) -> Result<()> {
    for user in users {
        sqlx::query(&format!("INSERT INTO read_states {COUNT_COLUMNS} VALUES ($1, $2, 0, 1) {BUMP}"))
            .bind(to_db(*user))
            .bind(to_db(channel))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

const COUNT_COLUMNS: &str = "(user_id, channel_id, last_message_id, mention_count)";
const BUMP: &str = "ON CONFLICT (user_id, channel_id) DO UPDATE SET mention_count = read_states.mention_count + 1";

/// Counts one mention for everyone a new message mentions, once each, its
/// author aside: the users it names, the holders of the roles it names, and
/// with @everyone every member who may view the channel (with only @here,
/// those of them connected now, as the caller found them). In the
/// common case (every member may view it) one `INSERT … SELECT` does it in
/// the database, however large the guild; for a channel hidden from some,
/// the role holders are read and kept to the given viewers.
pub(crate) async fn count_message_mentions(
    conn: &mut sqlx::AnyConnection,
    m: &MessageRow,
    guild: Option<&GuildMentions>,
) -> Result<()> {
    // Someone who cannot see the channel gets no count (nor a read state)
    // for it, whatever the message names.
    let sees = |u: &UserId| guild.and_then(|g| g.viewers.as_ref()).is_none_or(|v| v.contains(u));
    let direct: Vec<UserId> = m.mentions.iter().copied().filter(|u| *u != m.author_id && sees(u)).collect();
    let Some(guild) = guild.filter(|_| m.mention_everyone || !m.mention_roles.is_empty()) else {
        return count_mentions(conn, m.channel_id, &direct).await;
    };
    let (g, channel, author) = (to_db(guild.guild), to_db(m.channel_id), to_db(m.author_id));
    let roles = m.mention_roles.iter().map(|r| to_db(*r));
    let here = guild.online.as_ref().filter(|_| m.mention_everyone);
    if guild.viewers.is_some() || here.is_some() {
        let mut users: Vec<UserId> = match (&guild.viewers, here) {
            (Some(viewers), None) if m.mention_everyone => viewers.clone(),
            _ => {
                let mut users = direct;
                users.extend(here.into_iter().flatten().copied().filter(sees));
                if !m.mention_roles.is_empty() {
                    let sql = format!(
                        "SELECT DISTINCT user_id FROM member_roles WHERE guild_id = $1 AND role_id IN ({})",
                        placeholders(2, m.mention_roles.len())
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(g);
                    for r in roles {
                        q = q.bind(r);
                    }
                    let holders =
                        q.fetch_all(&mut *conn).await?.into_iter().map(from_db).collect::<Result<Vec<UserId>>>()?;
                    users.extend(holders.into_iter().filter(sees));
                }
                users
            }
        };
        users.retain(|u| *u != m.author_id);
        users.sort();
        users.dedup();
        return count_mentions(conn, m.channel_id, &users).await;
    }
    let sql = if m.mention_everyone {
        format!(
            "INSERT INTO read_states {COUNT_COLUMNS}
             SELECT user_id, $2, 0, 1 FROM members WHERE guild_id = $1 AND user_id <> $3 {BUMP}"
        )
    } else {
        let roles_at = 4;
        let direct_at = roles_at + m.mention_roles.len();
        let named = if direct.is_empty() {
            String::new()
        } else {
            format!(
                " UNION SELECT user_id FROM members WHERE guild_id = $1 AND user_id IN ({})",
                placeholders(direct_at, direct.len())
            )
        };
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join's.
        format!(
            "INSERT INTO read_states {COUNT_COLUMNS}
             SELECT user_id, $2, 0, 1 FROM (
                SELECT user_id FROM member_roles WHERE guild_id = $1 AND role_id IN ({}){named}
             ) AS mentioned WHERE user_id <> $3 {BUMP}",
            placeholders(roles_at, m.mention_roles.len())
        )
    };
    let mut q = sqlx::query(&sql).bind(g).bind(channel).bind(author);
    if !m.mention_everyone {
        for r in roles {
            q = q.bind(r);
        }
        for u in &direct {
            q = q.bind(to_db(*u));
        }
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

#[async_trait]
impl ReadStateStore for SqlStore {
    async fn read_states(&self, user: UserId) -> Result<Vec<ReadStateRow>> {
        let rows = sqlx::query(
            "SELECT channel_id, last_message_id, mention_count FROM read_states WHERE user_id = $1 ORDER BY channel_id",
        )
        .bind(to_db(user))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(read_state_row).collect()
    }

    async fn ack(
        &self,
        user: UserId,
        channel: ChannelId,
        message: MessageId,
        mention_count: i64,
        manual: bool,
    ) -> Result<ReadStateRow> {
        let sql = if manual {
            "INSERT INTO read_states (user_id, channel_id, last_message_id, mention_count) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, channel_id) DO UPDATE
             SET last_message_id = excluded.last_message_id, mention_count = excluded.mention_count
             RETURNING channel_id, last_message_id, mention_count"
        } else {
            "INSERT INTO read_states (user_id, channel_id, last_message_id, mention_count) VALUES ($1, $2, $3, 0)
             ON CONFLICT (user_id, channel_id) DO UPDATE
             SET last_message_id = CASE WHEN read_states.last_message_id > excluded.last_message_id
                                        THEN read_states.last_message_id ELSE excluded.last_message_id END,
                 mention_count = 0
             RETURNING channel_id, last_message_id, mention_count"
        };
        let mut q = sqlx::query(sql).bind(to_db(user)).bind(to_db(channel)).bind(to_db(message));
        if manual {
            q = q.bind(mention_count);
        }
        let row = q.fetch_one(&self.writer).await?;
        read_state_row(&row)
    }
}
