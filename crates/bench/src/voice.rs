//! `voice`: N senders and M listeners in one voice channel, each a real
//! client: a main-gateway session that joins with op 4, the voice gateway
//! (v8, JSON over a TLS WebSocket), its own UDP socket with IP discovery,
//! SELECT_PROTOCOL and the key from SESSION_DESCRIPTION. Senders send
//! Opus-sized RTP packets at 50 a second, encrypted with their key, with
//! their send time inside the encrypted payload; listeners decrypt what the
//! server re-encrypted for them and record the time the server added
//! (receipt − send, both on this process's monotonic clock).
//!
//! Senders join self-deafened, so the server forwards to listeners only:
//! N × M × 50 packets a second.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use futures::stream::{self, StreamExt};
use futures::SinkExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::gw;
use crate::report::{step, Progress, Report};
use crate::stats::{self, proc_sample, round3, Seen};
use crate::target::{Common, Target};

#[derive(Args, Debug)]
pub struct VoiceArgs {
    #[command(flatten)]
    pub common: Common,
    /// Participants sending audio (self-deafened: they hear nothing).
    #[arg(long, default_value_t = 2)]
    pub senders: usize,
    /// Participants receiving every sender's audio.
    #[arg(long, default_value_t = 4)]
    pub listeners: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Opus payload bytes per packet (before encryption; at least 20, which
    /// hold the send time, the sender and the sequence number).
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// Packets per second per sender (Opus: 20 ms frames).
    #[arg(long, default_value_t = 50)]
    pub packet_rate: u32,
    /// The transport encryption mode.
    #[arg(long, value_enum, default_value_t = Mode::Aes256Gcm)]
    pub mode: Mode,
    /// Use this existing voice channel (every account may connect and speak)
    /// instead of creating one in the guild.
    #[arg(long, value_name = "ID")]
    pub voice_channel: Option<String>,
    /// PEM certificate (or CA) to trust for the voice gateway's TLS
    /// [default with --spawn: the spawned server's self-signed certificate
    /// in its data directory].
    #[arg(long, value_name = "FILE")]
    pub voice_ca: Option<PathBuf>,
    /// Do not verify the voice gateway's certificate at all.
    #[arg(long)]
    pub voice_insecure: bool,
    /// Seconds to wait after the last send for packets still in flight.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Participants joining at once.
    #[arg(long, default_value_t = 16)]
    pub connect_concurrency: usize,
    /// Fail the run when more than this percentage of the expected packets
    /// never arrived [default: loss is a figure, not a failure].
    #[arg(long, value_name = "PERCENT")]
    pub max_loss: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// aead_aes256_gcm_rtpsize (offered first; what discord.js uses).
    Aes256Gcm,
    /// aead_xchacha20_poly1305_rtpsize (what discord.py uses).
    Xchacha20Poly1305,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aead_aes256_gcm_rtpsize",
            Self::Xchacha20Poly1305 => "aead_xchacha20_poly1305_rtpsize",
        }
    }
}

/// GUILDS | GUILD_VOICE_STATES.
const INTENTS: u64 = 1 | 1 << 7;
/// Marks this run's packets inside the encrypted payload.
const MAGIC: u32 = 0xFC_B0_1C_E5;
const RTP_HEADER: usize = 12;
const TAG: usize = 16;
/// The plaintext's first bytes: send time (ns), sender, sequence, magic.
const STAMP: usize = 20;

enum Cipher {
    Aes(Box<aes_gcm::Aes256Gcm>),
    XChaCha(Box<chacha20poly1305::XChaCha20Poly1305>),
}

impl Cipher {
    fn new(mode: Mode, key: &[u8]) -> Result<Self> {
        Ok(match mode {
            Mode::Aes256Gcm => Self::Aes(Box::new(aes_gcm::Aes256Gcm::new_from_slice(key)?)),
            Mode::Xchacha20Poly1305 => {
                Self::XChaCha(Box::new(chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)?))
            }
        })
    }

    /// Encrypts `body` in place and returns the tag; the nonce is the
    /// counter, big-endian, zero-padded (the `_rtpsize` modes).
    fn seal(&self, counter: u32, aad: &[u8], body: &mut [u8]) -> [u8; TAG] {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        let tag = match self {
            Self::Aes(c) => c.encrypt_in_place_detached(nonce[..12].into(), aad, body),
            Self::XChaCha(c) => c.encrypt_in_place_detached((&nonce).into(), aad, body),
        };
        tag.map(Into::into).unwrap_or([0; TAG])
    }

    fn open(&self, counter: u32, aad: &[u8], body: &mut [u8], tag: &[u8]) -> bool {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        match self {
            Self::Aes(c) => c.decrypt_in_place_detached(nonce[..12].into(), aad, body, tag.into()).is_ok(),
            Self::XChaCha(c) => c.decrypt_in_place_detached((&nonce).into(), aad, body, tag.into()).is_ok(),
        }
    }
}

