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
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};

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
    /// until [`Writer::finish`]; a writer dropped or aborted before that
    /// leaves nothing behind.
    pub async fn writer(&self, key: &Key) -> Result<Writer> {
        let upload = self.store.put_multipart(key.path()).await?;
        Ok(Writer {
            // S3's smallest part; the local store writes each part as it comes.
            inner: WriteMultipart::new_with_chunk_size(upload, 5 * 1024 * 1024),
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

    /// Forgets `key`; forgetting what is not there is not an error.
    pub async fn delete(&self, key: &Key) -> Result<()> {
        match self.store.delete(key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every attachment of a channel (after the channel went).
    pub async fn delete_channel(&self, channel: model::Id<model::id::ChannelMarker>) -> Result<()> {
        let prefix = object_store::path::Path::from(format!("attachments/{channel}"));
        let metas: Vec<_> = self.store.list(Some(&prefix)).collect().await;
        for meta in metas {
            match self.store.delete(&meta?.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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
pub struct Writer {
    inner: WriteMultipart,
    head: Vec<u8>,
    size: u64,
}

impl Writer {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `chunk`, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size += chunk.len() as u64;
        self.inner.wait_for_capacity(2).await?;
        self.inner.put(chunk);
        Ok(())
    }

    /// Makes the object visible under its key; answers what was written.
    pub async fn finish(self) -> Result<Written> {
        self.inner.finish().await?;
        Ok(Written { size: self.size, head: self.head })
    }

    /// Drops what was written.
    pub async fn abort(self) {
        if let Err(e) = self.inner.abort().await {
            tracing::warn!(error = %e, "could not abort an upload");
        }
    }
}

/// A finished write: its size and its first [`HEAD_BYTES`] bytes.
pub struct Written {
    pub size: u64,
    pub head: Vec<u8>,
}

#[cfg(feature = "s3")]
fn s3_store(s3: &S3Config) -> Result<Arc<dyn ObjectStore>> {
    let mut builder = object_store::aws::AmazonS3Builder::new()
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

#[cfg(not(feature = "s3"))]
fn s3_store(_: &S3Config) -> Result<Arc<dyn ObjectStore>> {
    Err(MediaError::Config("media.s3 is set but this build has no S3 support: build with `--features s3`".into()))
}
