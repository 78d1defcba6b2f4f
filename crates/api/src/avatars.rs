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

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use media::{Key, Media};
use store::UserId;

use crate::ApiError;
use crate::ApiState;

/// The image formats accepted, by what their bytes start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageFormat {
    const ALL: [ImageFormat; 4] = [Self::Png, Self::Jpeg, Self::Gif, Self::Webp];

    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "jpeg" => Some(Self::Jpeg),
            _ => Self::ALL.into_iter().find(|f| f.extension() == ext),
        }
    }
}

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
    let (width, height) = dimensions(format, bytes)
        .filter(|(w, h)| *w > 0 && *h > 0)
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

/// Width and height as the image's header gives them, without decoding
/// the pixels. `None` when the header is cut short or malformed.
fn dimensions(format: ImageFormat, b: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    let le16 = |i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    let le24 = |i: usize| Some(u32::from_le_bytes([*b.get(i)?, *b.get(i + 1)?, *b.get(i + 2)?, 0]));
    match format {
        // The first chunk is IHDR: width and height, big-endian.
        ImageFormat::Png => {
            if b.get(12..16)? != b"IHDR" {
                return None;
            }
            let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
            Some((be32(16)?, be32(20)?))
        }
        // The logical screen: width and height, little-endian.
        ImageFormat::Gif => Some((le16(6)?, le16(8)?)),
        // Walks the markers to the first start of frame (SOF0–SOF15 but
        // DHT, JPG and DAC): height then width, big-endian.
        ImageFormat::Jpeg => {
            let mut i = 2;
            loop {
                if *b.get(i)? != 0xFF {
                    return None;
                }
                let marker = *b.get(i + 1)?;
                match marker {
                    0xFF => i += 1,
                    0x01 | 0xD0..=0xD7 => i += 2,
                    0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => return Some((be16(i + 7)?, be16(i + 5)?)),
                    0xD9 | 0xDA => return None,
                    _ => i += 2 + be16(i + 2)? as usize,
                }
            }
        }
        // The first chunk: lossy VP8, lossless VP8L, or extended VP8X.
        ImageFormat::Webp => match b.get(12..16)? {
            b"VP8 " if b.get(23..26)? == [0x9D, 0x01, 0x2A] => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            b"VP8L" if *b.get(20)? == 0x2F => {
                let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            _ => None,
        },
    }
}

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

/// Answers a stored expression's file: immutable (an id names one file
/// forever), under its own Content-Type, never sniffed.
fn expression_file(bytes: Bytes, content_type: &'static str) -> Response {
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (StatusCode::OK, headers, bytes).into_response()
}

/// `GET /emojis/{id}.{ext}` (png, jpg/jpeg, gif, webp; `?size=` ignored).
/// Nothing is converted, so the stored image answers whichever of these
/// extensions was asked, under its own type (bot libraries ask `.png` for
/// still emojis and `.gif` for animated ones).
async fn serve_emoji(State(state): State<ApiState>, Path(file): Path<String>) -> Response {
    let parsed = file.rsplit_once('.').and_then(|(id, ext)| {
        let id: store::EmojiId = id.parse().ok()?;
        Some((id, ImageFormat::from_extension(ext)?))
    });
    let Some((id, asked)) = parsed else { return ApiError::not_found().into_response() };
    for format in std::iter::once(asked).chain(ImageFormat::ALL.into_iter().filter(|f| *f != asked)) {
        let Some(key) = Key::emoji(id, format.extension()) else { continue };
        match state.media.get_bytes(&key).await {
            Ok(Some(bytes)) => return expression_file(bytes, format.content_type()),
            Ok(None) => {}
            Err(e) => return ApiError::internal(e).into_response(),
        }
    }
    ApiError::not_found().into_response()
}

/// `GET /stickers/{id}.{ext}`: PNG and APNG as `.png`, GIF as `.gif`,
/// Lottie as `.json`; a sticker answers only its own extension.
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
    match state.media.get_bytes(&key).await {
        Ok(Some(bytes)) => expression_file(bytes, content_type),
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Serves a stored avatar under its own format's extension (`jpeg` and
/// `jpg` alike); images are not converted, so another extension is 404.
/// `?size=` is accepted and ignored.
async fn serve(
    State(state): State<ApiState>,
    Path((user, file)): Path<(String, String)>,
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
    let Some((user, hash, format)) = parsed else { return ApiError::not_found().into_response() };
    let etag = format!("\"{hash}\"");
    // Nothing is converted, but clients build the URL with an extension of
    // their choosing (bot libraries ask `.png` for every still avatar), so
    // the stored image answers any of them, under its own Content-Type.
    let mut found = None;
    for format in std::iter::once(format).chain(ImageFormat::ALL.into_iter().filter(|f| *f != format)) {
        let Some(key) = Key::avatar(user, &hash, format.extension()) else { break };
        match state.media.get_bytes(&key).await {
            Ok(Some(bytes)) => {
                found = Some((format, bytes));
                break;
            }
            Ok(None) => {}
            Err(e) => return ApiError::internal(e).into_response(),
        }
    }
    let Some((format, bytes)) = found else { return ApiError::not_found().into_response() };
    let cache = [
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        (header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header")),
    ];
    let matches =
        headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
            |tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == etag
            },
        );
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (StatusCode::OK, cache, [(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()))], bytes)
        .into_response()
}
