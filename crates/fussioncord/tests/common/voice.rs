//! A voice client for tests, written from Discord's voice documentation:
//! the main gateway's op 4, the voice gateway v8 over TLS (trusting the
//! harness's test CA), IP discovery and encrypted RTP over UDP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::ws::{Gateway, Received, ALL_INTENTS};
use super::{TestApp, TestUser};

/// Writes a test CA and a certificate it signed for 127.0.0.1 and
/// localhost into `dir/voice-tls/` (`ca.pem` too, for a bot library's
/// `NODE_EXTRA_CA_CERTS`, say); returns (cert path, key path, CA PEM).
pub fn tls_files(dir: &Path) -> (PathBuf, PathBuf, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "FussionCord test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let tls = dir.join("voice-tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (cert_path, key_path) = (tls.join("cert.pem"), tls.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::write(tls.join("ca.pem"), ca.pem()).unwrap();
    (cert_path, key_path, ca.pem())
}

pub const XCHACHA: &str = "aead_xchacha20_poly1305_rtpsize";
pub const AES_GCM: &str = "aead_aes256_gcm_rtpsize";

/// A member in a voice channel on the main gateway: what VOICE_STATE_UPDATE
/// and VOICE_SERVER_UPDATE told them.
pub struct Joined {
    pub gateway: Gateway,
    pub user: TestUser,
    pub guild: String,
    pub session_id: String,
    pub token: String,
    pub endpoint: String,
}

/// Opens a main gateway session for `user` and joins `channel` with op 4.
pub async fn join(app: &TestApp, user: &TestUser, guild: &str, channel: &str) -> Joined {
    let mut gateway = app.gateway("").await;
    gateway.identify(&user.token, ALL_INTENTS).await;
    gateway
        .send(json!({ "op": 4, "d": { "guild_id": guild, "channel_id": channel, "self_mute": false, "self_deaf": false } }))
        .await;
    let state = loop {
        let s = gateway.dispatch("VOICE_STATE_UPDATE").await;
        if s["d"]["user_id"] == user.id.as_str() {
            break s;
        }
    };
    assert_eq!(state["d"]["channel_id"], channel, "{state}");
    let server = gateway.dispatch("VOICE_SERVER_UPDATE").await;
    Joined {
        session_id: state["d"]["session_id"].as_str().unwrap().to_owned(),
        token: server["d"]["token"].as_str().unwrap().to_owned(),
        endpoint: server["d"]["endpoint"].as_str().expect("an endpoint").to_owned(),
        guild: guild.to_owned(),
        user: user.clone(),
        gateway,
    }
}

/// A voice gateway connection.
pub struct VoiceWs {
    ws: WebSocketStream<TlsStream<TcpStream>>,
    /// Every payload received so far, in order.
    pub log: Vec<Value>,
    read: usize,
}

impl VoiceWs {
    /// `wss://{endpoint}/?v=8`, trusting `ca_pem`.
    pub async fn connect(endpoint: &str, ca_pem: &str) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (host, _) = endpoint.rsplit_once(':').unwrap();
        let tcp = TcpStream::connect(endpoint).await.expect("voice gateway reachable");
        let name = ServerName::try_from(host.to_owned()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake");
        let (ws, _) =
            tokio_tungstenite::client_async(format!("wss://{endpoint}/?v=8"), tls).await.expect("WebSocket upgrade");
        Self { ws, log: Vec::new(), read: 0 }
    }

    pub async fn send(&mut self, payload: Value) {
        self.ws.send(Message::Text(payload.to_string().into())).await.expect("send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        let _ = self.ws.send(Message::Text(text.to_owned().into())).await;
    }

    async fn receive(&mut self, timeout: Duration) -> Option<Received> {
        loop {
            let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(Received::Closed(None)),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("JSON");
                    assert!(v.get("d").is_some(), "every frame has d: {v}");
                    self.log.push(v.clone());
                    return Some(Received::Payload(v));
                }
                Message::Close(frame) => return Some(Received::Closed(frame.map(|f| u16::from(f.code)))),
                _ => continue,
            }
        }
    }

    /// The next payload with opcode `op` (looking at what was received
    /// already but not yet taken first).
    pub async fn op(&mut self, op: u64) -> Value {
        while self.read < self.log.len() {
            self.read += 1;
            if self.log[self.read - 1]["op"] == op {
                return self.log[self.read - 1].clone();
            }
        }
        loop {
            match self.receive(Duration::from_secs(10)).await {
                Some(Received::Payload(v)) => {
                    self.read = self.log.len();
                    if v["op"] == op {
                        return v;
                    }
                }
                other => panic!("waiting for op {op}, got {other:?}; log: {:?}", self.log),
            }
        }
    }

    /// A payload matching `pred`, anywhere in what was received so far or next.
    pub async fn find(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        self.find_from(0, pred).await
    }

    /// A payload matching `pred` among those received from the `from`th on.
    pub async fn find_from(&mut self, from: usize, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.log.iter().skip(from).find(|v| pred(v)) {
            return v.clone();
        }
        loop {
            match self.receive(Duration::from_secs(10)).await {
                Some(Received::Payload(v)) if pred(&v) => return v,
                Some(Received::Payload(_)) => {}
                other => panic!("waiting for a payload, got {other:?}; log: {:?}", self.log),
            }
        }
    }

    /// Waits for the server to close; returns the code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.receive(Duration::from_secs(10)).await {
                Some(Received::Closed(code)) => return code,
                Some(Received::Payload(_)) => continue,
                None => panic!("the voice gateway did not close the connection; log: {:?}", self.log),
            }
        }
    }
}

