// Application commands as the composer's picker and the context menus use
// them (pure helpers): which commands a `/` query matches, the invocable
// leaves of a command (subcommands and groups flattened), and the
// `data.options` an invocation sends, built from the form's text values and
// checked against the definition first (the server checks again).

/** Option types (Discord's numbers). */
export const Opt = {
  SubCommand: 1,
  SubCommandGroup: 2,
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Mentionable: 9,
  Number: 10,
  Attachment: 11,
} as const;

/** Command types: 1 slash, 2 user (context menu), 3 message (context menu). */
export const CommandType = { Slash: 1, User: 2, Message: 3 } as const;

export interface CommandChoice {
  name: string;
  value: string | number;
}

export interface CommandOption {
  type: number;
  name: string;
  description?: string;
  required?: boolean;
  choices?: CommandChoice[];
  options?: CommandOption[];
  channel_types?: number[];
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  autocomplete?: boolean;
}

export interface AppCommand {
  id: string;
  application_id: string;
  name: string;
  description?: string;
  type?: number;
  options?: CommandOption[];
  guild_id?: string | null;
}

export interface CommandApplication {
  id: string;
  name: string;
  bot_id?: string;
  bot?: { id: string; username: string };
  icon?: string | null;
}

/** `GET /channels/{id}/application-command-index`. */
export interface CommandIndex {
  applications: CommandApplication[];
  application_commands: AppCommand[];
}

/** One thing the picker offers: a command, or one of its subcommands. */
export interface CommandLeaf {
  command: AppCommand;
  /** Subcommand group and/or subcommand names under the command. */
  path: string[];
  /** `roll`, `config set`, `admin users ban`. */
  label: string;
  description: string;
  options: CommandOption[];
}

/** The query after a leading `/` (spaces included, for `config set`), or null when the text is not a command. */
export function commandQuery(text: string): string | null {
  const m = /^\/([^\n]*)$/.exec(text);
  return m && !m[1].startsWith(" ") ? m[1].toLowerCase() : null;
}

/** A command's invocable leaves: the command itself, or each (group's) subcommand. */
export function commandLeaves(command: AppCommand): CommandLeaf[] {
  const subs = (command.options ?? []).filter((o) => o.type === Opt.SubCommand || o.type === Opt.SubCommandGroup);
  if (!subs.length) {
    return [{ command, path: [], label: command.name, description: command.description ?? "", options: command.options ?? [] }];
  }
  const out: CommandLeaf[] = [];
  for (const s of subs) {
    if (s.type === Opt.SubCommand) {
      out.push({ command, path: [s.name], label: `${command.name} ${s.name}`, description: s.description ?? "", options: s.options ?? [] });
    } else {
      for (const sub of (s.options ?? []).filter((o) => o.type === Opt.SubCommand)) {
        out.push({
          command,
          path: [s.name, sub.name],
          label: `${command.name} ${s.name} ${sub.name}`,
          description: sub.description ?? "",
          options: sub.options ?? [],
        });
      }
    }
  }
  return out;
}

/** The slash-command leaves matching a query: names starting with it first, then containing it. */
export function filterCommands(commands: AppCommand[], query: string): CommandLeaf[] {
  const q = query.trim().toLowerCase();
  const leaves = commands.filter((c) => (c.type ?? 1) === CommandType.Slash).flatMap(commandLeaves);
  const starts = leaves.filter((l) => l.label.toLowerCase().startsWith(q));
  const contains = leaves.filter((l) => !starts.includes(l) && l.label.toLowerCase().includes(q));
  const byLabel = (a: CommandLeaf, b: CommandLeaf) => a.label.localeCompare(b.label);
  return [...starts.sort(byLabel), ...contains.sort(byLabel)];
}

/** Context-menu commands of one type (2 user, 3 message), by name. */
export function contextCommands(commands: AppCommand[], type: 2 | 3): AppCommand[] {
  return commands.filter((c) => c.type === type).sort((a, b) => a.name.localeCompare(b.name));
}

export interface SentOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  focused?: boolean;
  options?: SentOption[];
}

export interface CommandData {
  id: string;
  name: string;
  type: number;
  options?: SentOption[];
  target_id?: string;
}

/** The form's values: text for most options, "true"/"false" for booleans; "" is unset.
 * (A number input bound with Svelte gives a number, or null when empty.) */
export type FormValues = Record<string, string | number | null | undefined>;

const text = (v: string | number | null | undefined) => (v === null || v === undefined ? "" : String(v));

export interface Built {
  data: CommandData;
  /** Option name → what is wrong with its value. Empty when the data can be sent. */
  errors: Record<string, string>;
}

