//! The media proxy over HTTP: Discord's `media.discordapp.net` parameters
//! on our CDN paths. An attachment URL with `width`, `height` or `format`
//! (`webp`, `png`, `jpeg`) answers the image resized and converted
//! (`imaging::Proxy`); avatars and emojis take Discord's `size` (16 to
//! 4096). Results are cached by store key and transform;
//! an image too large to decode, or not an image at all, gets a
//! Discord-format error and costs no decoding.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use imaging::{Format, Output, Transform};

use crate::ApiError;

/// Headers every CDN answer carries: never sniffed, and a document that
/// a browser renders from it runs nothing (no script, no plugins, an
/// opaque origin) and loads nothing but itself.
pub(crate) fn cdn_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; media-src 'self'; sandbox"),
    );
}

/// The largest side a request may ask; asking more is asking for the
/// original (images are never made larger).
const MAX_ASKED: u32 = 16_384;

/// The proxy's parameters in an attachment URL's query; `None` when it
/// asks for no transform (the original bytes). Bad values are 50035 at
/// the parameter's name.
pub(crate) fn attachment_transform(query: &str) -> Result<Option<Transform>, ApiError> {
    let mut t = Transform::default();
    let mut asked = false;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "width" | "height" => {
                let n =
                    value.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ApiError::field(&name, "NUMBER_TYPE_COERCE", "Must be a positive whole number.")
                    })?;
                let n = n.min(MAX_ASKED as u64) as u32;
                if name == "width" {
                    t.width = Some(n);
                } else {
                    t.height = Some(n);
                }
                asked = true;
            }
            "format" => {
                t.format = Some(Format::parse(&value).ok_or_else(|| {
                    ApiError::field("format", "BASE_TYPE_CHOICES", "Must be one of webp, png, jpeg.")
                })?);
                asked = true;
            }
            _ => {}
        }
    }
    Ok(asked.then_some(t))
}

/// Discord's `size` on avatar, emoji and sticker URLs, `None` when absent.
/// Discord documents powers of two from 16 to 4096, but its own clients
/// ask others (emojis at 48, 44, 96), which its CDN serves; so any whole
/// number is taken, held to 16–4096. Anything else is 50035 at `size`.
pub(crate) fn size_param(query: &str) -> Result<Option<u32>, ApiError> {
    let Some(value) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "size").map(|(_, v)| v) else {
        return Ok(None);
    };
    value
        .parse::<u64>()
        .ok()
        .map(|n| Some(n.clamp(16, 4096) as u32))
        .ok_or_else(|| ApiError::field("size", "NUMBER_TYPE_COERCE", "Must be a whole number (16 to 4096)."))
}

/// The proxy's refusals as Discord's errors.
pub(crate) fn error(e: imaging::Error) -> ApiError {
    use imaging::Error as E;
    match e {
        E::NotAnImage | E::Undecodable(_) => ApiError::field("image", "IMAGE_INVALID", e.to_string()),
        E::TooLarge { .. } => ApiError::field("image", "IMAGE_TOO_LARGE", e.to_string()),
        E::Busy => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 0, "The media proxy is busy; try again."),
        E::Encode(_) => ApiError::internal(e),
    }
}

/// A proxied image's answer: its own type, inline, cacheable as long as
/// `cache_control` says, an ETag naming the source and the transform.
pub(crate) fn answer(out: Output, etag_base: &str, cache_control: &str, if_none_match: &HeaderMap) -> Response {
    // What asked for no change is the original, under the original's tag.
    let etag = if out.unchanged {
        format!("\"{etag_base}\"")
    } else {
        format!(
            "\"{etag_base}-{}x{}-{}\"",
            out.width,
            out.height,
            out.format.content_type().trim_start_matches("image/")
        )
    };
    let mut headers = HeaderMap::new();
    cdn_headers(&mut headers);
    let value = |s: &str| HeaderValue::from_str(s).expect("built from safe characters");
    headers.insert(header::ETAG, value(&etag));
    headers.insert(header::CACHE_CONTROL, value(cache_control));
    if etag_matches(if_none_match, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(out.format.content_type()));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    headers.insert(header::CONTENT_LENGTH, value(&out.bytes.len().to_string()));
    (StatusCode::OK, headers, out.bytes).into_response()
}

/// Whether `If-None-Match` names `etag` (or `*`).
pub(crate) fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || tag.trim().trim_start_matches("W/") == etag)
}

/// Reads a whole (small) object stream into memory.
pub(crate) async fn collect<E: std::fmt::Display>(
    first: Vec<Bytes>,
    mut rest: impl futures::Stream<Item = Result<Bytes, E>> + Unpin,
    size: u64,
) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut all = Vec::with_capacity(size as usize);
    for chunk in first {
        all.extend_from_slice(&chunk);
    }
    while let Some(chunk) = rest.next().await {
        all.extend_from_slice(&chunk.map_err(ApiError::internal)?);
    }
    Ok(Bytes::from(all))
}
