import { beforeEach, describe, expect, it } from "vitest";
import { GatewayClient, Op, type GatewayEnv, type SocketLike, type GatewayStatus } from "../src/lib/gateway";

/** A socket the test drives: it records what the client sends. */
class FakeSocket implements SocketLike {
  readyState = 0;
  sent: { op: number; d: any }[] = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // Test side:
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(payload: unknown) {
    this.onmessage?.({ data: JSON.stringify(payload) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  hello(interval = 40_000) {
    this.open();
    this.receive({ op: Op.Hello, d: { heartbeat_interval: interval } });
  }
}

/** Timers run only when the test advances the clock. */
class FakeEnv implements GatewayEnv {
  now = 0;
  sockets: FakeSocket[] = [];
  timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  socket(url: string) {
    const s = new FakeSocket(url);
    this.sockets.push(s);
    return s;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((t) => t.id !== h);
  }
  random() {
    return 0.5;
  }
  advance(ms: number) {
    const until = this.now + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const t = this.timers[0];
      if (!t || t.at > until) break;
      this.timers.shift();
      this.now = t.at;
      t.fn();
    }
    this.now = until;
  }
  get last() {
    return this.sockets[this.sockets.length - 1];
  }
}

let env: FakeEnv;
let events: [string, any][];
let statuses: GatewayStatus[];
let fatal: number | null;
let gw: GatewayClient;

function ready(sock: FakeSocket, seq = 1) {
  sock.receive({
    op: 0,
    t: "READY",
    s: seq,
    d: { session_id: "sess-1", resume_gateway_url: "ws://resume.example", user: { id: "1" }, guilds: [] },
  });
}

beforeEach(() => {
  env = new FakeEnv();
  events = [];
  statuses = [];
  fatal = null;
  gw = new GatewayClient({
    url: "ws://gw.example",
    token: "tok",
    env,
    onDispatch: (t, d) => events.push([t, d]),
    onStatus: (s) => statuses.push(s),
    onFatal: (c) => (fatal = c),
  });
  gw.connect();
});

describe("gateway client", () => {
  it("identifies after HELLO with the token, then heartbeats with the last seq", () => {
    const sock = env.last;
    expect(sock.url).toBe("ws://gw.example/?v=10&encoding=json");
    sock.hello(40_000);
    expect(sock.sent[0].op).toBe(Op.Identify);
    expect(sock.sent[0].d.token).toBe("tok");
    ready(sock, 1);
    sock.receive({ op: 0, t: "MESSAGE_CREATE", s: 2, d: { id: "m" } });
    expect(gw.status).toBe("ready");
    expect(events.map((e) => e[0])).toEqual(["READY", "MESSAGE_CREATE"]);
    env.advance(20_000); // first beat at interval * jitter (0.5)
    expect(sock.sent.at(-1)).toEqual({ op: Op.Heartbeat, d: 2 });
    sock.receive({ op: Op.HeartbeatAck, d: null });
    env.advance(40_000);
    expect(sock.sent.filter((p) => p.op === Op.Heartbeat)).toHaveLength(2);
  });

  it("resumes with the session id and the last seq after a drop, on the resume url", () => {
    const sock = env.last;
    sock.hello();
    ready(sock, 1);
    sock.receive({ op: 0, t: "MESSAGE_CREATE", s: 7, d: {} });
    sock.drop(1006);
    expect(gw.status).toBe("reconnecting");
    expect(statuses).toContain("reconnecting");
    env.advance(1000);
    const again = env.last;
    expect(again).not.toBe(sock);
    expect(again.url).toBe("ws://resume.example/?v=10&encoding=json");
    again.hello();
    expect(again.sent[0]).toEqual({ op: Op.Resume, d: { token: "tok", session_id: "sess-1", seq: 7 } });
    // Missed events are replayed, then RESUMED.
    again.receive({ op: 0, t: "MESSAGE_CREATE", s: 8, d: { id: "missed" } });
    again.receive({ op: 0, t: "RESUMED", s: 9, d: {} });
    expect(gw.status).toBe("ready");
    expect(gw.seq).toBe(9);
    expect(gw.identifies).toBe(1);
    expect(gw.resumes).toBe(1);
    expect(events.some(([t, d]) => t === "MESSAGE_CREATE" && d.id === "missed")).toBe(true);
  });

  it("backs off exponentially while the server stays away", () => {
    env.last.hello();
    ready(env.last);
    env.last.drop();
    const opened: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = env.sockets.length;
      let waited = 0;
      while (env.sockets.length === before) {
        env.advance(100);
        waited += 100;
      }
      opened.push(waited);
      env.last.drop(1006);
    }
    // random() is 0.5 → 0.75 × base × 2^n
    expect(opened).toEqual([800, 1500, 3000, 6000, 12000]);
  });

  it("INVALID_SESSION false: forgets the session and identifies again", () => {
    const sock = env.last;
    sock.hello();
    ready(sock, 3);
    sock.drop();
    env.advance(1000);
    const again = env.last;
    again.hello();
    expect(again.sent[0].op).toBe(Op.Resume);
    again.receive({ op: Op.InvalidSession, d: false });
    expect(gw.sessionId).toBeNull();
    env.advance(5000);
    expect(again.sent.at(-1)!.op).toBe(Op.Identify);
    expect(gw.identifies).toBe(2);
  });

  it("INVALID_SESSION true: resumes again", () => {
    const sock = env.last;
    sock.hello();
    ready(sock, 3);
    sock.receive({ op: Op.InvalidSession, d: true });
    env.advance(5000);
    expect(sock.sent.at(-1)).toEqual({ op: Op.Resume, d: { token: "tok", session_id: "sess-1", seq: 3 } });
  });

  it("op 7 RECONNECT closes and resumes", () => {
    const sock = env.last;
    sock.hello();
    ready(sock, 4);
    sock.receive({ op: Op.Reconnect, d: null });
    expect(sock.closedWith).toBe(4000);
    env.advance(1000);
    env.last.hello();
    expect(env.last.sent[0].op).toBe(Op.Resume);
  });

  it("a missing heartbeat ACK counts as a dead connection", () => {
    const sock = env.last;
    sock.hello(10_000);
    ready(sock);
    env.advance(5000); // beat
    env.advance(10_000); // no ACK since: zombie
    expect(sock.closedWith).toBe(4000);
    env.advance(1000);
    env.last.hello();
    expect(env.last.sent[0].op).toBe(Op.Resume);
  });

  it("session timeouts identify anew; a refused token stops for good", () => {
    env.last.hello();
    ready(env.last);
    env.last.drop(4009);
    env.advance(1000);
    env.last.hello();
    expect(env.last.sent[0].op).toBe(Op.Identify);
    env.last.drop(4004);
    expect(fatal).toBe(4004);
    expect(gw.status).toBe("closed");
    const n = env.sockets.length;
    env.advance(60_000);
    expect(env.sockets.length).toBe(n);
  });

  it("close() stops reconnecting", () => {
    env.last.hello();
    ready(env.last);
    gw.close();
    env.advance(60_000);
    expect(env.sockets).toHaveLength(1);
    expect(gw.status).toBe("closed");
  });
});
