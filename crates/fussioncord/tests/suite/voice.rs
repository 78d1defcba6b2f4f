//! Voice state over the main gateway and the API: joining, moving and
//! leaving voice channels with op 4, what VOICE_STATE_UPDATE and
//! VOICE_SERVER_UPDATE reach, who may connect, and moderators' mute, move
//! and disconnect. (The voice connection itself: `voice_media.rs`.)

use crate::common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use common::ws::{Gateway, ALL_INTENTS};
use common::{assert_error, TestApp, TestUser};

const GUILDS: u64 = 1 << 0;
const CONNECT: u64 = 1 << 20;

/// Dispatches until `quiet` passes without one.
async fn drain(gw: &mut Gateway, quiet: Duration) -> Vec<Value> {
    gw.dispatches(quiet).await
}

fn voice_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["t"].as_str().is_some_and(|t| t.starts_with("VOICE_"))).collect()
}

/// The guild's voice channel (every new guild has one, "General").
async fn voice_channel(app: &TestApp, owner: &TestUser, guild: &str) -> String {
    let (status, channels) = app.get(&format!("/guilds/{guild}/channels"), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    channels.as_array().unwrap().iter().find(|c| c["type"] == 2).unwrap()["id"].as_str().unwrap().to_owned()
}

struct Setup {
    alice: TestUser,
    bob: TestUser,
    guild: String,
    text: String,
    voice: String,
}

/// Alice owns a guild Bob is in.
async fn setup(app: &TestApp) -> Setup {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, text) = app.guild(&alice, "Voice").await;
    app.join(&alice, &text, &bob).await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    let voice = voice_channel(app, &alice, &guild).await;
    Setup { alice, bob, guild, text, voice }
}

async fn connect(app: &TestApp, user: &TestUser, intents: u64) -> Gateway {
    let mut gw = app.gateway("").await;
    gw.identify(&user.token, intents).await;
    // Past the GUILD_CREATEs, so what follows is what the test caused.
    drain(&mut gw, Duration::from_millis(200)).await;
    gw
}

async fn op4(gw: &mut Gateway, guild: Value, channel: Value) {
    gw.send(json!({"op": 4, "d": {"guild_id": guild, "channel_id": channel, "self_mute": false, "self_deaf": true}}))
        .await;
}

