//! Operations shared by HTTP routes and the command line.

use model::Timestamp;
use store::{ApplicationRow, GuildId, MemberRow, NewUser, Store, StoreError, UserId};

/// Application flags that let a bot use the privileged intents (the
/// "limited" variants, which an application may set on itself).
pub const PRIVILEGED_INTENT_FLAGS: u64 = (1 << 13) | (1 << 15) | (1 << 19);

/// A new application with its bot user and the bot's first token.
pub struct NewApplication {
    pub application: ApplicationRow,
    pub token: String,
}

/// Turns a display name into a valid, unused username for a bot:
/// lower-case `[a-z0-9_.]`, 2–32 characters, none of Discord's reserved
/// words, suffixed when taken.
async fn bot_username(store: &dyn Store, name: &str) -> Result<String, StoreError> {
    let mut base: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' })
        .take(27)
        .collect();
    // Discord's reserved usernames hold for bots too.
    for word in ["discord", "clyde"] {
        base = base.replace(word, "bot");
    }
    if base.chars().count() < 2 || matches!(base.as_str(), "everyone" | "here" | "system") {
        base.push_str("bot");
    }
    let mut candidate = base.clone();
    for n in 1.. {
        if store.user_by_username(&candidate).await?.is_none() {
            return Ok(candidate);
        }
        candidate = format!("{base}_{n}");
    }
    unreachable!("the loop returns once a name is free")
}

/// Creates an application and its bot user under `id` (freshly minted by
/// the caller).
pub async fn create_application(
    store: &dyn Store,
    id: UserId,
    owner: Option<UserId>,
    name: &str,
    description: &str,
) -> Result<NewApplication, StoreError> {
    let now = Timestamp::now().unix_ms();
    let token = auth::new_token(id.get());
    // Two creates racing for the same name: the loser retries with the
    // next suffix.
    for _ in 0..5 {
        let username = bot_username(store, name).await?;
        let bot = NewUser {
            id,
            username,
            email: None,
            password_hash: None,
            global_name: Some(name.to_owned()),
            bot: true,
            created_at: now,
        };
        let application = ApplicationRow {
            id,
            name: name.to_owned(),
            description: description.to_owned(),
            owner_id: owner.unwrap_or(id),
            bot_public: true,
            flags: 0,
            verify_key: String::new(),
            interactions_endpoint_url: None,
            signing_seed: Some(auth::signing::new_seed()),
        };
        let mut application = application;
        application.verify_key =
            application.signing_seed.as_deref().and_then(auth::signing::public_key).unwrap_or_default();
        match store.create_application(&application, &bot, &token.hash).await {
            Ok(()) => return Ok(NewApplication { application, token: token.token }),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict("username"))
}

/// Adds a user (typically a bot) to a guild; `false` if already a member.
pub async fn add_member(
    store: &dyn Store,
    guild: GuildId,
    user: UserId,
    audit: Option<&store::AuditEntry>,
) -> Result<bool, StoreError> {
    let member = MemberRow {
        guild_id: guild,
        user_id: user,
        nick: None,
        roles: Vec::new(),
        joined_at: Timestamp::now().unix_ms(),
        deaf: false,
        mute: false,
        communication_disabled_until: None,
    };
    store.add_member(&member, audit).await
}
