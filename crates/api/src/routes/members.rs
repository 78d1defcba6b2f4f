//! Moderating members: edits, nicknames, timeouts, kicks, bans, search.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::guild::Member;
use model::permissions;
use model::snowflake::SnowflakeGenerator;
use model::Timestamp;
use store::{BanRow, MemberPatch, MemberRow, RoleId, UserId};

use crate::extract::{path_id, Authed, Body, Path, Query};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::access::GuildAccess;
use domain::audit::{action, Reason};
use domain::{access, render};
use events::Dispatch;
use model::nullable;

/// Longest timeout Discord allows.
const MAX_TIMEOUT_MS: i64 = 28 * 24 * 3600 * 1000;
const MAX_DELETE_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Deserialize)]
pub struct UpdateMember {
    #[serde(default, deserialize_with = "nullable")]
    nick: Option<Option<String>>,
    roles: Option<Vec<RoleId>>,
    mute: Option<bool>,
    deaf: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    communication_disabled_until: Option<Option<String>>,
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "update_guild_member", tag = "Members",
    summary = "Modify a member: nickname, roles, mute, deafen, timeout",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::MemberUpdate,
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<UpdateMember>,
) -> ApiResult<Json<Member>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = if u == "@me" { user.id } else { path_id("user_id", &u)? };
    edit_member(&state, &user, &guild, target, body, &reason).await.map(Json)
}

