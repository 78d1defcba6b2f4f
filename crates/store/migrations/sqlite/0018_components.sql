-- Message components (issue 18): buttons, selects and layout components,
-- checked by `domain::components` and kept as sent (normalised JSON), read
-- whole with the message, like its embeds.
ALTER TABLE messages ADD COLUMN components TEXT NOT NULL DEFAULT '[]';

-- The interaction a message answers (its `interaction_metadata`, as
-- `domain::interactions` made it), for the answers that are stored.
ALTER TABLE messages ADD COLUMN interaction TEXT;
