// Part 2 of the client in a real browser against the real server: friends,
// DMs, blocking, search, user settings and server settings. Two people in
// two browser contexts (a third, Carol, only over REST). Controls are found
// by role and accessible name only.
// Run: node --test e2e/ (after `cargo build -p fussioncord`); see harness.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TIMEOUT, eventually, launchBrowser, shot, startServer, totp , rest as harnessRest, register as harnessRegister, openPerson } from "./harness.mjs";

let server, browser;
const pageErrors = [];
const cspViolations = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// A 2×2 red PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==",
  "base64",
);

async function person(name) {
  const p = await openPerson(browser, server.url, name, pageErrors);
  p.page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
  });
  if (process.env.E2E_DEBUG) p.page.on("response", (r) => r.request().method() !== "GET" && console.log(name, r.request().method(), r.url(), r.status()));
  return p;
}



const rest = (token, method, path, body) => harnessRest(server.url, token, method, path, body);

const register = (p, username, displayName) => harnessRegister(server.url, p, username, displayName);

const feed = (page) => page.getByRole("feed");
const message = (page, text) => feed(page).getByRole("article").filter({ hasText: text });
const composer = (page) => page.getByRole("textbox", { name: /^Message / });
const channelLink = (page, name) =>
  page.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: new RegExp(`^${name}(,|$)`) });
const settings = (page, name) => page.getByRole("dialog", { name });
const rail = (page, name) => page.getByRole("navigation", { name: "Servers" }).getByRole("link", { name });
const openGuild = (page) => rail(page, /^Test Guild/).click();
const openHome = (page) => rail(page, "Direct messages").click();

/** Sends `text`; `shown` is how it reads once rendered as Markdown. */
async function send(page, text, shown = text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await message(page, shown).first().waitFor();
}

async function openServerSettings(page) {
  await page.getByRole("button", { name: /^Test Guild/ }).click();
  await page.getByRole("menuitem", { name: "Server settings" }).click();
  return settings(page, "Test Guild settings");
}

