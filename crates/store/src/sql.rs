//! The SQL backend: one query text for both dialects through sqlx's `Any`
//! driver (`$n` placeholders, integers for booleans), separate migrations.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::{Any, AnyConnection, AnyPool, Describe, Either, Execute, Executor, Transaction};
use telemetry::Metrics;

use crate::search_lane::{SearchLimits, Searcher};
use crate::Result;
use sqlx::sqlite::SqliteConnectOptions;

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
    pub(crate) writer: Pool,
    pub(crate) reader: Pool,
    /// Message creates, committed in groups (one transaction and one fsync
    /// for many): the queue to their writer, started by the first create and
    /// shared by every clone of the store.
    pub(crate) group_commit: Arc<std::sync::OnceLock<crate::group_commit::GroupCommit>>,
    /// Searches' own lane (see [`crate::search_lane`]).
    pub(crate) search: Searcher,
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
                // A local file has no connection to lose: the ping sqlx
                // sends before every acquire would be one more round trip
                // to SQLite's thread for each transaction.
                .test_before_acquire(false)
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
        let search = Searcher::new(SearchLimits::default(), Some(SqliteConnectOptions::from_str(&url)?));
        Ok(Self {
            writer: Pool::new(writer),
            reader: Pool::new(reader),
            group_commit: Arc::default(),
            search,
            backend: Backend::Sqlite,
        })
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
        let search = Searcher::new(SearchLimits::default(), None);
        Ok(Self {
            writer: Pool::new(pool.clone()),
            reader: Pool::new(pool),
            group_commit: Arc::default(),
            search,
            backend: Backend::Postgres,
        })
    }

    /// Records the latency of every statement and transaction in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.writer.metrics = Some(metrics.clone());
        self.reader.metrics = Some(metrics);
        self
    }

    /// Replaces the default limits on searches.
    pub fn with_search_limits(mut self, limits: SearchLimits) -> Self {
        self.search = self.search.with_limits(limits);
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Waits for in-flight queries and closes every connection; SQLite
    /// checkpoints its WAL on the last close.
    pub async fn close(&self) {
        self.search.close().await;
        self.writer.pool.close().await;
        self.reader.pool.close().await;
    }

    /// One round trip to the database (`SELECT 1` on a reader), untimed so
    /// that health probes do not show up as store latency.
    pub(crate) async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.reader.pool).await?;
        Ok(())
    }
}

/// `$1, $2, …, $n` for an `IN (…)` list starting at placeholder `from`.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Maps a unique-constraint violation to [`crate::StoreError::Conflict`].
pub(crate) fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> crate::StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => crate::StoreError::Conflict(what),
        _ => crate::StoreError::Backend(e),
    }
}

/// A connection pool that times what runs on it: each statement run
/// directly on the pool (labelled with its SQL verb) and each transaction
/// begun from it, from `BEGIN` to `COMMIT`, as one call. Statements inside
/// a transaction are not timed one by one; their transaction is.
///
/// Timing at this layer, rather than wrapping each of the store traits'
/// methods, keeps the store's code untouched and covers every method,
/// present and future.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pool: AnyPool,
    metrics: Option<Arc<Metrics>>,
}

impl Pool {
    fn new(pool: AnyPool) -> Self {
        Self { pool, metrics: None }
    }

    fn timer(&self, op: &'static str) -> Option<Timer> {
        self.metrics.clone().map(|metrics| Timer { metrics, op, start: Instant::now(), ok: true })
    }

    pub(crate) async fn begin(&self) -> std::result::Result<Tx, sqlx::Error> {
        let mut timer = self.timer("transaction");
        // A transaction counts as failed unless it commits.
        if let Some(t) = timer.as_mut() {
            t.set_ok(false);
        }
        Ok(Tx { inner: self.pool.begin().await?, timer })
    }

    /// Runs `query`, a whole transaction from `BEGIN` to `COMMIT` as one
    /// query of many statements, timed as a transaction. If any of it
    /// fails, what it began is rolled back, and a connection that cannot
    /// say it has no transaction open is closed rather than given back.
    pub(crate) async fn whole_transaction<'q>(
        &self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> std::result::Result<(), sqlx::Error> {
        let mut timer = self.timer("transaction");
        let mut conn = self.pool.acquire().await?;
        let result = query.execute(&mut *conn).await.map(drop);
        if result.is_err() {
            let rolled_back = match conn.execute("ROLLBACK").await {
                Ok(_) => true,
                // Nothing was open: it failed at BEGIN, or SQLite ended
                // the transaction itself.
                Err(sqlx::Error::Database(e)) => e.message().contains("no transaction is active"),
                Err(_) => false,
            };
            if !rolled_back {
                let _ = sqlx::Connection::close(conn.detach()).await;
            }
        }
        if let Some(t) = timer.as_mut() {
            t.set_ok(result.is_ok());
        }
        result
    }
}

/// Records one call when dropped: a stream or future that is abandoned
/// half-way still counts the time it took.
struct Timer {
    metrics: Arc<Metrics>,
    op: &'static str,
    start: Instant,
    ok: bool,
}

impl Timer {
    fn set_ok(&mut self, ok: bool) {
        self.ok = ok;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.metrics.store_call(self.op, self.start.elapsed().as_secs_f64(), self.ok);
    }
}

/// The statement's verb, lower-case: `select`, `insert`, `update`,
/// `delete`, or `other`.
fn verb(sql: &str) -> &'static str {
    let word = sql.split_whitespace().next().unwrap_or("");
    ["select", "insert", "update", "delete"].into_iter().find(|v| word.eq_ignore_ascii_case(v)).unwrap_or("other")
}

/// A transaction that records its duration when it commits or is dropped
/// (rolled back). Derefs to the connection, like sqlx's own.
pub(crate) struct Tx {
    inner: Transaction<'static, Any>,
    timer: Option<Timer>,
}

impl Tx {
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        let Tx { inner, mut timer } = self;
        let result = inner.commit().await;
        if let Some(t) = timer.as_mut() {
            t.set_ok(result.is_ok());
        }
        result
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl<'p> Executor<'p> for &'p Pool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, std::result::Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let timer = self.timer(verb(query.sql()));
        let stream = self.pool.fetch_many(query);
        match timer {
            None => stream,
            Some(mut timer) => stream
                .inspect(move |item| {
                    if item.is_err() {
                        timer.set_ok(false);
                    }
                })
                .boxed(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, std::result::Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let timer = self.timer(verb(query.sql()));
        let future = self.pool.fetch_optional(query);
        async move {
            let result = future.await;
            if let Some(mut t) = timer {
                t.set_ok(result.is_ok());
            }
            result
        }
        .boxed()
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, std::result::Result<AnyStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, std::result::Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        self.pool.describe(sql)
    }
}
