//! Every dispatch, as Discord shapes it, survives the trip across a process
//! boundary (`Event::encode` / `Event::decode`) unchanged; its payload,
//! intents and content gate are what Discord's gateway would send.

use std::collections::BTreeSet;

use bytes::Bytes;
use events::dispatch::{AutoModExecution, ChannelPinsUpdate, MessageDelete, TypingStart};
use events::{
    intents, Audience, ContentGate, CustomActivity, Dispatch, Event, Kind, Membership, PresenceChange, RevokedTokens,
    UserId,
};
use model::channel::{Channel, ChannelType};
use model::message::Message;
use model::Id;
use serde_json::{json, Value};

// Ids of the cast, as Discord writes them (decimal strings).
const GUILD: &str = "1100000000000000001";
const TEXT: &str = "1100000000000000002";
const VOICE: &str = "1100000000000000003";
const CATEGORY: &str = "1100000000000000004";
const DM: &str = "1100000000000000005";
const ROLE: &str = "1100000000000000006";
const MSG: &str = "1100000000000000007";
const REPLIED: &str = "1100000000000000008";
const ALERT: &str = "1100000000000000009";
const RULE: &str = "1100000000000000010";
const EMOJI: &str = "1100000000000000011";
const AUDIT: &str = "1100000000000000012";
/// Author of the message.
const ADA: &str = "1200000000000000001";
/// Mentioned by the message.
const BEA: &str = "1200000000000000002";
/// Mentioned by the message and author of the message it replies to.
const CAL: &str = "1200000000000000003";
/// Mentioned by the replied-to message only.
const DEE: &str = "1200000000000000004";
/// Neither author nor mentioned anywhere.
const EVE: &str = "1200000000000000005";

const T1: &str = "2025-01-02T03:04:05.678000+00:00";
const T2: &str = "2025-03-04T05:06:07.890000+00:00";

fn uid(s: &str) -> UserId {
    s.parse().expect("a user id")
}

fn user(id: &str, name: &str) -> Value {
    json!({
        "id": id, "username": name, "discriminator": "0", "global_name": name.to_uppercase(),
        "avatar": null, "bot": false, "system": false, "public_flags": 0, "flags": 0,
        "banner": null, "accent_color": null, "avatar_decoration_data": null, "primary_guild": null,
    })
}

fn current_user() -> Value {
    let mut u = user(ADA, "ada");
    let extra = json!({
        "mfa_enabled": true, "locale": "en-US", "verified": true, "email": "ada@example.com", "premium_type": 0,
    });
    u.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    u
}

/// A guild member; `user` is left out where Discord leaves it out (a
/// message's `member`).
fn member(user_json: Option<Value>) -> Value {
    let mut m = json!({
        "nick": "Countess", "avatar": null, "banner": null, "roles": [ROLE], "joined_at": T1,
        "premium_since": null, "deaf": false, "mute": false, "flags": 0, "pending": false,
        "communication_disabled_until": null,
    });
    if let Some(u) = user_json {
        m["user"] = u;
    }
    m
}

fn role() -> Value {
    json!({
        "id": ROLE, "name": "Moderators", "description": null, "permissions": "1099511627775",
        "position": 1, "color": 3447003,
        "colors": { "primary_color": 3447003, "secondary_color": null, "tertiary_color": null },
        "hoist": true, "managed": false, "mentionable": true, "icon": null, "unicode_emoji": null, "flags": 0,
    })
}

fn guild() -> Value {
    json!({
        "id": GUILD, "name": "Analytical Engines", "icon": null, "description": "Looms and cards",
        "home_header": null, "splash": null, "discovery_splash": null, "features": ["COMMUNITY"],
        "banner": null, "owner_id": ADA, "application_id": null, "region": "deprecated",
        "afk_channel_id": VOICE, "afk_timeout": 300, "system_channel_id": TEXT, "system_channel_flags": 0,
        "widget_enabled": false, "widget_channel_id": null, "verification_level": 1,
        "roles": [role()], "default_message_notifications": 1, "mfa_level": 0,
        "explicit_content_filter": 2, "max_presences": null, "max_members": 25000000,
        "max_stage_video_channel_users": 50, "max_video_channel_users": 25, "vanity_url_code": null,
        "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
        "rules_channel_id": null, "safety_alerts_channel_id": null, "public_updates_channel_id": null,
        "premium_progress_bar_enabled": false, "nsfw": false, "nsfw_level": 0, "emojis": [], "stickers": [],
        "incidents_data": null,
    })
}

/// A text channel at the top level: `parent_id` is present and `null`.
fn text_channel() -> Value {
    json!({
        "id": TEXT, "type": 0, "flags": 0, "guild_id": GUILD, "name": "general", "position": 0,
        "permission_overwrites": [{ "id": ROLE, "type": 0, "allow": "1024", "deny": "0" }],
        "parent_id": null, "topic": null, "nsfw": false, "rate_limit_per_user": 0,
        "last_message_id": null, "last_pin_timestamp": null,
    })
}

fn voice_channel() -> Value {
    json!({
        "id": VOICE, "type": 2, "flags": 0, "guild_id": GUILD, "name": "Lounge", "position": 1,
        "permission_overwrites": [], "parent_id": CATEGORY, "nsfw": false, "rate_limit_per_user": 0,
        "bitrate": 64000, "user_limit": 0, "rtc_region": null, "last_message_id": MSG,
    })
}

fn category() -> Value {
    json!({
        "id": CATEGORY, "type": 4, "flags": 0, "guild_id": GUILD, "name": "Talk", "position": 2,
        "permission_overwrites": [], "parent_id": null,
    })
}

fn dm_channel() -> Value {
    json!({
        "id": DM, "type": 1, "flags": 0, "last_message_id": MSG,
        "recipients": [user(BEA, "bea")],
    })
}

