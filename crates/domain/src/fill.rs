//! Filling a channel with many messages at once, for measuring history at
//! scale (`fussioncord messages fill`). The rows are those a plain message
//! sent through `messages::send` stores (ids from the snowflake generator,
//! increasing; no mentions, nonce or reply), written through the store's
//! bulk import, thousands per transaction, rather than one request each.
//! Nothing is published: run it with the server stopped (its snowflake
//! generator would mint the same ids) and start the server afterwards.

use std::fmt;
use std::time::{Duration, Instant};

use model::channel::ChannelType;
use model::snowflake::SnowflakeGenerator;
use store::{ChannelId, MessageId, MessageRow, Store, StoreError, UserId};

/// Rows per transaction: large enough that commits (and SQLite's fsync)
/// cost nothing beside the rows, small enough to show progress often.
pub const ROWS_PER_TRANSACTION: usize = 10_000;

/// What a fill wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    pub count: u64,
    pub first: Option<MessageId>,
    pub last: Option<MessageId>,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum FillError {
    UnknownChannel(ChannelId),
    NotTextual(ChannelId),
    UnknownAuthor(UserId),
    /// The author may not post there: not a member of the channel's guild,
    /// or not a recipient of the DM.
    NotInChannel(UserId, ChannelId),
    Store(StoreError),
    /// No snowflake worker id could be had (`[snowflake]`).
    NoWorker,
}

impl fmt::Display for FillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownChannel(c) => write!(f, "no channel {c}"),
            Self::NotTextual(c) => write!(f, "channel {c} holds no messages (a category?)"),
            Self::UnknownAuthor(u) => write!(f, "no user {u}"),
            Self::NotInChannel(u, c) => write!(f, "user {u} is not a member of channel {c}'s guild or DM"),
            Self::Store(e) => write!(f, "store: {e}"),
            Self::NoWorker => write!(f, "no snowflake worker id is free"),
        }
    }
}

impl std::error::Error for FillError {}

impl From<StoreError> for FillError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Stores `count` messages by `author` in `channel`, "history filler 0",
/// "history filler 1", …, oldest first, and moves the channel's
/// `last_message_id` to the newest. With `progress`, prints a line a second
/// to stderr: rows written, rows per second and the time left.
pub async fn fill_messages(
    store: &dyn Store,
    ids: &SnowflakeGenerator,
    channel: ChannelId,
    author: UserId,
    count: u64,
    progress: bool,
) -> Result<Filled, FillError> {
    let row = store.channel(channel).await?.ok_or(FillError::UnknownChannel(channel))?;
    if !ChannelType::from_code(row.kind).is_textual() {
        return Err(FillError::NotTextual(channel));
    }
    store.user(author).await?.ok_or(FillError::UnknownAuthor(author))?;
    let allowed = match row.guild_id {
        Some(guild) => store.member(guild, author).await?.is_some(),
        None => store.dm_recipients(channel).await?.contains(&author),
    };
    if !allowed {
        return Err(FillError::NotInChannel(author, channel));
    }

    let started = Instant::now();
    let mut shown = started;
    let mut filled = Filled { count: 0, first: None, last: None, elapsed: Duration::ZERO };
    let mut batch = Vec::with_capacity(ROWS_PER_TRANSACTION);
    while filled.count < count {
        batch.clear();
        let n = (count - filled.count).min(ROWS_PER_TRANSACTION as u64);
        for i in filled.count..filled.count + n {
            let content = format!("history filler {i}");
            batch.push(MessageRow::plain(
                channel,
                ids.next().map_err(|_| FillError::NoWorker)?,
                author,
                content,
                model::message::kind::DEFAULT,
            ));
        }
        store.import_messages(&batch).await?;
        filled.first = filled.first.or(batch.first().map(|m| m.id));
        filled.last = batch.last().map(|m| m.id);
        filled.count += n;
        if progress && (shown.elapsed() >= Duration::from_secs(1) || filled.count == count) {
            shown = Instant::now();
            eprintln!("{}", progress_line(filled.count, count, started.elapsed()));
        }
    }
    filled.elapsed = started.elapsed();
    Ok(filled)
}

/// "1200000/10000000 rows (12.0%), 52000 rows/s, 2m49s left".
fn progress_line(done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let left = ((total - done) as f64 / rate.max(1.0)).round() as u64;
    format!(
        "fill: {done}/{total} rows ({:.1}%), {rate:.0} rows/s, {}m{:02}s left",
        done as f64 * 100.0 / total.max(1) as f64,
        left / 60,
        left % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_shows_the_rate_and_the_time_left() {
        let line = progress_line(1_000_000, 10_000_000, Duration::from_secs(20));
        assert_eq!(line, "fill: 1000000/10000000 rows (10.0%), 50000 rows/s, 3m00s left");
    }
}
