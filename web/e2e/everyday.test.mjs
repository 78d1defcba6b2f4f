// What two people ran into using the client day to day (issue 13): an
// empty channel that re-requested its history in a loop, incoming messages
// that wiped an open edit and a pending reply, channels that did not open
// at the newest message, and smaller things (stale reply quotes, role
// counts and colours, the DM intro, the invite's online count, layout and
// emoji). Two people in two browser contexts against the real server.
// Run: node --test e2e/ (after `cargo build -p fussioncord`); see harness.mjs.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TIMEOUT, eventually, launchBrowser, shot, startServer , rest as harnessRest, register as harnessRegister, openPerson } from "./harness.mjs";

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

const register = (p, username, displayName) => harnessRegister(server.url, p, username, displayName);

const feed = (page) => page.getByRole("feed");
const message = (page, text) => feed(page).getByRole("article").filter({ hasText: text }).first();
const composer = (page) => page.getByRole("textbox", { name: /^Message / });
const channelLink = (page, name) =>
  page.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: new RegExp(`^${name}(,|$)`) });
const rail = (page, name) => page.getByRole("navigation", { name: "Servers" }).getByRole("link", { name });
const cancelReply = (page) => page.getByRole("button", { name: "Cancel reply" });

async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  await message(page, text).waitFor();
}

/**
 * Where the list is: the newest message's box against the scroller's, and
 * how far the scroller is from its bottom.
 */
async function position(page, newest) {
  const box = await message(page, newest).boundingBox();
  const view = await feed(page).evaluate((el) => {
    const s = el.closest(".messages");
    const r = s.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, gap: s.scrollHeight - s.scrollTop - s.clientHeight };
  });
  return { box, view };
}

/** The newest message is wholly in view and the list is scrolled to its end, and stays so. */
async function opensAtNewest(page, newest, what) {
  const ok = ({ box, view }) =>
    box && box.y >= view.top - 1 && box.y + box.height <= view.bottom + 1 && view.gap <= 2;
  await message(page, newest).waitFor();
  let last;
  try {
    await eventually(async () => ok((last = await position(page, newest))), what, 5_000);
  } catch {
    await shot(page, `not-at-newest-${what.replace(/\W+/g, "-")}`);
    assert.fail(`${what}: the newest message is not in view at the bottom: ${JSON.stringify(last)}`);
  }
  // Not a moment's pass on the way somewhere else: late measurements keep it there.
  await new Promise((r) => setTimeout(r, 700));
  last = await position(page, newest);
  assert.ok(ok(last), `${what}: still at the newest message a moment later: ${JSON.stringify(last)}`);
}

