//! Discord's error format, `{code, message, errors}`, the only thing a
//! failed request ever answers with. Internal failures are logged here and
//! never leak their details.

use std::borrow::Cow;

pub use http::StatusCode;
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub struct Error {
    pub status: StatusCode,
    pub code: u32,
    pub message: Cow<'static, str>,
    pub errors: Option<Value>,
    /// For 429s: how long to wait, and which limit was hit.
    pub limited: Option<Limited>,
}

/// What a 429 says about the limit it hit.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// Seconds until a retry can succeed.
    pub retry_after: f64,
    /// The caller's limit over every route, not one route's.
    pub global: bool,
    /// Discord's `X-RateLimit-Scope`: `user`, `global` or `shared`.
    pub scope: &'static str,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! errors {
    ($($fn:ident => $status:ident, $code:expr, $msg:expr;)*) => {
        impl Error {
            $(pub fn $fn() -> Self { Self::new(StatusCode::$status, $code, $msg) })*
        }
    };
}

errors! {
    unknown_application => NOT_FOUND, 10002, "Unknown Application";
    unknown_channel => NOT_FOUND, 10003, "Unknown Channel";
    unknown_guild => NOT_FOUND, 10004, "Unknown Guild";
    unknown_invite => NOT_FOUND, 10006, "Unknown Invite";
    unknown_member => NOT_FOUND, 10007, "Unknown Member";
    unknown_message => NOT_FOUND, 10008, "Unknown Message";
    unknown_user => NOT_FOUND, 10013, "Unknown User";
    unknown_emoji => BAD_REQUEST, 10014, "Unknown Emoji";
    no_such_emoji => NOT_FOUND, 10014, "Unknown Emoji";
    unknown_sticker => NOT_FOUND, 10060, "Unknown Sticker";
    unknown_webhook => NOT_FOUND, 10015, "Unknown Webhook";
    max_webhooks => BAD_REQUEST, 30007, "Maximum number of webhooks reached (15)";
    invalid_webhook_token => UNAUTHORIZED, 50027, "Invalid Webhook Token";
    unknown_interaction => NOT_FOUND, 10062, "Unknown interaction";
    already_acknowledged => BAD_REQUEST, 40060, "Interaction has already been acknowledged.";
    max_emojis => BAD_REQUEST, 30008, "Maximum number of emojis reached";
    max_animated_emojis => BAD_REQUEST, 30018, "Maximum number of animated emojis reached";
    max_stickers => BAD_REQUEST, 30039, "Maximum number of stickers reached";
    bots_forbidden => FORBIDDEN, 20001, "Bots cannot use this endpoint";
    banned => FORBIDDEN, 40007, "The user is banned from this guild.";
    unknown_role => NOT_FOUND, 10011, "Unknown Role";
    unknown_overwrite => NOT_FOUND, 10009, "Unknown Overwrite";
    unknown_ban => NOT_FOUND, 10026, "Unknown Ban";
    max_reactions => BAD_REQUEST, 30010, "Maximum number of reactions reached (20)";
    max_pins => BAD_REQUEST, 30003, "Maximum number of pins reached (50)";
    unauthorized => UNAUTHORIZED, 40001, "401: Unauthorized";
    too_large => PAYLOAD_TOO_LARGE, 40005, "Request entity too large";
    missing_access => FORBIDDEN, 50001, "Missing Access";
    not_author => FORBIDDEN, 50005, "Cannot edit a message authored by another user";
    empty_message => BAD_REQUEST, 50006, "Cannot send an empty message";
    voice_message_attachment => BAD_REQUEST, 50159, "Voice messages must have a single audio attachment";
    voice_message_metadata => BAD_REQUEST, 50160, "Voice messages must have supporting metadata";
    voice_message_content => BAD_REQUEST, 50161, "Voice messages do not support additional content";
    cannot_dm => BAD_REQUEST, 50007, "Cannot send messages to this user";
    non_text_channel => BAD_REQUEST, 50008, "Cannot send messages in a non-text channel";
    missing_permissions => FORBIDDEN, 50013, "Missing Permissions";
    bulk_delete_count => BAD_REQUEST, 50016, "Provided too few or too many messages to delete. Must provide at least 2 and fewer than 100 messages to delete.";
    wrong_channel_type => BAD_REQUEST, 50024, "Cannot execute action on this channel type";
    bulk_delete_too_old => BAD_REQUEST, 50034, "A message provided was too old to bulk delete";
    invalid_guild => BAD_REQUEST, 50055, "Invalid Guild";
    invalid_json => BAD_REQUEST, 50109, "The request body contains invalid JSON.";
    mfa_already_enabled => BAD_REQUEST, 60001, "Two factor is already enabled for this account";
    mfa_not_enabled => BAD_REQUEST, 60002, "Two factor is disabled for this account";
    invalid_mfa_secret => BAD_REQUEST, 60005, "Invalid two-factor secret";
    invalid_mfa_ticket => BAD_REQUEST, 60006, "Invalid two-factor auth ticket";
    invalid_mfa_code => BAD_REQUEST, 60008, "Invalid two-factor code";
    unknown_voice_state => NOT_FOUND, 10065, "Unknown Voice State";
    not_in_voice => BAD_REQUEST, 40032, "Target user is not connected to voice.";
    automod_blocked => BAD_REQUEST, 200000, "Message was blocked by automatic moderation";
    unknown_automod_rule => NOT_FOUND, 10066, "Unknown auto moderation rule";
    not_found => NOT_FOUND, 0, "404: Not Found";
    method_not_allowed => METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed";
}

