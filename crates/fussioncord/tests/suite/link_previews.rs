//! Link previews (issue 17): links in a message are unfurled in the
//! background and the message comes back as MESSAGE_UPDATE with link
//! embeds. The pages are served by a small HTTP server in this test on
//! loopback, which the server's `unfurl.allow` names by port; a second one,
//! not allow-listed, counts the requests that must never reach it. Hostile
//! links ride in one message with a harmless "control" link, so once the
//! control's preview arrives every link of that message has been dealt
//! with, and no sleep is needed to know nothing else will come.
//! Run on SQLite and PostgreSQL (`TEST_STORE=postgres`).

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::ws::{Gateway, ALL_INTENTS};
use crate::common::{TestApp, TestUser};

type Respond = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// A tiny HTTP/1.1 server on loopback: answers each request with
/// `respond(path)` and remembers every path asked for.
struct Pages {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Pages {
    async fn start(respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let respond: Respond = Arc::new(respond);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (respond, log) = (respond.clone(), log.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    log.lock().unwrap().push(path.clone());
                    let _ = socket.write_all(&respond(&path)).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|p| *p == path).count()
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A page whose OpenGraph tags name `title`.
fn page(title: &str) -> Vec<u8> {
    let body = format!(
        r##"<!doctype html><html><head><title>plain title</title>
        <meta property="og:title" content="{title}">
        <meta property="og:description" content="All about {title} &amp; more">
        <meta property="og:site_name" content="Loopback News">
        <meta property="og:type" content="article">
        <meta property="og:image" content="/cover.png">
        <meta property="og:image:width" content="1200"><meta property="og:image:height" content="630">
        <meta name="theme-color" content="#336699">
        </head><body><p>text</p></body></html>"##
    );
    response("200 OK", &[("Content-Type", "text/html; charset=utf-8")], body.as_bytes())
}

/// The embed `page(title)` at `url` becomes.
fn page_embed(pages: &Pages, url: &str, title: &str) -> Value {
    json!({
        "type": "article",
        "url": url,
        "title": title,
        "description": format!("All about {title} & more"),
        "color": 0x336699,
        "provider": {"name": "Loopback News"},
        "thumbnail": {"url": pages.url("/cover.png"), "width": 1200, "height": 630},
    })
}

fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b
}

/// The allow-listed page server, the one that is not, and a server whose
/// `unfurl.allow` names only the first one's port.
async fn setup() -> (TestApp, Pages, Pages) {
    let hidden = Pages::start(|_| page("hidden")).await;
    let hidden_port = hidden.port;
    let pages = Pages::start(move |path| match path {
        "/pic.png" => response("200 OK", &[("Content-Type", "image/png")], &png_header(64, 48)),
        "/redirect" => {
            response("302 Found", &[("Location", format!("http://127.0.0.1:{hidden_port}/redirected").as_str())], b"")
        }
        "/moved" => response("301 Moved Permanently", &[("Location", "/landing")], b""),
        "/bare" => response("200 OK", &[("Content-Type", "text/html")], b"<html><body>no head</body></html>"),
        p => page(&p[1..]),
    })
    .await;
    let allow = format!("127.0.0.1:{}", pages.port);
    let app = TestApp::spawn_with(move |c| {
        c.unfurl.enabled = true;
        c.unfurl.allow = vec![allow];
    })
    .await;
    (app, pages, hidden)
}

async fn post(app: &TestApp, user: &TestUser, channel: &str, body: Value) -> Value {
    let (status, msg) = app.post(&format!("/channels/{channel}/messages"), &user.token, body).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    msg
}

/// The next MESSAGE_UPDATE's payload, which must be about `id`.
async fn update_of(gw: &mut Gateway, id: &Value) -> Value {
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(&update["d"]["id"], id, "{update}");
    update["d"].clone()
}

async fn get_message(app: &TestApp, user: &TestUser, channel: &str, id: &Value) -> Value {
    let id = id.as_str().unwrap();
    let (status, got) = app.get(&format!("/channels/{channel}/messages/{id}"), &user.token).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    got
}

#[tokio::test]
async fn an_opengraph_page_on_an_allow_listed_address_arrives_as_message_update() {
    let (app, pages, _hidden) = setup().await;
    let owner = app.register("previewer").await;
    let (guild, channel) = app.guild(&owner, "previews").await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;

    let link = pages.url("/article");
    let content = format!("read this: {link}");
    let msg = post(&app, &owner, &channel, json!({ "content": content })).await;
    assert_eq!(msg["embeds"], json!([]), "previews come later, in the background");
    let created = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["embeds"], json!([]));
    let update = update_of(&mut gw, &msg["id"]).await;
    let expected = json!([page_embed(&pages, &link, "article")]);
    assert_eq!(update["embeds"], expected, "{update}");
    assert_eq!(update["channel_id"], channel);
    assert_eq!(update["guild_id"], guild["id"]);
    assert_eq!(update["content"], content);
    assert_eq!(update["edited_timestamp"], Value::Null, "a preview is not an edit");
    assert_eq!(get_message(&app, &owner, &channel, &msg["id"]).await["embeds"], expected);
    let (_, history) = app.get(&format!("/channels/{channel}/messages"), &owner.token).await;
    assert_eq!(history[0]["embeds"], expected);
    assert_eq!(pages.seen(), ["/article"], "the page once; its image is not fetched");

