//! Application commands: the slash commands (`CHAT_INPUT`) and user and
//! message context-menu commands an application registers, globally or for
//! one guild its bot is in. Only the application's own bot manages them.
//!
//! A body is read as JSON and checked field by field against Discord's
//! rules, each error at its path (`options.0.name`), so libraries show
//! authors what Discord would. Options and localizations are stored as the
//! JSON of the checked `model::command` types; a change is a new version.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};

use model::command::{
    kind, option_kind, ApplicationCommand, CommandChoice, CommandOption, GuildCommandPermissions, Localizations,
};
use model::id::{GenericMarker, Id};
use store::{CommandId, CommandRow, CommandUpsert, GuildId, StoreError, UserId, UserRow};

use crate::error::StatusCode;
use crate::{access, Domain, Error, FormErrors, Result};

/// Commands of one type an application may have in one scope (globally, or
/// in one guild).
pub fn max_of_type(kind: u8) -> usize {
    match kind {
        kind::CHAT_INPUT => 100,
        _ => 5,
    }
}

const MAX_NAME: usize = 32;
const MAX_DESCRIPTION: usize = 100;
const MAX_OPTIONS: usize = 25;
const MAX_CHOICES: usize = 25;
const MAX_CHOICE_NAME: usize = 100;
const MAX_CHOICE_VALUE: usize = 100;
const MAX_STRING_LENGTH: u64 = 6000;
/// The characters a command may have in all (Discord's limit): its name and
/// description, and its options' and their choices', nested ones included.
const MAX_COMMAND_SIZE: usize = 8000;
/// Integers Discord takes: within ±2^53, as JavaScript's safe integers.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// Permission bits a command may ask for (the spec's bound).
const MAX_PERMISSIONS: u64 = (1 << 54) - 1;
/// The channel types Discord has.
const CHANNEL_TYPES: &[u64] = &[0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16];

/// Discord's rule for slash command and option names: letters, digits, `-`
/// and `_` in any script (Devanagari and Thai with their marks), 1 to 32,
/// no capitals.
static CHAT_INPUT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-_\p{L}\p{N}\p{Devanagari}\p{Thai}]{1,32}$").expect("the name pattern compiles"));

/// The scope of a request: an application's global commands or those of
/// one guild.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub application: UserId,
    pub guild: Option<GuildId>,
}

/// The scope, if `user` is the application's bot (and, for a guild, in
/// it): another application's commands are 50001, a guild the bot is not
/// in 50001, an unknown guild 10004.
async fn scope(ctx: &Domain, user: &UserRow, application: UserId, guild: Option<GuildId>) -> Result<Scope> {
    if !user.bot || user.id != application {
        return Err(Error::missing_access());
    }
    if let Some(guild) = guild {
        access::guild(ctx, user, guild).await?;
    }
    Ok(Scope { application, guild })
}

pub(crate) fn unknown_command() -> Error {
    Error::new(StatusCode::NOT_FOUND, 10063, "Unknown application command")
}

fn max_commands(kind: u8) -> Error {
    Error::new(
        StatusCode::BAD_REQUEST,
        30032,
        format!("Maximum number of application commands reached ({})", max_of_type(kind)),
    )
}

fn name_taken(path: &str) -> Error {
    Error::field(path, "APPLICATION_COMMAND_ALREADY_EXISTS", "Application command with that name already exists")
}

/// The scope's commands; localization maps only `with_localizations`.
pub async fn list(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    with_localizations: bool,
) -> Result<Vec<ApplicationCommand>> {
    let scope = scope(ctx, user, application, guild).await?;
    let rows = ctx.store.commands(scope.application, scope.guild).await?;
    rows.iter().map(|r| render(r, with_localizations)).collect()
}

pub async fn get(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    id: CommandId,
) -> Result<ApplicationCommand> {
    let scope = scope(ctx, user, application, guild).await?;
    let row = ctx.store.command(scope.application, scope.guild, id).await?.ok_or_else(unknown_command)?;
    render(&row, true)
}

