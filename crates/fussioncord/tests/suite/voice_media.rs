//! The voice server: voice gateway v8 over TLS, IP discovery, and RTP
//! forwarded between a channel's participants, each packet decrypted with
//! its sender's key and encrypted again with each listener's.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::voice::{join, Joined, VoiceClient, VoiceWs, AES_GCM, XCHACHA};
use crate::common::{TestApp, TestUser};

/// Alice's guild with a voice channel, and Bob in it.
struct Room {
    alice: TestUser,
    bob: TestUser,
    guild: String,
    voice: String,
}

async fn room(app: &TestApp) -> Room {
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let (guild, text) = app.guild(&alice, "Voice").await;
    let guild = guild["id"].as_str().unwrap().to_owned();
    app.join(&alice, &text, &bob).await;
    let (status, channel) =
        app.post(&format!("/guilds/{guild}/channels"), &alice.token, json!({ "name": "Lounge", "type": 2 })).await;
    assert!(status.is_success(), "{channel}");
    Room { alice, bob, guild, voice: channel["id"].as_str().unwrap().to_owned() }
}

fn opus(i: u8) -> Vec<u8> {
    // Not real Opus: the server never looks inside.
    (0..40).map(|j| i.wrapping_mul(7).wrapping_add(j)).collect()
}

/// A metric's value from `/metrics` (summed over its labels).
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.client.get(format!("http://{}/metrics", app.addr())).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn two_participants_in_different_modes_hear_each_other_and_leaving_closes_with_4014() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    let mut a_main = join(&app, &r.alice, &r.guild, &r.voice).await;
    assert_eq!(a_main.endpoint, app.voice().endpoint);
    let mut a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let b_main = join(&app, &r.bob, &r.guild, &r.voice).await;
    let mut b = VoiceClient::connect(&app, &b_main, AES_GCM).await;

    // Each learns of the other: op 11 both ways; Bob, who came later, gets
    // op 5 for Alice at once, so he can map her SSRC before she speaks.
    let told = b.ws.find(|v| v["op"] == 11).await;
    assert_eq!(told["d"]["user_ids"], json!([r.alice.id]), "{told}");
    let mapped = b.ws.find(|v| v["op"] == 5).await;
    assert_eq!(mapped["d"]["user_id"], r.alice.id.as_str(), "{mapped}");
    assert_eq!(mapped["d"]["ssrc"], a.ssrc, "{mapped}");
    let told = a.ws.find(|v| v["op"] == 11).await;
    assert_eq!(told["d"]["user_ids"], json!([r.bob.id]), "{told}");

    a.speaking(true).await;
    let speaking = b.ws.find(|v| v["op"] == 5 && v["d"]["speaking"] == 1).await;
    assert_eq!(speaking["d"]["ssrc"], a.ssrc, "{speaking}");
    assert_eq!(speaking["d"]["user_id"], r.alice.id.as_str(), "{speaking}");

    for i in 0..50u8 {
        a.send_audio(&opus(i)).await;
    }
    for i in 0..50u8 {
        let p = b.receive(Duration::from_secs(5)).await.unwrap_or_else(|| panic!("packet {i} forwarded"));
        assert_eq!(p.ssrc, a.ssrc);
        assert_eq!(p.sequence, 1 + u16::from(i));
        assert_eq!(p.timestamp, 960 * u32::from(i));
        assert_eq!(p.payload, opus(i), "packet {i}: the same Opus bytes");
    }
    // A header extension arrives as sent: preamble in clear, body encrypted.
    let ext = [0x10, 0xAA, 0xBB, 0x00, 0x21, 0x01, 0x02, 0x00];
    let packet = a.packet_with_extension(Some(&ext), &opus(77));
    a.send_udp(&packet).await;
    let p = b.receive(Duration::from_secs(5)).await.expect("the packet with an extension");
    assert_eq!(p.header, packet[..16].to_vec());
    assert_eq!(p.payload, [&ext[..], &opus(77)].concat());
    // Nobody hears themselves.
    assert!(a.receive(QUIET).await.is_none());
    // And the other way round, AES-GCM to XChaCha.
    b.speaking(true).await;
    b.send_audio(&opus(200)).await;
    let p = a.receive(Duration::from_secs(5)).await.expect("Bob's packet reaches Alice");
    assert_eq!((p.ssrc, p.payload), (b.ssrc, opus(200)));

    // Heartbeats are echoed; server frames are numbered.
    a.ws.send(json!({ "op": 3, "d": { "t": 1501184119561u64, "seq_ack": 3 } })).await;
    let ack = a.ws.op(6).await;
    assert_eq!(ack["d"], json!({ "t": 1501184119561u64 }));
    assert!(ack["seq"].as_u64().unwrap() > 1, "{ack}");
    assert_eq!(a.ws.log[0]["seq"], 1, "{:?}", a.ws.log);

    assert_eq!(metric(&app, "fussioncord_voice_participants").await, 2.0);
    assert!(metric(&app, "fussioncord_voice_packets_out_total").await >= 51.0);

    // Alice leaves on the main gateway: her voice connection is closed
    // with 4014 and Bob is told.
    a_main.gateway.send(json!({ "op": 4, "d": { "guild_id": r.guild, "channel_id": null, "self_mute": false, "self_deaf": false } })).await;
    assert_eq!(a.ws.closed().await, Some(4014));
    let gone = b.ws.find(|v| v["op"] == 13).await;
    assert_eq!(gone["d"]["user_id"], r.alice.id.as_str(), "{gone}");
    // Her packets go nowhere now.
    a.send_audio(&opus(1)).await;
    assert!(b.receive(QUIET).await.is_none());
}

