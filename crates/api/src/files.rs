//! Files over HTTP: `multipart/form-data` message bodies streamed into the
//! media store, Discord's CDN path for attachments with signed, expiring
//! URLs (`/attachments/{channel_id}/{attachment_id}/{filename}`), and the
//! signed upload URLs of pre-uploads (`PUT /uploads/…`).
//!
//! A file's bytes go from the socket to the store a chunk at a time; only
//! its first `media::HEAD_BYTES` are kept, to read what it is. Every file
//! of a request is registered with a `domain::files::Cleanup` before its
//! first byte is written, so a refused, failed or aborted request leaves
//! no object behind.

use axum::body::Body as HttpBody;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use domain::access::ChannelAccess;
use domain::files::{self, Cleanup, StoredFile, MAX_FILES};
use media::sniff;
use media::{Key, UrlError, Writer};
use model::Timestamp;
use store::{AttachmentId, ChannelId, UserId};

use crate::extract::parse_json;
use crate::proxy;
use crate::{ApiError, ApiResult, ApiState};

/// A `multipart/form-data` body: `payload_json` and the stored files.
pub(crate) struct Form<T> {
    pub payload: T,
    pub files: Vec<StoredFile>,
    /// Deletes the files unless the message that names them is stored.
    pub cleanup: Cleanup,
}

/// The boundary, when the request's body is `multipart/form-data`.
pub(crate) fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(content_type).ok()
}

fn invalid_form() -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body")
}

fn now_secs() -> u64 {
    (Timestamp::now().unix_ms() / 1000) as u64
}

/// Reads a multipart message body as Discord's API takes it: `payload_json`
/// (the JSON body) and files as `files[n]` parts, at most [`MAX_FILES`],
/// each at most `media.max_file_size` bytes. Each file streams into the
/// store under a new attachment id of `access`'s channel; ATTACH_FILES is
/// checked before the first one. A refusal (40005 for a file too large,
/// 50035 for an eleventh) comes as soon as the part that breaks the rule
/// arrives, without reading further.
pub(crate) async fn read_form<T: DeserializeOwned + Default>(
    state: &ApiState,
    user: UserId,
    access: &ChannelAccess,
    boundary: String,
    req: Request,
) -> ApiResult<Form<T>> {
    let max_file = state.media.config().max_file_size;
    let max_payload = state.config.max_body_bytes as u64;
    // Every file at its largest, the JSON, and room for the parts' headers.
    let max_body = max_file * MAX_FILES as u64 + max_payload + 64 * 1024;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body) {
        return Err(ApiError::too_large());
    }
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(max_body).per_field(max_file.max(max_payload)));
    let mut multipart = multer::Multipart::with_constraints(req.into_body().into_data_stream(), boundary, constraints);
    let mut form = Form { payload: None, files: Vec::new(), cleanup: Cleanup::new(state.media.clone()) };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "payload_json" {
            let mut json = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if (json.len() + chunk.len()) as u64 > max_payload {
                    return Err(ApiError::too_large());
                }
                json.extend_from_slice(&chunk);
            }
            form.payload = Some(parse_json::<T>(&json)?);
            continue;
        }
        let index = match file_index(&name, field.file_name().is_some(), form.files.len()) {
            Some(index) => index,
            // Other fields are not Discord's; read past them.
            None => {
                while field.chunk().await.map_err(multipart_error)?.is_some() {}
                continue;
            }
        };
        if form.files.len() == MAX_FILES {
            return Err(files::too_many_files());
        }
        files::require_attach(access)?;
        crate::limits::spend_uploads(state, user, 1).await?;
        let filename = field.file_name().unwrap_or(&name).to_owned();
        let id: AttachmentId = state.ids.next()?;
        let key = Key::attachment(access.channel.id, id);
        form.cleanup.push(key.clone());
        let mut writer = state.media.writer(&key).await.map_err(ApiError::internal)?;
        let written = loop {
            let chunk = match field.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break writer.finish().await.map_err(ApiError::internal)?,
                Err(e) => {
                    writer.abort().await;
                    return Err(multipart_error(e));
                }
            };
            if let Err(e) = write_within(&mut writer, chunk, max_file).await {
                writer.abort().await;
                return Err(e);
            }
        };
        state.metrics.media_uploaded(written.size);
        form.files.push(StoredFile::new(index, id, &filename, written.size, &written.head));
    }
    Ok(Form { payload: form.payload.unwrap_or_default(), files: form.files, cleanup: form.cleanup })
}

