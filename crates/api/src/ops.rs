//! What operators use rather than clients: `GET /healthz`, `GET /readyz`,
//! `GET /metrics`, and the middleware that gives every request an id, a
//! tracing span and its place in the metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use telemetry::Metrics;
use tracing::Instrument;

use crate::ApiState;

/// The header carrying a request's id, in both directions.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How long a readiness probe waits for the store.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn router(metrics_enabled: bool) -> Router<ApiState> {
    let router = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if metrics_enabled {
        router.route("/metrics", get(metrics))
    } else {
        router
    }
}

/// Alive: the process answers HTTP.
async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Ready: the store answers a round trip, the bus is connected, and the
/// rate limiter's counters answer (Redis, when it keeps them), the node
/// holds a snowflake worker id, and (in a cluster) its gateway sessions'
/// shared resume state is being written.
/// Failures are logged in full but answered only as `unavailable`, so the
/// probe leaks no connection details.
async fn readyz(State(state): State<ApiState>) -> Response {
    let store = match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            false
        }
        Err(_) => {
            tracing::warn!(timeout_ms = PING_TIMEOUT.as_millis() as u64, "readiness: store did not answer in time");
            false
        }
    };
    let bus = match state.bus.ready() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: event bus unavailable");
            false
        }
    };
    // A node whose shared counters (Redis) are gone still serves, counting
    // nothing (see `limits`), but it is not ready: a load balancer should
    // prefer nodes that enforce the limits, and the operator should hear.
    // In-process counters always answer.
    let limiter = match tokio::time::timeout(PING_TIMEOUT, state.limits.limiter.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: rate limiter unavailable; requests go uncounted");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: rate limiter did not answer in time; requests go uncounted");
            false
        }
    };
    // Without a snowflake worker id (a lease lost or not yet had) nothing
    // can be created here.
    let ids = state.ids.worker().is_some();
    if !ids {
        tracing::warn!("readiness: this node holds no snowflake worker id");
    }
    // In a cluster, gateway frames wait until the shared resume state
    // (Redis) has them: without it, sessions stall.
    let sessions = match state.presences.ready() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: gateway sessions cannot be served");
            false
        }
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let all = store && bus && limiter && ids && sessions;
    let body = json!({
        "status": word(all),
        "checks": {
            "store": word(store), "bus": word(bus), "ratelimit": word(limiter), "ids": word(ids),
            "sessions": word(sessions),
        },
    });
    let status = if all { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<ApiState>) -> Response {
    ([(header::CONTENT_TYPE, telemetry::CONTENT_TYPE)], state.metrics.render()).into_response()
}

/// Wraps every route of `app` (API, gateway, operations, and the fallback)
/// so that each request gets an id, a span, an access-log line and its
/// metrics. Applied once, by whoever assembles the whole application.
pub fn observe(app: Router, metrics: Arc<Metrics>) -> Router {
    app.layer(axum::middleware::from_fn_with_state(metrics, track))
}

/// HTTP lets a client invent methods; each new label would be a new series
/// in every metric, so the ones no route uses are counted together.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    KNOWN.iter().find(|(m, _)| m == method).map_or("other", |(_, label)| label)
}

/// A client's own request id is kept if it is short printable ASCII (so it
/// can neither bloat nor forge log lines); otherwise a fresh one is made.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&auth::random_hex(16)).expect("hex is a valid header value"))
}

async fn track(State(metrics): State<Arc<Metrics>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let _in_flight = metrics.http_in_flight();
    // The matched template, never the raw path: it bounds the metrics'
    // label values and keeps ids and codes out of the logs.
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(req.method());
    let id = request_id(&req);
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let span = tracing::info_span!(
        target: "http",
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %method,
        route = %route,
    );
    // A caller (a proxy, another service) that traces its own requests
    // has this one continue its trace.
    if let Some(parent) = req.headers().get("traceparent").and_then(|v| v.to_str().ok()) {
        telemetry::trace::continue_from(&span, parent);
    }
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    metrics.http_request(&route, method, status, elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(target: "http", status, latency_ms = elapsed.as_secs_f64() * 1000.0, "answered");
    });
    res.headers_mut().insert(REQUEST_ID, id);
    res
}
