//! Components and interactions (issue 18): components on bots' messages,
//! checked at their paths; a person's click, select or modal submission
//! delivered to the bot as INTERACTION_CREATE; the bot's first answer within
//! the deadline (update, message, ephemeral, deferred, modal); follow-ups
//! and `@original` through the webhook routes; ephemeral messages seen by
//! the invoker alone and never stored; the invoker told of success or
//! failure; tokens that reach only their own interaction.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{assert_error, TestApp, TestUser};

struct World {
    app: TestApp,
    person: TestUser,
    other: TestUser,
    bot: TestUser,
    guild: String,
    channel: String,
    /// The person's session, the other member's, and the bot's.
    person_gw: Gateway,
    other_gw: Gateway,
    bot_gw: Gateway,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let person = app.register("clicker").await;
    let other = app.register("onlooker").await;
    let (guild, channel) = app.guild(&person, "Buttons").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&person, &channel, &other).await;
    let bot = app.bot(&person, "Button Bot", true).await;
    app.add_bot(&person, &bot, &guild).await;
    let mut person_gw = app.gateway("").await;
    person_gw.identify(&person.token, ALL_INTENTS).await;
    let mut other_gw = app.gateway("").await;
    other_gw.identify(&other.token, ALL_INTENTS).await;
    let mut bot_gw = app.gateway("").await;
    bot_gw.identify(&bot.token, ALL_INTENTS).await;
    World { app, person, other, bot, guild, channel, person_gw, other_gw, bot_gw }
}

fn buttons() -> Value {
    json!([
        {"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"},
            {"type": 2, "style": 4, "label": "Off", "custom_id": "off", "disabled": true},
            {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com/docs"}
        ]},
        {"type": 1, "components": [
            {"type": 3, "custom_id": "flavour", "placeholder": "Pick", "min_values": 1, "max_values": 2,
             "options": [{"label": "Vanilla", "value": "v"}, {"label": "Chocolate", "value": "c"}, {"label": "Mint", "value": "m"}]}
        ]},
        {"type": 1, "components": [{"type": 5, "custom_id": "who", "max_values": 2}]}
    ])
}

/// Skips `name` dispatches until one whose `d.content` is `content`.
async fn saying(gw: &mut Gateway, name: &str, content: &str) -> Value {
    loop {
        let e = gw.dispatch(name).await;
        if e["d"]["content"] == content {
            return e;
        }
    }
}

