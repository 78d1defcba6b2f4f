-- Rich embeds sent with a message (issue 17): like its attachments, read
-- with it, whole, and never queried by their parts, so a JSON array in the
-- message's own row (`store::EmbedRow` each; the wire object is built by
-- `domain::render`, which resolves `attachment://` URLs as it renders).
ALTER TABLE messages ADD COLUMN embeds TEXT NOT NULL DEFAULT '[]';
