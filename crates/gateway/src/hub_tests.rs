//! Unit tests of the hub's routing, driven through `Hub::route` with real
//! sessions attached to in-memory queues (no socket): audiences, intents,
//! shards, the content gate, membership changes, token revocation,
//! presences, friends, and the sessions it keeps or lets go.
//!
//! Events are built by the small helpers below, so that a change of the
//! event type touches them and not the tests.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use events::{intents, Audience, CustomActivity, Event, LocalBus, PresenceChange, RevokedTokens, Subscription};
use futures::FutureExt;
use model::channel::Channel;
use serde_json::{json, Value};

use super::*;
use crate::session::{Detached, Frame, Outlet, Session};
use crate::test_events::*;

// ---- events, as the domain publishes them (more in test_events.rs) ----

fn presence_change(user: UserId, status: Option<&str>, custom: Option<Option<&str>>) -> Event {
    Event::presence_changed(PresenceChange {
        user,
        status: status.map(str::to_owned),
        custom_status: custom.map(|c| c.map(|text| CustomActivity { text: Some(text.into()), emoji_name: None })),
    })
}

/// INVITE_DELETE to these members of a guild only.
fn invite_to(g: GuildId, users: &[UserId]) -> Event {
    let data = events::dispatch::InviteDelete { guild_id: g, channel_id: channel(1), code: "abc".into() };
    Event::new(Dispatch::InviteDelete(data), Audience::GuildUsers { guild: g, users: users.to_vec() })
}

/// A member's PRESENCE_UPDATE to their guild.
fn guild_presence(g: GuildId, u: UserId) -> Event {
    let p = presence_payload(u, Some(g), &UserPresence { status: "online".into(), activities: Vec::new() });
    Event::new(Dispatch::PresenceUpdate(Box::new(p)), Audience::Guild(g))
}

// ---- a hub and its sessions ----

/// A guild on shard `n % shards` of any shard count (Discord's formula
/// looks at the bits above the low 22).
fn guild(n: u64) -> GuildId {
    GuildId::new((n << 22) | 0x1234)
}

/// A SQLite file for the store the hub is given (routing never reads it),
/// removed when the test ends.
struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

struct Fixture {
    hub: Arc<Hub>,
    /// What the hub publishes itself (presence announcements).
    bus: Subscription,
    /// Sessions whose end for good the hub announced.
    ended: Vec<String>,
    _db: TempDb,
}

async fn fixture(config: GatewayConfig) -> Fixture {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "fussioncord-gateway-hub-{}-{}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let db = TempDb(path);
    let store = store::SqlStore::open_sqlite(&db.0).await.expect("opening a SQLite store");
    let bus = Arc::new(LocalBus::new());
    let sub = bus.subscribe();
    let hub = Hub::new(
        config,
        Arc::new(store),
        bus,
        Arc::new(Metrics::new()),
        Arc::new(ratelimit::LocalLimiter::new()),
        Vec::new(),
        tokio::runtime::Handle::current(),
    );
    Fixture { hub, bus: sub, ended: Vec::new(), _db: db }
}

impl Fixture {
    /// Everything the hub published since the last call.
    /// The dispatches the hub published since last asked; the sessions
    /// that ended for good are kept in `ended`.
    fn published(&mut self) -> Vec<Arc<Event>> {
        let all: Vec<Arc<Event>> = std::iter::from_fn(|| self.bus.recv().now_or_never().flatten()).collect();
        let (ended, dispatches): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|e| matches!(e.kind(), events::Kind::SessionEnded(_)));
        self.ended.extend(ended.iter().map(|e| match e.kind() {
            events::Kind::SessionEnded(s) => s.session_id.clone(),
            _ => unreachable!(),
        }));
        dispatches
    }

    /// An identified session, attached to a queue of `capacity`, as IDENTIFY
    /// leaves it.
    fn connect(&self, spec: Spec) -> Conn {
        let session = Arc::new(Session::new(
            spec.id.into(),
            spec.user,
            spec.bot,
            spec.intents,
            spec.shard,
            spec.guilds.iter().copied().collect(),
            self.hub.config.resume_buffer,
            spec.token.into(),
        ));
        let outlet = session.attach(Some(0), spec.capacity).unwrap();
        assert_eq!(session.take(&outlet), Ok(None));
        // As IDENTIFY reads them: the guilds' views, with this member
        // (an open guild of channels 1 to 10 unless a test made its own).
        for g in &spec.guilds {
            let mut reg = self.hub.registry();
            let view = reg.views.entry(*g).or_insert_with(|| open_view(*g));
            if !view.has_member(spec.user) {
                view.set_member(spec.user, MemberView::of(&member_obj(*g, spec.user, &[])));
            }
        }
        self.hub.register(session.clone());
        Conn { session, outlet }
    }

    /// Replaces a guild's view: its owner, roles and channels, and each
    /// member connected here with their roles.
    fn view(
        &self,
        g: GuildId,
        owner: UserId,
        roles: &[store::RoleRow],
        channels: &[Channel],
        members: &[(UserId, &[store::RoleId])],
    ) {
        let roles: Vec<model::guild::Role> = roles.iter().map(domain::render::role).collect();
        let mut view = GuildView::new(g, owner, &roles, channels.iter().cloned(), false);
        for (u, r) in members {
            view.set_member(*u, MemberView::of(&member_obj(g, *u, r)));
        }
        self.hub.registry().views.insert(g, view);
    }

    fn route(&self, event: &Event) {
        self.hub.route(event)
    }

    fn online(&self, user: UserId, status: &str, guilds: &[GuildId]) {
        self.hub.set_presence(user, UserPresence { status: status.into(), activities: Vec::new() }, guilds);
    }
}

/// A guild whose channels 1 to 10 every member may see.
fn open_view(g: GuildId) -> GuildView {
    let roles = [domain::render::role(&everyone(g))];
    GuildView::new(g, user(999), &roles, (1..=10).map(|c| channel_obj(g, channel(c), &[])), false)
}

