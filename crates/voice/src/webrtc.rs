//! WebRTC for the web client: one ICE-lite str0m `Rtc` per browser
//! participant, all on one UDP socket of their own (demultiplexed with
//! `Rtc::accepts`), driven by one task that owns them all (str0m is
//! sans-IO: every input or change is followed by draining `poll_output`
//! until it returns a timeout).
//!
//! Signalling rides the voice gateway session (IDENTIFY as for bots):
//!
//! - C→S op 1 SELECT_PROTOCOL `{protocol: "webrtc", sdp: "<offer>", data: "<offer>"}`:
//!   the browser's one offer, with three send-only m-lines in this order:
//!   microphone, camera, screen. It never offers again; starting and
//!   stopping a camera is `replaceTrack`, which needs no negotiation.
//! - S→C op 4 SESSION_DESCRIPTION `{mode: "webrtc", sdp: "<answer>",
//!   audio_codec: "opus", video_codec: "VP8", dave_protocol_version: 0}`.
//! - S→C op 40 `{revision, sdp: "<offer>", tracks: [{mid, user_id, kind,
//!   source}]}`: only the server re-offers (no glare), whenever the tracks
//!   the browser should receive change: one send-only audio m-line per
//!   other participant (browser or bot), and a video one per camera or
//!   screen another browser is sending. `msid` stream id = `user_id`.
//! - C→S op 41 `{revision, sdp: "<answer>"}`. Stale revisions are ignored;
//!   changes wait while an offer is outstanding.
//!
//! Media: Opus goes everywhere in a room regardless of transport; a
//! browser's audio reaches bots as Discord RTP (PT 120, its session's SSRC,
//! encrypted per listener by the UDP path's code), a bot's decrypted Opus
//! reaches browsers through their `Rtc`s. Video and screen share go from
//! browser to browser only, with keyframe requests passed back to the
//! sender.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequest, KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::state::Session;
use crate::Shared;

/// Commands queued to the WebRTC task.
pub(crate) const COMMAND_QUEUE: usize = 1024;

/// What the voice gateway and the UDP path ask of the WebRTC task.
pub(crate) enum Command {
    /// op 1 with `protocol: "webrtc"`: answers the browser's offer.
    Offer { session: Arc<Session>, sdp: String, reply: oneshot::Sender<Result<String, &'static str>> },
    /// op 41: the browser's answer to our op 40.
    Answer { ssrc: u32, revision: u64, sdp: String },
    /// A Discord-protocol sender's Opus frame, decrypted (header extension
    /// body removed).
    BotAudio { ssrc: u32, timestamp: u32, opus: Vec<u8> },
}

/// The browser's three send slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    Mic,
    Camera,
    Screen,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Mic => "mic",
            Self::Camera => "camera",
            Self::Screen => "screen",
        }
    }

    fn kind(self) -> MediaKind {
        match self {
            Self::Mic => MediaKind::Audio,
            _ => MediaKind::Video,
        }
    }
}

/// A track this browser receives: `source` of the participant with SSRC `from`.
struct TrackOut {
    from: u32,
    user: String,
    source: Source,
    mid: Mid,
    /// Answered: media may be written.
    open: bool,
}

struct Peer {
    session: Arc<Session>,
    rtc: Rtc,
    deadline: Instant,
    /// The browser's send slots, by m-line order.
    ins: Vec<(Mid, Source)>,
    /// Video slots that have carried media (others get a track for them).
    active: Vec<Source>,
    outs: Vec<TrackOut>,
    pending: Option<(u64, SdpPendingOffer)>,
    revision: u64,
    /// Keyframe requests sent to this browser, per slot (at most one a second).
    asked_keyframe: HashMap<Mid, Instant>,
    /// Its audio as Discord RTP: sequence and timestamp offset.
    rtp_seq: u16,
    rtp_ts_offset: u32,
    speaking: bool,
    /// When its microphone last carried voice (the voice-activity flag of
    /// the audio level extension; a frame without it counts as voice).
    voiced: Instant,
}

/// A Discord-protocol sender's timestamps, made to follow wall time across
/// pauses (bots do not advance it while silent; the browser's jitter buffer
/// would lag behind).
struct BotClock {
    out: u64,
    last_in: u32,
    last_at: Instant,
}

/// Work produced while draining one `Rtc`, done once the drain is over
/// (it touches other `Rtc`s).
enum Work {
    Media { from: u32, data: Box<MediaData> },
    Keyframe { at: u32, request: KeyframeRequest },
}

