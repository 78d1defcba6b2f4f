// A Discord-protocol voice client in Node, as bot libraries are one: the
// main gateway's op 4 to join, the voice gateway (here the same handler at
// `/voice` on the main port, so no TLS trust is needed), SELECT_PROTOCOL
// "udp" in aead_aes256_gcm_rtpsize, and RTP over UDP sealed with the
// session's key. Used by the bridge test (voice-bridge.test.mjs).

import dgram from "node:dgram";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { createRequire } from "node:module";

// Node 20 has no global WebSocket without a flag; playwright-core ships `ws`.
const WS = globalThis.WebSocket ?? createRequire(import.meta.url)("playwright-core/lib/utilsBundle").ws;

const MODE = "aead_aes256_gcm_rtpsize";

/** A WebSocket whose JSON frames can be awaited by predicate. */
function socket(url) {
  const ws = new WS(url);
  const log = [];
  const waiters = [];
  ws.onmessage = (e) => {
    const v = JSON.parse(typeof e.data === "string" ? e.data : e.data.toString());
    log.push(v);
    for (const w of [...waiters]) if (w.pred(v)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(v));
  };
  const opened = new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
  return {
    ws,
    log,
    opened,
    send: (v) => ws.send(JSON.stringify(v)),
    wait(pred, what, ms = 15_000) {
      const found = log.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(log)}`)), ms);
        waiters.push({ pred, resolve: (v) => (clearTimeout(t), resolve(v)) });
      });
    },
    close: () => ws.close(),
  };
}

function nonce12(counter) {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(counter, 0);
  return n;
}

/** Joins `channelId` as `token`'s user and connects to voice. */
export async function connectDiscordVoice(baseUrl, { token, userId, guildId, channelId }) {
  const wsBase = baseUrl.replace(/^http/, "ws");
  const gw = socket(`${wsBase}/?v=10&encoding=json`);
  await gw.opened;
  const hello = await gw.wait((v) => v.op === 10, "HELLO");
  const beat = setInterval(() => gw.send({ op: 1, d: null }), hello.d.heartbeat_interval);
  gw.send({ op: 2, d: { token, intents: 1 | 128, properties: { os: "linux", browser: "e2e", device: "e2e" } } });
  await gw.wait((v) => v.t === "READY", "READY");
  gw.send({ op: 4, d: { guild_id: guildId, channel_id: channelId, self_mute: false, self_deaf: false } });
  const state = await gw.wait((v) => v.t === "VOICE_STATE_UPDATE" && v.d.user_id === userId, "my voice state");
  const server = await gw.wait((v) => v.t === "VOICE_SERVER_UPDATE", "VOICE_SERVER_UPDATE");

  const udp = dgram.createSocket("udp4");
  await new Promise((r) => udp.bind(0, "127.0.0.1", r));
  const voice = socket(`${wsBase}/voice`);
  await voice.opened;
  voice.send({
    op: 0,
    d: { server_id: guildId, user_id: userId, session_id: state.d.session_id, token: server.d.token, max_dave_protocol_version: 0 },
  });
  const ready = (await voice.wait((v) => v.op === 2, "voice READY")).d;
  const voiceBeat = setInterval(() => voice.send({ op: 3, d: { t: Date.now(), seq_ack: -1 } }), 4000);
  voice.send({ op: 1, d: { protocol: "udp", data: { address: "127.0.0.1", port: udp.address().port, mode: MODE } } });
  const description = (await voice.wait((v) => v.op === 4, "SESSION_DESCRIPTION")).d;
  if (description.mode !== MODE) throw new Error(`mode ${description.mode}`);
  const key = Buffer.from(description.secret_key);

  let sendNonce = 0;
  let seq = 1;
  let ts = 0;
  const client = {
    ssrc: ready.ssrc,
    voice,
    /** Every RTP packet received, decrypted: {ssrc, pt, opus}. */
    received: [],
    speaking: () => voice.send({ op: 5, d: { speaking: 1, delay: 0, ssrc: ready.ssrc } }),
    /** Sends one Opus frame as our own audio. */
    sendOpus(opus) {
      const header = Buffer.alloc(12);
      header[0] = 0x80;
      header[1] = 0x78;
      header.writeUInt16BE(seq, 2);
      header.writeUInt32BE(ts >>> 0, 4);
      header.writeUInt32BE(ready.ssrc, 8);
      seq = (seq + 1) & 0xffff;
      ts = (ts + 960) >>> 0;
      const n = sendNonce++;
      const c = createCipheriv("aes-256-gcm", key, nonce12(n));
      c.setAAD(header);
      const body = Buffer.concat([c.update(opus), c.final()]);
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(n);
      udp.send(Buffer.concat([header, body, c.getAuthTag(), counter]), ready.port, ready.ip);
    },
    onOpus: null,
    close() {
      clearInterval(beat);
      clearInterval(voiceBeat);
      voice.close();
      gw.close();
      udp.close();
    },
  };
  udp.on("message", (p) => {
    if (p.length < 12 + 16 + 4 || p[0] >> 6 !== 2) return;
    const ext = p[0] & 0x10;
    const headerLen = 12 + 4 * (p[0] & 0x0f) + (ext ? 4 : 0);
    const header = p.subarray(0, headerLen);
    const counter = p.readUInt32BE(p.length - 4);
    const d = createDecipheriv("aes-256-gcm", key, nonce12(counter));
    d.setAAD(header);
    d.setAuthTag(p.subarray(p.length - 20, p.length - 4));
    let plain;
    try {
      plain = Buffer.concat([d.update(p.subarray(headerLen, p.length - 20)), d.final()]);
    } catch {
      return;
    }
    const extBody = ext ? 4 * p.readUInt16BE(headerLen - 2) : 0;
    const packet = { ssrc: p.readUInt32BE(8), pt: p[1] & 0x7f, opus: plain.subarray(extBody) };
    client.received.push(packet);
    client.onOpus?.(packet);
  });
  return client;
}
