//! Messages, reactions and pins, keyed by (channel_id, message_id); and the
//! mention counts a new message adds to its readers' read states.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{record, AuditEntry};
use crate::expressions::{sticker_items_from_json, sticker_items_to_json, StickerItemRow};
use crate::group_commit::{GroupCommit, Job, MAX_BATCH};
use crate::sql::{placeholders, Backend, Pool, SqlStore};
use crate::{
    from_db, opt_from_db, to_db, AttachmentId, ChannelId, GuildId, MessageId, Result, RoleId, StoreError, UserId,
    WebhookId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub channel_id: ChannelId,
    pub id: MessageId,
    pub author_id: UserId,
    pub content: String,
    pub kind: u8,
    pub flags: u64,
    pub tts: bool,
    pub mention_everyone: bool,
    pub mentions: Vec<UserId>,
    pub mention_roles: Vec<RoleId>,
    pub nonce: Option<String>,
    pub edited_at: Option<i64>,
    pub pinned_at: Option<i64>,
    /// The message this one replies to, in the same channel.
    pub ref_message_id: Option<MessageId>,
    /// The stickers sent with it, as they were then.
    pub sticker_items: Vec<StickerItemRow>,
    /// Its files, in order; their bytes are in the media store.
    pub attachments: Vec<AttachmentRow>,
    /// Its rich embeds, as sent (validated by the domain).
    pub embeds: Vec<EmbedRow>,
    /// Set when a webhook posted it (then `author_id` is the webhook's).
    pub webhook: Option<WebhookAuthor>,
    /// Its components (buttons, selects, layout), as checked by the domain.
    pub components: Vec<serde_json::Value>,
    /// The interaction it answers (Discord's `interaction_metadata`).
    pub interaction: Option<serde_json::Value>,
}

/// The webhook behind a message, with the name and avatar (a hash of the
/// webhook's avatar) it was posted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAuthor {
    pub id: WebhookId,
    pub name: Option<String>,
    pub avatar: Option<String>,
}

/// An embed as stored (a JSON array in the message's row): a rich embed,
/// only what its author sent (`kind` unset), or a link preview the server
/// made (`kind` is Discord's `link`, `article` or `image`). The wire object
/// is `model::message::Embed`, built by `domain::render`, which resolves
/// `attachment://` URLs when it renders.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbedRow {
    /// `None` for a rich embed; a link preview's type otherwise.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer_icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<EmbedFieldRow>,
    /// Link previews only: the site, and the images' sizes (width, height).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_size: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbedFieldRow {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

