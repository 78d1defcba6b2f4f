//! Message components and modals: Discord's component objects in, checked
//! against Discord's limits (each error at its path), normalised JSON out
//! (known fields only, every component numbered with its `id`), stored with
//! the message as sent. Action rows with buttons and selects, and the
//! layout components of IS_COMPONENTS_V2 messages (sections, text
//! displays, thumbnails, media galleries, files, separators, containers);
//! in modals, text inputs in rows or labels.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::FormErrors;

/// The message flag that makes components the whole message.
pub const IS_COMPONENTS_V2: u64 = 1 << 15;

/// Component types.
pub mod kind {
    pub const ACTION_ROW: u64 = 1;
    pub const BUTTON: u64 = 2;
    pub const STRING_SELECT: u64 = 3;
    pub const TEXT_INPUT: u64 = 4;
    pub const USER_SELECT: u64 = 5;
    pub const ROLE_SELECT: u64 = 6;
    pub const MENTIONABLE_SELECT: u64 = 7;
    pub const CHANNEL_SELECT: u64 = 8;
    pub const SECTION: u64 = 9;
    pub const TEXT_DISPLAY: u64 = 10;
    pub const THUMBNAIL: u64 = 11;
    pub const MEDIA_GALLERY: u64 = 12;
    pub const FILE: u64 = 13;
    pub const SEPARATOR: u64 = 14;
    pub const CONTAINER: u64 = 17;
    pub const LABEL: u64 = 18;
}

const LINK: u64 = 5;
/// Components in one message at most, counting nested ones (v2).
const MAX_TOTAL_V2: usize = 40;
/// Characters of text displays in one message at most (v2).
const MAX_TEXT_V2: usize = 4000;

fn is_select(t: u64) -> bool {
    matches!(
        t,
        kind::STRING_SELECT | kind::USER_SELECT | kind::ROLE_SELECT | kind::MENTIONABLE_SELECT | kind::CHANNEL_SELECT
    )
}

/// Where the components go: a message (legacy rows or v2 layout) or a modal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Message { v2: bool },
    Modal,
}

struct Checker<'e> {
    errors: &'e mut FormErrors,
    place: Place,
    custom_ids: HashSet<String>,
    next_id: u64,
    used_ids: HashSet<u64>,
    total: usize,
    text: usize,
}

/// Checks a message's `components`; `v2` when the message has
/// IS_COMPONENTS_V2. Answers them normalised, ready to store.
pub fn check(errors: &mut FormErrors, input: &Value, v2: bool) -> Vec<Value> {
    Checker::new(errors, Place::Message { v2 }).top(input, "components")
}

/// Checks a modal's components (`data.components` of a MODAL callback).
pub fn check_modal(errors: &mut FormErrors, input: &Value, path: &str) -> Vec<Value> {
    Checker::new(errors, Place::Modal).top(input, path)
}

impl<'e> Checker<'e> {
    fn new(errors: &'e mut FormErrors, place: Place) -> Self {
        Self { errors, place, custom_ids: HashSet::new(), next_id: 1, used_ids: HashSet::new(), total: 0, text: 0 }
    }

    fn top(mut self, input: &Value, path: &str) -> Vec<Value> {
        let Some(list) = input.as_array() else {
            self.errors.add(path, "BASE_TYPE_BAD_TYPE", "Must be an array.");
            return Vec::new();
        };
        let max = match self.place {
            Place::Message { v2: false } | Place::Modal => 5,
            Place::Message { v2: true } => MAX_TOTAL_V2,
        };
        if list.len() > max {
            self.errors.add(path, "BASE_TYPE_MAX_LENGTH", format!("Must be {max} or fewer in length."));
            return Vec::new();
        }
        if self.place == Place::Modal && list.is_empty() {
            self.errors.add(path, "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.");
        }
        // Given ids are kept: number the others after them.
        collect_ids(list, &mut self.used_ids);
        let allowed: &[u64] = match self.place {
            Place::Message { v2: false } => &[kind::ACTION_ROW],
            Place::Message { v2: true } => &[
                kind::ACTION_ROW,
                kind::SECTION,
                kind::TEXT_DISPLAY,
                kind::MEDIA_GALLERY,
                kind::FILE,
                kind::SEPARATOR,
                kind::CONTAINER,
            ],
            Place::Modal => &[kind::ACTION_ROW, kind::LABEL, kind::TEXT_DISPLAY],
        };
        let out: Vec<Value> =
            list.iter().enumerate().filter_map(|(i, c)| self.component(c, &format!("{path}.{i}"), allowed)).collect();
        if matches!(self.place, Place::Message { v2: true }) {
            if self.total > MAX_TOTAL_V2 {
                self.errors.add(
                    path,
                    "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED",
                    format!("Must be {MAX_TOTAL_V2} or fewer components in total."),
                );
            }
            if self.text > MAX_TEXT_V2 {
                self.errors.add(
                    path,
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Text displays must be {MAX_TEXT_V2} or fewer characters in total."),
                );
            }
        }
        out
    }