/// Creates a command, or overwrites the scope's command of the same type
/// and name (Discord's upsert); `true` when it is new.
pub async fn create(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    body: &Value,
) -> Result<(ApplicationCommand, bool)> {
    let scope = scope(ctx, user, application, guild).await?;
    let mut errors = FormErrors::default();
    let draft = parse_command(body, "", &mut errors);
    errors.finish()?;
    let draft = draft.ok_or_else(|| Error::field("", "MODEL_TYPE_CONVERT", "Only dictionaries may be used."))?;
    let row = draft.into_row(ctx.ids.next()?, scope, version(ctx)?);
    match ctx.store.upsert_command(&row, max_of_type(row.kind)).await? {
        CommandUpsert::Created(row) => Ok((render(&row, true)?, true)),
        CommandUpsert::Replaced(row) => Ok((render(&row, true)?, false)),
        CommandUpsert::Full => Err(max_commands(row.kind)),
    }
}

/// Changes the fields the body names; the command keeps its type and id
/// and gets a new version.
pub async fn update(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    id: CommandId,
    body: &Value,
) -> Result<ApplicationCommand> {
    let scope = scope(ctx, user, application, guild).await?;
    let before = ctx.store.command(scope.application, scope.guild, id).await?.ok_or_else(unknown_command)?;
    let Value::Object(patch) = body else {
        return Err(Error::field("", "MODEL_TYPE_CONVERT", "Only dictionaries may be used."));
    };
    // The stored command as a body, with the patch's fields laid over it:
    // checked whole, as a create would be.
    let mut merged = match serde_json::to_value(render(&before, true)?) {
        Ok(Value::Object(map)) => map,
        _ => return Err(Error::internal("a command renders as an object")),
    };
    for (key, value) in patch {
        if !matches!(key.as_str(), "id" | "type" | "application_id" | "guild_id" | "version") {
            merged.insert(key.clone(), value.clone());
        }
    }
    let mut errors = FormErrors::default();
    let draft = parse_command(&Value::Object(merged), "", &mut errors);
    errors.finish()?;
    let Some(draft) = draft else { return Err(Error::internal("a merged command is an object")) };
    let row = draft.into_row(before.id, scope, version(ctx)?);
    match ctx.store.update_command(&row).await {
        Ok(true) => render(&row, true),
        Ok(false) => Err(unknown_command()),
        Err(StoreError::Conflict(_)) => Err(name_taken("name")),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    id: CommandId,
) -> Result<()> {
    let scope = scope(ctx, user, application, guild).await?;
    if !ctx.store.delete_command(scope.application, scope.guild, id).await? {
        return Err(unknown_command());
    }
    Ok(())
}

/// Replaces the scope's commands with the body's list (Discord's bulk
/// overwrite): commands named by `id`, or by type and name, keep their id
/// (and their version when nothing changed); the rest are new; commands
/// not in the list are deleted.
pub async fn overwrite(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: Option<GuildId>,
    items: &[Value],
) -> Result<Vec<ApplicationCommand>> {
    let scope = scope(ctx, user, application, guild).await?;
    let mut errors = FormErrors::default();
    let drafts: Vec<(usize, Draft)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_command(item, &format!("{i}"), &mut errors).map(|d| (i, d)))
        .collect();
    let mut seen = HashSet::new();
    for (i, draft) in &drafts {
        if !seen.insert((draft.kind, draft.name.clone())) {
            errors.add(
                &format!("{i}.name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            );
        }
    }
    errors.finish()?;
    for kind in [kind::CHAT_INPUT, kind::USER, kind::MESSAGE] {
        if drafts.iter().filter(|(_, d)| d.kind == kind).count() > max_of_type(kind) {
            return Err(max_commands(kind));
        }
    }
    let existing = ctx.store.commands(scope.application, scope.guild).await?;
    let mut taken = HashSet::new();
    let mut rows = Vec::with_capacity(drafts.len());
    for (i, draft) in drafts {
        let by_id = items[i].get("id").and_then(Value::as_str).and_then(|s| s.parse::<CommandId>().ok());
        let old =
            existing.iter().find(|c| Some(c.id) == by_id && c.kind == draft.kind && !taken.contains(&c.id)).or_else(
                || existing.iter().find(|c| c.kind == draft.kind && c.name == draft.name && !taken.contains(&c.id)),
            );
        let row = match old {
            Some(old) => {
                taken.insert(old.id);
                let same = draft.clone().into_row(old.id, scope, old.version);
                if same == *old {
                    same
                } else {
                    draft.into_row(old.id, scope, version(ctx)?)
                }
            }
            None => draft.into_row(ctx.ids.next()?, scope, version(ctx)?),
        };
        rows.push(row);
    }
    ctx.store.replace_commands(scope.application, scope.guild, &rows).await?;
    rows.iter().map(|r| render(r, true)).collect()
}

/// `GET …/guilds/{guild_id}/commands/permissions`: no command has
/// permissions of its own here (they cannot be set by a bot), so none.
pub async fn guild_permissions(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: GuildId,
) -> Result<Vec<GuildCommandPermissions>> {
    scope(ctx, user, application, Some(guild)).await?;
    Ok(Vec::new())
}

/// `GET …/guilds/{guild_id}/commands/{command_id}/permissions`: the
/// command (global, or the guild's) with no overrides.
pub async fn command_permissions(
    ctx: &Domain,
    user: &UserRow,
    application: UserId,
    guild: GuildId,
    id: CommandId,
) -> Result<GuildCommandPermissions> {
    let scope = scope(ctx, user, application, Some(guild)).await?;
    let found = match ctx.store.command(scope.application, Some(guild), id).await? {
        Some(row) => Some(row),
        None => ctx.store.command(scope.application, None, id).await?,
    };
    found.ok_or_else(unknown_command)?;
    Ok(GuildCommandPermissions {
        id: id.cast(),
        application_id: scope.application.cast(),
        guild_id: guild,
        permissions: Vec::new(),
    })
}

fn version(ctx: &Domain) -> Result<u64> {
    Ok(ctx.ids.next::<GenericMarker>()?.get())
}

/// A command as checked, before it has an id.
#[derive(Debug, Clone)]
struct Draft {
    kind: u8,
    name: String,
    name_localizations: Option<Localizations>,
    description: String,
    description_localizations: Option<Localizations>,
    options: Vec<CommandOption>,
    default_member_permissions: Option<u64>,
    dm_permission: bool,
    contexts: Option<Vec<u8>>,
    integration_types: Vec<u8>,
    nsfw: bool,
}

impl Draft {
    fn into_row(self, id: CommandId, scope: Scope, version: u64) -> CommandRow {
        let map = |m: Option<Localizations>| m.map(|m| serde_json::to_string(&m).expect("maps serialise"));
        CommandRow {
            id,
            application_id: scope.application,
            guild_id: scope.guild,
            kind: self.kind,
            name: self.name,
            name_localizations: map(self.name_localizations),
            description: self.description,
            description_localizations: map(self.description_localizations),
            options: serde_json::to_string(&self.options).expect("options serialise"),
            default_member_permissions: self.default_member_permissions,
            // Guild commands have no DM setting.
            dm_permission: scope.guild.is_none() && self.dm_permission,
            contexts: self.contexts.map(|c| Value::from(c).to_string()),
            integration_types: Value::from(self.integration_types).to_string(),
            nsfw: self.nsfw,
            version,
        }
    }
}

/// A stored command as Discord sends it; it was checked when written, so
/// JSON that does not read back is a corrupt row.
pub fn render(row: &CommandRow, with_localizations: bool) -> Result<ApplicationCommand> {
    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| Error::internal(format!("corrupt command row: {e}")))
    }
    let localizations = |text: &Option<String>| -> Result<Option<Option<Localizations>>> {
        if !with_localizations {
            return Ok(None);
        }
        Ok(Some(text.as_deref().map(parse).transpose()?))
    };
    let mut options: Vec<CommandOption> = parse(&row.options)?;
    if !with_localizations {
        options = options.into_iter().map(CommandOption::without_localizations).collect();
    }
    Ok(ApplicationCommand {
        id: row.id,
        kind: row.kind,
        application_id: row.application_id.cast(),
        guild_id: row.guild_id,
        name: row.name.clone(),
        name_localizations: localizations(&row.name_localizations)?,
        description: row.description.clone(),
        description_localizations: localizations(&row.description_localizations)?,
        options,
        default_member_permissions: row.default_member_permissions.map(|p| p.to_string()),
        dm_permission: row.guild_id.is_none().then_some(row.dm_permission),
        contexts: row.contexts.as_deref().map(parse).transpose()?,
        integration_types: parse(&row.integration_types)?,
        nsfw: row.nsfw,
        version: Id::new_checked(row.version).ok_or_else(|| Error::internal("command version 0"))?,
    })
}

