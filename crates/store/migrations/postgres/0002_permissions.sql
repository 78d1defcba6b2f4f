-- Channel permission overwrites, bans, and the audit log.

CREATE TABLE channel_overwrites (
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL,
    kind BIGINT NOT NULL, -- 0 role, 1 member
    allow BIGINT NOT NULL,
    deny BIGINT NOT NULL,
    PRIMARY KEY (channel_id, target_id)
);

CREATE TABLE bans (
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- One row per administrative action, written in the transaction of the
-- change it records. `changes` and `options` are Discord-shaped JSON.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id BIGINT,
    target_id BIGINT,
    action_type BIGINT NOT NULL,
    changes TEXT,
    options TEXT,
    reason TEXT
);
CREATE INDEX audit_log_guild ON audit_log(guild_id, id);
