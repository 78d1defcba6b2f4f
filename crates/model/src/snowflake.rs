//! Minting snowflakes: milliseconds since Discord's epoch in bits 63–22,
//! worker in 21–17, process in 16–12, a per-millisecond increment in 11–0.

use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::id::{Id, DISCORD_EPOCH_MS};

/// Why no id could be minted: the generator holds no worker id (its lease
/// ran out or was lost, or none was free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoWorker;

impl std::fmt::Display for NoWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("this node holds no snowflake worker id")
    }
}

impl std::error::Error for NoWorker {}

#[derive(Debug)]
pub struct SnowflakeGenerator {
    process: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Last millisecond used, and the increment within it.
    last: u64,
    seq: u64,
    /// The worker bits, while this generator may use them.
    worker: Option<u64>,
    /// When a leased worker id stops being ours; `None` for a fixed one.
    until: Option<Instant>,
}

impl SnowflakeGenerator {
    /// A generator with a fixed worker id; `worker` and `process` are
    /// masked to their 5 bits each.
    pub fn new(worker: u8, process: u8) -> Self {
        Self::with(Some(u64::from(worker & 0x1f)), process)
    }

    /// A generator that mints nothing until it is given a worker id by
    /// [`Self::lease`].
    pub fn leased(process: u8) -> Self {
        Self::with(None, process)
    }

    fn with(worker: Option<u64>, process: u8) -> Self {
        Self { process: u64::from(process & 0x1f), state: Mutex::new(State { last: 0, seq: 0, worker, until: None }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Mints nothing at or below `floor_ms` (since Discord's epoch) from
    /// now on: the highest millisecond a worker id's previous holder could
    /// have used, so a worker id changing hands never mints an id twice,
    /// even between clocks that disagree.
    pub fn raise_floor(&self, floor_ms: u64) {
        let mut state = self.state();
        if floor_ms >= state.last {
            state.last = floor_ms + 1;
            state.seq = 0;
        }
    }

    /// Uses `worker` until `until`. Ids stay above every id this generator
    /// made before, whichever worker minted them.
    pub fn lease(&self, worker: u8, until: Instant) {
        let mut state = self.state();
        let worker = u64::from(worker & 0x1f);
        if state.worker != Some(worker) {
            // A new worker id: start on a millisecond no id of ours used.
            state.last += 1;
            state.seq = 0;
        }
        state.worker = Some(worker);
        state.until = Some(until);
    }

    /// Stops minting until the next [`Self::lease`].
    pub fn release(&self) {
        let mut state = self.state();
        state.worker = None;
        state.until = None;
    }

    /// The worker id ids are minted with now, if any.
    pub fn worker(&self) -> Option<u8> {
        let state = self.state();
        let held = state.until.is_none_or(|until| Instant::now() < until);
        state.worker.filter(|_| held).map(|w| w as u8)
    }

    /// The highest millisecond this generator could mint an id at before
    /// `Instant::now() + ahead` passes: what the next holder of its
    /// worker id must start above.
    pub fn bound_ms(&self, ahead: std::time::Duration) -> u64 {
        let last = self.state().last;
        last.max(epoch_ms()) + ahead.as_millis() as u64
    }

    /// A fresh id, strictly greater than every id this generator made before,
    /// even if the wall clock steps backwards; an error when it holds no
    /// worker id.
    pub fn next<M>(&self) -> Result<Id<M>, NoWorker> {
        let now = epoch_ms();
        let mut state = self.state();
        let worker = match (state.worker, state.until) {
            (Some(w), None) => w,
            (Some(w), Some(until)) if Instant::now() < until => w,
            _ => return Err(NoWorker),
        };
        let (ms, seq) = if now > state.last {
            (now, 0)
        } else if state.seq < 0xfff {
            (state.last, state.seq + 1)
        } else {
            // 4096 ids in one millisecond: borrow from the next one.
            (state.last + 1, 0)
        };
        state.last = ms;
        state.seq = seq;
        // `max(1)`: a clock set before 2015 must still not mint the invalid id 0.
        Ok(Id::new(((ms << 22) | (worker << 17) | (self.process << 12) | seq).max(1)))
    }

    /// The smallest id that could have been minted at `unix_ms`: a bound for
    /// "messages younger than" queries.
    pub fn lower_bound<M>(unix_ms: u64) -> Id<M> {
        Id::new((unix_ms.saturating_sub(DISCORD_EPOCH_MS) << 22).max(1))
    }
}

/// Milliseconds since Discord's epoch by the wall clock.
fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(DISCORD_EPOCH_MS)
        .saturating_sub(DISCORD_EPOCH_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MessageMarker;

    #[test]
    fn ids_strictly_increase_and_carry_worker_bits() {
        let g = SnowflakeGenerator::new(3, 7);
        let mut prev: Id<MessageMarker> = g.next().unwrap();
        for _ in 0..10_000 {
            let id: Id<MessageMarker> = g.next().unwrap();
            assert!(id > prev);
            assert_eq!((id.get() >> 17) & 0x1f, 3);
            assert_eq!((id.get() >> 12) & 0x1f, 7);
            prev = id;
        }
    }

    #[test]
    fn a_leased_worker_mints_only_while_held_and_above_the_floor() {
        let g = SnowflakeGenerator::leased(0);
        assert_eq!(g.next::<MessageMarker>(), Err(NoWorker), "nothing before a lease");
        let hour = std::time::Duration::from_secs(3600);
        let floor = epoch_ms() + 60_000;
        g.raise_floor(floor);
        assert_eq!(g.next::<MessageMarker>(), Err(NoWorker), "a floor is not a lease");
        g.lease(5, Instant::now() + hour);
        let id: Id<MessageMarker> = g.next().unwrap();
        assert_eq!((id.get() >> 17) & 0x1f, 5);
        assert!(id.get() >> 22 > floor, "above the previous holder's ids");
        // Expired: nothing more.
        g.lease(5, Instant::now() - std::time::Duration::from_millis(1));
        assert_eq!(g.next::<MessageMarker>(), Err(NoWorker));
        assert_eq!(g.worker(), None);
        // Another worker id: still increasing.
        g.lease(2, Instant::now() + hour);
        let later: Id<MessageMarker> = g.next().unwrap();
        assert!(later > id);
        assert_eq!((later.get() >> 17) & 0x1f, 2);
        g.release();
        assert_eq!(g.next::<MessageMarker>(), Err(NoWorker));
    }
}
