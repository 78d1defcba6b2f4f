//! Rate limits driven to their edges over HTTP: route buckets per major
//! parameter, the global limit, per-address limits for callers without a
//! token, the headers and 429 bodies, the reset, and counters shared by
//! two nodes. Every test runs once with in-process counters and once with
//! Redis (127.0.0.1:6379, or `TEST_REDIS_URL`).

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{TestApp, TestUser};
use ratelimit::{Backend, Quota, RouteLimit};

/// Each test, once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                super::$name(ratelimit::Backend::Memory).await
            }
            #[tokio::test]
            async fn redis() {
                super::$name(ratelimit::Backend::Redis).await
            }
        }
    )*};
}

on_both_backends!(
    a_route_bucket_counts_per_caller_and_channel_and_resets,
    the_global_limit_spans_every_route,
    callers_without_a_token_are_limited_per_address,
    two_nodes_share_counts_only_through_redis,
    session_starts_are_counted_where_every_node_reports_them,
);

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix of its own, so tests never see each other's counts in Redis.
fn fresh_prefix() -> String {
    format!("fc-test:{:016x}:", rand::random::<u64>())
}

fn use_backend(config: &mut server::Config, backend: Backend, prefix: &str) {
    config.ratelimit.backend = backend;
    config.ratelimit.redis_url = redis_url();
    config.ratelimit.key_prefix = prefix.to_owned();
}

async fn spawn(backend: Backend, tune: impl FnOnce(&mut ratelimit::RateLimitConfig)) -> TestApp {
    let prefix = fresh_prefix();
    TestApp::spawn_with(|c| {
        use_backend(c, backend, &prefix);
        tune(&mut c.ratelimit);
    })
    .await
}

/// A request whose headers matter as much as its body.
async fn send(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
    Answer { status, headers, body }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    fn number(&self, name: &str) -> f64 {
        self.header(name).unwrap_or_else(|| panic!("no {name} header ({})", self.status)).parse().expect("a number")
    }

    fn remaining(&self) -> u32 {
        self.number("x-ratelimit-remaining") as u32
    }

    /// Asserts the bucket headers are whole and consistent with one another
    /// and the clock, for a bucket of `limit` per `window`.
    fn assert_bucket(&self, limit: u32, window: Duration) {
        assert_eq!(self.number("x-ratelimit-limit") as u32, limit, "limit header");
        assert!(self.remaining() <= limit);
        let after = self.number("x-ratelimit-reset-after");
        assert!(after > 0.0 && after <= window.as_secs_f64(), "reset-after {after} outside (0, {window:?}]");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let reset = self.number("x-ratelimit-reset");
        assert!((reset - (now + after)).abs() < 1.0, "reset {reset} is not now ({now}) + reset-after ({after})");
        let bucket = self.header("x-ratelimit-bucket").expect("bucket header");
        assert!(!bucket.is_empty() && bucket.len() <= 64);
    }

    /// Asserts a Discord 429: headers and `{message, retry_after, global}`.
    fn assert_limited(&self, global: bool, scope: &str, window: Duration) -> Duration {
        assert_eq!(self.status, StatusCode::TOO_MANY_REQUESTS, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.body["message"], json!("You are being rate limited."));
        assert_eq!(self.body["global"], json!(global));
        assert!(self.body["code"].is_u64());
        let retry = self.body["retry_after"].as_f64().expect("retry_after is a number");
        assert!(retry > 0.0 && retry <= window.as_secs_f64(), "retry_after {retry} outside (0, {window:?}]");
        assert_eq!(self.number("retry-after") as u64, retry.ceil() as u64, "Retry-After is retry_after rounded up");
        assert!(self.header("via").is_some(), "discord.py needs Via on a 429");
        assert_eq!(self.header("x-ratelimit-scope"), Some(scope));
        assert_eq!(self.header("x-ratelimit-global"), global.then_some("true"));
        Duration::from_secs_f64(retry)
    }
}

async fn message(app: &TestApp, user: &TestUser, channel: &str, content: &str) -> Answer {
    let path = format!("/channels/{channel}/messages");
    send(app, Method::POST, &path, Some(&user.token), Some(json!({ "content": content }))).await
}

