//! Unread state: mentions counted as messages arrive, acknowledgements that
//! clear them and reach the user's other sessions, READY's read states.

use serde_json::json;

use crate::common::ws::ALL_INTENTS;
use crate::common::{assert_error, TestApp};

#[tokio::test]
async fn mentions_count_until_acknowledged_and_every_session_hears_of_it() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, channel) = app.guild(&alice, "Unread").await;
    app.join(&alice, &channel, &bob).await;

    app.send(&alice, &channel, "no mention").await;
    app.send(&alice, &channel, &format!("<@{}> are you there?", bob.id)).await;
    let last = app.send(&alice, &channel, &format!("<@{}> hello?", bob.id)).await;
    let last_id = last["id"].as_str().unwrap().to_owned();

    // A new session learns how often bob was mentioned since he last read.
    let mut phone = app.gateway("").await;
    let ready = phone.identify(&bob.token, ALL_INTENTS).await;
    let entries = ready["read_state"]["entries"].as_array().expect("read_state entries in READY");
    let entry = entries.iter().find(|e| e["id"] == json!(channel)).expect("an entry for the channel");
    assert_eq!(entry["mention_count"], 2, "{entry}");
    assert_eq!(entry["last_message_id"], "0", "nothing read yet");

    // Reading on one device clears the badge on the others.
    let (status, body) =
        app.post(&format!("/channels/{channel}/messages/{last_id}/ack"), &bob.token, json!({ "token": null })).await;
    assert_eq!((status.as_u16(), body), (200, json!({ "token": null })));
    let ack = phone.dispatch("MESSAGE_ACK").await;
    assert_eq!(ack["d"]["channel_id"], json!(channel));
    assert_eq!(ack["d"]["message_id"], json!(last_id));
    assert_eq!(ack["d"]["mention_count"], 0);

    // An older ack does not move the read state back; a manual one does.
    let first_id = {
        let (_, history) = app.get(&format!("/channels/{channel}/messages"), &bob.token).await;
        history.as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_owned()
    };
    app.post(&format!("/channels/{channel}/messages/{first_id}/ack"), &bob.token, json!({})).await;
    assert_eq!(phone.dispatch("MESSAGE_ACK").await["d"]["message_id"], json!(last_id));
    app.post(
        &format!("/channels/{channel}/messages/{first_id}/ack"),
        &bob.token,
        json!({ "manual": true, "mention_count": 1 }),
    )
    .await;
    let manual = phone.dispatch("MESSAGE_ACK").await;
    assert_eq!((manual["d"]["message_id"].clone(), manual["d"]["mention_count"].clone()), (json!(first_id), json!(1)));
    assert_eq!(manual["d"]["manual"], true);

    let mut laptop = app.gateway("").await;
    let ready = laptop.identify(&bob.token, ALL_INTENTS).await;
    let entry = ready["read_state"]["entries"].as_array().unwrap().iter().find(|e| e["id"] == json!(channel)).cloned();
    assert_eq!(entry.unwrap()["last_message_id"], json!(first_id));
}

#[tokio::test]
async fn acks_need_a_visible_channel_and_a_real_message() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let stranger = app.register("stranger").await;
    let (_, channel) = app.guild(&alice, "Private").await;
    let msg = app.send(&alice, &channel, "hello").await;
    let id = msg["id"].as_str().unwrap();

    let outsider = app.post(&format!("/channels/{channel}/messages/{id}/ack"), &stranger.token, json!({})).await;
    assert_error(&outsider, 403, 50001);
    // An id past the channel's last message would mark future messages read.
    let future =
        app.post(&format!("/channels/{channel}/messages/9000000000000000000/ack"), &alice.token, json!({})).await;
    assert_error(&future, 404, 10008);
    // A deleted last message can still be acked: clients ack what they showed.
    let last = app.send(&alice, &channel, "soon gone").await;
    let last_id = last["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/channels/{channel}/messages/{last_id}"), &alice.token).await.0, 204);
    let (status, body) =
        app.post(&format!("/channels/{channel}/messages/{last_id}/ack"), &alice.token, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let mut gw = app.gateway("").await;
    let ready = gw.identify(&alice.token, ALL_INTENTS).await;
    let entry = ready["read_state"]["entries"].as_array().unwrap().iter().find(|e| e["id"] == json!(channel)).cloned();
    assert_eq!(entry.unwrap()["last_message_id"], json!(last_id));
    let bot = app.bot(&alice, "Reader", false).await;
    let by_bot = app.post(&format!("/channels/{channel}/messages/{id}/ack"), &bot.token, json!({})).await;
    assert_error(&by_bot, 403, 20001);
}

