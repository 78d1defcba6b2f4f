//! The server under test: where it is (or starting our own), the accounts
//! the scenarios act as, and the guild they meet in. Everything goes through
//! the public HTTP API, so any Discord-compatible server will do.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::Rng;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use crate::report::{step, Report};
use crate::stats::{proc_sample, ProcSample};

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// The server's HTTP root, e.g. http://127.0.0.1:8080 (the API is under /api/v10).
    #[arg(long, value_name = "URL", required_unless_present = "spawn")]
    pub base_url: Option<String>,
    /// The gateway, e.g. ws://127.0.0.1:8080/ [default: from --base-url].
    /// Another node of a cluster than --base-url's measures delivery across
    /// nodes: messages are posted to one, sessions hear them on the other.
    #[arg(long, value_name = "URL")]
    pub gateway_url: Option<String>,
    /// Use these accounts instead of registering new ones (repeatable; a
    /// bot's token as `Bot TOKEN`). Sessions and authors take them in turn.
    #[arg(long = "token", value_name = "TOKEN")]
    pub tokens: Vec<String>,
    /// A file of tokens, one a line.
    #[arg(long, value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// Use this existing text channel, which every account can read and write,
    /// instead of creating a guild and inviting the accounts.
    #[arg(long, value_name = "ID")]
    pub channel: Option<String>,
    /// Start our own server (release build, temporary data directory) and
    /// stop it afterwards.
    #[arg(long, conflicts_with = "base_url")]
    pub spawn: bool,
    /// The `fussioncord` binary for --spawn [default: next to this binary].
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<PathBuf>,
    /// With --spawn: serve this data directory (kept afterwards) instead of
    /// a fresh one, e.g. one filled by `fussioncord messages fill`.
    #[arg(long, value_name = "DIR", requires = "spawn")]
    pub server_data_dir: Option<PathBuf>,
    /// Extra environment for the --spawn'ed server, e.g.
    /// FUSSIONCORD__GATEWAY__HEARTBEAT_INTERVAL_MS=5000 (repeatable).
    #[arg(long = "server-env", value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
    /// The server's process id, to report its memory and CPU (known already with --spawn).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// More processes of the server under test, e.g. the other nodes of a
    /// cluster (repeatable): their memory and CPU are reported as
    /// `server_peers`, in this order.
    #[arg(long = "peer-pid", value_name = "PID")]
    pub peer_pids: Vec<u32>,
    /// Write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Concurrent requests while registering accounts and joining the guild.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub setup_concurrency: usize,
}

