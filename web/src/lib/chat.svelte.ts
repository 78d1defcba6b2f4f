// What one open channel's components share: the message being replied to
// and the one being edited.
import type { Attachment, Message } from "./types";

export class ChatUi {
  replyTo = $state<Message | null>(null);
  editing = $state<string | null>(null);
  /** The edit's text so far: kept here, not in the message's component,
   * which the virtualized list may drop and recreate while it scrolls. */
  draft = $state("");
  /** The message whose deletion waits for confirmation. */
  deleting = $state<Message | null>(null);
  /** The image open in the lightbox (drawn by the chat view, above the list). */
  lightbox = $state<Attachment | null>(null);
  /** Bumped to ask the composer to take focus back. */
  focusComposer = $state(0);

  startEdit(m: Message) {
    this.editing = m.id;
    this.draft = m.content;
  }
}

const SAME_GROUP_MS = 7 * 60 * 1000;

/** Whether `m` continues the group of `prev` (same author, minutes apart, not a reply). */
export function continues(prev: Message | undefined, m: Message): boolean {
  if (!prev || prev.author.id !== m.author.id || m.message_reference?.message_id) return false;
  return Date.parse(m.timestamp) - Date.parse(prev.timestamp) < SAME_GROUP_MS;
}

export function formatTime(ts: string, now = new Date()): string {
  const d = new Date(ts);
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === now.toDateString()) return `Today at ${time}`;
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  if (d.toDateString() === y.toDateString()) return `Yesterday at ${time}`;
  return `${d.toLocaleDateString()} ${time}`;
}
