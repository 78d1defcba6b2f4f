//! `with_counts=true`: member and presence counts of invites and guilds, as
//! the invite page shows them ("1 online · 2 members").

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::TestApp;

const GUILDS: u64 = 1;

async fn counts(app: &TestApp, path: &str, token: Option<&str>) -> (Value, Value) {
    let (status, body) = app.call(Method::GET, path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    (body["approximate_member_count"].clone(), body["approximate_presence_count"].clone())
}

/// Polls until `path` reports `want` (member, presence): presences change
/// through the gateway, a moment after the socket's frames.
async fn until(app: &TestApp, path: &str, token: Option<&str>, want: (u64, u64)) {
    let want = (json!(want.0), json!(want.1));
    let mut last = (Value::Null, Value::Null);
    for _ in 0..100 {
        last = counts(app, path, token).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path}: wanted {want:?}, last {last:?}");
}

#[tokio::test]
async fn invite_and_guild_counts_include_who_is_online() {
    let app = TestApp::spawn().await;
    let owner = app.register("inviter").await;
    let member = app.register("quiet").await;
    let (guild, general) = app.guild(&owner, "Counted").await;
    let gid = guild["id"].as_str().unwrap();
    app.join(&owner, &general, &member).await;
    let (_, invite) = app.post(&format!("/channels/{general}/invites"), &owner.token, json!({})).await;
    let invite_path = format!("/invites/{}?with_counts=true", invite["code"].as_str().unwrap());
    let guild_path = format!("/guilds/{gid}?with_counts=true");

    // Nobody connected: two members, none online.
    until(&app, &invite_path, None, (2, 0)).await;
    until(&app, &guild_path, Some(&owner.token), (2, 0)).await;

    // The inviter opens the client: one online, as on their invite page.
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, GUILDS).await;
    until(&app, &invite_path, None, (2, 1)).await;
    until(&app, &guild_path, Some(&owner.token), (2, 1)).await;
    let (status, mine) = app.get("/users/@me/guilds?with_counts=true", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        (mine[0]["approximate_member_count"].clone(), mine[0]["approximate_presence_count"].clone()),
        (json!(2), json!(1))
    );

    // Invisible looks offline to others, counts included.
    let mut other = app.gateway("").await;
    other
        .identify_with(json!({"token": member.token, "intents": GUILDS, "properties": {"os": "linux", "browser": "test", "device": "test"},
            "presence": {"since": null, "activities": [], "status": "invisible", "afk": false}}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    until(&app, &invite_path, None, (2, 1)).await;
    other.send(json!({"op": 3, "d": {"since": null, "activities": [], "status": "idle", "afk": false}})).await;
    until(&app, &invite_path, None, (2, 2)).await;

    // Without `with_counts`, no counts.
    let (_, plain) = counts(&app, invite_path.trim_end_matches("?with_counts=true"), None).await;
    assert_eq!(plain, Value::Null);
}
