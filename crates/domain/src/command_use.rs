//! A person using an application command: the command found where they
//! are (the guild's commands, then the global ones), who may use it there
//! (`contexts`, `dm_permission`, `default_member_permissions`), and the
//! options they gave checked against its definition — types, choices,
//! ranges, lengths, required ones, subcommands — with the users, members,
//! roles, channels and messages they name resolved, as the application
//! receives them. Autocomplete takes a partial use with one focused option.
//! Also the index of the commands a person may use in a channel, for
//! clients' command pickers.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use model::channel::ChannelType;
use model::command::{kind, option_kind, CommandOption};
use model::{permissions, Id};
use store::{CommandRow, GuildId, UserId, UserRow};

use crate::access::ChannelAccess;
use crate::commands::unknown_command;
use crate::components::kind as component;
use crate::{render, Domain, Error, FormErrors, Result};

/// How long an interaction's token answers (Discord's 15 minutes), and so
/// how long the files of its attachment options are kept.
pub const TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The context a channel is for commands: 0 a guild, 1 the bot's DM, 2 any
/// other private channel.
fn context_of(access: &ChannelAccess, bot: UserId) -> u8 {
    match access.guild_id() {
        Some(_) => 0,
        None if ChannelType::from_code(access.channel.kind) == ChannelType::Dm && access.recipients.contains(&bot) => 1,
        None => 2,
    }
}

/// Whether the person may use `row` in this channel.
fn usable(row: &CommandRow, access: &ChannelAccess, bot: UserId) -> bool {
    let context = context_of(access, bot);
    if let Some(contexts) = row.contexts.as_deref().and_then(|c| serde_json::from_str::<Vec<u8>>(c).ok()) {
        if !contexts.contains(&context) {
            return false;
        }
    } else if context != 0 && !row.dm_permission {
        return false;
    }
    match (access.guild_id(), row.default_member_permissions) {
        (Some(_), Some(0)) => access.has(permissions::ADMINISTRATOR),
        (Some(_), Some(p)) => access.has(p) || access.has(permissions::ADMINISTRATOR),
        _ => true,
    }
}

/// The command `id` of `app` where `access` is: the guild's, or a global one.
async fn find(ctx: &Domain, app: UserId, guild: Option<GuildId>, id: store::CommandId) -> Result<CommandRow> {
    if let Some(g) = guild {
        if let Some(row) = ctx.store.command(app, Some(g), id).await? {
            return Ok(row);
        }
    }
    ctx.store.command(app, None, id).await?.ok_or_else(unknown_command)
}

/// What the application receives for a use of one of its commands, its
/// name (for the answers' metadata) and type.
pub(crate) async fn command_data(
    ctx: &Domain,
    user: &UserRow,
    access: &ChannelAccess,
    app: UserId,
    data: &Value,
    autocomplete: bool,
) -> Result<(Value, String, u8)> {
    let id: store::CommandId = data
        .get("id")
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| Error::field("data.id", "BASE_TYPE_REQUIRED", "This field is required"))?;
    let row = find(ctx, app, access.guild_id(), id).await?;
    if !usable(&row, access, app) {
        return Err(Error::missing_permissions());
    }
    let mut out = json!({"id": row.id, "name": row.name, "type": row.kind});
    if let Some(g) = row.guild_id {
        out["guild_id"] = json!(g);
    }
    let mut refs = Refs::default();
    let mut errors = FormErrors::default();
    match row.kind {
        kind::CHAT_INPUT => {
            let defs: Vec<CommandOption> = serde_json::from_str(&row.options).map_err(Error::internal)?;
            let given = data.get("options").cloned().unwrap_or_else(|| json!([]));
            let mut focused = 0;
            let options =
                check_options(&defs, &given, "data.options", autocomplete, &mut focused, &mut refs, &mut errors);
            if autocomplete && focused != 1 {
                errors.add("data.options", "AUTOCOMPLETE_FOCUSED_OPTION", "Exactly one option is focused.");
            }
            if !options.is_empty() {
                out["options"] = json!(options);
            }
        }
        kind::USER | kind::MESSAGE => {
            if autocomplete {
                return Err(Error::field("type", "BASE_TYPE_CHOICES", "Context menu commands have no autocomplete."));
            }
            match data.get("target_id").and_then(|v| v.as_str()).filter(|s| s.parse::<u64>().is_ok_and(|n| n > 0)) {
                Some(target) => {
                    out["target_id"] = json!(target);
                    if row.kind == kind::USER {
                        refs.users.push(target.to_owned());
                    } else {
                        refs.messages.push(target.to_owned());
                    }
                }
                None => errors.add("data.target_id", "BASE_TYPE_REQUIRED", "This field is required"),
            }
        }
        _ => return Err(unknown_command()),
    }
    errors.finish()?;
    let mut resolved = refs.resolve(ctx, user, access).await?;
    if !refs.attachments.is_empty() {
        let files = attachment_options(ctx, user, access, data, &refs.attachments, &mut out).await?;
        resolved["attachments"] = files;
    }
    if resolved.as_object().is_some_and(|o| !o.is_empty()) {
        out["resolved"] = resolved;
    }
    Ok((out, row.name, row.kind))
}