impl Error {
    pub fn new(status: StatusCode, code: u32, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, code, message: message.into(), errors: None, limited: None }
    }

    /// Logs the cause and answers a bare 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error")
    }

    /// One field error, as `FormErrors` would make it.
    pub fn field(path: &str, code: &str, message: impl Into<String>) -> Self {
        let mut e = FormErrors::default();
        e.add(path, code, message);
        e.into_error()
    }

    pub fn slowmode(retry_after: f64) -> Self {
        Self {
            limited: Some(Limited { retry_after, global: false, scope: "user" }),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                20016,
                "This action cannot be performed due to slowmode rate limit.",
            )
        }
    }

    /// A rate limit was hit: Discord's `{message, retry_after, global}`.
    pub fn rate_limited(limited: Limited) -> Self {
        Self { limited: Some(limited), ..Self::new(StatusCode::TOO_MANY_REQUESTS, 0, "You are being rate limited.") }
    }
}

/// A node that holds no snowflake worker id (its lease ran out or was
/// taken, `[snowflake]`) cannot create anything until it holds one again:
/// the client may retry, here or on another node.
impl From<model::snowflake::NoWorker> for Error {
    fn from(e: model::snowflake::NoWorker) -> Self {
        tracing::warn!(error = %e, "refusing a request that needs a new id");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, 0, "503: Service Unavailable (no id can be minted here now; retry)")
    }
}

impl From<store::StoreError> for Error {
    fn from(e: store::StoreError) -> Self {
        Self::internal(e)
    }
}

/// Collects field errors into Discord's nested `errors` object:
/// `{"content": {"_errors": [{"code": …, "message": …}]}}`, where a path
/// `a.0.b` nests as `{"a": {"0": {"b": {"_errors": …}}}}`.
#[derive(Debug, Default)]
pub struct FormErrors {
    root: Map<String, Value>,
}

impl FormErrors {
    pub fn add(&mut self, path: &str, code: &str, message: impl Into<String>) {
        let mut node = &mut self.root;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("error tree nodes are objects");
        }
        let list = node.entry("_errors").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({ "code": code, "message": message.into() }));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    pub fn into_error(self) -> Error {
        Error {
            errors: Some(Value::Object(self.root)),
            ..Error::new(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body")
        }
    }

    /// `Ok(())` when nothing was added.
    pub fn finish(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

/// Discord's error format as an HTTP answer.
#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue};
        let mut body = json!({ "message": self.message, "code": self.code });
        if let Some(errors) = self.errors {
            body["errors"] = errors;
        }
        if let Some(limited) = self.limited {
            // Rounded to milliseconds, as Discord sends it.
            body["retry_after"] = json!((limited.retry_after * 1000.0).ceil() / 1000.0);
            body["global"] = json!(limited.global);
        }
        let mut res = (self.status, body.to_string()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(limited) = self.limited {
            // discord.py treats a 429 without `Via` as a Cloudflare ban.
            h.insert(header::VIA, HeaderValue::from_static("1.1 fussioncord"));
            h.insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after.ceil() as u64));
            h.insert("x-ratelimit-scope", HeaderValue::from_static(limited.scope));
            if limited.global {
                h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
            }
        }
        res
    }
}
