//! Sessions that outlive their node. With a [`SessionStore`], the hub
//! writes every session's frames and identity there (`journal.rs`), and a
//! client that resumes on a node that does not hold its session has it
//! taken over:
//!
//! 1. the node publishes SESSION_CLAIMED on the bus; where the stream puts
//!    it (position `m`) is the cut: the old node, if alive, lets the
//!    session go there, and this node keeps every later event for it;
//! 2. it waits until the old node has written everything before `m`, or
//!    is dead (its heartbeat gone);
//! 3. it reads the session's frames, and has the stream replay what the
//!    old node had not handled before `m` (from the position it wrote);
//! 4. the dispatcher sends the session those events and the ones it kept,
//!    as it would have, and registers it: it is live here, in order, with
//!    nothing sent twice.
//!
//! Claims of one session are served in the stream's order. A node that
//! reads another node's claim of a session before its own claim came back
//! has lost it (its client is told the session is gone); one that reads it
//! while it waits for the old node gives up too, before writing anything of
//! the session, and the later claim takes the session from the old node. A
//! claim read in the instant between that check and the session going live
//! here has the session finished up to the claim's place and let go there,
//! as a node holding it would.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use events::{Audience, Event, Kind, Membership, SessionClaim};
use model::permissions::READ_MESSAGE_HISTORY;
use store::{GuildId, UserId};

use super::{Hub, UserPresence};
use crate::journal::{self, Entry, SessionMeta, SessionStore};
use crate::session::{Frame, Session, Written};

/// How long a node waits for its claim to come back from the stream.
const CLAIM_WAIT: Duration = Duration::from_secs(5);

pub(super) struct Cluster {
    store: Arc<dyn SessionStore>,
    node: String,
    /// Whether the store took the last write or heartbeat.
    healthy: Arc<AtomicBool>,
    journal: journal::Sender,
    adoptions: Mutex<Adoptions>,
    finish: mpsc::UnboundedSender<Adopt>,
    /// Dispatch names read back from the store, each kept once.
    names: Mutex<HashMap<String, &'static str>>,
}

#[derive(Default)]
struct Adoptions {
    /// Claims published, waiting for their place in the stream.
    waiting: HashMap<String, oneshot::Sender<u64>>,
    /// Events after a claim, kept for the session being taken over.
    queued: HashMap<String, Vec<Arc<Event>>>,
    /// Where this node's claim of each session it is taking over is.
    mine: HashMap<String, u64>,
    /// Sessions being taken over that another node claimed since, at this
    /// position: they are let go there once taken over.
    superseded: HashMap<String, u64>,
    /// Other nodes' recent claims (when read, session, node, position): a
    /// node that lets a session go at one claim holds it no longer at a
    /// later claim.
    recent: VecDeque<(Instant, String, String, u64)>,
}

/// How long claims are remembered: longer than any take-over lasts.
const CLAIMS_KEPT: Duration = Duration::from_secs(30);

impl Adoptions {
    fn note(&mut self, claim: &SessionClaim, position: u64) {
        while self.recent.front().is_some_and(|(at, ..)| at.elapsed() > CLAIMS_KEPT) {
            self.recent.pop_front();
        }
        self.recent.push_back((Instant::now(), claim.session_id.clone(), claim.node.clone(), position));
    }

    /// The latest claim of `session` read here (0: none).
    fn latest(&self, session: &str) -> u64 {
        self.recent.iter().filter(|(_, s, ..)| s == session).map(|(.., at)| *at).max().unwrap_or(0)
    }

    /// The first claim of `session` by a node other than `holder` between
    /// `after` and `before`: where `holder` let it go.
    fn let_go(&self, session: &str, holder: &str, after: u64, before: u64) -> Option<u64> {
        self.recent
            .iter()
            .filter(|(_, s, node, at)| s == session && node != holder && *at > after && *at < before)
            .map(|(.., at)| *at)
            .min()
    }
}

