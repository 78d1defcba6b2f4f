//! Group commit of message creates on SQLite. SQLite has one writer and
//! `synchronous = FULL` fsyncs the WAL on every commit, so one create per
//! transaction spends most of its time waiting for the disk. Here one task
//! owns the message creates: it takes every create queued while the
//! previous batch was committing and writes them in one transaction, so one
//! fsync serves them all. Each request is answered only after the commit
//! that holds it, so an acknowledged message is on disk as before.
//!
//! A batch that fails is rolled back and its creates are written again one
//! by one, each in its own transaction, so one bad create (a constraint
//! broken, say) fails alone.

use tokio::sync::{mpsc, oneshot};

use crate::messages::{insert_message, NewMessage};
use crate::sql::Pool;
use crate::{MessageRow, Result, StoreError};

/// Creates in one transaction at most.
const MAX_BATCH: usize = 256;
/// Creates waiting for the writer at most; senders wait beyond it.
const QUEUE: usize = 4096;

type Created = Result<(MessageRow, bool)>;

struct Job {
    new: NewMessage,
    reply: oneshot::Sender<Created>,
}

/// The queue to the message writer. The writer task ends when the store
/// (every clone of it) is dropped.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("message", &self.new.row.id).finish()
    }
}

impl GroupCommit {
    pub(crate) fn start(writer: Pool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(writer, queue));
        Self { jobs }
    }

    /// Writes `new`; answers once it is committed.
    pub(crate) async fn create(&self, new: NewMessage) -> Created {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Backend(sqlx::Error::PoolClosed);
        self.jobs.send(Job { new, reply }).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn run(writer: Pool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() > 1 {
            if let Ok(created) = write_all(&writer, &batch).await {
                for (job, row) in batch.drain(..).zip(created) {
                    let _ = job.reply.send(Ok(row));
                }
                continue;
            }
        }
        for job in batch.drain(..) {
            let _ = job.reply.send(write_one(&writer, &job.new).await);
        }
    }
}

async fn write_all(writer: &Pool, batch: &[Job]) -> Result<Vec<(MessageRow, bool)>> {
    let mut tx = writer.begin().await?;
    let mut created = Vec::with_capacity(batch.len());
    for job in batch {
        created.push(insert_message(&mut tx, &job.new).await?);
    }
    tx.commit().await?;
    Ok(created)
}

async fn write_one(writer: &Pool, new: &NewMessage) -> Created {
    let mut tx = writer.begin().await?;
    let created = insert_message(&mut tx, new).await?;
    tx.commit().await?;
    Ok(created)
}
