//! Extractors that turn every kind of bad input into Discord's errors:
//! JSON bodies, query strings, path parameters and the `Authorization`
//! header. No request reaches a handler with input it has not checked.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::strict::Strict;
use crate::ApiState;
use crate::{ApiError, FormErrors};
use model::Id;
use store::UserRow;

/// The caller a token resolved to, looked up once per request: the limiter
/// needs it for the key and the `Authed` extractor reuses it.
#[derive(Clone)]
pub struct Caller(pub Option<std::sync::Arc<Session>>);

/// A JSON body. An empty body reads as `{}`, so routes whose fields are all
/// optional accept no body at all.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ApiState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(bytes).map(Body)
    }
}

/// A JSON array of objects as the body (`PATCH` reorderings).
pub struct ListBody<T>(pub Vec<T>);

impl<T: DeserializeOwned> FromRequest<ApiState> for ListBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        // As for objects, no body reads as `{}` (and so is not a list).
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json_list(bytes).map(ListBody)
    }
}

/// The request body, or Discord's error for one too large or too slow to
/// read. The deadline is for the whole body: a client trickling a byte at
/// a time would otherwise hold its connection for as long as it likes.
async fn body_bytes(req: Request, state: &ApiState) -> Result<Bytes, ApiError> {
    let read = Bytes::from_request(req, state);
    let Ok(read) = tokio::time::timeout(state.config.body_read_timeout, read).await else {
        return Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, 0, "408: Request Timeout"));
    };
    read.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::invalid_json()
        }
    })
}

/// One JSON object, nothing after it, checked field by field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = checked(bytes)?;
    // serde would read an array into a struct by position: refuse it.
    if first_byte(&bytes) != Some(b'{') {
        return Err(dict_error(""));
    }
    typed(&bytes)
}

/// One JSON array of objects, nothing after it.
pub fn parse_json_list<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, ApiError> {
    let bytes = checked(bytes)?;
    if first_byte(&bytes) != Some(b'[') {
        return Err(ApiError::field("", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"));
    }
    // Elements that are not objects fail in [`Strict`] with their index.
    typed(&bytes)
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn dict_error(path: &str) -> ApiError {
    ApiError::field(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
}

/// Deepest nesting a body may have. Discord's deepest bodies (embeds with
/// fields, overwrites in a channel) stay under 6.
pub const MAX_JSON_DEPTH: usize = 32;

/// Most values (array elements and object members) a body may hold. The
/// largest lists Discord takes hold a few hundred items (role positions,
/// bulk bans); the cap bounds what a body of tiny elements (`[1,1,1,…]`)
/// can cost once parsed, whatever type it lands in.
pub const MAX_JSON_VALUES: usize = 10_000;

/// The whole body's syntax (trailing data included) before any field, in
/// passes that allocate nothing per value: UTF-8, depth and value count,
/// then serde_json's own syntax check into [`Valid`]. `\u0000` escapes
/// come back as `\ufffd`: PostgreSQL cannot store NUL, so both backends
/// store U+FFFD instead.
fn checked(bytes: &[u8]) -> Result<Cow<'_, [u8]>, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::invalid_json());
    }
    let scan = scan(bytes);
    // Deeper or larger than any body Discord takes: refused unread, like
    // malformed JSON.
    if scan.deepest > MAX_JSON_DEPTH || scan.values > MAX_JSON_VALUES {
        return Err(ApiError::invalid_json());
    }
    serde_json::from_slice::<Valid>(bytes).map_err(|_| ApiError::invalid_json())?;
    if scan.nul_escapes.is_empty() {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut owned = bytes.to_vec();
    for at in scan.nul_escapes {
        // `u0000` → `ufffd`: the same length, so offsets hold.
        owned[at + 1..at + 5].copy_from_slice(b"fffd");
    }
    Ok(Cow::Owned(owned))
}

/// Any JSON document, read in full (every string unescaped, every number
/// parsed, as building a `serde_json::Value` would) and kept nowhere: the
/// syntax check of a whole body before any of its fields is looked at.
/// `IgnoredAny` would skip strings and numbers without checking their
/// escapes and ranges.
struct Valid;

impl<'de> serde::Deserialize<'de> for Valid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Valid)
    }
}

impl<'de> serde::de::Visitor<'de> for Valid {
    type Value = Valid;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_entry::<Valid, Valid>()?.is_some() {}
        Ok(Valid)
    }
}

/// What one pass over a body's bytes finds outside and inside strings.
#[derive(Debug, Default)]
struct Scan {
    deepest: usize,
    /// Commas and opening brackets outside strings: one per value.
    values: usize,
    /// Offsets of the `u` of each `\u0000` escape inside a string.
    nul_escapes: Vec<usize>,
}

/// Counted before parsing so a hostile body costs one pass over its bytes.
fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                b'u' if escaped => {
                    if bytes.get(i + 1..i + 5) == Some(b"0000") {
                        out.nul_escapes.push(i);
                    }
                    escaped = false;
                }
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                out.deepest = out.deepest.max(depth);
                out.values += 1;
            }
            b',' => out.values += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// Deserializes straight from the bytes into `T`: no `serde_json::Value`
