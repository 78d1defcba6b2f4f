//! Messages written in bulk, beside the send path: `fussioncord messages
//! fill` stores millions of rows this way to measure history at scale.
//! The rows are the ones `messages::send` would store; only the way they
//! reach the database differs (many rows per statement, thousands per
//! transaction).

use async_trait::async_trait;

use crate::messages::{insert_rows, raise_last_messages, MessageRow};
use crate::sql::SqlStore;
use crate::Result;

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
        let mut tx = self.writer.begin().await?;
        insert_rows(&mut tx, &rows.iter().collect::<Vec<_>>()).await?;
        raise_last_messages(&mut tx, rows.iter().map(|m| (m.channel_id, m.id))).await?;
        tx.commit().await?;
        Ok(())
    }
}
