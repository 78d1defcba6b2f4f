// Discord's permission bits and the arithmetic the client needs to decide
// what to show (the server decides what is allowed; this only hides
// controls that would be refused). Bits are bigint: some are above 2^31.

import type { Overwrite, Role } from "./types";

export const P = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  ADD_REACTIONS: 1n << 6n,
  VIEW_AUDIT_LOG: 1n << 7n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  MANAGE_MESSAGES: 1n << 13n,
  EMBED_LINKS: 1n << 14n,
  ATTACH_FILES: 1n << 15n,
  READ_MESSAGE_HISTORY: 1n << 16n,
  MENTION_EVERYONE: 1n << 17n,
  CONNECT: 1n << 20n,
  SPEAK: 1n << 21n,
  MUTE_MEMBERS: 1n << 22n,
  DEAFEN_MEMBERS: 1n << 23n,
  MOVE_MEMBERS: 1n << 24n,
  MANAGE_ROLES: 1n << 28n,
  MANAGE_WEBHOOKS: 1n << 29n,
  MANAGE_GUILD_EXPRESSIONS: 1n << 30n,
  CREATE_GUILD_EXPRESSIONS: 1n << 43n,
  MODERATE_MEMBERS: 1n << 40n,
} as const;

/** Toggles offered in the role editor and the channel overwrite editor. */
export const ROLE_PERMISSIONS: { bit: bigint; name: string }[] = [
  { bit: P.ADMINISTRATOR, name: "Administrator" },
  { bit: P.MANAGE_GUILD, name: "Manage Server" },
  { bit: P.MANAGE_CHANNELS, name: "Manage Channels" },
  { bit: P.MANAGE_ROLES, name: "Manage Roles" },
  { bit: P.KICK_MEMBERS, name: "Kick Members" },
  { bit: P.BAN_MEMBERS, name: "Ban Members" },
  { bit: P.MODERATE_MEMBERS, name: "Timeout Members" },
  { bit: P.MUTE_MEMBERS, name: "Mute Members" },
  { bit: P.DEAFEN_MEMBERS, name: "Deafen Members" },
  { bit: P.MOVE_MEMBERS, name: "Move Members" },
  { bit: P.VIEW_AUDIT_LOG, name: "View Audit Log" },
  { bit: P.CREATE_INSTANT_INVITE, name: "Create Invite" },
  { bit: P.VIEW_CHANNEL, name: "View Channels" },
  { bit: P.SEND_MESSAGES, name: "Send Messages" },
  { bit: P.READ_MESSAGE_HISTORY, name: "Read Message History" },
  { bit: P.MANAGE_MESSAGES, name: "Manage Messages" },
  { bit: P.ADD_REACTIONS, name: "Add Reactions" },
  { bit: P.MENTION_EVERYONE, name: "Mention @everyone" },
  { bit: P.ATTACH_FILES, name: "Attach Files" },
  { bit: P.MANAGE_GUILD_EXPRESSIONS, name: "Manage Expressions" },
  { bit: P.CREATE_GUILD_EXPRESSIONS, name: "Create Expressions" },
];

export const CHANNEL_PERMISSIONS: { bit: bigint; name: string }[] = [
  { bit: P.VIEW_CHANNEL, name: "View Channel" },
  { bit: P.SEND_MESSAGES, name: "Send Messages" },
  { bit: P.READ_MESSAGE_HISTORY, name: "Read Message History" },
  { bit: P.ADD_REACTIONS, name: "Add Reactions" },
  { bit: P.MANAGE_MESSAGES, name: "Manage Messages" },
  { bit: P.CREATE_INSTANT_INVITE, name: "Create Invite" },
  { bit: P.CONNECT, name: "Connect (voice)" },
  { bit: P.SPEAK, name: "Speak (voice)" },
];

const ALL = (1n << 53n) - 1n;

export function bits(s: string | undefined | null): bigint {
  try {
    return BigInt(s ?? "0");
  } catch {
    return 0n;
  }
}

/** A member's guild-wide permissions: @everyone (role id = guild id) and their roles; owner and admin have all. */
export function guildPermissions(
  guild: { id: string; owner_id: string },
  roles: Record<string, Role> | undefined,
  userId: string,
  memberRoles: string[],
): bigint {
  if (guild.owner_id === userId) return ALL;
  let p = bits(roles?.[guild.id]?.permissions);
  for (const id of memberRoles) p |= bits(roles?.[id]?.permissions);
  return p & P.ADMINISTRATOR ? ALL : p;
}

