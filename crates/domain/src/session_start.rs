//! Discord's `session_start_limit`: how many gateway sessions an account
//! may start (IDENTIFYs) per day, and how many per 5 seconds. The gateway
//! counts them and `GET /gateway/bot` reports them, through the same
//! counters (`ratelimit::RateLimiter`, in-process or Redis), so the report
//! is the truth on every node.

use std::time::Duration;

use ratelimit::{LimiterError, Quota, RateLimiter};
use serde_json::{json, Value};
use store::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStartLimit {
    /// IDENTIFYs per window.
    pub total: u32,
    pub window_ms: u64,
    /// Bots' IDENTIFYs per `concurrency_window_ms` (Discord: 5 seconds)
    /// per rate-limit key.
    pub max_concurrency: u32,
    pub concurrency_window_ms: u64,
}

impl Default for SessionStartLimit {
    fn default() -> Self {
        Self { total: 1000, window_ms: 24 * 60 * 60 * 1000, max_concurrency: 1, concurrency_window_ms: 5_000 }
    }
}

impl SessionStartLimit {
    /// One IDENTIFY per rate-limit key per window.
    pub fn concurrency_quota(&self) -> Quota {
        Quota::new(1, self.concurrency_window_ms)
    }

    pub fn daily_key(&self, user: UserId) -> String {
        format!("session-start:{user}")
    }

    pub fn daily_quota(&self) -> Quota {
        Quota::new(self.total, self.window_ms)
    }

    /// The bucket of a shard's IDENTIFY: Discord's
    /// `rate_limit_key = shard_id % max_concurrency`.
    pub fn concurrency_key(&self, user: UserId, shard_id: u64) -> String {
        format!("identify:{user}:{}", shard_id % u64::from(self.max_concurrency.max(1)))
    }

    /// The `session_start_limit` object for `user`, counting nothing.
    /// Counters out of reach report the whole quota: the gateway then lets
    /// IDENTIFYs through uncounted, so that is the truth.
    pub async fn report(&self, limiter: &dyn RateLimiter, user: UserId) -> Value {
        let peeked = limiter.peek(&self.daily_key(user), self.daily_quota()).await.unwrap_or_else(|e: LimiterError| {
            tracing::warn!(error = %e, "session start limits unreadable");
            None
        });
        let (remaining, reset_after) = match peeked {
            Some(d) => (d.remaining, d.reset_after),
            // No session started in the window: the whole quota, and
            // nothing to wait for.
            None => (self.total, Duration::ZERO),
        };
        json!({
            "total": self.total,
            "remaining": remaining,
            "reset_after": reset_after.as_millis() as u64,
            "max_concurrency": self.max_concurrency.max(1),
        })
    }
}
