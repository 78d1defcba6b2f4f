//! discord.py 2.7 (PyPI), unmodified.

use std::time::Duration;

use tokio::io::{BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use super::scenario::{python_bot, Scene};

struct Bot {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Bot {
    fn start(scene: &Scene) -> Self {
        let (child, lines) = python_bot(scene, "bot.py");
        Self { child, lines }
    }

    /// Waits for a line starting with `prefix`.
    async fn says(&mut self, prefix: &str) -> String {
        let wait = async {
            loop {
                match self.lines.next_line().await.unwrap() {
                    Some(line) if line.starts_with(prefix) => return line,
                    Some(_) => continue,
                    None => panic!("the bot exited before saying {prefix}: {:?}", self.child.try_wait()),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("the bot never said {prefix}"))
    }
}

impl Bot {
    /// Reads until a line starting with each of `prefixes` was said, in
    /// whatever order (an HTTP answer and a gateway event race in the
    /// bot); returns those lines in the order of `prefixes`.
    async fn say_all(&mut self, prefixes: &[&str]) -> Vec<String> {
        let mut seen: Vec<Option<String>> = vec![None; prefixes.len()];
        while seen.iter().any(Option::is_none) {
            let line = self.says("").await;
            if line.contains("FAILED") {
                panic!("the bot failed: {line}");
            }
            if let Some(i) = prefixes.iter().position(|p| line.starts_with(p)) {
                seen[i].get_or_insert(line);
            }
        }
        seen.into_iter().flatten().collect()
    }

    /// Reads until the burst is over; returns how it ended and how many
    /// 429s discord.py waited out on the way.
    async fn burst_outcome(&mut self) -> (String, usize) {
        let mut limited = 0;
        loop {
            let line = self.says("").await;
            if line == "SAW_429" {
                limited += 1;
            } else if line.starts_with("BURST_") {
                return (line, limited);
            }
        }
    }
}

#[tokio::test]
async fn a_discord_py_bot_rides_through_rate_limits() {
    let mut scene = Scene::rate_limited().await;
    let mut bot = Bot::start(&scene);
    bot.says("READY").await;
    let mut limited = 0;
    scene
        .burst(12, async {
            let (outcome, seen) = bot.burst_outcome().await;
            limited = seen;
            outcome
        })
        .await;
    assert!(limited > 0, "the burst never met a 429, so nothing was tested");
}

#[tokio::test]
async fn a_discord_py_bot_receives_and_replies() {
    let mut scene = Scene::new().await;
    let mut bot = Bot::start(&scene);
    let ready = bot.says("READY").await;
    assert_eq!(ready, format!("READY {} 1", scene.bot.id), "the bot sees itself and its one guild");
    scene.post("ping").await;
    bot.says("REPLIED").await;
    let reply = scene.expect_bot_message("pong from discord.py").await;
    assert_eq!(reply["d"]["channel_id"], serde_json::json!(scene.channel));
}

#[tokio::test]
async fn a_discord_py_bot_reconnects_by_itself_when_the_server_restarts() {
    let mut scene = Scene::new().await;
    let mut bot = Bot::start(&scene);
    bot.says("READY").await;
    // A graceful restart: op 7 first, then the server goes and comes back
    // on the same port. The bot must find its way back without help.
    scene.app.restart().await;
    bot.says("CONNECTED").await;
    // The watcher was cut by the restart too: a fresh one.
    scene.watcher = scene.app.gateway("").await;
    scene.watcher.identify(&scene.person.token, crate::common::ws::ALL_INTENTS).await;
    // The bot may still be identifying; ping until it answers.
    let mut answered = false;
    for _ in 0..20 {
        scene.post("ping").await;
        if tokio::time::timeout(Duration::from_secs(3), bot.says("REPLIED")).await.is_ok() {
            answered = true;
            break;
        }
    }
    assert!(answered, "the bot answers after the restart");
    scene.expect_bot_message("pong from discord.py").await;
}

#[tokio::test]
async fn a_discord_py_bot_receives_automod_actions() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let app = &scene.app;
    // AutoMod events go to those who manage the guild.
    let (_, role) = app
        .post(
            &format!("/guilds/{}/roles", scene.guild),
            &scene.person.token,
            json!({ "name": "mods", "permissions": "32" }),
        )
        .await;
    let path = format!("/guilds/{}/members/{}/roles/{}", scene.guild, scene.bot.id, role["id"].as_str().unwrap());
    assert_eq!(app.put(&path, &scene.person.token).await.0, reqwest::StatusCode::NO_CONTENT);
    let offender = app.register("offender").await;
    app.join(&scene.person, &scene.channel, &offender).await;

    let mut bot = Bot::start(&scene);
    bot.says("READY").await;
    let rule = json!({
        "name": "no-frogs", "event_type": 1, "trigger_type": 1, "enabled": true,
        "trigger_metadata": { "keyword_filter": ["frog*"] },
        "actions": [{ "type": 1, "metadata": { "custom_message": "No frogs." } }],
    });
    let (status, rule) =
        app.post(&format!("/guilds/{}/auto-moderation/rules", scene.guild), &scene.person.token, rule).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{rule}");
    assert_eq!(bot.says("AUTOMOD_RULE").await, "AUTOMOD_RULE create no-frogs");

    let (status, body) = app
        .post(&format!("/channels/{}/messages", scene.channel), &offender.token, json!({ "content": "I love Frogs" }))
        .await;
    crate::common::assert_error(&(status, body), 400, 200000);
    let line = bot.says("AUTOMOD_ACTION ").await;
    let seen: Value = serde_json::from_str(line.trim_start_matches("AUTOMOD_ACTION ")).unwrap();
    let id = |s: &str| json!(s.parse::<u64>().unwrap());
    assert_eq!(seen["guild_id"], id(&scene.guild));
    assert_eq!(seen["action_type"], 1);
    assert_eq!(seen["custom_message"], "No frogs.");
    assert_eq!(seen["rule_id"], id(rule["id"].as_str().unwrap()));
    assert_eq!(seen["rule_trigger_type"], 1);
    assert_eq!(seen["user_id"], id(&offender.id));
    assert_eq!(seen["channel_id"], id(&scene.channel));
    assert_eq!(seen["message_id"], Value::Null, "a blocked message has no id");
    assert_eq!(seen["content"], "I love Frogs");
    assert_eq!(seen["matched_keyword"], "frog*");
    assert_eq!(seen["matched_content"], "Frogs");
}

/// A discord.py bot without MESSAGE_CONTENT reads no content of others'
/// messages, neither in a reply nor in the message it carries
/// (`message.reference.resolved`), on the gateway or over REST; the
/// content of its own message, which a reply carries, it does read.
#[tokio::test]
async fn a_discord_py_bot_without_message_content_reads_no_content_in_replies() {
    use serde_json::{json, Value};
    let app = crate::common::TestApp::spawn().await;
    let person = app.register("person").await;
    let (guild, channel) = app.guild(&person, "Bot Testing").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    let bot = app.bot(&person, "Plain Bot", false).await;
    app.add_bot(&person, &bot, &guild).await;
    let watcher = app.gateway("").await;
    let scene = Scene { app, person, bot, guild, channel, watcher };
    let (child, lines) = python_bot(&scene, "content.py");
    let mut reader = Bot { child, lines };
    reader.says("READY").await;

    let app = &scene.app;
    let theirs = scene.post("hello there").await;
    let (status, own) = app
        .post(&format!("/channels/{}/messages", scene.channel), &scene.bot.token, json!({"content": "bot says"}))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{own}");
    let quiet = json!({"parse": [], "replied_user": false});
    for (to, content) in [(&theirs, "answer one"), (&own, "answer two")] {
        let body =
            json!({"content": content, "message_reference": {"message_id": to["id"]}, "allowed_mentions": quiet});
        let (status, sent) =
            app.post(&format!("/channels/{}/messages", scene.channel), &scene.person.token, body).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{sent}");
        let line = reader.says("REPLY ").await;
        let seen: Value = serde_json::from_str(line.trim_start_matches("REPLY ")).unwrap();
        let replied = if to["id"] == own["id"] { "bot says" } else { "" };
        assert_eq!(seen["id"], sent["id"]);
        assert_eq!(
            (&seen["content"], &seen["resolved"], &seen["fetched"], &seen["fetched_resolved"]),
            (&json!(""), &json!(replied), &json!(""), &json!(replied)),
            "{content}: {seen}"
        );
    }
}

/// An unmodified discord.py bot uploads a custom emoji
/// (`guild.create_custom_emoji`), reacts with it (`message.add_reaction`,
/// which sends `name:id`), hears `on_guild_emojis_update` for its upload
/// and its deletion, and deletes it; a person sees the reaction on the
/// gateway and on the message, and the image on the CDN path.
#[tokio::test]
async fn a_discord_py_bot_creates_reacts_with_and_deletes_a_custom_emoji() {
    use serde_json::{json, Value};
    let mut scene = Scene::new().await;
    let app = &scene.app;
    // MANAGE_GUILD_EXPRESSIONS and CREATE_GUILD_EXPRESSIONS.
    let perms = (1u64 << 30) | (1u64 << 43);
    let (_, role) = app
        .post(
            &format!("/guilds/{}/roles", scene.guild),
            &scene.person.token,
            json!({ "name": "artists", "permissions": perms.to_string() }),
        )
        .await;
    let path = format!("/guilds/{}/members/{}/roles/{}", scene.guild, scene.bot.id, role["id"].as_str().unwrap());
    assert_eq!(app.put(&path, &scene.person.token).await.0, reqwest::StatusCode::NO_CONTENT);

    let mut bot = Bot::start(&scene);
    bot.says("READY").await;
    let asked = scene.post("emoji party_blob").await;
    let said = bot.say_all(&["EMOJI_CREATED", "EMOJIS_UPDATE", "REACTED"]).await;
    let parts: Vec<&str> = said[0].split(' ').collect();
    assert_eq!((parts.get(2).copied(), parts.get(3).copied()), (Some("party_blob"), Some("False")), "{said:?}");
    let emoji_id = parts[1].to_owned();
    assert_eq!(said[1], "EMOJIS_UPDATE 0 1 party_blob");

    // The person's session sees the reaction with the custom emoji.
    let add = loop {
        let event = scene.watcher.dispatch("MESSAGE_REACTION_ADD").await;
        if event["d"]["message_id"] == asked["id"] {
            break event;
        }
    };
    assert_eq!(add["d"]["user_id"], json!(scene.bot.id));
    assert_eq!(add["d"]["emoji"], json!({ "id": emoji_id, "name": "party_blob", "animated": false }));
    let (_, message) = app
        .get(&format!("/channels/{}/messages/{}", scene.channel, asked["id"].as_str().unwrap()), &scene.person.token)
        .await;
    assert_eq!(message["reactions"][0]["emoji"]["id"], json!(emoji_id), "{message}");
    assert_eq!(message["reactions"][0]["emoji"]["name"], "party_blob");
    assert_eq!(message["reactions"][0]["count"], 1);
    let image = app.client.get(format!("http://{}/emojis/{emoji_id}.png", app.addr())).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert!(image.bytes().await.unwrap().starts_with(b"\x89PNG"), "the PNG discord.py uploaded");

    scene.post("unemoji").await;
    let said = bot.say_all(&["EMOJI_DELETED", "EMOJIS_UPDATE"]).await;
    assert_eq!(said[1], "EMOJIS_UPDATE 1 0 ");
    let (_, list) = app.get(&format!("/guilds/{}/emojis", scene.guild), &scene.person.token).await;
    assert_eq!(list, Value::Array(Vec::new()));
}

/// A discord.py bot sends a message with two files and their descriptions
/// (discord.py's multipart body), reads each back from its URL, and edits
/// the message to keep only the first; the server agrees on every step,
/// and the dropped file is gone.
#[tokio::test]
async fn a_discord_py_bot_sends_files_and_edits_one_away() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let (child, lines) =
        super::scenario::python_bot_with(&scene, "files.py", &[("FC_CHANNEL", scene.channel.as_str())]);
    let mut bot = Bot { child, lines };
    let sent: Value = serde_json::from_str(bot.says("SENT ").await.trim_start_matches("SENT ")).unwrap();
    let attachments = sent["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2, "{sent}");
    assert_eq!(sent["same"], json!([true, true]), "discord.py read back other bytes: {sent}");
    assert_eq!(attachments[0]["filename"], "picture.png");
    assert_eq!(attachments[0]["description"], "a picture");
    assert_eq!(attachments[0]["content_type"], "image/png");
    assert_eq!((attachments[0]["width"].clone(), attachments[0]["height"].clone()), (json!(5), json!(4)));
    assert_eq!(attachments[1]["description"], "some notes");
    assert_eq!(attachments[1]["size"], json!(22 * 50));
    let edited: Value = serde_json::from_str(bot.says("EDITED ").await.trim_start_matches("EDITED ")).unwrap();
    assert_eq!(edited["attachments"].as_array().unwrap().len(), 1, "{edited}");
    assert_eq!(edited["attachments"][0]["id"], attachments[0]["id"]);
    let id = sent["id"].as_str().unwrap();
    let (_, stored) = scene.app.get(&format!("/channels/{}/messages/{id}", scene.channel), &scene.person.token).await;
    assert_eq!(stored["attachments"].as_array().unwrap().len(), 1, "{stored}");
    assert_eq!(stored["attachments"][0]["description"], "a picture");
    let gone = scene.app.client.get(attachments[1]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(gone.status(), reqwest::StatusCode::NOT_FOUND, "the dropped file is deleted");
    let kept = scene.app.client.get(stored["attachments"][0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(kept.status(), reqwest::StatusCode::OK);
}

/// A discord.py bot sends a `discord.Embed` with fields, footer, author,
/// colour and timestamp, its image a file of the same message named by
/// `attachment://`; discord.py parses the embed back as sent, downloads
/// the image from the embed's URL, and the server stored the same.
#[tokio::test]
async fn a_discord_py_bot_sends_an_embed_with_an_attached_image() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let (child, lines) =
        super::scenario::python_bot_with(&scene, "embed.py", &[("FC_CHANNEL", scene.channel.as_str())]);
    let mut bot = Bot { child, lines };
    let line = bot.say_all(&["SENT "]).await.remove(0);
    let sent: Value = serde_json::from_str(line.trim_start_matches("SENT ")).unwrap();
    let e = &sent["embed"];
    assert_eq!(sent["same"], json!(true), "discord.py read other bytes from the embed's image: {sent}");
    assert_eq!(sent["content"], "");
    assert_eq!(e["type"], "rich");
    assert_eq!(e["title"], "Build report");
    assert_eq!(e["description"], "All green");
    assert_eq!(e["url"], "https://example.com/build/1");
    assert_eq!(e["color"], json!(0x2ECC71));
    assert_eq!(e["timestamp"], "2024-05-06T07:08:09+00:00");
    assert_eq!(
        e["fields"],
        json!([{"name": "passed", "value": "412", "inline": true}, {"name": "failed", "value": "0", "inline": false}])
    );
    assert_eq!(e["footer"], json!({"text": "ci bot", "icon_url": "https://example.com/ci.png"}));
    assert_eq!(e["author"]["name"], "FussionCord CI");
    assert_eq!(e["author"]["url"], "https://example.com");
    assert_eq!(e["author"]["icon_url"], sent["attachment_url"]);
    assert_eq!(e["image"]["url"], sent["attachment_url"]);
    assert_eq!(sent["image_size"], json!([7, 6]));
    let id = sent["id"].as_str().unwrap();
    let (_, stored) = scene.app.get(&format!("/channels/{}/messages/{id}", scene.channel), &scene.person.token).await;
    let s = &stored["embeds"][0];
    assert_eq!(s["title"], "Build report");
    assert_eq!(s["fields"], e["fields"]);
    assert_eq!(s["image"]["width"], json!(7));
    assert!(s["image"]["url"].as_str().unwrap().contains("/chart.png?ex="), "{stored}");
}

/// A discord.py bot declares slash commands (choices, a range, optional
/// options, a group of subcommands) and user and message context menus
/// with `app_commands`, syncs them to a guild with `tree.sync(guild=...)`
/// and reads them back with `tree.fetch_commands(guild=...)`: discord.py
/// parses what it synced, the server stored exactly that, and a second
/// sync keeps every command's id.
#[tokio::test]
async fn a_discord_py_bot_syncs_its_app_commands_to_a_guild() {
    use serde_json::{json, Value};
    let scene = Scene::new().await;
    let (child, lines) = super::scenario::python_bot_with(&scene, "commands.py", &[("FC_GUILD", scene.guild.as_str())]);
    let mut bot = Bot { child, lines };
    let said = bot.say_all(&["SYNCED ", "FETCHED ", "RESYNCED "]).await;
    let parse = |line: &str, prefix: &str| -> Value { serde_json::from_str(line.trim_start_matches(prefix)).unwrap() };
    let (synced, fetched, resynced) =
        (parse(&said[0], "SYNCED "), parse(&said[1], "FETCHED "), parse(&said[2], "RESYNCED "));
    let names: Vec<&str> = synced.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Get Info", "Quote Message", "config", "roll"], "{synced}");
    assert_eq!(fetched, synced, "fetch_commands reads back what sync answered");
    let ids = |v: &Value| v.as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&resynced), ids(&synced), "a second sync keeps the commands");

    // What the server stored, read over the API.
    let path = format!("/applications/{}/guilds/{}/commands?with_localizations=true", scene.bot.id, scene.guild);
    let (status, stored) = scene.app.get(&path, &scene.bot.token).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{stored}");
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 4);
    let find = |name: &str| stored.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    let roll = find("roll");
    assert_eq!(roll["type"], 1);
    assert_eq!(roll["guild_id"], json!(scene.guild));
    assert_eq!(roll["description"], "Rolls some dice");
    assert_eq!(roll["default_member_permissions"], (1u64 << 13).to_string(), "manage_messages");
    let options = roll["options"].as_array().unwrap();
    let option_names: Vec<&str> = options.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(option_names, ["sides", "count", "mode", "target"]);
    assert_eq!(options[0]["type"], 4);
    assert_eq!(options[0]["required"], true);
    assert_eq!(options[0]["description"], "Sides of each die");
    assert_eq!(options[0]["choices"], json!([{"name": "six", "value": 6}, {"name": "twenty", "value": 20}]));
    assert_eq!((options[1]["min_value"].clone(), options[1]["max_value"].clone()), (json!(1), json!(10)));
    assert_eq!(options[2]["type"], 3);
    assert!(options[2].get("required").is_none(), "{}", options[2]);
    assert_eq!(options[2]["choices"], json!([{"name": "sum", "value": "sum"}, {"name": "each", "value": "each"}]));
    assert_eq!(options[3]["type"], 6);
    let config = find("config");
    let subs = config["options"].as_array().unwrap();
    assert_eq!(subs.iter().map(|s| s["type"].clone()).collect::<Vec<_>>(), [json!(1), json!(1)]);
    assert_eq!(subs[0]["name"], "set");
    assert_eq!(subs[0]["options"][1]["max_length"], 50);
    assert_eq!(subs[1]["name"], "show");
    assert_eq!((find("Get Info")["type"].clone(), find("Get Info")["description"].clone()), (json!(2), json!("")));
    assert_eq!(find("Quote Message")["type"], 3);
    // discord.py's parse of each matches the server's.
    for c in synced.as_array().unwrap() {
        let s = find(c["name"].as_str().unwrap());
        assert_eq!(c["id"], s["id"]);
        assert_eq!(c["type"], s["type"]);
        assert_eq!(c["default_member_permissions"], s["default_member_permissions"]);
        assert_eq!(c["options"].as_array().unwrap().len(), s["options"].as_array().unwrap().len());
    }
}

/// discord.py's `Webhook` (issue 18): fetched with its token, a message
/// sent with `wait=True` under another name with an embed and a file,
/// fetched, edited and deleted; sent without waiting; renamed; deleted,
/// after which its token answers 404.
#[tokio::test]
async fn discord_py_webhooks_send_edit_and_delete() {
    use serde_json::{json, Value};
    let mut scene = Scene::new().await;
    let (status, hook) = scene
        .app
        .post(&format!("/channels/{}/webhooks", scene.channel), &scene.person.token, json!({"name": "Py Feed"}))
        .await;
    assert_eq!(status.as_u16(), 200, "{hook}");
    let (id, token) = (hook["id"].as_str().unwrap(), hook["token"].as_str().unwrap());
    let (child, lines) =
        super::scenario::python_bot_with(&scene, "webhook.py", &[("FC_WEBHOOK_ID", id), ("FC_WEBHOOK_TOKEN", token)]);
    let mut bot = Bot { child, lines };
    let line = bot.say_all(&["DONE "]).await.remove(0);
    let out: Value = serde_json::from_str(line.trim_start_matches("DONE ")).unwrap();
    assert_eq!(out["name"], "Py Feed");
    assert_eq!(out["channel_id"].as_str(), Some(scene.channel.as_str()));
    let sent = &out["sent"];
    assert_eq!(sent["author"], "Py Hook");
    assert_eq!(sent["bot"], true);
    assert_eq!(sent["webhook_id"].as_str(), Some(id));
    assert_eq!(sent["embed"], "Nightly");
    assert_eq!((sent["file"].as_str(), sent["bytes"].as_str()), (Some("build.log"), Some("log line\n")));
    assert_eq!(out["fetched"], "hello from discord.py");
    assert_eq!(out["edited"], json!({"content": "edited by discord.py", "embeds": 0}));
    assert_eq!(out["unwaited"], Value::Null);
    assert_eq!(out["renamed"], "Renamed Hook");
    assert_eq!(out["after_delete"], "NotFound 10015");
    // The person saw the messages arrive as the webhook's, and the deleted
    // one is gone from history.
    let created = scene.watcher.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["webhook_id"].as_str(), Some(id));
    let (_, history) = scene.app.get(&format!("/channels/{}/messages", scene.channel), &scene.person.token).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["fire and forget"]);
}