// ---------------------------------------------------------------------------
// Checking a body.
// ---------------------------------------------------------------------------

/// `prefix.field`, or `field` at the top.
fn at(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// A present, non-null field.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn boolean(obj: &Map<String, Value>, name: &str, path: &str, errors: &mut FormErrors) -> Option<bool> {
    match field(obj, name) {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add(path, "BASE_TYPE_BOOLEAN", "Must be either true or false.");
            None
        }
    }
}

/// A string field of `min..=max` characters.
fn text(value: Option<&Value>, path: &str, min: usize, max: usize, errors: &mut FormErrors) -> Option<String> {
    match value {
        None => {
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required");
            None
        }
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < min || n > max {
                errors.add(path, "BASE_TYPE_BAD_LENGTH", format!("Must be between {min} and {max} in length."));
                None
            } else {
                Some(s.clone())
            }
        }
        Some(_) => {
            errors.add(path, "BASE_TYPE_STRING", "Must be a string.");
            None
        }
    }
}

/// A slash command's or option's name: Discord's pattern, and no capitals.
fn chat_input_name(value: Option<&Value>, path: &str, errors: &mut FormErrors) -> Option<String> {
    let name = text(value, path, 1, MAX_NAME, errors)?;
    if !CHAT_INPUT_NAME.is_match(&name) || name.chars().any(char::is_uppercase) {
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
        return None;
    }
    Some(name)
}

