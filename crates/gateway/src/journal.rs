//! Resume state that outlives a node: in a cluster, every frame a session
//! is sent is first written to a [`SessionStore`] (Redis) that every node
//! reads, with the session's identity and the point of the event stream
//! its node had handled. A client whose node died resumes on another node,
//! which reads the frames from there, has the stream's later events
//! replayed for the session, and carries on (see `Hub::adopt`).
//!
//! Order and exactness: a connection is handed only the frames already
//! written (`Session::journaled`), so whatever a client received can be
//! sent again; and the node's position is written only with every frame of
//! the events up to it, so what the stream holds after it is exactly what
//! the session may not have been sent yet.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use events::BoxFuture;
use store::{GuildId, UserId};

use crate::session::{Frame, Session};

/// Where resume state lives for a cluster's gateway nodes.
pub trait SessionStore: Send + Sync {
    /// Writes one batch: sessions opened or changed, frames appended (in
    /// sequence order per session), sessions kept alive or forgotten, and
    /// the node's position in the event stream.
    fn write<'a>(&'a self, node: &'a str, batch: &'a Batch) -> BoxFuture<'a, Result<(), String>>;
    /// A session as its last node left it.
    fn load<'a>(&'a self, session: &'a str) -> BoxFuture<'a, Result<Option<Saved>, String>>;
    /// How far `node` has written, and whether it is alive.
    fn node_state<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<NodeState, String>>;
    /// Says `node` is alive for `ttl` more.
    fn heartbeat<'a>(&'a self, node: &'a str, ttl: Duration) -> BoxFuture<'a, Result<(), String>>;
}

/// Who a session is: what another node needs to carry it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: String,
    pub user: UserId,
    pub bot: bool,
    pub intents: u64,
    pub shard: (u64, u64),
    pub guilds: Vec<GuildId>,
    /// The node that holds it.
    pub node: String,
    /// The stream position from which events may reach it on that node.
    pub since: u64,
}

/// A frame as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFrame {
    pub seq: u64,
    pub name: String,
    pub data: Bytes,
}

/// A session as read back: who it is, the last frame it was sent, and its
/// last frames its client has not acknowledged, oldest first.
#[derive(Debug, Clone)]
pub struct Saved {
    pub meta: SessionMeta,
    pub seq: u64,
    pub frames: Vec<SavedFrame>,
}

/// A node as others see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeState {
    /// Every frame of the events up to here is written; 0 if none yet.
    pub position: u64,
    pub alive: bool,
}

/// One write: the frames first, then what the acknowledgements let go.
#[derive(Debug, Default)]
pub struct Batch {
    pub opened: Vec<SessionMeta>,
    pub frames: Vec<(String, Vec<SavedFrame>)>,
    /// Frames up to these sequences go.
    pub acknowledged: Vec<(String, u64)>,
    pub keep: Vec<String>,
    pub forget: Vec<String>,
    pub position: Option<u64>,
    /// How long a session's state lives without being kept.
    pub ttl: Duration,
    /// Frames kept per session, the newest.
    pub max_frames: usize,
}

/// What the hub tells the writer, in the order it happened.
pub(crate) enum Entry {
    /// A session to write (again, after its guilds changed).
    Open(Arc<Session>, SessionMeta),
    /// A frame dispatched to a session; `routed` if it came of an event
    /// from the stream (the dispatcher), not of a client's own request.
    Frame { session: String, frame: Frame, routed: bool },
    /// The dispatcher has handled the stream up to here.
    Routed(u64),
    /// The session's client has everything up to this frame: no resume
    /// asks for it again.
    Acknowledged(String, u64),
    /// The session went to another node: stop writing it.
    Released(String),
    /// The session ended for good: its state goes.
    Forget(String),
}

pub(crate) type Sender = mpsc::UnboundedSender<Entry>;

