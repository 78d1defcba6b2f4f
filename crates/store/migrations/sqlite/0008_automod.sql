-- AutoMod rules (Discord's auto-moderation rules), one row per rule. The
-- trigger's metadata and the actions are kept as the JSON objects the API
-- validated: they are read whole, with the guild's other rules, when a
-- guild's rule cache is filled, never queried by their parts.
CREATE TABLE automod_rules (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    creator_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    event_type INTEGER NOT NULL,
    trigger_type INTEGER NOT NULL,
    trigger_metadata TEXT NOT NULL,
    actions TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    -- JSON arrays of ids (as strings).
    exempt_roles TEXT NOT NULL,
    exempt_channels TEXT NOT NULL
);
CREATE INDEX automod_rules_guild ON automod_rules(guild_id, id);
