-- Full-text search over message content (FTS5). The index holds only the
-- terms (contentless): rowid is the message id, which is unique across
-- channels, and the text itself stays in `messages`. Words are folded to
-- lower case but keep their accents, as PostgreSQL's 'simple' configuration
-- does, so both backends find the same messages.
CREATE VIRTUAL TABLE message_search USING fts5(
    content,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Triggers keep the index in the statement that changes the message, so it
-- never disagrees with `messages`, whichever path deletes them (one, in
-- bulk, or by cascade when a channel or guild goes).
CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER message_search_update AFTER UPDATE OF content ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
    INSERT INTO message_search (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
END;

INSERT INTO message_search (rowid, content) SELECT id, content FROM messages;
