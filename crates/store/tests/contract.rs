//! The store's contract: what every backend must do behind the store traits
//! (users, guilds, roles, members, channels, messages with their read states
//! and mention counts, invites, the audit log, relationships), written once
//! against `dyn Store` and run on every backend: on SQLite always, and on
//! PostgreSQL too with `TEST_STORE=postgres` (in a fresh database
//! `fc_test_…` on `TEST_DATABASE_URL`, which `scripts/test.sh` drops
//! afterwards). A new backend, or a new store method, gets its cases here.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;

use model::id::{MessageMarker, RoleMarker};
use model::Id;
use sqlx::Connection;
use store::{
    relationship_kind as kind, ApplicationRow, AuditEntry, AuditQuery, ChannelId, ChannelPatch, ChannelRow, CommandRow,
    CommandUpsert, EmojiRow, FriendOutcome, GuildId, GuildMentions, GuildPatch, GuildRow, HistoryQuery, InviteRow,
    JoinOutcome, MemberPatch, MemberRow, MessageRow, NewGuild, NewMessage, NewUser, OverwriteRow, RelationshipChange,
    RelationshipRow, RolePatch, RoleRow, SearchQuery, StickerItemRow, StickerRow, Store, StoreError, UserId, UserPatch,
    WebhookAuthor, WebhookPatch, WebhookRow,
};

type Test = for<'a> fn(&'a dyn Store) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Runs `test` on SQLite, then on PostgreSQL when `TEST_STORE=postgres`,
/// each time on a new, empty database.
async fn on_every_backend(test: Test) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = store::SqlStore::open_sqlite(&dir.path().join("contract.db")).await.expect("open SQLite");
    println!("on SQLite");
    test(&sqlite).await;
    sqlite.close().await;
    match std::env::var("TEST_STORE").as_deref() {
        Ok("postgres") => {
            let url = fresh_postgres().await;
            let pg = store::SqlStore::open_postgres(&url, 5).await.expect("open PostgreSQL");
            println!("on PostgreSQL ({url})");
            test(&pg).await;
            pg.close().await;
        }
        Ok("sqlite") | Err(_) => {}
        Ok(other) => panic!("TEST_STORE must be sqlite or postgres, not {other:?}"),
    }
}

/// A new database `fc_test_<random>` next to `TEST_DATABASE_URL`'s.
async fn fresh_postgres() -> String {
    let admin =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish() ^ u64::from(std::process::id());
    let name = format!("fc_test_{random:016x}");
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to PostgreSQL (is it running?)");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create the test database");
    let (prefix, _) = admin.rsplit_once('/').expect("the database URL has a path");
    format!("{prefix}/{name}")
}

/// One `#[tokio::test]` per contract case, run on every backend.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            on_every_backend(|s| Box::pin(cases::$case(s))).await;
        }
    )*};
}

contract!(
    users_round_trip_and_stay_unique,
    tokens_find_their_user_until_deleted,
    a_guild_is_created_whole_and_deleted_with_everything_in_it,
    guild_updates_change_only_what_they_name,
    roles_keep_their_order_and_leave_members_when_deleted,
    role_positions_change_all_or_none,
    members_page_by_user_id_within_bounds,
    member_updates_replace_roles_and_clear_fields,
    bans_remove_the_member_and_their_recent_messages,
    bans_page_both_ways,
    member_search_matches_prefixes_literally,
    channels_round_trip_with_their_overwrites,
    deleting_a_channel_orphans_children_and_clears_guild_settings,
    a_dm_channel_is_one_per_pair,
    history_pages_are_newest_first_and_bounded,
    imported_messages_read_back_like_sent_ones,
    a_retried_nonce_returns_the_first_message,
    a_create_that_fails_in_a_batch_fails_alone,
    edits_and_deletes_touch_only_their_messages,
    reactions_count_in_order_of_first_use,
    pins_list_the_latest_first_and_move_the_channel,
    mentions_count_once_per_person_who_can_see_them,
    acks_move_forward_and_clear_mentions,
    invites_are_used_within_their_limits,
    an_invite_with_one_use_is_used_once_under_concurrency,
    the_audit_log_filters_and_pages,
    relationships_follow_requests_and_blocks,
    emojis_and_stickers_round_trip_within_their_slots,
    attachments_ride_in_their_message_and_uploads_wait_for_one,
    application_commands_are_unique_by_name_per_scope_within_their_limits,
    webhooks_round_trip_and_their_messages_keep_their_author,
    worker_ids_are_leased_to_one_holder_at_a_time_with_a_rising_floor,
);

/// Ids, times and rows with every other field at its default.
mod rows {
    use super::*;

    pub fn id<M>(n: u64) -> Id<M> {
        Id::new(n)
    }

    pub fn user(n: u64, name: &str) -> NewUser {
        NewUser {
            id: id(n),
            username: name.to_owned(),
            email: Some(format!("{name}@example.com")),
            password_hash: Some(format!("hash of {name}")),
            global_name: None,
            bot: false,
            created_at: 1_700_000_000_000 + n as i64,
        }
    }

    pub fn guild_row(n: u64, owner: UserId) -> GuildRow {
        GuildRow {
            id: id(n),
            name: format!("guild {n}"),
            icon: None,
            description: None,
            owner_id: owner,
            afk_channel_id: None,
            afk_timeout: 300,
            system_channel_id: None,
            verification_level: 0,
            default_message_notifications: 0,
            explicit_content_filter: 0,
            preferred_locale: "en-US".into(),
            created_at: 1_700_000_000_000,
        }
    }

    pub fn role(n: u64, guild: GuildId, position: i64) -> RoleRow {
        RoleRow {
            id: id(n),
            guild_id: guild,
            name: format!("role {n}"),
            permissions: 0,
            position,
            color: 0,
            hoist: false,
            mentionable: false,
            managed: false,
        }
    }

    pub fn member(guild: GuildId, user: UserId) -> MemberRow {
        MemberRow {
            guild_id: guild,
            user_id: user,
            nick: None,
            roles: Vec::new(),
            joined_at: 1_700_000_000_000,
            deaf: false,
            mute: false,
            communication_disabled_until: None,
        }
    }

    pub fn channel(n: u64, guild: Option<GuildId>, position: i64) -> ChannelRow {
        ChannelRow {
            id: id(n),
            kind: 0,
            guild_id: guild,
            name: Some(format!("channel-{n}")),
            position,
            parent_id: None,
            topic: None,
            nsfw: false,
            rate_limit_per_user: 0,
            bitrate: 0,
            user_limit: 0,
            last_message_id: None,
            last_pin_at: None,
        }
    }

    /// A guild `n` owned by `owner`, with its @everyone role (id `n`) and
    /// one text channel `n + 1`, stored.
    pub async fn guild(s: &dyn Store, n: u64, owner: UserId) -> (GuildId, ChannelId) {
        let g: GuildId = id(n);
        let mut everyone = role(n, g, 0);
        everyone.name = "@everyone".into();
        let text = channel(n + 1, Some(g), 0);
        let mut row = guild_row(n, owner);
        row.system_channel_id = Some(text.id);
        s.create_guild(&NewGuild { guild: row, everyone, channels: vec![text.clone()], owner: member(g, owner) })
            .await
            .unwrap();
        (g, text.id)
    }

    /// Users `first..first + n` named `u<id>`, stored.
    pub async fn users(s: &dyn Store, first: u64, n: u64) -> Vec<UserId> {
        let mut ids = Vec::new();
        for i in first..first + n {
            s.create_user(&user(i, &format!("u{i}"))).await.unwrap();
            ids.push(id(i));
        }
        ids
    }

    pub fn message(channel: ChannelId, n: u64, author: UserId, content: &str) -> MessageRow {
        MessageRow::plain(channel, id(n), author, content.to_owned(), 0)
    }

    pub fn new_message(row: MessageRow, guild: Option<GuildId>) -> NewMessage {
        NewMessage {
            row,
            enforce_nonce: false,
            nonce_since: id(1),
            guild_mentions: guild.map(|guild| GuildMentions { guild, viewers: None, online: None }),
        }
    }

    /// Stores a plain message `n` and returns its row.
    pub async fn send(s: &dyn Store, channel: ChannelId, guild: Option<GuildId>, n: u64, author: UserId) -> MessageRow {
        let (row, created) =
            s.create_message(&new_message(message(channel, n, author, &format!("message {n}")), guild)).await.unwrap();
        assert!(created);
        row
    }

