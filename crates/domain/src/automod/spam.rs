//! Behavioural spam: what no text model sees, because each message alone
//! looks fine. Per user, a short window of their recent messages (when, a hash of the text, how many links and mentions) shows the same
//! text repeated (across channels), floods, links from new accounts, and
//! mention raids spread over several messages.
//!
//! With several nodes the windows must be shared, or a flood spread over
//! them goes unseen: with Redis configured (`ratelimit.backend = "redis"`)
//! they live there ([`SharedSpam`]: one list per guild and user, one
//! round trip per message), judged by the same rules. A Redis that fails
//! a message falls back to this node's own window for it.
//!
//! Memory: a user's window is at most `WINDOW_CAP` entries of 24 bytes plus
//! the map's entry, about 0.6 KiB for a user who has filled it. Users idle
//! for longer than the longest window are evicted as the map is swept, and
//! the map never holds more than `max_tracked_users` (the least recently
//! active are dropped first), so the tracker's memory is bounded by
//! `max_tracked_users × 0.6 KiB` (60 MiB at the default 100,000).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Most entries kept per user: enough for every default limit.
const WINDOW_CAP: usize = 16;
const SHARDS: usize = 16;
/// Sweep a shard of idle users once in this many observations.
const SWEEP_EVERY: u32 = 256;

/// The `[moderation]` settings for behavioural spam.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// How far back repeated text, links and mentions are counted.
    pub window_secs: u64,
    /// The same text this many times in the window (in any channels) is spam.
    pub duplicate_messages: u32,
    /// This many messages within `flood_window_secs` is a flood.
    pub flood_messages: u32,
    pub flood_window_secs: u64,
    /// An account younger than this that posts links in `link_messages`
    /// messages within the window is spamming links.
    pub new_account_secs: u64,
    pub link_messages: u32,
    /// Most users tracked at once (each about 0.6 KiB).
    pub max_tracked_users: usize,
}

impl Default for SpamConfig {
    fn default() -> Self {
        Self {
            window_secs: 30,
            duplicate_messages: 3,
            flood_messages: 10,
            flood_window_secs: 10,
            new_account_secs: 24 * 3600,
            link_messages: 3,
            max_tracked_users: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at_ms: u64,
    text: u64,
    links: u16,
    mentions: u16,
}

#[derive(Debug, Default)]
struct UserWindow {
    entries: VecDeque<Entry>,
    last_ms: u64,
}

#[derive(Default)]
struct Shard {
    /// Per guild and user: what one does in a guild is judged there only.
    users: HashMap<(u64, u64), UserWindow>,
    since_sweep: u32,
}

/// What one message showed about its author's recent behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// Why it is spam, if it is: `duplicate`, `flood` or `links`.
    pub spam: Option<&'static str>,
    /// Unique mentions in this message and the rest of the window.
    pub mentions_in_window: u32,
}

/// One message as the tracker records it.
pub struct Observation<'a> {
    pub guild: u64,
    pub user: u64,
    pub now_ms: u64,
    pub account_created_ms: u64,
    pub content: &'a str,
    pub mentions: u16,
}

pub struct SpamTracker {
    config: SpamConfig,
    shards: Vec<Mutex<Shard>>,
}

impl SpamTracker {
    pub fn new(config: SpamConfig) -> Self {
        Self { config, shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect() }
    }

    fn longest_ms(&self) -> u64 {
        self.config.window_secs.max(self.config.flood_window_secs) * 1000
    }

    /// Records the message and judges it with the ones before it.
    pub fn observe(&self, o: &Observation<'_>) -> Signals {
        let c = &self.config;
        let entry = Entry::of(o);
        let key = (o.guild, o.user);
        let shard = &self.shards[((o.user ^ o.guild) as usize / 7) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let longest = self.longest_ms();
        shard.since_sweep += 1;
        let per_shard = (c.max_tracked_users / SHARDS).max(1);
        if shard.since_sweep >= SWEEP_EVERY || (!shard.users.contains_key(&key) && shard.users.len() >= per_shard) {
            shard.since_sweep = 0;
            shard.users.retain(|_, w| o.now_ms.saturating_sub(w.last_ms) <= longest);
            while shard.users.len() >= per_shard {
                let Some(oldest) = shard.users.iter().min_by_key(|(_, w)| w.last_ms).map(|(u, _)| *u) else { break };
                shard.users.remove(&oldest);
            }
        }
        let window = shard.users.entry(key).or_default();
        window.last_ms = o.now_ms;
        while window.entries.front().is_some_and(|e| o.now_ms.saturating_sub(e.at_ms) > longest) {
            window.entries.pop_front();
        }
        if window.entries.len() == WINDOW_CAP {
            window.entries.pop_front();
        }
        window.entries.push_back(entry);

        judge(c, window.entries.iter().copied(), &entry, o)
    }
}

/// What `window` (the author's recent messages, `new` among them) shows.
fn judge(c: &SpamConfig, window: impl Iterator<Item = Entry> + Clone, new: &Entry, o: &Observation<'_>) -> Signals {
    let recent = |ms: u64| window.clone().filter(move |e| o.now_ms.saturating_sub(e.at_ms) <= ms);
    let span = c.window_secs * 1000;
    // Repeats count in whichever of the guild's channels they were
    // posted: the same text in three channels is the classic raid pattern.
    let duplicates = recent(span).filter(|e| e.text == new.text).count();
    let flood = recent(c.flood_window_secs * 1000).count();
    let new_account = o.now_ms.saturating_sub(o.account_created_ms) < c.new_account_secs * 1000;
    let linking = recent(span).filter(|e| e.links > 0).count();
    let spam = if duplicates >= c.duplicate_messages as usize {
        Some("duplicate")
    } else if flood >= c.flood_messages as usize {
        Some("flood")
    } else if new_account && new.links > 0 && linking >= c.link_messages as usize {
        Some("links")
    } else {
        None
    };
    let mentions_in_window = recent(span).map(|e| u32::from(e.mentions)).sum();
    Signals { spam, mentions_in_window }
}

impl Entry {
    fn of(o: &Observation<'_>) -> Self {
        Entry { at_ms: o.now_ms, text: text_hash(o.content), links: count_links(o.content), mentions: o.mentions }
    }