async fn a_route_bucket_counts_per_caller_and_channel_and_resets(backend: Backend) {
    let window = Duration::from_millis(1500);
    let app = spawn(backend, |rl| {
        rl.routes.insert("POST /channels/{channel_id}/messages".into(), RouteLimit::new(3, 1500));
    })
    .await;
    let owner = app.register("owner").await;
    let other = app.register("other").await;
    let (guild, general) = app.guild(&owner, "Limits").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&owner, &general, &other).await;
    let (_, second) = app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({ "name": "second" })).await;
    let second = second["id"].as_str().unwrap().to_owned();

    let mut bucket = None;
    for remaining in [2, 1, 0] {
        let sent = message(&app, &owner, &general, "within").await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        sent.assert_bucket(3, window);
        assert_eq!(sent.remaining(), remaining);
        let name = sent.header("x-ratelimit-bucket").unwrap().to_owned();
        assert_eq!(bucket.get_or_insert(name.clone()), &name, "one route, one bucket");
    }

    let refused = message(&app, &owner, &general, "over the limit").await;
    let retry = refused.assert_limited(false, "user", window);
    // Another spelling of the same channel is the same bucket.
    let respelled = message(&app, &owner, &format!("000{general}"), "over the limit").await;
    respelled.assert_limited(false, "user", window);
    refused.assert_bucket(3, window);
    assert_eq!(refused.remaining(), 0);
    assert_eq!(refused.header("x-ratelimit-bucket"), bucket.as_deref());

    // The refused message was never created.
    let (_, history) = app.get(&format!("/channels/{general}/messages"), &owner.token).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["within"; 3]);

    // Another channel (a major parameter) and another caller have counts of their own.
    let elsewhere = message(&app, &owner, &second, "other channel").await;
    assert_eq!(elsewhere.status, StatusCode::OK);
    assert_eq!(elsewhere.remaining(), 2);
    assert_eq!(elsewhere.header("x-ratelimit-bucket"), bucket.as_deref(), "same route, same bucket name");
    let someone = message(&app, &other, &general, "another caller").await;
    assert_eq!(someone.status, StatusCode::OK);
    assert_eq!(someone.remaining(), 2);
    // Another route is another bucket.
    let read = send(&app, Method::GET, &format!("/channels/{general}/messages"), Some(&owner.token), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_ne!(read.header("x-ratelimit-bucket"), bucket.as_deref());

    // After retry_after the window has reset.
    tokio::time::sleep(retry + Duration::from_millis(50)).await;
    let again = message(&app, &owner, &general, "after the reset").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.remaining(), 2);
}

