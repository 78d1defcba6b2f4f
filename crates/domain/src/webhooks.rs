//! Webhooks: who may create, list, change and delete them (MANAGE_WEBHOOKS
//! in their channel), what their token allows (its own webhook and its own
//! messages, nothing else), their audit entries and WEBHOOKS_UPDATE, and
//! executing one: a message through `messages::send` as `Author::Webhook`.

use serde::Deserialize;
use serde_json::json;

use media::Key;
use model::channel::ChannelType;
use model::message::Message;
use model::webhook::{kind, Webhook};
use model::{permissions, Timestamp};
use store::{ChannelId, GuildId, NewUser, StoreError, UserRow, WebhookId, WebhookPatch, WebhookRow};

use crate::audit::{self, action, Reason};
use crate::messages::{self, Author, Draft, Edit, WebhookPost};
use crate::{access, render, Domain, Error, FormErrors, Result};

/// At most this many webhooks per channel, as on Discord.
pub const MAX_PER_CHANNEL: usize = 15;

/// An avatar image already checked by the transport: its hash, file
/// extension and bytes, stored under the webhook's id.
pub struct Avatar {
    pub hash: String,
    pub extension: &'static str,
    pub bytes: Vec<u8>,
}

/// Who acts on a webhook: someone who manages the channel's webhooks, or a
/// caller holding its token (which reaches this webhook only).
pub enum Caller<'a> {
    User(&'a UserRow),
    Token(&'a str),
}

/// The fields `POST /channels/{id}/webhooks` and the changes take.
#[derive(Debug, Default, Deserialize)]
pub struct WebhookBody {
    pub name: Option<String>,
    /// Changes only: move it to another channel of the guild.
    pub channel_id: Option<ChannelId>,
}

/// Checks a webhook's name as Discord does: 1 to 80 characters, and not
/// containing "clyde" or "discord".
fn check_name(errors: &mut FormErrors, name: &str) {
    let n = name.trim().chars().count();
    if !(1..=80).contains(&n) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.");
    }
    let lower = name.to_lowercase();
    if lower.contains("clyde") || lower.contains("discord") {
        errors.add("name", "USERNAME_INVALID_CONTAINS", "Username cannot contain \"clyde\" or \"discord\"");
    }
}

/// The channel, if `user` may manage its webhooks: a guild channel that
/// holds messages, MANAGE_WEBHOOKS there.
async fn managed_channel(ctx: &Domain, user: &UserRow, channel: ChannelId) -> Result<access::ChannelAccess> {
    let access = access::channel(ctx, user, channel).await?;
    if access.guild.is_none() {
        return Err(Error::wrong_channel_type());
    }
    access.require(permissions::MANAGE_WEBHOOKS)?;
    if !ChannelType::from_code(access.channel.kind).is_textual() {
        return Err(Error::wrong_channel_type());
    }
    Ok(access)
}

async fn render_full(ctx: &Domain, w: &WebhookRow) -> Result<Webhook> {
    let creator = match w.creator_id {
        Some(id) => ctx.store.user(id).await?,
        None => None,
    };
    Ok(render::webhook(w, creator.as_ref(), true))
}