struct Spec {
    id: &'static str,
    user: UserId,
    bot: bool,
    intents: u64,
    shard: (u64, u64),
    guilds: Vec<GuildId>,
    token: &'static str,
    capacity: usize,
}

/// A person's session: no intents sent, so all of them (as conn does).
fn person(id: &'static str, user: UserId, guilds: &[GuildId]) -> Spec {
    Spec {
        id,
        user,
        bot: false,
        intents: intents::ALL,
        shard: (0, 1),
        guilds: guilds.to_vec(),
        token: "token",
        capacity: 64,
    }
}

fn bot(id: &'static str, user: UserId, intents: u64, guilds: &[GuildId]) -> Spec {
    Spec { bot: true, intents, ..person(id, user, guilds) }
}

struct Conn {
    session: Arc<Session>,
    outlet: Outlet,
}

impl Conn {
    fn frames(&mut self) -> Vec<Frame> {
        std::iter::from_fn(|| self.session.take(&self.outlet).ok().flatten()).collect()
    }

    fn names(&mut self) -> Vec<&'static str> {
        self.frames().iter().map(|f| f.name).collect()
    }

    fn detach(&self) {
        self.session.detach(&self.outlet);
    }
}

fn json_of(data: &Bytes) -> Value {
    serde_json::from_slice(data).expect("a JSON payload")
}

// ---- routing by audience ----

#[tokio::test]
async fn guild_events_reach_every_session_of_the_members_and_no_one_else() {
    let f = fixture(GatewayConfig::default()).await;
    let (g1, g2) = (guild(1), guild(2));
    let mut alice_web = f.connect(person("a1", user(1), &[g1]));
    let mut alice_phone = f.connect(person("a2", user(1), &[g1]));
    let mut bob = f.connect(person("b", user(2), &[g1, g2]));
    let mut carol = f.connect(person("c", user(3), &[g2]));
    let mut dave = f.connect(person("d", user(4), &[]));

    f.route(&guild_update(g1, user(999)));
    f.route(&channel_message(g1, channel(10), user(2), &[]));
    for conn in [&mut alice_web, &mut alice_phone, &mut bob] {
        assert_eq!(conn.names(), vec!["GUILD_UPDATE", "MESSAGE_CREATE"], "{}", conn.session.id);
    }
    assert!(carol.names().is_empty(), "not a member of g1");
    assert!(dave.names().is_empty(), "in no guild");

    f.route(&guild_update(g2, user(999)));
    assert_eq!(bob.names(), vec!["GUILD_UPDATE"]);
    assert_eq!(carol.names(), vec!["GUILD_UPDATE"]);
    assert!(alice_web.names().is_empty());
    // A guild nobody here is in: nothing to do.
    f.route(&guild_update(guild(3), user(999)));
    assert!([&mut alice_web, &mut bob, &mut carol, &mut dave].into_iter().all(|c| c.names().is_empty()));
}

#[tokio::test]
async fn guild_users_events_reach_the_listed_members_only() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let mut alice = f.connect(person("a", user(1), &[g]));
    let mut bob = f.connect(person("b", user(2), &[g]));
    let mut carol = f.connect(person("c", user(3), &[guild(2)]));
    // Carol is listed but is not a member of g: she does not get it.
    f.route(&invite_to(g, &[user(1), user(3)]));
    assert_eq!(alice.names(), vec!["INVITE_DELETE"]);
    assert!(bob.names().is_empty(), "a member who is not listed");
    assert!(carol.names().is_empty(), "listed, but not in the guild");
}

#[tokio::test]
async fn users_events_reach_each_session_of_each_user_once() {
    let f = fixture(GatewayConfig::default()).await;
    let mut a1 = f.connect(person("a1", user(1), &[]));
    let mut a2 = f.connect(person("a2", user(1), &[guild(1)]));
    let mut bob = f.connect(person("b", user(2), &[guild(1)]));
    let mut carol = f.connect(person("c", user(3), &[]));
    // Alice twice, and someone with no session here.
    f.route(&dm_message(&[user(1), user(3), user(1), user(99)]));
    let frames = a1.frames();
    assert_eq!(frames.len(), 1, "one copy, however often the user is named");
    assert_eq!(frames[0].seq, 1);
    assert_eq!(a2.names(), vec!["MESSAGE_CREATE"]);
    assert_eq!(carol.names(), vec!["MESSAGE_CREATE"]);
    assert!(bob.names().is_empty());
}

#[tokio::test]
async fn guild_channel_events_stay_inside_the_guild() {
    // Which members may see the channel is the visibility cache's to
    // decide; members of other guilds never get it.
    let f = fixture(GatewayConfig::default()).await;
    let (g1, g2) = (guild(1), guild(2));
    let mut member = f.connect(person("a", user(1), &[g1]));
    let mut outsider = f.connect(person("b", user(2), &[g2]));
    f.route(&channel_message(g1, channel(10), user(1), &[user(2)]));
    assert_eq!(member.names(), vec!["MESSAGE_CREATE"]);
    assert!(outsider.names().is_empty(), "mentioned, but not a member");
}

// ---- intents ----

#[tokio::test]
async fn sessions_get_only_the_events_their_intents_admit() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let mut guilds_only = f.connect(bot("b1", user(10), intents::GUILDS, &[g]));
    let mut messages = f.connect(bot("b2", user(11), intents::GUILDS | intents::GUILD_MESSAGES, &[g]));
    let mut nothing = f.connect(bot("b3", user(12), 0, &[g]));
    let mut people = f.connect(person("p", user(1), &[g]));
    // A person's client that chose its intents is held to them too.
    let mut chooser = f.connect(Spec { intents: intents::GUILD_MESSAGES, ..person("q", user(2), &[g]) });

    f.route(&channel_message(g, channel(10), user(1), &[]));
    f.route(&guild_update(g, user(999)));
    f.route(&guild_presence(g, user(1)));
    f.route(&typing(g, channel(10), user(1)));
    f.route(&member_add(g, user(3)));
    // An event with no intent reaches every session it names.
    f.route(&ack(&[user(10), user(11), user(12), user(1), user(2)]));

    let frames = guilds_only.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["GUILD_UPDATE", "MESSAGE_ACK"]);
    assert_eq!(frames.iter().map(|f| f.seq).collect::<Vec<_>>(), vec![1, 2], "filtered events take no sequence");
    assert_eq!(messages.names(), vec!["MESSAGE_CREATE", "GUILD_UPDATE", "MESSAGE_ACK"]);
    assert_eq!(nothing.names(), vec!["MESSAGE_ACK"]);
    assert_eq!(
        people.names(),
        vec!["MESSAGE_CREATE", "GUILD_UPDATE", "PRESENCE_UPDATE", "TYPING_START", "GUILD_MEMBER_ADD", "MESSAGE_ACK"]
    );
    assert_eq!(chooser.names(), vec!["MESSAGE_CREATE", "MESSAGE_ACK"]);
}

