//! Audit log entries: built next to the change they record and handed to
//! the store, which writes both in one transaction.

use serde_json::{json, Map, Value};

use store::{AuditEntry, GuildId, UserId};

use crate::Domain;

/// Discord's action types.
pub mod action {
    pub const GUILD_UPDATE: u16 = 1;
    pub const CHANNEL_CREATE: u16 = 10;
    pub const CHANNEL_UPDATE: u16 = 11;
    pub const CHANNEL_DELETE: u16 = 12;
    pub const CHANNEL_OVERWRITE_CREATE: u16 = 13;
    pub const CHANNEL_OVERWRITE_UPDATE: u16 = 14;
    pub const CHANNEL_OVERWRITE_DELETE: u16 = 15;
    pub const MEMBER_KICK: u16 = 20;
    pub const MEMBER_BAN_ADD: u16 = 22;
    pub const MEMBER_BAN_REMOVE: u16 = 23;
    pub const MEMBER_UPDATE: u16 = 24;
    pub const MEMBER_ROLE_UPDATE: u16 = 25;
    pub const MEMBER_MOVE: u16 = 26;
    pub const MEMBER_DISCONNECT: u16 = 27;
    pub const BOT_ADD: u16 = 28;
    pub const ROLE_CREATE: u16 = 30;
    pub const ROLE_UPDATE: u16 = 31;
    pub const ROLE_DELETE: u16 = 32;
    pub const INVITE_CREATE: u16 = 40;
    pub const INVITE_DELETE: u16 = 42;
    pub const WEBHOOK_CREATE: u16 = 50;
    pub const WEBHOOK_UPDATE: u16 = 51;
    pub const WEBHOOK_DELETE: u16 = 52;
    pub const EMOJI_CREATE: u16 = 60;
    pub const EMOJI_UPDATE: u16 = 61;
    pub const EMOJI_DELETE: u16 = 62;
    pub const MESSAGE_DELETE: u16 = 72;
    pub const MESSAGE_BULK_DELETE: u16 = 73;
    pub const MESSAGE_PIN: u16 = 74;
    pub const MESSAGE_UNPIN: u16 = 75;
    pub const STICKER_CREATE: u16 = 90;
    pub const STICKER_UPDATE: u16 = 91;
    pub const STICKER_DELETE: u16 = 92;
    pub const AUTO_MODERATION_RULE_CREATE: u16 = 140;
    pub const AUTO_MODERATION_RULE_UPDATE: u16 = 141;
    pub const AUTO_MODERATION_RULE_DELETE: u16 = 142;
    pub const AUTO_MODERATION_BLOCK_MESSAGE: u16 = 143;
    pub const AUTO_MODERATION_FLAG_TO_CHANNEL: u16 = 144;
    pub const AUTO_MODERATION_USER_COMMUNICATION_DISABLED: u16 = 145;
}

/// The reason a moderator gave in `X-Audit-Log-Reason` (URL-encoded, as
/// Discord's clients send it). Kept as one line a log reader can trust:
/// control characters (CR, LF, tab, NUL, …) become spaces, bidirectional
/// controls are dropped, and at most 512 characters (Discord's limit) are
/// kept.
#[derive(Debug, Clone, Default)]
pub struct Reason(pub Option<String>);

/// Discord's limit on an audit log reason, in characters.
pub const MAX_REASON: usize = 512;

impl Reason {
    pub fn parse(raw: &[u8]) -> Option<String> {
        let decoded = percent_encoding::percent_decode(raw).decode_utf8_lossy();
        let clean: String = decoded
            .chars()
            .filter(|c| !crate::names::bidi_control(*c))
            .map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c })
            .collect();
        let reason: String = clean.trim().chars().take(MAX_REASON).collect();
        Some(reason).filter(|r| !r.trim().is_empty())
    }
}

/// `X-Audit-Log-Reason`, read as the handler's argument.
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Reason {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, crate::Error> {
        Ok(Reason(parts.headers.get("x-audit-log-reason").and_then(|v| Reason::parse(v.as_bytes()))))
    }
}

/// The top-level fields that differ between two renderings of an object,
/// as Discord's `changes`: `[{key, old_value, new_value}]`.
pub fn diff(before: &Value, after: &Value) -> Vec<Value> {
    let empty = Map::new();
    let (b, a) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        // `null` and absent are the same value: no change to record.
        .filter(|k| b.get(*k).filter(|v| !v.is_null()) != a.get(*k).filter(|v| !v.is_null()))
        .map(|k| {
            let mut change = json!({ "key": k });
            if let Some(old) = b.get(k).filter(|v| !v.is_null()) {
                change["old_value"] = old.clone();
            }
            if let Some(new) = a.get(k).filter(|v| !v.is_null()) {
                change["new_value"] = new.clone();
            }
            change
        })
        .collect()
}

impl Domain {
    /// GUILD_AUDIT_LOG_ENTRY_CREATE for an entry just written, to those who
    /// may read the guild's log.
    pub async fn announce_audit(&self, guild: &crate::access::GuildAccess, entry: &AuditEntry) -> crate::Result<()> {
        self.audit_logged(guild.guild.id, crate::render::audit_entry(entry));
        Ok(())
    }

    /// An entry with a fresh id, ready to be written with its change.
    pub fn audit_entry(
        &self,
        guild: GuildId,
        actor: UserId,
        action: u16,
        target: Option<u64>,
        changes: Vec<Value>,
        options: Option<Value>,
        reason: &Reason,
    ) -> crate::Result<AuditEntry> {
        let id: store::MessageId = self.ids.next()?;
        Ok(AuditEntry {
            id: id.get(),
            guild_id: guild,
            user_id: Some(actor),
            target_id: target,
            action_type: action,
            changes: (!changes.is_empty()).then(|| Value::Array(changes).to_string()),
            options: options.map(|o| o.to_string()),
            reason: reason.0.clone(),
        })
    }
}
