//! Cluster pieces shared by the suite (`suite/cluster.rs`,
//! `suite/load_balancer.rs`) and the bot tests (`bots/cluster.rs`): NATS
//! (127.0.0.1:4222, or `TEST_NATS_URL`) and Redis (127.0.0.1:6379, or
//! `TEST_REDIS_URL`), a test's own stream, and nodes run as processes of
//! the real binary.

use std::path::Path;

use super::TestApp;

pub fn nats_url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A random tag naming one test's stream, subjects and Redis keys, so
/// tests running side by side do not hear each other.
pub fn tag() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Removes a test's stream from NATS once its nodes are gone.
pub async fn drop_stream(name: &str) {
    let client = async_nats::connect(nats_url()).await.expect("NATS");
    async_nats::jetstream::new(client).delete_stream(name).await.expect("the test's stream goes");
}

/// A node of the cluster as its own process; SIGKILLed when dropped.
pub struct Node {
    pub child: std::process::Child,
    pub app: TestApp,
    /// `127.0.0.1:PORT`, where it listens.
    pub addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Open gateway sockets on this node, from its own `/metrics`.
    pub async fn gateway_sockets(&self) -> f64 {
        let url = format!("http://{}/metrics", self.addr);
        let text = self.app.client.get(url).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("fussioncord_gateway_connections "))
            .and_then(|v| v.trim().parse().ok())
            .expect("fussioncord_gateway_connections in /metrics")
    }
}

/// `fussioncord serve` as snowflake worker `worker` of the cluster `tag`
/// (stream `FC_TEST_<tag>`, subjects `fctest.<tag>`, Redis keys
/// `fctest:<tag>`) on the PostgreSQL database `db`, its data under `dir`,
/// rate limits off, with `env` added (or overriding) last.
pub fn node_process(db: &str, tag: &str, worker: u8, dir: &Path, env: &[(&str, String)]) -> Node {
    let mut cmd = super::binary(&Some(db.to_owned()));
    cmd.env("FUSSIONCORD__RATELIMIT__ENABLED", "false")
        .env("FUSSIONCORD__SNOWFLAKE__WORKER", worker.to_string())
        .env("FUSSIONCORD__CLUSTER__NATS_URL", nats_url())
        .env("FUSSIONCORD__CLUSTER__STREAM", format!("FC_TEST_{tag}"))
        .env("FUSSIONCORD__CLUSTER__SUBJECT_PREFIX", format!("fctest.{tag}"))
        .env("FUSSIONCORD__CLUSTER__MAX_AGE_SECS", "300")
        .env("FUSSIONCORD__CLUSTER__REDIS_URL", redis_url())
        .env("FUSSIONCORD__CLUSTER__REDIS_PREFIX", format!("fctest:{tag}"))
        // Drained within a second, so the test does not wait on it.
        .env("FUSSIONCORD__GATEWAY__SHUTDOWN_GRACE_MS", "1000")
        .env("RUST_LOG", "warn,gateway=info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let (child, addr) = super::serve(cmd, &dir.join(format!("node{worker}")));
    Node { child, app: TestApp::attach(&addr), addr }
}