#[tokio::test]
async fn direct_messages_need_the_direct_messages_intent() {
    let f = fixture(GatewayConfig::default()).await;
    let mut guild_bot = f.connect(bot("b1", user(10), intents::GUILD_MESSAGES, &[]));
    let mut dm_bot = f.connect(bot("b2", user(11), intents::DIRECT_MESSAGES, &[]));
    f.route(&dm_message(&[user(10), user(11)]));
    assert!(guild_bot.names().is_empty());
    assert_eq!(dm_bot.names(), vec!["MESSAGE_CREATE"]);
}

// ---- shards ----

#[tokio::test]
async fn each_guild_s_events_go_to_its_shard_and_dms_to_shard_zero() {
    let f = fixture(GatewayConfig::default()).await;
    let me = user(10);
    let (even, odd) = (guild(4), guild(7));
    let spec = |id, shard| Spec { shard, ..bot(id, me, intents::ALL, &[even, odd]) };
    let mut shard0 = f.connect(spec("s0", (0, 2)));
    let mut shard1 = f.connect(spec("s1", (1, 2)));

    f.route(&guild_update(even, user(999)));
    assert_eq!(shard0.names(), vec!["GUILD_UPDATE"]);
    assert!(shard1.names().is_empty());
    f.route(&channel_message(odd, channel(1), user(1), &[]));
    f.route(&invite_to(odd, &[me]));
    assert!(shard0.names().is_empty());
    assert_eq!(shard1.names(), vec!["MESSAGE_CREATE", "INVITE_DELETE"]);
    // Outside guilds: shard 0 only.
    f.route(&dm_message(&[me]));
    assert_eq!(shard0.names(), vec!["MESSAGE_CREATE"]);
    assert!(shard1.names().is_empty());
    // A guild joined reaches the user's sessions by name, but only the
    // guild's shard gets its GUILD_CREATE and its events.
    let joined = guild(9);
    f.route(&guild_joined(me, joined, &[me], &[]));
    assert!(shard0.names().is_empty());
    assert_eq!(shard1.names(), vec!["GUILD_CREATE"]);
    f.route(&guild_update(joined, user(999)));
    assert!(shard0.names().is_empty());
    assert_eq!(shard1.names(), vec!["GUILD_UPDATE"]);
}

// ---- the content gate ----

#[tokio::test]
async fn bots_without_message_content_get_content_only_of_their_own_and_mentioning_messages() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let author = user(1);
    let mut plain = f.connect(bot("b1", user(10), intents::GUILD_MESSAGES, &[g]));
    let mut mentioned = f.connect(bot("b2", user(11), intents::GUILD_MESSAGES, &[g]));
    let mut content = f.connect(bot("b3", user(12), intents::GUILD_MESSAGES | intents::MESSAGE_CONTENT, &[g]));
    let mut person = f.connect(person("p", author, &[g]));

    let event = channel_message(g, channel(5), author, &[user(11)]);
    f.route(&event);
    assert_eq!(json_of(&plain.frames()[0].data)["content"], "");
    for conn in [&mut mentioned, &mut content, &mut person] {
        let frames = conn.frames();
        assert_eq!(json_of(&frames[0].data)["content"], "secret", "{}", conn.session.id);
        // Serialised once: every session that sees it all shares the bytes.
        assert_eq!(frames[0].data.as_ptr(), event.data().as_ptr());
    }

    // The bot's own message is shown to it.
    let own = channel_message(g, channel(5), user(10), &[]);
    f.route(&own);
    assert_eq!(json_of(&plain.frames()[0].data)["content"], "secret");
    assert_eq!(json_of(&mentioned.frames()[0].data)["content"], "", "but not to the other bot");
    // And the redacted variant, too, is shared rather than copied.
    let again = channel_message(g, channel(5), author, &[]);
    f.route(&again);
    let (a, b) = (plain.frames().remove(0), mentioned.frames().remove(0));
    assert_eq!(a.data.as_ptr(), b.data.as_ptr());
    assert_eq!(a.data, again.content_gate().unwrap().redacted);
}

// ---- membership ----

#[tokio::test]
async fn a_joiner_gets_guild_create_with_presences_then_the_guild_s_events() {
    let f = fixture(GatewayConfig::default()).await;
    let (home, joined) = (guild(1), guild(2));
    let (alice, bob, carol, dan) = (user(1), user(2), user(3), user(4));
    let mut alice_web = f.connect(person("a1", alice, &[home]));
    // Without GUILD_PRESENCES a session gets no presences in GUILD_CREATE.
    let mut alice_bot_like =
        f.connect(Spec { intents: intents::GUILDS | intents::GUILD_MEMBERS, ..person("a2", alice, &[home]) });
    let mut bob_conn = f.connect(person("b", bob, &[joined]));
    let _dan_conn = f.connect(person("d", dan, &[joined]));
    f.online(bob, "dnd", &[joined]);
    f.online(dan, "invisible", &[joined]);

    let event = guild_joined(alice, joined, &[alice, bob, carol, dan], &[channel(3)]);
    f.route(&event);
    f.route(&member_add(joined, alice));

    let frames = alice_web.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["GUILD_CREATE", "GUILD_MEMBER_ADD"]);
    let snapshot = json_of(&frames[0].data);
    // Bob is online (dnd); Dan is invisible, so he shows as offline and is
    // left out, as is Carol, who is not connected.
    assert_eq!(snapshot["presences"].as_array().map(Vec::len), Some(1), "{snapshot}");
    assert_eq!(snapshot["presences"][0]["user"]["id"], json!(bob));
    assert_eq!(snapshot["presences"][0]["status"], "dnd");
    assert_eq!(snapshot["presences"][0]["guild_id"], json!(joined));
    assert_eq!(snapshot["members"], json_of(event.data())["members"], "the rest as the API built it");

    let frames = alice_bot_like.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["GUILD_CREATE", "GUILD_MEMBER_ADD"]);
    assert_eq!(&frames[0].data, event.data(), "no presences without GUILD_PRESENCES");

    assert_eq!(bob_conn.names(), vec!["GUILD_MEMBER_ADD"], "the others hear of the member, not the snapshot");
    assert!(alice_web.session.has_guild(joined) && alice_bot_like.session.has_guild(joined));
    use events::Presences;
    assert_eq!(f.hub.online_members(joined), vec![alice, bob, dan]);
    f.route(&channel_message(joined, channel(3), bob, &[]));
    assert_eq!(alice_web.names(), vec!["MESSAGE_CREATE"]);
}