/** One option's value as sent, or an error. */
export function optionValue(o: CommandOption, raw: string): { value?: string | number | boolean; error?: string } {
  const text = raw.trim();
  switch (o.type) {
    case Opt.Integer:
    case Opt.Number: {
      if (!/^-?\d+(\.\d+)?$/.test(text)) return { error: o.type === Opt.Integer ? "Enter a whole number." : "Enter a number." };
      const n = Number(text);
      if (o.type === Opt.Integer && !Number.isInteger(n)) return { error: "Enter a whole number." };
      if (o.min_value !== undefined && n < o.min_value) return { error: `At least ${o.min_value}.` };
      if (o.max_value !== undefined && n > o.max_value) return { error: `At most ${o.max_value}.` };
      if (o.choices?.length && !o.choices.some((c) => Number(c.value) === n)) return { error: "Pick one of the choices." };
      return { value: n };
    }
    case Opt.Boolean:
      if (text !== "true" && text !== "false") return { error: "Choose yes or no." };
      return { value: text === "true" };
    case Opt.String: {
      const len = [...raw].length;
      if (o.min_length !== undefined && len < o.min_length) return { error: `At least ${o.min_length} characters.` };
      if (o.max_length !== undefined && len > o.max_length) return { error: `At most ${o.max_length} characters.` };
      if (o.choices?.length && !o.choices.some((c) => String(c.value) === raw)) return { error: "Pick one of the choices." };
      return { value: raw };
    }
    default:
      // Users, channels, roles, mentionables: a snowflake picked from a list.
      if (!/^\d+$/.test(text)) return { error: "Pick one." };
      return { value: text };
  }
}

function wrap(leaf: CommandLeaf, options: SentOption[]): CommandData {
  const c = leaf.command;
  let opts = options;
  for (let i = leaf.path.length - 1; i >= 0; i--) {
    const type = i === leaf.path.length - 1 ? Opt.SubCommand : Opt.SubCommandGroup;
    opts = [{ name: leaf.path[i], type, options: opts }];
  }
  return { id: c.id, name: c.name, type: c.type ?? CommandType.Slash, ...(opts.length ? { options: opts } : {}) };
}

/** The `data` of a slash command's invocation from the form's values, with every problem found. */
export function buildInvocation(leaf: CommandLeaf, values: FormValues): Built {
  const errors: Record<string, string> = {};
  const options: SentOption[] = [];
  for (const o of leaf.options) {
    const raw = text(values[o.name]);
    if (raw.trim() === "") {
      if (o.required) errors[o.name] = "Required.";
      continue;
    }
    const { value, error } = optionValue(o, raw);
    if (error) errors[o.name] = error;
    else options.push({ name: o.name, type: o.type, value });
  }
  return { data: wrap(leaf, options), errors };
}

/**
 * The `data` of an autocomplete request: the focused option's partial text
 * as it is (unchecked) and focused, with the other options that are
 * already valid.
 */
export function buildAutocomplete(leaf: CommandLeaf, values: FormValues, focused: string): CommandData {
  const options: SentOption[] = [];
  for (const o of leaf.options) {
    const raw = text(values[o.name]);
    if (o.name === focused) {
      const partial = o.type === Opt.Integer || o.type === Opt.Number ? raw.trim() : raw;
      options.push({ name: o.name, type: o.type, value: partial, focused: true });
      continue;
    }
    if (raw.trim() === "") continue;
    const { value, error } = optionValue(o, raw);
    if (!error) options.push({ name: o.name, type: o.type, value });
  }
  return wrap(leaf, options);
}

/** The `data` of a context-menu command used on a user or a message. */
export function contextInvocation(command: AppCommand, targetId: string): CommandData {
  return { id: command.id, name: command.name, type: command.type ?? CommandType.User, target_id: targetId };
}

/** The HTML input a value option gets. */
export function inputKind(o: CommandOption): "text" | "number" | "boolean" | "choice" | "user" | "channel" | "role" | "mentionable" | "file" {
  if (o.choices?.length) return "choice";
  switch (o.type) {
    case Opt.Integer:
    case Opt.Number:
      return "number";
    case Opt.Boolean:
      return "boolean";
    case Opt.User:
      return "user";
    case Opt.Channel:
      return "channel";
    case Opt.Role:
      return "role";
    case Opt.Mentionable:
      return "mentionable";
    case Opt.Attachment:
      return "file";
    default:
      return "text";
  }
}

/** A fresh nonce for an interaction (a snowflake-like decimal string, unique per page). */
let lastNonce = 0n;
export function newNonce(now = Date.now()): string {
  let n = (BigInt(now) - 1420070400000n) << 22n;
  if (n <= lastNonce) n = lastNonce + 1n;
  lastNonce = n;
  return n.toString();
}