/** Applies a channel's overwrites (Discord's order: @everyone, roles together, then the member). */
export function channelPermissions(
  base: bigint,
  guildId: string,
  userId: string,
  memberRoles: string[],
  overwrites: Overwrite[] | undefined,
): bigint {
  if (base & P.ADMINISTRATOR || base === ALL) return base;
  let p = base;
  const ow = overwrites ?? [];
  const everyone = ow.find((o) => o.id === guildId);
  if (everyone) p = (p & ~bits(everyone.deny)) | bits(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of ow) {
    if (o.type === 0 && o.id !== guildId && memberRoles.includes(o.id)) {
      allow |= bits(o.allow);
      deny |= bits(o.deny);
    }
  }
  p = (p & ~deny) | allow;
  const mine = ow.find((o) => o.type === 1 && o.id === userId);
  if (mine) p = (p & ~bits(mine.deny)) | bits(mine.allow);
  return p;
}

export type GuildSettingsTab =
  | "overview"
  | "channels"
  | "roles"
  | "emojis"
  | "stickers"
  | "members"
  | "bans"
  | "invites"
  | "integrations"
  | "audit-log";

/** Which server settings tabs someone with `perms` sees (none: no "Server settings" entry). */
export function guildSettingsTabs(perms: bigint): GuildSettingsTab[] {
  const has = (b: bigint) => (perms & b) === b;
  const tabs: GuildSettingsTab[] = [];
  if (has(P.MANAGE_GUILD)) tabs.push("overview");
  if (has(P.MANAGE_CHANNELS) || has(P.MANAGE_ROLES)) tabs.push("channels");
  if (has(P.MANAGE_ROLES)) tabs.push("roles");
  if (has(P.MANAGE_GUILD_EXPRESSIONS) || has(P.CREATE_GUILD_EXPRESSIONS)) tabs.push("emojis", "stickers");
  if (has(P.KICK_MEMBERS) || has(P.BAN_MEMBERS) || has(P.MANAGE_ROLES) || has(P.MODERATE_MEMBERS)) tabs.push("members");
  if (has(P.BAN_MEMBERS)) tabs.push("bans");
  if (has(P.MANAGE_GUILD)) tabs.push("invites");
  if (has(P.MANAGE_WEBHOOKS)) tabs.push("integrations");
  if (has(P.VIEW_AUDIT_LOG)) tabs.push("audit-log");
  return tabs;
}

/** The tri-state of one permission in an overwrite: allowed, denied or inherited. */
/** Who may change a custom emoji or sticker, as the server decides it:
 * Manage Expressions any; Create Expressions (or Manage) one's own. */
export function expressionRights(perms: bigint): { canManage: boolean; canCreate: boolean } {
  const has = (bit: bigint) => (perms & bit) === bit;
  const canManage = has(P.MANAGE_GUILD_EXPRESSIONS);
  return { canManage, canCreate: canManage || has(P.CREATE_GUILD_EXPRESSIONS) };
}

export function mayChangeExpression(
  rights: { canManage: boolean; canCreate: boolean },
  uploaderId: string | undefined,
  meId: string | undefined,
): boolean {
  return rights.canManage || (rights.canCreate && !!meId && uploaderId === meId);
}

export function overwriteState(o: Overwrite | undefined, bit: bigint): "allow" | "deny" | "inherit" {
  if (!o) return "inherit";
  if (bits(o.allow) & bit) return "allow";
  if (bits(o.deny) & bit) return "deny";
  return "inherit";
}

export function setOverwrite(o: Overwrite, bit: bigint, to: "allow" | "deny" | "inherit"): Overwrite {
  let allow = bits(o.allow) & ~bit;
  let deny = bits(o.deny) & ~bit;
  if (to === "allow") allow |= bit;
  if (to === "deny") deny |= bit;
  return { ...o, allow: allow.toString(), deny: deny.toString() };
}

export const AUDIT_ACTIONS: Record<number, string> = {
  1: "Updated the server",
  10: "Created a channel",
  11: "Updated a channel",
  12: "Deleted a channel",
  13: "Created a permission overwrite",
  14: "Updated a permission overwrite",
  15: "Deleted a permission overwrite",
  20: "Kicked a member",
  21: "Pruned members",
  22: "Banned a member",
  23: "Unbanned a member",
  24: "Updated a member",
  25: "Updated a member's roles",
  30: "Created a role",
  31: "Updated a role",
  32: "Deleted a role",
  40: "Created an invite",
  41: "Updated an invite",
  42: "Deleted an invite",
  72: "Deleted a message",
  73: "Bulk deleted messages",
  74: "Pinned a message",
  75: "Unpinned a message",
};
