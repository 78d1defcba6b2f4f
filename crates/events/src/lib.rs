//! Events: every change the API makes, published once with its payload
//! already serialised, and routed by the gateway to the sessions that
//! should see it. The `EventBus` trait is the seam between one process
//! (`LocalBus`) and a cluster (a message broker behind the same trait).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use model::id::{ChannelMarker, GuildMarker, UserMarker};
use model::message::Message;
use model::Id;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub mod dispatch;
pub use dispatch::Dispatch;

pub type UserId = Id<UserMarker>;
pub type GuildId = Id<GuildMarker>;
pub type ChannelId = Id<ChannelMarker>;

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    /// Every member of a guild.
    Guild(GuildId),
    /// The members of a guild holding all of `permissions`: in `channel`
    /// (its overwrites applied) when one is named, guild-wide otherwise.
    /// The gateway decides it per session from what it knows of the
    /// guild's roles, overwrites and members, so publishing lists nobody:
    /// VIEW_CHANNEL for a channel's events, MANAGE_CHANNELS in the channel
    /// for its invites, VIEW_AUDIT_LOG for audit entries, MANAGE_GUILD for
    /// AutoMod.
    Permitted { guild: GuildId, channel: Option<ChannelId>, permissions: u64 },
    /// These users, in all their sessions (DM recipients, a user's own
    /// sessions).
    Users(Vec<UserId>),
    /// These members of a guild only.
    GuildUsers { guild: GuildId, users: Vec<UserId> },
}

impl Audience {
    /// Those who may view `channel` of `guild`.
    pub fn channel(guild: GuildId, channel: ChannelId) -> Self {
        Audience::Permitted { guild, channel: Some(channel), permissions: model::permissions::VIEW_CHANNEL }
    }

    /// The members holding `permissions` guild-wide.
    pub fn permitted(guild: GuildId, permissions: u64) -> Self {
        Audience::Permitted { guild, channel: None, permissions }
    }
}

/// A change to who belongs where, applied by the gateway before the event
/// itself is delivered (so a new member receives the guild's GUILD_CREATE)
/// or after it (so a leaving member still receives GUILD_DELETE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Membership {
    Joined { user: UserId, guild: GuildId },
    Left { user: UserId, guild: GuildId },
    GuildDeleted(GuildId),
}

/// Who may see a message's content without the MESSAGE_CONTENT intent: its
/// author and the users it mentions (DMs are never gated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentGate {
    /// The payload with content, embeds, attachments and components emptied,
    /// in the message and in the message it replies to.
    pub redacted: Bytes,
    pub author: UserId,
    pub mentioned: Vec<UserId>,
    /// For a reply: the replied-to message is gated by its own author and
    /// mentions.
    pub reply: Option<ReplyGate>,
}

/// The content gate of the message a reply carries (`referenced_message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyGate {
    pub author: UserId,
    pub mentioned: Vec<UserId>,
    /// The message's content shown, the replied-to one's emptied.
    pub reply_redacted: Bytes,
    /// The message's content emptied, the replied-to one's shown.
    pub message_redacted: Bytes,
}

impl ContentGate {
    /// The payload a recipient without MESSAGE_CONTENT gets: `full` where
    /// it may see both contents, else the variant that empties what it may
    /// not see.
    pub fn payload_for(&self, user: UserId, full: &Bytes) -> Bytes {
        let sees_message = self.author == user || self.mentioned.contains(&user);
        let sees_reply = self.reply.as_ref().map(|r| r.author == user || r.mentioned.contains(&user));
        match (sees_message, sees_reply) {
            (true, None | Some(true)) => full.clone(),
            (true, Some(false)) => self.reply.as_ref().expect("a reply").reply_redacted.clone(),
            (false, Some(true)) => self.reply.as_ref().expect("a reply").message_redacted.clone(),
            (false, _) => self.redacted.clone(),
        }
    }
}

