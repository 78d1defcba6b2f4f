//! Files attached to messages: the rules every transport keeps. A file's
//! bytes are written to the media store by the transport *before* the
//! message that names them (`StoredFile`); a message that is not stored
//! deletes them again (`Cleanup`), so no object outlives a failed send and
//! no message names a missing object.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use media::{Key, Media};
use model::permissions;
use model::Timestamp;
use store::{AttachmentId, AttachmentRow, ChannelId, UploadRow, UserId};

use crate::access::ChannelAccess;
use crate::{Domain, Error, FormErrors, Result};

/// Files one message may carry.
pub const MAX_FILES: usize = 10;
/// Longest description, in characters (Discord's alt text limit).
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest stored filename, in bytes.
const MAX_FILENAME: usize = 255;

/// A file of this request, already in the media store under
/// `Key::attachment(channel, id)`.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// `n` of its `files[n]` part: what the body's `attachments[].id` names.
    pub index: u64,
    pub id: AttachmentId,
    /// The part's filename, sanitised.
    pub filename: String,
    /// The part's filename as sent, when sanitising changed it.
    pub title: Option<String>,
    pub size: u64,
    pub content_type: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl StoredFile {
    /// What the bytes of a stored file say it is (`head` is its start).
    pub fn new(index: u64, id: AttachmentId, filename: &str, size: u64, head: &[u8]) -> Self {
        let sniffed = media::sniff::sniff(head, size as usize <= head.len());
        StoredFile {
            index,
            id,
            filename: sanitize_filename(filename),
            title: title(filename),
            size,
            content_type: sniffed.content_type,
            width: sniffed.width,
            height: sniffed.height,
        }
    }
}

/// An entry of a body's `attachments` array: a file of this request (its
/// part's index as `id`), a file uploaded ahead (`uploaded_filename`), or
/// on edits an attachment the message keeps (its snowflake as `id`).
#[derive(Debug, Default, Deserialize)]
pub struct AttachmentRef {
    pub id: Option<Value>,
    pub filename: Option<String>,
    pub description: Option<String>,
    pub uploaded_filename: Option<String>,
    /// A voice message's length in seconds (kept only with the message's
    /// IS_VOICE_MESSAGE flag).
    pub duration_secs: Option<f64>,
    /// A voice message's waveform, base64.
    pub waveform: Option<String>,
}

