//! Files outside a message body: uploads ahead of a message, and fresh
//! URLs for expired ones.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use domain::files::{self, MAX_FILES};
use domain::messages;
use model::Timestamp;
use store::{AttachmentId, UploadRow};

use crate::extract::{path_id, Authed, Body, Path};
use crate::{files as http_files, ApiError, ApiResult, ApiState, FormErrors};

#[derive(Deserialize)]
pub struct UploadRequest {
    files: Vec<UploadFile>,
}

#[derive(Deserialize)]
pub struct UploadFile {
    filename: String,
    file_size: Option<u64>,
    /// The client's name for this entry, given back.
    id: Option<Value>,
}

/// `POST /channels/{channel_id}/attachments`: signed URLs to `PUT` up to
/// ten files to, ahead of the message that names them by
/// `uploaded_filename`. Unclaimed uploads expire after
/// `media.upload_expiry_secs`.
#[utoipa::path(
    post, path = "/channels/{channel_id}/attachments",
    operation_id = "create_attachments", tag = "Messages",
    summary = "Upload files ahead of a message",
    request_body = crate::openapi::AttachmentsCreate,
    responses((status = 200, body = crate::openapi::AttachmentsCreated)),
)]
pub async fn create(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    Body(body): Body<UploadRequest>,
) -> ApiResult<Json<Value>> {
    let access = messages::text_channel(&state, &user, path_id("channel_id", &raw)?).await?;
    files::require_attach(&access)?;
    if body.files.len() > MAX_FILES {
        return Err(ApiError::field(
            "files",
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_FILES} or fewer in length."),
        ));
    }
    let mut errors = FormErrors::default();
    for (i, f) in body.files.iter().enumerate() {
        if f.file_size.is_some_and(|n| n > state.media.config().max_file_size) {
            errors.add(&format!("files.{i}.file_size"), "BASE_TYPE_MAX_SIZE", "The file is too large.");
        }
    }
    errors.finish()?;
    crate::limits::spend_uploads(&state, user.id, body.files.len()).await?;
    let now = Timestamp::now().unix_ms();
    let mut out = Vec::new();
    for (i, f) in body.files.iter().enumerate() {
        let id: AttachmentId = state.ids.next()?;
        let filename = files::sanitize_filename(&f.filename);
        let row = UploadRow {
            id,
            channel_id: access.channel.id,
            user_id: user.id,
            filename: filename.clone(),
            created_at: now,
        };
        state.store.create_upload(&row).await?;
        out.push(json!({
            "id": f.id.clone().unwrap_or_else(|| json!(i.to_string())),
            "upload_url": http_files::upload_url(&state, access.channel.id, id, &filename),
            "upload_filename": format!("{id}/{filename}"),
        }));
    }
    Ok(Json(json!({ "attachments": out })))
}

#[derive(Deserialize)]
pub struct Refresh {
    attachment_urls: Vec<String>,
}

/// `POST /attachments/refresh-urls`: fresh signatures for attachment URLs
/// this server signed (expired or not) whose files still exist.
#[utoipa::path(
    post, path = "/attachments/refresh-urls",
    operation_id = "refresh_attachment_urls", tag = "Messages",
    summary = "Refresh expired attachment URLs",
    request_body = crate::openapi::RefreshUrls,
    responses((status = 200, body = crate::openapi::RefreshedUrls)),
)]
pub async fn refresh_urls(
    State(state): State<ApiState>,
    Authed(_user): Authed,
    Body(body): Body<Refresh>,
) -> ApiResult<Json<Value>> {
    if body.attachment_urls.len() > 50 {
        return Err(ApiError::field("attachment_urls", "BASE_TYPE_MAX_LENGTH", "Must be 50 or fewer in length."));
    }
    let refreshed = http_files::refresh(&state, &body.attachment_urls).await?;
    let refreshed: Vec<Value> = refreshed
        .into_iter()
        .map(|(original, refreshed)| json!({"original": original, "refreshed": refreshed}))
        .collect();
    Ok(Json(json!({ "refreshed_urls": refreshed })))
}
