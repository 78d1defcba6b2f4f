//! Voice state: who is in which voice channel, muted or deafened by
//! themselves or by a moderator, the token their voice connection presents
//! and the voice server they were sent to. The gateway's op 4 and the
//! member routes change it here; the voice server (`voice` crate) reads it
//! to admit connections and follows its changes (`VOICE_PARTICIPANT`
//! events) to decide whose packets it forwards.
//!
//! The states live in memory. Every change is published on the bus, and
//! every node of a cluster applies every change in the bus's order, so each
//! holds the whole cluster's voice states: GUILD_CREATE, the voice-state
//! route, user limits and moderation see everyone, wherever their gateway
//! session is. A call lives on one voice server: the first to join a
//! channel is sent to their own node's voice server (or, on a node without
//! one, to one chosen by the channel from the live voice nodes), and those
//! who join later to the same one. When a node dies (no `NODE_ALIVE` for
//! `events::NODE_TIMEOUT`), the participants whose gateway session was
//! there and was not resumed elsewhere leave voice (announced once, by the
//! live node with the smallest name), and those whose call was on its voice
//! server are sent to another by VOICE_SERVER_UPDATE, as Discord does when
//! a voice server changes. A node that starts asks the others for their
//! participants (VOICE_SYNC) once it listens.
//!
//! A person is in one voice channel on the whole server (joining elsewhere
//! moves them); a bot may be in one per guild, as on Discord, so one music
//! bot serves many guilds.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use events::{Audience, Dispatch, Event, Kind, NodeAlive, SessionClaim, VoiceChange, NODE_TIMEOUT};
use model::channel::ChannelType;
use model::permissions as bits;
use model::voice::{VoiceRegion, VoiceServerUpdate, VoiceState};
use store::{ChannelId, GuildId, UserId, UserRow};

use crate::error::{Error, Result};
use crate::{access, render, Domain};

/// One member's voice connection, as this server keeps it.
pub use events::VoiceParticipant as Participant;

/// How long a voice connection's IDENTIFY waits, on a node of a cluster,
/// for the change that admits it: the client heard VOICE_SERVER_UPDATE from
/// one node and may reach the voice server's node before the bus does.
pub const ADMIT_WAIT: Duration = Duration::from_secs(2);

fn wire(p: &Participant, member: Option<model::guild::Member>) -> VoiceState {
    VoiceState {
        guild_id: Some(p.guild_id),
        channel_id: Some(p.channel_id),
        user_id: p.user_id,
        member,
        session_id: p.session_id.clone(),
        deaf: p.deaf,
        mute: p.mute,
        self_deaf: p.self_deaf,
        self_mute: p.self_mute,
        self_stream: p.self_stream,
        self_video: p.self_video,
        suppress: false,
        request_to_speak_timestamp: None,
    }
}

/// Another node of the cluster, as last heard.
#[derive(Debug)]
struct NodeSeen {
    voice_endpoint: Option<String>,
    at: Instant,
}

impl NodeSeen {
    fn live(&self) -> bool {
        self.at.elapsed() < NODE_TIMEOUT
    }
}

/// The voice states of the server (the whole cluster's), and where this
/// node's voice server listens.
#[derive(Debug, Default)]
pub struct VoiceStates {
    /// `host:port` of this node's voice gateway, as VOICE_SERVER_UPDATE
    /// names it; `None` when this node runs no voice server.
    endpoint: Option<String>,
    /// This node's name in a cluster; `None` on a server of one node.
    node: Option<String>,
    by_member: Mutex<HashMap<(GuildId, UserId), Participant>>,
    /// The cluster's other nodes, from their heartbeats.
    nodes: Mutex<HashMap<String, NodeSeen>>,
    /// Where the latest claim that counted of each participant's gateway
    /// session is in the stream.
    claims: Mutex<HashMap<String, u64>>,
    /// Woken by every change, for connections waiting to be admitted.
    changed: tokio::sync::Notify,
}