#[tokio::test]
async fn joining_announces_the_state_then_the_server_and_leaving_announces_null() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;

    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    let got = drain(&mut alice, Duration::from_millis(400)).await;
    let got = voice_events(&got);
    let names: Vec<_> = got.iter().map(|e| e["t"].as_str().unwrap()).collect();
    // discord.js connects on VOICE_SERVER_UPDATE and needs the state first.
    assert_eq!(names, ["VOICE_STATE_UPDATE", "VOICE_SERVER_UPDATE"], "{got:?}");
    let state = &got[0]["d"];
    assert_eq!(state["guild_id"], s.guild.as_str());
    assert_eq!(state["channel_id"], s.voice.as_str());
    assert_eq!(state["user_id"], s.alice.id.as_str());
    assert_eq!(state["session_id"].as_str(), alice.session_id.as_deref());
    assert_eq!((state["self_deaf"].as_bool(), state["self_mute"].as_bool()), (Some(true), Some(false)));
    assert_eq!((state["deaf"].as_bool(), state["mute"].as_bool()), (Some(false), Some(false)));
    assert_eq!(state["member"]["user"]["id"], s.alice.id.as_str(), "discord.js builds the member from it");
    assert!(state["member"]["joined_at"].is_string());
    let server = &got[1]["d"];
    assert_eq!(server["guild_id"], s.guild.as_str());
    assert!(server["token"].as_str().is_some_and(|t| t.len() >= 16), "{server}");
    assert!(server.get("endpoint").is_some(), "endpoint is present (null without a voice server)");

    // Bob sees the state, never Alice's voice server.
    let seen = drain(&mut bob, Duration::from_millis(300)).await;
    let seen = voice_events(&seen);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["t"], "VOICE_STATE_UPDATE");
    assert_eq!(seen[0]["d"]["user_id"], s.alice.id.as_str());

    // The API and a new session's GUILD_CREATE know it too.
    let (status, mine) = app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["channel_id"], s.voice.as_str());
    let (status, hers) = app.get(&format!("/guilds/{}/voice-states/{}", s.guild, s.alice.id), &s.bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hers["user_id"], s.alice.id.as_str());
    let mut late = app.gateway("").await;
    late.identify(&s.bob.token, ALL_INTENTS).await;
    let created = late.dispatch("GUILD_CREATE").await;
    let states = created["d"]["voice_states"].as_array().unwrap();
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0]["user_id"], s.alice.id.as_str());
    assert_eq!(states[0]["channel_id"], s.voice.as_str());

    // A mute is no new connection; the same request again is a client
    // rejoining after its voice connection dropped: it gets the server again.
    alice
        .send(json!({"op": 4, "d": {"guild_id": s.guild, "channel_id": s.voice, "self_mute": true, "self_deaf": true}}))
        .await;
    let got = drain(&mut alice, Duration::from_millis(300)).await;
    let names: Vec<_> = voice_events(&got).iter().map(|e| e["t"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["VOICE_STATE_UPDATE"], "{got:?}");
    alice
        .send(json!({"op": 4, "d": {"guild_id": s.guild, "channel_id": s.voice, "self_mute": true, "self_deaf": true}}))
        .await;
    let got = drain(&mut alice, Duration::from_millis(300)).await;
    let again = voice_events(&got);
    let names: Vec<_> = again.iter().map(|e| e["t"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["VOICE_STATE_UPDATE", "VOICE_SERVER_UPDATE"], "{got:?}");
    assert_eq!(again[1]["d"]["token"], server["token"], "the same session keeps its token");
    drain(&mut bob, Duration::from_millis(100)).await;

    // Leaving: channel_id null, to Alice (discord.py waits for it) and Bob.
    op4(&mut alice, json!(s.guild), Value::Null).await;
    for gw in [&mut alice, &mut bob] {
        let got = drain(gw, Duration::from_millis(300)).await;
        let got = voice_events(&got);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["t"], "VOICE_STATE_UPDATE");
        assert!(got[0]["d"]["channel_id"].is_null());
        assert_eq!(got[0]["d"]["user_id"], s.alice.id.as_str());
    }
    let gone = app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.alice.token).await;
    assert_error(&gone, 404, 10065);
}

#[tokio::test]
async fn ids_may_come_as_numbers_and_the_intent_gates_others_states() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let bot = app.bot(&s.alice, "music", false).await;
    app.add_bot(&s.alice, &bot, &s.guild).await;
    // Without GUILD_VOICE_STATES: no one's voice states, but its own server.
    let mut quiet_bot = connect(&app, &bot, GUILDS).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    // discord.py sends the ids as JSON numbers.
    let guild: u64 = s.guild.parse().unwrap();
    let voice: u64 = s.voice.parse().unwrap();
    op4(&mut quiet_bot, json!(guild), json!(voice)).await;
    let got = drain(&mut quiet_bot, Duration::from_millis(400)).await;
    let names: Vec<_> = voice_events(&got).iter().map(|e| e["t"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["VOICE_SERVER_UPDATE"]);
    let seen = drain(&mut alice, Duration::from_millis(200)).await;
    assert_eq!(voice_events(&seen).len(), 1, "people get every state: {seen:?}");
    // Alice joins: the bot without the intent hears nothing of it.
    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    drain(&mut alice, Duration::from_millis(300)).await;
    let got = drain(&mut quiet_bot, Duration::from_millis(300)).await;
    assert!(voice_events(&got).is_empty(), "{got:?}");
    let (status, states) = app.get(&format!("/guilds/{}/voice-states/{}", s.guild, bot.id), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK, "{states}");
}

