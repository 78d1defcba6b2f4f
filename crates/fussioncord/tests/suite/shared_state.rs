//! State that must agree across nodes (issue 19): AutoMod's spam windows,
//! kept in Redis when the rate limiter's Redis is configured, so a flood
//! spread over two nodes is caught; and the login throttle, kept in the
//! shared database, so failures on one node throttle logins on another.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, fresh_postgres, TestApp, TestUser};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two nodes on one fresh PostgreSQL database; with `redis`, sharing a
/// Redis under a prefix of their own.
async fn two_nodes(redis: bool, tune: fn(&mut server::Config)) -> (TestApp, TestApp) {
    let db = fresh_postgres().await;
    let prefix = format!("fc-shared-{:x}:", rand::random::<u64>());
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (db, prefix) = (db.clone(), prefix.clone());
        nodes.push(
            TestApp::spawn_with(move |c| {
                c.database.url = Some(db);
                if redis {
                    c.ratelimit.backend = ratelimit::Backend::Redis;
                    c.ratelimit.redis_url = redis_url();
                    c.ratelimit.key_prefix = prefix;
                }
                tune(c);
            })
            .await,
        );
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

/// A guild with a member (not a manager, so AutoMod judges them) and a
/// spam rule that blocks; its channel.
async fn spam_guarded_guild(app: &TestApp) -> (TestUser, String) {
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let (guild, channel) = app.guild(&owner, "Guarded").await;
    app.join(&owner, &channel, &member).await;
    let rule = json!({ "name": "spam", "event_type": 1, "trigger_type": 3, "enabled": true,
        "actions": [{ "type": 1, "metadata": {} }] });
    let path = format!("/guilds/{}/auto-moderation/rules", guild["id"].as_str().unwrap());
    let (status, body) = app.post(&path, &owner.token, rule).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (member, channel)
}

async fn post(app: &TestApp, user: &TestUser, channel: &str, content: &str) -> (StatusCode, Value) {
    app.post(&format!("/channels/{channel}/messages"), &user.token, json!({ "content": content })).await
}

fn flood_of_six(c: &mut server::Config) {
    c.moderation.spam.flood_messages = 6;
    c.moderation.spam.flood_window_secs = 60;
}

#[tokio::test]
async fn a_flood_spread_over_two_nodes_is_caught_when_they_share_redis() {
    let (a, b) = two_nodes(true, flood_of_six).await;
    let (member, channel) = spam_guarded_guild(&a).await;
    // Five different messages, alternating between the nodes: each node
    // has seen only two or three, but together they are five...
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(post(node, &member, &channel, &format!("message number {i}")).await.0, StatusCode::OK);
    }
    // ... and the sixth is a flood, on whichever node.
    assert_error(&post(&b, &member, &channel, "one more").await, 400, 200000);

    // The same text on both nodes: the third copy is a repeat.
    let (a, b) = two_nodes(true, |_| {}).await;
    let (member, channel) = spam_guarded_guild(&a).await;
    assert_eq!(post(&a, &member, &channel, "join my server now").await.0, StatusCode::OK);
    assert_eq!(post(&b, &member, &channel, "Join my  server NOW").await.0, StatusCode::OK);
    assert_error(&post(&a, &member, &channel, "join my server now").await, 400, 200000);
}

#[tokio::test]
async fn without_shared_windows_each_node_sees_only_its_own_messages() {
    // The control for the test above: the same alternating flood passes
    // two nodes that each keep their own windows.
    let (a, b) = two_nodes(false, flood_of_six).await;
    let (member, channel) = spam_guarded_guild(&a).await;
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(post(node, &member, &channel, &format!("message number {i}")).await.0, StatusCode::OK);
    }
}

async fn login(app: &TestApp, name: &str, password: &str) -> (StatusCode, Value) {
    app.call(Method::POST, "/auth/login", None, Some(json!({ "login": name, "password": password }))).await
}

#[tokio::test]
async fn failed_logins_on_one_node_throttle_logins_on_another() {
    let (a, b) = two_nodes(false, |c| {
        c.auth.login_max_failures = 3;
        c.auth.login_window_secs = 60;
    })
    .await;
    a.register("gail").await;
    a.register("hugo").await;
    for _ in 0..3 {
        assert_error(&login(&a, "gail", "wrong wrong wrong").await, 400, 50035);
    }
    // The right password, on the other node: refused all the same.
    let (status, body) = login(&b, "gail", "correct horse battery").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Failures split over the nodes add up too.
    assert_error(&login(&a, "hugo", "wrong wrong wrong").await, 400, 50035);
    assert_error(&login(&b, "hugo", "wrong wrong wrong").await, 400, 50035);
    assert_eq!(login(&a, "hugo", "correct horse battery").await.0, StatusCode::OK, "two failures of three");
    assert_error(&login(&b, "hugo", "wrong wrong wrong").await, 400, 50035);
    assert_error(&login(&a, "hugo", "wrong wrong wrong").await, 400, 50035);
    assert_error(&login(&b, "hugo", "wrong wrong wrong").await, 400, 50035);
    assert_eq!(login(&a, "hugo", "correct horse battery").await.0, StatusCode::TOO_MANY_REQUESTS);
}
