import { describe, expect, it } from "vitest";
import {
  buildAutocomplete,
  buildInvocation,
  commandLeaves,
  commandQuery,
  contextCommands,
  contextInvocation,
  filterCommands,
  inputKind,
  newNonce,
  optionValue,
  type AppCommand,
} from "../src/lib/commands";
import {
  accentColor,
  buttonClass,
  componentData,
  fieldError,
  messageApplication,
  modalFields,
  modalSubmission,
  safeLink,
  selectionError,
} from "../src/lib/components";
import { ChatState } from "../src/lib/state.svelte";
import { P, guildSettingsTabs } from "../src/lib/permissions";

const roll: AppCommand = {
  id: "1",
  application_id: "900",
  name: "roll",
  description: "Roll dice",
  type: 1,
  options: [
    { type: 4, name: "sides", description: "Sides", required: true, min_value: 2, max_value: 100 },
    { type: 3, name: "colour", choices: [{ name: "Red", value: "red" }, { name: "Blue", value: "blue" }] },
    { type: 3, name: "city", autocomplete: true, min_length: 2 },
    { type: 6, name: "for" },
    { type: 5, name: "loud" },
    { type: 10, name: "ratio", min_value: 0, max_value: 1 },
  ],
};
const config: AppCommand = {
  id: "2",
  application_id: "900",
  name: "config",
  description: "Settings",
  options: [
    { type: 1, name: "show", description: "Shows" },
    {
      type: 2,
      name: "key",
      description: "Keys",
      options: [{ type: 1, name: "set", description: "Sets", options: [{ type: 3, name: "value", required: true }] }],
    },
  ],
};
const wave: AppCommand = { id: "3", application_id: "900", name: "Wave at", type: 2 };
const quote: AppCommand = { id: "4", application_id: "900", name: "Quote", type: 3 };
const all = [roll, config, wave, quote];

describe("the command picker", () => {
  it("opens on a leading slash, subcommands typed after a space", () => {
    expect(commandQuery("/")).toBe("");
    expect(commandQuery("/Ro")).toBe("ro");
    expect(commandQuery("/config s")).toBe("config s");
    expect(commandQuery("/ nope")).toBeNull();
    expect(commandQuery("/a\nb")).toBeNull();
    expect(commandQuery("hi /roll")).toBeNull();
    expect(commandQuery("")).toBeNull();
  });

  it("lists subcommands as leaves and filters by prefix first, then substring", () => {
    expect(commandLeaves(config).map((l) => l.label)).toEqual(["config show", "config key set"]);
    expect(commandLeaves(config)[1].path).toEqual(["key", "set"]);
    expect(filterCommands(all, "").map((l) => l.label)).toEqual(["config key set", "config show", "roll"]);
    expect(filterCommands(all, "s").map((l) => l.label)).toEqual(["config key set", "config show"]);
    expect(filterCommands(all, "RO").map((l) => l.label)).toEqual(["roll"]);
    expect(filterCommands(all, "wave")).toEqual([]);
    expect(filterCommands(all, "config s").map((l) => l.label)).toEqual(["config show"]);
    expect(filterCommands(all, "roll 6")).toEqual([]);
  });

  it("separates user and message context-menu commands", () => {
    expect(contextCommands(all, 2).map((c) => c.name)).toEqual(["Wave at"]);
    expect(contextCommands(all, 3).map((c) => c.name)).toEqual(["Quote"]);
    expect(contextInvocation(wave, "77")).toEqual({ id: "3", name: "Wave at", type: 2, target_id: "77" });
  });

  it("gives each option a fitting input", () => {
    expect(roll.options!.map(inputKind)).toEqual(["number", "choice", "text", "user", "boolean", "number"]);
  });
});

