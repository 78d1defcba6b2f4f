// Message components and modals (pure helpers): the wire shapes, what a
// click or a choice sends, the text inputs of a modal and its submission
// (checked against the inputs' limits first; the server checks again).

/** Message flags the client reads. */
export const MessageFlag = {
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  ComponentsV2: 1 << 15,
} as const;

/** Component types (Discord's numbers). */
export const C = {
  ActionRow: 1,
  Button: 2,
  StringSelect: 3,
  TextInput: 4,
  UserSelect: 5,
  RoleSelect: 6,
  MentionableSelect: 7,
  ChannelSelect: 8,
  Section: 9,
  TextDisplay: 10,
  Thumbnail: 11,
  MediaGallery: 12,
  File: 13,
  Separator: 14,
  Container: 17,
  Label: 18,
} as const;

export interface ComponentEmoji {
  id?: string | null;
  name?: string | null;
  animated?: boolean;
}

export interface SelectOption {
  label: string;
  value: string;
  description?: string;
  emoji?: ComponentEmoji;
  default?: boolean;
}

export interface UnfurledMedia {
  url: string;
  proxy_url?: string;
}

/** Any component; which fields are set depends on `type`. */
export interface Component {
  type: number;
  id?: number;
  custom_id?: string;
  components?: Component[];
  // buttons
  style?: number;
  label?: string;
  emoji?: ComponentEmoji;
  url?: string;
  disabled?: boolean;
  // selects
  options?: SelectOption[];
  placeholder?: string;
  min_values?: number;
  max_values?: number;
  channel_types?: number[];
  // text inputs
  value?: string;
  min_length?: number;
  max_length?: number;
  required?: boolean;
  // layout (components v2)
  content?: string;
  accessory?: Component;
  media?: UnfurledMedia;
  description?: string;
  spoiler?: boolean;
  items?: { media: UnfurledMedia; description?: string; spoiler?: boolean }[];
  file?: UnfurledMedia;
  divider?: boolean;
  spacing?: number;
  accent_color?: number | null;
  // label (18): one child
  component?: Component;
}

export const BUTTON_STYLES: Record<number, string> = {
  1: "primary",
  2: "secondary",
  3: "success",
  4: "danger",
  5: "link",
  6: "premium",
};

/** A button's CSS class by its style (unknown styles look secondary). */
export function buttonClass(style: number | undefined): string {
  return `cbutton ${BUTTON_STYLES[style ?? 2] ?? "secondary"}`;
}

/** A link button's URL if it may be opened (http or https only), else null. */
export function safeLink(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** A container's accent colour as CSS, or null. */
export function accentColor(n: number | null | undefined): string | null {
  return typeof n === "number" && n >= 0 && n <= 0xffffff ? `#${n.toString(16).padStart(6, "0")}` : null;
}

export function isSelect(type: number): boolean {
  return type === C.StringSelect || (type >= C.UserSelect && type <= C.ChannelSelect);
}

/** The `data` a click (no values) or a select's choice (values) sends. */
export function componentData(c: Component, values?: string[]): { component_type: number; custom_id: string; values?: string[] } {
  return { component_type: c.type, custom_id: c.custom_id ?? "", ...(isSelect(c.type) ? { values: values ?? [] } : {}) };
}

/** Whether a select's choice is within its bounds (min 1 and max 1 unless said). */
export function selectionError(c: Component, values: string[]): string | null {
  const min = c.min_values ?? 1;
  const max = c.max_values ?? 1;
  if (values.length < min) return min === 1 ? "Pick at least one." : `Pick at least ${min}.`;
  if (values.length > max) return max === 1 ? "Pick only one." : `Pick at most ${max}.`;
  return null;
}

/** A modal text input with its label (from a label component 18 or its own `label`). */
export interface ModalField {
  custom_id: string;
  label: string;
  description?: string;
  style: number;
  placeholder?: string;
  value: string;
  min_length?: number;
  max_length?: number;
  required: boolean;
}

/** The text inputs of a modal, in order: inside action rows (1) or labels (18). */
export function modalFields(components: Component[]): ModalField[] {
  const out: ModalField[] = [];
  const field = (input: Component, label?: Component) => {
    if (input.type !== C.TextInput || !input.custom_id) return;
    out.push({
      custom_id: input.custom_id,
      label: label?.label ?? input.label ?? input.custom_id,
      description: label?.description,
      style: input.style ?? 1,
      placeholder: input.placeholder,
      value: input.value ?? "",
      min_length: input.min_length,
      max_length: input.max_length,
      required: input.required ?? true,
    });
  };
  for (const c of components) {
    if (c.type === C.ActionRow) for (const i of c.components ?? []) field(i);
    else if (c.type === C.Label && c.component) field(c.component, c);
    else if (c.type === C.TextInput) field(c);
  }
  return out;
}

/** What is wrong with a field's value, or null. */
export function fieldError(f: ModalField, value: string): string | null {
  const len = [...value].length;
  if (!value.trim() && f.required) return "Required.";
  if (!value && !f.required) return null;
  if (f.min_length !== undefined && len < f.min_length) return `At least ${f.min_length} characters.`;
  if (f.max_length !== undefined && len > f.max_length) return `At most ${f.max_length} characters.`;
  return null;
}

/** A modal's submission `data`, each input in its own action row, with every problem found. */
export function modalSubmission(
  customId: string,
  fields: ModalField[],
  values: Record<string, string>,
): { data: { custom_id: string; components: { type: 1; components: { type: 4; custom_id: string; value: string }[] }[] }; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const components = fields.map((f) => {
    const value = values[f.custom_id] ?? "";
    const e = fieldError(f, value);
    if (e) errors[f.custom_id] = e;
    return { type: 1 as const, components: [{ type: 4 as const, custom_id: f.custom_id, value }] };
  });
  return { data: { custom_id: customId, components }, errors };
}

/** The application that owns a message's components: its `application_id`, or its bot author. */
export function messageApplication(m: { application_id?: string; author: { id: string }; webhook_id?: string }): string {
  return m.application_id ?? m.author.id;
}