/// Creates an incoming webhook in a guild channel (MANAGE_WEBHOOKS there),
/// at most 15 per channel. Audited; WEBHOOKS_UPDATE.
pub async fn create(
    ctx: &Domain,
    user: &UserRow,
    channel: ChannelId,
    body: WebhookBody,
    avatar: Option<Avatar>,
    reason: &Reason,
) -> Result<Webhook> {
    let access = managed_channel(ctx, user, channel).await?;
    let guild = access.guild.as_ref().expect("a guild channel");
    let mut errors = FormErrors::default();
    let name = match body.name.as_deref() {
        Some(name) => {
            check_name(&mut errors, name);
            name.trim().to_owned()
        }
        None => {
            errors.add("name", "BASE_TYPE_REQUIRED", "This field is required");
            String::new()
        }
    };
    errors.finish()?;
    if ctx.store.channel_webhooks(access.channel.id).await?.len() >= MAX_PER_CHANNEL {
        return Err(Error::max_webhooks());
    }
    let id: WebhookId = ctx.ids.next()?;
    let now = Timestamp::now().unix_ms();
    let row = WebhookRow {
        id,
        kind: kind::INCOMING,
        guild_id: guild.guild.id,
        channel_id: access.channel.id,
        creator_id: Some(user.id),
        application_id: None,
        name,
        avatar: avatar.as_ref().map(|a| a.hash.clone()),
        token: auth::url_secret(),
        created_at: now,
    };
    // The image first, so no row names a missing file.
    if let Some(a) = &avatar {
        put_avatar(ctx, &row, a).await?;
    }
    let account = NewUser {
        id: row.user_id(),
        // No person can take it: usernames have no `~`.
        username: format!("webhook~{id}"),
        email: None,
        password_hash: None,
        global_name: Some(row.name.clone()),
        bot: true,
        created_at: now,
    };
    let entry = ctx.audit_entry(
        row.guild_id,
        user.id,
        action::WEBHOOK_CREATE,
        Some(id.get()),
        audit::diff(
            &json!({}),
            &json!({"name": row.name, "channel_id": row.channel_id, "type": row.kind, "avatar_hash": row.avatar}),
        ),
        None,
        reason,
    )?;
    ctx.store.create_webhook(&row, &account, Some(&entry)).await?;
    ctx.webhooks_updated(row.guild_id, row.channel_id);
    ctx.announce_audit(guild, &entry).await?;
    render_full(ctx, &row).await
}

async fn put_avatar(ctx: &Domain, row: &WebhookRow, a: &Avatar) -> Result<()> {
    let key = Key::avatar(row.user_id(), &a.hash, a.extension).ok_or_else(|| Error::internal("avatar hash"))?;
    ctx.media.put(&key, a.bytes.clone().into()).await.map_err(Error::internal)
}

/// A channel's webhooks (MANAGE_WEBHOOKS there).
pub async fn list_channel(ctx: &Domain, user: &UserRow, channel: ChannelId) -> Result<Vec<Webhook>> {
    let access = managed_channel(ctx, user, channel).await?;
    let mut out = Vec::new();
    for w in ctx.store.channel_webhooks(access.channel.id).await? {
        out.push(render_full(ctx, &w).await?);
    }
    Ok(out)
}

/// A guild's webhooks (MANAGE_WEBHOOKS guild-wide).
pub async fn list_guild(ctx: &Domain, user: &UserRow, guild: GuildId) -> Result<Vec<Webhook>> {
    access::guild(ctx, user, guild).await?.require(permissions::MANAGE_WEBHOOKS)?;
    let mut out = Vec::new();
    for w in ctx.store.guild_webhooks(guild).await? {
        out.push(render_full(ctx, &w).await?);
    }
    Ok(out)
}

/// What a webhook URL (`/webhooks/{id}/{token}`) names: a webhook, or an
/// interaction of the application whose id is in the path (its follow-ups
/// and edits, for its token's lifetime).
pub enum Target {
    Hook(Box<WebhookRow>),
    Interaction(crate::interactions::InteractionId),
}

/// The target of a webhook URL: an interaction's token first (kept in
/// memory), else the webhook's (10015 unknown, 50027 wrong token).
pub async fn target(ctx: &Domain, id: WebhookId, token: &str) -> Result<Target> {
    if let Some(i) = ctx.interactions.by_token(store::UserId::new(id.get()), token) {
        return Ok(Target::Interaction(i));
    }
    Ok(Target::Hook(Box::new(authorize(ctx, &Caller::Token(token), id).await?)))
}