struct Sfu {
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    candidate: SocketAddr,
    peers: Vec<Peer>,
    bots: HashMap<u32, BotClock>,
    work: VecDeque<Work>,
    /// Buffer for RTP sealed for Discord-protocol listeners.
    sealed: Vec<u8>,
    /// A browser started sending a video source: others need a track.
    renegotiate: bool,
}

pub(crate) async fn serve(shared: Arc<Shared>, socket: Arc<UdpSocket>, mut commands: mpsc::Receiver<Command>) {
    let Ok(local) = socket.local_addr() else { return };
    let candidate = SocketAddr::new(shared.addresses.public_ip.into(), local.port());
    let mut sfu = Sfu {
        shared: shared.clone(),
        socket: socket.clone(),
        candidate,
        peers: Vec::new(),
        bots: HashMap::new(),
        work: VecDeque::new(),
        sealed: Vec::with_capacity(2048),
        renegotiate: false,
    };
    let mut stopped = shared.stopped.clone();
    let mut buf = vec![0u8; 2048];
    let mut reconcile = tokio::time::interval(Duration::from_millis(200));
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next =
            sfu.peers.iter().map(|p| p.deadline).min().unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                shared.metrics.voice_packet_in(n);
                sfu.receive(&buf[..n], from);
            }
            c = commands.recv() => match c {
                Some(c) => sfu.command(c),
                None => break,
            },
            () = tokio::time::sleep_until(next.into()) => sfu.timeouts(),
            _ = reconcile.tick() => sfu.reconcile(),
            _ = stopped.changed() => break,
        }
        sfu.run_work();
        if std::mem::take(&mut sfu.renegotiate) {
            sfu.reconcile();
            sfu.run_work();
        }
    }
}

impl Sfu {
    fn index(&self, ssrc: u32) -> Option<usize> {
        self.peers.iter().position(|p| p.session.ssrc == ssrc)
    }

    fn receive(&mut self, packet: &[u8], from: SocketAddr) {
        // Addressed to the candidate we announced (the socket may be bound
        // to 0.0.0.0, or sit behind 1:1 NAT): str0m matches it to its pair.
        let Ok(receive) = Receive::new(Protocol::Udp, from, self.candidate, packet) else {
            self.shared.metrics.voice_dropped("malformed");
            return;
        };
        let input = Input::Receive(Instant::now(), receive);
        let Some(i) = self.peers.iter().position(|p| p.rtc.accepts(&input)) else {
            self.shared.metrics.voice_dropped("unknown_peer");
            return;
        };
        if let Err(e) = self.peers[i].rtc.handle_input(input) {
            tracing::debug!(error = %e, "webrtc: input refused");
        }
        self.drive(i);
    }

    fn timeouts(&mut self) {
        let now = Instant::now();
        for i in 0..self.peers.len() {
            if self.peers[i].deadline <= now {
                let _ = self.peers[i].rtc.handle_input(Input::Timeout(now));
                self.drive(i);
            }
        }
    }