describe("building an invocation", () => {
  const leaf = commandLeaves(roll)[0];

  it("sends typed values and leaves unset options out", () => {
    const b = buildInvocation(leaf, { sides: "20", colour: "blue", for: "55", loud: "false", ratio: "0.5", city: "" });
    expect(b.errors).toEqual({});
    expect(b.data).toEqual({
      id: "1",
      name: "roll",
      type: 1,
      options: [
        { name: "sides", type: 4, value: 20 },
        { name: "colour", type: 3, value: "blue" },
        { name: "for", type: 6, value: "55" },
        { name: "loud", type: 5, value: false },
        { name: "ratio", type: 10, value: 0.5 },
      ],
    });
  });

  it("refuses a missing required option, bounds, non-choices, fractions and bad ids", () => {
    expect(buildInvocation(leaf, {}).errors).toEqual({ sides: "Required." });
    // What a bound number input holds: a number, or null once emptied.
    expect(buildInvocation(leaf, { sides: null }).errors).toEqual({ sides: "Required." });
    expect(buildInvocation(leaf, { sides: 101 }).errors.sides).toBe("At most 100.");
    expect(buildInvocation(leaf, { sides: 6 }).data.options).toEqual([{ name: "sides", type: 4, value: 6 }]);
    expect(buildInvocation(leaf, { sides: "1" }).errors.sides).toBe("At least 2.");
    expect(buildInvocation(leaf, { sides: "101" }).errors.sides).toBe("At most 100.");
    expect(buildInvocation(leaf, { sides: "2.5" }).errors.sides).toBe("Enter a whole number.");
    expect(buildInvocation(leaf, { sides: "six" }).errors.sides).toBe("Enter a whole number.");
    expect(buildInvocation(leaf, { sides: "6", colour: "green" }).errors.colour).toBe("Pick one of the choices.");
    expect(buildInvocation(leaf, { sides: "6", city: "P" }).errors.city).toBe("At least 2 characters.");
    expect(buildInvocation(leaf, { sides: "6", for: "bob" }).errors.for).toBe("Pick one.");
    expect(optionValue({ type: 4, name: "n", choices: [{ name: "six", value: 6 }] }, "6")).toEqual({ value: 6 });
    expect(optionValue({ type: 4, name: "n", choices: [{ name: "six", value: 6 }] }, "7").error).toBeDefined();
  });

  it("nests subcommands and groups", () => {
    const set = commandLeaves(config)[1];
    expect(buildInvocation(set, {}).errors).toEqual({ value: "Required." });
    expect(buildInvocation(set, { value: "x" }).data).toEqual({
      id: "2",
      name: "config",
      type: 1,
      options: [{ name: "key", type: 2, options: [{ name: "set", type: 1, options: [{ name: "value", type: 3, value: "x" }] }] }],
    });
    expect(buildInvocation(commandLeaves(config)[0], {}).data.options).toEqual([{ name: "show", type: 1, options: [] }]);
  });

  it("autocompletes with the partial value focused, unchecked, and the other valid options", () => {
    expect(buildAutocomplete(leaf, { sides: "20", city: "P", colour: "green" }, "city").options).toEqual([
      { name: "sides", type: 4, value: 20 },
      { name: "city", type: 3, value: "P", focused: true },
    ]);
  });

  it("makes increasing nonces", () => {
    const a = newNonce(1_700_000_000_000);
    const b = newNonce(1_700_000_000_000);
    expect(BigInt(b) > BigInt(a)).toBe(true);
  });
});

describe("components", () => {
  const message = { id: "5", channel_id: "10", author: { id: "900" } };

  it("sends the clicked button or the chosen values", () => {
    expect(componentData({ type: 2, custom_id: "yes" })).toEqual({ component_type: 2, custom_id: "yes" });
    expect(componentData({ type: 3, custom_id: "f" }, ["a"])).toEqual({ component_type: 3, custom_id: "f", values: ["a"] });
    expect(componentData({ type: 5, custom_id: "who" }, [])).toEqual({ component_type: 5, custom_id: "who", values: [] });
    expect(messageApplication(message)).toBe("900");
    expect(messageApplication({ ...message, application_id: "901" })).toBe("901");
  });

  it("checks a select's bounds", () => {
    expect(selectionError({ type: 3 }, [])).toBe("Pick at least one.");
    expect(selectionError({ type: 3 }, ["a", "b"])).toBe("Pick only one.");
    expect(selectionError({ type: 3, min_values: 1, max_values: 2 }, ["a", "b", "c"])).toBe("Pick at most 2.");
    expect(selectionError({ type: 3, min_values: 0, max_values: 2 }, [])).toBeNull();
  });

  it("opens only http(s) links and styles buttons", () => {
    expect(safeLink("https://example.com/docs")).toBe("https://example.com/docs");
    expect(safeLink("javascript:alert(1)")).toBeNull();
    expect(safeLink("data:text/html,x")).toBeNull();
    expect(safeLink("not a url")).toBeNull();
    expect(buttonClass(4)).toBe("cbutton danger");
    expect(buttonClass(undefined)).toBe("cbutton secondary");
    expect(buttonClass(99)).toBe("cbutton secondary");
    expect(accentColor(0x5865f2)).toBe("#5865f2");
    expect(accentColor(null)).toBeNull();
    expect(accentColor(0x1000000)).toBeNull();
  });
});

