//! discord.py's permission helpers, fed only by our gateway, against what
//! the server enforces.
//!
//! Guild layouts are generated from a fixed seed: random permissions on
//! @everyone and on a few roles (one of them sometimes ADMINISTRATOR), a few
//! members holding random subsets of them (one sometimes timed out), and text
//! channels with random overwrites for @everyone, roles and members. An
//! unmodified discord.py client in every guild prints
//! `channel.permissions_for(member)` for every pair it knows of; for every
//! pair the test then compares three things:
//!
//! * the `permissions` crate's answer, from the layout the test built;
//! * discord.py's answer, from what our gateway told it (roles'
//!   `permissions`, member `roles` and `communication_disabled_until`,
//!   overwrites' `type`/`allow`/`deny`, the guild's `owner_id`);
//! * what the API enforces: GET /channels/{id} (VIEW_CHANNEL), an empty
//!   message (SEND_MESSAGES is checked before the body, so 50013 or 50006
//!   without posting anything), GET .../messages (READ_MESSAGE_HISTORY:
//!   an empty list without it), and a few real posts.
//!
//! The client must also know exactly the channels the bot may view (our
//! GUILD_CREATE lists no others), and every member of every guild.
//!
//! The layouts are then changed over REST while the client is connected, in
//! three rounds (a role's permissions show or hide a channel to the bot; a
//! role someone holds is deleted; random changes), and after each round
//! everything is compared again, from the events discord.py applied to its
//! cache (GUILD_ROLE_UPDATE/DELETE, GUILD_MEMBER_UPDATE,
//! CHANNEL_UPDATE/CREATE/DELETE). A DM to the bot asks for each report; its
//! MESSAGE_CREATE follows every event the round caused.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use model::id::{Id, RoleMarker};
use model::permissions as bits;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use super::scenario::{python_bot, Scene};
use crate::common::{TestApp, TestUser};

const SEED: u64 = 0x00F0_5510_C0DE;
const LAYOUTS: usize = 3;

// ---------------------------------------------------------------- the client

struct Client {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

/// discord.py's masks, as it reports them.
#[derive(Debug, Clone, Copy)]
struct Masks {
    all: u64,
    all_channel: u64,
    voice: u64,
}

#[derive(Debug)]
struct GuildView {
    owner: String,
    channels: BTreeSet<String>,
    members: BTreeSet<String>,
    chunked: bool,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    permissions: u64,
    guild_permissions: u64,
}

/// One complete report of the client.
#[derive(Debug)]
struct Dump {
    masks: Masks,
    guilds: HashMap<String, GuildView>,
    /// (channel, member) → what discord.py computed.
    perms: HashMap<(String, String), Seen>,
}

impl Client {
    fn start(scene: &Scene) -> Self {
        let (child, lines) = python_bot(scene, "permissions.py");
        Self { child, lines }
    }

