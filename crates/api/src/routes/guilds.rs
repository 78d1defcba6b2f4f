//! Guilds, their channels and members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use model::channel::{Channel, ChannelType};
use model::guild::{Guild, Member};
use model::{permissions, Timestamp};
use store::{ChannelId, ChannelRow, GuildId, GuildPatch, GuildRow, MemberRow, NewGuild, RoleRow, UserId};

use crate::extract::{path_id, Authed, Body, ListBody, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::audit::{self, action, Reason};
use domain::channels::ChannelFields;
use domain::{access, render};
use events::Dispatch;
use model::nullable;

const AFK_TIMEOUTS: [i64; 5] = [60, 300, 900, 1800, 3600];

fn check_guild_name(errors: &mut FormErrors, name: &str) -> String {
    let name = name.trim();
    if !(2..=100).contains(&name.chars().count()) {
        errors.add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.");
    }
    domain::names::check_visible(errors, "name", name);
    name.to_owned()
}

#[derive(Deserialize)]
pub struct CreateGuild {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(
    post, path = "/guilds",
    operation_id = "create_guild", tag = "Guilds",
    summary = "Create a guild owned by the current user",
    request_body = crate::openapi::GuildCreate,
    responses((status = 201, body = crate::openapi::Guild)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<CreateGuild>,
) -> ApiResult<(StatusCode, Json<Guild>)> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let mut errors = FormErrors::default();
    let name = check_guild_name(&mut errors, &body.name);
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 120) {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.");
    }
    errors.finish()?;
    let now = Timestamp::now().unix_ms();
    let id: GuildId = state.ids.next();
    let text: ChannelId = state.ids.next();
    let voice: ChannelId = state.ids.next();
    let channel = |channel_id, kind: ChannelType, name: &str| ChannelRow {
        id: channel_id,
        kind: kind.code(),
        guild_id: Some(id),
        name: Some(name.to_owned()),
        position: 0,
        parent_id: None,
        topic: None,
        nsfw: false,
        rate_limit_per_user: 0,
        bitrate: 64_000,
        user_limit: 0,
        last_message_id: None,
        last_pin_at: None,
    };
    let new = NewGuild {
        guild: GuildRow {
            id,
            name,
            icon: None,
            description: body.description,
            owner_id: user.id,
            afk_channel_id: None,
            afk_timeout: 300,
            system_channel_id: Some(text),
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
            preferred_locale: "en-US".into(),
            created_at: now,
        },
        everyone: RoleRow {
            // Discord's convention: the @everyone role has the guild's id.
            id: id.cast(),
            guild_id: id,
            name: "@everyone".into(),
            permissions: permissions::DEFAULT_EVERYONE,
            position: 0,
            color: 0,
            hoist: false,
            mentionable: false,
            managed: false,
        },
        channels: vec![
            channel(text, ChannelType::GuildText, "general"),
            channel(voice, ChannelType::GuildVoice, "General"),
        ],
        owner: MemberRow {
            guild_id: id,
            user_id: user.id,
            nick: None,
            roles: Vec::new(),
            joined_at: now,
            deaf: false,
            mute: false,
            communication_disabled_until: None,
        },
    };
    state.store.create_guild(&new).await?;
    let snapshot =
        render::guild_snapshot(state.store.as_ref(), &new.guild, user.id, state.config.large_threshold).await?;
    state.member_joined(id, &render::member(&new.owner, Some(&user)), &snapshot);
    Ok((StatusCode::CREATED, Json(render::guild(&new.guild, &[new.everyone]))))
}

#[derive(Deserialize)]
pub struct GetQuery {
    #[serde(default)]
    with_counts: bool,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}",
    operation_id = "get_guild", tag = "Guilds",
    summary = "Get a guild",
    params(crate::openapi::WithCounts),
    responses((status = 200, body = crate::openapi::Guild)),
)]
pub async fn get(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<GetQuery>,
) -> ApiResult<Json<Guild>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let roles = state.store.roles(access.guild.id).await?;
    let mut guild = render::guild(&access.guild, &roles);
    if q.with_counts {
        guild.approximate_member_count = Some(state.store.member_count(access.guild.id).await?);
        guild.approximate_presence_count = Some(state.presences.online_count(access.guild.id));
    }
    Ok(Json(guild))
}

