//! Discord's permission model, end to end: every protected route refuses a
//! member who lacks the permission (and changes nothing), the role
//! hierarchy, timeouts, bans, the audit log, what outsiders can learn, and
//! which gateway sessions hear of what happens in a channel not everyone
//! can see. `TEST_STORE=sqlite|postgres` picks the backend.

use crate::common;

use std::time::Duration;

use model::permissions::{self as p, DEFAULT_EVERYONE};
use model::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::ws::{Gateway, ALL_INTENTS};
use common::{assert_error, TestApp, TestUser};

const QUIET: Duration = Duration::from_millis(300);
const THUMBS: &str = "%F0%9F%91%8D"; // 👍
const PARTY: &str = "%F0%9F%8E%89"; // 🎉

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A permission set as Discord writes it: a decimal string.
fn bits(perms: u64) -> String {
    perms.to_string()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// A guild, its owner and its text channel.
struct World {
    owner: TestUser,
    gid: String,
    ch: String,
}

/// A guild named "Perms" owned by `owner`, joined by one new user per name.
async fn world(app: &TestApp, members: &[&str]) -> (World, Vec<TestUser>) {
    let owner = app.register("owner").await;
    let (guild, ch) = app.guild(&owner, "Perms").await;
    let mut users = Vec::new();
    for name in members {
        let user = app.register(name).await;
        app.join(&owner, &ch, &user).await;
        users.push(user);
    }
    (World { owner, gid: id(&guild), ch }, users)
}

/// A new role (made by the owner) with `perms`.
async fn role(app: &TestApp, w: &World, name: &str, perms: u64) -> String {
    let (status, role) = app
        .post(&format!("/guilds/{}/roles", w.gid), &w.owner.token, json!({"name": name, "permissions": bits(perms)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["permissions"], json!(bits(perms)));
    id(&role)
}

async fn give(app: &TestApp, token: &str, gid: &str, user: &str, role: &str) {
    let r = app.put(&format!("/guilds/{gid}/members/{user}/roles/{role}"), token).await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
}

/// Gives `user` a new role holding `perms`; returns the role's id.
async fn grant(app: &TestApp, w: &World, user: &TestUser, perms: u64) -> String {
    let r = role(app, w, &format!("grant-{perms}"), perms).await;
    give(app, &w.owner.token, &w.gid, &user.id, &r).await;
    r
}

/// Sets role positions as the owner.
async fn positions(app: &TestApp, w: &World, order: &[(&str, i64)]) {
    let body: Vec<Value> = order.iter().map(|(r, pos)| json!({"id": r, "position": pos})).collect();
    let (status, roles) = app.patch(&format!("/guilds/{}/roles", w.gid), &w.owner.token, json!(body)).await;
    assert_eq!(status, StatusCode::OK, "{roles}");
}

async fn put_overwrite(
    app: &TestApp,
    token: &str,
    channel: &str,
    target: &str,
    kind: u8,
    allow: u64,
    deny: u64,
) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/channels/{channel}/permissions/{target}"),
        Some(token),
        Some(json!({"type": kind, "allow": bits(allow), "deny": bits(deny)})),
    )
    .await
}

/// An overwrite set by the owner. `kind` 0 is a role (the guild id is
/// @everyone), 1 a member.
async fn overwrite(app: &TestApp, w: &World, channel: &str, target: &str, kind: u8, allow: u64, deny: u64) {
    let r = put_overwrite(app, &w.owner.token, channel, target, kind, allow, deny).await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
}

async fn new_channel(app: &TestApp, w: &World, body: Value) -> String {
    let (status, channel) = app.post(&format!("/guilds/{}/channels", w.gid), &w.owner.token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{channel}");
    id(&channel)
}

/// Everything the owner can read about the guild, to show that a refused
/// request changed nothing (the audit log included: refusals are not
/// logged).
async fn snapshot(app: &TestApp, w: &World) -> Value {
    let t = &w.owner.token;
    let g = &w.gid;
    let mut out = serde_json::Map::new();
    for path in [
        format!("/guilds/{g}"),
        format!("/guilds/{g}/channels"),
        format!("/guilds/{g}/roles"),
        format!("/guilds/{g}/members?limit=1000"),
        format!("/guilds/{g}/bans"),
        format!("/guilds/{g}/invites"),
        format!("/guilds/{g}/audit-logs?limit=100"),
    ] {
        let (status, body) = app.get(&path, t).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        out.insert(path, body);
    }
    let channels = out[&format!("/guilds/{g}/channels")].as_array().unwrap().clone();
    for c in channels.iter().filter(|c| c["type"] == 0) {
        let c = id(c);
        for path in [format!("/channels/{c}/messages?limit=100"), format!("/channels/{c}/pins")] {
            let (status, body) = app.get(&path, t).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            out.insert(path, body);
        }
    }
    Value::Object(out)
}

#[track_caller]
fn assert_same(before: &Value, after: &Value) {
    if before != after {
        for (k, v) in before.as_object().unwrap() {
            assert_eq!(Some(v), after.get(k), "{k} changed");
        }
        panic!("the stored state changed: {before} -> {after}");
    }
}

/// Percent-encodes everything but unreserved characters, as Discord's
/// clients do for `X-Audit-Log-Reason`.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A request carrying `X-Audit-Log-Reason`.
async fn with_reason(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    reason: &str,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .request(method, format!("{}{}", app.base, path))
        .header("Authorization", token)
        .header("X-Audit-Log-Reason", url_encode(reason));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let text = res.text().await.unwrap();
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") };
    (status, value)
}

fn timestamp_in(ms: i64) -> String {
    Timestamp::from_unix_ms(Timestamp::now().unix_ms() + ms).to_string()
}

/// Collects dispatches until `QUIET` passes without one.
async fn drain(gw: &mut Gateway) -> Vec<Value> {
    gw.dispatches(QUIET).await
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["t"].as_str().unwrap()).collect()
}

/// A session with every intent, its READY and GUILD_CREATEs read.
async fn session(app: &TestApp, user: &TestUser) -> Gateway {
    let mut gw = app.gateway("").await;
    gw.identify(&user.token, ALL_INTENTS).await;
    drain(&mut gw).await;
    gw
}

/// Whether a dispatch concerns `channel` (as its channel or as itself).
fn about(event: &Value, channel: &str) -> bool {
    let d = &event["d"];
    d["channel_id"] == json!(channel)
        || (event["t"].as_str().is_some_and(|t| t.starts_with("CHANNEL_")) && d["id"] == json!(channel))
}

// ---------------------------------------------------------------------------
// 1. Every protected route refuses a member without the permission
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_channel_hidden_by_an_overwrite_is_missing_access_with_everything_in_it() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let secret = new_channel(&app, &w, json!({"name": "secret"})).await;
    let msg = app.send(&w.owner, &secret, "classified").await;
    let mid = id(&msg);
    assert_eq!(app.put(&format!("/channels/{secret}/pins/{mid}"), &w.owner.token).await.0, StatusCode::NO_CONTENT);
    let base = format!("/channels/{secret}");
    assert_eq!(app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    // Visible until @everyone is denied VIEW_CHANNEL.
    assert_eq!(app.get(&base, &m.token).await.0, StatusCode::OK);
    overwrite(&app, &w, &secret, &w.gid, 0, 0, p::VIEW_CHANNEL).await;

    let before = snapshot(&app, &w).await;
    let t = &m.token;
    let refused = [
        app.get(&base, t).await,
        app.get(&format!("{base}/messages"), t).await,
        app.get(&format!("{base}/messages?around={mid}"), t).await,
        app.get(&format!("{base}/messages/{mid}"), t).await,
        app.get(&format!("{base}/pins"), t).await,
        app.get(&format!("{base}/messages/pins"), t).await,
        app.get(&format!("{base}/messages/{mid}/reactions/{THUMBS}"), t).await,
        app.post(&format!("{base}/messages"), t, json!({"content": "let me in"})).await,
        app.post(&format!("{base}/typing"), t, json!({})).await,
        app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), t).await,
        app.post(&format!("{base}/invites"), t, json!({})).await,
        app.get(&format!("{base}/invites"), t).await,
        app.patch(&base, t, json!({"name": "mine"})).await,
        app.delete(&base, t).await,
        app.delete(&format!("{base}/messages/{mid}"), t).await,
        put_overwrite(&app, t, &secret, &m.id, 1, p::VIEW_CHANNEL, 0).await,
    ];
    for r in &refused {
        assert_error(r, 403, 50001);
        assert!(!r.1.to_string().contains("classified") && !r.1.to_string().contains("secret"), "{}", r.1);
    }
    let (_, listed) = app.get(&format!("/guilds/{}/channels", w.gid), t).await;
    assert!(listed.as_array().unwrap().iter().all(|c| c["id"] != json!(secret)), "hidden channels are not listed");
    assert!(listed.as_array().unwrap().iter().any(|c| c["id"] == json!(w.ch)));
    assert_same(&before, &snapshot(&app, &w).await);

    // A role overwrite allowing VIEW_CHANNEL beats the @everyone deny.
    let insider = grant(&app, &w, m, 0).await;
    overwrite(&app, &w, &secret, &insider, 0, p::VIEW_CHANNEL, 0).await;
    assert_eq!(app.get(&base, t).await.0, StatusCode::OK);
    let (status, history) = app.get(&format!("{base}/messages"), t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history[0]["content"], "classified");
    // ...and the member's own overwrite beats the role's.
    overwrite(&app, &w, &secret, &m.id, 1, 0, p::VIEW_CHANNEL).await;
    assert_error(&app.get(&base, t).await, 403, 50001);
    // The owner and administrators ignore overwrites.
    overwrite(&app, &w, &secret, &w.owner.id, 1, 0, p::VIEW_CHANNEL).await;
    assert_eq!(app.get(&base, &w.owner.token).await.0, StatusCode::OK);
    grant(&app, &w, m, p::ADMINISTRATOR).await;
    assert_eq!(app.get(&format!("{base}/messages"), t).await.1[0]["content"], "classified");
}

