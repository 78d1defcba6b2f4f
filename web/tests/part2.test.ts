import { describe, expect, it } from "vitest";
import { ChatState } from "../src/lib/state.svelte";
import {
  P,
  channelPermissions,
  guildPermissions,
  guildSettingsTabs,
  overwriteState,
  setOverwrite,
} from "../src/lib/permissions";
import { parseSearch } from "../src/lib/search";
import { base32, otpauthUri } from "../src/lib/totp";

const me = { id: "100", username: "me" };
const bob = { id: "200", username: "bob", global_name: "Bob" };

function ready(s: ChatState, extra: Record<string, unknown> = {}) {
  s.dispatch("READY", {
    v: 10,
    user: me,
    session_id: "s",
    resume_gateway_url: "ws://x",
    guilds: [
      {
        id: "1",
        name: "G",
        owner_id: "999",
        roles: [
          { id: "1", name: "@everyone", color: 0, hoist: false, position: 0, permissions: String(P.VIEW_CHANNEL | P.SEND_MESSAGES) },
          { id: "9", name: "Mods", color: 0, hoist: true, position: 1, permissions: String(P.KICK_MEMBERS | P.VIEW_AUDIT_LOG) },
        ],
        channels: [],
        members: [
          { user: me, roles: [] },
          { user: bob, roles: [] },
        ],
      },
    ],
    private_channels: [{ id: "50", type: 1, recipients: [bob], last_message_id: "70" }],
    relationships: [],
    user_settings: { status: "dnd", custom_status: { text: "busy" }, theme: "light" },
    ...extra,
  });
}

describe("relationships", () => {
  it("adds, changes and removes relationships live, and knows who is blocked", () => {
    const s = new ChatState();
    ready(s);
    expect(s.isBlocked("200")).toBe(false);
    s.dispatch("RELATIONSHIP_ADD", { id: "200", type: 3, user: bob });
    expect(s.relationshipsOf(3).map((r) => r.id)).toEqual(["200"]);
    s.dispatch("RELATIONSHIP_ADD", { id: "200", type: 1, user: bob });
    expect(s.relationshipsOf(3)).toEqual([]);
    expect(s.relationshipsOf(1).map((r) => r.id)).toEqual(["200"]);
    s.dispatch("RELATIONSHIP_ADD", { id: "200", type: 2, user: bob });
    expect(s.isBlocked("200")).toBe(true);
    s.dispatch("RELATIONSHIP_REMOVE", { id: "200", type: 2 });
    expect(s.isBlocked("200")).toBe(false);
    expect(s.relationshipsOf(1, 2, 3, 4)).toEqual([]);
  });

  it("a USER_UPDATE of someone renames them in friends, members and DMs", () => {
    const s = new ChatState();
    ready(s, { relationships: [{ id: "200", type: 1, user: bob }] });
    s.dispatch("USER_UPDATE", { ...bob, global_name: "Robert" });
    expect(s.relationships["200"].user.global_name).toBe("Robert");
    expect(s.displayName("200", "1")).toBe("Robert");
    expect(s.channels["50"].recipients?.[0].global_name).toBe("Robert");
  });

  it("lists DMs most recent first", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("CHANNEL_CREATE", { id: "60", type: 1, recipients: [{ id: "300", username: "c" }], last_message_id: "90" });
    expect(s.privateChannels().map((c) => c.id)).toEqual(["60", "50"]);
    s.dispatch("MESSAGE_CREATE", { id: "95", channel_id: "50", author: bob, content: "hi", timestamp: new Date().toISOString() });
    expect(s.privateChannels().map((c) => c.id)).toEqual(["50", "60"]);
  });
});

describe("settings", () => {
  it("READY sets settings, my presence and custom status; USER_SETTINGS_UPDATE merges", () => {
    const s = new ChatState();
    ready(s);
    expect(s.settings?.theme).toBe("light");
    expect(s.presences["100"]).toBe("dnd");
    expect(s.customStatus["100"]).toBe("busy");
    s.dispatch("USER_SETTINGS_UPDATE", { theme: "dark" });
    expect(s.settings?.theme).toBe("dark");
    expect(s.settings?.status).toBe("dnd");
    s.dispatch("USER_SETTINGS_UPDATE", { status: "invisible" });
    expect(s.presences["100"]).toBe("offline");
    s.dispatch("USER_SETTINGS_UPDATE", { custom_status: null });
    expect(s.customStatus["100"]).toBeUndefined();
  });

  it("a PRESENCE_UPDATE carries others' status and custom status", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("PRESENCE_UPDATE", { user: { id: "200" }, status: "idle", activities: [{ type: 4, name: "Custom Status", state: "away" }] });
    expect(s.presences["200"]).toBe("idle");
    expect(s.customStatus["200"]).toBe("away");
    s.dispatch("PRESENCE_UPDATE", { user: { id: "200" }, status: "online", activities: [] });
    expect(s.customStatus["200"]).toBeUndefined();
  });

  it("USER_UPDATE of me changes me (avatar, mfa)", () => {
    const s = new ChatState();
    ready(s);
    s.dispatch("USER_UPDATE", { ...me, avatar: "abc", mfa_enabled: true });
    expect(s.me?.avatar).toBe("abc");
    expect(s.me?.mfa_enabled).toBe(true);
  });
});

