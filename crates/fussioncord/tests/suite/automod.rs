//! AutoMod through the public surface: the rules API (permissions,
//! validation, Discord's limits), every trigger and action in the message
//! path, exemptions, edits, the audit log, the gateway events with their
//! intents, and a failing classifier that never blocks a message.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ws::Received;
use common::{assert_error, TestApp, TestUser};
use reqwest::StatusCode;
use serde_json::{json, Value};

const MANAGE_GUILD: u64 = 1 << 5;
const AUTO_MODERATION_CONFIGURATION: u64 = 1 << 20;
const AUTO_MODERATION_EXECUTION: u64 = 1 << 21;
const GUILDS: u64 = 1;
const GUILD_MESSAGES: u64 = 1 << 9;
const MESSAGE_CONTENT: u64 = 1 << 15;

struct World {
    owner: TestUser,
    member: TestUser,
    guild: String,
    /// The guild's first text channel.
    general: String,
    other: String,
    alerts: String,
}

async fn world(app: &TestApp) -> World {
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let (guild, general) = app.guild(&owner, "automod").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&owner, &general, &member).await;
    let mut made = Vec::new();
    for name in ["other", "alerts"] {
        let (status, c) = app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        made.push(c["id"].as_str().unwrap().to_owned());
    }
    World { owner, member, guild, general, other: made[0].clone(), alerts: made[1].clone() }
}

fn rules_path(w: &World) -> String {
    format!("/guilds/{}/auto-moderation/rules", w.guild)
}

async fn make_rule(app: &TestApp, w: &World, body: Value) -> Value {
    let (status, rule) = app.post(&rules_path(w), &w.owner.token, body).await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    rule
}

fn keyword_rule(name: &str, metadata: Value, actions: Value) -> Value {
    json!({ "name": name, "event_type": 1, "trigger_type": 1, "trigger_metadata": metadata, "actions": actions, "enabled": true })
}

fn block() -> Value {
    json!([{ "type": 1, "metadata": { "custom_message": "Not here." } }])
}

async fn post(app: &TestApp, user: &TestUser, channel: &str, content: &str) -> (StatusCode, Value) {
    app.post(&format!("/channels/{channel}/messages"), &user.token, json!({ "content": content })).await
}

