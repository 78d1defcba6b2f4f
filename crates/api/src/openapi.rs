//! The OpenAPI 3.1 description of the routes we serve, at
//! `/api/openapi.json`, and Swagger UI over it at `/api/docs/`.
//!
//! The document is built from one table, [`OPERATIONS`], instead of from
//! annotations on every handler: the handlers stay about behaviour and the
//! table reads as an index of the API. `tests/openapi.rs` holds the table
//! and `routes/mod.rs` to each other, so a route without a row (or a row
//! without a route) fails the test suite. Operation ids are those of
//! Discord's own OpenAPI document where Discord has the operation, so tools
//! written against Discord's find their way around ours.

use std::sync::{Arc, LazyLock};

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Paths, Ref,
    RefOr, Required, ResponseBuilder, ServerBuilder,
};

use crate::ApiError;

/// Where the document is served; Swagger UI reads it from here.
pub const SPEC_PATH: &str = "/api/openapi.json";
const DOCS_PATH: &str = "/api/docs";

/// The JSON a route takes or answers: nothing, one component schema, or a
/// list of them.
#[derive(Clone, Copy)]
enum Json {
    Nothing,
    One(&'static str),
    Many(&'static str),
}
use Json::{Many, Nothing, One};

/// A query parameter's type.
#[derive(Clone, Copy)]
enum Param {
    Snowflake,
    /// A snowflake that may repeat (`author_id=1&author_id=2`).
    Snowflakes,
    Integer,
    Boolean,
    Text,
}

/// One row of the table: a route as `routes/mod.rs` mounts it and what it
/// does. Built with [`op`] and the methods below; the defaults are "needs a
/// token, takes no body, answers 204".
#[derive(Clone, Copy)]
struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: Json,
    status: u16,
    reply: Json,
    query: &'static [(&'static str, Param)],
    public: bool,
    audited: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        body: Nothing,
        status: 204,
        reply: Nothing,
        query: &[],
        public: false,
        audited: false,
    }
}

impl Operation {
    const fn body(self, body: Json) -> Self {
        Self { body, ..self }
    }
    /// Answers 200 with `reply`.
    const fn ok(self, reply: Json) -> Self {
        Self { status: 200, reply, ..self }
    }
    /// Answers 201 with `reply`.
    const fn created(self, reply: Json) -> Self {
        Self { status: 201, reply, ..self }
    }
    const fn query(self, query: &'static [(&'static str, Param)]) -> Self {
        Self { query, ..self }
    }
    /// Needs no token.
    const fn public(self) -> Self {
        Self { public: true, ..self }
    }
    /// Takes an `X-Audit-Log-Reason` header for the audit log entry it writes.
    const fn audited(self) -> Self {
        Self { audited: true, ..self }
    }
}

const AUTH: &str = "Auth";
const GATEWAY: &str = "Gateway";
const USERS: &str = "Users";
const APPLICATIONS: &str = "Applications";
const GUILDS: &str = "Guilds";
const MEMBERS: &str = "Members";
const ROLES: &str = "Roles";
const BANS: &str = "Bans";
const AUDIT_LOG: &str = "Audit log";
const AUTOMOD: &str = "Auto moderation";
const CHANNELS: &str = "Channels";
const INVITES: &str = "Invites";
const MESSAGES: &str = "Messages";
const REACTIONS: &str = "Reactions";
const PINS: &str = "Pins";

const TAGS: &[(&str, &str)] = &[
    (AUTH, "Accounts and sessions (user API; bots are created through applications)"),
    (GATEWAY, "Where to connect the WebSocket gateway"),
    (USERS, "The current user, other users, DMs"),
    (APPLICATIONS, "Applications, their bots and adding bots to guilds"),
    (GUILDS, "Guilds and their channel lists"),
    (MEMBERS, "Guild members"),
    (ROLES, "Guild roles and members' roles"),
    (BANS, "Guild bans"),
    (AUDIT_LOG, "What moderators did, and why"),
    (AUTOMOD, "AutoMod rules checked against every message (MANAGE_GUILD)"),
    (CHANNELS, "Channels and permission overwrites"),
    (INVITES, "Invites"),
    (MESSAGES, "Messages"),
    (REACTIONS, "Reactions on messages"),
    (PINS, "Pinned messages"),
];

const PAGE: &[(&str, Param)] = &[("before", Param::Snowflake), ("after", Param::Snowflake), ("limit", Param::Integer)];
const AFTER_LIMIT: &[(&str, Param)] = &[("after", Param::Snowflake), ("limit", Param::Integer)];
const WITH_COUNTS: &[(&str, Param)] = &[("with_counts", Param::Boolean)];
/// Discord's message search parameters; `before` and `after` stand for
/// `max_id` and `min_id`. `has` and `author_type` repeat too.
const SEARCH: &[(&str, Param)] = &[
    ("content", Param::Text),
    ("author_id", Param::Snowflakes),
    ("author_type", Param::Text),
    ("mentions", Param::Snowflakes),
    ("mentions_role_id", Param::Snowflakes),
    ("mention_everyone", Param::Boolean),
    ("pinned", Param::Boolean),
    ("has", Param::Text),
    ("channel_id", Param::Snowflakes),
    ("min_id", Param::Snowflake),
    ("max_id", Param::Snowflake),
    ("after", Param::Snowflake),
    ("before", Param::Snowflake),
    ("include_nsfw", Param::Boolean),
    ("sort_by", Param::Text),
    ("sort_order", Param::Text),
    ("limit", Param::Integer),
    ("offset", Param::Integer),
];