/// Who is online now, as the gateway knows it: the API asks it which
/// members `@here` reaches. The gateway's hub implements it; the API is
/// given one at start-up, so neither transport imports the other.
pub trait Presences: Send + Sync {
    /// The members of `guild` connected now (a gateway session that
    /// receives the guild's events, whatever its status: someone invisible
    /// is still there).
    fn online_members(&self, guild: GuildId) -> Vec<UserId>;

    /// How many members of `guild` show as online here (online, idle or
    /// do-not-disturb; invisible counts as offline): the
    /// `approximate_presence_count` of invites and guilds (`with_counts=true`).
    fn online_count(&self, guild: GuildId) -> u64;

    /// Whether sessions can be served now: in a cluster, whether their
    /// shared resume state is being written. For readiness probes; never
    /// blocks.
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Tokens of one user that stopped working (logout, password change, MFA
/// turned on or off, bot token reset), by their stored hashes: the gateway
/// closes connections that authenticated with them (4004).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub user: UserId,
    pub tokens: RevokedTokens,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RevokedTokens {
    /// Every token of the user but this one (the one just issued).
    AllBut(String),
    These(Vec<String>),
}

impl RevokedTokens {
    pub fn covers(&self, token_hash: &str) -> bool {
        match self {
            RevokedTokens::AllBut(kept) => kept != token_hash,
            RevokedTokens::These(hashes) => hashes.iter().any(|h| h == token_hash),
        }
    }
}

/// A presence a person set through the API (their saved status or custom
/// status), for every node's gateway to apply to the user's sessions there
/// as if they had sent op 3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub user: UserId,
    /// `online`, `idle`, `dnd` or `invisible`; `None` keeps the current one.
    pub status: Option<String>,
    /// The custom status activity: `None` keeps it, `Some(None)` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "model::nullable")]
    pub custom_status: Option<Option<CustomActivity>>,
}

/// A custom status as the presence's type 4 activity shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomActivity {
    pub text: Option<String>,
    pub emoji_name: Option<String>,
}

/// What an event does: a dispatch for clients, or one of the two changes
/// the gateway applies itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    Dispatch(Dispatch),
    /// Tokens that stopped working: closes connections, dispatches nothing.
    TokensRevoked(Revocation),
    /// A presence set through the API: the gateway changes the user's
    /// presence, which it then announces itself.
    PresenceChanged(PresenceChange),
    /// A gateway session ended for good (it can no longer be resumed):
    /// what hung on it, such as a voice connection, ends too.
    SessionEnded(SessionEnd),
    /// A node of a cluster takes over a session a client resumed there:
    /// the node that held it lets it go at this point of the stream.
    SessionClaimed(SessionClaim),
    /// A user's presence on one node of a cluster, for the others' view of
    /// who is online.
    NodePresence(NodePresence),
    /// A node of a cluster is alive (sent every second); one not heard of
    /// for `NODE_TIMEOUT` is dead, and its users go offline.
    NodeAlive(NodeAlive),
    /// A member's voice connection as it now is (or gone), for every node's
    /// copy of who is in which voice channel and for the voice servers.
    VoiceParticipant(VoiceChange),
    /// A node that just started asks the others for every participant they
    /// answer for (as `VoiceParticipant` changes).
    VoiceSync(String),
}

/// How long a node of a cluster may go unheard (no `NodeAlive`) before the
/// others take it for dead.
pub const NODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A node's heartbeat: its name, and where its voice server is, if it runs
/// one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAlive {
    pub node: String,
    #[serde(default)]
    pub voice_endpoint: Option<String>,
}

/// A member's voice connection changed: `now` is what it is, `None` when
/// they left voice in that guild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceChange {
    pub guild_id: GuildId,
    pub user_id: UserId,
    pub now: Option<Box<VoiceParticipant>>,
    /// A reply to a starting node's VOICE_SYNC: for that node alone, which
    /// takes it only if it has heard nothing newer of the participant.
    #[serde(default)]
    pub for_node: Option<String>,
}

