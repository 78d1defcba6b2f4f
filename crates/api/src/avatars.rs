//! Avatars: checking an uploaded image, keeping its bytes in the media store,
//! and serving them at Discord's CDN path, `/avatars/{user_id}/{hash}.{ext}`,
//! on the server's own port.
//!
//! The user row keeps only the hash, as Discord's user object does; the
//! bytes live in the media store under `avatars/{user_id}/{hash}.{ext}`
//! (`media::Key::avatar`). The hash is of the image's bytes, so a hash
//! names one image forever and its file may be cached as immutable.
//!
//! The same checks serve custom emojis and stickers
//! (`routes/expressions.rs`), whose files the media store keeps under
//! `emojis/{id}.{ext}` and `stickers/{id}.{ext}` (`media::Key::emoji`,
//! `media::Key::sticker`) and which are served here too, at
//! `/emojis/{id}.{ext}` and `/stickers/{id}.{ext}`: an emoji's or sticker's
//! file never changes under its id either.

use axum::body::Body as HttpBody;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};

use media::{Key, Media};
use store::UserId;

use crate::proxy;
use crate::ApiError;
use crate::ApiState;

/// The image formats accepted (PNG, JPEG, GIF, WebP), by what their bytes
/// start with.
pub use imaging::Format as ImageFormat;

/// A checked image, ready to store.
pub struct Avatar {
    pub hash: String,
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
}

impl Avatar {
    pub fn key(&self, user: UserId) -> Key {
        Key::avatar(user, &self.hash, self.format.extension()).expect("a checked avatar's hash is hex")
    }
}

/// Why an uploaded image was refused: the error code and message of the
/// `avatar` field.
pub type Refusal = (&'static str, String);

/// Reads `data:image/…;base64,…` as Discord's API takes images, and checks
/// that the bytes really are a PNG, JPEG, GIF or WebP no larger than
/// `max_bytes`. A GIF's hash starts with `a_`, as Discord marks animated
/// avatars.
pub fn parse_data_uri(uri: &str, max_bytes: usize) -> Result<Avatar, Refusal> {
    let bytes = decode_data_uri(uri, max_bytes)?;
    let format = check_image(&bytes)?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let hash = if format == ImageFormat::Gif { format!("a_{hex}") } else { hex };
    Ok(Avatar { hash, format, bytes })
}

/// The bytes of a `data:image/…;base64,…` URI of at most `max_bytes`. The
/// declared type must name an image format we take, but only the bytes
/// decide which it is.
pub fn decode_data_uri(uri: &str, max_bytes: usize) -> Result<Vec<u8>, Refusal> {
    let invalid = || ("IMAGE_INVALID", "Invalid image data: send a data:image/png;base64,… URI.".to_owned());
    let rest = uri.strip_prefix("data:").ok_or_else(invalid)?;
    let (meta, data) = rest.split_once(',').ok_or_else(invalid)?;
    let mime = meta.strip_suffix(";base64").ok_or_else(invalid)?;
    if !mime.eq_ignore_ascii_case("image/png")
        && !mime.eq_ignore_ascii_case("image/jpeg")
        && !mime.eq_ignore_ascii_case("image/jpg")
        && !mime.eq_ignore_ascii_case("image/gif")
        && !mime.eq_ignore_ascii_case("image/webp")
    {
        return Err(("IMAGE_INVALID", "Only PNG, JPEG, GIF and WebP images are accepted.".into()));
    }
    // Checked before decoding, so an oversized upload costs no allocation.
    if data.len() / 4 * 3 > max_bytes + 3 {
        return Err(too_large(max_bytes));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim_end()).map_err(|_| invalid())?;
    if bytes.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(bytes)
}

/// The format of an image by its signature, once its header gives a sane
/// size: refused when it is not a PNG, JPEG, GIF or WebP.
pub fn check_image(bytes: &[u8]) -> Result<ImageFormat, Refusal> {
    let format = ImageFormat::sniff(bytes)
        .ok_or(("IMAGE_INVALID", "The data is not a PNG, JPEG, GIF or WebP image.".to_owned()))?;
    // The header's dimensions, so an image that would decode to gigabytes
    // of pixels is refused however few bytes it takes.
    let sniffed = media::sniff::sniff(bytes, true);
    let (width, height) = sniffed
        .width
        .zip(sniffed.height)
        .ok_or(("IMAGE_INVALID", "The image's header gives no valid size.".to_owned()))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err((
            "IMAGE_TOO_LARGE",
            format!("The image must be at most {MAX_SIDE}×{MAX_SIDE} pixels; it is {width}×{height}."),
        ));
    }
    Ok(format)
}

