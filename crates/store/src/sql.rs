//! The SQL backend: one query text for both dialects through sqlx's `Any`
//! driver (`$n` placeholders, integers for booleans), separate migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store. For SQLite it keeps one writer connection and a pool of
/// readers: writes are serialised in-process (SQLite allows one writer at a
/// time anyway) so they never fail with SQLITE_BUSY, while readers run in
/// parallel thanks to WAL. For PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    backend: Backend,
}

impl SqlStore {
    /// Opens (creating if needed) an SQLite database file in WAL mode with
    /// full fsync on commit, and applies migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // Acknowledged means on disk: FULL fsyncs the WAL on
                        // every commit.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
        };
        let writer = pool(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = pool(8).connect_with(options).await?;
        Ok(Self { writer, reader, backend: Backend::Sqlite })
    }

    /// Connects to PostgreSQL at `url` and applies migrations.
    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { writer: pool.clone(), reader: pool, backend: Backend::Postgres })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for in-flight queries and closes every connection; SQLite
    /// checkpoints its WAL on the last close.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

impl SqlStore {
    /// Runs one statement and, if it changed a row, records `audit` with it
    /// in the same transaction. Returns the rows changed.
    pub(crate) async fn execute_audited<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        audit: Option<&crate::AuditEntry>,
    ) -> crate::Result<u64> {
        let mut tx = self.writer.begin().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected();
        if changed > 0 {
            crate::audit::record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// Maps a unique-constraint violation to [`crate::StoreError::Conflict`].
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> crate::StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => crate::StoreError::Conflict(what),
        _ => crate::StoreError::Backend(e),
    }
}
