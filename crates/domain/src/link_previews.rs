//! Link previews: after a message is sent (or edited so that it has none),
//! the links in its content are unfurled in the background by the server's
//! `unfurl::Unfurler` and stored as the message's link embeds (`type`
//! `link`, `article` or `image`) after its rich ones; the message then goes
//! out again as MESSAGE_UPDATE, as on Discord. Nothing is fetched when the
//! message has SUPPRESS_EMBEDS or its author lacks EMBED_LINKS in the
//! channel, and setting SUPPRESS_EMBEDS later drops the previews
//! (`messages::edit`).

use model::permissions;
use store::{ChannelId, EmbedRow, MessageId, MessageRow, UserRow};

use crate::access::ChannelAccess;
use crate::embeds::MAX_EMBEDS;
use crate::publish::Place;
use crate::render::{self, Viewer};
use crate::{Domain, Error, Result};

/// Discord's SUPPRESS_EMBEDS message flag.
pub const SUPPRESS_EMBEDS: u64 = 1 << 2;

/// Whether `e` is a link preview the server made (not a rich embed its
/// author sent).
pub fn is_preview(e: &EmbedRow) -> bool {
    e.kind.is_some()
}

/// The unfurl `row` gets, if any: previews are on, the message does not
/// suppress them, its author (`access`'s caller) has EMBED_LINKS, it has
/// links, and it has room for another embed. Decided before the answer;
/// started with [`Pending::start`] once the message is announced, so its
/// MESSAGE_UPDATE cannot overtake the message.
pub(crate) fn prepare(ctx: &Domain, access: &ChannelAccess, author: &UserRow, row: &MessageRow) -> Option<Pending> {
    if row.flags & SUPPRESS_EMBEDS != 0 || !access.has(permissions::EMBED_LINKS) {
        return None;
    }
    if row.embeds.iter().filter(|e| !is_preview(e)).count() >= MAX_EMBEDS {
        return None;
    }
    let links = ctx.unfurl.links(&row.content);
    if links.is_empty() {
        return None;
    }
    Some(Pending {
        links,
        job: Job {
            channel: row.channel_id,
            id: row.id,
            edited_at: row.edited_at,
            author: author.clone(),
            place: access.place(),
            member: access.member(),
        },
    })
}

/// An unfurl decided on and not yet started.
pub(crate) struct Pending {
    links: Vec<unfurl::Url>,
    job: Job,
}

impl Pending {
    /// Unfurls the links in a background task, then stores and announces
    /// the previews.
    pub(crate) fn start(self, ctx: &Domain) {
        let (domain, unfurl) = (ctx.downgrade(), ctx.unfurl.clone());
        let Pending { links, job } = self;
        tokio::spawn(async move {
            let previews = unfurl.previews(&links).await;
            if previews.is_empty() {
                return;
            }
            // The server may have stopped meanwhile.
            let Some(ctx) = domain.upgrade() else { return };
            if let Err(e) = job.store(&ctx, previews).await {
                tracing::warn!(error = ?e, "storing link previews failed");
            }
        });
    }
}

/// The message a background unfurl is for, as it was when it started.
struct Job {
    channel: ChannelId,
    id: MessageId,
    edited_at: Option<i64>,
    author: UserRow,
    place: Place,
    member: Option<model::guild::Member>,
}

impl Job {
    /// Stores the previews as the message's link embeds, unless it was
    /// edited, suppressed or deleted since, and announces it.
    async fn store(self, ctx: &Domain, previews: Vec<unfurl::Preview>) -> Result<()> {
        let Some(mut row) = ctx.store.message(self.channel, self.id).await? else { return Ok(()) };
        if row.edited_at != self.edited_at || row.flags & SUPPRESS_EMBEDS != 0 {
            return Ok(());
        }
        row.embeds.retain(|e| !is_preview(e));
        let room = MAX_EMBEDS.saturating_sub(row.embeds.len());
        row.embeds.extend(previews.into_iter().take(room).map(embed_row));
        if !ctx.store.set_embeds(self.channel, self.id, self.edited_at, &row.embeds).await? {
            return Ok(());
        }
        let mut rendered = render::messages(ctx, &Viewer::everything(self.author.id), &[row]).await?;
        let message = rendered.pop().ok_or_else(|| Error::internal("rendering lost a message"))?;
        ctx.message_updated(&self.place, message, self.member);
        Ok(())
    }
}

/// A preview as the embed stored for it.
fn embed_row(p: unfurl::Preview) -> EmbedRow {
    let size = |i: &unfurl::Image| i.width.zip(i.height);
    EmbedRow {
        kind: Some(p.kind.as_str().to_owned()),
        url: Some(p.url),
        title: p.title,
        description: p.description,
        color: p.color,
        provider_name: p.site_name,
        provider_url: p.site_url,
        author_name: p.author_name,
        author_url: p.author_url,
        image_size: p.image.as_ref().and_then(size),
        image_url: p.image.map(|i| i.url),
        thumbnail_size: p.thumbnail.as_ref().and_then(size),
        thumbnail_url: p.thumbnail.map(|i| i.url),
        ..EmbedRow::default()
    }
}
