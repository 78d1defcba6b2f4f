//! The OpenAPI 3.1 description of the routes we serve, at
//! `/api/openapi.json`, and Swagger UI over it at `/api/docs/`.
//!
//! Each handler in `routes/` carries its operation in a `#[utoipa::path]`
//! annotation: method, path, operation id, tag, summary, the query
//! parameters and `X-Audit-Log-Reason` it reads, its body and its answer.
//! `routes::Documented` gathers them and [`document`] adds what every
//! operation shares, so the annotations say only what is particular:
//!
//! - the path parameters, read from the path (`code`, `emoji` and `user`
//!   are strings, every other one a `Snowflake`);
//! - a token (the `Token` scheme), unless the annotation says `security(())`;
//! - the `X-RateLimit-*` headers on the success answer, and the 429 and 4XX
//!   answers.
//!
//! The summary is the annotation's; by utoipa's rule, a handler's doc
//! comment past its first paragraph would become the operation's
//! description, so handlers keep theirs to one paragraph.
//!
//! The component schemas are written here, by hand, from what the server
//! sends and accepts (`null`s, optional fields and extensions that the Rust
//! types do not say); the annotations name them through the unit types of
//! `component_types!`. `tests/suite/openapi.rs` holds the document and
//! `routes/mod.rs` to each other, so a route without an annotation (or an
//! annotation without a route) fails the test suite. Operation ids are those
//! of Discord's own OpenAPI document where Discord has the operation, so
//! tools written against Discord's find their way around ours.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Header, HeaderBuilder, InfoBuilder, LicenseBuilder, OpenApi, Ref, RefOr,
    Required, ResponseBuilder, ServerBuilder,
};
use utoipa::{IntoParams, OpenApi as _, PartialSchema, ToSchema};

use crate::ApiError;

/// Where the document is served; Swagger UI reads it from here.
pub const SPEC_PATH: &str = "/api/openapi.json";
const DOCS_PATH: &str = "/api/docs";

/// The tags the annotations use, in the order the document lists them.
const TAGS: &[(&str, &str)] = &[
    ("Auth", "Accounts and sessions (user API; bots are created through applications)"),
    ("Gateway", "Where to connect the WebSocket gateway"),
    ("Users", "The current user, other users, DMs"),
    ("Applications", "Applications, their bots and adding bots to guilds"),
    ("Commands", "An application's slash and context-menu commands, global or per guild (its bot only)"),
    ("Guilds", "Guilds and their channel lists"),
    ("Members", "Guild members"),
    ("Roles", "Guild roles and members' roles"),
    ("Bans", "Guild bans"),
    ("Audit log", "What moderators did, and why"),
    ("Auto moderation", "AutoMod rules checked against every message (MANAGE_GUILD)"),
    ("Emojis", "A guild's custom emojis (images at /emojis/{id}.{ext})"),
    ("Stickers", "A guild's stickers (files at /stickers/{id}.{ext})"),
    ("Voice", "Voice regions and voice states (joining is the gateway's op 4)"),
    ("Channels", "Channels and permission overwrites"),
    ("Invites", "Invites"),
    ("Webhooks", "Incoming webhooks: managed with MANAGE_WEBHOOKS, executed with their token"),
    ("Interactions", "A person using an application's components and modals, and the application's answers"),
    ("Messages", "Messages"),
    ("Reactions", "Reactions on messages"),
    ("Pins", "Pinned messages"),
];

/// A unit type per component schema that an annotation names as a body or
/// an answer (`body = crate::openapi::Message`, `Vec<…>` for a list). The
/// annotation refers to the schema by name; its content is the one
/// [`schemas`] writes.
macro_rules! component_types {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("The `", stringify!($name), "` component schema.")]
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> S {
                component(stringify!($name))
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )*};
}

