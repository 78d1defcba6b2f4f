// The browser's voice and video connection: the voice gateway on this page's
// own origin (`/voice`, the same handler bots reach over TLS at the
// VOICE_SERVER_UPDATE endpoint) for signalling, and one RTCPeerConnection to
// the server's WebRTC SFU for media.
//
// Signalling (see docs/ARCHITECTURE.md, "Voice"): IDENTIFY (op 0) → READY
// (op 2); we offer once (op 1 SELECT_PROTOCOL {protocol: "webrtc", sdp}),
// with three send-only slots — microphone, camera, screen — and the server
// answers (op 4 {sdp}). Afterwards only the server offers (op 40 {revision,
// sdp, tracks}) whenever the tracks we receive change; we answer with op 41.
// Cameras and screens start and stop with replaceTrack, which needs no
// renegotiation.

import { voicePrefs } from "./voicePrefs.svelte";

export type VoiceStatus = "connecting" | "connected" | "reconnecting" | "closed";

export interface RemoteTrack {
  mid: string;
  userId: string;
  kind: "audio" | "video";
  source: "mic" | "camera" | "screen";
  stream: MediaStream;
}

interface TrackInfo {
  mid: string;
  user_id: string;
  kind: "audio" | "video";
  source: "mic" | "camera" | "screen";
}

export interface VoiceJoin {
  guildId: string;
  userId: string;
  /** The main gateway session that joined (the voice state's session_id). */
  sessionId: string;
  /** VOICE_SERVER_UPDATE's token. */
  token: string;
}

/** How loud counts as speaking (RMS of the samples, 0..1). */
const SPEAKING_RMS = 0.01;

export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

export class VoiceConnection {
  status = $state<VoiceStatus>("connecting");
  /** Why the microphone is not sending, when it is not. */
  micError = $state<string | null>(null);
  remotes = $state<RemoteTrack[]>([]);
  camera = $state<MediaStream | null>(null);
  screen = $state<MediaStream | null>(null);
  /** user id → speaking now (from the audio level). */
  speaking = $state<Record<string, boolean>>({});
  deaf = $state(false);

  private ws: WebSocket | null = null;
  private pc: RTCPeerConnection | null = null;
  private mic: MediaStreamTrack | null = null;
  private muted = false;
  private pttHeld = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private seqAck = -1;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  /** Server frames are handled one after the other (SDP steps are async). */
  private chain: Promise<void> = Promise.resolve();
  private audioContext: AudioContext | null = null;
  private meters = new Map<string, { userId: string; analyser: AnalyserNode }>();
  private meterTimer: ReturnType<typeof setInterval> | null = null;
  private streams = new Map<string, MediaStream>();

  constructor(readonly join: VoiceJoin) {}

  get token() {
    return this.join.token;
  }

  start() {
    this.closed = false;
    this.connect();
    this.meterTimer = setInterval(() => this.measure(), 100);
  }

  /** Leaves: closes the peer connection, the socket and the devices. */
  close() {
    this.closed = true;
    this.status = "closed";
    if (this.retry) clearTimeout(this.retry);
    if (this.meterTimer) clearInterval(this.meterTimer);
    this.teardown();
    for (const t of [this.mic, ...(this.camera?.getTracks() ?? []), ...(this.screen?.getTracks() ?? [])]) t?.stop();
    this.mic = null;
    this.camera = null;
    this.screen = null;
    this.audioContext?.close().catch(() => {});
    this.audioContext = null;
  }

  setMuted(muted: boolean) {
    this.muted = muted;
    this.applyMic();
  }

  /** Push to talk: the microphone sends only while the key is held. */
  setTalking(held: boolean) {
    this.pttHeld = held;
    this.applyMic();
  }

  private applyMic() {
    const ptt = voicePrefs.mode === "ptt";
    if (this.mic) this.mic.enabled = !this.muted && (!ptt || this.pttHeld);
  }

  setDeaf(deaf: boolean) {
    this.deaf = deaf;
  }