/// Whether an image moves: a GIF with more than one frame, a WebP whose
/// VP8X header sets the animation flag. Read from the bytes, whatever the
/// upload claimed.
pub fn is_animated(format: ImageFormat, b: &[u8]) -> bool {
    match format {
        ImageFormat::Gif => gif_frames(b) > 1,
        // VP8X: flags byte at 20, animation is bit 1.
        ImageFormat::Webp => b.get(12..16) == Some(b"VP8X") && b.get(20).is_some_and(|f| f & 0x02 != 0),
        ImageFormat::Png | ImageFormat::Jpeg => false,
    }
}

/// Frames of a GIF, counted up to two, by walking its blocks (extension
/// and image data sub-blocks are skipped by their lengths, nothing is
/// decompressed). A cut-short file counts the frames it has.
fn gif_frames(b: &[u8]) -> usize {
    fn skip_sub_blocks(b: &[u8], mut i: usize) -> Option<usize> {
        loop {
            let n = *b.get(i)? as usize;
            i += 1 + n;
            if n == 0 {
                return Some(i);
            }
        }
    }
    let table = |flags: u8| if flags & 0x80 != 0 { 3usize << ((flags & 7) + 1) } else { 0 };
    let mut frames = 0;
    let Some(&screen) = b.get(10) else { return 0 };
    let mut i = 13 + table(screen);
    while frames < 2 {
        match b.get(i) {
            Some(0x21) => match skip_sub_blocks(b, i + 2) {
                Some(next) => i = next,
                None => break,
            },
            Some(0x2C) => {
                frames += 1;
                let Some(&flags) = b.get(i + 9) else { break };
                // Descriptor, local colour table, LZW minimum code size.
                match skip_sub_blocks(b, i + 10 + table(flags) + 1) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    frames
}

/// The largest width or height an avatar may have, in pixels.
pub const MAX_SIDE: u32 = 4096;

fn too_large(max_bytes: usize) -> Refusal {
    ("BINARY_TYPE_MAX_SIZE", format!("The image must be {max_bytes} bytes or smaller."))
}

/// Removes every file a hash may have been stored as (its format is not in
/// the user row). Failing to remove an old avatar is logged, not fatal: it
/// only wastes space.
pub async fn forget(media: &Media, user: UserId, hash: &str) {
    media.delete_all(ImageFormat::ALL.into_iter().filter_map(|f| Key::avatar(user, hash, f.extension()))).await;
}

/// `GET /avatars/{user_id}/{hash}.{ext}`, `/emojis/{id}.{ext}` and
/// `/stickers/{id}.{ext}` beside the API (Discord's CDN paths).
pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/avatars/{user_id}/{file}", get(serve))
        .route("/emojis/{file}", get(serve_emoji))
        .route("/stickers/{file}", get(serve_sticker))
}

/// Immutable: a hash or an id names one file forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The first of `formats` stored under `key_of`'s keys, opened (not yet read).
async fn open_first(
    state: &ApiState,
    formats: impl IntoIterator<Item = ImageFormat>,
    key_of: impl Fn(ImageFormat) -> Option<Key>,
) -> Result<Option<(ImageFormat, Key, media::Object)>, ApiError> {
    for format in formats {
        let Some(key) = key_of(format) else { continue };
        if let Some(object) = state.media.get(&key, None).await.map_err(ApiError::internal)? {
            return Ok(Some((format, key, object)));
        }
    }
    Ok(None)
}

/// The formats to look for, the asked one first: clients build the URL
/// with an extension of their choosing (bot libraries ask `.png` for every
/// still avatar), so the stored image answers any of them.
fn asked_first(asked: ImageFormat) -> impl Iterator<Item = ImageFormat> {
    std::iter::once(asked).chain(ImageFormat::ALL.into_iter().filter(move |f| *f != asked))
}

/// Answers a stored image (avatar or emoji): as stored, under its own
/// type, or with Discord's `size` resized by the media proxy to fit
/// `size`×`size` (never larger) in the asked extension's format (an
/// animated image keeps its frames and its size). `If-None-Match` is
/// answered before any byte is read.
async fn image_answer(
    state: &ApiState,
    (stored, key, object): (ImageFormat, Key, media::Object),
    asked: ImageFormat,
    size: Option<u32>,
    etag_base: &str,
    request: &HeaderMap,
) -> Response {
    if let Some(size) = size.filter(|_| stored != ImageFormat::Gif) {
        let format = (asked != ImageFormat::Gif).then(|| asked);
        let t = imaging::Transform { width: Some(size), height: Some(size), format };
        let source = key.to_string();
        if let Some(out) = state.proxy.cached(&source, &t) {
            return proxy::answer(out, etag_base, IMMUTABLE, request);
        }
        let _admitted = match state.proxy.admit().await {
            Ok(admitted) => admitted,
            Err(e) => return proxy::error(e).into_response(),
        };
        let bytes = match proxy::collect(Vec::new(), object.body, object.size).await {
            Ok(bytes) => bytes,
            Err(e) => return e.into_response(),
        };
        if !is_animated(stored, &bytes) {
            match state.proxy.render(&source, bytes.clone(), &t).await {
                Ok(out) => return proxy::answer(out, etag_base, IMMUTABLE, request),
                // Only the header was checked at upload: pixels that do
                // not decode are still the image its owner gave.
                Err(imaging::Error::Undecodable(_) | imaging::Error::NotAnImage) => {}
                Err(e) => return proxy::error(e).into_response(),
            }
        }
        return stored_answer(stored, etag_base, request, object.size, HttpBody::from(bytes));
    }
    stored_answer(stored, etag_base, request, object.size, HttpBody::from_stream(object.body))
}

fn stored_answer(format: ImageFormat, etag_base: &str, request: &HeaderMap, size: u64, body: HttpBody) -> Response {
    let etag = format!("\"{etag_base}\"");
    let mut headers = HeaderMap::new();
    proxy::cdn_headers(&mut headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("ids and hex are valid headers"));
    if proxy::etag_matches(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    (StatusCode::OK, headers, body).into_response()
}

/// `GET /emojis/{id}.{ext}` (png, jpg/jpeg, gif, webp; `?size=` resizes
/// a still emoji). The stored image answers whichever of these
/// extensions was asked (bot libraries ask `.png` for still emojis and
/// `.gif` for animated ones).
async fn serve_emoji(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let parsed = file.rsplit_once('.').and_then(|(id, ext)| {
        let id: store::EmojiId = id.parse().ok()?;
        Some((id, ImageFormat::from_extension(ext)?))
    });
    let Some((id, asked)) = parsed else { return ApiError::not_found().into_response() };
    let size = match proxy::size_param(query.as_deref().unwrap_or("")) {
        Ok(size) => size,
        Err(e) => return e.into_response(),
    };
    match open_first(&state, asked_first(asked), |f| Key::emoji(id, f.extension())).await {
        Ok(Some(found)) => image_answer(&state, found, asked, size, &id.to_string(), &headers).await,
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /stickers/{id}.{ext}`: PNG and APNG as `.png`, GIF as `.gif`,
/// Lottie as `.json`; a sticker answers only its own extension, as
/// stored (`?size=` is ignored: an APNG would lose its frames).
async fn serve_sticker(State(state): State<ApiState>, Path(file): Path<String>) -> Response {
    let parsed = file.rsplit_once('.').and_then(|(id, ext)| {
        let id: store::StickerId = id.parse().ok()?;
        let content_type = match ext {
            "png" => "image/png",
            "gif" => "image/gif",
            "json" => "application/json",
            _ => return None,
        };
        Some((id, ext, content_type))
    });
    let Some((id, ext, content_type)) = parsed else { return ApiError::not_found().into_response() };
    let Some(key) = Key::sticker(id, ext) else { return ApiError::not_found().into_response() };
    match state.media.get(&key, None).await {
        Ok(Some(object)) => {
            let mut headers = HeaderMap::new();
            proxy::cdn_headers(&mut headers);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
            (StatusCode::OK, headers, HttpBody::from_stream(object.body)).into_response()
        }
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// `GET /avatars/{user_id}/{hash}.{ext}` (`jpeg` and `jpg` alike;
/// `?size=` resizes a still avatar). The hash names the image, so it is
/// the ETag, and a client that has it is answered without reading the file.
async fn serve(
    State(state): State<ApiState>,
    Path((user, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let parsed = (|| {
        let user: UserId = user.parse().ok()?;
        let (hash, ext) = file.rsplit_once('.')?;
        let hex = hash.strip_prefix("a_").unwrap_or(hash);
        let well_formed = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let format = ImageFormat::from_extension(ext)?;
        well_formed.then(|| (user, hash.to_owned(), format))
    })();
    let Some((user, hash, asked)) = parsed else { return ApiError::not_found().into_response() };
    let size = match proxy::size_param(query.as_deref().unwrap_or("")) {
        Ok(size) => size,
        Err(e) => return e.into_response(),
    };
    match open_first(&state, asked_first(asked), |f| Key::avatar(user, &hash, f.extension())).await {
        Ok(Some(found)) => image_answer(&state, found, asked, size, &hash, &headers).await,
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => e.into_response(),
    }
}
