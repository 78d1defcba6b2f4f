-- Application commands (Discord's slash and context-menu commands), one row
-- per command, global (guild_id NULL) or for one guild. Options and
-- localizations are kept as the JSON the domain validated: they are read
-- whole, never queried by their parts. A name is unique per application,
-- scope and type; Discord overwrites a command created with a taken name.
CREATE TABLE application_commands (
    id INTEGER PRIMARY KEY,
    application_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    guild_id INTEGER REFERENCES guilds(id) ON DELETE CASCADE,
    type INTEGER NOT NULL,
    name TEXT NOT NULL,
    -- JSON objects (locale → text), or NULL.
    name_localizations TEXT,
    description TEXT NOT NULL,
    description_localizations TEXT,
    -- A JSON array of options.
    options TEXT NOT NULL,
    -- Permission bits, or NULL for everyone.
    default_member_permissions INTEGER,
    dm_permission INTEGER NOT NULL,
    -- JSON arrays of integers; contexts may be NULL.
    contexts TEXT,
    integration_types TEXT NOT NULL,
    nsfw INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX application_commands_name
    ON application_commands(application_id, COALESCE(guild_id, 0), type, name);
CREATE INDEX application_commands_guild ON application_commands(guild_id);
