// Discord-flavoured Markdown: parse to a small tree, then render that tree
// as HTML in which every piece of user text is escaped and every link is
// checked. Nothing from the message ever reaches the page unescaped.
//
// The parser is a hand-written scanner, linear in the input per nesting
// level (at most MAX_DEPTH levels): no regular expression can backtrack
// over user text, and a search for a closing delimiter that failed once is
// never repeated, so hostile input cannot make it quadratic.

export type MdNode =
  | { t: "text"; v: string }
  | { t: "br" }
  | { t: "b" | "i" | "u" | "s" | "spoiler" | "quote"; c: MdNode[] }
  | { t: "code"; v: string }
  | { t: "codeblock"; lang: string; v: string }
  | { t: "link"; href: string; c: MdNode[] }
  | { t: "user" | "role" | "channel"; id: string }
  | { t: "emoji"; name: string; id: string; animated: boolean };

const MAX_DEPTH = 8;
const ESCAPABLE = new Set("\\*_~`|<>[]()#:/.-");

/** Inline delimiters, longest first so `**` wins over `*`. */
const DELIMS: { d: string; t: "b" | "i" | "u" | "s" | "spoiler" }[] = [
  { d: "**", t: "b" },
  { d: "__", t: "u" },
  { d: "~~", t: "s" },
  { d: "||", t: "spoiler" },
  { d: "*", t: "i" },
  { d: "_", t: "i" },
];

const isWordChar = (c: string | undefined) => !!c && /[\p{L}\p{N}]/u.test(c);

/** Parses a whole message. */
export function parse(src: string): MdNode[] {
  const out: MdNode[] = [];
  let i = 0;
  // Code blocks first: nothing inside them is Markdown.
  while (i < src.length) {
    const open = src.indexOf("```", i);
    const close = open < 0 ? -1 : src.indexOf("```", open + 3);
    if (open < 0 || close < 0) {
      blocks(src.slice(i), out);
      break;
    }
    if (open > i) blocks(src.slice(i, open), out);
    let body = src.slice(open + 3, close);
    let lang = "";
    const nl = body.indexOf("\n");
    if (nl > 0 && /^[A-Za-z0-9+#-]{1,20}$/.test(body.slice(0, nl))) {
      lang = body.slice(0, nl).toLowerCase();
      body = body.slice(nl + 1);
    } else if (nl === 0) body = body.slice(1);
    if (body.trim() === "" && !lang) {
      out.push({ t: "text", v: "``````".slice(0, 6) });
    } else out.push({ t: "codeblock", lang, v: body.replace(/\n$/, "") });
    i = close + 3;
    if (src[i] === "\n") i++;
  }
  return out;
}

/** Lines outside code blocks: block quotes (`> ` per line, `>>> ` to the end), else inline. */
function blocks(text: string, out: MdNode[]) {
  const lines = text.split("\n");
  let plain: string[] = [];
  let quoted: string[] = [];
  const flushPlain = () => {
    if (plain.length) {
      out.push(...inline(plain.join("\n"), 0));
      plain = [];
    }
  };
  const flushQuote = () => {
    if (quoted.length) {
      out.push({ t: "quote", c: inline(quoted.join("\n"), 1) });
      quoted = [];
    }
  };
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.startsWith(">>> ")) {
      flushPlain();
      quoted.push(line.slice(4), ...lines.slice(n + 1));
      break;
    }
    if (line.startsWith("> ") || line === ">") {
      flushPlain();
      quoted.push(line.slice(2));
    } else {
      flushQuote();
      plain.push(line);
    }
  }
  flushQuote();
  flushPlain();
}