/// The files of attachment options: uploaded ahead by the person (as a
/// message's files are), claimed now into the channel's attachments, kept
/// for the interaction's token lifetime. The options' values become the
/// files' ids, as `resolved.attachments` names them.
async fn attachment_options(
    ctx: &Domain,
    user: &UserRow,
    access: &ChannelAccess,
    data: &Value,
    named: &[String],
    out: &mut Value,
) -> Result<Value> {
    let refs: Vec<crate::files::AttachmentRef> = match data.get("attachments") {
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| Error::field("data.attachments", "BASE_TYPE_BAD_TYPE", "Must be a list of attachments."))?,
        None => Vec::new(),
    };
    let ref_id = |r: &crate::files::AttachmentRef| match &r.id {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // Only the files an option names, each once.
    let wanted: Vec<crate::files::AttachmentRef> =
        refs.into_iter().filter(|r| ref_id(r).is_some_and(|id| named.contains(&id))).collect();
    if wanted.len() != named.len() {
        return Err(Error::field(
            "data.attachments",
            "APPLICATION_COMMAND_OPTION_ATTACHMENT_MISSING",
            "An attachment option names no uploaded file.",
        ));
    }
    let mut errors = FormErrors::default();
    let (_, claims) = crate::files::attachments_for_send(Some(&wanted), &[], &mut errors)?;
    errors.finish()?;
    if claims.len() != wanted.len() {
        return Err(Error::field(
            "data.attachments",
            "APPLICATION_COMMAND_OPTION_ATTACHMENT_MISSING",
            "Attachments are uploaded ahead.",
        ));
    }
    crate::files::require_attach(access)?;
    let mut cleanup = crate::files::Cleanup::new(ctx.media.clone());
    let rows = crate::files::take_claims(ctx, access.channel.id, user.id, &claims, &mut cleanup).await?;
    let due = model::Timestamp::now().unix_ms() + TOKEN_LIFETIME.as_millis() as i64;
    crate::files::forget_at(ctx, access.channel.id, &rows, due).await?;
    cleanup.keep(|_| true);
    // Each option's value becomes its file's id.
    let by_ref: Vec<(String, String)> =
        wanted.iter().zip(&rows).filter_map(|(r, row)| Some((ref_id(r)?, row.id.to_string()))).collect();
    rename_values(out.get_mut("options"), &by_ref);
    let mut files = Map::new();
    for a in render::loose_attachments(&ctx.media, access.channel.id, rows) {
        files.insert(a.id.to_string(), serde_json::to_value(a).map_err(Error::internal)?);
    }
    Ok(Value::Object(files))
}

/// Replaces attachment options' values (the body's ids) with the files' ids.
fn rename_values(options: Option<&mut Value>, by_ref: &[(String, String)]) {
    for o in options.and_then(Value::as_array_mut).into_iter().flatten() {
        if o["type"] == json!(option_kind::ATTACHMENT) {
            if let Some((_, id)) = by_ref.iter().find(|(r, _)| o["value"].as_str() == Some(r.as_str())) {
                o["value"] = json!(id);
            }
        }
        rename_values(o.get_mut("options"), by_ref);
    }
}

/// The ids a use names, by what they name.
#[derive(Default)]
struct Refs {
    users: Vec<String>,
    roles: Vec<String>,
    mentionables: Vec<String>,
    channels: Vec<String>,
    messages: Vec<String>,
    /// Attachment options' values: ids of the body's `attachments`.
    attachments: Vec<String>,
}

