//! What lets several nodes run one deployment. Today: `NatsBus`, the event
//! bus on NATS JetStream. Every node publishes its events to one stream:
//! a guild's traffic (messages, reactions, typing, presences, voice
//! states: [`Event::is_traffic`]) on `<prefix>.t.<guild>`, the guild's
//! other events on `<prefix>.g.<guild>`, events outside guilds on
//! `<prefix>.u`. A node reads the stream back through one ordered
//! consumer from the moment it started: every guild's `g` events and
//! every `u` event, and the traffic of the guilds its gateway sessions are
//! in (the consumer is opened again, from the last event read, when that
//! set grows or shrinks). (A node of an earlier version, which put all of
//! a guild's events on `g`, is read in full.) So every node sees the events it reads in the
//! stream's one order (per guild too), its own included, and a node whose
//! connection drops resumes from the last event it read instead of losing
//! what came meanwhile. A NATS server before 2.10 filters a consumer by
//! one subject only: there every node reads everything. And
//! `RedisSessions`, where the gateway keeps resume state that any node
//! can carry on (`sessions.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use events::{BusUnavailable, Event, EventBus, GuildId, Membership, Subscription, UserId};

mod locator;
mod sessions;
pub use locator::RedisLocator;
pub use sessions::RedisSessions;

/// A connection to the Redis at `url` that reconnects by itself later,
/// made within `within`.
async fn connect_redis(url: &str, within: Duration) -> Result<redis::aio::ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|e| format!("the Redis URL: {e}"))?;
    // Host and port only: the URL may carry a password.
    let addr = client.get_connection_info().addr().to_string();
    tokio::time::timeout(within, redis::aio::ConnectionManager::new(client))
        .await
        .map_err(|_| format!("connecting to Redis at {addr} timed out"))?
        .map_err(|e| format!("connecting to Redis at {addr}: {e}"))
}

/// The `[cluster]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// NATS with JetStream, e.g. `nats://127.0.0.1:4222`. Empty: one node,
    /// events stay in this process.
    pub nats_url: String,
    /// The JetStream stream every node's events go through.
    pub stream: String,
    /// The subjects' prefix (`<prefix>.g.<guild>`, `<prefix>.t.<guild>`,
    /// `<prefix>.u`).
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

/// At most one change to what a node reads each this long: each opens a
/// consumer again.
const REOPEN_EVERY: Duration = Duration::from_millis(50);

/// Past this many guilds followed, a node reads every guild's traffic: a
/// consumer's list of subjects stays short.
const MAX_FOLLOWED: usize = 1_000;

/// The event bus of a cluster. `publish` never blocks: events wait in this
/// node's outbox and go out in order on one connection.
pub struct NatsBus {
    outbox: mpsc::UnboundedSender<(String, Vec<u8>)>,
    subscribers: Subscribers,
    reading: Arc<AtomicBool>,
    client: async_nats::Client,
    stream: stream::Stream,
    prefix: String,
    interest: Arc<Interest>,
    control: mpsc::UnboundedSender<Control>,
}

/// Which guilds' traffic this node reads: shared by the reader, which
/// changes it, and whoever asks.
struct Interest {
    /// Whether the server filters a consumer by many subjects (NATS 2.10
    /// and later); if not, the node reads everything.
    filters: bool,
    /// Counts follow requests, each followed guild keeping the mark of its
    /// latest (so an unfollow decided before it leaves it be), and the
    /// periods of reading a guild's traffic, which start after the
    /// consumer reads it: a period no later than a mark taken before a
    /// read from the store began its reading before that read.
    marks: AtomicU64,
    state: Mutex<Followed>,
    /// Whose sessions this node holds (the gateway says).
    holds: OnceLock<Arc<dyn Fn(UserId) -> bool + Send + Sync>>,
}

#[derive(Default)]
struct Followed {
    guilds: HashMap<GuildId, Follow>,
    /// Every guild's traffic is read (in this period; 0 until the
    /// consumer does).
    everything: Option<u64>,
}

/// One guild followed: since which follow request (its mark) or which
/// event (a join of one of this node's users), and in which period (0
/// until the consumer reads it).
#[derive(Clone, Copy, Default)]
struct Follow {
    mark: u64,
    position: u64,
    period: u64,
}