/// One member's voice connection, as the server keeps it (the wire
/// `VoiceState` is made from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceParticipant {
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
    /// The cluster node holding their gateway session (`None` on a server
    /// of one node).
    #[serde(default)]
    pub node: Option<String>,
    /// The voice server they were sent to (VOICE_SERVER_UPDATE's
    /// endpoint), and the node it runs on.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub voice_node: Option<String>,
}

/// A user's presence on `node`: `status` `None` when they have no session
/// there any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePresence {
    pub node: String,
    pub user: UserId,
    pub status: Option<String>,
    #[serde(default)]
    pub activities: Vec<serde_json::Value>,
    /// The guilds of their sessions there.
    #[serde(default)]
    pub guilds: Vec<GuildId>,
}

/// Which session a node takes over, and which node (see [`Kind::SessionClaimed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaim {
    pub session_id: String,
    pub node: String,
    /// Where in the stream the latest claim of the session was that the
    /// claiming node had read when it claimed (0: none). A claim made
    /// before an earlier one was read loses to it.
    #[serde(default)]
    pub seen: u64,
}

/// Which session ended, and whose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    pub user: UserId,
    pub session_id: String,
}

/// One event and who it is for. The payload is serialised once, when the
/// event is made, and shared by every session that receives it; `encode`
/// and `decode` carry the event (not its derived bytes) across a process
/// boundary.
#[derive(Debug, Clone)]
pub struct Event {
    kind: Kind,
    audience: Audience,
    membership: Option<Membership>,
    /// The serialised `d` of a dispatch.
    data: Bytes,
    content_gate: Option<ContentGate>,
    /// For a reply in a guild: the payload of those who may not read the
    /// channel's history (the reply without `referenced_message`),
    /// serialised once, when the first of them needs it.
    unreferenced: OnceLock<Unreferenced>,
    /// Where the event sits in a durable stream (a cluster's), counted
    /// from 1; 0 for an event that went through no such stream.
    position: u64,
    /// The W3C `traceparent` of the span that published the event, when
    /// spans are exported: the gateway's dispatch continues that trace,
    /// on whichever node it runs.
    traceparent: Option<String>,
}

/// A guild reply without the message it answers: in full, and with its
/// content emptied for bots without MESSAGE_CONTENT.
#[derive(Debug, Clone)]
struct Unreferenced {
    data: Bytes,
    redacted: Bytes,
}

/// What crosses a process boundary: the event without its derived bytes.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kind: Kind,
    audience: Audience,
    membership: Option<Membership>,
    /// Absent when untraced: nodes of an older version read the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
}

fn bytes<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("wire types always serialise"))
}

impl Event {
    /// A dispatch to `audience`.
    pub fn new(dispatch: Dispatch, audience: Audience) -> Self {
        Self::build(Kind::Dispatch(dispatch), audience, None)
    }

    fn build(kind: Kind, audience: Audience, membership: Option<Membership>) -> Self {
        let (data, content_gate) = match &kind {
            Kind::Dispatch(d) => (dispatch_data(d), content_gate(d)),
            _ => (Bytes::new(), None),
        };
        Self {
            kind,
            audience,
            membership,
            data,
            content_gate,
            unreferenced: OnceLock::new(),
            position: 0,
            traceparent: None,
        }
    }

    /// Tokens that stopped working; never dispatched to anyone.
    pub fn tokens_revoked(user: UserId, tokens: RevokedTokens) -> Self {
        Self::build(Kind::TokensRevoked(Revocation { user, tokens }), Audience::Users(vec![user]), None)
    }

    /// A presence set through the API; never dispatched as it is.
    pub fn presence_changed(change: PresenceChange) -> Self {
        let user = change.user;
        Self::build(Kind::PresenceChanged(change), Audience::Users(vec![user]), None)
    }

    /// A gateway session that ended for good; never dispatched.
    pub fn session_ended(user: UserId, session_id: String) -> Self {
        Self::build(Kind::SessionEnded(SessionEnd { user, session_id }), Audience::Users(Vec::new()), None)
    }

    /// A node taking over a session; never dispatched.
    pub fn session_claimed(session_id: String, node: String, seen: u64) -> Self {
        Self::build(Kind::SessionClaimed(SessionClaim { session_id, node, seen }), Audience::Users(Vec::new()), None)
    }