    /// Reads one report, up to `DONE <tag>`.
    async fn dump(&mut self, tag: &str) -> Dump {
        let read = async {
            let mut masks = None;
            let mut guilds = HashMap::new();
            let mut perms = HashMap::new();
            loop {
                let Some(line) = self.lines.next_line().await.unwrap() else {
                    panic!("discord.py exited before finishing dump {tag}: {:?}", self.child.try_wait());
                };
                let (kind, rest) = line.split_once(' ').unwrap_or((&line, ""));
                match kind {
                    "MASKS" => {
                        let v: Value = serde_json::from_str(rest).unwrap();
                        let get = |k: &str| v[k].as_u64().unwrap();
                        masks = Some(Masks { all: get("all"), all_channel: get("all_channel"), voice: get("voice") });
                    }
                    "GUILD" => {
                        let v: Value = serde_json::from_str(rest).unwrap();
                        let set = |k: &str| -> BTreeSet<String> {
                            v[k].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect()
                        };
                        guilds.insert(
                            v["guild"].as_str().unwrap().to_owned(),
                            GuildView {
                                owner: v["owner"].as_str().unwrap().to_owned(),
                                channels: set("channels"),
                                members: set("members"),
                                chunked: v["chunked"].as_bool().unwrap(),
                            },
                        );
                    }
                    "PERM" => {
                        let v: Value = serde_json::from_str(rest).unwrap();
                        perms.insert(
                            (v["channel"].as_str().unwrap().to_owned(), v["member"].as_str().unwrap().to_owned()),
                            Seen {
                                permissions: v["permissions"].as_u64().unwrap(),
                                guild_permissions: v["guild_permissions"].as_u64().unwrap(),
                            },
                        );
                    }
                    "DONE" if rest == tag => {
                        return Dump { masks: masks.expect("MASKS before DONE"), guilds, perms };
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(90), read)
            .await
            .unwrap_or_else(|_| panic!("discord.py never finished dump {tag}"))
    }
}

// ---------------------------------------------------------------- the layouts

struct RoleModel {
    id: String,
    name: String,
    permissions: u64,
}

struct MemberModel {
    user: TestUser,
    roles: BTreeSet<String>,
    timed_out: bool,
}

struct ChannelModel {
    id: String,
    name: String,
    /// target id → (type, allow, deny), as last PUT.
    overwrites: BTreeMap<String, (u8, u64, u64)>,
}

struct Layout {
    index: usize,
    guild: String,
    owner: String,
    everyone: u64,
    roles: Vec<RoleModel>,
    /// The owner first, then the bot, then the people.
    members: Vec<MemberModel>,
    channels: Vec<ChannelModel>,
}

fn id<M>(s: &str) -> Id<M> {
    Id::new(s.parse().expect("snowflake"))
}

impl Layout {
    fn role_name(&self, id: &str) -> String {
        if id == self.guild {
            return "@everyone".into();
        }
        self.roles.iter().find(|r| r.id == id).map_or_else(|| format!("role {id}"), |r| r.name.clone())
    }

    fn member_name(&self, id: &str) -> String {
        self.members.iter().find(|m| m.user.id == id).map_or_else(|| format!("user {id}"), |m| m.user.username.clone())
    }

    /// The `permissions` crate's answer: in `channel`, or guild-wide.
    fn expected(&self, member: &MemberModel, channel: Option<&ChannelModel>) -> u64 {
        let mut roles = vec![permissions::Role { id: id(&self.guild), permissions: self.everyone, position: 0 }];
        roles.extend(self.roles.iter().map(|r| permissions::Role {
            id: id(&r.id),
            permissions: r.permissions,
            position: 1,
        }));
        let guild = permissions::Guild { id: id(&self.guild), owner_id: id(&self.owner), roles: &roles };
        let member_roles: Vec<Id<RoleMarker>> = member.roles.iter().map(|r| id(r)).collect();
        let who =
            permissions::Member { user_id: id(&member.user.id), roles: &member_roles, timed_out: member.timed_out };
        match channel {
            None => permissions::guild_permissions(&guild, &who),
            Some(c) => {
                let overwrites: Vec<permissions::Overwrite> = c
                    .overwrites
                    .iter()
                    .map(|(target, &(kind, allow, deny))| permissions::Overwrite {
                        target: if kind == 0 {
                            permissions::OverwriteTarget::Role(id(target))
                        } else {
                            permissions::OverwriteTarget::Member(id(target))
                        },
                        allow,
                        deny,
                    })
                    .collect();
                permissions::channel_permissions(&guild, &who, &overwrites)
            }
        }
    }

    /// The channels the bot may view, which are the ones it should know.
    fn bot_visible(&self) -> BTreeSet<String> {
        self.channels
            .iter()
            .filter(|c| self.expected(&self.members[1], Some(c)) & bits::VIEW_CHANNEL != 0)
            .map(|c| c.id.clone())
            .collect()
    }

    /// A role's permissions, @everyone's for the guild id.
    fn permissions_of(&mut self, role: &str) -> &mut u64 {
        if role == self.guild {
            &mut self.everyone
        } else {
            &mut self.roles.iter_mut().find(|r| r.id == role).expect("a role of the layout").permissions
        }
    }

    fn is_admin(&self, member: &MemberModel) -> bool {
        member.user.id == self.owner
            || self.roles.iter().any(|r| member.roles.contains(&r.id) && r.permissions & bits::ADMINISTRATOR != 0)
            || self.everyone & bits::ADMINISTRATOR != 0
    }

    /// Everything that went into a pair's answer, for a failure message.
    fn describe(&self, member: &MemberModel, channel: &ChannelModel) -> String {
        let roles: Vec<String> = member
            .roles
            .iter()
            .map(|r| {
                let p = self.roles.iter().find(|x| &x.id == r).map_or(0, |x| x.permissions);
                format!("{}={p}", self.role_name(r))
            })
            .collect();
        let overwrites: Vec<String> = channel
            .overwrites
            .iter()
            .map(|(t, (kind, allow, deny))| {
                let who = if *kind == 0 { self.role_name(t) } else { self.member_name(t) };
                format!("{who}(type {kind}) allow={allow} deny={deny}")
            })
            .collect();
        format!(
            "layout {} guild {}: #{} ({}) × {} ({}){}{}; @everyone={}; roles [{}]; overwrites [{}]",
            self.index,
            self.guild,
            channel.name,
            channel.id,
            member.user.username,
            member.user.id,
            if member.user.id == self.owner { " owner" } else { "" },
            if member.timed_out { " timed out" } else { "" },
            self.everyone,
            roles.join(", "),
            overwrites.join(", ")
        )
    }
}

/// A random permission set: about a quarter of the defined bits, never
/// ADMINISTRATOR, with VIEW_CHANNEL, SEND_MESSAGES and READ_MESSAGE_HISTORY
/// each drawn on their own.
fn random_permissions(rng: &mut StdRng, view: f64, send: f64) -> u64 {
    let mut p = rng.gen::<u64>() & rng.gen::<u64>() & bits::ALL & !bits::ADMINISTRATOR;
    for (bit, chance) in [(bits::VIEW_CHANNEL, view), (bits::SEND_MESSAGES, send), (bits::READ_MESSAGE_HISTORY, 0.6)] {
        p = if rng.gen_bool(chance) { p | bit } else { p & !bit };
    }
    p
}

/// A random overwrite: disjoint allow and deny over a few bits, with
/// VIEW_CHANNEL and SEND_MESSAGES each allowed, denied or left alone.
fn random_overwrite(rng: &mut StdRng) -> (u64, u64) {
    let mut allow = rng.gen::<u64>() & rng.gen::<u64>() & rng.gen::<u64>() & bits::ALL;
    let mut deny = rng.gen::<u64>() & rng.gen::<u64>() & rng.gen::<u64>() & bits::ALL & !allow;
    for bit in [bits::VIEW_CHANNEL, bits::SEND_MESSAGES] {
        allow &= !bit;
        deny &= !bit;
        match rng.gen_range(0..3) {
            0 => allow |= bit,
            1 => deny |= bit,
            _ => {}
        }
    }
    (allow, deny)
}

async fn put_overwrite(
    app: &TestApp,
    owner: &TestUser,
    channel: &mut ChannelModel,
    target: &str,
    kind: u8,
    allow: u64,
    deny: u64,
) {
    let body = json!({ "type": kind, "allow": allow.to_string(), "deny": deny.to_string() });
    let path = format!("/channels/{}/permissions/{target}", channel.id);
    let (status, reply) = app.call(Method::PUT, &path, Some(&owner.token), Some(body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "PUT {path}: {reply}");
    channel.overwrites.insert(target.to_owned(), (kind, allow, deny));
}

async fn set_role_permissions(app: &TestApp, owner: &TestUser, guild: &str, role: &str, permissions: u64) {
    let path = format!("/guilds/{guild}/roles/{role}");
    let (status, reply) = app.patch(&path, &owner.token, json!({ "permissions": permissions.to_string() })).await;
    assert_eq!(status, StatusCode::OK, "PATCH {path}: {reply}");
    assert_eq!(reply["permissions"], json!(permissions.to_string()), "PATCH {path} answers the role it stored");
}

async fn set_timeout(app: &TestApp, owner: &TestUser, guild: &str, member: &mut MemberModel, on: bool) {
    let until = on.then(|| model::Timestamp::from_unix_ms(model::Timestamp::now().unix_ms() + 3_600_000).to_string());
    let path = format!("/guilds/{guild}/members/{}", member.user.id);
    let (status, reply) = app.patch(&path, &owner.token, json!({ "communication_disabled_until": until })).await;
    assert_eq!(status, StatusCode::OK, "PATCH {path}: {reply}");
    member.timed_out = on;
}

async fn give_role(app: &TestApp, owner: &TestUser, guild: &str, member: &mut MemberModel, role: &str, add: bool) {
    let path = format!("/guilds/{guild}/members/{}/roles/{role}", member.user.id);
    let (status, reply) = if add { app.put(&path, &owner.token).await } else { app.delete(&path, &owner.token).await };
    assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {reply}");
    if add {
        member.roles.insert(role.to_owned());
    } else {
        member.roles.remove(role);
    }
}

/// Builds layout `index` in `guild` (which has `general` already).
async fn build(scene: &Scene, rng: &mut StdRng, index: usize, guild: String, general: String) -> Layout {
    let app = &scene.app;
    let owner = &scene.person;

    // @everyone and the roles.
    let everyone = random_permissions(rng, 0.7, 0.6);
    set_role_permissions(app, owner, &guild, &guild, everyone).await;
    let admin_role = rng.gen_bool(0.5).then(|| rng.gen_range(0..3));
    let mut roles = Vec::new();
    for r in 0..rng.gen_range(3..=4) {
        let mut p = random_permissions(rng, 0.5, 0.5);
        if admin_role == Some(r) {
            p |= bits::ADMINISTRATOR;
        }
        let name = format!("l{index}r{r}");
        let (status, role) = app
            .post(
                &format!("/guilds/{guild}/roles"),
                &owner.token,
                json!({ "name": name, "permissions": p.to_string() }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{role}");
        assert_eq!(role["permissions"], json!(p.to_string()));
        roles.push(RoleModel { id: role["id"].as_str().unwrap().to_owned(), name, permissions: p });
    }

    // The members: the owner, the bot, and a few people.
    let mut members = vec![
        MemberModel { user: owner.clone(), roles: BTreeSet::new(), timed_out: false },
        MemberModel { user: scene.bot.clone(), roles: BTreeSet::new(), timed_out: false },
    ];
    for m in 0..rng.gen_range(3..=4) {
        let user = app.register(&format!("l{index}m{m}")).await;
        app.join(owner, &general, &user).await;
        members.push(MemberModel { user, roles: BTreeSet::new(), timed_out: false });
    }
    let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    for member in members.iter_mut().skip(1) {
        for role in &role_ids {
            if rng.gen_bool(0.4) {
                give_role(app, owner, &guild, member, role, true).await;
            }
        }
    }

    let mut layout =
        Layout { index, guild: guild.clone(), owner: owner.id.clone(), everyone, roles, members, channels: Vec::new() };

    // Sometimes one person is timed out (only non-administrators can be).
    if rng.gen_bool(0.5) {
        let candidates: Vec<usize> =
            (2..layout.members.len()).filter(|&i| !layout.is_admin(&layout.members[i])).collect();
        if !candidates.is_empty() {
            let i = candidates[rng.gen_range(0..candidates.len())];
            set_timeout(app, owner, &guild, &mut layout.members[i], true).await;
        }
    }

    // The channels: general and a few more, each with random overwrites,
    // and one without any, where only roles decide.
    let mut channels = vec![ChannelModel { id: general, name: "general".into(), overwrites: BTreeMap::new() }];
    let plain = format!("l{index}plain");
    for c in 0..rng.gen_range(2..=3) {
        let name = if c == 0 { plain.clone() } else { format!("l{index}c{c}") };
        let (status, channel) =
            app.post(&format!("/guilds/{guild}/channels"), &owner.token, json!({ "name": name, "type": 0 })).await;
        assert_eq!(status, StatusCode::CREATED, "{channel}");
        channels.push(ChannelModel {
            id: channel["id"].as_str().unwrap().to_owned(),
            name,
            overwrites: BTreeMap::new(),
        });
    }
    let member_ids: Vec<String> = layout.members.iter().map(|m| m.user.id.clone()).collect();
    for channel in &mut channels {
        // Every channel has a message, so that history tells.
        app.send(owner, &channel.id, &format!("welcome to #{}", channel.name)).await;
        if channel.name == plain {
            continue;
        }
        if rng.gen_bool(0.7) {
            let (allow, deny) = random_overwrite(rng);
            put_overwrite(app, owner, channel, &guild, 0, allow, deny).await;
        }
        for role in &role_ids {
            if rng.gen_bool(0.4) {
                let (allow, deny) = random_overwrite(rng);
                put_overwrite(app, owner, channel, role, 0, allow, deny).await;
            }
        }
        for (i, member) in member_ids.iter().enumerate() {
            // The client only hears of channels it may view: mostly let it.
            let bot = i == 1 && rng.gen_bool(0.75);
            if bot || rng.gen_bool(0.3) {
                let (mut allow, mut deny) = random_overwrite(rng);
                if bot {
                    allow |= bits::VIEW_CHANNEL;
                    deny &= !bits::VIEW_CHANNEL;
                }
                put_overwrite(app, owner, channel, member, 1, allow, deny).await;
            }
        }
    }
    layout.channels = channels;
    layout
}

/// Roles' permissions change so that the bot sees a channel appear or go
/// without any channel changing (GUILD_ROLE_UPDATE, then CHANNEL_CREATE or
/// CHANNEL_DELETE): one VIEW_CHANNEL or ADMINISTRATOR bit of @everyone or of
/// one of the bot's roles if that is enough, else both bits off all of them,
/// which hides the channel without overwrites.
async fn show_or_hide(scene: &Scene, layout: &mut Layout) -> Vec<String> {
    let app = &scene.app;
    let owner = &scene.person;
    let guild = layout.guild.clone();
    let shown = layout.bot_visible();
    let candidates: Vec<String> = std::iter::once(guild.clone())
        .chain(layout.roles.iter().filter(|r| layout.members[1].roles.contains(&r.id)).map(|r| r.id.clone()))
        .collect();
    let mut flip = None;
    'search: for role in &candidates {
        for bit in [bits::VIEW_CHANNEL, bits::ADMINISTRATOR] {
            *layout.permissions_of(role) ^= bit;
            let differs = layout.bot_visible() != shown;
            *layout.permissions_of(role) ^= bit;
            if differs {
                flip = Some((role.clone(), bit));
                break 'search;
            }
        }
    }
    let updates: Vec<(String, u64)> = match flip {
        Some((role, bit)) => vec![(role.clone(), *layout.permissions_of(&role) ^ bit)],
        None => candidates
            .iter()
            .map(|r| (r.clone(), *layout.permissions_of(r) & !(bits::VIEW_CHANNEL | bits::ADMINISTRATOR)))
            .collect(),
    };
    let mut done = Vec::new();
    for (role, p) in updates {
        set_role_permissions(app, owner, &guild, &role, p).await;
        *layout.permissions_of(&role) = p;
        done.push(format!("{} permissions = {p}", layout.role_name(&role)));
    }
    assert_ne!(layout.bot_visible(), shown, "layout {}: the role changes show or hide a channel", layout.index);
    done
}

/// A role someone holds goes, with its overwrites: its holders may see
/// channels appear or go, and the channels' viewers must stop applying
/// its overwrites.
async fn delete_a_role(scene: &Scene, layout: &mut Layout) -> Vec<String> {
    let app = &scene.app;
    let owner = &scene.person;
    let guild = layout.guild.clone();
    let mut done = Vec::new();
    let doomed = layout.roles.iter().position(|r| {
        layout.members.iter().any(|m| m.roles.contains(&r.id))
            && layout.channels.iter().any(|c| c.overwrites.contains_key(&r.id))
    });
    if let Some(r) = doomed {
        let path = format!("/guilds/{guild}/roles/{}", layout.roles[r].id);
        let (status, reply) = app.delete(&path, &owner.token).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}: {reply}");
        done.push(format!("deleted {}", layout.roles.remove(r).name));
    }
    done
}

/// Random changes over REST while the client listens.
async fn change_randomly(scene: &Scene, rng: &mut StdRng, layout: &mut Layout) -> Vec<String> {
    let app = &scene.app;
    let owner = &scene.person;
    let guild = layout.guild.clone();
    let mut done = Vec::new();
    for _ in 0..6 {
        match rng.gen_range(0..7) {
            0 => {
                let p = random_permissions(rng, 0.6, 0.6);
                set_role_permissions(app, owner, &guild, &guild, p).await;
                layout.everyone = p;
                done.push(format!("@everyone permissions = {p}"));
            }
            1 | 2 | 6 if layout.roles.is_empty() => {}
            1 => {
                let r = rng.gen_range(0..layout.roles.len());
                let mut p = random_permissions(rng, 0.5, 0.5);
                if rng.gen_bool(0.2) {
                    p |= bits::ADMINISTRATOR;
                }
                let id = layout.roles[r].id.clone();
                set_role_permissions(app, owner, &guild, &id, p).await;
                layout.roles[r].permissions = p;
                done.push(format!("{} permissions = {p}", layout.roles[r].name));
            }
            2 => {
                let m = rng.gen_range(1..layout.members.len());
                let r = rng.gen_range(0..layout.roles.len());
                let role = layout.roles[r].id.clone();
                let add = !layout.members[m].roles.contains(&role);
                give_role(app, owner, &guild, &mut layout.members[m], &role, add).await;
                done.push(format!(
                    "{} {} {}",
                    if add { "gave" } else { "took" },
                    layout.members[m].user.username,
                    layout.roles[r].name
                ));
            }
            3 | 4 => {
                let c = rng.gen_range(0..layout.channels.len());
                let targets: Vec<(String, u8)> = std::iter::once((guild.clone(), 0))
                    .chain(layout.roles.iter().map(|r| (r.id.clone(), 0)))
                    .chain(layout.members.iter().map(|m| (m.user.id.clone(), 1)))
                    .collect();
                let (target, kind) = targets[rng.gen_range(0..targets.len())].clone();
                let channel = &mut layout.channels[c];
                if channel.overwrites.contains_key(&target) && rng.gen_bool(0.4) {
                    let path = format!("/channels/{}/permissions/{target}", channel.id);
                    let (status, reply) = app.delete(&path, &owner.token).await;
                    assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}: {reply}");
                    channel.overwrites.remove(&target);
                    done.push(format!("deleted the overwrite for {target} in #{}", channel.name));
                } else {
                    let (allow, deny) = random_overwrite(rng);
                    put_overwrite(app, owner, channel, &target, kind, allow, deny).await;
                    done.push(format!("overwrite for {target} in #{} = allow {allow} deny {deny}", channel.name));
                }
            }
            6 => {
                // A role goes; its holders and its overwrites stay behind
                // in the model, where the crate ignores them as Discord does.
                let r = rng.gen_range(0..layout.roles.len());
                let path = format!("/guilds/{guild}/roles/{}", layout.roles[r].id);
                let (status, reply) = app.delete(&path, &owner.token).await;
                assert_eq!(status, StatusCode::NO_CONTENT, "DELETE {path}: {reply}");
                done.push(format!("deleted {}", layout.roles.remove(r).name));
            }
            _ => {
                let m = rng.gen_range(2..layout.members.len());
                let on = !layout.members[m].timed_out;
                if on && layout.is_admin(&layout.members[m]) {
                    continue;
                }
                set_timeout(app, owner, &guild, &mut layout.members[m], on).await;
                done.push(format!(
                    "{} {}",
                    if on { "timed out" } else { "lifted the timeout of" },
                    layout.members[m].user.username
                ));
            }
        }
    }
    done
}

// ---------------------------------------------------------------- checking

const NAMES: &[(&str, u64)] = &[
    ("CREATE_INSTANT_INVITE", bits::CREATE_INSTANT_INVITE),
    ("KICK_MEMBERS", bits::KICK_MEMBERS),
    ("BAN_MEMBERS", bits::BAN_MEMBERS),
    ("ADMINISTRATOR", bits::ADMINISTRATOR),
    ("MANAGE_CHANNELS", bits::MANAGE_CHANNELS),
    ("MANAGE_GUILD", bits::MANAGE_GUILD),
    ("ADD_REACTIONS", bits::ADD_REACTIONS),
    ("VIEW_AUDIT_LOG", bits::VIEW_AUDIT_LOG),
    ("VIEW_CHANNEL", bits::VIEW_CHANNEL),
    ("SEND_MESSAGES", bits::SEND_MESSAGES),
    ("SEND_TTS_MESSAGES", bits::SEND_TTS_MESSAGES),
    ("MANAGE_MESSAGES", bits::MANAGE_MESSAGES),
    ("EMBED_LINKS", bits::EMBED_LINKS),
    ("ATTACH_FILES", bits::ATTACH_FILES),
    ("READ_MESSAGE_HISTORY", bits::READ_MESSAGE_HISTORY),
    ("MENTION_EVERYONE", bits::MENTION_EVERYONE),
    ("MANAGE_ROLES", bits::MANAGE_ROLES),
    ("MODERATE_MEMBERS", bits::MODERATE_MEMBERS),
    ("PIN_MESSAGES", bits::PIN_MESSAGES),
    ("BYPASS_SLOWMODE", bits::BYPASS_SLOWMODE),
];

/// The bits of `x`, by name where the table has one.
fn names(x: u64) -> String {
    (0..64)
        .filter(|b| x & (1 << b) != 0)
        .map(|b| NAMES.iter().find(|(_, v)| *v == 1 << b).map_or_else(|| format!("1<<{b}"), |(n, _)| (*n).to_owned()))
        .collect::<Vec<_>>()
        .join("|")
}

/// discord.py's TextChannel.permissions_for differs from Discord's
/// algorithm (and our crate) only where documented: it strips voice bits in
/// text channels, its `Permissions.all()` (owner, ADMINISTRATOR) has only
/// the bits it knows, and without VIEW_CHANNEL it keeps the guild-only bits.
/// Compared on the bits both define, and as nothing without VIEW_CHANNEL.
fn comparable(x: u64, masks: Masks) -> u64 {
    if x & bits::VIEW_CHANNEL == 0 {
        0
    } else {
        x & masks.all & !masks.voice
    }
}

struct Check<'a> {
    app: &'a TestApp,
    failures: Vec<String>,
    pairs: usize,
    compared_with_python: usize,
}

impl Check<'_> {
    fn fail(&mut self, phase: &str, what: String) {
        self.failures.push(format!("[{phase}] {what}"));
    }

    async fn layout(&mut self, phase: &str, layout: &Layout, dump: &Dump, real_posts: &mut StdRng) {
        let masks = dump.masks;
        let Some(view) = dump.guilds.get(&layout.guild) else {
            self.fail(phase, format!("layout {}: discord.py does not know guild {}", layout.index, layout.guild));
            return;
        };
        if view.owner != layout.owner {
            self.fail(
                phase,
                format!("layout {}: discord.py's owner_id is {}, not {}", layout.index, view.owner, layout.owner),
            );
        }
        let members: BTreeSet<String> = layout.members.iter().map(|m| m.user.id.clone()).collect();
        if view.members != members {
            self.fail(
                phase,
                format!("layout {}: discord.py's members {:?}, the guild's {:?}", layout.index, view.members, members),
            );
        }
        if view.chunked {
            self.fail(phase, format!("layout {}: GUILD_CREATE lacked members; discord.py had to chunk", layout.index));
        }
        // GUILD_CREATE and CHANNEL_CREATE/DELETE tell the client of exactly
        // the channels it may view.
        let visible = layout.bot_visible();
        if view.channels != visible {
            self.fail(
                phase,
                format!(
                    "layout {}: discord.py knows channels {:?}; the bot may view {:?}",
                    layout.index, view.channels, visible
                ),
            );
        }

        let mut posts_left = 2;
        for channel in &layout.channels {
            for member in &layout.members {
                self.pairs += 1;
                let context = layout.describe(member, channel);
                let expected = layout.expected(member, Some(channel));
                let expected_guild = layout.expected(member, None);
                let view = expected & bits::VIEW_CHANNEL != 0;
                let send = view && expected & bits::SEND_MESSAGES != 0;
                let history = view && expected & bits::READ_MESSAGE_HISTORY != 0;

                // discord.py, for the channels it knows.
                let seen = dump.perms.get(&(channel.id.clone(), member.user.id.clone())).copied();
                match seen {
                    None if visible.contains(&channel.id) => {
                        self.fail(phase, format!("discord.py reported nothing for {context}"));
                    }
                    None => {}
                    Some(seen) => {
                        self.compared_with_python += 1;
                        let d = seen.permissions;
                        let (d_view, d_send) =
                            (d & bits::VIEW_CHANNEL != 0, d & bits::VIEW_CHANNEL != 0 && d & bits::SEND_MESSAGES != 0);
                        if d_view != view || d_send != send {
                            self.fail(
                                phase,
                                format!(
                                    "VIEW/SEND: discord.py says {d_view}/{d_send}, the server {view}/{send}: {context}"
                                ),
                            );
                        }
                        if comparable(d, masks) != comparable(expected, masks) {
                            let diff = comparable(d, masks) ^ comparable(expected, masks);
                            self.fail(
                                phase,
                                format!(
                                    "permissions_for: discord.py {d}, permissions crate {expected}; differ in {}: {context}",
                                    names(diff)
                                ),
                            );
                        }
                        // An ordinary member's value is even the same number, less the
                        // voice bits discord.py drops in text channels: bits it has no
                        // names for (PIN_MESSAGES, BYPASS_SLOWMODE) pass through.
                        let ordinary = !member.timed_out && !layout.is_admin(member);
                        if view && ordinary && d != expected & !masks.voice {
                            self.fail(
                                phase,
                                format!(
                                    "permissions_for: discord.py {d}, permissions crate {expected} less voice; differ in {}: {context}",
                                    names(d ^ (expected & !masks.voice))
                                ),
                            );
                        }
                        if !d_view && d & masks.all_channel != 0 {
                            self.fail(
                                phase,
                                format!(
                                    "discord.py kept channel bits {} without VIEW_CHANNEL: {context}",
                                    names(d & masks.all_channel)
                                ),
                            );
                        }
                        let (g, e) = (seen.guild_permissions & masks.all, expected_guild & masks.all);
                        if g != e {
                            self.fail(
                                phase,
                                format!(
                                    "guild_permissions: discord.py {}, permissions crate {expected_guild}; differ in {}: {context}",
                                    seen.guild_permissions,
                                    names(g ^ e)
                                ),
                            );
                        }
                    }
                }

                // What the API enforces.
                let token = &member.user.token;
                let got = self.app.get(&format!("/channels/{}", channel.id), token).await;
                let enforced_view = match (got.0.as_u16(), got.1["code"].as_u64()) {
                    (200, _) => true,
                    (403, Some(50001)) => false,
                    other => {
                        self.fail(phase, format!("GET /channels answered {other:?} {}: {context}", got.1));
                        continue;
                    }
                };
                if enforced_view != view {
                    self.fail(
                        phase,
                        format!("GET /channels: enforced VIEW_CHANNEL {enforced_view}, computed {view}: {context}"),
                    );
                }
                let path = format!("/channels/{}/messages", channel.id);
                let probe = self.app.post(&path, token, json!({ "content": "" })).await;
                let enforced_send = match (probe.0.as_u16(), probe.1["code"].as_u64()) {
                    (400, Some(50006)) => Some(true),
                    (403, Some(50013)) => Some(false),
                    (403, Some(50001)) => None,
                    other => {
                        self.fail(phase, format!("an empty message answered {other:?} {}: {context}", probe.1));
                        continue;
                    }
                };
                if enforced_send != view.then_some(send) {
                    self.fail(
                        phase,
                        format!("POST messages: enforced SEND_MESSAGES {enforced_send:?}, computed {send}: {context}"),
                    );
                }
                if view {
                    let (status, list) = self.app.get(&format!("{path}?limit=1"), token).await;
                    let enforced_history = status == StatusCode::OK && list.as_array().is_some_and(|l| !l.is_empty());
                    if status != StatusCode::OK || enforced_history != history {
                        self.fail(
                            phase,
                            format!("GET messages: {status}, history shown {enforced_history}, computed READ_MESSAGE_HISTORY {history}: {context}"),
                        );
                    }
                }
                // A real post now and then, to show the probe tells the truth.
                if view && posts_left > 0 && real_posts.gen_bool(0.15) {
                    posts_left -= 1;
                    let (status, reply) = self.app.post(&path, token, json!({ "content": "a real post" })).await;
                    let posted = status == StatusCode::OK;
                    if posted != send || (!posted && reply["code"] != json!(50013)) {
                        self.fail(
                            phase,
                            format!("a real post answered {status} {reply}, computed SEND_MESSAGES {send}: {context}"),
                        );
                    }
                }
            }
        }
        // Every pair discord.py reported is one of ours.
        let ours: BTreeSet<&String> = layout.channels.iter().map(|c| &c.id).collect();
        for (channel, member) in dump.perms.keys() {
            if ours.contains(channel) && !members.contains(member) {
                self.fail(phase, format!("discord.py reported a stranger {member} in channel {channel}"));
            }
        }
    }
}

#[tokio::test]
async fn discord_py_permissions_agree_with_what_the_server_enforces() {
    let scene = Scene::new().await;
    // Another seed, to explore: FUSSIONCORD_PERMISSIONS_SEED=<u64>.
    let seed = std::env::var("FUSSIONCORD_PERMISSIONS_SEED").map_or(SEED, |s| s.parse().expect("a u64 seed"));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut layouts = Vec::new();
    for index in 0..LAYOUTS {
        let (guild, general) = if index == 0 {
            (scene.guild.clone(), scene.channel.clone())
        } else {
            let (guild, general) = scene.app.guild(&scene.person, &format!("Layout {index}")).await;
            let guild = guild["id"].as_str().unwrap().to_owned();
            scene.app.add_bot(&scene.person, &scene.bot, &guild).await;
            (guild, general)
        };
        layouts.push(build(&scene, &mut rng, index, guild, general).await);
    }

    let mut client = Client::start(&scene);
    let first = client.dump("ready").await;
    assert_eq!(first.guilds.len(), LAYOUTS, "discord.py sees every guild: {:?}", first.guilds.keys());
    let mut check = Check { app: &scene.app, failures: Vec::new(), pairs: 0, compared_with_python: 0 };
    for layout in &layouts {
        check.layout("from GUILD_CREATE", layout, &first, &mut rng).await;
    }

    // Change every layout while the client listens, then ask it again over
    // a DM: its MESSAGE_CREATE comes after every event the changes caused.
    // First changes that must show or hide channels, then random ones.
    let (status, dm) =
        scene.app.post("/users/@me/channels", &scene.person.token, json!({ "recipient_id": scene.bot.id })).await;
    assert_eq!(status, StatusCode::OK, "{dm}");
    let dm = dm["id"].as_str().unwrap().to_owned();
    let mut changes = Vec::new();
    for phase in ["after a role's permissions show or hide channels", "after a role goes", "after random changes"] {
        for layout in &mut layouts {
            let done = match phase {
                "after a role goes" => delete_a_role(&scene, layout).await,
                "after random changes" => change_randomly(&scene, &mut rng, layout).await,
                _ => show_or_hide(&scene, layout).await,
            };
            changes.push(format!("layout {}: {}", layout.index, done.join("; ")));
        }
        let tag = if phase == "after random changes" { "last" } else { "again" };
        scene.app.send(&scene.person, &dm, &format!("dump {tag}")).await;
        let dump = client.dump(tag).await;
        for layout in &layouts {
            check.layout(phase, layout, &dump, &mut rng).await;
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(30), client.child.wait()).await;
    assert!(matches!(status, Ok(Ok(s)) if s.success()), "discord.py exits cleanly: {status:?}");

    assert!(
        check.compared_with_python >= check.pairs / 3,
        "too few pairs reached discord.py: {} of {}",
        check.compared_with_python,
        check.pairs
    );
    assert!(
        check.failures.is_empty(),
        "seed {seed}: {} disagreements over {} (channel, member) pairs ({} seen by discord.py); changes made:\n  {}\n{}",
        check.failures.len(),
        check.pairs,
        check.compared_with_python,
        changes.join("\n  "),
        check.failures.join("\n")
    );
}
