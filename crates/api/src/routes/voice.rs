//! Voice: the regions a voice channel can use, and who is connected where.
//! Joining and leaving happen on the gateway (op 4); moving and
//! disconnecting others are member edits.

use axum::extract::State;
use axum::Json;

use model::voice::{VoiceRegion, VoiceState};
use store::UserId;

use crate::extract::{path_id, Authed, Path};
use crate::{ApiError, ApiResult, ApiState};
use domain::access;

#[utoipa::path(
    get, path = "/voice/regions",
    operation_id = "list_voice_regions", tag = "Voice",
    summary = "List voice regions",
    responses((status = 200, body = Vec<crate::openapi::VoiceRegion>)),
)]
pub async fn regions(Authed(_user): Authed) -> Json<Vec<VoiceRegion>> {
    Json(domain::voice::regions())
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/regions",
    operation_id = "list_guild_voice_regions", tag = "Voice",
    summary = "List a guild's voice regions",
    responses((status = 200, body = Vec<crate::openapi::VoiceRegion>)),
)]
pub async fn guild_regions(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
) -> ApiResult<Json<Vec<VoiceRegion>>> {
    access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    Ok(Json(domain::voice::regions()))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/voice-states/{user_id}",
    operation_id = "get_voice_state", tag = "Voice",
    summary = "A member's voice state (`@me` for one's own)",
    responses((status = 200, body = crate::openapi::VoiceState)),
)]
pub async fn state(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, u)): Path<(String, String)>,
) -> ApiResult<Json<VoiceState>> {
    let guild = access::guild(&state, &user, path_id("guild_id", &g)?).await?;
    let target: UserId = if u == "@me" { user.id } else { path_id("user_id", &u)? };
    let voice = domain::voice::member_state(&state, guild.guild.id, target).await?;
    voice.map(Json).ok_or_else(ApiError::unknown_voice_state)
}