/** Inline Markdown in one stretch of text. */
export function inline(s: string, depth: number): MdNode[] {
  const out: MdNode[] = [];
  let text = "";
  const push = (n: MdNode) => {
    if (text) out.push({ t: "text", v: text });
    text = "";
    out.push(n);
  };
  // Per delimiter, the position from which a search for a closer is known to fail.
  const failedFrom = new Map<string, number>();
  const closer = (d: string, from: number): number => {
    const failed = failedFrom.get(d);
    if (failed !== undefined && from >= failed) return -1;
    let j = from;
    for (;;) {
      j = s.indexOf(d, j);
      if (j < 0) break;
      if (validCloser(s, d, j)) {
        // `***both***`: the closing `**` is the end of the run, leaving `*both*` inside.
        while (d.length > 1 && s[j + d.length] === d[0]) j++;
        return j;
      }
      j++;
    }
    failedFrom.set(d, Math.min(failed ?? Infinity, from));
    return -1;
  };

  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === "\\" && i + 1 < s.length && ESCAPABLE.has(s[i + 1])) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (ch === "\n") {
      push({ t: "br" });
      i++;
      continue;
    }
    if (ch === "`") {
      const run = s.startsWith("``", i) ? "``" : "`";
      const end = closer(run, i + run.length);
      if (end > i + run.length) {
        push({ t: "code", v: s.slice(i + run.length, end).trim() || s.slice(i + run.length, end) });
        i = end + run.length;
        continue;
      }
      text += run;
      i += run.length;
      continue;
    }
    if (ch === "<") {
      const m = /^<(@!?|@&|#)(\d{1,20})>/.exec(s.slice(i, i + 26));
      if (m) {
        push({ t: m[1] === "#" ? "channel" : m[1] === "@&" ? "role" : "user", id: m[2] });
        i += m[0].length;
        continue;
      }
      // A custom emoji: <:name:id>, animated <a:name:id>.
      const e = /^<(a?):([A-Za-z0-9_]{2,32}):(\d{1,20})>/.exec(s.slice(i, i + 60));
      if (e) {
        push({ t: "emoji", name: e[2], id: e[3], animated: e[1] === "a" });
        i += e[0].length;
        continue;
      }
      // <https://…> is a link without an embed.
      const end = s.indexOf(">", i);
      if (end > i && end - i < 2100 && /^<https?:\/\/[^\s<>]+>$/.test(s.slice(i, end + 1))) {
        const href = safeUrl(s.slice(i + 1, end));
        if (href) {
          push({ t: "link", href, c: [{ t: "text", v: s.slice(i + 1, end) }] });
          i = end + 1;
          continue;
        }
      }
    }
    if (ch === "[" && depth < MAX_DEPTH) {
      const link = maskedLink(s, i);
      if (link) {
        push({ t: "link", href: link.href, c: inline(link.label, MAX_DEPTH) });
        i = link.end;
        continue;
      }
    }
    if (ch === "h" && (s.startsWith("http://", i) || s.startsWith("https://", i)) && !isWordChar(s[i - 1])) {
      const m = /^https?:\/\/[^\s<>"]*[^\s<>".,:;'!?)\]]/.exec(s.slice(i, i + 2048));
      const href = m && safeUrl(m[0]);
      if (m && href) {
        push({ t: "link", href, c: [{ t: "text", v: m[0] }] });
        i += m[0].length;
        continue;
      }
    }
    if (depth < MAX_DEPTH && "*_~|".includes(ch)) {
      const del = DELIMS.find((x) => s.startsWith(x.d, i) && validOpener(s, x.d, i));
      if (del) {
        const end = closer(del.d, i + del.d.length);
        if (end > i + del.d.length) {
          push({ t: del.t, c: inline(s.slice(i + del.d.length, end), depth + 1) });
          i = end + del.d.length;
          continue;
        }
        text += del.d;
        i += del.d.length;
        continue;
      }
    }
    text += ch;
    i++;
  }
  if (text) out.push({ t: "text", v: text });
  return out;
}

function validOpener(s: string, d: string, i: number): boolean {
  const next = s[i + d.length];
  if (next === undefined || next === " " || next === "\n") return d !== "*" && d !== "_" ? next !== undefined : false;
  // `_italic_` only at word boundaries (snake_case stays as it is).
  if (d === "_") return !isWordChar(s[i - 1]);
  return true;
}

function validCloser(s: string, d: string, j: number): boolean {
  if (d.length === 1 && d !== "`") {
    // A single `*` or `_` that is half of a double is not this closer.
    if (s[j + 1] === d || s[j - 1] === d) return false;
    if (s[j - 1] === " ") return false;
    if (d === "_") return !isWordChar(s[j + 1]);
  }
  return true;
}