    fn id(&mut self, given: Option<u64>) -> u64 {
        if let Some(id) = given {
            return id;
        }
        while self.used_ids.contains(&self.next_id) {
            self.next_id += 1;
        }
        self.used_ids.insert(self.next_id);
        self.next_id
    }

    fn component(&mut self, c: &Value, path: &str, allowed: &[u64]) -> Option<Value> {
        let Some(obj) = c.as_object() else {
            self.errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
            return None;
        };
        let t = match obj.get("type").and_then(Value::as_u64) {
            Some(t) => t,
            None => {
                self.errors.add(&format!("{path}.type"), "BASE_TYPE_REQUIRED", "This field is required");
                return None;
            }
        };
        if !allowed.contains(&t) {
            let allowed: Vec<String> = allowed.iter().map(u64::to_string).collect();
            self.errors.add(
                &format!("{path}.type"),
                "UNION_TYPE_CHOICES",
                format!("Value of field \"type\" must be one of ({}).", allowed.join(", ")),
            );
            return None;
        }
        self.total += 1;
        let given = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64().filter(|n| *n >= 1 && *n <= i32::MAX as u64) {
                Some(n) => Some(n),
                None => {
                    self.errors.add(&format!("{path}.id"), "NUMBER_TYPE_COERCE", "Value is not a valid component id.");
                    None
                }
            },
        };
        let mut out = Map::new();
        out.insert("type".into(), json!(t));
        out.insert("id".into(), json!(self.id(given)));
        match t {
            kind::ACTION_ROW => self.row(obj, path, &mut out),
            kind::BUTTON => self.button(obj, path, &mut out),
            kind::TEXT_INPUT => self.text_input(obj, path, &mut out),
            t if is_select(t) => self.select(t, obj, path, &mut out),
            kind::SECTION => self.section(obj, path, &mut out),
            kind::TEXT_DISPLAY => {
                if let Some(s) = self.string(obj, path, "content", 1, MAX_TEXT_V2, true) {
                    self.text += s.chars().count();
                    out.insert("content".into(), json!(s));
                }
            }
            kind::THUMBNAIL => {
                out.insert("media".into(), self.media(obj.get("media"), &format!("{path}.media")));
                self.optional_text(obj, path, "description", 1024, &mut out);
                out.insert("spoiler".into(), json!(bool_of(obj, "spoiler", false)));
            }
            kind::MEDIA_GALLERY => {
                let items = obj.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
                if !(1..=10).contains(&items.len()) {
                    self.errors.add(
                        &format!("{path}.items"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 10 in length.",
                    );
                }
                let items: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = format!("{path}.items.{i}");
                        let mut o = Map::new();
                        o.insert("media".into(), self.media(item.get("media"), &format!("{at}.media")));
                        if let Some(d) = item.get("description").and_then(Value::as_str) {
                            if d.chars().count() > 1024 {
                                self.errors.add(
                                    &format!("{at}.description"),
                                    "BASE_TYPE_MAX_LENGTH",
                                    "Must be 1024 or fewer in length.",
                                );
                            }
                            o.insert("description".into(), json!(d));
                        }
                        o.insert(
                            "spoiler".into(),
                            json!(item.get("spoiler").and_then(Value::as_bool).unwrap_or(false)),
                        );
                        Value::Object(o)
                    })
                    .collect();
                out.insert("items".into(), json!(items));
            }
            kind::FILE => {
                let file = self.media(obj.get("file"), &format!("{path}.file"));
                if !file["url"].as_str().is_some_and(|u| u.starts_with("attachment://")) {
                    self.errors.add(
                        &format!("{path}.file.url"),
                        "COMPONENT_INVALID_FILE_URL",
                        "A file component names one of the message's files (attachment://).",
                    );
                }
                out.insert("file".into(), file);
                out.insert("spoiler".into(), json!(bool_of(obj, "spoiler", false)));
            }
            kind::SEPARATOR => {
                out.insert("divider".into(), json!(bool_of(obj, "divider", true)));
                let spacing = obj.get("spacing").and_then(Value::as_u64).unwrap_or(1);
                if !(1..=2).contains(&spacing) {
                    self.errors.add(&format!("{path}.spacing"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).");
                }
                out.insert("spacing".into(), json!(spacing));
            }
            kind::CONTAINER => {
                let children = [
                    kind::ACTION_ROW,
                    kind::SECTION,
                    kind::TEXT_DISPLAY,
                    kind::MEDIA_GALLERY,
                    kind::FILE,
                    kind::SEPARATOR,
                ];
                let list = self.children(obj, path, "components", 1, MAX_TOTAL_V2, &children);
                out.insert("components".into(), json!(list));
                match obj.get("accent_color") {
                    None | Some(Value::Null) => {}
                    Some(c) => match c.as_u64().filter(|c| *c <= 0xFF_FF_FF) {
                        Some(c) => {
                            out.insert("accent_color".into(), json!(c));
                        }
                        None => self.errors.add(
                            &format!("{path}.accent_color"),
                            "NUMBER_TYPE_MAX",
                            "Must be a colour from 0 to 16777215.",
                        ),
                    },
                }
                out.insert("spoiler".into(), json!(bool_of(obj, "spoiler", false)));
            }
            kind::LABEL => {
                if let Some(l) = self.string(obj, path, "label", 1, 45, true) {
                    out.insert("label".into(), json!(l));
                }
                self.optional_text(obj, path, "description", 100, &mut out);
                let inner = [
                    kind::TEXT_INPUT,
                    kind::STRING_SELECT,
                    kind::USER_SELECT,
                    kind::ROLE_SELECT,
                    kind::MENTIONABLE_SELECT,
                    kind::CHANNEL_SELECT,
                ];
                match obj.get("component") {
                    Some(c) => {
                        if let Some(c) = self.component(c, &format!("{path}.component"), &inner) {
                            out.insert("component".into(), c);
                        }
                    }
                    None => {
                        self.errors.add(&format!("{path}.component"), "BASE_TYPE_REQUIRED", "This field is required")
                    }
                }
            }
            _ => unreachable!("types are checked against the allowed list"),
        }
        Some(Value::Object(out))
    }

    fn children(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        field: &str,
        min: usize,
        max: usize,
        allowed: &[u64],
    ) -> Vec<Value> {
        let at = format!("{path}.{field}");
        let Some(list) = obj.get(field).and_then(Value::as_array) else {
            self.errors.add(&at, "BASE_TYPE_REQUIRED", "This field is required");
            return Vec::new();
        };
        if list.len() < min || list.len() > max {
            self.errors.add(&at, "BASE_TYPE_BAD_LENGTH", format!("Must be between {min} and {max} in length."));
        }
        list.iter().enumerate().filter_map(|(i, c)| self.component(c, &format!("{at}.{i}"), allowed)).collect()
    }

    fn row(&mut self, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        let allowed: &[u64] = match self.place {
            Place::Modal => &[kind::TEXT_INPUT],
            Place::Message { .. } => &[
                kind::BUTTON,
                kind::STRING_SELECT,
                kind::USER_SELECT,
                kind::ROLE_SELECT,
                kind::MENTIONABLE_SELECT,
                kind::CHANNEL_SELECT,
            ],
        };
        let list = self.children(obj, path, "components", 1, 5, allowed);
        let selects = list.iter().filter(|c| c["type"].as_u64().is_some_and(is_select)).count();
        let inputs = list.iter().filter(|c| c["type"] == kind::TEXT_INPUT).count();
        if (selects > 0 || inputs > 0) && list.len() > 1 {
            self.errors.add(
                &format!("{path}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            );
        }
        out.insert("components".into(), json!(list));
    }

    fn section(&mut self, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        let list = self.children(obj, path, "components", 1, 3, &[kind::TEXT_DISPLAY]);
        out.insert("components".into(), json!(list));
        match obj.get("accessory") {
            Some(a) => {
                if let Some(a) = self.component(a, &format!("{path}.accessory"), &[kind::BUTTON, kind::THUMBNAIL]) {
                    out.insert("accessory".into(), a);
                }
            }
            None => self.errors.add(&format!("{path}.accessory"), "BASE_TYPE_REQUIRED", "This field is required"),
        }
    }

    fn custom_id(&mut self, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        if let Some(id) = self.string(obj, path, "custom_id", 1, 100, true) {
            if !self.custom_ids.insert(id.clone()) {
                self.errors.add(
                    &format!("{path}.custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                );
            }
            out.insert("custom_id".into(), json!(id));
        }
    }

    fn button(&mut self, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        let style = obj.get("style").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=5).contains(&style) {
            self.errors.add(&format!("{path}.style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5).");
        }
        out.insert("style".into(), json!(style));
        if style == LINK {
            match self.string(obj, path, "url", 1, 512, true) {
                Some(url)
                    if url.starts_with("https://") || url.starts_with("http://") || url.starts_with("discord://") =>
                {
                    out.insert("url".into(), json!(url));
                }
                Some(_) => self.errors.add(&format!("{path}.url"), "URL_TYPE_INVALID_URL", "Not a well formed URL."),
                None => {}
            }
            if obj.get("custom_id").is_some_and(|v| !v.is_null()) {
                self.errors.add(
                    &format!("{path}.custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE",
                    "A link button has a url and no custom id.",
                );
            }
        } else {
            self.custom_id(obj, path, out);
            if obj.get("url").is_some_and(|v| !v.is_null()) {
                self.errors.add(
                    &format!("{path}.url"),
                    "BUTTON_COMPONENT_CUSTOM_ID_URL_MUTUALLY_EXCLUSIVE",
                    "Only link buttons have a url.",
                );
            }
        }
        let label = self.string(obj, path, "label", 1, 80, false);
        let emoji = obj.get("emoji").filter(|e| !e.is_null()).map(|e| emoji(e));
        if label.is_none() && emoji.is_none() {
            self.errors.add(&format!("{path}.label"), "BASE_TYPE_REQUIRED", "A button needs a label or an emoji.");
        }
        if let Some(l) = label {
            out.insert("label".into(), json!(l));
        }
        if let Some(e) = emoji {
            out.insert("emoji".into(), e);
        }
        out.insert("disabled".into(), json!(bool_of(obj, "disabled", false)));
    }

    fn select(&mut self, t: u64, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        self.custom_id(obj, path, out);
        if let Some(p) = self.string(obj, path, "placeholder", 1, 150, false) {
            out.insert("placeholder".into(), json!(p));
        }
        let min = obj.get("min_values").and_then(Value::as_u64).unwrap_or(1);
        let max = obj.get("max_values").and_then(Value::as_u64).unwrap_or(1);
        if min > 25 {
            self.errors.add(
                &format!("{path}.min_values"),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 25.",
            );
        }
        if !(1..=25).contains(&max) {
            self.errors.add(&format!("{path}.max_values"), "NUMBER_TYPE_MAX", "Must be between 1 and 25.");
        }
        if min > max {
            self.errors.add(
                &format!("{path}.min_values"),
                "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE",
                "min_values must be less than or equal to max_values.",
            );
        }
        out.insert("min_values".into(), json!(min));
        out.insert("max_values".into(), json!(max));
        out.insert("disabled".into(), json!(bool_of(obj, "disabled", false)));
        if self.place == Place::Modal {
            out.insert("required".into(), json!(bool_of(obj, "required", true)));
        }
        if t == kind::STRING_SELECT {
            let options = obj.get("options").and_then(Value::as_array).cloned().unwrap_or_default();
            if !(1..=25).contains(&options.len()) {
                self.errors.add(
                    &format!("{path}.options"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 25 in length.",
                );
            }
            if max as usize > options.len() && !options.is_empty() {
                self.errors.add(
                    &format!("{path}.max_values"),
                    "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                    "max_values must be less than or equal to the number of options.",
                );
            }
            let mut values = HashSet::new();
            let mut defaults = 0;
            let opts: Vec<Value> = options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let at = format!("{path}.options.{i}");
                    let empty = Map::new();
                    let o = o.as_object().unwrap_or(&empty);
                    let mut r = Map::new();
                    for (field, max, required) in
                        [("label", 100, true), ("value", 100, true), ("description", 100, false)]
                    {
                        if let Some(s) = self.string(o, &at, field, 1, max, required) {
                            if field == "value" && !values.insert(s.clone()) {
                                self.errors.add(
                                    &format!("{at}.value"),
                                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                                    "Select option values must be unique.",
                                );
                            }
                            r.insert(field.into(), json!(s));
                        }
                    }
                    if let Some(e) = o.get("emoji").filter(|e| !e.is_null()) {
                        r.insert("emoji".into(), emoji(e));
                    }
                    let default = o.get("default").and_then(Value::as_bool).unwrap_or(false);
                    defaults += usize::from(default);
                    r.insert("default".into(), json!(default));
                    Value::Object(r)
                })
                .collect();
            if defaults > max as usize {
                self.errors.add(
                    &format!("{path}.options"),
                    "SELECT_COMPONENT_TOO_MANY_DEFAULT_VALUES",
                    "More options are default than max_values allows.",
                );
            }
            out.insert("options".into(), json!(opts));
        } else {
            if t == kind::CHANNEL_SELECT {
                if let Some(types) = obj.get("channel_types").and_then(Value::as_array) {
                    let types: Vec<u64> = types.iter().filter_map(Value::as_u64).collect();
                    out.insert("channel_types".into(), json!(types));
                }
            }
            if let Some(defaults) = obj.get("default_values").and_then(Value::as_array) {
                let kinds: &[&str] = match t {
                    kind::USER_SELECT => &["user"],
                    kind::ROLE_SELECT => &["role"],
                    kind::CHANNEL_SELECT => &["channel"],
                    _ => &["user", "role"],
                };
                if defaults.len() < min as usize || defaults.len() > max as usize {
                    self.errors.add(
                        &format!("{path}.default_values"),
                        "BASE_TYPE_BAD_LENGTH",
                        format!("Must be between {min} and {max} in length."),
                    );
                }
                let list: Vec<Value> = defaults
                    .iter()
                    .enumerate()
                    .filter_map(|(i, d)| {
                        let id = d
                            .get("id")
                            .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())));
                        let ty = d.get("type").and_then(Value::as_str);
                        match (id.filter(|s| s.parse::<u64>().is_ok_and(|n| n > 0)), ty.filter(|t| kinds.contains(t))) {
                            (Some(id), Some(ty)) => Some(json!({"id": id, "type": ty})),
                            _ => {
                                self.errors.add(
                                    &format!("{path}.default_values.{i}"),
                                    "BASE_TYPE_BAD_TYPE",
                                    format!("A default value is an id and one of {kinds:?}."),
                                );
                                None
                            }
                        }
                    })
                    .collect();
                out.insert("default_values".into(), json!(list));
            }
        }
    }

    fn text_input(&mut self, obj: &Map<String, Value>, path: &str, out: &mut Map<String, Value>) {
        if self.place != Place::Modal {
            self.errors.add(&format!("{path}.type"), "UNION_TYPE_CHOICES", "Text inputs are for modals.");
            return;
        }
        self.custom_id(obj, path, out);
        let style = obj.get("style").and_then(Value::as_u64).unwrap_or(1);
        if !(1..=2).contains(&style) {
            self.errors.add(&format!("{path}.style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).");
        }
        out.insert("style".into(), json!(style));
        // A label is required unless the input sits in a label component,
        // which names it.
        if let Some(l) = self.string(obj, path, "label", 1, 45, false) {
            out.insert("label".into(), json!(l));
        }
        let min = obj.get("min_length").and_then(Value::as_u64);
        let max = obj.get("max_length").and_then(Value::as_u64);
        if min.is_some_and(|m| m > 4000) {
            self.errors.add(
                &format!("{path}.min_length"),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 4000.",
            );
        }
        if max.is_some_and(|m| !(1..=4000).contains(&m)) {
            self.errors.add(&format!("{path}.max_length"), "NUMBER_TYPE_MAX", "Must be between 1 and 4000.");
        }
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                self.errors.add(
                    &format!("{path}.min_length"),
                    "TEXT_INPUT_MIN_LENGTH_TOO_LARGE",
                    "min_length must be less than or equal to max_length.",
                );
            }
        }
        if let Some(m) = min {
            out.insert("min_length".into(), json!(m));
        }
        if let Some(m) = max {
            out.insert("max_length".into(), json!(m));
        }
        out.insert("required".into(), json!(bool_of(obj, "required", true)));
        for (field, limit) in [("value", 4000), ("placeholder", 100)] {
            if let Some(v) = self.string(obj, path, field, 0, limit, false) {
                out.insert(field.into(), json!(v));
            }
        }
    }

    fn media(&mut self, v: Option<&Value>, path: &str) -> Value {
        match v.and_then(|m| m.get("url")).and_then(Value::as_str) {
            Some(url)
                if url.len() <= 2048
                    && (url.starts_with("https://")
                        || url.starts_with("http://")
                        || url.starts_with("attachment://")) =>
            {
                json!({"url": url})
            }
            Some(_) => {
                self.errors.add(&format!("{path}.url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.");
                Value::Null
            }
            None => {
                self.errors.add(&format!("{path}.url"), "BASE_TYPE_REQUIRED", "This field is required");
                Value::Null
            }
        }
    }

    fn optional_text(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        field: &str,
        max: usize,
        out: &mut Map<String, Value>,
    ) {
        if let Some(s) = self.string(obj, path, field, 1, max, false) {
            out.insert(field.into(), json!(s));
        }
    }

    /// A string field between `min` and `max` characters.
    fn string(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        field: &str,
        min: usize,
        max: usize,
        required: bool,
    ) -> Option<String> {
        let at = format!("{path}.{field}");
        match obj.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.errors.add(&at, "BASE_TYPE_REQUIRED", "This field is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < min || n > max {
                    self.errors.add(&at, "BASE_TYPE_BAD_LENGTH", format!("Must be between {min} and {max} in length."));
                    return None;
                }
                Some(s.clone())
            }
            Some(_) => {
                self.errors.add(&at, "STRING_TYPE_CONVERT", "Could not interpret the value as string.");
                None
            }
        }
    }
}

