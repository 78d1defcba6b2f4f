//! AutoMod: the rules (`/guilds/{id}/auto-moderation/rules`, MANAGE_GUILD)
//! and what happens to a message that matches one (`check` and `execute`,
//! called by the message routes before and after the store write).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::permissions;
use store::{AutoModRuleId, ChannelId, RoleId, UserRow};

use crate::extract::{path_id, Authed, Body, Path};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access;
use domain::access::GuildAccess;
use domain::audit::{self, action as audit_action, Reason};
use domain::automod::rules::{self, Action, Rule};
use events::Dispatch;
use model::audit::AutoModRule;
use model::nullable;

#[derive(Deserialize)]
pub struct RuleFields {
    name: Option<String>,
    event_type: Option<u8>,
    trigger_type: Option<u16>,
    #[serde(default, deserialize_with = "nullable")]
    trigger_metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    actions: Option<Option<Vec<Value>>>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "nullable")]
    exempt_roles: Option<Option<Vec<RoleId>>>,
    #[serde(default, deserialize_with = "nullable")]
    exempt_channels: Option<Option<Vec<ChannelId>>>,
}

async fn manager(state: &ApiState, user: &UserRow, raw: &str) -> ApiResult<GuildAccess> {
    let guild = access::guild(state, user, path_id("guild_id", raw)?).await?;
    guild.require(permissions::MANAGE_GUILD)?;
    Ok(guild)
}

async fn find(state: &ApiState, guild: &GuildAccess, raw: &str) -> ApiResult<Rule> {
    let id: AutoModRuleId = path_id("rule_id", raw)?;
    let rows = state.store.automod_rules(guild.guild.id).await?;
    let row = rows.iter().find(|r| r.id == id).ok_or_else(ApiError::unknown_automod_rule)?;
    Rule::from_row(row).map_err(ApiError::internal)
}

fn sorted_unique<T: Ord + Copy>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    out.sort();
    out.dedup();
    out
}

/// Checks what only the guild can tell: exempt roles and channels, and
/// alert channels, must be the guild's own (and alert channels textual).
async fn check_references(
    state: &ApiState,
    guild: &GuildAccess,
    rule: &Rule,
    errors: &mut FormErrors,
) -> ApiResult<()> {
    for (i, r) in rule.exempt_roles.iter().enumerate() {
        if !guild.roles.iter().any(|x| x.id == *r) {
            errors.add(&format!("exempt_roles.{i}"), "UNKNOWN_ROLE", "Unknown role.");
        }
    }
    let channels = state.store.guild_channels(guild.guild.id).await?;
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
    state: &ApiState,
    guild: &GuildAccess,
    kind: fn(Box<AutoModRule>) -> Dispatch,
    rule: &Rule,
    entry: &store::AuditEntry,
) -> ApiResult<()> {
    state.automod.invalidate(guild.guild.id);
    state.automod_rule_event(kind, rule.render());
    state.announce_audit(guild, entry).await
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/auto-moderation/rules",
    operation_id = "list_auto_moderation_rules", tag = "Auto moderation",
    summary = "List a guild's AutoMod rules",
    responses((status = 200, body = Vec<crate::openapi::AutoModRule>)),
)]
pub async fn list(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
) -> ApiResult<Json<Vec<AutoModRule>>> {
    let guild = manager(&state, &user, &g).await?;
    let rows = state.store.automod_rules(guild.guild.id).await?;
    let rules = rows.iter().map(|r| Rule::from_row(r).map(|r| r.render())).collect::<Result<Vec<_>, _>>();
    Ok(Json(rules.map_err(ApiError::internal)?))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
    operation_id = "get_auto_moderation_rule", tag = "Auto moderation",
    summary = "Get an AutoMod rule",
    responses((status = 200, body = crate::openapi::AutoModRule)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
) -> ApiResult<Json<AutoModRule>> {
    let guild = manager(&state, &user, &g).await?;
    Ok(Json(find(&state, &guild, &r).await?.render()))
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/auto-moderation/rules",
    operation_id = "create_auto_moderation_rule", tag = "Auto moderation",
    summary = "Create an AutoMod rule (trigger type 1000 is FussionCord's toxicity extension)",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::AutoModRuleCreate,
    responses((status = 200, body = crate::openapi::AutoModRule)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<RuleFields>,
) -> ApiResult<Json<AutoModRule>> {
    let guild = manager(&state, &user, &g).await?;
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
        id: state.ids.next(),
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
    check_references(&state, &guild, &rule, &mut errors).await?;
    errors.finish()?;
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_CREATE,
        Some(rule.id.get()),
        audit::diff(&json!({}), &audited(&rule)),
        None,
        &reason,
    );
    if !state.store.create_automod_rule(&rule.to_row(), rules::max_of_type(trigger_type), &entry).await? {
        return Err(ApiError::field(
            "trigger_type",
            "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
            format!("Maximum number of rules of this type reached ({}).", rules::max_of_type(trigger_type)),
        ));
    }
    announce(&state, &guild, Dispatch::AutoModRuleCreate, &rule, &entry).await?;
    Ok(Json(rule.render()))
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
    operation_id = "update_auto_moderation_rule", tag = "Auto moderation",
    summary = "Modify an AutoMod rule (its trigger type stays)",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::AutoModRuleUpdate,
    responses((status = 200, body = crate::openapi::AutoModRule)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<RuleFields>,
) -> ApiResult<Json<AutoModRule>> {
    let guild = manager(&state, &user, &g).await?;
    let before = find(&state, &guild, &r).await?;
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
    check_references(&state, &guild, &rule, &mut errors).await?;
    errors.finish()?;
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_UPDATE,
        Some(rule.id.get()),
        audit::diff(&audited(&before), &audited(&rule)),
        None,
        &reason,
    );
    if !state.store.update_automod_rule(&rule.to_row(), &entry).await? {
        return Err(ApiError::unknown_automod_rule());
    }
    announce(&state, &guild, Dispatch::AutoModRuleUpdate, &rule, &entry).await?;
    Ok(Json(rule.render()))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
    operation_id = "delete_auto_moderation_rule", tag = "Auto moderation",
    summary = "Delete an AutoMod rule",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let guild = manager(&state, &user, &g).await?;
    let rule = find(&state, &guild, &r).await?;
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        audit_action::AUTO_MODERATION_RULE_DELETE,
        Some(rule.id.get()),
        audit::diff(&audited(&rule), &json!({})),
        None,
        &reason,
    );
    if !state.store.delete_automod_rule(guild.guild.id, rule.id, &entry).await? {
        return Err(ApiError::unknown_automod_rule());
    }
    announce(&state, &guild, Dispatch::AutoModRuleDelete, &rule, &entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
