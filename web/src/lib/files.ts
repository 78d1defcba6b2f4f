// Pure helpers for files, voice messages, custom emojis and stickers: what
// kind of preview an attachment gets, sizes and durations as people read
// them, Discord's waveform, and the CDN paths of emojis and stickers.

import type { Attachment, Emoji, Message, StickerItem } from "./types";
import { IS_VOICE_MESSAGE } from "./types";

export type AttachmentKind = "image" | "video" | "audio" | "file";

/**
 * How an attachment is shown: images, video and audio inline (the server
 * serves only those types inline, by their bytes), everything else as a
 * file card with a download. SVG is never an image here: the server
 * serves it as a download.
 */
export function attachmentKind(a: Pick<Attachment, "content_type">): AttachmentKind {
  const t = (a.content_type ?? "").toLowerCase().split(";")[0].trim();
  if (/^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(t)) return "image";
  if (/^video\/(mp4|webm|ogg|quicktime)$/.test(t)) return "video";
  if (/^audio\//.test(t)) return "audio";
  return "file";
}

/** Bytes as people read them: `512 B`, `1.5 KB`, `25.0 MB` (binary units, as Discord). */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "0 B";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** Seconds as `m:ss` (or `h:mm:ss`). */
export function formatDuration(secs: number): string {
  const s = Math.max(0, Math.round(Number.isFinite(secs) ? secs : 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * A voice message's waveform: base64 of up to 256 bytes, each a level
 * 0–255 (Discord's format). Answers levels 0–1; anything that is not
 * base64 gives an empty list.
 */
export function decodeWaveform(b64: string | undefined | null, max = 256): number[] {
  if (!b64 || b64.length > 4 * 1024 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return [];
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (let i = 0; i < bin.length && out.length < max; i++) out.push(bin.charCodeAt(i) / 255);
  return out;
}

/** `levels` averaged into `bars` bars (for a narrow player). */
export function resample(levels: number[], bars: number): number[] {
  if (levels.length <= bars) return levels;
  const out: number[] = [];
  for (let b = 0; b < bars; b++) {
    const from = Math.floor((b * levels.length) / bars);
    const to = Math.max(from + 1, Math.floor(((b + 1) * levels.length) / bars));
    let sum = 0;
    for (let i = from; i < to; i++) sum += levels[i];
    out.push(sum / (to - from));
  }
  return out;
}

/** Whether a message is a voice message with its recording. */
export function voiceMessage(m: Pick<Message, "flags" | "attachments">): Attachment | null {
  if (!((m.flags ?? 0) & IS_VOICE_MESSAGE)) return null;
  const a = m.attachments?.[0];
  return a && attachmentKind(a) === "audio" ? a : null;
}

const MEDIA_PATHS = /^\/(attachments|emojis|stickers|avatars|uploads)\//;

/**
 * A file URL of this server as a path on the page's own origin. The server
 * signs URLs under its `media.public_url`, which may name another address
 * of this same server (a proxy in front of it, another port); the page's
 * policy allows images and media from its own origin only. Other URLs are
 * answered as they are when same-origin, else null (not loaded).
 */
export function localUrl(raw: string | undefined | null, origin = globalThis.location?.origin ?? "http://localhost"): string | null {
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw, origin);
  } catch {
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  if (MEDIA_PATHS.test(u.pathname)) return u.pathname + u.search;
  return u.origin === origin ? u.pathname + u.search : null;
}

/** A custom emoji's image. */
export function emojiUrl(e: Pick<Emoji, "id" | "animated">, size = 48): string {
  return `/emojis/${encodeURIComponent(e.id)}.${e.animated ? "gif" : "png"}?size=${size}`;
}

/** A sticker's file (null for Lottie, which the client does not animate). */
export function stickerUrl(s: Pick<StickerItem, "id" | "format_type">): string | null {
  const ext = s.format_type === 4 ? "gif" : s.format_type === 3 ? null : "png";
  return ext ? `/stickers/${encodeURIComponent(s.id)}.${ext}?size=160` : null;
}

/** The reaction route's form of an emoji: the character, or `name:id`. */
export function reactionKey(e: { id?: string | null; name: string | null }): string {
  return e.id ? `${e.name ?? "_"}:${e.id}` : (e.name ?? "");
}

/** An embed colour (a 24-bit integer) as CSS. */
export function embedColor(c: number | null | undefined): string | null {
  if (c === null || c === undefined || !Number.isInteger(c) || c < 0 || c > 0xffffff) return null;
  return `#${c.toString(16).padStart(6, "0")}`;
}