fn bool_of(obj: &Map<String, Value>, field: &str, default: bool) -> bool {
    obj.get(field).and_then(Value::as_bool).unwrap_or(default)
}

/// A partial emoji: `id`, `name`, `animated`, whatever else was sent dropped.
fn emoji(e: &Value) -> Value {
    let mut o = Map::new();
    if let Some(id) = e.get("id").filter(|v| !v.is_null()) {
        o.insert("id".into(), json!(id.as_str().map(str::to_owned).or_else(|| id.as_u64().map(|n| n.to_string()))));
    }
    if let Some(n) = e.get("name").and_then(Value::as_str) {
        o.insert("name".into(), json!(n.chars().take(32).collect::<String>()));
    }
    if let Some(a) = e.get("animated").and_then(Value::as_bool) {
        o.insert("animated".into(), json!(a));
    }
    Value::Object(o)
}

fn collect_ids(list: &[Value], ids: &mut HashSet<u64>) {
    for c in list {
        if let Some(id) = c.get("id").and_then(Value::as_u64) {
            ids.insert(id);
        }
        for field in ["components", "items"] {
            if let Some(children) = c.get(field).and_then(Value::as_array) {
                collect_ids(children, ids);
            }
        }
        for field in ["accessory", "component"] {
            if let Some(child) = c.get(field) {
                collect_ids(std::slice::from_ref(child), ids);
            }
        }
    }
}

