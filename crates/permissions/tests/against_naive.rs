//! The crate against a second, deliberately naive reading of Discord's
//! documentation: one permission bit at a time, walking the documented steps
//! in order, over random guilds, members and overwrites.
//!
//! Ids are drawn from a handful of small numbers so that they collide:
//! roles with the guild's id (@everyone), member overwrites with role ids,
//! owners with the member, overwrites for roles nobody has.

use model::id::Id;
use model::permissions::*;
use permissions::{channel_permissions, guild_permissions, Guild, Member, Overwrite, OverwriteTarget, Role};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Target {
    Everyone,
    Role(u64),
    Me,
    Member(u64),
}

#[derive(Debug, Clone)]
struct Scenario {
    guild: u64,
    owner: u64,
    me: u64,
    /// (id, permissions, position); ids may repeat.
    roles: Vec<(u64, u64, i64)>,
    member_roles: Vec<u64>,
    timed_out: bool,
    /// (target, allow, deny); allow and deny may overlap.
    overwrites: Vec<(Target, u64, u64)>,
}

impl Scenario {
    fn target(&self, target: Target) -> OverwriteTarget {
        match target {
            Target::Everyone => OverwriteTarget::Role(Id::new(self.guild)),
            Target::Role(id) => OverwriteTarget::Role(Id::new(id)),
            Target::Me => OverwriteTarget::Member(Id::new(self.me)),
            Target::Member(id) => OverwriteTarget::Member(Id::new(id)),
        }
    }
}

const SMALL_ID: std::ops::RangeInclusive<u64> = 1..=8;

/// The bits the rules single out, so that sparse sets hit them often.
const NOTABLE: [u64; 9] = [
    ADMINISTRATOR,
    VIEW_CHANNEL,
    SEND_MESSAGES,
    READ_MESSAGE_HISTORY,
    MENTION_EVERYONE,
    SEND_TTS_MESSAGES,
    ATTACH_FILES,
    EMBED_LINKS,
    MANAGE_MESSAGES,
];

fn permission_set() -> impl Strategy<Value = u64> {
    prop_oneof![
        // Dense sets, mostly without ADMINISTRATOR, which would end the walk.
        5 => any::<u64>().prop_map(|p| p & !ADMINISTRATOR),
        1 => any::<u64>(),
        4 => prop::sample::subsequence(NOTABLE.to_vec(), 0..=4)
            .prop_map(|bits| bits.into_iter().fold(0, |a, b| a | b) & !ADMINISTRATOR),
        1 => Just(0u64),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (SMALL_ID, SMALL_ID, SMALL_ID, any::<bool>()).prop_flat_map(|(guild, owner, me, with_everyone)| {
        let role = (SMALL_ID, permission_set(), -3i64..10);
        let everyone = if with_everyone { Just(vec![(guild, 0, 0)]).boxed() } else { Just(Vec::new()).boxed() };
        let target = prop_oneof![
            Just(Target::Everyone),
            SMALL_ID.prop_map(Target::Role),
            Just(Target::Me),
            SMALL_ID.prop_map(Target::Member),
        ];
        (
            everyone,
            permission_set(),
            prop::collection::vec(role, 0..6),
            prop::collection::vec(SMALL_ID, 0..5),
            prop::bool::weighted(0.2),
            prop::collection::vec((target, permission_set(), permission_set()), 0..8),
        )
            .prop_map(move |(mut everyone, everyone_perms, roles, member_roles, timed_out, overwrites)| {
                if let Some(e) = everyone.first_mut() {
                    e.1 = everyone_perms;
                }
                everyone.extend(roles);
                Scenario { guild, owner, me, roles: everyone, member_roles, timed_out, overwrites }
            })
    })
}

/// Discord's documentation read literally, bit by bit. A role "the member
/// has" is one listed on the member that exists in the guild and is not
/// @everyone; overwrites for the same target are read together.
struct Naive<'a>(&'a Scenario);

