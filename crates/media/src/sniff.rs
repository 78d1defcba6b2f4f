//! What a file is, read from its bytes: the client's word is never taken.

/// How much of a file the content type is read from. The same length at
/// upload and when serving, so both read the same type.
pub const TYPE_BYTES: usize = 8 * 1024;

/// What the bytes say a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// `None` when the bytes match no known type and are not UTF-8 text.
    pub content_type: Option<String>,
    /// An image's size from its header (no pixels decoded).
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// The content type of a file starting with `head` (its first bytes;
/// only [`TYPE_BYTES`] are read), `complete` when `head` is the whole file.
pub fn content_type(head: &[u8], complete: bool) -> Option<String> {
    let complete = complete && head.len() <= TYPE_BYTES;
    let head = &head[..head.len().min(TYPE_BYTES)];
    if let Some(kind) = infer::get(head) {
        return Some(kind.mime_type().to_owned());
    }
    if looks_like_markup(head) {
        // SVG or HTML that `infer` did not name: typed so it is never shown inline.
        return Some("text/html; charset=utf-8".into());
    }
    // A cut in the middle of a character is not a reason to call it binary.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && !complete,
    };
    (text && !head.is_empty() && !head.contains(&0)).then(|| "text/plain; charset=utf-8".into())
}

/// Content type and, for raster images, width and height.
pub fn sniff(head: &[u8], complete: bool) -> Sniffed {
    let content_type = content_type(head, complete);
    let raster = content_type.as_deref().is_some_and(|t| t.starts_with("image/") && !t.contains("svg"));
    let size = raster.then(|| imagesize::blob_size(head).ok()).flatten();
    let side = |n: usize| u32::try_from(n).ok().filter(|n| *n > 0);
    Sniffed {
        content_type,
        width: size.as_ref().and_then(|s| side(s.width)),
        height: size.as_ref().and_then(|s| side(s.height)),
    }
}

/// Whether a browser may show this type inline: images, audio and video
/// that cannot carry script. Everything else — HTML, SVG, XML, text,
/// unknown bytes — is served as a download.
pub fn inline_safe(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/bmp"
            | "video/mp4"
            | "video/webm"
            | "video/quicktime"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/x-wav"
            | "audio/x-flac"
            | "audio/aac"
            | "audio/m4a"
    )
}

fn looks_like_markup(head: &[u8]) -> bool {
    let start = head.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(head.len());
    let lower: Vec<u8> = head[start..].iter().take(512).map(u8::to_ascii_lowercase).collect();
    lower.starts_with(b"<")
        && [&b"<svg"[..], b"<html", b"<!doctype", b"<?xml", b"<script"]
            .iter()
            .any(|m| lower.windows(m.len()).any(|w| w == *m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02\x08\x06\0\0\0";
        let s = sniff(png, true);
        assert_eq!(s.content_type.as_deref(), Some("image/png"));
        assert_eq!((s.width, s.height), (Some(3), Some(2)));
        assert_eq!(content_type(b"hello", true).as_deref(), Some("text/plain; charset=utf-8"));
        assert_eq!(content_type(b"\0\x01\x02", true), None);
        let svg = content_type(b"  <svg xmlns='http://www.w3.org/2000/svg'></svg>", true).unwrap();
        assert!(!inline_safe(&svg), "{svg}");
        let html = content_type(b"<!DOCTYPE html><script>alert(1)</script>", true).unwrap();
        assert!(!inline_safe(&html), "{html}");
        assert!(inline_safe("image/png"));
    }
}
