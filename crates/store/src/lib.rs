//! Storage: one trait per domain, and the SQL backend that implements them
//! all for SQLite (embedded, the default) and PostgreSQL.
//!
//! Rows here are storage types. They are not the wire JSON: the API maps
//! them onto `model` types at its boundary.

mod applications;
mod audit;
mod auth;
mod automod;
mod channels;
mod commands;
mod expressions;
mod group_commit;
mod guilds;
mod import;
mod invites;
mod leases;
mod members;
mod messages;
mod read_states;
mod relationships;
mod roles;
mod search;
mod search_lane;
mod settings;
mod sql;
mod uploads;
mod users;
mod webhooks;

use model::id::{
    AttachmentMarker, AutoModRuleMarker, ChannelMarker, CommandMarker, EmojiMarker, GuildMarker, Id, MessageMarker,
    RoleMarker, StickerMarker, UserMarker, WebhookMarker,
};

pub use applications::{ApplicationRow, ApplicationStore};
pub use audit::{AuditEntry, AuditQuery, AuditStore};
pub use auth::{AuthStore, BackupCodeRow, EnableMfa, MfaRow, NewSession, SessionRow, ThrottleRow};
pub use automod::{AutoModRuleRow, AutoModStore};
pub use channels::{ChannelPatch, ChannelRow, ChannelStore, OverwriteRow};
pub use commands::{CommandRow, CommandStore, CommandUpsert};
pub use expressions::{EmojiRow, ExpressionStore, StickerItemRow, StickerRow};
pub use guilds::{GuildPatch, GuildRow, GuildStore, MemberRow, NewGuild};
pub use import::MessageImport;
pub use invites::{InviteRow, InviteStore, JoinOutcome};
pub use leases::{Lease, LeaseStore};
pub use members::{BanRow, MemberPatch, MemberStore};
pub use messages::{
    AttachmentRow, EmbedFieldRow, EmbedRow, GuildMentions, HistoryQuery, MessageRow, MessageStore, NewMessage,
    ReactionCount, WebhookAuthor,
};
pub use read_states::{ReadStateRow, ReadStateStore};
pub use relationships::{
    kind as relationship_kind, FriendOutcome, RelationshipChange, RelationshipRow, RelationshipStore,
};
pub use roles::{RolePatch, RoleRow, RoleStore};
pub use search::{words as search_words, SearchIndex, SearchPage, SearchQuery};
pub use search_lane::SearchLimits;
pub use settings::{CustomStatus, SettingsPatch, SettingsRow, SettingsStore};
pub use sql::{Backend, SqlStore};
pub use uploads::{UploadRow, UploadStore};
pub use users::{NewUser, UserPatch, UserRow, UserStore};
pub use webhooks::{WebhookPatch, WebhookRow, WebhookStore};

/// Whether the store can be reached, for readiness probes.
#[async_trait::async_trait]
pub trait HealthStore: Send + Sync {
    /// One round trip to the backend; fails when it cannot be reached.
    async fn ping(&self) -> Result<()>;
}

#[async_trait::async_trait]
impl HealthStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        SqlStore::ping(self).await
    }
}

/// Everything the server stores, as one object the API can hold.
pub trait Store:
    HealthStore
    + UserStore
    + AuthStore
    + ApplicationStore
    + CommandStore
    + GuildStore
    + RoleStore
    + MemberStore
    + ChannelStore
    + MessageStore
    + MessageImport
    + InviteStore
    + AuditStore
    + AutoModStore
    + ExpressionStore
    + RelationshipStore
    + ReadStateStore
    + SettingsStore
    + SearchIndex
    + UploadStore
    + WebhookStore
    + LeaseStore
{
}
impl<T> Store for T where
    T: HealthStore
        + UserStore
        + AuthStore
        + ApplicationStore
        + CommandStore
        + GuildStore
        + RoleStore
        + MemberStore
        + ChannelStore
        + MessageStore
        + MessageImport
        + InviteStore
        + AuditStore
        + AutoModStore
        + ExpressionStore
        + RelationshipStore
        + ReadStateStore
        + SettingsStore
        + SearchIndex
        + UploadStore
        + WebhookStore
        + LeaseStore
{
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string names what was taken.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Backend(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A search ran past its budget (or waited too long for a slot).
    #[error("over its budget")]
    OverBudget,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Typed ids to and from the signed 64-bit integers SQL stores.
pub(crate) fn to_db<M>(id: Id<M>) -> i64 {
    id.get() as i64
}

pub(crate) fn from_db<M>(n: i64) -> Result<Id<M>> {
    u64::try_from(n).ok().and_then(Id::new_checked).ok_or_else(|| StoreError::Corrupt(format!("invalid id {n}")))
}

pub(crate) fn opt_from_db<M>(n: Option<i64>) -> Result<Option<Id<M>>> {
    n.map(from_db).transpose()
}

// Re-exported so callers name ids without depending on the model paths.
pub type UserId = Id<UserMarker>;
pub type GuildId = Id<GuildMarker>;
pub type ChannelId = Id<ChannelMarker>;
pub type MessageId = Id<MessageMarker>;
pub type RoleId = Id<RoleMarker>;
pub type AutoModRuleId = Id<AutoModRuleMarker>;
pub type EmojiId = Id<EmojiMarker>;
pub type StickerId = Id<StickerMarker>;
pub type AttachmentId = Id<AttachmentMarker>;
pub type CommandId = Id<CommandMarker>;
pub type WebhookId = Id<WebhookMarker>;