    pub fn audit(n: u64, guild: GuildId, user: UserId, action_type: u16, target: u64) -> AuditEntry {
        AuditEntry {
            id: n,
            guild_id: guild,
            user_id: Some(user),
            target_id: Some(target),
            action_type,
            changes: Some(format!(r#"[{{"key":"name","new_value":"{n}"}}]"#)),
            options: None,
            reason: Some(format!("reason {n}")),
        }
    }

    pub fn invite(code: &str, guild: GuildId, channel: ChannelId, inviter: UserId, created_at: i64) -> InviteRow {
        InviteRow {
            code: code.to_owned(),
            guild_id: guild,
            channel_id: channel,
            inviter_id: Some(inviter),
            max_age: 0,
            max_uses: 0,
            uses: 0,
            temporary: false,
            created_at,
        }
    }

    pub fn ids<M>(ns: &[u64]) -> Vec<Id<M>> {
        ns.iter().map(|n| id(*n)).collect()
    }

    pub fn message_ids(rows: &[MessageRow]) -> Vec<u64> {
        rows.iter().map(|m| m.id.get()).collect()
    }
}

mod cases {
    use super::rows::*;
    use super::*;

    fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> &'static str {
        match r {
            Err(StoreError::Conflict(what)) => what,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
        assert!(matches!(r, Err(StoreError::NotFound)), "expected NotFound, got {r:?}");
    }

    pub async fn users_round_trip_and_stay_unique(s: &dyn Store) {
        let mut ada = user(10, "ada");
        ada.global_name = Some("Ada L.".into());
        s.create_user(&ada).await.unwrap();
        let mut bot = user(11, "helper");
        (bot.email, bot.password_hash, bot.bot) = (None, None, true);
        s.create_user(&bot).await.unwrap();

        let row = s.user(id(10)).await.unwrap().expect("stored");
        assert_eq!(
            (row.username.as_str(), row.email.as_deref(), row.password_hash.as_deref(), row.global_name.as_deref()),
            ("ada", Some("ada@example.com"), Some("hash of ada"), Some("Ada L."))
        );
        assert_eq!((row.bot, row.flags, row.avatar.as_deref(), row.mfa_enabled), (false, 0, None, false));
        assert_eq!(row.created_at, ada.created_at);
        assert!(s.user(id(12)).await.unwrap().is_none());
        let mut both: Vec<u64> = s.users(&ids(&[11, 10, 99])).await.unwrap().iter().map(|u| u.id.get()).collect();
        both.sort();
        assert_eq!(both, [10, 11], "unknown ids are left out");
        assert!(s.users(&[]).await.unwrap().is_empty());

        // Logging in: by email or username, and never as an account
        // without a password (a bot).
        assert_eq!(s.user_by_login("ada@example.com").await.unwrap().map(|u| u.id), Some(id(10)));
        assert_eq!(s.user_by_login("ada").await.unwrap().map(|u| u.id), Some(id(10)));
        assert!(s.user_by_login("helper").await.unwrap().is_none());
        assert_eq!(s.user_by_username("helper").await.unwrap().map(|u| u.bot), Some(true));

        // Usernames and emails are unique, and the conflict names which.
        let mut same_name = user(12, "ada");
        same_name.email = Some("another@example.com".into());
        assert_eq!(conflict(s.create_user(&same_name).await), "username");
        let mut same_email = user(12, "other");
        same_email.email = Some("ada@example.com".into());
        assert_eq!(conflict(s.create_user(&same_email).await), "email");
        assert!(s.user(id(12)).await.unwrap().is_none(), "a refused user is not stored");

        // A patch sets what it names, clears `Some(None)`, leaves the rest.
        let patch = UserPatch {
            username: Some("ada2".into()),
            global_name: Some(None),
            avatar: Some(Some("abc123".into())),
            locale: None,
        };
        let updated = s.update_user(id(10), &patch).await.unwrap();
        assert_eq!(
            (
                updated.username.as_str(),
                updated.global_name.as_deref(),
                updated.avatar.as_deref(),
                updated.locale.as_str()
            ),
            ("ada2", None, Some("abc123"), row.locale.as_str())
        );
        assert_eq!(s.user(id(10)).await.unwrap().unwrap(), updated, "the returned row is the stored one");
        assert!(s.user_by_username("ada").await.unwrap().is_none());
        let taken = UserPatch { username: Some("helper".into()), ..UserPatch::default() };
        assert_eq!(conflict(s.update_user(id(10), &taken).await), "username");
        not_found(s.update_user(id(99), &UserPatch::default()).await);
    }

    pub async fn tokens_find_their_user_until_deleted(s: &dyn Store) {
        let [a, b] = users(s, 1, 2).await[..] else { unreachable!() };
        s.insert_token("hash-a", a, 1).await.unwrap();
        s.insert_token("hash-b", b, 1).await.unwrap();
        assert_eq!(s.user_by_token("hash-a").await.unwrap().map(|u| u.id), Some(a));
        assert_eq!(s.user_by_token("hash-b").await.unwrap().map(|u| u.id), Some(b));
        assert!(s.user_by_token("hash-c").await.unwrap().is_none());
        assert_eq!(conflict(s.insert_token("hash-a", b, 2).await), "token");
        assert!(s.delete_token("hash-a").await.unwrap());
        assert!(!s.delete_token("hash-a").await.unwrap(), "a second delete finds nothing");
        assert!(s.user_by_token("hash-a").await.unwrap().is_none());
        assert_eq!(s.user_by_token("hash-b").await.unwrap().map(|u| u.id), Some(b), "other tokens stay");
    }

    pub async fn a_guild_is_created_whole_and_deleted_with_everything_in_it(s: &dyn Store) {
        let [owner, other, banned] = users(s, 1, 3).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let (g2, text2) = guild(s, 200, other).await;

        let row = s.guild(g).await.unwrap().expect("stored");
        assert_eq!(row, {
            let mut r = guild_row(100, owner);
            r.system_channel_id = Some(text);
            r
        });
        let roles = s.roles(g).await.unwrap();
        assert_eq!(roles.iter().map(|r| (r.id, r.name.as_str())).collect::<Vec<_>>(), [(id(100), "@everyone")]);
        assert_eq!(s.guild_channels(g).await.unwrap().iter().map(|c| c.id).collect::<Vec<_>>(), [text]);
        assert_eq!(s.member(g, owner).await.unwrap().map(|m| m.user_id), Some(owner));
        assert_eq!(s.member_count(g).await.unwrap(), 1);
        assert!(s.member(g, other).await.unwrap().is_none());

        // The guilds of a user, oldest first.
        s.add_member(&member(g2, owner), None).await.unwrap();
        assert_eq!(s.guilds_of(owner).await.unwrap().iter().map(|g| g.id).collect::<Vec<_>>(), [g, g2]);

        // Fill the guild, then delete it: nothing of it is left, and the
        // other guild is untouched.
        s.add_member(&member(g, other), None).await.unwrap();
        s.create_role(&role(101, g, 1), Some(&audit(1, g, owner, 30, 101))).await.unwrap();
        s.add_member_role(g, other, id(101), None).await.unwrap();
        let sent = send(s, text, Some(g), 1000, other).await;
        s.add_reaction(text, sent.id, "👍", owner, 1).await.unwrap();
        s.create_invite(&invite("guildcode", g, text, owner, 1), None).await.unwrap();
        s.ban(&store::BanRow { guild_id: g, user_id: banned, reason: None, created_at: 1 }, None, None).await.unwrap();
        send(s, text2, Some(g2), 2000, other).await;

        assert!(s.delete_guild(g).await.unwrap());
        assert!(!s.delete_guild(g).await.unwrap(), "a second delete finds nothing");
        assert!(s.guild(g).await.unwrap().is_none());
        assert!(s.roles(g).await.unwrap().is_empty());
        assert!(s.guild_channels(g).await.unwrap().is_empty());
        assert!(s.channel(text).await.unwrap().is_none());
        assert!(s.message(text, sent.id).await.unwrap().is_none());
        assert!(s.member(g, other).await.unwrap().is_none());
        assert_eq!(s.member_count(g).await.unwrap(), 0);
        assert!(s.invite("guildcode").await.unwrap().is_none());
        assert!(s.ban_of(g, banned).await.unwrap().is_none());
        assert!(s.audit_log(g, AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap().is_empty());
        assert_eq!(s.guilds_of(owner).await.unwrap().iter().map(|g| g.id).collect::<Vec<_>>(), [g2]);
        assert_eq!(s.guilds_of(other).await.unwrap().iter().map(|g| g.id).collect::<Vec<_>>(), [g2]);
        assert!(s.message(text2, id(2000)).await.unwrap().is_some());
        assert!(s.user(other).await.unwrap().is_some(), "people outlive the guild");
    }

    pub async fn guild_updates_change_only_what_they_name(s: &dyn Store) {
        let [owner, heir] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        s.add_member(&member(g, heir), None).await.unwrap();
        let patch = GuildPatch {
            name: Some("Renamed".into()),
            description: Some(Some("About us".into())),
            owner_id: Some(heir),
            system_channel_id: Some(None),
            afk_timeout: Some(900),
            ..GuildPatch::default()
        };
        let entry = audit(5, g, owner, 1, g.get());
        let updated = s.update_guild(g, &patch, Some(&entry)).await.unwrap();
        let mut expected = guild_row(100, owner);
        expected.system_channel_id = Some(text);
        patch.apply(&mut expected);
        assert_eq!(updated, expected, "the store applies a patch as `GuildPatch::apply` does");
        assert_eq!(s.guild(g).await.unwrap().unwrap(), expected);
        assert_eq!((expected.name.as_str(), expected.owner_id, expected.system_channel_id), ("Renamed", heir, None));
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log, [entry], "the audit entry is written with the change");
        not_found(s.update_guild(id(999), &patch, None).await);
    }

    pub async fn roles_keep_their_order_and_leave_members_when_deleted(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        s.add_member(&member(g, a), None).await.unwrap();
        // Created out of order: listed by position, then id.
        for (n, position) in [(103, 2), (102, 1), (101, 1)] {
            let mut r = role(n, g, position);
            r.permissions = 1 << 11;
            r.color = 0x00ff00;
            s.create_role(&r, None).await.unwrap();
        }
        let order: Vec<u64> = s.roles(g).await.unwrap().iter().map(|r| r.id.get()).collect();
        assert_eq!(order, [100, 101, 102, 103]);
        assert_eq!(s.roles(g).await.unwrap()[3], {
            let mut r = role(103, g, 2);
            r.permissions = 1 << 11;
            r.color = 0x00ff00;
            r
        });

        let patch = RolePatch { name: Some("mods".into()), hoist: Some(true), ..RolePatch::default() };
        let updated = s.update_role(g, id(102), &patch, None).await.unwrap();
        assert_eq!(
            (updated.name.as_str(), updated.hoist, updated.permissions, updated.color, updated.position),
            ("mods", true, 1 << 11, 0x00ff00, 1)
        );
        not_found(s.update_role(g, id(999), &patch, None).await);
        let (other_guild, _) = guild(s, 200, owner).await;
        not_found(s.update_role(other_guild, id(102), &patch, None).await);

        // Member roles: once each, listed by id.
        assert!(s.add_member_role(g, a, id(103), None).await.unwrap());
        assert!(s.add_member_role(g, a, id(101), None).await.unwrap());
        assert!(!s.add_member_role(g, a, id(101), None).await.unwrap(), "already had it");
        assert_eq!(s.member(g, a).await.unwrap().unwrap().roles, ids::<RoleMarker>(&[101, 103]));
        assert!(s.remove_member_role(g, a, id(101), None).await.unwrap());
        assert!(!s.remove_member_role(g, a, id(101), None).await.unwrap());

        // Deleting a role takes it from members and from overwrites.
        s.put_overwrite(text, &OverwriteRow { target_id: 103, kind: 0, allow: 1 << 10, deny: 0 }, None).await.unwrap();
        s.put_overwrite(text, &OverwriteRow { target_id: a.get(), kind: 1, allow: 0, deny: 1 << 11 }, None)
            .await
            .unwrap();
        assert!(s.delete_role(g, id(103), Some(&audit(7, g, owner, 32, 103))).await.unwrap());
        assert!(!s.delete_role(g, id(103), Some(&audit(8, g, owner, 32, 103))).await.unwrap());
        assert!(s.member(g, a).await.unwrap().unwrap().roles.is_empty());
        assert_eq!(s.overwrites(text).await.unwrap().iter().map(|o| o.target_id).collect::<Vec<_>>(), [a.get()]);
        assert_eq!(s.roles(g).await.unwrap().iter().map(|r| r.id.get()).collect::<Vec<_>>(), [100, 101, 102]);
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [7], "a delete that found nothing is not audited");
    }

    pub async fn role_positions_change_all_or_none(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, _) = guild(s, 100, owner).await;
        for n in [101, 102] {
            s.create_role(&role(n, g, (n - 100) as i64), None).await.unwrap();
        }
        let entries = [audit(1, g, owner, 31, 101), audit(2, g, owner, 31, 102)];
        s.set_role_positions(g, &[(id(101), 2), (id(102), 1)], &entries).await.unwrap();
        assert_eq!(s.roles(g).await.unwrap().iter().map(|r| r.id.get()).collect::<Vec<_>>(), [100, 102, 101]);
        assert_eq!(s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap().len(), 2);

        // One unknown role: nothing moves, nothing is audited.
        not_found(s.set_role_positions(g, &[(id(101), 1), (id(999), 2)], &[audit(3, g, owner, 31, 101)]).await);
        let positions: Vec<(u64, i64)> = s.roles(g).await.unwrap().iter().map(|r| (r.id.get(), r.position)).collect();
        assert_eq!(positions, [(100, 0), (102, 1), (101, 2)]);
        assert_eq!(s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap().len(), 2);
    }

