// A browser's voice reaches an unmodified discord.js bot (@discordjs/voice)
// in the same voice channel: the bot maps Alice's SSRC from op 5, decrypts
// the RTP the bridge sealed for it, and hands over Chromium's Opus frames.
// Needs the bot libraries (scripts/bot-libs.sh, as scripts/test.sh runs it
// first): crates/fussioncord/tests/bots/js/node_modules.
// Run: node --test e2e/voice-discordjs.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { MEDIA_ARGS, TIMEOUT, eventually, launchBrowser, shot, startServer, rest, register } from "./harness.mjs";

const botsJs = join(dirname(fileURLToPath(import.meta.url)), "../../crates/fussioncord/tests/bots/js");
let server, browser, bot;

before(async () => {
  server = await startServer();
  browser = await launchBrowser(MEDIA_ARGS);
});

after(async () => {
  bot?.kill("SIGTERM");
  await browser?.close();
  await server?.stop();
});

test("a discord.js bot hears a browser's microphone", async () => {
  assert.ok(existsSync(join(botsJs, "node_modules/discord.js")), "bot libraries missing: run scripts/bot-libs.sh");
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(TIMEOUT);
  const a = { page: await context.newPage() };
  try {
    await register(server.url, a, "alice", "Alice");
    const guild = await rest(server.url, a.token, "POST", "/guilds", { name: "Bots" });
    const channels = await rest(server.url, a.token, "GET", `/guilds/${guild.id}/channels`);
    const voice = channels.find((c) => c.type === 2);
    const app = await rest(server.url, a.token, "POST", "/applications", { name: "Listener" });
    await rest(
      server.url,
      a.token,
      "POST",
      `/oauth2/authorize?client_id=${app.id}&scope=bot&permissions=0&guild_id=${guild.id}`,
      {},
    );

    const lines = [];
    bot = spawn(process.execPath, [join(botsJs, "voice.mjs")], {
      cwd: botsJs,
      env: {
        ...process.env,
        FC_API: `${server.url}/api`,
        FC_TOKEN: app.token,
        FC_GUILD: guild.id,
        FC_VOICE_CHANNEL: voice.id,
        FC_SPEAKER: a.id,
        NODE_EXTRA_CA_CERTS: join(server.dir, "voice/self-signed-cert.pem"),
      },
      stdio: ["ignore", "pipe", "ignore"],
    });
    createInterface({ input: bot.stdout }).on("line", (l) => lines.push(l));
    await eventually(() => lines.includes("LISTENING"), "the bot's voice connection", 60_000);

    await a.page.goto(`/channels/${guild.id}/${guild.system_channel_id}`);
    await a.page
      .getByRole("navigation", { name: "Channels" })
      .getByRole("button", { name: new RegExp(`^${voice.name} \\(voice channel`) })
      .click();
    await a.page.getByRole("region", { name: "Voice" }).getByRole("status").filter({ hasText: "Voice connected" }).waitFor();

    const frames = () => lines.filter((l) => l.startsWith("OPUS ")).map((l) => Buffer.from(l.slice(5), "hex"));
    await eventually(() => frames().length >= 50, "discord.js receives Alice's Opus", 20_000);
    const got = frames();
    assert.ok(got.every((f) => f.length > 0), "no empty frames");
    assert.ok(new Set(got.map((f) => f.toString("hex"))).size > 10, "different frames (a beeping microphone), not one repeated");
    await shot(a.page, "voice-discordjs");
  } catch (e) {
    await shot(a.page, "fail-voice-discordjs").catch(() => {});
    throw e;
  }
});