async fn identify(ws: &mut VoiceWs, j: &Joined, token: &str) {
    ws.send(json!({ "op": 0, "d": {
        "server_id": j.guild, "user_id": j.user.id, "session_id": j.session_id, "token": token,
        "max_dave_protocol_version": 1,
    }}))
    .await;
}

#[tokio::test]
async fn the_voice_gateway_refuses_what_discord_refuses() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    let j = join(&app, &r.alice, &r.guild, &r.voice).await;
    let endpoint = app.voice().endpoint.clone();

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, "not the token").await;
    assert_eq!(ws.closed().await, Some(4004), "wrong token");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    ws.send(
        json!({ "op": 1, "d": { "protocol": "udp", "data": { "address": "127.0.0.1", "port": 1, "mode": XCHACHA } } }),
    )
    .await;
    assert_eq!(ws.closed().await, Some(4003), "before IDENTIFY");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    ws.send_raw("{\"op\": 0, \"d\": {").await;
    assert_eq!(ws.closed().await, Some(4002), "not JSON");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    ws.send_raw(&format!(r#"{{"op":0,"d":{{"server_id":"{}","pad":"{}"}}}}"#, j.guild, "x".repeat(5000))).await;
    assert_eq!(ws.closed().await, Some(4002), "too large");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    ws.send(json!({ "op": 99, "d": null })).await;
    assert_eq!(ws.closed().await, Some(4001), "unknown opcode");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, &j.token).await;
    ws.op(2).await;
    identify(&mut ws, &j, &j.token).await;
    assert_eq!(ws.closed().await, Some(4005), "a second IDENTIFY");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, &j.token).await;
    ws.op(2).await;
    ws.send(json!({ "op": 1, "d": { "protocol": "udp", "data": { "address": "127.0.0.1", "port": 1, "mode": "xsalsa20_poly1305" } } }))
        .await;
    assert_eq!(ws.closed().await, Some(4016), "unknown mode");

    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, &j.token).await;
    ws.op(2).await;
    ws.send(json!({ "op": 1, "d": { "protocol": "quic", "data": "v=0" } })).await;
    assert_eq!(ws.closed().await, Some(4012), "unknown protocol");

    // WebRTC (the web client's) needs a real SDP offer.
    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, &j.token).await;
    ws.op(2).await;
    ws.send(json!({ "op": 1, "d": { "protocol": "webrtc", "data": "v=0" } })).await;
    assert_eq!(ws.closed().await, Some(4020), "an offer that is no SDP");

    // A connection that dropped may be resumed with its session.
    let mut client = VoiceClient::connect(&app, &j, XCHACHA).await;
    let ssrc = client.ssrc;
    drop(client.ws);
    let mut ws = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    ws.send(
        json!({ "op": 7, "d": { "server_id": j.guild, "session_id": j.session_id, "token": j.token, "seq_ack": 4 } }),
    )
    .await;
    let resumed = ws.op(9).await;
    assert_eq!(resumed["d"], Value::Null);
    client.ws = ws;
    assert_eq!(client.ssrc, ssrc);
    let mut other = VoiceWs::connect(&endpoint, &app.voice_ca).await;
    other
        .send(json!({ "op": 7, "d": { "server_id": j.guild, "session_id": "nope", "token": j.token, "seq_ack": 4 } }))
        .await;
    assert_eq!(other.closed().await, Some(4006), "resume of an unknown session");
}