impl Refs {
    async fn resolve(&self, ctx: &Domain, user: &UserRow, access: &ChannelAccess) -> Result<Value> {
        let mut out = Map::new();
        for (ids, ctype) in [
            (&self.users, component::USER_SELECT),
            (&self.roles, component::ROLE_SELECT),
            (&self.mentionables, component::MENTIONABLE_SELECT),
            (&self.channels, component::CHANNEL_SELECT),
        ] {
            if ids.is_empty() {
                continue;
            }
            let part = resolve(ctx, access, ctype, ids).await?;
            for (k, v) in part.as_object().into_iter().flatten() {
                let entry = out.entry(k.clone()).or_insert_with(|| json!({}));
                for (id, obj) in v.as_object().into_iter().flatten() {
                    entry[id] = obj.clone();
                }
            }
        }
        if !self.messages.is_empty() {
            let mut messages = Map::new();
            for raw in &self.messages {
                let bad = || Error::field("data.target_id", "BASE_TYPE_BAD_TYPE", "No such message here.");
                let id = raw.parse().map_err(|_| bad())?;
                let row = crate::messages::find(ctx, access, user, id).await.map_err(|_| bad())?;
                let m = crate::messages::render_one(ctx, &render::Viewer::everything(user.id), row).await?;
                messages.insert(raw.clone(), serde_json::to_value(m).map_err(Error::internal)?);
            }
            out.insert("messages".into(), Value::Object(messages));
        }
        Ok(Value::Object(out))
    }
}

/// Checks the options given against their definitions; answers them as the
/// application receives them.
fn check_options(
    defs: &[CommandOption],
    given: &Value,
    path: &str,
    autocomplete: bool,
    focused: &mut usize,
    refs: &mut Refs,
    errors: &mut FormErrors,
) -> Vec<Value> {
    let Some(list) = given.as_array() else {
        errors.add(path, "BASE_TYPE_BAD_TYPE", "Must be an array.");
        return Vec::new();
    };
    let nested = defs.iter().any(|d| matches!(d.kind, option_kind::SUB_COMMAND | option_kind::SUB_COMMAND_GROUP));
    if nested {
        // Exactly one subcommand (or group) is used.
        let [one] = list.as_slice() else {
            errors.add(path, "APPLICATION_COMMAND_SUBCOMMAND_REQUIRED", "Exactly one subcommand is used.");
            return Vec::new();
        };
        let name = one.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            errors.add(&format!("{path}.0.name"), "APPLICATION_COMMAND_OPTION_UNKNOWN", "No such subcommand.");
            return Vec::new();
        };
        if one.get("type").and_then(Value::as_u64) != Some(def.kind.into()) {
            errors.add(
                &format!("{path}.0.type"),
                "APPLICATION_COMMAND_OPTION_TYPE_MISMATCH",
                "Another type of option.",
            );
        }
        let inner = check_options(
            def.options.as_deref().unwrap_or_default(),
            one.get("options").unwrap_or(&json!([])),
            &format!("{path}.0.options"),
            autocomplete,
            focused,
            refs,
            errors,
        );
        return vec![json!({"name": def.name, "type": def.kind, "options": inner})];
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let at = format!("{path}.{i}");
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            errors.add(&format!("{at}.name"), "APPLICATION_COMMAND_OPTION_UNKNOWN", "No such option.");
            continue;
        };
        if !seen.insert(name.to_owned()) {
            errors.add(&format!("{at}.name"), "APPLICATION_COMMAND_OPTION_DUPLICATED", "An option is given once.");
            continue;
        }
        if o.get("type").and_then(Value::as_u64) != Some(def.kind.into()) {
            errors.add(&format!("{at}.type"), "APPLICATION_COMMAND_OPTION_TYPE_MISMATCH", "Another type of option.");
            continue;
        }
        let is_focused = o.get("focused").and_then(Value::as_bool).unwrap_or(false);
        if is_focused {
            *focused += 1;
            if !autocomplete || def.autocomplete != Some(true) {
                errors.add(&format!("{at}.focused"), "AUTOCOMPLETE_NOT_ENABLED", "This option has no autocomplete.");
            }
        }
        let value = o.get("value").cloned().unwrap_or(Value::Null);
        // The focused option is still being typed: any text goes.
        let partial = autocomplete && is_focused;
        if let Some(v) = check_value(def, &value, &format!("{at}.value"), partial, refs, errors) {
            let mut opt = json!({"name": def.name, "type": def.kind, "value": v});
            if is_focused {
                opt["focused"] = json!(true);
            }
            out.push(opt);
        }
    }
    if !autocomplete {
        for def in defs.iter().filter(|d| d.required == Some(true)) {
            if !seen.contains(&def.name) {
                errors.add(
                    path,
                    "APPLICATION_COMMAND_OPTION_REQUIRED",
                    format!("The option {:?} is required.", def.name),
                );
            }
        }
    }
    out
}

