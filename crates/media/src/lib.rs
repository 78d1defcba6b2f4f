//! The media store: the bytes of uploaded files (attachments, avatars,
//! custom emojis' and stickers' images) in object storage — a directory
//! under the data directory by default, an S3-compatible bucket when
//! `[media.s3]` is set — written and read as streams, never whole in
//! memory, and the signed, expiring URLs under which attachments are
//! served.
//!
//! Keys ([`Key`]) are built here from typed ids and server-made names,
//! never from client input. What a file is (its content type, an image's
//! size) is read from its bytes ([`sniff`]), never taken from the client.

mod config;
mod key;
mod sign;
pub mod sniff;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, MultipartUpload, ObjectStore, PutPayload, PutPayloadMut};
use tokio::task::JoinSet;

pub use config::{MediaConfig, ProxyConfig, S3Config};
pub use key::Key;
pub use sign::{Signed, Signer, UrlError};

/// What went wrong talking to the object store. Callers log it and answer
/// a bare 500: nothing of it reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("media configuration: {0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, MediaError>;

/// How much of a file's start is kept while it streams in: enough for the
/// content type and for an image header (a JPEG's size can sit behind a
/// large EXIF block).
pub const HEAD_BYTES: usize = 64 * 1024;

/// Object storage for the server's files, and the signer of their URLs.
pub struct Media {
    store: Arc<dyn ObjectStore>,
    signer: Signer,
    config: MediaConfig,
    /// `scheme://host[:port]` that URLs start with.
    public_url: String,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").field("store", &self.store.to_string()).field("public_url", &self.public_url).finish()
    }
}