async fn history(app: &TestApp, user: &TestUser, channel: &str) -> Vec<Value> {
    let (status, list) = app.get(&format!("/channels/{channel}/messages?limit=100"), &user.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

/// Dispatch names (and payloads) until one named `until`.
async fn until(gw: &mut common::ws::Gateway, name: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let p = gw.next().await;
        if p["op"] == 0 {
            let done = p["t"] == name;
            seen.push(p);
            if done {
                return seen;
            }
        }
    }
}

async fn audit_actions(app: &TestApp, w: &World) -> Value {
    let (status, log) = app.get(&format!("/guilds/{}/audit-logs?limit=100", w.guild), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log
}

fn has_action(log: &Value, action: u64) -> bool {
    log["audit_log_entries"].as_array().unwrap().iter().any(|e| e["action_type"] == action)
}

async fn metric(app: &TestApp, line_start: &str) -> f64 {
    let url = format!("http://{}/metrics", app.addr());
    let text = app.client.get(url).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric line starting {line_start:?} in\n{text}"))
}

#[tokio::test]
async fn rules_crud_needs_manage_guild_and_is_audited() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let rule = make_rule(
        &app,
        &w,
        json!({
            "name": "words", "event_type": 1, "trigger_type": 1,
            "trigger_metadata": { "keyword_filter": ["bad*"], "regex_patterns": ["b[a4]d\\d+"], "allow_list": ["badge"] },
            "actions": [{ "type": 1 }, { "type": 2, "metadata": { "channel_id": w.alerts } }, { "type": 3, "metadata": { "duration_seconds": 60 } }],
            "exempt_roles": [], "exempt_channels": [w.other, w.other],
        }),
    )
    .await;
    let id = rule["id"].as_str().unwrap().to_owned();
    assert_eq!(rule["guild_id"], json!(w.guild));
    assert_eq!(rule["creator_id"], json!(w.owner.id));
    assert_eq!(rule["enabled"], json!(false), "rules start disabled unless asked, as on Discord");
    assert_eq!(rule["trigger_metadata"]["keyword_filter"], json!(["bad*"]));
    assert_eq!(rule["exempt_channels"], json!([w.other]), "duplicates are folded");
    assert_eq!(rule["actions"][1]["metadata"]["channel_id"], json!(w.alerts));
    assert_eq!(rule["actions"][2]["metadata"]["duration_seconds"], json!(60));

    let (status, list) = app.get(&rules_path(&w), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = format!("{}/{id}", rules_path(&w));
    let (status, got) = app.get(&one, &w.owner.token).await;
    assert_eq!((status, &got), (StatusCode::OK, &rule));

    // Without MANAGE_GUILD: nothing, and nothing changes.
    for r in [
        app.get(&rules_path(&w), &w.member.token).await,
        app.get(&one, &w.member.token).await,
        app.post(&rules_path(&w), &w.member.token, keyword_rule("x", json!({}), block())).await,
        app.patch(&one, &w.member.token, json!({ "name": "mine" })).await,
        app.delete(&one, &w.member.token).await,
    ] {
        assert_error(&r, 403, 50013);
    }

    let (status, patched) = app.patch(&one, &w.owner.token, json!({ "name": "renamed", "enabled": true })).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["enabled"], true);
    assert_eq!(patched["trigger_metadata"], rule["trigger_metadata"], "untouched fields stay");
    let r = app.patch(&one, &w.owner.token, json!({ "trigger_type": 4 })).await;
    assert_error(&r, 400, 50035);

    let log = audit_actions(&app, &w).await;
    assert!(has_action(&log, 140) && has_action(&log, 141), "{log}");
    assert_eq!(log["auto_moderation_rules"][0]["id"], json!(id), "{log}");
    let update = log["audit_log_entries"].as_array().unwrap().iter().find(|e| e["action_type"] == 141).unwrap();
    assert_eq!(update["target_id"], json!(id));
    assert!(update["changes"].as_array().unwrap().iter().any(|c| c["key"] == "name" && c["new_value"] == "renamed"));

    let (status, _) = app.delete(&one, &w.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get(&one, &w.owner.token).await, 404, 10066);
    assert_error(&app.delete(&one, &w.owner.token).await, 404, 10066);
    assert!(has_action(&audit_actions(&app, &w).await, 142));
}

#[tokio::test]
async fn bad_rules_are_refused_with_their_field_and_limits_hold() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "event_type": 1, "trigger_type": 1, "actions": block() }), "name"),
        (json!({ "name": "", "event_type": 1, "trigger_type": 1, "actions": block() }), "name"),
        (json!({ "name": "x", "event_type": 2, "trigger_type": 1, "actions": block() }), "event_type"),
        (json!({ "name": "x", "event_type": 1, "trigger_type": 7, "actions": block() }), "trigger_type"),
        (json!({ "name": "x", "event_type": 1, "trigger_type": 1 }), "actions"),
        (json!({ "name": "x", "event_type": 1, "trigger_type": 1, "actions": [] }), "actions"),
        (keyword_rule("x", json!({ "regex_patterns": ["(unclosed"] }), block()), "trigger_metadata"),
        (keyword_rule("x", json!({ "regex_patterns": ["a{1000}{1000}"] }), block()), "trigger_metadata"),
        (keyword_rule("x", json!({ "keyword_filter": ["a".repeat(61)] }), block()), "trigger_metadata"),
        (keyword_rule("x", json!({ "keyword_filter": "word" }), block()), "trigger_metadata"),
        (keyword_rule("x", json!({}), json!([{ "type": 9 }])), "actions"),
        (keyword_rule("x", json!({}), json!([{ "type": 2, "metadata": {} }])), "actions"),
        (keyword_rule("x", json!({}), json!([{ "type": 2, "metadata": { "channel_id": "123" } }])), "actions"),
        (keyword_rule("x", json!({}), json!([{ "type": 3, "metadata": { "duration_seconds": 2419201 } }])), "actions"),
        (
            keyword_rule("x", json!({}), json!([{ "type": 1, "metadata": { "custom_message": "m".repeat(151) } }])),
            "actions",
        ),
        (
            json!({ "name": "x", "event_type": 1, "trigger_type": 3, "actions": [{ "type": 3, "metadata": { "duration_seconds": 60 } }] }),
            "actions",
        ),
        (
            json!({ "name": "x", "event_type": 1, "trigger_type": 5, "trigger_metadata": { "mention_total_limit": 51 }, "actions": block() }),
            "trigger_metadata",
        ),
        (json!({ "name": "x", "event_type": 1, "trigger_type": 5, "actions": block() }), "trigger_metadata"),
        (
            json!({ "name": "x", "event_type": 1, "trigger_type": 4, "trigger_metadata": { "presets": [4] }, "actions": block() }),
            "trigger_metadata",
        ),
        (
            json!({ "name": "x", "event_type": 1, "trigger_type": 1000, "trigger_metadata": { "toxicity_threshold": 1.5 }, "actions": block() }),
            "trigger_metadata",
        ),
        (
            keyword_rule("x", json!({}), block())
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain([("exempt_roles".to_owned(), json!(["1"]))])
                .collect(),
            "exempt_roles",
        ),
        (
            keyword_rule("x", json!({}), block())
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain([("exempt_channels".to_owned(), json!(["1"]))])
                .collect(),
            "exempt_channels",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&rules_path(&w), &w.owner.token, body.clone()).await;
        assert_error(&r, 400, 50035);
        assert!(r.1["errors"].get(field).is_some(), "{body} → {}", r.1);
    }
    let (_, list) = app.get(&rules_path(&w), &w.owner.token).await;
    assert_eq!(list, json!([]), "refused rules leave nothing behind");

    // Discord's limits per trigger type: 6 keyword rules, one of each other.
    for i in 0..6 {
        make_rule(&app, &w, keyword_rule(&format!("k{i}"), json!({ "keyword_filter": ["x"] }), block())).await;
    }
    let r = app.post(&rules_path(&w), &w.owner.token, keyword_rule("k7", json!({}), block())).await;
    assert_error(&r, 400, 50035);
    assert_eq!(r.1["errors"]["trigger_type"]["_errors"][0]["code"], "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED");
    for (kind, meta) in
        [(3, json!({})), (4, json!({ "presets": [1] })), (5, json!({ "mention_total_limit": 5 })), (1000, json!({}))]
    {
        let body = json!({ "name": "one", "event_type": 1, "trigger_type": kind, "trigger_metadata": meta, "actions": block() });
        make_rule(&app, &w, body.clone()).await;
        assert_error(&app.post(&rules_path(&w), &w.owner.token, body).await, 400, 50035);
    }
    let (_, list) = app.get(&rules_path(&w), &w.owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn keyword_block_is_refused_never_stored_never_delivered() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let rule = make_rule(
        &app,
        &w,
        keyword_rule(
            "words",
            json!({ "keyword_filter": ["cat*", "*dog", "exact", "ice cream"], "regex_patterns": ["b[a4]d\\d+"], "allow_list": ["catalog", "bulldog"] }),
            block(),
        ),
    )
    .await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&w.owner.token, common::ws::ALL_INTENTS).await;

    let blocked = post(&app, &w.member, &w.general, "look a Catapult").await;
    assert_error(&blocked, 400, 200000);
    assert_eq!(blocked.1["message"], "Message was blocked by automatic moderation");
    let seen = until(&mut watcher, "AUTO_MODERATION_ACTION_EXECUTION").await;
    assert!(seen.iter().all(|p| p["t"] != "MESSAGE_CREATE"), "a blocked message is never delivered: {seen:?}");
    let exec = &seen.last().unwrap()["d"];
    assert_eq!(exec["rule_id"], rule["id"]);
    assert_eq!(exec["rule_trigger_type"], 1);
    assert_eq!(exec["action"]["type"], 1);
    assert_eq!(exec["action"]["metadata"]["custom_message"], "Not here.");
    assert_eq!(exec["user_id"], json!(w.member.id));
    assert_eq!(exec["channel_id"], json!(w.general));
    assert_eq!(exec["content"], "look a Catapult");
    assert_eq!(exec["matched_keyword"], "cat*");
    assert_eq!(exec["matched_content"], "Catapult");
    assert!(exec.get("message_id").is_none(), "{exec}");

    for text in ["a hotdog stand", "exact", "EXACT!", "I like ice cream.", "bad42 luck", "b4d7"] {
        assert_error(&post(&app, &w.member, &w.general, text).await, 400, 200000);
    }
    for text in ["the catalog", "a bulldog", "dogma", "exactly", "icecream", "bad luck", "scat"] {
        let (status, m) = post(&app, &w.member, &w.general, text).await;
        assert_eq!(status, StatusCode::OK, "{text}: {m}");
    }
    let contents: Vec<String> =
        history(&app, &w.owner, &w.general).await.iter().map(|m| m["content"].as_str().unwrap().to_owned()).collect();
    assert!(!contents.iter().any(|c| c.contains("Catapult") || c.contains("hotdog") || c == "exact"), "{contents:?}");
    assert!(contents.contains(&"the catalog".to_owned()));

    // Edits are checked too: a blocked edit leaves the message as it was.
    let (_, m) = post(&app, &w.member, &w.general, "all good").await;
    let path = format!("/channels/{}/messages/{}", w.general, m["id"].as_str().unwrap());
    assert_error(&app.patch(&path, &w.member.token, json!({ "content": "now exact" })).await, 400, 200000);
    let (_, kept) = app.get(&path, &w.member.token).await;
    assert_eq!(kept["content"], "all good");
    let (status, _) = app.patch(&path, &w.member.token, json!({ "content": "still fine" })).await;
    assert_eq!(status, StatusCode::OK);

    let log = audit_actions(&app, &w).await;
    let blocks: Vec<&Value> =
        log["audit_log_entries"].as_array().unwrap().iter().filter(|e| e["action_type"] == 143).collect();
    assert_eq!(blocks.len(), 8, "{log}");
    assert_eq!(blocks[0]["user_id"], json!(w.member.id));
    assert_eq!(blocks[0]["options"]["auto_moderation_rule_name"], "words");
    assert_eq!(blocks[0]["options"]["auto_moderation_rule_trigger_type"], "1");
    assert_eq!(blocks[0]["options"]["channel_id"], json!(w.general));

    // Disabled, the rule lets everything through.
    let (status, _) = app
        .patch(
            &format!("{}/{}", rules_path(&w), rule["id"].as_str().unwrap()),
            &w.owner.token,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(post(&app, &w.member, &w.general, "exact").await.0, StatusCode::OK);
}