fn number_in(def: &CommandOption, n: f64) -> bool {
    let min = def.min_value.as_ref().and_then(|m| m.as_f64());
    let max = def.max_value.as_ref().and_then(|m| m.as_f64());
    min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
}

fn check_value(
    def: &CommandOption,
    value: &Value,
    at: &str,
    partial: bool,
    refs: &mut Refs,
    errors: &mut FormErrors,
) -> Option<Value> {
    let in_choices = |v: &Value| def.choices.as_ref().is_none_or(|c| c.iter().any(|c| &c.value == v));
    let bad = |errors: &mut FormErrors, code: &str, message: &str| {
        errors.add(at, code, message.to_owned());
        None
    };
    if partial {
        // Autocomplete sends what was typed so far, as text.
        return match value {
            Value::String(_) | Value::Number(_) => Some(value.clone()),
            _ => bad(errors, "BASE_TYPE_BAD_TYPE", "A focused value is text or a number."),
        };
    }
    match def.kind {
        option_kind::STRING => {
            let Some(s) = value.as_str() else { return bad(errors, "STRING_TYPE_CONVERT", "Must be a string.") };
            let n = s.chars().count();
            let (min, max) = (def.min_length.unwrap_or(0) as usize, def.max_length.unwrap_or(6000) as usize);
            if n < min.max(1) || n > max {
                return bad(
                    errors,
                    "BASE_TYPE_BAD_LENGTH",
                    &format!("Must be between {} and {max} in length.", min.max(1)),
                );
            }
            if !in_choices(value) {
                return bad(errors, "BASE_TYPE_CHOICES", "Must be one of the command's choices.");
            }
            Some(value.clone())
        }
        option_kind::INTEGER => {
            let Some(n) = value.as_i64().or_else(|| value.as_str().and_then(|s| s.parse().ok())) else {
                return bad(errors, "NUMBER_TYPE_COERCE", "Must be an integer.");
            };
            if !number_in(def, n as f64) {
                return bad(errors, "NUMBER_TYPE_MAX", "Out of the command's range.");
            }
            if !in_choices(&json!(n)) {
                return bad(errors, "BASE_TYPE_CHOICES", "Must be one of the command's choices.");
            }
            Some(json!(n))
        }
        option_kind::NUMBER => {
            let Some(n) =
                value.as_f64().or_else(|| value.as_str().and_then(|s| s.parse().ok())).filter(|n: &f64| n.is_finite())
            else {
                return bad(errors, "NUMBER_TYPE_COERCE", "Must be a number.");
            };
            if !number_in(def, n) {
                return bad(errors, "NUMBER_TYPE_MAX", "Out of the command's range.");
            }
            if def.choices.as_ref().is_some_and(|c| !c.iter().any(|c| c.value.as_f64() == Some(n))) {
                return bad(errors, "BASE_TYPE_CHOICES", "Must be one of the command's choices.");
            }
            Some(value.clone())
        }
        option_kind::BOOLEAN => match value {
            Value::Bool(_) => Some(value.clone()),
            _ => bad(errors, "BOOLEAN_TYPE_CONVERT", "Must be true or false."),
        },
        option_kind::USER | option_kind::ROLE | option_kind::MENTIONABLE | option_kind::CHANNEL => {
            let Some(id) = value.as_str().filter(|s| s.parse::<u64>().is_ok_and(|n| n > 0)) else {
                return bad(errors, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
            };
            match def.kind {
                option_kind::USER => refs.users.push(id.to_owned()),
                option_kind::ROLE => refs.roles.push(id.to_owned()),
                option_kind::MENTIONABLE => refs.mentionables.push(id.to_owned()),
                _ => refs.channels.push(id.to_owned()),
            }
            Some(value.clone())
        }
        option_kind::ATTACHMENT => {
            // The id of one of the body's `attachments`, uploaded ahead.
            let id = value.as_str().map(str::to_owned).or_else(|| value.as_u64().map(|n| n.to_string()));
            match id {
                Some(id) => {
                    refs.attachments.push(id.clone());
                    Some(json!(id))
                }
                None => bad(errors, "BASE_TYPE_BAD_TYPE", "Must name one of the attachments."),
            }
        }
        _ => bad(errors, "APPLICATION_COMMAND_OPTION_TYPE_UNSUPPORTED", "Unknown option type."),
    }
}

/// The commands `user` may use in the channel of `access`: of every
/// application whose bot is there (the guild's members, or the DM's
/// recipients), the guild's and the global ones, as Discord's
/// application command index answers.
pub async fn index(ctx: &Domain, user: &UserRow, access: &ChannelAccess) -> Result<Value> {
    let bots: Vec<UserRow> = match access.guild_id() {
        Some(g) => {
            let mut bots = Vec::new();
            let mut after = None;
            loop {
                let page = ctx.store.members(g, after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.user_id);
                let ids: Vec<UserId> = page.iter().map(|m| m.user_id).collect();
                bots.extend(ctx.store.users(&ids).await?.into_iter().filter(|u| u.bot));
            }
            bots
        }
        None => ctx.store.users(&access.recipients).await?.into_iter().filter(|u| u.bot && u.id != user.id).collect(),
    };
    let mut applications = Vec::new();
    let mut commands = Vec::new();
    for bot in bots {
        let Some(app) = ctx.store.application(bot.id).await? else { continue };
        let mut rows = ctx.store.commands(app.id, None).await?;
        if let Some(g) = access.guild_id() {
            rows.extend(ctx.store.commands(app.id, Some(g)).await?);
        }
        let usable: Vec<CommandRow> = rows.into_iter().filter(|r| usable(r, access, bot.id)).collect();
        if usable.is_empty() {
            continue;
        }
        applications.push(json!({
            "id": app.id, "name": app.name, "description": app.description, "icon": bot.avatar,
            "bot_id": bot.id, "bot": render::user(&bot),
        }));
        for r in &usable {
            commands.push(serde_json::to_value(crate::commands::render(r, false)?).map_err(Error::internal)?);
        }
    }
    Ok(json!({"applications": applications, "application_commands": commands, "version": "0"}))
}

/// The users, members, roles and channels an auto-populated select names,
/// as Discord's `resolved`: each must exist where the person is.
pub(crate) async fn resolve(ctx: &Domain, access: &ChannelAccess, ctype: u64, values: &[String]) -> Result<Value> {
    let bad = || Error::field("data.values", "SELECT_COMPONENT_INVALID_VALUE", "A value names nothing here.");
    let mut users = serde_json::Map::new();
    let mut members = serde_json::Map::new();
    let mut roles = serde_json::Map::new();
    let mut channels = serde_json::Map::new();
    for v in values {
        let n: u64 = v.parse().map_err(|_| bad())?;
        let id = Id::new_checked(n).ok_or_else(bad)?;
        let guild = access.guild.as_ref();
        let as_role = guild.and_then(|g| g.roles.iter().find(|r| r.id.get() == n));
        match ctype {
            component::ROLE_SELECT | component::MENTIONABLE_SELECT if as_role.is_some() => {
                roles
                    .insert(v.clone(), serde_json::to_value(render::role(as_role.expect("found"))).unwrap_or_default());
            }
            component::USER_SELECT | component::MENTIONABLE_SELECT => {
                let user = ctx.store.user(id).await?.ok_or_else(bad)?;
                if let Some(g) = guild {
                    let m = ctx.store.member(g.guild.id, user.id).await?.ok_or_else(bad)?;
                    members.insert(v.clone(), serde_json::to_value(render::member(&m, None)).unwrap_or_default());
                } else if !access.recipients.contains(&user.id) {
                    return Err(bad());
                }
                users.insert(v.clone(), serde_json::to_value(render::user(&user)).unwrap_or_default());
            }
            component::CHANNEL_SELECT => {
                let c =
                    ctx.store.channel(Id::new(n)).await?.filter(|c| c.guild_id == access.guild_id()).ok_or_else(bad)?;
                channels.insert(
                    v.clone(),
                    json!({"id": c.id, "type": c.kind, "name": c.name, "parent_id": c.parent_id, "permissions": "0"}),
                );
            }
            _ => return Err(bad()),
        }
    }
    let mut out = serde_json::Map::new();
    for (k, m) in [("users", users), ("members", members), ("roles", roles), ("channels", channels)] {
        if !m.is_empty() {
            out.insert(k.into(), Value::Object(m));
        }
    }
    Ok(Value::Object(out))
}
