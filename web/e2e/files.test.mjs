// Files, embeds, custom emojis and stickers in the web client (issue 17),
// against the real server binary: uploads by drag and drop and by paste
// with a progress bar each (the upload throttled so progress is seen) and
// cancel, the image preview and lightbox, file cards, a bot-style embed
// sent over REST, custom emojis uploaded in the server settings, posted
// and reacted with, a sticker, and hostile files that must never run
// script, whether opened by their URL or clicked in the client.
// Run: node --test e2e/files.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { eventually, launchBrowser, shot, startServer, rest as harnessRest, register as harnessRegister, openPerson } from "./harness.mjs";

let server, browser;
const pageErrors = [];
/** Calls of the `pwned` binding: a hostile file's script that ran. */
const pwned = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const rest = (token, method, path, body) => harnessRest(server.url, token, method, path, body);

/** A message with files, as a bot would send it: multipart with payload_json and files[n]. */
async function restFiles(token, channelId, payload, files) {
  const form = new FormData();
  form.set("payload_json", JSON.stringify(payload));
  files.forEach((f, i) => form.set(`files[${i}]`, new Blob([f.bytes], { type: f.type ?? "application/octet-stream" }), f.name));
  const res = await fetch(`${server.url}/api/v10/channels/${channelId}/messages`, { method: "POST", headers: { Authorization: token }, body: form });
  const text = await res.text();
  if (!res.ok) throw new Error(`multipart send: ${res.status} ${text}`);
  return JSON.parse(text);
}

// ---- a real PNG, made here ----------------------------------------------

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A `w`×`h` PNG of one colour. */
function png(w, h, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A short silent WAV. */
function wav(samples = 8000) {
  const b = Buffer.alloc(44 + samples * 2);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

const feed = (page) => page.getByRole("feed");
const message = (page, text) => feed(page).getByRole("article").filter({ hasText: text }).first();
const lastMessage = (page) => feed(page).getByRole("article").last();
const composer = (page) => page.getByRole("textbox", { name: /^Message / });

/** Files made in the page (no bytes through the protocol), dispatched as a drop on the chat. */
async function dropFiles(page, files) {
  const dt = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = f.b64 ? Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0)) : new Uint8Array(f.size);
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return dt;
  }, files);
  const chat = page.getByRole("main");
  await chat.dispatchEvent("dragenter", { dataTransfer: dt });
  await chat.dispatchEvent("dragover", { dataTransfer: dt });
  await chat.dispatchEvent("drop", { dataTransfer: dt });
}

/** A paste of files into the composer. */
async function pasteFiles(page, files) {
  await composer(page).evaluate((box, files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([new Uint8Array(f.size)], f.name, { type: f.type }));
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, files);
}

/** Uploads at most `bytesPerSec` (Chromium's network emulation), so progress can be watched. */
async function throttle(page, bytesPerSec) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSec,
  });
  return cdp;
}

const naturalWidth = (img) => img.evaluate((el) => el.complete && el.naturalWidth);