/// Counters every task shares, read by the progress line.
#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    send_errors: AtomicU64,
    received: AtomicU64,
    decrypt_failed: AtomicU64,
    /// Decrypted but not a packet of this run (wrong magic or sender).
    foreign: AtomicU64,
    duplicated: AtomicU64,
    /// When the last packet arrived, ns on the run's clock.
    last_receipt_ns: AtomicU64,
}

/// Nanoseconds on the run's clock (never 0).
fn now_ns(epoch: std::time::Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64 + 1
}

/// One participant, connected: the main gateway and the voice gateway are
/// kept alive by their own tasks; the media socket is here.
struct Participant {
    udp: UdpSocket,
    server_udp: SocketAddr,
    ssrc: u32,
    cipher: Cipher,
    tasks: Vec<JoinHandle<Result<()>>>,
}

type VoiceWs = WebSocketStream<TlsStream<TcpStream>>;

/// What VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE said.
struct Joined {
    user_id: String,
    session_id: String,
    token: String,
    endpoint: String,
    gateway: JoinHandle<Result<()>>,
}

/// A main-gateway session that joins `channel` with op 4; its connection
/// stays with a task that heartbeats and drops what comes until `stop`.
async fn join(
    target: &Target,
    token: &str,
    guild: &str,
    channel: &str,
    self_deaf: bool,
    stop: watch::Receiver<bool>,
) -> Result<Joined> {
    let mut ws = gw::connect(&target.gateway, target.gateway_addr, None).await?;
    let hello = next_json(&mut ws).await?;
    let interval = Duration::from_millis(hello["d"]["heartbeat_interval"].as_u64().context("HELLO without interval")?);
    let identify = json!({ "op": 2, "d": {
        "token": token.strip_prefix("Bot ").unwrap_or(token),
        "intents": INTENTS,
        "properties": { "os": "linux", "browser": "fussioncord-bench", "device": "fussioncord-bench" },
    }});
    ws.send(Message::Text(identify.to_string().into())).await?;
    let (commands, commands_rx) = mpsc::unbounded_channel::<String>();
    let (events_tx, mut events) = mpsc::unbounded_channel::<Value>();
    let gateway = tokio::spawn(keep_main_gateway(ws, interval, commands_rx, events_tx, stop));
    let deadline = Instant::now() + Duration::from_secs(60);
    async fn next_event(events: &mut mpsc::UnboundedReceiver<Value>, deadline: Instant) -> Result<Value> {
        tokio::time::timeout_at(deadline, events.recv())
            .await
            .context("the main gateway did not answer within 60 s")?
            .ok_or_else(|| anyhow!("the main gateway ended while joining"))
    }
    // READY, then the GUILD_CREATE of each guild it lists.
    let ready = next_event(&mut events, deadline).await?;
    let user_id = ready["d"]["user"]["id"].as_str().context("READY without user.id")?.to_owned();
    let mut pending = ready["d"]["guilds"].as_array().map_or(0, Vec::len);
    while pending > 0 {
        if next_event(&mut events, deadline).await?["t"] == "GUILD_CREATE" {
            pending -= 1;
        }
    }
    let op4 = json!({ "op": 4, "d": { "guild_id": guild, "channel_id": channel, "self_mute": false, "self_deaf": self_deaf } });
    commands.send(op4.to_string()).map_err(|_| anyhow!("the main gateway ended while joining"))?;
    let (mut state, mut server) = (None::<Value>, None::<Value>);
    while state.is_none() || server.is_none() {
        let v = next_event(&mut events, deadline).await?;
        match v["t"].as_str() {
            Some("VOICE_STATE_UPDATE") if v["d"]["user_id"] == user_id.as_str() => state = Some(v),
            Some("VOICE_SERVER_UPDATE") => server = Some(v),
            _ => {}
        }
    }
    let (state, server) = (state.expect("loop"), server.expect("loop"));
    if state["d"]["channel_id"] != channel {
        bail!("op 4 put us in {} instead of {channel}: {state}", state["d"]["channel_id"]);
    }
    Ok(Joined {
        user_id,
        session_id: state["d"]["session_id"].as_str().context("voice state without session_id")?.to_owned(),
        token: server["d"]["token"].as_str().context("VOICE_SERVER_UPDATE without token")?.to_owned(),
        endpoint: server["d"]["endpoint"]
            .as_str()
            .context("VOICE_SERVER_UPDATE without an endpoint: the server runs no voice")?
            .to_owned(),
        gateway,
    })
}

