// The typed REST client: every call goes to /api/v10 with the user's token
// in Authorization (no "Bot " prefix for people), Discord's error format is
// turned into ApiError, and 429s wait out `retry_after` and try again.

import type {
  AuditLog,
  Ban,
  Channel,
  Emoji,
  Guild,
  Sticker,
  Invite,
  InviteFull,
  Message,
  Member,
  Overwrite,
  Relationship,
  Role,
  Webhook,
  SearchResults,
  User,
  UserSettings,
} from "./types";
import type { CommandIndex } from "./commands";

/** Discord's error body: `{code, message, errors}` with nested `_errors`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
  }

  /** The first message for a field (`errors.login._errors[0].message`), if any. */
  field(name: string): string | undefined {
    const e = (this.errors as Record<string, { _errors?: { message: string }[] }> | undefined)?.[name];
    return e?._errors?.[0]?.message;
  }

  /** Every field message in the tree, flattened, for a form's summary. */
  details(): string[] {
    const out: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      for (const [k, v] of Object.entries(node)) {
        if (k === "_errors" && Array.isArray(v)) {
          for (const e of v) out.push(path ? `${path}: ${e.message}` : String(e.message));
        } else walk(v, path ? `${path}.${k}` : k);
      }
    };
    walk(this.errors, "");
    return out;
  }
}

export interface LoginResult {
  token: string | null;
  user_id?: string;
  mfa?: boolean;
  ticket?: string;
}

export type Fetch = typeof fetch;

