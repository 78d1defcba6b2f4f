//! Rate-limit counters, as Discord's buckets behave: a fixed window opens
//! at a key's first hit and allows `limit` hits until it closes.
//!
//! [`RateLimiter`] is the seam between one process ([`LocalLimiter`]) and
//! several API nodes that must share their counts ([`RedisLimiter`]).
//! What is counted under which key (routes, users, addresses) is the API's
//! business; this crate only counts.

mod address;
mod config;
mod local;
mod recent;
mod redis_backend;

use std::time::Duration;

pub use address::{address_key, client_ip};
pub use config::{Backend, RateLimitConfig, RouteLimit};
pub use local::LocalLimiter;
pub use recent::{RecentLog, RedisRecentLog};
pub use redis_backend::RedisLimiter;

/// How many hits a window allows, and how long a window lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub limit: u32,
    pub window_ms: u64,
}

impl Quota {
    pub const fn new(limit: u32, window_ms: u64) -> Self {
        Self { limit, window_ms }
    }

    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms.max(1))
    }
}

/// The outcome of one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether this hit is within the quota.
    pub allowed: bool,
    pub limit: u32,
    /// Hits left in the current window after this one.
    pub remaining: u32,
    /// Until the current window closes.
    pub reset_after: Duration,
}

impl Decision {
    /// The decision for the `count`th hit of a window that closes in
    /// `reset_after`.
    pub fn from_count(quota: Quota, count: u64, reset_after: Duration) -> Self {
        let limit = u64::from(quota.limit);
        Self { allowed: count <= limit, limit: quota.limit, remaining: limit.saturating_sub(count) as u32, reset_after }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    #[error("rate-limit backend unavailable: {0}")]
    Backend(String),
}

/// Counts hits per key.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one hit on `key` against `quota`. A key's window opens at its
    /// first hit; refused hits count too, so hammering does not help.
    async fn hit(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError>;

    /// The state of `key`'s open window without counting a hit: what is
    /// left and when it closes; `None` if no window is open.
    async fn peek(&self, key: &str, quota: Quota) -> Result<Option<Decision>, LimiterError>;

    /// Whether the counters can be reached (for readiness checks).
    async fn ping(&self) -> Result<(), LimiterError>;
}