/// A locale → text map: Discord's locales only, each text checked as the
/// field it translates (`check`). An empty map is none.
fn localizations(
    value: Option<&Value>,
    path: &str,
    errors: &mut FormErrors,
    check: impl Fn(Option<&Value>, &str, &mut FormErrors) -> Option<String>,
) -> Option<Localizations> {
    let map = match value {
        None => return None,
        Some(Value::Object(map)) => map,
        Some(_) => {
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType");
            return None;
        }
    };
    let mut out = BTreeMap::new();
    for (locale, text) in map {
        let p = format!("{path}.{locale}");
        if !model::locale::is_known(locale) {
            errors.add(&p, "LOCALE_INVALID", format!("Invalid locale \"{locale}\"."));
            continue;
        }
        if let Some(t) = check(Some(text), &p, errors) {
            out.insert(locale.clone(), t);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A list of small integers from `allowed`, unique, at least one.
fn small_ints(value: Option<&Value>, path: &str, allowed: &[u64], errors: &mut FormErrors) -> Option<Vec<u8>> {
    let items = match value? {
        Value::Array(items) => items,
        _ => {
            errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.");
            return None;
        }
    };
    if items.is_empty() {
        errors.add(path, "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.");
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_u64().filter(|n| allowed.contains(n)) {
            Some(n) if !out.contains(&(n as u8)) => out.push(n as u8),
            Some(_) => errors.add(
                &format!("{path}.{i}"),
                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                "The set already contains this value.",
            ),
            None => {
                errors.add(&format!("{path}.{i}"), "BASE_TYPE_CHOICES", format!("Value must be one of {allowed:?}."))
            }
        }
    }
    Some(out)
}

fn permissions(value: Option<&Value>, path: &str, errors: &mut FormErrors) -> Option<u64> {
    let bits = match value? {
        Value::String(s) => s.parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match bits.filter(|b| *b <= MAX_PERMISSIONS) {
        Some(bits) => Some(bits),
        None => {
            errors.add(path, "NUMBER_TYPE_COERCE", format!("Value \"{}\" is not a valid permission set.", value?));
            None
        }
    }
}

/// A command (a create body, one item of an overwrite, or a stored command
/// with a patch laid over it) at `prefix`; `None` if it is not an object.
fn parse_command(body: &Value, prefix: &str, errors: &mut FormErrors) -> Option<Draft> {
    let Value::Object(obj) = body else {
        errors.add(prefix, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
        return None;
    };
    let p = |f: &str| at(prefix, f);
    let kind = match field(obj, "type") {
        None => kind::CHAT_INPUT,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=3) => n as u8,
            _ => {
                errors.add(&p("type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3}.");
                kind::CHAT_INPUT
            }
        },
    };
    let chat = kind == kind::CHAT_INPUT;
    let any_name = |v: Option<&Value>, path: &str, e: &mut FormErrors| text(v, path, 1, MAX_NAME, e);
    let name = if chat {
        chat_input_name(field(obj, "name"), &p("name"), errors)
    } else {
        any_name(field(obj, "name"), &p("name"), errors)
    };
    let name_localizations = if chat {
        localizations(field(obj, "name_localizations"), &p("name_localizations"), errors, chat_input_name)
    } else {
        localizations(field(obj, "name_localizations"), &p("name_localizations"), errors, any_name)
    };
    let description_text = |v: Option<&Value>, path: &str, e: &mut FormErrors| text(v, path, 1, MAX_DESCRIPTION, e);
    let (description, description_localizations) = if chat {
        (
            description_text(field(obj, "description"), &p("description"), errors),
            localizations(
                field(obj, "description_localizations"),
                &p("description_localizations"),
                errors,
                description_text,
            ),
        )
    } else {
        // Context-menu commands have no description (libraries send "").
        if field(obj, "description").is_some_and(|d| d != "") {
            errors.add(
                &p("description"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            );
        }
        if field(obj, "description_localizations").is_some_and(|d| d.as_object().is_none_or(|m| !m.is_empty())) {
            errors.add(
                &p("description_localizations"),
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            );
        }
        (Some(String::new()), None)
    };
    let options = if chat {
        parse_options(field(obj, "options"), &p("options"), Level::Command, errors)
    } else {
        if field(obj, "options").is_some_and(|o| o.as_array().is_none_or(|a| !a.is_empty())) {
            errors.add(
                &p("options"),
                "APPLICATION_COMMAND_CONTEXT_MENU_OPTIONS",
                "Context menu commands cannot have options",
            );
        }
        Vec::new()
    };
    let default_member_permissions =
        permissions(field(obj, "default_member_permissions"), &p("default_member_permissions"), errors);
    let dm_permission = boolean(obj, "dm_permission", &p("dm_permission"), errors).unwrap_or(true);
    let contexts = small_ints(field(obj, "contexts"), &p("contexts"), &[0, 1, 2], errors);
    let integration_types = small_ints(field(obj, "integration_types"), &p("integration_types"), &[0, 1], errors)
        .unwrap_or_else(|| vec![0]);
    let nsfw = boolean(obj, "nsfw", &p("nsfw"), errors).unwrap_or(false);
    let name = name.unwrap_or_default();
    let description = description.unwrap_or_default();
    let size = name.chars().count() + description.chars().count() + options.iter().map(size_of).sum::<usize>();
    if size > MAX_COMMAND_SIZE {
        errors.add(
            prefix,
            "APPLICATION_COMMAND_TOO_LARGE",
            format!("Command exceeds maximum size ({MAX_COMMAND_SIZE})"),
        );
    }
    Some(Draft {
        kind,
        name,
        name_localizations,
        description,
        description_localizations,
        options,
        default_member_permissions,
        dm_permission,
        contexts,
        integration_types,
        nsfw,
    })
}

/// The characters of an option's names, descriptions and choices (names
/// and values), its own options' included: Discord's measure of a
/// command's size.
fn size_of(option: &CommandOption) -> usize {
    let text = |s: &str| s.chars().count();
    let choices = option.choices.iter().flatten().map(|c| {
        text(&c.name)
            + match &c.value {
                Value::String(v) => text(v),
                other => text(&other.to_string()),
            }
    });
    text(&option.name)
        + text(&option.description)
        + choices.sum::<usize>()
        + option.options.iter().flatten().map(size_of).sum::<usize>()
}

/// Where a list of options is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A command's own options: subcommands and groups, or values.
    Command,
    /// A group's: subcommands only.
    Group,
    /// A subcommand's: values only.
    Subcommand,
}

fn is_subcommand(kind: u8) -> bool {
    matches!(kind, option_kind::SUB_COMMAND | option_kind::SUB_COMMAND_GROUP)
}

fn parse_options(value: Option<&Value>, path: &str, level: Level, errors: &mut FormErrors) -> Vec<CommandOption> {
    let items = match value {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.");
            return Vec::new();
        }
    };
    if items.len() > MAX_OPTIONS {
        errors.add(path, "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_OPTIONS} or fewer in length."));
        return Vec::new();
    }
    let mut out: Vec<CommandOption> = Vec::new();
    let mut names = HashSet::new();
    let mut optional_seen = false;
    // Whether the command's first option made it one of subcommands.
    let mut subcommands: Option<bool> = None;
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}.{i}");
        let Some(option) = parse_option(item, &p, level, errors) else { continue };
        if !names.insert(option.name.clone()) {
            errors.add(
                &format!("{p}.name"),
                "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            );
        }
        if level == Level::Command {
            let sub = is_subcommand(option.kind);
            if *subcommands.get_or_insert(sub) != sub {
                errors.add(
                    &format!("{p}.type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Subcommands and groups cannot be mixed with other options",
                );
            }
        }
        if !is_subcommand(option.kind) {
            if option.required == Some(true) {
                if optional_seen {
                    errors.add(
                        &format!("{p}.required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    );
                }
            } else {
                optional_seen = true;
            }
        }
        out.push(option);
    }
    out
}

fn parse_option(item: &Value, p: &str, level: Level, errors: &mut FormErrors) -> Option<CommandOption> {
    let Value::Object(obj) = item else {
        errors.add(p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
        return None;
    };
    let f = |name: &str| format!("{p}.{name}");
    let kind = match field(obj, "type").map(Value::as_u64) {
        Some(Some(n @ 1..=11)) => n as u8,
        Some(_) => {
            errors.add(&f("type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.");
            return None;
        }
        None => {
            errors.add(&f("type"), "BASE_TYPE_REQUIRED", "This field is required");
            return None;
        }
    };
    let allowed_here = match level {
        Level::Command => true,
        Level::Group => kind == option_kind::SUB_COMMAND,
        Level::Subcommand => !is_subcommand(kind),
    };
    if !allowed_here {
        let why = if level == Level::Group {
            "A group may hold subcommands only"
        } else {
            "Subcommands cannot hold subcommands or groups"
        };
        errors.add(&f("type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", why);
    }
    let description_text = |v: Option<&Value>, path: &str, e: &mut FormErrors| text(v, path, 1, MAX_DESCRIPTION, e);
    let name = chat_input_name(field(obj, "name"), &f("name"), errors);
    let name_localizations =
        localizations(field(obj, "name_localizations"), &f("name_localizations"), errors, chat_input_name);
    let description = description_text(field(obj, "description"), &f("description"), errors);
    let description_localizations = localizations(
        field(obj, "description_localizations"),
        &f("description_localizations"),
        errors,
        description_text,
    );
    let required = boolean(obj, "required", &f("required"), errors).unwrap_or(false);
    if required && is_subcommand(kind) {
        errors.add(
            &f("required"),
            "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
            "Subcommands and groups cannot be required",
        );
    }

    // Fields only some types have: present on another type (and not empty
    // or false) is an error at the field.
    let wrong_type = |name: &str, errors: &mut FormErrors| {
        let set = match field(obj, name) {
            None => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Bool(b)) => *b,
            Some(_) => true,
        };
        if set {
            errors.add(
                &f(name),
                "APPLICATION_COMMAND_OPTION_FIELD_INVALID",
                format!("This option type cannot have {name}"),
            );
        }
    };
    let valued = matches!(kind, option_kind::STRING | option_kind::INTEGER | option_kind::NUMBER);
    let numeric = matches!(kind, option_kind::INTEGER | option_kind::NUMBER);

    let choices = if valued {
        parse_choices(field(obj, "choices"), &f("choices"), kind, errors)
    } else {
        wrong_type("choices", errors);
        None
    };
    let autocomplete = if valued {
        boolean(obj, "autocomplete", &f("autocomplete"), errors).filter(|a| *a)
    } else {
        wrong_type("autocomplete", errors);
        None
    };
    if autocomplete.is_some() && choices.as_ref().is_some_and(|c| !c.is_empty()) {
        errors.add(
            &f("autocomplete"),
            "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
            "Autocomplete cannot be set with choices",
        );
    }
    let (min_value, max_value) = if numeric {
        let min = bound(field(obj, "min_value"), &f("min_value"), kind, errors);
        let max = bound(field(obj, "max_value"), &f("max_value"), kind, errors);
        if let (Some(a), Some(b)) = (&min, &max) {
            if a.as_f64() > b.as_f64() {
                errors.add(&f("min_value"), "NUMBER_TYPE_MAX", "min_value must not be greater than max_value");
            }
        }
        (min, max)
    } else {
        wrong_type("min_value", errors);
        wrong_type("max_value", errors);
        (None, None)
    };
    let (min_length, max_length) = if kind == option_kind::STRING {
        let min = length(field(obj, "min_length"), &f("min_length"), 0, errors);
        let max = length(field(obj, "max_length"), &f("max_length"), 1, errors);
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                errors.add(&f("min_length"), "NUMBER_TYPE_MAX", "min_length must not be greater than max_length");
            }
        }
        (min, max)
    } else {
        wrong_type("min_length", errors);
        wrong_type("max_length", errors);
        (None, None)
    };
    let channel_types = if kind == option_kind::CHANNEL {
        small_ints(field(obj, "channel_types"), &f("channel_types"), CHANNEL_TYPES, errors)
    } else {
        wrong_type("channel_types", errors);
        None
    };
    let options = match kind {
        option_kind::SUB_COMMAND_GROUP => {
            Some(parse_options(field(obj, "options"), &f("options"), Level::Group, errors))
        }
        option_kind::SUB_COMMAND => {
            Some(parse_options(field(obj, "options"), &f("options"), Level::Subcommand, errors))
        }
        _ => {
            wrong_type("options", errors);
            None
        }
    };
    Some(CommandOption {
        kind,
        name: name.unwrap_or_default(),
        name_localizations: name_localizations.map(Some),
        description: description.unwrap_or_default(),
        description_localizations: description_localizations.map(Some),
        required: required.then_some(true),
        choices: choices.filter(|c| !c.is_empty()),
        options: options.filter(|o| !o.is_empty()),
        channel_types,
        min_value,
        max_value,
        min_length,
        max_length,
        autocomplete,
    })
}

fn parse_choices(value: Option<&Value>, path: &str, kind: u8, errors: &mut FormErrors) -> Option<Vec<CommandChoice>> {
    let items = match value? {
        Value::Array(items) => items,
        _ => {
            errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.");
            return None;
        }
    };
    if items.len() > MAX_CHOICES {
        errors.add(path, "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_CHOICES} or fewer in length."));
        return None;
    }
    let choice_name = |v: Option<&Value>, path: &str, e: &mut FormErrors| text(v, path, 1, MAX_CHOICE_NAME, e);
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}.{i}");
        let Value::Object(obj) = item else {
            errors.add(&p, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType");
            continue;
        };
        let name = choice_name(field(obj, "name"), &format!("{p}.name"), errors);
        let name_localizations =
            localizations(field(obj, "name_localizations"), &format!("{p}.name_localizations"), errors, choice_name);
        let vp = format!("{p}.value");
        let value = match (kind, field(obj, "value")) {
            (_, None) => {
                errors.add(&vp, "BASE_TYPE_REQUIRED", "This field is required");
                None
            }
            (option_kind::STRING, Some(Value::String(s))) => {
                if s.chars().count() > MAX_CHOICE_VALUE {
                    errors.add(&vp, "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_CHOICE_VALUE} or fewer in length."));
                }
                Some(Value::String(s.clone()))
            }
            (option_kind::STRING, Some(_)) => {
                errors.add(&vp, "BASE_TYPE_STRING", "Must be a string.");
                None
            }
            (option_kind::INTEGER, Some(v)) => match v.as_i64().filter(|n| n.abs() <= MAX_SAFE_INTEGER) {
                Some(n) => Some(Value::from(n)),
                None => {
                    errors.add(&vp, "NUMBER_TYPE_COERCE", format!("Value \"{v}\" is not int."));
                    None
                }
            },
            (_, Some(v)) => match v.as_f64().filter(|n| n.is_finite()) {
                Some(_) => Some(v.clone()),
                None => {
                    errors.add(&vp, "NUMBER_TYPE_COERCE", format!("Value \"{v}\" is not a valid number."));
                    None
                }
            },
        };
        if let (Some(name), Some(value)) = (name, value) {
            out.push(CommandChoice { name, name_localizations: name_localizations.map(Some), value });
        }
    }
    Some(out)
}

/// `min_value`/`max_value`: an integer within ±2^53 for INTEGER, any
/// number for NUMBER.
fn bound(value: Option<&Value>, path: &str, kind: u8, errors: &mut FormErrors) -> Option<Number> {
    let v = value?;
    let ok = match kind {
        option_kind::INTEGER => v.as_i64().is_some_and(|n| n.abs() <= MAX_SAFE_INTEGER),
        _ => v.as_f64().is_some_and(|n| n.is_finite() && n.abs() <= MAX_SAFE_INTEGER as f64),
    };
    match (ok, v) {
        (true, Value::Number(n)) => Some(n.clone()),
        _ => {
            let what = if kind == option_kind::INTEGER { "int" } else { "a valid number" };
            errors.add(path, "NUMBER_TYPE_COERCE", format!("Value \"{v}\" is not {what}."));
            None
        }
    }
}

/// `min_length`/`max_length`: `min..=6000`.
fn length(value: Option<&Value>, path: &str, min: u64, errors: &mut FormErrors) -> Option<u16> {
    let v = value?;
    match v.as_u64().filter(|n| (min..=MAX_STRING_LENGTH).contains(n)) {
        Some(n) => Some(n as u16),
        None => {
            errors.add(path, "NUMBER_TYPE_MAX", format!("Must be between {min} and {MAX_STRING_LENGTH}."));
            None
        }
    }
}
