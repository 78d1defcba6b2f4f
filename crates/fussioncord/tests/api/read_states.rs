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
    let unknown =
        app.post(&format!("/channels/{channel}/messages/4242424242424242/ack"), &alice.token, json!({})).await;
    assert_error(&unknown, 404, 10008);
    let bot = app.bot(&alice, "Reader", false).await;
    let by_bot = app.post(&format!("/channels/{channel}/messages/{id}/ack"), &bot.token, json!({})).await;
    assert_error(&by_bot, 403, 20001);
}