test("friends, DMs, search and settings", async (tt) => {
  const a = await person("alice");
  const b = await person("bob");
  // A failing step leaves a picture of both screens behind.
  const t = {
    test: (name, fn) =>
      tt.test(name, async () => {
        try {
          await fn();
        } catch (e) {
          await shot(a.page, "failed-alice").catch(() => {});
          await shot(b.page, "failed-bob").catch(() => {});
          throw e;
        }
      }),
  };
  let guildId, generalId, dmId;
  const carol = {};

  await t.test("both register", async () => {
    await register(a, "alice", "Alice");
    await register(b, "bob", "Bob");
  });

  await t.test("a friend request by username, accepted live", async () => {
    await a.page.getByRole("tab", { name: "Add Friend" }).click();
    await a.page.getByRole("tabpanel").getByLabel("Username").fill("bob");
    await a.page.getByRole("button", { name: "Send Friend Request" }).click();
    await a.page.getByRole("status").filter({ hasText: "friend request to bob was sent" }).waitFor();
    // An unknown name is refused with Discord's message.
    await a.page.getByRole("tabpanel").getByLabel("Username").fill("nobody_here");
    await a.page.getByRole("button", { name: "Send Friend Request" }).click();
    await a.page.getByRole("alert").filter({ hasText: /No users with DiscordTag exist/ }).waitFor();
    await a.page.getByRole("tab", { name: /^Pending/ }).click();
    await a.page.getByRole("button", { name: "Cancel friend request to Bob" }).waitFor();

    // Bob's pending tab counts it without a reload.
    await b.page.getByRole("tab", { name: /^Pending.*1 incoming/ }).click();
    await b.page.getByRole("button", { name: "Accept friend request from Alice" }).click();
    await b.page.getByRole("tab", { name: "All" }).click();
    await b.page.getByRole("listitem", { name: "Alice" }).waitFor();
    await a.page.getByRole("tab", { name: "All" }).click();
    await a.page.getByRole("listitem", { name: "Bob" }).waitFor();
    await shot(a.page, "friends");
  });

  await t.test("a DM opened from the friends list, exchanged in real time", async () => {
    await a.page.getByRole("button", { name: "Message Bob" }).click();
    await a.page.waitForURL(/\/channels\/@me\/\d+$/);
    dmId = a.page.url().match(/@me\/(\d+)/)[1];
    await send(a.page, "hi **Bob**, a DM", "hi Bob, a DM");
    const dmLink = b.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: /^Alice, unread/ });
    await dmLink.click();
    await message(b.page, "hi Bob, a DM").waitFor();
    assert.equal(await message(b.page, "hi Bob, a DM").locator("strong").filter({ hasText: "Bob" }).count(), 1);
    await send(b.page, "hello Alice");
    await message(a.page, "hello Alice").waitFor();
    // Read: Bob's link loses its unread mark.
    await b.page.getByRole("navigation", { name: "Direct messages" }).getByRole("link", { name: "Alice", exact: true }).waitFor();
    await shot(a.page, "dm");
  });

  await t.test("search in a DM", async () => {
    await a.page.getByRole("searchbox", { name: "Search" }).fill("hello");
    await a.page.getByRole("searchbox", { name: "Search" }).press("Enter");
    const panel = a.page.getByRole("region", { name: "Search results" });
    await panel.getByRole("article").filter({ hasText: "hello Alice" }).waitFor();
    await panel.getByRole("button", { name: "Close search results" }).click();
  });

  await t.test("a guild with both (set up over REST)", async () => {
    const g = await rest(a.token, "POST", "/guilds", { name: "Test Guild" });
    guildId = g.id;
    const chans = await rest(a.token, "GET", `/guilds/${guildId}/channels`);
    generalId = chans.find((c) => c.name === "general").id;
    const inv = await rest(a.token, "POST", `/channels/${generalId}/invites`, {});
    await rest(b.token, "POST", `/invites/${inv.code}`, {});
    const c = await rest(null, "POST", "/auth/register", { username: "carol", email: "carol@example.org", password: "correct horse battery" });
    carol.token = c.token;
    carol.id = (await rest(carol.token, "GET", "/users/@me")).id;
    await rest(carol.token, "POST", `/invites/${inv.code}`, {});
    carol.invite = inv.code;
    await openGuild(a.page);
    await openGuild(b.page);
    await channelLink(a.page, "general").waitFor();
    await channelLink(b.page, "general").waitFor();
  });

  await t.test("members without permission get no server settings", async () => {
    await b.page.getByRole("button", { name: /^Test Guild/ }).click();
    await b.page.getByRole("menuitem", { name: "Invite people" }).waitFor();
    assert.equal(await b.page.getByRole("menuitem", { name: "Server settings" }).count(), 0);
    await b.page.getByRole("button", { name: /^Test Guild/ }).click();
  });

  await t.test("server settings: a role, and a channel hidden from @everyone", async () => {
    const dlg = await openServerSettings(a.page);
    await dlg.getByRole("tab", { name: "Roles" }).click();
    await dlg.getByRole("button", { name: "Create role" }).click();
    await dlg.getByLabel("Role name").fill("Moderators");
    await dlg.getByRole("button", { name: "Save role" }).click();
    await dlg.getByRole("button", { name: "Edit role Moderators" }).waitFor();
    await dlg.getByRole("switch", { name: "Kick Members" }).check();
    await eventually(async () => {
      const roles = await rest(a.token, "GET", `/guilds/${guildId}/roles`);
      const r = roles.find((x) => x.name === "Moderators");
      return r && (BigInt(r.permissions) & 2n) === 2n;
    }, "the role's new permission");

    await dlg.getByRole("tab", { name: "Channels" }).click();
    await dlg.getByLabel("New channel name").fill("secret");
    await dlg.getByRole("button", { name: "Create channel" }).click();
    await dlg.getByRole("button", { name: "Edit secret" }).click();
    await dlg.getByLabel("Role or member").selectOption({ label: "@everyone" });
    await dlg.getByRole("group", { name: "View Channel" }).getByRole("radio", { name: "Deny" }).check();
    await eventually(async () => {
      const ch = (await rest(a.token, "GET", `/guilds/${guildId}/channels`)).find((c) => c.name === "secret");
      return ch?.permission_overwrites?.some((o) => o.id === guildId && (BigInt(o.deny) & 1024n) === 1024n);
    }, "the overwrite on the server");
    await shot(a.page, "server-settings");
    await dlg.getByRole("button", { name: "Close settings" }).click();

    await channelLink(a.page, "secret").waitFor();
    // Bob never sees it (and would lose it live if he had it).
    await channelLink(b.page, "general").waitFor();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await channelLink(b.page, "secret").count(), 0);
  });

  await t.test("search finds a message, but not one in a channel the searcher cannot view", async () => {
    await channelLink(a.page, "secret").click();
    await send(a.page, "needle hidden in secret");
    await channelLink(a.page, "general").click();
    await send(a.page, "needle in the *general* haystack", "needle in the general haystack");
    await message(b.page, "needle in the general haystack").waitFor();

    const box = b.page.getByRole("searchbox", { name: "Search" });
    await box.fill("needle");
    await box.press("Enter");
    const panel = b.page.getByRole("region", { name: "Search results" });
    await panel.getByRole("article").filter({ hasText: "needle in the general haystack" }).waitFor();
    await panel.getByRole("heading", { name: "1 Result" }).waitFor();
    assert.equal(await panel.getByRole("article").filter({ hasText: "hidden in secret" }).count(), 0);
    await shot(b.page, "search-results");

    // The owner finds both; from: narrows to an author.
    await a.page.getByRole("searchbox", { name: "Search" }).fill("needle from:alice");
    await a.page.getByRole("searchbox", { name: "Search" }).press("Enter");
    const mine = a.page.getByRole("region", { name: "Search results" });
    await mine.getByRole("heading", { name: "2 Results" }).waitFor();
    await mine.getByRole("button", { name: "Jump to message in #secret" }).click();
    await a.page.waitForURL(new RegExp(`/channels/${guildId}/\\d+$`));
    await message(a.page, "needle hidden in secret").waitFor();
  });

  await t.test("Jump brings an old message into view, loading history as needed", async () => {
    for (let i = 0; i < 80; i++) {
      await rest(a.token, "POST", `/channels/${generalId}/messages`, { content: `filler ${i}` });
    }
    await message(b.page, "filler 79").waitFor();
    const target = message(b.page, "needle in the general haystack");
    // The list renders only what is near the viewport: the hit is not in the page.
    assert.equal(await target.count(), 0);
    const box = b.page.getByRole("searchbox", { name: "Search" });
    await box.fill("haystack");
    await box.press("Enter");
    const panel = b.page.getByRole("region", { name: "Search results" });
    await panel.getByRole("heading", { name: "1 Result" }).waitFor();
    await panel.getByRole("button", { name: "Jump to message in #general" }).click();
    await eventually(async () => {
      if ((await target.getAttribute("aria-current")) !== "true") return false;
      const at = await target.boundingBox();
      const view = b.page.viewportSize();
      return at && at.y >= 0 && at.y + at.height <= view.height;
    }, "the hit in view, marked as the current message");
    await shot(b.page, "search-jump");
  });

  await t.test("user settings: name and status reach the other person", async () => {
    await b.page.getByRole("button", { name: "User settings" }).click();
    const dlg = settings(b.page, "User settings");
    await dlg.getByLabel("Display name").fill("Bobby");
    await dlg.getByRole("button", { name: "Save changes" }).click();
    await dlg.getByRole("status").filter({ hasText: "Profile saved." }).waitFor();
    await dlg.getByRole("tab", { name: "Status" }).click();
    await dlg.getByRole("radio", { name: "Do Not Disturb" }).check();
    await dlg.getByRole("status").filter({ hasText: "Status updated." }).waitFor();

    const members = a.page.getByRole("complementary", { name: "Members" });
    await members.getByRole("listitem", { name: "Bobby, dnd" }).waitFor();
    // Bob's own panel shows the dot too.
    await b.page.getByRole("region", { name: "You" }).getByRole("img", { name: "Bobby, Do Not Disturb" }).waitFor();
  });

  await t.test("user settings: an avatar upload shows the image", async () => {
    const dlg = settings(b.page, "User settings");
    await dlg.getByRole("tab", { name: "My Account" }).click();
    await dlg.getByLabel("Upload avatar").setInputFiles({ name: "me.png", mimeType: "image/png", buffer: PNG });
    await dlg.getByRole("status").filter({ hasText: "Avatar updated." }).waitFor();
    const img = dlg.getByRole("img", { name: "Your avatar" }).locator("img");
    await eventually(
      () => img.evaluate((el) => el.complete && el.naturalWidth > 0 && new URL(el.src).pathname),
      "the avatar image to load",
    );
    const src = await img.evaluate((el) => new URL(el.src).pathname);
    assert.match(src, new RegExp(`^/avatars/${b.id}/[0-9a-f]{32}\\.png$`));
    await shot(b.page, "user-settings");
  });

  await t.test("user settings: the theme applies and survives a reload", async () => {
    const dlg = settings(b.page, "User settings");
    await dlg.getByRole("tab", { name: "Appearance" }).click();
    await dlg.getByRole("radio", { name: "Light" }).check();
    await dlg.getByRole("status").filter({ hasText: "Theme saved." }).waitFor();
    assert.equal(await b.page.evaluate(() => document.documentElement.dataset.theme), "light");
    await b.page.keyboard.press("Escape");
    assert.equal(await b.page.getByRole("dialog").count(), 0);
    // From the server, not only the local copy.
    await b.page.evaluate(() => localStorage.removeItem("fussioncord.theme"));
    await b.page.reload();
    await b.page.getByRole("region", { name: "You" }).waitFor();
    await eventually(() => b.page.evaluate(() => document.documentElement.dataset.theme === "light"), "the light theme after reload");
    await shot(b.page, "light-theme");
  });

  await t.test("kick and ban appear in the audit log; a ban is revoked", async () => {
    await channelLink(a.page, "general").click();
    let dlg = await openServerSettings(a.page);
    await dlg.getByRole("tab", { name: "Members" }).click();
    await dlg.getByRole("button", { name: "Kick carol" }).click();
    await dlg.getByLabel("Reason").fill("too loud");
    await dlg.getByRole("button", { name: "Confirm kick" }).click();
    await dlg.getByRole("status").filter({ hasText: "carol was kicked." }).waitFor();
    await rest(carol.token, "POST", `/invites/${carol.invite}`, {});
    await dlg.getByRole("tab", { name: "Bans" }).click();
    await dlg.getByRole("tab", { name: "Members" }).click();
    await dlg.getByRole("button", { name: "Ban carol" }).click();
    await dlg.getByLabel("Reason").fill("still loud");
    await dlg.getByRole("button", { name: "Confirm ban" }).click();
    await dlg.getByRole("status").filter({ hasText: "carol was banned." }).waitFor();

    await dlg.getByRole("tab", { name: "Audit Log" }).click();
    const log = dlg.getByRole("list", { name: "Audit log entries" });
    await log.getByRole("listitem").filter({ hasText: "Kicked a member" }).filter({ hasText: "carol" }).filter({ hasText: "too loud" }).waitFor();
    await log.getByRole("listitem").filter({ hasText: "Banned a member" }).filter({ hasText: "carol" }).filter({ hasText: "still loud" }).waitFor();
    await log.getByRole("listitem").filter({ hasText: "Created a role" }).first().waitFor();
    await shot(a.page, "audit-log");

    await dlg.getByRole("tab", { name: "Bans" }).click();
    await dlg.getByRole("button", { name: "Revoke ban of carol" }).click();
    await dlg.getByText("No one is banned.").waitFor();
    await rest(carol.token, "POST", `/invites/${carol.invite}`, {});
    await dlg.getByRole("button", { name: "Close settings" }).click();
  });

  await t.test("blocking collapses the blocked person's messages", async () => {
    await openHome(b.page);
    await b.page.getByRole("tab", { name: "All" }).click();
    await b.page.getByRole("button", { name: "Block Alice" }).click();
    await b.page.getByRole("tab", { name: "Blocked" }).click();
    await b.page.getByRole("button", { name: "Unblock Alice" }).waitFor();
    // Alice's side loses the friend live.
    await openHome(a.page);
    await a.page.getByRole("tab", { name: "All" }).click();
    await eventually(async () => (await a.page.getByRole("listitem", { name: /^Bob/ }).count()) === 0, "the friendship to end");

    await rest(a.token, "POST", `/channels/${generalId}/messages`, { content: "you should not read this" });
    await openGuild(b.page);
    const hidden = feed(b.page).getByRole("article", { name: "Blocked message" });
    await hidden.first().waitFor();
    assert.equal(await message(b.page, "you should not read this").count(), 0);
    await hidden.last().getByRole("button", { name: "Show message" }).click();
    await message(b.page, "you should not read this").waitFor();
  });

  await t.test("security: two-factor authentication on, with a new token and the old one revoked", async () => {
    const old = b.token;
    await b.page.getByRole("button", { name: "User settings" }).click();
    const dlg = settings(b.page, "User settings");
    await dlg.getByRole("tab", { name: "Security" }).click();
    await dlg.getByRole("button", { name: "Enable two-factor authentication" }).click();
    const secret = await dlg.getByLabel("Secret key").inputValue();
    assert.match(await dlg.getByLabel("Setup URI").inputValue(), new RegExp(`^otpauth://totp/FussionCord:bob\\?secret=${secret}&`));
    await dlg.getByLabel("Authentication code").fill(totp(secret));
    await dlg.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await dlg.getByRole("button", { name: "Activate" }).click();
    await dlg.getByRole("status").filter({ hasText: "Two-factor authentication is on." }).waitFor();
    await dlg.getByRole("list", { name: "Backup codes" }).getByRole("listitem").first().waitFor();
    await dlg.getByRole("button", { name: "Disable two-factor authentication" }).waitFor();
    const now = await eventually(async () => {
      const t = await b.page.evaluate(() => localStorage.getItem("fussioncord.token"));
      return t !== old && t;
    }, "a new token");
    assert.equal((await rest(now, "GET", "/users/@me")).mfa_enabled, true);
    await assert.rejects(rest(old, "GET", "/users/@me"), /401/);
    // The client reconnected with the new token: it is live again.
    await dlg.getByRole("button", { name: "Close settings" }).click();
    await rest(now, "PATCH", "/users/@me/settings", { status: "idle" });
    await b.page.getByRole("region", { name: "You" }).getByRole("img", { name: "Bobby, Idle" }).waitFor();
  });

  await t.test("no CSP violations or page errors", async () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
