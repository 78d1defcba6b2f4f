//! A lean gateway client: connect (from a chosen source address), HELLO,
//! IDENTIFY, heartbeats, and every frame handed to the scenario as bytes.
//! Plain JSON, no compression. Frames the scenario does not claim are parsed
//! here; hot frames (the messages being measured) never go through a JSON
//! parser.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::report::Progress;
use crate::target::Target;

pub type Ws = WebSocketStream<TcpStream>;

/// GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT.
pub const INTENTS: u64 = 1 | 1 << 9 | 1 << 15;

/// Opens the WebSocket, binding the local end to `source` when given (each
/// source address has its own ~28k ephemeral ports towards one server port).
pub async fn connect(url: &str, addr: SocketAddr, source: Option<IpAddr>) -> Result<Ws> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding to {ip}"))?;
    }
    let stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    // Small buffers: the idle scenario holds up to 100,000 of these.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await.context("WebSocket handshake")?;
    Ok(ws)
}

/// How a session ended.
#[derive(Debug, Default)]
pub struct SessionEnd {
    pub identified: bool,
    pub heartbeats: u64,
    pub acks: u64,
    /// Set when the session ended other than by our stop signal.
    pub error: Option<String>,
}

/// The `s` of a dispatch, found without parsing: the first `"s":` key.
/// (Discord payloads carry no other key named `s`.)
pub fn seq_of(frame: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(frame, b"\"s\":")? + 4;
    let digits = frame[at..].iter().skip_while(|b| **b == b' ').take_while(|b| b.is_ascii_digit());
    let mut n: u64 = 0;
    let mut any = false;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(n)
}

/// What a scenario does with the frames of one session.
pub trait Handler: Send + 'static {
    /// Sees every text frame first; returns whether it consumed it (it must
    /// only claim dispatches).
    fn frame(&mut self, frame: &[u8]) -> bool;
}

/// Claims nothing.
pub struct Ignore;

impl Handler for Ignore {
    fn frame(&mut self, _: &[u8]) -> bool {
        false
    }
}

/// Runs one session until `stop` turns true or the connection ends.
/// `ready` is called once READY and the GUILD_CREATE of every guild it
/// lists have arrived.
pub async fn run_session(
    mut ws: Ws,
    token: &str,
    intents: u64,
    ready: impl FnOnce(),
    mut stop: watch::Receiver<bool>,
    handler: &mut impl Handler,
) -> SessionEnd {
    let mut end = SessionEnd::default();
    let mut ready = Some(ready);
    let result: Result<()> = async {
        let hello = next_json(&mut ws).await?;
        if hello["op"] != 10 {
            bail!("expected HELLO, got {hello}");
        }
        let interval =
            Duration::from_millis(hello["d"]["heartbeat_interval"].as_u64().context("HELLO without interval")?);
        let identify = json!({
            "op": 2,
            "d": {
                "token": token.strip_prefix("Bot ").unwrap_or(token),
                "intents": intents,
                "properties": { "os": "linux", "browser": "fussioncord-bench", "device": "fussioncord-bench" },
            }
        });
        ws.send(Message::Text(identify.to_string().into())).await?;
        let mut next_beat = Instant::now() + interval.mul_f64(rand::thread_rng().gen_range(0.05..1.0));
        let mut last_seq: Option<u64> = None;
        // Guilds READY announced whose GUILD_CREATE has not come yet.
        let mut pending_guilds: Option<usize> = None;
        loop {
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            let _ = ws.close(None).await;
                            while let Some(Ok(_)) = ws.next().await {}
                        }).await;
                        return Ok(());
                    }
                }
                msg = ws.next() => {
                    let msg = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => bail!("connection error: {e}"),
                        None => bail!("connection closed without a close frame"),
                    };
                    let bytes: &[u8] = match &msg {
                        Message::Text(t) => t.as_bytes(),
                        Message::Close(frame) => bail!("server closed the session: {frame:?}"),
                        Message::Binary(_) => bail!("binary frame on a plain JSON connection"),
                        _ => continue,
                    };
                    if handler.frame(bytes) {
                        if let Some(s) = seq_of(bytes) {
                            last_seq = Some(s);
                        }
                        continue;
                    }
                    let v: Value = serde_json::from_slice(bytes).context("frame is not JSON")?;
                    if let Some(s) = v["s"].as_u64() {
                        last_seq = Some(s);
                    }
                    match v["op"].as_u64() {
                        Some(0) => match v["t"].as_str() {
                            Some("READY") => {
                                end.identified = true;
                                let n = v["d"]["guilds"].as_array().map_or(0, Vec::len);
                                pending_guilds = Some(n);
                            }
                            Some("GUILD_CREATE") => {
                                if let Some(n) = &mut pending_guilds {
                                    *n = n.saturating_sub(1);
                                }
                            }
                            _ => {}
                        },
                        Some(1) => {
                            ws.send(Message::Text(json!({ "op": 1, "d": last_seq }).to_string().into())).await?;
                            end.heartbeats += 1;
                        }
                        Some(11) => end.acks += 1,
                        Some(7) => bail!("server asked us to reconnect (op 7)"),
                        Some(9) => bail!("invalid session (op 9): {}", v["d"]),
                        _ => {}
                    }
                    if pending_guilds == Some(0) {
                        if let Some(f) = ready.take() {
                            f();
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_beat) => {
                    // A client would call the connection a zombie after one
                    // missed ACK; a loaded server may be late, so allow a few.
                    if end.heartbeats > end.acks + 4 {
                        bail!("{} heartbeats without an ACK", end.heartbeats - end.acks);
                    }
                    ws.send(Message::Text(json!({ "op": 1, "d": last_seq }).to_string().into())).await?;
                    end.heartbeats += 1;
                    next_beat += interval;
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        end.error = Some(format!("{e:#}"));
    }
    end
}

