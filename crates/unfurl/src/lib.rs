//! Link previews: which links of a message get one (`links`), fetching
//! them without reaching what the server must not reach (`fetch`, under the
//! address `Policy` of `address`), and what a page says about itself
//! (`html`). The domain stores what [`Unfurler::previews`] answers as the
//! message's link embeds.

pub mod address;
pub mod config;
pub mod fetch;
pub mod html;
pub mod links;

#[cfg(test)]
mod tests;

use serde::Deserialize;
use tokio::sync::Semaphore;

pub use address::Policy;
pub use config::UnfurlConfig;
pub use fetch::{Failure, Fetcher};
pub use url::Url;

/// Longest URL kept in a preview (Discord's embed URL limit).
const MAX_URL: usize = 2048;
/// Most bytes of an oEmbed document read.
const MAX_OEMBED: usize = 64 * 1024;

/// What Discord calls the embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A page.
    Link,
    /// A page whose `og:type` is `article`.
    Article,
    /// A link straight to an image.
    Image,
}

impl Kind {
    /// Discord's embed `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Link => "link",
            Kind::Article => "article",
            Kind::Image => "image",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// A link's preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub kind: Kind,
    /// The link as the message has it.
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The site's name (`og:site_name`, or oEmbed's `provider_name`).
    pub site_name: Option<String>,
    pub site_url: Option<String>,
    /// oEmbed's `author_name` and `author_url`.
    pub author_name: Option<String>,
    pub author_url: Option<String>,
    /// `theme-color`.
    pub color: Option<u32>,
    /// The page's image shown large (`twitter:card` `summary_large_image`).
    pub image: Option<Image>,
    /// The page's image shown small, or the image a link points at.
    pub thumbnail: Option<Image>,
}

/// Link previews on one server: its settings, its fetcher, and how many
/// links it fetches at once.
pub struct Unfurler {
    config: UnfurlConfig,
    fetcher: Fetcher,
    permits: Semaphore,
}

impl Unfurler {
    /// The previews `config` describes; an `allow` entry that does not
    /// parse is an error naming it.
    pub fn new(config: UnfurlConfig) -> Result<Self, String> {
        let policy = Policy::new(&config.allow)?;
        let permits = Semaphore::new(config.concurrency.max(1));
        Ok(Self { fetcher: Fetcher::new(policy, config.clone()), config, permits })
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled && self.config.max_links > 0
    }

    /// The links of `content` that get previews.
    pub fn links(&self, content: &str) -> Vec<Url> {
        if !self.enabled() {
            return Vec::new();
        }
        links::links(content, self.config.max_links)
    }