/// The webhook, if the caller may act on it: with MANAGE_WEBHOOKS in its
/// channel, or with its token (compared in constant time). A wrong token
/// answers 50027; an unknown id 10015 either way.
pub async fn authorize(ctx: &Domain, caller: &Caller<'_>, id: WebhookId) -> Result<WebhookRow> {
    let hook = ctx.store.webhook(id).await?;
    match caller {
        Caller::Token(token) => {
            let hook = hook.ok_or_else(Error::unknown_webhook)?;
            if !auth::constant_time_eq(hook.token.as_bytes(), token.as_bytes()) {
                return Err(Error::invalid_webhook_token());
            }
            Ok(hook)
        }
        Caller::User(user) => {
            let hook = hook.ok_or_else(Error::unknown_webhook)?;
            managed_channel(ctx, user, hook.channel_id).await?;
            Ok(hook)
        }
    }
}

/// The webhook as the caller may see it: without its creator and token
/// when asked with the token.
pub async fn get(ctx: &Domain, caller: &Caller<'_>, id: WebhookId) -> Result<Webhook> {
    let hook = authorize(ctx, caller, id).await?;
    match caller {
        Caller::User(_) => render_full(ctx, &hook).await,
        Caller::Token(_) => Ok(render::webhook(&hook, None, false)),
    }
}

/// Changes the name, avatar (`Some(None)` removes it) and, for a user who
/// manages both channels, the channel. Audited when a user acts;
/// WEBHOOKS_UPDATE for each channel concerned.
pub async fn modify(
    ctx: &Domain,
    caller: &Caller<'_>,
    id: WebhookId,
    body: WebhookBody,
    avatar: Option<Option<Avatar>>,
    reason: &Reason,
) -> Result<Webhook> {
    let hook = authorize(ctx, caller, id).await?;
    let mut errors = FormErrors::default();
    if let Some(name) = &body.name {
        check_name(&mut errors, name);
    }
    if body.channel_id.is_some() && matches!(caller, Caller::Token(_)) {
        errors.add("channel_id", "BASE_TYPE_BAD_TYPE", "A webhook's token cannot move it.");
    }
    errors.finish()?;
    let mut moved_to = None;
    if let (Caller::User(user), Some(channel)) = (caller, body.channel_id) {
        let target = managed_channel(ctx, user, channel).await?;
        if target.guild_id() != Some(hook.guild_id) {
            return Err(Error::invalid_guild());
        }
        moved_to = Some(target.channel.id).filter(|c| *c != hook.channel_id);
    }
    if let Some(Some(a)) = &avatar {
        put_avatar(ctx, &hook, a).await?;
    }
    let patch = WebhookPatch {
        name: body.name.map(|n| n.trim().to_owned()),
        avatar: avatar.as_ref().map(|a| a.as_ref().map(|a| a.hash.clone())),
        channel_id: moved_to,
    };
    let entry = match caller {
        Caller::User(user) => {
            let before = json!({"name": hook.name, "channel_id": hook.channel_id, "avatar_hash": hook.avatar});
            let mut after = before.clone();
            if let Some(n) = &patch.name {
                after["name"] = json!(n);
            }
            if let Some(c) = moved_to {
                after["channel_id"] = json!(c);
            }
            if let Some(a) = &patch.avatar {
                after["avatar_hash"] = json!(a);
            }
            let changes = audit::diff(&before, &after);
            Some(ctx.audit_entry(
                hook.guild_id,
                user.id,
                action::WEBHOOK_UPDATE,
                Some(id.get()),
                changes,
                None,
                reason,
            )?)
        }
        Caller::Token(_) => None,
    };
    let updated = match ctx.store.update_webhook(id, &patch, entry.as_ref()).await {
        Ok(updated) => updated,
        Err(StoreError::NotFound) => return Err(Error::unknown_webhook()),
        Err(e) => return Err(e.into()),
    };
    ctx.webhooks_updated(hook.guild_id, hook.channel_id);
    if let Some(c) = moved_to {
        ctx.webhooks_updated(hook.guild_id, c);
    }
    if let (Caller::User(user), Some(entry)) = (caller, &entry) {
        let guild = access::guild(ctx, user, hook.guild_id).await?;
        ctx.announce_audit(&guild, entry).await?;
    }
    match caller {
        Caller::User(_) => render_full(ctx, &updated).await,
        Caller::Token(_) => Ok(render::webhook(&updated, None, false)),
    }
}

