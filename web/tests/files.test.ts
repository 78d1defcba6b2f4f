import { describe, expect, it } from "vitest";
import {
  attachmentKind,
  decodeWaveform,
  embedColor,
  emojiUrl,
  formatDuration,
  formatSize,
  localUrl,
  reactionKey,
  resample,
  stickerUrl,
  voiceMessage,
} from "../src/lib/files";
import { parse, render, type RenderContext } from "../src/lib/markdown";
import { ChatState } from "../src/lib/state.svelte";
import { P, expressionRights, guildSettingsTabs, mayChangeExpression } from "../src/lib/permissions";

const ctx: RenderContext = { userName: () => "u", roleName: () => "r", channelName: () => "c" };

describe("custom emojis in Markdown", () => {
  it("renders <:name:id> and <a:name:id> as images of this server", () => {
    expect(parse("hi <:blob:123>")).toEqual([
      { t: "text", v: "hi " },
      { t: "emoji", name: "blob", id: "123", animated: false },
    ]);
    const out = render("a <:blob:123> b <a:dance:456>", ctx);
    expect(out).toContain('<img class="emoji" src="/emojis/123.png?size=48" alt=":blob:" title=":blob:" draggable="false">');
    expect(out).toContain('src="/emojis/456.gif?size=48" alt=":dance:"');
  });

  it("shows a message of emojis only large", () => {
    expect(render("<:blob:123> <:blob:123>", ctx)).toContain('class="emoji jumbo" src="/emojis/123.png?size=96"');
    expect(render("text <:blob:123>", ctx)).not.toContain("jumbo");
  });

  it("leaves malformed or hostile ones as text", () => {
    for (const s of ['<:bl"ob:1>', "<:x:1>", "<:blob:12a>", '<:blob:1 onerror="x">', "<b:blob:1>", "<:blob:>"]) {
      const out = render(s, ctx);
      expect(out, s).not.toContain("<img");
      expect(out).not.toMatch(/<[^>]*onerror/);
    }
    // Not inside code.
    expect(render("`<:blob:123>`", ctx)).not.toContain("<img");
  });
});

describe("file helpers", () => {
  it("formats sizes as people read them", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatSize(1536)).toBe("1.50 KB");
    expect(formatSize(8 * 1024 * 1024)).toBe("8.00 MB");
    expect(formatSize(25.5 * 1024 * 1024)).toBe("25.5 MB");
    expect(formatSize(-1)).toBe("0 B");
    expect(formatSize(NaN)).toBe("0 B");
  });

  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(4.6)).toBe("0:05");
    expect(formatDuration(75)).toBe("1:15");
    expect(formatDuration(3725)).toBe("1:02:05");
  });

  it("decodes Discord's waveform (base64 bytes) into levels 0–1", () => {
    const b64 = btoa(String.fromCharCode(0, 255, 51, 102));
    expect(decodeWaveform(b64)).toEqual([0, 1, 0.2, 0.4]);
    expect(decodeWaveform("not base64!")).toEqual([]);
    expect(decodeWaveform(undefined)).toEqual([]);
    expect(decodeWaveform(btoa("\xff".repeat(300)))).toHaveLength(256);
    expect(resample([0, 1, 0, 1], 2)).toEqual([0.5, 0.5]);
    expect(resample([0.3], 48)).toEqual([0.3]);
  });

  it("tells previews from downloads by content type", () => {
    expect(attachmentKind({ content_type: "image/png" })).toBe("image");
    expect(attachmentKind({ content_type: "image/svg+xml" })).toBe("file");
    expect(attachmentKind({ content_type: "text/html; charset=utf-8" })).toBe("file");
    expect(attachmentKind({ content_type: "video/webm" })).toBe("video");
    expect(attachmentKind({ content_type: "audio/ogg" })).toBe("audio");
    expect(attachmentKind({})).toBe("file");
  });

  it("finds a voice message's recording only with the flag", () => {
    const a = { id: "1", filename: "voice-message.ogg", content_type: "audio/ogg", size: 1, url: "/a", proxy_url: "/a" };
    expect(voiceMessage({ flags: 8192, attachments: [a] })).toBe(a);
    expect(voiceMessage({ flags: 0, attachments: [a] })).toBeNull();
    expect(voiceMessage({ flags: 8192, attachments: [{ ...a, content_type: "image/png" }] })).toBeNull();
  });

  it("loads this server's files from the page's own origin, nothing from elsewhere", () => {
    const origin = "http://127.0.0.1:9000";
    expect(localUrl("http://127.0.0.1:8080/attachments/1/2/a.png?ex=1&hm=2&", origin)).toBe("/attachments/1/2/a.png?ex=1&hm=2&");
    expect(localUrl("http://127.0.0.1:8080/uploads/1/2/a.png?ex=1", origin)).toBe("/uploads/1/2/a.png?ex=1");
    expect(localUrl("https://evil.example/x.png", origin)).toBeNull();
    expect(localUrl("javascript:alert(1)", origin)).toBeNull();
    expect(localUrl("http://127.0.0.1:9000/other", origin)).toBe("/other");
  });

  it("names emoji, sticker and reaction addresses", () => {
    expect(emojiUrl({ id: "5", animated: true })).toBe("/emojis/5.gif?size=48");
    expect(stickerUrl({ id: "6", format_type: 1 })).toBe("/stickers/6.png?size=160");
    expect(stickerUrl({ id: "6", format_type: 4 })).toBe("/stickers/6.gif?size=160");
    expect(stickerUrl({ id: "6", format_type: 3 })).toBeNull();
    expect(reactionKey({ id: "7", name: "blob" })).toBe("blob:7");
    expect(reactionKey({ id: null, name: "👍" })).toBe("👍");
    expect(embedColor(0x5865f2)).toBe("#5865f2");
    expect(embedColor(0)).toBe("#000000");
    expect(embedColor(null)).toBeNull();
    expect(embedColor(0x1000000)).toBeNull();
  });
});

