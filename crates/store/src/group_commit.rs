//! Group commit of message creates. SQLite has one writer and
//! `synchronous = FULL` fsyncs the WAL on every commit, and PostgreSQL
//! flushes its WAL on every commit too, so one create per transaction spends
//! most of its time waiting for the disk and on round trips. Instead one
//! task owns the message creates (`messages.rs` runs it): it takes every
//! create queued while the previous batch was committing and writes them in
//! one transaction (their rows in a few multi-row INSERTs), so one fsync
//! serves them all. Each request is answered
//! only after the commit that holds it, so an acknowledged message is on
//! disk as before. A batch that fails is rolled back and its creates are
//! written again one by one, so one bad create fails alone.
//!
//! This module is the queue only: it knows nothing of SQL.

use tokio::sync::{mpsc, oneshot};

use crate::{MessageRow, NewMessage, Result, StoreError};

/// Creates in one transaction at most.
pub(crate) const MAX_BATCH: usize = 256;
/// Creates waiting for the writer at most; senders wait beyond it.
const QUEUE: usize = 4096;

pub(crate) type Created = Result<(MessageRow, bool)>;

/// One create and where its answer goes.
pub(crate) struct Job {
    pub(crate) new: NewMessage,
    pub(crate) reply: oneshot::Sender<Created>,
}

/// The queue to the message writer; the writer ends when every clone of
/// this is dropped.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// The queue, and its end for the writer task.
    pub(crate) fn new() -> (Self, mpsc::Receiver<Job>) {
        let (jobs, queue) = mpsc::channel(QUEUE);
        (Self { jobs }, queue)
    }

    /// Queues `new`; answers once it is committed.
    pub(crate) async fn create(&self, new: NewMessage) -> Created {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Backend(sqlx::Error::PoolClosed);
        self.jobs.send(Job { new, reply }).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}
