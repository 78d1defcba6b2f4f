#![allow(dead_code)] // each of the two test binaries uses part of the harness
//! The test harness: a server started in-process on port 0 with a fresh
//! database (a temporary SQLite file, or a new PostgreSQL database) and a
//! fresh media store (a directory in the data directory, or a new bucket
//! on the S3 server with `TEST_MEDIA=s3`), and an HTTP client that checks
//! every answer is Discord-shaped JSON.

pub mod cluster;
pub mod etf;
pub mod nginx;
pub mod s3;
pub mod voice;
pub mod ws;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

pub struct TestApp {
    pub client: reqwest::Client,
    /// PEM of the CA that signed the voice gateway's certificate.
    pub voice_ca: String,
    pub base: String,
    pub config: server::Config,
    running: Option<server::Running>,
    _dir: tempfile::TempDir,
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub token: String,
    pub username: String,
}

pub fn backend() -> String {
    std::env::var("TEST_STORE").unwrap_or_else(|_| "sqlite".into())
}

/// A fresh database URL for PostgreSQL tests, or `None` for SQLite.
pub async fn fresh_database() -> Option<String> {
    match backend().as_str() {
        "sqlite" => None,
        "postgres" => Some(fresh_postgres().await),
        other => panic!("TEST_STORE must be sqlite or postgres, not {other:?}"),
    }
}

