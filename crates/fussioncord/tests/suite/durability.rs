//! Acknowledged writes are never lost: message creates committed in groups
//! (SQLite's one writer, one fsync for many) are answered only once on
//! disk, so a server killed with SIGKILL in the middle of a burst comes back
//! with every message it acknowledged; and a burst of concurrent creates
//! shares its commits.

use std::process::Child;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{self, TestApp};

/// `serve` on the data directory (rate limits off: one address sends the
/// burst), and the address it printed.
fn serve(database_url: &Option<String>, data_dir: &std::path::Path) -> (Child, String) {
    let mut cmd = common::binary(database_url);
    cmd.env("FUSSIONCORD__RATELIMIT__ENABLED", "false");
    common::serve(cmd, data_dir)
}

#[tokio::test]
async fn every_acknowledged_message_survives_sigkill_in_a_burst() {
    let database_url = common::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);
    let alice = app.register("alice").await;
    let (_, channel) = app.guild(&alice, "Durable").await;

    // 400 creates from 16 tasks at once; the server dies half-way.
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v10/channels/{channel}/messages");
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (client, url, token, acked) = (client.clone(), url.clone(), alice.token.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let sent = client
                    .post(&url)
                    .header("Authorization", &token)
                    .json(&json!({ "content": format!("burst {t}/{i}") }))
                    .send()
                    .await;
                let Ok(res) = sent else { return };
                if res.status() != StatusCode::OK {
                    return;
                }
                let Ok(body) = res.json::<Value>().await else { return };
                acked.lock().unwrap().push(body["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    while acked.lock().unwrap().len() < 150 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150 && acked.len() < 400, "the kill came mid-burst: {} acknowledged", acked.len());

    let (mut child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);
    let mut stored = std::collections::HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(b) => format!("/channels/{channel}/messages?limit=100&before={b}"),
            None => format!("/channels/{channel}/messages?limit=100"),
        };
        let (status, page) = app.get(&path, &alice.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        before = page.last().and_then(|m| m["id"].as_str()).map(str::to_owned);
        stored.extend(page.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
    }
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost: {lost:?}", lost.len());
    let _ = child.kill();
    let _ = child.wait();
}

/// `fussioncord_store_calls_total{op="transaction"}`.
async fn transactions(app: &TestApp) -> f64 {
    let res = app.client.get(format!("http://{}/metrics", app.addr())).send().await.unwrap();
    res.text()
        .await
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("fussioncord_store_calls_total{") && l.contains("op=\"transaction\""))
        .map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap())
        .sum()
}

#[tokio::test]
async fn concurrent_creates_share_their_commits_and_each_is_answered_once_stored() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (_, channel) = app.guild(&alice, "Grouped").await;
    let before = transactions(&app).await;
    let sends = (0..200).map(|i| {
        let (app, alice, channel) = (&app, &alice, &channel);
        async move {
            app.post(&format!("/channels/{channel}/messages"), &alice.token, json!({ "content": format!("m{i}") }))
                .await
        }
    });
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));
    let used = transactions(&app).await - before;
    assert!(used < 200.0, "200 concurrent creates took {used} transactions: none were grouped");
    // Every answered message is there, once, in id order.
    let ids: Vec<String> =
        newest_200(&app, &alice.token, &channel).await.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    let mut answered: Vec<String> = answers.iter().map(|(_, b)| b["id"].as_str().unwrap().to_owned()).collect();
    answered.sort_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    let mut stored = ids.clone();
    stored.truncate(200);
    assert_eq!(stored.len(), 200);
    let mut stored_sorted = stored.clone();
    stored_sorted.sort_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    assert_eq!(stored, stored_sorted, "history comes newest first");
    assert_eq!(stored, answered, "exactly the answered messages are stored");
}

/// Retries with an enforced nonce in the same burst as plain creates: the
/// grouped writer writes them in their turn, so the nonce names one message
/// however many of its retries share a transaction, and every plain create
/// is stored once.
#[tokio::test]
async fn retries_with_one_nonce_in_a_burst_make_one_message() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (_, channel) = app.guild(&alice, "Retries").await;
    let sends = (0..120).map(|i| {
        let (app, alice, channel) = (&app, &alice, &channel);
        let body = if i % 3 == 0 {
            json!({ "content": "retried", "nonce": "same-nonce", "enforce_nonce": true })
        } else {
            json!({ "content": format!("plain {i}") })
        };
        async move { app.post(&format!("/channels/{channel}/messages"), &alice.token, body).await }
    });
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK), "{answers:?}");
    let retried: std::collections::HashSet<&str> =
        answers.iter().filter(|(_, b)| b["content"] == "retried").map(|(_, b)| b["id"].as_str().unwrap()).collect();
    assert_eq!(retried.len(), 1, "40 retries with one nonce answered {} different messages", retried.len());
    let stored = newest_200(&app, &alice.token, &channel).await;
    assert_eq!(stored.iter().filter(|m| m["content"] == "retried").count(), 1);
    assert_eq!(stored.iter().filter(|m| m["content"].as_str().unwrap().starts_with("plain ")).count(), 80);
    // The channel's last message is the newest stored, whatever order the
    // burst was written in.
    let (_, ch) = app.get(&format!("/channels/{channel}"), &alice.token).await;
    assert_eq!(ch["last_message_id"], stored[0]["id"]);
}

/// The channel's newest 200 messages (or fewer), newest first: two pages.
async fn newest_200(app: &TestApp, token: &str, channel: &str) -> Vec<Value> {
    let (_, page) = app.get(&format!("/channels/{channel}/messages?limit=100"), token).await;
    let mut out = page.as_array().unwrap().clone();
    if let Some(last) = out.last().map(|m| m["id"].as_str().unwrap().to_owned()) {
        let (_, older) = app.get(&format!("/channels/{channel}/messages?limit=100&before={last}"), token).await;
        out.extend(older.as_array().unwrap().iter().cloned());
    }
    out
}