    /// A user's presence on one node; never dispatched as it is.
    pub fn node_presence(presence: NodePresence) -> Self {
        Self::build(Kind::NodePresence(presence), Audience::Users(Vec::new()), None)
    }

    /// A node's heartbeat; never dispatched.
    pub fn node_alive(node: String, voice_endpoint: Option<String>) -> Self {
        Self::build(Kind::NodeAlive(NodeAlive { node, voice_endpoint }), Audience::Users(Vec::new()), None)
    }

    /// A node asking for the others' voice participants; never dispatched.
    pub fn voice_sync(node: String) -> Self {
        Self::build(Kind::VoiceSync(node), Audience::Users(Vec::new()), None)
    }

    /// A member's voice connection as it now is; never dispatched (its
    /// VOICE_STATE_UPDATE is an event of its own).
    pub fn voice_participant(change: VoiceChange) -> Self {
        Self::build(Kind::VoiceParticipant(change), Audience::Users(Vec::new()), None)
    }

    /// The event as read from a durable stream at `position`.
    pub fn at(mut self, position: u64) -> Self {
        self.position = position;
        self
    }

    /// Where the event sits in its durable stream; 0 if it went through none.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The event as published from within the span `traceparent` names.
    pub fn traced(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The W3C `traceparent` of the span that published the event, if
    /// that span was exported.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    pub fn with_membership(mut self, m: Membership) -> Self {
        self.membership = Some(m);
        self
    }

    /// The event as bytes, for a bus between processes.
    pub fn encode(&self) -> Vec<u8> {
        let envelope = Envelope {
            kind: self.kind.clone(),
            audience: self.audience.clone(),
            membership: self.membership,
            traceparent: self.traceparent.clone(),
        };
        serde_json::to_vec(&envelope).expect("events always serialise")
    }

    /// An event from `encode`'s bytes, its payload serialised anew.
    pub fn decode(raw: &[u8]) -> Result<Self, serde_json::Error> {
        let e: Envelope = serde_json::from_slice(raw)?;
        Ok(Self::build(e.kind, e.audience, e.membership).traced(e.traceparent))
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    pub fn dispatch(&self) -> Option<&Dispatch> {
        match &self.kind {
            Kind::Dispatch(d) => Some(d),
            _ => None,
        }
    }

    /// The dispatch name, e.g. `MESSAGE_CREATE`.
    pub fn name(&self) -> &'static str {
        match &self.kind {
            Kind::Dispatch(d) => d.name(),
            Kind::TokensRevoked(_) => "TOKENS_REVOKED",
            Kind::PresenceChanged(_) => "PRESENCE_CHANGE",
            Kind::SessionEnded(_) => "SESSION_ENDED",
            Kind::SessionClaimed(_) => "SESSION_CLAIMED",
            Kind::NodePresence(_) => "NODE_PRESENCE",
            Kind::NodeAlive(_) => "NODE_ALIVE",
            Kind::VoiceParticipant(_) => "VOICE_PARTICIPANT",
            Kind::VoiceSync(_) => "VOICE_SYNC",
        }
    }

    /// The serialised `d` of the dispatch, shared by every receiver.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// Intent bits a bot session needs (any one of them) to receive this;
    /// 0 for events every session receives.
    pub fn intents(&self) -> u64 {
        self.dispatch().map_or(0, Dispatch::intents)
    }

    pub fn content_gate(&self) -> Option<&ContentGate> {
        self.content_gate.as_ref()
    }

    /// Whether what a recipient gets depends on its READ_MESSAGE_HISTORY in
    /// the event's channel: a guild reply carrying the message it answers,
    /// which only those who may read the history see (as on the REST
    /// routes).
    pub fn history_gated(&self) -> bool {
        self.replied(|_| ()).is_some()
    }