impl Interest {
    fn state(&self) -> std::sync::MutexGuard<'_, Followed> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn follows(&self, guild: GuildId) -> Option<u64> {
        let state = self.state();
        match state.everything {
            Some(period) if period != 0 => Some(period),
            _ => state.guilds.get(&guild).map(|f| f.period).filter(|p| *p != 0),
        }
    }

    /// Starts the periods of what the consumer now reads.
    fn started(&self) {
        let mut state = self.state();
        let next = || self.marks.fetch_add(1, Ordering::SeqCst) + 1;
        if state.everything == Some(0) {
            state.everything = Some(next());
        }
        for f in state.guilds.values_mut().filter(|f| f.period == 0) {
            f.period = next();
        }
    }
}

impl Followed {
    /// After a change to the guilds: whether everything is read now. A
    /// guild whose traffic was read with everything starts a new period
    /// when it is read alone.
    fn settle(&mut self, filters: bool) {
        let everything = !filters || self.guilds.len() > MAX_FOLLOWED;
        match (everything, self.everything) {
            (true, None) => self.everything = Some(0),
            (false, Some(_)) => {
                self.everything = None;
                for f in self.guilds.values_mut() {
                    f.period = 0;
                }
            }
            _ => {}
        }
    }

    /// The subjects this node's consumer reads: none for everything.
    fn subjects(&self, prefix: &str) -> Vec<String> {
        if self.everything.is_some() {
            return Vec::new();
        }
        let mut subjects = vec![format!("{prefix}.g.*"), format!("{prefix}.u")];
        subjects.extend(self.guilds.keys().map(|g| format!("{prefix}.t.{g}")));
        subjects
    }
}

/// What the reader is asked to change.
enum Control {
    Follow(Vec<GuildId>, oneshot::Sender<()>),
    UnfollowExcept { keep: HashSet<GuildId>, mark: u64, routed: u64 },
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
        let interest = Arc::new(Interest {
            filters: filters_many(&client.server_info().version),
            marks: AtomicU64::new(0),
            state: Mutex::default(),
            holds: OnceLock::new(),
        });
        let subjects = {
            let mut state = interest.state();
            state.settle(interest.filters);
            state.subjects(&config.subject_prefix)
        };
        interest.started();
        if !interest.filters {
            tracing::info!(
                version = %client.server_info().version,
                "NATS before 2.10 filters a consumer by one subject: this node reads every guild's traffic"
            );
        }
        let messages =
            open(&stream, last, subjects.clone()).await.map_err(|e| format!("reading {}: {e}", config.stream))?;

        let subscribers: Subscribers = Arc::default();
        let reading = Arc::new(AtomicBool::new(true));
        let (control, requests) = mpsc::unbounded_channel();
        let reader = Reader {
            stream: stream.clone(),
            messages,
            reads: subjects,
            changed: Instant::now(),
            pending: Vec::new(),
            due: false,
            last,
            subscribers: subscribers.clone(),
            reading: reading.clone(),
            interest: interest.clone(),
            prefix: config.subject_prefix.clone(),
            requests,
        };
        tokio::spawn(reader.read());
        let (outbox, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(js, rx));
        Ok(Self {
            outbox,
            subscribers,
            reading,
            client,
            stream,
            prefix: config.subject_prefix.clone(),
            interest,
            control,
        })
    }

    fn subject(&self, event: &Event) -> String {
        match event.guild() {
            Some(g) if event.is_traffic() => format!("{}.t.{g}", self.prefix),
            Some(g) => format!("{}.g.{g}", self.prefix),
            None => format!("{}.u", self.prefix),
        }
    }
}

/// Whether a NATS server of `version` filters a consumer by many subjects
/// (2.10 and later).
fn filters_many(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 10)
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

/// An ordered consumer of this node's own, from the event after `last`,
/// of `subjects` (all of them when empty).
async fn open(stream: &stream::Stream, last: u64, subjects: Vec<String>) -> Result<consumer::pull::Ordered, String> {
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::ByStartSequence { start_sequence: last + 1 },
            filter_subjects: subjects,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    consumer.messages().await.map_err(|e| e.to_string())
}