/// Deletes the webhook: its token stops working at once; its messages stay.
/// Audited when a user acts; WEBHOOKS_UPDATE.
pub async fn delete(ctx: &Domain, caller: &Caller<'_>, id: WebhookId, reason: &Reason) -> Result<()> {
    let hook = authorize(ctx, caller, id).await?;
    let entry = match caller {
        Caller::User(user) => Some(ctx.audit_entry(
            hook.guild_id,
            user.id,
            action::WEBHOOK_DELETE,
            Some(id.get()),
            audit::diff(&json!({"name": hook.name, "channel_id": hook.channel_id, "type": hook.kind}), &json!({})),
            None,
            reason,
        )?),
        Caller::Token(_) => None,
    };
    if ctx.store.delete_webhook(id, entry.as_ref()).await? {
        ctx.webhooks_updated(hook.guild_id, hook.channel_id);
        if let (Caller::User(user), Some(entry)) = (caller, &entry) {
            let guild = access::guild(ctx, user, hook.guild_id).await?;
            ctx.announce_audit(&guild, entry).await?;
        }
    }
    Ok(())
}

/// What executing a webhook may add to a message body.
#[derive(Debug, Default, Deserialize)]
pub struct Overrides {
    pub username: Option<String>,
    pub avatar_url: Option<String>,
}

/// Checks the body's overrides; the name is the webhook's unless given.
pub fn check_overrides(errors: &mut FormErrors, o: &Overrides) {
    if let Some(name) = &o.username {
        let n = name.trim().chars().count();
        if !(1..=80).contains(&n) {
            errors.add("username", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.");
        }
        let lower = name.to_lowercase();
        if lower.contains("clyde") || lower.contains("discord") {
            errors.add("username", "USERNAME_INVALID_CONTAINS", "Username cannot contain \"clyde\" or \"discord\"");
        }
    }
    if let Some(url) = &o.avatar_url {
        let ok = url.len() <= 2048 && (url.starts_with("https://") || url.starts_with("http://"));
        if !ok {
            errors.add("avatar_url", "URL_TYPE_INVALID_URL", "Not a well formed URL.");
        }
    }
}

/// The webhook's own user row (its messages' author).
pub async fn account(ctx: &Domain, hook: &WebhookRow) -> Result<UserRow> {
    ctx.store.user(hook.user_id()).await?.ok_or_else(Error::unknown_webhook)
}

/// Posts `draft` through the webhook (its token already checked), under
/// the override name if given. `avatar_url` is accepted and checked, but
/// the message shows the webhook's own avatar: avatars are served from this
/// server's store, and fetching an arbitrary URL is not done here.
pub async fn execute(ctx: &Domain, hook: &WebhookRow, draft: Draft, overrides: Overrides) -> Result<Message> {
    let mut errors = FormErrors::default();
    check_overrides(&mut errors, &overrides);
    errors.finish()?;
    let user = account(ctx, hook).await?;
    let post = WebhookPost {
        hook,
        user: &user,
        username: overrides.username.map(|n| n.trim().to_owned()).unwrap_or_else(|| hook.name.clone()),
        avatar: hook.avatar.clone(),
    };
    messages::send(ctx, Author::Webhook(&post), hook.channel_id, draft).await
}

/// A message the webhook posted.
pub async fn message(ctx: &Domain, hook: &WebhookRow, id: store::MessageId) -> Result<Message> {
    let row = messages::webhook_message(ctx, hook, id).await?;
    let user = account(ctx, hook).await?;
    messages::render_one(ctx, &render::Viewer::everything(user.id), row).await
}

/// Edits a message the webhook posted.
pub async fn edit_message(ctx: &Domain, hook: &WebhookRow, id: store::MessageId, edit: Edit) -> Result<Message> {
    let user = account(ctx, hook).await?;
    messages::edit_webhook_message(ctx, hook, &user, id, edit).await
}