/** An entry of a message's `attachments`: a file uploaded ahead, by its upload name. */
export interface OutgoingAttachment {
  id: string;
  filename: string;
  uploaded_filename: string;
  description?: string;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Api {
  /** How many times one call waits out a 429 before giving up. */
  maxRetries = 3;

  constructor(
    public token: string | null = null,
    private readonly base = "/api/v10",
    private readonly fetchImpl: Fetch = (...a) => fetch(...a),
    private readonly wait: (ms: number) => Promise<unknown> = sleep,
  ) {}

  async request<T>(method: string, path: string, body?: unknown, opts: { reason?: string } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = this.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.reason) headers["X-Audit-Log-Reason"] = encodeURIComponent(opts.reason);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(this.base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw new ApiError(0, 0, "Cannot reach the server. Check your connection.");
      }
      if (res.status === 429 && attempt < this.maxRetries) {
        const data = await res.json().catch(() => ({}));
        const secs = Number(data.retry_after ?? res.headers.get("Retry-After") ?? 1);
        await this.wait(Math.min(Math.max(secs, 0), 60) * 1000);
        continue;
      }
      if (res.status === 204) return undefined as T;
      const text = await res.text();
      const data = text ? safeJson(text) : undefined;
      if (!res.ok) {
        const d = (data ?? {}) as { code?: number; message?: string; errors?: unknown };
        throw new ApiError(res.status, d.code ?? 0, d.message ?? `${res.status} ${res.statusText}`, d.errors);
      }
      return data as T;
    }
  }

  get<T>(path: string) {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown) {
    return this.request<T>("POST", path, body ?? {});
  }
  patch<T>(path: string, body: unknown) {
    return this.request<T>("PATCH", path, body);
  }
  put<T>(path: string, body?: unknown) {
    return this.request<T>("PUT", path, body);
  }
  delete<T>(path: string, opts: { reason?: string } = {}) {
    return this.request<T>("DELETE", path, undefined, opts);
  }

  // Accounts
  register(body: { username: string; email: string; password: string; global_name?: string }) {
    return this.post<{ token: string }>("/auth/register", body);
  }
  login(login: string, password: string) {
    return this.post<LoginResult>("/auth/login", { login, password });
  }
  loginMfa(ticket: string, code: string) {
    return this.post<{ token: string }>("/auth/mfa/totp", { ticket, code });
  }
  logout() {
    return this.post<void>("/auth/logout", {});
  }
  me() {
    return this.get<User>("/users/@me");
  }
  gatewayUrl() {
    return this.get<{ url: string }>("/gateway");
  }

  // Guilds and channels
  createGuild(name: string) {
    return this.post<Guild>("/guilds", { name });
  }
  createChannel(guildId: string, body: Partial<Channel> & { name: string }) {
    return this.post<Channel>(`/guilds/${guildId}/channels`, body);
  }
  members(guildId: string, limit = 1000) {
    return this.get<Member[]>(`/guilds/${guildId}/members?limit=${limit}`);
  }
  roles(guildId: string) {
    return this.get<Role[]>(`/guilds/${guildId}/roles`);
  }

  // Invites
  createInvite(channelId: string, body: { max_age?: number; max_uses?: number } = {}) {
    return this.post<Invite>(`/channels/${channelId}/invites`, body);
  }
  invite(code: string) {
    return this.get<Invite>(`/invites/${encodeURIComponent(code)}?with_counts=true`);
  }
  joinInvite(code: string) {
    return this.post<Invite>(`/invites/${encodeURIComponent(code)}`, {});
  }

  // Messages
  messages(channelId: string, opts: { before?: string; after?: string; limit?: number } = {}) {
    const q = new URLSearchParams({ limit: String(opts.limit ?? 50) });
    if (opts.before) q.set("before", opts.before);
    if (opts.after) q.set("after", opts.after);
    return this.get<Message[]>(`/channels/${channelId}/messages?${q}`);
  }
  send(channelId: string, content: string, replyTo?: string, nonce?: string) {
    const body: Record<string, unknown> = { content };
    if (replyTo) body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
    if (nonce) body.nonce = nonce;
    return this.post<Message>(`/channels/${channelId}/messages`, body);
  }
  /** A message with any of: text, files uploaded ahead, stickers, a reply. */
  sendMessage(
    channelId: string,
    m: { content?: string; replyTo?: string; nonce?: string; attachments?: OutgoingAttachment[]; sticker_ids?: string[] },
  ) {
    const body: Record<string, unknown> = { content: m.content ?? "" };
    if (m.replyTo) body.message_reference = { message_id: m.replyTo, fail_if_not_exists: false };
    if (m.nonce) body.nonce = m.nonce;
    if (m.attachments?.length) body.attachments = m.attachments;
    if (m.sticker_ids?.length) body.sticker_ids = m.sticker_ids;
    return this.post<Message>(`/channels/${channelId}/messages`, body);
  }
  /** Signed URLs to PUT files to before the message that names them. */
  createUploads(channelId: string, files: { filename: string; file_size: number; id: string }[]) {
    return this.post<{ attachments: { id: string; upload_url: string; upload_filename: string }[] }>(
      `/channels/${channelId}/attachments`,
      { files },
    );
  }
  edit(channelId: string, messageId: string, content: string) {
    return this.patch<Message>(`/channels/${channelId}/messages/${messageId}`, { content });
  }
  deleteMessage(channelId: string, messageId: string) {
    return this.delete<void>(`/channels/${channelId}/messages/${messageId}`);
  }
  react(channelId: string, messageId: string, emoji: string) {
    return this.put<void>(`/channels/${channelId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}/@me`);
  }
  unreact(channelId: string, messageId: string, emoji: string) {
    return this.delete<void>(`/channels/${channelId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}/@me`);
  }
  pins(channelId: string) {
    return this.get<Message[]>(`/channels/${channelId}/pins`);
  }
  pin(channelId: string, messageId: string) {
    return this.put<void>(`/channels/${channelId}/pins/${messageId}`);
  }
  unpin(channelId: string, messageId: string) {
    return this.delete<void>(`/channels/${channelId}/pins/${messageId}`);
  }
  typing(channelId: string) {
    return this.post<void>(`/channels/${channelId}/typing`, {});
  }
  ack(channelId: string, messageId: string) {
    return this.post<{ token: null }>(`/channels/${channelId}/messages/${messageId}/ack`, { token: null });
  }

  // ---- part 2: friends, DMs, search, settings --------------------------

  relationships() {
    return this.get<Relationship[]>("/users/@me/relationships");
  }
  /** A friend request by username. */
  addFriend(username: string) {
    return this.post<void>("/users/@me/relationships", { username });
  }
  /** Sends or accepts a friend request (no type), or blocks (type 2). */
  putRelationship(userId: string, type?: 2) {
    return this.put<void>(`/users/@me/relationships/${userId}`, type ? { type } : {});
  }
  /** Unfriend, cancel or ignore a request, or unblock. */
  removeRelationship(userId: string) {
    return this.delete<void>(`/users/@me/relationships/${userId}`);
  }
  openDm(recipientId: string) {
    return this.post<Channel>("/users/@me/channels", { recipient_id: recipientId });
  }
  channel(channelId: string) {
    return this.get<Channel>(`/channels/${channelId}`);
  }
  /** Message search in a guild, or in one channel (a DM) when `guildId` is absent. */
  search(scope: { guildId?: string; channelId?: string }, q: { content?: string; author_id?: string[]; offset?: number }) {
    const p = new URLSearchParams();
    if (q.content) p.set("content", q.content);
    for (const a of q.author_id ?? []) p.append("author_id", a);
    if (q.offset) p.set("offset", String(q.offset));
    const base = scope.guildId ? `/guilds/${scope.guildId}` : `/channels/${scope.channelId}`;
    return this.get<SearchResults>(`${base}/messages/search?${p}`);
  }
  messagesAround(channelId: string, around: string, limit = 50) {
    return this.get<Message[]>(`/channels/${channelId}/messages?around=${around}&limit=${limit}`);
  }
  /** Profile changes; with `new_password` the answer carries a new `token`. */
  updateMe(body: {
    username?: string;
    global_name?: string | null;
    avatar?: string | null;
    password?: string;
    new_password?: string;
  }) {
    return this.patch<User & { token?: string }>("/users/@me", body);
  }
  settings() {
    return this.get<UserSettings>("/users/@me/settings");
  }
  updateSettings(body: Partial<UserSettings>) {
    return this.patch<UserSettings>("/users/@me/settings", body);
  }
  enableTotp(secret: string, code: string, password: string) {
    return this.post<{ token: string; backup_codes: { code: string | null }[] }>("/users/@me/mfa/totp/enable", {
      secret,
      code,
      password,
    });
  }
  disableTotp(code: string) {
    return this.post<{ token: string }>("/users/@me/mfa/totp/disable", { code });
  }

  // Server settings
  updateGuild(guildId: string, body: { name?: string }) {
    return this.patch<Guild>(`/guilds/${guildId}`, body);
  }
  updateChannel(channelId: string, body: Partial<Channel>) {
    return this.patch<Channel>(`/channels/${channelId}`, body);
  }
  deleteChannel(channelId: string) {
    return this.delete<Channel>(`/channels/${channelId}`);
  }
  putOverwrite(channelId: string, o: Overwrite) {
    return this.put<void>(`/channels/${channelId}/permissions/${o.id}`, { type: o.type, allow: o.allow, deny: o.deny });
  }
  deleteOverwrite(channelId: string, id: string) {
    return this.delete<void>(`/channels/${channelId}/permissions/${id}`);
  }
  createRole(guildId: string, body: Partial<Role> = {}) {
    return this.post<Role>(`/guilds/${guildId}/roles`, body);
  }
  updateRole(guildId: string, roleId: string, body: Partial<Role>) {
    return this.patch<Role>(`/guilds/${guildId}/roles/${roleId}`, body);
  }
  deleteRole(guildId: string, roleId: string) {
    return this.delete<void>(`/guilds/${guildId}/roles/${roleId}`);
  }
  giveRole(guildId: string, userId: string, roleId: string) {
    return this.put<void>(`/guilds/${guildId}/members/${userId}/roles/${roleId}`);
  }
  takeRole(guildId: string, userId: string, roleId: string) {
    return this.delete<void>(`/guilds/${guildId}/members/${userId}/roles/${roleId}`);
  }
  kick(guildId: string, userId: string, reason?: string) {
    return this.delete<void>(`/guilds/${guildId}/members/${userId}`, { reason });
  }
  ban(guildId: string, userId: string, reason?: string) {
    return this.request<void>("PUT", `/guilds/${guildId}/bans/${userId}`, {}, { reason });
  }
  bans(guildId: string) {
    return this.get<Ban[]>(`/guilds/${guildId}/bans`);
  }
  unban(guildId: string, userId: string) {
    return this.delete<void>(`/guilds/${guildId}/bans/${userId}`);
  }
  /** A moderator's voice actions on a member: server mute, deafen, move (a
   * channel id) or disconnect (`channel_id: null`). */
  moderateVoice(guildId: string, userId: string, body: { mute?: boolean; deaf?: boolean; channel_id?: string | null }) {
    return this.patch<Member>(`/guilds/${guildId}/members/${userId}`, body);
  }
  timeout(guildId: string, userId: string, until: string | null) {
    return this.patch<Member>(`/guilds/${guildId}/members/${userId}`, { communication_disabled_until: until });
  }
  guildInvites(guildId: string) {
    return this.get<InviteFull[]>(`/guilds/${guildId}/invites`);
  }
  revokeInvite(code: string) {
    return this.delete<Invite>(`/invites/${encodeURIComponent(code)}`);
  }
  // Custom emojis and stickers (the lists name their uploaders to who may create or manage them)
  emojis(guildId: string) {
    return this.get<Emoji[]>(`/guilds/${guildId}/emojis`);
  }
  stickers(guildId: string) {
    return this.get<Sticker[]>(`/guilds/${guildId}/stickers`);
  }
  createEmoji(guildId: string, name: string, image: string) {
    return this.post<Emoji>(`/guilds/${guildId}/emojis`, { name, image });
  }
  updateEmoji(guildId: string, emojiId: string, name: string) {
    return this.patch<Emoji>(`/guilds/${guildId}/emojis/${emojiId}`, { name });
  }
  deleteEmoji(guildId: string, emojiId: string) {
    return this.delete<void>(`/guilds/${guildId}/emojis/${emojiId}`);
  }
  /** A sticker from a file (multipart: name, description, tags, file). */
  async createSticker(guildId: string, f: { name: string; description: string; tags: string; file: File }) {
    const form = new FormData();
    form.set("name", f.name);
    form.set("description", f.description);
    form.set("tags", f.tags);
    form.set("file", f.file, f.file.name);
    return this.form<Sticker>("POST", `/guilds/${guildId}/stickers`, form);
  }
  updateSticker(guildId: string, stickerId: string, body: { name?: string; description?: string; tags?: string }) {
    return this.patch<Sticker>(`/guilds/${guildId}/stickers/${stickerId}`, body);
  }
  deleteSticker(guildId: string, stickerId: string) {
    return this.delete<void>(`/guilds/${guildId}/stickers/${stickerId}`);
  }

  /** A multipart request (the browser sets the boundary), with the same errors as `request`. */
  async form<T>(method: string, path: string, body: FormData): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers: this.token ? { Authorization: this.token } : {},
        body,
      });
    } catch {
      throw new ApiError(0, 0, "Cannot reach the server. Check your connection.");
    }
    const text = await res.text();
    const data = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const d = (data ?? {}) as { code?: number; message?: string; errors?: unknown };
      throw new ApiError(res.status, d.code ?? 0, d.message ?? `${res.status} ${res.statusText}`, d.errors);
    }
    return data as T;
  }

  /** The commands usable in a channel, with their applications. */
  commandIndex(channelId: string) {
    return this.get<CommandIndex>(`/channels/${channelId}/application-command-index`);
  }
  /** Uses a command or a component, or submits a modal: 204, the outcome comes over the gateway. */
  interact(body: Record<string, unknown>) {
    return this.request<void>("POST", "/interactions", body);
  }
  guildWebhooks(guildId: string) {
    return this.get<Webhook[]>(`/guilds/${guildId}/webhooks`);
  }
  createWebhook(channelId: string, name: string) {
    return this.request<Webhook>("POST", `/channels/${channelId}/webhooks`, { name });
  }
  updateWebhook(webhookId: string, body: { name?: string; channel_id?: string }) {
    return this.request<Webhook>("PATCH", `/webhooks/${webhookId}`, body);
  }
  deleteWebhook(webhookId: string) {
    return this.request<void>("DELETE", `/webhooks/${webhookId}`);
  }

  auditLog(guildId: string) {
    return this.get<AuditLog>(`/guilds/${guildId}/audit-logs?limit=100`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
