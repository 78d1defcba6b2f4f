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
use store::{AttachmentId, AttachmentRow, ChannelId, UserId};

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
    /// A voice message's length, in seconds.
    pub duration_secs: Option<serde_json::Number>,
    /// A voice message's waveform: base64 of at most 256 one-byte samples.
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

/// A file uploaded ahead (`uploaded_filename`) that a new message names:
/// checked with the rest of the body, taken only once the message is
/// about to be stored ([`take_claims`]).
#[derive(Debug)]
pub(crate) struct Claim {
    /// Its entry in the body's `attachments`.
    index: usize,
    id: AttachmentId,
    filename: Option<String>,
    description: Option<String>,
    duration_secs: Option<serde_json::Number>,
    waveform: Option<String>,
}

/// The attachments of a new message: the request's files in the order the
/// body's `attachments` lists them (then any it does not list), and the
/// files uploaded ahead that it names, still to be claimed.
pub(crate) fn attachments_for_send(
    refs: Option<&[AttachmentRef]>,
    files: &[StoredFile],
    errors: &mut FormErrors,
) -> Result<(Vec<AttachmentRow>, Vec<Claim>)> {
    let refs = refs.unwrap_or_default();
    let mut rows = Vec::new();
    let mut used = vec![false; files.len()];
    let mut claims = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        check_ref(errors, i, r);
        if let Some(uploaded) = &r.uploaded_filename {
            match uploaded.split_once('/').and_then(|(id, _)| id.parse::<AttachmentId>().ok()) {
                Some(id) if !claims.iter().any(|c: &Claim| c.id == id) => claims.push(Claim {
                    index: i,
                    id,
                    filename: r.filename.clone(),
                    description: r.description.clone(),
                    duration_secs: r.duration_secs.clone(),
                    waveform: r.waveform.clone(),
                }),
                _ => unknown_upload(errors, i, "Unknown upload."),
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
    if rows.len() + claims.len() > MAX_FILES {
        return Err(too_many_files());
    }
    Ok((rows, claims))
}

fn unknown_upload(errors: &mut FormErrors, i: usize, message: &str) {
    errors.add(&format!("attachments.{i}.uploaded_filename"), "ATTACHMENT_NOT_FOUND", message);
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
const MAX_DURATION_SECS: f64 = 3600.0;
/// Most waveform samples (one byte each).
const MAX_WAVEFORM: usize = 256;

fn check_ref(errors: &mut FormErrors, i: usize, r: &AttachmentRef) {
    if r.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
        errors.add(
            &format!("attachments.{i}.description"),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_DESCRIPTION} or fewer in length."),
        );
    }
    let seconds = r.duration_secs.as_ref().map(|d| d.as_f64().unwrap_or(f64::NAN));
    if seconds.is_some_and(|d| !(d.is_finite() && d > 0.0 && d <= MAX_DURATION_SECS)) {
        errors.add(
            &format!("attachments.{i}.duration_secs"),
            "NUMBER_TYPE_MAX",
            format!("Must be a number of seconds above 0 and at most {MAX_DURATION_SECS}."),
        );
    }
    if let Some(w) = &r.waveform {
        use base64::Engine;
        let samples = base64::engine::general_purpose::STANDARD.decode(w);
        if !samples.is_ok_and(|s| !s.is_empty() && s.len() <= MAX_WAVEFORM) {
            errors.add(
                &format!("attachments.{i}.waveform"),
                "BASE_TYPE_BAD_TYPE",
                format!("Must be base64 of 1 to {MAX_WAVEFORM} bytes."),
            );
        }
    }
}

/// Whether `rows` (and `claimed` pre-uploads not yet read) make a voice
/// message as Discord requires: no words (50161), one audio file (50159)
/// with its duration and waveform (50160).
pub(crate) fn check_voice_message(rows: &[AttachmentRow], claimed: usize, has_content: bool) -> Result<()> {
    let audio = |a: &AttachmentRow| a.content_type.as_deref().is_some_and(|t| t.starts_with("audio/"));
    if has_content {
        return Err(Error::voice_message_content());
    }
    match rows {
        [one] if claimed == 0 && audio(one) => {
            if one.duration_secs.is_none() || one.waveform.is_none() {
                return Err(Error::voice_message_metadata());
            }
            Ok(())
        }
        _ => Err(Error::voice_message_attachment()),
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
        duration_secs: r.duration_secs.clone(),
        waveform: r.waveform.clone(),
    }
}

/// Claims the pre-uploads of `user` in `channel` that `claims` name: all
/// of them or none (a field error for each that is unknown, expired, taken
/// by another message or never uploaded). A claimed file moves to its
/// attachment key, where no later `PUT` can change it, and is read there;
/// its key joins `cleanup`, so it goes again if the message is not stored.
pub(crate) async fn take_claims(
    ctx: &Domain,
    channel: ChannelId,
    user: UserId,
    claims: &[Claim],
    cleanup: &mut Cleanup,
) -> Result<Vec<AttachmentRow>> {
    let since = Timestamp::now().unix_ms() - (ctx.media.config().upload_expiry_secs as i64) * 1000;
    let mut errors = FormErrors::default();
    for c in claims {
        if ctx.media.size(&Key::upload(channel, c.id)).await.map_err(Error::internal)?.is_none() {
            unknown_upload(&mut errors, c.index, "The file was not uploaded.");
        }
    }
    errors.finish()?;
    let ids: Vec<AttachmentId> = claims.iter().map(|c| c.id).collect();
    let taken = ctx.store.take_uploads(channel, user, &ids, since).await?;
    if taken.len() < claims.len() {
        // Someone else's, expired or claimed meanwhile: give back what was
        // taken, so a refused message changes nothing.
        for up in &taken {
            ctx.store.create_upload(up).await?;
        }
        let mut errors = FormErrors::default();
        for c in claims.iter().filter(|c| !taken.iter().any(|u| u.id == c.id)) {
            unknown_upload(&mut errors, c.index, "Unknown upload.");
        }
        errors.finish()?;
    }
    let mut rows = Vec::new();
    for c in claims {
        let up = taken.iter().find(|u| u.id == c.id).ok_or_else(|| Error::internal("a claimed upload went missing"))?;
        let key = Key::attachment(channel, up.id);
        let moved = ctx.media.rename(&Key::upload(channel, up.id), &key).await.map_err(Error::internal)?;
        cleanup.push(key.clone());
        let size = ctx.media.size(&key).await.map_err(Error::internal)?;
        let head = ctx.media.head_bytes(&key, media::HEAD_BYTES as u64).await.map_err(Error::internal)?;
        let (true, Some(size), Some(head)) = (moved, size, head) else {
            return Err(Error::internal("a claimed upload's file went missing"));
        };
        let stored = StoredFile::new(0, up.id, &up.filename, size, &head);
        let r = AttachmentRef {
            filename: c.filename.clone(),
            description: c.description.clone(),
            duration_secs: c.duration_secs.clone(),
            waveform: c.waveform.clone(),
            ..Default::default()
        };
        rows.push(row(&stored, &r));
    }
    Ok(rows)
}

/// Deletes the request's stored files unless disarmed: held by whoever
/// wrote them until the message naming them is stored. Dropped armed (a
/// failed send, an aborted request), it deletes them in the background.
/// The domain disarms it as soon as the store has the message, so nothing
/// that fails after that can delete a file a stored message names.
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

impl std::fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleanup").field("keys", &self.keys).finish()
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

/// Files whose message or channel is gone, as the deletion queue names
/// them (`store::UploadStore::queue_deletions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    Attachment(ChannelId, AttachmentId),
    Channel(ChannelId),
}

