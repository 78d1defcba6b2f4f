//! The hub: every session of this node, indexed by user and by guild, the
//! presences of their users, and the dispatcher that routes each event from
//! the bus to the sessions that should see it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::{watch, Notify};

use events::{intents, Audience, CustomActivity, Dispatch, Event, EventBus, Kind, Membership, PresenceChange};
use model::gateway::{GuildCreate, Presence, PresenceUser};
use model::permissions::READ_MESSAGE_HISTORY;
use ratelimit::RateLimiter;
use store::{GuildId, Store, UserId};
use telemetry::Metrics;

use crate::session::{Delivery, Session};
use crate::visibility::{changes_views, Change, GuildView, MemberView};
use crate::GatewayConfig;

/// How long reading a session's guilds waits for the bus to read their
/// traffic.
const FOLLOW_WAIT: Duration = Duration::from_secs(5);

/// Every how many reaper ticks (250 ms) this node stops reading the
/// traffic of guilds it no longer has sessions in.
const UNFOLLOW_EVERY: u64 = 40;

#[derive(Default)]
struct Registry {
    sessions: HashMap<String, Arc<Session>>,
    by_user: HashMap<UserId, HashMap<String, Arc<Session>>>,
    by_guild: HashMap<GuildId, HashMap<String, Arc<Session>>>,
    /// What each user last set, as others see it; absent means offline.
    presences: HashMap<UserId, UserPresence>,
    /// The friends of each person connected here, who hear their presence
    /// changes whether or not they share a guild (kept by RELATIONSHIP_*).
    friends: HashMap<UserId, HashSet<UserId>>,
    /// IDENTIFYs under way per user, counted against the session cap
    /// before their sessions are registered.
    starting: HashMap<UserId, usize>,
    /// What decides who may see what, per guild with sessions here.
    views: HashMap<GuildId, GuildView>,
    /// Guilds whose view is being read from the store.
    loading: HashMap<GuildId, Loading>,
    /// In a cluster: the users with sessions on other nodes, per node.
    remote: HashMap<UserId, HashMap<String, nodes::RemotePresence>>,
    /// In a cluster: the other nodes, and when each was last heard of.
    nodes: HashMap<String, Instant>,
    /// In a cluster: users of dead nodes not yet announced offline, with
    /// their guilds there.
    orphans: HashMap<UserId, Vec<GuildId>>,
    /// Guilds whose views are kept whoever is in them, with how many hold
    /// them: those being read for a session (and their traffic followed),
    /// and those of sessions being taken over from another node, until
    /// the session is registered, however long the old node takes to let
    /// it go.
    pinned: HashMap<GuildId, usize>,
    /// The users of the sessions those are read or taken over for.
    pinned_users: HashMap<UserId, usize>,
}

/// Loads of one guild's view under way, and how many events changed the
/// guild since the first began: a load that saw a change happen while it
/// read is read again.
#[derive(Default)]
struct Loading {
    loaders: usize,
    changes: u64,
}

/// One dispatch for one session.
struct Planned {
    session: Arc<Session>,
    name: &'static str,
    data: Bytes,
}

/// Open gateway sockets, in all and per client address.
#[derive(Default)]
struct Connections {
    total: usize,
    per_address: HashMap<String, usize>,
}

/// A socket's place under the gateway's connection caps, given back when
/// it is dropped (the connection ended, or its upgrade never completed).
pub struct Admission {
    hub: Arc<Hub>,
    address: Option<String>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut c = self.hub.connections();
        c.total -= 1;
        if let Some(address) = &self.address {
            if let Some(n) = c.per_address.get_mut(address) {
                *n -= 1;
                if *n == 0 {
                    c.per_address.remove(address);
                }
            }
        }
        if c.total == 0 {
            self.hub.all_closed.notify_waiters();
        }
    }
}

/// Why a socket was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `gateway.max_connections` sockets are open.
    Full,
    /// `gateway.max_connections_per_address` sockets are open from the
    /// client's address.
    AddressFull,
}

/// Whether an account may start one more session.
pub(crate) enum Room {
    Made(Starting),
    Full,
}

/// An IDENTIFY under way, counted against its user's session cap until
/// the session is registered or the IDENTIFY fails.
pub(crate) struct Starting {
    hub: std::sync::Weak<Hub>,
    user: UserId,
}

