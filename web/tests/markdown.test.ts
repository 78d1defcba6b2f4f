import { describe, expect, it } from "vitest";
import { parse, render, safeUrl, type RenderContext } from "../src/lib/markdown";

const ctx: RenderContext = {
  userName: (id) => (id === "1" ? "alice" : id === "666" ? '<img src=x onerror="alert(1)">' : "someone"),
  roleName: (id) => (id === "9" ? "Mods" : "deleted-role"),
  channelName: (id) => (id === "5" ? "general" : "unknown-channel"),
  meId: "1",
  myRoles: ["9"],
};
const html = (s: string) => render(s, ctx);

/** Every tag the renderer may produce; anything else means user text got through. */
const ALLOWED = new Set(["strong", "em", "u", "s", "span", "code", "pre", "blockquote", "a", "br", "img"]);
function tags(out: string): string[] {
  return [...out.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1].toLowerCase());
}
function assertSafe(out: string) {
  for (const t of tags(out)) expect(ALLOWED.has(t), `tag <${t}> in ${out}`).toBe(true);
  expect(out).not.toMatch(/<[^>]*\son[a-z]+\s*=/i); // no event handler attribute inside a tag
  expect(out).not.toMatch(/href="(?!https?:)/i);
  // Every tag is well formed: known attributes, quoted values without quotes or brackets.
  const attrs = new Set(["class", "role", "tabindex", "aria-expanded", "aria-label", "href", "target", "rel", "data-lang", "src", "alt", "title", "draggable"]);
  // The only images are custom emojis from this server's emoji path.
  for (const m of out.matchAll(/<img [^>]*src="([^"]*)"/g)) expect(m[1]).toMatch(/^\/emojis\/\d{1,20}\.(png|gif)\?size=\d+$/);
  for (const m of out.matchAll(/<[^>]*>?/g)) {
    expect(m[0]).toMatch(/^<\/?[a-z0-9]+(\s[a-z-]+="[^"<>]*")*>$/);
    for (const a of m[0].matchAll(/\s([a-z-]+)="/g)) expect(attrs.has(a[1]), a[1]).toBe(true);
  }
}

describe("formatting", () => {
  it("renders the basics", () => {
    expect(html("**bold**")).toBe("<strong>bold</strong>");
    expect(html("*it* and _it_")).toBe("<em>it</em> and <em>it</em>");
    expect(html("__under__")).toBe("<u>under</u>");
    expect(html("~~gone~~")).toBe("<s>gone</s>");
    expect(html("`a < b`")).toBe('<code class="inline">a &lt; b</code>');
    expect(html("***both***")).toBe("<strong><em>both</em></strong>");
    expect(html("**bold _and it_**")).toBe("<strong>bold <em>and it</em></strong>");
  });

  it("leaves snake_case and lone markers alone", () => {
    expect(html("snake_case_name")).toBe("snake_case_name");
    expect(html("2 * 3 * 4")).toBe("2 * 3 * 4");
    expect(html("**unclosed")).toBe("**unclosed");
    expect(html("a ~~ b")).toBe("a ~~ b");
    expect(html("\\*not italic\\*")).toBe("*not italic*");
  });

  it("code blocks keep their text verbatim", () => {
    const out = html("```js\nconst a = '**x**' < 1;\n```");
    expect(out).toBe('<pre><code data-lang="js">const a = &#39;**x**&#39; &lt; 1;</code></pre>');
    expect(html("``` **no** ```")).toBe("<pre><code> **no** </code></pre>");
  });

  it("block quotes", () => {
    expect(html("> quoted\nplain")).toBe("<blockquote>quoted</blockquote>plain");
    expect(html("before\n>>> all\nof this")).toBe("before<blockquote>all<br>of this</blockquote>");
  });

  it("spoilers are focusable buttons", () => {
    const out = html("||secret||");
    expect(out).toContain('class="spoiler" role="button" tabindex="0"');
    expect(out).toContain(">secret</span>");
  });

  it("links: http(s) only, opened safely", () => {
    expect(html("see https://example.org/a?b=1&c=2.")).toBe(
      'see <a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">https://example.org/a?b=1&amp;c=2</a>.',
    );
    expect(html("[docs](https://example.org/docs)")).toBe(
      '<a href="https://example.org/docs" target="_blank" rel="noopener noreferrer">docs</a>',
    );
    expect(html("[x](javascript:alert(1))")).toBe("[x](javascript:alert(1))");
    expect(html("javascript:alert(1)")).toBe("javascript:alert(1)");
  });

  it("mentions render as names, mine highlighted", () => {
    expect(html("hi <@1>")).toBe('hi <span class="mention me">@alice</span>');
    expect(html("<@!2>")).toBe('<span class="mention">@someone</span>');
    expect(html("<@&9> <@&10>")).toBe('<span class="mention me">@Mods</span> <span class="mention">@deleted-role</span>');
    expect(html("in <#5>")).toBe('in <span class="mention">#general</span>');
  });
});

describe("hostile input", () => {
  const attacks = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click]( javascript:alert(1) )",
    '[x](https://a.example/"onmouseover="alert(1))',
    "[x](https://a.example/\" onclick=alert(1) x=\")",
    "https://a.example/\"><script>alert(1)</script>",
    "<https://a.example/\"onload=\"alert(1)>",
    "[**<b>x</b>**](https://a.example)",
    "||<iframe src=//evil>||",
    "```</code></pre><script>alert(1)</script>```",
    "`</code><script>x</script>`",
    "> <svg onload=alert(1)>",
    "**__~~||*_<a href='javascript:x'>nested</a>_*||~~__**",
    "<@666>",
    "data:text/html,<script>alert(1)</script>",
    "[a](data:text/html;base64,PHNjcmlwdD4=)",
    "&lt;script&gt; &amp; &#x3C;",
    "\u0000<\u0000script>",
  ];
  for (const attack of attacks) {
    it(`is escaped: ${JSON.stringify(attack).slice(0, 60)}`, () => {
      const out = html(attack);
      assertSafe(out);
      expect(out).not.toMatch(/<script|<img|<iframe|<svg/i);
    });
  }

  it("a masked link's label is never a link to somewhere else", () => {
    for (const src of [
      "[https://good.example](https://evil.example)",
      "[<https://good.example>](https://evil.example)",
      "[see https://good.example/x](https://evil.example)",
      "[**HTTPS://good.example**](https://evil.example)",
    ]) {
      const out = html(src);
      assertSafe(out);
      // No anchor inside an anchor (the browser would split them), and the
      // text of a link is never a URL other than where it goes.
      expect(out, src).not.toMatch(/<a [^>]*>(?:(?!<\/a>).)*<a /s);
      for (const m of out.matchAll(/<a href="([^"]*)"[^>]*>(.*?)<\/a>/g)) {
        const shown = /https?:\/\/[^\s<]*/i.exec(m[2].replace(/<[^>]*>/g, ""));
        if (shown) expect(new URL(m[1]).host, src).toBe(new URL(shown[0]).host);
      }
    }
  });

  it("a hostile display name in a mention is escaped", () => {
    expect(html("<@666>")).toBe('<span class="mention">@&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</span>');
  });

  it("unbalanced and deeply nested markup stays linear and safe", () => {
    const deep = "**__~~||*".repeat(200) + "x" + "*||~~__**".repeat(200);
    const out = html(deep);
    assertSafe(out);
    expect(out).toContain("x");
  });

  it("huge inputs render quickly (no catastrophic backtracking)", () => {
    const cases = [
      "*".repeat(100_000),
      "**a".repeat(40_000),
      "_a".repeat(50_000),
      "[".repeat(50_000) + "](",
      "[a](".repeat(25_000),
      "<@".repeat(50_000),
      "https://a.example/" + "a".repeat(100_000),
      "`".repeat(99_999),
      "> ".repeat(50_000),
      "```".repeat(33_333),
      "||a ".repeat(30_000),
      "\\".repeat(100_000),
    ];
    for (const c of cases) {
      const t0 = performance.now();
      const out = html(c);
      const ms = performance.now() - t0;
      // Linear work takes milliseconds; quadratic or exponential work on
      // 100,000 characters takes far longer than this generous bound, which
      // holds on a loaded machine (500 ms did not, under a parallel build).
      expect(ms, `${JSON.stringify(c.slice(0, 12))}… took ${ms} ms`).toBeLessThan(5000);
      assertSafe(out);
    }
  }, 60_000);

  it("safeUrl accepts only http and https", () => {
    expect(safeUrl("https://a.example/x")).toBe("https://a.example/x");
    expect(safeUrl("http://a.example")).toBe("http://a.example/");
    for (const bad of ["javascript:alert(1)", "data:text/html,x", "vbscript:x", "//evil.example", "ftp://x", " https://x"]) {
      expect(safeUrl(bad)).toBeNull();
    }
  });

  it("the tree never carries raw markup as a tag", () => {
    const nodes = parse("<b>bold?</b> **real**");
    expect(nodes[0]).toEqual({ t: "text", v: "<b>bold?</b> " });
    expect(nodes[1]).toEqual({ t: "b", c: [{ t: "text", v: "real" }] });
  });
});