#[tokio::test]
async fn bad_media_is_dropped_counted_and_forwards_nothing() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    let a_main = join(&app, &r.alice, &r.guild, &r.voice).await;
    let mut a = VoiceClient::connect(&app, &a_main, AES_GCM).await;
    let b_main = join(&app, &r.bob, &r.guild, &r.voice).await;
    let b = VoiceClient::connect(&app, &b_main, XCHACHA).await;
    a.speaking(true).await;
    let failures_before = metric(&app, "fussioncord_voice_decrypt_failures_total").await;

    let good = a.packet(&opus(1));
    a.send_udp(&good).await;
    assert_eq!(b.receive(Duration::from_secs(5)).await.expect("the good packet").payload, opus(1));

    // Replayed.
    a.send_udp(&good).await;
    // Short, empty-ish, not RTP version 2, keepalive-sized.
    for junk in [&[1u8, 2, 3][..], &[0x80; 12][..], &[0x40; 40][..], &[0u8; 8][..], &[0x8f; 40][..]] {
        a.send_udp(junk).await;
    }
    // Tampered ciphertext, tampered header (AAD).
    let mut tampered = a.packet(&opus(2));
    tampered[14] ^= 1;
    a.send_udp(&tampered).await;
    let mut tampered = a.packet(&opus(3));
    tampered[5] ^= 1;
    a.send_udp(&tampered).await;
    // Unknown SSRC.
    let mut stranger_packet = a.packet(&opus(4));
    stranger_packet[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    a.send_udp(&stranger_packet).await;

    // A stranger bursts IP discovery with Alice's SSRC and with an unknown
    // one: a few answers for the known SSRC at most, none for the other,
    // and Alice's media address stays hers.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for ssrc in [a.ssrc, 0xdead_beef] {
        let mut discovery = [0u8; 74];
        discovery[..4].copy_from_slice(&[0, 1, 0, 70]);
        discovery[4..8].copy_from_slice(&ssrc.to_be_bytes());
        for _ in 0..30 {
            stranger.send_to(&discovery, a.server_udp).await.unwrap();
        }
    }
    let mut answers = 0;
    let mut buf = [0u8; 128];
    while let Ok(Ok((n, _))) = tokio::time::timeout(QUIET, stranger.recv_from(&mut buf)).await {
        assert_eq!(n, 74);
        assert_eq!(&buf[4..8], &a.ssrc.to_be_bytes(), "no answer for an unknown SSRC");
        answers += 1;
    }
    assert!(answers <= 5, "discovery is rate limited per source: {answers} answers");

    // Only the next good packet comes through.
    a.send_audio(&opus(5)).await;
    let p = b.receive(Duration::from_secs(5)).await.expect("the next good packet");
    assert_eq!(p.payload, opus(5), "nothing bad was forwarded before it");
    assert!(b.receive(QUIET).await.is_none());
    // Bob's media still reaches Alice at her own address.
    let mut b = b;
    b.speaking(true).await;
    b.send_audio(&opus(6)).await;
    assert_eq!(a.receive(Duration::from_secs(5)).await.expect("Alice still hears").payload, opus(6));

    assert!(metric(&app, "fussioncord_voice_decrypt_failures_total").await >= failures_before + 2.0);
    assert!(metric(&app, "fussioncord_voice_dropped_total").await >= 8.0);
    // The server is alive.
    let (status, _) = app.get("/users/@me", &r.alice.token).await;
    assert!(status.is_success());
}

#[tokio::test]
async fn a_member_who_may_not_speak_is_not_forwarded() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    // Bob loses SPEAK in the channel.
    const SPEAK: u64 = 1 << 21;
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/channels/{}/permissions/{}", r.voice, r.bob.id),
            Some(&r.alice.token),
            Some(json!({ "type": 1, "allow": "0", "deny": SPEAK.to_string() })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let a_main = join(&app, &r.alice, &r.guild, &r.voice).await;
    let a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let b_main = join(&app, &r.bob, &r.guild, &r.voice).await;
    let mut b = VoiceClient::connect(&app, &b_main, XCHACHA).await;
    b.speaking(true).await;
    for i in 0..5 {
        b.send_audio(&opus(i)).await;
    }
    assert!(a.receive(QUIET).await.is_none(), "Bob may not speak here");
    // He still hears.
    let mut a = a;
    a.speaking(true).await;
    a.send_audio(&opus(9)).await;
    assert_eq!(b.receive(Duration::from_secs(5)).await.expect("Bob hears Alice").payload, opus(9));
}

#[tokio::test]
async fn a_server_muted_member_is_not_forwarded_until_unmuted() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    let a_main = join(&app, &r.alice, &r.guild, &r.voice).await;
    let a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let b_main = join(&app, &r.bob, &r.guild, &r.voice).await;
    let mut b = VoiceClient::connect(&app, &b_main, AES_GCM).await;
    b.speaking(true).await;
    b.send_audio(&opus(1)).await;
    assert_eq!(a.receive(Duration::from_secs(5)).await.expect("Alice hears Bob").payload, opus(1));
    // Alice, the owner, server-mutes Bob through the member route.
    let member = format!("/guilds/{}/members/{}", r.guild, r.bob.id);
    let (status, body) = app.patch(&member, &r.alice.token, json!({ "mute": true })).await;
    assert!(status.is_success(), "{body}");
    // The voice server learns it from the bus; give it the moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 2..7 {
        b.send_audio(&opus(i)).await;
    }
    assert!(a.receive(QUIET).await.is_none(), "a server-muted member is not forwarded");
    let (status, body) = app.patch(&member, &r.alice.token, json!({ "mute": false })).await;
    assert!(status.is_success(), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.send_audio(&opus(8)).await;
    assert_eq!(a.receive(Duration::from_secs(5)).await.expect("unmuted, heard again").payload, opus(8));
}