impl Drop for Starting {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else { return };
        let mut reg = hub.registry();
        if let Some(n) = reg.starting.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                reg.starting.remove(&self.user);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserPresence {
    pub status: String,
    pub activities: Vec<serde_json::Value>,
}

impl UserPresence {
    /// What others see: invisible users look offline.
    fn visible_status(&self) -> &str {
        if self.status == "invisible" {
            "offline"
        } else {
            &self.status
        }
    }
}

pub struct Hub {
    pub(crate) config: GatewayConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn EventBus>,
    metrics: Arc<Metrics>,
    registry: Mutex<Registry>,
    /// Flips to `true` when the server shuts down: connections send op 7.
    pub(crate) closing: watch::Sender<bool>,
    connections: Mutex<Connections>,
    all_closed: Notify,
    /// Counts session starts (shared with the API, which reports them).
    pub(crate) limiter: Arc<dyn RateLimiter>,
    /// As `http.trusted_proxies`: whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<IpAddr>,
    /// The domain, for the client requests it answers (voice state). Held
    /// weakly: the domain holds the hub (as its presences).
    domain: std::sync::OnceLock<domain::WeakDomain>,
    /// Where connections and the dispatcher run (see [`crate::SessionRuntime`]).
    pub(crate) runtime: tokio::runtime::Handle,
    /// In a cluster with shared resume state: the journal and what carries
    /// sessions over from other nodes (`adopt.rs`).
    cluster: std::sync::OnceLock<adopt::Cluster>,
    /// The dispatcher's end of the adoptions it finishes, taken by `spawn`.
    adoptions: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<adopt::Adopt>>>,
    /// The stream position of the last event the dispatcher handled.
    position: std::sync::atomic::AtomicU64,
    /// This node's name, in a cluster.
    node: std::sync::OnceLock<String>,
}

impl Hub {
    pub fn new(
        config: GatewayConfig,
        store: Arc<dyn Store>,
        bus: Arc<dyn EventBus>,
        metrics: Arc<Metrics>,
        limiter: Arc<dyn RateLimiter>,
        trusted_proxies: Vec<IpAddr>,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        let (closing, _) = watch::channel(false);
        Arc::new(Self {
            config,
            store,
            bus,
            metrics,
            registry: Mutex::new(Registry::default()),
            closing,
            connections: Mutex::new(Connections::default()),
            all_closed: Notify::new(),
            limiter,
            trusted_proxies,
            domain: std::sync::OnceLock::new(),
            runtime,
            cluster: std::sync::OnceLock::new(),
            adoptions: Mutex::new(None),
            position: std::sync::atomic::AtomicU64::new(0),
            node: std::sync::OnceLock::new(),
        })
    }

    /// Hands the hub the domain it passes client requests to.
    pub fn set_domain(&self, domain: &domain::Domain) {
        let _ = self.domain.set(domain.downgrade());
    }

