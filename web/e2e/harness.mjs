// What the browser tests run against: the real `fussioncord` binary on a
// free port with a temporary SQLite data directory, a TCP proxy in front of
// it that the test can cut (to drop one person's network), and Debian's
// Chromium driven by playwright-core.

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const screenshots = join(here, "screenshots");

export function binaryPath() {
  if (process.env.FUSSIONCORD_BIN) return process.env.FUSSIONCORD_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache/fussioncord/target");
  return join(target, "debug", "fussioncord");
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) throw new Error(`server did not answer ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A new PostgreSQL database's URL when TEST_STORE=postgres, else null. */
function freshDatabase() {
  if ((process.env.TEST_STORE ?? "sqlite") !== "postgres") return null;
  const admin = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `fc_test_e2e_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  execFileSync("psql", ["-q", "-d", admin, "-c", `CREATE DATABASE ${name}`]);
  return `${admin.slice(0, admin.lastIndexOf("/"))}/${name}`;
}

/** Starts the server; returns {url, port, stop()}. `env` adds or overrides settings. */
export async function startServer({ env = {} } = {}) {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin} (cargo build -p fussioncord, or set FUSSIONCORD_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), "fc-e2e-"));
  const port = await freePort();
  // TEST_STORE=postgres: a fresh database of its own (scripts/test.sh drops
  // the fc_test_* ones afterwards), as the Rust suites do.
  const database = freshDatabase();
  if (database) env = { FUSSIONCORD__DATABASE__URL: database, ...env };
  const proc = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dir], {
    env: {
      ...process.env,
      RUST_LOG: process.env.RUST_LOG ?? "warn",
      // Cheap hashing, and no rate limits: these tests are about the client.
      FUSSIONCORD__AUTH__ARGON2_MEMORY_KIB: "1024",
      FUSSIONCORD__AUTH__ARGON2_ITERATIONS: "1",
      FUSSIONCORD__RATELIMIT__ENABLED: "false",
      FUSSIONCORD__GATEWAY__RESUME_WINDOW_MS: "120000",
      // Voice on free ports: tests (and worktrees) run side by side.
      FUSSIONCORD__VOICE__LISTEN: "127.0.0.1:0",
      FUSSIONCORD__VOICE__UDP_PORT: "0",
      FUSSIONCORD__VOICE__WEBRTC_UDP_PORT: "0",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
  return {
    url,
    port,
    /** The data directory (the voice server's self-signed certificate is in `voice/`). */
    dir,
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy to `targetPort`. `cut()` closes every connection and refuses
 * new ones until `restore()`. It reads the client's WebSocket frames (after
 * an upgrade) to record which gateway opcodes the browser sent, so a test can
 * tell a RESUME (op 6) from a new IDENTIFY (op 2).
 */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  const sentOps = [];
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const sniff = frameSniffer((op) => sentOps.push({ op, at: Date.now() }));
    client.on("data", (chunk) => {
      sniff(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${port}`,
    sentOps,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      down = false;
    },
    stop: () => new Promise((r) => (server.close(() => r()), [...sockets].forEach((s) => s.destroy()))),
  };
}

/** Feeds client→server bytes; after an HTTP upgrade, reports each text frame's `op`. */
function frameSniffer(onOp) {
  let buf = Buffer.alloc(0);
  let upgraded = false;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!upgraded) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1");
      if (!/^upgrade:\s*websocket/im.test(head)) {
        buf = Buffer.alloc(0); // plain HTTP: nothing to read
        return;
      }
      upgraded = true;
      buf = buf.subarray(end + 4);
    }
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = buf[1] & 0x80;
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOff + (i % 4)];
      buf = buf.subarray(off + len);
      if (opcode === 1) {
        try {
          onOp(JSON.parse(payload.toString("utf8")).op);
        } catch {
          /* not JSON */
        }
      }
    }
  };
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  // The voice server's WebRTC candidate is 127.0.0.1, which Chromium
  // leaves out of its ICE checks without this.
  "--allow-loopback-in-peer-connection",
];

/** For browsers that take part in calls: fake microphone (a beep), camera
 * (a test pattern) and screen, granted without asking, and audio that plays
 * without a click. */
export const MEDIA_ARGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--auto-select-desktop-capture-source=Entire screen",
  "--autoplay-policy=no-user-gesture-required",
  "--disable-features=WebRtcHideLocalIpsWithMdns",
];

export async function launchBrowser(extraArgs = []) {
  mkdirSync(screenshots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

/** How long a step may wait for the page (Playwright's default timeout too). */
/**
 * The loudest RMS of `userId`'s audio in this page over `ms`: an
 * AnalyserNode on the stream its <audio> element plays. The fake
 * microphone beeps about once a second, so windows are over a second.
 */
export function loudness(page, userId, ms = 1500) {
  return page.evaluate(
    async ({ userId, ms }) => {
      const el = document.querySelector(`audio[data-user="${userId}"]`);
      if (!el || !el.srcObject) return -1;
      const ctx = new AudioContext();
      await ctx.resume();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaStreamSource(el.srcObject).connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      let max = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        max = Math.max(max, Math.sqrt(sum / buf.length));
      }
      await ctx.close();
      return max;
    },
    { userId, ms },
  );
}

export const TIMEOUT = 15_000;

/** Saves a screenshot of `page` as screenshots/`file`.png. */
/** One person in a fresh context of `browser` at `baseURL`, with the
 *  tests' timeout; their page's uncaught errors go to `pageErrors` when
 *  given. */
export async function openPerson(browser, baseURL, name, pageErrors) {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  if (pageErrors) page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
  return { name, context, page };
}

export const shot = (page, file) => page.screenshot({ path: join(screenshots, `${file}.png`) });

/** Polls `fn` until it returns truthy, or fails after `ms`. */
export async function eventually(fn, what, ms = TIMEOUT) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (no padding), as TOTP secrets are written. */
export function base32(buf) {
  let bits = "";
  for (const b of buf) bits += b.toString(2).padStart(8, "0");
  return bits.match(/.{1,5}/g).map((c) => B32[parseInt(c.padEnd(5, "0"), 2)]).join("");
}

/** RFC 6238 code (SHA-1, 6 digits, 30 s steps) for a base32 secret at `nowMs`,
 * as an authenticator app would show it. */
export function totp(secret, nowMs = Date.now()) {
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) bits += B32.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30_000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** Calls the server's REST API as `token` (none: unauthenticated); throws on any non-2xx answer. */
export async function rest(baseUrl, token, method, path, body) {
  const res = await fetch(`${baseUrl}/api/v10${path}`, {
    method,
    headers: { ...(token ? { Authorization: token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Registers through the page as a person would; sets `p.token` and `p.id`. */
export async function register(baseUrl, p, username, displayName) {
  const { page } = p;
  await page.goto("/register");
  await page.getByLabel("Email").fill(`${username}@example.org`);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/channels\/@me$/);
  await page.getByRole("heading", { name: "Friends" }).waitFor();
  p.token = await page.evaluate(() => localStorage.getItem("fussioncord.token"));
  p.id = (await rest(baseUrl, p.token, "GET", "/users/@me")).id;
}
