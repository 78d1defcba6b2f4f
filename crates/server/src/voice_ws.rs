//! `/voice` on the main HTTP port: the voice gateway for the web client,
//! same origin as its page, so a browser never has to trust the voice
//! server's (possibly self-signed) TLS certificate. Bots keep dialling the
//! TLS endpoint VOICE_SERVER_UPDATE names.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

pub(crate) async fn upgrade(gateway: voice::VoiceGateway, mut req: Request) -> Response {
    let wants_websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).filter(|_| wants_websocket) else {
        return (StatusCode::BAD_REQUEST, "WebSocket upgrade expected").into_response();
    };
    let accept = voice::VoiceGateway::accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(io) = on_upgrade.await {
            gateway.serve(TokioIo::new(io)).await;
        }
    });
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    res
}
