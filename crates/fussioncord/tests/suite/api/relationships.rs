//! Friends, friend requests and blocks over HTTP, with the events each side
//! receives and what a block stops.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::ws::ALL_INTENTS;
use crate::common::{assert_error, TestApp, TestUser};

async fn relationships(app: &TestApp, user: &TestUser) -> Vec<(String, u64)> {
    let (status, list) = app.get("/users/@me/relationships", &user.token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["id"], r["user"]["id"], "{r}");
            assert!(r["since"].is_string(), "{r}");
            (r["user"]["username"].as_str().unwrap().to_owned(), r["type"].as_u64().unwrap())
        })
        .collect()
}

async fn put(app: &TestApp, user: &TestUser, other: &TestUser, body: Value) -> (StatusCode, Value) {
    app.call(Method::PUT, &format!("/users/@me/relationships/{}", other.id), Some(&user.token), Some(body)).await
}

#[tokio::test]
async fn a_friend_request_is_sent_accepted_and_ended_with_events_on_both_sides() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut alice_gw = app.gateway("").await;
    alice_gw.identify(&alice.token, ALL_INTENTS).await;
    let mut bob_gw = app.gateway("").await;
    bob_gw.identify(&bob.token, ALL_INTENTS).await;

    // By username, as the client's "Add Friend" box does.
    let (status, body) = app.post("/users/@me/relationships", &alice.token, json!({ "username": "Bob" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(relationships(&app, &alice).await, [("bob".to_owned(), 4)]);
    assert_eq!(relationships(&app, &bob).await, [("alice".to_owned(), 3)]);
    let incoming = bob_gw.dispatch("RELATIONSHIP_ADD").await;
    assert_eq!((incoming["d"]["type"].clone(), incoming["d"]["user"]["id"].clone()), (json!(3), json!(alice.id)));
    assert_eq!(alice_gw.dispatch("RELATIONSHIP_ADD").await["d"]["type"], 4);

    // Accepting is a PUT on the requester.
    let (status, _) = put(&app, &bob, &alice, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(relationships(&app, &alice).await, [("bob".to_owned(), 1)]);
    assert_eq!(relationships(&app, &bob).await, [("alice".to_owned(), 1)]);
    assert_eq!(alice_gw.dispatch("RELATIONSHIP_ADD").await["d"]["type"], 1);
    assert_eq!(bob_gw.dispatch("RELATIONSHIP_ADD").await["d"]["type"], 1);

    // A new session learns its friends in READY.
    let mut again = app.gateway("").await;
    let ready = again.identify(&bob.token, ALL_INTENTS).await;
    assert_eq!(ready["relationships"][0]["id"], json!(alice.id), "{ready}");
    assert_eq!(ready["relationships"][0]["type"], 1);

    // Unfriending removes both sides.
    let (status, _) = app.delete(&format!("/users/@me/relationships/{}", bob.id), &alice.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(relationships(&app, &alice).await.is_empty());
    assert!(relationships(&app, &bob).await.is_empty());
    let removed = bob_gw.dispatch("RELATIONSHIP_REMOVE").await;
    assert_eq!(removed["d"]["id"], json!(alice.id));
    assert_eq!(alice_gw.dispatch("RELATIONSHIP_REMOVE").await["d"]["id"], json!(bob.id));
}

#[tokio::test]
async fn a_block_ends_the_friendship_and_stops_requests_and_direct_messages() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    // Guildmates, so the block is all that stands between them.
    let (_, general) = app.guild(&alice, "Common ground").await;
    app.join(&alice, &general, &bob).await;
    let (_, dm) = app.post("/users/@me/channels", &alice.token, json!({ "recipient_id": bob.id })).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    app.send(&alice, &dm, "hello before").await;
    put(&app, &alice, &bob, json!({})).await;
    put(&app, &bob, &alice, json!({})).await;
    assert_eq!(relationships(&app, &alice).await, [("bob".to_owned(), 1)]);

    let (status, _) = put(&app, &bob, &alice, json!({ "type": 2 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(relationships(&app, &bob).await, [("alice".to_owned(), 2)]);
    assert!(relationships(&app, &alice).await.is_empty(), "the blocked side sees nothing");

    // Neither a friend request nor a direct message gets through, either way.
    let request = put(&app, &alice, &bob, json!({})).await;
    assert_error(&request, 400, 80000);
    let by_name = app.post("/users/@me/relationships", &alice.token, json!({ "username": "bob" })).await;
    assert_error(&by_name, 400, 80000);
    for from in [&alice, &bob] {
        let sent = app.post(&format!("/channels/{dm}/messages"), &from.token, json!({ "content": "hi" })).await;
        assert_error(&sent, 400, 50007);
    }
    let (_, history) = app.get(&format!("/channels/{dm}/messages"), &bob.token).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "nothing was stored");

    // Unblocking lets them talk again, as guildmates.
    let (status, _) = app.delete(&format!("/users/@me/relationships/{}", alice.id), &bob.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(relationships(&app, &bob).await.is_empty());
    app.send(&alice, &dm, "hello after").await;
}

#[tokio::test]
async fn requests_that_cannot_be_are_refused_with_discords_codes() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bot = app.bot(&alice, "Helper", false).await;

    let unknown = app.post("/users/@me/relationships", &alice.token, json!({ "username": "nobody_here" })).await;
    assert_error(&unknown, 400, 80004);
    assert_error(&put(&app, &alice, &alice, json!({})).await, 400, 80000);
    assert_error(&put(&app, &alice, &bot, json!({})).await, 400, 80000);
    let missing =
        app.call(Method::PUT, "/users/@me/relationships/4242424242424242", Some(&alice.token), Some(json!({}))).await;
    assert_error(&missing, 404, 10013);
    let (status, body) = app.get("/users/@me/relationships", &bot.token).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::FORBIDDEN, json!(20001)), "bots have no friends");
    assert!(relationships(&app, &alice).await.is_empty());
}

/// In a shared guild, a blocked user's messages still reach the blocker, as
/// on Discord: the client hides them, knowing whom it blocked from READY's
/// relationships and RELATIONSHIP_ADD (type 2), and the author's id is on
/// every message. Nothing is added to messages, so bots see Discord's shape.
#[tokio::test]
async fn blocked_users_messages_in_a_shared_guild_still_arrive_and_the_client_knows_the_block() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, channel) = app.guild(&alice, "Shared").await;
    app.join(&alice, &channel, &bob).await;
    let mut phone = app.gateway("").await;
    phone.identify(&alice.token, ALL_INTENTS).await;

    let (status, _) = put(&app, &alice, &bob, json!({ "type": 2 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let added = phone.dispatch("RELATIONSHIP_ADD").await["d"].clone();
    assert_eq!((added["id"].clone(), added["type"].clone()), (json!(bob.id), json!(2)));
    let mut laptop = app.gateway("").await;
    let ready = laptop.identify(&alice.token, ALL_INTENTS).await;
    let blocks: Vec<_> = ready["relationships"].as_array().unwrap().iter().filter(|r| r["type"] == 2).collect();
    assert_eq!(blocks.len(), 1, "{ready}");
    assert_eq!(blocks[0]["id"], json!(bob.id));

    let sent = app.send(&bob, &channel, "can you hear me?").await;
    for gw in [&mut phone, &mut laptop] {
        let created = gw.dispatch("MESSAGE_CREATE").await["d"].clone();
        assert_eq!((created["id"].clone(), created["author"]["id"].clone()), (sent["id"].clone(), json!(bob.id)));
        assert_eq!(created["content"], "can you hear me?");
    }
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &alice.token).await;
    let seen = &history.as_array().unwrap()[0];
    assert_eq!(seen["id"], sent["id"]);
    let keys: std::collections::BTreeSet<_> = seen.as_object().unwrap().keys().collect();
    let bobs_keys: std::collections::BTreeSet<_> = sent.as_object().unwrap().keys().collect();
    assert_eq!(keys, bobs_keys, "the blocker's copy has no extra fields");
}

/// What a person's client needs after a reload: its DM channels (READY and
/// `GET /users/@me/channels`) and which friends are online, even friends it
/// shares no guild with.
#[tokio::test]
async fn ready_carries_dm_channels_and_friends_presences() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    // Bob and Carol (offline) become friends; Dave stays a stranger; nobody
    // shares a guild.
    app.post("/users/@me/relationships", &alice.token, json!({ "username": "bob" })).await;
    assert_eq!(put(&app, &bob, &alice, json!({})).await.0, StatusCode::NO_CONTENT);
    app.befriend(&alice, &carol).await;
    let mut bob_gw = app.gateway("").await;
    bob_gw.identify(&bob.token, ALL_INTENTS).await;
    let mut dave_gw = app.gateway("").await;
    dave_gw.identify(&dave.token, ALL_INTENTS).await;

    let (_, first) = app.post("/users/@me/channels", &alice.token, json!({ "recipient_id": carol.id })).await;
    let (_, second) = app.post("/users/@me/channels", &alice.token, json!({ "recipient_id": bob.id })).await;
    app.send(&alice, first["id"].as_str().unwrap(), "carol first, but she answers later").await;
    app.send(&alice, second["id"].as_str().unwrap(), "hi bob").await;
    app.send(&carol, first["id"].as_str().unwrap(), "latest").await;

    let (status, listed) = app.get("/users/@me/channels", &alice.token).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let ids: Vec<&Value> = listed.as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, [&first["id"], &second["id"]], "most recently active first");
    assert_eq!(listed[0]["type"], 1);
    assert_eq!(listed[0]["recipients"][0]["id"], json!(carol.id));
    assert_eq!(listed[1]["recipients"][0]["id"], json!(bob.id));
    let (_, for_dave) = app.get("/users/@me/channels", &dave.token).await;
    assert_eq!(for_dave, json!([]));

    let mut alice_gw = app.gateway("").await;
    let ready = alice_gw.identify(&alice.token, ALL_INTENTS).await;
    assert_eq!(ready["private_channels"], listed);
    let online: Vec<&str> =
        ready["presences"].as_array().unwrap().iter().map(|p| p["user"]["id"].as_str().unwrap()).collect();
    assert_eq!(online, [bob.id.as_str()], "friends only, not Dave: {}", ready["presences"]);
    assert_eq!(ready["presences"][0]["status"], "online");
    assert!(ready["presences"][0].get("guild_id").is_none_or(Value::is_null));

    let bot = app.bot(&alice, "Helper", false).await;
    assert_error(&app.get("/users/@me/channels", &bot.token).await, 403, 20001);
}

/// Presence updates (without a guild id) of everything a gateway connection
/// receives within `quiet`.
async fn friend_presences(gw: &mut crate::common::ws::Gateway) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    while let Some(crate::common::ws::Received::Payload(p)) =
        gw.next_within(std::time::Duration::from_millis(400)).await
    {
        if p["t"] == "PRESENCE_UPDATE" && p["d"].get("guild_id").is_none_or(Value::is_null) {
            seen.push((
                p["d"]["user"]["id"].as_str().unwrap().to_owned(),
                p["d"]["status"].as_str().unwrap().to_owned(),
            ));
        }
    }
    seen
}