/// Every route of `routes/mod.rs`, in its order.
const OPERATIONS: &[Operation] = &[
    // accounts
    op("POST", "/auth/register", "register", AUTH, "Create an account and get a user token")
        .body(One("Register"))
        .ok(One("Session"))
        .public(),
    op("POST", "/auth/login", "login", AUTH, "Log in with a username or email and a password")
        .body(One("Login"))
        .ok(One("LoginResult"))
        .public(),
    op("POST", "/auth/logout", "logout", AUTH, "Revoke the token of this request"),
    op("POST", "/auth/mfa/totp", "login_mfa_totp", AUTH, "Finish a login with a TOTP or backup code")
        .body(One("MfaLogin"))
        .ok(One("Session"))
        .public(),
    op("GET", "/auth/sessions", "list_sessions", AUTH, "List the current user's sessions").ok(One("AuthSessions")),
    op("POST", "/auth/sessions/logout", "logout_sessions", AUTH, "Revoke some of the current user's sessions")
        .body(One("SessionsLogout")),
    // gateway
    op("GET", "/gateway", "get_gateway", GATEWAY, "Get the gateway URL").ok(One("Gateway")).public(),
    op("GET", "/gateway/bot", "get_bot_gateway", GATEWAY, "Get the gateway URL, shard count and session start limit")
        .ok(One("GatewayBot")),
    // users
    op("GET", "/users/@me", "get_my_user", USERS, "Get the current user").ok(One("CurrentUser")),
    op("PATCH", "/users/@me", "update_my_user", USERS, "Modify the current user")
        .body(One("UserUpdate"))
        .ok(One("CurrentUser")),
    op("GET", "/users/@me/settings", "get_my_settings", USERS, "Get the current user's client settings")
        .ok(One("UserSettings")),
    op("PATCH", "/users/@me/settings", "update_my_settings", USERS, "Change client settings, status and custom status")
        .body(One("UserSettingsUpdate"))
        .ok(One("UserSettings")),
    op("POST", "/users/@me/mfa/totp/enable", "enable_totp", USERS, "Turn on TOTP two-factor authentication")
        .body(One("TotpEnable"))
        .ok(One("MfaEnabled")),
    op("POST", "/users/@me/mfa/totp/disable", "disable_totp", USERS, "Turn off TOTP two-factor authentication")
        .body(One("TotpDisable"))
        .ok(One("Token")),
    op("POST", "/users/@me/mfa/codes", "list_backup_codes", USERS, "View or regenerate backup codes")
        .body(One("BackupCodesRequest"))
        .ok(One("BackupCodes")),
    op("GET", "/users/@me/relationships", "list_relationships", USERS, "List friends, blocks and friend requests")
        .ok(Many("Relationship")),
    op("POST", "/users/@me/relationships", "send_friend_request", USERS, "Send a friend request by username")
        .body(One("FriendRequest")),
    op(
        "PUT",
        "/users/@me/relationships/{user_id}",
        "put_relationship",
        USERS,
        "Send or accept a friend request, or block",
    )
    .body(One("RelationshipUpdate")),
    op(
        "DELETE",
        "/users/@me/relationships/{user_id}",
        "delete_relationship",
        USERS,
        "Unfriend, cancel, decline or unblock",
    ),
    op("GET", "/users/@me/guilds", "list_my_guilds", USERS, "List the current user's guilds")
        .ok(Many("PartialGuild"))
        .query(&[
            ("before", Param::Snowflake),
            ("after", Param::Snowflake),
            ("limit", Param::Integer),
            ("with_counts", Param::Boolean),
        ]),
    op("DELETE", "/users/@me/guilds/{guild_id}", "leave_guild", USERS, "Leave a guild"),
    op("GET", "/users/@me/channels", "list_private_channels", USERS, "List your DM channels (people only)")
        .ok(Many("Channel")),
    op("POST", "/users/@me/channels", "create_dm", USERS, "Open a DM channel with a user")
        .body(One("DmCreate"))
        .ok(One("Channel")),
    op("GET", "/users/{user_id}", "get_user", USERS, "Get a user").ok(One("User")),
    // applications and bots
    op(
        "POST",
        "/applications",
        "create_application",
        APPLICATIONS,
        "Create an application with a bot user; answers the bot's token once",
    )
    .body(One("ApplicationCreate"))
    .ok(One("CreatedApplication")),
    op("GET", "/applications/@me", "get_my_application", APPLICATIONS, "Get the current bot's application")
        .ok(One("Application")),
    op("PATCH", "/applications/@me", "update_my_application", APPLICATIONS, "Modify the current bot's application")
        .body(One("ApplicationUpdate"))
        .ok(One("Application")),
    op("PATCH", "/applications/{application_id}", "update_application", APPLICATIONS, "Modify an application you own")
        .body(One("ApplicationUpdate"))
        .ok(One("Application")),
    op(
        "POST",
        "/applications/{application_id}/bot/reset",
        "reset_bot_token",
        APPLICATIONS,
        "Issue a new bot token, revoking the old ones",
    )
    .ok(One("BotToken")),
    op(
        "GET",
        "/oauth2/applications/@me",
        "get_my_oauth2_application",
        APPLICATIONS,
        "Get the current bot's application",
    )
    .ok(One("Application")),
    op(
        "POST",
        "/oauth2/authorize",
        "authorize_application",
        APPLICATIONS,
        "Add an application's bot to a guild you manage",
    )
    .query(&[
        ("client_id", Param::Snowflake),
        ("scope", Param::Text),
        ("permissions", Param::Text),
        ("guild_id", Param::Snowflake),
    ])
    .body(One("Authorize"))
    .ok(One("Authorized"))
    .audited(),
    // guilds
    op("POST", "/guilds", "create_guild", GUILDS, "Create a guild owned by the current user")
        .body(One("GuildCreate"))
        .created(One("Guild")),
    op("GET", "/guilds/{guild_id}", "get_guild", GUILDS, "Get a guild").ok(One("Guild")).query(WITH_COUNTS),
    op("PATCH", "/guilds/{guild_id}", "update_guild", GUILDS, "Modify a guild")
        .body(One("GuildUpdate"))
        .ok(One("Guild"))
        .audited(),
    op("DELETE", "/guilds/{guild_id}", "delete_guild", GUILDS, "Delete a guild (owner only)"),
    op("GET", "/guilds/{guild_id}/channels", "list_guild_channels", GUILDS, "List a guild's channels")
        .ok(Many("Channel")),
    op("POST", "/guilds/{guild_id}/channels", "create_guild_channel", GUILDS, "Create a channel")
        .body(One("ChannelFields"))
        .created(One("Channel"))
        .audited(),
    op("PATCH", "/guilds/{guild_id}/channels", "bulk_update_guild_channels", GUILDS, "Move channels, all or none")
        .body(Many("ChannelPosition"))
        .audited(),
    op("GET", "/guilds/{guild_id}/members", "list_guild_members", MEMBERS, "List members")
        .ok(Many("Member"))
        .query(AFTER_LIMIT),
    op(
        "GET",
        "/guilds/{guild_id}/members/search",
        "search_guild_members",
        MEMBERS,
        "Find members whose name starts with a query",
    )
    .ok(Many("Member"))
    .query(&[("query", Param::Text), ("limit", Param::Integer)]),
    op("PATCH", "/guilds/{guild_id}/members/@me", "update_my_guild_member", MEMBERS, "Modify the current member")
        .body(One("MyMemberUpdate"))
        .ok(One("Member"))
        .audited(),
    op("GET", "/guilds/{guild_id}/members/{user_id}", "get_guild_member", MEMBERS, "Get a member").ok(One("Member")),
    op(
        "PATCH",
        "/guilds/{guild_id}/members/{user_id}",
        "update_guild_member",
        MEMBERS,
        "Modify a member: nickname, roles, mute, deafen, timeout",
    )
    .body(One("MemberUpdate"))
    .ok(One("Member"))
    .audited(),
    op("DELETE", "/guilds/{guild_id}/members/{user_id}", "delete_guild_member", MEMBERS, "Kick a member").audited(),
    op(
        "PUT",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        "add_guild_member_role",
        ROLES,
        "Give a member a role",
    )
    .audited(),
    op(
        "DELETE",
        "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
        "delete_guild_member_role",
        ROLES,
        "Take a role from a member",
    )
    .audited(),
    op("GET", "/guilds/{guild_id}/roles", "list_guild_roles", ROLES, "List a guild's roles").ok(Many("Role")),
    op("POST", "/guilds/{guild_id}/roles", "create_guild_role", ROLES, "Create a role")
        .body(One("RoleFields"))
        .ok(One("Role"))
        .audited(),
    op("PATCH", "/guilds/{guild_id}/roles", "bulk_update_guild_roles", ROLES, "Reorder roles, all or none")
        .body(Many("RolePosition"))
        .ok(Many("Role"))
        .audited(),
    op("GET", "/guilds/{guild_id}/roles/{role_id}", "get_guild_role", ROLES, "Get a role").ok(One("Role")),
    op("PATCH", "/guilds/{guild_id}/roles/{role_id}", "update_guild_role", ROLES, "Modify a role")
        .body(One("RoleFields"))
        .ok(One("Role"))
        .audited(),
    op("DELETE", "/guilds/{guild_id}/roles/{role_id}", "delete_guild_role", ROLES, "Delete a role").audited(),
    op("GET", "/guilds/{guild_id}/bans", "list_guild_bans", BANS, "List bans").ok(Many("Ban")).query(PAGE),
    op("GET", "/guilds/{guild_id}/bans/{user_id}", "get_guild_ban", BANS, "Get a ban").ok(One("Ban")),
    op(
        "PUT",
        "/guilds/{guild_id}/bans/{user_id}",
        "ban_user_from_guild",
        BANS,
        "Ban a user, optionally deleting their recent messages",
    )
    .body(One("BanCreate"))
    .audited(),
    op("DELETE", "/guilds/{guild_id}/bans/{user_id}", "unban_user_from_guild", BANS, "Lift a ban").audited(),
    op("POST", "/guilds/{guild_id}/bulk-ban", "bulk_ban_users_from_guild", BANS, "Ban up to 200 users at once")
        .body(One("BulkBan"))
        .ok(One("BulkBanResult"))
        .audited(),
    op(
        "GET",
        "/guilds/{guild_id}/audit-logs",
        "list_guild_audit_log_entries",
        AUDIT_LOG,
        "List audit log entries, newest first",
    )
    .ok(One("AuditLog"))
    .query(&[
        ("user_id", Param::Snowflake),
        ("target_id", Param::Snowflake),
        ("action_type", Param::Integer),
        ("before", Param::Snowflake),
        ("after", Param::Snowflake),
        ("limit", Param::Integer),
    ]),
    op(
        "GET",
        "/guilds/{guild_id}/auto-moderation/rules",
        "list_auto_moderation_rules",
        AUTOMOD,
        "List a guild's AutoMod rules",
    )
    .ok(Many("AutoModRule")),
    op(
        "POST",
        "/guilds/{guild_id}/auto-moderation/rules",
        "create_auto_moderation_rule",
        AUTOMOD,
        "Create an AutoMod rule (trigger type 1000 is FussionCord's toxicity extension)",
    )
    .body(One("AutoModRuleCreate"))
    .ok(One("AutoModRule"))
    .audited(),
    op(
        "GET",
        "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
        "get_auto_moderation_rule",
        AUTOMOD,
        "Get an AutoMod rule",
    )
    .ok(One("AutoModRule")),
    op(
        "PATCH",
        "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
        "update_auto_moderation_rule",
        AUTOMOD,
        "Modify an AutoMod rule (its trigger type stays)",
    )
    .body(One("AutoModRuleUpdate"))
    .ok(One("AutoModRule"))
    .audited(),
    op(
        "DELETE",
        "/guilds/{guild_id}/auto-moderation/rules/{rule_id}",
        "delete_auto_moderation_rule",
        AUTOMOD,
        "Delete an AutoMod rule",
    )
    .audited(),
    op("GET", "/guilds/{guild_id}/messages/search", "guild_search", MESSAGES, "Search the messages one may read")
        .ok(One("SearchResults"))
        .query(SEARCH),
    op("GET", "/guilds/{guild_id}/invites", "list_guild_invites", INVITES, "List a guild's invites").ok(Many("Invite")),
    // channels
    op("GET", "/channels/{channel_id}", "get_channel", CHANNELS, "Get a channel").ok(One("Channel")),
    op("PATCH", "/channels/{channel_id}", "update_channel", CHANNELS, "Modify a channel")
        .body(One("ChannelFields"))
        .ok(One("Channel"))
        .audited(),
    op("DELETE", "/channels/{channel_id}", "delete_channel", CHANNELS, "Delete a channel, or close a DM")
        .ok(One("Channel"))
        .audited(),
    op(
        "POST",
        "/channels/{channel_id}/typing",
        "trigger_typing_indicator",
        CHANNELS,
        "Show that the current user is typing",
    ),
    op(
        "PUT",
        "/channels/{channel_id}/permissions/{overwrite_id}",
        "set_channel_permission_overwrite",
        CHANNELS,
        "Set a role's or member's permission overwrite",
    )
    .body(One("OverwriteSet"))
    .audited(),
    op(
        "DELETE",
        "/channels/{channel_id}/permissions/{overwrite_id}",
        "delete_channel_permission_overwrite",
        CHANNELS,
        "Remove a permission overwrite",
    )
    .audited(),
    op("GET", "/channels/{channel_id}/invites", "list_channel_invites", INVITES, "List a channel's invites")
        .ok(Many("Invite")),
    op("POST", "/channels/{channel_id}/invites", "create_channel_invite", INVITES, "Create an invite to a channel")
        .body(One("InviteCreate"))
        .ok(One("Invite"))
        .audited(),
    // invites
    op("GET", "/invites/{code}", "invite_resolve", INVITES, "Look an invite up")
        .ok(One("Invite"))
        .query(WITH_COUNTS)
        .public(),
    op("POST", "/invites/{code}", "accept_invite", INVITES, "Join the invite's guild").ok(One("Invite")),
    op("DELETE", "/invites/{code}", "invite_revoke", INVITES, "Delete an invite").ok(One("Invite")).audited(),
    // messages
    op("GET", "/channels/{channel_id}/messages", "list_messages", MESSAGES, "List messages, newest first")
        .ok(Many("Message"))
        .query(&[
            ("around", Param::Snowflake),
            ("before", Param::Snowflake),
            ("after", Param::Snowflake),
            ("limit", Param::Integer),
        ]),
    op("POST", "/channels/{channel_id}/messages", "create_message", MESSAGES, "Send a message")
        .body(One("MessageCreate"))
        .ok(One("Message")),
    op(
        "POST",
        "/channels/{channel_id}/messages/bulk-delete",
        "bulk_delete_messages",
        MESSAGES,
        "Delete 2 to 100 messages younger than two weeks",
    )
    .body(One("BulkDelete"))
    .audited(),
    op("GET", "/channels/{channel_id}/messages/pins", "list_pins", PINS, "List pinned messages, newest pin first")
        .ok(One("PinsPage"))
        .query(&[("before", Param::Text), ("limit", Param::Integer)]),
    op(
        "GET",
        "/channels/{channel_id}/messages/search",
        "channel_search",
        MESSAGES,
        "Search one channel's messages, a DM's included (people only)",
    )
    .ok(One("SearchResults"))
    .query(SEARCH),
    op("PUT", "/channels/{channel_id}/messages/pins/{message_id}", "create_pin", PINS, "Pin a message").audited(),
    op("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", "delete_pin", PINS, "Unpin a message").audited(),
    op("GET", "/channels/{channel_id}/messages/{message_id}", "get_message", MESSAGES, "Get a message")
        .ok(One("Message")),
    op("PATCH", "/channels/{channel_id}/messages/{message_id}", "update_message", MESSAGES, "Edit a message")
        .body(One("MessageUpdate"))
        .ok(One("Message")),
    op("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message", MESSAGES, "Delete a message")
        .audited(),
    op(
        "POST",
        "/channels/{channel_id}/messages/{message_id}/ack",
        "ack_message",
        MESSAGES,
        "Mark a channel read up to a message",
    )
    .body(One("Ack"))
    .ok(One("AckResult")),
    op(
        "DELETE",
        "/channels/{channel_id}/messages/{message_id}/reactions",
        "delete_all_message_reactions",
        REACTIONS,
        "Remove every reaction from a message",
    ),
    op(
        "GET",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
        "list_message_reactions_by_emoji",
        REACTIONS,
        "List the users who reacted with an emoji",
    )
    .ok(Many("User"))
    .query(AFTER_LIMIT),
    op(
        "DELETE",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
        "delete_all_message_reactions_by_emoji",
        REACTIONS,
        "Remove every reaction of one emoji",
    ),
    op(
        "PUT",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
        "add_my_message_reaction",
        REACTIONS,
        "React to a message (user is `@me`)",
    ),
    op(
        "DELETE",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
        "delete_user_message_reaction",
        REACTIONS,
        "Remove your reaction (`@me`) or a user's",
    ),
    op("GET", "/channels/{channel_id}/pins", "deprecated_list_pins", PINS, "List pinned messages (older route)")
        .ok(Many("Message")),
    op("PUT", "/channels/{channel_id}/pins/{message_id}", "deprecated_create_pin", PINS, "Pin a message (older route)")
        .audited(),
    op(
        "DELETE",
        "/channels/{channel_id}/pins/{message_id}",
        "deprecated_delete_pin",
        PINS,
        "Unpin a message (older route)",
    )
    .audited(),
];