/// The `payload_json` of a form that may carry no files (a person's
/// interaction): any file part is refused.
pub(crate) async fn read_payload_only(state: &ApiState, boundary: String, req: Request) -> ApiResult<Vec<u8>> {
    let max = state.config.max_body_bytes as u64;
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(max + 64 * 1024));
    let mut multipart = multer::Multipart::with_constraints(req.into_body().into_data_stream(), boundary, constraints);
    let mut payload = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("payload_json") {
            return Err(invalid_form());
        }
        let mut json = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if (json.len() + chunk.len()) as u64 > max {
                return Err(ApiError::too_large());
            }
            json.extend_from_slice(&chunk);
        }
        payload = Some(json);
    }
    payload.ok_or_else(invalid_form)
}

/// Writes `chunk` unless the file would pass `max` bytes (40005).
async fn write_within(writer: &mut Writer, chunk: Bytes, max: u64) -> ApiResult<()> {
    if writer.size() + chunk.len() as u64 > max {
        return Err(ApiError::too_large());
    }
    writer.write(chunk).await.map_err(ApiError::internal)
}

/// `n` of a `files[n]` part; other parts with a filename (`file`, `file1`,
/// as older clients send) count in order of arrival.
fn file_index(name: &str, has_filename: bool, seen: usize) -> Option<u64> {
    if let Some(n) = name.strip_prefix("files[").and_then(|r| r.strip_suffix(']')) {
        return n.parse().ok().or(Some(seen as u64));
    }
    has_filename.then_some(seen as u64)
}

fn multipart_error(e: multer::Error) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => ApiError::too_large(),
        _ => invalid_form(),
    }
}

/// The CDN routes beside the API: attachments and pre-upload targets.
pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/attachments/{channel_id}/{attachment_id}/{filename}", get(serve))
        .route("/uploads/{channel_id}/{attachment_id}/{filename}", axum::routing::put(upload))
}

/// Checks a signed path and its query; answers its channel and attachment.
fn signed(
    state: &ApiState,
    path: &str,
    query: &str,
    (channel, attachment, filename): &(String, String, String),
) -> Result<(ChannelId, AttachmentId), UrlError> {
    let channel: ChannelId = channel.parse().map_err(|_| UrlError::Invalid)?;
    let attachment: AttachmentId = attachment.parse().map_err(|_| UrlError::Invalid)?;
    if files::sanitize_filename(filename) != *filename {
        return Err(UrlError::Invalid);
    }
    state.media.signer().verify(path, query, now_secs(), false)?;
    Ok((channel, attachment))
}

