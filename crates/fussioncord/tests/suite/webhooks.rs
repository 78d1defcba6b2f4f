//! Webhooks (issue 18): created, listed, changed and deleted by those with
//! MANAGE_WEBHOOKS (audited, WEBHOOKS_UPDATE); executed with their token
//! (`wait`, overrides, mentions, files), their messages fetched, edited and
//! deleted with it and no other; GitHub and Slack payloads; a deleted
//! webhook's token refused; Discord's 5 per 2 s per webhook; the token never
//! in the server's logs.

use std::io::Read;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::attachments::{file, payload, png};
use crate::common::ws::ALL_INTENTS;
use crate::common::{assert_error, TestApp, TestUser};

const MANAGE_WEBHOOKS: u64 = 1 << 29;

struct World {
    owner: TestUser,
    guild: String,
    channel: String,
}

async fn world(app: &TestApp) -> World {
    let owner = app.register("hookmaster").await;
    let (g, channel) = app.guild(&owner, "hooks").await;
    World { owner, guild: g["id"].as_str().unwrap().to_owned(), channel }
}

async fn create(app: &TestApp, w: &World, name: &str) -> Value {
    let (status, hook) =
        app.post(&format!("/channels/{}/webhooks", w.channel), &w.owner.token, json!({"name": name})).await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    hook
}

fn url(hook: &Value) -> String {
    format!("/webhooks/{}/{}", hook["id"].as_str().unwrap(), hook["token"].as_str().unwrap())
}

/// The channel's newest message.
async fn latest(app: &TestApp, w: &World) -> Value {
    app.get(&format!("/channels/{}/messages?limit=1", w.channel), &w.owner.token).await.1[0].clone()
}

/// A request without any Authorization header.
async fn anon(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, None, body).await
}

