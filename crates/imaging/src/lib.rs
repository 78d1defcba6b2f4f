//! The media proxy's image work: an image resized and converted as a
//! request asks (`width`, `height`, `format`), under limits that make a
//! hostile file cheap to refuse, and a bounded cache of the results.
//!
//! Limits against decompression bombs, in the order they apply:
//! - the size the image's header gives (read with `imagesize`, no pixel
//!   decoded) is checked against `max_side` and `max_pixels` first;
//! - the decoder runs with `image`'s `Limits` (width, height and bytes
//!   allocated), so a header that lies is caught while decoding;
//! - only the first frame of an animation is decoded (the decoders read
//!   no further), so frame count costs nothing;
//! - decoding and encoding run on the proxy's own `concurrency` threads,
//!   and a request gives up (503) after `timeout_ms`, its place still held
//!   until the work it started ends, so a slow image never lets more work
//!   start than the limit allows.
//!
//! An image is never made larger than it is: asked sizes are clamped to
//! the original's, and what asks for no change at all gets the original
//! bytes untouched.

use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hashlink::LinkedHashMap;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageReader, Limits};
use tokio::sync::Semaphore;

pub use media::ProxyConfig;

/// The formats the proxy reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Format {
    /// A `format=` value: `png`, `jpeg` (or `jpg`), `webp`. GIF is read,
    /// never written.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// What the bytes say, by their signature.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match image::guess_format(bytes).ok()? {
            image::ImageFormat::Png => Some(Self::Png),
            image::ImageFormat::Jpeg => Some(Self::Jpeg),
            image::ImageFormat::Gif => Some(Self::Gif),
            image::ImageFormat::WebP => Some(Self::Webp),
            _ => None,
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

    /// Every format, in the order a CDN path's extension is tried.
    pub const ALL: [Format; 4] = [Self::Png, Self::Jpeg, Self::Gif, Self::Webp];

    /// The extension of Discord's CDN paths: `png`, `jpg`, `gif`, `webp`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            other => other.name(),
        }
    }

    /// A CDN path's extension (`jpeg` taken for `jpg`).
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "jpeg" => Some(Self::Jpeg),
            _ => Self::ALL.into_iter().find(|f| f.extension() == ext),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Gif => "gif",
            Self::Webp => "webp",
        }
    }

    fn image_format(self) -> image::ImageFormat {
        match self {
            Self::Png => image::ImageFormat::Png,
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Gif => image::ImageFormat::Gif,
            Self::Webp => image::ImageFormat::WebP,
        }
    }
}

/// What a request asks for: a box to fit in (either side or both; the
/// image keeps its proportions) and a format (unset: the original's,
/// PNG for a GIF that must be re-encoded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Transform {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub format: Option<Format>,
}

impl Transform {
    /// A name for the cache, unique per transform of one source.
    fn cache_suffix(&self) -> String {
        format!(
            "w={}&h={}&f={}",
            self.width.unwrap_or(0),
            self.height.unwrap_or(0),
            self.format.map_or("", Format::name)
        )
    }
}

/// A proxied image.
#[derive(Debug, Clone)]
pub struct Output {
    pub bytes: Bytes,
    pub format: Format,
    pub width: u32,
    pub height: u32,
    /// The source's own bytes: the transform asked for no change.
    pub unchanged: bool,
}

/// Why an image could not be proxied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the file is not a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
    #[error("the image is {width}×{height} pixels; the media proxy takes at most {max_side} pixels a side and {max_pixels} pixels in all")]
    TooLarge { width: u64, height: u64, max_side: u32, max_pixels: u64 },
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
    #[error("the media proxy is busy; try again")]
    Busy,
    #[error("the image could not be encoded: {0}")]
    Encode(String),
}

/// The media proxy: limits, its workers and their permits, and the cache.
pub struct Proxy {
    config: ProxyConfig,
    permits: Arc<Semaphore>,
    /// Requests that may hold a source image in memory at once (twice the
    /// workers): the rest wait before reading theirs, so many resizes of
    /// large files cannot fill memory with files waiting for a worker.
    admitted: Arc<Semaphore>,
    /// Work for the proxy's own threads (`concurrency` of them). Images are
    /// decoded there rather than on the runtime's shared blocking pool, whose
    /// many threads (file reads use it too) would each keep the freed
    /// buffers of the images they once decoded: measured, several hundred
    /// MiB of memory after a few hundred resizes. Dropping the proxy ends them.
    jobs: std::sync::mpsc::Sender<Job>,
    cache: Mutex<Cache>,
}

