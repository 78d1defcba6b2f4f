//! Our HTTP responses against Discord's own description of its API: the
//! official OpenAPI document (discord-api-spec, OpenAPI 3.1, whose schemas are
//! JSON Schema 2020-12). Libraries are written against that document, so a
//! payload it rejects is one some library will choke on.
//!
//! One realistic scenario (two people, a guild with text, voice and category
//! channels, invites, messages with a reply, mentions, reactions and pins, a
//! DM, an application with a bot; then roles, permission overwrites, member
//! edits and a timeout, reordering, kicks, bans and the audit log, with three
//! more people to moderate) calls every route we mount. Each answer of
//! a route Discord documents is checked against that operation's success
//! response; errors against its error response. The spec is found through
//! `DISCORD_OPENAPI`, else in `../shared/discord-api-spec/openapi.json` next
//! to the workspace; without it the test fails rather than skips.
//! `TEST_STORE=sqlite|postgres` picks the backend, as for the other tests.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use jsonschema::{BasicOutput, Draft, Validator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use common::{mounted_routes, TestApp, TestUser};

/// Every route the server mounts (method, path as `routes/mod.rs` spells
/// it) and the Discord operations (`operationId`s) it implements. One route
/// may implement two operations where the spec splits `@me` from a user id.
/// An empty list marks a user-only route, which Discord's bot-API spec does
/// not describe.
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("POST", "/auth/register", &[]),
    ("POST", "/auth/login", &[]),
    ("POST", "/auth/logout", &[]),
    ("POST", "/auth/mfa/totp", &[]),
    ("GET", "/auth/sessions", &[]),
    ("POST", "/auth/sessions/logout", &[]),
    ("POST", "/users/@me/mfa/totp/enable", &[]),
    ("POST", "/users/@me/mfa/totp/disable", &[]),
    ("POST", "/users/@me/mfa/codes", &[]),
    ("GET", "/gateway", &["get_gateway"]),
    ("GET", "/gateway/bot", &["get_bot_gateway"]),
    ("GET", "/users/@me", &["get_my_user"]),
    ("PATCH", "/users/@me", &["update_my_user"]),
    ("GET", "/users/@me/settings", &[]),
    ("PATCH", "/users/@me/settings", &[]),
    ("GET", "/users/@me/guilds", &["list_my_guilds"]),
    ("DELETE", "/users/@me/guilds/{guild_id}", &["leave_guild"]),
    ("GET", "/users/@me/channels", &[]),
    ("POST", "/users/@me/channels", &["create_dm"]),
    ("GET", "/users/@me/relationships", &[]),
    ("POST", "/users/@me/relationships", &[]),
    ("PUT", "/users/@me/relationships/{user_id}", &[]),
    ("DELETE", "/users/@me/relationships/{user_id}", &[]),
    ("GET", "/users/{user_id}", &["get_user"]),
    ("POST", "/applications", &[]),
    ("GET", "/applications/@me", &["get_my_application"]),
    ("PATCH", "/applications/@me", &["update_my_application"]),
    ("PATCH", "/applications/{application_id}", &["update_application"]),
    ("POST", "/applications/{application_id}/bot/reset", &[]),
    ("GET", "/applications/{application_id}/commands", &["list_application_commands"]),
    ("POST", "/applications/{application_id}/commands", &["create_application_command"]),
    ("PUT", "/applications/{application_id}/commands", &["bulk_set_application_commands"]),
    ("GET", "/applications/{application_id}/commands/{command_id}", &["get_application_command"]),
    ("PATCH", "/applications/{application_id}/commands/{command_id}", &["update_application_command"]),
    ("DELETE", "/applications/{application_id}/commands/{command_id}", &["delete_application_command"]),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", &["list_guild_application_commands"]),
    ("POST", "/applications/{application_id}/guilds/{guild_id}/commands", &["create_guild_application_command"]),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", &["bulk_set_guild_application_commands"]),
    (
        "GET",
        "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
        &["list_guild_application_command_permissions"],
    ),
    (
        "GET",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
        &["get_guild_application_command"],
    ),
    (
        "PATCH",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
        &["update_guild_application_command"],
    ),
    (
        "DELETE",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}",
        &["delete_guild_application_command"],
    ),
    (
        "GET",
        "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions",
        &["get_guild_application_command_permissions"],
    ),
    ("GET", "/oauth2/applications/@me", &["get_my_oauth2_application"]),
    ("POST", "/oauth2/authorize", &[]),
    ("POST", "/guilds", &[]),
    ("GET", "/guilds/{guild_id}", &["get_guild"]),
    ("PATCH", "/guilds/{guild_id}", &["update_guild"]),
    // Bots cannot own guilds, so the bot spec has no guild deletion.
    ("DELETE", "/guilds/{guild_id}", &[]),
    ("GET", "/guilds/{guild_id}/channels", &["list_guild_channels"]),
    ("POST", "/guilds/{guild_id}/channels", &["create_guild_channel"]),
    ("PATCH", "/guilds/{guild_id}/channels", &["bulk_update_guild_channels"]),
    ("GET", "/guilds/{guild_id}/members", &["list_guild_members"]),
    ("GET", "/guilds/{guild_id}/members/search", &["search_guild_members"]),
    ("PATCH", "/guilds/{guild_id}/members/@me", &["update_my_guild_member"]),
    ("GET", "/guilds/{guild_id}/members/{user_id}", &["get_guild_member"]),
    ("PATCH", "/guilds/{guild_id}/members/{user_id}", &["update_guild_member"]),
    ("DELETE", "/guilds/{guild_id}/members/{user_id}", &["delete_guild_member"]),
    ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", &["add_guild_member_role"]),
    ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", &["delete_guild_member_role"]),
    ("GET", "/guilds/{guild_id}/roles", &["list_guild_roles"]),
    ("POST", "/guilds/{guild_id}/roles", &["create_guild_role"]),
    ("PATCH", "/guilds/{guild_id}/roles", &["bulk_update_guild_roles"]),
    ("GET", "/guilds/{guild_id}/roles/{role_id}", &["get_guild_role"]),
    ("PATCH", "/guilds/{guild_id}/roles/{role_id}", &["update_guild_role"]),
    ("DELETE", "/guilds/{guild_id}/roles/{role_id}", &["delete_guild_role"]),
    ("GET", "/guilds/{guild_id}/bans", &["list_guild_bans"]),
    ("GET", "/guilds/{guild_id}/bans/{user_id}", &["get_guild_ban"]),
    ("PUT", "/guilds/{guild_id}/bans/{user_id}", &["ban_user_from_guild"]),
    ("DELETE", "/guilds/{guild_id}/bans/{user_id}", &["unban_user_from_guild"]),
    ("POST", "/guilds/{guild_id}/bulk-ban", &["bulk_ban_users_from_guild"]),
    ("GET", "/guilds/{guild_id}/regions", &["list_guild_voice_regions"]),
    ("GET", "/guilds/{guild_id}/voice-states/{user_id}", &["get_voice_state", "get_self_voice_state"]),
    ("GET", "/voice/regions", &["list_voice_regions"]),
    ("GET", "/guilds/{guild_id}/audit-logs", &["list_guild_audit_log_entries"]),
    ("GET", "/guilds/{guild_id}/auto-moderation/rules", &["list_auto_moderation_rules"]),
    ("POST", "/guilds/{guild_id}/auto-moderation/rules", &["create_auto_moderation_rule"]),
    ("GET", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", &["get_auto_moderation_rule"]),
    ("PATCH", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", &["update_auto_moderation_rule"]),
    ("DELETE", "/guilds/{guild_id}/auto-moderation/rules/{rule_id}", &["delete_auto_moderation_rule"]),
    ("GET", "/guilds/{guild_id}/emojis", &["list_guild_emojis"]),
    ("POST", "/guilds/{guild_id}/emojis", &["create_guild_emoji"]),
    ("GET", "/guilds/{guild_id}/emojis/{emoji_id}", &["get_guild_emoji"]),
    ("PATCH", "/guilds/{guild_id}/emojis/{emoji_id}", &["update_guild_emoji"]),
    ("DELETE", "/guilds/{guild_id}/emojis/{emoji_id}", &["delete_guild_emoji"]),
    ("GET", "/guilds/{guild_id}/stickers", &["list_guild_stickers"]),
    ("POST", "/guilds/{guild_id}/stickers", &["create_guild_sticker"]),
    ("GET", "/guilds/{guild_id}/stickers/{sticker_id}", &["get_guild_sticker"]),
    ("PATCH", "/guilds/{guild_id}/stickers/{sticker_id}", &["update_guild_sticker"]),
    ("DELETE", "/guilds/{guild_id}/stickers/{sticker_id}", &["delete_guild_sticker"]),
    ("GET", "/stickers/{sticker_id}", &["get_sticker"]),
    ("GET", "/guilds/{guild_id}/messages/search", &["guild_search"]),
    ("GET", "/guilds/{guild_id}/invites", &["list_guild_invites"]),
    ("GET", "/channels/{channel_id}", &["get_channel"]),
    ("PATCH", "/channels/{channel_id}", &["update_channel"]),
    ("DELETE", "/channels/{channel_id}", &["delete_channel"]),
    ("POST", "/channels/{channel_id}/typing", &["trigger_typing_indicator"]),
    ("PUT", "/channels/{channel_id}/permissions/{overwrite_id}", &["set_channel_permission_overwrite"]),
    ("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}", &["delete_channel_permission_overwrite"]),
    ("GET", "/channels/{channel_id}/invites", &["list_channel_invites"]),
    ("POST", "/channels/{channel_id}/invites", &["create_channel_invite"]),
    ("GET", "/invites/{code}", &["invite_resolve"]),
    ("POST", "/invites/{code}", &[]),
    ("DELETE", "/invites/{code}", &["invite_revoke"]),
    ("GET", "/channels/{channel_id}/webhooks", &["list_channel_webhooks"]),
    ("POST", "/channels/{channel_id}/webhooks", &["create_webhook"]),
    ("GET", "/guilds/{guild_id}/webhooks", &["get_guild_webhooks"]),
    ("GET", "/webhooks/{webhook_id}", &["get_webhook"]),
    ("PATCH", "/webhooks/{webhook_id}", &["update_webhook"]),
    ("DELETE", "/webhooks/{webhook_id}", &["delete_webhook"]),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}", &["get_webhook_by_token"]),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}", &["update_webhook_by_token"]),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}", &["delete_webhook_by_token"]),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}", &["execute_webhook"]),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}/github", &["execute_github_compatible_webhook"]),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}/slack", &["execute_slack_compatible_webhook"]),
    // `@original` (an interaction's first answer) is one of the message ids.
    (
        "GET",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        &["get_webhook_message", "get_original_webhook_message"],
    ),
    (
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        &["update_webhook_message", "update_original_webhook_message"],
    ),
    (
        "DELETE",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        &["delete_webhook_message", "delete_original_webhook_message"],
    ),
    // A person's client uses commands and components; the application answers.
    ("POST", "/interactions", &[]),
    ("GET", "/channels/{channel_id}/application-command-index", &[]),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", &["create_interaction_response"]),
    ("GET", "/channels/{channel_id}/messages", &["list_messages"]),
    ("POST", "/channels/{channel_id}/messages", &["create_message"]),
    // Pre-uploads and URL refreshes: Discord's, but not in its bot-API spec.
    ("POST", "/channels/{channel_id}/attachments", &[]),
    ("POST", "/attachments/refresh-urls", &[]),
    ("POST", "/channels/{channel_id}/messages/bulk-delete", &["bulk_delete_messages"]),
    ("GET", "/channels/{channel_id}/messages/pins", &["list_pins"]),
    // Discord's bot API has guild search only; people search a DM here.
    ("GET", "/channels/{channel_id}/messages/search", &[]),
    ("PUT", "/channels/{channel_id}/messages/pins/{message_id}", &["create_pin"]),
    ("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", &["delete_pin"]),
    ("GET", "/channels/{channel_id}/messages/{message_id}", &["get_message"]),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", &["update_message"]),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", &["delete_message"]),
    ("POST", "/channels/{channel_id}/messages/{message_id}/ack", &[]),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions", &["delete_all_message_reactions"]),
    ("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", &["list_message_reactions_by_emoji"]),
    (
        "DELETE",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}",
        &["delete_all_message_reactions_by_emoji"],
    ),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}", &["add_my_message_reaction"]),
    (
        "DELETE",
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user}",
        &["delete_my_message_reaction", "delete_user_message_reaction"],
    ),
    ("GET", "/channels/{channel_id}/pins", &["deprecated_list_pins"]),
    ("PUT", "/channels/{channel_id}/pins/{message_id}", &["deprecated_create_pin"]),
    ("DELETE", "/channels/{channel_id}/pins/{message_id}", &["deprecated_delete_pin"]),
];