component_types!(
    Ack,
    AckResult,
    Application,
    ApplicationCommand,
    ApplicationCommandCreate,
    ApplicationCommandUpdate,
    ApplicationCreate,
    AttachmentsCreate,
    AttachmentsCreated,
    ApplicationUpdate,
    AuditLog,
    AuthSessions,
    Authorize,
    Authorized,
    AutoModRule,
    AutoModRuleCreate,
    AutoModRuleUpdate,
    BackupCodes,
    BackupCodesRequest,
    Ban,
    BanCreate,
    BotToken,
    BulkBan,
    BulkBanResult,
    BulkDelete,
    Channel,
    CommandPermissions,
    ChannelFields,
    ChannelPosition,
    CreatedApplication,
    CurrentUser,
    DmCreate,
    Emoji,
    EmojiCreate,
    EmojiUpdate,
    FriendRequest,
    Gateway,
    GatewayBot,
    Guild,
    GuildCreate,
    GuildUpdate,
    Invite,
    InviteCreate,
    Login,
    LoginResult,
    Member,
    MemberUpdate,
    Message,
    MessageCreate,
    MessageUpdate,
    MfaEnabled,
    MfaLogin,
    MyMemberUpdate,
    OverwriteSet,
    PartialGuild,
    PinsPage,
    Register,
    Relationship,
    RefreshUrls,
    RefreshedUrls,
    RelationshipUpdate,
    Role,
    RoleFields,
    RolePosition,
    SearchResults,
    Session,
    SessionsLogout,
    Sticker,
    StickerCreate,
    StickerUpdate,
    Token,
    TotpDisable,
    TotpEnable,
    User,
    UserSettings,
    UserSettingsUpdate,
    UserUpdate,
    VoiceRegion,
    VoiceState,
    CommandIndex,
    InteractionCallback,
    InteractionCallbackResponse,
    InteractionCreate,
    Webhook,
    WebhookCreate,
    WebhookExecute,
    WebhookUpdate,
);

/// The schema [`schemas`] writes for `name`.
fn component(name: &str) -> S {
    schemas()
        .into_iter()
        .find_map(|(n, schema)| (n == name).then_some(schema))
        .unwrap_or_else(|| panic!("openapi.rs writes no `{name}` schema"))
}

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

/// A type per set of query parameters, for `params(crate::openapi::…)` in
/// an annotation; every query parameter is optional.
macro_rules! query_params {
    ($($(#[$doc:meta])* $name:ident = [$(($param:literal, $kind:ident)),* $(,)?];)*) => {$(
        $(#[$doc])*
        pub struct $name;
        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                query(&[$(($param, Param::$kind)),*])
            }
        }
    )*};
}

query_params! {
    /// A page of a list by id.
    Page = [("before", Snowflake), ("after", Snowflake), ("limit", Integer)];
    /// A page of a list after an id.
    AfterLimit = [("after", Snowflake), ("limit", Integer)];
    WithCounts = [("with_counts", Boolean)];
    /// A list of application commands: their localization maps too.
    WithLocalizations = [("with_localizations", Boolean)];
    /// `GET /users/@me/guilds`.
    MyGuildsQuery = [("before", Snowflake), ("after", Snowflake), ("limit", Integer), ("with_counts", Boolean)];
    /// `GET /guilds/{guild_id}/members/search`.
    MemberSearchQuery = [("query", Text), ("limit", Integer)];
    /// `POST /oauth2/authorize`: an authorisation URL's parameters (or the body's).
    AuthorizeQuery = [("client_id", Snowflake), ("scope", Text), ("permissions", Text), ("guild_id", Snowflake)];
    /// `GET /guilds/{guild_id}/audit-logs`.
    AuditLogQuery = [
        ("user_id", Snowflake),
        ("target_id", Snowflake),
        ("action_type", Integer),
        ("before", Snowflake),
        ("after", Snowflake),
        ("limit", Integer),
    ];
    /// `GET /channels/{channel_id}/messages`.
    MessagesQuery = [("around", Snowflake), ("before", Snowflake), ("after", Snowflake), ("limit", Integer)];
    /// Executing a webhook: `wait` answers the message; `thread_id` names a thread.
    /// Answering an interaction: `with_response` answers what the callback made.
    InteractionCallbackQuery = [("with_response", Boolean)];
    WebhookExecuteQuery = [("wait", Boolean), ("thread_id", Snowflake), ("with_components", Boolean)];
    /// `GET /channels/{channel_id}/messages/pins`: `before` is a pin's timestamp.
    PinsQuery = [("before", Text), ("limit", Integer)];
    /// Discord's message search parameters; `before` and `after` stand for
    /// `max_id` and `min_id`. `has` and `author_type` repeat too.
    SearchQuery = [
        ("content", Text),
        ("author_id", Snowflakes),
        ("author_type", Text),
        ("mentions", Snowflakes),
        ("mentions_role_id", Snowflakes),
        ("mention_everyone", Boolean),
        ("pinned", Boolean),
        ("has", Text),
        ("channel_id", Snowflakes),
        ("min_id", Snowflake),
        ("max_id", Snowflake),
        ("after", Snowflake),
        ("before", Snowflake),
        ("include_nsfw", Boolean),
        ("sort_by", Text),
        ("sort_order", Text),
        ("limit", Integer),
        ("offset", Integer),
    ];
}