/// A server we started, stopped (SIGTERM, then SIGKILL) when dropped.
struct Spawned {
    child: Child,
    /// Its log, and its data unless given.
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Spawned {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Target {
    /// `…/api/v10`, no trailing slash.
    pub api: String,
    /// The gateway URL with `v=10&encoding=json`.
    pub gateway: String,
    /// Where to open the gateway's TCP connections.
    pub gateway_addr: SocketAddr,
    pub pid: Option<u32>,
    pub http: reqwest::Client,
    pub common: Common,
    spawned: Option<Spawned>,
    /// Distinguishes this run's accounts and messages.
    pub run_tag: String,
}

impl Target {
    pub async fn open(common: &Common) -> Result<Self> {
        let mut spawned = None;
        let (base, pid) = if common.spawn {
            let s = spawn(common)?;
            let pid = s.1.child.id();
            spawned = Some(s.1);
            (s.0, Some(pid))
        } else {
            (common.base_url.clone().expect("clap requires --base-url without --spawn"), common.server_pid)
        };
        let base = base.trim_end_matches('/').to_owned();
        let gateway = match &common.gateway_url {
            Some(url) => with_gateway_query(url),
            None => with_gateway_query(&base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1)),
        };
        let gateway_addr = resolve(&gateway).await?;
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(Duration::from_secs(60))
            .build()?;
        let run_tag = format!("{:08x}", rand::thread_rng().gen::<u32>());
        Ok(Self {
            api: format!("{base}/api/v10"),
            gateway,
            gateway_addr,
            pid,
            http,
            common: common.clone(),
            spawned,
            run_tag,
        })
    }

    pub fn server_sample(&self) -> Option<ProcSample> {
        self.pid.and_then(proc_sample)
    }

    /// One sample per `--peer-pid`, in order.
    pub fn peer_samples(&self) -> Vec<Option<ProcSample>> {
        self.common.peer_pids.iter().map(|p| proc_sample(*p)).collect()
    }

    /// The spawned server's data directory, when it is ours.
    pub fn spawned_data_dir(&self) -> Option<PathBuf> {
        self.spawned.as_ref().map(|s| s.data.clone())
    }

    /// The spawned server's last log lines, when it is ours and the run went wrong.
    pub fn server_log_tail(&self) -> Option<String> {
        self.spawned.as_ref().map(Spawned::log_tail)
    }

    /// After a failed run against a server we started, shows its last log lines.
    pub fn finish(&self, report: &Report) {
        if !report.failures.is_empty() {
            if let Some(tail) = self.server_log_tail().filter(|t| !t.is_empty()) {
                eprintln!("-- the spawned server's last log lines:\n{tail}");
            }
        }
    }

    pub fn describe(&self, report: &mut Report) {
        report.param("api", self.api.clone());
        report.param("gateway", self.gateway.clone());
        report.param("spawned", self.spawned.is_some());
        report.param("server_pid", self.pid);
        if !self.common.peer_pids.is_empty() {
            report.param("peer_pids", self.common.peer_pids.clone());
        }
    }

    /// One JSON request for setting things up; retries 429s as told and
    /// connection errors a few times.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.api);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.header(AUTHORIZATION, t);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if tries < 5 => {
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("{method} {path}")),
            };
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            if status.as_u16() == 429 && tries < 50 {
                let wait =
                    serde_json::from_str::<Value>(&text).ok().and_then(|v| v["retry_after"].as_f64()).unwrap_or(1.0);
                tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.05, 60.0))).await;
                continue;
            }
            if !status.is_success() {
                bail!("{method} {path}: HTTP {status}: {}", text.chars().take(300).collect::<String>());
            }
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).with_context(|| format!("{method} {path}: response is not JSON"));
        }
    }

    /// `n` account tokens: the ones given, or `n` fresh registrations.
    pub async fn accounts(&self, n: usize) -> Result<Vec<String>> {
        let mut given = self.common.tokens.clone();
        if let Some(file) = &self.common.tokens_file {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            given.extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned));
        }
        if !given.is_empty() {
            return Ok(given);
        }
        step(format!("registering {n} accounts"));
        let started = Instant::now();
        let tokens: Vec<String> = stream::iter(0..n)
            .map(|i| async move {
                let name = format!("fcb_{}_{i}", self.run_tag);
                let body = json!({
                    "username": name,
                    "email": format!("{name}@bench.example"),
                    "password": "bench-password-not-secret",
                });
                let v = self.call(reqwest::Method::POST, None, "/auth/register", Some(&body)).await?;
                v["token"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("registration answered without a token: {v}"))
            })
            .buffered(self.common.setup_concurrency.max(1))
            .try_collect()
            .await?;
        step(format!("registered {n} accounts in {:.1}s", started.elapsed().as_secs_f64()));
        Ok(tokens)
    }

    /// The text channel the scenario uses: `--channel`, or a new guild made by
    /// the first account that every other account joins by invite.
    pub async fn channel(&self, tokens: &[String]) -> Result<String> {
        if let Some(c) = &self.common.channel {
            return Ok(c.clone());
        }
        let owner = tokens.first().context("no accounts")?;
        let guild = self
            .call(reqwest::Method::POST, Some(owner), "/guilds", Some(&json!({ "name": "fussioncord-bench" })))
            .await?;
        let channel = match guild["system_channel_id"].as_str() {
            Some(c) => c.to_owned(),
            None => {
                let id = guild["id"].as_str().context("guild without id")?;
                let channels =
                    self.call(reqwest::Method::GET, Some(owner), &format!("/guilds/{id}/channels"), None).await?;
                channels
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["type"] == 0))
                    .and_then(|c| c["id"].as_str())
                    .context("the new guild has no text channel")?
                    .to_owned()
            }
        };
        let mut others: Vec<&String> = tokens[1..].iter().filter(|t| *t != owner).collect();
        others.sort();
        others.dedup();
        if !others.is_empty() {
            let invite = self
                .call(
                    reqwest::Method::POST,
                    Some(owner),
                    &format!("/channels/{channel}/invites"),
                    Some(&json!({ "max_uses": 0, "unique": true })),
                )
                .await?;
            let code = invite["code"].as_str().context("invite without a code")?.to_owned();
            step(format!("{} accounts joining the guild", others.len()));
            let started = Instant::now();
            let path = format!("/invites/{code}");
            stream::iter(others)
                .map(|t| {
                    let path = &path;
                    async move { self.call(reqwest::Method::POST, Some(t), path, Some(&json!({}))).await.map(|_| ()) }
                })
                .buffer_unordered(self.common.setup_concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
            step(format!("joined in {:.1}s", started.elapsed().as_secs_f64()));
        }
        Ok(channel)
    }
}

/// Prebuilt parts of `POST /channels/{id}/messages`, for the measured loops.
#[derive(Clone)]
pub struct Poster {
    pub http: reqwest::Client,
    pub url: Arc<str>,
}