impl VoiceStates {
    pub fn new(endpoint: Option<String>, node: Option<String>) -> Self {
        Self { endpoint, node, ..Self::default() }
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(GuildId, UserId), Participant>> {
        self.by_member.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn nodes(&self) -> MutexGuard<'_, HashMap<String, NodeSeen>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The participant a voice connection's IDENTIFY names, if its session
    /// and token are the ones this member joined with.
    pub fn authorize(&self, guild: GuildId, user: UserId, session_id: &str, token: &str) -> Option<Participant> {
        let map = self.lock();
        let p = map.get(&(guild, user))?;
        let same = p.session_id == session_id && auth::constant_time_eq(p.token.as_bytes(), token.as_bytes());
        same.then(|| p.clone())
    }

    /// [`VoiceStates::authorize`], waiting up to [`ADMIT_WAIT`] on a node of
    /// a cluster for the change that admits the connection to arrive.
    pub async fn admit(&self, guild: GuildId, user: UserId, session_id: &str, token: &str) -> Option<Participant> {
        if self.node.is_none() {
            return self.authorize(guild, user, session_id, token);
        }
        let deadline = tokio::time::Instant::now() + ADMIT_WAIT;
        loop {
            let changed = self.changed.notified();
            if let Some(p) = self.authorize(guild, user, session_id, token) {
                return Some(p);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.authorize(guild, user, session_id, token);
            }
        }
    }

    pub fn get(&self, guild: GuildId, user: UserId) -> Option<Participant> {
        self.lock().get(&(guild, user)).cloned()
    }

    /// Everyone in a guild's voice channels.
    pub fn in_guild(&self, guild: GuildId) -> Vec<Participant> {
        self.matching(|p| p.guild_id == guild)
    }

    /// Everyone in one voice channel.
    pub fn in_channel(&self, channel: ChannelId) -> Vec<Participant> {
        self.matching(|p| p.channel_id == channel)
    }

    /// How many participants there are, for metrics and tests.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn matching(&self, pred: impl Fn(&Participant) -> bool) -> Vec<Participant> {
        let mut all: Vec<_> = self.lock().values().filter(|p| pred(p)).cloned().collect();
        all.sort_by_key(|p| p.user_id);
        all
    }

    /// Whether this node answers for `p`: it holds their gateway session
    /// (every participant, on a server of one node).
    fn mine(&self, p: &Participant) -> bool {
        p.node == self.node
    }

    /// Applies a change published by any node (this one included).
    fn apply(&self, change: &VoiceChange) {
        if let Some(p) = &change.now {
            self.learn(p);
        }
        {
            let mut map = self.lock();
            match &change.now {
                Some(p) => {
                    map.insert((change.guild_id, change.user_id), (**p).clone());
                }
                None => {
                    map.remove(&(change.guild_id, change.user_id));
                }
            }
        }
        self.changed.notify_waiters();
    }

    /// Removes `p` if it is still there with the same session; whether it
    /// was.
    fn take(&self, p: &Participant) -> bool {
        let taken = {
            let mut map = self.lock();
            let key = (p.guild_id, p.user_id);
            let same = map.get(&key).is_some_and(|x| x.session_id == p.session_id);
            same && map.remove(&key).is_some()
        };
        self.changed.notify_waiters();
        taken
    }

    /// Puts `p` in place of its entry if that is still there with the same
    /// session; whether it was.
    fn replace(&self, p: &Participant) -> bool {
        let replaced = {
            let mut map = self.lock();
            match map.get_mut(&(p.guild_id, p.user_id)).filter(|x| x.session_id == p.session_id) {
                Some(slot) => {
                    *slot = p.clone();
                    true
                }
                None => false,
            }
        };
        self.changed.notify_waiters();
        replaced
    }

    /// Whether `p`'s gateway session was on another node that is not
    /// alive.
    fn orphaned(&self, p: &Participant) -> bool {
        match (&self.node, &p.node) {
            (Some(me), Some(n)) if n != me => !self.nodes().get(n).is_some_and(NodeSeen::live),
            _ => false,
        }
    }

    /// Whether this node is one of a cluster's: then it applies every
    /// node's changes as the bus brings them; a server of one node only
    /// ever has its own, applied as they are made.
    pub fn in_cluster(&self) -> bool {
        self.node.is_some()
    }

    /// A node claimed gateway session `session_id` at `position`: its
    /// participants are that node's now, unless the claim loses to an
    /// earlier one it was made without having read (as the gateway
    /// decides it).
    fn claimed(&self, claim: &SessionClaim, position: u64) {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        if claims.get(&claim.session_id).is_some_and(|last| claim.seen < *last) {
            return;
        }
        claims.insert(claim.session_id.clone(), position);
        let mut map = self.lock();
        for p in map.values_mut().filter(|p| p.session_id == claim.session_id) {
            p.node = Some(claim.node.clone());
        }
        claims.retain(|session, _| map.values().any(|p| p.session_id == *session));
    }

    fn heard(&self, alive: &NodeAlive) {
        if self.node.as_deref().is_none_or(|me| me == alive.node) {
            return;
        }
        let seen = NodeSeen { voice_endpoint: alive.voice_endpoint.clone(), at: Instant::now() };
        self.nodes().insert(alive.node.clone(), seen);
    }

    /// Nodes a change names count as heard of now, if they were not: a
    /// node that started a moment ago may know of a call before it hears
    /// the heartbeat of the node carrying it. One that is dead is missed
    /// within `NODE_TIMEOUT` all the same.
    fn learn(&self, p: &Participant) {
        let mut nodes = self.nodes();
        for (name, voice_endpoint) in [(&p.node, None), (&p.voice_node, p.endpoint.clone())] {
            let Some(name) = name.as_ref().filter(|n| Some(*n) != self.node.as_ref()) else { continue };
            let seen = nodes.entry(name.clone()).or_insert(NodeSeen { voice_endpoint: None, at: Instant::now() });
            if seen.voice_endpoint.is_none() {
                seen.voice_endpoint = voice_endpoint;
            }
        }
    }

    /// Forgets the nodes not heard of for `NODE_TIMEOUT`, and names them.
    fn expire(&self) -> Vec<String> {
        let mut nodes = self.nodes();
        let dead: Vec<String> = nodes.iter().filter(|(_, n)| !n.live()).map(|(name, _)| name.clone()).collect();
        for name in &dead {
            nodes.remove(name);
        }
        dead
    }

    /// Whether this node is the one that announces what dead nodes leave
    /// behind: the live node with the smallest name.
    fn announces(&self) -> bool {
        self.announces_without("")
    }

    /// [`VoiceStates::announces`], leaving node `other` out.
    fn announces_without(&self, other: &str) -> bool {
        let Some(me) = &self.node else { return true };
        self.nodes().iter().filter(|(name, n)| n.live() && name.as_str() != other).all(|(name, _)| name > me)
    }

    /// Whether the voice server `p` was sent to is running: its node is
    /// alive and still has that endpoint (a node restarted under its name
    /// may have another).
    fn serves(&self, p: &Participant) -> bool {
        match (&self.node, &p.voice_node) {
            (None, _) => p.endpoint.is_some(),
            (Some(me), Some(v)) if v == me => p.endpoint.is_some() && p.endpoint == self.endpoint,
            (Some(_), Some(v)) => self
                .nodes()
                .get(v)
                .is_some_and(|n| n.live() && n.voice_endpoint.is_some() && n.voice_endpoint == p.endpoint),
            (Some(_), None) => false,
        }
    }

    /// The voice server for a call in `channel`, as (endpoint, node): the
    /// one already carrying it; else this node's own (`prefer_own`, for a
    /// call someone starts here); else the one the channel falls to among
    /// the live voice servers (every node picks the same).
    fn place(&self, channel: ChannelId, prefer_own: bool) -> (Option<String>, Option<String>) {
        if let Some(p) = self.in_channel(channel).into_iter().find(|p| self.serves(p)) {
            return (p.endpoint, p.voice_node);
        }
        if prefer_own && self.endpoint.is_some() || self.node.is_none() {
            return (self.endpoint.clone(), self.node.clone());
        }
        let mut candidates: Vec<(String, String)> = self
            .nodes()
            .iter()
            .filter(|(_, n)| n.live())
            .filter_map(|(name, n)| Some((name.clone(), n.voice_endpoint.clone()?)))
            .collect();
        if let (Some(me), Some(endpoint)) = (&self.node, &self.endpoint) {
            candidates.push((me.clone(), endpoint.clone()));
        }
        match candidates.into_iter().max_by_key(|(name, _)| rendezvous(name, channel)) {
            Some((name, endpoint)) => (Some(endpoint), Some(name)),
            None => (None, None),
        }
    }
}

/// Rendezvous hashing: the weight of voice node `node` for `channel`
/// (FNV-1a), the same on every node.
fn rendezvous(node: &str, channel: ChannelId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain(channel.get().to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Records `p` here and publishes it, for every node's copy and the voice
/// servers.
fn set(state: &Domain, p: Participant) {
    let change = VoiceChange { guild_id: p.guild_id, user_id: p.user_id, now: Some(Box::new(p)), for_node: None };
    state.voice.apply(&change);
    state.bus.publish(Event::voice_participant(change));
}

/// [`set`], if `p`'s entry is still there with the same session; whether
/// it was.
fn reset(state: &Domain, p: Participant) -> bool {
    if !state.voice.replace(&p) {
        return false;
    }
    let change = VoiceChange { guild_id: p.guild_id, user_id: p.user_id, now: Some(Box::new(p)), for_node: None };
    state.bus.publish(Event::voice_participant(change));
    true
}

/// Removes `p` here, if it is still there with the same session, and
/// publishes that, for every node's copy and the voice servers; whether it
/// was there (so each removal is announced once).
fn unset(state: &Domain, p: &Participant) -> bool {
    if !state.voice.take(p) {
        return false;
    }
    let change = VoiceChange { guild_id: p.guild_id, user_id: p.user_id, now: None, for_node: None };
    state.bus.publish(Event::voice_participant(change));
    true
}

/// Sends `p`'s user where their voice connection goes.
fn send_server(state: &Domain, p: &Participant) {
    let server = VoiceServerUpdate { token: p.token.clone(), guild_id: p.guild_id, endpoint: p.endpoint.clone() };
    state.bus.publish(Event::new(Dispatch::VoiceServerUpdate(server), Audience::Users(vec![p.user_id])));
}

/// What op 4 asks: join, move within, or leave (`channel_id: None`) a
/// guild's voice.
#[derive(Debug, Clone)]
pub struct Request {
    pub guild_id: GuildId,
    pub channel_id: Option<ChannelId>,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub self_video: bool,
    pub self_stream: bool,
}

/// The regions `GET /voice/regions` lists: this server is one.
pub fn regions() -> Vec<VoiceRegion> {
    vec![VoiceRegion { id: "local".into(), name: "Local".into(), optimal: true, deprecated: false, custom: true }]
}

/// Joins, moves or leaves voice in a guild for `user`'s gateway session,
/// as op 4 asks. Announces the new state to the guild and, to the user,
/// where to connect (VOICE_SERVER_UPDATE) when the connection is new.
/// Refusals (not a member, not a voice channel, no CONNECT, the channel
/// full) change nothing.
pub async fn update(state: &Domain, user: &UserRow, session_id: &str, req: Request) -> Result<()> {
    let guild = access::guild(state, user, req.guild_id).await?;
    let Some(channel_id) = req.channel_id else {
        if let Some(gone) = state.voice.get(req.guild_id, user.id) {
            leave(state, &gone, Some(&guild.member), user);
        }
        return Ok(());
    };
    let channel = access::channel(state, user, channel_id).await?;
    if channel.guild_id() != Some(req.guild_id) || channel.channel.kind != ChannelType::GuildVoice.code() {
        return Err(Error::wrong_channel_type());
    }
    channel.require(bits::CONNECT)?;
    let current = state.voice.get(req.guild_id, user.id);
    let moving_in = current.as_ref().is_none_or(|p| p.channel_id != channel_id);
    if moving_in && channel.channel.user_limit > 0 && !channel.has(bits::MOVE_MEMBERS) {
        let present = state.voice.in_channel(channel_id).len() as i64;
        if present >= channel.channel.user_limit {
            return Err(Error::missing_permissions());
        }
    }
    // A person is in one voice channel on the whole server.
    if !user.bot {
        for gone in state.voice.matching(|p| p.user_id == user.id && p.guild_id != req.guild_id) {
            leave(state, &gone, None, user);
        }
    }
    let new_connection = current.as_ref().is_none_or(|p| p.session_id != session_id);
    // The same request again is a client rejoining after its voice
    // connection dropped (discord.js does so on most close codes): it waits
    // for a VOICE_SERVER_UPDATE. A changed mute or deafen is not one.
    let rejoin = current.as_ref().is_some_and(|p| {
        p.session_id == session_id
            && p.channel_id == channel_id
            && (p.self_mute, p.self_deaf, p.self_video, p.self_stream)
                == (req.self_mute, req.self_deaf, req.self_video, req.self_stream)
    });
    let token = match &current {
        Some(p) if !new_connection => p.token.clone(),
        _ => auth::random_hex(16),
    };
    // The call's voice server: where it is, if it is on a running one.
    let (endpoint, voice_node) = match &current {
        Some(p) if p.channel_id == channel_id && state.voice.serves(p) => (p.endpoint.clone(), p.voice_node.clone()),
        _ => state.voice.place(channel_id, true),
    };
    let other_server = current.as_ref().is_some_and(|p| p.endpoint != endpoint);
    let perms = channel.permissions;
    let member = &guild.member;
    let participant = Participant {
        guild_id: req.guild_id,
        channel_id,
        user_id: user.id,
        bot: user.bot,
        session_id: session_id.to_owned(),
        token: token.clone(),
        self_mute: req.self_mute,
        self_deaf: req.self_deaf,
        self_video: req.self_video,
        self_stream: req.self_stream,
        mute: member.mute,
        deaf: member.deaf,
        may_speak: perms & bits::SPEAK != 0 && !member.mute,
        may_stream: perms & bits::STREAM != 0 && !member.mute,
        node: state.voice.node.clone(),
        endpoint,
        voice_node,
    };
    set(state, participant.clone());
    announce(state, &participant, render::member(member, Some(user)));
    if new_connection || rejoin || other_server {
        send_server(state, &participant);
    }
    Ok(())
}

/// What a moderator's member edit does to voice: `mute`/`deaf` change the
/// member's state at once; `channel` moves them (`Some(Some(id))`, needing
/// CONNECT there for the member too) or disconnects them (`Some(None)`).
/// Permission to do so (MUTE_MEMBERS, DEAFEN_MEMBERS, MOVE_MEMBERS) is the
/// member route's to check.
pub async fn moderate(
    state: &Domain,
    guild_id: GuildId,
    target: &UserRow,
    channel: Option<Option<ChannelId>>,
) -> Result<()> {
    let Some(current) = state.voice.get(guild_id, target.id) else {
        return match channel {
            Some(_) => Err(Error::not_in_voice()),
            None => Ok(()),
        };
    };
    let member = state.store.member(guild_id, target.id).await?.ok_or_else(Error::unknown_member)?;
    let channel_id = match channel {
        Some(None) => {
            if let Some(gone) = state.voice.get(guild_id, target.id) {
                leave(state, &gone, Some(&member), target);
            }
            return Ok(());
        }
        Some(Some(id)) => id,
        None => current.channel_id,
    };
    // The member's own permissions in the channel decide what they may do there.
    let place = access::channel(state, target, channel_id).await.map_err(|_| Error::missing_permissions())?;
    if place.guild_id() != Some(guild_id) || place.channel.kind != ChannelType::GuildVoice.code() {
        return Err(Error::wrong_channel_type());
    }
    if channel.is_some() && !place.has(bits::CONNECT) {
        return Err(Error::missing_permissions());
    }
    let mut updated = current.clone();
    updated.channel_id = channel_id;
    updated.mute = member.mute;
    updated.deaf = member.deaf;
    updated.may_speak = place.has(bits::SPEAK) && !member.mute;
    updated.may_stream = place.has(bits::STREAM) && !member.mute;
    if channel_id != current.channel_id {
        (updated.endpoint, updated.voice_node) = state.voice.place(channel_id, false);
    }
    // Gone meanwhile: nothing to change.
    if updated != current && reset(state, updated.clone()) {
        announce(state, &updated, render::member(&member, Some(target)));
        if updated.endpoint != current.endpoint {
            send_server(state, &updated);
        }
    }
    Ok(())
}

/// GUILD_CREATE's `voice_states`: the guild's participants, without the
/// guild id and member (as Discord sends them there).
pub fn guild_states(state: &Domain, guild: GuildId) -> Vec<VoiceState> {
    state
        .voice
        .in_guild(guild)
        .iter()
        .map(|p| {
            let mut v = wire(p, None);
            v.guild_id = None;
            v
        })
        .collect()
}

/// A member's voice state with their member object, as
/// `GET /guilds/{id}/voice-states/{user}` answers; `None` outside voice.
pub async fn member_state(state: &Domain, guild: GuildId, user: UserId) -> Result<Option<VoiceState>> {
    let Some(p) = state.voice.get(guild, user) else { return Ok(None) };
    let member = state.store.member(guild, user).await?;
    let row = state.store.user(user).await?;
    Ok(Some(wire(&p, member.map(|m| render::member(&m, row.as_ref())))))
}

fn announce(state: &Domain, p: &Participant, member: model::guild::Member) {
    let wire = wire(p, Some(member));
    state.bus.publish(Event::new(Dispatch::VoiceStateUpdate(Box::new(wire)), Audience::Guild(p.guild_id)));
}

/// `p` leaves voice: removed everywhere, and announced to the guild.
fn leave(state: &Domain, p: &Participant, member: Option<&store::MemberRow>, user: &UserRow) {
    if unset(state, p) {
        announce_left(state, p, member, user);
    }
}

fn announce_left(state: &Domain, p: &Participant, member: Option<&store::MemberRow>, user: &UserRow) {
    let mut wire = wire(p, member.map(|m| render::member(m, Some(user))));
    wire.channel_id = None;
    wire.self_video = false;
    wire.self_stream = false;
    state.bus.publish(Event::new(Dispatch::VoiceStateUpdate(Box::new(wire)), Audience::Guild(p.guild_id)));
}

/// Keeps this node's copy of the voice states (every node's changes, the
/// cluster's nodes) and ends the voice connections that events end: a
/// member who left or was banned, a deleted channel or guild, a gateway
/// session gone for good, and a member who lost CONNECT (a role, overwrite
/// or member change); keeps what the voice server forwards (SPEAK, STREAM,
/// server mute) current. In a cluster each node does so for the
/// participants whose gateway session it holds, and once a second looks for
/// dead nodes. The tasks hold the domain weakly, so a server that stops
/// lets them go.
pub fn listen(state: &Domain) {
    let mut sub = state.bus.subscribe();
    let weak = state.downgrade();
    tokio::spawn(async move {
        while let Some(event) = sub.recv().await {
            let Some(state) = weak.upgrade() else { break };
            let voice = &state.voice;
            match event.kind() {
                Kind::VoiceParticipant(change) => {
                    let wanted = match &change.for_node {
                        // A sync reply: news only to the node that asked,
                        // and only of what it has heard nothing newer of.
                        Some(node) => {
                            voice.node.as_ref() == Some(node) && voice.get(change.guild_id, change.user_id).is_none()
                        }
                        None => voice.in_cluster(),
                    };
                    if wanted {
                        voice.apply(change);
                    }
                    continue;
                }
                Kind::NodeAlive(alive) => {
                    voice.heard(alive);
                    continue;
                }
                // A node that just started knows no voice state yet: each
                // node tells it its own participants.
                Kind::VoiceSync(node) => {
                    if voice.node.as_ref().is_some_and(|me| me != node) {
                        // A node that starts holds no session yet: what a
                        // process of the same name held before is gone.
                        if voice.announces_without(node) {
                            ended(&state, voice.matching(|p| p.node.as_deref() == Some(node.as_str()))).await;
                        }
                        for p in voice.matching(|p| voice.mine(p)) {
                            let change = VoiceChange {
                                guild_id: p.guild_id,
                                user_id: p.user_id,
                                now: Some(Box::new(p)),
                                for_node: Some(node.clone()),
                            };
                            state.bus.publish(Event::voice_participant(change));
                        }
                    }
                    continue;
                }
                Kind::SessionClaimed(claim) => {
                    voice.claimed(claim, event.position());
                    continue;
                }
                _ => {}
            }
            // GUILD_DELETE also tells a member who left; the guild is
            // gone only when the membership change says so.
            let gone = if let Some(events::Membership::GuildDeleted(g)) = event.membership() {
                voice.matching(|p| voice.mine(p) && p.guild_id == g)
            } else {
                match event.kind() {
                    Kind::Dispatch(Dispatch::MemberRemove(u)) | Kind::Dispatch(Dispatch::BanAdd(u)) => {
                        voice.matching(|p| voice.mine(p) && p.guild_id == u.guild_id && p.user_id == u.user.id)
                    }
                    Kind::Dispatch(Dispatch::ChannelDelete(c)) => {
                        voice.matching(|p| voice.mine(p) && p.channel_id == c.id)
                    }
                    Kind::SessionEnded(s) => {
                        voice.matching(|p| voice.mine(p) && p.user_id == s.user && p.session_id == s.session_id)
                    }
                    _ => Vec::new(),
                }
            };
            ended(&state, gone).await;
            if let Some((guild, user)) = permission_change(&event) {
                if voice.in_guild(guild).iter().any(|p| voice.mine(p) && user.is_none_or(|u| u == p.user_id)) {
                    // What the cache holds may predate this event: the
                    // cache's own listener may not have seen it yet.
                    state.cache.forget(&event);
                    recheck(&state, guild, user).await;
                }
            }
        }
    });
    let Some(me) = state.voice.node.clone() else { return };
    // Listening now: the other nodes' participants, please.
    state.bus.publish(Event::voice_sync(me));
    let weak = state.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            nodes_gone(&state).await;
        }
    });
}

