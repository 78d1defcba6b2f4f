//! Counters in Redis, shared by every API node that uses the same server
//! and key prefix.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::{Decision, LimiterError, Quota, RateLimiter};

/// One round trip: count the hit, open the window on the first one, and
/// report how long the window has left. A key whose expiry got lost (it
/// cannot, but a stray `PERSIST` could) is given one again.
const HIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return {n, tonumber(ARGV[1])}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// A window's count and time left, counting nothing; `{0, -2}` when none
/// is open.
const PEEK: &str = r"
local n = redis.call('GET', KEYS[1])
if not n then
  return {0, -2}
end
return {tonumber(n), redis.call('PTTL', KEYS[1])}
";

/// How long one counter round trip may take before the request goes on
/// without it.
pub(crate) const TIMEOUT: Duration = Duration::from_millis(500);

pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    script: Script,
    peek: Script,
}

impl RedisLimiter {
    /// Connects (reconnecting by itself later). Every key is stored under
    /// `prefix`, so several deployments can share one Redis.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, LimiterError> {
        let client = redis::Client::open(url).map_err(backend)?;
        // Host and port only: the URL may carry a password.
        let addr = client.get_connection_info().addr().to_string();
        let conn = tokio::time::timeout(TIMEOUT * 10, ConnectionManager::new(client))
            .await
            .map_err(|_| LimiterError::Backend(format!("connecting to Redis at {addr} timed out")))?
            .map_err(backend)?;
        Ok(Self { conn, prefix: prefix.to_owned(), script: Script::new(HIT), peek: Script::new(PEEK) })
    }

    /// Short histories on the same connection, their keys under the
    /// limiter's prefix plus `prefix`.
    pub fn recent_log(&self, prefix: &str) -> crate::RedisRecentLog {
        crate::RedisRecentLog::new(self.conn.clone(), format!("{}{prefix}", self.prefix))
    }
}

pub(crate) fn backend(e: redis::RedisError) -> LimiterError {
    LimiterError::Backend(e.to_string())
}

#[async_trait::async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, key: &str, quota: Quota) -> Result<Decision, LimiterError> {
        let mut conn = self.conn.clone();
        let window_ms = quota.window().as_millis() as u64;
        let mut call = self.script.key(format!("{}{key}", self.prefix));
        call.arg(window_ms);
        let (count, ttl_ms): (u64, i64) = tokio::time::timeout(TIMEOUT, call.invoke_async(&mut conn))
            .await
            .map_err(|_| LimiterError::Backend("Redis did not answer in time".into()))?
            .map_err(backend)?;
        let reset_after = Duration::from_millis(ttl_ms.clamp(0, window_ms as i64) as u64);
        Ok(Decision::from_count(quota, count, reset_after))
    }

    async fn peek(&self, key: &str, quota: Quota) -> Result<Option<Decision>, LimiterError> {
        let mut conn = self.conn.clone();
        let window_ms = quota.window().as_millis() as u64;
        let call = self.peek.key(format!("{}{key}", self.prefix));
        let (count, ttl_ms): (u64, i64) = tokio::time::timeout(TIMEOUT, call.invoke_async(&mut conn))
            .await
            .map_err(|_| LimiterError::Backend("Redis did not answer in time".into()))?
            .map_err(backend)?;
        if count == 0 || ttl_ms == -2 {
            return Ok(None);
        }
        let reset_after = Duration::from_millis(ttl_ms.clamp(0, window_ms as i64) as u64);
        Ok(Some(Decision::from_count(quota, count, reset_after)))
    }

    async fn ping(&self) -> Result<(), LimiterError> {
        let mut conn = self.conn.clone();
        let pong: String = tokio::time::timeout(TIMEOUT, redis::cmd("PING").query_async(&mut conn))
            .await
            .map_err(|_| LimiterError::Backend("Redis did not answer in time".into()))?
            .map_err(backend)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(LimiterError::Backend(format!("PING answered {pong:?}")))
        }
    }
}
