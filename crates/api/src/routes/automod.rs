//! AutoMod: the rules (`/guilds/{id}/auto-moderation/rules`, MANAGE_GUILD)
//! and what happens to a message that matches one (`check` and `execute`,
//! called by the message routes before and after the store write).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::permissions;
use model::snowflake::SnowflakeGenerator;
use model::Timestamp;
use store::{AutoModRuleId, ChannelId, GuildMentions, MemberPatch, MessageId, MessageRow, NewMessage, RoleId, UserRow};

use crate::extract::{path_id, Authed, Body, Path};
use crate::routes::members::after_member_change;
use crate::routes::roles::announce_audit;
use crate::routes::users::nullable;
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access::{ChannelAccess, GuildAccess};
use domain::audit::{self, action as audit_action, Reason};
use domain::automod::rules::{self, Action, Rule, Trigger};
use domain::automod::{Subject, Verdict};
use domain::publish::Place;
use domain::{access, render};
use events::dispatch::AutoModExecution;
use events::Dispatch;
use model::audit::AutoModRule;

/// The system message type of an AutoMod alert.
const AUTO_MODERATION_ACTION: u8 = 24;

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
    announce_audit(state, guild, entry).await
}

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

pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, r)): Path<(String, String)>,
) -> ApiResult<Json<AutoModRule>> {
    let guild = manager(&state, &user, &g).await?;
    Ok(Json(find(&state, &guild, &r).await?.render()))
}

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

/// The guild's rules applied to a message about to be stored (or an edit
/// about to be saved). `None` when nothing matched, in a DM, in a guild
/// without rules, or from a member who manages the guild (as on Discord,
/// MANAGE_GUILD and ADMINISTRATOR, and so the owner, are exempt).
pub(crate) async fn check(
    state: &ApiState,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    mentions: usize,
    is_edit: bool,
) -> ApiResult<Option<Verdict>> {
    if !state.automod.config.enabled {
        return Ok(None);
    }
    let scores = state.automod.score(content);
    let Some(guild) = &access.guild else { return Ok(None) };
    let rules = state.automod.rules(&*state.store, guild.guild.id).await?;
    if rules.rules.is_empty() || guild.permissions & (permissions::MANAGE_GUILD | permissions::ADMINISTRATOR) != 0 {
        return Ok(None);
    }
    let subject = Subject {
        guild: guild.guild.id,
        user: user.id,
        account_created_ms: user.id.timestamp_ms(),
        roles: &guild.member.roles,
        channel: access.channel.id,
        parent: access.channel.parent_id,
        content,
        scores,
        mentions: mentions.min(u16::MAX as usize) as u16,
        is_edit,
        now_ms: Timestamp::now().unix_ms() as u64,
    };
    let hits = state.automod.evaluate(&rules, &subject);
    Ok((!hits.is_empty()).then_some(Verdict { rules, hits }))
}

/// Runs the actions of the rules a message matched: the audit entries, the
/// alert messages, the timeouts, and AUTO_MODERATION_ACTION_EXECUTION to
/// the guild's managers. `message_id` is the stored message's (none when it
/// was blocked). A failure here is logged: the message's fate is decided.
pub(crate) async fn execute(
    state: &ApiState,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    verdict: &Verdict,
    message_id: Option<MessageId>,
) {
    if let Err(e) = run(state, access, user, content, verdict, message_id).await {
        tracing::error!(code = e.code, message = %e.message, "executing AutoMod actions failed");
    }
}