/// Removes participants whose voice connection events ended, and tells
/// their guilds.
async fn ended(state: &Domain, gone: Vec<Participant>) {
    let gone: Vec<Participant> = gone.into_iter().filter(|p| unset(state, p)).collect();
    for p in gone {
        let user = match state.store.user(p.user_id).await {
            Ok(Some(u)) => u,
            _ => continue,
        };
        let member = state.store.member(p.guild_id, p.user_id).await.ok().flatten();
        announce_left(state, &p, member.as_ref(), &user);
    }
}

/// What nodes that went silent leave behind: their participants whose
/// gateway session no node took over leave voice (said by the live node
/// with the smallest name). And calls on voice servers that are gone (a
/// dead node's, or one a node restarted under its name no longer has) move
/// to a live one: each node sends its own participants there.
async fn nodes_gone(state: &Domain) {
    let voice = &state.voice;
    let dead = voice.expire();
    if !dead.is_empty() {
        tracing::info!(nodes = ?dead, "voice: nodes of the cluster went silent; their participants leave or move");
    }
    // Every participant of a node that is not alive, not only of those
    // just found dead: an announcer that died before saying it is
    // replaced by the next.
    if voice.announces() {
        ended(state, voice.matching(|p| voice.orphaned(p))).await;
    }
    for p in voice.matching(|p| voice.mine(p) && p.endpoint.is_some() && !voice.serves(p)) {
        let mut moved = p.clone();
        (moved.endpoint, moved.voice_node) = voice.place(p.channel_id, false);
        if reset(state, moved.clone()) {
            send_server(state, &moved);
        }
    }
    // One call, one voice server: a call started on two nodes at once
    // gathers on the running server the channel falls to.
    let mut gather: HashMap<ChannelId, (String, String)> = HashMap::new();
    for p in voice.matching(|p| voice.serves(p)) {
        let (Some(node), Some(endpoint)) = (p.voice_node, p.endpoint) else { continue };
        let best = gather.entry(p.channel_id).or_insert_with(|| (node.clone(), endpoint.clone()));
        if rendezvous(&node, p.channel_id) > rendezvous(&best.0, p.channel_id) {
            *best = (node, endpoint);
        }
    }
    for p in voice.matching(|p| voice.mine(p) && voice.serves(p)) {
        let Some((node, endpoint)) = gather.get(&p.channel_id) else { continue };
        if p.voice_node.as_ref() == Some(node) {
            continue;
        }
        let mut moved = p.clone();
        (moved.endpoint, moved.voice_node) = (Some(endpoint.clone()), Some(node.clone()));
        if reset(state, moved.clone()) {
            send_server(state, &moved);
        }
    }
}

