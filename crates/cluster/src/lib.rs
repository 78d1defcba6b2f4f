//! What lets several nodes run one deployment. Today: `NatsBus`, the event
//! bus on NATS JetStream. Every node publishes its events to one stream,
//! on a subject per guild (`<prefix>.g.<guild>`) or for events outside a
//! guild (`<prefix>.u`), and reads the whole stream back through an
//! ordered consumer from the moment it started: every node sees every
//! event in the stream's one order (so per guild too), its own included,
//! and a node whose connection drops resumes from the last event it read
//! instead of losing what came meanwhile. And `RedisSessions`, where the
//! gateway keeps resume state that any node can carry on (`sessions.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use events::{BusUnavailable, Event, EventBus, Subscription};

mod locator;
mod sessions;
pub use locator::RedisLocator;
pub use sessions::RedisSessions;

/// The `[cluster]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// NATS with JetStream, e.g. `nats://127.0.0.1:4222`. Empty: one node,
    /// events stay in this process.
    pub nats_url: String,
    /// The JetStream stream every node's events go through.
    pub stream: String,
    /// The subjects' prefix (`<prefix>.g.<guild>`, `<prefix>.u`).
    pub subject_prefix: String,
    /// How long the stream keeps events, in seconds: how long a node may be
    /// cut off and still catch up.
    pub max_age_secs: u64,
    /// Redis, e.g. `redis://127.0.0.1:6379`, for the gateway's resume state:
    /// with it, a client resumes on any node, its own included after that
    /// node died. Empty: a session resumes only on the node that holds it.
    pub redis_url: String,
    /// The prefix of this deployment's keys in that Redis.
    pub redis_prefix: String,
    /// This node's name among the cluster's; empty: a random one at each
    /// start (a restarted node is a new node).
    pub node: String,
    /// How the other nodes reach this one over HTTP (`http://10.0.0.11:8080`),
    /// to hand it the requests for interactions it holds; empty: `http://`
    /// and the address it listens on, unless that is every address.
    pub advertise_url: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats_url: String::new(),
            stream: "FUSSIONCORD_EVENTS".into(),
            subject_prefix: "fussioncord.events".into(),
            max_age_secs: 3600,
            redis_url: String::new(),
            redis_prefix: "fussioncord".into(),
            node: String::new(),
            advertise_url: String::new(),
        }
    }
}

impl ClusterConfig {
    pub fn enabled(&self) -> bool {
        !self.nats_url.is_empty()
    }

    /// Whether gateway sessions are shared (a bus and Redis).
    pub fn shares_sessions(&self) -> bool {
        self.enabled() && !self.redis_url.is_empty()
    }

    /// This node's name: the configured one, or a fresh random one.
    pub fn node_name(&self) -> String {
        if self.node.is_empty() {
            format!("{:016x}", rand::random::<u64>())
        } else {
            self.node.clone()
        }
    }
}

type Subscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<Arc<Event>>>>>;

/// The event bus of a cluster. `publish` never blocks: events wait in this
/// node's outbox and go out in order on one connection.
pub struct NatsBus {
    outbox: mpsc::UnboundedSender<(String, Vec<u8>)>,
    subscribers: Subscribers,
    reading: Arc<AtomicBool>,
    client: async_nats::Client,
    stream: stream::Stream,
    prefix: String,
}

impl NatsBus {
    /// Connects, makes sure the stream exists, and starts reading it from
    /// now on and publishing this node's events.
    pub async fn connect(config: &ClusterConfig) -> Result<Self, String> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(config.nats_url.as_str())
            .await
            .map_err(|e| format!("connecting to NATS at {}: {e}", config.nats_url))?;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![format!("{}.>", config.subject_prefix)],
                max_age: Duration::from_secs(config.max_age_secs.max(1)),
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("the JetStream stream {}: {e}", config.stream))?;
        // Read from the stream's next event on: the first position this
        // node hears of is the one after the stream's last now.
        let mut stream = stream;
        let last = stream
            .info()
            .await
            .map_err(|e| format!("the JetStream stream {}: {e}", config.stream))?
            .state
            .last_sequence;
        let stream = stream.clone();
        let messages = open(&stream, last).await.map_err(|e| format!("reading {}: {e}", config.stream))?;

        let subscribers: Subscribers = Arc::default();
        let reading = Arc::new(AtomicBool::new(true));
        tokio::spawn(read(stream.clone(), messages, last, subscribers.clone(), reading.clone()));
        let (outbox, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(js, rx));
        Ok(Self { outbox, subscribers, reading, client, stream, prefix: config.subject_prefix.clone() })
    }

    fn subject(&self, event: &Event) -> String {
        match event.guild() {
            Some(g) => format!("{}.g.{g}", self.prefix),
            None => format!("{}.u", self.prefix),
        }
    }
}