test("everyday use: history, edits and replies, and the small things", async (tt) => {
  const a = await person("alice");
  const b = await person("bob");
  const t = {
    test: (name, fn) =>
      tt.test(name, async () => {
        try {
          await fn();
        } catch (e) {
          const slug = name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40);
          await shot(a.page, `fail-${slug}-alice`).catch(() => {});
          await shot(b.page, `fail-${slug}-bob`).catch(() => {});
          throw e;
        }
      }),
  };
  let guildId, generalId, inviteCode;

  await t.test("both register; Alice makes a server with some history", async () => {
    await register(a, "alice", "Alice");
    await register(b, "bob", "Bob");
    await a.page.getByRole("button", { name: "Add a server" }).click();
    await a.page.getByLabel("Server name").fill("Test Guild");
    await a.page.getByRole("button", { name: "Create", exact: true }).click();
    await a.page.waitForURL(/\/channels\/\d+\/\d+$/);
    [, guildId, generalId] = a.page.url().match(/channels\/(\d+)\/(\d+)/);
    // Enough to scroll, in messages of different heights: two authors
    // taking turns (a header each time), some wrapping, some multi-line.
    const carol = await rest(null, "POST", "/auth/register", { username: "carol", email: "carol@example.org", password: "correct horse battery" });
    const invite = await rest(a.token, "POST", `/channels/${generalId}/invites`, {});
    await rest(carol.token, "POST", `/invites/${invite.code}`, {});
    for (let i = 0; i < 40; i++) {
      const content =
        i % 7 === 3 ? `history ${i}\nwith a second line\nand a third` : i % 5 === 1 ? `history ${i} ${"long words ".repeat(30)}` : `history ${i}`;
      await rest(i % 3 === 0 ? carol.token : a.token, "POST", `/channels/${generalId}/messages`, { content });
    }
    await opensAtNewest(a.page, "history 39", "Alice's channel as messages arrive");
  });

  await t.test("the invite page counts the inviter online", async () => {
    inviteCode = (await rest(a.token, "POST", `/channels/${generalId}/invites`, {})).code;
    await b.page.goto(`/invite/${inviteCode}`);
    await b.page.getByRole("heading", { name: /invited to join Test Guild/ }).waitFor();
    await b.page.getByText("1 online · 2 members", { exact: true }).waitFor();
    await shot(b.page, "invite-counts");
  });

  await t.test("joining opens the channel at the newest message", async () => {
    await b.page.getByRole("button", { name: "Join server" }).click();
    await b.page.waitForURL(new RegExp(`/channels/${guildId}/${generalId}$`));
    await opensAtNewest(b.page, "history 39", "after joining");
  });

  await t.test("a reload opens the channel at the newest message", async () => {
    await b.page.reload();
    await opensAtNewest(b.page, "history 39", "after a reload");
    await shot(b.page, "opens-at-newest");
  });

  await t.test("coming back from the DMs opens the channel at the newest message", async () => {
    await rail(b.page, "Direct messages").click();
    await b.page.getByRole("heading", { name: "Friends" }).waitFor();
    await rail(b.page, /^Test Guild/).click();
    await opensAtNewest(b.page, "history 39", "back from the DMs");
  });

  await t.test("sitting in an empty channel asks for its history once", async () => {
    const empty = await rest(a.token, "POST", `/guilds/${guildId}/channels`, { name: "empty", type: 0 });
    const seen = [];
    const count = (r) => r.method() === "GET" && r.url().includes(`/channels/${empty.id}/messages`) && seen.push(r.url());
    b.page.on("request", count);
    await channelLink(b.page, "empty").click();
    await b.page.getByRole("heading", { name: "Welcome to #empty!" }).waitFor();
    await new Promise((r) => setTimeout(r, 4000));
    b.page.off("request", count);
    assert.equal(seen.length, 1, `one history request in 4 s, not a loop: ${seen.length}`);
    // Still alive: a message posted now arrives.
    await rest(a.token, "POST", `/channels/${empty.id}/messages`, { content: "not empty any more" });
    await message(b.page, "not empty any more").waitFor();
  });

  let question;
  await t.test("messages arriving keep an open edit and a pending reply; the reply goes out as a reply", async () => {
    const talk = await rest(a.token, "POST", `/guilds/${guildId}/channels`, { name: "talk", type: 0 });
    await channelLink(a.page, "talk").click();
    await channelLink(b.page, "talk").click();
    await send(a.page, "alice says something");
    await send(b.page, "bob asks a question");
    await message(a.page, "bob asks a question").waitFor();

    // Alice starts editing her message…
    const mine = message(a.page, "alice says something");
    await mine.hover();
    await mine.getByRole("button", { name: "Edit" }).click();
    const edit = a.page.getByRole("textbox", { name: "Edit message" });
    await edit.fill("alice says something, half-edited");
    // …and to reply to Bob, half-typed.
    const q = message(a.page, "bob asks a question");
    await q.hover();
    await q.getByRole("button", { name: "Reply" }).click();
    await cancelReply(a.page).waitFor();
    await composer(a.page).pressSequentially("an answer", { delay: 15 });

    // Meanwhile Bob keeps talking.
    for (let i = 0; i < 5; i++) await send(b.page, `bob keeps talking ${i}`);
    await message(a.page, "bob keeps talking 4").waitFor();
    await new Promise((r) => setTimeout(r, 300));
    await shot(a.page, "edit-and-reply-kept");

    assert.equal(await edit.count(), 1, "the editor is still open");
    assert.equal(await edit.inputValue(), "alice says something, half-edited", "the half-typed edit is kept");
    assert.equal(await cancelReply(a.page).count(), 1, "the reply bar is still there");
    assert.match(await a.page.locator(".replying").textContent(), /Replying to\s*Bob/);
    assert.equal(await composer(a.page).inputValue(), "an answer");

    await composer(a.page).press("Enter");
    const answer = message(b.page, "an answer");
    await answer.waitFor();
    assert.match(await answer.textContent(), /Replying to.*bob asks a question/s, "Bob sees it as a reply");
    const history = await rest(a.token, "GET", `/channels/${talk.id}/messages?limit=20`);
    question = history.find((m) => m.content === "bob asks a question");
    const sent = history.find((m) => m.content === "an answer");
    assert.equal(sent.message_reference?.message_id, question.id, "sent as a reply to Bob's question");
    await eventually(async () => (await cancelReply(a.page).count()) === 0, "the reply bar to close once sent");

    // The edit, still open, saves.
    await edit.press("Enter");
    await message(b.page, "alice says something, half-edited").getByText("(edited)").waitFor();
  });

  await t.test("a reply's quote follows an edit of the message it quotes", async () => {
    const q = message(b.page, "bob asks a question");
    await q.hover();
    await q.getByRole("button", { name: "Edit" }).click();
    const edit = b.page.getByRole("textbox", { name: "Edit message" });
    await edit.fill("bob asks a better question");
    await edit.press("Enter");
    await message(a.page, "bob asks a better question").getByText("(edited)").waitFor();
    const answer = message(a.page, "an answer");
    await eventually(async () => /better question/.test(await answer.textContent()), "the quote to show the edit, no reload");
  });

  await t.test("the reply bar reads \"Replying to Bob\" in one piece, over the composer", async () => {
    const q = message(a.page, "bob keeps talking 4");
    await q.hover();
    await q.getByRole("button", { name: "Reply" }).click();
    const bar = a.page.locator(".replying");
    const [text, name] = await bar.evaluate((el) => {
      const strong = el.querySelector("strong").getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(el);
      range.setEndBefore(el.querySelector("strong"));
      return [range.getBoundingClientRect(), strong];
    });
    // The composer's box: the text field's row (with the attach and emoji buttons).
    const box = await composer(a.page).locator("..").boundingBox();
    const barBox = await bar.boundingBox();
    await shot(a.page, "reply-bar");
    assert.ok(name.x - (text.x + text.width) < 12, `the name follows "Replying to": ${JSON.stringify({ text, name })}`);
    assert.ok(Math.abs(barBox.x - box.x) <= 1 && barBox.y + barBox.height <= box.y + 1, "the bar sits on the composer");
    await cancelReply(a.page).click();
  });

  await t.test("open pins are fetched once, not again for every message", async () => {
    await b.page.getByRole("button", { name: "Pinned messages" }).click();
    await b.page.getByRole("dialog", { name: "Pinned messages" }).waitFor();
    const seen = [];
    const count = (r) => r.method() === "GET" && /\/channels\/\d+\/pins/.test(r.url()) && seen.push(r.url());
    b.page.on("request", count);
    for (let i = 0; i < 3; i++) await send(a.page, `while the pins are open ${i}`);
    await message(b.page, "while the pins are open 2").waitFor();
    await new Promise((r) => setTimeout(r, 500));
    b.page.off("request", count);
    assert.equal(seen.length, 0, `no pins request per message: ${seen.length}`);
    await b.page.getByRole("button", { name: "Close pinned messages" }).click();
  });

  await t.test("a role saved without touching its colour keeps no colour; one given role counts one", async () => {
    await a.page.getByRole("button", { name: /^Test Guild/ }).click();
    await a.page.getByRole("menuitem", { name: "Server settings" }).click();
    const dlg = a.page.getByRole("dialog", { name: "Test Guild settings" });
    await dlg.getByRole("tab", { name: "Roles" }).click();
    await dlg.getByRole("button", { name: "Create role" }).click();
    await dlg.getByLabel("Role name").fill("Helpers");
    const picker = await dlg.getByLabel("Role colour").boundingBox();
    await shot(a.page, "role-editor");
    await dlg.getByRole("button", { name: "Save role" }).click();
    await dlg.getByRole("button", { name: "Edit role Helpers" }).waitFor();
    await dlg.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const helpers = (await rest(a.token, "GET", `/guilds/${guildId}/roles`)).find((r) => r.name === "Helpers");

    await dlg.getByRole("tab", { name: "Members" }).click();
    const roles = dlg.getByRole("listitem", { name: "Bob" }).getByText(/^Roles \(/);
    await roles.click();
    await dlg.getByRole("listitem", { name: "Bob" }).getByRole("checkbox", { name: "Helpers" }).check();
    await eventually(async () => {
      const m = await rest(a.token, "GET", `/guilds/${guildId}/members/${b.id}`);
      return m.roles.includes(helpers.id);
    }, "the role given on the server");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await roles.textContent(), "Roles (1)");
    assert.equal(helpers.color, 0, "no colour was chosen: none is saved (0), not grey");
    await shot(a.page, "member-roles");
    // A colour that is chosen is saved.
    await dlg.getByRole("tab", { name: "Roles" }).click();
    await dlg.getByRole("button", { name: "Edit role Helpers" }).click();
    await dlg.getByLabel("Role colour").fill("#e91e63");
    await dlg.getByRole("button", { name: "Save role" }).click();
    await eventually(async () => {
      const r = (await rest(a.token, "GET", `/guilds/${guildId}/roles`)).find((x) => x.name === "Helpers");
      return r.color === 0xe91e63;
    }, "the chosen colour saved");
    await dlg.getByRole("button", { name: "Close settings" }).click();
    assert.ok(picker.height >= 28 && picker.width >= 40 && picker.width <= 100, `the colour picker is a swatch, not a thin bar: ${JSON.stringify(picker)}`);
  });

  await t.test("a DM opens with an introduction to the other person", async () => {
    const dm = await rest(a.token, "POST", "/users/@me/channels", { recipient_id: b.id });
    await a.page.goto(`/channels/@me/${dm.id}`);
    await a.page.getByRole("main", { name: "@Bob" }).getByRole("heading", { name: "Bob", exact: true, level: 2 }).waitFor();
    await a.page.getByText("This is the beginning of your direct message history with Bob.").waitFor();
    assert.equal(await a.page.getByText(/Welcome to #/).count(), 0);
    await shot(a.page, "dm-intro");
  });

  await t.test("the home icon sits in the middle of its circle", async () => {
    const home = rail(a.page, "Direct messages");
    const [pill, glyph] = await home.evaluate((el) => {
      // The icon: a drawn one, or the glyph of a text one.
      const range = document.createRange();
      range.selectNodeContents(el);
      const r = el.getBoundingClientRect();
      const g = (el.firstElementChild ?? range).getBoundingClientRect();
      return [
        { x: r.x + r.width / 2, y: r.y + r.height / 2 },
        { x: g.x + g.width / 2, y: g.y + g.height / 2 },
      ];
    });
    await home.screenshot({ path: new URL("./screenshots/home-icon.png", import.meta.url).pathname });
    assert.ok(Math.abs(pill.y - glyph.y) <= 1.5 && Math.abs(pill.x - glyph.x) <= 1.5, `centred: ${JSON.stringify({ pill, glyph })}`);
  });

  await t.test("the search box shows its query clear of the clear button", async () => {
    await rail(a.page, /^Test Guild/).click();
    const box = a.page.getByRole("searchbox", { name: "Search" });
    await box.fill("a long query to look for");
    let fits;
    await eventually(async () => {
      fits = await box.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      return fits.scroll <= fits.client;
    }, "the whole query in view", 3000).catch(() => assert.fail(`the query is cut off: ${JSON.stringify(fits)}`));
    await a.page.locator(".header-tools").screenshot({ path: new URL("./screenshots/search-box.png", import.meta.url).pathname });
    await box.fill("");
  });

  await t.test("emoji are drawn in colour", async () => {
    await channelLink(a.page, "talk").click();
    await send(a.page, "party 🎉 time");
    const target = message(a.page, "party 🎉 time");
    // Draw the emoji with the page's own font and look for coloured pixels:
    // a missing emoji font gives an empty (grey) box.
    const colourful = await target.evaluate((el) => {
      const font = getComputedStyle(el).fontFamily;
      const c = document.createElement("canvas");
      c.width = c.height = 40;
      const g = c.getContext("2d");
      g.font = `32px ${font}`;
      g.textBaseline = "top";
      g.fillStyle = "#808080";
      g.fillText("🎉", 2, 2);
      const d = g.getImageData(0, 0, 40, 40).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const [r, gr, bl, al] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
        if (al > 100 && Math.max(r, gr, bl) - Math.min(r, gr, bl) > 60) n++;
      }
      return n;
    });
    await target.screenshot({ path: new URL("./screenshots/emoji.png", import.meta.url).pathname });
    assert.ok(colourful > 20, `the emoji has colour (${colourful} coloured pixels); is fonts-noto-color-emoji installed (scripts/browser.sh)?`);
  });

  await t.test("no page errors", async () => {
    assert.deepEqual(pageErrors, []);
  });
});