/// One image for a worker; its permit is given back when it is done.
struct Job {
    bytes: Bytes,
    transform: Transform,
    reply: tokio::sync::oneshot::Sender<Result<Output, Error>>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Proxy {
    pub fn new(config: &ProxyConfig) -> Self {
        let workers = config.concurrency.max(1);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let (queue, limits) = (queue.clone(), config.clone());
            let worker = move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(job) = next else { return };
                // A decoder that panics on some file fails that request only.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    apply(&job.bytes, &job.transform, &limits)
                }))
                .unwrap_or_else(|_| Err(Error::Undecodable("the decoder failed".into())));
                let _ = job.reply.send(out);
            };
            if let Err(e) = std::thread::Builder::new().name(format!("media-proxy-{n}")).spawn(worker) {
                tracing::error!(error = %e, "could not start a media proxy worker");
            }
        }
        Self {
            config: config.clone(),
            permits: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers * 2)),
            jobs,
            cache: Mutex::new(Cache { map: LinkedHashMap::new(), bytes: 0, budget: config.cache_bytes }),
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The cached result of `transform` on the file `source` names (a name
    /// that always means the same bytes: a store key), if there is one.
    pub fn cached(&self, source: &str, transform: &Transform) -> Option<Output> {
        let key = format!("{source}?{}", transform.cache_suffix());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.map.to_back(&key).cloned()
    }

    /// A place among the requests that read a source image into memory,
    /// to take before reading it and hold until [`Proxy::render`] is done;
    /// `Busy` when none comes free within `timeout_ms`.
    pub async fn admit(&self) -> Result<Admission, Error> {
        let wait = Duration::from_millis(self.config.timeout_ms);
        match tokio::time::timeout(wait, self.admitted.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Admission { _permit: permit }),
            _ => Err(Error::Busy),
        }
    }

    /// Refuses, from a file's first bytes alone, an image whose header
    /// gives a size over the limits, before the rest of it is read. Bytes
    /// that do not give a size yet pass: [`Proxy::render`] checks again.
    pub fn check_header(&self, head: &[u8]) -> Result<(), Error> {
        match imagesize::blob_size(head) {
            Ok(size) => check_size(size.width as u64, size.height as u64, &self.config),
            Err(_) => Ok(()),
        }
    }

    /// `transform` applied to `bytes` (the file `source` names), kept in
    /// the cache. Decoding and encoding run on a blocking thread within
    /// the proxy's limits.
    pub async fn render(&self, source: &str, bytes: Bytes, transform: &Transform) -> Result<Output, Error> {
        let permits = self.permits.clone();
        let work = async {
            let permit = permits.acquire_owned().await.map_err(|_| Error::Busy)?;
            let (reply, answer) = tokio::sync::oneshot::channel();
            // The permit goes with the job: held until the work ends, even
            // when the request gave up meanwhile.
            let job = Job { bytes, transform: *transform, reply, _permit: permit };
            self.jobs.send(job).map_err(|_| Error::Busy)?;
            answer.await.map_err(|_| Error::Busy)?
        };
        let output = tokio::time::timeout(Duration::from_millis(self.config.timeout_ms), work)
            .await
            .map_err(|_| Error::Busy)??;
        let key = format!("{source}?{}", transform.cache_suffix());
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, output.clone());
        Ok(output)
    }
}

/// See [`Proxy::admit`]; dropped, it lets the next request read its source.
#[derive(Debug)]
pub struct Admission {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Resized images by source and transform, least recently used first,
/// holding at most `budget` bytes of images.
struct Cache {
    map: LinkedHashMap<String, Output>,
    bytes: u64,
    budget: u64,
}

impl Cache {
    fn insert(&mut self, key: String, output: Output) {
        let size = output.bytes.len() as u64;
        // One image may take at most a quarter of the budget, so a few
        // large ones cannot flush everything else.
        if size > self.budget / 4 {
            return;
        }
        if let Some(old) = self.map.insert(key, output) {
            self.bytes -= old.bytes.len() as u64;
        }
        self.bytes += size;
        while self.bytes > self.budget {
            let Some((_, gone)) = self.map.pop_front() else { break };
            self.bytes -= gone.bytes.len() as u64;
        }
    }
}

/// The size an image of `width`×`height` gets for `t`: fitted in the box
/// it asks, proportions kept, never larger than it is, at least 1×1.
pub fn fitted(width: u32, height: u32, t: &Transform) -> (u32, u32) {
    let (w, h) = (width as f64, height as f64);
    let sx = t.width.map_or(f64::INFINITY, |x| x as f64 / w);
    let sy = t.height.map_or(f64::INFINITY, |y| y as f64 / h);
    let scale = sx.min(sy).min(1.0);
    let side = |n: f64| (n * scale).round().clamp(1.0, n) as u32;
    (side(w), side(h))
}

fn check_size(width: u64, height: u64, limits: &ProxyConfig) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::NotAnImage);
    }
    if width > limits.max_side as u64 || height > limits.max_side as u64 || width * height > limits.max_pixels {
        return Err(Error::TooLarge { width, height, max_side: limits.max_side, max_pixels: limits.max_pixels });
    }
    Ok(())
}