#[tokio::test]
async fn refused_joins_change_nothing() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    // A text channel is not a voice channel.
    op4(&mut bob, json!(s.guild), json!(s.text)).await;
    // No CONNECT for @everyone in the voice channel.
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{}/permissions/{}", s.voice, s.guild),
            Some(&s.alice.token),
            Some(json!({"type": 0, "allow": "0", "deny": CONNECT.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    drain(&mut bob, Duration::from_millis(200)).await;
    op4(&mut bob, json!(s.guild), json!(s.voice)).await;
    // A guild that is not Bob's, and a channel id that is nobody's.
    let other = app.register("carol").await;
    let (other_guild, _) = app.guild(&other, "Elsewhere").await;
    let other_voice = voice_channel(&app, &other, other_guild["id"].as_str().unwrap()).await;
    op4(&mut bob, other_guild["id"].clone(), json!(other_voice)).await;
    op4(&mut bob, json!(s.guild), json!("123456789012345678")).await;
    // Malformed ids close as a decode error would; first, bob is still here.
    let got = drain(&mut bob, Duration::from_millis(400)).await;
    assert!(voice_events(&got).is_empty(), "{got:?}");
    let got = drain(&mut alice, Duration::from_millis(100)).await;
    assert!(voice_events(&got).is_empty(), "{got:?}");
    assert_error(&app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.bob.token).await, 404, 10065);
    // The owner may connect whatever the overwrite says.
    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    let got = drain(&mut alice, Duration::from_millis(300)).await;
    assert_eq!(voice_events(&got).len(), 2, "{got:?}");
    bob.send(json!({"op": 4, "d": {"guild_id": "not a snowflake", "channel_id": null}})).await;
    assert_eq!(bob.closed().await, Some(4002));
}

#[tokio::test]
async fn a_full_channel_admits_only_those_who_may_move_members() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let carol = app.register("carol").await;
    app.join(&s.alice, &s.text, &carol).await;
    let (status, body) = app.patch(&format!("/channels/{}", s.voice), &s.alice.token, json!({"user_limit": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    let mut carol_gw = connect(&app, &carol, ALL_INTENTS).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    op4(&mut bob, json!(s.guild), json!(s.voice)).await;
    assert_eq!(voice_events(&drain(&mut bob, Duration::from_millis(300)).await).len(), 2);
    op4(&mut carol_gw, json!(s.guild), json!(s.voice)).await;
    let got = drain(&mut carol_gw, Duration::from_millis(300)).await;
    assert_eq!(voice_events(&got).len(), 1, "only Bob's join reached Carol: {got:?}");
    // The owner (MOVE_MEMBERS) goes past the limit.
    drain(&mut alice, Duration::from_millis(100)).await;
    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    let got = drain(&mut alice, Duration::from_millis(300)).await;
    assert_eq!(voice_events(&got).len(), 2, "{got:?}");
    let (status, states) = app.get(&format!("/guilds/{}/voice-states/{}", s.guild, carol.id), &s.alice.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{states}");
}

#[tokio::test]
async fn a_person_is_in_one_voice_channel_on_the_whole_server() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (second, _) = app.guild(&s.alice, "Second").await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second_voice = voice_channel(&app, &s.alice, &second_id).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    drain(&mut alice, Duration::from_millis(300)).await;
    drain(&mut bob, Duration::from_millis(100)).await;
    op4(&mut alice, json!(second_id), json!(second_voice)).await;
    // Bob (only in the first guild) sees Alice leave it.
    let seen = drain(&mut bob, Duration::from_millis(300)).await;
    let seen = voice_events(&seen);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0]["d"]["channel_id"].is_null());
    assert_error(&app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.alice.token).await, 404, 10065);
    let (status, now) = app.get(&format!("/guilds/{second_id}/voice-states/@me"), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["channel_id"], second_voice.as_str());
}

