// Slash commands, components, modals and webhooks in the browser, against
// an unmodified discord.py bot (web/e2e/bots/interactions_bot.py, with
// discord.app_commands and discord.ui): a person in Chromium picks a command
// by typing `/`, fills its options (one by autocomplete), gets an ephemeral
// answer, clicks a button, picks a select option, submits a modal, waits out
// a deferred answer, uses user and message context-menu commands, and is
// told when the application did not respond. Then webhooks from the server
// settings' Integrations tab.
// Run: node --test e2e/interactions.test.mjs (after `cargo build -p fussioncord`).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { eventually, launchBrowser, shot, startServer, rest, register, openPerson } from "./harness.mjs";

const PYTHON = process.env.FUSSIONCORD_PYTHON ?? join(homedir(), ".cache/fussioncord/venv/bin/python");
const BOT = new URL("./bots/interactions_bot.py", import.meta.url).pathname;

let server, browser, bot;
const pageErrors = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  bot?.kill("SIGKILL");
  await browser?.close();
  await server?.stop();
});

const feed = (page) => page.getByRole("feed");
const messages = (page, text) => feed(page).getByRole("article").filter({ hasText: text });
const composer = (page) => page.getByRole("textbox", { name: /^Message / });

/** Types `/query` into the composer and picks `label` from the picker. */
async function pickCommand(page, query, label) {
  await composer(page).fill("");
  await composer(page).pressSequentially(`/${query}`);
  const picker = page.getByRole("listbox", { name: "Commands" });
  await picker.getByRole("option").filter({ hasText: `/${label}` }).getByRole("button").click();
  return page.getByRole("form", { name: `Command /${label}` });
}