/// How many of the operations above answer with a JSON body (checked
/// against a schema) and how many with an empty 204 (checked to be a status
/// the spec documents). The scenario must reach every one of them.
const EXPECTED_JSON_OPERATIONS: usize = 88;
const EXPECTED_EMPTY_OPERATIONS: usize = 32;

/// The one place where our payloads knowingly depart from the spec:
/// (schema path, property, why). The path is a component schema, optionally
/// followed by a path inside it (`InnerErrors/properties/_errors/items`); a
/// `$ref` found there is inlined first so the change stays local. The
/// property then becomes optional and unconstrained at that place only. The
/// test names each entry when a payload needs it, and fails on an entry no
/// payload needs, so the list cannot go stale.
const ALLOWED_DEVIATIONS: &[(&str, &str, &str)] = &[(
    "InnerErrors/properties/_errors/items",
    "code",
    "Discord's field errors carry string codes (`{\"_errors\": [{\"code\": \"BASE_TYPE_REQUIRED\", ...}]}`, \
     as in the example of Discord's error documentation and in every library's error parsing); the spec reuses \
     the top-level `Error` object, whose code is an integer",
)];

fn spec_location() -> PathBuf {
    match std::env::var_os("DISCORD_OPENAPI") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/discord-api-spec/openapi.json"),
    }
}

fn load_spec() -> Value {
    let path = spec_location();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "Discord's OpenAPI document is required at {} (set DISCORD_OPENAPI to use another copy): {e}",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

struct Operation {
    method: String,
    path: String,
    responses: Value,
}

fn operations(spec: &Value) -> BTreeMap<String, Operation> {
    let mut out = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("spec has paths") {
        for (method, op) in item.as_object().expect("path item is an object") {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                out.insert(
                    id.to_owned(),
                    Operation { method: method.to_uppercase(), path: path.clone(), responses: op["responses"].clone() },
                );
            }
        }
    }
    out
}

/// Whether our route template serves the spec's: parameters may be named
/// differently, and a parameter of ours may stand where the spec has a
/// literal `@me` (we serve `@me` and ids on one route).
fn template_matches(ours: &str, spec: &str) -> bool {
    let param = |s: &str| s.starts_with('{') && s.ends_with('}');
    let (a, b): (Vec<_>, Vec<_>) = (ours.split('/').collect(), spec.split('/').collect());
    // `@me` is a user id, `@original` an interaction's first answer's id.
    let named = |y: &str| y == "@me" || y == "@original";
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || (param(x) && (param(y) || named(y))))
}

/// The spec's components with the allow-list applied, all of it or all but
/// entry `except`.
fn relaxed_components(spec: &Value, except: Option<usize>) -> Value {
    let mut components = spec["components"].clone();
    for (i, (path, field, _)) in ALLOWED_DEVIATIONS.iter().enumerate() {
        if Some(i) == except {
            continue;
        }
        let pointer = format!("/schemas/{path}");
        let node = components.pointer(&pointer).unwrap_or_else(|| panic!("allow-list names unknown schema {path}"));
        let inlined = match node.get("$ref").and_then(Value::as_str) {
            Some(r) => spec.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling $ref {r}")).clone(),
            None => node.clone(),
        };
        let node = components.pointer_mut(&pointer).expect("found above");
        *node = inlined;
        let property = node
            .get_mut("properties")
            .and_then(|p| p.get_mut(*field))
            .unwrap_or_else(|| panic!("allow-list names unknown property {path}: {field}"));
        *property = Value::Bool(true);
        if let Some(required) = node.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r != field);
        }
    }
    components
}

struct Compiled {
    /// With the allow-list applied: what passes or fails.
    relaxed: Validator,
    /// One per allow-list entry, lacking it: a body it rejects needs it.
    leave_one_out: Vec<Validator>,
}

/// Validates responses and remembers what it covered; collects every
/// mismatch so one run reports them all.
struct Checker {
    spec: Value,
    ops: BTreeMap<String, Operation>,
    /// The spec's components with the allow-list applied.
    components: Value,
    /// The same, once per allow-list entry, with every entry but that one.
    leave_one_out: Vec<Value>,
    validators: HashMap<String, Compiled>,
    json_ops: BTreeSet<String>,
    empty_ops: BTreeSet<String>,
    errors_checked: usize,
    shapes_checked: usize,
    allowances_used: BTreeSet<usize>,
    failures: Vec<String>,
}

