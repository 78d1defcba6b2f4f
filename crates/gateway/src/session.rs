//! A gateway session: who it is, what it receives, and the frames it has
//! been sent, kept so that a resume can replay them. Its state sits behind
//! a std mutex that is never held across an await.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::replay::Replay;

use events::{intents, Event};
use store::{GuildId, UserId};

/// What a session tells its journal, in order.
pub(crate) enum Written<'a> {
    /// A frame dispatched; `true` if it came of an event from the stream.
    Frame(&'a Frame, bool),
    /// The client has received everything up to here.
    Acknowledged(u64),
}

/// What a session hands its frames and acknowledgements to.
pub(crate) type FrameSink = Box<dyn Fn(Written<'_>) + Send + Sync>;

/// A dispatch on its way to a connection. `data` is the event's payload,
/// serialised once and shared (reference-counted) by every session that
/// receives it; only the few bytes around it differ per session, and they
/// are written when the frame goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u64,
    pub name: &'static str,
    pub data: Bytes,
}

impl Frame {
    /// Bytes a buffered frame keeps alive: its payload and its own record.
    fn cost(&self) -> usize {
        self.data.len() + std::mem::size_of::<Self>()
    }

    /// Writes the part before the payload, `{"op":0,"s":…,"t":"…","d":`,
    /// into `out` (cleared first, so one buffer serves every frame of a
    /// connection); the frame is that, `data`, then [`Frame::TAIL`].
    pub fn write_head(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(b"{\"op\":0,\"s\":");
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = self.seq;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[at..]);
        out.extend_from_slice(b",\"t\":\"");
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b"\",\"d\":");
    }

    /// What closes a frame after its payload.
    pub const TAIL: &'static [u8] = b"}";
}

pub struct Session {
    pub id: String,
    pub user: UserId,
    pub bot: bool,
    pub intents: u64,
    /// `(shard_id, num_shards)`.
    pub shard: (u64, u64),
    inner: Mutex<Inner>,
    /// True once the token of the attached connection is revoked; a new
    /// token (IDENTIFY or RESUME) sets it back, so a revocation aimed at an
    /// old token never closes a connection made with a new one.
    revoked: AtomicBool,
    /// Wakes the connection waiting in [`Session::revoked`]. A flag and a
    /// `Notify` live inline; a `watch` channel would be a ~340-byte
    /// allocation (nine `Notify`s) for every session.
    revocation: Notify,
    /// In a cluster: where every frame goes to be written before a
    /// connection may take it (see `journal.rs`), with whether it came of
    /// an event from the stream.
    journal: std::sync::OnceLock<FrameSink>,
}

struct Inner {
    seq: u64,
    /// Frames dispatched, oldest first: for resuming, and, after `sent`,
    /// the attached connection's queue. One buffer serves both, so a frame
    /// waiting to be written costs nothing beyond its place for resuming.
    buffer: Replay<Frame>,
    buffer_limit: usize,
    /// What the buffer holds, counting each payload in full (shared ones
    /// too, so the figure is an upper bound of what dropping it frees).
    buffer_bytes: usize,
    /// The last frame handed to a connection (or, after a resume, the last
    /// one the client said it received).
    sent: u64,
    /// With a journal: the last frame written to it, and so the last a
    /// connection may take. `None`: no journal, every frame may go.
    durable: Option<u64>,
    /// The attached connection, if any.
    attached: Option<Attached>,
    /// Attachments made so far: each gets the next number.
    attachments: u64,
    /// When the last connection went away; `None` while attached.
    detached_at: Option<Instant>,
    guilds: HashSet<GuildId>,
    /// The stored hash of the token the attached connection authenticated
    /// with (IDENTIFY's, or the latest RESUME's).
    token_hash: String,
}

/// The attached connection, as the session sees it.
struct Attached {
    id: u64,
    wake: Arc<Notify>,
    /// Frames it may fall behind by before it is cut loose as too slow.
    max_queue: usize,
}