/// discord.py built on `app_commands` and views (issue 18): its tree synced
/// to the guild, then used by a person's client over HTTP and the gateway
/// as Discord's own client does: autocomplete, a slash command with a
/// choice answered with a View, the button's `edit_message`, the select's
/// Modal and its ephemeral answer, `defer(thinking=True)` with a follow-up,
/// and a user context menu.
#[tokio::test]
async fn discord_py_answers_app_commands_views_and_modals() {
    use serde_json::{json, Value};
    let mut scene = Scene::new().await;
    let (child, lines) =
        super::scenario::python_bot_with(&scene, "interactions.py", &[("FC_GUILD", scene.guild.as_str())]);
    let mut bot = Bot { child, lines };
    bot.say_all(&["READY"]).await;
    let (status, index) =
        scene.app.get(&format!("/channels/{}/application-command-index", scene.channel), &scene.person.token).await;
    assert_eq!(status.as_u16(), 200, "{index}");
    let commands = index["application_commands"].as_array().unwrap().clone();
    let id =
        |name: &str| commands.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"))["id"].clone();
    let greet = commands.iter().find(|c| c["name"] == "greet").unwrap();
    assert_eq!(greet["options"][0]["autocomplete"], true, "{greet}");
    assert_eq!(greet["options"][1]["choices"][0]["value"], "warm");
    let body = |kind: u8, data: Value, message: Option<&Value>| {
        let mut b = json!({"type": kind, "application_id": scene.bot.id, "guild_id": scene.guild,
                           "channel_id": scene.channel, "nonce": "py", "data": data});
        if let Some(m) = message {
            b["message_id"] = m["id"].clone();
        }
        b
    };
    macro_rules! use_it {
        ($body:expr) => {{
            let (status, answer) = scene.app.post("/interactions", &scene.person.token, $body).await;
            assert_eq!(status.as_u16(), 204, "{answer}");
        }};
    }
    async fn seen(w: &mut crate::common::ws::Gateway, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let wait = async {
            loop {
                let e = w.dispatch(name).await;
                if pred(&e["d"]) {
                    return e["d"].clone();
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait).await.unwrap_or_else(|_| panic!("no {name}"))
    }

    use_it!(body(
        4,
        json!({"id": id("greet"), "name": "greet", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "a", "focused": true}]}),
        None
    ));
    let choices = seen(&mut scene.watcher, "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE", |_| true).await;
    assert_eq!(choices["choices"], json!([{"name": "Ada", "value": "Ada"}, {"name": "Alan", "value": "Alan"}]));

    let greeting = json!({"id": id("greet"), "name": "greet", "type": 1, "options": [
        {"name": "name", "type": 3, "value": "Ada"}, {"name": "style", "type": 3, "value": "warm"}]});
    use_it!(body(2, greeting.clone(), None));
    let hello = seen(&mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "A warm hello to Ada").await;
    assert_eq!(hello["components"][0]["components"][0]["custom_id"], "wave");
    assert_eq!(hello["components"][1]["components"][0]["custom_id"], "mood");
    use_it!(body(3, json!({"component_type": 2, "custom_id": "wave"}), Some(&hello)));
    let waved = seen(&mut scene.watcher, "MESSAGE_UPDATE", |d| d["content"] == "person waved back").await;
    assert_eq!(waved["components"], json!([]));

    use_it!(body(2, greeting, None));
    let again = seen(&mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "A warm hello to Ada").await;
    use_it!(body(3, json!({"component_type": 3, "custom_id": "mood", "values": ["sleepy"]}), Some(&again)));
    let modal = seen(&mut scene.watcher, "INTERACTION_MODAL_CREATE", |_| true).await;
    assert_eq!(modal["title"], "Leave a note");
    let input = modal["components"][0]["components"][0].clone();
    let submit = json!({"custom_id": modal["custom_id"], "components": [{"type": 1, "components": [
        {"type": 4, "custom_id": input["custom_id"], "value": "zzz"}]}]});
    use_it!(body(5, submit, None));
    let noted = seen(&mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "Noted: zzz").await;
    assert_eq!(noted["flags"], 64);

    use_it!(body(2, json!({"id": id("slow"), "name": "slow", "type": 1}), None));
    let thinking = seen(&mut scene.watcher, "MESSAGE_CREATE", |d| d["flags"] == 128).await;
    let done = seen(&mut scene.watcher, "MESSAGE_UPDATE", |d| d["content"] == "Finally done").await;
    assert_eq!(done["id"], thinking["id"], "discord.py's first follow-up after a defer edits the thinking message");

    use_it!(body(2, json!({"id": id("Poke"), "name": "Poke", "type": 2, "target_id": scene.person.id}), None));
    let poked = seen(&mut scene.watcher, "MESSAGE_CREATE", |d| d["content"] == "Poked person").await;
    assert_eq!(poked["type"], 23);
    let said = bot.say_all(&["HANDLED poke", "HANDLED slow", "HANDLED note zzz", "HANDLED wave"]).await;
    assert_eq!(said[0], format!("HANDLED poke {}", scene.person.id));
}
