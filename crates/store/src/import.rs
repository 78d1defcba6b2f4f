//! Messages written in bulk, beside the send path: `fussioncord messages
//! fill` stores millions of rows this way to measure history at scale.
//! The rows are the ones `messages::send` would store; only the way they
//! reach the database differs (many rows per statement, thousands per
//! transaction).

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::messages::{ids_to_json, MessageRow, COLUMNS};
use crate::sql::SqlStore;
use crate::{to_db, ChannelId, MessageId, Result};

/// Values bound per row: one per column of [`COLUMNS`].
const VALUES_PER_ROW: usize = 14;

/// Rows per `INSERT`: 700 bound values. Far fewer than the databases
/// allow (32,766 and 65,535): sqlx's SQLite driver asks the name of every
/// parameter it binds, and SQLite finds a name by walking the list of all
/// of them, so a statement's binding costs the square of its parameters
/// (at 500 rows per `INSERT`, 95% of the fill's time and 6,500 rows/s; at
/// 50, about 50,000 rows/s).
const ROWS_PER_INSERT: usize = 50;

#[async_trait]
pub trait MessageImport: Send + Sync {
    /// Stores `rows`, none of which exists yet, in one transaction (several
    /// multi-row `INSERT`s) and moves each channel's `last_message_id` to
    /// its newest row when that is newer. Mention counts and nonces are not
    /// written: imported rows mention nobody and carry no nonce.
    async fn import_messages(&self, rows: &[MessageRow]) -> Result<()>;
}

#[async_trait]
impl MessageImport for SqlStore {
    async fn import_messages(&self, rows: &[MessageRow]) -> Result<()> {
        let mut newest: BTreeMap<ChannelId, MessageId> = BTreeMap::new();
        for m in rows {
            let n = newest.entry(m.channel_id).or_insert(m.id);
            *n = (*n).max(m.id);
        }
        let mut tx = self.writer.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values = (0..chunk.len())
                .map(|r| {
                    let first = r * VALUES_PER_ROW + 1;
                    let row = (first..first + VALUES_PER_ROW).map(|i| format!("${i}")).collect::<Vec<_>>();
                    format!("({})", row.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO messages ({COLUMNS}) VALUES {values}");
            let mut q = sqlx::query(&sql);
            for m in chunk {
                q = q
                    .bind(to_db(m.channel_id))
                    .bind(to_db(m.id))
                    .bind(to_db(m.author_id))
                    .bind(&m.content)
                    .bind(i64::from(m.kind))
                    .bind(m.flags as i64)
                    .bind(i64::from(m.tts))
                    .bind(i64::from(m.mention_everyone))
                    .bind(ids_to_json(&m.mentions))
                    .bind(ids_to_json(&m.mention_roles))
                    .bind(&m.nonce)
                    .bind(m.edited_at)
                    .bind(m.pinned_at)
                    .bind(m.ref_message_id.map(to_db));
            }
            q.execute(&mut *tx).await?;
        }
        for (channel, id) in newest {
            sqlx::query(
                "UPDATE channels SET last_message_id = $2
                 WHERE id = $1 AND (last_message_id IS NULL OR last_message_id < $2)",
            )
            .bind(to_db(channel))
            .bind(to_db(id))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
