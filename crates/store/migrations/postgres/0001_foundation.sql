-- Users, tokens, applications, guilds, roles, members, channels, messages,
-- reactions, invites. Ids are snowflakes; times are Unix milliseconds;
-- booleans are 0/1 integers so one query text serves SQLite and PostgreSQL.

CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT UNIQUE,
    password_hash TEXT,
    global_name TEXT,
    avatar TEXT,
    bot BIGINT NOT NULL DEFAULT 0,
    flags BIGINT NOT NULL DEFAULT 0,
    locale TEXT NOT NULL DEFAULT 'en-US',
    created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE applications (
    id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    bot_public BIGINT NOT NULL DEFAULT 1,
    flags BIGINT NOT NULL DEFAULT 0,
    verify_key TEXT NOT NULL
);
CREATE INDEX applications_owner ON applications(owner_id);

CREATE TABLE guilds (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    icon TEXT,
    description TEXT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    afk_channel_id BIGINT,
    afk_timeout BIGINT NOT NULL DEFAULT 300,
    system_channel_id BIGINT,
    verification_level BIGINT NOT NULL DEFAULT 0,
    default_message_notifications BIGINT NOT NULL DEFAULT 0,
    explicit_content_filter BIGINT NOT NULL DEFAULT 0,
    preferred_locale TEXT NOT NULL DEFAULT 'en-US',
    created_at BIGINT NOT NULL
);

CREATE TABLE roles (
    id BIGINT PRIMARY KEY,
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions BIGINT NOT NULL,
    position BIGINT NOT NULL DEFAULT 0,
    color BIGINT NOT NULL DEFAULT 0,
    hoist BIGINT NOT NULL DEFAULT 0,
    mentionable BIGINT NOT NULL DEFAULT 0,
    managed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX roles_guild ON roles(guild_id);

CREATE TABLE members (
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nick TEXT,
    joined_at BIGINT NOT NULL,
    deaf BIGINT NOT NULL DEFAULT 0,
    mute BIGINT NOT NULL DEFAULT 0,
    communication_disabled_until BIGINT,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX members_user ON members(user_id);

CREATE TABLE member_roles (
    guild_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (guild_id, user_id, role_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members(guild_id, user_id) ON DELETE CASCADE
);

CREATE TABLE channels (
    id BIGINT PRIMARY KEY,
    kind BIGINT NOT NULL,
    guild_id BIGINT REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT,
    position BIGINT NOT NULL DEFAULT 0,
    parent_id BIGINT,
    topic TEXT,
    nsfw BIGINT NOT NULL DEFAULT 0,
    rate_limit_per_user BIGINT NOT NULL DEFAULT 0,
    bitrate BIGINT NOT NULL DEFAULT 64000,
    user_limit BIGINT NOT NULL DEFAULT 0,
    last_message_id BIGINT,
    last_pin_at BIGINT
);
CREATE INDEX channels_guild ON channels(guild_id);

-- The one DM channel between two users: (low id, high id).
CREATE TABLE dm_channels (
    user_low BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_high BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL UNIQUE REFERENCES channels(id) ON DELETE CASCADE,
    PRIMARY KEY (user_low, user_high)
);

-- Keyed (channel_id, id) so that history pages are range scans of the
-- primary key, as in Discord's (channel, bucket) partitions.
CREATE TABLE messages (
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    author_id BIGINT NOT NULL REFERENCES users(id),
    content TEXT NOT NULL,
    kind BIGINT NOT NULL DEFAULT 0,
    flags BIGINT NOT NULL DEFAULT 0,
    tts BIGINT NOT NULL DEFAULT 0,
    mention_everyone BIGINT NOT NULL DEFAULT 0,
    mentions TEXT NOT NULL DEFAULT '[]',
    mention_roles TEXT NOT NULL DEFAULT '[]',
    nonce TEXT,
    edited_at BIGINT,
    pinned_at BIGINT,
    ref_message_id BIGINT,
    PRIMARY KEY (channel_id, id)
);
CREATE INDEX messages_pinned ON messages(channel_id, pinned_at) WHERE pinned_at IS NOT NULL;

-- Nonces of messages sent with enforce_nonce, for idempotent retries.
CREATE TABLE message_nonces (
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (channel_id, author_id, nonce)
);

CREATE TABLE reactions (
    channel_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    emoji TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, message_id, emoji, user_id),
    FOREIGN KEY (channel_id, message_id) REFERENCES messages(channel_id, id) ON DELETE CASCADE
);

CREATE TABLE invites (
    code TEXT PRIMARY KEY,
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    inviter_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    max_age BIGINT NOT NULL,
    max_uses BIGINT NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    temporary BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX invites_guild ON invites(guild_id);
CREATE INDEX invites_channel ON invites(channel_id);
