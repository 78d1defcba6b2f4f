import { describe, expect, it } from "vitest";
import { keyName } from "../src/lib/voicePrefs.svelte";

describe("voice preferences", () => {
  it("names push-to-talk keys as people know them", () => {
    expect(keyName("KeyV")).toBe("V");
    expect(keyName("Digit4")).toBe("4");
    expect(keyName("Backquote")).toBe("`");
    expect(keyName("ControlLeft")).toBe("Left Ctrl");
    expect(keyName("F13")).toBe("F13");
  });
});
