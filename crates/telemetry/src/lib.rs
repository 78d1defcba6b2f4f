//! The server's metrics: one [`Metrics`] per server, owning its own
//! Prometheus registry, with a typed method for everything worth counting
//! and [`Metrics::render`] for `GET /metrics`.
//!
//! No global recorder: several servers in one process (the test suite runs
//! many) each count only their own traffic.
//!
//! [`trace`] carries a request's trace context from node to node.

use std::fmt;

pub mod trace;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric name starts with this.
pub const PREFIX: &str = "fussioncord";

/// Seconds: from half a millisecond (a cached read) to ten seconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Seconds: store calls start ten times lower than requests.
const STORE_BUCKETS: [f64; 14] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];
/// Frames waiting in a connection's queue; the default limit is 2048.
const DEPTH_BUCKETS: [f64; 9] = [0.0, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 2048.0, 8192.0];

/// The rate-limit scopes, as Discord names them, plus `ip` for anonymous
/// callers. Anything else is counted as `other`, so a caller's typo cannot
/// grow the label set.
pub const RATE_LIMIT_SCOPES: [&str; 4] = ["user", "global", "shared", "ip"];

/// What can go wrong when a message is classified: the classifier panicked,
/// or it took longer than its budget. Either way the message goes through.
pub const MODERATION_FAILURES: [&str; 2] = ["panic", "timeout"];
/// The classifier's scores, for messages counted as over a threshold.
pub const MODERATION_SCORES: [&str; 2] = ["toxicity", "spam"];

/// AutoMod actions, as Discord names them.
pub const MODERATION_ACTIONS: [&str; 3] = ["block_message", "send_alert_message", "timeout"];

/// Seconds: a classifier call is microseconds; its budget is a millisecond
/// or two.
const CLASSIFIER_BUCKETS: [f64; 10] =
    [0.000_002, 0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_25, 0.001, 0.002_5, 0.01];

/// Why the voice server dropped a media packet.
pub const VOICE_DROP_REASONS: [&str; 10] = [
    "malformed",
    "unknown_ssrc",
    "no_session_description",
    "replay",
    "decrypt_failed",
    "not_allowed",
    "rate_limited",
    "send_failed",
    // WebRTC: a datagram no browser's connection accepts; a bot's audio the
    // WebRTC task had no room for.
    "unknown_peer",
    "webrtc_busy",
];

/// Seconds: forwarding one packet to a channel is microseconds.
const VOICE_BUCKETS: [f64; 10] =
    [0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025];