/// The document, as served.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for o in OPERATIONS {
        paths.add_path_operation(o.path, vec![method(o.method)], operation(o));
    }
    let description = "The HTTP API of FussionCord: Discord's HTTP API v10, which bot libraries speak, plus the \
        user routes of the web client (accounts, guild creation, invites, applications). Every route is also \
        served under `/api` without the version.\n\n\
        Authenticate with the `Authorization` header: `Bot <token>` for a bot, the bare token for a person. \
        Errors are `{code, message, errors}`; a 429 carries `{message, retry_after, global}` and `Retry-After`.";
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("FussionCord HTTP API")
                .version("10")
                .description(Some(description))
                .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build())),
        )
        .servers(Some([ServerBuilder::new().url("/api/v10").build()]))
        .tags(Some(TAGS.iter().map(|(name, about)| TagBuilder::new().name(*name).description(Some(*about)).build())))
        .paths(paths)
        .components(Some(components()))
        .build()
}

fn method(name: &str) -> HttpMethod {
    match name {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        other => unreachable!("the table has no {other} routes"),
    }
}

fn operation(o: &Operation) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new().operation_id(Some(o.id)).tag(o.tag).summary(Some(o.summary));
    for name in o.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        let (schema, about) = match name {
            "code" => (string(), "The invite code"),
            "emoji" => (string(), "A Unicode emoji, or a custom one as `name:id`, URL-encoded"),
            "user" => (string(), "`@me` or a user id"),
            _ => (snowflake(), "An id"),
        };
        b = b.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(about))
                .schema(Some(schema)),
        );
    }
    for (name, kind) in o.query {
        let schema = match kind {
            Param::Snowflake => snowflake(),
            Param::Snowflakes => array(snowflake()),
            Param::Integer => integer(),
            Param::Boolean => boolean(),
            Param::Text => string(),
        };
        b = b.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(schema)),
        );
    }
    if o.audited {
        b = b.parameter(
            ParameterBuilder::new()
                .name("X-Audit-Log-Reason")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("Why, for the audit log entry (URL-encoded, up to 512 characters)"))
                .schema(Some(string())),
        );
    }
    if let Some(schema) = json_schema(o.body) {
        let content = ContentBuilder::new().schema(Some(schema)).build();
        b = b.request_body(Some(
            RequestBodyBuilder::new().required(Some(Required::True)).content(JSON, content).build(),
        ));
    }
    let mut ok = ResponseBuilder::new().description(if o.status == 204 { "Done, no content" } else { "Success" });
    if let Some(schema) = json_schema(o.reply) {
        ok = ok.content(JSON, ContentBuilder::new().schema(Some(schema)).build());
    }
    b = b
        .response(o.status.to_string(), rate_limit_headers(ok).build())
        .response("429", Ref::from_response_name("RateLimited"))
        .response("4XX", Ref::from_response_name("Error"));
    if !o.public {
        b = b.security(SecurityRequirement::new::<_, [&str; 0], &str>(TOKEN, []));
    }
    b.build()
}

