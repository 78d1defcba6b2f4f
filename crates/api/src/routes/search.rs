//! Message search in a guild or in one channel, with Discord's parameters
//! and answer: `{total_results, messages: [[message], …], analytics_id}`,
//! newest first. Only channels the caller may read are searched; the
//! full-text work is the store's (`store::SearchIndex`).

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use model::channel::ChannelType;
use model::permissions::{READ_MESSAGE_HISTORY, VIEW_CHANNEL};
use model::Id;
use store::{ChannelId, MessageId, MessageRow, SearchQuery};

use crate::extract::{path_id, Authed, Path};
use crate::ApiState;
use crate::{ApiError, ApiResult, FormErrors};
use domain::{access, render};

const MAX_CONTENT: usize = 1024;
/// Distinct words a search may ask for: every word is one more index
/// lookup, and repeats are dropped before counting (`a a a …` is one
/// word). Their length is bounded by `MAX_CONTENT`; a long word costs one
/// lookup like a short one.
const MAX_WORDS: usize = 16;
const MAX_LIMIT: u32 = 25;
const MAX_OFFSET: u32 = 9975;
/// What a search needs in each channel it reads.
const READ: u64 = VIEW_CHANNEL | READ_MESSAGE_HISTORY;

/// The parameters as read from the query string, before the channels to
/// search are known.
struct Params {
    query: SearchQuery,
    channels: Vec<ChannelId>,
    include_nsfw: bool,
    /// A filter nothing we store can satisfy (`has=file`: we keep no files).
    impossible: bool,
}

/// Reads Discord's search parameters. List parameters repeat (`author_id=1&
/// author_id=2`); `before`/`after` are accepted for `max_id`/`min_id`.
/// Unknown parameters are ignored, as Discord does.
fn parse(raw: Option<&str>) -> ApiResult<Params> {
    let mut errors = FormErrors::default();
    let mut p = Params {
        query: SearchQuery { limit: MAX_LIMIT, ..SearchQuery::default() },
        channels: Vec::new(),
        include_nsfw: false,
        impossible: false,
    };
    let (mut kinds_wanted, mut kinds_refused): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let (mut has, mut has_not): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let raw = crate::extract::without_nul(raw.unwrap_or(""));
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let (key, value) = (key.as_ref(), value.as_ref());
        match key {
            "content" => {
                let words = store::search_words(value);
                if value.chars().count() > MAX_CONTENT {
                    errors.add("content", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_CONTENT} or fewer in length."));
                } else if words.len() > MAX_WORDS {
                    errors.add("content", "BASE_TYPE_MAX_LENGTH", format!("Must be {MAX_WORDS} or fewer words."));
                } else if words.is_empty() && !value.trim().is_empty() {
                    // Punctuation alone (`?`) holds no word to find.
                    p.impossible = true;
                } else {
                    p.query.words = words;
                }
            }
            "author_id" => push_id(&mut errors, "author_id", value, &mut p.query.authors),
            "mentions" => push_id(&mut errors, "mentions", value, &mut p.query.mentions),
            "mentions_role_id" => push_id(&mut errors, "mentions_role_id", value, &mut p.query.mention_roles),
            "channel_id" => push_id(&mut errors, "channel_id", value, &mut p.channels),
            "author_type" => match choice(&mut errors, "author_type", value, &AUTHOR_TYPES) {
                Some((true, kind)) => kinds_refused.push(kind),
                Some((false, kind)) => kinds_wanted.push(kind),
                None => {}
            },
            "has" => match choice(&mut errors, "has", value, &HAS) {
                Some((true, what)) => has_not.push(what),
                Some((false, what)) => has.push(what),
                None => {}
            },
            "min_id" | "after" => {
                if let Some(id) = snowflake(&mut errors, key, value) {
                    p.query.min_id = p.query.min_id.max(MessageId::new_checked(id));
                }
            }
            "max_id" | "before" => {
                // Below 0 is nowhere: refused, like `before=0` in history.
                match snowflake(&mut errors, key, value).map(MessageId::new_checked) {
                    Some(Some(id)) => p.query.max_id = Some(p.query.max_id.map_or(id, |m| m.min(id))),
                    Some(None) => errors.add(key, "NUMBER_TYPE_COERCE", "Value is not snowflake."),
                    None => {}
                }
            }
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => p.query.limit = n,
                Ok(_) => errors.add("limit", "NUMBER_TYPE_MAX", format!("Must be between 1 and {MAX_LIMIT}.")),
                Err(_) => errors.add("limit", "NUMBER_TYPE_COERCE", "Value is not a valid number in range."),
            },
            "offset" => match value.parse::<u32>() {
                Ok(n) if n <= MAX_OFFSET => p.query.offset = n,
                Ok(_) => errors.add("offset", "NUMBER_TYPE_MAX", format!("Must be between 0 and {MAX_OFFSET}.")),
                Err(_) => errors.add("offset", "NUMBER_TYPE_COERCE", "Value is not a valid number in range."),
            },
            // Hits are ordered by time either way: we rank no relevance.
            "sort_by" if !matches!(value, "timestamp" | "relevance") => {
                errors.add("sort_by", "BASE_TYPE_CHOICES", "Value must be one of ('timestamp', 'relevance').");
            }
            "sort_order" => match value {
                "desc" => p.query.oldest_first = false,
                "asc" => p.query.oldest_first = true,
                _ => errors.add("sort_order", "BASE_TYPE_CHOICES", "Value must be one of ('asc', 'desc')."),
            },
            "mention_everyone" => p.query.mention_everyone = boolean(&mut errors, "mention_everyone", value),
            "pinned" => p.query.pinned = boolean(&mut errors, "pinned", value),
            "include_nsfw" => p.include_nsfw = boolean(&mut errors, "include_nsfw", value).unwrap_or(false),
            _ => {}
        }
    }
    for (name, len, max) in [
        ("author_id", p.query.authors.len(), 100),
        ("mentions", p.query.mentions.len(), 100),
        ("mentions_role_id", p.query.mention_roles.len(), 100),
        ("channel_id", p.channels.len(), 500),
    ] {
        if len > max {
            errors.add(name, "BASE_TYPE_MAX_LENGTH", format!("Must be {max} or fewer in length."));
        }
    }
    errors.finish()?;

    // Authors are people or bots; a webhook's messages count as a bot's.
    let kind_allowed = |k: &str| (kinds_wanted.is_empty() || kinds_wanted.contains(&k)) && !kinds_refused.contains(&k);
    p.query.author_is_bot = match (kind_allowed("user"), kind_allowed("bot")) {
        (true, true) => None,
        (false, true) => Some(true),
        (true, false) => Some(false),
        (false, false) => {
            p.impossible = true;
            None
        }
    };
    // A link is the one thing in HAS our messages can hold: asking for any
    // other finds nothing, refusing one changes nothing.
    if has.iter().any(|h| *h != "link") {
        p.impossible = true;
    }
    let (link, no_link) = (has.contains(&"link"), has_not.contains(&"link"));
    p.query.has_link = match (link, no_link) {
        (true, true) => {
            p.impossible = true;
            None
        }
        (true, false) => Some(true),
        (false, true) => Some(false),
        (false, false) => None,
    };
    Ok(p)
}

