//! Extractors that turn every kind of bad input into Discord's errors:
//! JSON bodies, query strings, path parameters and the `Authorization`
//! header. No request reaches a handler with input it has not checked.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, FormErrors};
use crate::ApiState;
use model::Id;
use store::UserRow;

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
    let value = parse_value(bytes)?;
    // serde would read an array into a struct by position: refuse it.
    if !value.is_object() {
        return Err(dict_error(""));
    }
    typed(value)
}

/// One JSON array of objects, nothing after it.
pub fn parse_json_list<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, ApiError> {
    let value = parse_value(bytes)?;
    let Some(items) = value.as_array() else {
        return Err(ApiError::field("", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"));
    };
    if let Some(i) = items.iter().position(|item| !item.is_object()) {
        return Err(dict_error(&i.to_string()));
    }
    typed(value)
}

fn dict_error(path: &str) -> ApiError {
    ApiError::field(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
}

/// Deepest nesting a body may have. Discord's deepest bodies (embeds with
/// fields, overwrites in a channel) stay under 6.
pub const MAX_JSON_DEPTH: usize = 32;

/// The whole body's syntax (trailing data included) before any field.
fn parse_value(bytes: &[u8]) -> Result<Value, ApiError> {
    // Deeper than any body Discord takes: refused unread, like malformed JSON.
    if json_depth(bytes) > MAX_JSON_DEPTH {
        return Err(ApiError::invalid_json());
    }
    let mut value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::invalid_json())?;
    replace_nul(&mut value);
    Ok(value)
}

/// How deeply arrays and objects nest in `bytes`, counted before parsing
/// so a hostile body costs one pass over its bytes.
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
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
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| type_error(&dotted(e.path()), &e.inner().to_string()))
}

/// NUL cannot be stored by PostgreSQL; it becomes U+FFFD everywhere so both
/// backends store the same text.
fn replace_nul(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => map.values_mut().for_each(replace_nul),
        _ => {}
    }
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
        let query = parts.uri.query().unwrap_or("");
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
        let session = match parts.extensions.get::<crate::limits::Caller>() {
            Some(crate::limits::Caller(session)) => session.as_deref().cloned(),
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
    let Some((user, last_used)) = state.store.session_by_token(&token_hash).await? else {
        return Ok(None);
    };
    if user.bot != raw.starts_with("Bot ") {
        return Ok(None);
    }
    let now = model::Timestamp::now().unix_ms();
    if now - last_used >= TOUCH_EVERY_MS {
        state.store.touch_session(&token_hash, now).await?;
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
        assert_eq!(json_depth(br#"{"a": [1, {"b": []}]}"#), 4);
        assert_eq!(json_depth(br#"{"a": "[[[[{{{{\"[["}"#), 1);
        assert_eq!(json_depth(b"[[[[[[[[[["), 10);
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert!(parse_value(deep.as_bytes()).is_err());
        let fine = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(parse_value(fine.as_bytes()).is_ok());
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