    pub(crate) fn domain(&self) -> Option<domain::Domain> {
        self.domain.get()?.upgrade()
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a place for a new socket from `address` (its
    /// `ratelimit::address_key`), or says which cap is reached.
    pub fn admit(self: &Arc<Self>, address: Option<String>) -> Result<Admission, Refusal> {
        let mut c = self.connections();
        if c.total >= self.config.max_connections {
            self.metrics.gateway_connection_refused();
            return Err(Refusal::Full);
        }
        if let Some(address) = &address {
            let n = c.per_address.entry(address.clone()).or_default();
            if *n >= self.config.max_connections_per_address {
                self.metrics.gateway_connection_refused();
                return Err(Refusal::AddressFull);
            }
            *n += 1;
        }
        c.total += 1;
        Ok(Admission { hub: self.clone(), address })
    }

    /// The session start limits as the API reports them.
    pub(crate) fn session_start_limits(&self) -> domain::SessionStartLimit {
        self.config.session_start_limit()
    }

    /// Makes room for one more session of `user` under
    /// `max_sessions_per_user`, dropping their longest-detached session
    /// if need be; `Full` when all of them are connected.
    pub(crate) fn make_room(self: &Arc<Self>, user: UserId) -> Room {
        let cap = self.config.max_sessions_per_user.max(1);
        loop {
            let victim = {
                let mut reg = self.registry();
                let open = reg.by_user.get(&user).map_or(0, HashMap::len);
                let starting = reg.starting.get(&user).copied().unwrap_or(0);
                if open + starting < cap {
                    *reg.starting.entry(user).or_default() += 1;
                    return Room::Made(Starting { hub: Arc::downgrade(self), user });
                }
                let oldest = reg
                    .by_user
                    .get(&user)
                    .into_iter()
                    .flat_map(|m| m.values())
                    .filter_map(|s| s.detached_since().map(|t| (t, s.clone())))
                    .min_by_key(|(t, _)| *t);
                match oldest {
                    Some((_, s)) => s,
                    None => return Room::Full,
                }
            };
            // The user is coming back online at once: no offline
            // announcement in between.
            self.remove(&victim);
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the dispatcher and the reaper of expired sessions, on the
    /// sessions' runtime.
    pub fn spawn(self: &Arc<Self>) {
        let mut sub = self.bus.subscribe();
        let weak = Arc::downgrade(self);
        self.bus.watch_joins(Arc::new(move |user| weak.upgrade().is_some_and(|hub| hub.holds(user))));
        let hub = self.clone();
        let mut adoptions = self.adoptions.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.runtime.spawn(async move {
            loop {
                let adoption = async {
                    match adoptions.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    event = sub.recv() => {
                        let Some(event) = event else { break };
                        hub.handle(event);
                    }
                    Some(adopt) = adoption => hub.finish_adoption(adopt),
                }
            }
        });
        let hub = Arc::downgrade(self);
        self.runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            for n in 1u64.. {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else { break };
                hub.reap();
                if n % UNFOLLOW_EVERY == 0 {
                    hub.unfollow_unwanted();
                }
            }
        });
    }

    /// Whether a session of `user`'s is here, or being started or taken
    /// over.
    fn holds(&self, user: UserId) -> bool {
        let reg = self.registry();
        reg.by_user.contains_key(&user) || reg.starting.contains_key(&user) || reg.pinned_users.contains_key(&user)
    }

    /// Stops reading the traffic of guilds no session here is in any more
    /// (in a cluster whose nodes read only their sessions' guilds).
    fn unfollow_unwanted(&self) {
        // Taken before the registry is read: whatever is followed after
        // these, the registry may not show yet.
        let (mark, routed) = (self.bus.interest_mark(), self.position());
        let reg = self.registry();
        let keep: HashSet<GuildId> = reg
            .views
            .keys()
            .chain(reg.by_guild.keys())
            .chain(reg.loading.keys())
            .chain(reg.pinned.keys())
            .copied()
            .collect();
        drop(reg);
        self.bus.unfollow_except(&keep, mark, routed);
    }

    /// Handles one event from the bus: routes it, keeps it for the
    /// sessions being taken over from other nodes, and tells the journal
    /// the dispatcher is past it.
    fn handle(self: &Arc<Self>, event: Arc<Event>) {
        // A traced event (published inside an exported span, on any node)
        // is routed inside a span that continues its trace.
        let _dispatch = event.traceparent().map(|traceparent| {
            let span =
                tracing::info_span!(target: "gateway", "dispatch", event = event.name(), "otel.kind" = "consumer");
            telemetry::trace::continue_from(&span, traceparent);
            span.entered()
        });
        self.queue_for_adoptions(&event);
        self.route(&event);
        self.routed(event.position());
    }

    /// Delivers one event. Runs on the dispatcher task; never awaits.
    pub(crate) fn route(self: &Arc<Self>, event: &Event) {
        let dispatch = match event.kind() {
            Kind::TokensRevoked(revocation) => {
                let reg = self.registry();
                for session in reg.by_user.get(&revocation.user).into_iter().flat_map(|m| m.values()) {
                    session.revoke(&revocation.tokens);
                }
                return;
            }
            Kind::PresenceChanged(change) => {
                self.change_presence(change);
                return;
            }
            // For the domain (voice): nothing for the sessions here.
            Kind::SessionEnded(_) => return,
            Kind::SessionClaimed(claim) => {
                self.claimed(claim, event.position());
                return;
            }
            Kind::NodePresence(p) => {
                self.remote_presence(p);
                return;
            }
            Kind::NodeAlive(alive) => {
                self.node_alive(&alive.node);
                return;
            }
            // For the domain and the voice servers.
            Kind::VoiceParticipant(_) | Kind::VoiceSync(_) => return,
            Kind::Dispatch(d) => d,
        };
        if let Dispatch::PresenceUpdate(p) = dispatch {
            if p.status == "offline" && p.guild_id.is_some() {
                self.announced_offline(p.user.id);
            }
        }
        // A joiner's GUILD_CREATE is built by the domain, which knows nothing
        // of presences; the hub does, and adds them as a connect-time one has.
        let mut with_presences = None;
        if let Some(Membership::Joined { user, guild }) = event.membership() {
            // The guild's view holds only what this node's sessions need.
            let here = self.join(user, guild);
            if let (true, Dispatch::GuildCreate(snapshot)) = (here, dispatch) {
                self.joined_view(user, guild, snapshot);
                with_presences = Some(self.add_presences(guild, snapshot));
            }
        }
        self.metrics.event_routed(event.name());
        let deliveries = self.plan(event, dispatch, with_presences);
        // Counted once per event, not per recipient: this loop is the
        // fan-out, and the queue-depth histogram takes a lock per sample.
        let (delivered, mut deepest) = (deliveries.len(), None);
        for d in deliveries {
            deepest = deepest.max(self.enqueue_routed(&d.session, d.name, d.data));
        }
        self.metrics.events_dispatched(delivered as u64);
        if let Some(depth) = deepest {
            self.metrics.queue_depth(depth);
        }
        if let Audience::Users(users) = event.audience() {
            match dispatch {
                Dispatch::RelationshipAdd(r) => self.relationship_changed(users, r.id, r.kind == 1),
                Dispatch::RelationshipRemove(r) => self.relationship_changed(users, r.id, false),
                _ => {}
            }
        }
        match event.membership() {
            Some(Membership::Left { user, guild }) => self.leave(user, guild),
            Some(Membership::GuildDeleted(guild)) => self.drop_guild(guild),
            _ => {}
        }
    }

    /// Works out, under one look at the registry, who gets what of an
    /// event: its audience as the guild's view decides it, after the change
    /// the event brings is applied to the view (save a channel's deletion,
    /// which goes to those who saw the channel), then CHANNEL_CREATE and
    /// CHANNEL_DELETE to the sessions whose sight of a channel the change
    /// moved. A CHANNEL_UPDATE does not reach those who just gained sight
    /// of the channel: they get its CHANNEL_CREATE instead.
    fn plan(&self, event: &Event, dispatch: &Dispatch, with_presences: Option<Bytes>) -> Vec<Planned> {
        let now = model::Timestamp::now().unix_ms();
        let guild = event.guild();
        let mut reg = self.registry();
        let reg = &mut *reg;
        let place = dispatch.guild_id();
        if let Some(l) = place.filter(|_| changes_views(dispatch)).and_then(|g| reg.loading.get_mut(&g)) {
            l.changes += 1;
        }
        // Whose sight of which channels the change may move, and what they
        // saw before it.
        let mut watch = Watch::default();
        if let Some((g, view)) = place.and_then(|g| reg.views.get(&g).map(|v| (g, v))) {
            let in_guild = || -> Vec<UserId> {
                let mut users: Vec<UserId> =
                    reg.by_guild.get(&g).into_iter().flat_map(|m| m.values().map(|s| s.user)).collect();
                users.sort();
                users.dedup();
                users
            };
            let (users, scope) = match view.would_move(dispatch) {
                Change::None => (Vec::new(), None),
                Change::Channel(c) => (in_guild(), Some(c)),
                Change::Members(users) => (users, None),
                Change::Everyone => (in_guild(), None),
            };
            watch.scope = scope;
            watch.before = users.into_iter().map(|u| (u, sight(view, u, scope, now))).collect();
        }
        if !matches!(dispatch, Dispatch::ChannelDelete(_)) {
            if let Some(view) = place.and_then(|g| reg.views.get_mut(&g)) {
                view.apply(dispatch);
            }
        }
        let mut out = Vec::new();
        for (session, history) in targets(reg, event.audience(), event.history_gated(), now) {
            if !(session.wants(event) && session.on_shard(guild)) {
                continue;
            }
            if let Dispatch::ChannelUpdate(c) = dispatch {
                if watch.before.get(&session.user).is_some_and(|saw| !saw.contains(&c.id)) {
                    continue;
                }
            }
            let data = match &with_presences {
                Some(data) if session.intents & intents::GUILD_PRESENCES != 0 => data.clone(),
                _ => session.payload(event, history),
            };
            out.push(Planned { session, name: event.name(), data });
        }
        let Some(g) = place else { return out };
        let Some(view) = reg.views.get_mut(&g) else { return out };
        if let Dispatch::ChannelDelete(c) = dispatch {
            view.forget_channel(c.id);
        }
        if watch.before.is_empty() {
            return out;
        }
        let view = &reg.views[&g];
        let mut payloads: HashMap<store::ChannelId, Bytes> = HashMap::new();
        if let Dispatch::ChannelUpdate(c) = dispatch {
            payloads.insert(c.id, event.data().clone());
        }
        for session in reg.by_guild.get(&g).into_iter().flat_map(|m| m.values()) {
            let Some(saw) = watch.before.get(&session.user) else { continue };
            if session.intents & intents::GUILDS == 0 || !session.on_shard(Some(g)) {
                continue;
            }
            let sees = sight(view, session.user, watch.scope, now);
            let mut moved: Vec<(store::ChannelId, &'static str)> = sees
                .difference(saw)
                .map(|c| (*c, "CHANNEL_CREATE"))
                .chain(saw.difference(&sees).map(|c| (*c, "CHANNEL_DELETE")))
                .collect();
            moved.sort();
            for (id, name) in moved {
                let Some(channel) = view.channel(id) else { continue };
                let data = payloads
                    .entry(id)
                    .or_insert_with(|| Bytes::from(serde_json::to_vec(channel).expect("channels serialise")))
                    .clone();
                out.push(Planned { session: session.clone(), name, data });
            }
        }
        out
    }

    /// Dispatches to one session, counting what happened to the frame.
    pub(crate) fn deliver(&self, session: &Session, name: &'static str, data: Bytes) {
        self.metrics.events_dispatched(1);
        if let Some(depth) = self.enqueue(session, name, data) {
            self.metrics.queue_depth(depth);
        }
    }

    /// Queues one dispatch; the queue's depth after it, if it was queued.
    fn enqueue(&self, session: &Session, name: &'static str, data: Bytes) -> Option<usize> {
        self.counted(session, session.dispatch(name, data))
    }

    /// [`Hub::enqueue`] of a frame that came of an event from the stream.
    fn enqueue_routed(&self, session: &Session, name: &'static str, data: Bytes) -> Option<usize> {
        self.counted(session, session.dispatch_routed(name, data))
    }

    fn counted(&self, session: &Session, delivery: Delivery) -> Option<usize> {
        match delivery {
            Delivery::Queued { depth } => Some(depth),
            Delivery::Buffered => None,
            Delivery::CutLoose => {
                tracing::info!(session = %session.id, user = %session.user, "gateway client too slow; cut loose");
                self.metrics.slow_consumer_dropped();
                None
            }
        }
    }

    /// Adds `guild` to `user`'s sessions here; whether there are any.
    fn join(&self, user: UserId, guild: GuildId) -> bool {
        let mut reg = self.registry();
        let sessions: Vec<_> = reg.by_user.get(&user).map(|m| m.values().cloned().collect()).unwrap_or_default();
        let here = !sessions.is_empty();
        for s in sessions {
            s.join(guild);
            self.journal_guilds(&s);
            reg.by_guild.entry(guild).or_default().insert(s.id.clone(), s);
        }
        drop(reg);
        self.publish_node_presence(user);
        here
    }

    fn leave(&self, user: UserId, guild: GuildId) {
        let mut reg = self.registry();
        if let Some(members) = reg.by_guild.get_mut(&guild) {
            members.retain(|_, s| {
                if s.user == user {
                    s.leave(guild);
                    self.journal_guilds(s);
                    false
                } else {
                    true
                }
            });
        }
        forget_if_gone(&mut reg, user, guild);
        drop(reg);
        self.publish_node_presence(user);
    }

    fn drop_guild(&self, guild: GuildId) {
        let mut reg = self.registry();
        if let Some(members) = reg.by_guild.remove(&guild) {
            for s in members.values() {
                s.leave(guild);
                self.journal_guilds(s);
            }
        }
        reg.views.remove(&guild);
    }

    /// A joiner's view of the guild: from its GUILD_CREATE at once (all a
    /// joiner may see now), then, if this node had no view of the guild,
    /// completed from the store in the background, since the snapshot
    /// leaves out the channels hidden from the joiner.
    fn joined_view(self: &Arc<Self>, user: UserId, guild: GuildId, snapshot: &GuildCreate) {
        let member = snapshot.members.iter().find(|m| m.user.as_ref().is_some_and(|u| u.id == user));
        let complete = {
            let mut reg = self.registry();
            let view = reg.views.entry(guild).or_insert_with(|| {
                GuildView::new(
                    guild,
                    snapshot.guild.owner_id,
                    &snapshot.guild.roles,
                    snapshot.channels.iter().cloned(),
                    true,
                )
            });
            if let Some(m) = member {
                view.set_member(user, MemberView::of(m));
            }
            !view.partial && member.is_some()
        };
        if !complete {
            let hub = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.load_views(user, &[guild]).await {
                    tracing::warn!(error = %e, "gateway: could not read a joined guild's permissions");
                }
            });
        }
    }

    /// Makes sure this node knows, for each of `guilds`, its roles,
    /// channels and overwrites and `user`'s roles there: read from the
    /// store for a guild it has no view of yet, or just the member for one
    /// it has. A change to the guild while the store was read makes it
    /// read again, so no change slips between the read and the view.
    pub(crate) async fn load_views(
        self: &Arc<Self>,
        user: UserId,
        guilds: &[GuildId],
    ) -> Result<(), store::StoreError> {
        // In a cluster whose nodes read only the traffic of their sessions'
        // guilds: from here on, this node reads theirs too, and what came
        // before is in the store.
        // The bus takes the request even when it cannot answer now (its
        // connection lost): it then reads these guilds from the event
        // after the last it read before anything else.
        let _pinned = adopt::KeepViews::new(self, user, guilds);
        let _ = tokio::time::timeout(FOLLOW_WAIT, self.bus.follow(guilds)).await;
        for &guild in guilds {
            loop {
                let (full, seen) = {
                    let mut reg = self.registry();
                    let full = match reg.views.get(&guild) {
                        Some(v) if !v.partial && v.has_member(user) => break,
                        Some(v) => v.partial,
                        None => true,
                    };
                    let l = reg.loading.entry(guild).or_default();
                    l.loaders += 1;
                    (full, l.changes)
                };
                let loaded = if full {
                    GuildView::load(self.store.as_ref(), guild, &[user]).await.map(|v| v.map(Ok))
                } else {
                    GuildView::load_member(self.store.as_ref(), guild, user).await.map(|m| m.map(Err))
                };
                let mut reg = self.registry();
                let l = reg.loading.get_mut(&guild).expect("counted above");
                let current = l.changes == seen;
                l.loaders -= 1;
                if l.loaders == 0 {
                    reg.loading.remove(&guild);
                }
                let loaded = loaded?;
                if !current {
                    continue;
                }
                match loaded {
                    // The guild is gone, or the user is no longer in it:
                    // its GUILD_DELETE is on its way.
                    None => {}
                    Some(Ok(view)) => match reg.views.get_mut(&guild) {
                        Some(v) => v.replace_with(view),
                        None => {
                            reg.views.insert(guild, view);
                        }
                    },
                    Some(Err(member)) => {
                        if let Some(v) = reg.views.get_mut(&guild) {
                            v.set_member(user, member);
                        }
                    }
                }
                break;
            }
        }
        Ok(())
    }

    /// Registers an identified session. Returns `true` if it is the user's
    /// first, so they just came online.
    pub(crate) fn register(&self, session: Arc<Session>) -> bool {
        let mut reg = self.registry();
        let first = reg.by_user.get(&session.user).is_none_or(|m| m.is_empty());
        for g in session.guilds() {
            reg.by_guild.entry(g).or_default().insert(session.id.clone(), session.clone());
        }
        reg.by_user.entry(session.user).or_default().insert(session.id.clone(), session.clone());
        let user = session.user;
        if reg.sessions.insert(session.id.clone(), session).is_none() {
            self.metrics.gateway_session_opened();
        }
        drop(reg);
        self.publish_node_presence(user);
        first
    }

    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.registry().sessions.get(id).cloned()
    }