/// The guild (and member, when one alone is concerned) whose permissions an
/// event may have changed.
fn permission_change(event: &Event) -> Option<(GuildId, Option<UserId>)> {
    match event.dispatch()? {
        Dispatch::RoleUpdate(r) => Some((r.guild_id, None)),
        Dispatch::RoleDelete(r) => Some((r.guild_id, None)),
        Dispatch::ChannelUpdate(c) => c.guild_id.map(|g| (g, None)),
        Dispatch::GuildUpdate(g) => Some((g.id, None)),
        Dispatch::MemberUpdate(m) => Some((m.guild_id, m.member.user.as_ref().map(|u| u.id))),
        _ => None,
    }
}

/// Disconnects participants who may no longer connect where they are, and
/// updates what may be forwarded for the rest (those whose gateway session
/// is on this node).
async fn recheck(state: &Domain, guild: GuildId, only: Option<UserId>) {
    for p in state.voice.in_guild(guild) {
        if only.is_some_and(|u| u != p.user_id) || !state.voice.mine(&p) {
            continue;
        }
        let Ok(Some(user)) = state.store.user(p.user_id).await else { continue };
        let place = access::channel(state, &user, p.channel_id).await;
        let Some(place) = place.ok().filter(|c| c.has(bits::CONNECT)) else {
            if unset(state, &p) {
                let member = place_member(state, guild, p.user_id).await;
                announce_left(state, &p, member.as_ref(), &user);
            }
            continue;
        };
        let Some(member) = place.guild.as_ref().map(|g| g.member.clone()) else { continue };
        let Some(before) = state.voice.get(guild, p.user_id).filter(|x| x.session_id == p.session_id) else {
            continue;
        };
        let mut slot = before.clone();
        slot.mute = member.mute;
        slot.deaf = member.deaf;
        slot.may_speak = place.has(bits::SPEAK) && !member.mute;
        slot.may_stream = place.has(bits::STREAM) && !member.mute;
        if slot != before && reset(state, slot.clone()) && (before.mute != slot.mute || before.deaf != slot.deaf) {
            announce(state, &slot, render::member(&member, Some(&user)));
        }
    }
}

async fn place_member(state: &Domain, guild: GuildId, user: UserId) -> Option<store::MemberRow> {
    state.store.member(guild, user).await.ok().flatten()
}
