//! The web client served by the server: the page at `/` and at the
//! client's own paths, its hashed files cached for good, gzip when asked,
//! and none of it in the way of the gateway (`/` with an upgrade) or the
//! API (`/api/…`, unknown paths still Discord's JSON 404).

use crate::common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

async fn page(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(format!("http://{}{path}", app.addr())).send().await.unwrap()
}

fn assert_is_index(res: &reqwest::Response) {
    assert_eq!(res.status(), StatusCode::OK, "{}", res.url());
    let h = res.headers();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{:?}", h);
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in ["default-src 'self'", "script-src 'self'", "connect-src 'self' ws: wss:", "img-src 'self' data: blob:"]
    {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
}

/// The `/assets/…` files the page loads, read from its HTML.
fn referenced_assets(html: &str) -> Vec<String> {
    html.split('"').filter(|s| s.starts_with("/assets/")).map(str::to_owned).collect()
}

#[tokio::test]
async fn the_page_is_served_at_root_and_at_client_paths() {
    let app = TestApp::spawn().await;
    let root = page(&app, "/").await;
    assert_is_index(&root);
    let html = root.text().await.unwrap();
    assert!(html.contains("<div id=\"app\">"), "{html}");
    assert!(!html.contains("<script>"), "no inline script: {html}");

    for path in ["/channels/@me", "/channels/123/456", "/invite/abcDEF12", "/login", "/register"] {
        let res = page(&app, path).await;
        assert_is_index(&res);
        assert_eq!(res.text().await.unwrap(), html, "{path} is the same page");
    }
    // HEAD answers like GET, without a body.
    let head = app.client.head(format!("http://{}/channels/@me", app.addr())).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn hashed_files_are_immutable_and_gzipped_on_request() {
    let app = TestApp::spawn().await;
    let html = page(&app, "/").await.text().await.unwrap();
    let assets = referenced_assets(&html);
    let js = assets.iter().find(|a| a.ends_with(".js")).expect("the page loads a script");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "the page loads a style sheet: {assets:?}");

    // reqwest is built without gzip here, so this is the plain file.
    let plain = app.client.get(format!("http://{}{js}", app.addr())).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(plain.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(plain.headers().get("content-encoding").is_none());
    let body = plain.bytes().await.unwrap();
    assert!(body.len() > 1000, "a real bundle, {} bytes", body.len());

    let gz =
        app.client.get(format!("http://{}{js}", app.addr())).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["vary"], "Accept-Encoding");
    let packed = gz.bytes().await.unwrap();
    assert!(packed.len() < body.len());
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, body, "the gzipped file is the same file");

    // A file that is not there is a plain 404, not the page.
    let missing = page(&app, "/assets/nope-123.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(!missing.text().await.unwrap().contains("<div id=\"app\">"));
}

#[tokio::test]
async fn the_gateway_keeps_root_for_websocket_upgrades() {
    let app = TestApp::spawn().await;
    let person = app.register("webgw").await;
    let mut gw = app.gateway("").await;
    // HELLO, IDENTIFY, READY through `/`.
    let ready = gw.identify(&person.token, 0).await;
    assert_eq!(ready["user"]["id"], Value::String(person.id.clone()));
}

#[tokio::test]
async fn the_api_keeps_its_json_errors() {
    let app = TestApp::spawn().await;
    for path in ["/api/v10/nope", "/api/nope", "/api/v10/channels/1/nope", "/nothing-here"] {
        let res = page(&app, path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], 0, "{path}: {body}");
    }
    // A POST to a page path is not the page either.
    let post = app.client.post(format!("http://{}/login", app.addr())).send().await.unwrap();
    assert_ne!(post.status(), StatusCode::OK);
    // The API's own pages keep the policy they had.
    let docs = page(&app, "/api/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers().get("content-security-policy").is_some());
}