    fn replied<T>(&self, f: impl FnOnce(&Message) -> T) -> Option<T> {
        match self.dispatch()? {
            Dispatch::MessageCreate(m) | Dispatch::MessageUpdate(m)
                if m.guild_id.is_some() && matches!(m.referenced_message, Some(Some(_))) =>
            {
                Some(f(m))
            }
            _ => None,
        }
    }

    /// The payload one recipient gets: `user`, who sees every message's
    /// content when `all_content` (people, and bots with MESSAGE_CONTENT;
    /// otherwise only its own messages and those that mention it), and
    /// may read the channel's history when `history`. Every variant is
    /// serialised once and shared by all who get it.
    pub fn payload_for(&self, user: UserId, all_content: bool, history: bool) -> Bytes {
        let gate = self.content_gate.as_ref().filter(|_| !all_content && self.guild().is_some());
        if !history {
            if let Some(u) = self.unreferenced() {
                let sees = gate.is_none_or(|g| g.author == user || g.mentioned.contains(&user));
                return if sees { u.data.clone() } else { u.redacted.clone() };
            }
        }
        match gate {
            Some(gate) => gate.payload_for(user, &self.data),
            None => self.data.clone(),
        }
    }

    fn unreferenced(&self) -> Option<&Unreferenced> {
        if !self.history_gated() {
            return None;
        }
        Some(self.unreferenced.get_or_init(|| {
            self.replied(|m| {
                let mut m = m.clone();
                m.referenced_message = None;
                let data = bytes(&m);
                m.redact();
                Unreferenced { data, redacted: bytes(&m) }
            })
            .expect("a guild reply")
        }))
    }

    pub fn membership(&self) -> Option<Membership> {
        self.membership
    }

    /// Whether the event is a guild's traffic: frequent, and for the
    /// guild's sessions alone (messages, reactions, typing, presences other
    /// than going offline, voice states). A node of a cluster reads a
    /// guild's traffic only while a session of its is in the guild (see
    /// [`EventBus::follow`]). Every other event (what changes a guild, its
    /// channels, roles, members and rules, memberships, voice participants,
    /// sessions, nodes, and everything outside guilds) every node reads:
    /// its caches, AutoMod and voice depend on them.
    pub fn is_traffic(&self) -> bool {
        use Dispatch::*;
        if self.membership.is_some() || self.guild().is_none() {
            return false;
        }
        match &self.kind {
            Kind::Dispatch(d) => match d {
                MessageCreate(_)
                | MessageUpdate(_)
                | MessageDelete(_)
                | MessageDeleteBulk(_)
                | ReactionAdd(_)
                | ReactionRemove(_)
                | ReactionRemoveEmoji(_)
                | ReactionRemoveAll(_)
                | TypingStart(_)
                | VoiceStateUpdate(_) => true,
                // Going offline also tells every node the user is gone
                // from the cluster's view of who is online.
                PresenceUpdate(p) => p.status != "offline",
                _ => false,
            },
            _ => false,
        }
    }

    /// The guild the event belongs to, for sharding.
    pub fn guild(&self) -> Option<GuildId> {
        match &self.audience {
            Audience::Guild(g) | Audience::Permitted { guild: g, .. } | Audience::GuildUsers { guild: g, .. } => {
                Some(*g)
            }
            Audience::Users(_) => match self.membership {
                Some(Membership::Joined { guild, .. } | Membership::Left { guild, .. }) => Some(guild),
                Some(Membership::GuildDeleted(g)) => Some(g),
                None => None,
            },
        }
    }
}

