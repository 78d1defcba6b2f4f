//! Discord's permission computation, once, as pure functions.
//!
//! Everything the API and the gateway ask ("may this member send here?",
//! "may this event go to that session?") is answered from the values below,
//! which the caller loads first. Nothing here does I/O, reads a clock or
//! allocates, so the same answer comes out of every backend and every test.
//!
//! The algorithm is the one in Discord's developer documentation, "Topics →
//! Permissions" (docs/topics/permissions.md in discord/discord-api-docs):
//!
//! * "Permission Overwrites" gives the order — @everyone's guild permissions,
//!   then the member's roles' guild permissions, then @everyone's overwrite
//!   (deny, then allow), then the member's role overwrites (all denies, then
//!   all allows), then the member's own overwrite (deny, then allow) — and the
//!   pseudocode `compute_base_permissions` / `compute_overwrites`, in which the
//!   owner and ADMINISTRATOR get every permission and skip the overwrites.
//! * "Permission Hierarchy": role positions only matter for acting on other
//!   members and roles, never for the overwrites above ("A denies VIEW_CHANNEL
//!   … B allows VIEW_CHANNEL … the user would ultimately be able to view the
//!   channel, regardless of the role positions").
//! * "Implicit Permissions": without VIEW_CHANNEL nothing else in the channel
//!   counts; without SEND_MESSAGES, MENTION_EVERYONE, SEND_TTS_MESSAGES,
//!   ATTACH_FILES and EMBED_LINKS do not count either.
//! * "Permissions For Timed Out Members": "Timed out members will temporarily
//!   lose all permissions except VIEW_CHANNEL and READ_MESSAGE_HISTORY. Owners
//!   and admin users with ADMINISTRATOR permissions are exempt."

use model::id::{GuildMarker, Id, RoleMarker, UserMarker};
use model::permissions::{
    ADMINISTRATOR, ALL, ATTACH_FILES, EMBED_LINKS, MENTION_EVERYONE, READ_MESSAGE_HISTORY, SEND_MESSAGES,
    SEND_TTS_MESSAGES, VIEW_CHANNEL,
};

/// What a timed-out member keeps, in the guild and in every channel.
pub const TIMED_OUT_ALLOWED: u64 = VIEW_CHANNEL | READ_MESSAGE_HISTORY;

/// What goes when SEND_MESSAGES is missing: Discord lists exactly these four.
pub const SEND_MESSAGES_DEPENDENT: u64 = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS;

/// A guild role as far as permissions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub id: Id<RoleMarker>,
    pub permissions: u64,
    pub position: i64,
}

/// Whom a channel overwrite is for. Role and user ids share one number
/// space, so the kind is part of the target: a member overwrite whose id
/// happens to equal a role's id is still a member overwrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverwriteTarget {
    /// `Role(guild id)` is the @everyone overwrite.
    Role(Id<RoleMarker>),
    Member(Id<UserMarker>),
}

/// One entry of a channel's `permission_overwrites`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overwrite {
    pub target: OverwriteTarget,
    pub allow: u64,
    pub deny: u64,
}

/// The member whose permissions are asked for.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub user_id: Id<UserMarker>,
    /// As stored on the member; @everyone need not (and on Discord does not)
    /// appear here.
    pub roles: &'a [Id<RoleMarker>],
    /// `communication_disabled_until` is in the future. The caller reads the
    /// clock so that this crate stays pure.
    pub timed_out: bool,
}

/// The guild the member belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Guild<'a> {
    pub id: Id<GuildMarker>,
    pub owner_id: Id<UserMarker>,
    /// Every role of the guild, @everyone (whose id is the guild's id)
    /// included.
    pub roles: &'a [Role],
}

impl Guild<'_> {
    fn everyone_id(&self) -> Id<RoleMarker> {
        self.id.cast()
    }

    /// The roles that count for `member`: ones it lists that the guild
    /// knows, other than @everyone. A role id the guild does not know (a
    /// deleted role left behind on a member row) grants nothing and brings
    /// no overwrite with it.
    fn has_role(&self, member: &Member, role: Id<RoleMarker>) -> bool {
        role != self.everyone_id() && member.roles.contains(&role) && self.roles.iter().any(|r| r.id == role)
    }
}

