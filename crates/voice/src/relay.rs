//! Media to the Discord-protocol listeners of a room: a plain RTP packet
//! sealed with each listener's key, mode and nonce counter and sent from the
//! voice UDP socket. Both the UDP path and the WebRTC bridge send this way.

use crate::state::Session;
use crate::Shared;

/// Encrypts a plain RTP packet (`aad` the header, `payload` the rest) for
/// each Discord-protocol listener in `channel` but `ssrc`, and sends it.
pub(crate) fn seal_to_room(
    shared: &Shared,
    sessions: &crate::state::Sessions,
    ssrc: u32,
    channel: crate::state::ChannelId,
    aad: &[u8],
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let header = aad.len();
    let Some(room) = sessions.rooms.get(&channel) else { return };
    for listener in room {
        if listener.ssrc == ssrc {
            continue;
        }
        let addr = {
            let mut st = listener.state();
            let st = &mut *st;
            let (Some(cipher), Some(addr)) = (&st.media.cipher, st.media.addr) else { continue };
            if st.deaf {
                continue;
            }
            let nonce = st.media.send_nonce;
            st.media.send_nonce = nonce.wrapping_add(1);
            out.clear();
            out.extend_from_slice(aad);
            out.extend_from_slice(payload);
            let (head, body) = out.split_at_mut(header);
            let tag = cipher.seal(nonce, head, body);
            out.extend_from_slice(&tag);
            out.extend_from_slice(&nonce.to_be_bytes());
            addr
        };
        // A listener whose path is full loses its own packets; the socket
        // never waits for one.
        match shared.udp.try_send_to(out, addr) {
            Ok(len) => shared.metrics.voice_packet_out(len),
            Err(_) => shared.metrics.voice_dropped("send_failed"),
        }
    }
}

/// A WebRTC sender's audio, as Discord RTP, to the Discord-protocol
/// listeners of its room.
pub(crate) fn seal_for_room(shared: &Shared, sender: &Session, header: &[u8; 12], opus: &[u8], out: &mut Vec<u8>) {
    let channel = sender.state().channel;
    let sessions = shared.registry.read();
    seal_to_room(shared, &sessions, sender.ssrc, channel, header, opus, out);
}