fn query(params: &[(&str, Param)]) -> Vec<Parameter> {
    params
        .iter()
        .map(|(name, kind)| {
            let schema = match kind {
                Param::Snowflake => snowflake(),
                Param::Snowflakes => array(snowflake()),
                Param::Integer => integer(),
                Param::Boolean => boolean(),
                Param::Text => string(),
            };
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

/// The `X-Audit-Log-Reason` header of a route that writes an audit log
/// entry: `params(crate::openapi::AuditReason)`.
pub struct AuditReason;

impl IntoParams for AuditReason {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![ParameterBuilder::new()
            .name("X-Audit-Log-Reason")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some("Why, for the audit log entry (URL-encoded, up to 512 characters)"))
            .schema(Some(string()))
            .build()]
    }
}

/// The second paths of handlers `routes/mod.rs` mounts twice (Discord's
/// older paths for the same operations). A function carries one
/// annotation, so these stand-ins carry the others; they are never called.
#[allow(dead_code)]
mod aliases {
    // `applications::me`
    #[utoipa::path(
        get, path = "/oauth2/applications/@me",
        operation_id = "get_my_oauth2_application", tag = "Applications",
        summary = "Get the current bot's application",
        responses((status = 200, body = crate::openapi::Application)),
    )]
    pub fn get_my_oauth2_application() {}

    // `messages::pin`
    #[utoipa::path(
        put, path = "/channels/{channel_id}/pins/{message_id}",
        operation_id = "deprecated_create_pin", tag = "Pins",
        summary = "Pin a message (older route)",
        params(crate::openapi::AuditReason),
        responses((status = 204)),
    )]
    pub fn deprecated_create_pin() {}

    // `messages::unpin`
    #[utoipa::path(
        delete, path = "/channels/{channel_id}/pins/{message_id}",
        operation_id = "deprecated_delete_pin", tag = "Pins",
        summary = "Unpin a message (older route)",
        params(crate::openapi::AuditReason),
        responses((status = 204)),
    )]
    pub fn deprecated_delete_pin() {}
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(aliases::get_my_oauth2_application, aliases::deprecated_create_pin, aliases::deprecated_delete_pin))]
struct Aliases;