/// Friends hear each other's presence though they share no guild: at once
/// when they become friends, then on every change, and no more once unfriended.
#[tokio::test]
async fn friends_who_share_no_guild_see_each_others_presence_live() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut alice_gw = app.gateway("").await;
    alice_gw.identify(&alice.token, ALL_INTENTS).await;
    let mut bob_gw = app.gateway("").await;
    bob_gw.identify(&bob.token, ALL_INTENTS).await;

    app.post("/users/@me/relationships", &alice.token, json!({ "username": "bob" })).await;
    assert!(friend_presences(&mut alice_gw).await.is_empty(), "a request is not a friendship");
    assert_eq!(put(&app, &bob, &alice, json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(friend_presences(&mut alice_gw).await, [(bob.id.clone(), "online".to_owned())]);
    assert_eq!(friend_presences(&mut bob_gw).await, [(alice.id.clone(), "online".to_owned())]);

    let (status, body) = app.patch("/users/@me/settings", &bob.token, json!({ "status": "dnd" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(friend_presences(&mut alice_gw).await, [(bob.id.clone(), "dnd".to_owned())]);
    app.patch("/users/@me/settings", &bob.token, json!({ "status": "invisible" })).await;
    assert_eq!(friend_presences(&mut alice_gw).await, [(bob.id.clone(), "offline".to_owned())]);

    let (status, _) =
        app.call(Method::DELETE, &format!("/users/@me/relationships/{}", bob.id), Some(&alice.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    friend_presences(&mut alice_gw).await;
    app.patch("/users/@me/settings", &bob.token, json!({ "status": "online" })).await;
    assert!(friend_presences(&mut alice_gw).await.is_empty(), "no longer friends");
}
