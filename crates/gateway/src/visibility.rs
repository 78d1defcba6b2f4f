//! The visibility cache: what the gateway knows of each guild its sessions
//! are in — the owner, the roles and their permissions, every channel with
//! its overwrites, and the roles and timeouts of the members connected
//! here — so that it decides with the `permissions` crate, per session,
//! who may receive an event meant for those holding a permission (in a
//! channel or guild-wide), as Discord's gateway does. Publishing names
//! nobody; the hub asks a `GuildView`.
//!
//! A view is read from the store when the first session of the guild
//! identifies here (or a joiner's GUILD_CREATE brings it, then the store
//! completes it), and from then on kept current by the events that change
//! what it holds: GUILD_UPDATE (owner), GUILD_ROLE_*, CHANNEL_* and
//! GUILD_MEMBER_* (roles, timeout).

use std::collections::{HashMap, HashSet};

use events::Dispatch;
use model::channel::{Channel, PermissionOverwrite};
use model::guild::{Member, Role as WireRole};
use model::permissions::{ADMINISTRATOR, READ_MESSAGE_HISTORY, VIEW_CHANNEL};
use permissions::{Overwrite, OverwriteTarget, Role};
use store::{ChannelId, GuildId, RoleId, Store, StoreError, UserId};

/// What a timeout leaves a member: a check asking only for these need not
/// look at anyone's timeout.
const KEPT_WHEN_TIMED_OUT: u64 = VIEW_CHANNEL | READ_MESSAGE_HISTORY;

#[derive(Debug, Clone)]
pub(crate) struct GuildView {
    id: GuildId,
    owner: UserId,
    /// Every role, @everyone (whose id is the guild's) included.
    roles: Vec<Role>,
    channels: HashMap<ChannelId, ChannelView>,
    /// The members with a session here (or being connected).
    members: HashMap<UserId, MemberView>,
    /// Built from a joiner's GUILD_CREATE, which lists only the channels
    /// the joiner may see: complete for deciding what the joiner gets
    /// now, but not yet for channels a later change could reveal. A load
    /// from the store replaces it.
    pub(crate) partial: bool,
}

#[derive(Debug, Clone)]
struct ChannelView {
    /// As CHANNEL_CREATE shows it to someone who gains sight of it.
    channel: Channel,
    overwrites: Vec<Overwrite>,
}

/// A member as permissions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberView {
    roles: Vec<RoleId>,
    /// Unix milliseconds `communication_disabled_until`.
    timed_out_until: Option<i64>,
}

impl MemberView {
    pub(crate) fn of(member: &Member) -> Self {
        Self { roles: member.roles.clone(), timed_out_until: member.communication_disabled_until.map(|t| t.unix_ms()) }
    }

    fn of_row(row: &store::MemberRow) -> Self {
        Self { roles: row.roles.clone(), timed_out_until: row.communication_disabled_until }
    }
}

fn role_of(r: &WireRole) -> Role {
    Role { id: r.id, permissions: r.permissions.parse().unwrap_or(0), position: r.position.into() }
}

fn overwrites_of(wire: &[PermissionOverwrite]) -> Vec<Overwrite> {
    wire.iter()
        .map(|o| {
            let target = match o.kind {
                0 => OverwriteTarget::Role(o.id.cast()),
                _ => OverwriteTarget::Member(o.id.cast()),
            };
            Overwrite { target, allow: o.allow.parse().unwrap_or(0), deny: o.deny.parse().unwrap_or(0) }
        })
        .collect()
}

fn channel_view(channel: Channel) -> ChannelView {
    let overwrites = overwrites_of(channel.permission_overwrites.as_deref().unwrap_or_default());
    ChannelView { channel, overwrites }
}

/// What an event changed in a view, as far as who sees which channel goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing that moves visibility.
    None,
    /// This channel's overwrites may have changed.
    Channel(ChannelId),
    /// These members' sight of any channel may have changed.
    Members(Vec<UserId>),
    /// Anyone's sight of any channel may have changed (a role).
    Everyone,
}

impl GuildView {
    pub(crate) fn new(
        id: GuildId,
        owner: UserId,
        roles: &[WireRole],
        channels: impl IntoIterator<Item = Channel>,
        partial: bool,
    ) -> Self {
        Self {
            id,
            owner,
            roles: roles.iter().map(role_of).collect(),
            channels: channels.into_iter().map(|c| (c.id, channel_view(c))).collect(),
            members: HashMap::new(),
            partial,
        }
    }

