//! Read states: how far a user has read a channel, and how many times they
//! were mentioned in it since. The mentions are counted by the message
//! create itself, in its transaction (`messages.rs`).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::sql::SqlStore;
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
