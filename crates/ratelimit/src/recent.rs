//! Recent events per key, shared by every node through Redis: for limits
//! that judge a short history rather than a count (AutoMod's spam windows).
//! Each entry is a string starting with its time in milliseconds.

use redis::aio::ConnectionManager;
use redis::Script;

use crate::redis_backend::{backend, TIMEOUT};
use crate::LimiterError;

/// One round trip: append the entry, drop those older than the window from
/// the front and any beyond the cap, keep the key only as long as the
/// window, and answer what is left, oldest first.
const PUSH: &str = r"
redis.call('RPUSH', KEYS[1], ARGV[2])
local now = tonumber(ARGV[1])
local keep = tonumber(ARGV[3])
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local at = tonumber(string.match(head, '^(%d+)'))
  if at and now - at <= keep then break end
  redis.call('LPOP', KEYS[1])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[1], keep)
return redis.call('LRANGE', KEYS[1], 0, -1)
";

/// Short histories per key.
#[async_trait::async_trait]
pub trait RecentLog: Send + Sync {
    /// Appends `entry` (which starts with `now_ms` as decimal digits) to
    /// `key`'s history, forgets entries more than `keep_ms` older than
    /// `now_ms` and all but the last `cap`, and answers what remains,
    /// oldest first, `entry` included.
    async fn push(
        &self,
        key: &str,
        now_ms: u64,
        entry: &str,
        keep_ms: u64,
        cap: usize,
    ) -> Result<Vec<String>, LimiterError>;
}

/// Histories in Redis lists, one per key under the prefix.
pub struct RedisRecentLog {
    conn: ConnectionManager,
    prefix: String,
    script: Script,
}

impl RedisRecentLog {
    pub(crate) fn new(conn: ConnectionManager, prefix: String) -> Self {
        Self { conn, prefix, script: Script::new(PUSH) }
    }
}

#[async_trait::async_trait]
impl RecentLog for RedisRecentLog {
    async fn push(
        &self,
        key: &str,
        now_ms: u64,
        entry: &str,
        keep_ms: u64,
        cap: usize,
    ) -> Result<Vec<String>, LimiterError> {
        let mut conn = self.conn.clone();
        let mut call = self.script.key(format!("{}{key}", self.prefix));
        call.arg(now_ms).arg(entry).arg(keep_ms.max(1)).arg(cap.max(1));
        tokio::time::timeout(TIMEOUT, call.invoke_async(&mut conn))
            .await
            .map_err(|_| LimiterError::Backend("Redis did not answer in time".into()))?
            .map_err(backend)
    }
}