/// A connection's end of its session: which attachment it is, and what
/// wakes it when a frame is dispatched while it had caught up.
#[derive(Debug)]
pub struct Outlet {
    id: u64,
    wake: Arc<Notify>,
}

impl Outlet {
    /// Completes when a frame was dispatched since the connection last
    /// found nothing to take (or it was detached).
    pub async fn ready(&self) {
        self.wake.notified().await
    }
}

/// The connection is no longer the session's: cut loose as too slow, or
/// replaced by a resume elsewhere.
#[derive(Debug, PartialEq, Eq)]
pub struct Detached;

/// What became of a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the attached connection, which is `depth` frames behind.
    Queued { depth: usize },
    /// Kept for a resume only: no connection is attached.
    Buffered,
    /// The connection's queue was full, so it was cut loose as too slow;
    /// the session stays resumable.
    CutLoose,
}

/// Why a resume cannot go on.
#[derive(Debug, PartialEq, Eq)]
pub enum ResumeError {
    /// The buffer no longer reaches back to the client's sequence.
    TooOld,
    /// The client claims a sequence the server never sent.
    Future,
}

impl Session {
    pub fn new(
        id: String,
        user: UserId,
        bot: bool,
        intents: u64,
        shard: (u64, u64),
        guilds: HashSet<GuildId>,
        buffer_limit: usize,
        token_hash: String,
    ) -> Self {
        Self {
            id,
            user,
            bot,
            intents,
            shard,
            inner: Mutex::new(Inner {
                seq: 0,
                buffer: Replay::default(),
                buffer_limit: buffer_limit.max(1),
                buffer_bytes: 0,
                sent: 0,
                durable: None,
                attached: None,
                attachments: 0,
                detached_at: Some(Instant::now()),
                guilds,
                token_hash,
            }),
            revoked: AtomicBool::new(false),
            revocation: Notify::new(),
            journal: std::sync::OnceLock::new(),
        }
    }

    /// A session carried on from another node, which sent it up to `seq`;
    /// `frames` are the last of those, oldest first, all written already.
    pub(crate) fn restore(self, seq: u64, frames: impl IntoIterator<Item = Frame>) -> Self {
        {
            let mut inner = self.lock();
            inner.seq = seq;
            inner.sent = seq;
            inner.durable = Some(seq);
            for frame in frames {
                inner.buffer_bytes += frame.cost();
                inner.buffer.push_back(frame);
            }
            inner.trim();
        }
        self
    }

    /// From now on, every frame goes to `journal` and waits there until
    /// [`Session::journaled`] says it was written.
    pub(crate) fn set_journal(&self, journal: FrameSink) {
        let mut inner = self.lock();
        if self.journal.set(journal).is_ok() && inner.durable.is_none() {
            inner.durable = Some(inner.seq);
        }
    }

    /// The journal has written the frames up to `seq`: a connection may
    /// take them.
    pub(crate) fn journaled(&self, seq: u64) {
        let mut inner = self.lock();
        if inner.durable.is_some_and(|d| d >= seq) {
            return;
        }
        inner.durable = Some(seq);
        if let Some(attached) = &inner.attached {
            attached.wake.notify_one();
        }
    }

    pub fn token_hash(&self) -> String {
        self.lock().token_hash.clone()
    }

    pub fn set_token_hash(&self, token_hash: String) {
        let mut inner = self.lock();
        inner.token_hash = token_hash;
        self.revoked.store(false, Ordering::SeqCst);
    }

    /// Closes the attached connection (4004) if its token is among `tokens`.
    pub fn revoke(&self, tokens: &events::RevokedTokens) {
        let inner = self.lock();
        if tokens.covers(&inner.token_hash) {
            // A state, not a wake-up: the connection sees it even if it is
            // not waiting at this instant.
            self.revoked.store(true, Ordering::SeqCst);
            self.revocation.notify_waiters();
        }
    }