impl AttachmentRef {
    fn id_number(&self) -> Option<u64> {
        match &self.id {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// A filename safe in a URL path and a `Content-Disposition` header: the
/// last segment of whatever path the client sent, letters, digits, `-`,
/// `_` and `.` kept, anything else `_`, no leading dot, at most 255 bytes
/// with its extension kept; `unknown` when nothing is left.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String =
        last.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    let trimmed = name.trim_start_matches('.');
    name = trimmed.to_owned();
    if name.len() > MAX_FILENAME {
        let ext = name.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 16).unwrap_or("").to_owned();
        name.truncate(MAX_FILENAME - ext.len() - 1);
        name.push('.');
        name.push_str(&ext);
    }
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// The name a client gave, shown as Discord's `title` when the stored
/// filename differs from it: its last path segment, if it has no control
/// characters and at most 1024 characters.
fn title(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let shown = !last.is_empty() && last.chars().count() <= 1024 && !last.chars().any(char::is_control);
    (shown && sanitize_filename(raw) != last).then(|| last.to_owned())
}

/// Whether `access` allows files in its channel: ATTACH_FILES (which
/// SEND_MESSAGES denied takes away). Checked before a body is read.
pub fn require_attach(access: &ChannelAccess) -> Result<()> {
    access.require(permissions::SEND_MESSAGES)?;
    access.require(permissions::ATTACH_FILES)
}

/// Refused for an 11th file.
pub fn too_many_files() -> Error {
    Error::field("attachments", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_FILES} or fewer in length."))
}

/// The attachments of a new message: the request's files in the order the
/// body's `attachments` lists them (then any it does not list), and files
/// uploaded ahead that it names, with their descriptions. Pre-uploads are
/// claimed here: their rows are gone once this answers.
pub(crate) async fn attachments_for_send(
    ctx: &Domain,
    access: &ChannelAccess,
    user: UserId,
    refs: Option<&[AttachmentRef]>,
    files: &[StoredFile],
    errors: &mut FormErrors,
) -> Result<Vec<AttachmentRow>> {
    let refs = refs.unwrap_or_default();
    let mut rows = Vec::new();
    let mut used = vec![false; files.len()];
    let mut claims = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        check_ref(errors, i, r);
        if let Some(uploaded) = &r.uploaded_filename {
            match uploaded.split_once('/').and_then(|(id, _)| id.parse::<AttachmentId>().ok()) {
                Some(id) => claims.push((i, id, r)),
                None => {
                    errors.add(&format!("attachments.{i}.uploaded_filename"), "ATTACHMENT_NOT_FOUND", "Unknown upload.")
                }
            }
            continue;
        }
        let found = r.id_number().and_then(|n| files.iter().position(|f| f.index == n));
        match found {
            Some(at) if !used[at] => {
                used[at] = true;
                rows.push(row(&files[at], r));
            }
            _ => errors.add(&format!("attachments.{i}.id"), "ATTACHMENT_NOT_FOUND", "No file with this id was sent."),
        }
    }
    for (at, f) in files.iter().enumerate() {
        if !used[at] {
            rows.push(row(f, &AttachmentRef::default()));
        }
    }
    if !claims.is_empty() {
        rows.extend(claim(ctx, access.channel.id, user, &claims, errors).await?);
    }
    if rows.len() > MAX_FILES {
        return Err(too_many_files());
    }
    Ok(rows)
}

/// The attachments after an edit: with `refs`, those it lists by id that
/// the message has (others go), then the request's files; without, every
/// one kept and the request's files added.
pub(crate) fn attachments_for_edit(
    existing: &[AttachmentRow],
    refs: Option<&[AttachmentRef]>,
    files: &[StoredFile],
    errors: &mut FormErrors,
) -> Result<Vec<AttachmentRow>> {
    let mut rows = Vec::new();
    let mut used = vec![false; files.len()];
    match refs {
        None => rows.extend(existing.iter().cloned()),
        Some(refs) => {
            for (i, r) in refs.iter().enumerate() {
                check_ref(errors, i, r);
                let n = r.id_number();
                if let Some(kept) = existing.iter().find(|a| Some(a.id.get()) == n) {
                    if !rows.iter().any(|a: &AttachmentRow| a.id == kept.id) {
                        let mut kept = kept.clone();
                        if let Some(d) = &r.description {
                            kept.description = Some(d.clone()).filter(|d| !d.is_empty());
                        }
                        rows.push(kept);
                    }
                } else if let Some(at) = n.and_then(|n| files.iter().position(|f| f.index == n)).filter(|at| !used[*at])
                {
                    used[at] = true;
                    rows.push(row(&files[at], r));
                } else {
                    errors.add(&format!("attachments.{i}.id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment.");
                }
            }
        }
    }
    for (at, f) in files.iter().enumerate() {
        if !used[at] {
            rows.push(row(f, &AttachmentRef::default()));
        }
    }
    if rows.len() > MAX_FILES {
        return Err(too_many_files());
    }
    Ok(rows)
}

/// Longest voice message, in seconds.
const MAX_VOICE_SECS: f64 = 24.0 * 3600.0;
/// Longest waveform: base64 of 256 levels is 344 characters.
const MAX_WAVEFORM: usize = 400;

fn check_ref(errors: &mut FormErrors, i: usize, r: &AttachmentRef) {
    if r.duration_secs.is_some_and(|d| !(0.0..=MAX_VOICE_SECS).contains(&d)) {
        errors.add(
            &format!("attachments.{i}.duration_secs"),
            "NUMBER_TYPE_MAX",
            format!("Must be between 0 and {MAX_VOICE_SECS}."),
        );
    }
    let base64 = |w: &str| {
        let body = w.trim_end_matches('=');
        w.len() - body.len() <= 2 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if r.waveform.as_deref().is_some_and(|w| w.len() > MAX_WAVEFORM || !base64(w)) {
        errors.add(
            &format!("attachments.{i}.waveform"),
            "BASE_TYPE_BAD_TYPE",
            format!("Must be base64 of at most {MAX_WAVEFORM} characters."),
        );
    }
    if r.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        errors.add(
            &format!("attachments.{i}.description"),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_DESCRIPTION} or fewer in length."),
        );
    }
}

fn row(f: &StoredFile, r: &AttachmentRef) -> AttachmentRow {
    AttachmentRow {
        id: f.id,
        filename: r.filename.as_deref().map(sanitize_filename).unwrap_or_else(|| f.filename.clone()),
        title: match r.filename.as_deref() {
            Some(name) => title(name),
            None => f.title.clone(),
        },
        description: r.description.clone().filter(|d| !d.is_empty()),
        content_type: f.content_type.clone(),
        size: f.size,
        width: f.width,
        height: f.height,
        duration_ms: r.duration_secs.filter(|d| d.is_finite() && *d >= 0.0).map(|d| (d * 1000.0).round() as u64),
        waveform: r.waveform.clone(),
    }
}

/// Takes the named pre-uploads of `user` in `channel` that have not
/// expired and whose bytes arrived, reading what they are from the store.
async fn claim(
    ctx: &Domain,
    channel: ChannelId,
    user: UserId,
    claims: &[(usize, AttachmentId, &AttachmentRef)],
    errors: &mut FormErrors,
) -> Result<Vec<AttachmentRow>> {
    let since = Timestamp::now().unix_ms() - (ctx.media.config().upload_expiry_secs as i64) * 1000;
    let ids: Vec<AttachmentId> = claims.iter().map(|(_, id, _)| *id).collect();
    let found: Vec<UploadRow> = ctx.store.uploads(channel, Some(user), &ids, since).await?;
    let mut rows = Vec::new();
    for (i, id, r) in claims {
        let Some(up) = found.iter().find(|u| u.id == *id) else {
            errors.add(&format!("attachments.{i}.uploaded_filename"), "ATTACHMENT_NOT_FOUND", "Unknown upload.");
            continue;
        };
        let key = Key::attachment(channel, up.id);
        let size = ctx.media.size(&key).await.map_err(Error::internal)?;
        let head = ctx.media.head_bytes(&key, media::HEAD_BYTES as u64).await.map_err(Error::internal)?;
        let (Some(size), Some(head)) = (size, head) else {
            errors.add(
                &format!("attachments.{i}.uploaded_filename"),
                "ATTACHMENT_NOT_FOUND",
                "The file was not uploaded.",
            );
            continue;
        };
        let stored = StoredFile::new(0, up.id, &up.filename, size, &head);
        rows.push(row(&stored, r));
    }
    Ok(rows)
}

/// Deletes the request's stored files unless disarmed: held by whoever
/// wrote them until the message naming them is stored. Dropped armed (a
/// failed send, an aborted request), it deletes them in the background.
pub struct Cleanup {
    media: Arc<Media>,
    keys: Vec<Key>,
}

impl Cleanup {
    pub fn new(media: Arc<Media>) -> Self {
        Self { media, keys: Vec::new() }
    }