#[tokio::test]
async fn a_leaver_gets_its_guild_delete_and_nothing_after() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let (alice, bob) = (user(1), user(2));
    let mut alice_web = f.connect(person("a1", alice, &[g, guild(2)]));
    let mut alice_phone = f.connect(person("a2", alice, &[g]));
    let mut bob_conn = f.connect(person("b", bob, &[g]));

    f.route(&guild_left(alice, g));
    // As the API publishes it, after the leaver's GUILD_DELETE.
    f.route(&member_remove(g, alice));
    assert_eq!(alice_web.names(), vec!["GUILD_DELETE"]);
    assert_eq!(alice_phone.names(), vec!["GUILD_DELETE"]);
    assert_eq!(bob_conn.names(), vec!["GUILD_MEMBER_REMOVE"]);
    assert!(!alice_web.session.has_guild(g) && !alice_phone.session.has_guild(g));
    assert!(alice_web.session.has_guild(guild(2)), "the other guild stays");

    f.route(&channel_message(g, channel(1), bob, &[alice]));
    assert!(alice_web.names().is_empty() && alice_phone.names().is_empty());
    assert_eq!(bob_conn.names(), vec!["MESSAGE_CREATE"]);
    use events::Presences;
    assert_eq!(f.hub.online_members(g), vec![bob]);
    f.route(&guild_update(guild(2), user(999)));
    assert_eq!(alice_web.names(), vec!["GUILD_UPDATE"]);
}

#[tokio::test]
async fn a_deleted_guild_s_members_get_guild_delete_then_lose_the_guild() {
    let f = fixture(GatewayConfig::default()).await;
    let (g, other) = (guild(1), guild(2));
    let mut alice = f.connect(person("a", user(1), &[g, other]));
    let mut bob = f.connect(person("b", user(2), &[g]));
    f.route(&guild_deleted(g));
    assert_eq!(alice.names(), vec!["GUILD_DELETE"]);
    assert_eq!(bob.names(), vec!["GUILD_DELETE"]);
    assert!(!alice.session.has_guild(g) && !bob.session.has_guild(g));
    f.route(&guild_update(g, user(999)));
    assert!(alice.names().is_empty() && bob.names().is_empty());
    use events::Presences;
    assert!(f.hub.online_members(g).is_empty());
    f.route(&guild_update(other, user(999)));
    assert_eq!(alice.names(), vec!["GUILD_UPDATE"]);
}

// ---- tokens ----

#[tokio::test]
async fn a_revocation_closes_the_connections_of_those_tokens_and_dispatches_nothing() {
    let f = fixture(GatewayConfig::default()).await;
    let (alice, bob) = (user(1), user(2));
    let mut old = f.connect(Spec { token: "old", ..person("a1", alice, &[guild(1)]) });
    let mut new = f.connect(Spec { token: "new", ..person("a2", alice, &[guild(1)]) });
    // Another user's session with the same hash is not theirs to close.
    let mut bob_conn = f.connect(Spec { token: "old", ..person("b", bob, &[guild(1)]) });

    f.route(&Event::tokens_revoked(alice, RevokedTokens::AllBut("new".into())));
    assert!(old.session.revoked().now_or_never().is_some());
    assert!(new.session.revoked().now_or_never().is_none());
    assert!(bob_conn.session.revoked().now_or_never().is_none());
    for conn in [&mut old, &mut new, &mut bob_conn] {
        assert!(conn.names().is_empty(), "a revocation is not a dispatch");
    }
    f.route(&Event::tokens_revoked(alice, RevokedTokens::These(vec!["new".into()])));
    assert!(new.session.revoked().now_or_never().is_some());
    assert!(bob_conn.session.revoked().now_or_never().is_none());
    f.route(&dm_message(&[alice]));
    assert_eq!(new.frames()[0].seq, 1, "the revocation took no sequence number");
}

// ---- presences ----