    /// Reads a guild's view from the store, with the given members; `None`
    /// when the guild no longer exists.
    pub(crate) async fn load(store: &dyn Store, guild: GuildId, users: &[UserId]) -> Result<Option<Self>, StoreError> {
        let Some(row) = store.guild(guild).await? else { return Ok(None) };
        let roles = store.roles(guild).await?;
        let channels = store.guild_channels(guild).await?;
        let overwrites = store.guild_overwrites(guild).await?;
        let mut view = Self {
            id: guild,
            owner: row.owner_id,
            roles: roles.iter().map(|r| Role { id: r.id, permissions: r.permissions, position: r.position }).collect(),
            channels: channels
                .iter()
                .map(|c| {
                    let own: Vec<_> = overwrites.iter().filter(|(id, _)| *id == c.id).map(|(_, o)| o.clone()).collect();
                    (c.id, channel_view(domain::render::channel(c, &own, None)))
                })
                .collect(),
            members: HashMap::new(),
            partial: false,
        };
        for user in users {
            if let Some(member) = Self::load_member(store, guild, *user).await? {
                view.members.insert(*user, member);
            }
        }
        Ok(Some(view))
    }

    pub(crate) async fn load_member(
        store: &dyn Store,
        guild: GuildId,
        user: UserId,
    ) -> Result<Option<MemberView>, StoreError> {
        Ok(store.member(guild, user).await?.as_ref().map(MemberView::of_row))
    }

    pub(crate) fn has_member(&self, user: UserId) -> bool {
        self.members.contains_key(&user)
    }

    /// Whether any of `users` is among the members it holds.
    pub(crate) fn has_any<V>(&self, users: &HashMap<UserId, V>) -> bool {
        self.members.keys().any(|u| users.contains_key(u))
    }

    pub(crate) fn set_member(&mut self, user: UserId, member: MemberView) {
        self.members.insert(user, member);
    }

    pub(crate) fn forget_member(&mut self, user: UserId) {
        self.members.remove(&user);
    }

    /// Takes over what a fresh load found, keeping members it did not read
    /// (those who connected while it ran).
    pub(crate) fn replace_with(&mut self, mut loaded: GuildView) {
        for (user, member) in self.members.drain() {
            loaded.members.entry(user).or_insert(member);
        }
        *self = loaded;
    }

    pub(crate) fn channel(&self, id: ChannelId) -> Option<&Channel> {
        self.channels.get(&id).map(|c| &c.channel)
    }

    /// The permissions `user` holds in `channel` (its overwrites applied)
    /// or, for `None`, guild-wide; 0 for someone the view does not know,
    /// and in a channel it does not know.
    pub(crate) fn permissions(&self, user: UserId, channel: Option<ChannelId>, now_ms: i64) -> u64 {
        let Some(m) = self.members.get(&user) else { return 0 };
        let guild = permissions::Guild { id: self.id, owner_id: self.owner, roles: &self.roles };
        let member = permissions::Member {
            user_id: user,
            roles: &m.roles,
            timed_out: m.timed_out_until.is_some_and(|t| t > now_ms),
        };
        match channel {
            None => permissions::guild_permissions(&guild, &member),
            Some(id) => match self.channels.get(&id) {
                Some(c) => permissions::channel_permissions(&guild, &member, &c.overwrites),
                None => 0,
            },
        }
    }

    /// Whether every member holds `perms` in `channel` whoever they are:
    /// @everyone has them (or ADMINISTRATOR), no overwrite there denies any
    /// of them, and a timeout would not take them. Answers the common case
    /// without a computation per session.
    pub(crate) fn open_to_all(&self, channel: Option<ChannelId>, perms: u64) -> bool {
        if perms & !KEPT_WHEN_TIMED_OUT != 0 {
            return false;
        }
        let everyone = self.roles.iter().find(|r| r.id.get() == self.id.get()).map_or(0, |r| r.permissions);
        if everyone & ADMINISTRATOR == 0 && everyone & perms != perms {
            return false;
        }
        match channel {
            None => true,
            Some(id) => self
                .channels
                .get(&id)
                .is_some_and(|c| everyone & ADMINISTRATOR != 0 || c.overwrites.iter().all(|o| o.deny & perms == 0)),
        }
    }

    /// The channels `user` may view.
    pub(crate) fn visible(&self, user: UserId, now_ms: i64) -> HashSet<ChannelId> {
        self.channels.keys().copied().filter(|c| self.permissions(user, Some(*c), now_ms) & VIEW_CHANNEL != 0).collect()
    }

