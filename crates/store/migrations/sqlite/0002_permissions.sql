-- Channel permission overwrites, bans, and the audit log.

CREATE TABLE channel_overwrites (
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    target_id INTEGER NOT NULL,
    kind INTEGER NOT NULL, -- 0 role, 1 member
    allow INTEGER NOT NULL,
    deny INTEGER NOT NULL,
    PRIMARY KEY (channel_id, target_id)
);

CREATE TABLE bans (
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- One row per administrative action, written in the transaction of the
-- change it records. `changes` and `options` are Discord-shaped JSON.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id INTEGER,
    target_id INTEGER,
    action_type INTEGER NOT NULL,
    changes TEXT,
    options TEXT,
    reason TEXT
);
CREATE INDEX audit_log_guild ON audit_log(guild_id, id);