impl World {
    /// The bot posts a message with `components`; answers it.
    async fn bot_message(&mut self, content: &str, components: Value) -> Value {
        let (status, msg) = self
            .app
            .post(
                &format!("/channels/{}/messages", self.channel),
                &self.bot.token,
                json!({"content": content, "components": components}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{msg}");
        msg
    }

    /// The person uses a component of `message`.
    async fn click(&self, message: &Value, data: Value) -> (StatusCode, Value) {
        let body = json!({
            "type": 3, "application_id": self.bot.id, "guild_id": self.guild, "channel_id": self.channel,
            "message_id": message["id"], "session_id": "s", "nonce": "n-1", "data": data,
        });
        self.app.post("/interactions", &self.person.token, body).await
    }

    /// The interaction the bot receives next.
    async fn received(&mut self) -> Value {
        self.bot_gw.dispatch("INTERACTION_CREATE").await["d"].clone()
    }

    async fn callback(&self, i: &Value, body: Value, query: &str) -> (StatusCode, Value) {
        let path =
            format!("/interactions/{}/{}/callback{query}", i["id"].as_str().unwrap(), i["token"].as_str().unwrap());
        self.app.call(Method::POST, &path, None, Some(body)).await
    }

    /// The person (or `who`) uses a command.
    async fn invoke(&self, who: &TestUser, kind: u8, data: Value) -> (StatusCode, Value) {
        let body = json!({"type": kind, "application_id": self.bot.id, "guild_id": self.guild,
                          "channel_id": self.channel, "nonce": "c-1", "data": data});
        self.app.post("/interactions", &who.token, body).await
    }

    fn hook(&self, i: &Value) -> String {
        format!("/webhooks/{}/{}", self.bot.id, i["token"].as_str().unwrap())
    }
}

#[tokio::test]
async fn components_are_checked_stored_and_sent_by_bots_only() {
    let mut w = world().await;
    let msg = w.bot_message("choose", buttons()).await;
    let rows = msg["components"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["components"][0]["custom_id"], "yes");
    assert_eq!(rows[0]["components"][1]["disabled"], true);
    assert!(rows[0]["id"].is_u64() && rows[0]["components"][0]["id"].is_u64(), "components get ids: {msg}");
    let created = w.person_gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["components"], msg["components"]);
    let (_, stored) =
        w.app.get(&format!("/channels/{}/messages/{}", w.channel, msg["id"].as_str().unwrap()), &w.person.token).await;
    assert_eq!(stored["components"], msg["components"]);

    // A person sends none; broken ones are refused at their paths.
    let path = format!("/channels/{}/messages", w.channel);
    let (status, body) = w.app.post(&path, &w.person.token, json!({"content": "x", "components": buttons()})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"]["components"]["_errors"][0]["code"], "COMPONENT_NOT_ALLOWED");
    let broken = json!([{"type": 1, "components": [
        {"type": 2, "style": 1, "label": "a", "custom_id": "same"},
        {"type": 2, "style": 1, "label": "b", "custom_id": "same"},
        {"type": 2, "style": 5, "label": "c"}
    ]}, {"type": 2, "style": 1, "label": "loose", "custom_id": "loose"}]);
    let (status, body) = w.app.post(&path, &w.bot.token, json!({"content": "x", "components": broken})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let e = &body["errors"]["components"];
    assert_eq!(
        e["0"]["components"]["1"]["custom_id"]["_errors"][0]["code"], "COMPONENT_CUSTOM_ID_DUPLICATED",
        "{body}"
    );
    assert_eq!(e["0"]["components"]["2"]["url"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED", "{body}");
    assert_eq!(e["1"]["type"]["_errors"][0]["code"], "UNION_TYPE_CHOICES", "{body}");

    // An edit replaces them; `[]` removes them.
    let mpath = format!("/channels/{}/messages/{}", w.channel, msg["id"].as_str().unwrap());
    let (status, edited) = w.app.patch(&mpath, &w.bot.token, json!({"components": [{"type": 1, "components": [{"type": 2, "style": 2, "label": "Only", "custom_id": "only"}]}]})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["components"][0]["components"].as_array().unwrap().len(), 1);
    let (_, cleared) = w.app.patch(&mpath, &w.bot.token, json!({"components": []})).await;
    assert_eq!(cleared["components"], json!([]));

    // Layout components with IS_COMPONENTS_V2, and without words.
    let v2 = json!([{"type": 17, "accent_color": 0x5865F2, "components": [
        {"type": 10, "content": "## Release"},
        {"type": 14, "divider": true},
        {"type": 9, "components": [{"type": 10, "content": "Ship it?"}], "accessory": {"type": 2, "style": 3, "label": "Ship", "custom_id": "ship"}}
    ]}]);
    let (status, m) = w.app.post(&path, &w.bot.token, json!({"flags": 1 << 15, "components": v2})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["flags"], 1 << 15);
    assert_eq!(m["components"][0]["components"][2]["accessory"]["custom_id"], "ship");
    let (status, body) =
        w.app.post(&path, &w.bot.token, json!({"flags": 1 << 15, "content": "words", "components": v2})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A plain webhook may send links, not buttons that call back.
    let (_, hook) =
        w.app.post(&format!("/channels/{}/webhooks", w.channel), &w.person.token, json!({"name": "Links"})).await;
    let hook_url = format!("/webhooks/{}/{}?wait=true", hook["id"].as_str().unwrap(), hook["token"].as_str().unwrap());
    let link =
        json!([{"type": 1, "components": [{"type": 2, "style": 5, "label": "Open", "url": "https://example.com"}]}]);
    let (status, m) =
        w.app.call(Method::POST, &hook_url, None, Some(json!({"content": "see", "components": link}))).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let (status, _) =
        w.app.call(Method::POST, &hook_url, None, Some(json!({"content": "no", "components": buttons()}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_click_reaches_the_bot_and_its_update_reaches_everyone() {
    let mut w = world().await;
    let msg = w.bot_message("choose", buttons()).await;
    let (status, body) = w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let notice = w.person_gw.dispatch("INTERACTION_CREATE").await;
    assert_eq!(notice["d"]["nonce"], "n-1");
    let i = w.received().await;
    assert_eq!(notice["d"]["id"], i["id"]);
    assert_eq!(i["type"], 3);
    assert_eq!(i["application_id"].as_str(), Some(w.bot.id.as_str()));
    assert_eq!(i["channel_id"].as_str(), Some(w.channel.as_str()));
    assert_eq!(i["guild_id"].as_str(), Some(w.guild.as_str()));
    assert_eq!(i["data"]["custom_id"], "yes");
    assert_eq!(i["data"]["component_type"], 2);
    assert_eq!(i["member"]["user"]["id"].as_str(), Some(w.person.id.as_str()));
    assert!(i["member"]["permissions"].as_str().unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(i["message"]["id"], msg["id"]);
    assert_eq!(i["version"], 1);
    assert!(i["token"].as_str().unwrap().len() > 60);
    assert_eq!(i["authorizing_integration_owners"]["0"].as_str(), Some(w.guild.as_str()));

    // A wrong token reaches nothing; the right one answers once.
    let forged = json!({"id": i["id"], "token": format!("{}x", i["token"].as_str().unwrap())});
    assert_error(&w.callback(&forged, json!({"type": 6}), "").await, 404, 10062);
    let update = json!({"type": 7, "data": {"content": "You said yes", "components": []}});
    let (status, _) = w.callback(&i, update.clone(), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&w.callback(&i, update, "").await, 400, 40060);
    let updated = saying(&mut w.other_gw, "MESSAGE_UPDATE", "You said yes").await;
    assert_eq!(updated["d"]["content"], "You said yes");
    assert_eq!(updated["d"]["components"], json!([]));
    let success = w.person_gw.dispatch("INTERACTION_SUCCESS").await;
    assert_eq!(success["d"]["id"], i["id"]);

    // A disabled or missing component, or one of another type, is refused.
    let msg = w.bot_message("again", buttons()).await;
    for (data, code) in [
        (json!({"component_type": 2, "custom_id": "off"}), "COMPONENT_DISABLED"),
        (json!({"component_type": 2, "custom_id": "nope"}), "COMPONENT_NOT_FOUND"),
        (json!({"component_type": 3, "custom_id": "yes"}), "COMPONENT_TYPE_MISMATCH"),
        (json!({"component_type": 3, "custom_id": "flavour", "values": ["v", "x"]}), "SELECT_COMPONENT_INVALID_VALUE"),
        (json!({"component_type": 3, "custom_id": "flavour", "values": ["v", "c", "m"]}), "BASE_TYPE_BAD_LENGTH"),
    ] {
        let (status, body) = w.click(&msg, data.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{data}: {body}");
        assert!(body.to_string().contains(code), "{data}: {body}");
    }
    // A person's own message has no components to use; a bot cannot invoke.
    let mine = w.app.send(&w.person, &w.channel, "mine").await;
    assert_eq!(w.click(&mine, json!({"component_type": 2, "custom_id": "yes"})).await.0, StatusCode::BAD_REQUEST);
    let body = json!({"type": 3, "application_id": w.bot.id, "channel_id": w.channel, "message_id": msg["id"], "data": {"component_type": 2, "custom_id": "yes"}});
    assert_error(&w.app.post("/interactions", &w.bot.token, body).await, 403, 20001);

    // Selects: the values chosen, and the users resolved.
    let (status, _) = w.click(&msg, json!({"component_type": 3, "custom_id": "flavour", "values": ["m", "v"]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let i = w.received().await;
    assert_eq!(i["data"]["values"], json!(["m", "v"]));
    w.callback(&i, json!({"type": 6}), "").await;
    let (status, _) = w.click(&msg, json!({"component_type": 5, "custom_id": "who", "values": [w.other.id]})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let i = w.received().await;
    assert_eq!(i["data"]["resolved"]["users"][&w.other.id]["username"], "onlooker");
    assert!(i["data"]["resolved"]["members"][&w.other.id].is_object(), "{i}");
    let (status, body) = w.click(&msg, json!({"component_type": 5, "custom_id": "who", "values": ["123456789"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn ephemeral_answers_reach_the_invoker_alone_and_are_never_stored() {
    let mut w = world().await;
    let msg = w.bot_message("choose", buttons()).await;
    w.other_gw.dispatch("MESSAGE_CREATE").await;
    w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    let i = w.received().await;
    let (status, answer) =
        w.callback(&i, json!({"type": 4, "data": {"content": "only you", "flags": 64}}), "?with_response=true").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["interaction"]["id"], i["id"]);
    assert_eq!(answer["interaction"]["response_message_ephemeral"], true);
    assert_eq!(answer["resource"]["type"], 4);
    let m = &answer["resource"]["message"];
    assert_eq!((m["content"].as_str(), m["flags"].as_u64()), (Some("only you"), Some(64)));
    assert_eq!(m["author"]["id"].as_str(), Some(w.bot.id.as_str()));
    assert_eq!(m["webhook_id"].as_str(), Some(w.bot.id.as_str()));
    assert_eq!(m["interaction_metadata"]["id"], i["id"]);
    assert_eq!(m["interaction_metadata"]["user"]["id"].as_str(), Some(w.person.id.as_str()));
    let seen = saying(&mut w.person_gw, "MESSAGE_CREATE", "only you").await;
    assert_eq!(seen["d"]["flags"], 64);

    // Follow-ups, ephemeral or not, and @original edited.
    let (status, follow) =
        w.app.call(Method::POST, &format!("{}?wait=true", w.hook(&i)), None, Some(json!({"content": "for all"}))).await;
    assert_eq!(status, StatusCode::OK, "{follow}");
    assert_eq!(follow["webhook_id"].as_str(), Some(w.bot.id.as_str()));
    let public = w.other_gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(public["d"]["content"], "for all", "the onlooker saw nothing before the public follow-up");
    let (status, secret) = w
        .app
        .call(Method::POST, &format!("{}?wait=true", w.hook(&i)), None, Some(json!({"content": "psst", "flags": 64})))
        .await;
    assert_eq!((status, secret["flags"].as_u64()), (StatusCode::OK, Some(64)));
    let original = format!("{}/messages/@original", w.hook(&i));
    let (status, got) = w.app.call(Method::GET, &original, None, None).await;
    assert_eq!((status, got["content"].as_str()), (StatusCode::OK, Some("only you")));
    let (status, edited) =
        w.app.call(Method::PATCH, &original, None, Some(json!({"content": "only you, edited"}))).await;
    assert_eq!((status, edited["content"].as_str()), (StatusCode::OK, Some("only you, edited")));
    let mut saw_edit = false;
    for e in w.person_gw.dispatches(Duration::from_millis(400)).await {
        saw_edit |= e["t"] == "MESSAGE_UPDATE" && e["d"]["content"] == "only you, edited";
    }
    assert!(saw_edit, "the invoker sees the edit");
    let (status, _) = w
        .app
        .call(Method::DELETE, &format!("{}/messages/{}", w.hook(&i), secret["id"].as_str().unwrap()), None, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // History holds the public follow-up and never the ephemeral ones;
    // the onlooker never heard of them.
    for token in [&w.person.token, &w.other.token] {
        let (_, history) = w.app.get(&format!("/channels/{}/messages", w.channel), token).await;
        let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
        assert_eq!(contents, ["for all", "choose"]);
    }
    for e in w.other_gw.dispatches(Duration::from_millis(300)).await {
        assert!(!e.to_string().contains("only you") && !e.to_string().contains("psst"), "leaked: {e}");
    }
    // Another interaction's token reaches none of these messages.
    w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    let j = w.received().await;
    w.callback(&j, json!({"type": 6}), "").await;
    let path = format!("{}/messages/{}", w.hook(&j), follow["id"].as_str().unwrap());
    assert_error(&w.app.call(Method::PATCH, &path, None, Some(json!({"content": "hijack"}))).await, 404, 10008);
}

#[tokio::test]
async fn a_deferred_answer_thinks_until_it_is_edited_and_a_silent_bot_fails() {
    let mut w = world().await;
    let msg = w.bot_message("choose", buttons()).await;
    w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    let i = w.received().await;
    // A follow-up before the first answer names no webhook yet.
    let (status, _) = w.app.call(Method::POST, &w.hook(&i), None, Some(json!({"content": "early"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = w.callback(&i, json!({"type": 5}), "?with_response=true").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["interaction"]["response_message_loading"], true);
    let thinking = saying(&mut w.other_gw, "MESSAGE_CREATE", "").await;
    assert_eq!(thinking["d"]["flags"], 128);
    assert_eq!(thinking["d"]["content"], "");
    let (status, done) = w
        .app
        .call(
            Method::PATCH,
            &format!("{}/messages/@original", w.hook(&i)),
            None,
            Some(json!({"content": "Done thinking"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["content"].as_str(), done["flags"].as_u64()), (Some("Done thinking"), Some(0)));
    let (_, stored) =
        w.app.get(&format!("/channels/{}/messages/{}", w.channel, done["id"].as_str().unwrap()), &w.other.token).await;
    assert_eq!(stored["content"], "Done thinking");
    assert_eq!(stored["interaction_metadata"]["id"], i["id"]);

    // No answer within three seconds: the invoker is told, and a late
    // answer is refused.
    w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    let late = w.received().await;
    let failure = tokio::time::timeout(Duration::from_secs(6), w.person_gw.dispatch("INTERACTION_FAILURE"))
        .await
        .expect("failure told");
    assert_eq!(failure["d"]["id"], late["id"]);
    assert_error(&w.callback(&late, json!({"type": 4, "data": {"content": "too late"}}), "").await, 404, 10062);
}

#[tokio::test]
async fn a_modal_opens_for_the_invoker_and_its_submission_reaches_the_bot() {
    let mut w = world().await;
    let msg = w.bot_message("feedback?", buttons()).await;
    w.click(&msg, json!({"component_type": 2, "custom_id": "yes"})).await;
    let i = w.received().await;
    let modal = json!({"type": 9, "data": {"custom_id": "feedback", "title": "Tell us", "components": [
        {"type": 1, "components": [{"type": 4, "custom_id": "what", "label": "What happened", "style": 2, "min_length": 3, "max_length": 200}]},
        {"type": 1, "components": [{"type": 4, "custom_id": "mood", "label": "Mood", "style": 1, "required": false}]}
    ]}});
    let bad = json!({"type": 9, "data": {"custom_id": "x", "title": "", "components": []}});
    let (status, body) = w.callback(&i, bad, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = w.callback(&i, modal, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let opened = w.person_gw.dispatch("INTERACTION_MODAL_CREATE").await;
    assert_eq!(opened["d"]["custom_id"], "feedback");
    assert_eq!(opened["d"]["title"], "Tell us");
    assert_eq!(opened["d"]["components"][0]["components"][0]["custom_id"], "what");

    let (bot_id, guild, channel) = (w.bot.id.clone(), w.guild.clone(), w.channel.clone());
    let submit = move |value: &str| {
        json!({"type": 5, "application_id": bot_id, "guild_id": guild, "channel_id": channel, "nonce": "m-1",
               "data": {"custom_id": "feedback", "components": [
                   {"type": 1, "components": [{"type": 4, "custom_id": "what", "value": value}]},
                   {"type": 1, "components": [{"type": 4, "custom_id": "mood", "value": ""}]}]}})
    };
    // Too short for its min_length: refused, and the modal stays open to
    // be corrected.
    let (status, body) = w.app.post("/interactions", &w.person.token, submit("no")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Corrected and submitted.
    let (status, _) = w.app.post("/interactions", &w.person.token, submit("It broke")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let s = w.received().await;
    assert_eq!(s["type"], 5);
    assert_eq!(s["data"]["custom_id"], "feedback");
    assert_eq!(
        s["data"]["components"][0]["components"][0],
        json!({"type": 4, "id": s["data"]["components"][0]["components"][0]["id"], "custom_id": "what", "value": "It broke"})
    );
    let (status, _) = w.callback(&s, json!({"type": 4, "data": {"content": "Thanks!"}}), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    saying(&mut w.other_gw, "MESSAGE_CREATE", "Thanks!").await;
    // Submitted, the modal is closed.
    let (status, _) = w.app.post("/interactions", &w.person.token, submit("Again")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn slash_commands_are_listed_checked_and_delivered_with_autocomplete() {
    let mut w = world().await;
    let commands = json!([
        {"name": "roll", "description": "Roll dice", "options": [
            {"type": 4, "name": "sides", "description": "Sides", "required": true, "min_value": 2, "max_value": 100},
            {"type": 3, "name": "colour", "description": "Colour", "choices": [{"name": "Red", "value": "red"}, {"name": "Blue", "value": "blue"}]},
            {"type": 3, "name": "city", "description": "City", "autocomplete": true},
            {"type": 6, "name": "for", "description": "For whom"}
        ]},
        {"name": "admin", "description": "Admins only", "default_member_permissions": "8"},
        {"name": "Wave at", "type": 2}
    ]);
    let path = format!("/applications/{}/guilds/{}/commands", w.bot.id, w.guild);
    let (status, made) = w.app.call(Method::PUT, &path, Some(&w.bot.token), Some(commands)).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let id = |name: &str| made.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["id"].clone();

    // The picker's index: the owner sees all three, a plain member not the
    // admin command.
    let index = format!("/channels/{}/application-command-index", w.channel);
    let (status, all) = w.app.get(&index, &w.person.token).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["applications"][0]["id"].as_str(), Some(w.bot.id.as_str()));
    assert_eq!(all["application_commands"].as_array().unwrap().len(), 3);
    let (_, theirs) = w.app.get(&index, &w.other.token).await;
    let names: Vec<&str> =
        theirs["application_commands"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"admin") && names.contains(&"roll"), "{names:?}");

    let (status, body) = w
        .invoke(
            &w.person,
            2,
            json!({"id": id("roll"), "name": "roll", "type": 1, "options": [
                {"name": "sides", "type": 4, "value": 20}, {"name": "colour", "type": 3, "value": "blue"},
                {"name": "for", "type": 6, "value": w.other.id}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let i = w.received().await;
    assert_eq!(i["type"], 2);
    assert_eq!(i["data"]["name"], "roll");
    assert_eq!(i["data"]["options"][0], json!({"name": "sides", "type": 4, "value": 20}));
    assert_eq!(i["data"]["resolved"]["users"][&w.other.id]["username"], "onlooker");
    let (status, _) = w.callback(&i, json!({"type": 4, "data": {"content": "You rolled 17"}}), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = saying(&mut w.other_gw, "MESSAGE_CREATE", "You rolled 17").await;
    assert_eq!(answer["d"]["type"], 20);
    assert_eq!(answer["d"]["interaction_metadata"]["name"], "roll");
    assert_eq!(answer["d"]["application_id"].as_str(), Some(w.bot.id.as_str()));

    // Bad uses are refused before the bot hears of them.
    for (options, why) in [
        (json!([{"name": "sides", "type": 4, "value": 1}]), "below min_value"),
        (
            json!([{"name": "sides", "type": 4, "value": 6}, {"name": "colour", "type": 3, "value": "green"}]),
            "not a choice",
        ),
        (json!([{"name": "colour", "type": 3, "value": "red"}]), "required option missing"),
        (json!([{"name": "sides", "type": 3, "value": "6"}]), "wrong type"),
        (
            json!([{"name": "sides", "type": 4, "value": 6}, {"name": "nope", "type": 3, "value": "x"}]),
            "unknown option",
        ),
    ] {
        let (status, body) =
            w.invoke(&w.person, 2, json!({"id": id("roll"), "name": "roll", "type": 1, "options": options})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
    }
    assert_error(&w.invoke(&w.other, 2, json!({"id": id("admin"), "name": "admin", "type": 1})).await, 403, 50013);
    assert_error(&w.invoke(&w.person, 2, json!({"id": "12345", "name": "gone", "type": 1})).await, 404, 10063);

    // Autocomplete: a partial value, focused; the choices reach the person.
    let (status, body) = w
        .invoke(
            &w.person,
            4,
            json!({"id": id("roll"), "name": "roll", "type": 1, "options": [
                {"name": "city", "type": 3, "value": "Par", "focused": true}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let a = w.received().await;
    assert_eq!(a["type"], 4);
    assert_eq!(a["data"]["options"][0]["focused"], true);
    assert_error(&w.callback(&a, json!({"type": 4, "data": {"content": "no"}}), "").await, 400, 50035);
    let choices = json!({"type": 8, "data": {"choices": [{"name": "Paris", "value": "paris"}, {"name": "Parma", "value": "parma"}]}});
    let (status, _) = w.callback(&a, choices, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let shown = w.person_gw.dispatch("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE").await;
    assert_eq!(shown["d"]["choices"][1]["name"], "Parma");
    assert_eq!(shown["d"]["nonce"], "c-1");

    // A user context menu names its target.
    let (status, _) = w
        .invoke(&w.person, 2, json!({"id": id("Wave at"), "name": "Wave at", "type": 2, "target_id": w.other.id}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let c = w.received().await;
    assert_eq!(c["data"]["target_id"].as_str(), Some(w.other.id.as_str()));
    assert!(c["data"]["resolved"]["members"][&w.other.id].is_object(), "{c}");
    w.callback(&c, json!({"type": 4, "data": {"content": "👋"}}), "").await;
    let wave = saying(&mut w.other_gw, "MESSAGE_CREATE", "👋").await;
    assert_eq!(wave["d"]["type"], 23);
}

#[tokio::test]
async fn attachment_options_carry_files_uploaded_ahead() {
    let mut w = world().await;
    let path = format!("/applications/{}/guilds/{}/commands", w.bot.id, w.guild);
    let scan = json!({"name": "scan", "description": "Scans a file", "options": [
        {"type": 11, "name": "file", "description": "The file", "required": true}]});
    let (status, made) = w.app.post(&path, &w.bot.token, scan).await;
    assert!(status.is_success(), "{made}");
    let (status, body) = w
        .app
        .post(
            &format!("/channels/{}/attachments", w.channel),
            &w.person.token,
            json!({"files": [{"id": "0", "filename": "report.txt", "file_size": 12}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let up = body["attachments"][0].clone();
    let res = w.app.client.put(up["upload_url"].as_str().unwrap()).body("hello, bot!\n").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let data = |uploaded: &Value| {
        json!({"id": made["id"], "name": "scan", "type": 1, "options": [{"name": "file", "type": 11, "value": "0"}],
               "attachments": [{"id": "0", "filename": "report.txt", "uploaded_filename": uploaded}]})
    };
    // A file never uploaded is refused; the uploaded one reaches the bot.
    let (status, body) = w.invoke(&w.person, 2, data(&json!("123/nothing.txt"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = w.invoke(&w.person, 2, data(&up["upload_filename"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let i = w.received().await;
    let id = i["data"]["options"][0]["value"].as_str().unwrap().to_owned();
    let file = &i["data"]["resolved"]["attachments"][&id];
    assert_eq!(file["filename"], "report.txt", "{i}");
    assert_eq!(file["size"], 12);
    let bytes = w.app.client.get(file["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert_eq!(bytes, "hello, bot!\n");
    // Claimed once: the same upload cannot be used again.
    let (status, _) = w.invoke(&w.person, 2, data(&up["upload_filename"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
