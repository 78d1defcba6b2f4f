//! The media socket: IP discovery, and RTP forwarding within a channel,
//! decrypted with the sender's key and encrypted again for each listener.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crypto::{NONCE_SUFFIX, TAG};
use crate::Shared;

const DISCOVERY_LEN: usize = 74;
/// Discovery replies per participant (SSRC) and second. Only identified
/// participants get any, and a reply is no bigger than its request, so the
/// socket cannot be made a reflector; counting per SSRC rather than per
/// address lets many clients behind one address (a bot host joining many
/// guilds at once, people behind one NAT) connect together.
const DISCOVERY_PER_SECOND: u32 = 5;
/// Participants remembered for that limit before the table starts afresh.
const DISCOVERY_SOURCES: usize = 16_384;
/// RTP payload type of Opus audio, as Discord's clients send it.
const OPUS: u8 = 120;

pub(crate) async fn serve(shared: Arc<Shared>) {
    let mut stopped = shared.stopped.clone();
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(2048);
    let mut discovery: HashMap<u32, (Instant, u32)> = HashMap::new();
    loop {
        let (n, from) = tokio::select! {
            r = shared.udp.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors from earlier sends surface here on some systems.
                Err(_) => continue,
            },
            _ = stopped.changed() => break,
        };
        let started = Instant::now();
        shared.metrics.voice_packet_in(n);
        let packet = &mut buf[..n];
        if n == DISCOVERY_LEN && packet[..4] == [0, 1, 0, 70] {
            discover(&shared, packet, from, &mut discovery);
        } else if n == 8 {
            // discord.js's keepalive: nothing to answer.
        } else if let Err(reason) = forward(&shared, packet, from, &mut out) {
            shared.metrics.voice_dropped(reason);
        } else {
            shared.metrics.voice_forwarding(started.elapsed().as_secs_f64());
        }
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn discover(shared: &Shared, packet: &[u8], from: SocketAddr, seen: &mut HashMap<u32, (Instant, u32)>) {
    let ssrc = be32(&packet[4..8]);
    let Some(session) = shared.registry.read().by_ssrc.get(&ssrc).cloned() else {
        shared.metrics.voice_dropped("unknown_ssrc");
        return;
    };
    let now = Instant::now();
    if seen.len() >= DISCOVERY_SOURCES {
        seen.clear();
    }
    let (since, count) = seen.entry(ssrc).or_insert((now, 0));
    if now.duration_since(*since) > Duration::from_secs(1) {
        (*since, *count) = (now, 0);
    }
    *count += 1;
    if *count > DISCOVERY_PER_SECOND {
        shared.metrics.voice_dropped("rate_limited");
        return;
    }
    {
        // The first address wins; moving needs a packet that decrypts.
        let mut st = session.state();
        if st.media.addr.is_none() {
            st.media.addr = Some(from);
        }
    }
    // The reply names the address the request came from, as Discord's
    // does: the client's address as seen from here (through its NAT).
    let mut reply = [0u8; DISCOVERY_LEN];
    reply[..4].copy_from_slice(&[0, 2, 0, 70]);
    reply[4..8].copy_from_slice(&ssrc.to_be_bytes());
    let ip = from.ip().to_string();
    let len = ip.len().min(63);
    reply[8..8 + len].copy_from_slice(&ip.as_bytes()[..len]);
    reply[72..74].copy_from_slice(&from.port().to_be_bytes());
    if shared.udp.try_send_to(&reply, from).is_ok() {
        shared.metrics.voice_packet_out(DISCOVERY_LEN);
    }
}

/// Decrypts an RTP packet and sends it, encrypted for each, to everyone
/// else in the sender's channel who listens. `Err` names why it was dropped.
fn forward(shared: &Shared, packet: &mut [u8], from: SocketAddr, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let n = packet.len();
    if n < 12 || packet[0] >> 6 != 2 {
        return Err("malformed");
    }
    let csrcs = usize::from(packet[0] & 0x0f);
    let extension = packet[0] & 0x10 != 0;
    // The rtpsize modes leave CSRCs and the extension preamble in clear.
    let header = 12 + 4 * csrcs + if extension { 4 } else { 0 };
    if n < header + TAG + NONCE_SUFFIX {
        return Err("malformed");
    }
    let ssrc = be32(&packet[8..12]);
    let audio = packet[1] & 0x7f == OPUS;
    let sessions = shared.registry.read();
    let sender = sessions.by_ssrc.get(&ssrc).ok_or("unknown_ssrc")?;
    let counter = be32(&packet[n - NONCE_SUFFIX..]);
    let (aad, rest) = packet.split_at_mut(header);
    let (payload, trailer) = rest.split_at_mut(n - header - TAG - NONCE_SUFFIX);
    let channel = {
        let mut st = sender.state();
        let st = &mut *st;
        let cipher = st.media.cipher.as_ref().ok_or("no_session_description")?;
        if !st.media.replay.fresh(counter) {
            return Err("replay");
        }
        if cipher.open(counter, aad, payload, &trailer[..TAG]).is_err() {
            shared.metrics.voice_decrypt_failed();
            return Err("decrypt_failed");
        }
        st.media.replay.record(counter);
        // Authenticated: this is where they are now (NAT rebinding).
        st.media.addr = Some(from);
        let allowed = if audio { st.may_speak } else { st.may_stream };
        if !allowed {
            return Err("not_allowed");
        }
        st.channel
    };
    if audio {
        // A browser hears a bot through its WebRTC task: the Opus frame
        // without the (decrypted) header extension body.
        let skip = if extension { 4 * usize::from(u16::from_be_bytes([aad[header - 2], aad[header - 1]])) } else { 0 };
        let to_browsers = sessions.rooms.get(&channel).is_some_and(|room| {
            room.iter().any(|p| {
                p.ssrc != ssrc && {
                    let st = p.state();
                    st.media.webrtc && !st.deaf
                }
            })
        });
        if to_browsers && skip <= payload.len() {
            let timestamp = be32(&aad[4..8]);
            let opus = payload[skip..].to_vec();
            if shared.webrtc.try_send(crate::webrtc::Command::BotAudio { ssrc, timestamp, opus }).is_err() {
                shared.metrics.voice_dropped("webrtc_busy");
            }
        }
    }
    crate::relay::seal_to_room(shared, &sessions, ssrc, channel, aad, payload, out);
    Ok(())
}