impl Checker {
    fn new(spec: Value) -> Self {
        let ops = operations(&spec);
        let components = relaxed_components(&spec, None);
        let leave_one_out = (0..ALLOWED_DEVIATIONS.len()).map(|i| relaxed_components(&spec, Some(i))).collect();
        Self {
            spec,
            ops,
            components,
            leave_one_out,
            validators: HashMap::new(),
            json_ops: BTreeSet::new(),
            empty_ops: BTreeSet::new(),
            errors_checked: 0,
            shapes_checked: 0,
            allowances_used: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    fn op(&self, id: &str) -> &Operation {
        self.ops.get(id).unwrap_or_else(|| panic!("the spec has no operation {id}"))
    }

    /// Follows a `$ref` to `#/components/responses/...`.
    fn resolve<'a>(&'a self, response: &'a Value) -> &'a Value {
        match response.get("$ref").and_then(Value::as_str) {
            Some(r) => self.spec.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling $ref {r}")),
            None => response,
        }
    }

    fn response(&self, op: &str, status: StatusCode) -> Option<&Value> {
        let responses = &self.op(op).responses;
        let range = format!("{}XX", status.as_u16() / 100);
        responses.get(status.as_str()).or_else(|| responses.get(&range)).map(|r| self.resolve(r))
    }

    /// A success of `op`: its status must be one Discord documents for the
    /// operation, and a body must match that response's schema.
    fn ok(&mut self, op: &str, (status, body): (StatusCode, Value)) -> Value {
        assert!(status.is_success(), "{op} failed: {status} {body}");
        let response = self
            .op(op)
            .responses
            .get(status.as_str())
            .map(|r| self.resolve(r).clone())
            .unwrap_or_else(|| panic!("{op} answered {status}, a status Discord does not document for it: {body}"));
        match response.pointer("/content/application~1json/schema") {
            None => {
                assert!(body.is_null(), "{op} {status}: Discord sends no body, we sent {body}");
                self.empty_ops.insert(op.to_owned());
            }
            Some(schema) => {
                assert!(!body.is_null(), "{op} {status}: Discord sends a body, we sent none");
                self.validate(&format!("{op} {status}"), schema, &body);
                self.json_ops.insert(op.to_owned());
            }
        }
        body
    }

    /// An error from `op`: the expected status and code, and a body matching
    /// both the error response the operation documents and `ErrorResponse`.
    #[track_caller]
    fn err(&mut self, op: &str, result: (StatusCode, Value), status: u16, code: u64) -> Value {
        common::assert_error(&result, status, code);
        let (status, body) = result;
        let schema = self
            .response(op, status)
            .and_then(|r| r.pointer("/content/application~1json/schema"))
            .unwrap_or_else(|| panic!("{op} documents no JSON body for {status}"))
            .clone();
        self.validate(&format!("{op} {status} (error)"), &schema, &body);
        self.validate(
            &format!("{op} {status} as ErrorResponse"),
            &json!({"$ref": "#/components/schemas/ErrorResponse"}),
            &body,
        );
        self.errors_checked += 1;
        body
    }

    /// A user-only route's answer against the Discord object it returns.
    fn shape(&mut self, what: &str, schema: &str, body: &Value) {
        self.validate(
            &format!("{what} as {schema}"),
            &json!({ "$ref": format!("#/components/schemas/{schema}") }),
            body,
        );
        self.shapes_checked += 1;
    }

    fn compile(components: &Value, schema: &Value) -> Validator {
        // The schema becomes the root of a document that also carries the
        // spec's components, so `#/components/schemas/...` resolves in it.
        let mut root = schema.as_object().expect("response schemas are objects").clone();
        root.insert("components".into(), components.clone());
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            // Check the formats JSON Schema defines (date-time, uri); the
            // spec's own (snowflake, int32, ...) are annotations.
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
    }

    fn validate(&mut self, label: &str, schema: &Value, body: &Value) {
        let key = schema.to_string();
        if !self.validators.contains_key(&key) {
            let relaxed = Self::compile(&self.components, schema);
            let leave_one_out = self.leave_one_out.iter().map(|c| Self::compile(c, schema)).collect();
            self.validators.insert(key.clone(), Compiled { relaxed, leave_one_out });
        }
        let compiled = &self.validators[&key];
        if !compiled.relaxed.is_valid(body) {
            self.failures.push(describe(label, &compiled.relaxed, body));
            return;
        }
        for (i, without) in compiled.leave_one_out.iter().enumerate() {
            if !without.is_valid(body) && self.allowances_used.insert(i) {
                let (path, field, reason) = ALLOWED_DEVIATIONS[i];
                eprintln!("allow-listed: {label} needs {path}: {field} ({reason})");
            }
        }
    }

    fn finish(self) {
        let stale: Vec<_> = ALLOWED_DEVIATIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.allowances_used.contains(i))
            .map(|(_, (path, field, _))| format!("{path}: {field}"))
            .collect();
        let mut failures = self.failures;
        if !stale.is_empty() {
            failures.push(format!("allow-list entries no payload needs any more: {stale:?}"));
        }
        assert!(
            failures.is_empty(),
            "{} response(s) do not match Discord's spec:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );

        // Every Discord operation we implement was reached, so none can drop
        // out of the scenario (or the router) unnoticed.
        let implemented: BTreeSet<String> = ROUTES.iter().flat_map(|r| r.2.iter().map(|s| s.to_string())).collect();
        let reached: BTreeSet<String> = self.json_ops.union(&self.empty_ops).cloned().collect();
        let missed: Vec<_> = implemented.difference(&reached).collect();
        assert!(missed.is_empty(), "operations the scenario never checked: {missed:?}");
        let both: Vec<_> = self.json_ops.intersection(&self.empty_ops).collect();
        assert!(both.is_empty(), "operations answered both with and without a body: {both:?}");
        assert_eq!(
            self.json_ops.len(),
            EXPECTED_JSON_OPERATIONS,
            "operations validated against a schema: {:?}",
            self.json_ops
        );
        assert_eq!(self.empty_ops.len(), EXPECTED_EMPTY_OPERATIONS, "operations answered 204: {:?}", self.empty_ops);
        eprintln!(
            "validated {} operations against their schemas, {} empty answers, {} error bodies, {} user-only bodies",
            self.json_ops.len(),
            self.empty_ops.len(),
            self.errors_checked,
            self.shapes_checked
        );
    }
}

/// A readable account of why `body` fails: the validator's errors, then the
/// leaf errors with the keyword path (through `$ref`s) each comes from; for a
/// `oneOf` every branch's, so the branch meant can be read off.
fn describe(label: &str, validator: &Validator, body: &Value) -> String {
    let clip = |s: String| if s.len() > 300 { format!("{}…", &s[..s.floor_char_boundary(300)]) } else { s };
    let mut lines = vec![format!("{label}: does not match")];
    for e in validator.iter_errors(body) {
        lines.push(clip(format!("  at '{}': {e}", e.instance_path)));
    }
    if let BasicOutput::Invalid(units) = validator.apply(body).basic() {
        lines.push("  leaf errors:".into());
        for u in units.iter().take(40) {
            lines.push(clip(format!(
                "    at '{}': {} [schema {}]",
                u.instance_location(),
                u.error_description(),
                u.keyword_location()
            )));
        }
    }
    lines.push(clip(format!("  body: {body}")));
    lines.join("\n")
}

/// `POST /guilds/{id}/stickers` as Discord takes it: a multipart form with
/// a 1×1 PNG as its file.
async fn sticker_form(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    use base64::Engine;
    let pixel = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        .unwrap();
    let b = "schema-boundary";
    let mut body = Vec::new();
    for (name, value) in [("name", "wave"), ("tags", "hello"), ("description", "Waving")] {
        body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes());
    }
    body.extend(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.png\"\r\nContent-Type: image/png\r\n\r\n")
            .bytes(),
    );
    body.extend(pixel);
    body.extend(format!("\r\n--{b}--\r\n").bytes());
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .header("Authorization", token)
        .header("Content-Type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Percent-encodes a path segment (emoji in reaction routes).
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

#[test]
fn every_route_is_classified_and_the_spec_lists_the_bot_routes() {
    let spec = load_spec();
    let ops = operations(&spec);

    let table: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(table.len(), ROUTES.len(), "ROUTES lists a route twice");
    let mounted = mounted_routes();
    let unlisted: Vec<_> = mounted.difference(&table).collect();
    let gone: Vec<_> = table.difference(&mounted).collect();
    assert!(unlisted.is_empty(), "routes mounted but not in ROUTES (classify them): {unlisted:?}");
    assert!(gone.is_empty(), "routes in ROUTES the server no longer mounts: {gone:?}");

    for (method, ours, implements) in ROUTES {
        for op_id in *implements {
            let op = ops.get(*op_id).unwrap_or_else(|| panic!("{method} {ours}: the spec has no operation {op_id}"));
            assert_eq!(&op.method, method, "{op_id} is {} {} in the spec", op.method, op.path);
            assert!(template_matches(ours, &op.path), "{method} {ours} does not serve {op_id} at {}", op.path);
        }
        if implements.is_empty() {
            // User-only: if Discord ever documents it, it must be checked.
            let listed: Vec<_> =
                ops.iter().filter(|(_, o)| &o.method == method && template_matches(ours, &o.path)).collect();
            assert!(listed.is_empty(), "{method} {ours} is in the spec as {:?}: list it in ROUTES", listed[0].0);
        }
    }
    let user_only: BTreeSet<_> = ROUTES.iter().filter(|r| r.2.is_empty()).map(|r| (r.0, r.1)).collect();
    assert_eq!(
        user_only,
        BTreeSet::from([
            ("POST", "/auth/register"),
            ("POST", "/auth/login"),
            ("POST", "/auth/logout"),
            ("POST", "/auth/mfa/totp"),
            ("GET", "/auth/sessions"),
            ("POST", "/auth/sessions/logout"),
            ("POST", "/users/@me/mfa/totp/enable"),
            ("POST", "/users/@me/mfa/totp/disable"),
            ("POST", "/users/@me/mfa/codes"),
            ("GET", "/users/@me/settings"),
            ("PATCH", "/users/@me/settings"),
            ("GET", "/users/@me/channels"),
            ("GET", "/users/@me/relationships"),
            ("POST", "/users/@me/relationships"),
            ("PUT", "/users/@me/relationships/{user_id}"),
            ("DELETE", "/users/@me/relationships/{user_id}"),
            ("POST", "/channels/{channel_id}/messages/{message_id}/ack"),
            ("POST", "/channels/{channel_id}/attachments"),
            ("POST", "/attachments/refresh-urls"),
            ("GET", "/channels/{channel_id}/messages/search"),
            ("POST", "/applications"),
            ("POST", "/applications/{application_id}/bot/reset"),
            ("POST", "/oauth2/authorize"),
            ("POST", "/guilds"),
            ("DELETE", "/guilds/{guild_id}"),
            ("POST", "/invites/{code}"),
            ("POST", "/interactions"),
            ("GET", "/channels/{channel_id}/application-command-index"),
        ]),
        "the user-only routes"
    );
}

/// The checker itself: a payload Discord would not send must fail, so a
/// `$ref` that resolved to nothing or formats left unchecked cannot make the
/// scenario pass vacuously.
#[test]
fn the_checker_rejects_what_discord_would_not_send() {
    let mut c = Checker::new(load_spec());
    let message = json!({
        "id": "1573799180252479488", "channel_id": "1573799180252479489", "type": 0, "flags": 0,
        "author": {
            "id": "1573799180252479490", "username": "alice", "discriminator": "0", "global_name": null,
            "avatar": null, "public_flags": 0, "flags": 0, "primary_guild": null
        },
        "content": "hi", "timestamp": "2026-04-01T12:00:00.123000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "components": [], "pinned": false
    });
    c.shape("a well-formed message", "MessageResponse", &message);
    let field_error = json!({"code": 50035, "message": "Invalid Form Body",
        "errors": {"content": {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}});
    c.shape("a field error", "ErrorResponse", &field_error);
    assert!(c.failures.is_empty(), "{}", c.failures.join("\n\n"));

    let broken = |pointer: &str, value: Option<Value>| {
        let mut m = message.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let object = m.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => object.insert(key.to_owned(), v),
            None => object.remove(key),
        };
        m
    };
    let cases = [
        ("a message without author", broken("/author", None)),
        ("a numeric snowflake", broken("/id", Some(json!(1573799180252479488u64)))),
        ("a timestamp that is no date-time", broken("/timestamp", Some(json!("yesterday")))),
        ("an unknown message type", broken("/type", Some(json!(999)))),
        ("an author without primary_guild", broken("/author/primary_guild", None)),
        ("a top-level error code as a string", json!({"code": "50035", "message": "Invalid Form Body"})),
    ];
    for (what, body) in cases {
        let before = c.failures.len();
        let schema = if what.contains("error") { "ErrorResponse" } else { "MessageResponse" };
        c.shape(what, schema, &body);
        assert_eq!(c.failures.len(), before + 1, "the checker accepted {what}: {body}");
    }
}

#[tokio::test]
async fn responses_match_discords_openapi_spec() {
    let mut c = Checker::new(load_spec());
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    // --- users
    c.ok("get_my_user", app.get("/users/@me", &alice.token).await);
    c.ok(
        "update_my_user",
        app.patch("/users/@me", &alice.token, json!({"global_name": "Alice", "locale": "en-GB"})).await,
    );
    c.ok("get_user", app.get(&format!("/users/{}", bob.id), &alice.token).await);
    // With an avatar (a 1×1 PNG), the user object carries its hash.
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let with_avatar = c.ok("update_my_user", app.patch("/users/@me", &alice.token, json!({"avatar": png})).await);
    assert!(with_avatar["avatar"].is_string(), "{with_avatar}");
    c.err(
        "update_my_user",
        app.patch("/users/@me", &alice.token, json!({"avatar": "data:image/png;base64,AAAA"})).await,
        400,
        50035,
    );
    c.err("get_my_user", app.get("/users/@me", "not-a-token").await, 401, 40001);
    c.err("get_user", app.get("/users/1", &alice.token).await, 404, 10013);

    // --- a guild with a category, a voice channel and a text channel in it
    let (guild, general) = app.guild(&alice, "Schema Club").await;
    c.shape("POST /guilds", "GuildResponse", &guild);
    let gid = id(&guild);
    c.ok("get_guild", app.get(&format!("/guilds/{gid}?with_counts=true"), &alice.token).await);
    c.ok("get_guild", app.get(&format!("/guilds/{gid}"), &alice.token).await);
    let guild_patch = json!({"description": "Testing payloads", "afk_timeout": 900, "preferred_locale": "fr"});
    c.ok("update_guild", app.patch(&format!("/guilds/{gid}"), &alice.token, guild_patch).await);

    let channels = format!("/guilds/{gid}/channels");
    let category =
        c.ok("create_guild_channel", app.post(&channels, &alice.token, json!({"name": "Rooms", "type": 4})).await);
    let category = id(&category);
    let voice_body = json!({"name": "Lounge", "type": 2, "parent_id": category, "bitrate": 32000, "user_limit": 5});
    let voice = id(&c.ok("create_guild_channel", app.post(&channels, &alice.token, voice_body).await));
    let text_body = json!({"name": "chat", "type": 0, "parent_id": category, "topic": "Anything", "nsfw": false});
    let chat = id(&c.ok("create_guild_channel", app.post(&channels, &alice.token, text_body).await));
    c.ok("list_guild_channels", app.get(&channels, &alice.token).await);
    for channel in [&general, &category, &voice, &chat] {
        c.ok("get_channel", app.get(&format!("/channels/{channel}"), &alice.token).await);
    }
    let chat_patch = json!({"name": "chatter", "topic": "Everything", "rate_limit_per_user": 0});
    c.ok("update_channel", app.patch(&format!("/channels/{chat}"), &alice.token, chat_patch).await);
    c.ok("update_channel", app.patch(&format!("/channels/{voice}"), &alice.token, json!({"user_limit": 10})).await);
    c.err("get_channel", app.get("/channels/1", &alice.token).await, 404, 10003);
    // A path id that is not a snowflake: Invalid Form Body naming the parameter.
    let bad_id = c.err("get_channel", app.get("/channels/abc", &alice.token).await, 400, 50035);
    assert!(bad_id["errors"]["channel_id"]["_errors"].is_array(), "{bad_id}");
    // Several bad fields at once, one of them nested.
    let bad_channel = json!({"name": "", "type": 2, "bitrate": 1, "parent_id": voice});
    let bad = c.err("create_guild_channel", app.post(&channels, &alice.token, bad_channel).await, 400, 50035);
    assert!(bad["errors"]["bitrate"]["_errors"].is_array(), "{bad}");

    // --- invites, and Bob joining
    let invites = format!("/channels/{general}/invites");
    let invite =
        c.ok("create_channel_invite", app.post(&invites, &alice.token, json!({"max_age": 3600, "max_uses": 5})).await);
    let code = invite["code"].as_str().unwrap().to_owned();
    c.ok("invite_resolve", app.call(Method::GET, &format!("/invites/{code}?with_counts=true"), None, None).await);
    c.ok("invite_resolve", app.call(Method::GET, &format!("/invites/{code}"), None, None).await);
    let (status, joined) = app.post(&format!("/invites/{code}"), &bob.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    c.shape("POST /invites/{code}", "GuildInviteResponse", &joined);
    c.err("invite_resolve", app.call(Method::GET, "/invites/nope", None, None).await, 404, 10006);
    let spare =
        c.ok("create_channel_invite", app.post(&invites, &alice.token, json!({"max_age": 0, "unique": true})).await);
    c.ok("list_channel_invites", app.get(&invites, &alice.token).await);
    c.ok("list_guild_invites", app.get(&format!("/guilds/{gid}/invites"), &alice.token).await);
    c.ok("invite_revoke", app.delete(&format!("/invites/{}", spare["code"].as_str().unwrap()), &alice.token).await);
    c.err("list_guild_invites", app.get(&format!("/guilds/{gid}/invites"), &bob.token).await, 403, 50013);

    // --- webhooks: managed by Alice, executed with their token
    let hooks = format!("/channels/{general}/webhooks");
    let hook = c.ok("create_webhook", app.post(&hooks, &alice.token, json!({"name": "Feed"})).await);
    let hook_id = id(&hook);
    let with_token = format!("/webhooks/{hook_id}/{}", hook["token"].as_str().unwrap());
    c.ok("list_channel_webhooks", app.get(&hooks, &alice.token).await);
    c.ok("get_guild_webhooks", app.get(&format!("/guilds/{gid}/webhooks"), &alice.token).await);
    c.ok("get_webhook", app.get(&format!("/webhooks/{hook_id}"), &alice.token).await);
    c.ok("update_webhook", app.patch(&format!("/webhooks/{hook_id}"), &alice.token, json!({"name": "Feeds"})).await);
    c.err("get_webhook", app.get(&format!("/webhooks/{hook_id}"), &bob.token).await, 403, 50013);
    c.ok("get_webhook_by_token", app.call(Method::GET, &with_token, None, None).await);
    c.ok("update_webhook_by_token", app.call(Method::PATCH, &with_token, None, Some(json!({"name": "Feed"}))).await);
    let posted = c.ok(
        "execute_webhook",
        app.call(Method::POST, &format!("{with_token}?wait=true"), None, Some(json!({"content": "from a hook"}))).await,
    );
    let (status, _) = app.call(Method::POST, &with_token, None, Some(json!({"content": "no wait"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    c.err("execute_webhook", app.call(Method::POST, &with_token, None, Some(json!({"content": ""}))).await, 400, 50006);
    let hook_message = format!("{with_token}/messages/{}", id(&posted));
    c.ok("get_webhook_message", app.call(Method::GET, &hook_message, None, None).await);
    c.ok(
        "update_webhook_message",
        app.call(Method::PATCH, &hook_message, None, Some(json!({"content": "edited"}))).await,
    );
    c.ok("delete_webhook_message", app.call(Method::DELETE, &hook_message, None, None).await);
    c.err("get_webhook_message", app.call(Method::GET, &hook_message, None, None).await, 404, 10008);
    c.ok(
        "execute_slack_compatible_webhook",
        app.call(Method::POST, &format!("{with_token}/slack"), None, Some(json!({"text": "from slack"}))).await,
    );
    c.ok(
        "execute_github_compatible_webhook",
        app.call(Method::POST, &format!("{with_token}/github"), None, Some(json!({"zen": "ping"}))).await,
    );
    c.ok("delete_webhook_by_token", app.call(Method::DELETE, &with_token, None, None).await);
    c.err("get_webhook_by_token", app.call(Method::GET, &with_token, None, None).await, 404, 10015);
    let spare_hook = c.ok("create_webhook", app.post(&hooks, &alice.token, json!({"name": "Spare"})).await);
    c.ok("delete_webhook", app.delete(&format!("/webhooks/{}", id(&spare_hook)), &alice.token).await);

    c.ok("list_guild_members", app.get(&format!("/guilds/{gid}/members?limit=10"), &alice.token).await);
    c.ok("get_guild_member", app.get(&format!("/guilds/{gid}/members/{}", bob.id), &alice.token).await);
    c.err("get_guild_member", app.get(&format!("/guilds/{gid}/members/1"), &alice.token).await, 404, 10007);
    c.ok("list_voice_regions", app.get("/voice/regions", &bob.token).await);
    c.ok("list_guild_voice_regions", app.get(&format!("/guilds/{gid}/regions"), &bob.token).await);
    let self_voice = format!("/guilds/{gid}/voice-states/@me");
    c.err("get_self_voice_state", app.get(&self_voice, &bob.token).await, 404, 10065);
    {
        let (_, channels) = app.get(&format!("/guilds/{gid}/channels"), &alice.token).await;
        let voice = channels.as_array().unwrap().iter().find(|c| c["type"] == 2).unwrap()["id"].clone();
        let mut gw = app.gateway("").await;
        gw.identify(&bob.token, common::ws::ALL_INTENTS).await;
        gw.send(json!({"op": 4, "d": {"guild_id": gid, "channel_id": voice, "self_mute": false, "self_deaf": false}}))
            .await;
        gw.dispatch("VOICE_SERVER_UPDATE").await;
        c.ok("get_self_voice_state", app.get(&self_voice, &bob.token).await);
        c.ok("get_voice_state", app.get(&format!("/guilds/{gid}/voice-states/{}", bob.id), &alice.token).await);
    }
    c.ok("list_my_guilds", app.get("/users/@me/guilds?with_counts=true", &bob.token).await);
    c.ok("list_my_guilds", app.get("/users/@me/guilds", &alice.token).await);

    // --- messages: a mention, a reply that mentions back, an edit
    let messages = format!("/channels/{chat}/messages");
    let hello = json!({"content": format!("hello <@{}>", bob.id), "nonce": "n-1", "tts": false});
    let first = id(&c.ok("create_message", app.post(&messages, &alice.token, hello).await));
    let reply_body = json!({"content": format!("hi <@{}>", alice.id), "message_reference": {"message_id": first}});
    let reply = c.ok("create_message", app.post(&messages, &bob.token, reply_body).await);
    assert_eq!(reply["type"], 19, "{reply}");
    assert!(reply["referenced_message"].is_object(), "{reply}");
    let reply = id(&reply);
    c.ok("create_message", app.post(&messages, &bob.token, json!({"content": "numbered", "nonce": 1234567})).await);
    // A rich embed with every field a bot sends, checked against Discord's
    // MessageEmbedResponse.
    let embed = json!({"embeds": [{
        "title": "t", "description": "d", "url": "https://example.com", "timestamp": "2024-01-02T03:04:05Z",
        "color": 255, "footer": {"text": "f", "icon_url": "https://example.com/f.png"},
        "image": {"url": "https://example.com/i.png"}, "thumbnail": {"url": "https://example.com/t.png"},
        "author": {"name": "a", "url": "https://example.com/a", "icon_url": "https://example.com/a.png"},
        "fields": [{"name": "n", "value": "v", "inline": true}],
    }]});
    let embedded = c.ok("create_message", app.post(&messages, &bob.token, embed).await);
    assert_eq!(embedded["embeds"][0]["fields"][0]["inline"], true, "{embedded}");
    let embedded = format!("{messages}/{}", id(&embedded));
    c.ok("get_message", app.get(&embedded, &alice.token).await);
    // Gone again: the history and search counts below are of the others.
    assert_eq!(app.delete(&embedded, &bob.token).await.0, StatusCode::NO_CONTENT);
    c.ok("get_message", app.get(&format!("{messages}/{reply}"), &alice.token).await);
    let edit = json!({"content": format!("hello again <@{}>", bob.id)});
    c.ok("update_message", app.patch(&format!("{messages}/{first}"), &alice.token, edit).await);
    c.err("get_message", app.get(&format!("{messages}/1"), &alice.token).await, 404, 10008);
    let too_long = json!({"content": "x".repeat(2001), "allowed_mentions": {"parse": ["nobody"]}});
    let invalid = c.err("create_message", app.post(&messages, &alice.token, too_long).await, 400, 50035);
    assert!(invalid["errors"]["allowed_mentions"]["parse"]["0"]["_errors"].is_array(), "{invalid}");
    c.err(
        "update_message",
        app.patch(&format!("{messages}/{first}"), &bob.token, json!({"content": "mine"})).await,
        403,
        50005,
    );
    c.err(
        "create_message",
        app.post(&format!("/channels/{category}/messages"), &alice.token, json!({"content": "x"})).await,
        400,
        50008,
    );

    // --- reactions
    let (thumbs, party) = (encode("👍"), encode("🎉"));
    let reactions = format!("{messages}/{first}/reactions");
    c.ok("add_my_message_reaction", app.put(&format!("{reactions}/{thumbs}/@me"), &alice.token).await);
    c.ok("add_my_message_reaction", app.put(&format!("{reactions}/{thumbs}/@me"), &bob.token).await);
    c.ok("add_my_message_reaction", app.put(&format!("{reactions}/{party}/@me"), &bob.token).await);
    c.ok("list_message_reactions_by_emoji", app.get(&format!("{reactions}/{thumbs}"), &alice.token).await);
    let with_reactions = c.ok("get_message", app.get(&format!("{messages}/{first}"), &bob.token).await);
    assert_eq!(with_reactions["reactions"].as_array().map(Vec::len), Some(2), "{with_reactions}");
    c.err("add_my_message_reaction", app.put(&format!("{reactions}/notanemoji/@me"), &alice.token).await, 400, 10014);

    // --- pins, by both the current and the deprecated routes
    c.ok("create_pin", app.put(&format!("/channels/{chat}/messages/pins/{first}"), &alice.token).await);
    c.ok("deprecated_create_pin", app.put(&format!("/channels/{chat}/pins/{reply}"), &alice.token).await);
    let pins = c.ok("list_pins", app.get(&format!("/channels/{chat}/messages/pins"), &bob.token).await);
    assert_eq!(pins["items"].as_array().map(Vec::len), Some(2), "{pins}");
    c.ok("deprecated_list_pins", app.get(&format!("/channels/{chat}/pins"), &bob.token).await);
    c.err(
        "list_pins",
        app.get(&format!("/channels/{chat}/messages/pins?before=yesterday"), &bob.token).await,
        400,
        50035,
    );
    // The history now has reactions, a reply, pins and an edit in it.
    let history = c.ok("list_messages", app.get(&format!("{messages}?limit=50"), &bob.token).await);
    assert_eq!(history.as_array().map(Vec::len), Some(3), "{history}");
    c.ok("list_messages", app.get(&format!("{messages}?after={first}&limit=1"), &bob.token).await);
    // Search finds those same messages, in Discord's search shape.
    let search = format!("/guilds/{gid}/messages/search");
    let found = c.ok("guild_search", app.get(&format!("{search}?channel_id={chat}"), &bob.token).await);
    assert_eq!(found["total_results"], 3, "{found}");
    let found =
        c.ok("guild_search", app.get(&format!("{search}?content=again&author_id={}", alice.id), &bob.token).await);
    assert_eq!(found["messages"][0][0]["id"], json!(first), "{found}");
    c.err("guild_search", app.get(&format!("{search}?has=nothing"), &bob.token).await, 400, 50035);
    c.ok("delete_pin", app.delete(&format!("/channels/{chat}/messages/pins/{first}"), &alice.token).await);
    c.ok("deprecated_delete_pin", app.delete(&format!("/channels/{chat}/pins/{reply}"), &alice.token).await);

    c.ok("delete_my_message_reaction", app.delete(&format!("{reactions}/{party}/@me"), &bob.token).await);
    c.ok("delete_user_message_reaction", app.delete(&format!("{reactions}/{thumbs}/{}", bob.id), &alice.token).await);
    c.ok("delete_all_message_reactions_by_emoji", app.delete(&format!("{reactions}/{thumbs}"), &alice.token).await);
    c.ok("add_my_message_reaction", app.put(&format!("{reactions}/{party}/@me"), &bob.token).await);
    c.ok("delete_all_message_reactions", app.delete(&reactions, &alice.token).await);
    c.err("delete_all_message_reactions", app.delete(&reactions, &bob.token).await, 403, 50013);

    c.ok(
        "trigger_typing_indicator",
        app.call(Method::POST, &format!("/channels/{chat}/typing"), Some(&bob.token), None).await,
    );

    // --- deleting messages, one and several
    let doomed: Vec<String> =
        [app.send(&alice, &chat, "one").await, app.send(&alice, &chat, "two").await].iter().map(id).collect();
    c.ok(
        "bulk_delete_messages",
        app.post(&format!("{messages}/bulk-delete"), &alice.token, json!({"messages": doomed})).await,
    );
    c.err(
        "bulk_delete_messages",
        app.post(&format!("{messages}/bulk-delete"), &alice.token, json!({"messages": [reply]})).await,
        400,
        50016,
    );
    // A reply whose original is gone has `referenced_message: null`.
    c.ok("delete_message", app.delete(&format!("{messages}/{first}"), &alice.token).await);
    let orphan = c.ok("get_message", app.get(&format!("{messages}/{reply}"), &bob.token).await);
    assert!(orphan["referenced_message"].is_null() && orphan.get("referenced_message").is_some(), "{orphan}");
    c.ok("delete_message", app.delete(&format!("{messages}/{reply}"), &alice.token).await);

    // --- slowmode: a plain member's second message is rate limited (429).
    let slow = format!("/channels/{general}");
    c.ok("update_channel", app.patch(&slow, &alice.token, json!({"rate_limit_per_user": 60})).await);
    app.send(&bob, &general, "first").await;
    c.err(
        "create_message",
        app.post(&format!("{slow}/messages"), &bob.token, json!({"content": "again"})).await,
        429,
        20016,
    );

    // --- a DM, then closing it
    let dm = c.ok("create_dm", app.post("/users/@me/channels", &alice.token, json!({"recipient_id": bob.id})).await);
    let dm = id(&dm);
    c.ok(
        "create_message",
        app.post(&format!("/channels/{dm}/messages"), &alice.token, json!({"content": "psst"})).await,
    );
    c.ok(
        "create_message",
        app.post(&format!("/channels/{dm}/messages"), &bob.token, json!({"content": format!("<@{}> yes?", alice.id)}))
            .await,
    );
    c.ok("list_messages", app.get(&format!("/channels/{dm}/messages"), &bob.token).await);
    let (status, found) = app.get(&format!("/channels/{dm}/messages/search?content=psst"), &bob.token).await;
    assert_eq!((status, &found["total_results"]), (StatusCode::OK, &json!(1)), "{found}");
    c.shape("GET /channels/{dm}/messages/search", "GuildSearchResponse", &found);
    c.ok("get_channel", app.get(&format!("/channels/{dm}"), &bob.token).await);
    c.err(
        "create_dm",
        app.post("/users/@me/channels", &alice.token, json!({"recipient_id": alice.id})).await,
        400,
        50007,
    );
    c.err("create_dm", app.post("/users/@me/channels", &alice.token, json!({})).await, 400, 50035);
    c.ok("delete_channel", app.delete(&format!("/channels/{dm}"), &alice.token).await);

    // --- an application and its bot
    let (status, created) =
        app.post("/applications", &alice.token, json!({"name": "Schema Bot", "description": "Checks"})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    c.shape("POST /applications", "PrivateApplicationResponse", &created);
    let app_id = id(&created);
    let (status, reset) = app.post(&format!("/applications/{app_id}/bot/reset"), &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let bot_token = format!("Bot {}", reset["token"].as_str().expect("a new token"));
    c.ok("get_my_oauth2_application", app.get("/oauth2/applications/@me", &bot_token).await);
    c.ok("get_my_application", app.get("/applications/@me", &bot_token).await);
    c.ok("update_my_application", app.patch("/applications/@me", &bot_token, json!({"flags": 1 << 19})).await);
    c.ok(
        "update_application",
        app.patch(&format!("/applications/{app_id}"), &alice.token, json!({"description": "Checks things"})).await,
    );
    c.err("get_my_oauth2_application", app.get("/oauth2/applications/@me", &alice.token).await, 404, 10002);
    let add = format!("/oauth2/authorize?client_id={app_id}&scope=bot&permissions=2048&guild_id={gid}");
    let (status, body) = app.post(&add, &alice.token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.ok("get_my_user", app.get("/users/@me", &bot_token).await);
    c.ok("get_gateway", app.call(reqwest::Method::GET, "/gateway", None, None).await);
    c.ok("get_bot_gateway", app.get("/gateway/bot", &bot_token).await);
    c.ok("list_my_guilds", app.get("/users/@me/guilds", &bot_token).await);
    let bot = TestUser { id: app_id.clone(), token: bot_token.clone(), username: "schema_bot".into() };
    let beep = c.ok("create_message", app.post(&messages, &bot.token, json!({"content": "beep"})).await);
    assert_eq!(beep["author"]["bot"], true, "{beep}");
    c.ok("get_guild_member", app.get(&format!("/guilds/{gid}/members/{app_id}"), &bot.token).await);
    c.err("get_guild", app.get("/guilds/1", &bot.token).await, 404, 10004);

    // --- the bot's application commands, global and in the guild
    let slash = json!({
        "name": "roll",
        "description": "Rolls dice",
        "name_localizations": {"fr": "lancer"},
        "options": [
            {"type": 2, "name": "dice", "description": "Dice", "options": [
                {"type": 1, "name": "d6", "description": "Six sides", "options": [
                    {"type": 4, "name": "count", "description": "How many", "required": true, "min_value": 1, "max_value": 10,
                     "choices": [{"name": "one", "value": 1}, {"name": "two", "value": 2}]},
                    {"type": 10, "name": "bonus", "description": "Bonus", "choices": [{"name": "half", "value": 0.5}]},
                    {"type": 3, "name": "note", "description": "Note", "min_length": 1, "max_length": 50, "autocomplete": true},
                    {"type": 3, "name": "mode", "description": "Mode", "choices": [{"name": "Loud", "value": "loud", "name_localizations": {"de": "Laut"}}]},
                    {"type": 5, "name": "secret", "description": "Secret"},
                    {"type": 6, "name": "for", "description": "For whom"},
                    {"type": 7, "name": "in", "description": "Where", "channel_types": [0]},
                    {"type": 8, "name": "role", "description": "Role"},
                    {"type": 9, "name": "who", "description": "Mentionable"},
                    {"type": 11, "name": "file", "description": "File"}
                ]}
            ]}
        ],
        "default_member_permissions": "2048",
        "contexts": [0, 1],
        "nsfw": false
    });
    let commands = format!("/applications/{app_id}/commands");
    let roll = id(&c.ok("create_application_command", app.post(&commands, &bot_token, slash.clone()).await));
    c.ok("create_application_command", app.post(&commands, &bot_token, slash.clone()).await);
    c.ok("list_application_commands", app.get(&format!("{commands}?with_localizations=true"), &bot_token).await);
    c.ok("list_application_commands", app.get(&commands, &bot_token).await);
    c.ok("get_application_command", app.get(&format!("{commands}/{roll}"), &bot_token).await);
    c.ok(
        "update_application_command",
        app.patch(&format!("{commands}/{roll}"), &bot_token, json!({"description": "Rolls"})).await,
    );
    let menu = json!([slash.clone(), {"type": 2, "name": "Wave at"}, {"type": 3, "name": "Quote this"}]);
    c.ok(
        "bulk_set_application_commands",
        app.call(reqwest::Method::PUT, &commands, Some(&bot_token), Some(menu.clone())).await,
    );
    c.ok("delete_application_command", app.delete(&format!("{commands}/{roll}"), &bot_token).await);
    c.err("get_application_command", app.get(&format!("{commands}/{roll}"), &bot_token).await, 404, 10063);
    c.err("list_application_commands", app.get(&commands, &alice.token).await, 403, 50001);
    c.err(
        "create_application_command",
        app.post(&commands, &bot_token, json!({"name": "Bad Name", "description": "d"})).await,
        400,
        50035,
    );
    let guild_commands = format!("/applications/{app_id}/guilds/{gid}/commands");
    let local = id(&c.ok("create_guild_application_command", app.post(&guild_commands, &bot_token, slash).await));
    c.ok("list_guild_application_commands", app.get(&guild_commands, &bot_token).await);
    c.ok("get_guild_application_command", app.get(&format!("{guild_commands}/{local}"), &bot_token).await);
    c.ok(
        "update_guild_application_command",
        app.patch(&format!("{guild_commands}/{local}"), &bot_token, json!({"nsfw": true})).await,
    );
    c.ok(
        "bulk_set_guild_application_commands",
        app.call(reqwest::Method::PUT, &guild_commands, Some(&bot_token), Some(menu)).await,
    );
    let local = id(&app.get(&guild_commands, &bot_token).await.1[0]);
    c.ok(
        "list_guild_application_command_permissions",
        app.get(&format!("{guild_commands}/permissions"), &bot_token).await,
    );
    c.ok(
        "get_guild_application_command_permissions",
        app.get(&format!("{guild_commands}/{local}/permissions"), &bot_token).await,
    );
    c.ok("delete_guild_application_command", app.delete(&format!("{guild_commands}/{local}"), &bot_token).await);
    c.err("get_guild_application_command", app.get(&format!("{guild_commands}/{local}"), &bot_token).await, 404, 10063);

    // --- an interaction: Alice clicks the bot's button, the bot answers
    let mut bot_gw = app.gateway("").await;
    // GUILDS only: interactions need no intent.
    bot_gw.identify(&bot_token, 1).await;
    let button = json!([{"type": 1, "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "go"}]}]);
    let with_button = c
        .ok("create_message", app.post(&messages, &bot.token, json!({"content": "press", "components": button})).await);
    let click = json!({"type": 3, "application_id": app_id, "guild_id": gid, "channel_id": with_button["channel_id"],
        "message_id": with_button["id"], "data": {"component_type": 2, "custom_id": "go"}});
    let (status, body) = app.post("/interactions", &alice.token, click).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let i = bot_gw.dispatch("INTERACTION_CREATE").await["d"].clone();
    let (iid, itoken) = (id(&i), i["token"].as_str().unwrap().to_owned());
    let answer = json!({"type": 4, "data": {"content": "went", "components": button}});
    let callback = format!("/interactions/{iid}/{itoken}/callback?with_response=true");
    let answered =
        c.ok("create_interaction_response", app.call(Method::POST, &callback, None, Some(answer.clone())).await);
    assert_eq!(answered["resource"]["message"]["interaction_metadata"]["interacted_message_id"], with_button["id"]);
    c.err("create_interaction_response", app.call(Method::POST, &callback, None, Some(answer)).await, 400, 40060);
    let original = format!("/webhooks/{app_id}/{itoken}/messages/@original");
    c.ok("get_original_webhook_message", app.call(Method::GET, &original, None, None).await);
    c.ok(
        "update_original_webhook_message",
        app.call(Method::PATCH, &original, None, Some(json!({"content": "gone"}))).await,
    );
    c.ok("delete_original_webhook_message", app.call(Method::DELETE, &original, None, None).await);
    c.err("get_original_webhook_message", app.call(Method::GET, &original, None, None).await, 404, 10008);

    // --- roles: created, read, edited, reordered; given and taken
    let roles = format!("/guilds/{gid}/roles");
    c.ok("list_guild_roles", app.get(&roles, &alice.token).await);
    let mods_body =
        json!({"name": "Mods", "permissions": "8192", "color": 0x3498db, "hoist": true, "mentionable": true});
    let mods = c.ok("create_guild_role", app.post(&roles, &alice.token, mods_body).await);
    assert_eq!(mods["permissions"], "8192", "{mods}");
    let mods = id(&mods);
    // Every field left out: Discord's defaults.
    let helpers = id(&c.ok("create_guild_role", app.post(&roles, &alice.token, json!({})).await));
    c.ok("get_guild_role", app.get(&format!("{roles}/{mods}"), &alice.token).await);
    c.ok("get_guild_role", app.get(&format!("{roles}/{gid}"), &bob.token).await);
    let helpers_patch = json!({"name": "Helpers", "color": 0xe91e63, "permissions": 1024, "hoist": false});
    c.ok("update_guild_role", app.patch(&format!("{roles}/{helpers}"), &alice.token, helpers_patch).await);
    // The body of a role reorder is a JSON array.
    let order = json!([{"id": helpers, "position": 2}, {"id": mods, "position": 1}]);
    let reordered = c.ok("bulk_update_guild_roles", app.patch(&roles, &alice.token, order).await);
    let position = |r: &str| reordered.as_array().unwrap().iter().find(|x| x["id"] == r).unwrap()["position"].clone();
    assert_eq!((position(&helpers), position(&mods)), (json!(2), json!(1)), "{reordered}");
    c.err("get_guild_role", app.get(&format!("{roles}/1"), &alice.token).await, 404, 10011);
    c.err("update_guild_role", app.patch(&format!("{roles}/1"), &alice.token, json!({"name": "x"})).await, 404, 10011);
    c.err("create_guild_role", app.post(&roles, &bob.token, json!({"name": "Mine"})).await, 403, 50013);
    c.err("create_guild_role", app.post(&roles, &alice.token, json!({"color": 0x1000000})).await, 400, 50035);
    c.err("create_guild_role", app.post(&roles, &alice.token, json!({"permissions": "abc"})).await, 400, 50035);
    c.err(
        "bulk_update_guild_roles",
        app.patch(&roles, &bob.token, json!([{"id": mods, "position": 2}])).await,
        403,
        50013,
    );
    c.err("delete_guild_role", app.delete(&format!("{roles}/{gid}"), &alice.token).await, 400, 50028);

    let bob_member = format!("/guilds/{gid}/members/{}", bob.id);
    c.ok("add_guild_member_role", app.put(&format!("{bob_member}/roles/{helpers}"), &alice.token).await);
    let with_role = c.ok("get_guild_member", app.get(&bob_member, &alice.token).await);
    assert_eq!(with_role["roles"], json!([helpers]), "{with_role}");
    c.ok("delete_guild_member_role", app.delete(&format!("{bob_member}/roles/{helpers}"), &alice.token).await);
    c.err("add_guild_member_role", app.put(&format!("{bob_member}/roles/1"), &alice.token).await, 404, 10011);
    c.err(
        "add_guild_member_role",
        app.put(&format!("/guilds/{gid}/members/1/roles/{helpers}"), &alice.token).await,
        404,
        10007,
    );
    c.err("add_guild_member_role", app.put(&format!("{bob_member}/roles/{helpers}"), &bob.token).await, 403, 50013);
    c.err(
        "delete_guild_member_role",
        app.delete(&format!("/guilds/{gid}/members/{}/roles/{helpers}", alice.id), &bob.token).await,
        403,
        50013,
    );

    // --- member edits: nickname, roles, voice flags, a timeout
    let in_an_hour = model::Timestamp::from_unix_ms(model::Timestamp::now().unix_ms() + 3_600_000).to_string();
    let edit = json!({"nick": "Bobby", "roles": [mods], "mute": true, "deaf": false,
        "communication_disabled_until": in_an_hour});
    let edited = c.ok("update_guild_member", app.patch(&bob_member, &alice.token, edit).await);
    assert_eq!((&edited["nick"], &edited["roles"]), (&json!("Bobby"), &json!([mods])), "{edited}");
    assert!(edited["communication_disabled_until"].is_string(), "{edited}");
    let lift = json!({"nick": null, "roles": [], "mute": false, "communication_disabled_until": null});
    let lifted = c.ok("update_guild_member", app.patch(&bob_member, &alice.token, lift).await);
    assert!(lifted["communication_disabled_until"].is_null() && lifted["nick"].is_null(), "{lifted}");
    c.ok(
        "update_my_guild_member",
        app.patch(&format!("/guilds/{gid}/members/@me"), &alice.token, json!({"nick": "Boss"})).await,
    );
    c.ok(
        "update_my_guild_member",
        app.patch(&format!("/guilds/{gid}/members/@me"), &bob.token, json!({"nick": null})).await,
    );
    let found = c.ok(
        "search_guild_members",
        app.get(&format!("/guilds/{gid}/members/search?query=bob&limit=10"), &alice.token).await,
    );
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    c.ok("search_guild_members", app.get(&format!("/guilds/{gid}/members/search?query=nobody"), &alice.token).await);
    c.err(
        "update_guild_member",
        app.patch(&format!("/guilds/{gid}/members/1"), &alice.token, json!({"nick": "x"})).await,
        404,
        10007,
    );
    c.err(
        "update_guild_member",
        app.patch(&format!("/guilds/{gid}/members/{}", alice.id), &bob.token, json!({"nick": "Owned"})).await,
        403,
        50013,
    );
    let too_long = model::Timestamp::from_unix_ms(model::Timestamp::now().unix_ms() + 29 * 86_400_000).to_string();
    c.err(
        "update_guild_member",
        app.patch(&bob_member, &alice.token, json!({"communication_disabled_until": too_long})).await,
        400,
        50035,
    );
    c.err("search_guild_members", app.get(&format!("/guilds/{gid}/members/search"), &alice.token).await, 400, 50035);

    // --- permission overwrites: a role's and a member's, then one removed
    let overwrite = |target: &str| format!("/channels/{chat}/permissions/{target}");
    let role_overwrite = json!({"type": 0, "allow": "8192", "deny": "0"});
    c.ok(
        "set_channel_permission_overwrite",
        app.call(Method::PUT, &overwrite(&mods), Some(&alice.token), Some(role_overwrite)).await,
    );
    let member_overwrite = json!({"type": 1, "allow": 0, "deny": "2048"});
    c.ok(
        "set_channel_permission_overwrite",
        app.call(Method::PUT, &overwrite(&bob.id), Some(&alice.token), Some(member_overwrite)).await,
    );
    let with_overwrites = c.ok("get_channel", app.get(&format!("/channels/{chat}"), &alice.token).await);
    assert_eq!(with_overwrites["permission_overwrites"].as_array().map(Vec::len), Some(2), "{with_overwrites}");
    c.ok("delete_channel_permission_overwrite", app.delete(&overwrite(&bob.id), &alice.token).await);
    c.err("delete_channel_permission_overwrite", app.delete(&overwrite(&bob.id), &alice.token).await, 404, 10009);
    c.err(
        "set_channel_permission_overwrite",
        app.call(Method::PUT, &overwrite(&mods), Some(&bob.token), Some(json!({"type": 0, "allow": "0"}))).await,
        403,
        50013,
    );
    c.err(
        "set_channel_permission_overwrite",
        app.call(Method::PUT, &overwrite(&mods), Some(&alice.token), Some(json!({"type": 2}))).await,
        400,
        50035,
    );

    // --- channels reordered (a JSON array again), one moved out of its category
    let moves = json!([{"id": chat, "position": 3}, {"id": general, "position": 1, "parent_id": category}]);
    c.ok("bulk_update_guild_channels", app.patch(&channels, &alice.token, moves).await);
    let moved = c.ok("get_channel", app.get(&format!("/channels/{general}"), &alice.token).await);
    assert_eq!((&moved["position"], &moved["parent_id"]), (&json!(1), &json!(category)), "{moved}");
    c.ok(
        "bulk_update_guild_channels",
        app.patch(&channels, &alice.token, json!([{"id": general, "parent_id": null}])).await,
    );
    c.err(
        "bulk_update_guild_channels",
        app.patch(&channels, &bob.token, json!([{"id": chat, "position": 0}])).await,
        403,
        50013,
    );
    c.err(
        "bulk_update_guild_channels",
        app.patch(&channels, &alice.token, json!([{"id": "1", "position": 0}])).await,
        400,
        50035,
    );

    // --- kicks and bans, one and several
    let (carol, dave, erin) = (app.register("carol").await, app.register("dave").await, app.register("erin").await);
    for user in [&carol, &dave, &erin] {
        app.join(&alice, &general, user).await;
    }
    app.send(&carol, &general, "soon gone").await;
    c.ok("delete_guild_member", app.delete(&format!("/guilds/{gid}/members/{}", carol.id), &alice.token).await);
    c.err(
        "delete_guild_member",
        app.delete(&format!("/guilds/{gid}/members/{}", carol.id), &alice.token).await,
        404,
        10007,
    );
    c.err(
        "delete_guild_member",
        app.delete(&format!("/guilds/{gid}/members/{}", alice.id), &bob.token).await,
        403,
        50013,
    );
    let bans = format!("/guilds/{gid}/bans");
    // Carol is banned after she left; her messages of the last hour go.
    c.ok(
        "ban_user_from_guild",
        app.call(
            Method::PUT,
            &format!("{bans}/{}", carol.id),
            Some(&alice.token),
            Some(json!({"delete_message_seconds": 3600})),
        )
        .await,
    );
    // Dave's ban gives a reason, URL-encoded in X-Audit-Log-Reason as clients send it.
    let res = app
        .client
        .put(format!("{}{bans}/{}", app.base, dave.id))
        .header("Authorization", &alice.token)
        .header("X-Audit-Log-Reason", "spamming%20links")
        .send()
        .await
        .expect("request sent");
    let status = res.status();
    let text = res.text().await.unwrap();
    c.ok("ban_user_from_guild", (status, if text.is_empty() { Value::Null } else { json!(text) }));
    let ban = c.ok("get_guild_ban", app.get(&format!("{bans}/{}", carol.id), &alice.token).await);
    assert!(ban["user"]["id"] == json!(carol.id) && ban["reason"].is_null(), "{ban}");
    let ban = c.ok("get_guild_ban", app.get(&format!("{bans}/{}", dave.id), &alice.token).await);
    assert_eq!(ban["reason"], "spamming links", "{ban}");
    let listed = c.ok("list_guild_bans", app.get(&bans, &alice.token).await);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    c.ok("list_guild_bans", app.get(&format!("{bans}?limit=1&after=1"), &alice.token).await);
    let bulk = json!({"user_ids": [erin.id, alice.id], "delete_message_seconds": 0});
    let bulk =
        c.ok("bulk_ban_users_from_guild", app.post(&format!("/guilds/{gid}/bulk-ban"), &alice.token, bulk).await);
    assert_eq!((&bulk["banned_users"], &bulk["failed_users"]), (&json!([erin.id]), &json!([alice.id])), "{bulk}");
    c.ok("unban_user_from_guild", app.delete(&format!("{bans}/{}", carol.id), &alice.token).await);
    c.err("get_guild_ban", app.get(&format!("{bans}/{}", carol.id), &alice.token).await, 404, 10026);
    c.err("unban_user_from_guild", app.delete(&format!("{bans}/{}", carol.id), &alice.token).await, 404, 10026);
    c.err("list_guild_bans", app.get(&bans, &bob.token).await, 403, 50013);
    c.err("ban_user_from_guild", app.put(&format!("{bans}/{}", alice.id), &bob.token).await, 403, 50013);
    c.err(
        "ban_user_from_guild",
        app.call(
            Method::PUT,
            &format!("{bans}/{}", carol.id),
            Some(&alice.token),
            Some(json!({"delete_message_seconds": 604801})),
        )
        .await,
        400,
        50035,
    );
    c.err(
        "bulk_ban_users_from_guild",
        app.post(&format!("/guilds/{gid}/bulk-ban"), &alice.token, json!({"user_ids": [alice.id]})).await,
        400,
        500000,
    );

    // --- AutoMod rules, and a message they block
    let automod = format!("/guilds/{gid}/auto-moderation/rules");
    let keyword = c.ok(
        "create_auto_moderation_rule",
        app.post(
            &automod,
            &alice.token,
            json!({
                "name": "words", "event_type": 1, "trigger_type": 1, "enabled": true,
                "trigger_metadata": { "keyword_filter": ["forbidden*"], "regex_patterns": ["x+y"], "allow_list": ["forbiddenish"] },
                "actions": [
                    { "type": 1, "metadata": { "custom_message": "Not here." } },
                    { "type": 2, "metadata": { "channel_id": general } },
                    { "type": 3, "metadata": { "duration_seconds": 60 } },
                ],
            }),
        )
        .await,
    );
    let preset = c.ok(
        "create_auto_moderation_rule",
        app.post(&automod, &alice.token, json!({ "name": "presets", "event_type": 1, "trigger_type": 4, "trigger_metadata": { "presets": [1, 2] }, "actions": [{ "type": 1 }] })).await,
    );
    c.ok(
        "create_auto_moderation_rule",
        app.post(&automod, &alice.token, json!({ "name": "mentions", "event_type": 1, "trigger_type": 5, "trigger_metadata": { "mention_total_limit": 5 }, "actions": [{ "type": 1 }] })).await,
    );
    c.ok(
        "create_auto_moderation_rule",
        app.post(&automod, &alice.token, json!({ "name": "spam", "event_type": 1, "trigger_type": 3, "actions": [{ "type": 2, "metadata": { "channel_id": general } }] })).await,
    );
    c.err(
        "create_auto_moderation_rule",
        app.post(&automod, &alice.token, json!({ "name": "bad", "event_type": 1, "trigger_type": 1, "trigger_metadata": { "regex_patterns": ["("] }, "actions": [{ "type": 1 }] })).await,
        400,
        50035,
    );
    c.err("create_auto_moderation_rule", app.post(&automod, &bob.token, json!({})).await, 403, 50013);
    c.ok("list_auto_moderation_rules", app.get(&automod, &alice.token).await);
    c.err("list_auto_moderation_rules", app.get(&automod, &bob.token).await, 403, 50013);
    let keyword_path = format!("{automod}/{}", id(&keyword));
    c.ok("get_auto_moderation_rule", app.get(&keyword_path, &alice.token).await);
    c.ok(
        "update_auto_moderation_rule",
        app.patch(&keyword_path, &alice.token, json!({ "name": "renamed", "exempt_roles": [] })).await,
    );
    c.err(
        "update_auto_moderation_rule",
        app.patch(&keyword_path, &alice.token, json!({ "name": "" })).await,
        400,
        50035,
    );
    let dave = app.register("automod_dave").await;
    app.join(&alice, &chat, &dave).await;
    c.err(
        "create_message",
        app.post(&format!("/channels/{chat}/messages"), &dave.token, json!({ "content": "forbidden fruit" })).await,
        400,
        200000,
    );
    let preset_path = format!("{automod}/{}", id(&preset));
    c.ok("delete_auto_moderation_rule", app.delete(&preset_path, &alice.token).await);
    c.err("get_auto_moderation_rule", app.get(&preset_path, &alice.token).await, 404, 10066);

    // --- custom emojis and stickers, and a message carrying a sticker
    let emojis = format!("/guilds/{gid}/emojis");
    let emoji =
        c.ok("create_guild_emoji", app.post(&emojis, &alice.token, json!({ "name": "blob", "image": png })).await);
    c.err(
        "create_guild_emoji",
        app.post(&emojis, &alice.token, json!({ "name": "b", "image": png })).await,
        400,
        50035,
    );
    c.err(
        "create_guild_emoji",
        app.post(&emojis, &bob.token, json!({ "name": "blob", "image": png })).await,
        403,
        50013,
    );
    c.ok("list_guild_emojis", app.get(&emojis, &alice.token).await);
    let emoji_path = format!("{emojis}/{}", id(&emoji));
    c.ok("get_guild_emoji", app.get(&emoji_path, &bob.token).await);
    c.ok("update_guild_emoji", app.patch(&emoji_path, &alice.token, json!({ "name": "blob_two", "roles": [] })).await);
    let stickers = format!("/guilds/{gid}/stickers");
    let sticker = c.ok("create_guild_sticker", sticker_form(&app, &stickers, &alice.token).await);
    c.ok("list_guild_stickers", app.get(&stickers, &bob.token).await);
    let sticker_path = format!("{stickers}/{}", id(&sticker));
    c.ok("get_guild_sticker", app.get(&sticker_path, &alice.token).await);
    c.ok("get_sticker", app.get(&format!("/stickers/{}", id(&sticker)), &bob.token).await);
    c.ok("update_guild_sticker", app.patch(&sticker_path, &alice.token, json!({ "tags": "wave" })).await);
    c.ok(
        "create_message",
        app.post(&format!("/channels/{chat}/messages"), &alice.token, json!({ "sticker_ids": [id(&sticker)] })).await,
    );
    c.ok("delete_guild_sticker", app.delete(&sticker_path, &alice.token).await);
    c.err("get_guild_sticker", app.get(&sticker_path, &alice.token).await, 404, 10060);
    c.ok("delete_guild_emoji", app.delete(&emoji_path, &alice.token).await);
    c.err("get_guild_emoji", app.get(&emoji_path, &alice.token).await, 404, 10014);

    // --- the audit log of all of the above
    let log = c.ok(
        "list_guild_audit_log_entries",
        app.get(&format!("/guilds/{gid}/audit-logs?limit=100"), &alice.token).await,
    );
    let kinds: BTreeSet<u64> =
        log["audit_log_entries"].as_array().unwrap().iter().filter_map(|e| e["action_type"].as_u64()).collect();
    for kind in [13, 15, 20, 22, 23, 24, 25, 30, 31, 60, 61, 62, 90, 91, 92, 140, 141, 142, 143, 145] {
        assert!(kinds.contains(&kind), "no audit log entry of type {kind}: {kinds:?}");
    }
    let reasons: Vec<&Value> = log["audit_log_entries"].as_array().unwrap().iter().map(|e| &e["reason"]).collect();
    assert!(reasons.contains(&&json!("spamming links")), "{log}");
    c.ok(
        "list_guild_audit_log_entries",
        app.get(&format!("/guilds/{gid}/audit-logs?action_type=22&limit=1&user_id={}", alice.id), &alice.token).await,
    );
    c.err("list_guild_audit_log_entries", app.get(&format!("/guilds/{gid}/audit-logs"), &bob.token).await, 403, 50013);
    c.err(
        "list_guild_audit_log_entries",
        app.get(&format!("/guilds/{gid}/audit-logs?limit=101"), &alice.token).await,
        400,
        50035,
    );

    c.ok("delete_guild_role", app.delete(&format!("{roles}/{helpers}"), &alice.token).await);
    c.err("delete_guild_role", app.delete(&format!("{roles}/{helpers}"), &alice.token).await, 404, 10011);

    // --- tearing down: a channel, Bob leaving, the guild
    c.ok("delete_channel", app.delete(&format!("/channels/{voice}"), &alice.token).await);
    c.err("delete_channel", app.delete(&format!("/channels/{chat}"), &bob.token).await, 403, 50013);
    c.ok("leave_guild", app.delete(&format!("/users/@me/guilds/{gid}"), &bob.token).await);
    c.err("leave_guild", app.delete(&format!("/users/@me/guilds/{gid}"), &alice.token).await, 400, 50055);
    let (status, body) = app.delete(&format!("/guilds/{gid}"), &alice.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    c.err("get_guild", app.get(&format!("/guilds/{gid}"), &alice.token).await, 404, 10004);

    c.finish();
}