fn dispatch_data(d: &Dispatch) -> Bytes {
    use Dispatch::*;
    match d {
        MessageCreate(m) | MessageUpdate(m) => bytes(m),
        MessageDelete(x) => bytes(x),
        MessageDeleteBulk(x) => bytes(x),
        ReactionAdd(x) => bytes(x),
        ReactionRemove(x) => bytes(x),
        ReactionRemoveEmoji(x) => bytes(x),
        ReactionRemoveAll(x) => bytes(x),
        ChannelPinsUpdate(x) => bytes(x),
        TypingStart(x) => bytes(x),
        ChannelCreate(c) | ChannelUpdate(c) | ChannelDelete(c) => bytes(c),
        GuildCreate(x) => bytes(x),
        GuildUpdate(x) => bytes(x),
        GuildDelete(x) => bytes(x),
        MemberAdd(x) | MemberUpdate(x) => bytes(x),
        MemberRemove(x) | BanAdd(x) | BanRemove(x) => bytes(x),
        RoleCreate(x) | RoleUpdate(x) => bytes(x),
        RoleDelete(x) => bytes(x),
        EmojisUpdate(x) => bytes(x),
        StickersUpdate(x) => bytes(x),
        InviteCreate(x) => bytes(x),
        InviteDelete(x) => bytes(x),
        WebhooksUpdate(x) => bytes(x),
        InteractionCreate(x) => bytes(x),
        InteractionSuccess(x) | InteractionFailure(x) => bytes(x),
        InteractionModalCreate(x) => bytes(x),
        AutocompleteResponse(x) => bytes(x),
        AuditLogEntryCreate(x) => bytes(x),
        AutoModRuleCreate(x) | AutoModRuleUpdate(x) | AutoModRuleDelete(x) => bytes(x),
        AutoModActionExecution(x) => bytes(x),
        RelationshipAdd(x) => bytes(x),
        RelationshipRemove(x) => bytes(x),
        MessageAck(x) => bytes(x),
        UserSettingsUpdate(x) => bytes(x),
        UserUpdate(x) => bytes(x),
        PresenceUpdate(x) => bytes(x),
        VoiceStateUpdate(x) => bytes(x),
        VoiceServerUpdate(x) => bytes(x),
    }
}

/// The payloads a bot without MESSAGE_CONTENT may get of a guild message
/// (its content and the replied-to message's emptied, each alone or both)
/// or of an AutoMod execution; `None` for every other event.
fn content_gate(d: &Dispatch) -> Option<ContentGate> {
    match d {
        Dispatch::MessageCreate(m) | Dispatch::MessageUpdate(m) if m.guild_id.is_some() => Some(message_gate(m)),
        Dispatch::AutoModActionExecution(e) => {
            Some(ContentGate { redacted: bytes(&e.redacted()), author: e.user_id, mentioned: Vec::new(), reply: None })
        }
        _ => None,
    }
}

fn message_gate(message: &Message) -> ContentGate {
    let mentioned = |m: &Message| m.mentions.iter().map(|u| u.id).collect::<Vec<_>>();
    let mut redacted = message.clone();
    redacted.redact();
    let reply = match &message.referenced_message {
        Some(Some(reply)) => {
            let mut reply_redacted = message.clone();
            let mut both = redacted.clone();
            for m in [&mut reply_redacted, &mut both] {
                if let Some(Some(r)) = m.referenced_message.as_mut() {
                    r.redact();
                }
            }
            let gate = ReplyGate {
                author: reply.author.id,
                mentioned: mentioned(reply),
                reply_redacted: bytes(&reply_redacted),
                message_redacted: bytes(&redacted),
            };
            redacted = both;
            Some(gate)
        }
        _ => None,
    };
    ContentGate { redacted: bytes(&redacted), author: message.author.id, mentioned: mentioned(message), reply }
}

