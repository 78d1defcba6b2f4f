//! The walkthrough a newcomer does, and the rules behind each step.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, TestApp};

async fn guild_id(app: &TestApp, user: &crate::common::TestUser, channel: &str) -> String {
    let (_, c) = app.get(&format!("/channels/{channel}"), &user.token).await;
    c["guild_id"].as_str().unwrap().to_owned()
}

fn ids(messages: &Value) -> Vec<String> {
    messages.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn register_login_logout() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let (status, me) = app.get("/users/@me", &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["mfa_enabled"], false);

    // Login by username or email; upper case folds.
    for login in ["alice", "ALICE@example.com"] {
        let (status, body) = app
            .call(Method::POST, "/auth/login", None, Some(json!({"login": login, "password": "correct horse battery"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["user_id"], json!(alice.id));
    }
    // A wrong password and an unknown account answer the same.
    let wrong = app
        .call(Method::POST, "/auth/login", None, Some(json!({"login": "alice", "password": "nope nope nope"})))
        .await;
    let nobody = app
        .call(Method::POST, "/auth/login", None, Some(json!({"login": "nobody", "password": "nope nope nope"})))
        .await;
    assert_error(&wrong, 400, 50035);
    assert_eq!(wrong.1, nobody.1);

    // Taken names and bad fields.
    let taken = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"username": "Alice", "email": "other@example.com", "password": "long enough pw"})),
        )
        .await;
    assert_error(&taken, 400, 50035);
    assert_eq!(taken.1["errors"]["username"]["_errors"][0]["code"], "USERNAME_ALREADY_TAKEN");
    let bad = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({"username": "x", "email": "nope", "password": "short"})),
        )
        .await;
    assert_error(&bad, 400, 50035);
    for field in ["username", "email", "password"] {
        assert!(bad.1["errors"][field]["_errors"].is_array(), "{field} in {}", bad.1);
    }

    // Logout revokes exactly the token used.
    let (_, second) = app
        .call(Method::POST, "/auth/login", None, Some(json!({"login": "alice", "password": "correct horse battery"})))
        .await;
    let second = second["token"].as_str().unwrap().to_owned();
    let (status, _) = app.post("/auth/logout", &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(&app.get("/users/@me", &alice.token).await, 401, 40001);
    assert_eq!(app.get("/users/@me", &second).await.0, StatusCode::OK);
}

#[tokio::test]
async fn profile_update_and_lookup() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (status, me) =
        app.patch("/users/@me", &alice.token, json!({"global_name": "Alice A.", "username": "alice2"})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["global_name"], "Alice A.");
    assert_eq!(me["username"], "alice2");
    assert_error(&app.patch("/users/@me", &alice.token, json!({"username": "bob"})).await, 400, 50035);
    // Only Discord's locales.
    assert_error(&app.patch("/users/@me", &alice.token, json!({"locale": "xx"})).await, 400, 50035);
    let (_, me) = app.patch("/users/@me", &alice.token, json!({"locale": "pt-BR"})).await;
    assert_eq!(me["locale"], "pt-BR");
    let (_, me) = app.patch("/users/@me", &alice.token, json!({"global_name": null})).await;
    assert_eq!(me["global_name"], Value::Null);
    assert_eq!(me["username"], "alice2");

    let (status, seen) = app.get(&format!("/users/{}", alice.id), &bob.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["username"], "alice2");
    assert!(seen.get("email").is_none(), "another user's email must not leak: {seen}");
    assert_error(&app.get("/users/12345", &bob.token).await, 404, 10013);
}

