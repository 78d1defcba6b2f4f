import { describe, expect, it } from "vitest";
import { ChatState, TYPING_MS, cmpId } from "../src/lib/state.svelte";
import type { Message } from "../src/lib/types";

const me = { id: "100", username: "me" };
const other = { id: "200", username: "other" };

function ready(s: ChatState) {
  s.dispatch("READY", {
    v: 10,
    user: me,
    session_id: "s",
    resume_gateway_url: "ws://x",
    guilds: [
      {
        id: "1",
        name: "G",
        owner_id: "100",
        roles: [
          { id: "1", name: "@everyone", color: 0, hoist: false, position: 0, permissions: "0" },
          { id: "9", name: "Mods", color: 0xff0000, hoist: true, position: 1, permissions: "0" },
        ],
        channels: [
          { id: "10", type: 0, name: "general", position: 0, last_message_id: "500" },
          { id: "11", type: 0, name: "random", position: 1, last_message_id: "300" },
        ],
        members: [
          { user: me, roles: ["9"] },
          { user: other, roles: [] },
        ],
        presences: [{ user: { id: "200" }, status: "online" }],
      },
    ],
    read_state: { entries: [{ id: "10", last_message_id: "500", mention_count: 0 }] },
    relationships: [{ id: "200", type: 1, user: other }],
  });
}

function msg(id: string, channel = "10", author = other, extra: Partial<Message> = {}): Message {
  return { id, channel_id: channel, guild_id: "1", author, content: `m${id}`, timestamp: new Date().toISOString(), ...extra };
}

