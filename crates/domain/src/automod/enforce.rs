//! What happens to a message that matches a rule: `check` before the
//! store write (a blocking verdict means the message never exists) and
//! `execute` after it: audit entries, alert messages (sent through
//! `messages::send` as `Author::AutoMod`), timeouts and
//! AUTO_MODERATION_ACTION_EXECUTION.

use serde_json::json;

use events::dispatch::AutoModExecution;
use model::{permissions, Timestamp};
use store::{ChannelId, MemberPatch, MessageId, UserRow};

use super::rules::{Action, Rule, Trigger};
use super::{Hit, Subject, Verdict};
use crate::access::{ChannelAccess, GuildAccess};
use crate::audit::{action as audit_action, Reason};
use crate::messages::{self, Author, Draft};
use crate::{Domain, Error, Result};

/// The guild's rules applied to a message about to be stored (or an edit
/// about to be saved). `None` when nothing matched, in a DM, in a guild
/// without rules, or from a member who manages the guild (as on Discord,
/// MANAGE_GUILD and ADMINISTRATOR, and so the owner, are exempt).
pub async fn check(
    ctx: &Domain,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    mentions: usize,
    is_edit: bool,
) -> Result<Option<Verdict>> {
    if !ctx.automod.config.enabled {
        return Ok(None);
    }
    let scores = ctx.automod.score(content);
    let Some(guild) = &access.guild else { return Ok(None) };
    let rules = ctx.automod.rules(&*ctx.store, guild.guild.id).await?;
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
    let hits = ctx.automod.evaluate(&rules, &subject).await;
    Ok((!hits.is_empty()).then_some(Verdict { rules, hits }))
}

/// Runs the actions of the rules a message matched: the audit entries, the
/// alert messages, the timeouts, and AUTO_MODERATION_ACTION_EXECUTION to
/// the guild's managers. `message_id` is the stored message's (none when it
/// was blocked). A failure here is logged: the message's fate is decided.
pub async fn execute(
    ctx: &Domain,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    verdict: &Verdict,
    message_id: Option<MessageId>,
) {
    if let Err(e) = run(ctx, access, user, content, verdict, message_id).await {
        tracing::error!(code = e.code, message = %e.message, "executing AutoMod actions failed");
    }
}

async fn run(
    ctx: &Domain,
    access: &ChannelAccess,
    user: &UserRow,
    content: &str,
    verdict: &Verdict,
    message_id: Option<MessageId>,
) -> Result<()> {
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
        // The entry of one action against the member, by AutoMod's rule.
        let entry = |kind, changes| {
            ctx.audit_entry(
                guild.guild.id,
                user.id,
                kind,
                Some(user.id.get()),
                changes,
                Some(options.clone()),
                &no_reason,
            )
        };
        for action in &rule.actions {
            let mut alert_id = None;
            match action {
                Action::Block { .. } => to_log.push(entry(audit_action::AUTO_MODERATION_BLOCK_MESSAGE, Vec::new())?),
                Action::Alert { channel_id } => {
                    let Some(id) = alert(ctx, guild, *channel_id, user, access.channel.id, rule, hit, content).await?
                    else {
                        continue;
                    };
                    alert_id = Some(id);
                    to_log.push(entry(audit_action::AUTO_MODERATION_FLAG_TO_CHANNEL, Vec::new())?);
                }
                Action::Timeout { duration_seconds } => {
                    let Some(before) = ctx.store.member(guild.guild.id, user.id).await? else { continue };
                    let until = Timestamp::now().unix_ms() + (*duration_seconds as i64) * 1000;
                    let change = json!({
                        "key": "communication_disabled_until",
                        "new_value": Timestamp::from_unix_ms(until),
                    });
                    let entry = entry(audit_action::AUTO_MODERATION_USER_COMMUNICATION_DISABLED, vec![change])?;
                    let patch =
                        MemberPatch { communication_disabled_until: Some(Some(until)), ..MemberPatch::default() };
                    ctx.store.update_member(guild.guild.id, user.id, &patch, std::slice::from_ref(&entry)).await?;
                    crate::members::after_change(ctx, guild, &before).await?;
                    announced.push(entry);
                }
            }
            ctx.metrics.moderation_action(action.label());
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
            ctx.automod_executed(data);
        }
    }
    if !to_log.is_empty() {
        ctx.store.automod_logged(&to_log).await?;
    }
    for entry in to_log.iter().chain(announced.iter()) {
        ctx.announce_audit(guild, entry).await?;
    }
    Ok(())
}

/// Posts the AUTO_MODERATION_ACTION message in the alert channel, through
/// the one send path; `None` when the channel is gone.
#[allow(clippy::too_many_arguments)]
async fn alert(
    ctx: &Domain,
    guild: &GuildAccess,
    channel_id: ChannelId,
    user: &UserRow,
    source: ChannelId,
    rule: &Rule,
    hit: &Hit,
    content: &str,
) -> Result<Option<MessageId>> {
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
    let draft = Draft { content: format!("{head}{body}"), ..Draft::default() };
    // Boxed: a user's send runs AutoMod, whose alert is a send.
    match Box::pin(messages::send(ctx, Author::AutoMod { flagged: user, guild }, channel_id, draft)).await {
        Ok(message) => Ok(Some(message.id)),
        Err(e) if e.code == Error::unknown_channel().code => {
            tracing::warn!(rule = %rule.id, "an AutoMod alert channel no longer exists");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
