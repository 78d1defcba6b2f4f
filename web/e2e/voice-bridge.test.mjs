// The bridge between the web client's WebRTC and Discord's voice protocol,
// with a real browser: Alice joins a voice channel in Chromium (fake
// microphone beeping), Carol is a Discord-protocol client (discord-voice.mjs,
// encrypted RTP over UDP). Carol receives Alice's Opus as Discord RTP (PT 120,
// the SSRC an op 5 named for Alice) and sends the same frames back as her own
// audio; Alice's page plays Carol's track, non-silent.
// Run: node --test e2e/voice-bridge.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { MEDIA_ARGS, TIMEOUT, eventually, launchBrowser, loudness, shot, startServer, rest as harnessRest, register, openPerson } from "./harness.mjs";
import { connectDiscordVoice } from "./discord-voice.mjs";

let server, browser, carolVoice;

before(async () => {
  server = await startServer();
  browser = await launchBrowser(MEDIA_ARGS);
});

after(async () => {
  carolVoice?.close();
  await browser?.close();
  await server?.stop();
});

const person = (name) => openPerson(browser, server.url, name);

test("a browser and a Discord-protocol client hear each other", async () => {
  const a = await person("alice");
  const c = await person("carol");
  try {
    await register(server.url, a, "alice", "Alice");
    await register(server.url, c, "carol", "Carol");
    const guild = await harnessRest(server.url, a.token, "POST", "/guilds", { name: "Bridge" });
    const general = guild.system_channel_id;
    const invite = await harnessRest(server.url, a.token, "POST", `/channels/${general}/invites`, {});
    await harnessRest(server.url, c.token, "POST", `/invites/${invite.code}`, {});
    const channels = await harnessRest(server.url, a.token, "GET", `/guilds/${guild.id}/channels`);
    const voiceChannel = channels.find((ch) => ch.type === 2);

    // Carol, the Discord-protocol side, joins first and echoes what she hears.
    carolVoice = await connectDiscordVoice(server.url, {
      token: c.token,
      userId: c.id,
      guildId: guild.id,
      channelId: voiceChannel.id,
    });
    carolVoice.speaking();
    carolVoice.onOpus = (p) => carolVoice.sendOpus(p.opus);

    await a.page.goto(`/channels/${guild.id}/${general}`);
    await a.page
      .getByRole("navigation", { name: "Channels" })
      .getByRole("button", { name: new RegExp(`^${voiceChannel.name} \\(voice channel`) })
      .click();
    await a.page.getByRole("region", { name: "Voice" }).getByRole("status").filter({ hasText: "Voice connected" }).waitFor();

    // Browser → Discord RTP: mapped by op 5 first, PT 120, Alice's SSRC.
    await eventually(() => carolVoice.received.length >= 25, `Carol receives Alice's audio (ops: ${JSON.stringify(carolVoice.voice.log.map((v) => v.op))})`, 20_000);
    const mapped = carolVoice.voice.log.find((v) => v.op === 5 && v.d.user_id === a.id);
    assert.ok(mapped, "an op 5 maps Alice's SSRC");
    for (const p of carolVoice.received) {
      assert.equal(p.ssrc, mapped.d.ssrc, "Alice's packets carry the SSRC op 5 named");
      assert.equal(p.pt, 120, "Opus as Discord sends it");
    }

    // Discord RTP → browser: Carol's echo plays in Alice's page.
    await eventually(async () => (await loudness(a.page, c.id)) > 0.01, "Alice hears Carol (her own beep, echoed)", 20_000);
    await shot(a.page, "voice-bridge");
  } catch (e) {
    await shot(a.page, "fail-voice-bridge").catch(() => {});
    throw e;
  }
});