pub(crate) fn embeds_to_json(rows: &[EmbedRow]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn components_to_json(c: &[serde_json::Value]) -> String {
    serde_json::to_string(c).unwrap_or_else(|_| "[]".into())
}

fn components_from_json(s: &str) -> Result<Vec<serde_json::Value>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn embeds_from_json(s: &str) -> Result<Vec<EmbedRow>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A file attached to a message, as stored (a JSON array in the message's
/// row, with these short field names). The wire object is
/// `model::message::Attachment`, built by `domain::render`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttachmentRow {
    pub id: AttachmentId,
    /// Sanitised by the server: the URL's last segment.
    pub filename: String,
    /// The name as the client gave it, when sanitising changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Read from the bytes, never from the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A voice message's length in seconds, as its client measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<serde_json::Number>,
    /// A voice message's sampled waveform, base64 (at most 256 samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waveform: Option<String>,
}

pub(crate) fn attachments_to_json(rows: &[AttachmentRow]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".into())
}

fn attachments_from_json(s: &str) -> Result<Vec<AttachmentRow>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl MessageRow {
    /// A new message of `kind` that says `content` and nothing more: no
    /// flags, mentions, nonce, reply, edit or pin.
    pub fn plain(channel_id: ChannelId, id: MessageId, author_id: UserId, content: String, kind: u8) -> Self {
        Self {
            channel_id,
            id,
            author_id,
            content,
            kind,
            flags: 0,
            tts: false,
            mention_everyone: false,
            mentions: Vec::new(),
            mention_roles: Vec::new(),
            nonce: None,
            edited_at: None,
            pinned_at: None,
            ref_message_id: None,
            sticker_items: Vec::new(),
            attachments: Vec::new(),
            embeds: Vec::new(),
            webhook: None,
            components: Vec::new(),
            interaction: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub row: MessageRow,
    /// With a nonce: a second create with the same nonce by the same author
    /// since `nonce_since` returns the first message instead.
    pub enforce_nonce: bool,
    pub nonce_since: MessageId,
    /// In a guild channel, who @everyone and role mentions reach (their
    /// unread mention counts go up with the message); `None` in DMs.
    pub guild_mentions: Option<GuildMentions>,
}

#[derive(Debug, Clone)]
pub struct GuildMentions {
    pub guild: GuildId,
    /// Who may view the channel, when not every member may. Nobody else's
    /// mention count goes up, even when the message names them.
    pub viewers: Option<Vec<UserId>>,
    /// For a message that says `@here` but not `@everyone`: the members
    /// connected now, the only ones it reaches.
    pub online: Option<Vec<UserId>>,
}

/// Which page of history to read; every page comes newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryQuery {
    Latest,
    /// The oldest messages (`after=0`).
    Oldest,
    Before(MessageId),
    After(MessageId),
    Around(MessageId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionCount {
    pub message_id: MessageId,
    pub emoji: String,
    pub count: u32,
    /// Whether the asking user is among those who reacted.
    pub me: bool,
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores the message and moves the channel's `last_message_id`.
    /// Returns `(row, true)` when created, `(existing, false)` for a
    /// retry with an enforced nonce.
    async fn create_message(&self, new: &NewMessage) -> Result<(MessageRow, bool)>;
    async fn message(&self, channel: ChannelId, id: MessageId) -> Result<Option<MessageRow>>;
    async fn messages_by_id(&self, channel: ChannelId, ids: &[MessageId]) -> Result<Vec<MessageRow>>;
    async fn history(&self, channel: ChannelId, query: HistoryQuery, limit: u32) -> Result<Vec<MessageRow>>;
    async fn edit_message(&self, row: &MessageRow) -> Result<()>;
    /// Replaces the message's embeds (its link previews arriving), only if
    /// it is still the version last edited at `edited_at` (`None`: never
    /// edited); leaves `edited_at` alone. `false` when the message changed
    /// or went meanwhile.
    async fn set_embeds(
        &self,
        channel: ChannelId,
        id: MessageId,
        edited_at: Option<i64>,
        embeds: &[EmbedRow],
    ) -> Result<bool>;
    /// `audit` when a moderator deletes someone else's message.
    async fn delete_message(&self, channel: ChannelId, id: MessageId, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Deletes those of `ids` that exist; returns the ids deleted.
    async fn delete_messages(
        &self,
        channel: ChannelId,
        ids: &[MessageId],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<MessageId>>;
    /// The author's newest message in the channel with an id above `since`.
    async fn latest_by_author(&self, channel: ChannelId, author: UserId, since: MessageId)
        -> Result<Option<MessageId>>;

    /// `false` if the user had already reacted with that emoji.
    async fn add_reaction(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &str,
        user: UserId,
        now: i64,
    ) -> Result<bool>;
    async fn remove_reaction(&self, channel: ChannelId, message: MessageId, emoji: &str, user: UserId) -> Result<bool>;
    /// Removes every reaction, or every reaction with one emoji.
    async fn clear_reactions(&self, channel: ChannelId, message: MessageId, emoji: Option<&str>) -> Result<u64>;
    /// Reaction counts for messages of one channel, in order of first use.
    async fn reaction_counts(
        &self,
        channel: ChannelId,
        messages: &[MessageId],
        viewer: UserId,
    ) -> Result<Vec<ReactionCount>>;
    /// Users who reacted with `emoji`, by user id, after `after`.
    async fn reactors(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>>;

    /// Pins (`Some(time)`) or unpins (`None`); `false` if nothing changed.
    async fn set_pinned(
        &self,
        channel: ChannelId,
        message: MessageId,
        pinned_at: Option<i64>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool>;
    /// Pinned messages, most recently pinned first.
    async fn pins(&self, channel: ChannelId) -> Result<Vec<MessageRow>>;
}

pub(crate) const COLUMNS: &str = "channel_id, id, author_id, content, kind, flags, tts, mention_everyone, mentions, \
    mention_roles, nonce, edited_at, pinned_at, ref_message_id, sticker_items, attachments, embeds, webhook_id, \
    webhook_name, webhook_avatar, components, interaction";

pub(crate) fn ids_to_json<M>(ids: &[model::Id<M>]) -> String {
    serde_json::to_string(&ids.iter().map(|id| id.get()).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

fn ids_from_json<M>(s: &str) -> Result<Vec<model::Id<M>>> {
    let raw: Vec<u64> = serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    raw.into_iter().map(|n| model::Id::new_checked(n).ok_or_else(|| StoreError::Corrupt("zero id".into()))).collect()
}

pub(crate) fn message_row(r: &AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        channel_id: from_db(r.try_get("channel_id")?)?,
        id: from_db(r.try_get("id")?)?,
        author_id: from_db(r.try_get("author_id")?)?,
        content: r.try_get("content")?,
        kind: r.try_get::<i64, _>("kind")? as u8,
        flags: r.try_get::<i64, _>("flags")? as u64,
        tts: r.try_get::<i64, _>("tts")? != 0,
        mention_everyone: r.try_get::<i64, _>("mention_everyone")? != 0,
        mentions: ids_from_json(&r.try_get::<String, _>("mentions")?)?,
        mention_roles: ids_from_json(&r.try_get::<String, _>("mention_roles")?)?,
        nonce: r.try_get("nonce")?,
        edited_at: r.try_get("edited_at")?,
        pinned_at: r.try_get("pinned_at")?,
        ref_message_id: opt_from_db(r.try_get("ref_message_id")?)?,
        sticker_items: sticker_items_from_json(&r.try_get::<String, _>("sticker_items")?)?,
        attachments: attachments_from_json(&r.try_get::<String, _>("attachments")?)?,
        embeds: embeds_from_json(&r.try_get::<String, _>("embeds")?)?,
        webhook: match opt_from_db(r.try_get("webhook_id")?)? {
            Some(id) => {
                Some(WebhookAuthor { id, name: r.try_get("webhook_name")?, avatar: r.try_get("webhook_avatar")? })
            }
            None => None,
        },
        components: components_from_json(&r.try_get::<String, _>("components")?)?,
        interaction: match r.try_get::<Option<String>, _>("interaction")? {
            Some(s) => Some(serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))?),
            None => None,
        },
    })
}

/// Counts a mention for each of `users` in `channel` (inside the
/// transaction that stores the message).
pub(crate) async fn count_mentions(conn: &mut sqlx::AnyConnection, channel: ChannelId, users: &[UserId]) -> Result<()> {
    for user in users {
        sqlx::query(&format!("INSERT INTO read_states {COUNT_COLUMNS} VALUES ($1, $2, 0, 1) {BUMP}"))
            .bind(to_db(*user))
            .bind(to_db(channel))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

const COUNT_COLUMNS: &str = "(user_id, channel_id, last_message_id, mention_count)";
const BUMP: &str = "ON CONFLICT (user_id, channel_id) DO UPDATE SET mention_count = read_states.mention_count + 1";

/// Counts one mention for everyone a new message mentions, once each, its
/// author aside: the users it names, the holders of the roles it names, and
/// with @everyone every member who may view the channel (with only @here,
/// those of them connected now, as the caller found them). In the
/// common case (every member may view it) one `INSERT … SELECT` does it in
/// the database, however large the guild; for a channel hidden from some,
/// the role holders are read and kept to the given viewers.
pub(crate) async fn count_message_mentions(
    conn: &mut sqlx::AnyConnection,
    m: &MessageRow,
    guild: Option<&GuildMentions>,
) -> Result<()> {
    // Someone who cannot see the channel gets no count (nor a read state)
    // for it, whatever the message names.
    let sees = |u: &UserId| guild.and_then(|g| g.viewers.as_ref()).is_none_or(|v| v.contains(u));
    let direct: Vec<UserId> = m.mentions.iter().copied().filter(|u| *u != m.author_id && sees(u)).collect();
    let Some(guild) = guild.filter(|_| m.mention_everyone || !m.mention_roles.is_empty()) else {
        return count_mentions(conn, m.channel_id, &direct).await;
    };
    let (g, channel, author) = (to_db(guild.guild), to_db(m.channel_id), to_db(m.author_id));
    let roles = m.mention_roles.iter().map(|r| to_db(*r));
    let here = guild.online.as_ref().filter(|_| m.mention_everyone);
    if guild.viewers.is_some() || here.is_some() {
        let mut users: Vec<UserId> = match (&guild.viewers, here) {
            (Some(viewers), None) if m.mention_everyone => viewers.clone(),
            _ => {
                let mut users = direct;
                users.extend(here.into_iter().flatten().copied().filter(sees));
                if !m.mention_roles.is_empty() {
                    let sql = format!(
                        "SELECT DISTINCT user_id FROM member_roles WHERE guild_id = $1 AND role_id IN ({})",
                        placeholders(2, m.mention_roles.len())
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(g);
                    for r in roles {
                        q = q.bind(r);
                    }
                    let holders =
                        q.fetch_all(&mut *conn).await?.into_iter().map(from_db).collect::<Result<Vec<UserId>>>()?;
                    users.extend(holders.into_iter().filter(sees));
                }
                users
            }
        };
        users.retain(|u| *u != m.author_id);
        users.sort();
        users.dedup();
        return count_mentions(conn, m.channel_id, &users).await;
    }
    let sql = if m.mention_everyone {
        format!(
            "INSERT INTO read_states {COUNT_COLUMNS}
             SELECT user_id, $2, 0, 1 FROM members WHERE guild_id = $1 AND user_id <> $3 {BUMP}"
        )
    } else {
        let roles_at = 4;
        let direct_at = roles_at + m.mention_roles.len();
        let named = if direct.is_empty() {
            String::new()
        } else {
            format!(
                " UNION SELECT user_id FROM members WHERE guild_id = $1 AND user_id IN ({})",
                placeholders(direct_at, direct.len())
            )
        };
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join's.
        format!(
            "INSERT INTO read_states {COUNT_COLUMNS}
             SELECT user_id, $2, 0, 1 FROM (
                SELECT user_id FROM member_roles WHERE guild_id = $1 AND role_id IN ({}){named}
             ) AS mentioned WHERE user_id <> $3 {BUMP}",
            placeholders(roles_at, m.mention_roles.len())
        )
    };
    let mut q = sqlx::query(&sql).bind(g).bind(channel).bind(author);
    if !m.mention_everyone {
        for r in roles {
            q = q.bind(r);
        }
        for u in &direct {
            q = q.bind(to_db(*u));
        }
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// The writer of grouped message creates (see `group_commit`): every create
/// queued meanwhile in one transaction; a failed batch one by one.
async fn write_groups(writer: Pool, backend: Backend, mut queue: tokio::sync::mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let news: Vec<&NewMessage> = batch.iter().map(|j| &j.new).collect();
        // Plain creates (no nonce to claim, no mention to count): one
        // round trip for the whole batch.
        if news.iter().all(|n| !claims_nonce(n) && counts_no_mentions(&n.row)) {
            let rows: Vec<&MessageRow> = news.iter().map(|n| &n.row).collect();
            let written = match backend {
                Backend::Postgres => write_plain_postgres(&writer, &rows).await,
                Backend::Sqlite => write_plain_sqlite(&writer, &rows).await,
            };
            if written.is_ok() {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Ok((job.new.row, true)));
                }
                continue;
            }
        }
        if batch.len() > 1 {
            if let Ok(created) = write_batch(&writer, &news).await {
                for (job, row) in batch.drain(..).zip(created) {
                    let _ = job.reply.send(Ok(row));
                }
                continue;
            }
        }
        for job in batch.drain(..) {
            let one = write_batch(&writer, &[&job.new]).await.map(|mut c| c.remove(0));
            let _ = job.reply.send(one);
        }
    }
}

/// Writes `batch` in one transaction and answers each create in order.
/// Plain creates go in multi-row INSERTs (a few statements for the whole
/// batch, not two per message); a create with an enforced nonce is written
/// alone, in its turn, so a second create with the same nonce in the same
/// batch finds the first. Each channel's `last_message_id` moves once, to
/// the newest id, and never back.
async fn write_batch(writer: &Pool, batch: &[&NewMessage]) -> Result<Vec<(MessageRow, bool)>> {
    let mut tx = writer.begin().await?;
    let plain: Vec<&MessageRow> = batch.iter().filter(|n| !claims_nonce(n)).map(|n| &n.row).collect();
    insert_rows(&mut tx, &plain).await?;
    let mut created = Vec::with_capacity(batch.len());
    let mut newest: Vec<(ChannelId, MessageId)> = Vec::new();
    for new in batch {
        let (row, fresh) =
            if claims_nonce(new) { insert_with_nonce(&mut tx, new).await? } else { (new.row.clone(), true) };
        if fresh {
            count_message_mentions(&mut tx, &row, new.guild_mentions.as_ref()).await?;
            newest.push((row.channel_id, row.id));
        }
        created.push((row, fresh));
    }
    raise_last_messages(&mut tx, newest).await?;
    tx.commit().await?;
    Ok(created)
}

/// Moves each channel's `last_message_id` to the newest of the given ids,
/// never back.
pub(crate) async fn raise_last_messages(
    conn: &mut sqlx::AnyConnection,
    ids: impl IntoIterator<Item = (ChannelId, MessageId)>,
) -> Result<()> {
    for (channel, id) in newest_per_channel(ids) {
        sqlx::query(
            "UPDATE channels SET last_message_id = $2 WHERE id = $1 AND (last_message_id IS NULL OR last_message_id < $2)",
        )
        .bind(to_db(channel))
        .bind(to_db(id))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The newest of the given ids in each of their channels.
fn newest_per_channel(ids: impl IntoIterator<Item = (ChannelId, MessageId)>) -> Vec<(ChannelId, MessageId)> {
    let mut newest: Vec<(ChannelId, MessageId)> = Vec::new();
    for (channel, id) in ids {
        match newest.iter_mut().find(|(c, _)| *c == channel) {
            Some((_, n)) => *n = (*n).max(id),
            None => newest.push((channel, id)),
        }
    }
    newest
}

fn claims_nonce(new: &NewMessage) -> bool {
    new.enforce_nonce && new.row.nonce.is_some()
}

fn counts_no_mentions(m: &MessageRow) -> bool {
    m.mentions.is_empty() && m.mention_roles.is_empty() && !m.mention_everyone
}

/// PostgreSQL: a batch of plain creates that raise no mention counts is one
/// statement, so one round trip and its own transaction: the rows, passed
/// as one JSON array (one statement shape for any batch), and each
/// channel's last message, moved to the newest and never back.
const POSTGRES_BATCH: &str = "WITH new AS (
    INSERT INTO messages (channel_id, id, author_id, content, kind, flags, tts, mention_everyone, mentions,
                          mention_roles, nonce, edited_at, pinned_at, ref_message_id, sticker_items, attachments, embeds,
                          webhook_id, webhook_name, webhook_avatar, components, interaction)
    SELECT channel_id, id, author_id, content, kind, flags, tts, mention_everyone, mentions,
           mention_roles, nonce, edited_at, pinned_at, ref_message_id, sticker_items, attachments, embeds,
           webhook_id, webhook_name, webhook_avatar, components, interaction
    FROM json_to_recordset($1::json) AS r(channel_id BIGINT, id BIGINT, author_id BIGINT, content TEXT, kind BIGINT,
        flags BIGINT, tts BIGINT, mention_everyone BIGINT, mentions TEXT, mention_roles TEXT, nonce TEXT,
        edited_at BIGINT, pinned_at BIGINT, ref_message_id BIGINT, sticker_items TEXT, attachments TEXT, embeds TEXT,
        webhook_id BIGINT, webhook_name TEXT, webhook_avatar TEXT, components TEXT,
        interaction TEXT)
    RETURNING channel_id, id
)
UPDATE channels c SET last_message_id = n.id
FROM (SELECT channel_id, max(id) AS id FROM new GROUP BY channel_id) n
WHERE c.id = n.channel_id AND (c.last_message_id IS NULL OR c.last_message_id < n.id)";

async fn write_plain_postgres(writer: &Pool, rows: &[&MessageRow]) -> Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|m| {
            serde_json::json!({
                "channel_id": to_db(m.channel_id), "id": to_db(m.id), "author_id": to_db(m.author_id),
                "content": m.content, "kind": m.kind, "flags": m.flags as i64, "tts": i64::from(m.tts),
                "mention_everyone": i64::from(m.mention_everyone), "mentions": ids_to_json(&m.mentions),
                "mention_roles": ids_to_json(&m.mention_roles), "nonce": m.nonce, "edited_at": m.edited_at,
                "pinned_at": m.pinned_at, "ref_message_id": m.ref_message_id.map(to_db),
                "sticker_items": sticker_items_to_json(&m.sticker_items),
                "attachments": attachments_to_json(&m.attachments),
                "embeds": embeds_to_json(&m.embeds),
                "webhook_id": m.webhook.as_ref().map(|w| to_db(w.id)),
                "webhook_name": m.webhook.as_ref().and_then(|w| w.name.as_deref()),
                "webhook_avatar": m.webhook.as_ref().and_then(|w| w.avatar.as_deref()),
                "components": components_to_json(&m.components),
                "interaction": m.interaction.as_ref().map(|i| i.to_string()),
            })
        })
        .collect();
    sqlx::query(POSTGRES_BATCH).bind(serde_json::Value::Array(rows).to_string()).execute(writer).await?;
    Ok(())
}

/// Rows per INSERT statement at most.
const ROWS_PER_INSERT: usize = 64;

/// Inserts `rows` with few statements, of few shapes to cache: chunks of
/// `ROWS_PER_INSERT`, then the powers of two that sum to the rest
/// (13 = 8 + 4 + 1), so at most seven statement shapes ever exist.
///
/// On SQLite the parameters are anonymous (`?`): sqlx's SQLite driver asks
/// SQLite the name of every parameter it binds, and SQLite finds a name by
/// walking the list of all of the statement's names, so numbered ones make
/// binding cost the square of the parameters (22 a row): at 500 rows per
/// INSERT that was 95% of a bulk fill's time.
pub(crate) async fn insert_rows(conn: &mut sqlx::AnyConnection, rows: &[&MessageRow]) -> Result<()> {
    let anonymous = conn.backend_name().eq_ignore_ascii_case("sqlite");
    for chunk in insert_chunks(rows) {
        let sql = insert_sql(chunk.len(), anonymous);
        let mut q = sqlx::query(&sql);
        for m in chunk {
            q = bind_row(q, m);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `rows` cut into the chunks [`insert_rows`] writes with one statement
/// each: `ROWS_PER_INSERT` rows, then powers of two.
fn insert_chunks<'r, 'm>(rows: &'r [&'m MessageRow]) -> impl Iterator<Item = &'r [&'m MessageRow]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= ROWS_PER_INSERT { ROWS_PER_INSERT } else { 1 << rest.len().ilog2() };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// The INSERT of `n` message rows, with anonymous (`?`) or numbered
/// parameters.
fn insert_sql(n: usize, anonymous: bool) -> String {
    let row = |i: usize| if anonymous { "?, ".repeat(21) + "?" } else { placeholders(1 + i * 22, 22) };
    let values = (0..n).map(|i| format!("({})", row(i))).collect::<Vec<_>>().join(", ");
    format!("INSERT INTO messages ({COLUMNS}) VALUES {values}")
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds the 22 columns of `m`, in the order of `COLUMNS`.
fn bind_row<'q>(q: AnyQuery<'q>, m: &'q MessageRow) -> AnyQuery<'q> {
    q.bind(to_db(m.channel_id))
        .bind(to_db(m.id))
        .bind(to_db(m.author_id))
        .bind(&m.content)
        .bind(i64::from(m.kind))
        .bind(m.flags as i64)
        .bind(i64::from(m.tts))
        .bind(i64::from(m.mention_everyone))
        .bind(ids_to_json(&m.mentions))
        .bind(ids_to_json(&m.mention_roles))
        .bind(&m.nonce)
        .bind(m.edited_at)
        .bind(m.pinned_at)
        .bind(m.ref_message_id.map(to_db))
        .bind(sticker_items_to_json(&m.sticker_items))
        .bind(attachments_to_json(&m.attachments))
        .bind(embeds_to_json(&m.embeds))
        .bind(m.webhook.as_ref().map(|w| to_db(w.id)))
        .bind(m.webhook.as_ref().and_then(|w| w.name.clone()))
        .bind(m.webhook.as_ref().and_then(|w| w.avatar.clone()))
        .bind(components_to_json(&m.components))
        .bind(m.interaction.as_ref().map(|i| i.to_string()))
}

/// SQLite: a batch of plain creates that raise no mention counts as one
/// query of many statements, so one round trip to SQLite's thread for the
/// whole transaction: `BEGIN`, the multi-row INSERTs, each channel's last
/// message (moved to the newest, never back) and `COMMIT`. sqlx runs the
/// statements of one query in turn and gives each its own parameters
/// (all anonymous); the query's text depends only on the chunks and the
/// number of channels, so few texts exist and each is prepared once.
async fn write_plain_sqlite(writer: &Pool, rows: &[&MessageRow]) -> Result<()> {
    let newest = newest_per_channel(rows.iter().map(|m| (m.channel_id, m.id)));
    let mut sql = String::from("BEGIN; ");
    for chunk in insert_chunks(rows) {
        sql += &insert_sql(chunk.len(), true);
        sql += "; ";
    }
    for _ in &newest {
        sql += "UPDATE channels SET last_message_id = ? WHERE id = ? AND (last_message_id IS NULL OR last_message_id < ?); ";
    }
    sql += "COMMIT";
    let mut q = sqlx::query(&sql);
    for m in rows {
        q = bind_row(q, m);
    }
    for (channel, id) in &newest {
        q = q.bind(to_db(*id)).bind(to_db(*channel)).bind(to_db(*id));
    }
    writer.whole_transaction(q).await?;
    Ok(())
}

/// Writes one new message with an enforced nonce on `conn`, inside the
/// caller's transaction; with the nonce already used by the same author in
/// the window, returns the earlier message and `false` and writes nothing.
async fn insert_with_nonce(conn: &mut sqlx::AnyConnection, new: &NewMessage) -> Result<(MessageRow, bool)> {
    let m = &new.row;
    let earlier = sqlx::query(&format!(
        "SELECT {} FROM message_nonces n JOIN messages m ON m.channel_id = n.channel_id AND m.id = n.message_id
             WHERE n.channel_id = $1 AND n.author_id = $2 AND n.nonce = $3 AND n.message_id > $4",
        COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(to_db(m.channel_id))
    .bind(to_db(m.author_id))
    .bind(&m.nonce)
    .bind(to_db(new.nonce_since))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(earlier) = earlier {
        return Ok((message_row(&earlier)?, false));
    }
    sqlx::query(
        "INSERT INTO message_nonces (channel_id, author_id, nonce, message_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (channel_id, author_id, nonce) DO UPDATE SET message_id = excluded.message_id",
    )
    .bind(to_db(m.channel_id))
    .bind(to_db(m.author_id))
    .bind(&m.nonce)
    .bind(to_db(m.id))
    .execute(&mut *conn)
    .await?;
    insert_rows(conn, &[m]).await?;
    Ok((m.clone(), true))
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn create_message(&self, new: &NewMessage) -> Result<(MessageRow, bool)> {
        let group = self.group_commit.get_or_init(|| {
            let (group, queue) = GroupCommit::new();
            tokio::spawn(write_groups(self.writer.clone(), self.backend(), queue));
            group
        });
        group.create(new.clone()).await
    }

    async fn message(&self, channel: ChannelId, id: MessageId) -> Result<Option<MessageRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND id = $2"))
            .bind(to_db(channel))
            .bind(to_db(id))
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(message_row).transpose()
    }

    async fn messages_by_id(&self, channel: ChannelId, ids: &[MessageId]) -> Result<Vec<MessageRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!("SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND id IN ({})", placeholders(2, ids.len()));
        let mut q = sqlx::query(&sql).bind(to_db(channel));
        for id in ids {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.reader).await?.iter().map(message_row).collect()
    }

    async fn history(&self, channel: ChannelId, query: HistoryQuery, limit: u32) -> Result<Vec<MessageRow>> {
        let page = |cond: &'static str, order: &'static str, pivot: i64, limit: u32| {
            let sql =
                format!("SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND {cond} ORDER BY id {order} LIMIT $3");
            async move {
                let rows = sqlx::query(&sql)
                    .bind(to_db(channel))
                    .bind(pivot)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter().map(message_row).collect::<Result<Vec<_>>>()
            }
        };
        match query {
            HistoryQuery::Latest => page("id < $2", "DESC", i64::MAX, limit).await,
            HistoryQuery::Before(id) => page("id < $2", "DESC", to_db(id), limit).await,
            HistoryQuery::Oldest => {
                let mut rows = page("id > $2", "ASC", 0, limit).await?;
                rows.reverse();
                Ok(rows)
            }
            HistoryQuery::After(id) => {
                let mut rows = page("id > $2", "ASC", to_db(id), limit).await?;
                rows.reverse();
                Ok(rows)
            }
            HistoryQuery::Around(id) => {
                let mut rows = page("id >= $2", "ASC", to_db(id), limit.div_ceil(2)).await?;
                rows.reverse();
                rows.extend(page("id < $2", "DESC", to_db(id), limit / 2).await?);
                Ok(rows)
            }
        }
    }

    async fn edit_message(&self, m: &MessageRow) -> Result<()> {
        let done = sqlx::query(
            "UPDATE messages SET content = $3, mentions = $4, mention_roles = $5, mention_everyone = $6,
                edited_at = $7, flags = $8, attachments = $9, embeds = $10, components = $11
             WHERE channel_id = $1 AND id = $2",
        )
        .bind(to_db(m.channel_id))
        .bind(to_db(m.id))
        .bind(&m.content)
        .bind(ids_to_json(&m.mentions))
        .bind(ids_to_json(&m.mention_roles))
        .bind(i64::from(m.mention_everyone))
        .bind(m.edited_at)
        .bind(m.flags as i64)
        .bind(attachments_to_json(&m.attachments))
        .bind(embeds_to_json(&m.embeds))
        .bind(components_to_json(&m.components))
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_embeds(
        &self,
        channel: ChannelId,
        id: MessageId,
        edited_at: Option<i64>,
        embeds: &[EmbedRow],
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET embeds = $3 WHERE channel_id = $1 AND id = $2 AND COALESCE(edited_at, -1) = $4",
        )
        .bind(to_db(channel))
        .bind(to_db(id))
        .bind(embeds_to_json(embeds))
        .bind(edited_at.unwrap_or(-1))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_message(&self, channel: ChannelId, id: MessageId, audit: Option<&AuditEntry>) -> Result<bool> {
        let query =
            sqlx::query("DELETE FROM messages WHERE channel_id = $1 AND id = $2").bind(to_db(channel)).bind(to_db(id));
        Ok(self.execute_audited(query, audit).await? > 0)
    }

    async fn delete_messages(
        &self,
        channel: ChannelId,
        ids: &[MessageId],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<MessageId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "DELETE FROM messages WHERE channel_id = $1 AND id IN ({}) RETURNING id",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(&sql).bind(to_db(channel));
        for id in ids {
            q = q.bind(to_db(*id));
        }
        let mut tx = self.writer.begin().await?;
        let rows = q.fetch_all(&mut *tx).await?;
        if !rows.is_empty() {
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        let mut deleted = rows.iter().map(|r| from_db(r.try_get("id")?)).collect::<Result<Vec<MessageId>>>()?;
        deleted.sort();
        Ok(deleted)
    }

    async fn latest_by_author(
        &self,
        channel: ChannelId,
        author: UserId,
        since: MessageId,
    ) -> Result<Option<MessageId>> {
        let row =
            sqlx::query("SELECT MAX(id) AS id FROM messages WHERE channel_id = $1 AND id > $2 AND author_id = $3")
                .bind(to_db(channel))
                .bind(to_db(since))
                .bind(to_db(author))
                .fetch_one(&self.reader)
                .await?;
        opt_from_db(row.try_get("id")?)
    }

    async fn add_reaction(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &str,
        user: UserId,
        now: i64,
    ) -> Result<bool> {
        // Reactions are listed in the order they were first added; two within
        // one millisecond would tie, so a message's times strictly increase.
        let done = sqlx::query(
            "INSERT INTO reactions (channel_id, message_id, emoji, user_id, created_at)
             SELECT $1, $2, $3, $4,
                    CASE WHEN MAX(created_at) >= $5 THEN MAX(created_at) + 1 ELSE $5 END
             FROM reactions WHERE channel_id = $1 AND message_id = $2
             ON CONFLICT DO NOTHING",
        )
        .bind(to_db(channel))
        .bind(to_db(message))
        .bind(emoji)
        .bind(to_db(user))
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_reaction(&self, channel: ChannelId, message: MessageId, emoji: &str, user: UserId) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM reactions WHERE channel_id = $1 AND message_id = $2 AND emoji = $3 AND user_id = $4",
        )
        .bind(to_db(channel))
        .bind(to_db(message))
        .bind(emoji)
        .bind(to_db(user))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn clear_reactions(&self, channel: ChannelId, message: MessageId, emoji: Option<&str>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM reactions WHERE channel_id = $1 AND message_id = $2 AND ($3 IS NULL OR emoji = $3)",
        )
        .bind(to_db(channel))
        .bind(to_db(message))
        .bind(emoji)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn reaction_counts(
        &self,
        channel: ChannelId,
        messages: &[MessageId],
        viewer: UserId,
    ) -> Result<Vec<ReactionCount>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT message_id, emoji, COUNT(*) AS n, MAX(CASE WHEN user_id = $2 THEN 1 ELSE 0 END) AS me,
                    MIN(created_at) AS first
             FROM reactions WHERE channel_id = $1 AND message_id IN ({})
             GROUP BY message_id, emoji ORDER BY message_id, first, emoji",
            placeholders(3, messages.len())
        );
        let mut q = sqlx::query(&sql).bind(to_db(channel)).bind(to_db(viewer));
        for id in messages {
            q = q.bind(to_db(*id));
        }
        q.fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| {
                Ok(ReactionCount {
                    message_id: from_db(r.try_get("message_id")?)?,
                    emoji: r.try_get("emoji")?,
                    count: r.try_get::<i64, _>("n")? as u32,
                    me: r.try_get::<i64, _>("me")? != 0,
                })
            })
            .collect()
    }

    async fn reactors(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let rows = sqlx::query(
            "SELECT user_id FROM reactions WHERE channel_id = $1 AND message_id = $2 AND emoji = $3 AND user_id > $4
             ORDER BY user_id LIMIT $5",
        )
        .bind(to_db(channel))
        .bind(to_db(message))
        .bind(emoji)
        .bind(after.map_or(0, to_db))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| from_db(r.try_get("user_id")?)).collect()
    }

    async fn set_pinned(
        &self,
        channel: ChannelId,
        message: MessageId,
        pinned_at: Option<i64>,
        audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE messages SET pinned_at = $3 WHERE channel_id = $1 AND id = $2
               AND ((pinned_at IS NULL) <> ($3 IS NULL))",
        )
        .bind(to_db(channel))
        .bind(to_db(message))
        .bind(pinned_at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            sqlx::query(
                "UPDATE channels SET last_pin_at =
                    (SELECT MAX(pinned_at) FROM messages WHERE channel_id = $1 AND pinned_at IS NOT NULL)
                 WHERE id = $1",
            )
            .bind(to_db(channel))
            .execute(&mut *tx)
            .await?;
            record(&mut *tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn pins(&self, channel: ChannelId) -> Result<Vec<MessageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND pinned_at IS NOT NULL ORDER BY pinned_at DESC, id DESC"
        ))
        .bind(to_db(channel))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(message_row).collect()
    }
}
