//! discord.js 14 from npm (pinned in `js/package-lock.json`), unmodified:
//! `js/bot.mjs` runs under node and answers "ping" in the scene's channel.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::scenario::Scene;

const BOT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bots/js");

#[tokio::test]
async fn discord_js_bot_answers_a_person() {
    let mut scene = Scene::new().await;
    let mut bot = JsBot::start(&scene);

    let ready = bot.line(|l| l.starts_with("READY "), Duration::from_secs(60)).await;
    assert_eq!(ready.trim_start_matches("READY "), scene.bot.id, "discord.js logged in as someone else");

    scene.post("ping").await;
    scene.expect_bot_message("pong from discord.js").await;
    bot.line(|l| l == "REPLIED", Duration::from_secs(10)).await;

    let status = bot.terminate().await;
    if !status.success() {
        bot.fail(format!("the bot did not exit cleanly on SIGTERM ({status})"));
    }
}

#[tokio::test]
async fn a_discord_js_bot_rides_through_rate_limits() {
    let mut scene = Scene::rate_limited().await;
    let mut bot = JsBot::start(&scene);
    bot.line(|l| l.starts_with("READY "), Duration::from_secs(60)).await;
    let mut limited = 0;
    scene
        .burst(12, async {
            loop {
                let line = bot.line(|l| l == "SAW_429" || l.starts_with("BURST_"), Duration::from_secs(60)).await;
                if line == "SAW_429" {
                    limited += 1;
                } else {
                    break line;
                }
            }
        })
        .await;
    assert!(limited > 0, "the burst never met a 429, so nothing was tested");
    let status = bot.terminate().await;
    if !status.success() {
        bot.fail(format!("the bot did not exit cleanly on SIGTERM ({status})"));
    }
}

/// `node bot.mjs`, with its stdout read line by line and its stderr (the
/// discord.js debug log) kept for failure messages.
pub(crate) struct JsBot {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Option<tokio::task::JoinHandle<()>>,
    /// A panic message already carries the stderr.
    reported: bool,
}

impl JsBot {
    fn start(scene: &Scene) -> Self {
        Self::start_script(scene, "bot.mjs", scene.bot_token(), &[])
    }

    /// `node <script>` as the bot whose token (without `Bot `) is `token`,
    /// with `env` added to its environment.
    pub(crate) fn start_script(scene: &Scene, script: &str, token: String, env: &[(&str, String)]) -> Self {
        assert!(
            Path::new(BOT_DIR).join("node_modules/discord.js").is_dir(),
            "discord.js is not installed in {BOT_DIR}: run scripts/bot-libs.sh first"
        );
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(BOT_DIR)
            .env("FC_API", format!("{}/api", scene.http_base()))
            .env("FC_TOKEN", token)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        // Drained continuously: the debug log would otherwise fill the pipe
        // and stall the bot.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        let stderr_done = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { child, stdout, stderr, stderr_done: Some(stderr_done), reported: false }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) fn fail(&mut self, what: String) -> ! {
        self.reported = true;
        panic!("{what}; the bot's stderr:\n{}", self.stderr());
    }

    /// Reads stdout until a line `wanted` accepts; panics with the bot's
    /// stderr if it exits or stays silent past `timeout`.
    pub(crate) async fn line(&mut self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                Ok(Ok(Some(line))) if wanted(&line) => return line,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = self.child.wait().await.expect("wait for node");
                    // Its stderr ends with it: take all of it.
                    if let Some(done) = self.stderr_done.take() {
                        let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
                    }
                    self.fail(format!("the discord.js bot exited ({status})"));
                }
                Err(_) => self.fail(format!("the discord.js bot said nothing expected within {timeout:?}")),
            }
        }
    }

    /// SIGTERM, then its exit status.
    async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().expect("the bot is still running");
        let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await.expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => status.expect("wait for node"),
            Err(_) => self.fail("the bot ignored SIGTERM for 10 s".into()),
        }
    }
}

impl Drop for JsBot {
    /// A failure elsewhere (e.g. the reply never arrives) still shows what
    /// discord.js saw.
    fn drop(&mut self) {
        if std::thread::panicking() && !self.reported {
            eprintln!("--- discord.js bot stderr ---\n{}--- end ---", self.stderr());
        }
    }
}

