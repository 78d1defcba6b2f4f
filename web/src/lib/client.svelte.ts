// The running client: the token, the REST client, the gateway connection
// and the stores they feed. One per page.

import { Api } from "./api";
import { GatewayClient } from "./gateway";
import { ChatState, cmpId } from "./state.svelte";
import { VoiceConnection } from "./voice.svelte";
import { newNonce, type CommandIndex } from "./commands";

const TOKEN_KEY = "fussioncord.token";

class Client {
  api = new Api(null);
  state = new ChatState();
  token = $state<string | null>(null);
  gateway: GatewayClient | null = null;
  private starting = false;
  /** Set when the server refused our token. */
  loggedOutReason = $state<string | null>(null);
  private ackTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** My voice and video connection, while I am in a voice channel. */
  voice = $state<VoiceConnection | null>(null);

  constructor() {
    if (typeof localStorage !== "undefined") this.setToken(localStorage.getItem(TOKEN_KEY));
  }

  private setToken(token: string | null) {
    this.token = token;
    this.api.token = token;
  }

  async login(token: string) {
    localStorage.setItem(TOKEN_KEY, token);
    this.setToken(token);
    this.loggedOutReason = null;
    await this.start();
  }

  async logout() {
    const api = this.api;
    if (this.token) api.logout().catch(() => {});
    this.stop();
    localStorage.removeItem(TOKEN_KEY);
    this.setToken(null);
    // A fresh page: no stores of the last account survive.
    location.assign("/login");
  }

  /**
   * A password or MFA change revoked every other token and handed us a new
   * one: keep it and reconnect with it (the old session is closed by the server).
   */
  replaceToken(token: string) {
    localStorage.setItem(TOKEN_KEY, token);
    this.setToken(token);
    this.stop();
    this.start();
  }

  private rotation: Promise<string | null> | null = null;

  /**
   * Runs a request that revokes every token and answers a new one (password
   * or MFA change). The server may close our gateway for the old token
   * before the answer arrives; that must not log us out.
   */
  async rotateToken<T extends { token?: string | null }>(request: () => Promise<T>): Promise<T> {
    const run = request();
    this.rotation = run.then(
      (r) => r.token ?? null,
      () => null,
    );
    try {
      const r = await run;
      if (r.token) this.replaceToken(r.token);
      return r;
    } finally {
      this.rotation = null;
    }
  }

  /** Opens (or finds) the DM with a user and returns its channel id. */
  async openDm(userId: string): Promise<string> {
    const existing = Object.values(this.state.channels).find(
      (c) => c.type === 1 && c.recipients?.length === 1 && c.recipients[0].id === userId,
    );
    if (existing) return existing.id;
    const ch = await this.api.openDm(userId);
    this.state.dispatch("CHANNEL_CREATE", ch);
    return ch.id;
  }

  /** channel id → its command index, as last fetched. */
  commands = $state<Record<string, CommandIndex>>({});

  /** Fetches the commands usable in a channel (again each time: bots sync theirs at any time). */
  async loadCommands(channelId: string): Promise<CommandIndex> {
    const index = await this.api.commandIndex(channelId);
    this.commands[channelId] = index;
    return index;
  }

  /**
   * Sends an interaction (2 command, 3 component, 4 autocomplete, 5 modal
   * submit) from this page's gateway session; its outcome comes over the
   * gateway by the returned nonce. Autocomplete requests are not tracked.
   */
  async interact(
    type: 2 | 3 | 4 | 5,
    at: { channelId: string; guildId?: string; applicationId: string; messageId?: string },
    data: object,
    label: string,
    nonce = newNonce(),
  ): Promise<string> {
    const body = {
      type,
      application_id: at.applicationId,
      ...(at.guildId ? { guild_id: at.guildId } : {}),
      channel_id: at.channelId,
      ...(at.messageId ? { message_id: at.messageId } : {}),
      session_id: this.gateway?.sessionId ?? undefined,
      nonce,
      data,
    };
    if (type !== 4) this.state.interactionSent(nonce, at.channelId, label);
    try {
      await this.api.interact(body);
    } catch (e) {
      delete this.state.interactions[nonce];
      throw e;
    }
    return nonce;
  }