#[tokio::test]
async fn webhooks_are_managed_with_manage_webhooks_audited_and_announced() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let member = app.register("plainmember").await;
    app.join(&w.owner, &w.channel, &member).await;
    let mut gw = app.gateway("").await;
    gw.identify(&w.owner.token, ALL_INTENTS).await;

    let avatar = format!(
        "data:image/png;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png(64))
    );
    let (status, hook) = app
        .post(
            &format!("/channels/{}/webhooks", w.channel),
            &w.owner.token,
            json!({"name": " Builds ", "avatar": avatar}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    assert_eq!(hook["type"], 1);
    assert_eq!(hook["name"], "Builds");
    assert_eq!(hook["channel_id"].as_str(), Some(w.channel.as_str()));
    assert_eq!(hook["guild_id"].as_str(), Some(w.guild.as_str()));
    assert_eq!(hook["user"]["id"].as_str(), Some(w.owner.id.as_str()));
    assert_eq!(hook["token"].as_str().unwrap().len(), 68);
    assert!(hook["avatar"].is_string(), "{hook}");
    let id = hook["id"].as_str().unwrap().to_owned();
    let update = gw.dispatch("WEBHOOKS_UPDATE").await;
    assert_eq!(update["d"], json!({"guild_id": w.guild, "channel_id": w.channel}));
    // The avatar is served where Discord's CDN serves a webhook's.
    let res = app
        .client
        .get(format!("http://{}/avatars/{id}/{}.png", app.addr(), hook["avatar"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Without MANAGE_WEBHOOKS: nothing, not even the list.
    let path = format!("/channels/{}/webhooks", w.channel);
    assert_error(&app.post(&path, &member.token, json!({"name": "mine"})).await, 403, 50013);
    assert_error(&app.get(&path, &member.token).await, 403, 50013);
    assert_error(&app.get(&format!("/guilds/{}/webhooks", w.guild), &member.token).await, 403, 50013);
    assert_error(&app.get(&format!("/webhooks/{id}"), &member.token).await, 403, 50013);
    assert_error(&app.call(Method::DELETE, &format!("/webhooks/{id}"), Some(&member.token), None).await, 403, 50013);

    // Bad names are refused at their field, and nothing is made.
    for (name, code) in [("", "BASE_TYPE_BAD_LENGTH"), ("my discord hook", "USERNAME_INVALID_CONTAINS")] {
        let (status, body) = app.post(&path, &w.owner.token, json!({"name": name})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["errors"]["name"]["_errors"][0]["code"], code, "{body}");
    }
    let (_, body) = app.post(&path, &w.owner.token, json!({})).await;
    assert_eq!(body["errors"]["name"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED", "{body}");

    // Granting MANAGE_WEBHOOKS in the channel is enough.
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/channels/{}/permissions/{}", w.channel, member.id),
            Some(&w.owner.token),
            Some(json!({"type": 1, "allow": MANAGE_WEBHOOKS.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, second) = app.post(&path, &member.token, json!({"name": "Second"})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (_, list) = app.get(&path, &member.token).await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Builds", "Second"]);
    let (_, list) = app.get(&format!("/guilds/{}/webhooks", w.guild), &w.owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Renamed and its avatar removed, by id.
    let (status, renamed) =
        app.patch(&format!("/webhooks/{id}"), &w.owner.token, json!({"name": "CI", "avatar": null})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["avatar"].is_null()), (Some("CI"), true));
    // Moved to a channel the caller manages.
    let (_, other) = app
        .post(&format!("/guilds/{}/channels", w.guild), &w.owner.token, json!({"name": "elsewhere", "type": 0}))
        .await;
    let other = other["id"].as_str().unwrap().to_owned();
    let (status, moved) = app.patch(&format!("/webhooks/{id}"), &w.owner.token, json!({"channel_id": other})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["channel_id"].as_str(), Some(other.as_str()));

    // Deleted: gone from the lists.
    let (status, _) = app.call(Method::DELETE, &format!("/webhooks/{id}"), Some(&w.owner.token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("/webhooks/{id}"), &w.owner.token).await, 404, 10015);

    // Each step is in the audit log: created twice, updated twice, deleted.
    let (_, log) = app.get(&format!("/guilds/{}/audit-logs?limit=100", w.guild), &w.owner.token).await;
    let actions: Vec<u64> = log["audit_log_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"].as_str() == Some(id.as_str()))
        .map(|e| e["action_type"].as_u64().unwrap())
        .collect();
    assert_eq!(actions, [52, 51, 51, 50], "{log}");
    // The log names the webhooks its entries are about while they exist.
    let (_, log) = app.get(&format!("/guilds/{}/audit-logs?action_type=50", w.guild), &w.owner.token).await;
    let listed: Vec<&str> = log["webhooks"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(listed, ["Second"], "the deleted one is gone, the living one listed: {log}");
    assert!(log["webhooks"][0].get("token").is_none());
}

#[tokio::test]
async fn executing_posts_as_the_webhook_and_only_its_token_reaches_its_messages() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let reader = app.register("reader").await;
    app.join(&w.owner, &w.channel, &reader).await;
    let mut gw = app.gateway("").await;
    gw.identify(&reader.token, ALL_INTENTS).await;
    let hook = create(&app, &w, "Deploys").await;
    let other = create(&app, &w, "Other").await;
    let id = hook["id"].as_str().unwrap().to_owned();

    // Without wait: 204 and no body.
    let (status, body) = anon(&app, Method::POST, &url(&hook), Some(json!({"content": "shipped v1"}))).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let created = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["content"], "shipped v1");
    assert_eq!(created["d"]["webhook_id"].as_str(), Some(id.as_str()));
    assert_eq!(created["d"]["author"]["id"].as_str(), Some(id.as_str()));
    assert_eq!(created["d"]["author"]["username"], "Deploys");
    assert_eq!(created["d"]["author"]["bot"], true);
    assert!(created["d"].get("member").is_none(), "a webhook is no member: {created}");

    // With wait: the message, under the override name; @everyone reaches
    // everyone unless allowed_mentions says otherwise.
    let (status, msg) = anon(
        &app,
        Method::POST,
        &format!("{}?wait=true", url(&hook)),
        Some(json!({"content": "@everyone v2 is out", "username": "Release Bot", "embeds": [{"title": "v2"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["author"]["username"], "Release Bot");
    assert_eq!(msg["webhook_id"].as_str(), Some(id.as_str()));
    assert_eq!(msg["mention_everyone"], true);
    assert_eq!(msg["embeds"][0]["title"], "v2");
    let (_, quiet) = anon(
        &app,
        Method::POST,
        &format!("{}?wait=1", url(&hook)),
        Some(json!({"content": "@everyone quiet", "allowed_mentions": {"parse": []}})),
    )
    .await;
    assert_eq!(quiet["mention_everyone"], false, "{quiet}");
    // History shows the name each was posted under.
    let (_, history) = app.get(&format!("/channels/{}/messages", w.channel), &reader.token).await;
    let authors: Vec<&str> =
        history.as_array().unwrap().iter().map(|m| m["author"]["username"].as_str().unwrap()).collect();
    assert_eq!(authors, ["Deploys", "Release Bot", "Deploys"]);

    // Bad bodies: Discord's errors, nothing posted.
    let (status, body) = anon(&app, Method::POST, &url(&hook), Some(json!({"content": ""}))).await;
    assert_eq!((status.as_u16(), body["code"].as_u64()), (400, Some(50006)), "{body}");
    let (status, body) =
        anon(&app, Method::POST, &url(&hook), Some(json!({"content": "x", "username": "discord support"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"]["username"]["_errors"][0]["code"], "USERNAME_INVALID_CONTAINS", "{body}");
    let (status, body) = anon(&app, Method::POST, &url(&hook), Some(json!({"content": "x".repeat(2001)}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Its messages with its token: read, edit, delete.
    let mid = msg["id"].as_str().unwrap();
    let (status, got) = anon(&app, Method::GET, &format!("{}/messages/{mid}", url(&hook)), None).await;
    assert_eq!((status, got["content"].as_str()), (StatusCode::OK, Some("@everyone v2 is out")));
    let (status, edited) =
        anon(&app, Method::PATCH, &format!("{}/messages/{mid}", url(&hook)), Some(json!({"content": "v2 (edited)"})))
            .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["content"].as_str(), edited["author"]["username"].as_str()),
        (Some("v2 (edited)"), Some("Release Bot"))
    );
    assert!(edited["edited_timestamp"].is_string());
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["content"], "v2 (edited)");
    // Another webhook's token does not reach it; a wrong token is refused.
    let foreign = format!("{}/messages/{mid}", url(&other));
    assert_error(&anon(&app, Method::PATCH, &foreign, Some(json!({"content": "hijack"}))).await, 404, 10008);
    assert_error(&anon(&app, Method::DELETE, &foreign, None).await, 404, 10008);
    let wrong = format!("/webhooks/{id}/{}", "x".repeat(68));
    assert_error(&anon(&app, Method::POST, &wrong, Some(json!({"content": "no"}))).await, 401, 50027);
    assert_error(&anon(&app, Method::GET, &wrong, None).await, 401, 50027);
    // Nor does a webhook's token reach someone's message.
    let person = app.send(&reader, &w.channel, "mine").await;
    let path = format!("{}/messages/{}", url(&hook), person["id"].as_str().unwrap());
    assert_error(&anon(&app, Method::DELETE, &path, None).await, 404, 10008);

    let (status, _) = anon(&app, Method::DELETE, &format!("{}/messages/{mid}", url(&hook)), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deleted = gw.dispatch("MESSAGE_DELETE").await;
    assert_eq!(deleted["d"]["id"].as_str(), Some(mid));

    // With its token: the webhook without its secret or creator.
    let (status, seen) = anon(&app, Method::GET, &url(&hook), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(seen.get("token").is_none() && seen.get("user").is_none(), "{seen}");
    assert_eq!(seen["name"], "Deploys");
    let (status, renamed) = anon(&app, Method::PATCH, &url(&hook), Some(json!({"name": "Deployer"}))).await;
    assert_eq!((status, renamed["name"].as_str()), (StatusCode::OK, Some("Deployer")));
    assert_error(&anon(&app, Method::PATCH, &url(&hook), Some(json!({"channel_id": w.channel}))).await, 400, 50035);

    // Deleted with its own token: the token stops working; its messages stay.
    let (status, _) = anon(&app, Method::DELETE, &url(&hook), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&anon(&app, Method::POST, &url(&hook), Some(json!({"content": "late"}))).await, 404, 10015);
    let (_, history) = app.get(&format!("/channels/{}/messages", w.channel), &reader.token).await;
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["content"] == "shipped v1" && m["author"]["username"] == "Deploys"));
}

#[tokio::test]
async fn files_travel_with_a_webhook_message() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = create(&app, &w, "Uploader").await;
    let parts = [
        payload(json!({"content": "the report", "attachments": [{"id": 0, "description": "graph"}]})),
        file("files[0]", "graph.png", "image/png", png(2000)),
    ];
    let res = app
        .client
        .post(format!("{}{}?wait=true", app.base, url(&hook)))
        .header("Content-Type", format!("multipart/form-data; boundary={}", crate::attachments::BOUNDARY))
        .body(crate::attachments::multipart(&parts))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let msg: Value = res.json().await.unwrap();
    assert_eq!(msg["attachments"][0]["filename"], "graph.png");
    assert_eq!(msg["attachments"][0]["description"], "graph");
    let bytes =
        app.client.get(msg["attachments"][0]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len(), 2000);
}

#[tokio::test]
async fn github_and_slack_payloads_render_as_messages() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let hook = create(&app, &w, "Feeds").await;
    let push = json!({
        "ref": "refs/heads/main",
        "compare": "https://github.com/octo/app/compare/abc...def",
        "repository": {"name": "app", "full_name": "octo/app", "html_url": "https://github.com/octo/app"},
        "sender": {"login": "octocat", "html_url": "https://github.com/octocat", "avatar_url": "https://avatars.example/o.png"},
        "commits": [
            {"id": "1234567890abcdef", "message": "Fix the build\n\nDetails", "url": "https://github.com/octo/app/commit/1234567",
             "author": {"name": "Octo Cat", "username": "octocat"}},
            {"id": "fedcba0987654321", "message": "Add tests", "url": "https://github.com/octo/app/commit/fedcba0",
             "author": {"name": "Mona", "username": "mona"}}
        ]
    });
    let res = app
        .client
        .post(format!("{}{}/github?wait=true", app.base, url(&hook)))
        .header("X-GitHub-Event", "push")
        .json(&push)
        .send()
        .await
        .unwrap();
    // Discord's spec: 204 from GitHub's endpoint, whatever `wait` says.
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let msg = latest(&app, &w).await;
    let embed = &msg["embeds"][0];
    assert_eq!(embed["title"], "[octo/app:main] 2 new commits");
    assert_eq!(embed["url"], "https://github.com/octo/app/compare/abc...def");
    assert_eq!(
        embed["description"],
        "[`1234567`](https://github.com/octo/app/commit/1234567) Fix the build - octocat\n[`fedcba0`](https://github.com/octo/app/commit/fedcba0) Add tests - mona"
    );
    assert_eq!(embed["author"]["name"], "octocat");
    assert_eq!(msg["author"]["username"], "GitHub");

    let pr = json!({
        "action": "opened", "number": 7,
        "pull_request": {"number": 7, "title": "Speed up", "html_url": "https://github.com/octo/app/pull/7", "body": "Makes it fast"},
        "repository": {"full_name": "octo/app"}, "sender": {"login": "mona"}
    });
    let res = app
        .client
        .post(format!("{}{}/github", app.base, url(&hook)))
        .header("X-GitHub-Event", "pull_request")
        .json(&pr)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let msg = latest(&app, &w).await;
    assert_eq!(msg["embeds"][0]["title"], "[octo/app] Pull request opened: #7 Speed up");
    assert_eq!(msg["embeds"][0]["description"], "Makes it fast");

    // A ping is accepted and posts nothing.
    let res = app
        .client
        .post(format!("{}{}/github", app.base, url(&hook)))
        .header("X-GitHub-Event", "ping")
        .json(&json!({"zen": "Keep it simple."}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let slack = json!({
        "text": "Build <https://ci.example/42|#42> passed",
        "username": "CI",
        "attachments": [{"title": "Coverage", "text": "91%", "color": "good", "fields": [{"title": "Tests", "value": "812", "short": true}]}]
    });
    let res = app.client.post(format!("{}{}/slack", app.base, url(&hook))).json(&slack).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!("ok"));
    let m = &latest(&app, &w).await;
    assert_eq!(m["content"], "Build [#42](https://ci.example/42) passed");
    assert_eq!(m["author"]["username"], "CI");
    assert_eq!(m["embeds"][0]["title"], "Coverage");
    assert_eq!(m["embeds"][0]["color"], 0x2eb886);
    assert_eq!(m["embeds"][0]["fields"][0], json!({"name": "Tests", "value": "812", "inline": true}));
    // Nothing was posted by the ping: three messages in all.
    let (_, all) = app.get(&format!("/channels/{}/messages", w.channel), &w.owner.token).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_webhook_posts_five_times_in_two_seconds_then_gets_429() {
    let app = TestApp::spawn_with(|c| {
        let limit = ratelimit::RouteLimit { limit: 5, window_ms: 2_000, shared: true };
        c.ratelimit.routes.insert("POST /webhooks/{webhook_id}/{webhook_token}".into(), limit);
    })
    .await;
    let w = world(&app).await;
    let hook = create(&app, &w, "Chatty").await;
    let other = create(&app, &w, "Quiet").await;
    for i in 0..5 {
        let res = app
            .client
            .post(format!("{}{}", app.base, url(&hook)))
            .json(&json!({"content": format!("m{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "request {i}");
        assert_eq!(res.headers()["x-ratelimit-limit"], "5");
    }
    let res =
        app.client.post(format!("{}{}", app.base, url(&hook))).json(&json!({"content": "m5"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers().contains_key("x-ratelimit-bucket"));
    let body: Value = res.json().await.unwrap();
    assert!(body["retry_after"].as_f64().unwrap() > 0.0, "{body}");
    assert_eq!(body["global"], false);
    // Another webhook has its own count.
    let res =
        app.client.post(format!("{}{}", app.base, url(&other))).json(&json!({"content": "fine"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Five were posted, not six.
    let (_, all) = app.get(&format!("/channels/{}/messages", w.channel), &w.owner.token).await;
    assert_eq!(all.as_array().unwrap().len(), 6);
}

/// The server's own log, at debug level, while webhooks are made, used with
/// right and wrong tokens and deleted, never holds a token.
#[tokio::test]
async fn webhook_tokens_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let mut child = crate::common::binary(&None)
        .env("RUST_LOG", "debug")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    let app = TestApp::attach(&addr);
    let w = world(&app).await;
    let hook = create(&app, &w, "Secretive").await;
    let token = hook["token"].as_str().unwrap().to_owned();
    anon(&app, Method::POST, &format!("{}?wait=true", url(&hook)), Some(json!({"content": "hello"}))).await;
    anon(&app, Method::POST, &url(&hook), Some(json!({"content": ""}))).await;
    let near = format!("/webhooks/{}/{}x", hook["id"].as_str().unwrap(), &token[..67]);
    anon(&app, Method::POST, &near, Some(json!({"content": "no"}))).await;
    anon(&app, Method::DELETE, &url(&hook), None).await;
    anon(&app, Method::POST, &url(&hook), Some(json!({"content": "gone"}))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mut text = String::new();
    std::fs::File::open(&log_path).unwrap().read_to_string(&mut text).unwrap();
    assert!(text.contains("answered"), "the log was written: {} bytes", text.len());
    assert!(!text.contains(&token), "the token is in the log");
    assert!(!text.contains(&token[..40]), "part of the token is in the log");
}
