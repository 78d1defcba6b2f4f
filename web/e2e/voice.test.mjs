// Voice channels in the web client: joining and leaving, who is connected
// under each voice channel, one's own mute and deafen, and a moderator's
// server mute, move and disconnect — all through the gateway's op 4 and the
// member route, as two people in two browser contexts see it.
// Run: node --test e2e/ (after `cargo build -p fussioncord`); see harness.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TIMEOUT, launchBrowser, shot, startServer, rest as harnessRest, register as harnessRegister, openPerson } from "./harness.mjs";

let server, browser;
const pageErrors = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const person = (name) => openPerson(browser, server.url, name, pageErrors);

const rest = (token, method, path, body) => harnessRest(server.url, token, method, path, body);
const channels = (page) => page.getByRole("navigation", { name: "Channels" });
const voiceButton = (page, name) => channels(page).getByRole("button", { name: new RegExp(`^${name} \\(voice channel`) });
const inChannel = (page, name) => channels(page).getByRole("list", { name: `In ${name}` });
const panel = (page) => page.getByRole("region", { name: "Voice" });

test("voice channels: join, see who is there, mute, and a moderator's actions", async (tt) => {
  const a = await person("alice");
  const b = await person("bob");
  const step = (name, fn) =>
    tt.test(name, async () => {
      try {
        await fn();
      } catch (e) {
        const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
        await shot(a.page, `fail-${slug}-alice`).catch(() => {});
        await shot(b.page, `fail-${slug}-bob`).catch(() => {});
        throw e;
      }
    });
  let guildId, generalId;

  await step("Alice makes a server with a second voice channel; Bob joins it", async () => {
    await harnessRegister(server.url, a, "alice", "Alice");
    await harnessRegister(server.url, b, "bob", "Bob");
    const guild = await rest(a.token, "POST", "/guilds", { name: "Voice Guild" });
    guildId = guild.id;
    generalId = guild.system_channel_id;
    await rest(a.token, "POST", `/guilds/${guildId}/channels`, { name: "Lounge", type: 2 });
    const invite = await rest(a.token, "POST", `/channels/${generalId}/invites`, {});
    await rest(b.token, "POST", `/invites/${invite.code}`, {});
    for (const p of [a, b]) await p.page.goto(`/channels/${guildId}/${generalId}`);
    await voiceButton(a.page, "General").waitFor();
    await voiceButton(b.page, "Lounge").waitFor();
  });

  await step("Alice joins General: both see her there; her panel says connected", async () => {
    await voiceButton(a.page, "General").click();
    await panel(a.page).getByRole("status").filter({ hasText: "Voice connected" }).waitFor();
    await panel(a.page).getByText("General / Voice Guild").waitFor();
    for (const p of [a, b]) await inChannel(p.page, "General").getByText("Alice").waitFor();
    await voiceButton(b.page, "General").filter({ hasText: "General" }).waitFor();
    assert.match(await voiceButton(b.page, "General").getAttribute("aria-label"), /1 connected/);
    await shot(a.page, "voice-connected");
  });

  await step("her own mute shows for Bob; deafen implies mute", async () => {
    await panel(a.page).getByRole("button", { name: "Mute" }).click();
    await inChannel(b.page, "General").getByRole("img", { name: "muted" }).waitFor();
    await panel(a.page).getByRole("button", { name: "Deafen" }).click();
    await inChannel(b.page, "General").getByRole("img", { name: "deafened" }).waitFor();
    assert.equal(await panel(a.page).getByRole("button", { name: "Undeafen" }).getAttribute("aria-pressed"), "true");
    await panel(a.page).getByRole("button", { name: "Undeafen" }).click();
    await panel(a.page).getByRole("button", { name: "Unmute" }).click();
    await inChannel(b.page, "General").getByRole("img", { name: "muted" }).waitFor({ state: "detached" });
  });

  await step("Bob joins; Alice, the owner, server-mutes him, moves him and disconnects him", async () => {
    await voiceButton(b.page, "General").click();
    await inChannel(a.page, "General").getByText("Bob").waitFor();
    // Bob may not moderate: no actions menu for him.
    assert.equal(await inChannel(b.page, "General").getByRole("button", { name: /Voice actions/ }).count(), 0);
    const actions = () => inChannel(a.page, "General").getByRole("button", { name: "Voice actions for Bob" });
    await actions().click();
    await a.page.getByRole("menuitem", { name: "Server mute" }).click();
    await inChannel(b.page, "General").getByRole("img", { name: "server muted" }).waitFor();
    await panel(b.page).getByText("A moderator muted you here.").waitFor();
    await actions().click();
    await a.page.getByRole("menuitem", { name: "Move to Lounge" }).click();
    await inChannel(b.page, "Lounge").getByText("Bob").waitFor();
    await panel(b.page).getByText("Lounge / Voice Guild").waitFor();
    const lounge = () => inChannel(a.page, "Lounge").getByRole("button", { name: "Voice actions for Bob" });
    await lounge().click();
    await a.page.getByRole("menuitem", { name: "Disconnect" }).click();
    await panel(b.page).waitFor({ state: "detached" });
    await inChannel(a.page, "Lounge").waitFor({ state: "detached" });
    const log = await rest(a.token, "GET", `/guilds/${guildId}/audit-logs`);
    const kinds = log.audit_log_entries.map((e) => e.action_type);
    assert.ok(kinds.includes(26) && kinds.includes(27), `move and disconnect are audited: ${kinds}`);
  });

  await step("Alice disconnects herself", async () => {
    await panel(a.page).getByRole("button", { name: "Disconnect" }).click();
    await panel(a.page).waitFor({ state: "detached" });
    await inChannel(b.page, "General").waitFor({ state: "detached" });
  });

  await step("voice settings: devices, a clear word when no microphone opens, push to talk kept", async () => {
    await b.page.getByRole("button", { name: "User settings" }).click();
    const dlg = b.page.getByRole("dialog", { name: "User settings" });
    await dlg.getByRole("tab", { name: "Voice & Video" }).click();
    for (const name of ["Input device", "Output device", "Camera"]) await dlg.getByLabel(name).waitFor();
    // This browser has no microphone to give (no fake devices here).
    await dlg.getByRole("button", { name: "Test microphone" }).click();
    const alert = dlg.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /Microphone blocked|No microphone/);
    await dlg.getByRole("radio", { name: "Push to talk" }).check();
    await dlg.getByRole("button", { name: "Change key" }).click();
    await b.page.keyboard.press("KeyV");
    await dlg.getByText("V", { exact: true }).waitFor();
    await b.page.reload();
    await b.page.getByRole("button", { name: "User settings" }).click();
    await b.page.getByRole("dialog", { name: "User settings" }).getByRole("tab", { name: "Voice & Video" }).click();
    assert.equal(await b.page.getByRole("radio", { name: "Push to talk" }).isChecked(), true, "the mode is kept");
    await b.page.getByRole("button", { name: "Close settings" }).click();
  });

  await step("no page errors", async () => {
    assert.deepEqual(pageErrors, []);
  });
});
