// Voice and video over WebRTC between two people, each in their own
// Chromium (fake microphone beeping, fake camera and screen): both join a
// voice channel from the UI and hear each other (the other's audio measured
// in the page as non-silent), a camera turned on shows decoded frames on
// the other side, a shared screen too, self-mute silences the other side,
// and leaving removes one's audio from the other's page.
// Run: node --test e2e/voice-media.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  MEDIA_ARGS,
  TIMEOUT,
  eventually,
  launchBrowser,
  loudness,
  shot,
  startProxy,
  startServer,
  rest as harnessRest,
  register as harnessRegister,
  openPerson,
} from "./harness.mjs";

let server, proxy;
const browsers = [];
const pageErrors = [];

before(async () => {
  server = await startServer();
  proxy = await startProxy(server.port);
});

after(async () => {
  for (const b of browsers) await b.close();
  await proxy?.stop();
  await server?.stop();
});

// Two browser instances: each gets its own fake devices.
async function person(name, baseURL = server.url) {
  const browser = await launchBrowser(MEDIA_ARGS);
  browsers.push(browser);
  return openPerson(browser, baseURL, name, pageErrors);
}

const rest = (token, method, path, body) => harnessRest(server.url, token, method, path, body);
const channels = (page) => page.getByRole("navigation", { name: "Channels" });
const voiceButton = (page, name) => channels(page).getByRole("button", { name: new RegExp(`^${name} \\(voice channel`) });
const panel = (page) => page.getByRole("region", { name: "Voice" });

/** Frames decoded by the <video> showing `userId`'s `source`, or -1. */
function framesOf(page, userId, source) {
  return page.evaluate(
    ({ userId, source }) => {
      const v = document.querySelector(`video[data-user="${userId}"][data-source="${source}"]`);
      return v ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
    },
    { userId, source },
  );
}

async function framesRising(page, userId, source, what) {
  const first = await eventually(async () => {
    const n = await framesOf(page, userId, source);
    return n > 0 ? n : false;
  }, `${what}: first decoded frames`, 20_000);
  await eventually(async () => (await framesOf(page, userId, source)) > first + 5, `${what}: frames keep coming`);
}

