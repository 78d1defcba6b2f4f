-- Files attached to messages (issue 17). A message's attachments are read
-- with it, every time and whole, and never queried by their parts, so
-- they are a JSON array in the message's own row (`store::AttachmentRow`
-- each; the wire object is built from it by `domain::render`). Every
-- history page, pin list and search result carries them without another
-- query, and a message and its attachments are written in one statement.
-- (Version 0009 is PostgreSQL's search words; SQLite has none.)
ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]';

-- Files uploaded ahead of their message (`POST /channels/{id}/attachments`):
-- the object is stored under the attachment id it will keep; a message
-- that names it takes the row away. Rows older than
-- `media.upload_expiry_secs` are swept with their objects.
CREATE TABLE uploads (
    id BIGINT PRIMARY KEY,
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL,
    filename TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX uploads_created ON uploads(created_at);
