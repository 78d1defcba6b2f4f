//! Discord-compatible wire types and typed ids.
//!
//! This crate is the shared vocabulary of FussionCord: what goes over the
//! HTTP API and the gateway. It knows nothing about storage, HTTP or async
//! runtimes; it depends on serde alone.

pub mod application;
pub mod audit;
pub mod channel;
pub mod command;
pub mod expression;
pub mod gateway;
pub mod guild;
pub mod id;
pub mod interaction;
pub mod invite;
pub mod locale;
pub mod message;
pub mod permissions;
pub mod snowflake;
pub mod timestamp;
pub mod user;
pub mod voice;
pub mod webhook;

pub use id::Id;
pub use timestamp::Timestamp;

/// Reads an `Option<Option<T>>` field whose `null` means something: absent
/// is `None`, `null` is `Some(None)`. Serde alone reads both as `None`, so a
/// field Discord sends present and `null` would vanish when the value is
/// written again (after crossing a process boundary, say). Use with
/// `#[serde(default, deserialize_with = "model::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