/// Store call kinds: the SQL statement's verb, or a whole transaction.
pub const STORE_OPS: [&str; 6] = ["select", "insert", "update", "delete", "transaction", "other"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The matched route template, never the raw path.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScoreLabels {
    score: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    op: &'static str,
    outcome: Outcome,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values are lower-case on the wire
enum Outcome {
    ok,
    error,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}
fn store_latency() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

/// Everything this server counts. Cheap to record into from any thread:
/// each method is a few atomic operations (plus a read lock for labelled
/// families).
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    http_in_flight: Gauge,
    rate_limited: Family<ScopeLabels, Counter>,
    gateway_connections: Gauge,
    gateway_sessions: Gauge,
    gateway_events: Family<EventLabels, Counter>,
    gateway_dispatches: Counter,
    gateway_queue_depth: Histogram,
    gateway_slow_consumers: Counter,
    gateway_resume_bytes: Gauge,
    gateway_resume_evicted: Counter,
    gateway_refused: Counter,
    store_duration: HistogramFamily<StoreLabels>,
    store_calls: Family<OutcomeLabels, Counter>,
    moderation_checks: Counter,
    moderation_classified: Counter,
    moderation_failures: Family<KindLabels, Counter>,
    moderation_flagged: Family<ScoreLabels, Counter>,
    moderation_actions: Family<ActionLabels, Counter>,
    moderation_classifier_duration: Histogram,
    voice_participants: Gauge,
    voice_packets_in: Counter,
    voice_packets_out: Counter,
    voice_bytes_in: Counter,
    voice_bytes_out: Counter,
    voice_decrypt_failures: Counter,
    voice_dropped: Family<ReasonLabels, Counter>,
    voice_forwarding: Histogram,
    media_uploaded_bytes: Counter,
    media_stored_objects: Gauge,
    media_stored_bytes: Gauge,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let m = Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            http_in_flight: Gauge::default(),
            rate_limited: Family::default(),
            gateway_connections: Gauge::default(),
            gateway_sessions: Gauge::default(),
            gateway_events: Family::default(),
            gateway_dispatches: Counter::default(),
            gateway_queue_depth: Histogram::new(DEPTH_BUCKETS),
            gateway_slow_consumers: Counter::default(),
            gateway_resume_bytes: Gauge::default(),
            gateway_resume_evicted: Counter::default(),
            gateway_refused: Counter::default(),
            store_duration: Family::new_with_constructor(store_latency),
            store_calls: Family::default(),
            moderation_checks: Counter::default(),
            moderation_classified: Counter::default(),
            moderation_failures: Family::default(),
            moderation_flagged: Family::default(),
            moderation_actions: Family::default(),
            moderation_classifier_duration: Histogram::new(CLASSIFIER_BUCKETS),
            voice_participants: Gauge::default(),
            voice_packets_in: Counter::default(),
            voice_packets_out: Counter::default(),
            voice_bytes_in: Counter::default(),
            voice_bytes_out: Counter::default(),
            voice_decrypt_failures: Counter::default(),
            voice_dropped: Family::default(),
            voice_forwarding: Histogram::new(VOICE_BUCKETS),
            media_uploaded_bytes: Counter::default(),
            media_stored_objects: Gauge::default(),
            media_stored_bytes: Gauge::default(),
            registry: Registry::default(),
        };
        // Series that exist from the start read as 0 rather than as absent,
        // so rate() and alerts work before the first occurrence.
        for scope in RATE_LIMIT_SCOPES {
            drop(m.rate_limited.get_or_create(&ScopeLabels { scope }));
        }
        for kind in MODERATION_FAILURES {
            drop(m.moderation_failures.get_or_create(&KindLabels { kind }));
        }
        for action in MODERATION_ACTIONS {
            drop(m.moderation_actions.get_or_create(&ActionLabels { action }));
        }
        for reason in VOICE_DROP_REASONS {
            drop(m.voice_dropped.get_or_create(&ReasonLabels { reason }));
        }
        for score in MODERATION_SCORES {
            drop(m.moderation_flagged.get_or_create(&ScoreLabels { score }));
        }
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route template, method and status",
            m.http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by matched route template and method",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        registry.register_with_unit(
            "media_uploaded",
            "Bytes of files uploaded (message files and pre-uploads), kept or not",
            Unit::Bytes,
            m.media_uploaded_bytes.clone(),
        );
        registry.register(
            "media_stored_objects",
            "Objects in the media store (attachments, pre-uploads, avatars, emojis, stickers), as last counted",
            m.media_stored_objects.clone(),
        );
        registry.register_with_unit(
            "media_stored",
            "Bytes in the media store, as last counted (`media.usage_interval_secs`)",
            Unit::Bytes,
            m.media_stored_bytes.clone(),
        );
        registry.register("http_requests_in_flight", "HTTP requests being answered now", m.http_in_flight.clone());
        registry.register(
            "rate_limited",
            "Requests refused with 429, by rate-limit scope (user, global, shared, ip)",
            m.rate_limited.clone(),
        );
        registry.register("gateway_connections", "Open gateway WebSocket connections", m.gateway_connections.clone());
        registry.register(
            "gateway_sessions",
            "Gateway sessions this node holds, attached or waiting to be resumed",
            m.gateway_sessions.clone(),
        );
        registry.register(
            "gateway_events",
            "Events the gateway took from the bus and routed, by dispatch name",
            m.gateway_events.clone(),
        );
        registry.register(
            "gateway_dispatches",
            "Dispatches queued to gateway sessions (one event fans out to many)",
            m.gateway_dispatches.clone(),
        );
        registry.register(
            "gateway_queue_depth",
            "Frames waiting in outbound queues: per routed event, the deepest queue among its recipients",
            m.gateway_queue_depth.clone(),
        );
        registry.register(
            "gateway_slow_consumers_dropped",
            "Connections cut loose because their outbound queue was full",
            m.gateway_slow_consumers.clone(),
        );
        registry.register(
            "gateway_resume_buffer_bytes",
            "Bytes held by the resume buffers of detached gateway sessions (each payload counted in full)",
            m.gateway_resume_bytes.clone(),
        );
        registry.register(
            "gateway_resume_budget_evictions",
            "Detached gateway sessions dropped before their resume window ended to keep within the resume budget",
            m.gateway_resume_evicted.clone(),
        );
        registry.register(
            "gateway_connections_refused",
            "Gateway WebSocket connections refused at the global or per-address cap",
            m.gateway_refused.clone(),
        );
        registry.register_with_unit(
            "store_duration",
            "Store latency: SQL statements outside transactions by verb, and whole transactions",
            Unit::Seconds,
            m.store_duration.clone(),
        );
        registry.register("store_calls", "Store calls by kind and outcome (ok, error)", m.store_calls.clone());
        registry.register(
            "moderation_checks",
            "Messages checked against their guild's AutoMod rules (guilds without enabled rules are not counted)",
            m.moderation_checks.clone(),
        );
        registry.register(
            "moderation_classifier_calls",
            "Messages scored by the toxicity and spam classifier",
            m.moderation_classified.clone(),
        );
        registry.register(
            "moderation_classifier_failures",
            "Classifier calls that panicked or ran over their budget; the message went through unscored",
            m.moderation_failures.clone(),
        );
        registry.register(
            "moderation_flagged",
            "Messages whose toxicity or spam score reached its threshold, whatever their guild's rules do about it",
            m.moderation_flagged.clone(),
        );
        registry.register(
            "moderation_actions",
            "AutoMod actions executed, by action (block_message, send_alert_message, timeout)",
            m.moderation_actions.clone(),
        );
        registry.register_with_unit(
            "moderation_classifier_duration",
            "Classifier latency, sampled: one call in 64 is observed",
            Unit::Seconds,
            m.moderation_classifier_duration.clone(),
        );
        registry.register(
            "voice_participants",
            "Voice gateway sessions (connected or resumable)",
            m.voice_participants.clone(),
        );
        registry.register("voice_packets_in", "UDP datagrams the voice server received", m.voice_packets_in.clone());
        registry.register("voice_packets_out", "UDP datagrams the voice server sent", m.voice_packets_out.clone());
        registry.register_with_unit(
            "voice_in",
            "UDP payload the voice server received",
            Unit::Bytes,
            m.voice_bytes_in.clone(),
        );
        registry.register_with_unit(
            "voice_out",
            "UDP payload the voice server sent",
            Unit::Bytes,
            m.voice_bytes_out.clone(),
        );
        registry.register(
            "voice_decrypt_failures",
            "RTP packets whose authentication failed with their sender's key",
            m.voice_decrypt_failures.clone(),
        );
        registry.register(
            "voice_dropped",
            "Media packets dropped, by reason (malformed, unknown_ssrc, replay, decrypt_failed, not_allowed, ...)",
            m.voice_dropped.clone(),
        );
        registry.register_with_unit(
            "voice_forwarding_duration",
            "Time from receiving an RTP packet to having sent it to every listener",
            Unit::Seconds,
            m.voice_forwarding.clone(),
        );
        Self { registry, ..m }
    }

    /// One answered HTTP request. `route` is the matched route template
    /// (`/api/v10/channels/{channel_id}`) or `unmatched`.
    pub fn http_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.http_duration
            .get_or_create(&RouteLabels { route: route.clone(), method: method.clone() })
            .observe(seconds);
        self.http_requests.get_or_create(&HttpLabels { route, method, status }).inc();
    }

    /// Counts a request as in flight until the guard drops.
    pub fn http_in_flight(&self) -> InFlight<'_> {
        self.http_in_flight.inc();
        InFlight(&self.http_in_flight)
    }

    /// A request refused by the rate limiter in `scope`
    /// (see [`RATE_LIMIT_SCOPES`]).
    pub fn rate_limited(&self, scope: &str) {
        let scope = RATE_LIMIT_SCOPES.into_iter().find(|s| *s == scope).unwrap_or("other");
        self.rate_limited.get_or_create(&ScopeLabels { scope }).inc();
    }

    pub fn gateway_connection_opened(&self) {
        self.gateway_connections.inc();
    }

    pub fn gateway_connection_closed(&self) {
        self.gateway_connections.dec();
    }

    pub fn gateway_session_opened(&self) {
        self.gateway_sessions.inc();
    }

    pub fn gateway_session_closed(&self) {
        self.gateway_sessions.dec();
    }

    /// An event taken from the bus by the gateway's dispatcher.
    pub fn event_routed(&self, name: &'static str) {
        self.gateway_events.get_or_create(&EventLabels { event: name }).inc();
    }

    /// `n` dispatches queued to sessions.
    pub fn events_dispatched(&self, n: u64) {
        self.gateway_dispatches.inc_by(n);
    }

    /// The deepest outbound queue an event was put on held `depth` frames.
    pub fn queue_depth(&self, depth: usize) {
        self.gateway_queue_depth.observe(depth as f64);
    }

    pub fn slow_consumer_dropped(&self) {
        self.gateway_slow_consumers.inc();
    }

    /// What detached sessions' resume buffers hold, after a sweep.
    pub fn resume_buffer_bytes(&self, bytes: usize) {
        self.gateway_resume_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn resume_buffer_evicted(&self) {
        self.gateway_resume_evicted.inc();
    }

    pub fn gateway_connection_refused(&self) {
        self.gateway_refused.inc();
    }

    /// One store call of kind `op` (see [`STORE_OPS`]; anything else is
    /// `other`).
    pub fn store_call(&self, op: &str, seconds: f64, ok: bool) {
        let op = STORE_OPS.into_iter().find(|s| *s == op).unwrap_or("other");
        self.store_duration.get_or_create(&StoreLabels { op }).observe(seconds);
        let outcome = if ok { Outcome::ok } else { Outcome::error };
        self.store_calls.get_or_create(&OutcomeLabels { op, outcome }).inc();
    }

    /// A message checked against its guild's AutoMod rules.
    pub fn moderation_checked(&self) {
        self.moderation_checks.inc();
    }

    /// A classifier call; `sampled_seconds` is its duration when this call
    /// is one of the sampled ones (the histogram takes a lock, the counter
    /// does not).
    pub fn moderation_classified(&self, sampled_seconds: Option<f64>) {
        self.moderation_classified.inc();
        if let Some(s) = sampled_seconds {
            self.moderation_classifier_duration.observe(s);
        }
    }

    /// A classifier call that failed (see [`MODERATION_FAILURES`]).
    pub fn moderation_failed(&self, kind: &str) {
        let kind = MODERATION_FAILURES.into_iter().find(|k| *k == kind).unwrap_or("panic");
        self.moderation_failures.get_or_create(&KindLabels { kind }).inc();
    }

    /// A message scored at or over a threshold (see [`MODERATION_SCORES`]).
    pub fn moderation_flagged(&self, score: &str) {
        if let Some(score) = MODERATION_SCORES.into_iter().find(|s| *s == score) {
            self.moderation_flagged.get_or_create(&ScoreLabels { score }).inc();
        }
    }

    /// An AutoMod action executed (see [`MODERATION_ACTIONS`]).
    pub fn moderation_action(&self, action: &str) {
        if let Some(action) = MODERATION_ACTIONS.into_iter().find(|a| *a == action) {
            self.moderation_actions.get_or_create(&ActionLabels { action }).inc();
        }
    }

    /// How many voice sessions there are now.
    /// `bytes` of a file written to the media store by an upload.
    pub fn media_uploaded(&self, bytes: u64) {
        self.media_uploaded_bytes.inc_by(bytes);
    }

    /// What the media store held when last counted.
    pub fn media_stored(&self, objects: u64, bytes: u64) {
        self.media_stored_objects.set(i64::try_from(objects).unwrap_or(i64::MAX));
        self.media_stored_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn voice_participants(&self, n: usize) {
        self.voice_participants.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A datagram of `bytes` received on the media socket.
    pub fn voice_packet_in(&self, bytes: usize) {
        self.voice_packets_in.inc();
        self.voice_bytes_in.inc_by(bytes as u64);
    }

    /// A datagram of `bytes` sent from the media socket.
    pub fn voice_packet_out(&self, bytes: usize) {
        self.voice_packets_out.inc();
        self.voice_bytes_out.inc_by(bytes as u64);
    }

    pub fn voice_decrypt_failed(&self) {
        self.voice_decrypt_failures.inc();
    }

    /// A media packet dropped (see [`VOICE_DROP_REASONS`]; anything else
    /// counts as `malformed`).
    pub fn voice_dropped(&self, reason: &str) {
        let reason = VOICE_DROP_REASONS.into_iter().find(|r| *r == reason).unwrap_or("malformed");
        self.voice_dropped.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// One RTP packet forwarded to its channel in `seconds`.
    pub fn voice_forwarding(&self, seconds: f64) {
        self.voice_forwarding.observe(seconds);
    }

    /// Everything, in the OpenMetrics text format ([`CONTENT_TYPE`]),
    /// which Prometheus scrapes natively.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Decrements the in-flight gauge when dropped, so a cancelled request
/// (client gone) is not counted forever.
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