fn presence(guild: bool) -> Value {
    let mut p = json!({
        "user": { "id": BEA }, "status": "idle",
        "activities": [{ "type": 4, "name": "Custom Status", "state": "weaving" }],
        "client_status": { "desktop": "idle" },
    });
    if guild {
        p["guild_id"] = json!(GUILD);
    }
    p
}

/// A message in `guild` (or a DM when `None`), by Ada, mentioning Bea and
/// Cal, with content, an embed, an attachment and a component.
fn message(guild: Option<&str>) -> Value {
    let channel = if guild.is_some() { TEXT } else { DM };
    let mut m = json!({
        "id": MSG, "channel_id": channel, "author": user(ADA, "ada"),
        "content": "<@1200000000000000002> <@1200000000000000003> the cards are ready",
        "timestamp": T2, "edited_timestamp": null, "tts": false, "mention_everyone": false,
        "mentions": [user(BEA, "bea"), user(CAL, "cal")], "mention_roles": [ROLE],
        "attachments": [{
            "id": "1300000000000000001", "filename": "cards.png", "size": 1024,
            "url": "https://cdn.example/cards.png", "proxy_url": "https://media.example/cards.png",
            "content_type": "image/png", "width": 64, "height": 32,
        }],
        "embeds": [{ "type": "rich", "title": "Punch cards", "description": "A batch", "color": 16711680 }],
        "components": [{ "type": 1, "components": [{ "type": 2, "style": 1, "label": "Run", "custom_id": "run" }] }],
        "nonce": "8f1c", "pinned": false, "type": 0, "flags": 0,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
        m["member"] = member(None);
    }
    m
}

/// The message Ada's reply answers: by Cal, mentioning Dee.
fn replied_to(guild: Option<&str>) -> Value {
    let channel = if guild.is_some() { TEXT } else { DM };
    let mut m = json!({
        "id": REPLIED, "channel_id": channel, "author": user(CAL, "cal"),
        "content": "<@1200000000000000004> are the cards ready?", "timestamp": T1,
        "edited_timestamp": T1, "tts": false, "mention_everyone": false,
        "mentions": [user(DEE, "dee")], "mention_roles": [],
        "attachments": [], "embeds": [{ "type": "rich", "title": "Question" }], "components": [],
        "reactions": [{
            "emoji": { "id": null, "name": "🔥" }, "count": 2,
            "count_details": { "burst": 0, "normal": 2 }, "burst_colors": [], "me": false, "me_burst": false,
        }],
        "pinned": true, "type": 0, "flags": 0,
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    m
}

/// Ada's message as a reply to Cal's.
fn reply(guild: Option<&str>) -> Value {
    let mut m = message(guild);
    m["type"] = json!(19);
    let channel = m["channel_id"].clone();
    m["message_reference"] = json!({ "type": 0, "message_id": REPLIED, "channel_id": channel });
    if let Some(g) = guild {
        m["message_reference"]["guild_id"] = json!(g);
    }
    m["referenced_message"] = replied_to(guild);
    m
}

fn automod_execution(matched_content: Value) -> Value {
    json!({
        "guild_id": GUILD, "action": { "type": 1, "metadata": { "custom_message": "Not here" } },
        "rule_id": RULE, "rule_trigger_type": 1, "user_id": ADA, "channel_id": TEXT,
        "message_id": MSG, "alert_system_message_id": ALERT,
        "content": "buy cheap punch cards", "matched_keyword": "cheap", "matched_content": matched_content,
    })
}

fn automod_rule(enabled: bool) -> Value {
    json!({
        "id": RULE, "guild_id": GUILD, "creator_id": ADA, "name": "No spam", "event_type": 1, "trigger_type": 1,
        "trigger_metadata": { "keyword_filter": ["cheap"], "regex_patterns": [], "allow_list": [] },
        "actions": [
            { "type": 1, "metadata": { "custom_message": "Not here" } },
            { "type": 2, "metadata": { "channel_id": TEXT } },
        ],
        "enabled": enabled, "exempt_roles": [ROLE], "exempt_channels": [],
    })
}

/// One sample: the payload as Discord shapes it (`d`) and the dispatch read
/// from `{"t": name, "d": d}`.
struct Sample {
    name: &'static str,
    d: Value,
    dispatch: Dispatch,
}

fn sample(name: &'static str, d: Value) -> Sample {
    let frame = json!({ "t": name, "d": d });
    let dispatch = serde_json::from_value(frame).unwrap_or_else(|e| panic!("{name} does not parse: {e}\n{d:#}"));
    Sample { name, d, dispatch }
}

/// One sample per dispatch variant, in a guild where the event can be in one.
fn samples() -> Vec<Sample> {
    let mut guild_create = guild();
    let state = json!({
        "joined_at": T1, "large": false, "unavailable": false, "member_count": 2,
        "voice_states": [], "members": [member(Some(user(ADA, "ada"))), member(Some(user(BEA, "bea")))],
        "channels": [text_channel(), voice_channel(), category()], "threads": [],
        "presences": [presence(true)], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
    });
    guild_create.as_object_mut().unwrap().extend(state.as_object().unwrap().clone());
    let mut edited = message(Some(GUILD));
    edited["edited_timestamp"] = json!(T2);
    let mut guild_member = member(Some(user(BEA, "bea")));
    guild_member["guild_id"] = json!(GUILD);
    let mut updated_member = guild_member.clone();
    updated_member["communication_disabled_until"] = json!(T2);
    updated_member["roles"] = json!([]);
    let mut audit = json!({
        "id": AUDIT, "user_id": ADA, "target_id": BEA, "action_type": 24,
        "changes": [{ "key": "nick", "old_value": "Bea", "new_value": "Countess" }],
        "reason": "asked nicely", "guild_id": GUILD,
    });
    audit["options"] = json!({ "channel_id": TEXT });
    let emoji = json!({ "id": null, "name": "🔥" });
    let mut renamed_role = role();
    renamed_role["name"] = json!("Mods");
    renamed_role["hoist"] = json!(false);
    vec![
        sample("MESSAGE_CREATE", reply(Some(GUILD))),
        sample("MESSAGE_UPDATE", edited),
        sample("MESSAGE_DELETE", json!({ "id": MSG, "channel_id": TEXT, "guild_id": GUILD })),
        sample("MESSAGE_DELETE_BULK", json!({ "ids": [MSG, REPLIED], "channel_id": TEXT, "guild_id": GUILD })),
        sample(
            "MESSAGE_REACTION_ADD",
            json!({
                "user_id": BEA, "channel_id": TEXT, "message_id": MSG, "guild_id": GUILD,
                "message_author_id": ADA, "emoji": emoji, "member": member(Some(user(BEA, "bea"))),
                "burst": false, "burst_colors": [], "type": 0,
            }),
        ),
        sample(
            "MESSAGE_REACTION_REMOVE",
            json!({
                "user_id": BEA, "channel_id": TEXT, "message_id": MSG, "guild_id": GUILD,
                "emoji": { "id": EMOJI, "name": "loom" }, "burst": true, "type": 1,
            }),
        ),
        sample(
            "MESSAGE_REACTION_REMOVE_EMOJI",
            json!({ "channel_id": TEXT, "message_id": MSG, "guild_id": GUILD, "emoji": { "id": EMOJI, "name": "loom" } }),
        ),
        sample("MESSAGE_REACTION_REMOVE_ALL", json!({ "channel_id": TEXT, "message_id": MSG, "guild_id": GUILD })),
        sample("CHANNEL_PINS_UPDATE", json!({ "guild_id": GUILD, "channel_id": TEXT, "last_pin_timestamp": T2 })),
        sample(
            "TYPING_START",
            json!({
                "channel_id": TEXT, "guild_id": GUILD, "user_id": BEA, "timestamp": 1735787045,
                "member": member(Some(user(BEA, "bea"))),
            }),
        ),
        sample("CHANNEL_CREATE", text_channel()),
        sample("CHANNEL_UPDATE", voice_channel()),
        sample("CHANNEL_DELETE", category()),
        sample("GUILD_CREATE", guild_create),
        sample("GUILD_UPDATE", guild()),
        sample("GUILD_DELETE", json!({ "id": GUILD })),
        sample("GUILD_MEMBER_ADD", guild_member),
        sample("GUILD_MEMBER_UPDATE", updated_member),
        sample("GUILD_MEMBER_REMOVE", json!({ "guild_id": GUILD, "user": user(BEA, "bea") })),
        sample("GUILD_BAN_ADD", json!({ "guild_id": GUILD, "user": user(EVE, "eve") })),
        sample("GUILD_BAN_REMOVE", json!({ "guild_id": GUILD, "user": user(EVE, "eve") })),
        sample("GUILD_ROLE_CREATE", json!({ "guild_id": GUILD, "role": role() })),
        sample("GUILD_ROLE_UPDATE", json!({ "guild_id": GUILD, "role": renamed_role })),
        sample("GUILD_ROLE_DELETE", json!({ "guild_id": GUILD, "role_id": ROLE })),
        sample(
            "GUILD_EMOJIS_UPDATE",
            json!({ "guild_id": GUILD, "emojis": [{
                "id": "41771983429993937", "name": "blob_wave", "roles": [ROLE], "require_colons": true,
                "managed": false, "animated": true, "available": true,
            }] }),
        ),
        sample(
            "GUILD_STICKERS_UPDATE",
            json!({ "guild_id": GUILD, "stickers": [{
                "id": "41771983429993938", "name": "wave", "description": null, "tags": "wave,hello",
                "type": 2, "format_type": 1, "available": true, "guild_id": GUILD,
            }] }),
        ),
        sample(
            "INVITE_CREATE",
            json!({
                "type": 0, "code": "looms", "guild_id": GUILD, "channel_id": TEXT, "inviter": user(ADA, "ada"),
                "created_at": T1, "max_age": 86400, "max_uses": 5, "temporary": false, "uses": 0, "expires_at": T2,
            }),
        ),
        sample("INVITE_DELETE", json!({ "guild_id": GUILD, "channel_id": TEXT, "code": "looms" })),
        sample("GUILD_AUDIT_LOG_ENTRY_CREATE", audit),
        sample("AUTO_MODERATION_RULE_CREATE", automod_rule(true)),
        sample("AUTO_MODERATION_RULE_UPDATE", automod_rule(false)),
        sample("AUTO_MODERATION_RULE_DELETE", automod_rule(false)),
        sample("AUTO_MODERATION_ACTION_EXECUTION", automod_execution(json!("cheap"))),
        sample(
            "RELATIONSHIP_ADD",
            json!({ "id": BEA, "type": 1, "user": user(BEA, "bea"), "nickname": "B", "since": T1 }),
        ),
        sample("RELATIONSHIP_REMOVE", json!({ "id": BEA, "type": 1, "nickname": null })),
        sample(
            "MESSAGE_ACK",
            json!({ "channel_id": TEXT, "message_id": MSG, "mention_count": 2, "version": 7, "manual": true }),
        ),
        sample(
            "USER_SETTINGS_UPDATE",
            json!({ "status": "dnd", "custom_status": { "text": "weaving", "emoji_id": null, "emoji_name": "🧵", "expires_at": null } }),
        ),
        sample("USER_UPDATE", current_user()),
        sample("PRESENCE_UPDATE", presence(true)),
        sample(
            "VOICE_STATE_UPDATE",
            json!({
                "guild_id": GUILD, "channel_id": VOICE, "user_id": ADA, "member": member(Some(user(ADA, "ada"))),
                "session_id": "0123abcd", "deaf": false, "mute": true, "self_deaf": false, "self_mute": true,
                "self_stream": true, "self_video": false, "suppress": false, "request_to_speak_timestamp": null,
            }),
        ),
        sample("VOICE_SERVER_UPDATE", json!({ "token": "f00d", "guild_id": GUILD, "endpoint": "127.0.0.1:8443" })),
        sample("WEBHOOKS_UPDATE", json!({ "guild_id": GUILD, "channel_id": TEXT })),
        sample("INTERACTION_CREATE", interaction()),
        sample("INTERACTION_SUCCESS", json!({ "id": MSG, "nonce": "n-1" })),
        sample("INTERACTION_FAILURE", json!({ "id": MSG, "nonce": null })),
        sample(
            "INTERACTION_MODAL_CREATE",
            json!({
                "id": MSG, "nonce": "n-2", "channel_id": TEXT, "application_id": BEA, "custom_id": "feedback",
                "title": "Tell us", "components": [{"type": 1, "id": 1, "components": [
                    {"type": 4, "id": 2, "custom_id": "what", "style": 2, "label": "What", "required": true}]}],
            }),
        ),
        sample(
            "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE",
            json!({ "nonce": "n-3", "choices": [{"name": "Paris", "value": "paris"}] }),
        ),
    ]
}

/// A person's click on a bot's button, as the bot receives it.
fn interaction() -> Value {
    let mut member = member(Some(user(ADA, "ada")));
    member["permissions"] = json!("2147483647");
    json!({
        "id": MSG, "application_id": BEA, "type": 3,
        "data": {"custom_id": "yes", "component_type": 2, "id": 2},
        "guild_id": GUILD, "guild": {"id": GUILD, "locale": "en-US", "features": []},
        "channel_id": TEXT, "channel": text_channel(), "member": member, "token": "aW50ZXJhY3Rpb24", "version": 1,
        "app_permissions": "3072", "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD}, "context": 0, "attachment_size_limit": 26214400,
    })
}

/// The same events where they happen outside a guild: in a DM, or between
/// friends.
fn dm_samples() -> Vec<Sample> {
    vec![
        sample("MESSAGE_CREATE", reply(None)),
        sample("MESSAGE_UPDATE", message(None)),
        sample("MESSAGE_DELETE", json!({ "id": MSG, "channel_id": DM })),
        sample(
            "MESSAGE_REACTION_ADD",
            json!({
                "user_id": BEA, "channel_id": DM, "message_id": MSG, "message_author_id": ADA,
                "emoji": { "id": null, "name": "🔥" }, "burst": false, "burst_colors": [], "type": 0,
            }),
        ),
        sample(
            "MESSAGE_REACTION_REMOVE",
            json!({ "user_id": BEA, "channel_id": DM, "message_id": MSG, "emoji": { "id": null, "name": "🔥" }, "burst": false, "type": 0 }),
        ),
        sample("MESSAGE_REACTION_REMOVE_ALL", json!({ "channel_id": DM, "message_id": MSG })),
        sample("CHANNEL_PINS_UPDATE", json!({ "channel_id": DM, "last_pin_timestamp": null })),
        sample("TYPING_START", json!({ "channel_id": DM, "user_id": BEA, "timestamp": 1735787045 })),
        sample("CHANNEL_CREATE", dm_channel()),
        sample("PRESENCE_UPDATE", presence(false)),
    ]
}

fn all_samples() -> Vec<Sample> {
    let mut all = samples();
    all.extend(dm_samples());
    all
}

#[test]
fn samples_cover_every_dispatch_exactly_once() {
    let samples = samples();
    let names: Vec<&str> = samples.iter().map(|s| s.dispatch.name()).collect();
    for s in &samples {
        assert_eq!(s.dispatch.name(), s.name, "a sample parsed as another event");
    }
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "a dispatch has two samples: {names:?}");
    let known: BTreeSet<&str> = Dispatch::NAMES.iter().copied().collect();
    assert_eq!(known.len(), Dispatch::NAMES.len(), "NAMES lists an event twice");
    let missing: Vec<_> = known.difference(&unique).collect();
    let unknown: Vec<_> = unique.difference(&known).collect();
    assert!(missing.is_empty(), "dispatches without a sample: {missing:?}");
    assert!(unknown.is_empty(), "samples of no known dispatch: {unknown:?}");
}

fn audiences() -> Vec<Audience> {
    let guild = GUILD.parse().unwrap();
    vec![
        Audience::Guild(guild),
        Audience::channel(guild, TEXT.parse().unwrap()),
        Audience::permitted(guild, 1 << 7),
        Audience::Users(vec![uid(ADA), uid(BEA)]),
        Audience::Users(vec![]),
        Audience::GuildUsers { guild, users: vec![uid(CAL), uid(DEE)] },
    ]
}

fn memberships() -> Vec<Option<Membership>> {
    let guild = GUILD.parse().unwrap();
    vec![
        None,
        Some(Membership::Joined { user: uid(BEA), guild }),
        Some(Membership::Left { user: uid(EVE), guild }),
        Some(Membership::GuildDeleted(guild)),
    ]
}

fn assert_same(original: &Event, label: &str) {
    let wire = original.encode();
    let back = Event::decode(&wire).unwrap_or_else(|e| panic!("{label}: decode failed: {e}"));
    assert_eq!(back.kind(), original.kind(), "{label}: kind");
    assert_eq!(back.audience(), original.audience(), "{label}: audience");
    assert_eq!(back.membership(), original.membership(), "{label}: membership");
    assert_eq!(back.name(), original.name(), "{label}: name");
    assert_eq!(back.intents(), original.intents(), "{label}: intents");
    assert_eq!(back.guild(), original.guild(), "{label}: guild");
    assert_eq!(back.data(), original.data(), "{label}: data bytes");
    assert_eq!(back.content_gate(), original.content_gate(), "{label}: content gate");
    assert_eq!(back.encode(), wire, "{label}: encoding is not stable");
}

#[test]
fn every_dispatch_round_trips_with_every_audience_and_membership() {
    let mut checked = 0;
    for s in all_samples() {
        for audience in audiences() {
            for membership in memberships() {
                let mut event = Event::new(s.dispatch.clone(), audience.clone());
                if let Some(m) = membership {
                    event = event.with_membership(m);
                }
                assert_same(&event, &format!("{} to {audience:?} with {membership:?}", s.name));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, (Dispatch::NAMES.len() + dm_samples().len()) * audiences().len() * memberships().len());
}

#[test]
fn revocations_and_presence_changes_round_trip() {
    let revoked = [
        Event::tokens_revoked(uid(ADA), RevokedTokens::AllBut("kept-hash".into())),
        Event::tokens_revoked(uid(ADA), RevokedTokens::These(vec!["a".into(), "b".into()])),
        Event::tokens_revoked(uid(ADA), RevokedTokens::These(vec![])),
    ];
    let custom = CustomActivity { text: Some("weaving".into()), emoji_name: Some("🧵".into()) };
    let changes = [
        PresenceChange { user: uid(BEA), status: Some("dnd".into()), custom_status: None },
        PresenceChange { user: uid(BEA), status: None, custom_status: Some(Some(custom)) },
        // Removing the custom status must not arrive as "keep it".
        PresenceChange { user: uid(BEA), status: None, custom_status: Some(None) },
        PresenceChange {
            user: uid(BEA),
            status: Some("online".into()),
            custom_status: Some(Some(CustomActivity { text: None, emoji_name: None })),
        },
    ];
    let events: Vec<Event> = revoked.into_iter().chain(changes.into_iter().map(Event::presence_changed)).collect();
    for (i, event) in events.iter().enumerate() {
        assert!(event.dispatch().is_none());
        assert_eq!(event.intents(), 0);
        assert!(event.data().is_empty(), "nothing is dispatched, so there are no data bytes");
        assert_same(event, &format!("non-dispatch event {i}"));
        let joined = event.clone().with_membership(Membership::Left { user: uid(ADA), guild: GUILD.parse().unwrap() });
        assert_same(&joined, &format!("non-dispatch event {i} with a membership"));
    }
    assert_eq!(events[0].name(), "TOKENS_REVOKED");
    assert_eq!(events[3].name(), "PRESENCE_CHANGE");
    assert_eq!(events[0].audience(), &Audience::Users(vec![uid(ADA)]));
    assert_eq!(events[3].audience(), &Audience::Users(vec![uid(BEA)]));
    match Event::decode(&events[5].encode()).unwrap().kind() {
        Kind::PresenceChanged(c) => assert_eq!(c.custom_status, Some(None), "a removal stays a removal"),
        other => panic!("decoded as {other:?}"),
    }
}

#[test]
fn data_is_the_payload_exactly_as_discord_shapes_it() {
    for s in all_samples() {
        let event = Event::new(s.dispatch.clone(), Audience::Users(vec![uid(ADA)]));
        let data: Value = serde_json::from_slice(event.data()).expect("data is JSON");
        // Every field of the Discord-shaped sample survives, none is added
        // and none changes shape (a `null` stays a `null`).
        assert_eq!(data, s.d, "{}: data differs from the payload it was built from", s.name);
        let framed = serde_json::to_value(&s.dispatch).unwrap();
        assert_eq!(framed["d"], data, "{}: data is not the dispatch's `d`", s.name);
    }
}

#[test]
fn dispatch_frames_as_t_and_d_and_back() {
    for s in all_samples() {
        let framed = serde_json::to_value(&s.dispatch).unwrap();
        let keys: Vec<&String> = framed.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["d", "t"], "{}: a dispatch is exactly {{t, d}}", s.name);
        assert_eq!(framed["t"], json!(s.name));
        let text = serde_json::to_string(&s.dispatch).unwrap();
        let back: Dispatch = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(back, s.dispatch, "{}: from {{t, d}} and back", s.name);
        assert_eq!(serde_json::to_string(&back).unwrap(), text, "{}: not stable", s.name);
    }
}

fn data_of(d: &Dispatch) -> Value {
    let e = Event::new(d.clone(), Audience::Users(vec![uid(ADA)]));
    serde_json::from_slice(e.data()).unwrap()
}

#[test]
fn dm_payloads_carry_no_guild() {
    for s in dm_samples() {
        assert_eq!(s.dispatch.guild_id(), None, "{}", s.name);
        let data = data_of(&s.dispatch);
        assert!(data.get("guild_id").is_none(), "{}: a DM payload has no guild_id: {data}", s.name);
        assert!(data.get("member").is_none(), "{}: a DM payload has no member: {data}", s.name);
    }
    // Typed values built in code, not read from JSON.
    let delete = Dispatch::MessageDelete(MessageDelete {
        id: MSG.parse().unwrap(),
        channel_id: DM.parse().unwrap(),
        guild_id: None,
    });
    assert_eq!(data_of(&delete), json!({ "id": MSG, "channel_id": DM }));
    let typing = Dispatch::TypingStart(TypingStart {
        channel_id: DM.parse().unwrap(),
        guild_id: None,
        user_id: uid(BEA),
        timestamp: 1735787045,
        member: None,
    });
    assert_eq!(data_of(&typing), json!({ "channel_id": DM, "user_id": BEA, "timestamp": 1735787045 }));
    let unpinned = Dispatch::ChannelPinsUpdate(ChannelPinsUpdate {
        guild_id: None,
        channel_id: DM.parse().unwrap(),
        last_pin_timestamp: None,
    });
    let raw = String::from_utf8(Event::new(unpinned, Audience::Users(vec![])).data().to_vec()).unwrap();
    assert_eq!(raw, format!(r#"{{"channel_id":"{DM}","last_pin_timestamp":null}}"#), "present and null");
    // A guild's event keeps its guild.
    let guild_delete = Dispatch::MessageDelete(MessageDelete {
        id: MSG.parse().unwrap(),
        channel_id: TEXT.parse().unwrap(),
        guild_id: Some(GUILD.parse().unwrap()),
    });
    assert_eq!(data_of(&guild_delete)["guild_id"], json!(GUILD));
}

/// Discord's intents table: which intent brings each event, in a guild.
fn guild_intent(name: &str) -> u64 {
    match name {
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => intents::GUILD_MESSAGES,
        "MESSAGE_REACTION_ADD"
        | "MESSAGE_REACTION_REMOVE"
        | "MESSAGE_REACTION_REMOVE_EMOJI"
        | "MESSAGE_REACTION_REMOVE_ALL" => intents::GUILD_MESSAGE_REACTIONS,
        "TYPING_START" => intents::GUILD_MESSAGE_TYPING,
        "GUILD_CREATE"
        | "GUILD_UPDATE"
        | "GUILD_DELETE"
        | "GUILD_ROLE_CREATE"
        | "GUILD_ROLE_UPDATE"
        | "GUILD_ROLE_DELETE"
        | "CHANNEL_CREATE"
        | "CHANNEL_UPDATE"
        | "CHANNEL_DELETE"
        | "CHANNEL_PINS_UPDATE" => intents::GUILDS,
        "GUILD_MEMBER_ADD" | "GUILD_MEMBER_UPDATE" | "GUILD_MEMBER_REMOVE" => intents::GUILD_MEMBERS,
        "GUILD_BAN_ADD" | "GUILD_BAN_REMOVE" | "GUILD_AUDIT_LOG_ENTRY_CREATE" => intents::GUILD_MODERATION,
        "INVITE_CREATE" | "INVITE_DELETE" => intents::GUILD_INVITES,
        "AUTO_MODERATION_RULE_CREATE" | "AUTO_MODERATION_RULE_UPDATE" | "AUTO_MODERATION_RULE_DELETE" => {
            intents::AUTO_MODERATION_CONFIGURATION
        }
        "AUTO_MODERATION_ACTION_EXECUTION" => intents::AUTO_MODERATION_EXECUTION,
        "GUILD_EMOJIS_UPDATE" | "GUILD_STICKERS_UPDATE" => intents::GUILD_EXPRESSIONS,
        "PRESENCE_UPDATE" => intents::GUILD_PRESENCES,
        "VOICE_STATE_UPDATE" => intents::GUILD_VOICE_STATES,
        "VOICE_SERVER_UPDATE" => 0,
        "WEBHOOKS_UPDATE" => intents::GUILD_WEBHOOKS,
        // Interactions need no intent, nor do the invoker's notices.
        "INTERACTION_CREATE"
        | "INTERACTION_SUCCESS"
        | "INTERACTION_FAILURE"
        | "INTERACTION_MODAL_CREATE"
        | "APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE" => 0,
        // A user's own events reach every session.
        "RELATIONSHIP_ADD" | "RELATIONSHIP_REMOVE" | "MESSAGE_ACK" | "USER_SETTINGS_UPDATE" | "USER_UPDATE" => 0,
        other => panic!("no expected intent for {other}"),
    }
}

/// Outside a guild.
fn dm_intent(name: &str) -> u64 {
    match name {
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "CHANNEL_PINS_UPDATE" | "CHANNEL_CREATE" => {
            intents::DIRECT_MESSAGES
        }
        "MESSAGE_REACTION_ADD" | "MESSAGE_REACTION_REMOVE" | "MESSAGE_REACTION_REMOVE_ALL" => {
            intents::DIRECT_MESSAGE_REACTIONS
        }
        "TYPING_START" => intents::DIRECT_MESSAGE_TYPING,
        // A friend's presence needs no intent.
        "PRESENCE_UPDATE" => 0,
        other => panic!("no expected DM intent for {other}"),
    }
}

#[test]
fn intents_follow_discords_table_in_guilds_and_dms() {
    for s in samples() {
        let event = Event::new(s.dispatch.clone(), Audience::Users(vec![]));
        assert_eq!(event.intents(), guild_intent(s.name), "{} in a guild", s.name);
        assert_eq!(s.dispatch.intents(), guild_intent(s.name), "{} in a guild", s.name);
    }
    for s in dm_samples() {
        let event = Event::new(s.dispatch.clone(), Audience::Users(vec![]));
        assert_eq!(event.intents(), dm_intent(s.name), "{} outside a guild", s.name);
    }
    // Neither MESSAGE_CONTENT nor any bit outside Discord's set is asked for.
    for s in all_samples() {
        let bits = s.dispatch.intents();
        assert_eq!(bits & intents::MESSAGE_CONTENT, 0, "{}", s.name);
        assert_eq!(bits & !intents::ALL, 0, "{}", s.name);
    }
}

fn message_of(bytes: &Bytes) -> Message {
    serde_json::from_slice(bytes).expect("a message")
}

fn is_redacted(m: &Message) -> bool {
    m.content.is_empty() && m.embeds.is_empty() && m.attachments.is_empty() && m.components.is_empty()
}

fn referenced(m: &Message) -> &Message {
    m.referenced_message.as_ref().and_then(|r| r.as_deref()).expect("a reply carries its message")
}

fn gate_of(event: &Event) -> &ContentGate {
    event.content_gate().unwrap_or_else(|| panic!("{} in a guild is gated", event.name()))
}

#[test]
fn a_guild_reply_is_gated_by_both_messages() {
    let s = &samples()[0];
    assert_eq!(s.name, "MESSAGE_CREATE");
    let event = Event::new(s.dispatch.clone(), Audience::channel(GUILD.parse().unwrap(), TEXT.parse().unwrap()));
    let full = event.data().clone();
    let original = message_of(&full);
    assert!(!is_redacted(&original) && !is_redacted(referenced(&original)), "the sample has content to hide");

    let gate = gate_of(&event);
    assert_eq!(gate.author, uid(ADA));
    assert_eq!(gate.mentioned, vec![uid(BEA), uid(CAL)]);
    let reply = gate.reply.as_ref().expect("a reply has a reply gate");
    assert_eq!(reply.author, uid(CAL));
    assert_eq!(reply.mentioned, vec![uid(DEE)]);

    // Both emptied; everything else kept.
    let both = message_of(&gate.redacted);
    assert!(is_redacted(&both), "the message is emptied");
    assert!(is_redacted(referenced(&both)), "the replied-to message is emptied");
    let mut expected = original.clone();
    expected.redact();
    if let Some(Some(r)) = expected.referenced_message.as_mut() {
        r.redact();
    }
    assert_eq!(both, expected, "only content, embeds, attachments and components go");
    assert_eq!(referenced(&both).reactions.len(), 1, "reactions stay");
    assert_eq!(both.mentions.len(), 2, "mentions stay");

    // Only the replied-to message emptied.
    let reply_redacted = message_of(&reply.reply_redacted);
    assert_eq!(reply_redacted.content, original.content);
    assert_eq!(reply_redacted.embeds, original.embeds);
    assert_eq!(reply_redacted.attachments, original.attachments);
    assert_eq!(reply_redacted.components, original.components);
    assert!(is_redacted(referenced(&reply_redacted)));

    // Only the message emptied.
    let message_redacted = message_of(&reply.message_redacted);
    assert!(is_redacted(&message_redacted));
    assert_eq!(referenced(&message_redacted), referenced(&original));

    // Who gets which.
    assert_eq!(gate.payload_for(uid(CAL), &full), full, "mentioned here and author there: sees both");
    assert_eq!(gate.payload_for(uid(ADA), &full), reply.reply_redacted, "the author, not in the replied-to one");
    assert_eq!(gate.payload_for(uid(BEA), &full), reply.reply_redacted, "mentioned here only");
    assert_eq!(gate.payload_for(uid(DEE), &full), reply.message_redacted, "mentioned in the replied-to one only");
    assert_eq!(gate.payload_for(uid(EVE), &full), gate.redacted, "neither");
    // The four payloads differ, so picking the wrong one cannot pass.
    let distinct: BTreeSet<&[u8]> = [&full, &gate.redacted, &reply.reply_redacted, &reply.message_redacted]
        .into_iter()
        .map(|b| b.as_ref())
        .collect();
    assert_eq!(distinct.len(), 4);
}

#[test]
fn a_guild_message_without_a_reply_is_gated_by_author_and_mentions() {
    let s = &samples()[1];
    assert_eq!(s.name, "MESSAGE_UPDATE");
    let event = Event::new(s.dispatch.clone(), Audience::Guild(GUILD.parse().unwrap()));
    let full = event.data().clone();
    let gate = gate_of(&event);
    assert!(gate.reply.is_none());
    assert_eq!(gate.author, uid(ADA));
    assert_eq!(gate.mentioned, vec![uid(BEA), uid(CAL)]);
    let redacted = message_of(&gate.redacted);
    assert!(is_redacted(&redacted));
    assert_eq!(redacted.edited_timestamp, message_of(&full).edited_timestamp);
    for (who, sees) in [(ADA, true), (BEA, true), (CAL, true), (DEE, false), (EVE, false)] {
        let got = gate.payload_for(uid(who), &full);
        assert_eq!(got == full, sees, "{who}");
        assert_eq!(got == gate.redacted, !sees, "{who}");
    }
}

#[test]
fn a_reply_to_a_deleted_message_keeps_its_null() {
    let mut d = reply(Some(GUILD));
    d["referenced_message"] = Value::Null;
    let s = sample("MESSAGE_CREATE", d);
    let event = Event::new(s.dispatch.clone(), Audience::Guild(GUILD.parse().unwrap()));
    let gate = gate_of(&event);
    assert!(gate.reply.is_none(), "nothing to gate in a deleted message");
    for bytes in [event.data(), &gate.redacted] {
        let v: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(v.get("referenced_message"), Some(&Value::Null), "`referenced_message: null` stays: {v}");
    }
    assert_same(&event, "a reply to a deleted message");
}

#[test]
fn a_channel_built_in_code_keeps_its_nulls_across_the_boundary() {
    // As the server renders a top-level channel with no topic, no message and
    // no pin: `parent_id`, `topic`, `last_message_id` and `last_pin_timestamp`
    // present and null, `rtc_region` null on the voice channel.
    let text = Channel {
        id: TEXT.parse().unwrap(),
        kind: ChannelType::GuildText,
        flags: 0,
        guild_id: Some(GUILD.parse().unwrap()),
        name: Some("general".into()),
        position: Some(0),
        permission_overwrites: Some(vec![]),
        parent_id: Some(None),
        topic: Some(None),
        nsfw: Some(false),
        rate_limit_per_user: Some(0),
        bitrate: None,
        user_limit: None,
        rtc_region: None,
        last_message_id: Some(None),
        last_pin_timestamp: Some(None),
        recipients: None,
    };
    let voice = Channel {
        kind: ChannelType::GuildVoice,
        bitrate: Some(64000),
        user_limit: Some(0),
        rtc_region: Some(None),
        ..text.clone()
    };
    for channel in [text, voice] {
        let event =
            Event::new(Dispatch::ChannelUpdate(Box::new(channel.clone())), Audience::Guild(GUILD.parse().unwrap()));
        assert_same(&event, "a channel with null fields");
        let data: Value = serde_json::from_slice(event.data()).unwrap();
        for field in ["parent_id", "topic", "last_message_id", "last_pin_timestamp"] {
            assert_eq!(data.get(field), Some(&Value::Null), "{field} is present and null");
        }
        assert_eq!(data.get("rtc_region").is_some(), channel.kind == ChannelType::GuildVoice);
        match Event::decode(&event.encode()).unwrap().dispatch() {
            Some(Dispatch::ChannelUpdate(back)) => assert_eq!(**back, channel),
            other => panic!("decoded as {other:?}"),
        }
    }
}

#[test]
fn dm_messages_are_not_gated() {
    for s in dm_samples() {
        let event = Event::new(s.dispatch.clone(), Audience::Users(vec![uid(ADA), uid(BEA)]));
        assert!(event.content_gate().is_none(), "{} in a DM is not gated", s.name);
    }
    assert!(dm_samples().iter().any(|s| s.name == "MESSAGE_CREATE"), "the DM samples include a message");
}

#[test]
fn only_guild_messages_and_automod_executions_are_gated() {
    for s in samples() {
        let event = Event::new(s.dispatch.clone(), Audience::Guild(GUILD.parse().unwrap()));
        let gated = matches!(s.name, "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "AUTO_MODERATION_ACTION_EXECUTION");
        assert_eq!(event.content_gate().is_some(), gated, "{}", s.name);
    }
}

#[test]
fn automod_executions_hide_content_and_what_matched() {
    let s = samples().into_iter().find(|s| s.name == "AUTO_MODERATION_ACTION_EXECUTION").unwrap();
    let event =
        Event::new(s.dispatch.clone(), Audience::GuildUsers { guild: GUILD.parse().unwrap(), users: vec![uid(ADA)] });
    let full = event.data().clone();
    let gate = gate_of(&event);
    assert_eq!(gate.author, uid(ADA));
    assert!(gate.mentioned.is_empty() && gate.reply.is_none());
    let redacted: Value = serde_json::from_slice(&gate.redacted).unwrap();
    let mut expected = s.d.clone();
    expected["content"] = json!("");
    expected["matched_content"] = json!("");
    assert_eq!(redacted, expected, "content and matched_content emptied, the rest (matched_keyword too) kept");
    assert_eq!(gate.payload_for(uid(ADA), &full), full);
    assert_eq!(gate.payload_for(uid(BEA), &full), gate.redacted);

    // Nothing matched in content: it stays null.
    let none = sample("AUTO_MODERATION_ACTION_EXECUTION", automod_execution(Value::Null));
    let Dispatch::AutoModActionExecution(e) = &none.dispatch else { panic!("parsed as {}", none.dispatch.name()) };
    let r: AutoModExecution = e.redacted();
    assert_eq!(r.matched_content, None);
    assert_eq!(r.content, "");
    let event = Event::new(none.dispatch.clone(), Audience::Guild(GUILD.parse().unwrap()));
    let redacted: Value = serde_json::from_slice(&gate_of(&event).redacted).unwrap();
    assert_eq!(redacted["matched_content"], Value::Null);
}

#[test]
fn decoding_garbage_is_an_error() {
    let valid = Event::new(samples().remove(0).dispatch, Audience::Guild(GUILD.parse().unwrap())).encode();
    let text = String::from_utf8(valid.clone()).unwrap();
    assert!(Event::decode(&valid).is_ok(), "the base case decodes");
    let renamed = text.replacen("MESSAGE_CREATE", "MESSAGE_EXPLODE", 1);
    assert_ne!(renamed, text);
    let zero_id = text.replacen(MSG, "0", 1);
    assert_ne!(zero_id, text);
    let bad_audience = text.replacen("\"Guild\"", "\"Everyone\"", 1);
    assert_ne!(bad_audience, text);
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"not json".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        renamed.into_bytes(),
        zero_id.into_bytes(),
        bad_audience.into_bytes(),
        format!("{text}{text}").into_bytes(),
        br#"{"kind":{"Dispatch":{"t":"MESSAGE_DELETE","d":{"channel_id":"1"}}},"audience":{"Users":[]},"membership":null}"#.to_vec(),
        br#"{"kind":{"Dispatch":{"t":"GUILD_DELETE"}},"audience":{"Users":[]},"membership":null}"#.to_vec(),
        br#"{"kind":{"Dispatch":{"t":"GUILD_DELETE","d":{"id":"1"}}},"audience":{"Users":["x"]},"membership":null}"#.to_vec(),
        br#"{"kind":{"Dispatch":{"t":"GUILD_DELETE","d":{"id":"1"}}},"audience":{"Users":[]},"membership":{"Joined":{}}}"#.to_vec(),
        br#"{"kind":{"Shutdown":{}},"audience":{"Users":[]},"membership":null}"#.to_vec(),
        br#"{"kind":{"Dispatch":{"t":"MESSAGE_CREATE","d":{"id":"1","content":"x"}}},"audience":{"Users":[]},"membership":null}"#.to_vec(),
    ];
    for (i, raw) in cases.iter().enumerate() {
        assert!(Event::decode(raw).is_err(), "case {i} decoded: {}", String::from_utf8_lossy(raw));
    }
    // Every truncation of a real event.
    for end in 0..valid.len() {
        assert!(Event::decode(&valid[..end]).is_err(), "a prefix of {end} bytes decoded");
    }
}

#[test]
fn a_known_frame_reads_as_the_typed_event() {
    let d: Dispatch = serde_json::from_str(&format!(
        r#"{{"t":"MESSAGE_DELETE","d":{{"id":"{MSG}","channel_id":"{TEXT}","guild_id":"{GUILD}"}}}}"#
    ))
    .unwrap();
    assert_eq!(
        d,
        Dispatch::MessageDelete(MessageDelete {
            id: Id::new(1100000000000000007),
            channel_id: Id::new(1100000000000000002),
            guild_id: Some(Id::new(1100000000000000001)),
        })
    );
    assert_eq!(d.guild_id(), Some(Id::new(1100000000000000001)));
    assert_eq!(d.channel_id(), Some(Id::new(1100000000000000002)));
}