/// Sends op 4 on `joined`'s main gateway.
async fn op4(joined: &mut Joined, channel: Option<&str>, self_deaf: bool) {
    let d = json!({ "guild_id": joined.guild, "channel_id": channel, "self_mute": false, "self_deaf": self_deaf });
    joined.gateway.send(json!({ "op": 4, "d": d })).await;
}

#[tokio::test]
async fn deafened_listeners_hear_nothing_moves_change_rooms_and_deleting_the_channel_ends_the_call() {
    let app = TestApp::spawn().await;
    let r = room(&app).await;
    let (status, other) =
        app.post(&format!("/guilds/{}/channels", r.guild), &r.alice.token, json!({ "name": "Other", "type": 2 })).await;
    assert!(status.is_success(), "{other}");
    let other = other["id"].as_str().unwrap().to_owned();
    let mut a_main = join(&app, &r.alice, &r.guild, &r.voice).await;
    let mut a = VoiceClient::connect(&app, &a_main, XCHACHA).await;
    let mut b_main = join(&app, &r.bob, &r.guild, &r.voice).await;
    let mut b = VoiceClient::connect(&app, &b_main, AES_GCM).await;
    a.speaking(true).await;

    // Bob deafens himself: Alice's packets stop reaching him (the voice
    // server follows the same VOICE_STATE_UPDATE his client sees, so allow
    // it a moment), and start again when he undeafens.
    op4(&mut b_main, Some(&r.voice), true).await;
    let mut deafened = false;
    for i in 0..20 {
        a.send_audio(&opus(i)).await;
        if b.receive(QUIET).await.is_none() {
            deafened = true;
            break;
        }
        // Packets come back faster than the bus delivers the change: give
        // it the moment the comment above promises.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(deafened, "a deafened listener still receives");
    op4(&mut b_main, Some(&r.voice), false).await;
    let mut heard = false;
    for i in 0..20 {
        a.send_audio(&opus(i)).await;
        if b.receive(QUIET).await.is_some() {
            heard = true;
            break;
        }
    }
    assert!(heard, "an undeafened listener hears again");
    while b.receive(QUIET).await.is_some() {}

    // Bob moves to the other channel: Alice is told he left, and his voice
    // connection stays open in his new room, where Alice is not heard.
    op4(&mut b_main, Some(&other), false).await;
    let gone = a.ws.find(|v| v["op"] == 13).await;
    assert_eq!(gone["d"]["user_id"], r.bob.id.as_str(), "{gone}");
    a.send_audio(&opus(50)).await;
    assert!(b.receive(QUIET).await.is_none(), "rooms are separate");
    // Alice follows him: he is told, and hears her.
    let mark = b.ws.log.len();
    op4(&mut a_main, Some(&other), false).await;
    let told = b.ws.find_from(mark, |v| v["op"] == 11).await;
    assert_eq!(told["d"]["user_ids"], json!([r.alice.id]));
    a.send_audio(&opus(51)).await;
    assert_eq!(b.receive(Duration::from_secs(5)).await.expect("same room again").payload, opus(51));

    // The channel is deleted: both calls end with 4022.
    let (status, body) = app.delete(&format!("/channels/{other}"), &r.alice.token).await;
    assert!(status.is_success(), "{body}");
    assert_eq!(a.ws.closed().await, Some(4022));
    assert_eq!(b.ws.closed().await, Some(4022));
    assert_eq!(metric(&app, "fussioncord_voice_participants").await, 0.0);
}

#[tokio::test]
async fn a_voice_connection_without_heartbeats_is_closed_with_4009() {
    let app = TestApp::spawn_with(|c| c.voice.heartbeat_interval_ms = 50).await;
    let r = room(&app).await;
    let j = join(&app, &r.alice, &r.guild, &r.voice).await;
    let mut ws = VoiceWs::connect(&j.endpoint, &app.voice_ca).await;
    identify(&mut ws, &j, &j.token).await;
    let hello = ws.op(8).await;
    assert_eq!(hello["d"]["heartbeat_interval"], 50);
    assert_eq!(ws.closed().await, Some(4009));
}
