-- Full-text search over message content. A generated column holds each
-- message's terms, so the index changes in the statement that changes the
-- message (create, edit, every kind of delete) and adding the column fills
-- it for the messages already stored. 'simple' folds case without
-- stemming or stop words: names and words of any language are found as
-- written.
ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);
