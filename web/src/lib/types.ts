// Wire shapes as the server sends them (Discord's v10 JSON), only the fields
// the client reads. Ids are snowflake strings.

import type { Component } from "./components";

export interface User {
  id: string;
  username: string;
  global_name?: string | null;
  avatar?: string | null;
  bot?: boolean;
  mfa_enabled?: boolean;
  email?: string | null;
}

export interface Role {
  id: string;
  name: string;
  color: number;
  hoist: boolean;
  position: number;
  permissions: string;
  mentionable?: boolean;
}

export interface Overwrite {
  id: string;
  type: number;
  allow: string;
  deny: string;
}

export const ChannelType = {
  GuildText: 0,
  DM: 1,
  GuildVoice: 2,
  GroupDM: 3,
  GuildCategory: 4,
  GuildAnnouncement: 5,
} as const;

export interface Channel {
  id: string;
  type: number;
  guild_id?: string;
  name?: string | null;
  topic?: string | null;
  position?: number;
  parent_id?: string | null;
  last_message_id?: string | null;
  permission_overwrites?: Overwrite[];
  recipients?: User[];
}

export interface Member {
  user?: User;
  nick?: string | null;
  roles: string[];
  joined_at?: string;
  guild_id?: string;
}

export interface Guild {
  id: string;
  name: string;
  icon?: string | null;
  owner_id: string;
  roles?: Role[];
  channels?: Channel[];
  members?: Member[];
  presences?: Presence[];
  voice_states?: VoiceState[];
  member_count?: number;
  unavailable?: boolean;
  emojis?: Emoji[];
  stickers?: Sticker[];
}

/** A guild's custom emoji, served at `/emojis/{id}.{png|gif}`. */
export interface Emoji {
  id: string;
  name: string;
  animated?: boolean;
  roles?: string[];
  user?: User;
  available?: boolean;
}

/** A guild's sticker, served at `/stickers/{id}.{ext}` by its format. */
export interface Sticker {
  id: string;
  name: string;
  description?: string | null;
  tags?: string;
  /** 1 PNG, 2 APNG, 3 Lottie, 4 GIF. */
  format_type: number;
  guild_id?: string;
  user?: User;
}

/** A sticker as a message names it. */
export interface StickerItem {
  id: string;
  name: string;
  format_type: number;
}

/** Who is in a voice channel, muted or deafened by themselves or a moderator. */
export interface VoiceState {
  guild_id?: string;
  channel_id: string | null;
  user_id: string;
  member?: Member;
  session_id: string;
  deaf: boolean;
  mute: boolean;
  self_deaf: boolean;
  self_mute: boolean;
  self_video: boolean;
  self_stream?: boolean;
}

/** Where to open the voice connection for a guild (VOICE_SERVER_UPDATE). */
export interface VoiceServer {
  guild_id: string;
  token: string;
  endpoint: string | null;
}

export interface Presence {
  user: { id: string };
  status: string;
  guild_id?: string;
}

export interface Reaction {
  count: number;
  me: boolean;
  emoji: { id: string | null; name: string; animated?: boolean };
}

/** A file of a message (Discord's attachment object); `url` is signed and expires. */
export interface Attachment {
  id: string;
  filename: string;
  title?: string;
  description?: string;
  content_type?: string;
  size: number;
  url: string;
  proxy_url: string;
  width?: number | null;
  height?: number | null;
  /** Voice messages only. */
  duration_secs?: number;
  waveform?: string;
}

/** Message flag: a voice message (its one attachment is the recording). */
export const IS_VOICE_MESSAGE = 1 << 13;

export interface Message {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: User;
  member?: Member;
  content: string;
  timestamp: string;
  edited_timestamp?: string | null;
  mentions?: User[];
  mention_roles?: string[];
  mention_everyone?: boolean;
  pinned?: boolean;
  type?: number;
  reactions?: Reaction[];
  message_reference?: { message_id?: string; channel_id?: string };
  referenced_message?: Message | null;
  embeds?: Embed[];
  attachments?: Attachment[];
  sticker_items?: StickerItem[];
  flags?: number;
  nonce?: string | number | null;
  /** Buttons, selects and (with IS_COMPONENTS_V2) layout components. */
  components?: Component[];
  /** Set on webhooks' messages and on interaction answers. */
  webhook_id?: string;
  application_id?: string;
  /** On an interaction's answer: who used which command. */
  interaction_metadata?: { id: string; type: number; name?: string; user: User; target_user?: User };
}

export interface EmbedMedia {
  url: string;
  proxy_url?: string | null;
  width?: number | null;
  height?: number | null;
}

/** Discord's embed object: rich ones from bots, link previews (link, article, image, video). */
export interface Embed {
  type?: string;
  title?: string;
  description?: string;
  url?: string;
  timestamp?: string;
  color?: number | null;
  footer?: { text: string; icon_url?: string; proxy_icon_url?: string };
  image?: EmbedMedia;
  thumbnail?: EmbedMedia;
  video?: EmbedMedia;
  provider?: { name?: string; url?: string };
  author?: { name: string; url?: string; icon_url?: string; proxy_icon_url?: string };
  fields?: { name: string; value: string; inline?: boolean }[];
}

export interface Invite {
  code: string;
  guild?: { id: string; name: string; icon?: string | null };
  channel?: { id: string; name?: string | null; type: number };
  inviter?: User;
  approximate_member_count?: number;
  approximate_presence_count?: number;
}

export interface ReadState {
  id: string;
  last_message_id: string;
  mention_count: number;
}

export interface Relationship {
  id: string;
  type: number;
  user: User;
}

export interface Ready {
  v: number;
  user: User;
  session_id: string;
  resume_gateway_url: string;
  guilds: Guild[];
  private_channels?: Channel[];
  relationships?: Relationship[];
  read_state?: { entries: ReadState[] } | ReadState[];
  user_settings?: UserSettings;
  /** Friends who are online (they may share no guild). */
  presences?: Presence[];
}

export interface CustomStatus {
  text?: string | null;
  emoji_name?: string | null;
  expires_at?: string | null;
}

/** `/users/@me/settings` and USER_SETTINGS_UPDATE (which carries only what changed). */
export interface UserSettings {
  status: string;
  custom_status: CustomStatus | null;
  theme: string;
  locale?: string;
  message_display_compact?: boolean;
  developer_mode?: boolean;
}

export const RelationshipType = { Friend: 1, Blocked: 2, Incoming: 3, Outgoing: 4 } as const;

export interface SearchResults {
  total_results: number;
  /** Each hit is a one-element array, as on Discord. */
  messages: Message[][];
}

export interface Ban {
  user: User;
  reason: string | null;
}

export interface InviteFull extends Invite {
  uses?: number;
  max_uses?: number;
  max_age?: number;
  created_at?: string;
}

export interface AuditLogEntry {
  id: string;
  user_id: string | null;
  target_id: string | null;
  action_type: number;
  reason?: string;
  changes?: { key: string; old_value?: unknown; new_value?: unknown }[];
}

export interface AuditLog {
  audit_log_entries: AuditLogEntry[];
  users?: User[];
}

/** A guild's webhook (`GET /guilds/{id}/webhooks`); `token` only for incoming ones. */
export interface Webhook {
  id: string;
  type: number;
  guild_id?: string | null;
  channel_id: string | null;
  name: string | null;
  avatar?: string | null;
  token?: string;
  user?: User;
  application_id?: string | null;
}