/// `GET /attachments/{channel_id}/{attachment_id}/{filename}?ex=&is=&hm=`:
/// an attachment's bytes while its URL's signature holds (404 otherwise,
/// as for one that does not exist). Ranges, ETag and 304; images, audio
/// and video shown inline, everything else (HTML, SVG, text, unknown)
/// only as a download, and never sniffed by the browser. With the media
/// proxy's `width`, `height` or `format` (the attachment's `proxy_url`
/// is this same URL), an image answers resized and converted
/// (`crate::proxy`); other files answer as they are.
///
/// The content type is read from the first bytes of the one read that
/// serves the file, as they pass (a range request reads them apart).
async fn serve(
    State(state): State<ApiState>,
    Path(parts): Path<(String, String, String)>,
    uri: axum::http::Uri,
    request: HeaderMap,
) -> Response {
    let (path, query) = (uri.path().to_owned(), uri.query().unwrap_or("").to_owned());
    let Ok((channel, id)) = signed(&state, &path, &query, &parts) else {
        return ApiError::not_found().into_response();
    };
    let key = Key::attachment(channel, id);
    let max_age = state.media.signer().verify(&path, &query, now_secs(), false).map_or(0, |s| s.expires - now_secs());
    let cache_control = format!("private, max-age={max_age}");
    let transform = match proxy::attachment_transform(&query) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let source = key.to_string();
    if let Some(out) = transform.as_ref().and_then(|t| state.proxy.cached(&source, t)) {
        return proxy::answer(out, &id.to_string(), &cache_control, &request);
    }
    let etag = format!("\"{id}\"");
    let mut headers = HeaderMap::new();
    let value = |s: String| HeaderValue::from_str(&s).expect("built from safe characters");
    headers.insert(header::ETAG, value(etag.clone()));
    headers.insert(header::CACHE_CONTROL, value(cache_control.clone()));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    proxy::cdn_headers(&mut headers);
    let ranged = request.contains_key(header::RANGE);
    if transform.is_none() && (ranged || proxy::etag_matches(&request, &etag)) {
        return serve_range(&state, &key, &parts.2, headers, &request).await;
    }
    let object = match state.media.get(&key, None).await {
        Ok(Some(object)) => object,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let size = object.size;
    let want = if transform.is_some() { media::HEAD_BYTES } else { sniff::TYPE_BYTES };
    let (first, rest, head) = match peek(object.body, want).await {
        Ok(peeked) => peeked,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let content_type =
        sniff::content_type(&head, size <= head.len() as u64).unwrap_or_else(|| "application/octet-stream".into());
    if let Some(t) = transform.filter(|_| imaging::Format::sniff(&head).is_some()) {
        if let Err(e) = state.proxy.check_header(&head) {
            return proxy::error(e).into_response();
        }
        let _admitted = match state.proxy.admit().await {
            Ok(admitted) => admitted,
            Err(e) => return proxy::error(e).into_response(),
        };
        let bytes = match proxy::collect(first, rest, size).await {
            Ok(bytes) => bytes,
            Err(e) => return e.into_response(),
        };
        return match state.proxy.render(&source, bytes, &t).await {
            Ok(out) => proxy::answer(out, &id.to_string(), &cache_control, &request),
            Err(e) => proxy::error(e).into_response(),
        };
    }
    let disposition = if sniff::inline_safe(&content_type) { "inline" } else { "attachment" };
    headers.insert(header::CONTENT_TYPE, value(content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(format!("{disposition}; filename=\"{}\"", parts.2)));
    headers.insert(header::CONTENT_LENGTH, value(size.to_string()));
    let body = futures::stream::iter(first.into_iter().map(Ok)).chain(rest);
    (StatusCode::OK, headers, HttpBody::from_stream(body)).into_response()
}

/// The first chunks of `body` until they hold `want` bytes (or it ends),
/// the rest of it, and those first bytes (at most `want`).
async fn peek<S, E>(mut body: S, want: usize) -> Result<(Vec<Bytes>, S, Vec<u8>), E>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let (mut first, mut head) = (Vec::new(), Vec::new());
    while head.len() < want {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                head.extend_from_slice(&chunk[..chunk.len().min(want - head.len())]);
                first.push(chunk);
            }
            None => break,
        }
    }
    Ok((first, body, head))
}

