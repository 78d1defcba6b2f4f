//! Operations: `/metrics` scraped and parsed by the Prometheus project's
//! own OpenMetrics parser (Python `prometheus_client`, pinned in
//! tests/bots/py/requirements.txt), numbers that move with traffic,
//! `/healthz` and `/readyz`, JSON logs that carry the request id, and the
//! Grafana dashboard checked against a live scrape so that it cannot drift.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::ws::ALL_INTENTS;
use common::{backend, TestApp, TestUser};

const MESSAGES_ROUTE: &str = "/api/v10/channels/{channel_id}/messages";

/// One sample of a scrape: its name (with `_total`, `_bucket`, … as
/// exposed), labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

struct Scrape {
    families: Vec<(String, String)>,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample called `name` whose labels include `labels`;
    /// 0 when there is none yet (a counter that has not moved).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .collect();
        assert!(found.len() <= 1, "{name}{labels:?} matches several samples: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }

    fn has_sample(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    fn family_type(&self, name: &str) -> Option<&str> {
        self.families.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str())
    }
}

fn python() -> String {
    let path = std::env::var("FUSSIONCORD_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/fussioncord/venv/bin/python")
    });
    assert!(
        std::path::Path::new(&path).exists(),
        "no Python with prometheus_client at {path}: run scripts/bot-libs.sh"
    );
    path
}

/// Parses an exposition with the reference parser; panics if it rejects it.
fn parse(text: &str) -> Scrape {
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/suite/ops/openmetrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser rejected /metrics:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut scrape = Scrape { families: Vec::new(), samples: Vec::new() };
    for f in families {
        scrape.families.push((f["name"].as_str().unwrap().to_owned(), f["type"].as_str().unwrap().to_owned()));
        for s in f["samples"].as_array().unwrap() {
            scrape.samples.push(Sample {
                name: s["name"].as_str().unwrap().to_owned(),
                labels: serde_json::from_value(s["labels"].clone()).unwrap(),
                value: s["value"].as_f64().unwrap(),
            });
        }
    }
    scrape
}

fn root(app: &TestApp) -> String {
    format!("http://{}", app.addr())
}

async fn scrape(app: &TestApp) -> Scrape {
    let res = app.client.get(format!("{}/metrics", root(app))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "Prometheus negotiates the format by content type"
    );
    parse(&res.text().await.unwrap())
}

/// Some of everything: REST calls, an unknown route, a gateway session
/// that receives a message. Returns the channel, the gateway client and
/// how many messages were posted.
async fn traffic(app: &TestApp) -> (TestUser, String, common::ws::Gateway, usize) {
    let alice = app.register("alice").await;
    let (_, channel) = app.guild(&alice, "Metrics").await;
    let mut gw = app.gateway("").await;
    gw.identify(&alice.token, ALL_INTENTS).await;
    let posted = 3;
    for i in 0..posted {
        app.send(&alice, &channel, &format!("message {i}")).await;
        assert_eq!(gw.dispatch("MESSAGE_CREATE").await["d"]["content"], format!("message {i}"));
    }
    let (status, _) = app.get("/no/such/route", &alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    (alice, channel, gw, posted)
}

#[tokio::test]
async fn metrics_move_with_requests_and_gateway_traffic() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    assert_eq!(before.value("fussioncord_gateway_sessions", &[]), 0.0);
    for scope in ["user", "global", "shared", "ip"] {
        assert!(
            before.samples.iter().any(|s| s.name == "fussioncord_rate_limited_total"
                && s.labels.get("scope").map(String::as_str) == Some(scope)),
            "rate-limit scope {scope} is exposed before its first hit"
        );
    }

    let (_alice, channel, mut gw, posted) = traffic(&app).await;
    let after = scrape(&app).await;
    assert_eq!(after.family_type("fussioncord_http_requests"), Some("counter"));
    assert_eq!(after.family_type("fussioncord_http_request_duration_seconds"), Some("histogram"));
    assert_eq!(after.family_type("fussioncord_gateway_sessions"), Some("gauge"));
    let posts = [("route", MESSAGES_ROUTE), ("method", "POST"), ("status", "200")];
    assert_eq!(
        after.value("fussioncord_http_requests_total", &posts)
            - before.value("fussioncord_http_requests_total", &posts),
        posted as f64,
        "one count per message posted, under the route template"
    );
    let timed = [("route", MESSAGES_ROUTE), ("method", "POST")];
    assert_eq!(after.value("fussioncord_http_request_duration_seconds_count", &timed), posted as f64);
    assert_eq!(
        after.value("fussioncord_http_request_duration_seconds_bucket", &[timed[0], timed[1], ("le", "+Inf")]),
        posted as f64
    );
    assert!(after.value("fussioncord_http_request_duration_seconds_sum", &timed) > 0.0);
    assert_eq!(
        after.value("fussioncord_http_requests_total", &[("route", "unmatched"), ("status", "404")]),
        1.0,
        "an unknown path is counted as unmatched, not by its raw path"
    );
    assert!(
        !after.samples.iter().any(|s| s.labels.get("route").is_some_and(|r| r.contains(&channel))),
        "no raw id in a route label"
    );

    assert_eq!(after.value("fussioncord_gateway_connections", &[]), 1.0);
    assert_eq!(after.value("fussioncord_gateway_sessions", &[]), 1.0);
    assert_eq!(after.value("fussioncord_gateway_events_total", &[("event", "MESSAGE_CREATE")]), posted as f64);
    let dispatched = after.value("fussioncord_gateway_dispatches_total", &[]);
    assert!(dispatched >= 1.0 + posted as f64, "READY and every MESSAGE_CREATE were dispatched: {dispatched}");
    assert!(after.value("fussioncord_gateway_queue_depth_count", &[]) >= posted as f64);
    assert_eq!(after.value("fussioncord_gateway_slow_consumers_dropped_total", &[]), 0.0);

    // Each create is a transaction, or on PostgreSQL (nothing to count
    // beside the row) one statement, `WITH … INSERT … UPDATE`, its own.
    let stored = |m: &Scrape| {
        m.value("fussioncord_store_duration_seconds_count", &[("op", "transaction")])
            + m.value("fussioncord_store_duration_seconds_count", &[("op", "other")])
    };
    assert!(stored(&after) >= stored(&before) + posted as f64, "every message is stored in a transaction");
    assert!(
        after.value("fussioncord_store_calls_total", &[("op", "select"), ("outcome", "ok")])
            > before.value("fussioncord_store_calls_total", &[("op", "select"), ("outcome", "ok")])
    );

    // The connection goes; its session stays, resumable.
    gw.close().await;
    let mut open = 1.0;
    for _ in 0..50 {
        open = scrape(&app).await.value("fussioncord_gateway_connections", &[]);
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0.0, "a closed connection leaves the gauge");
    assert_eq!(scrape(&app).await.value("fussioncord_gateway_sessions", &[]), 1.0);
}