impl Naive<'_> {
    fn role_exists(&self, id: u64) -> bool {
        self.0.roles.iter().any(|r| r.0 == id)
    }

    fn member_has_role(&self, id: u64) -> bool {
        id != self.0.guild && self.0.member_roles.contains(&id) && self.role_exists(id)
    }

    fn role_grants(&self, id: u64, bit: u64) -> bool {
        self.0.roles.iter().any(|r| r.0 == id && r.1 & bit != 0)
    }

    /// Steps 1 and 2.
    fn base_has(&self, bit: u64) -> bool {
        self.role_grants(self.0.guild, bit)
            || self.0.member_roles.iter().any(|&r| self.member_has_role(r) && self.role_grants(r, bit))
    }

    fn exempt(&self) -> bool {
        self.0.owner == self.0.me || self.base_has(ADMINISTRATOR)
    }

    fn overwrites_for(&self, wanted: impl Fn(OverwriteTarget) -> bool) -> Vec<(u64, u64)> {
        self.0.overwrites.iter().filter(|o| wanted(self.0.target(o.0))).map(|o| (o.1, o.2)).collect()
    }

    fn channel_has(&self, bit: u64) -> bool {
        if ALL & bit == 0 {
            return false;
        }
        if self.exempt() {
            return true;
        }
        let everyone = self.overwrites_for(|t| t == OverwriteTarget::Role(Id::new(self.0.guild)));
        let roles = self.overwrites_for(|t| match t {
            OverwriteTarget::Role(id) => self.member_has_role(id.get()),
            OverwriteTarget::Member(_) => false,
        });
        let mine = self.overwrites_for(|t| t == OverwriteTarget::Member(Id::new(self.0.me)));

        let mut has = self.base_has(bit);
        for step in [&everyone, &roles, &mine] {
            if step.iter().any(|&(_, deny)| deny & bit != 0) {
                has = false;
            }
            if step.iter().any(|&(allow, _)| allow & bit != 0) {
                has = true;
            }
        }
        has
    }

    fn channel(&self) -> u64 {
        let mut has = [false; 64];
        for (i, h) in has.iter_mut().enumerate() {
            *h = self.channel_has(1 << i);
        }
        let bit = |p: u64| p.trailing_zeros() as usize;
        if !self.exempt() {
            if self.0.timed_out {
                for (i, h) in has.iter_mut().enumerate() {
                    if i != bit(VIEW_CHANNEL) && i != bit(READ_MESSAGE_HISTORY) {
                        *h = false;
                    }
                }
            }
            if !has[bit(VIEW_CHANNEL)] {
                has = [false; 64];
            }
            if !has[bit(SEND_MESSAGES)] {
                for p in [MENTION_EVERYONE, SEND_TTS_MESSAGES, ATTACH_FILES, EMBED_LINKS] {
                    has[bit(p)] = false;
                }
            }
        }
        has.iter().enumerate().filter(|(_, &h)| h).fold(0, |acc, (i, _)| acc | 1 << i)
    }

    fn guild(&self) -> u64 {
        (0..64)
            .map(|i| 1u64 << i)
            .filter(|&bit| {
                ALL & bit != 0
                    && (self.exempt()
                        || (self.base_has(bit)
                            && (!self.0.timed_out || bit == VIEW_CHANNEL || bit == READ_MESSAGE_HISTORY)))
            })
            .fold(0, |acc, bit| acc | bit)
    }
}

fn run(s: &Scenario) -> (u64, u64, u64) {
    let roles: Vec<Role> =
        s.roles.iter().map(|&(id, permissions, position)| Role { id: Id::new(id), permissions, position }).collect();
    let member_roles: Vec<_> = s.member_roles.iter().map(|&r| Id::new(r)).collect();
    let mut overwrites: Vec<Overwrite> =
        s.overwrites.iter().map(|&(t, allow, deny)| Overwrite { target: s.target(t), allow, deny }).collect();
    let guild = Guild { id: Id::new(s.guild), owner_id: Id::new(s.owner), roles: &roles };
    let member = Member { user_id: Id::new(s.me), roles: &member_roles, timed_out: s.timed_out };

    let in_guild = guild_permissions(&guild, &member);
    let in_channel = channel_permissions(&guild, &member, &overwrites);
    overwrites.reverse();
    let reversed = channel_permissions(&guild, &member, &overwrites);
    (in_guild, in_channel, reversed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matches_the_naive_reading(s in scenario()) {
        let (in_guild, in_channel, reversed) = run(&s);
        let naive = Naive(&s);
        prop_assert_eq!(in_channel, naive.channel(), "channel permissions");
        prop_assert_eq!(in_guild, naive.guild(), "guild permissions");
        prop_assert_eq!(reversed, in_channel, "the order of the overwrites must not matter");
    }
}
