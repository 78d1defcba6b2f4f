//! A person's client settings (Discord's legacy `/users/@me/settings`):
//! saved status, custom status, theme, locale and display preferences.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use model::user::UserSettings;
use model::Timestamp;
use store::{CustomStatus, SettingsPatch, UserRow};

use crate::extract::{Authed, Body};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::render;
use model::nullable;

const STATUSES: [&str; 4] = ["online", "idle", "dnd", "invisible"];
const THEMES: [&str; 2] = ["dark", "light"];
const MAX_STATUS_TEXT: usize = 128;
const MAX_EMOJI_NAME: usize = 32;

fn people_only(user: &UserRow) -> ApiResult<()> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    Ok(())
}

#[utoipa::path(
    get, path = "/users/@me/settings",
    operation_id = "get_my_settings", tag = "Users",
    summary = "Get the current user's client settings",
    responses((status = 200, body = crate::openapi::UserSettings)),
)]
pub async fn get(State(state): State<ApiState>, Authed(user): Authed) -> ApiResult<Json<UserSettings>> {
    people_only(&user)?;
    let settings = state.store.settings(user.id).await?;
    Ok(Json(render::user_settings(&settings, Timestamp::now().unix_ms())))
}

#[derive(Deserialize)]
pub struct UpdateSettings {
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    custom_status: Option<Option<CustomStatusBody>>,
    theme: Option<String>,
    locale: Option<String>,
    message_display_compact: Option<bool>,
    developer_mode: Option<bool>,
}

#[derive(Deserialize)]
pub struct CustomStatusBody {
    text: Option<String>,
    emoji_name: Option<String>,
    expires_at: Option<String>,
}

/// Changes the settings given and answers with all of them. The user's
/// sessions receive USER_SETTINGS_UPDATE with the fields that were set; a
/// new status or custom status becomes the user's presence at once, as if
/// their client had sent op 3, and is what they appear as when they next
/// connect.
#[utoipa::path(
    patch, path = "/users/@me/settings",
    operation_id = "update_my_settings", tag = "Users",
    summary = "Change client settings, status and custom status",
    request_body = crate::openapi::UserSettingsUpdate,
    responses((status = 200, body = crate::openapi::UserSettings)),
)]
pub async fn update(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Body(body): Body<UpdateSettings>,
) -> ApiResult<Json<UserSettings>> {
    people_only(&user)?;
    let mut errors = FormErrors::default();
    if body.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        errors.add("status", "BASE_TYPE_CHOICES", "Value must be one of online, idle, dnd, invisible.");
    }
    if body.theme.as_deref().is_some_and(|t| !THEMES.contains(&t)) {
        errors.add("theme", "BASE_TYPE_CHOICES", "Value must be one of dark, light.");
    }
    if body.locale.as_deref().is_some_and(|l| !model::locale::is_known(l)) {
        errors.add("locale", "BASE_TYPE_CHOICES", "Value must be one of Discord's locales (e.g. en-US, fr, pt-BR).");
    }
    let custom_status = body.custom_status.map(|c| c.and_then(|c| check_custom_status(&mut errors, c)));
    errors.finish()?;

    let patch = SettingsPatch {
        status: body.status,
        custom_status,
        theme: body.theme,
        locale: body.locale,
        message_display_compact: body.message_display_compact,
        developer_mode: body.developer_mode,
    };
    let saved = state.store.update_settings(user.id, &patch).await?;
    let now = Timestamp::now().unix_ms();
    let settings = render::user_settings(&saved, now);

    let all = serde_json::to_value(&settings).map_err(ApiError::internal)?;
    let set = [
        ("status", patch.status.is_some()),
        ("custom_status", patch.custom_status.is_some()),
        ("theme", patch.theme.is_some()),
        ("locale", patch.locale.is_some()),
        ("message_display_compact", patch.message_display_compact.is_some()),
        ("developer_mode", patch.developer_mode.is_some()),
    ];
    let changed: serde_json::Map<String, Value> =
        set.iter().filter(|(_, set)| *set).map(|(name, _)| (name.to_string(), all[*name].clone())).collect();
    state.user_settings_updated(user.id, Value::Object(changed));
    if patch.status.is_some() || patch.custom_status.is_some() {
        let custom = patch.custom_status.is_some().then(|| {
            render::live_custom_status(&saved, now)
                .map(|c| events::CustomActivity { text: c.text.clone(), emoji_name: c.emoji_name.clone() })
        });
        state.presence_changed(events::PresenceChange { user: user.id, status: patch.status, custom_status: custom });
    }
    if patch.locale.is_some() {
        if let Some(updated) = state.store.user(user.id).await? {
            state.user_updated(&render::current_user(&updated));
        }
    }
    Ok(Json(settings))
}

/// A custom status with neither text nor emoji is no custom status.
fn check_custom_status(errors: &mut FormErrors, c: CustomStatusBody) -> Option<CustomStatus> {
    let text = c.text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let emoji_name = c.emoji_name.filter(|e| !e.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_STATUS_TEXT) {
        errors.add(
            "custom_status.text",
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_STATUS_TEXT} or fewer in length."),
        );
    }
    if emoji_name.as_ref().is_some_and(|e| e.chars().count() > MAX_EMOJI_NAME) {
        errors.add(
            "custom_status.emoji_name",
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_EMOJI_NAME} or fewer in length."),
        );
    }
    let expires_at = match c.expires_at.as_deref() {
        None => None,
        Some(s) => match Timestamp::parse(s) {
            Some(t) => Some(t.unix_ms()),
            None => {
                errors.add("custom_status.expires_at", "DATE_TIME_INVALID", "Must be an ISO 8601 timestamp.");
                None
            }
        },
    };
    (text.is_some() || emoji_name.is_some()).then_some(CustomStatus { text, emoji_name, expires_at })
}
