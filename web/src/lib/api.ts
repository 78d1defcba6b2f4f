// The typed REST client: every call goes to /api/v10 with the user's token
// in Authorization (no "Bot " prefix for people), Discord's error format is
// turned into ApiError, and 429s wait out `retry_after` and try again.

import type { Channel, Guild, Invite, Message, Member, Role, User } from "./types";

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
  delete<T>(path: string) {
    return this.request<T>("DELETE", path);
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
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
