-- Files whose message (or channel) is gone, kept until `due_at` (unix ms)
-- when `media.delete_after_secs` sets a retention; then the sweeper
-- deletes their objects and their rows. `target` is
-- `attachments/{channel_id}/{attachment_id}` for one file or
-- `channel/{channel_id}` for every file of a channel.
CREATE TABLE media_deletions (
    target TEXT PRIMARY KEY,
    due_at BIGINT NOT NULL
);
CREATE INDEX media_deletions_due ON media_deletions(due_at);