describe("modals", () => {
  const components = [
    { type: 1, components: [{ type: 4, custom_id: "what", label: "What happened", style: 2, min_length: 3, max_length: 10 }] },
    { type: 18, label: "Mood", description: "How you feel", component: { type: 4, custom_id: "mood", style: 1, required: false, value: "ok" } },
  ];

  it("finds text inputs in action rows and labels", () => {
    const fields = modalFields(components);
    expect(fields.map((f) => [f.custom_id, f.label, f.style, f.required, f.value])).toEqual([
      ["what", "What happened", 2, true, ""],
      ["mood", "Mood", 1, false, "ok"],
    ]);
    expect(fields[1].description).toBe("How you feel");
  });

  it("checks lengths and required inputs, and submits each in an action row", () => {
    const fields = modalFields(components);
    expect(fieldError(fields[0], "")).toBe("Required.");
    expect(fieldError(fields[0], "no")).toBe("At least 3 characters.");
    expect(fieldError(fields[0], "x".repeat(11))).toBe("At most 10 characters.");
    expect(fieldError(fields[1], "")).toBeNull();
    const s = modalSubmission("fb", fields, { what: "It broke", mood: "" });
    expect(s.errors).toEqual({});
    expect(s.data).toEqual({
      custom_id: "fb",
      components: [
        { type: 1, components: [{ type: 4, custom_id: "what", value: "It broke" }] },
        { type: 1, components: [{ type: 4, custom_id: "mood", value: "" }] },
      ],
    });
    expect(modalSubmission("fb", fields, { what: "no" }).errors).toEqual({ what: "At least 3 characters." });
  });
});

describe("interaction events in the state", () => {
  function state() {
    const s = new ChatState();
    s.dispatch("READY", {
      v: 10,
      user: { id: "100", username: "me" },
      session_id: "s",
      resume_gateway_url: "ws://x",
      guilds: [{ id: "1", name: "G", owner_id: "100", channels: [{ id: "10", type: 0, name: "general", last_message_id: "500" }], members: [] }],
    });
    s.loadedHistory("10", [], 50, false);
    return s;
  }

  it("follows an interaction from sent to success, or to failure", () => {
    const s = state();
    s.interactionSent("7001", "10", "/roll");
    s.interactionSent("7002", "10", "/ignore");
    s.dispatch("INTERACTION_CREATE", { id: "i1", nonce: "7001" });
    s.dispatch("INTERACTION_CREATE", { id: "i2", nonce: "7002" });
    expect(s.interactions["7001"].id).toBe("i1");
    s.dispatch("INTERACTION_SUCCESS", { id: "i1", nonce: "7001" });
    s.dispatch("INTERACTION_FAILURE", { id: "i2" });
    expect(s.channelInteractions("10").map((p) => [p.label, p.status])).toEqual([["/ignore", "failed"]]);
    expect(s.channelInteractions("11")).toEqual([]);
  });

  it("keeps autocomplete choices only for the request asked last", () => {
    const s = state();
    s.autocomplete = { nonce: "2", choices: [] };
    s.dispatch("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE", { nonce: "1", choices: [{ name: "Old", value: "old" }] });
    expect(s.autocomplete.choices).toEqual([]);
    s.dispatch("APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE", { nonce: "2", choices: [{ name: "Paris", value: "paris" }] });
    expect(s.autocomplete?.choices).toEqual([{ name: "Paris", value: "paris" }]);
  });

  it("opens a modal, ending the pending interaction", () => {
    const s = state();
    s.interactionSent("7003", "10", "/feedback");
    s.dispatch("INTERACTION_MODAL_CREATE", { id: "i3", nonce: "7003", channel_id: "10", application_id: "900", custom_id: "fb", title: "Tell us", components: [] });
    expect(s.modal?.title).toBe("Tell us");
    expect(s.interactions["7003"]).toBeUndefined();
  });

  it("shows ephemeral messages without making them the channel's last, and dismisses them locally", () => {
    const s = state();
    const author = { id: "900", username: "bot", bot: true };
    s.dispatch("MESSAGE_CREATE", { id: "600", channel_id: "10", guild_id: "1", author, content: "psst", timestamp: "", flags: 64 });
    expect(s.messages["10"].list.map((m) => m.id)).toEqual(["600"]);
    expect(s.channels["10"].last_message_id).toBe("500");
    s.dismiss("10", "600");
    expect(s.messages["10"].list).toEqual([]);
  });

  it("bumps the guild's webhooks on WEBHOOKS_UPDATE", () => {
    const s = state();
    s.dispatch("WEBHOOKS_UPDATE", { guild_id: "1", channel_id: "10" });
    s.dispatch("WEBHOOKS_UPDATE", { guild_id: "1", channel_id: "10" });
    expect(s.webhooksVersion["1"]).toBe(2);
  });

  it("offers the integrations tab with MANAGE_WEBHOOKS only", () => {
    expect(guildSettingsTabs(P.MANAGE_WEBHOOKS)).toEqual(["integrations"]);
    expect(guildSettingsTabs(P.MANAGE_GUILD)).not.toContain("integrations");
  });
});