#[tokio::test]
async fn alerts_deliver_the_message_and_report_it_in_the_alert_channel() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    make_rule(
        &app,
        &w,
        keyword_rule(
            "flag",
            json!({ "keyword_filter": ["suspicious"] }),
            json!([{ "type": 2, "metadata": { "channel_id": w.alerts } }]),
        ),
    )
    .await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&w.owner.token, common::ws::ALL_INTENTS).await;
    let (status, m) = post(&app, &w.member, &w.general, "a suspicious link").await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let seen = until(&mut watcher, "AUTO_MODERATION_ACTION_EXECUTION").await;
    let created: Vec<&Value> = seen.iter().filter(|p| p["t"] == "MESSAGE_CREATE").map(|p| &p["d"]).collect();
    assert!(created.iter().any(|d| d["id"] == m["id"]), "the flagged message is delivered: {seen:?}");
    let alert = created.iter().find(|d| d["channel_id"] == json!(w.alerts)).expect("the alert message is delivered");
    assert_eq!(alert["type"], 24);
    let exec = &seen.last().unwrap()["d"];
    assert_eq!(exec["message_id"], m["id"]);
    assert_eq!(exec["alert_system_message_id"], alert["id"]);
    assert_eq!(exec["action"]["metadata"]["channel_id"], json!(w.alerts));

    let alerts = history(&app, &w.owner, &w.alerts).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["type"], 24);
    assert_eq!(alerts[0]["author"]["id"], json!(w.member.id));
    let content = alerts[0]["content"].as_str().unwrap();
    assert!(content.contains("a suspicious link") && content.contains("flag"), "{content}");
    assert!(history(&app, &w.owner, &w.general).await.iter().any(|x| x["id"] == m["id"]));
    assert!(has_action(&audit_actions(&app, &w).await, 144));
}