/// Owns a main-gateway connection: sends `commands`, forwards READY,
/// GUILD_CREATE and the voice dispatches to `events` (while anyone listens),
/// heartbeats.
async fn keep_main_gateway(
    mut ws: gw::Ws,
    interval: Duration,
    mut commands: mpsc::UnboundedReceiver<String>,
    events: mpsc::UnboundedSender<Value>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut next_beat = Instant::now() + interval.mul_f64(0.5);
    let mut last_seq: Option<u64> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return Ok(());
            }
            Some(text) = commands.recv() => ws.send(Message::Text(text.into())).await?,
            msg = StreamExt::next(&mut ws) => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => bail!("main gateway closed: {f:?}"),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => bail!("main gateway: {e}"),
                    None => bail!("main gateway closed without a close frame"),
                };
                let v: Value = serde_json::from_str(text.as_str())?;
                if let Some(s) = v["s"].as_u64() {
                    last_seq = Some(s);
                }
                match v["op"].as_u64() {
                    Some(0) => {
                        if !events.is_closed()
                            && matches!(
                                v["t"].as_str(),
                                Some("READY" | "GUILD_CREATE" | "VOICE_STATE_UPDATE" | "VOICE_SERVER_UPDATE")
                            )
                        {
                            let _ = events.send(v);
                        }
                    }
                    Some(1) => ws.send(Message::Text(json!({ "op": 1, "d": last_seq }).to_string().into())).await?,
                    Some(7) => bail!("main gateway asked us to reconnect (op 7)"),
                    Some(9) => bail!("main gateway: invalid session (op 9)"),
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(next_beat) => {
                ws.send(Message::Text(json!({ "op": 1, "d": last_seq }).to_string().into())).await?;
                next_beat += interval;
            }
        }
    }
}

async fn next_json(ws: &mut gw::Ws) -> Result<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), StreamExt::next(ws)).await {
            Err(_) => bail!("nothing from the gateway for 30 s"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(t.as_str())?),
            Ok(Some(Ok(Message::Close(f)))) => bail!("closed: {f:?}"),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => bail!("connection closed"),
        }
    }
}

/// The next JSON payload of the voice gateway; `seq` follows the server's
/// `seq` for heartbeats' `seq_ack`.
async fn next_voice(ws: &mut VoiceWs, seq: &mut i64) -> Result<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), StreamExt::next(ws)).await {
            Err(_) => bail!("nothing from the voice gateway for 30 s"),
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if let Some(s) = v["seq"].as_i64() {
                    *seq = s;
                }
                return Ok(v);
            }
            Ok(Some(Ok(Message::Close(f)))) => bail!("voice gateway closed: {f:?}"),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => bail!("voice gateway closed the connection"),
        }
    }
}

