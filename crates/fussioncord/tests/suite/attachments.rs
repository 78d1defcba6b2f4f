//! Files (issue 17): messages with attachments sent as Discord's
//! `multipart/form-data` bodies, streamed into the media store, rendered
//! in every message object, served at Discord's CDN path under signed,
//! expiring URLs, dropped by edits and deleted with their message; the
//! refusals (size, count, ATTACH_FILES) and aborted uploads leaving
//! nothing behind; pre-uploads. Run on SQLite and PostgreSQL
//! (`TEST_STORE=postgres`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::ws::ALL_INTENTS;
use crate::common::{self, assert_error, TestApp, TestUser};

/// A 3×2 PNG header (the server reads sizes from headers, it decodes no
/// pixels), padded to `len` bytes.
pub(crate) fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02\x08\x06\0\0\0".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i * 7 % 251) as u8));
    bytes
}

/// One part of a multipart body.
pub(crate) struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: &'a str,
    bytes: Vec<u8>,
}

pub(crate) fn payload(json: Value) -> Part<'static> {
    Part {
        name: "payload_json",
        filename: None,
        content_type: "application/json",
        bytes: json.to_string().into_bytes(),
    }
}

pub(crate) fn file<'a>(name: &'a str, filename: &'a str, content_type: &'a str, bytes: Vec<u8>) -> Part<'a> {
    Part { name, filename: Some(filename), content_type, bytes }
}

pub(crate) const BOUNDARY: &str = "fussioncord-test-boundary-7d9c";

/// A `multipart/form-data` body as Discord's libraries send it.
pub(crate) fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).unwrap();
        if let Some(f) = p.filename {
            write!(body, "; filename=\"{f}\"").unwrap();
        }
        write!(body, "\r\nContent-Type: {}\r\n\r\n", p.content_type).unwrap();
        body.extend_from_slice(&p.bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

/// Sends a multipart body; answers the status and JSON.
pub(crate) async fn send_form(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    parts: &[Part<'_>],
) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("Authorization", token)
        .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(parts))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}")))
}

/// Every file in the media store's attachments, as paths relative to it:
/// objects and anything half-written beside them.
/// Waits (up to 5 s) until the media store holds no file: the files of a
/// refused or abandoned upload are deleted in the background once the
/// answer has gone.
pub(crate) async fn until_no_files(app: &TestApp) {
    until_files(app, 0, Duration::from_secs(5)).await;
}