async fn next_json(ws: &mut Ws) -> Result<Value> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
            Some(Ok(Message::Close(f))) => return Err(anyhow!("closed: {f:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection closed"),
        }
    }
}

/// Many sessions, connected with bounded concurrency.
pub struct Fleet<H> {
    pub ready: Arc<AtomicUsize>,
    /// Sessions that ended on their own (failed to connect, closed by the server, …).
    pub dead: Arc<AtomicUsize>,
    pub size: usize,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<(SessionEnd, H)>>,
}

pub struct FleetSpec {
    pub sessions: usize,
    pub connect_concurrency: usize,
    pub sources: Vec<IpAddr>,
    pub intents: u64,
}

impl<H: Handler> Fleet<H> {
    /// Starts `spec.sessions` sessions; session `i` acts as `tokens[i % len]`,
    /// connects from `sources[i % len]` and hands its frames to `make(i)`.
    pub fn launch(target: &Target, spec: &FleetSpec, tokens: &[String], make: impl Fn(usize) -> H) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let ready = Arc::new(AtomicUsize::new(0));
        let dead = Arc::new(AtomicUsize::new(0));
        let permits = Arc::new(Semaphore::new(spec.connect_concurrency.max(1)));
        let url: Arc<str> = target.gateway.clone().into();
        let mut tasks = Vec::with_capacity(spec.sessions);
        for i in 0..spec.sessions {
            let token = tokens[i % tokens.len()].clone();
            let source = (!spec.sources.is_empty()).then(|| spec.sources[i % spec.sources.len()]);
            let (url, addr, stop_rx, ready, dead, permits) =
                (url.clone(), target.gateway_addr, stop_rx.clone(), ready.clone(), dead.clone(), permits.clone());
            let intents = spec.intents;
            let mut handler = make(i);
            tasks.push(tokio::spawn(async move {
                let permit = permits.acquire_owned().await.expect("never closed");
                let end = match connect(&url, addr, source).await {
                    Ok(ws) => {
                        let on_ready = move || {
                            ready.fetch_add(1, Ordering::Relaxed);
                            drop(permit);
                        };
                        run_session(ws, &token, intents, on_ready, stop_rx, &mut handler).await
                    }
                    Err(e) => SessionEnd { error: Some(format!("{e:#}")), ..SessionEnd::default() },
                };
                if end.error.is_some() {
                    dead.fetch_add(1, Ordering::Relaxed);
                }
                (end, handler)
            }));
        }
        Self { ready, dead, size: spec.sessions, stop, tasks }
    }

    /// Waits until every session is ready or dead (or `timeout`); answers how long it took.
    pub async fn wait_ready(&self, timeout: Duration) -> Duration {
        let start = Instant::now();
        let progress = {
            let (ready, dead, size) = (self.ready.clone(), self.dead.clone(), self.size);
            Progress::start("connect", move |t| {
                let r = ready.load(Ordering::Relaxed);
                format!("{r}/{size} sessions ready ({:.0}/s), {} failed", r as f64 / t, dead.load(Ordering::Relaxed))
            })
        };
        while self.ready.load(Ordering::Relaxed) + self.dead.load(Ordering::Relaxed) < self.size
            && start.elapsed() < timeout
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(progress);
        start.elapsed()
    }

    /// Stops every session and collects how each ended.
    pub async fn finish(self) -> Vec<(SessionEnd, H)> {
        let _ = self.stop.send(true);
        let mut out = Vec::with_capacity(self.tasks.len());
        for t in self.tasks {
            match t.await {
                Ok(r) => out.push(r),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        out
    }
}

/// Source addresses for `sessions` connections to `server`: the ones given,
/// or, towards a loopback server with more sessions than one address has
/// ephemeral ports for, 127.0.0.2, 127.0.0.3, … (25,000 sessions each).
pub fn sources(given: &[IpAddr], sessions: usize, server: SocketAddr) -> Vec<IpAddr> {
    if !given.is_empty() {
        return given.to_vec();
    }
    if !server.ip().is_loopback() || !server.is_ipv4() || sessions <= 20_000 {
        return Vec::new();
    }
    let n = sessions.div_ceil(25_000).min(250);
    (0..n).map(|i| IpAddr::from([127, 0, 0, 2 + i as u8])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_is_found_without_parsing() {
        assert_eq!(seq_of(br#"{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{}}"#), Some(42));
        assert_eq!(seq_of(br#"{"t":"X","s": 7,"op":0}"#), Some(7));
        assert_eq!(seq_of(br#"{"op":11,"s":null}"#), None);
    }
}