function maskedLink(s: string, i: number): { label: string; href: string; end: number } | null {
  const close = s.indexOf("](", i + 1);
  if (close < 0 || close - i > 256) return null;
  const label = s.slice(i + 1, close);
  if (!label.trim() || label.includes("[") || label.includes("\n")) return null;
  // A label holding a URL would show one address and go to another (and
  // nest a link in a link): that is not a masked link, as on Discord.
  if (/https?:\/\//i.test(label)) return null;
  const end = s.indexOf(")", close + 2);
  if (end < 0 || end - close > 2048) return null;
  const raw = s.slice(close + 2, end).trim().replace(/^<(.*)>$/, "$1");
  const href = safeUrl(raw);
  if (!href) return null;
  return { label, href, end: end + 1 };
}

/** The URL as the browser would use it, if it is http(s); else null. */
export function safeUrl(raw: string): string | null {
  if (!/^https?:\/\//i.test(raw)) return null;
  try {
    const u = new URL(raw);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.href;
  } catch {
    return null;
  }
}

// ---- rendering -------------------------------------------------------

export interface RenderContext {
  userName(id: string): string;
  roleName(id: string): string;
  channelName(id: string): string;
  meId?: string | null;
  myRoles?: string[];
  /** Custom emojis shown large (a message of emojis only). */
  jumbo?: boolean;
}

/** Whether a message is only custom emojis (at most 30) and spaces: they are shown large. */
export function onlyEmojis(nodes: MdNode[]): boolean {
  let n = 0;
  for (const x of nodes) {
    if (x.t === "emoji") n++;
    else if (!(x.t === "text" && !x.v.trim()) && x.t !== "br") return false;
  }
  return n > 0 && n <= 30;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]);

const TAG = { b: "strong", i: "em", u: "u", s: "s" } as const;

/** Renders a tree as HTML; only our own tags and escaped text come out. */
export function toHtml(nodes: MdNode[], ctx: RenderContext): string {
  let out = "";
  for (const n of nodes) {
    switch (n.t) {
      case "text":
        out += escapeHtml(n.v);
        break;
      case "br":
        out += "<br>";
        break;
      case "b":
      case "i":
      case "u":
      case "s":
        out += `<${TAG[n.t]}>${toHtml(n.c, ctx)}</${TAG[n.t]}>`;
        break;
      case "spoiler":
        out += `<span class="spoiler" role="button" tabindex="0" aria-expanded="false" aria-label="Spoiler, activate to reveal">${toHtml(n.c, ctx)}</span>`;
        break;
      case "quote":
        out += `<blockquote>${toHtml(n.c, ctx)}</blockquote>`;
        break;
      case "code":
        out += `<code class="inline">${escapeHtml(n.v)}</code>`;
        break;
      case "codeblock":
        out += `<pre><code${n.lang ? ` data-lang="${escapeHtml(n.lang)}"` : ""}>${escapeHtml(n.v)}</code></pre>`;
        break;
      case "link":
        out += `<a href="${escapeHtml(n.href)}" target="_blank" rel="noopener noreferrer">${toHtml(n.c, ctx)}</a>`;
        break;
      case "user": {
        const me = n.id === ctx.meId ? " me" : "";
        out += `<span class="mention${me}">@${escapeHtml(ctx.userName(n.id))}</span>`;
        break;
      }
      case "role": {
        const me = ctx.myRoles?.includes(n.id) ? " me" : "";
        out += `<span class="mention${me}">@${escapeHtml(ctx.roleName(n.id))}</span>`;
        break;
      }
      case "channel":
        out += `<span class="mention">#${escapeHtml(ctx.channelName(n.id))}</span>`;
        break;
      case "emoji": {
        const src = `/emojis/${n.id}.${n.animated ? "gif" : "png"}?size=${ctx.jumbo ? 96 : 48}`;
        out += `<img class="emoji${ctx.jumbo ? " jumbo" : ""}" src="${escapeHtml(src)}" alt=":${escapeHtml(n.name)}:" title=":${escapeHtml(n.name)}:" draggable="false">`;
        break;
      }
    }
  }
  return out;
}

/** Markdown source → safe HTML. */
export function render(src: string, ctx: RenderContext): string {
  const nodes = parse(src);
  return toHtml(nodes, onlyEmojis(nodes) ? { ...ctx, jumbo: true } : ctx);
}