/// The document, as served.
pub fn document() -> OpenApi {
    let mut doc = crate::routes::Documented::openapi();
    doc.merge(Aliases::openapi());
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in operations(item) {
            complete(path, operation);
        }
    }
    let description = "The HTTP API of FussionCord: Discord's HTTP API v10, which bot libraries speak, plus the \
        user routes of the web client (accounts, guild creation, invites, applications). Every route is also \
        served under `/api` without the version.\n\n\
        Authenticate with the `Authorization` header: `Bot <token>` for a bot, the bare token for a person. \
        Errors are `{code, message, errors}`; a 429 carries `{message, retry_after, global}` and `Retry-After`.";
    doc.info = InfoBuilder::new()
        .title("FussionCord HTTP API")
        .version("10")
        .description(Some(description))
        .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build()))
        .build();
    doc.servers = Some(vec![ServerBuilder::new().url("/api/v10").build()]);
    doc.tags = Some(
        TAGS.iter().map(|(name, about)| TagBuilder::new().name(*name).description(Some(*about)).build()).collect(),
    );
    // Every schema, the ones only other schemas refer to included.
    doc.components = Some(components());
    doc
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// Adds to an annotated operation what every operation has.
fn complete(path: &str, o: &mut Operation) {
    let declared = o.parameters.take().unwrap_or_default();
    let mut parameters: Vec<Parameter> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .filter(|name| !declared.iter().any(|p| p.name == *name && p.parameter_in == ParameterIn::Path))
        .map(|name| {
            let (schema, about) = match name {
                "code" => (string(), "The invite code"),
                "emoji" => (string(), "A Unicode emoji, or a custom one as `name:id`, URL-encoded"),
                "user" => (string(), "`@me` or a user id"),
                _ => (snowflake(), "An id"),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(about))
                .schema(Some(schema))
                .build()
        })
        .collect();
    parameters.extend(declared);
    o.parameters = (!parameters.is_empty()).then_some(parameters);

    for (status, response) in o.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            if response.description.is_empty() {
                response.description = if status == "204" { "Done, no content" } else { "Success" }.to_owned();
            }
            response.headers.extend(rate_limit_headers());
        }
    }
    o.responses.responses.insert("429".to_owned(), Ref::from_response_name("RateLimited").into());
    o.responses.responses.insert("4XX".to_owned(), Ref::from_response_name("Error").into());

    // `security(())` in an annotation: no token needed.
    let public = o.security.as_ref().is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    o.security = if public { None } else { Some(vec![SecurityRequirement::new::<_, [&str; 0], &str>(TOKEN, [])]) };
}

const JSON: &str = "application/json";
const TOKEN: &str = "Token";

fn rate_limit_headers() -> Vec<(String, Header)> {
    [
        ("X-RateLimit-Limit", integer(), "Requests allowed in the bucket's window"),
        ("X-RateLimit-Remaining", integer(), "Requests left in the window"),
        ("X-RateLimit-Reset", number(), "When the window resets, in epoch seconds"),
        ("X-RateLimit-Reset-After", number(), "Seconds until the window resets"),
        ("X-RateLimit-Bucket", string(), "The bucket this route shares"),
    ]
    .into_iter()
    .map(|(name, schema, about)| {
        (name.to_owned(), HeaderBuilder::new().schema(schema).description(Some(about)).build())
    })
    .collect()
}