/// Discord's `has` values; each may also be given negated (`-link`).
const HAS: [&str; 9] = ["link", "embed", "file", "image", "video", "sound", "sticker", "poll", "snapshot"];
const AUTHOR_TYPES: [&str; 3] = ["user", "bot", "webhook"];

/// One of `choices`, or one negated with a leading `-`: `(negated, choice)`.
fn choice(errors: &mut FormErrors, name: &str, value: &str, choices: &[&'static str]) -> Option<(bool, &'static str)> {
    let (negated, bare) = value.strip_prefix('-').map_or((false, value), |rest| (true, rest));
    let found = choices.iter().find(|c| **c == bare).map(|c| (negated, *c));
    if found.is_none() {
        let listed: Vec<String> = choices.iter().map(|c| format!("'{c}', '-{c}'")).collect();
        errors.add(name, "BASE_TYPE_CHOICES", format!("Value must be one of {}.", listed.join(", ")));
    }
    found
}

fn snowflake(errors: &mut FormErrors, name: &str, value: &str) -> Option<u64> {
    match value.parse::<u64>() {
        Ok(n) if n <= i64::MAX as u64 && value.bytes().all(|b| b.is_ascii_digit()) => Some(n),
        _ => {
            errors.add(name, "NUMBER_TYPE_COERCE", "Value is not snowflake.");
            None
        }
    }
}

fn push_id<M>(errors: &mut FormErrors, name: &str, value: &str, into: &mut Vec<Id<M>>) {
    match snowflake(errors, name, value).map(Id::new_checked) {
        Some(Some(id)) if !into.contains(&id) => into.push(id),
        Some(Some(_)) | None => {}
        Some(None) => errors.add(name, "NUMBER_TYPE_COERCE", "Value is not snowflake."),
    }
}

fn boolean(errors: &mut FormErrors, name: &str, value: &str) -> Option<bool> {
    match value {
        "true" | "True" | "1" => Some(true),
        "false" | "False" | "0" => Some(false),
        _ => {
            errors.add(name, "BOOLEAN_TYPE_COERCE", "Must be either true or false.");
            None
        }
    }
}

/// `GET /guilds/{guild_id}/messages/search`: every channel of the guild
/// the caller may read, or those of them named by `channel_id`.
#[utoipa::path(
    get, path = "/guilds/{guild_id}/messages/search",
    operation_id = "guild_search", tag = "Messages",
    summary = "Search the messages one may read",
    params(crate::openapi::SearchQuery),
    responses((status = 200, body = crate::openapi::SearchResults)),
)]
pub async fn guild(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let guild = access::guild(&state, &user, path_id("guild_id", &raw)?).await?;
    let mut params = parse(query.as_deref())?;
    let mut overwrites: HashMap<ChannelId, Vec<store::OverwriteRow>> = HashMap::new();
    for (channel, o) in state.store.guild_overwrites(guild.guild.id).await? {
        overwrites.entry(channel).or_default().push(o);
    }
    let channels = state.store.guild_channels(guild.guild.id).await?;
    let readable =
        |c: &store::ChannelRow| guild.in_channel(overwrites.get(&c.id).map_or(&[][..], Vec::as_slice)) & READ == READ;
    // A channel named outright must be one the caller may read, as on
    // Discord; searching the whole guild quietly skips the others.
    for id in &params.channels {
        let channel = channels.iter().find(|c| c.id == *id).ok_or_else(ApiError::unknown_channel)?;
        if !readable(channel) {
            return Err(ApiError::missing_access());
        }
    }
    params.query.channels = channels
        .iter()
        .filter(|c| params.channels.is_empty() || params.channels.contains(&c.id))
        .filter(|c| ChannelType::from_code(c.kind).is_textual() && (params.include_nsfw || !c.nsfw))
        .filter(|c| readable(c))
        .map(|c| c.id)
        .collect();
    // Only channels the caller may read the history of are searched.
    let viewer =
        render::Viewer { id: user.id, all_content: access::may_read_all_content(&state, &user).await?, history: true };
    answer(&state, &viewer, params).await
}