async fn the_global_limit_spans_every_route(backend: Backend) {
    let window = Duration::from_millis(2000);
    let app = spawn(backend, |rl| rl.global = Quota::new(4, 2000)).await;
    let person = app.register("person").await;
    let bystander = app.register("bystander").await;
    let paths = ["/users/@me", "/users/@me/guilds", "/gateway", "/users/@me"];
    for path in paths {
        let ok = send(&app, Method::GET, path, Some(&person.token), None).await;
        assert_eq!(ok.status, StatusCode::OK, "{path}: {}", ok.body);
    }
    let refused = send(&app, Method::GET, "/users/@me/guilds", Some(&person.token), None).await;
    let retry = refused.assert_limited(true, "global", window);
    // A limit over every route names no bucket.
    assert!(refused.header("x-ratelimit-bucket").is_none());

    let other = send(&app, Method::GET, "/users/@me", Some(&bystander.token), None).await;
    assert_eq!(other.status, StatusCode::OK, "another user is not limited");

    tokio::time::sleep(retry + Duration::from_millis(50)).await;
    let again = send(&app, Method::GET, "/users/@me", Some(&person.token), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

async fn callers_without_a_token_are_limited_per_address(backend: Backend) {
    let window = Duration::from_millis(3000);
    let app = spawn(backend, |rl| {
        rl.routes.insert("POST /auth/register".into(), RouteLimit::new(2, 3000));
        rl.per_ip = Quota::new(6, 3000);
    })
    .await;
    let register = |name: &str| {
        let body =
            json!({ "username": name, "email": format!("{name}@example.org"), "password": "correct horse battery" });
        send(&app, Method::POST, "/auth/register", None, Some(body))
    };
    let mut token = String::new();
    for name in ["first", "second"] {
        let ok = register(name).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        ok.assert_bucket(2, window);
        token = ok.body["token"].as_str().expect("a token").to_owned();
    }
    let refused = register("third").await;
    refused.assert_limited(false, "user", window);
    // A token does not buy a fresh budget on routes that need none.
    let body = json!({ "username": "third", "email": "third@example.org", "password": "correct horse battery" });
    let with_token = send(&app, Method::POST, "/auth/register", Some(&token), Some(body)).await;
    with_token.assert_limited(false, "user", window);
    // Nothing was created: the name is still free for a login to fail on.
    let login = json!({ "login": "third@example.org", "password": "correct horse battery" });
    let failed = send(&app, Method::POST, "/auth/login", None, Some(login)).await;
    assert_ne!(failed.status, StatusCode::OK, "the refused registration created an account");

    // Five requests so far (four registrations, a login); a bad token
    // counts as no token. One more fills the address's own limit of six,
    // the next is refused.
    let bad = Some("not-a-token");
    for _ in 0..1 {
        let r = send(&app, Method::GET, "/gateway", bad, None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let refused = send(&app, Method::GET, "/gateway", bad, None).await;
    refused.assert_limited(true, "global", window);

    // A valid token is counted as its user, not as the address.
    let me = send(&app, Method::GET, "/users/@me", Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}

async fn two_nodes_share_counts_only_through_redis(backend: Backend) {
    let prefix = fresh_prefix();
    let tune = |c: &mut server::Config| {
        use_backend(c, backend, &prefix);
        c.ratelimit.routes.insert("POST /auth/register".into(), RouteLimit::new(2, 10_000));
    };
    let a = TestApp::spawn_with(tune).await;
    let b = TestApp::spawn_with(tune).await;
    let body = |name: &str| json!({ "username": name, "email": format!("{name}@example.org"), "password": "correct horse battery" });
    for name in ["one", "two"] {
        let ok = send(&a, Method::POST, "/auth/register", None, Some(body(name))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    let on_b = send(&b, Method::POST, "/auth/register", None, Some(body("three"))).await;
    match backend {
        Backend::Redis => {
            on_b.assert_limited(false, "user", Duration::from_secs(10));
        }
        Backend::Memory => {
            assert_eq!(on_b.status, StatusCode::OK, "in-process counts are per node: {}", on_b.body);
            assert_eq!(on_b.remaining(), 1);
        }
    }
}

async fn remaining(app: &TestApp, bot: &TestUser) -> u64 {
    let (status, body) = app.get("/gateway/bot", &bot.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session_start_limit"]["remaining"].as_u64().unwrap()
}

/// IDENTIFYs count in the limiter's counters, which `GET /gateway/bot`
/// reads without counting: with Redis, every node reports the same
/// `remaining` (and enforces it); in memory, each node its own.
async fn session_starts_are_counted_where_every_node_reports_them(backend: Backend) {
    let prefix = fresh_prefix();
    let tune = |c: &mut server::Config| {
        use_backend(c, backend, &prefix);
        c.gateway.session_start_total = 2;
    };
    let a = TestApp::spawn_with(tune).await;
    let b_server = TestApp::spawn_with(|c| {
        tune(c);
        // The same database, another node.
        c.database.url = a.config.database.url.clone();
        c.data_dir = a.config.data_dir.clone();
    })
    .await;
    let owner = a.register("owner").await;
    let bot = a.bot(&owner, "Counted", false).await;
    assert_eq!(remaining(&a, &bot).await, 2);
    // Reading twice counts nothing.
    assert_eq!(remaining(&a, &bot).await, 2);
    let mut gw = a.gateway("").await;
    gw.identify(&bot.token, 1).await;
    assert_eq!(remaining(&a, &bot).await, 1);
    let on_b = remaining(&b_server, &bot).await;
    match backend {
        Backend::Redis => assert_eq!(on_b, 1, "the other node reads the shared count"),
        Backend::Memory => assert_eq!(on_b, 2, "in-process counts are per node"),
    }
}

#[tokio::test]
async fn every_answer_carries_its_bucket_and_none_when_limits_are_off() {
    let on = TestApp::spawn().await;
    let person = on.register("person").await;
    let me = send(&on, Method::GET, "/users/@me", Some(&person.token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    me.assert_bucket(1_000_000, Duration::from_secs(1));
    let missing = send(&on, Method::GET, "/users/999", Some(&person.token), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.header("x-ratelimit-bucket").is_some(), "errors count and carry the headers too");

    let off = TestApp::spawn_with(|c| c.ratelimit.enabled = false).await;
    let person = off.register("person").await;
    let me = send(&off, Method::GET, "/users/@me", Some(&person.token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.header("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path().join("data"), common::fresh_database().await);
    config.ratelimit.backend = Backend::Redis;
    config.ratelimit.redis_url = "redis://127.0.0.1:1".into();
    let err = match server::start(config).await {
        Ok(_) => panic!("started without its rate limiter"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("rate limiter"), "{err}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for() {
    let register = |app: &TestApp, name: &str, forwarded: &str| {
        let body =
            json!({ "username": name, "email": format!("{name}@example.org"), "password": "correct horse battery" });
        let req =
            app.client.post(format!("{}/auth/register", app.base)).header("X-Forwarded-For", forwarded).json(&body);
        async move { req.send().await.unwrap().status() }
    };
    let limit_register = |c: &mut server::Config| {
        c.ratelimit.routes.insert("POST /auth/register".into(), RouteLimit::new(1, 60_000));
    };

    let proxied = TestApp::spawn_with(|c| {
        limit_register(c);
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(register(&proxied, "first", "203.0.113.5").await, StatusCode::OK);
    assert_eq!(register(&proxied, "again", "203.0.113.5").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(register(&proxied, "other", "203.0.113.6").await, StatusCode::OK, "another client behind the proxy");
    // A client cannot pick its address by prepending its own hop.
    assert_eq!(register(&proxied, "forged", "198.51.100.1, 203.0.113.5").await, StatusCode::TOO_MANY_REQUESTS);

    // Without trusting the peer, the header is ignored.
    let direct = TestApp::spawn_with(limit_register).await;
    assert_eq!(register(&direct, "first", "203.0.113.5").await, StatusCode::OK);
    assert_eq!(register(&direct, "other", "203.0.113.6").await, StatusCode::TOO_MANY_REQUESTS);
}