  /** Opens the gateway (once READY arrives the stores are filled). */
  async start() {
    if (!this.token || this.gateway || this.starting) return;
    this.starting = true;
    let url: string;
    try {
      url = (await this.api.gatewayUrl()).url;
    } catch {
      url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
    }
    this.starting = false;
    if (!this.token || this.gateway) return;
    const state = this.state;
    const gateway: GatewayClient = new GatewayClient({
      url,
      token: this.token,
      onDispatch: (t, d) => {
        state.dispatch(t, d);
        if (t === "VOICE_STATE_UPDATE" || t === "VOICE_SERVER_UPDATE" || t === "READY") this.syncVoice();
        if (t === "MESSAGE_CREATE") {
          const m = d as { channel_id: string; guild_id?: string; author: { id: string } };
          // The first message of a DM we have never opened: fetch the channel so it shows in the list.
          if (!m.guild_id && !state.channels[m.channel_id]) {
            this.api.channel(m.channel_id).then((c) => state.channels[c.id] ?? state.dispatch("CHANNEL_CREATE", c)).catch(() => {});
          }
          // My own message moves my read position on the server too.
          this.maybeAck(m.channel_id, m.author.id === state.me?.id);
        }
        // A guild joined after READY comes without presences: ask for them.
        if (t === "GUILD_CREATE" && !(d as { presences?: unknown[] }).presences?.length) {
          this.gateway?.send(8, { guild_id: (d as { id: string }).id, query: "", limit: 0, presences: true });
        }
        // A new member's presence is not part of GUILD_MEMBER_ADD: ask for it.
        if (t === "GUILD_MEMBER_ADD") {
          const m = d as { guild_id: string; user?: { id: string } };
          if (m.user) this.gateway?.send(8, { guild_id: m.guild_id, user_ids: [m.user.id], presences: true });
        }
      },
      onStatus: (s) => (state.gateway = s),
      onFatal: (code) => {
        // A connection we already replaced (after a token change) says nothing about the new token.
        if (code !== 4004 || gateway !== this.gateway) return;
        const sessionEnded = () => {
          this.loggedOutReason = "Your session has ended. Please log in again.";
          this.logout();
        };
        // Our own password/MFA change revoked the old token: its new one is on the way.
        if (this.rotation) this.rotation.then((token) => token || sessionEnded());
        else sessionEnded();
      },
    });
    this.gateway = gateway;
    gateway.connect();
  }

  stop() {
    this.gateway?.close();
    this.gateway = null;
    this.voice?.close();
    this.voice = null;
  }

  /**
   * Opens, keeps or closes the voice connection to match my voice state:
   * VOICE_STATE_UPDATE comes first, then VOICE_SERVER_UPDATE with the token.
   */
  private syncVoice() {
    const s = this.state;
    const mine = s.myVoice();
    if (!mine) {
      this.voice?.close();
      this.voice = null;
      // A later join gets a new token; never connect with this one.
      s.voiceServer = null;
      return;
    }
    // Joined from another session (another tab, a bot library): that one
    // holds the voice connection; this page only shows the state.
    const here = !this.gateway?.sessionId || mine.session_id === this.gateway.sessionId;
    if (!here) {
      this.voice?.close();
      this.voice = null;
      return;
    }
    const server = s.voiceServer;
    const ready = server && server.guild_id === mine.guild_id && server.endpoint !== null;
    if (ready && (!this.voice || this.voice.token !== server.token || this.voice.join.guildId !== mine.guild_id)) {
      this.voice?.close();
      this.voice = new VoiceConnection({
        guildId: mine.guild_id!,
        userId: mine.user_id,
        sessionId: mine.session_id,
        token: server.token,
      });
      this.voice.start();
    }
    this.voice?.setMuted(mine.self_mute || mine.self_deaf || mine.mute);
    this.voice?.setDeaf(mine.self_deaf || mine.deaf);
  }

