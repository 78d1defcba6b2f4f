//! AutoMod's rules routes (`/guilds/{id}/auto-moderation/rules`): each
//! parses, calls `domain::automod::manage` and answers. What happens to a
//! message that matches a rule is `domain::automod::{check, execute}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::extract::{path_id, Authed, Body, Path};
use crate::ApiResult;
use crate::ApiState;
use domain::audit::Reason;
use domain::automod::manage;
use model::audit::AutoModRule;

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
    Ok(Json(manage::list(&state, &user, path_id("guild_id", &g)?).await?))
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
    let (guild, rule) = (path_id("guild_id", &g)?, path_id("rule_id", &r)?);
    Ok(Json(manage::get(&state, &user, guild, rule).await?))
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
    Body(body): Body<manage::RuleFields>,
) -> ApiResult<Json<AutoModRule>> {
    Ok(Json(manage::create(&state, &user, path_id("guild_id", &g)?, body, &reason).await?))
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
    Body(body): Body<manage::RuleFields>,
) -> ApiResult<Json<AutoModRule>> {
    let (guild, rule) = (path_id("guild_id", &g)?, path_id("rule_id", &r)?);
    Ok(Json(manage::update(&state, &user, guild, rule, body, &reason).await?))
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
    let (guild, rule) = (path_id("guild_id", &g)?, path_id("rule_id", &r)?);
    manage::delete(&state, &user, guild, rule, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