    /// Drains peer `i`'s output until its next timeout: packets go out,
    /// events become work.
    fn drive(&mut self, i: usize) {
        loop {
            let peer = &mut self.peers[i];
            if !peer.rtc.is_alive() {
                peer.deadline = Instant::now() + Duration::from_secs(1);
                return;
            }
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    peer.deadline = t;
                    return;
                }
                Ok(Output::Transmit(t)) => match self.socket.try_send_to(&t.contents, t.destination) {
                    Ok(n) => self.shared.metrics.voice_packet_out(n),
                    Err(_) => self.shared.metrics.voice_dropped("send_failed"),
                },
                Ok(Output::Event(e)) => self.event(i, e),
                Err(e) => {
                    tracing::debug!(error = %e, user = %peer.session.user, "webrtc: peer failed");
                    peer.rtc.disconnect();
                }
            }
        }
    }

    fn event(&mut self, i: usize, event: Event) {
        let peer = &mut self.peers[i];
        match event {
            Event::Connected => tracing::debug!(user = %peer.session.user, "webrtc: connected"),
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => peer.rtc.disconnect(),
            Event::MediaAdded(m) if m.direction == Direction::RecvOnly => {
                let videos = peer.ins.iter().filter(|(_, s)| *s != Source::Mic).count();
                let source = match (m.kind, videos) {
                    (MediaKind::Audio, _) if !peer.ins.iter().any(|(_, s)| *s == Source::Mic) => Source::Mic,
                    (MediaKind::Video, 0) => Source::Camera,
                    (MediaKind::Video, 1) => Source::Screen,
                    _ => return,
                };
                peer.ins.push((m.mid, source));
            }
            Event::MediaData(data) => {
                self.work.push_back(Work::Media { from: peer.session.ssrc, data: Box::new(data) })
            }
            Event::KeyframeRequest(request) => self.work.push_back(Work::Keyframe { at: peer.session.ssrc, request }),
            _ => {}
        }
    }

    fn run_work(&mut self) {
        while let Some(w) = self.work.pop_front() {
            match w {
                Work::Media { from, data } => self.media(from, *data),
                Work::Keyframe { at, request } => self.keyframe(at, request),
            }
        }
    }

    /// A browser's media: to the other browsers in its room that receive
    /// that source, and its audio to the Discord-protocol listeners too.
    fn media(&mut self, from: u32, data: MediaData) {
        let started = Instant::now();
        let Some(i) = self.index(from) else { return };
        let Some(source) = self.peers[i].ins.iter().find(|(m, _)| *m == data.mid).map(|(_, s)| *s) else { return };
        let session = self.peers[i].session.clone();
        let (channel, allowed) = {
            let st = session.state();
            (st.channel, if source == Source::Mic { st.may_speak } else { st.may_stream })
        };
        if !allowed {
            self.shared.metrics.voice_dropped("not_allowed");
            return;
        }
        if source != Source::Mic && !self.peers[i].active.contains(&source) {
            // Not now: reconciling may drop peers, and `i` is an index.
            self.peers[i].active.push(source);
            self.renegotiate = true;
        }
        if source == Source::Mic {
            self.bridge_to_discord(i, &data);
        }
        for j in 0..self.peers.len() {
            if j == i || !listens(&self.peers[j].session, channel) {
                continue;
            }
            let q = &mut self.peers[j];
            let Some(mid) = q.outs.iter().find(|t| t.open && t.from == from && t.source == source).map(|t| t.mid)
            else {
                continue;
            };
            let Some(writer) = q.rtc.writer(mid) else { continue };
            let Some(pt) = writer.match_params(data.params) else { continue };
            if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
                tracing::debug!(error = %e, "webrtc: write failed");
            }
            self.drive(j);
        }
        self.shared.metrics.voice_forwarding(started.elapsed().as_secs_f64());
    }

    /// A browser's Opus frame as Discord RTP to the room's UDP listeners;
    /// SPEAKING first, so discord.js can map the SSRC to the user.
    fn bridge_to_discord(&mut self, i: usize, data: &MediaData) {
        let peer = &mut self.peers[i];
        let session = peer.session.clone();
        if data.ext_vals.voice_activity.unwrap_or(true) {
            peer.voiced = Instant::now();
            if !peer.speaking {
                peer.speaking = true;
                speaking(&self.shared, &session, true);
            }
        }
        peer.rtp_seq = peer.rtp_seq.wrapping_add(1);
        let ts = (data.time.numer() as u32).wrapping_add(peer.rtp_ts_offset);
        let mut header = [0u8; 12];
        header[0] = 0x80;
        header[1] = 0x78 | if data.audio_start_of_talk_spurt { 0x80 } else { 0 };
        header[2..4].copy_from_slice(&peer.rtp_seq.to_be_bytes());
        header[4..8].copy_from_slice(&ts.to_be_bytes());
        header[8..12].copy_from_slice(&session.ssrc.to_be_bytes());
        crate::relay::seal_for_room(&self.shared, &session, &header, &data.data, &mut self.sealed);
    }

    /// A receiver asks for a keyframe of a track it gets: ask its sender.
    fn keyframe(&mut self, at: u32, request: KeyframeRequest) {
        let Some(j) = self.index(at) else { return };
        let Some((from, source)) = self.peers[j].outs.iter().find(|t| t.mid == request.mid).map(|t| (t.from, t.source))
        else {
            return;
        };
        self.ask_keyframe(from, source, request.kind);
    }

    /// Asks browser `from` for a keyframe of its `source` (at most one a
    /// second per slot: every receiver's request ends up here).
    fn ask_keyframe(&mut self, from: u32, source: Source, kind: KeyframeRequestKind) {
        let Some(i) = self.index(from) else { return };
        let peer = &mut self.peers[i];
        let Some(mid) = peer.ins.iter().find(|(_, s)| *s == source).map(|(m, _)| *m) else { return };
        let now = Instant::now();
        if peer.asked_keyframe.get(&mid).is_some_and(|t| now.duration_since(*t) < Duration::from_secs(1)) {
            return;
        }
        let Some(mut writer) = peer.rtc.writer(mid) else { return };
        let kind = if writer.is_request_keyframe_possible(kind) { kind } else { KeyframeRequestKind::Pli };
        if writer.request_keyframe(None, kind).is_ok() {
            peer.asked_keyframe.insert(mid, now);
        }
        self.drive(i);
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Offer { session, sdp, reply } => {
                let _ = reply.send(self.offer(session, &sdp));
                self.reconcile();
            }
            Command::Answer { ssrc, revision, sdp } => {
                let Some(i) = self.index(ssrc) else { return };
                let peer = &mut self.peers[i];
                if peer.pending.as_ref().is_none_or(|(r, _)| *r != revision) {
                    return;
                }
                let Some((_, pending)) = peer.pending.take() else { return };
                let answer = match SdpAnswer::from_sdp_string(&sdp) {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(error = %e, "webrtc: bad answer");
                        return;
                    }
                };
                let mut opened = Vec::new();
                match peer.rtc.sdp_api().accept_answer(pending, answer) {
                    Ok(()) => {
                        for t in peer.outs.iter_mut().filter(|t| !t.open) {
                            t.open = true;
                            opened.push((t.from, t.source));
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "webrtc: answer refused"),
                }
                self.drive(i);
                // A new video receiver can only start at a keyframe.
                for (from, source) in opened.into_iter().filter(|(_, s)| *s != Source::Mic) {
                    self.ask_keyframe(from, source, KeyframeRequestKind::Pli);
                }
                self.reconcile();
            }
            Command::BotAudio { ssrc, timestamp, opus } => self.bot_audio(ssrc, timestamp, opus),
        }
    }

    fn offer(&mut self, session: Arc<Session>, sdp: &str) -> Result<String, &'static str> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|_| "Bad SDP offer")?;
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            // No RED: one Opus frame per packet, as Discord RTP has it.
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            .build(Instant::now());
        let candidate = Candidate::host(self.candidate, "udp").map_err(|_| "No usable WebRTC address")?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|_| "SDP offer refused")?;
        if let Some(i) = self.index(session.ssrc) {
            self.peers.swap_remove(i);
        }
        self.peers.push(Peer {
            session,
            rtc,
            deadline: Instant::now(),
            ins: Vec::new(),
            active: Vec::new(),
            outs: Vec::new(),
            pending: None,
            revision: 0,
            asked_keyframe: HashMap::new(),
            rtp_seq: rand::random(),
            rtp_ts_offset: rand::random(),
            speaking: false,
            voiced: Instant::now(),
        });
        let i = self.peers.len() - 1;
        self.drive(i);
        Ok(answer.to_sdp_string())
    }

    fn bot_audio(&mut self, ssrc: u32, timestamp: u32, opus: Vec<u8>) {
        let Some(sender) = self.shared.registry.read().by_ssrc.get(&ssrc).cloned() else { return };
        let channel = sender.state().channel;
        let now = Instant::now();
        let clock =
            self.bots.entry(ssrc).or_insert(BotClock { out: 0, last_in: timestamp.wrapping_sub(960), last_at: now });
        let gap = now.duration_since(clock.last_at);
        let talkspurt = gap > Duration::from_millis(60);
        clock.out += if talkspurt {
            (gap.as_secs_f64() * 48_000.0 / 960.0).round() as u64 * 960
        } else {
            u64::from(timestamp.wrapping_sub(clock.last_in)).clamp(1, 5760)
        };
        (clock.last_in, clock.last_at) = (timestamp, now);
        let time = MediaTime::new(clock.out, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        let opus: Arc<[u8]> = opus.into();
        for j in 0..self.peers.len() {
            if self.peers[j].session.ssrc == ssrc || !listens(&self.peers[j].session, channel) {
                continue;
            }
            let q = &mut self.peers[j];
            let Some(mid) = q.outs.iter().find(|t| t.open && t.from == ssrc && t.source == Source::Mic).map(|t| t.mid)
            else {
                continue;
            };
            let Some(writer) = q.rtc.writer(mid) else { continue };
            let Some(pt) = writer.payload_params().find(|p| p.spec().codec == Codec::Opus).map(|p| p.pt()) else {
                continue;
            };
            let _ = writer.start_of_talkspurt(talkspurt).write(pt, now, time, opus.clone());
            self.drive(j);
        }
    }

    /// Brings each browser's received tracks in line with its room: drops
    /// peers whose session ended, re-offers where tracks are missing or gone.
    fn reconcile(&mut self) {
        let current = {
            let sessions = self.shared.registry.read();
            self.peers
                .iter()
                .map(|p| {
                    p.rtc.is_alive()
                        && sessions.by_ssrc.get(&p.session.ssrc).is_some_and(|s| Arc::ptr_eq(s, &p.session))
                })
                .collect::<Vec<_>>()
        };
        let mut keep = current.into_iter();
        self.peers.retain(|_| keep.next().unwrap_or(false));
        // Quiet for a while: SPEAKING 0, as bot libraries send it.
        for p in &mut self.peers {
            if p.speaking && p.voiced.elapsed() > SILENCE {
                p.speaking = false;
                speaking(&self.shared, &p.session, false);
            }
        }
        let live: std::collections::HashSet<u32> = self.shared.registry.read().by_ssrc.keys().copied().collect();
        self.bots.retain(|ssrc, _| live.contains(ssrc));
        for i in 0..self.peers.len() {
            if self.peers[i].pending.is_some() {
                continue;
            }
            let wanted = self.wanted(i);
            let peer = &mut self.peers[i];
            let missing: Vec<_> = wanted
                .iter()
                .filter(|(from, _, source)| !peer.outs.iter().any(|t| t.from == *from && t.source == *source))
                .cloned()
                .collect();
            let gone: Vec<Mid> = peer
                .outs
                .iter()
                .filter(|t| !wanted.iter().any(|(from, _, source)| t.from == *from && t.source == *source))
                .map(|t| t.mid)
                .collect();
            if missing.is_empty() && gone.is_empty() {
                continue;
            }
            let mut api = peer.rtc.sdp_api();
            for mid in &gone {
                api.stop_media(*mid);
            }
            let mut added = Vec::new();
            for (from, user, source) in missing {
                let track = format!("{user}-{}", source.name());
                let mid = api.add_media(source.kind(), Direction::SendOnly, Some(user.clone()), Some(track), None);
                added.push(TrackOut { from, user, source, mid, open: false });
            }
            let Some((offer, pending)) = api.apply() else { continue };
            peer.outs.retain(|t| !gone.contains(&t.mid));
            peer.outs.extend(added);
            peer.revision += 1;
            peer.pending = Some((peer.revision, pending));
            let tracks: Vec<_> = peer
                .outs
                .iter()
                .map(|t| {
                    let kind = if t.source == Source::Mic { "audio" } else { "video" };
                    json!({ "mid": t.mid.to_string(), "user_id": t.user, "kind": kind, "source": t.source.name() })
                })
                .collect();
            peer.session
                .send(40, &json!({ "revision": peer.revision, "sdp": offer.to_sdp_string(), "tracks": tracks }));
            self.drive(i);
        }
    }

    /// What browser `i` should receive: every other participant's audio,
    /// and the cameras and screens other browsers send.
    fn wanted(&self, i: usize) -> Vec<(u32, String, Source)> {
        let me = &self.peers[i].session;
        let mut wanted = Vec::new();
        for other in self.shared.registry.others(me) {
            wanted.push((other.ssrc, other.user.to_string(), Source::Mic));
            if let Some(p) = self.peers.iter().find(|p| p.session.ssrc == other.ssrc) {
                for s in &p.active {
                    wanted.push((other.ssrc, other.user.to_string(), *s));
                }
            }
        }
        wanted
    }
}

/// How long without voice before a browser's SPEAKING goes back to 0.
const SILENCE: Duration = Duration::from_millis(500);

/// Relays a browser's SPEAKING (op 5) to the others in its room: bots map
/// its SSRC to the user with it, so it goes before the first audio.
fn speaking(shared: &Shared, session: &Session, on: bool) {
    let flags = u32::from(on);
    session.state().speaking = flags;
    let relay = json!({ "user_id": session.user.to_string(), "ssrc": session.ssrc, "speaking": flags });
    for p in shared.registry.others(session) {
        p.send(5, &relay);
    }
}

/// Whether `session` receives media of `channel` (there, not deafened).
fn listens(session: &Session, channel: crate::state::ChannelId) -> bool {
    let st = session.state();
    st.channel == channel && !st.deaf
}