/// Publishes the outbox in order, one event at a time until JetStream has
/// stored it: an event it did not take (NATS restarting, say) is sent
/// again, under the same message id, so JetStream stores it once however
/// often it is sent, and nothing published after it overtakes it.
async fn write(js: jetstream::Context, mut rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let node: u64 = rand::random();
    let mut count: u64 = 0;
    while let Some((subject, payload)) = rx.recv().await {
        count += 1;
        let id = format!("{node:016x}-{count}");
        let payload = bytes::Bytes::from(payload);
        let mut backoff = Duration::from_millis(50);
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            let stored = match js.publish_with_headers(subject.clone(), headers, payload.clone()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match stored {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "JetStream did not store an event; sending it again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// An ordered consumer of this node's own, from the event after `last`.
async fn open(stream: &stream::Stream, last: u64) -> Result<consumer::pull::Ordered, String> {
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: last + 1 },
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    consumer.messages().await.map_err(|e| e.to_string())
}

/// Hands every event of the stream to this node's subscribers, in order,
/// once. The consumer recreates itself after a lost connection; when it
/// cannot (NATS restarted and forgot it, say), a new one is opened after
/// the last event handed on, so nothing is skipped or repeated.
async fn read(
    stream: stream::Stream,
    mut messages: consumer::pull::Ordered,
    mut last: u64,
    subscribers: Subscribers,
    reading: Arc<AtomicBool>,
) {
    loop {
        while let Some(next) = messages.next().await {
            let message = match next {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the event stream; opening it again");
                    break;
                }
            };
            let position = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            if position != 0 && position <= last {
                continue;
            }
            last = position.max(last);
            match Event::decode(&message.payload) {
                Ok(event) => {
                    let event = Arc::new(event.at(position));
                    let mut subs = subscribers.lock().unwrap_or_else(|e| e.into_inner());
                    subs.retain(|tx| tx.send(event.clone()).is_ok());
                }
                Err(e) => tracing::warn!(error = %e, "an event on the stream does not decode"),
            }
        }
        reading.store(false, Ordering::Relaxed);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match open(&stream, last).await {
                Ok(m) => {
                    messages = m;
                    reading.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "opening the event stream again"),
            }
        }
    }
}

impl EventBus for NatsBus {
    fn publish(&self, event: Event) {
        let subject = self.subject(&event);
        let _ = self.outbox.send((subject, event.encode()));
    }

    fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        Subscription::new(rx)
    }

    fn replay(&self, after: u64, through: u64) -> events::BoxFuture<'_, Result<Vec<Event>, BusUnavailable>> {
        Box::pin(async move {
            let mut out = Vec::new();
            if through <= after {
                return Ok(out);
            }
            let unavailable = |e: String| BusUnavailable(format!("replaying the event stream: {e}"));
            let consumer = self
                .stream
                .create_consumer(consumer::pull::OrderedConfig {
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: after + 1 },
                    ..Default::default()
                })
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            let mut messages = consumer.messages().await.map_err(|e| unavailable(e.to_string()))?;
            let read = async {
                while let Some(next) = messages.next().await {
                    let message = next.map_err(|e| unavailable(e.to_string()))?;
                    let position = message.info().map_err(|e| unavailable(e.to_string()))?.stream_sequence;
                    if position > through {
                        break;
                    }
                    match Event::decode(&message.payload) {
                        Ok(event) => out.push(event.at(position)),
                        Err(e) => tracing::warn!(error = %e, "an event on the stream does not decode"),
                    }
                    if position == through {
                        break;
                    }
                }
                Ok::<_, BusUnavailable>(())
            };
            tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .map_err(|_| unavailable("timed out".into()))??;
            Ok(out)
        })
    }

    fn ready(&self) -> Result<(), BusUnavailable> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(BusUnavailable("not connected to NATS".into()));
        }
        if !self.reading.load(Ordering::Relaxed) {
            return Err(BusUnavailable("the event stream is no longer read".into()));
        }
        Ok(())
    }
}