  /** Turns my camera on or off, and tells the others (self_video). */
  async setCamera(on: boolean) {
    if (!this.voice) return;
    const now = await this.voice.setCamera(on);
    this.setVoiceFlags({ self_video: now });
  }

  /** Shares my screen or stops (self_stream). */
  async setScreen(on: boolean) {
    if (!this.voice) return;
    const now = await this.voice.setScreen(on, () => this.setVoiceFlags({ self_stream: false }));
    this.setVoiceFlags({ self_stream: now });
  }

  /** Joins (or moves to) a voice channel through the gateway (op 4); the
   * server answers with VOICE_STATE_UPDATE, or nothing when it refuses. */
  joinVoice(guildId: string, channelId: string) {
    const mine = this.state.myVoice();
    const flags = { self_mute: mine?.self_mute ?? false, self_deaf: mine?.self_deaf ?? false };
    // One voice channel at a time: leaving another guild's first.
    if (mine && mine.guild_id !== guildId) this.gateway?.send(4, { guild_id: mine.guild_id, channel_id: null, ...flags });
    this.gateway?.send(4, { guild_id: guildId, channel_id: channelId, ...flags });
  }

  leaveVoice() {
    const mine = this.state.myVoice();
    if (mine) this.gateway?.send(4, { guild_id: mine.guild_id, channel_id: null, self_mute: false, self_deaf: false });
  }

  /** Mutes or deafens myself where I am connected (deafening also mutes),
   * or says my camera / screen share is on. */
  setVoiceFlags(flags: { self_mute?: boolean; self_deaf?: boolean; self_video?: boolean; self_stream?: boolean }) {
    const mine = this.state.myVoice();
    if (!mine) return;
    const self_deaf = flags.self_deaf ?? mine.self_deaf;
    const self_mute = self_deaf || (flags.self_mute ?? mine.self_mute);
    const self_video = flags.self_video ?? mine.self_video ?? false;
    const self_stream = flags.self_stream ?? mine.self_stream ?? false;
    this.gateway?.send(4, { guild_id: mine.guild_id, channel_id: mine.channel_id, self_mute, self_deaf, self_video, self_stream });
  }

  /** Loads the latest messages of a channel, or older ones before the oldest loaded. */
  async loadMessages(channelId: string, older = false) {
    const s = this.state;
    const ch = s.messages[channelId];
    if (ch?.loading || (older && ch && !ch.hasMore)) return;
    // Loaded once (even if empty), the gateway keeps it up to date.
    if (!older && ch && (ch.list.length || !ch.hasMore)) return;
    if (ch) ch.loading = true;
    else s.messages[channelId] = { list: [], hasMore: true, loading: true };
    const limit = 50;
    try {
      const before = older ? s.messages[channelId]?.list[0]?.id : undefined;
      const page = await this.api.messages(channelId, { before, limit });
      s.loadedHistory(channelId, page, limit, older);
    } catch (e) {
      const c = s.messages[channelId];
      if (c) c.loading = false;
      throw e;
    }
  }

  /** Marks a channel read up to its last message, if it is on screen and has unread messages. */
  maybeAck(channelId: string, force = false) {
    const s = this.state;
    if (s.viewing !== channelId || (typeof document !== "undefined" && document.visibilityState === "hidden")) return;
    const last = s.channels[channelId]?.last_message_id;
    if (!last) return;
    const rs = s.readStates[channelId];
    if (!force && rs && cmpId(rs.last_message_id, last) >= 0 && rs.mention_count === 0) return;
    s.readStates[channelId] = { last_message_id: last, mention_count: 0 };
    // Several messages in a burst: one ack.
    clearTimeout(this.ackTimers.get(channelId));
    this.ackTimers.set(
      channelId,
      setTimeout(() => {
        this.ackTimers.delete(channelId);
        this.api.ack(channelId, s.channels[channelId]?.last_message_id ?? last).catch(() => {});
      }, 250),
    );
  }
}

export const client = new Client();