const JSON: &str = "application/json";
const TOKEN: &str = "Token";

fn json_schema(json: Json) -> Option<RefOr<Schema>> {
    match json {
        Nothing => None,
        One(name) => Some(refer(name)),
        Many(name) => Some(array(refer(name))),
    }
}

fn rate_limit_headers(response: ResponseBuilder) -> ResponseBuilder {
    [
        ("X-RateLimit-Limit", integer(), "Requests allowed in the bucket's window"),
        ("X-RateLimit-Remaining", integer(), "Requests left in the window"),
        ("X-RateLimit-Reset", number(), "When the window resets, in epoch seconds"),
        ("X-RateLimit-Reset-After", number(), "Seconds until the window resets"),
        ("X-RateLimit-Bucket", string(), "The bucket this route shares"),
    ]
    .into_iter()
    .fold(response, |r, (name, schema, about)| {
        r.header(name, HeaderBuilder::new().schema(schema).description(Some(about)).build())
    })
}

fn components() -> utoipa::openapi::Components {
    let error = ResponseBuilder::new()
        .description("The request failed: `code` says why, `errors` which fields")
        .content(JSON, ContentBuilder::new().schema(Some(refer("Error"))).build());
    let limited =
        rate_limit_headers(ResponseBuilder::new().description("Too many requests: wait `retry_after` seconds"))
            .header(
                "Retry-After",
                HeaderBuilder::new().schema(integer()).description(Some("Seconds to wait, rounded up")).build(),
            )
            .header(
                "X-RateLimit-Global",
                HeaderBuilder::new().schema(boolean()).description(Some("Whether the global limit was hit")).build(),
            )
            .header(
                "X-RateLimit-Scope",
                HeaderBuilder::new().schema(string()).description(Some("`user`, `global` or `shared`")).build(),
            )
            .content(JSON, ContentBuilder::new().schema(Some(refer("RateLimited"))).build());
    let token = ApiKey::Header(ApiKeyValue::with_description(
        "Authorization",
        "`Bot <token>` for a bot; the bare token (from /auth/login or /auth/register) for a person",
    ));
    let mut c = ComponentsBuilder::new()
        .security_scheme(TOKEN, SecurityScheme::ApiKey(token))
        .response("Error", error.build())
        .response("RateLimited", limited.build());
    for (name, schema) in schemas() {
        c = c.schema(name, schema);
    }
    c.build()
}