#[tokio::test]
async fn servers_in_one_process_count_only_their_own_traffic() {
    let busy = TestApp::spawn().await;
    let quiet = TestApp::spawn().await;
    traffic(&busy).await;
    let scrape = scrape(&quiet).await;
    assert_eq!(scrape.value("fussioncord_http_requests_total", &[("route", MESSAGES_ROUTE)]), 0.0);
    assert_eq!(scrape.value("fussioncord_gateway_sessions", &[]), 0.0);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let res = app.client.get(format!("{}/healthz", root(&app))).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123", "the client's id comes back");
    let a = app.client.get(format!("{}/api/v10/gateway", root(&app))).send().await.unwrap();
    let b = app.client.get(format!("{}/api/v10/gateway", root(&app))).send().await.unwrap();
    let (a, b) = (&a.headers()["x-request-id"], &b.headers()["x-request-id"]);
    assert!(!a.is_empty() && a != b, "each request without one gets its own: {a:?} {b:?}");
    // An id that could forge log lines is replaced.
    let res =
        app.client.get(format!("{}/healthz", root(&app))).header("x-request-id", "x".repeat(500)).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn health_readiness_and_metrics_switch() {
    let app = TestApp::spawn().await;
    let get = |path: &str| app.client.get(format!("{}{path}", root(&app))).send();
    let res = get("/healthz").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
    let res = get("/readyz").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "status": "ok", "checks": { "store": "ok", "bus": "ok", "ratelimit": "ok", "ids": "ok", "sessions": "ok" } })
    );

    if backend() == "postgres" {
        // The database goes away under the running server: not ready, but
        // still alive. (Embedded SQLite cannot be taken away from a running
        // process; the store crate's own test closes it and checks ping.)
        let admin =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let url = app.config.database.url.clone().expect("a PostgreSQL test has a database URL");
        let name = url.rsplit('/').next().unwrap();
        let out = Command::new("psql")
            .args(["-q", "-d", &admin, "-c", &format!("DROP DATABASE {name} WITH (FORCE)")])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let res = get("/readyz").await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = res.json::<Value>().await.unwrap();
        assert_eq!(
            body,
            json!({ "status": "unavailable", "checks": { "store": "unavailable", "bus": "ok", "ratelimit": "ok", "ids": "ok", "sessions": "ok" } })
        );
        assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    }

    let off = TestApp::spawn_with(|c| c.metrics.enabled = false).await;
    let res = off.client.get(format!("{}/metrics", root(&off))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "metrics.enabled = false hides /metrics");
}