/// The voice gateway's TLS: trust `ca` (a PEM certificate or CA), or nothing
/// checked at all.
fn tls_config(ca: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    // ring, as the server uses (no aws-lc build); deprecated only for its
    // lack of post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let config = match ca {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))? {
                roots.add(cert.with_context(|| format!("reading {}", path.display()))?)?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// `--voice-insecure`: accepts any certificate (signatures still checked,
/// so the handshake is real).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Raises a socket's receive buffer (the kernel caps it at `rmem_max`), so
/// that a listener task scheduled late does not lose packets in the kernel.
fn big_receive_buffer(udp: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt on a socket we own, with a pointer to a local int.
    unsafe {
        libc::setsockopt(
            udp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The voice gateway (IDENTIFY, HELLO, READY), IP discovery over a new UDP
/// socket, SELECT_PROTOCOL and SESSION_DESCRIPTION; a sender then says
/// SPEAKING. The connection stays with a task that heartbeats until `stop`.
async fn connect_voice(
    index: usize,
    tls: Arc<rustls::ClientConfig>,
    guild: &str,
    joined: Joined,
    mode: Mode,
    speaking: bool,
    stop: watch::Receiver<bool>,
) -> Result<Participant> {
    let endpoint = joined.endpoint.as_str();
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    let tcp =
        TcpStream::connect(endpoint).await.with_context(|| format!("connecting to the voice gateway {endpoint}"))?;
    tcp.set_nodelay(true)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .context("TLS handshake with the voice gateway")?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://{endpoint}/?v=8"), stream)
        .await
        .context("voice gateway WebSocket upgrade")?;
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "op": 0, "d": {
        "server_id": guild, "user_id": joined.user_id, "session_id": joined.session_id,
        "token": joined.token, "max_dave_protocol_version": 0,
    }})))
    .await?;
    let mut seq = -1i64;
    let (mut interval, mut ready) = (None, None);
    while interval.is_none() || ready.is_none() {
        let v = next_voice(&mut ws, &mut seq).await?;
        match v["op"].as_u64() {
            Some(8) => interval = Some(v["d"]["heartbeat_interval"].as_f64().context("HELLO without interval")?),
            Some(2) => ready = Some(v),
            _ => {}
        }
    }
    let (interval, ready) = (Duration::from_secs_f64(interval.expect("loop") / 1000.0), ready.expect("loop"));
    let d = &ready["d"];
    let ssrc = d["ssrc"].as_u64().context("READY without ssrc")? as u32;
    let ip = d["ip"].as_str().context("READY without ip")?;
    let server_udp: SocketAddr = format!("{ip}:{}", d["port"]).parse().context("READY's ip and port")?;

    // The server answers IP discovery at most a few times a second per
    // source address (it must not be a reflector), so towards a loopback
    // server each participant gets an address of its own, as distinct
    // clients would have.
    let local: SocketAddr = match server_udp.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && index < 64_000 => {
            SocketAddr::from(([127, 1, (index / 250) as u8, (1 + index % 250) as u8], 0))
        }
        IpAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        IpAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    };
    let udp = UdpSocket::bind(local).await.with_context(|| format!("binding {local}"))?;
    big_receive_buffer(&udp);
    let mut discovery = [0u8; 74];
    discovery[..4].copy_from_slice(&[0, 1, 0, 70]);
    discovery[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let mut buf = [0u8; 128];
    let mut answer = None;
    for attempt in 0..10u32 {
        udp.send_to(&discovery, server_udp).await?;
        let wait = Duration::from_millis(500) * (attempt + 1).min(4);
        if let Ok(r) = tokio::time::timeout(wait, udp.recv_from(&mut buf)).await {
            let (n, _) = r?;
            if n == 74 && buf[..4] == [0, 2, 0, 70] {
                answer = Some(());
                break;
            }
        }
    }
    answer.context("IP discovery was not answered")?;
    let end = buf[8..72].iter().position(|b| *b == 0).unwrap_or(64);
    let address = std::str::from_utf8(&buf[8..8 + end])?.to_owned();
    let port = u16::from_be_bytes([buf[72], buf[73]]);

    ws.send(send(json!({ "op": 1, "d": { "protocol": "udp", "data": {
        "address": address, "port": port, "mode": mode.name(),
    }}})))
    .await?;
    let description = loop {
        let v = next_voice(&mut ws, &mut seq).await?;
        if v["op"] == 4 {
            break v;
        }
    };
    let key: Vec<u8> = description["d"]["secret_key"]
        .as_array()
        .context("SESSION_DESCRIPTION without secret_key")?
        .iter()
        .map(|b| b.as_u64().unwrap_or(0) as u8)
        .collect();
    if description["d"]["mode"] != mode.name() {
        bail!("asked for {}, SESSION_DESCRIPTION says {}", mode.name(), description["d"]["mode"]);
    }
    let cipher = Cipher::new(mode, &key).context("secret_key")?;
    if speaking {
        ws.send(send(json!({ "op": 5, "d": { "speaking": 1, "delay": 0, "ssrc": ssrc } }))).await?;
    }
    let voice = tokio::spawn(keep_voice_gateway(ws, interval, seq, stop));
    Ok(Participant { udp, server_udp, ssrc, cipher, tasks: vec![joined.gateway, voice] })
}

/// Heartbeats (op 3 with `seq_ack`, as v8 asks) and drops what comes.
async fn keep_voice_gateway(
    mut ws: VoiceWs,
    interval: Duration,
    mut seq: i64,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut next_beat = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return Ok(());
            }
            msg = StreamExt::next(&mut ws) => match msg {
                Some(Ok(Message::Text(t))) => {
                    if let Some(s) = serde_json::from_str::<Value>(t.as_str())?["seq"].as_i64() {
                        seq = s;
                    }
                }
                Some(Ok(Message::Close(f))) => bail!("voice gateway closed: {f:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("voice gateway: {e}"),
                None => bail!("voice gateway closed without a close frame"),
            },
            _ = tokio::time::sleep_until(next_beat) => {
                let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
                ws.send(Message::Text(json!({ "op": 3, "d": { "t": t, "seq_ack": seq } }).to_string().into())).await?;
                next_beat += interval;
            }
        }
    }
}