    /// Forgets a session; if it was its user's last here, the user's friends
    /// (to tell them the user went offline).
    fn remove(&self, session: &Session) -> Option<HashSet<UserId>> {
        self.unregister(session, true)
    }

    /// [`Hub::remove`]; `ended` when the session ends for good (not when it
    /// went to another node).
    fn unregister(&self, session: &Session, ended: bool) -> Option<HashSet<UserId>> {
        let mut reg = self.registry();
        if reg.sessions.remove(&session.id).is_some() {
            self.metrics.gateway_session_closed();
            if ended {
                self.bus.publish(Event::session_ended(session.user, session.id.clone()));
                self.journal_forget(&session.id);
            }
        }
        for g in session.guilds() {
            if let Some(m) = reg.by_guild.get_mut(&g) {
                m.remove(&session.id);
            }
            forget_if_gone(&mut reg, session.user, g);
        }
        let last = match reg.by_user.get_mut(&session.user) {
            Some(m) => {
                m.remove(&session.id);
                m.is_empty()
            }
            None => true,
        };
        if last {
            reg.by_user.remove(&session.user);
            reg.presences.remove(&session.user);
            drop(reg);
            self.publish_node_presence(session.user);
            return Some(self.registry().friends.remove(&session.user).unwrap_or_default());
        }
        None
    }