async fn run(
    state: &ApiState,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    verdict: &Verdict,
    message_id: Option<MessageId>,
) -> ApiResult<()> {
    let Some(guild) = &access.guild else { return Ok(()) };
    let no_reason = Reason::default();
    let mut to_log = Vec::new();
    let mut announced = Vec::new();
    for hit in &verdict.hits {
        let rule = &verdict.rules.rules[hit.rule].rule;
        let options = json!({
            "auto_moderation_rule_name": rule.name,
            "auto_moderation_rule_trigger_type": rule.trigger.kind().to_string(),
            "channel_id": access.channel.id,
        });
        for action in &rule.actions {
            let mut alert_id = None;
            match action {
                Action::Block { .. } => {
                    let entry = state.audit_entry(
                        guild.guild.id,
                        user.id,
                        audit_action::AUTO_MODERATION_BLOCK_MESSAGE,
                        Some(user.id.get()),
                        Vec::new(),
                        Some(options.clone()),
                        &no_reason,
                    );
                    to_log.push(entry);
                }
                Action::Alert { channel_id } => {
                    let Some(id) =
                        alert(state, guild, *channel_id, user, access.channel.id, rule, hit, content).await?
                    else {
                        continue;
                    };
                    alert_id = Some(id);
                    to_log.push(state.audit_entry(
                        guild.guild.id,
                        user.id,
                        audit_action::AUTO_MODERATION_FLAG_TO_CHANNEL,
                        Some(user.id.get()),
                        Vec::new(),
                        Some(options.clone()),
                        &no_reason,
                    ));
                }
                Action::Timeout { duration_seconds } => {
                    let Some(before) = state.store.member(guild.guild.id, user.id).await? else { continue };
                    let until = Timestamp::now().unix_ms() + (*duration_seconds as i64) * 1000;
                    let entry = state.audit_entry(
                        guild.guild.id,
                        user.id,
                        audit_action::AUTO_MODERATION_USER_COMMUNICATION_DISABLED,
                        Some(user.id.get()),
                        vec![json!({
                            "key": "communication_disabled_until",
                            "new_value": Timestamp::from_unix_ms(until),
                        })],
                        Some(options.clone()),
                        &no_reason,
                    );
                    let patch =
                        MemberPatch { communication_disabled_until: Some(Some(until)), ..MemberPatch::default() };
                    state.store.update_member(guild.guild.id, user.id, &patch, std::slice::from_ref(&entry)).await?;
                    after_member_change(state, guild, &before).await?;
                    announced.push(entry);
                }
            }
            state.metrics.moderation_action(action.label());
            let data = AutoModExecution {
                guild_id: guild.guild.id,
                action: action.render(),
                rule_id: rule.id.to_string(),
                rule_trigger_type: rule.trigger.kind(),
                user_id: user.id,
                channel_id: access.channel.id,
                message_id,
                alert_system_message_id: alert_id,
                content: content.to_owned(),
                matched_keyword: hit.matched_keyword.clone(),
                matched_content: hit.matched_content.clone(),
            };
            state.automod_executed(data);
        }
    }
    if !to_log.is_empty() {
        state.store.automod_logged(&to_log).await?;
    }
    for entry in to_log.iter().chain(announced.iter()) {
        announce_audit(state, guild, entry).await?;
    }
    Ok(())
}

/// Posts the AUTO_MODERATION_ACTION system message in the alert channel,
/// authored by the flagged member as on Discord. Discord carries the
/// details in an embed; our messages have no stored embeds, so they go in
/// the content. `None` when the channel is gone.
#[allow(clippy::too_many_arguments)]
async fn alert(
    state: &ApiState,
    guild: &GuildAccess,
    channel_id: ChannelId,
    user: &UserRow,
    source: ChannelId,
    rule: &Rule,
    hit: &domain::automod::Hit,
    content: &str,
) -> ApiResult<Option<MessageId>> {
    let Some(channel) = state.store.channel(channel_id).await?.filter(|c| c.guild_id == Some(guild.guild.id)) else {
        tracing::warn!(rule = %rule.id, "an AutoMod alert channel no longer exists");
        return Ok(None);
    };
    let overwrites = state.store.overwrites(channel.id).await?;
    let what = match (&hit.matched_keyword, &rule.trigger) {
        (Some(k), _) => format!("keyword `{k}`"),
        (None, Trigger::Spam) => "spam".to_owned(),
        (None, Trigger::MentionSpam { .. }) => "mention spam".to_owned(),
        (None, Trigger::Toxicity { .. }) => "toxicity".to_owned(),
        (None, _) => "a rule".to_owned(),
    };
    let head =
        format!("AutoMod flagged a message from <@{}> in <#{source}> (rule \"{}\", {what}):\n", user.id, rule.name);
    let room = 2000usize.saturating_sub(head.chars().count());
    let body: String = content.chars().take(room).collect();
    let id: MessageId = state.ids.next();
    let row = MessageRow {
        channel_id: channel.id,
        id,
        author_id: user.id,
        content: format!("{head}{body}"),
        kind: AUTO_MODERATION_ACTION,
        flags: 0,
        tts: false,
        mention_everyone: false,
        mentions: Vec::new(),
        mention_roles: Vec::new(),
        nonce: None,
        edited_at: None,
        pinned_at: None,
        ref_message_id: None,
    };
    let viewers = access::mention_viewers(state, guild, &overwrites, &row).await?;
    let new = NewMessage {
        row,
        enforce_nonce: false,
        nonce_since: SnowflakeGenerator::lower_bound(0),
        guild_mentions: Some(GuildMentions { guild: guild.guild.id, viewers, online: None }),
    };
    let (stored, _) = state.store.create_message(&new).await?;
    let mut rendered = render::messages(state, &render::Viewer::everything(user.id), &[stored]).await?;
    let message = rendered.pop().ok_or_else(|| ApiError::internal("rendering lost a message"))?;
    let place = Place::Guild { guild: guild.guild.id, channel: channel.id };
    state.message_created(&place, message, Some(render::member(&guild.member, Some(user))));
    Ok(Some(id))
}