#[tokio::test]
async fn timeouts_apply_through_the_member_timeout() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    make_rule(
        &app,
        &w,
        keyword_rule(
            "mute",
            json!({ "keyword_filter": ["forbidden"] }),
            json!([{ "type": 1 }, { "type": 3, "metadata": { "duration_seconds": 600 } }]),
        ),
    )
    .await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&w.owner.token, common::ws::ALL_INTENTS).await;
    assert_error(&post(&app, &w.member, &w.general, "forbidden words").await, 400, 200000);
    let seen = until(&mut watcher, "GUILD_MEMBER_UPDATE").await;
    assert!(seen.last().unwrap()["d"]["communication_disabled_until"].is_string());
    let (status, member) = app.get(&format!("/guilds/{}/members/{}", w.guild, w.member.id), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK);
    let until_ts = member["communication_disabled_until"].as_str().expect("timed out");
    let until_ts = chrono_like_seconds(until_ts);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((until_ts - now - 600).abs() < 30, "about ten minutes: {until_ts} vs {now}");
    // Timed out, the member can no longer send anything.
    assert_error(&post(&app, &w.member, &w.general, "hello?").await, 403, 50013);
    let log = audit_actions(&app, &w).await;
    let entry = log["audit_log_entries"].as_array().unwrap().iter().find(|e| e["action_type"] == 145).expect("145");
    assert_eq!(entry["target_id"], json!(w.member.id));
    assert_eq!(entry["changes"][0]["key"], "communication_disabled_until");
}

