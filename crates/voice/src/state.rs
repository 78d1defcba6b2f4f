//! Who is connected to the voice server: sessions by SSRC and by member,
//! and the rooms (voice channels) they are in. Connections, the media
//! socket and the bus follower all go through here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use model::id::{ChannelMarker, GuildMarker, UserMarker};
use model::Id;
use serde_json::json;
use tokio::sync::mpsc;

use crate::crypto::{Cipher, ReplayWindow};

pub(crate) type GuildId = Id<GuildMarker>;
pub(crate) type ChannelId = Id<ChannelMarker>;
pub(crate) type UserId = Id<UserMarker>;

/// What a connection's task is asked to do by others.
#[derive(Debug)]
pub(crate) enum Control {
    /// Send a JSON frame `{op, d, seq}`; `d` is serialised already.
    Frame { op: u8, d: String },
    /// Close with this code, for good.
    Close(u16, &'static str),
}

/// Server frames a connection may queue before further ones are dropped.
pub(crate) const CONTROL_QUEUE: usize = 256;

/// One voice session: what IDENTIFY admitted, kept across a resume.
pub(crate) struct Session {
    pub guild: GuildId,
    pub user: UserId,
    pub session_id: String,
    pub token: String,
    pub ssrc: u32,
    state: Mutex<SessionState>,
}

pub(crate) struct SessionState {
    pub channel: ChannelId,
    /// Forward their audio / video (SPEAK / STREAM, not server-muted).
    pub may_speak: bool,
    pub may_stream: bool,
    /// Receives nothing (deafened by themselves or a moderator).
    pub deaf: bool,
    /// Last SPEAKING flags they sent.
    pub speaking: u32,
    /// The attached connection; `None` while waiting to be resumed.
    pub conn: Option<(u64, mpsc::Sender<Control>)>,
    /// Last `seq` the session's connections sent.
    pub seq: u64,
    /// Bumped each time its connection drops, so a resume window that ends
    /// only removes a session that stayed detached since.
    pub detached: u64,
    pub media: Media,
}

#[derive(Default)]
pub(crate) struct Media {
    /// Set by SELECT_PROTOCOL.
    pub cipher: Option<Cipher>,
    /// Where their media comes from and goes to.
    pub addr: Option<SocketAddr>,
    pub replay: ReplayWindow,
    /// Nonce counter of what we send them.
    pub send_nonce: u32,
    /// Their media is WebRTC (the web client), through the WebRTC task.
    pub webrtc: bool,
}

impl Session {
    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame on the attached connection, if any; a full queue
    /// loses the frame (that client is not keeping up).
    pub(crate) fn send(&self, op: u8, d: &serde_json::Value) {
        if let Some((_, tx)) = &self.state().conn {
            let _ = tx.try_send(Control::Frame { op, d: d.to_string() });
        }
    }

