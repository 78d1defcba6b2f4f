// The gateway client: HELLO → heartbeats, IDENTIFY (or RESUME with the
// session id and the last sequence number), dispatches handed to the
// stores, and reconnection with exponential backoff when the socket drops.
// Everything it touches in the outside world (sockets, timers, randomness)
// is injected, so the resume logic is unit-tested with a fake socket.

export const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Close codes after which reconnecting cannot help (bad token, bad intents...). */
const FATAL = new Set([4004, 4010, 4011, 4012, 4013, 4014]);
/** Close codes after which the session is gone (identify anew). */
const SESSION_LOST = new Set([4007, 4009]);

export type GatewayStatus = "idle" | "connecting" | "ready" | "reconnecting" | "closed";

export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface GatewayEnv {
  socket(url: string): SocketLike;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

export interface GatewayOptions {
  url: string;
  token: string;
  onDispatch(t: string, d: unknown): void;
  onStatus?(status: GatewayStatus, detail?: string): void;
  /** Called once when the server refuses the token (close 4004): log out. */
  onFatal?(code: number): void;
  env?: GatewayEnv;
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

const browserEnv = (): GatewayEnv => ({
  socket: (url) => new WebSocket(url) as unknown as SocketLike,
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as number),
  random: Math.random,
});

export class GatewayClient {
  status: GatewayStatus = "idle";
  sessionId: string | null = null;
  seq: number | null = null;
  resumeUrl: string | null = null;
  /** How many times a session was resumed (and identified) — shown in tests and diagnostics. */
  resumes = 0;
  identifies = 0;

  private ws: SocketLike | null = null;
  private heartbeatTimer: unknown = null;
  private reconnectTimer: unknown = null;
  private awaitingAck = false;
  private attempts = 0;
  private stopped = false;
  private readonly env: GatewayEnv;

  constructor(private readonly opts: GatewayOptions) {
    this.env = opts.env ?? browserEnv();
  }

  connect() {
    this.stopped = false;
    this.open(this.opts.url);
  }

  /** Closes for good (logout). */
  close() {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "bye");
    this.sessionId = null;
    this.seq = null;
    this.setStatus("closed");
  }

  send(op: number, d: unknown) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ op, d }));
  }

  updatePresence(status: string) {
    this.send(Op.PresenceUpdate, { since: null, activities: [], status, afk: false });
  }

  private open(base: string) {
    this.clearTimers();
    this.setStatus(this.sessionId ? "reconnecting" : "connecting");
    const url = withQuery(base);
    let ws: SocketLike;
    try {
      ws = this.env.socket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let msg: { op: number; d: unknown; s?: number | null; t?: string | null };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClosed(ev.code);
    };
    ws.onerror = () => {};
  }

  private handle(msg: { op: number; d: unknown; s?: number | null; t?: string | null }) {
    switch (msg.op) {
      case Op.Hello: {
        const interval = (msg.d as { heartbeat_interval: number }).heartbeat_interval;
        this.startHeartbeat(interval);
        if (this.sessionId && this.seq !== null) {
          this.resumes++;
          this.send(Op.Resume, { token: this.opts.token, session_id: this.sessionId, seq: this.seq });
        } else this.identify();
        break;
      }
      case Op.Dispatch: {
        if (typeof msg.s === "number") this.seq = msg.s;
        const t = msg.t ?? "";
        if (t === "READY") {
          const d = msg.d as { session_id: string; resume_gateway_url?: string };
          this.sessionId = d.session_id;
          this.resumeUrl = d.resume_gateway_url ?? null;
        }
        if (t === "READY" || t === "RESUMED") {
          this.attempts = 0;
          this.setStatus("ready");
        }
        this.opts.onDispatch(t, msg.d);
        break;
      }
      case Op.HeartbeatAck:
        this.awaitingAck = false;
        break;
      case Op.Heartbeat:
        this.beat();
        break;
      case Op.Reconnect:
        this.drop(4000);
        break;
      case Op.InvalidSession: {
        const resumable = msg.d === true;
        if (!resumable) {
          this.sessionId = null;
          this.seq = null;
          this.resumeUrl = null;
        }
        // Discord asks for a 1–5 s pause before identifying again.
        const wait = 1000 + Math.floor(this.env.random() * 4000);
        this.reconnectTimer = this.env.setTimeout(() => {
          this.reconnectTimer = null;
          if (resumable && this.sessionId && this.seq !== null) {
            this.resumes++;
            this.send(Op.Resume, { token: this.opts.token, session_id: this.sessionId, seq: this.seq });
          } else this.identify();
        }, wait);
        break;
      }
    }
  }

  private identify() {
    this.identifies++;
    this.send(Op.Identify, {
      token: this.opts.token,
      properties: { os: "browser", browser: "FussionCord Web", device: "" },
      presence: { status: "online", since: null, activities: [], afk: false },
      compress: false,
      large_threshold: 250,
    });
  }

  private startHeartbeat(interval: number) {
    this.awaitingAck = false;
    const tick = (ms: number) => {
      this.heartbeatTimer = this.env.setTimeout(() => {
        if (this.awaitingAck) {
          // No ACK for a whole interval: the connection is a zombie.
          this.drop(4000);
          return;
        }
        this.beat();
        tick(interval);
      }, ms);
    };
    // The first beat after interval * jitter, as Discord asks.
    tick(Math.floor(interval * this.env.random()));
  }

  private beat() {
    this.awaitingAck = true;
    this.send(Op.Heartbeat, this.seq);
  }

  /** Closes the socket ourselves and reconnects (resuming if possible). */
  private drop(code: number) {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(code, "reconnecting");
      } catch {
        /* already closing */
      }
    }
    this.onClosed(code);
  }

  private onClosed(code: number) {
    this.clearTimers();
    if (this.stopped) return;
    if (FATAL.has(code)) {
      this.stopped = true;
      this.setStatus("closed", `closed with ${code}`);
      this.opts.onFatal?.(code);
      return;
    }
    if (SESSION_LOST.has(code)) {
      this.sessionId = null;
      this.seq = null;
      this.resumeUrl = null;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    this.setStatus("reconnecting");
    const base = this.opts.baseBackoffMs ?? 1000;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** this.attempts) * (0.5 + this.env.random() / 2);
    this.attempts++;
    this.reconnectTimer = this.env.setTimeout(() => {
      this.reconnectTimer = null;
      this.open(this.sessionId && this.resumeUrl ? this.resumeUrl : this.opts.url);
    }, delay);
  }

  private clearTimers() {
    if (this.heartbeatTimer !== null) this.env.clearTimeout(this.heartbeatTimer);
    if (this.reconnectTimer !== null) this.env.clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
  }

  private setStatus(status: GatewayStatus, detail?: string) {
    this.status = status;
    this.opts.onStatus?.(status, detail);
  }
}

/** `ws://host` → `ws://host/?v=10&encoding=json` (keeps an existing query). */
export function withQuery(url: string): string {
  if (url.includes("?")) return url;
  return `${url.replace(/\/+$/, "")}/?v=10&encoding=json`;
}