    /// Whose sight of channels `dispatch` would move if applied.
    pub(crate) fn would_move(&self, dispatch: &Dispatch) -> Change {
        match dispatch {
            Dispatch::GuildUpdate(g) if g.owner_id != self.owner => Change::Members(vec![self.owner, g.owner_id]),
            Dispatch::RoleCreate(r) | Dispatch::RoleUpdate(r) => {
                let role = role_of(&r.role);
                match self.roles.iter().find(|x| x.id == role.id) {
                    Some(x) if x.permissions != role.permissions => Change::Everyone,
                    // A new role has no holders yet.
                    _ => Change::None,
                }
            }
            Dispatch::RoleDelete(r) if self.roles.iter().any(|x| x.id == r.role_id) => Change::Everyone,
            Dispatch::ChannelUpdate(c) => {
                let overwrites = overwrites_of(c.permission_overwrites.as_deref().unwrap_or_default());
                match self.channels.get(&c.id) {
                    Some(old) if old.overwrites == overwrites => Change::None,
                    _ => Change::Channel(c.id),
                }
            }
            Dispatch::MemberAdd(m) | Dispatch::MemberUpdate(m) => {
                let Some(user) = m.member.user.as_ref().map(|u| u.id) else { return Change::None };
                match self.members.get(&user) {
                    Some(known) if known.roles != m.member.roles => Change::Members(vec![user]),
                    _ => Change::None,
                }
            }
            _ => Change::None,
        }
    }

    /// Applies what `dispatch` changes in this view: before it is
    /// delivered, save a channel's deletion (see `forget_channel`).
    pub(crate) fn apply(&mut self, dispatch: &Dispatch) {
        match dispatch {
            Dispatch::GuildUpdate(g) => self.owner = g.owner_id,
            Dispatch::RoleCreate(r) | Dispatch::RoleUpdate(r) => {
                let role = role_of(&r.role);
                match self.roles.iter_mut().find(|x| x.id == role.id) {
                    Some(x) => *x = role,
                    None => self.roles.push(role),
                }
            }
            Dispatch::RoleDelete(r) => {
                self.roles.retain(|x| x.id != r.role_id);
                for m in self.members.values_mut() {
                    m.roles.retain(|x| *x != r.role_id);
                }
            }
            Dispatch::ChannelCreate(c) | Dispatch::ChannelUpdate(c) => {
                self.channels.insert(c.id, channel_view((**c).clone()));
            }
            Dispatch::MemberAdd(m) | Dispatch::MemberUpdate(m) => {
                let Some(user) = m.member.user.as_ref().map(|u| u.id) else { return };
                if let Some(known) = self.members.get_mut(&user) {
                    *known = MemberView::of(&m.member);
                }
            }
            // What CHANNEL_CREATE later shows of a channel someone gains
            // sight of, kept as current as the channel's own events.
            Dispatch::MessageCreate(m) => {
                if let Some(c) = self.channels.get_mut(&m.channel_id) {
                    if c.channel.last_message_id.is_some() {
                        c.channel.last_message_id = Some(Some(m.id));
                    }
                }
            }
            Dispatch::ChannelPinsUpdate(p) => {
                if let Some(c) = self.channels.get_mut(&p.channel_id) {
                    if c.channel.last_pin_timestamp.is_some() {
                        c.channel.last_pin_timestamp = Some(p.last_pin_timestamp);
                    }
                }
            }
            _ => {}
        }
    }

    /// A deleted channel, once its CHANNEL_DELETE has gone to those who saw it.
    pub(crate) fn forget_channel(&mut self, id: ChannelId) {
        self.channels.remove(&id);
    }
}

/// Whether a dispatch changes what a view of its guild holds (so a load
/// under way may have read the state before it).
pub(crate) fn changes_views(dispatch: &Dispatch) -> bool {
    matches!(
        dispatch,
        Dispatch::GuildUpdate(_)
            | Dispatch::RoleCreate(_)
            | Dispatch::RoleUpdate(_)
            | Dispatch::RoleDelete(_)
            | Dispatch::ChannelCreate(_)
            | Dispatch::ChannelUpdate(_)
            | Dispatch::ChannelDelete(_)
            | Dispatch::MemberAdd(_)
            | Dispatch::MemberUpdate(_)
            | Dispatch::MemberRemove(_)
    )
}
