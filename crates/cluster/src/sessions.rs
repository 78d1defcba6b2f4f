//! `RedisSessions`: the gateway's resume state in Redis, for every node of
//! a cluster to read. Per session, a hash (`<prefix>:s:<id>`: who it is)
//! and a sorted set of its last frames by sequence (`<prefix>:s:<id>:f`,
//! each `seq\nname\n` then the payload; those its client acknowledged in
//! a heartbeat removed), both expiring after the resume window unless
//! their node keeps them; per node, the stream position it has
//! written everything up to (`<prefix>:n:<node>:pos`) and a heartbeat key
//! that expires when the node stops (`<prefix>:n:<node>:alive`).

use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;

use events::BoxFuture;
use gateway::journal::{Batch, NodeState, Saved, SavedFrame, SessionMeta, SessionStore};

/// Longest any one call may take.
const TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisSessions {
    /// Connects (reconnecting by itself later); every key is under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let conn = crate::connect_redis(url, TIMEOUT * 5).await?;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:s:{id}", self.prefix)
    }

    fn frames_key(&self, id: &str) -> String {
        format!("{}:s:{id}:f", self.prefix)
    }

    fn node_key(&self, node: &str, what: &str) -> String {
        format!("{}:n:{node}:{what}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, String> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(TIMEOUT, pipe.query_async(&mut conn))
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map_err(|e| format!("Redis: {e}"))
    }
}

fn encode(frame: &SavedFrame) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.data.len() + frame.name.len() + 24);
    out.extend_from_slice(frame.seq.to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(frame.name.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&frame.data);
    out
}

fn decode(raw: &[u8]) -> Option<SavedFrame> {
    let mut parts = raw.splitn(3, |b| *b == b'\n');
    let seq = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let name = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let data = Bytes::copy_from_slice(parts.next()?);
    Some(SavedFrame { seq, name, data })
}

impl SessionStore for RedisSessions {
    fn write<'a>(&'a self, node: &'a str, batch: &'a Batch) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let ttl = batch.ttl.as_millis() as u64;
            let mut pipe = redis::pipe();
            for meta in &batch.opened {
                let key = self.session_key(&meta.id);
                let json = serde_json::to_string(meta).map_err(|e| e.to_string())?;
                pipe.hset(&key, "meta", json).ignore().pexpire(&key, ttl as i64).ignore();
                pipe.pexpire(self.frames_key(&meta.id), ttl as i64).ignore();
            }
            for (id, frames) in &batch.frames {
                let key = self.frames_key(id);
                let scored: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (f.seq, encode(f))).collect();
                pipe.zadd_multiple(&key, &scored).ignore();
                if let Some(last) = frames.last() {
                    pipe.hset(self.session_key(id), "seq", last.seq).ignore();
                }
                // The newest `max_frames` stay.
                pipe.zremrangebyrank(&key, 0, -(batch.max_frames.max(1) as isize) - 1).ignore();
                pipe.pexpire(&key, ttl as i64).ignore();
                pipe.pexpire(self.session_key(id), ttl as i64).ignore();
            }
            for (id, seq) in &batch.acknowledged {
                pipe.zrembyscore(self.frames_key(id), "-inf", *seq).ignore();
            }
            for id in &batch.keep {
                pipe.pexpire(self.session_key(id), ttl as i64).ignore();
                pipe.pexpire(self.frames_key(id), ttl as i64).ignore();
            }
            for id in &batch.forget {
                pipe.del(self.session_key(id)).ignore().del(self.frames_key(id)).ignore();
            }
            if let Some(position) = batch.position {
                // As long as sessions may be resumed from what it wrote.
                pipe.pset_ex(self.node_key(node, "pos"), position, ttl.max(1)).ignore();
            }
            self.run::<()>(&pipe).await
        })
    }

    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Saved>, String>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("HMGET").arg(self.session_key(session)).arg("meta").arg("seq");
            pipe.zrange(self.frames_key(session), 0, -1);
            let ((meta, seq), frames): ((Option<String>, Option<u64>), Vec<Vec<u8>>) = self.run(&pipe).await?;
            let Some(meta) = meta else { return Ok(None) };
            let meta: SessionMeta = serde_json::from_str(&meta).map_err(|e| format!("a session's state: {e}"))?;
            let frames = frames
                .iter()
                .map(|f| decode(f).ok_or_else(|| "a session's frame does not decode".to_owned()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Saved { meta, seq: seq.unwrap_or(0), frames }))
        })
    }

    fn node_state<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeState, String>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.get(self.node_key(node, "pos")).exists(self.node_key(node, "alive"));
            let (position, alive): (Option<u64>, bool) = self.run(&pipe).await?;
            Ok(NodeState { position: position.unwrap_or(0), alive })
        })
    }

    fn heartbeat<'a>(&'a self, node: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.pset_ex(self.node_key(node, "alive"), 1, ttl.as_millis().max(1) as u64).ignore();
            self.run::<()>(&pipe).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode_as_they_were_encoded() {
        let frame =
            SavedFrame { seq: 42, name: "MESSAGE_CREATE".into(), data: Bytes::from_static(b"{\"a\":\"x\\ny\"}") };
        assert_eq!(decode(&encode(&frame)), Some(frame));
        assert_eq!(decode(b"not a frame"), None);
        assert_eq!(decode(b"x\nNAME\n{}"), None, "the sequence must be a number");
    }
}
