//! One tour for every library added since issue 13: connect, messages,
//! reactions, a member update and a reconnect that must resume, each step
//! checked both through the person's own gateway session and through what
//! the library's cache made of it.
//!
//! The bot is a separate process (Python or Node) that prints one line per
//! thing it saw:
//!
//! - `READY <bot id> <guild count>` when the library says it is ready (some
//!   say so again after a resume), then `GUILD <json>`: the scene's guild from the library's cache
//!   (`id`, `name`, `channels` (text channel ids), `roles` (names),
//!   `members` (ids), `owner_id`).
//! - For "ping TAG" from someone else it replies "pong TAG from LIBRARY", then
//!   reacts 👍 to the ping, then prints `REPLIED TAG <reply id>`.
//! - `REACTION <json>` for each reaction someone else adds (`message_id`,
//!   `user_id`, `emoji`, `count` and `me` from its cached message).
//! - `MEMBER_UPDATE <json>` for each GUILD_MEMBER_UPDATE (`id`,
//!   `nick_before`, `nick`, `roles_before`, `roles` as names from its cache).
//! - `RESUMED` when a resume succeeded.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::proxy::Proxy;
use crate::scenario::Scene;

/// A bot process, its stdout read line by line and its stderr (the
/// library's log) kept for failure messages.
pub struct LineBot {
    library: &'static str,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// Every line read so far, in order.
    seen: Vec<String>,
    /// A panic message already carries the stderr.
    reported: bool,
}

impl LineBot {
    /// Starts `command` with the scene's bot token and guild and `base` as
    /// the server's address (`FC_HTTP`, `FC_TOKEN`, `FC_GUILD`).
    pub fn spawn(library: &'static str, mut command: Command, scene: &Scene, base: &str) -> Self {
        command.env("FC_HTTP", base).env("FC_TOKEN", scene.bot_token()).env("FC_GUILD", &scene.guild);
        Self::run(library, command)
    }

    /// Starts `command` as it is (its environment set by the caller).
    pub fn run(library: &'static str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {library} bot: {e}"));
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        // Drained continuously: a chatty debug log would otherwise fill the
        // pipe and stall the bot.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { library, child, stdout, stderr, seen: Vec::new(), reported: false }
    }

    pub fn fail(&mut self, what: String) -> ! {
        self.reported = true;
        let stderr = self.stderr.lock().unwrap().clone();
        panic!("{}: {what}\nits lines: {:#?}\nits stderr:\n{stderr}", self.library, self.seen);
    }

    /// Reads until a line starting with `prefix`; returns the rest of it.
    pub async fn says(&mut self, prefix: &str) -> String {
        self.says_any(&[prefix]).await.1
    }

    /// Reads until a line starting with one of `prefixes`; returns which one
    /// and the rest of the line.
    pub async fn says_any<'a>(&mut self, prefixes: &[&'a str]) -> (&'a str, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    if let Some(prefix) = prefixes.iter().find(|p| line.starts_with(**p)) {
                        return (prefix, line[prefix.len()..].to_owned());
                    }
                }
                Ok(_) => {
                    let status = self.child.wait().await;
                    // Give the stderr reader a moment to take the last lines.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    self.fail(format!("exited ({status:?}) before saying any of {prefixes:?}"));
                }
                Err(_) => self.fail(format!("said none of {prefixes:?} within 60 s")),
            }
        }
    }

    /// Every line said within `wait`, after those already read.
    pub async fn lines_within(&mut self, wait: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
            self.seen.push(line.clone());
            out.push(line);
        }
        out
    }

    /// Every line read so far, in order.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Reads until a `KIND <json>` line; returns the JSON.
    pub async fn json(&mut self, kind: &str) -> Value {
        let rest = self.says(&format!("{kind} ")).await;
        serde_json::from_str(&rest).unwrap_or_else(|e| self.fail(format!("{kind} is not JSON ({e}): {rest}")))
    }
}

impl Drop for LineBot {
    /// A failure elsewhere (say the watcher never sees the reply) still shows
    /// what the library saw.
    fn drop(&mut self) {
        if std::thread::panicking() && !self.reported {
            eprintln!(
                "--- {} bot lines: {:#?}\n--- its stderr ---\n{}--- end ---",
                self.library,
                self.seen,
                self.stderr.lock().unwrap()
            );
        }
    }
}

