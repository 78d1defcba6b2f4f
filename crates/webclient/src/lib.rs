//! The web client, embedded: `web/` is built by `build.rs` and its files
//! are served from memory, so the one binary needs nothing beside it.
//!
//! - `/assets/…` (hashed by Vite): cached for a year as immutable.
//! - `index.html` for `GET /` without a WebSocket upgrade (the gateway
//!   keeps `/` for upgrades: bot libraries dial `ws://host/?v=10`) and for
//!   the client's own pages (`/channels/…`, `/invite/…`, `/login`, …), with
//!   `no-cache` so a new build is picked up at once.
//! - gzip when the browser accepts it (precompressed at build time).

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
pub struct Asset {
    /// Its URL path, e.g. `/assets/index-3f2a1b.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    /// The same, gzipped, when that is smaller.
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The client's own pages: a browser asking for them gets `index.html` and
/// the client's router shows the right screen. Add a path here when the
/// client gains a page at a new top-level path.
pub const PAGES: &[&str] =
    &["/channels", "/channels/{*rest}", "/invite/{code}", "/login", "/register", "/settings", "/settings/{*rest}"];

/// The page's Content-Security-Policy: scripts and styles from this origin
/// only (no inline script), the API and gateway on this origin (or a
/// `gateway.public_url` elsewhere, hence `ws:`/`wss:`), images inline.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                       connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; base-uri 'self'; \
                       form-action 'self'; frame-ancestors 'none'";

pub fn asset(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.path == path)
}

fn index() -> &'static Asset {
    asset("/index.html").expect("the web build has an index.html")
}

/// Routes for the client's pages and files. `GET /` is not among them: it
/// belongs to the gateway, wrapped with [`page_at_root`].
pub fn router() -> Router {
    let mut router = Router::new().route("/assets/{*file}", get(serve_asset));
    for page in PAGES {
        router = router.route(page, get(serve_index));
    }
    // Anything else the build put at the top level (favicon, robots.txt…).
    for a in FILES.iter().filter(|a| !a.path.starts_with("/assets/") && a.path != "/index.html") {
        router = router.route(a.path, get(move |h: HeaderMap| async move { respond(a, &h) }));
    }
    router
}

/// Middleware for the gateway's route `/`: a plain `GET /` (no WebSocket
/// upgrade) is a person opening the site, so it gets the page.
pub async fn page_at_root(req: Request, next: Next) -> Response {
    let plain = matches!(*req.method(), Method::GET | Method::HEAD)
        && !req.headers().get(header::UPGRADE).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if plain {
        return respond(index(), req.headers());
    }
    next.run(req).await
}

async fn serve_index(headers: HeaderMap) -> Response {
    respond(index(), &headers)
}

async fn serve_asset(req: Request) -> Response {
    match asset(req.uri().path()) {
        Some(a) => respond(a, req.headers()),
        None => {
            (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found").into_response()
        }
    }
}

fn respond(a: &'static Asset, req: &HeaderMap) -> Response {
    let html = a.path.ends_with(".html");
    let mut res = match a.gzip.filter(|_| accepts_gzip(req)) {
        Some(gz) => {
            let mut r = gz.into_response();
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => a.body.into_response(),
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(a.path)));
    if a.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if a.path.starts_with("/assets/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    } else {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if html {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    res
}

fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|enc| {
        let mut parts = enc.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_embedded() {
        let html = std::str::from_utf8(index().body).unwrap();
        assert!(html.contains("<div id=\"app\">"), "{html}");
        assert!(FILES.iter().any(|a| a.path.starts_with("/assets/") && a.path.ends_with(".js")));
        // No inline script: the CSP would block it.
        assert!(!html.contains("<script>") && !html.contains("<script type=\"module\">"), "{html}");
    }

    #[test]
    fn gzip_is_negotiated() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip, deflate"));
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(!accepts_gzip(&h));
    }
}
