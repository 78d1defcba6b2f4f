//! Avatars: uploaded as data URIs in `PATCH /users/@me`, checked, stored
//! under the data directory, served at Discord's CDN path with caching
//! headers, replaced and removed.

use base64::Engine;
use serde_json::{json, Value};

use crate::common::ws::ALL_INTENTS;
use crate::common::{assert_error, TestApp};

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Bytes that start as each format does, up to the header that gives the
/// image's size (the server reads that, it does not decode pixels), padded
/// to `len`.
fn image(signature: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = signature.to_vec();
    bytes.extend((0..len.saturating_sub(signature.len())).map(|i| (i * 7 % 251) as u8));
    bytes
}

/// 64×64 (IHDR: width, height).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x40\0\0\0\x40";
const GIF: &[u8] = b"GIF89a\x01\0\x01\0";
/// JFIF's APP0, then a baseline start of frame: 64×48.
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xC0, 0, 17, 8, 0, 48,
    0, 64, 3,
];
/// A lossy VP8 frame: 64×64.
const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0\x30\x01\0\x9d\x01\x2a\x40\0\x40\0";

/// A PNG signature and IHDR declaring `width`×`height`.
fn sized_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes
}

/// A JPEG whose first frame (after an APP0) declares `width`×`height`.
fn sized_jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = JPEG[..20].to_vec();
    bytes.extend([0xFF, 0xC2, 0, 17, 8]);
    bytes.extend(height.to_be_bytes());
    bytes.extend(width.to_be_bytes());
    bytes
}

/// An extended WebP declaring a `width`×`height` canvas.
fn vp8x(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"RIFF\x24\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0".to_vec();
    bytes.extend(&(width - 1).to_le_bytes()[..3]);
    bytes.extend(&(height - 1).to_le_bytes()[..3]);
    bytes
}

/// Files stored for `user`, by name.
async fn stored(app: &TestApp, user: &str) -> Vec<String> {
    let prefix = format!("avatars/{user}/");
    app.media_keys(&prefix).await.into_iter().map(|k| k[prefix.len()..].to_owned()).collect()
}

