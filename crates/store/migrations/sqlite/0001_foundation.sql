-- Users, tokens, applications, guilds, roles, members, channels, messages,
-- reactions, invites. Ids are snowflakes; times are Unix milliseconds;
-- booleans are 0/1 integers so one query text serves SQLite and PostgreSQL.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    password_hash TEXT,
    global_name TEXT,
    avatar TEXT,
    bot INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en-US',
    created_at INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bot_public INTEGER NOT NULL DEFAULT 1,
    flags INTEGER NOT NULL DEFAULT 0,
    verify_key TEXT NOT NULL
);
CREATE INDEX applications_owner ON applications(owner_id);

CREATE TABLE guilds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    icon TEXT,
    description TEXT,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    afk_channel_id INTEGER,
    afk_timeout INTEGER NOT NULL DEFAULT 300,
    system_channel_id INTEGER,
    verification_level INTEGER NOT NULL DEFAULT 0,
    default_message_notifications INTEGER NOT NULL DEFAULT 0,
    explicit_content_filter INTEGER NOT NULL DEFAULT 0,
    preferred_locale TEXT NOT NULL DEFAULT 'en-US',
    created_at INTEGER NOT NULL
);

CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions INTEGER NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    color INTEGER NOT NULL DEFAULT 0,
    hoist INTEGER NOT NULL DEFAULT 0,
    mentionable INTEGER NOT NULL DEFAULT 0,
    managed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX roles_guild ON roles(guild_id);

CREATE TABLE members (
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nick TEXT,
    joined_at INTEGER NOT NULL,
    deaf INTEGER NOT NULL DEFAULT 0,
    mute INTEGER NOT NULL DEFAULT 0,
    communication_disabled_until INTEGER,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX members_user ON members(user_id);

CREATE TABLE member_roles (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (guild_id, user_id, role_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members(guild_id, user_id) ON DELETE CASCADE
);

CREATE TABLE channels (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    guild_id INTEGER REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER,
    topic TEXT,
    nsfw INTEGER NOT NULL DEFAULT 0,
    rate_limit_per_user INTEGER NOT NULL DEFAULT 0,
    bitrate INTEGER NOT NULL DEFAULT 64000,
    user_limit INTEGER NOT NULL DEFAULT 0,
    last_message_id INTEGER,
    last_pin_at INTEGER
);
CREATE INDEX channels_guild ON channels(guild_id);

-- The one DM channel between two users: (low id, high id).
CREATE TABLE dm_channels (
    user_low INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_high INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL UNIQUE REFERENCES channels(id) ON DELETE CASCADE,
    PRIMARY KEY (user_low, user_high)
);

-- Keyed (channel_id, id) so that history pages are range scans of the
-- primary key, as in Discord's (channel, bucket) partitions.
CREATE TABLE messages (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users(id),
    content TEXT NOT NULL,
    kind INTEGER NOT NULL DEFAULT 0,
    flags INTEGER NOT NULL DEFAULT 0,
    tts INTEGER NOT NULL DEFAULT 0,
    mention_everyone INTEGER NOT NULL DEFAULT 0,
    mentions TEXT NOT NULL DEFAULT '[]',
    mention_roles TEXT NOT NULL DEFAULT '[]',
    nonce TEXT,
    edited_at INTEGER,
    pinned_at INTEGER,
    ref_message_id INTEGER,
    PRIMARY KEY (channel_id, id)
) WITHOUT ROWID;
CREATE INDEX messages_pinned ON messages(channel_id, pinned_at) WHERE pinned_at IS NOT NULL;

-- Nonces of messages sent with enforce_nonce, for idempotent retries.
CREATE TABLE message_nonces (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (channel_id, author_id, nonce)
);

CREATE TABLE reactions (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, message_id, emoji, user_id),
    FOREIGN KEY (channel_id, message_id) REFERENCES messages(channel_id, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    inviter_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    max_age INTEGER NOT NULL,
    max_uses INTEGER NOT NULL,
    uses INTEGER NOT NULL DEFAULT 0,
    temporary INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX invites_guild ON invites(guild_id);
CREATE INDEX invites_channel ON invites(channel_id);