    /// Forgets sessions detached for longer than the resume window, and,
    /// while detached sessions' resume buffers hold more than
    /// `resume_budget_bytes` in all, the longest-detached ones; users left
    /// with no session go offline.
    fn reap(&self) {
        self.expire_nodes();
        let window = Duration::from_millis(self.config.resume_window_ms);
        let mut detached: Vec<(Instant, usize, Arc<Session>)> = self
            .registry()
            .sessions
            .values()
            .filter_map(|s| s.detached_buffer().map(|(t, bytes)| (t, bytes, s.clone())))
            .collect();
        detached.sort_by_key(|(t, _, _)| *t);
        let mut held: usize = detached.iter().map(|(_, bytes, _)| bytes).sum();
        let mut expired = Vec::new();
        for (t, bytes, s) in detached {
            if t.elapsed() >= window || held > self.config.resume_budget_bytes {
                held -= bytes;
                if t.elapsed() < window {
                    tracing::info!(session = %s.id, "gateway: resume budget spent; dropped a detached session");
                    self.metrics.resume_buffer_evicted();
                }
                expired.push(s);
            }
        }
        self.metrics.resume_buffer_bytes(held);
        {
            // Views read for an IDENTIFY that then failed: no session here
            // is in the guild, and nobody is loading it or identifying.
            let reg = &mut *self.registry();
            let Registry { views, by_guild, loading, starting, pinned, .. } = reg;
            views.retain(|g, v| {
                by_guild.contains_key(g) || loading.contains_key(g) || pinned.contains_key(g) || v.has_any(starting)
            });
        }
        for s in expired {
            if let Some(friends) = self.remove(&s) {
                if self.online_elsewhere(s.user) {
                    continue;
                }
                self.announce_presence(
                    s.user,
                    &UserPresence { status: "offline".into(), activities: Vec::new() },
                    &s.guilds(),
                    friends,
                );
            }
        }
    }