/// The tour. `start` launches the library's bot against the given base URL.
pub async fn tour(library: &'static str, start: impl FnOnce(&Scene, &str) -> LineBot) {
    let mut scene = Scene::new().await;
    let app = &scene.app;
    // A second member, so the guild's member list is more than its owner and the bot.
    let other = app.register("other").await;
    app.join(&scene.person, &scene.channel, &other).await;
    let proxy = Proxy::start(scene.app.gateway_addr()).await;
    let mut bot = start(&scene, &proxy.http_base());

    // Connect: READY, then the guild as GUILD_CREATE filled the cache.
    let ready = bot.says("READY ").await;
    assert_eq!(ready, format!("{} 1", scene.bot.id), "{library} sees itself and its one guild");
    let guild = bot.json("GUILD").await;
    assert_eq!(guild["id"], json!(scene.guild));
    assert_eq!(guild["name"], "Bot Testing");
    assert_eq!(guild["owner_id"], json!(scene.person.id));
    assert_eq!(guild["channels"], json!([scene.channel]));
    assert_eq!(guild["roles"], json!(["@everyone"]));
    let mut members = vec![scene.person.id.clone(), scene.bot.id.clone(), other.id.clone()];
    members.sort();
    assert_eq!(guild["members"], json!(members), "GUILD_CREATE carries the members");

    // Messages both ways, and a reaction from the bot.
    let ping = scene.post("ping 1").await;
    let reply_id = bot.says("REPLIED 1 ").await;
    let reply = scene.expect_bot_message(&format!("pong 1 from {library}")).await;
    assert_eq!(reply["d"]["id"], json!(reply_id));
    assert_eq!(reply["d"]["channel_id"], json!(scene.channel));
    let reaction = bot_reaction(&mut scene).await;
    assert_eq!(reaction["message_id"], ping["id"]);
    assert_eq!(reaction["emoji"]["name"], "👍");

    // A reaction to the bot's message, seen by the library on its cached message.
    let (status, body) = scene
        .app
        .put(
            &format!("/channels/{}/messages/{reply_id}/reactions/%F0%9F%8E%89/@me", scene.channel),
            &scene.person.token,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let seen = bot.json("REACTION").await;
    assert_eq!(
        seen,
        json!({ "message_id": reply_id, "user_id": scene.person.id, "emoji": "🎉", "count": 1, "me": false })
    );

    // Member updates: a new role and a nickname for the bot.
    let app = &scene.app;
    let (status, role) =
        app.post(&format!("/guilds/{}/roles", scene.guild), &scene.person.token, json!({ "name": "helpers" })).await;
    assert_eq!(status, StatusCode::OK, "{role}");
    let (status, body) = app
        .patch(
            &format!("/guilds/{}/members/{}", scene.guild, scene.bot.id),
            &scene.person.token,
            json!({ "nick": "Robo", "roles": [role["id"]] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let update = bot.json("MEMBER_UPDATE").await;
    assert_eq!(
        update,
        json!({
            "id": scene.bot.id, "nick_before": null, "nick": "Robo",
            "roles_before": [], "roles": ["helpers"],
        })
    );
    // And someone else's: the library knew them from GUILD_CREATE.
    let (status, body) = app
        .patch(&format!("/guilds/{}/members/{}", scene.guild, other.id), &scene.person.token, json!({ "nick": "Otto" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let update = bot.json("MEMBER_UPDATE").await;
    assert_eq!(update, json!({ "id": other.id, "nick_before": null, "nick": "Otto", "roles_before": [], "roles": [] }));

    // The network drops: the library must resume, and get what it missed.
    let open = proxy.cut();
    assert!(open >= 1, "the bot's gateway connection went through the proxy");
    scene.post("ping 2").await;
    // Long enough for the library to notice and try to reconnect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = proxy.forwarded();
    proxy.restore();
    // RESUMED comes after the replayed events, and the reply to the missed
    // ping is a REST call, so the two lines may come in either order. A
    // library that identified afresh would have neither: a new session
    // replays nothing.
    let mut awaited = vec!["RESUMED", "REPLIED 2 "];
    while !awaited.is_empty() {
        let (seen, _) = bot.says_any(&awaited).await;
        awaited.retain(|p| *p != seen);
    }
    assert!(proxy.forwarded() > before, "the library came back through the proxy");
    scene.expect_bot_message(&format!("pong 2 from {library}")).await;
    // And the resumed session keeps receiving.
    scene.post("ping 3").await;
    bot.says("REPLIED 3 ").await;
    scene.expect_bot_message(&format!("pong 3 from {library}")).await;
}

/// The next MESSAGE_REACTION_ADD by the bot on the person's session.
async fn bot_reaction(scene: &mut Scene) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, scene.watcher.dispatch("MESSAGE_REACTION_ADD"))
            .await
            .expect("the bot's reaction reaches the person");
        if event["d"]["user_id"] == json!(scene.bot.id) {
            return event["d"].clone();
        }
    }
}

/// The Python of the bot-library virtualenv running `tests/bots/py/<script>`.
pub fn python(script: &str) -> Command {
    let mut command = Command::new(crate::scenario::python());
    command.arg(format!("{}/tests/bots/py/{script}", env!("CARGO_MANIFEST_DIR")));
    command
}

/// `node tests/bots/js/<script>`, after checking `package` is installed there.
pub fn node(script: &str, package: &str) -> Command {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bots/js");
    assert!(
        std::path::Path::new(dir).join("node_modules").join(package).is_dir(),
        "{package} is not installed in {dir}: run scripts/bot-libs.sh"
    );
    let mut command = Command::new("node");
    command.arg(script).current_dir(dir);
    command
}
