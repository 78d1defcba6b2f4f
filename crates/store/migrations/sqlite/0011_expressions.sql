-- Custom emojis and stickers (a guild's expressions), and the stickers a
-- message was sent with. Images live in the media store under keys the
-- server builds from the id (`emojis/{id}.{format}`,
-- `stickers/{id}.{format}`), written before the row names them.
CREATE TABLE emojis (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Who uploaded it; kept when they leave, gone when their account is.
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- JSON array of the role ids allowed to use it (empty: everyone).
    roles TEXT NOT NULL DEFAULT '[]',
    require_colons INTEGER NOT NULL DEFAULT 1,
    managed INTEGER NOT NULL DEFAULT 0,
    animated INTEGER NOT NULL DEFAULT 0,
    available INTEGER NOT NULL DEFAULT 1,
    -- The stored image's extension: png, jpg, gif or webp.
    format TEXT NOT NULL
);
CREATE INDEX emojis_guild ON emojis(guild_id, id);

CREATE TABLE stickers (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    tags TEXT NOT NULL,
    -- 1 PNG, 2 APNG, 3 Lottie, 4 GIF.
    format_type INTEGER NOT NULL,
    available INTEGER NOT NULL DEFAULT 1,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX stickers_guild ON stickers(guild_id, id);

-- `[{id, name, format_type}]` of the stickers sent with the message, as they
-- were then (a message keeps showing a sticker deleted later).
ALTER TABLE messages ADD COLUMN sticker_items TEXT NOT NULL DEFAULT '[]';
