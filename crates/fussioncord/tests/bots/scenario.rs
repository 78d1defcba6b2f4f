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
    let mut child = Command::new(python())
        .arg(format!("{}/tests/bots/py/{script}", env!("CARGO_MANIFEST_DIR")))
        .env("FC_HTTP", scene.http_base())
        .env("FC_TOKEN", scene.bot_token())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python runs");
    let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    (child, lines)
}