async fn edit_member(
    state: &ApiState,
    user: &store::UserRow,
    guild: &GuildAccess,
    target: UserId,
    body: UpdateMember,
    reason: &Reason,
) -> ApiResult<Member> {
    let member = state.store.member(guild.guild.id, target).await?.ok_or_else(ApiError::unknown_member)?;
    let me = target == user.id;
    let mut errors = FormErrors::default();
    let mut changes = Vec::new();
    if let Some(nick) = &body.nick {
        if nick.as_ref().is_some_and(|n| n.chars().count() > 32) {
            errors.add("nick", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.");
        }
        if let Some(n) = nick {
            domain::names::check_visible(&mut errors, "nick", n);
        }
        if me {
            guild.require(permissions::CHANGE_NICKNAME)?;
        } else {
            guild.require(permissions::MANAGE_NICKNAMES)?;
            guild.require_above(&member)?;
        }
        changes.push(json!({"key": "nick", "old_value": member.nick, "new_value": nick}));
    }
    let mut role_entry = None;
    if let Some(roles) = &body.roles {
        guild.require(permissions::MANAGE_ROLES)?;
        let mut wanted: Vec<RoleId> = roles.clone();
        wanted.sort();
        wanted.dedup();
        for (i, r) in wanted.iter().enumerate() {
            match guild.roles.iter().find(|x| x.id == *r) {
                Some(role) if role.id.get() != guild.guild.id.get() && !role.managed => {}
                _ => errors.add(&format!("roles.{i}"), "UNKNOWN_ROLE", "Unknown role."),
            }
        }
        let added: Vec<RoleId> = wanted.iter().filter(|r| !member.roles.contains(r)).copied().collect();
        let removed: Vec<RoleId> = member.roles.iter().filter(|r| !wanted.contains(r)).copied().collect();
        for r in added.iter().chain(removed.iter()) {
            if let Some(role) = guild.roles.iter().find(|x| x.id == *r) {
                guild.require_role_below(role)?;
            }
        }
        let name = |id: &RoleId| guild.roles.iter().find(|r| r.id == *id).map(|r| json!({"id": r.id, "name": r.name}));
        let mut role_changes = Vec::new();
        if !added.is_empty() {
            role_changes.push(json!({"key": "$add", "new_value": added.iter().filter_map(name).collect::<Vec<_>>()}));
        }
        if !removed.is_empty() {
            role_changes
                .push(json!({"key": "$remove", "new_value": removed.iter().filter_map(name).collect::<Vec<_>>()}));
        }
        if !role_changes.is_empty() {
            role_entry = Some(state.audit_entry(
                guild.guild.id,
                user.id,
                action::MEMBER_ROLE_UPDATE,
                Some(target.get()),
                role_changes,
                None,
                reason,
            ));
        }
    }
    for (flag, value, perm) in
        [("mute", body.mute, permissions::MUTE_MEMBERS), ("deaf", body.deaf, permissions::DEAFEN_MEMBERS)]
    {
        if let Some(v) = value {
            guild.require(perm)?;
            let old = if flag == "mute" { member.mute } else { member.deaf };
            changes.push(json!({"key": flag, "old_value": old, "new_value": v}));
        }
    }
    let mut timeout = None;
    if let Some(until) = &body.communication_disabled_until {
        guild.require(permissions::MODERATE_MEMBERS)?;
        if !me {
            guild.require_above(&member)?;
        }
        let parsed = match until {
            None => None,
            Some(text) => match Timestamp::parse(text) {
                Some(t) if t.unix_ms() <= Timestamp::now().unix_ms() + MAX_TIMEOUT_MS => Some(t.unix_ms()),
                Some(_) => {
                    errors.add(
                        "communication_disabled_until",
                        "COMMUNICATION_DISABLED_TIMESTAMP_TOO_LONG",
                        "Timeouts can be at most 28 days.",
                    );
                    None
                }
                None => {
                    errors.add("communication_disabled_until", "DATE_TIME_TYPE_PARSE", "Could not parse timestamp.");
                    None
                }
            },
        };
        // Owners and administrators cannot be timed out.
        let target_perms =
            guild.permissions_of(&MemberRow { communication_disabled_until: None, ..member.clone() }, &[]);
        if parsed.is_some() && (target == guild.guild.owner_id || target_perms & permissions::ADMINISTRATOR != 0) {
            return Err(ApiError::missing_permissions());
        }
        changes.push(json!({
            "key": "communication_disabled_until",
            "old_value": member.communication_disabled_until.map(Timestamp::from_unix_ms),
            "new_value": parsed.map(Timestamp::from_unix_ms),
        }));
        timeout = Some(parsed);
    }
    errors.finish()?;
    let mut entries = Vec::new();
    {
        let changes: Vec<Value> = changes
            .into_iter()
            // Keys whose value does not change are not changes.
            .filter(|c| c.get("old_value") != c.get("new_value"))
            .map(without_null_values)
            .collect();
        if !changes.is_empty() {
            entries.push(state.audit_entry(
                guild.guild.id,
                user.id,
                action::MEMBER_UPDATE,
                Some(target.get()),
                changes,
                None,
                reason,
            ));
        }
    }
    entries.extend(role_entry);
    let patch = MemberPatch {
        nick: body.nick.map(|n| n.filter(|n| !n.trim().is_empty())),
        roles: body.roles,
        mute: body.mute,
        deaf: body.deaf,
        communication_disabled_until: timeout,
    };
    state.store.update_member(guild.guild.id, target, &patch, &entries).await?;
    let rendered = domain::members::after_change(state, guild, &member).await?.ok_or_else(ApiError::unknown_member)?;
    for entry in &entries {
        state.announce_audit(guild, entry).await?;
    }
    Ok(rendered)
}

fn without_null_values(mut change: Value) -> Value {
    if let Some(map) = change.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    change
}

#[derive(Deserialize)]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "nullable")]
    nick: Option<Option<String>>,
}