#[tokio::test]
async fn a_presence_set_through_the_api_is_applied_and_announced_to_the_user_s_guilds() {
    let mut f = fixture(GatewayConfig::default()).await;
    let (alice, bob) = (user(1), user(2));
    let (g1, g2) = (guild(1), guild(2));
    let _a1 = f.connect(person("a1", alice, &[g1]));
    let _a2 = f.connect(person("a2", alice, &[g1, g2]));
    f.online(alice, "online", &[g1, g2]);
    assert_eq!(f.published().len(), 2, "coming online is announced to both guilds");

    f.route(&presence_change(alice, Some("dnd"), Some(Some("busy"))));
    let published = f.published();
    let mut guilds: Vec<_> = published
        .iter()
        .map(|e| {
            assert_eq!(e.name(), "PRESENCE_UPDATE");
            assert_eq!(e.intents(), intents::GUILD_PRESENCES);
            let d = json_of(e.data());
            assert_eq!(d["user"]["id"], json!(alice));
            assert_eq!(d["status"], "dnd");
            assert_eq!(d["activities"][0]["type"], 4);
            assert_eq!(d["activities"][0]["state"], "busy");
            assert_eq!(d["guild_id"], json!(e.guild().unwrap()));
            match e.audience() {
                Audience::Guild(g) => *g,
                other => panic!("to a guild, not {other:?}"),
            }
        })
        .collect();
    guilds.sort();
    assert_eq!(guilds, vec![g1, g2]);
    let now = f.hub.presence_of(alice).unwrap();
    assert_eq!(now.status, "dnd");

    // Removing the custom status keeps the status.
    f.route(&presence_change(alice, None, Some(None)));
    let published = f.published();
    assert_eq!(published.len(), 2);
    assert_eq!(json_of(published[0].data())["status"], "dnd");
    assert_eq!(json_of(published[0].data())["activities"], json!([]));
    // Setting what is already set announces nothing.
    f.route(&presence_change(alice, Some("dnd"), None));
    assert!(f.published().is_empty());
    // Invisible: others see offline.
    f.route(&presence_change(alice, Some("invisible"), None));
    let published = f.published();
    assert_eq!(published.len(), 2);
    assert_eq!(json_of(published[0].data())["status"], "offline");
    assert_eq!(f.hub.presence_of(alice).unwrap().status, "invisible");
    // Someone with no session here is offline on this node: nothing changes.
    f.route(&presence_change(bob, Some("idle"), None));
    assert!(f.published().is_empty());
    assert!(f.hub.presence_of(bob).is_none());
}

#[tokio::test]
async fn presence_updates_reach_only_sessions_with_the_presences_intent() {
    let mut f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let mut watcher = f.connect(bot("w", user(10), intents::GUILDS | intents::GUILD_PRESENCES, &[g]));
    let mut blind = f.connect(bot("x", user(11), intents::GUILDS, &[g]));
    let _alice = f.connect(person("a", user(1), &[g]));
    f.online(user(1), "idle", &[g]);
    for event in f.published() {
        f.route(&event);
    }
    let frames = watcher.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["PRESENCE_UPDATE"]);
    assert_eq!(json_of(&frames[0].data)["status"], "idle");
    assert!(blind.names().is_empty());
}

#[tokio::test]
async fn online_members_count_the_connected_and_online_count_the_visible() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let _a1 = f.connect(person("a1", user(1), &[g]));
    let _a2 = f.connect(person("a2", user(1), &[g]));
    let _b = f.connect(person("b", user(2), &[g]));
    let _c = f.connect(person("c", user(3), &[g]));
    let _d = f.connect(person("d", user(4), &[guild(2)]));
    f.online(user(1), "online", &[g]);
    f.online(user(2), "invisible", &[g]);
    use events::Presences;
    assert_eq!(f.hub.online_members(g), vec![user(1), user(2), user(3)]);
    assert_eq!(f.hub.online_count(g), 1, "invisible and no presence yet count as offline");
    f.online(user(3), "idle", &[g]);
    assert_eq!(f.hub.online_count(g), 2);
}

// ---- friends ----

#[tokio::test]
async fn a_new_friend_s_presence_is_shown_at_once_and_friends_hear_presence_changes() {
    let mut f = fixture(GatewayConfig::default()).await;
    let (alice, bob, carol) = (user(1), user(2), user(3));
    let mut alice_conn = f.connect(person("a", alice, &[]));
    let _bob_conn = f.connect(person("b", bob, &[]));
    let _carol_conn = f.connect(person("c", carol, &[]));
    // As READY leaves them: no friends yet.
    for u in [alice, bob, carol] {
        f.hub.set_friends(u, []);
    }
    f.online(alice, "online", &[]);
    f.online(bob, "idle", &[]);
    f.online(carol, "invisible", &[]);
    assert!(f.published().is_empty(), "no guilds and no friends: nobody to tell");

    f.route(&relationship(true, alice, bob, 1));
    let frames = alice_conn.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["RELATIONSHIP_ADD", "PRESENCE_UPDATE"]);
    let p = json_of(&frames[1].data);
    assert_eq!(p["user"]["id"], json!(bob));
    assert_eq!(p["status"], "idle");
    assert!(p.get("guild_id").is_none(), "a friend's presence belongs to no guild: {p}");

    // Alice's changes now reach Bob, outside any guild.
    f.route(&presence_change(alice, Some("dnd"), None));
    let published = f.published();
    assert_eq!(published.len(), 1);
    assert_eq!(*published[0].audience(), Audience::Users(vec![bob]));
    assert_eq!(published[0].intents(), 0);

    // An invisible friend shows nothing; a block is no friendship.
    f.route(&relationship(true, alice, carol, 1));
    assert_eq!(alice_conn.names(), vec!["RELATIONSHIP_ADD"]);
    f.route(&relationship(true, bob, carol, 2));
    f.route(&presence_change(bob, Some("online"), None));
    assert!(f.published().is_empty(), "Bob has no friends to tell");

    // Unfriended: Bob no longer hears Alice.
    f.route(&relationship(false, alice, bob, 1));
    f.route(&presence_change(alice, Some("idle"), None));
    let published = f.published();
    assert_eq!(published.len(), 1);
    assert_eq!(*published[0].audience(), Audience::Users(vec![carol]));
}

// ---- sessions kept and let go ----

#[tokio::test]
async fn a_slow_session_is_cut_loose_but_stays_resumable() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let slow = f.connect(Spec { capacity: 1, ..person("s", user(1), &[g]) });
    let mut fast = f.connect(person("f", user(2), &[g]));
    f.route(&guild_update(g, user(999)));
    f.route(&role_create(g, &role_row(g, role(5), 0, 1)));
    f.route(&role_delete(g, role(5)));
    let (one, two, three) = ("GUILD_UPDATE", "GUILD_ROLE_CREATE", "GUILD_ROLE_DELETE");
    assert_eq!(fast.names(), vec![one, two, three], "one slow reader holds up no one");
    assert_eq!(slow.session.take(&slow.outlet), Err(Detached), "cut loose: the connection closes");
    assert!(slow.session.detached_since().is_some());
    let kept = f.hub.session("s").expect("still registered");
    let outlet = kept.attach(Some(1), 8).unwrap();
    let replay: Vec<Frame> = std::iter::from_fn(|| kept.take(&outlet).ok().flatten()).collect();
    assert_eq!(replay.iter().map(|f| (f.seq, f.name)).collect::<Vec<_>>(), vec![(2, two), (3, three)]);
}

