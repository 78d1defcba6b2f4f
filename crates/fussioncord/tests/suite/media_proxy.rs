//! The media proxy (issue 17) and hostile files, through HTTP only: an
//! attachment's `proxy_url` with `width`, `height` and `format` answers
//! the image resized and converted, never larger than it is, cached, still
//! signed; avatars' `size`; images that would decode to too many pixels
//! (headers that claim gigapixels, a small PNG of millions of pixels) are
//! refused with Discord's errors before any decoding and the server stays
//! up; polyglots, HTML and SVG, and names that try to climb out of their
//! directory are stored harmlessly and served as downloads under a
//! sandboxing policy.

use std::io::Cursor;

use base64::Engine;
use image::{DynamicImage, GenericImageView, ImageFormat, Rgba, RgbaImage};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::attachments::{file, payload, send_form};
use crate::common::{assert_error, TestApp, TestUser};

/// A real `width`×`height` picture (a gradient, so resizing has work to
/// do), encoded as `format`.
fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let (w, h) = ((width - 1).max(1), (height - 1).max(1));
    let img = RgbaImage::from_fn(width, height, |x, y| Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 128, 255]));
    let img = if format == ImageFormat::Jpeg {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(img).to_rgb8())
    } else {
        DynamicImage::ImageRgba8(img)
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Sends `files` (name, bytes) in one message; answers its attachments.
async fn upload(app: &TestApp, user: &TestUser, channel: &str, files: &[(&str, Vec<u8>)]) -> Vec<Value> {
    let parts: Vec<String> = (0..files.len()).map(|i| format!("files[{i}]")).collect();
    let mut form = vec![payload(json!({}))];
    form.extend(files.iter().zip(&parts).map(|((name, bytes), part)| file(part, name, "image/png", bytes.clone())));
    let (status, msg) =
        send_form(app, Method::POST, &format!("/channels/{channel}/messages"), &user.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    msg["attachments"].as_array().unwrap().clone()
}

async fn get(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// A proxied answer: checks the headers every one carries and decodes it.
async fn image_of(res: reqwest::Response, content_type: &str) -> (DynamicImage, Vec<u8>) {
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.headers());
    assert_eq!(header(&res, "content-type"), content_type);
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert!(header(&res, "content-security-policy").contains("sandbox"));
    let bytes = res.bytes().await.unwrap().to_vec();
    (image::load_from_memory(&bytes).unwrap(), bytes)
}

async fn error_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    (status, res.json().await.unwrap())
}

async fn still_up(app: &TestApp, owner: &TestUser) {
    let (status, me) = app.get("/users/@me", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
}

#[tokio::test]
async fn proxy_urls_resize_and_convert_images_never_larger_and_still_signed() {
    let app = TestApp::spawn().await;
    let owner = app.register("proxied").await;
    let (_, channel) = app.guild(&owner, "pictures").await;
    let original = picture(400, 200, ImageFormat::Png);
    let a = upload(&app, &owner, &channel, &[("wide.png", original.clone())]).await.remove(0);
    assert_eq!((a["width"].clone(), a["height"].clone()), (json!(400), json!(200)));
    let proxy = a["proxy_url"].as_str().unwrap().to_owned();
    assert!(proxy.ends_with('&'), "parameters are appended to it: {proxy}");

    // Width alone keeps the proportions, in the original's format.
    let (img, first) = image_of(get(&app, &format!("{proxy}width=100"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (100, 50));
    // The pixels are the picture's, scaled: the left edge is dark, the right bright in red.
    let (left, right) = (img.get_pixel(1, 25), img.get_pixel(98, 25));
    assert!(left[0] < 40 && right[0] > 200, "{left:?} {right:?}");
    // From the cache: the same bytes, and a tag a client may revalidate with.
    let res = get(&app, &format!("{proxy}width=100"), &[]).await;
    let etag = header(&res, "etag");
    assert_eq!(res.bytes().await.unwrap().to_vec(), first);
    let res = get(&app, &format!("{proxy}width=100"), &[("If-None-Match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // A box fits the image in it; formats convert.
    let (img, _) =
        image_of(get(&app, &format!("{proxy}width=50&height=50&format=webp"), &[]).await, "image/webp").await;
    assert_eq!(img.dimensions(), (50, 25));
    let (img, _) = image_of(get(&app, &format!("{proxy}height=20&format=jpeg"), &[]).await, "image/jpeg").await;
    assert_eq!(img.dimensions(), (40, 20));
    let (img, _) = image_of(get(&app, &format!("{proxy}format=webp"), &[]).await, "image/webp").await;
    assert_eq!(img.dimensions(), (400, 200), "a conversion alone keeps the size");
    // Never larger: a bigger box is the original, byte for byte.
    let (img, bytes) = image_of(get(&app, &format!("{proxy}width=4000&height=3000"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (400, 200));
    assert_eq!(bytes, original);

    // Bad parameters are Discord's errors at their names.
    let (status, body) = error_of(get(&app, &format!("{proxy}width=abc"), &[]).await).await;
    assert_error(&(status, body.clone()), 400, 50035);
    assert!(body["errors"]["width"]["_errors"][0]["code"].is_string(), "{body}");
    let (status, body) = error_of(get(&app, &format!("{proxy}width=0"), &[]).await).await;
    assert_error(&(status, body), 400, 50035);
    let (status, body) = error_of(get(&app, &format!("{proxy}format=bmp"), &[]).await).await;
    assert_error(&(status, body.clone()), 400, 50035);
    assert!(body["errors"]["format"].is_object(), "{body}");

    // Still signed: a changed signature is as unknown as a missing file.
    let at = proxy.find("&hm=").unwrap() + 4;
    let flipped = if &proxy[at..at + 1] == "0" { "1" } else { "0" };
    let forged = format!("{}{flipped}{}width=100", &proxy[..at], &proxy[at + 1..]);
    assert_eq!(get(&app, &forged, &[]).await.status(), StatusCode::NOT_FOUND);
    let unsigned = proxy.split('?').next().unwrap().to_owned() + "?width=100";
    assert_eq!(get(&app, &unsigned, &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn animations_give_their_first_frame_and_other_files_pass_through() {
    let app = TestApp::spawn().await;
    let owner = app.register("animator").await;
    let (_, channel) = app.guild(&owner, "motion").await;
    // A two-frame GIF: red, then blue.
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let frame = image::Frame::new(RgbaImage::from_pixel(64, 32, Rgba(colour)));
            encoder.encode_frame(frame).unwrap();
        }
    }
    let text = b"just some words, not an image".to_vec();
    let a = upload(&app, &owner, &channel, &[("moving.gif", gif.clone()), ("note.txt", text.clone())]).await;
    let gif_url = a[0]["proxy_url"].as_str().unwrap();
    // Unchanged, the GIF is itself, frames and all.
    let res = get(&app, gif_url, &[]).await;
    assert_eq!(header(&res, "content-type"), "image/gif");
    assert_eq!(res.bytes().await.unwrap().to_vec(), gif);
    // Resized, it is its first frame, as PNG.
    let (img, _) = image_of(get(&app, &format!("{gif_url}width=16"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (16, 8));
    let px = img.get_pixel(8, 4);
    assert!(px[0] > 200 && px[2] < 50, "the first frame is red: {px:?}");
    // A file that is not an image answers as itself, as a download.
    let res = get(&app, &format!("{}width=16&format=webp", a[1]["proxy_url"].as_str().unwrap()), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-disposition").starts_with("attachment"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), text);
}

/// A PNG signature and IHDR claiming `width`×`height`, then bytes that
/// are not its pixels.
fn claimed_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend((0..2000u32).map(|i| (i * 13 % 251) as u8));
    bytes
}

#[tokio::test]
async fn images_too_large_to_decode_are_refused_before_decoding_and_the_server_stays_up() {
    // A 3000×3000 PNG of one colour is 9 million pixels in a few kilobytes:
    // a decompression bomb for a proxy that takes 4 million.
    let app = TestApp::spawn_with(|c| c.media.proxy.max_pixels = 4_000_000).await;
    let owner = app.register("bomber").await;
    let (_, channel) = app.guild(&owner, "bombs").await;
    let mut bomb = Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(image::GrayImage::new(3000, 3000)).write_to(&mut bomb, ImageFormat::Png).unwrap();
    let bomb = bomb.into_inner();
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let a = upload(
        &app,
        &owner,
        &channel,
        &[
            ("bomb.png", bomb.clone()),
            ("huge.png", claimed_png(100_000, 100_000)),
            ("wide.png", claimed_png(20_000, 1)),
            ("broken.png", claimed_png(64, 64)),
        ],
    )
    .await;
    // Stored harmlessly, described by their headers.
    assert_eq!(a[1]["content_type"], "image/png");
    assert_eq!((a[1]["width"].clone(), a[1]["height"].clone()), (json!(100_000), json!(100_000)));
    for (att, code) in a.iter().zip(["IMAGE_TOO_LARGE", "IMAGE_TOO_LARGE", "IMAGE_TOO_LARGE", "IMAGE_INVALID"]) {
        let url = format!("{}width=64&format=webp", att["proxy_url"].as_str().unwrap());
        let (status, body) = error_of(get(&app, &url, &[]).await).await;
        assert_error(&(status, body.clone()), 400, 50035);
        assert_eq!(body["errors"]["image"]["_errors"][0]["code"], code, "{} {body}", att["filename"]);
        assert!(
            body["errors"]["image"]["_errors"][0]["message"].as_str().unwrap().contains("pixels")
                || code == "IMAGE_INVALID"
        );
    }
    // Many at once change nothing either.
    let url = format!("{}width=10", a[1]["proxy_url"].as_str().unwrap());
    let answers = futures::future::join_all((0..20).map(|_| get(&app, &url, &[]))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::BAD_REQUEST));
    still_up(&app, &owner).await;
    // The files themselves still download as they were.
    let res = get(&app, a[0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), bomb);
}

#[tokio::test]
async fn hostile_files_are_stored_harmlessly_and_served_as_downloads() {
    let app = TestApp::spawn().await;
    let owner = app.register("hostile").await;
    let (_, channel) = app.guild(&owner, "hostile").await;
    let html = b"<html><body><script>fetch('/api/v10/users/@me')</script></body></html>".to_vec();
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".to_vec();
    // A PNG with a page after its end: shown as the image it starts as,
    // never as the page.
    let mut polyglot = picture(4, 4, ImageFormat::Png);
    polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
    // A page that calls itself a JPEG by name and by part type.
    let disguised = b"  \n<!doctype html><script>alert(2)</script>".to_vec();
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    let a = upload(
        &app,
        &owner,
        &channel,
        &[
            ("page.html", html.clone()),
            ("logo.svg", svg.clone()),
            ("cat.png", polyglot.clone()),
            ("photo.jpg", disguised.clone()),
            ("setup.png", exe.clone()),
        ],
    )
    .await;
    let expected = [
        (html, "attachment", false),
        (svg, "attachment", false),
        (polyglot, "inline", true),
        (disguised, "attachment", false),
        (exe, "attachment", false),
    ];
    for (att, (bytes, disposition, image)) in a.iter().zip(expected) {
        let res = get(&app, att["url"].as_str().unwrap(), &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{att}");
        let content_type = header(&res, "content-type");
        assert_eq!(content_type == "image/png", image, "{att}: {content_type}");
        assert!(!content_type.starts_with("image/jpeg"), "the name is not taken: {content_type}");
        assert!(header(&res, "content-disposition").starts_with(disposition), "{att}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        let csp = header(&res, "content-security-policy");
        assert!(csp.contains("default-src 'none'") && csp.contains("sandbox"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
        assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
        // The attachment object says the same as the download.
        assert_eq!(att["content_type"].as_str().is_some_and(|t| t == "image/png"), image, "{att}");
    }
    // A range of a hostile file is as careful as the whole.
    let res = get(&app, a[0]["url"].as_str().unwrap(), &[("Range", "bytes=0-5")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert!(header(&res, "content-disposition").starts_with("attachment"));
    assert!(header(&res, "content-security-policy").contains("sandbox"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"<html>");
}

#[tokio::test]
async fn filenames_that_climb_or_hide_are_sanitised_in_the_object_and_the_url() {
    let app = TestApp::spawn().await;
    let owner = app.register("namer").await;
    let (_, channel) = app.guild(&owner, "names").await;
    let long = format!("{}.png", "a".repeat(400));
    // The body's `filename` renames a part: it can carry what a part's
    // header cannot (NUL and other control characters).
    let names = [
        "../../etc/passwd",
        "a/b\\c",
        "evil\u{0}.html\u{0}.png",
        "\u{7}\u{1b}[31mred.txt",
        long.as_str(),
        "%2e%2e%2fx",
    ];
    let parts: Vec<String> = (0..names.len()).map(|i| format!("files[{i}]")).collect();
    let refs: Vec<Value> = names.iter().enumerate().map(|(i, n)| json!({"id": i, "filename": n})).collect();
    let mut form = vec![payload(json!({"attachments": refs}))];
    form.extend(parts.iter().map(|p| file(p, "upload.bin", "text/plain", b"x".to_vec())));
    let (status, msg) =
        send_form(&app, Method::POST, &format!("/channels/{channel}/messages"), &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let a = msg["attachments"].as_array().unwrap();
    let got: Vec<&str> = a.iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(got[0], "passwd");
    assert_eq!(got[1], "c");
    for name in &got {
        assert!(name.len() <= 255, "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) && !name.starts_with('.'),
            "{name:?}"
        );
    }
    assert!(got[4].ends_with(".png") && got[4].len() == 255, "{}", got[4]);
    assert!(!got[2].contains('\0') && !got[3].contains('\u{1b}'));
    for (att, name) in a.iter().zip(&got) {
        let url = att["url"].as_str().unwrap();
        let path = url.split('?').next().unwrap();
        assert!(path.ends_with(&format!("/{}/{name}", att["id"].as_str().unwrap())), "{url}");
        let res = get(&app, url, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(header(&res, "content-disposition"), format!("attachment; filename=\"{name}\""));
    }
    assert!(!app.config.data_dir.join("etc").exists());
    // A URL naming a path the server would never make is not a file.
    let first = a[0]["url"].as_str().unwrap();
    let climbing = first.replace("/passwd?", "/..%2F..%2Fpasswd?");
    assert_eq!(get(&app, &climbing, &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn avatars_take_sizes_through_the_same_resizer() {
    let app = TestApp::spawn().await;
    let alice = app.register("sized").await;
    let png = picture(256, 256, ImageFormat::Png);
    let uri = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png));
    let (status, me) = app.patch("/users/@me", &alice.token, json!({ "avatar": uri })).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let url = format!("http://{}/avatars/{}/{}", app.addr(), alice.id, me["avatar"].as_str().unwrap());
    let (img, _) = image_of(get(&app, &format!("{url}.png?size=64"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (64, 64));
    let (img, _) = image_of(get(&app, &format!("{url}.webp?size=32"), &[]).await, "image/webp").await;
    assert_eq!(img.dimensions(), (32, 32));
    // Larger than it is: the original.
    let res = get(&app, &format!("{url}.png?size=4096"), &[]).await;
    let etag = header(&res, "etag");
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);
    assert_eq!(get(&app, &format!("{url}.png"), &[("If-None-Match", &etag)]).await.status(), 304);
    // Sizes Discord's own clients ask (not only powers of two), held to 16–4096.
    let (img, _) = image_of(get(&app, &format!("{url}.png?size=48"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (48, 48));
    let (img, _) = image_of(get(&app, &format!("{url}.png?size=4"), &[]).await, "image/png").await;
    assert_eq!(img.dimensions(), (16, 16));
    for bad in ["big", "-1", "1.5", ""] {
        let (status, body) = error_of(get(&app, &format!("{url}.png?size={bad}"), &[]).await).await;
        assert_error(&(status, body.clone()), 400, 50035);
        assert!(body["errors"]["size"].is_object(), "{body}");
    }
}