test("a discord.py bot's commands, components and modals, used in the browser", async () => {
  assert.ok(existsSync(PYTHON), `no Python with discord.py at ${PYTHON}: run scripts/bot-libs.sh`);
  const a = await openPerson(browser, server.url, "alice", pageErrors);
  const { page } = a;
  try {
    await register(server.url, a, "alice", "Alice");
    const guild = await rest(server.url, a.token, "POST", "/guilds", { name: "Apps Guild" });
    const general = guild.system_channel_id;
    const app = await rest(server.url, a.token, "POST", "/applications", { name: "Interactor" });
    await rest(server.url, a.token, "POST", `/oauth2/authorize?client_id=${app.id}&scope=bot&permissions=0&guild_id=${guild.id}`, {});

    let said = "";
    bot = spawn(PYTHON, [BOT], {
      env: { ...process.env, FC_HTTP: server.url, FC_TOKEN: app.token, FC_GUILD: guild.id },
      stdio: ["ignore", "pipe", "inherit"],
    });
    bot.stdout.on("data", (d) => (said += d));
    await eventually(() => said.includes("SYNCED 9"), `the bot synced its 9 commands (said: ${JSON.stringify(said)})`, 60_000);

    await page.goto(`/channels/${guild.id}/${general}`);
    await composer(page).waitFor();

    // `/` opens the picker: name, description and application; typing filters.
    await composer(page).pressSequentially("/");
    const picker = page.getByRole("listbox", { name: "Commands" });
    await picker.getByRole("option").filter({ hasText: "/menu" }).waitFor();
    assert.equal(await picker.getByRole("option").count(), 8, "the slash commands and subcommands, not the context-menu ones");
    const roll = picker.getByRole("option").filter({ hasText: "/roll" });
    assert.match(await roll.textContent(), /Rolls a die for a city.*Interactor/s);
    await composer(page).pressSequentially("ro");
    await eventually(async () => (await picker.getByRole("option").count()) === 1, "only /roll left");

    // Options: required ones enforced, a choice, a value by autocomplete.
    const form = await pickCommand(page, "ro", "roll");
    await form.getByRole("button", { name: "Send /roll" }).click();
    await form.getByRole("alert").filter({ hasText: "sides: Required." }).waitFor();
    assert.equal(said.includes("ROLL"), false, "nothing was sent while a required option was missing");
    await form.getByLabel(/^sides/).selectOption({ label: "twenty" });
    await form.getByLabel(/^city/).pressSequentially("Pa");
    const suggestions = form.getByRole("listbox", { name: "Suggestions for city" });
    await suggestions.getByRole("button", { name: "Parma" }).click();
    assert.equal(await form.getByLabel(/^city/).inputValue(), "parma");
    assert.match(said, /AUTOCOMPLETE 'Pa'/);
    await form.getByRole("button", { name: "Send /roll" }).click();

    // The ephemeral answer: marked, dismissable, never in history.
    const rolled = messages(page, "Rolled a 20-sided die in parma");
    await rolled.waitFor();
    assert.match(await rolled.textContent(), /Only you can see this/);
    assert.match(await rolled.textContent(), /Alice\s+used\s+\/roll/);
    assert.match(await rolled.textContent(), /APP/);
    const history = await rest(server.url, a.token, "GET", `/channels/${general}/messages`);
    assert.ok(!history.some((m) => m.content.includes("Rolled")), "the ephemeral answer is not stored");
    await rolled.getByRole("button", { name: "Dismiss message" }).click();
    await eventually(async () => (await rolled.count()) === 0, "the ephemeral answer dismissed");

    // A button: the bot updates its message. (Picked with the keyboard: Enter takes the highlighted one.)
    await composer(page).pressSequentially("/men");
    await composer(page).press("Enter");
    await page.getByRole("form", { name: "Command /menu" }).getByRole("button", { name: "Send /menu" }).click();
    const menu = messages(page, "Choose something");
    await menu.getByRole("button", { name: "Press me" }).click();
    await messages(page, "Pressed by Alice").waitFor();
    const pressed = messages(page, "Pressed by Alice").getByRole("button", { name: "Pressed" });
    assert.equal(await pressed.isDisabled(), true, "the bot disabled its button");
    assert.match(said, /PRESSED/);

    // A select: the bot answers with the value chosen.
    await messages(page, "Pressed by Alice").getByRole("combobox", { name: "Pick a flavour" }).selectOption("mint");
    await messages(page, "You chose mint").waitFor();
    assert.match(said, /SELECTED \['mint'\]/);
    // A user select, its options the guild's members.
    await messages(page, "Pressed by Alice").getByRole("combobox", { name: "Pick someone" }).selectOption({ label: "Alice" });
    await messages(page, "You picked Alice").waitFor();
    assert.match(said, new RegExp(`PICKED ${a.id}`));

    // A components-v2 card: layout rendered, its link safe, its button used.
    await pickCommand(page, "card", "card").then((f) => f.getByRole("button", { name: "Send /card" }).click());
    const card = messages(page, "Release notes");
    await card.waitFor();
    assert.equal(await card.locator(".container strong").textContent(), "Release notes", "text displays through Markdown");
    assert.equal(await card.locator(".container em").textContent(), "2");
    assert.equal(await card.locator(".container hr.separator").count(), 1);
    assert.match(await card.locator(".container").getAttribute("style"), /border-left-color: rgb\(88, 101, 242\)/);
    const docs = card.getByRole("link", { name: /Docs/ });
    assert.equal(await docs.getAttribute("href"), "https://example.com/docs");
    assert.match(await docs.getAttribute("rel"), /noopener/);
    assert.equal(await docs.getAttribute("target"), "_blank");
    await card.locator(".section").getByRole("button", { name: "Details" }).click();
    await messages(page, "Details for version 2").filter({ hasText: "Only you can see this" }).waitFor();

    // A modal: opened by the bot, a too-short value refused here, submitted.
    await pickCommand(page, "feed", "feedback").then((f) => f.getByRole("button", { name: "Send /feedback" }).click());
    const dialog = page.getByRole("dialog", { name: "Tell us" });
    await dialog.getByLabel(/What happened/).fill("no");
    await dialog.getByRole("button", { name: "Submit" }).click();
    await dialog.getByRole("alert").filter({ hasText: "At least 3 characters" }).waitFor();
    await dialog.getByLabel(/What happened/).fill("It broke");
    await dialog.getByRole("button", { name: "Submit" }).click();
    await messages(page, "Thanks for the feedback: It broke").waitFor();
    assert.equal(await dialog.count(), 0, "the modal closed");

    // Deferred: thinking first, then the answer.
    await pickCommand(page, "slow", "slow").then((f) => f.getByRole("button", { name: "Send /slow" }).click());
    await feed(page).getByText("Interactor is thinking…").waitFor();
    await messages(page, "Done thinking slowly").waitFor();

    // A subcommand: its integer range enforced here, then sent nested.
    const set = await pickCommand(page, "config s", "config set");
    await set.getByLabel(/^key/).fill("volume");
    await set.getByLabel(/^value/).fill("11");
    await set.getByRole("button", { name: "Send /config set" }).click();
    await set.getByRole("alert").filter({ hasText: "value: At most 10." }).waitFor();
    await set.getByLabel(/^value/).fill("7");
    await set.getByRole("button", { name: "Send /config set" }).click();
    await messages(page, "Set volume to 7").waitFor();
    assert.match(said, /CONFIG volume=7/);

    // A user command from the member list, a message command from a message's actions.
    const members = page.getByRole("complementary", { name: "Members" });
    await members.getByRole("listitem", { name: /^Interactor,/ }).click({ button: "right" });
    await page.keyboard.press("Escape");
    assert.equal(await page.getByRole("menu", { name: "Apps" }).count(), 0, "Escape closes the menu (focus moved into it)");
    await members.getByRole("listitem", { name: /^Interactor,/ }).click({ button: "right" });
    await page.getByRole("menu", { name: "Apps" }).getByRole("menuitem", { name: "Wave at" }).click();
    await messages(page, "Alice waves at Interactor").waitFor();
    assert.match(said, new RegExp(`WAVE ${app.id}`));
    await composer(page).fill("echo this line");
    await composer(page).press("Enter");
    const mine = messages(page, "echo this line");
    await mine.hover();
    await mine.getByRole("button", { name: "Apps" }).click();
    await mine.getByRole("menuitem", { name: "Echo" }).click();
    await messages(page, "Echo: echo this line").waitFor();

    // A command the bot ignores: after the deadline, the person is told.
    await pickCommand(page, "ign", "ignore").then((f) => f.getByRole("button", { name: "Send /ignore" }).click());
    await page.getByRole("status").filter({ hasText: "The application did not respond" }).waitFor({ timeout: 10_000 });
    assert.match(said, /IGNORED/);
    assert.doesNotMatch(said, /ERROR/);
    await shot(page, "interactions");
    assert.deepEqual(pageErrors, []);
  } catch (e) {
    await shot(page, "fail-interactions").catch(() => {});
    throw e;
  } finally {
    await a.context.close();
  }
});