/// Hands every event this node reads of the stream to its subscribers, in
/// order, once. The consumer recreates itself after a lost connection;
/// when it cannot (NATS restarted and forgot it, say), or when what the
/// node reads changes, a new one is opened after the last event handed
/// on, so nothing is skipped or repeated.
struct Reader {
    stream: stream::Stream,
    messages: consumer::pull::Ordered,
    /// The subjects `messages` reads (none: all).
    reads: Vec<String>,
    /// When what the consumer reads last changed.
    changed: Instant,
    /// Follow requests taken, answered once the consumer reads what they
    /// asked for.
    pending: Vec<oneshot::Sender<()>>,
    /// What is followed changed since the consumer was opened.
    due: bool,
    last: u64,
    subscribers: Subscribers,
    reading: Arc<AtomicBool>,
    interest: Arc<Interest>,
    prefix: String,
    requests: mpsc::UnboundedReceiver<Control>,
}

impl Reader {
    async fn read(mut self) {
        let mut controlled = true;
        loop {
            // Not biased: a stream of requests must not starve the events
            // (node heartbeats among them).
            tokio::select! {
                request = self.requests.recv(), if controlled => match request {
                    Some(request) => self.control(request).await,
                    None => controlled = false,
                },
                _ = tokio::time::sleep_until((self.changed + REOPEN_EVERY).into()), if self.due => {
                    self.apply(true).await;
                }
                next = self.messages.next() => match next {
                    Some(Ok(message)) => {
                        if let Some(joined) = self.deliver(&message) {
                            self.joined(joined).await;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "reading the event stream; opening it again");
                        self.reopen().await;
                    }
                    None => self.reopen().await,
                },
            }
        }
    }

    /// Hands one event on; a guild one of this node's users just joined.
    fn deliver(&mut self, message: &jetstream::Message) -> Option<GuildId> {
        let position = message.info().map(|i| i.stream_sequence).unwrap_or(0);
        if position != 0 && position <= self.last {
            return None;
        }
        self.last = position.max(self.last);
        match Event::decode(&message.payload) {
            Ok(event) => {
                let event = Arc::new(event.at(position));
                let joined = match event.membership() {
                    Some(Membership::Joined { user, guild })
                        if self.interest.holds.get().is_some_and(|holds| holds(user)) =>
                    {
                        Some(guild)
                    }
                    _ => None,
                };
                let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
                subs.retain(|tx| tx.send(event.clone()).is_ok());
                joined
            }
            Err(e) => {
                tracing::warn!(error = %e, "an event on the stream does not decode");
                None
            }
        }
    }

    /// Follows a guild one of this node's users joined at the last event
    /// handed on, from the next: before anything after it is handed on.
    async fn joined(&mut self, guild: GuildId) {
        let position = self.last;
        {
            let mut state = self.interest.state();
            state.guilds.entry(guild).or_default().position = position;
            state.settle(self.interest.filters);
        }
        self.apply(true).await;
    }

    /// Takes a request, and every other one waiting. A change to what
    /// the consumer reads is made at once if the last was at least
    /// `REOPEN_EVERY` ago, else when that has passed, with whatever came
    /// meanwhile: each opens a consumer, at a round trip's cost, and leaves
    /// the old one on the server for a while. Events keep flowing
    /// meanwhile.
    async fn control(&mut self, first: Control) {
        let acks = self.take(Some(first));
        self.pending.extend(acks);
        self.due = true;
        self.apply(false).await;
    }

    /// Applies `first` and every request waiting to what is followed;
    /// the follow requests' answers.
    fn take(&mut self, first: Option<Control>) -> Vec<oneshot::Sender<()>> {
        let mut requests: Vec<Control> = first.into_iter().collect();
        while let Ok(more) = self.requests.try_recv() {
            requests.push(more);
        }
        let (mut acks, mut unfollows) = (Vec::new(), Vec::new());
        let mut state = self.interest.state();
        for request in requests {
            match request {
                Control::Follow(guilds, ack) => {
                    acks.push(ack);
                    let mark = self.interest.marks.fetch_add(1, Ordering::SeqCst) + 1;
                    for g in guilds {
                        state.guilds.entry(g).or_default().mark = mark;
                    }
                }
                Control::UnfollowExcept { keep, mark, routed } => unfollows.push((keep, mark, routed)),
            }
        }
        // A follow's mark is later than that of any unfollow decided
        // before it was asked for, so the order they apply in is moot.
        // Not a guild followed since the caller looked:
        for (keep, mark, routed) in unfollows {
            state.guilds.retain(|g, f| keep.contains(g) || f.mark > mark || f.position > routed);
        }
        state.settle(self.interest.filters);
        acks
    }

