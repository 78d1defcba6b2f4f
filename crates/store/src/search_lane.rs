//! Searches' own lane: how many run at once, how long each may take, and on
//! SQLite the read-only connections they run on. The store holds it; the
//! search itself (`search.rs`) runs in it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::sync::Semaphore;

/// What a search may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Searches running at once; the rest wait for a slot.
    pub concurrency: usize,
    /// How long one search's statements may run before the database stops
    /// them (SQLite: a progress handler; PostgreSQL: `statement_timeout`),
    /// and how long a search may wait for a slot.
    pub budget: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        // Half the cores: the other half stays for the message path.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self { concurrency: (cores / 2).max(1), budget: Duration::from_secs(2) }
    }
}

/// Searches' own lane: a bounded number at once, and on SQLite read-only
/// connections of their own, so a search never holds a connection that
/// history reads wait for.
#[derive(Debug, Clone)]
pub(crate) struct Searcher {
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) limits: SearchLimits,
    pub(crate) sqlite: Option<(SqliteConnectOptions, SqlitePool)>,
}

impl Searcher {
    pub(crate) fn new(limits: SearchLimits, sqlite: Option<SqliteConnectOptions>) -> Self {
        let concurrency = limits.concurrency.clamp(1, 64);
        let sqlite = sqlite.map(|options| {
            let options = options.read_only(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(concurrency as u32)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(30))
                .connect_lazy_with(options.clone());
            (options, pool)
        });
        Self { slots: Arc::new(Semaphore::new(concurrency)), limits, sqlite }
    }

    pub(crate) fn with_limits(&self, limits: SearchLimits) -> Self {
        Self::new(limits, self.sqlite.as_ref().map(|(options, _)| options.clone()))
    }

    pub(crate) async fn close(&self) {
        if let Some((_, pool)) = &self.sqlite {
            pool.close().await;
        }
    }
}