test("webhooks: made in the integrations tab, posted to, shown with their name and APP, deleted", async () => {
  const a = await openPerson(browser, server.url, "hooker", pageErrors);
  const { page } = a;
  try {
    await register(server.url, a, "hooker", "Hooker");
    const guild = await rest(server.url, a.token, "POST", "/guilds", { name: "Hook Guild" });
    const general = guild.system_channel_id;
    const releases = await rest(server.url, a.token, "POST", `/guilds/${guild.id}/channels`, { name: "releases", type: 0 });
    await page.goto(`/channels/${guild.id}/${general}`);
    await composer(page).waitFor();

    await page.getByRole("button", { name: /^Hook Guild/ }).click();
    await page.getByRole("menuitem", { name: "Server settings" }).click();
    const dlg = page.getByRole("dialog", { name: "Hook Guild settings" });
    await dlg.getByRole("tab", { name: "Integrations" }).click();
    await dlg.getByText("No webhooks yet.").waitFor();
    // Made elsewhere (REST): the open tab follows WEBHOOKS_UPDATE.
    const other = await rest(server.url, a.token, "POST", `/channels/${general}/webhooks`, { name: "From Elsewhere" });
    await dlg.getByRole("listitem", { name: "Webhook From Elsewhere" }).waitFor();
    await rest(server.url, a.token, "DELETE", `/webhooks/${other.id}`);
    await dlg.getByText("No webhooks yet.").waitFor();
    await dlg.getByLabel("Name", { exact: true }).fill("Deploys");
    await dlg.getByRole("button", { name: "New webhook" }).click();
    const row = dlg.getByRole("listitem", { name: "Webhook Deploys" });
    await row.waitFor();

    // Renamed here; the list follows (WEBHOOKS_UPDATE or the reload).
    await row.getByLabel("Name of webhook Deploys").fill("Releases");
    await row.getByRole("button", { name: "Save name of webhook Deploys" }).click();
    const renamed = dlg.getByRole("listitem", { name: "Webhook Releases" });
    await renamed.waitFor();
    // Moved to #releases: its messages go there from now on.
    await renamed.getByLabel("Channel of webhook Releases").selectOption({ label: "#releases" });
    await eventually(async () => {
      const hooks = await rest(server.url, a.token, "GET", `/guilds/${guild.id}/webhooks`);
      return hooks.length === 1 && hooks[0].channel_id === releases.id;
    }, "the webhook moved to #releases");

    // The URL as copied, then posted to with an override name.
    await a.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const copy = renamed.getByRole("button", { name: "Copy URL of webhook Releases" });
    await copy.click();
    await eventually(async () => (await copy.textContent()) === "Copied", "the URL copied");
    const url = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(url, new RegExp(`^${server.url}/api/webhooks/\\d+/\\S+$`));
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content: "Version 1.2 is out", username: "Release Bot" }),
    });
    assert.equal(res.status, 204);
    await dlg.getByRole("button", { name: "Close settings" }).click();
    await page.goto(`/channels/${guild.id}/${releases.id}`);
    const posted = messages(page, "Version 1.2 is out");
    await posted.waitFor();
    assert.match(await posted.textContent(), /Release Bot\s*APP/);

    // Deleted: gone from the list, and its URL no longer works.
    await page.getByRole("button", { name: /^Hook Guild/ }).click();
    await page.getByRole("menuitem", { name: "Server settings" }).click();
    await dlg.getByRole("tab", { name: "Integrations" }).click();
    await dlg.getByRole("button", { name: "Delete webhook Releases" }).click();
    await dlg.getByText("No webhooks yet.").waitFor();
    const gone = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ content: "x" }) });
    assert.equal(gone.status, 404);
    assert.deepEqual(pageErrors, []);
  } catch (e) {
    await shot(page, "fail-webhooks").catch(() => {});
    throw e;
  } finally {
    await a.context.close();
  }
});