#[derive(Deserialize)]
pub struct UpdateGuild {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    icon: Option<Option<String>>,
    owner_id: Option<UserId>,
    #[serde(default, deserialize_with = "nullable")]
    afk_channel_id: Option<Option<ChannelId>>,
    afk_timeout: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    system_channel_id: Option<Option<ChannelId>>,
    verification_level: Option<i64>,
    default_message_notifications: Option<i64>,
    explicit_content_filter: Option<i64>,
    preferred_locale: Option<String>,
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}",
    operation_id = "update_guild", tag = "Guilds",
    summary = "Modify a guild",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::GuildUpdate,
    responses((status = 200, body = crate::openapi::Guild)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<UpdateGuild>,
) -> ApiResult<Json<Guild>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    access.require(permissions::MANAGE_GUILD)?;
    let guild_id = access.guild.id;
    let mut errors = FormErrors::default();
    let name = body.name.as_deref().map(|n| check_guild_name(&mut errors, n));
    if body.description.as_ref().is_some_and(|d| d.as_ref().is_some_and(|d| d.chars().count() > 120)) {
        errors.add("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.");
    }
    if let Some(Some(_)) = body.icon {
        errors.add("icon", "ICON_UNSUPPORTED", "Only null (remove the icon) is accepted for now.");
    }
    if let Some(t) = body.afk_timeout {
        if !AFK_TIMEOUTS.contains(&t) {
            errors.add("afk_timeout", "BASE_TYPE_CHOICES", "Value must be one of {60, 300, 900, 1800, 3600}.");
        }
    }
    for (field, value, max) in [
        ("verification_level", body.verification_level, 4),
        ("default_message_notifications", body.default_message_notifications, 1),
        ("explicit_content_filter", body.explicit_content_filter, 2),
    ] {
        if value.is_some_and(|v| !(0..=max).contains(&v)) {
            errors.add(field, "BASE_TYPE_CHOICES", format!("Value must be between 0 and {max}."));
        }
    }
    if body.preferred_locale.as_deref().is_some_and(|l| !model::locale::is_known(l)) {
        errors.add(
            "preferred_locale",
            "BASE_TYPE_CHOICES",
            "Value must be one of Discord's locales (e.g. en-US, fr, pt-BR).",
        );
    }
    let channels = state.store.guild_channels(guild_id).await?;
    for (field, value, kind) in [
        ("afk_channel_id", body.afk_channel_id, ChannelType::GuildVoice),
        ("system_channel_id", body.system_channel_id, ChannelType::GuildText),
    ] {
        if let Some(Some(id)) = value {
            if !channels.iter().any(|c| c.id == id && c.kind == kind.code()) {
                errors.add(field, "CHANNEL_INVALID", "Not a channel of this guild of the right type.");
            }
        }
    }
    if let Some(owner) = body.owner_id {
        if !access.is_owner() {
            return Err(ApiError::missing_permissions());
        }
        if state.store.member(guild_id, owner).await?.is_none() {
            errors.add("owner_id", "GUILD_OWNER_INVALID", "The new owner must be a member of the guild.");
        }
    }
    errors.finish()?;
    let patch = GuildPatch {
        name,
        description: body.description,
        icon: body.icon.map(|_| None),
        owner_id: body.owner_id,
        afk_channel_id: body.afk_channel_id,
        afk_timeout: body.afk_timeout,
        system_channel_id: body.system_channel_id,
        verification_level: body.verification_level,
        default_message_notifications: body.default_message_notifications,
        explicit_content_filter: body.explicit_content_filter,
        preferred_locale: body.preferred_locale,
    };
    let mut after = access.guild.clone();
    patch.apply(&mut after);
    let changes = audit::diff(
        &serde_json::to_value(render::guild(&access.guild, &access.roles)).unwrap_or_default(),
        &serde_json::to_value(render::guild(&after, &access.roles)).unwrap_or_default(),
    );
    let entry =
        state.audit_entry(guild_id, user.id, action::GUILD_UPDATE, Some(guild_id.get()), changes, None, &reason);
    let updated = state.store.update_guild(guild_id, &patch, Some(&entry)).await?;
    let guild = render::guild(&updated, &access.roles);
    state.guild_updated(&guild);
    state.announce_audit(&access, &entry).await?;
    Ok(Json(guild))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}",
    operation_id = "delete_guild", tag = "Guilds",
    summary = "Delete a guild (owner only)",
    responses((status = 204)),
)]
pub async fn delete(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    if !access.is_owner() {
        return Err(ApiError::missing_permissions());
    }
    if state.store.delete_guild(access.guild.id).await? {
        state.guild_deleted(access.guild.id);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/channels",
    operation_id = "list_guild_channels", tag = "Guilds",
    summary = "List a guild's channels",
    responses((status = 200, body = Vec<crate::openapi::Channel>)),
)]
pub async fn channels(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<Channel>>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let channels = state.store.guild_channels(access.guild.id).await?;
    let overwrites = state.store.guild_overwrites(access.guild.id).await?;
    // Only the channels the caller can see.
    let visible = channels
        .iter()
        .map(|c| (c, overwrites.iter().filter(|(id, _)| *id == c.id).map(|(_, o)| o.clone()).collect::<Vec<_>>()))
        .filter(|(_, own)| access.in_channel(own) & permissions::VIEW_CHANNEL != 0)
        .map(|(c, own)| render::channel(c, &own, None))
        .collect();
    Ok(Json(visible))
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/channels",
    operation_id = "create_guild_channel", tag = "Guilds",
    summary = "Create a channel",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::ChannelFields,
    responses((status = 201, body = crate::openapi::Channel)),
)]
pub async fn create_channel(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    Body(body): Body<ChannelFields>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    access.require(permissions::MANAGE_CHANNELS)?;
    let mut errors = FormErrors::default();
    let kind = ChannelType::from_code(body.kind.unwrap_or(0));
    if !matches!(kind, ChannelType::GuildText | ChannelType::GuildVoice | ChannelType::GuildCategory) {
        errors.add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4}.");
    }
    if body.name.is_none() {
        errors.add("name", "BASE_TYPE_REQUIRED", "This field is required");
    }
    let siblings = state.store.guild_channels(access.guild.id).await?;
    if siblings.len() >= 500 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 30013, "Maximum number of guild channels reached (500)"));
    }
    body.check(&mut errors, kind, None, &siblings);
    let overwrites = body.overwrites(&mut errors, &access);
    errors.finish()?;
    if let Some(list) = &overwrites {
        for o in list {
            access.require_grantable(o.allow | o.deny)?;
        }
    }
    let position = body.position.unwrap_or_else(|| {
        siblings.iter().filter(|c| c.kind == kind.code()).map(|c| c.position + 1).max().unwrap_or(0)
    });
    let row = ChannelRow {
        id: state.ids.next(),
        kind: kind.code(),
        guild_id: Some(access.guild.id),
        name: body.name.map(|n| n.trim().to_owned()),
        position,
        parent_id: body.parent_id.flatten(),
        topic: body.topic.flatten().filter(|_| kind == ChannelType::GuildText),
        nsfw: body.nsfw.unwrap_or(false),
        rate_limit_per_user: body.rate_limit_per_user.unwrap_or(0),
        bitrate: body.bitrate.unwrap_or(64_000),
        user_limit: body.user_limit.unwrap_or(0),
        last_message_id: None,
        last_pin_at: None,
    };
    // A channel made in a category starts with the category's overwrites
    // unless it brings its own.
    let overwrites = match overwrites {
        Some(list) => list,
        None => match row.parent_id {
            Some(parent) => state.store.overwrites(parent).await?,
            None => Vec::new(),
        },
    };
    let channel = render::channel(&row, &overwrites, None);
    let entry = state.audit_entry(
        access.guild.id,
        user.id,
        action::CHANNEL_CREATE,
        Some(row.id.get()),
        audit::diff(&serde_json::json!({}), &serde_json::to_value(&channel).unwrap_or_default()),
        None,
        &reason,
    );
    state.store.create_channel(&row, &overwrites, Some(&entry)).await?;
    state.channel_event(Dispatch::ChannelCreate, &channel);
    state.announce_audit(&access, &entry).await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

