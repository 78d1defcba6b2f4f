//! A guild's custom emojis and stickers. Images are checked here (by their
//! bytes) and handed to the domain, which stores them in the media store
//! before the row that names them.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;

use domain::audit::Reason;
use domain::expressions::{
    self, EmojiPatch, Image, NewEmoji, Refusal, StickerFields, StickerFile, MAX_EMOJI_BYTES, MAX_STICKER_BYTES,
};
use model::expression::{sticker_format, Emoji, Sticker};

use crate::avatars::{self, ImageFormat};
use crate::extract::{path_id, Authed, Body, Path};
use crate::{ApiError, ApiResult, ApiState};

#[utoipa::path(
    get, path = "/guilds/{guild_id}/emojis",
    operation_id = "list_guild_emojis", tag = "Emojis",
    summary = "List a guild's custom emojis",
    responses((status = 200, body = Vec<crate::openapi::Emoji>)),
)]
pub async fn list_emojis(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
) -> ApiResult<Json<Vec<Emoji>>> {
    Ok(Json(expressions::list_emojis(&state, &user, path_id("guild_id", &g)?).await?))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/emojis/{emoji_id}",
    operation_id = "get_guild_emoji", tag = "Emojis",
    summary = "Get a custom emoji",
    responses((status = 200, body = crate::openapi::Emoji)),
)]
pub async fn get_emoji(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, e)): Path<(String, String)>,
) -> ApiResult<Json<Emoji>> {
    let (guild, emoji) = (path_id("guild_id", &g)?, path_id("emoji_id", &e)?);
    Ok(Json(expressions::get_emoji(&state, &user, guild, emoji).await?))
}

/// An emoji image from its data URI: at most 256 KiB, a PNG, JPEG, GIF or
/// WebP by its bytes, animated when they say so.
fn emoji_image(uri: &str) -> Result<Image, Refusal> {
    let bytes = avatars::decode_data_uri(uri, MAX_EMOJI_BYTES)?;
    let format = avatars::check_image(&bytes)?;
    let animated = avatars::is_animated(format, &bytes);
    Ok(Image { ext: format.extension(), animated, bytes })
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/emojis",
    operation_id = "create_guild_emoji", tag = "Emojis",
    summary = "Upload a custom emoji (a data URI of at most 256 KiB)",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::EmojiCreate,
    responses((status = 201, body = crate::openapi::Emoji)),
)]
pub async fn create_emoji(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    Body(body): Body<NewEmoji>,
) -> ApiResult<(StatusCode, Json<Emoji>)> {
    let guild = path_id("guild_id", &g)?;
    let image = body.image.as_deref().map(emoji_image);
    let emoji = expressions::create_emoji(&state, &user, guild, body, image, &reason).await?;
    Ok((StatusCode::CREATED, Json(emoji)))
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/emojis/{emoji_id}",
    operation_id = "update_guild_emoji", tag = "Emojis",
    summary = "Rename a custom emoji or change its roles",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::EmojiUpdate,
    responses((status = 200, body = crate::openapi::Emoji)),
)]
pub async fn update_emoji(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, e)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<EmojiPatch>,
) -> ApiResult<Json<Emoji>> {
    let (guild, emoji) = (path_id("guild_id", &g)?, path_id("emoji_id", &e)?);
    Ok(Json(expressions::update_emoji(&state, &user, guild, emoji, body, &reason).await?))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/emojis/{emoji_id}",
    operation_id = "delete_guild_emoji", tag = "Emojis",
    summary = "Delete a custom emoji",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete_emoji(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, e)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, emoji) = (path_id("guild_id", &g)?, path_id("emoji_id", &e)?);
    expressions::delete_emoji(&state, &user, guild, emoji, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/stickers",
    operation_id = "list_guild_stickers", tag = "Stickers",
    summary = "List a guild's stickers",
    responses((status = 200, body = Vec<crate::openapi::Sticker>)),
)]
pub async fn list_stickers(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
) -> ApiResult<Json<Vec<Sticker>>> {
    Ok(Json(expressions::list_stickers(&state, &user, path_id("guild_id", &g)?).await?))
}

#[utoipa::path(
    get, path = "/guilds/{guild_id}/stickers/{sticker_id}",
    operation_id = "get_guild_sticker", tag = "Stickers",
    summary = "Get a guild sticker",
    responses((status = 200, body = crate::openapi::Sticker)),
)]
pub async fn get_guild_sticker(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, s)): Path<(String, String)>,
) -> ApiResult<Json<Sticker>> {
    let (guild, sticker) = (path_id("guild_id", &g)?, path_id("sticker_id", &s)?);
    Ok(Json(expressions::get_guild_sticker(&state, &user, guild, sticker).await?))
}

#[utoipa::path(
    get, path = "/stickers/{sticker_id}",
    operation_id = "get_sticker", tag = "Stickers",
    summary = "Get a sticker by id",
    responses((status = 200, body = crate::openapi::Sticker)),
)]
pub async fn get_sticker(
    State(state): State<ApiState>,
    Authed(_user): Authed,
    Path(s): Path<String>,
) -> ApiResult<Json<Sticker>> {
    Ok(Json(expressions::get_sticker(&state, path_id("sticker_id", &s)?).await?))
}

