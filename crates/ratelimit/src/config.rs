//! The `[ratelimit]` section of the server's configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{LimiterError, LocalLimiter, Quota, RateLimiter, RecentLog, RedisLimiter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Counters in this process: right for one node.
    Memory,
    /// Counters in Redis: shared by every node pointed at it.
    Redis,
}

/// A route's own limit. `shared` counts every caller together (per major
/// parameter), as Discord's "shared" scope does; otherwise each caller has
/// its own count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimit {
    pub limit: u32,
    pub window_ms: u64,
    #[serde(default)]
    pub shared: bool,
}

impl RouteLimit {
    pub const fn new(limit: u32, window_ms: u64) -> Self {
        Self { limit, window_ms, shared: false }
    }

    pub fn quota(&self) -> Quota {
        Quota::new(self.limit, self.window_ms)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off, no request is counted and no rate-limit header is sent
    /// (for benchmarks).
    pub enabled: bool,
    pub backend: Backend,
    /// For `backend = "redis"`.
    pub redis_url: String,
    /// Prefix of every Redis key; nodes that share limits share it.
    pub key_prefix: String,
    /// All requests of one user or bot together, whatever the route.
    pub global: Quota,
    /// All requests from one address that carry no valid token together.
    pub per_ip: Quota,
    /// Files one user may upload (message files and pre-uploads, in any
    /// channel) per window, on top of the routes' own limits.
    pub uploads: Quota,
    /// A route without an entry in `routes`.
    pub default_route: RouteLimit,
    /// Per route, keyed `"METHOD /path/{param}"` as the API's route map
    /// spells them, e.g. `"POST /channels/{channel_id}/messages"`. Counts
    /// are kept per caller and per major parameter (channel, guild,
    /// webhook). Callers without a valid token are counted per address.
    pub routes: BTreeMap<String, RouteLimit>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // Discord's published or observed limits where it has them.
        let routes = [
            ("POST /auth/register", RouteLimit::new(5, 60_000)),
            ("POST /auth/login", RouteLimit::new(10, 60_000)),
            ("POST /auth/mfa/totp", RouteLimit::new(5, 60_000)),
            ("POST /channels/{channel_id}/messages", RouteLimit::new(5, 5_000)),
            ("DELETE /channels/{channel_id}/messages/{message_id}", RouteLimit::new(5, 1_000)),
            ("PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}", RouteLimit::new(1, 250)),
            ("DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}", RouteLimit::new(1, 250)),
            ("POST /channels/{channel_id}/typing", RouteLimit::new(5, 5_000)),
            // Discord's 5 per 2 s per webhook, whoever holds the token.
            ("POST /webhooks/{webhook_id}/{webhook_token}", RouteLimit { limit: 5, window_ms: 2_000, shared: true }),
            (
                "POST /webhooks/{webhook_id}/{webhook_token}/github",
                RouteLimit { limit: 5, window_ms: 2_000, shared: true },
            ),
            (
                "POST /webhooks/{webhook_id}/{webhook_token}/slack",
                RouteLimit { limit: 5, window_ms: 2_000, shared: true },
            ),
            ("PATCH /guilds/{guild_id}/members/{user_id}", RouteLimit::new(10, 10_000)),
            ("POST /channels/{channel_id}/invites", RouteLimit::new(5, 15_000)),
        ];
        Self {
            enabled: true,
            backend: Backend::Memory,
            redis_url: "redis://127.0.0.1:6379".into(),
            key_prefix: "fussioncord:rl:".into(),
            global: Quota::new(50, 1_000),
            per_ip: Quota::new(50, 1_000),
            uploads: Quota::new(100, 60_000),
            default_route: RouteLimit::new(20, 1_000),
            routes: routes.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

impl RateLimitConfig {
    /// The limiter this configuration names; a Redis that cannot be
    /// reached at start-up is an error, not a silent fallback.
    pub async fn open(&self) -> Result<Arc<dyn RateLimiter>, LimiterError> {
        Ok(self.open_shared().await?.0)
    }

    /// The limiter, and with `backend = "redis"` short histories shared on
    /// the same Redis (keys under `key_prefix` + `recent:`), for what must
    /// judge recent behaviour across nodes (AutoMod's spam windows).
    pub async fn open_shared(&self) -> Result<(Arc<dyn RateLimiter>, Option<Arc<dyn RecentLog>>), LimiterError> {
        Ok(match self.backend {
            Backend::Memory => (Arc::new(LocalLimiter::new()), None),
            Backend::Redis => {
                let limiter = RedisLimiter::connect(&self.redis_url, &self.key_prefix).await?;
                let recent: Arc<dyn RecentLog> = Arc::new(limiter.recent_log("recent:"));
                (Arc::new(limiter), Some(recent))
            }
        })
    }

    /// The limit of a route, by its `"METHOD /template"` key.
    pub fn route(&self, key: &str) -> RouteLimit {
        self.routes.get(key).copied().unwrap_or(self.default_route)
    }
}
