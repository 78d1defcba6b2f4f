-- Webhooks (issue 18). A webhook is also a user row (`bot`, no password,
-- no token, a username no person can take), so the messages it posts have
-- an author like any other; that row stays when the webhook is deleted, as
-- its messages do. The token is kept as issued: Discord shows it again to
-- those who manage webhooks. It is compared in constant time.
CREATE TABLE webhooks (
    id BIGINT PRIMARY KEY REFERENCES users(id),
    kind BIGINT NOT NULL,
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    creator_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    application_id BIGINT,
    name TEXT NOT NULL,
    avatar TEXT,
    token TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_guild ON webhooks(guild_id);
CREATE INDEX webhooks_channel ON webhooks(channel_id);

-- A message a webhook posted: the webhook, and the name and avatar it
-- posted under (its own then, or the request's overrides).
ALTER TABLE messages ADD COLUMN webhook_id BIGINT;
ALTER TABLE messages ADD COLUMN webhook_name TEXT;
ALTER TABLE messages ADD COLUMN webhook_avatar TEXT;
