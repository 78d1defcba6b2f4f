//! One WebSocket connection: HELLO, IDENTIFY or RESUME, heartbeats, the
//! client's requests, and writing dispatches from the session's queue.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use events::intents;
use model::gateway::{GuildMembersChunk, Ready, ReadyApplication, UnavailableGuild};
use store::{GuildId, UserRow};

use crate::compress::{Compressor, Transport};
use crate::hub::{custom_status_activity, presence_payload, Admission, Hub, Room, Starting, UserPresence};
use crate::protocol::{close, op, Identify, Incoming, PresenceUpdate, RequestGuildMembers, Resume, VoiceStateRequest};
use crate::session::{Detached, Frame, Outlet, ResumeError, Session};
use crate::Socket;

/// Client events allowed per window, and the window.
const RATE_LIMIT: usize = 120;
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Frames written with one flush at most.
const WRITE_BATCH: usize = 64;
/// The write buffer's capacity kept between writes: enough for a typical
/// dispatch, so a connection at a steady rate does not allocate per frame,
/// and not the size of the largest frame it was ever sent (READY, a
/// GUILD_CREATE), which an idle connection would otherwise hold for life.
const OUT_KEEP: usize = 1024;
/// Largest payload a client may send.
const MAX_PAYLOAD: usize = 4096;
/// Application flags that allow the privileged intents (the full flag or
/// its "limited" variant for unverified apps).
const FLAG_PRESENCE: u64 = (1 << 12) | (1 << 13);
const FLAG_GUILD_MEMBERS: u64 = (1 << 14) | (1 << 15);
const FLAG_MESSAGE_CONTENT: u64 = (1 << 18) | (1 << 19);

/// What READY carries for a person only; bots get it empty.
#[derive(Default)]
struct PersonalState {
    relationships: Vec<Value>,
    read_state: Option<Value>,
    settings: Option<store::SettingsRow>,
    private_channels: Vec<model::channel::Channel>,
    /// Whose presences READY lists: friends, who may share no guild.
    friends: Vec<store::UserId>,
}

const OPCODE_TEXT: u8 = 0x1;
const OPCODE_BINARY: u8 = 0x2;

/// Appends one unfragmented, unmasked WebSocket frame (RFC 6455 §5.2, as
/// a server sends them) carrying `parts` one after the other.
fn ws_frame(out: &mut Vec<u8>, opcode: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.reserve(len + 10);
    out.push(0x80 | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// What the connection URL asked for.
#[derive(Debug, Clone)]
pub struct ConnParams {
    /// READY's `resume_gateway_url`.
    pub public_url: String,
    pub transport: Transport,
    pub version_ok: bool,
    /// `None`: an encoding we do not speak.
    pub encoding: Option<Encoding>,
}

/// How payloads are written (`encoding=`): JSON, or Erlang's External Term
/// Format. Clients may send JSON in text or binary frames; ETF always comes
/// in binary frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Etf,
}

/// How a handler wants the connection to go on.
enum Flow {
    Continue,
    Close(u16, &'static str),
    /// The peer is gone or too slow to write to: drop without a close frame.
    Drop,
}

struct Conn {
    hub: Arc<Hub>,
    ws: Socket,
    compressor: Compressor,
    encoding: Encoding,
    public_url: String,
    session: Option<Arc<Session>>,
    /// Our end of the session, from which we take its frames; `None`
    /// before identify/resume. When the session cuts us loose (too slow,
    /// or resumed elsewhere), taking fails and we close with 4000.
    outlet: Option<Outlet>,
    /// Frames may be waiting without a wake-up: after an attach, or a
    /// batch that stopped at `WRITE_BATCH`.
    more: bool,
    last_beat: Instant,
    requested_beat: bool,
    recent: VecDeque<Instant>,
    /// A connection that has neither identified nor resumed by then is closed.
    identify_by: Instant,
    /// Where each dispatch's head (`{"op":0,"s":…,"t":"…","d":`) is
    /// written: one buffer for all of them, not one allocation per frame.
    head: Vec<u8>,
    /// Where frames are written before they go to the socket in one write
    /// (see [`ws_frame`]).
    out: Vec<u8>,
}

/// Serves one upgraded socket. `admission` holds its place under the
/// gateway's connection caps, and `http_slot` its place under
/// `http.max_connections`, until it ends.
///
/// The connection is built before the future that serves it: an async
/// fn's arguments stay in its future beside what they are moved into, and
/// this future lives, on the heap, as long as the connection (the socket
/// alone would be there twice).
pub fn run<S: Send + 'static>(
    hub: Arc<Hub>,
    ws: Socket,
    params: ConnParams,
    admission: Admission,
    http_slot: S,
) -> impl std::future::Future<Output = ()> + Send {
    hub.connection_opened();
    let refusal = if !params.version_ok {
        Some(Flow::Close(close::INVALID_API_VERSION, "Invalid API version"))
    } else if params.encoding.is_none() {
        Some(Flow::Close(close::DECODE_ERROR, "Unsupported encoding: use json or etf"))
    } else {
        None
    };
    let mut conn = Conn {
        hub: hub.clone(),
        ws,
        compressor: Compressor::stored(params.transport),
        encoding: params.encoding.unwrap_or(Encoding::Json),
        public_url: params.public_url.clone(),
        session: None,
        outlet: None,
        more: false,
        last_beat: Instant::now(),
        requested_beat: false,
        recent: VecDeque::new(),
        identify_by: Instant::now() + Duration::from_millis(hub.config.identify_timeout_ms),
        head: Vec::with_capacity(64),
        out: Vec::new(),
    };
    async move {
        let _held = (admission, http_slot);
        let flow = match refusal {
            Some(flow) => flow,
            None => conn.serve().await,
        };
        if let Flow::Close(code, reason) = flow {
            let frame = CloseFrame { code: code.into(), reason: Utf8Bytes::from_static(reason) };
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.ws.send(Message::Close(Some(frame)))).await;
        }
        if let (Some(session), Some(outlet)) = (&conn.session, &conn.outlet) {
            session.detach(outlet);
        }
        conn.hub.connection_closed();
    }
}