    /// If what is followed changed what the consumer should read, opens
    /// it again after the last event handed on (unless the last change was
    /// too recent and it is not `now`); then answers the requests taken.
    async fn apply(&mut self, now: bool) {
        let subjects = self.interest.state().subjects(&self.prefix);
        if subjects != self.reads {
            if !now && self.changed.elapsed() < REOPEN_EVERY {
                return;
            }
            if let Err(e) = self.open(subjects).await {
                tracing::warn!(error = %e, "opening the event stream again");
                return self.reopen().await;
            }
        }
        self.answer();
    }

    /// Reads `subjects` from the event after the last handed on.
    async fn open(&mut self, subjects: Vec<String>) -> Result<(), String> {
        self.messages = open(&self.stream, self.last, subjects.clone()).await?;
        self.reads = subjects;
        self.changed = Instant::now();
        self.interest.started();
        Ok(())
    }

    /// Answers the requests taken: the consumer reads what they asked for.
    fn answer(&mut self) {
        self.due = false;
        for ack in self.pending.drain(..) {
            let _ = ack.send(());
        }
    }

    /// Opens the consumer again after the last event handed on, trying
    /// until it can (with what is followed by then); not ready meanwhile.
    async fn reopen(&mut self) {
        self.reading.store(false, Ordering::Relaxed);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            // Requests taken meanwhile are answered once the consumer
            // reads them.
            let acks = self.take(None);
            self.pending.extend(acks);
            let subjects = self.interest.state().subjects(&self.prefix);
            match self.open(subjects).await {
                Ok(()) => {
                    self.reading.store(true, Ordering::Relaxed);
                    return self.answer();
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

    fn follows(&self, guild: GuildId) -> Option<u64> {
        self.interest.follows(guild)
    }

    fn follow(&self, guilds: &[GuildId]) -> events::BoxFuture<'_, ()> {
        let (ack, done) = oneshot::channel();
        let sent = self.control.send(Control::Follow(guilds.to_vec(), ack)).is_ok();
        Box::pin(async move {
            if sent {
                let _ = done.await;
            }
        })
    }

    fn interest_mark(&self) -> u64 {
        self.interest.marks.load(Ordering::SeqCst)
    }

    fn unfollow_except(&self, keep: &HashSet<GuildId>, mark: u64, routed: u64) {
        if self.interest.state().guilds.keys().all(|g| keep.contains(g)) {
            return;
        }
        let _ = self.control.send(Control::UnfollowExcept { keep: keep.clone(), mark, routed });
    }

    fn watch_joins(&self, holds: Arc<dyn Fn(UserId) -> bool + Send + Sync>) {
        let _ = self.interest.holds.set(holds);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_filters_by_many_subjects_from_2_10() {
        assert!(!filters_many("2.9.10"));
        assert!(filters_many("2.10.0"));
        assert!(filters_many("v2.15.1"));
        assert!(filters_many("3.0.0"));
        assert!(!filters_many(""));
    }

    fn guild(n: u64) -> GuildId {
        GuildId::new_checked(n).unwrap()
    }

    #[test]
    fn past_the_limit_a_node_reads_everything_and_back_below_it_each_guild_starts_a_new_period() {
        let interest =
            Interest { filters: true, marks: AtomicU64::new(0), state: Mutex::default(), holds: OnceLock::new() };
        {
            let mut state = interest.state();
            state.settle(true);
            state.guilds.insert(guild(1), Follow::default());
            assert_eq!(state.subjects("p"), ["p.g.*", "p.u", "p.t.1"]);
        }
        assert_eq!(interest.follows(guild(1)), None, "not read before the consumer reads it");
        interest.started();
        let first = interest.follows(guild(1)).expect("read now");
        assert_eq!(interest.follows(guild(2)), None);
        {
            let mut state = interest.state();
            for n in 2..=(MAX_FOLLOWED as u64 + 1) {
                state.guilds.insert(guild(n), Follow::default());
            }
            state.settle(true);
            assert!(state.subjects("p").is_empty(), "everything");
        }
        interest.started();
        let everything = interest.follows(guild(5_000)).expect("every guild is read");
        assert!(everything > first);
        {
            let mut state = interest.state();
            state.guilds.retain(|g, _| *g == guild(1));
            state.settle(true);
        }
        interest.started();
        assert!(interest.follows(guild(1)).is_some_and(|p| p > everything), "a new period");
        assert_eq!(interest.follows(guild(5_000)), None);
    }
}