#[tokio::test]
async fn without_read_message_history_the_history_is_empty_and_single_messages_are_refused() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let msg = app.send(&w.owner, &w.ch, "old news").await;
    let mid = id(&msg);
    let base = format!("/channels/{}", w.ch);
    assert_eq!(app.put(&format!("{base}/pins/{mid}"), &w.owner.token).await.0, 204);
    assert_eq!(app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    overwrite(&app, &w, &w.ch, &w.gid, 0, 0, p::READ_MESSAGE_HISTORY).await;

    let before = snapshot(&app, &w).await;
    let t = &m.token;
    // The channel is there; its past is not.
    assert_eq!(app.get(&base, t).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("{base}/messages"), t).await, (StatusCode::OK, json!([])));
    assert_eq!(app.get(&format!("{base}/messages?before={mid}"), t).await, (StatusCode::OK, json!([])));
    assert_eq!(app.get(&format!("{base}/pins"), t).await, (StatusCode::OK, json!([])));
    assert_eq!(
        app.get(&format!("{base}/messages/pins"), t).await,
        (StatusCode::OK, json!({"items": [], "has_more": false}))
    );
    for r in [
        app.get(&format!("{base}/messages/{mid}"), t).await,
        app.get(&format!("{base}/messages/{mid}/reactions/{THUMBS}"), t).await,
        app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), t).await,
    ] {
        assert_error(&r, 403, 50013);
        assert!(!r.1.to_string().contains("old news"));
    }
    assert_same(&before, &snapshot(&app, &w).await);
    // Sending does not need the history.
    app.send(m, &w.ch, "new news").await;

    let reader = grant(&app, &w, m, 0).await;
    overwrite(&app, &w, &w.ch, &reader, 0, p::READ_MESSAGE_HISTORY, 0).await;
    let (_, history) = app.get(&format!("{base}/messages"), t).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["new news", "old news"]);
    assert_eq!(app.get(&format!("{base}/messages/{mid}"), t).await.1["content"], "old news");
}

#[tokio::test]
async fn without_send_messages_nothing_is_posted() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let msg = app.send(&w.owner, &w.ch, "say something").await;
    overwrite(&app, &w, &w.ch, &w.gid, 0, 0, p::SEND_MESSAGES).await;

    let before = snapshot(&app, &w).await;
    let base = format!("/channels/{}", w.ch);
    for r in [
        app.post(&format!("{base}/messages"), &m.token, json!({"content": "hi"})).await,
        app.post(
            &format!("{base}/messages"),
            &m.token,
            json!({"content": "a reply", "message_reference": {"message_id": id(&msg)}}),
        )
        .await,
        app.post(&format!("{base}/typing"), &m.token, json!({})).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);
    // Reading and reacting do not need it.
    assert_eq!(app.get(&format!("{base}/messages"), &m.token).await.1[0]["content"], "say something");
    assert_eq!(app.put(&format!("{base}/messages/{}/reactions/{THUMBS}/@me", id(&msg)), &m.token).await.0, 204);

    let speaker = grant(&app, &w, m, 0).await;
    overwrite(&app, &w, &w.ch, &speaker, 0, p::SEND_MESSAGES, 0).await;
    app.send(m, &w.ch, "hi").await;
    assert_eq!(app.post(&format!("{base}/typing"), &m.token, json!({})).await.0, 204);
}

#[tokio::test]
async fn mentioning_everyone_needs_mention_everyone_but_the_message_still_goes_through() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    overwrite(&app, &w, &w.ch, &w.gid, 0, 0, p::MENTION_EVERYONE).await;

    let msg = app.send(m, &w.ch, "@everyone look").await;
    assert_eq!(msg["content"], "@everyone look");
    assert_eq!(msg["mention_everyone"], false);
    let here = app.send(m, &w.ch, "@here look").await;
    assert_eq!(here["mention_everyone"], false);
    let (_, stored) = app.get(&format!("/channels/{}/messages/{}", w.ch, id(&msg)), &w.owner.token).await;
    assert_eq!(stored["mention_everyone"], false);
    assert_eq!(app.send(&w.owner, &w.ch, "@everyone look").await["mention_everyone"], true);

    let herald = grant(&app, &w, m, 0).await;
    overwrite(&app, &w, &w.ch, &herald, 0, p::MENTION_EVERYONE, 0).await;
    assert_eq!(app.send(m, &w.ch, "@everyone look").await["mention_everyone"], true);
    // Denied for @everyone at the guild level: the same, in every channel.
    let (_, _) = app
        .patch(
            &format!("/guilds/{}/roles/{}", w.gid, w.gid),
            &w.owner.token,
            json!({"permissions": bits(DEFAULT_EVERYONE & !p::MENTION_EVERYONE)}),
        )
        .await;
    let other = new_channel(&app, &w, json!({"name": "other"})).await;
    assert_eq!(app.send(m, &other, "@everyone there").await["mention_everyone"], false);
}

