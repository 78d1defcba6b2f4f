use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[voice]`: where the voice gateway (TLS WebSocket) and the media socket
/// (UDP) listen, what address clients are told, and the TLS certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// Whether this server runs a voice server; without one,
    /// VOICE_SERVER_UPDATE carries `endpoint: null`.
    pub enabled: bool,
    /// Address of the voice gateway (WebSocket over TLS); port 0 picks one.
    pub listen: SocketAddr,
    /// UDP port for media, on `listen`'s IP; 0 picks one.
    pub udp_port: u16,
    /// UDP port for the web client's WebRTC media, on `listen`'s IP (a
    /// socket of its own: SRTP and Discord's RTP cannot be told apart by
    /// their bytes); 0 picks one. Its host candidate is `public_ip`.
    pub webrtc_udp_port: u16,
    /// IPv4 address READY announces for media, for a host behind 1:1 NAT;
    /// unset: the media socket's own IP (127.0.0.1 when bound to 0.0.0.0).
    pub public_ip: Option<Ipv4Addr>,
    /// `host:port` VOICE_SERVER_UPDATE names (clients dial `wss://` it);
    /// unset: the bound voice gateway address (with `public_ip` as host
    /// when it listens on 0.0.0.0).
    pub endpoint: Option<String>,
    /// PEM certificate chain and private key for the voice gateway. Unset:
    /// a self-signed certificate for the endpoint's host, generated once and
    /// kept in `data_dir/voice/` (clients must be told to trust it).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// HELLO's heartbeat interval; a connection that sends no heartbeat
    /// for three intervals is closed with 4009.
    pub heartbeat_interval_ms: u64,
    /// How long a dropped voice connection may be resumed (op 7) with its
    /// SSRC and key.
    pub resume_window_ms: u64,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            udp_port: 50000,
            webrtc_udp_port: 50001,
            public_ip: None,
            endpoint: None,
            tls_cert: None,
            tls_key: None,
            heartbeat_interval_ms: 5000,
            resume_window_ms: 15_000,
        }
    }
}
