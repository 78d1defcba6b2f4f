//! In a cluster, an interaction is held by the node that took the person's
//! request; an application's callback or follow-up may reach any node. A
//! request for an interaction this node does not hold is handed on, whole,
//! to the node that does (`domain::interactions::Locator`), and its answer
//! given back as it came. A request handed on once is never handed on
//! again.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use domain::interactions::{Held, Relayed};
use model::Id;

use crate::{ApiError, ApiState};

/// Marks a request another node handed on.
const RELAYED: &str = "x-fussioncord-relayed";

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 8] =
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "content-length"];

/// The interaction a path names: `/interactions/{id}/{token}/callback`, or
/// a webhook URL `/webhooks/{id}/{token}…` (an interaction's token, or a
/// webhook's: only a locator that knows the token says which).
fn held(path: &str) -> Option<Held<'_>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["interactions", id, _token, "callback"] => {
            id.parse::<u64>().ok().filter(|n| *n > 0).map(|n| Held::Id(Id::new(n)))
        }
        ["webhooks", _id, token, ..] if !token.is_empty() => Some(Held::Token(token)),
        _ => None,
    }
}

pub(crate) async fn to_holder(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let Some(locator) = state.interactions.locator().cloned() else { return next.run(req).await };
    if req.headers().contains_key(RELAYED) {
        return next.run(req).await;
    }
    // The path within `/api/v10` or `/api` (however the router hands it).
    let path = req.uri().path();
    let path = path.strip_prefix("/api/v10").or_else(|| path.strip_prefix("/api")).unwrap_or(path).to_owned();
    let Some(held) = held(&path) else { return next.run(req).await };
    if state.interactions.holds(held) {
        return next.run(req).await;
    }
    let Some(owner) = locator.owner_of(held).await else { return next.run(req).await };
    // Within `/api/v10` or `/api`, the path as the route sees it: handed on
    // under `/api/v10`, which serves both.
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let path_and_query = format!("/api/v10{path}{query}");
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large").into_response()
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()) && name.as_str() != "host")
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.push((RELAYED.to_owned(), b"1".to_vec()));
    let request = Relayed { method: parts.method.to_string(), path: path_and_query, status: 0, headers, body };
    match locator.relay(owner, request).await {
        Ok(answer) => {
            let mut res = Response::new(Body::from(answer.body));
            *res.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (name, value) in answer.headers {
                if HOP_BY_HOP.contains(&name.as_str()) {
                    continue;
                }
                if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_bytes(&value)) {
                    res.headers_mut().append(name, value);
                }
            }
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "the node holding an interaction did not answer");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 0, "503: The node holding this interaction is unavailable")
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_interaction() {
        assert!(matches!(held("/interactions/42/tok/callback"), Some(Held::Id(id)) if id.get() == 42));
        assert!(held("/interactions/x/tok/callback").is_none());
        assert!(held("/interactions/42/tok").is_none());
        assert!(matches!(held("/webhooks/1/tok/messages/@original"), Some(Held::Token("tok"))));
        assert!(matches!(held("/webhooks/1/tok"), Some(Held::Token("tok"))));
        assert!(held("/webhooks/1").is_none());
        assert!(held("/channels/1/messages").is_none());
    }
}