    /// Completes once the attached connection's token is revoked.
    pub(crate) async fn revoked(&self) {
        loop {
            // Registered before the flag is read, so a revocation between
            // the two still wakes it.
            let woken = self.revocation.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.revoked.load(Ordering::SeqCst) {
                return;
            }
            woken.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn guilds(&self) -> Vec<GuildId> {
        self.lock().guilds.iter().copied().collect()
    }

    pub fn join(&self, guild: GuildId) {
        self.lock().guilds.insert(guild);
    }

    pub fn leave(&self, guild: GuildId) {
        self.lock().guilds.remove(&guild);
    }

    pub fn has_guild(&self, guild: GuildId) -> bool {
        self.lock().guilds.contains(&guild)
    }

    /// Whether this session's shard carries events of `guild` (or, for
    /// `None`, events outside guilds, which go to shard 0).
    pub fn on_shard(&self, guild: Option<GuildId>) -> bool {
        let (id, n) = self.shard;
        match guild {
            Some(g) => (g.get() >> 22) % n == id,
            None => id == 0,
        }
    }

    /// Whether the session's intents admit the event. People's sessions
    /// that sent no intents get everything (their intents are ALL).
    pub fn wants(&self, event: &Event) -> bool {
        event.intents() == 0 || self.intents & event.intents() != 0
    }

    /// Chooses the payload this session gets: without MESSAGE_CONTENT, a
    /// bot sees content only in its own messages, DMs and mentions (and
    /// the same of the message a reply carries); without the channel's
    /// history (`history` false) a reply comes without the message it
    /// answers.
    pub fn payload(&self, event: &Event, history: bool) -> Bytes {
        let all_content = !self.bot || self.intents & intents::MESSAGE_CONTENT != 0;
        event.payload_for(self.user, all_content, history)
    }

    /// Sends a dispatch: into the resume buffer, from which the attached
    /// connection, if any, takes it. A connection is woken only when it had
    /// caught up; one that falls more than its `max_queue` behind is cut
    /// loose, and the session stays resumable.
    pub fn dispatch(&self, name: &'static str, data: Bytes) -> Delivery {
        self.push(name, data, false)
    }

    /// [`Session::dispatch`] of a frame that came of an event from the
    /// stream, as the journal needs to know.
    pub(crate) fn dispatch_routed(&self, name: &'static str, data: Bytes) -> Delivery {
        self.push(name, data, true)
    }

    fn push(&self, name: &'static str, data: Bytes, routed: bool) -> Delivery {
        let mut inner = self.lock();
        inner.seq += 1;
        let frame = Frame { seq: inner.seq, name, data };
        if let Some(journal) = self.journal.get() {
            // Under the lock, so the journal gets a session's frames in
            // sequence order whoever dispatches them.
            journal(Written::Frame(&frame, routed));
        }
        inner.buffer_bytes += frame.cost();
        inner.buffer.push_back(frame);
        let Some(attached) = &inner.attached else {
            inner.trim();
            return Delivery::Buffered;
        };
        let depth = (inner.seq - inner.sent) as usize;
        if depth > attached.max_queue {
            let attached = inner.attached.take().expect("checked above");
            inner.detached_at = Some(Instant::now());
            inner.trim();
            attached.wake.notify_one();
            return Delivery::CutLoose;
        }
        if depth == 1 {
            attached.wake.notify_one();
        }
        inner.trim();
        Delivery::Queued { depth }
    }

    /// The next frame for `outlet`'s connection, if one is waiting.
    pub fn take(&self, outlet: &Outlet) -> Result<Option<Frame>, Detached> {
        let mut inner = self.lock();
        if inner.attached.as_ref().is_none_or(|a| a.id != outlet.id) {
            return Err(Detached);
        }
        if inner.sent >= inner.durable.unwrap_or(inner.seq) {
            return Ok(None);
        }
        let oldest = inner.buffer.front().map_or(inner.seq + 1, |f| f.seq);
        // Frames leave the buffer only when acknowledged, which stops at
        // `sent`, or past `buffer_limit`, which is never below a
        // connection's `max_queue`; this is a guard, not a path.
        let Some(frame) = (inner.sent + 1).checked_sub(oldest).and_then(|i| inner.buffer.get(i as usize)).cloned()
        else {
            inner.attached = None;
            inner.detached_at = Some(Instant::now());
            return Err(Detached);
        };
        inner.sent = frame.seq;
        // READY carries the session's id, without which no client can
        // resume: every resume comes from after it, so it is never sent
        // again once its connection has it, and the session need not keep
        // it (an idle person's READY until the first heartbeat otherwise).
        if frame.name == "READY" {
            self.let_go(&mut inner, frame.seq);
        }
        Ok(Some(frame))
    }

    /// Lets go of the frames up to `seq`, which a heartbeat says the
    /// client has received: a client resumes from the last sequence it
    /// received, never from before one it has reported, so no resume can
    /// ask for them again. What stays is what a dropped connection may have
    /// lost; an idle session keeps no READY or GUILD_CREATE for its life.
    /// A client cannot have received what was never handed to its
    /// connection, so nothing after `sent` goes.
    pub fn acknowledge(&self, seq: u64) {
        let mut inner = self.lock();
        let seq = seq.min(inner.sent);
        self.let_go(&mut inner, seq);
    }

    /// Lets go of the frames up to `seq`, here and in the journal.
    fn let_go(&self, inner: &mut Inner, seq: u64) {
        while inner.buffer.front().is_some_and(|f| f.seq <= seq) {
            if let Some(old) = inner.buffer.pop_front() {
                inner.buffer_bytes -= old.cost();
            }
        }
        if let Some(journal) = self.journal.get() {
            journal(Written::Acknowledged(seq));
        }
    }

    /// Attaches a connection that has received everything up to `seq`
    /// (`None`: nothing): it takes the frames after it, then new ones, from
    /// its [`Outlet`], falling at most `max_queue` frames behind. Replacing
    /// a still-attached connection detaches it.
    pub fn attach(&self, seq: Option<u64>, max_queue: usize) -> Result<Outlet, ResumeError> {
        let mut inner = self.lock();
        let seq = seq.unwrap_or(0);
        if seq > inner.seq {
            return Err(ResumeError::Future);
        }
        let oldest = inner.buffer.front().map_or(inner.seq + 1, |f| f.seq);
        if seq + 1 < oldest {
            return Err(ResumeError::TooOld);
        }
        if let Some(old) = inner.attached.take() {
            old.wake.notify_one();
        }
        inner.attachments += 1;
        let outlet = Outlet { id: inner.attachments, wake: Arc::new(Notify::new()) };
        // Never below what is still waiting: the buffer must keep every
        // frame the connection has yet to take.
        let max_queue = max_queue.clamp(1, inner.buffer_limit).max((inner.seq - seq) as usize);
        inner.attached = Some(Attached { id: outlet.id, wake: outlet.wake.clone(), max_queue });
        inner.sent = seq;
        inner.detached_at = None;
        Ok(outlet)
    }

    /// Lets the attached connection go, if any: the session went to
    /// another node.
    pub(crate) fn release(&self) {
        let mut inner = self.lock();
        if let Some(attached) = inner.attached.take() {
            attached.wake.notify_one();
        }
        inner.detached_at = Some(Instant::now());
    }

    /// Detaches `outlet`'s connection if it is still the attached one.
    pub fn detach(&self, outlet: &Outlet) {
        let mut inner = self.lock();
        if inner.attached.as_ref().is_some_and(|a| a.id == outlet.id) {
            inner.attached = None;
            inner.detached_at = Some(Instant::now());
        }
    }

    pub fn detached_since(&self) -> Option<Instant> {
        self.lock().detached_at
    }

    /// When it was detached and what its resume buffer holds, if detached.
    pub fn detached_buffer(&self) -> Option<(Instant, usize)> {
        let inner = self.lock();
        inner.detached_at.map(|t| (t, inner.buffer_bytes))
    }
}

impl Inner {
    /// Keeps the buffer within its limit, oldest frames out first.
    fn trim(&mut self) {
        while self.buffer.len() > self.buffer_limit {
            if let Some(old) = self.buffer.pop_front() {
                self.buffer_bytes -= old.cost();
            }
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
