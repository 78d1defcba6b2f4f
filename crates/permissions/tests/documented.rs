//! Discord's documented rules, one named case each, checked through the
//! public functions only.

use model::id::{GuildMarker, Id, RoleMarker, UserMarker};
use model::permissions::*;
use permissions::{
    channel_permissions, guild_permissions, highest_position, outranks, outranks_role, Guild, Member, Overwrite,
    OverwriteTarget, Role,
};

const GUILD: u64 = 100; // also the @everyone role
const ME: u64 = 200;
const OWNER: u64 = 300;
const OTHER: u64 = 400;
const A: u64 = 101;
const B: u64 = 102;
const UNKNOWN: u64 = 999;

/// A usual @everyone in a text channel.
const BASIC: u64 =
    VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | ADD_REACTIONS | EMBED_LINKS | ATTACH_FILES | MENTION_EVERYONE;

fn everyone(allow: u64, deny: u64) -> Overwrite {
    Overwrite { target: OverwriteTarget::Role(Id::new(GUILD)), allow, deny }
}
fn role(id: u64, allow: u64, deny: u64) -> Overwrite {
    Overwrite { target: OverwriteTarget::Role(Id::new(id)), allow, deny }
}
fn member(id: u64, allow: u64, deny: u64) -> Overwrite {
    Overwrite { target: OverwriteTarget::Member(Id::new(id)), allow, deny }
}

