//! Interactions: a person using an application's command, component or
//! modal (`command_use` checks a command's use), delivered to the application as
//! INTERACTION_CREATE, and the application's answers: the first through
//! `POST /interactions/{id}/{token}/callback` within the deadline, then
//! follow-ups and edits through `/webhooks/{application_id}/{token}` for
//! 15 minutes. Ephemeral answers reach the invoker alone and are never
//! stored: they live here, in memory, for the token's lifetime.
//!
//! Interactions are short-lived and kept in this process (`Interactions`);
//! the token is compared in constant time and reaches its own interaction
//! and the messages it made, nothing else.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use events::dispatch::Dispatch;
use events::{Audience, Event};
use model::channel::ChannelType;
use model::id::InteractionMarker;
use model::interaction::{
    callback, kind, AutocompleteResponse, Interaction, InteractionEvent, InteractionMember, InteractionNotice,
    ModalCreate,
};
use model::message::{flags as message_flags, kind as message_kind, Message};
use model::{permissions, Id, Timestamp};
use store::{ChannelId, GuildId, MessageId, UserId, UserRow};

use crate::components::{self, kind as component};
use crate::messages::{self, Author, Draft, Edit, InteractionPost};
use crate::{access, render, Domain, Error, FormErrors, Result};

pub type InteractionId = Id<InteractionMarker>;

/// How long a token answers (Discord's 15 minutes).
pub use crate::command_use::TOKEN_LIFETIME;
/// How long an application has for its first answer.
pub const DEADLINE: Duration = Duration::from_secs(3);

/// Where an interaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Waiting for the first answer.
    Pending,
    /// Answered (or deferred): follow-ups and edits from here.
    Answered,
    /// No answer in time: the invoker was told; nothing more is taken.
    Failed,
}

/// A message an interaction made: stored, or ephemeral (kept here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Made {
    id: MessageId,
    ephemeral: bool,
}

/// An interaction, as kept here; requests work on a copy taken out of the
/// lock.
#[derive(Clone)]
struct Entry {
    id: InteractionId,
    token: String,
    application: UserId,
    kind: u8,
    invoker: UserId,
    channel: ChannelId,
    guild: Option<GuildId>,
    nonce: Option<String>,
    created: Instant,
    stage: Stage,
    /// The message a component belongs to.
    source: Option<Made>,
    /// The first answer's message, and every follow-up.
    original: Option<Made>,
    followups: Vec<Made>,
    /// What its answers say they answer (`interaction_metadata`).
    metadata: Value,
    /// The message type of its answers.
    answer_kind: u8,
}

struct Ephemeral {
    message: Message,
    invoker: UserId,
    application: UserId,
    expires: Instant,
}

/// A modal an application opened, until the invoker submits it.
struct OpenModal {
    components: Vec<Value>,
    channel: ChannelId,
    source: Option<Made>,
    expires: Instant,
}

#[derive(Default)]
struct Registry {
    by_id: HashMap<InteractionId, Entry>,
    ephemeral: HashMap<MessageId, Ephemeral>,
    /// By invoker, application and the modal's custom id.
    modals: HashMap<(UserId, UserId, String), OpenModal>,
}

impl Registry {
    fn sweep(&mut self, now: Instant) {
        self.by_id.retain(|_, e| now.duration_since(e.created) < TOKEN_LIFETIME);
        self.ephemeral.retain(|_, e| e.expires > now);
        self.modals.retain(|_, m| m.expires > now);
    }
}

/// The `[interactions]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InteractionsConfig {
    /// How long an application has for its first answer, in milliseconds
    /// (Discord's three seconds).
    pub deadline_ms: u64,
    /// Addresses an interactions endpoint may be at although they are not
    /// public (loopback, private, …), as `[unfurl].allow` spells them;
    /// every other non-public address is refused.
    pub endpoint_allow: Vec<String>,
    /// How long one delivery to an endpoint may take, in milliseconds.
    pub endpoint_timeout_ms: u64,
}

impl Default for InteractionsConfig {
    fn default() -> Self {
        Self { deadline_ms: DEADLINE.as_millis() as u64, endpoint_allow: Vec::new(), endpoint_timeout_ms: 3000 }
    }
}

/// The interactions of this process, and the client that delivers them to
/// applications' HTTP endpoints.
pub struct Interactions {
    registry: Mutex<Registry>,
    deadline: Duration,
    outbound: unfurl::Fetcher,
    /// In a cluster: where the node holding an interaction is found.
    locator: std::sync::OnceLock<std::sync::Arc<dyn Locator>>,
}

/// What names an interaction in a request: its id (the callback) or its
/// token (its webhook: follow-ups and `@original`).
#[derive(Debug, Clone, Copy)]
pub enum Held<'a> {
    Id(InteractionId),
    Token(&'a str),
}

/// A request as it is handed on to another node, and its answer.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The method, and the path with its query (requests only).
    pub method: String,
    pub path: String,
    /// The status (answers only).
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: bytes::Bytes,
}