/// `PATCH /guilds/{id}/members/@me`: one's own nickname.
#[utoipa::path(
    patch, path = "/guilds/{guild_id}/members/@me",
    operation_id = "update_my_guild_member", tag = "Members",
    summary = "Modify the current member",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::MyMemberUpdate,
    responses((status = 200, body = crate::openapi::Member)),
)]
pub async fn update_me(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<UpdateMe>,
) -> ApiResult<Json<Member>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let edit =
        UpdateMember { nick: body.nick, roles: None, mute: None, deaf: None, communication_disabled_until: None };
    edit_member(&state, &user, &guild, user.id, edit, &reason).await.map(Json)
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/members/{user_id}",
    operation_id = "delete_guild_member", tag = "Members",
    summary = "Kick a member",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn kick(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = path_id("user_id", &u)?;
    guild.require(permissions::KICK_MEMBERS)?;
    let member = state.store.member(guild.guild.id, target).await?.ok_or_else(ApiError::unknown_member)?;
    guild.require_above(&member)?;
    let entry =
        state.audit_entry(guild.guild.id, user.id, action::MEMBER_KICK, Some(target.get()), Vec::new(), None, &reason);
    if state.store.kick(guild.guild.id, target, Some(&entry)).await? {
        if let Some(u) = state.store.user(target).await? {
            state.member_left(guild.guild.id, &render::user(&u));
        }
        domain::members::drop_managed_roles(&state, &guild, &member).await?;
        state.announce_audit(&guild, &entry).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn render_ban(ban: &BanRow, user: Option<&store::UserRow>) -> Value {
    json!({ "reason": ban.reason, "user": user.map(render::user) })
}

#[derive(Deserialize)]
pub struct BansQuery {
    before: Option<UserId>,
    after: Option<crate::extract::Cursor>,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/bans",
    operation_id = "list_guild_bans", tag = "Bans",
    summary = "List bans",
    params(crate::openapi::Page),
    responses((status = 200, body = Vec<crate::openapi::Ban>)),
)]
pub async fn bans(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    Query(q): Query<BansQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let limit = crate::extract::page_limit(q.limit, 1000, 1000)?;
    let bans = state.store.bans(guild.guild.id, q.before, q.after.and_then(crate::extract::Cursor::id), limit).await?;
    let users = state.store.users(&bans.iter().map(|b| b.user_id).collect::<Vec<_>>()).await?;
    Ok(Json(bans.iter().map(|b| render_ban(b, users.iter().find(|u| u.id == b.user_id))).collect()))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "get_guild_ban", tag = "Bans",
    summary = "Get a ban",
    responses((status = 200, body = crate::openapi::Ban)),
)]
pub async fn ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::BAN_MEMBERS)?;
    let target: UserId = path_id("user_id", &u)?;
    let ban = state.store.ban_of(guild.guild.id, target).await?.ok_or_else(ApiError::unknown_ban)?;
    let banned = state.store.user(target).await?;
    Ok(Json(render_ban(&ban, banned.as_ref())))
}

#[derive(Deserialize, Default)]
pub struct BanBody {
    delete_message_seconds: Option<i64>,
    /// The older, deprecated form.
    delete_message_days: Option<i64>,
}

impl BanBody {
    fn delete_seconds(&self) -> ApiResult<i64> {
        match (self.delete_message_seconds, self.delete_message_days) {
            (Some(s), _) if !(0..=MAX_DELETE_SECONDS).contains(&s) => {
                Err(ApiError::field("delete_message_seconds", "NUMBER_TYPE_MAX", "Must be between 0 and 604800."))
            }
            (Some(s), _) => Ok(s),
            // The error names the field the client sent.
            (None, Some(d)) if !(0..=7).contains(&d) => {
                Err(ApiError::field("delete_message_days", "NUMBER_TYPE_MAX", "Must be between 0 and 7."))
            }
            (None, Some(d)) => Ok(d * 86_400),
            (None, None) => Ok(0),
        }
    }
}

/// Bans one user; `Ok(false)` when they may not be banned by this caller.
async fn ban_one(
    state: &ApiState,
    user: &store::UserRow,
    guild: &GuildAccess,
    target: UserId,
    seconds: i64,
    reason: &Reason,
) -> ApiResult<bool> {
    let banned = state.store.user(target).await?.ok_or_else(ApiError::unknown_user)?;
    if target == guild.guild.owner_id || target == user.id {
        return Ok(false);
    }
    if let Some(member) = state.store.member(guild.guild.id, target).await? {
        if guild.require_above(&member).is_err() {
            return Ok(false);
        }
    }
    let now = Timestamp::now().unix_ms();
    let row = BanRow { guild_id: guild.guild.id, user_id: target, reason: reason.0.clone(), created_at: now };
    let delete_after = (seconds > 0).then(|| SnowflakeGenerator::lower_bound(((now - seconds * 1000).max(0)) as u64));
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::MEMBER_BAN_ADD,
        Some(target.get()),
        Vec::new(),
        None,
        reason,
    );
    let was_member = state.store.member(guild.guild.id, target).await?;
    let deleted = state.store.ban(&row, delete_after, Some(&entry)).await?;
    let banned = render::user(&banned);
    if let Some(member) = &was_member {
        state.member_left(guild.guild.id, &banned);
        domain::members::drop_managed_roles(state, guild, member).await?;
    }
    state.ban_event(Dispatch::BanAdd, guild.guild.id, &banned);
    for (channel, ids) in deleted {
        let place = domain::publish::Place::Guild { guild: guild.guild.id, channel };
        state.messages_bulk_deleted(&place, &ids);
    }
    state.announce_audit(guild, &entry).await?;
    Ok(true)
}