/// Gateway intents as Discord defines them.
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_MODERATION: u64 = 1 << 2;
    pub const GUILD_EXPRESSIONS: u64 = 1 << 3;
    pub const GUILD_INTEGRATIONS: u64 = 1 << 4;
    pub const GUILD_WEBHOOKS: u64 = 1 << 5;
    pub const GUILD_INVITES: u64 = 1 << 6;
    pub const GUILD_VOICE_STATES: u64 = 1 << 7;
    pub const GUILD_PRESENCES: u64 = 1 << 8;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    pub const GUILD_MESSAGE_TYPING: u64 = 1 << 11;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
    pub const DIRECT_MESSAGE_TYPING: u64 = 1 << 14;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    pub const GUILD_SCHEDULED_EVENTS: u64 = 1 << 16;
    pub const AUTO_MODERATION_CONFIGURATION: u64 = 1 << 20;
    pub const AUTO_MODERATION_EXECUTION: u64 = 1 << 21;
    pub const GUILD_MESSAGE_POLLS: u64 = 1 << 24;
    pub const DIRECT_MESSAGE_POLLS: u64 = 1 << 25;

    /// Every intent Discord defines.
    pub const ALL: u64 = GUILDS
        | GUILD_MEMBERS
        | GUILD_MODERATION
        | GUILD_EXPRESSIONS
        | GUILD_INTEGRATIONS
        | GUILD_WEBHOOKS
        | GUILD_INVITES
        | GUILD_VOICE_STATES
        | GUILD_PRESENCES
        | GUILD_MESSAGES
        | GUILD_MESSAGE_REACTIONS
        | GUILD_MESSAGE_TYPING
        | DIRECT_MESSAGES
        | DIRECT_MESSAGE_REACTIONS
        | DIRECT_MESSAGE_TYPING
        | MESSAGE_CONTENT
        | GUILD_SCHEDULED_EVENTS
        | AUTO_MODERATION_CONFIGURATION
        | AUTO_MODERATION_EXECUTION
        | GUILD_MESSAGE_POLLS
        | DIRECT_MESSAGE_POLLS;

    /// Intents a bot may only use when its application allows them.
    pub const PRIVILEGED: u64 = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT;
}

/// Carries events from where changes happen to where sessions live.
pub trait EventBus: Send + Sync {
    /// Never blocks: publishing happens on the request path.
    fn publish(&self, event: Event);
    /// A stream of every event published from now on.
    fn subscribe(&self) -> Subscription;
    /// Whether a published event would reach anyone now, for readiness
    /// probes. Never blocks.
    fn ready(&self) -> Result<(), BusUnavailable>;
    /// The events of a durable stream after `after` up to `through`
    /// (positions), in order, each with its position: what a node that
    /// takes over a session reads of what the session's old node may not
    /// have handled. A bus without a durable stream has none.
    fn replay(&self, after: u64, through: u64) -> BoxFuture<'_, Result<Vec<Event>, BusUnavailable>> {
        let _ = (after, through);
        Box::pin(async { Err(BusUnavailable("this event bus keeps no stream to replay".into())) })
    }

    /// Whether this node reads `guild`'s traffic ([`Event::is_traffic`]):
    /// `Some(period)` while it does, a new period each time it starts to
    /// again (what was learnt of the traffic in an earlier period may have
    /// gaps), `None` while it does not. A bus that carries every event
    /// follows every guild, in one period.
    fn follows(&self, guild: GuildId) -> Option<u64> {
        let _ = guild;
        Some(0)
    }

    /// Has this node read the traffic of `guilds` too. Resolves once it
    /// does: every event of theirs the stream holds after the last event
    /// this node had read then reaches the subscribers. (So what was
    /// stored before that is in the store for whoever reads after.)
    fn follow(&self, guilds: &[GuildId]) -> BoxFuture<'_, ()> {
        let _ = guilds;
        Box::pin(async {})
    }

    /// A mark for [`EventBus::unfollow_except`], taken before looking at
    /// which guilds are still wanted.
    fn interest_mark(&self) -> u64 {
        0
    }

    /// Stops reading the traffic of the guilds not in `keep`, save those
    /// followed again since `mark` was taken, or since the event at
    /// `routed` (a join: see [`EventBus::watch_joins`]) when the caller's
    /// `keep` reflects the events up to that one.
    fn unfollow_except(&self, keep: &HashSet<GuildId>, mark: u64, routed: u64) {
        let _ = (keep, mark, routed);
    }

    /// Tells the bus whose sessions this node holds: when one of them
    /// joins a guild, the bus follows the guild from that event on, before
    /// it hands on anything after it.
    fn watch_joins(&self, holds: Arc<dyn Fn(UserId) -> bool + Send + Sync>) {
        let _ = holds;
    }
}

/// A boxed future, as [`EventBus::replay`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Why the bus cannot carry events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct BusUnavailable(pub String);

/// Events for one subscriber, in publish order.
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
}

