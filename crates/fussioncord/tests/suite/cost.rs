//! What a request costs the store: the SQL statements one message create
//! runs on a warm cache, counted from the real binary's own statement log
//! (`sqlx::query` at debug, JSON lines), the way docs/PERFORMANCE.md counts
//! them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common;

/// A server binary logging every SQL statement, and its log lines.
struct Logged {
    child: std::process::Child,
    logs: std::thread::JoinHandle<Vec<String>>,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Logged {
    async fn start() -> Self {
        let database_url = common::fresh_database().await;
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = common::binary(&database_url);
        cmd.env("RUST_LOG", "info,sqlx::query=debug")
            .env("FUSSIONCORD__RATELIMIT__ENABLED", "false")
            .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("serve starts");
        let stderr = child.stderr.take().unwrap();
        let logs = std::thread::spawn(move || BufReader::new(stderr).lines().map(Result::unwrap).collect());
        let mut banner = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut banner).unwrap();
        let addr = banner.trim().rsplit("http://").next().unwrap().to_owned();
        Self { child, logs, base: format!("http://{addr}/api/v10"), client: reqwest::Client::new(), _dir: dir }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>, id: &str) -> Value {
        let mut req =
            self.client.request(method.parse().unwrap(), format!("{}{path}", self.base)).header("x-request-id", id);
        if let Some(token) = token {
            req = req.header("Authorization", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status == StatusCode::OK || status == StatusCode::CREATED, "{method} {path}: {status} {body}");
        body
    }

    /// Stops the server and answers its log, one JSON value a line.
    fn stop(mut self) -> Vec<Value> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap();
        let lines = self.logs.join().unwrap();
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// The statements logged after the access line of request `before` and up
/// to the access line of request `id` (nothing else runs meanwhile).
fn statements_of(log: &[Value], before: &str, id: &str) -> Vec<String> {
    let access = |l: &Value, rid: &str| l["span"]["request_id"] == rid && l["fields"]["status"].is_number();
    let start = log.iter().position(|l| access(l, before)).unwrap_or_else(|| panic!("no access line of {before}"));
    let end = log.iter().position(|l| access(l, id)).unwrap_or_else(|| panic!("no access line of {id}"));
    log[start + 1..end]
        .iter()
        .filter(|l| l["target"] == "sqlx::query")
        .map(|l| {
            let statement = l["fields"]["db.statement"].as_str().unwrap_or("").trim();
            let summary = l["fields"]["summary"].as_str().unwrap_or("").trim();
            if statement.is_empty() { summary } else { statement }.to_owned()
        })
        // A transaction's own BEGIN and COMMIT are not counted (as in
        // docs/PERFORMANCE.md): they are the transaction, not its work.
        .filter(|s| !matches!(s.to_uppercase().as_str(), "BEGIN" | "COMMIT" | "ROLLBACK"))
        .collect()
}

#[tokio::test]
async fn a_message_create_runs_only_its_writes_on_a_warm_cache() {
    let server = Logged::start().await;
    let reg = server
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"username": "cost", "email": "cost@example.com", "password": "correct horse battery"})),
            "r",
        )
        .await;
    let token = reg["token"].as_str().unwrap().to_owned();
    let guild = server.call("POST", "/guilds", Some(&token), Some(json!({"name": "cost"})), "g").await;
    let channels = server
        .call("GET", &format!("/guilds/{}/channels", guild["id"].as_str().unwrap()), Some(&token), None, "c")
        .await;
    let channel =
        channels.as_array().unwrap().iter().find(|c| c["type"] == 0).unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/channels/{channel}/messages");
    // The first create fills the caches (token, channel, guild, member,
    // overwrites, AutoMod rules); the next ones run on a warm cache and
    // read nothing: the INSERT and the channel's last message are all.
    // A read that raced a change the cache heard of (the guild's creation
    // events reach it from the bus a moment later) is not kept, so warm it
    // more than once.
    for i in 0..3 {
        server.call("POST", &path, Some(&token), Some(json!({"content": "warm"})), &format!("m0-{i}")).await;
    }
    // Three counted creates: a statement of a task running beside one (a
    // store read the server does in the background) lands in its window of
    // the log, so the fewest is what a create costs.
    let mut sent = Value::Null;
    for i in 0..3 {
        server.call("GET", "/gateway", None, None, &format!("mark1-{i}")).await;
        sent = server.call("POST", &path, Some(&token), Some(json!({"content": "counted"})), &format!("m1-{i}")).await;
        assert_eq!(sent["content"], "counted");
    }
    server.call("GET", "/gateway", None, None, "mark2").await;
    let sent = server
        .call(
            "POST",
            &path,
            Some(&token),
            Some(json!({"content": "reply", "message_reference": {"message_id": sent["id"]}})),
            "m2",
        )
        .await;
    assert_eq!(sent["referenced_message"]["content"], "counted", "a reply renders what it replies to");

    let log = server.stop();
    let plain = (0..3)
        .map(|i| statements_of(&log, &format!("mark1-{i}"), &format!("m1-{i}")))
        .min_by_key(|s| (s.iter().filter(|s| s.to_uppercase().starts_with("SELECT")).count(), s.len()))
        .unwrap();
    assert!(!plain.is_empty(), "the statement log is empty: is sqlx::query logged? {log:#?}");
    assert!(plain.len() <= 2, "a message create ran {} statements: {plain:#?}", plain.len());
    assert!(plain.iter().all(|s| !s.to_uppercase().starts_with("SELECT")), "a create read the store: {plain:#?}");
    let reply = statements_of(&log, "mark2", "m2");
    // A reply reads the message it replies to once more.
    assert!(reply.len() <= 3, "a reply ran {} statements: {reply:#?}", reply.len());
    eprintln!("message create: {} statements {plain:#?}\nreply: {} statements {reply:#?}", plain.len(), reply.len());
}