#[derive(Deserialize)]
pub struct MembersQuery {
    limit: Option<u32>,
    after: Option<crate::extract::Cursor>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members",
    operation_id = "list_guild_members", tag = "Members",
    summary = "List members",
    params(crate::openapi::AfterLimit),
    responses((status = 200, body = Vec<crate::openapi::Member>)),
)]
pub async fn members(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Query(q): Query<MembersQuery>,
) -> ApiResult<Json<Vec<Member>>> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let limit = crate::extract::page_limit(q.limit, 1, 1000)?;
    let members = state.store.members(access.guild.id, q.after.and_then(crate::extract::Cursor::id), limit).await?;
    let ids: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
    let users = state.store.users(&ids).await?;
    Ok(Json(
        members
            .iter()
            .filter_map(|m| users.iter().find(|u| u.id == m.user_id).map(|u| render::member(m, Some(u))))
            .collect(),
    ))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "get_guild_member", tag = "Members",
    summary = "Get a member",
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn member(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((guild, member)): Path<(String, String)>,
) -> ApiResult<Json<Member>> {
    let access = access::guild(&state, &user, path_id("guild_id", &guild)?).await?;
    let member_id: UserId = path_id("user_id", &member)?;
    let row = state.store.member(access.guild.id, member_id).await?.ok_or_else(ApiError::unknown_member)?;
    let u = state.store.user(member_id).await?.ok_or_else(ApiError::unknown_member)?;
    Ok(Json(render::member(&row, Some(&u))))
}