/// How long a node is alive without a heartbeat, and how often it beats.
pub(crate) const NODE_TTL: Duration = Duration::from_secs(3);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Writes what the hub sends, in batches, and tells each session how far
/// it may hand frames out. A failed write is tried again (the sessions
/// wait meanwhile): nothing is handed out that was not written.
pub(crate) async fn writer(
    store: Arc<dyn SessionStore>,
    node: String,
    ttl: Duration,
    max_frames: usize,
    healthy: Arc<AtomicBool>,
    mut rx: mpsc::UnboundedReceiver<Entry>,
) {
    let mut pending: VecDeque<Entry> = VecDeque::new();
    let mut sessions: HashMap<String, Weak<Session>> = HashMap::new();
    // Sessions gone to other nodes: frames still dispatched to them here
    // (a connection finishing a request) are not theirs to write.
    let mut released: HashSet<String> = HashSet::new();
    let refresh_every = (ttl / 4).max(Duration::from_millis(250));
    let mut refreshed = Instant::now();
    loop {
        let wait = refresh_every.saturating_sub(refreshed.elapsed());
        tokio::select! {
            next = rx.recv() => match next {
                Some(e) => pending.push_back(e),
                None => break,
            },
            _ = tokio::time::sleep(wait) => {}
        }
        while let Ok(e) = rx.try_recv() {
            pending.push_back(e);
        }
        // Up to the last event handled whole, and what follows it until the
        // first frame of an event still being handled.
        let mut cut = pending.iter().rposition(|e| matches!(e, Entry::Routed(_))).map_or(0, |i| i + 1);
        while cut < pending.len() && !matches!(pending[cut], Entry::Frame { routed: true, .. }) {
            cut += 1;
        }
        let mut batch = Batch { ttl, max_frames, ..Default::default() };
        let mut written: HashMap<String, u64> = HashMap::new();
        let mut slots: HashMap<String, usize> = HashMap::new();
        for entry in pending.drain(..cut) {
            match entry {
                Entry::Open(session, meta) => {
                    released.remove(&session.id);
                    sessions.insert(session.id.clone(), Arc::downgrade(&session));
                    batch.opened.push(meta);
                }
                Entry::Frame { session, .. } if released.contains(&session) => {}
                Entry::Frame { session, frame, .. } => {
                    written.insert(session.clone(), frame.seq);
                    let saved = SavedFrame { seq: frame.seq, name: frame.name.to_owned(), data: frame.data };
                    // One entry per session in the batch, found by its index:
                    // a guild's event gives one frame to each of its sessions.
                    match slots.get(&session) {
                        Some(&i) => batch.frames[i].1.push(saved),
                        None => {
                            slots.insert(session.clone(), batch.frames.len());
                            batch.frames.push((session, vec![saved]));
                        }
                    }
                }
                Entry::Routed(p) => batch.position = Some(p),
                Entry::Acknowledged(session, _) if released.contains(&session) => {}
                Entry::Acknowledged(session, seq) => batch.acknowledged.push((session, seq)),
                Entry::Released(id) => {
                    sessions.remove(&id);
                    released.insert(id);
                }
                Entry::Forget(id) => {
                    sessions.remove(&id);
                    batch.forget.push(id);
                }
            }
        }
        if refreshed.elapsed() >= refresh_every {
            sessions.retain(|_, s| s.strong_count() > 0);
            batch.keep = sessions.keys().cloned().collect();
            refreshed = Instant::now();
        }
        if batch.opened.is_empty()
            && batch.frames.is_empty()
            && batch.acknowledged.is_empty()
            && batch.keep.is_empty()
            && batch.forget.is_empty()
            && batch.position.is_none()
        {
            continue;
        }
        let mut backoff = Duration::from_millis(50);
        while let Err(e) = store.write(&node, &batch).await {
            healthy.store(false, Ordering::Relaxed);
            tracing::warn!(error = %e, "gateway: resume state not written; trying again");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        healthy.store(true, Ordering::Relaxed);
        for (id, seq) in written {
            if let Some(session) = sessions.get(&id).and_then(Weak::upgrade) {
                session.journaled(seq);
            }
        }
    }
}

/// Tells the cluster this node is alive while it runs, and `healthy`
/// whether the store answers.
pub(crate) async fn heartbeat(store: Arc<dyn SessionStore>, node: String, healthy: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tick.tick().await;
        match store.heartbeat(&node, NODE_TTL).await {
            Ok(()) => healthy.store(true, Ordering::Relaxed),
            Err(e) => {
                healthy.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "gateway: node heartbeat not written");
            }
        }
    }
}
