//! Discord's voice server: the voice gateway (v8, JSON over a TLS
//! WebSocket) admits the members the domain put in a voice channel, and one
//! UDP socket carries everyone's media: each RTP packet is decrypted with
//! its sender's key and re-encrypted for every listener in the same
//! channel with theirs. A transport, like `api` and `gateway`: the rules
//! (who may join, speak, hear) are the domain's `VoiceStates`; this crate
//! follows `VOICE_STATE_UPDATE` on the bus to apply them to connections.
//!
//! The web client speaks the same voice gateway (also served on the main
//! HTTP port at `/voice`, see [`VoiceGateway`]) and sends its media over
//! WebRTC on a UDP socket of its own (`webrtc`), bridged with the Discord
//! protocol participants of the same channel.
//!
//! End-to-end encryption (DAVE) is not spoken: SESSION_DESCRIPTION says
//! `dave_protocol_version: 0` and the DAVE opcodes (21–31) are ignored.

mod config;
mod crypto;
mod follow;
mod gateway;
mod relay;
mod state;
mod tls;
mod udp;
mod webrtc;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use config::VoiceConfig;

/// Why the voice server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("voice TLS: {0}")]
    Tls(String),
    #[error("voice.public_ip must be set when the media socket's IP is not IPv4 ({0})")]
    NotIpv4(IpAddr),
}

/// Where the voice server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// The voice gateway (TLS WebSocket).
    pub gateway: SocketAddr,
    /// The media socket.
    pub udp: SocketAddr,
    /// The web client's WebRTC media socket.
    pub webrtc: SocketAddr,
    /// What VOICE_SERVER_UPDATE names (`host:port`).
    pub endpoint: String,
    /// What READY names as the media IP.
    pub public_ip: Ipv4Addr,
}

/// The voice server's sockets, bound but not serving yet: binding comes
/// first so the domain can be told the real endpoint.
pub struct Listeners {
    config: VoiceConfig,
    tcp: TcpListener,
    udp: UdpSocket,
    webrtc: UdpSocket,
    tls: TlsAcceptor,
    addresses: Addresses,
}

impl Listeners {
    pub async fn bind(config: &VoiceConfig, data_dir: &Path) -> Result<Self, Error> {
        let tcp = TcpListener::bind(config.listen).await.map_err(|e| Error::Bind(config.listen, e))?;
        let gateway = tcp.local_addr().map_err(|e| Error::Bind(config.listen, e))?;
        let udp_at = SocketAddr::new(config.listen.ip(), config.udp_port);
        let udp = UdpSocket::bind(udp_at).await.map_err(|e| Error::Bind(udp_at, e))?;
        let udp_addr = udp.local_addr().map_err(|e| Error::Bind(udp_at, e))?;
        let webrtc_at = SocketAddr::new(config.listen.ip(), config.webrtc_udp_port);
        let webrtc = UdpSocket::bind(webrtc_at).await.map_err(|e| Error::Bind(webrtc_at, e))?;
        let webrtc_addr = webrtc.local_addr().map_err(|e| Error::Bind(webrtc_at, e))?;
        let public_ip = match (config.public_ip, udp_addr.ip()) {
            (Some(ip), _) => ip,
            (None, IpAddr::V4(ip)) if ip.is_unspecified() => Ipv4Addr::LOCALHOST,
            (None, IpAddr::V4(ip)) => ip,
            (None, other) => return Err(Error::NotIpv4(other)),
        };
        let endpoint = config.endpoint.clone().unwrap_or_else(|| {
            let host = if gateway.ip().is_unspecified() { IpAddr::V4(public_ip) } else { gateway.ip() };
            SocketAddr::new(host, gateway.port()).to_string()
        });
        let host = endpoint_host(&endpoint);
        let tls = tls::acceptor(config, data_dir, host)?;
        let addresses = Addresses { gateway, udp: udp_addr, webrtc: webrtc_addr, endpoint, public_ip };
        Ok(Self { config: config.clone(), tcp, udp, webrtc, tls, addresses })
    }

    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// Starts serving for `domain`: the voice gateway, the media socket and
    /// the task following voice state changes.
    pub fn start(self, domain: &domain::Domain) -> VoiceServer {
        let (stop, stopped) = watch::channel(false);
        let udp = Arc::new(self.udp);
        let (webrtc, commands) = mpsc::channel(webrtc::COMMAND_QUEUE);
        let shared = Arc::new(Shared {
            config: self.config,
            addresses: self.addresses.clone(),
            voice: domain.voice.clone(),
            metrics: domain.metrics.clone(),
            registry: state::Registry::default(),
            udp: udp.clone(),
            webrtc,
            connections: AtomicU64::new(0),
            stopped: stopped.clone(),
        });
        let tasks = vec![
            tokio::spawn(gateway::accept(shared.clone(), self.tcp, self.tls)),
            tokio::spawn(udp::serve(shared.clone())),
            tokio::spawn(webrtc::serve(shared.clone(), Arc::new(self.webrtc), commands)),
            tokio::spawn(follow::follow(shared.clone(), domain.bus.subscribe())),
        ];
        tracing::info!(gateway = %self.addresses.gateway, udp = %self.addresses.udp, endpoint = %self.addresses.endpoint, "voice listening");
        VoiceServer { addresses: self.addresses, shared, stop, tasks }
    }
}

/// `host` of `host:port` (`[v6]:port` too).
fn endpoint_host(endpoint: &str) -> &str {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A running voice server.
pub struct VoiceServer {
    addresses: Addresses,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl VoiceServer {
    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// The voice gateway, for connections accepted elsewhere.
    pub fn gateway(&self) -> VoiceGateway {
        VoiceGateway { shared: self.shared.clone() }
    }

    /// Stops accepting, closes every voice connection (4015, "voice server
    /// crashed": clients try to resume, elsewhere or once we are back) and
    /// the media socket.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for s in self.shared.registry.all() {
            self.shared.registry.remove(&s, Some((4015, "Voice server stopping")));
        }
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        self.shared.metrics.voice_participants(0);
    }
}

/// The voice gateway for WebSocket connections another listener upgraded:
/// the web client reaches it on the main HTTP port (`/voice`, same origin)
/// without trusting the voice TLS certificate.
#[derive(Clone)]
pub struct VoiceGateway {
    shared: Arc<Shared>,
}

impl VoiceGateway {
    /// Serves one connection whose HTTP upgrade to WebSocket was answered.
    pub async fn serve<S>(&self, io: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        gateway::serve_upgraded(self.shared.clone(), io).await;
    }

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
    pub fn accept_key(key: &[u8]) -> String {
        tokio_tungstenite::tungstenite::handshake::derive_accept_key(key)
    }
}

/// What every task of the voice server shares.
pub(crate) struct Shared {
    config: VoiceConfig,
    addresses: Addresses,
    voice: Arc<domain::voice::VoiceStates>,
    metrics: Arc<telemetry::Metrics>,
    registry: state::Registry,
    udp: Arc<UdpSocket>,
    webrtc: mpsc::Sender<webrtc::Command>,
    /// Numbers voice gateway connections.
    connections: AtomicU64,
    stopped: watch::Receiver<bool>,
}

impl Shared {
    fn participants_changed(&self) {
        self.metrics.voice_participants(self.registry.len());
    }
}