  /** Turns the camera on or off; resolves to whether it is on. */
  async setCamera(on: boolean): Promise<boolean> {
    if (!on) {
      this.camera?.getTracks().forEach((t) => t.stop());
      this.camera = null;
      await this.sender(1)?.replaceTrack(null);
      return false;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ video: voicePrefs.video() });
    this.camera = stream;
    await this.sender(1)?.replaceTrack(stream.getVideoTracks()[0]);
    return true;
  }

  /** Starts or stops sharing the screen; `onEnded` when the browser stops it. */
  async setScreen(on: boolean, onEnded?: () => void): Promise<boolean> {
    if (!on) {
      this.screen?.getTracks().forEach((t) => t.stop());
      this.screen = null;
      await this.sender(2)?.replaceTrack(null);
      return false;
    }
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0];
    track.addEventListener("ended", () => {
      if (this.screen === stream) {
        this.setScreen(false);
        onEnded?.();
      }
    });
    this.screen = stream;
    await this.sender(2)?.replaceTrack(track);
    return true;
  }

  private sender(slot: number): RTCRtpSender | undefined {
    return this.pc?.getTransceivers()[slot]?.sender;
  }

  private connect() {
    this.status = this.status === "connecting" ? "connecting" : "reconnecting";
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/voice`);
    this.ws = ws;
    ws.onmessage = (e) => {
      let msg: { op: number; d: any; seq?: number };
      try {
        msg = JSON.parse(e.data as string);
      } catch {
        return;
      }
      if (typeof msg.seq === "number") this.seqAck = msg.seq;
      this.chain = this.chain.then(() => this.handle(ws, msg.op, msg.d)).catch((err) => console.warn("voice:", err));
    };
    ws.onclose = () => {
      if (this.ws === ws) this.restart();
    };
  }

  /** Lost the socket or the media path: a new voice session, a new peer connection. */
  private restart() {
    if (this.closed) return;
    this.teardown();
    this.status = "reconnecting";
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => this.connect(), 1000);
  }

  private send(ws: WebSocket, op: number, d: unknown) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op, d }));
  }

  private async handle(ws: WebSocket, op: number, d: any) {
    if (ws !== this.ws) return;
    switch (op) {
      case 8: {
        const interval = Number(d?.heartbeat_interval) || 5000;
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.send(ws, 3, { t: Date.now(), seq_ack: this.seqAck }), interval);
        const j = this.join;
        this.send(ws, 0, {
          server_id: j.guildId,
          user_id: j.userId,
          session_id: j.sessionId,
          token: j.token,
          max_dave_protocol_version: 0,
        });
        return;
      }
      case 2:
        return this.offer(ws);
      case 4:
        await this.pc?.setRemoteDescription({ type: "answer", sdp: d.sdp });
        return;
      case 40:
        return this.reoffered(ws, d);
      case 5:
        return;
    }
  }

  /** READY: a new peer connection with our three send slots, offered once. */
  private async offer(ws: WebSocket) {
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle" });
    this.pc = pc;
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "connected") this.status = "connected";
      else if (pc.connectionState === "disconnected") this.status = "reconnecting";
      else if (pc.connectionState === "failed") this.restart();
    };
    pc.addTransceiver(this.mic ?? "audio", { direction: "sendonly" });
    pc.addTransceiver(this.camera?.getVideoTracks()[0] ?? "video", { direction: "sendonly" });
    pc.addTransceiver(this.screen?.getVideoTracks()[0] ?? "video", { direction: "sendonly" });
    await pc.setLocalDescription();
    this.send(ws, 1, { protocol: "webrtc", data: pc.localDescription!.sdp, sdp: pc.localDescription!.sdp });
    if (!this.mic) this.openMic(pc);
  }

  /** The microphone comes when the browser grants it; without it we still hear. */
  private async openMic(pc: RTCPeerConnection) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: voicePrefs.audio() });
      const track = stream.getAudioTracks()[0];
      if (this.closed) return track.stop();
      this.mic = track;
      this.applyMic();
      this.micError = null;
      if (this.pc === pc) await pc.getTransceivers()[0].sender.replaceTrack(track);
      this.meter("me", stream);
    } catch (e) {
      const name = (e as { name?: string }).name;
      this.micError =
        name === "NotAllowedError"
          ? "Microphone blocked: allow microphone access for this site to talk. You can still listen."
          : "No microphone available: you can still listen.";
    }
  }

  /** op 40: the server's offer of the tracks we now receive. */
  private async reoffered(ws: WebSocket, d: { revision: number; sdp: string; tracks: TrackInfo[] }) {
    const pc = this.pc;
    if (!pc) return;
    await pc.setRemoteDescription({ type: "offer", sdp: d.sdp });
    await pc.setLocalDescription();
    this.send(ws, 41, { revision: d.revision, sdp: pc.localDescription!.sdp });
    const remotes: RemoteTrack[] = [];
    for (const t of d.tracks) {
      const tr = pc.getTransceivers().find((x) => x.mid === t.mid);
      if (!tr) continue;
      const track = tr.receiver.track;
      const key = `${t.mid}/${track.id}`;
      let stream = this.streams.get(key);
      if (!stream) {
        stream = new MediaStream([track]);
        this.streams.set(key, stream);
      }
      remotes.push({ mid: t.mid, userId: t.user_id, kind: t.kind, source: t.source, stream });
    }
    const keep = new Set(remotes.map((r) => `${r.mid}/${r.stream.getTracks()[0].id}`));
    for (const k of this.streams.keys()) if (!keep.has(k)) this.streams.delete(k);
    for (const [k] of this.meters) if (k !== "me" && !keep.has(k)) this.meters.delete(k);
    for (const r of remotes) if (r.kind === "audio") this.meter(`${r.mid}/${r.stream.getTracks()[0].id}`, r.stream, r.userId);
    this.remotes = remotes;
  }

  private meter(key: string, stream: MediaStream, userId = this.join.userId) {
    if (this.meters.has(key)) return;
    try {
      this.audioContext ??= new AudioContext();
      const analyser = this.audioContext.createAnalyser();
      analyser.fftSize = 512;
      this.audioContext.createMediaStreamSource(stream).connect(analyser);
      this.meters.set(key, { userId, analyser });
    } catch {
      /* no WebAudio: no speaking rings */
    }
  }

  private measure() {
    if (!this.meters.size) return;
    this.audioContext?.resume().catch(() => {});
    const speaking: Record<string, boolean> = {};
    const buf = new Float32Array(512);
    for (const { userId, analyser } of this.meters.values()) {
      analyser.getFloatTimeDomainData(buf);
      const loud = rms(buf) > SPEAKING_RMS && !(userId === this.join.userId && this.muted);
      speaking[userId] = (speaking[userId] ?? false) || loud;
    }
    const changed = Object.keys(speaking).some((k) => speaking[k] !== this.speaking[k]);
    if (changed) this.speaking = speaking;
  }

  private teardown() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.pc?.close();
    this.pc = null;
    this.remotes = [];
    this.streams.clear();
    for (const k of [...this.meters.keys()]) if (k !== "me") this.meters.delete(k);
  }
}
