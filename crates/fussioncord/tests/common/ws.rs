//! A plain gateway client for tests: connects with any compression,
//! inflates what the server sends, and speaks the opcodes by hand.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub enum Inflate {
    Plain,
    Zlib(flate2::Decompress),
    Zstd(zstd::stream::raw::Decoder<'static>),
    /// IDENTIFY with `compress: true`: each binary message a whole zlib stream.
    PerMessage,
}

/// What the server did next.
#[derive(Debug)]
pub enum Received {
    Payload(Value),
    Closed(Option<u16>),
}

/// A gateway connection over any stream: plain TCP by default, or TLS
/// (`wss://` through a load balancer, tests/suite/load_balancer.rs).
pub struct Gateway<S = MaybeTlsStream<TcpStream>> {
    ws: WebSocketStream<S>,
    inflate: Inflate,
    /// Last `s` seen.
    pub seq: Option<u64>,
    pub session_id: Option<String>,
    /// Raw bytes received (compressed, as on the wire).
    pub wire_bytes: usize,
    /// Speaks `encoding=etf`: payloads go out and come in as ETF.
    pub etf: bool,
    /// Sends JSON in binary frames rather than text frames.
    pub binary: bool,
}

pub const ALL_INTENTS: u64 = 0b11_0011_0001_1111_1111_1111_1111;

impl Gateway {
    /// Connects to `ws://addr/?v=10&encoding=json` plus `extra` query.
    pub async fn connect(addr: &str, extra: &str) -> Self {
        Self::connect_query(addr, &format!("v=10&encoding=json{extra}")).await
    }

    /// Connects to `ws://addr/?{query}`.
    pub async fn connect_query(addr: &str, query: &str) -> Self {
        let url = format!("ws://{addr}/?{query}");
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("gateway accepts the connection");
        let inflate = if query.contains("compress=zlib-stream") {
            Inflate::Zlib(flate2::Decompress::new(true))
        } else if query.contains("compress=zstd-stream") {
            Inflate::Zstd(zstd::stream::raw::Decoder::new().unwrap())
        } else {
            Inflate::Plain
        };
        let etf = query.contains("encoding=etf");
        Self { ws, inflate, seq: None, session_id: None, wire_bytes: 0, etf, binary: false }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Gateway<S> {
    pub fn from_stream(ws: WebSocketStream<S>) -> Self {
        Self { ws, inflate: Inflate::Plain, seq: None, session_id: None, wire_bytes: 0, etf: false, binary: false }
    }

    pub fn per_message_compression(&mut self) {
        self.inflate = Inflate::PerMessage;
    }

    pub async fn send(&mut self, payload: Value) {
        let message = if self.etf {
            Message::Binary(super::etf::encode(&payload).into())
        } else if self.binary {
            Message::Binary(payload.to_string().into_bytes().into())
        } else {
            Message::Text(payload.to_string().into())
        };
        self.ws.send(message).await.expect("send");
    }

    pub async fn send_raw(&mut self, text: String) {
        let _ = self.ws.send(Message::Text(text.into())).await;
    }

    fn decode(&mut self, data: &[u8]) -> Value {
        let text: Vec<u8> = match &mut self.inflate {
            Inflate::Plain => data.to_vec(),
            Inflate::Zlib(z) => {
                assert!(data.ends_with(&[0, 0, 0xff, 0xff]), "zlib-stream messages end with the sync-flush marker");
                let mut out = Vec::with_capacity(data.len() * 4 + 256);
                let start = z.total_in();
                loop {
                    let consumed = (z.total_in() - start) as usize;
                    z.decompress_vec(&data[consumed..], &mut out, flate2::FlushDecompress::Sync).expect("inflate");
                    if (z.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                        break;
                    }
                    out.reserve(out.capacity().max(1024));
                }
                out
            }
            Inflate::Zstd(d) => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut out = Vec::new();
                let mut input = InBuffer::around(data);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let mut output = OutBuffer::around(&mut buf[..]);
                    d.run(&mut input, &mut output).expect("zstd decode");
                    let n = output.pos();
                    out.extend_from_slice(&buf[..n]);
                    if input.pos() == data.len() && n < buf.len() {
                        break;
                    }
                }
                out
            }
            Inflate::PerMessage => {
                use std::io::Read;
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(data).read_to_end(&mut out).expect("zlib message");
                out
            }
        };
        if self.etf {
            return super::etf::decode(&text);
        }
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&text)))
    }

    /// The next payload or close, within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Received> {
        loop {
            let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Received::Closed(None)),
                Ok(Some(Err(_))) => return Some(Received::Closed(None)),
                Ok(Some(Ok(m))) => m,
            };
            let value = match msg {
                Message::Text(t) => {
                    self.wire_bytes += t.len();
                    match &self.inflate {
                        Inflate::Plain | Inflate::PerMessage => serde_json::from_str(&t).expect("text payload is JSON"),
                        _ => panic!("a text frame on a compressed stream"),
                    }
                }
                Message::Binary(b) => {
                    self.wire_bytes += b.len();
                    self.decode(&b)
                }
                Message::Close(frame) => return Some(Received::Closed(frame.map(|f| u16::from(f.code)))),
                _ => continue,
            };
            if let Some(s) = value["s"].as_u64() {
                self.seq = Some(s);
            }
            return Some(Received::Payload(value));
        }
    }

    /// The dispatches that come until `quiet` passes without one.
    pub async fn dispatches(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(Received::Payload(p)) = self.next_within(quiet).await {
            if p["op"] == 0 {
                out.push(p);
            }
        }
        out
    }

    pub async fn next(&mut self) -> Value {
        match self.next_within(Duration::from_secs(10)).await {
            Some(Received::Payload(v)) => v,
            other => panic!("expected a payload, got {other:?}"),
        }
    }

    /// Skips payloads until a dispatch named `name`.
    pub async fn dispatch(&mut self, name: &str) -> Value {
        loop {
            let p = self.next().await;
            if p["op"] == 0 && p["t"] == name {
                return p;
            }
        }
    }

    /// Waits for the server to close the connection; returns the code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next_within(Duration::from_secs(10)).await {
                Some(Received::Closed(code)) => return code,
                Some(Received::Payload(_)) => continue,
                None => panic!("the server did not close the connection"),
            }
        }
    }

    pub async fn hello(&mut self) -> u64 {
        let hello = self.next().await;
        assert_eq!(hello["op"], 10, "{hello}");
        hello["d"]["heartbeat_interval"].as_u64().unwrap()
    }

    /// HELLO, IDENTIFY, READY: returns READY's `d`.
    pub async fn identify(&mut self, token: &str, intents: u64) -> Value {
        self.identify_with(json!({ "token": token, "intents": intents, "properties": {"os": "linux", "browser": "test", "device": "test"} }))
            .await
    }

    pub async fn identify_with(&mut self, d: Value) -> Value {
        self.hello().await;
        self.send(json!({ "op": 2, "d": d })).await;
        let ready = self.dispatch("READY").await;
        self.session_id = Some(ready["d"]["session_id"].as_str().unwrap().to_owned());
        ready["d"].clone()
    }

    pub async fn heartbeat(&mut self) {
        let seq = self.seq;
        self.send(json!({ "op": 1, "d": seq })).await;
    }

    pub async fn close(&mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Library(4000),
                reason: "".into(),
            }))
            .await;
    }

    /// Drops the TCP connection without a close handshake.
    pub fn cut(self) {
        drop(self.ws);
    }
}
