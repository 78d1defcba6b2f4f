//! Managing a guild's AutoMod rules (MANAGE_GUILD): list, create, change
//! and delete them, audited and announced to the guild's managers; every
//! node drops its cached rules of the guild on the event.

use serde::Deserialize;
use serde_json::{json, Value};

use events::Dispatch;
use model::audit::AutoModRule;
use model::{nullable, permissions};
use store::{AutoModRuleId, ChannelId, GuildId, RoleId, UserRow};

use super::rules::{self, Action, Rule};
use crate::access::{self, GuildAccess};
use crate::audit::{self, action as audit_action, Reason};
use crate::{Domain, Error, FormErrors, Result};

#[derive(Deserialize)]
pub struct RuleFields {
    pub name: Option<String>,
    pub event_type: Option<u8>,
    pub trigger_type: Option<u16>,
    #[serde(default, deserialize_with = "nullable")]
    pub trigger_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    pub actions: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    pub exempt_roles: Option<Option<Vec<RoleId>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub exempt_channels: Option<Option<Vec<ChannelId>>>,
}

/// The guild, if `user` may manage its rules (MANAGE_GUILD).
async fn manager(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<GuildAccess> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_GUILD)?;
    Ok(guild)
}

async fn find(ctx: &Domain, guild: &GuildAccess, id: AutoModRuleId) -> Result<Rule> {
    let rows = ctx.store.automod_rules(guild.guild.id).await?;
    let row = rows.iter().find(|r| r.id == id).ok_or_else(Error::unknown_automod_rule)?;
    Rule::from_row(row).map_err(Error::internal)
}

fn sorted_unique<T: Ord + Copy>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    out.sort();
    out.dedup();
    out
}

/// Checks what only the guild can tell: exempt roles and channels, and
/// alert channels, must be the guild's own (and alert channels textual).
async fn check_references(ctx: &Domain, guild: &GuildAccess, rule: &Rule, errors: &mut FormErrors) -> Result<()> {
    for (i, r) in rule.exempt_roles.iter().enumerate() {
        if !guild.roles.iter().any(|x| x.id == *r) {
            errors.add(&format!("exempt_roles.{i}"), "UNKNOWN_ROLE", "Unknown role.");
        }
    }
    let channels = ctx.store.guild_channels(guild.guild.id).await?;
    for (i, c) in rule.exempt_channels.iter().enumerate() {
        if !channels.iter().any(|x| x.id == *c) {
            errors.add(&format!("exempt_channels.{i}"), "CHANNEL_NOT_FOUND", "Unknown channel.");
        }
    }
    for (i, a) in rule.actions.iter().enumerate() {
        if let Action::Alert { channel_id } = a {
            let textual = channels
                .iter()
                .any(|x| x.id == *channel_id && model::channel::ChannelType::from_code(x.kind).is_textual());
            if !textual {
                errors.add(
                    &format!("actions.{i}.metadata.channel_id"),
                    "CHANNEL_NOT_FOUND",
                    "Must be a text channel of this guild.",
                );
            }
        }
    }
    Ok(())
}

/// A rule as the audit log compares it: its settings, not its identity.
fn audited(rule: &Rule) -> Value {
    let mut v = serde_json::to_value(rule.render()).expect("rules serialise");
    if let Some(map) = v.as_object_mut() {
        for key in ["id", "guild_id", "creator_id"] {
            map.remove(key);
        }
    }
    v
}

/// Tells the guild's managers of a rule change and the audit log's readers
/// of its entry; every node drops its cached rules of the guild on the event.
async fn announce(
    ctx: &Domain,
    guild: &GuildAccess,
    kind: fn(Box<AutoModRule>) -> Dispatch,
    rule: &Rule,
    entry: &store::AuditEntry,
) -> Result<()> {
    ctx.automod.invalidate(guild.guild.id);
    ctx.automod_rule_event(kind, rule.render());
    ctx.announce_audit(guild, entry).await
}