enum Key {
    XChaCha(Box<chacha20poly1305::XChaCha20Poly1305>),
    Aes(Box<aes_gcm::Aes256Gcm>),
}

impl Key {
    fn new(mode: &str, key: &[u8]) -> Self {
        match mode {
            XCHACHA => Self::XChaCha(Box::new(chacha20poly1305::XChaCha20Poly1305::new_from_slice(key).unwrap())),
            AES_GCM => Self::Aes(Box::new(aes_gcm::Aes256Gcm::new_from_slice(key).unwrap())),
            other => panic!("unknown mode {other}"),
        }
    }

    fn seal(&self, counter: u32, aad: &[u8], payload: &mut Vec<u8>) {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        match self {
            Self::XChaCha(c) => c.encrypt_in_place((&nonce).into(), aad, payload).unwrap(),
            Self::Aes(c) => c.encrypt_in_place(nonce[..12].into(), aad, payload).unwrap(),
        }
    }

    fn open(&self, counter: u32, aad: &[u8], payload: &mut Vec<u8>) -> bool {
        let mut nonce = [0u8; 24];
        nonce[..4].copy_from_slice(&counter.to_be_bytes());
        match self {
            Self::XChaCha(c) => c.decrypt_in_place((&nonce).into(), aad, payload).is_ok(),
            Self::Aes(c) => c.decrypt_in_place(nonce[..12].into(), aad, payload).is_ok(),
        }
    }
}

/// One RTP packet received and decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtp {
    /// The header in clear: 12 bytes, plus the extension preamble.
    pub header: Vec<u8>,
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    pub payload: Vec<u8>,
}

/// A member connected to voice: the voice gateway and a UDP socket.
pub struct VoiceClient {
    pub ws: VoiceWs,
    pub udp: UdpSocket,
    pub server_udp: SocketAddr,
    pub ssrc: u32,
    pub user_id: String,
    key: Key,
    nonce: u32,
    sequence: u16,
    timestamp: u32,
}