#[derive(Deserialize)]
pub struct ChannelPosition {
    id: ChannelId,
    position: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    parent_id: Option<Option<ChannelId>>,
}

/// `PATCH /guilds/{id}/channels`: moves channels, all or none.
#[utoipa::path(
    patch, path = "/guilds/{guild_id}/channels",
    operation_id = "bulk_update_guild_channels", tag = "Guilds",
    summary = "Move channels, all or none",
    params(crate::openapi::AuditReason),
    request_body = Vec<crate::openapi::ChannelPosition>,
    responses((status = 204)),
)]
pub async fn reorder_channels(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    reason: Reason,
    ListBody(body): ListBody<ChannelPosition>,
) -> ApiResult<StatusCode> {
    let access = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    access.require(permissions::MANAGE_CHANNELS)?;
    let channels = state.store.guild_channels(access.guild.id).await?;
    let mut errors = FormErrors::default();
    for (i, p) in body.iter().enumerate() {
        let Some(c) = channels.iter().find(|c| c.id == p.id) else {
            errors.add(&format!("{i}.id"), "CHANNEL_INVALID", "Not a channel of this guild.");
            continue;
        };
        let fields = ChannelFields {
            name: None,
            kind: None,
            position: p.position,
            parent_id: p.parent_id,
            topic: None,
            nsfw: None,
            rate_limit_per_user: None,
            bitrate: None,
            user_limit: None,
            permission_overwrites: None,
        };
        let mut local = FormErrors::default();
        fields.check(&mut local, ChannelType::from_code(c.kind), Some(c.id), &channels);
        if !local.is_empty() {
            errors.add(&format!("{i}"), "CHANNEL_POSITION_INVALID", "Invalid position or parent.");
        }
    }
    errors.finish()?;
    let overwrites = state.store.guild_overwrites(access.guild.id).await?;
    for p in body {
        let patch = store::ChannelPatch { position: p.position, parent_id: p.parent_id, ..Default::default() };
        let before = channels.iter().find(|c| c.id == p.id).cloned().expect("checked above");
        let mut after = before.clone();
        patch.apply(&mut after);
        let own: Vec<_> = overwrites.iter().filter(|(id, _)| *id == p.id).map(|(_, o)| o.clone()).collect();
        let changes = audit::diff(
            &serde_json::to_value(render::channel(&before, &own, None)).unwrap_or_default(),
            &serde_json::to_value(render::channel(&after, &own, None)).unwrap_or_default(),
        );
        let entry = state.audit_entry(
            access.guild.id,
            user.id,
            action::CHANNEL_UPDATE,
            Some(p.id.get()),
            changes,
            None,
            &reason,
        );
        let updated = state.store.update_channel(p.id, &patch, Some(&entry)).await?;
        state.channel_event(Dispatch::ChannelUpdate, &render::channel(&updated, &own, None));
        state.announce_audit(&access, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
