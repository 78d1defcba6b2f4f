// What a person chose for voice, kept in this browser: which microphone,
// camera and speakers, and whether the microphone sends when they speak
// (voice activity) or only while a key is held (push to talk).

const KEY = "fussioncord.voice";

export type InputMode = "voice" | "ptt";

interface Saved {
  input?: string;
  output?: string;
  camera?: string;
  mode?: InputMode;
  pttKey?: string;
}

function load(): Saved {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "{}") as Saved;
  } catch {
    return {};
  }
}

class VoicePrefs {
  /** Device ids; "" is the browser's default. */
  input = $state("");
  output = $state("");
  camera = $state("");
  mode = $state<InputMode>("voice");
  /** `KeyboardEvent.code` of the push-to-talk key. */
  pttKey = $state("Backquote");

  constructor() {
    if (typeof localStorage === "undefined") return;
    const s = load();
    this.input = s.input ?? "";
    this.output = s.output ?? "";
    this.camera = s.camera ?? "";
    this.mode = s.mode === "ptt" ? "ptt" : "voice";
    this.pttKey = s.pttKey || "Backquote";
  }

  save() {
    const s: Saved = { input: this.input, output: this.output, camera: this.camera, mode: this.mode, pttKey: this.pttKey };
    localStorage.setItem(KEY, JSON.stringify(s));
  }

  /** getUserMedia's audio constraints for the chosen microphone. */
  audio(): MediaTrackConstraints | boolean {
    return this.input ? { deviceId: { exact: this.input } } : true;
  }

  /** getUserMedia's video constraints for the chosen camera. */
  video(): MediaTrackConstraints {
    const size = { width: 640, height: 360 };
    return this.camera ? { ...size, deviceId: { exact: this.camera } } : size;
  }
}

export const voicePrefs = new VoicePrefs();

/** A key's name as people know it, from its `KeyboardEvent.code`. */
export function keyName(code: string): string {
  if (code.startsWith("Key")) return code.slice(3);
  if (code.startsWith("Digit")) return code.slice(5);
  return { Backquote: "`", Space: "Space", ControlLeft: "Left Ctrl", ControlRight: "Right Ctrl", ShiftLeft: "Left Shift", AltLeft: "Left Alt" }[code] ?? code;
}
