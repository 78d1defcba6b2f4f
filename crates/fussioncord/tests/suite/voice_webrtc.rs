//! The web client's voice path, without a browser: a str0m peer (full ICE,
//! as a browser is) signals over `/voice` on the main HTTP port and meets a
//! Discord-protocol client (encrypted RTP over the voice UDP socket) in the
//! same channel. Opus goes both ways through the bridge, byte for byte.
//! (Browser ↔ browser audio and video: web/e2e/voice-media.test.mjs.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::voice::{join, Joined, VoiceClient, XCHACHA};
use crate::common::{TestApp, TestUser};

/// A WebRTC participant as the web client is one: the voice gateway on the
/// main port, one offer with a send-only microphone, then answers to the
/// server's offers (op 40 → op 41).
struct Browser {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    rtc: Rtc,
    udp: UdpSocket,
    local: SocketAddr,
    mic: Mid,
    pending: Option<SdpPendingOffer>,
    /// READY's SSRC: how bots see this participant.
    ssrc: u32,
    connected: bool,
    /// op 40's tracks: mid → user id.
    tracks: Vec<(String, String)>,
    /// Opus frames received: (mid, bytes).
    frames: Vec<(String, Vec<u8>)>,
    deadline: Instant,
}

impl Browser {
    async fn connect(app: &TestApp, joined: &Joined) -> Self {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/voice", app.addr())).await.expect("/voice upgrades");
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = udp.local_addr().unwrap();
        let mut rtc = Rtc::builder().clear_codecs().enable_opus(true, false).build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let mic = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let identify = json!({ "op": 0, "d": {
            "server_id": joined.guild, "user_id": joined.user.id, "session_id": joined.session_id,
            "token": joined.token, "max_dave_protocol_version": 0,
        }});
        ws.send(Message::Text(identify.to_string().into())).await.unwrap();
        let mut b = Self {
            ws,
            rtc,
            udp,
            local,
            mic,
            pending: Some(pending),
            ssrc: 0,
            connected: false,
            tracks: Vec::new(),
            frames: Vec::new(),
            deadline: Instant::now(),
        };
        let ready = b.frame(2).await;
        b.ssrc = ready["d"]["ssrc"].as_u64().expect("READY names an SSRC") as u32;
        let sdp = offer.to_sdp_string();
        b.send(json!({ "op": 1, "d": { "protocol": "webrtc", "data": sdp, "sdp": sdp } })).await;
        let description = b.frame(4).await;
        assert_eq!(description["d"]["mode"], "webrtc", "{description}");
        assert_eq!(description["d"]["dave_protocol_version"], 0, "{description}");
        let answer = SdpAnswer::from_sdp_string(description["d"]["sdp"].as_str().expect("an answer")).unwrap();
        let text = answer.to_sdp_string();
        assert!(text.contains("a=ice-lite"), "the server is ICE-lite: {text}");
        let pending = b.pending.take().unwrap();
        b.rtc.sdp_api().accept_answer(pending, answer).expect("the answer applies");
        b.drive();
        b
    }

    async fn send(&mut self, v: Value) {
        self.ws.send(Message::Text(v.to_string().into())).await.unwrap();
    }