#[utoipa::path(
    put, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "ban_user_from_guild", tag = "Bans",
    summary = "Ban a user, optionally deleting their recent messages",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::BanCreate,
    responses((status = 204)),
)]
pub async fn put_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<BanBody>,
) -> ApiResult<StatusCode> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = path_id("user_id", &u)?;
    guild.require(permissions::BAN_MEMBERS)?;
    let seconds = body.delete_seconds()?;
    if ban_one(&state, &user, &guild, target, seconds, &reason).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::missing_permissions())
    }
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/bans/{user_id}",
    operation_id = "unban_user_from_guild", tag = "Bans",
    summary = "Lift a ban",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn remove_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = path_id("user_id", &u)?;
    guild.require(permissions::BAN_MEMBERS)?;
    let entry = state.audit_entry(
        guild.guild.id,
        user.id,
        action::MEMBER_BAN_REMOVE,
        Some(target.get()),
        Vec::new(),
        None,
        &reason,
    );
    if !state.store.unban(guild.guild.id, target, Some(&entry)).await? {
        return Err(ApiError::unknown_ban());
    }
    if let Some(u) = state.store.user(target).await? {
        state.ban_event(Dispatch::BanRemove, guild.guild.id, &render::user(&u));
    }
    state.announce_audit(&guild, &entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct BulkBan {
    user_ids: Vec<UserId>,
    delete_message_seconds: Option<i64>,
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/bulk-ban",
    operation_id = "bulk_ban_users_from_guild", tag = "Bans",
    summary = "Ban up to 200 users at once",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::BulkBan,
    responses((status = 200, body = crate::openapi::BulkBanResult)),
)]
pub async fn bulk_ban(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<BulkBan>,
) -> ApiResult<Json<Value>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::BAN_MEMBERS | permissions::MANAGE_GUILD)?;
    if body.user_ids.is_empty() || body.user_ids.len() > 200 {
        return Err(ApiError::field("user_ids", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 200 in length."));
    }
    let seconds =
        BanBody { delete_message_seconds: body.delete_message_seconds, delete_message_days: None }.delete_seconds()?;
    let (mut banned, mut failed) = (Vec::new(), Vec::new());
    for target in body.user_ids {
        let ok = match ban_one(&state, &user, &guild, target, seconds, &reason).await {
            Ok(ok) => ok,
            Err(e) if e.code == 10013 => false,
            Err(e) => return Err(e),
        };
        if ok {
            banned.push(target)
        } else {
            failed.push(target)
        }
    }
    if banned.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, 500000, "Failed to ban users"));
    }
    Ok(Json(json!({ "banned_users": banned, "failed_users": failed })))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    query: String,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/members/search",
    operation_id = "search_guild_members", tag = "Members",
    summary = "Find members whose name starts with a query",
    params(crate::openapi::MemberSearchQuery),
    responses((status = 200, body = Vec<crate::openapi::Member>)),
)]
pub async fn search(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<Member>>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let limit = crate::extract::page_limit(q.limit, 1, 1000)?;
    if !(1..=100).contains(&q.query.chars().count()) {
        return Err(ApiError::field("query", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    let rows = state.store.search_members(guild.guild.id, &q.query, limit).await?;
    let users = state.store.users(&rows.iter().map(|m| m.user_id).collect::<Vec<_>>()).await?;
    Ok(Json(
        rows.iter()
            .filter_map(|m| users.iter().find(|u| u.id == m.user_id).map(|u| render::member(m, Some(u))))
            .collect(),
    ))
}
