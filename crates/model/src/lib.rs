//! Discord-compatible wire types and typed ids.
//!
//! This crate is the shared vocabulary of FussionCord: what goes over the
//! HTTP API and the gateway. It knows nothing about storage, HTTP or async
//! runtimes; it depends on serde alone.

pub mod application;
pub mod audit;
pub mod channel;
pub mod gateway;
pub mod guild;
pub mod id;
pub mod invite;
pub mod locale;
pub mod message;
pub mod permissions;
pub mod snowflake;
pub mod timestamp;
pub mod user;

pub use id::Id;
pub use timestamp::Timestamp;
