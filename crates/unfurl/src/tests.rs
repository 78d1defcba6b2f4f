//! The fetcher against real sockets on loopback: what it refuses never
//! reaches the server (requests are counted), what it fetches is capped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use crate::{Failure, Kind, UnfurlConfig, Unfurler};

type Respond = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// A tiny HTTP/1.1 server on loopback answering each request with
/// `respond(path)` and remembering the paths it was asked for.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
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

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
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

fn html(body: &str) -> Vec<u8> {
    response("200 OK", &[("Content-Type", "text/html; charset=utf-8")], body.as_bytes())
}

const PAGE: &str = r##"<html><head><title>fallback</title>
<meta property="og:title" content="A page">
<meta property="og:description" content="About things">
<meta property="og:site_name" content="Loopback">
<meta property="og:image" content="/img.png">
<meta name="theme-color" content="#123456">
</head><body>x</body></html>"##;

fn unfurler(allow: &[String], tune: impl FnOnce(&mut UnfurlConfig)) -> Arc<Unfurler> {
    let mut config = UnfurlConfig { allow: allow.to_vec(), timeout_ms: 3000, ..UnfurlConfig::default() };
    tune(&mut config);
    Arc::new(Unfurler::new(config).unwrap())
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[tokio::test]
async fn an_allow_listed_page_is_previewed() {
    let server = Server::start(|_| html(PAGE)).await;
    let u = unfurler(&[format!("127.0.0.1:{}", server.port)], |_| {});
    let link = url(&format!("http://127.0.0.1:{}/page", server.port));
    let p = u.preview(&link).await.unwrap().unwrap();
    assert_eq!(p.kind, Kind::Link);
    assert_eq!(p.url, link.to_string());
    assert_eq!(p.title.as_deref(), Some("A page"));
    assert_eq!(p.description.as_deref(), Some("About things"));
    assert_eq!(p.site_name.as_deref(), Some("Loopback"));
    assert_eq!(p.color, Some(0x123456));
    assert_eq!(p.thumbnail.unwrap().url, format!("http://127.0.0.1:{}/img.png", server.port));
    assert_eq!(server.seen(), ["/page"]);
}

#[tokio::test]
async fn non_public_addresses_are_refused_before_anything_is_sent() {
    let server = Server::start(|_| html(PAGE)).await;
    let port = server.port;
    // Another port of loopback is allowed, not this one.
    let u = unfurler(&[format!("127.0.0.1:{}", port + 1)], |_| {});
    for link in [
        format!("http://127.0.0.1:{port}/loopback"),
        format!("http://127.1:{port}/short"),
        format!("http://2130706433:{port}/decimal"),
        format!("http://0x7f.0.0.1:{port}/hex"),
        format!("http://[::1]:{port}/v6"),
        format!("http://[::ffff:127.0.0.1]:{port}/mapped"),
        format!("http://0.0.0.0:{port}/unspecified"),
        format!("http://localhost:{port}/name"),
        "http://10.0.0.1/private".into(),
        "http://192.168.1.1/private".into(),
        "http://172.16.5.4/private".into(),
        "http://100.64.0.1/cgnat".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[fe80::1]/link-local".into(),
        "http://[fd00::1]/unique-local".into(),
        "http://[64:ff9b::a9fe:a9fe]/nat64-metadata".into(),
    ] {
        let started = Instant::now();
        let got = u.preview(&url(&link)).await;
        assert!(matches!(got, Err(Failure::Refused(_))), "{link}: {got:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{link} was refused at once, not tried");
    }
    assert!(server.seen().is_empty(), "the server saw {:?}", server.seen());
    for link in ["ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1/"] {
        assert!(matches!(u.preview(&url(link)).await, Err(Failure::Refused(_))), "{link}");
    }
}

#[tokio::test]
async fn a_redirect_to_a_refused_address_is_not_followed() {
    let inner = Server::start(|_| html(PAGE)).await;
    let inner_port = inner.port;
    let outer = Server::start(move |path| match path {
        "/to-loopback" => {
            response("302 Found", &[("Location", format!("http://127.0.0.1:{inner_port}/x").as_str())], b"")
        }
        "/to-localhost" => {
            response("301 Moved", &[("Location", format!("http://localhost:{inner_port}/y").as_str())], b"")
        }
        "/to-metadata" => response("307 Temporary", &[("Location", "http://169.254.169.254/")], b""),
        "/relative" => response("302 Found", &[("Location", "/final")], b""),
        "/loop" => response("302 Found", &[("Location", "/loop")], b""),
        "/final" => html(PAGE),
        _ => response("404 Not Found", &[], b""),
    })
    .await;
    let u = unfurler(&[format!("127.0.0.1:{}", outer.port)], |c| c.max_redirects = 3);
    let base = format!("http://127.0.0.1:{}", outer.port);
    for path in ["/to-loopback", "/to-localhost", "/to-metadata"] {
        let got = u.preview(&url(&format!("{base}{path}"))).await;
        assert!(matches!(got, Err(Failure::Refused(_))), "{path}: {got:?}");
    }
    assert!(inner.seen().is_empty(), "the refused target saw {:?}", inner.seen());
    let p = u.preview(&url(&format!("{base}/relative"))).await.unwrap().unwrap();
    assert_eq!(p.title.as_deref(), Some("A page"));
    assert_eq!(p.url, format!("{base}/relative"), "the preview keeps the link as posted");
    let looped = u.preview(&url(&format!("{base}/loop"))).await;
    assert!(matches!(looped, Err(Failure::Failed(ref why)) if why.contains("redirects")), "{looped:?}");
    let loops = outer.seen().iter().filter(|p| *p == "/loop").count();
    assert_eq!(loops, 4, "the first request and 3 redirects, no more");
}

#[tokio::test]
async fn bodies_types_and_time_are_capped() {
    let big = format!("<html><head><title>big</title>{}", "<meta name=x content=y>".repeat(200_000));
    let png = {
        // A PNG header: signature, IHDR of 300×200.
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        b.extend_from_slice(&300u32.to_be_bytes());
        b.extend_from_slice(&200u32.to_be_bytes());
        b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        b
    };
    let server = Server::start(move |path| match path {
        "/big" => html(&big),
        "/image" => response("200 OK", &[("Content-Type", "image/png")], &png),
        "/json" => response("200 OK", &[("Content-Type", "application/json")], b"{}"),
        "/empty" => html("<html><head></head><body>nothing to show</body></html>"),
        "/oops" => response("500 Internal Server Error", &[("Content-Type", "text/html")], PAGE.as_bytes()),
        _ => response("404 Not Found", &[], b""),
    })
    .await;
    let allow = [format!("127.0.0.1:{}", server.port)];
    let u = unfurler(&allow, |c| c.max_bytes = 64 * 1024);
    let base = format!("http://127.0.0.1:{}", server.port);
    let big = u.fetcher.get(&url(&format!("{base}/big")), "text/html", |_| Some(crate::fetch::Read::Whole)).await;
    assert_eq!(big.unwrap().body.len(), 64 * 1024, "read up to max_bytes, no further");
    let p = u.preview(&url(&format!("{base}/big"))).await.unwrap().unwrap();
    assert_eq!(p.title.as_deref(), Some("big"));
    let image = u.preview(&url(&format!("{base}/image"))).await.unwrap().unwrap();
    assert_eq!(image.kind, Kind::Image);
    let thumb = image.thumbnail.unwrap();
    assert_eq!((thumb.url, thumb.width, thumb.height), (format!("{base}/image"), Some(300), Some(200)));
    assert!(matches!(u.preview(&url(&format!("{base}/json"))).await, Err(Failure::Failed(_))));
    assert_eq!(u.preview(&url(&format!("{base}/empty"))).await, Ok(None));
    assert!(matches!(u.preview(&url(&format!("{base}/oops"))).await, Err(Failure::Failed(_))));

    // A server that accepts and never answers: the preview gives up in time.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let u = unfurler(&[format!("127.0.0.1:{silent_port}")], |c| c.timeout_ms = 500);
    let started = Instant::now();
    let got = u.preview(&url(&format!("http://127.0.0.1:{silent_port}/"))).await;
    assert!(matches!(got, Err(Failure::Failed(_))), "{got:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn oembed_fills_in_what_the_page_lacks_under_the_same_rules() {
    let private = Server::start(|_| response("200 OK", &[("Content-Type", "application/json")], b"{}")).await;
    let private_port = private.port;
    let server = Server::start(move |path| match path {
        "/video" => html(
            r#"<head><title>Clip</title><link rel="alternate" type="application/json+oembed" href="/oembed.json"></head>"#,
        ),
        "/oembed.json" => response(
            "200 OK",
            &[("Content-Type", "application/json")],
            br#"{"provider_name":"Tube","author_name":"Someone","author_url":"/someone","thumbnail_url":"/t.jpg","thumbnail_width":"480","thumbnail_height":360}"#,
        ),
        "/sneaky" => html(&format!(
            r#"<head><title>Sneaky</title><link rel="alternate" type="application/json+oembed" href="http://127.0.0.1:{private_port}/o"></head>"#
        )),
        _ => response("404 Not Found", &[], b""),
    })
    .await;
    let u = unfurler(&[format!("127.0.0.1:{}", server.port)], |_| {});
    let base = format!("http://127.0.0.1:{}", server.port);
    let p = u.preview(&url(&format!("{base}/video"))).await.unwrap().unwrap();
    assert_eq!(p.title.as_deref(), Some("Clip"));
    assert_eq!(p.site_name.as_deref(), Some("Tube"));
    assert_eq!(p.author_name.as_deref(), Some("Someone"));
    assert_eq!(p.author_url, Some(format!("{base}/someone")));
    let t = p.thumbnail.unwrap();
    assert_eq!((t.url, t.width, t.height), (format!("{base}/t.jpg"), Some(480), Some(360)));
    let sneaky = u.preview(&url(&format!("{base}/sneaky"))).await.unwrap().unwrap();
    assert_eq!(sneaky.title.as_deref(), Some("Sneaky"));
    assert!(private.seen().is_empty(), "the oEmbed link to a refused address was not fetched");
}

#[test]
fn a_bad_allow_entry_stops_start_up() {
    let err = Unfurler::new(UnfurlConfig { allow: vec!["localhost:80".into()], ..Default::default() }).err();
    assert!(err.unwrap().contains("localhost:80"));
}

#[test]
fn links_are_capped_and_disabled_means_none() {
    let u = unfurler(&[], |c| c.max_links = 2);
    assert_eq!(u.links("https://a.example/ https://b.example/ https://c.example/").len(), 2);
    let off = unfurler(&[], |c| c.enabled = false);
    assert!(off.links("https://a.example/").is_empty());
}