    /// `at_ms:text:links:mentions`, time first (the shared log trims by it).
    fn encode(&self) -> String {
        format!("{}:{:x}:{}:{}", self.at_ms, self.text, self.links, self.mentions)
    }

    fn decode(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let entry = Entry {
            at_ms: parts.next()?.parse().ok()?,
            text: u64::from_str_radix(parts.next()?, 16).ok()?,
            links: parts.next()?.parse().ok()?,
            mentions: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(entry)
    }
}

/// The spam windows shared by every node through Redis.
pub struct SharedSpam {
    config: SpamConfig,
    log: Arc<dyn ratelimit::RecentLog>,
}

impl SharedSpam {
    pub fn new(config: SpamConfig, log: Arc<dyn ratelimit::RecentLog>) -> Self {
        Self { config, log }
    }

    /// Records the message in the author's shared window and judges it
    /// with the ones before it, from whichever node they came.
    pub async fn observe(&self, o: &Observation<'_>) -> Result<Signals, ratelimit::LimiterError> {
        let c = &self.config;
        let entry = Entry::of(o);
        let key = format!("spam:{}:{}", o.guild, o.user);
        let longest = c.window_secs.max(c.flood_window_secs) * 1000;
        let window = self.log.push(&key, o.now_ms, &entry.encode(), longest, WINDOW_CAP).await?;
        let entries: Vec<Entry> = window.iter().filter_map(|e| Entry::decode(e)).collect();
        Ok(judge(c, entries.iter().copied(), &entry, o))
    }
}

/// Repeats are the same text give or take case and spacing. FNV-1a, our
/// own: every node (and every version) must hash a text alike, since the
/// shared windows compare hashes made on different nodes.
fn text_hash(content: &str) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in content.split_whitespace() {
        for b in word.to_lowercase().bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    h
}

fn count_links(content: &str) -> u16 {
    let lower = content.to_ascii_lowercase();
    let n = lower.matches("http://").count() + lower.matches("https://").count() + lower.matches("discord.gg/").count();
    n.min(u16::MAX as usize) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(user: u64, _channel: u64, now_ms: u64, content: &str) -> Observation<'_> {
        Observation { guild: 1, user, now_ms, account_created_ms: 0, content, mentions: 0 }
    }

    #[test]
    fn guilds_are_judged_apart() {
        let t = SpamTracker::new(SpamConfig::default());
        for guild in 1..=5 {
            let o = Observation {
                guild,
                user: 7,
                now_ms: 1_000_000 + guild,
                account_created_ms: 0,
                content: "hi all",
                mentions: 0,
            };
            assert_eq!(t.observe(&o).spam, None, "guild {guild}");
        }
    }

    #[test]
    fn repeats_floods_and_idle_users() {
        let t = SpamTracker::new(SpamConfig::default());
        assert_eq!(t.observe(&obs(1, 10, 1_000_000, "buy now")).spam, None);
        assert_eq!(t.observe(&obs(1, 11, 1_001_000, "Buy  NOW")).spam, None);
        assert_eq!(t.observe(&obs(1, 12, 1_002_000, "buy now")).spam, Some("duplicate"));
        // Long after, the window has emptied.
        assert_eq!(t.observe(&obs(1, 12, 2_000_000, "buy now")).spam, None);
        for i in 0..9 {
            assert_eq!(t.observe(&obs(2, 10, 3_000_000 + i * 100, &format!("m{i}"))).spam, None);
        }
        assert_eq!(t.observe(&obs(2, 10, 3_001_000, "m10")).spam, Some("flood"));
    }

    #[test]
    fn shared_entries_round_trip_and_garbage_is_ignored() {
        let o = Observation {
            guild: 1,
            user: 2,
            now_ms: 1_700_000,
            account_created_ms: 0,
            content: "hi http://x",
            mentions: 3,
        };
        let e = Entry::of(&o);
        let back = Entry::decode(&e.encode()).expect("decodes");
        assert_eq!((back.at_ms, back.text, back.links, back.mentions), (e.at_ms, e.text, e.links, e.mentions));
        for bad in ["", "1:2:3", "1:zz:0:0", "1:2:3:4:5", "x:1:1:1"] {
            assert!(Entry::decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let t = SpamTracker::new(SpamConfig { max_tracked_users: 64, ..SpamConfig::default() });
        for u in 0..10_000u64 {
            t.observe(&obs(u, 1, 1_000_000, "hello"));
        }
        let held: usize = t.shards.iter().map(|s| s.lock().unwrap().users.len()).sum();
        assert!(held <= 64, "{held} users held");
    }
}
