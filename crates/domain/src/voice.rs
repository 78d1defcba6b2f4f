//! Voice state: who is in which voice channel, muted or deafened by
//! themselves or by a moderator, and the token their voice connection
//! presents. The gateway's op 4 and the member routes change it here; the
//! voice server (`voice` crate) reads it to admit connections and decide
//! whose packets it forwards, and follows `VOICE_STATE_UPDATE` for changes.
//!
//! The states live in memory: a voice connection does not outlive the
//! process that holds it. A person is in one voice channel on the whole
//! server (joining elsewhere moves them); a bot may be in one per guild, as
//! on Discord, so one music bot serves many guilds.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use events::{Audience, Dispatch, Event, Kind};
use model::channel::ChannelType;
use model::permissions as bits;
use model::voice::{VoiceRegion, VoiceServerUpdate, VoiceState};
use store::{ChannelId, GuildId, UserId, UserRow};

use crate::error::{Error, Result};
use crate::{access, render, Domain};

/// One member's voice connection, as this server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub guild_id: GuildId,
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub bot: bool,
    /// The gateway session that joined.
    pub session_id: String,
    /// What the voice connection presents in its IDENTIFY.
    pub token: String,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub self_video: bool,
    pub self_stream: bool,
    /// Muted or deafened by a moderator (kept on the member).
    pub mute: bool,
    pub deaf: bool,
    /// Whether their audio is forwarded: SPEAK in the channel, not muted
    /// by a moderator. (Self-mute is the client's business: it stops sending.)
    pub may_speak: bool,
    /// Whether their video and screen share are forwarded (STREAM).
    pub may_stream: bool,
}

impl Participant {
    fn wire(&self, member: Option<model::guild::Member>) -> VoiceState {
        VoiceState {
            guild_id: Some(self.guild_id),
            channel_id: Some(self.channel_id),
            user_id: self.user_id,
            member,
            session_id: self.session_id.clone(),
            deaf: self.deaf,
            mute: self.mute,
            self_deaf: self.self_deaf,
            self_mute: self.self_mute,
            self_stream: self.self_stream,
            self_video: self.self_video,
            suppress: false,
            request_to_speak_timestamp: None,
        }
    }
}

/// The voice states of this server, and where its voice server listens.
#[derive(Debug, Default)]
pub struct VoiceStates {
    /// `host:port` of the voice gateway, as VOICE_SERVER_UPDATE names it;
    /// `None` when this server runs no voice server.
    endpoint: Option<String>,
    by_member: Mutex<HashMap<(GuildId, UserId), Participant>>,
}