/// A sticker file: at most 512 KiB, a PNG (APNG when it has an animation
/// control chunk before its image data), a GIF, or a Lottie animation
/// (a JSON object with `layers`), by its bytes.
fn sticker_file(bytes: Vec<u8>) -> Result<StickerFile, Refusal> {
    if bytes.len() > MAX_STICKER_BYTES {
        return Err(("BINARY_TYPE_MAX_SIZE", format!("The file must be {MAX_STICKER_BYTES} bytes or smaller.")));
    }
    let lottie = || serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v["layers"].is_array());
    let (ext, format_type) = match ImageFormat::sniff(&bytes) {
        Some(ImageFormat::Png) => {
            avatars::check_image(&bytes)?;
            ("png", if apng(&bytes) { sticker_format::APNG } else { sticker_format::PNG })
        }
        Some(ImageFormat::Gif) => {
            avatars::check_image(&bytes)?;
            ("gif", sticker_format::GIF)
        }
        None if lottie() => ("json", sticker_format::LOTTIE),
        _ => return Err(("STICKER_FILE_INVALID", "Stickers must be PNG, APNG, GIF or Lottie JSON.".to_owned())),
    };
    Ok(StickerFile { bytes, ext, format_type })
}

/// Whether a PNG is animated: an `acTL` chunk before the first `IDAT`,
/// found by walking the chunks by their lengths.
fn apng(b: &[u8]) -> bool {
    let mut i = 8;
    while let Some(len) = b.get(i..i + 4).and_then(|l| l.try_into().ok()).map(u32::from_be_bytes) {
        match b.get(i + 4..i + 8) {
            Some(b"acTL") => return true,
            Some(b"IDAT") | None => return false,
            _ => i += 12 + len as usize,
        }
    }
    false
}

/// The fields and file of a multipart create-sticker form. A part that is
/// not valid UTF-8 text reads as absent; the file is kept whole (the body
/// limit bounds it).
async fn sticker_form(mut form: Multipart) -> ApiResult<(StickerFields, Option<Vec<u8>>)> {
    let bad = |_| ApiError::field("file", "BASE_TYPE_BAD_TYPE", "Send multipart/form-data with a file part.");
    let mut fields = StickerFields::default();
    let mut file = None;
    while let Some(part) = form.next_field().await.map_err(bad)? {
        let name = part.name().unwrap_or_default().to_owned();
        let bytes = part.bytes().await.map_err(bad)?;
        let text = || String::from_utf8(bytes.to_vec()).ok().map(|t| t.replace('\0', "\u{fffd}"));
        match name.as_str() {
            "name" => fields.name = text(),
            "description" => fields.description = Some(text()),
            "tags" => fields.tags = text(),
            "file" => file = Some(bytes.to_vec()),
            _ => {}
        }
    }
    Ok((fields, file))
}

#[utoipa::path(
    post, path = "/guilds/{guild_id}/stickers",
    operation_id = "create_guild_sticker", tag = "Stickers",
    summary = "Upload a sticker (multipart/form-data: name, description, tags, file)",
    params(crate::openapi::AuditReason),
    request_body(content = crate::openapi::StickerCreate, content_type = "multipart/form-data"),
    responses((status = 201, body = crate::openapi::Sticker)),
)]
pub async fn create_sticker(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(g): Path<String>,
    reason: Reason,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Sticker>)> {
    let guild = path_id("guild_id", &g)?;
    // Who may upload is known before a byte of the file is read.
    expressions::require_create(&state, &user, guild).await?;
    let form =
        form.map_err(|_| ApiError::field("file", "BASE_TYPE_BAD_TYPE", "Send multipart/form-data with a file part."))?;
    let (fields, file) = sticker_form(form).await?;
    let file = file.map(sticker_file);
    let sticker = expressions::create_sticker(&state, &user, guild, fields, file, &reason).await?;
    Ok((StatusCode::CREATED, Json(sticker)))
}

#[utoipa::path(
    patch, path = "/guilds/{guild_id}/stickers/{sticker_id}",
    operation_id = "update_guild_sticker", tag = "Stickers",
    summary = "Change a sticker's name, description or tags",
    params(crate::openapi::AuditReason),
    request_body = crate::openapi::StickerUpdate,
    responses((status = 200, body = crate::openapi::Sticker)),
)]
pub async fn update_sticker(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, s)): Path<(String, String)>,
    reason: Reason,
    Body(body): Body<StickerFields>,
) -> ApiResult<Json<Sticker>> {
    let (guild, sticker) = (path_id("guild_id", &g)?, path_id("sticker_id", &s)?);
    Ok(Json(expressions::update_sticker(&state, &user, guild, sticker, body, &reason).await?))
}

#[utoipa::path(
    delete, path = "/guilds/{guild_id}/stickers/{sticker_id}",
    operation_id = "delete_guild_sticker", tag = "Stickers",
    summary = "Delete a sticker",
    params(crate::openapi::AuditReason),
    responses((status = 204)),
)]
pub async fn delete_sticker(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path((g, s)): Path<(String, String)>,
    reason: Reason,
) -> ApiResult<StatusCode> {
    let (guild, sticker) = (path_id("guild_id", &g)?, path_id("sticker_id", &s)?);
    expressions::delete_sticker(&state, &user, guild, sticker, &reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
