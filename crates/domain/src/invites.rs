//! Invites: who may create, list, look up, use and revoke them, their audit
//! entries and events.

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;

use model::channel::ChannelType;
use model::invite::Invite;
use model::{permissions, Timestamp};
use store::{ChannelId, GuildId, InviteRow, JoinOutcome, StoreError, UserRow};

use crate::audit::{self, action, Reason};
use crate::{access, render, Domain, Error, FormErrors, Result};

/// An invite as Discord shows it: with its guild, channel and inviter;
/// `metadata` adds uses and limits, `counts` the guild's member and online
/// counts.
pub async fn render_invite(ctx: &Domain, i: &InviteRow, metadata: bool, counts: bool) -> Result<Invite> {
    let guild = ctx.store.guild(i.guild_id).await?.ok_or_else(Error::unknown_invite)?;
    let channel = ctx.store.channel(i.channel_id).await?.ok_or_else(Error::unknown_invite)?;
    let inviter = match i.inviter_id {
        Some(id) => ctx.store.user(id).await?,
        None => None,
    };
    let count = if counts {
        Some((ctx.store.member_count(guild.id).await?, ctx.presences.online_count(guild.id)))
    } else {
        None
    };
    Ok(render::invite(i, &guild, &channel, inviter.as_ref(), metadata, count))
}

/// What `POST /channels/{id}/invites` sends.
#[derive(Deserialize)]
pub struct CreateInvite {
    pub max_age: Option<i64>,
    pub max_uses: Option<i64>,
    #[serde(default)]
    pub temporary: bool,
    #[serde(default)]
    pub unique: bool,
}