describe("stores", () => {
  it("READY fills guilds, channels, members, roles, presences, read states and relationships", () => {
    const s = new ChatState();
    ready(s);
    expect(s.me?.id).toBe("100");
    expect(s.guildOrder).toEqual(["1"]);
    expect(s.guildChannels("1").map((c) => c.name)).toEqual(["general", "random"]);
    expect(s.presences["200"]).toBe("online");
    expect(s.relationships["200"].type).toBe(1);
    expect(s.roleColor("1", "100")).toBe("#ff0000");
    expect(s.unread("10")).toBe(false);
    expect(s.unread("11")).toBe(true); // no read state
  });

  it("MESSAGE_CREATE / UPDATE / DELETE on a loaded channel", () => {
    const s = new ChatState();
    ready(s);
    s.loadedHistory("10", [msg("500"), msg("400")], 50, false);
    expect(s.messages["10"].list.map((m) => m.id)).toEqual(["400", "500"]);
    expect(s.messages["10"].hasMore).toBe(false);
    s.dispatch("MESSAGE_CREATE", msg("600"));
    s.dispatch("MESSAGE_CREATE", msg("600")); // a duplicate (REST answer and event) is kept once
    expect(s.messages["10"].list.map((m) => m.id)).toEqual(["400", "500", "600"]);
    expect(s.channels["10"].last_message_id).toBe("600");
    s.dispatch("MESSAGE_UPDATE", { id: "600", channel_id: "10", content: "edited", edited_timestamp: "2024-01-01T00:00:00Z" });
    expect(s.findMessage("10", "600")?.content).toBe("edited");
    expect(s.findMessage("10", "600")?.edited_timestamp).toBeTruthy();
    s.dispatch("MESSAGE_DELETE", { id: "500", channel_id: "10" });
    expect(s.messages["10"].list.map((m) => m.id)).toEqual(["400", "600"]);
    s.dispatch("MESSAGE_DELETE", { id: "600", channel_id: "10" });
    expect(s.channels["10"].last_message_id).toBe("400");
    s.dispatch("MESSAGE_CREATE", msg("600"));
    s.dispatch("MESSAGE_DELETE_BULK", { ids: ["400", "600"], channel_id: "10" });
    expect(s.messages["10"].list).toEqual([]);
  });

  it("an edit reaches the quotes of the replies to it", () => {
    const s = new ChatState();
    ready(s);
    const original = msg("500", "10", other, { content: "before" });
    s.loadedHistory("10", [msg("600", "10", me, { content: "a reply", message_reference: { message_id: "500" }, referenced_message: { ...original } }), original], 50, false);
    s.dispatch("MESSAGE_UPDATE", { id: "500", channel_id: "10", content: "after", edited_timestamp: "2024-01-01T00:00:00Z" });
    expect(s.findMessage("10", "500")?.content).toBe("after");
    expect(s.findMessage("10", "600")?.referenced_message?.content).toBe("after");
    expect(s.findMessage("10", "600")?.content).toBe("a reply");
    // Quoting a message that is no longer loaded (older history) works too.
    s.loadedHistory("10", [msg("700", "10", me, { content: "old quote", message_reference: { message_id: "1" }, referenced_message: msg("1", "10", other, { content: "x" }) })], 50, false);
    s.dispatch("MESSAGE_UPDATE", { id: "1", channel_id: "10", content: "y" });
    expect(s.findMessage("10", "700")?.referenced_message?.content).toBe("y");
  });

  it("older history merges in order", () => {
    const s = new ChatState();
    ready(s);
    s.loadedHistory("10", [msg("500"), msg("450")], 2, false);
    expect(s.messages["10"].hasMore).toBe(true);
    s.loadedHistory("10", [msg("449"), msg("100")], 2, true);
    expect(s.messages["10"].list.map((m) => m.id)).toEqual(["100", "449", "450", "500"]);
  });

  it("reactions count, track `me`, and are removed at zero", () => {
    const s = new ChatState();
    ready(s);
    s.loadedHistory("10", [msg("500")], 50, false);
    const add = (user: string) =>
      s.dispatch("MESSAGE_REACTION_ADD", { user_id: user, channel_id: "10", message_id: "500", emoji: { id: null, name: "👍" } });
    const remove = (user: string) =>
      s.dispatch("MESSAGE_REACTION_REMOVE", { user_id: user, channel_id: "10", message_id: "500", emoji: { id: null, name: "👍" } });
    add("200");
    add("100");
    expect(s.findMessage("10", "500")?.reactions).toEqual([{ count: 2, me: true, emoji: { id: null, name: "👍" } }]);
    add("100"); // my own add seen twice: counted once
    expect(s.findMessage("10", "500")?.reactions?.[0].count).toBe(2);
    remove("100");
    expect(s.findMessage("10", "500")?.reactions?.[0]).toMatchObject({ count: 1, me: false });
    remove("200");
    expect(s.findMessage("10", "500")?.reactions).toEqual([]);
  });

  it("unread and mentions: counted when not viewing, cleared by MESSAGE_ACK, own messages read", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("MESSAGE_CREATE", msg("700", "10"));
    expect(s.unread("10")).toBe(true);
    expect(s.mentionCount("10")).toBe(0);
    s.dispatch("MESSAGE_CREATE", msg("701", "10", other, { mentions: [me] }));
    s.dispatch("MESSAGE_CREATE", msg("702", "10", other, { mention_roles: ["9"] }));
    expect(s.mentionCount("10")).toBe(2);
    expect(s.guildMentions("1")).toBe(2);
    expect(s.guildUnread("1")).toBe(true);
    s.dispatch("MESSAGE_ACK", { channel_id: "10", message_id: "702", mention_count: 0 });
    expect(s.unread("10")).toBe(false);
    expect(s.mentionCount("10")).toBe(0);
    // Viewing: mentions are not counted.
    s.viewing = "10";
    s.dispatch("MESSAGE_CREATE", msg("703", "10", other, { mentions: [me] }));
    expect(s.mentionCount("10")).toBe(0);
    // My own message marks the channel read.
    s.dispatch("MESSAGE_CREATE", msg("800", "11", me));
    expect(s.unread("11")).toBe(false);
  });

  it("typing expires, and a message from the typist ends it", () => {
    let now = 1000;
    const s = new ChatState(() => now);
    ready(s);
    s.dispatch("TYPING_START", { channel_id: "10", guild_id: "1", user_id: "200", timestamp: 1 });
    s.dispatch("TYPING_START", { channel_id: "10", guild_id: "1", user_id: "100", timestamp: 1 });
    expect(s.typingUsers("10")).toEqual(["200"]); // not me
    now += TYPING_MS - 1;
    expect(s.typingUsers("10")).toEqual(["200"]);
    now += 2;
    expect(s.typingUsers("10")).toEqual([]);
    s.pruneTyping();
    expect(s.typing["10"]).toBeUndefined();
    s.dispatch("TYPING_START", { channel_id: "10", guild_id: "1", user_id: "200", timestamp: 1 });
    s.dispatch("MESSAGE_CREATE", msg("900", "10"));
    expect(s.typingUsers("10")).toEqual([]);
  });

  it("channels, members and guild removal", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("CHANNEL_CREATE", { id: "12", type: 4, name: "Cat", guild_id: "1", position: 2 });
    s.dispatch("CHANNEL_UPDATE", { id: "11", type: 0, name: "renamed", guild_id: "1", position: 1 });
    expect(s.guildChannels("1").map((c) => c.name)).toEqual(["general", "renamed", "Cat"]);
    s.dispatch("CHANNEL_DELETE", { id: "12", guild_id: "1" });
    expect(s.channels["12"]).toBeUndefined();
    s.dispatch("GUILD_MEMBER_ADD", { guild_id: "1", user: { id: "300", username: "new" }, roles: [] });
    expect(s.displayName("300", "1")).toBe("new");
    s.dispatch("PRESENCE_UPDATE", { user: { id: "300" }, status: "idle", guild_id: "1" });
    expect(s.presences["300"]).toBe("idle");
    s.dispatch("GUILD_MEMBER_REMOVE", { guild_id: "1", user: { id: "300" } });
    expect(s.members["1"]["300"]).toBeUndefined();
    s.dispatch("GUILD_DELETE", { id: "1" });
    expect(s.guildOrder).toEqual([]);
    expect(s.channels["10"]).toBeUndefined();
  });

  it("relationships", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("RELATIONSHIP_ADD", { id: "300", type: 3, user: { id: "300", username: "x" } });
    expect(s.relationships["300"].type).toBe(3);
    s.dispatch("RELATIONSHIP_REMOVE", { id: "200", type: 1 });
    expect(s.relationships["200"]).toBeUndefined();
  });

  it("compares snowflakes numerically", () => {
    expect(cmpId("99", "100")).toBeLessThan(0);
    expect(cmpId("1000000000000000001", "1000000000000000000")).toBeGreaterThan(0);
  });
});

describe("guilds created or joined over REST", () => {
  it("stay pending until their GUILD_CREATE arrives", () => {
    const s = new ChatState();
    ready(s);
    s.expectGuild("2");
    expect(s.pendingGuilds["2"]).toBe(true);
    s.expectGuild("1"); // already known: nothing to wait for
    expect(s.pendingGuilds["1"]).toBeUndefined();
    s.dispatch("GUILD_CREATE", { id: "2", name: "New", owner_id: "100", roles: [], channels: [], members: [] });
    expect(s.pendingGuilds["2"]).toBeUndefined();
    expect(s.guilds["2"].name).toBe("New");
  });
});