// Schema shorthands. Every property the server always sends is required; a
// nullable one may be `null`.

type S = RefOr<Schema>;

fn of(t: Type) -> S {
    ObjectBuilder::new().schema_type(t).into()
}
fn string() -> S {
    of(Type::String)
}
fn integer() -> S {
    of(Type::Integer)
}
fn number() -> S {
    of(Type::Number)
}
fn boolean() -> S {
    of(Type::Boolean)
}
fn any() -> S {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue).into()
}
fn refer(name: &str) -> S {
    Ref::from_schema_name(name).into()
}
fn snowflake() -> S {
    refer("Snowflake")
}
fn timestamp() -> S {
    refer("Timestamp")
}
fn permissions() -> S {
    refer("Permissions")
}
fn array(items: S) -> S {
    ArrayBuilder::new().items(items).into()
}
fn nullable(s: S) -> S {
    match s {
        RefOr::T(Schema::Object(mut o)) if matches!(o.schema_type, SchemaType::Type(_)) => {
            if let SchemaType::Type(t) = o.schema_type {
                o.schema_type = [t, Type::Null].into_iter().collect();
            }
            RefOr::T(Schema::Object(o))
        }
        other => OneOfBuilder::new().item(other).item(of(Type::Null)).into(),
    }
}
fn object<const R: usize, const O: usize>(required: [(&str, S); R], optional: [(&str, S); O]) -> S {
    let mut b = ObjectBuilder::new();
    for (name, schema) in required {
        b = b.property(name, schema).required(name);
    }
    for (name, schema) in optional {
        b = b.property(name, schema);
    }
    b.into()
}
/// Every field of a person's settings: all present in `UserSettings`, any of
/// them in a PATCH or `USER_SETTINGS_UPDATE`.
fn user_settings_fields() -> [(&'static str, S); 6] {
    [
        ("status", described("online, idle, dnd or invisible", string())),
        ("custom_status", nullable(refer("CustomStatus"))),
        ("theme", described("dark or light", string())),
        ("locale", string()),
        ("message_display_compact", boolean()),
        ("developer_mode", boolean()),
    ]
}

fn described(text: &str, s: S) -> S {
    match s {
        RefOr::T(Schema::Object(mut o)) => {
            o.description = Some(text.to_owned());
            RefOr::T(Schema::Object(o))
        }
        other => other,
    }
}

const USER_FIELDS: usize = 13;

fn user_fields() -> [(&'static str, S); USER_FIELDS] {
    [
        ("id", snowflake()),
        ("username", string()),
        ("discriminator", string()),
        ("global_name", nullable(string())),
        ("avatar", nullable(string())),
        ("bot", boolean()),
        ("system", boolean()),
        ("public_flags", integer()),
        ("flags", integer()),
        ("banner", nullable(string())),
        ("accent_color", nullable(integer())),
        ("avatar_decoration_data", any()),
        ("primary_guild", any()),
    ]
}

fn application_fields() -> Vec<(&'static str, S)> {
    vec![
        ("id", snowflake()),
        ("name", string()),
        ("icon", nullable(string())),
        ("description", string()),
        ("type", nullable(integer())),
        ("bot", refer("User")),
        ("owner", refer("User")),
        ("team", any()),
        ("bot_public", boolean()),
        ("bot_require_code_grant", boolean()),
        ("verify_key", string()),
        ("flags", integer()),
        ("flags_new", string()),
        ("redirect_uris", array(string())),
        ("rpc_origins", array(string())),
        ("interactions_endpoint_url", nullable(string())),
        ("role_connections_verification_url", nullable(string())),
        ("approximate_guild_count", integer()),
        ("approximate_user_install_count", integer()),
        ("approximate_user_authorization_count", integer()),
        ("explicit_content_filter", integer()),
        ("eligible_oauth2_scopes", array(string())),
        ("summary", string()),
        ("tags", array(string())),
    ]
}

fn all_required(fields: Vec<(&'static str, S)>) -> S {
    let mut b = ObjectBuilder::new();
    for (name, schema) in fields {
        b = b.property(name, schema).required(name);
    }
    b.into()
}

fn schemas() -> Vec<(&'static str, S)> {
    let snowflake_type = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^(0|[1-9][0-9]*)$"))
        .description(Some("An id: a 64-bit snowflake as a decimal string"))
        .into();
    let permissions_type = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]+$"))
        .description(Some("A permission bit set as a decimal string"))
        .into();
    let timestamp_type = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
        .description(Some("An ISO 8601 timestamp"))
        .into();
    let permissions_in = described(
        "Permissions as a decimal string (or a number)",
        ObjectBuilder::new().schema_type([Type::String, Type::Integer].into_iter().collect::<SchemaType>()).into(),
    );
    let current_user = {
        let mut fields = user_fields().to_vec();
        fields.extend([
            ("mfa_enabled", boolean()),
            ("locale", string()),
            ("verified", boolean()),
            ("email", nullable(string())),
            ("premium_type", integer()),
        ]);
        all_required(fields)
    };
    let created_application = {
        let mut fields = application_fields();
        fields.push(("token", described("The bot's token, shown only now", string())));
        all_required(fields)
    };
    let allowed_mentions = object(
        [],
        [
            (
                "parse",
                array(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["users", "roles", "everyone"]))
                        .into(),
                ),
            ),
            ("users", array(snowflake())),
            ("roles", array(snowflake())),
            ("replied_user", boolean()),
        ],
    );
    vec![
        ("Snowflake", snowflake_type),
        ("Permissions", permissions_type),
        ("Timestamp", timestamp_type),
        (
            "Error",
            object(
                [
                    ("code", described("Discord's JSON error code; 0 for a plain HTTP error", integer())),
                    ("message", string()),
                ],
                [(
                    "errors",
                    described("Field errors, nested like the request body, with `_errors` lists at the leaves", any()),
                )],
            ),
        ),
        (
            "RateLimited",
            object(
                [("message", string()), ("retry_after", described("Seconds to wait", number())), ("global", boolean())],
                [("code", integer())],
            ),
        ),
        (
            "Session",
            object(
                [("token", described("A user token for the Authorization header", string())), ("user_id", snowflake())],
                [],
            ),
        ),
        (
            "LoginResult",
            object(
                [("user_id", snowflake())],
                [
                    ("token", described("Null when a second factor is needed", nullable(string()))),
                    ("mfa", boolean()),
                    ("sms", boolean()),
                    ("totp", boolean()),
                    ("backup", boolean()),
                    ("webauthn", nullable(string())),
                    ("ticket", described("Finishes the login at POST /auth/mfa/totp", string())),
                    ("user_settings", object([], [])),
                ],
            ),
        ),
        (
            "Relationship",
            object(
                [
                    ("id", snowflake()),
                    ("type", described("1 friend, 2 blocked, 3 incoming request, 4 outgoing request", integer())),
                    ("user", refer("User")),
                    ("nickname", nullable(string())),
                    ("since", timestamp()),
                ],
                [],
            ),
        ),
        ("Token", object([("token", described("The new user token; every older one is revoked", string()))], [])),
        ("BackupCode", object([("user_id", snowflake()), ("code", nullable(string())), ("consumed", boolean())], [])),
        ("BackupCodes", object([("backup_codes", array(refer("BackupCode")))], [])),
        ("MfaEnabled", object([("token", string()), ("backup_codes", array(refer("BackupCode")))], [])),
        (
            "AuthSession",
            object(
                [
                    ("id_hash", string()),
                    ("approx_last_used_time", string()),
                    (
                        "client_info",
                        object(
                            [],
                            [
                                ("os", nullable(string())),
                                ("platform", nullable(string())),
                                ("location", nullable(string())),
                            ],
                        ),
                    ),
                ],
                [],
            ),
        ),
        ("AuthSessions", object([("user_sessions", array(refer("AuthSession")))], [])),
        ("Gateway", object([("url", string())], [])),
        (
            "GatewayBot",
            object(
                [
                    ("url", string()),
                    ("shards", integer()),
                    (
                        "session_start_limit",
                        object(
                            [
                                ("total", integer()),
                                ("remaining", integer()),
                                ("reset_after", integer()),
                                ("max_concurrency", integer()),
                            ],
                            [],
                        ),
                    ),
                ],
                [],
            ),
        ),
        ("User", object(user_fields(), [])),
        ("CurrentUser", current_user),
        (
            "PartialGuild",
            object(
                [
                    ("id", snowflake()),
                    ("name", string()),
                    ("icon", nullable(string())),
                    ("banner", nullable(string())),
                    ("owner", boolean()),
                    ("permissions", permissions()),
                    ("features", array(string())),
                ],
                [("approximate_member_count", integer()), ("approximate_presence_count", integer())],
            ),
        ),
        (
            "Guild",
            all_required(vec![
                ("id", snowflake()),
                ("name", string()),
                ("icon", nullable(string())),
                ("description", nullable(string())),
                ("home_header", nullable(string())),
                ("splash", nullable(string())),
                ("discovery_splash", nullable(string())),
                ("features", array(string())),
                ("banner", nullable(string())),
                ("owner_id", snowflake()),
                ("application_id", nullable(snowflake())),
                ("region", string()),
                ("afk_channel_id", nullable(snowflake())),
                ("afk_timeout", integer()),
                ("system_channel_id", nullable(snowflake())),
                ("system_channel_flags", integer()),
                ("widget_enabled", boolean()),
                ("widget_channel_id", nullable(snowflake())),
                ("verification_level", integer()),
                ("roles", array(refer("Role"))),
                ("default_message_notifications", integer()),
                ("mfa_level", integer()),
                ("explicit_content_filter", integer()),
                ("max_presences", nullable(integer())),
                ("max_members", integer()),
                ("max_stage_video_channel_users", integer()),
                ("max_video_channel_users", integer()),
                ("vanity_url_code", nullable(string())),
                ("premium_tier", integer()),
                ("premium_subscription_count", integer()),
                ("preferred_locale", string()),
                ("rules_channel_id", nullable(snowflake())),
                ("safety_alerts_channel_id", nullable(snowflake())),
                ("public_updates_channel_id", nullable(snowflake())),
                ("premium_progress_bar_enabled", boolean()),
                ("nsfw", boolean()),
                ("nsfw_level", integer()),
                ("emojis", array(any())),
                ("stickers", array(any())),
                ("incidents_data", any()),
            ]),
        ),
        (
            "Role",
            object(
                [
                    ("id", snowflake()),
                    ("name", string()),
                    ("description", nullable(string())),
                    ("permissions", permissions()),
                    ("position", integer()),
                    ("color", integer()),
                    (
                        "colors",
                        object(
                            [
                                ("primary_color", integer()),
                                ("secondary_color", nullable(integer())),
                                ("tertiary_color", nullable(integer())),
                            ],
                            [],
                        ),
                    ),
                    ("hoist", boolean()),
                    ("managed", boolean()),
                    ("mentionable", boolean()),
                    ("icon", nullable(string())),
                    ("unicode_emoji", nullable(string())),
                    ("flags", integer()),
                ],
                [],
            ),
        ),
        (
            "Member",
            object(
                [
                    ("nick", nullable(string())),
                    ("avatar", nullable(string())),
                    ("banner", nullable(string())),
                    ("roles", array(snowflake())),
                    ("joined_at", timestamp()),
                    ("premium_since", nullable(timestamp())),
                    ("deaf", boolean()),
                    ("mute", boolean()),
                    ("flags", integer()),
                    ("pending", boolean()),
                    ("communication_disabled_until", nullable(timestamp())),
                ],
                [("user", refer("User"))],
            ),
        ),
        (
            "PermissionOverwrite",
            object(
                [
                    ("id", snowflake()),
                    ("type", described("0 for a role, 1 for a member", integer())),
                    ("allow", permissions()),
                    ("deny", permissions()),
                ],
                [],
            ),
        ),
        (
            "Channel",
            object(
                [
                    ("id", snowflake()),
                    ("type", described("0 text, 1 DM, 2 voice, 4 category", integer())),
                    ("flags", integer()),
                ],
                [
                    ("guild_id", snowflake()),
                    ("name", string()),
                    ("position", integer()),
                    ("permission_overwrites", array(refer("PermissionOverwrite"))),
                    ("parent_id", nullable(snowflake())),
                    ("topic", nullable(string())),
                    ("nsfw", boolean()),
                    ("rate_limit_per_user", integer()),
                    ("bitrate", integer()),
                    ("user_limit", integer()),
                    ("rtc_region", nullable(string())),
                    ("last_message_id", nullable(snowflake())),
                    ("last_pin_timestamp", nullable(timestamp())),
                    ("recipients", array(refer("User"))),
                ],
            ),
        ),
        (
            "Message",
            object(
                [
                    ("id", snowflake()),
                    ("channel_id", snowflake()),
                    ("author", refer("User")),
                    ("content", string()),
                    ("timestamp", timestamp()),
                    ("edited_timestamp", nullable(timestamp())),
                    ("tts", boolean()),
                    ("mention_everyone", boolean()),
                    ("mentions", array(refer("User"))),
                    ("mention_roles", array(snowflake())),
                    ("attachments", array(any())),
                    ("embeds", array(any())),
                    ("components", array(any())),
                    ("pinned", boolean()),
                    ("type", described("0 default, 19 reply", integer())),
                    ("flags", integer()),
                ],
                [
                    ("guild_id", snowflake()),
                    ("member", refer("Member")),
                    ("reactions", array(refer("Reaction"))),
                    ("nonce", any()),
                    (
                        "message_reference",
                        object(
                            [("type", integer()), ("message_id", snowflake()), ("channel_id", snowflake())],
                            [("guild_id", snowflake())],
                        ),
                    ),
                    ("referenced_message", nullable(refer("Message"))),
                ],
            ),
        ),
        (
            "Reaction",
            object(
                [
                    ("emoji", object([("id", nullable(snowflake())), ("name", nullable(string()))], [])),
                    ("count", integer()),
                    ("count_details", object([("burst", integer()), ("normal", integer())], [])),
                    ("burst_colors", array(string())),
                    ("me", boolean()),
                    ("me_burst", boolean()),
                ],
                [],
            ),
        ),
        (
            "SearchResults",
            object(
                [
                    ("total_results", integer()),
                    (
                        "messages",
                        described(
                            "Newest first; each hit alone in its list, as a Message with `hit: true`",
                            array(array(refer("Message"))),
                        ),
                    ),
                    ("doing_deep_historical_index", boolean()),
                    ("analytics_id", string()),
                ],
                [],
            ),
        ),
        (
            "PinsPage",
            object(
                [
                    ("items", array(object([("pinned_at", nullable(timestamp())), ("message", refer("Message"))], []))),
                    ("has_more", boolean()),
                ],
                [],
            ),
        ),
        (
            "Invite",
            object(
                [
                    ("type", integer()),
                    ("code", string()),
                    (
                        "guild",
                        object(
                            [
                                ("id", snowflake()),
                                ("name", string()),
                                ("splash", nullable(string())),
                                ("banner", nullable(string())),
                                ("description", nullable(string())),
                                ("icon", nullable(string())),
                                ("features", array(string())),
                                ("verification_level", integer()),
                                ("vanity_url_code", nullable(string())),
                                ("nsfw_level", integer()),
                                ("nsfw", boolean()),
                                ("premium_subscription_count", integer()),
                            ],
                            [],
                        ),
                    ),
                    ("guild_id", snowflake()),
                    ("channel", object([("id", snowflake()), ("type", integer()), ("name", nullable(string()))], [])),
                    ("expires_at", nullable(timestamp())),
                ],
                [
                    ("inviter", refer("User")),
                    ("uses", integer()),
                    ("max_uses", integer()),
                    ("max_age", integer()),
                    ("temporary", boolean()),
                    ("created_at", timestamp()),
                    ("approximate_member_count", integer()),
                    ("approximate_presence_count", integer()),
                ],
            ),
        ),
        ("Ban", object([("user", nullable(refer("User"))), ("reason", nullable(string()))], [])),
        ("BulkBanResult", object([("banned_users", array(snowflake())), ("failed_users", array(snowflake()))], [])),
        (
            "AuditLogEntry",
            object(
                [
                    ("id", snowflake()),
                    ("user_id", nullable(snowflake())),
                    ("target_id", nullable(string())),
                    ("action_type", integer()),
                ],
                [
                    ("changes", array(object([("key", string())], [("old_value", any()), ("new_value", any())]))),
                    ("options", any()),
                    ("reason", string()),
                ],
            ),
        ),
        (
            "AuditLog",
            object(
                [
                    ("audit_log_entries", array(refer("AuditLogEntry"))),
                    ("users", array(refer("User"))),
                    ("integrations", array(any())),
                    ("webhooks", array(any())),
                    ("guild_scheduled_events", array(any())),
                    ("threads", array(any())),
                    ("application_commands", array(any())),
                    ("auto_moderation_rules", array(refer("AutoModRule"))),
                ],
                [],
            ),
        ),
        ("Application", all_required(application_fields())),
        ("CreatedApplication", created_application),
        ("BotToken", object([("token", string())], [])),
        ("Authorized", object([("location", string())], [])),
        // request bodies
        (
            "Register",
            object(
                [("username", string()), ("email", string()), ("password", string())],
                [("global_name", nullable(string()))],
            ),
        ),
        ("Login", object([("login", described("Username or email", string())), ("password", string())], [])),
        ("MfaLogin", object([("code", described("A TOTP code or a backup code", string())), ("ticket", string())], [])),
        ("SessionsLogout", object([("session_id_hashes", array(string()))], [])),
        ("Ack", object([], [("manual", boolean()), ("mention_count", integer()), ("token", nullable(string()))])),
        ("AckResult", object([("token", nullable(string()))], [])),
        ("FriendRequest", object([("username", string())], [("discriminator", nullable(string()))])),
        ("RelationshipUpdate", object([], [("type", described("Absent or 1: befriend; 2: block", integer()))])),
        (
            "TotpEnable",
            object(
                [("secret", described("Base32 TOTP secret the client made", string())), ("code", string())],
                [("password", string())],
            ),
        ),
        ("TotpDisable", object([("code", described("A TOTP code or a backup code", string()))], [])),
        ("BackupCodesRequest", object([("password", string())], [("regenerate", boolean())])),
        (
            "UserUpdate",
            object(
                [],
                [
                    ("username", string()),
                    ("global_name", nullable(string())),
                    (
                        "avatar",
                        described(
                            "A data URI (data:image/png;base64,…; PNG, JPEG, GIF or WebP), or null to remove",
                            nullable(string()),
                        ),
                    ),
                    ("locale", string()),
                ],
            ),
        ),
        ("DmCreate", object([("recipient_id", snowflake())], [])),
        (
            "CustomStatus",
            object(
                [],
                [
                    ("text", nullable(string())),
                    ("emoji_id", nullable(snowflake())),
                    ("emoji_name", nullable(string())),
                    ("expires_at", nullable(timestamp())),
                ],
            ),
        ),
        ("UserSettings", object(user_settings_fields(), [])),
        ("UserSettingsUpdate", object([], user_settings_fields())),
        ("ApplicationCreate", object([("name", string())], [("description", string())])),
        ("ApplicationUpdate", object([], [("description", string()), ("flags", integer())])),
        (
            "Authorize",
            object([], [("guild_id", snowflake()), ("permissions", permissions()), ("authorize", boolean())]),
        ),
        ("GuildCreate", object([("name", string())], [("description", nullable(string()))])),
        (
            "GuildUpdate",
            object(
                [],
                [
                    ("name", string()),
                    ("description", nullable(string())),
                    ("icon", nullable(string())),
                    ("owner_id", snowflake()),
                    ("afk_channel_id", nullable(snowflake())),
                    ("afk_timeout", integer()),
                    ("system_channel_id", nullable(snowflake())),
                    ("verification_level", integer()),
                    ("default_message_notifications", integer()),
                    ("explicit_content_filter", integer()),
                    ("preferred_locale", string()),
                ],
            ),
        ),
        (
            "ChannelFields",
            described(
                "A channel's settings; `name` is required to create one",
                object(
                    [],
                    [
                        ("name", string()),
                        ("type", integer()),
                        ("position", integer()),
                        ("parent_id", nullable(snowflake())),
                        ("topic", nullable(string())),
                        ("nsfw", boolean()),
                        ("rate_limit_per_user", integer()),
                        ("bitrate", integer()),
                        ("user_limit", integer()),
                        (
                            "permission_overwrites",
                            array(object(
                                [("id", snowflake()), ("type", integer())],
                                [("allow", permissions_in.clone()), ("deny", permissions_in.clone())],
                            )),
                        ),
                    ],
                ),
            ),
        ),
        (
            "ChannelPosition",
            object([("id", snowflake())], [("position", integer()), ("parent_id", nullable(snowflake()))]),
        ),
        (
            "RoleFields",
            object(
                [],
                [
                    ("name", string()),
                    ("permissions", permissions_in.clone()),
                    ("color", integer()),
                    ("hoist", boolean()),
                    ("mentionable", boolean()),
                    ("icon", nullable(string())),
                ],
            ),
        ),
        ("RolePosition", object([("id", snowflake())], [("position", integer())])),
        (
            "MemberUpdate",
            object(
                [],
                [
                    ("nick", nullable(string())),
                    ("roles", array(snowflake())),
                    ("mute", boolean()),
                    ("deaf", boolean()),
                    ("communication_disabled_until", nullable(timestamp())),
                ],
            ),
        ),
        ("MyMemberUpdate", object([], [("nick", nullable(string()))])),
        (
            "AutoModAction",
            object(
                [("type", described("1 block message, 2 send alert message, 3 timeout", integer()))],
                [(
                    "metadata",
                    object(
                        [],
                        [("custom_message", string()), ("channel_id", snowflake()), ("duration_seconds", integer())],
                    ),
                )],
            ),
        ),
        (
            "AutoModRule",
            object(
                [
                    ("id", snowflake()),
                    ("guild_id", snowflake()),
                    ("creator_id", snowflake()),
                    ("name", string()),
                    ("event_type", integer()),
                    (
                        "trigger_type",
                        described(
                            "1 keyword, 3 spam, 4 keyword preset, 5 mention spam, 1000 toxicity (FussionCord)",
                            integer(),
                        ),
                    ),
                    ("trigger_metadata", refer("AutoModTriggerMetadata")),
                    ("actions", array(refer("AutoModAction"))),
                    ("enabled", boolean()),
                    ("exempt_roles", array(snowflake())),
                    ("exempt_channels", array(snowflake())),
                ],
                [],
            ),
        ),
        (
            "AutoModTriggerMetadata",
            object(
                [],
                [
                    ("keyword_filter", array(string())),
                    ("regex_patterns", array(string())),
                    ("allow_list", array(string())),
                    ("presets", array(integer())),
                    ("mention_total_limit", integer()),
                    ("mention_raid_protection_enabled", boolean()),
                    (
                        "toxicity_threshold",
                        described("FussionCord's extension (trigger type 1000): in (0, 1], default 0.5", number()),
                    ),
                ],
            ),
        ),
        (
            "AutoModRuleCreate",
            object(
                [
                    ("name", string()),
                    ("event_type", integer()),
                    ("trigger_type", integer()),
                    ("actions", array(refer("AutoModAction"))),
                ],
                [
                    ("trigger_metadata", nullable(refer("AutoModTriggerMetadata"))),
                    ("enabled", nullable(boolean())),
                    ("exempt_roles", nullable(array(snowflake()))),
                    ("exempt_channels", nullable(array(snowflake()))),
                ],
            ),
        ),
        (
            "AutoModRuleUpdate",
            object(
                [],
                [
                    ("name", string()),
                    ("event_type", integer()),
                    ("trigger_type", integer()),
                    ("actions", nullable(array(refer("AutoModAction")))),
                    ("trigger_metadata", nullable(refer("AutoModTriggerMetadata"))),
                    ("enabled", nullable(boolean())),
                    ("exempt_roles", nullable(array(snowflake()))),
                    ("exempt_channels", nullable(array(snowflake()))),
                ],
            ),
        ),
        ("BanCreate", object([], [("delete_message_seconds", integer()), ("delete_message_days", integer())])),
        ("BulkBan", object([("user_ids", array(snowflake()))], [("delete_message_seconds", integer())])),
        ("BulkDelete", object([("messages", array(snowflake()))], [])),
        (
            "InviteCreate",
            object(
                [],
                [("max_age", integer()), ("max_uses", integer()), ("temporary", boolean()), ("unique", boolean())],
            ),
        ),
        (
            "OverwriteSet",
            object(
                [("type", described("0 for a role, 1 for a member", integer()))],
                [("allow", permissions_in.clone()), ("deny", permissions_in)],
            ),
        ),
        (
            "MessageCreate",
            object(
                [],
                [
                    ("content", string()),
                    (
                        "nonce",
                        nullable(
                            ObjectBuilder::new()
                                .schema_type([Type::String, Type::Integer].into_iter().collect::<SchemaType>())
                                .into(),
                        ),
                    ),
                    ("enforce_nonce", boolean()),
                    ("tts", boolean()),
                    ("flags", integer()),
                    (
                        "message_reference",
                        object(
                            [],
                            [
                                ("message_id", snowflake()),
                                ("channel_id", snowflake()),
                                ("fail_if_not_exists", boolean()),
                                ("type", integer()),
                            ],
                        ),
                    ),
                    ("allowed_mentions", refer("AllowedMentions")),
                ],
            ),
        ),
        ("AllowedMentions", allowed_mentions),
        (
            "MessageUpdate",
            object([], [("content", string()), ("flags", integer()), ("allowed_mentions", refer("AllowedMentions"))]),
        ),
    ]
}