test("a discord.js bot's autocomplete, ephemeral button, modal and deferred reply, used in the browser", async () => {
  const botsJs = new URL("../../crates/fussioncord/tests/bots/js/", import.meta.url).pathname;
  assert.ok(existsSync(join(botsJs, "node_modules/discord.js")), "bot libraries missing: run scripts/bot-libs.sh");
  const a = await openPerson(browser, server.url, "carol", pageErrors);
  const { page } = a;
  let jsBot;
  try {
    await register(server.url, a, "carol", "Carol");
    const guild = await rest(server.url, a.token, "POST", "/guilds", { name: "JS Guild" });
    const general = guild.system_channel_id;
    const app = await rest(server.url, a.token, "POST", "/applications", { name: "Greeter" });
    await rest(server.url, a.token, "POST", `/oauth2/authorize?client_id=${app.id}&scope=bot&permissions=0&guild_id=${guild.id}`, {});
    let said = "";
    jsBot = spawn(process.execPath, [join(botsJs, "web_interactions.mjs")], {
      env: { ...process.env, FC_API: `${server.url}/api`, FC_TOKEN: app.token, FC_GUILD: guild.id },
      stdio: ["ignore", "pipe", "inherit"],
    });
    jsBot.stdout.on("data", (d) => (said += d));
    await eventually(() => said.includes("SET 4"), `discord.js set its 4 commands (said: ${JSON.stringify(said)})`, 60_000);

    await page.goto(`/channels/${guild.id}/${general}`);
    await composer(page).waitFor();

    // Autocomplete, then an ephemeral reply whose button updates it.
    const form = await pickCommand(page, "gr", "greet");
    await form.getByLabel(/^who/).pressSequentially("gr");
    await form.getByRole("listbox", { name: "Suggestions for who" }).getByRole("button", { name: "Grace" }).click();
    await form.getByRole("button", { name: "Send /greet" }).click();
    const hello = messages(page, "Hello, Grace!");
    await hello.waitFor();
    assert.match(await hello.textContent(), /Only you can see this/);
    await hello.getByRole("button", { name: "Wave back" }).click();
    const waved = messages(page, "You waved back");
    await waved.waitFor();
    assert.equal(await waved.getByRole("button").filter({ hasText: "Wave back" }).count(), 0, "the update removed the button");
    assert.match(await waved.textContent(), /Only you can see this/, "still ephemeral after the update");

    // A modal from ModalBuilder, submitted.
    await pickCommand(page, "ask", "ask").then((f) => f.getByRole("button", { name: "Send /ask" }).click());
    const dialog = page.getByRole("dialog", { name: "A question" });
    await dialog.getByLabel(/Favourite colour/).fill("teal");
    await dialog.getByRole("button", { name: "Submit" }).click();
    await messages(page, "So it is teal").waitFor();

    // An attachment option: the file is uploaded ahead, and the bot reads it.
    const scan = await pickCommand(page, "sc", "scan");
    await scan.getByLabel(/^file/).setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello there\n") });
    await scan.getByText("Uploaded").waitFor();
    await scan.getByRole("button", { name: "Send /scan" }).click();
    await messages(page, "notes.txt: 12 bytes, says hello there").waitFor();

    // deferReply → thinking; editReply → the same message answers.
    await pickCommand(page, "lat", "later").then((f) => f.getByRole("button", { name: "Send /later" }).click());
    await feed(page).getByText("Greeter is thinking…").waitFor();
    await messages(page, "Here it is, later").waitFor();
    await eventually(async () => (await feed(page).getByText("Greeter is thinking…").count()) === 0, "the thinking message became the answer");
    assert.doesNotMatch(said, /ERROR/);
    assert.deepEqual(pageErrors, []);
    await shot(page, "interactions-discordjs");
  } catch (e) {
    await shot(page, "fail-interactions-discordjs").catch(() => {});
    throw e;
  } finally {
    jsBot?.kill("SIGKILL");
    await a.context.close();
  }
});