impl VoiceClient {
    /// IDENTIFY, READY, IP discovery, SELECT_PROTOCOL in `mode`,
    /// SESSION_DESCRIPTION.
    pub async fn connect(app: &TestApp, joined: &Joined, mode: &str) -> Self {
        let mut ws = VoiceWs::connect(&joined.endpoint, &app.voice_ca).await;
        // Like discord.js: IDENTIFY at once, without waiting for HELLO.
        ws.send(json!({ "op": 0, "d": {
            "server_id": joined.guild, "user_id": joined.user.id, "session_id": joined.session_id,
            "token": joined.token, "max_dave_protocol_version": 0,
        }}))
        .await;
        let hello = ws.op(8).await;
        assert_eq!(hello["d"]["v"], 8, "{hello}");
        assert!(hello["d"]["heartbeat_interval"].as_u64().unwrap() <= 5000, "{hello}");
        let ready = ws.op(2).await;
        let d = &ready["d"];
        assert_eq!(d["modes"][0], AES_GCM, "AES-GCM, Discord's preferred mode, comes first: {ready}");
        assert!(d["modes"].as_array().unwrap().iter().any(|m| m == XCHACHA), "{ready}");
        let ssrc = d["ssrc"].as_u64().unwrap() as u32;
        let server_udp: SocketAddr = format!("{}:{}", d["ip"].as_str().unwrap(), d["port"]).parse().unwrap();

        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut discovery = [0u8; 74];
        discovery[..4].copy_from_slice(&[0, 1, 0, 70]);
        discovery[4..8].copy_from_slice(&ssrc.to_be_bytes());
        udp.send_to(&discovery, server_udp).await.unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(Duration::from_secs(10), udp.recv_from(&mut buf))
            .await
            .expect("IP discovery answered")
            .unwrap();
        assert_eq!(from, server_udp, "answered from the socket READY named");
        assert_eq!(n, 74);
        assert_eq!(&buf[..4], &[0, 2, 0, 70]);
        assert_eq!(&buf[4..8], &ssrc.to_be_bytes());
        let end = buf[8..72].iter().position(|b| *b == 0).unwrap();
        let address = std::str::from_utf8(&buf[8..8 + end]).unwrap().to_owned();
        let port = u16::from_be_bytes([buf[72], buf[73]]);
        assert_eq!(SocketAddr::new(address.parse().unwrap(), port), udp.local_addr().unwrap());

        ws.send(
            json!({ "op": 1, "d": { "protocol": "udp", "data": { "address": address, "port": port, "mode": mode } } }),
        )
        .await;
        let description = ws.op(4).await;
        assert_eq!(description["d"]["mode"], mode, "{description}");
        assert_eq!(description["d"]["dave_protocol_version"], 0, "{description}");
        let key: Vec<u8> =
            description["d"]["secret_key"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        assert_eq!(key.len(), 32);
        Self {
            ws,
            udp,
            server_udp,
            ssrc,
            user_id: joined.user.id.clone(),
            key: Key::new(mode, &key),
            nonce: 0,
            sequence: 1,
            timestamp: 0,
        }
    }

    pub async fn speaking(&mut self, on: bool) {
        self.ws.send(json!({ "op": 5, "d": { "speaking": u8::from(on), "delay": 0, "ssrc": self.ssrc } })).await;
    }

    /// The next RTP packet, encrypted with this client's key.
    pub fn packet(&mut self, opus: &[u8]) -> Vec<u8> {
        self.packet_with_extension(None, opus)
    }

    /// The next RTP packet; with `extension`, Discord-style: the X bit and
    /// the `BE DE length` preamble in clear, the extension body (whole
    /// 32-bit words) encrypted in front of the payload.
    pub fn packet_with_extension(&mut self, extension: Option<&[u8]>, opus: &[u8]) -> Vec<u8> {
        let mut header = vec![if extension.is_some() { 0x90 } else { 0x80 }, 0x78];
        header.extend_from_slice(&self.sequence.to_be_bytes());
        header.extend_from_slice(&self.timestamp.to_be_bytes());
        header.extend_from_slice(&self.ssrc.to_be_bytes());
        let mut body = Vec::new();
        if let Some(ext) = extension {
            assert_eq!(ext.len() % 4, 0);
            header.extend_from_slice(&[0xBE, 0xDE]);
            header.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
            body.extend_from_slice(ext);
        }
        body.extend_from_slice(opus);
        self.key.seal(self.nonce, &header, &mut body);
        header.extend_from_slice(&body);
        header.extend_from_slice(&self.nonce.to_be_bytes());
        self.nonce = self.nonce.wrapping_add(1);
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(960);
        header
    }

    pub async fn send_udp(&self, datagram: &[u8]) {
        self.udp.send_to(datagram, self.server_udp).await.unwrap();
    }

    pub async fn send_audio(&mut self, opus: &[u8]) {
        let packet = self.packet(opus);
        self.send_udp(&packet).await;
    }

    /// The next packet for this client, decrypted with its key; `None`
    /// when nothing comes within `timeout`.
    pub async fn receive(&self, timeout: Duration) -> Option<Rtp> {
        let mut buf = [0u8; 2048];
        let n = match tokio::time::timeout(timeout, self.udp.recv(&mut buf)).await {
            Err(_) => return None,
            Ok(r) => r.unwrap(),
        };
        let p = &buf[..n];
        assert!(n >= 12 + 16 + 4 && p[0] >> 6 == 2, "an RTP packet: {p:?}");
        let header = 12 + 4 * usize::from(p[0] & 0x0f) + if p[0] & 0x10 != 0 { 4 } else { 0 };
        let counter = u32::from_be_bytes(p[n - 4..].try_into().unwrap());
        let mut body = p[header..n - 4].to_vec();
        assert!(self.key.open(counter, &p[..header], &mut body), "decrypts with the listener's own key");
        Some(Rtp {
            header: p[..header].to_vec(),
            ssrc: u32::from_be_bytes(p[8..12].try_into().unwrap()),
            sequence: u16::from_be_bytes([p[2], p[3]]),
            timestamp: u32::from_be_bytes(p[4..8].try_into().unwrap()),
            payload: body,
        })
    }
}
