use model::id::{AttachmentMarker, ChannelMarker, EmojiMarker, Id, StickerMarker, UserMarker};
use object_store::path::Path;

/// Where a file lives in the store. Built only from typed ids and names
/// the server made, so no client input ever chooses a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(Path);

impl Key {
    /// An attachment's bytes: `attachments/{channel_id}/{attachment_id}`.
    /// The filename is not part of the key: it is the URL's, checked by
    /// its signature.
    pub fn attachment(channel: Id<ChannelMarker>, attachment: Id<AttachmentMarker>) -> Self {
        Self(Path::from(format!("attachments/{channel}/{attachment}")))
    }

    /// A file uploaded ahead of its message (`PUT /uploads/…`):
    /// `uploads/{channel_id}/{attachment_id}`, until a message claims it
    /// and it moves to its attachment key, where nothing writes again.
    pub fn upload(channel: Id<ChannelMarker>, attachment: Id<AttachmentMarker>) -> Self {
        Self(Path::from(format!("uploads/{channel}/{attachment}")))
    }

    /// A user's avatar: `avatars/{user_id}/{hash}.{ext}`. `hash` is hex
    /// (with Discord's `a_` for animated ones) and `ext` a known image
    /// extension; anything else is refused.
    pub fn avatar(user: Id<UserMarker>, hash: &str, ext: &str) -> Option<Self> {
        let hex = hash.strip_prefix("a_").unwrap_or(hash);
        let ok = !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && matches!(ext, "png" | "jpg" | "gif" | "webp");
        ok.then(|| Self(Path::from(format!("avatars/{user}/{hash}.{ext}"))))
    }

    /// A custom emoji's image: `emojis/{emoji_id}.{ext}`, `ext` a known
    /// image extension (the stored image's own); anything else is refused.
    pub fn emoji(emoji: Id<EmojiMarker>, ext: &str) -> Option<Self> {
        matches!(ext, "png" | "jpg" | "gif" | "webp").then(|| Self(Path::from(format!("emojis/{emoji}.{ext}"))))
    }

    /// A sticker's file: `stickers/{sticker_id}.{ext}`, `ext` `png` (PNG
    /// and APNG), `gif` or `json` (Lottie); anything else is refused.
    pub fn sticker(sticker: Id<StickerMarker>, ext: &str) -> Option<Self> {
        matches!(ext, "png" | "gif" | "json").then(|| Self(Path::from(format!("stickers/{sticker}.{ext}"))))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