/// Completes when frames may be waiting for the connection.
async fn frames_ready(outlet: &Option<Outlet>, more: bool) {
    match outlet {
        Some(_) if more => {}
        Some(outlet) => outlet.ready().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.hub.config.heartbeat_interval_ms)
    }

    /// When the timer must next wake the connection: to ask for a beat
    /// once the interval has passed, to give up on the client at one and a
    /// half intervals, or to close an unidentified socket.
    fn next_deadline(&self) -> Instant {
        let beat = self.heartbeat();
        let mut next = self.last_beat + beat + beat / 2;
        if !self.requested_beat {
            next = next.min(self.last_beat + beat + beat / 10);
        }
        if self.session.is_none() {
            next = next.min(self.identify_by);
        }
        next
    }

    /// What the timer's deadline means, now that it has passed.
    async fn on_timer(&mut self) -> Flow {
        let now = Instant::now();
        let beat = self.heartbeat();
        if !self.requested_beat && now >= self.last_beat + beat + beat / 10 {
            self.requested_beat = true;
            return self.send_json(&json!({ "op": op::HEARTBEAT, "d": null })).await;
        }
        if now >= self.last_beat + beat + beat / 2 {
            return Flow::Close(close::SESSION_TIMED_OUT, "Heartbeat timed out");
        }
        // Heartbeats alone do not keep an unidentified socket.
        if self.session.is_none() && now >= self.identify_by {
            return Flow::Close(close::NOT_AUTHENTICATED, "Not authenticated: no IDENTIFY or RESUME in time.");
        }
        Flow::Continue
    }

    async fn serve(&mut self) -> Flow {
        let hello = json!({ "op": op::HELLO, "d": { "heartbeat_interval": self.hub.config.heartbeat_interval_ms } });
        let sent = self.send_json(&hello).await;
        // Dropped now: a local lives until the function returns, here the
        // whole life of the connection (two JSON objects, ~1.2 KiB per
        // idle session).
        drop(hello);
        if let f @ (Flow::Close(..) | Flow::Drop) = sent {
            return f;
        }
        let mut closing = self.hub.closing.subscribe();
        if *closing.borrow_and_update() {
            return self.reconnect().await;
        }
        // What the loop waits on besides the queue and the socket lives
        // across its turns: one timer, moved only when its deadline moves
        // (a heartbeat, IDENTIFY), and the shutdown and revocation signals,
        // registered once, not re-created and re-registered for each frame.
        let shutdown = async move {
            while closing.changed().await.is_ok() {
                if *closing.borrow() {
                    return;
                }
            }
        };
        tokio::pin!(shutdown);
        let timer = tokio::time::sleep_until(self.next_deadline());
        tokio::pin!(timer);
        let mut revoked: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
            Box::pin(std::future::pending());
        let mut watching_revocation = false;
        loop {
            if let (false, Some(session)) = (watching_revocation, &self.session) {
                let session = session.clone();
                revoked = Box::pin(async move { session.revoked().await });
                watching_revocation = true;
            }
            let next = self.next_deadline();
            if timer.deadline() != next {
                timer.as_mut().reset(next);
            }
            // Only the frames' handler, the hot one, is kept inline: the
            // others (a client's message, the timer, shutdown) come every
            // tens of seconds, and boxed, their state is not part of every
            // idle connection's task (~500 bytes less each).
            let flow = tokio::select! {
                biased;
                () = &mut shutdown => return Box::pin(self.reconnect()).await,
                () = &mut revoked => Flow::Close(close::AUTHENTICATION_FAILED, "Authentication failed."),
                () = frames_ready(&self.outlet, self.more) => self.send_frames().await,
                msg = self.ws.next() => match msg {
                    // Discord takes JSON in text and binary frames alike.
                    Some(Ok(Message::Text(text))) if self.encoding == Encoding::Json => Box::pin(self.receive(text.as_bytes())).await,
                    Some(Ok(Message::Text(_))) => Flow::Close(close::DECODE_ERROR, "ETF payloads come in binary frames"),
                    Some(Ok(Message::Binary(bytes))) => Box::pin(self.receive(&bytes)).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Flow::Continue,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Flow::Drop,
                },
                () = &mut timer => Box::pin(self.on_timer()).await,
            };
            match flow {
                Flow::Continue => {}
                other => return other,
            }
        }
    }

    /// Op 7, then a short wait for the client to hang up by itself.
    async fn reconnect(&mut self) -> Flow {
        if let f @ (Flow::Close(..) | Flow::Drop) = self.send_json(&json!({ "op": op::RECONNECT, "d": null })).await {
            return f;
        }
        let wait = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(2), wait).await {
            Ok(()) => Flow::Drop,
            Err(_) => Flow::Close(close::UNKNOWN_ERROR, "Server restarting; reconnect and resume"),
        }
    }

    async fn send_json(&mut self, value: &Value) -> Flow {
        let bytes = serde_json::to_vec(value).expect("JSON values serialise");
        self.send_parts(&[&bytes]).await
    }

    /// Appends one dispatch to `out`: its head written into the
    /// connection's head buffer, then the shared payload, then the tail.
    fn encode_frame(&mut self, frame: &Frame, out: &mut Vec<u8>) -> bool {
        let mut head = std::mem::take(&mut self.head);
        frame.write_head(&mut head);
        let encoded = self.encode(&[&head, &frame.data, Frame::TAIL], out);
        self.head = head;
        encoded
    }

    async fn send_parts(&mut self, parts: &[&[u8]]) -> Flow {
        let mut out = std::mem::take(&mut self.out);
        if !self.encode(parts, &mut out) {
            return Flow::Drop;
        }
        let deadline = Instant::now() + Duration::from_millis(self.hub.config.send_timeout_ms);
        self.write_out(out, deadline).await
    }

    /// Writes the frames waiting for us (up to `WRITE_BATCH`) in one write:
    /// a burst costs one system call and one timer, not one per frame.
    async fn send_frames(&mut self) -> Flow {
        let deadline = Instant::now() + Duration::from_millis(self.hub.config.send_timeout_ms);
        self.more = false;
        let mut out = std::mem::take(&mut self.out);
        let mut written = 0;
        while written < WRITE_BATCH {
            let next = match (&self.session, &self.outlet) {
                (Some(session), Some(outlet)) => session.take(outlet),
                _ => Ok(None),
            };
            let frame = match next {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                // The session cut us loose: we were too slow, or a resume
                // elsewhere took the session over.
                Err(Detached) => {
                    return Flow::Close(close::UNKNOWN_ERROR, "Session moved or connection too slow; resume")
                }
            };
            if !self.encode_frame(&frame, &mut out) {
                return Flow::Drop;
            }
            written += 1;
        }
        if written == 0 {
            self.out = out;
            return Flow::Continue;
        }
        self.more = written == WRITE_BATCH;
        self.write_out(out, deadline).await
    }

    /// Writes `out`, whole WebSocket frames, to the socket: after whatever
    /// tungstenite has queued itself (a pong, a close reply), so frames
    /// never interleave. Keeps the buffer only while it is small or more
    /// frames are waiting.
    async fn write_out(&mut self, mut out: Vec<u8>, deadline: Instant) -> Flow {
        let written = tokio::time::timeout_at(deadline, async {
            self.ws.flush().await.map_err(std::io::Error::other)?;
            self.ws.get_mut().write_all(&out).await
        })
        .await;
        if out.capacity() > OUT_KEEP && !self.more {
            out = Vec::new();
        }
        out.clear();
        self.out = out;
        match written {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Drop,
        }
    }

    /// Appends one payload to `out` as the client asked for it: JSON or
    /// ETF, compressed or not, in one WebSocket frame; false if it cannot
    /// be encoded. JSON goes in a text frame: payloads are serde_json's
    /// output and heads are ASCII, so they are UTF-8 without checking.
    fn encode(&mut self, parts: &[&[u8]], out: &mut Vec<u8>) -> bool {
        let etf;
        let parts = match self.encoding {
            Encoding::Json => parts,
            Encoding::Etf => {
                // Payloads are JSON (shared by every session); an ETF
                // client gets its own translation of each.
                let Ok(value) = serde_json::from_slice::<Value>(&parts.concat()) else { return false };
                etf = crate::etf::encode(&value);
                &[&etf[..]][..]
            }
        };
        match self.compressor.compress(parts) {
            Ok(None) if self.encoding == Encoding::Etf => ws_frame(out, OPCODE_BINARY, parts),
            Ok(None) => ws_frame(out, OPCODE_TEXT, parts),
            Ok(Some(compressed)) => ws_frame(out, OPCODE_BINARY, &[&compressed]),
            Err(_) => return false,
        }
        true
    }

    /// Counts a client event against the rate limit.
    fn over_rate_limit(&mut self) -> bool {
        let now = Instant::now();
        while self.recent.front().is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW) {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        self.recent.len() > RATE_LIMIT
    }

    async fn receive(&mut self, text: &[u8]) -> Flow {
        if text.len() > MAX_PAYLOAD {
            return Flow::Close(close::DECODE_ERROR, "Payload too large");
        }
        if self.over_rate_limit() {
            return Flow::Close(close::RATE_LIMITED, "You are being rate limited.");
        }
        let decoded = match self.encoding {
            Encoding::Json => serde_json::from_slice::<Incoming>(text).ok(),
            Encoding::Etf => crate::etf::decode(text).ok().and_then(|v| serde_json::from_value::<Incoming>(v).ok()),
        };
        let Some(msg) = decoded else {
            return Flow::Close(close::DECODE_ERROR, "Error while decoding payload.");
        };
        // The larger handlers are boxed: a task is as large as the largest
        // state it may await in, and an idle connection should not carry
        // IDENTIFY's for its whole life.
        match msg.op {
            op::HEARTBEAT => {
                self.last_beat = Instant::now();
                self.requested_beat = false;
                // `d` is the last sequence number the client received.
                if let (Some(session), Some(seq)) = (&self.session, msg.d.as_u64()) {
                    session.acknowledge(seq);
                }
                self.send_json(&json!({ "op": op::HEARTBEAT_ACK, "d": null })).await
            }
            op::IDENTIFY => match parse::<Identify>(msg.d) {
                Some(identify) => Box::pin(self.identify(identify)).await,
                None => Flow::Close(close::DECODE_ERROR, "Invalid IDENTIFY payload."),
            },
            op::RESUME => match parse::<Resume>(msg.d) {
                Some(resume) => Box::pin(self.resume(resume)).await,
                None => Flow::Close(close::DECODE_ERROR, "Invalid RESUME payload."),
            },
            op::PRESENCE_UPDATE | op::REQUEST_GUILD_MEMBERS | op::VOICE_STATE_UPDATE if self.session.is_none() => {
                Flow::Close(close::NOT_AUTHENTICATED, "Not authenticated.")
            }
            op::PRESENCE_UPDATE => match parse::<PresenceUpdate>(msg.d) {
                Some(p) => self.presence(p),
                None => Flow::Close(close::DECODE_ERROR, "Invalid PRESENCE_UPDATE payload."),
            },
            op::REQUEST_GUILD_MEMBERS => match parse::<RequestGuildMembers>(msg.d) {
                Some(r) => Box::pin(self.request_members(r)).await,
                None => Flow::Close(close::DECODE_ERROR, "Invalid REQUEST_GUILD_MEMBERS payload."),
            },
            op::VOICE_STATE_UPDATE => match parse::<VoiceStateRequest>(msg.d) {
                Some(v) => Box::pin(self.voice_state(v)).await,
                None => Flow::Close(close::DECODE_ERROR, "Invalid VOICE_STATE_UPDATE payload."),
            },
            _ => Flow::Close(close::UNKNOWN_OPCODE, "Unknown opcode."),
        }
    }

    /// Op 4: the domain joins, moves or leaves voice for this session and
    /// announces it (VOICE_STATE_UPDATE to the guild, VOICE_SERVER_UPDATE to
    /// the user). A refused request changes nothing and, as on Discord,
    /// answers nothing.
    async fn voice_state(&mut self, v: VoiceStateRequest) -> Flow {
        let Some(session) = self.session.clone() else { return Flow::Continue };
        let Some(domain) = self.hub.domain() else { return Flow::Continue };
        if !session.guilds().contains(&v.guild_id) {
            return Flow::Continue;
        }
        let user = match domain.store.user(session.user).await {
            Ok(Some(u)) => u,
            _ => return Flow::Continue,
        };
        let request = domain::voice::Request {
            guild_id: v.guild_id,
            channel_id: v.channel_id,
            self_mute: v.self_mute,
            self_deaf: v.self_deaf,
            self_video: v.self_video,
            self_stream: v.self_stream,
        };
        if let Err(e) = domain::voice::update(&domain, &user, &session.id, request).await {
            tracing::debug!(code = e.code, "gateway: a voice state update was refused");
        }
        Flow::Continue
    }

    /// The user a token belongs to. Takes the hub rather than `&self`: a
    /// `&Conn` held across an await would make the future not `Send`.
    /// Also returns the token's stored hash, by which revocations name it.
    async fn authenticate(hub: &Hub, token: &str) -> Option<(UserRow, String)> {
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        if token.is_empty() || token.len() > 256 {
            return None;
        }
        let hash = auth::hash_token(token);
        let user = hub.store.user_by_token(&hash).await.ok().flatten()?;
        Some((user, hash))
    }

    async fn identify(&mut self, identify: Identify) -> Flow {
        if self.session.is_some() {
            return Flow::Close(close::ALREADY_AUTHENTICATED, "You sent more than one identify payload.");
        }
        let Some((user, token_hash)) = Self::authenticate(&self.hub.clone(), &identify.token).await else {
            return Flow::Close(close::AUTHENTICATION_FAILED, "Authentication failed.");
        };
        let intents = match identify.intents {
            Some(bits) if bits & !intents::ALL != 0 => {
                return Flow::Close(close::INVALID_INTENTS, "Invalid intent(s).")
            }
            Some(bits) => bits,
            None if user.bot => return Flow::Close(close::INVALID_INTENTS, "Bots must send intents."),
            // People's clients send no intents and receive everything.
            None => intents::ALL,
        };
        if user.bot && intents & intents::PRIVILEGED != 0 {
            let flags = match self.hub.store.application(user.id).await {
                Ok(app) => app.map_or(0, |a| a.flags),
                Err(_) => return Flow::Drop,
            };
            let allowed = [
                (intents::GUILD_PRESENCES, FLAG_PRESENCE),
                (intents::GUILD_MEMBERS, FLAG_GUILD_MEMBERS),
                (intents::MESSAGE_CONTENT, FLAG_MESSAGE_CONTENT),
            ]
            .iter()
            .all(|(intent, flag)| intents & intent == 0 || flags & flag != 0);
            if !allowed {
                return Flow::Close(close::DISALLOWED_INTENTS, "Disallowed intent(s).");
            }
        }
        let shard = match identify.shard {
            None => (0, 1),
            Some([id, n]) if n >= 1 && id < n && n <= 4096 => (id, n),
            Some(_) => return Flow::Close(close::INVALID_SHARD, "Invalid shard."),
        };
        // Held until the session is registered, so concurrent IDENTIFYs
        // cannot all pass the session cap.
        let starting = match self.session_start(&user, shard).await {
            Ok(starting) => starting,
            Err(flow) => return flow,
        };
        if self.compressor.start(identify.compress).is_err() {
            return Flow::Drop;
        }
        let guild_rows = match self.hub.store.guilds_of(user.id).await {
            Ok(g) => g,
            Err(_) => return Flow::Drop,
        };
        let all_guilds: HashSet<GuildId> = guild_rows.iter().map(|g| g.id).collect();
        // What decides which of the guilds' events this session may see:
        // read once per guild new to this node, not per event.
        let ids: Vec<GuildId> = all_guilds.iter().copied().collect();
        if let Err(e) = self.hub.load_views(user.id, &ids).await {
            tracing::warn!(error = %e, "gateway: could not read the permissions of a session's guilds");
            return Flow::Drop;
        }
        let session_id = auth::random_hex(16);
        let session = Arc::new(Session::new(
            session_id.clone(),
            user.id,
            user.bot,
            intents,
            shard,
            all_guilds,
            self.hub.config.resume_buffer,
            token_hash,
        ));
        self.hub.track(&session, self.hub.position());
        let probe = |g: GuildId| session.on_shard(Some(g));
        let mine: Vec<_> = guild_rows.iter().filter(|g| probe(g.id)).collect();

        let PersonalState { relationships, read_state, settings, private_channels, friends } =
            match Self::personal_state(&self.hub.clone(), &user).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "gateway: could not load a person's own state for READY");
                    PersonalState::default()
                }
            };
        let now = model::Timestamp::now().unix_ms();
        // READY and the GUILD_CREATEs are the session's first dispatches,
        // queued before it is registered so nothing can come between them.
        let ready = Ready {
            v: 10,
            user: domain::render::current_user(&user),
            guilds: mine.iter().map(|g| UnavailableGuild { id: g.id, unavailable: true }).collect(),
            session_id: session_id.clone(),
            resume_gateway_url: self.public_url.clone(),
            shard: identify.shard.map(|_| [shard.0, shard.1]),
            application: user.bot.then(|| ReadyApplication { id: user.id.cast(), flags: 0 }),
            private_channels,
            relationships,
            read_state,
            presences: self
                .hub
                .presences(friends.iter().copied(), None)
                .into_iter()
                .map(|p| serde_json::to_value(p).expect("presences serialise"))
                .collect(),
            guild_join_requests: Vec::new(),
            user_settings: settings
                .as_ref()
                .map(|s| serde_json::to_value(domain::render::user_settings(s, now)).expect("settings serialise"))
                .unwrap_or_else(|| json!({})),
            session_type: "normal".into(),
        };
        let threshold = identify.large_threshold.unwrap_or(self.hub.config.large_threshold).clamp(50, 250);
        // Online first, so the user's own presence is in the guild snapshots.
        // The presence IDENTIFY gives wins (bots set theirs so); a person's
        // client that sends none gets their saved status and custom status.
        let presence = match (identify.presence.as_ref(), &settings) {
            (Some(p), _) => user_presence(p),
            (None, Some(saved)) => Some(UserPresence {
                status: saved.status.clone(),
                activities: domain::render::live_custom_status(saved, now)
                    .map(|c| {
                        custom_status_activity(&events::CustomActivity {
                            text: c.text.clone(),
                            emoji_name: c.emoji_name.clone(),
                        })
                    })
                    .into_iter()
                    .collect(),
            }),
            (None, None) => None,
        }
        .unwrap_or(UserPresence { status: "online".into(), activities: Vec::new() });
        self.hub.set_friends(user.id, friends.iter().copied());
        self.hub.set_presence(user.id, presence, &session.guilds());
        self.hub.deliver(&session, "READY", exact(serde_json::to_vec(&ready).expect("READY serialises")));
        if intents & intents::GUILDS != 0 {
            for g in &mine {
                let mut snapshot =
                    match domain::render::guild_snapshot(self.hub.store.as_ref(), g, user.id, threshold).await {
                        Ok(s) => s,
                        Err(_) => return Flow::Drop,
                    };
                if let Some(domain) = self.hub.domain() {
                    snapshot.voice_states = domain::voice::guild_states(&domain, g.id);
                }
                if intents & intents::GUILD_PRESENCES != 0 {
                    let members = snapshot.members.iter().filter_map(|m| m.user.as_ref().map(|u| u.id));
                    snapshot.presences = self.hub.presences(members, Some(g.id));
                }
                self.hub.deliver(
                    &session,
                    "GUILD_CREATE",
                    exact(serde_json::to_vec(&snapshot).expect("GUILD_CREATE serialises")),
                );
            }
        }
        if let f @ (Flow::Close(..) | Flow::Drop) = self.attach(session.clone(), None).await {
            return f;
        }
        self.hub.register(session.clone());
        // Counted as a session now, no longer as one starting.
        drop(starting);
        // A revocation while the session was being built found nothing
        // registered to close: look again now that it would.
        self.still_valid(&session).await
    }

    /// A person's friends, blocks and pending requests, read states and
    /// settings, for READY; bots have none of them. (Takes the hub, not `&self`: see
    /// `authenticate`.)
    async fn personal_state(hub: &Hub, user: &UserRow) -> Result<PersonalState, store::StoreError> {
        if user.bot {
            return Ok(PersonalState::default());
        }
        let rows = hub.store.relationships(user.id).await?;
        let ids: Vec<_> = rows.iter().map(|r| r.other_id).collect();
        let users = hub.store.users(&ids).await?;
        let relationships = rows
            .iter()
            .filter_map(|r| users.iter().find(|u| u.id == r.other_id).map(|u| domain::render::relationship(r, u)))
            .map(|r| serde_json::to_value(r).expect("relationships serialise"))
            .collect();
        let read_states = hub.store.read_states(user.id).await?;
        let read_states = domain::access::visible_read_states(hub.store.as_ref(), user.id, read_states).await?;
        let settings = hub.store.settings(user.id).await?;
        Ok(PersonalState {
            relationships,
            read_state: Some(domain::render::read_states(&read_states)),
            settings: Some(settings),
            private_channels: domain::render::private_channels(hub.store.as_ref(), user.id).await?,
            friends: rows.iter().filter(|r| r.kind == store::relationship_kind::FRIEND).map(|r| r.other_id).collect(),
        })
    }

    /// Closes with 4004 if the session's token was revoked meanwhile.
    async fn still_valid(&mut self, session: &Session) -> Flow {
        let hash = session.token_hash();
        match self.hub.store.user_by_token(&hash).await {
            Ok(Some(_)) => Flow::Continue,
            Ok(None) => Flow::Close(close::AUTHENTICATION_FAILED, "Authentication failed."),
            Err(e) => {
                tracing::warn!(error = %e, "gateway: could not recheck a token");
                Flow::Continue
            }
        }
    }

    /// Connects this socket to a session: it is sent the frames after
    /// `resume_from`'s sequence (all of them for a new session) first.
    async fn attach(&mut self, session: Arc<Session>, resume_from: Option<Option<u64>>) -> Flow {
        let max_queue = self.hub.config.max_queue;
        let outlet = match resume_from {
            None => session.attach(Some(0), max_queue).expect("a new session attaches from 0"),
            Some(seq) => match session.attach(seq, max_queue) {
                Ok(outlet) => outlet,
                Err(ResumeError::TooOld) => return self.invalid_session().await,
                Err(ResumeError::Future) => return Flow::Close(close::INVALID_SEQ, "Invalid sequence."),
            },
        };
        self.session = Some(session);
        self.outlet = Some(outlet);
        self.more = true;
        Flow::Continue
    }

    /// Discord's limits on starting sessions, checked before any work is
    /// done for the IDENTIFY: the account's cap on sessions (its oldest
    /// detached one makes room), `max_concurrency` IDENTIFYs per 5 s per
    /// rate-limit key for bots (over it: op 9, and the client identifies
    /// again later, as Discord documents), and the daily `total` (spent: 4004,
    /// which libraries do not retry, as when Discord resets an exhausted
    /// token; the server resets nothing).
    async fn session_start(&mut self, user: &UserRow, shard: (u64, u64)) -> Result<Starting, Flow> {
        let hub = self.hub.clone();
        let starting = match hub.make_room(user.id) {
            Room::Made(starting) => starting,
            Room::Full => return Err(Flow::Close(close::RATE_LIMITED, "Too many sessions for this account.")),
        };
        let limits = hub.session_start_limits();
        if user.bot {
            let key = limits.concurrency_key(user.id, shard.0);
            match hub.limiter.hit(&key, limits.concurrency_quota()).await {
                Ok(d) if !d.allowed => return Err(self.invalid_session().await),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "gateway: identify concurrency not counted"),
            }
        }
        match hub.limiter.hit(&limits.daily_key(user.id), limits.daily_quota()).await {
            Ok(d) if !d.allowed => {
                Err(Flow::Close(close::AUTHENTICATION_FAILED, "Session start limit reached; see GET /gateway/bot."))
            }
            Ok(_) => Ok(starting),
            Err(e) => {
                tracing::warn!(error = %e, "gateway: session start not counted");
                Ok(starting)
            }
        }
    }

    async fn invalid_session(&mut self) -> Flow {
        self.send_json(&json!({ "op": op::INVALID_SESSION, "d": false })).await
    }

    async fn resume(&mut self, resume: Resume) -> Flow {
        if self.session.is_some() {
            return Flow::Close(close::ALREADY_AUTHENTICATED, "Already authenticated.");
        }
        let Some((user, token_hash)) = Self::authenticate(&self.hub.clone(), &resume.token).await else {
            return Flow::Close(close::AUTHENTICATION_FAILED, "Authentication failed.");
        };
        let session = match self.hub.session(&resume.session_id) {
            Some(s) if s.user == user.id => s,
            Some(_) => return self.invalid_session().await,
            // Held by another node of the cluster, which may have died.
            None => match self.hub.adopt(&resume.session_id, user.id, token_hash.clone()).await {
                Some(s) => s,
                None => return self.invalid_session().await,
            },
        };
        if self.compressor.start(false).is_err() {
            return Flow::Drop;
        }
        session.set_token_hash(token_hash);
        match self.attach(session.clone(), Some(resume.seq)).await {
            Flow::Continue if self.session.is_some() => {
                if let f @ Flow::Close(..) = self.still_valid(&session).await {
                    return f;
                }
                self.hub.deliver(&session, "RESUMED", Bytes::from_static(b"{}"));
                Flow::Continue
            }
            other => other,
        }
    }

    fn presence(&mut self, update: PresenceUpdate) -> Flow {
        let Some(presence) = user_presence(&update) else {
            return Flow::Close(close::DECODE_ERROR, "Invalid status.");
        };
        let session = self.session.clone().expect("checked before");
        self.hub.set_presence(session.user, presence, &session.guilds());
        Flow::Continue
    }

    async fn request_members(&mut self, req: RequestGuildMembers) -> Flow {
        let session = self.session.clone().expect("checked before");
        if !session.has_guild(req.guild_id) {
            return Flow::Continue;
        }
        let listing_all = req.user_ids.is_none() && req.query.as_deref().unwrap_or("").is_empty();
        if session.bot && listing_all && session.intents & intents::GUILD_MEMBERS == 0 {
            return Flow::Close(close::DISALLOWED_INTENTS, "Listing every member needs the GUILD_MEMBERS intent.");
        }
        if req.presences && session.bot && session.intents & intents::GUILD_PRESENCES == 0 {
            return Flow::Close(close::DISALLOWED_INTENTS, "Presences need the GUILD_PRESENCES intent.");
        }
        let store = self.hub.store.clone();
        let mut rows = Vec::new();
        let mut not_found = Vec::new();
        let result: Result<(), store::StoreError> = async {
            if let Some(ids) = req.user_ids {
                for id in ids.into_vec().into_iter().take(100) {
                    match store.member(req.guild_id, id).await? {
                        Some(m) => rows.push(m),
                        None => not_found.push(id),
                    }
                }
            } else {
                let query = req.query.unwrap_or_default().to_lowercase();
                let limit = match req.limit.unwrap_or(0) {
                    0 if query.is_empty() => usize::MAX,
                    0 => 100,
                    n => n.min(100) as usize,
                };
                let mut after = None;
                loop {
                    let page = store.members(req.guild_id, after, 1000).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.user_id);
                    let users = store.users(&page.iter().map(|m| m.user_id).collect::<Vec<_>>()).await?;
                    for m in page {
                        let matches = query.is_empty()
                            || m.nick.as_deref().is_some_and(|n| n.to_lowercase().starts_with(&query))
                            || users.iter().any(|u| {
                                u.id == m.user_id
                                    && (u.username.starts_with(&query)
                                        || u.global_name
                                            .as_deref()
                                            .is_some_and(|g| g.to_lowercase().starts_with(&query)))
                            });
                        if matches && rows.len() < limit {
                            rows.push(m);
                        }
                    }
                    if rows.len() >= limit {
                        break;
                    }
                }
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            return Flow::Drop;
        }
        let users = match store.users(&rows.iter().map(|m| m.user_id).collect::<Vec<_>>()).await {
            Ok(u) => u,
            Err(_) => return Flow::Drop,
        };
        let members: Vec<_> = rows
            .iter()
            .filter_map(|m| users.iter().find(|u| u.id == m.user_id).map(|u| domain::render::member(m, Some(u))))
            .collect();
        let chunks: Vec<_> =
            if members.is_empty() { vec![Vec::new()] } else { members.chunks(1000).map(<[_]>::to_vec).collect() };
        let count = chunks.len() as u32;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let presences = req.presences.then(|| {
                chunk
                    .iter()
                    .filter_map(|m| m.user.as_ref())
                    .filter_map(|u| self.hub.presence_of(u.id).map(|p| presence_payload(u.id, Some(req.guild_id), &p)))
                    .collect()
            });
            let payload = GuildMembersChunk {
                guild_id: req.guild_id,
                members: chunk,
                chunk_index: i as u32,
                chunk_count: count,
                not_found: if i == 0 { std::mem::take(&mut not_found) } else { Vec::new() },
                presences,
                nonce: req.nonce.clone(),
            };
            self.hub.deliver(
                &session,
                "GUILD_MEMBERS_CHUNK",
                exact(serde_json::to_vec(&payload).expect("chunk serialises")),
            );
        }
        Flow::Continue
    }
}