/// in between, so a body costs about its own size. [`Strict`] reads
/// structs from objects only, at every depth.
fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(Strict(&mut de)).map_err(|e| {
        if matches!(e.inner().classify(), Category::Syntax | Category::Eof | Category::Io) {
            return ApiError::invalid_json();
        }
        type_error(&dotted(e.path()), &e.inner().to_string())
    })
}

/// `messages.0.id`, the way Discord nests field errors.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Maps a serde error onto Discord's field error codes. Only what serde
/// *expected* is looked at: the rest quotes the value the client sent.
fn type_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        let full = if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
        return ApiError::field(&full, "BASE_TYPE_REQUIRED", "This field is required");
    }
    let expected = message.rsplit_once("expected ").map_or(message, |(_, e)| e);
    let (code, text) = if message.contains("snowflake") {
        ("NUMBER_TYPE_COERCE", "Value is not snowflake.")
    } else if expected.contains("bool") || message.contains("`true` or `false`") {
        ("BOOLEAN_TYPE_COERCE", "Must be either true or false.")
    } else if ["integer", "number", "i64", "u64", "i32", "u32", "u16", "u8", "f64", "digit"]
        .iter()
        .any(|t| expected.contains(t))
    {
        ("NUMBER_TYPE_COERCE", "Value is not a valid number in range.")
    } else if expected.contains("string") || expected.contains("char") {
        ("BASE_TYPE_STRING", "Must be a string.")
    } else if expected.contains("sequence") {
        ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    } else if expected.contains("struct") || expected.contains("map") {
        ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    } else {
        ("BASE_TYPE_BAD_TYPE", "Invalid value.")
    };
    let mut errors = FormErrors::default();
    errors.add(path, code, text);
    errors.into_error()
}

/// Query parameters, with Discord's errors for bad values.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = without_nul(parts.uri.query().unwrap_or(""));
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let message = e.inner().to_string();
            // serde_urlencoded reports a bad number as the parse error of
            // the number itself ("invalid digit found in string").
            let message = if message.contains("digit")
                || message.contains("empty string")
                || message.contains("too large")
                || message.contains("too small")
            {
                "expected integer".to_owned()
            } else {
                message
            };
            type_error(&dotted(e.path()), &message)
        })
    }
}

/// The query string with every NUL (`%00`) in a name or value turned into
/// U+FFFD, as in bodies and paths: PostgreSQL cannot take NUL in text, and
/// both backends must answer alike. Rebuilt only when there is one.
pub fn without_nul(query: &str) -> Cow<'_, str> {
    let has_nul = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    if !has_nul(query) {
        return Cow::Borrowed(query);
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        out.append_pair(&k.replace('\0', "\u{fffd}"), &v.replace('\0', "\u{fffd}"));
    }
    Cow::Owned(out.finish())
}

/// Path parameters as strings, percent-decoded leniently: bytes that are
/// not UTF-8 (and NUL) become U+FFFD, so each handler's own validation
/// answers with the right Discord error (`50035` for an id, `10006` for an
/// invite code, `10014` for an emoji) instead of the router answering in
/// plain text.
pub struct Path<T>(pub T);

pub trait FromParams: Sized {
    fn from_params(params: Vec<String>) -> Option<Self>;
}

impl FromParams for String {
    fn from_params(params: Vec<String>) -> Option<Self> {
        params.into_iter().next()
    }
}

macro_rules! tuple_params {
    ($($name:ident),+) => {
        impl FromParams for ($($name,)+) {
            fn from_params(params: Vec<String>) -> Option<Self> {
                let mut it = params.into_iter();
                Some(($({ let _: Option<$name> = None; it.next()? },)+))
            }
        }
    };
}
tuple_params!(String, String);
tuple_params!(String, String, String);
tuple_params!(String, String, String, String);

impl<T: FromParams, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found())?;
        let params = raw
            .iter()
            // axum has percent-decoded them already; decoding again would
            // let `%2531` and `1` name the same thing differently.
            .map(|(_, v)| v.replace('\0', "\u{fffd}"))
            .collect();
        T::from_params(params).map(Path).ok_or_else(ApiError::not_found)
    }
}

/// A page size from the query: `default` when absent, refused outside
/// `1..=max` with Discord's error naming `limit`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::field("limit", "NUMBER_TYPE_MAX", format!("Must be between 1 and {max}.")))
    }
}

/// A paging cursor in a query string: a snowflake, or `0` for "from the
/// very start" (discord.py sends `after=0` to page from the oldest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub u64);

impl Cursor {
    /// The id, or `None` for the `0` cursor.
    pub fn id<M>(self) -> Option<Id<M>> {
        Id::new_checked(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse::<u64>() {
            Ok(n) if n <= i64::MAX as u64 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(Cursor(n)),
            _ => Err(serde::de::Error::custom("Value is not snowflake.")),
        }
    }
}

/// Parses an id from a path segment, naming the parameter in the error.
pub fn path_id<M>(name: &str, raw: &str) -> Result<Id<M>, ApiError> {
    raw.parse().map_err(|_| ApiError::field(name, "NUMBER_TYPE_COERCE", "Value is not snowflake."))
}

/// The user behind the `Authorization` header: `Bot <token>` for bots, the
/// bare token for people.
pub struct Authed(pub UserRow);

impl FromRequestParts<ApiState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        Session::from_request_parts(parts, state).await.map(|s| Authed(s.user))
    }
}

