//! Counters in this process's memory.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use tokio::time::Instant;

use crate::{Decision, LimiterError, Quota, RateLimiter};

const SHARDS: usize = 16;
/// A shard is swept of closed windows when it grows past this (and then
/// past twice what survived the last sweep).
const FIRST_SWEEP: usize = 1024;

struct Window {
    closes: Instant,
    count: u64,
}

#[derive(Default)]
struct Shard {
    windows: HashMap<String, Window>,
    sweep_at: usize,
}

/// In-process counters, sharded so concurrent requests seldom wait for
/// one another. Closed windows are dropped as a shard grows, so memory
/// follows the number of recently active keys.
pub struct LocalLimiter {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalLimiter {
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard { windows: HashMap::new(), sweep_at: FIRST_SWEEP })).collect(),
            hasher: RandomState::new(),
        }
    }

    fn count(&self, key: &str, quota: Quota) -> Decision {
        let now = Instant::now();
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if shard.windows.len() >= shard.sweep_at {
            shard.windows.retain(|_, w| w.closes > now);
            shard.sweep_at = (shard.windows.len() * 2).max(FIRST_SWEEP);
        }
        let window = match shard.windows.get_mut(key) {
            Some(w) if w.closes > now => {
                w.count += 1;
                w
            }
            _ => {
                shard.windows.insert(key.to_owned(), Window { closes: now + quota.window(), count: 1 });
                shard.windows.get_mut(key).expect("just inserted")
            }
        };
        Decision::from_count(quota, window.count, window.closes - now)
    }
}

#[async_trait::async_trait]
impl RateLimiter for LocalLimiter {
    async fn hit(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError> {
        Ok(self.count(key, quota))
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<Option<Decision>, LimiterError> {
        let now = Instant::now();
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let shard = shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(shard
            .windows
            .get(key)
            .filter(|w| w.closes > now)
            .map(|w| Decision::from_count(quota, w.count, w.closes - now)))
    }

    async fn ping(&self) -> Result<(), LimiterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_window_allows_its_limit_then_refuses_until_it_closes() {
        let limiter = LocalLimiter::new();
        let quota = Quota::new(3, 1000);
        for remaining in [2, 1, 0] {
            let d = limiter.hit("k", quota).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
        }
        let refused = limiter.hit("k", quota).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.reset_after, Duration::from_millis(1000));

        tokio::time::advance(Duration::from_millis(400)).await;
        let still = limiter.hit("k", quota).await.unwrap();
        assert!(!still.allowed);
        assert_eq!(still.reset_after, Duration::from_millis(600));
        assert!(limiter.hit("other", quota).await.unwrap().allowed, "keys are counted apart");

        tokio::time::advance(Duration::from_millis(600)).await;
        let fresh = limiter.hit("k", quota).await.unwrap();
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 2);
        assert_eq!(fresh.reset_after, Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn closed_windows_are_swept_as_keys_accumulate() {
        let limiter = LocalLimiter::new();
        let quota = Quota::new(1, 10);
        for i in 0..(SHARDS * FIRST_SWEEP * 2) {
            limiter.hit(&format!("k{i}"), quota).await.unwrap();
            if i % 1000 == 0 {
                tokio::time::advance(Duration::from_millis(20)).await;
            }
        }
        let held: usize = limiter.shards.iter().map(|s| s.lock().unwrap().windows.len()).sum();
        assert!(held < SHARDS * FIRST_SWEEP * 2, "nothing was swept: {held} windows held");
    }
}
