//! The scene every bot test plays: a person, a guild, a bot in it with
//! every intent allowed, and the person's own gateway connection.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use serde_json::{json, Value};

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{TestApp, TestUser};

pub struct Scene {
    pub app: TestApp,
    pub person: TestUser,
    pub bot: TestUser,
    pub guild: String,
    pub channel: String,
    /// The person's own gateway session.
    pub watcher: Gateway,
}

impl Scene {
    pub async fn new() -> Self {
        Self::with(TestApp::spawn().await).await
    }

    pub async fn with(app: TestApp) -> Self {
        let person = app.register("person").await;
        let (guild, channel) = app.guild(&person, "Bot Testing").await;
        let guild = guild["id"].as_str().unwrap().to_owned();
        let bot = app.bot(&person, "Library Bot", true).await;
        app.add_bot(&person, &bot, &guild).await;
        let mut watcher = app.gateway("").await;
        watcher.identify(&person.token, ALL_INTENTS).await;
        Self { app, person, bot, guild, channel, watcher }
    }

    /// A scene on a server with tight limits: 5 messages per second per
    /// channel, and 3 requests per second per caller over all routes, so a
    /// burst of sends is refused by the global limit, which no library can
    /// see coming.
    pub async fn rate_limited() -> Self {
        let app = TestApp::spawn_with(|c| {
            c.ratelimit.global = ratelimit::Quota::new(3, 1_000);
            c.ratelimit
                .routes
                .insert("POST /channels/{channel_id}/messages".into(), ratelimit::RouteLimit::new(5, 1_000));
        })
        .await;
        let scene = Self::with(app).await;
        // The person's own setup requests counted too.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        scene
    }

    /// Asks the bot to send `n` messages at once, then checks each arrived
    /// exactly once. `outcome` is what the bot printed when it was done.
    pub async fn burst(&mut self, n: usize, outcome: impl std::future::Future<Output = String>) {
        self.post(&format!("burst {n}")).await;
        let said = outcome.await;
        assert_eq!(said, "BURST_DONE", "the library raised instead of waiting out the limit");
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < n {
            let event = tokio::time::timeout(Duration::from_secs(30), self.watcher.dispatch("MESSAGE_CREATE"))
                .await
                .expect("every burst message arrives");
            let content = event["d"]["content"].as_str().unwrap_or_default().to_owned();
            if event["d"]["author"]["id"] == json!(self.bot.id) && content.starts_with("burst ") {
                assert!(seen.insert(content.clone()), "{content:?} was sent twice");
            }
        }
        let expected: std::collections::BTreeSet<String> = (1..=n).map(|i| format!("burst {i}/{n}")).collect();
        assert_eq!(seen, expected);
    }

    /// The bot's token without the `Bot ` prefix, as libraries take it.
    pub fn bot_token(&self) -> String {
        self.bot.token.trim_start_matches("Bot ").to_owned()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.app.gateway_addr())
    }

    pub async fn post(&self, content: &str) -> Value {
        self.app.send(&self.person, &self.channel, content).await
    }

    /// Waits on the person's session for the bot's message saying `content`.
    pub async fn expect_bot_message(&mut self, content: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(tokio::time::Instant::now() < deadline, "the bot never said {content:?}");
            let event = self.watcher.dispatch("MESSAGE_CREATE").await;
            if event["d"]["author"]["id"] == json!(self.bot.id) && event["d"]["content"] == json!(content) {
                return event;
            }
        }
    }
}

/// The Python with discord.py that `scripts/bot-libs.sh` installs
/// (`FUSSIONCORD_PYTHON` overrides it).
pub fn python() -> String {
    let path = std::env::var("FUSSIONCORD_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/fussioncord/venv/bin/python")
    });
    assert!(std::path::Path::new(&path).exists(), "no Python with discord.py at {path}: run scripts/bot-libs.sh");
    path
}

/// Runs `tests/bots/py/<script>` as the scene's bot; returns the process and
/// its stdout, line by line.
pub fn python_bot(scene: &Scene, script: &str) -> (Child, Lines<BufReader<ChildStdout>>) {
    python_bot_with(scene, script, &[])
}

/// [`python_bot`] with `env` added to the bot's environment.
pub fn python_bot_with(scene: &Scene, script: &str, env: &[(&str, &str)]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(python())
        .arg(format!("{}/tests/bots/py/{script}", env!("CARGO_MANIFEST_DIR")))
        .env("FC_HTTP", scene.http_base())
        .env("FC_TOKEN", scene.bot_token())
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    (child, lines)
}