describe("permissions", () => {
  const roles = {
    "1": { id: "1", name: "@everyone", color: 0, hoist: false, position: 0, permissions: String(P.VIEW_CHANNEL) },
    "9": { id: "9", name: "Mods", color: 0, hoist: false, position: 1, permissions: String(P.BAN_MEMBERS) },
    "8": { id: "8", name: "Admin", color: 0, hoist: false, position: 2, permissions: String(P.ADMINISTRATOR) },
  };
  const g = { id: "1", owner_id: "999" };

  it("which server settings tabs show", () => {
    expect(guildSettingsTabs(guildPermissions(g, roles, "100", []))).toEqual([]);
    expect(guildSettingsTabs(guildPermissions(g, roles, "100", ["9"]))).toEqual(["members", "bans"]);
    expect(guildSettingsTabs(P.VIEW_AUDIT_LOG)).toEqual(["audit-log"]);
    expect(guildSettingsTabs(P.MANAGE_CHANNELS)).toEqual(["channels"]);
    const all = ["overview", "channels", "roles", "emojis", "stickers", "members", "bans", "invites", "integrations", "audit-log"];
    expect(guildSettingsTabs(guildPermissions(g, roles, "100", ["8"]))).toEqual(all);
    expect(guildSettingsTabs(guildPermissions(g, roles, "999", []))).toEqual(all);
  });

  it("state.myPermissions follows role changes", () => {
    const s = new ChatState();
    ready(s);
    expect(guildSettingsTabs(s.myPermissions("1"))).toEqual([]);
    s.dispatch("GUILD_MEMBER_UPDATE", { guild_id: "1", user: me, roles: ["9"] });
    expect(guildSettingsTabs(s.myPermissions("1"))).toEqual(["members", "audit-log"]);
  });

  it("channel overwrites: @everyone, then roles, then the member", () => {
    const base = P.VIEW_CHANNEL | P.SEND_MESSAGES;
    const hide = [{ id: "1", type: 0, allow: "0", deny: String(P.VIEW_CHANNEL) }];
    expect(channelPermissions(base, "1", "100", [], hide) & P.VIEW_CHANNEL).toBe(0n);
    const roleAllows = [...hide, { id: "9", type: 0, allow: String(P.VIEW_CHANNEL), deny: "0" }];
    expect(channelPermissions(base, "1", "100", ["9"], roleAllows) & P.VIEW_CHANNEL).toBe(P.VIEW_CHANNEL);
    const memberDenies = [...roleAllows, { id: "100", type: 1, allow: "0", deny: String(P.VIEW_CHANNEL) }];
    expect(channelPermissions(base, "1", "100", ["9"], memberDenies) & P.VIEW_CHANNEL).toBe(0n);
  });

  it("overwrite toggles are tri-state", () => {
    let o = { id: "1", type: 0, allow: "0", deny: "0" };
    expect(overwriteState(o, P.VIEW_CHANNEL)).toBe("inherit");
    o = setOverwrite(o, P.VIEW_CHANNEL, "deny");
    expect(overwriteState(o, P.VIEW_CHANNEL)).toBe("deny");
    o = setOverwrite(o, P.VIEW_CHANNEL, "allow");
    expect([o.allow, o.deny]).toEqual([String(P.VIEW_CHANNEL), "0"]);
    o = setOverwrite(o, P.VIEW_CHANNEL, "inherit");
    expect([o.allow, o.deny]).toEqual(["0", "0"]);
  });
});

describe("search query", () => {
  const people = [me, bob];
  it("splits from: filters from the text", () => {
    expect(parseSearch("hello from:bob world", people)).toEqual({ content: "hello world", authors: ["200"] });
    expect(parseSearch("from:@Bob", people)).toEqual({ content: "", authors: ["200"] });
    expect(parseSearch("from:nobody x", people).error).toMatch(/nobody/);
  });
});

describe("totp", () => {
  it("base32 per RFC 4648 and an otpauth URI", () => {
    expect(base32(new TextEncoder().encode("foobar"))).toBe("MZXW6YTBOI");
    expect(otpauthUri("ABC", "a b")).toBe("otpauth://totp/FussionCord:a%20b?secret=ABC&issuer=FussionCord");
  });
});