/// In a cluster, interactions stay on the node that took the person's
/// request (their deadline, their one first answer, their ephemeral
/// messages). Each node tells a `Locator` the interactions it takes; a
/// node asked about one it does not hold (the application's callback or
/// follow-up came to another node) hands the request on to their node.
pub trait Locator: Send + Sync {
    /// This node holds interaction `id` with `token` from now on (said
    /// before the application hears of it).
    fn announce<'a>(&'a self, id: InteractionId, token: &'a str) -> events::BoxFuture<'a, ()>;
    /// The node that holds it (its base URL), if another one does.
    fn owner_of(&self, held: Held<'_>) -> events::BoxFuture<'_, Option<String>>;
    /// Sends `request` to the node at `owner`; its answer.
    fn relay(&self, owner: String, request: Relayed) -> events::BoxFuture<'_, std::result::Result<Relayed, String>>;
}

impl Default for Interactions {
    fn default() -> Self {
        Self::new(&InteractionsConfig::default()).expect("the default settings are valid")
    }
}

impl Interactions {
    pub fn new(config: &InteractionsConfig) -> std::result::Result<Self, String> {
        let policy = unfurl::Policy::new(&config.endpoint_allow)?;
        let fetch = unfurl::UnfurlConfig {
            timeout_ms: config.endpoint_timeout_ms,
            max_bytes: 1024 * 1024,
            max_redirects: 0,
            user_agent: "FussionCord-Interactions/1.0".into(),
            ..unfurl::UnfurlConfig::default()
        };
        Ok(Self {
            registry: Mutex::new(Registry::default()),
            deadline: Duration::from_millis(config.deadline_ms.max(1)),
            outbound: unfurl::Fetcher::new(policy, fetch),
            locator: std::sync::OnceLock::new(),
        })
    }

    /// In a cluster: where interactions held by other nodes are found.
    pub fn set_locator(&self, locator: std::sync::Arc<dyn Locator>) {
        let _ = self.locator.set(locator);
    }

    pub fn locator(&self) -> Option<&std::sync::Arc<dyn Locator>> {
        self.locator.get()
    }

