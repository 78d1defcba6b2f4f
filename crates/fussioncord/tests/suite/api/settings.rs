//! A person's settings (`/users/@me/settings`): persisted, synced to their
//! other sessions, in READY; the saved status and custom status as the
//! presence others see; profile changes (`PATCH /users/@me`) reaching the
//! user's sessions.

use serde_json::{json, Value};

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{assert_error, TestApp};

/// The next PRESENCE_UPDATE about `user` (others' are skipped).
async fn presence_of(gw: &mut Gateway, user: &str) -> Value {
    loop {
        let p = gw.dispatch("PRESENCE_UPDATE").await;
        if p["d"]["user"]["id"] == json!(user) {
            return p["d"].clone();
        }
    }
}

#[tokio::test]
async fn settings_persist_reach_other_sessions_and_ready() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;

    let (status, defaults) = app.get("/users/@me/settings", &alice.token).await;
    assert_eq!(status, 200, "{defaults}");
    assert_eq!(
        defaults,
        json!({
            "status": "online", "custom_status": null, "theme": "dark", "locale": "en-US",
            "message_display_compact": false, "developer_mode": false,
        })
    );

    let mut phone = app.gateway("").await;
    let ready = phone.identify(&alice.token, ALL_INTENTS).await;
    assert_eq!(ready["user_settings"], defaults, "READY carries the settings");

    let patch = json!({
        "theme": "light",
        "developer_mode": true,
        "custom_status": { "text": "Gone fishing", "emoji_name": "🎣", "expires_at": "2999-01-01T00:00:00+00:00" },
    });
    let (status, saved) = app.patch("/users/@me/settings", &alice.token, patch).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["theme"], "light");
    assert_eq!(saved["developer_mode"], true);
    assert_eq!(saved["status"], "online", "untouched");
    assert_eq!(saved["custom_status"]["text"], "Gone fishing");
    assert_eq!(saved["custom_status"]["emoji_name"], "🎣");
    assert!(saved["custom_status"]["expires_at"].as_str().unwrap().starts_with("2999-01-01T00:00:00"));

    // The other session hears what changed, and only that.
    let update = phone.dispatch("USER_SETTINGS_UPDATE").await["d"].clone();
    let keys: Vec<&str> = update.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{update}");
    assert_eq!(
        (&update["theme"], &update["developer_mode"], &update["custom_status"]),
        (&saved["theme"], &saved["developer_mode"], &saved["custom_status"])
    );

    // A locale set here is the account's locale too.
    let (_, saved) = app.patch("/users/@me/settings", &alice.token, json!({ "locale": "fr" })).await;
    assert_eq!(saved["locale"], "fr");
    assert_eq!(phone.dispatch("USER_SETTINGS_UPDATE").await["d"], json!({ "locale": "fr" }));
    assert_eq!(phone.dispatch("USER_UPDATE").await["d"]["locale"], "fr");
    assert_eq!(app.get("/users/@me", &alice.token).await.1["locale"], "fr");

    // An expired custom status no longer shows.
    let past = json!({ "custom_status": { "text": "Old news", "expires_at": "2001-01-01T00:00:00Z" } });
    let (_, saved) = app.patch("/users/@me/settings", &alice.token, past).await;
    assert_eq!(saved["custom_status"], Value::Null);
    let (_, saved) =
        app.patch("/users/@me/settings", &alice.token, json!({ "custom_status": { "text": "Back" } })).await;
    assert_eq!(saved["custom_status"]["text"], "Back");

    let (_, now) = app.get("/users/@me/settings", &alice.token).await;
    assert_eq!(now, saved, "persisted");
    let mut laptop = app.gateway("").await;
    assert_eq!(laptop.identify(&alice.token, ALL_INTENTS).await["user_settings"], now);

    // Refused changes change nothing; bots have no settings.
    let refused = app.patch("/users/@me/settings", &alice.token, json!({ "theme": "light", "status": "away" })).await;
    assert_error(&refused, 400, 50035);
    assert_eq!(refused.1["errors"]["status"]["_errors"][0]["code"], "BASE_TYPE_CHOICES");
    assert_eq!(app.get("/users/@me/settings", &alice.token).await.1, now);
    let bot = app.bot(&alice, "Settler", false).await;
    assert_error(&app.get("/users/@me/settings", &bot.token).await, 403, 20001);
    assert_error(&app.patch("/users/@me/settings", &bot.token, json!({ "theme": "light" })).await, 403, 20001);
    let mut bot_gw = app.gateway("").await;
    assert_eq!(bot_gw.identify(&bot.token, 1).await["user_settings"], json!({}));
}

