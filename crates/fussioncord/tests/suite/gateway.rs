//! Gateway v10 with a plain WebSocket client: the session lifecycle, what
//! each event reaches, resume, close codes, intents, sharding, compression
//! and slow consumers.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::ws::{Gateway, Received, ALL_INTENTS};
use common::{TestApp, TestUser};

const GUILDS: u64 = 1 << 0;
const GUILD_MEMBERS: u64 = 1 << 1;
const GUILD_INVITES: u64 = 1 << 6;
const GUILD_PRESENCES: u64 = 1 << 8;
const GUILD_MESSAGES: u64 = 1 << 9;
const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
const GUILD_MESSAGE_TYPING: u64 = 1 << 11;
const DIRECT_MESSAGES: u64 = 1 << 12;
const MESSAGE_CONTENT: u64 = 1 << 15;

/// Collects dispatches until `quiet` passes without one.
async fn drain(gw: &mut Gateway, quiet: Duration) -> Vec<Value> {
    gw.dispatches(quiet).await
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["t"].as_str().unwrap()).collect()
}

/// A guild with two members and its text channel.
async fn two_members(app: &TestApp) -> (TestUser, TestUser, String, String) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, channel) = app.guild(&alice, "Gateway").await;
    app.join(&alice, &channel, &bob).await;
    (alice, bob, guild["id"].as_str().unwrap().to_owned(), channel)
}

#[tokio::test]
async fn ready_then_one_guild_create_per_guild_with_its_state() {
    let app = TestApp::spawn().await;
    let (alice, bob, gid, channel) = two_members(&app).await;
    let mut gw = app.gateway("").await;
    let interval = gw.hello().await;
    assert_eq!(interval, 41_250);
    gw.send(json!({"op": 2, "d": {"token": bob.token, "intents": ALL_INTENTS, "properties": {}}})).await;
    let ready = gw.next().await;
    assert_eq!((ready["op"].as_u64(), ready["t"].as_str(), ready["s"].as_u64()), (Some(0), Some("READY"), Some(1)));
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["user"]["id"], json!(bob.id));
    assert_eq!(d["user"]["mfa_enabled"], false);
    assert_eq!(d["guilds"], json!([{"id": gid, "unavailable": true}]));
    assert!(d["session_id"].as_str().unwrap().len() >= 16);
    assert_eq!(d["resume_gateway_url"], json!(format!("ws://{}", app.gateway_addr())));
    let create = gw.next().await;
    assert_eq!((create["t"].as_str(), create["s"].as_u64()), (Some("GUILD_CREATE"), Some(2)));
    let g = &create["d"];
    assert_eq!(g["id"], json!(gid));
    assert_eq!(g["member_count"], 2);
    assert_eq!(g["large"], false);
    assert_eq!(g["unavailable"], false);
    assert!(g["joined_at"].is_string());
    assert!(g["voice_states"].is_array() && g["threads"].is_array());
    assert_eq!(g["roles"][0]["id"], json!(gid));
    assert!(g["channels"].as_array().unwrap().iter().any(|c| c["id"] == json!(channel)));
    let members: HashSet<_> =
        g["members"].as_array().unwrap().iter().map(|m| m["user"]["id"].as_str().unwrap()).collect();
    assert_eq!(members, HashSet::from([alice.id.as_str(), bob.id.as_str()]));
    // Bob is online (his own session), and presences come with the guild.
    assert!(g["presences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["user"]["id"] == json!(bob.id) && p["status"] == "online"));

    // Heartbeats are acknowledged.
    gw.heartbeat().await;
    assert_eq!(gw.next().await["op"], 11);
}

#[tokio::test]
async fn gateway_urls_point_at_this_server() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (status, body) = app.call(reqwest::Method::GET, "/gateway", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["url"], json!(format!("ws://{}", app.gateway_addr())));
    let bot = app.bot(&alice, "Url Bot", false).await;
    let (_, body) = app.get("/gateway/bot", &bot.token).await;
    assert_eq!(body["shards"], 1);
    assert_eq!(body["session_start_limit"]["max_concurrency"], 1);
    // The URL it gives works.
    let url = body["url"].as_str().unwrap().trim_start_matches("ws://").to_owned();
    let mut gw = Gateway::connect(&url, "").await;
    let ready = gw.identify(&bot.token, GUILDS).await;
    assert_eq!(ready["application"]["id"], json!(bot.id));
}