/// Every metric the Grafana dashboard queries exists in a live scrape, so
/// renaming a metric without the dashboard (or the reverse) fails here.
#[tokio::test]
async fn the_grafana_dashboard_uses_only_metrics_the_server_exposes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/grafana/fussioncord.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"),
        "the Prometheus data source is a variable, so the dashboard imports anywhere"
    );
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 8, "{exprs:?}");
    let mut names: Vec<String> = Vec::new();
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("fussioncord_") {
            let tail = &rest[at..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            names.push(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    names.sort();
    names.dedup();

    let app = TestApp::spawn().await;
    let _busy = traffic(&app).await;
    let scrape = scrape(&app).await;
    let missing: Vec<&String> = names.iter().filter(|n| !scrape.has_sample(n)).collect();
    assert!(missing.is_empty(), "the dashboard queries metrics /metrics lacks: {missing:?}");
    for family in [
        "http_requests",
        "http_request_duration_seconds",
        "gateway_sessions",
        "gateway_events",
        "gateway_queue_depth",
        "gateway_slow_consumers_dropped",
        "store_duration_seconds",
        "rate_limited",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(&format!("fussioncord_{family}"))),
            "the dashboard has no panel for {family}"
        );
    }
}

/// `serve --log-format json`: every line on stderr is a JSON object, the
/// access line of a request carries the id the client sent, and no token
/// appears anywhere.
#[tokio::test]
async fn json_logs_carry_the_request_id_and_no_secrets() {
    let database_url = common::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::binary(&database_url);
    cmd.env("RUST_LOG", "info")
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("serve starts");
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || BufReader::new(stderr).lines().map(Result::unwrap).collect::<Vec<_>>());
    let mut banner = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut banner).unwrap();
    let addr = banner.trim().rsplit("http://").next().unwrap().to_owned();

    let client = reqwest::Client::new();
    let secret = "Bot c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1ub3QtbGVhaw";
    let res = client
        .get(format!("http://{addr}/api/v10/users/@me"))
        .header("x-request-id", "req-from-the-client-42")
        .header("Authorization", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-request-id"], "req-from-the-client-42");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let lines = logs.join().unwrap();
    assert!(exit.success(), "the server exited with {exit} on SIGTERM; its log:\n{}", lines.join("\n"));

    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
        .collect();
    assert!(parsed.iter().any(|l| l["fields"]["message"] == "listening"), "{lines:#?}");
    let access = parsed
        .iter()
        .find(|l| l["span"]["request_id"] == "req-from-the-client-42")
        .unwrap_or_else(|| panic!("no line carries the request id: {lines:#?}"));
    assert_eq!(access["span"]["route"], "/api/v10/users/@me");
    assert_eq!(access["span"]["method"], "GET");
    assert_eq!(access["fields"]["status"], 401);
    assert!(access["fields"]["latency_ms"].is_number());
    assert!(
        !lines.iter().any(|l| l.contains("c2VjcmV0") || l.to_lowercase().contains("authorization")),
        "a token or the Authorization header was logged"
    );
}

#[tokio::test]
async fn rate_limit_hits_are_counted_by_scope() {
    let app = TestApp::spawn_with(|c| {
        c.ratelimit.global = ratelimit::Quota::new(2, 60_000);
        c.ratelimit.routes.insert("GET /gateway".into(), ratelimit::RouteLimit::new(1, 60_000));
    })
    .await;
    let before = scrape(&app).await;
    let person = app.register("person").await;
    // The global limit: two requests pass, the third is refused.
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        let (status, _) = app.get("/users/@me", &person.token).await;
        assert_eq!(status, expected);
    }
    // A route's limit, for a caller without a token.
    for expected in [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        let status = app.client.get(format!("{}/gateway", app.base)).send().await.unwrap().status();
        assert_eq!(status, expected);
    }
    let after = scrape(&app).await;
    let moved = |scope: &str| {
        let labels = [("scope", scope)];
        after.value("fussioncord_rate_limited_total", &labels) - before.value("fussioncord_rate_limited_total", &labels)
    };
    assert_eq!((moved("global"), moved("user"), moved("ip"), moved("shared")), (1.0, 1.0, 0.0, 0.0));
    let refused = [("route", "/api/v10/users/@me"), ("method", "GET"), ("status", "429")];
    assert_eq!(after.value("fussioncord_http_requests_total", &refused), 1.0, "429s are answers like any other");
}

#[tokio::test]
async fn invented_methods_share_one_label() {
    let app = TestApp::spawn().await;
    for method in ["FOO1", "FOO2", "BREW"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app.client.request(method, format!("{}/gateway", app.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let after = scrape(&app).await;
    let methods: std::collections::BTreeSet<&str> = after
        .samples
        .iter()
        .filter(|s| s.name == "fussioncord_http_requests_total")
        .filter_map(|s| s.labels.get("method").map(String::as_str))
        .collect();
    assert!(methods.contains("other"), "{methods:?}");
    assert!(!methods.iter().any(|m| m.starts_with("FOO") || *m == "BREW"), "{methods:?}");
}
