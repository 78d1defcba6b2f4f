//! Snowflake worker ids leased by nodes (`node_leases`): who holds which
//! worker id until when, by the database's clock, and the floor the next
//! holder starts above.

use async_trait::async_trait;
use sqlx::Row;

use crate::sql::{Backend, SqlStore};
use crate::Result;

/// A worker id held, and the millisecond (since Discord's epoch) ids minted
/// with it must start above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub worker: u8,
    pub floor_ms: u64,
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lowest worker id below `workers` that nobody else holds
    /// (never held, expired, or `holder`'s own) for `ttl_ms`, with the
    /// floor the previous holders left (0 for one never held). `None` when
    /// every one is held.
    async fn claim_worker(&self, holder: &str, workers: u8, ttl_ms: u64) -> Result<Option<Lease>>;
    /// Extends `holder`'s lease on `worker` to `ttl_ms` from now and raises
    /// its floor to `bound_ms` (the highest millisecond `holder` could mint
    /// at before then); `false` when the row is no longer `holder`'s (taken
    /// over, or deleted).
    async fn renew_worker(&self, worker: u8, holder: &str, ttl_ms: u64, bound_ms: u64) -> Result<bool>;
    /// Gives `worker` up at once (the row, and its floor, stay).
    async fn release_worker(&self, worker: u8, holder: &str) -> Result<()>;
}

impl SqlStore {
    /// Now in unix milliseconds by the database's clock.
    fn db_now_ms(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }
}

/// The new floor: the old one or the holder's bound, whichever is higher.
const FLOOR: &str = "CASE WHEN node_leases.floor_ms > $4 THEN node_leases.floor_ms ELSE $4 END";

#[async_trait]
impl LeaseStore for SqlStore {
    async fn claim_worker(&self, holder: &str, workers: u8, ttl_ms: u64) -> Result<Option<Lease>> {
        let now = self.db_now_ms();
        let held: Vec<i64> =
            sqlx::query(&format!("SELECT worker FROM node_leases WHERE expires_at > {now} AND holder <> $1"))
                .bind(holder)
                .fetch_all(&self.writer)
                .await?
                .iter()
                .map(|r| r.try_get("worker"))
                .collect::<std::result::Result<_, _>>()?;
        let claim = format!(
            "INSERT INTO node_leases (worker, holder, expires_at, floor_ms) VALUES ($1, $2, {now} + $3, 0) \
             ON CONFLICT (worker) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE node_leases.expires_at <= {now} OR node_leases.holder = excluded.holder \
             RETURNING floor_ms"
        );
        for worker in (0..workers).filter(|w| !held.contains(&i64::from(*w))) {
            // Someone may take it between the read and here: then the
            // update's condition fails, nothing is returned, and the next
            // free one is tried.
            let row = sqlx::query(&claim)
                .bind(i64::from(worker))
                .bind(holder)
                .bind(ttl_ms as i64)
                .fetch_optional(&self.writer)
                .await?;
            if let Some(row) = row {
                let floor: i64 = row.try_get("floor_ms")?;
                return Ok(Some(Lease { worker, floor_ms: floor.max(0) as u64 }));
            }
        }
        Ok(None)
    }

    async fn renew_worker(&self, worker: u8, holder: &str, ttl_ms: u64, bound_ms: u64) -> Result<bool> {
        let now = self.db_now_ms();
        let done = sqlx::query(&format!(
            "UPDATE node_leases SET expires_at = {now} + $3, floor_ms = {FLOOR} WHERE worker = $1 AND holder = $2"
        ))
        .bind(i64::from(worker))
        .bind(holder)
        .bind(ttl_ms as i64)
        .bind(bound_ms as i64)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_worker(&self, worker: u8, holder: &str) -> Result<()> {
        sqlx::query("UPDATE node_leases SET expires_at = 0 WHERE worker = $1 AND holder = $2")
            .bind(i64::from(worker))
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
