//! Minting snowflakes: milliseconds since Discord's epoch in bits 63–22,
//! worker in 21–17, process in 16–12, a per-millisecond increment in 11–0.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::id::{Id, DISCORD_EPOCH_MS};

#[derive(Debug)]
pub struct SnowflakeGenerator {
    worker: u64,
    process: u64,
    // (last millisecond used, increment within it)
    state: Mutex<(u64, u64)>,
}

impl SnowflakeGenerator {
    /// `worker` and `process` are masked to their 5 bits each.
    pub fn new(worker: u8, process: u8) -> Self {
        Self { worker: u64::from(worker & 0x1f), process: u64::from(process & 0x1f), state: Mutex::new((0, 0)) }
    }

    /// A fresh id, strictly greater than every id this generator made before,
    /// even if the wall clock steps backwards.
    pub fn next<M>(&self) -> Id<M> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(DISCORD_EPOCH_MS)
            .saturating_sub(DISCORD_EPOCH_MS);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, seq) = *state;
        let (ms, seq) = if now > last {
            (now, 0)
        } else if seq < 0xfff {
            (last, seq + 1)
        } else {
            // 4096 ids in one millisecond: borrow from the next one.
            (last + 1, 0)
        };
        *state = (ms, seq);
        // `max(1)`: a clock set before 2015 must still not mint the invalid id 0.
        Id::new(((ms << 22) | (self.worker << 17) | (self.process << 12) | seq).max(1))
    }

    /// The smallest id that could have been minted at `unix_ms`: a bound for
    /// "messages younger than" queries.
    pub fn lower_bound<M>(unix_ms: u64) -> Id<M> {
        Id::new((unix_ms.saturating_sub(DISCORD_EPOCH_MS) << 22).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::MessageMarker;

    #[test]
    fn ids_strictly_increase_and_carry_worker_bits() {
        let g = SnowflakeGenerator::new(3, 7);
        let mut prev: Id<MessageMarker> = g.next();
        for _ in 0..10_000 {
            let id: Id<MessageMarker> = g.next();
            assert!(id > prev);
            assert_eq!((id.get() >> 17) & 0x1f, 3);
            assert_eq!((id.get() >> 12) & 0x1f, 7);
            prev = id;
        }
    }
}