impl Poster {
    pub fn new(target: &Target, channel: &str) -> Self {
        Self { http: target.http.clone(), url: format!("{}/channels/{channel}/messages", target.api).into() }
    }

    /// Posts `content` (plain ASCII without quotes or backslashes); returns the
    /// response body.
    pub async fn post(&self, auth: &HeaderValue, content: &str) -> Result<bytes::Bytes> {
        let body = format!("{{\"content\":\"{content}\"}}");
        let resp = self
            .http
            .post(&*self.url)
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)]));
        }
        Ok(body)
    }
}

pub fn auth_header(token: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(token).map_err(|_| anyhow!("a token holds characters a header cannot"))
}

fn with_gateway_query(url: &str) -> String {
    if url.contains('?') {
        return url.to_owned();
    }
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let slash = if after_scheme.contains('/') { "" } else { "/" };
    format!("{url}{slash}?v=10&encoding=json")
}

async fn resolve(gateway: &str) -> Result<SocketAddr> {
    let rest = gateway
        .strip_prefix("ws://")
        .ok_or_else(|| anyhow!("the gateway URL must start with ws:// (the harness speaks no TLS): {gateway}"))?;
    let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
    let hostport = if hostport.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let first = tokio::net::lookup_host(&hostport).await?.next();
    first.ok_or_else(|| anyhow!("{hostport} does not resolve"))
}

fn server_bin(common: &Common) -> Result<PathBuf> {
    if let Some(p) = &common.server_bin {
        return Ok(p.clone());
    }
    let me = std::env::current_exe()?;
    let next_to_me = me.with_file_name("fussioncord");
    if next_to_me.exists() {
        return Ok(next_to_me);
    }
    bail!(
        "no `fussioncord` binary next to {} — build it (cargo build --release -p fussioncord) or pass --server-bin",
        me.display()
    )
}

/// Starts `fussioncord serve` on a free port with a fresh data directory (or
/// the one given) and
/// cheap password hashing (registering thousands of accounts would otherwise
/// take minutes); answers its base URL.
fn spawn(common: &Common) -> Result<(String, Spawned)> {
    let bin = server_bin(common)?;
    let dir = tempfile::Builder::new().prefix("fussioncord-bench-").tempdir()?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let data = common.server_data_dir.clone().unwrap_or_else(|| dir.path().join("data"));
    let mut cmd = Command::new(&bin);
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data)
        .env("FUSSIONCORD__AUTH__ARGON2_MEMORY_KIB", "1024")
        .env("FUSSIONCORD__AUTH__ARGON2_ITERATIONS", "1")
        // The scenarios measure throughput; rate limits would measure themselves.
        .env("FUSSIONCORD__RATELIMIT__ENABLED", "false")
        // So do the gateway's defences against one address or account
        // holding many sockets and sessions: the load comes from one host.
        .env("FUSSIONCORD__GATEWAY__MAX_CONNECTIONS", "1000000")
        .env("FUSSIONCORD__GATEWAY__MAX_CONNECTIONS_PER_ADDRESS", "1000000")
        .env("FUSSIONCORD__GATEWAY__MAX_SESSIONS_PER_USER", "1000000")
        .env("FUSSIONCORD__GATEWAY__SESSION_START_TOTAL", "1000000000")
        .env("FUSSIONCORD__HTTP__MAX_CONNECTIONS", "1000000")
        // The voice server's default ports are fixed; any free ones here.
        .env("FUSSIONCORD__VOICE__LISTEN", "127.0.0.1:0")
        .env("FUSSIONCORD__VOICE__UDP_PORT", "0")
        .env("FUSSIONCORD__VOICE__WEBRTC_UDP_PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    for kv in &common.server_env {
        let (k, v) = kv.split_once('=').ok_or_else(|| anyhow!("--server-env wants KEY=VALUE, got {kv}"))?;
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let spawned = Spawned { child, dir, data };
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let Some(addr) = line.trim().strip_prefix("FussionCord listening on ") else {
        bail!("{} did not start: {line:?}\n{}", bin.display(), spawned.log_tail());
    };
    let addr = addr.to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader.take(u64::MAX), &mut std::io::sink());
    });
    step(format!("spawned {} (pid {}) at {addr}", bin.display(), spawned.child.id()));
    Ok((addr, spawned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_get_the_query() {
        assert_eq!(with_gateway_query("ws://127.0.0.1:8080"), "ws://127.0.0.1:8080/?v=10&encoding=json");
        assert_eq!(with_gateway_query("ws://h:1/"), "ws://h:1/?v=10&encoding=json");
        assert_eq!(with_gateway_query("ws://h:1/?v=10&encoding=json&x=1"), "ws://h:1/?v=10&encoding=json&x=1");
    }
}