/// Mention counts per user and channel, as a new session's READY shows them.
async fn mention_counts(app: &TestApp, token: &str) -> std::collections::BTreeMap<String, i64> {
    let mut gw = app.gateway("").await;
    let ready = gw.identify(token, ALL_INTENTS).await;
    ready["read_state"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["mention_count"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn everyone_and_role_mentions_count_for_those_who_can_see_them() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let dave = app.register("dave").await;
    let (guild, general) = app.guild(&alice, "Mentions").await;
    let gid = guild["id"].as_str().unwrap().to_owned();
    for member in [&bob, &carol, &dave] {
        app.join(&alice, &general, member).await;
    }
    let (status, role) = app.post(&format!("/guilds/{gid}/roles"), &alice.token, json!({ "name": "Crew" })).await;
    assert_eq!(status, 200, "{role}");
    let role = role["id"].as_str().unwrap().to_owned();
    for member in [&bob, &carol] {
        let (status, _) = app.put(&format!("/guilds/{gid}/members/{}/roles/{role}", member.id), &alice.token).await;
        assert_eq!(status, 204);
    }
    // A channel only bob (of the members) may see.
    let (_, secret) = app.post(&format!("/guilds/{gid}/channels"), &alice.token, json!({ "name": "secret" })).await;
    let secret = secret["id"].as_str().unwrap().to_owned();
    for (target, kind, allow, deny) in [(&gid, 0, "0", "1024"), (&bob.id, 1, "1024", "0")] {
        let body = json!({ "type": kind, "allow": allow, "deny": deny });
        let (status, reply) = app
            .call(
                reqwest::Method::PUT,
                &format!("/channels/{secret}/permissions/{target}"),
                Some(&alice.token),
                Some(body),
            )
            .await;
        assert_eq!(status, 204, "{reply}");
    }

    // @here reaches the members connected now: all three are.
    let mut online = Vec::new();
    for member in [&bob, &carol, &dave] {
        let mut gw = app.gateway("").await;
        gw.identify(&member.token, ALL_INTENTS).await;
        online.push(gw);
    }
    app.send(&alice, &general, "@everyone meeting at noon").await;
    app.send(&alice, &general, &format!("<@&{role}> and especially <@{}>", bob.id)).await;
    app.send(&alice, &general, "@here anyone?").await;
    app.send(&alice, &secret, "@everyone in here").await;
    let last_secret = app.send(&alice, &secret, &format!("<@&{role}> in here")).await;
    // Bob mentioning everyone does not count for himself.
    app.send(&bob, &general, "@everyone thanks").await;

    let bob_counts = mention_counts(&app, &bob.token).await;
    assert_eq!(bob_counts.get(&general), Some(&3), "everyone, role+user once, here: {bob_counts:?}");
    assert_eq!(bob_counts.get(&secret), Some(&2), "{bob_counts:?}");
    let carol_counts = mention_counts(&app, &carol.token).await;
    assert_eq!(carol_counts.get(&general), Some(&4), "{carol_counts:?}");
    assert_eq!(carol_counts.get(&secret), None, "a channel carol cannot see counts nothing: {carol_counts:?}");
    let dave_counts = mention_counts(&app, &dave.token).await;
    assert_eq!(dave_counts.get(&general), Some(&3), "not the role's mention: {dave_counts:?}");
    let alice_counts = mention_counts(&app, &alice.token).await;
    assert_eq!(alice_counts.get(&general), Some(&1), "only bob's @everyone: {alice_counts:?}");
    assert_eq!(alice_counts.get(&secret), None, "{alice_counts:?}");

    // Reading clears them.
    let id = last_secret["id"].as_str().unwrap();
    let (status, _) = app.post(&format!("/channels/{secret}/messages/{id}/ack"), &bob.token, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(mention_counts(&app, &bob.token).await.get(&secret), Some(&0));
}
