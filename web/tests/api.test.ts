import { describe, expect, it } from "vitest";
import { Api, ApiError } from "../src/lib/api";

function reply(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

describe("REST client", () => {
  it("sends the token and JSON, returns the body", async () => {
    const seen: Request[] = [];
    const api = new Api("tok", "/api/v10", async (input, init) => {
      seen.push(new Request(`http://x${input}`, init));
      return reply(200, { id: "1" });
    });
    expect(await api.send("5", "hi")).toEqual({ id: "1" });
    expect(seen[0].url).toBe("http://x/api/v10/channels/5/messages");
    expect(seen[0].headers.get("Authorization")).toBe("tok");
    expect(await seen[0].json()).toEqual({ content: "hi" });
  });

  it("turns Discord errors into ApiError with field messages", async () => {
    const api = new Api(null, "/api/v10", async () =>
      reply(400, { code: 50035, message: "Invalid Form Body", errors: { login: { _errors: [{ code: "INVALID_LOGIN", message: "Login or password is invalid." }] } } }),
    );
    const err = await api.login("a", "b").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe(50035);
    expect(err.field("login")).toBe("Login or password is invalid.");
    expect(err.details()).toEqual(["login: Login or password is invalid."]);
  });

  it("waits out a 429's retry_after and tries again", async () => {
    let calls = 0;
    const waits: number[] = [];
    const api = new Api(
      "tok",
      "/api/v10",
      async () => (++calls === 1 ? reply(429, { message: "You are being rate limited.", retry_after: 0.25, global: false }) : reply(200, [])),
      async (ms) => void waits.push(ms),
    );
    expect(await api.messages("5")).toEqual([]);
    expect(calls).toBe(2);
    expect(waits).toEqual([250]);
  });

  it("gives up after a few 429s", async () => {
    const api = new Api("t", "/api/v10", async () => reply(429, { message: "slow down", retry_after: 1 }), async () => {});
    const err = await api.me().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(429);
  });
});