    /// The next voice gateway frame with opcode `op` (others are handled).
    async fn frame(&mut self, op: u64) -> Value {
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(until, self.ws.next()).await.expect("frame in time");
            let Some(Ok(Message::Text(t))) = msg else { panic!("voice gateway closed: {msg:?}") };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["op"] == op {
                return v;
            }
            self.server_frame(v).await;
        }
    }

    async fn server_frame(&mut self, v: Value) {
        if v["op"] != 40 {
            return;
        }
        let offer = SdpOffer::from_sdp_string(v["d"]["sdp"].as_str().unwrap()).unwrap();
        let answer = self.rtc.sdp_api().accept_offer(offer).expect("the server's offer applies");
        self.drive();
        self.tracks = v["d"]["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["mid"].as_str().unwrap().to_owned(), t["user_id"].as_str().unwrap().to_owned()))
            .collect();
        let answer = json!({ "op": 41, "d": { "revision": v["d"]["revision"], "sdp": answer.to_sdp_string() } });
        self.send(answer).await;
    }

    fn drive(&mut self) {
        loop {
            match self.rtc.poll_output().expect("rtc") {
                Output::Timeout(t) => {
                    self.deadline = t;
                    return;
                }
                Output::Transmit(t) => {
                    let _ = self.udp.try_send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaData(d)) => self.frames.push((d.mid.to_string(), d.data.to_vec())),
                Output::Event(_) => {}
            }
        }
    }

    /// Runs the peer for `d`: signalling, packets and timers.
    async fn pump(&mut self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        let mut buf = vec![0u8; 2048];
        loop {
            let timer = tokio::time::Instant::from_std(self.deadline.max(Instant::now()));
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                msg = self.ws.next() => {
                    if let Some(Ok(Message::Text(t))) = msg {
                        self.server_frame(serde_json::from_str(&t).unwrap()).await;
                    }
                }
                r = self.udp.recv_from(&mut buf) => {
                    let (n, from) = r.unwrap();
                    if let Ok(rcv) = Receive::new(Protocol::Udp, from, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), rcv));
                    }
                }
                () = tokio::time::sleep_until(timer) => self.rtc.handle_input(Input::Timeout(Instant::now())).unwrap(),
            }
            self.drive();
        }
    }

    async fn pump_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        for _ in 0..200 {
            if done(self) {
                return;
            }
            self.pump(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn send_opus(&mut self, n: u64, frame: &[u8]) {
        let w = self.rtc.writer(self.mic).expect("the mic is negotiated");
        let pt = w.payload_params().find(|p| p.spec().codec == Codec::Opus).unwrap().pt();
        w.write(pt, Instant::now(), MediaTime::new(960 * n, Frequency::FORTY_EIGHT_KHZ), frame.to_vec()).unwrap();
        self.drive();
    }
}

fn opus(i: u8) -> Vec<u8> {
    // A TOC byte, then a body the server never looks into.
    let mut f = vec![0xfc];
    f.extend((0..60).map(|j| i.wrapping_mul(13).wrapping_add(j)));
    f
}

/// Alice's guild with a voice channel, and Bob a member.
async fn room(app: &TestApp) -> (TestUser, TestUser, String, String) {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, text) = app.guild(&alice, "Bridge").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&alice, &text, &bob).await;
    let (status, channel) =
        app.post(&format!("/guilds/{guild}/channels"), &alice.token, json!({ "name": "Lounge", "type": 2 })).await;
    assert!(status.is_success(), "{channel}");
    (alice, bob, guild, channel["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_webrtc_participant_and_a_discord_protocol_client_hear_each_other() {
    let app = TestApp::spawn().await;
    let (alice, bob, guild, voice) = room(&app).await;

    // Alice is a bot library's connection; Bob is a browser.
    let a_main = join(&app, &alice, &guild, &voice).await;
    let mut a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let b_main = join(&app, &bob, &guild, &voice).await;
    let mut b = Browser::connect(&app, &b_main).await;
    assert_ne!(b.ssrc, a.ssrc);

    // The server offers Bob a track for Alice's audio, and ICE + DTLS come up.
    b.pump_until("a track for Alice and a connection", |b| {
        b.connected && b.tracks.iter().any(|(_, user)| *user == alice.id)
    })
    .await;
    let alice_mid = b.tracks.iter().find(|(_, u)| *u == alice.id).unwrap().0.clone();

    // Alice → Bob: her encrypted RTP arrives as the same Opus frames, on her track.
    a.speaking(true).await;
    for i in 0..25u8 {
        a.send_audio(&opus(i)).await;
        b.pump(Duration::from_millis(20)).await;
    }
    b.pump_until("Alice's frames", |b| b.frames.len() >= 20).await;
    for (mid, _) in &b.frames {
        assert_eq!(*mid, alice_mid, "on the track announced for Alice");
    }
    let got: Vec<&Vec<u8>> = b.frames.iter().map(|(_, f)| f).collect();
    let sent: Vec<Vec<u8>> = (0..25u8).map(opus).collect();
    for f in &got {
        assert!(sent.contains(f), "a frame Alice sent, byte for byte: {f:?}");
    }

    // Bob → Alice: his Opus arrives as Discord RTP with his SSRC, after an
    // op 5 that maps it to him.
    for i in 0..25u8 {
        b.send_opus(u64::from(i), &opus(100 + i));
        b.pump(Duration::from_millis(20)).await;
    }
    let speaking = a.ws.find(|v| v["op"] == 5 && v["d"]["user_id"] == bob.id.as_str() && v["d"]["speaking"] == 1).await;
    assert_eq!(speaking["d"]["ssrc"], b.ssrc, "{speaking}");
    let mut heard = Vec::new();
    while let Some(p) = a.receive(Duration::from_millis(500)).await {
        assert_eq!(p.ssrc, b.ssrc, "Bob's SSRC from READY");
        assert_eq!(p.header[1] & 0x7f, 0x78, "Opus as Discord sends it (PT 120)");
        heard.push(p.payload);
    }
    assert!(heard.len() >= 20, "Alice hears most of Bob's frames: {}", heard.len());
    // Bob went quiet: SPEAKING 0 follows.
    b.pump(Duration::from_millis(800)).await;
    let quiet = a.ws.find(|v| v["op"] == 5 && v["d"]["user_id"] == bob.id.as_str() && v["d"]["speaking"] == 0).await;
    assert_eq!(quiet["d"]["ssrc"], b.ssrc, "{quiet}");
    let sent: Vec<Vec<u8>> = (0..25u8).map(|i| opus(100 + i)).collect();
    for f in &heard {
        assert!(sent.contains(f), "a frame Bob sent, byte for byte: {f:?}");
    }
}

#[tokio::test]
async fn a_browser_without_speak_is_not_forwarded_and_a_deafened_one_receives_nothing() {
    let app = TestApp::spawn().await;
    let (alice, bob, guild, voice) = room(&app).await;
    // Bob loses SPEAK in the channel.
    const SPEAK: u64 = 1 << 21;
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{voice}/permissions/{}", bob.id),
            Some(&alice.token),
            Some(json!({ "type": 1, "allow": "0", "deny": SPEAK.to_string() })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let a_main = join(&app, &alice, &guild, &voice).await;
    let mut a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let mut b_main = join(&app, &bob, &guild, &voice).await;
    let mut b = Browser::connect(&app, &b_main).await;
    b.pump_until("a connection and Alice's track", |b| b.connected && !b.tracks.is_empty()).await;

    for i in 0..10u8 {
        b.send_opus(u64::from(i), &opus(i));
        b.pump(Duration::from_millis(20)).await;
    }
    assert!(a.receive(Duration::from_millis(300)).await.is_none(), "Bob may not speak here");

    // He still hears Alice...
    a.speaking(true).await;
    for i in 0..10u8 {
        a.send_audio(&opus(i)).await;
        b.pump(Duration::from_millis(20)).await;
    }
    b.pump_until("Alice's frames", |b| !b.frames.is_empty()).await;

    // ...until he deafens himself: then nothing reaches him.
    let d = json!({ "guild_id": guild, "channel_id": voice, "self_mute": true, "self_deaf": true });
    b_main.gateway.send(json!({ "op": 4, "d": d })).await;
    loop {
        let s = b_main.gateway.dispatch("VOICE_STATE_UPDATE").await;
        if s["d"]["user_id"] == bob.id.as_str() && s["d"]["self_deaf"] == true {
            break;
        }
    }
    // The voice server follows the same event on its own bus subscription.
    b.pump(Duration::from_millis(300)).await;
    let before = b.frames.len();
    for i in 0..25u8 {
        a.send_audio(&opus(i)).await;
        b.pump(Duration::from_millis(20)).await;
    }
    b.pump(Duration::from_millis(300)).await;
    assert_eq!(b.frames.len(), before, "a deafened browser receives nothing");
}

#[tokio::test]
async fn media_sockets_bound_to_every_interface_announce_the_public_ip() {
    let app = TestApp::spawn_with(|c| {
        c.voice.listen = "0.0.0.0:0".parse().unwrap();
        c.voice.public_ip = Some(std::net::Ipv4Addr::LOCALHOST);
    })
    .await;
    assert!(app.voice().webrtc.ip().is_unspecified(), "{:?}", app.voice());
    let (alice, bob, guild, voice) = room(&app).await;
    let _a_main = join(&app, &alice, &guild, &voice).await;
    let b_main = join(&app, &bob, &guild, &voice).await;
    let mut b = Browser::connect(&app, &b_main).await;
    b.pump_until("ICE and DTLS with the announced address", |b| b.connected).await;
}
