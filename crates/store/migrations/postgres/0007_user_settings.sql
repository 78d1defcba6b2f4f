-- A person's client settings (Discord's legacy user settings): the status
-- they chose, which becomes their presence when they connect, a custom
-- status, and display preferences. No row means every default. The locale
-- stays on `users`, where `PATCH /users/@me` already keeps it.
CREATE TABLE user_settings (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'online',
    custom_status_text TEXT,
    custom_status_emoji_name TEXT,
    -- Unix milliseconds; the custom status no longer shows after it.
    custom_status_expires_at BIGINT,
    theme TEXT NOT NULL DEFAULT 'dark',
    message_display_compact BIGINT NOT NULL DEFAULT 0,
    developer_mode BIGINT NOT NULL DEFAULT 0
);