describe("emojis and stickers in the stores", () => {
  const me = { id: "100", username: "me" };
  const guild = (id: string, emojis: unknown[]) => ({ id, name: id, owner_id: "100", roles: [], channels: [], members: [], emojis, stickers: [{ id: "s1", name: "wave", format_type: 1 }] });

  it("keeps GUILD_CREATE's lists and replaces them on updates", () => {
    const s = new ChatState();
    s.dispatch("READY", { v: 10, user: me, session_id: "s", resume_gateway_url: "", guilds: [guild("1", [{ id: "e1", name: "blob" }]), guild("2", [{ id: "e2", name: "cat" }])] });
    expect(s.emojis["1"].map((e) => e.name)).toEqual(["blob"]);
    expect(s.stickers["1"][0].name).toBe("wave");
    // The current guild's first.
    expect(s.usableEmojis("2").map((x) => x.emoji.name)).toEqual(["cat", "blob"]);
    s.dispatch("GUILD_EMOJIS_UPDATE", { guild_id: "1", emojis: [{ id: "e1", name: "blobby" }, { id: "e3", name: "new", animated: true }] });
    expect(s.emojis["1"].map((e) => e.name)).toEqual(["blobby", "new"]);
    s.dispatch("GUILD_STICKERS_UPDATE", { guild_id: "1", stickers: [] });
    expect(s.stickers["1"]).toEqual([]);
    // An update for a guild I am not in is ignored.
    s.dispatch("GUILD_EMOJIS_UPDATE", { guild_id: "9", emojis: [{ id: "x", name: "x" }] });
    expect(s.emojis["9"]).toBeUndefined();
    s.dispatch("GUILD_DELETE", { id: "1" });
    expect(s.emojis["1"]).toBeUndefined();
  });

  it("counts custom emoji reactions by id", () => {
    const s = new ChatState();
    s.dispatch("READY", { v: 10, user: me, session_id: "s", resume_gateway_url: "", guilds: [] });
    s.loadedHistory("c", [{ id: "1", channel_id: "c", author: me, content: "", timestamp: new Date().toISOString() }], 50, false);
    const ev = { user_id: "200", channel_id: "c", message_id: "1", emoji: { id: "e1", name: "blob", animated: true } };
    s.dispatch("MESSAGE_REACTION_ADD", ev);
    s.dispatch("MESSAGE_REACTION_ADD", { ...ev, user_id: "100" });
    s.dispatch("MESSAGE_REACTION_ADD", { ...ev, emoji: { id: "e2", name: "blob" } });
    const r = s.findMessage("c", "1")!.reactions!;
    expect(r.map((x) => [x.emoji.id, x.count, x.me, x.emoji.animated ?? false])).toEqual([
      ["e1", 2, true, true],
      ["e2", 1, false, false],
    ]);
  });
});

describe("expression settings", () => {
  it("shows the emoji and sticker tabs to who may create or manage them", () => {
    expect(guildSettingsTabs(P.MANAGE_GUILD_EXPRESSIONS)).toEqual(["emojis", "stickers"]);
    expect(guildSettingsTabs(P.CREATE_GUILD_EXPRESSIONS)).toEqual(["emojis", "stickers"]);
    expect(guildSettingsTabs(P.SEND_MESSAGES)).toEqual([]);
  });
});

describe("history and live messages", () => {
  it("keeps a message that arrived while the first page was loading", () => {
    const me = { id: "100", username: "me" };
    const s = new ChatState();
    s.dispatch("READY", { v: 10, user: me, session_id: "s", resume_gateway_url: "", guilds: [] });
    const msg = (id: string) => ({ id, channel_id: "c", author: me, content: id, timestamp: new Date().toISOString() });
    // loadMessages marks the channel loading; a message is sent and arrives first.
    s.messages["c"] = { list: [], hasMore: true, loading: true };
    s.insertMessages("c", [msg("30")]);
    s.loadedHistory("c", [msg("20"), msg("10")], 50, false);
    expect(s.messages["c"].list.map((m) => m.id)).toEqual(["10", "20", "30"]);
    // In an empty channel too.
    s.messages["d"] = { list: [], hasMore: true, loading: true };
    s.insertMessages("d", [{ ...msg("40"), channel_id: "d" }]);
    s.loadedHistory("d", [], 50, false);
    expect(s.messages["d"].list.map((m) => m.id)).toEqual(["40"]);
  });
});

describe("who may change an emoji or sticker", () => {
  it("follows the server: Manage any, Create one's own, neither none", () => {
    const manage = expressionRights(P.MANAGE_GUILD_EXPRESSIONS);
    const create = expressionRights(P.CREATE_GUILD_EXPRESSIONS);
    const neither = expressionRights(P.SEND_MESSAGES);
    expect(manage).toEqual({ canManage: true, canCreate: true });
    expect(create).toEqual({ canManage: false, canCreate: true });
    expect(neither).toEqual({ canManage: false, canCreate: false });
    expect(mayChangeExpression(manage, "2", "1")).toBe(true);
    expect(mayChangeExpression(create, "1", "1")).toBe(true);
    expect(mayChangeExpression(create, "2", "1")).toBe(false);
    expect(mayChangeExpression(create, undefined, undefined)).toBe(false);
    expect(mayChangeExpression(neither, "1", "1")).toBe(false);
  });
});