/// Seconds since the epoch of an ISO 8601 timestamp `YYYY-MM-DDTHH:MM:SS…`.
fn chrono_like_seconds(ts: &str) -> i64 {
    let n = |a: usize, b: usize| ts[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss) = (n(11, 13), n(14, 16), n(17, 19));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + hh * 3600 + mm * 60 + ss
}

#[tokio::test]
async fn exempt_roles_channels_and_moderators_pass() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let (_, role) = app.post(&format!("/guilds/{}/roles", w.guild), &w.owner.token, json!({ "name": "trusted" })).await;
    let role = role["id"].as_str().unwrap().to_owned();
    let (_, mods) = app
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.token,
            json!({ "name": "mods", "permissions": MANAGE_GUILD.to_string() }),
        )
        .await;
    let mods = mods["id"].as_str().unwrap().to_owned();
    let rule = keyword_rule("words", json!({ "keyword_filter": ["nope"] }), block());
    let mut rule = rule.as_object().unwrap().clone();
    rule.insert("exempt_roles".into(), json!([role]));
    rule.insert("exempt_channels".into(), json!([w.other]));
    make_rule(&app, &w, Value::Object(rule)).await;

    assert_error(&post(&app, &w.member, &w.general, "nope").await, 400, 200000);
    assert_eq!(post(&app, &w.member, &w.other, "nope").await.0, StatusCode::OK, "exempt channel");
    assert_eq!(post(&app, &w.owner, &w.general, "nope").await.0, StatusCode::OK, "the owner is exempt");
    let give = |r: String| format!("/guilds/{}/members/{}/roles/{r}", w.guild, w.member.id);
    assert_eq!(app.put(&give(role.clone()), &w.owner.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(post(&app, &w.member, &w.general, "nope").await.0, StatusCode::OK, "exempt role");
    let (status, _) =
        app.delete(&format!("/guilds/{}/members/{}/roles/{role}", w.guild, w.member.id), &w.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&post(&app, &w.member, &w.general, "nope").await, 400, 200000);
    assert_eq!(app.put(&give(mods), &w.owner.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(post(&app, &w.member, &w.general, "nope").await.0, StatusCode::OK, "MANAGE_GUILD is exempt");
}

#[tokio::test]
async fn presets_mentions_spam_and_toxicity_triggers() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let other = app.register("third").await;
    app.join(&w.owner, &w.general, &other).await;
    let rule = |kind: u16, meta: Value| json!({ "name": format!("t{kind}"), "event_type": 1, "trigger_type": kind, "trigger_metadata": meta, "actions": block(), "enabled": true });
    make_rule(&app, &w, rule(4, json!({ "presets": [1, 3], "allow_list": ["shitake"] }))).await;
    make_rule(&app, &w, rule(5, json!({ "mention_total_limit": 2 }))).await;

    assert_error(&post(&app, &w.member, &w.general, "oh fuck off").await, 400, 200000);
    assert_error(&post(&app, &w.member, &w.general, "what a retard").await, 400, 200000);
    assert_eq!(post(&app, &w.member, &w.general, "shitake mushrooms are nice").await.0, StatusCode::OK);
    assert_eq!(post(&app, &w.member, &w.general, "porn",).await.0, StatusCode::OK, "preset 2 is not on");

    let three = format!("<@{}> <@{}> <@{}>", w.owner.id, other.id, w.member.id);
    assert_error(&post(&app, &w.member, &w.general, &three).await, 400, 200000);
    let two = format!("<@{}> <@{}> <@{}>", w.owner.id, other.id, w.owner.id);
    assert_eq!(post(&app, &w.member, &w.general, &two).await.0, StatusCode::OK, "unique mentions are counted");

    // The toxicity extension, scored by the built-in model.
    let toxic = make_rule(&app, &w, rule(1000, json!({ "toxicity_threshold": 0.9 }))).await;
    assert_eq!(toxic["trigger_metadata"], json!({ "toxicity_threshold": 0.9 }));
    assert_error(&post(&app, &w.member, &w.general, "shut up you stupid bitch").await, 400, 200000);
    assert_eq!(post(&app, &w.member, &w.general, "see you at lunch").await.0, StatusCode::OK);
}

#[tokio::test]
async fn spam_rules_see_repeats_floods_and_scored_spam() {
    let app = TestApp::spawn_with(|c| {
        c.moderation.spam.flood_messages = 6;
        c.moderation.spam.flood_window_secs = 60;
    })
    .await;
    let w = world(&app).await;
    make_rule(
        &app,
        &w,
        json!({ "name": "spam", "event_type": 1, "trigger_type": 3, "actions": block(), "enabled": true }),
    )
    .await;
    // The same text in three channels: the third is spam.
    assert_eq!(post(&app, &w.member, &w.general, "join my server now").await.0, StatusCode::OK);
    assert_eq!(post(&app, &w.member, &w.other, "Join my  server NOW").await.0, StatusCode::OK);
    assert_error(&post(&app, &w.member, &w.alerts, "join my server now").await, 400, 200000);
    // A flood: the sixth message within the window, however different.
    let third = app.register("flooder").await;
    app.join(&w.owner, &w.general, &third).await;
    for i in 0..5 {
        assert_eq!(post(&app, &third, &w.general, &format!("message number {i}")).await.0, StatusCode::OK);
    }
    assert_error(&post(&app, &third, &w.general, "one more").await, 400, 200000);
    // Text spam, scored by the model, on a first message.
    let fresh = app.register("fresh").await;
    app.join(&w.owner, &w.general, &fresh).await;
    let spam = "WINNER!! You have won a £1000 cash prize! To claim txt WIN to 80085 now. T&C apply";
    assert_error(&post(&app, &fresh, &w.general, spam).await, 400, 200000);
    assert_eq!(post(&app, &fresh, &w.general, "are we still on for lunch tomorrow?").await.0, StatusCode::OK);
}

#[tokio::test]
async fn rule_events_reach_managers_with_the_intent() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let config_bot = app.bot(&w.owner, "configbot", true).await;
    let plain_bot = app.bot(&w.owner, "plainbot", true).await;
    let (_, mods) = app
        .post(
            &format!("/guilds/{}/roles", w.guild),
            &w.owner.token,
            json!({ "name": "mods", "permissions": MANAGE_GUILD.to_string() }),
        )
        .await;
    for bot in [&config_bot, &plain_bot] {
        app.add_bot(&w.owner, bot, &w.guild).await;
        let path = format!("/guilds/{}/members/{}/roles/{}", w.guild, bot.id, mods["id"].as_str().unwrap());
        assert_eq!(app.put(&path, &w.owner.token).await.0, StatusCode::NO_CONTENT);
    }
    let mut with = app.gateway("").await;
    with.identify(&config_bot.token, GUILDS | AUTO_MODERATION_CONFIGURATION | AUTO_MODERATION_EXECUTION).await;
    let mut without = app.gateway("").await;
    without.identify(&plain_bot.token, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT).await;
    let mut member = app.gateway("").await;
    member.identify(&w.member.token, common::ws::ALL_INTENTS).await;

    let rule = make_rule(&app, &w, keyword_rule("r", json!({ "keyword_filter": ["zap"] }), block())).await;
    let id = rule["id"].as_str().unwrap();
    let one = format!("{}/{id}", rules_path(&w));
    app.patch(&one, &w.owner.token, json!({ "enabled": true })).await;
    assert_error(&post(&app, &w.member, &w.general, "zap it").await, 400, 200000);
    app.delete(&one, &w.owner.token).await;
    // A marker everyone receives, after everything above.
    app.post(&format!("/guilds/{}/channels", w.guild), &w.owner.token, json!({ "name": "marker" })).await;

    let names = |seen: &[Value]| seen.iter().map(|p| p["t"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let seen = until(&mut with, "CHANNEL_CREATE").await;
    let got = names(&seen);
    for n in [
        "AUTO_MODERATION_RULE_CREATE",
        "AUTO_MODERATION_RULE_UPDATE",
        "AUTO_MODERATION_ACTION_EXECUTION",
        "AUTO_MODERATION_RULE_DELETE",
    ] {
        assert!(got.contains(&n.to_owned()), "{n} missing from {got:?}");
    }
    let created = seen.iter().find(|p| p["t"] == "AUTO_MODERATION_RULE_CREATE").unwrap();
    assert_eq!(created["d"]["id"], rule["id"]);
    let update = seen.iter().find(|p| p["t"] == "AUTO_MODERATION_RULE_UPDATE").unwrap();
    assert_eq!(update["d"]["enabled"], true);
    let exec = &seen.iter().find(|p| p["t"] == "AUTO_MODERATION_ACTION_EXECUTION").unwrap()["d"];
    assert_eq!(exec["content"], "", "no MESSAGE_CONTENT intent: no content");
    assert_eq!(exec["matched_content"], "");
    assert_eq!(exec["matched_keyword"], "zap");
    for (who, gw) in [("a bot without the intents", &mut without), ("a member without MANAGE_GUILD", &mut member)] {
        let got = names(&until(gw, "CHANNEL_CREATE").await);
        assert!(!got.iter().any(|n| n.starts_with("AUTO_MODERATION")), "{who} got {got:?}");
    }
}

/// Panics on every message, as a broken model might.
struct Panicking;
impl moderation::Classifier for Panicking {
    fn score(&self, _: &str) -> moderation::Scores {
        panic!("classifier exploded (test)")
    }
}

/// Takes far longer than any budget.
struct Slow;
impl moderation::Classifier for Slow {
    fn score(&self, _: &str) -> moderation::Scores {
        std::thread::sleep(Duration::from_millis(20));
        moderation::Scores { toxicity: 1.0, spam: 1.0 }
    }
}

#[tokio::test]
async fn a_failing_classifier_never_blocks_a_message_and_is_counted() {
    for (classifier, kind) in
        [(Arc::new(Panicking) as Arc<dyn moderation::Classifier>, "panic"), (Arc::new(Slow), "timeout")]
    {
        let app = TestApp::spawn_with_classifier(classifier, |c| c.moderation.budget_us = 5_000).await;
        let w = world(&app).await;
        for kind in [3, 1000] {
            make_rule(
                &app,
                &w,
                json!({ "name": "ml", "event_type": 1, "trigger_type": kind, "actions": block(), "enabled": true }),
            )
            .await;
        }
        make_rule(&app, &w, keyword_rule("words", json!({ "keyword_filter": ["blocked"] }), block())).await;
        let line = format!("fussioncord_moderation_classifier_failures_total{{kind=\"{kind}\"}}");
        assert_eq!(metric(&app, &line).await, 0.0);
        let (status, m) = post(&app, &w.member, &w.general, "shut up you stupid bitch, WIN a prize txt 80085").await;
        assert_eq!(status, StatusCode::OK, "{kind}: {m}");
        assert!(history(&app, &w.member, &w.general).await.iter().any(|x| x["id"] == m["id"]));
        assert_eq!(metric(&app, &line).await, 1.0, "{kind}");
        // Rules that need no score still apply.
        assert_error(&post(&app, &w.member, &w.general, "blocked").await, 400, 200000);
        assert!(metric(&app, "fussioncord_moderation_checks_total").await >= 2.0);
        assert_eq!(metric(&app, "fussioncord_moderation_actions_total{action=\"block_message\"}").await, 1.0);
    }
}

/// Every message passes through the classifiers, rules or not (and in
/// DMs): operators see how much toxicity and spam arrives; what happens to it
/// is the guild's rules' choice.
#[tokio::test]
async fn every_message_is_scored_and_flagged_ones_counted_without_rules() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let toxic = "fussioncord_moderation_flagged_total{score=\"toxicity\"}";
    let spam = "fussioncord_moderation_flagged_total{score=\"spam\"}";
    let calls = "fussioncord_moderation_classifier_calls_total";
    assert_eq!((metric(&app, toxic).await, metric(&app, spam).await, metric(&app, calls).await), (0.0, 0.0, 0.0));
    for content in [
        "see you at lunch tomorrow",
        "shut up you stupid bitch",
        "WINNER!! claim your £1000 prize, txt WIN to 80085 now",
    ] {
        assert_eq!(post(&app, &w.member, &w.general, content).await.0, StatusCode::OK, "{content}");
    }
    let (_, dm) = app.post("/users/@me/channels", &w.member.token, json!({ "recipient_id": w.owner.id })).await;
    assert_eq!(post(&app, &w.member, dm["id"].as_str().unwrap(), "thanks for the invite").await.0, StatusCode::OK);
    assert_eq!(metric(&app, calls).await, 4.0);
    assert_eq!(metric(&app, toxic).await, 1.0);
    assert_eq!(metric(&app, spam).await, 1.0);
    assert_eq!(metric(&app, "fussioncord_moderation_checks_total").await, 0.0, "no rules were checked");
}

#[tokio::test]
async fn moderation_off_applies_no_rules() {
    let app = TestApp::spawn_with(|c| c.moderation.enabled = false).await;
    let w = world(&app).await;
    make_rule(&app, &w, keyword_rule("words", json!({ "keyword_filter": ["blocked"] }), block())).await;
    assert_eq!(post(&app, &w.member, &w.general, "blocked").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_dm_is_not_moderated_and_quiet_sessions_see_nothing() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    make_rule(&app, &w, keyword_rule("words", json!({ "keyword_filter": ["blocked"] }), block())).await;
    let (status, dm) = app.post("/users/@me/channels", &w.member.token, json!({ "recipient_id": w.owner.id })).await;
    assert_eq!(status, StatusCode::OK, "{dm}");
    assert_eq!(post(&app, &w.member, dm["id"].as_str().unwrap(), "blocked").await.0, StatusCode::OK);
    let mut gw = app.gateway("").await;
    gw.identify(&w.member.token, common::ws::ALL_INTENTS).await;
    assert_error(&post(&app, &w.member, &w.general, "blocked").await, 400, 200000);
    // The member who was blocked hears nothing of it from the gateway.
    while let Some(Received::Payload(p)) = gw.next_within(Duration::from_millis(300)).await {
        assert!(p["t"] != "AUTO_MODERATION_ACTION_EXECUTION" && p["t"] != "MESSAGE_CREATE", "{p}");
    }
}

/// Discord's per-type limits hold when the creates race: the count and the
/// insert must not interleave across connections.
#[tokio::test]
async fn rule_limits_hold_under_concurrent_creates() {
    let app = Arc::new(TestApp::spawn().await);
    let w = Arc::new(world(&app).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (app, w) = (app.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({ "name": format!("spam {i}"), "event_type": 1, "trigger_type": 3, "actions": block() });
            app.post(&rules_path(&w), &w.owner.token, body).await.0
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::OK {
            created += 1;
        }
    }
    let (status, list) = app.get(&rules_path(&w), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK);
    let stored = list.as_array().unwrap().iter().filter(|r| r["trigger_type"] == 3).count();
    assert_eq!((created, stored), (1, 1), "one spam rule per guild: {list}");
}

/// A keyword rule at Discord's limits (1000 wildcard keywords, an allow
/// list) against one long word must not stall the message path: matching
/// stays linear in the message.
#[tokio::test]
async fn hostile_keyword_rules_do_not_stall_messages() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let keywords: Vec<String> = (0..1000).map(|i| format!("*{}*", "a".repeat(1 + i % 3))).collect();
    make_rule(
        &app,
        &w,
        keyword_rule("hostile", json!({ "keyword_filter": keywords, "allow_list": ["*aaaa*"] }), block()),
    )
    .await;
    let long = "a".repeat(2000);
    let sent = tokio::time::timeout(Duration::from_secs(20), post(&app, &w.member, &w.general, &long)).await;
    let (status, m) = sent.expect("a message against a hostile rule took more than 20 s");
    assert_eq!(status, StatusCode::OK, "the allow list excuses the long word: {m}");
    let blocked = tokio::time::timeout(Duration::from_secs(20), post(&app, &w.member, &w.general, "a cat")).await;
    assert_error(&blocked.expect("timed out"), 400, 200000);
}