#[tokio::test]
async fn detached_sessions_are_forgotten_after_the_resume_window() {
    let mut f = fixture(GatewayConfig { resume_window_ms: 0, ..GatewayConfig::default() }).await;
    let g = guild(1);
    let (alice, bob) = (user(1), user(2));
    let a1 = f.connect(person("a1", alice, &[g]));
    let _a2 = f.connect(person("a2", alice, &[g]));
    let b = f.connect(person("b", bob, &[g]));
    f.online(alice, "online", &[g]);
    f.online(bob, "online", &[g]);
    f.published();

    a1.detach();
    f.hub.reap();
    assert!(f.hub.session("a1").is_none(), "detached past the window");
    assert!(f.hub.session("a2").is_some() && f.hub.session("b").is_some(), "attached sessions stay");
    assert!(f.published().is_empty(), "Alice is still online in another session");
    assert_eq!(f.ended, ["a1"], "the session's end is announced (voice states hang on it)");
    assert!(f.hub.presence_of(alice).is_some());

    b.detach();
    f.hub.reap();
    assert!(f.hub.session("b").is_none());
    assert!(f.hub.presence_of(bob).is_none());
    let published = f.published();
    assert_eq!(published.len(), 1, "Bob's last session went: he went offline");
    assert_eq!(*published[0].audience(), Audience::Guild(g));
    assert_eq!(json_of(published[0].data())["status"], "offline");
    assert_eq!(json_of(published[0].data())["user"]["id"], json!(bob));
    use events::Presences;
    assert_eq!(f.hub.online_members(g), vec![alice]);
}

/// Two sessions detached one after the other, each holding one frame, and
/// one attached, under a resume budget of `frames` such buffers (less one
/// byte); which of them the reaper keeps.
async fn kept_under_budget(frames: usize) -> Vec<&'static str> {
    let g = guild(1);
    let event = guild_update(g, user(999));
    let one = event.data().len() + std::mem::size_of::<Frame>();
    let config = GatewayConfig { resume_budget_bytes: frames * one - 1, ..GatewayConfig::default() };
    let f = fixture(config).await;
    let first = f.connect(person("first", user(1), &[g]));
    let second = f.connect(person("second", user(2), &[g]));
    let _attached = f.connect(person("attached", user(3), &[g]));
    f.route(&event);
    first.detach();
    std::thread::sleep(Duration::from_millis(5));
    second.detach();
    assert_eq!(first.session.detached_buffer().unwrap().1, one);
    f.hub.reap();
    ["first", "second", "attached"].into_iter().filter(|id| f.hub.session(id).is_some()).collect()
}

#[tokio::test]
async fn over_the_resume_budget_the_longest_detached_sessions_go_first() {
    // The window is two minutes: only the budget lets sessions go, and
    // attached sessions' buffers do not count against it.
    assert_eq!(kept_under_budget(3).await, vec!["first", "second", "attached"]);
    assert_eq!(kept_under_budget(2).await, vec!["second", "attached"]);
    assert_eq!(kept_under_budget(1).await, vec!["attached"]);
}

#[tokio::test]
async fn the_session_cap_drops_the_longest_detached_session_to_make_room() {
    let f = fixture(GatewayConfig { max_sessions_per_user: 2, ..GatewayConfig::default() }).await;
    let me = user(1);
    let one = f.connect(person("one", me, &[]));
    let _two = f.connect(person("two", me, &[]));
    let _other = f.connect(person("other", user(2), &[]));
    assert!(matches!(f.hub.make_room(me), Room::Full), "both connected");
    assert!(matches!(f.hub.make_room(user(2)), Room::Made(_)), "the cap is per user");
    one.detach();
    let starting = match f.hub.make_room(me) {
        Room::Made(s) => s,
        Room::Full => panic!("a detached session makes room"),
    };
    assert!(f.hub.session("one").is_none(), "the detached session was dropped");
    assert!(f.hub.session("two").is_some());
    // The IDENTIFY under way holds its place until it ends.
    assert!(matches!(f.hub.make_room(me), Room::Full));
    drop(starting);
    assert!(matches!(f.hub.make_room(me), Room::Made(_)));
}

#[test]
fn the_guild_helper_puts_guilds_on_the_expected_shards() {
    // The shard tests above rely on it.
    let s = |shard| Session::new("x".into(), user(1), true, 0, shard, HashSet::new(), 1, String::new());
    assert!(s((0, 2)).on_shard(Some(guild(4))));
    assert!(s((1, 2)).on_shard(Some(guild(7))));
    assert!(s((1, 2)).on_shard(Some(guild(9))));
}

// ---- visibility: who may see a channel, decided from the guild's view ----

use model::permissions::{
    ADMINISTRATOR, MANAGE_GUILD, READ_MESSAGE_HISTORY, SEND_MESSAGES, VIEW_AUDIT_LOG, VIEW_CHANNEL,
};

/// A guild owned by user 1 whose @everyone may not read message history,
/// with a role (7) that may, and these channels: 1 open to all, 2 hidden
/// from @everyone and shown to role 7, 3 hidden and shown to member 4.
/// Members: 1 (owner), 2 (role 7), 3 (no role), 4 (no role), 5 (role 8:
/// ADMINISTRATOR).
fn hidden_world(f: &Fixture, g: GuildId) {
    let everyone = role_row(g, g.cast(), VIEW_CHANNEL | SEND_MESSAGES, 0);
    let staff = role_row(g, role(7), READ_MESSAGE_HISTORY | VIEW_AUDIT_LOG, 1);
    let admin = role_row(g, role(8), ADMINISTRATOR, 2);
    let hide = overwrite(g.get(), 0, 0, VIEW_CHANNEL);
    let channels = [
        channel_obj(g, channel(1), &[]),
        channel_obj(g, channel(2), &[hide.clone(), overwrite(7, 0, VIEW_CHANNEL, 0)]),
        channel_obj(g, channel(3), &[hide, overwrite(4, 1, VIEW_CHANNEL, 0)]),
    ];
    f.view(
        g,
        user(1),
        &[everyone, staff, admin],
        &channels,
        &[(user(1), &[]), (user(2), &[role(7)]), (user(3), &[]), (user(4), &[]), (user(5), &[role(8)])],
    );
}

