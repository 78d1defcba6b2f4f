//! The voice gateway: one task per WebSocket connection (over TLS for
//! bots, or upgraded on the main HTTP port for the web client), speaking
//! voice gateway v8 in JSON, plus ops 40/41 for WebRTC renegotiation.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rand::RngCore;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::crypto::{Cipher, Mode, ReplayWindow, MODES};
use crate::state::{Admit, Control, Session, CONTROL_QUEUE};
use crate::Shared;

/// TLS and WebSocket handshakes must be done within this.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Largest client payload; a bigger one closes with 4002.
const MAX_PAYLOAD: usize = 4096;
/// Voice gateway connections open at once.
const MAX_CONNECTIONS: usize = 10_000;

pub(crate) async fn accept(shared: Arc<Shared>, tcp: TcpListener, tls: TlsAcceptor) {
    let mut stopped = shared.stopped.clone();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _peer) = tokio::select! {
            r = tcp.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "voice: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else { continue };
        let (shared, tls) = (shared.clone(), tls.clone());
        tokio::spawn(async move {
            connection(shared, tls, stream).await;
            drop(permit);
        });
    }
}

/// `/` with any query (`/?v=8`); voice clients dial nothing else.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn check_path(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() == "/" {
        Ok(resp)
    } else {
        let mut not_found = ErrorResponse::new(Some("not found".into()));
        *not_found.status_mut() = http_status_not_found();
        Err(not_found)
    }
}

fn http_status_not_found() -> tokio_tungstenite::tungstenite::http::StatusCode {
    tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND
}

fn ws_config() -> WebSocketConfig {
    // WebRTC offers and answers (ops 1 and 41) are a few kilobytes. A 4 KiB
    // read buffer, as the main gateway has: tungstenite's default (128 KiB,
    // zero-filled before reads) costs each voice connection about that much
    // resident memory (`fussioncord-bench voice`, docs/PERFORMANCE.md).
    WebSocketConfig::default().read_buffer_size(4096).max_message_size(Some(64 * 1024)).max_frame_size(Some(64 * 1024))
}

async fn connection(shared: Arc<Shared>, tls: TlsAcceptor, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE, tls.accept(stream)).await else { return };
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(stream, check_path, Some(ws_config()));
    let Ok(Ok(ws)) = tokio::time::timeout(HANDSHAKE, upgrade).await else { return };
    run(shared, ws).await;
}

/// A connection whose WebSocket handshake another listener answered.
pub(crate) async fn serve_upgraded<S: AsyncRead + AsyncWrite + Unpin + Send>(shared: Arc<Shared>, io: S) {
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config())).await;
    run(shared, ws).await;
}

async fn run<S: AsyncRead + AsyncWrite + Unpin + Send>(shared: Arc<Shared>, ws: WebSocketStream<S>) {
    let id = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    let mut conn = Conn { shared, id, tx, seq: 0, session: None, ws };
    conn.run(rx).await;
}

struct Conn<S> {
    shared: Arc<Shared>,
    id: u64,
    tx: mpsc::Sender<Control>,
    /// `seq` of the last frame sent (frames are numbered from 1).
    seq: u64,
    session: Option<Arc<Session>>,
    ws: WebSocketStream<S>,
}