    /// A user's presence: as set here, or on another node of the cluster.
    pub(crate) fn presence_of(&self, user: UserId) -> Option<UserPresence> {
        nodes::presence_in(&self.registry(), user)
    }

    /// A user's presence as set on this node.
    pub(crate) fn local_presence(&self, user: UserId) -> Option<UserPresence> {
        self.registry().presences.get(&user).cloned()
    }

    /// Sets a user's presence and tells everyone who shares a guild.
    pub(crate) fn set_presence(&self, user: UserId, presence: UserPresence, guilds: &[GuildId]) {
        let friends = {
            let mut reg = self.registry();
            let old = reg.presences.insert(user, presence.clone());
            let changed = old
                .is_none_or(|o| o.visible_status() != presence.visible_status() || o.activities != presence.activities);
            changed.then(|| reg.friends.get(&user).cloned().unwrap_or_default())
        };
        if friends.is_some() {
            self.publish_node_presence(user);
        }
        if let Some(friends) = friends {
            self.announce_presence(user, &presence, guilds, friends);
        }
    }

    /// Applies a presence set through the API to a user connected here, as
    /// op 3 would; a user with no session here is offline on this node and
    /// picks their saved status up when they next connect.
    fn change_presence(&self, change: &PresenceChange) {
        let (current, guilds) = {
            let reg = self.registry();
            let Some(sessions) = reg.by_user.get(&change.user).filter(|m| !m.is_empty()) else { return };
            let mut guilds: Vec<GuildId> = sessions.values().flat_map(|s| s.guilds()).collect();
            guilds.sort();
            guilds.dedup();
            (reg.presences.get(&change.user).cloned(), guilds)
        };
        let mut presence = current.unwrap_or(UserPresence { status: "online".into(), activities: Vec::new() });
        if let Some(status) = &change.status {
            presence.status = status.clone();
        }
        if let Some(custom) = &change.custom_status {
            presence.activities.retain(|a| a["type"] != CUSTOM_STATUS);
            if let Some(custom) = custom {
                presence.activities.insert(0, custom_status_activity(custom));
            }
        }
        self.set_presence(change.user, presence, &guilds);
    }

