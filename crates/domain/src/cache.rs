//! What a request and its permission check read, kept between requests: the
//! user behind each token, each guild's row and roles, each channel's row
//! and overwrites and each member's row. A message create then reads
//! nothing from the store on a warm cache.
//!
//! Entries are dropped by the events that change what they hold (`forget`),
//! with one exception: a channel's `last_message_id` moves with every
//! message, so MESSAGE_CREATE raises it (to the newest id seen, kept apart
//! from the rows, so a row read before a message was stored still answers
//! with that message). The domain calls `forget` for every event it publishes,
//! before the event leaves, so the next request on this node reads the
//! change; and `listen` applies every node's events from the bus, so other
//! nodes catch up as soon as the event reaches them. A member who is not
//! found is never cached, so a join needs no event to be seen.
//!
//! A read from the store that raced a change could put back what the
//! change's event just dropped; so every drop bumps an epoch, and a row
//! read from the store is kept only if no drop happened while it was read.
//!
//! A node of a cluster may read only the traffic of its sessions' guilds
//! (`EventBus::follows`), MESSAGE_CREATE included: it keeps a guild
//! channel's row only while it reads the guild's traffic, in the period
//! of reading it that began before the row was read; other rows are read
//! from the store each time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use events::{Dispatch, Event, EventBus, Kind, Membership};
use store::{
    ChannelId, ChannelRow, GuildId, GuildRow, MemberRow, MessageId, OverwriteRow, RoleRow, Store, UserId, UserRow,
};

use crate::Result;

/// Entries kept of each kind before the cache starts over: a bound on
/// memory, not a working-set size (a cold read costs one statement).
const MAX_ENTRIES: usize = 200_000;

/// A token's session is read from the store again after this long, so a
/// change made without an event (another process on the same database)
/// is seen within it; it is also how often a session's last use is written.
pub const SESSION_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Cache {
    /// By token hash: the session's user and its last use.
    sessions: Mutex<HashMap<String, CachedSession>>,
    guilds: Mutex<HashMap<GuildId, Arc<CachedGuild>>>,
    members: Mutex<HashMap<(GuildId, UserId), MemberRow>>,
    channels: Mutex<Channels>,
    overwrites: Mutex<HashMap<ChannelId, Arc<Vec<OverwriteRow>>>>,
    /// Bumped by every drop.
    epoch: AtomicU64,
    /// The bus `listen` follows: which guilds' traffic this node reads.
    bus: std::sync::OnceLock<Arc<dyn EventBus>>,
}

struct CachedSession {
    user: UserRow,
    last_used: i64,
    read_at: Instant,
}

/// Channel rows, and the newest message seen in each channel since.
#[derive(Default)]
struct Channels {
    /// Each with the period of its guild's traffic it was read in.
    rows: HashMap<ChannelId, (ChannelRow, u64)>,
    newest: HashMap<ChannelId, MessageId>,
}

