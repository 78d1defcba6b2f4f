// Two people in two browser contexts, against the real server binary.
// Run: node --test e2e/ (after `cargo build -p fussioncord`); see harness.mjs.
// Controls are found by role and accessible name only.

import { test, before, after } from "node:test";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { TIMEOUT, base32, eventually, launchBrowser, shot, startProxy, startServer, totp, openPerson } from "./harness.mjs";

// A display name that would run script if it were ever put in the page as HTML.
const ALICE = "Alice<svg onload=alert(1)>";
let server, proxy, browser;
const people = {};
const cspViolations = [];
const pageErrors = [];

before(async () => {
  server = await startServer();
  proxy = await startProxy(server.port);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.stop();
  await server?.stop();
});

async function person(name, baseURL) {
  const p = await openPerson(browser, baseURL, name, pageErrors);
  const { page } = p;
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
  });
  // alert() is what the hostile names and messages would call.
  page.on("dialog", (d) => {
    pageErrors.push(`${name}: a dialog opened (XSS?): ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return p;
}



const feed = (page) => page.getByRole("feed");
const messages = (page, text) => feed(page).getByRole("article").filter({ hasText: text });
/** The first message containing `text` (a reply quoting it comes later). */
const message = (page, text) => messages(page, text).first();
const composer = (page) => page.getByRole("textbox", { name: /^Message / });
const channelLink = (page, name) =>
  page.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: new RegExp(`^${name}(,|$)`) });
const token = (page) => page.evaluate(() => localStorage.getItem("fussioncord.token"));

async function register(p, username, displayName) {
  const { page } = p;
  await page.goto("/");
  await page.waitForURL(/\/login/);
  await shot(page, "login");
  await page.getByRole("link", { name: "Register" }).click();
  await page.getByRole("heading", { name: "Create an account" }).waitFor();
  await page.getByLabel("Email", { exact: true }).fill(`${username}@example.org`);
  await page.getByLabel("Display name", { exact: true }).fill(displayName);
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
  if (username === "alice") await shot(page, "register");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/channels\/@me$/);
  await page.getByRole("heading", { name: "Friends" }).waitFor();
  p.token = await token(page);
  p.id = (await (await fetch(`${server.url}/api/v10/users/@me`, { headers: { Authorization: p.token } })).json()).id;
}

async function rest(p, method, path, body) {
  const res = await fetch(`${server.url}/api/v10${path}`, {
    method,
    headers: { Authorization: p.token, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function send(p, text, shown = text) {
  const box = composer(p.page);
  await box.fill(text);
  await box.press("Enter");
  await message(p.page, shown).waitFor();
}

let guildId, generalId;

/** A step; on failure both people's screens are saved as fail-*.png. */
async function step(t, name, fn) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
      for (const p of Object.values(people)) {
        console.log(`# ${p.name} was at ${p.page.url()}`);
        await shot(p.page, `fail-${slug}-${p.name}`).catch(() => {});
      }
      throw e;
    }
  });
}