    fn close(&self, code: u16, reason: &'static str) {
        if let Some((_, tx)) = self.state().conn.take() {
            if tx.try_send(Control::Close(code, reason)).is_err() {
                tokio::spawn(async move {
                    let _ = tx.send(Control::Close(code, reason)).await;
                });
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Sessions {
    pub by_ssrc: HashMap<u32, Arc<Session>>,
    pub by_member: HashMap<(GuildId, UserId), Arc<Session>>,
    pub rooms: HashMap<ChannelId, Vec<Arc<Session>>>,
}

/// The registry, shared by every task of the voice server.
#[derive(Default)]
pub(crate) struct Registry {
    inner: RwLock<Sessions>,
}

pub(crate) struct Admit {
    pub guild: GuildId,
    pub user: UserId,
    pub session_id: String,
    pub token: String,
    pub channel: ChannelId,
    pub may_speak: bool,
    pub may_stream: bool,
    pub deaf: bool,
}

impl Registry {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Sessions> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Sessions> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.read().by_ssrc.len()
    }

    /// A new session for an identified member, replacing one they had
    /// (that connection is closed with 4006).
    pub(crate) fn admit(&self, a: Admit, conn: (u64, mpsc::Sender<Control>)) -> Arc<Session> {
        if let Some(old) = self.get(a.guild, a.user) {
            self.remove(&old, Some((4006, "Session replaced")));
        }
        let mut s = self.write();
        let ssrc = loop {
            let candidate = rand::random::<u32>();
            if candidate != 0 && !s.by_ssrc.contains_key(&candidate) {
                break candidate;
            }
        };
        let session = Arc::new(Session {
            guild: a.guild,
            user: a.user,
            session_id: a.session_id,
            token: a.token,
            ssrc,
            state: Mutex::new(SessionState {
                channel: a.channel,
                may_speak: a.may_speak,
                may_stream: a.may_stream,
                deaf: a.deaf,
                speaking: 0,
                conn: Some(conn),
                seq: 0,
                detached: 0,
                media: Media::default(),
            }),
        });
        s.by_ssrc.insert(ssrc, session.clone());
        s.by_member.insert((a.guild, a.user), session.clone());
        s.rooms.entry(a.channel).or_default().push(session.clone());
        session
    }

    pub(crate) fn get(&self, guild: GuildId, user: UserId) -> Option<Arc<Session>> {
        self.read().by_member.get(&(guild, user)).cloned()
    }

    /// The session a RESUME names.
    pub(crate) fn find(&self, guild: GuildId, session_id: &str, token: &str) -> Option<Arc<Session>> {
        let s = self.read();
        s.by_member
            .values()
            .find(|p| p.guild == guild && p.session_id == session_id && p.token.as_bytes() == token.as_bytes())
            .cloned()
    }

    /// The others in `session`'s room.
    pub(crate) fn others(&self, session: &Session) -> Vec<Arc<Session>> {
        let channel = session.state().channel;
        let s = self.read();
        s.rooms
            .get(&channel)
            .map_or_else(Vec::new, |room| room.iter().filter(|p| p.ssrc != session.ssrc).cloned().collect())
    }

    /// Tells `session` who is in its room (op 11, and op 5 for each, so it
    /// can map their SSRCs) and the room about it (op 11).
    pub(crate) fn announce_join(&self, session: &Session) {
        let others = self.others(session);
        if others.is_empty() {
            return;
        }
        let ids: Vec<String> = others.iter().map(|p| p.user.to_string()).collect();
        session.send(11, &json!({ "user_ids": ids }));
        for p in &others {
            let speaking = p.state().speaking;
            session.send(5, &json!({ "user_id": p.user.to_string(), "ssrc": p.ssrc, "speaking": speaking }));
        }
        let me = json!({ "user_ids": [session.user.to_string()] });
        for p in &others {
            p.send(11, &me);
        }
    }

    fn announce_leave(&self, session: &Session) {
        let gone = json!({ "user_id": session.user.to_string() });
        for p in self.others(session) {
            p.send(13, &gone);
        }
    }

    /// Ends a session: closes its connection with `close` (if attached) and
    /// tells the room it left (op 13).
    pub(crate) fn remove(&self, session: &Arc<Session>, close: Option<(u16, &'static str)>) {
        let removed = {
            let mut s = self.write();
            let current = s.by_ssrc.get(&session.ssrc).is_some_and(|p| Arc::ptr_eq(p, session));
            if current {
                s.by_ssrc.remove(&session.ssrc);
                s.by_member.remove(&(session.guild, session.user));
                let channel = session.state().channel;
                if let Some(room) = s.rooms.get_mut(&channel) {
                    room.retain(|p| !Arc::ptr_eq(p, session));
                    if room.is_empty() {
                        s.rooms.remove(&channel);
                    }
                }
            }
            current
        };
        if let Some((code, reason)) = close {
            session.close(code, reason);
        }
        if removed {
            self.announce_leave(session);
        }
    }

    /// Moves a session to another room of its guild.
    pub(crate) fn move_to(&self, session: &Arc<Session>, channel: ChannelId) {
        let from = session.state().channel;
        if from == channel {
            return;
        }
        self.announce_leave(session);
        {
            let mut s = self.write();
            if let Some(room) = s.rooms.get_mut(&from) {
                room.retain(|p| !Arc::ptr_eq(p, session));
                if room.is_empty() {
                    s.rooms.remove(&from);
                }
            }
            session.state().channel = channel;
            s.rooms.entry(channel).or_default().push(session.clone());
        }
        self.announce_join(session);
    }

    /// Every session in `guild` (for a deleted guild) or `channel`.
    pub(crate) fn matching(&self, pred: impl Fn(&Session, ChannelId) -> bool) -> Vec<Arc<Session>> {
        let s = self.read();
        s.by_ssrc.values().filter(|p| pred(p, p.state().channel)).cloned().collect()
    }

    pub(crate) fn all(&self) -> Vec<Arc<Session>> {
        self.read().by_ssrc.values().cloned().collect()
    }
}
