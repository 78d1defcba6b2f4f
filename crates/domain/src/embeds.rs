//! Rich embeds a message is sent or edited with: Discord's embed object in,
//! checked against Discord's limits, `store::EmbedRow` out. Rendering (and
//! resolving `attachment://` URLs to the message's own files) is in
//! `render`.

use serde::Deserialize;

use model::Timestamp;
use store::{EmbedFieldRow, EmbedRow};

use crate::FormErrors;

/// Most embeds one message may carry.
pub const MAX_EMBEDS: usize = 10;
/// Characters across every embed's title, description, field names and
/// values, footer text and author name.
pub const MAX_TOTAL: usize = 6000;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;
const MAX_FIELDS: usize = 25;
const MAX_FIELD_NAME: usize = 256;
const MAX_FIELD_VALUE: usize = 1024;
const MAX_FOOTER: usize = 2048;
const MAX_AUTHOR: usize = 256;
const MAX_URL: usize = 2048;
const MAX_COLOR: u32 = 0xFF_FF_FF;

/// An embed as a create or edit body carries it. `type`, `video` and
/// `provider` are accepted and ignored: a sent embed is always `rich`, and
/// the others are Discord's own output.
#[derive(Debug, Default, Deserialize)]
pub struct EmbedInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub timestamp: Option<String>,
    pub color: Option<u32>,
    pub footer: Option<FooterInput>,
    pub image: Option<MediaInput>,
    pub thumbnail: Option<MediaInput>,
    pub author: Option<AuthorInput>,
    pub fields: Option<Vec<FieldInput>>,
}

#[derive(Debug, Deserialize)]
pub struct FooterInput {
    pub text: Option<String>,
    pub icon_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MediaInput {
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuthorInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub icon_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FieldInput {
    pub name: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub inline: Option<bool>,
}

/// The embeds of a body: `embeds`, or else the deprecated single `embed`.
/// `None` when the body names neither (an edit then keeps the message's).
pub fn from_body(embeds: Option<Vec<EmbedInput>>, embed: Option<EmbedInput>) -> Option<Vec<EmbedInput>> {
    embeds.or_else(|| embed.map(|e| vec![e]))
}

/// Checks `input` against Discord's limits, each error at its field path
/// (`embeds.0.title`), and answers the embeds to store.
pub fn check(errors: &mut FormErrors, input: Vec<EmbedInput>) -> Vec<EmbedRow> {
    if input.len() > MAX_EMBEDS {
        errors.add("embeds", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_EMBEDS} or fewer in length."));
        return Vec::new();
    }
    let mut total = 0;
    let mut rows = Vec::with_capacity(input.len());
    for (i, e) in input.into_iter().enumerate() {
        let at = |field: &str| format!("embeds.{i}.{field}");
        let mut text =
            |errors: &mut FormErrors, path: String, value: Option<String>, max: usize, required: bool| match value {
                Some(v) if !v.trim().is_empty() => {
                    let n = v.chars().count();
                    if n > max {
                        errors.add(&path, "BASE_TYPE_MAX_LENGTH", format!("Must be {max} or fewer in length."));
                    }
                    total += n;
                    Some(v)
                }
                _ if required => {
                    errors.add(&path, "BASE_TYPE_REQUIRED", "This field is required");
                    None
                }
                _ => None,
            };
        let mut row = EmbedRow {
            title: text(errors, at("title"), e.title, MAX_TITLE, false),
            description: text(errors, at("description"), e.description, MAX_DESCRIPTION, false),
            ..EmbedRow::default()
        };
        if let Some(footer) = e.footer {
            row.footer_text = text(errors, at("footer.text"), footer.text, MAX_FOOTER, true);
            row.footer_icon_url = media_url(errors, at("footer.icon_url"), footer.icon_url);
        }
        if let Some(author) = e.author {
            row.author_name = text(errors, at("author.name"), author.name, MAX_AUTHOR, true);
            row.author_url = web_url(errors, at("author.url"), author.url);
            row.author_icon_url = media_url(errors, at("author.icon_url"), author.icon_url);
        }
        let fields = e.fields.unwrap_or_default();
        if fields.len() > MAX_FIELDS {
            errors.add(&at("fields"), "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_FIELDS} or fewer in length."));
        }
        for (j, f) in fields.into_iter().enumerate() {
            let name = text(errors, at(&format!("fields.{j}.name")), f.name, MAX_FIELD_NAME, true);
            let value = text(errors, at(&format!("fields.{j}.value")), f.value, MAX_FIELD_VALUE, true);
            if let (Some(name), Some(value)) = (name, value) {
                row.fields.push(EmbedFieldRow { name, value, inline: f.inline.unwrap_or(false) });
            }
        }
        row.url = web_url(errors, at("url"), e.url);
        row.image_url = e.image.and_then(|m| media_url(errors, at("image.url"), m.url));
        row.thumbnail_url = e.thumbnail.and_then(|m| media_url(errors, at("thumbnail.url"), m.url));
        row.timestamp = e.timestamp.and_then(|t| match Timestamp::parse(&t) {
            Some(t) => Some(t.unix_ms()),
            None => {
                errors.add(&at("timestamp"), "DATE_TIME_TYPE_PARSE", "Could not parse timestamp. Should be ISO8601.");
                None
            }
        });
        row.color = e.color.filter(|c| {
            let ok = *c <= MAX_COLOR;
            if !ok {
                errors.add(
                    &at("color"),
                    "NUMBER_TYPE_MAX",
                    format!("int value should be less than or equal to {MAX_COLOR}."),
                );
            }
            ok
        });
        // Discord refuses an embed that would show nothing; a link or a
        // colour alone is not something to show.
        let shows = row.title.is_some()
            || row.description.is_some()
            || !row.fields.is_empty()
            || row.image_url.is_some()
            || row.thumbnail_url.is_some()
            || row.author_name.is_some()
            || row.footer_text.is_some();
        if !shows {
            errors.add(
                &format!("embeds.{i}"),
                "EMBED_EMPTY",
                "Embed must have a title, description, field, image, thumbnail, author or footer.",
            );
        }
        rows.push(row);
    }
    if total > MAX_TOTAL {
        errors.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", format!("Embed size exceeds maximum size of {MAX_TOTAL}"));
    }
    rows
}

fn url_ok(url: &str, schemes: &[&str]) -> bool {
    url.chars().count() <= MAX_URL
        && schemes.iter().any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s))
        && !url.chars().any(char::is_whitespace)
}

fn checked_url(errors: &mut FormErrors, path: String, url: Option<String>, schemes: &[&str]) -> Option<String> {
    let url = url.filter(|u| !u.is_empty())?;
    if url_ok(&url, schemes) {
        Some(url)
    } else {
        errors.add(&path, "URL_TYPE_INVALID_URL", "Not a well formed URL.");
        None
    }
}

/// A link: http or https.
fn web_url(errors: &mut FormErrors, path: String, url: Option<String>) -> Option<String> {
    checked_url(errors, path, url, &["http://", "https://"])
}

/// An image: a link, or `attachment://filename` naming one of the
/// message's files.
fn media_url(errors: &mut FormErrors, path: String, url: Option<String>) -> Option<String> {
    checked_url(errors, path, url, &["http://", "https://", "attachment://"])
}