    // Rich embeds stay first; an image link is an image embed; a redirect
    // within the allowed address is followed; a page with nothing to show
    // and a link in code get nothing.
    let image = pages.url("/pic.png");
    let moved = pages.url("/moved");
    let msg = post(
        &app,
        &owner,
        &channel,
        json!({
            "content": format!("{image} {moved} {} `{}`", pages.url("/bare"), pages.url("/in-code")),
            "embeds": [{"title": "mine"}],
        }),
    )
    .await;
    assert_eq!(msg["embeds"], json!([{"type": "rich", "title": "mine"}]));
    let update = update_of(&mut gw, &msg["id"]).await;
    assert_eq!(
        update["embeds"],
        json!([
            {"type": "rich", "title": "mine"},
            {"type": "image", "url": image, "thumbnail": {"url": image, "width": 64, "height": 48}},
            page_embed(&pages, &moved, "landing"),
        ]),
        "{update}"
    );
    assert_eq!(pages.count("/landing"), 1);
    assert_eq!(pages.count("/bare"), 1);
    assert_eq!(pages.count("/in-code"), 0);

    // At most 5 links of a message are unfurled.
    let many: Vec<String> = (1..=7).map(|i| pages.url(&format!("/many{i}"))).collect();
    let msg = post(&app, &owner, &channel, json!({ "content": many.join(" ") })).await;
    let update = update_of(&mut gw, &msg["id"]).await;
    let titles: Vec<&str> = update["embeds"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["many1", "many2", "many3", "many4", "many5"]);
    assert_eq!(pages.count("/many6") + pages.count("/many7"), 0);
}

#[tokio::test]
async fn hostile_links_are_never_fetched() {
    let (app, pages, hidden) = setup().await;
    let owner = app.register("ssrf").await;
    let (_, channel) = app.guild(&owner, "ssrf").await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;
    let hp = hidden.port;

    // Loopback on a port the allow-list does not name, private and
    // link-local addresses (the cloud metadata service), and a control.
    let control = pages.url("/control-one");
    let content = format!(
        "http://127.0.0.1:{hp}/loopback http://10.0.0.1/private http://192.168.1.1/private \
         http://169.254.169.254/latest/meta-data/ {control}"
    );
    let msg = post(&app, &owner, &channel, json!({ "content": content })).await;
    let update = update_of(&mut gw, &msg["id"]).await;
    assert_eq!(update["embeds"], json!([page_embed(&pages, &control, "control-one")]), "{update}");

    // IPv6 loopback, a name that resolves to loopback, a redirect from the
    // allowed server to the hidden one, a link in angle brackets, a control.
    let control = pages.url("/control-two");
    let content = format!(
        "http://[::1]:{hp}/v6 http://localhost:{hp}/name {} <{}> {control}",
        pages.url("/redirect"),
        pages.url("/bracketed")
    );
    let msg = post(&app, &owner, &channel, json!({ "content": content })).await;
    let update = update_of(&mut gw, &msg["id"]).await;
    assert_eq!(update["embeds"], json!([page_embed(&pages, &control, "control-two")]), "{update}");
    assert_eq!(get_message(&app, &owner, &channel, &msg["id"]).await["embeds"].as_array().unwrap().len(), 1);

    assert!(hidden.seen().is_empty(), "the address that is not allow-listed saw {:?}", hidden.seen());
    assert_eq!(pages.count("/redirect"), 1, "the redirect itself came from the allowed server");
    assert_eq!(pages.count("/bracketed"), 0, "<links> are not previewed");

    // A message of hostile links only: no preview, so no MESSAGE_UPDATE
    // before the next message's.
    let msg = post(&app, &owner, &channel, json!({ "content": format!("http://127.0.0.1:{hp}/alone") })).await;
    let control = post(&app, &owner, &channel, json!({ "content": pages.url("/control-three") })).await;
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["id"], control["id"], "no update came for {}", msg["id"]);
    assert!(hidden.seen().is_empty());
}