/// A discord.js bot sends a message with two files and their descriptions
/// (discord.js puts `payload_json` after the files), fetches each back
/// from its URL, shows the first in an embed by `attachment://`, and edits
/// the message to keep only the first.
#[tokio::test]
async fn a_discord_js_bot_sends_files_and_edits_one_away() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let mut bot = JsBot::start_script(&scene, "files.mjs", scene.bot_token(), &[("FC_CHANNEL", scene.channel.clone())]);
    let done = |l: &str| l.starts_with("SENT ") || l.starts_with("FAILED ");
    let line = bot.line(done, Duration::from_secs(60)).await;
    let Some(sent) = line.strip_prefix("SENT ") else { bot.fail(line.clone()) };
    let sent: Value = serde_json::from_str(sent).unwrap();
    let attachments = sent["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2, "{sent}");
    assert_eq!(sent["same"], json!([true, true]), "discord.js fetched other bytes: {sent}");
    assert_eq!(attachments[0]["filename"], "picture.png");
    assert_eq!(attachments[0]["description"], "a picture");
    assert_eq!(attachments[0]["content_type"], "image/png");
    assert_eq!((attachments[0]["width"].clone(), attachments[0]["height"].clone()), (json!(7), json!(6)));
    assert_eq!(attachments[1]["description"], "some notes");
    // The embed's `attachment://picture.png` is the picture's own URL.
    let path = |url: &Value| url.as_str().unwrap_or_default().split('?').next().unwrap().to_owned();
    assert_eq!(path(&sent["image"]), path(&attachments[0]["url"]), "{sent}");
    let line = bot.line(|l| l.starts_with("EDITED ") || l.starts_with("FAILED "), Duration::from_secs(30)).await;
    let Some(edited) = line.strip_prefix("EDITED ") else { bot.fail(line.clone()) };
    let edited: Value = serde_json::from_str(edited).unwrap();
    assert_eq!(edited["attachments"].as_array().unwrap().len(), 1, "{edited}");
    assert_eq!(edited["attachments"][0]["id"], attachments[0]["id"]);
    let id = sent["id"].as_str().unwrap();
    let (_, stored) = scene.app.get(&format!("/channels/{}/messages/{id}", scene.channel), &scene.person.token).await;
    assert_eq!(stored["attachments"].as_array().unwrap().len(), 1, "{stored}");
    let gone = scene.app.client.get(attachments[1]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(gone.status(), reqwest::StatusCode::NOT_FOUND, "the dropped file is deleted");
    let status = bot.terminate().await;
    if !status.success() {
        bot.fail(format!("the bot did not exit cleanly on SIGTERM ({status})"));
    }
}

/// discord.js's builders (`SlashCommandBuilder`, `ContextMenuCommandBuilder`)
/// and its REST client register guild commands with
/// `rest.put(Routes.applicationGuildCommands(...))`, read them back, create
/// and edit a global one; an invalid name comes back as a `DiscordAPIError`
/// with the field error. The server stored what they sent.
#[tokio::test]
async fn discord_js_registers_application_commands_with_its_builders() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let env = [("FC_APP", scene.bot.id.clone()), ("FC_GUILD", scene.guild.clone())];
    let mut bot = JsBot::start_script(&scene, "commands.mjs", scene.bot_token(), &env);
    let mut said = Vec::new();
    for prefix in ["PUT ", "GOT ", "GLOBAL ", "REFUSED "] {
        let line = bot.line(|l| l.starts_with(prefix) || l.starts_with("FAILED "), Duration::from_secs(60)).await;
        let Some(json) = line.strip_prefix(prefix) else { bot.fail(line.clone()) };
        said.push(serde_json::from_str::<Value>(json).unwrap());
    }
    let (put, got, global, refused) = (&said[0], &said[1], &said[2], &said[3]);
    assert_eq!(put.as_array().unwrap().len(), 3, "{put}");
    let path = format!("/applications/{}/guilds/{}/commands?with_localizations=true", scene.bot.id, scene.guild);
    let (_, stored) = scene.app.get(&path, &scene.bot.token).await;
    assert_eq!(&stored, put, "the server stored what it answered");
    assert_eq!(got.as_array().unwrap().len(), 3);
    let find = |name: &str| stored.as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap();
    let echo = find("echo");
    assert_eq!(echo["name_localizations"], json!({"fr": "écho"}));
    assert_eq!(echo["description_localizations"], json!({"fr": "Répète le texte"}));
    assert_eq!(echo["default_member_permissions"], (1u64 << 13).to_string());
    let o = echo["options"].as_array().unwrap();
    assert_eq!(
        o.iter().map(|o| o["name"].clone()).collect::<Vec<_>>(),
        [json!("text"), json!("style"), json!("times"), json!("where")]
    );
    assert_eq!((o[0]["required"].clone(), o[0]["max_length"].clone()), (json!(true), json!(100)));
    assert_eq!(o[1]["choices"], json!([{"name": "Loud", "value": "loud"}, {"name": "Quiet", "value": "quiet"}]));
    assert_eq!(
        (o[2]["type"].clone(), o[2]["min_value"].clone(), o[2]["max_value"].clone()),
        (json!(4), json!(1), json!(5))
    );
    assert_eq!(o[3]["channel_types"], json!([0]));
    let tag = find("tag");
    assert_eq!(tag["options"][0]["type"], 1);
    assert_eq!(tag["options"][0]["options"][0]["required"], true);
    assert_eq!(tag["options"][1]["type"], 2);
    assert_eq!(tag["options"][1]["options"][0]["name"], "purge");
    assert_eq!(tag["options"][1]["options"][0]["options"][0]["type"], 5);
    let report = find("Report Message");
    assert_eq!((report["type"].clone(), report["description"].clone()), (json!(3), json!("")));

    assert_eq!(global["created"]["name"], "hello");
    assert_eq!(global["patched"]["id"], global["created"]["id"]);
    assert_eq!(global["patched"]["description"], "Says hi");
    assert_ne!(global["patched"]["version"], global["created"]["version"]);
    let (_, globals) = scene.app.get(&format!("/applications/{}/commands", scene.bot.id), &scene.bot.token).await;
    assert_eq!(globals.as_array().unwrap().len(), 1);
    assert_eq!(globals[0]["description"], "Says hi");

    assert_eq!((refused["status"].clone(), refused["code"].clone()), (json!(400), json!(50035)), "{refused}");
    assert_eq!(refused["errors"]["name"]["_errors"][0]["code"], "APPLICATION_COMMAND_INVALID_NAME", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("name"), "discord.js names the field: {refused}");
}

