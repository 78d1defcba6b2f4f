//! `fussioncord messages fill`: a channel filled straight through the
//! store (the way history is measured at ten million messages,
//! docs/PERFORMANCE.md) reads back through the HTTP API like messages sent
//! one by one: every row, in order, paged with `before=`, the channel's
//! `last_message_id` at the newest, and new messages still above them.

use std::path::Path;
use std::process::{Child, Command, Output};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, TestApp, TestUser};

const COUNT: usize = 5_000;

/// `serve` on the data directory, rate limits off: reading 5,000 messages
/// back takes 51 pages from one account.
fn serve(database_url: &Option<String>, data_dir: &Path) -> (Child, String) {
    let mut cmd = common::binary(database_url);
    cmd.env("FUSSIONCORD__RATELIMIT__ENABLED", "false");
    common::serve(cmd, data_dir)
}

/// SIGTERM, and the server's clean exit.
fn stop(mut child: Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "server exited with {exit}");
}

fn fill(database_url: &Option<String>, data_dir: &Path, channel: &str, author: &str, count: usize) -> Output {
    common::binary(database_url)
        .args(["messages", "fill", "--channel", channel, "--author", author, "--count", &count.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("the binary runs")
}

/// Every message of the channel, newest first, read 100 at a time with `before=`.
async fn all_messages(app: &TestApp, user: &TestUser, channel: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let path = match all.last() {
            Some(m) => format!("/channels/{channel}/messages?limit=100&before={}", m["id"].as_str().unwrap()),
            None => format!("/channels/{channel}/messages?limit=100"),
        };
        let (status, page) = app.get(&path, &user.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page.iter().cloned());
    }
}

fn id(m: &Value) -> u64 {
    m["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_filled_channel_reads_back_through_the_api() {
    let database_url = common::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);
    let alice = app.register("alice").await;
    let stranger = app.register("stranger").await;
    let (_, channel) = app.guild(&alice, "Filled").await;
    let sent_before = app.send(&alice, &channel, "sent before the fill").await;
    stop(child);

    // Refused: someone outside the guild, a channel that does not exist.
    let out = fill(&database_url, &data, &channel, &stranger.id, 10);
    assert!(!out.status.success(), "a non-member's messages were filled in");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a member"), "{out:?}");
    let out = fill(&database_url, &data, "12345", &alice.id, 10);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no channel 12345"), "{out:?}");

    let out = fill(&database_url, &data, &channel, &alice.id, COUNT);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "fill failed: {stderr}");
    assert!(stdout.contains(&format!("filled channel {channel} with {COUNT} messages")), "{stdout}");
    assert!(stderr.contains(&format!("fill: {COUNT}/{COUNT} rows (100.0%)")), "no progress shown: {stderr}");

    let (child, addr) = serve(&database_url, &data);
    let app = TestApp::attach(&addr);

    // The first page: the newest filled messages, as the API renders any.
    let (status, page) = app.get(&format!("/channels/{channel}/messages?limit=50"), &alice.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 50);
    for (k, m) in page.iter().enumerate() {
        assert_eq!(m["content"], format!("history filler {}", COUNT - 1 - k));
        assert_eq!(m["author"]["id"], alice.id.as_str());
        assert_eq!(m["channel_id"], channel.as_str());
        assert_eq!(m["type"], 0);
        assert_eq!(m["mentions"], serde_json::json!([]));
    }
    let (status, ch) = app.get(&format!("/channels/{channel}"), &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ch["last_message_id"], page[0]["id"], "the channel's last message is the newest filled");

    // Every message, paged back with before=: the fill in order, newest
    // first, then the one sent before it.
    let all = all_messages(&app, &alice, &channel).await;
    assert_eq!(all.len(), COUNT + 1);
    assert!(all.windows(2).all(|w| id(&w[0]) > id(&w[1])), "ids strictly decrease down the history");
    for (k, m) in all[..COUNT].iter().enumerate() {
        assert_eq!(m["content"], format!("history filler {}", COUNT - 1 - k));
    }
    assert_eq!(all[COUNT]["id"], sent_before["id"], "the message sent before the fill is the oldest");

    // A page in the middle.
    let pivot = &all[COUNT / 2];
    let (status, middle) =
        app.get(&format!("/channels/{channel}/messages?limit=50&before={}", id(pivot)), &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    let middle: Vec<&str> = middle.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    let first = COUNT - 1 - COUNT / 2 - 1;
    let expected: Vec<String> = (first - 49..=first).rev().map(|i| format!("history filler {i}")).collect();
    assert_eq!(middle, expected);

    // The server's own messages still come after the filled ones.
    let sent_after = app.send(&alice, &channel, "sent after the fill").await;
    assert!(id(&sent_after) > id(&all[0]));
    let (_, latest) = app.get(&format!("/channels/{channel}/messages?limit=1"), &alice.token).await;
    assert_eq!(latest[0]["id"], sent_after["id"]);
    stop(child);
}