/// Waits (up to `wait`) until the media store holds `n` files (deletions
/// and sweeps happen in the background); answers them.
pub(crate) async fn until_files(app: &TestApp, n: usize, wait: Duration) -> Vec<PathBuf> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = stored_files(app).await;
        if left.len() == n {
            return left;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left:?} left, not {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attachments' and pre-uploads' files in the media store (on S3 with
/// their uploads still in progress), as paths under the store's root.
pub(crate) async fn stored_files(app: &TestApp) -> Vec<PathBuf> {
    let mut keys = app.media_keys("attachments/").await;
    keys.extend(app.media_keys("uploads/").await);
    keys.sort();
    keys.into_iter().map(PathBuf::from).collect()
}

async fn download(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn setup(app: &TestApp) -> (TestUser, String) {
    let owner = app.register("filer").await;
    let (_, channel) = app.guild(&owner, "files").await;
    (owner, channel)
}

#[tokio::test]
async fn several_files_with_descriptions_arrive_everywhere_and_download_byte_for_byte() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;
    let image = png(70_000);
    let text = "a plain note\n".repeat(100).into_bytes();
    let binary: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 256) as u8).collect();
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[
            file("files[0]", "photo.png", "text/plain", image.clone()),
            file("files[1]", "notes.txt", "image/png", text.clone()),
            file("files[2]", "blob.bin", "application/octet-stream", binary.clone()),
            // discord.js sends payload_json after the files.
            payload(json!({
                "content": "three files",
                "attachments": [
                    {"id": 0, "description": "a tiny picture"},
                    {"id": "1", "filename": "renamed.txt", "description": "some text"},
                    {"id": 2},
                ],
            })),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["content"], "three files");
    let a = msg["attachments"].as_array().unwrap().clone();
    assert_eq!(a.len(), 3, "{msg}");
    assert_eq!(a[0]["filename"], "photo.png");
    assert_eq!(a[0]["description"], "a tiny picture");
    // Types come from the bytes, whatever the parts claimed.
    assert_eq!(a[0]["content_type"], "image/png");
    assert_eq!((a[0]["width"].clone(), a[0]["height"].clone()), (json!(3), json!(2)));
    assert_eq!(a[0]["size"], json!(image.len()));
    assert_eq!(a[1]["filename"], "renamed.txt");
    assert_eq!(a[1]["description"], "some text");
    assert_eq!(a[1]["content_type"], "text/plain; charset=utf-8");
    assert!(a[1].get("width").is_none() && a[1].get("height").is_none(), "{}", a[1]);
    assert!(a[2].get("description").is_none() && a[2].get("content_type").is_none(), "{}", a[2]);
    for (att, bytes) in a.iter().zip([&image, &text, &binary]) {
        let url = att["url"].as_str().unwrap();
        let path =
            format!("/attachments/{channel}/{}/{}", att["id"].as_str().unwrap(), att["filename"].as_str().unwrap());
        assert!(url.starts_with(&format!("http://{}{path}?ex=", app.addr())), "{url}");
        assert!(url.contains("&is=") && url.contains("&hm="), "{url}");
        assert_eq!(att["proxy_url"], att["url"]);
        let res = download(&app, url, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().to_vec(), *bytes, "{url}");
    }
    let res = download(&app, a[0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("inline"));
    let res = download(&app, a[1]["url"].as_str().unwrap(), &[]).await;
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));

    // The gateway, the message and history carry the same attachments.
    let event = gw.dispatch("MESSAGE_CREATE").await;
    let ids = |list: &Value| -> Vec<Value> { list.as_array().unwrap().iter().map(|a| a["id"].clone()).collect() };
    assert_eq!(ids(&event["d"]["attachments"]), ids(&msg["attachments"]));
    assert_eq!(event["d"]["attachments"][0]["description"], "a tiny picture");
    let id = msg["id"].as_str().unwrap();
    let (_, got) = app.get(&format!("/channels/{channel}/messages/{id}"), &owner.token).await;
    assert_eq!(ids(&got["attachments"]), ids(&msg["attachments"]));
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(ids(&history[0]["attachments"]), ids(&msg["attachments"]));
    assert_eq!(history[0]["attachments"][1]["size"], json!(text.len()));
    assert_eq!(stored_files(&app).await.len(), 3, "{:?}", stored_files(&app).await);

    // Ranges, ETags.
    let url = a[2]["url"].as_str().unwrap();
    let res = download(&app, url, &[("Range", "bytes=10-19")]).await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], format!("bytes 10-19/{}", binary.len()).as_str());
    assert_eq!(res.bytes().await.unwrap().to_vec(), binary[10..20]);
    let res = download(&app, url, &[("Range", "bytes=-5")]).await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), binary[binary.len() - 5..]);
    let res = download(&app, url, &[("Range", "bytes=9999999-")]).await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let etag = download(&app, url, &[]).await.headers()["etag"].to_str().unwrap().to_owned();
    let res = download(&app, url, &[("If-None-Match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("max-age="));

    // Deleting the message deletes its files.
    let (status, _) = app.delete(&format!("/channels/{channel}/messages/{id}"), &owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(download(&app, a[0]["url"].as_str().unwrap(), &[]).await.status(), StatusCode::NOT_FOUND);
    until_no_files(&app).await;
}

#[tokio::test]
async fn signatures_expire_and_refuse_tampering_and_refresh() {
    let app = TestApp::spawn_with(|c| c.media.url_expiry_secs = 2).await;
    let (owner, channel) = setup(&app).await;
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[payload(json!({"content": "signed"})), file("files[0]", "a.txt", "text/plain", b"secret bytes".to_vec())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let url = msg["attachments"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(download(&app, &url, &[]).await.status(), StatusCode::OK);
    let (base, query) = url.split_once('?').unwrap();
    let hm = query.split('&').find_map(|p| p.strip_prefix("hm=")).unwrap();
    let flipped = format!("{}{}", if hm.starts_with('0') { "1" } else { "0" }, &hm[1..]);
    let ex = query.split('&').find_map(|p| p.strip_prefix("ex=")).unwrap();
    let later = format!("{:x}", u64::from_str_radix(ex, 16).unwrap() + 3600);
    for bad in [
        base.to_owned(),
        url.replace(hm, &flipped),
        url.replace(&format!("ex={ex}"), &format!("ex={later}")),
        url.replace("/a.txt?", "/b.txt?"),
        url.replace(&format!("/attachments/{channel}/"), "/attachments/1/"),
    ] {
        let res = download(&app, &bad, &[]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(download(&app, &url, &[]).await.status(), StatusCode::NOT_FOUND, "expired");
    // An expired URL of ours is refreshed; a forged one is not.
    let forged = url.replace(hm, &flipped);
    let (status, body) = app
        .post(
            "/attachments/refresh-urls",
            &owner.token,
            json!({"attachment_urls": [url, forged, "https://example.com/x"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["refreshed_urls"].as_array().unwrap();
    assert_eq!(refreshed.len(), 1, "{body}");
    assert_eq!(refreshed[0]["original"], json!(url));
    let fresh = refreshed[0]["refreshed"].as_str().unwrap();
    let res = download(&app, fresh, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"secret bytes");
}

#[tokio::test]
async fn an_edit_keeps_the_listed_attachments_and_deletes_the_others() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[
            payload(json!({"content": "two"})),
            file("files[0]", "keep.txt", "text/plain", b"keep me".to_vec()),
            file("files[1]", "drop.txt", "text/plain", b"drop me".to_vec()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let (keep, drop) = (msg["attachments"][0].clone(), msg["attachments"][1].clone());
    let id = msg["id"].as_str().unwrap();
    let path = format!("/channels/{channel}/messages/{id}");
    let (status, edited) =
        app.patch(&path, &owner.token, json!({"attachments": [{"id": keep["id"], "description": "kept"}]})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["attachments"].as_array().unwrap().len(), 1, "{edited}");
    assert_eq!(edited["attachments"][0]["id"], keep["id"]);
    assert_eq!(edited["attachments"][0]["description"], "kept");
    assert_eq!(edited["content"], "two");
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(
        update["d"]["attachments"],
        edited["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a["url"] = update["d"]["attachments"][0]["url"].clone();
                a["proxy_url"] = a["url"].clone();
                a
            })
            .collect::<Value>(),
        "MESSAGE_UPDATE carries the attachments kept"
    );
    assert_eq!(download(&app, drop["url"].as_str().unwrap(), &[]).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(download(&app, keep["url"].as_str().unwrap(), &[]).await.status(), StatusCode::OK);
    assert_eq!(stored_files(&app).await.len(), 1);

    // A multipart edit adds a file beside the one kept.
    let (status, edited) = send_form(
        &app,
        Method::PATCH,
        &path,
        &owner.token,
        &[
            payload(json!({"attachments": [{"id": keep["id"]}, {"id": 0, "description": "new"}]})),
            file("files[0]", "new.txt", "text/plain", b"new one".to_vec()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let names: Vec<&str> =
        edited["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["keep.txt", "new.txt"]);
    let res = download(&app, edited["attachments"][1]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"new one");
    // Naming an attachment the message does not have is refused, and
    // changes nothing.
    let (status, body) = app.patch(&path, &owner.token, json!({"attachments": [{"id": "12345"}]})).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["code"], 50035);
    assert_eq!(stored_files(&app).await.len(), 2);
    // No content and no files left is an empty message.
    let (status, body) = app.patch(&path, &owner.token, json!({"content": "", "attachments": []})).await;
    assert_error(&(status, body), 400, 50006);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn_with(|c| c.media.max_file_size = 4096).await;
    let (owner, channel) = setup(&app).await;
    let path = format!("/channels/{channel}/messages");
    let result = send_form(
        &app,
        Method::POST,
        &path,
        &owner.token,
        &[
            payload(json!({"content": "too big"})),
            file("files[0]", "ok.txt", "text/plain", vec![b'a'; 4096]),
            file("files[1]", "big.txt", "text/plain", vec![b'a'; 4097]),
        ],
    )
    .await;
    assert_error(&result, 413, 40005);
    assert_eq!(result.1["message"], "Request entity too large");
    let (_, history) = app.get(&path, &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");
    // The file within the limit, already written, went too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    until_no_files(&app).await;
    // Exactly at the limit is fine.
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &path,
        &owner.token,
        &[payload(json!({})), file("files[0]", "ok.txt", "text/plain", vec![b'a'; 4096])],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["attachments"][0]["size"], 4096);
}

#[tokio::test]
async fn an_eleventh_file_is_refused() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let names: Vec<String> = (0..11).map(|i| format!("files[{i}]")).collect();
    let mut parts = vec![payload(json!({"content": "eleven"}))];
    parts.extend(names.iter().map(|n| file(n, "f.txt", "text/plain", b"x".to_vec())));
    let result = send_form(&app, Method::POST, &format!("/channels/{channel}/messages"), &owner.token, &parts).await;
    assert_error(&result, 400, 50035);
    assert_eq!(result.1["errors"]["attachments"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH", "{}", result.1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    until_no_files(&app).await;
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 0);
    // Ten is the limit, not less.
    parts.pop();
    let (status, msg) =
        send_form(&app, Method::POST, &format!("/channels/{channel}/messages"), &owner.token, &parts).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["attachments"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn files_need_attach_files() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let member = app.register("nofiles").await;
    app.join(&owner, &channel, &member).await;
    let (_, guild) = app.get(&format!("/channels/{channel}"), &owner.token).await;
    let guild_id = guild["guild_id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/channels/{channel}/permissions/{guild_id}"),
            Some(&owner.token),
            Some(json!({"type": 0, "deny": (1u64 << 15).to_string(), "allow": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let path = format!("/channels/{channel}/messages");
    let form = [payload(json!({"content": "with a file"})), file("files[0]", "f.txt", "text/plain", b"x".to_vec())];
    let result = send_form(&app, Method::POST, &path, &member.token, &form).await;
    assert_error(&result, 403, 50013);
    until_no_files(&app).await;
    // Text alone still goes, multipart or not; the owner may attach.
    let (status, msg) =
        send_form(&app, Method::POST, &path, &member.token, &[payload(json!({"content": "text"}))]).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let (status, msg) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    // Pre-uploads too.
    let result = app
        .post(&format!("/channels/{channel}/attachments"), &member.token, json!({"files": [{"filename": "a.txt"}]}))
        .await;
    assert_error(&result, 403, 50013);
}

/// Starts a message with a file whose first `sent` bytes are sent (more
/// declared); answers the open socket. Blocks: from a test on several
/// threads, within `block_in_place` when `sent` passes the socket buffers.
fn start_upload(app: &TestApp, owner: &TestUser, channel: &str, sent: usize) -> std::net::TcpStream {
    let head = multipart(&[payload(json!({"content": "never"}))]);
    // The body up to the middle of a file's bytes.
    let mut body = head[..head.len() - format!("--{BOUNDARY}--\r\n").len()].to_vec();
    write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"half.bin\"\r\n\r\n")
        .unwrap();
    body.extend(vec![7u8; sent]);
    let request = format!(
        "POST /api/v10/channels/{channel}/messages HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        app.addr(),
        owner.token,
        body.len() + 1_000_000
    );
    let mut socket = std::net::TcpStream::connect(app.addr()).unwrap();
    socket.write_all(request.as_bytes()).unwrap();
    socket.write_all(&body).unwrap();
    socket.flush().unwrap();
    socket
}

/// Waits until no attachment file, finished or not, is left.
async fn until_nothing_left(app: &TestApp) {
    until_files(app, 0, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn an_aborted_upload_leaves_no_object_and_no_message() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let socket = start_upload(&app, &owner, &channel, 300_000);
    // The server has the file's first bytes: it is being written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Then the connection closes.
    drop(socket);
    until_nothing_left(&app).await;
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");
}

/// Whole parts of unfinished attachment uploads that the store holds: on
/// S3, the parts its multipart uploads stored; in the directory, the
/// staging files' bytes in whole parts.
async fn parts_in_progress(app: &TestApp) -> usize {
    match &app.config.media.s3 {
        Some(s3) => common::s3::stored_parts(&s3.bucket, "attachments/").await,
        None => {
            let root = app.config.media.dir(&app.config.data_dir);
            let keys = app.media_keys("attachments/").await;
            keys.iter()
                .filter(|k| k.contains('#'))
                .map(|k| std::fs::metadata(root.join(k)).map_or(0, |m| m.len() as usize / media::PART_BYTES))
                .sum()
        }
    }
}

// Several threads: the test blocks on its socket while the server reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_after_whole_parts_were_stored_leaves_no_part() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    // More than one part: the first is stored (on S3, uploaded) while the
    // body still streams in.
    let sent = media::PART_BYTES + 2 * 1024 * 1024;
    let socket = tokio::task::block_in_place(|| start_upload(&app, &owner, &channel, sent));
    let mut parts = 0;
    for _ in 0..100 {
        parts = parts_in_progress(&app).await;
        if parts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(parts, 1, "one whole part stored before the client goes");
    // Nothing is visible under the attachment's key meanwhile.
    match &app.config.media.s3 {
        Some(s3) => assert_eq!(common::s3::objects(&s3.bucket, "").await, Vec::<String>::new()),
        None => {
            let files = stored_files(&app).await;
            assert!(files.iter().all(|f| f.to_string_lossy().contains('#')), "only staging files: {files:?}");
        }
    }
    drop(socket);
    // The upload is aborted: no object, no upload in progress, no part.
    until_nothing_left(&app).await;
    assert_eq!(parts_in_progress(&app).await, 0);
    if let Some(s3) = &app.config.media.s3 {
        assert_eq!(common::s3::objects(&s3.bucket, "").await, Vec::<String>::new());
        assert_eq!(common::s3::uploads(&s3.bucket, "").await, Vec::<String>::new());
    }
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");
}

#[tokio::test]
async fn hostile_filenames_are_sanitised() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    // (Control characters other than tab cannot travel in a part's header.)
    let names = ["../../../etc/passwd", "..\\..\\boot.ini", "....", "a\tb;c.txt", "héllo wörld.txt", "/"];
    let parts: Vec<String> = (0..names.len()).map(|i| format!("files[{i}]")).collect();
    let mut form = vec![payload(json!({"content": "names"}))];
    form.extend(names.iter().zip(&parts).map(|(n, p)| file(p, n, "text/plain", n.as_bytes().to_vec())));
    let (status, msg) =
        send_form(&app, Method::POST, &format!("/channels/{channel}/messages"), &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let got: Vec<&str> =
        msg["attachments"].as_array().unwrap().iter().map(|a| a["filename"].as_str().unwrap()).collect();
    assert_eq!(got, ["passwd", "boot.ini", "unknown", "a_b_c.txt", "h_llo_w_rld.txt", "unknown"]);
    // A name changed by sanitising is kept as Discord's `title`, when it is printable.
    let titles: Vec<Value> = msg["attachments"].as_array().unwrap().iter().map(|a| a["title"].clone()).collect();
    assert_eq!(titles, [Value::Null, Value::Null, json!("...."), Value::Null, json!("héllo wörld.txt"), Value::Null]);
    // Each file is where the server put it, by ids, and nowhere else.
    let stored = stored_files(&app).await;
    assert_eq!(stored.len(), names.len(), "{stored:?}");
    for a in msg["attachments"].as_array().unwrap() {
        let expected = Path::new("attachments").join(&channel).join(a["id"].as_str().unwrap());
        assert!(stored.contains(&expected), "{expected:?} in {stored:?}");
    }
    assert!(!app.config.data_dir.join("etc").exists());
    for a in msg["attachments"].as_array().unwrap() {
        let res = download(&app, a["url"].as_str().unwrap(), &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{a}");
    }
}

#[tokio::test]
async fn html_and_svg_are_only_ever_downloads() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec();
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    let (status, msg) = send_form(
        &app,
        Method::POST,
        &format!("/channels/{channel}/messages"),
        &owner.token,
        &[
            payload(json!({})),
            file("files[0]", "page.html", "image/png", html.clone()),
            file("files[1]", "logo.svg", "image/png", svg.clone()),
            file("files[2]", "image.png", "text/html", png(100)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let a = msg["attachments"].as_array().unwrap();
    for (att, bytes) in a[..2].iter().zip([&html, &svg]) {
        let res = download(&app, att["url"].as_str().unwrap(), &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_ne!(res.headers()["content-type"], "image/png", "the client's claim is not taken");
        assert_eq!(res.bytes().await.unwrap().to_vec(), *bytes);
    }
    let res = download(&app, a[2]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn pre_uploaded_files_are_claimed_by_a_message_or_expire() {
    // Short enough to see the sweep, long enough for a loaded machine (and
    // S3) to upload and claim in time.
    let app = TestApp::spawn_with(|c| c.media.upload_expiry_secs = 3).await;
    let (owner, channel) = setup(&app).await;
    let (status, body) = app
        .post(
            &format!("/channels/{channel}/attachments"),
            &owner.token,
            json!({"files": [{"id": "7", "filename": "early.png", "file_size": 500}, {"filename": "never.txt"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ups = body["attachments"].as_array().unwrap();
    assert_eq!(ups[0]["id"], "7");
    let bytes = png(500);
    for (up, data) in ups.iter().zip([bytes.clone(), b"orphan".to_vec()]) {
        let res = app.client.put(up["upload_url"].as_str().unwrap()).body(data).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // A forged upload URL is refused.
    let forged = ups[0]["upload_url"].as_str().unwrap().replace("hm=", "hm=0");
    assert_eq!(app.client.put(forged).body("x").send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let (status, msg) = app
        .post(
            &format!("/channels/{channel}/messages"),
            &owner.token,
            json!({"content": "claimed", "attachments": [{"id": "0", "filename": "early.png", "uploaded_filename": ups[0]["upload_filename"], "description": "ahead"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let a = &msg["attachments"][0];
    assert_eq!(a["description"], "ahead");
    assert_eq!(a["content_type"], "image/png");
    assert_eq!(a["size"], 500);
    let res = download(&app, a["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    // Claimed once only.
    let (status, body) = app
        .post(
            &format!("/channels/{channel}/messages"),
            &owner.token,
            json!({"content": "again", "attachments": [{"id": "0", "uploaded_filename": ups[0]["upload_filename"]}]}),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    // The unclaimed one is swept with its object; the claimed one stays.
    until_files(&app, 1, Duration::from_secs(20)).await;
    let res = download(&app, a["url"].as_str().unwrap(), &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_pre_upload_is_claimed_whole_once_and_a_later_put_changes_nothing() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let (status, body) = app
        .post(
            &format!("/channels/{channel}/attachments"),
            &owner.token,
            json!({"files": [{"filename": "a.png"}, {"filename": "never.png"}, {"filename": "raced.png"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ups = body["attachments"].as_array().unwrap().clone();
    let put =
        |i: usize, data: Vec<u8>| app.client.put(ups[i]["upload_url"].as_str().unwrap().to_owned()).body(data).send();
    let bytes = png(300);
    assert_eq!(put(0, bytes.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(put(2, png(200)).await.unwrap().status(), StatusCode::OK);
    let claim = |i: usize| json!({"id": i.to_string(), "uploaded_filename": ups[i]["upload_filename"]});
    let path = format!("/channels/{channel}/messages");

    // One of two never uploaded: the message is refused and the other is
    // still there to claim.
    let (status, body) = app.post(&path, &owner.token, json!({"attachments": [claim(0), claim(1)]})).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["errors"]["attachments"]["1"]["uploaded_filename"]["_errors"][0]["code"], "ATTACHMENT_NOT_FOUND");
    let (status, msg) = app.post(&path, &owner.token, json!({"attachments": [claim(0)]})).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let url = msg["attachments"][0]["url"].as_str().unwrap().to_owned();

    // A PUT after the claim changes nothing of the message's file.
    assert_eq!(put(0, b"<html>replaced</html>".to_vec()).await.unwrap().status(), StatusCode::NOT_FOUND);
    let res = download(&app, &url, &[]).await;
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);

    // Two messages racing for one upload: exactly one gets it.
    let body = json!({"attachments": [claim(2)]});
    let (a, b) = tokio::join!(app.post(&path, &owner.token, body.clone()), app.post(&path, &owner.token, body));
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", a.1, b.1);
    let (_, history) = app.get(&path, &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    // Left: the two claimed files, and the never-uploaded one has no object.
    let left = until_files(&app, 2, Duration::from_secs(5)).await;
    assert!(left.iter().all(|p| p.starts_with("attachments")), "{left:?}");
}

#[tokio::test]
async fn a_deleted_messages_files_stay_for_the_retention_then_go() {
    let app = TestApp::spawn_with(|c| c.media.delete_after_secs = 1).await;
    let (owner, channel) = setup(&app).await;
    let path = format!("/channels/{channel}/messages");
    let form = [payload(json!({"content": "brief"})), file("files[0]", "brief.txt", "text/plain", b"brief".to_vec())];
    let (status, msg) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let (status, _) = app.delete(&format!("{path}/{}", msg["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_files(&app).await.len(), 1, "kept for the retention");
    until_no_files(&app).await;
}

#[tokio::test]
async fn uploads_past_the_users_quota_get_429_and_store_nothing() {
    let app = TestApp::spawn_with(|c| c.ratelimit.uploads = ratelimit::Quota::new(2, 60_000)).await;
    let (owner, channel) = setup(&app).await;
    let path = format!("/channels/{channel}/messages");
    let mut form = vec![payload(json!({"content": "three"}))];
    form.extend(["files[0]", "files[1]", "files[2]"].map(|name| file(name, "f.txt", "text/plain", vec![b'x'; 10])));
    let (status, body) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["retry_after"].as_f64().unwrap() > 0.0, "{body}");
    until_no_files(&app).await;
    let (_, history) = app.get(&path, &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "{history}");
    // Spent in every channel, and by pre-uploads too; words still go.
    let (status, body) = app
        .post(&format!("/channels/{channel}/attachments"), &owner.token, json!({"files": [{"filename": "a.txt"}]}))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _) = app.post(&path, &owner.token, json!({"content": "words"})).await;
    assert_eq!(status, StatusCode::OK);
    // Someone else has their own quota.
    let other = app.register("other").await;
    let (_, theirs) = app.guild(&other, "theirs").await;
    let form = [payload(json!({})), file("files[0]", "ok.txt", "text/plain", b"ok".to_vec())];
    let (status, body) =
        send_form(&app, Method::POST, &format!("/channels/{theirs}/messages"), &other.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn storage_is_counted_in_the_metrics() {
    let app = TestApp::spawn_with(|c| c.media.usage_interval_secs = 1).await;
    let (owner, channel) = setup(&app).await;
    let form = [payload(json!({})), file("files[0]", "m.bin", "application/octet-stream", vec![1u8; 12_345])];
    let (status, msg) =
        send_form(&app, Method::POST, &format!("/channels/{channel}/messages"), &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let metric = |text: &str, name: &str| -> f64 {
        let line =
            text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let url = format!("http://{}/metrics", app.addr());
    let mut text = String::new();
    for _ in 0..60 {
        text = app.client.get(&url).send().await.unwrap().text().await.unwrap();
        if metric(&text, "fussioncord_media_stored_objects") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(metric(&text, "fussioncord_media_uploaded_bytes_total") >= 12_345.0, "{text}");
    assert_eq!(metric(&text, "fussioncord_media_stored_objects"), 1.0, "{text}");
    assert_eq!(metric(&text, "fussioncord_media_stored_bytes"), 12_345.0, "{text}");
}

/// An Ogg Opus file's first page, as voice messages are recorded.
fn ogg(len: usize) -> Vec<u8> {
    let mut bytes = b"OggS\0\x02".to_vec();
    bytes.resize(28, 0);
    bytes.extend_from_slice(b"OpusHead\x01\x01");
    bytes.resize(len, 0);
    bytes
}

#[tokio::test]
async fn voice_messages_carry_their_duration_and_waveform() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let mut watcher = app.gateway("").await;
    watcher.identify(&owner.token, ALL_INTENTS).await;
    let path = format!("/channels/{channel}/messages");
    let waveform = "AAoUHigyPEZQWmRueIKMlqCqtL7I0tzm8Po=";
    let meta = json!({"id": "0", "filename": "voice-message.ogg", "duration_secs": 3.25, "waveform": waveform});
    let voice =
        |body: Value, bytes: Vec<u8>| [payload(body), file("files[0]", "voice-message.ogg", "audio/ogg", bytes)];
    let form = voice(json!({"flags": 8192, "attachments": [meta]}), ogg(2_000));
    let (status, msg) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["flags"], 8192);
    let a = &msg["attachments"][0];
    assert!(a["content_type"].as_str().unwrap().starts_with("audio/"), "{a}");
    assert_eq!(a["duration_secs"], 3.25);
    assert_eq!(a["waveform"], waveform);
    let created = watcher.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["flags"], 8192);
    assert_eq!(created["d"]["attachments"][0]["duration_secs"], 3.25);
    let (_, read) = app.get(&format!("{path}/{}", msg["id"].as_str().unwrap()), &owner.token).await;
    assert_eq!(read["attachments"][0]["waveform"], waveform);

    // Discord's rules, each refused with nothing stored.
    let refusals = [
        (voice(json!({"flags": 8192, "content": "hi", "attachments": [meta]}), ogg(500)), 50161),
        (voice(json!({"flags": 8192, "attachments": [meta]}), png(500)), 50159),
        (voice(json!({"flags": 8192, "attachments": [{"id": "0", "duration_secs": 2}]}), ogg(500)), 50160),
        (voice(json!({"flags": 8192}), ogg(500)), 50160),
    ];
    for (form, code) in refusals {
        let result = send_form(&app, Method::POST, &path, &owner.token, &form).await;
        assert_error(&result, 400, code);
    }
    for bad in [
        json!({"waveform": "not base64!"}),
        json!({"waveform": ""}),
        json!({"duration_secs": -1}),
        json!({"duration_secs": 1e9}),
    ] {
        let mut meta = meta.clone();
        meta.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        let form = voice(json!({"flags": 8192, "attachments": [meta]}), ogg(500));
        let (status, body) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
        assert_eq!(status.as_u16(), 400, "{bad}: {body}");
        assert_eq!(body["code"], 50035, "{bad}: {body}");
    }
    // An edit cannot make a message a voice message.
    let plain = app.send(&owner, &channel, "words").await;
    let (status, body) =
        app.patch(&format!("{path}/{}", plain["id"].as_str().unwrap()), &owner.token, json!({"flags": 8192})).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    // Only the voice message's file is left of all the refused ones.
    until_files(&app, 1, Duration::from_secs(5)).await;
    let (_, history) = app.get(&path, &owner.token).await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");

    // A pre-uploaded recording, as discord.js sends voice messages.
    let (_, ups) = app
        .post(
            &format!("/channels/{channel}/attachments"),
            &owner.token,
            json!({"files": [{"filename": "voice-message.ogg"}]}),
        )
        .await;
    let up = &ups["attachments"][0];
    let res = app.client.put(up["upload_url"].as_str().unwrap()).body(ogg(1_500)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut meta = meta.clone();
    meta["uploaded_filename"] = up["upload_filename"].clone();
    let (status, msg) = app.post(&path, &owner.token, json!({"flags": 8192, "attachments": [meta]})).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["attachments"][0]["duration_secs"], 3.25);
    assert_eq!(msg["attachments"][0]["size"], 1_500);
}

#[tokio::test]
async fn a_bulk_delete_deletes_the_messages_files() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let path = format!("/channels/{channel}/messages");
    let mut ids = Vec::new();
    for name in ["one.txt", "two.txt"] {
        let form = [payload(json!({"content": name})), file("files[0]", name, "text/plain", name.as_bytes().to_vec())];
        let (status, msg) = send_form(&app, Method::POST, &path, &owner.token, &form).await;
        assert_eq!(status, StatusCode::OK, "{msg}");
        ids.push(msg["id"].clone());
    }
    let kept = app.send(&owner, &channel, "no files").await;
    assert_eq!(stored_files(&app).await.len(), 2);
    let (status, body) = app.post(&format!("{path}/bulk-delete"), &owner.token, json!({"messages": ids})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    until_no_files(&app).await;
    let (_, history) = app.get(&path, &owner.token).await;
    assert_eq!(history.as_array().unwrap().iter().map(|m| m["id"].clone()).collect::<Vec<_>>(), [kept["id"].clone()]);
}

#[tokio::test]
async fn deleting_a_channel_or_a_guild_deletes_its_files() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let (_, c) = app.get(&format!("/channels/{channel}"), &owner.token).await;
    let guild = c["guild_id"].as_str().unwrap().to_owned();
    let (status, other) = app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({"name": "more"})).await;
    assert_eq!(status.as_u16(), 201, "{other}");
    let other = other["id"].as_str().unwrap().to_owned();
    for ch in [&channel, &other] {
        let form = [payload(json!({"content": "f"})), file("files[0]", "f.txt", "text/plain", b"f".to_vec())];
        let (status, msg) =
            send_form(&app, Method::POST, &format!("/channels/{ch}/messages"), &owner.token, &form).await;
        assert_eq!(status, StatusCode::OK, "{msg}");
    }
    assert_eq!(stored_files(&app).await.len(), 2);
    assert_eq!(app.delete(&format!("/channels/{other}"), &owner.token).await.0, StatusCode::OK);
    until_files(&app, 1, Duration::from_secs(5)).await;
    assert_eq!(app.delete(&format!("/guilds/{guild}"), &owner.token).await.0, StatusCode::NO_CONTENT);
    until_files(&app, 0, Duration::from_secs(5)).await;
}

/// Writes a request head and the first `body` bytes, then reads the answer
/// without sending the rest: the server must answer from what it has.
fn answer_before_the_rest(app: &TestApp, token: &str, channel: &str, declared: usize, body: &[u8]) -> String {
    let head = format!(
        "POST /api/v10/channels/{channel}/messages HTTP/1.1\r\nHost: {}\r\nAuthorization: {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n",
        app.addr()
    );
    let mut socket = std::net::TcpStream::connect(app.addr()).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(body).unwrap();
    let mut answer = vec![0; 4096];
    let n = std::io::Read::read(&mut socket, &mut answer).expect("an answer before the body is complete");
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

// Several threads: the test blocks on its socket while the server answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_is_answered_before_the_body_is_read_past_the_limit() {
    let app = TestApp::spawn_with(|c| c.media.max_file_size = 4096).await;
    let (owner, channel) = setup(&app).await;
    let (token, ch, addr_app) = (owner.token.clone(), channel.clone(), &app);
    // A declared length no ten files could fill: refused from the head.
    let answer = tokio::task::block_in_place(|| answer_before_the_rest(addr_app, &token, &ch, 1 << 40, b""));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("40005"), "{answer}");
    // A file that passes the limit: refused once its bytes do, with a
    // megabyte of it never sent.
    let mut body = Vec::new();
    write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"big.bin\"\r\n\r\n")
        .unwrap();
    body.extend(vec![1u8; 8192]);
    let answer =
        tokio::task::block_in_place(|| answer_before_the_rest(addr_app, &token, &ch, body.len() + 1_000_000, &body));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("40005"), "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    until_no_files(&app).await;
}

/// One second of 8 kHz silence as a WAV file.
fn wav() -> Vec<u8> {
    let samples = 8000u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(samples * 2).to_le_bytes());
    b.resize(b.len() + samples as usize * 2, 0);
    b
}

#[tokio::test]
async fn a_voice_message_is_one_audio_file_with_its_duration_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (owner, channel) = setup(&app).await;
    let path = format!("/channels/{channel}/messages");
    let voice = json!({"id": "0", "duration_secs": 2.5, "waveform": "AAEC/w=="});
    let send = |body: Value, bytes: Vec<u8>| {
        let (app, path, token) = (&app, path.clone(), owner.token.clone());
        async move {
            let form = [payload(body), file("files[0]", "voice-message.wav", "audio/wav", bytes)];
            send_form(app, Method::POST, &path, &token, &form).await
        }
    };
    let (status, msg) = send(json!({"flags": 8192, "attachments": [voice.clone()]}), wav()).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["flags"].as_u64().unwrap() & 8192, 8192);
    let a = &msg["attachments"][0];
    assert!(a["content_type"].as_str().unwrap().starts_with("audio/"), "{a}");
    assert_eq!(a["duration_secs"], json!(2.5));
    assert_eq!(a["waveform"], "AAEC/w==");
    // Read back from the store, and kept through an edit of the flags.
    let id = msg["id"].as_str().unwrap();
    let (status, edited) = app.patch(&format!("{path}/{id}"), &owner.token, json!({"flags": 4})).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["flags"].as_u64().unwrap(), 4 | 8192, "{edited}");
    assert_eq!(edited["attachments"][0]["duration_secs"], json!(2.5));

    // Refused: text beside it, an image, no duration, a bad waveform, no file.
    for (body, bytes, code) in [
        (json!({"flags": 8192, "content": "hi", "attachments": [voice.clone()]}), wav(), 50161),
        (json!({"flags": 8192, "attachments": [voice.clone()]}), png(100), 50159),
        (json!({"flags": 8192, "attachments": [{"id": "0"}]}), wav(), 50160),
        (
            json!({"flags": 8192, "attachments": [{"id": "0", "duration_secs": 1, "waveform": "<script>"}]}),
            wav(),
            50035,
        ),
        (json!({"flags": 8192, "attachments": [{"id": "0", "duration_secs": -1}]}), wav(), 50035),
    ] {
        let (status, err) = send(body.clone(), bytes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["code"], code, "{body}: {err}");
    }
    // Setting it by an edit is refused; keeping it is not.
    let plain = app.send(&owner, &channel, "words").await;
    let (status, _) =
        app.patch(&format!("{path}/{}", plain["id"].as_str().unwrap()), &owner.token, json!({"flags": 8192})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, again) = app.patch(&format!("{path}/{id}"), &owner.token, json!({"flags": 8192})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["flags"].as_u64().unwrap(), 8192, "{again}");
    let (status, _) = app.post(&path, &owner.token, json!({"flags": 8192, "content": "no file"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without the flag, a duration means nothing and is not kept.
    let (status, msg) = send(json!({"content": "a plain file", "attachments": [voice.clone()]}), wav()).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    assert_eq!(msg["attachments"][0].get("duration_secs"), None, "{msg}");
    assert_eq!(msg["flags"].as_u64().unwrap_or(0) & 8192, 0);
}