/// A member's guild-wide permissions (`compute_base_permissions`), with the
/// timeout applied: what a check outside any channel (KICK_MEMBERS,
/// MANAGE_GUILD, MANAGE_ROLES, ...) should test. Channel-level actions ask
/// [`channel_permissions`]; so does an interaction's `member.permissions`,
/// which Discord documents as including overwrites.
pub fn guild_permissions(guild: &Guild, member: &Member) -> u64 {
    match base_permissions(guild, member) {
        Base::Exempt => ALL,
        Base::Roles(base) if member.timed_out => base & TIMED_OUT_ALLOWED,
        Base::Roles(base) => base,
    }
}

/// A member's permissions in one guild channel whose overwrites are
/// `overwrites` (in any order; several entries for the same target act as
/// one whose allow and deny are their unions).
pub fn channel_permissions(guild: &Guild, member: &Member, overwrites: &[Overwrite]) -> u64 {
    let mut perms = match base_permissions(guild, member) {
        Base::Exempt => return ALL,
        Base::Roles(base) => base,
    };

    let everyone = guild.everyone_id();
    let (allow, deny) = union(overwrites, |t| t == OverwriteTarget::Role(everyone));
    perms = (perms & !deny) | allow;

    // Among the member's roles an allow beats a deny whatever the roles'
    // positions: all denies go first, then all allows.
    let (allow, deny) = union(overwrites, |t| matches!(t, OverwriteTarget::Role(id) if guild.has_role(member, id)));
    perms = (perms & !deny) | allow;

    let (allow, deny) = union(overwrites, |t| t == OverwriteTarget::Member(member.user_id));
    perms = (perms & !deny) | allow;

    // Overwrites may carry undefined bits too.
    perms &= ALL;

    if member.timed_out {
        perms &= TIMED_OUT_ALLOWED;
    }
    if perms & VIEW_CHANNEL == 0 {
        return 0;
    }
    if perms & SEND_MESSAGES == 0 {
        perms &= !SEND_MESSAGES_DEPENDENT;
    }
    perms
}

/// The position of the member's highest role: what Discord compares to
/// decide whom a member may kick, ban or rename and which roles it may
/// grant, edit or move. @everyone (position 0 on Discord) is everyone's
/// floor; the owner is above every role.
pub fn highest_position(guild: &Guild, member: &Member) -> i64 {
    if member.user_id == guild.owner_id {
        return i64::MAX;
    }
    guild
        .roles
        .iter()
        .filter(|r| r.id == guild.everyone_id() || guild.has_role(member, r.id))
        .map(|r| r.position)
        .max()
        .unwrap_or(0)
}

/// Whether `actor` is above `target` in the role hierarchy, as needed to
/// kick, ban, time out or rename them: strictly higher, so equals cannot act
/// on each other, and nobody is above the owner.
pub fn outranks(guild: &Guild, actor: &Member, target: &Member) -> bool {
    target.user_id != guild.owner_id && highest_position(guild, actor) > highest_position(guild, target)
}

/// Whether `role` is below `member`'s highest role, as needed to grant,
/// revoke, edit or move it. The owner may manage every role.
pub fn outranks_role(guild: &Guild, member: &Member, role: &Role) -> bool {
    highest_position(guild, member) > role.position
}

enum Base {
    /// The owner, or ADMINISTRATOR from any role: every permission,
    /// whatever the overwrites and the timeout say.
    Exempt,
    /// @everyone's permissions OR the member's roles'.
    Roles(u64),
}

fn base_permissions(guild: &Guild, member: &Member) -> Base {
    if member.user_id == guild.owner_id {
        return Base::Exempt;
    }
    let everyone = guild.everyone_id();
    let base = guild
        .roles
        .iter()
        .filter(|r| r.id == everyone || guild.has_role(member, r.id))
        .fold(0, |acc, r| acc | r.permissions);
    if base & ADMINISTRATOR != 0 {
        Base::Exempt
    } else {
        // Roles may carry bits Discord does not define; they are not
        // permissions, and nobody may end up with more than the owner has.
        Base::Roles(base & ALL)
    }
}

/// `(allow, deny)` unions of the overwrites whose target matches.
fn union(overwrites: &[Overwrite], matches: impl Fn(OverwriteTarget) -> bool) -> (u64, u64) {
    overwrites.iter().filter(|o| matches(o.target)).fold((0, 0), |(allow, deny), o| (allow | o.allow, deny | o.deny))
}