/// A guild's row and its roles.
pub struct CachedGuild {
    pub guild: GuildRow,
    pub roles: Vec<RoleRow>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value`, read from the store since `epoch`, unless something
    /// was dropped meanwhile (it may be older than that change).
    fn keep<K: std::hash::Hash + Eq, V>(&self, map: &Mutex<HashMap<K, V>>, epoch: u64, key: K, value: V) {
        let mut map = lock(map);
        if self.epoch() != epoch {
            return;
        }
        insert(&mut map, key, value);
    }

    fn dropped(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

impl Channels {
    /// A row, if kept in the period `period` says its guild is in now.
    fn row(&self, id: ChannelId, period: impl Fn(Option<GuildId>) -> Option<u64>) -> Option<ChannelRow> {
        let (row, read_in) = self.rows.get(&id)?;
        (period(row.guild_id) == Some(*read_in)).then(|| self.newest_in(row.clone()))
    }

    /// `row` with the newest message this node has seen in its channel.
    fn newest_in(&self, mut row: ChannelRow) -> ChannelRow {
        if let Some(newest) = self.newest.get(&row.id) {
            row.last_message_id = row.last_message_id.max(Some(*newest));
        }
        row
    }

    fn message(&mut self, channel: ChannelId, id: MessageId) {
        if self.newest.len() >= MAX_ENTRIES {
            // Rows may be older than what is forgotten here.
            self.newest.clear();
            self.rows.clear();
        }
        let newest = self.newest.entry(channel).or_insert(id);
        *newest = (*newest).max(id);
    }
}

fn insert<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl Cache {
    /// The user behind a token's hash and when the session was last used,
    /// as `AuthStore::session_by_token` answers; `None` for no session.
    pub async fn session(&self, store: &dyn Store, token_hash: &str) -> Result<Option<(UserRow, i64)>> {
        if let Some(s) = lock(&self.sessions).get(token_hash).filter(|s| s.read_at.elapsed() < SESSION_TTL) {
            return Ok(Some((s.user.clone(), s.last_used)));
        }
        let epoch = self.epoch();
        let Some((user, last_used)) = store.session_by_token(token_hash).await? else { return Ok(None) };
        let cached = CachedSession { user: user.clone(), last_used, read_at: Instant::now() };
        self.keep(&self.sessions, epoch, token_hash.to_owned(), cached);
        Ok(Some((user, last_used)))
    }

    /// Notes that the session was used (and its use written) at `now`.
    pub fn session_used(&self, token_hash: &str, now: i64) {
        if let Some(s) = lock(&self.sessions).get_mut(token_hash) {
            s.last_used = s.last_used.max(now);
        }
    }

    /// A channel's row (its `last_message_id` the newest this node has
    /// seen); `None` when it does not exist.
    pub async fn channel(&self, store: &dyn Store, id: ChannelId) -> Result<Option<ChannelRow>> {
        if let Some(row) = lock(&self.channels).row(id, |g| self.period(g)) {
            return Ok(Some(row));
        }
        let (epoch, mark) = (self.epoch(), self.bus.get().map_or(0, |b| b.interest_mark()));
        let Some(row) = store.channel(id).await? else { return Ok(None) };
        // Kept if this node read the guild's traffic since before the read.
        let period = self.period(row.guild_id).filter(|p| *p <= mark);
        let mut channels = lock(&self.channels);
        if let Some(period) = period.filter(|_| self.epoch() == epoch) {
            if channels.rows.len() >= MAX_ENTRIES {
                channels.rows.clear();
            }
            channels.rows.insert(id, (row.clone(), period));
        }
        Ok(Some(channels.newest_in(row)))
    }

    /// The period in which this node reads the traffic of a channel's
    /// guild (0 for a channel outside guilds, whose events every node
    /// reads); `None` while it does not.
    fn period(&self, guild: Option<GuildId>) -> Option<u64> {
        match (guild, self.bus.get()) {
            (Some(g), Some(bus)) => bus.follows(g),
            _ => Some(0),
        }
    }

    /// The guild and its roles; `None` when it does not exist.
    pub async fn guild(&self, store: &dyn Store, id: GuildId) -> Result<Option<Arc<CachedGuild>>> {
        if let Some(g) = lock(&self.guilds).get(&id) {
            return Ok(Some(g.clone()));
        }
        let epoch = self.epoch();
        let Some(guild) = store.guild(id).await? else { return Ok(None) };
        let roles = store.roles(id).await?;
        let cached = Arc::new(CachedGuild { guild, roles });
        self.keep(&self.guilds, epoch, id, cached.clone());
        Ok(Some(cached))
    }

    /// `user`'s member row in `guild`; `None` when they are not a member.
    pub async fn member(&self, store: &dyn Store, guild: GuildId, user: UserId) -> Result<Option<MemberRow>> {
        if let Some(m) = lock(&self.members).get(&(guild, user)) {
            return Ok(Some(m.clone()));
        }
        let epoch = self.epoch();
        let Some(member) = store.member(guild, user).await? else { return Ok(None) };
        self.keep(&self.members, epoch, (guild, user), member.clone());
        Ok(Some(member))
    }

    /// A guild channel's permission overwrites.
    pub async fn overwrites(&self, store: &dyn Store, channel: ChannelId) -> Result<Arc<Vec<OverwriteRow>>> {
        if let Some(o) = lock(&self.overwrites).get(&channel) {
            return Ok(o.clone());
        }
        let epoch = self.epoch();
        let rows = Arc::new(store.overwrites(channel).await?);
        self.keep(&self.overwrites, epoch, channel, rows.clone());
        Ok(rows)
    }

    /// Drops what `event` may have changed (and raises a channel's last
    /// message with a new one).
    pub fn forget(&self, event: &Event) {
        if let Kind::TokensRevoked(r) = event.kind() {
            self.forget_sessions(r.user);
        }
        match event.membership() {
            Some(Membership::Joined { user, guild } | Membership::Left { user, guild }) => {
                self.forget_member(guild, user);
            }
            Some(Membership::GuildDeleted(guild)) => self.forget_guild(guild),
            None => {}
        }
        let Kind::Dispatch(dispatch) = event.kind() else { return };
        use Dispatch::*;
        match dispatch {
            GuildUpdate(g) => self.forget_guild(g.id),
            GuildDelete(g) => {
                // To one leaver (their membership says so) or to the guild.
                if event.membership().is_none_or(|m| matches!(m, Membership::GuildDeleted(_))) {
                    self.forget_guild(g.id);
                }
            }
            RoleCreate(r) | RoleUpdate(r) => self.forget_guild(r.guild_id),
            RoleDelete(r) => self.forget_guild(r.guild_id),
            MessageCreate(m) => lock(&self.channels).message(m.channel_id, m.id),
            UserUpdate(u) => self.forget_sessions(u.user.id),
            ChannelCreate(c) | ChannelUpdate(c) => self.forget_channel(c.id),
            ChannelPinsUpdate(p) => self.forget_channel(p.channel_id),
            ChannelDelete(c) => {
                self.forget_channel(c.id);
                // Deleting a guild's system or AFK channel clears it from
                // the guild's row, in the store, without a GUILD_UPDATE.
                if let Some(guild) = c.guild_id {
                    self.forget_guild(guild);
                }
            }
            MemberAdd(m) | MemberUpdate(m) => {
                if let Some(user) = &m.member.user {
                    self.forget_member(m.guild_id, user.id);
                }
            }
            MemberRemove(u) | BanAdd(u) => self.forget_member(u.guild_id, u.user.id),
            _ => {}
        }
    }

    /// Drops a guild's row and roles, its members' rows and its channels'
    /// rows (deleting a category changes its channels without an event of
    /// theirs).
    pub fn forget_guild(&self, guild: GuildId) {
        self.dropped();
        lock(&self.guilds).remove(&guild);
        lock(&self.members).retain(|(g, _), _| *g != guild);
        lock(&self.channels).rows.retain(|_, (c, _)| c.guild_id != Some(guild));
    }

    pub fn forget_channel(&self, channel: ChannelId) {
        self.dropped();
        lock(&self.channels).rows.remove(&channel);
        lock(&self.overwrites).remove(&channel);
    }

    /// Drops every session of `user`'s: their tokens were revoked, or their
    /// row (name, password, two-factor) changed.
    pub fn forget_sessions(&self, user: UserId) {
        self.dropped();
        lock(&self.sessions).retain(|_, s| s.user.id != user);
    }

    pub fn forget_member(&self, guild: GuildId, user: UserId) {
        self.dropped();
        lock(&self.members).remove(&(guild, user));
    }

    /// Applies every node's events as they arrive from the bus.
    pub fn listen(self: &Arc<Self>, bus: &Arc<dyn EventBus>) {
        let _ = self.bus.set(bus.clone());
        let mut sub = bus.subscribe();
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(event) = sub.recv().await {
                let Some(cache) = this.upgrade() else { break };
                cache.forget(&event);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use events::dispatch::{GuildRoleDelete, GuildUser};
    use events::Audience;
    use model::user::User;

    use super::*;

    fn id<T>(n: u64) -> model::Id<T> {
        model::Id::new_checked(n).unwrap()
    }

    fn member(guild: u64, user: u64) -> MemberRow {
        MemberRow {
            guild_id: id(guild),
            user_id: id(user),
            nick: None,
            roles: Vec::new(),
            joined_at: 0,
            deaf: false,
            mute: false,
            communication_disabled_until: None,
        }
    }

    fn user(n: u64) -> User {
        crate::render::deleted_user(id(n))
    }

    fn filled() -> Cache {
        let cache = Cache::default();
        for (g, u) in [(1, 10), (1, 11), (2, 10)] {
            cache.keep(&cache.members, cache.epoch(), (id(g), id(u)), member(g, u));
        }
        for c in [100, 101] {
            cache.keep(&cache.overwrites, cache.epoch(), id(c), Arc::new(Vec::new()));
        }
        cache
    }

    fn cached_members(cache: &Cache) -> Vec<(u64, u64)> {
        let mut m: Vec<_> = lock(&cache.members).keys().map(|(g, u)| (g.get(), u.get())).collect();
        m.sort();
        m
    }

    #[test]
    fn a_member_leaving_drops_only_their_row_in_that_guild() {
        let cache = filled();
        let left = Dispatch::MemberRemove(GuildUser { guild_id: id(1), user: user(10) });
        cache.forget(&Event::new(left, Audience::Guild(id(1))));
        assert_eq!(cached_members(&cache), [(1, 11), (2, 10)]);
    }

    #[test]
    fn a_role_change_drops_the_guild_and_its_members_rows() {
        let cache = filled();
        let deleted = Dispatch::RoleDelete(GuildRoleDelete { guild_id: id(1), role_id: id(5) });
        cache.forget(&Event::new(deleted, Audience::Guild(id(1))));
        assert_eq!(cached_members(&cache), [(2, 10)]);
        assert_eq!(lock(&cache.overwrites).len(), 2, "channels keep their overwrites");
    }

    #[test]
    fn a_joiner_is_forgotten_by_membership_and_a_message_drops_nothing() {
        let cache = filled();
        let joined = Event::new(Dispatch::UserSettingsUpdate(serde_json::json!({})), Audience::Users(vec![id(11)]))
            .with_membership(Membership::Joined { user: id(11), guild: id(1) });
        cache.forget(&joined);
        assert_eq!(cached_members(&cache), [(1, 10), (2, 10)]);
        let ack = Event::new(Dispatch::UserSettingsUpdate(serde_json::json!({})), Audience::Users(vec![id(10)]));
        cache.forget(&ack);
        assert_eq!(cached_members(&cache), [(1, 10), (2, 10)]);
        cache.forget_channel(id(100));
        assert_eq!(lock(&cache.overwrites).keys().map(|c| c.get()).collect::<Vec<_>>(), [101]);
    }

    #[test]
    fn a_deleted_channel_drops_its_guild_row_too() {
        let cache = filled();
        let channel: model::channel::Channel = serde_json::from_value(serde_json::json!({
            "id": "100", "type": 0, "flags": 0, "guild_id": "1", "name": "general", "position": 0,
            "permission_overwrites": [], "nsfw": false, "parent_id": null, "topic": null,
            "rate_limit_per_user": 0, "last_message_id": null
        }))
        .unwrap();
        cache.forget(&Event::new(Dispatch::ChannelDelete(Box::new(channel)), Audience::Guild(id(1))));
        assert_eq!(cached_members(&cache), [(2, 10)], "the guild's rows go with it");
        assert_eq!(lock(&cache.overwrites).keys().map(|c| c.get()).collect::<Vec<_>>(), [101]);
    }

    #[test]
    fn a_read_that_raced_a_drop_is_not_kept() {
        let cache = Cache::default();
        let before = cache.epoch();
        // A change lands (and drops) while the read is under way.
        cache.forget_member(id(1), id(10));
        cache.keep(&cache.members, before, (id(1), id(10)), member(1, 10));
        assert!(cached_members(&cache).is_empty(), "a row read before the change would be stale");
        cache.keep(&cache.members, cache.epoch(), (id(1), id(10)), member(1, 10));
        assert_eq!(cached_members(&cache), [(1, 10)]);
    }

    fn user_row(n: u64) -> UserRow {
        UserRow {
            id: id(n),
            username: format!("user{n}"),
            email: None,
            password_hash: None,
            global_name: None,
            avatar: None,
            bot: false,
            flags: 0,
            locale: "en-US".into(),
            created_at: 0,
            mfa_enabled: false,
        }
    }

    fn session(cache: &Cache, token: &str, user: u64) {
        let cached = CachedSession { user: user_row(user), last_used: 0, read_at: Instant::now() };
        cache.keep(&cache.sessions, cache.epoch(), token.to_owned(), cached);
    }

    fn cached_tokens(cache: &Cache) -> Vec<String> {
        let mut t: Vec<_> = lock(&cache.sessions).keys().cloned().collect();
        t.sort();
        t
    }

    #[test]
    fn revoked_tokens_and_a_changed_profile_drop_every_session_of_that_user() {
        let cache = Cache::default();
        for (token, user) in [("a1", 10), ("a2", 10), ("b", 11)] {
            session(&cache, token, user);
        }
        // Even the session a revocation spares is read again: the user's
        // row (password, two-factor) changed with it.
        let revoked = Event::tokens_revoked(id(10), events::RevokedTokens::AllBut("a1".into()));
        cache.forget(&revoked);
        assert_eq!(cached_tokens(&cache), ["b"]);
        let profile = crate::render::current_user(&user_row(11));
        cache.forget(&Event::new(Dispatch::UserUpdate(Box::new(profile)), Audience::Users(vec![id(11)])));
        assert!(cached_tokens(&cache).is_empty());
    }

    fn channel_row(n: u64, last: Option<u64>) -> ChannelRow {
        ChannelRow {
            id: id(n),
            kind: 0,
            guild_id: Some(id(1)),
            name: Some("general".into()),
            position: 0,
            parent_id: None,
            topic: None,
            nsfw: false,
            rate_limit_per_user: 0,
            bitrate: 0,
            user_limit: 0,
            last_message_id: last.map(id),
            last_pin_at: None,
        }
    }

    fn message_created(channel: u64, message: u64) -> Event {
        let m: model::message::Message = serde_json::from_value(serde_json::json!({
            "id": message.to_string(), "channel_id": channel.to_string(), "guild_id": "1",
            "author": serde_json::to_value(user(10)).unwrap(), "content": "hi",
            "timestamp": "2026-01-01T00:00:00.000000+00:00", "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "components": [],
            "pinned": false, "type": 0, "flags": 0
        }))
        .unwrap();
        Event::new(Dispatch::MessageCreate(Box::new(m)), Audience::channel(id(1), id(channel)))
    }

    #[test]
    fn a_new_message_moves_the_last_message_of_a_cached_channel_even_one_read_before_it() {
        let cache = Cache::default();
        lock(&cache.channels).rows.insert(id(100), (channel_row(100, Some(400)), 0));
        cache.forget(&message_created(100, 500));
        assert_eq!(lock(&cache.channels).row(id(100), |_| Some(0)).unwrap().last_message_id, Some(id(500)));
        // A read that started before the message was stored puts back the
        // older row: it still answers with the newer message.
        lock(&cache.channels).rows.insert(id(100), (channel_row(100, Some(400)), 0));
        assert_eq!(lock(&cache.channels).row(id(100), |_| Some(0)).unwrap().last_message_id, Some(id(500)));
        // Never backwards.
        cache.forget(&message_created(100, 450));
        assert_eq!(lock(&cache.channels).row(id(100), |_| Some(0)).unwrap().last_message_id, Some(id(500)));
        // A channel change drops the row; its guild's deletion drops them all.
        lock(&cache.channels).rows.insert(id(101), (channel_row(101, None), 0));
        cache.forget_channel(id(100));
        assert!(lock(&cache.channels).row(id(100), |_| Some(0)).is_none());
        cache.forget_guild(id(1));
        assert!(lock(&cache.channels).rows.is_empty());
    }
}