static SPEC: LazyLock<String> = LazyLock::new(|| document().to_json().expect("the OpenAPI document serialises"));

static SWAGGER: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> = LazyLock::new(|| {
    // No validator badge: it would send the document to swagger.io.
    Arc::new(utoipa_swagger_ui::Config::new([SPEC_PATH]).validator_url("none"))
});

/// `/api/openapi.json` and Swagger UI under `/api/docs/`; no token needed.
pub fn router<T: Clone + Send + Sync + 'static>() -> Router<T> {
    Router::new()
        .route(SPEC_PATH, get(|| async { ([(header::CONTENT_TYPE, JSON)], SPEC.as_str()) }))
        // Swagger UI's page loads its files relative to itself.
        .route(DOCS_PATH, get(|| async { Redirect::to(&format!("{DOCS_PATH}/")) }))
        .route(&format!("{DOCS_PATH}/"), get(|| swagger_file(String::new())))
        .route(&format!("{DOCS_PATH}/{{*file}}"), get(|Path(file): Path<String>| swagger_file(file)))
}

async fn swagger_file(file: String) -> Response {
    match utoipa_swagger_ui::serve(&file, SWAGGER.clone()) {
        Ok(Some(f)) => ([(header::CONTENT_TYPE, f.content_type)], f.bytes.into_owned()).into_response(),
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
