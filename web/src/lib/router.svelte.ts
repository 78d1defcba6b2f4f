// A tiny router over the History API: the server answers every client path
// with index.html, and this turns `location.pathname` into a Route.

export type Route =
  | { name: "login"; next?: string }
  | { name: "register"; next?: string }
  | { name: "invite"; code: string }
  | { name: "home" } // /channels/@me: friends and DMs
  | { name: "dm"; channelId: string } // /channels/@me/{channel}
  | { name: "guild"; guildId: string; channelId?: string }
  | { name: "notfound" };

export function parseRoute(path: string, search = ""): Route {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const next = new URLSearchParams(search).get("next") ?? undefined;
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : undefined;
  if (parts.length === 0) return { name: "home" };
  switch (parts[0]) {
    case "login":
      return { name: "login", next: safeNext };
    case "register":
      return { name: "register", next: safeNext };
    case "invite":
      return parts[1] ? { name: "invite", code: parts[1] } : { name: "notfound" };
    case "channels":
      if (!parts[1] || parts[1] === "@me") return parts[2] ? { name: "dm", channelId: parts[2] } : { name: "home" };
      return { name: "guild", guildId: parts[1], channelId: parts[2] };
  }
  return { name: "notfound" };
}

class Router {
  route = $state<Route>({ name: "home" });
  path = $state("/");

  constructor() {
    if (typeof window === "undefined") return;
    this.sync();
    window.addEventListener("popstate", () => this.sync());
    // Same-origin links navigate in place (middle-click and modifiers keep the browser's behaviour).
    document.addEventListener("click", (e) => {
      const a = (e.target as Element | null)?.closest?.("a");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      if (a.target === "_blank" || a.origin !== location.origin || a.hasAttribute("download")) return;
      e.preventDefault();
      this.go(a.pathname + a.search);
    });
  }

  go(path: string, replace = false) {
    if (path === location.pathname + location.search) return;
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    this.sync();
  }

  private sync() {
    this.path = location.pathname + location.search;
    this.route = parseRoute(location.pathname, location.search);
  }
}

export const router = new Router();