impl Gone {
    fn target(self) -> String {
        match self {
            Gone::Attachment(c, a) => format!("attachments/{c}/{a}"),
            Gone::Channel(c) => format!("channel/{c}"),
        }
    }

    fn parse(target: &str) -> Option<Self> {
        match target.split('/').collect::<Vec<_>>()[..] {
            ["attachments", c, a] => Some(Gone::Attachment(c.parse().ok()?, a.parse().ok()?)),
            ["channel", c] => Some(Gone::Channel(c.parse().ok()?)),
            _ => None,
        }
    }

    async fn delete(self, media: &Media) {
        match self {
            Gone::Attachment(c, a) => media.delete_all([Key::attachment(c, a)]).await,
            Gone::Channel(c) => {
                if let Err(e) = media.delete_channel(c).await {
                    tracing::warn!(error = %e, "could not delete a deleted channel's files");
                }
            }
        }
    }
}

/// Deletes the files of what is gone: at once, or after
/// `media.delete_after_secs` through the store's deletion queue (if the
/// queue cannot be written, at once: a file no row names is never kept).
async fn delete_gone(store: &dyn store::Store, media: &Media, gone: Vec<Gone>) {
    let retention = media.config().delete_after_secs;
    if retention > 0 {
        let due = Timestamp::now().unix_ms() + (retention as i64) * 1000;
        let targets: Vec<String> = gone.iter().map(|g| g.target()).collect();
        match store.queue_deletions(&targets, due).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "could not queue files for deletion; deleting them now"),
        }
    }
    for g in gone {
        g.delete(media).await;
    }
}