#[tokio::test]
async fn guild_lifecycle() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let outsider = app.register("outsider").await;
    let (guild, general) = app.guild(&owner, "Rustaceans").await;
    let gid = guild["id"].as_str().unwrap();
    assert_eq!(guild["owner_id"], json!(owner.id));
    // @everyone has the guild's id.
    assert_eq!(guild["roles"][0]["id"], json!(gid));
    assert_eq!(guild["roles"][0]["name"], "@everyone");

    let (_, channels) = app.get(&format!("/guilds/{gid}/channels"), &owner.token).await;
    let summary: Vec<(u64, &str)> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_u64().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert!(summary.contains(&(0, "general")) && summary.contains(&(2, "General")), "{summary:?}");
    assert!(channels.as_array().unwrap().iter().any(|c| c["id"] == json!(general)));

    // Outsiders see nothing; unknown guilds are unknown.
    assert_error(&app.get(&format!("/guilds/{gid}"), &outsider.token).await, 403, 50001);
    assert_error(&app.get("/guilds/42", &outsider.token).await, 404, 10004);
    assert_error(&app.get(&format!("/channels/{general}/messages"), &outsider.token).await, 403, 50001);

    app.join(&owner, &general, &member).await;
    let (_, mine) = app.get("/users/@me/guilds", &member.token).await;
    assert_eq!(mine[0]["id"], json!(gid));
    assert_eq!(mine[0]["owner"], false);
    let (_, members) = app.get(&format!("/guilds/{gid}/members?limit=10"), &owner.token).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (status, m) = app.get(&format!("/guilds/{gid}/members/{}", member.id), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m["user"]["id"], json!(member.id));
    assert_error(&app.get(&format!("/guilds/{gid}/members/{}", outsider.id), &owner.token).await, 404, 10007);
    let (_, counted) = app.get(&format!("/guilds/{gid}?with_counts=true"), &member.token).await;
    assert_eq!(counted["approximate_member_count"], 2);

    // Only the owner manages (members lack MANAGE_GUILD at this stage).
    assert_error(&app.patch(&format!("/guilds/{gid}"), &member.token, json!({"name": "Mine"})).await, 403, 50013);
    let (status, updated) =
        app.patch(&format!("/guilds/{gid}"), &owner.token, json!({"name": "Crabs", "description": "🦀"})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Crabs");
    assert_eq!(updated["description"], "🦀");
    assert_error(&app.patch(&format!("/guilds/{gid}"), &owner.token, json!({"afk_timeout": 7})).await, 400, 50035);
    assert_error(
        &app.patch(&format!("/guilds/{gid}"), &owner.token, json!({"preferred_locale": "klingon"})).await,
        400,
        50035,
    );

    // Channels: create a category and a child, edit, delete.
    let (status, cat) =
        app.post(&format!("/guilds/{gid}/channels"), &owner.token, json!({"name": "Text", "type": 4})).await;
    assert_eq!(status, StatusCode::CREATED, "{cat}");
    let (status, child) = app
        .post(
            &format!("/guilds/{gid}/channels"),
            &owner.token,
            json!({"name": "rules", "parent_id": cat["id"], "topic": "be nice", "rate_limit_per_user": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    assert_eq!(child["parent_id"], cat["id"]);
    assert_eq!(child["topic"], "be nice");
    assert_eq!(child["rate_limit_per_user"], 5);
    assert_error(
        &app.post(&format!("/guilds/{gid}/channels"), &member.token, json!({"name": "mine"})).await,
        403,
        50013,
    );
    assert_error(
        &app.post(&format!("/guilds/{gid}/channels"), &owner.token, json!({"name": "x", "type": 9})).await,
        400,
        50035,
    );
    assert_error(
        &app.post(&format!("/guilds/{gid}/channels"), &owner.token, json!({"name": "x", "parent_id": general})).await,
        400,
        50035,
    );
    let child_id = child["id"].as_str().unwrap();
    let (status, edited) =
        app.patch(&format!("/channels/{child_id}"), &owner.token, json!({"topic": null, "name": "faq"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["name"], "faq");
    assert_eq!(edited["topic"], Value::Null);
    // Overwrites can be replaced wholesale through PATCH.
    let deny_view = json!([{"id": gid, "type": 0, "allow": "0", "deny": "1024"}]);
    let (status, hidden) =
        app.patch(&format!("/channels/{child_id}"), &owner.token, json!({"permission_overwrites": deny_view})).await;
    assert_eq!(status, StatusCode::OK, "{hidden}");
    assert_eq!(hidden["permission_overwrites"][0]["deny"], "1024");
    assert_error(&app.get(&format!("/channels/{child_id}"), &member.token).await, 403, 50001);
    let (_, shown) =
        app.patch(&format!("/channels/{child_id}"), &owner.token, json!({"permission_overwrites": []})).await;
    assert_eq!(shown["permission_overwrites"], json!([]));
    assert_eq!(app.get(&format!("/channels/{child_id}"), &member.token).await.0, StatusCode::OK);
    let (_, log) = app.get(&format!("/guilds/{gid}/audit-logs?action_type=13"), &owner.token).await;
    assert_eq!(log["audit_log_entries"][0]["options"]["id"], json!(gid));
    let cat_id = cat["id"].as_str().unwrap();
    let (status, _) = app.delete(&format!("/channels/{cat_id}"), &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    // Deleting the system channel clears the guild's setting.
    assert_eq!(app.delete(&format!("/channels/{general}"), &owner.token).await.0, StatusCode::OK);
    let (_, g) = app.get(&format!("/guilds/{gid}"), &owner.token).await;
    assert_eq!(g["system_channel_id"], Value::Null);
    let (_, orphan) = app.get(&format!("/channels/{child_id}"), &member.token).await;
    assert_eq!(orphan["parent_id"], Value::Null, "children of a deleted category lose their parent");
    assert_error(&app.get(&format!("/channels/{cat_id}"), &owner.token).await, 404, 10003);

    // Leaving, and the owner cannot leave.
    assert_error(&app.delete(&format!("/users/@me/guilds/{gid}"), &owner.token).await, 400, 50055);
    assert_eq!(app.delete(&format!("/users/@me/guilds/{gid}"), &member.token).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("/guilds/{gid}"), &member.token).await, 403, 50001);

    // Deleting the guild takes everything with it.
    assert_error(&app.delete(&format!("/guilds/{gid}"), &member.token).await, 403, 50001);
    assert_eq!(app.delete(&format!("/guilds/{gid}"), &owner.token).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.get(&format!("/guilds/{gid}"), &owner.token).await, 404, 10004);
    assert_error(&app.get(&format!("/channels/{general}"), &owner.token).await, 404, 10003);
}

#[tokio::test]
async fn invites_expire_and_run_out() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let a = app.register("anna").await;
    let b = app.register("bert").await;
    let (guild, general) = app.guild(&owner, "Club").await;
    let gid = guild["id"].as_str().unwrap();

    let (status, invite) =
        app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_uses": 1, "unique": true})).await;
    assert_eq!(status, StatusCode::OK, "{invite}");
    assert_eq!(invite["max_uses"], 1);
    assert_eq!(invite["guild"]["id"], json!(gid));
    let code = invite["code"].as_str().unwrap();

    // Looking an invite up needs no account.
    let (status, public) = app.call(Method::GET, &format!("/invites/{code}?with_counts=true"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(public["approximate_member_count"], 1);
    assert!(public.get("uses").is_none(), "metadata is for members: {public}");

    assert_eq!(app.post(&format!("/invites/{code}"), &a.token, json!({})).await.0, StatusCode::OK);
    // Used up: gone for everyone else.
    assert_error(&app.post(&format!("/invites/{code}"), &b.token, json!({})).await, 404, 10006);
    assert_error(&app.call(Method::GET, &format!("/invites/{code}"), None, None).await, 404, 10006);

    // Listing and revoking.
    let (_, inv2) = app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_age": 3600})).await;
    let code2 = inv2["code"].as_str().unwrap();
    // Without `unique`, a similar invite is reused.
    let (_, again) = app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_age": 3600})).await;
    assert_eq!(again["code"], inv2["code"]);
    let (_, listed) = app.get(&format!("/guilds/{gid}/invites"), &owner.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, listed) = app.get(&format!("/channels/{general}/invites"), &owner.token).await;
    assert_eq!(listed[0]["code"], json!(code2));
    assert_error(&app.delete(&format!("/invites/{code2}"), &a.token).await, 403, 50013);
    assert_eq!(app.delete(&format!("/invites/{code2}"), &owner.token).await.0, StatusCode::OK);
    assert_error(&app.post(&format!("/invites/{code2}"), &b.token, json!({})).await, 404, 10006);
    assert_error(
        &app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_age": 999999999})).await,
        400,
        50035,
    );

    // An invite past its max_age is gone.
    let (_, short) =
        app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_age": 1, "unique": true})).await;
    let short = short["code"].as_str().unwrap();
    assert_eq!(app.call(Method::GET, &format!("/invites/{short}"), None, None).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_error(&app.post(&format!("/invites/{short}"), &b.token, json!({})).await, 404, 10006);
    let (_, listed) = app.get(&format!("/guilds/{gid}/invites"), &owner.token).await;
    assert!(listed.as_array().unwrap().iter().all(|i| i["code"] != json!(short)), "{listed}");
}

#[tokio::test]
async fn an_invite_with_max_uses_is_never_overused() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let (_, general) = app.guild(&owner, "Club").await;
    let (_, invite) =
        app.post(&format!("/channels/{general}/invites"), &owner.token, json!({"max_uses": 3, "unique": true})).await;
    let code = invite["code"].as_str().unwrap().to_owned();
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(app.register(&format!("joiner{i}")).await);
    }
    let path = format!("/invites/{code}");
    let joins = users.iter().map(|u| app.post(&path, &u.token, json!({})));
    let results = futures::future::join_all(joins).await;
    let ok = results.iter().filter(|r| r.0 == StatusCode::OK).count();
    assert_eq!(ok, 3, "{results:?}");
    assert!(results.iter().all(|r| r.0 == StatusCode::OK || r.1["code"] == 10006));
}

#[tokio::test]
async fn messages_history_edit_delete() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, ch) = app.guild(&alice, "Chat").await;
    app.join(&alice, &ch, &bob).await;

    let mut sent = Vec::new();
    for i in 0..30 {
        let who = if i % 2 == 0 { &alice } else { &bob };
        sent.push(app.send(who, &ch, &format!("message {i}")).await["id"].as_str().unwrap().to_owned());
    }
    // Newest first, at most `limit`.
    let (_, page) = app.get(&format!("/channels/{ch}/messages?limit=10"), &bob.token).await;
    let expected: Vec<_> = sent.iter().rev().take(10).cloned().collect();
    assert_eq!(ids(&page), expected);
    let (_, page) = app.get(&format!("/channels/{ch}/messages?before={}&limit=5", sent[10]), &bob.token).await;
    assert_eq!(ids(&page), sent[5..10].iter().rev().cloned().collect::<Vec<_>>());
    let (_, page) = app.get(&format!("/channels/{ch}/messages?after={}&limit=5", sent[10]), &bob.token).await;
    assert_eq!(ids(&page), sent[11..16].iter().rev().cloned().collect::<Vec<_>>());
    // `after=0` pages from the very first message (discord.py's oldest_first).
    let (status, page) = app.get(&format!("/channels/{ch}/messages?after=0&limit=5"), &bob.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), sent[0..5].iter().rev().cloned().collect::<Vec<_>>());
    let (status, members) =
        app.get(&format!("/guilds/{}/members?after=0&limit=10", guild_id(&app, &alice, &ch).await), &bob.token).await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (_, page) = app.get(&format!("/channels/{ch}/messages?around={}&limit=5", sent[10]), &bob.token).await;
    assert_eq!(ids(&page), sent[8..13].iter().rev().cloned().collect::<Vec<_>>());
    let (_, page) = app.get(&format!("/channels/{ch}/messages"), &bob.token).await;
    assert_eq!(page.as_array().unwrap().len(), 30);
    assert_error(&app.get(&format!("/channels/{ch}/messages?limit=101"), &bob.token).await, 400, 50035);
    assert_error(&app.get(&format!("/channels/{ch}/messages?before=1&after=2"), &bob.token).await, 400, 50035);

    let (_, channel) = app.get(&format!("/channels/{ch}"), &bob.token).await;
    assert_eq!(channel["last_message_id"], json!(sent[29]));

    // Only the author edits.
    let first = &sent[0];
    assert_error(
        &app.patch(&format!("/channels/{ch}/messages/{first}"), &bob.token, json!({"content": "hijack"})).await,
        403,
        50005,
    );
    let (status, edited) =
        app.patch(&format!("/channels/{ch}/messages/{first}"), &alice.token, json!({"content": "edited"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["content"], "edited");
    assert!(edited["edited_timestamp"].is_string());
    let (_, fetched) = app.get(&format!("/channels/{ch}/messages/{first}"), &bob.token).await;
    assert_eq!(fetched["content"], "edited");
    assert_eq!(fetched["edited_timestamp"], edited["edited_timestamp"]);

    // Authors delete their own; others need MANAGE_MESSAGES (the owner has it).
    assert_error(&app.delete(&format!("/channels/{ch}/messages/{first}"), &bob.token).await, 403, 50013);
    assert_eq!(app.delete(&format!("/channels/{ch}/messages/{}", sent[1]), &bob.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete(&format!("/channels/{ch}/messages/{}", sent[3]), &alice.token).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(&app.get(&format!("/channels/{ch}/messages/{}", sent[3]), &alice.token).await, 404, 10008);

    // Bulk delete: 2–100 ids, owner only, unknown ids ignored. The unknown
    // one is a minute old, so that it is not refused for its age (a fixed
    // id grows older than the two weeks bulk deletes reach).
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let unknown = ((now_ms - 1_420_070_400_000 - 60_000) << 22).to_string();
    let bulk = json!({"messages": [sent[4], sent[5], sent[6], unknown]});
    assert_error(
        &app.post(&format!("/channels/{ch}/messages/bulk-delete"), &bob.token, bulk.clone()).await,
        403,
        50013,
    );
    assert_error(
        &app.post(&format!("/channels/{ch}/messages/bulk-delete"), &alice.token, json!({"messages": [sent[4]]})).await,
        400,
        50016,
    );
    assert_error(
        &app.post(&format!("/channels/{ch}/messages/bulk-delete"), &alice.token, json!({"messages": ["1", sent[4]]}))
            .await,
        400,
        50034,
    );
    assert_eq!(
        app.post(&format!("/channels/{ch}/messages/bulk-delete"), &alice.token, bulk).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, page) = app.get(&format!("/channels/{ch}/messages?limit=100"), &bob.token).await;
    assert_eq!(page.as_array().unwrap().len(), 25);

    // Content rules.
    assert_error(&app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": ""})).await, 400, 50006);
    let long = "x".repeat(2001);
    let res = app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": long})).await;
    assert_error(&res, 400, 50035);
    assert_eq!(res.1["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let exactly: String = "é".repeat(2000);
    assert_eq!(
        app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": exactly})).await.0,
        StatusCode::OK
    );
    // Voice channels carry text chat; a category does not.
    assert_eq!(app.post(&format!("/channels/{ch}/typing"), &bob.token, json!({})).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn replies_mentions_and_nonces() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await; // not in the guild
    let (guild, ch) = app.guild(&alice, "Chat").await;
    let gid = guild["id"].as_str().unwrap();
    app.join(&alice, &ch, &bob).await;

    let text = format!("hi <@{}> and <@!{}> and <@{}> and <@&{gid}> @everyone", bob.id, bob.id, carol.id);
    let msg = app.send(&alice, &ch, &text).await;
    let mentioned: Vec<_> = msg["mentions"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
    assert_eq!(mentioned, vec![json!(bob.id)], "a repeated mention counts once, non-members not at all");
    assert_eq!(msg["mention_everyone"], true);
    assert_eq!(msg["mention_roles"], json!([]), "@everyone's role is not a role mention");

    // allowed_mentions filters what pings.
    let (_, quiet) = app
        .post(
            &format!("/channels/{ch}/messages"),
            &alice.token,
            json!({"content": format!("<@{}> @everyone", bob.id), "allowed_mentions": {"parse": []}}),
        )
        .await;
    assert_eq!(quiet["mentions"], json!([]));
    assert_eq!(quiet["mention_everyone"], false);
    let (_, only) = app
        .post(
            &format!("/channels/{ch}/messages"),
            &alice.token,
            json!({"content": format!("<@{}>", bob.id), "allowed_mentions": {"users": [bob.id]}}),
        )
        .await;
    assert_eq!(only["mentions"][0]["id"], json!(bob.id));
    assert_error(
        &app.post(
            &format!("/channels/{ch}/messages"),
            &alice.token,
            json!({"content": "x", "allowed_mentions": {"parse": ["users"], "users": [bob.id]}}),
        )
        .await,
        400,
        50035,
    );

    // A reply carries the message it answers and pings its author.
    let (status, reply) = app
        .post(
            &format!("/channels/{ch}/messages"),
            &bob.token,
            json!({"content": "yes?", "message_reference": {"message_id": msg["id"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["type"], 19);
    assert_eq!(reply["message_reference"]["message_id"], msg["id"]);
    assert_eq!(reply["referenced_message"]["id"], msg["id"]);
    assert_eq!(reply["referenced_message"]["author"]["id"], json!(alice.id));
    assert_eq!(reply["mentions"][0]["id"], json!(alice.id));
    let (_, quiet_reply) = app
        .post(
            &format!("/channels/{ch}/messages"),
            &bob.token,
            json!({"content": "shh", "message_reference": {"message_id": msg["id"]}, "allowed_mentions": {"replied_user": false}}),
        )
        .await;
    assert_eq!(quiet_reply["mentions"], json!([]));
    let res = app
        .post(
            &format!("/channels/{ch}/messages"),
            &bob.token,
            json!({"content": "?", "message_reference": {"message_id": "1573797996577947648"}}),
        )
        .await;
    assert_error(&res, 400, 50035);
    let (status, loose) = app
        .post(
            &format!("/channels/{ch}/messages"),
            &bob.token,
            json!({"content": "?", "message_reference": {"message_id": "1573797996577947648", "fail_if_not_exists": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(loose["type"], 0);

    // enforce_nonce makes a retry return the first message.
    let body = json!({"content": "once", "nonce": "retry-1", "enforce_nonce": true});
    let (_, first) = app.post(&format!("/channels/{ch}/messages"), &bob.token, body.clone()).await;
    let (_, second) = app.post(&format!("/channels/{ch}/messages"), &bob.token, body).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["nonce"], "retry-1");
    let (_, page) = app.get(&format!("/channels/{ch}/messages?limit=100"), &bob.token).await;
    assert_eq!(page.as_array().unwrap().iter().filter(|m| m["content"] == "once").count(), 1);
    // Without enforce_nonce, the nonce is only echoed.
    let (_, n1) =
        app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": "twice", "nonce": 7})).await;
    let (_, n2) =
        app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": "twice", "nonce": 7})).await;
    assert_ne!(n1["id"], n2["id"]);
    assert_eq!(n1["nonce"], 7);
    // Nonces are signed 64-bit integers or short strings.
    for bad in [json!(18446744073709551615u64), json!("x".repeat(26)), json!(1.5), json!([1])] {
        let res =
            app.post(&format!("/channels/{ch}/messages"), &bob.token, json!({"content": "n", "nonce": bad})).await;
        assert_error(&res, 400, 50035);
        assert!(res.1["errors"]["nonce"].is_object(), "{}", res.1);
    }
}

#[tokio::test]
async fn slowmode_is_enforced_except_for_managers() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let (_, ch) = app.guild(&owner, "Slow").await;
    app.join(&owner, &ch, &member).await;
    app.patch(&format!("/channels/{ch}"), &owner.token, json!({"rate_limit_per_user": 60})).await;
    app.send(&member, &ch, "first").await;
    let res = app.post(&format!("/channels/{ch}/messages"), &member.token, json!({"content": "second"})).await;
    assert_error(&res, 429, 20016);
    let retry = res.1["retry_after"].as_f64().unwrap();
    assert!(retry > 0.0 && retry <= 60.0, "{retry}");
    // The owner is exempt.
    app.send(&owner, &ch, "one").await;
    app.send(&owner, &ch, "two").await;
}

#[tokio::test]
async fn reactions_and_pins() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, ch) = app.guild(&alice, "Chat").await;
    app.join(&alice, &ch, &bob).await;
    let msg = app.send(&bob, &ch, "react to me").await;
    let mid = msg["id"].as_str().unwrap();
    let base = format!("/channels/{ch}/messages/{mid}/reactions");

    for (user, emoji) in
        [(&alice, "%F0%9F%91%8D"), (&bob, "%F0%9F%91%8D"), (&bob, "%F0%9F%A6%80"), (&bob, "1%EF%B8%8F%E2%83%A3")]
    {
        let (status, body) = app.put(&format!("{base}/{emoji}/@me"), &user.token).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{emoji}: {body}");
    }
    // Reacting twice changes nothing.
    app.put(&format!("{base}/%F0%9F%91%8D/@me"), &alice.token).await;
    let (_, seen) = app.get(&format!("/channels/{ch}/messages/{mid}"), &alice.token).await;
    let reactions = seen["reactions"].as_array().unwrap();
    assert_eq!(reactions.len(), 3);
    assert_eq!(reactions[0]["emoji"]["name"], "👍");
    assert_eq!(reactions[0]["count"], 2);
    assert_eq!(reactions[0]["me"], true);
    assert_eq!(reactions[1]["emoji"]["name"], "🦀");
    assert_eq!(reactions[1]["me"], false);
    let (_, users) = app.get(&format!("{base}/%F0%9F%91%8D"), &alice.token).await;
    let mut who: Vec<_> = users.as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    who.sort();
    let mut expected = vec![alice.id.clone(), bob.id.clone()];
    expected.sort();
    assert_eq!(who, expected);

    assert_error(&app.put(&format!("{base}/abc/@me"), &alice.token).await, 400, 10014);
    assert_error(&app.put(&format!("{base}/custom:123/@me"), &alice.token).await, 400, 10014);
    assert_eq!(app.delete(&format!("{base}/%F0%9F%91%8D/@me"), &alice.token).await.0, StatusCode::NO_CONTENT);
    // Removing someone else's needs MANAGE_MESSAGES.
    assert_error(&app.delete(&format!("{base}/%F0%9F%A6%80/{}", alice.id), &bob.token).await, 403, 50013);
    assert_eq!(app.delete(&format!("{base}/%F0%9F%A6%80/{}", bob.id), &alice.token).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.delete(&base, &bob.token).await, 403, 50013);
    assert_eq!(app.delete(&format!("{base}/1%EF%B8%8F%E2%83%A3"), &alice.token).await.0, StatusCode::NO_CONTENT);
    let (_, seen) = app.get(&format!("/channels/{ch}/messages/{mid}"), &bob.token).await;
    assert_eq!(seen["reactions"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(app.delete(&base, &alice.token).await.0, StatusCode::NO_CONTENT);
    let (_, seen) = app.get(&format!("/channels/{ch}/messages/{mid}"), &bob.token).await;
    assert!(seen.get("reactions").is_none(), "{seen}");

    // Pins: members need PIN_MESSAGES or MANAGE_MESSAGES; the owner may.
    assert_error(&app.put(&format!("/channels/{ch}/pins/{mid}"), &bob.token).await, 403, 50013);
    assert_eq!(app.put(&format!("/channels/{ch}/pins/{mid}"), &alice.token).await.0, StatusCode::NO_CONTENT);
    let (_, pins) = app.get(&format!("/channels/{ch}/pins"), &bob.token).await;
    assert_eq!(ids(&pins), vec![mid.to_owned()]);
    assert_eq!(pins[0]["pinned"], true);
    let (_, paged) = app.get(&format!("/channels/{ch}/messages/pins"), &bob.token).await;
    assert_eq!(paged["items"][0]["message"]["id"], json!(mid));
    assert!(paged["items"][0]["pinned_at"].is_string());
    assert_eq!(paged["has_more"], false);
    let (_, channel) = app.get(&format!("/channels/{ch}"), &bob.token).await;
    assert!(channel["last_pin_timestamp"].is_string());
    assert_eq!(app.delete(&format!("/channels/{ch}/pins/{mid}"), &alice.token).await.0, StatusCode::NO_CONTENT);
    let (_, pins) = app.get(&format!("/channels/{ch}/pins"), &bob.token).await;
    assert_eq!(pins, json!([]));
}

#[tokio::test]
async fn direct_messages() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    // A DM needs a friendship or a guild in common.
    assert_error(&app.post("/users/@me/channels", &alice.token, json!({"recipient_id": bob.id})).await, 400, 50007);
    app.befriend(&alice, &bob).await;
    let (status, dm) = app.post("/users/@me/channels", &alice.token, json!({"recipient_id": bob.id})).await;
    assert_eq!(status, StatusCode::OK, "{dm}");
    assert_eq!(dm["type"], 1);
    assert_eq!(dm["recipients"][0]["id"], json!(bob.id));
    // The same channel, whoever opens it.
    let (_, again) = app.post("/users/@me/channels", &bob.token, json!({"recipient_id": alice.id})).await;
    assert_eq!(again["id"], dm["id"]);
    assert_eq!(again["recipients"][0]["id"], json!(alice.id));
    assert_error(&app.post("/users/@me/channels", &alice.token, json!({"recipient_id": alice.id})).await, 400, 50007);
    assert_error(&app.post("/users/@me/channels", &alice.token, json!({"recipient_id": "42"})).await, 404, 10013);

    let dmid = dm["id"].as_str().unwrap();
    let hello = app.send(&alice, dmid, &format!("hello <@{}>", bob.id)).await;
    assert_eq!(hello["mentions"][0]["id"], json!(bob.id));
    let reply = app.send(&bob, dmid, "hi!").await;
    let (_, history) = app.get(&format!("/channels/{dmid}/messages"), &alice.token).await;
    assert_eq!(ids(&history), vec![reply["id"].as_str().unwrap().to_owned(), hello["id"].as_str().unwrap().to_owned()]);
    // Reactions and pins work in DMs, for both.
    let mid = hello["id"].as_str().unwrap();
    assert_eq!(
        app.put(&format!("/channels/{dmid}/messages/{mid}/reactions/%E2%9D%A4%EF%B8%8F/@me"), &bob.token).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.put(&format!("/channels/{dmid}/pins/{mid}"), &bob.token).await.0, StatusCode::NO_CONTENT);
    let (_, pins) = app.get(&format!("/channels/{dmid}/pins"), &alice.token).await;
    assert_eq!(pins[0]["reactions"][0]["count"], 1);
    // Nobody else reads or writes.
    assert_error(&app.get(&format!("/channels/{dmid}/messages"), &eve.token).await, 403, 50001);
    assert_error(
        &app.post(&format!("/channels/{dmid}/messages"), &eve.token, json!({"content": "hi"})).await,
        403,
        50001,
    );
    // DMs cannot be edited like guild channels, and deleting only closes.
    assert_error(&app.patch(&format!("/channels/{dmid}"), &alice.token, json!({"name": "x"})).await, 400, 50024);
    assert_eq!(app.delete(&format!("/channels/{dmid}"), &alice.token).await.0, StatusCode::OK);
    assert_eq!(app.get(&format!("/channels/{dmid}/messages"), &bob.token).await.1.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn applications_and_bots() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner").await;
    let other = app.register("other").await;
    let (guild, ch) = app.guild(&owner, "Bots").await;
    let gid = guild["id"].as_str().unwrap();

    let (status, created) = app.post("/applications", &owner.token, json!({"name": "Helper Bot"})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let app_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["bot"]["id"], json!(app_id), "a bot user has its application's id");
    assert_eq!(created["bot"]["bot"], true);
    assert_eq!(created["owner"]["id"], json!(owner.id));
    let bot_token = format!("Bot {}", created["token"].as_str().unwrap());

    // A bot token works only as a bot token.
    let (status, me) = app.get("/users/@me", &bot_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["bot"], true);
    assert_error(&app.get("/users/@me", created["token"].as_str().unwrap()).await, 401, 40001);
    assert_error(&app.get("/users/@me", &format!("Bot {}", owner.token)).await, 401, 40001);
    let (status, info) = app.get("/oauth2/applications/@me", &bot_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["id"], json!(app_id));
    assert_eq!(info["owner"]["id"], json!(owner.id));
    assert_error(&app.get("/oauth2/applications/@me", &owner.token).await, 404, 10002);

    // Bots cannot make guilds or join by invite.
    assert_error(&app.post("/guilds", &bot_token, json!({"name": "mine"})).await, 403, 20001);

    // Someone without MANAGE_GUILD cannot add it; the owner can.
    app.join(&owner, &ch, &other).await;
    let add = format!("/oauth2/authorize?client_id={app_id}&scope=bot&permissions=2048&guild_id={gid}");
    assert_error(&app.post(&add, &other.token, json!({})).await, 403, 50013);
    assert_error(
        &app.post(
            &format!("/oauth2/authorize?client_id={app_id}&scope=identify&guild_id={gid}"),
            &owner.token,
            json!({}),
        )
        .await,
        400,
        50035,
    );
    let (status, body) = app.post(&add, &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, guilds) = app.get("/users/@me/guilds", &bot_token).await;
    assert_eq!(guilds[0]["id"], json!(gid));
    // The permissions asked for became the bot's managed role.
    let (_, roles) = app.get(&format!("/guilds/{gid}/roles"), &owner.token).await;
    let managed = roles.as_array().unwrap().iter().find(|r| r["managed"] == true).expect("a managed role");
    assert_eq!(managed["permissions"], "2048");
    let (_, member) = app.get(&format!("/guilds/{gid}/members/{app_id}"), &owner.token).await;
    assert_eq!(member["roles"], json!([managed["id"]]));
    assert_error(
        &app.delete(&format!("/guilds/{gid}/roles/{}", managed["id"].as_str().unwrap()), &owner.token).await,
        400,
        50028,
    );

    // The bot posts; a user reads it.
    let posted = app
        .send(
            &crate::common::TestUser { id: app_id.clone(), token: bot_token.clone(), username: "helper_bot".into() },
            &ch,
            "beep",
        )
        .await;
    assert_eq!(posted["author"]["bot"], true);

    // Resetting the token revokes the old one; only the owner may.
    assert_error(&app.post(&format!("/applications/{app_id}/bot/reset"), &other.token, json!({})).await, 403, 50001);
    let (status, reset) = app.post(&format!("/applications/{app_id}/bot/reset"), &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(&app.get("/users/@me", &bot_token).await, 401, 40001);
    let fresh = format!("Bot {}", reset["token"].as_str().unwrap());
    assert_eq!(app.get("/users/@me", &fresh).await.0, StatusCode::OK);

    // A second application with the same name gets a distinct username.
    let (_, twin) = app.post("/applications", &owner.token, json!({"name": "Helper Bot"})).await;
    assert_ne!(twin["bot"]["username"], created["bot"]["username"]);
}

#[tokio::test]
async fn the_default_api_path_serves_too() {
    // discord.js and older clients call /api/... without a version.
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let url = format!("http://{}/api/users/@me", app.addr());
    let (status, me) = app.get(&url, &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], json!(alice.id));
    assert_error(&app.get(&format!("http://{}/api/v10/nowhere", app.addr()), &alice.token).await, 404, 0);
    assert_error(&app.call(Method::PUT, "/users/@me", Some(&alice.token), None).await, 405, 0);
}