#[tokio::test]
async fn moderators_mute_move_and_disconnect_with_audit_entries() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (status, second) =
        app.post(&format!("/guilds/{}/channels", s.guild), &s.alice.token, json!({"name": "Lounge", "type": 2})).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let lounge = second["id"].as_str().unwrap().to_owned();
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    let member = format!("/guilds/{}/members/{}", s.guild, s.bob.id);

    // Not in voice yet: moving answers 40032, muting is only stored.
    assert_error(&app.patch(&member, &s.alice.token, json!({"channel_id": lounge})).await, 400, 40032);
    op4(&mut bob, json!(s.guild), json!(s.voice)).await;
    drain(&mut bob, Duration::from_millis(300)).await;

    // Bob may not move himself or others: MOVE_MEMBERS.
    assert_error(&app.patch(&member, &s.bob.token, json!({"channel_id": lounge})).await, 403, 50013);

    let (status, body) = app.patch(&member, &s.alice.token, json!({"mute": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = drain(&mut bob, Duration::from_millis(300)).await;
    let state = voice_events(&got).into_iter().find(|e| e["t"] == "VOICE_STATE_UPDATE").expect("a state update");
    assert_eq!(state["d"]["mute"], true);
    assert_eq!(state["d"]["channel_id"], s.voice.as_str());

    let (status, body) = app.patch(&member, &s.alice.token, json!({"channel_id": lounge})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = drain(&mut bob, Duration::from_millis(300)).await;
    let got = voice_events(&got);
    assert_eq!(got.len(), 1, "a move keeps the voice connection: {got:?}");
    assert_eq!(got[0]["d"]["channel_id"], lounge.as_str());
    assert_eq!(got[0]["d"]["mute"], true, "a server mute follows the member");

    let (status, body) = app.patch(&member, &s.alice.token, json!({"channel_id": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got = drain(&mut bob, Duration::from_millis(300)).await;
    let got = voice_events(&got);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0]["d"]["channel_id"].is_null());

    let (status, log) = app.get(&format!("/guilds/{}/audit-logs", s.guild), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<u64> =
        log["audit_log_entries"].as_array().unwrap().iter().map(|e| e["action_type"].as_u64().unwrap()).collect();
    assert!(kinds.contains(&26) && kinds.contains(&27), "MEMBER_MOVE and MEMBER_DISCONNECT: {kinds:?}");
    let moved = log["audit_log_entries"].as_array().unwrap().iter().find(|e| e["action_type"] == 26).unwrap();
    assert_eq!(moved["options"]["channel_id"], lounge.as_str());
}

#[tokio::test]
async fn a_move_needs_connect_for_the_member_too() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (_, second) =
        app.post(&format!("/guilds/{}/channels", s.guild), &s.alice.token, json!({"name": "Staff", "type": 2})).await;
    let staff = second["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{staff}/permissions/{}", s.bob.id),
            Some(&s.alice.token),
            Some(json!({"type": 1, "allow": "0", "deny": CONNECT.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    op4(&mut bob, json!(s.guild), json!(s.voice)).await;
    drain(&mut bob, Duration::from_millis(300)).await;
    let member = format!("/guilds/{}/members/{}", s.guild, s.bob.id);
    assert_error(&app.patch(&member, &s.alice.token, json!({"channel_id": staff})).await, 403, 50013);
    assert_error(&app.patch(&member, &s.alice.token, json!({"channel_id": s.text})).await, 400, 50024);
    let (status, now) = app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["channel_id"], s.voice.as_str(), "a refused move changes nothing");
}

#[tokio::test]
async fn kicks_deleted_channels_and_ended_sessions_disconnect() {
    let app = TestApp::spawn_with(|c| c.gateway.resume_window_ms = 200).await;
    let s = setup(&app).await;
    let carol = app.register("carol").await;
    app.join(&s.alice, &s.text, &carol).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    let mut carol_gw = connect(&app, &carol, ALL_INTENTS).await;
    for gw in [&mut bob, &mut carol_gw] {
        op4(gw, json!(s.guild), json!(s.voice)).await;
    }
    drain(&mut alice, Duration::from_millis(400)).await;

    // A kick ends Bob's voice state.
    let (status, _) = app.delete(&format!("/guilds/{}/members/{}", s.guild, s.bob.id), &s.alice.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = drain(&mut alice, Duration::from_millis(400)).await;
    let left: Vec<_> = voice_events(&got).into_iter().filter(|e| e["d"]["channel_id"].is_null()).collect();
    assert_eq!(left.len(), 1, "{got:?}");
    assert_eq!(left[0]["d"]["user_id"], s.bob.id.as_str());

    // Carol's session ends for good (cut, then past the resume window).
    carol_gw.cut();
    let got = drain(&mut alice, Duration::from_millis(1500)).await;
    let left: Vec<_> = voice_events(&got).into_iter().filter(|e| e["d"]["channel_id"].is_null()).collect();
    assert_eq!(left.len(), 1, "{got:?}");
    assert_eq!(left[0]["d"]["user_id"], carol.id.as_str());

    // Deleting the channel disconnects whoever is in it.
    op4(&mut alice, json!(s.guild), json!(s.voice)).await;
    drain(&mut alice, Duration::from_millis(300)).await;
    let (status, _) = app.delete(&format!("/channels/{}", s.voice), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK);
    let got = drain(&mut alice, Duration::from_millis(400)).await;
    let left: Vec<_> = voice_events(&got).into_iter().filter(|e| e["d"]["channel_id"].is_null()).collect();
    assert_eq!(left.len(), 1, "{got:?}");
    assert_error(&app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.alice.token).await, 404, 10065);
}

#[tokio::test]
async fn voice_regions_are_listed() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (status, regions) = app.get("/voice/regions", &s.bob.token).await;
    assert_eq!(status, StatusCode::OK);
    let regions = regions.as_array().unwrap();
    assert_eq!(regions.len(), 1);
    assert_eq!(regions[0]["optimal"], true);
    let (status, same) = app.get(&format!("/guilds/{}/regions", s.guild), &s.bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same.as_array().unwrap().len(), 1);
    let (status, _) = app.get("/voice/regions", "nobody").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn losing_connect_disconnects_and_a_server_mute_by_role_change_is_announced() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let mut bob = connect(&app, &s.bob, ALL_INTENTS).await;
    let mut alice = connect(&app, &s.alice, ALL_INTENTS).await;
    op4(&mut bob, json!(s.guild), json!(s.voice)).await;
    drain(&mut bob, Duration::from_millis(300)).await;
    drain(&mut alice, Duration::from_millis(100)).await;
    // An overwrite that only denies SPEAK keeps him connected.
    let overwrite = format!("/channels/{}/permissions/{}", s.voice, s.bob.id);
    let put = |deny: u64| {
        app.call(
            reqwest::Method::PUT,
            &overwrite,
            Some(&s.alice.token),
            Some(json!({"type": 1, "allow": "0", "deny": deny.to_string()})),
        )
    };
    assert_eq!(put(1 << 21).await.0, StatusCode::NO_CONTENT);
    let got = drain(&mut alice, Duration::from_millis(400)).await;
    assert!(voice_events(&got).iter().all(|e| !e["d"]["channel_id"].is_null()), "{got:?}");
    let (status, _) = app.get(&format!("/guilds/{}/voice-states/{}", s.guild, s.bob.id), &s.alice.token).await;
    assert_eq!(status, StatusCode::OK);
    // Denying CONNECT disconnects him at once.
    assert_eq!(put(CONNECT).await.0, StatusCode::NO_CONTENT);
    let got = drain(&mut alice, Duration::from_millis(400)).await;
    let left: Vec<_> = voice_events(&got).into_iter().filter(|e| e["d"]["channel_id"].is_null()).collect();
    assert_eq!(left.len(), 1, "{got:?}");
    assert_eq!(left[0]["d"]["user_id"], s.bob.id.as_str());
    let got = drain(&mut bob, Duration::from_millis(100)).await;
    assert!(voice_events(&got).iter().any(|e| e["d"]["channel_id"].is_null()), "Bob is told too: {got:?}");
    assert_error(&app.get(&format!("/guilds/{}/voice-states/@me", s.guild), &s.bob.token).await, 404, 10065);
}