impl Subscription {
    /// A subscription fed by another bus (a cluster's) through `rx`.
    pub fn new(rx: mpsc::UnboundedReceiver<Arc<Event>>) -> Self {
        Self { rx }
    }

    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }
}

/// The in-process bus. Subscribers get an unbounded queue: the one
/// subscriber per process (the gateway) only hands events to per-connection
/// bounded queues and never waits, so its queue stays short.
#[derive(Default)]
pub struct LocalBus {
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Arc<Event>>>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: Event) {
        let event = Arc::new(event);
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|tx| tx.send(event.clone()).is_ok());
    }

    fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        Subscription { rx }
    }

    /// Ready while someone listens: in one process that is the gateway's
    /// dispatcher, and if it has died every event would be lost.
    fn ready(&self) -> Result<(), BusUnavailable> {
        let subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        if subs.iter().any(|tx| !tx.is_closed()) {
            Ok(())
        } else {
            Err(BusUnavailable("no subscriber is listening".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guilds_messages_and_typing_are_traffic_its_changes_and_memberships_are_not() {
        let g = Id::new_checked(1).unwrap();
        let typing = |audience| {
            let t = dispatch::TypingStart {
                channel_id: Id::new_checked(2).unwrap(),
                guild_id: Some(g),
                user_id: Id::new_checked(3).unwrap(),
                timestamp: 0,
                member: None,
            };
            Event::new(Dispatch::TypingStart(t), audience)
        };
        assert!(typing(Audience::channel(g, Id::new_checked(2).unwrap())).is_traffic());
        // Outside a guild: every node reads it.
        assert!(!typing(Audience::Users(vec![Id::new_checked(3).unwrap()])).is_traffic());
        let joined = Event::new(Dispatch::UserSettingsUpdate(serde_json::json!({})), Audience::Guild(g))
            .with_membership(Membership::Joined { user: Id::new_checked(3).unwrap(), guild: g });
        assert!(!joined.is_traffic());
        let rules = Event::new(Dispatch::UserSettingsUpdate(serde_json::json!({})), Audience::Guild(g));
        assert!(!rules.is_traffic());
    }

    fn numbered(n: u64) -> Event {
        Event::new(Dispatch::UserSettingsUpdate(serde_json::json!({ "n": n })), Audience::Users(vec![]))
    }

    #[tokio::test]
    async fn subscribers_receive_events_in_order() {
        let bus = LocalBus::new();
        let mut a = bus.subscribe();
        let mut b = bus.subscribe();
        for n in [1, 2] {
            bus.publish(numbered(n));
        }
        for sub in [&mut a, &mut b] {
            assert_eq!(sub.recv().await.unwrap().data().as_ref(), br#"{"n":1}"#);
            assert_eq!(sub.recv().await.unwrap().data().as_ref(), br#"{"n":2}"#);
        }
        drop(a);
        bus.publish(numbered(3));
        assert_eq!(b.recv().await.unwrap().data().as_ref(), br#"{"n":3}"#);
        assert_eq!(bus.subscribers.lock().unwrap().len(), 1, "a dropped subscriber is forgotten");
    }

    #[test]
    fn the_trace_context_crosses_a_process_boundary_only_when_there_is_one() {
        let plain = numbered(1).encode();
        assert!(!String::from_utf8_lossy(&plain).contains("traceparent"), "untraced events carry no field");
        assert_eq!(Event::decode(&plain).unwrap().traceparent(), None);
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let traced = Event::decode(&numbered(2).traced(Some(tp.into())).encode()).unwrap();
        assert_eq!(traced.traceparent(), Some(tp));
        assert_eq!(traced.data().as_ref(), br#"{"n":2}"#);
    }

    #[test]
    fn ready_only_while_someone_listens() {
        let bus = LocalBus::new();
        assert!(bus.ready().is_err(), "nobody subscribed yet");
        let sub = bus.subscribe();
        assert_eq!(bus.ready(), Ok(()));
        drop(sub);
        assert!(bus.ready().is_err(), "the only subscriber went away");
    }
}
