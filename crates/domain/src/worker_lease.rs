//! Snowflake worker ids without hand configuration: a node leases the
//! lowest free worker id (0–31) in the database (`store::LeaseStore`) and
//! renews the lease well before it runs out. The generator itself refuses
//! to mint once the lease's time is up by this node's monotonic clock (a
//! renewal that failed, a database out of reach, a process that stalled),
//! and a renewal that finds the row taken over stops it at once; either
//! way the node claims again, and until it holds a worker id every request
//! that needs a new id answers 503. Each holder records in the row a floor
//! above every millisecond it could still mint at, and the next holder of
//! that worker id starts above it, so a worker id changing hands never
//! repeats an id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use model::snowflake::SnowflakeGenerator;
use store::{Lease, Store};
use tokio::sync::watch;

/// Worker ids a snowflake has room for (5 bits).
pub const WORKERS: u8 = 32;

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTimes {
    pub ttl: Duration,
    pub renew_every: Duration,
}

/// The running lease of one node: renewed in the background until
/// [`WorkerLease::release`].
pub struct WorkerLease {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

struct Keeper {
    store: Arc<dyn Store>,
    ids: Arc<SnowflakeGenerator>,
    holder: String,
    times: LeaseTimes,
}

impl WorkerLease {
    /// Claims a worker id for `ids` (waiting for the first attempt, so a
    /// node that can have one starts with it) and keeps it. `holder` names
    /// this node in the table.
    pub async fn start(store: Arc<dyn Store>, ids: Arc<SnowflakeGenerator>, holder: String, times: LeaseTimes) -> Self {
        let keeper = Keeper { store, ids, holder, times };
        let mut held = keeper.claim().await;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(keeper.times.renew_every) => {}
                    _ = stopped.changed() => break,
                }
                held = match held {
                    Some(worker) if keeper.renew(worker).await => Some(worker),
                    _ => keeper.claim().await,
                };
            }
            if let Some(worker) = held {
                keeper.ids.release();
                if let Err(e) = keeper.store.release_worker(worker, &keeper.holder).await {
                    tracing::warn!(error = %e, worker, "could not give the snowflake worker id back; it expires");
                }
            }
        });
        Self { stop, task }
    }

    /// Stops renewing and gives the worker id back for the next node.
    pub async fn release(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Keeper {
    fn bound_ms(&self) -> u64 {
        self.ids.bound_ms(self.times.ttl)
    }

    /// The lowest free worker id, or `None` (logged) when there is none or
    /// the store cannot be reached. Nothing is minted with it before the
    /// row's floor covers every id this node could mint until the lease
    /// ends: the claim is followed by a renewal that records it.
    async fn claim(&self) -> Option<u8> {
        let started = Instant::now();
        let ttl_ms = self.times.ttl.as_millis() as u64;
        match self.store.claim_worker(&self.holder, WORKERS, ttl_ms).await {
            Ok(Some(Lease { worker, floor_ms })) => {
                self.ids.raise_floor(floor_ms);
                match self.store.renew_worker(worker, &self.holder, ttl_ms, self.bound_ms()).await {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        tracing::error!(error = %e, worker, "could not record the snowflake worker id's floor");
                        return None;
                    }
                }
                self.ids.lease(worker, started + self.times.ttl);
                tracing::info!(worker, holder = %self.holder, "holding snowflake worker id");
                Some(worker)
            }
            Ok(None) => {
                tracing::error!(
                    "every snowflake worker id is held by another node; requests that create anything are refused \
                     until one is free"
                );
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "could not claim a snowflake worker id");
                None
            }
        }
    }

    /// Extends the lease; `false` when it is lost (the generator stops at
    /// once). A renewal that fails for another reason leaves the lease to
    /// run out on its own time, when the generator stops by itself.
    async fn renew(&self, worker: u8) -> bool {
        let started = Instant::now();
        let ttl_ms = self.times.ttl.as_millis() as u64;
        match self.store.renew_worker(worker, &self.holder, ttl_ms, self.bound_ms()).await {
            Ok(true) => {
                self.ids.lease(worker, started + self.times.ttl);
                true
            }
            Ok(false) => {
                self.ids.release();
                tracing::error!(worker, holder = %self.holder, "the snowflake worker id was taken over; claiming another");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, worker, "could not renew the snowflake worker id's lease");
                true
            }
        }
    }
}
