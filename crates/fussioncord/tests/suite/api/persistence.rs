//! Acknowledged writes survive a restart.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn restart_keeps_every_acknowledged_write() {
    let mut app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, ch) = app.guild(&alice, "Durable").await;
    let gid = guild["id"].as_str().unwrap().to_owned();
    app.join(&alice, &ch, &bob).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(app.send(&bob, &ch, &format!("m{i}")).await["id"].as_str().unwrap().to_owned());
    }
    app.patch(&format!("/channels/{ch}/messages/{}", sent[0]), &bob.token, json!({"content": "edited"})).await;
    app.put(&format!("/channels/{ch}/messages/{}/reactions/%F0%9F%91%8D/@me", sent[1]), &alice.token).await;
    app.put(&format!("/channels/{ch}/pins/{}", sent[2]), &alice.token).await;
    let (_, before) = app.get(&format!("/channels/{ch}/messages?limit=100"), &alice.token).await;

    app.restart().await;

    // Tokens, guild, membership, messages, edits, reactions, pins.
    let (status, after) = app.get(&format!("/channels/{ch}/messages?limit=100"), &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before);
    assert_eq!(after.as_array().unwrap().len(), 20);
    let (_, g) = app.get(&format!("/guilds/{gid}"), &bob.token).await;
    assert_eq!(g["name"], "Durable");
    let (_, pins) = app.get(&format!("/channels/{ch}/pins"), &bob.token).await;
    assert_eq!(pins[0]["id"], json!(sent[2]));
    // New ids stay above old ones after a restart.
    let next = app.send(&bob, &ch, "after restart").await;
    assert!(next["id"].as_str().unwrap().parse::<u64>().unwrap() > sent[19].parse::<u64>().unwrap());
}

#[tokio::test]
async fn writes_in_flight_at_shutdown_are_kept() {
    let mut app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (_, ch) = app.guild(&alice, "Busy").await;
    // Writers keep posting while the server shuts down gracefully: every
    // write answered with 200 must be there afterwards; the rest fail to
    // connect, which a client retries.
    let url = format!("{}/channels/{ch}/messages", app.base);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, token) = (url.clone(), alice.token.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut acknowledged = Vec::new();
                for i in 0..200 {
                    let res = client
                        .post(&url)
                        .header("Authorization", &token)
                        .json(&json!({"content": format!("w{w}-{i}")}))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == StatusCode::OK => {
                            let body: serde_json::Value = r.json().await.unwrap();
                            acknowledged.push(body["id"].as_str().unwrap().to_owned());
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.restart().await;
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert!(!acknowledged.is_empty(), "some writes were acknowledged before shutdown");
    let mut stored = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(b) => format!("/channels/{ch}/messages?limit=100&before={b}"),
            None => format!("/channels/{ch}/messages?limit=100"),
        };
        let (_, page) = app.get(&path, &alice.token).await;
        let page: Vec<String> = page.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        if page.is_empty() {
            break;
        }
        before = page.last().cloned();
        stored.extend(page);
    }
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged message {id} lost");
    }
}