/// The blocking part: checks, decoding, resizing, encoding.
fn apply(bytes: &[u8], t: &Transform, limits: &ProxyConfig) -> Result<Output, Error> {
    let source = Format::sniff(bytes).ok_or(Error::NotAnImage)?;
    let size = imagesize::blob_size(bytes).map_err(|_| Error::NotAnImage)?;
    let (width, height) = (size.width as u64, size.height as u64);
    check_size(width, height, limits)?;
    let too_large = || Error::TooLarge { width, height, max_side: limits.max_side, max_pixels: limits.max_pixels };
    let (width, height) = (width as u32, height as u32);
    let (tw, th) = fitted(width, height, t);
    if (tw, th) == (width, height) && t.format.is_none_or(|f| f == source) {
        return Ok(Output { bytes: Bytes::copy_from_slice(bytes), format: source, width, height, unchanged: true });
    }
    let format = t.format.unwrap_or(if source == Format::Gif { Format::Png } else { source });
    let mut reader = ImageReader::with_format(Cursor::new(bytes), source.image_format());
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    // RGBA at 8 bits a channel for the allowed pixels, and room for the
    // decoder's own buffers.
    decode_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(16 << 20));
    reader.limits(decode_limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        e => Error::Undecodable(e.to_string()),
    })?;
    let resized = if (tw, th) == (image.width(), image.height()) { image } else { image.thumbnail_exact(tw, th) };
    let mut out = Cursor::new(Vec::new());
    let encoded = match format {
        Format::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(resized.to_rgb8());
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 85))
        }
        Format::Webp => {
            let rgba = DynamicImage::ImageRgba8(resized.to_rgba8());
            rgba.write_with_encoder(WebPEncoder::new_lossless(&mut out))
        }
        Format::Png | Format::Gif => {
            let eight_bit = if resized.color().has_alpha() {
                DynamicImage::ImageRgba8(resized.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(resized.to_rgb8())
            };
            eight_bit.write_to(&mut out, image::ImageFormat::Png)
        }
    };
    encoded.map_err(|e| Error::Encode(e.to_string()))?;
    let format = if format == Format::Gif { Format::Png } else { format };
    Ok(Output { bytes: Bytes::from(out.into_inner()), format, width: tw, height: th, unchanged: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_the_box_and_never_grow() {
        let t = |w, h| Transform { width: w, height: h, format: None };
        assert_eq!(fitted(400, 200, &t(Some(100), None)), (100, 50));
        assert_eq!(fitted(400, 200, &t(None, Some(100))), (200, 100));
        assert_eq!(fitted(400, 200, &t(Some(100), Some(100))), (100, 50));
        assert_eq!(fitted(400, 200, &t(Some(4000), Some(4000))), (400, 200));
        assert_eq!(fitted(400, 2, &t(Some(10), None)), (10, 1));
        assert_eq!(fitted(400, 200, &t(None, None)), (400, 200));
    }

    #[test]
    fn the_cache_keeps_its_budget() {
        let mut cache = Cache { map: LinkedHashMap::new(), bytes: 0, budget: 100 };
        let out =
            |n| Output { bytes: Bytes::from(vec![0; n]), format: Format::Png, width: 1, height: 1, unchanged: false };
        for i in 0..10 {
            cache.insert(format!("k{i}"), out(20));
            assert!(cache.bytes <= 100);
        }
        assert_eq!(cache.map.len(), 5);
        assert!(cache.map.contains_key("k9") && !cache.map.contains_key("k4"));
        cache.insert("big".into(), out(26));
        assert!(!cache.map.contains_key("big"));
    }
}