/// A new, empty PostgreSQL database (for tests that need one whatever
/// `TEST_STORE` says: several nodes share it).
pub async fn fresh_postgres() -> String {
    let admin =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("fc_test_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to PostgreSQL (is it running?)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let (prefix, _) = admin.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

/// The `fussioncord` binary itself, with cheap password hashing, warnings
/// only, and the test's database (if any) in its environment; callers add
/// or override settings with more `env` calls.
pub fn binary(database_url: &Option<String>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fussioncord"));
    cmd.env("FUSSIONCORD__AUTH__ARGON2_MEMORY_KIB", "1024")
        .env("FUSSIONCORD__AUTH__ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "warn")
        // Any free ports: tests run side by side.
        .env("FUSSIONCORD__VOICE__LISTEN", "127.0.0.1:0")
        .env("FUSSIONCORD__VOICE__UDP_PORT", "0")
        .env("FUSSIONCORD__VOICE__WEBRTC_UDP_PORT", "0");
    if let Some(url) = database_url {
        cmd.env("FUSSIONCORD__DATABASE__URL", url);
    }
    cmd
}

/// Runs `serve` with `cmd` (see [`binary`]) on a free port and `data_dir`;
/// returns the process and the address it printed.
pub fn serve(mut cmd: std::process::Command, data_dir: &Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    (child, addr)
}

pub fn test_config(dir: PathBuf, database_url: Option<String>) -> server::Config {
    let mut config = server::Config::default();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir;
    config.database.url = database_url;
    config.database.max_connections = 5;
    // Hashing cost is not what these tests are about.
    config.auth.argon2_memory_kib = 1024;
    config.auth.argon2_iterations = 1;
    // Limits are driven to their edges in tests/suite/ratelimit.rs; elsewhere
    // they are out of reach, but still counted, so every answer carries
    // its headers.
    let ample = ratelimit::Quota::new(1_000_000, 1_000);
    config.ratelimit.global = ample;
    config.ratelimit.per_ip = ample;
    config.ratelimit.uploads = ample;
    config.ratelimit.default_route = ratelimit::RouteLimit::new(ample.limit, ample.window_ms);
    config.ratelimit.routes.clear();
    // Likewise the gateway's session start limits (tests/suite/gateway_limits.rs).
    config.gateway.session_start_total = 1_000_000;
    config.gateway.identify_interval_ms = 1;
    config.voice.listen = "127.0.0.1:0".parse().unwrap();
    config.voice.udp_port = 0;
    config.voice.webrtc_udp_port = 0;
    // No test reaches out of the machine: link previews are on only where
    // tests/suite/link_previews.rs turns them on, with its own pages.
    config.unfurl.enabled = false;
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose default test configuration `tune` adjusts first.
    pub async fn spawn_with(tune: impl FnOnce(&mut server::Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().join("data"), fresh_database().await);
        tune(&mut config);
        Self::with_config(config, dir).await
    }

    /// The voice server of this app: where it listens.
    pub fn voice(&self) -> &server::VoiceAddresses {
        self.running.as_ref().expect("running").voice.as_ref().expect("voice enabled")
    }

    /// `host:port` of the gateway (the same port as the API).
    pub fn gateway_addr(&self) -> String {
        self.base.trim_start_matches("http://").trim_end_matches("/api/v10").to_owned()
    }

    pub async fn gateway(&self, extra: &str) -> ws::Gateway {
        ws::Gateway::connect(&self.gateway_addr(), extra).await
    }

    /// Creates a bot; with `privileged`, it may use every intent.
    pub async fn bot(&self, owner: &TestUser, name: &str, privileged: bool) -> TestUser {
        let (status, created) = self.post("/applications", &owner.token, json!({ "name": name })).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let bot = TestUser {
            id: created["id"].as_str().unwrap().to_owned(),
            token: format!("Bot {}", created["token"].as_str().unwrap()),
            username: created["bot"]["username"].as_str().unwrap().to_owned(),
        };
        if privileged {
            let (status, body) = self
                .patch("/applications/@me", &bot.token, json!({ "flags": (1 << 13) | (1 << 15) | (1 << 19) }))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        bot
    }

    /// Adds a bot to a guild the way its owner would.
    pub async fn add_bot(&self, owner: &TestUser, bot: &TestUser, guild: &str) {
        let path = format!("/oauth2/authorize?client_id={}&scope=bot&permissions=0&guild_id={guild}", bot.id);
        let (status, body) = self.post(&path, &owner.token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn with_config(config: server::Config, dir: tempfile::TempDir) -> Self {
        Self::with_classifier(config, dir, None).await
    }

    /// A server whose messages are scored by `classifier` instead of the
    /// built-in model (a failing one, to test that failures never block).
    pub async fn spawn_with_classifier(
        classifier: std::sync::Arc<dyn moderation::Classifier>,
        tune: impl FnOnce(&mut server::Config),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path().join("data"), fresh_database().await);
        tune(&mut config);
        Self::with_classifier(config, dir, Some(classifier)).await
    }

    async fn with_classifier(
        config: server::Config,
        dir: tempfile::TempDir,
        classifier: Option<std::sync::Arc<dyn moderation::Classifier>>,
    ) -> Self {
        let mut config = config;
        // `TEST_MEDIA=s3`: files in a bucket of their own on the S3 server.
        if config.media.s3.is_none() && s3::media_backend() == "s3" {
            config.media.s3 = Some(s3::config(&s3::fresh_bucket().await));
        }
        // The voice gateway's certificate, signed by a CA the test's voice
        // clients trust.
        let voice_ca = if config.voice.tls_cert.is_none() {
            let (cert, key, ca) = voice::tls_files(dir.path());
            config.voice.tls_cert = Some(cert);
            config.voice.tls_key = Some(key);
            ca
        } else {
            String::new()
        };
        let running = server::start_with_classifier(config.clone(), classifier).await.expect("server starts");
        let base = format!("http://{}/api/v10", running.addr);
        Self { client: reqwest::Client::new(), voice_ca, base, config, running: Some(running), _dir: dir }
    }

    /// A client for a server that runs elsewhere (e.g. the binary).
    pub fn attach(addr: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            voice_ca: String::new(),
            base: format!("http://{addr}/api/v10"),
            config: server::Config::default(),
            running: None,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The test CA the voice gateway's certificate chains to, as a file
    /// (`SSL_CERT_FILE` for Python, `NODE_EXTRA_CA_CERTS` for Node).
    pub fn voice_ca_file(&self) -> Option<PathBuf> {
        let path = self._dir.path().join("voice-tls/ca.pem");
        (!self.voice_ca.is_empty() && path.exists()).then_some(path)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().expect("running").addr
    }

    /// The keys under `prefix` (`attachments/`, `emojis/`, …) in this
    /// server's media store, sorted: its files, and anything half-written —
    /// in the directory, the staging files of uploads in progress; on S3,
    /// the multipart uploads in progress (their parts are stored).
    pub async fn media_keys(&self, prefix: &str) -> Vec<String> {
        if let Some(s3) = &self.config.media.s3 {
            return s3::keys(&s3.bucket, prefix).await;
        }
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for e in entries {
                let path = e.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let relative = path.strip_prefix(root).unwrap();
                    out.push(
                        relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
                    );
                }
            }
        }
        let root = self.config.media.dir(&self.config.data_dir);
        let mut out = Vec::new();
        walk(&root.join(prefix.trim_end_matches('/')), &root, &mut out);
        out.retain(|k| k.starts_with(prefix));
        out.sort();
        out
    }

    /// The bytes the media store keeps under `key`, read from the
    /// directory or the bucket itself; `None` when there is no such file.
    pub async fn media_object(&self, key: &str) -> Option<Vec<u8>> {
        match &self.config.media.s3 {
            Some(s3) => s3::object(&s3.bucket, key).await,
            None => std::fs::read(self.config.media.dir(&self.config.data_dir).join(key)).ok(),
        }
    }

    /// Starts a graceful shutdown, as SIGTERM does (requests in flight
    /// finish, gateway clients get op 7 RECONNECT), and returns at once: the
    /// handle completes when the server has stopped.
    pub fn stop(&mut self) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let running = self.running.take().expect("running");
        tokio::spawn(running.shutdown())
    }

    /// Graceful shutdown, then a new server on the same data and port.
    pub async fn restart(&mut self) {
        let running = self.running.take().expect("running");
        self.config.listen = running.addr;
        running.shutdown().await.expect("clean shutdown");
        let running = server::start(self.config.clone()).await.expect("server restarts");
        self.base = format!("http://{}/api/v10", running.addr);
        self.running = Some(running);
    }

    /// Sends a request and returns the status and JSON body (`Null` for an
    /// empty body). Every body must be JSON with exactly
    /// `Content-Type: application/json`, and every error Discord-shaped.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, token, bytes).await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = res.text().await.unwrap();
        if text.is_empty() {
            assert!(status == StatusCode::NO_CONTENT || status.is_success(), "empty body with {status}");
            return (status, Value::Null);
        }
        assert_eq!(ctype.as_deref(), Some("application/json"), "content type of {status} {text}");
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        if !status.is_success() {
            assert!(value["code"].is_u64(), "error without numeric code: {value}");
            assert!(value["message"].is_string(), "error without message: {value}");
        }
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), None).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Registers `username` and returns its id and token.
    pub async fn register(&self, username: &str) -> TestUser {
        let (status, body) = self
            .call(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({ "username": username, "email": format!("{username}@example.com"), "password": "correct horse battery" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "register {username}: {body}");
        TestUser {
            id: body["user_id"].as_str().unwrap().to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            username: username.to_owned(),
        }
    }

    /// Creates a guild owned by `owner`; returns (guild, its text channel id).
    pub async fn guild(&self, owner: &TestUser, name: &str) -> (Value, String) {
        let (status, guild) = self.post("/guilds", &owner.token, json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{guild}");
        let channel = guild["system_channel_id"].as_str().unwrap().to_owned();
        (guild, channel)
    }

    /// Makes `member` join the guild through a fresh invite.
    pub async fn join(&self, owner: &TestUser, channel: &str, member: &TestUser) {
        let (status, invite) = self.post(&format!("/channels/{channel}/invites"), &owner.token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{invite}");
        let code = invite["code"].as_str().unwrap();
        let (status, body) = self.post(&format!("/invites/{code}"), &member.token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Makes `a` and `b` friends (a request and its acceptance), which a
    /// DM between people with no guild in common needs.
    pub async fn befriend(&self, a: &TestUser, b: &TestUser) {
        let (status, body) = self.post("/users/@me/relationships", &a.token, json!({ "username": b.username })).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body) = self
            .call(Method::PUT, &format!("/users/@me/relationships/{}", a.id), Some(&b.token), Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// Runs SQL statements straight on the server's database (the SQLite
    /// file or the PostgreSQL database), for setting up what the API would
    /// take too long to build, such as thousands of members.
    pub async fn sql(&self, statements: &[String]) {
        async fn run<C: sqlx::Connection>(mut conn: C, statements: &[String])
        where
            for<'c> &'c mut C: sqlx::Executor<'c>,
        {
            for s in statements {
                sqlx::raw_sql(s).execute(&mut conn).await.unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
        match &self.config.database.url {
            Some(url) => run(sqlx::PgConnection::connect(url).await.expect("connect"), statements).await,
            None => {
                let path = self.config.data_dir.join("fussioncord.db");
                let url = format!("sqlite://{}", path.display());
                run(sqlx::SqliteConnection::connect(&url).await.expect("open the SQLite file"), statements).await
            }
        }
    }

    /// Makes `count` users (ids from `first_id`) members of `guild` in two
    /// statements: a guild of thousands in a moment.
    pub async fn bulk_members(&self, guild: &str, first_id: u64, count: u64) {
        let series = format!("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {count})");
        self.sql(&[
            format!(
                "{series} INSERT INTO users (id, username, created_at) \
                 SELECT {first_id} + i, 'bulk' || ({first_id} + i), 0 FROM n"
            ),
            format!(
                "{series} INSERT INTO members (guild_id, user_id, joined_at) SELECT {guild}, {first_id} + i, 0 FROM n"
            ),
        ])
        .await;
    }

    /// Every SQL statement and transaction the store has run so far, as
    /// `/metrics` counts them (`fussioncord_store_calls_total`, summed over
    /// verbs and outcomes).
    pub async fn store_calls(&self) -> f64 {
        self.metric("fussioncord_store_calls_total{").await
    }

    /// The sum of the `/metrics` samples whose line starts with `series`
    /// (a name, or a name and some of its labels).
    pub async fn metric(&self, series: &str) -> f64 {
        let res = self.client.get(format!("http://{}/metrics", self.addr())).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with(series))
            .map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).expect("a sample value"))
            .sum()
    }

    pub async fn send(&self, user: &TestUser, channel: &str, content: &str) -> Value {
        let (status, msg) =
            self.post(&format!("/channels/{channel}/messages"), &user.token, json!({ "content": content })).await;
        assert_eq!(status, StatusCode::OK, "{msg}");
        msg
    }
}

/// For a test that measures this process (its CPU time, say): every test
/// of the binary shares the process, so the tests running beside it would
/// count too. Called first thing with `module_path!()` and the test's own
/// name, it runs that test again, alone, in a child process of this test
/// binary and checks that it passed there (printing its output, figures
/// included); it returns `true` in that child, where the test then does
/// its work, and `false` in the parent, where the test is done.
pub fn in_own_process(module: &str, test: &str) -> bool {
    const ALONE: &str = "FUSSIONCORD_TEST_ALONE";
    // `suite::resources` names the test `resources::…` in its binary.
    let module = module.split_once("::").map_or("", |(_, m)| m);
    let name = if module.is_empty() { test.to_owned() } else { format!("{module}::{test}") };
    if std::env::var(ALONE).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE, &name)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{name} failed in its own process ({})", output.status);
    assert!(stdout.contains("test result: ok. 1 passed"), "{name} did not run in its own process");
    false
}

/// Asserts a Discord error: status and code.
#[track_caller]
pub fn assert_error(result: &(StatusCode, Value), status: u16, code: u64) {
    assert_eq!(result.0.as_u16(), status, "status of {}", result.1);
    assert_eq!(result.1["code"], json!(code), "code of {}", result.1);
}

/// The routes `crates/api/src/routes/mod.rs` mounts, as (method, path).
/// Reading the router's source is the only way to enumerate it; it makes a
/// new route fail the tests that classify routes (`schema.rs`, `openapi.rs`)
/// until it is classified there.
pub fn mounted_routes() -> BTreeSet<(String, String)> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src/routes/mod.rs");
    let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    let code: String = source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    for call in code.split(".route(").skip(1) {
        let mut parts = call.splitn(3, '"');
        let (_, path, handlers) = (parts.next(), parts.next().expect("route path"), parts.next().expect("handlers"));
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            let mounted = handlers.match_indices(&needle).any(|(at, _)| {
                at == 0 || !handlers[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if mounted {
                out.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    assert!(out.len() > 10, "could not read the routes from {}", file.display());
    out
}
