// The bridge with an unmodified bot library, bot → browser: a discord.py bot
// (its `voice` extra, from scripts/bot-libs.sh) joins a voice channel over the
// TLS voice gateway and UDP and plays real Opus, and a person in Chromium in
// the same channel hears it (non-silent, measured in the page). The Opus is
// what a browser's fake microphone sent: recorded first by a Discord-protocol
// client (discord-voice.mjs), since this machine has no Opus encoder.
// Run: node --test e2e/voice-discordpy.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { MEDIA_ARGS, TIMEOUT, eventually, launchBrowser, loudness, shot, startServer, rest as harnessRest, register, openPerson } from "./harness.mjs";
import { connectDiscordVoice } from "./discord-voice.mjs";

const PYTHON = process.env.FUSSIONCORD_PYTHON ?? join(homedir(), ".cache/fussioncord/venv/bin/python");
const BOT = new URL("../../crates/fussioncord/tests/bots/py/voice_bot.py", import.meta.url).pathname;

let server, browser, recorder, bot;

before(async () => {
  server = await startServer();
  browser = await launchBrowser(MEDIA_ARGS);
});

after(async () => {
  recorder?.close();
  bot?.kill("SIGKILL");
  await browser?.close();
  await server?.stop();
});

const person = (name) => openPerson(browser, server.url, name);

test("a discord.py bot plays Opus and a browser hears it", async () => {
  assert.ok(existsSync(PYTHON), `no Python with discord.py at ${PYTHON}: run scripts/bot-libs.sh`);
  const a = await person("alice");
  try {
    await register(server.url, a, "alice", "Alice");
    const guild = await harnessRest(server.url, a.token, "POST", "/guilds", { name: "Bot Bridge" });
    const general = guild.system_channel_id;
    const channels = await harnessRest(server.url, a.token, "GET", `/guilds/${guild.id}/channels`);
    const voiceChannel = channels.find((ch) => ch.type === 2);
    const app = await harnessRest(server.url, a.token, "POST", "/applications", { name: "Player" });
    await harnessRest(server.url, a.token, "POST", `/oauth2/authorize?client_id=${app.id}&scope=bot&permissions=0&guild_id=${guild.id}`, {});
    const botToken = `Bot ${app.token}`;

    // Alice joins; the bot's user records 4 s of her (beeping) microphone.
    await a.page.goto(`/channels/${guild.id}/${general}`);
    const voiceButton = a.page
      .getByRole("navigation", { name: "Channels" })
      .getByRole("button", { name: new RegExp(`^${voiceChannel.name} \\(voice channel`) });
    await voiceButton.click();
    await a.page.getByRole("region", { name: "Voice" }).getByRole("status").filter({ hasText: "Voice connected" }).waitFor();
    recorder = await connectDiscordVoice(server.url, { token: botToken, userId: app.id, guildId: guild.id, channelId: voiceChannel.id });
    await eventually(() => recorder.received.length >= 200, "4 s of Alice's Opus recorded", 30_000);
    const frames = recorder.received.slice(0, 200).map((p) => p.opus);
    recorder.close();
    recorder = null;
    const file = join(server.dir, "recorded.opus");
    writeFileSync(file, Buffer.concat(frames.flatMap((f) => [Buffer.from([f.length >> 8, f.length & 0xff]), f])));

    // Alice mutes herself so only the bot makes sound, then the bot plays it.
    await a.page.getByRole("region", { name: "Voice" }).getByRole("button", { name: "Mute" }).click();
    bot = spawn(PYTHON, [BOT], {
      env: {
        ...process.env,
        FC_HTTP: server.url,
        FC_TOKEN: app.token,
        FC_VOICE_CHANNEL: voiceChannel.id,
        FC_FRAMES: "1000",
        FC_PLAY_DELAY: "0.5",
        FC_OPUS_FILE: file,
        SSL_CERT_FILE: join(server.dir, "voice/self-signed-cert.pem"),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let said = "";
    bot.stdout.on("data", (d) => (said += d));
    await eventually(() => said.includes("CONNECTED_VOICE"), `discord.py connected to voice (said: ${JSON.stringify(said)})`, 60_000);
    await eventually(async () => (await loudness(a.page, app.id)) > 0.01, "Alice hears the discord.py bot", 30_000);
    await shot(a.page, "voice-discordpy");
  } catch (e) {
    await shot(a.page, "fail-voice-discordpy").catch(() => {});
    throw e;
  }
});