    /// Whether this node holds the interaction `held` names (answering or
    /// not).
    pub fn holds(&self, held: Held<'_>) -> bool {
        let mut r = self.lock();
        r.sweep(Instant::now());
        match held {
            Held::Id(id) => r.by_id.contains_key(&id),
            Held::Token(token) => {
                r.by_id.values().any(|e| auth::constant_time_eq(e.token.as_bytes(), token.as_bytes()))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The interaction `id` if `token` is its token and it still answers.
    fn check(&self, id: InteractionId, token: &str) -> Result<Entry> {
        let mut r = self.lock();
        r.sweep(Instant::now());
        let e = r.by_id.get(&id).ok_or_else(Error::unknown_interaction)?;
        if !auth::constant_time_eq(e.token.as_bytes(), token.as_bytes()) {
            return Err(Error::unknown_interaction());
        }
        Ok(e.clone())
    }

    /// The interaction behind a webhook URL of `application` with `token`.
    pub fn by_token(&self, application: UserId, token: &str) -> Option<InteractionId> {
        let mut r = self.lock();
        r.sweep(Instant::now());
        r.by_id
            .values()
            .find(|e| e.application == application && auth::constant_time_eq(e.token.as_bytes(), token.as_bytes()))
            .map(|e| e.id)
    }
}

impl Entry {
    fn notice(&self) -> InteractionNotice {
        InteractionNotice { id: self.id, nonce: self.nonce.clone() }
    }
}

/// What a person's client sends to `POST /interactions`.
#[derive(Debug, Deserialize)]
pub struct Invocation {
    #[serde(rename = "type")]
    pub kind: u8,
    pub application_id: UserId,
    pub guild_id: Option<GuildId>,
    pub channel_id: ChannelId,
    pub message_id: Option<MessageId>,
    pub session_id: Option<String>,
    pub nonce: Option<Value>,
    #[serde(default)]
    pub data: Value,
}

fn nonce_of(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.chars().take(64).collect()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A person uses an application's component or submits its modal: checked
/// against what the application sent, delivered to the application, and
/// failed for the person unless answered within the deadline.
pub async fn invoke(ctx: &Domain, user: &UserRow, body: Invocation) -> Result<()> {
    if user.bot {
        return Err(Error::bots_forbidden());
    }
    let access = access::channel(ctx, user, body.channel_id).await?;
    if body.guild_id.is_some() && body.guild_id != access.guild_id() {
        return Err(Error::field("guild_id", "INTERACTION_GUILD_MISMATCH", "The channel is not in this guild."));
    }
    let app = ctx.store.application(body.application_id).await?.ok_or_else(Error::unknown_application)?;
    let bot = ctx.store.user(app.id).await?.ok_or_else(Error::unknown_application)?;
    // The application must be where the person is: in the guild, or in
    // the DM with them.
    match access.guild_id() {
        Some(g) => {
            if ctx.store.member(g, bot.id).await?.is_none() {
                return Err(Error::unknown_application());
            }
        }
        None => {
            if !access.recipients.contains(&bot.id) {
                return Err(Error::unknown_application());
            }
        }
    }
    let nonce = nonce_of(&body.nonce);
    let (data, message, source, metadata_name, answer_kind) = match body.kind {
        kind::MESSAGE_COMPONENT => {
            let (data, message, made) = component_data(ctx, user, &access, bot.id, &body).await?;
            (data, Some(message), Some(made), None, message_kind::DEFAULT)
        }
        kind::MODAL_SUBMIT => {
            let (data, source) = modal_data(ctx, user, bot.id, access.channel.id, &body.data)?;
            (data, None, source, None, message_kind::DEFAULT)
        }
        kind::APPLICATION_COMMAND | kind::AUTOCOMPLETE => {
            let autocomplete = body.kind == kind::AUTOCOMPLETE;
            let (data, name, command_kind) =
                crate::command_use::command_data(ctx, user, &access, bot.id, &body.data, autocomplete).await?;
            let answer_kind = if command_kind == model::command::kind::CHAT_INPUT {
                message_kind::CHAT_INPUT_COMMAND
            } else {
                message_kind::CONTEXT_MENU_COMMAND
            };
            (data, None, None, Some(name), answer_kind)
        }
        _ => return Err(Error::field("type", "BASE_TYPE_CHOICES", "Value must be one of (2, 3, 4, 5).")),
    };
    start(
        ctx,
        Start {
            user,
            bot: &bot,
            access: &access,
            kind: body.kind,
            data,
            message,
            source,
            nonce,
            metadata_name,
            answer_kind,
        },
    )
    .await
}

/// Everything `start` needs to create and deliver an interaction.
pub(crate) struct Start<'a> {
    pub user: &'a UserRow,
    pub bot: &'a UserRow,
    pub access: &'a access::ChannelAccess,
    pub kind: u8,
    pub data: Value,
    pub message: Option<Message>,
    pub source: Option<(MessageId, bool)>,
    pub nonce: Option<String>,
    /// A command's name, for its answers' metadata.
    pub metadata_name: Option<String>,
    pub answer_kind: u8,
}

/// Creates the interaction, delivers it, and starts its deadline.
pub(crate) async fn start(ctx: &Domain, s: Start<'_>) -> Result<()> {
    let Start { user, bot, access, kind, data, message, source, nonce, metadata_name, answer_kind } = s;
    let id: InteractionId = ctx.ids.next()?;
    let token = format!("aW50ZXJhY3Rpb246{}", auth::url_secret());
    let guild = access.guild_id();
    let owners: BTreeMap<String, String> = match guild {
        Some(g) => BTreeMap::from([("0".to_owned(), g.to_string())]),
        None => BTreeMap::from([("1".to_owned(), user.id.to_string())]),
    };
    let mut metadata = json!({
        "id": id,
        "type": kind,
        "user": render::user(user),
        "authorizing_integration_owners": owners,
    });
    if let Some(name) = &metadata_name {
        metadata["name"] = json!(name);
    }
    if let Some((m, _)) = source {
        metadata["interacted_message_id"] = json!(m);
    }
    let app_permissions = match guild {
        Some(_) => match access::channel(ctx, bot, access.channel.id).await {
            Ok(a) => a.permissions,
            Err(_) => 0,
        },
        None => permissions::DM,
    };
    let (member, user_field) = match &access.guild {
        Some(g) => {
            let m = render::member(&g.member, Some(user));
            (Some(Box::new(InteractionMember { member: m, permissions: access.permissions.to_string() })), None)
        }
        None => (None, Some(render::user(user))),
    };
    let guild_row = access.guild.as_ref().map(|g| &g.guild);
    let channel = crate::channels::render_for(ctx, access, user).await?;
    let interaction = Interaction {
        id,
        application_id: Id::new(bot.id.get()),
        kind,
        data: Some(data),
        guild_id: guild.map(|g| Id::new(g.get())),
        guild: guild_row.map(|g| json!({"id": g.id, "locale": g.preferred_locale, "features": []})),
        channel_id: Some(Id::new(access.channel.id.get())),
        channel: Some(Box::new(channel)),
        member,
        user: user_field,
        token: token.clone(),
        version: 1,
        message: message.map(Box::new),
        app_permissions: app_permissions.to_string(),
        locale: Some(user.locale.clone()),
        guild_locale: guild_row.map(|g| g.preferred_locale.clone()),
        entitlements: Vec::new(),
        authorizing_integration_owners: owners,
        context: Some(match (guild, ChannelType::from_code(access.channel.kind)) {
            (Some(_), _) => 0,
            (None, ChannelType::Dm) if access.recipients.contains(&bot.id) => 1,
            (None, _) => 2,
        }),
        attachment_size_limit: ctx.media.config().max_file_size,
    };
    let entry = Entry {
        id,
        token,
        application: bot.id,
        kind,
        invoker: user.id,
        channel: access.channel.id,
        guild,
        nonce: nonce.clone(),
        created: Instant::now(),
        stage: Stage::Pending,
        source: source.map(|(id, ephemeral)| Made { id, ephemeral }),
        original: None,
        followups: Vec::new(),
        metadata,
        answer_kind,
    };
    if let Some(locator) = ctx.interactions.locator() {
        locator.announce(id, &entry.token).await;
    }
    {
        let mut r = ctx.interactions.lock();
        r.sweep(Instant::now());
        r.by_id.insert(id, entry);
    }
    let notice = InteractionNotice { id, nonce };
    ctx.bus.publish(Event::new(
        Dispatch::InteractionCreate(Box::new(InteractionEvent::Notice(notice.clone()))),
        Audience::Users(vec![user.id]),
    ));
    match ctx.store.application(bot.id).await?.and_then(|a| a.interactions_endpoint_url.clone().map(|u| (a, u))) {
        // An application with an endpoint gets it over HTTP; its answer is
        // the response.
        Some((app, url)) => {
            let ctx = ctx.clone();
            tokio::spawn(async move { deliver(&ctx, &app, &url, interaction).await });
        }
        None => ctx.bus.publish(Event::new(
            Dispatch::InteractionCreate(Box::new(InteractionEvent::Full(Box::new(interaction)))),
            Audience::Users(vec![bot.id]),
        )),
    }
    // Unanswered in time: the invoker is told, and the interaction takes
    // no late answer.
    let weak = ctx.downgrade();
    let deadline = ctx.interactions.deadline;
    let invoker = user.id;
    tokio::spawn(async move {
        tokio::time::sleep(deadline).await;
        let Some(ctx) = weak.upgrade() else { return };
        let failed = {
            let mut r = ctx.interactions.lock();
            match r.by_id.get_mut(&id) {
                Some(e) if e.stage == Stage::Pending => {
                    e.stage = Stage::Failed;
                    true
                }
                _ => false,
            }
        };
        if failed {
            ctx.bus.publish(Event::new(Dispatch::InteractionFailure(notice), Audience::Users(vec![invoker])));
        }
    });
    Ok(())
}

/// A component's use, checked against the message: the application's own,
/// the component there and enabled, the values its select allows.
async fn component_data(
    ctx: &Domain,
    user: &UserRow,
    access: &access::ChannelAccess,
    bot: UserId,
    body: &Invocation,
) -> Result<(Value, Message, (MessageId, bool))> {
    let message_id =
        body.message_id.ok_or_else(|| Error::field("message_id", "BASE_TYPE_REQUIRED", "This field is required"))?;
    let ephemeral = {
        let r = ctx.interactions.lock();
        r.ephemeral.get(&message_id).filter(|e| e.invoker == user.id && e.application == bot).map(|e| e.message.clone())
    };
    let (message, is_ephemeral) = match ephemeral {
        Some(m) if m.channel_id == access.channel.id => (m, true),
        Some(_) => return Err(Error::unknown_message()),
        None => {
            let row = ctx.store.message(access.channel.id, message_id).await?.ok_or_else(Error::unknown_message)?;
            if !access.has(permissions::READ_MESSAGE_HISTORY) {
                return Err(Error::unknown_message());
            }
            let m = messages::render_one(ctx, &render::Viewer::everything(user.id), row).await?;
            (m, false)
        }
    };
    if message.author.id != bot {
        return Err(Error::field(
            "message_id",
            "INTERACTION_MESSAGE_NOT_APPLICATION",
            "The message is not the application's.",
        ));
    }
    let custom_id = body.data.get("custom_id").and_then(Value::as_str).unwrap_or_default();
    let Some(found) = components::find(&message.components, custom_id) else {
        return Err(Error::field("data.custom_id", "COMPONENT_NOT_FOUND", "The message has no such component."));
    };
    let ctype = found["type"].as_u64().unwrap_or(0);
    if body.data.get("component_type").and_then(Value::as_u64) != Some(ctype) {
        return Err(Error::field(
            "data.component_type",
            "COMPONENT_TYPE_MISMATCH",
            "The component is of another type.",
        ));
    }
    if found["disabled"] == json!(true) {
        return Err(Error::field("data.custom_id", "COMPONENT_DISABLED", "The component is disabled."));
    }
    let mut data = json!({"custom_id": custom_id, "component_type": ctype, "id": found["id"]});
    if ctype != component::BUTTON {
        let values: Vec<String> = body
            .data
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let (min, max) = (found["min_values"].as_u64().unwrap_or(1), found["max_values"].as_u64().unwrap_or(1));
        if (values.len() as u64) < min || values.len() as u64 > max {
            return Err(Error::field(
                "data.values",
                "BASE_TYPE_BAD_LENGTH",
                format!("Must be between {min} and {max} in length."),
            ));
        }
        if ctype == component::STRING_SELECT {
            let options: Vec<&str> =
                found["options"].as_array().into_iter().flatten().filter_map(|o| o["value"].as_str()).collect();
            if let Some(bad) = values.iter().find(|v| !options.contains(&v.as_str())) {
                return Err(Error::field(
                    "data.values",
                    "SELECT_COMPONENT_INVALID_VALUE",
                    format!("{bad:?} is not an option."),
                ));
            }
        } else {
            data["resolved"] = crate::command_use::resolve(ctx, access, ctype, &values).await?;
        }
        data["values"] = json!(values);
    }
    Ok((data, message, (message_id, is_ephemeral)))
}

/// A modal's submission, checked against the modal the application opened
/// for this person: every required input answered, within its lengths.
fn modal_data(
    ctx: &Domain,
    user: &UserRow,
    bot: UserId,
    channel: ChannelId,
    data: &Value,
) -> Result<(Value, Option<(MessageId, bool)>)> {
    let custom_id = data.get("custom_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let key = (user.id, bot, custom_id.clone());
    let modal = {
        let r = ctx.interactions.lock();
        r.modals.get(&key).filter(|m| m.channel == channel).map(|m| (m.components.clone(), m.source))
    };
    let Some((components, source)) = modal else {
        return Err(Error::field("data.custom_id", "MODAL_NOT_FOUND", "No such modal is open."));
    };
    let mut answers: HashMap<String, Value> = HashMap::new();
    collect_answers(data.get("components").unwrap_or(&Value::Null), &mut answers);
    let mut errors = FormErrors::default();
    let rows: Vec<Value> = components.iter().map(|c| answer_component(c, &answers, &mut errors)).collect();
    // A refused submission leaves the modal open to be corrected.
    errors.finish()?;
    ctx.interactions.lock().modals.remove(&key);
    let source = source.map(|m| (m.id, m.ephemeral));
    Ok((json!({"custom_id": custom_id, "components": rows}), source))
}

fn collect_answers(v: &Value, out: &mut HashMap<String, Value>) {
    match v {
        Value::Array(list) => list.iter().for_each(|c| collect_answers(c, out)),
        Value::Object(o) => {
            if let Some(id) = o.get("custom_id").and_then(Value::as_str) {
                if let Some(value) = o.get("value").or_else(|| o.get("values")) {
                    out.insert(id.to_owned(), value.clone());
                }
            }
            for field in ["components", "component"] {
                if let Some(c) = o.get(field) {
                    collect_answers(c, out);
                }
            }
        }
        _ => {}
    }
}

/// One of the modal's components as the submission reports it.
fn answer_component(c: &Value, answers: &HashMap<String, Value>, errors: &mut FormErrors) -> Value {
    let t = c["type"].as_u64().unwrap_or(0);
    match t {
        component::ACTION_ROW => {
            let inner: Vec<Value> = c["components"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| answer_component(i, answers, errors))
                .collect();
            json!({"type": 1, "id": c["id"], "components": inner})
        }
        component::LABEL => {
            json!({"type": 18, "id": c["id"], "component": answer_component(&c["component"], answers, errors)})
        }
        component::TEXT_INPUT => {
            let id = c["custom_id"].as_str().unwrap_or_default();
            let value = answers.get(id).and_then(Value::as_str).unwrap_or_default().to_owned();
            let n = value.chars().count() as u64;
            let path = format!("data.components.{id}");
            if c["required"] == json!(true) && value.is_empty() {
                errors.add(&path, "BASE_TYPE_REQUIRED", "This field is required");
            }
            let min = c["min_length"].as_u64().unwrap_or(0);
            let max = c["max_length"].as_u64().unwrap_or(4000);
            if !value.is_empty() && (n < min || n > max) {
                errors.add(&path, "BASE_TYPE_BAD_LENGTH", format!("Must be between {min} and {max} in length."));
            }
            json!({"type": 4, "id": c["id"], "custom_id": id, "value": value})
        }
        t if (3..=8).contains(&t) => {
            let id = c["custom_id"].as_str().unwrap_or_default();
            let values = answers.get(id).cloned().unwrap_or_else(|| json!([]));
            json!({"type": t, "id": c["id"], "custom_id": id, "values": values})
        }
        _ => json!({"type": t, "id": c["id"]}),
    }
}

/// The first answer's body: its type and data.
#[derive(Debug, Deserialize)]
pub struct Callback {
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub data: Option<Value>,
}

/// The first answer, through the interaction's token: once, within the
/// deadline. Answers `with_response`'s body when asked.
pub async fn respond(
    ctx: &Domain,
    id: InteractionId,
    token: &str,
    body: Callback,
    files: Option<(Vec<crate::files::StoredFile>, crate::files::Cleanup)>,
    with_response: bool,
) -> Result<Option<Value>> {
    let h = ctx.interactions.check(id, token)?;
    match h.stage {
        Stage::Failed => return Err(Error::unknown_interaction()),
        Stage::Answered => return Err(Error::already_acknowledged()),
        Stage::Pending => {}
    }
    let allowed: &[u8] = match h.kind {
        kind::AUTOCOMPLETE => &[callback::APPLICATION_COMMAND_AUTOCOMPLETE_RESULT],
        kind::MESSAGE_COMPONENT => &[
            callback::CHANNEL_MESSAGE_WITH_SOURCE,
            callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            callback::DEFERRED_UPDATE_MESSAGE,
            callback::UPDATE_MESSAGE,
            callback::MODAL,
        ],
        kind::MODAL_SUBMIT if h.source.is_some() => &[
            callback::CHANNEL_MESSAGE_WITH_SOURCE,
            callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            callback::DEFERRED_UPDATE_MESSAGE,
            callback::UPDATE_MESSAGE,
        ],
        kind::MODAL_SUBMIT => &[callback::CHANNEL_MESSAGE_WITH_SOURCE, callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE],
        _ => &[callback::CHANNEL_MESSAGE_WITH_SOURCE, callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, callback::MODAL],
    };
    if !allowed.contains(&body.kind) {
        return Err(Error::field(
            "type",
            "INTERACTION_CALLBACK_TYPE_INVALID",
            "This interaction cannot be answered so.",
        ));
    }
    // Claimed before the work: a second answer racing this one is refused.
    {
        let mut r = ctx.interactions.lock();
        match r.by_id.get_mut(&id) {
            Some(e) if e.stage == Stage::Pending => e.stage = Stage::Answered,
            Some(e) if e.stage == Stage::Failed => return Err(Error::unknown_interaction()),
            Some(_) => return Err(Error::already_acknowledged()),
            None => return Err(Error::unknown_interaction()),
        }
    }
    let result = answer(ctx, &h, body, files).await;
    match &result {
        Ok(_) => {
            ctx.bus.publish(Event::new(Dispatch::InteractionSuccess(h.notice()), Audience::Users(vec![h.invoker])));
        }
        Err(_) => {
            // A refused answer may be corrected within the deadline.
            let deadline = ctx.interactions.deadline;
            let mut r = ctx.interactions.lock();
            if let Some(e) = r.by_id.get_mut(&id) {
                if e.created.elapsed() < deadline && e.stage == Stage::Answered {
                    e.stage = Stage::Pending;
                }
            }
        }
    }
    let (kind, message) = result?;
    if !with_response {
        return Ok(None);
    }
    let mut interaction = json!({"id": id, "type": h.kind, "channel_id": h.channel});
    if let Some(g) = h.guild {
        interaction["guild_id"] = json!(g);
    }
    if let Some(m) = &message {
        interaction["response_message_id"] = json!(m.id);
        interaction["response_message_loading"] = json!(m.flags as u64 & message_flags::LOADING != 0);
        interaction["response_message_ephemeral"] = json!(m.flags as u64 & message_flags::EPHEMERAL != 0);
    }
    // A resource only where the answer made or changed a message.
    let mut body = json!({"interaction": interaction});
    if let Some(m) = message {
        body["resource"] = json!({"type": kind, "message": m});
    }
    Ok(Some(body))
}

fn parse<T: serde::de::DeserializeOwned + Default>(data: Option<Value>) -> Result<T> {
    match data {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v @ Value::Object(_)) => serde_json::from_value(v)
            .map_err(|e| Error::field("data", "BASE_TYPE_BAD_TYPE", format!("Invalid callback data: {e}"))),
        Some(_) => Err(Error::field("data", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")),
    }
}

async fn answer(
    ctx: &Domain,
    h: &Entry,
    body: Callback,
    files: Option<(Vec<crate::files::StoredFile>, crate::files::Cleanup)>,
) -> Result<(u8, Option<Message>)> {
    let bot = ctx.store.user(h.application).await?.ok_or_else(Error::unknown_application)?;
    match body.kind {
        callback::CHANNEL_MESSAGE_WITH_SOURCE | callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE => {
            let loading = body.kind == callback::DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE;
            let mut draft: Draft = parse(body.data)?;
            if let Some((stored, cleanup)) = files {
                (draft.files, draft.cleanup) = (stored, Some(cleanup));
            }
            if loading {
                // Only the flags count: the answer comes with the edit.
                let flags = draft.flags.unwrap_or(0) & message_flags::EPHEMERAL;
                draft = Draft { flags: Some(flags), ..Draft::default() };
            }
            let message = post(ctx, h, &bot, draft, loading).await?;
            let made = Made { id: message.id, ephemeral: message.flags as u64 & message_flags::EPHEMERAL != 0 };
            if let Some(e) = ctx.interactions.lock().by_id.get_mut(&h.id) {
                e.original = Some(made);
            }
            Ok((body.kind, Some(message)))
        }
        callback::DEFERRED_UPDATE_MESSAGE => Ok((body.kind, None)),
        callback::UPDATE_MESSAGE => {
            let source = h.source.ok_or_else(Error::unknown_message)?;
            let mut edit: Edit = parse(body.data)?;
            if let Some((stored, cleanup)) = files {
                (edit.files, edit.cleanup) = (stored, Some(cleanup));
            }
            let message = edit_made(ctx, h, &bot, source, edit).await?;
            Ok((body.kind, Some(message)))
        }
        callback::APPLICATION_COMMAND_AUTOCOMPLETE_RESULT => {
            let choices = body
                .data
                .as_ref()
                .and_then(|d| d.get("choices"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if choices.len() > 25 {
                return Err(Error::field("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."));
            }
            for (i, c) in choices.iter().enumerate() {
                let name = c.get("name").and_then(Value::as_str).map(|n| n.chars().count());
                if !name.is_some_and(|n| (1..=100).contains(&n)) || c.get("value").is_none() {
                    return Err(Error::field(
                        &format!("data.choices.{i}"),
                        "BASE_TYPE_REQUIRED",
                        "A choice has a name (1 to 100) and a value.",
                    ));
                }
            }
            let data = AutocompleteResponse { nonce: h.nonce.clone(), choices };
            ctx.bus.publish(Event::new(Dispatch::AutocompleteResponse(data), Audience::Users(vec![h.invoker])));
            Ok((body.kind, None))
        }
        callback::MODAL => {
            let data = body.data.unwrap_or(Value::Null);
            let mut errors = FormErrors::default();
            let custom_id = data.get("custom_id").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !(1..=100).contains(&custom_id.chars().count()) {
                errors.add("data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
            }
            let title = data.get("title").and_then(Value::as_str).unwrap_or_default().to_owned();
            if !(1..=45).contains(&title.chars().count()) {
                errors.add("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.");
            }
            let components =
                components::check_modal(&mut errors, data.get("components").unwrap_or(&Value::Null), "data.components");
            errors.finish()?;
            let modal = OpenModal {
                components: components.clone(),
                channel: h.channel,
                source: h.source,
                expires: Instant::now() + TOKEN_LIFETIME,
            };
            ctx.interactions.lock().modals.insert((h.invoker, h.application, custom_id.clone()), modal);
            let event = ModalCreate {
                id: h.id,
                nonce: h.nonce.clone(),
                channel_id: Id::new(h.channel.get()),
                application_id: Id::new(h.application.get()),
                custom_id,
                title,
                components,
            };
            ctx.bus.publish(Event::new(
                Dispatch::InteractionModalCreate(Box::new(event)),
                Audience::Users(vec![h.invoker]),
            ));
            Ok((body.kind, None))
        }
        _ => Err(Error::field("type", "INTERACTION_CALLBACK_TYPE_INVALID", "This interaction cannot be answered so.")),
    }
}

/// An answer posted as the application's bot: stored, or with EPHEMERAL
/// shown to the invoker alone and kept here.
async fn post(ctx: &Domain, h: &Entry, bot: &UserRow, draft: Draft, loading: bool) -> Result<Message> {
    let post = InteractionPost {
        bot,
        channel: h.channel,
        kind: h.answer_kind,
        metadata: h.metadata.clone(),
        invoker: h.invoker,
        loading,
    };
    let message = messages::send(ctx, Author::Interaction(&post), h.channel, draft).await?;
    if message.flags as u64 & message_flags::EPHEMERAL != 0 {
        ctx.interactions.lock().ephemeral.insert(
            message.id,
            Ephemeral {
                message: message.clone(),
                invoker: h.invoker,
                application: h.application,
                expires: Instant::now() + TOKEN_LIFETIME,
            },
        );
    }
    Ok(message)
}

/// Edits one of the interaction's messages (or its component's message).
async fn edit_made(ctx: &Domain, h: &Entry, bot: &UserRow, made: Made, edit: Edit) -> Result<Message> {
    if !made.ephemeral {
        return messages::edit_as_application(ctx, bot, h.channel, made.id, h.invoker, edit).await;
    }
    // Ephemeral: checked like any edit, applied to the copy kept here.
    let current = {
        let r = ctx.interactions.lock();
        r.ephemeral.get(&made.id).map(|e| e.message.clone())
    };
    let mut message = current.ok_or_else(Error::unknown_message)?;
    let mut errors = FormErrors::default();
    if let Some(content) = &edit.content {
        messages::check_content(&mut errors, content);
    }
    let embeds = crate::embeds::from_body(edit.embeds, edit.embed).map(|e| crate::embeds::check(&mut errors, e));
    let components = edit
        .components
        .as_ref()
        .map(|c| components::check(&mut errors, c, message.flags as u64 & components::IS_COMPONENTS_V2 != 0));
    errors.finish()?;
    if let Some(c) = edit.content {
        message.content = c;
    }
    if let Some(e) = embeds {
        let attachments = message.attachments.clone();
        message.embeds = e.iter().map(|row| render::embed(row, &attachments)).collect();
    }
    if let Some(c) = components {
        message.components = c;
    }
    message.flags &= !(message_flags::LOADING as u32);
    message.edited_timestamp = Some(Timestamp::now());
    if let Some(e) = ctx.interactions.lock().ephemeral.get_mut(&made.id) {
        e.message = message.clone();
    }
    ctx.ephemeral_updated(h.guild, message.clone(), h.invoker);
    Ok(message)
}

/// Which of the interaction's messages a webhook path names: `@original`
/// or one it made.
fn named(h: &Entry, raw: &str) -> Result<Made> {
    if raw == "@original" {
        return h.original.ok_or_else(Error::unknown_message);
    }
    let id: MessageId =
        raw.parse().map_err(|_| Error::field("message_id", "NUMBER_TYPE_COERCE", "Value is not snowflake."))?;
    h.original
        .into_iter()
        .chain(h.followups.iter().copied())
        .chain(h.source)
        .find(|m| m.id == id)
        .ok_or_else(Error::unknown_message)
}

fn answered(ctx: &Domain, id: InteractionId) -> Result<Entry> {
    let r = ctx.interactions.lock();
    let e = r.by_id.get(&id).ok_or_else(Error::unknown_webhook)?;
    match e.stage {
        Stage::Answered => Ok(e.clone()),
        // Discord: a follow-up before the first answer names no webhook yet.
        Stage::Pending => Err(Error::unknown_webhook()),
        Stage::Failed => Err(Error::unknown_webhook()),
    }
}

/// A follow-up message, after the first answer.
pub async fn follow_up(ctx: &Domain, id: InteractionId, draft: Draft) -> Result<Message> {
    let mut h = answered(ctx, id)?;
    if let Some(original) = h.original {
        h.metadata["original_response_message_id"] = json!(original.id);
    }
    let bot = ctx.store.user(h.application).await?.ok_or_else(Error::unknown_application)?;
    // After a deferred answer, the first follow-up is the answer: it fills
    // the "thinking" message, as on Discord.
    if let Some(original) = h.original {
        if still_loading(ctx, &h, original).await? {
            return edit_made(ctx, &h, &bot, original, draft.into_edit()).await;
        }
    }
    let message = post(ctx, &h, &bot, draft, false).await?;
    let made = Made { id: message.id, ephemeral: message.flags as u64 & message_flags::EPHEMERAL != 0 };
    if let Some(e) = ctx.interactions.lock().by_id.get_mut(&id) {
        e.followups.push(made);
    }
    Ok(message)
}

/// Whether the interaction's first answer is a deferred one not yet filled.
async fn still_loading(ctx: &Domain, h: &Entry, made: Made) -> Result<bool> {
    let flags = if made.ephemeral {
        ctx.interactions.lock().ephemeral.get(&made.id).map(|e| e.message.flags as u64)
    } else {
        ctx.store.message(h.channel, made.id).await?.map(|m| m.flags)
    };
    Ok(flags.is_some_and(|f| f & message_flags::LOADING != 0))
}

/// `GET /webhooks/{application_id}/{token}/messages/{@original|id}`.
pub async fn get_message(ctx: &Domain, id: InteractionId, raw: &str) -> Result<Message> {
    let h = answered(ctx, id)?;
    let made = named(&h, raw)?;
    if made.ephemeral {
        return ctx
            .interactions
            .lock()
            .ephemeral
            .get(&made.id)
            .map(|e| e.message.clone())
            .ok_or_else(Error::unknown_message);
    }
    let row = ctx.store.message(h.channel, made.id).await?.ok_or_else(Error::unknown_message)?;
    messages::render_one(ctx, &render::Viewer::everything(h.application), row).await
}

/// `PATCH /webhooks/{application_id}/{token}/messages/{@original|id}`.
pub async fn edit_message(ctx: &Domain, id: InteractionId, raw: &str, edit: Edit) -> Result<Message> {
    let h = answered(ctx, id)?;
    let made = named(&h, raw)?;
    let bot = ctx.store.user(h.application).await?.ok_or_else(Error::unknown_application)?;
    edit_made(ctx, &h, &bot, made, edit).await
}

/// `DELETE /webhooks/{application_id}/{token}/messages/{@original|id}`.
pub async fn delete_message(ctx: &Domain, id: InteractionId, raw: &str) -> Result<()> {
    let h = answered(ctx, id)?;
    let made = named(&h, raw)?;
    if made.ephemeral {
        let gone = ctx.interactions.lock().ephemeral.remove(&made.id);
        if gone.is_some() {
            ctx.ephemeral_deleted(h.guild, h.channel, made.id, h.invoker);
        }
        return Ok(());
    }
    let bot = ctx.store.user(h.application).await?.ok_or_else(Error::unknown_application)?;
    messages::delete_as_application(ctx, &bot, h.channel, made.id).await
}

/// Where an answer's files are written: the interaction's channel, as its
/// application's webhook posts there.
pub struct UploadTarget {
    pub poster: UserId,
    pub access: access::ChannelAccess,
}

/// The upload target of an interaction still waiting for its first answer
/// (checked again when the answer is made).
pub async fn upload_target(ctx: &Domain, id: InteractionId, token: &str) -> Result<UploadTarget> {
    let h = ctx.interactions.check(id, token)?;
    if h.stage != Stage::Pending {
        return Err(if h.stage == Stage::Failed {
            Error::unknown_interaction()
        } else {
            Error::already_acknowledged()
        });
    }
    upload_target_of(ctx, &h).await
}

/// The upload target of an answered interaction, for its follow-ups and
/// edits.
pub async fn follow_up_target(ctx: &Domain, id: InteractionId) -> Result<UploadTarget> {
    let h = answered(ctx, id)?;
    upload_target_of(ctx, &h).await
}

async fn upload_target_of(ctx: &Domain, h: &Entry) -> Result<UploadTarget> {
    let bot = ctx.store.user(h.application).await?.ok_or_else(Error::unknown_application)?;
    let access = access::answer_channel(ctx, &bot, h.channel, h.invoker).await?;
    Ok(UploadTarget { poster: bot.id, access })
}

/// The application's signing key, made now for an application made before
/// there were keys.
async fn signing_seed(ctx: &Domain, app: &store::ApplicationRow) -> Result<String> {
    if let Some(seed) = &app.signing_seed {
        return Ok(seed.clone());
    }
    let seed = auth::signing::new_seed();
    let public = auth::signing::public_key(&seed).ok_or_else(|| Error::internal("a fresh seed has no key"))?;
    let row = ctx.store.set_signing_key(app.id, &seed, &public).await?;
    row.signing_seed.ok_or_else(|| Error::internal("the key was not stored"))
}

/// POSTs `body` to the endpoint signed as Discord signs: Ed25519 over the
/// timestamp and the body, hex, in `X-Signature-Ed25519` and
/// `X-Signature-Timestamp`. With `tamper`, the signature is of other bytes.
async fn post_signed(
    ctx: &Domain,
    seed: &str,
    url: &unfurl::Url,
    body: &[u8],
    tamper: bool,
) -> std::result::Result<(u16, Vec<u8>), unfurl::Failure> {
    let timestamp = (Timestamp::now().unix_ms() / 1000).to_string();
    let mut signed = timestamp.clone().into_bytes();
    signed.extend_from_slice(body);
    if tamper {
        signed.push(b' ');
    }
    let signature = auth::signing::sign(seed, &signed).unwrap_or_default();
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-signature-ed25519", signature),
        ("x-signature-timestamp", timestamp),
    ];
    ctx.interactions.outbound.post(url, &headers, body.to_vec()).await
}

/// Delivers an interaction to the application's endpoint and takes the
/// response as its first answer.
async fn deliver(ctx: &Domain, app: &store::ApplicationRow, url: &str, interaction: Interaction) {
    let (id, token) = (interaction.id, interaction.token.clone());
    let outcome = async {
        let seed = signing_seed(ctx, app).await.map_err(|e| e.message.to_string())?;
        let url = unfurl::Url::parse(url).map_err(|e| e.to_string())?;
        let body = serde_json::to_vec(&interaction).map_err(|e| e.to_string())?;
        let (status, answer) = post_signed(ctx, &seed, &url, &body, false).await.map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!("the endpoint answered {status}"));
        }
        let callback: Callback = serde_json::from_slice(&answer).map_err(|e| format!("the endpoint's answer: {e}"))?;
        respond(ctx, id, &token, callback, None, false).await.map_err(|e| e.message.to_string())?;
        Ok::<(), String>(())
    };
    if let Err(why) = outcome.await {
        // The deadline tells the invoker; the operator sees why.
        tracing::info!(application = %app.id, interaction = %id, "interaction delivery failed: {why}");
    }
}

/// Sets where the application receives interactions, once the endpoint
/// proved it checks signatures: a signed PING answered with PONG, and the
/// same PING with a bad signature refused. `None` clears it.
pub async fn set_endpoint(
    ctx: &Domain,
    app: &store::ApplicationRow,
    url: Option<&str>,
) -> Result<store::ApplicationRow> {
    let Some(raw) = url.filter(|u| !u.is_empty()) else {
        return Ok(ctx.store.set_interactions_endpoint(app.id, None).await?);
    };
    let invalid = |why: &str| {
        Error::field(
            "interactions_endpoint_url",
            "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID",
            format!("The specified interactions endpoint url could not be verified: {why}"),
        )
    };
    let url = unfurl::Url::parse(raw).map_err(|_| invalid("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || raw.len() > 2048 {
        return Err(invalid("not an http(s) URL"));
    }
    let seed = signing_seed(ctx, app).await?;
    let ping =
        serde_json::to_vec(&json!({"id": ctx.ids.next::<model::id::InteractionMarker>()?, "application_id": app.id,
        "type": kind::PING, "token": "ping", "version": 1}))
        .map_err(Error::internal)?;
    match post_signed(ctx, &seed, &url, &ping, false).await {
        Ok((200..=299, body)) => {
            let pong: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if pong["type"] != json!(callback::PONG) {
                return Err(invalid("the PING was not answered with a PONG"));
            }
        }
        Ok((status, _)) => return Err(invalid(&format!("the PING was answered {status}"))),
        Err(e) => return Err(invalid(&e.to_string())),
    }
    match post_signed(ctx, &seed, &url, &ping, true).await {
        Ok((200..=299, _)) => return Err(invalid("a PING with a bad signature was accepted")),
        Ok(_) => {}
        Err(e) => return Err(invalid(&e.to_string())),
    }
    Ok(ctx.store.set_interactions_endpoint(app.id, Some(raw)).await?)
}