test("two people chat in real time", async (t) => {
  const a = (people.a = await person("alice", server.url));
  // Bob reaches the server through the proxy the network test cuts.
  const b = (people.b = await person("bob", proxy.url));

  await step(t, "both register", async () => {
    await register(a, "alice", ALICE);
    await register(b, "bob", "Bob");
  });

  await step(t, "alice creates a guild and an invite; bob joins by the link", async () => {
    await a.page.getByRole("button", { name: "Add a server" }).click();
    await a.page.getByLabel("Server name").fill("Test Guild");
    await a.page.getByRole("button", { name: "Create", exact: true }).click();
    await a.page.waitForURL(/\/channels\/\d+\/\d+$/);
    [, guildId, generalId] = a.page.url().match(/channels\/(\d+)\/(\d+)/);
    await channelLink(a.page, "general").waitFor();
    await a.page.getByRole("button", { name: /^Test Guild/ }).click();
    await a.page.getByRole("menuitem", { name: "Invite people" }).click();
    const link = a.page.getByLabel("Invite link");
    await eventually(async () => (await link.inputValue()).includes("/invite/"), "an invite link");
    const url = new URL(await link.inputValue());
    await shot(a.page, "invite-dialog");
    await a.page.getByRole("button", { name: "Close" }).click();

    await b.page.goto(url.pathname);
    await b.page.getByRole("heading", { name: /invited to join Test Guild/ }).waitFor();
    await shot(b.page, "invite");
    await b.page.getByRole("button", { name: "Join server" }).click();
    await b.page.waitForURL(new RegExp(`/channels/${guildId}/\\d+$`));
    await channelLink(b.page, "general").waitFor();
  });

  await step(t, "they see each other online in the member list", async () => {
    const members = (page) => page.getByRole("complementary", { name: "Members" });
    await members(a.page).getByRole("listitem", { name: "Bob, online" }).waitFor();
    await members(b.page).getByRole("listitem", { name: `${ALICE}, online` }).waitFor();
  });

  await step(t, "messages arrive in real time, Markdown rendered, hostile text inert", async () => {
    await send(a, "hello from alice");
    await message(b.page, "hello from alice").waitFor();
    await send(b, "hi **alice**", "hi alice");
    const bold = message(a.page, "hi alice").locator("strong");
    assert.equal(await bold.textContent(), "alice");
    const hostile = `<img src=x onerror="window.__xss=1"> [click](javascript:window.__xss=1) <script>window.__xss=1</script>`;
    await send(a, hostile, "<img src=x");
    await message(b.page, "<img src=x").waitFor();
    assert.equal(await message(b.page, "[click](javascript").getByRole("link").count(), 0, "no javascript: link");
    for (const p of [a, b]) assert.equal(await p.page.evaluate(() => window.__xss), undefined, `no XSS in ${p.name}'s page`);
  });

  await step(t, "each sees the other typing", async () => {
    await composer(b.page).pressSequentially("typing something", { delay: 20 });
    await a.page.getByRole("status").filter({ hasText: "Bob is typing…" }).waitFor();
    await composer(a.page).pressSequentially("me too", { delay: 20 });
    await b.page.getByRole("status").filter({ hasText: `${ALICE} is typing…` }).waitFor();
    await shot(a.page, "chat-typing");
    await composer(b.page).fill("");
    await composer(a.page).fill("");
  });

  await step(t, "reply, edit with the Up arrow, react, delete", async () => {
    // Bob replies to Alice.
    const original = message(b.page, "hello from alice");
    await original.hover();
    await original.getByRole("button", { name: "Reply" }).click();
    await b.page.getByText("Replying to").waitFor();
    await send(b, "this is a reply");
    const reply = message(a.page, "this is a reply");
    await reply.getByText("Replying to").waitFor();
    assert.match(await reply.textContent(), /hello from alice/);

    // Bob edits his last message with the Up arrow.
    await composer(b.page).press("ArrowUp");
    const edit = b.page.getByRole("textbox", { name: "Edit message" });
    await edit.fill("this is an edited reply");
    await edit.press("Enter");
    await message(a.page, "this is an edited reply").getByText("(edited)").waitFor();
    // Escape cancels an edit.
    await composer(b.page).press("ArrowUp");
    await b.page.getByRole("textbox", { name: "Edit message" }).fill("never saved");
    await b.page.getByRole("textbox", { name: "Edit message" }).press("Escape");
    assert.equal(await messages(b.page, "never saved").count(), 0);

    // Alice reacts; Bob adds his to the same reaction.
    const target = message(a.page, "this is an edited reply");
    await target.hover();
    await target.getByRole("button", { name: "Add reaction" }).click();
    await a.page.getByRole("menuitem", { name: "React with 👍" }).click();
    const bobsView = message(b.page, "this is an edited reply").getByRole("button", { name: "👍, 1 reaction" });
    await bobsView.click();
    await message(a.page, "this is an edited reply").getByRole("button", { name: "👍, 2 reactions" }).waitFor();
    await message(b.page, "this is an edited reply").getByRole("button", { name: "👍, 2 reactions", pressed: true }).waitFor();
    // Bob takes his back.
    await message(b.page, "this is an edited reply").getByRole("button", { name: "👍, 2 reactions" }).click();
    await message(a.page, "this is an edited reply").getByRole("button", { name: "👍, 1 reaction", pressed: true }).waitFor();
    await message(b.page, "this is an edited reply").getByRole("button", { name: "👍, 1 reaction", pressed: false }).waitFor();
    await shot(a.page, "chat");

    // Bob deletes a message after confirming.
    await send(b, "short-lived message");
    const doomed = message(b.page, "short-lived message");
    await doomed.hover();
    await doomed.getByRole("button", { name: "Delete" }).click();
    const dialog = b.page.getByRole("dialog", { name: "Delete message" });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await eventually(async () => (await messages(a.page, "short-lived message").count()) === 0, "the deleted message to go");
    // (The server keeps a deleted message as the channel's last_message_id
    // and refuses acks of it, so the channel would stay unread: post after it.)
    await send(b, "still here");
  });

  await step(t, "pins", async () => {
    const m = message(a.page, "hello from alice");
    await m.hover();
    await m.getByRole("button", { name: "Pin" }).click();
    await m.getByRole("button", { name: "Unpin" }).waitFor();
    await b.page.getByRole("button", { name: "Pinned messages" }).click();
    const pins = b.page.getByRole("dialog", { name: "Pinned messages" });
    await pins.getByRole("article").filter({ hasText: "hello from alice" }).waitFor();
    await shot(b.page, "pins");
    await pins.getByRole("button", { name: "Close pinned messages" }).click();
  });

  await step(t, "unread and mention badges appear and clear", async () => {
    await a.page.getByRole("button", { name: /^Test Guild/ }).click();
    await a.page.getByRole("menuitem", { name: "Create channel" }).click();
    await a.page.getByLabel("Channel name").fill("random");
    await a.page.getByRole("button", { name: "Create channel" }).click();
    await channelLink(b.page, "random").waitFor();
    const randomId = (await channelLink(a.page, "random").getAttribute("href")).split("/").pop();
    await rest(a, "POST", `/channels/${randomId}/messages`, { content: "over here" });
    await b.page.getByRole("link", { name: "random, unread" }).waitFor();
    await rest(a, "POST", `/channels/${randomId}/messages`, { content: `hey <@${b.id}>` });
    await b.page.getByRole("link", { name: "random, unread, 1 mention" }).waitFor();
    await shot(b.page, "unread-badges");
    await channelLink(b.page, "random").click();
    await message(b.page, "hey @Bob").waitFor();
    assert.equal(await message(b.page, "hey @Bob").locator(".mention.me").count(), 1, "my mention is highlighted");
    await b.page.getByRole("link", { name: "random", exact: true }).waitFor();
    // Still read after a reload (the ack reached the server).
    await b.page.reload();
    await b.page.getByRole("link", { name: "random", exact: true }).waitFor();
    await b.page.getByRole("link", { name: "general", exact: true }).waitFor();
  });

  await step(t, "a member without permission does not see a hidden channel", async () => {
    const secret = await rest(a, "POST", `/guilds/${guildId}/channels`, { name: "secret", type: 0 });
    await channelLink(b.page, "secret").waitFor();
    // Deny VIEW_CHANNEL to @everyone (Alice owns the guild and still sees it).
    await rest(a, "PUT", `/channels/${secret.id}/permissions/${guildId}`, { type: 0, deny: "1024", allow: "0" });
    await eventually(async () => (await channelLink(b.page, "secret").count()) === 0, "secret to disappear for bob");
    await channelLink(a.page, "secret").waitFor();
    await rest(a, "POST", `/channels/${secret.id}/messages`, { content: "for owners only" });
    await b.page.reload();
    await channelLink(b.page, "general").waitFor();
    assert.equal(await channelLink(b.page, "secret").count(), 0);
  });

  await step(t, "the network drops; the client resumes without losing messages", async () => {
    await channelLink(b.page, "general").click();
    await message(b.page, "hello from alice").waitFor();
    await b.page.evaluate(() => (window.__sameDocument = true));
    const before = proxy.sentOps.length;
    proxy.cut();
    await b.page.getByRole("status").filter({ hasText: "Reconnecting…" }).waitFor();
    await shot(b.page, "reconnecting");
    await rest(a, "POST", `/channels/${generalId}/messages`, { content: "sent while bob was away 1" });
    await rest(a, "POST", `/channels/${generalId}/messages`, { content: "sent while bob was away 2" });
    await new Promise((r) => setTimeout(r, 1500));
    proxy.restore();
    await message(b.page, "sent while bob was away 1").waitFor({ timeout: 40_000 });
    await message(b.page, "sent while bob was away 2").waitFor();
    const after = proxy.sentOps.slice(before).map((o) => o.op);
    assert.ok(after.includes(6), `the client sent RESUME (ops after the cut: ${after})`);
    assert.ok(!after.includes(2), `the client did not IDENTIFY again (ops: ${after})`);
    assert.equal(await b.page.evaluate(() => window.__sameDocument), true, "no reload");
    await eventually(async () => (await b.page.getByRole("status").filter({ hasText: "Reconnecting…" }).count()) === 0, "the banner to go");
  });

  await step(t, "long channels render only what is visible and load history on scroll-up", async () => {
    const long = await rest(a, "POST", `/guilds/${guildId}/channels`, { name: "long", type: 0 });
    for (let i = 0; i < 150; i++) await rest(a, "POST", `/channels/${long.id}/messages`, { content: `line ${i}` });
    await channelLink(b.page, "long").click();
    await message(b.page, "line 149").waitFor();
    // Scroll up until the first message is loaded and shown.
    await eventually(
      async () => {
        await b.page.getByRole("feed").hover();
        await b.page.mouse.wheel(0, -4000);
        return (await messages(b.page, "line 0").count()) > 0;
      },
      "the first message after scrolling up",
      30_000,
    );
    await b.page.getByRole("heading", { name: "Welcome to #long!" }).waitFor();
    // All 150 are loaded, but only those near the top are in the DOM.
    const rendered = await feed(b.page).getByRole("article").count();
    assert.ok(rendered < 100, `only what is visible is rendered (${rendered} of 150)`);
    assert.equal(await messages(b.page, "line 149").count(), 0, "the newest message, far below, is not rendered");
    await shot(b.page, "long-channel");
  });

  await step(t, "keyboard: the composer and dialogs work without a mouse", async () => {
    await channelLink(a.page, "general").click();
    await channelLink(b.page, "general").click();
    await composer(a.page).focus();
    await a.page.keyboard.type("typed with the keyboard");
    await a.page.keyboard.press("Enter");
    await message(b.page, "typed with the keyboard").waitFor();
    await a.page.getByRole("button", { name: "User settings" }).focus();
    await a.page.keyboard.press("Enter");
    await a.page.getByRole("dialog", { name: "User settings" }).waitFor();
    await a.page.keyboard.press("Escape");
    assert.equal(await a.page.getByRole("dialog").count(), 0);
  });

  await step(t, "no CSP violations or page errors", async () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});

// ---- MFA -------------------------------------------------------------

test("logging in with a second factor", async (t) => {
  const c = await person("carol", server.url);
  people.c = c;
  await step(t, "a wrong code is refused, the right one logs in", async () => {
    const reg = await fetch(`${server.url}/api/v10/auth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "carol", email: "carol@example.org", password: "correct horse battery" }),
    });
    c.token = (await reg.json()).token;
    const secret = randomBytes(20);
    const now = Date.now() / 1000;
    await rest(c, "POST", "/users/@me/mfa/totp/enable", {
      secret: base32(secret),
      code: totp(base32(secret), now * 1000),
      password: "correct horse battery",
    });
    await c.page.goto("/login");
    await c.page.getByLabel("Email or username").fill("carol");
    await c.page.getByLabel("Password").fill("correct horse battery");
    await c.page.getByRole("button", { name: "Log in" }).click();
    const code = c.page.getByLabel("Authentication code");
    await code.fill("000000");
    await c.page.getByRole("button", { name: "Verify" }).click();
    await c.page.getByRole("alert").waitFor();
    await shot(c.page, "login-mfa");
    // The next step's code (one step of skew is allowed; a code works once).
    await code.fill(totp(base32(secret), (now + 30) * 1000));
    await c.page.getByRole("button", { name: "Verify" }).click();
    await c.page.waitForURL(/\/channels\/@me$/);
    await c.page.getByRole("heading", { name: "Friends" }).waitFor();
  });
});
