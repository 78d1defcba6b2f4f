//! The product's operations and rules, whoever asks for them: the HTTP API
//! and the gateway are transports that parse input, call an operation here
//! and write its answer. Operations read and change the store, decide who
//! may do what (`access`), render rows as Discord's wire types (`render`)
//! and announce every change as a typed event (`publish`).

pub mod access;
pub mod audit;
pub mod automod;
pub mod cache;
pub mod channels;
pub mod command_use;
pub mod commands;
pub mod components;
pub mod embeds;
pub mod error;
pub mod expressions;
pub mod files;
pub mod fill;
pub mod guilds;
pub mod interactions;
pub mod invites;
pub mod link_previews;
pub mod members;
pub mod messages;
pub mod names;
pub mod permission_inputs;
pub mod publish;
pub mod reactions;
pub mod relationships;
pub mod render;
pub mod roles;
pub mod service;
pub mod session_start;
pub mod voice;
pub mod webhooks;
pub mod worker_lease;

use std::sync::{Arc, Weak};

use model::snowflake::SnowflakeGenerator;
use store::Store;

pub use error::{Error, FormErrors, Limited, Result};
pub use session_start::SessionStartLimit;

/// What every operation can reach. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Domain {
    pub store: Arc<dyn Store>,
    pub ids: Arc<SnowflakeGenerator>,
    /// Where every change is announced for the gateway.
    pub bus: Arc<dyn events::EventBus>,
    /// This server's metrics.
    pub metrics: Arc<telemetry::Metrics>,
    /// AutoMod: the rule cache, the classifier and the spam windows.
    pub automod: Arc<automod::AutoMod>,
    /// Who is connected now (the gateway's hub): whom `@here` reaches.
    pub presences: Arc<dyn events::Presences>,
    /// What permission checks read, kept between requests.
    pub cache: Arc<cache::Cache>,
    /// Who is in which voice channel.
    pub voice: Arc<voice::VoiceStates>,
    /// Where uploaded files live, and the signer of their URLs.
    pub media: Arc<media::Media>,
    /// Link previews: which links, and the fetcher that may reach them.
    pub unfurl: Arc<unfurl::Unfurler>,
    /// Interactions awaiting or past their first answer, and ephemeral
    /// messages, for their tokens' lifetime.
    pub interactions: Arc<interactions::Interactions>,
}

/// A `Domain` held without keeping it alive: for tasks that follow the bus,
/// which must end when the server stops.
#[derive(Clone)]
pub struct WeakDomain {
    store: Weak<dyn Store>,
    ids: Weak<SnowflakeGenerator>,
    bus: Weak<dyn events::EventBus>,
    metrics: Weak<telemetry::Metrics>,
    automod: Weak<automod::AutoMod>,
    presences: Weak<dyn events::Presences>,
    cache: Weak<cache::Cache>,
    voice: Weak<voice::VoiceStates>,
    media: Weak<media::Media>,
    unfurl: Weak<unfurl::Unfurler>,
    interactions: Weak<interactions::Interactions>,
}

impl Domain {
    pub fn downgrade(&self) -> WeakDomain {
        WeakDomain {
            store: Arc::downgrade(&self.store),
            ids: Arc::downgrade(&self.ids),
            bus: Arc::downgrade(&self.bus),
            metrics: Arc::downgrade(&self.metrics),
            automod: Arc::downgrade(&self.automod),
            presences: Arc::downgrade(&self.presences),
            cache: Arc::downgrade(&self.cache),
            voice: Arc::downgrade(&self.voice),
            media: Arc::downgrade(&self.media),
            unfurl: Arc::downgrade(&self.unfurl),
            interactions: Arc::downgrade(&self.interactions),
        }
    }
}

impl WeakDomain {
    /// The domain, while the server that made it still runs.
    pub fn upgrade(&self) -> Option<Domain> {
        Some(Domain {
            store: self.store.upgrade()?,
            ids: self.ids.upgrade()?,
            bus: self.bus.upgrade()?,
            metrics: self.metrics.upgrade()?,
            automod: self.automod.upgrade()?,
            presences: self.presences.upgrade()?,
            cache: self.cache.upgrade()?,
            voice: self.voice.upgrade()?,
            media: self.media.upgrade()?,
            unfurl: self.unfurl.upgrade()?,
            interactions: self.interactions.upgrade()?,
        })
    }
}