struct Case {
    name: &'static str,
    /// @everyone's permissions; `None` leaves the role out of the guild.
    everyone: Option<u64>,
    /// Other roles as (id, permissions); position is the index + 1.
    roles: Vec<(u64, u64)>,
    owner: u64,
    member_roles: Vec<u64>,
    timed_out: bool,
    overwrites: Vec<Overwrite>,
    want_guild: u64,
    want_channel: u64,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            everyone: Some(BASIC),
            roles: Vec::new(),
            owner: OWNER,
            member_roles: Vec::new(),
            timed_out: false,
            overwrites: Vec::new(),
            want_guild: BASIC,
            want_channel: BASIC,
        }
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "owner gets every permission, even with no roles and a hidden channel",
            owner: ME,
            overwrites: vec![everyone(0, VIEW_CHANNEL)],
            want_guild: ALL,
            want_channel: ALL,
            ..Case::default()
        },
        Case {
            name: "owner is exempt from timeouts and from their own member overwrite",
            owner: ME,
            timed_out: true,
            overwrites: vec![member(ME, 0, ALL)],
            want_guild: ALL,
            want_channel: ALL,
            ..Case::default()
        },
        Case {
            name: "ADMINISTRATOR from a role gives everything and skips every overwrite",
            roles: vec![(A, ADMINISTRATOR)],
            member_roles: vec![A],
            overwrites: vec![everyone(0, ALL), role(A, 0, ALL), member(ME, 0, ALL)],
            want_guild: ALL,
            want_channel: ALL,
            ..Case::default()
        },
        Case {
            name: "ADMINISTRATOR on @everyone makes every member an administrator",
            everyone: Some(ADMINISTRATOR),
            overwrites: vec![everyone(0, VIEW_CHANNEL)],
            want_guild: ALL,
            want_channel: ALL,
            ..Case::default()
        },
        Case {
            name: "administrators are exempt from timeouts",
            roles: vec![(A, ADMINISTRATOR)],
            member_roles: vec![A],
            timed_out: true,
            want_guild: ALL,
            want_channel: ALL,
            ..Case::default()
        },
        Case { name: "without overwrites the channel has the guild permissions", ..Case::default() },
        Case {
            name: "the member's roles are ORed into @everyone's permissions",
            roles: vec![(A, KICK_MEMBERS), (B, MANAGE_MESSAGES)],
            member_roles: vec![A, B],
            want_guild: BASIC | KICK_MEMBERS | MANAGE_MESSAGES,
            want_channel: BASIC | KICK_MEMBERS | MANAGE_MESSAGES,
            ..Case::default()
        },
        Case {
            name: "roles the member does not have grant nothing",
            roles: vec![(A, KICK_MEMBERS)],
            ..Case::default()
        },
        Case {
            name: "unknown role ids on the member are ignored, and so are their overwrites",
            member_roles: vec![UNKNOWN],
            overwrites: vec![everyone(0, VIEW_CHANNEL), role(UNKNOWN, VIEW_CHANNEL, 0)],
            want_channel: 0,
            ..Case::default()
        },
        Case {
            name: "a guild without an @everyone role starts from nothing",
            everyone: None,
            roles: vec![(A, VIEW_CHANNEL | SEND_MESSAGES)],
            member_roles: vec![A],
            want_guild: VIEW_CHANNEL | SEND_MESSAGES,
            want_channel: VIEW_CHANNEL | SEND_MESSAGES,
            ..Case::default()
        },
        Case {
            name: "@everyone overwrite denying VIEW_CHANNEL hides the channel",
            overwrites: vec![everyone(0, VIEW_CHANNEL)],
            want_channel: 0,
            ..Case::default()
        },
        Case {
            name: "@everyone overwrite allow adds a permission in the channel only",
            overwrites: vec![everyone(MANAGE_MESSAGES, 0)],
            want_channel: BASIC | MANAGE_MESSAGES,
            ..Case::default()
        },
        Case {
            name: "role overwrite allow beats @everyone overwrite deny",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![everyone(0, VIEW_CHANNEL), role(A, VIEW_CHANNEL, 0)],
            ..Case::default()
        },
        Case {
            name: "role overwrite deny beats @everyone overwrite allow",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![everyone(MANAGE_MESSAGES, 0), role(A, 0, MANAGE_MESSAGES)],
            ..Case::default()
        },
        Case {
            name: "role overwrite deny removes what a role granted guild-wide",
            roles: vec![(A, MANAGE_MESSAGES)],
            member_roles: vec![A],
            overwrites: vec![role(A, 0, MANAGE_MESSAGES)],
            want_guild: BASIC | MANAGE_MESSAGES,
            ..Case::default()
        },
        Case {
            // Discord's #coolstuff example: the higher role A denies, the
            // lower role B allows; the member sees the channel.
            name: "among the member's roles an allow wins over a deny, whatever the positions",
            roles: vec![(B, 0), (A, 0)],
            member_roles: vec![A, B],
            overwrites: vec![everyone(0, VIEW_CHANNEL), role(A, 0, VIEW_CHANNEL), role(B, VIEW_CHANNEL, 0)],
            ..Case::default()
        },
        Case {
            name: "member overwrite deny beats role overwrite allow",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![role(A, MANAGE_MESSAGES, 0), member(ME, 0, MANAGE_MESSAGES)],
            ..Case::default()
        },
        Case {
            name: "member overwrite allow beats role and @everyone overwrite denies",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![everyone(0, VIEW_CHANNEL), role(A, 0, VIEW_CHANNEL), member(ME, VIEW_CHANNEL, 0)],
            ..Case::default()
        },
        Case {
            name: "overwrites for roles the member does not have are ignored",
            roles: vec![(A, 0), (B, 0)],
            member_roles: vec![A],
            overwrites: vec![role(B, MANAGE_MESSAGES, VIEW_CHANNEL)],
            ..Case::default()
        },
        Case {
            name: "overwrites for other members are ignored",
            overwrites: vec![member(OTHER, KICK_MEMBERS, VIEW_CHANNEL)],
            ..Case::default()
        },
        Case {
            name: "the overwrite's kind counts, not just its id",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            // A member overwrite for user 101 is not role A's, and a role
            // overwrite for role 200 is not the member's.
            overwrites: vec![member(A, 0, VIEW_CHANNEL), role(ME, 0, VIEW_CHANNEL)],
            ..Case::default()
        },
        Case {
            name: "@everyone listed among the member's roles does not reapply its overwrite as a role's",
            roles: vec![(A, 0)],
            member_roles: vec![GUILD, A],
            // Were @everyone's allow joined to A's deny, the allow would win.
            overwrites: vec![everyone(MANAGE_MESSAGES, 0), role(A, 0, MANAGE_MESSAGES)],
            ..Case::default()
        },
        Case {
            name: "several overwrites for the same target act as their union",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![role(A, 0, MANAGE_MESSAGES), role(A, MANAGE_MESSAGES, 0), member(ME, 0, ADD_REACTIONS)],
            want_channel: (BASIC | MANAGE_MESSAGES) & !ADD_REACTIONS,
            ..Case::default()
        },
        Case {
            name: "denying SEND_MESSAGES implicitly denies mention, TTS, attach and embed",
            everyone: Some(BASIC | SEND_TTS_MESSAGES),
            overwrites: vec![everyone(0, SEND_MESSAGES)],
            want_guild: BASIC | SEND_TTS_MESSAGES,
            want_channel: VIEW_CHANNEL | READ_MESSAGE_HISTORY | ADD_REACTIONS,
            ..Case::default()
        },
        Case {
            name: "without SEND_MESSAGES anywhere its dependents do not count in channels",
            everyone: Some(BASIC & !SEND_MESSAGES),
            want_guild: BASIC & !SEND_MESSAGES,
            want_channel: VIEW_CHANNEL | READ_MESSAGE_HISTORY | ADD_REACTIONS,
            ..Case::default()
        },
        Case {
            name: "without VIEW_CHANNEL nothing counts, even what the channel allows",
            roles: vec![(A, 0)],
            member_roles: vec![A],
            overwrites: vec![everyone(0, VIEW_CHANNEL), role(A, MANAGE_MESSAGES | MANAGE_CHANNELS, 0)],
            want_channel: 0,
            ..Case::default()
        },
        Case {
            name: "without VIEW_CHANNEL in the guild no channel is visible unless one allows it",
            everyone: Some(BASIC & !VIEW_CHANNEL),
            want_guild: BASIC & !VIEW_CHANNEL,
            want_channel: 0,
            ..Case::default()
        },
        Case {
            name: "a member overwrite allowing VIEW_CHANNEL opens a private channel",
            everyone: Some(BASIC & !VIEW_CHANNEL),
            overwrites: vec![member(ME, VIEW_CHANNEL, 0)],
            want_guild: BASIC & !VIEW_CHANNEL,
            want_channel: BASIC,
            ..Case::default()
        },
        Case {
            name: "a timed-out member keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY",
            roles: vec![(A, KICK_MEMBERS | MANAGE_MESSAGES | MODERATE_MEMBERS)],
            member_roles: vec![A],
            timed_out: true,
            overwrites: vec![everyone(SEND_TTS_MESSAGES, 0)],
            want_guild: VIEW_CHANNEL | READ_MESSAGE_HISTORY,
            want_channel: VIEW_CHANNEL | READ_MESSAGE_HISTORY,
            ..Case::default()
        },
        Case {
            name: "a timeout does not bring back what an overwrite took",
            timed_out: true,
            overwrites: vec![everyone(0, READ_MESSAGE_HISTORY)],
            want_guild: VIEW_CHANNEL | READ_MESSAGE_HISTORY,
            want_channel: VIEW_CHANNEL,
            ..Case::default()
        },
        Case {
            name: "a timed-out member who cannot view the channel gets nothing in it",
            timed_out: true,
            overwrites: vec![everyone(0, VIEW_CHANNEL)],
            want_guild: VIEW_CHANNEL | READ_MESSAGE_HISTORY,
            want_channel: 0,
            ..Case::default()
        },
        Case {
            // base BASIC|MANAGE_MESSAGES; @everyone: -VIEW -ADD_REACTIONS +TTS;
            // roles: -(MANAGE_MESSAGES|SEND|VIEW) +(VIEW|ADD_REACTIONS);
            // member: -ADD_REACTIONS +SEND.
            name: "Discord's eight documented steps, in order",
            roles: vec![(A, MANAGE_MESSAGES), (B, 0)],
            member_roles: vec![A, B],
            overwrites: vec![
                member(ME, SEND_MESSAGES, ADD_REACTIONS),
                role(B, ADD_REACTIONS, VIEW_CHANNEL),
                role(A, VIEW_CHANNEL, MANAGE_MESSAGES | SEND_MESSAGES),
                everyone(SEND_TTS_MESSAGES, VIEW_CHANNEL | ADD_REACTIONS),
            ],
            want_guild: BASIC | MANAGE_MESSAGES,
            want_channel: (BASIC | SEND_TTS_MESSAGES) & !ADD_REACTIONS,
            ..Case::default()
        },
        Case {
            name: "bits Discord does not define are never granted",
            everyone: Some(BASIC | 1 << 47 | 1 << 63),
            overwrites: vec![everyone(1 << 53 | 1 << 60, 0)],
            ..Case::default()
        },
    ]
}

