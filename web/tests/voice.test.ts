import { describe, expect, it } from "vitest";
import { ChatState } from "../src/lib/state.svelte";

const me = { id: "100", username: "me" };
const other = { id: "200", username: "other" };

function state() {
  const s = new ChatState();
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
        channels: [
          { id: "10", type: 0, name: "general", position: 0 },
          { id: "20", type: 2, name: "Lounge", position: 1 },
          { id: "21", type: 2, name: "Stage", position: 2 },
        ],
        members: [{ user: me, roles: [] }],
        voice_states: [{ channel_id: "20", user_id: "300", session_id: "x", deaf: false, mute: false, self_deaf: false, self_mute: true, self_video: false }],
      },
    ],
  });
  return s;
}

const vs = (user: string, channel: string | null, extra = {}) => ({
  guild_id: "1",
  channel_id: channel,
  user_id: user,
  session_id: "abc",
  deaf: false,
  mute: false,
  self_deaf: false,
  self_mute: false,
  self_video: false,
  ...extra,
});

describe("voice state", () => {
  it("GUILD_CREATE's voice_states say who is in each voice channel", () => {
    const s = state();
    expect(s.voiceMembers("20").map((v) => v.user_id)).toEqual(["300"]);
    expect(s.voiceMembers("21")).toEqual([]);
    expect(s.myVoice()).toBeNull();
  });

  it("VOICE_STATE_UPDATE joins, moves and leaves; the member it carries is kept", () => {
    const s = state();
    s.dispatch("VOICE_STATE_UPDATE", vs("200", "20", { member: { user: other, roles: [], nick: "Otto" } }));
    expect(s.voiceMembers("20").map((v) => v.user_id)).toEqual(["200", "300"]);
    expect(s.displayName("200", "1")).toBe("Otto");
    s.dispatch("VOICE_STATE_UPDATE", vs("200", "21", { mute: true }));
    expect(s.voiceMembers("20").map((v) => v.user_id)).toEqual(["300"]);
    expect(s.voiceMembers("21")[0].mute).toBe(true);
    s.dispatch("VOICE_STATE_UPDATE", vs("200", null));
    expect(s.voiceMembers("21")).toEqual([]);
  });

  it("my own state, and the voice server I was given", () => {
    const s = state();
    s.dispatch("VOICE_STATE_UPDATE", vs("100", "21", { self_deaf: true }));
    s.dispatch("VOICE_SERVER_UPDATE", { guild_id: "1", token: "t", endpoint: "127.0.0.1:8443" });
    expect(s.myVoice()?.channel_id).toBe("21");
    expect(s.myVoice()?.guild_id).toBe("1");
    expect(s.voiceServer?.endpoint).toBe("127.0.0.1:8443");
    s.dispatch("GUILD_DELETE", { id: "1" });
    expect(s.myVoice()).toBeNull();
  });
});
