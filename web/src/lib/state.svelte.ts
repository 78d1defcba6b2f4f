// The client's stores: everything the gateway and REST tell us, kept in
// Svelte 5 `$state` so components update when a dispatch changes it.
// `dispatch(t, d)` is the one place gateway events land; it is pure state
// manipulation (no I/O), so tests feed it events directly.

import type {
  VoiceServer,
  VoiceState,
  Channel,
  Emoji,
  Guild,
  Sticker,
  Member,
  Message,
  Reaction,
  ReadState,
  Ready,
  Relationship,
  Role,
  User,
  UserSettings,
} from "./types";
import { channelPermissions, guildPermissions } from "./permissions";
import type { CommandChoice } from "./commands";
import type { Component } from "./components";
import type { GatewayStatus } from "./gateway";

/** Typing lasts 10 s after TYPING_START unless the user sends or types again. */
export const TYPING_MS = 10_000;

export interface ChannelMessages {
  /** Oldest first. */
  list: Message[];
  /** Whether older messages may exist on the server. */
  hasMore: boolean;
  loading: boolean;
}

export interface GuildInfo {
  id: string;
  name: string;
  icon?: string | null;
  owner_id: string;
}

/** Compares snowflakes (decimal strings) numerically. */
export function cmpId(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A command or component I used, until its application answers (or does not). */
export interface PendingInteraction {
  nonce: string;
  /** Set by INTERACTION_CREATE. */
  id?: string;
  channelId: string;
  /** `/roll`, `Wave at`, or the button's label, for the notice. */
  label: string;
  status: "sent" | "failed";
}

/** INTERACTION_MODAL_CREATE: a modal an application opened for me. */
export interface ModalRequest {
  id: string;
  nonce?: string;
  channel_id: string;
  guild_id?: string;
  application_id: string;
  custom_id: string;
  title: string;
  components: Component[];
}

export class ChatState {
  me = $state<User | null>(null);
  guilds = $state<Record<string, GuildInfo>>({});
  /** Guild ids in the order of the left rail. */
  guildOrder = $state<string[]>([]);
  channels = $state<Record<string, Channel>>({});
  /** guild id → user id → member */
  members = $state<Record<string, Record<string, Member>>>({});
  /** guild id → role id → role */
  roles = $state<Record<string, Record<string, Role>>>({});
  messages = $state<Record<string, ChannelMessages>>({});
  /** user id → online | idle | dnd | offline */
  presences = $state<Record<string, string>>({});
  /** channel id → user id → when the indicator expires (ms) */
  typing = $state<Record<string, Record<string, number>>>({});
  readStates = $state<Record<string, { last_message_id: string; mention_count: number }>>({});
  relationships = $state<Record<string, Relationship>>({});
  users = $state<Record<string, User>>({});
  gateway = $state<GatewayStatus>("idle");
  /** Guilds READY announced as unavailable whose GUILD_CREATE has not come yet. */
  pendingGuilds = $state<Record<string, true>>({});
  /** The channel on screen: its messages count as read. */
  viewing = $state<string | null>(null);
  /** My settings (status, custom status, theme…), from READY and USER_SETTINGS_UPDATE. */
  settings = $state<UserSettings | null>(null);
  /** user id → custom status text, from presences. */
  customStatus = $state<Record<string, string>>({});
  /** guild id → user id → voice state: who is in which voice channel. */
  voiceStates = $state<Record<string, Record<string, VoiceState>>>({});
  /** Where my voice connection goes (the latest VOICE_SERVER_UPDATE). */
  voiceServer = $state<VoiceServer | null>(null);
  /** guild id → its custom emojis (GUILD_CREATE, GUILD_EMOJIS_UPDATE). */
  emojis = $state<Record<string, Emoji[]>>({});
  /** guild id → its stickers (GUILD_CREATE, GUILD_STICKERS_UPDATE). */
  stickers = $state<Record<string, Sticker[]>>({});

  /** nonce → my interactions in flight or failed (shown in their channel until dismissed). */
  interactions = $state<Record<string, PendingInteraction>>({});
  /** The choices an application suggested for the autocomplete request with this nonce. */
  autocomplete = $state<{ nonce: string; choices: CommandChoice[] } | null>(null);
  /** The modal on screen, if an application opened one. */
  modal = $state<ModalRequest | null>(null);
  /** guild id → bumped on WEBHOOKS_UPDATE, so the integrations tab reloads. */
  webhooksVersion = $state<Record<string, number>>({});

  constructor(private readonly now: () => number = Date.now) {}

  // ---- queries -------------------------------------------------------

  guildChannels(guildId: string): Channel[] {
    return Object.values(this.channels)
      .filter((c) => c.guild_id === guildId)
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || cmpId(a.id, b.id));
  }

  unread(channelId: string): boolean {
    const c = this.channels[channelId];
    if (!c?.last_message_id) return false;
    const rs = this.readStates[channelId];
    return !rs || cmpId(c.last_message_id, rs.last_message_id) > 0;
  }

  mentionCount(channelId: string): number {
    return this.readStates[channelId]?.mention_count ?? 0;
  }

  guildUnread(guildId: string): boolean {
    return this.guildChannels(guildId).some((c) => c.type !== 4 && c.type !== 2 && this.unread(c.id));
  }

  guildMentions(guildId: string): number {
    return this.guildChannels(guildId).reduce((n, c) => n + this.mentionCount(c.id), 0);
  }

  /** Users typing in a channel now, excluding me. */
  typingUsers(channelId: string, now = this.now()): string[] {
    const t = this.typing[channelId];
    if (!t) return [];
    return Object.entries(t)
      .filter(([uid, until]) => until > now && uid !== this.me?.id)
      .map(([uid]) => uid);
  }

  displayName(userId: string, guildId?: string): string {
    const m = guildId ? this.members[guildId]?.[userId] : undefined;
    const u = m?.user ?? this.users[userId];
    return m?.nick || u?.global_name || u?.username || "Unknown user";
  }

  /** The colour of a member's highest coloured role, as CSS, or null. */
  roleColor(guildId: string, userId: string): string | null {
    const m = this.members[guildId]?.[userId];
    const roles = this.roles[guildId];
    if (!m || !roles) return null;
    let best: Role | null = null;
    for (const id of m.roles) {
      const r = roles[id];
      if (r && r.color && (!best || r.position > best.position)) best = r;
    }
    return best ? `#${best.color.toString(16).padStart(6, "0")}` : null;
  }

  /** Whether I blocked this user: their messages are collapsed. */
  isBlocked(userId: string): boolean {
    return this.relationships[userId]?.type === 2;
  }

  /** Relationships of one type (1 friend, 2 blocked, 3 incoming, 4 outgoing), by name. */
  relationshipsOf(...types: number[]): Relationship[] {
    return Object.values(this.relationships)
      .filter((r) => types.includes(r.type))
      .sort((a, b) => this.displayName(a.id).localeCompare(this.displayName(b.id)));
  }

  /** DMs and group DMs, the most recently active first. */
  privateChannels(): Channel[] {
    return Object.values(this.channels)
      .filter((c) => c.type === 1 || c.type === 3)
      .sort((a, b) => cmpId(b.last_message_id ?? b.id, a.last_message_id ?? a.id));
  }

  /** My guild-wide permissions (all bits for the owner and administrators). */
  myPermissions(guildId: string): bigint {
    const g = this.guilds[guildId];
    const me = this.me;
    if (!g || !me) return 0n;
    return guildPermissions(g, this.roles[guildId], me.id, this.members[guildId]?.[me.id]?.roles ?? []);
  }

  /** Custom emojis I can use: my guilds', the given guild's first, each with its guild. */
  usableEmojis(guildId?: string): { emoji: Emoji; guildId: string }[] {
    const order = guildId ? [guildId, ...this.guildOrder.filter((g) => g !== guildId)] : this.guildOrder;
    const out: { emoji: Emoji; guildId: string }[] = [];
    for (const g of order) for (const emoji of this.emojis[g] ?? []) if (emoji.available !== false) out.push({ emoji, guildId: g });
    return out;
  }

  /** My permissions in a guild channel (null for DMs: no permission bits there). */
  myChannelPermissions(channelId: string): bigint | null {
    const c = this.channels[channelId];
    const me = this.me;
    if (!c?.guild_id || !me) return null;
    const roles = this.members[c.guild_id]?.[me.id]?.roles ?? [];
    return channelPermissions(this.myPermissions(c.guild_id), c.guild_id, me.id, roles, c.permission_overwrites);
  }

  /** Who is in a voice channel, by name. */
  voiceMembers(channelId: string): VoiceState[] {
    const c = this.channels[channelId];
    const states = c?.guild_id ? this.voiceStates[c.guild_id] : undefined;
    if (!states) return [];
    return Object.values(states)
      .filter((v) => v.channel_id === channelId)
      .sort((a, b) => this.displayName(a.user_id, c.guild_id).localeCompare(this.displayName(b.user_id, c.guild_id)));
  }

  /** My own voice state, in whichever guild I am connected. */
  myVoice(): VoiceState | null {
    const me = this.me?.id;
    if (!me) return null;
    for (const [guildId, states] of Object.entries(this.voiceStates)) {
      const v = states[me];
      if (v?.channel_id) return { ...v, guild_id: guildId };
    }
    return null;
  }

  // ---- dispatches ----------------------------------------------------

  dispatch(t: string, d: any): void {
    switch (t) {
      case "READY":
        return this.ready(d as Ready);
      case "GUILD_CREATE":
        return this.guildCreate(d as Guild);
      case "GUILD_UPDATE":
        if (this.guilds[d.id]) Object.assign(this.guilds[d.id], { name: d.name, icon: d.icon, owner_id: d.owner_id });
        if (d.roles) this.setRoles(d.id, d.roles);
        return;
      case "GUILD_DELETE":
        return this.guildDelete(d.id);
      case "GUILD_EMOJIS_UPDATE":
        if (this.guilds[d.guild_id]) this.emojis[d.guild_id] = d.emojis ?? [];
        return;
      case "GUILD_STICKERS_UPDATE":
        if (this.guilds[d.guild_id]) this.stickers[d.guild_id] = d.stickers ?? [];
        return;
      case "CHANNEL_CREATE":
      case "CHANNEL_UPDATE":
        this.channels[d.id] = { ...this.channels[d.id], ...d };
        return;
      case "CHANNEL_DELETE":
        delete this.channels[d.id];
        delete this.messages[d.id];
        return;
      case "GUILD_MEMBER_ADD":
      case "GUILD_MEMBER_UPDATE":
        return this.memberUpsert(d.guild_id, d as Member);
      case "GUILD_MEMBER_REMOVE":
        if (d.user?.id === this.me?.id) return this.guildDelete(d.guild_id);
        if (this.members[d.guild_id]) delete this.members[d.guild_id][d.user.id];
        return;
      case "GUILD_MEMBERS_CHUNK":
        for (const m of d.members ?? []) this.memberUpsert(d.guild_id, m);
        for (const p of d.presences ?? []) this.presences[p.user.id] = p.status;
        return;
      case "GUILD_ROLE_CREATE":
      case "GUILD_ROLE_UPDATE":
        ensure(this.roles, d.guild_id, () => ({}))[d.role.id] = d.role;
        return;
      case "GUILD_ROLE_DELETE":
        if (this.roles[d.guild_id]) delete this.roles[d.guild_id][d.role_id];
        return;
      case "PRESENCE_UPDATE": {
        this.presences[d.user.id] = d.status;
        if (d.user.username) this.users[d.user.id] = { ...this.users[d.user.id], ...d.user };
        const custom = (d.activities ?? []).find((a: { type: number }) => a.type === 4);
        if (custom?.state) this.customStatus[d.user.id] = custom.state;
        else delete this.customStatus[d.user.id];
        return;
      }
      case "USER_UPDATE":
        if (this.me && d.id === this.me.id) this.me = { ...this.me, ...d };
        return this.userChanged(d as User);
      case "USER_SETTINGS_UPDATE":
        this.settings = { ...(this.settings ?? { status: "online", custom_status: null, theme: "dark" }), ...d };
        if (this.me && d.status) this.presences[this.me.id] = d.status === "invisible" ? "offline" : d.status;
        if (this.me && "custom_status" in d) {
          if (d.custom_status?.text) this.customStatus[this.me.id] = d.custom_status.text;
          else delete this.customStatus[this.me.id];
        }
        return;
      case "TYPING_START":
        if (d.member?.user && d.guild_id) this.memberUpsert(d.guild_id, d.member);
        ensure(this.typing, d.channel_id, () => ({}))[d.user_id] = this.now() + TYPING_MS;
        return;
      case "MESSAGE_CREATE":
        return this.messageCreate(d as Message);
      case "MESSAGE_UPDATE":
        return this.messageUpdate(d as Partial<Message> & { id: string; channel_id: string });
      case "MESSAGE_DELETE":
        return this.removeMessages(d.channel_id, [d.id]);
      case "MESSAGE_DELETE_BULK":
        return this.removeMessages(d.channel_id, d.ids);
      case "MESSAGE_REACTION_ADD":
        return this.reaction(d, +1);
      case "MESSAGE_REACTION_REMOVE":
        return this.reaction(d, -1);
      case "MESSAGE_REACTION_REMOVE_ALL": {
        const m = this.findMessage(d.channel_id, d.message_id);
        if (m) m.reactions = [];
        return;
      }
      case "MESSAGE_REACTION_REMOVE_EMOJI": {
        const m = this.findMessage(d.channel_id, d.message_id);
        if (m) m.reactions = (m.reactions ?? []).filter((r) => !sameEmoji(r.emoji, d.emoji));
        return;
      }
      case "MESSAGE_ACK":
        this.readStates[d.channel_id] = {
          last_message_id: d.message_id,
          mention_count: d.mention_count ?? 0,
        };
        return;
      case "RELATIONSHIP_ADD":
        this.relationships[d.id] = d as Relationship;
        if (d.user) this.users[d.user.id] = d.user;
        return;
      case "RELATIONSHIP_REMOVE":
        delete this.relationships[d.id];
        return;
      case "VOICE_STATE_UPDATE":
        return this.voiceStateUpdate(d as VoiceState);
      case "VOICE_SERVER_UPDATE":
        this.voiceServer = d as VoiceServer;
        return;
      case "INTERACTION_CREATE": {
        const p = this.interactions[d.nonce];
        if (p) p.id = d.id;
        return;
      }
      case "INTERACTION_SUCCESS":
        if (this.interactionBy(d)) delete this.interactions[this.interactionBy(d)!.nonce];
        return;
      case "INTERACTION_FAILURE": {
        const p = this.interactionBy(d);
        if (p) p.status = "failed";
        return;
      }
      case "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE":
        if (this.autocomplete?.nonce === d.nonce) this.autocomplete = { nonce: d.nonce, choices: d.choices ?? [] };
        return;
      case "INTERACTION_MODAL_CREATE": {
        const p = this.interactionBy(d);
        if (p) delete this.interactions[p.nonce];
        this.modal = d as ModalRequest;
        return;
      }
      case "WEBHOOKS_UPDATE":
        this.webhooksVersion[d.guild_id] = (this.webhooksVersion[d.guild_id] ?? 0) + 1;
        return;
    }
  }

  /** Records an interaction I am about to send, so its outcome can be shown. */
  interactionSent(nonce: string, channelId: string, label: string) {
    this.interactions[nonce] = { nonce, channelId, label, status: "sent" };
  }

  /** My interactions in a channel still waiting or failed, oldest first. */
  channelInteractions(channelId: string): PendingInteraction[] {
    return Object.values(this.interactions)
      .filter((p) => p.channelId === channelId)
      .sort((a, b) => cmpId(a.nonce, b.nonce));
  }

  private interactionBy(d: { id?: string; nonce?: string }): PendingInteraction | undefined {
    return (d.nonce ? this.interactions[d.nonce] : undefined) ?? Object.values(this.interactions).find((p) => d.id && p.id === d.id);
  }

  /** Removes a message from this page only (an ephemeral answer dismissed). */
  dismiss(channelId: string, id: string) {
    this.removeMessages(channelId, [id]);
  }

  private voiceStateUpdate(v: VoiceState) {
    const guildId = v.guild_id;
    if (!guildId) return;
    if (v.member?.user) this.memberUpsert(guildId, v.member);
    const states = ensure(this.voiceStates, guildId, () => ({}));
    if (v.channel_id) states[v.user_id] = v;
    else delete states[v.user_id];
  }

  /** A user's profile changed: every copy of it (members, friends, DM recipients) follows. */
  private userChanged(u: User) {
    this.users[u.id] = { ...this.users[u.id], ...u };
    const r = this.relationships[u.id];
    if (r) r.user = { ...r.user, ...u };
    for (const guild of Object.values(this.members)) {
      const m = guild[u.id];
      if (m?.user) m.user = { ...m.user, ...u };
    }
    for (const c of Object.values(this.channels)) {
      if (c.recipients?.some((x) => x.id === u.id)) {
        c.recipients = c.recipients.map((x) => (x.id === u.id ? { ...x, ...u } : x));
      }
    }
  }

  private ready(d: Ready) {
    this.me = d.user;
    this.settings = d.user_settings ?? null;
    this.customStatus = {};
    this.users = { [d.user.id]: d.user };
    this.guilds = {};
    this.guildOrder = [];
    this.channels = {};
    this.members = {};
    this.roles = {};
    this.voiceStates = {};
    this.voiceServer = null;
    this.emojis = {};
    this.stickers = {};
    this.interactions = {};
    this.autocomplete = null;
    this.modal = null;
    // A new session may have missed anything: history is fetched again.
    this.messages = {};
    this.typing = {};
    const status = d.user_settings?.status;
    this.presences = { [d.user.id]: status === "invisible" ? "offline" : (status ?? "online") };
    for (const p of d.presences ?? []) {
      this.presences[p.user.id] = p.status;
    }
    if (d.user_settings?.custom_status?.text) this.customStatus[d.user.id] = d.user_settings.custom_status.text;
    const rs = Array.isArray(d.read_state) ? d.read_state : (d.read_state?.entries ?? []);
    this.readStates = Object.fromEntries(
      rs.map((r: ReadState) => [r.id, { last_message_id: r.last_message_id, mention_count: r.mention_count }]),
    );
    this.relationships = Object.fromEntries((d.relationships ?? []).map((r) => [r.id, r]));
    for (const r of d.relationships ?? []) this.users[r.user.id] = r.user;
    for (const c of d.private_channels ?? []) {
      this.channels[c.id] = c;
      for (const u of c.recipients ?? []) this.users[u.id] ??= u;
    }
    this.pendingGuilds = {};
    for (const g of d.guilds) {
      if (g.unavailable) this.pendingGuilds[g.id] = true;
      else this.guildCreate(g);
    }
  }

  /** A guild we just created or joined over REST: its GUILD_CREATE is on the
   * way, so pages for it wait instead of treating it as unknown. */
  expectGuild(id: string) {
    if (!this.guilds[id]) this.pendingGuilds[id] = true;
  }

  private guildCreate(g: Guild) {
    delete this.pendingGuilds[g.id];
    this.guilds[g.id] = { id: g.id, name: g.name, icon: g.icon, owner_id: g.owner_id };
    if (!this.guildOrder.includes(g.id)) this.guildOrder.push(g.id);
    for (const c of g.channels ?? []) this.channels[c.id] = { ...c, guild_id: g.id };
    if (g.roles) this.setRoles(g.id, g.roles);
    this.members[g.id] ??= {};
    for (const m of g.members ?? []) this.memberUpsert(g.id, m);
    for (const p of g.presences ?? []) this.presences[p.user.id] = p.status;
    this.emojis[g.id] = g.emojis ?? [];
    this.stickers[g.id] = g.stickers ?? [];
    this.voiceStates[g.id] = Object.fromEntries(
      (g.voice_states ?? []).filter((v) => v.channel_id).map((v) => [v.user_id, { ...v, guild_id: g.id }]),
    );
  }

  private guildDelete(id: string) {
    delete this.guilds[id];
    this.guildOrder = this.guildOrder.filter((g) => g !== id);
    for (const c of Object.values(this.channels)) {
      if (c.guild_id === id) {
        delete this.channels[c.id];
        delete this.messages[c.id];
      }
    }
    delete this.members[id];
    delete this.roles[id];
    delete this.voiceStates[id];
    delete this.emojis[id];
    delete this.stickers[id];
  }

  private setRoles(guildId: string, roles: Role[]) {
    this.roles[guildId] = Object.fromEntries(roles.map((r) => [r.id, r]));
  }

  private memberUpsert(guildId: string, m: Member) {
    if (!m.user) return;
    this.users[m.user.id] = { ...this.users[m.user.id], ...m.user };
    const guild = ensure(this.members, guildId, () => ({}));
    guild[m.user.id] = { ...guild[m.user.id], ...m, guild_id: guildId };
  }

  findMessage(channelId: string, id: string): Message | undefined {
    return this.messages[channelId]?.list.find((m) => m.id === id);
  }

  private messageCreate(m: Message) {
    this.users[m.author.id] ??= m.author;
    if (m.guild_id && m.member) this.memberUpsert(m.guild_id, { ...m.member, user: m.author });
    const c = this.channels[m.channel_id];
    // An ephemeral answer is not in the channel's history: nothing to read or ack.
    const ephemeral = ((m.flags ?? 0) & 64) !== 0;
    if (c && !ephemeral && (!c.last_message_id || cmpId(m.id, c.last_message_id) > 0)) c.last_message_id = m.id;
    const typing = this.typing[m.channel_id];
    if (typing) delete typing[m.author.id];
    this.insertMessages(m.channel_id, [m]);
    const mine = m.author.id === this.me?.id;
    if (mine) {
      // What I wrote I have read.
      this.readStates[m.channel_id] = { last_message_id: m.id, mention_count: 0 };
    } else if (this.viewing !== m.channel_id && this.mentionsMe(m)) {
      const rs = ensure(this.readStates, m.channel_id, () => ({ last_message_id: "0", mention_count: 0 }));
      rs.mention_count++;
    }
  }

  mentionsMe(m: Message): boolean {
    const me = this.me;
    if (!me) return false;
    if (m.mention_everyone) return true;
    if (m.mentions?.some((u) => u.id === me.id)) return true;
    if (m.guild_id && m.mention_roles?.length) {
      const mine = this.members[m.guild_id]?.[me.id]?.roles ?? [];
      return m.mention_roles.some((r) => mine.includes(r));
    }
    return false;
  }

  private messageUpdate(u: Partial<Message> & { id: string; channel_id: string }) {
    const ch = this.messages[u.channel_id];
    if (!ch) return;
    const apply = (m: Message, nested: boolean) => {
      for (const [k, v] of Object.entries(u)) {
        // A quoted copy keeps its own (absent) quote: no nesting.
        if (v !== undefined && !(nested && k === "referenced_message")) (m as any)[k] = v;
      }
    };
    // The message itself, and every reply that quotes it (the quote shows
    // the edited text, as it would after a reload).
    for (const m of ch.list) {
      if (m.id === u.id) apply(m, false);
      else if (m.referenced_message?.id === u.id) apply(m.referenced_message, true);
    }
  }

  private removeMessages(channelId: string, ids: string[]) {
    const ch = this.messages[channelId];
    if (!ch) return;
    const gone = new Set(ids);
    ch.list = ch.list.filter((m) => !gone.has(m.id));
    // The channel's last message went: what is left is what there is to read.
    const c = this.channels[channelId];
    if (c?.last_message_id && gone.has(c.last_message_id)) c.last_message_id = ch.list.at(-1)?.id ?? null;
    for (const m of ch.list) {
      if (m.referenced_message && gone.has(m.referenced_message.id)) m.referenced_message = null;
    }
  }

  private reaction(
    d: { user_id: string; channel_id: string; message_id: string; emoji: { id: string | null; name: string; animated?: boolean } },
    delta: 1 | -1,
  ) {
    const m = this.findMessage(d.channel_id, d.message_id);
    if (!m) return;
    if (!m.reactions) m.reactions = [];
    const list = m.reactions;
    const mine = d.user_id === this.me?.id;
    const r = list.find((x) => sameEmoji(x.emoji, d.emoji));
    if (delta > 0) {
      if (r) {
        if (mine && r.me) return; // already counted (our own REST answer raced the event)
        r.count++;
        if (mine) r.me = true;
      } else
        list.push({
          count: 1,
          me: mine,
          emoji: { id: d.emoji.id ?? null, name: d.emoji.name, ...(d.emoji.animated ? { animated: true } : {}) },
        } as Reaction);
    } else if (r) {
      if (mine && !r.me) return;
      r.count--;
      if (mine) r.me = false;
      if (r.count <= 0) m.reactions = list.filter((x) => x !== r);
    }
  }

  /** Merges messages (any order) into a channel's list, oldest first, without duplicates. */
  insertMessages(channelId: string, msgs: Message[]) {
    const ch = this.messages[channelId];
    if (!ch) return; // history not loaded: it is fetched when the channel opens
    const byId = new Map(ch.list.map((m) => [m.id, m]));
    // The common case (a new message) appends; anything else re-sorts once.
    let appendOnly = true;
    let last = ch.list.at(-1)?.id;
    for (const m of msgs) {
      if (byId.has(m.id)) {
        Object.assign(byId.get(m.id)!, m);
        continue;
      }
      byId.set(m.id, m);
      if (appendOnly && (!last || cmpId(m.id, last) > 0)) {
        ch.list.push(m);
        last = m.id;
      } else appendOnly = false;
    }
    if (!appendOnly) ch.list = [...byId.values()].sort((a, b) => cmpId(a.id, b.id));
  }

  /** History from REST: newest first as the API returns it. */
  loadedHistory(channelId: string, page: Message[], limit: number, older: boolean) {
    const ch = ensure(this.messages, channelId, () => ({ list: [], hasMore: true, loading: false }));
    if (!older) {
      // What arrived live while the page was on its way (a message sent
      // as the channel opened) is newer than the page: it stays.
      const newest = page[0]?.id;
      ch.list = newest ? ch.list.filter((m) => cmpId(m.id, newest) > 0) : ch.list;
    }
    for (const m of page) this.users[m.author.id] ??= m.author;
    this.insertMessages(channelId, page);
    ch.hasMore = page.length >= limit;
    ch.loading = false;
  }

  /** Drops typing indicators that ran out. */
  pruneTyping(now = this.now()) {
    for (const [cid, users] of Object.entries(this.typing)) {
      for (const [uid, until] of Object.entries(users)) if (until <= now) delete users[uid];
      if (Object.keys(users).length === 0) delete this.typing[cid];
    }
  }
}

/**
 * `obj[key]`, created first if missing. Always read back through `obj`: with
 * Svelte's deep state, `obj[key] ??= {}` evaluates to the raw object, and
 * writes to that would not be seen.
 */
function ensure<T>(obj: Record<string, T>, key: string, make: () => NoInfer<T>): T {
  if (!(key in obj)) obj[key] = make();
  return obj[key];
}

function sameEmoji(a: { id: string | null; name: string }, b: { id?: string | null; name?: string }) {
  return a.id ? a.id === b.id : a.name === b.name;
}