/// Deletes the objects of attachments no message names any more (now or
/// after the retention): once this returns, without a retention, their
/// URLs answer 404.
pub async fn forget(ctx: &Domain, channel: ChannelId, gone: &[AttachmentRow]) {
    if !gone.is_empty() {
        let gone = gone.iter().map(|a| Gone::Attachment(channel, a.id)).collect();
        delete_gone(ctx.store.as_ref(), &ctx.media, gone).await;
    }
}

/// Files an interaction carried (its attachment options): no message names
/// them, so they are queued for deletion when the interaction's token
/// ends, like Discord's ephemeral attachments.
pub async fn forget_at(ctx: &Domain, channel: ChannelId, files: &[AttachmentRow], due_at: i64) -> Result<()> {
    let targets: Vec<String> = files.iter().map(|a| Gone::Attachment(channel, a.id).target()).collect();
    if !targets.is_empty() {
        ctx.store.queue_deletions(&targets, due_at).await?;
    }
    Ok(())
}

/// Deletes, in the background, the files of channels that no longer exist
/// (a deleted channel or guild): no row names them any more.
pub fn forget_channels(ctx: &Domain, channels: Vec<ChannelId>) {
    let (store, media) = (ctx.store.clone(), ctx.media.clone());
    let gone = channels.into_iter().map(Gone::Channel).collect();
    tokio::spawn(async move { delete_gone(store.as_ref(), &media, gone).await });
}

/// The media store's housekeeping, until the server ends: the pre-uploads
/// no message claimed within `media.upload_expiry_secs` (and five seconds'
/// grace, so a claim that read a row just in time is not undercut) go with
/// their objects; queued deletions that are due are carried out; every
/// `media.usage_interval_secs` the store is counted for the metrics. Runs
/// every minute, or more often when a setting is shorter.
pub fn sweep(ctx: &Domain) {
    let weak = ctx.downgrade();
    let config = ctx.media.config();
    let (expiry, retention, usage_every) =
        (config.upload_expiry_secs, config.delete_after_secs, config.usage_interval_secs);
    let period = [expiry, retention, usage_every].into_iter().filter(|s| *s > 0).min().unwrap_or(60).clamp(1, 60);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(period));
        let mut last_count: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else { return };
            sweep_uploads(&ctx, expiry).await;
            sweep_deletions(&ctx).await;
            let counting_due = last_count.is_none_or(|at| at.elapsed().as_secs() >= usage_every);
            if usage_every > 0 && counting_due {
                last_count = Some(tokio::time::Instant::now());
                match ctx.media.usage().await {
                    Ok((objects, bytes)) => ctx.metrics.media_stored(objects, bytes),
                    Err(e) => tracing::warn!(error = %e, "could not count the media store"),
                }
            }
        }
    });
}

async fn sweep_uploads(ctx: &Domain, expiry: u64) {
    let before = Timestamp::now().unix_ms() - (expiry as i64 + 5) * 1000;
    match ctx.store.expired_uploads(before, 500).await {
        Ok(rows) if !rows.is_empty() => {
            let keys: Vec<Key> = rows.iter().map(|u| Key::upload(u.channel_id, u.id)).collect();
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

async fn sweep_deletions(ctx: &Domain) {
    match ctx.store.due_deletions(Timestamp::now().unix_ms(), 500).await {
        Ok(targets) if !targets.is_empty() => {
            for gone in targets.iter().filter_map(|t| Gone::parse(t)) {
                gone.delete(&ctx.media).await;
            }
            if let Err(e) = ctx.store.forget_deletions(&targets).await {
                tracing::warn!(error = %e, "could not forget carried-out deletions");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not list due deletions"),
    }
}
