//! Custom emojis and stickers through the public surface: CRUD with their
//! events and audit entries, names, sizes and bytes checked, slots,
//! permissions, reactions with custom emojis, stickers on messages, and
//! the CDN paths serving the uploaded bytes.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{assert_error, TestApp, TestUser};

const MANAGE_GUILD_EXPRESSIONS: u64 = 1 << 30;
const CREATE_GUILD_EXPRESSIONS: u64 = 1 << 43;

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A PNG: signature, a 32×32 IHDR chunk (with a stand-in CRC), then
/// filler up to `len`.
fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x20\0\0\0\x20\x08\x06\0\0\0".to_vec();
    b.extend([0, 0, 0, 0]);
    b.extend((0..len.saturating_sub(b.len())).map(|i| (i * 7 % 251) as u8));
    b
}

/// An animated PNG: IHDR, then an `acTL` chunk before the image data.
fn apng() -> Vec<u8> {
    let mut b = png(0);
    b.extend(b"\0\0\0\x08acTL\0\0\0\x02\0\0\0\0");
    b.extend([0, 0, 0, 0]);
    b.extend(b"\0\0\0\x02IDAT\x78\x9c");
    b.extend([0, 0, 0, 0]);
    b
}

/// A 1×1 GIF of `frames` frames (each an image descriptor and a tiny data
/// sub-block), with the looping extension animated GIFs carry.
fn gif(frames: usize) -> Vec<u8> {
    let mut b = b"GIF89a\x01\0\x01\0\0\0\0".to_vec();
    b.extend(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
    for _ in 0..frames {
        b.extend(b"\x21\xf9\x04\0\x0a\0\0\0");
        b.extend(b"\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0");
    }
    b.push(0x3b);
    b
}

/// An extended WebP (VP8X) of 32×32, animated or not.
fn webp(animated: bool) -> Vec<u8> {
    let mut b = b"RIFF\x24\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
    b.push(if animated { 0x02 } else { 0 });
    b.extend([0, 0, 0]);
    b.extend(&31u32.to_le_bytes()[..3]);
    b.extend(&31u32.to_le_bytes()[..3]);
    b.extend(b"ANIM\x06\0\0\0\0\0\0\0\0\0");
    b
}

async fn cdn(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(format!("http://{}{path}", app.addr())).send().await.unwrap()
}

/// The files the media store keeps under `dir` (`emojis`, `stickers`).
async fn stored(app: &TestApp, dir: &str) -> usize {
    app.media_keys(&format!("{dir}/")).await.len()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// A guild of `owner` that `member` joined, with the member's session.
struct Guild {
    app: TestApp,
    owner: TestUser,
    member: TestUser,
    guild: String,
    channel: String,
}

impl Guild {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let owner = app.register("owner").await;
        let member = app.register("member").await;
        let (guild, channel) = app.guild(&owner, "Expressive").await;
        app.join(&owner, &channel, &member).await;
        Self { guild: guild["id"].as_str().unwrap().to_owned(), app, owner, member, channel }
    }

    async fn session(&self, user: &TestUser, intents: u64) -> Gateway {
        let mut gw = self.app.gateway("").await;
        gw.identify(&user.token, intents).await;
        gw
    }

    /// Gives `user` a role holding `permissions`.
    async fn grant(&self, user: &TestUser, permissions: u64) {
        let (status, role) = self
            .app
            .post(
                &format!("/guilds/{}/roles", self.guild),
                &self.owner.token,
                json!({ "name": "expressive", "permissions": permissions.to_string() }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{role}");
        let path = format!("/guilds/{}/members/{}/roles/{}", self.guild, user.id, role["id"].as_str().unwrap());
        assert_eq!(self.app.put(&path, &self.owner.token).await.0, StatusCode::NO_CONTENT);
    }

    fn emojis(&self) -> String {
        format!("/guilds/{}/emojis", self.guild)
    }

    async fn create_emoji(&self, user: &TestUser, name: &str, uri: String) -> (StatusCode, Value) {
        self.app.post(&self.emojis(), &user.token, json!({ "name": name, "image": uri })).await
    }

    async fn audit_actions(&self) -> Vec<(u64, String)> {
        let (_, log) = self.app.get(&format!("/guilds/{}/audit-logs", self.guild), &self.owner.token).await;
        log["audit_log_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action_type"].as_u64().unwrap(), e["target_id"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// `POST /guilds/{id}/stickers` as multipart/form-data.
    async fn create_sticker(&self, user: &TestUser, name: &str, file: (&str, &str, Vec<u8>)) -> (StatusCode, Value) {
        let boundary = "fussioncord-boundary-7d1c";
        let mut body = Vec::new();
        for (field, value) in [("name", name), ("description", "A sticker for tests"), ("tags", "wave")] {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").bytes(),
            );
        }
        let (filename, mime, bytes) = file;
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: {mime}\r\n\r\n"
            )
            .bytes(),
        );
        body.extend(bytes);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        let res = self
            .app
            .client
            .post(format!("{}/guilds/{}/stickers", self.app.base, self.guild))
            .header("Authorization", &user.token)
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(header(&res, "content-type"), "application/json");
        (status, res.json().await.unwrap())
    }
}

#[tokio::test]
async fn emoji_create_list_edit_delete_with_events_audit_and_cdn() {
    let g = Guild::new().await;
    let mut watcher = g.session(&g.member, ALL_INTENTS).await;
    // Without GUILD_EXPRESSIONS (1 << 3) no GUILD_EMOJIS_UPDATE arrives.
    let mut deaf = g.session(&g.member, ALL_INTENTS & !(1 << 3)).await;

    let image = png(500);
    let (status, emoji) = g.create_emoji(&g.owner, "party_blob", data_uri("image/png", &image)).await;
    assert_eq!(status, StatusCode::CREATED, "{emoji}");
    let id = emoji["id"].as_str().unwrap().to_owned();
    assert_eq!(emoji["name"], "party_blob");
    assert_eq!(emoji["animated"], false);
    assert_eq!(
        (&emoji["require_colons"], &emoji["managed"], &emoji["available"], &emoji["roles"]),
        (&json!(true), &json!(false), &json!(true), &json!([]))
    );
    assert_eq!(emoji["user"]["id"], json!(g.owner.id), "the uploader, to those who manage expressions");

    let update = watcher.dispatch("GUILD_EMOJIS_UPDATE").await;
    assert_eq!(update["d"]["guild_id"], json!(g.guild));
    assert_eq!(update["d"]["emojis"].as_array().unwrap().len(), 1);
    assert_eq!(update["d"]["emojis"][0]["id"], json!(id));
    assert_eq!(update["d"]["emojis"][0]["name"], "party_blob");

    // The list and the emoji; a plain member does not see the uploader.
    let (_, list) = g.app.get(&g.emojis(), &g.owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["user"]["id"], json!(g.owner.id));
    let (status, seen) = g.app.get(&format!("{}/{id}", g.emojis()), &g.member.token).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["name"], "party_blob");
    assert!(seen.get("user").is_none(), "{seen}");
    // The guild object and GUILD_CREATE carry it.
    let (_, guild) = g.app.get(&format!("/guilds/{}", g.guild), &g.member.token).await;
    assert_eq!(guild["emojis"][0]["id"], json!(id), "{guild}");
    let mut later = g.app.gateway("").await;
    later.identify(&g.member.token, ALL_INTENTS).await;
    let create = later.dispatch("GUILD_CREATE").await;
    assert_eq!(create["d"]["emojis"][0]["id"], json!(id));
    assert_eq!(create["d"]["emojis"][0]["name"], "party_blob");

    // The CDN path serves the same bytes, cached for long, never sniffed.
    let res = cdn(&g.app, &format!("/emojis/{id}.png")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "image/png");
    assert!(header(&res, "cache-control").contains("max-age=31536000"), "{}", header(&res, "cache-control"));
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(res.bytes().await.unwrap().to_vec(), image);
    assert_eq!(cdn(&g.app, &format!("/emojis/{id}.webp?size=48")).await.status(), 200, "any image extension");
    assert_eq!(cdn(&g.app, &format!("/emojis/{id}.txt")).await.status(), 404);
    assert_eq!(cdn(&g.app, "/emojis/1234.png").await.status(), 404);
    let file = format!("emojis/{id}.png");
    assert_eq!(
        g.app.media_object(&file).await,
        Some(image.clone()),
        "kept in the media store, under a key the server built"
    );

    // Renamed.
    let (status, renamed) =
        g.app.patch(&format!("{}/{id}", g.emojis()), &g.owner.token, json!({ "name": "blob_party" })).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "blob_party");
    let update = watcher.dispatch("GUILD_EMOJIS_UPDATE").await;
    assert_eq!(update["d"]["emojis"][0]["name"], "blob_party");
    let (_, guild) = g.app.get(&format!("/guilds/{}", g.guild), &g.owner.token).await;
    assert_eq!(guild["emojis"][0]["name"], "blob_party");
    // GUILD_UPDATE carries the list too (libraries replace their cache from it).
    g.app.patch(&format!("/guilds/{}", g.guild), &g.owner.token, json!({ "name": "Renamed" })).await;
    let update = watcher.dispatch("GUILD_UPDATE").await;
    assert_eq!(update["d"]["emojis"][0]["name"], "blob_party", "{update}");

    // Deleted: the event lists none, the image is gone, the id is unknown.
    let (status, _) = g.app.delete(&format!("{}/{id}", g.emojis()), &g.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let update = watcher.dispatch("GUILD_EMOJIS_UPDATE").await;
    assert_eq!(update["d"]["emojis"], json!([]));
    assert_error(&g.app.get(&format!("{}/{id}", g.emojis()), &g.owner.token).await, 404, 10014);
    assert_error(&g.app.delete(&format!("{}/{id}", g.emojis()), &g.owner.token).await, 404, 10014);
    assert_eq!(cdn(&g.app, &format!("/emojis/{id}.png")).await.status(), 404);
    assert_eq!(g.app.media_object(&file).await, None);

    let actions = g.audit_actions().await;
    for action in [60, 61, 62] {
        assert!(actions.contains(&(action, id.clone())), "audit action {action} for {id}: {actions:?}");
    }
    let quiet = deaf.dispatches(std::time::Duration::from_millis(300)).await;
    assert!(quiet.iter().all(|d| d["t"] != "GUILD_EMOJIS_UPDATE"), "{quiet:?}");
}

#[tokio::test]
async fn emoji_animation_is_read_from_the_bytes_not_the_declared_type() {
    let g = Guild::new().await;
    let cases = [
        ("moving_gif", data_uri("image/png", &gif(2)), true, "gif", "image/gif"),
        ("still_gif", data_uri("image/gif", &gif(1)), false, "gif", "image/gif"),
        ("moving_webp", data_uri("image/png", &webp(true)), true, "webp", "image/webp"),
        ("still_webp", data_uri("image/webp", &webp(false)), false, "webp", "image/webp"),
        ("png_called_gif", data_uri("image/gif", &png(100)), false, "png", "image/png"),
    ];
    for (name, uri, animated, ext, mime) in cases {
        let (status, emoji) = g.create_emoji(&g.owner, name, uri.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {emoji}");
        assert_eq!(emoji["animated"], json!(animated), "{name}");
        let res = cdn(&g.app, &format!("/emojis/{}.{ext}", emoji["id"].as_str().unwrap())).await;
        assert_eq!((res.status().as_u16(), header(&res, "content-type")), (200, mime.to_owned()), "{name}");
        let sent = base64::engine::general_purpose::STANDARD.decode(uri.split_once(',').unwrap().1).unwrap();
        assert_eq!(res.bytes().await.unwrap().to_vec(), sent, "{name}");
    }
}

#[tokio::test]
async fn bad_emojis_are_refused_with_field_errors_and_change_nothing() {
    let g = Guild::new().await;
    let good = data_uri("image/png", &png(200));
    let name_cases = ["a", &"x".repeat(33), "bad-name", "has space", "émoji", ""];
    for name in name_cases {
        let refused = g.create_emoji(&g.owner, name, good.clone()).await;
        assert_error(&refused, 400, 50035);
        assert!(refused.1["errors"]["name"]["_errors"][0]["code"].is_string(), "{name:?}: {}", refused.1);
    }
    let image_cases = [
        ("too large", data_uri("image/png", &png(256 * 1024 + 1)), "BINARY_TYPE_MAX_SIZE"),
        ("not an image", data_uri("image/png", b"hello, I am text and not a picture"), "IMAGE_INVALID"),
        ("not a data URI", "https://example.com/a.png".to_owned(), "IMAGE_INVALID"),
        ("not an image type", data_uri("text/plain", &png(100)), "IMAGE_INVALID"),
    ];
    for (what, uri, code) in image_cases {
        let refused = g.create_emoji(&g.owner, "fine_name", uri).await;
        assert_error(&refused, 400, 50035);
        assert_eq!(refused.1["errors"]["image"]["_errors"][0]["code"], code, "{what}: {}", refused.1);
    }
    // Both fields wrong: both reported. No image at all: required.
    let refused = g.create_emoji(&g.owner, "x", data_uri("image/png", b"nope")).await;
    assert!(refused.1["errors"]["name"].is_object() && refused.1["errors"]["image"].is_object(), "{}", refused.1);
    let refused = g.app.post(&g.emojis(), &g.owner.token, json!({ "name": "no_image" })).await;
    assert_eq!(refused.1["errors"]["image"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED", "{}", refused.1);
    // An unknown role in the whitelist.
    let refused =
        g.app.post(&g.emojis(), &g.owner.token, json!({ "name": "roled", "image": good, "roles": ["1"] })).await;
    assert_error(&refused, 400, 50035);
    // The largest allowed passes.
    let (status, body) = g.create_emoji(&g.owner, "largest", data_uri("image/png", &png(256 * 1024))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (_, list) = g.app.get(&g.emojis(), &g.owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "only the good one: {list}");
    assert_eq!(stored(&g.app, "emojis").await, 1, "no file of a refused upload is kept");
    // A bad rename changes nothing.
    let id = list[0]["id"].as_str().unwrap();
    assert_error(
        &g.app.patch(&format!("{}/{id}", g.emojis()), &g.owner.token, json!({ "name": "b" })).await,
        400,
        50035,
    );
    assert_eq!(g.app.get(&format!("{}/{id}", g.emojis()), &g.owner.token).await.1["name"], "largest");
}

#[tokio::test]
async fn emoji_slots_are_fifty_of_each_kind() {
    let g = Guild::new().await;
    let still = data_uri("image/png", &png(100));
    for i in 0..50 {
        let (status, body) = g.create_emoji(&g.owner, &format!("still_{i}"), still.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {body}");
    }
    assert_error(&g.create_emoji(&g.owner, "one_too_many", still.clone()).await, 400, 30008);
    // Animated emojis have slots of their own.
    let (status, body) = g.create_emoji(&g.owner, "moving", data_uri("image/gif", &gif(2))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, list) = g.app.get(&g.emojis(), &g.owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 51);
    assert_eq!(stored(&g.app, "emojis").await, 51, "the refused upload's file is not kept");
}

#[tokio::test]
async fn emoji_permissions_manage_any_create_own() {
    let g = Guild::new().await;
    let image = data_uri("image/png", &png(100));
    // No permission: refused, nothing made.
    assert_error(&g.create_emoji(&g.member, "nope", image.clone()).await, 403, 50013);
    let outsider = g.app.register("outsider").await;
    let refused = g.create_emoji(&outsider, "nope", image.clone()).await;
    assert!(refused.0 == 403 || refused.0 == 404, "an outsider: {refused:?}");
    let (_, owners) = g.create_emoji(&g.owner, "owners", image.clone()).await;
    let owners = owners["id"].as_str().unwrap().to_owned();

    // CREATE_GUILD_EXPRESSIONS: creates, edits and deletes its own only.
    g.grant(&g.member, CREATE_GUILD_EXPRESSIONS).await;
    let (status, mine) = g.create_emoji(&g.member, "members", image.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    let mine = mine["id"].as_str().unwrap().to_owned();
    let path = |id: &str| format!("{}/{id}", g.emojis());
    let (status, body) = g.app.patch(&path(&mine), &g.member.token, json!({ "name": "members_own" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_error(&g.app.patch(&path(&owners), &g.member.token, json!({ "name": "taken" })).await, 403, 50013);
    assert_error(&g.app.delete(&path(&owners), &g.member.token).await, 403, 50013);
    assert_eq!(g.app.get(&path(&owners), &g.owner.token).await.1["name"], "owners", "unchanged");

    // MANAGE_GUILD_EXPRESSIONS: any.
    let manager = g.app.register("manager").await;
    g.app.join(&g.owner, &g.channel, &manager).await;
    g.grant(&manager, MANAGE_GUILD_EXPRESSIONS).await;
    let (status, body) = g.app.patch(&path(&mine), &manager.token, json!({ "name": "renamed" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(g.app.delete(&path(&mine), &manager.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(g.app.delete(&path(&owners), &manager.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(g.app.get(&g.emojis(), &g.owner.token).await.1, json!([]));
}

#[tokio::test]
async fn reactions_with_custom_emojis_render_and_unknown_ids_are_10014() {
    let g = Guild::new().await;
    let mut watcher = g.session(&g.member, ALL_INTENTS).await;
    let (_, emoji) = g.create_emoji(&g.owner, "blob", data_uri("image/gif", &gif(2))).await;
    let id = emoji["id"].as_str().unwrap().to_owned();
    let message = g.app.send(&g.owner, &g.channel, &format!("look <a:blob:{id}>")).await;
    assert_eq!(message["content"], format!("look <a:blob:{id}>"), "custom emoji markup is text");
    let mid = message["id"].as_str().unwrap();
    let reactions = format!("/channels/{}/messages/{mid}/reactions", g.channel);

    // `name:id`, URL-encoded, as bot libraries send it.
    let (status, body) = g.app.put(&format!("{reactions}/blob%3A{id}/@me"), &g.member.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let add = watcher.dispatch("MESSAGE_REACTION_ADD").await;
    assert_eq!(add["d"]["emoji"], json!({ "id": id, "name": "blob", "animated": true }));
    assert_eq!(add["d"]["user_id"], json!(g.member.id));
    // Not encoded, and with another name: the same emoji, one reaction.
    let (status, _) = g.app.put(&format!("{reactions}/whatever:{id}/@me"), &g.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, seen) = g.app.get(&format!("/channels/{}/messages/{mid}", g.channel), &g.owner.token).await;
    assert_eq!(seen["reactions"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen["reactions"][0]["emoji"]["id"], json!(id));
    assert_eq!(seen["reactions"][0]["emoji"]["name"], "blob");
    assert_eq!(seen["reactions"][0]["count"], 2);
    assert_eq!(seen["reactions"][0]["me"], true);
    let (status, users) = g.app.get(&format!("{reactions}/blob:{id}"), &g.owner.token).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users.as_array().unwrap().len(), 2);

    // Unknown custom emojis: 10014, nothing added.
    assert_error(&g.app.put(&format!("{reactions}/ghost:1234567890/@me"), &g.member.token).await, 400, 10014);
    assert_error(&g.app.put(&format!("{reactions}/ghost:notanid/@me"), &g.member.token).await, 400, 10014);
    let (_, seen) = g.app.get(&format!("/channels/{}/messages/{mid}", g.channel), &g.owner.token).await;
    assert_eq!(seen["reactions"].as_array().unwrap().len(), 1);

    // A rename shows on the message; removing works by id.
    g.app.patch(&format!("{}/{id}", g.emojis()), &g.owner.token, json!({ "name": "blob_two" })).await;
    let (_, seen) = g.app.get(&format!("/channels/{}/messages/{mid}", g.channel), &g.member.token).await;
    assert_eq!(seen["reactions"][0]["emoji"]["name"], "blob_two");
    let (status, _) = g.app.delete(&format!("{reactions}/blob:{id}/@me"), &g.member.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let remove = watcher.dispatch("MESSAGE_REACTION_REMOVE").await;
    assert_eq!(remove["d"]["emoji"]["id"], json!(id));
    assert_eq!(remove["d"]["emoji"]["name"], "blob_two");

    // A deleted emoji's reactions stay, nameless, as on Discord.
    g.app.delete(&format!("{}/{id}", g.emojis()), &g.owner.token).await;
    let (_, seen) = g.app.get(&format!("/channels/{}/messages/{mid}", g.channel), &g.owner.token).await;
    assert_eq!(seen["reactions"][0]["emoji"], json!({ "id": id, "name": null, "animated": false }), "{seen}");
    // It cannot be added any more; the reactions with it can still be
    // listed and removed, and where there are none it is unknown.
    assert_error(&g.app.put(&format!("{reactions}/blob:{id}/@me"), &g.owner.token).await, 400, 10014);
    let (status, users) = g.app.get(&format!("{reactions}/blob:{id}"), &g.owner.token).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users.as_array().unwrap().iter().map(|u| u["id"].clone()).collect::<Vec<_>>(), [g.owner.id.clone()]);
    assert_error(&g.app.delete(&format!("{reactions}/blob:{id}/@me"), &g.member.token).await, 400, 10014);
    let (status, _) = g.app.delete(&format!("{reactions}/blob:{id}/@me"), &g.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let remove = watcher.dispatch("MESSAGE_REACTION_REMOVE").await;
    assert_eq!(remove["d"]["emoji"], json!({ "id": id, "name": null, "animated": false }), "{remove}");
    for (method, path) in [
        (reqwest::Method::GET, format!("{reactions}/blob:{id}")),
        (reqwest::Method::DELETE, format!("{reactions}/blob:{id}")),
        (reqwest::Method::DELETE, format!("{reactions}/blob:{id}/@me")),
    ] {
        assert_error(&g.app.call(method, &path, Some(&g.owner.token), None).await, 400, 10014);
    }
    // The message's reactions can still all be cleared.
    let (status, _) = g.app.delete(&reactions, &g.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A role whitelist limits who may react with it.
    let (_, role) = g.app.post(&format!("/guilds/{}/roles", g.guild), &g.owner.token, json!({ "name": "vip" })).await;
    let body = json!({ "name": "vip_only", "image": data_uri("image/png", &png(100)), "roles": [role["id"]] });
    let (status, vip) = g.app.post(&g.emojis(), &g.owner.token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{vip}");
    assert_eq!(vip["roles"], json!([role["id"]]));
    let vip = vip["id"].as_str().unwrap();
    assert_error(&g.app.put(&format!("{reactions}/vip_only:{vip}/@me"), &g.member.token).await, 403, 50013);
    let path = format!("/guilds/{}/members/{}/roles/{}", g.guild, g.member.id, role["id"].as_str().unwrap());
    g.app.put(&path, &g.owner.token).await;
    assert_eq!(g.app.put(&format!("{reactions}/vip_only:{vip}/@me"), &g.member.token).await.0, StatusCode::NO_CONTENT);

    // Another guild's emoji needs USE_EXTERNAL_EMOJIS here and membership
    // there: the owner of both may, a member of this one only may not.
    let (other, _) = g.app.guild(&g.owner, "Elsewhere").await;
    let body = json!({ "name": "abroad", "image": data_uri("image/png", &png(100)) });
    let (_, abroad) =
        g.app.post(&format!("/guilds/{}/emojis", other["id"].as_str().unwrap()), &g.owner.token, body).await;
    let abroad = abroad["id"].as_str().unwrap();
    assert_error(&g.app.put(&format!("{reactions}/abroad:{abroad}/@me"), &g.member.token).await, 403, 50013);
    assert_eq!(g.app.put(&format!("{reactions}/abroad:{abroad}/@me"), &g.owner.token).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn stickers_crud_events_cdn_and_sticker_ids_on_messages() {
    let g = Guild::new().await;
    let mut watcher = g.session(&g.member, ALL_INTENTS).await;
    let image = png(400);
    let (status, sticker) = g.create_sticker(&g.owner, "wave", ("wave.png", "image/png", image.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{sticker}");
    let id = sticker["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (&sticker["name"], &sticker["type"], &sticker["format_type"], &sticker["tags"], &sticker["guild_id"]),
        (&json!("wave"), &json!(2), &json!(1), &json!("wave"), &json!(g.guild))
    );
    assert_eq!(sticker["description"], "A sticker for tests");
    assert_eq!(sticker["available"], true);
    assert_eq!(sticker["user"]["id"], json!(g.owner.id));
    let update = watcher.dispatch("GUILD_STICKERS_UPDATE").await;
    assert_eq!(update["d"]["guild_id"], json!(g.guild));
    assert_eq!(update["d"]["stickers"][0]["id"], json!(id));

    // The file's format comes from its bytes.
    let (_, animated) = g.create_sticker(&g.owner, "moving", ("m.png", "image/png", apng())).await;
    assert_eq!(animated["format_type"], 2, "APNG: {animated}");
    let (_, gif_sticker) = g.create_sticker(&g.owner, "gifsy", ("g.png", "image/png", gif(2))).await;
    assert_eq!(gif_sticker["format_type"], 4, "GIF: {gif_sticker}");
    let lottie = br#"{"v":"5.5.2","fr":30,"ip":0,"op":60,"w":320,"h":320,"layers":[]}"#.to_vec();
    let (_, lottie_sticker) =
        g.create_sticker(&g.owner, "lottie", ("l.json", "application/json", lottie.clone())).await;
    assert_eq!(lottie_sticker["format_type"], 3, "Lottie: {lottie_sticker}");

    // Read back: the list, the guild's, by id alone, the guild object, GUILD_CREATE.
    let (_, list) = g.app.get(&format!("/guilds/{}/stickers", g.guild), &g.member.token).await;
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    let (status, one) = g.app.get(&format!("/guilds/{}/stickers/{id}", g.guild), &g.member.token).await;
    assert_eq!((status, &one["name"]), (StatusCode::OK, &json!("wave")), "{one}");
    let outsider = g.app.register("outsider").await;
    let (status, any) = g.app.get(&format!("/stickers/{id}"), &outsider.token).await;
    assert_eq!((status, &any["guild_id"]), (StatusCode::OK, &json!(g.guild)), "{any}");
    assert!(any.get("user").is_none());
    assert_error(&g.app.get("/stickers/1234567", &outsider.token).await, 404, 10060);
    let (_, guild) = g.app.get(&format!("/guilds/{}", g.guild), &g.member.token).await;
    assert_eq!(guild["stickers"].as_array().unwrap().len(), 4);
    let mut later = g.app.gateway("").await;
    later.identify(&g.member.token, ALL_INTENTS).await;
    assert_eq!(later.dispatch("GUILD_CREATE").await["d"]["stickers"][0]["id"], json!(id));

    // The CDN serves each file as uploaded.
    let res = cdn(&g.app, &format!("/stickers/{id}.png")).await;
    assert_eq!((res.status().as_u16(), header(&res, "content-type")), (200, "image/png".to_owned()));
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(header(&res, "cache-control").contains("max-age=31536000"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), image);
    let lottie_id = lottie_sticker["id"].as_str().unwrap();
    let res = cdn(&g.app, &format!("/stickers/{lottie_id}.json")).await;
    assert_eq!(header(&res, "content-type"), "application/json");
    assert_eq!(res.bytes().await.unwrap().to_vec(), lottie);

    // A message with stickers: sticker_items, also with no content.
    let path = format!("/channels/{}/messages", g.channel);
    let (status, message) = g.app.post(&path, &g.member.token, json!({ "sticker_ids": [id, lottie_id] })).await;
    assert_eq!(status, StatusCode::OK, "{message}");
    assert_eq!(
        message["sticker_items"],
        json!([{ "id": id, "name": "wave", "format_type": 1 }, { "id": lottie_id, "name": "lottie", "format_type": 3 }])
    );
    let created = watcher.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["sticker_items"][0]["id"], json!(id));
    let (_, history) = g.app.get(&format!("{path}?limit=1"), &g.owner.token).await;
    assert_eq!(history[0]["sticker_items"], message["sticker_items"]);
    // A sticker and a file on one message (Discord's multipart body): the
    // row keeps both, and both come back from the store.
    let boundary = "fussioncord-boundary-5e2a";
    let payload = json!({ "sticker_ids": [id], "attachments": [{ "id": 0, "description": "with a sticker" }] });
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\
         Content-Type: application/json\r\n\r\n{payload}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"note.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend(&image);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let res = g
        .app
        .client
        .post(format!("{}{path}", g.app.base))
        .header("Authorization", &g.member.token)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let both: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(status, StatusCode::OK, "{both}");
    assert_eq!(both["sticker_items"], json!([{ "id": id, "name": "wave", "format_type": 1 }]), "{both}");
    assert_eq!(both["attachments"].as_array().unwrap().len(), 1, "{both}");
    assert_eq!(
        (&both["attachments"][0]["description"], &both["attachments"][0]["size"]),
        (&json!("with a sticker"), &json!(image.len()))
    );
    let created = watcher.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["sticker_items"], both["sticker_items"]);
    assert_eq!(created["d"]["attachments"][0]["id"], both["attachments"][0]["id"]);
    let (_, history) = g.app.get(&format!("{path}?limit=1"), &g.owner.token).await;
    assert_eq!(history[0]["id"], both["id"]);
    assert_eq!(history[0]["sticker_items"], both["sticker_items"]);
    assert_eq!(history[0]["attachments"][0]["id"], both["attachments"][0]["id"]);
    let file = g.app.client.get(history[0]["attachments"][0]["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(file.bytes().await.unwrap().to_vec(), image, "the file, from the media store");
    assert_error(&g.app.post(&path, &g.member.token, json!({ "sticker_ids": ["1234567"] })).await, 400, 10060);
    let four = json!({ "content": "x", "sticker_ids": [id, id, id, id] });
    assert_error(&g.app.post(&path, &g.member.token, four).await, 400, 50035);
    // Edited to words and back to none: its stickers keep it from being empty.
    let sent = format!("{path}/{}", message["id"].as_str().unwrap());
    let (status, worded) = g.app.patch(&sent, &g.member.token, json!({ "content": "waves" })).await;
    assert_eq!((status, &worded["content"]), (StatusCode::OK, &json!("waves")), "{worded}");
    let (status, wordless) = g.app.patch(&sent, &g.member.token, json!({ "content": "" })).await;
    assert_eq!(status, StatusCode::OK, "{wordless}");
    assert_eq!((&wordless["content"], &wordless["sticker_items"]), (&json!(""), &message["sticker_items"]));

    // Edited and deleted, with their events and audit entries.
    let (status, edited) = g
        .app
        .patch(
            &format!("/guilds/{}/stickers/{id}", g.guild),
            &g.owner.token,
            json!({ "name": "big wave", "tags": "ocean", "description": null }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (&edited["name"], &edited["tags"], &edited["description"]),
        (&json!("big wave"), &json!("ocean"), &Value::Null)
    );
    let update = watcher.dispatch("GUILD_STICKERS_UPDATE").await;
    assert!(update["d"]["stickers"].as_array().unwrap().iter().any(|s| s["name"] == "big wave"), "{update}");
    assert_error(&g.app.delete(&format!("/guilds/{}/stickers/{id}", g.guild), &g.member.token).await, 403, 50013);
    let (status, _) = g.app.delete(&format!("/guilds/{}/stickers/{id}", g.guild), &g.owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let update = watcher.dispatch("GUILD_STICKERS_UPDATE").await;
    assert_eq!(update["d"]["stickers"].as_array().unwrap().len(), 3);
    assert_eq!(cdn(&g.app, &format!("/stickers/{id}.png")).await.status(), 404);
    assert_error(&g.app.get(&format!("/stickers/{id}"), &g.owner.token).await, 404, 10060);
    // The message keeps what it was sent with.
    let (_, kept) = g.app.get(&format!("{path}/{}", message["id"].as_str().unwrap()), &g.owner.token).await;
    assert_eq!(kept["sticker_items"], message["sticker_items"]);
    let actions = g.audit_actions().await;
    for action in [90, 91, 92] {
        assert!(actions.contains(&(action, id.clone())), "audit action {action}: {actions:?}");
    }

    // Deleting the guild takes the files of its expressions with it.
    let (_, emoji) = g.create_emoji(&g.owner, "last", data_uri("image/png", &png(100))).await;
    assert_eq!((stored(&g.app, "emojis").await, stored(&g.app, "stickers").await), (1, 3));
    assert_eq!(g.app.delete(&format!("/guilds/{}", g.guild), &g.owner.token).await.0, StatusCode::NO_CONTENT);
    assert_eq!((stored(&g.app, "emojis").await, stored(&g.app, "stickers").await), (0, 0));
    assert_eq!(cdn(&g.app, &format!("/emojis/{}.png", emoji["id"].as_str().unwrap())).await.status(), 404);
}

#[tokio::test]
async fn bad_stickers_and_the_sticker_slots() {
    let g = Guild::new().await;
    let cases = [
        ("text", ("a.png", "image/png", b"plain text, not a sticker".to_vec()), "file"),
        ("JPEG", ("a.jpg", "image/jpeg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16]), "file"),
        ("too large", ("a.png", "image/png", png(512 * 1024 + 1)), "file"),
        ("JSON that is not Lottie", ("a.json", "application/json", br#"{"hello":1}"#.to_vec()), "file"),
    ];
    for (what, file, field) in cases {
        let refused = g.create_sticker(&g.owner, "fine", file).await;
        assert_error(&refused, 400, 50035);
        assert!(refused.1["errors"][field].is_object(), "{what}: {}", refused.1);
    }
    let refused = g.create_sticker(&g.owner, "x", ("a.png", "image/png", png(100))).await;
    assert!(refused.1["errors"]["name"].is_object(), "{}", refused.1);
    assert_error(&g.create_sticker(&g.member, "mine", ("a.png", "image/png", png(100))).await, 403, 50013);
    let (status, body) = g.app.post(&format!("/guilds/{}/stickers", g.guild), &g.owner.token, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "JSON instead of a form: {body}");

    for i in 0..5 {
        let (status, body) = g.create_sticker(&g.owner, &format!("slot {i}"), ("a.png", "image/png", png(100))).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {body}");
    }
    assert_error(&g.create_sticker(&g.owner, "sixth", ("a.png", "image/png", png(100))).await, 400, 30039);
    assert_eq!(stored(&g.app, "stickers").await, 5, "no file of a refused upload is kept");
}