#[tokio::test]
async fn others_messages_need_manage_messages_and_pins_need_pin_messages() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let base = format!("/channels/{}", w.ch);
    let m1 = id(&app.send(&w.owner, &w.ch, "one").await);
    let m2 = id(&app.send(&w.owner, &w.ch, "two").await);
    let m3 = id(&app.send(&w.owner, &w.ch, "three").await);
    assert_eq!(app.put(&format!("{base}/messages/{m1}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    assert_eq!(app.put(&format!("{base}/pins/{m3}"), &w.owner.token).await.0, 204);

    let before = snapshot(&app, &w).await;
    let t = &m.token;
    for r in [
        app.delete(&format!("{base}/messages/{m1}"), t).await,
        app.post(&format!("{base}/messages/bulk-delete"), t, json!({"messages": [m1, m2]})).await,
        app.put(&format!("{base}/pins/{m1}"), t).await,
        app.put(&format!("{base}/messages/pins/{m1}"), t).await,
        app.delete(&format!("{base}/pins/{m3}"), t).await,
        app.delete(&format!("{base}/messages/pins/{m3}"), t).await,
        app.delete(&format!("{base}/messages/{m1}/reactions"), t).await,
        app.delete(&format!("{base}/messages/{m1}/reactions/{THUMBS}"), t).await,
        app.delete(&format!("{base}/messages/{m1}/reactions/{THUMBS}/{}", w.owner.id), t).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_error(&app.patch(&format!("{base}/messages/{m1}"), t, json!({"content": "mine now"})).await, 403, 50005);
    assert_same(&before, &snapshot(&app, &w).await);

    // One's own messages need nothing.
    let own = id(&app.send(m, &w.ch, "mine").await);
    assert_eq!(app.delete(&format!("{base}/messages/{own}"), t).await.0, 204);

    // PIN_MESSAGES pins and unpins, and deletes nothing.
    let pinner = grant(&app, &w, m, p::PIN_MESSAGES).await;
    assert_eq!(app.put(&format!("{base}/pins/{m1}"), t).await.0, 204);
    assert_eq!(app.delete(&format!("{base}/messages/pins/{m3}"), t).await.0, 204);
    assert_error(&app.delete(&format!("{base}/messages/{m1}"), t).await, 403, 50013);
    let r = app.delete(&format!("/guilds/{}/members/{}/roles/{pinner}", w.gid, m.id), &w.owner.token).await;
    assert_eq!(r.0, 204);

    // MANAGE_MESSAGES does everything.
    grant(&app, &w, m, p::MANAGE_MESSAGES).await;
    assert_eq!(app.delete(&format!("{base}/messages/{m1}/reactions/{THUMBS}/{}", w.owner.id), t).await.0, 204);
    assert_eq!(app.put(&format!("{base}/messages/{m2}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    assert_eq!(app.delete(&format!("{base}/messages/{m2}/reactions/{THUMBS}"), t).await.0, 204);
    assert_eq!(app.delete(&format!("{base}/messages/{m2}/reactions"), t).await.0, 204);
    assert_eq!(app.put(&format!("{base}/pins/{m2}"), t).await.0, 204);
    assert_eq!(app.delete(&format!("{base}/messages/{m1}"), t).await.0, 204);
    let r = app.post(&format!("{base}/messages/bulk-delete"), t, json!({"messages": [m2, m3]})).await;
    assert_eq!(r.0, 204, "{}", r.1);
    let (_, left) = app.get(&format!("{base}/messages"), &w.owner.token).await;
    assert!(left.as_array().unwrap().iter().all(|x| ![&m1, &m2, &m3].contains(&&id(x))), "{left}");
}

#[tokio::test]
async fn new_reactions_need_add_reactions_but_joining_one_does_not() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let mid = id(&app.send(&w.owner, &w.ch, "react to me").await);
    overwrite(&app, &w, &w.ch, &w.gid, 0, 0, p::ADD_REACTIONS).await;
    let base = format!("/channels/{}/messages/{mid}/reactions", w.ch);

    let before = snapshot(&app, &w).await;
    assert_error(&app.put(&format!("{base}/{THUMBS}/@me"), &m.token).await, 403, 50013);
    assert_same(&before, &snapshot(&app, &w).await);

    assert_eq!(app.put(&format!("{base}/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    assert_eq!(app.put(&format!("{base}/{THUMBS}/@me"), &m.token).await.0, 204, "joining a reaction");
    let (_, reactors) = app.get(&format!("{base}/{THUMBS}"), &m.token).await;
    let ids: Vec<String> = reactors.as_array().unwrap().iter().map(id).collect();
    assert!(ids.contains(&m.id) && ids.contains(&w.owner.id), "{reactors}");
    let before = snapshot(&app, &w).await;
    assert_error(&app.put(&format!("{base}/{PARTY}/@me"), &m.token).await, 403, 50013);
    assert_same(&before, &snapshot(&app, &w).await);
    // Leaving one's own reaction needs nothing.
    assert_eq!(app.delete(&format!("{base}/{THUMBS}/@me"), &m.token).await.0, 204);
}

#[tokio::test]
async fn channels_need_manage_channels() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let t = &m.token;
    let g = &w.gid;
    let ch = &w.ch;

    let before = snapshot(&app, &w).await;
    for r in [
        app.post(&format!("/guilds/{g}/channels"), t, json!({"name": "mine"})).await,
        app.patch(&format!("/channels/{ch}"), t, json!({"name": "renamed", "topic": "mine"})).await,
        app.delete(&format!("/channels/{ch}"), t).await,
        app.patch(&format!("/guilds/{g}/channels"), t, json!([{"id": ch, "position": 5}])).await,
        app.get(&format!("/channels/{ch}/invites"), t).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);

    // MANAGE_CHANNELS in one channel's overwrite: that channel only.
    overwrite(&app, &w, ch, &m.id, 1, p::MANAGE_CHANNELS, 0).await;
    let (status, edited) = app.patch(&format!("/channels/{ch}"), t, json!({"topic": "mine"})).await;
    assert_eq!((status, &edited["topic"]), (StatusCode::OK, &json!("mine")));
    assert_error(&app.post(&format!("/guilds/{g}/channels"), t, json!({"name": "mine"})).await, 403, 50013);

    grant(&app, &w, m, p::MANAGE_CHANNELS).await;
    let (status, created) = app.post(&format!("/guilds/{g}/channels"), t, json!({"name": "mine"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let r = app.patch(&format!("/guilds/{g}/channels"), t, json!([{"id": id(&created), "position": 5}])).await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    assert_eq!(app.get(&format!("/channels/{ch}/invites"), t).await.0, StatusCode::OK);
    assert_eq!(app.delete(&format!("/channels/{}", id(&created)), t).await.0, StatusCode::OK);
}

#[tokio::test]
async fn roles_member_roles_and_overwrites_need_manage_roles() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let t = &m.token;
    let g = &w.gid;
    let target = role(&app, &w, "target", 0).await;
    overwrite(&app, &w, &w.ch, &target, 0, 0, p::ADD_REACTIONS).await;

    let before = snapshot(&app, &w).await;
    for r in [
        app.post(&format!("/guilds/{g}/roles"), t, json!({"name": "mine"})).await,
        app.patch(&format!("/guilds/{g}/roles/{target}"), t, json!({"name": "renamed"})).await,
        app.patch(&format!("/guilds/{g}/roles/{g}"), t, json!({"permissions": "0"})).await,
        app.delete(&format!("/guilds/{g}/roles/{target}"), t).await,
        app.patch(&format!("/guilds/{g}/roles"), t, json!([{"id": target, "position": 2}])).await,
        app.put(&format!("/guilds/{g}/members/{}/roles/{target}", m.id), t).await,
        app.delete(&format!("/guilds/{g}/members/{}/roles/{target}", w.owner.id), t).await,
        app.patch(&format!("/guilds/{g}/members/{}", m.id), t, json!({"roles": [target]})).await,
        put_overwrite(&app, t, &w.ch, &target, 0, 0, p::SEND_MESSAGES).await,
        put_overwrite(&app, t, &w.ch, &m.id, 1, p::MANAGE_MESSAGES, 0).await,
        app.delete(&format!("/channels/{}/permissions/{target}", w.ch), t).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);

    // With MANAGE_ROLES, on a role above the target, the same requests work.
    let manager = grant(&app, &w, m, p::MANAGE_ROLES | p::ADD_REACTIONS | p::SEND_MESSAGES).await;
    positions(&app, &w, &[(&manager, 3), (&target, 1)]).await;
    let (status, mine) = app.post(&format!("/guilds/{g}/roles"), t, json!({"name": "mine"})).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let (status, renamed) = app.patch(&format!("/guilds/{g}/roles/{target}"), t, json!({"name": "renamed"})).await;
    assert_eq!((status, &renamed["name"]), (StatusCode::OK, &json!("renamed")));
    let (status, _) = app.patch(&format!("/guilds/{g}/roles"), t, json!([{"id": target, "position": 2}])).await;
    assert_eq!(status, StatusCode::OK);
    give(&app, t, g, &m.id, &target).await;
    assert_eq!(app.delete(&format!("/guilds/{g}/members/{}/roles/{target}", m.id), t).await.0, 204);
    let (status, member) =
        app.patch(&format!("/guilds/{g}/members/{}", m.id), t, json!({"roles": [manager, target]})).await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["roles"].as_array().unwrap().len(), 2);
    let r = put_overwrite(&app, t, &w.ch, &target, 0, 0, p::SEND_MESSAGES).await;
    assert_eq!(r.0, 204, "{}", r.1);
    assert_eq!(app.delete(&format!("/channels/{}/permissions/{target}", w.ch), t).await.0, 204);
    assert_eq!(app.delete(&format!("/guilds/{g}/roles/{target}"), t).await.0, 204);
    assert_eq!(app.delete(&format!("/guilds/{g}/roles/{}", id(&mine)), t).await.0, 204);
}

#[tokio::test]
async fn the_guild_its_invites_and_bots_need_manage_guild() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let t = &m.token;
    let g = &w.gid;
    let bot = app.bot(m, "helper", false).await;
    let authorize = format!("/oauth2/authorize?client_id={}&scope=bot&permissions=0&guild_id={g}", bot.id);

    let before = snapshot(&app, &w).await;
    for r in [
        app.patch(&format!("/guilds/{g}"), t, json!({"name": "Mine"})).await,
        app.patch(&format!("/guilds/{g}"), t, json!({"owner_id": m.id})).await,
        app.get(&format!("/guilds/{g}/invites"), t).await,
        app.post(&authorize, t, json!({})).await,
        app.delete(&format!("/guilds/{g}"), t).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_error(&app.get(&format!("/guilds/{g}/members/{}", bot.id), &w.owner.token).await, 404, 10007);
    assert_same(&before, &snapshot(&app, &w).await);

    grant(&app, &w, m, p::MANAGE_GUILD).await;
    let (status, guild) = app.patch(&format!("/guilds/{g}"), t, json!({"name": "Mine"})).await;
    assert_eq!((status, &guild["name"]), (StatusCode::OK, &json!("Mine")));
    assert_eq!(app.get(&format!("/guilds/{g}/invites"), t).await.0, StatusCode::OK);
    assert_eq!(app.post(&authorize, t, json!({})).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/guilds/{g}/members/{}", bot.id), t).await.0, StatusCode::OK);
    // Only the owner gives the guild away or deletes it.
    let before = snapshot(&app, &w).await;
    assert_error(&app.patch(&format!("/guilds/{g}"), t, json!({"owner_id": m.id})).await, 403, 50013);
    assert_error(&app.delete(&format!("/guilds/{g}"), t).await, 403, 50013);
    assert_same(&before, &snapshot(&app, &w).await);
}

#[tokio::test]
async fn invites_need_create_instant_invite_and_revoking_needs_manage_channels() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let (_, invite) = app.post(&format!("/channels/{}/invites", w.ch), &w.owner.token, json!({"unique": true})).await;
    let code = invite["code"].as_str().unwrap();
    overwrite(&app, &w, &w.ch, &w.gid, 0, 0, p::CREATE_INSTANT_INVITE).await;

    let before = snapshot(&app, &w).await;
    assert_error(&app.post(&format!("/channels/{}/invites", w.ch), &m.token, json!({})).await, 403, 50013);
    assert_error(&app.delete(&format!("/invites/{code}"), &m.token).await, 403, 50013);
    assert_same(&before, &snapshot(&app, &w).await);

    let inviter = grant(&app, &w, m, 0).await;
    overwrite(&app, &w, &w.ch, &inviter, 0, p::CREATE_INSTANT_INVITE, 0).await;
    let (status, mine) = app.post(&format!("/channels/{}/invites", w.ch), &m.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    grant(&app, &w, m, p::MANAGE_CHANNELS).await;
    assert_eq!(app.delete(&format!("/invites/{code}"), &m.token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn kicks_bans_and_timeouts_need_their_permissions() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["moderator", "victim", "bystander"]).await;
    let (md, victim, bystander) = (&users[0], &users[1], &users[2]);
    let stranger = app.register("stranger").await;
    let g = &w.gid;
    let t = &md.token;
    let r = app.put(&format!("/guilds/{g}/bans/{}", stranger.id), &w.owner.token).await;
    assert_eq!(r.0, 204, "{}", r.1);

    let before = snapshot(&app, &w).await;
    let member = format!("/guilds/{g}/members/{}", victim.id);
    for r in [
        app.delete(&member, t).await,
        app.put(&format!("/guilds/{g}/bans/{}", victim.id), t).await,
        app.get(&format!("/guilds/{g}/bans"), t).await,
        app.get(&format!("/guilds/{g}/bans/{}", stranger.id), t).await,
        app.delete(&format!("/guilds/{g}/bans/{}", stranger.id), t).await,
        app.post(&format!("/guilds/{g}/bulk-ban"), t, json!({"user_ids": [victim.id, bystander.id]})).await,
        app.patch(&member, t, json!({"communication_disabled_until": timestamp_in(3_600_000)})).await,
        app.patch(&member, t, json!({"mute": true})).await,
        app.patch(&member, t, json!({"deaf": true})).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);

    grant(&app, &w, md, p::KICK_MEMBERS).await;
    assert_eq!(app.delete(&member, t).await.0, 204);
    assert_error(&app.get(&member, &w.owner.token).await, 404, 10007);
    app.join(&w.owner, &w.ch, victim).await;

    grant(&app, &w, md, p::MODERATE_MEMBERS).await;
    let (status, timed) = app.patch(&member, t, json!({"communication_disabled_until": timestamp_in(60_000)})).await;
    assert_eq!(status, StatusCode::OK, "{timed}");
    assert!(timed["communication_disabled_until"].is_string());

    grant(&app, &w, md, p::BAN_MEMBERS).await;
    let (status, bans) = app.get(&format!("/guilds/{g}/bans"), t).await;
    assert_eq!((status, bans.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert_eq!(app.get(&format!("/guilds/{g}/bans/{}", stranger.id), t).await.0, StatusCode::OK);
    assert_eq!(app.delete(&format!("/guilds/{g}/bans/{}", stranger.id), t).await.0, 204);
    assert_eq!(app.put(&format!("/guilds/{g}/bans/{}", victim.id), t).await.0, 204);
    // Bulk bans need MANAGE_GUILD as well.
    let bulk = json!({"user_ids": [bystander.id]});
    assert_error(&app.post(&format!("/guilds/{g}/bulk-ban"), t, bulk.clone()).await, 403, 50013);
    grant(&app, &w, md, p::MANAGE_GUILD).await;
    let (status, body) = app.post(&format!("/guilds/{g}/bulk-ban"), t, bulk).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["banned_users"], json!([bystander.id]));
}

#[tokio::test]
async fn nicknames_need_change_nickname_or_manage_nicknames() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member", "other"]).await;
    let (m, other) = (&users[0], &users[1]);
    let g = &w.gid;
    let (status, _) = app
        .patch(
            &format!("/guilds/{g}/roles/{g}"),
            &w.owner.token,
            json!({"permissions": bits(DEFAULT_EVERYONE & !p::CHANGE_NICKNAME)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let before = snapshot(&app, &w).await;
    for r in [
        app.patch(&format!("/guilds/{g}/members/@me"), &m.token, json!({"nick": "Me"})).await,
        app.patch(&format!("/guilds/{g}/members/{}", m.id), &m.token, json!({"nick": "Me"})).await,
        app.patch(&format!("/guilds/{g}/members/{}", other.id), &m.token, json!({"nick": "You"})).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);

    grant(&app, &w, m, p::CHANGE_NICKNAME).await;
    let (status, me) = app.patch(&format!("/guilds/{g}/members/@me"), &m.token, json!({"nick": "Me"})).await;
    assert_eq!((status, &me["nick"]), (StatusCode::OK, &json!("Me")));
    assert_error(
        &app.patch(&format!("/guilds/{g}/members/{}", other.id), &m.token, json!({"nick": "You"})).await,
        403,
        50013,
    );
    grant(&app, &w, m, p::MANAGE_NICKNAMES).await;
    let (status, you) = app.patch(&format!("/guilds/{g}/members/{}", other.id), &m.token, json!({"nick": "You"})).await;
    assert_eq!((status, &you["nick"]), (StatusCode::OK, &json!("You")));
}

#[tokio::test]
async fn the_audit_log_needs_view_audit_log() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    role(&app, &w, "something to log", 0).await;
    let path = format!("/guilds/{}/audit-logs", w.gid);
    let r = app.get(&path, &m.token).await;
    assert_error(&r, 403, 50013);
    assert!(r.1.get("audit_log_entries").is_none());
    grant(&app, &w, m, p::VIEW_AUDIT_LOG).await;
    let (status, log) = app.get(&path, &m.token).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(!log["audit_log_entries"].as_array().unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// 2. The role hierarchy
// ---------------------------------------------------------------------------

#[tokio::test]
async fn moderators_act_only_below_their_highest_role_and_grant_only_what_they_hold() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["moderator", "peer", "senior", "junior", "plain", "admin"]).await;
    let (md, peer, senior, junior, plain, admin) = (&users[0], &users[1], &users[2], &users[3], &users[4], &users[5]);
    let g = &w.gid;
    let held = p::KICK_MEMBERS
        | p::BAN_MEMBERS
        | p::MODERATE_MEMBERS
        | p::MANAGE_NICKNAMES
        | p::MANAGE_ROLES
        | p::MANAGE_CHANNELS
        | p::VIEW_AUDIT_LOG;
    let low = role(&app, &w, "low", 0).await;
    let moderator = role(&app, &w, "moderator", held).await;
    let high = role(&app, &w, "high", 0).await;
    let top = role(&app, &w, "admin", p::ADMINISTRATOR).await;
    positions(&app, &w, &[(&low, 1), (&moderator, 2), (&high, 3), (&top, 4)]).await;
    for (user, r) in [(md, &moderator), (peer, &moderator), (senior, &high), (junior, &low), (admin, &top)] {
        give(&app, &w.owner.token, g, &user.id, r).await;
    }
    let t = &md.token;
    let soon = timestamp_in(3_600_000);

    let before = snapshot(&app, &w).await;
    // Members at or above the moderator, and the owner, are out of reach.
    for target in [senior, peer, &w.owner, admin] {
        let member = format!("/guilds/{g}/members/{}", target.id);
        for r in [
            app.delete(&member, t).await,
            app.put(&format!("/guilds/{g}/bans/{}", target.id), t).await,
            app.patch(&member, t, json!({"communication_disabled_until": soon})).await,
            app.patch(&member, t, json!({"nick": "demoted"})).await,
        ] {
            assert_error(&r, 403, 50013);
        }
    }
    let (status, body) = app.post(&format!("/guilds/{g}/bulk-ban"), t, json!({"user_ids": [senior.id]})).await;
    assert_eq!(status.as_u16(), 403, "{body}"); // no MANAGE_GUILD: refused before the hierarchy
                                                // Roles at or above their own cannot be edited, deleted, given or taken.
    for r in [&high, &moderator, &top] {
        for res in [
            app.patch(&format!("/guilds/{g}/roles/{r}"), t, json!({"name": "mine"})).await,
            app.delete(&format!("/guilds/{g}/roles/{r}"), t).await,
            app.put(&format!("/guilds/{g}/members/{}/roles/{r}", plain.id), t).await,
            app.patch(&format!("/guilds/{g}/members/{}", plain.id), t, json!({"roles": [r]})).await,
        ] {
            assert_error(&res, 403, 50013);
        }
    }
    assert_error(&app.delete(&format!("/guilds/{g}/members/{}/roles/{high}", senior.id), t).await, 403, 50013);
    assert_error(&app.delete(&format!("/guilds/{g}/members/{}/roles/{moderator}", peer.id), t).await, 403, 50013);
    // Nor moved to or above their own position, nor moved at all if above.
    for (r, pos) in [(&low, 2), (&low, 3), (&low, 9), (&high, 1), (&moderator, 1)] {
        let res = app.patch(&format!("/guilds/{g}/roles"), t, json!([{"id": r, "position": pos}])).await;
        assert_error(&res, 403, 50013);
    }
    // Permissions they lack cannot be granted, in roles or overwrites.
    for res in [
        app.post(&format!("/guilds/{g}/roles"), t, json!({"name": "x", "permissions": bits(p::ADMINISTRATOR)})).await,
        app.post(&format!("/guilds/{g}/roles"), t, json!({"name": "x", "permissions": bits(p::MANAGE_GUILD)})).await,
        app.patch(&format!("/guilds/{g}/roles/{low}"), t, json!({"permissions": bits(p::MANAGE_GUILD)})).await,
        app.patch(
            &format!("/guilds/{g}/roles/{g}"),
            t,
            json!({"permissions": bits(DEFAULT_EVERYONE | p::BAN_MEMBERS | p::MANAGE_MESSAGES)}),
        )
        .await,
        put_overwrite(&app, t, &w.ch, &low, 0, p::MANAGE_MESSAGES, 0).await,
        put_overwrite(&app, t, &w.ch, &plain.id, 1, 0, p::MANAGE_MESSAGES).await,
        app.post(
            &format!("/guilds/{g}/channels"),
            t,
            json!({"name": "x", "permission_overwrites": [{"id": low, "type": 0, "allow": bits(p::MANAGE_WEBHOOKS)}]}),
        )
        .await,
    ] {
        assert_error(&res, 403, 50013);
    }
    // Owners and administrators cannot be timed out, even by the owner.
    for target in [admin, &w.owner] {
        let r = app
            .patch(
                &format!("/guilds/{g}/members/{}", target.id),
                &w.owner.token,
                json!({"communication_disabled_until": soon}),
            )
            .await;
        assert_error(&r, 403, 50013);
    }
    // Nobody but the owner acts on the owner, not even the top administrator.
    let owner_member = format!("/guilds/{g}/members/{}", w.owner.id);
    for r in [
        app.delete(&owner_member, &admin.token).await,
        app.put(&format!("/guilds/{g}/bans/{}", w.owner.id), &admin.token).await,
        app.patch(&owner_member, &admin.token, json!({"nick": "former owner"})).await,
        app.patch(&owner_member, &admin.token, json!({"communication_disabled_until": soon})).await,
        app.patch(&format!("/guilds/{g}"), &admin.token, json!({"owner_id": admin.id})).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    let (status, body) =
        app.post(&format!("/guilds/{g}/bulk-ban"), &admin.token, json!({"user_ids": [w.owner.id]})).await;
    assert_eq!((status.as_u16(), &body["code"]), (400, &json!(500000)), "{body}");
    assert_same(&before, &snapshot(&app, &w).await);

    // Below them, all of it works.
    let jm = format!("/guilds/{g}/members/{}", junior.id);
    assert_eq!(app.patch(&jm, t, json!({"nick": "junior"})).await.0, StatusCode::OK);
    assert_eq!(app.patch(&jm, t, json!({"communication_disabled_until": soon})).await.0, StatusCode::OK);
    assert_eq!(app.patch(&jm, t, json!({"communication_disabled_until": null})).await.0, StatusCode::OK);
    give(&app, t, g, &plain.id, &low).await;
    // Roles can be given to anyone, even to those above (only the role's rank counts).
    give(&app, t, g, &senior.id, &low).await;
    let (status, _) = app.patch(&format!("/guilds/{g}/roles"), t, json!([{"id": low, "position": 1}])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) =
        app.patch(&format!("/guilds/{g}/roles/{low}"), t, json!({"permissions": bits(p::KICK_MEMBERS)})).await;
    assert_eq!((status, &r["permissions"]), (StatusCode::OK, &json!(bits(p::KICK_MEMBERS))));
    let (status, r) = app
        .post(
            &format!("/guilds/{g}/roles"),
            t,
            json!({"name": "kickers", "permissions": bits(p::KICK_MEMBERS | p::SEND_MESSAGES)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let r = put_overwrite(&app, t, &w.ch, &low, 0, p::SEND_MESSAGES, p::KICK_MEMBERS).await;
    assert_eq!(r.0, 204, "{}", r.1);
    // Taking away a permission one lacks is allowed.
    let (status, _) = app
        .patch(
            &format!("/guilds/{g}/roles/{low}"),
            &w.owner.token,
            json!({"permissions": bits(p::MANAGE_GUILD | p::KICK_MEMBERS)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) =
        app.patch(&format!("/guilds/{g}/roles/{low}"), t, json!({"permissions": bits(p::KICK_MEMBERS)})).await;
    assert_eq!((status, &r["permissions"]), (StatusCode::OK, &json!(bits(p::KICK_MEMBERS))), "{r}");
    assert_eq!(app.delete(&jm, t).await.0, 204);
    assert_eq!(app.put(&format!("/guilds/{g}/bans/{}", plain.id), t).await.0, 204);
    // The owner is above everyone.
    assert_eq!(app.delete(&format!("/guilds/{g}/members/{}", admin.id), &w.owner.token).await.0, 204);
    assert_eq!(app.delete(&format!("/guilds/{g}/members/{}", senior.id), &w.owner.token).await.0, 204);
}

// ---------------------------------------------------------------------------
// 3. Timeouts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_timed_out_member_reads_but_cannot_send_or_react_until_it_is_cleared() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member", "other"]).await;
    let (m, other) = (&users[0], &users[1]);
    let g = &w.gid;
    let base = format!("/channels/{}", w.ch);
    let mid = id(&app.send(&w.owner, &w.ch, "quiet please").await);
    assert_eq!(app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
    // A timed-out moderator loses their moderation powers too.
    grant(&app, &w, m, p::KICK_MEMBERS).await;
    let member = format!("/guilds/{g}/members/{}", m.id);

    let until = timestamp_in(3_600_000);
    let (status, timed) = app.patch(&member, &w.owner.token, json!({"communication_disabled_until": until})).await;
    assert_eq!(status, StatusCode::OK, "{timed}");
    let stored = Timestamp::parse(timed["communication_disabled_until"].as_str().unwrap()).unwrap();
    assert_eq!(Some(stored), Timestamp::parse(&until));
    assert_eq!(
        app.get(&member, &m.token).await.1["communication_disabled_until"],
        timed["communication_disabled_until"]
    );

    let before = snapshot(&app, &w).await;
    let t = &m.token;
    assert_eq!(app.get(&base, t).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("{base}/messages"), t).await.1[0]["content"], "quiet please");
    assert_eq!(app.get(&format!("{base}/messages/{mid}"), t).await.0, StatusCode::OK);
    for r in [
        app.post(&format!("{base}/messages"), t, json!({"content": "but"})).await,
        app.post(&format!("{base}/typing"), t, json!({})).await,
        app.put(&format!("{base}/messages/{mid}/reactions/{PARTY}/@me"), t).await,
        app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), t).await,
        app.post(&format!("{base}/invites"), t, json!({})).await,
        app.patch(&format!("/guilds/{g}/members/@me"), t, json!({"nick": "sulking"})).await,
        app.delete(&format!("/guilds/{g}/members/{}", other.id), t).await,
    ] {
        assert_error(&r, 403, 50013);
    }
    assert_same(&before, &snapshot(&app, &w).await);

    // Clearing it restores everything.
    let (status, cleared) = app.patch(&member, &w.owner.token, json!({"communication_disabled_until": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cleared["communication_disabled_until"].is_null(), "{cleared}");
    app.send(m, &w.ch, "but").await;
    assert_eq!(app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), t).await.0, 204);
    // A timeout in the past is no timeout.
    let r = app.patch(&member, &w.owner.token, json!({"communication_disabled_until": timestamp_in(-60_000)})).await;
    assert_eq!(r.0, StatusCode::OK);
    app.send(m, &w.ch, "still here").await;

    // At most 28 days.
    let before = snapshot(&app, &w).await;
    let day = 24 * 3_600_000;
    let r = app.patch(&member, &w.owner.token, json!({"communication_disabled_until": timestamp_in(29 * day)})).await;
    assert_error(&r, 400, 50035);
    assert!(r.1["errors"]["communication_disabled_until"]["_errors"][0]["code"].is_string(), "{}", r.1);
    let r = app.patch(&member, &w.owner.token, json!({"communication_disabled_until": "next tuesday"})).await;
    assert_error(&r, 400, 50035);
    assert_same(&before, &snapshot(&app, &w).await);
    let r = app
        .patch(&member, &w.owner.token, json!({"communication_disabled_until": timestamp_in(28 * day - 60_000)}))
        .await;
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    assert_error(&app.post(&format!("{base}/messages"), t, json!({"content": "x"})).await, 403, 50013);
}

// ---------------------------------------------------------------------------
// 4. Bans
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_ban_removes_the_member_deletes_recent_messages_and_keeps_them_out_until_lifted() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["victim", "bystander"]).await;
    let (victim, bystander) = (&users[0], &users[1]);
    let g = &w.gid;
    let other = new_channel(&app, &w, json!({"name": "other"})).await;
    app.send(victim, &w.ch, "spam one").await;
    app.send(victim, &other, "spam two").await;
    app.send(bystander, &w.ch, "innocent").await;

    let r = with_reason(
        &app,
        Method::PUT,
        &format!("/guilds/{g}/bans/{}", victim.id),
        &w.owner.token,
        Some(json!({"delete_message_seconds": 3600})),
        "spamming",
    )
    .await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    for c in [&w.ch, &other] {
        let (_, history) = app.get(&format!("/channels/{c}/messages"), &w.owner.token).await;
        assert!(history.as_array().unwrap().iter().all(|m| m["author"]["id"] != json!(victim.id)), "{history}");
    }
    assert_eq!(app.get(&format!("/channels/{}/messages", w.ch), &w.owner.token).await.1[0]["content"], "innocent");
    assert_error(&app.get(&format!("/guilds/{g}/members/{}", victim.id), &w.owner.token).await, 404, 10007);
    assert_error(&app.get(&format!("/guilds/{g}"), &victim.token).await, 403, 50001);
    assert_error(&app.get(&format!("/channels/{}/messages", w.ch), &victim.token).await, 403, 50001);

    let (status, bans) = app.get(&format!("/guilds/{g}/bans"), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bans.as_array().unwrap().len(), 1, "{bans}");
    assert_eq!(bans[0]["user"]["id"], json!(victim.id));
    assert_eq!(bans[0]["reason"], "spamming");
    let (status, ban) = app.get(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await;
    assert_eq!((status, &ban["reason"]), (StatusCode::OK, &json!("spamming")));
    assert_error(&app.get(&format!("/guilds/{g}/bans/{}", bystander.id), &w.owner.token).await, 404, 10026);

    // No way back in by invite.
    let (_, invite) = app.post(&format!("/channels/{}/invites", w.ch), &w.owner.token, json!({})).await;
    let code = invite["code"].as_str().unwrap();
    let before = snapshot(&app, &w).await;
    assert_error(&app.post(&format!("/invites/{code}"), &victim.token, json!({})).await, 403, 40007);
    assert_same(&before, &snapshot(&app, &w).await);

    // Lifting the ban lets them back.
    assert_eq!(app.delete(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await.0, 204);
    assert_error(&app.get(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await, 404, 10026);
    assert_error(&app.delete(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await, 404, 10026);
    assert_eq!(app.post(&format!("/invites/{code}"), &victim.token, json!({})).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/guilds/{g}/members/{}", victim.id), &w.owner.token).await.0, StatusCode::OK);

    // Without delete_message_seconds their messages stay.
    app.send(victim, &w.ch, "back again").await;
    assert_eq!(app.put(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await.0, 204);
    assert_eq!(app.get(&format!("/channels/{}/messages", w.ch), &w.owner.token).await.1[0]["content"], "back again");
    assert_eq!(app.delete(&format!("/guilds/{g}/bans/{}", victim.id), &w.owner.token).await.0, 204);
    let r = app
        .call(
            Method::PUT,
            &format!("/guilds/{g}/bans/{}", victim.id),
            Some(&w.owner.token),
            Some(json!({"delete_message_seconds": 604_801})),
        )
        .await;
    assert_error(&r, 400, 50035);
    // Nobody bans themselves or the owner.
    assert_error(&app.put(&format!("/guilds/{g}/bans/{}", w.owner.id), &w.owner.token).await, 403, 50013);

    // Bulk: who could be banned is, the rest is reported.
    let (status, body) = app
        .post(
            &format!("/guilds/{g}/bulk-ban"),
            &w.owner.token,
            json!({"user_ids": [victim.id, bystander.id, w.owner.id, "4242"], "delete_message_seconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["banned_users"], json!([victim.id, bystander.id]));
    assert_eq!(body["failed_users"], json!([w.owner.id, "4242"]));
    let (_, bans) = app.get(&format!("/guilds/{g}/bans"), &w.owner.token).await;
    assert_eq!(bans.as_array().unwrap().len(), 2);
    let (_, members) = app.get(&format!("/guilds/{g}/members?limit=10"), &w.owner.token).await;
    assert_eq!(members.as_array().unwrap().len(), 1, "only the owner is left: {members}");
    assert_error(&app.post(&format!("/invites/{code}"), &bystander.token, json!({})).await, 403, 40007);
    let r = app.post(&format!("/guilds/{g}/bulk-ban"), &w.owner.token, json!({"user_ids": [w.owner.id]})).await;
    assert_error(&r, 400, 500000);
}

// ---------------------------------------------------------------------------
// 5. The audit log
// ---------------------------------------------------------------------------

async fn latest_entry(app: &TestApp, w: &World, action: u16) -> Value {
    let (status, log) =
        app.get(&format!("/guilds/{}/audit-logs?action_type={action}&limit=1", w.gid), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log["audit_log_entries"].get(0).cloned().unwrap_or_else(|| panic!("no entry of type {action}"))
}

/// The newest entry of `action`: by `actor`, on `target`, for `reason`.
async fn logged(app: &TestApp, w: &World, action: u16, actor: &str, target: Option<&str>, reason: &str) -> Value {
    let entry = latest_entry(app, w, action).await;
    assert_eq!(entry["action_type"], json!(action), "{entry}");
    assert_eq!(entry["user_id"], json!(actor), "{entry}");
    assert_eq!(entry["target_id"], json!(target), "{entry}");
    assert_eq!(entry["reason"], json!(reason), "{entry}");
    assert!(entry["id"].is_string());
    for c in entry["changes"].as_array().into_iter().flatten() {
        assert!(c.get("old_value").is_some() || c.get("new_value").is_some(), "a change of nothing: {entry}");
    }
    entry
}

fn change<'a>(entry: &'a Value, key: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["key"] == key))
        .unwrap_or_else(|| panic!("no change of {key} in {entry}"))
}

#[tokio::test]
async fn every_administrative_action_is_logged_with_its_actor_target_changes_and_reason() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member", "leaver"]).await;
    let (m, leaver) = (&users[0], &users[1]);
    let (g, o, t) = (&w.gid, &w.owner.id, &w.owner.token);
    let reason = |n: u32| format!("step {n}: naïve café, 100% sure & ✓");
    let call = |method: Method, path: String, body: Option<Value>, n: u32| {
        let app = &app;
        async move {
            let r = with_reason(app, method, &path, t, body, &reason(n)).await;
            assert!(r.0.is_success(), "{path}: {} {}", r.0, r.1);
            r.1
        }
    };

    call(Method::PATCH, format!("/guilds/{g}"), Some(json!({"name": "Renamed"})), 1).await;
    let e = logged(&app, &w, 1, o, Some(g), &reason(1)).await;
    assert_eq!(change(&e, "name")["old_value"], "Perms");
    assert_eq!(change(&e, "name")["new_value"], "Renamed");

    let logs = id(&call(Method::POST, format!("/guilds/{g}/channels"), Some(json!({"name": "logs"})), 2).await);
    let e = logged(&app, &w, 10, o, Some(&logs), &reason(2)).await;
    assert_eq!(change(&e, "name")["new_value"], "logs");
    assert!(change(&e, "name").get("old_value").is_none());

    call(Method::PATCH, format!("/channels/{logs}"), Some(json!({"topic": "audits"})), 3).await;
    let e = logged(&app, &w, 11, o, Some(&logs), &reason(3)).await;
    assert_eq!(change(&e, "topic")["new_value"], "audits");

    let helper = id(&call(Method::POST, format!("/guilds/{g}/roles"), Some(json!({"name": "helper"})), 4).await);
    let e = logged(&app, &w, 30, o, Some(&helper), &reason(4)).await;
    assert_eq!(change(&e, "name")["new_value"], "helper");

    call(Method::PATCH, format!("/guilds/{g}/roles/{helper}"), Some(json!({"name": "helpers"})), 5).await;
    let e = logged(&app, &w, 31, o, Some(&helper), &reason(5)).await;
    assert_eq!(change(&e, "name")["old_value"], "helper");
    assert_eq!(change(&e, "name")["new_value"], "helpers");

    let ow = format!("/channels/{logs}/permissions/{helper}");
    let body = |allow: u64, deny: u64| Some(json!({"type": 0, "allow": bits(allow), "deny": bits(deny)}));
    call(Method::PUT, ow.clone(), body(p::VIEW_CHANNEL, p::SEND_MESSAGES), 6).await;
    let e = logged(&app, &w, 13, o, Some(&logs), &reason(6)).await;
    assert_eq!(e["options"]["id"], json!(helper));
    assert_eq!(e["options"]["type"], "0");
    assert_eq!(change(&e, "allow")["new_value"], bits(p::VIEW_CHANNEL));
    assert_eq!(change(&e, "deny")["new_value"], bits(p::SEND_MESSAGES));
    call(Method::PUT, ow.clone(), body(0, p::SEND_MESSAGES), 7).await;
    let e = logged(&app, &w, 14, o, Some(&logs), &reason(7)).await;
    assert_eq!(change(&e, "allow")["old_value"], bits(p::VIEW_CHANNEL));
    assert_eq!(change(&e, "allow")["new_value"], "0");
    call(Method::DELETE, ow, None, 8).await;
    let e = logged(&app, &w, 15, o, Some(&logs), &reason(8)).await;
    assert_eq!(e["options"]["id"], json!(helper));

    let mr = format!("/guilds/{g}/members/{}/roles/{helper}", m.id);
    call(Method::PUT, mr.clone(), None, 9).await;
    let e = logged(&app, &w, 25, o, Some(&m.id), &reason(9)).await;
    assert_eq!(change(&e, "$add")["new_value"], json!([{"id": helper, "name": "helpers"}]));
    call(Method::DELETE, mr, None, 10).await;
    let e = logged(&app, &w, 25, o, Some(&m.id), &reason(10)).await;
    assert_eq!(change(&e, "$remove")["new_value"], json!([{"id": helper, "name": "helpers"}]));

    let member = format!("/guilds/{g}/members/{}", m.id);
    call(Method::PATCH, member.clone(), Some(json!({"nick": "Em"})), 11).await;
    let e = logged(&app, &w, 24, o, Some(&m.id), &reason(11)).await;
    assert_eq!(change(&e, "nick")["new_value"], "Em");
    call(Method::PATCH, member.clone(), Some(json!({"communication_disabled_until": timestamp_in(60_000)})), 12).await;
    let e = logged(&app, &w, 24, o, Some(&m.id), &reason(12)).await;
    assert!(change(&e, "communication_disabled_until")["new_value"].is_string(), "{e}");
    call(Method::PATCH, member, Some(json!({"communication_disabled_until": null})), 13).await;
    let e = logged(&app, &w, 24, o, Some(&m.id), &reason(13)).await;
    assert!(change(&e, "communication_disabled_until")["old_value"].is_string(), "{e}");

    // A moderator deleting someone's message is logged; an author deleting
    // their own is not.
    let own = id(&app.send(m, &w.ch, "mine").await);
    assert_eq!(app.delete(&format!("/channels/{}/messages/{own}", w.ch), &m.token).await.0, 204);
    let theirs = id(&app.send(m, &w.ch, "theirs").await);
    call(Method::DELETE, format!("/channels/{}/messages/{theirs}", w.ch), None, 14).await;
    let e = logged(&app, &w, 72, o, Some(&m.id), &reason(14)).await;
    assert_eq!(e["options"]["channel_id"], json!(w.ch));
    assert_eq!(e["options"]["count"], "1");
    let (_, deletes) = app.get(&format!("/guilds/{g}/audit-logs?action_type=72"), t).await;
    assert_eq!(deletes["audit_log_entries"].as_array().unwrap().len(), 1, "{deletes}");

    let a = id(&app.send(m, &w.ch, "a").await);
    let b = id(&app.send(m, &w.ch, "b").await);
    call(Method::POST, format!("/channels/{}/messages/bulk-delete", w.ch), Some(json!({"messages": [a, b]})), 15).await;
    let e = logged(&app, &w, 73, o, Some(&w.ch), &reason(15)).await;
    assert_eq!(e["options"]["count"], "2");

    let pinned = id(&app.send(m, &w.ch, "pin me").await);
    call(Method::PUT, format!("/channels/{}/pins/{pinned}", w.ch), None, 16).await;
    let e = logged(&app, &w, 74, o, Some(&m.id), &reason(16)).await;
    assert_eq!(e["options"], json!({"channel_id": w.ch, "message_id": pinned}));
    call(Method::DELETE, format!("/channels/{}/pins/{pinned}", w.ch), None, 17).await;
    let e = logged(&app, &w, 75, o, Some(&m.id), &reason(17)).await;
    assert_eq!(e["options"]["message_id"], json!(pinned));

    let invite = call(Method::POST, format!("/channels/{}/invites", w.ch), Some(json!({"unique": true})), 18).await;
    let code = invite["code"].as_str().unwrap();
    let e = logged(&app, &w, 40, o, None, &reason(18)).await;
    assert_eq!(change(&e, "code")["new_value"], code);
    call(Method::DELETE, format!("/invites/{code}"), None, 19).await;
    let e = logged(&app, &w, 42, o, None, &reason(19)).await;
    assert_eq!(change(&e, "code")["old_value"], code);

    let bot = app.bot(&w.owner, "robot", false).await;
    let authorize = format!("/oauth2/authorize?client_id={}&scope=bot&permissions=0&guild_id={g}", bot.id);
    call(Method::POST, authorize, Some(json!({})), 20).await;
    logged(&app, &w, 28, o, Some(&bot.id), &reason(20)).await;

    call(Method::DELETE, format!("/guilds/{g}/members/{}", leaver.id), None, 21).await;
    logged(&app, &w, 20, o, Some(&leaver.id), &reason(21)).await;
    call(Method::PUT, format!("/guilds/{g}/bans/{}", leaver.id), Some(json!({})), 22).await;
    logged(&app, &w, 22, o, Some(&leaver.id), &reason(22)).await;
    call(Method::DELETE, format!("/guilds/{g}/bans/{}", leaver.id), None, 23).await;
    logged(&app, &w, 23, o, Some(&leaver.id), &reason(23)).await;

    call(Method::DELETE, format!("/guilds/{g}/roles/{helper}"), None, 24).await;
    let e = logged(&app, &w, 32, o, Some(&helper), &reason(24)).await;
    assert_eq!(change(&e, "name")["old_value"], "helpers");
    call(Method::DELETE, format!("/channels/{logs}"), None, 25).await;
    let e = logged(&app, &w, 12, o, Some(&logs), &reason(25)).await;
    assert_eq!(change(&e, "name")["old_value"], "logs");

    // Without a reason header there is no reason.
    let r = app.patch(&format!("/guilds/{g}"), t, json!({"name": "Plain"})).await;
    assert_eq!(r.0, StatusCode::OK);
    assert!(latest_entry(&app, &w, 1).await.get("reason").is_none_or(Value::is_null));
    // The log names the users it mentions.
    let (_, log) = app.get(&format!("/guilds/{g}/audit-logs?limit=100"), t).await;
    let users: Vec<String> = log["users"].as_array().unwrap().iter().map(id).collect();
    for u in [o, &m.id, &leaver.id] {
        assert!(users.contains(u), "{u} not in {users:?}");
    }
}

#[tokio::test]
async fn the_audit_log_filters_by_user_action_and_position() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let g = &w.gid;
    let manager = grant(&app, &w, m, p::MANAGE_ROLES | p::VIEW_AUDIT_LOG).await;
    positions(&app, &w, &[(&manager, 5)]).await;
    for name in ["one", "two", "three"] {
        let (status, _) = app.post(&format!("/guilds/{g}/roles"), &m.token, json!({"name": name})).await;
        assert_eq!(status, StatusCode::OK);
    }
    new_channel(&app, &w, json!({"name": "first"})).await;
    new_channel(&app, &w, json!({"name": "second"})).await;
    let log = |query: String| {
        let app = &app;
        let token = m.token.clone();
        async move {
            let (status, body) = app.get(&format!("/guilds/{g}/audit-logs{query}"), &token).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["audit_log_entries"].as_array().unwrap().clone()
        }
    };
    let ids = |entries: &[Value]| entries.iter().map(|e| id(e).parse::<u64>().unwrap()).collect::<Vec<_>>();

    let all = log(String::new()).await;
    // The owner: the invite the member joined by, the role made and given to
    // them and its move; the member: 3 roles; the owner: 2 channels.
    assert_eq!(all.len(), 9, "{all:?}");
    let all_ids = ids(&all);
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "newest first: {all_ids:?}");

    let mine = log(format!("?user_id={}", m.id)).await;
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|e| e["user_id"] == json!(m.id) && e["action_type"] == 30));
    let channels = log("?action_type=10".into()).await;
    assert_eq!(channels.len(), 2);
    assert!(channels.iter().all(|e| e["user_id"] == json!(w.owner.id)));
    assert!(log(format!("?user_id={}&action_type=10", m.id)).await.is_empty());
    assert_eq!(log(format!("?user_id={}&action_type=30", w.owner.id)).await.len(), 1);

    assert_eq!(ids(&log("?limit=2".into()).await), all_ids[..2]);
    assert_eq!(ids(&log(format!("?before={}", all_ids[1])).await), all_ids[2..]);
    assert_eq!(ids(&log(format!("?before={}&limit=3", all_ids[1])).await), all_ids[2..5]);
    let mut after = ids(&log(format!("?after={}", all_ids[5])).await);
    after.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(after, all_ids[..5]);
    let after_one = ids(&log(format!("?after={}&limit=1", all_ids[5])).await);
    assert_eq!(after_one, [all_ids[4]], "after pages up from the oldest");

    for bad in ["?limit=0", "?limit=101"] {
        assert_error(&app.get(&format!("/guilds/{g}/audit-logs{bad}"), &m.token).await, 400, 50035);
    }
}

#[tokio::test]
async fn audit_log_entries_reach_only_sessions_that_may_read_the_log() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["reader", "member"]).await;
    let (reader, member) = (&users[0], &users[1]);
    grant(&app, &w, reader, p::VIEW_AUDIT_LOG).await;
    let mut r = session(&app, reader).await;
    let mut m = session(&app, member).await;
    let mut o = session(&app, &w.owner).await;

    let (status, created) = with_reason(
        &app,
        Method::POST,
        &format!("/guilds/{}/roles", w.gid),
        &w.owner.token,
        Some(json!({"name": "watched"})),
        "for the record",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r_events = drain(&mut r).await;
    let m_events = drain(&mut m).await;
    let o_events = drain(&mut o).await;
    for events in [&r_events, &o_events] {
        let entry = events
            .iter()
            .find(|e| e["t"] == "GUILD_AUDIT_LOG_ENTRY_CREATE")
            .unwrap_or_else(|| panic!("no audit entry in {:?}", names(events)));
        assert_eq!(entry["d"]["guild_id"], json!(w.gid));
        assert_eq!(entry["d"]["action_type"], 30);
        assert_eq!(entry["d"]["user_id"], json!(w.owner.id));
        assert_eq!(entry["d"]["target_id"], json!(id(&created)));
        assert_eq!(entry["d"]["reason"], "for the record");
    }
    assert!(names(&m_events).contains(&"GUILD_ROLE_CREATE"), "{:?}", names(&m_events));
    assert!(!names(&m_events).contains(&"GUILD_AUDIT_LOG_ENTRY_CREATE"), "{:?}", names(&m_events));

    // Losing the permission stops them.
    let (_, roles) = app.get(&format!("/guilds/{}/roles", w.gid), &w.owner.token).await;
    let grant_role = roles.as_array().unwrap().iter().find(|r| r["permissions"] == bits(p::VIEW_AUDIT_LOG)).unwrap();
    let path = format!("/guilds/{}/members/{}/roles/{}", w.gid, reader.id, id(grant_role));
    assert_eq!(app.delete(&path, &w.owner.token).await.0, 204);
    drain(&mut r).await;
    role(&app, &w, "unwatched", 0).await;
    let r_events = drain(&mut r).await;
    assert!(names(&r_events).contains(&"GUILD_ROLE_CREATE"));
    assert!(!names(&r_events).contains(&"GUILD_AUDIT_LOG_ENTRY_CREATE"), "{:?}", names(&r_events));
}

// ---------------------------------------------------------------------------
// 6. Outsiders
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_member_of_another_guild_learns_nothing_about_this_one() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let g = &w.gid;
    let ch = &w.ch;
    let mid = id(&app.send(m, ch, "members only").await);
    let secret_role = role(&app, &w, "inner circle", 0).await;
    assert_eq!(app.put(&format!("/guilds/{g}/bans/{}", app.register("banned").await.id), &w.owner.token).await.0, 204);
    let outsider = app.register("outsider").await;
    let (their_guild, their_ch) = app.guild(&outsider, "Elsewhere").await;
    let their_role = {
        let (_, r) =
            app.post(&format!("/guilds/{}/roles", id(&their_guild)), &outsider.token, json!({"name": "theirs"})).await;
        id(&r)
    };
    let mut gw = session(&app, &outsider).await;

    let before = snapshot(&app, &w).await;
    let t = &outsider.token;
    let o = &w.owner.id;
    let reads = [
        format!("/guilds/{g}"),
        format!("/guilds/{g}?with_counts=true"),
        format!("/guilds/{g}/channels"),
        format!("/guilds/{g}/members?limit=100"),
        format!("/guilds/{g}/members/{o}"),
        format!("/guilds/{g}/members/search?query=o"),
        format!("/guilds/{g}/roles"),
        format!("/guilds/{g}/roles/{secret_role}"),
        format!("/guilds/{g}/bans"),
        format!("/guilds/{g}/bans/{o}"),
        format!("/guilds/{g}/audit-logs"),
        format!("/guilds/{g}/invites"),
        format!("/channels/{ch}"),
        format!("/channels/{ch}/messages"),
        format!("/channels/{ch}/messages/{mid}"),
        format!("/channels/{ch}/pins"),
        format!("/channels/{ch}/messages/pins"),
        format!("/channels/{ch}/invites"),
        format!("/channels/{ch}/messages/{mid}/reactions/{THUMBS}"),
    ];
    for path in &reads {
        let r = app.get(path, t).await;
        assert_error(&r, 403, 50001);
        let text = r.1.to_string();
        for secret in ["Perms", "members only", "inner circle", "general", m.id.as_str()] {
            assert!(!text.contains(secret), "{path} leaked {secret}: {text}");
        }
    }
    for r in [
        app.patch(&format!("/guilds/{g}"), t, json!({"name": "Mine"})).await,
        app.delete(&format!("/guilds/{g}"), t).await,
        app.post(&format!("/guilds/{g}/channels"), t, json!({"name": "mine"})).await,
        app.post(&format!("/guilds/{g}/roles"), t, json!({"name": "mine"})).await,
        app.patch(&format!("/guilds/{g}/roles/{secret_role}"), t, json!({"name": "mine"})).await,
        app.put(&format!("/guilds/{g}/members/{}/roles/{secret_role}", m.id), t).await,
        app.patch(&format!("/guilds/{g}/members/{}", m.id), t, json!({"nick": "pwned"})).await,
        app.patch(&format!("/guilds/{g}/members/@me"), t, json!({"nick": "me"})).await,
        app.delete(&format!("/guilds/{g}/members/{}", m.id), t).await,
        app.put(&format!("/guilds/{g}/bans/{}", m.id), t).await,
        app.post(&format!("/guilds/{g}/bulk-ban"), t, json!({"user_ids": [m.id]})).await,
        app.post(&format!("/channels/{ch}/messages"), t, json!({"content": "hi"})).await,
        app.post(&format!("/channels/{ch}/typing"), t, json!({})).await,
        app.post(&format!("/channels/{ch}/invites"), t, json!({})).await,
        app.put(&format!("/channels/{ch}/messages/{mid}/reactions/{THUMBS}/@me"), t).await,
        app.delete(&format!("/channels/{ch}/messages/{mid}"), t).await,
        app.put(&format!("/channels/{ch}/pins/{mid}"), t).await,
        put_overwrite(&app, t, ch, &outsider.id, 1, p::VIEW_CHANNEL, 0).await,
    ] {
        assert_error(&r, 403, 50001);
    }
    // Unknown ids are unknown; ids from elsewhere are not this guild's.
    assert_error(&app.get("/guilds/4242424242", t).await, 404, 10004);
    assert_error(&app.get("/channels/4242424242", t).await, 404, 10003);
    assert_error(
        &app.put(&format!("/guilds/{g}/members/{}/roles/{their_role}", m.id), &w.owner.token).await,
        404,
        10011,
    );
    assert_error(&app.get(&format!("/guilds/{g}/roles/{their_role}"), &w.owner.token).await, 404, 10011);
    let r = app.put(&format!("/guilds/{}/members/{}/roles/{their_role}", id(&their_guild), m.id), t).await;
    assert_error(&r, 404, 10007);
    assert_error(&app.get(&format!("/channels/{ch}/messages/{mid}"), &outsider.token).await, 403, 50001);
    // Their own guild's channel does not open ours.
    assert_error(&app.get(&format!("/channels/{their_ch}/messages/{mid}"), t).await, 404, 10008);
    assert_same(&before, &snapshot(&app, &w).await);

    // Nothing of ours reaches their sessions.
    app.send(m, ch, "still members only").await;
    role(&app, &w, "another", 0).await;
    app.patch(&format!("/guilds/{g}"), &w.owner.token, json!({"name": "Quiet"})).await;
    assert!(drain(&mut gw).await.is_empty());
    let (_, mine) = app.get("/users/@me/guilds", t).await;
    assert!(mine.as_array().unwrap().iter().all(|x| x["id"] != json!(g)));
}

// ---------------------------------------------------------------------------
// 7. The gateway
// ---------------------------------------------------------------------------

#[tokio::test]
async fn events_in_a_hidden_channel_reach_those_who_can_see_it_and_nobody_else() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["seer", "blind", "poster"]).await;
    let (seer, blind, poster) = (&users[0], &users[1], &users[2]);
    let bot = app.bot(&w.owner, "watcher", true).await;
    app.add_bot(&w.owner, &bot, &w.gid).await;
    let blindfold = grant(&app, &w, blind, 0).await;
    let mut o = session(&app, &w.owner).await;
    let mut s = session(&app, seer).await;
    let mut b = session(&app, blind).await;
    let mut t = session(&app, &bot).await;

    // "secret" is hidden from a role of Blind's, "private" from Blind alone.
    let deny =
        |target: &str, kind: u8| json!({"id": target, "type": kind, "allow": "0", "deny": bits(p::VIEW_CHANNEL)});
    let secret = new_channel(&app, &w, json!({"name": "secret", "permission_overwrites": [deny(&blindfold, 0)]})).await;
    let private = new_channel(&app, &w, json!({"name": "private"})).await;
    overwrite(&app, &w, &private, &blind.id, 1, 0, p::VIEW_CHANNEL).await;
    let b_setup = drain(&mut b).await;
    assert!(b_setup.iter().all(|e| !about(e, &secret)), "{b_setup:?}");
    // Blind heard of "private" when it was made, and of losing it.
    let about_private: Vec<&str> =
        b_setup.iter().filter(|e| about(e, &private)).map(|e| e["t"].as_str().unwrap()).collect();
    assert_eq!(about_private, ["CHANNEL_CREATE", "CHANNEL_DELETE"]);
    for gw in [&mut o, &mut s, &mut t] {
        let got = drain(gw).await;
        assert!(got.iter().any(|e| e["t"] == "CHANNEL_CREATE" && about(e, &secret)), "{:?}", names(&got));
    }
    // A new session of Blind's is not told of them either.
    let mut b2 = app.gateway("").await;
    let ready = b2.identify(&blind.token, ALL_INTENTS).await;
    assert!(ready["guilds"].is_array());
    let create = b2.dispatch("GUILD_CREATE").await;
    let listed: Vec<&str> =
        create["d"]["channels"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(
        listed.contains(&w.ch.as_str()) && !listed.contains(&secret.as_str()) && !listed.contains(&private.as_str())
    );
    drain(&mut b2).await;

    for c in [&secret, &private] {
        let base = format!("/channels/{c}");
        let msg = app.send(seer, c, "psst").await;
        let mid = id(&msg);
        app.patch(&format!("{base}/messages/{mid}"), &seer.token, json!({"content": "psst!"})).await;
        assert_eq!(app.post(&format!("{base}/typing"), &seer.token, json!({})).await.0, 204);
        assert_eq!(app.put(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
        assert_eq!(app.delete(&format!("{base}/messages/{mid}/reactions/{THUMBS}/@me"), &w.owner.token).await.0, 204);
        assert_eq!(app.put(&format!("{base}/pins/{mid}"), &w.owner.token).await.0, 204);
        let (status, _) = app.patch(&base, &w.owner.token, json!({"topic": "hush"})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app.delete(&format!("{base}/messages/{mid}"), &w.owner.token).await.0, 204);
        let (status, _) = app.post(&format!("{base}/invites"), &w.owner.token, json!({"unique": true})).await;
        assert_eq!(status, StatusCode::OK);
        app.send(&w.owner, &w.ch, "sentinel").await;

        let expected = [
            "MESSAGE_CREATE",
            "MESSAGE_UPDATE",
            "TYPING_START",
            "MESSAGE_REACTION_ADD",
            "MESSAGE_REACTION_REMOVE",
            "CHANNEL_PINS_UPDATE",
            "CHANNEL_UPDATE",
            "MESSAGE_DELETE",
            "INVITE_CREATE",
        ];
        for (who, gw) in [("owner", &mut o), ("seer", &mut s), ("bot", &mut t)] {
            let got = drain(gw).await;
            let here: Vec<Value> = got.iter().filter(|e| about(e, c)).cloned().collect();
            // Invite events go only to those who may manage the channel.
            let expected = if who == "owner" { &expected[..] } else { &expected[..expected.len() - 1] };
            assert_eq!(names(&here), expected, "{who} in {c}");
            assert_eq!(here[0]["d"]["content"], "psst", "{who} reads it");
        }
        for gw in [&mut b, &mut b2] {
            let got = drain(gw).await;
            assert_eq!(names(&got), ["MESSAGE_CREATE"], "Blind hears only the sentinel: {got:?}");
            assert_eq!(got[0]["d"]["channel_id"], json!(w.ch));
        }
    }

    // A ban that sweeps messages tells only those who could see them.
    app.send(poster, &secret, "leaving soon").await;
    app.send(poster, &private, "me too").await;
    for gw in [&mut o, &mut s, &mut t, &mut b, &mut b2] {
        drain(gw).await;
    }
    let r = app
        .call(
            Method::PUT,
            &format!("/guilds/{}/bans/{}", w.gid, poster.id),
            Some(&w.owner.token),
            Some(json!({"delete_message_seconds": 600})),
        )
        .await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    for (who, gw) in [("seer", &mut s), ("bot", &mut t)] {
        let got = drain(gw).await;
        for c in [&secret, &private] {
            assert!(got.iter().any(|e| e["t"] == "MESSAGE_DELETE_BULK" && about(e, c)), "{who}: {got:?}");
        }
    }
    for gw in [&mut b, &mut b2] {
        let got = drain(gw).await;
        assert!(got.iter().all(|e| !about(e, &secret) && !about(e, &private)), "{got:?}");
        assert!(names(&got).contains(&"GUILD_MEMBER_REMOVE"), "{:?}", names(&got));
    }
}

#[tokio::test]
async fn overwrites_and_roles_that_hide_or_reveal_a_channel_arrive_as_channel_delete_and_create() {
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["member"]).await;
    let m = &users[0];
    let g = &w.gid;
    let mut o = session(&app, &w.owner).await;
    let mut a = session(&app, m).await;

    // A member overwrite hides the channel: CHANNEL_DELETE for them,
    // CHANNEL_UPDATE for those who still see it.
    overwrite(&app, &w, &w.ch, &m.id, 1, 0, p::VIEW_CHANNEL).await;
    let got = drain(&mut a).await;
    assert_eq!(names(&got), ["CHANNEL_DELETE"]);
    assert_eq!(got[0]["d"]["id"], json!(w.ch));
    let got = drain(&mut o).await;
    assert!(got.iter().any(|e| e["t"] == "CHANNEL_UPDATE" && about(e, &w.ch)), "{:?}", names(&got));
    assert!(!names(&got).contains(&"CHANNEL_DELETE"));
    app.send(&w.owner, &w.ch, "not for you").await;
    assert!(drain(&mut a).await.is_empty());
    // Removing it reveals the channel again.
    assert_eq!(app.delete(&format!("/channels/{}/permissions/{}", w.ch, m.id), &w.owner.token).await.0, 204);
    let got = drain(&mut a).await;
    assert_eq!(names(&got), ["CHANNEL_CREATE"]);
    assert_eq!(got[0]["d"]["id"], json!(w.ch));
    assert_eq!(got[0]["d"]["name"], "general");
    // A change that hides nothing is an update.
    overwrite(&app, &w, &w.ch, g, 0, 0, p::ADD_REACTIONS).await;
    assert_eq!(names(&drain(&mut a).await), ["CHANNEL_UPDATE"]);
    // An @everyone overwrite hides it from everyone but the owner.
    overwrite(&app, &w, &w.ch, g, 0, 0, p::VIEW_CHANNEL).await;
    assert_eq!(names(&drain(&mut a).await), ["CHANNEL_DELETE"]);
    overwrite(&app, &w, &w.ch, g, 0, 0, 0).await;
    assert_eq!(names(&drain(&mut a).await), ["CHANNEL_CREATE"]);
    drain(&mut o).await;

    // A role that reveals a hidden channel.
    let key = role(&app, &w, "key", 0).await;
    let vault = new_channel(
        &app,
        &w,
        json!({"name": "vault", "permission_overwrites": [
            {"id": g, "type": 0, "deny": bits(p::VIEW_CHANNEL)},
            {"id": key, "type": 0, "allow": bits(p::VIEW_CHANNEL)},
        ]}),
    )
    .await;
    let got = drain(&mut a).await;
    assert!(got.iter().all(|e| !about(e, &vault)), "{got:?}");
    give(&app, &w.owner.token, g, &m.id, &key).await;
    let got = drain(&mut a).await;
    let creates: Vec<&Value> = got.iter().filter(|e| e["t"] == "CHANNEL_CREATE").collect();
    assert_eq!(creates.len(), 1, "{:?}", names(&got));
    assert_eq!(creates[0]["d"]["id"], json!(vault));
    assert_eq!(creates[0]["d"]["name"], "vault");
    app.send(&w.owner, &vault, "welcome in").await;
    let got = drain(&mut a).await;
    assert_eq!(names(&got), ["MESSAGE_CREATE"]);
    assert_eq!(got[0]["d"]["content"], "welcome in");
    // Taking the role away hides it again; so does a role overwrite.
    assert_eq!(app.delete(&format!("/guilds/{g}/members/{}/roles/{key}", m.id), &w.owner.token).await.0, 204);
    let got = drain(&mut a).await;
    assert!(got.iter().any(|e| e["t"] == "CHANNEL_DELETE" && about(e, &vault)), "{:?}", names(&got));
    let (status, _) =
        app.patch(&format!("/guilds/{g}/members/{}", m.id), &w.owner.token, json!({"roles": [key]})).await;
    assert_eq!(status, StatusCode::OK);
    let got = drain(&mut a).await;
    assert!(got.iter().any(|e| e["t"] == "CHANNEL_CREATE" && about(e, &vault)), "{:?}", names(&got));
    overwrite(&app, &w, &vault, &m.id, 1, 0, p::VIEW_CHANNEL).await;
    let got = drain(&mut a).await;
    assert_eq!(names(&got), ["CHANNEL_DELETE"]);
    app.send(&w.owner, &vault, "gone again").await;
    assert!(drain(&mut a).await.is_empty());
}

/// The statements (and transactions) the store runs for one message the
/// owner posts in `channel`: the fewest of three tries, so that a write
/// the server makes now and then on its own (a token's last-used time)
/// does not count.
async fn statements_per_message(app: &TestApp, w: &World, channel: &str) -> f64 {
    let mut fewest = f64::MAX;
    for n in 0..3 {
        let before = app.store_calls().await;
        app.send(&w.owner, channel, &format!("count {n}")).await;
        fewest = fewest.min(app.store_calls().await - before);
    }
    fewest
}

#[tokio::test]
async fn a_message_in_a_hidden_channel_costs_as_many_statements_in_a_guild_of_5000_as_of_10() {
    // Who receives a channel's events is the gateway's to decide, from what
    // it keeps of the guild's roles, overwrites and connected members:
    // publishing a message reads no member list, however large the guild.
    let app = TestApp::spawn().await;
    let (w, users) = world(&app, &["seer", "blind"]).await;
    let (seer, blind) = (&users[0], &users[1]);
    let hidden = new_channel(&app, &w, json!({"name": "staff"})).await;
    overwrite(&app, &w, &hidden, &w.gid, 0, 0, p::VIEW_CHANNEL).await;
    overwrite(&app, &w, &hidden, &seer.id, 1, p::VIEW_CHANNEL, 0).await;
    app.bulk_members(&w.gid, 1 << 40, 7).await;
    let (status, guild) = app.get(&format!("/guilds/{}?with_counts=true", w.gid), &w.owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(guild["approximate_member_count"], 10, "{guild}");

    let mut seer_gw = session(&app, seer).await;
    let mut blind_gw = session(&app, blind).await;
    // The first message warms what is cached per guild (AutoMod's rules).
    app.send(&w.owner, &hidden, "warm-up").await;
    let small = statements_per_message(&app, &w, &hidden).await;

    app.bulk_members(&w.gid, (1 << 40) + 7, 4990).await;
    let (_, guild) = app.get(&format!("/guilds/{}?with_counts=true", w.gid), &w.owner.token).await;
    assert_eq!(guild["approximate_member_count"], 5000, "{guild}");
    let large = statements_per_message(&app, &w, &hidden).await;

    assert!(small > 0.0, "the store's statements are counted");
    assert_eq!(large, small, "statements per message: {small} with 10 members, {large} with 5,000");
    // And the channel's viewers, only they, still get its messages.
    let seen = drain(&mut seer_gw).await;
    let created: Vec<&Value> = seen.iter().filter(|e| e["t"] == "MESSAGE_CREATE").collect();
    assert_eq!(created.len(), 7, "{:?}", names(&seen));
    assert!(drain(&mut blind_gw).await.iter().all(|e| !about(e, &hidden)));
}