/// A range of an attachment, or 304 for a client that has it: what it
/// is comes from a separate read of its first bytes.
async fn serve_range(
    state: &ApiState,
    key: &Key,
    filename: &str,
    mut headers: HeaderMap,
    request: &HeaderMap,
) -> Response {
    let value = |s: String| HeaderValue::from_str(&s).expect("built from safe characters");
    let size = match state.media.size(key).await {
        Ok(Some(size)) => size,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if proxy::etag_matches(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let head = if size == 0 {
        Bytes::new()
    } else {
        match state.media.head_bytes(key, sniff::TYPE_BYTES as u64).await {
            Ok(Some(head)) => head,
            Ok(None) => return ApiError::not_found().into_response(),
            Err(e) => return ApiError::internal(e).into_response(),
        }
    };
    let content_type = sniff::content_type(&head, size <= sniff::TYPE_BYTES as u64)
        .unwrap_or_else(|| "application/octet-stream".into());
    let disposition = if sniff::inline_safe(&content_type) { "inline" } else { "attachment" };
    headers.insert(header::CONTENT_TYPE, value(content_type));
    headers.insert(header::CONTENT_DISPOSITION, value(format!("{disposition}; filename=\"{filename}\"")));
    let range = match request.get(header::RANGE).map(|r| parse_range(r.to_str().unwrap_or(""), size)) {
        None => None,
        Some(Some(range)) => Some(range),
        Some(None) => {
            headers.insert(header::CONTENT_RANGE, value(format!("bytes */{size}")));
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    if size == 0 {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        return (StatusCode::OK, headers).into_response();
    }
    let object = match state.media.get(key, range.clone()).await {
        Ok(Some(object)) => object,
        Ok(None) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    headers.insert(header::CONTENT_LENGTH, value((object.range.end - object.range.start).to_string()));
    let status = if range.is_some() {
        headers.insert(
            header::CONTENT_RANGE,
            value(format!("bytes {}-{}/{}", object.range.start, object.range.end - 1, object.size)),
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, headers, HttpBody::from_stream(object.body)).into_response()
}

/// One range of `Range: bytes=…` within `size` bytes (`a-b`, `a-`, `-n`),
/// as a half-open range; `None` when it is not one we can satisfy.
fn parse_range(header: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let n: u64 = end.parse().ok()?;
        size.saturating_sub(n)..size
    } else {
        let start: u64 = start.parse().ok()?;
        let end = if end.is_empty() { size - 1 } else { end.parse::<u64>().ok()?.min(size - 1) };
        if start > end {
            return None;
        }
        start..end + 1
    };
    (range.start < range.end && range.start < size).then_some(range)
}

/// `PUT /uploads/{channel_id}/{attachment_id}/{filename}?ex=&is=&hm=`: the
/// bytes of a pre-upload (`POST /channels/{id}/attachments` gave the
/// URL), streamed into the store under the upload's own key, at most
/// `media.max_file_size`; a second PUT replaces the first. Nothing is
/// visible until the whole body arrived; once a message has claimed the
/// file (moved it to its attachment key), a PUT changes nothing of it.
async fn upload(State(state): State<ApiState>, Path(parts): Path<(String, String, String)>, req: Request) -> Response {
    let (path, query) = (req.uri().path().to_owned(), req.uri().query().unwrap_or("").to_owned());
    let Ok((channel, id)) = signed(&state, &path, &query, &parts) else {
        return ApiError::not_found().into_response();
    };
    let since = Timestamp::now().unix_ms() - state.media.config().upload_expiry_secs as i64 * 1000;
    match state.store.uploads(channel, None, &[id], since).await {
        Ok(rows) if !rows.is_empty() => {}
        Ok(_) => return ApiError::not_found().into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let max = state.media.config().max_file_size;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return ApiError::too_large().into_response();
    }
    let key = Key::upload(channel, id);
    let mut writer = match state.media.writer(&key).await {
        Ok(w) => w,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let written = match chunk {
            Ok(chunk) => write_within(&mut writer, chunk, max).await,
            Err(_) => Err(invalid_form()),
        };
        if let Err(e) = written {
            writer.abort().await;
            return e.into_response();
        }
    }
    match writer.finish().await {
        Ok(written) => state.metrics.media_uploaded(written.size),
        Err(e) => return ApiError::internal(e).into_response(),
    }
    // A message claimed the upload while this body streamed: it took the
    // bytes there were then, and these name nothing.
    match state.store.uploads(channel, None, &[id], since).await {
        Ok(rows) if !rows.is_empty() => StatusCode::OK.into_response(),
        Ok(_) => {
            state.media.delete_all([key]).await;
            ApiError::not_found().into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Refreshed URLs for `urls` that we signed (expired or not) and whose
/// file still exists; others are left out.
pub(crate) async fn refresh(state: &ApiState, urls: &[String]) -> ApiResult<Vec<(String, String)>> {
    let now = now_secs();
    let mut out = Vec::new();
    for original in urls {
        // Any host: only the path and its signature matter.
        let rest = original.split_once("://").map_or(original.as_str(), |(_, r)| r);
        let Some(at) = rest.find('/') else { continue };
        let (path, query) = rest[at..].split_once('?').unwrap_or((&rest[at..], ""));
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ["attachments", channel, id, filename] = segments[..] else { continue };
        let (Ok(channel), Ok(id)) = (channel.parse::<ChannelId>(), id.parse::<AttachmentId>()) else { continue };
        if files::sanitize_filename(filename) != filename
            || state.media.signer().verify(path, query, now, true).is_err()
        {
            continue;
        }
        if state.media.size(&Key::attachment(channel, id)).await.map_err(ApiError::internal)?.is_none() {
            continue;
        }
        out.push((original.clone(), state.media.signed_url(path, now)));
    }
    Ok(out)
}

/// A pre-upload's signed upload URL.
pub(crate) fn upload_url(state: &ApiState, channel: ChannelId, id: AttachmentId, filename: &str) -> String {
    let path = format!("/uploads/{channel}/{id}/{filename}");
    let now = now_secs();
    let signed = state.media.signer().sign(&path, now, now + state.media.config().upload_expiry_secs);
    format!("{}{path}?{}", state.media.public_url(), signed.query())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_as_http_defines_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Some(90..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
