//! The `[unfurl]` settings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnfurlConfig {
    /// Whether links in messages get previews at all.
    pub enabled: bool,
    /// Addresses the fetcher may reach although they are not public
    /// (loopback, private, link-local, …): each entry an IP address or a
    /// CIDR block, optionally with a port: `10.1.2.3`, `10.0.0.0/8`,
    /// `127.0.0.1:8080`, `10.0.0.0/8:443`, `::1`, `[::1]:8080`,
    /// `[fd00::]/8:443`. Without a port every port of the block is allowed.
    pub allow: Vec<String>,
    /// Most bytes read of one page (the head is all that is read, up to
    /// this) or of an image's start.
    pub max_bytes: usize,
    /// How long one link may take, every redirect included, in
    /// milliseconds.
    pub timeout_ms: u64,
    /// Redirects followed at most (each one checked like the first URL).
    pub max_redirects: u8,
    /// The `User-Agent` the fetcher sends.
    pub user_agent: String,
    /// Links of one message previewed at most (Discord: 5).
    pub max_links: usize,
    /// Links fetched at once on this server, across all messages.
    pub concurrency: usize,
}

impl Default for UnfurlConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow: Vec::new(),
            max_bytes: 1024 * 1024,
            timeout_ms: 5000,
            max_redirects: 3,
            user_agent: "Mozilla/5.0 (compatible; FussionCord link previews)".into(),
            max_links: 5,
            concurrency: 16,
        }
    }
}