/// Sends `rate` packets a second from `start` until `end`: RTP header in
/// clear, then the payload (send time, sender, sequence, magic, filler)
/// encrypted with the sender's key, the tag and the nonce counter.
/// Answers how many went out.
#[allow(clippy::too_many_arguments)]
async fn send_audio(
    p: Arc<Participant>,
    index: u32,
    payload: usize,
    rate: u32,
    start: Instant,
    end: Instant,
    epoch: std::time::Instant,
    counters: Arc<Counters>,
) -> u64 {
    let mut tick = tokio::time::interval_at(start, Duration::from_secs(1) / rate.max(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut packet = Vec::with_capacity(RTP_HEADER + payload + TAG + 4);
    let mut seq: u32 = 0;
    loop {
        let at = tick.tick().await;
        if at >= end {
            return u64::from(seq);
        }
        let counter = seq.wrapping_add(1);
        packet.clear();
        packet.extend_from_slice(&[0x80, 0x78]);
        packet.extend_from_slice(&(seq as u16).to_be_bytes());
        packet.extend_from_slice(&seq.wrapping_mul(960).to_be_bytes());
        packet.extend_from_slice(&p.ssrc.to_be_bytes());
        packet.extend_from_slice(&now_ns(epoch).to_be_bytes());
        packet.extend_from_slice(&index.to_be_bytes());
        packet.extend_from_slice(&seq.to_be_bytes());
        packet.extend_from_slice(&MAGIC.to_be_bytes());
        packet.resize(RTP_HEADER + payload, 0xF8);
        let (head, body) = packet.split_at_mut(RTP_HEADER);
        let tag = p.cipher.seal(counter, head, body);
        packet.extend_from_slice(&tag);
        packet.extend_from_slice(&counter.to_be_bytes());
        match p.udp.send_to(&packet, p.server_udp).await {
            Ok(_) => counters.sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => counters.send_errors.fetch_add(1, Ordering::Relaxed),
        };
        seq += 1;
    }
}

/// What one listener saw.
struct Heard {
    latency: Histogram<u64>,
    /// Per sender, which sequence numbers arrived.
    seen: Vec<Seen>,
}

/// Receives and decrypts until `stop`; records receipt − send time.
async fn listen(
    p: Arc<Participant>,
    senders: usize,
    epoch: std::time::Instant,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Heard {
    let mut heard = Heard { latency: stats::histogram(), seen: (0..senders).map(|_| Seen::default()).collect() };
    let mut buf = vec![0u8; 2048];
    loop {
        let n = tokio::select! {
            biased;
            r = p.udp.recv(&mut buf) => match r {
                Ok(n) => n,
                Err(_) => continue,
            },
            _ = stop.changed() => return heard,
        };
        let now = now_ns(epoch);
        let packet = &mut buf[..n];
        if n < RTP_HEADER + TAG + 4 || packet[0] >> 6 != 2 {
            counters.foreign.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let header = RTP_HEADER + 4 * usize::from(packet[0] & 0x0f) + if packet[0] & 0x10 != 0 { 4 } else { 0 };
        if n < header + TAG + 4 {
            counters.foreign.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let counter = u32::from_be_bytes(packet[n - 4..].try_into().expect("4 bytes"));
        let (aad, rest) = packet.split_at_mut(header);
        let (body, trailer) = rest.split_at_mut(n - header - TAG - 4);
        if !p.cipher.open(counter, aad, body, &trailer[..TAG]) {
            counters.decrypt_failed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let field = |at: usize| u32::from_be_bytes(body[at..at + 4].try_into().expect("4 bytes"));
        if body.len() < STAMP || field(16) != MAGIC || field(8) as usize >= senders {
            counters.foreign.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let sent = u64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        if heard.seen[field(8) as usize].mark(u64::from(field(12))) {
            counters.duplicated.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        stats::record(&mut heard.latency, now.saturating_sub(sent) / 1000);
        counters.received.fetch_add(1, Ordering::Relaxed);
        counters.last_receipt_ns.fetch_max(now, Ordering::Relaxed);
    }
}

/// The host's UDP counters from /proc/net/snmp (every socket on the
/// machine): receive-buffer overflows are where loopback UDP loses packets.
fn udp_snmp() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |name: &str| names.iter().position(|n| *n == name).and_then(|i| values.get(i)?.parse().ok());
    Some((get("RcvbufErrors")?, get("SndbufErrors")?))
}

/// The server's `fussioncord_voice_*` counters from /metrics (not the
/// histogram's buckets).
async fn voice_metrics(target: &Target) -> Value {
    let base = target.api.trim_end_matches("/api/v10");
    let Ok(resp) = target.http.get(format!("{base}/metrics")).send().await else { return Value::Null };
    let Ok(text) = resp.text().await else { return Value::Null };
    let mut out = serde_json::Map::new();
    for line in text.lines().filter(|l| l.starts_with("fussioncord_voice_") && !l.contains("_bucket")) {
        if let Some((name, value)) = line.rsplit_once(' ') {
            if let Ok(v) = value.parse::<f64>() {
                out.insert(name.to_owned(), json!(v));
            }
        }
    }
    Value::Object(out)
}

pub async fn run(args: VoiceArgs) -> Result<Report> {
    if args.senders == 0 || args.listeners == 0 {
        bail!("--senders and --listeners must be at least 1");
    }
    if args.payload < STAMP || args.payload > 1200 {
        bail!("--payload must be between {STAMP} and 1200 bytes");
    }
    let target = Target::open(&args.common).await?;
    let mut report = Report::new("voice");
    target.describe(&mut report);
    let (n, m) = (args.senders, args.listeners);
    let participants = n + m;
    report.param("senders", n);
    report.param("listeners", m);
    report.param("duration_s", args.duration);
    report.param("payload_bytes", args.payload);
    report.param("packets_per_s_per_sender", args.packet_rate);
    report.param("mode", args.mode.name());

    let ca = match (&args.voice_ca, args.voice_insecure, target.spawned_data_dir()) {
        (_, true, _) => None,
        (Some(ca), false, _) => Some(ca.clone()),
        (None, false, Some(data)) => Some(data.join("voice").join("self-signed-cert.pem")),
        (None, false, None) => {
            bail!("give --voice-ca FILE (the voice gateway's certificate or CA) or --voice-insecure")
        }
    };
    report.param(
        "voice_tls",
        ca.as_ref().map_or("not verified (--voice-insecure)".to_owned(), |c| c.display().to_string()),
    );
    let tls = tls_config(ca.as_deref())?;

    let mut tokens = target.accounts(participants).await?;
    if tokens.len() < participants {
        bail!("{participants} participants need {participants} accounts, {} given", tokens.len());
    }
    tokens.truncate(participants);
    let text_channel = target.channel(&tokens).await?;
    let owner = &tokens[0];
    let info = target.call(reqwest::Method::GET, Some(owner), &format!("/channels/{text_channel}"), None).await?;
    let guild = info["guild_id"].as_str().context("the channel is in no guild")?.to_owned();
    let channel = match &args.voice_channel {
        Some(c) => c.clone(),
        None => {
            let body = json!({ "name": "bench-voice", "type": 2, "bitrate": 64000 });
            let created = target
                .call(reqwest::Method::POST, Some(owner), &format!("/guilds/{guild}/channels"), Some(&body))
                .await?;
            created["id"].as_str().context("the voice channel has no id")?.to_owned()
        }
    };
    report.param("voice_channel", channel.clone());

    // Joining: first every main-gateway session with op 4, then every
    // voice connection, so the server's memory can be told apart.
    let (stop, stop_rx) = watch::channel(false);
    let rss_before = target.server_sample();
    step(format!("{participants} participants joining the voice channel (main gateway, op 4)"));
    let started = Instant::now();
    let joined_count = Arc::new(AtomicU64::new(0));
    let progress = {
        let c = joined_count.clone();
        Progress::start("join", move |_| format!("{}/{participants} joined", c.load(Ordering::Relaxed)))
    };
    let joined: Vec<Result<Joined>> = stream::iter(0..participants)
        .map(|i| {
            let (target, tokens, guild, channel, stop_rx, c) =
                (&target, &tokens, &guild, &channel, stop_rx.clone(), &joined_count);
            async move {
                let j = join(target, &tokens[i], guild, channel, i < n, stop_rx).await;
                c.fetch_add(1, Ordering::Relaxed);
                j.with_context(|| format!("participant {i} joining"))
            }
        })
        .buffered(args.connect_concurrency.max(1))
        .collect()
        .await;
    drop(progress);
    let joined: Vec<Joined> = joined.into_iter().collect::<Result<_>>()?;
    let join_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_joined = target.server_sample();
    step(format!("{participants} voice connections (TLS, IDENTIFY, IP discovery, SELECT_PROTOCOL)"));
    let started = Instant::now();
    let connected_count = Arc::new(AtomicU64::new(0));
    let progress = {
        let c = connected_count.clone();
        Progress::start("voice", move |_| format!("{}/{participants} connected", c.load(Ordering::Relaxed)))
    };
    let connected: Vec<Result<Participant>> = stream::iter(joined.into_iter().enumerate())
        .map(|(i, j)| {
            let (tls, guild, stop_rx, c) = (tls.clone(), &guild, stop_rx.clone(), &connected_count);
            async move {
                let p = connect_voice(i, tls, guild, j, args.mode, i < n, stop_rx).await;
                c.fetch_add(1, Ordering::Relaxed);
                p.with_context(|| format!("participant {i} connecting to voice"))
            }
        })
        .buffered(args.connect_concurrency.max(1))
        .collect()
        .await;
    drop(progress);
    let mut connected: Vec<Participant> = connected.into_iter().collect::<Result<_>>()?;
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = target.server_sample();
    report.result("join_main_gateway_s", round3(join_s));
    report.result("connect_voice_s", round3(connect_s));

    // The measured phase.
    let mut tasks: Vec<JoinHandle<Result<()>>> = Vec::new();
    for p in &mut connected {
        tasks.append(&mut p.tasks);
    }
    let connected: Vec<Arc<Participant>> = connected.into_iter().map(Arc::new).collect();
    let epoch = std::time::Instant::now();
    let counters = Arc::new(Counters::default());
    let (listen_stop, listen_stop_rx) = watch::channel(false);
    let listeners: Vec<JoinHandle<Heard>> = connected[n..]
        .iter()
        .map(|p| tokio::spawn(listen(p.clone(), n, epoch, counters.clone(), listen_stop_rx.clone())))
        .collect();
    let snmp_before = udp_snmp();
    let metrics_before = voice_metrics(&target).await;
    let server_before = target.server_sample();
    let me_before = proc_sample(std::process::id());
    let t0 = Instant::now() + Duration::from_millis(50);
    let t0_ns = now_ns(epoch) + 50_000_000;
    let end = t0 + Duration::from_secs_f64(args.duration);
    let period = Duration::from_secs(1) / args.packet_rate.max(1);
    let senders: Vec<JoinHandle<u64>> = connected[..n]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // Spread over the period, as independent speakers would be.
            let start = t0 + period.mul_f64(i as f64 / n as f64);
            tokio::spawn(send_audio(
                p.clone(),
                i as u32,
                args.payload,
                args.packet_rate,
                start,
                end,
                epoch,
                counters.clone(),
            ))
        })
        .collect();
    let progress = {
        let c = counters.clone();
        let last = AtomicU64::new(0);
        Progress::start("voice", move |_| {
            let r = c.received.load(Ordering::Relaxed);
            let per_s = r - last.swap(r, Ordering::Relaxed);
            let sent = c.sent.load(Ordering::Relaxed);
            format!(
                "sent {sent} | received {r}/{} ({per_s}/s) | decrypt failures {}",
                sent * m as u64,
                c.decrypt_failed.load(Ordering::Relaxed)
            )
        })
    };
    let mut sent_per_sender = Vec::with_capacity(n);
    for s in senders {
        sent_per_sender.push(s.await?);
    }
    let sent: u64 = sent_per_sender.iter().sum();
    let expected = sent * m as u64;
    let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain);
    while counters.received.load(Ordering::Relaxed) + counters.duplicated.load(Ordering::Relaxed) < expected
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server_after = target.server_sample();
    let me_after = proc_sample(std::process::id());
    let wall = (Instant::now() - t0).as_secs_f64();
    let snmp_after = udp_snmp();
    let metrics_after = voice_metrics(&target).await;
    drop(progress);
    let _ = listen_stop.send(true);
    let mut latency = stats::histogram();
    let mut lost_by_sender = vec![0u64; n];
    for l in listeners {
        let heard = l.await?;
        latency.add(&heard.latency).expect("same histogram shape");
        for (s, seen) in heard.seen.iter().enumerate() {
            lost_by_sender[s] += (0..sent_per_sender[s]).filter(|q| !seen.has(*q)).count() as u64;
        }
    }

    let received = counters.received.load(Ordering::Relaxed);
    let lost: u64 = lost_by_sender.iter().sum();
    let span_s = (counters.last_receipt_ns.load(Ordering::Relaxed).saturating_sub(t0_ns)) as f64 / 1e9;
    let decrypt_failed = counters.decrypt_failed.load(Ordering::Relaxed);
    let (duplicated, foreign) = (counters.duplicated.load(Ordering::Relaxed), counters.foreign.load(Ordering::Relaxed));
    report.result("packets_sent", sent);
    report.result("send_rate_per_s", round3(sent as f64 / args.duration));
    report.result("packets_expected", expected);
    report.result("packets_received", received);
    report.result("forwarded_per_s", if span_s > 0.0 { (received as f64 / span_s).round() } else { 0.0 });
    report.result("lost", lost);
    report.result("loss_percent", if expected > 0 { round3(100.0 * lost as f64 / expected as f64) } else { 0.0 });
    report.result("duplicated", duplicated);
    report.result("decrypt_failures", decrypt_failed);
    report.result("foreign_packets", foreign);
    report.result("send_errors", counters.send_errors.load(Ordering::Relaxed));
    report.result("added_latency", stats::summary(&latency));
    if let (Some(b), Some(a)) = (server_before, server_after) {
        let cpu = a.cpu_s - b.cpu_s;
        report.result(
            "server_cpu_us_per_forwarded",
            if received > 0 { round3(cpu * 1e6 / received as f64) } else { 0.0 },
        );
    }
    let per = |a: Option<stats::ProcSample>, b: Option<stats::ProcSample>| {
        a.zip(b).map(|(a, b)| round3((b.rss_kib as f64 - a.rss_kib as f64) / participants as f64))
    };
    report.result("server_kib_per_participant", per(rss_before, rss_connected));
    report.result("server_kib_per_participant_voice_only", per(rss_joined, rss_connected));
    report.resources((server_before, server_after), (me_before, me_after), wall);
    if let (Some(b), Some(a)) = (snmp_before, snmp_after) {
        report.result("host_udp_rcvbuf_errors", a.0 - b.0);
        report.result("host_udp_sndbuf_errors", a.1 - b.1);
    }
    if let (Value::Object(b), Value::Object(a)) = (&metrics_before, &metrics_after) {
        let delta: serde_json::Map<String, Value> = a
            .iter()
            .filter(|(k, _)| !k.contains("participants"))
            .map(|(k, v)| {
                let before = b.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                (k.trim_start_matches("fussioncord_voice_").to_owned(), json!(v.as_f64().unwrap_or(0.0) - before))
            })
            .collect();
        let (sum, count) =
            (delta.get("forwarding_duration_seconds_sum"), delta.get("forwarding_duration_seconds_count"));
        if let (Some(sum), Some(count)) = (sum.and_then(Value::as_f64), count.and_then(Value::as_f64)) {
            // The server's own clock: one incoming packet, decrypted and
            // sent to every listener.
            report.result(
                "server_forwarding_mean_us_per_incoming",
                if count > 0.0 { round3(sum * 1e6 / count) } else { 0.0 },
            );
        }
        report.result("server_metrics_delta", Value::Object(delta));
    }

    let _ = stop.send(true);
    let mut ended_early = Vec::new();
    for t in tasks {
        if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), t).await {
            ended_early.push(format!("{e:#}"));
        }
    }
    if sent == 0 || received == 0 {
        report.fail(format!("no packet flowed: {sent} sent, {received} received"));
    }
    if decrypt_failed > 0 {
        report.fail(format!("{decrypt_failed} packets did not decrypt with the listener's key"));
    }
    if duplicated > 0 || foreign > 0 {
        report.fail(format!("{duplicated} duplicated and {foreign} foreign packets"));
    }
    if let Some(max) = args.max_loss {
        let pct = if expected > 0 { 100.0 * lost as f64 / expected as f64 } else { 0.0 };
        if pct > max {
            report.fail(format!("{pct:.3}% of packets lost (--max-loss {max})"));
        }
    }
    if !ended_early.is_empty() {
        let count = ended_early.len();
        ended_early.truncate(5);
        report.fail(format!("{count} connections ended before the run did: {ended_early:?}"));
    }
    target.finish(&report);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_open_what_they_sealed_and_nothing_else() {
        for mode in [Mode::Aes256Gcm, Mode::Xchacha20Poly1305] {
            let key = [7u8; 32];
            let (a, b) = (Cipher::new(mode, &key).unwrap(), Cipher::new(mode, &key).unwrap());
            let header = [0x80, 0x78, 0, 1, 0, 0, 3, 192, 0, 0, 0, 42];
            let mut body = b"opus frame".to_vec();
            let tag = a.seal(5, &header, &mut body);
            assert_ne!(&body[..], b"opus frame");
            let mut wrong = body.clone();
            assert!(!b.open(6, &header, &mut wrong, &tag), "{mode:?}: another counter");
            assert!(b.open(5, &header, &mut body, &tag), "{mode:?}");
            assert_eq!(&body[..], b"opus frame");
        }
    }
}