/// discord.js built on interactions (issue 18): its commands deployed with
/// `SlashCommandBuilder` through REST, then used by a person's client over
/// HTTP and the gateway as Discord's own client does: autocomplete, a slash
/// command answered with a button and a select, the button's `update`, the
/// select's `showModal`, the modal's ephemeral answer, `deferReply` +
/// `editReply` + `followUp`, and a user context menu.
#[tokio::test]
async fn discord_js_answers_commands_components_and_modals() {
    use serde_json::{json, Value};
    let mut scene = Scene::new().await;
    let env = [("FC_GUILD", scene.guild.clone())];
    let mut bot = JsBot::start_script(&scene, "interactions.mjs", scene.bot_token(), &env);
    let ready = bot.line(|l| l == "READY" || l.starts_with("FAILED"), Duration::from_secs(60)).await;
    if ready != "READY" {
        bot.fail(ready);
    }
    let (status, index) =
        scene.app.get(&format!("/channels/{}/application-command-index", scene.channel), &scene.person.token).await;
    assert_eq!(status.as_u16(), 200, "{index}");
    let id = |name: &str| {
        index["application_commands"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["id"].clone()
    };
    let invoke = |kind: u8, data: Value, message: Option<Value>| {
        let mut body = json!({"type": kind, "application_id": scene.bot.id, "guild_id": scene.guild,
                              "channel_id": scene.channel, "nonce": "js", "data": data});
        if let Some(m) = message {
            body["message_id"] = m;
        }
        body
    };
    let post = |body: Value| {
        let (app, token) = (&scene.app, scene.person.token.clone());
        async move {
            let (status, answer) = app.post("/interactions", &token, body).await;
            assert_eq!(status.as_u16(), 204, "{answer}");
        }
    };
    async fn next(
        bot: &mut JsBot,
        watcher: &mut crate::common::ws::Gateway,
        name: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let wait = async {
            loop {
                let e = watcher.dispatch(name).await;
                if pred(&e["d"]) {
                    return e["d"].clone();
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(20), wait).await {
            Ok(v) => v,
            Err(_) => bot.fail(format!("no {name} came")),
        }
    }

    // Autocomplete: the bot's choices reach the person.
    post(invoke(
        4,
        json!({"id": id("order"), "name": "order", "type": 1, "options": [
        {"name": "size", "type": 3, "value": "small"}, {"name": "drink", "type": 3, "value": "le", "focused": true}]}),
        None,
    ))
    .await;
    let choices = next(&mut bot, &mut scene.watcher, "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE", |_| true).await;
    assert_eq!(choices["choices"], json!([{"name": "Lemonade", "value": "lemonade"}]));

    // The slash command, answered with a button and a select.
    let order = json!({"id": id("order"), "name": "order", "type": 1, "options": [
        {"name": "size", "type": 3, "value": "large"}, {"name": "drink", "type": 3, "value": "lemonade"}]});
    post(invoke(2, order.clone(), None)).await;
    let reply =
        next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "A large lemonade for person").await;
    assert_eq!(reply["type"], 20);
    assert_eq!(reply["interaction_metadata"]["name"], "order");
    assert_eq!(reply["components"][0]["components"][0]["custom_id"], "confirm");
    assert_eq!(reply["components"][0]["components"][1]["url"], "https://example.com/menu");

    // The button: discord.js's `update` edits the message for everyone.
    post(invoke(3, json!({"component_type": 2, "custom_id": "confirm"}), Some(reply["id"].clone()))).await;
    let updated = next(&mut bot, &mut scene.watcher, "MESSAGE_UPDATE", |d| d["content"] == "Confirmed").await;
    assert_eq!(updated["components"], json!([]));

    // The select opens a modal; its submission is answered ephemerally.
    post(invoke(2, order, None)).await;
    let second =
        next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "A large lemonade for person").await;
    post(invoke(
        3,
        json!({"component_type": 3, "custom_id": "topping", "values": ["foam"]}),
        Some(second["id"].clone()),
    ))
    .await;
    let modal = next(&mut bot, &mut scene.watcher, "INTERACTION_MODAL_CREATE", |_| true).await;
    assert_eq!((modal["custom_id"].as_str(), modal["title"].as_str()), (Some("note"), Some("Note on foam")));
    let input = &modal["components"][0]["components"][0];
    assert_eq!((input["custom_id"].as_str(), input["style"].as_u64()), (Some("text"), Some(2)));
    post(invoke(5, json!({"custom_id": "note", "components": [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "extra hot"}]}]}), None)).await;
    let noted = next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "Noted: extra hot").await;
    assert_eq!(noted["flags"], 64);

    // deferReply (ephemeral), editReply, then a public followUp.
    post(invoke(2, json!({"id": id("later"), "name": "later", "type": 1}), None)).await;
    let thinking = next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["flags"] == 64 + 128).await;
    let done = next(&mut bot, &mut scene.watcher, "MESSAGE_UPDATE", |d| d["content"] == "Done, later").await;
    assert_eq!((done["id"].clone(), done["flags"].clone()), (thinking["id"].clone(), json!(64)));
    let follow = next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "A follow-up for all").await;
    assert_eq!(follow["interaction_metadata"]["original_response_message_id"], thinking["id"]);

    // A user context menu names its target.
    post(invoke(2, json!({"id": id("High five"), "name": "High five", "type": 2, "target_id": scene.person.id}), None))
        .await;
    let five = next(&mut bot, &mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "High five, person!").await;
    assert_eq!(five["type"], 23);

    // History: the public messages, never the ephemeral ones.
    let (_, history) = scene.app.get(&format!("/channels/{}/messages", scene.channel), &scene.person.token).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert!(contents.contains(&"A follow-up for all") && contents.contains(&"Confirmed"), "{contents:?}");
    assert!(!contents.iter().any(|c| c.starts_with("Noted") || c.starts_with("Done")), "{contents:?}");
}