test("files, embeds, custom emojis and stickers", async (tt) => {
  const a = await openPerson(browser, server.url, "alice", pageErrors);
  const b = await openPerson(browser, server.url, "bob", pageErrors);
  for (const p of [a, b]) {
    await p.context.exposeBinding("pwned", (_source, what) => pwned.push(`${p.name}: ${what}`));
    p.page.on("dialog", (d) => {
      pwned.push(`${p.name}: dialog ${d.message()}`);
      d.dismiss().catch(() => {});
    });
  }
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
  let guildId, channelId;

  await t.test("Alice and Bob in one server's channel", async () => {
    await harnessRegister(server.url, a, "alice", "Alice");
    await harnessRegister(server.url, b, "bob", "Bob");
    const guild = await rest(a.token, "POST", "/guilds", { name: "Files Guild" });
    guildId = guild.id;
    channelId = (await rest(a.token, "GET", `/guilds/${guildId}/channels`)).find((c) => c.type === 0).id;
    const invite = await rest(a.token, "POST", `/channels/${channelId}/invites`, {});
    await rest(b.token, "POST", `/invites/${invite.code}`, {});
    for (const p of [a, b]) {
      await p.page.goto(`/channels/${guildId}/${channelId}`);
      await composer(p.page).waitFor();
    }
  });

  await t.test("a dropped image uploads with its progress, previews, and opens in the lightbox", async () => {
    const { page } = a;
    await dropFiles(page, [{ name: "dot.png", type: "image/png", b64: png(64, 48, [220, 40, 40]).toString("base64") }]);
    const item = page.getByRole("listitem", { name: "Attached file dot.png" });
    await item.waitFor();
    // The local preview, before anything is sent.
    assert.ok(await naturalWidth(item.getByRole("img", { name: "Preview of dot.png" })), "the local preview shows");
    await page.getByRole("status", { name: "dot.png uploaded" }).waitFor();
    await composer(page).fill("a red dot");
    await composer(page).press("Enter");
    const m = message(page, "a red dot");
    const open = m.getByRole("button", { name: "Open image dot.png" });
    await open.waitFor();
    await eventually(() => naturalWidth(open.getByRole("img")), "the image loaded from the server");
    assert.equal(await page.getByRole("list", { name: "Attached files" }).count(), 0, "the composer's files went with the message");
    // Bob sees it live too.
    await eventually(() => naturalWidth(message(b.page, "a red dot").getByRole("img", { name: "dot.png" })), "Bob's copy of the image");
    await open.click();
    const box = page.getByRole("dialog", { name: "dot.png" });
    await box.waitFor();
    assert.equal(await eventually(() => naturalWidth(box.getByRole("img", { name: "dot.png" })), "the lightbox image"), 64);
    await box.getByText("64×48").waitFor();
    await shot(page, "files-lightbox");
    await page.keyboard.press("Escape");
    await box.waitFor({ state: "detached" });
  });

  await t.test("a pasted 8 MiB file shows its upload progress; another is cancelled", async () => {
    const { page } = a;
    const cdp = await throttle(page, 4 * 1024 * 1024);
    await pasteFiles(page, [
      { name: "big.bin", size: 8 * 1024 * 1024, type: "application/octet-stream" },
      { name: "cancel-me.bin", size: 8 * 1024 * 1024, type: "application/octet-stream" },
    ]);
    const bar = page.getByRole("progressbar", { name: "Uploading big.bin" });
    await bar.waitFor();
    // Somewhere between the start and the end, seen as it happens.
    const midway = await eventually(async () => {
      const v = Number(await bar.getAttribute("value"));
      return v > 0 && v < 100 ? v : null;
    }, "a progress value between 0 and 100");
    assert.ok(midway > 0 && midway < 100);
    await page.getByRole("button", { name: "Remove cancel-me.bin" }).click();
    await page.getByRole("listitem", { name: "Attached file cancel-me.bin" }).waitFor({ state: "detached" });
    await page.getByRole("status", { name: "big.bin uploaded" }).waitFor({ timeout: 30_000 });
    const events = Number(await page.getByRole("listitem", { name: "Attached file big.bin" }).getAttribute("data-events"));
    assert.ok(events > 1, `several progress events (${events})`);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await composer(page).fill("the big one");
    await composer(page).press("Enter");
    const card = message(page, "the big one").getByRole("group", { name: "File big.bin, 8.00 MB" });
    await card.waitFor();
    const sent = (await rest(a.token, "GET", `/channels/${channelId}/messages?limit=1`))[0];
    assert.deepEqual(sent.attachments.map((x) => [x.filename, x.size]), [["big.bin", 8 * 1024 * 1024]], "only the file not cancelled went");
    await shot(page, "files-card");
  });

  await t.test("audio and a bot's embed render", async () => {
    const { page } = a;
    await restFiles(a.token, channelId, { content: "a sound" }, [{ name: "beep.wav", bytes: wav(), type: "audio/wav" }]);
    const sound = message(page, "a sound");
    await sound.getByRole("group", { name: /^File beep\.wav, / }).waitFor();
    assert.equal(await sound.locator("audio").count(), 1, "an audio player for the sound");
    await rest(a.token, "POST", `/channels/${channelId}/messages`, {
      content: "report",
      embeds: [
        {
          title: "Build report",
          description: "All **green**",
          url: "https://example.org/build/1",
          color: 0x57f287,
          author: { name: "CI bot" },
          fields: [
            { name: "Passed", value: "120", inline: true },
            { name: "Failed", value: "0", inline: true },
            { name: "Notes", value: "nothing to add" },
          ],
          footer: { text: "build 1" },
          timestamp: "2026-01-02T03:04:05.000Z",
        },
      ],
    });
    const embed = message(page, "report").getByRole("article", { name: "Embed: Build report" });
    await embed.waitFor();
    assert.equal(await embed.getByRole("link", { name: "Build report" }).getAttribute("href"), "https://example.org/build/1");
    await embed.getByText("CI bot").waitFor();
    assert.equal(await embed.locator("strong", { hasText: "green" }).count(), 1, "the description is Markdown");
    await embed.getByText("build 1").waitFor();
    assert.equal(Date.parse(await embed.locator("time").getAttribute("datetime")), Date.parse("2026-01-02T03:04:05.000Z"));
    assert.equal(await embed.evaluate((el) => getComputedStyle(el).borderLeftColor), "rgb(87, 242, 135)");
    // Inline fields side by side; the other one on a row of its own.
    const passed = await embed.getByText("Passed").boundingBox();
    const failed = await embed.getByText("Failed").boundingBox();
    const notes = await embed.getByText("Notes").boundingBox();
    assert.ok(Math.abs(passed.y - failed.y) < 2 && failed.x > passed.x + 20, "inline fields in columns");
    assert.ok(notes.y > passed.y + 10, "a field that is not inline starts a row");
    // An embed's image and thumbnail from the message's own files (`attachment://`).
    await restFiles(a.token, channelId, {
      content: "pictures",
      embeds: [{ title: "With pictures", image: { url: "attachment://big.png" }, thumbnail: { url: "attachment://small.png" } }],
    }, [
      { name: "big.png", bytes: png(120, 60, [0, 120, 255]), type: "image/png" },
      { name: "small.png", bytes: png(20, 20, [255, 0, 255]), type: "image/png" },
    ]);
    const pictures = message(page, "pictures").getByRole("article", { name: "Embed: With pictures" });
    await pictures.waitFor();
    assert.equal(await eventually(() => naturalWidth(pictures.locator("img.embed-img")), "the embed's image"), 120);
    assert.equal(await eventually(() => naturalWidth(pictures.locator("img.embed-thumb")), "the embed's thumbnail"), 20);
    assert.equal(await message(page, "pictures").getByRole("button", { name: /^Open image / }).count(), 0, "files the embed shows are not shown again");
    await shot(page, "files-embed");
  });

  await t.test("a voice message plays in its own player, with its duration", async () => {
    const { page } = b;
    const levels = Array.from({ length: 64 }, (_, i) => Math.round(127 + 120 * Math.sin(i / 4)));
    const waveform = Buffer.from(levels).toString("base64");
    const voice = { id: "0", filename: "voice-message.wav", duration_secs: 3.4, waveform };
    // Nothing may come with a voice message.
    await assert.rejects(
      restFiles(a.token, channelId, { content: "and text", flags: 8192, attachments: [voice] }, [{ name: "voice-message.wav", bytes: wav(), type: "audio/wav" }]),
      /400/,
    );
    const sent = await restFiles(a.token, channelId, { flags: 8192, attachments: [voice] }, [{ name: "voice-message.wav", bytes: wav(), type: "audio/wav" }]);
    assert.equal(sent.flags & 8192, 8192);
    assert.equal(sent.attachments[0].duration_secs, 3.4);
    assert.equal(sent.attachments[0].waveform, waveform);
    const player = lastMessage(page).getByRole("group", { name: "Voice message, 0:03" });
    await player.waitFor();
    assert.equal(await player.locator(".waveform .bar").count(), 48, "the waveform's bars");
    await player.getByRole("button", { name: "Play voice message" }).click();
    await player.getByRole("button", { name: "Pause voice message" }).waitFor();
    // One second of sound ends; the player is ready to play again.
    await player.getByRole("button", { name: "Play voice message" }).waitFor();
    assert.equal(await lastMessage(page).getByRole("group", { name: /^File / }).count(), 0, "no file card besides the player");
    await shot(page, "files-voice-message");
  });

  await t.test("a custom emoji is uploaded in the settings, posted and reacted with", async () => {
    const { page } = a;
    await page.getByRole("button", { name: /^Files Guild/ }).click();
    await page.getByRole("menuitem", { name: "Server settings" }).click();
    const settings = page.getByRole("dialog", { name: "Files Guild settings" });
    await settings.getByRole("tab", { name: "Emoji" }).click();
    await settings.getByLabel("Image").setInputFiles({ name: "blob.png", mimeType: "image/png", buffer: png(32, 32, [40, 200, 80]) });
    await settings.getByLabel("Emoji name").fill("blob");
    await settings.getByRole("button", { name: "Upload emoji" }).click();
    const row = settings.getByRole("listitem", { name: "Emoji :blob:" });
    await row.waitFor();
    assert.ok(await eventually(() => naturalWidth(row.getByRole("img")), "the emoji's image"));
    // A second one, renamed, then deleted.
    await settings.getByLabel("Image").setInputFiles({ name: "tmp.png", mimeType: "image/png", buffer: png(16, 16, [0, 0, 255]) });
    await settings.getByLabel("Emoji name").fill("temp");
    await settings.getByRole("button", { name: "Upload emoji" }).click();
    await settings.getByRole("button", { name: "Rename :temp:" }).click();
    await settings.getByLabel("New name for :temp:").fill("renamed");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByRole("listitem", { name: "Emoji :renamed:" }).waitFor();
    await settings.getByRole("button", { name: "Delete :renamed:" }).click();
    await settings.getByRole("listitem", { name: "Emoji :renamed:" }).waitFor({ state: "detached" });
    // A sticker too.
    await settings.getByRole("tab", { name: "Stickers" }).click();
    await settings.getByLabel("Sticker file").setInputFiles({ name: "wave.png", mimeType: "image/png", buffer: png(160, 160, [250, 200, 0]) });
    await settings.getByLabel("Sticker name").fill("wave");
    await settings.getByLabel("Tag").fill("wave");
    await settings.getByRole("button", { name: "Upload sticker" }).click();
    await settings.getByRole("listitem", { name: "Sticker wave" }).waitFor();
    await settings.getByRole("button", { name: "Close settings" }).click();

    // Posted from the emoji picker, by search.
    await page.getByRole("button", { name: "Emoji", exact: true }).click();
    const picker = page.getByRole("dialog", { name: "Pick an emoji" });
    await picker.getByRole("searchbox", { name: "Search emojis" }).fill("blo");
    await picker.getByRole("menuitem", { name: "Insert :blob:" }).click();
    assert.match(await composer(page).inputValue(), /^<:blob:\d+> $/);
    await composer(page).press("End");
    await composer(page).pressSequentially("custom!");
    await composer(page).press("Enter");
    const m = message(page, "custom!");
    const img = m.getByRole("img", { name: ":blob:" });
    await img.waitFor();
    assert.ok(await eventually(() => naturalWidth(img), "the emoji in the message"));
    // Bob reacts with it from his picker; both see the reaction.
    const theirs = message(b.page, "custom!");
    await theirs.hover();
    await theirs.getByRole("button", { name: "Add reaction" }).click();
    const rpick = b.page.getByRole("dialog", { name: "Pick a reaction" });
    await rpick.getByRole("searchbox", { name: "Search emojis" }).fill("blob");
    await rpick.getByRole("menuitem", { name: "React with :blob:" }).click();
    await theirs.getByRole("button", { name: ":blob:, 1 reaction", pressed: true }).waitFor();
    const mine = m.getByRole("button", { name: ":blob:, 1 reaction", pressed: false });
    await mine.waitFor();
    assert.ok(await eventually(() => naturalWidth(mine.getByRole("img")), "the reaction's emoji image"));
    await mine.click();
    await m.getByRole("button", { name: ":blob:, 2 reactions", pressed: true }).waitFor();

    // The sticker from the sticker picker.
    await page.getByRole("button", { name: "Stickers" }).click();
    await page.getByRole("menuitem", { name: "Send sticker wave" }).click();
    const sticker = lastMessage(b.page).getByRole("img", { name: "Sticker wave" });
    await sticker.waitFor();
    assert.equal(await eventually(() => naturalWidth(sticker), "the sticker's image"), 160);
    await shot(page, "files-emoji-sticker");
  });

  await t.test("hostile files never run script, opened by URL or clicked in the client", async () => {
    const { page } = b;
    const script = (tag) => `document.title='pwned';window.pwned&&window.pwned('${tag}')`;
    const files = [
      { name: "evil.html", type: "text/html", bytes: Buffer.from(`<!doctype html><title>x</title><script>${script("html")}</script>`) },
      { name: "evil.svg", type: "image/svg+xml", bytes: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" onload="${script("svg-onload")}"><script>${script("svg")}</script><circle r="5"/></svg>`) },
      { name: "poly.gif", type: "image/gif", bytes: Buffer.concat([Buffer.from("GIF89a\x01\x00\x01\x00\x00\x00\x00;", "latin1"), Buffer.from(`<html><script>${script("polyglot")}</script></html>`)]) },
      { name: "../../x.html", type: "text/html", bytes: Buffer.from(`<script>${script("traversal")}</script>`) },
    ];
    const sent = await restFiles(a.token, channelId, { content: "hostile files" }, files);
    assert.equal(sent.attachments.length, 4);
    assert.ok(sent.attachments.every((x) => !x.filename.includes("/")), "no path in a stored filename");
    const m = message(page, "hostile files");
    await m.waitFor();
    // Clicked in the client: downloads (or, for what is an image, the lightbox).
    for (const att of sent.attachments) {
      if (/^image\/(png|gif|jpeg|webp)/.test(att.content_type ?? "")) {
        await m.getByRole("button", { name: `Open image ${att.filename}` }).click();
        await page.getByRole("dialog", { name: att.filename }).waitFor();
        await page.keyboard.press("Escape");
        continue;
      }
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        m.getByRole("link", { name: `Download ${att.filename}` }).click(),
      ]);
      assert.equal(download.suggestedFilename(), att.filename);
    }
    // Opened by their URLs, in a tab of their own.
    const tab = await b.context.newPage();
    for (const att of sent.attachments) {
      const res = await fetch(att.url);
      assert.equal(res.status, 200);
      const type = res.headers.get("content-type");
      const disposition = res.headers.get("content-disposition");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.ok(
        disposition.startsWith("attachment") || /^(image\/(png|gif|jpeg|webp)|audio\/|video\/)/.test(type),
        `${att.filename} is a download or an inert type (${type}, ${disposition})`,
      );
      const url = new URL(att.url);
      const local = `${server.url}${url.pathname}${url.search}`;
      const downloaded = tab.waitForEvent("download", { timeout: 3000 }).catch(() => null);
      await tab.goto(local).catch(() => null); // a download aborts the navigation
      if (disposition.startsWith("attachment")) assert.ok(await downloaded, `${att.filename} downloads when opened`);
      await new Promise((r) => setTimeout(r, 300));
      const title = await tab.title().catch(() => "");
      assert.notEqual(title, "pwned", `${att.filename} ran script`);
    }
    await tab.close();
    assert.notEqual(await page.title(), "pwned");
    assert.deepEqual(pwned, [], "no hostile script ran");
  });

  await t.test("with Create Expressions only, Bob changes his own emojis, not Alice's", async () => {
    const { page } = b;
    const role = await rest(a.token, "POST", `/guilds/${guildId}/roles`, { name: "Artists", permissions: String(1n << 43n) });
    await rest(a.token, "PUT", `/guilds/${guildId}/members/${b.id}/roles/${role.id}`);
    await page.getByRole("button", { name: /^Files Guild/ }).click();
    await page.getByRole("menuitem", { name: "Server settings" }).click();
    const settings = page.getByRole("dialog", { name: "Files Guild settings" });
    await settings.getByRole("tab", { name: "Emoji" }).waitFor();
    assert.deepEqual(await settings.getByRole("tab").allTextContents(), ["Emoji", "Stickers"], "only the tabs his permissions allow");
    await settings.getByRole("tab", { name: "Emoji" }).click();
    const alices = settings.getByRole("listitem", { name: "Emoji :blob:" });
    await alices.getByText("by Alice").waitFor();
    assert.equal(await alices.getByRole("button").count(), 0, "no rename or delete on Alice's emoji");
    await settings.getByLabel("Image").setInputFiles({ name: "bobs.png", mimeType: "image/png", buffer: png(24, 24, [90, 90, 90]) });
    await settings.getByLabel("Emoji name").fill("bobs");
    await settings.getByRole("button", { name: "Upload emoji" }).click();
    const his = settings.getByRole("listitem", { name: "Emoji :bobs:" });
    await his.getByText("by Bob").waitFor();
    await his.getByRole("button", { name: "Delete :bobs:" }).click();
    await his.waitFor({ state: "detached" });
    await settings.getByRole("button", { name: "Close settings" }).click();
  });

  await t.test("no page errors", async () => {
    assert.deepEqual(pageErrors, []);
  });
});