test("voice and video over WebRTC between two browsers", async (tt) => {
  const a = await person("alice");
  // Bob's network is the proxy's, which a step cuts.
  const b = await person("bob", proxy.url);
  const step = (name, fn) =>
    tt.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
        await shot(a.page, `fail-media-${slug}-alice`).catch(() => {});
        await shot(b.page, `fail-media-${slug}-bob`).catch(() => {});
        throw e;
      }
    });

  await step("both join General from the channel list and connect", async () => {
    await harnessRegister(server.url, a, "alice", "Alice");
    await harnessRegister(server.url, b, "bob", "Bob");
    const guild = await rest(a.token, "POST", "/guilds", { name: "Media Guild" });
    const invite = await rest(a.token, "POST", `/channels/${guild.system_channel_id}/invites`, {});
    await rest(b.token, "POST", `/invites/${invite.code}`, {});
    for (const p of [a, b]) {
      await p.page.goto(`/channels/${guild.id}/${guild.system_channel_id}`);
      await voiceButton(p.page, "General").click();
    }
    for (const p of [a, b]) {
      await panel(p.page).getByRole("status").filter({ hasText: "Voice connected" }).waitFor({ timeout: 20_000 });
    }
  });

  await step("each hears the other (non-silent audio)", async () => {
    for (const [listener, speaker] of [
      [a, b],
      [b, a],
    ]) {
      await eventually(
        async () => (await loudness(listener.page, speaker.id)) > 0.01,
        `${listener.name} hears ${speaker.name}`,
        20_000,
      );
    }
    await shot(a.page, "voice-media-connected");
  });

  await step("Alice's camera: Bob decodes her frames", async () => {
    await panel(a.page).getByRole("button", { name: "Turn camera on" }).click();
    await panel(a.page).getByRole("button", { name: "Turn camera off" }).waitFor();
    await framesRising(b.page, a.id, "camera", "Bob sees Alice's camera");
    await shot(b.page, "voice-media-camera");
  });

  await step("Bob shares his screen: Alice decodes it", async () => {
    await panel(b.page).getByRole("button", { name: "Share screen" }).click();
    await panel(b.page).getByRole("button", { name: "Stop sharing" }).waitFor();
    await framesRising(a.page, b.id, "screen", "Alice sees Bob's screen");
    await shot(a.page, "voice-media-screen");
  });

  await step("Alice mutes herself: Bob hears silence; unmuted, her audio is back", async () => {
    await panel(a.page).getByRole("button", { name: "Mute" }).click();
    await panel(a.page).getByRole("button", { name: "Unmute" }).waitFor();
    await eventually(async () => (await loudness(b.page, a.id, 2500)) < 0.002, "Alice's audio silent at Bob's");
    // Bob still hears nothing for a while more (not a gap between beeps).
    assert.ok((await loudness(b.page, a.id, 2000)) < 0.002, "Alice stays silent while muted");
    await panel(a.page).getByRole("button", { name: "Unmute" }).click();
    await eventually(async () => (await loudness(b.page, a.id)) > 0.01, "Alice audible again", 20_000);
  });

  await step("Alice switches to push to talk: silent until she holds the key", async () => {
    await a.page.getByRole("button", { name: "User settings" }).click();
    const dlg = a.page.getByRole("dialog", { name: "User settings" });
    await dlg.getByRole("tab", { name: "Voice & Video" }).click();
    await dlg.getByRole("radio", { name: "Push to talk" }).check();
    await a.page.getByRole("button", { name: "Close settings" }).click();
    await panel(a.page).getByText("Push to talk: hold").waitFor();
    await eventually(async () => (await loudness(b.page, a.id, 2500)) < 0.002, "silent without the key");
    await panel(a.page).getByText("Push to talk: hold").click(); // focus off any text field
    await a.page.keyboard.down("Backquote");
    await eventually(async () => (await loudness(b.page, a.id)) > 0.01, "audible while the key is held", 20_000);
    await a.page.keyboard.up("Backquote");
    await eventually(async () => (await loudness(b.page, a.id, 2500)) < 0.002, "silent again when released");
    await a.page.getByRole("button", { name: "User settings" }).click();
    await a.page.getByRole("dialog", { name: "User settings" }).getByRole("tab", { name: "Voice & Video" }).click();
    await a.page.getByRole("radio", { name: "Voice activity" }).check();
    await a.page.getByRole("button", { name: "Close settings" }).click();
    await eventually(async () => (await loudness(b.page, a.id)) > 0.01, "voice activity again", 20_000);
  });

  await step("Bob deafens himself: Alice's audio stops reaching him; undeafened, it is back", async () => {
    await panel(b.page).getByRole("button", { name: "Deafen" }).click();
    await panel(b.page).getByRole("button", { name: "Undeafen" }).waitFor();
    await eventually(async () => (await loudness(b.page, a.id, 2500)) < 0.002, "nothing reaches deafened Bob");
    await panel(b.page).getByRole("button", { name: "Undeafen" }).click();
    await panel(b.page).getByRole("button", { name: "Unmute" }).click();
    await eventually(async () => (await loudness(b.page, a.id)) > 0.01, "Bob hears Alice again", 20_000);
  });

  await step("Bob's network drops: Reconnecting…, then connected and hearing Alice again", async () => {
    proxy.cut();
    await panel(b.page).getByRole("status").filter({ hasText: "Reconnecting…" }).waitFor();
    await shot(b.page, "voice-media-reconnecting");
    proxy.restore();
    await panel(b.page).getByRole("status").filter({ hasText: "Voice connected" }).waitFor({ timeout: 30_000 });
    await eventually(async () => (await loudness(b.page, a.id)) > 0.01, "Bob hears Alice after reconnecting", 20_000);
    await eventually(async () => (await loudness(a.page, b.id)) > 0.01, "Alice hears Bob after he reconnected", 20_000);
  });

  await step("Alice leaves: her audio leaves Bob's page", async () => {
    await panel(a.page).getByRole("button", { name: "Disconnect" }).click();
    await panel(a.page).waitFor({ state: "detached" });
    await b.page.locator(`audio[data-user="${a.id}"]`).waitFor({ state: "detached" });
  });

  await step("no page errors", async () => {
    assert.deepEqual(pageErrors, []);
  });
});