#[tokio::test]
async fn the_saved_status_is_the_presence_others_see() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, channel) = app.guild(&bob, "Statuses").await;
    app.join(&bob, &channel, &alice).await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&bob.token, ALL_INTENTS).await;

    // Set while offline: nobody hears of it until alice connects, and then
    // she appears as she chose, custom status included.
    let chosen = json!({ "status": "idle", "custom_status": { "text": "Reading", "emoji_name": "📚" } });
    assert_eq!(app.patch("/users/@me/settings", &alice.token, chosen).await.0, 200);
    let mut alice_gw = app.gateway("").await;
    alice_gw.identify(&alice.token, ALL_INTENTS).await;
    let seen = presence_of(&mut watcher, &alice.id).await;
    assert_eq!(seen["status"], "idle");
    assert_eq!(
        seen["activities"],
        json!([{ "type": 4, "name": "Custom Status", "state": "Reading", "emoji": { "name": "📚" } }])
    );

    // Changed while connected: everyone sharing a guild hears at once, as
    // after op 3, and the custom status stays.
    app.patch("/users/@me/settings", &alice.token, json!({ "status": "dnd" })).await;
    let seen = presence_of(&mut watcher, &alice.id).await;
    assert_eq!((seen["status"].clone(), seen["activities"][0]["state"].clone()), (json!("dnd"), json!("Reading")));
    app.patch("/users/@me/settings", &alice.token, json!({ "custom_status": { "text": "Writing" } })).await;
    let seen = presence_of(&mut watcher, &alice.id).await;
    assert_eq!(seen["status"], "dnd");
    assert_eq!(seen["activities"], json!([{ "type": 4, "name": "Custom Status", "state": "Writing" }]));

    // Invisible looks offline, also to someone connecting afterwards.
    app.patch("/users/@me/settings", &alice.token, json!({ "status": "invisible" })).await;
    let seen = presence_of(&mut watcher, &alice.id).await;
    assert_eq!(seen["status"], "offline");
    assert_eq!(seen["client_status"], json!({}));
    let mut late = app.gateway("").await;
    late.identify(&bob.token, ALL_INTENTS).await;
    let snapshot = late.dispatch("GUILD_CREATE").await;
    let presences = snapshot["d"]["presences"].as_array().unwrap();
    assert!(presences.iter().all(|p| p["user"]["id"] != json!(alice.id)), "{presences:?}");
    assert!(presences.iter().any(|p| p["user"]["id"] == json!(bob.id)), "the check can see someone: {presences:?}");

    app.patch("/users/@me/settings", &alice.token, json!({ "status": "online", "custom_status": null })).await;
    let seen = presence_of(&mut watcher, &alice.id).await;
    assert_eq!((seen["status"].clone(), seen["activities"].clone()), (json!("online"), json!([])));

    // A presence IDENTIFY gives wins over the saved one.
    let mut other = app.gateway("").await;
    other
        .identify_with(json!({
            "token": alice.token, "intents": ALL_INTENTS, "properties": {"os": "linux", "browser": "t", "device": "t"},
            "presence": { "status": "dnd", "activities": [], "since": null, "afk": false },
        }))
        .await;
    assert_eq!(presence_of(&mut watcher, &alice.id).await["status"], "dnd");
    assert_eq!(app.get("/users/@me/settings", &alice.token).await.1["status"], "online", "the saved one stays");
}

#[tokio::test]
async fn profile_changes_reach_the_users_sessions_and_everyone_who_looks() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (_, channel) = app.guild(&alice, "Profiles").await;
    app.join(&alice, &channel, &bob).await;
    let mut phone = app.gateway("").await;
    phone.identify(&alice.token, ALL_INTENTS).await;
    let mut bobs = app.gateway("").await;
    bobs.identify(&bob.token, ALL_INTENTS).await;

    let (status, me) =
        app.patch("/users/@me", &alice.token, json!({ "username": "alicia", "global_name": "Alicia" })).await;
    assert_eq!(status, 200, "{me}");
    let update = phone.dispatch("USER_UPDATE").await["d"].clone();
    assert_eq!((update["username"].clone(), update["global_name"].clone()), (json!("alicia"), json!("Alicia")));
    // Other members hear of it through the member, as on Discord.
    let member = bobs.dispatch("GUILD_MEMBER_UPDATE").await["d"].clone();
    assert_eq!(member["user"]["username"], "alicia");
    let (_, seen) = app.get(&format!("/users/{}", alice.id), &bob.token).await;
    assert_eq!((seen["username"].clone(), seen["global_name"].clone()), (json!("alicia"), json!("Alicia")));

    // Usernames stay unique.
    let taken = app.patch("/users/@me", &alice.token, json!({ "username": "bob", "global_name": "Bobby" })).await;
    assert_error(&taken, 400, 50035);
    assert_eq!(taken.1["errors"]["username"]["_errors"][0]["code"], "USERNAME_ALREADY_TAKEN");
    let (_, after) = app.get("/users/@me", &alice.token).await;
    assert_eq!((after["username"].clone(), after["global_name"].clone()), (json!("alicia"), json!("Alicia")));

    // Bots edit their own profile too.
    let bot = app.bot(&alice, "Helper", false).await;
    let (status, renamed) = app.patch("/users/@me", &bot.token, json!({ "username": "helper2" })).await;
    assert_eq!(
        (status.as_u16(), renamed["username"].clone(), renamed["bot"].clone()),
        (200, json!("helper2"), json!(true))
    );
}
