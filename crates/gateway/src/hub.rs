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
use ratelimit::RateLimiter;
use store::{GuildId, Store, UserId};
use telemetry::Metrics;

use crate::session::{Delivery, Session};
use crate::GatewayConfig;

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
}

impl Hub {
    pub fn new(
        config: GatewayConfig,
        store: Arc<dyn Store>,
        bus: Arc<dyn EventBus>,
        metrics: Arc<Metrics>,
        limiter: Arc<dyn RateLimiter>,
        trusted_proxies: Vec<IpAddr>,
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
        })
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

    /// Starts the dispatcher and the reaper of expired sessions.
    pub fn spawn(self: &Arc<Self>) {
        let mut sub = self.bus.subscribe();
        let hub = self.clone();
        tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                hub.route(&event);
            }
        });
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else { break };
                hub.reap();
            }
        });
    }

    /// Delivers one event. Runs on the dispatcher task; never awaits.
    pub(crate) fn route(&self, event: &Event) {
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
            Kind::Dispatch(d) => d,
        };
        // A joiner's GUILD_CREATE is built by the domain, which knows nothing
        // of presences; the hub does, and adds them as a connect-time one has.
        let mut with_presences = None;
        if let Some(Membership::Joined { user, guild }) = event.membership() {
            self.join(user, guild);
            if let Dispatch::GuildCreate(snapshot) = dispatch {
                with_presences = Some(self.add_presences(guild, snapshot));
            }
        }
        self.metrics.event_routed(event.name());
        let guild = event.guild();
        // Counted once per event, not per recipient: this loop is the
        // fan-out, and the queue-depth histogram takes a lock per sample.
        let (mut delivered, mut deepest) = (0, None);
        for session in self.targets(event.audience()) {
            if session.wants(event) && session.on_shard(guild) {
                delivered += 1;
                let data = match &with_presences {
                    Some(data) if session.intents & intents::GUILD_PRESENCES != 0 => data.clone(),
                    _ => session.payload(event),
                };
                deepest = deepest.max(self.enqueue(&session, event.name(), data));
            }
        }
        self.metrics.events_dispatched(delivered);
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

    /// Dispatches to one session, counting what happened to the frame.
    pub(crate) fn deliver(&self, session: &Session, name: &'static str, data: Bytes) {
        self.metrics.events_dispatched(1);
        if let Some(depth) = self.enqueue(session, name, data) {
            self.metrics.queue_depth(depth);
        }
    }

    /// Queues one dispatch; the queue's depth after it, if it was queued.
    fn enqueue(&self, session: &Session, name: &'static str, data: Bytes) -> Option<usize> {
        match session.dispatch(name, data) {
            Delivery::Queued { depth } => Some(depth),
            Delivery::Buffered => None,
            Delivery::CutLoose => {
                tracing::info!(session = %session.id, user = %session.user, "gateway client too slow; cut loose");
                self.metrics.slow_consumer_dropped();
                None
            }
        }
    }

    fn targets(&self, audience: &Audience) -> Vec<Arc<Session>> {
        let reg = self.registry();
        match audience {
            // Channel visibility is decided per channel once permission
            // overwrites exist; until then every member sees every channel.
            Audience::Guild(g) | Audience::GuildChannel { guild: g, .. } => {
                reg.by_guild.get(g).map(|m| m.values().cloned().collect()).unwrap_or_default()
            }
            Audience::GuildUsers { guild, users } => reg
                .by_guild
                .get(guild)
                .map(|m| m.values().filter(|s| users.contains(&s.user)).cloned().collect())
                .unwrap_or_default(),
            Audience::Users(users) => {
                let mut out: Vec<Arc<Session>> = Vec::new();
                for u in users {
                    if let Some(m) = reg.by_user.get(u) {
                        for s in m.values() {
                            if !out.iter().any(|o| o.id == s.id) {
                                out.push(s.clone());
                            }
                        }
                    }
                }
                out
            }
        }
    }

    fn join(&self, user: UserId, guild: GuildId) {
        let mut reg = self.registry();
        let sessions: Vec<_> = reg.by_user.get(&user).map(|m| m.values().cloned().collect()).unwrap_or_default();
        for s in sessions {
            s.join(guild);
            reg.by_guild.entry(guild).or_default().insert(s.id.clone(), s);
        }
    }

    fn leave(&self, user: UserId, guild: GuildId) {
        let mut reg = self.registry();
        if let Some(members) = reg.by_guild.get_mut(&guild) {
            members.retain(|_, s| {
                if s.user == user {
                    s.leave(guild);
                    false
                } else {
                    true
                }
            });
            if members.is_empty() {
                reg.by_guild.remove(&guild);
            }
        }
    }

    fn drop_guild(&self, guild: GuildId) {
        let mut reg = self.registry();
        if let Some(members) = reg.by_guild.remove(&guild) {
            for s in members.values() {
                s.leave(guild);
            }
        }
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
        if reg.sessions.insert(session.id.clone(), session).is_none() {
            self.metrics.gateway_session_opened();
        }
        first
    }

    pub(crate) fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.registry().sessions.get(id).cloned()
    }

    /// Forgets a session; if it was its user's last here, the user's friends
    /// (to tell them the user went offline).
    fn remove(&self, session: &Session) -> Option<HashSet<UserId>> {
        let mut reg = self.registry();
        if reg.sessions.remove(&session.id).is_some() {
            self.metrics.gateway_session_closed();
        }
        for g in session.guilds() {
            if let Some(m) = reg.by_guild.get_mut(&g) {
                m.remove(&session.id);
                if m.is_empty() {
                    reg.by_guild.remove(&g);
                }
            }
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
            return Some(reg.friends.remove(&session.user).unwrap_or_default());
        }
        None
    }

    /// Forgets sessions detached for longer than the resume window, and,
    /// while detached sessions' resume buffers hold more than
    /// `resume_budget_bytes` in all, the longest-detached ones; users left
    /// with no session go offline.
    fn reap(&self) {
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
        for s in expired {
            if let Some(friends) = self.remove(&s) {
                self.announce_presence(
                    s.user,
                    &UserPresence { status: "offline".into(), activities: Vec::new() },
                    &s.guilds(),
                    friends,
                );
            }
        }
    }

    pub(crate) fn presence_of(&self, user: UserId) -> Option<UserPresence> {
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
            .filter_map(|u| reg.presences.get(&u).map(|p| (u, p)))
            .filter(|(_, p)| p.visible_status() != "offline")
            .map(|(u, p)| presence_payload(u, guild, p))
            .collect()
    }

    /// Distinct users with a session here in `guild` whose presence is not
    /// offline.
    fn online_in(&self, guild: GuildId) -> u64 {
        let reg = self.registry();
        let users: HashSet<UserId> =
            reg.by_guild.get(&guild).map(|m| m.values().map(|s| s.user).collect()).unwrap_or_default();
        users.into_iter().filter(|u| reg.presences.get(u).is_some_and(|p| p.visible_status() != "offline")).count()
            as u64
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

/// Who `@here` reaches: the members connected to this node's gateway.
impl events::Presences for Hub {
    fn online_members(&self, guild: GuildId) -> Vec<UserId> {
        let reg = self.registry();
        let mut users: Vec<UserId> =
            reg.by_guild.get(&guild).map(|s| s.values().map(|s| s.user).collect()).unwrap_or_default();
        users.sort();
        users.dedup();
        users
    }

    fn online_count(&self, guild: GuildId) -> u64 {
        self.online_in(guild)
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
