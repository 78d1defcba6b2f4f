//! Rate limits as Discord applies them: every request counts against its
//! caller's global limit and against its route's bucket, per major
//! parameter (channel, guild, webhook). Callers without a valid token are
//! counted per address. Answers carry the bucket's `X-RateLimit-*`
//! headers; a refused request gets a 429 and changes nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use ratelimit::{Decision, Quota, RateLimitConfig, RateLimiter};

use crate::extract::Caller;
use crate::ApiState;
use crate::{ApiError, Limited};

/// The limiter and the limits it enforces.
pub struct Limits {
    pub limiter: Arc<dyn RateLimiter>,
    pub config: RateLimitConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<IpAddr>,
}

/// Path parameters that split a route's bucket, as Discord's do.
const MAJOR: [&str; 3] = ["channel_id", "guild_id", "webhook_id"];

/// Routes that take no token, counted by address even when a request
/// carries one: otherwise every account made would bring a fresh budget
/// of registrations and guesses.
const BY_ADDRESS: [&str; 3] = ["POST /auth/register", "POST /auth/login", "POST /auth/mfa/totp"];

pub async fn limit(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let limits = &state.limits;
    if !limits.config.enabled {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let template = parts.extensions.get::<MatchedPath>().map(|m| route_template(m.as_str()).to_owned());
    let Some(template) = template else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    // HEAD is answered by the GET handler, so it spends the GET budget.
    let method = if parts.method == Method::HEAD { &Method::GET } else { &parts.method };
    let route = format!("{method} {template}");
    let major: Vec<String> = match RawPathParams::from_request_parts(&mut parts, &state).await {
        Ok(params) => params.iter().filter(|(k, _)| MAJOR.contains(k)).map(|(_, v)| canonical_id(v)).collect(),
        Err(_) => Vec::new(),
    };

    // Routes counted by address need no token lookup (and use none).
    let caller = if BY_ADDRESS.contains(&route.as_str()) {
        None
    } else {
        match crate::extract::caller(&parts.headers, &state).await {
            Ok(session) => {
                let id = session.as_ref().map(|s| s.user.id.to_string());
                parts.extensions.insert(Caller(session.map(Arc::new)));
                id
            }
            // The handler's own lookup will fail again and answer for it.
            Err(_) => None,
        }
    };
    let (who, global, counted_as) = match caller {
        Some(id) => (id, limits.config.global, "global"),
        None => {
            let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
            let ip = peer.map(|peer| ratelimit::address_key(client_ip(peer, &parts.headers, &limits.trusted_proxies)));
            (format!("ip:{}", ip.as_deref().unwrap_or("unknown")), limits.config.per_ip, "ip")
        }
    };

    let global_hit = hit(limits, &format!("g:{who}"), global).await;
    if let Some(d) = global_hit.filter(|d| !d.allowed) {
        state.metrics.rate_limited(counted_as);
        return ApiError::rate_limited(Limited { retry_after: secs(d.reset_after), global: true, scope: "global" })
            .into_response();
    }

    let route_limit = limits.config.route(&route);
    let bucket = bucket_id(&route);
    let counted = if route_limit.shared { "*" } else { &who };
    let key = format!("r:{bucket}:{counted}:{}", major.join(":"));
    let decision = hit(limits, &key, route_limit.quota()).await;

    let mut res = match decision {
        Some(d) if !d.allowed => {
            let scope = if route_limit.shared { "shared" } else { "user" };
            state.metrics.rate_limited(scope);
            ApiError::rate_limited(Limited { retry_after: secs(d.reset_after), global: false, scope }).into_response()
        }
        _ => next.run(Request::from_parts(parts, body)).await,
    };
    if let Some(d) = decision {
        bucket_headers(res.headers_mut(), &bucket, &d);
    }
    res
}

/// The client's address as `ratelimit::client_ip` finds it from the
/// request's `X-Forwarded-For` headers.
fn client_ip(peer: SocketAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    ratelimit::client_ip(peer, forwarded, trusted)
}

/// A major parameter as the handler will read it: `0123` and `123` name
/// the same channel, so they must share a bucket.
fn canonical_id(raw: &str) -> String {
    raw.parse::<u64>().map_or_else(|_| raw.to_owned(), |n| n.to_string())
}

/// A counter that cannot be reached lets the request through: a chat that
/// stops answering because Redis hiccupped is worse than one unlimited
/// for a moment.
/// Counts `files` uploads against `user`'s upload quota (`ratelimit.uploads`);
/// a 429 when it is spent, before a byte of them is stored.
pub(crate) async fn spend_uploads(state: &ApiState, user: store::UserId, files: usize) -> Result<(), ApiError> {
    let limits = &state.limits;
    if !limits.config.enabled {
        return Ok(());
    }
    for _ in 0..files {
        if let Some(d) = hit(limits, &format!("uploads:{user}"), limits.config.uploads).await.filter(|d| !d.allowed) {
            state.metrics.rate_limited("user");
            return Err(ApiError::rate_limited(Limited {
                retry_after: secs(d.reset_after),
                global: false,
                scope: "user",
            }));
        }
    }
    Ok(())
}

async fn hit(limits: &Limits, key: &str, quota: Quota) -> Option<Decision> {
    match limits.limiter.hit(key, quota).await {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; request not counted");
            None
        }
    }
}

/// The route as the route map spells it, without the `/api/v10` or `/api`
/// it is mounted under.
fn route_template(matched: &str) -> &str {
    matched.strip_prefix("/api/v10").or_else(|| matched.strip_prefix("/api")).unwrap_or(matched)
}

/// An opaque, stable name for a route's bucket (the same on every node):
/// FNV-1a of the route key.
fn bucket_id(route: &str) -> String {
    let hash = route.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn bucket_headers(h: &mut HeaderMap, bucket: &str, d: &Decision) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let reset = now + d.reset_after;
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", format!("{:.3}", reset.as_secs_f64())),
        ("x-ratelimit-reset-after", format!("{:.3}", d.reset_after.as_secs_f64())),
        ("x-ratelimit-bucket", bucket.to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_named_without_their_mount_point() {
        assert_eq!(route_template("/api/v10/channels/{channel_id}"), "/channels/{channel_id}");
        assert_eq!(route_template("/api/channels/{channel_id}"), "/channels/{channel_id}");
    }

    #[test]
    fn spellings_of_one_id_share_a_key() {
        assert_eq!(canonical_id("00123"), "123");
        assert_eq!(canonical_id("not-an-id"), "not-an-id");
    }

    #[test]
    fn buckets_are_stable_and_distinct() {
        let a = bucket_id("POST /channels/{channel_id}/messages");
        assert_eq!(a, bucket_id("POST /channels/{channel_id}/messages"));
        assert_ne!(a, bucket_id("GET /channels/{channel_id}/messages"));
        assert_eq!(a.len(), 16);
    }
}