#[tokio::test]
async fn a_hidden_channel_s_events_reach_only_those_who_may_view_it() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut conns: Vec<Conn> =
        (1..=5).map(|n| f.connect(person(["a", "b", "c", "d", "e"][n - 1], user(n as u64), &[g]))).collect();
    let mut got = |f: &Fixture, e: Event| {
        f.route(&e);
        conns.iter_mut().map(|c| !c.names().is_empty()).collect::<Vec<bool>>()
    };
    // Owner, the role's holder, the admin; not the others.
    assert_eq!(got(&f, channel_message(g, channel(2), user(2), &[user(3)])), [true, true, false, false, true]);
    // Owner, the member the overwrite names, the admin.
    assert_eq!(got(&f, typing(g, channel(3), user(4))), [true, false, false, true, true]);
    assert_eq!(got(&f, channel_message(g, channel(1), user(3), &[])), [true; 5]);
    // A channel the view does not know shows nobody anything but the
    // events that are not about one channel.
    assert_eq!(got(&f, channel_message(g, channel(9), user(1), &[])), [false; 5]);
    // Guild-wide permissions: the audit log's readers only (owner, role 7,
    // admin).
    assert_eq!(got(&f, for_holders(g, VIEW_AUDIT_LOG)), [true, true, false, false, true]);
    assert_eq!(got(&f, for_holders(g, MANAGE_GUILD)), [true, false, false, false, true]);
}

#[tokio::test]
async fn a_timed_out_member_keeps_its_channels_but_not_what_a_timeout_takes() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut staff = f.connect(person("b", user(2), &[g]));
    let until = model::Timestamp::from_unix_ms(model::Timestamp::now().unix_ms() + 60_000);
    f.route(&member_timed_out(g, user(2), &[role(7)], until));
    assert_eq!(staff.names(), vec!["GUILD_MEMBER_UPDATE"], "no channel comes or goes");
    f.route(&channel_message(g, channel(2), user(1), &[]));
    assert_eq!(staff.names(), vec!["MESSAGE_CREATE"], "VIEW_CHANNEL survives a timeout");
    f.route(&for_holders(g, VIEW_AUDIT_LOG));
    assert!(staff.names().is_empty(), "VIEW_AUDIT_LOG does not");
    // The timeout lifted: the log's entries reach the member again.
    f.route(&member_update(g, user(2), &[role(7)]));
    staff.names();
    f.route(&for_holders(g, VIEW_AUDIT_LOG));
    assert_eq!(staff.names(), vec!["GUILD_AUDIT_LOG_ENTRY_CREATE"]);
}

#[tokio::test]
async fn a_reply_s_referenced_message_goes_only_to_those_who_may_read_the_history() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut owner = f.connect(person("a", user(1), &[g]));
    let mut staff = f.connect(person("b", user(2), &[g]));
    let mut plain = f.connect(person("c", user(3), &[g]));
    let mut other_plain = f.connect(person("d", user(4), &[g]));
    let event = reply_message(g, channel(1), user(3), user(2));
    f.route(&event);
    for conn in [&mut owner, &mut staff] {
        let frame = conn.frames().remove(0);
        assert_eq!(&frame.data, event.data(), "{}", conn.session.id);
        assert_eq!(json_of(&frame.data)["referenced_message"]["content"], "the original");
    }
    let (a, b) = (plain.frames().remove(0), other_plain.frames().remove(0));
    assert!(json_of(&a.data).get("referenced_message").is_none(), "{}", json_of(&a.data));
    assert_eq!(json_of(&a.data)["content"], "the reply");
    assert_eq!(a.data.as_ptr(), b.data.as_ptr(), "the variant is serialised once and shared");
}

#[tokio::test]
async fn new_overwrites_show_the_channel_to_some_and_hide_it_from_others() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut owner = f.connect(person("a", user(1), &[g]));
    let mut staff = f.connect(person("b", user(2), &[g]));
    let mut plain = f.connect(person("c", user(3), &[g]));
    let mut named = f.connect(person("d", user(4), &[g]));
    // A bot without GUILDS hears nothing of channels coming or going.
    let mut quiet = f.connect(bot("q", user(3), intents::GUILD_MESSAGES, &[g]));
    // Channel 2 now: hidden from role 7, shown to member 3.
    let hide = overwrite(g.get(), 0, 0, VIEW_CHANNEL);
    let update = channel_update(g, channel(2), &[hide.clone(), overwrite(3, 1, VIEW_CHANNEL, 0)]);
    f.route(&update);
    assert_eq!(owner.names(), vec!["CHANNEL_UPDATE"], "still sees it");
    let lost = staff.frames();
    assert_eq!(lost.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["CHANNEL_DELETE"]);
    assert_eq!(json_of(&lost[0].data)["id"], json!(channel(2)));
    let gained = plain.frames();
    assert_eq!(gained.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["CHANNEL_CREATE"]);
    assert_eq!(&gained[0].data, update.data(), "the channel as it is now");
    assert!(named.names().is_empty(), "never saw it, still does not");
    assert!(quiet.names().is_empty());
    // From now on its messages follow the new overwrites.
    f.route(&channel_message(g, channel(2), user(1), &[]));
    assert_eq!(plain.names(), vec!["MESSAGE_CREATE"]);
    assert_eq!(quiet.names(), vec!["MESSAGE_CREATE"]);
    assert_eq!(owner.names(), vec!["MESSAGE_CREATE"]);
    assert!(staff.names().is_empty());
    // An update that leaves the overwrites alone is just an update.
    f.route(&channel_update(g, channel(2), &[hide, overwrite(3, 1, VIEW_CHANNEL, 0)]));
    assert_eq!(owner.names(), vec!["CHANNEL_UPDATE"]);
    assert_eq!(plain.names(), vec!["CHANNEL_UPDATE"]);
    assert!(staff.names().is_empty());
}