/// [`Authed`] with the hash of the token it came with, for routes about
/// the session itself.
#[derive(Clone)]
pub struct Session {
    pub user: UserRow,
    pub token_hash: String,
}

/// A session's last-used time is written at most this often, so that using
/// a token is not a write per request.
const TOUCH_EVERY_MS: i64 = 60_000;

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        // The rate limiter has usually looked the token up already.
        let session = match parts.extensions.get::<Caller>() {
            Some(Caller(session)) => session.as_deref().cloned(),
            None => caller(&parts.headers, state).await?,
        };
        session.ok_or_else(ApiError::unauthorized)
    }
}

/// The session behind the request's `Authorization` header, if it names
/// one. A bot token must be presented as a bot token (`Bot …`), and a
/// person's without the prefix, as Discord insists.
pub async fn caller(headers: &HeaderMap, state: &ApiState) -> Result<Option<Session>, ApiError> {
    let Some(raw) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(token) = bearer(raw) else {
        return Ok(None);
    };
    let token_hash = auth::hash_token(token);
    let Some((user, last_used)) = state.cache.session(state.store.as_ref(), &token_hash).await? else {
        return Ok(None);
    };
    if user.bot != raw.starts_with("Bot ") {
        return Ok(None);
    }
    let now = model::Timestamp::now().unix_ms();
    if now - last_used >= TOUCH_EVERY_MS {
        state.store.touch_session(&token_hash, now).await?;
        state.cache.session_used(&token_hash, now);
    }
    Ok(Some(Session { user, token_hash }))
}

/// The client's `User-Agent`, shortened to what a session list shows.
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let ua = parts
            .headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).replace('\0', "\u{fffd}"))
            .map(|s| s.chars().take(256).collect::<String>())
            .filter(|s| !s.trim().is_empty());
        Ok(UserAgent(ua))
    }
}

/// The token in an `Authorization` value, without its scheme.
pub fn bearer(raw: &str) -> Option<&str> {
    let token = raw.strip_prefix("Bot ").unwrap_or(raw).trim();
    (!token.is_empty() && token.len() <= 256).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        id: u64,
    }

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert_eq!(scan(br#"{"a": [1, {"b": []}]}"#).deepest, 4);
        assert_eq!(scan(br#"{"a": "[[[[{{{{\"[["}"#).deepest, 1);
        assert_eq!(scan(b"[[[[[[[[[[").deepest, 10);
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert!(checked(deep.as_bytes()).is_err());
        let fine = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(checked(fine.as_bytes()).is_ok());
    }

    #[test]
    fn values_are_counted_and_capped() {
        assert_eq!(scan(br#"{"a": [1, 2, {"b": "x,y"}]}"#).values, 5);
        let many = format!("[{}1]", "1,".repeat(MAX_JSON_VALUES));
        assert!(checked(many.as_bytes()).is_err());
        let fine = format!("[{}1]", "1,".repeat(MAX_JSON_VALUES - 2));
        assert!(checked(fine.as_bytes()).is_ok());
    }

    #[test]
    fn nul_escapes_become_replacement_characters() {
        #[derive(serde::Deserialize)]
        struct Text {
            a: String,
        }
        let read = |json: &str| parse_json::<Text>(json.as_bytes()).map(|t| t.a).ok();
        assert_eq!(read(r#"{"a":"x\u0000y"}"#).as_deref(), Some("x\u{fffd}y"));
        // An escaped backslash before `u0000` is a backslash, not NUL.
        assert_eq!(read(r#"{"a":"\\u0000"}"#).as_deref(), Some("\\u0000"));
        assert_eq!(read(r#"{"a":"\\\u0000"}"#).as_deref(), Some("\\\u{fffd}"));
    }

    #[test]
    fn objects_where_objects_are_read_and_lists_where_lists_are() {
        let code = |e: ApiError| e.errors.map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(parse_json_list::<Item>(br#"[{"id":1}]"#).map(|v| v.len()).ok(), Some(1));
        assert!(code(parse_json_list::<Item>(br#"{"id":1}"#).err().unwrap()).contains("LIST_TYPE_CONVERT"));
        // Elements that are themselves arrays are not read by position.
        let nested = parse_json_list::<Item>(br#"[{"id":1},[2]]"#).err().unwrap();
        assert!(code(nested).contains(r#"{"1":{"_errors":[{"code":"DICT_TYPE_CONVERT""#));
        assert!(code(parse_json::<Item>(b"[1]").err().unwrap()).contains("DICT_TYPE_CONVERT"));
        assert_eq!(parse_json::<Item>(br#"{"id":7}"#).map(|i| i.id).ok(), Some(7));
        assert_eq!(parse_json::<Item>(br#"{"id":7} x"#).err().map(|e| e.code), Some(50109));
    }
}
