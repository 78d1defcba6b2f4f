//! Extractors that turn every kind of bad input into Discord's errors:
//! JSON bodies, query strings, path ids and the `Authorization` header.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

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
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large()
            } else {
                ApiError::invalid_json()
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(bytes).map(Body)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let inner = e.inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(ApiError::invalid_json());
            }
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err(type_error(&path, &inner.to_string()))
        }
    }
}

/// Maps a serde message onto Discord's field error codes.
fn type_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let code = if message.starts_with("missing field") {
        "BASE_TYPE_REQUIRED"
    } else if message.contains("snowflake")
        || message.contains("integer") || message.contains("number") || message.contains("u64") || message.contains("i64") {
        "NUMBER_TYPE_COERCE"
    } else if message.contains("boolean") {
        "BOOLEAN_TYPE_COERCE"
    } else if message.contains("string") {
        "BASE_TYPE_STRING"
    } else {
        "BASE_TYPE_BAD_TYPE"
    };
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        let full = if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
        return ApiError::field(&full, code, "This field is required");
    }
    let mut errors = FormErrors::default();
    errors.add(path, code, message.to_owned());
    errors.into_error()
}

/// Query parameters, with Discord's errors for bad values.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| type_error(&e.path().to_string(), &e.inner().to_string()))
    }
}

/// Parses an id from a path segment, naming the parameter in the error.
pub fn path_id<M>(name: &str, raw: &str) -> Result<Id<M>, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::field(name, "NUMBER_TYPE_COERCE", format!("Value \"{}\" is not snowflake.", truncate(raw))))
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The user behind the `Authorization` header: `Bot <token>` for bots, the
/// bare token for people.
pub struct Authed(pub UserRow);

impl FromRequestParts<ApiState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let raw = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = bearer(raw).ok_or_else(ApiError::unauthorized)?;
        let user = state
            .store
            .user_by_token(&auth::hash_token(token))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        // A bot token must be presented as a bot token, and a user's without
        // the prefix, as Discord insists.
        if user.bot != raw.starts_with("Bot ") {
            return Err(ApiError::unauthorized());
        }
        Ok(Authed(user))
    }
}

/// The token in an `Authorization` value, without its scheme.
pub fn bearer(raw: &str) -> Option<&str> {
    let token = raw.strip_prefix("Bot ").unwrap_or(raw).trim();
    (!token.is_empty() && token.len() <= 256).then_some(token)
}
