//! What a permission check reads, kept between requests: each guild's row
//! and roles, each channel's overwrites and each member's row. A message
//! create then reads nothing of these from the store on a warm cache.
//!
//! Entries are dropped, never patched, by the events that change what they
//! hold (`forget`): the domain calls it for every event it publishes,
//! before the event leaves, so the next request on this node reads the
//! change; and `listen` applies every node's events from the bus, so other
//! nodes catch up as soon as the event reaches them. A member who is not
//! found is never cached, so a join needs no event to be seen.
//!
//! A read from the store that raced a change could put back what the
//! change's event just dropped; so every drop bumps an epoch, and a row
//! read from the store is kept only if no drop happened while it was read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use events::{Dispatch, Event, Kind, Membership};
use store::{ChannelId, GuildId, GuildRow, MemberRow, OverwriteRow, RoleRow, Store, UserId};

use crate::Result;

/// Entries kept of each kind before the cache starts over: a bound on
/// memory, not a working-set size (a cold read costs one statement).
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub struct Cache {
    guilds: Mutex<HashMap<GuildId, Arc<CachedGuild>>>,
    members: Mutex<HashMap<(GuildId, UserId), MemberRow>>,
    overwrites: Mutex<HashMap<ChannelId, Arc<Vec<OverwriteRow>>>>,
    /// Bumped by every drop.
    epoch: AtomicU64,
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

fn insert<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl Cache {
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

    /// Drops what `event` may have changed.
    pub fn forget(&self, event: &Event) {
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
            ChannelCreate(c) | ChannelUpdate(c) => self.forget_channel(c.id),
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

    /// Drops a guild's row and roles, and its members' rows.
    pub fn forget_guild(&self, guild: GuildId) {
        self.dropped();
        lock(&self.guilds).remove(&guild);
        lock(&self.members).retain(|(g, _), _| *g != guild);
    }

    pub fn forget_channel(&self, channel: ChannelId) {
        self.dropped();
        lock(&self.overwrites).remove(&channel);
    }

    pub fn forget_member(&self, guild: GuildId, user: UserId) {
        self.dropped();
        lock(&self.members).remove(&(guild, user));
    }

    /// Applies every node's events as they arrive from the bus.
    pub fn listen(self: &Arc<Self>, bus: &dyn events::EventBus) {
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
}