fn build_roles(case: &Case) -> Vec<Role> {
    let mut roles: Vec<Role> = case
        .roles
        .iter()
        .enumerate()
        .map(|(i, &(id, permissions))| Role { id: Id::new(id), permissions, position: i as i64 + 1 })
        .collect();
    if let Some(permissions) = case.everyone {
        roles.push(Role { id: Id::new(GUILD), permissions, position: 0 });
    }
    roles
}

#[test]
fn documented_cases() {
    let cases = cases();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in &cases {
        let roles = build_roles(case);
        let member_roles: Vec<Id<RoleMarker>> = case.member_roles.iter().map(|&r| Id::new(r)).collect();
        let guild = Guild { id: Id::new(GUILD), owner_id: Id::new(case.owner), roles: &roles };
        let member = Member { user_id: Id::new(ME), roles: &member_roles, timed_out: case.timed_out };

        let got_guild = guild_permissions(&guild, &member);
        let got_channel = channel_permissions(&guild, &member, &case.overwrites);
        if got_guild != case.want_guild {
            failures.push(format!(
                "{}: guild permissions {got_guild:#x}, want {:#x} (extra {:#x}, missing {:#x})",
                case.name,
                case.want_guild,
                got_guild & !case.want_guild,
                case.want_guild & !got_guild
            ));
        }
        if got_channel != case.want_channel {
            failures.push(format!(
                "{}: channel permissions {got_channel:#x}, want {:#x} (extra {:#x}, missing {:#x})",
                case.name,
                case.want_channel,
                got_channel & !case.want_channel,
                case.want_channel & !got_channel
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn hierarchy() {
    const LOW: u64 = 101;
    const MID: u64 = 102;
    const HIGH: u64 = 103;
    let roles = [
        Role { id: Id::new(GUILD), permissions: BASIC, position: 0 },
        Role { id: Id::new(LOW), permissions: 0, position: 1 },
        Role { id: Id::new(MID), permissions: ADMINISTRATOR, position: 5 },
        Role { id: Id::new(HIGH), permissions: 0, position: 9 },
    ];
    let guild: Guild = Guild { id: Id::<GuildMarker>::new(GUILD), owner_id: Id::new(OWNER), roles: &roles };
    let ids = |rs: &[u64]| -> Vec<Id<RoleMarker>> { rs.iter().map(|&r| Id::new(r)).collect() };
    let user = |id: u64| -> Id<UserMarker> { Id::new(id) };

    let none = ids(&[]);
    let low_mid = ids(&[LOW, MID]);
    let high_unknown = ids(&[HIGH, UNKNOWN]);
    let unknown_only = ids(&[UNKNOWN]);
    let owner = Member { user_id: user(OWNER), roles: &none, timed_out: false };
    let nobody = Member { user_id: user(1), roles: &none, timed_out: false };
    let admin = Member { user_id: user(2), roles: &low_mid, timed_out: false };
    let admin_too = Member { user_id: user(3), roles: &low_mid, timed_out: false };
    let top = Member { user_id: user(4), roles: &high_unknown, timed_out: false };
    let stale = Member { user_id: user(5), roles: &unknown_only, timed_out: false };

    let positions: [(&str, &Member, i64); 5] = [
        ("the owner is above every role", &owner, i64::MAX),
        ("a member without roles stands at @everyone's position", &nobody, 0),
        ("the highest of the member's roles counts", &admin, 5),
        ("unknown role ids are ignored next to known ones", &top, 9),
        ("a member with only unknown roles stands at @everyone's position", &stale, 0),
    ];
    for (name, member, want) in positions {
        assert_eq!(highest_position(&guild, member), want, "{name}");
    }

    let ranks: [(&str, &Member, &Member, bool); 7] = [
        ("a higher role outranks a lower one", &top, &admin, true),
        ("a lower role does not outrank a higher one, ADMINISTRATOR or not", &admin, &top, false),
        ("equals do not outrank each other", &admin, &admin_too, false),
        ("any role outranks a member without roles", &admin, &nobody, true),
        ("the owner outranks everyone", &owner, &top, true),
        ("nobody outranks the owner", &top, &owner, false),
        ("the owner does not outrank themselves", &owner, &owner, false),
    ];
    for (name, actor, target, want) in ranks {
        assert_eq!(outranks(&guild, actor, target), want, "{name}");
    }

    assert!(outranks_role(&guild, &admin, &roles[1]), "a role below one's highest can be managed");
    assert!(!outranks_role(&guild, &admin, &roles[2]), "one's own highest role cannot be managed");
    assert!(!outranks_role(&guild, &admin, &roles[3]), "a role above one's highest cannot be managed");
    assert!(outranks_role(&guild, &owner, &roles[3]), "the owner manages every role");
}