/// A session ready to go live here, with the events its old node missed.
pub(super) struct Adopt {
    session: Arc<Session>,
    missed: Vec<Event>,
    /// Told whether the session is live here (not claimed meanwhile).
    done: oneshot::Sender<bool>,
}

impl Cluster {
    fn adoptions(&self) -> std::sync::MutexGuard<'_, Adoptions> {
        self.adoptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn intern(&self, name: &str) -> &'static str {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = names.get(name) {
            return n;
        }
        // Bounded by the dispatch names there are.
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(name.to_owned(), leaked);
        leaked
    }
}

impl Hub {
    /// Shares this node's sessions through `store`, as node `node`: their
    /// frames are written there before they are sent, and sessions of
    /// other nodes can be taken over. Called before [`Hub::spawn`].
    pub fn share_sessions(self: &Arc<Self>, store: Arc<dyn SessionStore>, node: String) {
        let (journal, rx) = mpsc::unbounded_channel();
        let (finish, adoptions) = mpsc::unbounded_channel();
        let ttl = Duration::from_millis(self.config.resume_window_ms);
        let healthy = Arc::new(AtomicBool::new(true));
        let max_frames = self.config.resume_buffer;
        self.runtime.spawn(journal::writer(store.clone(), node.clone(), ttl, max_frames, healthy.clone(), rx));
        self.runtime.spawn(journal::heartbeat(store.clone(), node.clone(), healthy.clone()));
        *self.adoptions.lock().unwrap_or_else(|e| e.into_inner()) = Some(adoptions);
        let cluster =
            Cluster { store, node, healthy, journal, adoptions: Mutex::default(), finish, names: Mutex::default() };
        if self.cluster.set(cluster).is_err() {
            tracing::warn!("gateway: sessions were already shared");
        }
    }

