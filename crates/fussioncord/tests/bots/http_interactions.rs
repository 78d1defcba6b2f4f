//! HTTP interactions (issue 18): an application without a gateway session
//! sets an interactions endpoint, a small Node server that checks every
//! signature with Node's own Ed25519; the server proves the endpoint with
//! a signed PING (and a badly signed one, which must be refused), then
//! delivers a person's command to it and posts the endpoint's answer. A
//! tampered request is refused by the endpoint, so the signing is real; an
//! endpoint on a loopback address not allowed by `[interactions]` is never
//! reached.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::scenario::Scene;
use crate::common::TestApp;

const BOT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bots/js");

struct Endpoint {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    port: u16,
}

impl Endpoint {
    async fn start(verify_key: &str) -> Self {
        let mut child = Command::new("node")
            .arg("http_interactions.mjs")
            .current_dir(BOT_DIR)
            .env("FC_VERIFY_KEY", verify_key)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await.unwrap().expect("the endpoint says where it listens");
        let port = first.strip_prefix("LISTENING ").expect("LISTENING").parse().unwrap();
        Self { _child: child, lines, port }
    }

    async fn said(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("the endpoint said something")
            .unwrap()
            .expect("a line")
    }

    /// Whatever the endpoint said within `wait` (nothing, if not reached).
    async fn quiet(&mut self, wait: Duration) -> Option<String> {
        tokio::time::timeout(wait, self.lines.next_line()).await.ok().and_then(|l| l.ok().flatten())
    }
}

#[tokio::test]
async fn an_http_interactions_endpoint_is_verified_and_answers_commands() {
    let app = TestApp::spawn_with(|c| c.interactions.endpoint_allow = vec!["127.0.0.1".into()]).await;
    let mut scene = Scene::with(app).await;
    let (_, me) = scene.app.get("/applications/@me", &scene.bot.token).await;
    let verify_key = me["verify_key"].as_str().unwrap().to_owned();
    assert_eq!(verify_key.len(), 64, "an Ed25519 public key in hex: {me}");
    let mut endpoint = Endpoint::start(&verify_key).await;
    let url = format!("http://127.0.0.1:{}/interactions", endpoint.port);

    // Set: proven by a signed PING and a badly signed one.
    let (status, updated) =
        scene.app.patch("/applications/@me", &scene.bot.token, json!({"interactions_endpoint_url": url})).await;
    assert_eq!(status.as_u16(), 200, "{updated}");
    assert_eq!(updated["interactions_endpoint_url"], url);
    assert_eq!(endpoint.said().await, "VERIFIED 1");
    assert_eq!(endpoint.said().await, "REJECTED");

    // A tampered request is refused by the endpoint itself.
    let res = reqwest::Client::new()
        .post(&url)
        .header("x-signature-ed25519", "00".repeat(64))
        .header("x-signature-timestamp", "1700000000")
        .body(r#"{"type":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(endpoint.said().await, "REJECTED");

    // A command, used by a person, reaches the endpoint and its answer is
    // posted in the channel.
    let path = format!("/applications/{}/guilds/{}/commands", scene.bot.id, scene.guild);
    let command = json!({"name": "ping", "description": "Pings", "options": [{"type": 3, "name": "note", "description": "Note"}]});
    let (status, made) = scene.app.post(&path, &scene.bot.token, command).await;
    assert!(status.is_success(), "{made}");
    let invoke = json!({"type": 2, "application_id": scene.bot.id, "guild_id": scene.guild, "channel_id": scene.channel,
        "nonce": "h", "data": {"id": made["id"], "name": "ping", "type": 1, "options": [{"name": "note", "type": 3, "value": "hi"}]}});
    let (status, body) = scene.app.post("/interactions", &scene.person.token, invoke).await;
    assert_eq!(status.as_u16(), 204, "{body}");
    assert_eq!(endpoint.said().await, "VERIFIED 2");
    let answer = loop {
        let e = scene.watcher.dispatch("MESSAGE_CREATE").await;
        if e["d"]["author"]["id"] == json!(scene.bot.id) {
            break e["d"].clone();
        }
    };
    assert_eq!(answer["content"], "Over HTTP for person: note=hi");
    assert_eq!(answer["type"], 20);
    let success = scene.watcher.dispatch("INTERACTION_SUCCESS").await;
    assert_eq!(success["d"]["nonce"], "h");

    // An endpoint that does not check signatures is refused, and nothing
    // changes.
    let (status, body) = scene
        .app
        .patch(
            "/applications/@me",
            &scene.bot.token,
            json!({"interactions_endpoint_url": "http://127.0.0.1:9/nothing"}),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(
        body["errors"]["interactions_endpoint_url"]["_errors"][0]["code"],
        "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID"
    );
    let (_, me) = scene.app.get("/applications/@me", &scene.bot.token).await;
    assert_eq!(me["interactions_endpoint_url"], url);
}

#[tokio::test]
async fn endpoints_on_addresses_not_allowed_are_never_reached() {
    // No [interactions] allow-list: loopback is not public.
    let scene = Scene::new().await;
    let (_, me) = scene.app.get("/applications/@me", &scene.bot.token).await;
    let mut endpoint = Endpoint::start(me["verify_key"].as_str().unwrap()).await;
    for host in ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"] {
        let url = format!("http://{host}:{}/interactions", endpoint.port);
        let (status, body): (_, Value) =
            scene.app.patch("/applications/@me", &scene.bot.token, json!({"interactions_endpoint_url": url})).await;
        assert_eq!(status.as_u16(), 400, "{host}: {body}");
    }
    assert_eq!(endpoint.quiet(Duration::from_millis(500)).await, None, "the endpoint was reached");
    let (_, me) = scene.app.get("/applications/@me", &scene.bot.token).await;
    assert_eq!(me["interactions_endpoint_url"], Value::Null);
}
