use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{MediaError, Result};

/// The `[media]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Where files are kept on disk; unset: `media` in the data directory
    /// (also with PostgreSQL, which keeps the rows but not the files).
    /// Ignored when `s3` is set.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Largest file accepted, in bytes (Discord's default: 25 MiB).
    #[serde(default = "default_max_file_size")]
    pub max_file_size: u64,
    /// The key that signs file URLs, at least 32 characters. Unset: a
    /// random key kept in `data_dir/media.key`. Every node of a cluster
    /// needs the same one.
    #[serde(default)]
    pub url_secret: Option<String>,
    /// How long a signed URL stays valid, in seconds (Discord: 24 hours).
    #[serde(default = "default_url_expiry_secs")]
    pub url_expiry_secs: u64,
    /// `scheme://host[:port]` that file URLs start with; unset: the address
    /// the server listens on.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a pre-upload (`POST /channels/{id}/attachments`) waits for
    /// a message to claim it, in seconds, before it is deleted.
    #[serde(default = "default_upload_expiry_secs")]
    pub upload_expiry_secs: u64,
    /// How long the files of a deleted message or channel are kept before
    /// they are deleted, in seconds; 0 deletes them at once.
    #[serde(default)]
    pub delete_after_secs: u64,
    /// How often the storage metrics (`media_stored_*`) are counted, in
    /// seconds, by walking every object; 0 never.
    #[serde(default = "default_usage_interval_secs")]
    pub usage_interval_secs: u64,
    /// An S3-compatible bucket instead of the directory.
    #[serde(default)]
    pub s3: Option<S3Config>,
    /// The media proxy: resized and converted images (`[media.proxy]`).
    #[serde(default)]
    pub proxy: ProxyConfig,
}

/// The `[media.proxy]` settings: what the media proxy (`?width=`,
/// `?height=`, `?format=` on attachment URLs, `?size=` on avatars and
/// emojis) agrees to decode, how many images it works on at once, and
/// how much of its results it keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Largest image decoded, in pixels (width × height as its header
    /// says, checked before decoding): a larger one is refused.
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
    /// Largest width or height decoded, in pixels.
    #[serde(default = "default_max_side")]
    pub max_side: u32,
    /// Bytes of resized images kept in memory (least recently used first
    /// out); 0 keeps none.
    #[serde(default = "default_cache_bytes")]
    pub cache_bytes: u64,
    /// Images decoded and encoded at once (each on a blocking thread);
    /// further requests wait their turn within `timeout_ms`.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How long one request may wait for its turn and its image, in
    /// milliseconds; past it the request is answered 503.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// An S3-compatible bucket (AWS, MinIO, Garage, …).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// For services other than AWS, e.g. `http://127.0.0.1:9000`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Unset: taken from the environment (`AWS_ACCESS_KEY_ID`, …) by the client.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Allows an `http://` endpoint.
    #[serde(default)]
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn default_max_file_size() -> u64 {
    25 * 1024 * 1024
}

fn default_url_expiry_secs() -> u64 {
    24 * 3600
}

fn default_upload_expiry_secs() -> u64 {
    3600
}

fn default_usage_interval_secs() -> u64 {
    300
}

fn default_max_pixels() -> u64 {
    // 32 Mi pixels (8192×4096; a 24-megapixel photo fits) decode to 128 MiB
    // of RGBA: with `concurrency` 2, the proxy's worst case in memory.
    32 * 1024 * 1024
}

fn default_max_side() -> u32 {
    16_384
}

fn default_cache_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_concurrency() -> usize {
    2
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_pixels: default_max_pixels(),
            max_side: default_max_side(),
            cache_bytes: default_cache_bytes(),
            concurrency: default_concurrency(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_file_size: default_max_file_size(),
            url_secret: None,
            url_expiry_secs: default_url_expiry_secs(),
            public_url: None,
            upload_expiry_secs: default_upload_expiry_secs(),
            delete_after_secs: 0,
            usage_interval_secs: default_usage_interval_secs(),
            s3: None,
            proxy: ProxyConfig::default(),
        }
    }
}

impl MediaConfig {
    pub fn dir(&self, data_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| data_dir.join("media"))
    }

    /// The URL signing key: the configured one, or one made once and kept
    /// in the data directory, so URLs survive a restart.
    pub(crate) fn secret(&self, data_dir: &Path) -> Result<Vec<u8>> {
        if let Some(secret) = &self.url_secret {
            if secret.len() < 32 {
                return Err(MediaError::Config("media.url_secret must be at least 32 characters".into()));
            }
            return Ok(secret.as_bytes().to_vec());
        }
        let path = data_dir.join("media.key");
        match std::fs::read(&path) {
            Ok(key) if key.len() >= 32 => return Ok(key),
            Ok(_) => return Err(MediaError::Config(format!("{} is shorter than 32 bytes", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        std::fs::create_dir_all(data_dir)?;
        let key: [u8; 32] = rand::random();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        write_private(&path, hex.as_bytes())?;
        Ok(hex.into_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