    /// Tells a presence to every guild the user is in and, without a guild,
    /// to their friends (as Discord does, so friends who share no guild see it).
    fn announce_presence(&self, user: UserId, presence: &UserPresence, guilds: &[GuildId], friends: HashSet<UserId>) {
        for guild in guilds {
            let p = presence_payload(user, Some(*guild), presence);
            self.bus.publish(Event::new(Dispatch::PresenceUpdate(Box::new(p)), Audience::Guild(*guild)));
        }
        if !friends.is_empty() {
            let p = presence_payload(user, None, presence);
            self.bus.publish(Event::new(
                Dispatch::PresenceUpdate(Box::new(p)),
                Audience::Users(friends.into_iter().collect()),
            ));
        }
    }

    /// A person's friends, as READY found them, so their presence changes
    /// reach friends from now on.
    pub(crate) fn set_friends(&self, user: UserId, friends: impl IntoIterator<Item = UserId>) {
        self.registry().friends.entry(user).or_default().extend(friends);
    }

    /// Keeps the friend lists of people connected here in step with
    /// RELATIONSHIP_ADD/REMOVE, and shows a new friend's presence at once.
    fn relationship_changed(&self, users: &[UserId], other: UserId, friends: bool) {
        let mut reg = self.registry();
        for user in users {
            let Some(list) = reg.friends.get_mut(user) else { continue };
            if !friends {
                list.remove(&other);
                continue;
            }
            list.insert(other);
            let Some(p) = reg.presences.get(&other).filter(|p| p.visible_status() != "offline") else { continue };
            let data = Bytes::from(serde_json::to_vec(&presence_payload(other, None, p)).expect("presence serialises"));
            for session in reg.by_user.get(user).into_iter().flat_map(|m| m.values()) {
                self.enqueue(session, "PRESENCE_UPDATE", data.clone());
            }
        }
    }

    /// `snapshot` with the presences of its members who are online,
    /// serialised.
    fn add_presences(&self, guild: GuildId, snapshot: &GuildCreate) -> Bytes {
        let members = snapshot.members.iter().filter_map(|m| m.user.as_ref().map(|u| u.id));
        let mut snapshot = snapshot.clone();
        snapshot.presences = self.presences(members, Some(guild));
        Bytes::from(serde_json::to_vec(&snapshot).expect("guilds serialise"))
    }

    /// Presences of those of `users` who are online: a guild's members for
    /// its GUILD_CREATE, or a person's friends (no guild) for READY.
    pub(crate) fn presences(&self, users: impl Iterator<Item = UserId>, guild: Option<GuildId>) -> Vec<Presence> {
        let reg = self.registry();
        users
            .filter_map(|u| nodes::presence_in(&reg, u).map(|p| (u, p)))
            .filter(|(_, p)| p.visible_status() != "offline")
            .map(|(u, p)| presence_payload(u, guild, &p))
            .collect()
    }

    /// Distinct users with a session here in `guild` whose presence is not
    /// offline.
    fn online_in(&self, guild: GuildId) -> u64 {
        let reg = self.registry();
        let mut users: HashSet<UserId> =
            reg.by_guild.get(&guild).map(|m| m.values().map(|s| s.user).collect()).unwrap_or_default();
        users.extend(nodes::remote_in(&reg, guild));
        users
            .into_iter()
            .filter(|u| nodes::presence_in(&reg, *u).is_some_and(|p| p.visible_status() != "offline"))
            .count() as u64
    }

    pub(crate) fn connection_opened(&self) {
        self.metrics.gateway_connection_opened();
    }

    pub(crate) fn connection_closed(&self) {
        self.metrics.gateway_connection_closed();
    }