#[tokio::test]
async fn suppress_embeds_and_embed_links_decide() {
    let (app, pages, _hidden) = setup().await;
    let owner = app.register("suppressor").await;
    let (guild, channel) = app.guild(&owner, "suppress").await;
    let member = app.register("nolinks").await;
    app.join(&owner, &channel, &member).await;
    let mut gw = app.gateway("").await;
    gw.identify(&owner.token, ALL_INTENTS).await;

    // Sent with SUPPRESS_EMBEDS: no fetch.
    let link = pages.url("/suppressed");
    let msg = post(&app, &owner, &channel, json!({ "content": link, "flags": 4 })).await;
    assert_eq!(msg["flags"], 4);
    // Without EMBED_LINKS in the channel: no fetch.
    let guild_id = guild["id"].as_str().unwrap();
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/channels/{channel}/permissions/{guild_id}"),
            Some(&owner.token),
            Some(json!({"type": 0, "deny": (1u64 << 14).to_string(), "allow": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let denied = post(&app, &member, &channel, json!({ "content": pages.url("/denied") })).await;
    // The owner keeps EMBED_LINKS: the control.
    let control = post(&app, &owner, &channel, json!({ "content": pages.url("/control") })).await;
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["id"], control["id"], "the first update is the control's: {update}");
    assert_eq!(pages.count("/suppressed"), 0);
    assert_eq!(pages.count("/denied"), 0);
    assert_eq!(get_message(&app, &owner, &channel, &denied["id"]).await["embeds"], json!([]));

    // Clearing the flag previews the link; setting it again drops the
    // preview (each an edit's MESSAGE_UPDATE, the preview its own).
    let id = msg["id"].as_str().unwrap();
    let path = format!("/channels/{channel}/messages/{id}");
    let (status, edited) = app.patch(&path, &owner.token, json!({ "flags": 0 })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(update_of(&mut gw, &msg["id"]).await["embeds"], json!([]), "the edit itself");
    let update = update_of(&mut gw, &msg["id"]).await;
    assert_eq!(update["embeds"], json!([page_embed(&pages, &link, "suppressed")]));
    let (status, edited) = app.patch(&path, &owner.token, json!({ "flags": 4 })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["embeds"], json!([]));
    assert_eq!(update_of(&mut gw, &msg["id"]).await["embeds"], json!([]));
    assert_eq!(get_message(&app, &owner, &channel, &msg["id"]).await["embeds"], json!([]));

    // An edit that changes the content replaces the preview; one that
    // does not keeps it without fetching again; rich embeds in an edit
    // leave the preview in place.
    let (status, _) = app.patch(&path, &owner.token, json!({ "flags": 0 })).await;
    assert_eq!(status, StatusCode::OK);
    update_of(&mut gw, &msg["id"]).await;
    update_of(&mut gw, &msg["id"]).await;
    let other = pages.url("/other");
    let (status, edited) = app.patch(&path, &owner.token, json!({ "content": format!("now {other}") })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["embeds"], json!([]), "the old preview went with the old content");
    update_of(&mut gw, &msg["id"]).await;
    let update = update_of(&mut gw, &msg["id"]).await;
    assert_eq!(update["embeds"], json!([page_embed(&pages, &other, "other")]));
    let (status, edited) = app.patch(&path, &owner.token, json!({ "embeds": [{"description": "rich"}] })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["embeds"], json!([{"type": "rich", "description": "rich"}, page_embed(&pages, &other, "other")]));
    assert_eq!(pages.count("/other"), 1, "kept, not fetched again");
    assert_eq!(pages.count("/suppressed"), 2, "once per time the flag was cleared");

    // With previews off, nothing is fetched at all.
    let off = TestApp::spawn_with(|c| {
        c.unfurl.enabled = false;
        c.unfurl.allow = vec![format!("127.0.0.1:{}", pages.port)];
    })
    .await;
    let owner = off.register("offline").await;
    let (_, channel) = off.guild(&owner, "off").await;
    // Whether a message gets previews is decided before its answer.
    let msg = post(&off, &owner, &channel, json!({ "content": pages.url("/disabled") })).await;
    assert_eq!(pages.count("/disabled"), 0);
    assert_eq!(get_message(&off, &owner, &channel, &msg["id"]).await["embeds"], json!([]));
}