/// How a connection ends.
enum End {
    /// The client went away: the session waits to be resumed.
    Dropped,
    /// We close it with this code, ending the session.
    Close(u16, &'static str),
}

type Refusal = (u16, &'static str);

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn<S> {
    async fn run(&mut self, mut rx: mpsc::Receiver<Control>) {
        let interval = self.shared.config.heartbeat_interval_ms.max(1);
        let silence = Duration::from_millis(interval * 3);
        let mut deadline = Instant::now() + silence;
        let mut stopped = self.shared.stopped.clone();
        let end = if self.frame(8, json!({ "v": 8, "heartbeat_interval": interval })).await.is_err() {
            End::Dropped
        } else {
            loop {
                tokio::select! {
                    msg = self.ws.next() => match msg {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break End::Dropped,
                        Some(Ok(Message::Text(t))) => match self.handle(t.as_bytes()).await {
                            Ok(beat) => if beat { deadline = Instant::now() + silence },
                            Err((code, reason)) => break End::Close(code, reason),
                        },
                        // Binary frames carry DAVE's opcodes (25–30), not
                        // spoken at protocol version 0.
                        Some(Ok(Message::Binary(_))) => if self.session.is_none() {
                            break End::Close(4003, "Not authenticated");
                        },
                        Some(Ok(_)) => {}
                    },
                    c = rx.recv() => match c {
                        Some(Control::Frame { op, d }) => if self.frame_raw(op, &d).await.is_err() { break End::Dropped },
                        Some(Control::Close(code, reason)) => {
                            // The registry ended the session already.
                            self.session = None;
                            break End::Close(code, reason);
                        }
                        None => break End::Dropped,
                    },
                    () = tokio::time::sleep_until(deadline) => break End::Close(4009, "Session timeout"),
                    _ = stopped.changed() => {
                        self.session = None;
                        break End::Close(4015, "Voice server stopping");
                    }
                }
            }
        };
        match end {
            End::Dropped => self.detach(),
            End::Close(code, reason) => {
                if let Some(s) = self.session.take() {
                    self.shared.registry.remove(&s, None);
                    self.shared.participants_changed();
                }
                let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(Some(frame))).await;
            }
        }
    }

    /// The connection dropped: its session may be resumed for a while.
    fn detach(&mut self) {
        let Some(session) = self.session.take() else { return };
        let generation = {
            let mut st = session.state();
            if st.conn.as_ref().is_none_or(|(id, _)| *id != self.id) {
                return;
            }
            st.conn = None;
            st.seq = st.seq.max(self.seq);
            st.detached += 1;
            st.detached
        };
        let shared = self.shared.clone();
        let window = Duration::from_millis(shared.config.resume_window_ms);
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            let expired = {
                let st = session.state();
                st.conn.is_none() && st.detached == generation
            };
            if expired {
                shared.registry.remove(&session, None);
                shared.participants_changed();
            }
        });
    }

    async fn frame(&mut self, op: u8, d: Value) -> Result<(), ()> {
        self.frame_raw(op, &d.to_string()).await
    }

    async fn frame_raw(&mut self, op: u8, d: &str) -> Result<(), ()> {
        self.seq += 1;
        let text = format!(r#"{{"op":{op},"d":{d},"seq":{}}}"#, self.seq);
        self.ws.send(Message::Text(text.into())).await.map_err(|_| ())
    }

    /// One client payload; `Ok(true)` for a heartbeat.
    async fn handle(&mut self, text: &[u8]) -> Result<bool, Refusal> {
        // A WebRTC offer or answer (ops 1, 41) is bigger than anything a
        // bot sends.
        let limit = if text.len() > MAX_PAYLOAD && is_sdp_op(text) { MAX_SDP } else { MAX_PAYLOAD };
        if text.len() > limit {
            return Err((4002, "Payload too large"));
        }
        let payload: Value = serde_json::from_slice(text).map_err(|_| (4002, "Failed to decode payload"))?;
        let op = payload.get("op").and_then(Value::as_u64).ok_or((4002, "Failed to decode payload"))?;
        let d = payload.get("d").unwrap_or(&Value::Null);
        // 0 IDENTIFY, 1 SELECT_PROTOCOL, 3 HEARTBEAT, 5 SPEAKING, 7 RESUME,
        // 12 video sources (undocumented), 21–31 DAVE, 41 WebRTC answer.
        let known = matches!(op, 0 | 1 | 3 | 5 | 7 | 12 | 21..=31 | 41);
        if !known {
            return Err((4001, "Unknown opcode"));
        }
        if op == 3 {
            // The echo is what v8 asks; older versions send the nonce bare.
            let t = d.get("t").map_or_else(|| d.clone(), |t| json!({ "t": t }));
            self.frame(6, t).await.map_err(|_| (4000, "write failed"))?;
            return Ok(true);
        }
        let Some(session) = self.session.clone() else {
            return match op {
                0 => self.identify(d).await.map(|_| false),
                7 => self.resume(d).await.map(|_| false),
                _ => Err((4003, "Not authenticated")),
            };
        };
        match op {
            0 | 7 => Err((4005, "Already authenticated")),
            1 => self.select_protocol(&session, d).await.map(|_| false),
            41 => {
                let sdp = d["sdp"].as_str().ok_or((4020, "Bad request"))?.to_owned();
                let revision = d["revision"].as_u64().ok_or((4020, "Bad request"))?;
                let answer = crate::webrtc::Command::Answer { ssrc: session.ssrc, revision, sdp };
                self.shared.webrtc.send(answer).await.map_err(|_| (4000, "voice server stopping"))?;
                Ok(false)
            }
            5 => {
                let flags = match d.get("speaking") {
                    Some(Value::Bool(b)) => u32::from(*b),
                    Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or((4020, "Bad request"))?,
                    None => return Err((4020, "Bad request")),
                };
                session.state().speaking = flags;
                let relay = json!({ "user_id": session.user.to_string(), "ssrc": session.ssrc, "speaking": flags });
                for p in self.shared.registry.others(&session) {
                    p.send(5, &relay);
                }
                Ok(false)
            }
            // DAVE transitions and video sources: nothing to do without
            // DAVE or video (the seam for both).
            _ => Ok(false),
        }
    }

    async fn identify(&mut self, d: &Value) -> Result<(), Refusal> {
        const BAD: Refusal = (4002, "Failed to decode payload");
        let guild = id(&d["server_id"]).ok_or(BAD)?;
        let user = id(&d["user_id"]).ok_or(BAD)?;
        let session_id = d["session_id"].as_str().ok_or(BAD)?;
        let token = d["token"].as_str().ok_or(BAD)?;
        let p = self
            .shared
            .voice
            .admit(model::Id::new(guild), model::Id::new(user), session_id, token)
            .await
            .ok_or((4004, "Authentication failed"))?;
        let admit = Admit {
            guild: p.guild_id,
            user: p.user_id,
            session_id: p.session_id,
            token: p.token,
            channel: p.channel_id,
            may_speak: p.may_speak,
            may_stream: p.may_stream,
            deaf: p.deaf || p.self_deaf,
        };
        let session = self.shared.registry.admit(admit, (self.id, self.tx.clone()));
        self.shared.participants_changed();
        self.session = Some(session.clone());
        let a = &self.shared.addresses;
        let ready = json!({
            "ssrc": session.ssrc,
            "ip": a.public_ip.to_string(),
            "port": a.udp.port(),
            "modes": MODES,
            "heartbeat_interval": self.shared.config.heartbeat_interval_ms,
        });
        self.frame(2, ready).await.map_err(|_| (4000, "write failed"))?;
        self.shared.registry.announce_join(&session);
        Ok(())
    }

    async fn resume(&mut self, d: &Value) -> Result<(), Refusal> {
        const BAD: Refusal = (4002, "Failed to decode payload");
        let guild = id(&d["server_id"]).ok_or(BAD)?;
        let session_id = d["session_id"].as_str().ok_or(BAD)?;
        let token = d["token"].as_str().ok_or(BAD)?;
        let session = self
            .shared
            .registry
            .find(model::Id::new(guild), session_id, token)
            .ok_or((4006, "Session no longer valid"))?;
        let previous = {
            let mut st = session.state();
            self.seq = self.seq.max(st.seq);
            st.conn.replace((self.id, self.tx.clone()))
        };
        if let Some((_, tx)) = previous {
            let _ = tx.try_send(Control::Close(4006, "Session resumed elsewhere"));
        }
        self.session = Some(session);
        self.frame(9, Value::Null).await.map_err(|_| (4000, "write failed"))
    }

    async fn select_protocol(&mut self, session: &Arc<Session>, d: &Value) -> Result<(), Refusal> {
        const BAD: Refusal = (4020, "Bad request");
        let protocol = d["protocol"].as_str().ok_or(BAD)?;
        if protocol == "webrtc" {
            return self.select_webrtc(session, d).await;
        }
        if protocol != "udp" {
            return Err((4012, "Unknown protocol"));
        }
        let data = &d["data"];
        let mode = data["mode"].as_str().ok_or(BAD)?;
        let mode = Mode::parse(mode).ok_or((4016, "Unknown encryption mode"))?;
        let claimed = data["address"]
            .as_str()
            .and_then(|a| a.parse::<std::net::IpAddr>().ok())
            .zip(data["port"].as_u64().and_then(|p| u16::try_from(p).ok()))
            .map(|(ip, port)| SocketAddr::new(ip, port));
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        {
            let mut st = session.state();
            st.media.cipher = Some(Cipher::new(mode, &key));
            st.media.replay = ReplayWindow::default();
            // What IP discovery found wins over what the client says.
            if st.media.addr.is_none() {
                st.media.addr = claimed.filter(|a| !a.ip().is_unspecified() && a.port() != 0);
            }
        }
        let description = json!({ "mode": mode.name(), "secret_key": key.to_vec(), "dave_protocol_version": 0 });
        self.frame(4, description).await.map_err(|_| (4000, "write failed"))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn<S> {
    /// The web client's offer (`sdp`, or `data` as Discord's own client
    /// sends it): answered by the WebRTC task, which then re-offers (op 40)
    /// the tracks of the others in the room.
    async fn select_webrtc(&mut self, session: &Arc<Session>, d: &Value) -> Result<(), Refusal> {
        let sdp = d["sdp"].as_str().or_else(|| d["data"].as_str()).ok_or((4020, "Bad request"))?.to_owned();
        {
            let mut st = session.state();
            st.media.webrtc = true;
            st.media.cipher = None;
        }
        let (reply, answer) = oneshot::channel();
        let offer = crate::webrtc::Command::Offer { session: session.clone(), sdp, reply };
        self.shared.webrtc.send(offer).await.map_err(|_| (4000, "voice server stopping"))?;
        let sdp = answer.await.map_err(|_| (4000, "voice server stopping"))?.map_err(|reason| (4020, reason))?;
        let description = json!({
            "mode": "webrtc",
            "sdp": sdp,
            "audio_codec": "opus",
            "video_codec": "VP8",
            "media_session_id": format!("{:x}", session.ssrc),
            "dave_protocol_version": 0,
        });
        self.frame(4, description).await.map_err(|_| (4000, "write failed"))
    }
}

/// Largest op 1 / op 41 payload (an SDP).
const MAX_SDP: usize = 60 * 1024;

fn is_sdp_op(text: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Op {
        op: u64,
    }
    serde_json::from_slice::<Op>(text).is_ok_and(|o| o.op == 1 || o.op == 41)
}

/// A snowflake as a string (discord.js) or a number (discord.py may send
/// integers).
fn id(v: &Value) -> Option<u64> {
    let n = match v {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    (n != 0).then_some(n)
}
