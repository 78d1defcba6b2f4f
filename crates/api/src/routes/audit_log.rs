//! `GET /guilds/{id}/audit-logs`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use model::permissions;
use store::{AuditQuery, UserId};

use crate::extract::{path_id, Authed, Path, Query};
use crate::ApiResult;
use crate::ApiState;
use domain::{access, render};

/// An entry as Discord shows it.
#[derive(Deserialize)]
pub struct LogQuery {
    user_id: Option<UserId>,
    target_id: Option<model::Id<model::id::GenericMarker>>,
    action_type: Option<u16>,
    before: Option<model::Id<model::id::GenericMarker>>,
    after: Option<crate::extract::Cursor>,
    limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/audit-logs",
    operation_id = "list_guild_audit_log_entries", tag = "Audit log",
    summary = "List audit log entries, newest first",
    params(crate::openapi::AuditLogQuery),
    responses((status = 200, body = crate::openapi::AuditLog)),
)]
pub async fn list(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    guild.require(permissions::VIEW_AUDIT_LOG)?;
    let limit = crate::extract::page_limit(q.limit, 50, 100)?;
    let entries = state
        .store
        .audit_log(
            guild.guild.id,
            AuditQuery {
                user_id: q.user_id,
                target_id: q.target_id.map(|t| t.get()),
                action_type: q.action_type,
                before: q.before.map(|b| b.get()),
                after: q.after.map(|a| a.0).filter(|a| *a > 0),
                limit,
            },
        )
        .await?;
    let mut user_ids: Vec<UserId> = entries.iter().filter_map(|e| e.user_id).collect();
    user_ids.extend(entries.iter().filter_map(|e| e.target_id.and_then(model::Id::new_checked)));
    user_ids.sort();
    user_ids.dedup();
    let users = state.store.users(&user_ids).await?;
    // The rules the entries are about, as they are now (deleted ones are
    // gone, as on Discord).
    let rule_ids: Vec<u64> =
        entries.iter().filter(|e| (140..=142).contains(&e.action_type)).filter_map(|e| e.target_id).collect();
    let mut rules = Vec::new();
    if !rule_ids.is_empty() {
        for row in state.store.automod_rules(guild.guild.id).await?.iter().filter(|r| rule_ids.contains(&r.id.get())) {
            rules.push(domain::automod::rules::Rule::from_row(row).map_err(crate::ApiError::internal)?.render());
        }
    }
    // Likewise the webhooks they are about, without their tokens.
    let hook_ids: Vec<u64> =
        entries.iter().filter(|e| (50..=52).contains(&e.action_type)).filter_map(|e| e.target_id).collect();
    let mut webhooks = Vec::new();
    if !hook_ids.is_empty() {
        for row in state.store.guild_webhooks(guild.guild.id).await?.iter().filter(|w| hook_ids.contains(&w.id.get())) {
            webhooks.push(render::webhook(row, None, false));
        }
    }
    Ok(Json(json!({
        "audit_log_entries": entries.iter().map(render::audit_entry).collect::<Vec<_>>(),
        "users": users.iter().map(render::user).collect::<Vec<_>>(),
        "integrations": [],
        "webhooks": webhooks,
        "guild_scheduled_events": [],
        "threads": [],
        "application_commands": [],
        "auto_moderation_rules": rules,
    })))
}