async fn fetch(app: &TestApp, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("http://{}{path}", app.addr()));
    if let Some(tag) = etag {
        req = req.header("If-None-Match", tag);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn avatars_are_stored_served_cached_and_replaced() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let mut phone = app.gateway("").await;
    phone.identify(&alice.token, ALL_INTENTS).await;

    let png = image(PNG, 300);
    let (status, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/png", &png) })).await;
    assert_eq!(status, 200, "{me}");
    let hash = me["avatar"].as_str().unwrap().to_owned();
    assert!(hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    assert_eq!(phone.dispatch("USER_UPDATE").await["d"]["avatar"], json!(hash));
    assert_eq!(app.get(&format!("/users/{}", alice.id), &bob.token).await.1["avatar"], json!(hash));
    assert_eq!(stored(&app, &alice.id).await, vec![format!("{hash}.png")]);

    let url = format!("/avatars/{}/{hash}.png", alice.id);
    let res = fetch(&app, &url, None).await;
    assert_eq!(res.status(), 200);
    let header = |res: &reqwest::Response, name: &str| res.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header(&res, "content-type"), "image/png");
    assert_eq!(header(&res, "cache-control"), "public, max-age=31536000, immutable");
    let etag = header(&res, "etag");
    assert_eq!(res.bytes().await.unwrap().to_vec(), png, "the bytes uploaded");
    let again = fetch(&app, &format!("{url}?size=128"), Some(&etag)).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    assert_eq!(fetch(&app, &url, Some("\"something-else\"")).await.status(), 200);
    // Not converted, but any image extension finds it, under its own type
    // (bot libraries ask .png for every still avatar).
    for ext in ["gif", "webp", "jpg"] {
        let other = fetch(&app, &format!("/avatars/{}/{hash}.{ext}", alice.id), None).await;
        assert_eq!(other.status(), 200, "{ext}");
        assert_eq!(header(&other, "content-type"), "image/png", "{ext}");
    }
    assert_eq!(fetch(&app, &format!("/avatars/{}/{hash}.txt", alice.id), None).await.status(), 404);
    assert_eq!(fetch(&app, &format!("/avatars/{}/{hash}.png", bob.id), None).await.status(), 404);
    assert_eq!(fetch(&app, &format!("/avatars/{}/..%2F..%2Fetc.png", alice.id), None).await.status(), 404);

    // A GIF replaces it: animated hashes start with a_, the old file goes.
    let gif = image(GIF, 200);
    let (_, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/gif", &gif) })).await;
    let animated = me["avatar"].as_str().unwrap().to_owned();
    assert!(animated.starts_with("a_") && animated != hash, "{animated}");
    assert_eq!(stored(&app, &alice.id).await, vec![format!("{animated}.gif")]);
    assert_eq!(fetch(&app, &url, None).await.status(), 404, "the replaced avatar is gone");
    let res = fetch(&app, &format!("/avatars/{}/{animated}.gif", alice.id), None).await;
    assert_eq!(header(&res, "content-type"), "image/gif");
    assert_eq!(res.bytes().await.unwrap().to_vec(), gif);

    // JPEG (served as .jpg and .jpeg) and WebP too.
    let jpeg = image(JPEG, 100);
    let (_, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/jpeg", &jpeg) })).await;
    let jpeg_hash = me["avatar"].as_str().unwrap().to_owned();
    for ext in ["jpg", "jpeg"] {
        let res = fetch(&app, &format!("/avatars/{}/{jpeg_hash}.{ext}", alice.id), None).await;
        assert_eq!(header(&res, "content-type"), "image/jpeg");
        assert_eq!(res.bytes().await.unwrap().to_vec(), jpeg);
    }
    let webp = image(WEBP, 100);
    let (_, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/webp", &webp) })).await;
    let webp_hash = me["avatar"].as_str().unwrap().to_owned();
    assert_eq!(stored(&app, &alice.id).await, vec![format!("{webp_hash}.webp")]);

    // Null removes it.
    let (_, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": null })).await;
    assert_eq!(me["avatar"], Value::Null);
    assert!(stored(&app, &alice.id).await.is_empty());
    assert_eq!(fetch(&app, &format!("/avatars/{}/{webp_hash}.webp", alice.id), None).await.status(), 404);

    // Bots upload theirs as people do.
    let bot = app.bot(&alice, "Pictured", false).await;
    let (status, me) = app.patch("/users/@me", &bot.token, json!({ "avatar": data_uri("image/png", &png) })).await;
    assert_eq!((status.as_u16(), me["avatar"].clone()), (200, json!(hash)), "same bytes, same hash");
    assert_eq!(fetch(&app, &format!("/avatars/{}/{hash}.png", bot.id), None).await.status(), 200);
}

#[tokio::test]
async fn bad_images_are_refused_and_change_nothing() {
    let app = TestApp::spawn_with(|c| c.avatars.max_bytes = 1024).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let png = image(PNG, 500);
    let (_, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/png", &png) })).await;
    let kept = me["avatar"].clone();
    let before = stored(&app, &alice.id).await;
    assert_eq!(before.len(), 1);

    let cases = [
        ("not a data URI", "hello".to_owned(), "IMAGE_INVALID"),
        ("not base64", "data:image/png;base64,@@@@".to_owned(), "IMAGE_INVALID"),
        ("not an image type", data_uri("text/plain", &png), "IMAGE_INVALID"),
        ("not an image", data_uri("image/png", b"just some text, honestly"), "IMAGE_INVALID"),
        ("a PNG in name only", data_uri("image/png", &image(b"\x89PNX", 100)), "IMAGE_INVALID"),
        ("too large", data_uri("image/png", &image(PNG, 1025)), "BINARY_TYPE_MAX_SIZE"),
        ("far too large", data_uri("image/png", &image(PNG, 64 * 1024)), "BINARY_TYPE_MAX_SIZE"),
        // A few bytes can declare gigapixels: the header's size is capped.
        ("a PNG of 100000×100000", data_uri("image/png", &image(&sized_png(100_000, 100_000), 300)), "IMAGE_TOO_LARGE"),
        ("a PNG of 4097×1", data_uri("image/png", &image(&sized_png(4097, 1), 300)), "IMAGE_TOO_LARGE"),
        ("a PNG of 0×0", data_uri("image/png", &image(&sized_png(0, 0), 300)), "IMAGE_INVALID"),
        ("a GIF of 65535×65535", data_uri("image/gif", &image(b"GIF89a\xff\xff\xff\xff", 100)), "IMAGE_TOO_LARGE"),
        ("a JPEG of 60000×60000", data_uri("image/jpeg", &image(&sized_jpeg(60_000, 60_000), 100)), "IMAGE_TOO_LARGE"),
        ("a VP8X WebP of 16384×16384", data_uri("image/webp", &image(&vp8x(16_384, 16_384), 100)), "IMAGE_TOO_LARGE"),
        ("a PNG cut off before its size", data_uri("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0"), "IMAGE_INVALID"),
        ("a JPEG with no frame", data_uri("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xD9]), "IMAGE_INVALID"),
    ];
    for (what, uri, code) in cases {
        let refused = app.patch("/users/@me", &alice.token, json!({ "avatar": uri, "global_name": "Changed" })).await;
        assert_error(&refused, 400, 50035);
        assert_eq!(refused.1["errors"]["avatar"]["_errors"][0]["code"], code, "{what}: {}", refused.1);
    }
    // The largest allowed passes, in bytes and in pixels.
    let edge = image(PNG, 1024);
    let (status, me) = app.patch("/users/@me", &bob.token, json!({ "avatar": data_uri("image/png", &edge) })).await;
    assert_eq!(status, 200, "{me}");
    let widest = image(&sized_png(4096, 4096), 300);
    let (status, me) = app.patch("/users/@me", &bob.token, json!({ "avatar": data_uri("image/png", &widest) })).await;
    assert_eq!(status, 200, "{me}");

    // A good image with a refused username is not kept either.
    let other = image(PNG, 600);
    let taken = app
        .patch("/users/@me", &alice.token, json!({ "avatar": data_uri("image/png", &other), "username": "bob" }))
        .await;
    assert_error(&taken, 400, 50035);

    let (_, me) = app.get("/users/@me", &alice.token).await;
    assert_eq!((me["avatar"].clone(), me["global_name"].clone()), (kept, Value::Null));
    assert_eq!(stored(&app, &alice.id).await, before);
}