/// The interactive component with `custom_id` in stored components, at any
/// depth.
pub fn find<'a>(components: &'a [Value], custom_id: &str) -> Option<&'a Value> {
    for c in components {
        if c.get("custom_id").and_then(Value::as_str) == Some(custom_id) {
            return Some(c);
        }
        for field in ["components"] {
            if let Some(found) = c.get(field).and_then(Value::as_array).and_then(|l| find(l, custom_id)) {
                return Some(found);
            }
        }
        for field in ["accessory", "component"] {
            if let Some(found) = c.get(field).and_then(|a| find(std::slice::from_ref(a), custom_id)) {
                return Some(found);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(input: Value, v2: bool) -> (Vec<Value>, Value) {
        let mut errors = FormErrors::default();
        let out = check(&mut errors, &input, v2);
        let e = match errors.finish() {
            Ok(()) => Value::Null,
            Err(e) => json!({"errors": e.errors}),
        };
        (out, e)
    }

    #[test]
    fn rows_of_buttons_and_a_select_are_numbered_and_kept() {
        let (out, e) = errors_of(
            json!([
                {"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "Yes", "custom_id": "yes"},
                    {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com"}
                ]},
                {"type": 1, "components": [
                    {"type": 3, "custom_id": "pick", "options": [{"label": "A", "value": "a"}, {"label": "B", "value": "b"}], "max_values": 2}
                ]}
            ]),
            false,
        );
        assert_eq!(e, Value::Null);
        assert_eq!(out[0]["id"], 1);
        assert_eq!(out[0]["components"][0]["id"], 2);
        assert_eq!(out[0]["components"][1]["url"], "https://example.com");
        assert_eq!(out[1]["components"][0]["max_values"], 2);
        assert_eq!(find(&out, "pick").unwrap()["type"], 3);
        assert!(find(&out, "nope").is_none());
    }

    #[test]
    fn broken_components_are_refused_at_their_paths() {
        let (_, e) = errors_of(
            json!([
                {"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "x", "custom_id": "same"},
                    {"type": 2, "style": 2, "label": "y", "custom_id": "same"},
                    {"type": 2, "style": 5, "label": "z"}
                ]},
                {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": []}, {"type": 2, "style": 1, "label": "w", "custom_id": "w"}]},
                {"type": 2, "style": 1, "label": "top", "custom_id": "t"}
            ]),
            false,
        );
        let errors = &e["errors"]["components"];
        assert_eq!(
            errors["0"]["components"]["1"]["custom_id"]["_errors"][0]["code"], "COMPONENT_CUSTOM_ID_DUPLICATED",
            "{e}"
        );
        assert_eq!(errors["0"]["components"]["2"]["url"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED", "{e}");
        assert_eq!(errors["1"]["components"]["_errors"][0]["code"], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "{e}");
        assert_eq!(errors["1"]["components"]["0"]["options"]["_errors"][0]["code"], "BASE_TYPE_BAD_LENGTH", "{e}");
        assert_eq!(errors["2"]["type"]["_errors"][0]["code"], "UNION_TYPE_CHOICES", "{e}");
    }

    #[test]
    fn layout_components_need_the_v2_flag() {
        let layout = json!([{"type": 17, "components": [{"type": 10, "content": "hello"}, {"type": 14}]}]);
        let (_, e) = errors_of(layout.clone(), false);
        assert_eq!(e["errors"]["components"]["0"]["type"]["_errors"][0]["code"], "UNION_TYPE_CHOICES");
        let (out, e) = errors_of(layout, true);
        assert_eq!(e, Value::Null);
        assert_eq!(out[0]["components"][1]["divider"], true);
    }

    #[test]
    fn modals_take_text_inputs_and_messages_do_not() {
        let mut errors = FormErrors::default();
        let modal = json!([{"type": 1, "components": [{"type": 4, "custom_id": "name", "label": "Name", "style": 1}]}]);
        let out = check_modal(&mut errors, &modal, "data.components");
        assert!(errors.is_empty());
        assert_eq!(out[0]["components"][0]["required"], true);
        let (_, e) = errors_of(modal, false);
        assert_ne!(e, Value::Null);
    }
}