/// `GET /channels/{channel_id}/messages/search`: one channel, a DM or a
/// guild channel the caller may read. People only, as on Discord.
#[utoipa::path(
    get, path = "/channels/{channel_id}/messages/search",
    operation_id = "channel_search", tag = "Messages",
    summary = "Search one channel's messages, a DM's included (people only)",
    params(crate::openapi::SearchQuery),
    responses((status = 200, body = crate::openapi::SearchResults)),
)]
pub async fn channel(
    State(state): State<ApiState>,
    Authed(user): Authed,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    if user.bot {
        return Err(ApiError::bots_forbidden());
    }
    let access = domain::messages::text_channel(&state, &user, path_id("channel_id", &raw)?).await?;
    if !access.has(READ) {
        return Err(ApiError::missing_access());
    }
    let mut params = parse(query.as_deref())?;
    // The path names the channel; `channel_id` has nothing left to choose.
    params.query.channels = vec![access.channel.id];
    answer(&state, &access.viewer(&state, &user).await?, params).await
}

/// Seconds a client is asked to wait when a search was over its budget.
const RETRY_AFTER: u64 = 2;

async fn answer(state: &ApiState, viewer: &render::Viewer, params: Params) -> ApiResult<Response> {
    let page = if params.impossible {
        store::SearchPage { total: 0, messages: Vec::new() }
    } else {
        match state.store.search_messages(&params.query).await {
            Ok(page) => page,
            // Over its time budget, or no slot free in time: Discord's
            // documented answer for a search it cannot serve yet (202,
            // code 110000, `retry_after`), which clients already retry.
            Err(store::StoreError::OverBudget) => {
                let body = json!({
                    "message": "Index not yet available. Try again later",
                    "code": 110000,
                    "documents_indexed": 0,
                    "retry_after": RETRY_AFTER,
                });
                return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(Json(json!({
        "total_results": page.total,
        "messages": render_hits(state, viewer, &page.messages).await?,
        "doing_deep_historical_index": false,
        "analytics_id": format!("{:032x}", rand::random::<u128>()),
    }))
    .into_response())
}

/// Each hit as the messages routes render it, marked `hit`, alone in its
/// list (Discord once sent the messages around each hit there too).
async fn render_hits(state: &ApiState, viewer: &render::Viewer, rows: &[MessageRow]) -> ApiResult<Vec<Value>> {
    let mut by_channel: HashMap<ChannelId, Vec<MessageRow>> = HashMap::new();
    for row in rows {
        by_channel.entry(row.channel_id).or_default().push(row.clone());
    }
    let mut rendered = HashMap::new();
    for (_, rows) in by_channel {
        for message in render::messages(state, viewer, &rows).await? {
            rendered.insert(message.id, message);
        }
    }
    rows.iter()
        .map(|row| {
            let message = rendered.remove(&row.id).ok_or_else(|| ApiError::internal("rendering lost a message"))?;
            let mut value = serde_json::to_value(message).map_err(ApiError::internal)?;
            value["hit"] = json!(true);
            Ok(json!([value]))
        })
        .collect()
}