/// A payload only this session gets, without the spare capacity its
/// serialisation grew: it stays in the resume buffer for the session's life.
pub(crate) fn exact(payload: Vec<u8>) -> Bytes {
    Bytes::from(payload.into_boxed_slice())
}

fn parse<T: DeserializeOwned>(d: Value) -> Option<T> {
    serde_json::from_value(d).ok()
}

fn user_presence(update: &PresenceUpdate) -> Option<UserPresence> {
    matches!(update.status.as_str(), "online" | "idle" | "dnd" | "invisible" | "offline").then(|| UserPresence {
        status: if update.status == "offline" { "invisible".into() } else { update.status.clone() },
        activities: update.activities.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};

    use super::*;

    /// Frames of every length encoding (7-bit, 16-bit, 64-bit), read back by
    /// tungstenite as a client: each is one whole message with the parts
    /// in order.
    #[test]
    fn frames_are_read_back_by_a_websocket_client() {
        let mut out = Vec::new();
        let lengths = [0usize, 1, 125, 126, 127, 65_535, 65_536, 200_000];
        for &n in &lengths {
            let body = "x".repeat(n);
            let (a, b) = body.as_bytes().split_at(n / 2);
            ws_frame(&mut out, OPCODE_TEXT, &[a, b]);
        }
        ws_frame(&mut out, OPCODE_BINARY, &[&[1, 2, 3], &[4]]);
        let mut client = WebSocket::from_raw_socket(Cursor::new(out), Role::Client, None);
        for &n in &lengths {
            match client.read().expect("a message") {
                Message::Text(text) => assert_eq!(text.as_str(), "x".repeat(n)),
                other => panic!("a text message of {n} bytes, got {other:?}"),
            }
        }
        assert_eq!(client.read().expect("a message"), Message::Binary(Bytes::from_static(&[1, 2, 3, 4])));
    }
}