    pub fn push(&mut self, key: Key) {
        self.keys.push(key);
    }

    /// The message is stored: the files it names stay; the others go
    /// when this is dropped.
    pub fn keep(&mut self, named: impl Fn(&Key) -> bool) {
        self.keys.retain(|k| !named(k));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let (media, keys) = (self.media.clone(), std::mem::take(&mut self.keys));
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(async move { media.delete_all(keys).await })),
            Err(_) => tracing::warn!("stored files left behind: no runtime to delete them"),
        }
    }
}

/// Deletes the objects of attachments no message names any more.
pub async fn forget(ctx: &Domain, channel: ChannelId, gone: &[AttachmentRow]) {
    let keys: Vec<Key> = gone.iter().map(|a| Key::attachment(channel, a.id)).collect();
    ctx.media.delete_all(keys).await;
}

/// Deletes the pre-uploads no message claimed within
/// `media.upload_expiry_secs` (and five seconds' grace, so a claim that
/// read a row just in time is not undercut): their objects, then their
/// rows. Runs every minute (or every expiry, when shorter); ends with the
/// server.
pub fn sweep_uploads(ctx: &Domain) {
    let weak = ctx.downgrade();
    let expiry = ctx.media.config().upload_expiry_secs;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(expiry.clamp(1, 60)));
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else { return };
            let expiry_ms = (expiry as i64 + 5) * 1000;
            let before = Timestamp::now().unix_ms() - expiry_ms;
            match ctx.store.expired_uploads(before, 500).await {
                Ok(rows) if !rows.is_empty() => {
                    let keys: Vec<Key> = rows.iter().map(|u| Key::attachment(u.channel_id, u.id)).collect();
                    ctx.media.delete_all(keys).await;
                    let ids: Vec<_> = rows.iter().map(|u| u.id).collect();
                    if let Err(e) = ctx.store.delete_uploads(&ids).await {
                        tracing::warn!(error = %e, "could not forget expired uploads");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not list expired uploads"),
            }
        }
    });
}

/// Deletes, in the background, the files of channels that no longer exist
/// (a deleted channel or guild): no row names them any more.
pub fn forget_channels(ctx: &Domain, channels: Vec<ChannelId>) {
    let media = ctx.media.clone();
    tokio::spawn(async move {
        for channel in channels {
            if let Err(e) = media.delete_channel(channel).await {
                tracing::warn!(error = %e, "could not delete a deleted channel's files");
            }
        }
    });
}