    pub async fn members_page_by_user_id_within_bounds(s: &dyn Store) {
        let people = users(s, 1, 6).await;
        let (g, _) = guild(s, 100, people[0]).await;
        // Joined in reverse order: pages still go by user id.
        for u in people[1..].iter().rev() {
            assert!(s.add_member(&member(g, *u), None).await.unwrap());
        }
        assert!(!s.add_member(&member(g, people[3]), Some(&audit(1, g, people[0], 1, 0))).await.unwrap());
        assert!(
            s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap().is_empty(),
            "adding a member twice is not audited"
        );
        assert_eq!(s.member_count(g).await.unwrap(), 6);
        let page = |after: Option<u64>, limit| async move {
            s.members(g, after.map(id), limit).await.unwrap().iter().map(|m| m.user_id.get()).collect::<Vec<_>>()
        };
        assert_eq!(page(None, 4).await, [1, 2, 3, 4]);
        assert_eq!(page(Some(4), 4).await, [5, 6]);
        assert_eq!(page(Some(6), 4).await, Vec::<u64>::new());
        assert_eq!(page(None, 1000).await, [1, 2, 3, 4, 5, 6]);
        assert_eq!(page(Some(2), 1).await, [3]);

        assert!(s.remove_member(g, people[2]).await.unwrap());
        assert!(!s.remove_member(g, people[2]).await.unwrap());
        assert!(s.kick(g, people[3], Some(&audit(2, g, people[0], 20, 4))).await.unwrap());
        assert!(!s.kick(g, people[3], Some(&audit(3, g, people[0], 20, 4))).await.unwrap());
        assert_eq!(page(None, 10).await, [1, 2, 5, 6]);
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);
        // Who may DM whom: sharing a guild counts, having left does not.
        assert!(s.friends_or_guildmates(people[0], people[4]).await.unwrap());
        assert!(!s.friends_or_guildmates(people[0], people[2]).await.unwrap());
    }

    pub async fn member_updates_replace_roles_and_clear_fields(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, _) = guild(s, 100, owner).await;
        for n in [101, 102, 103] {
            s.create_role(&role(n, g, 1), None).await.unwrap();
        }
        s.add_member(&member(g, a), None).await.unwrap();
        s.add_member_role(g, a, id(101), None).await.unwrap();
        let patch = MemberPatch {
            nick: Some(Some("Ace".into())),
            roles: Some(ids(&[103, 102])),
            mute: Some(true),
            deaf: None,
            communication_disabled_until: Some(Some(1_800_000_000_000)),
        };
        let updated = s.update_member(g, a, &patch, &[audit(1, g, owner, 24, a.get())]).await.unwrap();
        assert_eq!(updated.nick.as_deref(), Some("Ace"));
        assert_eq!(updated.roles, ids::<RoleMarker>(&[102, 103]), "replaced, listed by id");
        assert_eq!(
            (updated.mute, updated.deaf, updated.communication_disabled_until),
            (true, false, Some(1_800_000_000_000))
        );
        assert_eq!(s.member(g, a).await.unwrap().unwrap(), updated);

        let clear =
            MemberPatch { nick: Some(None), communication_disabled_until: Some(None), ..MemberPatch::default() };
        let cleared = s.update_member(g, a, &clear, &[]).await.unwrap();
        assert_eq!((cleared.nick, cleared.communication_disabled_until, cleared.mute), (None, None, true));
        assert_eq!(cleared.roles, ids::<RoleMarker>(&[102, 103]), "roles left alone");
        not_found(s.update_member(g, id(999), &clear, &[]).await);
        assert_eq!(s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap().len(), 1);
    }

    pub async fn bans_remove_the_member_and_their_recent_messages(s: &dyn Store) {
        let [owner, troll] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let second = rows::channel(102, Some(g), 1);
        s.create_channel(&second, &[], None).await.unwrap();
        let (elsewhere, elsewhere_text) = guild(s, 200, owner).await;
        s.add_member(&member(g, troll), None).await.unwrap();
        s.add_member(&member(elsewhere, troll), None).await.unwrap();
        for (channel, n) in [(text, 1001), (text, 1005), (second.id, 1003), (text, 1004), (second.id, 1006)] {
            send(s, channel, Some(g), n, troll).await;
        }
        send(s, text, Some(g), 1002, owner).await;
        send(s, elsewhere_text, Some(elsewhere), 1007, troll).await;

        let ban = store::BanRow { guild_id: g, user_id: troll, reason: Some("spam".into()), created_at: 5 };
        let deleted = s.ban(&ban, Some(id(1003)), Some(&audit(1, g, owner, 22, troll.get()))).await.unwrap();
        let mut deleted: Vec<(u64, Vec<u64>)> =
            deleted.into_iter().map(|(c, ms)| (c.get(), ms.iter().map(|m| m.get()).collect())).collect();
        deleted.sort();
        assert_eq!(deleted, [(101, vec![1004, 1005]), (102, vec![1006])], "newer than 1003, in this guild, by them");
        assert!(s.member(g, troll).await.unwrap().is_none());
        assert!(s.member(elsewhere, troll).await.unwrap().is_some());
        assert_eq!(s.ban_of(g, troll).await.unwrap(), Some(ban.clone()));
        let left: Vec<u64> = message_ids(&s.history(text, HistoryQuery::Latest, 50).await.unwrap());
        assert_eq!(left, [1002, 1001]);
        assert!(s.message(elsewhere_text, id(1007)).await.unwrap().is_some());

        // A banned user cannot join by invite.
        s.create_invite(&invite("banned", g, text, owner, 1), None).await.unwrap();
        assert_eq!(s.join_by_invite("banned", troll, 2).await.unwrap(), JoinOutcome::Banned);
        assert_eq!(s.invite("banned").await.unwrap().unwrap().uses, 0, "a refused join uses nothing");

        // Banning again updates the reason; unbanning is once.
        let again = store::BanRow { reason: Some("still spam".into()), ..ban.clone() };
        s.ban(&again, None, None).await.unwrap();
        assert_eq!(s.ban_of(g, troll).await.unwrap().and_then(|b| b.reason).as_deref(), Some("still spam"));
        assert!(s.unban(g, troll, None).await.unwrap());
        assert!(!s.unban(g, troll, None).await.unwrap());
        assert!(s.ban_of(g, troll).await.unwrap().is_none());
        assert!(matches!(s.join_by_invite("banned", troll, 3).await.unwrap(), JoinOutcome::Joined(_)));
    }

    pub async fn bans_page_both_ways(s: &dyn Store) {
        let people = users(s, 1, 7).await;
        let (g, _) = guild(s, 100, people[0]).await;
        for u in people[1..].iter().rev() {
            s.ban(&store::BanRow { guild_id: g, user_id: *u, reason: None, created_at: 1 }, None, None).await.unwrap();
        }
        let page = |before: Option<u64>, after: Option<u64>, limit| async move {
            s.bans(g, before.map(id), after.map(id), limit)
                .await
                .unwrap()
                .iter()
                .map(|b| b.user_id.get())
                .collect::<Vec<_>>()
        };
        assert_eq!(page(None, None, 1000).await, [2, 3, 4, 5, 6, 7]);
        assert_eq!(page(None, None, 2).await, [2, 3]);
        assert_eq!(page(None, Some(3), 2).await, [4, 5]);
        // Before: the closest ones below, still listed in ascending order.
        assert_eq!(page(Some(6), None, 2).await, [4, 5]);
        assert_eq!(page(Some(2), None, 2).await, Vec::<u64>::new());
        // Both: the window between them, from its start.
        assert_eq!(page(Some(7), Some(2), 3).await, [3, 4, 5]);
    }

    pub async fn member_search_matches_prefixes_literally(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, _) = guild(s, 100, owner).await;
        for (n, name, global, nick) in [
            (2, "alice", None, None),
            (3, "bob", Some("Alicia"), None),
            (4, "carol", None, Some("ALIbaba")),
            (5, "al_x", None, None),
            (6, "alfred", None, None),
        ] {
            let mut u = user(n, name);
            u.global_name = global.map(str::to_owned);
            s.create_user(&u).await.unwrap();
            let mut m = member(g, id(n));
            m.nick = nick.map(str::to_owned);
            s.add_member(&m, None).await.unwrap();
        }
        let found = |q: &'static str, limit| async move {
            s.search_members(g, q, limit).await.unwrap().iter().map(|m| m.user_id.get()).collect::<Vec<_>>()
        };
        assert_eq!(found("ali", 10).await, [2, 3, 4], "username, display name or nick, any case");
        assert_eq!(found("ALI", 2).await, [2, 3], "at most `limit`, by user id");
        assert_eq!(found("al_", 10).await, [5], "`_` is a character, not a wildcard");
        assert_eq!(found("%", 10).await, Vec::<u64>::new(), "`%` is a character, not a wildcard");
        assert_eq!(found("lice", 10).await, Vec::<u64>::new(), "prefixes only");
    }

    pub async fn channels_round_trip_with_their_overwrites(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let mut voice = rows::channel(103, Some(g), 0);
        (voice.kind, voice.bitrate, voice.user_limit, voice.topic, voice.nsfw) =
            (2, 64_000, 5, Some("talk".into()), true);
        let overwrites = [
            OverwriteRow { target_id: a.get(), kind: 1, allow: 1 << 20, deny: 0 },
            OverwriteRow { target_id: 100, kind: 0, allow: 0, deny: 1 << 10 },
        ];
        s.create_channel(&voice, &overwrites, Some(&audit(1, g, owner, 10, 103))).await.unwrap();
        assert_eq!(s.channel(voice.id).await.unwrap(), Some(voice.clone()));
        // By position, then id: the text channel (101) and the voice one
        // share position 0.
        let listed: Vec<u64> = s.guild_channels(g).await.unwrap().iter().map(|c| c.id.get()).collect();
        assert_eq!(listed, [101, 103]);
        let mut sorted = overwrites.to_vec();
        sorted.sort_by_key(|o| o.target_id);
        assert_eq!(s.overwrites(voice.id).await.unwrap(), sorted, "by target id");
        let all = s.guild_overwrites(g).await.unwrap();
        assert_eq!(all.iter().map(|(c, o)| (c.get(), o.target_id)).collect::<Vec<_>>(), [(103, 2), (103, 100)]);

        let patch = ChannelPatch {
            name: Some("lounge".into()),
            topic: Some(None),
            position: Some(5),
            user_limit: Some(10),
            ..ChannelPatch::default()
        };
        let updated = s.update_channel(voice.id, &patch, None).await.unwrap();
        let mut expected = voice.clone();
        patch.apply(&mut expected);
        assert_eq!(updated, expected, "the store applies a patch as `ChannelPatch::apply` does");
        assert_eq!((expected.topic, expected.bitrate, expected.nsfw), (None, 64_000, true));
        not_found(s.update_channel(id(999), &patch, None).await);
        assert_eq!(s.guild_channels(g).await.unwrap().last().map(|c| c.id), Some(voice.id));

        // Put creates, then replaces; delete is once.
        let role_ow = OverwriteRow { target_id: 100, kind: 0, allow: 1 << 11, deny: 0 };
        assert!(!s.put_overwrite(voice.id, &role_ow, None).await.unwrap(), "replaced");
        assert!(s.put_overwrite(text, &role_ow, None).await.unwrap(), "new");
        assert_eq!(s.overwrites(voice.id).await.unwrap()[1], role_ow);
        assert!(s.delete_overwrite(voice.id, a.get(), None).await.unwrap());
        assert!(!s.delete_overwrite(voice.id, a.get(), None).await.unwrap());
        s.replace_overwrites(voice.id, &[OverwriteRow { target_id: 7, kind: 1, allow: 1, deny: 2 }], &[])
            .await
            .unwrap();
        assert_eq!(s.overwrites(voice.id).await.unwrap(), [OverwriteRow { target_id: 7, kind: 1, allow: 1, deny: 2 }]);
        assert_eq!(s.overwrites(text).await.unwrap(), [role_ow], "other channels keep theirs");
    }

    pub async fn deleting_a_channel_orphans_children_and_clears_guild_settings(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let mut category = rows::channel(110, Some(g), 1);
        category.kind = 4;
        s.create_channel(&category, &[], None).await.unwrap();
        let mut child = rows::channel(111, Some(g), 2);
        child.parent_id = Some(category.id);
        s.create_channel(&child, &[OverwriteRow { target_id: 100, kind: 0, allow: 1, deny: 0 }], None).await.unwrap();
        let mut voice = rows::channel(112, Some(g), 3);
        voice.kind = 2;
        s.create_channel(&voice, &[], None).await.unwrap();
        s.update_guild(g, &GuildPatch { afk_channel_id: Some(Some(voice.id)), ..GuildPatch::default() }, None)
            .await
            .unwrap();

        assert!(s.delete_channel(category.id, Some(&audit(1, g, owner, 12, 110))).await.unwrap());
        assert_eq!(s.channel(child.id).await.unwrap().unwrap().parent_id, None, "the child stays, without parent");

        // The system channel, with messages, reactions, read states and
        // invites: all go with it.
        let m = send(s, text, Some(g), 1000, a).await;
        s.add_reaction(text, m.id, "x", owner, 1).await.unwrap();
        s.ack(owner, text, m.id, 0, false).await.unwrap();
        s.create_invite(&invite("gone", g, text, owner, 1), None).await.unwrap();
        assert!(s.delete_channel(text, None).await.unwrap());
        assert!(!s.delete_channel(text, None).await.unwrap(), "a second delete finds nothing");
        assert!(s.channel(text).await.unwrap().is_none());
        assert!(s.message(text, m.id).await.unwrap().is_none());
        assert!(s.reaction_counts(text, &[m.id], owner).await.unwrap().is_empty());
        assert!(s.read_states(owner).await.unwrap().is_empty());
        assert!(s.invite("gone").await.unwrap().is_none());
        assert_eq!(s.guild(g).await.unwrap().unwrap().system_channel_id, None);

        assert!(s.delete_channel(voice.id, None).await.unwrap());
        assert_eq!(s.guild(g).await.unwrap().unwrap().afk_channel_id, None);
        let left: Vec<u64> = s.guild_channels(g).await.unwrap().iter().map(|c| c.id.get()).collect();
        assert_eq!(left, [111]);
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.target_id).collect::<Vec<_>>(), [Some(110)]);
    }

    pub async fn a_dm_channel_is_one_per_pair(s: &dyn Store) {
        let [a, b, c] = users(s, 1, 3).await[..] else { unreachable!() };
        let first = s.open_dm(b, a, id(500)).await.unwrap();
        assert_eq!((first.id, first.kind, first.guild_id, first.name.clone()), (id(500), 1, None, None));
        let again = s.open_dm(a, b, id(501)).await.unwrap();
        assert_eq!(again.id, first.id, "either order finds the same channel; the new id goes unused");
        assert!(s.channel(id(501)).await.unwrap().is_none());
        assert_eq!(s.dm_recipients(first.id).await.unwrap(), [a, b]);
        assert!(s.dm_recipients(id(999)).await.unwrap().is_empty());

        // Two first calls at once still make one channel: each finds it or
        // fails with a conflict, and then a retry finds it.
        let (x, y) = tokio::join!(s.open_dm(a, c, id(600)), s.open_dm(c, a, id(601)));
        let mut found = Vec::new();
        for (result, new_id) in [(x, 602), (y, 603)] {
            let channel = match result {
                Ok(channel) => channel,
                Err(StoreError::Conflict(what)) => {
                    assert_eq!(what, "dm channel");
                    s.open_dm(a, c, id(new_id)).await.unwrap()
                }
                Err(e) => panic!("opening a DM failed: {e}"),
            };
            found.push(channel.id);
        }
        assert_eq!(found[0], found[1]);
        let x = s.channel(found[0]).await.unwrap().expect("the DM channel");

        let mut of_a: Vec<(u64, u64)> =
            s.dm_channels(a).await.unwrap().iter().map(|(ch, other)| (ch.id.get(), other.get())).collect();
        of_a.sort();
        assert_eq!(of_a, [(500, b.get()), (x.id.get(), c.get())]);
        assert_eq!(
            s.dm_channels(b).await.unwrap().iter().map(|(ch, other)| (ch.id, *other)).collect::<Vec<_>>(),
            [(first.id, a)]
        );
    }

    pub async fn history_pages_are_newest_first_and_bounded(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let (_, other) = guild(s, 200, owner).await;
        // Ids 1010, 1020, …, 1100, sent out of order but for the newest.
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, None);
        for n in [3, 1, 2, 4, 5, 9, 6, 8, 7, 10] {
            send(s, text, Some(g), 1000 + n * 10, owner).await;
        }
        send(s, other, None, 5000, owner).await;
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, Some(id(1100)));
        assert_eq!(s.channel(other).await.unwrap().unwrap().last_message_id, Some(id(5000)));
        let page = |q: HistoryQuery, limit| async move { message_ids(&s.history(text, q, limit).await.unwrap()) };
        assert_eq!(page(HistoryQuery::Latest, 3).await, [1100, 1090, 1080]);
        assert_eq!(page(HistoryQuery::Latest, 100).await.len(), 10, "only this channel's");
        assert_eq!(page(HistoryQuery::Before(id(1080)), 3).await, [1070, 1060, 1050], "before excludes its id");
        assert_eq!(page(HistoryQuery::Before(id(1020)), 3).await, [1010]);
        assert_eq!(page(HistoryQuery::Before(id(1010)), 3).await, Vec::<u64>::new());
        assert_eq!(page(HistoryQuery::After(id(1080)), 5).await, [1100, 1090], "after excludes its id");
        assert_eq!(page(HistoryQuery::After(id(1020)), 2).await, [1040, 1030], "the oldest after it, newest first");
        assert_eq!(page(HistoryQuery::Oldest, 3).await, [1030, 1020, 1010]);
        assert_eq!(page(HistoryQuery::Around(id(1050)), 4).await, [1060, 1050, 1040, 1030]);
        assert_eq!(page(HistoryQuery::Around(id(1050)), 3).await, [1060, 1050, 1040]);
        assert_eq!(page(HistoryQuery::Around(id(1100)), 5).await, [1100, 1090, 1080], "clipped at the newest");
        assert_eq!(page(HistoryQuery::Latest, 1).await, [1100]);

        let some = s.messages_by_id(text, &ids(&[1030, 1050, 5000, 9999])).await.unwrap();
        let mut some = message_ids(&some);
        some.sort();
        assert_eq!(some, [1030, 1050], "another channel's message is not this channel's");
        assert!(s.messages_by_id(text, &[]).await.unwrap().is_empty());
        assert_eq!(s.latest_by_author(text, owner, id(1000)).await.unwrap(), Some(id(1100)));
        assert_eq!(s.latest_by_author(text, owner, id(1100)).await.unwrap(), None);
    }

    pub async fn imported_messages_read_back_like_sent_ones(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let (_, other) = guild(s, 200, owner).await;
        send(s, text, Some(g), 1000, owner).await;
        // More rows than one INSERT holds, and not a multiple of it; one
        // row of another channel among them.
        let mut rows: Vec<MessageRow> =
            (0..1203).map(|i| message(text, 2000 + i, owner, &format!("imported {i}"))).collect();
        rows.push(message(other, 9000, owner, "elsewhere"));
        s.import_messages(&rows).await.unwrap();
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, Some(id(3202)));
        assert_eq!(s.channel(other).await.unwrap().unwrap().last_message_id, Some(id(9000)));
        assert_eq!(message_ids(&s.history(text, HistoryQuery::Latest, 3).await.unwrap()), [3202, 3201, 3200]);
        assert_eq!(
            message_ids(&s.history(text, HistoryQuery::Before(id(2002)), 5).await.unwrap()),
            [2001, 2000, 1000],
            "the imported rows come after the one sent before"
        );
        let stored = s.message(text, id(2600)).await.unwrap().unwrap();
        assert_eq!(stored, rows[600], "stored as given");
        // Older rows leave the channel's last message where it is.
        s.import_messages(&[message(text, 1500, owner, "older")]).await.unwrap();
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, Some(id(3202)));
        assert_eq!(message_ids(&s.history(text, HistoryQuery::Before(id(2000)), 5).await.unwrap()), [1500, 1000]);
        // An id taken already fails the whole call.
        let clash = [message(text, 1600, owner, "new"), message(text, 2001, owner, "taken")];
        assert!(s.import_messages(&clash).await.is_err());
        assert!(s.message(text, id(1600)).await.unwrap().is_none(), "nothing of a failed import is stored");
        // The search index has them, as it has sent messages.
        let query = SearchQuery {
            channels: vec![text],
            words: vec!["imported".into(), "1202".into()],
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(message_ids(&s.search_messages(&query).await.unwrap().messages), [3202]);
    }

    /// Creates queued together are written in one transaction; one that
    /// cannot be written (its id is taken) fails alone, the others are
    /// committed, and the writer is left with no transaction open.
    pub async fn a_create_that_fails_in_a_batch_fails_alone(s: &dyn Store) {
        let owner = users(s, 1, 1).await[0];
        let (g, text) = guild(s, 100, owner).await;
        let first = send(s, text, Some(g), 1000, owner).await;
        let (a, taken, b) = (
            new_message(message(text, 1001, owner, "a"), Some(g)),
            new_message(message(text, 1000, owner, "the same id again"), Some(g)),
            new_message(message(text, 1002, owner, "b"), Some(g)),
        );
        // Queued before the writer runs: one batch.
        let (a_done, taken_done, b_done) =
            tokio::join!(s.create_message(&a), s.create_message(&taken), s.create_message(&b));
        assert_eq!(a_done.unwrap(), (a.row.clone(), true));
        assert_eq!(b_done.unwrap(), (b.row.clone(), true));
        assert!(taken_done.is_err(), "a create whose id is taken fails: {taken_done:?}");
        let history = s.history(text, HistoryQuery::Latest, 10).await.unwrap();
        assert_eq!(history, [b.row.clone(), a.row, first.clone()], "the first message is not overwritten");
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, Some(b.row.id));
        // The writer goes on: a batch and a single create after the failure
        // are committed and read back from another connection.
        let (c, d) = (
            new_message(message(text, 1003, owner, "c"), Some(g)),
            new_message(message(text, 1004, owner, "d"), Some(g)),
        );
        let (c_done, d_done) = tokio::join!(s.create_message(&c), s.create_message(&d));
        assert!(c_done.unwrap().1 && d_done.unwrap().1);
        let e = send(s, text, Some(g), 1005, owner).await;
        let history = s.history(text, HistoryQuery::Latest, 10).await.unwrap();
        assert_eq!(message_ids(&history), [1005, 1004, 1003, 1002, 1001, 1000]);
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_message_id, Some(e.id));
    }

    pub async fn a_retried_nonce_returns_the_first_message(s: &dyn Store) {
        let [owner, other] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let with_nonce = |n: u64, author: UserId, since: u64| {
            let mut row = message(text, n, author, "hello");
            row.nonce = Some("n-1".into());
            NewMessage { enforce_nonce: true, nonce_since: id(since), ..new_message(row, Some(g)) }
        };
        let (first, created) = s.create_message(&with_nonce(1000, owner, 1)).await.unwrap();
        assert!(created);
        assert_eq!(first.nonce.as_deref(), Some("n-1"));
        let (again, created) = s.create_message(&with_nonce(1001, owner, 1)).await.unwrap();
        assert!(!created, "a retry is not a new message");
        assert_eq!(again, first);
        assert!(s.message(text, id(1001)).await.unwrap().is_none());
        // Another author's nonce is theirs; an old one (before `since`) is
        // no longer a retry.
        assert!(s.create_message(&with_nonce(1002, other, 1)).await.unwrap().1);
        assert!(s.create_message(&with_nonce(1003, owner, 1000)).await.unwrap().1);
        // Not enforced: the same nonce twice makes two messages.
        let mut plain = message(text, 1004, owner, "again");
        plain.nonce = Some("n-1".into());
        assert!(s.create_message(&new_message(plain.clone(), Some(g))).await.unwrap().1);
        plain.id = id(1005);
        assert!(s.create_message(&new_message(plain, Some(g))).await.unwrap().1);
        assert_eq!(
            message_ids(&s.history(text, HistoryQuery::Latest, 10).await.unwrap()),
            [1005, 1004, 1003, 1002, 1000]
        );
    }

    pub async fn edits_and_deletes_touch_only_their_messages(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let mut reply = message(text, 1002, a, "a reply");
        reply.ref_message_id = Some(id(1001));
        reply.tts = true;
        reply.flags = 4;
        send(s, text, Some(g), 1001, owner).await;
        s.create_message(&new_message(reply.clone(), Some(g))).await.unwrap();
        assert_eq!(s.message(text, reply.id).await.unwrap(), Some(reply.clone()), "every field round-trips");
        for n in 1003..=1006 {
            send(s, text, Some(g), n, a).await;
        }

        let mut edited = reply.clone();
        edited.content = "an edited reply <@1>".into();
        edited.mentions = vec![owner];
        edited.edited_at = Some(1_800_000_000_000);
        s.edit_message(&edited).await.unwrap();
        assert_eq!(s.message(text, reply.id).await.unwrap(), Some(edited.clone()));
        assert_eq!(s.message(text, id(1001)).await.unwrap().unwrap().content, "message 1001", "others unchanged");
        not_found(s.edit_message(&message(text, 9999, a, "none")).await);

        // Link previews arrive for one version of a message: written only
        // if it was not edited since, and `edited_at` stays as it was.
        let link = store::EmbedRow {
            kind: Some("article".into()),
            title: Some("a page".into()),
            url: Some("https://example.com/".into()),
            provider_name: Some("Example".into()),
            thumbnail_url: Some("https://example.com/t.png".into()),
            thumbnail_size: Some((640, 480)),
            ..Default::default()
        };
        let plain = s.message(text, id(1001)).await.unwrap().unwrap();
        assert!(s.set_embeds(text, plain.id, None, std::slice::from_ref(&link)).await.unwrap());
        let got = s.message(text, plain.id).await.unwrap().unwrap();
        assert_eq!(got.embeds, [link.clone()], "every field round-trips");
        assert_eq!(got.edited_at, None, "not an edit");
        assert!(!s.set_embeds(text, reply.id, None, &[]).await.unwrap(), "edited since: left alone");
        assert!(!s.set_embeds(text, reply.id, Some(1), &[]).await.unwrap(), "another version");
        assert_eq!(s.message(text, reply.id).await.unwrap(), Some(edited.clone()));
        assert!(s.set_embeds(text, reply.id, edited.edited_at, &[link]).await.unwrap());
        assert_eq!(s.message(text, reply.id).await.unwrap().unwrap().edited_at, edited.edited_at);
        assert!(!s.set_embeds(text, id(9999), None, &[]).await.unwrap(), "no such message");

        assert!(s.delete_message(text, id(1003), None).await.unwrap());
        assert!(!s.delete_message(text, id(1003), None).await.unwrap());
        let deleted = s.delete_messages(text, &ids(&[1006, 1003, 1004, 4242]), Some(&audit(1, g, owner, 73, 0))).await;
        assert_eq!(deleted.unwrap(), ids::<MessageMarker>(&[1004, 1006]), "those that existed, by id");
        assert!(s.delete_messages(text, &ids(&[1004]), Some(&audit(2, g, owner, 73, 0))).await.unwrap().is_empty());
        assert!(s.delete_messages(text, &[], None).await.unwrap().is_empty());
        assert_eq!(message_ids(&s.history(text, HistoryQuery::Latest, 10).await.unwrap()), [1005, 1002, 1001]);
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [1], "a bulk delete of nothing is not audited");
    }

    pub async fn attachments_ride_in_their_message_and_uploads_wait_for_one(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let file = |n: u64, name: &str| store::AttachmentRow {
            id: id(n),
            filename: name.into(),
            title: Some(format!("{name} ✓")),
            description: Some(format!("about {name}")),
            content_type: Some("image/png".into()),
            size: 70_000,
            width: Some(3),
            height: Some(2),
            duration_secs: None,
            waveform: None,
        };
        let mut m = message(text, 1001, owner, "");
        let voice = store::AttachmentRow {
            content_type: Some("audio/ogg".into()),
            duration_secs: Some(serde_json::Number::from_f64(3.25).unwrap()),
            waveform: Some("AAoU".into()),
            ..file(5003, "voice-message.ogg")
        };
        m.attachments = vec![
            file(5001, "a.png"),
            store::AttachmentRow { description: None, width: None, ..file(5002, "b") },
            voice,
        ];
        let created = s.create_message(&new_message(m.clone(), Some(g))).await.unwrap();
        assert_eq!(created, (m.clone(), true));
        assert_eq!(s.message(text, m.id).await.unwrap(), Some(m.clone()), "attachments round-trip in order");
        // In batches too, beside plain messages.
        let mut more = message(text, 1002, owner, "with one");
        more.attachments = vec![file(5003, "c.png")];
        let plain = message(text, 1003, owner, "plain");
        let (new_more, new_plain) = (new_message(more.clone(), Some(g)), new_message(plain.clone(), Some(g)));
        let (x, y) = tokio::join!(s.create_message(&new_more), s.create_message(&new_plain));
        assert!(x.unwrap().1 && y.unwrap().1);
        let history = s.history(text, HistoryQuery::Latest, 10).await.unwrap();
        assert_eq!(history, [plain, more, m.clone()]);
        let mut edited = m.clone();
        edited.attachments.truncate(1);
        s.edit_message(&edited).await.unwrap();
        assert_eq!(s.message(text, m.id).await.unwrap().unwrap().attachments, edited.attachments);

        let up = |n: u64, at: i64| store::UploadRow {
            id: id(n),
            channel_id: text,
            user_id: owner,
            filename: "up.bin".into(),
            created_at: at,
        };
        s.create_upload(&up(6001, 1_000)).await.unwrap();
        s.create_upload(&up(6002, 5_000)).await.unwrap();
        assert_eq!(s.uploads(text, Some(owner), &ids(&[6001, 6002, 7000]), 0).await.unwrap().len(), 2);
        assert_eq!(s.uploads(text, Some(owner), &ids(&[6001, 6002]), 2_000).await.unwrap(), [up(6002, 5_000)]);
        assert_eq!(s.uploads(text, None, &ids(&[6002]), 0).await.unwrap(), [up(6002, 5_000)]);
        assert!(s.uploads(text, Some(id(9)), &ids(&[6002]), 0).await.unwrap().is_empty(), "someone else's");
        assert_eq!(s.expired_uploads(2_000, 10).await.unwrap(), [up(6001, 1_000)]);
        s.delete_uploads(&ids(&[6001])).await.unwrap();
        assert!(s.expired_uploads(2_000, 10).await.unwrap().is_empty());
        assert_eq!(s.expired_uploads(9_000, 10).await.unwrap(), [up(6002, 5_000)]);
        // A claim takes a row once: someone else, a stale one and a second
        // claim get nothing.
        s.create_upload(&up(6003, 6_000)).await.unwrap();
        assert!(s.take_uploads(text, id(9), &ids(&[6002, 6003]), 0).await.unwrap().is_empty(), "someone else's");
        assert!(s.take_uploads(text, owner, &ids(&[6002]), 5_500).await.unwrap().is_empty(), "too old");
        let mut taken = s.take_uploads(text, owner, &ids(&[6002, 6003, 7000]), 0).await.unwrap();
        taken.sort_by_key(|u| u.id);
        assert_eq!(taken, [up(6002, 5_000), up(6003, 6_000)]);
        assert!(s.take_uploads(text, owner, &ids(&[6002, 6003]), 0).await.unwrap().is_empty(), "claimed already");
        assert!(s.uploads(text, None, &ids(&[6002, 6003]), 0).await.unwrap().is_empty());

        // Deletions queued for later: due in order, queued once, forgotten.
        let t = |s: &str| s.to_owned();
        s.queue_deletions(&[t("attachments/1/2"), t("channel/3")], 5_000).await.unwrap();
        s.queue_deletions(&[t("attachments/1/4"), t("channel/3")], 1_000).await.unwrap();
        assert_eq!(s.due_deletions(999, 10).await.unwrap(), Vec::<String>::new());
        assert_eq!(s.due_deletions(1_000, 10).await.unwrap(), [t("attachments/1/4")]);
        assert_eq!(s.due_deletions(9_000, 1).await.unwrap(), [t("attachments/1/4")]);
        s.forget_deletions(&[t("attachments/1/4"), t("nothing")]).await.unwrap();
        let mut due = s.due_deletions(9_000, 10).await.unwrap();
        due.sort();
        assert_eq!(due, [t("attachments/1/2"), t("channel/3")]);
    }

    pub async fn reactions_count_in_order_of_first_use(s: &dyn Store) {
        let people = users(s, 1, 5).await;
        let (g, text) = guild(s, 100, people[0]).await;
        let m1 = send(s, text, Some(g), 1001, people[0]).await.id;
        let m2 = send(s, text, Some(g), 1002, people[0]).await.id;
        // All in the same millisecond: the order they were first used in
        // is kept anyway.
        for (msg, emoji, who) in [(m1, "🍕", 1), (m1, "a:1", 2), (m1, "🍕", 2), (m1, "🍕", 3), (m2, "🍕", 4)] {
            assert!(s.add_reaction(text, msg, emoji, people[who], 7).await.unwrap());
        }
        assert!(!s.add_reaction(text, m1, "🍕", people[2], 8).await.unwrap(), "once per person and emoji");
        let counts = s.reaction_counts(text, &[m2, m1], people[2]).await.unwrap();
        let seen: Vec<(u64, &str, u32, bool)> =
            counts.iter().map(|c| (c.message_id.get(), c.emoji.as_str(), c.count, c.me)).collect();
        assert_eq!(seen, [(1001, "🍕", 3, true), (1001, "a:1", 1, true), (1002, "🍕", 1, false)]);
        assert!(s.reaction_counts(text, &[], people[0]).await.unwrap().is_empty());

        let reactors = |after: Option<UserId>, limit| async move {
            s.reactors(text, m1, "🍕", after, limit).await.unwrap().iter().map(|u| u.get()).collect::<Vec<_>>()
        };
        assert_eq!(reactors(None, 10).await, [2, 3, 4]);
        assert_eq!(reactors(None, 2).await, [2, 3]);
        assert_eq!(reactors(Some(people[2]), 2).await, [4]);

        assert!(s.remove_reaction(text, m1, "🍕", people[1]).await.unwrap());
        assert!(!s.remove_reaction(text, m1, "🍕", people[1]).await.unwrap());
        assert_eq!(s.clear_reactions(text, m1, Some("a:1")).await.unwrap(), 1);
        assert_eq!(s.clear_reactions(text, m1, None).await.unwrap(), 2, "the two 🍕 left");
        assert!(s.reaction_counts(text, &[m1], people[0]).await.unwrap().is_empty());
        // Deleting a message takes its reactions with it.
        assert!(s.delete_message(text, m2, None).await.unwrap());
        assert!(s.reaction_counts(text, &[m2], people[0]).await.unwrap().is_empty());
        assert!(s.reactors(text, m2, "🍕", None, 10).await.unwrap().is_empty());
    }

    pub async fn pins_list_the_latest_first_and_move_the_channel(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        for n in 1001..=1003 {
            send(s, text, Some(g), n, owner).await;
        }
        assert!(s.set_pinned(text, id(1002), Some(50), Some(&audit(1, g, owner, 74, 1002))).await.unwrap());
        assert!(s.set_pinned(text, id(1001), Some(60), None).await.unwrap());
        assert!(s.set_pinned(text, id(1003), Some(40), None).await.unwrap());
        assert!(
            !s.set_pinned(text, id(1003), Some(70), Some(&audit(2, g, owner, 74, 1003))).await.unwrap(),
            "already pinned"
        );
        assert_eq!(message_ids(&s.pins(text).await.unwrap()), [1001, 1002, 1003]);
        assert_eq!(s.message(text, id(1003)).await.unwrap().unwrap().pinned_at, Some(40));
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_pin_at, Some(60));

        assert!(s.set_pinned(text, id(1001), None, None).await.unwrap());
        assert!(!s.set_pinned(text, id(1001), None, None).await.unwrap(), "not pinned");
        assert!(!s.set_pinned(text, id(9999), Some(80), None).await.unwrap(), "no such message");
        assert_eq!(message_ids(&s.pins(text).await.unwrap()), [1002, 1003]);
        assert_eq!(s.channel(text).await.unwrap().unwrap().last_pin_at, Some(50), "the latest pin left");
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [1]);
    }

    pub async fn mentions_count_once_per_person_who_can_see_them(s: &dyn Store) {
        let people = users(s, 1, 6).await;
        let [owner, a, b, c, d, outsider] = people[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        for u in [a, b, c, d] {
            s.add_member(&member(g, u), None).await.unwrap();
        }
        s.create_role(&role(101, g, 1), None).await.unwrap();
        s.add_member_role(g, b, id(101), None).await.unwrap();
        s.add_member_role(g, c, id(101), None).await.unwrap();
        s.add_member_role(g, owner, id(101), None).await.unwrap();
        let counts = || async move {
            let mut out = Vec::new();
            for u in [owner, a, b, c, d, outsider] {
                let rs = s.read_states(u).await.unwrap();
                out.push(rs.iter().find(|r| r.channel_id == text).map_or(0, |r| r.mention_count));
            }
            out
        };

        // Named directly (the author too): never the author.
        let mut m = message(text, 1001, owner, "hi");
        m.mentions = vec![a, owner];
        s.create_message(&new_message(m, Some(g))).await.unwrap();
        assert_eq!(counts().await, [0, 1, 0, 0, 0, 0]);
        let state = s.read_states(a).await.unwrap();
        assert_eq!(state[0].last_message_id, None, "a mention is not a read");

        // A role and one of its holders by name: once each.
        let mut m = message(text, 1002, a, "role");
        (m.mention_roles, m.mentions) = (vec![id(101)], vec![b]);
        s.create_message(&new_message(m, Some(g))).await.unwrap();
        assert_eq!(counts().await, [1, 1, 1, 1, 0, 0]);

        // @everyone: every member but the author.
        let mut m = message(text, 1003, d, "everyone");
        m.mention_everyone = true;
        s.create_message(&new_message(m, Some(g))).await.unwrap();
        assert_eq!(counts().await, [2, 2, 2, 2, 0, 0]);

        // In a channel hidden from some, only its viewers count, whatever
        // the message names.
        let mut m = message(text, 1004, owner, "hidden");
        (m.mention_everyone, m.mention_roles, m.mentions) = (true, vec![id(101)], vec![c]);
        let mut new = new_message(m, Some(g));
        new.guild_mentions.as_mut().unwrap().viewers = Some(vec![owner, a, b]);
        s.create_message(&new).await.unwrap();
        assert_eq!(counts().await, [2, 3, 3, 2, 0, 0]);
        let mut m = message(text, 1005, owner, "hidden role");
        (m.mention_roles, m.mentions) = (vec![id(101)], vec![c, a, b]);
        let mut new = new_message(m, Some(g));
        new.guild_mentions.as_mut().unwrap().viewers = Some(vec![owner, a, b]);
        s.create_message(&new).await.unwrap();
        assert_eq!(counts().await, [2, 4, 4, 2, 0, 0]);

        // @here: those online now.
        let mut m = message(text, 1006, a, "here");
        m.mention_everyone = true;
        let mut new = new_message(m, Some(g));
        new.guild_mentions.as_mut().unwrap().online = Some(vec![a, c, d]);
        s.create_message(&new).await.unwrap();
        assert_eq!(counts().await, [2, 4, 4, 3, 1, 0]);

        // In a DM, the other recipient.
        let dm = s.open_dm(a, outsider, id(900)).await.unwrap();
        let mut m = message(dm.id, 1007, a, "psst");
        m.mentions = vec![outsider];
        s.create_message(&new_message(m, None)).await.unwrap();
        let rs = s.read_states(outsider).await.unwrap();
        assert_eq!(rs.iter().map(|r| (r.channel_id, r.mention_count)).collect::<Vec<_>>(), [(dm.id, 1)]);
    }

    pub async fn acks_move_forward_and_clear_mentions(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let second = rows::channel(102, Some(g), 1);
        s.create_channel(&second, &[], None).await.unwrap();
        s.add_member(&member(g, a), None).await.unwrap();
        for n in [1001, 1002] {
            let mut m = message(text, n, owner, "ping");
            m.mentions = vec![a];
            s.create_message(&new_message(m, Some(g))).await.unwrap();
        }
        let state = |rows: Vec<store::ReadStateRow>| {
            rows.iter()
                .map(|r| (r.channel_id.get(), r.last_message_id.map(|m| m.get()), r.mention_count))
                .collect::<Vec<_>>()
        };
        assert_eq!(state(s.read_states(a).await.unwrap()), [(101, None, 2)]);

        let acked = s.ack(a, text, id(1002), 0, false).await.unwrap();
        assert_eq!((acked.last_message_id, acked.mention_count), (Some(id(1002)), 0));
        // An older ack does not move it back.
        let acked = s.ack(a, text, id(1001), 0, false).await.unwrap();
        assert_eq!(acked.last_message_id, Some(id(1002)));
        // Marking unread sets it as given, backwards and with a count.
        let acked = s.ack(a, text, id(1001), 1, true).await.unwrap();
        assert_eq!((acked.last_message_id, acked.mention_count), (Some(id(1001)), 1));
        s.ack(a, second.id, id(1500), 0, false).await.unwrap();
        assert_eq!(state(s.read_states(a).await.unwrap()), [(101, Some(1001), 1), (102, Some(1500), 0)], "by channel");
        assert!(s.read_states(owner).await.unwrap().is_empty(), "the author's own messages count for nothing");
    }

    pub async fn invites_are_used_within_their_limits(s: &dyn Store) {
        let people = users(s, 1, 5).await;
        let [owner, a, b, c, d] = people[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let second = rows::channel(102, Some(g), 1);
        s.create_channel(&second, &[], None).await.unwrap();
        let now = 1_700_000_000_000;

        let mut limited = invite("limited", g, text, owner, now - 2);
        (limited.max_uses, limited.max_age, limited.temporary) = (2, 3600, true);
        s.create_invite(&limited, Some(&audit(1, g, owner, 40, 0))).await.unwrap();
        assert_eq!(s.invite("limited").await.unwrap(), Some(limited.clone()));
        assert_eq!(conflict(s.create_invite(&invite("limited", g, second.id, a, now), None).await), "invite");
        let mut expired = invite("expired", g, text, owner, now - 3_600_001);
        expired.max_age = 3600;
        s.create_invite(&expired, None).await.unwrap();
        s.create_invite(&invite("forever", g, second.id, owner, now - 1), None).await.unwrap();
        s.create_invite(&invite("another", g, text, owner, now - 2), None).await.unwrap();

        let codes = |rows: Vec<InviteRow>| rows.into_iter().map(|i| i.code).collect::<Vec<_>>();
        assert_eq!(
            codes(s.channel_invites(text, now).await.unwrap()),
            ["another", "limited"],
            "live, by age then code"
        );
        assert_eq!(codes(s.guild_invites(g, now).await.unwrap()), ["another", "limited", "forever"]);
        assert!(s.invite("expired").await.unwrap().is_some(), "an expired invite is still found by code");
        assert_eq!(s.join_by_invite("expired", a, now).await.unwrap(), JoinOutcome::Invalid);
        assert_eq!(s.join_by_invite("nope", a, now).await.unwrap(), JoinOutcome::Invalid);

        let JoinOutcome::Joined(used) = s.join_by_invite("limited", a, now).await.unwrap() else { panic!("a joins") };
        assert_eq!(used.uses, 1);
        let member = s.member(g, a).await.unwrap().expect("a member now");
        assert_eq!(member.joined_at, now);
        let JoinOutcome::AlreadyMember(same) = s.join_by_invite("limited", a, now).await.unwrap() else {
            panic!("a was a member already")
        };
        assert_eq!(same.uses, 1);
        assert_eq!(s.invite("limited").await.unwrap().unwrap().uses, 1, "a member joining again uses nothing");
        assert!(matches!(s.join_by_invite("limited", b, now).await.unwrap(), JoinOutcome::Joined(i) if i.uses == 2));
        assert!(s.invite("limited").await.unwrap().is_none(), "used up, it is gone");
        assert_eq!(s.join_by_invite("limited", c, now).await.unwrap(), JoinOutcome::Invalid);
        assert!(s.member(g, c).await.unwrap().is_none());
        // After its time, an invite with uses left is refused all the same.
        assert!(matches!(s.join_by_invite("another", d, now).await.unwrap(), JoinOutcome::Joined(_)));
        let mut short = invite("short", g, text, owner, now);
        short.max_age = 60;
        s.create_invite(&short, None).await.unwrap();
        assert_eq!(s.join_by_invite("short", c, now + 60_000).await.unwrap(), JoinOutcome::Invalid);
        assert!(matches!(s.join_by_invite("short", c, now + 59_999).await.unwrap(), JoinOutcome::Joined(_)));

        assert!(s.delete_invite("forever", Some(&audit(2, g, owner, 42, 0))).await.unwrap());
        assert!(!s.delete_invite("forever", Some(&audit(3, g, owner, 42, 0))).await.unwrap());
        let log = s.audit_log(g, AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 1]);
    }

    pub async fn an_invite_with_one_use_is_used_once_under_concurrency(s: &dyn Store) {
        let people = users(s, 1, 9).await;
        let (g, text) = guild(s, 100, people[0]).await;
        let mut once = invite("once", g, text, people[0], 1);
        once.max_uses = 1;
        s.create_invite(&once, None).await.unwrap();
        let joins = futures::future::join_all(people[1..].iter().map(|u| s.join_by_invite("once", *u, 2))).await;
        let joined = joins.iter().filter(|j| matches!(j, Ok(JoinOutcome::Joined(_)))).count();
        assert_eq!(joined, 1, "{joins:?}");
        assert!(joins.iter().all(|j| matches!(j, Ok(JoinOutcome::Joined(_) | JoinOutcome::Invalid))), "{joins:?}");
        assert_eq!(s.member_count(g).await.unwrap(), 2);
    }

    pub async fn the_audit_log_filters_and_pages(s: &dyn Store) {
        let [owner, a] = users(s, 1, 2).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let (other, _) = guild(s, 200, owner).await;
        // Entries come in through the audited writes; ids 1..=6.
        let by = |n, who, action, target| audit(n, g, who, action, target);
        s.update_guild(g, &GuildPatch { name: Some("x".into()), ..GuildPatch::default() }, Some(&by(1, owner, 1, 100)))
            .await
            .unwrap();
        s.create_role(&role(101, g, 1), Some(&by(2, owner, 30, 101))).await.unwrap();
        s.add_member(&member(g, a), Some(&by(3, a, 28, 2))).await.unwrap();
        s.update_channel(
            text,
            &ChannelPatch { topic: Some(Some("t".into())), ..ChannelPatch::default() },
            Some(&by(4, a, 11, 101)),
        )
        .await
        .unwrap();
        s.add_member_role(g, a, id(101), Some(&by(5, owner, 25, 2))).await.unwrap();
        s.update_role(g, id(101), &RolePatch { color: Some(1), ..RolePatch::default() }, Some(&by(6, owner, 31, 101)))
            .await
            .unwrap();
        s.update_guild(other, &GuildPatch::default(), Some(&audit(7, other, owner, 1, 200))).await.unwrap();

        let log =
            |q: AuditQuery| async move { s.audit_log(g, q).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>() };
        let all = AuditQuery { limit: 50, ..AuditQuery::default() };
        assert_eq!(log(all).await, [6, 5, 4, 3, 2, 1], "newest first, this guild's only");
        assert_eq!(s.audit_log(g, all).await.unwrap()[5], by(1, owner, 1, 100), "every field round-trips");
        assert_eq!(log(AuditQuery { limit: 2, ..all }).await, [6, 5]);
        assert_eq!(log(AuditQuery { before: Some(5), limit: 2, ..all }).await, [4, 3]);
        assert_eq!(log(AuditQuery { after: Some(2), limit: 2, ..all }).await, [3, 4], "after: oldest first");
        assert_eq!(log(AuditQuery { after: Some(1), before: Some(5), ..all }).await, [4, 3, 2]);
        assert_eq!(log(AuditQuery { user_id: Some(a), ..all }).await, [4, 3]);
        assert_eq!(log(AuditQuery { action_type: Some(31), ..all }).await, [6]);
        assert_eq!(log(AuditQuery { target_id: Some(101), ..all }).await, [6, 4, 2]);
        assert_eq!(log(AuditQuery { target_id: Some(101), user_id: Some(owner), ..all }).await, [6, 2]);
        assert_eq!(log(AuditQuery { action_type: Some(99), ..all }).await, Vec::<u64>::new());
        assert_eq!(s.audit_log(other, all).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [7]);
    }

    pub async fn relationships_follow_requests_and_blocks(s: &dyn Store) {
        let [a, b, c] = users(s, 1, 3).await[..] else { unreachable!() };
        let rel = |user, other, kind, since| RelationshipRow { user_id: user, other_id: other, kind, since };
        let listed = |u: UserId| async move {
            s.relationships(u).await.unwrap().iter().map(|r| (r.other_id.get(), r.kind)).collect::<Vec<_>>()
        };

        // A request, then its acceptance: both sides see each step.
        let sent = s.befriend(a, b, 10).await.unwrap();
        assert_eq!(
            sent,
            FriendOutcome::Done(vec![
                RelationshipChange::Set(rel(a, b, kind::OUTGOING, 10)),
                RelationshipChange::Set(rel(b, a, kind::INCOMING, 10)),
            ])
        );
        assert_eq!(s.befriend(a, b, 11).await.unwrap(), FriendOutcome::Done(Vec::new()), "asking twice does nothing");
        assert_eq!(listed(b).await, [(1, kind::INCOMING)]);
        assert!(!s.friends_or_guildmates(a, b).await.unwrap(), "a request is not a friendship");
        let accepted = s.befriend(b, a, 12).await.unwrap();
        assert_eq!(
            accepted,
            FriendOutcome::Done(vec![
                RelationshipChange::Set(rel(b, a, kind::FRIEND, 12)),
                RelationshipChange::Set(rel(a, b, kind::FRIEND, 12)),
            ])
        );
        assert!(s.friends_or_guildmates(a, b).await.unwrap());
        assert!(s.friends_or_guildmates(b, a).await.unwrap());
        s.befriend(a, c, 13).await.unwrap();
        assert_eq!(listed(a).await, [(2, kind::FRIEND), (3, kind::OUTGOING)], "oldest first");

        // A block ends the friendship on both sides and is one-sided.
        let blocked = s.block(b, a, 20).await.unwrap();
        assert_eq!(
            blocked,
            vec![
                RelationshipChange::Removed(rel(a, b, kind::FRIEND, 12)),
                RelationshipChange::Set(rel(b, a, kind::BLOCKED, 20))
            ]
        );
        assert_eq!(listed(a).await, [(3, kind::OUTGOING)]);
        assert_eq!(listed(b).await, [(1, kind::BLOCKED)]);
        assert!(s.blocked_between(a, b).await.unwrap() && s.blocked_between(b, a).await.unwrap());
        assert!(!s.blocked_between(a, c).await.unwrap());
        assert_eq!(s.befriend(a, b, 21).await.unwrap(), FriendOutcome::Blocked, "the blocked cannot ask");
        assert_eq!(s.befriend(b, a, 21).await.unwrap(), FriendOutcome::Blocked, "nor the blocker, while it lasts");
        assert!(s.block(b, a, 22).await.unwrap().is_empty(), "blocking twice does nothing");
        // Blocked back: two blocks, each removed by its owner only.
        s.block(a, b, 23).await.unwrap();
        assert_eq!(
            s.remove_relationship(b, a).await.unwrap(),
            [RelationshipChange::Removed(rel(b, a, kind::BLOCKED, 20))]
        );
        assert_eq!(listed(a).await, [(3, kind::OUTGOING), (2, kind::BLOCKED)]);
        assert!(s.blocked_between(b, a).await.unwrap(), "a still blocks b");
        s.remove_relationship(a, b).await.unwrap();
        assert!(!s.blocked_between(a, b).await.unwrap());

        // Cancelling a request removes both sides; removing nothing is a no-op.
        assert_eq!(
            s.remove_relationship(a, c).await.unwrap(),
            [
                RelationshipChange::Removed(rel(a, c, kind::OUTGOING, 13)),
                RelationshipChange::Removed(rel(c, a, kind::INCOMING, 13))
            ]
        );
        assert!(s.remove_relationship(a, c).await.unwrap().is_empty());
        assert!(listed(a).await.is_empty() && listed(c).await.is_empty());
    }

    pub async fn emojis_and_stickers_round_trip_within_their_slots(s: &dyn Store) {
        let [owner] = users(s, 1, 1).await[..] else { unreachable!() };
        let (g, text) = guild(s, 100, owner).await;
        let (other, _) = guild(s, 200, owner).await;
        s.create_role(&role(101, g, 1), None).await.unwrap();
        let emoji = |n: u64, guild: GuildId, animated: bool| EmojiRow {
            id: id(n),
            guild_id: guild,
            name: format!("e{n}"),
            user_id: Some(owner),
            roles: Vec::new(),
            require_colons: true,
            managed: false,
            animated,
            available: true,
            format: if animated { "gif".into() } else { "png".into() },
        };
        let mut first = emoji(1000, g, false);
        first.roles = ids(&[101]);
        assert!(s.create_emoji(&first, 2, &audit(1, g, owner, 60, 1000)).await.unwrap());
        assert!(s.create_emoji(&emoji(1001, g, false), 2, &audit(2, g, owner, 60, 1001)).await.unwrap());
        // Full of still ones: refused and not written, audit entry neither;
        // animated ones count apart; another guild's slots are its own.
        assert!(!s.create_emoji(&emoji(1002, g, false), 2, &audit(3, g, owner, 60, 1002)).await.unwrap());
        assert!(s.create_emoji(&emoji(1003, g, true), 2, &audit(4, g, owner, 60, 1003)).await.unwrap());
        assert!(s.create_emoji(&emoji(1004, other, false), 2, &audit(5, other, owner, 60, 1004)).await.unwrap());
        let listed = s.emojis(g).await.unwrap();
        assert_eq!(listed.iter().map(|e| e.id.get()).collect::<Vec<_>>(), [1000, 1001, 1003]);
        assert_eq!(listed[0], first, "every field round-trips");
        let found = s.emojis_by_id(&ids(&[1004, 1002, 1000])).await.unwrap();
        let mut found: Vec<u64> = found.iter().map(|e| e.id.get()).collect();
        found.sort();
        assert_eq!(found, [1000, 1004], "by id, in any guild");

        let mut renamed = first.clone();
        renamed.name = "renamed".into();
        renamed.roles = Vec::new();
        assert!(s.update_emoji(&renamed, &audit(6, g, owner, 61, 1000)).await.unwrap());
        assert_eq!(s.emojis(g).await.unwrap()[0], renamed);
        let mut elsewhere = renamed.clone();
        elsewhere.guild_id = other;
        assert!(!s.update_emoji(&elsewhere, &audit(7, other, owner, 61, 1000)).await.unwrap(), "not that guild's");
        assert!(s.delete_emoji(g, id(1000), &audit(8, g, owner, 62, 1000)).await.unwrap());
        assert!(!s.delete_emoji(g, id(1000), &audit(9, g, owner, 62, 1000)).await.unwrap());
        let log = s.audit_log(g, AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap();
        assert_eq!(log.iter().map(|e| e.id).collect::<Vec<_>>(), [8, 6, 4, 2, 1], "one entry per change made");

        let sticker = |n: u64, format_type: u8| StickerRow {
            id: id(n),
            guild_id: g,
            name: format!("s{n}"),
            description: Some("a sticker".into()),
            tags: "wave".into(),
            format_type,
            available: true,
            user_id: Some(owner),
        };
        assert!(s.create_sticker(&sticker(2000, 1), 2, &audit(10, g, owner, 90, 2000)).await.unwrap());
        assert!(s.create_sticker(&sticker(2001, 3), 2, &audit(11, g, owner, 90, 2001)).await.unwrap());
        assert!(!s.create_sticker(&sticker(2002, 1), 2, &audit(12, g, owner, 90, 2002)).await.unwrap());
        assert_eq!(s.stickers(g).await.unwrap(), vec![sticker(2000, 1), sticker(2001, 3)]);
        let mut edited = sticker(2000, 1);
        edited.description = None;
        edited.tags = "ocean".into();
        assert!(s.update_sticker(&edited, &audit(13, g, owner, 91, 2000)).await.unwrap());
        assert_eq!(s.stickers_by_id(&ids(&[2000])).await.unwrap(), vec![edited.clone()]);

        // A message keeps the stickers it was sent with, also once deleted.
        let mut row = message(text, 3000, owner, "");
        row.sticker_items = vec![
            StickerItemRow { id: id(2000), name: "s2000".into(), format_type: 1 },
            StickerItemRow { id: id(2001), name: "s2001".into(), format_type: 3 },
        ];
        s.create_message(&new_message(row.clone(), Some(g))).await.unwrap();
        assert!(s.delete_sticker(g, id(2000), &audit(14, g, owner, 92, 2000)).await.unwrap());
        assert_eq!(s.message(text, id(3000)).await.unwrap(), Some(row));
        assert_eq!(s.stickers(g).await.unwrap().len(), 1);

        // Deleting the guild takes its expressions with it.
        s.delete_guild(g).await.unwrap();
        assert!(s.emojis(g).await.unwrap().is_empty());
        assert!(s.stickers(g).await.unwrap().is_empty());
        assert_eq!(s.emojis(other).await.unwrap().len(), 1);
    }

    pub async fn application_commands_are_unique_by_name_per_scope_within_their_limits(s: &dyn Store) {
        let owner = users(s, 1, 1).await[0];
        let app = |n: u64| ApplicationRow {
            id: id(n),
            name: format!("app {n}"),
            description: String::new(),
            owner_id: owner,
            bot_public: true,
            flags: 0,
            verify_key: "key".into(),
            interactions_endpoint_url: None,
            signing_seed: None,
        };
        for n in [10, 11] {
            let mut bot = user(n, &format!("bot{n}"));
            bot.bot = true;
            (bot.email, bot.password_hash) = (None, None);
            s.create_application(&app(n), &bot, &format!("token {n}")).await.unwrap();
        }
        let (g, _) = guild(s, 100, owner).await;
        let (a, b): (UserId, UserId) = (id(10), id(11));
        let command = |n: u64, app: UserId, guild: Option<GuildId>, kind: u8, name: &str| CommandRow {
            id: id(n),
            application_id: app,
            guild_id: guild,
            kind,
            name: name.to_owned(),
            name_localizations: Some(r#"{"fr":"bonjour"}"#.into()),
            description: format!("command {n}"),
            description_localizations: None,
            options: r#"[{"type":3,"name":"text","description":"Text"}]"#.into(),
            default_member_permissions: Some(8),
            dm_permission: guild.is_none(),
            contexts: None,
            integration_types: "[0]".into(),
            nsfw: false,
            version: n * 10,
        };

        // A new name is a new command; the same type and name in the same
        // scope replaces it under its first id.
        let first = command(1000, a, None, 1, "hello");
        assert_eq!(s.upsert_command(&first, 100).await.unwrap(), CommandUpsert::Created(first.clone()));
        let mut again = command(1001, a, None, 1, "hello");
        again.description = "replaced".into();
        let replaced = CommandRow { id: first.id, ..again.clone() };
        assert_eq!(s.upsert_command(&again, 100).await.unwrap(), CommandUpsert::Replaced(replaced.clone()));
        assert_eq!(s.commands(a, None).await.unwrap(), vec![replaced.clone()]);
        assert_eq!(s.command(a, None, first.id).await.unwrap(), Some(replaced.clone()));
        assert_eq!(s.command(a, None, id(1001)).await.unwrap(), None);

        // Other scopes, types and applications are apart.
        let in_guild = command(1002, a, Some(g), 1, "hello");
        let user_kind = command(1003, a, None, 2, "hello");
        let other_app = command(1004, b, None, 1, "hello");
        for row in [&in_guild, &user_kind, &other_app] {
            assert_eq!(s.upsert_command(row, 100).await.unwrap(), CommandUpsert::Created(row.clone()));
        }
        assert_eq!(s.commands(a, Some(g)).await.unwrap(), vec![in_guild.clone()]);
        assert_eq!(s.command(a, None, in_guild.id).await.unwrap(), None, "a guild command is not global");
        assert_eq!(s.command(a, Some(g), first.id).await.unwrap(), None, "a global command is not the guild's");
        assert_eq!(s.commands(a, None).await.unwrap(), vec![replaced.clone(), user_kind.clone()]);
        assert_eq!(s.commands(b, None).await.unwrap(), vec![other_app.clone()]);

        // The limit counts one type in one scope; a replacement is never refused.
        assert_eq!(
            s.upsert_command(&command(1005, a, None, 2, "second"), 2).await.unwrap(),
            CommandUpsert::Created(command(1005, a, None, 2, "second"))
        );
        assert_eq!(s.upsert_command(&command(1006, a, None, 2, "third"), 2).await.unwrap(), CommandUpsert::Full);
        assert!(matches!(
            s.upsert_command(&command(1007, a, None, 2, "second"), 2).await.unwrap(),
            CommandUpsert::Replaced(_)
        ));
        assert_eq!(s.command(a, None, id(1006)).await.unwrap(), None);

        // Updates keep the type and scope; a taken name is a conflict.
        let mut renamed = user_kind.clone();
        renamed.name = "second".into();
        assert!(matches!(s.update_command(&renamed).await, Err(StoreError::Conflict(_))));
        renamed.name = "Get Info".into();
        renamed.version = 99;
        assert!(s.update_command(&renamed).await.unwrap());
        assert_eq!(s.command(a, None, renamed.id).await.unwrap(), Some(renamed.clone()));
        let mut elsewhere = renamed.clone();
        elsewhere.guild_id = Some(g);
        assert!(!s.update_command(&elsewhere).await.unwrap(), "the command is not in that scope");

        // An overwrite keeps the listed ids, deletes the rest, adds the new,
        // and may swap names between kept commands.
        let mut x = command(2000, a, Some(g), 1, "x");
        let mut y = command(2001, a, Some(g), 1, "y");
        s.replace_commands(a, Some(g), &[x.clone(), y.clone()]).await.unwrap();
        assert_eq!(s.commands(a, Some(g)).await.unwrap(), vec![x.clone(), y.clone()], "hello was dropped");
        (x.name, y.name) = ("y".into(), "x".into());
        let z = command(2002, a, Some(g), 1, "z");
        s.replace_commands(a, Some(g), &[x.clone(), y.clone(), z.clone()]).await.unwrap();
        assert_eq!(s.commands(a, Some(g)).await.unwrap(), vec![x.clone(), y.clone(), z.clone()]);
        s.replace_commands(a, Some(g), std::slice::from_ref(&z)).await.unwrap();
        assert_eq!(s.commands(a, Some(g)).await.unwrap(), vec![z.clone()]);
        assert_eq!(s.commands(a, None).await.unwrap().len(), 3, "the global commands are untouched");

        // Deletes, and the guild's commands go with it.
        assert!(s.delete_command(a, None, renamed.id).await.unwrap());
        assert!(!s.delete_command(a, None, renamed.id).await.unwrap());
        assert!(!s.delete_command(a, None, z.id).await.unwrap(), "a guild command is not deleted as global");
        s.delete_guild(g).await.unwrap();
        assert!(s.commands(a, Some(g)).await.unwrap().is_empty());
        assert_eq!(s.commands(a, None).await.unwrap().len(), 2);
    }

    pub async fn webhooks_round_trip_and_their_messages_keep_their_author(s: &dyn Store) {
        let owner = users(s, 1, 1).await[0];
        let (g, text) = guild(s, 100, owner).await;
        let second = rows::channel(102, Some(g), 1);
        s.create_channel(&second, &[], None).await.unwrap();
        let hook = |n: u64, channel: ChannelId, name: &str| WebhookRow {
            id: id(n),
            kind: 1,
            guild_id: g,
            channel_id: channel,
            creator_id: Some(owner),
            application_id: None,
            name: name.into(),
            avatar: None,
            token: format!("secret-{n}"),
            created_at: 1_700_000_000_000,
        };
        let account = |n: u64, name: &str| NewUser {
            bot: true,
            password_hash: None,
            email: None,
            global_name: Some(name.into()),
            ..user(n, &format!("webhook~{n}"))
        };
        let a = hook(500, text, "Builds");
        s.create_webhook(&a, &account(500, "Builds"), Some(&audit(1, g, owner, 50, 500))).await.unwrap();
        s.create_webhook(&hook(501, second.id, "Alerts"), &account(501, "Alerts"), None).await.unwrap();
        assert_eq!(s.webhook(id(500)).await.unwrap(), Some(a.clone()));
        assert_eq!(s.webhook(id(999)).await.unwrap(), None);
        let names = |rows: Vec<WebhookRow>| rows.into_iter().map(|w| w.name).collect::<Vec<_>>();
        assert_eq!(names(s.channel_webhooks(text).await.unwrap()), ["Builds"]);
        assert_eq!(names(s.guild_webhooks(g).await.unwrap()), ["Builds", "Alerts"]);
        let bot = s.user(id(500)).await.unwrap().expect("its user row");
        assert!(bot.bot && bot.password_hash.is_none(), "{bot:?}");

        // A message it posted carries the name and avatar it posted under.
        let mut row = message(text, 600, id(500), "deployed");
        row.webhook = Some(WebhookAuthor { id: id(500), name: Some("Override".into()), avatar: Some("abc".into()) });
        s.create_message(&new_message(row.clone(), Some(g))).await.unwrap();
        assert_eq!(s.message(text, id(600)).await.unwrap(), Some(row.clone()));

        // Changes: only what the patch names; the avatar cleared with Some(None).
        let patch =
            WebhookPatch { name: Some("CI".into()), avatar: Some(Some("f00d".into())), channel_id: Some(second.id) };
        let changed = s.update_webhook(id(500), &patch, None).await.unwrap();
        assert_eq!(
            (changed.name.as_str(), changed.avatar.as_deref(), changed.channel_id),
            ("CI", Some("f00d"), second.id)
        );
        assert_eq!(changed.token, a.token, "a change keeps the token");
        let cleared =
            s.update_webhook(id(500), &WebhookPatch { avatar: Some(None), ..Default::default() }, None).await.unwrap();
        assert_eq!((cleared.name.as_str(), cleared.avatar), ("CI", None));
        assert!(matches!(s.update_webhook(id(999), &patch, None).await, Err(StoreError::NotFound)));

        // Deleted: gone, with its audit entry; its message and user row stay.
        assert!(s.delete_webhook(id(500), Some(&audit(2, g, owner, 52, 500))).await.unwrap());
        assert!(!s.delete_webhook(id(500), None).await.unwrap());
        assert_eq!(s.webhook(id(500)).await.unwrap(), None);
        assert_eq!(s.message(text, id(600)).await.unwrap(), Some(row));
        assert!(s.user(id(500)).await.unwrap().is_some());
        let q =
            AuditQuery { user_id: None, target_id: Some(500), action_type: None, before: None, after: None, limit: 50 };
        let log = s.audit_log(g, q).await.unwrap();
        assert_eq!(log.iter().map(|e| e.action_type).collect::<Vec<_>>(), [52, 50]);

        // The guild's deletion takes its webhooks.
        s.delete_guild(g).await.unwrap();
        assert_eq!(s.webhook(id(501)).await.unwrap(), None);
    }

    pub async fn worker_ids_are_leased_to_one_holder_at_a_time_with_a_rising_floor(s: &dyn Store) {
        let hour = 3_600_000;
        // The lowest free worker ids, one per holder; a holder claiming
        // again keeps its own.
        let a = s.claim_worker("a", 32, hour).await.unwrap().unwrap();
        assert_eq!((a.worker, a.floor_ms), (0, 0), "never held: no floor");
        let b = s.claim_worker("b", 32, hour).await.unwrap().unwrap();
        assert_eq!(b.worker, 1);
        assert_eq!(s.claim_worker("a", 32, hour).await.unwrap().unwrap().worker, 0);
        // Only two worker ids, both held: nothing for a third holder.
        assert_eq!(s.claim_worker("c", 2, hour).await.unwrap(), None);
        // Renewals by the holder only; the floor only rises.
        assert!(s.renew_worker(0, "a", hour, 5_000).await.unwrap());
        assert!(s.renew_worker(0, "a", hour, 4_000).await.unwrap());
        assert!(!s.renew_worker(0, "b", hour, 9_000).await.unwrap());
        assert!(!s.renew_worker(7, "a", hour, 0).await.unwrap(), "a worker id never held");
        // Given back by its holder only; the next holder gets the floor.
        s.release_worker(0, "b").await.unwrap();
        assert_eq!(s.claim_worker("c", 2, hour).await.unwrap(), None, "only its holder gives it back");
        s.release_worker(0, "a").await.unwrap();
        let c = s.claim_worker("c", 2, hour).await.unwrap().unwrap();
        assert_eq!((c.worker, c.floor_ms), (0, 5_000));
        assert!(!s.renew_worker(0, "a", hour, 0).await.unwrap(), "a's lease is over");
        // An expired lease is free to take, as if given back.
        assert!(s.renew_worker(1, "b", 0, 700).await.unwrap());
        let d = s.claim_worker("d", 2, hour).await.unwrap().unwrap();
        assert_eq!((d.worker, d.floor_ms), (1, 700));
    }
}