impl Media {
    /// Opens the store the configuration names: S3 when `s3` is set, else
    /// the directory `dir` (default `data_dir/media`), created if missing.
    /// URLs start with `public_url` unless the configuration names one.
    pub fn open(config: &MediaConfig, data_dir: &Path, public_url: &str) -> Result<Self> {
        let store: Arc<dyn ObjectStore> = match &config.s3 {
            Some(s3) => s3_store(s3)?,
            None => {
                let dir = config.dir(data_dir);
                std::fs::create_dir_all(&dir)?;
                Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true))
            }
        };
        let signer = Signer::new(config.secret(data_dir)?);
        let public_url = config.public_url.clone().unwrap_or_else(|| public_url.to_owned());
        Ok(Self { store, signer, config: config.clone(), public_url: public_url.trim_end_matches('/').to_owned() })
    }

    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// `scheme://host[:port]` that URLs start with.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The absolute, signed URL of `path` (`/attachments/…`), valid for
    /// `url_expiry_secs` from `now` (unix seconds).
    pub fn signed_url(&self, path: &str, now: u64) -> String {
        let s = self.signer.sign(path, now, now + self.config.url_expiry_secs);
        format!("{}{path}?{}&", self.public_url, s.query())
    }

    /// Stores `bytes` under `key` whole or not at all (small files: avatars,
    /// emoji and sticker images).
    pub async fn put(&self, key: &Key, bytes: Bytes) -> Result<()> {
        self.store.put(key.path(), PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    /// Starts writing `key` as a stream. Nothing is visible under the key
    /// until [`Writer::finish`]; a writer aborted, or dropped before
    /// `finish`, leaves nothing behind (on S3: its multipart upload is
    /// aborted, so no parts stay stored).
    pub async fn writer(&self, key: &Key) -> Result<Writer> {
        let upload = self.store.put_multipart(key.path()).await?;
        Ok(Writer {
            upload: Some(upload),
            buffer: PutPayloadMut::new(),
            parts: JoinSet::new(),
            head: Vec::new(),
            size: 0,
        })
    }

    /// The object's size, `None` when there is none.
    pub async fn size(&self, key: &Key) -> Result<Option<u64>> {
        match self.store.head(key.path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The first bytes of the object (at most `len`), `None` when there is none.
    pub async fn head_bytes(&self, key: &Key, len: u64) -> Result<Option<Bytes>> {
        let options = GetOptions { range: Some(GetRange::Bounded(0..len.max(1))), ..Default::default() };
        match self.store.get_opts(key.path(), options).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // An empty object has no byte 0 to start a range at.
            Err(object_store::Error::Generic { .. }) | Err(object_store::Error::NotSupported { .. }) => {
                match self.store.get(key.path()).await {
                    Ok(got) => Ok(Some(got.bytes().await?)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The object's bytes in `range` (all of them without one) as a stream,
    /// `None` when there is no object.
    pub async fn get(&self, key: &Key, range: Option<Range<u64>>) -> Result<Option<Object>> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
        match self.store.get_opts(key.path(), options).await {
            Ok(got) => {
                let size = got.meta.size;
                let range = got.range.clone();
                Ok(Some(Object { size, range, body: got.into_stream().boxed() }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The whole object (small files: avatars, emoji and sticker images),
    /// `None` when there is none.
    pub async fn get_bytes(&self, key: &Key) -> Result<Option<Bytes>> {
        match self.store.get(key.path()).await {
            Ok(got) => Ok(Some(got.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves the object at `from` to `to` (replacing any there); `false`
    /// when there is nothing at `from`.
    pub async fn rename(&self, from: &Key, to: &Key) -> Result<bool> {
        match self.store.rename(from.path(), to.path()).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets `key`; forgetting what is not there is not an error.
    pub async fn delete(&self, key: &Key) -> Result<()> {
        match self.store.delete(key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every attachment and pre-upload of a channel (after the
    /// channel went).
    pub async fn delete_channel(&self, channel: model::Id<model::id::ChannelMarker>) -> Result<()> {
        for folder in ["attachments", "uploads"] {
            let prefix = object_store::path::Path::from(format!("{folder}/{channel}"));
            let metas: Vec<_> = self.store.list(Some(&prefix)).collect().await;
            for meta in metas {
                match self.store.delete(&meta?.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// How many objects the store holds and their bytes in all: a walk of
    /// every object, for the storage metric (not for request paths).
    pub async fn usage(&self) -> Result<(u64, u64)> {
        let mut listing = self.store.list(None);
        let (mut objects, mut bytes) = (0u64, 0u64);
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            objects += 1;
            bytes += meta.size;
        }
        Ok((objects, bytes))
    }

    /// Deletes each key, logging (not returning) failures: a leftover
    /// object wastes space but names nothing.
    pub async fn delete_all(&self, keys: impl IntoIterator<Item = Key>) {
        for key in keys {
            if let Err(e) = self.delete(&key).await {
                tracing::warn!(error = %e, "could not delete a stored file");
            }
        }
    }
}

/// An object being read.
pub struct Object {
    /// The whole object's size.
    pub size: u64,
    /// The bytes `body` carries.
    pub range: Range<u64>,
    pub body: BoxStream<'static, std::result::Result<Bytes, object_store::Error>>,
}

/// A file being written as it streams in; see [`Media::writer`].
///
/// Bytes are sent in parts of [`PART_BYTES`] (S3's smallest), at most
/// [`PARTS_IN_FLIGHT`] at a time. Every way out that is not a successful
/// [`finish`](Writer::finish) — an error, [`abort`](Writer::abort), or the
/// writer dropped with its request (a client that went away mid-body) —
/// aborts the upload.
pub struct Writer {
    /// `None` once finished or aborted.
    upload: Option<Box<dyn MultipartUpload>>,
    /// Bytes not yet sent as a part.
    buffer: PutPayloadMut,
    /// Parts being sent.
    parts: JoinSet<object_store::Result<()>>,
    head: Vec<u8>,
    size: u64,
}

/// The size of each part but the last: S3's smallest (the local store
/// writes each part as it comes).
pub const PART_BYTES: usize = 5 * 1024 * 1024;

/// Parts sent at once; a writer waits for one to finish before sending more.
pub const PARTS_IN_FLIGHT: usize = 2;

impl Writer {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `chunk`, waiting while too many parts are in flight. After
    /// an error the writer is to be aborted (or dropped).
    pub async fn write(&mut self, mut chunk: Bytes) -> Result<()> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            let room = PART_BYTES - self.buffer.content_length();
            if chunk.len() < room {
                self.buffer.push(chunk);
                break;
            }
            self.buffer.push(chunk.split_to(room));
            self.wait_until(PARTS_IN_FLIGHT - 1).await?;
            self.send_part()?;
        }
        Ok(())
    }

    /// Sends the buffered bytes as the next part.
    fn send_part(&mut self) -> Result<()> {
        let part: PutPayload = std::mem::take(&mut self.buffer).into();
        let upload = self.upload.as_mut().ok_or_else(|| MediaError::Config("write after finish".into()))?;
        self.parts.spawn(upload.put_part(part));
        Ok(())
    }

    /// Waits until at most `max` parts are in flight.
    async fn wait_until(&mut self, max: usize) -> Result<()> {
        while self.parts.len() > max {
            match self.parts.join_next().await {
                Some(sent) => sent.map_err(|e| MediaError::Io(std::io::Error::other(e)))??,
                None => break,
            }
        }
        Ok(())
    }

    /// Makes the object visible under its key; answers what was written.
    /// On an error the upload is aborted: nothing is visible, nothing kept.
    pub async fn finish(mut self) -> Result<Written> {
        match self.complete().await {
            Ok(()) => Ok(Written { size: self.size, head: std::mem::take(&mut self.head) }),
            Err(e) => {
                self.abort_now().await;
                Err(e)
            }
        }
    }

    async fn complete(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            self.send_part()?;
        }
        self.wait_until(0).await?;
        let upload = self.upload.as_mut().ok_or_else(|| MediaError::Config("finished twice".into()))?;
        upload.complete().await?;
        self.upload = None;
        Ok(())
    }

    /// Drops what was written.
    pub async fn abort(mut self) {
        self.abort_now().await;
    }

    async fn abort_now(&mut self) {
        if let Some(upload) = self.upload.take() {
            abort_upload(upload, std::mem::take(&mut self.parts)).await;
        }
    }
}

impl Drop for Writer {
    /// A writer dropped unfinished (its request went away) aborts its
    /// upload in the background.
    fn drop(&mut self) {
        let Some(upload) = self.upload.take() else { return };
        let parts = std::mem::take(&mut self.parts);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(abort_upload(upload, parts))),
            Err(_) => tracing::warn!("an unfinished upload was dropped outside the runtime and could not be aborted"),
        }
    }
}

/// Stops the parts in flight, then aborts the upload (on S3: its stored
/// parts are deleted).
async fn abort_upload(mut upload: Box<dyn MultipartUpload>, mut parts: JoinSet<object_store::Result<()>>) {
    parts.shutdown().await;
    if let Err(e) = upload.abort().await {
        tracing::warn!(error = %e, "could not abort an upload");
    }
}

/// A finished write: its size and its first [`HEAD_BYTES`] bytes.
pub struct Written {
    pub size: u64,
    pub head: Vec<u8>,
}

fn s3_store(s3: &S3Config) -> Result<Arc<dyn ObjectStore>> {
    // `from_env`: credentials and settings the configuration leaves unset
    // come from `AWS_*` variables, as the settings' documentation says.
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_allow_http(s3.allow_http);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        builder = builder.with_access_key_id(id).with_secret_access_key(secret);
    }
    Ok(Arc::new(builder.build()?))
}