/// The guild's rules.
pub async fn list(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<Vec<AutoModRule>> {
    let guild = manager(ctx, user, guild).await?;
    let rows = ctx.store.automod_rules(guild.guild.id).await?;
    let rules = rows.iter().map(|r| Rule::from_row(r).map(|r| r.render())).collect::<std::result::Result<Vec<_>, _>>();
    rules.map_err(Error::internal)
}

/// One rule of the guild.
pub async fn get(ctx: &Domain, user: &UserRow, guild: GuildId, rule: AutoModRuleId) -> Result<AutoModRule> {
    let guild = manager(ctx, user, guild).await?;
    Ok(find(ctx, &guild, rule).await?.render())
}

/// Creates a rule: its shape checked by Discord's rules, its roles and
/// channels the guild's own, at most the type's number of rules.
pub async fn create(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    body: RuleFields,
    reason: &Reason,
) -> Result<AutoModRule> {
    let guild = manager(ctx, user, guild).await?;
    let mut errors = FormErrors::default();
    match &body.name {
        Some(name) => rules::check_name(name, &mut errors),
        None => errors.add("name", "BASE_TYPE_REQUIRED", "This field is required"),
    }
    match body.event_type {
        Some(rules::MESSAGE_SEND) => {}
        Some(_) => errors.add("event_type", "BASE_TYPE_CHOICES", "Value must be one of (1,)."),
        None => errors.add("event_type", "BASE_TYPE_REQUIRED", "This field is required"),
    }
    let Some(trigger_type) = body.trigger_type else {
        errors.add("trigger_type", "BASE_TYPE_REQUIRED", "This field is required");
        return Err(errors.into_error());
    };
    let trigger = rules::parse_trigger(trigger_type, body.trigger_metadata.flatten().as_ref(), &mut errors);
    let actions = match body.actions.flatten() {
        Some(items) => rules::parse_actions(&items, trigger_type, &mut errors),
        None => {
            errors.add("actions", "BASE_TYPE_REQUIRED", "This field is required");
            Vec::new()
        }
    };
    let exempt_roles = sorted_unique(&body.exempt_roles.flatten().unwrap_or_default());
    let exempt_channels = sorted_unique(&body.exempt_channels.flatten().unwrap_or_default());
    rules::check_exempt(&exempt_roles, &exempt_channels, &mut errors);
    let Some(trigger) = trigger else { return Err(errors.into_error()) };
    let rule = Rule {
        id: ctx.ids.next()?,
        guild_id: guild.guild.id,
        creator_id: user.id,
        name: body.name.unwrap_or_default().trim().to_owned(),
        event_type: rules::MESSAGE_SEND,
        trigger,
        actions,
        enabled: body.enabled.flatten().unwrap_or(false),
        exempt_roles,
        exempt_channels,
    };
    check_references(ctx, &guild, &rule, &mut errors).await?;
    errors.finish()?;
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_CREATE,
        Some(rule.id.get()),
        audit::diff(&json!({}), &audited(&rule)),
        None,
        reason,
    )?;
    if !ctx.store.create_automod_rule(&rule.to_row(), rules::max_of_type(trigger_type), &entry).await? {
        return Err(Error::field(
            "trigger_type",
            "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
            format!("Maximum number of rules of this type reached ({}).", rules::max_of_type(trigger_type)),
        ));
    }
    announce(ctx, &guild, Dispatch::AutoModRuleCreate, &rule, &entry).await?;
    Ok(rule.render())
}

/// Changes a rule (its trigger type stays).
pub async fn update(
    ctx: &Domain,
    user: &UserRow,
    guild: GuildId,
    rule: AutoModRuleId,
    body: RuleFields,
    reason: &Reason,
) -> Result<AutoModRule> {
    let guild = manager(ctx, user, guild).await?;
    let before = find(ctx, &guild, rule).await?;
    let mut rule = before.clone();
    let kind = rule.trigger.kind();
    let mut errors = FormErrors::default();
    if let Some(name) = &body.name {
        rules::check_name(name, &mut errors);
        rule.name = name.trim().to_owned();
    }
    if body.event_type.is_some_and(|e| e != rules::MESSAGE_SEND) {
        errors.add("event_type", "BASE_TYPE_CHOICES", "Value must be one of (1,).");
    }
    if body.trigger_type.is_some_and(|t| t != kind) {
        errors.add(
            "trigger_type",
            "AUTO_MODERATION_TRIGGER_TYPE_IMMUTABLE",
            "A rule's trigger type cannot be changed.",
        );
    }
    if let Some(meta) = &body.trigger_metadata {
        if let Some(trigger) = rules::parse_trigger(kind, meta.as_ref(), &mut errors) {
            rule.trigger = trigger;
        }
    }
    if let Some(Some(items)) = &body.actions {
        rule.actions = rules::parse_actions(items, kind, &mut errors);
    }
    if let Some(Some(enabled)) = body.enabled {
        rule.enabled = enabled;
    }
    if let Some(roles) = &body.exempt_roles {
        rule.exempt_roles = sorted_unique(roles.as_deref().unwrap_or_default());
    }
    if let Some(channels) = &body.exempt_channels {
        rule.exempt_channels = sorted_unique(channels.as_deref().unwrap_or_default());
    }
    rules::check_exempt(&rule.exempt_roles, &rule.exempt_channels, &mut errors);
    check_references(ctx, &guild, &rule, &mut errors).await?;
    errors.finish()?;
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_UPDATE,
        Some(rule.id.get()),
        audit::diff(&audited(&before), &audited(&rule)),
        None,
        reason,
    )?;
    if !ctx.store.update_automod_rule(&rule.to_row(), &entry).await? {
        return Err(Error::unknown_automod_rule());
    }
    announce(ctx, &guild, Dispatch::AutoModRuleUpdate, &rule, &entry).await?;
    Ok(rule.render())
}

/// Deletes a rule.
pub async fn delete(ctx: &Domain, user: &UserRow, guild: GuildId, rule: AutoModRuleId, reason: &Reason) -> Result<()> {
    let guild = manager(ctx, user, guild).await?;
    let rule = find(ctx, &guild, rule).await?;
    let entry = ctx.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_DELETE,
        Some(rule.id.get()),
        audit::diff(&audited(&rule), &json!({})),
        None,
        reason,
    )?;
    if !ctx.store.delete_automod_rule(guild.guild.id, rule.id, &entry).await? {
        return Err(Error::unknown_automod_rule());
    }
    announce(ctx, &guild, Dispatch::AutoModRuleDelete, &rule, &entry).await?;
    Ok(())
}