impl VoiceStates {
    pub fn new(endpoint: Option<String>) -> Self {
        Self { endpoint, by_member: Mutex::default() }
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(GuildId, UserId), Participant>> {
        self.by_member.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The participant a voice connection's IDENTIFY names, if its session
    /// and token are the ones this member joined with.
    pub fn authorize(&self, guild: GuildId, user: UserId, session_id: &str, token: &str) -> Option<Participant> {
        let map = self.lock();
        let p = map.get(&(guild, user))?;
        let same = p.session_id == session_id && auth::constant_time_eq(p.token.as_bytes(), token.as_bytes());
        same.then(|| p.clone())
    }

    pub fn get(&self, guild: GuildId, user: UserId) -> Option<Participant> {
        self.lock().get(&(guild, user)).cloned()
    }

    /// Everyone in a guild's voice channels.
    pub fn in_guild(&self, guild: GuildId) -> Vec<Participant> {
        let mut all: Vec<_> = self.lock().values().filter(|p| p.guild_id == guild).cloned().collect();
        all.sort_by_key(|p| p.user_id);
        all
    }

    /// Everyone in one voice channel.
    pub fn in_channel(&self, channel: ChannelId) -> Vec<Participant> {
        let mut all: Vec<_> = self.lock().values().filter(|p| p.channel_id == channel).cloned().collect();
        all.sort_by_key(|p| p.user_id);
        all
    }

    /// How many participants there are, for metrics and tests.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove_where(&self, pred: impl Fn(&Participant) -> bool) -> Vec<Participant> {
        let mut map = self.lock();
        let gone: Vec<_> = map.iter().filter(|(_, p)| pred(p)).map(|(k, _)| *k).collect();
        gone.into_iter().filter_map(|k| map.remove(&k)).collect()
    }
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
        if let Some(gone) = state.voice.remove_where(|p| p.guild_id == req.guild_id && p.user_id == user.id).pop() {
            announce_left(state, &gone, Some(&guild.member), user);
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
        for gone in state.voice.remove_where(|p| p.user_id == user.id && p.guild_id != req.guild_id) {
            announce_left(state, &gone, None, user);
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
    };
    state.voice.lock().insert((req.guild_id, user.id), participant.clone());
    announce(state, &participant, render::member(member, Some(user)));
    if new_connection || rejoin {
        let server =
            VoiceServerUpdate { token, guild_id: req.guild_id, endpoint: state.voice.endpoint().map(str::to_owned) };
        state.bus.publish(Event::new(Dispatch::VoiceServerUpdate(server), Audience::Users(vec![user.id])));
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
            if let Some(gone) = state.voice.remove_where(|p| p.guild_id == guild_id && p.user_id == target.id).pop() {
                announce_left(state, &gone, Some(&member), target);
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
    {
        let mut map = state.voice.lock();
        // Gone meanwhile: nothing to change.
        let Some(slot) = map.get_mut(&(guild_id, target.id)).filter(|p| p.session_id == current.session_id) else {
            return Ok(());
        };
        *slot = updated.clone();
    }
    if updated != current {
        announce(state, &updated, render::member(&member, Some(target)));
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
            let mut v = p.wire(None);
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
    Ok(Some(p.wire(member.map(|m| render::member(&m, row.as_ref())))))
}

fn announce(state: &Domain, p: &Participant, member: model::guild::Member) {
    let wire = p.wire(Some(member));
    state.bus.publish(Event::new(Dispatch::VoiceStateUpdate(Box::new(wire)), Audience::Guild(p.guild_id)));
}

fn announce_left(state: &Domain, p: &Participant, member: Option<&store::MemberRow>, user: &UserRow) {
    let mut wire = p.wire(member.map(|m| render::member(m, Some(user))));
    wire.channel_id = None;
    wire.self_video = false;
    wire.self_stream = false;
    state.bus.publish(Event::new(Dispatch::VoiceStateUpdate(Box::new(wire)), Audience::Guild(p.guild_id)));
}

/// Ends the voice connections that events end: a member who left or was
/// banned, a deleted channel or guild, a gateway session gone for good, and
/// a member who lost CONNECT (a role, overwrite or member change); keeps
/// what the voice server forwards (SPEAK, STREAM, server mute) current.
/// The task holds the domain weakly, so a server that stops lets it go.
pub fn listen(state: &Domain) {
    let mut sub = state.bus.subscribe();
    let weak = state.downgrade();
    tokio::spawn(async move {
        while let Some(event) = sub.recv().await {
            let Some(state) = weak.upgrade() else { break };
            let voice = &state.voice;
            // GUILD_DELETE also tells a member who left; the guild is
            // gone only when the membership change says so.
            let gone = if let Some(events::Membership::GuildDeleted(g)) = event.membership() {
                voice.remove_where(|p| p.guild_id == g)
            } else {
                match event.kind() {
                    Kind::Dispatch(Dispatch::MemberRemove(u)) | Kind::Dispatch(Dispatch::BanAdd(u)) => {
                        voice.remove_where(|p| p.guild_id == u.guild_id && p.user_id == u.user.id)
                    }
                    Kind::Dispatch(Dispatch::ChannelDelete(c)) => voice.remove_where(|p| p.channel_id == c.id),
                    Kind::SessionEnded(s) => {
                        voice.remove_where(|p| p.user_id == s.user && p.session_id == s.session_id)
                    }
                    _ => Vec::new(),
                }
            };
            for p in gone {
                let user = match state.store.user(p.user_id).await {
                    Ok(Some(u)) => u,
                    _ => continue,
                };
                let member = state.store.member(p.guild_id, p.user_id).await.ok().flatten();
                announce_left(&state, &p, member.as_ref(), &user);
            }
            if let Some((guild, user)) = permission_change(&event) {
                if voice.in_guild(guild).iter().any(|p| user.is_none_or(|u| u == p.user_id)) {
                    // What the cache holds may predate this event: the
                    // cache's own listener may not have seen it yet.
                    state.cache.forget(&event);
                    recheck(&state, guild, user).await;
                }
            }
        }
    });
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
/// updates what may be forwarded for the rest.
async fn recheck(state: &Domain, guild: GuildId, only: Option<UserId>) {
    for p in state.voice.in_guild(guild) {
        if only.is_some_and(|u| u != p.user_id) {
            continue;
        }
        let Ok(Some(user)) = state.store.user(p.user_id).await else { continue };
        let place = access::channel(state, &user, p.channel_id).await;
        let Some(place) = place.ok().filter(|c| c.has(bits::CONNECT)) else {
            let gone = state
                .voice
                .remove_where(|x| x.guild_id == guild && x.user_id == p.user_id && x.session_id == p.session_id);
            for g in gone {
                let member = place_member(state, guild, p.user_id).await;
                announce_left(state, &g, member.as_ref(), &user);
            }
            continue;
        };
        let Some(member) = place.guild.as_ref().map(|g| g.member.clone()) else { continue };
        let changed = {
            let mut map = state.voice.lock();
            let Some(slot) = map.get_mut(&(guild, p.user_id)).filter(|x| x.session_id == p.session_id) else {
                continue;
            };
            let before = slot.clone();
            slot.mute = member.mute;
            slot.deaf = member.deaf;
            slot.may_speak = place.has(bits::SPEAK) && !member.mute;
            slot.may_stream = place.has(bits::STREAM) && !member.mute;
            (before.mute != slot.mute || before.deaf != slot.deaf).then(|| slot.clone())
        };
        if let Some(updated) = changed {
            announce(state, &updated, render::member(&member, Some(&user)));
        }
    }
}

async fn place_member(state: &Domain, guild: GuildId, user: UserId) -> Option<store::MemberRow> {
    state.store.member(guild, user).await.ok().flatten()
}