#[tokio::test]
async fn channels_come_and_go_with_their_own_events() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut staff = f.connect(person("b", user(2), &[g]));
    let mut plain = f.connect(person("c", user(3), &[g]));
    let hidden = [overwrite(g.get(), 0, 0, VIEW_CHANNEL), overwrite(7, 0, VIEW_CHANNEL, 0)];
    f.route(&channel_create(g, channel(20), &hidden));
    assert_eq!(staff.names(), vec!["CHANNEL_CREATE"]);
    assert!(plain.names().is_empty(), "a channel created hidden from them");
    f.route(&channel_message(g, channel(20), user(2), &[]));
    assert_eq!(staff.names(), vec!["MESSAGE_CREATE"]);
    // Its deletion goes to those who saw it, then it is forgotten.
    f.route(&channel_delete(g, channel(20)));
    assert_eq!(staff.names(), vec!["CHANNEL_DELETE"]);
    assert!(plain.names().is_empty());
    f.route(&channel_message(g, channel(20), user(1), &[]));
    assert!(staff.names().is_empty());
}

#[tokio::test]
async fn a_role_change_shows_and_hides_channels_to_its_holders() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut staff = f.connect(person("b", user(2), &[g]));
    let mut plain = f.connect(person("c", user(3), &[g]));
    // Role 7 gains ADMINISTRATOR: its holder now sees channel 3 too.
    f.route(&role_update(g, &role_row(g, role(7), ADMINISTRATOR, 1)));
    let frames = staff.frames();
    assert_eq!(frames.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["GUILD_ROLE_UPDATE", "CHANNEL_CREATE"]);
    assert_eq!(json_of(&frames[1].data)["id"], json!(channel(3)));
    assert_eq!(plain.names(), vec!["GUILD_ROLE_UPDATE"]);
    // A change that moves no one's sight is just the role's event.
    f.route(&role_update(g, &role_row(g, role(7), ADMINISTRATOR, 5)));
    assert_eq!(staff.names(), vec!["GUILD_ROLE_UPDATE"]);
    assert_eq!(plain.names(), vec!["GUILD_ROLE_UPDATE"]);
    // The role goes: channels 2 and 3 go with it, in channel order.
    f.route(&role_delete(g, role(7)));
    let frames = staff.frames();
    assert_eq!(
        frames.iter().map(|f| f.name).collect::<Vec<_>>(),
        vec!["GUILD_ROLE_DELETE", "CHANNEL_DELETE", "CHANNEL_DELETE"]
    );
    assert_eq!(json_of(&frames[1].data)["id"], json!(channel(2)));
    assert_eq!(json_of(&frames[2].data)["id"], json!(channel(3)));
    assert_eq!(plain.names(), vec!["GUILD_ROLE_DELETE"]);
    // @everyone losing VIEW_CHANNEL hides even the open channel.
    f.route(&role_update(g, &role_row(g, g.cast(), SEND_MESSAGES, 0)));
    assert_eq!(plain.names(), vec!["GUILD_ROLE_UPDATE", "CHANNEL_DELETE"]);
}

#[tokio::test]
async fn a_member_s_new_roles_show_channels_to_that_member_only() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut plain_web = f.connect(person("c1", user(3), &[g]));
    let mut plain_phone = f.connect(person("c2", user(3), &[g]));
    let mut other = f.connect(person("d", user(4), &[g]));
    f.route(&member_update(g, user(3), &[role(7)]));
    for conn in [&mut plain_web, &mut plain_phone] {
        assert_eq!(conn.names(), vec!["GUILD_MEMBER_UPDATE", "CHANNEL_CREATE"]);
    }
    assert_eq!(other.names(), vec!["GUILD_MEMBER_UPDATE"]);
    f.route(&channel_message(g, channel(2), user(1), &[]));
    assert_eq!(plain_web.names(), vec!["MESSAGE_CREATE"]);
    f.route(&member_update(g, user(3), &[]));
    assert_eq!(plain_phone.names(), vec!["MESSAGE_CREATE", "GUILD_MEMBER_UPDATE", "CHANNEL_DELETE"]);
}

#[tokio::test]
async fn a_new_owner_sees_every_channel_and_the_old_one_only_theirs() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    hidden_world(&f, g);
    let mut old = f.connect(person("a", user(1), &[g]));
    let mut new = f.connect(person("c", user(3), &[g]));
    f.route(&guild_update(g, user(3)));
    assert_eq!(old.names(), vec!["GUILD_UPDATE", "CHANNEL_DELETE", "CHANNEL_DELETE"]);
    assert_eq!(new.names(), vec!["GUILD_UPDATE", "CHANNEL_CREATE", "CHANNEL_CREATE"]);
}

#[tokio::test]
async fn a_joiner_s_view_comes_from_its_guild_create_and_goes_when_the_last_session_leaves() {
    let f = fixture(GatewayConfig::default()).await;
    let g = guild(1);
    let mut alice = f.connect(person("a", user(1), &[]));
    // No view of g here yet: the snapshot's channels are what the joiner sees.
    f.route(&guild_joined(user(1), g, &[user(1)], &[channel(4)]));
    assert_eq!(alice.names(), vec!["GUILD_CREATE"]);
    f.route(&channel_message(g, channel(4), user(2), &[]));
    assert_eq!(alice.names(), vec!["MESSAGE_CREATE"]);
    f.route(&channel_message(g, channel(5), user(2), &[]));
    assert!(alice.names().is_empty(), "a channel the snapshot did not show");
    assert!(f.hub.registry().views.contains_key(&g));
    f.route(&guild_left(user(1), g));
    assert_eq!(alice.names(), vec!["GUILD_DELETE"]);
    assert!(!f.hub.registry().views.contains_key(&g), "nobody here is in the guild any more");
}