    /// Has a new session's frames written from now on; events from the
    /// stream after `since` may reach it.
    pub(crate) fn track(&self, session: &Arc<Session>, since: u64) {
        let Some(c) = self.cluster.get() else { return };
        let (journal, id) = (c.journal.clone(), session.id.clone());
        session.set_journal(Box::new(move |written: Written<'_>| {
            let entry = match written {
                Written::Frame(frame, routed) => Entry::Frame { session: id.clone(), frame: frame.clone(), routed },
                Written::Acknowledged(seq) => Entry::Acknowledged(id.clone(), seq),
            };
            let _ = journal.send(entry);
        }));
        let _ = c.journal.send(Entry::Open(session.clone(), self.meta(c, session, since)));
    }

    /// Whether the shared resume state is being written (always, without
    /// one): frames wait for it, so sessions are not served without it.
    pub(crate) fn sessions_ready(&self) -> Result<(), String> {
        match self.cluster.get() {
            Some(c) if !c.healthy.load(Ordering::Relaxed) => Err("the shared resume state is not written".into()),
            _ => Ok(()),
        }
    }

    /// Where the dispatcher is in the stream.
    pub(crate) fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    fn meta(&self, c: &Cluster, session: &Session, since: u64) -> SessionMeta {
        SessionMeta {
            id: session.id.clone(),
            user: session.user,
            bot: session.bot,
            intents: session.intents,
            shard: session.shard,
            guilds: session.guilds(),
            node: c.node.clone(),
            since,
        }
    }

    /// Writes a session's guilds again after they changed.
    pub(super) fn journal_guilds(&self, session: &Arc<Session>) {
        let Some(c) = self.cluster.get() else { return };
        let _ = c.journal.send(Entry::Open(session.clone(), self.meta(c, session, self.position())));
    }

    pub(super) fn journal_forget(&self, id: &str) {
        if let Some(c) = self.cluster.get() {
            let _ = c.journal.send(Entry::Forget(id.to_owned()));
        }
    }

    /// The dispatcher is past `position`: every frame of the events up to
    /// it has gone to the journal.
    pub(super) fn routed(&self, position: u64) {
        if position == 0 {
            return;
        }
        self.position.store(position, Ordering::Relaxed);
        let Some(c) = self.cluster.get() else { return };
        let _ = c.journal.send(Entry::Routed(position));
    }

    pub(super) fn queue_for_adoptions(&self, event: &Arc<Event>) {
        let Some(c) = self.cluster.get() else { return };
        let mut a = c.adoptions();
        for queue in a.queued.values_mut() {
            queue.push(event.clone());
        }
    }

    /// A node claimed a session at `position`: this one, if it asked, now
    /// knows where its take-over starts; one that holds the session lets
    /// it go.
    pub(super) fn claimed(&self, claim: &SessionClaim, position: u64) {
        let Some(c) = self.cluster.get() else { return };
        let mut a = c.adoptions();
        if claim.node == c.node {
            if let Some(waiter) = a.waiting.remove(&claim.session_id) {
                a.queued.insert(claim.session_id.clone(), Vec::new());
                a.mine.insert(claim.session_id.clone(), position);
                let _ = waiter.send(position);
            }
            return;
        }
        a.note(claim, position);
        // Another node claimed it first: this node's claim has lost.
        if a.waiting.remove(&claim.session_id).is_some() {
            tracing::info!(session = %claim.session_id, by = %claim.node, "gateway: a session was claimed by another node first");
            return;
        }
        if let Some(&mine) = a.mine.get(&claim.session_id) {
            // Made before that node read this one's claim, it loses to it
            // (that node was waiting for it); made after, it is the next
            // take-over, from this node.
            if claim.seen >= mine {
                a.superseded.entry(claim.session_id.clone()).or_insert(position);
            }
            return;
        }
        drop(a);
        let Some(session) = self.session(&claim.session_id) else { return };
        tracing::info!(session = %session.id, to = %claim.node, "gateway: session taken over by another node");
        session.release();
        let _ = c.journal.send(Entry::Released(session.id.clone()));
        // Gone from here, not ended: no SESSION_ENDED, no offline
        // announcement (the user is online on the other node).
        self.unregister(&session, false);
    }

    /// Carries on, here, a session another node held: `None` when there is
    /// no such session of `user`, or it cannot be taken over now (the
    /// client then identifies anew).
    pub(crate) async fn adopt(self: &Arc<Self>, id: &str, user: UserId, token_hash: String) -> Option<Arc<Session>> {
        let c = self.cluster.get()?;
        let first = match c.store.load(id).await {
            Ok(s) => s?,
            Err(e) => {
                tracing::warn!(error = %e, "gateway: could not read a session's resume state");
                return None;
            }
        };
        if first.meta.user != user {
            return None;
        }
        // The reaper drops the views of guilds no session here is in; a
        // take-over may wait seconds for a dead node, and its replayed
        // and kept events are routed by these views.
        let _keep = KeepViews::new(self, user, &first.meta.guilds);
        if let Err(e) = self.load_views(user, &first.meta.guilds).await {
            tracing::warn!(error = %e, "gateway: could not read the permissions of a session's guilds");
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let seen = {
            let mut a = c.adoptions();
            a.waiting.insert(id.to_owned(), tx);
            a.latest(id)
        };
        self.bus.publish(Event::session_claimed(id.to_owned(), c.node.clone(), seen));
        let at = match tokio::time::timeout(CLAIM_WAIT, rx).await {
            Ok(Ok(at)) => Some(at),
            _ => None,
        };
        let adopted = match at {
            Some(at) => self.take_over(c, id, token_hash, &first.meta.node, at).await,
            None => None,
        };
        if adopted.is_none() {
            let mut a = c.adoptions();
            a.waiting.remove(id);
            a.queued.remove(id);
            a.mine.remove(id);
            a.superseded.remove(id);
        }
        adopted
    }

    async fn take_over(
        self: &Arc<Self>,
        c: &Cluster,
        id: &str,
        token_hash: String,
        old: &str,
        at: u64,
    ) -> Option<Arc<Session>> {
        // Everything before the claim written by the old node, or what it
        // wrote before it died. The node that wrote the session last is the
        // old one: another node may have taken it over since it was read.
        let mut old = old.to_owned();
        let mut hops = 0;
        let (handled, saved) = loop {
            let handled = self.written_by(c, &old, at).await?;
            let saved = c.store.load(id).await.ok()??;
            if saved.meta.node == old || saved.meta.node == c.node || hops == 2 {
                break (handled, saved);
            }
            old = saved.meta.node.clone();
            hops += 1;
        };
        // Still its old node's, unless another node claimed it first (and
        // gave up): the old node let it go there.
        let handled = match c.adoptions().let_go(id, &saved.meta.node, saved.meta.since, at) {
            Some(cut) => handled.min(cut - 1),
            _ => handled,
        };
        let from = handled.max(saved.meta.since);
        let missed = if from + 1 < at {
            match self.bus.replay(from, at - 1).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "gateway: could not replay what a session missed");
                    return None;
                }
            }
        } else {
            Vec::new()
        };
        let meta = saved.meta;
        // A guild the session joined while it was read, which this node
        // may not have read the traffic of since the claim: the client
        // identifies anew rather than miss any.
        if meta.guilds.iter().any(|g| self.bus.follows(*g).is_none()) {
            tracing::info!(session = %id, "gateway: a session being taken over joined a guild meanwhile");
            return None;
        }
        let seq = saved.seq.max(saved.frames.last().map_or(0, |f| f.seq));
        tracing::info!(
            session = %id, from = %old, frames = saved.frames.len(), replayed = missed.len(), at,
            "gateway: taking a session over"
        );
        let frames: Vec<Frame> =
            saved.frames.into_iter().map(|f| Frame { seq: f.seq, name: c.intern(&f.name), data: f.data }).collect();
        let session = Arc::new(
            Session::new(
                id.to_owned(),
                meta.user,
                meta.bot,
                meta.intents,
                meta.shard,
                meta.guilds.into_iter().collect(),
                self.config.resume_buffer,
                token_hash,
            )
            .restore(seq, frames),
        );
        // Claimed by another node while this one waited: that node takes
        // it over from the old one, and this one writes nothing of it.
        if c.adoptions().superseded.contains_key(id) {
            tracing::info!(session = %id, "gateway: a session being taken over was claimed by another node");
            return None;
        }
        self.track(&session, at);
        let (done, finished) = oneshot::channel();
        c.finish.send(Adopt { session: session.clone(), missed, done }).ok()?;
        if !finished.await.ok()? {
            return None;
        }
        if self.local_presence(session.user).is_none() {
            // As the old node showed them, if it told; else online.
            let presence = self
                .presence_of(session.user)
                .unwrap_or(UserPresence { status: "online".into(), activities: Vec::new() });
            self.set_presence(session.user, presence, &session.guilds());
        }
        Some(session)
    }

    /// How far node `old` wrote its sessions for a claim at `at`: up to the
    /// claim once it got there, else as far as it got before it died;
    /// `None` if it is alive and does not get there in time.
    async fn written_by(&self, c: &Cluster, old: &str, at: u64) -> Option<u64> {
        let deadline = Instant::now() + journal::NODE_TTL * 2;
        loop {
            let state = match c.store.node_state(old).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "gateway: could not read a node's state");
                    return None;
                }
            };
            if state.position + 1 >= at {
                return Some(at - 1);
            }
            if !state.alive {
                return Some(state.position);
            }
            if Instant::now() >= deadline {
                tracing::warn!(node = %old, "gateway: a live node did not let a session go in time");
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// On the dispatcher: the events the session missed, then those kept
    /// since the claim, then live.
    pub(super) fn finish_adoption(self: &Arc<Self>, adopt: Adopt) {
        let Some(c) = self.cluster.get() else { return };
        let (kept, cut) = {
            let mut a = c.adoptions();
            a.mine.remove(&adopt.session.id);
            (a.queued.remove(&adopt.session.id).unwrap_or_default(), a.superseded.remove(&adopt.session.id))
        };
        for event in &adopt.missed {
            self.replay_into(&adopt.session, event);
        }
        for event in kept.iter().filter(|e| cut.is_none_or(|at| e.position() < at)) {
            self.replay_into(&adopt.session, event);
        }
        self.register(adopt.session.clone());
        if let Some(at) = cut {
            // Claimed meanwhile by another node, which carries on from `at`.
            tracing::info!(session = %adopt.session.id, at, "gateway: a session taken over was claimed again");
            adopt.session.release();
            let _ = c.journal.send(Entry::Released(adopt.session.id.clone()));
            self.unregister(&adopt.session, false);
        }
        // The frames just dispatched came of events up to here.
        let _ = c.journal.send(Entry::Routed(self.position()));
        let _ = adopt.done.send(cut.is_none());
    }

    /// One event for one session, as routing would have sent it (from the
    /// guild views as they are now).
    fn replay_into(&self, session: &Arc<Session>, event: &Event) {
        if !matches!(event.kind(), Kind::Dispatch(_)) {
            return;
        }
        if let Some(Membership::Joined { user, guild }) = event.membership() {
            if user == session.user {
                session.join(guild);
            }
        }
        let guild = event.guild();
        let history = if !(session.wants(event) && session.on_shard(guild)) {
            None
        } else {
            let now = model::Timestamp::now().unix_ms();
            match event.audience() {
                Audience::Guild(g) => session.has_guild(*g).then_some(true),
                Audience::GuildUsers { guild, users } => {
                    (session.has_guild(*guild) && users.contains(&session.user)).then_some(true)
                }
                Audience::Users(users) => users.contains(&session.user).then_some(true),
                Audience::Permitted { guild, channel, permissions } => {
                    let reg = self.registry();
                    reg.views.get(guild).filter(|_| session.has_guild(*guild)).and_then(|view| {
                        let perms = view.permissions(session.user, *channel, now);
                        (perms & permissions == *permissions).then_some(perms & READ_MESSAGE_HISTORY != 0)
                    })
                }
            }
        };
        if let Some(history) = history {
            let data = session.payload(event, history);
            self.enqueue_routed(session, event.name(), data);
        }
        match event.membership() {
            Some(Membership::Left { user, guild }) if user == session.user => session.leave(guild),
            Some(Membership::GuildDeleted(guild)) => session.leave(guild),
            _ => {}
        }
    }
}

/// The views of a session's guilds kept while they are read or the
/// session is taken over (see `Registry::pinned`); let go when dropped, by
/// then the session is registered in those guilds, or starting, or it
/// failed.
pub(crate) struct KeepViews {
    hub: std::sync::Weak<Hub>,
    guilds: Vec<GuildId>,
    /// Whose session it is (a join of theirs is followed at once).
    user: UserId,
}

impl KeepViews {
    pub(crate) fn new(hub: &Arc<Hub>, user: UserId, guilds: &[GuildId]) -> Self {
        let mut reg = hub.registry();
        for g in guilds {
            *reg.pinned.entry(*g).or_default() += 1;
        }
        *reg.pinned_users.entry(user).or_default() += 1;
        Self { hub: Arc::downgrade(hub), guilds: guilds.to_vec(), user }
    }
}

impl Drop for KeepViews {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else { return };
        let mut reg = hub.registry();
        for g in &self.guilds {
            if let Some(n) = reg.pinned.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    reg.pinned.remove(g);
                }
            }
        }
        if let Some(n) = reg.pinned_users.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                reg.pinned_users.remove(&self.user);
            }
        }
    }
}