/// Discord leaves `user` out of the member object only beside a message's
/// author (MESSAGE_CREATE, MESSAGE_UPDATE); MESSAGE_REACTION_ADD and
/// TYPING_START carry the whole member, and libraries (disnake, discord.py)
/// build their member from `member.user`, failing the event without it.
#[tokio::test]
async fn reaction_and_typing_events_carry_the_member_with_its_user() {
    let app = TestApp::spawn().await;
    let (alice, bob, gid, ch) = two_members(&app).await;
    let mut a = app.gateway("").await;
    a.identify(&alice.token, ALL_INTENTS).await;
    let msg = app.send(&alice, &ch, "react to me").await;
    let mid = msg["id"].as_str().unwrap();
    let created = a.dispatch("MESSAGE_CREATE").await;
    assert!(created["d"]["member"]["joined_at"].is_string());
    assert!(created["d"]["member"].get("user").is_none(), "the author is beside it: {created}");
    let nick = app.patch(&format!("/guilds/{gid}/members/@me"), &bob.token, json!({ "nick": "Bobby" })).await;
    assert_eq!(nick.0, StatusCode::OK, "{}", nick.1);

    let (status, _) = app.put(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"), &bob.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reaction = a.dispatch("MESSAGE_REACTION_ADD").await;
    let member = &reaction["d"]["member"];
    assert_eq!(member["user"]["id"], json!(bob.id), "{reaction}");
    assert_eq!(member["user"]["username"], json!(bob.username));
    assert_eq!(member["nick"], "Bobby");
    assert!(member["joined_at"].is_string());

    let (status, _) = app.post(&format!("/channels/{ch}/typing"), &bob.token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let typing = a.dispatch("TYPING_START").await;
    assert_eq!(typing["d"]["user_id"], json!(bob.id));
    assert_eq!(typing["d"]["member"]["user"]["id"], json!(bob.id), "{typing}");
    assert_eq!(typing["d"]["member"]["nick"], "Bobby");
}

#[tokio::test]
async fn every_rest_change_reaches_exactly_those_who_should_see_it() {
    let app = TestApp::spawn().await;
    let (alice, bob, gid, ch) = two_members(&app).await;
    let carol = app.register("carol").await;
    let mut a = app.gateway("").await;
    a.identify(&alice.token, ALL_INTENTS).await;
    let mut a2 = app.gateway("").await; // Alice's second device
    a2.identify(&alice.token, ALL_INTENTS).await;
    let mut b = app.gateway("").await;
    b.identify(&bob.token, ALL_INTENTS).await;
    let mut c = app.gateway("").await;
    c.identify(&carol.token, ALL_INTENTS).await;
    let quiet = Duration::from_millis(300);
    for gw in [&mut a, &mut a2, &mut b, &mut c] {
        drain(gw, quiet).await;
    }

    // Messages, edits, reactions, pins, typing, deletes.
    let msg = app.send(&bob, &ch, "hello").await;
    let mid = msg["id"].as_str().unwrap();
    app.patch(&format!("/channels/{ch}/messages/{mid}"), &bob.token, json!({"content": "hello!"})).await;
    app.put(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"), &alice.token).await;
    app.delete(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"), &alice.token).await;
    app.put(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"), &alice.token).await;
    app.delete(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D"), &alice.token).await;
    app.put(&format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"), &alice.token).await;
    app.delete(&format!("/channels/{ch}/messages/{mid}/reactions"), &alice.token).await;
    app.put(&format!("/channels/{ch}/pins/{mid}"), &alice.token).await;
    app.post(&format!("/channels/{ch}/typing"), &bob.token, json!({})).await;
    app.delete(&format!("/channels/{ch}/messages/{mid}"), &bob.token).await;
    let m1 = app.send(&bob, &ch, "one").await;
    let m2 = app.send(&bob, &ch, "two").await;
    app.post(&format!("/channels/{ch}/messages/bulk-delete"), &alice.token, json!({"messages": [m1["id"], m2["id"]]}))
        .await;
    // Channels, the guild, invites.
    let (_, created) = app.post(&format!("/guilds/{gid}/channels"), &alice.token, json!({"name": "news"})).await;
    let news = created["id"].as_str().unwrap();
    app.patch(&format!("/channels/{news}"), &alice.token, json!({"topic": "today"})).await;
    app.delete(&format!("/channels/{news}"), &alice.token).await;
    app.patch(&format!("/guilds/{gid}"), &alice.token, json!({"name": "Renamed"})).await;
    let (_, invite) = app.post(&format!("/channels/{ch}/invites"), &alice.token, json!({"unique": true})).await;
    app.delete(&format!("/invites/{}", invite["code"].as_str().unwrap()), &alice.token).await;
    // Profile changes.
    app.patch("/users/@me", &bob.token, json!({"global_name": "Bobby"})).await;

    let guild_events = [
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE_EMOJI",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE_ALL",
        "CHANNEL_PINS_UPDATE",
        "TYPING_START",
        "MESSAGE_DELETE",
        "MESSAGE_CREATE",
        "MESSAGE_CREATE",
        "MESSAGE_DELETE_BULK",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "GUILD_UPDATE",
        "INVITE_CREATE",
        "INVITE_DELETE",
    ];
    let a_events = drain(&mut a, quiet).await;
    let a2_events = drain(&mut a2, quiet).await;
    let b_events = drain(&mut b, quiet).await;
    // Alice owns the guild, so she may read its audit log: each audited
    // action (a pin, a bulk delete, channel, guild and invite changes) is
    // followed by its GUILD_AUDIT_LOG_ENTRY_CREATE. Bob may not.
    const AUDITED: [&str; 8] = [
        "CHANNEL_PINS_UPDATE",
        "MESSAGE_DELETE_BULK",
        "CHANNEL_CREATE",
        "CHANNEL_UPDATE",
        "CHANNEL_DELETE",
        "GUILD_UPDATE",
        "INVITE_CREATE",
        "INVITE_DELETE",
    ];
    let mut expect_a: Vec<&str> = Vec::new();
    for name in guild_events {
        expect_a.push(name);
        if AUDITED.contains(&name) {
            expect_a.push("GUILD_AUDIT_LOG_ENTRY_CREATE");
        }
    }
    expect_a.push("GUILD_MEMBER_UPDATE");
    assert_eq!(names(&a_events), expect_a);
    assert_eq!(names(&a2_events), expect_a, "a user's every session hears the same");
    // Invite events go only to those who may manage the channel.
    let mut expect_b: Vec<&str> = guild_events.iter().copied().filter(|n| !n.starts_with("INVITE_")).collect();
    expect_b.extend(["USER_UPDATE", "GUILD_MEMBER_UPDATE"]);
    assert_eq!(names(&b_events), expect_b);
    assert!(drain(&mut c, quiet).await.is_empty(), "an outsider hears nothing of the guild");

    // Payloads carry what clients read (Bob's list has no audit entries).
    let create = &b_events[0]["d"];
    assert_eq!(create["content"], "hello");
    assert_eq!(create["guild_id"], json!(gid));
    assert_eq!(create["author"]["id"], json!(bob.id));
    assert!(create["member"]["joined_at"].is_string());
    assert_eq!(b_events[1]["d"]["content"], "hello!");
    assert_eq!(b_events[2]["d"]["emoji"]["name"], "👍");
    assert_eq!(b_events[2]["d"]["user_id"], json!(alice.id));
    assert!(b_events[8]["d"]["last_pin_timestamp"].is_string());
    assert_eq!(b_events[10]["d"]["id"], json!(mid));
    assert_eq!(b_events[13]["d"]["ids"].as_array().unwrap().len(), 2);
    assert_eq!(b_events[17]["d"]["name"], "Renamed");
    // Sequence numbers go up by one per dispatch, per session.
    let seqs: Vec<u64> = a_events.iter().map(|e| e["s"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // A DM reaches its two recipients only. (Carol shares no guild with
    // Alice: they become friends first, which a DM needs.)
    app.befriend(&carol, &alice).await;
    drain(&mut a, quiet).await;
    drain(&mut a2, quiet).await;
    drain(&mut c, quiet).await;
    let (_, dm) = app.post("/users/@me/channels", &carol.token, json!({"recipient_id": alice.id})).await;
    let dm = dm["id"].as_str().unwrap();
    app.send(&carol, dm, "psst").await;
    let a_dm = drain(&mut a, quiet).await;
    assert_eq!(names(&a_dm), ["MESSAGE_CREATE"]);
    assert!(a_dm[0]["d"].get("guild_id").is_none());
    assert_eq!(names(&drain(&mut c, quiet).await), ["CHANNEL_CREATE", "MESSAGE_CREATE"]);
    assert!(drain(&mut b, quiet).await.is_empty());

    // Joining: the newcomer's sessions get the guild, the others the member.
    let (_, invite) = app.post(&format!("/channels/{ch}/invites"), &alice.token, json!({})).await;
    app.post(&format!("/invites/{}", invite["code"].as_str().unwrap()), &carol.token, json!({})).await;
    let c_join = drain(&mut c, quiet).await;
    assert_eq!(names(&c_join), ["GUILD_CREATE", "GUILD_MEMBER_ADD"]);
    assert_eq!(c_join[0]["d"]["member_count"], 3);
    // ...with the presences of those online, as a GUILD_CREATE at connect has.
    let mut online: Vec<&str> =
        c_join[0]["d"]["presences"].as_array().unwrap().iter().map(|p| p["user"]["id"].as_str().unwrap()).collect();
    online.sort();
    let mut expected = vec![alice.id.as_str(), bob.id.as_str(), carol.id.as_str()];
    expected.sort();
    assert_eq!(online, expected);
    // (The invite is the one made for Bob, reused: no INVITE_CREATE.)
    assert_eq!(names(&drain(&mut b, quiet).await), ["GUILD_MEMBER_ADD"]);
    // ...and from then on hears the guild's messages.
    app.send(&alice, &ch, "welcome").await;
    assert_eq!(names(&drain(&mut c, quiet).await), ["MESSAGE_CREATE"]);
    // Leaving: the leaver loses the guild, the others hear of it.
    app.delete(&format!("/users/@me/guilds/{gid}"), &carol.token).await;
    assert_eq!(names(&drain(&mut c, quiet).await), ["GUILD_DELETE"]);
    let b_leave = drain(&mut b, quiet).await;
    assert_eq!(names(&b_leave), ["MESSAGE_CREATE", "GUILD_MEMBER_REMOVE"]);
    assert_eq!(b_leave[1]["d"]["user"]["id"], json!(carol.id));
    app.send(&alice, &ch, "gone?").await;
    assert!(drain(&mut c, quiet).await.is_empty(), "a former member hears nothing more");
    // Deleting the guild tells everyone in it.
    app.delete(&format!("/guilds/{gid}"), &alice.token).await;
    let b_end = drain(&mut b, quiet).await;
    assert_eq!(names(&b_end), ["MESSAGE_CREATE", "GUILD_DELETE"]);
    assert_eq!(b_end[1]["d"]["id"], json!(gid));
}

#[tokio::test]
async fn a_resumed_session_gets_every_missed_dispatch_exactly_once_in_order() {
    let app = TestApp::spawn().await;
    let (alice, bob, _gid, ch) = two_members(&app).await;
    let mut gw = app.gateway("&compress=zlib-stream").await;
    gw.identify(&bob.token, ALL_INTENTS).await;
    drain(&mut gw, Duration::from_millis(200)).await;

    // Alice posts continuously while Bob's connection is cut mid-stream.
    let sender = {
        let (base, token, ch) = (app.base.clone(), alice.token.clone(), ch.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for i in 0..60 {
                let r = client
                    .post(format!("{base}/channels/{ch}/messages"))
                    .header("Authorization", &token)
                    .json(&json!({"content": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                let body: Value = r.json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_owned());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            ids
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 15 {
        let p = gw.next().await;
        if p["t"] == "MESSAGE_CREATE" {
            seen.push(p["d"]["id"].as_str().unwrap().to_owned());
        }
    }
    let (session, seq) = (gw.session_id.clone().unwrap(), gw.seq);
    gw.cut();
    tokio::time::sleep(Duration::from_millis(150)).await;

    let mut gw = app.gateway("&compress=zlib-stream").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": seq}})).await;
    let sent = sender.await.unwrap();
    let mut resumed = false;
    let mut last_seq = seq.unwrap();
    while seen.len() < sent.len() || !resumed {
        let p = gw.next().await;
        if p["op"] != 0 {
            continue;
        }
        let s = p["s"].as_u64().unwrap();
        assert_eq!(s, last_seq + 1, "no gap and no repeat in sequence numbers");
        last_seq = s;
        match p["t"].as_str().unwrap() {
            "MESSAGE_CREATE" => seen.push(p["d"]["id"].as_str().unwrap().to_owned()),
            "RESUMED" => resumed = true,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(seen, sent, "every message once, in order");
}

#[tokio::test]
async fn a_connection_whose_session_is_resumed_elsewhere_is_closed_with_4000() {
    let app = TestApp::spawn().await;
    let (alice, bob, _gid, ch) = two_members(&app).await;
    let mut first = app.gateway("").await;
    first.identify(&bob.token, ALL_INTENTS).await;
    drain(&mut first, Duration::from_millis(200)).await;
    let (session, seq) = (first.session_id.clone().unwrap(), first.seq);
    // A second connection takes the session over while the first is still open.
    let mut second = app.gateway("").await;
    second.hello().await;
    second.send(json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": seq}})).await;
    second.dispatch("RESUMED").await;
    app.send(&alice, &ch, "after the move").await;
    assert_eq!(second.dispatch("MESSAGE_CREATE").await["d"]["content"], "after the move");
    // The first no longer gets the session's events, and is told so rather
    // than left open and silent.
    let code = loop {
        match first.next_within(Duration::from_secs(5)).await {
            Some(Received::Payload(p)) => assert_ne!(p["t"], "MESSAGE_CREATE", "the old connection got {p}"),
            Some(Received::Closed(code)) => break code,
            None => panic!("the replaced connection was left open"),
        }
    };
    assert_eq!(code, Some(4000));
}

/// READY carries the session id, so a client resumes from READY or later:
/// the server lets READY go once sent (it keeps no copy for an idle
/// session), and still replays what followed it.
#[tokio::test]
async fn a_resume_from_ready_replays_what_followed_it_and_none_comes_from_before_it() {
    let app = TestApp::spawn().await;
    let (_alice, bob, gid, _ch) = two_members(&app).await;
    let mut gw = app.gateway("").await;
    let ready = gw.identify(&bob.token, ALL_INTENTS).await;
    assert_eq!(gw.seq, Some(1), "READY is the first dispatch");
    let session = ready["session_id"].as_str().unwrap().to_owned();
    // Cut before the client read its GUILD_CREATE.
    gw.cut();
    let resume = |seq: u64| json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": seq}});

    let mut before = app.gateway("").await;
    before.hello().await;
    before.send(resume(0)).await;
    assert_eq!(before.next().await, json!({"op": 9, "d": false}), "nothing can be resumed from before READY");

    let mut after = app.gateway("").await;
    after.hello().await;
    after.send(resume(1)).await;
    let mut replayed = Vec::new();
    loop {
        let p = after.next().await;
        if p["t"] == "RESUMED" {
            break;
        }
        replayed.push(p);
    }
    let names: Vec<_> = replayed.iter().map(|p| p["t"].as_str().unwrap_or_default()).collect();
    let seqs: Vec<_> = replayed.iter().map(|p| p["s"].as_u64().unwrap()).collect();
    assert_eq!(names.first(), Some(&"GUILD_CREATE"), "replayed: {names:?}");
    assert_eq!(replayed[0]["d"]["id"], json!(gid));
    assert!(!names.contains(&"READY"), "READY is not sent again: {names:?}");
    assert_eq!(seqs, (2..2 + seqs.len() as u64).collect::<Vec<_>>(), "everything after READY, in order");
}

#[tokio::test]
async fn a_resume_that_cannot_be_honoured_is_an_invalid_session() {
    let app = TestApp::spawn_with(|c| c.gateway.resume_buffer = 5).await;
    let (alice, bob, _gid, ch) = two_members(&app).await;
    // An unknown session.
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": bob.token, "session_id": "nope", "seq": 1}})).await;
    assert_eq!(gw.next().await, json!({"op": 9, "d": false}));
    // After that, the same connection may identify.
    gw.send(json!({"op": 2, "d": {"token": bob.token, "intents": ALL_INTENTS, "properties": {}}})).await;
    let ready = gw.dispatch("READY").await;
    assert_eq!(ready["s"], 1);
    let (session, seq) = (ready["d"]["session_id"].as_str().unwrap().to_owned(), gw.seq);
    drain(&mut gw, Duration::from_millis(200)).await;
    let seq = gw.seq.or(seq);
    gw.cut();
    // More missed than the buffer holds.
    for i in 0..10 {
        app.send(&alice, &ch, &format!("m{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": seq}})).await;
    assert_eq!(gw.next().await, json!({"op": 9, "d": false}));
    // Someone else's token cannot take the session over.
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": alice.token, "session_id": session, "seq": 100}})).await;
    assert_eq!(gw.next().await, json!({"op": 9, "d": false}));
}

#[tokio::test]
async fn sessions_expire_after_the_resume_window_and_the_user_goes_offline() {
    let app = TestApp::spawn_with(|c| c.gateway.resume_window_ms = 400).await;
    let (alice, bob, _gid, _ch) = two_members(&app).await;
    let bot = app.bot(&alice, "Watcher", true).await;
    let (_, guilds) = app.get("/users/@me/guilds", &alice.token).await;
    app.add_bot(&alice, &bot, guilds[0]["id"].as_str().unwrap()).await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&bot.token, GUILDS | GUILD_PRESENCES).await;
    drain(&mut watcher, Duration::from_millis(200)).await;

    let mut gw = app.gateway("").await;
    gw.identify(&bob.token, ALL_INTENTS).await;
    let online = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!((online["d"]["user"]["id"].clone(), online["d"]["status"].clone()), (json!(bob.id), json!("online")));
    gw.send(json!({"op": 3, "d": {"since": null, "activities": [{"name": "chess", "type": 0}], "status": "dnd", "afk": false}})).await;
    let dnd = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!(dnd["d"]["status"], "dnd");
    assert_eq!(dnd["d"]["activities"][0]["name"], "chess");
    let session = gw.session_id.clone().unwrap();
    gw.cut();
    let offline = watcher.dispatch("PRESENCE_UPDATE").await;
    assert_eq!((offline["d"]["user"]["id"].clone(), offline["d"]["status"].clone()), (json!(bob.id), json!("offline")));
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": 1}})).await;
    assert_eq!(gw.next().await, json!({"op": 9, "d": false}));
}

/// Sends `payloads` after HELLO and returns the close code.
async fn close_code(app: &TestApp, extra: &str, payloads: Vec<String>) -> Option<u16> {
    let mut gw = app.gateway(extra).await;
    if let Some(Received::Payload(p)) = gw.next_within(Duration::from_secs(5)).await {
        assert_eq!(p["op"], 10);
    }
    for p in payloads {
        gw.send_raw(p).await;
    }
    gw.closed().await
}

#[tokio::test]
async fn close_codes_mean_what_discord_says() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bot = app.bot(&alice, "Closer", false).await;
    let ident = |token: &str, intents: u64| {
        json!({"op": 2, "d": {"token": token, "intents": intents, "properties": {}}}).to_string()
    };
    let cases: Vec<(&str, &str, Vec<String>, u16)> = vec![
        ("unknown opcode", "", vec![r#"{"op":42,"d":null}"#.into()], 4001),
        ("not JSON", "", vec!["{nope".into()], 4002),
        ("a payload over 4096 bytes", "", vec![json!({"op": 1, "d": "x".repeat(5000)}).to_string()], 4002),
        ("an IDENTIFY missing its token", "", vec![r#"{"op":2,"d":{}}"#.into()], 4002),
        ("presence before identify", "", vec![r#"{"op":3,"d":{"status":"online"}}"#.into()], 4003),
        ("a bad token", "", vec![ident("not-a-token", 1)], 4004),
        ("identifying twice", "", vec![ident(&alice.token, 1), ident(&alice.token, 1)], 4005),
        (
            "a shard out of range",
            "",
            vec![json!({"op": 2, "d": {"token": bot.token, "intents": 1, "shard": [2, 2]}}).to_string()],
            4010,
        ),
        (
            "zero shards",
            "",
            vec![json!({"op": 2, "d": {"token": bot.token, "intents": 1, "shard": [0, 0]}}).to_string()],
            4010,
        ),
        ("unknown intent bits", "", vec![ident(&bot.token, 1 << 40)], 4013),
        ("a bot without intents", "", vec![json!({"op": 2, "d": {"token": bot.token}}).to_string()], 4013),
        ("a privileged intent the application may not use", "", vec![ident(&bot.token, MESSAGE_CONTENT)], 4014),
    ];
    for (what, extra, payloads, code) in cases {
        assert_eq!(close_code(&app, extra, payloads).await, Some(code), "{what}");
    }
    // Version 9 is not spoken here.
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/?v=9&encoding=json", app.gateway_addr())).await.unwrap();
    let mut gw = common::ws::Gateway::from_stream(ws);
    assert_eq!(gw.closed().await, Some(4012));
    // Resuming from a sequence never sent.
    let mut gw = app.gateway("").await;
    gw.identify(&alice.token, 1).await;
    let session = gw.session_id.clone().unwrap();
    gw.cut();
    let code = close_code(
        &app,
        "",
        vec![json!({"op": 6, "d": {"token": alice.token, "session_id": session, "seq": 999}}).to_string()],
    )
    .await;
    assert_eq!(code, Some(4007));
}

#[tokio::test]
async fn missed_heartbeats_close_with_4009_and_the_session_stays_resumable() {
    let app = TestApp::spawn_with(|c| c.gateway.heartbeat_interval_ms = 400).await;
    let alice = app.register("alice").await;
    let mut gw = app.gateway("").await;
    gw.identify(&alice.token, 1).await;
    let session = gw.session_id.clone().unwrap();
    let seq = gw.seq;
    // The server first asks for a heartbeat (op 1), then gives up.
    let mut asked = false;
    let code = loop {
        match gw.next_within(Duration::from_secs(5)).await {
            Some(Received::Payload(p)) if p["op"] == 1 => asked = true,
            Some(Received::Payload(_)) => {}
            Some(Received::Closed(code)) => break code,
            None => panic!("no close"),
        }
    };
    assert!(asked, "the server requests a heartbeat before giving up");
    assert_eq!(code, Some(4009));
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": alice.token, "session_id": session, "seq": seq}})).await;
    assert_eq!(gw.dispatch("RESUMED").await["op"], 0);
}

#[tokio::test]
async fn a_client_sending_too_much_is_closed_with_4008() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let mut gw = app.gateway("").await;
    gw.identify(&alice.token, 1).await;
    for _ in 0..121 {
        gw.send_raw(json!({"op": 1, "d": null}).to_string()).await;
    }
    assert_eq!(gw.closed().await, Some(4008));
}

#[tokio::test]
async fn intents_decide_what_a_bot_receives() {
    let app = TestApp::spawn().await;
    let (alice, bob, gid, ch) = two_members(&app).await;
    let plain = app.bot(&alice, "Plain", false).await;
    let reader = app.bot(&alice, "Reader", true).await;
    for b in [&plain, &reader] {
        app.add_bot(&alice, b, &gid).await;
    }
    let quiet = Duration::from_millis(300);
    let mut guilds_only = app.gateway("").await;
    guilds_only.identify(&plain.token, GUILDS).await;
    let mut messages = app.gateway("").await;
    messages.identify(&plain.token, GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES).await;
    let mut content = app.gateway("").await;
    content.identify(&reader.token, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT).await;
    let mut typing_reactions = app.gateway("").await;
    typing_reactions
        .identify(&reader.token, GUILD_MESSAGE_TYPING | GUILD_MESSAGE_REACTIONS | GUILD_INVITES | GUILD_MEMBERS)
        .await;
    for gw in [&mut guilds_only, &mut messages, &mut content, &mut typing_reactions] {
        drain(gw, quiet).await;
    }

    let m = app.send(&bob, &ch, "secret").await;
    app.send(&bob, &ch, &format!("hey <@{}>", plain.id)).await;
    app.send(&plain, &ch, "my own words").await;
    app.post(&format!("/channels/{ch}/typing"), &bob.token, json!({})).await;
    app.put(&format!("/channels/{ch}/messages/{}/reactions/%F0%9F%91%8D/@me", m["id"].as_str().unwrap()), &bob.token)
        .await;
    let (_, dm) = app.post("/users/@me/channels", &bob.token, json!({"recipient_id": plain.id})).await;
    app.send(&bob, dm["id"].as_str().unwrap(), "direct").await;

    assert!(drain(&mut guilds_only, quiet).await.is_empty(), "GUILDS alone carries no messages");
    let got = drain(&mut messages, quiet).await;
    assert_eq!(names(&got), ["MESSAGE_CREATE", "MESSAGE_CREATE", "MESSAGE_CREATE", "MESSAGE_CREATE"]);
    let contents: Vec<&str> = got.iter().map(|e| e["d"]["content"].as_str().unwrap()).collect();
    // Without MESSAGE_CONTENT: empty, except mentions, its own, and DMs.
    assert_eq!(contents, ["", format!("hey <@{}>", plain.id).as_str(), "my own words", "direct"]);
    let got = drain(&mut content, quiet).await;
    let contents: Vec<&str> = got.iter().map(|e| e["d"]["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["secret", format!("hey <@{}>", plain.id).as_str(), "my own words"]);
    assert_eq!(names(&drain(&mut typing_reactions, quiet).await), ["TYPING_START", "MESSAGE_REACTION_ADD"]);
}

#[tokio::test]
async fn shards_divide_guilds_and_dms_go_to_shard_zero() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let bot = app.bot(&alice, "Sharded", true).await;
    // Guild ids carry their creation time; make guilds until both shards of
    // two have one.
    let mut by_shard: [Option<(String, String)>; 2] = [None, None];
    for i in 0..50 {
        let (g, ch) = app.guild(&alice, &format!("Guild {i}")).await;
        let id: u64 = g["id"].as_str().unwrap().parse().unwrap();
        let shard = ((id >> 22) % 2) as usize;
        if by_shard[shard].is_none() {
            app.add_bot(&alice, &bot, g["id"].as_str().unwrap()).await;
            by_shard[shard] = Some((g["id"].as_str().unwrap().to_owned(), ch));
        }
        if by_shard.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let [Some((g0, c0)), Some((g1, c1))] = by_shard else { panic!("no guild landed on one of the shards") };
    // Bob shares a guild with the bot, so he may DM it.
    app.join(&alice, &c1, &bob).await;
    let intents = GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT;
    let mut s0 = app.gateway("").await;
    let r0 = s0.identify_with(json!({"token": bot.token, "intents": intents, "shard": [0, 2]})).await;
    let mut s1 = app.gateway("").await;
    let r1 = s1.identify_with(json!({"token": bot.token, "intents": intents, "shard": [1, 2]})).await;
    assert_eq!(r0["guilds"], json!([{"id": g0, "unavailable": true}]));
    assert_eq!(r1["guilds"], json!([{"id": g1, "unavailable": true}]));
    assert_eq!(r0["shard"], json!([0, 2]));
    let quiet = Duration::from_millis(300);
    assert_eq!(names(&drain(&mut s0, quiet).await), ["GUILD_CREATE"]);
    assert_eq!(names(&drain(&mut s1, quiet).await), ["GUILD_CREATE"]);
    app.send(&alice, &c0, "zero").await;
    app.send(&alice, &c1, "one").await;
    let (_, dm) = app.post("/users/@me/channels", &bob.token, json!({"recipient_id": bot.id})).await;
    app.send(&bob, dm["id"].as_str().unwrap(), "dm").await;
    let got0: Vec<String> =
        drain(&mut s0, quiet).await.iter().map(|e| e["d"]["content"].as_str().unwrap().to_owned()).collect();
    let got1: Vec<String> =
        drain(&mut s1, quiet).await.iter().map(|e| e["d"]["content"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got0, ["zero", "dm"]);
    assert_eq!(got1, ["one"]);
}

#[tokio::test]
async fn compressed_streams_inflate_to_the_same_payloads() {
    let app = TestApp::spawn().await;
    let (alice, bob, _gid, ch) = two_members(&app).await;
    let mut zlib = app.gateway("&compress=zlib-stream").await;
    let mut zstd = app.gateway("&compress=zstd-stream").await;
    let mut per_message = app.gateway("").await;
    let mut plain = app.gateway("").await;
    for gw in [&mut zlib, &mut zstd, &mut plain] {
        let ready = gw.identify(&bob.token, ALL_INTENTS).await;
        assert_eq!(ready["user"]["id"], json!(bob.id));
    }
    per_message.hello().await;
    per_message.send(json!({"op": 2, "d": {"token": bob.token, "intents": ALL_INTENTS, "compress": true}})).await;
    per_message.per_message_compression();
    assert_eq!(per_message.dispatch("READY").await["d"]["user"]["id"], json!(bob.id));
    let quiet = Duration::from_millis(300);
    for gw in [&mut zlib, &mut zstd, &mut per_message, &mut plain] {
        drain(gw, quiet).await;
    }
    // Long, repetitive content, which compresses well.
    let text = "the quick brown fox jumps over the lazy dog ".repeat(40);
    for _ in 0..5 {
        app.send(&alice, &ch, &text).await;
    }
    let mut results = Vec::new();
    for gw in [&mut zlib, &mut zstd, &mut per_message, &mut plain] {
        let before = gw.wire_bytes;
        let events = drain(gw, quiet).await;
        assert_eq!(events.len(), 5);
        assert!(events.iter().all(|e| e["d"]["content"] == json!(text)));
        results.push(gw.wire_bytes - before);
    }
    let [zlib_bytes, zstd_bytes, per_message_bytes, plain_bytes] = results[..] else { unreachable!() };
    assert!(zlib_bytes * 4 < plain_bytes, "zlib-stream {zlib_bytes} vs plain {plain_bytes}");
    assert!(zstd_bytes * 4 < plain_bytes, "zstd-stream {zstd_bytes} vs plain {plain_bytes}");
    assert!(per_message_bytes * 2 < plain_bytes, "per-message zlib {per_message_bytes} vs plain {plain_bytes}");
}

/// A burst of messages created at once, before anyone reads: connections
/// are behind, so each writes many frames at a time (a head written into a
/// reused buffer, then the shared payload). Every client, plain or
/// compressed, gets every message intact, under consecutive sequence
/// numbers, in the one order the server dispatched them; and a resume from
/// before the burst replays the same frames.
#[tokio::test]
async fn a_burst_arrives_intact_and_in_order_on_every_transport() {
    let app = TestApp::spawn().await;
    let (alice, bob, _gid, ch) = two_members(&app).await;
    let mut clients = Vec::new();
    for extra in ["", "&compress=zlib-stream", "&compress=zstd-stream"] {
        let mut gw = app.gateway(extra).await;
        gw.identify(&bob.token, ALL_INTENTS).await;
        clients.push(gw);
    }
    let mut per_message = app.gateway("").await;
    per_message.hello().await;
    per_message.send(json!({"op": 2, "d": {"token": bob.token, "intents": ALL_INTENTS, "compress": true}})).await;
    per_message.per_message_compression();
    per_message.dispatch("READY").await;
    clients.push(per_message);
    for gw in &mut clients {
        drain(gw, Duration::from_millis(300)).await;
    }
    const BURST: usize = 150;
    // Contents of many lengths (sequence numbers of one and more digits,
    // payloads above and below the compressors' block sizes).
    let contents: Vec<String> = (0..BURST).map(|i| format!("burst {i} {}", "ab".repeat(i * 13 % 900))).collect();
    futures::future::join_all(contents.iter().map(|c| app.send(&alice, &ch, c))).await;

    let mut received: Vec<Vec<Value>> = Vec::new();
    for gw in &mut clients {
        let mut frames = Vec::new();
        while frames.len() < BURST {
            let p = gw.next().await;
            if p["t"] == "MESSAGE_CREATE" {
                frames.push(p);
            }
        }
        let seqs: Vec<u64> = frames.iter().map(|f| f["s"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "consecutive sequence numbers: {seqs:?}");
        let mut got: Vec<&str> = frames.iter().map(|f| f["d"]["content"].as_str().unwrap()).collect();
        got.sort_unstable();
        let mut want: Vec<&str> = contents.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(got, want, "every message once, intact");
        received.push(frames);
    }
    let order = |frames: &[Value]| frames.iter().map(|f| f["d"]["id"].clone()).collect::<Vec<_>>();
    for frames in &received[1..] {
        assert_eq!(order(frames), order(&received[0]), "the same order on every transport");
    }

    // The plain client's session, resumed from just before the burst, gets
    // the same frames again, then RESUMED.
    let plain = clients.remove(0);
    let session = plain.session_id.clone().unwrap();
    plain.cut();
    let before = received[0][0]["s"].as_u64().unwrap() - 1;
    let mut gw = app.gateway("").await;
    gw.hello().await;
    gw.send(json!({"op": 6, "d": {"token": bob.token, "session_id": session, "seq": before}})).await;
    let mut replayed = Vec::new();
    loop {
        let p = gw.next().await;
        match p["t"].as_str() {
            Some("MESSAGE_CREATE") => replayed.push(p),
            Some("RESUMED") => break,
            _ => {}
        }
    }
    assert_eq!(replayed, received[0], "a resume replays exactly the frames sent");
}

#[tokio::test]
async fn members_can_be_requested_in_chunks() {
    let app = TestApp::spawn().await;
    let (alice, bob, gid, ch) = two_members(&app).await;
    let carl = app.register("carl").await;
    app.join(&alice, &ch, &carl).await;
    let bot = app.bot(&alice, "Chunker", true).await;
    app.add_bot(&alice, &bot, &gid).await;
    let mut gw = app.gateway("").await;
    gw.identify(&bot.token, GUILDS | GUILD_MEMBERS | GUILD_PRESENCES).await;
    drain(&mut gw, Duration::from_millis(200)).await;
    gw.send(json!({"op": 8, "d": {"guild_id": gid, "query": "", "limit": 0, "nonce": "all"}})).await;
    let chunk = gw.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["nonce"], "all");
    assert_eq!((chunk["d"]["chunk_index"].as_u64(), chunk["d"]["chunk_count"].as_u64()), (Some(0), Some(1)));
    assert_eq!(chunk["d"]["members"].as_array().unwrap().len(), 4);
    gw.send(json!({"op": 8, "d": {"guild_id": gid, "query": "ca", "limit": 10, "nonce": "q"}})).await;
    let chunk = gw.dispatch("GUILD_MEMBERS_CHUNK").await;
    let found: Vec<&str> =
        chunk["d"]["members"].as_array().unwrap().iter().map(|m| m["user"]["username"].as_str().unwrap()).collect();
    assert_eq!(found, ["carl"]);
    gw.send(json!({"op": 8, "d": {"guild_id": gid, "user_ids": [bob.id, "42"], "presences": true, "nonce": "ids"}}))
        .await;
    let chunk = gw.dispatch("GUILD_MEMBERS_CHUNK").await;
    assert_eq!(chunk["d"]["members"][0]["user"]["id"], json!(bob.id));
    assert_eq!(chunk["d"]["not_found"], json!(["42"]));
    assert!(chunk["d"]["presences"].is_array());
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn clients_that_stop_reading_are_cut_loose_and_memory_stays_bounded() {
    use std::io::{BufRead, BufReader};
    // The server runs as its own process so its memory can be read.
    let database_url = common::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::binary(&database_url);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("FUSSIONCORD__GATEWAY__MAX_QUEUE", "32")
        .env("FUSSIONCORD__GATEWAY__RESUME_BUFFER", "64")
        .env("FUSSIONCORD__GATEWAY__SEND_TIMEOUT_MS", "2000")
        // It floods one channel; limits are not what it measures.
        .env("FUSSIONCORD__RATELIMIT__ENABLED", "false")
        .stdout(std::process::Stdio::piped());
    /// Stops the server however the test ends.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Server(cmd.spawn().unwrap());
    let mut banner = String::new();
    BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut banner).unwrap();
    let addr = banner.trim().rsplit("http://").next().unwrap().to_owned();
    let pid = child.0.id();
    let app = TestApp::attach(&addr);

    let (alice, bob, _gid, ch) = two_members(&app).await;
    // Fifty of Bob's sessions that identify and then never read again.
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut gw = app.gateway("").await;
        gw.identify(&bob.token, ALL_INTENTS).await;
        stalled.push(gw);
    }
    let mut reader = app.gateway("").await;
    reader.identify(&alice.token, ALL_INTENTS).await;
    drain(&mut reader, Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    // 2,000 messages of 2,000 four-byte characters: 16 MB of events for
    // each session, more than loopback socket buffers hold, and 800 MB in
    // all if queues grew without bound.
    let text = "🦀".repeat(2000);
    let reading = tokio::spawn(async move {
        let mut got = 0;
        while got < 2000 {
            if reader.dispatch("MESSAGE_CREATE").await["d"]["content"].as_str().map(str::len) == Some(8000) {
                got += 1;
            }
        }
        got
    });
    for _ in 0..2000 {
        app.send(&alice, &ch, &text).await;
    }
    let growth_kib = rss_kib(pid).saturating_sub(before);
    eprintln!("server memory grew by {growth_kib} KiB while 50 clients stalled");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(60), reading).await.unwrap().unwrap(),
        2000,
        "the reader got everything"
    );
    assert!(growth_kib < 100 * 1024, "server memory grew by {growth_kib} KiB with stalled clients");

    // Each stalled client finds its connection closed (4000: resume) after
    // what the socket buffers held, not the whole stream.
    for mut gw in stalled.drain(..3) {
        let mut received = 0;
        let code = loop {
            match gw.next_within(Duration::from_secs(10)).await {
                Some(Received::Payload(p)) if p["t"] == "MESSAGE_CREATE" => received += 1,
                Some(Received::Payload(_)) => {}
                Some(Received::Closed(code)) => break code,
                None => panic!("a stalled client was never cut loose"),
            }
        };
        assert!(received < 2000, "a stalled client was sent all {received} messages");
        assert!(code.is_none() || code == Some(4000), "resumable close, got {code:?}");
    }

    // Operators see it: the slow consumers were counted.
    let metrics = app.client.get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fussioncord_gateway_slow_consumers_dropped_total "))
        .expect("the slow-consumer counter is exposed")
        .parse()
        .unwrap();
    assert!(dropped >= 3.0, "{dropped} slow consumers counted; at least 3 were seen cut loose");
}
