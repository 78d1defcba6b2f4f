// The search box's little query language: free text plus `from:username`
// (repeatable), resolved against the people the client knows in this place.

import type { User } from "./types";

export interface ParsedSearch {
  content: string;
  authors: string[];
  error?: string;
}

export function parseSearch(input: string, people: Pick<User, "id" | "username" | "global_name">[]): ParsedSearch {
  const authors: string[] = [];
  const words: string[] = [];
  for (const word of input.trim().split(/\s+/).filter(Boolean)) {
    const m = /^from:@?(.+)$/i.exec(word);
    if (!m) {
      words.push(word);
      continue;
    }
    const name = m[1].toLowerCase();
    const who =
      people.find((u) => u.username.toLowerCase() === name) ??
      people.find((u) => (u.global_name ?? "").toLowerCase() === name);
    if (!who) return { content: "", authors: [], error: `No one here is called “${m[1]}”.` };
    if (!authors.includes(who.id)) authors.push(who.id);
  }
  return { content: words.join(" "), authors };
}