fn components() -> utoipa::openapi::Components {
    let error = ResponseBuilder::new()
        .description("The request failed: `code` says why, `errors` which fields")
        .content(JSON, ContentBuilder::new().schema(Some(refer("Error"))).build());
    let limited = rate_limit_headers()
        .into_iter()
        .fold(ResponseBuilder::new().description("Too many requests: wait `retry_after` seconds"), |r, (name, h)| {
            r.header(name, h)
        })
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
/// A locale → text map (`name_localizations`, `description_localizations`).
fn localizations() -> S {
    ObjectBuilder::new().schema_type(Type::Object).additional_properties(Some(string())).into()
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
                ("emojis", array(refer("Emoji"))),
                ("stickers", array(refer("Sticker"))),
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
            "Embed",
            object(
                [(
                    "type",
                    described("rich for sent embeds; link, article or image for the server's link previews", string()),
                )],
                [
                    ("title", string()),
                    ("description", string()),
                    ("url", string()),
                    ("timestamp", string()),
                    ("color", integer()),
                    ("footer", object([("text", string())], [("icon_url", string()), ("proxy_icon_url", string())])),
                    ("image", refer("EmbedMedia")),
                    ("thumbnail", refer("EmbedMedia")),
                    ("provider", object([], [("name", string()), ("url", string())])),
                    (
                        "author",
                        object(
                            [("name", string())],
                            [("url", string()), ("icon_url", string()), ("proxy_icon_url", string())],
                        ),
                    ),
                    ("fields", array(object([("name", string()), ("value", string()), ("inline", boolean())], []))),
                ],
            ),
        ),
        (
            "EmbedMedia",
            object([("url", string())], [("proxy_url", string()), ("width", integer()), ("height", integer())]),
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
                    ("embeds", array(refer("Embed"))),
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
                    (
                        "sticker_items",
                        array(object([("id", snowflake()), ("name", string()), ("format_type", integer())], [])),
                    ),
                    ("webhook_id", described("the webhook that posted it", snowflake())),
                ],
            ),
        ),
        (
            "Webhook",
            object(
                [
                    ("id", snowflake()),
                    ("type", described("1 incoming, 3 application", integer())),
                    ("guild_id", nullable(snowflake())),
                    ("channel_id", nullable(snowflake())),
                    ("name", nullable(string())),
                    ("avatar", nullable(string())),
                    ("application_id", nullable(snowflake())),
                ],
                [
                    ("user", described("who made it, to those who manage webhooks", refer("User"))),
                    ("token", described("the secret of its URL, to those who manage webhooks", string())),
                    ("url", string()),
                ],
            ),
        ),
        (
            "InteractionCreate",
            object(
                [
                    ("type", described("3 a component, 5 a modal's submission", integer())),
                    ("application_id", snowflake()),
                    ("channel_id", snowflake()),
                ],
                [
                    ("guild_id", snowflake()),
                    ("message_id", described("the component's message", snowflake())),
                    ("session_id", string()),
                    ("nonce", string()),
                    (
                        "data",
                        described("custom_id, component_type and values; or a modal's custom_id and components", any()),
                    ),
                ],
            ),
        ),
        (
            "CommandIndex",
            object([("applications", array(any())), ("application_commands", array(any())), ("version", string())], []),
        ),
        (
            "InteractionCallback",
            object(
                [("type", described("4, 5, 6, 7, 8 or 9", integer()))],
                [("data", described("a message, autocomplete choices or a modal", any()))],
            ),
        ),
        (
            "InteractionCallbackResponse",
            object(
                [
                    (
                        "interaction",
                        object(
                            [("id", snowflake()), ("type", integer())],
                            [
                                ("response_message_id", snowflake()),
                                ("response_message_loading", boolean()),
                                ("response_message_ephemeral", boolean()),
                            ],
                        ),
                    ),
                    ("resource", object([("type", integer())], [("message", refer("Message"))])),
                ],
                [],
            ),
        ),
        (
            "WebhookCreate",
            object(
                [("name", described("1 to 80 characters", string()))],
                [("avatar", nullable(described("a data:image/…;base64 URI", string())))],
            ),
        ),
        (
            "WebhookUpdate",
            object(
                [],
                [
                    ("name", string()),
                    ("avatar", nullable(described("a data:image/…;base64 URI; null removes it", string()))),
                    ("channel_id", described("with a user's token only: another channel of the guild", snowflake())),
                ],
            ),
        ),
        (
            "WebhookExecute",
            object(
                [],
                [
                    ("content", string()),
                    ("username", described("the name to post under, 1 to 80 characters", string())),
                    ("avatar_url", string()),
                    ("tts", boolean()),
                    ("flags", integer()),
                    ("allowed_mentions", refer("AllowedMentions")),
                    ("components", array(any())),
                    ("attachments", attachment_refs()),
                ],
            ),
        ),
        (
            "Emoji",
            object(
                [
                    ("id", snowflake()),
                    ("name", string()),
                    ("roles", array(snowflake())),
                    ("require_colons", boolean()),
                    ("managed", boolean()),
                    ("animated", boolean()),
                    ("available", boolean()),
                ],
                [("user", described("Who uploaded it, to those who manage expressions", refer("User")))],
            ),
        ),
        (
            "EmojiCreate",
            object(
                [
                    ("name", described("2 to 32 letters, digits and underscores", string())),
                    ("image", described("data:image/(png|jpeg|gif|webp);base64,… of at most 256 KiB", string())),
                ],
                [("roles", nullable(array(snowflake())))],
            ),
        ),
        ("EmojiUpdate", object([], [("name", string()), ("roles", nullable(array(snowflake())))])),
        (
            "Sticker",
            object(
                [
                    ("id", snowflake()),
                    ("name", string()),
                    ("description", nullable(string())),
                    ("tags", string()),
                    ("type", described("2: guild sticker", integer())),
                    ("format_type", described("1 PNG, 2 APNG, 3 Lottie, 4 GIF", integer())),
                    ("available", boolean()),
                    ("guild_id", snowflake()),
                ],
                [("user", described("Who uploaded it, to those who manage expressions", refer("User")))],
            ),
        ),
        (
            "StickerCreate",
            object(
                [
                    ("name", string()),
                    ("tags", string()),
                    ("file", described("PNG, APNG, GIF or Lottie JSON of at most 512 KiB", string())),
                ],
                [("description", nullable(string()))],
            ),
        ),
        ("StickerUpdate", object([], [("name", string()), ("description", nullable(string())), ("tags", string())])),
        (
            "Reaction",
            object(
                [
                    (
                        "emoji",
                        object(
                            [("id", nullable(snowflake())), ("name", nullable(string()))],
                            [("animated", boolean())],
                        ),
                    ),
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
        (
            "ApplicationUpdate",
            object(
                [],
                [
                    ("description", string()),
                    ("flags", integer()),
                    (
                        "interactions_endpoint_url",
                        nullable(described("verified with a signed PING before it is kept", string())),
                    ),
                ],
            ),
        ),
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
                    (
                        "channel_id",
                        described("voice channel to move the member to; null disconnects", nullable(snowflake())),
                    ),
                    ("communication_disabled_until", nullable(timestamp())),
                ],
            ),
        ),
        (
            "VoiceRegion",
            object(
                [
                    ("id", string()),
                    ("name", string()),
                    ("optimal", boolean()),
                    ("deprecated", boolean()),
                    ("custom", boolean()),
                ],
                [],
            ),
        ),
        (
            "VoiceState",
            object(
                [
                    ("channel_id", nullable(snowflake())),
                    ("user_id", snowflake()),
                    ("session_id", string()),
                    ("deaf", boolean()),
                    ("mute", boolean()),
                    ("self_deaf", boolean()),
                    ("self_mute", boolean()),
                    ("self_video", boolean()),
                    ("self_stream", boolean()),
                    ("suppress", boolean()),
                    ("request_to_speak_timestamp", nullable(timestamp())),
                ],
                [("guild_id", snowflake()), ("member", refer("Member"))],
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
        (
            "ApplicationCommand",
            object(
                [
                    ("id", snowflake()),
                    ("type", described("1 CHAT_INPUT (slash), 2 USER, 3 MESSAGE", integer())),
                    ("application_id", snowflake()),
                    ("name", string()),
                    ("description", described("empty for USER and MESSAGE commands", string())),
                    ("options", array(refer("ApplicationCommandOption"))),
                    ("default_member_permissions", nullable(permissions())),
                    ("contexts", nullable(array(integer()))),
                    ("integration_types", array(integer())),
                    ("nsfw", boolean()),
                    ("version", described("a snowflake, new whenever the command changes", snowflake())),
                ],
                [
                    ("guild_id", described("guild commands only", snowflake())),
                    (
                        "name_localizations",
                        described("left out of lists without `with_localizations`", nullable(localizations())),
                    ),
                    (
                        "description_localizations",
                        described("left out of lists without `with_localizations`", nullable(localizations())),
                    ),
                    ("dm_permission", described("global commands only", boolean())),
                ],
            ),
        ),
        (
            "ApplicationCommandOption",
            object(
                [
                    (
                        "type",
                        described(
                            "1 SUB_COMMAND, 2 SUB_COMMAND_GROUP, 3 STRING, 4 INTEGER, 5 BOOLEAN, 6 USER, 7 CHANNEL, \
                             8 ROLE, 9 MENTIONABLE, 10 NUMBER, 11 ATTACHMENT",
                            integer(),
                        ),
                    ),
                    ("name", string()),
                    ("description", string()),
                ],
                [
                    ("name_localizations", nullable(localizations())),
                    ("description_localizations", nullable(localizations())),
                    ("required", boolean()),
                    ("choices", array(refer("ApplicationCommandChoice"))),
                    ("options", array(refer("ApplicationCommandOption"))),
                    ("channel_types", array(integer())),
                    ("min_value", number()),
                    ("max_value", number()),
                    ("min_length", integer()),
                    ("max_length", integer()),
                    ("autocomplete", boolean()),
                ],
            ),
        ),
        (
            "ApplicationCommandChoice",
            object(
                [("name", string()), ("value", described("a string, integer or number, as the option's type", any()))],
                [("name_localizations", nullable(localizations()))],
            ),
        ),
        (
            "ApplicationCommandCreate",
            object(
                [("name", string())],
                [
                    ("id", described("bulk overwrite: the command this one replaces", nullable(snowflake()))),
                    ("type", nullable(integer())),
                    ("name_localizations", nullable(localizations())),
                    ("description", nullable(string())),
                    ("description_localizations", nullable(localizations())),
                    ("options", nullable(array(refer("ApplicationCommandOption")))),
                    ("default_member_permissions", nullable(permissions_in.clone())),
                    ("dm_permission", nullable(boolean())),
                    ("contexts", nullable(array(integer()))),
                    ("integration_types", nullable(array(integer()))),
                    ("nsfw", nullable(boolean())),
                ],
            ),
        ),
        (
            "ApplicationCommandUpdate",
            object(
                [],
                [
                    ("name", string()),
                    ("name_localizations", nullable(localizations())),
                    ("description", nullable(string())),
                    ("description_localizations", nullable(localizations())),
                    ("options", nullable(array(refer("ApplicationCommandOption")))),
                    ("default_member_permissions", nullable(permissions_in.clone())),
                    ("dm_permission", nullable(boolean())),
                    ("contexts", nullable(array(integer()))),
                    ("integration_types", nullable(array(integer()))),
                    ("nsfw", nullable(boolean())),
                ],
            ),
        ),
        (
            "CommandPermissions",
            object(
                [
                    ("id", described("the command's id, or the application's for all its commands", snowflake())),
                    ("application_id", snowflake()),
                    ("guild_id", snowflake()),
                    (
                        "permissions",
                        array(object([("id", snowflake()), ("type", integer()), ("permission", boolean())], [])),
                    ),
                ],
                [],
            ),
        ),
        ("BanCreate", object([], [("delete_message_seconds", integer()), ("delete_message_days", integer())])),
        ("BulkBan", object([("user_ids", array(snowflake()))], [("delete_message_seconds", integer())])),
        ("BulkDelete", object([("messages", array(snowflake()))], [])),
        (
            "AttachmentsCreate",
            object([("files", array(object([("filename", string())], [("file_size", integer()), ("id", any())])))], []),
        ),
        (
            "AttachmentsCreated",
            object(
                [(
                    "attachments",
                    array(object([("id", any()), ("upload_url", string()), ("upload_filename", string())], [])),
                )],
                [],
            ),
        ),
        ("RefreshUrls", object([("attachment_urls", array(string()))], [])),
        (
            "RefreshedUrls",
            object([("refreshed_urls", array(object([("original", string()), ("refreshed", string())], [])))], []),
        ),
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
                    (
                        "components",
                        described("action rows, or layout components with IS_COMPONENTS_V2 (bots)", array(any())),
                    ),
                    ("sticker_ids", array(snowflake())),
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
                    (
                        "attachments",
                        described(
                            "the files' `files[n]` parts by `id: n` (multipart/form-data bodies), or pre-uploads",
                            attachment_refs(),
                        ),
                    ),
                ],
            ),
        ),
        ("AllowedMentions", allowed_mentions),
        (
            "MessageUpdate",
            object(
                [],
                [
                    ("content", string()),
                    ("flags", integer()),
                    ("allowed_mentions", refer("AllowedMentions")),
                    ("components", described("every component the message keeps", array(any()))),
                    (
                        "attachments",
                        described("every attachment kept (by id) and added (by part index)", attachment_refs()),
                    ),
                ],
            ),
        ),
    ]
}

/// A message body's `attachments` entries.
fn attachment_refs() -> S {
    array(object(
        [],
        [
            ("id", any()),
            ("filename", string()),
            ("description", string()),
            ("uploaded_filename", string()),
            ("duration_secs", number()),
            ("waveform", string()),
        ],
    ))
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
