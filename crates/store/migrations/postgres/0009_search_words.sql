-- Words inside links, paths and e-mail addresses are words. PostgreSQL's
-- parser keeps `https://example.com/some-page` as a URL, a host and a path
-- (so `example` or `page` alone found nothing), while SQLite's unicode61
-- tokenizer splits it at every punctuation mark. Punctuation becomes a
-- space before parsing, so both backends index the same words.
ALTER TABLE messages DROP COLUMN search;
ALTER TABLE messages
    ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', regexp_replace(content, '[[:punct:]]+', ' ', 'g'))) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);