/// Creates an invite to a guild channel that is not a category
/// (CREATE_INSTANT_INVITE): lasting 0 (forever) to 7 days, 86400 s unless
/// said, for 0 (unlimited) to 100 uses. Unless `unique`, the caller's live
/// invite with the same settings is answered instead of a new one.
/// Audited; INVITE_CREATE.
pub async fn create(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    body: CreateInvite,
    reason: &Reason,
) -> Result<Invite> {
    let access = access::channel(ctx, user, channel).await?;
    let Some(guild) = access.guild_id() else {
        return Err(Error::wrong_channel_type());
    };
    if ChannelType::from_code(access.channel.kind) == ChannelType::GuildCategory {
        return Err(Error::wrong_channel_type());
    }
    access.require(permissions::CREATE_INSTANT_INVITE)?;
    let max_age = body.max_age.unwrap_or(86_400);
    let max_uses = body.max_uses.unwrap_or(0);
    let mut errors = FormErrors::default();
    if !(0..=604_800).contains(&max_age) {
        errors.add("max_age", "NUMBER_TYPE_MAX", "Must be between 0 and 604800.");
    }
    if !(0..=100).contains(&max_uses) {
        errors.add("max_uses", "NUMBER_TYPE_MAX", "Must be between 0 and 100.");
    }
    errors.finish()?;
    let now = Timestamp::now().unix_ms();
    if !body.unique {
        let similar = ctx.store.channel_invites(access.channel.id, now).await?.into_iter().find(|i| {
            i.inviter_id == Some(user.id)
                && i.max_age == max_age
                && i.max_uses == max_uses
                && i.temporary == body.temporary
        });
        if let Some(i) = similar {
            return render_invite(ctx, &i, true, false).await;
        }
    }
    for _ in 0..5 {
        let code: String = rand::thread_rng().sample_iter(&Alphanumeric).take(8).map(char::from).collect();
        let row = InviteRow {
            code,
            guild_id: guild,
            channel_id: access.channel.id,
            inviter_id: Some(user.id),
            max_age,
            max_uses,
            uses: 0,
            temporary: body.temporary,
            created_at: now,
        };
        let entry = ctx.audit_entry(
            guild,
            user.id,
            action::INVITE_CREATE,
            None,
            audit::diff(&json!({}), &json!({"code": row.code, "channel_id": row.channel_id, "max_age": row.max_age, "max_uses": row.max_uses, "temporary": row.temporary})),
            None,
            reason,
        )?;
        match ctx.store.create_invite(&row, Some(&entry)).await {
            Ok(()) => {
                let invite = render_invite(ctx, &row, true, false).await?;
                if let Some(place) = access.invite_place() {
                    ctx.invite_created(&place, &invite);
                }
                if let Some(g) = &access.guild {
                    ctx.announce_audit(g, &entry).await?;
                }
                return Ok(invite);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal("could not find a free invite code"))
}

/// A guild channel's live invites, for those who may manage the channel.
pub async fn channel_invites(ctx: &Domain, user: &UserRow, channel: ChannelId) -> Result<Vec<Invite>> {
    let access = access::channel(ctx, user, channel).await?;
    if access.guild.is_none() {
        return Err(Error::wrong_channel_type());
    }
    access.require(permissions::MANAGE_CHANNELS)?;
    let mut out = Vec::new();
    for i in ctx.store.channel_invites(access.channel.id, Timestamp::now().unix_ms()).await? {
        out.push(render_invite(ctx, &i, true, false).await?);
    }
    Ok(out)
}

/// A guild's live invites, for those who may manage the guild.
pub async fn guild_invites(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<Vec<Invite>> {
    let guild = access::guild(ctx, user, guild).await?;
    guild.require(permissions::MANAGE_GUILD)?;
    let mut out = Vec::new();
    for i in ctx.store.guild_invites(guild.guild.id, Timestamp::now().unix_ms()).await? {
        out.push(render_invite(ctx, &i, true, false).await?);
    }
    Ok(out)
}

/// A live invite by code; expired and used-up ones do not exist, nor do
/// codes that no invite could have.
pub async fn live(ctx: &Domain, code: &str) -> Result<InviteRow> {
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::unknown_invite());
    }
    match ctx.store.invite(code).await? {
        Some(i) if i.is_live(Timestamp::now().unix_ms()) => Ok(i),
        _ => Err(Error::unknown_invite()),
    }
}

/// Anyone may look a live invite up (that is what it is for);
/// `with_counts` adds the guild's member and online counts.
pub async fn get(ctx: &Domain, code: &str, with_counts: bool) -> Result<Invite> {
    let invite = live(ctx, code).await?;
    render_invite(ctx, &invite, false, with_counts).await
}

/// Joins the invite's guild (people only; not the banned). A newcomer is
/// announced (GUILD_CREATE to them, GUILD_MEMBER_ADD to the guild, with
/// `large_threshold` for the snapshot); a member already there just gets the
/// invite.
pub async fn join(ctx: &Domain, user: &UserRow, code: &str, large_threshold: u64) -> Result<Invite> {
    if user.bot {
        return Err(Error::bots_forbidden());
    }
    live(ctx, code).await?;
    match ctx.store.join_by_invite(code, user.id, Timestamp::now().unix_ms()).await? {
        JoinOutcome::Joined(i) => {
            crate::members::announce_join(ctx, i.guild_id, user, large_threshold).await?;
            render_invite(ctx, &i, false, false).await
        }
        JoinOutcome::AlreadyMember(i) => render_invite(ctx, &i, false, false).await,
        JoinOutcome::Invalid => Err(Error::unknown_invite()),
        JoinOutcome::Banned => Err(Error::banned()),
    }
}

/// Revokes a live invite: MANAGE_CHANNELS in its channel or MANAGE_GUILD.
/// Audited; INVITE_DELETE. Answers the invite as it was.
pub async fn delete(ctx: &Domain, user: &UserRow, code: &str, reason: &Reason) -> Result<Invite> {
    let invite = live(ctx, code).await?;
    let channel = access::channel(ctx, user, invite.channel_id).await?;
    let guild = channel.guild.as_ref().ok_or_else(Error::unknown_invite)?;
    if !channel.has(permissions::MANAGE_CHANNELS) && guild.permissions & permissions::MANAGE_GUILD == 0 {
        return Err(Error::missing_permissions());
    }
    let rendered = render_invite(ctx, &invite, true, false).await?;
    let entry = ctx.audit_entry(
        invite.guild_id,
        user.id,
        action::INVITE_DELETE,
        None,
        audit::diff(&json!({"code": invite.code, "channel_id": invite.channel_id, "max_age": invite.max_age, "max_uses": invite.max_uses}), &json!({})),
        None,
        reason,
    )?;
    if ctx.store.delete_invite(code, Some(&entry)).await? {
        if let Some(place) = channel.invite_place() {
            ctx.invite_deleted(&place, code);
        }
        ctx.announce_audit(guild, &entry).await?;
    }
    Ok(rendered)
}