    /// Asks every connection to reconnect (op 7) and waits, at most
    /// `grace`, for them to go.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.closing.send(true);
        let wait = async {
            loop {
                let notified = self.all_closed.notified();
                if self.connections().total == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
    }
}

/// After `user`'s sessions left `guild` (or one of them went): forgets
/// what the guild's view holds of them once none is left there, and the
/// guild itself once nobody here is in it.
fn forget_if_gone(reg: &mut Registry, user: UserId, guild: GuildId) {
    let sessions = reg.by_guild.get(&guild);
    if !sessions.is_some_and(|m| m.values().any(|s| s.user == user)) {
        if let Some(v) = reg.views.get_mut(&guild) {
            v.forget_member(user);
        }
    }
    if sessions.is_some_and(|m| m.is_empty()) {
        reg.by_guild.remove(&guild);
    }
    if !reg.by_guild.contains_key(&guild) && !reg.loading.contains_key(&guild) && !reg.pinned.contains_key(&guild) {
        reg.views.remove(&guild);
    }
}

/// Those whose sight of channels an event may move, and which channels
/// they saw before it (only `scope`, when the event is about one channel).
#[derive(Default)]
struct Watch {
    scope: Option<store::ChannelId>,
    before: HashMap<UserId, HashSet<store::ChannelId>>,
}

/// The channels `user` may view, of `scope` only when given.
fn sight(view: &GuildView, user: UserId, scope: Option<store::ChannelId>, now: i64) -> HashSet<store::ChannelId> {
    match scope {
        Some(c) => (view.permissions(user, Some(c), now) & model::permissions::VIEW_CHANNEL != 0)
            .then_some(c)
            .into_iter()
            .collect(),
        None => view.visible(user, now),
    }
}

/// The sessions an audience names, each with whether it may read the
/// channel's history (asked only of a history-gated event: a reply).
fn targets(reg: &Registry, audience: &Audience, gated: bool, now: i64) -> Vec<(Arc<Session>, bool)> {
    let in_guild = |g: &GuildId| reg.by_guild.get(g).into_iter().flat_map(|m| m.values());
    match audience {
        Audience::Guild(g) => in_guild(g).map(|s| (s.clone(), true)).collect(),
        Audience::Permitted { guild, channel, permissions } => {
            // A guild whose view is not here yet shows nothing hidden.
            let Some(view) = reg.views.get(guild) else { return Vec::new() };
            let all_see = view.open_to_all(*channel, *permissions);
            let all_read = !gated || view.open_to_all(*channel, *permissions | READ_MESSAGE_HISTORY);
            if all_see && all_read {
                return in_guild(guild).map(|s| (s.clone(), true)).collect();
            }
            in_guild(guild)
                .filter_map(|s| {
                    let perms = view.permissions(s.user, *channel, now);
                    (perms & permissions == *permissions).then(|| (s.clone(), perms & READ_MESSAGE_HISTORY != 0))
                })
                .collect()
        }
        Audience::GuildUsers { guild, users } => {
            in_guild(guild).filter(|s| users.contains(&s.user)).map(|s| (s.clone(), true)).collect()
        }
        Audience::Users(users) => {
            let mut out: Vec<(Arc<Session>, bool)> = Vec::new();
            for u in users {
                for s in reg.by_user.get(u).into_iter().flat_map(|m| m.values()) {
                    if !out.iter().any(|(o, _)| o.id == s.id) {
                        out.push((s.clone(), true));
                    }
                }
            }
            out
        }
    }
}

/// The activity type of a custom status.
const CUSTOM_STATUS: u8 = 4;

/// A custom status as Discord shows it among a presence's activities.
pub(crate) fn custom_status_activity(custom: &CustomActivity) -> serde_json::Value {
    let mut activity = json!({ "type": CUSTOM_STATUS, "name": "Custom Status", "state": custom.text });
    if let Some(name) = &custom.emoji_name {
        activity["emoji"] = json!({ "name": name });
    }
    activity
}

pub(crate) fn presence_payload(user: UserId, guild: Option<GuildId>, p: &UserPresence) -> Presence {
    let status = p.visible_status().to_owned();
    Presence {
        user: PresenceUser { id: user },
        guild_id: guild,
        client_status: if status == "offline" { json!({}) } else { json!({ "web": status }) },
        status,
        activities: p.activities.clone(),
    }
}

/// Who `@here` reaches: the members connected to this node's gateway, and
/// in a cluster to the others'.
impl events::Presences for Hub {
    fn online_members(&self, guild: GuildId) -> Vec<UserId> {
        let reg = self.registry();
        let mut users: Vec<UserId> =
            reg.by_guild.get(&guild).map(|s| s.values().map(|s| s.user).collect()).unwrap_or_default();
        users.extend(nodes::remote_in(&reg, guild));
        users.sort();
        users.dedup();
        users
    }

    fn online_count(&self, guild: GuildId) -> u64 {
        self.online_in(guild)
    }

    fn ready(&self) -> Result<(), String> {
        self.sessions_ready()
    }
}

#[path = "adopt.rs"]
mod adopt;
#[path = "nodes.rs"]
mod nodes;

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