    /// The previews of `links`, in their order; links without one (refused,
    /// failed, nothing to show) are left out.
    pub async fn previews(&self, links: &[Url]) -> Vec<Preview> {
        let each = links.iter().map(|link| async move {
            match self.preview(link).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(%link, error = %e, "no link preview");
                    None
                }
            }
        });
        futures::future::join_all(each).await.into_iter().flatten().collect()
    }

    /// One link's preview, within the time limit and a slot of the
    /// server's concurrency.
    pub async fn preview(&self, link: &Url) -> Result<Option<Preview>, Failure> {
        let _permit = self.permits.acquire().await.map_err(|_| Failure::Failed("closed".into()))?;
        match tokio::time::timeout(self.fetcher.timeout(), self.unfurl(link)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Failed(format!("no preview within {:?}", self.fetcher.timeout()))),
        }
    }

    async fn unfurl(&self, link: &Url) -> Result<Option<Preview>, Failure> {
        let fetched = self
            .fetcher
            .get(link, "text/html,application/xhtml+xml,image/*;q=0.8", |t| match t {
                "text/html" | "application/xhtml+xml" => Some(fetch::Read::Head),
                t if t.starts_with("image/") => Some(fetch::Read::ImageHeader),
                _ => None,
            })
            .await?;
        if fetched.content_type.starts_with("image/") {
            let size = imagesize::blob_size(&fetched.body).ok();
            let image = Image {
                url: link.to_string(),
                width: size.map(|s| s.width as u32),
                height: size.map(|s| s.height as u32),
            };
            return Ok(Some(Preview {
                kind: Kind::Image,
                url: link.to_string(),
                title: None,
                description: None,
                site_name: None,
                site_url: None,
                author_name: None,
                author_url: None,
                color: None,
                image: None,
                thumbnail: Some(image),
            }));
        }
        let meta = html::parse(&String::from_utf8_lossy(&fetched.body));
        let page = fetched.url;
        let oembed = match meta.oembed.as_deref().and_then(|href| page.join(href).ok()) {
            Some(url) if meta.title.is_none() || meta.site_name.is_none() => self.oembed(&url).await,
            _ => None,
        }
        .unwrap_or_default();
        let image_url = meta.image.as_deref().and_then(|u| web_url(&page, u));
        let image =
            image_url.map(|url| Image { url, width: meta.image_width, height: meta.image_height }).or_else(|| {
                oembed.thumbnail_url.as_deref().and_then(|u| web_url(&page, u)).map(|url| Image {
                    url,
                    width: dimension(&oembed.thumbnail_width),
                    height: dimension(&oembed.thumbnail_height),
                })
            });
        let text = |v: Option<String>, max| v.map(|v| clip(&v, max)).filter(|v: &String| !v.is_empty());
        let preview = Preview {
            kind: if meta.kind.as_deref() == Some("article") { Kind::Article } else { Kind::Link },
            url: link.to_string(),
            title: meta.title.or_else(|| text(oembed.title, html::MAX_TITLE)),
            description: meta.description,
            site_name: meta.site_name.or_else(|| text(oembed.provider_name, html::MAX_NAME)),
            site_url: oembed.provider_url.as_deref().and_then(|u| web_url(&page, u)),
            author_name: text(oembed.author_name, html::MAX_NAME),
            author_url: oembed.author_url.as_deref().and_then(|u| web_url(&page, u)),
            color: meta.color,
            image: image.clone().filter(|_| meta.twitter_card.as_deref() == Some("summary_large_image")),
            thumbnail: image.filter(|_| meta.twitter_card.as_deref() != Some("summary_large_image")),
        };
        let shows = preview.title.is_some()
            || preview.description.is_some()
            || preview.image.is_some()
            || preview.thumbnail.is_some();
        Ok(shows.then_some(preview))
    }

    /// The page's oEmbed document, fetched under the same rules; nothing
    /// when it cannot be had.
    async fn oembed(&self, url: &Url) -> Option<OEmbed> {
        let fetched = self
            .fetcher
            .get(url, "application/json", |t| {
                matches!(t, "application/json" | "text/json" | "application/json+oembed").then_some(fetch::Read::Whole)
            })
            .await
            .map_err(|e| tracing::debug!(%url, error = %e, "no oEmbed"))
            .ok()?;
        fetched.body.get(..MAX_OEMBED.min(fetched.body.len())).and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// What an oEmbed document may add.
#[derive(Debug, Default, Deserialize)]
struct OEmbed {
    title: Option<String>,
    author_name: Option<String>,
    author_url: Option<String>,
    provider_name: Option<String>,
    provider_url: Option<String>,
    thumbnail_url: Option<String>,
    /// Numbers, though some providers write them as strings.
    thumbnail_width: Option<serde_json::Value>,
    thumbnail_height: Option<serde_json::Value>,
}

fn dimension(v: &Option<serde_json::Value>) -> Option<u32> {
    match v.as_ref()? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .filter(|n| *n > 0)
}

/// `u` resolved against the page, when it is an http or https URL of
/// acceptable length.
fn web_url(page: &Url, u: &str) -> Option<String> {
    let url = page.join(u.trim()).ok()?;
    let s = url.to_string();
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some() && s.len() <= MAX_URL).then_some(s)
}

fn clip(s: &str, max: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s.chars().take(max).collect()
}
