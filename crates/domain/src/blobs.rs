//! Where uploaded files live (avatars, emoji and sticker images): the
//! `BlobStore` trait, so operations here can write the bytes before the
//! row that names them. Its directory implementation lives with the HTTP
//! transport (`api::avatars::DiskBlobs`); an object store could take its
//! place behind the same three calls.

use std::io;

/// Keys are relative paths the server builds itself (`{user_id}/{hash}.{ext}`,
/// `emojis/{id}.{ext}`, `stickers/{id}.{ext}`), never client input.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key` whole or not at all.
    async fn put(&self, key: &str, bytes: &[u8]) -> io::Result<()>;
    /// The bytes under `key`, `None` if there are none.
    async fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>>;
    /// Forgets `key`; forgetting what is not there is not an error.
    async fn delete(&self, key: &str) -> io::Result<()>;
}
